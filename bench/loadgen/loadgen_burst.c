/*  loadgen_burst - "loadgen burst": post N events as fast as they are
    accepted, then read them back to time the whole pipeline

    Phase 1 posts over C connections, keeping each event id from the
    Location header; 503 and 429 are retried after Retry-After, and a POST
    lost with its connection counts as failed rather than being sent twice.
    Phase 2 polls until nothing is pending or queued, then reads every
    processed event back (the list endpoint, or GET /events/{id} when the
    target has no list) to get end-to-end time and create->processed
    latency (updated_at - created_at).

    With --pace R the POSTs follow a schedule of R events a second (unit i
    is due at i / R s from the start) instead of going as fast as they are
    accepted: the read-back latency is then that of a steady load, not of
    a backlog. With --batch N each POST is one POST /events:batchCreate of N copies of
    --body: a unit of work (what is retried, or lost) is then a batch, and
    the ids come from the response's "events" array instead of Location.
*/
#define _GNU_SOURCE
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "loadgen_burst.h"
#include "loadgen_client.h"
#include "loadgen_engine.h"
#include "loadgen_idset.h"
#include "loadgen_latency.h"
#include "loadgen_util.h"

//  One run's state, shared with the engine's callbacks.
typedef struct {
    const loadgen_options_t *options;
    loadgen_engine_t *engine;
    char (*ids) [LOADGEN_ID_MAX];       //  event id of each posted index
    long per_post;              //  events a POST carries (1, or --batch)
    long units;                 //  POSTs to send: events / per_post
    long next;                  //  next unit never sent
    uint64_t start;             //  when posting began (CLOCK_MONOTONIC ns)
    long ok, failed;            //  POSTs accepted, POSTs given up
    long *retry_stack;          //  indexes to post again (after 503/429)
    long retry_count;
    long retries;               //  POSTs sent again
    uint64_t last_ok;           //  when the last POST was accepted
    loadgen_client_t *client;   //  read-back connection
    loadgen_idset_t *idset;     //  id -> index, for the read-back
    char *seen;                 //  per index: seen processed
    long seen_count;
    loadgen_latency_t *latency; //  create->processed, in microseconds
    double max_updated_ms;      //  latest updated_at seen
} s_burst_t;

//  A batch created: keep the id of each of its events, in request order.
static void
s_keep_batch_ids (s_burst_t *self, long unit, const loadgen_http_response_t *response,
                  uint64_t now)
{
    json_t *root = json_loadb (response->body, response->body_len, 0, NULL);
    json_t *events = json_object_get (root, "events");
    long first = unit * self->per_post, kept = 0;
    for (long index = 0; json_is_array (events) && index < self->per_post
                      && (size_t) index < json_array_size (events); index++) {
        const char *id = json_string_value (json_object_get (json_array_get (events,
                                                            (size_t) index), "event_id"));
        if (id && strlen (id) < LOADGEN_ID_MAX) {
            strcpy (self->ids [first + index], id);
            kept++;
        }
    }
    json_decref (root);
    self->ok += kept;
    self->failed += self->per_post - kept;
    if (kept < self->per_post)
        loadgen_engine_stats (self->engine)->errors++;
    self->last_ok = now;
}

//  A POST answered: keep the id, or queue the event again, or count it.
static void
s_on_response (void *arg, loadgen_conn_t *conn, const loadgen_http_response_t *response,
               uint64_t now)
{
    s_burst_t *self = (s_burst_t *) arg;
    long index = conn->idx;
    if (self->per_post > 1 && response->status == 201) {
        s_keep_batch_ids (self, index, response, now);
        return;
    }
    if (response->status == 201 || response->status == 200) {
        const char *slash = strrchr (response->location, '/');
        const char *id = slash? slash + 1: response->location;
        size_t length = strlen (id);
        if (length == 0 || length >= LOADGEN_ID_MAX) {
            loadgen_engine_stats (self->engine)->errors++;
            self->failed++;
            return;
        }
        memcpy (self->ids [index], id, length + 1);
        self->ok++;
        self->last_ok = now;
        return;
    }
    if (response->status == 503 || response->status == 429) {
        self->retry_stack [self->retry_count++] = index;
        uint64_t wait = response->retry_after > 0
                      ? (uint64_t) response->retry_after * LOADGEN_NS_PER_S
                      : 50 * LOADGEN_NS_PER_MS;
        if (wait > LOADGEN_NS_PER_S)
            wait = LOADGEN_NS_PER_S;
        conn->next = now + wait;
        return;
    }
    loadgen_engine_stats (self->engine)->non2xx++;
    self->failed += self->per_post;
}

//  The connection died with the POST in flight: whether it was recorded is
//  unknown, so it counts as failed instead of being posted twice.
static void
s_on_lost (void *arg, loadgen_conn_t *conn)
{
    (void) conn;
    s_burst_t *self = (s_burst_t *) arg;
    loadgen_engine_stats (self->engine)->errors++;
    self->failed += self->per_post;
}

//  When unit may be sent: at once, or on --pace's schedule.
static uint64_t
s_due (s_burst_t *self, long unit)
{
    double pace = self->options->pace;
    if (pace <= 0)
        return 0;
    return self->start + (uint64_t) ((double) (unit * self->per_post) * 1e9 / pace);
}

//  Phase 1: post every event until each is accepted or failed, or the
//  deadline (CLOCK_MONOTONIC ns) passes.
static void
s_post (s_burst_t *self, uint64_t deadline)
{
    const loadgen_options_t *options = self->options;
    long count = options->events;
    while (!*options->interrupted && self->ok + self->failed < count
       &&  loadgen_now_ns () < deadline) {
        uint64_t now = loadgen_now_ns ();
        uint64_t wake = UINT64_MAX;
        for (int slot = 0; slot < options->conns; slot++) {
            loadgen_conn_t *conn = loadgen_engine_conn (self->engine, (size_t) slot);
            if (conn->state == LOADGEN_CONN_BUSY)
                continue;
            if (conn->next > now) {
                if (conn->next < wake)
                    wake = conn->next;
                continue;
            }
            long index;
            if (self->retry_count > 0) {
                index = self->retry_stack [--self->retry_count];
                self->retries++;
            }
            else
            if (self->next < self->units) {
                uint64_t due = s_due (self, self->next);
                if (due > now) {
                    if (due < wake)
                        wake = due;
                    continue;
                }
                index = self->next++;
            }
            else
                continue;
            conn->idx = index;
            if (loadgen_engine_send (self->engine, conn, now) != 0) {
                self->retry_stack [self->retry_count++] = index;    //  never sent: safe to retry
                conn->next = now + 50 * LOADGEN_NS_PER_MS;
                if (conn->next < wake)
                    wake = conn->next;
            }
        }
        loadgen_engine_arm (self->engine, wake == UINT64_MAX
                                          ? now + 200 * LOADGEN_NS_PER_MS: wake);
        loadgen_engine_wait (self->engine, s_on_response, s_on_lost, self);
    }
}

//  RFC 3339 to milliseconds since the epoch; -1 when it does not parse.
static double
s_parse_rfc3339_ms (const char *text)
{
    int year, month, day, hour, minute, second, used = 0;
    if (!text || sscanf (text, "%4d-%2d-%2dT%2d:%2d:%2d%n", &year, &month, &day, &hour,
                         &minute, &second, &used) != 6)
        return -1;
    const char *cursor = text + used;
    double fraction = 0, scale = 0.1;
    if (*cursor == '.') {
        for (cursor++; *cursor >= '0' && *cursor <= '9'; cursor++) {
            fraction += (*cursor - '0') * scale;
            scale /= 10;
        }
    }
    long offset = 0;
    if (*cursor == '+' || *cursor == '-') {
        int offset_hours = 0, offset_minutes = 0;
        if (sscanf (cursor + 1, "%2d:%2d", &offset_hours, &offset_minutes) < 1)
            return -1;
        offset = (offset_hours * 60 + offset_minutes) * 60L * (*cursor == '-'? -1: 1);
    }
    else
    if (*cursor != 'Z' && *cursor != 'z')
        return -1;
    struct tm tm;
    memset (&tm, 0, sizeof tm);
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = minute;
    tm.tm_sec = second;
    time_t seconds = timegm (&tm);
    return ((double) (seconds - offset) + fraction) * 1e3;
}

//  Percent-encode text for a query string into out (capacity bytes).
static void
s_urlencode (const char *text, char *out, size_t capacity)
{
    static const char hex [] = "0123456789ABCDEF";
    size_t used = 0;
    for (; *text && used + 4 < capacity; text++) {
        unsigned char c = (unsigned char) *text;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
        ||  c == '-' || c == '_' || c == '.' || c == '~')
            out [used++] = (char) c;
        else {
            out [used++] = '%';
            out [used++] = hex [c >> 4];
            out [used++] = hex [c & 15];
        }
    }
    out [used] = 0;
}

//  Record one event read back. Returns 1 if it was ours, processed and new.
static int
s_record_event (s_burst_t *self, json_t *event)
{
    const char *id = json_string_value (json_object_get (event, "event_id"));
    const char *status = json_string_value (json_object_get (event, "status"));
    if (!id || !status || strcmp (status, "processed") != 0)
        return 0;
    long index = loadgen_idset_find (self->idset, id);
    if (index < 0 || self->seen [index])
        return 0;
    double created = s_parse_rfc3339_ms (json_string_value (json_object_get (event, "created_at")));
    double updated = s_parse_rfc3339_ms (json_string_value (json_object_get (event, "updated_at")));
    self->seen [index] = 1;
    self->seen_count++;
    if (created >= 0 && updated >= 0) {
        double delta = updated - created;
        loadgen_latency_add (self->latency, delta > 0? (uint64_t) (delta * 1000.0): 0);
        if (updated > self->max_updated_ms)
            self->max_updated_ms = updated;
    }
    return 1;
}

//  GET one page of the list. Returns its item count or -1; *next gets the
//  next cursor (caller frees) or NULL; record: record each item.
static long
s_list_page (s_burst_t *self, const char *status, int limit, const char *after,
             char **next, int record)
{
    char path [600], encoded [400];
    if (after) {
        s_urlencode (after, encoded, sizeof encoded);
        snprintf (path, sizeof path, "/events?status=%s&limit=%d&after=%s", status, limit,
                  encoded);
    }
    else
        snprintf (path, sizeof path, "/events?status=%s&limit=%d", status, limit);
    loadgen_http_response_t response;
    if (loadgen_client_get (self->client, path, &response) != 0)
        return -1;
    if (response.status != 200) {
        loadgen_http_response_free (&response);
        return -1;
    }
    json_error_t error;
    json_t *root = json_loadb (response.body, response.body_len, 0, &error);
    loadgen_http_response_free (&response);
    if (!root)
        return -1;
    json_t *items = json_object_get (root, "items");
    if (!json_is_array (items)) {
        json_decref (root);
        return -1;
    }
    long count = (long) json_array_size (items);
    if (record)
        for (size_t index = 0; index < json_array_size (items); index++)
            s_record_event (self, json_array_get (items, index));
    if (next) {
        *next = NULL;
        json_t *cursor = json_object_get (root, "next");
        if (json_is_string (cursor))
            *next = strdup (json_string_value (cursor));
        else
        if (json_is_integer (cursor)) {
            char number [32];
            snprintf (number, sizeof number, "%lld", (long long) json_integer_value (cursor));
            *next = strdup (number);
        }
    }
    json_decref (root);
    return count;
}

//  Read every processed event through the list. Returns 0, or -1 when the
//  target cannot list.
static int
s_scan_processed (s_burst_t *self, double deadline_ms)
{
    char *after = NULL;
    long pages = 0, max_pages = self->options->events / 10 + 10000;
    while (1) {
        char *next = NULL;
        long count = s_list_page (self, "processed", 1000, after, &next, 1);
        free (after);
        if (count < 0)
            return -1;
        pages++;
        if (!next || count == 0 || pages > max_pages || loadgen_wall_ms () > deadline_ms
        ||  *self->options->interrupted) {
            free (next);
            return 0;
        }
        after = next;
    }
}

//  Read back, one GET /events/{id} each, the events not seen yet. Returns
//  how many were asked for, or -1.
static long
s_scan_by_id (s_burst_t *self, long count, double deadline_ms)
{
    long checked = 0;
    for (long index = 0; index < count && !*self->options->interrupted
                      && loadgen_wall_ms () < deadline_ms; index++) {
        if (!self->ids [index][0] || self->seen [index])
            continue;
        char path [128];
        snprintf (path, sizeof path, "/events/%s", self->ids [index]);
        loadgen_http_response_t response;
        if (loadgen_client_get (self->client, path, &response) != 0)
            return -1;
        if (response.status == 200) {
            json_t *event = json_loadb (response.body, response.body_len, 0, NULL);
            if (event) {
                s_record_event (self, event);
                json_decref (event);
            }
        }
        loadgen_http_response_free (&response);
        checked++;
    }
    return checked;
}

//  Return 1 when event id reads processed, 0 when not, -1 on failure.
static int
s_get_status (s_burst_t *self, const char *id)
{
    char path [128];
    snprintf (path, sizeof path, "/events/%s", id);
    loadgen_http_response_t response;
    if (loadgen_client_get (self->client, path, &response) != 0)
        return -1;
    int processed = 0;
    if (response.status == 200) {
        json_t *event = json_loadb (response.body, response.body_len, 0, NULL);
        const char *status = json_string_value (json_object_get (event, "status"));
        processed = status && strcmp (status, "processed") == 0;
        json_decref (event);
    }
    loadgen_http_response_free (&response);
    return processed;
}

//  Phase 2: wait until nothing is pending or queued, then read back until
//  every posted event was seen processed or the deadline passes. Returns
//  the wall time (ms) when the pipeline was first seen done.
static double
s_read_back (s_burst_t *self, double deadline_ms)
{
    const loadgen_options_t *options = self->options;
    long count = options->events;
    int use_list = strcmp (options->poll, "list") == 0;
    double done_wall = 0;
    long last = count - 1;
    while (last >= 0 && !self->ids [last][0])
        last--;
    while (!*options->interrupted && loadgen_wall_ms () < deadline_ms) {
        int done = 0;
        if (use_list) {
            long pending = s_list_page (self, "pending", 1, NULL, NULL, 0);
            long queued = pending == 0? s_list_page (self, "queued", 1, NULL, NULL, 0): 1;
            if (pending < 0 || queued < 0) {
                fprintf (stderr, "loadgen: list endpoint unusable, falling back to GET /events/{id}\n");
                use_list = 0;
                continue;
            }
            done = pending == 0 && queued == 0;
        }
        else
            done = last < 0 || s_get_status (self, self->ids [last]) == 1;
        if (done) {
            if (!done_wall)
                done_wall = loadgen_wall_ms ();
            if (use_list) {
                if (s_scan_processed (self, deadline_ms) != 0) {
                    use_list = 0;
                    continue;
                }
            }
            else
                s_scan_by_id (self, count, deadline_ms);
            if (self->seen_count >= self->ok)
                break;
            loadgen_sleep_ms (options->poll_ms > 500? options->poll_ms: 500);
            continue;
        }
        loadgen_sleep_ms (options->poll_ms);
    }
    return done_wall? done_wall: loadgen_wall_ms ();
}

//  Print the read-back report and the RESULT line.
static void
s_report (s_burst_t *self, double t0_wall, double done_wall, double post_s)
{
    long count = self->options->events;
    long failed_state = s_list_page (self, "failed", 1, NULL, NULL, 0);
    loadgen_latency_t *latency = self->latency;
    loadgen_latency_sort (latency);
    double e2e_s = self->max_updated_ms > 0? (self->max_updated_ms - t0_wall) / 1e3
                                           : (done_wall - t0_wall) / 1e3;
    double rate = e2e_s > 0? (double) self->seen_count / e2e_s: 0;
    double p50 = (double) loadgen_latency_percentile (latency, 50) / 1e3;
    double p99 = (double) loadgen_latency_percentile (latency, 99) / 1e3;
    double p999 = (double) loadgen_latency_percentile (latency, 99.9) / 1e3;
    double max = (double) loadgen_latency_max (latency) / 1e3;
    printf ("  processed %ld of %ld posted; end to end %.3f s (first POST -> last updated_at), "
            "%.0f events/s; seen done after %.3f s\n",
            self->seen_count, self->ok, e2e_s, rate, (done_wall - t0_wall) / 1e3);
    printf ("  create->processed latency (updated_at - created_at): p50 %.0f ms  p99 %.0f ms  "
            "p99.9 %.0f ms  max %.0f ms\n",
            p50, p99, p999, max);
    if (failed_state > 0)
        printf ("  note: some events are in state failed\n");
    printf ("RESULT mode=burst events=%ld posted=%ld post_s=%.3f post_rate=%.0f processed=%ld "
            "e2e_s=%.3f e2e_rate=%.0f lat_p50_ms=%.0f lat_p99_ms=%.0f lat_p999_ms=%.0f lat_max_ms=%.0f "
            "failed=%ld retries=%ld\n",
            count, self->ok, post_s, post_s > 0? (double) self->ok / post_s: 0, self->seen_count,
            e2e_s, rate, p50, p99, p999, max, self->failed, self->retries);
    fflush (stdout);
}

//  Free what a run holds.
static void
s_destroy (s_burst_t **self_p)
{
    s_burst_t *self = *self_p;
    loadgen_client_destroy (&self->client);
    loadgen_idset_destroy (&self->idset);
    loadgen_latency_destroy (&self->latency);
    loadgen_engine_destroy (&self->engine);
    free (self->seen);
    free (self->retry_stack);
    free (self->ids);
    free (self);
    *self_p = NULL;
}

int
loadgen_burst_run (const loadgen_options_t *options)
{
    long count = options->events;
    if (count <= 0)
        loadgen_die ("--events must be > 0");
    s_burst_t *self = (s_burst_t *) loadgen_calloc (1, sizeof *self);
    self->per_post = options->batch > 0? options->batch: 1;
    self->units = count / self->per_post;
    self->ids = loadgen_calloc ((size_t) count, sizeof *self->ids);
    self->retry_stack = loadgen_malloc ((size_t) self->units * sizeof *self->retry_stack);
    //  A batch run posts {"events":[body,body,...]} to the batch route
    loadgen_options_t batch_options = *options;
    char *batch_body = NULL;
    if (self->per_post > 1) {
        size_t body_len = strlen (options->body);
        batch_body = loadgen_malloc ((size_t) self->per_post * (body_len + 1) + 16);
        size_t used = (size_t) sprintf (batch_body, "{\"events\":[");
        for (long index = 0; index < self->per_post; index++)
            used += (size_t) sprintf (batch_body + used, "%s%s", index? ",": "", options->body);
        strcpy (batch_body + used, "]}");
        batch_options.body = batch_body;
        if (strcmp (options->path, "/events") == 0)
            batch_options.path = "/events:batchCreate";
        options = &batch_options;
    }
    self->options = options;
    self->engine = loadgen_engine_new (options);

    const double t0_wall = loadgen_wall_ms ();
    const uint64_t t0 = loadgen_now_ns ();
    self->start = t0;
    s_post (self, t0 + (uint64_t) (options->timeout * 1e9));
    double post_s = self->last_ok > t0? (double) (self->last_ok - t0) / 1e9: 0;
    for (size_t slot = 0; slot < loadgen_engine_size (self->engine); slot++)
        loadgen_engine_close (self->engine, loadgen_engine_conn (self->engine, slot));
    printf ("burst: posted %ld of %ld events over %d conns in %.3f s (%.0f events/s), "
            "%ld retried after 503/429, %ld failed\n",
            self->ok, count, options->conns, post_s, post_s > 0? (double) self->ok / post_s: 0,
            self->retries, self->failed);
    fflush (stdout);
    if (options->post_only) {
        printf ("RESULT mode=burst events=%ld posted=%ld post_s=%.3f post_rate=%.0f failed=%ld retries=%ld\n",
                count, self->ok, post_s, post_s > 0? (double) self->ok / post_s: 0, self->failed,
                self->retries);
        int status = self->failed? 1: 0;
        s_destroy (&self);
        free (batch_body);
        return status;
    }
    self->seen = loadgen_calloc ((size_t) count, 1);
    self->idset = loadgen_idset_new (self->ids, count);
    self->latency = loadgen_latency_new ();
    self->client = loadgen_client_new (options->host, options->port);
    double done_wall = s_read_back (self, t0_wall + options->timeout * 1e3);
    s_report (self, t0_wall, done_wall, post_s);
    int status = self->seen_count == count? 0: 1;
    s_destroy (&self);
    free (batch_body);
    return status;
}
