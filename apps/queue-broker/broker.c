/*  broker - the queue-broker actor: PULL from loggers, PUSH to workers

    A small buffer between loggers and workers. It binds both ends (the
    stable side), never parses a message - frames go out exactly as they
    came in - and keeps what it holds in an explicit bounded queue:

    - it reads the frontend only while the queue has room, so a full broker
      pushes back on loggers instead of dropping;
    - it writes the backend only while a worker pipe has room (POLLOUT),
      and per-pipe high-water marks are small, so a dead worker strands at
      most a handful of messages (which the logger redelivers);
    - it drops a message larger than any valid event (more frames or bytes
      than the wire format allows), without reading it whole.

    With CURVE each socket authenticates its side on its own ZAP domain
    (broker_auth), so a worker's key cannot push and a logger's cannot pull.
    Counters are atomics so the metrics endpoint can read them from its own
    threads without talking to the actor.
*/
#include <stdatomic.h>
#include <czmq.h>
#include "broker.h"
#include "broker_auth.h"
#include "broker_queue.h"
#include "enp_link.h"
#include "enp_log.h"
#include "enp_ratelimit.h"
#include "enp_time.h"

#define S_SEND_BURST    1024    //  messages sent per poll round at most
#define S_LOG_BURST     10      //  refusal and drop records per window
#define S_LOG_WINDOW_MS 60000

//  Why a handshake was refused, as the metric's reason label says it.
typedef enum { S_AUTH = 0, S_PROTOCOL, S_ABORTED, S_REASONS } s_reason_t;
static const char *s_reasons [] = { "auth", "protocol", "aborted" };
typedef enum { S_FRONTEND = 0, S_BACKEND, S_SIDES } s_side_t;
static const char *s_sides [] = { "frontend", "backend" };

struct _broker_t {
    broker_options_t options;           //  strings copied below
    char *frontend, *backend;           //  endpoints
    int frontend_port, backend_port;    //  bound TCP ports
    atomic_uint_fast64_t received;      //  messages read from loggers
    atomic_uint_fast64_t sent;          //  messages written to workers
    atomic_uint_fast64_t queued;        //  messages buffered now
    atomic_uint_fast64_t queued_bytes;  //  bytes buffered now
    atomic_uint_fast64_t paused;        //  times reading paused: queue full
    atomic_uint_fast64_t dropped;       //  messages over the wire's bounds
    atomic_uint_fast64_t refused [S_SIDES][S_REASONS];     //  handshakes
    atomic_int loggers, workers;        //  connections up, handshake done
    bool reading_paused;                //  reading stopped: queue full
    bool started;                       //  the actor bound both sockets
    enp_ratelimit_t *limit;             //  refusal and drop records
    broker_auth_t *auth;                //  ZAP handler, with CURVE
    zactor_t *actor;
};

//  Handle one monitor event of a side: peers, refusals.
static void
s_monitor_read (broker_t *self, enp_link_t *link, s_side_t side)
{
    enp_link_event_t event = enp_link_monitor_read (link);
    atomic_int *count = side == S_FRONTEND? &self->loggers: &self->workers;
    const char *who = side == S_FRONTEND? "logger": "worker";
    if (event == ENP_LINK_UP || event == ENP_LINK_DOWN) {
        atomic_store (count, (int) enp_link_peers (link));
        enp_log_info ("%s %s (%d now)", who, event == ENP_LINK_UP
                      ? "connected": "disconnected", atomic_load (count));
        return;
    }
    s_reason_t reason = event == ENP_LINK_REFUSED_AUTH? S_AUTH
                      : event == ENP_LINK_REFUSED_PROTOCOL? S_PROTOCOL
                      : event == ENP_LINK_ABORTED? S_ABORTED: S_REASONS;
    if (reason == S_REASONS)
        return;
    atomic_fetch_add (&self->refused [side][reason], 1);
    //  broker_auth logs refused keys with their address; a connection
    //  closed before its handshake is most often a port probe
    uint64_t held = 0;
    if (reason == S_PROTOCOL
    &&  enp_ratelimit_allow (self->limit, enp_time_mono_ms (), &held)) {
        if (held)
            enp_log_warn ("%llu more refusals and drops were not logged",
                          (unsigned long long) held);
        enp_log_warn ("refused a %s connection on the %s: it broke the"
                      " protocol (not ZeroMQ, CURVE %s, or a wrong key)", who,
                      s_sides [side], self->options.curve? "missing": "unexpected");
    }
    else
    if (reason == S_ABORTED)
        enp_log_debug ("a connection to the %s closed before its handshake",
                       s_sides [side]);
}

//  Read what loggers sent while the queue has room.
static void
s_receive (broker_t *self, enp_link_t *frontend, broker_queue_t *queue)
{
    while (!broker_queue_full (queue)) {
        zmsg_t *msg = NULL;
        enp_status_t status = enp_link_recv (frontend, &msg);
        if (status == ENP_ENOTFOUND)
            break;
        if (status != ENP_OK) {
            atomic_fetch_add (&self->dropped, 1);
            uint64_t held = 0;
            if (enp_ratelimit_allow (self->limit, enp_time_mono_ms (), &held))
                enp_log_warn ("dropped a message larger than any event (over"
                              " %d frames or %d bytes)%s", ENP_WIRE_FRAMES_MAX,
                              ENP_WIRE_SIZE_MAX, held? "; more were not logged": "");
            continue;
        }
        //  The queue packs it into one allocation
        if (broker_queue_push (queue, &msg) != ENP_OK) {
            enp_log_error ("out of memory; message dropped, the logger will"
                           " redeliver it");
            zmsg_destroy (&msg);
        }
        atomic_fetch_add (&self->received, 1);
    }
}

//  Hand buffered messages to workers while their pipes have room.
static void
s_send (broker_t *self, zsock_t *backend, broker_queue_t *queue)
{
    for (int count = 0; count < S_SEND_BURST; count++) {
        zmsg_t *msg = broker_queue_pop (queue);
        if (!msg)
            break;
        if (zmsg_send (&msg, backend) != 0) {
            broker_queue_unpop (queue, &msg);
            zmsg_destroy (&msg);    //  Only if unpop failed
            break;
        }
        atomic_fetch_add (&self->sent, 1);
    }
}

//  Log the counters.
static void
s_log_stats (broker_t *self, broker_queue_t *queue)
{
    enp_log_info ("received=%llu sent=%llu queued=%zu (%zu bytes) paused=%llu"
                  " dropped=%llu loggers=%d workers=%d",
                  (unsigned long long) atomic_load (&self->received),
                  (unsigned long long) atomic_load (&self->sent),
                  broker_queue_size (queue), broker_queue_bytes (queue),
                  (unsigned long long) atomic_load (&self->paused),
                  (unsigned long long) atomic_load (&self->dropped),
                  atomic_load (&self->loggers), atomic_load (&self->workers));
}

//  On $TERM: stop reading, hand over what is buffered for a short while.
static void
s_flush (broker_t *self, enp_link_t *backend, broker_queue_t *queue)
{
    zsock_t *socket = enp_link_socket (backend);
    int64_t deadline = enp_time_mono_ms () + ENP_LINK_LINGER_MS;
    while (broker_queue_size (queue) > 0 && enp_time_mono_ms () < deadline
       &&  enp_link_peers (backend) > 0) {
        s_send (self, socket, queue);
        zmq_pollitem_t items [] = {
            { zsock_resolve (socket), 0, ZMQ_POLLOUT, 0 },
            { zsock_resolve (enp_link_monitor (backend)), 0, ZMQ_POLLIN, 0 }
        };
        zmq_poll (items, 2, 50);
        if (items [1].revents & ZMQ_POLLIN)
            s_monitor_read (self, backend, S_BACKEND);
    }
    if (broker_queue_size (queue) > 0)
        enp_log_warn ("stopping with %zu messages unsent; loggers will"
                      " redeliver them", broker_queue_size (queue));
}

//  Note each time loggers are held back: full, with input waiting.
static void
s_check_full (broker_t *self, enp_link_t *frontend, broker_queue_t *queue)
{
    bool full = broker_queue_full (queue);
    if (full && !self->reading_paused
    && (zsock_events (enp_link_socket (frontend)) & ZMQ_POLLIN)) {
        self->reading_paused = true;
        atomic_fetch_add (&self->paused, 1);
        //  A queue kept at its limit fills again after every send: say so
        //  a few times a minute, not a thousand times a second
        uint64_t held = 0;
        if (enp_ratelimit_allow (self->limit, enp_time_mono_ms (), &held))
            enp_log_warn ("queue full (%zu messages, %zu bytes); reading from"
                          " loggers paused%s", broker_queue_size (queue),
                          broker_queue_bytes (queue),
                          held? " (more records were not logged)": "");
    }
    else
    if (!full)
        self->reading_paused = false;
}

//  The actor: move messages from frontend to backend through the queue.
static void
s_actor (zsock_t *pipe, void *arg)
{
    broker_t *self = (broker_t *) arg;
    broker_queue_t *queue = broker_queue_new (self->options.max_queue,
                                              self->options.max_queue_bytes);
    enp_link_t *frontend = enp_link_new (ENP_LINK_FRONTEND, self->options.curve);
    enp_link_t *backend = enp_link_new (ENP_LINK_BACKEND, self->options.curve);
    int rc = -1;
    if (queue && frontend && backend) {
        self->frontend_port = enp_link_bind (frontend, self->frontend);
        if (self->frontend_port >= 0)
            self->backend_port = enp_link_bind (backend, self->backend);
        rc = self->frontend_port >= 0 && self->backend_port >= 0? 0: -1;
    }
    self->started = rc == 0;            //  Read by broker_new after the signal
    zsock_signal (pipe, rc == 0? 0: 1);
    int64_t next_stats = enp_time_mono_ms () + self->options.stats_interval_ms;
    while (rc == 0) {
        bool room = !broker_queue_full (queue);
        bool waiting = broker_queue_size (queue) > 0;
        zmq_pollitem_t items [] = {
            { zsock_resolve (pipe), 0, ZMQ_POLLIN, 0 },
            { zsock_resolve (enp_link_monitor (frontend)), 0, ZMQ_POLLIN, 0 },
            { zsock_resolve (enp_link_monitor (backend)), 0, ZMQ_POLLIN, 0 },
            { zsock_resolve (enp_link_socket (frontend)), 0, room? ZMQ_POLLIN: 0, 0 },
            { zsock_resolve (enp_link_socket (backend)), 0, waiting? ZMQ_POLLOUT: 0, 0 }
        };
        if (zmq_poll (items, 5, 1000) < 0 && zmq_errno () != EINTR)
            break;
        if (items [0].revents & ZMQ_POLLIN) {
            char *command = zstr_recv (pipe);
            bool terminate = !command || streq (command, "$TERM");
            zstr_free (&command);
            if (terminate) {
                s_flush (self, backend, queue);
                break;
            }
        }
        if (items [1].revents & ZMQ_POLLIN)
            s_monitor_read (self, frontend, S_FRONTEND);
        if (items [2].revents & ZMQ_POLLIN)
            s_monitor_read (self, backend, S_BACKEND);
        if (items [3].revents & ZMQ_POLLIN)
            s_receive (self, frontend, queue);
        if (broker_queue_size (queue) > 0)
            s_send (self, enp_link_socket (backend), queue);
        atomic_store (&self->queued, broker_queue_size (queue));
        atomic_store (&self->queued_bytes, broker_queue_bytes (queue));
        s_check_full (self, frontend, queue);
        if (self->options.stats_interval_ms > 0 && enp_time_mono_ms () >= next_stats) {
            s_log_stats (self, queue);
            next_stats = enp_time_mono_ms () + self->options.stats_interval_ms;
        }
    }
    enp_link_destroy (&frontend);
    enp_link_destroy (&backend);
    broker_queue_destroy (&queue);
    if (rc == 0)
        enp_log_info ("stopped");
}

//  Start the broker actor.
broker_t *
broker_new (const broker_options_t *options)
{
    broker_t *self = (broker_t *) calloc (1, sizeof (broker_t));
    if (!self)
        return NULL;
    self->options = *options;
    self->frontend = strdup (options->frontend);
    self->backend = strdup (options->backend);
    self->limit = enp_ratelimit_new (S_LOG_BURST, S_LOG_WINDOW_MS);
    bool ready = self->frontend && self->backend && self->limit;
    //  The ZAP handler must answer before the first client connects
    if (ready && options->curve) {
        self->auth = broker_auth_new (options->curve_loggers, options->curve_workers);
        ready = self->auth != NULL;
    }
    if (ready)
        self->actor = zactor_new (s_actor, self);
    //  zactor_new ignores the actor's signal value, so ask it ourselves
    if (!self->actor || !self->started)
        broker_destroy (&self);
    return self;
}

//  Stop the actor.
void
broker_destroy (broker_t **self_p)
{
    assert (self_p);
    if (!*self_p)
        return;
    broker_t *self = *self_p;
    zactor_destroy (&self->actor);
    broker_auth_destroy (&self->auth);
    enp_ratelimit_destroy (&self->limit);
    free (self->frontend);
    free (self->backend);
    free (self);
    *self_p = NULL;
}

int broker_frontend_port (broker_t *self) { assert (self); return self->frontend_port; }
int broker_backend_port (broker_t *self) { assert (self); return self->backend_port; }
uint64_t broker_received (broker_t *self) { assert (self); return atomic_load (&self->received); }
uint64_t broker_sent (broker_t *self) { assert (self); return atomic_load (&self->sent); }
uint64_t broker_queued (broker_t *self) { assert (self); return atomic_load (&self->queued); }
uint64_t broker_dropped (broker_t *self) { assert (self); return atomic_load (&self->dropped); }

//  Write the refused handshakes, one series per side and reason.
static void
s_print_refused (broker_t *self, FILE *out)
{
    fprintf (out,
        "# HELP broker_handshakes_refused_total Connections refused before"
        " their handshake ended, by side and reason (auth: key not allowed;"
        " protocol: not ZeroMQ, wrong mechanism or keys; aborted: closed"
        " early, e.g. a port probe).\n"
        "# TYPE broker_handshakes_refused_total counter\n");
    for (int side = 0; side < S_SIDES; side++)
        for (int reason = 0; reason < S_REASONS; reason++)
            fprintf (out, "broker_handshakes_refused_total{side=\"%s\","
                     "reason=\"%s\"} %llu\n", s_sides [side], s_reasons [reason],
                     (unsigned long long) atomic_load (&self->refused [side][reason]));
}

//  Write the broker's counters in Prometheus text format.
void
broker_print_metrics (void *arg, FILE *out)
{
    broker_t *self = (broker_t *) arg;
    fprintf (out,
        "# HELP broker_messages_received_total Messages read from loggers.\n"
        "# TYPE broker_messages_received_total counter\n"
        "broker_messages_received_total %llu\n"
        "# HELP broker_messages_sent_total Messages handed to workers.\n"
        "# TYPE broker_messages_sent_total counter\n"
        "broker_messages_sent_total %llu\n"
        "# HELP broker_messages_dropped_total Messages dropped for holding more"
        " frames or bytes than any valid event.\n"
        "# TYPE broker_messages_dropped_total counter\n"
        "broker_messages_dropped_total %llu\n"
        "# HELP broker_queue_depth Messages buffered now.\n"
        "# TYPE broker_queue_depth gauge\nbroker_queue_depth %llu\n"
        "# HELP broker_queue_limit Most messages buffered.\n"
        "# TYPE broker_queue_limit gauge\nbroker_queue_limit %zu\n"
        "# HELP broker_queue_bytes Bytes buffered now.\n"
        "# TYPE broker_queue_bytes gauge\nbroker_queue_bytes %llu\n"
        "# HELP broker_queue_bytes_limit Most bytes buffered.\n"
        "# TYPE broker_queue_bytes_limit gauge\nbroker_queue_bytes_limit %zu\n"
        "# HELP broker_queue_refused_total Times the queue filled while loggers"
        " had more to send (reading paused).\n"
        "# TYPE broker_queue_refused_total counter\n"
        "broker_queue_refused_total %llu\n"
        "# HELP broker_loggers_connected Logger connections up.\n"
        "# TYPE broker_loggers_connected gauge\nbroker_loggers_connected %d\n"
        "# HELP broker_workers_connected Worker connections up.\n"
        "# TYPE broker_workers_connected gauge\nbroker_workers_connected %d\n",
        (unsigned long long) atomic_load (&self->received),
        (unsigned long long) atomic_load (&self->sent),
        (unsigned long long) atomic_load (&self->dropped),
        (unsigned long long) atomic_load (&self->queued), self->options.max_queue,
        (unsigned long long) atomic_load (&self->queued_bytes),
        self->options.max_queue_bytes,
        (unsigned long long) atomic_load (&self->paused),
        atomic_load (&self->loggers), atomic_load (&self->workers));
    s_print_refused (self, out);
}
