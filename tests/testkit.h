//  testkit - helpers for suites that start the real binaries on loopback
#ifndef TESTKIT_H_INCLUDED
#define TESTKIT_H_INCLUDED

#include <stddef.h>
#include <sys/types.h>

//  A response read by testkit_http; free with testkit_response_free.
typedef struct {
    long code;              //  HTTP status, 0 if the request failed
    char *body;             //  NUL-terminated
    size_t size;
    char *headers;          //  raw header block, NUL-terminated
} testkit_response_t;

//  Return a TCP port on 127.0.0.1 that was free a moment ago.
int testkit_free_port (void);
//  Return the path of a built binary (from ENP_BIN_DIR). Static buffer.
const char *testkit_bin (const char *name);
//  Start argv (argv[0] a path) with stdout and stderr sent to files (NULL
//  for /dev/null). Returns the PID, or -1.
pid_t testkit_spawn (char *const argv [], const char *stdout_path,
                     const char *stderr_path);
//  Send SIGTERM and wait up to timeout_ms; SIGKILL after that. Returns the
//  exit status (0-255), 128+signal if killed by one, or -1 on error.
int testkit_stop (pid_t pid, int timeout_ms);
//  Poll url until it answers 2xx or timeout_ms passes. Returns 0 or -1.
int testkit_wait_http (const char *url, int timeout_ms);
//  Make one HTTP request. content_type and body may be NULL; header is an
//  extra raw header line or NULL. Returns 0 when a response came back.
int testkit_http (const char *method, const char *url, const char *content_type,
                  const char *body, size_t size, const char *header,
                  testkit_response_t *response);
//  Return the value of a response header (case-insensitive name) into
//  value, or -1 if absent.
int testkit_header (const testkit_response_t *response, const char *name,
                    char *value, size_t size);
//  Free a response's buffers.
void testkit_response_free (testkit_response_t *response);
//  Return a new temporary directory path (caller frees).
char *testkit_tmpdir (void);
//  Count the lines of a file, or -1.
long testkit_count_lines (const char *path);

#endif
