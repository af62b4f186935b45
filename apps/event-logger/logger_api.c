/*  logger_api - the event-logger's REST API: its routes and handlers

    One route per resource on the shared HTTP layer (enp_http), with the
    API object as the handler's argument; a handler dispatches on the
    method to a static function per operation that returns the HTTP status
    it sent. How responses are written, errors shaped as problem
    documents, bodies read and connections kept is enp_http's business;
    what each request costs is counted by logger_metrics, which the HTTP
    layer tells of every response.

    Handlers run on many threads at once and never touch ZeroMQ: a new
    event goes into the store, and the dispatcher is woken to send it.
*/
#include <assert.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <civetweb.h>
#include <jansson.h>
#include "logger_api.h"
#include "enp_event.h"
#include "enp_http.h"
#include "enp_json.h"
#include "enp_log.h"

#define S_LIST_LIMIT_DEFAULT 100
#define S_LIST_LIMIT_MAX     1000
//  A listing page holds at most this much JSON: 1,000 events of 2,700
//  control characters each would be 16 MB per request otherwise
#define S_LIST_BYTES_MAX     (512 * 1024)
#define S_LIMIT_DIGITS_MAX   4      //  digits of the largest limit, 1000
#define S_PATH_MAX           1024   //  bytes of a file path under docs_dir
#define S_RETRY_AFTER_S      1      //  what a 503 asks clients to wait
#define S_BEARER             "Bearer"   //  the auth scheme, any case
#define S_BEARER_LEN         (sizeof S_BEARER - 1)

//  The path of the events, of one event (with its id after it), of the docs
#define S_EVENTS             "/events"
#define S_EVENTS_PREFIX      "/events/"
#define S_EVENTS_PREFIX_LEN  (sizeof S_EVENTS_PREFIX - 1)
#define S_DOCS               "/docs"
#define S_DOCS_PREFIX        "/docs/"
#define S_DOCS_PREFIX_LEN    (sizeof S_DOCS_PREFIX - 1)
#define S_DOCS_INDEX         "index.html"
//  The custom methods on the collection (AIP-136's colon form)
#define S_BATCH_CREATE       "/events:batchCreate"
#define S_BATCH_UPDATE       "/events:batchUpdateStatus"
#define S_BATCH_MAX          1000   //  items one batch request holds

//  The OpenAPI document, embedded at build time (cmake/embed.cmake)
extern const unsigned char logger_openapi_yaml [];
extern const size_t logger_openapi_yaml_size;

struct _logger_api_t {
    enp_http_t *http;               //  the server
    logger_store_t *store;          //  borrowed
    logger_dispatcher_t *dispatcher;    //  borrowed
    logger_metrics_t *metrics;      //  borrowed
    size_t max_body;                //  request body limit
    size_t max_batch_body;          //  the batch routes' body limit
    char *token;                    //  PATCH's bearer token, or NULL: no auth
    char *docs_dir;                 //  Swagger UI files
};

//  What a 401 asks for
static const char s_authenticate [] = "Bearer realm=\"event-logger\"";

//  Send one event as the JSON body (the direct encoder, not jansson's:
//  every read and every worker's report answers with one).
static int
s_send_event (struct mg_connection *conn, int code, const enp_event_t *event)
{
    size_t size = 0;
    char *json = enp_event_encode (event, &size);
    if (!json)
        return enp_http_problem (conn, 500, "out of memory", NULL, NULL);
    enp_http_response_t response = { .code = code, .body = json, .size = size,
                                     .content_type = "application/json" };
    enp_http_send (conn, &response);
    free (json);
    return code;
}

//  Send a JSON value (consumed) with the given status.
static int
s_send_json (struct mg_connection *conn, int code, json_t *value)
{
    char *text = value? json_dumps (value, JSON_COMPACT | JSON_PRESERVE_ORDER)
                      : NULL;
    json_decref (value);
    if (!text)
        return enp_http_problem (conn, 500, "out of memory", NULL, NULL);
    enp_http_response_t response = { .code = code, .body = text,
                                     .size = strlen (text),
                                     .content_type = "application/json" };
    enp_http_send (conn, &response);
    free (text);
    return code;
}

//  Return what a store failure tells the client: an unavailable store
//  says so, whatever the operation; else the operation's own detail.
static const char *
s_store_detail (enp_status_t status, const char *detail)
{
    return status == ENP_EIO
        ? "the event store is unavailable (its database is unreachable"
          " or slow); retry later": detail;
}

//  Answer for a store failure, using the one status mapping.
static int
s_store_problem (struct mg_connection *conn, enp_status_t status,
                 const char *detail)
{
    int code = logger_api_http_status (status);
    enp_http_response_t extra = { .retry_after = code == 503? S_RETRY_AFTER_S: 0 };
    return enp_http_problem (conn, code, s_store_detail (status, detail), NULL,
                             &extra);
}

//  True when an Idempotency-Key is 1-255 visible ASCII characters.
static int
s_key_valid (const char *key)
{
    size_t length = strlen (key);
    if (length < 1 || length > LOGGER_STORE_KEY_MAX)
        return 0;
    for (const char *c = key; *c; c++)
        if (*c < '!' || *c > '~')
            return 0;
    return 1;
}

//  Answer a decode failure: 400 or 422 with field errors.
static int
s_decode_problem (struct mg_connection *conn, enp_status_t status,
                  json_t *errors, const char *detail)
{
    return enp_http_problem (conn, logger_api_http_status (status), detail,
                             json_incref (errors), NULL);
}

//  POST /events: validate, record, hand to the dispatcher, answer 201.
static int
s_create (logger_api_t *self, struct mg_connection *conn,
          const struct mg_request_info *request)
{
    (void) request;
    //  An Idempotency-Key makes a retried create safe: the same key and
    //  body give back the first event
    const char *key = mg_get_header (conn, "Idempotency-Key");
    if (key && !s_key_valid (key))
        return enp_http_problem (conn, 400, "invalid Idempotency-Key header",
            json_pack ("[{s:s, s:s}]", "field", "Idempotency-Key", "message",
                       "must be 1-255 visible ASCII characters"), NULL);
    char *body = NULL;
    size_t size = 0;
    int sent = enp_http_read_json (conn, self->max_body, &body, &size);
    if (sent)
        return sent;
    enp_event_t *event = NULL;
    char detail [256];
    enp_status_t status = enp_event_decode_create (body, size, &event, NULL,
                                                   detail, sizeof detail);
    if (status != ENP_OK) {
        //  Decode again to collect the field errors: only bad input pays
        json_t *errors = json_array ();
        enp_event_decode_create (body, size, &event, errors, NULL, 0);
        free (body);
        int code = s_decode_problem (conn, status, errors, detail);
        json_decref (errors);
        return code;
    }
    free (body);
    //  Encode before the store takes the event; it may change at once
    size_t json_size = 0;
    char *json = enp_event_encode (event, &json_size);
    char location [S_EVENTS_PREFIX_LEN + ENP_UUID_LEN + 1] = S_EVENTS_PREFIX;
    memcpy (location + S_EVENTS_PREFIX_LEN, enp_event_id (event), ENP_UUID_LEN + 1);
    enp_event_t *replay = NULL;
    status = json? logger_store_insert (self->store, &event, key, &replay)
                 : ENP_ENOMEM;
    enp_event_destroy (&event);     //  Still ours only if not stored
    if (status == ENP_EINVAL && key) {
        free (json);
        return enp_http_problem (conn, 422, "this Idempotency-Key was used with"
            " a different body", json_pack ("[{s:s, s:s}]", "field",
            "Idempotency-Key", "message", "already used with a different"
            " user_id or description"), NULL);
    }
    if (status != ENP_OK) {
        free (json);
        return s_store_problem (conn, status, status == ENP_EFULL
            ? "the event store is full of unprocessed events; retry later"
            : "could not record the event");
    }
    if (replay) {
        //  A retry: the first event, as it is now
        free (json);
        json = enp_event_encode (replay, &json_size);
        memcpy (location + S_EVENTS_PREFIX_LEN, enp_event_id (replay),
                ENP_UUID_LEN + 1);
        enp_event_destroy (&replay);
        if (!json)
            return enp_http_problem (conn, 500, "out of memory", NULL, NULL);
    }
    logger_dispatcher_wake (self->dispatcher);
    enp_log_event_debug (location + S_EVENTS_PREFIX_LEN, "created");
    enp_http_response_t response = { .code = 201, .body = json,
        .size = json_size, .content_type = "application/json",
        .location = location };
    int code = enp_http_send (conn, &response);
    free (json);
    return code;
}

//  The query parameters of GET /events, in the order s_list_params names
//  them. Any other parameter is ignored.
typedef enum { S_LIMIT, S_STATUS, S_USER_ID, S_AFTER, S_PARAMS } s_param_t;
static const char *const s_list_params [S_PARAMS] = {
    "limit", "status", "user_id", "after"
};

//  Add {"field", "message"} to errors.
static void
s_param_error (json_t *errors, s_param_t param, const char *message)
{
    json_array_append_new (errors, json_pack ("{s:s, s:s}", "field",
                           s_list_params [param], "message", message));
}

//  Split the query string (names exact, values decoded, '+' a space) into
//  the listing's parameters, borrowed from *copy_p (caller frees). A
//  parameter given twice is an error: which one was meant is a guess.
//  Returns 0, or -1 when out of memory.
static int
s_split_query (const char *query_string, char **copy_p,
               const char *values [S_PARAMS], json_t *errors)
{
    *copy_p = NULL;
    if (!query_string || !*query_string)
        return 0;
    char *copy = strdup (query_string);
    int count = copy? mg_split_form_urlencoded (copy, NULL, 0): -1;
    struct mg_header *fields = count > 0
        ? (struct mg_header *) calloc ((size_t) count, sizeof *fields): NULL;
    if (!fields) {
        free (copy);
        return -1;
    }
    count = mg_split_form_urlencoded (copy, fields, (unsigned) count);
    bool repeated [S_PARAMS] = { false };
    for (int index = 0; index < count; index++)
        for (s_param_t param = 0; param < S_PARAMS; param++) {
            if (strcmp (fields [index].name, s_list_params [param]) != 0)
                continue;
            if (values [param] && !repeated [param]) {
                s_param_error (errors, param, "must be given at most once");
                repeated [param] = true;
            }
            values [param] = fields [index].value? fields [index].value: "";
        }
    free (fields);
    *copy_p = copy;
    return 0;
}

//  True when text is a whole number from 1 to S_LIST_LIMIT_MAX in plain
//  decimal digits: no sign, blank or leading zero ("05" is not a limit).
static bool
s_valid_limit (const char *text, size_t *limit)
{
    size_t length = strlen (text);
    if (length == 0 || length > S_LIMIT_DIGITS_MAX || text [0] == '0'
    ||  strspn (text, "0123456789") != length)
        return false;
    *limit = (size_t) strtoul (text, NULL, 10);
    return *limit <= S_LIST_LIMIT_MAX;
}

//  Parse the listing parameters; append errors for bad ones. Returns 0, or
//  -1 when out of memory.
static int
s_parse_query (const struct mg_request_info *request, logger_store_query_t *query,
               char *status, char *user_id, char *after, json_t *errors)
{
    const char *values [S_PARAMS] = { NULL };
    char *copy = NULL;
    if (s_split_query (request->query_string, &copy, values, errors))
        return -1;
    query->limit = S_LIST_LIMIT_DEFAULT;
    if (values [S_LIMIT] && !s_valid_limit (values [S_LIMIT], &query->limit))
        s_param_error (errors, S_LIMIT, "must be a whole number from 1 to 1000,"
                       " in plain digits");
    const char *value = values [S_STATUS];
    if (value && enp_event_status_valid (value))
        query->status = strcpy (status, value);
    else
    if (value)
        s_param_error (errors, S_STATUS, "must be 1-64 characters of a-z, 0-9,"
                       " _ . -");
    value = values [S_USER_ID];
    //  The rule of the field itself: events never hold any other user_id
    if (value && enp_event_text_valid (value, strlen (value), ENP_USER_ID_MAX))
        query->user_id = strcpy (user_id, value);
    else
    if (value)
        s_param_error (errors, S_USER_ID, "must be 1-256 bytes of UTF-8");
    value = values [S_AFTER];
    if (value && enp_event_id_canonical (value, after) == 0)
        query->after = after;
    else
    if (value)
        s_param_error (errors, S_AFTER, "must be the cursor (an event_id) from"
                       " 'next'");
    free (copy);
    return 0;
}

//  GET /events: a page of events, oldest first, with a cursor.
static int
s_list (logger_api_t *self, struct mg_connection *conn,
        const struct mg_request_info *request)
{
    logger_store_query_t query = { 0 };
    char status [ENP_STATUS_MAX + 1], user_id [ENP_USER_ID_MAX + 1];
    char after [ENP_UUID_LEN + 1], next [ENP_UUID_LEN + 1];
    json_t *errors = json_array ();
    if (!errors || s_parse_query (request, &query, status, user_id, after, errors)) {
        json_decref (errors);
        return enp_http_problem (conn, 500, "out of memory", NULL, NULL);
    }
    if (json_array_size (errors) > 0)
        return enp_http_problem (conn, 422, "invalid query parameters", errors, NULL);
    json_decref (errors);
    query.max_bytes = S_LIST_BYTES_MAX;
    enp_event_t **items = (enp_event_t **) calloc (query.limit,
                                                   sizeof (enp_event_t *));
    if (!items)
        return enp_http_problem (conn, 500, "out of memory", NULL, NULL);
    size_t count = 0;
    enp_status_t rc = logger_store_list (self->store, &query, items, &count, next);
    size_t size = 0;
    char *page = rc == ENP_OK
               ? enp_event_encode_list (items, count, "items", next, &size): NULL;
    for (size_t index = 0; index < count; index++)
        enp_event_destroy (&items [index]);
    free (items);
    if (rc == ENP_ENOTFOUND) {
        errors = json_pack ("[{s:s, s:s}]", "field", "after", "message",
                            "no event has this id (it may have been evicted)");
        return enp_http_problem (conn, 422, "unknown cursor", errors, NULL);
    }
    if (rc != ENP_OK || !page) {
        free (page);
        return s_store_problem (conn, rc == ENP_OK? ENP_ENOMEM: rc,
                                "could not list events");
    }
    enp_http_response_t response = { .code = 200, .body = page, .size = size,
                                     .content_type = "application/json" };
    int code = enp_http_send (conn, &response);
    free (page);
    return code;
}

//  True when the request carries the configured bearer token:
//  "Authorization: Bearer <token>", the scheme in any case (RFC 9110
//  section 11.1), one or more spaces after it. Compares in constant time
//  so the token cannot be guessed byte by byte.
static int
s_authorized (logger_api_t *self, struct mg_connection *conn)
{
    if (!self->token)
        return 1;
    const char *given = mg_get_header (conn, "Authorization");
    if (!given || strncasecmp (given, S_BEARER, S_BEARER_LEN) != 0
    ||  given [S_BEARER_LEN] != ' ')
        return 0;
    given += S_BEARER_LEN + strspn (given + S_BEARER_LEN, " ");
    size_t length = strlen (given);
    while (length > 0 && (given [length - 1] == ' ' || given [length - 1] == '\t'))
        length--;
    size_t expected = strlen (self->token);
    unsigned char diff = length != expected;
    for (size_t index = 0; index < expected; index++)
        diff |= (unsigned char) (self->token [index]
                                 ^ (index < length? given [index]: 0));
    return diff == 0;
}

//  Take the id from /events/{event_id} (the router sends nothing deeper
//  here). Returns 0 with the canonical id, or 400 (sent) for a bad UUID.
static int
s_event_id (struct mg_connection *conn, char *event_id)
{
    const char *text = enp_http_path (conn) + S_EVENTS_PREFIX_LEN;
    if (enp_event_id_canonical (text, event_id))
        return enp_http_problem (conn, 400, "event_id must be a UUID", NULL, NULL);
    return 0;
}

//  GET /events/{event_id}
static int
s_read (logger_api_t *self, struct mg_connection *conn)
{
    char event_id [ENP_UUID_LEN + 1];
    int sent = s_event_id (conn, event_id);
    if (sent)
        return sent;
    enp_event_t *event = NULL;
    enp_status_t status = logger_store_get (self->store, event_id, &event);
    if (status != ENP_OK)
        return s_store_problem (conn, status, "no event has this id");
    int code = s_send_event (conn, 200, event);
    enp_event_destroy (&event);
    return code;
}

//  Answer 401 unless the request carries the status token (when one is
//  set): the rule of every route that changes a status. Returns 0 when
//  it may go on, else the status sent.
static int
s_require_token (logger_api_t *self, struct mg_connection *conn)
{
    if (s_authorized (self, conn))
        return 0;
    enp_http_response_t extra = { .authenticate = s_authenticate };
    return enp_http_problem (conn, 401, "a valid 'Authorization: Bearer"
                             " <token>' header is required", NULL, &extra);
}

//  Note a status the store applied. Returns true when the event was
//  queued again: the dispatcher has work.
static bool
s_status_applied (const char *event_id, const char *status)
{
    enp_log_event_debug (event_id, "status set to %s", status);
    return strcmp (status, ENP_STATUS_PENDING) == 0;
}

//  PATCH /events/{event_id} {"status"}
static int
s_update (logger_api_t *self, struct mg_connection *conn)
{
    int sent = s_require_token (self, conn);
    if (sent)
        return sent;
    char event_id [ENP_UUID_LEN + 1];
    sent = s_event_id (conn, event_id);
    char *body = NULL;
    size_t size = 0;
    if (!sent)
        sent = enp_http_read_json (conn, self->max_body, &body, &size);
    if (sent)
        return sent;
    char status [ENP_STATUS_MAX + 1];
    char detail [256];
    enp_status_t rc = enp_event_decode_status (body, size, status, NULL,
                                               detail, sizeof detail);
    if (rc != ENP_OK) {
        json_t *errors = json_array ();
        enp_event_decode_status (body, size, status, errors, NULL, 0);
        free (body);
        int code = s_decode_problem (conn, rc, errors, detail);
        json_decref (errors);
        return code;
    }
    free (body);
    enp_event_t *event = NULL;
    rc = logger_store_set_status (self->store, event_id, status, &event);
    if (rc != ENP_OK)
        return s_store_problem (conn, rc, "no event has this id");
    if (s_status_applied (event_id, status))
        logger_dispatcher_wake (self->dispatcher);
    int code = s_send_event (conn, 200, event);
    enp_event_destroy (&event);
    return code;
}

//  ---------------------------------------------------------------------
//  The batch routes: many events in one request, each checked by the same
//  rules as the single create and PATCH (enp_event), errors located by
//  JSON pointer into the request document.

//  Append {"field": base/token, "message"} to errors.
static void
s_pointer_error (json_t *errors, const char *base, const char *token,
                 const char *message)
{
    char *pointer = enp_json_pointer (base, token);
    if (pointer)
        json_array_append_new (errors, json_pack ("{s:s, s:s}", "field",
                               pointer, "message", message));
    free (pointer);
}

//  Check a batch document: an object whose one member, name, is an array
//  of 1 to S_BATCH_MAX objects. Appends an error for each way it is not.
static void
s_batch_check (json_t *root, const char *name, json_t *errors)
{
    json_t *items = json_object_get (root, name);
    const char *message = NULL;
    if (!items)
        message = "is required";
    else
    if (!json_is_array (items))
        message = "must be an array";
    else
    if (json_array_size (items) < 1 || json_array_size (items) > S_BATCH_MAX)
        message = "must hold 1 to 1000 items";
    if (message)
        s_pointer_error (errors, "", name, message);
    const char *key;
    json_t *value;
    json_object_foreach (root, key, value)
        if (strcmp (key, name) != 0)
            s_pointer_error (errors, "", key, "is not a known field");
    for (size_t index = 0; !message && index < json_array_size (items); index++)
        if (!json_is_object (json_array_get (items, index))) {
            char where [32], token [24];
            snprintf (where, sizeof where, "/%s", name);
            snprintf (token, sizeof token, "%zu", index);
            s_pointer_error (errors, where, token, "must be an object");
        }
}

//  Read a batch request's body (at most max_batch_body bytes) and check
//  its shape. Returns 0 with the document in *root_p (caller frees) and
//  its array in *items_p (borrowed), or the status of the problem sent:
//  400 for what is not a JSON object, 422 for a wrong shape. Either way
//  nothing is applied.
static int
s_batch_read (logger_api_t *self, struct mg_connection *conn,
              const char *name, json_t **root_p, json_t **items_p)
{
    char *body = NULL;
    size_t size = 0;
    int sent = enp_http_read_json (conn, self->max_batch_body, &body, &size);
    if (sent)
        return sent;
    char detail [256] = "";
    json_t *root = enp_json_load (body, size, JSON_REJECT_DUPLICATES
                                  | JSON_DECODE_ANY | JSON_ALLOW_NUL,
                                  detail, sizeof detail);
    free (body);
    if (root && !json_is_object (root)) {
        json_decref (root);
        return enp_http_problem (conn, 400, "body must be a JSON object",
                                 NULL, NULL);
    }
    if (!root)
        return enp_http_problem (conn, 400, detail, NULL, NULL);
    json_t *errors = json_array ();
    if (!errors) {
        json_decref (root);
        return enp_http_problem (conn, 500, "out of memory", NULL, NULL);
    }
    s_batch_check (root, name, errors);
    if (json_array_size (errors) > 0) {
        json_decref (root);
        return enp_http_problem (conn, 422, "the batch is not valid; nothing"
                                 " was applied", errors, NULL);
    }
    json_decref (errors);
    *root_p = root;
    *items_p = json_object_get (root, name);
    return 0;
}

//  Decode every item of a batch create into events (count slots), with
//  every field error in errors. Returns ENP_OK, ENP_EINVAL when an item
//  is invalid (*invalid_p says how many), or ENP_ENOMEM.
static enp_status_t
s_batch_events (json_t *items, enp_event_t **events, json_t *errors,
                size_t *invalid_p)
{
    enp_status_t status = ENP_OK;
    *invalid_p = 0;
    for (size_t index = 0; index < json_array_size (items); index++) {
        char pointer [32];
        snprintf (pointer, sizeof pointer, "/events/%zu", index);
        enp_status_t rc = enp_event_create_from_json (json_array_get (items,
            index), pointer, &events [index], errors, NULL, 0);
        if (rc == ENP_EINVAL)
            (*invalid_p)++;
        else
        if (rc != ENP_OK)
            status = rc;
    }
    return status == ENP_OK && *invalid_p? ENP_EINVAL: status;
}

//  Destroy count events (empty slots allowed) and their array.
static void
s_events_destroy (enp_event_t **events, size_t count)
{
    for (size_t index = 0; events && index < count; index++)
        enp_event_destroy (&events [index]);
    free (events);
}

//  POST /events:batchCreate {"events":[{"user_id","description"},...]}:
//  all or nothing; 201 with the events in request order.
static int
s_batch_create (void *arg, struct mg_connection *conn,
                const struct mg_request_info *request)
{
    (void) request;
    logger_api_t *self = (logger_api_t *) arg;
    //  A key names one event; what a key for a batch would replay is
    //  left to a later version rather than guessed now
    if (mg_get_header (conn, "Idempotency-Key"))
        return enp_http_problem (conn, 400, "Idempotency-Key is not supported"
            " on :batchCreate; send single creates to retry safely by key",
            json_pack ("[{s:s, s:s}]", "field", "Idempotency-Key", "message",
                       "is not supported on this route"), NULL);
    json_t *root = NULL, *items = NULL;
    int sent = s_batch_read (self, conn, "events", &root, &items);
    if (sent)
        return sent;
    size_t count = json_array_size (items), invalid = 0;
    enp_event_t **events = (enp_event_t **) calloc (count, sizeof (enp_event_t *));
    json_t *errors = json_array ();
    enp_status_t status = events && errors
        ? s_batch_events (items, events, errors, &invalid): ENP_ENOMEM;
    json_decref (root);
    if (status == ENP_EINVAL) {
        s_events_destroy (events, count);
        char detail [128];
        snprintf (detail, sizeof detail, "%zu of %zu events are not valid;"
                  " none was stored", invalid, count);
        return enp_http_problem (conn, 422, detail, errors, NULL);
    }
    json_decref (errors);
    //  Encode before the store takes the events; they may change at once
    size_t size = 0;
    char *page = status == ENP_OK
        ? enp_event_encode_list (events, count, "events", NULL, &size): NULL;
    if (page)
        status = logger_store_insert_many (self->store, events, count);
    s_events_destroy (events, count);   //  Those the store did not take
    if (!page || status != ENP_OK) {
        free (page);
        return s_store_problem (conn, page? status: ENP_ENOMEM,
            status == ENP_EFULL
            ? "the event store has no room for this batch of unprocessed"
              " events; none was stored, retry later"
            : "could not record the events");
    }
    logger_dispatcher_wake (self->dispatcher);
    enp_log_debug ("created %zu events in one batch", count);
    enp_http_response_t response = { .code = 201, .body = page, .size = size,
                                     .content_type = "application/json" };
    int code = enp_http_send (conn, &response);
    free (page);
    return code;
}

//  Write the event_id member of a result: the id in canonical form when
//  it is a UUID, else as the item gave it (any string), else null.
static void
s_result_id (FILE *out, json_t *item, const char *event_id)
{
    if (*event_id) {
        fprintf (out, "\"event_id\":\"%s\"", event_id);
        return;
    }
    json_t *given = json_object_get (item, "event_id");
    char *text = json_is_string (given)
        ? json_dumps (given, JSON_ENCODE_ANY | JSON_COMPACT): NULL;
    fprintf (out, "\"event_id\":%s", text? text: "null");
    free (text);
}

//  Write one item's result: {"event_id","code":200,"event"} or
//  {"event_id","code","problem"}.
static void
s_result (FILE *out, json_t *item, const char *event_id, int code,
          const enp_event_t *event, json_t *problem)
{
    fputc ('{', out);
    s_result_id (out, item, event_id);
    fprintf (out, ",\"code\":%d,", code);
    if (event) {
        char *json = enp_event_encode (event, NULL);
        fprintf (out, "\"event\":%s}", json? json: "null");
        free (json);
        return;
    }
    char *text = problem? json_dumps (problem, JSON_COMPACT
                                      | JSON_PRESERVE_ORDER): NULL;
    fprintf (out, "\"problem\":%s}", text? text: "null");
    free (text);
}

//  One item of a status batch on its way: decoded, then applied.
typedef struct {
    char event_id [ENP_UUID_LEN + 1];   //  canonical, or "" when invalid
    char status [ENP_STATUS_MAX + 1];
    char detail [128];          //  why the item is invalid
    json_t *errors;             //  its field errors when invalid, owned
    enp_status_t rc;            //  ENP_EINVAL, or what the store said
    enp_event_t *event;         //  the updated event on ENP_OK, owned
} s_update_item_t;

//  Decode item index of a status batch as PATCH decodes its body; a valid
//  one is left ENP_OK, for the store to apply.
static void
s_update_decode (json_t *item, size_t index, s_update_item_t *update)
{
    char pointer [32];
    snprintf (pointer, sizeof pointer, "/updates/%zu", index);
    update->errors = json_array ();
    update->rc = enp_event_update_from_json (item, pointer, update->event_id,
                                             update->status, update->errors,
                                             update->detail,
                                             sizeof update->detail);
    if (update->rc != ENP_EINVAL) {
        json_decref (update->errors);
        update->errors = NULL;
    }
}

//  Apply the valid items of a status batch with one call to the store,
//  so a database engine commits them together. Returns true when one was
//  queued again (the dispatcher has work).
static bool
s_update_apply (logger_api_t *self, s_update_item_t *updates, size_t count)
{
    logger_store_update_t *valid = (logger_store_update_t *) calloc (count,
        sizeof (logger_store_update_t));
    size_t *slots = (size_t *) calloc (count, sizeof (size_t));
    size_t taken = 0;
    for (size_t index = 0; index < count; index++)
        if (updates [index].rc == ENP_OK) {
            if (!valid || !slots) {
                updates [index].rc = ENP_ENOMEM;
                continue;
            }
            valid [taken].event_id = updates [index].event_id;
            valid [taken].status = updates [index].status;
            slots [taken++] = index;
        }
    if (taken)
        logger_store_set_status_many (self->store, valid, taken);
    bool wake = false;
    for (size_t index = 0; index < taken; index++) {
        s_update_item_t *update = &updates [slots [index]];
        update->rc = valid [index].result;
        update->event = valid [index].event;
        if (update->rc == ENP_OK)
            wake |= s_status_applied (update->event_id, update->status);
    }
    free (slots);
    free (valid);
    return wake;
}

//  Write one item's result, as PATCH would answer it. The problem takes
//  the item's errors.
static void
s_update_result (FILE *out, json_t *item, s_update_item_t *update)
{
    int code = logger_api_http_status (update->rc);
    json_t *problem = update->rc == ENP_OK? NULL: enp_http_problem_new (code,
        update->rc == ENP_EINVAL? update->detail
                                : s_store_detail (update->rc,
                                                  "no event has this id"),
        update->errors);
    if (update->rc != ENP_OK)
        update->errors = NULL;
    s_result (out, item, update->event_id, code, update->event, problem);
    json_decref (problem);
}

//  Write the results of a status batch in request order. Returns 0, or
//  -1 when out of memory.
static int
s_update_results (json_t *items, s_update_item_t *updates,
                  char **text_p, size_t *size_p)
{
    FILE *out = open_memstream (text_p, size_p);
    if (!out)
        return -1;
    fputs ("{\"results\":[", out);
    for (size_t index = 0; index < json_array_size (items); index++) {
        if (index)
            fputc (',', out);
        s_update_result (out, json_array_get (items, index), &updates [index]);
    }
    fputs ("]}", out);
    bool failed = ferror (out) != 0;
    fclose (out);
    return failed || !*text_p? -1: 0;
}

//  POST /events:batchUpdateStatus {"updates":[{"event_id","status"},...]}:
//  each item applied on its own; 200 with a result per item, in order.
static int
s_batch_update (void *arg, struct mg_connection *conn,
                const struct mg_request_info *request)
{
    (void) request;
    logger_api_t *self = (logger_api_t *) arg;
    int sent = s_require_token (self, conn);
    json_t *root = NULL, *items = NULL;
    if (!sent)
        sent = s_batch_read (self, conn, "updates", &root, &items);
    if (sent)
        return sent;
    size_t count = json_array_size (items);
    s_update_item_t *updates = (s_update_item_t *) calloc (count,
        sizeof (s_update_item_t));
    if (!updates) {
        json_decref (root);
        return enp_http_problem (conn, 500, "out of memory", NULL, NULL);
    }
    //  Every item checked first, then the valid ones applied together
    for (size_t index = 0; index < count; index++)
        s_update_decode (json_array_get (items, index), index, &updates [index]);
    //  Re-queued events go out together: the dispatcher is woken once
    if (s_update_apply (self, updates, count))
        logger_dispatcher_wake (self->dispatcher);
    char *text = NULL;
    size_t size = 0;
    int rc = s_update_results (items, updates, &text, &size);
    for (size_t index = 0; index < count; index++) {
        json_decref (updates [index].errors);
        enp_event_destroy (&updates [index].event);
    }
    free (updates);
    json_decref (root);
    if (rc) {
        free (text);
        return enp_http_problem (conn, 500, "out of memory", NULL, NULL);
    }
    enp_http_response_t response = { .code = 200, .body = text, .size = size,
                                     .content_type = "application/json" };
    int code = enp_http_send (conn, &response);
    free (text);
    return code;
}

//  GET /healthz: the process serves.
static int
s_healthz (void *arg, struct mg_connection *conn,
           const struct mg_request_info *request)
{
    (void) arg;
    (void) request;
    return s_send_json (conn, 200, json_pack ("{s:s}", "status", "ok"));
}

//  GET /readyz: ready only while events can flow to the broker.
static int
s_readyz (void *arg, struct mg_connection *conn,
          const struct mg_request_info *request)
{
    (void) request;
    logger_api_t *self = (logger_api_t *) arg;
    const char *why = logger_store_problem (self->store);
    if (!why && !logger_dispatcher_connected (self->dispatcher))
        why = "broker link is down; new events are kept as pending";
    else
    if (!why && logger_dispatcher_backpressure (self->dispatcher))
        why = "broker is not accepting events (full); new events are kept"
              " as pending";
    if (why) {
        enp_http_response_t extra = { .retry_after = S_RETRY_AFTER_S };
        return enp_http_problem (conn, 503, why, NULL, &extra);
    }
    return s_send_json (conn, 200, json_pack ("{s:s}", "status", "ready"));
}

//  GET /metrics: Prometheus text format.
static int
s_metrics (void *arg, struct mg_connection *conn,
           const struct mg_request_info *request)
{
    (void) request;
    logger_api_t *self = (logger_api_t *) arg;
    logger_metrics_snapshot_t snapshot;
    logger_store_stats (self->store, &snapshot.store);
    snapshot.broker_connected = logger_dispatcher_connected (self->dispatcher);
    snapshot.broker_sent = logger_dispatcher_messages (self->dispatcher);
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    if (!out)
        return enp_http_problem (conn, 500, "out of memory", NULL, NULL);
    logger_metrics_print (self->metrics, &snapshot, out);
    fclose (out);
    enp_http_response_t response = { .code = 200, .body = text, .size = size,
        .content_type = "text/plain; version=0.0.4; charset=utf-8" };
    int code = enp_http_send (conn, &response);
    free (text);
    return code;
}

//  GET /openapi.yaml: the spec this binary was built with.
static int
s_openapi (void *arg, struct mg_connection *conn,
           const struct mg_request_info *request)
{
    (void) arg;
    (void) request;
    enp_http_response_t response = { .code = 200,
        .body = (const char *) logger_openapi_yaml,
        .size = logger_openapi_yaml_size, .content_type = "application/yaml" };
    return enp_http_send (conn, &response);
}

//  Pick a Content-Type from a file name.
static const char *
s_mime_type (const char *name)
{
    const char *dot = strrchr (name, '.');
    if (!dot)                           return "application/octet-stream";
    if (strcmp (dot, ".html") == 0)     return "text/html; charset=utf-8";
    if (strcmp (dot, ".js") == 0)       return "text/javascript; charset=utf-8";
    if (strcmp (dot, ".css") == 0)      return "text/css; charset=utf-8";
    if (strcmp (dot, ".png") == 0)      return "image/png";
    if (strcmp (dot, ".map") == 0)      return "application/json";
    return "application/octet-stream";
}

//  True when docs_dir holds the Swagger UI page.
static bool
s_docs_installed (logger_api_t *self)
{
    char path [S_PATH_MAX];
    snprintf (path, sizeof path, "%s/%s", self->docs_dir, S_DOCS_INDEX);
    struct stat status;
    return stat (path, &status) == 0 && S_ISREG (status.st_mode);
}

//  GET /docs, /docs/ and /docs/<file>: Swagger UI from docs_dir.
static int
s_docs (void *arg, struct mg_connection *conn,
        const struct mg_request_info *request)
{
    logger_api_t *self = (logger_api_t *) arg;
    (void) request;
    //  /docs and /docs/ both serve the page: it sets <base href="/docs/">
    const char *path = enp_http_path (conn);
    const char *name = strncmp (path, S_DOCS_PREFIX, S_DOCS_PREFIX_LEN) == 0
                     ? path + S_DOCS_PREFIX_LEN: "";
    if (!*name)
        name = S_DOCS_INDEX;
    //  Only plain file names: no directories, no "..", nothing hidden
    if (*name == '.' || strspn (name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ"
                                "KLMNOPQRSTUVWXYZ0123456789._-") != strlen (name))
        return enp_http_problem (conn, 404, "no such file", NULL, NULL);
    if (strcmp (name, S_DOCS_INDEX) == 0 && !s_docs_installed (self))
        return enp_http_problem (conn, 503, "Swagger UI is not installed: run"
                                 " `npm ci` in api/ and rebuild, or set --docs-dir",
                                 NULL, NULL);
    char file_name [S_PATH_MAX];
    snprintf (file_name, sizeof file_name, "%s/%s", self->docs_dir, name);
    return enp_http_send_file (conn, file_name, s_mime_type (name));
}

//  Route /events: list or create (the router answered other methods).
static int
s_on_events (void *arg, struct mg_connection *conn,
             const struct mg_request_info *request)
{
    logger_api_t *self = (logger_api_t *) arg;
    if (strcmp (request->request_method, "POST") == 0)
        return s_create (self, conn, request);
    return s_list (self, conn, request);
}

//  Route /events/{event_id}: read or update.
static int
s_on_event (void *arg, struct mg_connection *conn,
            const struct mg_request_info *request)
{
    logger_api_t *self = (logger_api_t *) arg;
    if (strcmp (request->request_method, "PATCH") == 0)
        return s_update (self, conn);
    return s_read (self, conn);
}

//  Count each response in the request metrics.
static void
s_observe (void *arg, const char *method, int route, int code, double seconds)
{
    logger_metrics_observe ((logger_metrics_t *) arg, method,
                            (logger_route_t) route, code, seconds);
}

//  Add every route; returns 0 or -1.
static int
s_routes (logger_api_t *self)
{
    //  Exactly the methods api/openapi.yaml documents: HEAD is not one
    const enp_http_route_t routes [] = {
        { .path = S_EVENTS, .allow = "GET, POST", .id = LOGGER_ROUTE_EVENTS,
          .handler = s_on_events },
        { .path = S_EVENTS, .prefix = true, .allow = "GET, PATCH",
          .id = LOGGER_ROUTE_EVENT, .handler = s_on_event },
        //  Matched whole, like every path: /events:other is a 404
        { .path = S_BATCH_CREATE, .allow = "POST",
          .id = LOGGER_ROUTE_BATCH_CREATE, .handler = s_batch_create },
        { .path = S_BATCH_UPDATE, .allow = "POST",
          .id = LOGGER_ROUTE_BATCH_UPDATE, .handler = s_batch_update },
        { .path = "/healthz", .allow = "GET", .id = LOGGER_ROUTE_HEALTHZ,
          .handler = s_healthz },
        { .path = "/readyz", .allow = "GET", .id = LOGGER_ROUTE_READYZ,
          .handler = s_readyz },
        { .path = "/metrics", .allow = "GET", .id = LOGGER_ROUTE_METRICS,
          .handler = s_metrics },
        { .path = "/openapi.yaml", .allow = "GET", .id = LOGGER_ROUTE_OPENAPI,
          .handler = s_openapi },
        //  The page at /docs and /docs/, its files at /docs/<file>
        { .path = S_DOCS, .allow = "GET", .id = LOGGER_ROUTE_DOCS,
          .handler = s_docs },
        { .path = S_DOCS_PREFIX, .allow = "GET", .id = LOGGER_ROUTE_DOCS,
          .handler = s_docs },
        { .path = S_DOCS, .prefix = true, .allow = "GET",
          .id = LOGGER_ROUTE_DOCS, .handler = s_docs }
    };
    for (size_t index = 0; index < sizeof routes / sizeof routes [0]; index++) {
        enp_http_route_t route = routes [index];
        route.arg = self;
        if (enp_http_route (self->http, &route))
            return -1;
    }
    enp_http_observe (self->http, s_observe, self->metrics);
    return 0;
}

//  Map a status code to the HTTP status the API answers with it.
int
logger_api_http_status (enp_status_t status)
{
    switch (status) {
        case ENP_OK:        return 200;
        case ENP_EPARSE:    return 400;
        case ENP_EINVAL:    return 422;
        case ENP_ENOTFOUND: return 404;
        case ENP_EFULL:     return 503;
        case ENP_EIO:       return 503;
        default:            return 500;
    }
}

//  Start serving.
logger_api_t *
logger_api_new (const logger_api_options_t *options, logger_store_t *store,
                logger_dispatcher_t *dispatcher, logger_metrics_t *metrics)
{
    logger_api_t *self = (logger_api_t *) calloc (1, sizeof (logger_api_t));
    if (!self) {
        enp_log_error ("cannot start the API: out of memory");
        return NULL;
    }
    self->store = store;
    self->dispatcher = dispatcher;
    self->metrics = metrics;
    self->max_body = options->max_body;
    self->max_batch_body = options->max_batch_body;
    self->docs_dir = strdup (options->docs_dir? options->docs_dir: "");
    //  Without its token PATCH would be open to anyone: no copy, no start
    if (options->status_token && *options->status_token)
        self->token = strdup (options->status_token);
    bool auth_failed = options->status_token && *options->status_token
                    && !self->token;
    enp_http_options_t http_options = {
        .name = "http", .host = options->host, .port = options->port,
        .threads = options->threads,
        .request_timeout_ms = options->request_timeout_ms,
        .keep_alive_ms = options->keep_alive_ms,
        .max_per_client = options->max_per_client,
        .tls_cert = options->tls_cert
    };
    self->http = enp_http_new (&http_options);
    if (!self->docs_dir || auth_failed || !self->http || s_routes (self)) {
        enp_log_error ("cannot start the API: out of memory");
        logger_api_destroy (&self);
        return NULL;
    }
    const char *scheme = options->tls_cert && *options->tls_cert? "HTTPS": "HTTP";
    if (enp_http_start (self->http)) {
        enp_log_error ("cannot serve %s on %s:%d: %s", scheme, options->host,
                       options->port, enp_http_failure (self->http));
        logger_api_destroy (&self);
        return NULL;
    }
    int port = enp_http_port (self->http);
    enp_log_info ("serving %s on %s:%d", scheme, options->host, port);
    if (s_docs_installed (self))
        enp_log_info ("API docs at /docs (Swagger UI from %s)", self->docs_dir);
    else
        enp_log_warn ("/docs is unavailable: %s has no Swagger UI (no %s);"
                      " run `npm ci` in api/ and rebuild, or set --docs-dir"
                      " to a folder that has it", self->docs_dir, S_DOCS_INDEX);
    return self;
}

//  Stop serving.
void
logger_api_destroy (logger_api_t **self_p)
{
    assert (self_p);
    if (!*self_p)
        return;
    logger_api_t *self = *self_p;
    enp_http_destroy (&self->http);
    free (self->token);
    free (self->docs_dir);
    free (self);
    *self_p = NULL;
}
