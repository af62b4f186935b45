/*  enp_http - the one HTTP layer of every CivetWeb server in the services

    The logger's API and the small health and metrics endpoint of the broker
    and the processors all serve through this class, so every request meets
    the same rules and every response is written the same way:

    - One place sees every request: CivetWeb's begin_request callback
      checks it (one unambiguous body framing, no encoded NUL), routes it
      on its decoded path (exact paths, or a path and one segment below
      it; nothing merged or resolved, so a resource has exactly one
      path), answers 404 and 405 itself, calls the route's handler, then
      tells the observer (the logger's metrics) what was answered.
      CivetWeb's own errors (a malformed request line, headers too large)
      come through its http_error callback and are answered and observed
      here too; a method CivetWeb does not know still gets 404 or 405 as
      its path says. Requests CivetWeb would drop unanswered ("OPTIONS *",
      a target naming another server) are answered as their connection
      closes.
    - One writer sends every response: status line, headers and body in one
      mg_write. CivetWeb's header functions send a line at a time, which
      with Nagle's algorithm cost tens of milliseconds per request.
    - Errors are RFC 9457 problem documents, never CivetWeb's HTML.
    - A connection is kept alive only when it can be: a request body left
      unread, or framed ambiguously, makes the server close (with
      Connection: close) rather than read and discard what may be
      megabytes of it.
    - A guard (enp_http_guard) holds every connection to a deadline for
      each whole request (408 after it), caps the connections of one client
      address (429 over it) and closes idle connections when threads run
      short: CivetWeb gives each connection a thread for its life.

    What the writer needs to know about the request in progress (its body,
    the status it sent, its path) and the connection's place in the guard
    live in a small record per connection, made by CivetWeb's
    init_connection callback and freed by its connection_close, reached
    through CivetWeb's user connection data.
*/
#include <assert.h>
#include <dlfcn.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <civetweb.h>
#include "enp_http.h"
#include "enp_http_guard.h"
#include "enp_log.h"
#include "enp_ratelimit.h"
#include "enp_time.h"

#define S_ROUTES_MAX        16      //  routes one server holds
#define S_MAX_HEAD          16384   //  bytes of request line and headers
#define S_LISTEN_BACKLOG    1024    //  connections the kernel queues for accept
#define S_INLINE_RESPONSE   4096    //  responses up to this size need no malloc
#define S_NUMBER_SIZE       24      //  room for any 64-bit number in decimal
#define S_FAILURE_SIZE      256     //  bytes of a start failure's reason
#define S_WAKE_INTERVAL_US  (20 * 1000) //  between knocks while stopping
#define S_PATH_SIZE         1024    //  bytes of a decoded path, NUL included
#define S_METHODS_SIZE      128     //  bytes of the methods every route allows
#define S_LEARN_WAIT_MS     2000    //  for the throwaway server's close
#define S_UNGUARDED         (-2)    //  the guard slot of a connection it lacks
#define S_TLS_VERSIONS      "4"     //  CivetWeb's code for TLS 1.2 and newer
#define S_LOG_BURST         10      //  CivetWeb's messages logged per window
#define S_LOG_WINDOW_MS     10000

typedef struct {
    char *path;                     //  owned
    size_t length;                  //  of path
    bool prefix;                    //  path/... too
    char *allow;                    //  owned, or NULL
    int id;
    enp_http_handler_fn *handler;
    void *arg;
} s_route_t;

struct _enp_http_t {
    struct mg_context *context;     //  the CivetWeb server, once started
    enp_http_options_t options;     //  strings below are our copies
    char *name;
    char *host;
    char *tls_cert;                 //  or NULL: plain HTTP
    s_route_t routes [S_ROUTES_MAX];
    size_t route_count;
    enp_http_observe_fn *observe;   //  may be NULL
    void *observe_arg;
    atomic_bool starting;           //  CivetWeb's messages are the failure
    char failure [S_FAILURE_SIZE];  //  why the last start failed, or ""
    int port;                       //  port bound
    char methods [S_METHODS_SIZE];  //  what OPTIONS * answers in Allow
    enp_http_guard_t *guard;        //  deadlines and caps, once started
    long long request_offset;       //  of a connection's request info, or -1
    pthread_mutex_t log_mutex;      //  guards log_limit
    enp_ratelimit_t *log_limit;     //  CivetWeb's own messages
};

//  Knocks on the server's port while it stops (see s_stop).
typedef struct {
    struct sockaddr_in address;     //  where the server listens
    atomic_bool done;               //  stop knocking
} s_waker_t;

//  What the layer knows of one connection, from CivetWeb's init_connection
//  to its connection_close, reached through the user connection data.
typedef struct {
    //  The request being routed; reset as routing starts
    bool routing;                   //  a handler may be running for it
    bool body_read;                 //  its body was read to its end
    bool broken;                    //  its framing is in doubt: close after
    int code;                       //  status written, 0 before
    const char *path;               //  its decoded path, while routing
    //  The connection
    bool refused;                   //  CivetWeb refused a request and
                                    //  answered it (http_error), or the
                                    //  guard refused the connection
    int slot;                       //  in the guard, ENP_HTTP_GUARD_REFUSED
                                    //  or S_UNGUARDED
} s_exchange_t;

//  RFC 9110 section 15, plus 429 and 431 (RFC 6585), in rising order.
static const struct {
    int code;
    const char *reason;
} s_reasons [] = {
    { 100, "Continue" }, { 101, "Switching Protocols" },
    { 200, "OK" }, { 201, "Created" }, { 202, "Accepted" },
    { 203, "Non-Authoritative Information" }, { 204, "No Content" },
    { 205, "Reset Content" }, { 206, "Partial Content" },
    { 300, "Multiple Choices" }, { 301, "Moved Permanently" }, { 302, "Found" },
    { 303, "See Other" }, { 304, "Not Modified" }, { 305, "Use Proxy" },
    { 307, "Temporary Redirect" }, { 308, "Permanent Redirect" },
    { 400, "Bad Request" }, { 401, "Unauthorized" }, { 402, "Payment Required" },
    { 403, "Forbidden" }, { 404, "Not Found" }, { 405, "Method Not Allowed" },
    { 406, "Not Acceptable" }, { 407, "Proxy Authentication Required" },
    { 408, "Request Timeout" }, { 409, "Conflict" }, { 410, "Gone" },
    { 411, "Length Required" }, { 412, "Precondition Failed" },
    { 413, "Content Too Large" }, { 414, "URI Too Long" },
    { 415, "Unsupported Media Type" }, { 416, "Range Not Satisfiable" },
    { 417, "Expectation Failed" }, { 421, "Misdirected Request" },
    { 422, "Unprocessable Content" }, { 426, "Upgrade Required" },
    { 429, "Too Many Requests" }, { 431, "Request Header Fields Too Large" },
    { 500, "Internal Server Error" }, { 501, "Not Implemented" },
    { 502, "Bad Gateway" }, { 503, "Service Unavailable" },
    { 504, "Gateway Timeout" }, { 505, "HTTP Version Not Supported" }
};

//  Class names for codes the table lacks (RFC 9110 section 15).
static const char *s_classes [] = {
    "Informational", "Successful", "Redirection", "Client Error", "Server Error"
};

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

//  Append a header line "name: value\r\n".
static size_t
s_append_header (char *buf, size_t used, size_t size, const char *name,
                 const char *value)
{
    used = s_append (buf, used, size, name);
    used = s_append (buf, used, size, ": ");
    used = s_append (buf, used, size, value);
    return s_append (buf, used, size, "\r\n");
}

//  Format an unsigned number in decimal into buf (S_NUMBER_SIZE bytes);
//  returns where the digits start. Not snprintf: this runs per response.
static const char *
s_number (char *buf, uint64_t value)
{
    char *cursor = buf + S_NUMBER_SIZE - 1;
    *cursor = '\0';
    do {
        *--cursor = (char) ('0' + value % 10);
        value /= 10;
    } while (value);
    return cursor;
}

//  True when a comma-separated header value lists token (any case), as
//  CivetWeb reads Connection.
static bool
s_has_token (const char *list, const char *token)
{
    size_t length = strlen (token);
    while (*list) {
        list += strspn (list, " \t,");
        size_t item = strcspn (list, ",");
        size_t trimmed = item;
        while (trimmed > 0 && (list [trimmed - 1] == ' ' || list [trimmed - 1] == '\t'))
            trimmed--;
        if (trimmed == length && strncasecmp (list, token, length) == 0)
            return true;
        list += item;
    }
    return false;
}

//  True when the guard cut the connection's request at its deadline.
static bool
s_expired (struct mg_connection *conn)
{
    enp_http_t *self = (enp_http_t *) mg_get_user_data (mg_get_context (conn));
    s_exchange_t *exchange = (s_exchange_t *) mg_get_user_connection_data (conn);
    return self && self->guard && exchange
        && enp_http_guard_expired (self->guard, exchange->slot);
}

//  True when the request carries a body: a Content-Length above 0, or a
//  transfer coding (CivetWeb accepts only chunked).
static bool
s_has_body (struct mg_connection *conn, const struct mg_request_info *request)
{
    if (request->content_length > 0)
        return true;
    const char *coding = mg_get_header (conn, "Transfer-Encoding");
    return request->content_length < 0 && coding
        && strcasecmp (coding, "identity") != 0;
}

//  Decide whether the connection ends after this response, the way
//  CivetWeb will: the client asked (Connection, or HTTP/1.0 without
//  keep-alive), the body is unread, or its framing is in doubt. CivetWeb
//  would read and discard an unread body to keep the connection; we close
//  instead, so a client declaring a gigabyte cannot make us read it.
static bool
s_will_close (struct mg_connection *conn, const struct mg_request_info *request,
              const s_exchange_t *exchange)
{
    //  Outside a routed request, CivetWeb answers errors of requests it
    //  could not parse, and closes after them
    if (!exchange || !exchange->routing || !request || !request->request_method)
        return true;
    if (exchange->broken)
        return true;
    if (!exchange->body_read && s_has_body (conn, request))
        return true;
    const char *connection = mg_get_header (conn, "Connection");
    if (connection)
        return !s_has_token (connection, "keep-alive");
    return !request->http_version || strcmp (request->http_version, "1.1") != 0;
}

//  True when method is one of the comma-separated allow list.
static bool
s_allowed (const char *allow, const char *method)
{
    return method && s_has_token (allow, method);
}

//  Percent-decode the path of a request target (up to '?', if any) into
//  path (S_PATH_SIZE bytes). Returns false when it cannot name a resource:
//  longer than any route, or holding an encoded NUL, which a C string
//  would cut short into another, shorter path.
static bool
s_decode_path (const char *target, char *path)
{
    size_t length = strcspn (target, "?");
    if (length >= S_PATH_SIZE)
        return false;
    int decoded = mg_url_decode (target, (int) length, path, S_PATH_SIZE, 0);
    return decoded >= 0 && (size_t) decoded == strlen (path);
}

//  Find the route of a decoded path, or NULL. Matching is exact: a route
//  serves its path, and a prefix route also its path, a '/' and one
//  non-empty segment. No slash is merged and no dot segment resolved, so
//  one resource has one path.
static const s_route_t *
s_match (enp_http_t *self, const char *path)
{
    for (size_t index = 0; index < self->route_count; index++) {
        const s_route_t *route = &self->routes [index];
        if (strncmp (path, route->path, route->length) != 0)
            continue;
        const char *rest = path + route->length;
        if (*rest == '\0'
        || (route->prefix && rest [0] == '/' && rest [1] && !strchr (rest + 1, '/')))
            return route;
    }
    return NULL;
}

//  True when value is a header's decimal number: digits only, optional
//  trailing blanks (CivetWeb drops only the leading ones).
static bool
s_is_decimal (const char *value)
{
    size_t digits = strspn (value, "0123456789");
    return digits > 0 && value [digits + strspn (value + digits, " \t")] == '\0';
}

//  Return why the request's message framing is refused, or NULL. Behind
//  a proxy that reads the framing differently from CivetWeb (which takes
//  the first Content-Length, reads "33abc" and "+33" as 33, and lets
//  Transfer-Encoding win), a second request could hide in a body: RFC
//  9112 section 6.3 allows exactly one way to frame a body.
static const char *
s_framing_problem (const struct mg_request_info *request)
{
    int lengths = 0, codings = 0;
    for (int index = 0; index < request->num_headers; index++) {
        const char *name = request->http_headers [index].name;
        if (strcasecmp (name, "Content-Length") == 0) {
            if (!s_is_decimal (request->http_headers [index].value))
                return "Content-Length must be a number of bytes in decimal digits";
            lengths++;
        }
        else
        if (strcasecmp (name, "Transfer-Encoding") == 0)
            codings++;
    }
    if (lengths > 1)
        return "Content-Length must be given once";
    if (codings > 1)
        return "Transfer-Encoding must be given once";
    if (lengths && codings)
        return "a request must not carry both Content-Length and Transfer-Encoding";
    return NULL;
}

//  Seconds since start, on the monotonic clock.
static double
s_seconds_since (const struct timespec *start)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (double) (now.tv_sec - start->tv_sec)
         + (double) (now.tv_nsec - start->tv_nsec) / 1e9;
}

//  Answer a request no handler takes: 404 without a route, 405 with Allow
//  for a method the route lacks. Returns the status sent, or 0 when the
//  route's handler should answer.
static int
s_refuse (struct mg_connection *conn, const s_route_t *route, const char *method)
{
    if (!route)
        return enp_http_problem (conn, 404, "no such resource", NULL, NULL);
    if (route->allow && !s_allowed (route->allow, method))
        return enp_http_not_allowed (conn, route->allow);
    return 0;
}

//  CivetWeb's begin_request: check, route, answer, observe. Returns the
//  status sent (above 0 tells CivetWeb the request was handled).
static int
s_on_request (struct mg_connection *conn)
{
    enp_http_t *self = (enp_http_t *) mg_get_user_data (mg_get_context (conn));
    const struct mg_request_info *request = mg_get_request_info (conn);
    //  Without a record (init_connection could not allocate one) the
    //  request still gets one, on this stack, for its duration
    s_exchange_t fallback = { .slot = S_UNGUARDED };
    s_exchange_t *exchange = (s_exchange_t *) mg_get_user_connection_data (conn);
    if (!exchange) {
        exchange = &fallback;
        mg_set_user_connection_data (conn, exchange);
    }
    if (exchange->slot == ENP_HTTP_GUARD_REFUSED) {
        //  Answered 429 when it opened; a request that came anyway is not
        //  served
        mg_disable_connection_keep_alive (conn);
        return 429;
    }
    char path [S_PATH_SIZE] = "";
    exchange->routing = true;
    exchange->body_read = false;
    exchange->broken = false;
    exchange->code = 0;
    exchange->path = path;
    enp_http_guard_head (self->guard, exchange->slot, s_has_body (conn, request));
    struct timespec start;
    if (self->observe)
        clock_gettime (CLOCK_MONOTONIC, &start);
    const s_route_t *route = NULL;
    const char *framing = s_framing_problem (request);
    int code;
    if (framing) {
        exchange->broken = true;
        code = enp_http_problem (conn, 400, framing, NULL, NULL);
    }
    else
    if (request->query_string && strstr (request->query_string, "%00"))
        code = enp_http_problem (conn, 400, "the query string holds an encoded"
                                 " NUL (%00)", NULL, NULL);
    else {
        //  CivetWeb leaves the path undecoded (decode_url=no): decoding it
        //  here is the only way to see an encoded NUL
        if (request->local_uri_raw && s_decode_path (request->local_uri_raw, path))
            route = s_match (self, path);
        code = s_refuse (conn, route, request->request_method);
        if (!code)
            code = route->handler (route->arg, conn, request);
    }
    //  A handler that wrote nothing must not leave the client waiting
    if (exchange->code == 0 && code <= 0)
        code = enp_http_problem (conn, 500, "the request was not answered",
                                 NULL, NULL);
    if (exchange->code)
        code = exchange->code;
    exchange->routing = false;
    exchange->path = NULL;
    enp_http_guard_wait (self->guard, exchange->slot);
    if (exchange == &fallback)
        mg_set_user_connection_data (conn, NULL);
    if (self->observe)
        self->observe (self->observe_arg, request->request_method,
                       route? route->id: ENP_HTTP_UNROUTED, code,
                       s_seconds_since (&start));
    return code;
}

//  True when CivetWeb read the request line of a request it refused: a
//  method, an origin-form target and HTTP/1.x.
static bool
s_request_line_read (const struct mg_request_info *request)
{
    return request && request->request_method && request->request_uri
        && request->request_uri [0] == '/' && request->http_version
        && (strcmp (request->http_version, "1.1") == 0
         || strcmp (request->http_version, "1.0") == 0);
}

//  CivetWeb's http_error: its own errors, answered as problem documents.
//  Inside a routed request (a file that vanished) the router observes the
//  response; outside one, it is observed here. CivetWeb refuses methods it
//  does not know (TRACE, anything made up) with 400 before routing; the
//  path decides instead, as for every other method: 404 where no route
//  is, 405 with Allow where the route lacks the method. A head the guard
//  cut at the deadline reads to CivetWeb as malformed: it is a 408.
static int
s_on_error (struct mg_connection *conn, int status, const char *message)
{
    enp_http_t *self = (enp_http_t *) mg_get_user_data (mg_get_context (conn));
    s_exchange_t *exchange = (s_exchange_t *) mg_get_user_connection_data (conn);
    bool routing = exchange && exchange->routing;
    const struct mg_request_info *request = mg_get_request_info (conn);
    //  A connection the guard refused had its answer when it opened
    if (exchange && exchange->slot == ENP_HTTP_GUARD_REFUSED)
        return 0;
    if (exchange && !routing)
        exchange->refused = true;
    const s_route_t *route = NULL;
    int code = 0;
    char path [S_PATH_SIZE];
    if (self && !routing && s_expired (conn)) {
        char detail [96];
        snprintf (detail, sizeof detail, "the request did not arrive whole"
                  " within %ld ms", self->options.request_timeout_ms);
        code = enp_http_problem (conn, 408, detail, NULL, NULL);
    }
    else
    if (self && !routing && status == 400 && s_request_line_read (request)) {
        if (s_decode_path (request->request_uri, path))
            route = s_match (self, path);
        code = s_refuse (conn, route, request->request_method);
        if (!code)
            route = NULL;           //  Refused for another reason
    }
    if (!code) {
        //  CivetWeb says 411 (Length Required) for a Content-Length that
        //  is not a number: the request is malformed, not lacking one
        code = status == 411? 400: status;
        enp_http_problem (conn, code, status == 411
                          ? "Content-Length must be a number of bytes in decimal digits"
                          : message && *message? message: "request refused",
                          NULL, NULL);
    }
    if (self && self->observe && !routing)
        self->observe (self->observe_arg, request? request->request_method: NULL,
                       route? route->id: ENP_HTTP_UNROUTED, code, 0);
    return 0;
}

//  CivetWeb's init_connection, on the worker thread that took the
//  connection: the connection's record, and its place in the guard. Over
//  the per-client cap the guard shut the connection's receiving side, so
//  it holds the thread only while it is told why (429) and closed.
static int
s_on_connect (const struct mg_connection *connecting, void **record_p)
{
    //  CivetWeb hands a const connection; answering a refusal writes to it
    struct mg_connection *conn = (struct mg_connection *) connecting;
    enp_http_t *self = (enp_http_t *) mg_get_user_data (mg_get_context (conn));
    s_exchange_t *exchange = (s_exchange_t *) calloc (1, sizeof (s_exchange_t));
    *record_p = exchange;
    if (!exchange)
        return 0;
    exchange->slot = S_UNGUARDED;
    if (!self || self->request_offset < 0)
        return 0;
    //  Filled in for this connection, though not yet handed out
    const struct mg_request_info *client = (const struct mg_request_info *)
        ((const char *) conn + self->request_offset);
    exchange->slot = enp_http_guard_open (self->guard, client->remote_addr,
                                          client->remote_port,
                                          client->server_port);
    if (exchange->slot == ENP_HTTP_GUARD_REFUSED) {
        exchange->refused = true;
        char detail [128];
        snprintf (detail, sizeof detail, "too many connections from %.46s:"
                  " at most %d at once", client->remote_addr,
                  self->options.max_per_client);
        //  Before any request: no method to honour, and the writer closes
        enp_http_response_t extra = { .retry_after = 1 };
        enp_http_problem (conn, 429, detail, NULL, &extra);
        if (self->observe)
            self->observe (self->observe_arg, NULL, ENP_HTTP_UNROUTED, 429, 0);
    }
    return 0;
}

//  CivetWeb's connection_close, the last moment to answer a request it
//  neither routed nor refused: the asterisk form ("OPTIONS *", which load
//  balancers use to ping a server) and absolute-form targets naming
//  another server. CivetWeb would close in silence, which a client
//  reads as a crash. Then the guard forgets the connection, while its
//  socket is still its own, and the record goes.
static void
s_on_close (const struct mg_connection *closing)
{
    //  CivetWeb hands out its own connection as const here; writing to it
    //  is still allowed until this callback returns
    struct mg_connection *conn = (struct mg_connection *) closing;
    enp_http_t *self = (enp_http_t *) mg_get_user_data (mg_get_context (conn));
    s_exchange_t *exchange = (s_exchange_t *) mg_get_user_connection_data (conn);
    const struct mg_request_info *request = mg_get_request_info (conn);
    if (self && exchange && !exchange->refused && request
    &&  request->request_method && request->request_uri && !request->local_uri) {
        int code;
        bool asterisk = strcmp (request->request_uri, "*") == 0;
        if (asterisk && strcmp (request->request_method, "OPTIONS") == 0) {
            enp_http_response_t response = { .code = 200, .allow = self->methods };
            code = enp_http_send (conn, &response);
        }
        else
        if (asterisk)
            code = enp_http_problem (conn, 400, "the asterisk form (*) of a"
                                     " request target is only for OPTIONS",
                                     NULL, NULL);
        else
            code = enp_http_problem (conn, 421, "the request names another"
                                     " server; this one is not a proxy",
                                     NULL, NULL);
        if (self->observe)
            self->observe (self->observe_arg, request->request_method,
                           ENP_HTTP_UNROUTED, code, 0);
    }
    if (self && self->guard && exchange)
        enp_http_guard_close (self->guard, exchange->slot);
    mg_set_user_connection_data (conn, NULL);
    free (exchange);
}

//  CivetWeb's log_message: into our log. While starting, the first message
//  is why the start failed (CivetWeb's start error says only "Failed to
//  setup server ports"), so it is kept for the caller, who knows whether it
//  is an error.
static int
s_on_log (const struct mg_connection *conn, const char *message)
{
    enp_http_t *self = (enp_http_t *) mg_get_user_data (mg_get_context (conn));
    if (self && atomic_load (&self->starting)) {
        if (!*self->failure)
            snprintf (self->failure, sizeof self->failure, "%s", message);
        enp_log_debug ("%s: %s", self->name, message);
    }
    else
    if (self) {
        //  A client can make CivetWeb complain (a TLS handshake that fails
        //  logs a line): at most a few lines per window
        uint64_t held = 0;
        pthread_mutex_lock (&self->log_mutex);
        bool allowed = enp_ratelimit_allow (self->log_limit, enp_time_mono_ms (),
                                            &held);
        pthread_mutex_unlock (&self->log_mutex);
        if (allowed && held)
            enp_log_warn ("%s: %s (and %llu more messages before it, not shown)",
                          self->name, message, (unsigned long long) held);
        else
        if (allowed)
            enp_log_warn ("%s: %s", self->name, message);
    }
    else
        enp_log_warn ("http: %s", message);
    return 1;
}

//  Open and drop connections to the server until told to stop. Each is
//  non-blocking: a full backlog must not hold this thread.
static void *
s_knock (void *arg)
{
    s_waker_t *waker = (s_waker_t *) arg;
    while (!atomic_load (&waker->done)) {
        int fd = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        //  Whether it connects does not matter: trying wakes the poll
        if (fd >= 0) {
            (void) connect (fd, (struct sockaddr *) &waker->address,
                            sizeof waker->address);
            close (fd);
        }
        usleep (S_WAKE_INTERVAL_US);
    }
    return NULL;
}

//  Stop a CivetWeb server listening on host:port. Its listener looks at
//  the stop flag only between polls of 2 s, so stopping took up to 2 s per
//  server, which a service's SIGTERM waits for; a connection wakes the
//  poll, so a thread knocks on the port until the server is down.
static void
s_stop (struct mg_context *context, const char *host, int port)
{
    s_waker_t waker;
    memset (&waker, 0, sizeof waker);
    atomic_init (&waker.done, false);
    waker.address.sin_family = AF_INET;
    waker.address.sin_port = htons ((uint16_t) port);
    if (strcmp (host, "0.0.0.0") == 0)
        host = "127.0.0.1";
    pthread_t thread;
    bool knocking = port > 0
                 && inet_pton (AF_INET, host, &waker.address.sin_addr) == 1
                 && pthread_create (&thread, NULL, s_knock, &waker) == 0;
    mg_stop (context);
    if (knocking) {
        atomic_store (&waker.done, true);
        pthread_join (thread, NULL);
    }
}

//  The throwaway server's connection_close: note where a connection keeps
//  its request info (CivetWeb answers mg_get_request_info here).
static void
s_on_learn (const struct mg_connection *conn)
{
    atomic_llong *offset = (atomic_llong *) mg_get_user_data (mg_get_context (conn));
    const struct mg_request_info *request = mg_get_request_info (conn);
    if (request)
        atomic_store (offset, (long long) ((const char *) request
                                         - (const char *) conn));
}

//  Return the offset of a connection's request info from the connection,
//  or -1. The guard needs the client's address as soon as a worker takes
//  a connection, in init_connection: CivetWeb has filled it in by then
//  (for its error handler), but mg_get_request_info answers NULL until the
//  request is read. The offset is the library's; it is learned from one
//  connection to a throwaway plain server on loopback, since a TLS server
//  cannot be reached without a handshake.
static long long
s_learn_layout (void)
{
    atomic_llong offset;
    atomic_init (&offset, -1);
    const char *options [] = { "listening_ports", "127.0.0.1:0",
                               "num_threads", "1", NULL };
    struct mg_callbacks callbacks;
    memset (&callbacks, 0, sizeof callbacks);
    callbacks.connection_close = s_on_learn;
    struct mg_context *context = mg_start (&callbacks, &offset, options);
    struct mg_server_port ports [1];
    if (!context || mg_get_server_ports (context, 1, ports) != 1) {
        if (context)
            mg_stop (context);
        return -1;
    }
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in address = { .sin_family = AF_INET,
                                   .sin_port = htons ((uint16_t) ports [0].port) };
    inet_pton (AF_INET, "127.0.0.1", &address.sin_addr);
    if (fd >= 0
    &&  connect (fd, (struct sockaddr *) &address, sizeof address) == 0) {
        close (fd);
        for (int waited = 0; atomic_load (&offset) < 0 && waited < S_LEARN_WAIT_MS;
             waited++)
            usleep (1000);
    }
    else
    if (fd >= 0)
        close (fd);
    s_stop (context, "127.0.0.1", ports [0].port);
    return atomic_load (&offset);
}

//  List the methods of every route's allow list, each once, for OPTIONS *.
static void
s_collect_methods (enp_http_t *self)
{
    size_t used = 0;
    self->methods [0] = '\0';
    for (size_t index = 0; index < self->route_count; index++) {
        const char *list = self->routes [index].allow;
        while (list && *list) {
            list += strspn (list, " \t,");
            size_t length = strcspn (list, " \t,");
            char method [S_NUMBER_SIZE];
            if (length > 0 && length < sizeof method) {
                memcpy (method, list, length);
                method [length] = '\0';
                if (!s_has_token (self->methods, method)) {
                    if (used)
                        used = s_append (self->methods, used, sizeof self->methods, ", ");
                    used = s_append (self->methods, used, sizeof self->methods, method);
                }
            }
            list += length;
        }
    }
}

//  Load the two libraries that let Debian's CivetWeb find OpenSSL 3
//  (lib/tls/*.c): ../lib/enp/libenp-lib{crypto,ssl}-compat.so from the
//  binary's folder, where the build, cmake --install and the images put
//  them. They stay
//  loaded: CivetWeb's dlopen of libssl.so and libcrypto.so finds them by
//  their SONAME. Returns 0, or -1 with why in error.
static int
s_load_tls_compat (char *error, size_t size)
{
    char binary [PATH_MAX];
    ssize_t length = readlink ("/proc/self/exe", binary, sizeof binary - 1);
    if (length <= 0) {
        snprintf (error, size, "cannot find the binary's folder");
        return -1;
    }
    binary [length] = '\0';
    const char *dir = dirname (binary);
    const char *parts [] = { "crypto", "ssl" };
    for (size_t index = 0; index < 2; index++) {
        char path [PATH_MAX + 64];
        snprintf (path, sizeof path, "%s/../lib/enp/libenp-lib%s-compat.so", dir,
                  parts [index]);
        if (!dlopen (path, RTLD_NOW | RTLD_LOCAL)) {
            snprintf (error, size, "%s", dlerror ());
            return -1;
        }
    }
    return 0;
}

//  Create a server.
enp_http_t *
enp_http_new (const enp_http_options_t *options)
{
    assert (options);
    enp_http_t *self = (enp_http_t *) calloc (1, sizeof (enp_http_t));
    if (!self)
        return NULL;
    self->options = *options;
    self->name = strdup (options->name? options->name: "http");
    self->host = strdup (options->host? options->host: "127.0.0.1");
    if (options->tls_cert && *options->tls_cert)
        self->tls_cert = strdup (options->tls_cert);
    atomic_init (&self->starting, false);
    pthread_mutex_init (&self->log_mutex, NULL);
    self->log_limit = enp_ratelimit_new (S_LOG_BURST, S_LOG_WINDOW_MS);
    if (!self->name || !self->host || !self->log_limit
    || (options->tls_cert && *options->tls_cert && !self->tls_cert)) {
        enp_http_destroy (&self);
        return NULL;
    }
    self->options.name = self->name;
    self->options.host = self->host;
    self->options.tls_cert = self->tls_cert;
    return self;
}

//  Stop serving and free the server.
void
enp_http_destroy (enp_http_t **self_p)
{
    assert (self_p);
    if (!*self_p)
        return;
    enp_http_t *self = *self_p;
    if (self->context)
        s_stop (self->context, self->host, self->port);
    enp_http_guard_destroy (&self->guard);
    for (size_t index = 0; index < self->route_count; index++) {
        free (self->routes [index].path);
        free (self->routes [index].allow);
    }
    enp_ratelimit_destroy (&self->log_limit);
    pthread_mutex_destroy (&self->log_mutex);
    free (self->tls_cert);
    free (self->host);
    free (self->name);
    free (self);
    *self_p = NULL;
}

//  Return the port bound.
int
enp_http_port (enp_http_t *self)
{
    assert (self);
    return self->port;
}

//  Return why the last start failed.
const char *
enp_http_failure (enp_http_t *self)
{
    assert (self);
    return self->failure;
}

//  Add a route.
int
enp_http_route (enp_http_t *self, const enp_http_route_t *route)
{
    assert (self);
    assert (route && route->path && route->handler);
    if (self->context || self->route_count == S_ROUTES_MAX)
        return -1;
    s_route_t *entry = &self->routes [self->route_count];
    entry->path = strdup (route->path);
    entry->allow = route->allow? strdup (route->allow): NULL;
    if (!entry->path || (route->allow && !entry->allow)) {
        free (entry->path);
        free (entry->allow);
        return -1;
    }
    entry->length = strlen (entry->path);
    entry->prefix = route->prefix;
    entry->id = route->id;
    entry->handler = route->handler;
    entry->arg = route->arg;
    self->route_count++;
    return 0;
}

//  Observe every response.
void
enp_http_observe (enp_http_t *self, enp_http_observe_fn *observe, void *arg)
{
    assert (self);
    assert (!self->context);
    self->observe = observe;
    self->observe_arg = arg;
}

//  Listen and serve.
int
enp_http_start (enp_http_t *self)
{
    assert (self);
    if (self->context)
        return 0;
    const enp_http_options_t *options = &self->options;
    char listen [128], threads [S_NUMBER_SIZE], request_timeout [S_NUMBER_SIZE];
    char keep_alive [S_NUMBER_SIZE], max_head [S_NUMBER_SIZE];
    char backlog [S_NUMBER_SIZE];
    //  CivetWeb's suffix s: this port speaks TLS
    snprintf (listen, sizeof listen, "%s:%d%s", options->host, options->port,
              self->tls_cert? "s": "");
    snprintf (threads, sizeof threads, "%d", options->threads);
    snprintf (request_timeout, sizeof request_timeout, "%ld",
              options->request_timeout_ms);
    //  The guard cuts any wait for a request at the request timeout
    snprintf (keep_alive, sizeof keep_alive, "%ld",
              options->keep_alive_ms < options->request_timeout_ms
              ? options->keep_alive_ms: options->request_timeout_ms);
    snprintf (max_head, sizeof max_head, "%d", S_MAX_HEAD);
    snprintf (backlog, sizeof backlog, "%d", S_LISTEN_BACKLOG);
    const char *civetweb_options [] = {
        "listening_ports", listen,
        "num_threads", threads,
        "request_timeout_ms", request_timeout,
        "enable_keep_alive", "yes",
        "keep_alive_timeout_ms", keep_alive,
        //  Nagle would hold each response back waiting for an ACK
        "tcp_nodelay", "1",
        "max_request_size", max_head,
        "listen_backlog", backlog,
        //  Files are sent only through enp_http_send_file, never listed
        "enable_directory_listing", "no",
        //  The router decodes the path itself (s_decode_path), to refuse
        //  an encoded NUL rather than route what precedes it
        "decode_url", "no",
        //  An absolute target (http://host:port/path) is served when its
        //  port is this server's; CivetWeb otherwise wants the host to be
        //  its authentication domain, which this server has no use for
        "enable_auth_domain_check", "no",
        //  Last: without a certificate the list ends at its NULL name
        self->tls_cert? "ssl_certificate": NULL, self->tls_cert,
        "ssl_protocol_version", S_TLS_VERSIONS,
        NULL
    };
    struct mg_callbacks callbacks;
    memset (&callbacks, 0, sizeof callbacks);
    callbacks.begin_request = s_on_request;
    callbacks.http_error = s_on_error;
    callbacks.log_message = s_on_log;
    callbacks.init_connection = s_on_connect;
    callbacks.connection_close = s_on_close;
    s_collect_methods (self);
    enp_http_guard_options_t guard = {
        .name = self->name, .threads = options->threads,
        .max_per_client = options->max_per_client,
        .deadline_ms = options->request_timeout_ms
    };
    self->guard = enp_http_guard_new (&guard);
    if (!self->guard) {
        snprintf (self->failure, sizeof self->failure, "out of memory");
        return -1;
    }
    self->request_offset = s_learn_layout ();
    if (self->request_offset < 0)
        enp_log_warn ("%s: cannot learn CivetWeb's connection layout; no"
                      " request deadline or per-client cap beyond CivetWeb's"
                      " own timeouts", self->name);
    //  Without them CivetWeb may still find a working OpenSSL: say why
    //  only if it does not
    char compat [S_FAILURE_SIZE] = "";
    if (self->tls_cert)
        s_load_tls_compat (compat, sizeof compat);
    self->failure [0] = '\0';
    atomic_store (&self->starting, true);
    self->context = mg_start (&callbacks, self, civetweb_options);
    atomic_store (&self->starting, false);
    if (!self->context) {
        if (!*self->failure)
            snprintf (self->failure, sizeof self->failure,
                      "CivetWeb could not start");
        if (*compat)
            snprintf (self->failure + strlen (self->failure),
                      sizeof self->failure - strlen (self->failure),
                      " (and the OpenSSL 3 compatibility libraries CivetWeb"
                      " needs were not loaded: %s)", compat);
        enp_http_guard_destroy (&self->guard);
        return -1;
    }
    struct mg_server_port ports [1];
    if (mg_get_server_ports (self->context, 1, ports) == 1)
        self->port = ports [0].port;
    return 0;
}

//  Write a whole response with one mg_write.
int
enp_http_send (struct mg_connection *conn, const enp_http_response_t *response)
{
    assert (response);
    const struct mg_request_info *request = mg_get_request_info (conn);
    s_exchange_t *exchange = (s_exchange_t *) mg_get_user_connection_data (conn);
    //  CivetWeb reports some errors before it has parsed a request line,
    //  so the method may be missing
    bool head = request && request->request_method
             && strcmp (request->request_method, "HEAD") == 0;
    bool close = s_will_close (conn, request, exchange);
    char buffer [S_INLINE_RESPONSE];
    char number [S_NUMBER_SIZE];
    size_t size = s_append (buffer, 0, sizeof buffer, "HTTP/1.1 ");
    size = s_append (buffer, size, sizeof buffer,
                     s_number (number, (uint64_t) response->code));
    size = s_append (buffer, size, sizeof buffer, " ");
    size = s_append (buffer, size, sizeof buffer, enp_http_reason (response->code));
    size = s_append (buffer, size, sizeof buffer, "\r\n");
    if (response->content_type)
        size = s_append_header (buffer, size, sizeof buffer, "Content-Type",
                                response->content_type);
    size = s_append_header (buffer, size, sizeof buffer, "Content-Length",
                            s_number (number, response->size));
    size = s_append_header (buffer, size, sizeof buffer, "Cache-Control",
                            response->cache_control? response->cache_control
                                                   : "no-store");
    if (response->location)
        size = s_append_header (buffer, size, sizeof buffer, "Location",
                                response->location);
    if (response->allow)
        size = s_append_header (buffer, size, sizeof buffer, "Allow",
                                response->allow);
    if (response->retry_after > 0)
        size = s_append_header (buffer, size, sizeof buffer, "Retry-After",
                                s_number (number, (uint64_t) response->retry_after));
    if (response->authenticate)
        size = s_append_header (buffer, size, sizeof buffer, "WWW-Authenticate",
                                response->authenticate);
    if (close)
        size = s_append (buffer, size, sizeof buffer, "Connection: close\r\n");
    else
    if (request && request->http_version
    &&  strcmp (request->http_version, "1.1") != 0)
        //  An HTTP/1.0 client keeps the connection only when told
        size = s_append (buffer, size, sizeof buffer, "Connection: keep-alive\r\n");
    size = s_append (buffer, size, sizeof buffer, "\r\n");
    size_t body_size = head || !response->body? 0: response->size;
    if (close)
        mg_disable_connection_keep_alive (conn);
    if (exchange)
        exchange->code = response->code;
    if (size + body_size <= sizeof buffer) {
        if (body_size)
            memcpy (buffer + size, response->body, body_size);
        mg_write (conn, buffer, size + body_size);
        return response->code;
    }
    char *whole = (char *) malloc (size + body_size);
    if (!whole) {
        //  Two writes rather than none: slower, still a response
        mg_write (conn, buffer, size);
        mg_write (conn, response->body, body_size);
        return response->code;
    }
    memcpy (whole, buffer, size);
    memcpy (whole + size, response->body, body_size);
    mg_write (conn, whole, size + body_size);
    free (whole);
    return response->code;
}

//  Send a problem document.
int
enp_http_problem (struct mg_connection *conn, int code, const char *detail,
                  json_t *errors, const enp_http_response_t *extra)
{
    json_t *problem = enp_http_problem_new (code, detail, errors);
    char *text = problem? json_dumps (problem, JSON_COMPACT | JSON_PRESERVE_ORDER)
                        : NULL;
    json_decref (problem);
    enp_http_response_t response = { 0 };
    if (extra)
        response = *extra;
    response.code = code;
    response.content_type = "application/problem+json";
    response.body = text? text: "{}";
    response.size = strlen (response.body);
    enp_http_send (conn, &response);
    free (text);
    return code;
}

//  Build a problem document.
json_t *
enp_http_problem_new (int code, const char *detail, json_t *errors)
{
    json_t *problem = json_pack ("{s:s, s:s, s:i, s:s}",
        "type", "about:blank", "title", enp_http_reason (code),
        "status", code, "detail", detail? detail: "");
    if (problem && errors && json_array_size (errors) > 0)
        json_object_set (problem, "errors", errors);
    json_decref (errors);
    return problem;
}

//  Return the request's path, percent-decoded, as it was routed.
const char *
enp_http_path (struct mg_connection *conn)
{
    s_exchange_t *exchange = (s_exchange_t *) mg_get_user_connection_data (conn);
    return exchange && exchange->routing && exchange->path? exchange->path: "";
}

//  Answer 405.
int
enp_http_not_allowed (struct mg_connection *conn, const char *allow)
{
    const struct mg_request_info *request = mg_get_request_info (conn);
    char detail [128];
    snprintf (detail, sizeof detail, "method %.16s is not allowed here; use %s",
              request->request_method, allow);
    enp_http_response_t extra = { .allow = allow };
    return enp_http_problem (conn, 405, detail, NULL, &extra);
}

//  Return the reason phrase of a status.
const char *
enp_http_reason (int code)
{
    for (size_t index = 0; index < sizeof s_reasons / sizeof s_reasons [0]
                           && s_reasons [index].code <= code; index++)
        if (s_reasons [index].code == code)
            return s_reasons [index].reason;
    size_t class = (size_t) (code / 100 - 1);
    return class < sizeof s_classes / sizeof s_classes [0]? s_classes [class]
                                                          : "Unknown";
}

//  True when the request's Content-Type is application/json.
bool
enp_http_is_json (struct mg_connection *conn)
{
    static const char json [] = "application/json";
    const char *type = mg_get_header (conn, "Content-Type");
    if (!type)
        return false;
    while (*type == ' ')
        type++;
    size_t length = strcspn (type, ";");
    while (length > 0 && type [length - 1] == ' ')
        length--;
    return length == sizeof json - 1 && strncasecmp (type, json, length) == 0;
}

//  Read the whole body, at most max bytes.
int
enp_http_read_body (struct mg_connection *conn, size_t max, char **body_p,
                    size_t *size_p)
{
    assert (body_p && size_p);
    const struct mg_request_info *request = mg_get_request_info (conn);
    s_exchange_t *exchange = (s_exchange_t *) mg_get_user_connection_data (conn);
    long long declared = request->content_length;
    if (declared > (long long) max)
        return 413;                 //  Checked before allocating anything
    //  Without a length (chunked) read one byte past the cap to see it
    size_t capacity = declared >= 0? (size_t) declared: max + 1;
    char *body = (char *) malloc (capacity + 1);
    if (!body)
        return 500;
    size_t size = 0;
    int rc = 1;
    while (size < capacity) {
        rc = mg_read (conn, body + size, capacity - size);
        if (rc <= 0)
            break;
        size += (size_t) rc;
    }
    if (size > max) {
        free (body);
        return 413;
    }
    //  Cut short by the guard: the deadline passed
    if (rc <= 0 && s_expired (conn)) {
        free (body);
        return 408;
    }
    if (declared >= 0 && size < (size_t) declared) {
        free (body);
        return 400;                 //  Client sent less than it declared
    }
    //  All read: with a length, when it came; chunked, when the end did;
    //  the handler runs without a deadline
    if (exchange && (declared >= 0 || rc <= 0)) {
        exchange->body_read = true;
        enp_http_t *self = (enp_http_t *) mg_get_user_data (mg_get_context (conn));
        if (self && self->guard)
            enp_http_guard_received (self->guard, exchange->slot);
    }
    body [size] = '\0';
    *body_p = body;
    *size_p = size;
    return 0;
}

//  Take a JSON request body.
int
enp_http_read_json (struct mg_connection *conn, size_t max, char **body_p,
                    size_t *size_p)
{
    if (!enp_http_is_json (conn))
        return enp_http_problem (conn, 415, "Content-Type must be application/json",
                                 NULL, NULL);
    int code = enp_http_read_body (conn, max, body_p, size_p);
    if (code == 408) {
        enp_http_t *self = (enp_http_t *) mg_get_user_data (mg_get_context (conn));
        char detail [96];
        snprintf (detail, sizeof detail, "the request did not arrive whole"
                  " within %ld ms", self->options.request_timeout_ms);
        return enp_http_problem (conn, 408, detail, NULL, NULL);
    }
    if (code == 413) {
        char detail [96];
        snprintf (detail, sizeof detail, "request body is over the limit of"
                  " %zu bytes", max);
        return enp_http_problem (conn, 413, detail, NULL, NULL);
    }
    if (code)
        return enp_http_problem (conn, code, "could not read the request body",
                                 NULL, NULL);
    return 0;
}

//  Send a regular file.
int
enp_http_send_file (struct mg_connection *conn, const char *path,
                    const char *content_type)
{
    //  CivetWeb would list a directory or answer 403 for it; to a client
    //  of /docs a directory is simply not a file that exists
    struct stat status;
    if (stat (path, &status) != 0 || !S_ISREG (status.st_mode))
        return enp_http_problem (conn, 404, "no such file", NULL, NULL);
    mg_send_mime_file2 (conn, path, content_type, NULL);
    return 200;
}

//  Swallow a libcurl response body.
size_t
enp_http_discard (char *data, size_t size, size_t count, void *arg)
{
    (void) data;
    (void) arg;
    return size * count;
}
