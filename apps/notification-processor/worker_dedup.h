//  worker_dedup - bounded memory of event ids a worker already notified
#ifndef WORKER_DEDUP_H_INCLUDED
#define WORKER_DEDUP_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

typedef struct _worker_dedup_t worker_dedup_t;

//  Create a cache remembering the last capacity ids (at least 1). Returns
//  NULL on failure.
worker_dedup_t *worker_dedup_new (size_t capacity);
//  Destroy the cache; nulls the caller's pointer.
void worker_dedup_destroy (worker_dedup_t **self_p);
//  Return the number of ids remembered.
size_t worker_dedup_size (worker_dedup_t *self);
//  Return true if event_id was seen before; otherwise remember it (forgetting
//  the oldest id when full) and return false.
bool worker_dedup_check (worker_dedup_t *self, const char *event_id);

#endif
