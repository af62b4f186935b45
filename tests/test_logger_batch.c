/*  test_logger_batch - POST /events:batchCreate and :batchUpdateStatus

    The real event-logger binary, once with the memory store and once with
    the PostgreSQL store (a cluster this suite starts), always with a
    status token. No broker runs (but in the case that follows a batch to a
    processor): created events stay pending, so what the store holds is
    exactly what the requests made. "Nothing stored" is read
    from the listing and from events_created_total, which count every
    event the store took.

    Cases only the memory store runs start a second logger of their own
    with small limits (--max-batch-body, --max-events).
*/
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>
#include "testkit.h"
#include "testkit_pg.h"

#define S_TOKEN     "batch-s3cret"
#define S_AUTH      "Authorization: Bearer " S_TOKEN
#define S_UNKNOWN   "00000000-0000-4000-8000-000000000000"

static testkit_pg_t *s_pg;
static const char *s_store = "memory";
static char s_url [512];
static testkit_pipeline_t *s_pipeline;

static void
s_start (void)
{
    s_pipeline = testkit_pipeline_new ();
    ck_assert_ptr_nonnull (s_pipeline);
    const char *const flags [] = { "--store", s_store, "--status-token",
                                   S_TOKEN, NULL };
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
    s_store = testkit_pg_database (s_pg, "batch", s_url, sizeof s_url);
    ck_assert_ptr_nonnull (s_store);
    s_start ();
}

static void
s_teardown (void)
{
    ck_assert_int_eq (testkit_pipeline_stop (s_pipeline), 0);
    testkit_pipeline_destroy (&s_pipeline);
}

//  Make a request to logger index's path, with a JSON body (or none) and
//  an extra header line (or NULL).
static testkit_response_t
s_request_at (int index, const char *method, const char *path,
              const char *body, const char *header)
{
    char url [256];
    snprintf (url, sizeof url, "%s%s",
              testkit_pipeline_base_at (s_pipeline, index), path);
    testkit_response_t response;
    testkit_http (method, url, body? "application/json": NULL, body,
                  body? strlen (body): 0, header, &response);
    return response;
}

static testkit_response_t
s_post (const char *path, const char *body, const char *header)
{
    return s_request_at (0, "POST", path, body, header);
}

//  Parse a response body, which must be JSON. Caller owns the result.
static json_t *
s_json (const testkit_response_t *response)
{
    json_t *value = json_loads (response->body, 0, NULL);
    ck_assert_msg (value != NULL, "not JSON: %s", response->body);
    return value;
}

//  Encode a value (consumed) as JSON text (caller frees).
static char *
s_text (json_t *value)
{
    char *text = json_dumps (value, JSON_COMPACT);
    json_decref (value);
    ck_assert_ptr_nonnull (text);
    return text;
}

//  A batchCreate body of count events of user "u<n>", "event <n>".
static char *
s_create_body (size_t count)
{
    json_t *events = json_array ();
    for (size_t index = 0; index < count; index++) {
        char user [32], description [32];
        snprintf (user, sizeof user, "u%zu", index);
        snprintf (description, sizeof description, "event %zu", index);
        json_array_append_new (events, json_pack ("{s:s, s:s}", "user_id",
                               user, "description", description));
    }
    return s_text (json_pack ("{s:o}", "events", events));
}

//  Create count events with one batch; return their ids in order (caller
//  frees the array with json_decref).
static json_t *
s_create (size_t count)
{
    char *body = s_create_body (count);
    testkit_response_t response = s_post ("/events:batchCreate", body, NULL);
    free (body);
    ck_assert_int_eq (response.code, 201);
    json_t *reply = s_json (&response);
    json_t *events = json_object_get (reply, "events");
    ck_assert_uint_eq (json_array_size (events), count);
    json_t *ids = json_array ();
    for (size_t index = 0; index < count; index++)
        json_array_append (ids, json_object_get (json_array_get (events, index),
                                                 "event_id"));
    json_decref (reply);
    testkit_response_free (&response);
    return ids;
}

//  Return the status of an event as GET reads it (copied into status).
static const char *
s_status_of (const char *event_id, char *status, size_t size)
{
    char path [128];
    snprintf (path, sizeof path, "/events/%s", event_id);
    testkit_response_t response = s_request_at (0, "GET", path, NULL, NULL);
    ck_assert_int_eq (response.code, 200);
    json_t *event = s_json (&response);
    snprintf (status, size, "%s", json_string_value (json_object_get (event,
                                                                      "status")));
    json_decref (event);
    testkit_response_free (&response);
    return status;
}

//  Return how many events logger index lists (at most 1000).
static size_t
s_stored_at (int index)
{
    testkit_response_t response = s_request_at (index, "GET",
                                                "/events?limit=1000", NULL, NULL);
    ck_assert_int_eq (response.code, 200);
    json_t *page = s_json (&response);
    size_t count = json_array_size (json_object_get (page, "items"));
    json_decref (page);
    testkit_response_free (&response);
    return count;
}

//  Read one sample from logger index's /metrics, or -1.
static double
s_metric_at (int index, const char *name)
{
    char url [128];
    snprintf (url, sizeof url, "%s/metrics",
              testkit_pipeline_base_at (s_pipeline, index));
    return testkit_metric (url, name);
}

//  Return the "field" of errors [index] of a problem document.
static const char *
s_field (json_t *problem, size_t index)
{
    json_t *error = json_array_get (json_object_get (problem, "errors"), index);
    ck_assert_ptr_nonnull (error);
    return json_string_value (json_object_get (error, "field"));
}

//  POST a body that must be refused whole with code; the problem's first
//  error field must be field (NULL: no check).
static void
s_refused (const char *path, const char *body, int code, const char *field)
{
    testkit_response_t response = s_post (path, body, S_AUTH);
    ck_assert_msg (response.code == code, "%s %s: %ld, not %d", path, body,
                   response.code, code);
    char type [64];
    ck_assert_int_eq (testkit_header (&response, "Content-Type", type,
                                      sizeof type), 0);
    ck_assert_str_eq (type, "application/problem+json");
    if (field) {
        json_t *problem = s_json (&response);
        ck_assert_str_eq (s_field (problem, 0), field);
        json_decref (problem);
    }
    testkit_response_free (&response);
}

//  A batch of creates: 201, each event as POST /events returns it, in
//  request order, each readable by its id.
START_TEST (test_logger_batch_create_order)
{
    char *body = s_create_body (3);
    testkit_response_t response = s_post ("/events:batchCreate", body, NULL);
    free (body);
    ck_assert_int_eq (response.code, 201);
    json_t *reply = s_json (&response);
    ck_assert_uint_eq (json_object_size (reply), 1);
    json_t *events = json_object_get (reply, "events");
    ck_assert_uint_eq (json_array_size (events), 3);
    for (size_t index = 0; index < 3; index++) {
        json_t *event = json_array_get (events, index);
        char user [32], path [128];
        snprintf (user, sizeof user, "u%zu", index);
        ck_assert_str_eq (json_string_value (json_object_get (event, "user_id")),
                          user);
        ck_assert_str_eq (json_string_value (json_object_get (event, "status")),
                          "pending");
        ck_assert_int_eq (json_integer_value (json_object_get (event,
                                                               "attempts")), 0);
        ck_assert_uint_eq (json_object_size (event), 7);
        //  The event as GET reads it is the one the batch answered
        snprintf (path, sizeof path, "/events/%s",
                  json_string_value (json_object_get (event, "event_id")));
        testkit_response_t read = s_request_at (0, "GET", path, NULL, NULL);
        ck_assert_int_eq (read.code, 200);
        json_t *stored = s_json (&read);
        ck_assert (json_equal (stored, event));
        json_decref (stored);
        testkit_response_free (&read);
    }
    json_decref (reply);
    testkit_response_free (&response);
    ck_assert_uint_eq (s_stored_at (0), 3);
    ck_assert_int_eq ((int) s_metric_at (0, "events_created_total"), 3);
}
END_TEST

//  One bad item: 422 naming every error by JSON pointer, nothing stored.
START_TEST (test_logger_batch_create_invalid)
{
    const char *body = "{\"events\":["
        "{\"user_id\":\"a\",\"description\":\"fine\"},"
        "{\"user_id\":\"\",\"description\":\"empty user\"},"
        "{\"user_id\":\"b\",\"description\":\"fine too\"},"
        "{\"user_id\":7,\"extra\":true}]}";
    testkit_response_t response = s_post ("/events:batchCreate", body, NULL);
    ck_assert_int_eq (response.code, 422);
    json_t *problem = s_json (&response);
    ck_assert_uint_eq (json_array_size (json_object_get (problem, "errors")), 4);
    ck_assert_str_eq (s_field (problem, 0), "/events/1/user_id");
    ck_assert_str_eq (s_field (problem, 1), "/events/3/user_id");
    ck_assert_str_eq (s_field (problem, 2), "/events/3/description");
    ck_assert_str_eq (s_field (problem, 3), "/events/3/extra");
    json_decref (problem);
    testkit_response_free (&response);
    ck_assert_uint_eq (s_stored_at (0), 0);
    ck_assert_int_eq ((int) s_metric_at (0, "events_created_total"), 0);
}
END_TEST

//  1 to 1000 items: 1000 go in, 1001 and 0 are refused whole; the body
//  may be far over --max-body (16 KiB).
START_TEST (test_logger_batch_create_limits)
{
    json_t *ids = s_create (1000);
    json_decref (ids);
    char *body = s_create_body (1001);
    ck_assert_uint_gt (strlen (body), 16384);
    s_refused ("/events:batchCreate", body, 422, "/events");
    free (body);
    s_refused ("/events:batchCreate", "{\"events\":[]}", 422, "/events");
    ck_assert_uint_eq (s_stored_at (0), 1000);
    ck_assert_int_eq ((int) s_metric_at (0, "events_created_total"), 1000);
}
END_TEST

//  A batch of a bad shape is refused whole: 400 for what is not a JSON
//  object (or nests too deep), 422 for the wrong members or items.
START_TEST (test_logger_batch_create_shape)
{
    char deep [128] = "{\"events\":[";
    for (int level = 0; level < 20; level++)
        strcat (deep, "[");
    for (int level = 0; level < 20; level++)
        strcat (deep, "]");
    strcat (deep, "]}");
    const char *ok = "{\"user_id\":\"a\",\"description\":\"x\"}";
    char mixed [256];
    snprintf (mixed, sizeof mixed, "{\"events\":[%s,\"text\",%s]}", ok, ok);
    char unknown [256];
    snprintf (unknown, sizeof unknown, "{\"events\":[%s],\"more\":1}", ok);
    s_refused ("/events:batchCreate", "{\"events\":[", 400, NULL);
    s_refused ("/events:batchCreate", "[{\"events\":[]}]", 400, NULL);
    s_refused ("/events:batchCreate", deep, 400, NULL);
    s_refused ("/events:batchCreate", "{}", 422, "/events");
    s_refused ("/events:batchCreate", "{\"events\":{}}", 422, "/events");
    s_refused ("/events:batchCreate", mixed, 422, "/events/1");
    s_refused ("/events:batchCreate", unknown, 422, "/more");
    ck_assert_uint_eq (s_stored_at (0), 0);
}
END_TEST

//  Items apply on their own, results in request order: 200 with the
//  event, 404 for an unknown id, 422 with pointers for a bad item; a
//  re-queue to pending is applied as PATCH applies it.
START_TEST (test_logger_batch_update_mixed)
{
    json_t *ids = s_create (2);
    const char *first = json_string_value (json_array_get (ids, 0));
    const char *second = json_string_value (json_array_get (ids, 1));
    json_t *updates = json_pack ("[{s:s, s:s}, {s:s, s:s}, {s:s, s:s},"
                                 " {s:s, s:s}]",
                                 "event_id", first, "status", "processed",
                                 "event_id", S_UNKNOWN, "status", "processed",
                                 "event_id", second, "status", "Not Valid",
                                 "event_id", second, "status", "archived");
    char *body = s_text (json_pack ("{s:o}", "updates", updates));
    testkit_response_t response = s_post ("/events:batchUpdateStatus", body,
                                          S_AUTH);
    free (body);
    ck_assert_int_eq (response.code, 200);
    json_t *reply = s_json (&response);
    json_t *results = json_object_get (reply, "results");
    ck_assert_uint_eq (json_array_size (results), 4);
    const int codes [] = { 200, 404, 422, 200 };
    const char *event_ids [] = { first, S_UNKNOWN, second, second };
    for (size_t index = 0; index < 4; index++) {
        json_t *result = json_array_get (results, index);
        ck_assert_int_eq (json_integer_value (json_object_get (result, "code")),
                          codes [index]);
        ck_assert_str_eq (json_string_value (json_object_get (result,
                          "event_id")), event_ids [index]);
        json_t *problem = json_object_get (result, "problem");
        if (codes [index] == 200)
            ck_assert_ptr_null (problem);
        else
            ck_assert_int_eq (json_integer_value (json_object_get (problem,
                              "status")), codes [index]);
    }
    json_t *event = json_object_get (json_array_get (results, 0), "event");
    ck_assert_str_eq (json_string_value (json_object_get (event, "status")),
                      "processed");
    json_t *problem = json_object_get (json_array_get (results, 2), "problem");
    ck_assert_str_eq (s_field (problem, 0), "/updates/2/status");
    json_decref (reply);
    testkit_response_free (&response);
    char status [64];
    ck_assert_str_eq (s_status_of (first, status, sizeof status), "processed");
    ck_assert_str_eq (s_status_of (second, status, sizeof status), "archived");
    ck_assert_int_eq ((int) s_metric_at (0, "events_processed_total"), 1);

    //  Back to pending: the event is due again, as after PATCH
    body = s_text (json_pack ("{s:[{s:s, s:s}]}", "updates", "event_id",
                              second, "status", "pending"));
    response = s_post ("/events:batchUpdateStatus", body, S_AUTH);
    free (body);
    ck_assert_int_eq (response.code, 200);
    testkit_response_free (&response);
    ck_assert_str_eq (s_status_of (second, status, sizeof status), "pending");
    json_decref (ids);
}
END_TEST

//  A body of the wrong shape, or any item not an object, refuses the
//  whole request: nothing is applied, not even the good items.
START_TEST (test_logger_batch_update_whole_refused)
{
    json_t *ids = s_create (1);
    const char *id = json_string_value (json_array_get (ids, 0));
    char good [128], body [512];
    snprintf (good, sizeof good, "{\"event_id\":\"%s\",\"status\":\"processed\"}",
              id);
    snprintf (body, sizeof body, "{\"updates\":[%s,5]}", good);
    s_refused ("/events:batchUpdateStatus", body, 422, "/updates/1");
    snprintf (body, sizeof body, "{\"updates\":[%s],\"x\":0}", good);
    s_refused ("/events:batchUpdateStatus", body, 422, "/x");
    snprintf (body, sizeof body, "{\"updates\":[%s", good);
    s_refused ("/events:batchUpdateStatus", body, 400, NULL);
    snprintf (body, sizeof body, "[%s]", good);
    s_refused ("/events:batchUpdateStatus", body, 400, NULL);
    s_refused ("/events:batchUpdateStatus", "{\"updates\":[]}", 422, "/updates");
    s_refused ("/events:batchUpdateStatus", "{\"updates\":null}", 422, "/updates");
    s_refused ("/events:batchUpdateStatus", "{\"update\":[]}", 422, "/updates");
    //  1001 items, all good ones: still refused whole
    json_t *updates = json_array ();
    for (int index = 0; index < 1001; index++)
        json_array_append_new (updates, json_pack ("{s:s, s:s}", "event_id",
                               id, "status", "processed"));
    char *many = s_text (json_pack ("{s:o}", "updates", updates));
    s_refused ("/events:batchUpdateStatus", many, 422, "/updates");
    free (many);
    char status [64];
    ck_assert_str_eq (s_status_of (id, status, sizeof status), "pending");
    ck_assert_int_eq ((int) s_metric_at (0, "events_processed_total"), 0);
    json_decref (ids);
}
END_TEST

//  1000 reports in one request: every one applied, in order.
START_TEST (test_logger_batch_update_thousand)
{
    json_t *ids = s_create (1000);
    json_t *updates = json_array ();
    for (size_t index = 0; index < 1000; index++)
        json_array_append_new (updates, json_pack ("{s:O, s:s}", "event_id",
                               json_array_get (ids, index), "status",
                               "processed"));
    char *body = s_text (json_pack ("{s:o}", "updates", updates));
    testkit_response_t response = s_post ("/events:batchUpdateStatus", body,
                                          S_AUTH);
    free (body);
    ck_assert_int_eq (response.code, 200);
    json_t *reply = s_json (&response);
    json_t *results = json_object_get (reply, "results");
    ck_assert_uint_eq (json_array_size (results), 1000);
    for (size_t index = 0; index < 1000; index++) {
        json_t *result = json_array_get (results, index);
        ck_assert_int_eq (json_integer_value (json_object_get (result, "code")),
                          200);
        ck_assert (json_equal (json_object_get (result, "event_id"),
                               json_array_get (ids, index)));
    }
    json_decref (reply);
    testkit_response_free (&response);
    ck_assert_int_eq ((int) s_metric_at (0, "events_processed_total"), 1000);
    json_decref (ids);
}
END_TEST

//  batchUpdateStatus has PATCH's token rule: 401 without the token or
//  with another, and nothing applied; batchCreate, like POST, needs none.
START_TEST (test_logger_batch_update_token)
{
    json_t *ids = s_create (1);
    const char *id = json_string_value (json_array_get (ids, 0));
    char *body = s_text (json_pack ("{s:[{s:s, s:s}]}", "updates", "event_id",
                                    id, "status", "processed"));
    const char *refused [] = { NULL, "Authorization: Bearer wrong",
                               "Authorization: Basic " S_TOKEN };
    for (size_t index = 0; index < 3; index++) {
        testkit_response_t response = s_post ("/events:batchUpdateStatus",
                                              body, refused [index]);
        ck_assert_int_eq (response.code, 401);
        char value [128];
        ck_assert_int_eq (testkit_header (&response, "WWW-Authenticate", value,
                                          sizeof value), 0);
        testkit_response_free (&response);
    }
    char status [64];
    ck_assert_str_eq (s_status_of (id, status, sizeof status), "pending");
    testkit_response_t response = s_post ("/events:batchUpdateStatus", body,
                                          S_AUTH);
    ck_assert_int_eq (response.code, 200);
    testkit_response_free (&response);
    ck_assert_str_eq (s_status_of (id, status, sizeof status), "processed");
    free (body);
    json_decref (ids);
}
END_TEST

//  The colon routes are matched exactly: other methods 405 with Allow:
//  POST, other custom methods 404; the usual 415; Idempotency-Key on
//  batchCreate is refused rather than half honoured.
START_TEST (test_logger_batch_routing)
{
    const char *paths [] = { "/events:batchCreate", "/events:batchUpdateStatus" };
    const char *methods [] = { "GET", "PUT", "DELETE", "PATCH" };
    for (size_t path = 0; path < 2; path++)
        for (size_t method = 0; method < 4; method++) {
            testkit_response_t response = s_request_at (0, methods [method],
                paths [path], NULL, S_AUTH);
            ck_assert_int_eq (response.code, 405);
            char allow [64];
            ck_assert_int_eq (testkit_header (&response, "Allow", allow,
                                              sizeof allow), 0);
            ck_assert_str_eq (allow, "POST");
            testkit_response_free (&response);
        }
    const char *unknown [] = { "/events:batchDelete", "/events:",
                               "/events:batchcreate", "/events:batchCreate/x",
                               "/events:batchCreatex" };
    for (size_t index = 0; index < 5; index++) {
        testkit_response_t response = s_post (unknown [index], "{}", S_AUTH);
        ck_assert_msg (response.code == 404, "%s: %ld", unknown [index],
                       response.code);
        testkit_response_free (&response);
    }
    //  Not JSON: 415
    char url [256];
    snprintf (url, sizeof url, "%s/events:batchCreate",
              testkit_pipeline_base (s_pipeline));
    testkit_response_t response;
    testkit_http ("POST", url, "text/plain", "{}", 2, NULL, &response);
    ck_assert_int_eq (response.code, 415);
    testkit_response_free (&response);
    char *body = s_create_body (2);
    response = s_post ("/events:batchCreate", body, "Idempotency-Key: k1");
    ck_assert_int_eq (response.code, 400);
    json_t *problem = s_json (&response);
    ck_assert_str_eq (s_field (problem, 0), "Idempotency-Key");
    json_decref (problem);
    testkit_response_free (&response);
    free (body);
    ck_assert_uint_eq (s_stored_at (0), 0);
}
END_TEST

//  --max-batch-body bounds the batch routes: 413 over it, nothing stored.
START_TEST (test_logger_batch_body_limit)
{
    const char *const flags [] = { "--max-batch-body", "1024", NULL };
    ck_assert_int_gt (testkit_pipeline_start_logger_at (s_pipeline, 1, flags), 0);
    char *small = s_create_body (10);
    char *large = s_create_body (40);
    ck_assert_uint_le (strlen (small), 1024);
    ck_assert_uint_gt (strlen (large), 1024);
    testkit_response_t response = s_request_at (1, "POST", "/events:batchCreate",
                                                large, NULL);
    ck_assert_int_eq (response.code, 413);
    testkit_response_free (&response);
    response = s_request_at (1, "POST", "/events:batchUpdateStatus", large, NULL);
    ck_assert_int_eq (response.code, 413);
    testkit_response_free (&response);
    ck_assert_uint_eq (s_stored_at (1), 0);
    response = s_request_at (1, "POST", "/events:batchCreate", small, NULL);
    ck_assert_int_eq (response.code, 201);
    testkit_response_free (&response);
    ck_assert_uint_eq (s_stored_at (1), 10);
    free (small);
    free (large);
}
END_TEST

//  A store without room for the whole batch: 503 with Retry-After and
//  nothing stored; a batch that fits still goes in.
START_TEST (test_logger_batch_full_store)
{
    const char *const flags [] = { "--max-events", "5", NULL };
    ck_assert_int_gt (testkit_pipeline_start_logger_at (s_pipeline, 1, flags), 0);
    char *three = s_create_body (3);
    char *two = s_create_body (2);
    testkit_response_t response = s_request_at (1, "POST", "/events:batchCreate",
                                                three, NULL);
    ck_assert_int_eq (response.code, 201);
    testkit_response_free (&response);
    response = s_request_at (1, "POST", "/events:batchCreate", three, NULL);
    ck_assert_int_eq (response.code, 503);
    char retry [16];
    ck_assert_int_eq (testkit_header (&response, "Retry-After", retry,
                                      sizeof retry), 0);
    testkit_response_free (&response);
    ck_assert_uint_eq (s_stored_at (1), 3);
    ck_assert_int_eq ((int) s_metric_at (1, "events_created_total"), 3);
    response = s_request_at (1, "POST", "/events:batchCreate", two, NULL);
    ck_assert_int_eq (response.code, 201);
    testkit_response_free (&response);
    ck_assert_uint_eq (s_stored_at (1), 5);
    free (three);
    free (two);
}
END_TEST

//  Events of a batch reach the broker and a processor as single creates
//  do: a broker and a processor join, and every event ends processed,
//  printed once.
START_TEST (test_logger_batch_create_delivered)
{
    ck_assert_int_gt (testkit_pipeline_start_broker (s_pipeline), 0);
    const char *const flags [] = { "--status-token", S_TOKEN, NULL };
    ck_assert_int_gt (testkit_pipeline_start_processor (s_pipeline, 0, flags), 0);
    json_t *ids = s_create (50);
    size_t processed = 0;
    for (int tries = 0; tries < 300 && processed < 50; tries++) {
        testkit_response_t response = s_request_at (0, "GET",
            "/events?status=processed&limit=1000", NULL, NULL);
        json_t *page = s_json (&response);
        processed = json_array_size (json_object_get (page, "items"));
        json_decref (page);
        testkit_response_free (&response);
        if (processed < 50)
            usleep (100 * 1000);
    }
    ck_assert_uint_eq (processed, 50);
    //  Printed before reported: every line is there once processed says so
    ck_assert_int_eq (testkit_count_lines (testkit_pipeline_output (s_pipeline, 0)), 50);
    char status [64];
    for (size_t index = 0; index < 50; index++)
        ck_assert_str_eq (s_status_of (json_string_value (json_array_get (ids,
                          index)), status, sizeof status), "processed");
    json_decref (ids);
}
END_TEST

//  The database away: every valid item is answered 503 (the store is
//  unavailable), an invalid one still 422, each in its place.
START_TEST (test_logger_batch_update_store_away)
{
    json_t *ids = s_create (2);
    const char *first = json_string_value (json_array_get (ids, 0));
    const char *second = json_string_value (json_array_get (ids, 1));
    char *body = s_text (json_pack ("{s:[{s:s, s:s}, {s:s, s:s}, {s:s, s:s}]}",
                                    "updates",
                                    "event_id", first, "status", "processed",
                                    "event_id", second, "status", "Not Valid",
                                    "event_id", second, "status", "pending"));
    ck_assert_int_eq (testkit_pg_stop (s_pg), 0);
    testkit_response_t response = s_post ("/events:batchUpdateStatus", body,
                                          S_AUTH);
    free (body);
    //  The cluster back before any assertion, for the cases that follow
    ck_assert_int_eq (testkit_pg_start (s_pg), 0);
    ck_assert_int_eq (response.code, 200);
    json_t *reply = s_json (&response);
    json_t *results = json_object_get (reply, "results");
    ck_assert_uint_eq (json_array_size (results), 3);
    const int codes [] = { 503, 422, 503 };
    for (size_t index = 0; index < 3; index++) {
        json_t *result = json_array_get (results, index);
        ck_assert_int_eq (json_integer_value (json_object_get (result, "code")),
                          codes [index]);
        ck_assert_str_eq (json_string_value (json_object_get (result,
                          "event_id")), index? second: first);
        ck_assert_int_eq (json_integer_value (json_object_get (json_object_get (
            result, "problem"), "status")), codes [index]);
        ck_assert_ptr_null (json_object_get (result, "event"));
    }
    json_decref (reply);
    testkit_response_free (&response);
    json_decref (ids);
}
END_TEST

//  Add the cases for one store to the suite.
static void
s_add_store (Suite *suite, const char *name, void (*setup) (void),
             const TTest *const *tests)
{
    TCase *tcase = tcase_create (name);
    tcase_set_timeout (tcase, 120);
    tcase_add_checked_fixture (tcase, setup, s_teardown);
    for (const TTest *const *test = tests; *test; test++)
        tcase_add_test (tcase, *test);
    suite_add_tcase (suite, tcase);
}

int
main (void)
{
    s_pg = testkit_pg_new ();
    if (!s_pg)
        return EXIT_FAILURE;
    Suite *suite = suite_create ("logger_batch");
    const TTest *memory [] = {
        test_logger_batch_create_order,
        test_logger_batch_create_invalid,
        test_logger_batch_create_limits,
        test_logger_batch_create_shape,
        test_logger_batch_update_mixed,
        test_logger_batch_update_whole_refused,
        test_logger_batch_update_thousand,
        test_logger_batch_update_token,
        test_logger_batch_create_delivered,
        test_logger_batch_routing,
        test_logger_batch_body_limit,
        test_logger_batch_full_store,
        NULL
    };
    //  The database store: every create and update case; routing and
    //  limits are the HTTP layer's, the same whatever the store
    const TTest *postgresql [] = {
        test_logger_batch_create_order,
        test_logger_batch_create_invalid,
        test_logger_batch_create_limits,
        test_logger_batch_update_mixed,
        test_logger_batch_update_whole_refused,
        test_logger_batch_update_thousand,
        test_logger_batch_update_token,
        test_logger_batch_create_delivered,
        test_logger_batch_update_store_away,
        NULL
    };
    s_add_store (suite, "memory", s_setup_memory, memory);
    s_add_store (suite, "postgresql", s_setup_postgresql, postgresql);
    int rc = testkit_run (suite);
    testkit_pg_destroy (&s_pg);
    return rc;
}
