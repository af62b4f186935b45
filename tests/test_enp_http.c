/*  test_enp_http - the HTTP layer every server of the services uses

    Each case starts a real server on a free loopback port and talks to it
    with libcurl or, where the exact bytes matter (what a connection does
    after a response, malformed requests), over a raw socket.
*/
#include <check.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <civetweb.h>
#include <jansson.h>
#include "enp_http.h"
#include "testkit.h"

#define S_MAX_BODY      64          //  cap of the echo route
#define S_BIG_SIZE      100000      //  a response bigger than any buffer inline
#define S_RAW_MAX       (S_BIG_SIZE + 4096)

enum { S_ROUTE_HELLO = 1, S_ROUTE_ECHO, S_ROUTE_FILES, S_ROUTE_SILENT,
       S_ROUTE_BIG };

//  What the observer saw, under a lock: it runs on the server's threads.
typedef struct {
    pthread_mutex_t mutex;
    int calls;
    char method [16];
    int route;
    int code;
    double seconds;
} s_seen_t;

static void
s_observe (void *arg, const char *method, int route, int code, double seconds)
{
    s_seen_t *seen = (s_seen_t *) arg;
    pthread_mutex_lock (&seen->mutex);
    seen->calls++;
    snprintf (seen->method, sizeof seen->method, "%s", method? method: "(none)");
    seen->route = route;
    seen->code = code;
    seen->seconds = seconds;
    pthread_mutex_unlock (&seen->mutex);
}

//  Copy what the observer saw last once it saw calls responses: it is
//  told just after a response is written, so the client may be first.
static s_seen_t
s_seen (s_seen_t *seen, int calls)
{
    for (int tries = 0; tries < 500; tries++) {
        pthread_mutex_lock (&seen->mutex);
        s_seen_t copy = *seen;
        pthread_mutex_unlock (&seen->mutex);
        if (copy.calls >= calls)
            return copy;
        usleep (10 * 1000);
    }
    ck_abort_msg ("the observer saw fewer than %d responses", calls);
}

//  GET /hello: a small JSON body.
static int
s_hello (void *arg, struct mg_connection *conn,
         const struct mg_request_info *request)
{
    (void) arg;
    (void) request;
    static const char body [] = "{\"hello\":\"world\"}";
    enp_http_response_t response = { .code = 200, .body = body,
        .size = sizeof body - 1, .content_type = "application/json",
        .location = "/hello/1", .retry_after = 7 };
    return enp_http_send (conn, &response);
}

//  POST /echo: the JSON body back, at most S_MAX_BODY bytes.
static int
s_echo (void *arg, struct mg_connection *conn,
        const struct mg_request_info *request)
{
    (void) arg;
    (void) request;
    char *body = NULL;
    size_t size = 0;
    int sent = enp_http_read_json (conn, S_MAX_BODY, &body, &size);
    if (sent)
        return sent;
    enp_http_response_t response = { .code = 201, .body = body, .size = size,
                                     .content_type = "application/json" };
    int code = enp_http_send (conn, &response);
    free (body);
    return code;
}

//  GET /files/<name>: a file from the folder given as arg.
static int
s_files (void *arg, struct mg_connection *conn,
         const struct mg_request_info *request)
{
    (void) request;
    char path [512];
    snprintf (path, sizeof path, "%s/%s", (const char *) arg,
              enp_http_path (conn) + strlen ("/files/"));
    return enp_http_send_file (conn, path, "text/plain; charset=utf-8");
}

//  GET /silent: a handler that forgets to answer.
static int
s_silent (void *arg, struct mg_connection *conn,
          const struct mg_request_info *request)
{
    (void) arg;
    (void) conn;
    (void) request;
    return 0;
}

//  GET /big: a body far larger than the writer's inline buffer.
static int
s_big (void *arg, struct mg_connection *conn,
       const struct mg_request_info *request)
{
    (void) arg;
    (void) request;
    char *body = (char *) malloc (S_BIG_SIZE);
    for (size_t index = 0; index < S_BIG_SIZE; index++)
        body [index] = (char) ('a' + index % 26);
    enp_http_response_t response = { .code = 200, .body = body,
        .size = S_BIG_SIZE, .content_type = "text/plain" };
    int code = enp_http_send (conn, &response);
    free (body);
    return code;
}

//  A server with every route above, observed into seen; files from dir;
//  requests due within timeout_ms, at most max_per_client connections
//  from one address (0: any).
static enp_http_t *
s_server_with (s_seen_t *seen, const char *dir, long timeout_ms,
               int max_per_client)
{
    mg_init_library (0);
    enp_http_options_t options = { .name = "test", .host = "127.0.0.1",
        .port = 0, .threads = 4, .request_timeout_ms = timeout_ms,
        .keep_alive_ms = timeout_ms, .max_per_client = max_per_client };
    enp_http_t *http = enp_http_new (&options);
    ck_assert_ptr_nonnull (http);
    const enp_http_route_t routes [] = {
        { .path = "/hello", .allow = "GET, HEAD", .id = S_ROUTE_HELLO,
          .handler = s_hello },
        { .path = "/echo", .allow = "POST", .id = S_ROUTE_ECHO,
          .handler = s_echo },
        { .path = "/files", .prefix = true, .allow = "GET, HEAD",
          .id = S_ROUTE_FILES, .handler = s_files, .arg = (void *) dir },
        { .path = "/silent", .id = S_ROUTE_SILENT, .handler = s_silent },
        { .path = "/big", .id = S_ROUTE_BIG, .handler = s_big }
    };
    for (size_t index = 0; index < sizeof routes / sizeof routes [0]; index++)
        ck_assert_int_eq (enp_http_route (http, &routes [index]), 0);
    pthread_mutex_init (&seen->mutex, NULL);
    enp_http_observe (http, s_observe, seen);
    ck_assert_int_eq (enp_http_start (http), 0);
    ck_assert_str_eq (enp_http_failure (http), "");
    ck_assert_int_gt (enp_http_port (http), 0);
    return http;
}

//  A server with every route, a 2 s request timeout and no cap.
static enp_http_t *
s_server_new (s_seen_t *seen, const char *dir)
{
    return s_server_with (seen, dir, 2000, 0);
}

//  Stop a server: promptly, with no help (enp_http wakes CivetWeb's
//  listener itself).
static void
s_server_destroy (enp_http_t **http_p, s_seen_t *seen)
{
    enp_http_destroy (http_p);
    pthread_mutex_destroy (&seen->mutex);
    mg_exit_library ();
}

//  Make a request with libcurl to a path of the server.
static testkit_response_t
s_request (enp_http_t *http, const char *method, const char *path,
           const char *type, const char *body)
{
    char url [256];
    snprintf (url, sizeof url, "http://127.0.0.1:%d%s", enp_http_port (http), path);
    testkit_response_t response;
    testkit_http (method, url, type, body, body? strlen (body): 0, NULL, &response);
    return response;
}

//  Assert a problem document with this status; returns it (caller decrefs).
static json_t *
s_assert_problem (const testkit_response_t *response, long code)
{
    ck_assert_int_eq (response->code, code);
    char type [128];
    ck_assert_int_eq (testkit_header (response, "Content-Type", type, sizeof type), 0);
    ck_assert_str_eq (type, "application/problem+json");
    json_t *problem = json_loads (response->body, 0, NULL);
    ck_assert_ptr_nonnull (problem);
    ck_assert_str_eq (json_string_value (json_object_get (problem, "type")),
                      "about:blank");
    ck_assert_str_eq (json_string_value (json_object_get (problem, "title")),
                      enp_http_reason ((int) code));
    ck_assert_int_eq (json_integer_value (json_object_get (problem, "status")), code);
    ck_assert (json_is_string (json_object_get (problem, "detail")));
    return problem;
}

//  Open a raw connection with a receive timeout, so a test cannot hang.
static int
s_connect (enp_http_t *http)
{
    int fd = testkit_connect (enp_http_port (http));
    ck_assert_int_ge (fd, 0);
    struct timeval timeout = { .tv_sec = 5 };
    setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    return fd;
}

//  Send text on a raw connection.
static void
s_write (int fd, const char *text)
{
    size_t size = strlen (text);
    ck_assert_int_eq (send (fd, text, size, MSG_NOSIGNAL), (ssize_t) size);
}

//  Read one response from a raw connection: the head, then as many body
//  bytes as Content-Length says (none for HEAD). Returns it (caller
//  frees), or NULL when the connection closed or timed out first.
static char *
s_read_response (int fd, bool head)
{
    char *text = (char *) calloc (1, S_RAW_MAX + 1);
    size_t size = 0;
    long need = -1;
    while (size < S_RAW_MAX) {
        char *end = strstr (text, "\r\n\r\n");
        if (end && need < 0) {
            const char *length = strcasestr (text, "\r\nContent-Length: ");
            long body = length && length < end
                      ? atol (length + strlen ("\r\nContent-Length: ")): 0;
            need = (long) (end + 4 - text) + (head? 0: body);
        }
        if (need >= 0 && (long) size >= need)
            return text;
        ssize_t got = recv (fd, text + size, S_RAW_MAX - size, 0);
        if (got <= 0)
            break;
        size += (size_t) got;
    }
    free (text);
    return NULL;
}

//  True when the server closes the connection (within the receive timeout).
static bool
s_closed (int fd)
{
    char byte;
    return recv (fd, &byte, 1, 0) == 0;
}

//  Read a response that must start with status_line and end the
//  connection: Connection: close, then the server closes. Returns the
//  response (caller frees).
static char *
s_expect_close (int fd, const char *status_line)
{
    char *response = s_read_response (fd, false);
    ck_assert_ptr_nonnull (response);
    ck_assert_msg (strncmp (response, status_line, strlen (status_line)) == 0,
                   "expected %s in %s", status_line, response);
    ck_assert_ptr_nonnull (strstr (response, "\r\nConnection: close\r\n"));
    ck_assert (s_closed (fd));
    return response;
}

//  Usage: create, route, observe, start, serve, destroy.
START_TEST (test_enp_http_usage)
{
    s_seen_t seen = { 0 };
    enp_http_t *http = s_server_new (&seen, ".");
    testkit_response_t response = s_request (http, "GET", "/hello", NULL, NULL);
    ck_assert_int_eq (response.code, 200);
    ck_assert_str_eq (response.body, "{\"hello\":\"world\"}");
    char value [128];
    ck_assert_int_eq (testkit_header (&response, "Content-Type", value, sizeof value), 0);
    ck_assert_str_eq (value, "application/json");
    ck_assert_int_eq (testkit_header (&response, "Content-Length", value, sizeof value), 0);
    ck_assert_str_eq (value, "17");
    ck_assert_int_eq (testkit_header (&response, "Cache-Control", value, sizeof value), 0);
    ck_assert_str_eq (value, "no-store");
    ck_assert_int_eq (testkit_header (&response, "Location", value, sizeof value), 0);
    ck_assert_str_eq (value, "/hello/1");
    ck_assert_int_eq (testkit_header (&response, "Retry-After", value, sizeof value), 0);
    ck_assert_str_eq (value, "7");
    ck_assert_int_eq (testkit_header (&response, "Connection", value, sizeof value), -1);
    testkit_response_free (&response);
    //  The observer saw it, after it was written
    s_seen_t last = s_seen (&seen, 1);
    ck_assert_int_eq (last.calls, 1);
    ck_assert_str_eq (last.method, "GET");
    ck_assert_int_eq (last.route, S_ROUTE_HELLO);
    ck_assert_int_eq (last.code, 200);
    ck_assert (last.seconds >= 0);
    //  Routes cannot change once started
    enp_http_route_t late = { .path = "/late", .handler = s_hello };
    ck_assert_int_eq (enp_http_route (http, &late), -1);
    s_server_destroy (&http, &seen);
    ck_assert_ptr_null (http);
    enp_http_destroy (&http);
}
END_TEST

//  Reason phrases are RFC 9110's, and a class name for unknown codes.
START_TEST (test_enp_http_reason)
{
    const struct {
        int code;
        const char *reason;
    } expected [] = {
        { 100, "Continue" }, { 200, "OK" }, { 201, "Created" },
        { 204, "No Content" }, { 308, "Permanent Redirect" },
        { 400, "Bad Request" }, { 401, "Unauthorized" }, { 404, "Not Found" },
        { 405, "Method Not Allowed" }, { 408, "Request Timeout" },
        { 413, "Content Too Large" }, { 415, "Unsupported Media Type" },
        { 422, "Unprocessable Content" }, { 429, "Too Many Requests" },
        { 431, "Request Header Fields Too Large" },
        { 500, "Internal Server Error" }, { 503, "Service Unavailable" },
        { 505, "HTTP Version Not Supported" }, { 199, "Informational" },
        { 299, "Successful" }, { 399, "Redirection" }, { 418, "Client Error" },
        { 599, "Server Error" }, { 42, "Unknown" }, { 600, "Unknown" },
        { -1, "Unknown" }
    };
    for (size_t index = 0; index < sizeof expected / sizeof expected [0]; index++)
        ck_assert_str_eq (enp_http_reason (expected [index].code),
                          expected [index].reason);
}
END_TEST

//  Exact and prefix routes; 404 and 405 answered by the layer itself.
START_TEST (test_enp_http_routing)
{
    s_seen_t seen = { 0 };
    enp_http_t *http = s_server_new (&seen, ".");
    //  Exact paths only: nothing merged, resolved or cut at a NUL, and a
    //  prefix route takes one segment below it, not more, not none
    const char *missing [] = { "/", "/hello/x", "/helloo", "/hell", "/file",
                               "/filesx", "//hello", "/hello/", "/hello%00x",
                               "/files/", "/files/a/b", "/files//a" };
    for (size_t index = 0; index < sizeof missing / sizeof missing [0]; index++) {
        testkit_response_t response = s_request (http, "GET", missing [index],
                                                 NULL, NULL);
        json_t *problem = s_assert_problem (&response, 404);
        json_decref (problem);
        testkit_response_free (&response);
        s_seen_t last = s_seen (&seen, (int) index + 1);
        ck_assert_int_eq (last.route, ENP_HTTP_UNROUTED);
        ck_assert_int_eq (last.code, 404);
    }
    testkit_response_t response = s_request (http, "DELETE", "/hello", NULL, NULL);
    json_t *problem = s_assert_problem (&response, 405);
    ck_assert_ptr_nonnull (strstr (json_string_value (json_object_get (problem,
                                   "detail")), "DELETE"));
    json_decref (problem);
    char allow [64];
    ck_assert_int_eq (testkit_header (&response, "Allow", allow, sizeof allow), 0);
    ck_assert_str_eq (allow, "GET, HEAD");
    testkit_response_free (&response);
    int calls = (int) (sizeof missing / sizeof missing [0]) + 1;
    s_seen_t last = s_seen (&seen, calls);
    ck_assert_int_eq (last.route, S_ROUTE_HELLO);
    ck_assert_int_eq (last.code, 405);
    ck_assert_str_eq (last.method, "DELETE");
    //  A prefix route takes what lies below it
    response = s_request (http, "GET", "/files/nothing-here", NULL, NULL);
    json_decref (s_assert_problem (&response, 404));
    testkit_response_free (&response);
    ck_assert_int_eq (s_seen (&seen, calls + 1).route, S_ROUTE_FILES);
    s_server_destroy (&http, &seen);
}
END_TEST

//  HEAD: the headers of GET, Content-Length included, and no body.
START_TEST (test_enp_http_head)
{
    s_seen_t seen = { 0 };
    enp_http_t *http = s_server_new (&seen, ".");
    int fd = s_connect (http);
    s_write (fd, "HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    char *head = s_read_response (fd, true);
    ck_assert_ptr_nonnull (head);
    ck_assert_ptr_nonnull (strstr (head, "HTTP/1.1 200 OK\r\n"));
    ck_assert_ptr_nonnull (strstr (head, "\r\nContent-Length: 17\r\n"));
    ck_assert_str_eq (strstr (head, "\r\n\r\n"), "\r\n\r\n");
    //  The next response on the connection starts right after the head: a
    //  body sent for HEAD would come first
    s_write (fd, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    char *get = s_read_response (fd, false);
    ck_assert_ptr_nonnull (get);
    ck_assert (strncmp (get, "HTTP/1.1 200 OK\r\n", 17) == 0);
    ck_assert_str_eq (strstr (get, "\r\n\r\n") + 4, "{\"hello\":\"world\"}");
    free (head);
    free (get);
    close (fd);
    s_server_destroy (&http, &seen);
}
END_TEST

//  Problem documents carry errors only when there are some, and headers.
START_TEST (test_enp_http_problem)
{
    s_seen_t seen = { 0 };
    enp_http_t *http = s_server_new (&seen, ".");
    //  A body that is JSON but over the cap of 64 bytes
    char body [S_MAX_BODY + 16];
    memset (body, ' ', sizeof body - 1);
    body [0] = '{';
    body [sizeof body - 2] = '}';
    body [sizeof body - 1] = '\0';
    testkit_response_t response = s_request (http, "POST", "/echo",
                                             "application/json", body);
    json_t *problem = s_assert_problem (&response, 413);
    ck_assert_str_eq (json_string_value (json_object_get (problem, "detail")),
                      "request body is over the limit of 64 bytes");
    ck_assert_ptr_null (json_object_get (problem, "errors"));
    json_decref (problem);
    testkit_response_free (&response);
    response = s_request (http, "POST", "/echo", "text/plain", "{}");
    json_decref (s_assert_problem (&response, 415));
    testkit_response_free (&response);
    s_server_destroy (&http, &seen);
}
END_TEST

//  The JSON Content-Type check: any case, parameters allowed.
START_TEST (test_enp_http_json_type)
{
    s_seen_t seen = { 0 };
    enp_http_t *http = s_server_new (&seen, ".");
    const char *good [] = { "application/json", "Application/JSON",
                            "application/json; charset=utf-8",
                            " application/json ;charset=utf-8" };
    for (size_t index = 0; index < sizeof good / sizeof good [0]; index++) {
        testkit_response_t response = s_request (http, "POST", "/echo",
                                                 good [index], "{\"a\":1}");
        ck_assert_msg (response.code == 201, "%s gave %ld", good [index],
                       response.code);
        ck_assert_str_eq (response.body, "{\"a\":1}");
        testkit_response_free (&response);
    }
    const char *bad [] = { "text/plain", "application/jsonx",
                           "application/json-patch+json", "json", NULL };
    for (size_t index = 0; index < sizeof bad / sizeof bad [0]; index++) {
        testkit_response_t response = s_request (http, "POST", "/echo",
                                                 bad [index], "{\"a\":1}");
        json_decref (s_assert_problem (&response, 415));
        testkit_response_free (&response);
    }
    s_server_destroy (&http, &seen);
}
END_TEST

//  A declared body over the cap is refused before it is read, and the
//  connection closes rather than reading it.
START_TEST (test_enp_http_body_over_cap)
{
    s_seen_t seen = { 0 };
    enp_http_t *http = s_server_new (&seen, ".");
    int fd = s_connect (http);
    s_write (fd, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 "Content-Length: 100000000\r\n\r\n{");
    char *response = s_expect_close (fd, "HTTP/1.1 413 Content Too Large\r\n");
    free (response);
    close (fd);
    s_server_destroy (&http, &seen);
}
END_TEST

//  A client that sends less than it declared gets 400 and a closed
//  connection.
START_TEST (test_enp_http_body_short)
{
    s_seen_t seen = { 0 };
    enp_http_t *http = s_server_new (&seen, ".");
    int fd = s_connect (http);
    s_write (fd, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 "Content-Length: 20\r\n\r\n{\"a\":");
    shutdown (fd, SHUT_WR);
    char *response = s_expect_close (fd, "HTTP/1.1 400 Bad Request\r\n");
    ck_assert_ptr_nonnull (strstr (response, "application/problem+json"));
    free (response);
    close (fd);
    s_server_destroy (&http, &seen);
}
END_TEST

//  Chunked bodies: read to the end when under the cap, 413 past it.
START_TEST (test_enp_http_body_chunked)
{
    s_seen_t seen = { 0 };
    enp_http_t *http = s_server_new (&seen, ".");
    int fd = s_connect (http);
    s_write (fd, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 "Transfer-Encoding: chunked\r\n\r\n"
                 "4\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\n\r\n");
    char *response = s_read_response (fd, false);
    ck_assert_ptr_nonnull (response);
    ck_assert (strncmp (response, "HTTP/1.1 201 Created\r\n", 22) == 0);
    ck_assert_str_eq (strstr (response, "\r\n\r\n") + 4, "{\"a\":1}");
    ck_assert_ptr_null (strstr (response, "Connection: close"));
    free (response);
    //  The same connection serves on, then refuses a chunked body past the
    //  cap: half of a 256-byte chunk is more than it reads
    s_write (fd, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 "Transfer-Encoding: chunked\r\n\r\n100\r\n");
    char filler [S_MAX_BODY * 2 + 1];
    memset (filler, 'x', sizeof filler - 1);
    filler [sizeof filler - 1] = '\0';
    s_write (fd, filler);
    response = s_expect_close (fd, "HTTP/1.1 413 Content Too Large\r\n");
    free (response);
    close (fd);
    s_server_destroy (&http, &seen);
}
END_TEST

//  Keep-alive: HTTP/1.1 keeps by default, a request body read to its end
//  keeps it too; Connection: close and HTTP/1.0 end it, and HTTP/1.0 with
//  keep-alive is told so.
START_TEST (test_enp_http_keep_alive)
{
    s_seen_t seen = { 0 };
    enp_http_t *http = s_server_new (&seen, ".");
    int fd = s_connect (http);
    for (int round = 0; round < 3; round++) {
        s_write (fd, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     "Content-Length: 2\r\n\r\n{}");
        char *response = s_read_response (fd, false);
        ck_assert_ptr_nonnull (response);
        ck_assert (strncmp (response, "HTTP/1.1 201 Created\r\n", 22) == 0);
        ck_assert_ptr_null (strstr (response, "Connection:"));
        free (response);
    }
    //  A refused body that was not read closes the connection
    s_write (fd, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
                 "Content-Length: 2\r\n\r\n{}");
    free (s_expect_close (fd, "HTTP/1.1 415 Unsupported Media Type\r\n"));
    close (fd);

    const struct {
        const char *request;
        const char *connection;     //  the header expected, or NULL
        bool closes;
    } cases [] = {
        { "GET /hello HTTP/1.1\r\nConnection: close\r\n\r\n", "close", true },
        { "GET /hello HTTP/1.0\r\n\r\n", "close", true },
        { "GET /hello HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", "keep-alive", false },
        { "GET /hello HTTP/1.1\r\nConnection: keep-alive\r\n\r\n", NULL, false }
    };
    for (size_t index = 0; index < sizeof cases / sizeof cases [0]; index++) {
        fd = s_connect (http);
        s_write (fd, cases [index].request);
        char *response = s_read_response (fd, false);
        ck_assert_ptr_nonnull (response);
        char expected [64] = "Connection:";
        if (cases [index].connection)
            snprintf (expected, sizeof expected, "\r\nConnection: %s\r\n",
                      cases [index].connection);
        if (cases [index].connection)
            ck_assert_msg (strstr (response, expected), "case %zu: %s", index, response);
        else
            ck_assert_msg (!strstr (response, expected), "case %zu: %s", index, response);
        if (cases [index].closes)
            ck_assert (s_closed (fd));
        else {
            s_write (fd, "GET /hello HTTP/1.1\r\n\r\n");
            char *again = s_read_response (fd, false);
            ck_assert_ptr_nonnull (again);
            free (again);
        }
        free (response);
        close (fd);
    }
    s_server_destroy (&http, &seen);
}
END_TEST

//  CivetWeb's own errors are problem documents too, and observed.
START_TEST (test_enp_http_civetweb_errors)
{
    s_seen_t seen = { 0 };
    enp_http_t *http = s_server_new (&seen, ".");
    int fd = s_connect (http);
    s_write (fd, "GET /hello HTTP/1.1\r\nBroken header line without colon\r\n\r\n");
    char *response = s_expect_close (fd, "HTTP/1.1 400 Bad Request\r\n");
    ck_assert_ptr_nonnull (strstr (response, "Content-Type: application/problem+json"));
    json_t *problem = json_loads (strstr (response, "\r\n\r\n") + 4, 0, NULL);
    ck_assert_ptr_nonnull (problem);
    ck_assert_int_eq (json_integer_value (json_object_get (problem, "status")), 400);
    json_decref (problem);
    free (response);
    close (fd);
    s_seen_t last = s_seen (&seen, 1);
    ck_assert_int_eq (last.route, ENP_HTTP_UNROUTED);
    ck_assert_int_eq (last.code, 400);
    s_server_destroy (&http, &seen);
}
END_TEST

//  What CivetWeb does not route is still answered and observed: a method
//  it does not know gets the route's 405, "OPTIONS *" the methods of
//  every route, ambiguous framing a 400 that ends the connection.
START_TEST (test_enp_http_unrouted)
{
    s_seen_t seen = { 0 };
    enp_http_t *http = s_server_new (&seen, ".");
    int fd = s_connect (http);
    s_write (fd, "TRACE /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    char *response = s_expect_close (fd, "HTTP/1.1 405 Method Not Allowed\r\n");
    ck_assert_ptr_nonnull (strstr (response, "\r\nAllow: GET, HEAD\r\n"));
    free (response);
    close (fd);
    s_seen_t last = s_seen (&seen, 1);
    ck_assert_str_eq (last.method, "TRACE");
    ck_assert_int_eq (last.route, S_ROUTE_HELLO);
    ck_assert_int_eq (last.code, 405);

    fd = s_connect (http);
    s_write (fd, "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n");
    response = s_expect_close (fd, "HTTP/1.1 200 OK\r\n");
    ck_assert_ptr_nonnull (strstr (response, "\r\nAllow: GET, HEAD, POST\r\n"));
    free (response);
    close (fd);
    last = s_seen (&seen, 2);
    ck_assert_str_eq (last.method, "OPTIONS");
    ck_assert_int_eq (last.route, ENP_HTTP_UNROUTED);
    ck_assert_int_eq (last.code, 200);

    //  Keep-alive asked for, but a body framed twice cannot be trusted
    fd = s_connect (http);
    s_write (fd, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 "Content-Length: 2\r\nContent-Length: 2\r\n\r\n{}");
    response = s_expect_close (fd, "HTTP/1.1 400 Bad Request\r\n");
    free (response);
    close (fd);
    last = s_seen (&seen, 3);
    ck_assert_int_eq (last.route, ENP_HTTP_UNROUTED);
    ck_assert_int_eq (last.code, 400);
    s_server_destroy (&http, &seen);
}
END_TEST

//  A handler that sends nothing still gets its client an answer: 500.
START_TEST (test_enp_http_unanswered)
{
    s_seen_t seen = { 0 };
    enp_http_t *http = s_server_new (&seen, ".");
    testkit_response_t response = s_request (http, "GET", "/silent", NULL, NULL);
    json_decref (s_assert_problem (&response, 500));
    testkit_response_free (&response);
    s_server_destroy (&http, &seen);
}
END_TEST

//  A body bigger than the inline buffer arrives whole.
START_TEST (test_enp_http_big_response)
{
    s_seen_t seen = { 0 };
    enp_http_t *http = s_server_new (&seen, ".");
    testkit_response_t response = s_request (http, "GET", "/big", NULL, NULL);
    ck_assert_int_eq (response.code, 200);
    ck_assert_uint_eq (response.size, S_BIG_SIZE);
    for (size_t index = 0; index < S_BIG_SIZE; index++)
        ck_assert_int_eq (response.body [index], 'a' + index % 26);
    testkit_response_free (&response);
    s_server_destroy (&http, &seen);
}
END_TEST

//  Files: a regular one is sent whole; a folder or a missing file is 404.
START_TEST (test_enp_http_send_file)
{
    char *dir = testkit_tmpdir ();
    ck_assert_ptr_nonnull (dir);
    char path [512];
    snprintf (path, sizeof path, "%s/page.txt", dir);
    FILE *file = fopen (path, "w");
    ck_assert_ptr_nonnull (file);
    //  Larger than any single buffer, so it must be streamed
    for (int line = 0; line < 20000; line++)
        fprintf (file, "line %05d of the file\n", line);
    fclose (file);
    snprintf (path, sizeof path, "%s/folder", dir);
    ck_assert_int_eq (mkdir (path, 0700), 0);

    s_seen_t seen = { 0 };
    enp_http_t *http = s_server_new (&seen, dir);
    testkit_response_t response = s_request (http, "GET", "/files/page.txt",
                                             NULL, NULL);
    ck_assert_int_eq (response.code, 200);
    ck_assert_uint_eq (response.size, 20000 * strlen ("line 00000 of the file\n"));
    ck_assert (strncmp (response.body, "line 00000 of the file\n", 23) == 0);
    char value [128];
    ck_assert_int_eq (testkit_header (&response, "Content-Type", value, sizeof value), 0);
    ck_assert_str_eq (value, "text/plain; charset=utf-8");
    testkit_response_free (&response);
    response = s_request (http, "HEAD", "/files/page.txt", NULL, NULL);
    ck_assert_int_eq (response.code, 200);
    ck_assert_uint_eq (response.size, 0);
    testkit_response_free (&response);
    const char *missing [] = { "/files/folder", "/files/folder/",
                               "/files/nothing.txt" };
    for (size_t index = 0; index < sizeof missing / sizeof missing [0]; index++) {
        response = s_request (http, "GET", missing [index], NULL, NULL);
        ck_assert_msg (response.code == 404, "%s gave %ld", missing [index],
                       response.code);
        json_decref (s_assert_problem (&response, 404));
        testkit_response_free (&response);
    }
    s_server_destroy (&http, &seen);
    snprintf (path, sizeof path, "%s/page.txt", dir);
    unlink (path);
    snprintf (path, sizeof path, "%s/folder", dir);
    rmdir (path);
    rmdir (dir);
    free (dir);
}
END_TEST

//  A body trickled a byte at a time, each well within what one read may
//  wait, is cut at the request timeout: 408, and the connection closed.
START_TEST (test_enp_http_deadline_body)
{
    s_seen_t seen = { 0 };
    enp_http_t *http = s_server_with (&seen, ".", 500, 0);
    int fd = s_connect (http);
    s_write (fd, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 "Content-Length: 60\r\n\r\n{");
    struct pollfd item = { .fd = fd, .events = POLLIN };
    for (int sent = 0; sent < 50 && poll (&item, 1, 100) == 0; sent++)
        s_write (fd, " ");
    char *response = s_expect_close (fd, "HTTP/1.1 408 Request Timeout\r\n");
    ck_assert_ptr_nonnull (strstr (response, "within 500 ms"));
    free (response);
    close (fd);
    s_seen_t last = s_seen (&seen, 1);
    ck_assert_int_eq (last.route, S_ROUTE_ECHO);
    ck_assert_int_eq (last.code, 408);
    s_server_destroy (&http, &seen);
}
END_TEST

//  So is a head trickled a byte at a time.
START_TEST (test_enp_http_deadline_head)
{
    s_seen_t seen = { 0 };
    enp_http_t *http = s_server_with (&seen, ".", 500, 0);
    int fd = s_connect (http);
    s_write (fd, "GET /hello HTTP/1.1\r\n");
    struct pollfd item = { .fd = fd, .events = POLLIN };
    for (int sent = 0; sent < 50 && poll (&item, 1, 100) == 0; sent++)
        s_write (fd, "X");
    free (s_expect_close (fd, "HTTP/1.1 408 Request Timeout\r\n"));
    close (fd);
    s_seen_t last = s_seen (&seen, 1);
    ck_assert_int_eq (last.route, ENP_HTTP_UNROUTED);
    ck_assert_int_eq (last.code, 408);
    s_server_destroy (&http, &seen);
}
END_TEST

//  One address holds at most max_per_client connections: the next is
//  answered 429 with Retry-After and closed; another address is served.
START_TEST (test_enp_http_per_client_cap)
{
    s_seen_t seen = { 0 };
    enp_http_t *http = s_server_with (&seen, ".", 10000, 2);
    int held [2];
    for (int index = 0; index < 2; index++) {
        held [index] = s_connect (http);
        s_write (held [index], "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
        char *response = s_read_response (held [index], false);
        ck_assert_ptr_nonnull (response);
        ck_assert (strncmp (response, "HTTP/1.1 200 OK\r\n", 17) == 0);
        free (response);
    }
    int fd = s_connect (http);
    s_write (fd, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    char *response = s_expect_close (fd, "HTTP/1.1 429 Too Many Requests\r\n");
    ck_assert_ptr_nonnull (strstr (response, "\r\nRetry-After: 1\r\n"));
    ck_assert_ptr_nonnull (strstr (response, "at most 2 at once"));
    free (response);
    close (fd);
    int other = testkit_connect_from (enp_http_port (http), "127.0.0.2", 2000);
    ck_assert_int_ge (other, 0);
    s_write (other, "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    free (s_expect_close (other, "HTTP/1.1 200 OK\r\n"));
    close (other);
    for (int index = 0; index < 2; index++)
        close (held [index]);
    s_server_destroy (&http, &seen);
}
END_TEST

//  A port already taken: start fails and says why, in CivetWeb's words.
START_TEST (test_enp_http_port_in_use)
{
    s_seen_t seen = { 0 };
    enp_http_t *first = s_server_new (&seen, ".");
    enp_http_options_t options = { .name = "second", .host = "127.0.0.1",
        .port = enp_http_port (first), .threads = 2,
        .request_timeout_ms = 1000, .keep_alive_ms = 1000 };
    enp_http_t *second = enp_http_new (&options);
    ck_assert_ptr_nonnull (second);
    ck_assert_int_eq (enp_http_start (second), -1);
    ck_assert_msg (strstr (enp_http_failure (second), "in use"), "failure: %s",
                   enp_http_failure (second));
    ck_assert_int_eq (enp_http_port (second), 0);
    enp_http_destroy (&second);
    testkit_response_t response = s_request (first, "GET", "/hello", NULL, NULL);
    ck_assert_int_eq (response.code, 200);
    testkit_response_free (&response);
    s_server_destroy (&first, &seen);
}
END_TEST

//  The libcurl write callback swallows everything it is given.
START_TEST (test_enp_http_discard)
{
    char data [10] = "0123456789";
    ck_assert_uint_eq (enp_http_discard (data, 1, sizeof data, NULL), sizeof data);
    ck_assert_uint_eq (enp_http_discard (data, 5, 2, NULL), 10);
    ck_assert_uint_eq (enp_http_discard (data, 1, 0, NULL), 0);
}
END_TEST

int
main (void)
{
    const TTest *tests [] = {
        test_enp_http_usage,
        test_enp_http_reason,
        test_enp_http_routing,
        test_enp_http_head,
        test_enp_http_problem,
        test_enp_http_json_type,
        test_enp_http_body_over_cap,
        test_enp_http_body_short,
        test_enp_http_body_chunked,
        test_enp_http_keep_alive,
        test_enp_http_civetweb_errors,
        test_enp_http_unrouted,
        test_enp_http_unanswered,
        test_enp_http_big_response,
        test_enp_http_send_file,
        test_enp_http_port_in_use,
        test_enp_http_deadline_body,
        test_enp_http_deadline_head,
        test_enp_http_per_client_cap,
        test_enp_http_discard,
        NULL
    };
    return testkit_run (testkit_suite ("enp_http", 20, tests));
}
