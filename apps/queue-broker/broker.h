//  broker - the queue-broker actor: PULL from loggers, PUSH to workers
#ifndef BROKER_H_INCLUDED
#define BROKER_H_INCLUDED

#include <stdint.h>
#include <stdio.h>
#include "enp_curve.h"

typedef struct {
    const char *frontend;       //  endpoint loggers connect to (bound)
    const char *backend;        //  endpoint workers connect to (bound)
    size_t max_queue;           //  messages buffered at most
    size_t max_queue_bytes;     //  bytes buffered at most
    int64_t stats_interval_ms;  //  counter log period, 0: never
    enp_curve_t *curve;         //  own certificate (borrowed), NULL: CURVE off
    const char *curve_loggers;  //  with curve: public certificates of loggers
    const char *curve_workers;  //  with curve: public certificates of workers
} broker_options_t;

typedef struct _broker_t broker_t;

//  Start the broker actor: bind frontend (PULL, loggers connect) and
//  backend (PUSH, workers connect), buffer up to the limits, log the
//  counters every stats_interval_ms. With CURVE, each side lets in only
//  the keys of its own folder. Endpoints may use port "*" to pick a free
//  one (see broker_frontend_port). Returns NULL (and logs why) when an
//  endpoint cannot be bound or an allow-list folder cannot be read.
broker_t *broker_new (const broker_options_t *options);
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
//  Return messages dropped for breaking the wire format's bounds.
uint64_t broker_dropped (broker_t *self);
//  Write the broker's counters in Prometheus text format; safe from any
//  thread (matches enp_probe_render_fn).
void broker_print_metrics (void *self, FILE *out);

#endif
