/*  broker_queue - bounded FIFO of messages waiting for a worker

    The broker's buffer is explicit rather than a silent high-water mark:
    it has configured limits, in messages and in bytes, and warns once when
    it gets near either. When it is full the broker stops reading its
    frontend, so loggers see backpressure (their sends fail) instead of
    losing events. The byte bound keeps memory bounded whatever the
    messages' sizes: 100,000 of the largest valid events would be 440 MB.

    Each message is held packed in one allocation - frame count, then each
    frame's size and bytes - and rebuilt into frames, byte for byte, when
    it leaves. Held as zmsg_t, a small message cost 2.6-8 KB of memory
    (a zframe_t per frame, and received frames pinning libzmq's 8 KiB
    receive buffers); packed it costs its own size plus a few words.
*/
#include "broker_queue.h"
#include "enp_log.h"

struct _broker_queue_t {
    zlistx_t *messages;     //  oldest first; owns its packed items
    size_t limit;           //  most messages held
    size_t max_bytes;       //  most bytes held, give or take one message
    size_t bytes;           //  bytes held: packed sizes
    bool warned;            //  the near-full warning was logged
};

//  zlistx destructor for packed items.
static void
s_packed_destroy (void **item)
{
    free (*item);
    *item = NULL;
}

//  Pack a message into one allocation: u32 count, then u32 size + bytes
//  per frame (host byte order; it never leaves this process). Its size
//  goes to *size_p.
static uint8_t *
s_pack (zmsg_t *msg, size_t *size_p)
{
    size_t total = sizeof (uint32_t);
    for (zframe_t *frame = zmsg_first (msg); frame; frame = zmsg_next (msg))
        total += sizeof (uint32_t) + zframe_size (frame);
    uint8_t *packed = (uint8_t *) malloc (total);
    if (!packed)
        return NULL;
    *size_p = total;
    uint32_t count = (uint32_t) zmsg_size (msg);
    memcpy (packed, &count, sizeof count);
    size_t offset = sizeof count;
    for (zframe_t *frame = zmsg_first (msg); frame; frame = zmsg_next (msg)) {
        uint32_t size = (uint32_t) zframe_size (frame);
        memcpy (packed + offset, &size, sizeof size);
        memcpy (packed + offset + sizeof size, zframe_data (frame), size);
        offset += sizeof size + size;
    }
    return packed;
}

//  Return the size of a packed message.
static size_t
s_packed_size (const uint8_t *packed)
{
    uint32_t count;
    memcpy (&count, packed, sizeof count);
    size_t offset = sizeof count;
    for (uint32_t index = 0; index < count; index++) {
        uint32_t size;
        memcpy (&size, packed + offset, sizeof size);
        offset += sizeof size + size;
    }
    return offset;
}

//  Rebuild the frames of a packed message. Caller owns the result.
static zmsg_t *
s_unpack (const uint8_t *packed)
{
    zmsg_t *msg = zmsg_new ();
    uint32_t count;
    memcpy (&count, packed, sizeof count);
    size_t offset = sizeof count;
    for (uint32_t index = 0; msg && index < count; index++) {
        uint32_t size;
        memcpy (&size, packed + offset, sizeof size);
        if (zmsg_addmem (msg, packed + offset + sizeof size, size))
            zmsg_destroy (&msg);
        offset += sizeof size + size;
    }
    return msg;
}

//  Create a bounded queue.
broker_queue_t *
broker_queue_new (size_t limit, size_t max_bytes)
{
    broker_queue_t *self = (broker_queue_t *) calloc (1, sizeof (broker_queue_t));
    if (!self)
        return NULL;
    self->limit = limit;
    self->max_bytes = max_bytes;
    self->messages = zlistx_new ();
    if (!self->messages) {
        broker_queue_destroy (&self);
        return NULL;
    }
    zlistx_set_destructor (self->messages, s_packed_destroy);
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

size_t
broker_queue_bytes (broker_queue_t *self)
{
    assert (self);
    return self->bytes;
}

bool
broker_queue_full (broker_queue_t *self)
{
    assert (self);
    return zlistx_size (self->messages) >= self->limit
        || self->bytes >= self->max_bytes;
}

//  Warn once when the queue passes 90% of either limit; again only after
//  it fell below half of both.
static void
s_check_level (broker_queue_t *self)
{
    size_t size = zlistx_size (self->messages);
    if (!self->warned && (size * 10 >= self->limit * 9
                      ||  self->bytes * 10 >= self->max_bytes * 9)) {
        enp_log_warn ("queue is at 90%% of its limit (%zu messages, %zu bytes"
                      " held; limits %zu and %zu); loggers will soon be held"
                      " back", size, self->bytes, self->limit, self->max_bytes);
        self->warned = true;
    }
    else
    if (self->warned && size * 2 < self->limit && self->bytes * 2 < self->max_bytes)
        self->warned = false;
}

//  Append a message, taking ownership.
enp_status_t
broker_queue_push (broker_queue_t *self, zmsg_t **msg_p)
{
    assert (self);
    assert (msg_p && *msg_p);
    if (broker_queue_full (self))
        return ENP_EFULL;
    size_t size;
    uint8_t *packed = s_pack (*msg_p, &size);
    if (!packed || !zlistx_add_end (self->messages, packed)) {
        free (packed);
        return ENP_ENOMEM;
    }
    self->bytes += size;
    zmsg_destroy (msg_p);
    s_check_level (self);
    return ENP_OK;
}

//  Put an unsent message back at the head.
enp_status_t
broker_queue_unpop (broker_queue_t *self, zmsg_t **msg_p)
{
    assert (self);
    assert (msg_p && *msg_p);
    size_t size;
    uint8_t *packed = s_pack (*msg_p, &size);
    if (!packed || !zlistx_add_start (self->messages, packed)) {
        free (packed);
        return ENP_ENOMEM;
    }
    self->bytes += size;
    zmsg_destroy (msg_p);
    return ENP_OK;
}

//  Remove and return the oldest message.
zmsg_t *
broker_queue_pop (broker_queue_t *self)
{
    assert (self);
    uint8_t *packed = (uint8_t *) zlistx_first (self->messages);
    if (!packed)
        return NULL;
    zmsg_t *msg = s_unpack (packed);
    if (msg) {
        zlistx_detach_cur (self->messages);
        self->bytes -= s_packed_size (packed);
        free (packed);
    }
    return msg;                 //  On NULL (no memory) the message stays
}
