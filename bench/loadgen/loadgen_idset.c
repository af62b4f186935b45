/*  loadgen_idset - find the index of an event id among the ones posted

    An open-addressing hash table of indexes into the caller's id array,
    sized to twice the ids, so reading back a million events stays linear.
*/
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "loadgen_idset.h"
#include "loadgen_util.h"

struct _loadgen_idset_t {
    char (*ids) [LOADGEN_ID_MAX];       //  borrowed
    long *slots;                //  indexes into ids, -1 when free
    size_t mask;                //  slots - 1 (a power of two less one)
};

//  FNV-1a, 64 bits.
static uint64_t
s_hash (const char *text)
{
    uint64_t hash = 1469598103934665603ULL;
    for (; *text; text++) {
        hash ^= (unsigned char) *text;
        hash *= 1099511628211ULL;
    }
    return hash;
}

loadgen_idset_t *
loadgen_idset_new (char (*ids) [LOADGEN_ID_MAX], long count)
{
    loadgen_idset_t *self = (loadgen_idset_t *) loadgen_calloc (1, sizeof *self);
    self->ids = ids;
    size_t capacity = 1;
    while (capacity < (size_t) count * 2 + 16)
        capacity <<= 1;
    self->slots = loadgen_malloc (capacity * sizeof *self->slots);
    for (size_t slot = 0; slot < capacity; slot++)
        self->slots [slot] = -1;
    self->mask = capacity - 1;
    for (long index = 0; index < count; index++) {
        if (!ids [index][0])
            continue;
        size_t slot = s_hash (ids [index]) & self->mask;
        while (self->slots [slot] >= 0)
            slot = (slot + 1) & self->mask;
        self->slots [slot] = index;
    }
    return self;
}

void
loadgen_idset_destroy (loadgen_idset_t **self_p)
{
    assert (self_p);
    if (!*self_p)
        return;
    free ((*self_p)->slots);
    free (*self_p);
    *self_p = NULL;
}

long
loadgen_idset_find (loadgen_idset_t *self, const char *id)
{
    assert (self);
    size_t slot = s_hash (id) & self->mask;
    while (self->slots [slot] >= 0) {
        if (strcmp (self->ids [self->slots [slot]], id) == 0)
            return self->slots [slot];
        slot = (slot + 1) & self->mask;
    }
    return -1;
}
