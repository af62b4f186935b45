//  worker - the notification-processor actor: pull, print, report
#ifndef WORKER_H_INCLUDED
#define WORKER_H_INCLUDED

#include <stdint.h>
#include <stdio.h>
#include "enp_curve.h"
#include "worker_line.h"

typedef struct {
    const char *broker;         //  backend endpoint to connect to
    const char *logger_url;     //  base URL of the event-logger
    const char *status_token;   //  bearer token for PATCH, or "" / NULL
    const char *logger_ca;      //  PEM CAs that verify an https logger, or
                                //  "" / NULL: the system's
    size_t dedup_size;          //  events remembered to avoid printing twice
    int max_retries;            //  report retries before giving up
    long backoff_ms;            //  first retry backoff
    size_t inflight;            //  report requests in flight at once
                                //  (1..256; 0: 1)
    size_t batch_max;           //  reports per request (1..1000; 0 or 1:
                                //  one PATCH each)
    int batch_ms;               //  a report waits this long at most for
                                //  others to share its request (0..1000)
    size_t report_queue;        //  reports held at most; the worker stops
                                //  reading the broker while they fill it
                                //  (0: WORKER_CALLBACK_QUEUE_DEFAULT)
    worker_line_format_t format;    //  how notification lines look
    enp_curve_t *curve;         //  own certificate and the broker's key
                                //  (borrowed, outlives the worker); NULL: off
} worker_options_t;

typedef struct _worker_t worker_t;

//  Start a worker actor that prints one line per event on out (borrowed;
//  flushed after each burst of lines, before their reports are queued)
//  and reports it processed. Returns NULL on failure.
worker_t *worker_new (const worker_options_t *options, FILE *out);
//  Stop the worker: it disconnects, finishes the events it already holds
//  (for up to 2 s), and exits; nulls the caller's pointer.
void worker_destroy (worker_t **self_p);
//  Return events notified (printed) so far.
uint64_t worker_notified (worker_t *self);
//  Return events reported processed so far.
uint64_t worker_reported (worker_t *self);
//  Return redeliveries that were not printed again.
uint64_t worker_duplicates (worker_t *self);
//  Return messages dropped because they were not valid events.
uint64_t worker_malformed (worker_t *self);
//  Write the worker's counters in Prometheus text format; safe from any
//  thread (matches enp_probe_render_fn).
void worker_print_metrics (void *self, FILE *out);

#endif
