/*  logger_store_pg - the PostgreSQL store engine: durable, shared by loggers

    Events live in one table (apps/event-logger/schema/), so a logger that
    restarts loses nothing and several loggers can share the work. A 201
    is answered only once the event's row is committed.

    Group commit. Handler threads never talk to the database: each puts a
    request on a queue and waits on its own condition variable. A few
    writer threads, one per connection, take everything that queued up
    while their last statement ran and send it as one statement per kind:
    one multi-row INSERT for every new event, one UPDATE for every status
    report, one SELECT for every read; listings go one by one. So a commit
    (and its WAL flush) serves many requests, and no lock is held across a
    round trip: the queue's mutex only guards pointer moves.

    Deadlines. A request waits at most timeout_ms; every wait on the
    server has the same deadline (logger_pg_conn). A database that is down
    or slow gives ENP_EIO (503 with Retry-After), never a hang, and while
    no writer is connected new requests fail at once. Writers reconnect by
    themselves with a growing backoff.

    Delivery. A due_at in the row (the database's clock) says when an
    event may be sent next, and a logger that takes an event moves it
    forward by the visibility timeout: a lease, so with several loggers
    each event is sent by exactly one, and a logger that dies leaves its
    events due again when their leases run out. A new event is born leased
    to the logger that stored it: the writer hands it to this process's
    dispatcher in memory (the fresh list), so the common path costs no
    claim at all. Everything else - redeliveries, a dead logger's events,
    events queued again - the dispatcher claims with UPDATE ... WHERE
    event_id = ANY (ARRAY (SELECT ... FOR UPDATE SKIP LOCKED LIMIT n)), on
    its own connection, every S_POLL_MS or at once when this process made
    some due. mark_sent makes events queued (attempts + 1) only while they
    still carry their lease; release gives it up. The dispatcher's
    connection runs with synchronous_commit off: a lease or a send record
    lost in a crash only means a redelivery, which at-least-once allows.

    Counts for /metrics come from the database (shared by every logger),
    cached for stats_ttl_ms; the counters are this process's.
*/
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <czmq.h>
#include "logger_store_pg.h"
#include "logger_pg_conn.h"
#include "enp_log.h"
#include "enp_time.h"

#define S_BATCH_MAX        1000     //  requests a writer takes at a time
#define S_POLL_MS           250     //  how often to look for events due
                                    //  that another logger left
#define S_RETRY_MIN_MS      100     //  reconnect backoff, doubling
#define S_RETRY_MAX_MS     2000
#define S_FRESH_MAX       65536     //  new events waiting for this process's
                                    //  dispatcher; more wait out their lease
#define S_MARK_DELAY_MS     100     //  sends recorded at most this late...
#define S_MARK_MAX          256     //  ...or once this many wait (rows a
                                    //  report may have to wait for)
#define S_ADVISORY_KEY "7234951018623510885"   //  'enp_sche', the schema lock

//  An events row as every query returns it: 8 columns of alias e
#define S_COLUMNS \
    "e.event_id::text, e.user_id, e.description, e.status, e.attempts," \
    " e.generation, (extract (epoch FROM e.created_at) * 1000)::int8," \
    " (extract (epoch FROM e.updated_at) * 1000)::int8"
#define S_COLUMN_COUNT 8

//  A time in ms since the epoch, as a parameter
#define S_MS(param) "(timestamptz 'epoch' + " param "::int8 * interval '1 millisecond')"

//  Lock order. Statements that write several rows lock them first, in
//  event id order, in a CTE (LockRows sits above the Sort, so the order
//  holds whatever join the planner picks); two such statements, from
//  this logger or another, then never wait for each other in a circle.
//  The order of the id array alone is not enough: the generic plan that
//  PostgreSQL switches to after a few runs of a prepared statement joins
//  by hash and visits rows in heap order, which is the order concurrent
//  writers happened to insert them. from names the rows (alias e, and the
//  arrays as i), match says which to write: an event no longer under its
//  lease, or a processed event reported again, is neither locked nor
//  written. columns are what the UPDATE reads from the CTE (alias l).
#define S_IN_ID_ORDER(columns, from, match) \
    "WITH l AS (SELECT e.event_id" columns " FROM events e, " from \
    " WHERE " match " ORDER BY e.event_id FOR NO KEY UPDATE OF e) "

//  Statements the dispatcher prepares. Each takes the events as an array
//  of ids ($1) and their leases ($2, µs since the epoch).
#define S_LEASES "unnest ($1::uuid[], $2::int8[]) AS i (event_id, lease)"
#define S_LEASE_HELD \
    "e.event_id = i.event_id" \
    " AND e.due_at = timestamptz 'epoch' + i.lease * interval '1 microsecond'"
//  mark: sent; queued, attempts + 1, due again after the visibility timeout
#define S_MARK_SQL \
    S_IN_ID_ORDER ("", S_LEASES, S_LEASE_HELD) \
    "UPDATE events e SET attempts = e.attempts + 1, status = 'queued'," \
    " updated_at = timestamptz 'epoch' + $3::int8 * interval '1 millisecond'," \
    " due_at = now () + $4::int8 * interval '1 millisecond'" \
    " FROM l WHERE e.event_id = l.event_id"
//  release: not sent; due again at once, as it was
#define S_RELEASE_SQL \
    S_IN_ID_ORDER ("", S_LEASES, S_LEASE_HELD) \
    "UPDATE events e SET due_at = now () FROM l WHERE e.event_id = l.event_id"

typedef enum { S_INSERT, S_INSERT_MANY, S_GET, S_SET_STATUS, S_LIST, S_STATS }
    s_kind_t;
typedef enum { S_QUEUED, S_TAKEN, S_DONE, S_ABANDONED } s_state_t;

//  One handler's request. It owns everything it refers to, so a handler
//  that stops waiting (timeout) can leave it to the writer to free.
typedef struct _s_request_t s_request_t;
struct _s_request_t {
    s_request_t *next;          //  queue link
    s_kind_t kind;
    s_state_t state;            //  guarded by the store's mutex
    pthread_cond_t done;        //  signalled when state becomes S_DONE
    enp_status_t result;
    enp_event_t *event;         //  insert: the new event, owned
    char *key;                  //  insert: Idempotency-Key, owned, or NULL
    char lease [24];            //  insert: its due_at, µs since the epoch
    enp_event_t **events;       //  insert_many: the new events, owned
    size_t event_count;         //  insert_many: how many
    char event_id [ENP_UUID_LEN + 1];   //  get, set_status
    char status [ENP_STATUS_MAX + 1];   //  set_status
    enp_event_t *reply;         //  the event to answer with, owned
    logger_store_query_t query; //  list; its strings point below
    char query_status [ENP_STATUS_MAX + 1];
    char query_user [ENP_USER_ID_MAX + 1];
    char query_after [ENP_UUID_LEN + 1];
    enp_event_t **items;        //  list: query.limit slots, owned
    size_t count;               //  list: items filled
    size_t bytes;               //  list: their JSON size
    bool more;                  //  list: more match after the page
    logger_store_stats_t stats; //  stats: the counts
};

//  A new event this process stored, leased to its dispatcher.
typedef struct _s_fresh_t s_fresh_t;
struct _s_fresh_t {
    s_fresh_t *next;
    enp_event_t *event;         //  owned
    char lease [24];            //  its due_at, µs since the epoch
    bool cancelled;             //  its status changed before it was sent
};

typedef struct {
    logger_store_pg_t *store;   //  the owner
    logger_pg_conn_t *conn;     //  this writer's connection
    pthread_t thread;
    bool started;               //  the thread runs
    bool up;                    //  connected; guarded by the store's mutex
} s_writer_t;

//  A send not yet recorded: the event and the lease it went out under.
typedef struct {
    char event_id [ENP_UUID_LEN + 1];
    char lease [24];
} s_mark_t;

//  A growing SQL text.
typedef struct {
    char *text;
    size_t size, capacity;
    bool failed;
} s_sql_t;

struct _logger_store_pg_t {
    logger_store_options_t options;
    pthread_mutex_t mutex;      //  guards the queue and the fields below it
    pthread_cond_t work;        //  requests arrived, or stopping
    s_request_t *head, *tail;   //  the queue, oldest first
    bool stopping;
    int writers_up;             //  writers connected now
    logger_store_stats_t cache; //  the last counts read
    int64_t cache_at;           //  when (monotonic ms), 0: never
    s_fresh_t *fresh_head, *fresh_tail;     //  new events, oldest first
    zhashx_t *fresh_ids;        //  event id -> its s_fresh_t, borrowed
    bool fresh_dropped;         //  the fresh list overflowed (logged once)
    s_writer_t *writers;        //  options.connections of them
    atomic_int up;              //  writers_up, readable without the lock
    logger_pg_conn_t *dispatch; //  the dispatcher's connection
    zhashx_t *leases;           //  event id -> due_at (µs since the
                                //  epoch) its claim set, until sent or
                                //  released
    bool claim_full;            //  the last claim filled its batch
    int64_t poll_at;            //  next claim in the database (monotonic)
    int64_t sent_due_at;        //  earliest deadline of what this process
                                //  sent since (monotonic), or INT64_MAX
    s_mark_t *marks_held;       //  sends not yet recorded
    size_t marks;               //  how many
    size_t marks_capacity;
    int64_t marks_since;        //  when the first came (monotonic)
    int64_t dispatch_retry_at;  //  no reconnect before (monotonic ms)
    int64_t dispatch_backoff;
    atomic_bool dispatch_down;  //  the dispatcher cannot reach the database
    atomic_bool due_now;        //  this process made an event due: no
                                //  need to wait for the next poll
    atomic_uint_fast64_t created_total, processed_total, failed_total;
    atomic_uint_fast64_t redelivered_total;
};

static enp_status_t s_marks_flush (logger_store_pg_t *self);

//  Format a number into buf (at least 24 bytes). Returns buf.
static char *
s_int (char *buf, int64_t value)
{
    snprintf (buf, 24, "%" PRId64, value);
    return buf;
}

//  Append text to the statement.
static void
s_sql_add (s_sql_t *sql, const char *text)
{
    size_t length = strlen (text);
    if (sql->size + length + 1 > sql->capacity) {
        size_t capacity = (sql->capacity + length + 1) * 2;
        char *grown = (char *) realloc (sql->text, capacity);
        if (!grown) {
            sql->failed = true;
            return;
        }
        sql->text = grown;
        sql->capacity = capacity;
    }
    memcpy (sql->text + sql->size, text, length + 1);
    sql->size += length;
}

//  Append "$n" and a cast (may be "") to the statement.
static void
s_sql_param (s_sql_t *sql, int number, const char *cast)
{
    char text [32];
    snprintf (text, sizeof text, "$%d%s", number, cast);
    s_sql_add (sql, text);
}

//  Build an event from the S_COLUMNS of a row, starting at column.
//  Returns NULL when out of memory. Caller owns the result.
static enp_event_t *
s_row_event (const PGresult *result, int row, int column)
{
    enp_event_t *event = enp_event_new (
        PQgetvalue (result, row, column), PQgetvalue (result, row, column + 1),
        PQgetvalue (result, row, column + 2),
        strtoll (PQgetvalue (result, row, column + 6), NULL, 10));
    if (event) {
        enp_event_set_status (event, PQgetvalue (result, row, column + 3),
                              strtoll (PQgetvalue (result, row, column + 7),
                                       NULL, 10));
        enp_event_set_attempts (event, (uint32_t) strtoul (
            PQgetvalue (result, row, column + 4), NULL, 10));
        enp_event_set_generation (event, (uint32_t) strtoul (
            PQgetvalue (result, row, column + 5), NULL, 10));
    }
    return event;
}

//  Make a request of this kind. Returns NULL when out of memory.
static s_request_t *
s_request_new (s_kind_t kind)
{
    s_request_t *request = (s_request_t *) calloc (1, sizeof (s_request_t));
    if (!request)
        return NULL;
    pthread_condattr_t attributes;
    pthread_condattr_init (&attributes);
    pthread_condattr_setclock (&attributes, CLOCK_MONOTONIC);
    pthread_cond_init (&request->done, &attributes);
    pthread_condattr_destroy (&attributes);
    request->kind = kind;
    request->result = ENP_EIO;
    return request;
}

//  Free a request and everything it still owns.
static void
s_request_destroy (s_request_t **request_p)
{
    s_request_t *request = *request_p;
    if (!request)
        return;
    enp_event_destroy (&request->event);
    enp_event_destroy (&request->reply);
    for (size_t index = 0; index < request->event_count; index++)
        enp_event_destroy (&request->events [index]);
    free (request->events);
    for (size_t index = 0; index < request->count; index++)
        enp_event_destroy (&request->items [index]);
    free (request->items);
    free (request->key);
    pthread_cond_destroy (&request->done);
    free (request);
    *request_p = NULL;
}

//  Fill an absolute CLOCK_MONOTONIC time ms from now.
static void
s_deadline (struct timespec *when, int64_t ms)
{
    clock_gettime (CLOCK_MONOTONIC, when);
    when->tv_sec += (time_t) (ms / 1000);
    when->tv_nsec += (long) (ms % 1000) * 1000000L;
    if (when->tv_nsec >= 1000000000L) {
        when->tv_sec++;
        when->tv_nsec -= 1000000000L;
    }
}

//  Answer every queued request with ENP_EIO (no writer can take them).
//  Call with the mutex held.
static void
s_fail_queue (logger_store_pg_t *self)
{
    while (self->head) {
        s_request_t *request = self->head;
        self->head = request->next;
        request->result = ENP_EIO;
        request->state = S_DONE;
        pthread_cond_signal (&request->done);
    }
    self->tail = NULL;
}

//  Wait for a queued request until the deadline. Returns 1 when it is
//  done. Returns 0 when not: a request still queued is taken out (it is
//  the caller's to free), one a writer has is left to the writer to free
//  and *request_p becomes NULL. Call with the mutex held.
static int
s_await (logger_store_pg_t *self, s_request_t **request_p,
         const struct timespec *deadline)
{
    s_request_t *request = *request_p;
    while (request->state != S_DONE)
        if (pthread_cond_timedwait (&request->done, &self->mutex,
                                    deadline) == ETIMEDOUT)
            break;
    if (request->state == S_DONE)
        return 1;
    if (request->state == S_QUEUED) {
        //  Still queued: take it out, nobody else refers to it
        s_request_t **link = &self->head, *previous = NULL;
        while (*link != request) {
            previous = *link;
            link = &(*link)->next;
        }
        *link = request->next;
        if (self->tail == request)
            self->tail = previous;
        request->next = NULL;
    }
    else {
        request->state = S_ABANDONED;   //  The writer frees it
        *request_p = NULL;
    }
    return 0;
}

//  Hand count requests (NULL slots are skipped) to the writers together,
//  in order, so a writer takes them as one batch, and wait for each until
//  one deadline timeout_ms away. Returns how many are done: a request is
//  done when its slot is still set and its state is S_DONE; read its
//  result, then free it. One not done in time is the caller's to free,
//  unless a writer has it: then its slot is NULL.
static size_t
s_submit_many (logger_store_pg_t *self, s_request_t **requests, size_t count)
{
    //  No writer connected: say so at once rather than after the timeout
    if (atomic_load (&self->up) == 0)
        return 0;
    struct timespec deadline;
    s_deadline (&deadline, self->options.timeout_ms);
    pthread_mutex_lock (&self->mutex);
    if (self->stopping || self->writers_up == 0) {
        pthread_mutex_unlock (&self->mutex);
        return 0;
    }
    for (size_t index = 0; index < count; index++) {
        s_request_t *request = requests [index];
        if (!request)
            continue;
        request->state = S_QUEUED;
        if (self->tail)
            self->tail->next = request;
        else
            self->head = request;
        self->tail = request;
    }
    //  One writer wakes; it wakes another if it leaves some behind
    pthread_cond_signal (&self->work);
    size_t done = 0;
    for (size_t index = 0; index < count; index++)
        if (requests [index])
            done += (size_t) s_await (self, &requests [index], &deadline);
    pthread_mutex_unlock (&self->mutex);
    return done;
}

//  Hand a request to the writers and wait for it, at most timeout_ms.
//  Returns 1 when it is done: read its result, then free it. Returns 0
//  when it could not be done in time: the request is still the caller's
//  to free, unless a writer has it, and then *request_p is NULL.
static int
s_submit (logger_store_pg_t *self, s_request_t **request_p)
{
    return s_submit_many (self, request_p, 1) == 1;
}

//  ---------------------------------------------------------------------
//  What the writers run, each kind as one statement for the whole batch

//  The statement each writer prepares for new events: the batch comes as
//  arrays (one per column), so the one prepared plan serves every batch
//  size. Each event is born leased to this process: due_at is now plus
//  the visibility timeout ($6). A key another event holds inserts nothing.
#define S_INSERT_SQL \
    "INSERT INTO events AS e (event_id, user_id, description, status," \
    " created_at, updated_at, due_at, idempotency_key)" \
    " SELECT u.event_id, u.user_id, u.description, 'pending'," \
    " timestamptz 'epoch' + u.created * interval '1 millisecond'," \
    " timestamptz 'epoch' + u.created * interval '1 millisecond'," \
    " now () + $6::int8 * interval '1 millisecond', u.idempotency_key" \
    " FROM unnest ($1::uuid[], $2::text[], $3::text[], $4::int8[], $5::text[])" \
    " AS u (event_id, user_id, description, created, idempotency_key)" \
    " ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL" \
    " DO NOTHING RETURNING e.event_id::text," \
    " (extract (epoch FROM e.due_at) * 1000000)::int8"

//  Append an element to an array literal being built ("{" already there):
//  text double-quoted with its quotes and backslashes escaped, or NULL.
static void
s_array_add (s_sql_t *array, const char *text, bool first)
{
    if (!first)
        s_sql_add (array, ",");
    if (!text) {
        s_sql_add (array, "NULL");
        return;
    }
    s_sql_add (array, "\"");
    const char *cursor = text;
    while (*cursor) {
        size_t plain = strcspn (cursor, "\"\\");
        if (plain) {
            char piece [512];
            while (plain) {
                size_t take = plain < sizeof piece - 1? plain: sizeof piece - 1;
                memcpy (piece, cursor, take);
                piece [take] = '\0';
                s_sql_add (array, piece);
                cursor += take;
                plain -= take;
            }
        }
        if (*cursor) {
            s_sql_add (array, *cursor == '"'? "\\\"": "\\\\");
            cursor++;
        }
    }
    s_sql_add (array, "\"");
}

//  Run the insert statement for count new events, with their keys (keys
//  NULL: none). Returns its result (caller clears it), or NULL when it
//  failed, with *built false when the statement could not even be built
//  (out of memory).
static PGresult *
s_insert_exec (s_writer_t *writer, enp_event_t *const *events,
               char *const *keys, size_t count, bool *built)
{
    s_sql_t columns [5] = { { 0 } };
    for (int column = 0; column < 5; column++)
        s_sql_add (&columns [column], "{");
    for (size_t index = 0; index < count; index++) {
        const enp_event_t *event = events [index];
        char created [24];
        bool first = index == 0;
        s_array_add (&columns [0], enp_event_id (event), first);
        s_array_add (&columns [1], enp_event_user_id (event), first);
        s_array_add (&columns [2], enp_event_description (event), first);
        s_array_add (&columns [3], s_int (created, enp_event_created_at (event)),
                     first);
        s_array_add (&columns [4], keys? keys [index]: NULL, first);
    }
    bool failed = false;
    for (int column = 0; column < 5; column++) {
        s_sql_add (&columns [column], "}");
        failed |= columns [column].failed;
    }
    char lease [24];
    const char *values [] = {
        columns [0].text, columns [1].text, columns [2].text, columns [3].text,
        columns [4].text, s_int (lease, writer->store->options.visibility_ms)
    };
    PGresult *result = failed? NULL: logger_pg_conn_exec_prepared (
        writer->conn, "insert", 6, values);
    for (int column = 0; column < 5; column++)
        free (columns [column].text);
    *built = !failed;
    return result;
}

//  Insert the batch's new events with one statement. Requests whose key
//  is taken get the stored event to compare with.
static void
s_insert_rows (s_writer_t *writer, s_request_t **requests, size_t count)
{
    enp_event_t **events = (enp_event_t **) calloc (count, sizeof (enp_event_t *));
    char **keys = (char **) calloc (count, sizeof (char *));
    for (size_t index = 0; events && keys && index < count; index++) {
        events [index] = requests [index]->event;
        keys [index] = requests [index]->key;
    }
    bool built = false;
    PGresult *result = NULL;
    zhashx_t *by_id = zhashx_new ();
    if (by_id && events && keys)
        result = s_insert_exec (writer, events, keys, count, &built);
    free (events);
    free (keys);
    for (size_t index = 0; result && index < count; index++)
        zhashx_insert (by_id, enp_event_id (requests [index]->event),
                       requests [index]);
    for (int row = 0; result && row < PQntuples (result); row++) {
        s_request_t *request = (s_request_t *) zhashx_lookup (by_id,
            PQgetvalue (result, row, 0));
        if (request) {
            request->result = ENP_OK;
            snprintf (request->lease, sizeof request->lease, "%s",
                      PQgetvalue (result, row, 1));
        }
    }
    zhashx_destroy (&by_id);
    //  What was not inserted lost to a key (or to a failure: ENP_EIO)
    for (size_t index = 0; result && index < count; index++)
        if (requests [index]->result != ENP_OK)
            requests [index]->result = requests [index]->key? ENP_ENOTFOUND
                                                            : ENP_EIO;
    if (!result && built && !logger_pg_conn_lost (writer->conn)) {
        //  An SQL error fails the whole statement: a duplicate event id
        //  (a UUID v4 never repeats) or a broken row. Find which, one by one
        if (count > 1)
            for (size_t index = 0; index < count; index++)
                s_insert_rows (writer, requests + index, 1);
        else {
            enp_log_event_warn (enp_event_id (requests [0]->event),
                                "not stored: %s",
                                logger_pg_conn_error (writer->conn));
            requests [0]->result = strcmp (logger_pg_conn_sqlstate (
                writer->conn), "23505") == 0? ENP_EINVAL: ENP_EIO;
        }
    }
    PQclear (result);
}

//  For inserts that found their key taken: compare with the stored event
//  and answer with it (a retry) or ENP_EINVAL (another body).
static void
s_insert_replays (s_writer_t *writer, s_request_t **requests, size_t count)
{
    s_sql_t sql = { 0 };
    const char **values = (const char **) calloc (count, sizeof (char *));
    size_t keys = 0;
    s_sql_add (&sql, "SELECT e.idempotency_key, " S_COLUMNS " FROM events e"
               " WHERE e.idempotency_key IN (");
    for (size_t index = 0; values && index < count; index++)
        if (requests [index]->result == ENP_ENOTFOUND) {
            s_sql_add (&sql, keys? ", ": "");
            values [keys] = requests [index]->key;
            s_sql_param (&sql, (int) ++keys, "");
        }
    s_sql_add (&sql, ")");
    if (keys == 0 || sql.failed) {
        free (values);
        free (sql.text);
        return;
    }
    PGresult *result = logger_pg_conn_exec (writer->conn, sql.text, (int) keys,
                                            values);
    for (size_t index = 0; index < count; index++) {
        s_request_t *request = requests [index];
        if (request->result != ENP_ENOTFOUND)
            continue;
        request->result = ENP_EIO;
        for (int row = 0; result && row < PQntuples (result); row++) {
            if (strcmp (PQgetvalue (result, row, 0), request->key))
                continue;
            if (strcmp (PQgetvalue (result, row, 2),
                        enp_event_user_id (request->event))
            ||  strcmp (PQgetvalue (result, row, 3),
                        enp_event_description (request->event)))
                request->result = ENP_EINVAL;
            else {
                request->reply = s_row_event (result, row, 1);
                request->result = request->reply? ENP_OK: ENP_ENOMEM;
            }
        }
    }
    PQclear (result);
    free (values);
    free (sql.text);
}

//  Hand a new event (taken from *event_p) and its lease to this process's
//  dispatcher.
static void
s_fresh_push (logger_store_pg_t *self, enp_event_t **event_p,
              const char *lease)
{
    s_fresh_t *fresh = (s_fresh_t *) calloc (1, sizeof (s_fresh_t));
    if (!fresh)
        return;                 //  It waits out its lease, then is claimed
    fresh->event = *event_p;
    *event_p = NULL;
    snprintf (fresh->lease, sizeof fresh->lease, "%s", lease);
    bool dropped = false;
    pthread_mutex_lock (&self->mutex);
    if (zhashx_size (self->fresh_ids) < S_FRESH_MAX
    &&  zhashx_insert (self->fresh_ids, enp_event_id (fresh->event), fresh) == 0) {
        if (self->fresh_tail)
            self->fresh_tail->next = fresh;
        else
            self->fresh_head = fresh;
        self->fresh_tail = fresh;
        fresh = NULL;
    }
    else {
        dropped = !self->fresh_dropped;
        self->fresh_dropped = true;
    }
    pthread_mutex_unlock (&self->mutex);
    if (dropped)
        enp_log_warn ("%d new events wait for the dispatcher (is the broker"
                      " away?); later ones go out once their lease of %lld ms"
                      " passes", S_FRESH_MAX,
                      (long long) self->options.visibility_ms);
    if (fresh) {
        enp_event_destroy (&fresh->event);
        free (fresh);
    }
}

//  Insert the batch's new events.
static void
s_run_inserts (s_writer_t *writer, s_request_t **requests, size_t count)
{
    if (count == 0)
        return;
    s_insert_rows (writer, requests, count);
    s_insert_replays (writer, requests, count);
    for (size_t index = 0; index < count; index++)
        if (requests [index]->result == ENP_OK && !requests [index]->reply) {
            atomic_fetch_add (&writer->store->created_total, 1);
            s_fresh_push (writer->store, &requests [index]->event,
                          requests [index]->lease);
        }
}

//  Insert one request's many events with a statement of their own, so
//  they commit together or not at all (a statement is one transaction),
//  whatever else the batch holds.
static void
s_run_insert_many (s_writer_t *writer, s_request_t *request)
{
    bool built = false;
    PGresult *result = s_insert_exec (writer, request->events, NULL,
                                      request->event_count, &built);
    request->result = result? ENP_OK: built? ENP_EIO: ENP_ENOMEM;
    if (!result && built && !logger_pg_conn_lost (writer->conn))
        enp_log_warn ("a batch of %zu events was not stored: %s",
                      request->event_count, logger_pg_conn_error (writer->conn));
    if (!result)
        return;
    //  Stored: hand each to the dispatcher under the lease its row got
    zhashx_t *leases = zhashx_new ();
    for (int row = 0; leases && row < PQntuples (result); row++)
        zhashx_insert (leases, PQgetvalue (result, row, 0),
                       PQgetvalue (result, row, 1));
    for (size_t index = 0; index < request->event_count; index++) {
        const char *lease = leases? (const char *) zhashx_lookup (leases,
            enp_event_id (request->events [index])): NULL;
        if (lease)
            s_fresh_push (writer->store, &request->events [index], lease);
    }
    atomic_fetch_add (&writer->store->created_total, request->event_count);
    zhashx_destroy (&leases);
    PQclear (result);
}

//  The statement each writer prepares for status changes: the batch as
//  arrays of ids ($1) and statuses ($2), each id once, its rows locked in
//  id order (S_IN_ID_ORDER). A report of an event already processed
//  changes nothing and writes no row.
#define S_SET_STATUS_UPDATE \
    S_IN_ID_ORDER (", i.status", \
                   "unnest ($1::uuid[], $2::text[]) AS i (event_id, status)", \
                   "e.event_id = i.event_id" \
                   " AND NOT (e.status = 'processed' AND i.status = 'processed')") \
    "UPDATE events e SET status = l.status," \
    " updated_at = timestamptz 'epoch' + $3::int8 * interval '1 millisecond'," \
    " generation = e.generation + (l.status = 'pending')::int," \
    " attempts = CASE WHEN l.status = 'processed'" \
    "  THEN greatest (e.attempts, 1) ELSE e.attempts END," \
    " due_at = CASE l.status WHEN 'pending' THEN now ()" \
    "  WHEN 'queued' THEN now () + $4::int8 * interval '1 millisecond' END" \
    " FROM l"
#define S_SET_STATUS_WHERE \
    " WHERE e.event_id = l.event_id RETURNING " S_COLUMNS
#define S_SET_STATUS_SQL S_SET_STATUS_UPDATE S_SET_STATUS_WHERE
//  The same for workers' reports of processed events, committed without
//  waiting for the WAL flush (set_config (..., true) holds for this
//  statement's transaction only): a report a database crash loses means
//  one redelivery, which at-least-once allows, and the reports, one per
//  event, no longer wait for the disk
#define S_SET_PROCESSED_SQL S_SET_STATUS_UPDATE \
    ", (SELECT set_config ('synchronous_commit', 'off', true)) AS c" \
    S_SET_STATUS_WHERE

//  The statement each writer prepares for reads by id ($1, an array).
#define S_GET_SQL \
    "SELECT " S_COLUMNS " FROM events e WHERE e.event_id = ANY ($1::uuid[])"

static void s_run_gets (s_writer_t *writer, s_request_t **requests, size_t count);

//  Apply status updates with one statement; each id at most once in it.
//  A processed event reported again is read, not written.
static void
s_update_rows (s_writer_t *writer, s_request_t **requests, size_t count,
               const char *statement)
{
    logger_store_pg_t *self = writer->store;
    s_sql_t ids = { 0 }, statuses = { 0 };
    s_sql_add (&ids, "{");
    s_sql_add (&statuses, "{");
    for (size_t index = 0; index < count; index++) {
        s_array_add (&ids, requests [index]->event_id, index == 0);
        s_array_add (&statuses, requests [index]->status, index == 0);
    }
    s_sql_add (&ids, "}");
    s_sql_add (&statuses, "}");
    char now [24], visibility [24];
    const char *values [] = { ids.text, statuses.text,
                              s_int (now, enp_time_now_ms ()),
                              s_int (visibility, self->options.visibility_ms) };
    bool built = !ids.failed && !statuses.failed;
    PGresult *result = built? logger_pg_conn_exec_prepared (writer->conn,
                                                            statement, 4, values)
                            : NULL;
    free (ids.text);
    free (statuses.text);
    if (!result) {
        //  ENP_EIO for all. A lost connection is logged where the writer
        //  goes down; an SQL error only here, or each 503 would go unexplained
        if (built && !logger_pg_conn_lost (writer->conn))
            enp_log_warn ("%zu status changes not applied: %s", count,
                          logger_pg_conn_error (writer->conn));
        return;
    }
    zhashx_t *by_id = zhashx_new ();
    for (size_t index = 0; by_id && index < count; index++)
        zhashx_insert (by_id, requests [index]->event_id, requests [index]);
    for (int row = 0; by_id && row < PQntuples (result); row++) {
        s_request_t *request = (s_request_t *) zhashx_lookup (by_id,
            PQgetvalue (result, row, 0));
        if (!request)
            continue;
        request->reply = s_row_event (result, row, 0);
        request->result = request->reply? ENP_OK: ENP_ENOMEM;
        if (strcmp (request->status, ENP_STATUS_PROCESSED) == 0)
            atomic_fetch_add (&self->processed_total, 1);
        if (strcmp (request->status, ENP_STATUS_PENDING) == 0)
            atomic_store (&self->due_now, true);
        zhashx_delete (by_id, request->event_id);
    }
    PQclear (result);
    //  No row: no such event, or a processed one reported again
    s_request_t **rest = (s_request_t **) calloc (count, sizeof (s_request_t *));
    size_t left = 0;
    for (size_t index = 0; rest && by_id && index < count; index++)
        if (zhashx_lookup (by_id, requests [index]->event_id))
            rest [left++] = requests [index];
    s_run_gets (writer, rest, left);
    free (rest);
    zhashx_destroy (&by_id);
}

//  Apply the batch's status updates. An id that comes twice waits for a
//  second statement, so each applies in the order it arrived.
static void
s_run_updates (s_writer_t *writer, s_request_t **requests, size_t count)
{
    s_request_t **round = (s_request_t **) calloc (count, sizeof (s_request_t *));
    s_request_t **left = (s_request_t **) calloc (count, sizeof (s_request_t *));
    zhashx_t *seen = zhashx_new ();
    size_t remaining = round && left && seen? count: 0;
    if (remaining)
        memcpy (left, requests, count * sizeof (s_request_t *));
    while (remaining > 0 && logger_pg_conn_connected (writer->conn)) {
        size_t taken = 0, kept = 0;
        zhashx_purge (seen);
        for (size_t index = 0; index < remaining; index++)
            if (zhashx_insert (seen, left [index]->event_id, left [index]) == 0)
                round [taken++] = left [index];
            else
                left [kept++] = left [index];
        //  Reports of processed events, then every other status change
        size_t processed = 0;
        for (size_t index = 0; index < taken; index++)
            if (strcmp (round [index]->status, ENP_STATUS_PROCESSED) == 0) {
                s_request_t *swap = round [processed];
                round [processed++] = round [index];
                round [index] = swap;
            }
        if (processed)
            s_update_rows (writer, round, processed, "set_processed");
        if (taken > processed && logger_pg_conn_connected (writer->conn))
            s_update_rows (writer, round + processed, taken - processed,
                           "set_status");
        remaining = kept;
    }
    zhashx_destroy (&seen);
    free (round);
    free (left);
}

//  Read the batch's events by id with one statement.
static void
s_run_gets (s_writer_t *writer, s_request_t **requests, size_t count)
{
    if (count == 0)
        return;
    s_sql_t ids = { 0 };
    s_sql_add (&ids, "{");
    for (size_t index = 0; index < count; index++) {
        s_sql_add (&ids, index? ",": "");
        s_sql_add (&ids, requests [index]->event_id);
    }
    s_sql_add (&ids, "}");
    const char *values [] = { ids.text };
    PGresult *result = ids.failed? NULL
        : logger_pg_conn_exec_prepared (writer->conn, "get", 1, values);
    for (size_t index = 0; result && index < count; index++) {
        s_request_t *request = requests [index];
        request->result = ENP_ENOTFOUND;
        for (int row = 0; row < PQntuples (result); row++)
            if (strcmp (PQgetvalue (result, row, 0), request->event_id) == 0) {
                request->reply = s_row_event (result, row, 0);
                request->result = request->reply? ENP_OK: ENP_ENOMEM;
                break;
            }
    }
    PQclear (result);
    free (ids.text);
}

//  Take one listed row: stop at the limit or at the byte budget.
static int
s_list_row (const PGresult *row, void *arg)
{
    s_request_t *request = (s_request_t *) arg;
    if (request->count == request->query.limit) {
        request->more = true;
        return 1;
    }
    enp_event_t *event = s_row_event (row, 0, 0);
    if (!event) {
        request->result = ENP_ENOMEM;
        return 1;
    }
    size_t size = enp_event_encoded_size (event) + 1;
    if (request->query.max_bytes && request->count
    &&  request->bytes + size > request->query.max_bytes) {
        enp_event_destroy (&event);
        request->more = true;
        return 1;
    }
    request->items [request->count++] = event;
    request->bytes += size;
    return 0;
}

//  Run one listing, streaming its rows so a page is never held twice.
static void
s_run_list (s_writer_t *writer, s_request_t *request)
{
    const logger_store_query_t *query = &request->query;
    s_sql_t sql = { 0 };
    const char *values [4];
    char limit [24];
    int count = 0;
    s_sql_add (&sql, "SELECT " S_COLUMNS " FROM events e WHERE true");
    if (query->status) {
        values [count] = query->status;
        s_sql_add (&sql, " AND e.status = ");
        s_sql_param (&sql, ++count, "");
    }
    if (query->user_id) {
        values [count] = query->user_id;
        s_sql_add (&sql, " AND e.user_id = ");
        s_sql_param (&sql, ++count, "");
    }
    if (query->after) {
        values [count] = query->after;
        s_sql_add (&sql, " AND e.seq > (SELECT c.seq FROM events c WHERE"
                   " c.event_id = ");
        s_sql_param (&sql, ++count, "::uuid)");
    }
    //  One more than the page: it says whether another page follows
    values [count] = s_int (limit, (int64_t) query->limit + 1);
    s_sql_add (&sql, " ORDER BY e.seq LIMIT ");
    s_sql_param (&sql, ++count, "");
    request->result = ENP_OK;
    if (sql.failed
    ||  logger_pg_conn_stream (writer->conn, sql.text, count, values,
                               s_list_row, request))
        request->result = ENP_EIO;
    free (sql.text);
    if (request->result == ENP_OK && query->after && request->count == 0) {
        //  Nothing after the cursor: the end, or a cursor of no event
        const char *cursor [] = { query->after };
        PGresult *result = logger_pg_conn_exec (writer->conn,
            "SELECT 1 FROM events WHERE event_id = $1::uuid", 1, cursor);
        request->result = !result? ENP_EIO: PQntuples (result)? ENP_OK
                                                               : ENP_ENOTFOUND;
        PQclear (result);
    }
}

//  Count the events by status into every stats request of the batch.
static void
s_run_stats (s_writer_t *writer, s_request_t **requests, size_t count)
{
    if (count == 0)
        return;
    PGresult *result = logger_pg_conn_exec (writer->conn,
        "SELECT status, count (*) FROM events GROUP BY status", 0, NULL);
    logger_store_stats_t stats = { 0 };
    for (int row = 0; result && row < PQntuples (result); row++) {
        const char *status = PQgetvalue (result, row, 0);
        size_t number = strtoull (PQgetvalue (result, row, 1), NULL, 10);
        stats.total += number;
        if (strcmp (status, ENP_STATUS_PENDING) == 0)
            stats.pending = number;
        else
        if (strcmp (status, ENP_STATUS_QUEUED) == 0)
            stats.queued = number;
        else
        if (strcmp (status, ENP_STATUS_PROCESSED) == 0)
            stats.processed = number;
        else
        if (strcmp (status, ENP_STATUS_FAILED) == 0)
            stats.failed = number;
        else
            stats.other += number;
    }
    for (size_t index = 0; result && index < count; index++) {
        requests [index]->stats = stats;
        requests [index]->result = ENP_OK;
    }
    PQclear (result);
}

//  Run a batch: one statement per kind, listings one by one.
static void
s_execute (s_writer_t *writer, s_request_t *batch)
{
    s_request_t *kinds [S_STATS + 1][S_BATCH_MAX];
    size_t counts [S_STATS + 1] = { 0 };
    for (s_request_t *request = batch; request; request = request->next)
        kinds [request->kind][counts [request->kind]++] = request;
    s_run_inserts (writer, kinds [S_INSERT], counts [S_INSERT]);
    for (size_t index = 0; index < counts [S_INSERT_MANY]; index++)
        if (logger_pg_conn_connected (writer->conn))
            s_run_insert_many (writer, kinds [S_INSERT_MANY][index]);
    if (counts [S_SET_STATUS] && logger_pg_conn_connected (writer->conn))
        s_run_updates (writer, kinds [S_SET_STATUS], counts [S_SET_STATUS]);
    if (logger_pg_conn_connected (writer->conn))
        s_run_gets (writer, kinds [S_GET], counts [S_GET]);
    for (size_t index = 0; index < counts [S_LIST]; index++)
        if (logger_pg_conn_connected (writer->conn))
            s_run_list (writer, kinds [S_LIST][index]);
    if (logger_pg_conn_connected (writer->conn))
        s_run_stats (writer, kinds [S_STATS], counts [S_STATS]);
}

//  Record whether a writer is connected; with none, answer what waits.
//  Call with the mutex held. Returns the change in the number connected.
static int
s_writer_set_up (s_writer_t *writer, bool up)
{
    logger_store_pg_t *self = writer->store;
    if (writer->up == up)
        return 0;
    writer->up = up;
    self->writers_up += up? 1: -1;
    atomic_store (&self->up, self->writers_up);
    if (self->writers_up == 0)
        s_fail_queue (self);
    return up? 1: -1;
}

//  Say when the database comes and goes; outside the lock.
static void
s_log_change (s_writer_t *writer, int change, int up)
{
    if (change < 0 && up == 0)
        enp_log_error ("database unreachable (%s): new events get 503 until"
                       " it is back", logger_pg_conn_error (writer->conn));
    else
    if (change > 0 && up == 1)
        enp_log_info ("database reachable: storing events again");
}

//  A writer: connect, take what queued up, run it, answer, again.
static void *
s_writer_run (void *arg)
{
    s_writer_t *writer = (s_writer_t *) arg;
    logger_store_pg_t *self = writer->store;
    int64_t backoff = S_RETRY_MIN_MS;
    pthread_mutex_lock (&self->mutex);
    while (!self->stopping) {
        if (!writer->up) {
            pthread_mutex_unlock (&self->mutex);
            int rc = logger_pg_conn_ensure (writer->conn);
            pthread_mutex_lock (&self->mutex);
            if (rc == 0) {
                int change = s_writer_set_up (writer, true);
                int up = self->writers_up;
                backoff = S_RETRY_MIN_MS;
                pthread_mutex_unlock (&self->mutex);
                s_log_change (writer, change, up);
                pthread_mutex_lock (&self->mutex);
            }
            else {
                //  The stop wakes this wait too
                struct timespec when;
                s_deadline (&when, backoff);
                pthread_cond_timedwait (&self->work, &self->mutex, &when);
                backoff = backoff * 2 > S_RETRY_MAX_MS? S_RETRY_MAX_MS: backoff * 2;
            }
            continue;
        }
        if (!self->head) {
            pthread_cond_wait (&self->work, &self->mutex);
            continue;
        }
        //  Everything that queued up while we were busy, as one batch
        s_request_t *batch = self->head, *last = NULL;
        size_t taken = 0;
        for (s_request_t *request = batch; request && taken < S_BATCH_MAX;
             request = request->next, taken++) {
            request->state = S_TAKEN;
            last = request;
        }
        self->head = last->next;
        if (!self->head)
            self->tail = NULL;
        last->next = NULL;
        //  Others wait: another writer may take the rest
        if (self->head)
            pthread_cond_signal (&self->work);
        pthread_mutex_unlock (&self->mutex);
        s_execute (writer, batch);
        bool lost = !logger_pg_conn_connected (writer->conn);
        pthread_mutex_lock (&self->mutex);
        while (batch) {
            s_request_t *request = batch;
            batch = batch->next;
            if (request->state == S_ABANDONED)
                s_request_destroy (&request);
            else {
                request->state = S_DONE;
                pthread_cond_signal (&request->done);
            }
        }
        if (lost) {
            int change = s_writer_set_up (writer, false);
            int up = self->writers_up;
            pthread_mutex_unlock (&self->mutex);
            s_log_change (writer, change, up);
            pthread_mutex_lock (&self->mutex);
        }
    }
    pthread_mutex_unlock (&self->mutex);
    return NULL;
}

//  ---------------------------------------------------------------------
//  Schema

//  Bring the schema up to date under the advisory lock, so loggers that
//  start together apply each file once. Returns 0 or -1 (logged).
static int
s_migrate (logger_pg_conn_t *conn)
{
    if (logger_pg_conn_script (conn, "SELECT pg_advisory_lock (" S_ADVISORY_KEY ");"
        "CREATE TABLE IF NOT EXISTS event_logger_schema ("
        " version integer PRIMARY KEY, name text NOT NULL,"
        " applied_at timestamptz NOT NULL DEFAULT now ())")) {
        enp_log_error ("cannot prepare the database schema: %s",
                       logger_pg_conn_error (conn));
        return -1;
    }
    int rc = 0;
    PGresult *result = logger_pg_conn_exec (conn,
        "SELECT coalesce (max (version), 0) FROM event_logger_schema", 0, NULL);
    int current = result? atoi (PQgetvalue (result, 0, 0)): -1;
    PQclear (result);
    int newest = logger_schema_count?
                 logger_schema_files [logger_schema_count - 1].version: 0;
    if (current < 0 || current > newest) {
        if (current < 0)
            enp_log_error ("cannot read the schema version: %s",
                           logger_pg_conn_error (conn));
        else
            enp_log_error ("the database's schema is version %d, newer than"
                           " this logger knows (%d): upgrade the logger",
                           current, newest);
        rc = -1;
    }
    for (size_t index = 0; rc == 0 && index < logger_schema_count; index++) {
        const logger_schema_file_t *file = &logger_schema_files [index];
        if (file->version <= current)
            continue;
        char record [256];
        snprintf (record, sizeof record, ";\nINSERT INTO event_logger_schema"
                  " (version, name) VALUES (%d, '%s');\nCOMMIT;",
                  file->version, file->name);
        char *script = zsys_sprintf ("BEGIN;\n%s%s", file->sql, record);
        if (!script || logger_pg_conn_script (conn, script)) {
            enp_log_error ("cannot apply schema %s: %s", file->name,
                           logger_pg_conn_error (conn));
            logger_pg_conn_script (conn, "ROLLBACK");
            rc = -1;
        }
        else
            enp_log_info ("applied database schema %s", file->name);
        zstr_free (&script);
    }
    if (logger_pg_conn_script (conn, "SELECT pg_advisory_unlock ("
                               S_ADVISORY_KEY ")") && rc == 0) {
        enp_log_error ("cannot release the schema lock: %s",
                       logger_pg_conn_error (conn));
        rc = -1;
    }
    return rc;
}

//  ---------------------------------------------------------------------
//  Constructor and destructor

//  Create the store.
logger_store_pg_t *
logger_store_pg_new (const char *url, const logger_store_options_t *options)
{
    assert (url && options);
    logger_store_pg_t *self = (logger_store_pg_t *) calloc (1, sizeof (logger_store_pg_t));
    if (!self)
        return NULL;
    self->options = *options;
    if (self->options.connections < 1)
        self->options.connections = 1;
    pthread_mutex_init (&self->mutex, NULL);
    pthread_condattr_t attributes;
    pthread_condattr_init (&attributes);
    pthread_condattr_setclock (&attributes, CLOCK_MONOTONIC);
    pthread_cond_init (&self->work, &attributes);
    pthread_condattr_destroy (&attributes);
    //  The server gives up on a statement when we do
    char session [160];
    snprintf (session, sizeof session, "SET statement_timeout = %lld",
              (long long) self->options.timeout_ms);
    char dispatch_session [200];
    snprintf (dispatch_session, sizeof dispatch_session,
              "%s; SET synchronous_commit = off", session);
    self->dispatch = logger_pg_conn_new (url, self->options.timeout_ms,
                                         dispatch_session);

    self->writers = (s_writer_t *) calloc ((size_t) self->options.connections,
                                           sizeof (s_writer_t));
    self->leases = zhashx_new ();
    if (self->leases)
        zhashx_set_destructor (self->leases, (zhashx_destructor_fn *) zstr_free);
    self->fresh_ids = zhashx_new ();
    self->sent_due_at = INT64_MAX;
    if (!self->dispatch || !self->writers || !self->leases || !self->fresh_ids) {
        logger_store_pg_destroy (&self);
        return NULL;
    }
    if (logger_pg_conn_ensure (self->dispatch)) {
        enp_log_error ("cannot connect to the database: %s",
                       logger_pg_conn_error (self->dispatch));
        logger_store_pg_destroy (&self);
        return NULL;
    }
    //  The dispatcher's statements once the schema is there
    if (s_migrate (self->dispatch)
    ||  logger_pg_conn_prepare (self->dispatch, "mark", S_MARK_SQL)
    ||  logger_pg_conn_prepare (self->dispatch, "release", S_RELEASE_SQL)
    ||  !logger_pg_conn_connected (self->dispatch)) {
        if (!logger_pg_conn_connected (self->dispatch))
            enp_log_error ("cannot prepare the dispatcher's statements: %s",
                           logger_pg_conn_error (self->dispatch));
        logger_store_pg_destroy (&self);
        return NULL;
    }
    //  Writers connect now, so the logger starts ready; then run
    for (int index = 0; index < self->options.connections; index++) {
        s_writer_t *writer = &self->writers [index];
        writer->store = self;
        writer->conn = logger_pg_conn_new (url, self->options.timeout_ms, session);
        if (!writer->conn
        ||  logger_pg_conn_prepare (writer->conn, "insert", S_INSERT_SQL)
        ||  logger_pg_conn_prepare (writer->conn, "set_status", S_SET_STATUS_SQL)
        ||  logger_pg_conn_prepare (writer->conn, "set_processed", S_SET_PROCESSED_SQL)
        ||  logger_pg_conn_prepare (writer->conn, "get", S_GET_SQL)
        ||  logger_pg_conn_ensure (writer->conn)
        ||  pthread_create (&writer->thread, NULL, s_writer_run, writer)) {
            enp_log_error ("cannot start database writer: %s", writer->conn
                           ? logger_pg_conn_error (writer->conn): "out of memory");
            logger_store_pg_destroy (&self);
            return NULL;
        }
        writer->started = true;
        pthread_mutex_lock (&self->mutex);
        s_writer_set_up (writer, true);
        pthread_mutex_unlock (&self->mutex);
    }
    enp_log_info ("PostgreSQL store: %d writer connections, schema version %d",
                  self->options.connections,
                  logger_schema_count? logger_schema_files [logger_schema_count - 1].version: 0);
    return self;
}

//  Stop the writers and disconnect.
void
logger_store_pg_destroy (logger_store_pg_t **self_p)
{
    assert (self_p);
    if (!*self_p)
        return;
    logger_store_pg_t *self = *self_p;
    pthread_mutex_lock (&self->mutex);
    self->stopping = true;
    s_fail_queue (self);
    pthread_cond_broadcast (&self->work);
    pthread_mutex_unlock (&self->mutex);
    for (int index = 0; self->writers && index < self->options.connections; index++) {
        s_writer_t *writer = &self->writers [index];
        if (writer->started)
            pthread_join (writer->thread, NULL);
        logger_pg_conn_destroy (&writer->conn);
    }
    free (self->writers);
    while (self->fresh_head) {
        s_fresh_t *fresh = self->fresh_head;
        self->fresh_head = fresh->next;
        enp_event_destroy (&fresh->event);
        free (fresh);
    }
    zhashx_destroy (&self->fresh_ids);
    zhashx_destroy (&self->leases);
    free (self->marks_held);
    logger_pg_conn_destroy (&self->dispatch);
    pthread_cond_destroy (&self->work);
    pthread_mutex_destroy (&self->mutex);
    free (self);
    *self_p = NULL;
}

//  ---------------------------------------------------------------------
//  The engine's operations, from handler threads

static enp_status_t
s_insert (void *self_, enp_event_t **event_p, const char *key,
          enp_event_t **replay_p)
{
    logger_store_pg_t *self = (logger_store_pg_t *) self_;
    assert (self && event_p && *event_p);
    s_request_t *request = s_request_new (S_INSERT);
    if (request && key)
        request->key = strdup (key);
    if (!request || (key && !request->key)) {
        s_request_destroy (&request);
        return ENP_ENOMEM;
    }
    //  The request holds the event while it is in the writers' hands
    request->event = *event_p;
    *event_p = NULL;
    if (!s_submit (self, &request)) {
        //  Unreachable, or timed out. If a writer had it, the event may
        //  yet be stored: the client retries with its Idempotency-Key
        if (request) {
            *event_p = request->event;
            request->event = NULL;
            s_request_destroy (&request);
        }
        return ENP_EIO;
    }
    enp_status_t status = request->result;
    bool replayed = status == ENP_OK && request->reply;
    if (replayed && replay_p) {
        *replay_p = request->reply;
        request->reply = NULL;
    }
    if (status != ENP_OK || replayed) {
        *event_p = request->event;
        request->event = NULL;
    }
    s_request_destroy (&request);
    return status;
}

static enp_status_t
s_insert_many (void *self_, enp_event_t **events, size_t count)
{
    logger_store_pg_t *self = (logger_store_pg_t *) self_;
    assert (self && events && count);
    s_request_t *request = s_request_new (S_INSERT_MANY);
    if (request)
        request->events = (enp_event_t **) calloc (count, sizeof (enp_event_t *));
    if (!request || !request->events) {
        s_request_destroy (&request);
        return ENP_ENOMEM;
    }
    //  The request holds the events while they are in the writers' hands
    memcpy (request->events, events, count * sizeof (enp_event_t *));
    memset (events, 0, count * sizeof (enp_event_t *));
    request->event_count = count;
    enp_status_t status = ENP_EIO;
    if (s_submit (self, &request))
        status = request->result;
    //  Not stored (or abandoned: a writer has it, and it may yet be):
    //  the events go back to the caller when the request is still ours
    if (request && status != ENP_OK) {
        memcpy (events, request->events, count * sizeof (enp_event_t *));
        memset (request->events, 0, count * sizeof (enp_event_t *));
    }
    s_request_destroy (&request);
    return status;
}

//  Make a request for one event id; NULL for an id that is not a UUID.
static s_request_t *
s_id_request (s_kind_t kind, const char *event_id, enp_status_t *status_p)
{
    char canonical [ENP_UUID_LEN + 1];
    *status_p = ENP_ENOTFOUND;
    if (enp_event_id_canonical (event_id, canonical))
        return NULL;
    s_request_t *request = s_request_new (kind);
    *status_p = request? ENP_OK: ENP_ENOMEM;
    if (request)
        memcpy (request->event_id, canonical, sizeof canonical);
    return request;
}

//  Run a request answered with one event: get and set_status.
static enp_status_t
s_event_request (logger_store_pg_t *self, s_request_t *request,
                 enp_event_t **event_p)
{
    if (!s_submit (self, &request)) {
        s_request_destroy (&request);
        return ENP_EIO;
    }
    enp_status_t status = request->result;
    if (status == ENP_OK && event_p) {
        *event_p = request->reply;
        request->reply = NULL;
    }
    s_request_destroy (&request);
    return status;
}

static enp_status_t
s_get (void *self_, const char *event_id, enp_event_t **event_p)
{
    logger_store_pg_t *self = (logger_store_pg_t *) self_;
    assert (self);
    enp_status_t status;
    s_request_t *request = s_id_request (S_GET, event_id, &status);
    return request? s_event_request (self, request, event_p): status;
}

//  A new event this process has not sent yet, whose status a client or
//  worker changed: the database now says what happens to it (a report
//  before the send means none), so the dispatcher drops it. Call with
//  the mutex held.
static void
s_fresh_cancel (logger_store_pg_t *self, const char *canonical)
{
    s_fresh_t *fresh = (s_fresh_t *) zhashx_lookup (self->fresh_ids, canonical);
    if (fresh) {
        fresh->cancelled = true;
        zhashx_delete (self->fresh_ids, canonical);
    }
}

//  Make a status request; NULL with *result_p for an id that is not a
//  UUID (ENP_ENOTFOUND) or no memory.
static s_request_t *
s_status_request (const char *event_id, const char *status,
                  enp_status_t *result_p)
{
    assert (enp_event_status_valid (status));
    s_request_t *request = s_id_request (S_SET_STATUS, event_id, result_p);
    if (request)
        snprintf (request->status, sizeof request->status, "%s", status);
    return request;
}

static enp_status_t
s_set_status (void *self_, const char *event_id, const char *status,
              enp_event_t **event_p)
{
    logger_store_pg_t *self = (logger_store_pg_t *) self_;
    assert (self);
    enp_status_t result;
    s_request_t *request = s_status_request (event_id, status, &result);
    if (!request)
        return result;
    char canonical [ENP_UUID_LEN + 1];
    memcpy (canonical, request->event_id, sizeof canonical);
    result = s_event_request (self, request, event_p);
    if (result == ENP_OK) {
        pthread_mutex_lock (&self->mutex);
        s_fresh_cancel (self, canonical);
        pthread_mutex_unlock (&self->mutex);
    }
    return result;
}

//  Every update a request of its own, all queued at once: the writers
//  take them as one batch, one UPDATE per kind of status.
static void
s_set_status_many (void *self_, logger_store_update_t *updates, size_t count)
{
    logger_store_pg_t *self = (logger_store_pg_t *) self_;
    assert (self);
    s_request_t **requests = (s_request_t **) calloc (count, sizeof (s_request_t *));
    if (!requests) {
        for (size_t index = 0; index < count; index++)
            updates [index].result = ENP_ENOMEM;
        return;
    }
    for (size_t index = 0; index < count; index++) {
        requests [index] = s_status_request (updates [index].event_id,
            updates [index].status, &updates [index].result);
        if (requests [index])
            updates [index].result = ENP_EIO;   //  Until a writer answers
    }
    s_submit_many (self, requests, count);
    bool applied = false;
    for (size_t index = 0; index < count; index++) {
        s_request_t *request = requests [index];
        if (!request || request->state != S_DONE)
            continue;
        updates [index].result = request->result;
        if (request->result == ENP_OK) {
            updates [index].event = request->reply;
            request->reply = NULL;
            applied = true;
        }
    }
    if (applied) {
        pthread_mutex_lock (&self->mutex);
        for (size_t index = 0; index < count; index++)
            if (requests [index] && updates [index].result == ENP_OK)
                s_fresh_cancel (self, requests [index]->event_id);
        pthread_mutex_unlock (&self->mutex);
    }
    for (size_t index = 0; index < count; index++)
        s_request_destroy (&requests [index]);
    free (requests);
}

static enp_status_t
s_list (void *self_, const logger_store_query_t *query, enp_event_t **items,
        size_t *count_p, char *next)
{
    logger_store_pg_t *self = (logger_store_pg_t *) self_;
    assert (self && query && items && count_p && next);
    *count_p = 0;
    next [0] = '\0';
    char after [ENP_UUID_LEN + 1];
    if (query->after && enp_event_id_canonical (query->after, after))
        return ENP_ENOTFOUND;
    s_request_t *request = s_request_new (S_LIST);
    if (request)
        request->items = (enp_event_t **) calloc (query->limit? query->limit: 1,
                                                  sizeof (enp_event_t *));
    if (!request || !request->items) {
        s_request_destroy (&request);
        return ENP_ENOMEM;
    }
    request->query = *query;
    if (query->status) {
        snprintf (request->query_status, sizeof request->query_status, "%s",
                  query->status);
        request->query.status = request->query_status;
    }
    if (query->user_id) {
        snprintf (request->query_user, sizeof request->query_user, "%s",
                  query->user_id);
        request->query.user_id = request->query_user;
    }
    if (query->after) {
        memcpy (request->query_after, after, sizeof after);
        request->query.after = request->query_after;
    }
    if (!s_submit (self, &request)) {
        s_request_destroy (&request);
        return ENP_EIO;
    }
    enp_status_t status = request->result;
    if (status == ENP_OK) {
        memcpy (items, request->items, request->count * sizeof (enp_event_t *));
        *count_p = request->count;
        if (request->more && request->count)
            snprintf (next, ENP_UUID_LEN + 1, "%s",
                      enp_event_id (request->items [request->count - 1]));
        request->count = 0;     //  The items are the caller's now
    }
    s_request_destroy (&request);
    return status;
}

static void
s_stats (void *self_, logger_store_stats_t *stats)
{
    logger_store_pg_t *self = (logger_store_pg_t *) self_;
    assert (self);
    //  Counting a large table takes a while: a recent count serves
    int64_t now = enp_time_mono_ms ();
    pthread_mutex_lock (&self->mutex);
    bool fresh = self->cache_at
              && now - self->cache_at < self->options.stats_ttl_ms;
    logger_store_stats_t counts = self->cache;
    pthread_mutex_unlock (&self->mutex);
    if (!fresh) {
        s_request_t *request = s_request_new (S_STATS);
        if (request && s_submit (self, &request)
        &&  request->result == ENP_OK) {
            counts = request->stats;
            pthread_mutex_lock (&self->mutex);
            self->cache = counts;
            self->cache_at = now;
            pthread_mutex_unlock (&self->mutex);
        }
        s_request_destroy (&request);
    }
    *stats = counts;
    stats->max_events = 0;      //  The database holds what it holds
    stats->max_bytes = 0;
    stats->created_total = atomic_load (&self->created_total);
    stats->processed_total = atomic_load (&self->processed_total);
    stats->failed_total = atomic_load (&self->failed_total);
    stats->redelivered_total = atomic_load (&self->redelivered_total);
}

//  ---------------------------------------------------------------------
//  The dispatcher's operations, on its own connection, from one thread

//  Connect the dispatcher's connection unless it is, or is waiting to
//  retry. Returns 0 or -1.
static int
s_dispatch_ready (logger_store_pg_t *self)
{
    if (logger_pg_conn_connected (self->dispatch))
        return 0;
    int64_t now = enp_time_mono_ms ();
    if (now < self->dispatch_retry_at)
        return -1;
    if (logger_pg_conn_ensure (self->dispatch) == 0) {
        self->dispatch_backoff = S_RETRY_MIN_MS;
        return 0;
    }
    self->dispatch_backoff = self->dispatch_backoff * 2 > S_RETRY_MAX_MS
                           ? S_RETRY_MAX_MS
                           : self->dispatch_backoff? self->dispatch_backoff * 2
                                                   : S_RETRY_MIN_MS;
    self->dispatch_retry_at = now + self->dispatch_backoff;
    return -1;
}

//  Note whether the dispatcher's last round trip worked.
static enp_status_t
s_dispatch_result (logger_store_pg_t *self, bool ok)
{
    bool was_down = atomic_exchange (&self->dispatch_down, !ok);
    if (!ok && !was_down)
        enp_log_warn ("dispatcher: database unreachable (%s); events wait",
                      logger_pg_conn_error (self->dispatch));
    else
    if (ok && was_down)
        enp_log_info ("dispatcher: database reachable, delivering again");
    return ok? ENP_OK: ENP_EIO;
}

//  Write the ids of events as a uuid[] literal. Caller frees the result.
static char *
s_id_array (enp_event_t *const *events, size_t count)
{
    s_sql_t ids = { 0 };
    s_sql_add (&ids, "{");
    for (size_t index = 0; index < count; index++) {
        s_sql_add (&ids, index? ",": "");
        s_sql_add (&ids, enp_event_id (events [index]));
    }
    s_sql_add (&ids, "}");
    if (ids.failed) {
        free (ids.text);
        return NULL;
    }
    return ids.text;
}

//  Take up to max new events of this process, oldest first, leasing them
//  to the dispatcher as they are. Returns how many.
static size_t
s_fresh_take (logger_store_pg_t *self, enp_event_t **out, size_t max)
{
    s_fresh_t *taken = NULL, **tail = &taken;
    size_t count = 0;
    pthread_mutex_lock (&self->mutex);
    while (self->fresh_head && count < max) {
        s_fresh_t *fresh = self->fresh_head;
        self->fresh_head = fresh->next;
        if (!fresh->cancelled) {
            zhashx_delete (self->fresh_ids, enp_event_id (fresh->event));
            count++;
        }
        fresh->next = NULL;
        *tail = fresh;
        tail = &fresh->next;
    }
    if (!self->fresh_head) {
        self->fresh_tail = NULL;
        self->fresh_dropped = false;
    }
    pthread_mutex_unlock (&self->mutex);
    count = 0;
    while (taken) {
        s_fresh_t *fresh = taken;
        taken = taken->next;
        if (!fresh->cancelled) {
            char *lease = strdup (fresh->lease);
            if (lease)
                zhashx_update (self->leases, enp_event_id (fresh->event), lease);
            out [count++] = fresh->event;
            fresh->event = NULL;
        }
        enp_event_destroy (&fresh->event);
        free (fresh);
    }
    return count;
}

static enp_status_t
s_claim (void *self_, enp_event_t **out, size_t max, size_t *count_p)
{
    logger_store_pg_t *self = (logger_store_pg_t *) self_;
    assert (self);
    *count_p = 0;
    int64_t mono = enp_time_mono_ms ();
    if (self->marks && mono - self->marks_since >= S_MARK_DELAY_MS)
        s_marks_flush (self);
    //  New events first, from memory: no round trip
    size_t count = s_fresh_take (self, out, max);
    bool poll = self->claim_full || atomic_load (&self->due_now)
             || mono >= self->poll_at || mono >= self->sent_due_at;
    if (count == max || !poll) {
        *count_p = count;
        return ENP_OK;
    }
    self->claim_full = false;
    self->poll_at = mono + S_POLL_MS;
    self->sent_due_at = INT64_MAX;
    atomic_store (&self->due_now, false);
    if (s_dispatch_ready (self)) {
        *count_p = count;
        s_dispatch_result (self, false);
        return count? ENP_OK: ENP_EIO;
    }
    char limit [24], attempts [24], now [24], visibility [24];
    //  Not the new events just taken: with a short lease they may be due
    char *taken = s_id_array (out, count);
    const char *values [] = {
        s_int (limit, (int64_t) (max - count)),
        s_int (attempts, self->options.max_attempts),
        s_int (now, enp_time_now_ms ()), s_int (visibility, self->options.visibility_ms),
        taken? taken: "{}"
    };
    //  Due events that ran out of attempts fail; the others are leased.
    //  Both sets are picked with SKIP LOCKED: another logger's claim in
    //  progress is passed over, not waited for
    PGresult *result = logger_pg_conn_exec (self->dispatch,
        "WITH dead AS (UPDATE events e SET status = 'failed', due_at = NULL,"
        "  updated_at = " S_MS ("$3") " WHERE e.event_id = ANY (ARRAY ("
        "   SELECT d.event_id FROM events d WHERE d.status IN ('pending', 'queued')"
        "   AND d.due_at <= now () AND d.status = 'queued' AND d.attempts >= $2"
        "   ORDER BY d.due_at LIMIT $1 FOR UPDATE SKIP LOCKED))"
        "  RETURNING e.event_id),"
        " claimed AS (UPDATE events e SET due_at = now () + $4::int8"
        "  * interval '1 millisecond' WHERE e.event_id = ANY (ARRAY ("
        "   SELECT c.event_id FROM events c WHERE c.status IN ('pending', 'queued')"
        "   AND c.due_at <= now () AND (c.status = 'pending' OR c.attempts < $2)"
        "   AND c.event_id <> ALL ($5::uuid[])"
        "   ORDER BY c.due_at LIMIT $1 FOR UPDATE SKIP LOCKED))"
        "  RETURNING " S_COLUMNS ", (extract (epoch FROM e.due_at) * 1000000)::int8,"
        "  e.seq)"
        " SELECT * FROM claimed UNION ALL"
        " SELECT event_id::text, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,"
        " NULL FROM dead ORDER BY 10", 5, values);
    free (taken);
    if (!result) {
        *count_p = count;
        s_dispatch_result (self, false);
        return count? ENP_OK: ENP_EIO;
    }
    size_t claimed = 0;
    for (int row = 0; row < PQntuples (result); row++) {
        if (PQgetisnull (result, row, 1)) {
            enp_log_event_warn (PQgetvalue (result, row, 0),
                                "failed: no report after %u deliveries",
                                self->options.max_attempts);
            atomic_fetch_add (&self->failed_total, 1);
            continue;
        }
        if (count < max && (out [count] = s_row_event (result, row, 0))) {
            char *lease = strdup (PQgetvalue (result, row, S_COLUMN_COUNT));
            if (lease)
                zhashx_update (self->leases, enp_event_id (out [count]), lease);
            count++;
            claimed++;
        }
    }
    PQclear (result);
    self->claim_full = count == max && claimed > 0;
    *count_p = count;
    return s_dispatch_result (self, true);
}

//  Write marks as two array literals: {id,...} and {lease,...}. Returns 0,
//  or -1 when out of memory.
static int
s_mark_arrays (s_mark_t *marks, size_t count, char **ids_p, char **leases_p)
{
    s_sql_t ids = { 0 }, leases = { 0 };
    s_sql_add (&ids, "{");
    s_sql_add (&leases, "{");
    for (size_t index = 0; index < count; index++) {
        s_array_add (&ids, marks [index].event_id, index == 0);
        s_array_add (&leases, marks [index].lease, index == 0);
    }
    s_sql_add (&ids, "}");
    s_sql_add (&leases, "}");
    *ids_p = ids.text;
    *leases_p = leases.text;
    return ids.failed || leases.failed? -1: 0;
}

//  Note the lease each event went out under, forgetting it. Returns the
//  marks (caller frees), or NULL when out of memory.
static s_mark_t *
s_marks_of (logger_store_pg_t *self, enp_event_t *const *events, size_t count)
{
    s_mark_t *marks = (s_mark_t *) calloc (count? count: 1, sizeof (s_mark_t));
    for (size_t index = 0; marks && index < count; index++) {
        const char *id = enp_event_id (events [index]);
        const char *lease = (const char *) zhashx_lookup (self->leases, id);
        snprintf (marks [index].event_id, sizeof marks [index].event_id, "%s", id);
        snprintf (marks [index].lease, sizeof marks [index].lease, "%s",
                  lease? lease: "0");
        zhashx_delete (self->leases, id);
    }
    return marks;
}

//  Record the sends that wait, in one statement.
static enp_status_t
s_marks_flush (logger_store_pg_t *self)
{
    if (self->marks == 0)
        return ENP_OK;
    char *ids = NULL, *leases = NULL;
    bool ok = s_mark_arrays (self->marks_held, self->marks, &ids, &leases) == 0
           && s_dispatch_ready (self) == 0;
    char now [24], visibility [24];
    const char *values [] = { ids, leases, s_int (now, enp_time_now_ms ()),
                              s_int (visibility, self->options.visibility_ms) };
    PGresult *result = ok? logger_pg_conn_exec_prepared (self->dispatch, "mark",
                                                         4, values): NULL;
    ok = result != NULL;
    PQclear (result);
    free (ids);
    free (leases);
    if (!ok && !logger_pg_conn_lost (self->dispatch))
        enp_log_warn ("dispatcher: %zu sends not recorded (%s); they are"
                      " delivered again after their lease", self->marks,
                      logger_pg_conn_error (self->dispatch));
    self->marks = 0;
    return s_dispatch_result (self, ok);
}

//  Keep the sends to record them with the next ones: within S_MARK_DELAY_MS
//  a busy dispatcher writes one statement for many batches, and a status
//  report that comes first makes a send cost no write at all.
static enp_status_t
s_mark_sent (void *self_, enp_event_t *const *events, size_t count)
{
    logger_store_pg_t *self = (logger_store_pg_t *) self_;
    assert (self);
    int64_t mono = enp_time_mono_ms ();
    if (self->marks + count > self->marks_capacity) {
        size_t capacity = (self->marks + count) * 2;
        s_mark_t *grown = (s_mark_t *) realloc (self->marks_held,
                                                capacity * sizeof (s_mark_t));
        if (!grown)
            return ENP_ENOMEM;
        self->marks_held = grown;
        self->marks_capacity = capacity;
    }
    s_mark_t *marks = s_marks_of (self, events, count);
    if (!marks)
        return ENP_ENOMEM;
    if (self->marks == 0)
        self->marks_since = mono;
    memcpy (self->marks_held + self->marks, marks, count * sizeof (s_mark_t));
    self->marks += count;
    free (marks);
    for (size_t index = 0; index < count; index++)
        if (enp_event_attempts (events [index]) > 0)
            atomic_fetch_add (&self->redelivered_total, 1);
    //  Due again after the visibility timeout: look then, not only at the
    //  next poll
    int64_t due = mono + self->options.visibility_ms;
    if (due < self->sent_due_at)
        self->sent_due_at = due;
    if (self->marks >= S_MARK_MAX || mono - self->marks_since >= S_MARK_DELAY_MS)
        return s_marks_flush (self);
    return ENP_OK;
}

static enp_status_t
s_flush (void *self_)
{
    logger_store_pg_t *self = (logger_store_pg_t *) self_;
    assert (self);
    return s_marks_flush (self);
}

static enp_status_t
s_release (void *self_, enp_event_t *const *events, size_t count)
{
    logger_store_pg_t *self = (logger_store_pg_t *) self_;
    assert (self);
    s_mark_t *marks = s_marks_of (self, events, count);
    char *ids = NULL, *leases = NULL;
    bool ok = marks && s_mark_arrays (marks, count, &ids, &leases) == 0
           && s_dispatch_ready (self) == 0;
    const char *values [] = { ids, leases };
    PGresult *result = ok? logger_pg_conn_exec_prepared (self->dispatch,
                                                         "release", 2, values)
                         : NULL;
    free (ids);
    free (leases);
    free (marks);
    ok = result != NULL;
    if (ok)
        atomic_store (&self->due_now, true);
    PQclear (result);
    return s_dispatch_result (self, ok);
}

//  Another logger may leave events due at any time: look every S_POLL_MS,
//  or at once while claims come back full or this process made some due.
static int64_t
s_next_due (void *self_)
{
    logger_store_pg_t *self = (logger_store_pg_t *) self_;
    assert (self);
    pthread_mutex_lock (&self->mutex);
    bool fresh = self->fresh_head != NULL;
    pthread_mutex_unlock (&self->mutex);
    if (fresh || self->claim_full || atomic_load (&self->due_now))
        return 0;
    int64_t next = self->poll_at < self->sent_due_at? self->poll_at
                                                     : self->sent_due_at;
    if (self->marks && self->marks_since + S_MARK_DELAY_MS < next)
        next = self->marks_since + S_MARK_DELAY_MS;
    int64_t wait = next - enp_time_mono_ms ();
    return wait > 0? wait: 0;
}

static const char *
s_problem (void *self_)
{
    logger_store_pg_t *self = (logger_store_pg_t *) self_;
    assert (self);
    if (atomic_load (&self->up) == 0)
        return "the database is unreachable: new events get 503 until it is"
               " back (the logger's log says why)";
    if (atomic_load (&self->dispatch_down))
        return "the database is unreachable by the dispatcher: events are"
               " stored but not delivered";
    return NULL;
}

static void
s_destroy (void **self_p)
{
    logger_store_pg_destroy ((logger_store_pg_t **) self_p);
}

//  Return the engine's operations.
const logger_store_engine_t *
logger_store_pg_engine (void)
{
    static const logger_store_engine_t engine = {
        .name = "postgresql",
        .durable = 1,
        .destroy = s_destroy,
        .insert = s_insert,
        .insert_many = s_insert_many,
        .get = s_get,
        .set_status = s_set_status,
        .set_status_many = s_set_status_many,
        .list = s_list,
        .stats = s_stats,
        .claim = s_claim,
        .mark_sent = s_mark_sent,
        .flush = s_flush,
        .release = s_release,
        .next_due = s_next_due,
        .problem = s_problem
    };
    return &engine;
}
