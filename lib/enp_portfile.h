//  enp_portfile - a service's metrics port, recorded for --healthcheck
#ifndef ENP_PORTFILE_H_INCLUDED
#define ENP_PORTFILE_H_INCLUDED

#include <stddef.h>
#include <sys/types.h>

typedef struct _enp_portfile_t enp_portfile_t;

//  A live process's record, as enp_portfile_find reads it.
typedef struct {
    pid_t pid;                  //  the process that serves
    int port;                   //  the port it serves its metrics on
} enp_portfile_entry_t;

//  Record that this process (of app, e.g. "queue-broker") serves its
//  metrics on port: writes dir/<app>.<pid>.port and holds a lock on it for
//  as long as the record lives, so readers can tell a live record from one
//  a killed process left. Makes dir (mode 0700) if needed; refuses a dir
//  that is a symbolic link or belongs to another user. Returns NULL with
//  the reason in err (may be NULL) on failure. Caller owns the result.
enp_portfile_t *enp_portfile_new (const char *dir, const char *app, int port,
                                  char *err, size_t err_len);
//  Remove the record and free it; nulls the caller's pointer.
void enp_portfile_destroy (enp_portfile_t **self_p);
//  Return the path of the record file.
const char *enp_portfile_path (enp_portfile_t *self);

//  Read the records of app in dir whose process is still alive (holds its
//  lock); pid > 0 keeps only that process's. Fills up to max entries and
//  returns how many live records there are (may be more than max), or -1
//  when dir cannot be read.
int enp_portfile_find (const char *dir, const char *app, pid_t pid,
                       enp_portfile_entry_t *entries, size_t max);
//  Write the default folder of the records into buf: $XDG_RUNTIME_DIR/enp
//  when that variable is set, else /tmp/enp-<uid>. Returns buf.
const char *enp_portfile_default_dir (char *buf, size_t size);

#endif
