/*  test_store_faults - what each store keeps when the logger stops or dies

    Real binaries on free loopback ports. With the memory store a stopping
    logger must say, at error level, how many unprocessed events it drops.
    With the PostgreSQL store (a cluster this suite starts), while 5,000
    events stream in, each with its own Idempotency-Key and retried until
    it gets a 201:
    - the logger is killed (SIGKILL) and started again;
    - the database is stopped and started again (503s meanwhile);
    - of two loggers on one database, one is killed for good;
    and every event ends processed, each key created exactly once.
*/
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "enp_time.h"
#include "testkit.h"
#include "testkit_pg.h"

#define S_EVENTS        5000
#define S_STREAMERS     4
#define S_UUID_SIZE     37
#define S_FAULT_AT      (S_EVENTS * 2 / 5)  //  created when the fault comes

static testkit_pg_t *s_pg;
static char s_database [64];
static char s_store_url [512];

//  Logger flags of the fault cases: lost deliveries come back quickly
#define S_LOGGER_FLAGS "--store", s_store_url, "--visibility-timeout", "2", \
    "--max-attempts", "30", "--request-timeout", "3000", "--log-level", "warn"

//  One of the clients posting the stream. Each key is retried, on the
//  next logger when one stops answering, until it gets a 201.
typedef struct {
    testkit_pipeline_t *pipeline;
    int first, count;               //  its keys
    int target;                     //  the logger it posts to
    int loggers;                    //  how many it may fail over between
    char (*ids) [S_UUID_SIZE];      //  event id per key, from the 201
    atomic_int *created;            //  201s of every streamer
    atomic_int *unavailable;        //  503s of every streamer
    int64_t deadline;               //  give up after (monotonic ms)
    int missing;                    //  keys that never got a 201
} s_streamer_t;

//  POST one small event to the logger at base; return the HTTP status.
static long
s_post (const char *base, int number)
{
    char url [128], body [128];
    snprintf (url, sizeof url, "%s/events", base);
    snprintf (body, sizeof body, "{\"user_id\":\"u%d\",\"description\":"
              "\"event %d\"}", number % 10, number);
    testkit_response_t response;
    testkit_http ("POST", url, "application/json", body, strlen (body), NULL,
                  &response);
    long code = response.code;
    testkit_response_free (&response);
    return code;
}

//  Return the line of a file that holds text (caller frees), or NULL.
static char *
s_find_line (const char *path, const char *text)
{
    FILE *file = fopen (path, "r");
    char line [1024];
    char *found = NULL;
    while (file && !found && fgets (line, sizeof line, file))
        if (strstr (line, text))
            found = strdup (line);
    if (file)
        fclose (file);
    return found;
}

//  A logger with the memory store, stopped with events nobody processed,
//  says how many it drops, at error level.
START_TEST (test_store_faults_memory_stop_reports_loss)
{
    testkit_pipeline_t *pipeline = testkit_pipeline_new ();
    ck_assert_ptr_nonnull (pipeline);
    //  No broker: every event stays pending
    ck_assert_int_gt (testkit_pipeline_start_logger (pipeline, NULL), 0);
    for (int index = 0; index < 7; index++)
        ck_assert_int_eq (s_post (testkit_pipeline_base (pipeline), index), 201);
    ck_assert_int_eq (testkit_pipeline_stop (pipeline), 0);
    char log [512];
    snprintf (log, sizeof log, "%s/logger.log", testkit_pipeline_dir (pipeline));
    char *line = s_find_line (log, "dropping 7 unprocessed events");
    ck_assert_msg (line != NULL, "no loss report in %s", log);
    ck_assert_ptr_nonnull (strstr (line, " error "));
    ck_assert_ptr_nonnull (strstr (line, "7 pending"));
    free (line);
    testkit_pipeline_destroy (&pipeline);
}
END_TEST

//  Post one event with a key; return the status and copy the id of a 201.
static long
s_post_keyed (const char *base, int key, char *id)
{
    char url [128], body [128], header [96];
    snprintf (url, sizeof url, "%s/events", base);
    snprintf (body, sizeof body, "{\"user_id\":\"u%d\",\"description\":"
              "\"fault stream %d\"}", key % 10, key);
    snprintf (header, sizeof header, "Idempotency-Key: fault-%d", key);
    testkit_response_t response;
    testkit_http ("POST", url, "application/json", body, strlen (body), header,
                  &response);
    long code = response.code;
    const char *found = response.body? strstr (response.body, "\"event_id\":\""): NULL;
    if (code == 201 && found)
        snprintf (id, S_UUID_SIZE, "%.36s", found + 12);
    testkit_response_free (&response);
    return code;
}

//  A streamer: post its keys in order, each until it gets a 201.
static void *
s_stream (void *arg)
{
    s_streamer_t *self = (s_streamer_t *) arg;
    for (int index = 0; index < self->count; index++) {
        int key = self->first + index;
        while (true) {
            const char *base = testkit_pipeline_base_at (self->pipeline,
                                                         self->target);
            long code = s_post_keyed (base, key, self->ids [index]);
            if (code == 201) {
                atomic_fetch_add (self->created, 1);
                break;
            }
            if (code == 503)
                atomic_fetch_add (self->unavailable, 1);
            else
            if (code == 0 && self->loggers > 1)
                self->target = (self->target + 1) % self->loggers;
            if (enp_time_mono_ms () > self->deadline) {
                self->missing++;
                break;
            }
            usleep (50000);
        }
    }
    return NULL;
}

//  Start the streamers on the pipeline's loggers.
static void
s_streams_start (s_streamer_t *streamers, pthread_t *threads,
                 testkit_pipeline_t *pipeline, int loggers,
                 char (*ids) [S_UUID_SIZE], atomic_int *created,
                 atomic_int *unavailable)
{
    int per = S_EVENTS / S_STREAMERS;
    for (int index = 0; index < S_STREAMERS; index++) {
        streamers [index] = (s_streamer_t) {
            .pipeline = pipeline, .first = index * per, .count = per,
            .target = index % loggers, .loggers = loggers,
            .ids = ids + index * per, .created = created,
            .unavailable = unavailable,
            .deadline = enp_time_mono_ms () + 240000
        };
        ck_assert_int_eq (pthread_create (&threads [index], NULL, s_stream,
                                          &streamers [index]), 0);
    }
}

//  Wait for the streamers; every key must have had its 201.
static void
s_streams_join (s_streamer_t *streamers, pthread_t *threads)
{
    for (int index = 0; index < S_STREAMERS; index++) {
        pthread_join (threads [index], NULL);
        ck_assert_int_eq (streamers [index].missing, 0);
    }
}

//  Wait until count reaches at least value (for a fault mid-stream).
static void
s_wait_count (atomic_int *count, int value)
{
    int64_t deadline = enp_time_mono_ms () + 120000;
    while (atomic_load (count) < value && enp_time_mono_ms () < deadline)
        usleep (10000);
    ck_assert_int_ge (atomic_load (count), value);
}

//  Count the stream's events in the database with a condition.
static long
s_count (const char *condition)
{
    char sql [256];
    snprintf (sql, sizeof sql, "SELECT count (*) FROM events WHERE"
              " idempotency_key LIKE 'fault-%%' AND %s", condition);
    return testkit_pg_count (s_pg, s_database, sql);
}

//  Every key was created once, every id the clients got exists, and every
//  event ends processed.
static void
s_assert_all_processed (char (*ids) [S_UUID_SIZE])
{
    int64_t deadline = enp_time_mono_ms () + 180000;
    long processed = 0;
    while ((processed = s_count ("status = 'processed'")) < S_EVENTS
       &&  enp_time_mono_ms () < deadline)
        usleep (200000);
    fprintf (stderr, "  %ld of %d processed; by status: pending %ld, queued"
             " %ld, failed %ld; attempts beyond the first: %ld\n", processed,
             S_EVENTS, s_count ("status = 'pending'"),
             s_count ("status = 'queued'"), s_count ("status = 'failed'"),
             testkit_pg_count (s_pg, s_database, "SELECT coalesce (sum"
                               " (attempts - 1), 0) FROM events"));
    ck_assert_int_eq (s_count ("true"), S_EVENTS);
    ck_assert_int_eq (testkit_pg_count (s_pg, s_database,
                      "SELECT count (DISTINCT idempotency_key) FROM events"),
                      S_EVENTS);
    ck_assert_int_eq (processed, S_EVENTS);
    //  The ids the clients were given are those events, all distinct
    size_t size = (size_t) S_EVENTS * (S_UUID_SIZE + 1) + 256;
    char *sql = malloc (size);
    char *cursor = sql + sprintf (sql, "SELECT count (DISTINCT event_id) FROM"
                                  " events WHERE status = 'processed' AND"
                                  " event_id = ANY ('{");
    for (int index = 0; index < S_EVENTS; index++)
        cursor += sprintf (cursor, "%s%s", index? ",": "", ids [index]);
    sprintf (cursor, "}'::uuid[])");
    ck_assert_int_eq (testkit_pg_count (s_pg, s_database, sql), S_EVENTS);
    free (sql);
}

//  A pipeline with the PostgreSQL store: broker, loggers, two processors
//  (processor i reports to logger i % loggers).
static testkit_pipeline_t *
s_durable_pipeline (int loggers)
{
    static int cases = 0;
    snprintf (s_database, sizeof s_database, "faults_%d_%d", (int) getpid (),
              ++cases);
    char sql [128];
    snprintf (sql, sizeof sql, "CREATE DATABASE %s", s_database);
    ck_assert_int_eq (testkit_pg_exec (s_pg, "postgres", sql), 0);
    testkit_pg_url (s_pg, s_database, s_store_url, sizeof s_store_url);
    testkit_pipeline_t *pipeline = testkit_pipeline_new ();
    ck_assert_ptr_nonnull (pipeline);
    ck_assert_int_gt (testkit_pipeline_start_broker (pipeline), 0);
    const char *const flags [] = { S_LOGGER_FLAGS, NULL };
    for (int index = 0; index < loggers; index++)
        ck_assert_int_gt (testkit_pipeline_start_logger_at (pipeline, index,
                                                            flags), 0);
    for (int index = 0; index < 2; index++) {
        const char *const processor [] = { "--report-backoff", "50",
            "--report-retries", "3", "--logger-url",
            testkit_pipeline_base_at (pipeline, index % loggers), NULL };
        ck_assert_int_gt (testkit_pipeline_start_processor (pipeline, index,
                                                            processor), 0);
    }
    return pipeline;
}

//  A stream under way: the pipeline, its clients and what they were given.
typedef struct {
    testkit_pipeline_t *pipeline;
    char (*ids) [S_UUID_SIZE];      //  event id per key
    atomic_int created, unavailable;
    s_streamer_t streamers [S_STREAMERS];
    pthread_t threads [S_STREAMERS];
    bool joined;                    //  the stream has ended
} s_fault_t;

//  Start a durable pipeline with this many loggers and the stream, and
//  return once S_FAULT_AT events were created: time for the fault.
static s_fault_t *
s_fault_begin (int loggers)
{
    s_fault_t *self = (s_fault_t *) calloc (1, sizeof (s_fault_t));
    ck_assert_ptr_nonnull (self);
    self->pipeline = s_durable_pipeline (loggers);
    self->ids = calloc (S_EVENTS, S_UUID_SIZE);
    ck_assert_ptr_nonnull (self->ids);
    s_streams_start (self->streamers, self->threads, self->pipeline, loggers,
                     self->ids, &self->created, &self->unavailable);
    s_wait_count (&self->created, S_FAULT_AT);
    return self;
}

//  Wait for the stream to end: every key must have had its 201.
static void
s_fault_join (s_fault_t *self)
{
    if (!self->joined)
        s_streams_join (self->streamers, self->threads);
    self->joined = true;
}

//  Let the stream end; every event must end processed, each key stored
//  once; then stop everything (each service must exit 0).
static void
s_fault_end (s_fault_t **self_p)
{
    s_fault_t *self = *self_p;
    s_fault_join (self);
    fprintf (stderr, "  %d answers were 503\n", atomic_load (&self->unavailable));
    s_assert_all_processed (self->ids);
    ck_assert_int_eq (testkit_pipeline_stop (self->pipeline), 0);
    testkit_pipeline_destroy (&self->pipeline);
    free (self->ids);
    free (self);
    *self_p = NULL;
}

//  kill -9 the logger mid-stream and start it again: nothing is lost and
//  nothing is created twice.
START_TEST (test_store_faults_logger_killed)
{
    s_fault_t *fault = s_fault_begin (1);
    testkit_pipeline_kill (fault->pipeline,
                           testkit_pipeline_logger (fault->pipeline));
    fprintf (stderr, "logger killed after %d created\n",
             atomic_load (&fault->created));
    const char *const flags [] = { S_LOGGER_FLAGS, NULL };
    ck_assert_int_gt (testkit_pipeline_start_logger (fault->pipeline, flags), 0);
    s_fault_end (&fault);
}
END_TEST

//  The database stops mid-stream: 503s while it is away, then every
//  event is processed.
START_TEST (test_store_faults_database_restarted)
{
    s_fault_t *fault = s_fault_begin (1);
    ck_assert_int_eq (testkit_pg_stop (s_pg), 0);
    fprintf (stderr, "database stopped after %d created\n",
             atomic_load (&fault->created));
    //  The clients see 503s while it is away
    s_wait_count (&fault->unavailable, 1);
    ck_assert_int_eq (testkit_pg_start (s_pg), 0);
    s_fault_end (&fault);
}
END_TEST

//  Two loggers on one database, one killed for good: the other delivers
//  what it had in flight, and nothing is lost.
START_TEST (test_store_faults_two_loggers_one_killed)
{
    s_fault_t *fault = s_fault_begin (2);
    testkit_pipeline_kill (fault->pipeline,
                           testkit_pipeline_logger_at (fault->pipeline, 0));
    fprintf (stderr, "first logger killed after %d created\n",
             atomic_load (&fault->created));
    //  The survivor redelivers what the dead one's worker never reported
    char metrics [128];
    snprintf (metrics, sizeof metrics, "%s/metrics",
              testkit_pipeline_base_at (fault->pipeline, 1));
    s_fault_join (fault);
    int64_t deadline = enp_time_mono_ms () + 120000;
    while (testkit_metric (metrics, "events_redelivered_total") <= 0
       &&  enp_time_mono_ms () < deadline)
        usleep (100000);
    ck_assert_int_gt ((int) testkit_metric (metrics, "events_redelivered_total"), 0);
    s_fault_end (&fault);
}
END_TEST

int
main (void)
{
    s_pg = testkit_pg_new ();
    if (!s_pg)
        return EXIT_FAILURE;
    const TTest *tests [] = {
        test_store_faults_memory_stop_reports_loss,
        test_store_faults_logger_killed,
        test_store_faults_database_restarted,
        test_store_faults_two_loggers_one_killed,
        NULL
    };
    int rc = testkit_run (testkit_suite ("store_faults", 420, tests));
    testkit_pg_destroy (&s_pg);
    return rc;
}
