//  enp_link - a ZeroMQ link of the pipeline, set up the same way everywhere
#ifndef ENP_LINK_H_INCLUDED
#define ENP_LINK_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <czmq.h>
#include "enp_curve.h"
#include "enp_status.h"
#include "enp_wire.h"

//  The four sockets of the pipeline; the role picks every option.
typedef enum {
    ENP_LINK_LOGGER = 0,    //  event-logger's PUSH, connects to the frontend
    ENP_LINK_FRONTEND,      //  queue-broker's PULL, loggers connect to it
    ENP_LINK_BACKEND,       //  queue-broker's PUSH, workers connect to it
    ENP_LINK_WORKER         //  notification-processor's PULL, connects to the backend
} enp_link_role_t;

//  What one monitor event meant.
typedef enum {
    ENP_LINK_NOTHING = 0,       //  an event of no interest, or none
    ENP_LINK_UP,                //  a peer completed its handshake
    ENP_LINK_DOWN,              //  a peer that had completed it went away
    ENP_LINK_REFUSED_AUTH,      //  a peer's CURVE key was not allowed
    ENP_LINK_REFUSED_PROTOCOL,  //  a peer broke ZMTP, or its mechanism or keys
    ENP_LINK_ABORTED            //  a connection closed before its handshake
                                //  ended, or ended it in a way libzmq has
                                //  no event for (a ZMTP 1.0/2.0 greeting)
} enp_link_event_t;

//  The settings, named. Heartbeats notice a dead peer in seconds; the
//  handshake bound drops a connection that never finishes one; senders
//  linger so a clean stop hands over what is queued; high-water marks are
//  small so a dead worker strands little.
#define ENP_LINK_HEARTBEAT_IVL_MS       1000    //  ping every second
#define ENP_LINK_HEARTBEAT_TIMEOUT_MS   3000    //  no traffic for 3 s: dead
#define ENP_LINK_HEARTBEAT_TTL_MS       3000    //  the peer's view of the same
#define ENP_LINK_HANDSHAKE_MS           5000    //  a handshake must end by then
#define ENP_LINK_RECONNECT_MS            100    //  first reconnect delay
#define ENP_LINK_RECONNECT_MAX_MS       2000    //  reconnect delay grows to this
#define ENP_LINK_LINGER_MS              2000    //  senders: hand over on close
#define ENP_LINK_LOGGER_HWM             1000    //  logger -> broker, and in from each logger
#define ENP_LINK_WORKER_HWM              100    //  broker -> each worker, and in each worker
//  libzmq drops a peer that sends a frame larger than this. It checks each
//  frame, not the whole message, so enp_link_recv bounds the rest; the
//  margin covers CURVE's per-frame overhead.
#define ENP_LINK_MAXMSGSIZE             (ENP_WIRE_SIZE_MAX + 64)

typedef struct _enp_link_t enp_link_t;

//  Create a socket for role with every option set, and its monitor (made
//  before any connection, so none is missed). With curve (borrowed; NULL:
//  CURVE off) the broker's sockets become CURVE servers that authenticate
//  clients under ZAP domain "loggers" (frontend) or "workers" (backend),
//  and the others clients of the broker key in curve. Returns NULL on
//  failure. Caller owns the result.
enp_link_t *enp_link_new (enp_link_role_t role, enp_curve_t *curve);
//  Stop the monitor and close the socket; nulls the caller's pointer.
void enp_link_destroy (enp_link_t **self_p);
//  Return the socket, for sending and polling; owned by the link.
zsock_t *enp_link_socket (enp_link_t *self);
//  Return the monitor socket, to poll for ZMQ_POLLIN; owned by the link.
zsock_t *enp_link_monitor (enp_link_t *self);
//  Return a short name for the role ("frontend", "broker", ...) for logs.
const char *enp_link_name (enp_link_t *self);
//  Bind to endpoint; warns when CURVE is off and the endpoint is reachable
//  beyond this host. Returns the bound TCP port, 0 for other transports,
//  or -1 (logged) on failure.
int enp_link_bind (enp_link_t *self, const char *endpoint);
//  Connect to endpoint, with the same warning. Returns 0, or -1 with
//  zmq_errno () set, unlogged: the caller says what failed.
int enp_link_connect (enp_link_t *self, const char *endpoint);
//  Read one event from the monitor and track the peers: only a connection
//  that completed its handshake counts, so one that fails or is aborted
//  before (a port probe, a malformed greeting) never counts as a peer going
//  away. Returns what the event meant.
enp_link_event_t enp_link_monitor_read (enp_link_t *self);
//  Call now and then (each loop of the owning actor, at least once a
//  second): a connecting link that lost its peer and has had none for
//  ENP_LINK_RECONNECT_MAX_MS dials again, since libzmq stops retrying an
//  endpoint after a protocol error.
void enp_link_maintain (enp_link_t *self);
//  For a connecting link: disconnect on purpose, and neither libzmq nor
//  enp_link_maintain dials again until enp_link_resume. A reader that must
//  stop reading for longer than the heartbeat timeout pauses instead: a
//  connection whose pipe stays full is replaced by libzmq after the
//  timeout, and in libzmq 4.3.4 a write activation meant for the old one
//  can then restart input on the new one and abort the process
//  (_input_stopped, libzmq issue 3937). A disconnected session never gets
//  a new connection, so that cannot happen. libzmq closes the old
//  connection once the messages it already queued for the socket are read
//  (they still come out of enp_link_recv) or its heartbeat times out;
//  what the peer sent after those is lost with it (the logger redelivers
//  it). Returns 0, or -1 when not connecting or already paused.
int enp_link_pause (enp_link_t *self);
//  Connect again after enp_link_pause. Returns 0, or -1 when not paused
//  or the connect failed.
int enp_link_resume (enp_link_t *self);
//  Return true between enp_link_pause and enp_link_resume.
bool enp_link_paused (enp_link_t *self);
//  For a connecting link: read every monitor event waiting, log the link
//  going up or down and failed handshakes (with a hint about the keys),
//  and return true while the link is up.
bool enp_link_watch (enp_link_t *self);
//  Return the connections up now that completed a handshake.
size_t enp_link_peers (enp_link_t *self);
//  Receive one message without waiting, within the wire format's bounds
//  (ENP_WIRE_FRAMES_MAX frames, ENP_WIRE_SIZE_MAX bytes): a longer message
//  is read frame by frame and dropped, never held whole. Returns ENP_OK
//  with *msg_p set (caller owns it), ENP_ENOTFOUND when nothing waits, or
//  ENP_EPARSE when a message over the bounds was dropped.
enp_status_t enp_link_recv (enp_link_t *self, zmsg_t **msg_p);
//  Return true when an endpoint stays on this host: inproc, ipc, or tcp
//  on a loopback address.
bool enp_link_endpoint_local (const char *endpoint);

#endif
