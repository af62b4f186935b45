/*  test_logger_metrics - HTTP request counters and the latency histogram
*/
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "logger_metrics.h"
#include "testkit.h"

//  Render the metrics, with a snapshot or without, into a new string
//  (caller frees).
static char *
s_print_with (logger_metrics_t *metrics, const logger_metrics_snapshot_t *snapshot)
{
    FILE *out = tmpfile ();
    ck_assert_ptr_nonnull (out);
    logger_metrics_print (metrics, snapshot, out);
    long size = ftell (out);
    ck_assert_int_gt (size, 0);
    rewind (out);
    char *text = (char *) malloc ((size_t) size + 1);
    ck_assert_ptr_nonnull (text);
    ck_assert_uint_eq (fread (text, 1, (size_t) size, out), (size_t) size);
    text [size] = '\0';
    fclose (out);
    return text;
}

//  Render the request metrics only (caller frees).
static char *
s_print (logger_metrics_t *metrics)
{
    return s_print_with (metrics, NULL);
}

//  Return the value on the line that starts with prefix followed by a
//  space, or -1 when there is no such line.
static double
s_value (const char *text, const char *prefix)
{
    size_t length = strlen (prefix);
    for (const char *line = text; line && *line; ) {
        if (strncmp (line, prefix, length) == 0 && line [length] == ' ')
            return strtod (line + length + 1, NULL);
        line = strchr (line, '\n');
        if (line)
            line++;
    }
    return -1;
}

//  Usage: count requests, print, destroy.
START_TEST (test_logger_metrics_usage)
{
    logger_metrics_t *metrics = logger_metrics_new ();
    ck_assert_ptr_nonnull (metrics);
    logger_metrics_observe (metrics, "POST", LOGGER_ROUTE_EVENTS, 201, 0.002);
    logger_metrics_observe (metrics, "POST", LOGGER_ROUTE_EVENTS, 201, 0.004);
    char *text = s_print (metrics);
    ck_assert_ptr_nonnull (strstr (text, "http_requests_total{method=\"POST\","
                                         "route=\"/events\",code=\"201\"} 2\n"));
    ck_assert_ptr_nonnull (strstr (text, "http_request_duration_seconds_count"
                                         "{route=\"/events\"} 2\n"));
    free (text);
    logger_metrics_destroy (&metrics);
    ck_assert_ptr_null (metrics);
    logger_metrics_destroy (&metrics);
}
END_TEST

//  Nothing observed: only the HELP and TYPE lines.
START_TEST (test_logger_metrics_empty)
{
    logger_metrics_t *metrics = logger_metrics_new ();
    char *text = s_print (metrics);
    ck_assert_ptr_nonnull (strstr (text, "# TYPE http_requests_total counter\n"));
    ck_assert_ptr_nonnull (strstr (text, "# HELP http_requests_total "));
    ck_assert_ptr_nonnull (strstr (text, "# TYPE http_request_duration_seconds"
                                         " histogram\n"));
    ck_assert_ptr_null (strstr (text, "http_requests_total{"));
    ck_assert_ptr_null (strstr (text, "_bucket{"));
    free (text);
    logger_metrics_destroy (&metrics);
}
END_TEST

//  Counters are kept per method, route and code; zero ones are not shown.
START_TEST (test_logger_metrics_counters)
{
    logger_metrics_t *metrics = logger_metrics_new ();
    logger_metrics_observe (metrics, "POST", LOGGER_ROUTE_EVENTS, 201, 0.001);
    logger_metrics_observe (metrics, "POST", LOGGER_ROUTE_EVENTS, 201, 0.001);
    logger_metrics_observe (metrics, "POST", LOGGER_ROUTE_EVENTS, 422, 0.001);
    logger_metrics_observe (metrics, "GET", LOGGER_ROUTE_EVENT, 404, 0.001);
    logger_metrics_observe (metrics, "PATCH", LOGGER_ROUTE_EVENT, 200, 0.001);
    logger_metrics_observe (metrics, "GET", LOGGER_ROUTE_HEALTHZ, 200, 0.001);
    logger_metrics_observe (metrics, "GET", LOGGER_ROUTE_READYZ, 503, 0.001);
    logger_metrics_observe (metrics, "GET", LOGGER_ROUTE_METRICS, 200, 0.001);
    logger_metrics_observe (metrics, "GET", LOGGER_ROUTE_OPENAPI, 200, 0.001);
    logger_metrics_observe (metrics, "GET", LOGGER_ROUTE_DOCS, 200, 0.001);
    logger_metrics_observe (metrics, "DELETE", LOGGER_ROUTE_OTHER, 405, 0.001);
    char *text = s_print (metrics);
    const struct {
        const char *series;
        double value;
    } expected [] = {
        { "http_requests_total{method=\"POST\",route=\"/events\",code=\"201\"}", 2 },
        { "http_requests_total{method=\"POST\",route=\"/events\",code=\"422\"}", 1 },
        { "http_requests_total{method=\"GET\",route=\"/events/{event_id}\",code=\"404\"}", 1 },
        { "http_requests_total{method=\"PATCH\",route=\"/events/{event_id}\",code=\"200\"}", 1 },
        { "http_requests_total{method=\"GET\",route=\"/healthz\",code=\"200\"}", 1 },
        { "http_requests_total{method=\"GET\",route=\"/readyz\",code=\"503\"}", 1 },
        { "http_requests_total{method=\"GET\",route=\"/metrics\",code=\"200\"}", 1 },
        { "http_requests_total{method=\"GET\",route=\"/openapi.yaml\",code=\"200\"}", 1 },
        { "http_requests_total{method=\"GET\",route=\"/docs\",code=\"200\"}", 1 },
        { "http_requests_total{method=\"DELETE\",route=\"other\",code=\"405\"}", 1 },
        { "http_requests_total{method=\"GET\",route=\"/events\",code=\"200\"}", -1 },
        { "http_requests_total{method=\"POST\",route=\"/events\",code=\"200\"}", -1 },
    };
    for (size_t index = 0; index < sizeof expected / sizeof expected [0]; index++)
        ck_assert_msg (s_value (text, expected [index].series) == expected [index].value,
                       "%s: expected %g in\n%s", expected [index].series,
                       expected [index].value, text);
    free (text);
    logger_metrics_destroy (&metrics);
}
END_TEST

//  Unknown methods, codes and routes fall into bounded "OTHER" labels.
START_TEST (test_logger_metrics_bounded_labels)
{
    logger_metrics_t *metrics = logger_metrics_new ();
    logger_metrics_observe (metrics, "BREW", LOGGER_ROUTE_EVENTS, 201, 0.001);
    logger_metrics_observe (metrics, NULL, LOGGER_ROUTE_EVENTS, 201, 0.001);
    logger_metrics_observe (metrics, "GET", LOGGER_ROUTE_EVENTS, 418, 0.001);
    logger_metrics_observe (metrics, "GET", LOGGER_ROUTE_EVENTS, 299, 0.001);
    logger_metrics_observe (metrics, "GET", (logger_route_t) 99, 200, 0.001);
    logger_metrics_observe (metrics, "GET", LOGGER_ROUTE_COUNT, 200, 0.001);
    char *text = s_print (metrics);
    ck_assert (s_value (text, "http_requests_total{method=\"OTHER\","
                              "route=\"/events\",code=\"201\"}") == 2);
    ck_assert (s_value (text, "http_requests_total{method=\"GET\","
                              "route=\"/events\",code=\"other\"}") == 2);
    ck_assert (s_value (text, "http_requests_total{method=\"GET\","
                              "route=\"other\",code=\"200\"}") == 2);
    ck_assert_ptr_null (strstr (text, "BREW"));
    ck_assert_ptr_null (strstr (text, "418"));
    free (text);
    logger_metrics_destroy (&metrics);
}
END_TEST

//  Buckets are cumulative, end with +Inf, and _sum and _count agree.
START_TEST (test_logger_metrics_histogram)
{
    logger_metrics_t *metrics = logger_metrics_new ();
    const double seconds [] = { 0.00005, 0.001, 0.003, 0.3, 10.0 };
    double sum = 0;
    for (size_t index = 0; index < sizeof seconds / sizeof seconds [0]; index++) {
        logger_metrics_observe (metrics, "GET", LOGGER_ROUTE_EVENT, 200,
                                seconds [index]);
        sum += seconds [index];
    }
    char *text = s_print (metrics);
    const struct {
        const char *le;
        double count;
    } buckets [] = {
        { "0.0001", 1 }, { "0.00025", 1 }, { "0.0005", 1 }, { "0.001", 2 },
        { "0.0025", 2 }, { "0.005", 3 }, { "0.01", 3 }, { "0.025", 3 },
        { "0.05", 3 }, { "0.1", 3 }, { "0.25", 3 }, { "0.5", 4 }, { "1", 4 },
        { "2.5", 4 }, { "+Inf", 5 }
    };
    for (size_t index = 0; index < sizeof buckets / sizeof buckets [0]; index++) {
        char series [160];
        snprintf (series, sizeof series, "http_request_duration_seconds_bucket"
                  "{route=\"/events/{event_id}\",le=\"%s\"}", buckets [index].le);
        ck_assert_msg (s_value (text, series) == buckets [index].count,
                       "%s: expected %g in\n%s", series, buckets [index].count, text);
    }
    double printed_sum = s_value (text, "http_request_duration_seconds_sum"
                                        "{route=\"/events/{event_id}\"}");
    ck_assert_double_eq_tol (printed_sum, sum, 1e-6);
    ck_assert (s_value (text, "http_request_duration_seconds_count"
                              "{route=\"/events/{event_id}\"}") == 5);
    //  Routes without requests have no series
    ck_assert_ptr_null (strstr (text, "_bucket{route=\"/events\","));
    //  Buckets never decrease, in the order printed
    double last = 0;
    int seen = 0;
    for (const char *line = strstr (text, "_bucket{"); line;
         line = strstr (line + 1, "_bucket{")) {
        double value = strtod (strchr (line, '}') + 2, NULL);
        ck_assert (value >= last);
        last = value;
        seen++;
    }
    ck_assert_int_eq (seen, 15);
    free (text);
    logger_metrics_destroy (&metrics);
}
END_TEST

//  A snapshot's figures come out under their metric names, before the
//  request metrics; without one there are no events_ or broker_ lines.
START_TEST (test_logger_metrics_snapshot)
{
    logger_metrics_t *metrics = logger_metrics_new ();
    logger_metrics_observe (metrics, "POST", LOGGER_ROUTE_EVENTS, 201, 0.001);
    logger_metrics_snapshot_t snapshot = {
        .store = { .total = 15, .pending = 1, .queued = 2, .processed = 3,
                   .failed = 4, .other = 5, .max_events = 1000,
                   .created_total = 100, .processed_total = 90,
                   .failed_total = 6, .redelivered_total = 7,
                   .evicted_processed_total = 8, .evicted_failed_total = 9,
                   .bytes = 4096, .max_bytes = 65536 },
        .broker_connected = true, .broker_sent = 123
    };
    char *text = s_print_with (metrics, &snapshot);
    const struct {
        const char *series;
        double value;
    } expected [] = {
        { "events_created_total", 100 }, { "events_processed_total", 90 },
        { "events_failed_total", 6 }, { "events_redelivered_total", 7 },
        { "events_evicted_total{status=\"processed\"}", 8 },
        { "events_evicted_total{status=\"failed\"}", 9 },
        { "events_store_bytes", 4096 }, { "events_store_capacity_bytes", 65536 },
        { "events_in_store{status=\"pending\"}", 1 },
        { "events_in_store{status=\"queued\"}", 2 },
        { "events_in_store{status=\"processed\"}", 3 },
        { "events_in_store{status=\"failed\"}", 4 },
        { "events_in_store{status=\"other\"}", 5 },
        { "events_store_capacity", 1000 }, { "broker_connected", 1 },
        { "broker_messages_sent_total", 123 },
        { "http_requests_total{method=\"POST\",route=\"/events\",code=\"201\"}", 1 }
    };
    for (size_t index = 0; index < sizeof expected / sizeof expected [0]; index++)
        ck_assert_msg (s_value (text, expected [index].series) == expected [index].value,
                       "%s: expected %g in\n%s", expected [index].series,
                       expected [index].value, text);
    ck_assert_ptr_nonnull (strstr (text, "# TYPE events_in_store gauge\n"));
    ck_assert (strstr (text, "broker_messages_sent_total")
             < strstr (text, "http_requests_total"));
    free (text);
    snapshot.broker_connected = false;
    text = s_print_with (metrics, &snapshot);
    ck_assert (s_value (text, "broker_connected") == 0);
    free (text);
    text = s_print (metrics);
    ck_assert_ptr_null (strstr (text, "events_"));
    ck_assert_ptr_null (strstr (text, "broker_"));
    free (text);
    logger_metrics_destroy (&metrics);
}
END_TEST

#define S_THREADS 4
#define S_OBSERVATIONS 20000

//  Observe from one thread.
static void *
s_observer (void *arg)
{
    logger_metrics_t *metrics = (logger_metrics_t *) arg;
    for (int index = 0; index < S_OBSERVATIONS; index++)
        logger_metrics_observe (metrics, "POST", LOGGER_ROUTE_EVENTS, 201, 0.002);
    return NULL;
}

//  Observing from many threads at once loses nothing.
START_TEST (test_logger_metrics_concurrent)
{
    logger_metrics_t *metrics = logger_metrics_new ();
    pthread_t threads [S_THREADS];
    for (int index = 0; index < S_THREADS; index++)
        ck_assert_int_eq (pthread_create (&threads [index], NULL, s_observer,
                                          metrics), 0);
    for (int index = 0; index < S_THREADS; index++)
        pthread_join (threads [index], NULL);
    char *text = s_print (metrics);
    double total = S_THREADS * S_OBSERVATIONS;
    ck_assert (s_value (text, "http_requests_total{method=\"POST\","
                              "route=\"/events\",code=\"201\"}") == total);
    ck_assert (s_value (text, "http_request_duration_seconds_count"
                              "{route=\"/events\"}") == total);
    ck_assert (s_value (text, "http_request_duration_seconds_bucket"
                              "{route=\"/events\",le=\"0.0025\"}") == total);
    ck_assert_double_eq_tol (s_value (text, "http_request_duration_seconds_sum"
                                            "{route=\"/events\"}"),
                             total * 0.002, 1e-3);
    free (text);
    logger_metrics_destroy (&metrics);
}
END_TEST

int
main (void)
{
    const TTest *tests [] = {
        test_logger_metrics_usage,
        test_logger_metrics_empty,
        test_logger_metrics_counters,
        test_logger_metrics_bounded_labels,
        test_logger_metrics_histogram,
        test_logger_metrics_concurrent,
        test_logger_metrics_snapshot,
        NULL
    };
    return testkit_run (testkit_suite ("logger_metrics", 10, tests));
}
