/*  test_worker - the notification-processor actor and its output line

    Actor cases bind a PUSH (playing the broker) or start a real broker
    actor, give the worker a temporary file as standard output, and start
    a small CivetWeb server (testkit_logger) playing the logger.
*/
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <czmq.h>
#include "worker.h"
#include "broker.h"
#include "enp_time.h"
#include "enp_wire.h"
#include "testkit.h"

#define S_ID "123e4567-e89b-42d3-a456-426614174000"

//  A worker wired to a fake logger and, unless given a broker, to a PUSH
//  playing the broker's backend.
typedef struct {
    int threads;                        //  this process's threads before
    testkit_logger_t *logger;           //  plays the event-logger
    zsock_t *push;                      //  plays the broker, or NULL
    char broker [64];                   //  the endpoint the worker pulls from
    FILE *out;                          //  the worker's standard output
    worker_t *worker;                   //  the worker under test
} s_rig_t;

//  Bind a PUSH on a free port, playing the broker's backend.
static zsock_t *
s_backend (char *endpoint, size_t size)
{
    zsock_t *push = zsock_new (ZMQ_PUSH);
    ck_assert_ptr_nonnull (push);
    zsock_set_linger (push, 1000);
    zsock_set_sndtimeo (push, 5000);
    ck_assert_int_gt (testkit_bind_any (push, endpoint, size), 0);
    return push;
}

//  This process's thread count with czmq's own threads (the context's I/O
//  and reaper threads, made with the first socket) already running.
static int
s_threads_before (void)
{
    zsock_t *probe = zsock_new (ZMQ_PAIR);
    ck_assert_ptr_nonnull (probe);
    zsock_destroy (&probe);
    return testkit_threads ();
}

//  Bind a PUSH on a unique inproc endpoint, playing the broker's backend:
//  over inproc a message is in the worker's socket once zmsg_send returns,
//  so a test knows exactly what the worker holds.
static zsock_t *
s_inproc_backend (char *endpoint, size_t size, const char *name)
{
    snprintf (endpoint, size, "inproc://test-worker-%s-%d", name, (int) getpid ());
    zsock_t *push = zsock_new (ZMQ_PUSH);
    ck_assert_ptr_nonnull (push);
    zsock_set_sndtimeo (push, 5000);
    ck_assert_int_eq (zsock_bind (push, "%s", endpoint), 0);
    return push;
}

//  Start a fake logger answering codes (see testkit_logger_new) and, with
//  options, a worker reporting to it. The worker is to pull from broker, or
//  when that is NULL from a PUSH the rig binds.
static void
s_rig_start (s_rig_t *self, const int *codes, const char *broker,
             const worker_options_t *options)
{
    memset (self, 0, sizeof *self);
    self->threads = s_threads_before ();
    self->logger = testkit_logger_new (codes);
    ck_assert_ptr_nonnull (self->logger);
    if (broker)
        snprintf (self->broker, sizeof self->broker, "%s", broker);
    else
        self->push = s_backend (self->broker, sizeof self->broker);
    self->out = tmpfile ();
    ck_assert_ptr_nonnull (self->out);
    if (options) {
        worker_options_t wired = *options;
        wired.broker = self->broker;
        wired.logger_url = testkit_logger_url (self->logger);
        self->worker = worker_new (&wired, self->out);
        ck_assert_ptr_nonnull (self->worker);
    }
}

//  Destroy whatever of the rig is left, in reverse order.
static void
s_rig_stop (s_rig_t *self)
{
    worker_destroy (&self->worker);
    fclose (self->out);
    zsock_destroy (&self->push);
    testkit_logger_destroy (&self->logger);
    //  The worker's detached actor thread has ended before the test does
    ck_assert_int_eq (testkit_threads_settle (self->threads, 10000), 0);
}

//  Return the worker's metrics text (caller frees).
static char *
s_metrics (worker_t *worker)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    worker_print_metrics (worker, out);
    fclose (out);
    return text;
}

//  Wait up to timeout_ms for the worker and the logger to reach counts.
static bool
s_wait (worker_t *worker, testkit_logger_t *logger, uint64_t notified,
        uint64_t reported, int requests, int timeout_ms)
{
    int64_t deadline = enp_time_mono_ms () + timeout_ms;
    while (enp_time_mono_ms () < deadline) {
        if (worker_notified (worker) == notified
        &&  worker_reported (worker) == reported
        &&  testkit_logger_requests (logger) == requests)
            return true;
        zclock_sleep (10);
    }
    return false;
}

//  Read the lines of a stream into a new array (caller frees each).
static size_t
s_read_lines (FILE *file, char **lines, size_t max)
{
    fflush (file);
    rewind (file);
    size_t count = 0;
    char *line = NULL;
    size_t size = 0;
    ssize_t length;
    while ((length = getline (&line, &size, file)) > 0) {
        if (count < max)
            lines [count] = strdup (line);
        count++;
    }
    free (line);
    return count;
}

//  Encode and send an event as delivery attempt.
static void
s_send_event (zsock_t *push, enp_event_t *event, uint32_t attempt)
{
    zmsg_t *msg = enp_wire_encode (event, attempt);
    ck_assert_ptr_nonnull (msg);
    ck_assert_int_eq (zmsg_send (&msg, push), 0);
}

//  Make count events of a user, with ids 00000000-0000-4000-8000-<n> and
//  one description, and send each as delivery attempt 1.
static void
s_send_events (zsock_t *push, enp_event_t **events, int count,
               const char *user_id, const char *description)
{
    for (int index = 0; index < count; index++) {
        char id [37];
        snprintf (id, sizeof id, "00000000-0000-4000-8000-%012d", index);
        events [index] = enp_event_new (id, user_id, description, index);
        ck_assert_ptr_nonnull (events [index]);
        s_send_event (push, events [index], 1);
    }
}

//  Write the text line expected for an event into buf.
static void
s_expected (char *buf, size_t size, const char *event_id, const char *user_id,
            const char *description)
{
    worker_line_t *line = worker_line_new (WORKER_LINE_TEXT);
    ck_assert_ptr_nonnull (line);
    const char *text = worker_line_format (line, event_id, user_id, description, NULL);
    ck_assert_ptr_nonnull (text);
    snprintf (buf, size, "%s", text);
    worker_line_destroy (&line);
}

//  Usage: start a worker, feed it an event, stop it.
START_TEST (test_worker_usage)
{
    const char *line = "Event " S_ID " has been sent to alice: hi\n";
    s_rig_t rig;
    s_rig_start (&rig, (int []) { 200, 0 }, NULL, NULL);
    worker_options_t options = { .broker = rig.broker,
                                 .logger_url = testkit_logger_url (rig.logger),
                                 .dedup_size = 100, .max_retries = 2,
                                 .backoff_ms = 10, .inflight = 1 };
    worker_t *worker = worker_new (&options, rig.out);
    ck_assert_ptr_nonnull (worker);
    enp_event_t *event = enp_event_new (S_ID, "alice", "hi", 0);
    s_send_event (rig.push, event, 1);
    ck_assert (s_wait (worker, rig.logger, 1, 1, 1, 5000));
    ck_assert_uint_eq (worker_duplicates (worker), 0);
    char *text = s_metrics (worker);
    ck_assert_ptr_nonnull (strstr (text, "worker_events_notified_total 1\n"));
    free (text);
    worker_destroy (&worker);
    ck_assert_ptr_null (worker);
    worker_destroy (&worker);
    char *lines [4];
    ck_assert_uint_eq (s_read_lines (rig.out, lines, 4), 1);
    ck_assert_str_eq (lines [0], line);
    free (lines [0]);
    enp_event_destroy (&event);
    s_rig_stop (&rig);
}
END_TEST

//  Three events, a duplicate and a malformed message: three lines, four
//  reports (the duplicate is reported again), and counters that match.
START_TEST (test_worker_prints_and_reports)
{
    s_rig_t rig;
    s_rig_start (&rig, (int []) { 200, 0 }, NULL, &(worker_options_t) {
                 .dedup_size = 100, .max_retries = 2, .backoff_ms = 10,
                 .inflight = 1 });
    enp_event_t *events [3] = {
        enp_event_new ("00000000-0000-4000-8000-000000000001", "alice",
                       "first", 1),
        enp_event_new ("00000000-0000-4000-8000-000000000002", "bob",
                       "second\nline", 2),
        enp_event_new ("00000000-0000-4000-8000-000000000003", "carol",
                       "third\tpart", 3)
    };
    s_send_event (rig.push, events [0], 1);
    zmsg_t *garbage = zmsg_new ();
    zmsg_addstr (garbage, "not an event");
    ck_assert_int_eq (zmsg_send (&garbage, rig.push), 0);
    s_send_event (rig.push, events [1], 1);
    s_send_event (rig.push, events [2], 1);
    s_send_event (rig.push, events [0], 2);     //  a redelivery

    ck_assert (s_wait (rig.worker, rig.logger, 3, 4, 4, 5000));
    ck_assert_uint_eq (worker_duplicates (rig.worker), 1);
    ck_assert_int_eq (testkit_logger_patches (rig.logger), 4);
    const int reported [4] = { 0, 1, 2, 0 };     //  the duplicate too
    for (int index = 0; index < 4; index++) {
        char id [64];
        ck_assert_str_eq (testkit_logger_id (rig.logger, index, id, sizeof id),
                          enp_event_id (events [reported [index]]));
    }
    char *text = s_metrics (rig.worker);
    ck_assert_ptr_nonnull (strstr (text, "worker_events_notified_total 3\n"));
    ck_assert_ptr_nonnull (strstr (text, "worker_events_reported_total 4\n"));
    ck_assert_ptr_nonnull (strstr (text, "worker_events_duplicate_total 1\n"));
    ck_assert_ptr_nonnull (strstr (text, "worker_report_failures_total 0\n"));
    ck_assert_ptr_nonnull (strstr (text, "worker_messages_malformed_total 1\n"));
    ck_assert_ptr_nonnull (strstr (text, "# TYPE worker_events_notified_total counter\n"));
    free (text);
    worker_destroy (&rig.worker);

    char *lines [8];
    size_t count = s_read_lines (rig.out, lines, 8);
    ck_assert_uint_eq (count, 3);
    ck_assert_str_eq (lines [0], "Event 00000000-0000-4000-8000-000000000001"
                                 " has been sent to alice: first\n");
    ck_assert_str_eq (lines [1], "Event 00000000-0000-4000-8000-000000000002"
                                 " has been sent to bob: second\\nline\n");
    ck_assert_str_eq (lines [2], "Event 00000000-0000-4000-8000-000000000003"
                                 " has been sent to carol: third\\tpart\n");
    for (size_t index = 0; index < count; index++)
        free (lines [index]);
    for (int index = 0; index < 3; index++)
        enp_event_destroy (&events [index]);
    s_rig_stop (&rig);
}
END_TEST

//  A logger that says 404: the line is still printed, the report is not
//  counted as done, and the failure shows in the metrics.
START_TEST (test_worker_report_rejected)
{
    s_rig_t rig;
    s_rig_start (&rig, (int []) { 404, 0 }, NULL, &(worker_options_t) {
                 .status_token = "tok", .dedup_size = 100, .max_retries = 2,
                 .backoff_ms = 10, .inflight = 1 });
    enp_event_t *event = enp_event_new (S_ID, "alice", "hi", 0);
    s_send_event (rig.push, event, 1);
    ck_assert (s_wait (rig.worker, rig.logger, 1, 0, 1, 5000));
    testkit_request_t last;
    testkit_logger_last (rig.logger, &last);
    ck_assert_str_eq (last.authorization, "Bearer tok");
    char *text = NULL;
    int64_t deadline = enp_time_mono_ms () + 10000;
    bool found = false;
    while (!found && enp_time_mono_ms () < deadline) {
        free (text);
        text = s_metrics (rig.worker);
        found = strstr (text, "worker_report_failures_total 1\n") != NULL;
        zclock_sleep (10);
    }
    free (text);
    ck_assert (found);
    worker_destroy (&rig.worker);
    char *lines [2];
    ck_assert_uint_eq (s_read_lines (rig.out, lines, 2), 1);
    free (lines [0]);
    enp_event_destroy (&event);
    s_rig_stop (&rig);
}
END_TEST

//  Stopping while a report waits to retry gives the retry up at once: the
//  one slot it held frees, and the event still held in the socket is
//  printed and reported before the worker exits. Were the retry kept, the
//  slot would stay busy for its backoff (up to a minute) and the held event
//  would be left unhandled at the 2 s shutdown limit.
START_TEST (test_worker_destroy_cancels_retries)
{
    char endpoint [64];
    zsock_t *push = s_inproc_backend (endpoint, sizeof endpoint, "cancel");
    s_rig_t rig;
    s_rig_start (&rig, (int []) { 503, 0 }, endpoint, &(worker_options_t) {
                 .dedup_size = 100, .max_retries = 50, .backoff_ms = 60000,
                 .inflight = 1 });
    rig.push = push;
    enp_event_t *first = enp_event_new ("00000000-0000-4000-8000-000000000001",
                                        "alice", "retrying", 0);
    enp_event_t *second = enp_event_new ("00000000-0000-4000-8000-000000000002",
                                         "alice", "held", 0);
    s_send_event (rig.push, first, 1);
    //  The first report reached the logger: it holds the only slot
    int64_t deadline = enp_time_mono_ms () + 10000;
    while (testkit_logger_requests (rig.logger) < 1 && enp_time_mono_ms () < deadline)
        zclock_sleep (5);
    ck_assert_int_ge (testkit_logger_requests (rig.logger), 1);
    //  So the second stays in the worker's socket until the stop
    s_send_event (rig.push, second, 1);
    worker_destroy (&rig.worker);
    char *lines [4];
    size_t count = s_read_lines (rig.out, lines, 4);
    for (size_t index = 0; index < count && index < 4; index++)
        free (lines [index]);
    ck_assert_msg (count == 2, "printed %zu of 2 events: the held one was"
                   " not handled, so the retry kept its slot", count);
    enp_event_destroy (&first);
    enp_event_destroy (&second);
    s_rig_stop (&rig);
}
END_TEST

//  Stopping finishes the events the worker already holds: printed and
//  reported, though the logger answers slowly.
START_TEST (test_worker_destroy_finishes_held_events)
{
    char endpoint [64];
    zsock_t *push = s_inproc_backend (endpoint, sizeof endpoint, "held");
    s_rig_t rig;
    s_rig_start (&rig, (int []) { 200, 0 }, endpoint, &(worker_options_t) {
                 .dedup_size = 100, .max_retries = 2, .backoff_ms = 10,
                 .inflight = 1 });
    rig.push = push;
    testkit_logger_set_delay (rig.logger, 50);
    enp_event_t *events [4];
    s_send_events (rig.push, events, 4, "erin", "held");
    //  All four are in the worker's socket (inproc); once the first is
    //  printed and being reported, the other three wait there
    int64_t deadline = enp_time_mono_ms () + 10000;
    while (worker_notified (rig.worker) < 1 && enp_time_mono_ms () < deadline)
        zclock_sleep (5);
    ck_assert_uint_ge (worker_notified (rig.worker), 1);
    worker_destroy (&rig.worker);
    char *lines [8];
    size_t count = s_read_lines (rig.out, lines, 8);
    for (size_t index = 0; index < count && index < 8; index++)
        free (lines [index]);
    ck_assert_msg (count == 4, "the worker printed %zu of the 4 events it held",
                   count);
    ck_assert_int_eq (testkit_logger_requests (rig.logger), 4);
    for (int index = 0; index < 4; index++)
        enp_event_destroy (&events [index]);
    s_rig_stop (&rig);
}
END_TEST

//  Several reports run at once: the logger holds each answer until four
//  requests are open together, which happens only if the worker really
//  keeps four in flight (one at a time, the gate would hold the first 3 s
//  and the peak would say 1).
START_TEST (test_worker_concurrent_reports)
{
    s_rig_t rig;
    s_rig_start (&rig, (int []) { 200, 0 }, NULL, &(worker_options_t) {
                 .dedup_size = 100, .max_retries = 2, .backoff_ms = 10,
                 .inflight = 4 });
    testkit_logger_set_gate (rig.logger, 4);
    enp_event_t *events [8];
    s_send_events (rig.push, events, 8, "frank", "fast");
    ck_assert (s_wait (rig.worker, rig.logger, 8, 8, 8, 20000));
    ck_assert_int_eq (testkit_logger_peak (rig.logger), 4);
    worker_destroy (&rig.worker);
    char *lines [10];
    size_t count = s_read_lines (rig.out, lines, 10);
    ck_assert_uint_eq (count, 8);
    for (int index = 0; index < 8; index++) {
        char expected [256];
        s_expected (expected, sizeof expected, enp_event_id (events [index]),
                    "frank", "fast");
        ck_assert_str_eq (lines [index], expected);
        free (lines [index]);
        enp_event_destroy (&events [index]);
    }
    s_rig_stop (&rig);
}
END_TEST

//  A deliberate re-queue comes with a new generation and is printed again;
//  a redelivery of the same generation is not.
START_TEST (test_worker_requeue_prints_again)
{
    s_rig_t rig;
    s_rig_start (&rig, (int []) { 200, 0 }, NULL, &(worker_options_t) {
                 .dedup_size = 100, .max_retries = 2, .backoff_ms = 10,
                 .inflight = 1 });
    enp_event_t *event = enp_event_new (S_ID, "alice", "again", 0);
    s_send_event (rig.push, event, 1);
    s_send_event (rig.push, event, 2);          //  timed out: redelivered
    enp_event_set_generation (event, 1);        //  PATCH to "pending"
    s_send_event (rig.push, event, 3);
    s_send_event (rig.push, event, 4);          //  and redelivered again
    ck_assert (s_wait (rig.worker, rig.logger, 2, 4, 4, 5000));
    ck_assert_uint_eq (worker_duplicates (rig.worker), 2);
    worker_destroy (&rig.worker);
    char *lines [4];
    ck_assert_uint_eq (s_read_lines (rig.out, lines, 4), 2);
    for (int index = 0; index < 2; index++) {
        ck_assert_str_eq (lines [index], "Event " S_ID " has been sent to alice: again\n");
        free (lines [index]);
    }
    enp_event_destroy (&event);
    s_rig_stop (&rig);
}
END_TEST

//  --notify-format json: one JSON object per line.
START_TEST (test_worker_json_lines)
{
    s_rig_t rig;
    s_rig_start (&rig, (int []) { 200, 0 }, NULL, &(worker_options_t) {
                 .dedup_size = 100, .max_retries = 2, .backoff_ms = 10,
                 .inflight = 1, .format = WORKER_LINE_JSON });
    enp_event_t *event = enp_event_new (S_ID, "bob: x", "two\nlines", 0);
    s_send_event (rig.push, event, 1);
    ck_assert (s_wait (rig.worker, rig.logger, 1, 1, 1, 5000));
    worker_destroy (&rig.worker);
    char *lines [2];
    ck_assert_uint_eq (s_read_lines (rig.out, lines, 2), 1);
    ck_assert_str_eq (lines [0], "{\"event_id\":\"" S_ID "\",\"user_id\":\"bob: x\","
                                 "\"description\":\"two\\nlines\"}\n");
    free (lines [0]);
    enp_event_destroy (&event);
    s_rig_stop (&rig);
}
END_TEST

//  What the API would refuse is dropped and counted, never printed: text
//  that is not UTF-8, an id that is not canonical, too many frames, too
//  many bytes. A valid event after them still goes through.
START_TEST (test_worker_drops_invalid)
{
    s_rig_t rig;
    s_rig_start (&rig, (int []) { 200, 0 }, NULL, &(worker_options_t) {
                 .dedup_size = 100, .max_retries = 2, .backoff_ms = 10,
                 .inflight = 1 });
    enp_event_t *bad_utf8 = enp_event_new (S_ID, "mallory", "caf\xc3(", 0);
    s_send_event (rig.push, bad_utf8, 1);
    enp_event_t *upper = enp_event_new ("123E4567-E89B-42D3-A456-426614174000",
                                        "mallory", "upper", 0);
    s_send_event (rig.push, upper, 1);
    zmsg_t *msg = zmsg_new ();
    for (int index = 0; index < 1000; index++)
        zmsg_addstr (msg, "f");
    ck_assert_int_eq (zmsg_send (&msg, rig.push), 0);
    static char half [ENP_WIRE_SIZE_MAX / 2 + 1];
    memset (half, 'h', sizeof half);
    msg = zmsg_new ();
    zmsg_addmem (msg, half, sizeof half);
    zmsg_addmem (msg, half, sizeof half);
    ck_assert_int_eq (zmsg_send (&msg, rig.push), 0);
    enp_event_t *good = enp_event_new (S_ID, "alice", "fine", 0);
    s_send_event (rig.push, good, 1);
    ck_assert (s_wait (rig.worker, rig.logger, 1, 1, 1, 5000));
    ck_assert_uint_eq (worker_malformed (rig.worker), 4);
    worker_destroy (&rig.worker);
    char *lines [2];
    ck_assert_uint_eq (s_read_lines (rig.out, lines, 2), 1);
    ck_assert_str_eq (lines [0], "Event " S_ID " has been sent to alice: fine\n");
    free (lines [0]);
    enp_event_destroy (&bad_utf8);
    enp_event_destroy (&upper);
    enp_event_destroy (&good);
    s_rig_stop (&rig);
}
END_TEST

//  A broker endpoint that cannot be used: worker_new fails, as its header
//  says, rather than returning a worker whose actor already ended.
START_TEST (test_worker_bad_endpoint)
{
    FILE *out = tmpfile ();
    worker_options_t options = { .broker = "not-an-endpoint",
                                 .logger_url = "http://127.0.0.1:1",
                                 .dedup_size = 100, .max_retries = 2,
                                 .backoff_ms = 10, .inflight = 1 };
    int threads = s_threads_before ();
    worker_t *worker = worker_new (&options, out);
    bool created = worker != NULL;
    worker_destroy (&worker);
    fclose (out);
    ck_assert_msg (!created, "worker_new returned a worker that cannot run");
    //  Its actor thread ended by itself; let it finish before the process
    ck_assert_int_eq (testkit_threads_settle (threads, 10000), 0);
}
END_TEST

//  Several events in one ENP3 message: each printed and reported, in
//  order; a message with one invalid event prints none of it.
START_TEST (test_worker_batch_messages)
{
    s_rig_t rig;
    s_rig_start (&rig, (int []) { 200, 0 }, NULL, &(worker_options_t) {
                 .dedup_size = 100, .max_retries = 2, .backoff_ms = 10,
                 .inflight = 2, .batch_max = 64, .batch_ms = 2 });
    enp_event_t *events [3];
    uint32_t attempts [3] = { 1, 1, 1 };
    for (int index = 0; index < 3; index++) {
        char id [37];
        snprintf (id, sizeof id, "00000000-0000-4000-8000-%012d", index);
        events [index] = enp_event_new (id, "erin", index == 1? "caf\xc3(": "ok", index);
    }
    size_t packed = 0;
    zmsg_t *msg = enp_wire_encode_batch (events, attempts, 3, &packed);
    ck_assert_uint_eq (packed, 3);
    ck_assert_int_eq (zmsg_send (&msg, rig.push), 0);
    enp_event_destroy (&events [1]);
    events [1] = enp_event_new ("00000000-0000-4000-8000-000000000001", "erin", "ok", 1);
    msg = enp_wire_encode_batch (events, attempts, 3, &packed);
    ck_assert_int_eq (zmsg_send (&msg, rig.push), 0);
    ck_assert (s_wait (rig.worker, rig.logger, 3, 3, 1, 5000));
    ck_assert_uint_eq (worker_malformed (rig.worker), 1);
    ck_assert_int_eq (testkit_logger_batches (rig.logger), 1);
    worker_destroy (&rig.worker);
    char *lines [4];
    ck_assert_uint_eq (s_read_lines (rig.out, lines, 4), 3);
    for (int index = 0; index < 3; index++) {
        char expected [256], id [64];
        s_expected (expected, sizeof expected, enp_event_id (events [index]), "erin", "ok");
        ck_assert_str_eq (lines [index], expected);
        ck_assert_str_eq (testkit_logger_report (rig.logger, index, id, sizeof id),
                          enp_event_id (events [index]));
        free (lines [index]);
        enp_event_destroy (&events [index]);
    }
    s_rig_stop (&rig);
}
END_TEST

//  A logger that holds every answer does not stop the worker: it reads and
//  prints everything the broker sends while the reports wait, then sends
//  them, in batches, once the logger answers.
START_TEST (test_worker_prints_while_logger_holds)
{
    s_rig_t rig;
    s_rig_start (&rig, (int []) { 200, 0 }, NULL, &(worker_options_t) {
                 .dedup_size = 1000, .max_retries = 20, .backoff_ms = 10,
                 .inflight = 1, .batch_max = 64, .batch_ms = 2 });
    testkit_logger_set_hold (rig.logger, true);
    enp_event_t *events [300];
    s_send_events (rig.push, events, 300, "gus", "held");
    int64_t deadline = enp_time_mono_ms () + 20000;
    while (worker_notified (rig.worker) < 300 && enp_time_mono_ms () < deadline)
        zclock_sleep (10);
    ck_assert_uint_eq (worker_notified (rig.worker), 300);
    ck_assert_uint_eq (worker_reported (rig.worker), 0);
    char *text = s_metrics (rig.worker);
    ck_assert_msg (strstr (text, "worker_reports_queued 0\n") == NULL, "%s", text);
    free (text);
    testkit_logger_set_hold (rig.logger, false);
    deadline = enp_time_mono_ms () + 30000;
    while (worker_reported (rig.worker) < 300 && enp_time_mono_ms () < deadline)
        zclock_sleep (10);
    ck_assert_uint_eq (worker_reported (rig.worker), 300);
    ck_assert_int_lt (testkit_logger_batches (rig.logger), 300);
    ck_assert_int_eq (testkit_logger_patches (rig.logger), 0);
    worker_destroy (&rig.worker);
    char *lines [301];
    ck_assert_uint_eq (s_read_lines (rig.out, lines, 301), 300);
    for (int index = 0; index < 300; index++) {
        free (lines [index]);
        enp_event_destroy (&events [index]);
    }
    s_rig_stop (&rig);
}
END_TEST

//  Each line is out of the process (flushed) before its report is sent:
//  while the logger holds a report, the file holds the line of every event
//  reported so far, read through its descriptor, past the stream's buffer.
START_TEST (test_worker_flushes_before_reporting)
{
    s_rig_t rig;
    s_rig_start (&rig, (int []) { 200, 0 }, NULL, &(worker_options_t) {
                 .dedup_size = 100, .max_retries = 20, .backoff_ms = 10,
                 .inflight = 1, .batch_max = 256, .batch_ms = 2 });
    testkit_logger_set_hold (rig.logger, true);
    enp_event_t *events [3];
    s_send_events (rig.push, events, 3, "hal", "flushed first");
    int64_t deadline = enp_time_mono_ms () + 10000;
    while (testkit_logger_reports (rig.logger) < 1 && enp_time_mono_ms () < deadline)
        zclock_sleep (10);
    int reports = testkit_logger_reports (rig.logger);
    ck_assert_int_ge (reports, 1);
    char text [1024];
    ssize_t size = pread (fileno (rig.out), text, sizeof text - 1, 0);
    ck_assert_int_gt (size, 0);
    text [size] = '\0';
    for (int index = 0; index < reports; index++) {
        char id [64], line [128];
        testkit_logger_report (rig.logger, index, id, sizeof id);
        snprintf (line, sizeof line, "Event %s has been sent to hal: flushed first\n", id);
        ck_assert_msg (strstr (text, line), "no line for %s in: %s", id, text);
    }
    testkit_logger_set_hold (rig.logger, false);
    deadline = enp_time_mono_ms () + 10000;
    while (worker_reported (rig.worker) < 3 && enp_time_mono_ms () < deadline)
        zclock_sleep (10);
    ck_assert_uint_eq (worker_reported (rig.worker), 3);
    worker_destroy (&rig.worker);
    char *lines [4];
    ck_assert_uint_eq (s_read_lines (rig.out, lines, 4), 3);
    for (int index = 0; index < 3; index++) {
        free (lines [index]);
        enp_event_destroy (&events [index]);
    }
    s_rig_stop (&rig);
}
END_TEST

//  A report queue that fills (the logger holds its answers) makes the
//  worker leave the broker; once half of it is reported, it connects
//  again and takes the rest. Every event is printed and reported once.
START_TEST (test_worker_leaves_broker_when_queue_full)
{
    s_rig_t rig;
    s_rig_start (&rig, (int []) { 200, 0 }, NULL, &(worker_options_t) {
                 .dedup_size = 2000, .max_retries = 20, .backoff_ms = 10,
                 .inflight = 1, .batch_max = 64, .batch_ms = 2,
                 .report_queue = 200 });
    testkit_logger_set_hold (rig.logger, true);
    zsock_set_sndtimeo (rig.push, 0);
    int sent = 0;
    bool refused = false;
    int64_t deadline = enp_time_mono_ms () + 20000;
    //  Send until the worker has left (its queue full) and sends fail: a
    //  bound PUSH with no peer takes nothing
    while (enp_time_mono_ms () < deadline) {
        char *text = s_metrics (rig.worker);
        bool paused = strstr (text, "worker_broker_pauses_total 1\n") != NULL;
        free (text);
        if (paused && refused)
            break;
        if (sent == 100000)
            break;
        char id [37];
        snprintf (id, sizeof id, "00000000-0000-4000-8000-%012d", sent);
        enp_event_t *event = enp_event_new (id, "hal", "full", sent);
        zmsg_t *msg = enp_wire_encode (event, 1);
        enp_event_destroy (&event);
        refused = zmsg_send (&msg, rig.push) != 0;
        if (refused) {
            zmsg_destroy (&msg);
            zclock_sleep (5);
        }
        else
            sent++;
    }
    ck_assert (refused);
    //  It stopped taking events at its limit: the queue, less one message
    ck_assert_uint_le (worker_notified (rig.worker), 200);
    ck_assert_uint_ge (worker_notified (rig.worker), 200 - ENP_WIRE_BATCH_MAX);
    ck_assert_uint_eq (worker_reported (rig.worker), 0);
    testkit_logger_set_hold (rig.logger, false);
    //  Back once half is reported: it prints again. Messages the PUSH
    //  still gave the old connection are lost with it (a real logger
    //  redelivers them), so send until 100 new ones are printed
    int after = 0, next = 0;
    deadline = enp_time_mono_ms () + 20000;
    while (after < 100 && enp_time_mono_ms () < deadline) {
        char id [37];
        snprintf (id, sizeof id, "00000000-0000-4000-8000-%012d", 200000 + next++);
        enp_event_t *event = enp_event_new (id, "hal", "after", next);
        zmsg_t *msg = enp_wire_encode (event, 1);
        enp_event_destroy (&event);
        if (zmsg_send (&msg, rig.push))
            zmsg_destroy (&msg);
        zclock_sleep (1);
        char *lines [512];
        size_t count = s_read_lines (rig.out, lines, 512);
        after = 0;
        for (size_t index = 0; index < count && index < 512; index++) {
            after += strstr (lines [index], ": after\n") != NULL;
            free (lines [index]);
        }
    }
    ck_assert_int_ge (after, 100);
    //  Every event printed is reported once
    deadline = enp_time_mono_ms () + 20000;
    while (worker_reported (rig.worker) < worker_notified (rig.worker)
       &&  enp_time_mono_ms () < deadline)
        zclock_sleep (10);
    ck_assert_uint_eq (worker_reported (rig.worker), worker_notified (rig.worker));
    ck_assert_int_eq (testkit_logger_reports (rig.logger), (int) worker_notified (rig.worker));
    char *text = s_metrics (rig.worker);
    ck_assert_msg (strstr (text, "worker_broker_pauses_total 1\n"), "%s", text);
    ck_assert_msg (strstr (text, "worker_broker_connected 1\n"), "%s", text);
    free (text);
    worker_destroy (&rig.worker);
    s_rig_stop (&rig);
}
END_TEST

//  End to end through a real broker actor.
START_TEST (test_worker_via_broker)
{
    broker_options_t broker_options = {
        .frontend = "tcp://127.0.0.1:*", .backend = "tcp://127.0.0.1:*",
        .max_queue = 100, .max_queue_bytes = 1024 * 1024
    };
    broker_t *broker = broker_new (&broker_options);
    ck_assert_ptr_nonnull (broker);
    char backend [64];
    snprintf (backend, sizeof backend, "tcp://127.0.0.1:%d",
              broker_backend_port (broker));
    s_rig_t rig;
    s_rig_start (&rig, (int []) { 200, 0 }, backend, &(worker_options_t) {
                 .dedup_size = 100, .max_retries = 2, .backoff_ms = 10,
                 .inflight = 4 });
    zsock_t *push = zsock_new (ZMQ_PUSH);
    zsock_set_linger (push, 1000);
    ck_assert_int_eq (zsock_connect (push, "tcp://127.0.0.1:%d",
                                     broker_frontend_port (broker)), 0);
    enp_event_t *events [5];
    for (int index = 0; index < 5; index++) {
        char id [37], description [32];
        snprintf (id, sizeof id, "00000000-0000-4000-8000-%012d", index);
        snprintf (description, sizeof description, "message %d", index);
        events [index] = enp_event_new (id, "dave", description, index);
        s_send_event (push, events [index], 1);
    }
    ck_assert (s_wait (rig.worker, rig.logger, 5, 5, 5, 5000));
    worker_destroy (&rig.worker);
    char *lines [8];
    ck_assert_uint_eq (s_read_lines (rig.out, lines, 8), 5);
    for (int index = 0; index < 5; index++) {
        char expected [256];
        s_expected (expected, sizeof expected, enp_event_id (events [index]),
                    "dave", enp_event_description (events [index]));
        ck_assert_str_eq (lines [index], expected);
        free (lines [index]);
        enp_event_destroy (&events [index]);
    }
    zsock_destroy (&push);
    broker_destroy (&broker);
    s_rig_stop (&rig);
}
END_TEST

int
main (void)
{
    const TTest *tests [] = {
        test_worker_usage,
        test_worker_prints_and_reports,
        test_worker_report_rejected,
        test_worker_destroy_cancels_retries,
        test_worker_destroy_finishes_held_events,
        test_worker_concurrent_reports,
        test_worker_requeue_prints_again,
        test_worker_json_lines,
        test_worker_drops_invalid,
        test_worker_bad_endpoint,
        test_worker_via_broker,
        test_worker_batch_messages,
        test_worker_prints_while_logger_holds,
        test_worker_flushes_before_reporting,
        test_worker_leaves_broker_when_queue_full,
        NULL
    };
    return testkit_run (testkit_suite ("worker", 30, tests));
}
