/*  enp_link - a ZeroMQ link of the pipeline, set up the same way everywhere

    The logger, the broker and the processors each own ZeroMQ sockets that
    must agree: heartbeats, high-water marks, linger, reconnect intervals,
    the largest message, CURVE, and a socket monitor to know who is
    connected. This class holds all of it, so the values are named once and
    each service only says which end of which link it is.

    The monitor tracks peers by file descriptor. Counting "handshake
    succeeded" up and every "disconnected" down, as a simple counter would,
    lets a connection that never completed a handshake take a real peer
    off the count: libzmq reports no handshake event at all for a ZMTP 1.0
    or 2.0 greeting, only its disconnect. libzmq's (version 1) monitor
    gives the fd with "accepted", "connected" and "disconnected", but not
    with the handshake's outcome, so the link keeps the connections still
    in their handshake and how many of them succeeded or failed, and
    resolves them as they go: a connection in its handshake that
    disconnects takes a failure if one is outstanding (libzmq reports a
    failure before the disconnect), else it is no peer unless every
    connection left in handshake succeeded; when all that remain in
    handshake succeeded they become peers. The count is the peers plus the
    successes not yet placed. A connection that never completed a handshake
    therefore never takes a real peer off the count; at worst, while two
    handshakes overlap, a peer that leaves is counted a little longer.
    libzmq reports a disconnect before it closes the fd, so a reused fd
    never meets a stale entry.
*/
#include <stdio.h>
#include <string.h>
#include "enp_link.h"
#include "enp_log.h"
#include "enp_time.h"
#include "enp_wire.h"

#define S_MONITOR_EVENTS (ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_CONNECTED \
                        | ZMQ_EVENT_HANDSHAKE_SUCCEEDED          \
                        | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL   \
                        | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL    \
                        | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH        \
                        | ZMQ_EVENT_DISCONNECTED)

struct _enp_link_t {
    enp_link_role_t role;
    bool curve;                 //  CURVE is on
    const char *public_key;     //  own CURVE public key (Z85), or NULL
    bool up;                    //  what enp_link_watch last said
    zsock_t *socket;            //  the link's socket
    zsock_t *monitor;           //  PAIR receiving its monitor events
    zhashx_t *peers;            //  fd (as text) -> present, handshake done
    zhashx_t *pending;          //  fd (as text) -> present, in handshake
    size_t succeeded;           //  successes not yet placed on a pending fd
    size_t failed;              //  failures not yet placed on a pending fd
    char *endpoint;             //  what a connecting link dials, or NULL
    int64_t redial_at;          //  monotonic ms to dial again, 0: no need
    bool paused;                //  disconnected on purpose (enp_link_pause)
};

static const char *s_names [] = { "broker", "frontend", "backend", "broker" };

//  Set the options every link has, then the role's own.
static void
s_options (zsock_t *socket, enp_link_role_t role)
{
    zsock_set_heartbeat_ivl (socket, ENP_LINK_HEARTBEAT_IVL_MS);
    zsock_set_heartbeat_ttl (socket, ENP_LINK_HEARTBEAT_TTL_MS);
    zsock_set_heartbeat_timeout (socket, ENP_LINK_HEARTBEAT_TIMEOUT_MS);
    zsock_set_handshake_ivl (socket, ENP_LINK_HANDSHAKE_MS);
    zsock_set_maxmsgsize (socket, ENP_LINK_MAXMSGSIZE);
    bool sender = role == ENP_LINK_LOGGER || role == ENP_LINK_BACKEND;
    //  Receivers drop what they hold on close: the logger redelivers it
    zsock_set_linger (socket, sender? ENP_LINK_LINGER_MS: 0);
    if (role == ENP_LINK_LOGGER || role == ENP_LINK_WORKER) {
        zsock_set_reconnect_ivl (socket, ENP_LINK_RECONNECT_MS);
        zsock_set_reconnect_ivl_max (socket, ENP_LINK_RECONNECT_MAX_MS);
    }
    switch (role) {
        case ENP_LINK_LOGGER:
            //  Sends fail at once, never queue toward an absent broker: the
            //  event stays pending in the store instead
            zsock_set_sndhwm (socket, ENP_LINK_LOGGER_HWM);
            zsock_set_sndtimeo (socket, 0);
            zsock_set_immediate (socket, 1);
            break;
        case ENP_LINK_FRONTEND:
            zsock_set_rcvhwm (socket, ENP_LINK_LOGGER_HWM);
            break;
        case ENP_LINK_BACKEND:
            zsock_set_sndhwm (socket, ENP_LINK_WORKER_HWM);
            zsock_set_sndtimeo (socket, 0);
            break;
        case ENP_LINK_WORKER:
            zsock_set_rcvhwm (socket, ENP_LINK_WORKER_HWM);
            break;
    }
}

//  Create a link's socket, its options and its monitor.
enp_link_t *
enp_link_new (enp_link_role_t role, enp_curve_t *curve)
{
    enp_link_t *self = (enp_link_t *) calloc (1, sizeof (enp_link_t));
    if (!self)
        return NULL;
    self->role = role;
    self->curve = curve != NULL;
    self->public_key = curve? enp_curve_public_key (curve): NULL;
    bool pull = role == ENP_LINK_FRONTEND || role == ENP_LINK_WORKER;
    self->socket = zsock_new (pull? ZMQ_PULL: ZMQ_PUSH);
    self->peers = zhashx_new ();
    self->pending = zhashx_new ();
    if (!self->socket || !self->peers || !self->pending) {
        enp_link_destroy (&self);
        return NULL;
    }
    s_options (self->socket, role);
    if (curve && role == ENP_LINK_FRONTEND)
        enp_curve_apply_server (curve, self->socket, "loggers");
    else
    if (curve && role == ENP_LINK_BACKEND)
        enp_curve_apply_server (curve, self->socket, "workers");
    else
    if (curve)
        enp_curve_apply_client (curve, self->socket);
    //  The monitor's endpoint needs a name no link of this process had:
    //  libzmq unbinds a closed monitor in the background, so the name of a
    //  link just destroyed (say, its address, which the next link may get)
    //  can still be taken
    zuuid_t *uuid = zuuid_new ();
    char endpoint [80];
    if (uuid) {
        snprintf (endpoint, sizeof endpoint, "inproc://enp-link-monitor-%s",
                  zuuid_str (uuid));
        zuuid_destroy (&uuid);
        if (zmq_socket_monitor (zsock_resolve (self->socket), endpoint,
                                S_MONITOR_EVENTS) == 0)
            self->monitor = zsock_new_pair (endpoint);  //  ">" is PAIR's default
    }
    if (!self->monitor)
        enp_link_destroy (&self);
    return self;
}

//  Stop the monitor and close the socket.
void
enp_link_destroy (enp_link_t **self_p)
{
    assert (self_p);
    if (!*self_p)
        return;
    enp_link_t *self = *self_p;
    if (self->monitor) {
        zmq_socket_monitor (zsock_resolve (self->socket), NULL, 0);
        zsock_destroy (&self->monitor);
    }
    zsock_destroy (&self->socket);
    zhashx_destroy (&self->peers);
    zhashx_destroy (&self->pending);
    free (self->endpoint);
    free (self);
    *self_p = NULL;
}

zsock_t *enp_link_socket (enp_link_t *self) { assert (self); return self->socket; }
zsock_t *enp_link_monitor (enp_link_t *self) { assert (self); return self->monitor; }
const char *enp_link_name (enp_link_t *self) { assert (self); return s_names [self->role]; }
size_t enp_link_peers (enp_link_t *self) { assert (self); return zhashx_size (self->peers) + self->succeeded; }

//  Say so when plain traffic can leave this host.
static void
s_warn_open (enp_link_t *self, const char *endpoint)
{
    if (!self->curve && !enp_link_endpoint_local (endpoint))
        enp_log_warn ("%s %s reaches beyond this host with CURVE off: anyone"
                      " on the network can %s; give the --curve-* options"
                      " (README, Security)", s_names [self->role], endpoint,
                      self->role == ENP_LINK_FRONTEND? "push forged events":
                      self->role == ENP_LINK_BACKEND? "pull and read events":
                      "read events or play the broker");
}

//  Bind to an endpoint.
int
enp_link_bind (enp_link_t *self, const char *endpoint)
{
    assert (self);
    if (zsock_bind (self->socket, "%s", endpoint) < 0) {
        enp_log_error ("cannot bind %s %s: %s", s_names [self->role], endpoint,
                       zmq_strerror (zmq_errno ()));
        return -1;
    }
    //  Read the port back, so "tcp://127.0.0.1:0" and ":*" both work
    char *bound = zsock_last_endpoint (self->socket);
    const char *colon = bound? strrchr (bound, ':'): NULL;
    int port = (colon && strncmp (bound, "tcp://", 6) == 0)? atoi (colon + 1): 0;
    enp_log_info ("%s bound to %s (CURVE %s)", s_names [self->role],
                  bound? bound: endpoint, self->curve? "on": "off");
    zstr_free (&bound);
    s_warn_open (self, endpoint);
    return port;
}

//  Connect to an endpoint.
int
enp_link_connect (enp_link_t *self, const char *endpoint)
{
    assert (self);
    if (zsock_connect (self->socket, "%s", endpoint))
        return -1;              //  The caller says what it could not do
    enp_log_info ("connecting to %s %s (CURVE %s)", s_names [self->role],
                  endpoint, self->curve? "on": "off");
    s_warn_open (self, endpoint);
    free (self->endpoint);
    self->endpoint = strdup (endpoint);
    return 0;
}

//  Dial again when a connecting link lost its peer a while ago and has
//  none. libzmq gives up on an endpoint for good after a protocol error
//  (a refused key, a frame over ZMQ_MAXMSGSIZE from an impostor), where it
//  retries after a plain connection error; this keeps a processor or a
//  logger trying, at the slowest reconnect interval.
void
enp_link_maintain (enp_link_t *self)
{
    assert (self);
    if (!self->endpoint || self->paused || self->redial_at == 0
    ||  enp_time_mono_ms () < self->redial_at)
        return;
    if (enp_link_peers (self) > 0) {
        self->redial_at = 0;
        return;
    }
    zsock_disconnect (self->socket, "%s", self->endpoint);
    if (zsock_connect (self->socket, "%s", self->endpoint) == 0)
        enp_log_debug ("dialling %s %s again", s_names [self->role], self->endpoint);
    self->redial_at = enp_time_mono_ms () + ENP_LINK_RECONNECT_MAX_MS;
}

//  Drop the connection on purpose and stay away until resumed.
int
enp_link_pause (enp_link_t *self)
{
    assert (self);
    if (!self->endpoint || self->paused)
        return -1;
    self->paused = true;
    self->redial_at = 0;
    zsock_disconnect (self->socket, "%s", self->endpoint);
    return 0;
}

//  Connect again after a pause.
int
enp_link_resume (enp_link_t *self)
{
    assert (self);
    if (!self->paused)
        return -1;
    self->paused = false;
    return zsock_connect (self->socket, "%s", self->endpoint);
}

bool
enp_link_paused (enp_link_t *self)
{
    assert (self);
    return self->paused;
}

//  When every connection left in handshake succeeded, they are peers.
static void
s_settle (enp_link_t *self)
{
    if (self->succeeded > zhashx_size (self->pending))
        self->succeeded = zhashx_size (self->pending);
    if (self->failed > zhashx_size (self->pending))
        self->failed = zhashx_size (self->pending);
    if (self->succeeded == 0 || self->succeeded != zhashx_size (self->pending))
        return;
    for (void *item = zhashx_first (self->pending); item;
         item = zhashx_next (self->pending))
        zhashx_update (self->peers, (const char *) zhashx_cursor (self->pending),
                       (void *) 1);
    zhashx_purge (self->pending);
    self->succeeded = 0;
}

//  A connection went away. Returns ENP_LINK_DOWN when it was a peer,
//  ENP_LINK_ABORTED when it left its handshake without any outcome (libzmq
//  reports none for a ZMTP 1.0 or 2.0 greeting), else ENP_LINK_NOTHING
//  (its failure was reported already).
static enp_link_event_t
s_disconnected (enp_link_t *self, const char *fd)
{
    if (zhashx_lookup (self->peers, fd)) {
        zhashx_delete (self->peers, fd);
        return ENP_LINK_DOWN;
    }
    if (!zhashx_lookup (self->pending, fd))
        return ENP_LINK_NOTHING;
    enp_link_event_t result = ENP_LINK_ABORTED;
    if (self->failed > 0) {
        self->failed--;
        result = ENP_LINK_NOTHING;
    }
    else
    if (self->succeeded > 0 && self->succeeded == zhashx_size (self->pending)) {
        self->succeeded--;
        result = ENP_LINK_DOWN;
    }
    zhashx_delete (self->pending, fd);
    return result;
}

//  Read one monitor event and track the peers.
enp_link_event_t
enp_link_monitor_read (enp_link_t *self)
{
    assert (self);
    zmsg_t *msg = zmsg_recv_nowait (self->monitor);
    zframe_t *frame = msg? zmsg_first (msg): NULL;
    enp_link_event_t result = ENP_LINK_NOTHING;
    //  Frame 0: the event (16 bits) and its value (32 bits), host order
    if (frame && zframe_size (frame) >= 6) {
        uint16_t event;
        uint32_t value;
        memcpy (&event, zframe_data (frame), sizeof event);
        memcpy (&value, zframe_data (frame) + 2, sizeof value);
        char fd [16];
        snprintf (fd, sizeof fd, "%u", value);
        if (event == ZMQ_EVENT_ACCEPTED || event == ZMQ_EVENT_CONNECTED)
            zhashx_update (self->pending, fd, (void *) 1);
        else
        if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
            self->succeeded++;
            result = ENP_LINK_UP;
        }
        else
        if (event == ZMQ_EVENT_DISCONNECTED)
            result = s_disconnected (self, fd);
        else {
            result = event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH? ENP_LINK_REFUSED_AUTH
                   : event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL? ENP_LINK_REFUSED_PROTOCOL
                   : ENP_LINK_ABORTED;
            self->failed++;
        }
        s_settle (self);
        if (result != ENP_LINK_NOTHING && result != ENP_LINK_UP && self->endpoint
        &&  self->redial_at == 0)
            self->redial_at = enp_time_mono_ms () + ENP_LINK_RECONNECT_MAX_MS;
    }
    zmsg_destroy (&msg);
    return result;
}

//  Read every monitor event waiting; say when the link goes up or down or
//  a handshake fails.
bool
enp_link_watch (enp_link_t *self)
{
    assert (self);
    while (zsock_events (self->monitor) & ZMQ_POLLIN) {
        enp_link_event_t event = enp_link_monitor_read (self);
        bool up = enp_link_peers (self) > 0;
        if (up != self->up)
            enp_log_info ("%s %s link %s", s_names [self->role],
                          self->endpoint? self->endpoint: "", up? "up": "down");
        self->up = up;
        if (event == ENP_LINK_REFUSED_PROTOCOL || event == ENP_LINK_REFUSED_AUTH)
            enp_log_warn ("handshake with %s %s failed: check --curve-broker (its"
                          " key) and that it allows ours (%s)", s_names [self->role],
                          self->endpoint? self->endpoint: "",
                          self->public_key? self->public_key: "CURVE off");
    }
    return self->up;
}

//  Receive one message within the wire format's bounds.
enp_status_t
enp_link_recv (enp_link_t *self, zmsg_t **msg_p)
{
    assert (self);
    void *handle = zsock_resolve (self->socket);
    zmsg_t *msg = NULL;
    size_t frames = 0, bytes = 0;
    bool more = true, over = false;
    //  libzmq hands over a multipart message whole or not at all, so once
    //  the first frame is read the rest are there without waiting
    while (more) {
        zmq_msg_t part;
        zmq_msg_init (&part);
        if (zmq_msg_recv (&part, handle, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (&part);
            break;
        }
        more = zmq_msg_more (&part);
        frames++;
        bytes += zmq_msg_size (&part);
        over = over || frames > ENP_WIRE_FRAMES_MAX || bytes > ENP_WIRE_SIZE_MAX;
        if (over)
            zmsg_destroy (&msg);
        else {
            if (!msg)
                msg = zmsg_new ();
            zframe_t *frame = zframe_new (zmq_msg_data (&part), zmq_msg_size (&part));
            if (!msg || !frame || zmsg_append (msg, &frame)) {
                zframe_destroy (&frame);
                zmsg_destroy (&msg);
                over = true;        //  Out of memory: drop it as well
            }
        }
        zmq_msg_close (&part);
    }
    if (frames == 0)
        return ENP_ENOTFOUND;
    if (over || more) {
        zmsg_destroy (&msg);
        return ENP_EPARSE;
    }
    *msg_p = msg;
    return ENP_OK;
}

//  Return true when an endpoint stays on this host.
bool
enp_link_endpoint_local (const char *endpoint)
{
    if (!endpoint)
        return false;
    if (strncmp (endpoint, "inproc://", 9) == 0 || strncmp (endpoint, "ipc://", 6) == 0)
        return true;
    if (strncmp (endpoint, "tcp://", 6) != 0)
        return false;
    //  "tcp://source;host:port" names a source address first; the host
    //  is what matters
    const char *host = strchr (endpoint + 6, ';');
    host = host? host + 1: endpoint + 6;
    return strncmp (host, "127.", 4) == 0 || strncmp (host, "localhost:", 10) == 0
        || strncmp (host, "[::1]:", 6) == 0;
}
