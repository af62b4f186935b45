//  broker_queue - bounded FIFO of messages waiting for a worker
#ifndef BROKER_QUEUE_H_INCLUDED
#define BROKER_QUEUE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <czmq.h>
#include "enp_status.h"

typedef struct _broker_queue_t broker_queue_t;

//  Create a queue holding at most limit messages and about max_bytes bytes
//  (the message that crosses max_bytes is the last one in); it warns once
//  when it passes 90% of either. Returns NULL on failure.
broker_queue_t *broker_queue_new (size_t limit, size_t max_bytes);
//  Destroy the queue and every message in it; nulls the caller's pointer.
void broker_queue_destroy (broker_queue_t **self_p);
//  Return the number of messages held.
size_t broker_queue_size (broker_queue_t *self);
//  Return the bytes held: frames and their packing.
size_t broker_queue_bytes (broker_queue_t *self);
//  Return true when no more messages fit.
bool broker_queue_full (broker_queue_t *self);
//  Take ownership of *msg_p and null it. Returns ENP_EFULL when full (the
//  caller keeps the message; the broker never gets there, since it stops
//  reading while the queue is full).
enp_status_t broker_queue_push (broker_queue_t *self, zmsg_t **msg_p);
//  Put a message that could not be sent back at the head, taking
//  ownership of *msg_p and nulling it; allowed even when full, since the
//  message was already counted in. Returns ENP_OK or ENP_ENOMEM.
enp_status_t broker_queue_unpop (broker_queue_t *self, zmsg_t **msg_p);
//  Remove and return the oldest message, or NULL. Caller owns the result.
zmsg_t *broker_queue_pop (broker_queue_t *self);

#endif
