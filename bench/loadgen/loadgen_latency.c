/*  loadgen_latency - a growing set of latency samples and its percentiles

    Every sample is kept, so percentiles are exact (nearest rank), not
    estimated from buckets: a run holds at most a few million.
*/
#include <assert.h>
#include <stdlib.h>
#include "loadgen_latency.h"
#include "loadgen_util.h"

struct _loadgen_latency_t {
    uint64_t *values;           //  the samples
    size_t count;               //  samples held
    size_t capacity;            //  room in values
};

//  Order two samples for qsort.
static int
s_compare (const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return x < y? -1: x > y;
}

loadgen_latency_t *
loadgen_latency_new (void)
{
    return (loadgen_latency_t *) loadgen_calloc (1, sizeof (loadgen_latency_t));
}

void
loadgen_latency_destroy (loadgen_latency_t **self_p)
{
    assert (self_p);
    if (!*self_p)
        return;
    free ((*self_p)->values);
    free (*self_p);
    *self_p = NULL;
}

size_t
loadgen_latency_count (loadgen_latency_t *self)
{
    assert (self);
    return self->count;
}

void
loadgen_latency_add (loadgen_latency_t *self, uint64_t sample)
{
    assert (self);
    if (self->count == self->capacity) {
        self->capacity = self->capacity? self->capacity * 2: 65536;
        uint64_t *values = realloc (self->values, self->capacity * sizeof *values);
        if (!values)
            loadgen_die ("out of memory");
        self->values = values;
    }
    self->values [self->count++] = sample;
}

void
loadgen_latency_sort (loadgen_latency_t *self)
{
    assert (self);
    if (self->count)
        qsort (self->values, self->count, sizeof *self->values, s_compare);
}

uint64_t
loadgen_latency_percentile (loadgen_latency_t *self, double p)
{
    assert (self);
    if (self->count == 0)
        return 0;
    size_t rank = (size_t) ((p / 100.0) * (double) self->count + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > self->count)
        rank = self->count;
    return self->values [rank - 1];
}

uint64_t
loadgen_latency_max (loadgen_latency_t *self)
{
    assert (self);
    return self->count? self->values [self->count - 1]: 0;
}
