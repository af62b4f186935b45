//  logger_metrics - the logger's /metrics: state gauges, request counters
//  and the latency histogram, counted lock-free
#ifndef LOGGER_METRICS_H_INCLUDED
#define LOGGER_METRICS_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "logger_store.h"

//  Route templates: labels stay bounded whatever paths clients send.
typedef enum {
    LOGGER_ROUTE_EVENTS = 0,    //  /events
    LOGGER_ROUTE_EVENT,         //  /events/{event_id}
    LOGGER_ROUTE_HEALTHZ,
    LOGGER_ROUTE_READYZ,
    LOGGER_ROUTE_METRICS,
    LOGGER_ROUTE_OPENAPI,
    LOGGER_ROUTE_DOCS,
    LOGGER_ROUTE_BATCH_CREATE,  //  /events:batchCreate
    LOGGER_ROUTE_BATCH_UPDATE,  //  /events:batchUpdateStatus
    LOGGER_ROUTE_OTHER,         //  anything unmatched
    LOGGER_ROUTE_COUNT
} logger_route_t;

//  The logger's state at one moment, as /metrics shows it. A copy, so the
//  store behind it can be any engine.
typedef struct {
    logger_store_stats_t store; //  the store's counts and counters
    bool broker_connected;      //  the link to the broker is up
    uint64_t broker_sent;       //  messages handed to the broker
} logger_metrics_snapshot_t;

typedef struct _logger_metrics_t logger_metrics_t;

//  Create empty metrics. Returns NULL on failure.
logger_metrics_t *logger_metrics_new (void);
//  Destroy the metrics; nulls the caller's pointer.
void logger_metrics_destroy (logger_metrics_t **self_p);
//  Count one request; safe from any thread.
void logger_metrics_observe (logger_metrics_t *self, const char *method,
                             logger_route_t route, int code, double seconds);
//  Write the metrics in Prometheus text format to out: the snapshot's
//  (events_*, broker_*; none when snapshot is NULL), then
//  http_requests_total and http_request_duration_seconds.
void logger_metrics_print (logger_metrics_t *self,
                           const logger_metrics_snapshot_t *snapshot, FILE *out);

#endif
