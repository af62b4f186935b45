//  worker_callback - reports processed events to the logger over HTTP
#ifndef WORKER_CALLBACK_H_INCLUDED
#define WORKER_CALLBACK_H_INCLUDED

#include <stdatomic.h>
#include <stdbool.h>
#include "enp_status.h"

typedef struct _worker_callback_t worker_callback_t;

//  Create a client for the logger at base_url (e.g. http://127.0.0.1:8000)
//  with an optional bearer token (NULL or ""). It retries connection
//  errors and 5xx up to max_retries times with exponential backoff and
//  jitter, from backoff_ms up to 5 s; *cancel (may be NULL) set to true
//  cuts the waiting short. One per thread. Returns NULL on failure.
worker_callback_t *worker_callback_new (const char *base_url, const char *token,
                                        int max_retries, long backoff_ms,
                                        const atomic_bool *cancel);
//  Destroy the client; nulls the caller's pointer.
void worker_callback_destroy (worker_callback_t **self_p);
//  PATCH {"status":"processed"} for event_id. Returns ENP_OK on 2xx,
//  ENP_ENOTFOUND on 404, ENP_EINVAL on another 4xx (not retried), ENP_EIO
//  when the retries ran out or were cancelled.
enp_status_t worker_callback_report (worker_callback_t *self,
                                     const char *event_id);
//  Return the number of retries made so far.
unsigned long worker_callback_retries (worker_callback_t *self);

#endif
