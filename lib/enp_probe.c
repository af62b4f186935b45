/*  enp_probe - a tiny HTTP endpoint serving /healthz and /metrics

    The broker and the processors have no HTTP API of their own, but an
    operator still wants to scrape them and Docker wants to health-check
    them. This class runs a small server of the shared HTTP layer
    (enp_http) with two routes; the owner supplies a function that renders
    its counters.
*/
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include "enp_probe.h"
#include "enp_http.h"
#include "enp_log.h"
#include "enp_portfile.h"

//  CivetWeb gives each open connection a thread for its life, so a few
//  idle connections (a hung scraper, or anyone who can reach the port)
//  used to hold every thread and fail the health check behind them. Idle
//  threads cost little; and a scrape sends its request at once, so a
//  connection that stays silent for a second is closed.
#define S_THREADS           64      //  connections served at once
#define S_TIMEOUT_MS        1000    //  request and keep-alive timeouts
#define S_ERROR_SIZE        256     //  bytes of a reason

struct _enp_probe_t {
    enp_http_t *http;               //  the server
    enp_portfile_t *record;         //  the port, recorded; may be NULL
    enp_probe_render_fn *render;    //  metrics renderer, may be NULL
    void *arg;                      //  argument for render
};

//  Serve /healthz: the process is up and serving.
static int
s_healthz (void *arg, struct mg_connection *conn,
           const struct mg_request_info *request)
{
    (void) arg;
    (void) request;
    static const char body [] = "{\"status\":\"ok\"}";
    enp_http_response_t response = { .code = 200, .body = body,
        .size = sizeof body - 1, .content_type = "application/json" };
    return enp_http_send (conn, &response);
}

//  Serve /metrics by asking the owner to render its counters.
static int
s_metrics (void *arg, struct mg_connection *conn,
           const struct mg_request_info *request)
{
    (void) request;
    enp_probe_t *self = (enp_probe_t *) arg;
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    if (!out)
        return enp_http_problem (conn, 500, "out of memory", NULL, NULL);
    if (self->render)
        self->render (self->arg, out);
    fclose (out);
    enp_http_response_t response = { .code = 200, .body = text, .size = size,
        .content_type = "text/plain; version=0.0.4; charset=utf-8" };
    int code = enp_http_send (conn, &response);
    free (text);
    return code;
}

//  Make the server for host:port with both routes and start it. Returns 0,
//  or -1 with why in error (the caller decides how bad that is).
static int
s_serve (enp_probe_t *self, const char *host, int port, char *error,
         size_t size)
{
    enp_http_destroy (&self->http);
    enp_http_options_t options = {
        .name = "metrics", .host = host, .port = port, .threads = S_THREADS,
        .request_timeout_ms = S_TIMEOUT_MS, .keep_alive_ms = S_TIMEOUT_MS
    };
    self->http = enp_http_new (&options);
    enp_http_route_t healthz = { .path = "/healthz", .allow = "GET",
                                 .handler = s_healthz, .arg = self };
    enp_http_route_t metrics = { .path = "/metrics", .allow = "GET",
                                 .handler = s_metrics, .arg = self };
    if (!self->http
    ||  enp_http_route (self->http, &healthz)
    ||  enp_http_route (self->http, &metrics)) {
        snprintf (error, size, "out of memory");
        return -1;
    }
    if (enp_http_start (self->http)) {
        snprintf (error, size, "%s", enp_http_failure (self->http));
        return -1;
    }
    return 0;
}

//  Start serving.
enp_probe_t *
enp_probe_new (const enp_probe_options_t *options)
{
    assert (options && options->host);
    enp_probe_t *self = (enp_probe_t *) calloc (1, sizeof (enp_probe_t));
    if (!self)
        return NULL;
    self->render = options->render;
    self->arg = options->arg;
    char error [S_ERROR_SIZE] = "";
    int rc = s_serve (self, options->host, options->port, error, sizeof error);
    //  The default port taken (another processor on this host) must not
    //  cost a worker its life: observability gives way
    bool moved = rc != 0 && options->fallback && options->port != 0;
    if (moved) {
        char first [S_ERROR_SIZE];
        snprintf (first, sizeof first, "%s", error);
        rc = s_serve (self, options->host, 0, error, sizeof error);
        if (rc == 0)
            enp_log_warn ("metrics port %d is not available (%s); serving"
                          " metrics on port %d instead", options->port, first,
                          enp_http_port (self->http));
    }
    if (rc != 0) {
        enp_log_error ("cannot serve metrics on %s:%d: %s", options->host,
                       moved? 0: options->port, error);
        enp_probe_destroy (&self);
        return NULL;
    }
    int port = enp_http_port (self->http);
    enp_log_info ("metrics on http://%s:%d/metrics", options->host, port);
    if (options->record_dir && options->app) {
        self->record = enp_portfile_new (options->record_dir, options->app,
                                         port, error, sizeof error);
        if (!self->record && moved)
            enp_log_warn ("cannot record the metrics port for --healthcheck"
                          " (%s); it will not find this process", error);
        else
        if (!self->record)
            enp_log_debug ("cannot record the metrics port (%s)", error);
    }
    return self;
}

//  Stop serving.
void
enp_probe_destroy (enp_probe_t **self_p)
{
    assert (self_p);
    if (!*self_p)
        return;
    enp_probe_t *self = *self_p;
    enp_portfile_destroy (&self->record);
    enp_http_destroy (&self->http);
    free (self);
    *self_p = NULL;
}

//  Return the port actually bound.
int
enp_probe_port (enp_probe_t *self)
{
    assert (self);
    return enp_http_port (self->http);
}

//  GET url with a timeout; 0 when it answers 2xx.
int
enp_probe_check (const char *url, const char *own_cert, long timeout_ms)
{
    CURL *curl = curl_easy_init ();
    if (!curl)
        return -1;
    curl_easy_setopt (curl, CURLOPT_URL, url);
    if (own_cert) {
        //  The service's own certificate is the trust anchor (OpenSSL takes
        //  a leaf as one); its name is for remote clients, not for the
        //  loopback address probed here, so the name is not checked
        curl_easy_setopt (curl, CURLOPT_CAINFO, own_cert);
        curl_easy_setopt (curl, CURLOPT_SSL_VERIFYPEER, 1L);
        curl_easy_setopt (curl, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    curl_easy_setopt (curl, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt (curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt (curl, CURLOPT_WRITEFUNCTION, enp_http_discard);
    long code = 0;
    CURLcode rc = curl_easy_perform (curl);
    if (rc == CURLE_OK)
        curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup (curl);
    return (rc == CURLE_OK && code >= 200 && code < 300)? 0: -1;
}
