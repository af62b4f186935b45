/*  logger_dispatcher - the one thread that hands events to the broker

    ZeroMQ sockets are not thread-safe and HTTP handlers must never block,
    so handlers only insert into the store (the outbox) and wake this actor,
    which owns the PUSH socket. It sends what the store says is due -
    pending events, then queued ones whose visibility timeout passed - with
    a zero send timeout: when the broker is down or full the send fails at
    once, events stay "pending", and the actor waits rather than spins.

    The socket is an enp_link: ZMQ_IMMEDIATE so nothing is queued toward a
    broker that is not connected, heartbeats so a dead broker is noticed in
    seconds, a small high-water mark, CURVE when configured, and a socket
    monitor that tells readyz whether the link is up. Handlers wake the
    actor through an eventfd, at most one write per wake-up however many
    events arrive meanwhile.

    Events go out several to a message (ENP3, docs/protocol.md), as many
    as are due at once up to the configured number: ZeroMQ, CURVE and the
    broker pay per message and per frame, not per byte. Nothing waits to
    fill a message. A message the broker refuses leaves all its events
    pending; one that a broker or processor loses after taking it is
    redelivered event by event, each on its own visibility deadline.
*/
#include <poll.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <czmq.h>
#include "logger_dispatcher.h"
#include "enp_link.h"
#include "enp_log.h"
#include "enp_time.h"
#include "enp_wire.h"

#define S_BATCH          256    //  events taken from the store at a time
#define S_IDLE_WAIT_MS   1000   //  longest sleep with nothing due
#define S_BLOCKED_WAIT_MS  50   //  retry interval while the broker refuses
#define S_BATCH_MS          1   //  after a drain, let events gather this long
#define S_DRAIN_BATCHES    16   //  batches per drain before the actor looks
                                //  at its pipe again (a stop, the monitor)
#define S_FLUSH_MS       2000   //  best-effort flush on shutdown

struct _logger_dispatcher_t {
    logger_store_t *store;      //  borrowed
    char *endpoint;             //  broker frontend, e.g. tcp://127.0.0.1:5557
    enp_curve_t *curve;         //  borrowed; NULL: CURVE off
    int wake_fd;                //  eventfd that handlers write to
    atomic_bool wake_pending;   //  a wake-up is already signalled
    atomic_bool connected;      //  broker link is up
    atomic_bool backpressure;   //  last send was refused
    atomic_uint_fast64_t sent;  //  events sent
    atomic_uint_fast64_t messages;  //  messages they went in
    atomic_bool started;        //  the actor made its socket and connected
    atomic_uint_fast64_t refused;   //  sends the broker refused (down or full)
    atomic_size_t wire_batch;   //  events per message; 1: ENP2, one each
    zactor_t *actor;            //  the thread that owns the socket
};

//  Encode events as one message, as many as fit from the first: ENP3 up
//  to wire_batch events, or ENP2 for one. How many went in goes to
//  *packed_p. Caller owns the result.
static zmsg_t *
s_encode (logger_dispatcher_t *self, enp_event_t **events, size_t count,
          size_t *packed_p)
{
    uint32_t attempts [ENP_WIRE_BATCH_MAX];
    size_t most = atomic_load (&self->wire_batch);
    if (most > count)
        most = count;
    for (size_t index = 0; index < most; index++)
        attempts [index] = enp_event_attempts (events [index]) + 1;
    if (most > 1)
        return enp_wire_encode_batch (events, attempts, most, packed_p);
    *packed_p = 1;
    return enp_wire_encode (events [0], attempts [0]);
}

//  Send what is due and the broker takes, claiming at most max at first,
//  up to S_DRAIN_BATCHES batches, several events to a message. Returns
//  the number of events sent, or -1 when the broker refused a message
//  (down or full) or the store failed.
static int
s_drain (logger_dispatcher_t *self, zsock_t *push, size_t max)
{
    enp_event_t *batch [S_BATCH];
    int total = 0;
    for (int batches = 0; batches < S_DRAIN_BATCHES; batches++) {
        size_t count = 0;
        if (logger_store_claim (self->store, batch, max, &count) != ENP_OK)
            return -1;
        if (count == 0)
            return total;
        size_t sent = 0;
        bool refused = false;
        while (sent < count && !refused) {
            size_t packed = 0;
            zmsg_t *msg = s_encode (self, batch + sent, count - sent, &packed);
            refused = !msg || zmsg_send (&msg, push) != 0;
            zmsg_destroy (&msg);
            if (refused) {
                atomic_fetch_add (&self->refused, 1);
                break;
            }
            atomic_fetch_add (&self->messages, 1);
            for (size_t end = sent + packed; sent < end; sent++) {
                enp_event_t *event = batch [sent];
                if (enp_event_attempts (event) > 0)
                    enp_log_event_warn (enp_event_id (event),
                                        "redelivering, attempt %u",
                                        enp_event_attempts (event) + 1);
            }
        }
        //  One call each for what went and what the broker refused: every
        //  event of a refused message stays pending
        logger_store_mark_sent (self->store, batch, sent);
        logger_store_release (self->store, batch + sent, count - sent);
        atomic_fetch_add (&self->sent, sent);
        total += (int) sent;
        for (size_t index = 0; index < count; index++)
            enp_event_destroy (&batch [index]);
        atomic_store (&self->backpressure, refused && atomic_load (&self->connected));
        if (refused)
            return -1;
        if (count < max)
            return total;
        max = S_BATCH;
    }
    return total;
}

//  How long to sleep before something falls due, in ms. While the broker
//  is away nothing can go: sleep until the monitor says it is back.
static int
s_wait_ms (logger_dispatcher_t *self, bool refused, bool away)
{
    if (away)
        return S_IDLE_WAIT_MS;
    if (refused)
        return S_BLOCKED_WAIT_MS;
    int64_t wait = logger_store_next_due (self->store);
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
    //  The link attaches its monitor before connecting, so the first
    //  handshake is not missed
    enp_link_t *link = enp_link_new (ENP_LINK_LOGGER, self->curve);
    if (!link)
        enp_log_error ("dispatcher cannot start: cannot create its sockets: %s",
                       zmq_strerror (zmq_errno ()));
    else
    if (enp_link_connect (link, self->endpoint)) {
        //  A broker that is down is no error; an endpoint ZeroMQ cannot
        //  even try is one (a typo in --broker)
        enp_log_error ("dispatcher cannot start: cannot connect to broker %s: %s",
                       self->endpoint, zmq_strerror (zmq_errno ()));
        enp_link_destroy (&link);
    }
    else
        atomic_store (&self->started, true);
    //  zactor_new returns once signalled; the parent reads started then
    zsock_signal (pipe, 0);
    if (!link) {
        s_wait_term (pipe);
        return;
    }
    zsock_t *push = enp_link_socket (link);
    bool refused = false;
    bool terminated = false;
    bool batching = false;
    while (!terminated) {
        zmq_pollitem_t items [] = {
            { zsock_resolve (pipe), 0, ZMQ_POLLIN, 0 },
            { zsock_resolve (enp_link_monitor (link)), 0, ZMQ_POLLIN, 0 },
            { NULL, self->wake_fd, ZMQ_POLLIN, 0 }
        };
        //  Right after a drain that sent something, leave the wake-up fd
        //  alone for S_BATCH_MS: events gather, handlers see a wake-up
        //  already pending and make no system call, and we wake at most
        //  ~1,000 times a second under load instead of once per request
        int count = batching? 2: 3;
        bool away = !atomic_load (&self->connected);
        int rc = zmq_poll (items, count, batching? S_BATCH_MS
                                                 : s_wait_ms (self, refused, away));
        if (rc < 0 && zmq_errno () != EINTR)
            break;
        if (items [0].revents & ZMQ_POLLIN) {
            char *command = zstr_recv (pipe);
            terminated = !command || streq (command, "$TERM");
            zstr_free (&command);
        }
        if (items [1].revents & ZMQ_POLLIN)
            atomic_store (&self->connected, enp_link_watch (link));
        enp_link_maintain (link);
        if (count == 3 && (items [2].revents & ZMQ_POLLIN)) {
            uint64_t value;
            if (read (self->wake_fd, &value, sizeof value) < 0)
                enp_log_debug ("wake read: %s", strerror (errno));
            atomic_store (&self->wake_pending, false);
        }
        //  A claim costs a database store a round trip and a write: none
        //  while the broker is known to be away, and one event at a time
        //  to see whether a refusing broker takes events again
        int sent = 0;
        if (atomic_load (&self->connected))
            sent = s_drain (self, push, refused? 1: S_BATCH);
        else
        if (logger_store_next_due (self->store) == 0) {
            //  Due, and no link to send it on: a refusal all the same
            atomic_fetch_add (&self->refused, 1);
            sent = -1;
        }
        refused = sent < 0;
        batching = sent > 0;
    }
    //  Hand what is pending to the broker before going; linger sends it.
    //  A durable store keeps it for the next logger instead
    if (atomic_load (&self->connected) && !logger_store_durable (self->store)) {
        int64_t deadline = enp_time_mono_ms () + S_FLUSH_MS;
        while (s_drain (self, push, S_BATCH) > 0 && enp_time_mono_ms () < deadline)
            ;
    }
    //  Sends the store held back to record together
    logger_store_flush (self->store);
    enp_link_destroy (&link);
}

//  Start the dispatcher actor.
logger_dispatcher_t *
logger_dispatcher_new (logger_store_t *store, const char *endpoint,
                       enp_curve_t *curve)
{
    logger_dispatcher_t *self =
        (logger_dispatcher_t *) calloc (1, sizeof (logger_dispatcher_t));
    if (!self)
        return NULL;
    self->store = store;
    self->curve = curve;
    atomic_init (&self->wire_batch, ENP_WIRE_BATCH_MAX);
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
logger_dispatcher_messages (logger_dispatcher_t *self)
{
    return atomic_load (&self->messages);
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

//  Send up to events events per message.
int
logger_dispatcher_set_wire_batch (logger_dispatcher_t *self, size_t events)
{
    assert (self);
    if (events < 1 || events > ENP_WIRE_BATCH_MAX)
        return -1;
    atomic_store (&self->wire_batch, events);
    return 0;
}
