/*  test_faults - faults injected into the real pipeline lose no event

    Each case starts the real services on free loopback ports with a short
    visibility timeout, streams events, injects one fault - a processor
    killed with SIGKILL, the broker killed and restarted, the logger started
    before any broker, the logger frozen with SIGSTOP, 200 slow or idle
    connections - and checks that every accepted event ends processed. The
    cases print how many deliveries were repeated to get there.
*/
#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <jansson.h>
#include "testkit.h"

#define S_PROCESSORS 2

typedef struct {
    char *dir;                      //  logs and outputs
    int http_port, front_port, back_port;
    char base [64];                 //  http://127.0.0.1:port
    char front [64], back [64];     //  tcp://127.0.0.1:port
    pid_t broker, logger, processors [S_PROCESSORS];
} s_pipeline_t;

typedef struct {
    const char *base;
    int count;                      //  events to post
    int created;                    //  answered 201
    int refused;                    //  anything else
} s_stream_t;

static long
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void
s_pipeline_init (s_pipeline_t *self)
{
    memset (self, 0, sizeof *self);
    self->dir = testkit_tmpdir ();
    self->http_port = testkit_free_port ();
    self->front_port = testkit_free_port ();
    self->back_port = testkit_free_port ();
    snprintf (self->base, sizeof self->base, "http://127.0.0.1:%d", self->http_port);
    snprintf (self->front, sizeof self->front, "tcp://127.0.0.1:%d", self->front_port);
    snprintf (self->back, sizeof self->back, "tcp://127.0.0.1:%d", self->back_port);
    self->broker = self->logger = -1;
    for (int index = 0; index < S_PROCESSORS; index++)
        self->processors [index] = -1;
}

static void
s_start_broker (s_pipeline_t *self)
{
    char log [256];
    snprintf (log, sizeof log, "%s/broker.log", self->dir);
    char *argv [] = { (char *) testkit_bin ("queue-broker"), "--frontend",
        self->front, "--backend", self->back, "--metrics-port", "0", NULL };
    self->broker = testkit_spawn (argv, NULL, log);
}

static void
s_start_logger (s_pipeline_t *self)
{
    char log [256], port [16];
    snprintf (log, sizeof log, "%s/logger.log", self->dir);
    snprintf (port, sizeof port, "%d", self->http_port);
    char *argv [] = { strdup (testkit_bin ("event-logger")), "--host", "127.0.0.1",
        "--port", port, "--broker", self->front, "--visibility-timeout", "2",
        "--max-attempts", "20", "--request-timeout", "2000", NULL };
    self->logger = testkit_spawn (argv, NULL, log);
    free (argv [0]);
    char url [96];
    snprintf (url, sizeof url, "%s/healthz", self->base);
    ck_assert_msg (testkit_wait_http (url, 10000) == 0, "logger did not start");
}

static void
s_start_processor (s_pipeline_t *self, int index)
{
    char out [256], log [256];
    snprintf (out, sizeof out, "%s/processor-%d.out", self->dir, index);
    snprintf (log, sizeof log, "%s/processor-%d.log", self->dir, index);
    char *argv [] = { (char *) testkit_bin ("notification-processor"),
        "--broker", self->back, "--logger-url", self->base,
        "--metrics-port", "0", "--report-backoff", "50", NULL };
    self->processors [index] = testkit_spawn (argv, out, log);
}

//  Stop whatever still runs; every service must exit 0 on SIGTERM.
static void
s_pipeline_stop (s_pipeline_t *self)
{
    for (int index = 0; index < S_PROCESSORS; index++)
        if (self->processors [index] > 0)
            ck_assert_int_eq (testkit_stop (self->processors [index], 5000), 0);
    if (self->logger > 0)
        ck_assert_int_eq (testkit_stop (self->logger, 5000), 0);
    if (self->broker > 0)
        ck_assert_int_eq (testkit_stop (self->broker, 5000), 0);
    free (self->dir);
}

//  Read one sample from the logger's /metrics, or -1.
static double
s_metric (s_pipeline_t *self, const char *name)
{
    char url [96], pattern [128];
    snprintf (url, sizeof url, "%s/metrics", self->base);
    snprintf (pattern, sizeof pattern, "\n%s ", name);
    testkit_response_t response;
    double value = -1;
    if (testkit_http ("GET", url, NULL, NULL, 0, NULL, &response) == 0
    &&  response.code == 200) {
        const char *found = strstr (response.body, pattern);
        if (found)
            value = atof (found + strlen (pattern));
    }
    testkit_response_free (&response);
    return value;
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
s_assert_all_processed (s_pipeline_t *self, int created, const char *fault)
{
    long deadline = s_now_ms () + 90000;
    double processed = 0;
    while (s_now_ms () < deadline) {
        processed = s_metric (self, "events_in_store{status=\"processed\"}");
        if ((int) processed == created)
            break;
        usleep (200 * 1000);
    }
    double total = s_metric (self, "events_created_total");
    double failed = s_metric (self, "events_failed_total");
    double redelivered = s_metric (self, "events_redelivered_total");
    fprintf (stderr, "fault '%s': %d accepted, %.0f processed, %.0f lost,"
             " %.0f failed, %.0f redelivered\n", fault, created, processed,
             created - processed, failed, redelivered);
    ck_assert_int_eq ((int) total, created);
    ck_assert_int_eq ((int) failed, 0);
    ck_assert_int_eq ((int) processed, created);
}

//  Count notification lines over every processor's output.
static long
s_lines (s_pipeline_t *self)
{
    long total = 0;
    for (int index = 0; index < S_PROCESSORS; index++) {
        char out [256];
        snprintf (out, sizeof out, "%s/processor-%d.out", self->dir, index);
        long lines = testkit_count_lines (out);
        total += lines > 0? lines: 0;
    }
    return total;
}

//  Wait until the logger has accepted at least count events.
static void
s_wait_created (s_pipeline_t *self, int count)
{
    long deadline = s_now_ms () + 30000;
    while (s_now_ms () < deadline && s_metric (self, "events_created_total") < count)
        usleep (20 * 1000);
}

START_TEST (test_faults_processor_killed)
{
    s_pipeline_t pipeline;
    s_pipeline_init (&pipeline);
    s_start_broker (&pipeline);
    s_start_logger (&pipeline);
    for (int index = 0; index < S_PROCESSORS; index++)
        s_start_processor (&pipeline, index);
    s_stream_t stream = { .base = pipeline.base, .count = 5000 };
    pthread_t thread;
    pthread_create (&thread, NULL, s_stream, &stream);
    s_wait_created (&pipeline, 1500);
    kill (pipeline.processors [1], SIGKILL);
    testkit_stop (pipeline.processors [1], 1000);      //  reap it
    pipeline.processors [1] = -1;
    pthread_join (thread, NULL);
    ck_assert_int_eq (stream.created, 5000);
    s_assert_all_processed (&pipeline, stream.created, "processor killed with SIGKILL");
    //  At least once: every event printed, some maybe twice across workers
    ck_assert_int_ge (s_lines (&pipeline), 5000);
    s_pipeline_stop (&pipeline);
}
END_TEST

START_TEST (test_faults_broker_restarted)
{
    s_pipeline_t pipeline;
    s_pipeline_init (&pipeline);
    s_start_broker (&pipeline);
    s_start_logger (&pipeline);
    for (int index = 0; index < S_PROCESSORS; index++)
        s_start_processor (&pipeline, index);
    s_stream_t stream = { .base = pipeline.base, .count = 5000 };
    pthread_t thread;
    pthread_create (&thread, NULL, s_stream, &stream);
    s_wait_created (&pipeline, 1500);
    kill (pipeline.broker, SIGKILL);
    testkit_stop (pipeline.broker, 1000);
    usleep (500 * 1000);                //  Events pile up as pending meanwhile
    s_start_broker (&pipeline);
    pthread_join (thread, NULL);
    ck_assert_int_eq (stream.created, 5000);
    s_assert_all_processed (&pipeline, stream.created, "broker killed and restarted");
    ck_assert_int_ge (s_lines (&pipeline), 5000);
    s_pipeline_stop (&pipeline);
}
END_TEST

START_TEST (test_faults_logger_before_broker)
{
    s_pipeline_t pipeline;
    s_pipeline_init (&pipeline);
    s_start_logger (&pipeline);
    char url [96];
    snprintf (url, sizeof url, "%s/readyz", pipeline.base);
    testkit_response_t response;
    ck_assert_int_eq (testkit_http ("GET", url, NULL, NULL, 0, NULL, &response), 0);
    ck_assert_int_eq (response.code, 503);      //  Alive, accepting, not ready
    testkit_response_free (&response);
    s_stream_t stream = { .base = pipeline.base, .count = 1000 };
    s_stream (&stream);
    ck_assert_int_eq (stream.created, 1000);
    ck_assert_int_eq ((int) s_metric (&pipeline, "events_in_store{status=\"pending\"}"), 1000);

    s_start_broker (&pipeline);
    for (int index = 0; index < S_PROCESSORS; index++)
        s_start_processor (&pipeline, index);
    ck_assert_int_eq (testkit_wait_http (url, 10000), 0);   //  Ready now
    s_assert_all_processed (&pipeline, stream.created, "logger started before the broker");
    s_pipeline_stop (&pipeline);
}
END_TEST

START_TEST (test_faults_logger_stopped)
{
    s_pipeline_t pipeline;
    s_pipeline_init (&pipeline);
    s_start_broker (&pipeline);
    s_start_logger (&pipeline);
    for (int index = 0; index < S_PROCESSORS; index++)
        s_start_processor (&pipeline, index);
    s_stream_t stream = { .base = pipeline.base, .count = 3000 };
    pthread_t thread;
    pthread_create (&thread, NULL, s_stream, &stream);
    s_wait_created (&pipeline, 1000);
    //  Frozen for longer than the processors' request timeout (5 s), so
    //  their reports fail and must be retried
    kill (pipeline.logger, SIGSTOP);
    sleep (6);
    kill (pipeline.logger, SIGCONT);
    pthread_join (thread, NULL);
    ck_assert_int_eq (stream.created + stream.refused, 3000);
    s_assert_all_processed (&pipeline, stream.created, "logger frozen with SIGSTOP for 6 s");
    s_pipeline_stop (&pipeline);
}
END_TEST

//  Open a TCP connection to the logger, or -1.
static int
s_connect (int port)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = { .sin_family = AF_INET,
                                   .sin_port = htons ((uint16_t) port) };
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    if (fd >= 0 && connect (fd, (struct sockaddr *) &address, sizeof address) != 0) {
        close (fd);
        fd = -1;
    }
    return fd;
}

START_TEST (test_faults_slowloris)
{
    s_pipeline_t pipeline;
    s_pipeline_init (&pipeline);
    s_start_broker (&pipeline);
    s_start_logger (&pipeline);
    //  100 idle connections and 100 that send half a request, then stall
    int sockets [200];
    for (int index = 0; index < 200; index++) {
        sockets [index] = s_connect (pipeline.http_port);
        ck_assert_int_ge (sockets [index], 0);
        if (index % 2) {
            const char *partial = "POST /events HTTP/1.1\r\nHost: x\r\n"
                                  "Content-Type: application/json\r\nContent-Le";
            ck_assert_int_gt (write (sockets [index], partial, strlen (partial)), 0);
        }
    }
    usleep (200 * 1000);
    char url [96];
    snprintf (url, sizeof url, "%s/events", pipeline.base);
    const char *body = "{\"user_id\":\"u1\",\"description\":\"still served\"}";
    long worst = 0;
    for (int attempt = 0; attempt < 10; attempt++) {
        long start = s_now_ms ();
        testkit_response_t response;
        ck_assert_int_eq (testkit_http ("POST", url, "application/json", body,
                                        strlen (body), NULL, &response), 0);
        ck_assert_int_eq (response.code, 201);
        testkit_response_free (&response);
        long elapsed = s_now_ms () - start;
        worst = elapsed > worst? elapsed: worst;
    }
    fprintf (stderr, "fault 'slowloris': 200 stalled connections, worst normal"
             " request %ld ms\n", worst);
    ck_assert_int_lt (worst, 1000);
    //  --request-timeout 2000: the stalled connections are dropped
    sleep (4);
    int closed = 0;
    for (int index = 0; index < 200; index++) {
        char byte;
        struct timeval timeout = { .tv_sec = 0, .tv_usec = 1000 };
        setsockopt (sockets [index], SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
        ssize_t rc = read (sockets [index], &byte, 1);
        if (rc == 0 || (rc > 0))        //  closed, or answered with an error
            closed++;
        close (sockets [index]);
    }
    fprintf (stderr, "fault 'slowloris': %d of 200 stalled connections dropped"
             " by the server after the request timeout\n", closed);
    ck_assert_int_ge (closed, 190);
    s_pipeline_stop (&pipeline);
}
END_TEST

int
main (void)
{
    Suite *suite = suite_create ("faults");
    TCase *tcase = tcase_create ("faults");
    tcase_set_timeout (tcase, 150);
    tcase_add_test (tcase, test_faults_processor_killed);
    tcase_add_test (tcase, test_faults_broker_restarted);
    tcase_add_test (tcase, test_faults_logger_before_broker);
    tcase_add_test (tcase, test_faults_logger_stopped);
    tcase_add_test (tcase, test_faults_slowloris);
    suite_add_tcase (suite, tcase);
    SRunner *runner = srunner_create (suite);
    srunner_run_all (runner, CK_NORMAL);
    int failed = srunner_ntests_failed (runner);
    srunner_free (runner);
    return failed? EXIT_FAILURE: EXIT_SUCCESS;
}
