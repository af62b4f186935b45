/*  test_logger_http - every route and error code of the logger's HTTP API

    Starts the real event-logger binary on a free loopback port (with no
    broker listening, so events stay pending and readyz reports why) and
    checks each success and each error of api/openapi.yaml over real HTTP.
*/
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <jansson.h>
#include "testkit.h"

static testkit_pipeline_t *s_pipeline;     //  only its logger runs
static const char *s_token_header = "Authorization: Bearer s3cret";

//  Start a logger with these flags, with no broker listening.
static void
s_start_logger_with (const char *const flags [])
{
    s_pipeline = testkit_pipeline_new ();
    if (!s_pipeline || testkit_pipeline_start_logger (s_pipeline, flags) < 0) {
        fprintf (stderr, "event-logger did not start\n");
        exit (EXIT_FAILURE);
    }
}

//  Start a logger holding at most max_events, with no broker listening.
static void
s_start_logger (const char *max_events)
{
    const char *const flags [] = { "--status-token", "s3cret", "--max-events",
                                   max_events, "--log-level", "warn", NULL };
    s_start_logger_with (flags);
}

static void
s_setup (void)
{
    s_start_logger ("1000");
}

static void
s_setup_small (void)
{
    s_start_logger ("3");
}

static void
s_teardown (void)
{
    //  SIGTERM must make the logger exit 0, promptly (the pipeline says
    //  on stderr if it did not)
    testkit_pipeline_stop (s_pipeline);
    testkit_pipeline_destroy (&s_pipeline);
}

//  Make a request to a path on the logger.
static testkit_response_t
s_request (const char *method, const char *path, const char *type,
           const char *body, const char *header)
{
    char url [512];
    snprintf (url, sizeof url, "%s%s", testkit_pipeline_base (s_pipeline), path);
    testkit_response_t response;
    testkit_http (method, url, type, body, body? strlen (body): 0, header,
                  &response);
    return response;
}

//  Assert a response is a problem document with this status; returns the
//  parsed document (caller decrefs).
static json_t *
s_assert_problem (testkit_response_t *response, long code)
{
    ck_assert_int_eq (response->code, code);
    char type [128];
    ck_assert_int_eq (testkit_header (response, "Content-Type", type,
                                      sizeof type), 0);
    ck_assert_str_eq (type, "application/problem+json");
    json_t *problem = json_loads (response->body, 0, NULL);
    ck_assert_ptr_nonnull (problem);
    ck_assert (json_is_string (json_object_get (problem, "type")));
    ck_assert (json_is_string (json_object_get (problem, "title")));
    ck_assert (json_is_string (json_object_get (problem, "detail")));
    ck_assert_int_eq (json_integer_value (json_object_get (problem, "status")),
                      code);
    return problem;
}

//  Assert a problem with field errors, and that field is among them.
static void
s_assert_field_error (testkit_response_t *response, long code,
                      const char *field)
{
    json_t *problem = s_assert_problem (response, code);
    json_t *errors = json_object_get (problem, "errors");
    ck_assert (json_is_array (errors));
    int found = 0;
    size_t index;
    json_t *entry;
    json_array_foreach (errors, index, entry) {
        ck_assert (json_is_string (json_object_get (entry, "message")));
        if (strcmp (json_string_value (json_object_get (entry, "field")), field) == 0)
            found = 1;
    }
    ck_assert_msg (found, "no error for field %s in %s", field, response->body);
    json_decref (problem);
}

//  Post one event; returns its id in event_id (37 bytes).
static void
s_create (const char *user_id, const char *description, char *event_id)
{
    char body [512];
    snprintf (body, sizeof body, "{\"user_id\":\"%s\",\"description\":\"%s\"}",
              user_id, description);
    testkit_response_t response = s_request ("POST", "/events",
                                             "application/json", body, NULL);
    ck_assert_int_eq (response.code, 201);
    json_t *event = json_loads (response.body, 0, NULL);
    ck_assert_ptr_nonnull (event);
    snprintf (event_id, 37, "%s", json_string_value (json_object_get (event, "event_id")));
    json_decref (event);
    testkit_response_free (&response);
}

//  Assert the event at path (/events/{event_id}) is still there, pending:
//  what was refused changed nothing.
static void
s_assert_pending (const char *path)
{
    testkit_response_t response = s_request ("GET", path, NULL, NULL, NULL);
    ck_assert_int_eq (response.code, 200);
    ck_assert_ptr_nonnull (strstr (response.body, "\"status\":\"pending\""));
    testkit_response_free (&response);
}

START_TEST (test_logger_http_create_read_update)
{
    testkit_response_t response = s_request ("POST", "/events",
        "application/json", "{\"user_id\":\"u1\",\"description\":\"hi\"}", NULL);
    ck_assert_int_eq (response.code, 201);
    char type [128], location [128];
    ck_assert_int_eq (testkit_header (&response, "Content-Type", type, sizeof type), 0);
    ck_assert_str_eq (type, "application/json");
    ck_assert_int_eq (testkit_header (&response, "Location", location, sizeof location), 0);
    json_t *event = json_loads (response.body, 0, NULL);
    ck_assert_ptr_nonnull (event);
    const char *event_id = json_string_value (json_object_get (event, "event_id"));
    ck_assert_int_eq (strlen (event_id), 36);
    ck_assert_int_eq (event_id [14], '4');      //  a version 4 UUID
    char expected [128];
    snprintf (expected, sizeof expected, "/events/%s", event_id);
    ck_assert_str_eq (location, expected);
    ck_assert_str_eq (json_string_value (json_object_get (event, "user_id")), "u1");
    ck_assert_str_eq (json_string_value (json_object_get (event, "description")), "hi");
    ck_assert_str_eq (json_string_value (json_object_get (event, "status")), "pending");
    ck_assert_int_eq (json_integer_value (json_object_get (event, "attempts")), 0);
    const char *created = json_string_value (json_object_get (event, "created_at"));
    ck_assert_int_eq (strlen (created), 24);    //  2026-11-21T08:18:39.123Z
    ck_assert_int_eq (created [23], 'Z');
    ck_assert_int_eq (created [19], '.');
    testkit_response_free (&response);

    response = s_request ("GET", location, NULL, NULL, NULL);
    ck_assert_int_eq (response.code, 200);
    json_t *read = json_loads (response.body, 0, NULL);
    ck_assert (json_equal (read, event));
    json_decref (read);
    testkit_response_free (&response);

    //  The id is accepted in upper case too
    char upper [128];
    snprintf (upper, sizeof upper, "/events/%s", event_id);
    for (char *cursor = upper + 8; *cursor; cursor++)
        if (*cursor >= 'a' && *cursor <= 'f')
            *cursor = (char) (*cursor - 'a' + 'A');
    response = s_request ("GET", upper, NULL, NULL, NULL);
    ck_assert_int_eq (response.code, 200);
    testkit_response_free (&response);

    response = s_request ("PATCH", location, "application/json",
                          "{\"status\":\"processed\"}", s_token_header);
    ck_assert_int_eq (response.code, 200);
    json_t *updated = json_loads (response.body, 0, NULL);
    ck_assert_str_eq (json_string_value (json_object_get (updated, "status")), "processed");
    ck_assert_str_eq (json_string_value (json_object_get (updated, "event_id")), event_id);
    json_decref (updated);
    testkit_response_free (&response);

    //  Any other well-formed status is stored as given
    response = s_request ("PATCH", location, "application/json; charset=utf-8",
                          "{\"status\":\"archived.v2\"}", s_token_header);
    ck_assert_int_eq (response.code, 200);
    ck_assert_ptr_nonnull (strstr (response.body, "\"status\":\"archived.v2\""));
    testkit_response_free (&response);
    json_decref (event);
}
END_TEST

START_TEST (test_logger_http_create_bad_json)
{
    const char *bodies [] = {
        "{\"user_id\":\"u1\",", "not json", "", "[1,2]", "\"text\"", "42",
        "{\"user_id\":\"u1\",\"user_id\":\"u2\",\"description\":\"d\"}",
        "{\"user_id\":\"\xff\xfe\",\"description\":\"d\"}",
        "{\"user_id\":\"\\ud800\",\"description\":\"d\"}", NULL
    };
    for (const char **body = bodies; *body; body++) {
        testkit_response_t response = s_request ("POST", "/events",
            "application/json", *body, NULL);
        json_t *problem = s_assert_problem (&response, 400);
        json_decref (problem);
        testkit_response_free (&response);
    }
    //  A scalar is told what is wrong with it, not what jansson expected
    const char *scalars [] = { "42", "\"text\"", "null", "[1,2]", NULL };
    for (const char **body = scalars; *body; body++) {
        testkit_response_t response = s_request ("POST", "/events",
            "application/json", *body, NULL);
        json_t *problem = s_assert_problem (&response, 400);
        ck_assert_str_eq (json_string_value (json_object_get (problem, "detail")),
                          "body must be a JSON object");
        json_decref (problem);
        testkit_response_free (&response);
    }
}
END_TEST

//  Valid JSON that holds what a field may not is that field's 422, not a
//  malformed body: U+0000 inside a string, a number too large to hold.
START_TEST (test_logger_http_create_valid_json_field_errors)
{
    const char *bodies [][2] = {
        { "{\"user_id\":\"a\\u0000\",\"description\":\"b\"}", "user_id" },
        { "{\"user_id\":\"a\",\"description\":\"b\\u0000c\"}", "description" },
        { "{\"user_id\":1e999,\"description\":\"b\"}", "user_id" },
        { "{\"user_id\":\"a\",\"description\":-1e999}", "description" },
        { "{\"user_id\":99999999999999999999999,\"description\":\"b\"}", "user_id" },
        { NULL, NULL }
    };
    for (size_t index = 0; bodies [index][0]; index++) {
        testkit_response_t response = s_request ("POST", "/events",
            "application/json", bodies [index][0], NULL);
        s_assert_field_error (&response, 422, bodies [index][1]);
        testkit_response_free (&response);
    }
    char event_id [37], path [64];
    s_create ("u1", "to patch", event_id);
    snprintf (path, sizeof path, "/events/%s", event_id);
    testkit_response_t response = s_request ("PATCH", path, "application/json",
        "{\"status\":\"processed\\u0000\"}", s_token_header);
    s_assert_field_error (&response, 422, "status");
    testkit_response_free (&response);
}
END_TEST

//  Return a body of depth copies of open, then "1", then depth of close,
//  inside prefix and suffix (caller frees).
static char *
s_nested_body (const char *prefix, const char *open, const char *close,
               const char *suffix, int depth)
{
    size_t size = strlen (prefix) + strlen (suffix)
                + (size_t) depth * (strlen (open) + strlen (close)) + 2;
    char *body = malloc (size);
    strcpy (body, prefix);
    for (int level = 0; level < depth; level++)
        strcat (body, open);
    strcat (body, "1");
    for (int level = 0; level < depth; level++)
        strcat (body, close);
    strcat (body, suffix);
    return body;
}

//  One unauthenticated 1 KB body of '[' used to overflow a CivetWeb worker's
//  stack inside jansson and kill the logger with every event it held. Deep
//  nesting in any shape, on POST and on PATCH, is a 400 and the logger
//  keeps serving.
START_TEST (test_logger_http_deep_nesting)
{
    char event_id [37];
    s_create ("u1", "before the attack", event_id);
    char path [64];
    snprintf (path, sizeof path, "/events/%s", event_id);
    struct { const char *method, *path, *prefix, *open, *close, *suffix; } attacks [] = {
        { "POST", "/events", "", "[", "]", "" },
        { "POST", "/events", "", "{\"a\":", "}", "" },
        { "POST", "/events", "{\"user_id\":\"u\",\"description\":\"d\",\"x\":",
          "[", "]", "}" },
        { "PATCH", path, "", "[", "]", "" },
        { "PATCH", path, "{\"status\":\"processed\",\"x\":", "{\"a\":", "}", "}" },
    };
    for (size_t index = 0; index < sizeof attacks / sizeof attacks [0]; index++) {
        char *body = s_nested_body (attacks [index].prefix, attacks [index].open,
                                    attacks [index].close, attacks [index].suffix,
                                    2000);
        testkit_response_t response = s_request (attacks [index].method,
            attacks [index].path, "application/json", body, s_token_header);
        json_t *problem = s_assert_problem (&response, 400);
        ck_assert_ptr_nonnull (strstr (json_string_value (
            json_object_get (problem, "detail")), "levels deep"));
        json_decref (problem);
        testkit_response_free (&response);
        free (body);
    }
    //  Still up, still holding the event, still pending
    s_assert_pending (path);
}
END_TEST

START_TEST (test_logger_http_create_schema_errors)
{
    testkit_response_t response = s_request ("POST", "/events",
        "application/json", "{\"user_id\":\"\",\"description\":5,\"extra\":1}", NULL);
    s_assert_field_error (&response, 422, "user_id");
    s_assert_field_error (&response, 422, "description");
    s_assert_field_error (&response, 422, "extra");
    json_t *problem = json_loads (response.body, 0, NULL);
    ck_assert_int_eq (json_array_size (json_object_get (problem, "errors")), 3);
    json_decref (problem);
    testkit_response_free (&response);

    response = s_request ("POST", "/events", "application/json", "{}", NULL);
    s_assert_field_error (&response, 422, "user_id");
    s_assert_field_error (&response, 422, "description");
    testkit_response_free (&response);

    response = s_request ("POST", "/events", "application/json",
                          "{\"user_id\":null,\"description\":[\"x\"]}", NULL);
    s_assert_field_error (&response, 422, "user_id");
    s_assert_field_error (&response, 422, "description");
    testkit_response_free (&response);

    //  Limits: 256 and 4096 bytes pass, one more byte fails
    char *body = malloc (8192);
    char user [258], description [4098];
    memset (user, 'u', 257);
    user [257] = '\0';
    memset (description, 'd', 4096);
    description [4096] = '\0';
    snprintf (body, 8192, "{\"user_id\":\"%s\",\"description\":\"%s\"}",
              user + 1, description);
    response = s_request ("POST", "/events", "application/json", body, NULL);
    ck_assert_int_eq (response.code, 201);
    testkit_response_free (&response);
    description [4096] = 'd';
    description [4097] = '\0';
    snprintf (body, 8192, "{\"user_id\":\"%s\",\"description\":\"%s\"}",
              user, description);
    response = s_request ("POST", "/events", "application/json", body, NULL);
    s_assert_field_error (&response, 422, "user_id");
    s_assert_field_error (&response, 422, "description");
    testkit_response_free (&response);
    free (body);
}
END_TEST

START_TEST (test_logger_http_create_media_and_size)
{
    const char *body = "{\"user_id\":\"u1\",\"description\":\"hi\"}";
    testkit_response_t response = s_request ("POST", "/events", "text/plain",
                                             body, NULL);
    json_decref (s_assert_problem (&response, 415));
    testkit_response_free (&response);
    response = s_request ("POST", "/events", NULL, body, NULL);
    json_decref (s_assert_problem (&response, 415));
    testkit_response_free (&response);
    response = s_request ("POST", "/events", "application/jsonx", body, NULL);
    json_decref (s_assert_problem (&response, 415));
    testkit_response_free (&response);

    //  Over the default 16 KiB limit
    size_t size = 20000;
    char *large = malloc (size + 1);
    memset (large, ' ', size);
    large [size] = '\0';
    large [0] = '{';
    large [size - 1] = '}';
    response = s_request ("POST", "/events", "application/json", large, NULL);
    json_decref (s_assert_problem (&response, 413));
    testkit_response_free (&response);
    free (large);

    //  The server still answers afterwards
    response = s_request ("POST", "/events", "application/json", body, NULL);
    ck_assert_int_eq (response.code, 201);
    testkit_response_free (&response);
}
END_TEST

START_TEST (test_logger_http_read_errors)
{
    testkit_response_t response = s_request ("GET",
        "/events/7d444840-9dc0-41d8-a9c2-2f8e5c2ab6d1", NULL, NULL, NULL);
    json_decref (s_assert_problem (&response, 404));
    testkit_response_free (&response);
    const char *bad [] = {
        "/events/not-a-uuid", "/events/7d444840-9dc0-41d8-a9c2-2f8e5c2ab6d1x",
        "/events/7d444840x9dc0-41d8-a9c2-2f8e5c2ab6d1", NULL
    };
    for (const char **path = bad; *path; path++) {
        response = s_request ("GET", *path, NULL, NULL, NULL);
        json_decref (s_assert_problem (&response, 400));
        testkit_response_free (&response);
    }
    response = s_request ("GET", "/events/7d444840-9dc0-41d8-a9c2-2f8e5c2ab6d1/x",
                          NULL, NULL, NULL);
    json_decref (s_assert_problem (&response, 404));
    testkit_response_free (&response);
    response = s_request ("GET", "/nothing/here", NULL, NULL, NULL);
    json_decref (s_assert_problem (&response, 404));
    testkit_response_free (&response);
    response = s_request ("GET", "/eventsx", NULL, NULL, NULL);
    json_decref (s_assert_problem (&response, 404));
    testkit_response_free (&response);
}
END_TEST

START_TEST (test_logger_http_update_errors)
{
    char event_id [37], path [64];
    s_create ("u1", "to patch", event_id);
    snprintf (path, sizeof path, "/events/%s", event_id);
    const char *body = "{\"status\":\"processed\"}";

    testkit_response_t response = s_request ("PATCH", path, "application/json",
                                             body, NULL);
    json_decref (s_assert_problem (&response, 401));
    char value [128];
    ck_assert_int_eq (testkit_header (&response, "WWW-Authenticate", value,
                                      sizeof value), 0);
    testkit_response_free (&response);
    response = s_request ("PATCH", path, "application/json", body,
                          "Authorization: Bearer wrong");
    json_decref (s_assert_problem (&response, 401));
    testkit_response_free (&response);
    response = s_request ("PATCH", path, "application/json", body,
                          "Authorization: Bearer s3cretx");
    json_decref (s_assert_problem (&response, 401));
    testkit_response_free (&response);
    const char *refused [] = { "Authorization: Bearers3cret",
        "Authorization: Bearer s3cret x", "Authorization: Basic s3cret",
        "Authorization: s3cret", NULL };
    for (const char **header = refused; *header; header++) {
        response = s_request ("PATCH", path, "application/json", body, *header);
        json_decref (s_assert_problem (&response, 401));
        testkit_response_free (&response);
    }
    //  The scheme is case-insensitive (RFC 9110 section 11.1); any number of
    //  spaces may follow it
    const char *accepted [] = { "Authorization: bearer s3cret",
        "Authorization: BEARER   s3cret", NULL };
    for (const char **header = accepted; *header; header++) {
        response = s_request ("PATCH", path, "application/json",
                              "{\"status\":\"pending\"}", *header);
        ck_assert_msg (response.code == 200, "%s: %ld", *header, response.code);
        testkit_response_free (&response);
    }

    response = s_request ("PATCH", "/events/7d444840-9dc0-41d8-a9c2-2f8e5c2ab6d1",
                          "application/json", body, s_token_header);
    json_decref (s_assert_problem (&response, 404));
    testkit_response_free (&response);
    response = s_request ("PATCH", "/events/nope", "application/json", body,
                          s_token_header);
    json_decref (s_assert_problem (&response, 400));
    testkit_response_free (&response);
    response = s_request ("PATCH", path, "text/plain", body, s_token_header);
    json_decref (s_assert_problem (&response, 415));
    testkit_response_free (&response);
    response = s_request ("PATCH", path, "application/json", "{\"status\":",
                          s_token_header);
    json_decref (s_assert_problem (&response, 400));
    testkit_response_free (&response);
    const char *invalid [] = {
        "{\"status\":\"Processed\"}", "{\"status\":\"\"}", "{\"status\":1}",
        "{\"status\":\"a b\"}", "{}", "{\"status\":\"ok\",\"user_id\":\"x\"}",
        "{\"status\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
        NULL
    };
    const char *fields [] = {
        "status", "status", "status", "status", "status", "user_id", "status"
    };
    for (int index = 0; invalid [index]; index++) {
        response = s_request ("PATCH", path, "application/json", invalid [index],
                              s_token_header);
        s_assert_field_error (&response, 422, fields [index]);
        testkit_response_free (&response);
    }
    //  None of that changed the event
    s_assert_pending (path);
}
END_TEST

START_TEST (test_logger_http_methods)
{
    struct { const char *method, *path, *allow; } cases [] = {
        { "DELETE", "/events", "GET, POST" },
        { "PUT", "/events", "GET, POST" },
        { "POST", "/events/7d444840-9dc0-41d8-a9c2-2f8e5c2ab6d1", "GET, PATCH" },
        { "DELETE", "/events/7d444840-9dc0-41d8-a9c2-2f8e5c2ab6d1", "GET, PATCH" },
        { "POST", "/healthz", "GET" },
        { "DELETE", "/metrics", "GET" },
        { "PUT", "/openapi.yaml", "GET" },
        //  HEAD is not in the spec, so it is not served
        { "HEAD", "/healthz", "GET" },
        { "HEAD", "/events", "GET, POST" },
        { "HEAD", "/docs", "GET" },
        { NULL, NULL, NULL }
    };
    for (int index = 0; cases [index].method; index++) {
        testkit_response_t response = s_request (cases [index].method,
            cases [index].path, NULL, NULL, NULL);
        //  A HEAD response has the headers of the problem, not its body
        if (strcmp (cases [index].method, "HEAD") == 0)
            ck_assert_int_eq (response.code, 405);
        else
            json_decref (s_assert_problem (&response, 405));
        char allow [64];
        ck_assert_int_eq (testkit_header (&response, "Allow", allow, sizeof allow), 0);
        ck_assert_str_eq (allow, cases [index].allow);
        testkit_response_free (&response);
    }
}
END_TEST

START_TEST (test_logger_http_list)
{
    char ids [5][37];
    s_create ("alice", "one", ids [0]);
    s_create ("bob", "two", ids [1]);
    s_create ("alice", "three", ids [2]);
    s_create ("alice", "four", ids [3]);
    s_create ("carol", "five", ids [4]);
    char path [256];
    snprintf (path, sizeof path, "/events/%s", ids [3]);
    testkit_response_t response = s_request ("PATCH", path, "application/json",
        "{\"status\":\"processed\"}", s_token_header);
    ck_assert_int_eq (response.code, 200);
    testkit_response_free (&response);

    //  Page through alice's events two at a time, oldest first
    char after [64] = "";
    int seen = 0;
    for (int page = 0; page < 3; page++) {
        snprintf (path, sizeof path, "/events?user_id=alice&limit=2%s%s",
                  *after? "&after=": "", after);
        response = s_request ("GET", path, NULL, NULL, NULL);
        ck_assert_int_eq (response.code, 200);
        json_t *body = json_loads (response.body, 0, NULL);
        json_t *items = json_object_get (body, "items");
        ck_assert (json_is_array (items));
        size_t index;
        json_t *item;
        json_array_foreach (items, index, item) {
            const int expected [] = { 0, 2, 3 };
            ck_assert_int_lt (seen, 3);
            ck_assert_str_eq (json_string_value (json_object_get (item, "event_id")),
                              ids [expected [seen++]]);
        }
        json_t *next = json_object_get (body, "next");
        if (json_is_null (next)) {
            json_decref (body);
            testkit_response_free (&response);
            break;
        }
        snprintf (after, sizeof after, "%s", json_string_value (next));
        json_decref (body);
        testkit_response_free (&response);
    }
    ck_assert_int_eq (seen, 3);

    response = s_request ("GET", "/events?status=processed", NULL, NULL, NULL);
    ck_assert_int_eq (response.code, 200);
    json_t *body = json_loads (response.body, 0, NULL);
    ck_assert_int_eq (json_array_size (json_object_get (body, "items")), 1);
    ck_assert (json_is_null (json_object_get (body, "next")));
    json_decref (body);
    testkit_response_free (&response);

    //  limit is plain digits: no blank, sign, leading zero or newline; a
    //  parameter given twice is refused rather than one of them guessed;
    //  user_id follows the body's rule, UTF-8 (a lone byte, a bad sequence)
    const char *bad [] = { "limit=0", "limit=1001", "limit=abc", "status=NO",
                           "after=zzz", "after=7d444840-9dc0-41d8-a9c2-2f8e5c2ab6d1",
                           "limit=%205", "limit=%2B5", "limit=05", "limit=%0A5",
                           "limit=5%20", "limit=+5", "limit", "limit=1&limit=2",
                           "status=pending&status=queued", "user_id=a&user_id=a",
                           "after=7d444840-9dc0-41d8-a9c2-2f8e5c2ab6d1%20",
                           "user_id=%FF", "user_id=a%C3%28", "user_id=%ED%A0%80", NULL };
    const char *fields [] = { "limit", "limit", "limit", "status", "after", "after",
                              "limit", "limit", "limit", "limit", "limit", "limit",
                              "limit", "limit", "status", "user_id", "after",
                              "user_id", "user_id", "user_id" };
    for (int index = 0; bad [index]; index++) {
        snprintf (path, sizeof path, "/events?%s", bad [index]);
        response = s_request ("GET", path, NULL, NULL, NULL);
        s_assert_field_error (&response, 422, fields [index]);
        testkit_response_free (&response);
    }
}
END_TEST

//  Send a raw request to the logger and read until it closes the
//  connection, which it must (caller frees).
static char *
s_raw (const char *request)
{
    char *response = testkit_raw (testkit_pipeline_http_port (s_pipeline),
                                  request, strlen (request));
    ck_assert_msg (response != NULL, "no response, or the connection stayed"
                   " open, for %.60s", request);
    return response;
}

//  Assert a raw response is exactly one response, with this status line,
//  that ends the connection.
static void
s_assert_raw (const char *response, const char *status_line)
{
    ck_assert_msg (strncmp (response, status_line, strlen (status_line)) == 0,
                   "expected %s in %s", status_line, response);
    ck_assert_ptr_nonnull (strstr (response, "\r\nConnection: close\r\n"));
    ck_assert_ptr_null (strstr (response + 1, "HTTP/1.1 "));
}

//  Count the events of a user (at most 1000).
static size_t
s_count_events (const char *user_id)
{
    char path [128];
    snprintf (path, sizeof path, "/events?limit=1000&user_id=%s", user_id);
    testkit_response_t response = s_request ("GET", path, NULL, NULL, NULL);
    ck_assert_int_eq (response.code, 200);
    json_t *page = json_loads (response.body, 0, NULL);
    size_t count = json_array_size (json_object_get (page, "items"));
    json_decref (page);
    testkit_response_free (&response);
    return count;
}

//  A body framed in a way a proxy in front could read differently from
//  the server (two Content-Lengths, "33abc", "+33", Transfer-Encoding
//  beside Content-Length) could smuggle a second request past the proxy:
//  each is refused with 400, the connection closes, nothing is created.
START_TEST (test_logger_http_framing)
{
    static const char body [] = "{\"user_id\":\"smuggler\",\"description\":\"d\"}";
    size_t size = sizeof body - 1;
    char framings [9][96];
    snprintf (framings [0], 96, "Content-Length: %zu\r\nContent-Length: %zu", size, size);
    snprintf (framings [1], 96, "Content-Length: %zu\r\nContent-Length: %zu", size, size + 1);
    snprintf (framings [2], 96, "Content-Length: %zuabc", size);
    snprintf (framings [3], 96, "Content-Length: +%zu", size);
    snprintf (framings [4], 96, "Transfer-Encoding: chunked\r\nContent-Length: %zu", size);
    snprintf (framings [5], 96, "Content-Length: %zu\r\nTransfer-Encoding: chunked", size);
    snprintf (framings [6], 96, "Content-Length: %zu, %zu", size, size);
    snprintf (framings [7], 96, "Content-Length: -%zu", size);
    snprintf (framings [8], 96, "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked");
    for (size_t index = 0; index < sizeof framings / sizeof framings [0]; index++) {
        char request [1024];
        snprintf (request, sizeof request, "POST /events HTTP/1.1\r\nHost: x\r\n"
                  "Content-Type: application/json\r\n%s\r\n\r\n%s",
                  framings [index], body);
        char *response = s_raw (request);
        s_assert_raw (response, "HTTP/1.1 400 Bad Request\r\n");
        ck_assert_ptr_nonnull (strstr (response, "application/problem+json"));
        free (response);
    }
    ck_assert_uint_eq (s_count_events ("smuggler"), 0);
    //  One plain Content-Length, blanks after it allowed, still works
    char request [512];
    snprintf (request, sizeof request, "POST /events HTTP/1.1\r\nHost: x\r\n"
              "Content-Type: application/json\r\nContent-Length: %zu \r\n"
              "Connection: close\r\n\r\n%s", size, body);
    char *response = s_raw (request);
    s_assert_raw (response, "HTTP/1.1 201 Created\r\n");
    free (response);
    ck_assert_uint_eq (s_count_events ("smuggler"), 1);
}
END_TEST

//  A decoded NUL (%00) never cuts a path or a query value short into a
//  shorter one that matches: the path is unknown (404), the query is
//  malformed (400), and nothing is read, changed or created.
START_TEST (test_logger_http_encoded_nul)
{
    char event_id [37], path [128];
    s_create ("nul-owner", "kept as it is", event_id);
    snprintf (path, sizeof path, "/events/%s%%00garbage", event_id);
    testkit_response_t response = s_request ("GET", path, NULL, NULL, NULL);
    json_decref (s_assert_problem (&response, 404));
    testkit_response_free (&response);
    snprintf (path, sizeof path, "/events/%s%%00zz", event_id);
    response = s_request ("PATCH", path, "application/json",
                          "{\"status\":\"processed\"}", s_token_header);
    json_decref (s_assert_problem (&response, 404));
    testkit_response_free (&response);
    const char *paths [] = { "/events/%00", "/healthz%00junk", "/events%00",
                             "/docs/%00index.html", NULL };
    for (const char **cursor = paths; *cursor; cursor++) {
        response = s_request ("GET", *cursor, NULL, NULL, NULL);
        json_decref (s_assert_problem (&response, 404));
        testkit_response_free (&response);
    }
    response = s_request ("POST", "/events/%00", "application/json",
        "{\"user_id\":\"nul-poster\",\"description\":\"d\"}", NULL);
    json_decref (s_assert_problem (&response, 404));
    testkit_response_free (&response);
    const char *queries [] = { "/events?status=processed%00XYZ",
                               "/events?user_id=nul-owner%00x", "/events?limit=5%00",
                               "/events?x=%00", NULL };
    for (const char **cursor = queries; *cursor; cursor++) {
        response = s_request ("GET", *cursor, NULL, NULL, NULL);
        json_t *problem = s_assert_problem (&response, 400);
        ck_assert_ptr_nonnull (strstr (json_string_value (json_object_get (problem,
                               "detail")), "%00"));
        json_decref (problem);
        testkit_response_free (&response);
    }
    ck_assert_uint_eq (s_count_events ("nul-poster"), 0);
    snprintf (path, sizeof path, "/events/%s", event_id);
    s_assert_pending (path);
}
END_TEST

//  One resource, one path: no merged slashes, no resolved dot segments,
//  nothing below an event; an unknown path is 404 whatever the method
//  (no 405, no 401 first). A method CivetWeb does not know (TRACE) gets
//  405 with Allow like any other, and the connection ends cleanly.
START_TEST (test_logger_http_strict_routing)
{
    char event_id [37];
    s_create ("router", "routed", event_id);
    const char *templates [] = {
        "GET /events/ HTTP/1.1", "GET //events HTTP/1.1",
        "GET /events/../events HTTP/1.1", "GET /./events HTTP/1.1",
        "GET /events/%s/ HTTP/1.1", "GET /events//%s HTTP/1.1",
        "POST /events/%s/x HTTP/1.1", "DELETE /events/%s/x HTTP/1.1",
        "PATCH /events/%s/x HTTP/1.1", "GET /events/%s/x HTTP/1.1",
        "GET /healthz/ HTTP/1.1", "GET /docs// HTTP/1.1",
        "TRACE /nowhere HTTP/1.1", NULL
    };
    for (const char **cursor = templates; *cursor; cursor++) {
        char line [256], request [512];
        snprintf (line, sizeof line, *cursor, event_id);
        snprintf (request, sizeof request, "%s\r\nHost: x\r\nContent-Type:"
                  " application/json\r\nContent-Length: 2\r\nConnection:"
                  " close\r\n\r\n{}", line);
        char *response = s_raw (request);
        ck_assert_msg (strncmp (response, "HTTP/1.1 404 ", 13) == 0,
                       "%s: %s", line, response);
        free (response);
    }
    //  TRACE (unknown to CivetWeb) on a real path: 405 and Allow, and the
    //  connection is closed with a word, not in silence
    const char *traced [][2] = { { "/events", "Allow: GET, POST\r\n" },
                                 { "/healthz", "Allow: GET\r\n" } };
    for (size_t index = 0; index < 2; index++) {
        char request [256];
        snprintf (request, sizeof request, "TRACE %s HTTP/1.1\r\nHost: x\r\n\r\n",
                  traced [index][0]);
        char *response = s_raw (request);
        s_assert_raw (response, "HTTP/1.1 405 Method Not Allowed\r\n");
        ck_assert_ptr_nonnull (strstr (response, traced [index][1]));
        free (response);
    }
    //  None of that touched the event
    char path [64];
    snprintf (path, sizeof path, "/events/%s", event_id);
    s_assert_pending (path);
}
END_TEST

//  Targets CivetWeb does not route get an answer, not a silent close:
//  "OPTIONS *" (how some load balancers ping) says what the server
//  allows; "*" with another method is malformed; a target naming another
//  server is misdirected. An absolute target naming this one is served.
START_TEST (test_logger_http_request_targets)
{
    char *response = s_raw ("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n");
    s_assert_raw (response, "HTTP/1.1 200 OK\r\n");
    ck_assert_ptr_nonnull (strstr (response, "\r\nAllow: GET, POST, PATCH\r\n"));
    ck_assert_ptr_nonnull (strstr (response, "\r\nContent-Length: 0\r\n"));
    free (response);
    response = s_raw ("GET * HTTP/1.1\r\nHost: x\r\n\r\n");
    s_assert_raw (response, "HTTP/1.1 400 Bad Request\r\n");
    free (response);
    response = s_raw ("GET http://127.0.0.1:1/healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    s_assert_raw (response, "HTTP/1.1 421 Misdirected Request\r\n");
    free (response);
    char request [256];
    snprintf (request, sizeof request, "GET http://127.0.0.1:%d/healthz HTTP/1.1\r\n"
              "Host: x\r\nConnection: close\r\n\r\n",
              testkit_pipeline_http_port (s_pipeline));
    response = s_raw (request);
    s_assert_raw (response, "HTTP/1.1 200 OK\r\n");
    free (response);
}
END_TEST

//  Read the values of the named samples (name includes labels and a
//  trailing space) from /metrics; absent samples read as 0.
static void
s_read_metrics (const char **names, double *values)
{
    testkit_response_t response = s_request ("GET", "/metrics", NULL, NULL, NULL);
    ck_assert_int_eq (response.code, 200);
    for (int index = 0; names [index]; index++) {
        //  Match at the start of a line, not inside a # HELP line
        char pattern [256];
        snprintf (pattern, sizeof pattern, "\n%s", names [index]);
        const char *found = strstr (response.body, pattern);
        values [index] = found? atof (found + strlen (pattern)): 0;
    }
    testkit_response_free (&response);
}

START_TEST (test_logger_http_operations)
{
    testkit_response_t response = s_request ("GET", "/healthz", NULL, NULL, NULL);
    ck_assert_int_eq (response.code, 200);
    ck_assert_str_eq (response.body, "{\"status\":\"ok\"}");
    testkit_response_free (&response);

    //  No broker listens, so the logger is alive but not ready
    response = s_request ("GET", "/readyz", NULL, NULL, NULL);
    json_t *problem = s_assert_problem (&response, 503);
    ck_assert_ptr_nonnull (strstr (json_string_value (
        json_object_get (problem, "detail")), "broker"));
    json_decref (problem);
    testkit_response_free (&response);

    //  Counters move by exactly what one create does
    const char *names [] = {
        "events_created_total ", "events_in_store{status=\"pending\"} ",
        "http_requests_total{method=\"POST\",route=\"/events\",code=\"201\"} ",
        "http_request_duration_seconds_count{route=\"/events\"} ", NULL
    };
    double before [4], after [4];
    s_read_metrics (names, before);
    char event_id [37];
    s_create ("u1", "counted", event_id);
    //  A request is counted just after its response is written, so the
    //  scrape may come first: give the counters a moment (bounded)
    for (int tries = 0; tries < 100; tries++) {
        s_read_metrics (names, after);
        int settled = 1;
        for (int index = 0; names [index]; index++)
            settled &= after [index] >= before [index] + 1;
        if (settled)
            break;
        usleep (10 * 1000);
    }
    for (int index = 0; names [index]; index++)
        ck_assert_msg (after [index] == before [index] + 1, "%s went from %g"
                       " to %g", names [index], before [index], after [index]);
    response = s_request ("GET", "/metrics", NULL, NULL, NULL);
    const char *present [] = {
        "# TYPE events_processed_total counter", "events_failed_total ",
        "events_redelivered_total ", "broker_connected 0",
        "http_request_duration_seconds_bucket{route=\"/events\",le=\"+Inf\"} ",
        NULL
    };
    for (const char **name = present; *name; name++)
        ck_assert_msg (strstr (response.body, *name), "metrics lack %s", *name);
    testkit_response_free (&response);

    response = s_request ("GET", "/openapi.yaml", NULL, NULL, NULL);
    ck_assert_int_eq (response.code, 200);
    ck_assert_ptr_nonnull (strstr (response.body, "openapi: 3.1"));
    ck_assert_ptr_nonnull (strstr (response.body, "/events/{event_id}"));
    testkit_response_free (&response);

    //  The Swagger UI page, or a problem saying it is not installed
    response = s_request ("GET", "/docs", NULL, NULL, NULL);
    ck_assert (response.code == 200 || response.code == 503);
    if (response.code == 200)
        ck_assert_ptr_nonnull (strstr (response.body, "swagger-ui-bundle.js"));
    testkit_response_free (&response);
    response = s_request ("GET", "/docs/../CMakeLists.txt", NULL, NULL, NULL);
    ck_assert_int_ne (response.code, 200);
    testkit_response_free (&response);
}
END_TEST

START_TEST (test_logger_http_store_full)
{
    //  --max-events 3: three unprocessed events fill it
    char ids [3][37];
    for (int index = 0; index < 3; index++)
        s_create ("u1", "filler", ids [index]);
    testkit_response_t response = s_request ("POST", "/events", "application/json",
        "{\"user_id\":\"u1\",\"description\":\"one too many\"}", NULL);
    json_decref (s_assert_problem (&response, 503));
    char retry [16];
    ck_assert_int_eq (testkit_header (&response, "Retry-After", retry, sizeof retry), 0);
    ck_assert_int_gt (atoi (retry), 0);
    testkit_response_free (&response);

    //  Once one is processed it can be evicted to make room; the others stay
    char path [64];
    snprintf (path, sizeof path, "/events/%s", ids [1]);
    response = s_request ("PATCH", path, "application/json",
                          "{\"status\":\"processed\"}", s_token_header);
    ck_assert_int_eq (response.code, 200);
    testkit_response_free (&response);
    char fresh [37];
    s_create ("u1", "fits now", fresh);
    response = s_request ("GET", path, NULL, NULL, NULL);
    ck_assert_int_eq (response.code, 404);
    testkit_response_free (&response);
    snprintf (path, sizeof path, "/events/%s", ids [0]);
    response = s_request ("GET", path, NULL, NULL, NULL);
    ck_assert_int_eq (response.code, 200);
    testkit_response_free (&response);
}
END_TEST


//  A folder of docs files made for the docs cases: a page, a file larger
//  than the 8 MiB the logger once read files into (and cut), a folder
#define S_DOCS_BIG_SIZE (9 * 1024 * 1024 + 7)
#define S_DOCS_PAGE     "<!doctype html><title>docs</title>swagger-ui-bundle.js"
static char *s_docs_dir;

//  Make the docs folder; with_page false leaves out index.html.
static void
s_docs_make (bool with_page)
{
    s_docs_dir = testkit_tmpdir ();
    char path [512];
    if (with_page) {
        snprintf (path, sizeof path, "%s/index.html", s_docs_dir);
        FILE *file = fopen (path, "w");
        fputs (S_DOCS_PAGE, file);
        fclose (file);
    }
    snprintf (path, sizeof path, "%s/big.js", s_docs_dir);
    FILE *file = fopen (path, "w");
    for (long index = 0; index < S_DOCS_BIG_SIZE; index++)
        fputc ('a' + (int) (index % 26), file);
    fclose (file);
    snprintf (path, sizeof path, "%s/folder", s_docs_dir);
    mkdir (path, 0700);
    const char *const flags [] = { "--docs-dir", s_docs_dir, "--log-level",
                                   "info", NULL };
    s_start_logger_with (flags);
}

static void
s_setup_docs (void)
{
    s_docs_make (true);
}

static void
s_setup_no_docs (void)
{
    s_docs_make (false);
}

static void
s_teardown_docs (void)
{
    s_teardown ();
    const char *names [] = { "index.html", "big.js" };
    char path [512];
    for (size_t index = 0; index < sizeof names / sizeof names [0]; index++) {
        snprintf (path, sizeof path, "%s/%s", s_docs_dir, names [index]);
        unlink (path);
    }
    snprintf (path, sizeof path, "%s/folder", s_docs_dir);
    rmdir (path);
    rmdir (s_docs_dir);
    free (s_docs_dir);
    s_docs_dir = NULL;
}

//  Return the path of the logger's log (static buffer).
static const char *
s_logger_log (void)
{
    static char path [512];
    snprintf (path, sizeof path, "%s/logger.log", testkit_pipeline_dir (s_pipeline));
    return path;
}

//  /docs serves the page and files whole, whatever their size; a folder
//  or a missing file is 404; the log says where the docs are.
START_TEST (test_logger_http_docs)
{
    const char *pages [] = { "/docs", "/docs/", "/docs/index.html" };
    for (size_t index = 0; index < sizeof pages / sizeof pages [0]; index++) {
        testkit_response_t response = s_request ("GET", pages [index], NULL,
                                                 NULL, NULL);
        ck_assert_msg (response.code == 200, "%s gave %ld", pages [index],
                       response.code);
        ck_assert_str_eq (response.body, S_DOCS_PAGE);
        char type [128];
        ck_assert_int_eq (testkit_header (&response, "Content-Type", type,
                                          sizeof type), 0);
        ck_assert_str_eq (type, "text/html; charset=utf-8");
        testkit_response_free (&response);
    }
    testkit_response_t response = s_request ("GET", "/docs/big.js", NULL, NULL, NULL);
    ck_assert_int_eq (response.code, 200);
    ck_assert_uint_eq (response.size, S_DOCS_BIG_SIZE);
    for (long index = 0; index < S_DOCS_BIG_SIZE; index += 4099)
        ck_assert_int_eq (response.body [index], 'a' + (int) (index % 26));
    ck_assert_int_eq (response.body [S_DOCS_BIG_SIZE - 1],
                      'a' + (int) ((S_DOCS_BIG_SIZE - 1) % 26));
    testkit_response_free (&response);
    const char *missing [] = { "/docs/folder", "/docs/folder/", "/docs/none.js",
                               "/docs/.hidden", "/docs/../CMakeLists.txt" };
    for (size_t index = 0; index < sizeof missing / sizeof missing [0]; index++) {
        response = s_request ("GET", missing [index], NULL, NULL, NULL);
        json_decref (s_assert_problem (&response, 404));
        testkit_response_free (&response);
    }
    response = s_request ("POST", "/docs", "application/json", "{}", NULL);
    json_decref (s_assert_problem (&response, 405));
    testkit_response_free (&response);
    ck_assert_int_eq (testkit_wait_text (s_logger_log (), "API docs at /docs", 5000), 0);
}
END_TEST

//  Without Swagger UI in the folder /docs says how to get it, and so
//  does the log at start: it does not claim docs are there.
START_TEST (test_logger_http_docs_missing)
{
    testkit_response_t response = s_request ("GET", "/docs", NULL, NULL, NULL);
    json_t *problem = s_assert_problem (&response, 503);
    ck_assert_ptr_nonnull (strstr (json_string_value (json_object_get (problem,
                                   "detail")), "npm ci"));
    json_decref (problem);
    testkit_response_free (&response);
    ck_assert_int_eq (testkit_wait_text (s_logger_log (), "/docs is unavailable",
                                         5000), 0);
    ck_assert_int_eq (testkit_wait_text (s_logger_log (), "npm ci", 0), 0);
    ck_assert_int_eq (testkit_wait_text (s_logger_log (), "API docs at", 0), -1);
}
END_TEST

//  Start the logger with flags; wait for its log to say text; return its
//  exit status (it is stopped if it still runs).
static int
s_start_fails (const char *const flags [], const char *text)
{
    char *dir = testkit_tmpdir ();
    char log [512];
    snprintf (log, sizeof log, "%s/logger.log", dir);
    char *argv [16];
    size_t count = 0;
    argv [count++] = strdup (testkit_bin ("event-logger"));
    for (size_t index = 0; flags [index] && count < 15; index++)
        argv [count++] = (char *) flags [index];
    argv [count] = NULL;
    pid_t pid = testkit_spawn (argv, NULL, log);
    ck_assert_int_gt (pid, 0);
    int found = testkit_wait_text (log, text, 10000);
    int status = testkit_stop (pid, 5000);
    ck_assert_msg (found == 0, "the log lacks '%s'", text);
    unlink (log);
    rmdir (dir);
    free (dir);
    free (argv [0]);
    return status;
}

//  A part that cannot start ends the logger with 1 and a line saying
//  which part and why.
START_TEST (test_logger_http_start_failures)
{
    char port [16];
    snprintf (port, sizeof port, "%d", testkit_free_port ());
    const char *const bad_broker [] = { "--host", "127.0.0.1", "--port", port,
                                        "--broker", "nonsense", NULL };
    ck_assert_int_eq (s_start_fails (bad_broker, "dispatcher cannot start:"
                                     " cannot connect to broker nonsense"), 1);
    //  The port is taken by a logger already serving
    const char *const flags [] = { "--log-level", "warn", NULL };
    s_start_logger_with (flags);
    snprintf (port, sizeof port, "%d", testkit_pipeline_http_port (s_pipeline));
    const char *const busy [] = { "--host", "127.0.0.1", "--port", port, NULL };
    ck_assert_int_eq (s_start_fails (busy, "cannot serve HTTP on 127.0.0.1"), 1);
    s_teardown ();
}
END_TEST

//  Add a case of one test, with a fixture when setup is not NULL.
static void
s_add_case (Suite *suite, const char *name, SFun setup, SFun teardown,
            const TTest *test)
{
    TCase *tcase = tcase_create (name);
    if (setup)
        tcase_add_unchecked_fixture (tcase, setup, teardown);
    tcase_set_timeout (tcase, 60);
    tcase_add_test (tcase, test);
    suite_add_tcase (suite, tcase);
}

int
main (void)
{
    Suite *suite = suite_create ("logger_http");
    TCase *api = tcase_create ("api");
    tcase_add_unchecked_fixture (api, s_setup, s_teardown);
    tcase_set_timeout (api, 30);
    tcase_add_test (api, test_logger_http_create_read_update);
    tcase_add_test (api, test_logger_http_create_bad_json);
    tcase_add_test (api, test_logger_http_create_valid_json_field_errors);
    tcase_add_test (api, test_logger_http_deep_nesting);
    tcase_add_test (api, test_logger_http_create_schema_errors);
    tcase_add_test (api, test_logger_http_create_media_and_size);
    tcase_add_test (api, test_logger_http_read_errors);
    tcase_add_test (api, test_logger_http_update_errors);
    tcase_add_test (api, test_logger_http_methods);
    tcase_add_test (api, test_logger_http_list);
    tcase_add_test (api, test_logger_http_operations);
    tcase_add_test (api, test_logger_http_framing);
    tcase_add_test (api, test_logger_http_encoded_nul);
    tcase_add_test (api, test_logger_http_strict_routing);
    tcase_add_test (api, test_logger_http_request_targets);
    suite_add_tcase (suite, api);
    s_add_case (suite, "full", s_setup_small, s_teardown, test_logger_http_store_full);
    s_add_case (suite, "docs", s_setup_docs, s_teardown_docs, test_logger_http_docs);
    s_add_case (suite, "no_docs", s_setup_no_docs, s_teardown_docs,
                test_logger_http_docs_missing);
    s_add_case (suite, "start", NULL, NULL, test_logger_http_start_failures);
    return testkit_run (suite);
}
