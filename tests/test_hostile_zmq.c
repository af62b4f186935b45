/*  test_hostile_zmq - attackers on the ZeroMQ ports of the real services

    Starts queue-broker, event-logger and notification-processors on
    loopback and attacks their ZeroMQ links from 127.0.0.2, as whoever can
    reach the ports could: with CURVE on, an unknown key cannot push or
    pull, a processor's key cannot push and a logger's cannot pull; huge
    messages leave the broker's and a processor's memory bounded; a
    malformed greeting does not take the real worker off the count; with
    CURVE off, forged messages that break the API's rules are dropped and
    counted, never printed; a deliberate re-queue prints again while a
    redelivery after a timeout does not. Every accepted event still ends
    processed.
*/
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include <czmq.h>
#include <jansson.h>
#include "enp_curve.h"
#include "enp_event.h"
#include "enp_time.h"
#include "enp_wire.h"
#include "testkit.h"

#define S_FORGED_ID "00000000-0000-4000-8000-00000000f0f0"
//  How much a 1M-frame message and a 100 MB frame may raise a service's
//  peak RSS. Before the bounds they took it to 470-820 MB. libzmq holds a
//  multipart message whole before handing it over, so 1M small frames
//  still cost ~65 MB there (~175 MB under AddressSanitizer, whose
//  quarantine keeps freed blocks); the 100 MB frame costs nothing.
#define S_RSS_GROWTH_KB (256 * 1024)

//  The pipeline and what a case needs around it.
typedef struct {
    testkit_pipeline_t *pipeline;
    char dir [256];                     //  the pipeline's folder
    char broker_metrics [96];           //  the broker's /metrics URL
    char processor_metrics [96];        //  processor 0's /metrics URL
    int front, back;                    //  the broker's ports
    bool curve;                         //  CURVE on
} s_rig_t;

//  Run a binary to its end. Returns its exit status.
static int
s_run (char *const argv [])
{
    pid_t pid = testkit_spawn (argv, NULL, NULL);
    int status = -1;
    if (pid > 0)
        waitpid (pid, &status, 0);
    return WIFEXITED (status)? WEXITSTATUS (status): -1;
}

//  Make a certificate pair with the real queue-broker --make-cert and,
//  when folder is given, copy its public half there.
static void
s_make_cert (s_rig_t *self, const char *name, const char *folder)
{
    char path [512], bin [512];
    snprintf (path, sizeof path, "%s/%s", self->dir, name);
    snprintf (bin, sizeof bin, "%s", testkit_bin ("queue-broker"));
    char *const argv [] = { bin, "--make-cert", path, NULL };
    ck_assert_int_eq (s_run (argv), 0);
    //  A second run must not overwrite the key
    ck_assert_int_ne (s_run (argv), 0);
    if (folder) {
        char target [600], command [1400];
        snprintf (target, sizeof target, "%s/%s/%s", self->dir, folder, name);
        snprintf (command, sizeof command, "cp '%s' '%s'", path, target);
        ck_assert_int_eq (system (command), 0);
    }
}

//  Start the broker (with metrics), the logger and count processors;
//  with curve, make every certificate first and turn CURVE on everywhere.
static void
s_rig_start (s_rig_t *self, bool curve, int count, const char *const logger_flags [])
{
    memset (self, 0, sizeof *self);
    self->curve = curve;
    self->pipeline = testkit_pipeline_new ();
    ck_assert_ptr_nonnull (self->pipeline);
    snprintf (self->dir, sizeof self->dir, "%s", testkit_pipeline_dir (self->pipeline));
    const char *front = strrchr (testkit_pipeline_frontend (self->pipeline), ':');
    const char *back = strrchr (testkit_pipeline_backend (self->pipeline), ':');
    self->front = atoi (front + 1);
    self->back = atoi (back + 1);
    char broker_port [16], processor_port [16];
    snprintf (broker_port, sizeof broker_port, "%d", testkit_free_port ());
    snprintf (processor_port, sizeof processor_port, "%d", testkit_free_port ());
    snprintf (self->broker_metrics, sizeof self->broker_metrics,
              "http://127.0.0.1:%s/metrics", broker_port);
    snprintf (self->processor_metrics, sizeof self->processor_metrics,
              "http://127.0.0.1:%s/metrics", processor_port);
    char secret [4][320], broker [300], loggers [300], workers [300];
    snprintf (broker, sizeof broker, "%s/broker", self->dir);
    snprintf (loggers, sizeof loggers, "%s/loggers", self->dir);
    snprintf (workers, sizeof workers, "%s/workers", self->dir);
    const char *names [4] = { "broker", "logger", "worker", "stranger" };
    if (curve) {
        ck_assert_int_eq (zsys_dir_create ("%s", loggers), 0);
        ck_assert_int_eq (zsys_dir_create ("%s", workers), 0);
        s_make_cert (self, "broker", NULL);
        s_make_cert (self, "logger", "loggers");
        s_make_cert (self, "worker", "workers");
        s_make_cert (self, "stranger", NULL);
        for (int index = 0; index < 4; index++)
            snprintf (secret [index], sizeof secret [index], "%s/%s_secret",
                      self->dir, names [index]);
    }
    const char *const broker_curve [] = {
        "--metrics-port", broker_port, "--curve-secret", secret [0],
        "--curve-loggers", loggers, "--curve-workers", workers, NULL };
    const char *const broker_plain [] = { "--metrics-port", broker_port, NULL };
    ck_assert_int_gt (testkit_pipeline_start_broker_with (self->pipeline,
                      curve? broker_curve: broker_plain), 0);
    ck_assert_int_eq (testkit_wait_http (self->broker_metrics, 10000), 0);
    const char *logger [16] = { NULL };
    int used = 0;
    for (int index = 0; logger_flags && logger_flags [index]; index++)
        logger [used++] = logger_flags [index];
    if (curve) {
        logger [used++] = "--curve-secret";
        logger [used++] = secret [1];
        logger [used++] = "--curve-broker";
        logger [used++] = broker;
    }
    ck_assert_int_gt (testkit_pipeline_start_logger (self->pipeline, logger), 0);
    for (int index = 0; index < count; index++) {
        const char *const processor_curve [] = {
            "--curve-secret", secret [2], "--curve-broker", broker,
            "--metrics-port", index == 0? processor_port: "0", NULL };
        const char *const processor_plain [] = {
            "--metrics-port", index == 0? processor_port: "0", NULL };
        ck_assert_int_gt (testkit_pipeline_start_processor (self->pipeline, index,
                          curve? processor_curve: processor_plain), 0);
    }
    if (count > 0)
        ck_assert_int_eq (testkit_wait_http (self->processor_metrics, 10000), 0);
}

//  Stop everything; every service must exit 0.
static void
s_rig_stop (s_rig_t *self)
{
    ck_assert_int_eq (testkit_pipeline_stop (self->pipeline), 0);
    testkit_pipeline_destroy (&self->pipeline);
}

//  Wait up to timeout_ms for a metric to reach at least value.
static bool
s_wait_metric (const char *url, const char *sample, double value, int timeout_ms)
{
    int64_t deadline = enp_time_mono_ms () + timeout_ms;
    while (enp_time_mono_ms () < deadline) {
        if (testkit_metric (url, sample) >= value)
            return true;
        usleep (20 * 1000);
    }
    return false;
}

//  Post an event; its id goes to id (37 bytes).
static void
s_post (s_rig_t *self, const char *user_id, const char *description, char *id)
{
    char url [128];
    snprintf (url, sizeof url, "%s/events", testkit_pipeline_base (self->pipeline));
    json_t *body = json_pack ("{s:s, s:s}", "user_id", user_id,
                              "description", description);
    char *text = json_dumps (body, JSON_COMPACT);
    testkit_response_t response;
    ck_assert_int_eq (testkit_http ("POST", url, "application/json", text,
                                    strlen (text), NULL, &response), 0);
    ck_assert_int_eq (response.code, 201);
    json_t *event = json_loads (response.body, 0, NULL);
    snprintf (id, 37, "%s", json_string_value (json_object_get (event, "event_id")));
    json_decref (event);
    testkit_response_free (&response);
    free (text);
    json_decref (body);
}

//  Return an event's status and attempts (into *attempts, may be NULL).
static char *
s_status (s_rig_t *self, const char *id, long *attempts)
{
    char url [160];
    snprintf (url, sizeof url, "%s/events/%s", testkit_pipeline_base (self->pipeline), id);
    testkit_response_t response;
    char *status = NULL;
    if (testkit_http ("GET", url, NULL, NULL, 0, NULL, &response) == 0
    &&  response.code == 200) {
        json_t *event = json_loads (response.body, 0, NULL);
        status = strdup (json_string_value (json_object_get (event, "status")));
        if (attempts)
            *attempts = (long) json_integer_value (json_object_get (event, "attempts"));
        json_decref (event);
    }
    testkit_response_free (&response);
    return status;
}

//  Wait up to 10 s for an event to be processed.
static void
s_wait_processed (s_rig_t *self, const char *id)
{
    int64_t deadline = enp_time_mono_ms () + 10000;
    bool done = false;
    while (!done && enp_time_mono_ms () < deadline) {
        char *status = s_status (self, id, NULL);
        done = status && streq (status, "processed");
        free (status);
        if (!done)
            usleep (20 * 1000);
    }
    ck_assert_msg (done, "event %s was not processed", id);
}

//  Count the lines of processor 0's output that hold text.
static int
s_lines_with (s_rig_t *self, const char *text)
{
    FILE *file = fopen (testkit_pipeline_output (self->pipeline, 0), "r");
    char line [20000];
    int count = 0;
    while (file && fgets (line, sizeof line, file))
        if (strstr (line, text))
            count++;
    if (file)
        fclose (file);
    return count;
}

//  An attacker's socket on one of the broker's ports, from 127.0.0.2,
//  with a CURVE key (or none).
static zsock_t *
s_attacker (int type, int port, enp_curve_t *curve)
{
    zsock_t *socket = zsock_new (type);
    ck_assert_ptr_nonnull (socket);
    zsock_set_linger (socket, 0);
    zsock_set_sndtimeo (socket, 1000);
    if (curve)
        enp_curve_apply_client (curve, socket);
    ck_assert_int_eq (zsock_connect (socket, "tcp://127.0.0.2:0;127.0.0.1:%d",
                                     port), 0);
    return socket;
}

//  Load a certificate the rig made, as a client of its broker.
static enp_curve_t *
s_curve (s_rig_t *self, const char *name)
{
    char secret [512], broker [512], err [256] = "";
    snprintf (secret, sizeof secret, "%s/%s_secret", self->dir, name);
    snprintf (broker, sizeof broker, "%s/broker", self->dir);
    enp_curve_t *curve = enp_curve_new (secret, broker, err, sizeof err);
    ck_assert_msg (curve != NULL, "%s", err);
    return curve;
}

//  Send a forged event, valid in every field, with the given id.
static void
s_send_forged (zsock_t *push, const char *id, const char *description)
{
    enp_event_t *event = enp_event_new (id, "victim", description, 1);
    zmsg_t *msg = enp_wire_encode (event, 1);
    zmsg_send (&msg, push);
    zmsg_destroy (&msg);
    enp_event_destroy (&event);
}

//  Sample text for one side and reason of refused handshakes.
static const char *
s_refused (char *buf, size_t size, const char *side, const char *reason)
{
    snprintf (buf, size, "broker_handshakes_refused_total{side=\"%s\",reason=\"%s\"}",
              side, reason);
    return buf;
}

//  CURVE on: an unknown key cannot push (nothing printed) nor pull
//  (nothing received); a processor's key cannot push, a logger's cannot
//  pull; a plain client breaks the protocol. Each is counted; real events
//  are all processed.
START_TEST (test_hostile_zmq_curve)
{
    s_rig_t rig;
    s_rig_start (&rig, true, 1, NULL);
    ck_assert (s_wait_metric (rig.broker_metrics, "broker_workers_connected", 1, 10000));
    enp_curve_t *stranger = s_curve (&rig, "stranger");
    enp_curve_t *worker = s_curve (&rig, "worker");
    enp_curve_t *logger = s_curve (&rig, "logger");
    char sample [160];

    zsock_t *forger = s_attacker (ZMQ_PUSH, rig.front, stranger);
    s_send_forged (forger, S_FORGED_ID, "FORGED by a stranger");
    zsock_t *thief = s_attacker (ZMQ_PULL, rig.back, stranger);
    ck_assert (s_wait_metric (rig.broker_metrics,
               s_refused (sample, sizeof sample, "frontend", "auth"), 1, 10000));
    ck_assert (s_wait_metric (rig.broker_metrics,
               s_refused (sample, sizeof sample, "backend", "auth"), 1, 10000));
    zsock_t *worker_pushes = s_attacker (ZMQ_PUSH, rig.front, worker);
    s_send_forged (worker_pushes, S_FORGED_ID, "FORGED by a worker key");
    zsock_t *logger_pulls = s_attacker (ZMQ_PULL, rig.back, logger);
    ck_assert (s_wait_metric (rig.broker_metrics,
               s_refused (sample, sizeof sample, "frontend", "auth"), 2, 10000));
    ck_assert (s_wait_metric (rig.broker_metrics,
               s_refused (sample, sizeof sample, "backend", "auth"), 2, 10000));
    zsock_t *plain = s_attacker (ZMQ_PUSH, rig.front, NULL);
    s_send_forged (plain, S_FORGED_ID, "FORGED in plain text");
    //  libzmq reports a mechanism mismatch as a protocol failure, or, when
    //  the peer gives up first, as a connection closed mid-handshake
    int64_t deadline = enp_time_mono_ms () + 10000;
    double refused = 0;
    while (refused < 1 && enp_time_mono_ms () < deadline) {
        refused = testkit_metric (rig.broker_metrics,
                      s_refused (sample, sizeof sample, "frontend", "protocol"))
                + testkit_metric (rig.broker_metrics,
                      s_refused (sample, sizeof sample, "frontend", "aborted"));
        usleep (20 * 1000);
    }
    ck_assert_msg (refused >= 1, "the plain client was not refused");

    //  Real events go through, to the real processor only
    char ids [20][37];
    for (int index = 0; index < 20; index++)
        s_post (&rig, "alice", "real", ids [index]);
    for (int index = 0; index < 20; index++)
        s_wait_processed (&rig, ids [index]);
    ck_assert_int_eq (s_lines_with (&rig, ": real"), 20);
    ck_assert_int_eq (s_lines_with (&rig, "FORGED"), 0);
    ck_assert_ptr_null (zmsg_recv_nowait (thief));
    ck_assert_ptr_null (zmsg_recv_nowait (logger_pulls));
    //  The broker took nothing but what the logger sent (events travel
    //  several to a message)
    char logger_metrics [128];
    snprintf (logger_metrics, sizeof logger_metrics, "%s/metrics",
              testkit_pipeline_base (rig.pipeline));
    double sent = testkit_metric (logger_metrics, "broker_messages_sent_total");
    ck_assert (sent >= 1 && sent <= 20);
    ck_assert_int_eq ((int) testkit_metric (rig.broker_metrics,
                      "broker_messages_received_total"), (int) sent);
    ck_assert_int_eq ((int) testkit_metric (rig.broker_metrics,
                      "broker_workers_connected"), 1);
    zsock_destroy (&plain);
    zsock_destroy (&logger_pulls);
    zsock_destroy (&worker_pushes);
    zsock_destroy (&thief);
    zsock_destroy (&forger);
    enp_curve_destroy (&logger);
    enp_curve_destroy (&worker);
    enp_curve_destroy (&stranger);
    s_rig_stop (&rig);
}
END_TEST

//  zmq_free_fn for a calloc'd frame.
static void
s_free (void *data, void *hint)
{
    (void) hint;
    free (data);
}

//  Send a message of count one-byte frames, then one 100 MB frame.
static void
s_send_huge (zsock_t *push, int count)
{
    void *handle = zsock_resolve (push);
    for (int index = 0; index < count; index++)
        ck_assert_int_eq (zmq_send (handle, "x", 1, index + 1 < count? ZMQ_SNDMORE: 0), 1);
    //  calloc'd pages are not touched, so the sender stays small too
    size_t size = 100 * 1024 * 1024;
    zmq_msg_t big;
    void *data = calloc (1, size);
    ck_assert_ptr_nonnull (data);
    zmq_msg_init_data (&big, data, size, s_free, NULL);
    ck_assert_int_eq (zmq_msg_send (&big, handle, 0), (int) size);
}

//  A 1M-frame message and a 100 MB frame into the broker's frontend (CURVE
//  off: a compromised or buggy logger) leave its memory bounded; both are
//  dropped and it keeps serving.
START_TEST (test_hostile_zmq_huge_to_broker)
{
    s_rig_t rig;
    s_rig_start (&rig, false, 1, NULL);
    pid_t broker = testkit_pipeline_broker (rig.pipeline);
    long before = testkit_rss_kb (broker, true);
    zsock_t *push = s_attacker (ZMQ_PUSH, rig.front, NULL);
    zsock_set_sndtimeo (push, 20000);
    s_send_huge (push, 1000000);
    ck_assert (s_wait_metric (rig.broker_metrics, "broker_messages_dropped_total",
                              1, 60000));
    long after = testkit_rss_kb (broker, true);
    fprintf (stderr, "broker peak RSS %ld KiB before, %ld KiB after a 1M-frame"
             " message and a 100 MB frame\n", before, after);
    ck_assert_int_lt (after - before, S_RSS_GROWTH_KB);
    char id [37];
    s_post (&rig, "alice", "after the flood", id);
    s_wait_processed (&rig, id);
    ck_assert_int_eq ((int) testkit_metric (rig.broker_metrics,
                      "broker_messages_received_total"), 1);
    zsock_destroy (&push);
    s_rig_stop (&rig);
}
END_TEST

//  The same into a processor, from a fake broker it connects to.
START_TEST (test_hostile_zmq_huge_to_processor)
{
    s_rig_t rig;
    s_rig_start (&rig, false, 0, NULL);
    zsock_t *fake = zsock_new (ZMQ_PUSH);
    zsock_set_sndtimeo (fake, 20000);
    zsock_set_linger (fake, 0);
    char endpoint [64], port [16];
    ck_assert_int_gt (testkit_bind_any (fake, endpoint, sizeof endpoint), 0);
    snprintf (port, sizeof port, "%d", testkit_free_port ());
    char metrics [96];
    snprintf (metrics, sizeof metrics, "http://127.0.0.1:%s/metrics", port);
    const char *const flags [] = { "--broker", endpoint, "--metrics-port", port, NULL };
    pid_t processor = testkit_pipeline_start_processor (rig.pipeline, 0, flags);
    ck_assert_int_gt (processor, 0);
    ck_assert (s_wait_metric (metrics, "worker_broker_connected", 1, 10000));
    long before = testkit_rss_kb (processor, true);
    s_send_huge (fake, 1000000);
    ck_assert (s_wait_metric (metrics, "worker_messages_malformed_total", 1, 60000));
    long after = testkit_rss_kb (processor, true);
    fprintf (stderr, "processor peak RSS %ld KiB before, %ld KiB after a 1M-frame"
             " message and a 100 MB frame\n", before, after);
    ck_assert_int_lt (after - before, S_RSS_GROWTH_KB);
    //  The 100 MB frame cost the fake broker its connection; once the
    //  processor is back, a valid event is printed
    ck_assert (s_wait_metric (metrics, "worker_broker_connected", 1, 10000));
    enp_event_t *event = enp_event_new (S_FORGED_ID, "alice", "still printing", 1);
    zmsg_t *msg = enp_wire_encode (event, 1);
    ck_assert_int_eq (zmsg_send (&msg, fake), 0);
    ck_assert (s_wait_metric (metrics, "worker_events_notified_total", 1, 10000));
    ck_assert_int_eq (s_lines_with (&rig, "still printing"), 1);
    enp_event_destroy (&event);
    zsock_destroy (&fake);
    s_rig_stop (&rig);
}
END_TEST

//  A malformed 64-byte greeting on the backend leaves the real worker
//  counted, so the broker still flushes to it on stop.
START_TEST (test_hostile_zmq_malformed_greeting)
{
    s_rig_t rig;
    s_rig_start (&rig, false, 1, NULL);
    ck_assert (s_wait_metric (rig.broker_metrics, "broker_workers_connected", 1, 10000));
    uint8_t greeting [64] = { 0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 0 };
    int fd = testkit_connect (rig.back);
    ck_assert_int_ge (fd, 0);
    ck_assert_int_eq (write (fd, greeting, sizeof greeting), (int) sizeof greeting);
    close (fd);
    char sample [160];
    ck_assert (s_wait_metric (rig.broker_metrics,
               s_refused (sample, sizeof sample, "backend", "aborted"), 1, 10000));
    ck_assert_int_eq ((int) testkit_metric (rig.broker_metrics,
                      "broker_workers_connected"), 1);
    s_rig_stop (&rig);
}
END_TEST

//  CURVE off: forged messages that break the API's rules (not UTF-8, too
//  long, an uppercase id, a bad attempt, too many frames) are dropped and
//  counted by the processor, never printed.
START_TEST (test_hostile_zmq_invalid_forgeries)
{
    s_rig_t rig;
    s_rig_start (&rig, false, 1, NULL);
    ck_assert (s_wait_metric (rig.broker_metrics, "broker_workers_connected", 1, 10000));
    zsock_t *push = s_attacker (ZMQ_PUSH, rig.front, NULL);
    static char too_long [ENP_USER_ID_MAX + 2];
    memset (too_long, 'u', sizeof too_long - 1);
    const char *users [] = { "FORGED\xc3(", too_long, "FORGED", "FORGED" };
    const char *ids [] = { S_FORGED_ID, S_FORGED_ID,
                           "00000000-0000-4000-8000-00000000F0F0", S_FORGED_ID };
    for (int index = 0; index < 4; index++) {
        enp_event_t *event = enp_event_new (ids [index], users [index], "FORGED", 1);
        zmsg_t *msg = enp_wire_encode (event, index == 3? 0: 1);
        ck_assert_int_eq (zmsg_send (&msg, push), 0);
        enp_event_destroy (&event);
    }
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, "ENP2");
    zmsg_addstr (msg, "FORGED");
    ck_assert_int_eq (zmsg_send (&msg, push), 0);
    ck_assert (s_wait_metric (rig.processor_metrics,
                              "worker_messages_malformed_total", 5, 10000));
    char id [37];
    s_post (&rig, "alice", "genuine", id);
    s_wait_processed (&rig, id);
    ck_assert_int_eq (s_lines_with (&rig, "FORGED"), 0);
    ck_assert_int_eq (s_lines_with (&rig, "genuine"), 1);
    zsock_destroy (&push);
    s_rig_stop (&rig);
}
END_TEST

//  PATCH an event's status; expect code.
static void
s_patch (s_rig_t *self, const char *id, const char *status)
{
    char url [160], body [64];
    snprintf (url, sizeof url, "%s/events/%s", testkit_pipeline_base (self->pipeline), id);
    snprintf (body, sizeof body, "{\"status\":\"%s\"}", status);
    testkit_response_t response;
    ck_assert_int_eq (testkit_http ("PATCH", url, "application/json", body,
                                    strlen (body), NULL, &response), 0);
    ck_assert_int_eq (response.code, 200);
    testkit_response_free (&response);
}

//  A PATCH to "pending" re-queues the event: it is printed again, with
//  CURVE on end to end.
START_TEST (test_hostile_zmq_requeue_prints_again)
{
    s_rig_t rig;
    s_rig_start (&rig, true, 1, NULL);
    char id [37];
    s_post (&rig, "alice", "requeue me", id);
    s_wait_processed (&rig, id);
    ck_assert_int_eq (s_lines_with (&rig, id), 1);
    s_patch (&rig, id, "pending");
    ck_assert (s_wait_metric (rig.processor_metrics, "worker_events_notified_total",
                              2, 10000));
    s_wait_processed (&rig, id);
    ck_assert_int_eq (s_lines_with (&rig, id), 2);
    s_rig_stop (&rig);
}
END_TEST

//  A redelivery after the visibility timeout (the report never lands: the
//  processor reports to a dead port) is not printed twice.
START_TEST (test_hostile_zmq_redelivery_not_printed_twice)
{
    s_rig_t rig;
    const char *const logger [] = { "--visibility-timeout", "1", NULL };
    s_rig_start (&rig, false, 0, logger);
    char dead [64], port [16];
    snprintf (dead, sizeof dead, "http://127.0.0.1:%d", testkit_free_port ());
    snprintf (port, sizeof port, "%d", testkit_free_port ());
    char metrics [96];
    snprintf (metrics, sizeof metrics, "http://127.0.0.1:%s/metrics", port);
    const char *const flags [] = { "--logger-url", dead, "--report-retries", "0",
                                   "--metrics-port", port, NULL };
    ck_assert_int_gt (testkit_pipeline_start_processor (rig.pipeline, 0, flags), 0);
    ck_assert_int_eq (testkit_wait_http (metrics, 10000), 0);
    char id [37];
    s_post (&rig, "alice", "only once", id);
    ck_assert (s_wait_metric (metrics, "worker_events_duplicate_total", 2, 20000));
    long attempts = 0;
    free (s_status (&rig, id, &attempts));
    ck_assert_int_ge (attempts, 3);
    ck_assert_int_eq (s_lines_with (&rig, id), 1);
    s_rig_stop (&rig);
}
END_TEST

int
main (void)
{
    const TTest *tests [] = {
        test_hostile_zmq_curve,
        test_hostile_zmq_huge_to_broker,
        test_hostile_zmq_huge_to_processor,
        test_hostile_zmq_malformed_greeting,
        test_hostile_zmq_invalid_forgeries,
        test_hostile_zmq_requeue_prints_again,
        test_hostile_zmq_redelivery_not_printed_twice,
        NULL
    };
    return testkit_run (testkit_suite ("hostile_zmq", 120, tests));
}
