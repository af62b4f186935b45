//  testkit - helpers shared by the Check suites: running a suite, starting
//  the real binaries on loopback, talking HTTP to them, and small stand-ins
//  (a fake event-logger) for the services a class under test talks to
#ifndef TESTKIT_H_INCLUDED
#define TESTKIT_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <check.h>
#include <czmq.h>

//  Standard error sent to a file for a while (testkit_capture_start).
typedef struct {
    int saved;                  //  the real standard error
    char path [64];             //  where it goes meanwhile
} testkit_capture_t;

//  A response read by testkit_http; free with testkit_response_free.
typedef struct {
    long code;              //  HTTP status, 0 if the request failed
    char *body;             //  NUL-terminated
    size_t size;
    char *headers;          //  raw header block, NUL-terminated
} testkit_response_t;

//  Build a suite called name with one test case, "core", that runs tests
//  (a NULL-terminated list) in order, each within timeout seconds. Caller
//  owns the result; testkit_run frees it.
Suite *testkit_suite (const char *name, double timeout, const TTest *tests []);
//  Run a suite in Check's normal mode and free it. Returns EXIT_SUCCESS if
//  every case passed, else EXIT_FAILURE: what main returns.
int testkit_run (Suite *suite);
//  Return a TCP port on 127.0.0.1 that was free a moment ago.
int testkit_free_port (void);
//  Open a TCP connection to 127.0.0.1:port. Returns the descriptor (caller
//  closes it), or -1 if nothing accepted.
int testkit_connect (int port);
//  Send size bytes of request over a new connection to 127.0.0.1:port and
//  read until the server closes it. Returns what came back, NUL-terminated
//  (caller frees), or NULL when nothing accepted the connection or it was
//  still open after TESTKIT_RAW_TIMEOUT_S seconds of silence.
#define TESTKIT_RAW_TIMEOUT_S 5
//  How long a pipeline's service may take to exit on SIGTERM before it
//  is killed (and the stop counts as failed). A hang bound, not a speed
//  target: a logger ending 512 threads after a flood takes seconds under
//  ASan on a loaded 2-core machine.
#define TESTKIT_STOP_GRACE_MS   20000
char *testkit_raw (int port, const char *request, size_t size);
//  Open a TCP connection to 127.0.0.1:port from the loopback address
//  source (e.g. "127.0.0.2", to play another client), waiting up to
//  timeout_ms. Returns the blocking descriptor (caller closes it), or -1.
int testkit_connect_from (int port, const char *source, int timeout_ms);
//  Bind socket on 127.0.0.1 on a port the kernel picks (not czmq's "*",
//  which hands out the same few ports to every process in turn), and write
//  the endpoint to connect to into endpoint. Returns the port, or -1.
int testkit_bind_any (zsock_t *socket, char *endpoint, size_t size);
//  Return the path of a built binary (from ENP_BIN_DIR). Static buffer.
const char *testkit_bin (const char *name);
//  Start argv (argv[0] a path) with stdout and stderr sent to files (NULL
//  for /dev/null). Returns the PID, or -1.
pid_t testkit_spawn (char *const argv [], const char *stdout_path,
                     const char *stderr_path);
//  Send SIGTERM and wait up to timeout_ms; SIGKILL after that. Returns the
//  exit status (0-255), 128+signal if killed by one, or -1 on error.
int testkit_stop (pid_t pid, int timeout_ms);
//  Wait up to timeout_ms for pid to exit by itself; SIGKILL after that.
//  Returns the exit status (0-255), 128+signal if killed, or -1 on error.
int testkit_wait (pid_t pid, int timeout_ms);
//  Poll url until it answers 2xx or timeout_ms passes. Returns 0 or -1.
int testkit_wait_http (const char *url, int timeout_ms);
//  Make one HTTP request. content_type and body may be NULL; header is an
//  extra raw header line or NULL. Returns 0 when a response came back.
int testkit_http (const char *method, const char *url, const char *content_type,
                  const char *body, size_t size, const char *header,
                  testkit_response_t *response);
//  Make testkit_http (and testkit_wait_http) verify https:// servers with
//  the CA certificates in ca_file (PEM) from now on; NULL or "": with the
//  system's.
void testkit_http_trust (const char *ca_file);
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
//  Return the number of threads of this process (from /proc/self/task).
int testkit_threads (void);
//  Wait up to timeout_ms until this process has at most count threads.
//  czmq runs actors on detached threads that may still be ending after
//  their _destroy returned; a test process that exits meanwhile races
//  their thread-exit handlers against libcrypto's exit handler (a double
//  free under ASan). Returns 0, or -1 if threads remain.
int testkit_threads_settle (int count, int timeout_ms);
//  Run fn (arg) on a new thread whose stack is stack_size bytes, smaller
//  than CivetWeb's worker threads (~100 KiB), and wait for it: code that
//  recurses on input must pass here, not only on the main 8 MiB stack.
//  Returns 0, or -1 if the thread could not start.
int testkit_on_small_stack (void (*fn) (void *), void *arg, size_t stack_size);
//  Send standard error to a new temporary file until testkit_capture_end.
void testkit_capture_start (testkit_capture_t *capture);
//  Put standard error back; return what was written to it meanwhile
//  (caller frees) and remove the file.
char *testkit_capture_end (testkit_capture_t *capture);
//  Wait up to timeout_ms for a file to contain text. Returns 0 or -1.
int testkit_wait_text (const char *path, const char *text, int timeout_ms);
//  GET url (a Prometheus /metrics page) and return the value of the sample
//  written exactly as sample (name and labels), or -1 when absent.
double testkit_metric (const char *url, const char *sample);
//  Return a process's resident set size in KiB, now (VmRSS in
//  /proc/PID/status) or at its peak (VmHWM), or -1.
long testkit_rss_kb (pid_t pid, bool peak);

//  ---------------------------------------------------------------------
//  testkit_knocker - a thread that connects to a loopback port every 20 ms.
//  CivetWeb's listening thread polls with a 2 s quantum, so mg_stop takes
//  2 s unless a connection wakes it: knock while stopping a server to keep
//  each case fast.
typedef struct _testkit_knocker_t testkit_knocker_t;

//  Start knocking on 127.0.0.1:port. Returns NULL if the thread could not
//  start. Caller owns the result.
testkit_knocker_t *testkit_knocker_new (int port);
//  Stop knocking, join the thread and free it; nulls the caller's pointer.
void testkit_knocker_destroy (testkit_knocker_t **self_p);

//  ---------------------------------------------------------------------
//  testkit_logger - a small CivetWeb server playing the event-logger for
//  the worker's tests: it answers PATCH /events/{id} and POST
//  /events:batchUpdateStatus with scripted codes, counts requests and
//  remembers what they carried. It holds a reference
//  on the CivetWeb library (mg_init_library) for its whole life.
typedef struct _testkit_logger_t testkit_logger_t;

//  What the fake logger's last request carried, copied under its lock.
typedef struct {
    char authorization [128];   //  Authorization header, or ""
    char content_type [128];    //  Content-Type header, or ""
    char body [256];            //  body, cut at 255 bytes
} testkit_request_t;

//  Start a fake logger on a free 127.0.0.1 port that answers with codes in
//  turn (a 0-terminated list of 1 to 8 codes; the last one repeats).
//  Returns NULL on a bad script or if the server cannot start. Caller owns
//  the result.
testkit_logger_t *testkit_logger_new (const int *codes);
//  Stop the server promptly and free it; nulls the caller's pointer.
void testkit_logger_destroy (testkit_logger_t **self_p);
//  Return the port the server listens on.
int testkit_logger_port (testkit_logger_t *self);
//  Return the server's base URL, http://127.0.0.1:port, valid while it lives.
const char *testkit_logger_url (testkit_logger_t *self);
//  Return how many requests the server has answered (or is answering).
int testkit_logger_requests (testkit_logger_t *self);
//  Return how many of those requests were PATCH.
int testkit_logger_patches (testkit_logger_t *self);
//  Copy the event id from the path of request number index (from 0, the
//  first 64 requests only) into id; "" if there was no such request or
//  its path was not /events/{id}. Returns id.
const char *testkit_logger_id (testkit_logger_t *self, int index, char *id,
                               size_t size);
//  Copy what the last request carried into request; all "" before any.
void testkit_logger_last (testkit_logger_t *self, testkit_request_t *request);
//  Make each later answer take delay_ms, to play a slow logger.
void testkit_logger_set_delay (testkit_logger_t *self, int delay_ms);
//  Hold every answer until count requests are in flight at once, then
//  answer them all: a client that really runs count requests concurrently
//  passes at once, one that does not is held 3 s (the gate then opens for
//  good) and shows it in testkit_logger_peak. Timing-free concurrency test.
void testkit_logger_set_gate (testkit_logger_t *self, int count);
//  Hold every answer (true) until released (false), to play a frozen
//  logger without timing: requests are read and counted, then wait.
void testkit_logger_set_hold (testkit_logger_t *self, bool hold);
//  Return the most requests the server was answering at the same time.
int testkit_logger_peak (testkit_logger_t *self);
//  Answer the batch route with code (404 or 405: a logger older than the
//  route); 0 serves it (the default). A served batch request takes the
//  next scripted code like any request; with a 2xx, the answer holds one
//  result per item, in order, each with the next item code (see
//  testkit_logger_set_items).
void testkit_logger_set_batch_route (testkit_logger_t *self, int code);
//  Answer 413 to a batch request whose body is over bytes (0: no limit,
//  the default), as a logger with a smaller body limit does.
void testkit_logger_set_batch_body_max (testkit_logger_t *self, size_t bytes);
//  Set the codes of batch items in turn (a 0-terminated list of 1 to 8;
//  the last one repeats). The default is 200 for every item.
void testkit_logger_set_items (testkit_logger_t *self, const int *codes);
//  Answer 2xx batch requests with this body instead of results (NULL:
//  results again), to play a logger whose answer cannot be read.
void testkit_logger_set_answer (testkit_logger_t *self, const char *body);
//  Return how many batch requests the server has answered.
int testkit_logger_batches (testkit_logger_t *self);
//  Return how many reports arrived, one per PATCH and per batch item,
//  whatever the answer.
int testkit_logger_reports (testkit_logger_t *self);
//  Copy the event id of report number index (from 0, the first 4096 only)
//  into id; "" if there was none. Returns id.
const char *testkit_logger_report (testkit_logger_t *self, int index, char *id,
                                   size_t size);

//  ---------------------------------------------------------------------
//  testkit_pipeline - the real services, started as child processes on
//  free loopback ports: queue-broker, event-logger and up to
//  TESTKIT_PIPELINE_PROCESSORS notification-processors. Logs and the
//  processors' outputs go to a new temporary directory, kept afterwards.
#define TESTKIT_PIPELINE_PROCESSORS 4
#define TESTKIT_PIPELINE_LOGGERS 2

typedef struct _testkit_pipeline_t testkit_pipeline_t;

//  Pick the ports and make the directory; start nothing. Returns NULL on
//  failure. Caller owns the result.
testkit_pipeline_t *testkit_pipeline_new (void);
//  Stop every service still running (see testkit_pipeline_stop) and free
//  the pipeline; nulls the caller's pointer.
void testkit_pipeline_destroy (testkit_pipeline_t **self_p);
//  Return the directory of the logs and outputs.
const char *testkit_pipeline_dir (testkit_pipeline_t *self);
//  Reach the logger at https://127.0.0.1:port from now on (start it with
//  --tls-cert; make testkit_http trust its CA).
void testkit_pipeline_use_https (testkit_pipeline_t *self);
//  Return the logger's base URL, http://127.0.0.1:port (or https://).
const char *testkit_pipeline_base (testkit_pipeline_t *self);
//  Return the logger's HTTP port.
int testkit_pipeline_http_port (testkit_pipeline_t *self);
//  Return the path of processor index's standard output.
const char *testkit_pipeline_output (testkit_pipeline_t *self, int index);
//  Return the PID of the broker, or -1 if it does not run.
pid_t testkit_pipeline_broker (testkit_pipeline_t *self);
//  Return the PID of the logger, or -1 if it does not run.
pid_t testkit_pipeline_logger (testkit_pipeline_t *self);
//  Return the PID of processor index, or -1 if it does not run.
pid_t testkit_pipeline_processor (testkit_pipeline_t *self, int index);
//  Start queue-broker on the pipeline's frontend and backend ports, its
//  log in broker.log. Returns its PID, or -1.
pid_t testkit_pipeline_start_broker (testkit_pipeline_t *self);
//  The same with extra flags (NULL-terminated list, or NULL); a flag given
//  again overrides the pipeline's (e.g. "--metrics-port").
pid_t testkit_pipeline_start_broker_with (testkit_pipeline_t *self,
                                          const char *const extra []);
//  Return the broker's frontend or backend endpoint, tcp://127.0.0.1:port.
const char *testkit_pipeline_frontend (testkit_pipeline_t *self);
const char *testkit_pipeline_backend (testkit_pipeline_t *self);
//  Start event-logger on the HTTP port, pushing to the broker's frontend,
//  with extra flags (NULL-terminated list, or NULL), its log in logger.log;
//  wait up to 10 s for /healthz. Returns its PID, or -1 if it did not
//  start or never answered (it is still stopped with the others).
pid_t testkit_pipeline_start_logger (testkit_pipeline_t *self,
                                     const char *const extra []);
//  Start logger number index (0 is the one above; 1 another on its own
//  port, for two loggers on one database), its log in logger-<index>.log.
//  Returns its PID, or -1 as above.
pid_t testkit_pipeline_start_logger_at (testkit_pipeline_t *self, int index,
                                        const char *const extra []);
//  Return logger index's base URL.
const char *testkit_pipeline_base_at (testkit_pipeline_t *self, int index);
//  Return the PID of logger index, or -1 if it does not run.
pid_t testkit_pipeline_logger_at (testkit_pipeline_t *self, int index);
//  Start notification-processor number index on the broker's backend,
//  reporting to the logger, with extra flags (NULL-terminated list, or
//  NULL; "--logger-url" there picks another logger); its output in
//  processor-<index>.out, its log in .log. Returns its PID, or -1.
pid_t testkit_pipeline_start_processor (testkit_pipeline_t *self, int index,
                                        const char *const extra []);
//  Start notification-processor number index with only --broker and
//  --logger-url, every other option at its default (so its metrics
//  endpoint is on the default port, or a free one when that is taken);
//  outputs as for testkit_pipeline_start_processor. Returns its PID, or -1.
pid_t testkit_pipeline_start_processor_defaults (testkit_pipeline_t *self,
                                                 int index);
//  Wait up to timeout_ms until the log file name (broker.log, logger.log,
//  processor-<index>.log) of the pipeline holds text. Returns 0 or -1.
int testkit_pipeline_wait_log (testkit_pipeline_t *self, const char *name,
                               const char *text, int timeout_ms);
//  SIGKILL one of the pipeline's services, reap it and forget it.
void testkit_pipeline_kill (testkit_pipeline_t *self, pid_t pid);
//  Stop processor index with SIGTERM, if it runs, and forget it. Returns
//  its exit status (0 when it stopped cleanly within 5 s).
int testkit_pipeline_stop_processor (testkit_pipeline_t *self, int index);
//  Stop every service still running with SIGTERM, processors first, and
//  forget them. Returns 0 if each exited 0 within 5 s, else -1 (and says
//  which on stderr).
int testkit_pipeline_stop (testkit_pipeline_t *self);

#endif
