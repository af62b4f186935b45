//  logger_dispatcher - the one thread that hands events to the broker
#ifndef LOGGER_DISPATCHER_H_INCLUDED
#define LOGGER_DISPATCHER_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>
#include "enp_curve.h"
#include "logger_store.h"

typedef struct _logger_dispatcher_t logger_dispatcher_t;

//  Start an actor that connects a PUSH socket to endpoint and sends every
//  due event of store (borrowed; must outlive the dispatcher). With curve
//  (borrowed, outlives the dispatcher; NULL: CURVE off) the link is
//  encrypted and the broker must have curve's server key. A broker that
//  cannot be reached is not a failure: events wait as pending and
//  logger_dispatcher_connected says false. Returns NULL (and logs why)
//  when the dispatcher cannot start: the endpoint is one ZeroMQ cannot
//  connect to at all (malformed), or its thread or sockets cannot be made.
logger_dispatcher_t *logger_dispatcher_new (logger_store_t *store,
                                            const char *endpoint,
                                            enp_curve_t *curve);
//  Stop the actor, after a short best-effort flush of pending events
//  (none with a durable store: it keeps them); nulls the caller's pointer.
void logger_dispatcher_destroy (logger_dispatcher_t **self_p);
//  Return true while a connection to the broker is up.
bool logger_dispatcher_connected (logger_dispatcher_t *self);
//  Return true when the broker refused the last send (its queue is full).
bool logger_dispatcher_backpressure (logger_dispatcher_t *self);
//  Send up to events events per ZeroMQ message (1..ENP_WIRE_BATCH_MAX, the
//  default): an ENP3 message; 1 sends each as an ENP2 message, for brokers
//  and processors older than ENP3. Safe from any thread. Returns 0 or -1.
int logger_dispatcher_set_wire_batch (logger_dispatcher_t *self, size_t events);
//  Return the number of events handed to the broker so far.
uint64_t logger_dispatcher_sent (logger_dispatcher_t *self);
//  Return the number of messages they went in.
uint64_t logger_dispatcher_messages (logger_dispatcher_t *self);
//  Return the number of sends the broker refused so far (no broker link,
//  or its queue full): each one left an event pending to try again.
uint64_t logger_dispatcher_refused (logger_dispatcher_t *self);
//  Tell the dispatcher new events wait. Cheap, safe from any thread: it
//  makes a system call only when the dispatcher is not already awake.
void logger_dispatcher_wake (logger_dispatcher_t *self);

#endif
