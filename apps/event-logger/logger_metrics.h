//  logger_metrics - HTTP request counters and latency histogram, lock-free
#ifndef LOGGER_METRICS_H_INCLUDED
#define LOGGER_METRICS_H_INCLUDED

#include <stdio.h>

//  Route templates: labels stay bounded whatever paths clients send.
typedef enum {
    LOGGER_ROUTE_EVENTS = 0,    //  /events
    LOGGER_ROUTE_EVENT,         //  /events/{event_id}
    LOGGER_ROUTE_HEALTHZ,
    LOGGER_ROUTE_READYZ,
    LOGGER_ROUTE_METRICS,
    LOGGER_ROUTE_OPENAPI,
    LOGGER_ROUTE_DOCS,
    LOGGER_ROUTE_OTHER,         //  anything unmatched
    LOGGER_ROUTE_COUNT
} logger_route_t;

typedef struct _logger_metrics_t logger_metrics_t;

//  Create empty metrics. Returns NULL on failure.
logger_metrics_t *logger_metrics_new (void);
//  Destroy the metrics; nulls the caller's pointer.
void logger_metrics_destroy (logger_metrics_t **self_p);
//  Count one request; safe from any thread.
void logger_metrics_observe (logger_metrics_t *self, const char *method,
                             logger_route_t route, int code, double seconds);
//  Write http_requests_total and http_request_duration_seconds to out.
void logger_metrics_print (logger_metrics_t *self, FILE *out);

#endif
