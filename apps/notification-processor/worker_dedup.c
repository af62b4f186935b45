/*  worker_dedup - bounded memory of events a worker already notified

    Delivery is at least once, so a worker may get an event again (after a
    visibility timeout, or a lost report). It must not print twice, but it
    must still report, so this cache only answers "printed before?". An
    event re-queued on purpose (its status set to "pending" again) comes
    with a new generation and must print again, so the key is the id and
    the generation. It is bounded: a ring of keys in arrival order, plus
    czmq's zhashx for lookup; when the ring is full the oldest is forgotten.
*/
#include <czmq.h>
#include "worker_dedup.h"
#include "enp_event.h"

//  "<event id>/<generation>" and its NUL
#define S_KEY_SIZE (ENP_UUID_LEN + 1 + 10 + 1)

struct _worker_dedup_t {
    char (*ring) [S_KEY_SIZE];          //  keys, oldest at next when full
    size_t capacity;                    //  ring slots
    size_t size;                        //  slots in use
    size_t next;                        //  slot written next
    zhashx_t *index;                    //  key -> present; keys borrowed from ring
};

//  Create a bounded cache.
worker_dedup_t *
worker_dedup_new (size_t capacity)
{
    worker_dedup_t *self = (worker_dedup_t *) calloc (1, sizeof (worker_dedup_t));
    if (!self)
        return NULL;
    self->capacity = capacity? capacity: 1;
    self->ring = calloc (self->capacity, sizeof *self->ring);
    self->index = zhashx_new ();
    if (!self->ring || !self->index) {
        worker_dedup_destroy (&self);
        return NULL;
    }
    zhashx_set_key_duplicator (self->index, NULL);
    zhashx_set_key_destructor (self->index, NULL);
    return self;
}

//  Destroy the cache.
void
worker_dedup_destroy (worker_dedup_t **self_p)
{
    assert (self_p);
    if (!*self_p)
        return;
    worker_dedup_t *self = *self_p;
    zhashx_destroy (&self->index);
    free (self->ring);
    free (self);
    *self_p = NULL;
}

size_t
worker_dedup_size (worker_dedup_t *self)
{
    assert (self);
    return self->size;
}

//  Check and remember an event's generation.
bool
worker_dedup_check (worker_dedup_t *self, const char *event_id,
                    uint32_t generation)
{
    assert (self);
    char key [S_KEY_SIZE];
    snprintf (key, sizeof key, "%.*s/%u", ENP_UUID_LEN, event_id, generation);
    if (zhashx_lookup (self->index, key))
        return true;
    char *slot = self->ring [self->next];
    if (self->size == self->capacity)
        zhashx_delete (self->index, slot);     //  Forget the oldest
    else
        self->size++;
    memcpy (slot, key, sizeof key);
    zhashx_insert (self->index, slot, (void *) 1);
    self->next = (self->next + 1) % self->capacity;
    return false;
}
