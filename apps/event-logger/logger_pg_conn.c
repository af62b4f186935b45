/*  logger_pg_conn - one PostgreSQL connection whose every wait has a deadline

    libpq's blocking calls wait as long as the server takes; a database
    that is frozen, or a network that drops packets, would hold a logger
    thread forever. So this class drives libpq's asynchronous API itself
    (PQconnectStartParams / PQconnectPoll, PQsendQueryParams and
    PQconsumeInput in non-blocking mode), polling the socket with a
    deadline. When the deadline passes, the connection is dropped: the
    server may still finish what it was doing (its statement_timeout,
    set to the same value, makes it give up too), so the caller must
    treat the outcome as unknown. The next call connects again.

    One object is used by one thread at a time; nothing here locks.
*/
#include <assert.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <czmq.h>
#include "logger_pg_conn.h"
#include "enp_log.h"
#include "enp_time.h"

struct _logger_pg_conn_t {
    char *url;                  //  libpq URI, with any password: never logged
    char *session_sql;          //  runs after each connect, or NULL
    zlistx_t *prepared;         //  name, sql, name, sql...: prepared on
                                //  each connect
    int64_t timeout_ms;         //  longest wait for the server
    PGconn *conn;               //  NULL while not connected
    char error [256];           //  last error, one line
    char sqlstate [8];          //  its SQLSTATE, or ""
    bool lost;                  //  the last failure lost the connection
};

//  Keep the first line of a libpq message as the last error.
static void
s_set_error (logger_pg_conn_t *self, const char *message)
{
    const char *text = message && *message? message: "unknown error";
    size_t length = strcspn (text, "\n");
    if (length >= sizeof self->error)
        length = sizeof self->error - 1;
    memcpy (self->error, text, length);
    self->error [length] = '\0';
}

//  Close the connection after a failure that leaves it unusable.
static void
s_drop (logger_pg_conn_t *self, const char *why)
{
    if (why)
        s_set_error (self, why);
    else
    if (self->conn)
        s_set_error (self, PQerrorMessage (self->conn));
    if (self->conn)
        PQfinish (self->conn);
    self->conn = NULL;
    self->lost = true;
}

//  Wait until the socket is ready for events or the deadline passes.
//  Returns 0 when ready, -1 on timeout or error.
static int
s_wait (int fd, short events, int64_t deadline)
{
    while (true) {
        int64_t left = deadline - enp_time_mono_ms ();
        if (left <= 0 || fd < 0)
            return -1;
        struct pollfd item = { .fd = fd, .events = events };
        int rc = poll (&item, 1, (int) (left > 60000? 60000: left));
        if (rc > 0)
            return 0;
        if (rc < 0 && errno != EINTR)
            return -1;
    }
}

//  Notices ("relation already exists, skipping") are for debugging only:
//  libpq would print them on stderr.
static void
s_notice (void *arg, const char *message)
{
    (void) arg;
    enp_log_debug ("database: %.*s", (int) strcspn (message, "\n"), message);
}

static PGresult *s_collect (logger_pg_conn_t *self, int64_t deadline,
                            logger_pg_row_fn *row_fn, void *arg);
static int s_flush (logger_pg_conn_t *self, int64_t deadline);

//  Prepare one statement on the open connection. Returns 0 or -1.
static int
s_prepare_one (logger_pg_conn_t *self, const char *name, const char *sql)
{
    int64_t deadline = enp_time_mono_ms () + self->timeout_ms;
    if (!PQsendPrepare (self->conn, name, sql, 0, NULL)
    ||  s_flush (self, deadline))
        return -1;
    PGresult *result = s_collect (self, deadline, NULL, NULL);
    PQclear (result);
    return result? 0: -1;
}

//  Open the connection, within the deadline, and run the session SQL.
static int
s_connect (logger_pg_conn_t *self)
{
    int64_t deadline = enp_time_mono_ms () + self->timeout_ms;
    char seconds [24];
    snprintf (seconds, sizeof seconds, "%lld",
              (long long) (self->timeout_ms + 999) / 1000);
    //  Keywords before dbname are defaults: the URI's own values win
    const char *keywords [] = { "application_name", "connect_timeout",
                                "dbname", NULL };
    const char *values [] = { "event-logger", seconds, self->url, NULL };
    self->conn = PQconnectStartParams (keywords, values, 1);
    if (!self->conn) {
        s_drop (self, "out of memory");
        return -1;
    }
    PostgresPollingStatusType state = PQstatus (self->conn) == CONNECTION_BAD
                                    ? PGRES_POLLING_FAILED: PGRES_POLLING_WRITING;
    while (state != PGRES_POLLING_OK) {
        if (state == PGRES_POLLING_FAILED) {
            s_drop (self, NULL);
            return -1;
        }
        short events = state == PGRES_POLLING_READING? POLLIN: POLLOUT;
        if (s_wait (PQsocket (self->conn), events, deadline)) {
            s_drop (self, "timed out connecting to the database");
            return -1;
        }
        state = PQconnectPoll (self->conn);
    }
    PQsetNoticeProcessor (self->conn, s_notice, NULL);
    if (PQsetnonblocking (self->conn, 1) != 0) {
        s_drop (self, NULL);
        return -1;
    }
    if (self->session_sql && logger_pg_conn_script (self, self->session_sql)) {
        s_drop (self, NULL);
        return -1;
    }
    for (const char *name = (const char *) zlistx_first (self->prepared); name;
         name = (const char *) zlistx_next (self->prepared)) {
        const char *sql = (const char *) zlistx_next (self->prepared);
        if (s_prepare_one (self, name, sql)) {
            s_drop (self, NULL);
            return -1;
        }
    }
    return 0;
}

//  Send what libpq has buffered, within the deadline. Returns 0 or -1.
static int
s_flush (logger_pg_conn_t *self, int64_t deadline)
{
    while (true) {
        int rc = PQflush (self->conn);
        if (rc == 0)
            return 0;
        if (rc < 0 || s_wait (PQsocket (self->conn), POLLOUT, deadline))
            return -1;
    }
}

//  Read every result of what was sent. Single rows go to row_fn; the
//  final result is returned (caller frees), or NULL on failure.
static PGresult *
s_collect (logger_pg_conn_t *self, int64_t deadline, logger_pg_row_fn *row_fn,
           void *arg)
{
    PGresult *kept = NULL;
    bool failed = false;
    int ignore = 0;
    while (true) {
        while (PQisBusy (self->conn)) {
            if (s_wait (PQsocket (self->conn), POLLIN, deadline)) {
                PQclear (kept);
                s_drop (self, "timed out waiting for the database");
                return NULL;
            }
            if (!PQconsumeInput (self->conn)) {
                PQclear (kept);
                s_drop (self, NULL);
                return NULL;
            }
        }
        PGresult *result = PQgetResult (self->conn);
        if (!result)
            break;
        ExecStatusType status = PQresultStatus (result);
        if (status == PGRES_SINGLE_TUPLE) {
            //  Rows after a stop are read and dropped, one at a time
            if (!ignore && row_fn)
                ignore = row_fn (result, arg);
            PQclear (result);
        }
        else
        if (status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK) {
            PQclear (kept);
            kept = result;
        }
        else {
            if (!failed) {
                s_set_error (self, PQresultErrorMessage (result));
                const char *state = PQresultErrorField (result, PG_DIAG_SQLSTATE);
                snprintf (self->sqlstate, sizeof self->sqlstate, "%s",
                          state? state: "");
            }
            failed = true;
            PQclear (result);
        }
    }
    if (PQstatus (self->conn) == CONNECTION_BAD) {
        PQclear (kept);
        s_drop (self, failed? self->error: NULL);
        return NULL;
    }
    if (failed) {
        PQclear (kept);
        return NULL;
    }
    return kept;
}

//  Send a statement (or the one prepared as name, when not NULL) with its
//  parameters and read its results. Returns the last result, or NULL.
static PGresult *
s_run (logger_pg_conn_t *self, const char *name, const char *sql, int count,
       const char *const *values, logger_pg_row_fn *row_fn, void *arg)
{
    self->error [0] = '\0';
    self->sqlstate [0] = '\0';
    self->lost = false;
    if (logger_pg_conn_ensure (self))
        return NULL;
    int64_t deadline = enp_time_mono_ms () + self->timeout_ms;
    int sent = name
        ? PQsendQueryPrepared (self->conn, name, count, values, NULL, NULL, 0)
        : PQsendQueryParams (self->conn, sql, count, NULL, values, NULL, NULL, 0);
    if (!sent || (row_fn && !PQsetSingleRowMode (self->conn))
    ||  s_flush (self, deadline)) {
        s_drop (self, NULL);
        return NULL;
    }
    return s_collect (self, deadline, row_fn, arg);
}

//  Create an unconnected connection.
logger_pg_conn_t *
logger_pg_conn_new (const char *url, int64_t timeout_ms, const char *session_sql)
{
    assert (url);
    logger_pg_conn_t *self = (logger_pg_conn_t *) calloc (1, sizeof (logger_pg_conn_t));
    if (!self)
        return NULL;
    self->url = strdup (url);
    self->session_sql = session_sql? strdup (session_sql): NULL;
    self->timeout_ms = timeout_ms > 0? timeout_ms: 1;
    self->prepared = zlistx_new ();
    if (self->prepared) {
        zlistx_set_duplicator (self->prepared, (zlistx_duplicator_fn *) strdup);
        zlistx_set_destructor (self->prepared, (zlistx_destructor_fn *) zstr_free);
    }
    if (!self->url || (session_sql && !self->session_sql) || !self->prepared)
        logger_pg_conn_destroy (&self);
    return self;
}

//  Close the connection.
void
logger_pg_conn_destroy (logger_pg_conn_t **self_p)
{
    assert (self_p);
    if (!*self_p)
        return;
    logger_pg_conn_t *self = *self_p;
    if (self->conn)
        PQfinish (self->conn);
    zlistx_destroy (&self->prepared);
    free (self->session_sql);
    free (self->url);
    free (self);
    *self_p = NULL;
}

bool
logger_pg_conn_connected (logger_pg_conn_t *self)
{
    assert (self);
    return self->conn && PQstatus (self->conn) == CONNECTION_OK;
}

const char *
logger_pg_conn_error (logger_pg_conn_t *self)
{
    assert (self);
    return self->error;
}

const char *
logger_pg_conn_sqlstate (logger_pg_conn_t *self)
{
    assert (self);
    return self->sqlstate;
}

bool
logger_pg_conn_lost (logger_pg_conn_t *self)
{
    assert (self);
    return self->lost;
}

//  Connect unless connected.
int
logger_pg_conn_ensure (logger_pg_conn_t *self)
{
    assert (self);
    if (self->conn && PQstatus (self->conn) == CONNECTION_OK) {
        //  An idle connection has nothing to read unless the server said
        //  something: most often that it is closing (a restart)
        struct pollfd item = { .fd = PQsocket (self->conn), .events = POLLIN };
        if (poll (&item, 1, 0) > 0
        && (!PQconsumeInput (self->conn)
        ||  PQstatus (self->conn) != CONNECTION_OK))
            s_drop (self, NULL);
    }
    else
    if (self->conn)
        s_drop (self, NULL);
    if (!self->conn)
        return s_connect (self);
    return 0;
}

PGresult *
logger_pg_conn_exec (logger_pg_conn_t *self, const char *sql, int count,
                     const char *const *values)
{
    assert (self);
    static const char *const none [1] = { NULL };
    return s_run (self, NULL, sql, count, values? values: none, NULL, NULL);
}

PGresult *
logger_pg_conn_exec_prepared (logger_pg_conn_t *self, const char *name,
                              int count, const char *const *values)
{
    assert (self);
    static const char *const none [1] = { NULL };
    return s_run (self, name, NULL, count, values? values: none, NULL, NULL);
}

int
logger_pg_conn_prepare (logger_pg_conn_t *self, const char *name,
                        const char *sql)
{
    assert (self);
    if (!zlistx_add_end (self->prepared, (void *) name)
    ||  !zlistx_add_end (self->prepared, (void *) sql))
        return -1;
    if (self->conn && PQstatus (self->conn) == CONNECTION_OK
    &&  s_prepare_one (self, name, sql))
        s_drop (self, NULL);
    return 0;
}

int
logger_pg_conn_script (logger_pg_conn_t *self, const char *sql)
{
    assert (self);
    //  Called by s_connect too: only connect when not connecting already
    if (!self->conn && logger_pg_conn_ensure (self))
        return -1;
    self->error [0] = '\0';
    self->sqlstate [0] = '\0';
    self->lost = false;
    int64_t deadline = enp_time_mono_ms () + self->timeout_ms;
    if (!PQsendQuery (self->conn, sql) || s_flush (self, deadline)) {
        s_drop (self, NULL);
        return -1;
    }
    PGresult *result = s_collect (self, deadline, NULL, NULL);
    PQclear (result);
    return result? 0: -1;
}

int
logger_pg_conn_stream (logger_pg_conn_t *self, const char *sql, int count,
                       const char *const *values, logger_pg_row_fn *row_fn,
                       void *arg)
{
    assert (self && row_fn);
    static const char *const none [1] = { NULL };
    PGresult *result = s_run (self, NULL, sql, count, values? values: none,
                              row_fn, arg);
    PQclear (result);
    return result? 0: -1;
}
