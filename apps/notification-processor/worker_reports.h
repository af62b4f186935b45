//  worker_reports - bounded queue of event ids waiting to be reported
#ifndef WORKER_REPORTS_H_INCLUDED
#define WORKER_REPORTS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include "enp_event.h"

//  The most ids a queue may be made for.
#define WORKER_REPORTS_LIMIT_MAX 10000000

typedef struct _worker_reports_t worker_reports_t;

//  Create a queue of at most limit ids (1..WORKER_REPORTS_LIMIT_MAX). It
//  grows as ids arrive, so an idle worker holds little. Returns NULL on
//  failure. Caller owns the result.
worker_reports_t *worker_reports_new (size_t limit);
//  Destroy the queue; nulls the caller's pointer.
void worker_reports_destroy (worker_reports_t **self_p);
//  Return the number of ids held.
size_t worker_reports_size (worker_reports_t *self);
//  Return the most ids the queue holds.
size_t worker_reports_limit (worker_reports_t *self);
//  Append an id (a lowercase canonical UUID) at the tail. Returns 0, or -1
//  when the queue is full, out of memory, or event_id is not a lowercase
//  canonical UUID.
int worker_reports_push (worker_reports_t *self, const char *event_id);
//  Put ids (count of them, canonical, in order) back at the head, ahead of
//  everything queued, even past the limit: they were taken from here and
//  are returned. Returns 0, or -1 when out of memory or an id is not
//  canonical (then none was put back).
int worker_reports_unshift (worker_reports_t *self,
                            char (*ids) [ENP_UUID_LEN + 1], size_t count);
//  Remove up to max ids from the head, oldest first, into ids (room for
//  max, each NUL-terminated). Returns how many.
size_t worker_reports_take (worker_reports_t *self,
                            char (*ids) [ENP_UUID_LEN + 1], size_t max);

#endif
