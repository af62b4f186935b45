/*  worker_callback - reports processed events to the logger over HTTP

    Each report is a PATCH /events/{id} {"status":"processed"}. A report
    costs the worker a whole HTTP round trip, so reports run concurrently:
    a libcurl multi handle drives up to `inflight` transfers at once, each
    slot keeping its easy handle (and so its kept-alive connection) from
    one report to the next. The worker thread submits reports and calls
    run and wait from its own loop; nothing here blocks except wait.

    Transient failures (no connection, a timeout, a 5xx; 408 and 429, the
    logger cutting a slow request or refusing one connection too many from
    this address; a 3xx too, which the logger never sends, so something in
    between is misconfigured) are retried with exponential backoff and full
    jitter, so many workers recovering at once do not stampede the logger;
    any other 4xx is the logger saying no, so it is logged and the report
    dropped.
*/
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include "worker_callback.h"
#include "enp_event.h"
#include "enp_http.h"
#include "enp_log.h"
#include "enp_time.h"

#define S_BACKOFF_MAX_MS     5000
#define S_INFLIGHT_MAX       256
#define S_URL_MAX            1024   //  bytes of a report's URL
#define S_CONNECT_TIMEOUT_MS 2000L  //  to open a connection to the logger
#define S_TIMEOUT_MS         5000L  //  for a whole report

typedef enum { S_FREE = 0, S_ACTIVE, S_WAITING } s_state_t;

typedef struct {
    CURL *curl;                         //  kept for the slot's life
    s_state_t state;
    char event_id [ENP_UUID_LEN + 1];
    char url [S_URL_MAX];
    int attempt;                        //  retries made for this report
    long backoff_ms;                    //  current backoff ceiling
    int64_t retry_at;                   //  monotonic ms, when S_WAITING
} s_slot_t;

struct _worker_callback_t {
    CURLM *multi;                       //  drives every transfer
    struct curl_slist *headers;         //  Content-Type, Authorization
    char *base_url;                     //  without a trailing slash
    char *ca_file;                      //  CAs for https, or NULL: the system's
    int max_retries;
    long backoff_ms;                    //  first backoff
    const atomic_bool *cancel;          //  stop retrying when true
    unsigned long retries;              //  retries made
    unsigned int seed;                  //  for jitter
    s_slot_t *slots;
    size_t inflight;                    //  slots in use at most
    size_t pending;                     //  slots not free
};

//  Create a slot's easy handle with every option set on purpose.
static CURL *
s_easy_new (worker_callback_t *self, s_slot_t *slot)
{
    CURL *curl = curl_easy_init ();
    if (!curl)
        return NULL;
    curl_easy_setopt (curl, CURLOPT_CUSTOMREQUEST, "PATCH");
    curl_easy_setopt (curl, CURLOPT_POSTFIELDS, ENP_STATUS_PATCH_PROCESSED);
    curl_easy_setopt (curl, CURLOPT_HTTPHEADER, self->headers);
    //  The status code is all we need of the response
    curl_easy_setopt (curl, CURLOPT_WRITEFUNCTION, enp_http_discard);
    curl_easy_setopt (curl, CURLOPT_PRIVATE, slot);
    curl_easy_setopt (curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt (curl, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt (curl, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt (curl, CURLOPT_CONNECTTIMEOUT_MS, S_CONNECT_TIMEOUT_MS);
    curl_easy_setopt (curl, CURLOPT_TIMEOUT_MS, S_TIMEOUT_MS);
    //  Only the web's two schemes, with the peer's certificate and name
    //  checked: a report never falls back to an unverified connection
    curl_easy_setopt (curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt (curl, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt (curl, CURLOPT_SSL_VERIFYHOST, 2L);
    if (self->ca_file)
        curl_easy_setopt (curl, CURLOPT_CAINFO, self->ca_file);
    return curl;
}

//  Create the slots and their handles.
static int
s_slots_new (worker_callback_t *self, size_t count)
{
    self->slots = (s_slot_t *) calloc (count, sizeof (s_slot_t));
    if (!self->slots)
        return -1;
    self->inflight = count;
    for (size_t index = 0; index < count; index++) {
        self->slots [index].curl = s_easy_new (self, &self->slots [index]);
        if (!self->slots [index].curl)
            return -1;
    }
    return 0;
}

//  Free the slots; transfers still running are abandoned.
static void
s_slots_destroy (worker_callback_t *self)
{
    for (size_t index = 0; self->slots && index < self->inflight; index++) {
        s_slot_t *slot = &self->slots [index];
        if (slot->state == S_ACTIVE)
            curl_multi_remove_handle (self->multi, slot->curl);
        if (slot->curl)
            curl_easy_cleanup (slot->curl);
    }
    free (self->slots);
    self->slots = NULL;
    self->inflight = 0;
    self->pending = 0;
}

//  Start (or restart) the slot's transfer.
static void
s_start (worker_callback_t *self, s_slot_t *slot)
{
    curl_easy_setopt (slot->curl, CURLOPT_URL, slot->url);
    slot->state = S_ACTIVE;
    curl_multi_add_handle (self->multi, slot->curl);
}

//  Free a finished slot and tell the owner the outcome.
static void
s_finish (worker_callback_t *self, s_slot_t *slot, enp_status_t status,
          worker_callback_done_fn *done, void *arg)
{
    slot->state = S_FREE;
    self->pending--;
    if (done)
        done (arg, slot->event_id, status);
}

//  Say what a failed attempt got, as it was: a transport error, no
//  response at all, or the status (a 3xx is not a 5xx).
static const char *
s_outcome (CURLcode rc, long code, char *buf, size_t size)
{
    if (rc == CURLE_PEER_FAILED_VERIFICATION)
        return "the logger's TLS certificate is not trusted: give the CA that"
               " signed it with --logger-ca";
    if (rc != CURLE_OK)
        return curl_easy_strerror (rc);
    if (code == 0)
        return "no HTTP response";
    snprintf (buf, size, "HTTP %ld", code);
    return buf;
}

//  Decide what a finished transfer means: done, or retry later.
static void
s_completed (worker_callback_t *self, s_slot_t *slot, CURLcode rc,
             worker_callback_done_fn *done, void *arg)
{
    long code = 0;
    if (rc == CURLE_OK)
        curl_easy_getinfo (slot->curl, CURLINFO_RESPONSE_CODE, &code);
    const char *event_id = slot->event_id;
    char outcome [32];
    if (code >= 200 && code < 300)
        s_finish (self, slot, ENP_OK, done, arg);
    else
    if (code == 404) {
        enp_log_event_warn (event_id, "logger does not know this event;"
                            " report dropped");
        s_finish (self, slot, ENP_ENOTFOUND, done, arg);
    }
    else
    if (code >= 400 && code < 500 && code != 408 && code != 429) {
        enp_log_event_error (event_id, "logger refused the report with"
                             " HTTP %ld; dropped", code);
        s_finish (self, slot, ENP_EINVAL, done, arg);
    }
    else
    if (slot->attempt >= self->max_retries
    || (self->cancel && atomic_load (self->cancel))) {
        enp_log_event_error (event_id, "report failed after %d retries (%s);"
                             " the logger will redeliver", slot->attempt,
                             s_outcome (rc, code, outcome, sizeof outcome));
        s_finish (self, slot, ENP_EIO, done, arg);
    }
    else {
        //  Full jitter: wait a random time up to the current backoff
        long wait = 1 + (long) (rand_r (&self->seed) % (unsigned long) slot->backoff_ms);
        slot->attempt++;
        enp_log_event_warn (event_id, "report failed (%s), retry %d in %ld ms",
                            s_outcome (rc, code, outcome, sizeof outcome),
                            slot->attempt, wait);
        slot->retry_at = enp_time_mono_ms () + wait;
        slot->backoff_ms = slot->backoff_ms * 2 > S_BACKOFF_MAX_MS
                         ? S_BACKOFF_MAX_MS: slot->backoff_ms * 2;
        slot->state = S_WAITING;
    }
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
    self->multi = curl_multi_init ();
    self->headers = curl_slist_append (NULL, "Content-Type: application/json");
    if (self->headers && token && *token) {
        char *header = NULL;
        if (asprintf (&header, "Authorization: Bearer %s", token) >= 0) {
            struct curl_slist *list = curl_slist_append (self->headers, header);
            self->headers = list? list: self->headers;
            free (header);
        }
    }
    self->max_retries = max_retries;
    self->backoff_ms = backoff_ms > 0? backoff_ms: 1;
    self->cancel = cancel;
    self->seed = (unsigned int) getpid () ^ (unsigned int) (uintptr_t) self;
    if (!self->base_url || !self->multi || !self->headers
    ||  s_slots_new (self, 1)) {
        worker_callback_destroy (&self);
        return NULL;
    }
    size_t length = strlen (self->base_url);
    while (length > 0 && self->base_url [length - 1] == '/')
        self->base_url [--length] = '\0';
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
    s_slots_destroy (self);
    if (self->multi)
        curl_multi_cleanup (self->multi);
    curl_slist_free_all (self->headers);
    free (self->ca_file);
    free (self->base_url);
    free (self);
    *self_p = NULL;
    //  libcurl's OpenSSL keeps state per thread (its error queue, and on
    //  the thread that happened to initialise it, what loading its
    //  configuration left) that it frees when the thread exits. A worker
    //  runs on a detached zactor thread, which may still be exiting when
    //  the process exits: OpenSSL's exit handler then deletes its
    //  thread-local keys first, the thread's destructor finds nothing, and
    //  the state is lost (LeakSanitizer reported it in about half of the
    //  runs). Free it now, on the thread that used it; OpenSSL makes it
    //  again if this thread calls it later.
    OPENSSL_thread_stop ();
}

//  Verify the logger's certificate against the CAs in ca_file.
int
worker_callback_trust (worker_callback_t *self, const char *ca_file)
{
    assert (self);
    assert (ca_file);
    if (self->pending > 0 || access (ca_file, R_OK) != 0)
        return -1;
    char *copy = strdup (ca_file);
    if (!copy)
        return -1;
    free (self->ca_file);
    self->ca_file = copy;
    for (size_t index = 0; index < self->inflight; index++)
        curl_easy_setopt (self->slots [index].curl, CURLOPT_CAINFO, self->ca_file);
    return 0;
}

//  Allow up to max reports in flight.
int
worker_callback_set_inflight (worker_callback_t *self, size_t max)
{
    assert (self);
    if (self->pending > 0 || max < 1 || max > S_INFLIGHT_MAX)
        return -1;
    s_slots_destroy (self);
    //  One connection per slot to the logger, and no more
    curl_multi_setopt (self->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long) max);
    return s_slots_new (self, max);
}

unsigned long
worker_callback_retries (worker_callback_t *self)
{
    assert (self);
    return self->retries;
}

//  Start reporting an event.
int
worker_callback_submit (worker_callback_t *self, const char *event_id)
{
    assert (self);
    for (size_t index = 0; index < self->inflight; index++) {
        s_slot_t *slot = &self->slots [index];
        if (slot->state != S_FREE)
            continue;
        snprintf (slot->event_id, sizeof slot->event_id, "%s", event_id);
        snprintf (slot->url, sizeof slot->url, "%s/events/%s", self->base_url,
                  event_id);
        slot->attempt = 0;
        slot->backoff_ms = self->backoff_ms;
        self->pending++;
        s_start (self, slot);
        return 0;
    }
    return -1;
}

bool
worker_callback_full (worker_callback_t *self)
{
    assert (self);
    return self->pending >= self->inflight;
}

size_t
worker_callback_pending (worker_callback_t *self)
{
    assert (self);
    return self->pending;
}

//  Move transfers along without blocking.
size_t
worker_callback_run (worker_callback_t *self, worker_callback_done_fn *done,
                     void *arg)
{
    assert (self);
    int running = 0;
    curl_multi_perform (self->multi, &running);
    CURLMsg *message;
    int queued = 0;
    while ((message = curl_multi_info_read (self->multi, &queued))) {
        if (message->msg != CURLMSG_DONE)
            continue;
        s_slot_t *slot = NULL;
        CURL *curl = message->easy_handle;
        CURLcode rc = message->data.result;
        curl_easy_getinfo (curl, CURLINFO_PRIVATE, (char **) &slot);
        curl_multi_remove_handle (self->multi, curl);
        s_completed (self, slot, rc, done, arg);
    }
    //  Restart retries that fell due, or give them up when cancelled
    int64_t now = enp_time_mono_ms ();
    bool cancelled = self->cancel && atomic_load (self->cancel);
    bool restarted = false;
    for (size_t index = 0; index < self->inflight; index++) {
        s_slot_t *slot = &self->slots [index];
        if (slot->state != S_WAITING)
            continue;
        if (cancelled)
            s_finish (self, slot, ENP_EIO, done, arg);
        else
        if (slot->retry_at <= now) {
            s_start (self, slot);
            self->retries++;            //  Counted when it really goes out
            restarted = true;
        }
    }
    if (restarted)
        curl_multi_perform (self->multi, &running);
    return self->pending;
}

//  Wait for HTTP activity, a retry falling due, or an extra descriptor.
void
worker_callback_wait (worker_callback_t *self, struct curl_waitfd *extra,
                      unsigned int extra_count, int timeout_ms)
{
    assert (self);
    int64_t now = enp_time_mono_ms ();
    for (size_t index = 0; index < self->inflight; index++) {
        s_slot_t *slot = &self->slots [index];
        if (slot->state == S_WAITING && slot->retry_at - now < timeout_ms)
            timeout_ms = slot->retry_at > now? (int) (slot->retry_at - now): 0;
    }
    curl_multi_poll (self->multi, extra, extra_count, timeout_ms, NULL);
}
