/*  logger_api - the event-logger's REST API on CivetWeb

    One handler per resource, registered with the API object as cbdata,
    dispatching on the method to a static function per operation that
    returns the HTTP status it sent. Every response, success or error, is
    written with one mg_write (CivetWeb writes each header line separately
    otherwise, which costs a Nagle delay per request), and every error is
    an RFC 9457 problem document, never CivetWeb's HTML.

    Handlers run on many threads at once and never touch ZeroMQ: a new
    event goes into the store, and the dispatcher is woken to send it.
*/
#include <assert.h>
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <strings.h>
#include <civetweb.h>
#include <jansson.h>
#include "logger_api.h"
#include "enp_event.h"
#include "enp_log.h"
#include "enp_time.h"

#define S_LIST_LIMIT_DEFAULT 100
#define S_LIST_LIMIT_MAX     1000
#define S_DOCS_FILE_MAX      (8 * 1024 * 1024)

//  The OpenAPI document, embedded at build time (cmake/embed.cmake)
extern const unsigned char logger_openapi_yaml [];
extern const size_t logger_openapi_yaml_size;

struct _logger_api_t {
    struct mg_context *context;     //  the CivetWeb server
    enp_store_t *store;             //  borrowed
    logger_dispatcher_t *dispatcher;    //  borrowed
    logger_metrics_t *metrics;      //  borrowed
    size_t max_body;                //  request body limit
    char *bearer;                   //  "Bearer <token>", or NULL: no auth
    char *docs_dir;                 //  Swagger UI files
    int port;                       //  port bound
};

//  What to send: status, body and the few optional headers we use.
typedef struct {
    int code;
    const char *content_type;
    const char *body;
    size_t size;
    const char *location;       //  Location
    const char *allow;          //  Allow, with 405
    int retry_after;            //  Retry-After seconds when > 0
    int authenticate;           //  WWW-Authenticate: Bearer, with 401
} s_response_t;

typedef int (s_operation_fn) (logger_api_t *self, struct mg_connection *conn,
                              const struct mg_request_info *request);

//  Reason phrase for a status (RFC 9110 wording; CivetWeb misspells 422).
static const char *
s_reason (struct mg_connection *conn, int code)
{
    switch (code) {
        case 200: return "OK";
        case 201: return "Created";
        case 301: return "Moved Permanently";
        case 400: return "Bad Request";
        case 401: return "Unauthorized";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 413: return "Content Too Large";
        case 415: return "Unsupported Media Type";
        case 422: return "Unprocessable Content";
        case 500: return "Internal Server Error";
        case 503: return "Service Unavailable";
        default:  return mg_get_response_code_text (conn, code);
    }
}

//  Append text to buf (capacity size) at used; stops at the capacity,
//  always leaving room for a NUL. Returns the new length.
static size_t
s_append (char *buf, size_t used, size_t size, const char *text)
{
    size_t length = strlen (text);
    if (used + length + 1 > size)
        length = size - used - 1;
    memcpy (buf + used, text, length);
    buf [used + length] = '\0';
    return used + length;
}

//  Format an unsigned number in decimal into buf (at least 21 bytes).
static const char *
s_number (char *buf, uint64_t value)
{
    char *cursor = buf + 20;
    *cursor = '\0';
    do {
        *--cursor = (char) ('0' + value % 10);
        value /= 10;
    } while (value);
    return cursor;
}

//  Write the whole response with one mg_write.
static int
s_send (struct mg_connection *conn, const s_response_t *response)
{
    const struct mg_request_info *request = mg_get_request_info (conn);
    //  CivetWeb reports some errors (a timeout mid-request) before it has
    //  parsed a request line, so the method may be missing
    int head = request && request->request_method
            && strcmp (request->request_method, "HEAD") == 0;
    //  Assembled by appends, not snprintf: this runs on every request and
    //  formatting was a fifth of a create's cost
    char header [768];
    size_t size = 0;
    char number [24];
    size = s_append (header, size, sizeof header, "HTTP/1.1 ");
    size = s_append (header, size, sizeof header, s_number (number, (uint64_t) response->code));
    size = s_append (header, size, sizeof header, " ");
    size = s_append (header, size, sizeof header, s_reason (conn, response->code));
    size = s_append (header, size, sizeof header, "\r\nContent-Type: ");
    size = s_append (header, size, sizeof header, response->content_type);
    size = s_append (header, size, sizeof header, "\r\nContent-Length: ");
    size = s_append (header, size, sizeof header, s_number (number, response->size));
    size = s_append (header, size, sizeof header, "\r\nCache-Control: no-store\r\n");
    if (response->location) {
        size = s_append (header, size, sizeof header, "Location: ");
        size = s_append (header, size, sizeof header, response->location);
        size = s_append (header, size, sizeof header, "\r\n");
    }
    if (response->allow) {
        size = s_append (header, size, sizeof header, "Allow: ");
        size = s_append (header, size, sizeof header, response->allow);
        size = s_append (header, size, sizeof header, "\r\n");
    }
    if (response->retry_after > 0) {
        size = s_append (header, size, sizeof header, "Retry-After: ");
        size = s_append (header, size, sizeof header,
                         s_number (number, (uint64_t) response->retry_after));
        size = s_append (header, size, sizeof header, "\r\n");
    }
    if (response->authenticate)
        size = s_append (header, size, sizeof header,
                         "WWW-Authenticate: Bearer realm=\"event-logger\"\r\n");
    size = s_append (header, size, sizeof header, "\r\n");
    size_t body_size = head? 0: response->size;
    char *buffer = (char *) malloc (size + body_size);
    if (!buffer)
        return 500;
    memcpy (buffer, header, size);
    if (body_size)
        memcpy (buffer + size, response->body, body_size);
    mg_write (conn, buffer, size + body_size);
    free (buffer);
    return response->code;
}

//  Send one event as the JSON body (the direct encoder, not jansson's:
//  every read and every worker's report answers with one).
static int
s_send_event (struct mg_connection *conn, int code, const enp_event_t *event)
{
    size_t size = 0;
    char *json = enp_event_encode (event, &size);
    if (!json)
        return 500;
    s_response_t response = { .code = code, .content_type = "application/json",
                              .body = json, .size = size };
    s_send (conn, &response);
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
        return 500;
    s_response_t response = { .code = code, .content_type = "application/json",
                              .body = text, .size = strlen (text) };
    s_send (conn, &response);
    free (text);
    return code;
}

//  Send a problem document. errors (consumed, may be NULL) is included when
//  it is a non-empty array; extra carries optional headers (may be NULL).
static int
s_problem (struct mg_connection *conn, int code, const char *detail,
           json_t *errors, const s_response_t *extra)
{
    json_t *problem = json_pack ("{s:s, s:s, s:i, s:s}",
        "type", "about:blank",
        "title", s_reason (conn, code),
        "status", code, "detail", detail);
    if (problem && errors && json_array_size (errors) > 0)
        json_object_set (problem, "errors", errors);
    json_decref (errors);
    char *text = problem? json_dumps (problem, JSON_COMPACT | JSON_PRESERVE_ORDER)
                        : NULL;
    json_decref (problem);
    s_response_t response = { 0 };
    if (extra)
        response = *extra;
    response.code = code;
    response.content_type = "application/problem+json";
    response.body = text? text: "{}";
    response.size = strlen (response.body);
    s_send (conn, &response);
    free (text);
    return code;
}

//  Answer 405 with the methods a resource allows.
static int
s_not_allowed (struct mg_connection *conn, const char *method, const char *allow)
{
    char detail [128];
    snprintf (detail, sizeof detail, "method %.16s is not allowed here;"
              " use %s", method, allow);
    s_response_t extra = { .allow = allow };
    return s_problem (conn, 405, detail, NULL, &extra);
}

//  Answer for a store failure, using the one status mapping.
static int
s_store_problem (struct mg_connection *conn, enp_status_t status,
                 const char *detail)
{
    int code = logger_api_http_status (status);
    s_response_t extra = { .retry_after = code == 503? 1: 0 };
    return s_problem (conn, code, detail, NULL, &extra);
}

//  True when the request's Content-Type is application/json.
static int
s_is_json (struct mg_connection *conn)
{
    const char *type = mg_get_header (conn, "Content-Type");
    if (!type)
        return 0;
    while (*type == ' ')
        type++;
    size_t length = strcspn (type, ";");
    while (length > 0 && type [length - 1] == ' ')
        length--;
    return length == 16 && strncasecmp (type, "application/json", 16) == 0;
}

//  Read the whole body, at most max bytes. Returns 0 with a new buffer
//  (NUL-terminated) or the HTTP status to answer: 413 or 400.
static int
s_read_body (logger_api_t *self, struct mg_connection *conn,
             const struct mg_request_info *request, char **body_p,
             size_t *size_p)
{
    long long declared = request->content_length;
    if (declared > (long long) self->max_body)
        return 413;                 //  Checked before allocating anything
    size_t capacity = declared >= 0? (size_t) declared: self->max_body + 1;
    char *body = (char *) malloc (capacity + 1);
    if (!body)
        return 500;
    size_t size = 0;
    while (size < capacity) {
        int rc = mg_read (conn, body + size, capacity - size);
        if (rc <= 0)
            break;
        size += (size_t) rc;
    }
    if (size > self->max_body) {
        free (body);
        return 413;
    }
    if (declared >= 0 && size < (size_t) declared) {
        free (body);
        return 400;                 //  Client sent less than it declared
    }
    body [size] = '\0';
    *body_p = body;
    *size_p = size;
    return 0;
}

//  Checks every request with a body must pass: JSON content, size.
//  Returns 0 with the body, or the status already sent.
static int
s_take_body (logger_api_t *self, struct mg_connection *conn,
             const struct mg_request_info *request, char **body_p,
             size_t *size_p)
{
    if (!s_is_json (conn))
        return s_problem (conn, 415, "Content-Type must be application/json",
                          NULL, NULL);
    int code = s_read_body (self, conn, request, body_p, size_p);
    if (code == 413) {
        char detail [96];
        snprintf (detail, sizeof detail, "request body is over the limit of"
                  " %zu bytes", self->max_body);
        return s_problem (conn, 413, detail, NULL, NULL);
    }
    if (code)
        return s_problem (conn, code, "could not read the request body",
                          NULL, NULL);
    return 0;
}

//  Answer a decode failure: 400 or 422 with field errors.
static int
s_decode_problem (struct mg_connection *conn, enp_status_t status,
                  json_t *errors, const char *detail)
{
    return s_problem (conn, logger_api_http_status (status), detail,
                      json_incref (errors), NULL);
}

//  POST /events: validate, record, hand to the dispatcher, answer 201.
static int
s_create (logger_api_t *self, struct mg_connection *conn,
          const struct mg_request_info *request)
{
    char *body = NULL;
    size_t size = 0;
    int sent = s_take_body (self, conn, request, &body, &size);
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
    char location [64] = "/events/";
    memcpy (location + 8, enp_event_id (event), ENP_UUID_LEN + 1);
    status = json? enp_store_insert (self->store, &event): ENP_ENOMEM;
    enp_event_destroy (&event);     //  Still ours only if the insert failed
    if (status != ENP_OK) {
        free (json);
        return s_store_problem (conn, status, status == ENP_EFULL
            ? "the event store is full of unprocessed events; retry later"
            : "could not record the event");
    }
    logger_dispatcher_wake (self->dispatcher);
    enp_log_event_debug (location + 8, "created");
    s_response_t response = { .code = 201, .content_type = "application/json",
                              .body = json, .size = json_size,
                              .location = location };
    s_send (conn, &response);
    free (json);
    return 201;
}

//  Read one query parameter into value; returns 1 if present, 0 if absent,
//  -1 if too long.
static int
s_query_param (const struct mg_request_info *request, const char *name,
               char *value, size_t size)
{
    const char *query = request->query_string;
    if (!query)
        return 0;
    int rc = mg_get_var (query, strlen (query), name, value, size);
    return rc >= 0? 1: rc == -1? 0: -1;
}

//  Parse the listing parameters; append errors for bad ones.
static void
s_parse_query (const struct mg_request_info *request, enp_store_query_t *query,
               char *status, char *user_id, char *after, json_t *errors)
{
    char limit [16];
    query->limit = S_LIST_LIMIT_DEFAULT;
    int rc = s_query_param (request, "limit", limit, sizeof limit);
    if (rc != 0) {
        char *end = NULL;
        long number = rc > 0? strtol (limit, &end, 10): 0;
        if (rc < 0 || !*limit || *end || number < 1 || number > S_LIST_LIMIT_MAX)
            json_array_append_new (errors, json_pack ("{s:s, s:s}", "field",
                "limit", "message", "must be a whole number from 1 to 1000"));
        else
            query->limit = (size_t) number;
    }
    rc = s_query_param (request, "status", status, ENP_STATUS_MAX + 1);
    if (rc > 0 && enp_event_status_valid (status))
        query->status = status;
    else
    if (rc != 0)
        json_array_append_new (errors, json_pack ("{s:s, s:s}", "field",
            "status", "message", "must be 1-64 characters of a-z, 0-9, _ . -"));
    rc = s_query_param (request, "user_id", user_id, ENP_USER_ID_MAX + 1);
    if (rc > 0 && *user_id)
        query->user_id = user_id;
    else
    if (rc != 0)
        json_array_append_new (errors, json_pack ("{s:s, s:s}", "field",
            "user_id", "message", "must be 1-256 bytes"));
    char raw [ENP_UUID_LEN + 8];
    rc = s_query_param (request, "after", raw, sizeof raw);
    if (rc > 0 && enp_event_id_canonical (raw, after) == 0)
        query->after = after;
    else
    if (rc != 0)
        json_array_append_new (errors, json_pack ("{s:s, s:s}", "field",
            "after", "message", "must be the cursor (an event_id) from 'next'"));
}

//  GET /events: a page of events, oldest first, with a cursor.
static int
s_list (logger_api_t *self, struct mg_connection *conn,
        const struct mg_request_info *request)
{
    enp_store_query_t query = { 0 };
    char status [ENP_STATUS_MAX + 1], user_id [ENP_USER_ID_MAX + 1];
    char after [ENP_UUID_LEN + 1], next [ENP_UUID_LEN + 1];
    json_t *errors = json_array ();
    s_parse_query (request, &query, status, user_id, after, errors);
    if (json_array_size (errors) > 0)
        return s_problem (conn, 422, "invalid query parameters", errors, NULL);
    json_decref (errors);
    enp_event_t **items = (enp_event_t **) calloc (query.limit,
                                                   sizeof (enp_event_t *));
    if (!items)
        return s_problem (conn, 500, "out of memory", NULL, NULL);
    size_t count = 0;
    enp_status_t rc = enp_store_list (self->store, &query, items, &count, next);
    //  {"items":[...],"next":...} written directly, like single events
    size_t capacity = 64;
    for (size_t index = 0; index < count; index++)
        capacity += enp_event_encoded_max (items [index]) + 1;
    char *page = rc == ENP_OK? (char *) malloc (capacity): NULL;
    size_t size = 0;
    if (page) {
        memcpy (page, "{\"items\":[", 10);
        size = 10;
        for (size_t index = 0; index < count; index++) {
            if (index)
                page [size++] = ',';
            size += enp_event_encode_into (items [index], page + size);
        }
        size += (size_t) snprintf (page + size, capacity - size,
                                   "],\"next\":%s%s%s}", *next? "\"": "",
                                   *next? next: "null", *next? "\"": "");
    }
    for (size_t index = 0; index < count; index++)
        enp_event_destroy (&items [index]);
    free (items);
    if (rc == ENP_ENOTFOUND) {
        errors = json_pack ("[{s:s, s:s}]", "field", "after", "message",
                            "no event has this id (it may have been evicted)");
        return s_problem (conn, 422, "unknown cursor", errors, NULL);
    }
    if (rc != ENP_OK || !page) {
        free (page);
        return s_store_problem (conn, rc == ENP_OK? ENP_ENOMEM: rc,
                                "could not list events");
    }
    s_response_t response = { .code = 200, .content_type = "application/json",
                              .body = page, .size = size };
    s_send (conn, &response);
    free (page);
    return 200;
}

//  True when the request carries the configured bearer token. Compares in
//  constant time so the token cannot be guessed byte by byte.
static int
s_authorized (logger_api_t *self, struct mg_connection *conn)
{
    if (!self->bearer)
        return 1;
    const char *given = mg_get_header (conn, "Authorization");
    if (!given)
        return 0;
    size_t expected = strlen (self->bearer);
    size_t length = strlen (given);
    unsigned char diff = length != expected;
    for (size_t index = 0; index < expected; index++)
        diff |= (unsigned char) (self->bearer [index]
                                 ^ (index < length? given [index]: 0));
    return diff == 0;
}

//  Take the id from /events/{event_id}. Returns 0 with the canonical id,
//  or the status already sent (404 for deeper paths, 400 for a bad UUID).
static int
s_event_id (struct mg_connection *conn, const struct mg_request_info *request,
            char *event_id)
{
    const char *text = request->local_uri + strlen ("/events/");
    if (strchr (text, '/'))
        return s_problem (conn, 404, "no such resource", NULL, NULL);
    if (enp_event_id_canonical (text, event_id))
        return s_problem (conn, 400, "event_id must be a UUID", NULL, NULL);
    return 0;
}

//  GET /events/{event_id}
static int
s_read (logger_api_t *self, struct mg_connection *conn,
        const struct mg_request_info *request)
{
    char event_id [ENP_UUID_LEN + 1];
    int sent = s_event_id (conn, request, event_id);
    if (sent)
        return sent;
    enp_event_t *event = NULL;
    enp_status_t status = enp_store_get (self->store, event_id, &event);
    if (status != ENP_OK)
        return s_store_problem (conn, status, "no event has this id");
    int code = s_send_event (conn, 200, event);
    enp_event_destroy (&event);
    return code;
}

//  PATCH /events/{event_id} {"status"}
static int
s_update (logger_api_t *self, struct mg_connection *conn,
          const struct mg_request_info *request)
{
    if (!s_authorized (self, conn)) {
        s_response_t extra = { .authenticate = 1 };
        return s_problem (conn, 401, "a valid 'Authorization: Bearer <token>'"
                          " header is required", NULL, &extra);
    }
    char event_id [ENP_UUID_LEN + 1];
    int sent = s_event_id (conn, request, event_id);
    char *body = NULL;
    size_t size = 0;
    if (!sent)
        sent = s_take_body (self, conn, request, &body, &size);
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
    rc = enp_store_set_status (self->store, event_id, status, &event);
    if (rc != ENP_OK)
        return s_store_problem (conn, rc, "no event has this id");
    if (strcmp (status, ENP_STATUS_PENDING) == 0)
        logger_dispatcher_wake (self->dispatcher);
    enp_log_event_debug (event_id, "status set to %s", status);
    int code = s_send_event (conn, 200, event);
    enp_event_destroy (&event);
    return code;
}

//  GET /healthz: the process serves.
static int
s_healthz (logger_api_t *self, struct mg_connection *conn,
           const struct mg_request_info *request)
{
    (void) self;
    (void) request;
    return s_send_json (conn, 200, json_pack ("{s:s}", "status", "ok"));
}

//  GET /readyz: ready only while events can flow to the broker.
static int
s_readyz (logger_api_t *self, struct mg_connection *conn,
          const struct mg_request_info *request)
{
    (void) request;
    enp_store_stats_t stats;
    enp_store_stats (self->store, &stats);
    const char *why = NULL;
    if (!logger_dispatcher_connected (self->dispatcher))
        why = "broker link is down; new events are kept as pending";
    else
    if (logger_dispatcher_backpressure (self->dispatcher))
        why = "broker is not accepting events (full); new events are kept"
              " as pending";
    else
    if (stats.total >= stats.max_events && stats.processed == 0)
        why = "event store is full of unprocessed events";
    if (why) {
        s_response_t extra = { .retry_after = 1 };
        return s_problem (conn, 503, why, NULL, &extra);
    }
    return s_send_json (conn, 200, json_pack ("{s:s}", "status", "ready"));
}

//  GET /metrics: Prometheus text format.
static int
s_metrics (logger_api_t *self, struct mg_connection *conn,
           const struct mg_request_info *request)
{
    (void) request;
    enp_store_stats_t stats;
    enp_store_stats (self->store, &stats);
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    if (!out)
        return s_problem (conn, 500, "out of memory", NULL, NULL);
    fprintf (out,
        "# HELP events_created_total Events accepted (answered 201).\n"
        "# TYPE events_created_total counter\nevents_created_total %llu\n"
        "# HELP events_processed_total Events that became processed.\n"
        "# TYPE events_processed_total counter\nevents_processed_total %llu\n"
        "# HELP events_failed_total Events that ran out of delivery attempts.\n"
        "# TYPE events_failed_total counter\nevents_failed_total %llu\n"
        "# HELP events_redelivered_total Deliveries after the first.\n"
        "# TYPE events_redelivered_total counter\nevents_redelivered_total %llu\n"
        "# HELP events_evicted_total Processed events dropped to make room.\n"
        "# TYPE events_evicted_total counter\nevents_evicted_total %llu\n"
        "# HELP events_in_store Events held, by status.\n"
        "# TYPE events_in_store gauge\n"
        "events_in_store{status=\"pending\"} %zu\n"
        "events_in_store{status=\"queued\"} %zu\n"
        "events_in_store{status=\"processed\"} %zu\n"
        "events_in_store{status=\"failed\"} %zu\n"
        "events_in_store{status=\"other\"} %zu\n"
        "# HELP events_store_capacity Most events the store holds.\n"
        "# TYPE events_store_capacity gauge\nevents_store_capacity %zu\n"
        "# HELP broker_connected 1 while the link to the broker is up.\n"
        "# TYPE broker_connected gauge\nbroker_connected %d\n"
        "# HELP broker_messages_sent_total Messages handed to the broker.\n"
        "# TYPE broker_messages_sent_total counter\nbroker_messages_sent_total %llu\n",
        (unsigned long long) stats.created_total,
        (unsigned long long) stats.processed_total,
        (unsigned long long) stats.failed_total,
        (unsigned long long) stats.redelivered_total,
        (unsigned long long) stats.evicted_total,
        stats.pending, stats.queued, stats.processed, stats.failed, stats.other,
        stats.max_events, logger_dispatcher_connected (self->dispatcher)? 1: 0,
        (unsigned long long) logger_dispatcher_sent (self->dispatcher));
    logger_metrics_print (self->metrics, out);
    fclose (out);
    s_response_t response = { .code = 200, .body = text, .size = size,
        .content_type = "text/plain; version=0.0.4; charset=utf-8" };
    s_send (conn, &response);
    free (text);
    return 200;
}

//  GET /openapi.yaml: the spec this binary was built with.
static int
s_openapi (logger_api_t *self, struct mg_connection *conn,
           const struct mg_request_info *request)
{
    (void) self;
    (void) request;
    s_response_t response = { .code = 200, .content_type = "application/yaml",
                              .body = (const char *) logger_openapi_yaml,
                              .size = logger_openapi_yaml_size };
    return s_send (conn, &response);
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

//  GET /docs, /docs/ and /docs/<file>: Swagger UI from docs_dir.
static int
s_docs (logger_api_t *self, struct mg_connection *conn,
        const struct mg_request_info *request)
{
    //  /docs and /docs/ both serve the page: it sets <base href="/docs/">
    const char *path = request->local_uri;
    const char *name = strncmp (path, "/docs/", 6) == 0? path + 6: "";
    if (!*name)
        name = "index.html";
    //  Only plain file names: no directories, no "..", nothing hidden
    if (*name == '.' || strspn (name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ"
                                "KLMNOPQRSTUVWXYZ0123456789._-") != strlen (name))
        return s_problem (conn, 404, "no such file", NULL, NULL);
    char file_name [1024];
    snprintf (file_name, sizeof file_name, "%s/%s", self->docs_dir, name);
    FILE *file = fopen (file_name, "rb");
    if (!file && strcmp (name, "index.html") == 0)
        return s_problem (conn, 503, "Swagger UI is not installed: run"
                          " `npm ci` in api/ and rebuild, or set --docs-dir",
                          NULL, NULL);
    if (!file)
        return s_problem (conn, 404, "no such file", NULL, NULL);
    char *data = (char *) malloc (S_DOCS_FILE_MAX);
    size_t size = data? fread (data, 1, S_DOCS_FILE_MAX, file): 0;
    fclose (file);
    if (!data)
        return s_problem (conn, 500, "out of memory", NULL, NULL);
    s_response_t response = { .code = 200, .content_type = s_mime_type (name),
                              .body = data, .size = size };
    s_send (conn, &response);
    free (data);
    return 200;
}

//  Answer an operation, timing it and counting it by route template.
static int
s_serve (logger_api_t *self, struct mg_connection *conn, logger_route_t route,
         s_operation_fn *operation)
{
    struct timespec start, end;
    clock_gettime (CLOCK_MONOTONIC, &start);
    const struct mg_request_info *request = mg_get_request_info (conn);
    int code = operation (self, conn, request);
    clock_gettime (CLOCK_MONOTONIC, &end);
    double seconds = (double) (end.tv_sec - start.tv_sec)
                   + (double) (end.tv_nsec - start.tv_nsec) / 1e9;
    logger_metrics_observe (self->metrics, request->request_method, route,
                            code, seconds);
    return code;
}

static int
s_method_is (const struct mg_request_info *request, const char *method)
{
    return strcmp (request->request_method, method) == 0;
}

//  405 for /events
static int
s_events_not_allowed (logger_api_t *self, struct mg_connection *conn,
                      const struct mg_request_info *request)
{
    (void) self;
    return s_not_allowed (conn, request->request_method, "GET, POST");
}

//  405 for /events/{event_id}
static int
s_event_not_allowed (logger_api_t *self, struct mg_connection *conn,
                     const struct mg_request_info *request)
{
    (void) self;
    return s_not_allowed (conn, request->request_method, "GET, PATCH");
}

//  405 for read-only resources
static int
s_read_only (logger_api_t *self, struct mg_connection *conn,
             const struct mg_request_info *request)
{
    (void) self;
    return s_not_allowed (conn, request->request_method, "GET, HEAD");
}

//  404 for everything unmatched
static int
s_unknown (logger_api_t *self, struct mg_connection *conn,
           const struct mg_request_info *request)
{
    (void) self;
    (void) request;
    return s_problem (conn, 404, "no such resource", NULL, NULL);
}

//  Handler for /events and /events/{event_id}.
static int
s_on_events (struct mg_connection *conn, void *cbdata)
{
    logger_api_t *self = (logger_api_t *) cbdata;
    const struct mg_request_info *request = mg_get_request_info (conn);
    const char *path = request->local_uri;
    if (strcmp (path, "/events") == 0 || strcmp (path, "/events/") == 0) {
        if (s_method_is (request, "POST"))
            return s_serve (self, conn, LOGGER_ROUTE_EVENTS, s_create);
        if (s_method_is (request, "GET"))
            return s_serve (self, conn, LOGGER_ROUTE_EVENTS, s_list);
        return s_serve (self, conn, LOGGER_ROUTE_EVENTS, s_events_not_allowed);
    }
    if (strncmp (path, "/events/", 8) != 0)
        return s_serve (self, conn, LOGGER_ROUTE_OTHER, s_unknown);
    if (s_method_is (request, "GET"))
        return s_serve (self, conn, LOGGER_ROUTE_EVENT, s_read);
    if (s_method_is (request, "PATCH"))
        return s_serve (self, conn, LOGGER_ROUTE_EVENT, s_update);
    return s_serve (self, conn, LOGGER_ROUTE_EVENT, s_event_not_allowed);
}

//  Handler shared by the read-only resources; cbdata routes by path.
static int
s_on_read_only (struct mg_connection *conn, void *cbdata)
{
    logger_api_t *self = (logger_api_t *) cbdata;
    const struct mg_request_info *request = mg_get_request_info (conn);
    const char *path = request->local_uri;
    logger_route_t route = LOGGER_ROUTE_OTHER;
    s_operation_fn *operation = s_unknown;
    if (strcmp (path, "/healthz") == 0)
        route = LOGGER_ROUTE_HEALTHZ, operation = s_healthz;
    else
    if (strcmp (path, "/readyz") == 0)
        route = LOGGER_ROUTE_READYZ, operation = s_readyz;
    else
    if (strcmp (path, "/metrics") == 0)
        route = LOGGER_ROUTE_METRICS, operation = s_metrics;
    else
    if (strcmp (path, "/openapi.yaml") == 0)
        route = LOGGER_ROUTE_OPENAPI, operation = s_openapi;
    else
    if (strcmp (path, "/docs") == 0 || strncmp (path, "/docs/", 6) == 0)
        route = LOGGER_ROUTE_DOCS, operation = s_docs;
    if (operation != s_unknown && !s_method_is (request, "GET")
    &&  !s_method_is (request, "HEAD"))
        operation = s_read_only;
    return s_serve (self, conn, route, operation);
}

//  CivetWeb's own errors (bad request line, headers too large, ...) are
//  sent as problem documents too.
static int
s_http_error (struct mg_connection *conn, int status, const char *message)
{
    s_problem (conn, status, message && *message? message: "request refused",
               NULL, NULL);
    return 0;
}

//  Route CivetWeb's log into ours.
static int
s_log_message (const struct mg_connection *conn, const char *message)
{
    (void) conn;
    enp_log_warn ("http: %s", message);
    return 1;
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
        default:            return 500;
    }
}

//  Start serving.
logger_api_t *
logger_api_new (const logger_api_options_t *options, enp_store_t *store,
                logger_dispatcher_t *dispatcher, logger_metrics_t *metrics)
{
    logger_api_t *self = (logger_api_t *) calloc (1, sizeof (logger_api_t));
    if (!self)
        return NULL;
    self->store = store;
    self->dispatcher = dispatcher;
    self->metrics = metrics;
    self->max_body = options->max_body;
    self->docs_dir = strdup (options->docs_dir? options->docs_dir: "");
    if (options->status_token && *options->status_token
    &&  asprintf (&self->bearer, "Bearer %s", options->status_token) < 0)
        self->bearer = NULL;
    char listen [128], threads [16], request_timeout [24], keep_alive [24];
    snprintf (listen, sizeof listen, "%s:%d", options->host, options->port);
    snprintf (threads, sizeof threads, "%d", options->threads);
    snprintf (request_timeout, sizeof request_timeout, "%ld",
              options->request_timeout_ms);
    snprintf (keep_alive, sizeof keep_alive, "%ld", options->keep_alive_ms);
    const char *civetweb_options [] = {
        "listening_ports", listen,
        "num_threads", threads,
        "request_timeout_ms", request_timeout,
        "enable_keep_alive", "yes",
        "keep_alive_timeout_ms", keep_alive,
        "tcp_nodelay", "1",
        "max_request_size", "16384",
        "listen_backlog", "1024",
        NULL
    };
    struct mg_callbacks callbacks;
    memset (&callbacks, 0, sizeof callbacks);
    callbacks.http_error = s_http_error;
    callbacks.log_message = s_log_message;
    if (self->docs_dir)
        self->context = mg_start (&callbacks, self, civetweb_options);
    if (!self->context) {
        enp_log_error ("cannot serve HTTP on %s", listen);
        logger_api_destroy (&self);
        return NULL;
    }
    struct mg_server_port ports [1];
    if (mg_get_server_ports (self->context, 1, ports) == 1)
        self->port = ports [0].port;
    mg_set_request_handler (self->context, "/events", s_on_events, self);
    mg_set_request_handler (self->context, "/healthz", s_on_read_only, self);
    mg_set_request_handler (self->context, "/readyz", s_on_read_only, self);
    mg_set_request_handler (self->context, "/metrics", s_on_read_only, self);
    mg_set_request_handler (self->context, "/openapi.yaml", s_on_read_only, self);
    mg_set_request_handler (self->context, "/docs", s_on_read_only, self);
    mg_set_request_handler (self->context, "/", s_on_read_only, self);
    enp_log_info ("serving HTTP on %s:%d (API docs at /docs)", options->host,
                  self->port);
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
    if (self->context)
        mg_stop (self->context);
    free (self->bearer);
    free (self->docs_dir);
    free (self);
    *self_p = NULL;
}

//  Return the port actually bound.
int
logger_api_port (logger_api_t *self)
{
    assert (self);
    return self->port;
}
