/*  test_logger_idempotency - Idempotency-Key on POST /events, both stores

    The real event-logger binary, once with the memory store and once with
    the PostgreSQL store (a cluster this suite starts): a retried create
    with the same key and body gives back the first event and creates
    nothing; the same key with another body is 422; a malformed key 400.
*/
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>
#include "testkit.h"
#include "testkit_pg.h"

static testkit_pg_t *s_pg;
static const char *s_store = "memory";
static char s_url [512];
static testkit_pipeline_t *s_pipeline;

static void
s_start (void)
{
    s_pipeline = testkit_pipeline_new ();
    ck_assert_ptr_nonnull (s_pipeline);
    const char *const flags [] = { "--store", s_store, NULL };
    ck_assert_int_gt (testkit_pipeline_start_logger (s_pipeline, flags), 0);
}

static void
s_setup_memory (void)
{
    s_store = "memory";
    s_start ();
}

static void
s_setup_postgresql (void)
{
    s_store = testkit_pg_database (s_pg, "idempotency", s_url, sizeof s_url);
    ck_assert_ptr_nonnull (s_store);
    s_start ();
}

static void
s_teardown (void)
{
    ck_assert_int_eq (testkit_pipeline_stop (s_pipeline), 0);
    testkit_pipeline_destroy (&s_pipeline);
}

//  Read one sample from the logger's /metrics, or -1.
static double
s_metric (const char *name)
{
    char url [128];
    snprintf (url, sizeof url, "%s/metrics", testkit_pipeline_base (s_pipeline));
    return testkit_metric (url, name);
}

//  POST a body with an Idempotency-Key header (raw header line, or NULL).
static testkit_response_t
s_post (const char *body, const char *header)
{
    char url [128];
    snprintf (url, sizeof url, "%s/events", testkit_pipeline_base (s_pipeline));
    testkit_response_t response;
    testkit_http ("POST", url, "application/json", body, strlen (body), header,
                  &response);
    return response;
}

//  Return the event_id of a response's body (copied into id).
static const char *
s_event_id (const testkit_response_t *response, char *id, size_t size)
{
    json_t *event = json_loads (response->body, 0, NULL);
    ck_assert_ptr_nonnull (event);
    snprintf (id, size, "%s", json_string_value (json_object_get (event, "event_id")));
    json_decref (event);
    return id;
}

//  A retry with the same key and body is the first event, created once.
START_TEST (test_logger_idempotency_retry)
{
    const char *body = "{\"user_id\":\"alice\",\"description\":\"order 1 shipped\"}";
    const char *key = "Idempotency-Key: order-1-shipped";
    testkit_response_t first = s_post (body, key);
    ck_assert_int_eq (first.code, 201);
    char id [64], again_id [64], location [128], again_location [128];
    s_event_id (&first, id, sizeof id);
    ck_assert_int_eq (testkit_header (&first, "Location", location,
                                      sizeof location), 0);
    testkit_response_t again = s_post (body, key);
    ck_assert_int_eq (again.code, 201);
    ck_assert_str_eq (s_event_id (&again, again_id, sizeof again_id), id);
    ck_assert_int_eq (testkit_header (&again, "Location", again_location,
                                      sizeof again_location), 0);
    ck_assert_str_eq (again_location, location);
    testkit_response_free (&first);
    testkit_response_free (&again);
    //  Another key, same body: another event
    testkit_response_t other = s_post (body, "Idempotency-Key: order-1-shipped-2");
    ck_assert_int_eq (other.code, 201);
    ck_assert_str_ne (s_event_id (&other, again_id, sizeof again_id), id);
    testkit_response_free (&other);
    ck_assert_int_eq ((int) s_metric ("events_created_total"), 2);
}
END_TEST

//  The same key with another body is 422 and names the header.
START_TEST (test_logger_idempotency_conflict)
{
    const char *key = "Idempotency-Key: k-42";
    testkit_response_t first = s_post ("{\"user_id\":\"a\",\"description\":\"x\"}", key);
    ck_assert_int_eq (first.code, 201);
    testkit_response_free (&first);
    testkit_response_t other = s_post ("{\"user_id\":\"a\",\"description\":\"y\"}", key);
    ck_assert_int_eq (other.code, 422);
    json_t *problem = json_loads (other.body, 0, NULL);
    ck_assert_ptr_nonnull (problem);
    json_t *error = json_array_get (json_object_get (problem, "errors"), 0);
    ck_assert_str_eq (json_string_value (json_object_get (error, "field")),
                      "Idempotency-Key");
    json_decref (problem);
    testkit_response_free (&other);
    ck_assert_int_eq ((int) s_metric ("events_created_total"), 1);
}
END_TEST

//  A key that is empty, too long or not visible ASCII is 400.
START_TEST (test_logger_idempotency_bad_key)
{
    const char *body = "{\"user_id\":\"a\",\"description\":\"x\"}";
    char long_key [300] = "Idempotency-Key: ";
    memset (long_key + strlen (long_key), 'k', 256);
    const char *bad [] = { "Idempotency-Key: two words", long_key,
                           "Idempotency-Key: caf\xc3\xa9" };
    for (size_t index = 0; index < sizeof bad / sizeof bad [0]; index++) {
        testkit_response_t response = s_post (body, bad [index]);
        ck_assert_int_eq (response.code, 400);
        testkit_response_free (&response);
    }
    //  255 characters is the longest key
    long_key [strlen ("Idempotency-Key: ") + 255] = '\0';
    testkit_response_t response = s_post (body, long_key);
    ck_assert_int_eq (response.code, 201);
    testkit_response_free (&response);
    ck_assert_int_eq ((int) s_metric ("events_created_total"), 1);
}
END_TEST

static void
s_add_store (Suite *suite, const char *name, void (*setup) (void))
{
    TCase *tcase = tcase_create (name);
    tcase_set_timeout (tcase, 60);
    tcase_add_checked_fixture (tcase, setup, s_teardown);
    tcase_add_test (tcase, test_logger_idempotency_retry);
    tcase_add_test (tcase, test_logger_idempotency_conflict);
    tcase_add_test (tcase, test_logger_idempotency_bad_key);
    suite_add_tcase (suite, tcase);
}

int
main (void)
{
    s_pg = testkit_pg_new ();
    if (!s_pg)
        return EXIT_FAILURE;
    Suite *suite = suite_create ("logger_idempotency");
    s_add_store (suite, "memory", s_setup_memory);
    s_add_store (suite, "postgresql", s_setup_postgresql);
    int rc = testkit_run (suite);
    testkit_pg_destroy (&s_pg);
    return rc;
}
