/*  enp_probe - a tiny HTTP endpoint serving /healthz and /metrics

    The broker and the processors have no HTTP API of their own, but an
    operator still wants to scrape them and Docker wants to health-check
    them. This class runs a small CivetWeb server with two routes; the
    owner supplies a function that renders its counters.
*/
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <civetweb.h>
#include <curl/curl.h>
#include "enp_probe.h"
#include "enp_log.h"

struct _enp_probe_t {
    struct mg_context *context;     //  the CivetWeb server
    enp_probe_render_fn *render;    //  metrics renderer, may be NULL
    void *arg;                      //  argument for render
    int port;                       //  port bound
};

//  Send a whole response in one write (see DESIGN.md, known traps).
static int
s_send (struct mg_connection *conn, int code, const char *type,
        const char *body, size_t size)
{
    char header [256];
    int header_size = snprintf (header, sizeof header,
        "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n\r\n",
        code, code == 200? "OK": "Not Found", type, size);
    char *response = (char *) malloc ((size_t) header_size + size);
    if (!response)
        return 500;
    memcpy (response, header, (size_t) header_size);
    memcpy (response + header_size, body, size);
    mg_write (conn, response, (size_t) header_size + size);
    free (response);
    return code;
}

//  Anything else is not here.
static int
s_not_found (struct mg_connection *conn, void *cbdata)
{
    (void) cbdata;
    const char *body = "{\"type\":\"about:blank\",\"title\":\"Not Found\","
                       "\"status\":404,\"detail\":\"no such path\"}";
    return s_send (conn, 404, "application/problem+json", body, strlen (body));
}

//  Serve /healthz: the process is up and serving.
static int
s_healthz (struct mg_connection *conn, void *cbdata)
{
    if (strcmp (mg_get_request_info (conn)->local_uri, "/healthz") != 0)
        return s_not_found (conn, cbdata);
    const char *body = "{\"status\":\"ok\"}";
    return s_send (conn, 200, "application/json", body, strlen (body));
}

//  Serve /metrics by asking the owner to render its counters.
static int
s_metrics (struct mg_connection *conn, void *cbdata)
{
    enp_probe_t *self = (enp_probe_t *) cbdata;
    if (strcmp (mg_get_request_info (conn)->local_uri, "/metrics") != 0)
        return s_not_found (conn, cbdata);
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    if (!out)
        return 500;
    if (self->render)
        self->render (self->arg, out);
    fclose (out);
    int code = s_send (conn, 200, "text/plain; version=0.0.4; charset=utf-8",
                       text, size);
    free (text);
    return code;
}

//  Route CivetWeb's own messages into our log.
static int
s_log_message (const struct mg_connection *conn, const char *message)
{
    (void) conn;
    enp_log_warn ("probe http: %s", message);
    return 1;
}

//  Start serving on host:port.
enp_probe_t *
enp_probe_new (const char *host, int port, enp_probe_render_fn *render,
               void *arg)
{
    enp_probe_t *self = (enp_probe_t *) calloc (1, sizeof (enp_probe_t));
    if (!self)
        return NULL;
    self->render = render;
    self->arg = arg;
    char listen [128];
    snprintf (listen, sizeof listen, "%s:%d", host, port);
    const char *options [] = {
        "listening_ports", listen, "num_threads", "4",
        "request_timeout_ms", "5000", "enable_keep_alive", "yes",
        "keep_alive_timeout_ms", "5000", "tcp_nodelay", "1", NULL
    };
    struct mg_callbacks callbacks;
    memset (&callbacks, 0, sizeof callbacks);
    callbacks.log_message = s_log_message;
    self->context = mg_start (&callbacks, self, options);
    if (!self->context) {
        enp_log_error ("cannot serve metrics on %s", listen);
        enp_probe_destroy (&self);
        return NULL;
    }
    struct mg_server_port ports [1];
    if (mg_get_server_ports (self->context, 1, ports) == 1)
        self->port = ports [0].port;
    mg_set_request_handler (self->context, "/healthz", s_healthz, self);
    mg_set_request_handler (self->context, "/metrics", s_metrics, self);
    mg_set_request_handler (self->context, "/", s_not_found, self);
    enp_log_info ("metrics on http://%s:%d/metrics", host, self->port);
    return self;
}

//  Stop serving.
void
enp_probe_destroy (enp_probe_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    enp_probe_t *self = *self_p;
    if (self->context)
        mg_stop (self->context);
    free (self);
    *self_p = NULL;
}

//  Return the port actually bound.
int
enp_probe_port (enp_probe_t *self)
{
    return self->port;
}

//  Swallow the body of a health check.
static size_t
s_discard (char *data, size_t size, size_t count, void *arg)
{
    (void) data;
    (void) arg;
    return size * count;
}

//  GET url with a timeout; 0 when it answers 2xx.
int
enp_probe_check (const char *url, long timeout_ms)
{
    CURL *curl = curl_easy_init ();
    if (!curl)
        return -1;
    curl_easy_setopt (curl, CURLOPT_URL, url);
    curl_easy_setopt (curl, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt (curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt (curl, CURLOPT_WRITEFUNCTION, s_discard);
    long code = 0;
    CURLcode rc = curl_easy_perform (curl);
    if (rc == CURLE_OK)
        curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup (curl);
    return (rc == CURLE_OK && code >= 200 && code < 300)? 0: -1;
}
