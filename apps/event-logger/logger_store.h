//  logger_store - the logger's event store: one interface, several engines
#ifndef LOGGER_STORE_H_INCLUDED
#define LOGGER_STORE_H_INCLUDED

#include <stddef.h>
#include <stdint.h>
#include "enp_event.h"
#include "enp_status.h"

//  An Idempotency-Key is 1 to this many visible ASCII characters.
#define LOGGER_STORE_KEY_MAX 255

//  What an engine is told when it opens.
typedef struct {
    size_t max_events;          //  events held at most
    size_t max_bytes;           //  bytes of events held at most (memory)
    int64_t visibility_ms;      //  a queued event is due again this long
                                //  after it was sent
    uint32_t max_attempts;      //  sends before a due event becomes failed
    int64_t timeout_ms;         //  longest an operation waits for the
                                //  database before ENP_EIO (PostgreSQL)
    int connections;            //  database connections (PostgreSQL)
    int64_t stats_ttl_ms;       //  counts read from the database serve
                                //  this long (PostgreSQL)
} logger_store_options_t;

//  A listing request; NULL members match everything.
typedef struct {
    const char *status;         //  only events with this status
    const char *user_id;        //  only events of this user
    const char *after;          //  canonical event id: start after it
    size_t limit;               //  at most this many items (1..1000)
    size_t max_bytes;           //  and no more JSON than this (see
                                //  enp_event_encoded_size), but at least
                                //  one item; 0 for no byte budget
} logger_store_query_t;

//  A snapshot of the store's counts and this process's counters.
typedef struct {
    size_t total;               //  events held
    size_t pending;             //  waiting to be handed to the broker
    size_t queued;              //  handed to the broker, not yet reported
    size_t processed;
    size_t failed;
    size_t other;               //  any other status set through PATCH
    size_t bytes;               //  bytes the events take (memory engine)
    size_t max_events;          //  the limits
    size_t max_bytes;
    uint64_t created_total;     //  events inserted by this process
    uint64_t processed_total;   //  transitions into "processed"
    uint64_t failed_total;      //  events that ran out of attempts
    uint64_t redelivered_total; //  deliveries after the first
    uint64_t evicted_processed_total;   //  dropped for room, by status
    uint64_t evicted_failed_total;
} logger_store_stats_t;

//  One item of logger_store_set_status_many: what to set, and what came
//  of it.
typedef struct {
    const char *event_id;       //  in: the event's id, borrowed
    const char *status;         //  in: valid per enp_event_status_valid
    enp_status_t result;        //  out: as logger_store_set_status returns
    enp_event_t *event;         //  out: on ENP_OK a copy of the updated
                                //  event (caller owns it), else NULL
} logger_store_update_t;

//  The operations every engine implements, in the manner of SQLite's VFS:
//  a table of functions picked once at start. self is the engine's own
//  object. Every operation may be called from any thread, except claim,
//  mark_sent and release, which one thread (the dispatcher) calls.
typedef struct {
    const char *name;           //  "memory", "postgresql"
    int durable;                //  1 if events outlive the process
    void (*destroy) (void **self_p);
    enp_status_t (*insert) (void *self, enp_event_t **event_p,
                            const char *key, enp_event_t **replay_p);
    enp_status_t (*insert_many) (void *self, enp_event_t **events,
                                 size_t count);
    enp_status_t (*get) (void *self, const char *event_id,
                         enp_event_t **event_p);
    enp_status_t (*set_status) (void *self, const char *event_id,
                                const char *status, enp_event_t **event_p);
    //  Optional (NULL: logger_store loops over set_status)
    void (*set_status_many) (void *self, logger_store_update_t *updates,
                             size_t count);
    enp_status_t (*list) (void *self, const logger_store_query_t *query,
                          enp_event_t **items, size_t *count_p, char *next);
    void (*stats) (void *self, logger_store_stats_t *stats);
    enp_status_t (*claim) (void *self, enp_event_t **out, size_t max,
                           size_t *count_p);
    enp_status_t (*mark_sent) (void *self, enp_event_t *const *events,
                               size_t count);
    enp_status_t (*release) (void *self, enp_event_t *const *events,
                             size_t count);
    enp_status_t (*flush) (void *self);
    int64_t (*next_due) (void *self);
    const char *(*problem) (void *self);
} logger_store_engine_t;

typedef struct _logger_store_t logger_store_t;

//  Open the store that url names: "memory", or a libpq URI
//  (postgresql://user:password@host:port/database?...). Returns NULL, and
//  logs why, when the URL is not understood or the engine cannot start.
logger_store_t *logger_store_new (const char *url,
                                  const logger_store_options_t *options);
//  Close the store; nulls the caller's pointer.
void logger_store_destroy (logger_store_t **self_p);
//  Return the engine's name, "memory" or "postgresql".
const char *logger_store_engine (logger_store_t *self);
//  Return 1 if the engine keeps events when the process ends, else 0.
int logger_store_durable (logger_store_t *self);
//  Return 1 if url names a store logger_store_new understands, else 0.
int logger_store_url_valid (const char *url);

//  Take ownership of *event_p (a new pending event) and null it. With a
//  key (NULL for none) that an event already has: when that event has the
//  same user_id and description, *event_p is left to the caller and
//  *replay_p receives a copy of the stored event (caller owns it); with a
//  different body returns ENP_EINVAL. When the store is full it evicts
//  what its engine may; when nothing can go it returns ENP_EFULL. ENP_EIO:
//  the store is unavailable. In every failure the caller keeps the event.
enp_status_t logger_store_insert (logger_store_t *self, enp_event_t **event_p,
                                  const char *key, enp_event_t **replay_p);
//  Insert count new pending events (count >= 1) all together or none of
//  them: the memory engine makes room for all and links them under one
//  lock, the PostgreSQL engine writes them in one statement (one
//  transaction). On ENP_OK the store owns every event and each slot of
//  events is NULL; on a failure the caller keeps them, except when the
//  PostgreSQL engine timed out with the batch already in a writer's
//  hands: then the slots are NULL and the batch may yet be stored, as a
//  single insert may. No Idempotency-Key. ENP_EFULL: the store cannot
//  make room for them all (nothing is evicted then); ENP_EIO: the store is
//  unavailable.
enp_status_t logger_store_insert_many (logger_store_t *self,
                                       enp_event_t **events, size_t count);
//  Copy the event with this canonical id into *event_p (caller owns it).
//  Returns ENP_OK, ENP_ENOTFOUND or ENP_EIO.
enp_status_t logger_store_get (logger_store_t *self, const char *event_id,
                               enp_event_t **event_p);
//  Set an event's status (valid per enp_event_status_valid). "pending"
//  queues it for delivery again and bumps its delivery generation (so
//  processors print it again). When event_p is not NULL, returns a copy
//  of the updated event there (caller owns it). Returns ENP_OK,
//  ENP_ENOTFOUND or ENP_EIO.
enp_status_t logger_store_set_status (logger_store_t *self,
                                      const char *event_id, const char *status,
                                      enp_event_t **event_p);
//  Set the status of count events (count >= 1), each item on its own as
//  logger_store_set_status would, in order (an id given twice ends with
//  its last status), but together: the PostgreSQL engine hands them all
//  to its writers at once, so they share a few statements and commits
//  instead of a round trip each. Fills each item's result and, on ENP_OK,
//  its event (caller owns it). An item's ENP_EIO means the store was
//  unavailable or out of time for it; an item a writer had by then may
//  still be applied, as with set_status.
void logger_store_set_status_many (logger_store_t *self,
                                   logger_store_update_t *updates,
                                   size_t count);
//  Copy a page of events, oldest first, into items (an array of at least
//  query->limit pointers; caller owns each) and their number into
//  *count_p. The page ends at query->limit items or at the byte budget.
//  next receives the cursor for the following page (ENP_UUID_LEN + 1
//  bytes), or "" at the end. Returns ENP_ENOTFOUND for an unknown cursor,
//  ENP_EIO when the store is unavailable, else ENP_OK.
enp_status_t logger_store_list (logger_store_t *self,
                                const logger_store_query_t *query,
                                enp_event_t **items, size_t *count_p,
                                char *next);
//  Fill stats with a snapshot. The counts come from the engine (for a
//  database, shared by every logger, and may be a few seconds old); the
//  counters are this process's.
void logger_store_stats (logger_store_t *self, logger_store_stats_t *stats);

//  Lease up to max events due for delivery and copy them into out (caller
//  owns each), their number into *count_p: pending events, and queued
//  ones whose visibility timeout passed. A leased event is not due again,
//  for this or any other logger, until it is released or its lease (the
//  visibility timeout) runs out. A due event already sent max_attempts
//  times becomes "failed" instead. Returns ENP_OK or ENP_EIO.
enp_status_t logger_store_claim (logger_store_t *self, enp_event_t **out,
                                 size_t max, size_t *count_p);
//  Record that these claimed events were handed to the broker: attempts
//  + 1, status "queued", due again after the visibility timeout. An event
//  a worker already moved on keeps its status. An engine may hold the
//  record back a moment (at most 100 ms, next_due says when) to write many
//  at once; logger_store_flush writes it at once. Returns ENP_OK or ENP_EIO.
enp_status_t logger_store_mark_sent (logger_store_t *self,
                                     enp_event_t *const *events, size_t count);
//  Give back claimed events that were not sent (the broker refused
//  them): each is due again at once, as it was before the claim.
//  Returns ENP_OK or ENP_EIO.
enp_status_t logger_store_release (logger_store_t *self,
                                   enp_event_t *const *events, size_t count);
//  Write what mark_sent held back. Returns ENP_OK or ENP_EIO.
enp_status_t logger_store_flush (logger_store_t *self);
//  Return how many ms from now until an event may fall due: 0 when one
//  is due now, INT64_MAX when nothing is in flight. An engine that cannot
//  know (another logger may write) returns its polling interval, and one
//  that holds sends back, the time to write them.
int64_t logger_store_next_due (logger_store_t *self);
//  Return why the store cannot take events now (database unreachable, full
//  of unprocessed events), or NULL when it can. The text is static.
const char *logger_store_problem (logger_store_t *self);

#endif
