/*  test_logger_limits - the logger's memory stays bounded under hostile use

    Real event-logger binaries on free loopback ports:
    - 100 concurrent GET /events?limit=1000 over events whose descriptions
      are 2,700 control characters (16 kB of JSON each) must not take the
      logger's resident memory up by more than a few pages' worth: each
      page has a byte budget and ends early with a cursor;
    - a flood of events that all fail (no processor, one attempt) must not
      fill the store for good: failed events are evicted for new ones.
*/
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>
#include "enp_time.h"
#include "testkit.h"

#define S_BIG_EVENTS    1000
#define S_READERS       100
#define S_CONTROLS      2700    //  \u0001 per description

//  Most the logger's RSS may grow while the readers run. Without a budget
//  each page is ~16 MB of JSON plus its copies, ~3 GB for 100 at once;
//  with one, 100 pages of 512 kB and their copies take ~100 MB (and an
//  ASan build keeps up to 256 MB of freed memory in quarantine).
#define S_RSS_GROWTH_MAX_KB (448 * 1024)

//  Read one sample from the /metrics of the logger at base, or -1.
static double
s_metric (const char *base, const char *name)
{
    char url [128];
    snprintf (url, sizeof url, "%s/metrics", base);
    return testkit_metric (url, name);
}

//  POST one event; return the HTTP status.
static long
s_post (const char *base, const char *body)
{
    char url [128];
    snprintf (url, sizeof url, "%s/events", base);
    testkit_response_t response;
    testkit_http ("POST", url, "application/json", body, strlen (body), NULL,
                  &response);
    long code = response.code;
    testkit_response_free (&response);
    return code;
}

//  One reader: a single listing request with the largest limit.
static void *
s_reader (void *arg)
{
    const char *base = (const char *) arg;
    char url [128];
    snprintf (url, sizeof url, "%s/events?limit=1000", base);
    testkit_response_t response;
    testkit_http ("GET", url, NULL, NULL, 0, NULL, &response);
    testkit_response_free (&response);
    return NULL;
}

//  Page through the whole listing; return how many items it had, checking
//  that no page is over its budget and that no id repeats.
static int
s_list_all (const char *base, int *pages_p)
{
    char after [64] = "";
    int items = 0, pages = 0;
    zhashx_t *seen = zhashx_new ();
    do {
        char url [192];
        snprintf (url, sizeof url, "%s/events?limit=1000%s%s", base,
                  *after? "&after=": "", after);
        testkit_response_t response;
        ck_assert_int_eq (testkit_http ("GET", url, NULL, NULL, 0, NULL,
                                        &response), 0);
        ck_assert_int_eq (response.code, 200);
        ck_assert_uint_le (response.size, 600 * 1024);
        json_t *page = json_loads (response.body, 0, NULL);
        ck_assert_ptr_nonnull (page);
        json_t *list = json_object_get (page, "items"), *item;
        size_t index;
        json_array_foreach (list, index, item) {
            const char *id = json_string_value (json_object_get (item, "event_id"));
            ck_assert_int_eq (zhashx_insert (seen, id, (void *) id), 0);
            items++;
        }
        json_t *next = json_object_get (page, "next");
        snprintf (after, sizeof after, "%s", json_is_string (next)
                  ? json_string_value (next): "");
        json_decref (page);
        testkit_response_free (&response);
        pages++;
    } while (*after && pages < 1000);
    zhashx_destroy (&seen);
    *pages_p = pages;
    return items;
}

//  100 concurrent largest listings of large events keep RSS bounded.
START_TEST (test_logger_limits_listing_memory)
{
    testkit_pipeline_t *pipeline = testkit_pipeline_new ();
    ck_assert_ptr_nonnull (pipeline);
    const char *const flags [] = { "--threads", "160", "--log-level", "warn",
                                   NULL };
    pid_t logger = testkit_pipeline_start_logger (pipeline, flags);
    ck_assert_int_gt (logger, 0);
    const char *base = testkit_pipeline_base (pipeline);

    //  {"user_id":"u","description":"\u0001\u0001..."}: 16 kB, under the
    //  default body limit; each is 2,700 bytes held, 16 kB when listed
    size_t size = 64 + 6 * S_CONTROLS;
    char *body = malloc (size);
    char *cursor = body + sprintf (body, "{\"user_id\":\"u\",\"description\":\"");
    for (int index = 0; index < S_CONTROLS; index++)
        cursor += sprintf (cursor, "\\u0001");
    sprintf (cursor, "\"}");
    for (int index = 0; index < S_BIG_EVENTS; index++)
        ck_assert_int_eq (s_post (base, body), 201);
    free (body);

    long before = testkit_rss_kb (logger, false);
    ck_assert_int_gt (before, 0);
    pthread_t readers [S_READERS];
    for (int index = 0; index < S_READERS; index++)
        ck_assert_int_eq (pthread_create (&readers [index], NULL, s_reader,
                                          (void *) base), 0);
    for (int index = 0; index < S_READERS; index++)
        pthread_join (readers [index], NULL);
    long peak = testkit_rss_kb (logger, true);
    fprintf (stderr, "listing memory: RSS %ld kB before, peak %ld kB while"
             " %d readers listed\n", before, peak, S_READERS);
    ck_assert_int_le (peak - before, S_RSS_GROWTH_MAX_KB);

    //  Pages end early, and the cursors still reach every event once
    int pages = 0;
    ck_assert_int_eq (s_list_all (base, &pages), S_BIG_EVENTS);
    ck_assert_int_gt (pages, 1);
    ck_assert_int_eq (testkit_pipeline_stop (pipeline), 0);
    testkit_pipeline_destroy (&pipeline);
}
END_TEST

//  A flood of failing events does not fill the store for good.
START_TEST (test_logger_limits_failed_flood)
{
    testkit_pipeline_t *pipeline = testkit_pipeline_new ();
    ck_assert_ptr_nonnull (pipeline);
    //  The broker takes every event and no processor reports any: each
    //  fails after its one attempt and a 1 s visibility timeout
    ck_assert_int_gt (testkit_pipeline_start_broker (pipeline), 0);
    const char *const flags [] = { "--max-events", "20", "--max-attempts", "1",
                                   "--visibility-timeout", "1", NULL };
    ck_assert_int_gt (testkit_pipeline_start_logger (pipeline, flags), 0);
    const char *base = testkit_pipeline_base (pipeline);
    const char *body = "{\"user_id\":\"u\",\"description\":\"doomed\"}";
    for (int index = 0; index < 20; index++)
        ck_assert_int_eq (s_post (base, body), 201);
    int64_t deadline = enp_time_mono_ms () + 30000;
    while (s_metric (base, "events_in_store{status=\"failed\"}") < 20
       &&  enp_time_mono_ms () < deadline)
        usleep (50000);
    ck_assert_int_eq ((int) s_metric (base,
                      "events_in_store{status=\"failed\"}"), 20);
    //  The store is full of failed events: new ones take their place
    for (int index = 0; index < 20; index++)
        ck_assert_int_eq (s_post (base, body), 201);
    ck_assert_int_eq ((int) s_metric (base,
                      "events_evicted_total{status=\"failed\"}"), 20);
    ck_assert_int_eq ((int) s_metric (base, "events_created_total"), 40);
    ck_assert_int_eq (testkit_pipeline_stop (pipeline), 0);
    testkit_pipeline_destroy (&pipeline);
}
END_TEST

int
main (void)
{
    const TTest *tests [] = {
        test_logger_limits_listing_memory,
        test_logger_limits_failed_flood,
        NULL
    };
    return testkit_run (testkit_suite ("logger_limits", 240, tests));
}
