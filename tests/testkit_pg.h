//  testkit_pg - a throwaway PostgreSQL cluster for the tests
#ifndef TESTKIT_PG_H_INCLUDED
#define TESTKIT_PG_H_INCLUDED

#include <stddef.h>

typedef struct _testkit_pg_t testkit_pg_t;

//  Make a cluster in a new temporary folder (initdb) and start it, reached
//  through a Unix socket in that folder only (no TCP port). Run as the
//  user postgres when the tests run as root (PostgreSQL refuses root). A
//  watchdog process stops the cluster and removes the folder when this
//  process ends, however it ends. Returns NULL, saying why on stderr, when
//  PostgreSQL is not installed or does not start. Caller owns the result.
testkit_pg_t *testkit_pg_new (void);
//  Stop the cluster, remove its folder; nulls the caller's pointer.
void testkit_pg_destroy (testkit_pg_t **self_p);
//  Write the libpq URI of a database of the cluster into url. Returns url.
const char *testkit_pg_url (testkit_pg_t *self, const char *database,
                            char *url, size_t size);
//  Make a new database named prefix_<pid> (a Check case runs in a process
//  of its own, so each case gets a fresh one) and write its libpq URI into
//  url. Returns url, or NULL (saying why on stderr).
const char *testkit_pg_database (testkit_pg_t *self, const char *prefix,
                                 char *url, size_t size);
//  Run one SQL statement in a database ("postgres" always exists).
//  Returns 0, or -1 (saying why on stderr).
int testkit_pg_exec (testkit_pg_t *self, const char *database, const char *sql);
//  Run a query whose answer is one number. Returns it, or -1.
long testkit_pg_count (testkit_pg_t *self, const char *database,
                       const char *sql);
//  Stop the server ("fast": clients are disconnected). Returns 0 or -1.
int testkit_pg_stop (testkit_pg_t *self);
//  Start the server again after testkit_pg_stop. Returns 0 or -1.
int testkit_pg_start (testkit_pg_t *self);

#endif
