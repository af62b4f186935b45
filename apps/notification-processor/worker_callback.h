//  worker_callback - reports processed events to the logger over HTTP
#ifndef WORKER_CALLBACK_H_INCLUDED
#define WORKER_CALLBACK_H_INCLUDED

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <curl/curl.h>
#include "enp_status.h"

typedef struct _worker_callback_t worker_callback_t;

//  Called when a report is finished, with the event id and its outcome:
//  ENP_OK on 2xx, ENP_ENOTFOUND on 404, ENP_EINVAL on another 4xx but 408
//  and 429 (not retried), ENP_EIO when the retries ran out or were
//  cancelled.
typedef void (worker_callback_done_fn) (void *arg, const char *event_id,
                                        enp_status_t status);

//  Create a client for the logger at base_url (e.g. http://127.0.0.1:8000)
//  with an optional bearer token (NULL or ""). It retries connection
//  errors and any status but 2xx and 4xx (5xx, 3xx; and 408 and 429,
//  which say "later") up to max_retries
//  times with exponential backoff and
//  full jitter, from backoff_ms up to 5 s; *cancel (may be NULL) set to
//  true stops retrying. It keeps one report in flight until told more
//  with worker_callback_set_inflight. One per thread. Returns NULL on
//  failure.
worker_callback_t *worker_callback_new (const char *base_url, const char *token,
                                        int max_retries, long backoff_ms,
                                        const atomic_bool *cancel);
//  Destroy the client, abandoning unfinished reports; nulls the pointer.
void worker_callback_destroy (worker_callback_t **self_p);
//  Verify the logger's TLS certificate (an https:// base URL) against the
//  CA certificates in ca_file (PEM) instead of the system's. Only while
//  none is in flight. Returns 0, or -1 when the file cannot be read.
int worker_callback_trust (worker_callback_t *self, const char *ca_file);
//  Allow up to max reports in flight at once (1..256), each on its own
//  kept-alive connection. Only while none is in flight. Returns 0 or -1.
int worker_callback_set_inflight (worker_callback_t *self, size_t max);
//  Return the number of retries made so far.
unsigned long worker_callback_retries (worker_callback_t *self);

//  Start reporting event_id processed. Returns 0, or -1 when all slots are
//  busy (see worker_callback_full).
int worker_callback_submit (worker_callback_t *self, const char *event_id);
//  Return true when no more reports can be submitted now.
bool worker_callback_full (worker_callback_t *self);
//  Return the number of reports not finished yet (in flight or waiting to
//  be retried).
size_t worker_callback_pending (worker_callback_t *self);
//  Move transfers along without blocking; call done for each report that
//  finished. Returns the number still pending.
size_t worker_callback_run (worker_callback_t *self,
                            worker_callback_done_fn *done, void *arg);
//  Wait up to timeout_ms for HTTP activity, a retry falling due, or one of
//  the extra file descriptors (may be NULL) becoming readable.
void worker_callback_wait (worker_callback_t *self, struct curl_waitfd *extra,
                           unsigned int extra_count, int timeout_ms);

#endif
