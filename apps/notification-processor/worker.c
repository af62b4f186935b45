/*  worker - the notification-processor actor: pull, print, report

    Connects a PULL socket to the broker's backend and, for each event,
    prints the notification line on standard output (flushed at once) and
    reports the event processed to the logger. Delivery is at least once:
    the de-duplication cache keeps a redelivered event from being printed
    twice, but it is still reported, since the earlier report may be the
    thing that was lost.
*/
#include <stdatomic.h>
#include <czmq.h>
#include "worker.h"
#include "worker_callback.h"
#include "worker_dedup.h"
#include "enp_log.h"
#include "enp_time.h"
#include "enp_wire.h"

#define S_RECEIVE_HWM   100     //  messages buffered from the broker
#define S_DRAIN_MS      2000    //  shutdown: time to finish what we hold

struct _worker_t {
    worker_options_t options;           //  strings copied below
    char *broker, *logger_url, *status_token;
    FILE *out;                          //  notification lines, borrowed
    atomic_bool stopping;               //  cancels report retries
    atomic_uint_fast64_t notified;      //  lines printed
    atomic_uint_fast64_t reported;      //  reports accepted
    atomic_uint_fast64_t duplicates;    //  redeliveries not printed
    atomic_uint_fast64_t report_failures;   //  reports given up
    atomic_uint_fast64_t malformed;     //  messages that did not decode
    bool started;                       //  the actor connected its socket
    zactor_t *actor;
};

//  Append text to the line, escaping control characters. Stops, without
//  splitting an escape, when the next character does not fit with room for
//  the NUL. Returns the new length.
static size_t
s_append_escaped (char *buf, size_t size, size_t used, const char *text)
{
    static const char hex [] = "0123456789abcdef";
    for (const unsigned char *cursor = (const unsigned char *) text; *cursor;
         cursor++) {
        unsigned char c = *cursor;
        char escaped [4];
        size_t length = 2;
        escaped [0] = '\\';
        if (c == '\n')
            escaped [1] = 'n';
        else
        if (c == '\r')
            escaped [1] = 'r';
        else
        if (c == '\t')
            escaped [1] = 't';
        else
        if (c < 0x20 || c == 0x7f) {
            escaped [1] = 'x';
            escaped [2] = hex [c >> 4];
            escaped [3] = hex [c & 0x0f];
            length = 4;
        }
        else {
            escaped [0] = (char) c;
            length = 1;
        }
        if (used + length + 1 > size)
            break;
        memcpy (buf + used, escaped, length);
        used += length;
    }
    if (size > 0)
        buf [used < size? used: size - 1] = '\0';
    return used;
}

//  Format the notification line.
size_t
worker_format_line (char *buf, size_t size, const char *event_id,
                    const char *user_id, const char *description)
{
    int used = snprintf (buf, size, "Event %s has been sent to ", event_id);
    if (used < 0 || (size_t) used >= size)
        return size? strlen (buf): 0;
    size_t length = s_append_escaped (buf, size, (size_t) used, user_id);
    if (length + 3 > size)
        return length;          //  No room for ": "; never fake a whole line
    memcpy (buf + length, ": ", 3);
    length += 2;
    length = s_append_escaped (buf, size, length, description);
    if (length + 1 < size) {
        buf [length++] = '\n';
        buf [length] = '\0';
    }
    return length;
}

//  Handle one message: decode, print once, report.
static void
s_handle (worker_t *self, zmsg_t *msg, worker_dedup_t *dedup,
          worker_callback_t *callback)
{
    enp_event_t *event = NULL;
    char err [128];
    if (enp_wire_decode (msg, &event, err, sizeof err) != ENP_OK) {
        atomic_fetch_add (&self->malformed, 1);
        enp_log_warn ("dropped a malformed message: %s", err);
        return;
    }
    const char *event_id = enp_event_id (event);
    if (worker_dedup_check (dedup, event_id)) {
        atomic_fetch_add (&self->duplicates, 1);
        enp_log_event_info (event_id, "redelivered (attempt %u); already"
                            " notified, reporting again",
                            enp_event_attempts (event));
    }
    else {
        //  ~16 KiB covers the longest valid event even fully escaped
        char line [ENP_DESCRIPTION_MAX * 4 + ENP_USER_ID_MAX * 4 + 128];
        size_t length = worker_format_line (line, sizeof line, event_id,
                                            enp_event_user_id (event),
                                            enp_event_description (event));
        fwrite (line, 1, length, self->out);
        fflush (self->out);
        atomic_fetch_add (&self->notified, 1);
    }
    //  The slot is free: the caller only hands us messages when it is
    if (worker_callback_submit (callback, event_id))
        atomic_fetch_add (&self->report_failures, 1);
    enp_event_destroy (&event);
}

//  A report finished: count its outcome.
static void
s_on_report (void *arg, const char *event_id, enp_status_t status)
{
    worker_t *self = (worker_t *) arg;
    if (status == ENP_OK) {
        atomic_fetch_add (&self->reported, 1);
        enp_log_event_debug (event_id, "reported processed");
    }
    else
        atomic_fetch_add (&self->report_failures, 1);
}

//  Create the PULL socket with every option set on purpose, connected.
static zsock_t *
s_pull_new (const char *endpoint)
{
    zsock_t *pull = zsock_new (ZMQ_PULL);
    if (!pull)
        return NULL;
    zsock_set_rcvhwm (pull, S_RECEIVE_HWM);
    zsock_set_linger (pull, 0);
    zsock_set_reconnect_ivl (pull, 100);
    zsock_set_reconnect_ivl_max (pull, 2000);
    zsock_set_heartbeat_ivl (pull, 1000);
    zsock_set_heartbeat_ttl (pull, 3000);
    zsock_set_heartbeat_timeout (pull, 3000);
    if (zsock_connect (pull, "%s", endpoint)) {
        enp_log_error ("cannot connect to broker %s: %s", endpoint,
                       zmq_strerror (zmq_errno ()));
        zsock_destroy (&pull);
    }
    else
        enp_log_info ("connecting to broker %s", endpoint);
    return pull;
}

//  Take messages while a report slot is free and the socket has any.
static void
s_take (worker_t *self, zsock_t *pull, worker_dedup_t *dedup,
        worker_callback_t *callback)
{
    while (!worker_callback_full (callback)) {
        zmsg_t *msg = zmsg_recv_nowait (pull);
        if (!msg)
            break;
        s_handle (self, msg, dedup, callback);
        zmsg_destroy (&msg);
    }
}

//  On $TERM: stop taking new events, finish the ones already buffered and
//  the reports in flight, for up to S_DRAIN_MS.
static void
s_drain (worker_t *self, zsock_t *pull, worker_dedup_t *dedup,
         worker_callback_t *callback)
{
    //  Disconnecting drops what the socket received but we did not read,
    //  so take everything it holds first
    zlist_t *held = zlist_new ();
    zmsg_t *msg;
    while (held && (msg = zmsg_recv_nowait (pull)))
        zlist_append (held, msg);
    zsock_disconnect (pull, "%s", self->broker);
    int64_t deadline = enp_time_mono_ms () + S_DRAIN_MS;
    while (enp_time_mono_ms () < deadline) {
        while (held && zlist_size (held) > 0 && !worker_callback_full (callback)) {
            msg = (zmsg_t *) zlist_pop (held);
            s_handle (self, msg, dedup, callback);
            zmsg_destroy (&msg);
        }
        bool waiting = held && zlist_size (held) > 0;
        if (worker_callback_run (callback, s_on_report, self) == 0 && !waiting)
            break;
        worker_callback_wait (callback, NULL, 0, 10);
    }
    if (held && zlist_size (held) > 0)
        enp_log_warn ("stopping with %zu events unhandled; the logger will"
                      " redeliver them", zlist_size (held));
    while (held && (msg = (zmsg_t *) zlist_pop (held)))
        zmsg_destroy (&msg);
    zlist_destroy (&held);
}

//  Wait for work: a message, a report finishing, or a command. While no
//  report is pending zmq_poll waits on the sockets; otherwise libcurl's
//  poll waits on the HTTP connections and on the sockets' ZMQ_FDs.
static void
s_wait (zsock_t *pipe, zsock_t *pull, worker_callback_t *callback)
{
    if (worker_callback_pending (callback) == 0) {
        zmq_pollitem_t items [] = {
            { zsock_resolve (pipe), 0, ZMQ_POLLIN, 0 },
            { zsock_resolve (pull), 0, ZMQ_POLLIN, 0 }
        };
        zmq_poll (items, 2, 1000);
        return;
    }
    //  ZMQ_FD is edge-triggered: only wait on it after draining to EAGAIN,
    //  which s_take does unless every slot is busy
    struct curl_waitfd extra [2] = {
        { .fd = zsock_fd (pipe), .events = CURL_WAIT_POLLIN },
        { .fd = zsock_fd (pull), .events = CURL_WAIT_POLLIN }
    };
    bool room = !worker_callback_full (callback);
    if ((zsock_events (pipe) & ZMQ_POLLIN)
    ||  (room && (zsock_events (pull) & ZMQ_POLLIN)))
        return;
    worker_callback_wait (callback, extra, room? 2: 1, 100);
}

//  The actor.
static void
s_actor (zsock_t *pipe, void *arg)
{
    worker_t *self = (worker_t *) arg;
    worker_dedup_t *dedup = worker_dedup_new (self->options.dedup_size);
    worker_callback_t *callback = worker_callback_new (
        self->logger_url, self->status_token, self->options.max_retries,
        self->options.backoff_ms, &self->stopping);
    if (callback && worker_callback_set_inflight (callback,
                        self->options.inflight? self->options.inflight: 1))
        worker_callback_destroy (&callback);
    zsock_t *pull = (dedup && callback)? s_pull_new (self->broker): NULL;
    self->started = pull != NULL;       //  Read by worker_new after the signal
    zsock_signal (pipe, pull? 0: 1);
    while (pull) {
        if (zsock_events (pipe) & ZMQ_POLLIN) {
            char *command = zstr_recv (pipe);
            bool terminate = !command || streq (command, "$TERM");
            zstr_free (&command);
            if (terminate) {
                s_drain (self, pull, dedup, callback);
                break;
            }
        }
        s_take (self, pull, dedup, callback);
        worker_callback_run (callback, s_on_report, self);
        s_wait (pipe, pull, callback);
    }
    zsock_destroy (&pull);
    worker_callback_destroy (&callback);
    worker_dedup_destroy (&dedup);
}

//  Start a worker actor.
worker_t *
worker_new (const worker_options_t *options, FILE *out)
{
    worker_t *self = (worker_t *) calloc (1, sizeof (worker_t));
    if (!self)
        return NULL;
    self->options = *options;
    self->broker = strdup (options->broker);
    self->logger_url = strdup (options->logger_url);
    self->status_token = strdup (options->status_token? options->status_token: "");
    self->out = out;
    if (self->broker && self->logger_url && self->status_token)
        self->actor = zactor_new (s_actor, self);
    //  zactor_new ignores the actor's signal value, so ask it ourselves
    if (!self->actor || !self->started)
        worker_destroy (&self);
    return self;
}

//  Stop the worker.
void
worker_destroy (worker_t **self_p)
{
    assert (self_p);
    if (!*self_p)
        return;
    worker_t *self = *self_p;
    //  Cut any report retry short so the actor sees $TERM promptly
    atomic_store (&self->stopping, true);
    zactor_destroy (&self->actor);
    free (self->broker);
    free (self->logger_url);
    free (self->status_token);
    free (self);
    *self_p = NULL;
}

uint64_t worker_notified (worker_t *self) { assert (self); return atomic_load (&self->notified); }
uint64_t worker_reported (worker_t *self) { assert (self); return atomic_load (&self->reported); }
uint64_t worker_duplicates (worker_t *self) { assert (self); return atomic_load (&self->duplicates); }

//  Write the worker's counters in Prometheus text format.
void
worker_print_metrics (void *arg, FILE *out)
{
    worker_t *self = (worker_t *) arg;
    fprintf (out,
        "# HELP worker_events_notified_total Notification lines printed.\n"
        "# TYPE worker_events_notified_total counter\n"
        "worker_events_notified_total %llu\n"
        "# HELP worker_events_reported_total Events reported processed.\n"
        "# TYPE worker_events_reported_total counter\n"
        "worker_events_reported_total %llu\n"
        "# HELP worker_events_duplicate_total Redeliveries not printed again.\n"
        "# TYPE worker_events_duplicate_total counter\n"
        "worker_events_duplicate_total %llu\n"
        "# HELP worker_report_failures_total Reports given up on.\n"
        "# TYPE worker_report_failures_total counter\n"
        "worker_report_failures_total %llu\n"
        "# HELP worker_messages_malformed_total Messages that did not decode.\n"
        "# TYPE worker_messages_malformed_total counter\n"
        "worker_messages_malformed_total %llu\n",
        (unsigned long long) atomic_load (&self->notified),
        (unsigned long long) atomic_load (&self->reported),
        (unsigned long long) atomic_load (&self->duplicates),
        (unsigned long long) atomic_load (&self->report_failures),
        (unsigned long long) atomic_load (&self->malformed));
}
