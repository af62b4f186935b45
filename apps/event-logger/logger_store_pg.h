//  logger_store_pg - the PostgreSQL store engine: durable, shared by loggers
#ifndef LOGGER_STORE_PG_H_INCLUDED
#define LOGGER_STORE_PG_H_INCLUDED

#include "logger_store.h"

//  One versioned schema file, embedded at build time from
//  apps/event-logger/schema/NNNN_name.sql (cmake/embed_schema.cmake).
typedef struct {
    int version;                //  NNNN
    const char *name;           //  the file's name
    const char *sql;            //  its statements
} logger_schema_file_t;

//  The schema files, in version order, ended by a { 0 } entry.
extern const logger_schema_file_t logger_schema_files [];
extern const size_t logger_schema_count;

typedef struct _logger_store_pg_t logger_store_pg_t;

//  Connect to the database at url (a libpq URI), bring its schema up to
//  date, and start options->connections writer threads. Every operation
//  gives up after options->timeout_ms with ENP_EIO. Returns NULL, and logs
//  why, when the database cannot be reached or its schema is newer than
//  this build knows.
logger_store_pg_t *logger_store_pg_new (const char *url,
                                        const logger_store_options_t *options);
//  Stop the threads, answering what waits with ENP_EIO, and disconnect;
//  nulls the caller's pointer.
void logger_store_pg_destroy (logger_store_pg_t **self_p);
//  Return the engine's operations; each takes a logger_store_pg_t as its
//  self. The table is static.
const logger_store_engine_t *logger_store_pg_engine (void);

#endif
