/*  test_faults - faults injected into the real pipeline lose no event

    Each case starts the real services on free loopback ports with a short
    visibility timeout, streams events, injects one fault - a processor
    killed with SIGKILL, the broker killed and restarted, the logger started
    before any broker, the logger frozen with SIGSTOP, 200 slow or idle
    connections - and checks that every accepted event ends processed. The
    cases print how many deliveries were repeated to get there. Last, idle
    connections to the metrics endpoints must not fail their health check.
*/
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include "enp_time.h"
#include "testkit.h"

#define S_PROCESSORS 2

typedef struct {
    const char *base;
    int count;                      //  events to post
    int created;                    //  answered 201
    int refused;                    //  anything else
} s_stream_t;

//  Start the logger, with a short visibility timeout so lost deliveries
//  come again quickly.
static void
s_start_logger (testkit_pipeline_t *pipeline)
{
    const char *const flags [] = { "--visibility-timeout", "2",
        "--max-attempts", "20", "--request-timeout", "2000", NULL };
    ck_assert_msg (testkit_pipeline_start_logger (pipeline, flags) > 0,
                   "logger did not start");
}

//  Start the processors with these flags.
static void
s_start_processors_with (testkit_pipeline_t *pipeline, const char *const flags [])
{
    for (int index = 0; index < S_PROCESSORS; index++)
        ck_assert_int_gt (testkit_pipeline_start_processor (pipeline, index, flags), 0);
}

//  Start the processors, retrying reports quickly.
static void
s_start_processors (testkit_pipeline_t *pipeline)
{
    const char *const flags [] = { "--report-backoff", "50", NULL };
    s_start_processors_with (pipeline, flags);
}

//  Start the whole pipeline: broker, logger, processors.
static testkit_pipeline_t *
s_pipeline_start (void)
{
    testkit_pipeline_t *pipeline = testkit_pipeline_new ();
    ck_assert_ptr_nonnull (pipeline);
    testkit_pipeline_start_broker (pipeline);
    s_start_logger (pipeline);
    s_start_processors (pipeline);
    return pipeline;
}

//  Stop whatever still runs; every service must exit 0 on SIGTERM.
static void
s_pipeline_stop (testkit_pipeline_t **pipeline_p)
{
    ck_assert_int_eq (testkit_pipeline_stop (*pipeline_p), 0);
    testkit_pipeline_destroy (pipeline_p);
}

//  Read one sample from the logger's /metrics, or -1.
static double
s_metric (testkit_pipeline_t *pipeline, const char *name)
{
    char url [96];
    snprintf (url, sizeof url, "%s/metrics", testkit_pipeline_base (pipeline));
    return testkit_metric (url, name);
}

//  Post events one after another (run in a thread).
static void *
s_stream (void *arg)
{
    s_stream_t *stream = (s_stream_t *) arg;
    char url [96];
    snprintf (url, sizeof url, "%s/events", stream->base);
    for (int index = 0; index < stream->count; index++) {
        char body [128];
        snprintf (body, sizeof body, "{\"user_id\":\"u%d\",\"description\":"
                  "\"event %d\"}", index % 10, index);
        testkit_response_t response;
        if (testkit_http ("POST", url, "application/json", body, strlen (body),
                          NULL, &response) == 0 && response.code == 201)
            stream->created++;
        else
            stream->refused++;
        testkit_response_free (&response);
    }
    return NULL;
}

//  Wait until the logger has created events and all are processed.
static void
s_assert_all_processed (testkit_pipeline_t *pipeline, int created,
                        const char *fault)
{
    int64_t deadline = enp_time_mono_ms () + 90000;
    double processed = 0;
    while (enp_time_mono_ms () < deadline) {
        processed = s_metric (pipeline, "events_in_store{status=\"processed\"}");
        if ((int) processed == created)
            break;
        usleep (200 * 1000);
    }
    double total = s_metric (pipeline, "events_created_total");
    double failed = s_metric (pipeline, "events_failed_total");
    double redelivered = s_metric (pipeline, "events_redelivered_total");
    fprintf (stderr, "fault '%s': %d accepted, %.0f processed, %.0f lost,"
             " %.0f failed, %.0f redelivered\n", fault, created, processed,
             created - processed, failed, redelivered);
    ck_assert_int_eq ((int) total, created);
    ck_assert_int_eq ((int) failed, 0);
    ck_assert_int_eq ((int) processed, created);
}

//  Count notification lines over every processor's output.
static long
s_lines (testkit_pipeline_t *pipeline)
{
    long total = 0;
    for (int index = 0; index < S_PROCESSORS; index++) {
        long lines = testkit_count_lines (testkit_pipeline_output (pipeline, index));
        total += lines > 0? lines: 0;
    }
    return total;
}

//  Wait until the logger has accepted at least count events.
static void
s_wait_created (testkit_pipeline_t *pipeline, int count)
{
    int64_t deadline = enp_time_mono_ms () + 30000;
    while (enp_time_mono_ms () < deadline
       &&  s_metric (pipeline, "events_created_total") < count)
        usleep (20 * 1000);
}

//  A fault to inject into a running pipeline.
typedef void (s_fault_t) (testkit_pipeline_t *pipeline);

//  Post the stream's events from a thread; once the logger has created
//  `after` of them, inject the fault; return when all have been posted.
static void
s_stream_with_fault (testkit_pipeline_t *pipeline, s_stream_t *stream,
                     int after, s_fault_t *fault)
{
    stream->base = testkit_pipeline_base (pipeline);
    pthread_t thread;
    ck_assert_int_eq (pthread_create (&thread, NULL, s_stream, stream), 0);
    s_wait_created (pipeline, after);
    fault (pipeline);
    pthread_join (thread, NULL);
}

//  Fault: a processor killed with SIGKILL while it holds events. A fast
//  processor often holds none at a given instant, so it is frozen first
//  for 300 ms: the broker keeps handing it events (up to the pipes'
//  high-water marks), which die with it and must be redelivered.
static void
s_kill_processor (testkit_pipeline_t *pipeline)
{
    pid_t processor = testkit_pipeline_processor (pipeline, 1);
    kill (processor, SIGSTOP);
    usleep (300 * 1000);
    testkit_pipeline_kill (pipeline, processor);
}

//  Fault: the broker killed with SIGKILL, and started again after 500 ms.
static void
s_restart_broker (testkit_pipeline_t *pipeline)
{
    testkit_pipeline_kill (pipeline, testkit_pipeline_broker (pipeline));
    usleep (500 * 1000);                //  Events pile up as pending meanwhile
    testkit_pipeline_start_broker (pipeline);
}

//  Fault: the logger frozen for longer than the processors' request timeout
//  (5 s), so their reports fail and must be retried.
static void
s_freeze_logger (testkit_pipeline_t *pipeline)
{
    kill (testkit_pipeline_logger (pipeline), SIGSTOP);
    sleep (6);
    kill (testkit_pipeline_logger (pipeline), SIGCONT);
}

START_TEST (test_faults_processor_killed)
{
    testkit_pipeline_t *pipeline = s_pipeline_start ();
    s_stream_t stream = { .count = 5000 };
    s_stream_with_fault (pipeline, &stream, 1500, s_kill_processor);
    ck_assert_int_eq (stream.created, 5000);
    s_assert_all_processed (pipeline, stream.created, "processor killed with SIGKILL");
    //  What the killed processor held came back through redelivery
    ck_assert_int_gt ((int) s_metric (pipeline, "events_redelivered_total"), 0);
    //  At least once: every event printed, some maybe twice across workers
    ck_assert_int_ge (s_lines (pipeline), 5000);
    s_pipeline_stop (&pipeline);
}
END_TEST

START_TEST (test_faults_broker_restarted)
{
    testkit_pipeline_t *pipeline = s_pipeline_start ();
    s_stream_t stream = { .count = 5000 };
    s_stream_with_fault (pipeline, &stream, 1500, s_restart_broker);
    ck_assert_int_eq (stream.created, 5000);
    s_assert_all_processed (pipeline, stream.created, "broker killed and restarted");
    ck_assert_int_ge (s_lines (pipeline), 5000);
    s_pipeline_stop (&pipeline);
}
END_TEST

START_TEST (test_faults_logger_before_broker)
{
    testkit_pipeline_t *pipeline = testkit_pipeline_new ();
    ck_assert_ptr_nonnull (pipeline);
    s_start_logger (pipeline);
    char url [96];
    snprintf (url, sizeof url, "%s/readyz", testkit_pipeline_base (pipeline));
    testkit_response_t response;
    ck_assert_int_eq (testkit_http ("GET", url, NULL, NULL, 0, NULL, &response), 0);
    ck_assert_int_eq (response.code, 503);      //  Alive, accepting, not ready
    testkit_response_free (&response);
    s_stream_t stream = { .base = testkit_pipeline_base (pipeline), .count = 1000 };
    s_stream (&stream);
    ck_assert_int_eq (stream.created, 1000);
    ck_assert_int_eq ((int) s_metric (pipeline, "events_in_store{status=\"pending\"}"), 1000);

    testkit_pipeline_start_broker (pipeline);
    s_start_processors (pipeline);
    ck_assert_int_eq (testkit_wait_http (url, 10000), 0);   //  Ready now
    s_assert_all_processed (pipeline, stream.created, "logger started before the broker");
    s_pipeline_stop (&pipeline);
}
END_TEST

START_TEST (test_faults_logger_stopped)
{
    testkit_pipeline_t *pipeline = s_pipeline_start ();
    s_stream_t stream = { .count = 3000 };
    s_stream_with_fault (pipeline, &stream, 1000, s_freeze_logger);
    ck_assert_int_eq (stream.created + stream.refused, 3000);
    s_assert_all_processed (pipeline, stream.created, "logger frozen with SIGSTOP for 6 s");
    s_pipeline_stop (&pipeline);
}
END_TEST

//  Return true while pid runs (a crashed child is a zombie until reaped:
//  /proc says so).
static bool
s_alive (pid_t pid)
{
    char path [64], state = '?';
    snprintf (path, sizeof path, "/proc/%d/stat", (int) pid);
    FILE *file = fopen (path, "r");
    if (file && fscanf (file, "%*d (%*[^)]) %c", &state) != 1)
        state = '?';
    if (file)
        fclose (file);
    return file && state != 'Z' && state != 'X';
}

//  The logger frozen (SIGSTOP) for longer than the ZeroMQ heartbeat timeout
//  while processors drain a backlog from the broker: their reports hang,
//  but they must keep reading the broker, or libzmq 4.3.4 replaces the
//  stalled connection and can abort the process (_input_stopped, libzmq
//  issue 3937) when reading resumes. Every processor stays alive and every
//  event ends processed. With report_queue set, the processors' report
//  queue is that small, so it fills during the freeze: they stop reading
//  and must do so without taking the crash path either.
static void
s_frozen_backlog (const char *report_queue, int rounds)
{
    testkit_pipeline_t *pipeline = testkit_pipeline_new ();
    ck_assert_ptr_nonnull (pipeline);
    testkit_pipeline_start_broker (pipeline);
    s_start_logger (pipeline);
    const char *const flags [] = { "--report-backoff", "50",
        report_queue? "--report-queue": NULL, report_queue, NULL };
    int created = 0;
    for (int round = 0; round < rounds; round++) {
        //  A backlog in the broker, then the logger frozen, then the
        //  processors started on the backlog
        s_stream_t stream = { .base = testkit_pipeline_base (pipeline), .count = 3000 };
        s_stream (&stream);
        ck_assert_int_eq (stream.created, 3000);
        created += stream.created;
        int64_t deadline = enp_time_mono_ms () + 30000;
        while (s_metric (pipeline, "events_in_store{status=\"pending\"}") > 0
           &&  enp_time_mono_ms () < deadline)
            usleep (20 * 1000);
        pid_t logger = testkit_pipeline_logger (pipeline);
        kill (logger, SIGSTOP);
        long printed = s_lines (pipeline);
        s_start_processors_with (pipeline, flags);
        //  The processors have taken events (and their reports hang)...
        deadline = enp_time_mono_ms () + 30000;
        while (s_lines (pipeline) == printed && enp_time_mono_ms () < deadline)
            usleep (20 * 1000);
        ck_assert_int_gt (s_lines (pipeline), printed);
        //  ...for three heartbeat timeouts (3 s each)
        sleep (10);
        kill (logger, SIGCONT);
        s_assert_all_processed (pipeline, created, report_queue
                                ? "logger frozen for 10 s, report queue full"
                                : "logger frozen for 10 s over a backlog");
        //  A small queue filled: a processor left the broker meanwhile
        if (report_queue) {
            int paused = 0;
            for (int index = 0; index < S_PROCESSORS; index++) {
                char name [32];
                snprintf (name, sizeof name, "processor-%d.log", index);
                paused += testkit_pipeline_wait_log (pipeline, name,
                              "disconnecting from the broker", 0) == 0;
            }
            ck_assert_int_gt (paused, 0);
        }
        for (int index = 0; index < S_PROCESSORS; index++) {
            pid_t processor = testkit_pipeline_processor (pipeline, index);
            ck_assert_msg (s_alive (processor), "processor %d died (see %s)",
                           index, testkit_pipeline_dir (pipeline));
            ck_assert_int_eq (testkit_pipeline_stop_processor (pipeline, index), 0);
        }
    }
    s_pipeline_stop (&pipeline);
}

START_TEST (test_faults_logger_frozen_backlog)
{
    s_frozen_backlog (NULL, 2);
}
END_TEST

START_TEST (test_faults_logger_frozen_queue_full)
{
    s_frozen_backlog ("1000", 2);
}
END_TEST

//  Count the sockets the server has closed (or answered); the others are
//  still open and silent. Never blocks.
static int
s_count_closed (const int *sockets, int count)
{
    int closed = 0;
    for (int index = 0; index < count; index++) {
        char byte;
        ssize_t rc = recv (sockets [index], &byte, 1, MSG_DONTWAIT | MSG_PEEK);
        if (rc >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
            closed++;
    }
    return closed;
}

//  200 stalled connections do not keep normal requests waiting: those are
//  served while every stall is still open (so not by waiting for the
//  server to drop them), and the stalls are dropped after the request
//  timeout.
START_TEST (test_faults_slowloris)
{
    testkit_pipeline_t *pipeline = testkit_pipeline_new ();
    ck_assert_ptr_nonnull (pipeline);
    testkit_pipeline_start_broker (pipeline);
    //  A request timeout far longer than the normal requests below take,
    //  even on a slow machine: had they waited for the stalls to be
    //  dropped, the stalls would be closed by then
    const char *const flags [] = { "--request-timeout", "5000", NULL };
    ck_assert_msg (testkit_pipeline_start_logger (pipeline, flags) > 0,
                   "logger did not start");
    //  100 idle connections and 100 that send half a request, then stall,
    //  from four other addresses than the normal client's (one address may
    //  hold only a quarter of the logger's threads, 128)
    int sockets [200];
    const char *sources [] = { "127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5" };
    for (int index = 0; index < 200; index++) {
        sockets [index] = testkit_connect_from (testkit_pipeline_http_port (pipeline),
                                                sources [index % 4], 2000);
        ck_assert_int_ge (sockets [index], 0);
        if (index % 2) {
            const char *partial = "POST /events HTTP/1.1\r\nHost: x\r\n"
                                  "Content-Type: application/json\r\nContent-Le";
            ck_assert_int_gt (write (sockets [index], partial, strlen (partial)), 0);
        }
    }
    //  Give the server a moment to take the stalls on (setup, not a check)
    usleep (200 * 1000);
    char url [96];
    snprintf (url, sizeof url, "%s/events", testkit_pipeline_base (pipeline));
    const char *body = "{\"user_id\":\"u1\",\"description\":\"still served\"}";
    long worst = 0;
    for (int attempt = 0; attempt < 10; attempt++) {
        int64_t start = enp_time_mono_ms ();
        testkit_response_t response;
        ck_assert_int_eq (testkit_http ("POST", url, "application/json", body,
                                        strlen (body), NULL, &response), 0);
        ck_assert_int_eq (response.code, 201);
        testkit_response_free (&response);
        long elapsed = (long) (enp_time_mono_ms () - start);
        worst = elapsed > worst? elapsed: worst;
    }
    fprintf (stderr, "fault 'slowloris': 200 stalled connections, worst normal"
             " request %ld ms\n", worst);
    ck_assert_int_eq (s_count_closed (sockets, 200), 0);
    //  After the request timeout the server drops them
    int closed = 0;
    int64_t deadline = enp_time_mono_ms () + 60000;
    while ((closed = s_count_closed (sockets, 200)) < 190
       &&  enp_time_mono_ms () < deadline)
        usleep (100 * 1000);
    for (int index = 0; index < 200; index++)
        close (sockets [index]);
    fprintf (stderr, "fault 'slowloris': %d of 200 stalled connections dropped"
             " by the server after the request timeout\n", closed);
    ck_assert_int_ge (closed, 190);
    s_pipeline_stop (&pipeline);
}
END_TEST

#define S_IDLE_CONNECTIONS 32

//  Start app with argv (NULL-terminated, after the binary) and a metrics
//  port of its own; hold S_IDLE_CONNECTIONS idle connections to that port
//  and return what --healthcheck on it exits with.
static int
s_healthcheck_while_idle (const char *app, const char *const flags [],
                          const char *log)
{
    char port [16];
    snprintf (port, sizeof port, "%d", testkit_free_port ());
    char *argv [16];
    size_t count = 0;
    argv [count++] = strdup (testkit_bin (app));
    for (size_t index = 0; flags [index] && count < 12; index++)
        argv [count++] = (char *) flags [index];
    argv [count++] = "--metrics-port";
    argv [count++] = port;
    argv [count] = NULL;
    pid_t pid = testkit_spawn (argv, NULL, log);
    ck_assert_int_gt (pid, 0);
    char url [64];
    snprintf (url, sizeof url, "http://127.0.0.1:%s/healthz", port);
    ck_assert_msg (testkit_wait_http (url, 10000) == 0, "%s never served", app);
    int fds [S_IDLE_CONNECTIONS];
    for (int index = 0; index < S_IDLE_CONNECTIONS; index++) {
        fds [index] = testkit_connect (atoi (port));
        ck_assert_int_ge (fds [index], 0);
    }
    char *check [] = { argv [0], "--healthcheck", "--metrics-port", port, NULL };
    int status = testkit_wait (testkit_spawn (check, NULL, log), 10000);
    for (int index = 0; index < S_IDLE_CONNECTIONS; index++)
        close (fds [index]);
    ck_assert_int_eq (testkit_stop (pid, 5000), 0);
    free (argv [0]);
    return status;
}

//  Idle connections to a broker's or processor's metrics port (a scraper
//  that hangs, or anyone) do not make its health check fail.
START_TEST (test_faults_idle_metrics_connections)
{
    char *dir = testkit_tmpdir ();
    char log [512];
    snprintf (log, sizeof log, "%s/idle.log", dir);
    char front [64], back [64];
    snprintf (front, sizeof front, "tcp://127.0.0.1:%d", testkit_free_port ());
    snprintf (back, sizeof back, "tcp://127.0.0.1:%d", testkit_free_port ());
    const char *const broker [] = { "--frontend", front, "--backend", back, NULL };
    ck_assert_int_eq (s_healthcheck_while_idle ("queue-broker", broker, log), 0);
    const char *const processor [] = { "--broker", back, NULL };
    ck_assert_int_eq (s_healthcheck_while_idle ("notification-processor",
                                                processor, log), 0);
    unlink (log);
    rmdir (dir);
    free (dir);
}
END_TEST

int
main (void)
{
    const TTest *tests [] = {
        test_faults_processor_killed,
        test_faults_broker_restarted,
        test_faults_logger_before_broker,
        test_faults_logger_stopped,
        test_faults_logger_frozen_backlog,
        test_faults_logger_frozen_queue_full,
        test_faults_slowloris,
        test_faults_idle_metrics_connections,
        NULL
    };
    return testkit_run (testkit_suite ("faults", 150, tests));
}
