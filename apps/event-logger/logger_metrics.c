/*  logger_metrics - the logger's /metrics: state gauges, request counters
    and the latency histogram, counted lock-free

    Every request on every CivetWeb thread lands here, so counting must not
    take a lock: each counter is a relaxed atomic in a fixed table indexed
    by method, route template and status code. Fixed tables also keep the
    label sets bounded, as Prometheus needs. The store's and the broker
    link's figures come in as a snapshot the caller takes, so this class
    does not care which store engine made them.
*/
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "logger_metrics.h"

#define S_COUNT(array) (sizeof (array) / sizeof ((array) [0]))

//  The last one stands for any other method
static const char *s_methods [] = {
    "GET", "POST", "PATCH", "PUT", "DELETE", "HEAD", "OPTIONS", "OTHER"
};
#define S_METHODS S_COUNT (s_methods)
//  The last one, 0, stands for any other code
static const int s_codes [] = {
    200, 201, 400, 401, 404, 405, 413, 415, 422, 500, 503, 0
};
#define S_CODES S_COUNT (s_codes)
//  Labels of the route templates, in logger_route_t's order
static const char *s_routes [] = {
    "/events", "/events/{event_id}", "/healthz", "/readyz", "/metrics",
    "/openapi.yaml", "/docs", "/events:batchCreate",
    "/events:batchUpdateStatus", "other"
};
_Static_assert (S_COUNT (s_routes) == LOGGER_ROUTE_COUNT,
                "one label per route template");
static const double s_buckets [] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
    0.25, 0.5, 1, 2.5
};
#define S_BUCKETS S_COUNT (s_buckets)

typedef struct {
    atomic_uint_fast64_t buckets [S_BUCKETS];   //  cumulative at print time
    atomic_uint_fast64_t count;
    atomic_uint_fast64_t sum_ns;
} s_histogram_t;

struct _logger_metrics_t {
    atomic_uint_fast64_t requests [S_METHODS][LOGGER_ROUTE_COUNT][S_CODES];
    s_histogram_t durations [LOGGER_ROUTE_COUNT];
};

//  Map a method name to its table index.
static int
s_method_index (const char *method)
{
    for (size_t index = 0; index < S_METHODS - 1; index++)
        if (method && strcmp (method, s_methods [index]) == 0)
            return (int) index;
    return (int) S_METHODS - 1;
}

//  Map a status code to its table index.
static int
s_code_index (int code)
{
    for (size_t index = 0; index < S_CODES - 1; index++)
        if (s_codes [index] == code)
            return (int) index;
    return (int) S_CODES - 1;
}

//  Create empty metrics.
logger_metrics_t *
logger_metrics_new (void)
{
    //  calloc gives zeroed atomics, which is their valid initial state
    return (logger_metrics_t *) calloc (1, sizeof (logger_metrics_t));
}

//  Destroy the metrics.
void
logger_metrics_destroy (logger_metrics_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free (*self_p);
    *self_p = NULL;
}

//  Count one request.
void
logger_metrics_observe (logger_metrics_t *self, const char *method,
                        logger_route_t route, int code, double seconds)
{
    if ((int) route < 0 || route >= LOGGER_ROUTE_COUNT)
        route = LOGGER_ROUTE_OTHER;
    atomic_fetch_add_explicit (
        &self->requests [s_method_index (method)][route][s_code_index (code)],
        1, memory_order_relaxed);
    s_histogram_t *histogram = &self->durations [route];
    for (size_t index = 0; index < S_BUCKETS; index++)
        if (seconds <= s_buckets [index]) {
            atomic_fetch_add_explicit (&histogram->buckets [index], 1,
                                       memory_order_relaxed);
            break;
        }
    atomic_fetch_add_explicit (&histogram->count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit (&histogram->sum_ns,
                               (uint_fast64_t) (seconds * 1e9),
                               memory_order_relaxed);
}

//  Write the snapshot's gauges and counters.
static void
s_print_snapshot (const logger_metrics_snapshot_t *snapshot, FILE *out)
{
    const logger_store_stats_t *stats = &snapshot->store;
    fprintf (out,
        "# HELP events_created_total Events accepted (answered 201).\n"
        "# TYPE events_created_total counter\nevents_created_total %llu\n"
        "# HELP events_processed_total Events that became processed.\n"
        "# TYPE events_processed_total counter\nevents_processed_total %llu\n"
        "# HELP events_failed_total Events that ran out of delivery attempts.\n"
        "# TYPE events_failed_total counter\nevents_failed_total %llu\n"
        "# HELP events_redelivered_total Deliveries after the first.\n"
        "# TYPE events_redelivered_total counter\nevents_redelivered_total %llu\n"
        "# HELP events_evicted_total Processed and failed events dropped to"
        " make room, by status.\n"
        "# TYPE events_evicted_total counter\n"
        "events_evicted_total{status=\"processed\"} %llu\n"
        "events_evicted_total{status=\"failed\"} %llu\n"
        "# HELP events_in_store Events held, by status.\n"
        "# TYPE events_in_store gauge\n"
        "events_in_store{status=\"pending\"} %zu\n"
        "events_in_store{status=\"queued\"} %zu\n"
        "events_in_store{status=\"processed\"} %zu\n"
        "events_in_store{status=\"failed\"} %zu\n"
        "events_in_store{status=\"other\"} %zu\n"
        "# HELP events_store_capacity Most events the store holds.\n"
        "# TYPE events_store_capacity gauge\nevents_store_capacity %zu\n"
        "# HELP events_store_bytes Bytes the held events take (memory store).\n"
        "# TYPE events_store_bytes gauge\nevents_store_bytes %zu\n"
        "# HELP events_store_capacity_bytes Most bytes the store holds.\n"
        "# TYPE events_store_capacity_bytes gauge\nevents_store_capacity_bytes %zu\n"
        "# HELP broker_connected 1 while the link to the broker is up.\n"
        "# TYPE broker_connected gauge\nbroker_connected %d\n"
        "# HELP broker_messages_sent_total Messages handed to the broker.\n"
        "# TYPE broker_messages_sent_total counter\nbroker_messages_sent_total %llu\n",
        (unsigned long long) stats->created_total,
        (unsigned long long) stats->processed_total,
        (unsigned long long) stats->failed_total,
        (unsigned long long) stats->redelivered_total,
        (unsigned long long) stats->evicted_processed_total,
        (unsigned long long) stats->evicted_failed_total,
        stats->pending, stats->queued, stats->processed, stats->failed,
        stats->other, stats->max_events, stats->bytes, stats->max_bytes,
        snapshot->broker_connected? 1: 0,
        (unsigned long long) snapshot->broker_sent);
}

//  Write the metrics in Prometheus text format.
void
logger_metrics_print (logger_metrics_t *self,
                      const logger_metrics_snapshot_t *snapshot, FILE *out)
{
    if (snapshot)
        s_print_snapshot (snapshot, out);
    fprintf (out, "# HELP http_requests_total HTTP requests answered, by method,"
                  " route template and status code.\n"
                  "# TYPE http_requests_total counter\n");
    for (size_t method = 0; method < S_METHODS; method++)
        for (int route = 0; route < LOGGER_ROUTE_COUNT; route++)
            for (size_t code = 0; code < S_CODES; code++) {
                uint64_t value = atomic_load_explicit (
                    &self->requests [method][route][code], memory_order_relaxed);
                if (value == 0)
                    continue;
                char code_text [8];
                if (s_codes [code])
                    snprintf (code_text, sizeof code_text, "%d", s_codes [code]);
                else
                    snprintf (code_text, sizeof code_text, "other");
                fprintf (out, "http_requests_total{method=\"%s\",route=\"%s\","
                         "code=\"%s\"} %llu\n", s_methods [method],
                         s_routes [route], code_text, (unsigned long long) value);
            }
    fprintf (out, "# HELP http_request_duration_seconds Time to answer a request,"
                  " by route template.\n"
                  "# TYPE http_request_duration_seconds histogram\n");
    for (int route = 0; route < LOGGER_ROUTE_COUNT; route++) {
        s_histogram_t *histogram = &self->durations [route];
        uint64_t count = atomic_load_explicit (&histogram->count,
                                               memory_order_relaxed);
        if (count == 0)
            continue;
        uint64_t cumulative = 0;
        for (size_t index = 0; index < S_BUCKETS; index++) {
            cumulative += atomic_load_explicit (&histogram->buckets [index],
                                                memory_order_relaxed);
            fprintf (out, "http_request_duration_seconds_bucket{route=\"%s\","
                     "le=\"%g\"} %llu\n", s_routes [route], s_buckets [index],
                     (unsigned long long) cumulative);
        }
        fprintf (out, "http_request_duration_seconds_bucket{route=\"%s\","
                 "le=\"+Inf\"} %llu\n", s_routes [route],
                 (unsigned long long) count);
        fprintf (out, "http_request_duration_seconds_sum{route=\"%s\"} %.9f\n",
                 s_routes [route],
                 atomic_load_explicit (&histogram->sum_ns,
                                       memory_order_relaxed) / 1e9);
        fprintf (out, "http_request_duration_seconds_count{route=\"%s\"} %llu\n",
                 s_routes [route], (unsigned long long) count);
    }
}
