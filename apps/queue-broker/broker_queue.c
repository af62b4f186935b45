/*  broker_queue - bounded FIFO of messages waiting for a worker

    The broker's buffer is explicit rather than a silent high-water mark:
    it has a configured limit, warns once when it gets near, and counts
    refusals. When it is full the broker stops reading its frontend, so
    loggers see backpressure (their sends fail) instead of losing events.
*/
#include "broker_queue.h"
#include "enp_log.h"

struct _broker_queue_t {
    zlistx_t *messages;     //  oldest first; owns its zmsg_t items
    size_t limit;           //  most messages held
    size_t refused;         //  pushes refused when full
    bool warned;            //  the near-full warning was logged
};

//  zlistx destructor for zmsg_t items.
static void
s_msg_destroy (void **item)
{
    zmsg_destroy ((zmsg_t **) item);
}

//  Create a bounded queue.
broker_queue_t *
broker_queue_new (size_t limit)
{
    broker_queue_t *self = (broker_queue_t *) calloc (1, sizeof (broker_queue_t));
    if (!self)
        return NULL;
    self->limit = limit;
    self->messages = zlistx_new ();
    if (!self->messages) {
        broker_queue_destroy (&self);
        return NULL;
    }
    zlistx_set_destructor (self->messages, s_msg_destroy);
    return self;
}

//  Destroy the queue and every message in it.
void
broker_queue_destroy (broker_queue_t **self_p)
{
    assert (self_p);
    if (!*self_p)
        return;
    broker_queue_t *self = *self_p;
    zlistx_destroy (&self->messages);
    free (self);
    *self_p = NULL;
}

size_t
broker_queue_size (broker_queue_t *self)
{
    assert (self);
    return zlistx_size (self->messages);
}

bool
broker_queue_full (broker_queue_t *self)
{
    assert (self);
    return zlistx_size (self->messages) >= self->limit;
}

size_t
broker_queue_refused (broker_queue_t *self)
{
    assert (self);
    return self->refused;
}

//  Append a message, taking ownership.
enp_status_t
broker_queue_push (broker_queue_t *self, zmsg_t **msg_p)
{
    assert (self);
    assert (msg_p && *msg_p);
    size_t size = zlistx_size (self->messages);
    if (size >= self->limit) {
        self->refused++;
        return ENP_EFULL;
    }
    if (!zlistx_add_end (self->messages, *msg_p))
        return ENP_ENOMEM;
    *msg_p = NULL;
    if (!self->warned && (size + 1) * 10 >= self->limit * 9) {
        enp_log_warn ("queue is at 90%% of its limit of %zu messages;"
                      " loggers will soon be held back", self->limit);
        self->warned = true;
    }
    else
    if (self->warned && (size + 1) * 2 < self->limit)
        self->warned = false;   //  Warn again on the next rise
    return ENP_OK;
}

//  Put an unsent message back at the head.
enp_status_t
broker_queue_unpop (broker_queue_t *self, zmsg_t **msg_p)
{
    assert (self);
    assert (msg_p && *msg_p);
    if (!zlistx_add_start (self->messages, *msg_p))
        return ENP_ENOMEM;
    *msg_p = NULL;
    return ENP_OK;
}

//  Remove and return the oldest message.
zmsg_t *
broker_queue_pop (broker_queue_t *self)
{
    assert (self);
    zmsg_t *msg = (zmsg_t *) zlistx_first (self->messages);
    if (msg)
        zlistx_detach_cur (self->messages);
    return msg;
}
