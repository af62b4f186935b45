/*  broker - the queue-broker actor: PULL from loggers, PUSH to workers

    A small buffer between loggers and workers. It binds both ends (the
    stable side), never parses a message - frames go out exactly as they
    came in - and keeps what it holds in an explicit bounded queue:

    - it reads the frontend only while the queue has room, so a full broker
      pushes back on loggers instead of dropping;
    - it writes the backend only while a worker pipe has room (POLLOUT),
      and per-pipe high-water marks are small, so a dead worker strands at
      most a handful of messages (which the logger redelivers).

    Counters are atomics so the metrics endpoint can read them from its own
    threads without talking to the actor.
*/
#include <stdatomic.h>
#include <czmq.h>
#include "broker.h"
#include "broker_queue.h"
#include "enp_log.h"
#include "enp_time.h"

#define S_WORKER_HWM    100     //  messages queued toward each worker
#define S_LOGGER_HWM    1000    //  messages queued from each logger
#define S_FLUSH_MS      2000    //  shutdown: time to hand messages over
#define S_SEND_BURST    1024    //  messages sent per poll round at most

struct _broker_t {
    char *frontend;                     //  endpoint loggers connect to
    char *backend;                      //  endpoint workers connect to
    size_t limit;                       //  queue bound
    int64_t stats_interval_ms;          //  counter log period, 0 = off
    int frontend_port, backend_port;    //  bound TCP ports
    atomic_uint_fast64_t received;      //  messages read from loggers
    atomic_uint_fast64_t sent;          //  messages written to workers
    atomic_uint_fast64_t queued;        //  messages buffered now
    atomic_uint_fast64_t refused;       //  times reading paused: queue full
    atomic_int workers;                 //  worker connections up
    int failed_handshakes;              //  connections that never became workers
    bool paused;                        //  reading stopped: queue full
    bool started;                       //  the actor bound both sockets
    zactor_t *actor;
};

//  Set the options every socket of ours carries: heartbeats, linger.
static void
s_socket_options (zsock_t *socket, int linger_ms)
{
    zsock_set_linger (socket, linger_ms);
    zsock_set_heartbeat_ivl (socket, 1000);
    zsock_set_heartbeat_ttl (socket, 3000);
    zsock_set_heartbeat_timeout (socket, 3000);
}

//  Bind a socket, logging the result. Returns the TCP port, 0 for other
//  transports, -1 on failure.
static int
s_bind (zsock_t *socket, const char *endpoint, const char *role)
{
    if (zsock_bind (socket, "%s", endpoint) < 0) {
        enp_log_error ("cannot bind %s %s: %s", role, endpoint,
                       zmq_strerror (zmq_errno ()));
        return -1;
    }
    //  Read the port back, so "tcp://127.0.0.1:0" and ":*" both work
    char *bound = zsock_last_endpoint (socket);
    const char *colon = bound? strrchr (bound, ':'): NULL;
    int port = (colon && strncmp (bound, "tcp://", 6) == 0)? atoi (colon + 1): 0;
    enp_log_info ("%s bound to %s", role, bound? bound: endpoint);
    zstr_free (&bound);
    return port;
}

//  Track worker connections through the backend's socket monitor.
static void
s_monitor_read (broker_t *self, zsock_t *monitor)
{
    zmsg_t *msg = zmsg_recv (monitor);
    zframe_t *frame = msg? zmsg_first (msg): NULL;
    if (frame && zframe_size (frame) >= 2) {
        uint16_t event;
        memcpy (&event, zframe_data (frame), sizeof event);
        //  A port probe (a TCP connect without ZMTP) ends in a failed
        //  handshake and then a disconnect; that disconnect is not a worker
        if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
            enp_log_info ("worker connected (%d now)",
                          atomic_fetch_add (&self->workers, 1) + 1);
        else
        if (event & (ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL
                   | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
                   | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH))
            self->failed_handshakes++;
        else
        if (event == ZMQ_EVENT_DISCONNECTED && self->failed_handshakes > 0)
            self->failed_handshakes--;
        else
        if (event == ZMQ_EVENT_DISCONNECTED && atomic_load (&self->workers) > 0)
            enp_log_info ("worker disconnected (%d now)",
                          atomic_fetch_sub (&self->workers, 1) - 1);
    }
    zmsg_destroy (&msg);
}

//  Read what loggers sent while the queue has room.
static void
s_receive (broker_t *self, zsock_t *frontend, broker_queue_t *queue)
{
    while (!broker_queue_full (queue)) {
        zmsg_t *msg = zmsg_recv_nowait (frontend);
        if (!msg)
            break;
        //  The queue packs it, which also lets go of the 8 KiB receive
        //  buffer a received frame can pin
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
    //  The same count as broker_queue_refused_total: a full broker stops
    //  reading rather than refusing pushes, so the queue's own refusal
    //  count stays 0 here
    enp_log_info ("received=%llu sent=%llu queued=%zu refused=%llu workers=%d",
                  (unsigned long long) atomic_load (&self->received),
                  (unsigned long long) atomic_load (&self->sent),
                  broker_queue_size (queue),
                  (unsigned long long) atomic_load (&self->refused),
                  atomic_load (&self->workers));
}

//  On $TERM: stop reading, hand over what is buffered for a short while.
static void
s_flush (broker_t *self, zsock_t *backend, broker_queue_t *queue)
{
    int64_t deadline = enp_time_mono_ms () + S_FLUSH_MS;
    while (broker_queue_size (queue) > 0 && enp_time_mono_ms () < deadline
       &&  atomic_load (&self->workers) > 0) {
        s_send (self, backend, queue);
        zmq_pollitem_t item = { zsock_resolve (backend), 0, ZMQ_POLLOUT, 0 };
        zmq_poll (&item, 1, 50);
    }
    if (broker_queue_size (queue) > 0)
        enp_log_warn ("stopping with %zu messages unsent; loggers will"
                      " redeliver them", broker_queue_size (queue));
}

//  Create and bind both sockets, with a monitor on the backend.
static int
s_sockets_new (broker_t *self, zsock_t **frontend, zsock_t **backend,
               zsock_t **monitor)
{
    *frontend = zsock_new (ZMQ_PULL);
    *backend = zsock_new (ZMQ_PUSH);
    if (!*frontend || !*backend)
        return -1;
    s_socket_options (*frontend, 0);
    zsock_set_rcvhwm (*frontend, S_LOGGER_HWM);
    s_socket_options (*backend, S_FLUSH_MS);
    zsock_set_sndhwm (*backend, S_WORKER_HWM);
    zsock_set_sndtimeo (*backend, 0);
    char endpoint [64];
    snprintf (endpoint, sizeof endpoint, "inproc://broker-monitor-%p",
              (void *) self);
    if (zmq_socket_monitor (zsock_resolve (*backend), endpoint,
                            ZMQ_EVENT_HANDSHAKE_SUCCEEDED
                          | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL
                          | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
                          | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH
                          | ZMQ_EVENT_DISCONNECTED) == 0)
        *monitor = zsock_new_pair (endpoint);
    self->frontend_port = s_bind (*frontend, self->frontend, "frontend");
    self->backend_port = s_bind (*backend, self->backend, "backend");
    return (*monitor && self->frontend_port >= 0 && self->backend_port >= 0)
           ? 0: -1;
}

//  The actor: move messages from frontend to backend through the queue.
static void
s_actor (zsock_t *pipe, void *arg)
{
    broker_t *self = (broker_t *) arg;
    zsock_t *frontend = NULL, *backend = NULL, *monitor = NULL;
    broker_queue_t *queue = broker_queue_new (self->limit);
    int rc = queue? s_sockets_new (self, &frontend, &backend, &monitor): -1;
    self->started = rc == 0;            //  Read by broker_new after the signal
    zsock_signal (pipe, rc == 0? 0: 1);
    int64_t next_stats = enp_time_mono_ms () + self->stats_interval_ms;
    while (rc == 0) {
        bool room = !broker_queue_full (queue);
        bool waiting = broker_queue_size (queue) > 0;
        zmq_pollitem_t items [] = {
            { zsock_resolve (pipe), 0, ZMQ_POLLIN, 0 },
            { zsock_resolve (monitor), 0, ZMQ_POLLIN, 0 },
            { zsock_resolve (frontend), 0, room? ZMQ_POLLIN: 0, 0 },
            { zsock_resolve (backend), 0, waiting? ZMQ_POLLOUT: 0, 0 }
        };
        if (zmq_poll (items, 4, 1000) < 0 && zmq_errno () != EINTR)
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
            s_monitor_read (self, monitor);
        if (items [2].revents & ZMQ_POLLIN)
            s_receive (self, frontend, queue);
        if (broker_queue_size (queue) > 0)
            s_send (self, backend, queue);
        atomic_store (&self->queued, broker_queue_size (queue));
        //  Count each time loggers are held back: full, with input waiting
        bool full = broker_queue_full (queue);
        if (full && !self->paused && (zsock_events (frontend) & ZMQ_POLLIN)) {
            self->paused = true;
            atomic_fetch_add (&self->refused, 1);
            enp_log_warn ("queue full (%zu); reading from loggers paused",
                          broker_queue_size (queue));
        }
        else
        if (!full)
            self->paused = false;
        if (self->stats_interval_ms > 0 && enp_time_mono_ms () >= next_stats) {
            s_log_stats (self, queue);
            next_stats = enp_time_mono_ms () + self->stats_interval_ms;
        }
    }
    if (monitor) {
        zmq_socket_monitor (zsock_resolve (backend), NULL, 0);
        zsock_destroy (&monitor);
    }
    zsock_destroy (&frontend);
    zsock_destroy (&backend);
    broker_queue_destroy (&queue);
    if (rc == 0)
        enp_log_info ("stopped");
}

//  Start the broker actor.
broker_t *
broker_new (const char *frontend, const char *backend, size_t limit,
            int64_t stats_interval_ms)
{
    broker_t *self = (broker_t *) calloc (1, sizeof (broker_t));
    if (!self)
        return NULL;
    self->frontend = strdup (frontend);
    self->backend = strdup (backend);
    self->limit = limit;
    self->stats_interval_ms = stats_interval_ms;
    if (self->frontend && self->backend)
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
        "# HELP broker_queue_depth Messages buffered now.\n"
        "# TYPE broker_queue_depth gauge\nbroker_queue_depth %llu\n"
        "# HELP broker_queue_limit Most messages buffered.\n"
        "# TYPE broker_queue_limit gauge\nbroker_queue_limit %zu\n"
        "# HELP broker_queue_refused_total Times the queue filled while loggers"
        " had more to send (reading paused).\n"
        "# TYPE broker_queue_refused_total counter\n"
        "broker_queue_refused_total %llu\n"
        "# HELP broker_workers_connected Worker connections up.\n"
        "# TYPE broker_workers_connected gauge\nbroker_workers_connected %d\n",
        (unsigned long long) atomic_load (&self->received),
        (unsigned long long) atomic_load (&self->sent),
        (unsigned long long) atomic_load (&self->queued), self->limit,
        (unsigned long long) atomic_load (&self->refused),
        atomic_load (&self->workers));
}
