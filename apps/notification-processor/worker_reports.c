/*  worker_reports - bounded queue of event ids waiting to be reported

    A worker prints each event at once and reports it later, in batches,
    so that a slow logger never stops it from reading the broker (a PULL
    socket left unread for longer than the heartbeat timeout is the path
    to libzmq's _input_stopped abort). What waits in between is only the
    event id: 16 bytes here, the UUID in binary, in a ring that doubles as
    it fills, up to the limit, and is freed again once empty: 100,000
    waiting reports cost 1.6 MB.
*/
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "worker_reports.h"

#define S_ID_BYTES      16          //  a UUID in binary
#define S_FIRST_SLOTS   1024        //  ring size after the first push

typedef uint8_t s_id_t [S_ID_BYTES];

struct _worker_reports_t {
    s_id_t *ring;                   //  ids, the oldest at head
    size_t capacity;                //  slots allocated
    size_t head;                    //  slot of the oldest id
    size_t size;                    //  ids held
    size_t limit;                   //  most ids accepted by push
};

//  Return the value of a lowercase hex digit, or -1.
static int
s_hex (char c)
{
    return c >= '0' && c <= '9'? c - '0': c >= 'a' && c <= 'f'? c - 'a' + 10: -1;
}

//  Pack a lowercase canonical UUID into 16 bytes. Returns 0 or -1.
static int
s_pack (const char *text, uint8_t *out)
{
    size_t byte = 0;
    for (size_t index = 0; index < ENP_UUID_LEN; index++) {
        bool dash = index == 8 || index == 13 || index == 18 || index == 23;
        if (dash) {
            if (text [index] != '-')
                return -1;
            continue;
        }
        //  The second digit is read only after the first: a short string
        //  ends in a NUL, which is no digit
        int high = s_hex (text [index]);
        int low = high < 0? -1: s_hex (text [index + 1]);
        if (low < 0)
            return -1;
        out [byte++] = (uint8_t) (high << 4 | low);
        index++;
    }
    return text [ENP_UUID_LEN] == '\0'? 0: -1;
}

//  Write 16 bytes back as the canonical UUID text, NUL-terminated.
static void
s_unpack (const uint8_t *id, char *text)
{
    static const char digits [] = "0123456789abcdef";
    for (size_t byte = 0; byte < S_ID_BYTES; byte++) {
        if (byte == 4 || byte == 6 || byte == 8 || byte == 10)
            *text++ = '-';
        *text++ = digits [id [byte] >> 4];
        *text++ = digits [id [byte] & 0x0F];
    }
    *text = '\0';
}

//  Make room for at least want ids, doubling (the ring is unrolled into
//  the new one, oldest first). Returns 0 or -1.
static int
s_reserve (worker_reports_t *self, size_t want)
{
    if (want <= self->capacity)
        return 0;
    size_t capacity = self->capacity? self->capacity: S_FIRST_SLOTS;
    while (capacity < want)
        capacity *= 2;
    s_id_t *ring = (s_id_t *) malloc (capacity * sizeof (s_id_t));
    if (!ring)
        return -1;
    for (size_t index = 0; index < self->size; index++)
        memcpy (ring [index], self->ring [(self->head + index) % self->capacity],
                S_ID_BYTES);
    free (self->ring);
    self->ring = ring;
    self->capacity = capacity;
    self->head = 0;
    return 0;
}

//  Create a bounded queue.
worker_reports_t *
worker_reports_new (size_t limit)
{
    if (limit < 1 || limit > WORKER_REPORTS_LIMIT_MAX)
        return NULL;
    worker_reports_t *self = (worker_reports_t *) calloc (1, sizeof (worker_reports_t));
    if (self)
        self->limit = limit;
    return self;
}

//  Destroy the queue.
void
worker_reports_destroy (worker_reports_t **self_p)
{
    assert (self_p);
    if (!*self_p)
        return;
    worker_reports_t *self = *self_p;
    free (self->ring);
    free (self);
    *self_p = NULL;
}

size_t
worker_reports_size (worker_reports_t *self)
{
    assert (self);
    return self->size;
}

size_t
worker_reports_limit (worker_reports_t *self)
{
    assert (self);
    return self->limit;
}

//  Append an id at the tail.
int
worker_reports_push (worker_reports_t *self, const char *event_id)
{
    assert (self);
    s_id_t id;
    if (self->size >= self->limit || !event_id || s_pack (event_id, id)
    ||  s_reserve (self, self->size + 1))
        return -1;
    memcpy (self->ring [(self->head + self->size) % self->capacity], id, S_ID_BYTES);
    self->size++;
    return 0;
}

//  Put ids back at the head.
int
worker_reports_unshift (worker_reports_t *self, char (*ids) [ENP_UUID_LEN + 1],
                        size_t count)
{
    assert (self);
    s_id_t id;
    for (size_t index = 0; index < count; index++)
        if (s_pack (ids [index], id))
            return -1;
    if (s_reserve (self, self->size + count))
        return -1;
    //  The last one first, so they keep their order ahead of the rest
    for (size_t index = count; index > 0; index--) {
        self->head = (self->head + self->capacity - 1) % self->capacity;
        s_pack (ids [index - 1], self->ring [self->head]);
        self->size++;
    }
    return 0;
}

//  Remove up to max ids from the head.
size_t
worker_reports_take (worker_reports_t *self, char (*ids) [ENP_UUID_LEN + 1],
                     size_t max)
{
    assert (self);
    size_t count = 0;
    while (count < max && self->size > 0) {
        s_unpack (self->ring [self->head], ids [count++]);
        self->head = (self->head + 1) % self->capacity;
        self->size--;
    }
    //  A spike is over: give its memory back
    if (self->size == 0 && self->capacity > S_FIRST_SLOTS) {
        free (self->ring);
        self->ring = NULL;
        self->capacity = 0;
        self->head = 0;
    }
    return count;
}
