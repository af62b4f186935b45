//  enp_store - the thread-safe in-memory event store, with delivery state
#ifndef ENP_STORE_H_INCLUDED
#define ENP_STORE_H_INCLUDED

#include <stddef.h>
#include <stdint.h>
#include "enp_event.h"
#include "enp_status.h"

typedef struct _enp_store_t enp_store_t;

//  A listing request; NULL members match everything.
typedef struct {
    const char *status;         //  only events with this status
    const char *user_id;        //  only events of this user
    const char *after;          //  canonical event id: start after it
    size_t limit;               //  at most this many items (1..1000)
} enp_store_query_t;

//  A snapshot of the store's counts and counters.
typedef struct {
    size_t total;               //  events held
    size_t pending;             //  waiting to be handed to the broker
    size_t queued;              //  handed to the broker, not yet reported
    size_t processed;
    size_t failed;
    size_t other;               //  any other status set through PATCH
    size_t max_events;          //  the limit
    uint64_t created_total;     //  events ever inserted
    uint64_t processed_total;   //  transitions into "processed"
    uint64_t failed_total;      //  events that ran out of attempts
    uint64_t redelivered_total; //  deliveries after the first
    uint64_t evicted_total;     //  processed events dropped for room
} enp_store_stats_t;

//  Create a store holding at most max_events; a queued event is due again
//  visibility_ms after it was sent, and fails after max_attempts sends.
//  Returns NULL on failure.
enp_store_t *enp_store_new (size_t max_events, int64_t visibility_ms,
                            uint32_t max_attempts);
//  Destroy the store and every event in it; nulls the caller's pointer.
void enp_store_destroy (enp_store_t **self_p);

//  Take ownership of *event_p (a new pending event) and null it. When the
//  store is full it evicts the oldest processed event; when none can go it
//  returns ENP_EFULL and the caller keeps the event.
enp_status_t enp_store_insert (enp_store_t *self, enp_event_t **event_p);
//  Copy the event with this canonical id into *event_p (caller owns it).
//  Returns ENP_OK or ENP_ENOTFOUND.
enp_status_t enp_store_get (enp_store_t *self, const char *event_id,
                            enp_event_t **event_p);
//  Set an event's status (valid per enp_event_status_valid). "pending"
//  queues it for delivery again and bumps its generation (so processors
//  print it again); "processed" makes it evictable. When
//  event_p is not NULL, returns a copy of the updated event there (caller
//  owns it). Returns ENP_OK or ENP_ENOTFOUND.
enp_status_t enp_store_set_status (enp_store_t *self, const char *event_id,
                                   const char *status, enp_event_t **event_p);
//  Copy up to query->limit events, oldest first, into items (an array of
//  at least limit pointers; caller owns each) and their number into
//  *count_p. next receives the cursor for the following page (ENP_UUID_LEN
//  + 1 bytes), or "" at the end. Returns ENP_ENOTFOUND for an unknown
//  cursor, else ENP_OK (ENP_ENOMEM if a copy failed).
enp_status_t enp_store_list (enp_store_t *self, const enp_store_query_t *query,
                             enp_event_t **items, size_t *count_p, char *next);
//  Fill stats with a consistent snapshot.
void enp_store_stats (enp_store_t *self, enp_store_stats_t *stats);

//  Copy up to max events due for delivery at monotonic time now into out
//  (caller owns each): pending ones first, then queued ones whose
//  visibility timeout passed. A due event that was already sent
//  max_attempts times becomes "failed" instead. Returns the count.
size_t enp_store_due (enp_store_t *self, int64_t now, enp_event_t **out,
                      size_t max);
//  Record that the event was handed to the broker at monotonic time now:
//  attempts + 1, status "queued", due again after the visibility timeout.
//  If a worker already moved it on, only attempts grows (ENP_EINVAL).
enp_status_t enp_store_mark_sent (enp_store_t *self, const char *event_id,
                                  int64_t now);
//  Return the monotonic time at which the next event falls due: 0 when a
//  pending event waits, INT64_MAX when nothing is in flight.
int64_t enp_store_next_due (enp_store_t *self);

#endif
