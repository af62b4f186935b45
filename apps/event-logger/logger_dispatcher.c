/*  logger_dispatcher - the one thread that hands events to the broker

    ZeroMQ sockets are not thread-safe and HTTP handlers must never block,
    so handlers only insert into the store (the outbox) and wake this actor,
    which owns the PUSH socket. It sends what the store says is due -
    pending events, then queued ones whose visibility timeout passed - with
    a zero send timeout: when the broker is down or full the send fails at
    once, events stay "pending", and the actor waits rather than spins.

    The socket uses ZMQ_IMMEDIATE so nothing is queued toward a broker that
    is not connected, heartbeats so a dead broker is noticed in seconds, a
    small high-water mark, and a socket monitor that tells readyz whether
    the link is up. Handlers wake the actor through an eventfd, at most one
    write per wake-up however many events arrive meanwhile.
*/
#include <poll.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <czmq.h>
#include "logger_dispatcher.h"
#include "enp_log.h"
#include "enp_time.h"
#include "enp_wire.h"

#define S_BATCH          256    //  events taken from the store at a time
#define S_SEND_HWM       1000   //  messages queued toward the broker
#define S_IDLE_WAIT_MS   1000   //  longest sleep with nothing due
#define S_BLOCKED_WAIT_MS  50   //  retry interval while the broker refuses
#define S_FLUSH_MS       2000   //  best-effort flush on shutdown
#define S_BATCH_MS          1   //  after a drain, let events gather this long

struct _logger_dispatcher_t {
    enp_store_t *store;         //  borrowed
    char *endpoint;             //  broker frontend, e.g. tcp://127.0.0.1:5557
    int wake_fd;                //  eventfd that handlers write to
    atomic_bool wake_pending;   //  a wake-up is already signalled
    atomic_bool connected;      //  broker link is up
    atomic_bool backpressure;   //  last send was refused
    atomic_uint_fast64_t sent;  //  messages sent
    atomic_bool started;        //  the actor made its socket and connected
    atomic_uint_fast64_t refused;   //  sends the broker refused (down or full)
    zactor_t *actor;            //  the thread that owns the socket
};

//  Create the PUSH socket with every option set on purpose.
static zsock_t *
s_push_new (void)
{
    zsock_t *push = zsock_new (ZMQ_PUSH);
    if (!push)
        return NULL;
    zsock_set_sndhwm (push, S_SEND_HWM);
    zsock_set_sndtimeo (push, 0);
    zsock_set_immediate (push, 1);
    zsock_set_linger (push, S_FLUSH_MS);
    zsock_set_reconnect_ivl (push, 100);
    zsock_set_reconnect_ivl_max (push, 2000);
    zsock_set_heartbeat_ivl (push, 1000);
    zsock_set_heartbeat_ttl (push, 3000);
    zsock_set_heartbeat_timeout (push, 3000);
    return push;
}

//  Watch the PUSH socket's connection events on a PAIR socket.
static zsock_t *
s_monitor_new (zsock_t *push, logger_dispatcher_t *self)
{
    char endpoint [64];
    snprintf (endpoint, sizeof endpoint, "inproc://logger-monitor-%p",
              (void *) self);
    if (zmq_socket_monitor (zsock_resolve (push), endpoint,
                            ZMQ_EVENT_HANDSHAKE_SUCCEEDED
                          | ZMQ_EVENT_DISCONNECTED) != 0)
        return NULL;
    return zsock_new_pair (endpoint);   //  ">" is the default for PAIR
}

//  Read one monitor event and update the link state.
static void
s_monitor_read (logger_dispatcher_t *self, zsock_t *monitor)
{
    zmsg_t *msg = zmsg_recv (monitor);
    if (!msg)
        return;
    zframe_t *frame = zmsg_first (msg);
    if (frame && zframe_size (frame) >= 2) {
        uint16_t event;
        memcpy (&event, zframe_data (frame), sizeof event);
        bool up = event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED;
        if (up != atomic_load (&self->connected))
            enp_log_info ("broker %s link %s", self->endpoint, up? "up": "down");
        atomic_store (&self->connected, up);
    }
    zmsg_destroy (&msg);
}

//  Send every due event the broker takes. Returns the number sent, or -1
//  when the broker refused one (down or full).
static int
s_drain (logger_dispatcher_t *self, zsock_t *push)
{
    enp_event_t *batch [S_BATCH];
    int total = 0;
    while (true) {
        int64_t now = enp_time_mono_ms ();
        size_t count = enp_store_due (self->store, now, batch, S_BATCH);
        if (count == 0)
            return total;
        size_t index = 0;
        bool refused = false;
        for (; index < count && !refused; index++) {
            enp_event_t *event = batch [index];
            zmsg_t *msg = enp_wire_encode (event, enp_event_attempts (event) + 1);
            if (msg && zmsg_send (&msg, push) == 0) {
                enp_store_mark_sent (self->store, enp_event_id (event), now);
                atomic_fetch_add (&self->sent, 1);
                total++;
                if (enp_event_attempts (event) > 0)
                    enp_log_event_warn (enp_event_id (event),
                                        "redelivering, attempt %u",
                                        enp_event_attempts (event) + 1);
            }
            else {
                refused = true;
                atomic_fetch_add (&self->refused, 1);
            }
            zmsg_destroy (&msg);
            enp_event_destroy (&batch [index]);
        }
        for (; index < count; index++)
            enp_event_destroy (&batch [index]);
        atomic_store (&self->backpressure, refused && atomic_load (&self->connected));
        if (refused)
            return -1;
        if (count < S_BATCH)
            return total;
    }
}

//  How long to sleep before something falls due, in ms.
static int
s_wait_ms (logger_dispatcher_t *self, bool refused)
{
    if (refused)
        return S_BLOCKED_WAIT_MS;
    int64_t due = enp_store_next_due (self->store);
    int64_t wait = due == INT64_MAX? S_IDLE_WAIT_MS: due - enp_time_mono_ms ();
    if (wait < 0)
        wait = 0;
    return (int) (wait > S_IDLE_WAIT_MS? S_IDLE_WAIT_MS: wait);
}

//  Wait for $TERM on the pipe, as an actor that could not start must.
static void
s_wait_term (zsock_t *pipe)
{
    char *command = NULL;
    while ((command = zstr_recv (pipe)) && !streq (command, "$TERM"))
        zstr_free (&command);
    zstr_free (&command);
}

//  The actor: wait for a wake-up, a monitor event or a deadline; drain.
static void
s_actor (zsock_t *pipe, void *arg)
{
    logger_dispatcher_t *self = (logger_dispatcher_t *) arg;
    //  Attach the monitor before connecting, or the first handshake is missed
    zsock_t *push = s_push_new ();
    zsock_t *monitor = push? s_monitor_new (push, self): NULL;
    if (!push || !monitor)
        enp_log_error ("dispatcher cannot start: cannot create its sockets: %s",
                       zmq_strerror (zmq_errno ()));
    else
    if (zsock_connect (push, "%s", self->endpoint))
        //  A broker that is down is no error; an endpoint ZeroMQ cannot
        //  even try is one (a typo in --broker)
        enp_log_error ("dispatcher cannot start: cannot connect to broker %s: %s",
                       self->endpoint, zmq_strerror (zmq_errno ()));
    else {
        enp_log_info ("connecting to broker %s", self->endpoint);
        atomic_store (&self->started, true);
    }
    //  zactor_new returns once signalled; the parent reads started then
    zsock_signal (pipe, 0);
    if (!atomic_load (&self->started)) {
        if (monitor)
            zmq_socket_monitor (zsock_resolve (push), NULL, 0);
        zsock_destroy (&monitor);
        zsock_destroy (&push);
        s_wait_term (pipe);
        return;
    }
    bool refused = false;
    bool terminated = false;
    bool batching = false;
    while (!terminated) {
        zmq_pollitem_t items [] = {
            { zsock_resolve (pipe), 0, ZMQ_POLLIN, 0 },
            { monitor? zsock_resolve (monitor): NULL, 0, ZMQ_POLLIN, 0 },
            { NULL, self->wake_fd, ZMQ_POLLIN, 0 }
        };
        //  Right after a drain that sent something, leave the wake-up fd
        //  alone for S_BATCH_MS: events gather, handlers see a wake-up
        //  already pending and make no system call, and we wake at most
        //  ~1,000 times a second under load instead of once per request
        int count = !monitor? 1: batching? 2: 3;
        int rc = zmq_poll (items, count, batching? S_BATCH_MS
                                                 : s_wait_ms (self, refused));
        if (rc < 0 && zmq_errno () != EINTR)
            break;
        if (items [0].revents & ZMQ_POLLIN) {
            char *command = zstr_recv (pipe);
            terminated = !command || streq (command, "$TERM");
            zstr_free (&command);
        }
        if (monitor && (items [1].revents & ZMQ_POLLIN))
            s_monitor_read (self, monitor);
        if (count == 3 && (items [2].revents & ZMQ_POLLIN)) {
            uint64_t value;
            if (read (self->wake_fd, &value, sizeof value) < 0)
                enp_log_debug ("wake read: %s", strerror (errno));
            atomic_store (&self->wake_pending, false);
        }
        int sent = push? s_drain (self, push): 0;
        refused = sent < 0;
        batching = sent > 0;
    }
    //  Hand what is pending to the broker before going; linger sends it
    if (push && atomic_load (&self->connected))
        s_drain (self, push);
    if (monitor) {
        zmq_socket_monitor (zsock_resolve (push), NULL, 0);
        zsock_destroy (&monitor);
    }
    zsock_destroy (&push);
}

//  Start the dispatcher actor.
logger_dispatcher_t *
logger_dispatcher_new (enp_store_t *store, const char *endpoint)
{
    logger_dispatcher_t *self =
        (logger_dispatcher_t *) calloc (1, sizeof (logger_dispatcher_t));
    if (!self)
        return NULL;
    self->store = store;
    self->wake_fd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
    self->endpoint = strdup (endpoint);
    if (self->wake_fd < 0 || !self->endpoint) {
        logger_dispatcher_destroy (&self);
        return NULL;
    }
    self->actor = zactor_new (s_actor, self);
    if (!self->actor || !atomic_load (&self->started))
        logger_dispatcher_destroy (&self);
    return self;
}

//  Stop the actor.
void
logger_dispatcher_destroy (logger_dispatcher_t **self_p)
{
    assert (self_p);
    if (!*self_p)
        return;
    logger_dispatcher_t *self = *self_p;
    zactor_destroy (&self->actor);
    if (self->wake_fd >= 0)
        close (self->wake_fd);
    free (self->endpoint);
    free (self);
    *self_p = NULL;
}

bool
logger_dispatcher_connected (logger_dispatcher_t *self)
{
    return atomic_load (&self->connected);
}

bool
logger_dispatcher_backpressure (logger_dispatcher_t *self)
{
    return atomic_load (&self->backpressure);
}

uint64_t
logger_dispatcher_sent (logger_dispatcher_t *self)
{
    return atomic_load (&self->sent);
}

uint64_t
logger_dispatcher_refused (logger_dispatcher_t *self)
{
    return atomic_load (&self->refused);
}

//  Wake the actor; at most one write per wake-up.
void
logger_dispatcher_wake (logger_dispatcher_t *self)
{
    if (atomic_exchange (&self->wake_pending, true))
        return;
    uint64_t one = 1;
    if (write (self->wake_fd, &one, sizeof one) < 0)
        enp_log_debug ("wake write: %s", strerror (errno));
}
