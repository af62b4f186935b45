//  logger_store_memory - the in-memory store engine: fast, gone at exit
#ifndef LOGGER_STORE_MEMORY_H_INCLUDED
#define LOGGER_STORE_MEMORY_H_INCLUDED

#include "logger_store.h"

typedef struct _logger_store_memory_t logger_store_memory_t;

//  Create an empty store with these limits (max_events, max_bytes,
//  visibility_ms, max_attempts; the database options are ignored).
//  Returns NULL on failure.
logger_store_memory_t *logger_store_memory_new (const logger_store_options_t *options);
//  Destroy the store and every event in it; nulls the caller's pointer.
void logger_store_memory_destroy (logger_store_memory_t **self_p);
//  Return the engine's operations; each takes a logger_store_memory_t as
//  its self. The table is static.
const logger_store_engine_t *logger_store_memory_engine (void);

#endif
