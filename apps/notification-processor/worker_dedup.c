/*  worker_dedup - bounded memory of event ids a worker already notified

    Delivery is at least once, so a worker may get an event again (after a
    visibility timeout, or a lost report). It must not print twice, but it
    must still report, so this cache only answers "printed before?". It is
    bounded: a ring of ids in arrival order, plus czmq's zhashx for lookup;
    when the ring is full the oldest id is forgotten.
*/
#include <czmq.h>
#include "worker_dedup.h"
#include "enp_event.h"

struct _worker_dedup_t {
    char (*ring) [ENP_UUID_LEN + 1];    //  ids, oldest at next when full
    size_t capacity;                    //  ring slots
    size_t size;                        //  slots in use
    size_t next;                        //  slot written next
    zhashx_t *index;                    //  id -> present; keys borrowed from ring
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

//  Check and remember an id.
bool
worker_dedup_check (worker_dedup_t *self, const char *event_id)
{
    assert (self);
    if (zhashx_lookup (self->index, event_id))
        return true;
    char *slot = self->ring [self->next];
    if (self->size == self->capacity)
        zhashx_delete (self->index, slot);     //  Forget the oldest
    else
        self->size++;
    snprintf (slot, ENP_UUID_LEN + 1, "%s", event_id);
    zhashx_insert (self->index, slot, (void *) 1);
    self->next = (self->next + 1) % self->capacity;
    return false;
}
