/*  worker - the notification-processor actor: pull, print, report

    Connects a PULL socket to the broker's backend and, for each event,
    prints the notification line on standard output and reports the event
    processed to the logger. Delivery is at least once: the
    de-duplication cache keeps a redelivered event from being printed
    twice, but it is still reported, since the earlier report may be the
    thing that was lost. A message that is not a valid event (whoever sent
    it) is counted and dropped, never printed.

    Printing and reporting are decoupled. The worker reads whatever the
    broker sends, prints it (one flush per burst, always before the
    burst's reports are queued) and queues the reports in worker_callback,
    which sends them in batches. A slow or frozen logger therefore only
    grows the queue of reports; the socket keeps being read, so libzmq
    never sits on a full pipe. Only when the queue has no room for another
    message does the worker stop reading, and then it disconnects from the
    broker on purpose (enp_link_pause) instead of leaving a stalled
    connection for libzmq to replace - the path to its _input_stopped
    abort - and connects again once half the queue is free. What the
    broker had sent meanwhile is redelivered by the logger.
*/
#include <stdatomic.h>
#include <czmq.h>
#include "worker.h"
#include "worker_callback.h"
#include "worker_dedup.h"
#include "worker_line.h"
#include "enp_link.h"
#include "enp_log.h"
#include "enp_ratelimit.h"
#include "enp_time.h"
#include "enp_wire.h"

#define S_DRAIN_MS      2000    //  shutdown: time to finish what we hold
#define S_BURST         256     //  events printed per flush at most
#define S_LOG_BURST     10      //  malformed-message records per window
#define S_LOG_WINDOW_MS 60000

struct _worker_t {
    worker_options_t options;           //  strings copied below
    char *broker, *logger_url, *status_token;
    char *logger_ca;                    //  or NULL: the system's CAs
    FILE *out;                          //  notification lines, borrowed
    atomic_bool stopping;               //  cancels report retries
    atomic_uint_fast64_t notified;      //  lines printed
    atomic_uint_fast64_t reported;      //  reports accepted
    atomic_uint_fast64_t duplicates;    //  redeliveries not printed
    atomic_uint_fast64_t report_failures;   //  reports given up
    atomic_uint_fast64_t malformed;     //  messages that were not events
    atomic_uint_fast64_t queued;        //  reports waiting for a request
    atomic_uint_fast64_t batches;       //  batch requests made
    atomic_uint_fast64_t pauses;        //  disconnects: report queue full
    atomic_bool connected;              //  the broker link is up
    bool started;                       //  the actor connected its socket
    zactor_t *actor;
};

//  What the actor works with, made and destroyed in its thread.
typedef struct {
    enp_link_t *link;                   //  PULL from the broker
    worker_dedup_t *dedup;              //  events already printed
    worker_callback_t *callback;        //  reports to the logger
    worker_line_t *line;                //  the line formatter
    enp_ratelimit_t *limit;             //  malformed-message records
    enp_event_t *events [ENP_WIRE_BATCH_MAX];   //  one message's events
    char (*burst) [ENP_UUID_LEN + 1];   //  ids printed, not yet queued
    size_t burst_size;                  //  how many
} s_parts_t;

//  Count and log (rate-limited) a message that is not an event.
static void
s_malformed (worker_t *self, s_parts_t *parts, const char *reason)
{
    atomic_fetch_add (&self->malformed, 1);
    uint64_t held = 0;
    if (enp_ratelimit_allow (parts->limit, enp_time_mono_ms (), &held))
        enp_log_warn ("dropped a message that is not a valid event: %s%s",
                      reason, held? " (more were not logged)": "");
}

//  Print an event's line unless this generation of it was printed before,
//  and keep its id for the burst's reports.
static void
s_print (worker_t *self, s_parts_t *parts, enp_event_t *event)
{
    const char *event_id = enp_event_id (event);
    size_t size = 0;
    const char *line = NULL;
    if (worker_dedup_check (parts->dedup, event_id, enp_event_generation (event))) {
        atomic_fetch_add (&self->duplicates, 1);
        enp_log_event_info (event_id, "redelivered (attempt %u); already"
                            " notified, reporting again",
                            enp_event_attempts (event));
    }
    else
    if ((line = worker_line_format (parts->line, event_id,
                                    enp_event_user_id (event),
                                    enp_event_description (event), &size))) {
        fwrite (line, 1, size, self->out);
        atomic_fetch_add (&self->notified, 1);
    }
    else
        enp_log_event_error (event_id, "cannot format the notification line");
    memcpy (parts->burst [parts->burst_size++], event_id, ENP_UUID_LEN + 1);
}

//  Handle one message: decode its events and print each.
static void
s_handle (worker_t *self, s_parts_t *parts, zmsg_t *msg)
{
    size_t count = 0;
    char err [128];
    if (enp_wire_decode_batch (msg, parts->events, ENP_WIRE_BATCH_MAX, &count,
                               err, sizeof err) != ENP_OK) {
        s_malformed (self, parts, err);
        return;
    }
    for (size_t index = 0; index < count; index++) {
        s_print (self, parts, parts->events [index]);
        enp_event_destroy (&parts->events [index]);
    }
}

//  The burst's lines are out: flush them, then queue their reports (the
//  caller made sure there is room for every one).
static void
s_flush (worker_t *self, s_parts_t *parts)
{
    if (parts->burst_size == 0)
        return;
    fflush (self->out);
    for (size_t index = 0; index < parts->burst_size; index++)
        if (worker_callback_submit (parts->callback, parts->burst [index]))
            atomic_fetch_add (&self->report_failures, 1);
    parts->burst_size = 0;
}

//  Receive the next message: ENP_OK with *msg_p set, ENP_ENOTFOUND when
//  none waits. One over the wire's bounds is counted here and skipped.
static enp_status_t
s_recv (worker_t *self, s_parts_t *parts, zmsg_t **msg_p)
{
    enp_status_t status;
    while ((status = enp_link_recv (parts->link, msg_p)) == ENP_EPARSE)
        s_malformed (self, parts, "more frames or bytes than any event");
    return status;
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

//  Return true while the report queue has room for a whole message's
//  events beyond what the burst holds.
static bool
s_room (s_parts_t *parts)
{
    return worker_callback_room (parts->callback)
        >= parts->burst_size + ENP_WIRE_BATCH_MAX;
}

//  Take messages while the socket has any and the report queue has room,
//  printing them in bursts of up to S_BURST events per flush.
static void
s_take (worker_t *self, s_parts_t *parts)
{
    zmsg_t *msg = NULL;
    while (s_room (parts) && s_recv (self, parts, &msg) == ENP_OK) {
        s_handle (self, parts, msg);
        zmsg_destroy (&msg);
        if (parts->burst_size + ENP_WIRE_BATCH_MAX > S_BURST)
            s_flush (self, parts);
    }
    s_flush (self, parts);
}

//  Stop reading the broker while the report queue is full, by leaving it
//  (see the banner); come back once half the queue is free.
static void
s_regulate (worker_t *self, s_parts_t *parts)
{
    if (!enp_link_paused (parts->link) && !s_room (parts)) {
        enp_log_warn ("%zu reports wait for the logger: disconnecting from"
                      " the broker until half of them are done",
                      worker_callback_pending (parts->callback));
        enp_link_pause (parts->link);
        atomic_fetch_add (&self->pauses, 1);
    }
    else
    if (enp_link_paused (parts->link)
    &&  worker_callback_pending (parts->callback) <= self->options.report_queue / 2) {
        enp_log_info ("report queue half free; connecting to the broker again");
        if (enp_link_resume (parts->link))
            enp_log_error ("cannot connect to broker %s: %s", self->broker,
                           zmq_strerror (zmq_errno ()));
    }
}

//  On $TERM: stop taking new events, finish the ones already received and
//  their reports, for up to S_DRAIN_MS.
static void
s_drain (worker_t *self, s_parts_t *parts)
{
    //  Disconnecting drops what the socket received but we did not read,
    //  so take what it holds first (as far as the report queue has room)
    s_take (self, parts);
    if (!enp_link_paused (parts->link))
        enp_link_pause (parts->link);
    int64_t deadline = enp_time_mono_ms () + S_DRAIN_MS;
    while (worker_callback_run (parts->callback, s_on_report, self) > 0
       &&  enp_time_mono_ms () < deadline)
        worker_callback_wait (parts->callback, NULL, 0, 10);
    size_t left = worker_callback_pending (parts->callback);
    if (left > 0)
        enp_log_warn ("stopping with %zu events printed but not reported; the"
                      " logger will redeliver them", left);
}

//  Wait for work: a message, a report finishing or falling due, a link
//  event or a command. While no report is pending zmq_poll waits on the
//  sockets; otherwise libcurl's poll waits on the HTTP connections and on
//  the sockets' ZMQ_FDs. The broker's socket is left alone while the
//  report queue has no room (or the link is paused).
static void
s_wait (zsock_t *pipe, s_parts_t *parts)
{
    zsock_t *pull = enp_link_socket (parts->link);
    zsock_t *monitor = enp_link_monitor (parts->link);
    bool room = s_room (parts) && !enp_link_paused (parts->link);
    if (worker_callback_pending (parts->callback) == 0) {
        zmq_pollitem_t items [] = {
            { zsock_resolve (pipe), 0, ZMQ_POLLIN, 0 },
            { zsock_resolve (monitor), 0, ZMQ_POLLIN, 0 },
            { zsock_resolve (pull), 0, ZMQ_POLLIN, 0 }
        };
        zmq_poll (items, room? 3: 2, 1000);
        return;
    }
    //  ZMQ_FD is edge-triggered: only wait on it after draining to EAGAIN,
    //  which s_take and enp_link_watch do unless the queue is full
    struct curl_waitfd extra [3] = {
        { .fd = zsock_fd (pipe), .events = CURL_WAIT_POLLIN },
        { .fd = zsock_fd (monitor), .events = CURL_WAIT_POLLIN },
        { .fd = zsock_fd (pull), .events = CURL_WAIT_POLLIN }
    };
    if ((zsock_events (pipe) & ZMQ_POLLIN) || (zsock_events (monitor) & ZMQ_POLLIN)
    ||  (room && (zsock_events (pull) & ZMQ_POLLIN)))
        return;
    worker_callback_wait (parts->callback, extra, room? 3: 2, 100);
}

//  Make what the actor works with. Returns 0, or -1 (parts half made).
static int
s_parts_new (worker_t *self, s_parts_t *parts)
{
    parts->dedup = worker_dedup_new (self->options.dedup_size);
    parts->line = worker_line_new (self->options.format);
    parts->limit = enp_ratelimit_new (S_LOG_BURST, S_LOG_WINDOW_MS);
    parts->burst = calloc (S_BURST, sizeof *parts->burst);
    parts->callback = worker_callback_new (
        self->logger_url, self->status_token, self->options.max_retries,
        self->options.backoff_ms, &self->stopping);
    if (parts->callback
    && (worker_callback_set_inflight (parts->callback, self->options.inflight)
    ||  worker_callback_set_batch (parts->callback, self->options.batch_max,
                                   self->options.batch_ms)
    ||  worker_callback_set_queue (parts->callback, self->options.report_queue)))
        worker_callback_destroy (&parts->callback);
    if (parts->callback && self->logger_ca
    &&  worker_callback_trust (parts->callback, self->logger_ca)) {
        enp_log_error ("cannot read the logger's CA certificates %s: %s",
                       self->logger_ca, strerror (errno));
        worker_callback_destroy (&parts->callback);
    }
    if (!parts->dedup || !parts->line || !parts->limit || !parts->burst
    ||  !parts->callback)
        return -1;
    parts->link = enp_link_new (ENP_LINK_WORKER, self->options.curve);
    if (parts->link && enp_link_connect (parts->link, self->broker)) {
        enp_log_error ("cannot connect to broker %s: %s", self->broker,
                       zmq_strerror (zmq_errno ()));
        enp_link_destroy (&parts->link);
    }
    return parts->link? 0: -1;
}

//  Destroy what the actor worked with.
static void
s_parts_destroy (s_parts_t *parts)
{
    enp_link_destroy (&parts->link);
    worker_callback_destroy (&parts->callback);
    free (parts->burst);
    enp_ratelimit_destroy (&parts->limit);
    worker_line_destroy (&parts->line);
    worker_dedup_destroy (&parts->dedup);
}

//  The actor.
static void
s_actor (zsock_t *pipe, void *arg)
{
    worker_t *self = (worker_t *) arg;
    s_parts_t parts = { NULL };
    int rc = s_parts_new (self, &parts);
    self->started = rc == 0;            //  Read by worker_new after the signal
    zsock_signal (pipe, rc == 0? 0: 1);
    while (rc == 0) {
        if (zsock_events (pipe) & ZMQ_POLLIN) {
            char *command = zstr_recv (pipe);
            bool terminate = !command || streq (command, "$TERM");
            zstr_free (&command);
            if (terminate) {
                s_drain (self, &parts);
                break;
            }
        }
        atomic_store (&self->connected, enp_link_watch (parts.link));
        enp_link_maintain (parts.link);
        s_take (self, &parts);
        worker_callback_run (parts.callback, s_on_report, self);
        s_regulate (self, &parts);
        atomic_store (&self->queued, worker_callback_queued (parts.callback));
        atomic_store (&self->batches, worker_callback_batches (parts.callback));
        s_wait (pipe, &parts);
    }
    s_parts_destroy (&parts);
}

//  Start a worker actor.
worker_t *
worker_new (const worker_options_t *options, FILE *out)
{
    worker_t *self = (worker_t *) calloc (1, sizeof (worker_t));
    if (!self)
        return NULL;
    self->options = *options;
    //  Unset (zero) options get the defaults a plain client has
    if (self->options.inflight == 0)
        self->options.inflight = 1;
    if (self->options.batch_max == 0)
        self->options.batch_max = 1;
    if (self->options.report_queue == 0)
        self->options.report_queue = WORKER_CALLBACK_QUEUE_DEFAULT;
    //  Room for two whole messages, or it could never read one
    if (self->options.report_queue < 2 * ENP_WIRE_BATCH_MAX)
        self->options.report_queue = 2 * ENP_WIRE_BATCH_MAX;
    self->broker = strdup (options->broker);
    self->logger_url = strdup (options->logger_url);
    self->status_token = strdup (options->status_token? options->status_token: "");
    if (options->logger_ca && *options->logger_ca)
        self->logger_ca = strdup (options->logger_ca);
    self->out = out;
    if (self->broker && self->logger_url && self->status_token
    && (self->logger_ca || !options->logger_ca || !*options->logger_ca))
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
    free (self->logger_ca);
    free (self);
    *self_p = NULL;
}

uint64_t worker_notified (worker_t *self) { assert (self); return atomic_load (&self->notified); }
uint64_t worker_reported (worker_t *self) { assert (self); return atomic_load (&self->reported); }
uint64_t worker_duplicates (worker_t *self) { assert (self); return atomic_load (&self->duplicates); }
uint64_t worker_malformed (worker_t *self) { assert (self); return atomic_load (&self->malformed); }

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
        "# HELP worker_messages_malformed_total Messages dropped for not being"
        " valid events.\n"
        "# TYPE worker_messages_malformed_total counter\n"
        "worker_messages_malformed_total %llu\n"
        "# HELP worker_reports_queued Reports waiting for a request to the"
        " logger.\n"
        "# TYPE worker_reports_queued gauge\nworker_reports_queued %llu\n"
        "# HELP worker_report_batches_total Batch reports sent (retries not"
        " counted).\n"
        "# TYPE worker_report_batches_total counter\n"
        "worker_report_batches_total %llu\n"
        "# HELP worker_broker_pauses_total Times the report queue filled and"
        " the worker left the broker until it had room again.\n"
        "# TYPE worker_broker_pauses_total counter\nworker_broker_pauses_total %llu\n"
        "# HELP worker_broker_connected 1 while the link to the broker is up.\n"
        "# TYPE worker_broker_connected gauge\nworker_broker_connected %d\n",
        (unsigned long long) atomic_load (&self->notified),
        (unsigned long long) atomic_load (&self->reported),
        (unsigned long long) atomic_load (&self->duplicates),
        (unsigned long long) atomic_load (&self->report_failures),
        (unsigned long long) atomic_load (&self->malformed),
        (unsigned long long) atomic_load (&self->queued),
        (unsigned long long) atomic_load (&self->batches),
        (unsigned long long) atomic_load (&self->pauses),
        atomic_load (&self->connected)? 1: 0);
}
