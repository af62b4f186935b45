//  loadgen_latency - a growing set of latency samples and its percentiles
#ifndef LOADGEN_LATENCY_H_INCLUDED
#define LOADGEN_LATENCY_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

typedef struct _loadgen_latency_t loadgen_latency_t;

//  Create an empty set. Exits through loadgen_die when memory runs out.
loadgen_latency_t *loadgen_latency_new (void);
//  Destroy the set; nulls the caller's pointer.
void loadgen_latency_destroy (loadgen_latency_t **self_p);
//  Return the number of samples.
size_t loadgen_latency_count (loadgen_latency_t *self);
//  Add one sample (any unit; the caller keeps to one).
void loadgen_latency_add (loadgen_latency_t *self, uint64_t sample);
//  Sort the samples; call before loadgen_latency_percentile and _max.
void loadgen_latency_sort (loadgen_latency_t *self);
//  Return the nearest-rank p-th percentile (0 < p <= 100), 0 when empty.
uint64_t loadgen_latency_percentile (loadgen_latency_t *self, double p);
//  Return the largest sample, 0 when empty.
uint64_t loadgen_latency_max (loadgen_latency_t *self);

#endif
