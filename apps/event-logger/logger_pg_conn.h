//  logger_pg_conn - one PostgreSQL connection whose every wait has a deadline
#ifndef LOGGER_PG_CONN_H_INCLUDED
#define LOGGER_PG_CONN_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>
#include <libpq-fe.h>

typedef struct _logger_pg_conn_t logger_pg_conn_t;

//  Called with each row of a streamed query (a PGresult of one row,
//  borrowed). Return 0 to go on, 1 to ignore the rows that follow.
typedef int (logger_pg_row_fn) (const PGresult *row, void *arg);

//  Create a connection to the libpq URI url, not yet connected. No call
//  waits more than timeout_ms for the server. session_sql (may be NULL)
//  runs after every connect. Returns NULL on failure.
logger_pg_conn_t *logger_pg_conn_new (const char *url, int64_t timeout_ms,
                                      const char *session_sql);
//  Close the connection; nulls the caller's pointer.
void logger_pg_conn_destroy (logger_pg_conn_t **self_p);
//  Return true while connected (as far as we know without asking).
bool logger_pg_conn_connected (logger_pg_conn_t *self);
//  Return the last error, one line, or "". Valid until the next call.
const char *logger_pg_conn_error (logger_pg_conn_t *self);
//  Return the SQLSTATE of the last SQL error ("23505": unique violation),
//  or "". Valid until the next call.
const char *logger_pg_conn_sqlstate (logger_pg_conn_t *self);
//  Return true when the last failure lost the connection (or timed out):
//  the outcome of what was sent is unknown. False for an SQL error.
bool logger_pg_conn_lost (logger_pg_conn_t *self);

//  Have the statement sql prepared as name on every connection this object
//  makes (now too, when connected), so running it costs no parsing and no
//  planning. Returns 0, or -1 when out of memory.
int logger_pg_conn_prepare (logger_pg_conn_t *self, const char *name,
                            const char *sql);
//  Connect unless connected; a connection the server closed while idle is
//  noticed and made again. Returns 0, or -1 (see logger_pg_conn_error).
int logger_pg_conn_ensure (logger_pg_conn_t *self);
//  Run one statement with text parameters (count values, NULL for SQL
//  NULL). Returns the result when it succeeded (caller frees it with
//  PQclear), else NULL (see logger_pg_conn_error and _lost).
PGresult *logger_pg_conn_exec (logger_pg_conn_t *self, const char *sql,
                               int count, const char *const *values);
//  Run the statement prepared as name, as logger_pg_conn_exec runs one.
PGresult *logger_pg_conn_exec_prepared (logger_pg_conn_t *self,
                                        const char *name, int count,
                                        const char *const *values);
//  Run a script of statements without parameters (the simple protocol).
//  Returns 0, or -1 (see logger_pg_conn_error).
int logger_pg_conn_script (logger_pg_conn_t *self, const char *sql);
//  Run a query and hand each row to row_fn as it arrives, so a large
//  answer is never held whole. Returns 0, or -1 (see _error and _lost).
int logger_pg_conn_stream (logger_pg_conn_t *self, const char *sql, int count,
                           const char *const *values, logger_pg_row_fn *row_fn,
                           void *arg);

#endif
