//  worker_callback - reports processed events to the logger over HTTP
#ifndef WORKER_CALLBACK_H_INCLUDED
#define WORKER_CALLBACK_H_INCLUDED

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <curl/curl.h>
#include "enp_status.h"

//  Reports held at most by default: waiting or in flight.
#define WORKER_CALLBACK_QUEUE_DEFAULT   100000
//  Most reports in one batch: the logger's limit per request.
#define WORKER_CALLBACK_BATCH_MAX       1000
//  Longest a report may wait for others to share its request.
#define WORKER_CALLBACK_BATCH_MS_MAX    1000

typedef struct _worker_callback_t worker_callback_t;

//  Called when a report is finished, with the event id and its outcome:
//  ENP_OK on 2xx, ENP_ENOTFOUND on 404, ENP_EINVAL on another 4xx but 408
//  and 429 (not retried), ENP_EIO when the retries ran out or were
//  cancelled. For a batch, once per event, with that event's own outcome.
typedef void (worker_callback_done_fn) (void *arg, const char *event_id,
                                        enp_status_t status);

//  Create a client for the logger at base_url (e.g. http://127.0.0.1:8000)
//  with an optional bearer token (NULL or ""). It retries connection
//  errors and any status but 2xx and 4xx (5xx, 3xx; and 408 and 429,
//  which say "later") up to max_retries times with exponential backoff and
//  full jitter, from backoff_ms up to 5 s; *cancel (may be NULL) set to
//  true stops retrying. It starts with one request in flight, one report
//  per PATCH (see worker_callback_set_inflight and
//  worker_callback_set_batch) and holds up to WORKER_CALLBACK_QUEUE_DEFAULT
//  reports. One per thread. Returns NULL on failure.
worker_callback_t *worker_callback_new (const char *base_url, const char *token,
                                        int max_retries, long backoff_ms,
                                        const atomic_bool *cancel);
//  Destroy the client, abandoning unfinished reports; nulls the pointer.
void worker_callback_destroy (worker_callback_t **self_p);
//  Verify the logger's TLS certificate (an https:// base URL) against the
//  CA certificates in ca_file (PEM) instead of the system's. Only while no
//  report is held. Returns 0, or -1 when the file cannot be read.
int worker_callback_trust (worker_callback_t *self, const char *ca_file);
//  Allow up to max requests in flight at once (1..256), each on its own
//  kept-alive connection. Only while no report is held. Returns 0 or -1.
int worker_callback_set_inflight (worker_callback_t *self, size_t max);
//  Report in batches (POST /events:batchUpdateStatus) of up to max
//  reports (1..WORKER_CALLBACK_BATCH_MAX; 1: each report is its own PATCH
//  /events/{id}). While no request is in flight a report goes at once;
//  while one is, reports gather for up to ms milliseconds
//  (0..WORKER_CALLBACK_BATCH_MS_MAX) or until max wait, whichever comes
//  first. A logger that answers the batch route 404 or 405 (older) gets
//  single PATCHes, and a batch again a minute later; one that answers 413
//  (a smaller body limit) gets batches half as large from then on, and
//  single PATCHes if even one report is too large. Only while no report
//  is held. Returns 0 or -1.
int worker_callback_set_batch (worker_callback_t *self, size_t max, int ms);
//  Hold up to limit reports, waiting or in flight (1..10,000,000). Only
//  while no report is held. Returns 0 or -1.
int worker_callback_set_queue (worker_callback_t *self, size_t limit);
//  Return the number of retries made so far.
unsigned long worker_callback_retries (worker_callback_t *self);
//  Return the number of batch requests made so far (retries not counted).
unsigned long worker_callback_batches (worker_callback_t *self);
//  Return true while reports go in batches: batches are on and the logger
//  did not refuse the batch route lately.
bool worker_callback_batching (worker_callback_t *self);

//  Queue a report of event_id (a lowercase canonical UUID) processed; it
//  goes out from worker_callback_run. Returns 0, or -1 when the client
//  already holds its limit (see worker_callback_full) or event_id is not
//  a lowercase canonical UUID.
int worker_callback_submit (worker_callback_t *self, const char *event_id);
//  Return true when no more reports can be submitted now.
bool worker_callback_full (worker_callback_t *self);
//  Return how many more reports can be submitted now.
size_t worker_callback_room (worker_callback_t *self);
//  Return the number of reports not finished yet (waiting for a request,
//  in flight, or waiting to be retried).
size_t worker_callback_pending (worker_callback_t *self);
//  Return the number of reports waiting for a request.
size_t worker_callback_queued (worker_callback_t *self);
//  Move transfers along without blocking: finish what completed (calling
//  done for each report that finished), restart retries that fell due,
//  start requests for waiting reports. Returns the number still pending.
size_t worker_callback_run (worker_callback_t *self,
                            worker_callback_done_fn *done, void *arg);
//  Wait up to timeout_ms for HTTP activity, a retry or a batch falling
//  due, or one of the extra file descriptors (may be NULL) becoming
//  readable.
void worker_callback_wait (worker_callback_t *self, struct curl_waitfd *extra,
                           unsigned int extra_count, int timeout_ms);

#endif
