//  worker_dedup - bounded memory of events a worker already notified
#ifndef WORKER_DEDUP_H_INCLUDED
#define WORKER_DEDUP_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _worker_dedup_t worker_dedup_t;

//  Create a cache remembering the last capacity ids (at least 1). Returns
//  NULL on failure.
worker_dedup_t *worker_dedup_new (size_t capacity);
//  Destroy the cache; nulls the caller's pointer.
void worker_dedup_destroy (worker_dedup_t **self_p);
//  Return the number of ids remembered.
size_t worker_dedup_size (worker_dedup_t *self);
//  Return true if this generation of event_id was seen before; otherwise
//  remember it (forgetting the oldest when full) and return false. A
//  redelivery keeps the generation, a deliberate re-queue bumps it.
bool worker_dedup_check (worker_dedup_t *self, const char *event_id,
                         uint32_t generation);

#endif
