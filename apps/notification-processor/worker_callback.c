/*  worker_callback - reports processed events to the logger over HTTP

    Reports wait in a bounded queue (worker_reports) and go out in
    requests: a batch, POST /events:batchUpdateStatus with up to
    batch_max event ids, or one PATCH /events/{id} each. A request costs
    the logger about as much as a whole create, so batching is what lets
    the pipeline pass half of what a bare HTTP server can serve. It must
    not cost latency when the logger is idle: while no request is in
    flight, whatever waits goes at once; only while one is in flight do
    reports gather, for up to batch_ms or until batch_max wait.

    A libcurl multi handle drives up to `inflight` requests at once, each
    slot keeping its easy handle (and so its kept-alive connection) from
    one request to the next. The worker thread submits reports and calls
    run and wait from its own loop; nothing here blocks except wait.

    Transient failures (no connection, a timeout, a 5xx; 408 and 429, the
    logger cutting a slow request or refusing one connection too many from
    this address; a 3xx too, which the logger never sends, so something in
    between is misconfigured) are retried per request with exponential
    backoff and full jitter, so many workers recovering at once do not
    stampede the logger; any other 4xx is the logger saying no, so it is
    logged and the report dropped. A batch's answer says what became of
    each event: a 404 item is logged and dropped like a single 404, items
    that failed for a passing reason are retried together. A logger
    without the batch route (404 or 405 for it) gets single PATCHes
    instead; one with a smaller body limit (413) gets smaller batches.
*/
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include "worker_callback.h"
#include "worker_reports.h"
#include "enp_event.h"
#include "enp_json.h"
#include "enp_log.h"
#include "enp_time.h"

#define S_BACKOFF_MAX_MS     5000
#define S_INFLIGHT_MAX       256
#define S_URL_MAX            1024   //  bytes of a report's URL
#define S_CONNECT_TIMEOUT_MS 2000L  //  to open a connection to the logger
#define S_TIMEOUT_MS         5000L  //  for a whole request
#define S_ANSWER_MAX         (8L << 20)     //  bytes of a batch answer read
#define S_REPROBE_MS         60000  //  after a fallback, try a batch again
#define S_BATCH_PATH         "/events:batchUpdateStatus"
//  A batch body, written here: the ids are canonical UUIDs, so nothing in
//  it needs escaping
#define S_BODY_HEAD          "{\"updates\":["
#define S_ITEM_HEAD          "{\"event_id\":\""
#define S_ITEM_TAIL          "\",\"status\":\"" ENP_STATUS_PROCESSED "\"}"
#define S_BODY_TAIL          "]}"
#define S_ITEM_SIZE          (sizeof S_ITEM_HEAD - 1 + ENP_UUID_LEN \
                              + sizeof S_ITEM_TAIL - 1 + 1)

typedef enum { S_FREE = 0, S_ACTIVE, S_WAITING } s_state_t;
typedef char s_id_t [ENP_UUID_LEN + 1];

typedef struct {
    CURL *curl;                         //  kept for the slot's life
    s_state_t state;
    bool batch;                         //  a batch POST, else one PATCH
    s_id_t *ids;                        //  the reports it carries
    size_t count;                       //  how many
    char *body;                         //  the batch body, NUL-terminated
    size_t body_size;
    char *answer;                       //  the batch answer read so far
    size_t answer_size;                 //  bytes in it
    size_t answer_room;                 //  bytes allocated
    bool answer_over;                   //  the answer passed S_ANSWER_MAX
    char url [S_URL_MAX];
    int attempt;                        //  retries made for this request
    long backoff_ms;                    //  current backoff ceiling
    int64_t retry_at;                   //  monotonic ms, when S_WAITING
} s_slot_t;

struct _worker_callback_t {
    CURLM *multi;                       //  drives every transfer
    struct curl_slist *headers;         //  Content-Type, Authorization
    char *base_url;                     //  without a trailing slash
    char *batch_url;                    //  base_url + S_BATCH_PATH
    char *ca_file;                      //  CAs for https, or NULL: the system's
    int max_retries;
    long backoff_ms;                    //  first backoff
    const atomic_bool *cancel;          //  stop retrying when true
    unsigned long retries;              //  retries made
    unsigned long batches;              //  batch requests made
    unsigned int seed;                  //  for jitter
    s_slot_t *slots;
    size_t inflight;                    //  slots
    size_t busy;                        //  slots not free
    worker_reports_t *queue;            //  reports waiting for a slot
    size_t limit;                       //  reports held at most
    size_t held;                        //  reports waiting or in slots
    size_t batch_max;                   //  reports per request at most
    size_t batch_cap;                   //  of them the logger takes (halved
                                        //  at each 413)
    int batch_ms;                       //  longest a report gathers
    int64_t gather_since;               //  when the oldest waiting one came
    int64_t single_until;               //  single PATCHes until then
};

//  Collect a batch answer, up to S_ANSWER_MAX bytes (the rest is read and
//  dropped, and the answer counts as unreadable).
static size_t
s_collect (char *data, size_t size, size_t count, void *arg)
{
    s_slot_t *slot = (s_slot_t *) arg;
    size_t bytes = size * count;
    if (!slot->batch || slot->answer_over)
        return bytes;
    if (slot->answer_size + bytes + 1 > (size_t) S_ANSWER_MAX) {
        slot->answer_over = true;
        return bytes;
    }
    if (slot->answer_size + bytes + 1 > slot->answer_room) {
        size_t room = slot->answer_room? slot->answer_room: 4096;
        while (room < slot->answer_size + bytes + 1)
            room *= 2;
        char *grown = (char *) realloc (slot->answer, room);
        if (!grown) {
            slot->answer_over = true;
            return bytes;
        }
        slot->answer = grown;
        slot->answer_room = room;
    }
    memcpy (slot->answer + slot->answer_size, data, bytes);
    slot->answer_size += bytes;
    slot->answer [slot->answer_size] = '\0';
    return bytes;
}

//  Create a slot's easy handle with every option set on purpose.
static CURL *
s_easy_new (worker_callback_t *self, s_slot_t *slot)
{
    CURL *curl = curl_easy_init ();
    if (!curl)
        return NULL;
    curl_easy_setopt (curl, CURLOPT_HTTPHEADER, self->headers);
    curl_easy_setopt (curl, CURLOPT_WRITEFUNCTION, s_collect);
    curl_easy_setopt (curl, CURLOPT_WRITEDATA, slot);
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
        free (slot->ids);
        free (slot->body);
        free (slot->answer);
    }
    free (self->slots);
    self->slots = NULL;
    self->inflight = 0;
    self->busy = 0;
}

//  Create count slots, each able to carry batch_max reports. Returns 0 or
//  -1 (then the slots are gone).
static int
s_slots_new (worker_callback_t *self, size_t count)
{
    self->slots = (s_slot_t *) calloc (count, sizeof (s_slot_t));
    if (!self->slots)
        return -1;
    self->inflight = count;
    size_t body_room = sizeof S_BODY_HEAD + sizeof S_BODY_TAIL
                     + S_ITEM_SIZE * self->batch_max;
    for (size_t index = 0; index < count; index++) {
        s_slot_t *slot = &self->slots [index];
        slot->curl = s_easy_new (self, slot);
        slot->ids = (s_id_t *) calloc (self->batch_max, sizeof (s_id_t));
        slot->body = self->batch_max > 1? (char *) malloc (body_room): NULL;
        if (!slot->curl || !slot->ids || (self->batch_max > 1 && !slot->body)) {
            s_slots_destroy (self);
            return -1;
        }
    }
    //  One connection per slot to the logger, and no more
    curl_multi_setopt (self->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long) count);
    return 0;
}

//  Write the batch body for the slot's reports.
static void
s_build_body (s_slot_t *slot)
{
    char *end = slot->body;
    memcpy (end, S_BODY_HEAD, sizeof S_BODY_HEAD - 1);
    end += sizeof S_BODY_HEAD - 1;
    for (size_t index = 0; index < slot->count; index++) {
        if (index > 0)
            *end++ = ',';
        memcpy (end, S_ITEM_HEAD, sizeof S_ITEM_HEAD - 1);
        end += sizeof S_ITEM_HEAD - 1;
        memcpy (end, slot->ids [index], ENP_UUID_LEN);
        end += ENP_UUID_LEN;
        memcpy (end, S_ITEM_TAIL, sizeof S_ITEM_TAIL - 1);
        end += sizeof S_ITEM_TAIL - 1;
    }
    memcpy (end, S_BODY_TAIL, sizeof S_BODY_TAIL);
    slot->body_size = (size_t) (end - slot->body) + sizeof S_BODY_TAIL - 1;
}

//  Start (or restart) the slot's request.
static void
s_start (worker_callback_t *self, s_slot_t *slot)
{
    CURL *curl = slot->curl;
    if (slot->batch) {
        curl_easy_setopt (curl, CURLOPT_URL, self->batch_url);
        curl_easy_setopt (curl, CURLOPT_CUSTOMREQUEST, NULL);
        curl_easy_setopt (curl, CURLOPT_POSTFIELDSIZE, (long) slot->body_size);
        curl_easy_setopt (curl, CURLOPT_POSTFIELDS, slot->body);
    }
    else {
        snprintf (slot->url, sizeof slot->url, "%s/events/%s", self->base_url,
                  slot->ids [0]);
        curl_easy_setopt (curl, CURLOPT_URL, slot->url);
        curl_easy_setopt (curl, CURLOPT_CUSTOMREQUEST, "PATCH");
        curl_easy_setopt (curl, CURLOPT_POSTFIELDSIZE,
                          (long) strlen (ENP_STATUS_PATCH_PROCESSED));
        curl_easy_setopt (curl, CURLOPT_POSTFIELDS, ENP_STATUS_PATCH_PROCESSED);
    }
    slot->answer_size = 0;
    slot->answer_over = false;
    slot->state = S_ACTIVE;
    curl_multi_add_handle (self->multi, curl);
}

//  Tell the owner the outcome of one report, which the client lets go of.
static void
s_done (worker_callback_t *self, const char *event_id, enp_status_t status,
        worker_callback_done_fn *done, void *arg)
{
    self->held--;
    if (done)
        done (arg, event_id, status);
}

//  Free a slot.
static void
s_release (worker_callback_t *self, s_slot_t *slot)
{
    slot->state = S_FREE;
    slot->count = 0;
    self->busy--;
}

//  Finish every report of a slot with one outcome and free it.
static void
s_finish (worker_callback_t *self, s_slot_t *slot, enp_status_t status,
          worker_callback_done_fn *done, void *arg)
{
    for (size_t index = 0; index < slot->count; index++)
        s_done (self, slot->ids [index], status, done, arg);
    s_release (self, slot);
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

//  A request failed for a passing reason: retry it after a backoff, or
//  give its reports up when the retries ran out or were cancelled.
static void
s_retry (worker_callback_t *self, s_slot_t *slot, const char *outcome,
         worker_callback_done_fn *done, void *arg)
{
    const char *event_id = slot->batch? NULL: slot->ids [0];
    if (slot->attempt >= self->max_retries
    || (self->cancel && atomic_load (self->cancel))) {
        if (slot->batch)
            enp_log_error ("report of a batch of %zu failed after %d retries"
                           " (%s); the logger will redeliver those events",
                           slot->count, slot->attempt, outcome);
        else
            enp_log_event_error (event_id, "report failed after %d retries"
                                 " (%s); the logger will redeliver",
                                 slot->attempt, outcome);
        s_finish (self, slot, ENP_EIO, done, arg);
        return;
    }
    //  Full jitter: wait a random time up to the current backoff
    long wait = 1 + (long) (rand_r (&self->seed) % (unsigned long) slot->backoff_ms);
    slot->attempt++;
    if (slot->batch)
        enp_log_warn ("report of a batch of %zu failed (%s), retry %d in %ld ms",
                      slot->count, outcome, slot->attempt, wait);
    else
        enp_log_event_warn (event_id, "report failed (%s), retry %d in %ld ms",
                            outcome, slot->attempt, wait);
    slot->retry_at = enp_time_mono_ms () + wait;
    slot->backoff_ms = slot->backoff_ms * 2 > S_BACKOFF_MAX_MS
                     ? S_BACKOFF_MAX_MS: slot->backoff_ms * 2;
    slot->state = S_WAITING;
}

//  One report's outcome from its HTTP status: finished (returns true, done
//  called), or to be retried (false).
static bool
s_settle (worker_callback_t *self, const char *event_id, long code,
          worker_callback_done_fn *done, void *arg)
{
    if (code >= 200 && code < 300)
        s_done (self, event_id, ENP_OK, done, arg);
    else
    if (code == 404) {
        enp_log_event_warn (event_id, "logger does not know this event;"
                            " report dropped");
        s_done (self, event_id, ENP_ENOTFOUND, done, arg);
    }
    else
    if (code >= 400 && code < 500 && code != 408 && code != 429) {
        enp_log_event_error (event_id, "logger refused the report with"
                             " HTTP %ld; dropped", code);
        s_done (self, event_id, ENP_EINVAL, done, arg);
    }
    else
        return false;
    return true;
}

//  Read a batch answer's codes, one per report in request order, into
//  codes. Returns 0, or -1 when the answer is not what the route returns.
static int
s_read_results (s_slot_t *slot, long *codes)
{
    if (slot->answer_over || slot->answer_size == 0)
        return -1;
    json_t *root = enp_json_load (slot->answer, slot->answer_size, 0, NULL, 0);
    json_t *results = json_object_get (root, "results");
    int rc = json_is_array (results) && json_array_size (results) == slot->count? 0: -1;
    for (size_t index = 0; rc == 0 && index < slot->count; index++) {
        json_t *item = json_array_get (results, index);
        json_t *code = json_object_get (item, "code");
        const char *event_id = json_string_value (json_object_get (item, "event_id"));
        if (!json_is_integer (code) || !event_id
        ||  strcmp (event_id, slot->ids [index]) != 0)
            rc = -1;
        else
            codes [index] = (long) json_integer_value (code);
    }
    json_decref (root);
    return rc;
}

//  A batch came back 2xx: settle each report by its own code and retry
//  those that failed for a passing reason.
static void
s_batch_results (worker_callback_t *self, s_slot_t *slot,
                 worker_callback_done_fn *done, void *arg)
{
    long *codes = (long *) malloc (slot->count * sizeof (long));
    if (!codes || s_read_results (slot, codes)) {
        free (codes);
        s_retry (self, slot, "an answer that is not a batch result", done, arg);
        return;
    }
    size_t left = 0;
    long failed = 0;
    for (size_t index = 0; index < slot->count; index++)
        if (!s_settle (self, slot->ids [index], codes [index], done, arg)) {
            memmove (slot->ids [left++], slot->ids [index], sizeof (s_id_t));
            failed = codes [index];
        }
    free (codes);
    slot->count = left;
    if (left == 0) {
        s_release (self, slot);
        return;
    }
    char outcome [48];
    snprintf (outcome, sizeof outcome, "HTTP %ld for %zu of them", failed, left);
    s_build_body (slot);
    s_retry (self, slot, outcome, done, arg);
}

//  Put a refused batch's reports back at the head of the queue, to go
//  again at once, and free its slot.
static void
s_requeue (worker_callback_t *self, s_slot_t *slot,
           worker_callback_done_fn *done, void *arg)
{
    if (worker_reports_unshift (self->queue, slot->ids, slot->count) == 0) {
        if (self->gather_since == 0)
            self->gather_since = enp_time_mono_ms ();
        s_release (self, slot);
    }
    else
        s_finish (self, slot, ENP_EIO, done, arg);
}

//  The logger has no batch route, or takes no body even for one report:
//  send single PATCHes for a while, starting with this batch's reports.
//  Said once: a processor facing an old logger would say it every minute.
static void
s_fall_back (worker_callback_t *self, s_slot_t *slot, long code,
             worker_callback_done_fn *done, void *arg)
{
    if (self->single_until == 0)
        enp_log_warn ("the logger answered HTTP %ld to %s: it is older than"
                      " this processor, or limits bodies; reporting with single"
                      " PATCHes, and trying a batch again every %d s", code,
                      S_BATCH_PATH, S_REPROBE_MS / 1000);
    self->single_until = enp_time_mono_ms () + S_REPROBE_MS;
    s_requeue (self, slot, done, arg);
}

//  The logger takes no body this large (413): halve the batches from now
//  on and send these reports again, so that a logger with a smaller body
//  limit still gets batches rather than one PATCH per report.
static void
s_shrink (worker_callback_t *self, s_slot_t *slot,
          worker_callback_done_fn *done, void *arg)
{
    size_t cap = slot->count / 2;
    if (cap < self->batch_cap) {
        self->batch_cap = cap;
        enp_log_warn ("the logger refused a batch of %zu reports as too large"
                      " (HTTP 413); sending at most %zu a request", slot->count,
                      cap);
    }
    s_requeue (self, slot, done, arg);
}

//  Decide what a finished transfer means: done, retry later, or fall back.
static void
s_completed (worker_callback_t *self, s_slot_t *slot, CURLcode rc,
             worker_callback_done_fn *done, void *arg)
{
    long code = 0;
    if (rc == CURLE_OK)
        curl_easy_getinfo (slot->curl, CURLINFO_RESPONSE_CODE, &code);
    char outcome [32];
    if (slot->batch) {
        if (code >= 200 && code < 300)
            s_batch_results (self, slot, done, arg);
        else
        if (code == 413 && slot->count > 1)
            s_shrink (self, slot, done, arg);
        else
        if (code == 404 || code == 405 || code == 413)
            s_fall_back (self, slot, code, done, arg);
        else
        if (code >= 400 && code < 500 && code != 408 && code != 429) {
            enp_log_error ("logger refused a batch of %zu reports with HTTP"
                           " %ld; dropped", slot->count, code);
            s_finish (self, slot, ENP_EINVAL, done, arg);
        }
        else
            s_retry (self, slot, s_outcome (rc, code, outcome, sizeof outcome),
                     done, arg);
    }
    else
    if (s_settle (self, slot->ids [0], code, done, arg))
        s_release (self, slot);
    else
        s_retry (self, slot, s_outcome (rc, code, outcome, sizeof outcome),
                 done, arg);
}

//  Start requests for waiting reports while slots are free: at once when
//  nothing is in flight, else once batch_max wait or the oldest has waited
//  batch_ms.
static void
s_dispatch (worker_callback_t *self)
{
    int64_t now = enp_time_mono_ms ();
    bool batch = self->batch_max > 1 && now >= self->single_until;
    for (size_t index = 0; index < self->inflight; index++) {
        size_t queued = worker_reports_size (self->queue);
        if (queued == 0)
            break;
        if (batch && self->busy > 0 && queued < self->batch_cap
        &&  now < self->gather_since + self->batch_ms)
            break;
        s_slot_t *slot = &self->slots [index];
        if (slot->state != S_FREE)
            continue;
        slot->count = worker_reports_take (self->queue, slot->ids,
                                           batch? self->batch_cap: 1);
        slot->batch = batch;
        slot->attempt = 0;
        slot->backoff_ms = self->backoff_ms;
        if (batch) {
            s_build_body (slot);
            self->batches++;
        }
        self->busy++;
        s_start (self, slot);
        self->gather_since = worker_reports_size (self->queue) > 0? now: 0;
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
    self->batch_max = 1;
    self->batch_cap = 1;
    self->limit = WORKER_CALLBACK_QUEUE_DEFAULT;
    self->queue = worker_reports_new (self->limit);
    if (self->base_url) {
        size_t length = strlen (self->base_url);
        while (length > 0 && self->base_url [length - 1] == '/')
            self->base_url [--length] = '\0';
        if (asprintf (&self->batch_url, "%s%s", self->base_url, S_BATCH_PATH) < 0)
            self->batch_url = NULL;
    }
    if (!self->base_url || !self->batch_url || !self->multi || !self->headers
    ||  !self->queue || s_slots_new (self, 1)) {
        worker_callback_destroy (&self);
        return NULL;
    }
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
    worker_reports_destroy (&self->queue);
    free (self->ca_file);
    free (self->batch_url);
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
    if (self->held > 0 || access (ca_file, R_OK) != 0)
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

//  Allow up to max requests in flight.
int
worker_callback_set_inflight (worker_callback_t *self, size_t max)
{
    assert (self);
    if (self->held > 0 || max < 1 || max > S_INFLIGHT_MAX)
        return -1;
    size_t before = self->inflight;
    s_slots_destroy (self);
    if (s_slots_new (self, max) == 0)
        return 0;
    s_slots_new (self, before);         //  Keep a working client if we can
    return -1;
}

//  Report in batches of up to max, gathering for up to ms.
int
worker_callback_set_batch (worker_callback_t *self, size_t max, int ms)
{
    assert (self);
    if (self->held > 0 || max < 1 || max > WORKER_CALLBACK_BATCH_MAX
    ||  ms < 0 || ms > WORKER_CALLBACK_BATCH_MS_MAX)
        return -1;
    size_t before = self->batch_max, slots = self->inflight;
    s_slots_destroy (self);
    self->batch_max = self->batch_cap = max;
    self->batch_ms = ms;
    if (s_slots_new (self, slots) == 0)
        return 0;
    self->batch_max = self->batch_cap = before;
    s_slots_new (self, slots);
    return -1;
}

//  Hold up to limit reports.
int
worker_callback_set_queue (worker_callback_t *self, size_t limit)
{
    assert (self);
    worker_reports_t *queue = self->held == 0? worker_reports_new (limit): NULL;
    if (!queue)
        return -1;
    worker_reports_destroy (&self->queue);
    self->queue = queue;
    self->limit = limit;
    return 0;
}

unsigned long
worker_callback_retries (worker_callback_t *self)
{
    assert (self);
    return self->retries;
}

unsigned long
worker_callback_batches (worker_callback_t *self)
{
    assert (self);
    return self->batches;
}

bool
worker_callback_batching (worker_callback_t *self)
{
    assert (self);
    return self->batch_max > 1 && enp_time_mono_ms () >= self->single_until;
}

//  Queue a report.
int
worker_callback_submit (worker_callback_t *self, const char *event_id)
{
    assert (self);
    if (self->held >= self->limit)
        return -1;
    bool first = worker_reports_size (self->queue) == 0;
    if (worker_reports_push (self->queue, event_id))
        return -1;
    if (first)
        self->gather_since = enp_time_mono_ms ();
    self->held++;
    return 0;
}

bool
worker_callback_full (worker_callback_t *self)
{
    assert (self);
    return self->held >= self->limit;
}

size_t
worker_callback_room (worker_callback_t *self)
{
    assert (self);
    return self->limit - self->held;
}

size_t
worker_callback_pending (worker_callback_t *self)
{
    assert (self);
    return self->held;
}

size_t
worker_callback_queued (worker_callback_t *self)
{
    assert (self);
    return worker_reports_size (self->queue);
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
        }
    }
    s_dispatch (self);
    curl_multi_perform (self->multi, &running);
    return self->held;
}

//  Wait for HTTP activity, a retry or a batch falling due, or an extra
//  descriptor.
void
worker_callback_wait (worker_callback_t *self, struct curl_waitfd *extra,
                      unsigned int extra_count, int timeout_ms)
{
    assert (self);
    int64_t now = enp_time_mono_ms ();
    int64_t due = now + timeout_ms;
    for (size_t index = 0; index < self->inflight; index++) {
        s_slot_t *slot = &self->slots [index];
        if (slot->state == S_WAITING && slot->retry_at < due)
            due = slot->retry_at;
    }
    //  Reports gathering for a free slot go when their time is up
    if (worker_reports_size (self->queue) > 0 && self->busy < self->inflight
    &&  self->gather_since + self->batch_ms < due)
        due = self->gather_since + self->batch_ms;
    curl_multi_poll (self->multi, extra, extra_count,
                     due > now? (int) (due - now): 0, NULL);
}
