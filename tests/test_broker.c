/*  test_broker - the queue-broker actor between loggers and workers

    Cases bind the broker on tcp://127.0.0.1:* and connect a PUSH (playing
    a logger) and PULLs (playing workers) to the ports it reports.
*/
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <czmq.h>
#include "broker.h"
#include "enp_curve.h"
#include "enp_time.h"
#include "enp_wire.h"
#include "testkit.h"

#define S_ANY "tcp://127.0.0.1:*"

//  Start a broker without CURVE buffering up to limit messages.
static broker_t *
s_broker_new (const char *frontend, const char *backend, size_t limit)
{
    broker_options_t options = {
        .frontend = frontend, .backend = backend, .max_queue = limit,
        .max_queue_bytes = 64 * 1024 * 1024
    };
    return broker_new (&options);
}

//  A PUSH connected to the broker's frontend, lingering so nothing is lost.
static zsock_t *
s_logger (broker_t *broker)
{
    zsock_t *push = zsock_new (ZMQ_PUSH);
    ck_assert_ptr_nonnull (push);
    zsock_set_linger (push, 1000);
    zsock_set_sndtimeo (push, 5000);
    ck_assert_int_eq (zsock_connect (push, "tcp://127.0.0.1:%d",
                                     broker_frontend_port (broker)), 0);
    return push;
}

//  A PULL connected to the broker's backend, with a receive timeout.
static zsock_t *
s_worker (broker_t *broker, int hwm)
{
    zsock_t *pull = zsock_new (ZMQ_PULL);
    ck_assert_ptr_nonnull (pull);
    if (hwm)
        zsock_set_rcvhwm (pull, hwm);
    zsock_set_rcvtimeo (pull, 5000);
    ck_assert_int_eq (zsock_connect (pull, "tcp://127.0.0.1:%d",
                                     broker_backend_port (broker)), 0);
    return pull;
}

//  Send a one-frame message "m<n>".
static void
s_send_numbered (zsock_t *push, int number)
{
    ck_assert_int_eq (zstr_sendf (push, "m%d", number), 0);
}

//  Receive a one-frame message and check it is "m<n>".
static void
s_recv_numbered (zsock_t *pull, int number)
{
    char *text = zstr_recv (pull);
    ck_assert_msg (text != NULL, "message m%d did not arrive", number);
    char expected [32];
    snprintf (expected, sizeof expected, "m%d", number);
    ck_assert_str_eq (text, expected);
    zstr_free (&text);
}

//  Send "m0" to "m<count-1>".
static void
s_send_range (zsock_t *push, int count)
{
    for (int index = 0; index < count; index++)
        s_send_numbered (push, index);
}

//  Receive "m0" to "m<count-1>", in that order.
static void
s_recv_range (zsock_t *pull, int count)
{
    for (int index = 0; index < count; index++)
        s_recv_numbered (pull, index);
}

//  Return the broker's metrics text (caller frees).
static char *
s_metrics (broker_t *broker)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    broker_print_metrics (broker, out);
    fclose (out);
    return text;
}

//  Wait up to timeout_ms for the metrics to show a line.
static bool
s_wait_metric (broker_t *broker, const char *line, int timeout_ms)
{
    int64_t deadline = enp_time_mono_ms () + timeout_ms;
    while (enp_time_mono_ms () < deadline) {
        char *text = s_metrics (broker);
        bool found = strstr (text, line) != NULL;
        free (text);
        if (found)
            return true;
        zclock_sleep (10);
    }
    return false;
}

//  Wait up to timeout_ms for a counter to reach a value.
static bool
s_wait_count (uint64_t (*counter) (broker_t *), broker_t *broker,
              uint64_t value, int timeout_ms)
{
    int64_t deadline = enp_time_mono_ms () + timeout_ms;
    while (enp_time_mono_ms () < deadline) {
        if (counter (broker) == value)
            return true;
        zclock_sleep (10);
    }
    return counter (broker) == value;
}

//  With no worker connected, send 20 messages to a broker whose queue holds
//  5, and wait until the queue is full and the broker has paused reading
//  (it counts the pause once it sees input waiting while full).
static void
s_overfill (broker_t *broker, zsock_t *push)
{
    s_send_range (push, 20);
    ck_assert (s_wait_count (broker_queued, broker, 5, 10000));
    ck_assert (s_wait_metric (broker, "broker_queue_refused_total 1\n", 10000));
}

//  Usage: start, move one message, read counters and metrics, stop.
START_TEST (test_broker_usage)
{
    broker_t *broker = s_broker_new (S_ANY, S_ANY, 100);
    ck_assert_ptr_nonnull (broker);
    ck_assert_int_gt (broker_frontend_port (broker), 0);
    ck_assert_int_gt (broker_backend_port (broker), 0);
    ck_assert_int_ne (broker_frontend_port (broker), broker_backend_port (broker));
    zsock_t *push = s_logger (broker);
    zsock_t *pull = s_worker (broker, 0);
    s_send_numbered (push, 1);
    s_recv_numbered (pull, 1);
    ck_assert (s_wait_count (broker_sent, broker, 1, 2000));
    ck_assert_uint_eq (broker_received (broker), 1);
    ck_assert_uint_eq (broker_queued (broker), 0);
    char *text = s_metrics (broker);
    ck_assert_ptr_nonnull (strstr (text, "broker_messages_received_total 1\n"));
    ck_assert_ptr_nonnull (strstr (text, "broker_messages_sent_total 1\n"));
    ck_assert_ptr_nonnull (strstr (text, "broker_queue_depth 0\n"));
    ck_assert_ptr_nonnull (strstr (text, "broker_queue_limit 100\n"));
    ck_assert_ptr_nonnull (strstr (text, "# TYPE broker_messages_sent_total counter\n"));
    free (text);
    zsock_destroy (&pull);
    zsock_destroy (&push);
    broker_destroy (&broker);
    ck_assert_ptr_null (broker);
    broker_destroy (&broker);
}
END_TEST

//  Frames arrive byte for byte as sent: binary, empty and large ones too.
START_TEST (test_broker_frames_untouched)
{
    broker_t *broker = s_broker_new (S_ANY, S_ANY, 100);
    zsock_t *push = s_logger (broker);
    zsock_t *pull = s_worker (broker, 0);
    uint8_t binary [256];
    for (int index = 0; index < 256; index++)
        binary [index] = (uint8_t) index;
    size_t big_size = 4096;
    uint8_t *big = malloc (big_size);
    for (size_t index = 0; index < big_size; index++)
        big [index] = (uint8_t) (index * 7);
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, "ENP1");
    zmsg_addmem (msg, binary, sizeof binary);
    zmsg_addmem (msg, NULL, 0);
    zmsg_addmem (msg, "\0\0\0", 3);
    zmsg_addmem (msg, big, big_size);
    ck_assert_int_eq (zmsg_send (&msg, push), 0);

    msg = zmsg_recv (pull);
    ck_assert_ptr_nonnull (msg);
    ck_assert_uint_eq (zmsg_size (msg), 5);
    zframe_t *frame = zmsg_first (msg);
    ck_assert (zframe_streq (frame, "ENP1"));
    frame = zmsg_next (msg);
    ck_assert_uint_eq (zframe_size (frame), sizeof binary);
    ck_assert_int_eq (memcmp (zframe_data (frame), binary, sizeof binary), 0);
    frame = zmsg_next (msg);
    ck_assert_uint_eq (zframe_size (frame), 0);
    frame = zmsg_next (msg);
    ck_assert_uint_eq (zframe_size (frame), 3);
    ck_assert_int_eq (memcmp (zframe_data (frame), "\0\0\0", 3), 0);
    frame = zmsg_next (msg);
    ck_assert_uint_eq (zframe_size (frame), big_size);
    ck_assert_int_eq (memcmp (zframe_data (frame), big, big_size), 0);
    zmsg_destroy (&msg);
    free (big);
    zsock_destroy (&pull);
    zsock_destroy (&push);
    broker_destroy (&broker);
}
END_TEST

//  Many messages: all arrive, in order, and the counters agree.
START_TEST (test_broker_counters)
{
    broker_t *broker = s_broker_new (S_ANY, S_ANY, 1000);
    zsock_t *push = s_logger (broker);
    zsock_t *pull = s_worker (broker, 0);
    s_send_range (push, 500);
    s_recv_range (pull, 500);
    ck_assert (s_wait_count (broker_sent, broker, 500, 2000));
    ck_assert_uint_eq (broker_received (broker), 500);
    ck_assert_uint_eq (broker_queued (broker), 0);
    zsock_destroy (&pull);
    zsock_destroy (&push);
    broker_destroy (&broker);
}
END_TEST

//  With no worker the queue fills to its limit and stops reading; what it
//  holds is delivered, in order, once a worker connects.
START_TEST (test_broker_buffers_until_worker)
{
    broker_t *broker = s_broker_new (S_ANY, S_ANY, 5);
    zsock_t *push = s_logger (broker);
    s_overfill (broker, push);
    ck_assert_uint_eq (broker_queued (broker), 5);
    ck_assert_uint_eq (broker_received (broker), 5);
    ck_assert_uint_eq (broker_sent (broker), 0);
    ck_assert (s_wait_metric (broker, "broker_queue_depth 5\n", 1000));

    zsock_t *pull = s_worker (broker, 0);
    s_recv_range (pull, 20);
    ck_assert (s_wait_count (broker_sent, broker, 20, 2000));
    ck_assert_uint_eq (broker_received (broker), 20);
    ck_assert (s_wait_count (broker_queued, broker, 0, 2000));
    zsock_destroy (&pull);
    zsock_destroy (&push);
    broker_destroy (&broker);
}
END_TEST

//  A full queue shows in the metrics: broker_queue_refused_total, "times
//  the queue was full", moves when loggers are held back.
START_TEST (test_broker_full_is_counted)
{
    broker_t *broker = s_broker_new (S_ANY, S_ANY, 5);
    zsock_t *push = s_logger (broker);
    s_overfill (broker, push);
    char *text = s_metrics (broker);
    ck_assert_msg (strstr (text, "broker_queue_refused_total 0\n") == NULL,
                   "the queue filled up and held 15 messages back, but:\n%s",
                   text);
    free (text);
    zsock_t *pull = s_worker (broker, 0);
    s_recv_range (pull, 20);
    zsock_destroy (&pull);
    zsock_destroy (&push);
    broker_destroy (&broker);
}
END_TEST

//  Two workers share the stream: both get some, nothing is lost or doubled.
START_TEST (test_broker_fan_out)
{
    broker_t *broker = s_broker_new (S_ANY, S_ANY, 1000);
    zsock_t *push = s_logger (broker);
    zsock_t *first = s_worker (broker, 0);
    zsock_t *second = s_worker (broker, 0);
    ck_assert (s_wait_metric (broker, "broker_workers_connected 2\n", 3000));
    int total = 200;
    s_send_range (push, total);
    bool seen [200] = { false };
    int counts [2] = { 0, 0 };
    zpoller_t *poller = zpoller_new (first, second, NULL);
    for (int received = 0; received < total; received++) {
        zsock_t *which = (zsock_t *) zpoller_wait (poller, 5000);
        ck_assert_ptr_nonnull (which);
        char *text = zstr_recv (which);
        ck_assert_ptr_nonnull (text);
        int number = atoi (text + 1);
        zstr_free (&text);
        ck_assert_int_ge (number, 0);
        ck_assert_int_lt (number, total);
        ck_assert (!seen [number]);
        seen [number] = true;
        counts [which == first? 0: 1]++;
    }
    zpoller_destroy (&poller);
    ck_assert_int_gt (counts [0], 0);
    ck_assert_int_gt (counts [1], 0);
    ck_assert_int_eq (counts [0] + counts [1], total);
    zsock_destroy (&second);
    zsock_destroy (&first);
    zsock_destroy (&push);
    broker_destroy (&broker);
}
END_TEST

//  Worker connections are counted through the backend's monitor.
START_TEST (test_broker_counts_workers)
{
    broker_t *broker = s_broker_new (S_ANY, S_ANY, 10);
    ck_assert (s_wait_metric (broker, "broker_workers_connected 0\n", 1000));
    zsock_t *pull = s_worker (broker, 0);
    ck_assert (s_wait_metric (broker, "broker_workers_connected 1\n", 3000));
    zsock_destroy (&pull);
    ck_assert (s_wait_metric (broker, "broker_workers_connected 0\n", 3000));
    broker_destroy (&broker);
}
END_TEST

//  A TCP connection that never speaks ZMTP (a port probe, a health check)
//  is not a worker: it must not change the count of connected workers.
START_TEST (test_broker_probe_is_not_a_worker)
{
    broker_t *broker = s_broker_new (S_ANY, S_ANY, 10);
    zsock_t *pull = s_worker (broker, 0);
    ck_assert (s_wait_metric (broker, "broker_workers_connected 1\n", 3000));
    for (int index = 0; index < 3; index++) {
        int fd = testkit_connect (broker_backend_port (broker));
        ck_assert_int_ge (fd, 0);
        close (fd);
    }
    //  A second real worker, connected after the probes: the broker sees
    //  its connection after theirs, so once it counts 2 the probes have
    //  been seen too, and had they counted it would say more
    zsock_t *second = s_worker (broker, 0);
    ck_assert (s_wait_metric (broker, "broker_workers_connected 2\n", 5000));
    zsock_destroy (&second);
    ck_assert (s_wait_metric (broker, "broker_workers_connected 1\n", 5000));
    char *text = s_metrics (broker);
    ck_assert_msg (strstr (text, "broker_workers_connected 1\n") != NULL,
                   "one worker is connected, but the broker says:\n%s", text);
    free (text);
    zsock_destroy (&pull);
    broker_destroy (&broker);
}
END_TEST

//  A 64-byte ZMTP greeting of an old revision (libzmq reports no
//  handshake outcome for it, only the disconnect) is not a worker either:
//  the one real worker stays counted, so a stop still flushes to it.
START_TEST (test_broker_malformed_greeting_is_not_a_worker)
{
    broker_t *broker = s_broker_new (S_ANY, S_ANY, 10);
    zsock_t *pull = s_worker (broker, 0);
    ck_assert (s_wait_metric (broker, "broker_workers_connected 1\n", 3000));
    //  Signature, then revision 1 (ZMTP 2.0) or 0, then padding
    for (int revision = 0; revision < 2; revision++) {
        uint8_t greeting [64] = { 0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f };
        greeting [10] = (uint8_t) revision;
        int fd = testkit_connect (broker_backend_port (broker));
        ck_assert_int_ge (fd, 0);
        ck_assert_int_eq (write (fd, greeting, sizeof greeting), (int) sizeof greeting);
        close (fd);
    }
    //  Positive signal: both were seen and counted as refused
    ck_assert (s_wait_metric (broker, "broker_handshakes_refused_total{side=\"backend\","
                              "reason=\"aborted\"} 2\n", 3000));
    char *text = s_metrics (broker);
    ck_assert_msg (strstr (text, "broker_workers_connected 1\n") != NULL,
                   "one worker is connected, but the broker says:\n%s", text);
    free (text);
    zsock_t *push = s_logger (broker);
    s_send_numbered (push, 1);
    s_recv_numbered (pull, 1);
    zsock_destroy (&push);
    zsock_destroy (&pull);
    broker_destroy (&broker);
}
END_TEST

//  A message with more frames or bytes than any event is dropped and
//  counted, not held or forwarded; what follows it still goes through.
START_TEST (test_broker_drops_oversized)
{
    broker_t *broker = s_broker_new (S_ANY, S_ANY, 100);
    zsock_t *push = s_logger (broker);
    zsock_t *pull = s_worker (broker, 0);
    zmsg_t *msg = zmsg_new ();
    for (int index = 0; index < 100000; index++)
        zmsg_addmem (msg, "f", 1);
    ck_assert_int_eq (zmsg_send (&msg, push), 0);
    static char half [ENP_WIRE_SIZE_MAX / 2 + 1];
    msg = zmsg_new ();
    zmsg_addmem (msg, half, sizeof half);
    zmsg_addmem (msg, half, sizeof half);
    ck_assert_int_eq (zmsg_send (&msg, push), 0);
    s_send_numbered (push, 1);
    s_recv_numbered (pull, 1);
    ck_assert_uint_eq (broker_dropped (broker), 2);
    ck_assert_uint_eq (broker_received (broker), 1);
    ck_assert (s_wait_metric (broker, "broker_messages_dropped_total 2\n", 1000));
    //  A frame over ZMQ_MAXMSGSIZE: libzmq drops the connection itself
    static char big [ENP_WIRE_SIZE_MAX * 2];
    msg = zmsg_new ();
    zmsg_addmem (msg, big, sizeof big);
    ck_assert_int_eq (zmsg_send (&msg, push), 0);
    zsock_t *other = s_logger (broker);
    s_send_numbered (other, 2);
    s_recv_numbered (pull, 2);
    ck_assert_uint_eq (broker_received (broker), 2);
    zsock_destroy (&other);
    zsock_destroy (&push);
    zsock_destroy (&pull);
    broker_destroy (&broker);
}
END_TEST

//  Certificates for a CURVE case: the broker's, a logger's and a worker's,
//  and the allow-list folders, all in a new temporary folder.
typedef struct {
    char *dir;
    char path [256];                    //  scratch
    enp_curve_t *broker, *logger, *worker, *stranger;
    char loggers [256], workers [256];
} s_certs_t;

//  Make a certificate pair named name in dir; load it as a client of the
//  broker (or as the broker when server is NULL).
static enp_curve_t *
s_cert (s_certs_t *self, const char *name, const char *server, const char *copy_to)
{
    char path [300], secret [320], err [256] = "";
    snprintf (path, sizeof path, "%s/%s", self->dir, name);
    ck_assert_int_eq (enp_curve_make_cert (path, err, sizeof err), 0);
    snprintf (secret, sizeof secret, "%s_secret", path);
    if (copy_to) {
        char target [300];
        snprintf (target, sizeof target, "%s/%s", copy_to, name);
        zfile_t *from = zfile_new (NULL, path);
        zchunk_t *chunk = from && zfile_input (from) == 0? zfile_read (from, 4096, 0): NULL;
        zfile_t *to = zfile_new (NULL, target);
        ck_assert (chunk && to && zfile_output (to) == 0
                   && zfile_write (to, chunk, 0) == 0);
        zfile_close (to);
        zfile_destroy (&to);
        zchunk_destroy (&chunk);
        zfile_destroy (&from);
    }
    enp_curve_t *curve = enp_curve_new (secret, server, err, sizeof err);
    ck_assert_msg (curve != NULL, "%s", err);
    return curve;
}

static void
s_certs_new (s_certs_t *self)
{
    memset (self, 0, sizeof *self);
    self->dir = testkit_tmpdir ();
    ck_assert_ptr_nonnull (self->dir);
    snprintf (self->loggers, sizeof self->loggers, "%s/loggers", self->dir);
    snprintf (self->workers, sizeof self->workers, "%s/workers", self->dir);
    ck_assert_int_eq (zsys_dir_create ("%s", self->loggers), 0);
    ck_assert_int_eq (zsys_dir_create ("%s", self->workers), 0);
    self->broker = s_cert (self, "broker", NULL, NULL);
    snprintf (self->path, sizeof self->path, "%s/broker", self->dir);
    self->logger = s_cert (self, "logger", self->path, self->loggers);
    self->worker = s_cert (self, "worker", self->path, self->workers);
    self->stranger = s_cert (self, "stranger", self->path, NULL);
}

static void
s_certs_destroy (s_certs_t *self)
{
    enp_curve_destroy (&self->broker);
    enp_curve_destroy (&self->logger);
    enp_curve_destroy (&self->worker);
    enp_curve_destroy (&self->stranger);
    free (self->dir);               //  Kept, like every suite's folder
}

//  A CURVE socket connected to one side of the broker.
static zsock_t *
s_curve_client (int type, enp_curve_t *curve, int port)
{
    zsock_t *socket = zsock_new (type);
    zsock_set_linger (socket, 0);
    zsock_set_sndtimeo (socket, 2000);
    zsock_set_rcvtimeo (socket, 2000);
    enp_curve_apply_client (curve, socket);
    ck_assert_int_eq (zsock_connect (socket, "tcp://127.0.0.1:%d", port), 0);
    return socket;
}

//  With CURVE each side lets in only its own keys: a worker's key cannot
//  push, a logger's key cannot pull, a stranger's key can do neither; all
//  of it is counted; the allowed pair works.
START_TEST (test_broker_curve_sides)
{
    s_certs_t certs;
    s_certs_new (&certs);
    broker_options_t options = {
        .frontend = S_ANY, .backend = S_ANY, .max_queue = 100,
        .max_queue_bytes = 1024 * 1024, .curve = certs.broker,
        .curve_loggers = certs.loggers, .curve_workers = certs.workers
    };
    broker_t *broker = broker_new (&options);
    ck_assert_ptr_nonnull (broker);
    int front = broker_frontend_port (broker);
    int back = broker_backend_port (broker);
    //  The wrong keys, each on the side it is not allowed on
    zsock_t *bad_push = s_curve_client (ZMQ_PUSH, certs.worker, front);
    zsock_t *bad_pull = s_curve_client (ZMQ_PULL, certs.logger, back);
    zsock_t *stranger = s_curve_client (ZMQ_PULL, certs.stranger, back);
    zstr_send (bad_push, "forged");
    ck_assert (s_wait_metric (broker, "broker_handshakes_refused_total{side=\"frontend\","
                              "reason=\"auth\"} 1\n", 5000));
    ck_assert (s_wait_metric (broker, "broker_handshakes_refused_total{side=\"backend\","
                              "reason=\"auth\"} 2\n", 5000));
    //  A plain (not CURVE) client breaks the protocol
    zsock_t *plain = zsock_new (ZMQ_PUSH);
    zsock_set_linger (plain, 0);
    ck_assert_int_eq (zsock_connect (plain, "tcp://127.0.0.1:%d", front), 0);
    zstr_send (plain, "plain");
    ck_assert (s_wait_metric (broker, "broker_handshakes_refused_total{side=\"frontend\","
                              "reason=\"protocol\"} 1\n", 5000));
    //  The right keys work, and only the real worker gets the message
    zsock_t *push = s_curve_client (ZMQ_PUSH, certs.logger, front);
    zsock_t *pull = s_curve_client (ZMQ_PULL, certs.worker, back);
    ck_assert (s_wait_metric (broker, "broker_workers_connected 1\n", 5000));
    ck_assert (s_wait_metric (broker, "broker_loggers_connected 1\n", 5000));
    zstr_send (push, "m1");
    s_recv_numbered (pull, 1);
    ck_assert_uint_eq (broker_received (broker), 1);
    ck_assert_ptr_null (zmsg_recv_nowait (bad_pull));
    ck_assert_ptr_null (zmsg_recv_nowait (stranger));
    zsock_destroy (&plain);
    zsock_destroy (&push);
    zsock_destroy (&pull);
    zsock_destroy (&stranger);
    zsock_destroy (&bad_pull);
    zsock_destroy (&bad_push);
    broker_destroy (&broker);
    s_certs_destroy (&certs);
}
END_TEST

//  A missing allow-list folder is a start-up failure, not an open door.
START_TEST (test_broker_curve_needs_lists)
{
    s_certs_t certs;
    s_certs_new (&certs);
    broker_options_t options = {
        .frontend = S_ANY, .backend = S_ANY, .max_queue = 100,
        .max_queue_bytes = 1024 * 1024, .curve = certs.broker,
        .curve_loggers = "/nonexistent/enp", .curve_workers = certs.workers
    };
    ck_assert_ptr_null (broker_new (&options));
    options.curve_loggers = certs.loggers;
    options.curve_workers = "";
    ck_assert_ptr_null (broker_new (&options));
    s_certs_destroy (&certs);
}
END_TEST

//  A port already bound: broker_new says NULL.
START_TEST (test_broker_bind_failure)
{
    broker_t *broker = s_broker_new (S_ANY, S_ANY, 10);
    ck_assert_ptr_nonnull (broker);
    char taken [64];
    snprintf (taken, sizeof taken, "tcp://127.0.0.1:%d",
              broker_frontend_port (broker));
    broker_t *clash = s_broker_new (taken, S_ANY, 10);
    ck_assert_ptr_null (clash);
    clash = s_broker_new (S_ANY, taken, 10);
    ck_assert_ptr_null (clash);
    clash = s_broker_new ("nonsense://x", S_ANY, 10);
    ck_assert_ptr_null (clash);
    broker_destroy (&broker);
}
END_TEST

//  inproc endpoints work and report port 0.
START_TEST (test_broker_inproc)
{
    char frontend [64], backend [64];
    snprintf (frontend, sizeof frontend, "inproc://test-broker-front-%d", getpid ());
    snprintf (backend, sizeof backend, "inproc://test-broker-back-%d", getpid ());
    broker_t *broker = s_broker_new (frontend, backend, 10);
    ck_assert_ptr_nonnull (broker);
    ck_assert_int_eq (broker_frontend_port (broker), 0);
    ck_assert_int_eq (broker_backend_port (broker), 0);
    char endpoint [80];
    snprintf (endpoint, sizeof endpoint, ">%s", frontend);
    zsock_t *push = zsock_new_push (endpoint);
    snprintf (endpoint, sizeof endpoint, ">%s", backend);
    zsock_t *pull = zsock_new_pull (endpoint);
    ck_assert_ptr_nonnull (push);
    ck_assert_ptr_nonnull (pull);
    zsock_set_rcvtimeo (pull, 5000);
    s_send_numbered (push, 7);
    s_recv_numbered (pull, 7);
    zsock_destroy (&pull);
    zsock_destroy (&push);
    broker_destroy (&broker);
}
END_TEST

#define S_FLUSH_SIZE     1000   //  bytes per message
//  Messages libzmq may still drop at the very end: linger delivers what is
//  in a closing socket's pipe, but the last output batch already taken
//  into its engine is discarded when that engine stops while the peer's
//  buffer is full. Seen here: up to 31 of 1,000 bytes. The broker cannot
//  see them, and the logger redelivers them (at-least-once).
#define S_FLUSH_TAIL     64

//  How many messages the flush test sends: more than the pipe to the worker
//  can hold, so some must still sit in the broker's queue at the stop, yet
//  few enough that the broker's 2 s of flushing is plenty even under a
//  sanitizer on a busy machine. The worker is on a Unix socket (ipc://),
//  whose kernel buffer is net.core.wmem_default, not TCP's buffers that
//  grow to megabytes; add the two high-water marks (100 + 5 messages) and
//  200 messages to spare.
static int
s_flush_messages (void)
{
    long wmem = 212992;
    FILE *file = fopen ("/proc/sys/net/core/wmem_default", "r");
    if (file) {
        if (fscanf (file, "%ld", &wmem) != 1)
            wmem = 212992;
        fclose (file);
    }
    long bytes = wmem + (100 + 5 + 200) * (long) S_FLUSH_SIZE;
    return (int) (bytes / S_FLUSH_SIZE + 1);
}

typedef struct {
    const char *endpoint;   //  backend endpoint to connect to
    int expected;           //  messages to read
    int received;           //  messages read
    bool connected;         //  the PULL is connected
    bool go;                //  set by the test: start reading
} s_slow_worker_t;

//  A worker thread that connects, waits for the test's go, then reads
//  everything.
static void *
s_slow_worker (void *arg)
{
    s_slow_worker_t *self = (s_slow_worker_t *) arg;
    zsock_t *pull = zsock_new (ZMQ_PULL);
    zsock_set_rcvhwm (pull, 5);
    zsock_set_rcvtimeo (pull, 5000);
    zsock_connect (pull, "%s", self->endpoint);
    __atomic_store_n (&self->connected, true, __ATOMIC_RELEASE);
    while (!__atomic_load_n (&self->go, __ATOMIC_ACQUIRE))
        zclock_sleep (5);
    while (self->received < self->expected) {
        zmsg_t *msg = zmsg_recv (pull);
        if (!msg)
            break;
        zmsg_destroy (&msg);
        self->received++;
    }
    zsock_destroy (&pull);
    return NULL;
}

//  On stop the broker first hands what it buffers to connected workers.
START_TEST (test_broker_flush_on_destroy)
{
    int messages = s_flush_messages ();
    char backend [96];
    snprintf (backend, sizeof backend, "ipc:///tmp/enp-test-broker-%d.ipc", (int) getpid ());
    broker_t *broker = s_broker_new (S_ANY, backend, 2 * (size_t) messages);
    ck_assert_ptr_nonnull (broker);
    s_slow_worker_t worker = { backend, messages, 0, false, false };
    pthread_t thread;
    ck_assert_int_eq (pthread_create (&thread, NULL, s_slow_worker, &worker), 0);
    ck_assert (s_wait_metric (broker, "broker_workers_connected 1\n", 3000));
    zsock_t *push = s_logger (broker);
    char *payload = calloc (1, S_FLUSH_SIZE);
    for (int index = 0; index < worker.expected; index++) {
        zmsg_t *msg = zmsg_new ();
        zmsg_addmem (msg, payload, S_FLUSH_SIZE);
        ck_assert_int_eq (zmsg_send (&msg, push), 0);
    }
    free (payload);
    ck_assert (s_wait_count (broker_received, broker, (uint64_t) messages, 20000));
    //  The worker has read nothing yet, so more than the pipe holds is left
    //  in the broker's queue (its count is published once per loop, just
    //  after the receive count: wait for it) when it is told to stop, and
    //  the worker reads them all then
    int64_t deadline = enp_time_mono_ms () + 20000;
    while (broker_queued (broker) == 0 && enp_time_mono_ms () < deadline)
        zclock_sleep (5);
    ck_assert_uint_gt (broker_queued (broker), 0);
    zsock_destroy (&push);
    __atomic_store_n (&worker.go, true, __ATOMIC_RELEASE);
    testkit_capture_t capture;
    testkit_capture_start (&capture);
    broker_destroy (&broker);
    char *log = testkit_capture_end (&capture);
    pthread_join (thread, NULL);
    //  The broker handed its whole queue over within its flush time...
    ck_assert_ptr_nonnull (log);
    ck_assert_msg (strstr (log, "unsent") == NULL, "the broker gave up:\n%s", log);
    free (log);
    //  ...and the worker read all of it but libzmq's last batch at most
    ck_assert_msg (worker.received >= worker.expected - S_FLUSH_TAIL,
                   "the worker read %d of %d", worker.received, worker.expected);
}
END_TEST

int
main (void)
{
    const TTest *tests [] = {
        test_broker_usage,
        test_broker_frames_untouched,
        test_broker_counters,
        test_broker_buffers_until_worker,
        test_broker_full_is_counted,
        test_broker_fan_out,
        test_broker_counts_workers,
        test_broker_probe_is_not_a_worker,
        test_broker_malformed_greeting_is_not_a_worker,
        test_broker_drops_oversized,
        test_broker_curve_sides,
        test_broker_curve_needs_lists,
        test_broker_bind_failure,
        test_broker_inproc,
        test_broker_flush_on_destroy,
        NULL
    };
    return testkit_run (testkit_suite ("broker", 30, tests));
}
