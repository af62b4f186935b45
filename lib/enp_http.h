//  enp_http - the one HTTP layer of every CivetWeb server in the services
#ifndef ENP_HTTP_H_INCLUDED
#define ENP_HTTP_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

//  CivetWeb's types, opaque here: only handlers need civetweb.h
struct mg_connection;
struct mg_request_info;

//  Route id the observer sees for requests no route took, and for errors
//  CivetWeb answers itself (a malformed request line, headers too large).
#define ENP_HTTP_UNROUTED   (-1)

//  Where a server listens and how it treats connections.
typedef struct {
    const char *name;           //  names the server in the log: "http", "metrics"
    const char *host;           //  listen address, e.g. "127.0.0.1"
    int port;                   //  0 picks a free port
    int threads;                //  worker threads: one per open connection
    long request_timeout_ms;    //  a whole request (head and body) must
                                //  arrive within this, counted from when
                                //  the server starts waiting for it: 408
                                //  and close after; a write may stall this
                                //  long too
    long keep_alive_ms;         //  an idle kept-alive connection closes after
                                //  this (request_timeout_ms at most)
    int max_per_client;         //  connections one client address may hold
                                //  at once (429 over it); 0: no cap
    const char *tls_cert;       //  PEM file with the certificate (chain) and
                                //  its private key: serve HTTPS (TLS 1.2 or
                                //  newer); NULL or "": plain HTTP
} enp_http_options_t;

//  A route's handler answers one request through enp_http_send (or the
//  helpers built on it) and returns the status it sent. It runs on one of
//  the server's threads, many at once.
typedef int (enp_http_handler_fn) (void *arg, struct mg_connection *conn,
                                   const struct mg_request_info *request);

//  A route: which paths reach which handler.
typedef struct {
    const char *path;           //  e.g. "/healthz"; copied
    bool prefix;                //  also serve path + "/" + one segment (no
                                //  '/' in it, not empty)
    const char *allow;          //  e.g. "GET, HEAD": other methods get 405
                                //  with Allow; NULL: the handler decides
    int id;                     //  passed to the observer, e.g. a metrics label
    enp_http_handler_fn *handler;
    void *arg;                  //  passed to the handler
} enp_http_route_t;

//  Called once per response, after it was written, on the thread that wrote
//  it: method (NULL when CivetWeb refused the request before parsing it),
//  the route id, the status and the seconds the handler took.
typedef void (enp_http_observe_fn) (void *arg, const char *method, int route,
                                    int code, double seconds);

//  One response. Zero-initialise it and set what applies.
typedef struct {
    int code;                   //  HTTP status
    const char *content_type;   //  Content-Type, or NULL for none
    const char *body;           //  may be NULL when size is 0
    size_t size;                //  bytes of body (HEAD: sent as Content-Length only)
    const char *cache_control;  //  Cache-Control; NULL means no-store
    const char *location;       //  Location, or NULL
    const char *allow;          //  Allow, or NULL (goes with 405)
    int retry_after;            //  Retry-After seconds, when > 0
    const char *authenticate;   //  WWW-Authenticate value, or NULL (with 401)
} enp_http_response_t;

typedef struct _enp_http_t enp_http_t;

//  Create a server with these options (strings copied); it listens only
//  once started. Returns NULL on failure. Caller owns the result.
enp_http_t *enp_http_new (const enp_http_options_t *options);
//  Stop serving, waiting for requests in progress; nulls the pointer.
void enp_http_destroy (enp_http_t **self_p);
//  Return the port bound, or 0 before a successful start.
int enp_http_port (enp_http_t *self);
//  Return why the last start failed (CivetWeb's words), or "".
const char *enp_http_failure (enp_http_t *self);

//  Add a route (before start). Routes are tried in the order added on the
//  decoded path; a request no route takes is answered 404, and so is a
//  path holding an encoded NUL. Before routing, a request is refused
//  with 400 when its framing is ambiguous (Content-Length twice, not
//  plain digits, or beside Transfer-Encoding) or its query holds %00.
//  Returns 0, or -1 when the table is full or started.
int enp_http_route (enp_http_t *self, const enp_http_route_t *route);
//  Call observe for every response from now on (before start).
void enp_http_observe (enp_http_t *self, enp_http_observe_fn *observe,
                       void *arg);
//  Listen and serve. Returns 0, or -1 with the reason in enp_http_failure
//  (the caller logs it: it knows what the failure means).
int enp_http_start (enp_http_t *self);

//  Write a whole response, status line, headers and body, with one
//  mg_write; HEAD gets no body. Adds Connection: close, and tells CivetWeb
//  to close, when the connection cannot be kept: the client asked, or the
//  request body was not read to its end. Returns response->code.
int enp_http_send (struct mg_connection *conn,
                   const enp_http_response_t *response);
//  Send an RFC 9457 problem document (application/problem+json) with the
//  reason phrase as title. errors (consumed, may be NULL) is added as
//  "errors" when it is a non-empty array; extra (may be NULL) carries
//  headers. Returns code.
int enp_http_problem (struct mg_connection *conn, int code, const char *detail,
                      json_t *errors, const enp_http_response_t *extra);
//  Build the problem document enp_http_problem sends, as a JSON object,
//  for a response that carries problems inside it (one per item of a
//  batch). errors is consumed, as there. Returns NULL when out of memory.
//  Caller owns the result.
json_t *enp_http_problem_new (int code, const char *detail, json_t *errors);
//  Return the path of the request being handled, percent-decoded, exactly
//  as the router matched it (no slash merged, no dot segment resolved);
//  "" outside a handler. Valid until the handler returns.
const char *enp_http_path (struct mg_connection *conn);
//  Answer 405 with Allow: allow and a detail naming the method. Returns 405.
int enp_http_not_allowed (struct mg_connection *conn, const char *allow);
//  Return the RFC 9110 reason phrase of a status (RFC 6585 for 429 and
//  431); a generic one for the class of any other code.
const char *enp_http_reason (int code);
//  Return true when the request's Content-Type is application/json (any
//  case, parameters such as charset allowed).
bool enp_http_is_json (struct mg_connection *conn);
//  Read the whole request body, at most max bytes, into a new
//  NUL-terminated buffer (caller frees). Sends nothing. Returns 0, 413 when
//  the body is over max (checked against Content-Length before allocating),
//  408 when it did not arrive within the request timeout, 400 when the
//  client sent less than it declared, or 500.
int enp_http_read_body (struct mg_connection *conn, size_t max, char **body_p,
                        size_t *size_p);
//  Take a JSON request body: 415 unless enp_http_is_json, then
//  enp_http_read_body. Returns 0 with the body, or the status of the
//  problem document it sent.
int enp_http_read_json (struct mg_connection *conn, size_t max, char **body_p,
                        size_t *size_p);
//  Send a regular file with CivetWeb's file sending (streamed; conditional
//  and range requests honoured). Anything else (missing, a directory) is a
//  404 problem. Returns the status sent.
int enp_http_send_file (struct mg_connection *conn, const char *path,
                        const char *content_type);

//  A libcurl write callback that swallows a response body, for clients that
//  need only the status.
size_t enp_http_discard (char *data, size_t size, size_t count, void *arg);

#endif
