//  broker - the queue-broker actor: PULL from loggers, PUSH to workers
#ifndef BROKER_H_INCLUDED
#define BROKER_H_INCLUDED

#include <stdint.h>
#include <stdio.h>

typedef struct _broker_t broker_t;

//  Start the broker actor: bind frontend (PULL, loggers connect) and
//  backend (PUSH, workers connect), buffer up to limit messages, log the
//  counters every stats_interval_ms (0: never). Endpoints may use port
//  "*" to pick a free one (see broker_frontend_port). Returns NULL (and
//  logs why) when an endpoint cannot be bound.
broker_t *broker_new (const char *frontend, const char *backend,
                      size_t limit, int64_t stats_interval_ms);
//  Stop the actor, first trying for up to 2 s to hand buffered messages to
//  workers; nulls the caller's pointer.
void broker_destroy (broker_t **self_p);
//  Return the TCP port the frontend is bound to (0 if not TCP).
int broker_frontend_port (broker_t *self);
//  Return the TCP port the backend is bound to (0 if not TCP).
int broker_backend_port (broker_t *self);
//  Return messages received from loggers so far.
uint64_t broker_received (broker_t *self);
//  Return messages handed to workers so far.
uint64_t broker_sent (broker_t *self);
//  Return messages buffered now.
uint64_t broker_queued (broker_t *self);
//  Write the broker's counters in Prometheus text format; safe from any
//  thread (matches enp_probe_render_fn).
void broker_print_metrics (void *self, FILE *out);

#endif
