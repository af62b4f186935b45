/*  worker_callback - reports processed events to the logger over HTTP

    One libcurl easy handle per worker thread, reused for every report so
    the TCP connection stays alive. Transient failures (no connection, a
    timeout, a 5xx) are retried with exponential backoff and full jitter,
    so many workers recovering at once do not stampede the logger; a 4xx
    is the logger saying no, so it is logged and dropped.
*/
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <curl/curl.h>
#include "worker_callback.h"
#include "enp_event.h"
#include "enp_log.h"

#define S_BACKOFF_MAX_MS 5000

struct _worker_callback_t {
    CURL *curl;                     //  kept-alive handle
    struct curl_slist *headers;     //  Content-Type, Authorization
    char *base_url;                 //  without a trailing slash
    int max_retries;
    long backoff_ms;                //  first backoff
    const atomic_bool *cancel;      //  stop waiting when true, may be NULL
    unsigned long retries;          //  retries made
    unsigned int seed;              //  for jitter
};

//  Swallow the response body; the status code is all we need.
static size_t
s_discard (char *data, size_t size, size_t count, void *arg)
{
    (void) data;
    (void) arg;
    return size * count;
}

//  Sleep for ms, waking early when cancelled. Returns -1 if cancelled.
static int
s_sleep (worker_callback_t *self, long ms)
{
    while (ms > 0) {
        if (self->cancel && atomic_load (self->cancel))
            return -1;
        long step = ms > 50? 50: ms;
        usleep ((useconds_t) step * 1000);
        ms -= step;
    }
    return 0;
}

//  Create a client for the logger.
worker_callback_t *
worker_callback_new (const char *base_url, const char *token, int max_retries,
                     long backoff_ms, const atomic_bool *cancel)
{
    worker_callback_t *self =
        (worker_callback_t *) calloc (1, sizeof (worker_callback_t));
    if (!self)
        return NULL;
    self->base_url = strdup (base_url);
    self->curl = curl_easy_init ();
    self->headers = curl_slist_append (NULL, "Content-Type: application/json");
    if (self->headers && token && *token) {
        char *header = NULL;
        if (asprintf (&header, "Authorization: Bearer %s", token) >= 0) {
            struct curl_slist *list = curl_slist_append (self->headers, header);
            self->headers = list? list: self->headers;
            free (header);
        }
    }
    if (!self->base_url || !self->curl || !self->headers) {
        worker_callback_destroy (&self);
        return NULL;
    }
    size_t length = strlen (self->base_url);
    while (length > 0 && self->base_url [length - 1] == '/')
        self->base_url [--length] = '\0';
    self->max_retries = max_retries;
    self->backoff_ms = backoff_ms > 0? backoff_ms: 1;
    self->cancel = cancel;
    self->seed = (unsigned int) getpid () ^ (unsigned int) (uintptr_t) self;
    curl_easy_setopt (self->curl, CURLOPT_CUSTOMREQUEST, "PATCH");
    curl_easy_setopt (self->curl, CURLOPT_POSTFIELDS, "{\"status\":\"processed\"}");
    curl_easy_setopt (self->curl, CURLOPT_HTTPHEADER, self->headers);
    curl_easy_setopt (self->curl, CURLOPT_WRITEFUNCTION, s_discard);
    curl_easy_setopt (self->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt (self->curl, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt (self->curl, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt (self->curl, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
    curl_easy_setopt (self->curl, CURLOPT_TIMEOUT_MS, 5000L);
    return self;
}

//  Destroy the client.
void
worker_callback_destroy (worker_callback_t **self_p)
{
    assert (self_p);
    if (!*self_p)
        return;
    worker_callback_t *self = *self_p;
    if (self->curl)
        curl_easy_cleanup (self->curl);
    curl_slist_free_all (self->headers);
    free (self->base_url);
    free (self);
    *self_p = NULL;
}

//  Report one event processed, retrying transient failures.
enp_status_t
worker_callback_report (worker_callback_t *self, const char *event_id)
{
    assert (self);
    char url [1024];
    snprintf (url, sizeof url, "%s/events/%s", self->base_url, event_id);
    curl_easy_setopt (self->curl, CURLOPT_URL, url);
    long backoff = self->backoff_ms;
    for (int attempt = 0; ; attempt++) {
        long code = 0;
        CURLcode rc = curl_easy_perform (self->curl);
        if (rc == CURLE_OK)
            curl_easy_getinfo (self->curl, CURLINFO_RESPONSE_CODE, &code);
        if (code >= 200 && code < 300)
            return ENP_OK;
        if (code == 404) {
            enp_log_event_warn (event_id, "logger does not know this event;"
                                " report dropped");
            return ENP_ENOTFOUND;
        }
        if (code >= 400 && code < 500) {
            enp_log_event_error (event_id, "logger refused the report with"
                                 " HTTP %ld; dropped", code);
            return ENP_EINVAL;
        }
        if (attempt >= self->max_retries) {
            enp_log_event_error (event_id, "report failed after %d retries"
                                 " (%s); the logger will redeliver", attempt,
                                 rc != CURLE_OK? curl_easy_strerror (rc): "5xx");
            return ENP_EIO;
        }
        //  Full jitter: sleep a random time up to the current backoff
        long wait = 1 + (long) (rand_r (&self->seed) % (unsigned long) backoff);
        enp_log_event_warn (event_id, "report failed (%s), retry %d in %ld ms",
                            rc != CURLE_OK? curl_easy_strerror (rc): "HTTP 5xx",
                            attempt + 1, wait);
        self->retries++;
        if (s_sleep (self, wait))
            return ENP_EIO;
        backoff = backoff * 2 > S_BACKOFF_MAX_MS? S_BACKOFF_MAX_MS: backoff * 2;
    }
}

unsigned long
worker_callback_retries (worker_callback_t *self)
{
    assert (self);
    return self->retries;
}
