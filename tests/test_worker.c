/*  test_worker - the notification-processor actor and its output line

    Actor cases bind a PUSH (playing the broker) or start a real broker
    actor, give the worker a temporary file as standard output, and start
    a small CivetWeb server playing the logger.
*/
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <civetweb.h>
#include <czmq.h>
#include "worker.h"
#include "broker.h"
#include "enp_time.h"
#include "enp_wire.h"

#define S_ID "123e4567-e89b-42d3-a456-426614174000"

//  ---------------------------------------------------------------------
//  A small CivetWeb server playing the event-logger: it answers
//  PATCH /events/{id} with scripted codes (the last one repeats), counts
//  requests and remembers what they carried.

#define S_SERVER_IDS 64

typedef struct {
    struct mg_context *context;
    int port;
    pthread_mutex_t mutex;
    int codes [8];                      //  answers in order; the last repeats
    int code_count;
    int requests;                       //  requests answered
    int patches;                        //  of which were PATCH
    char ids [S_SERVER_IDS][64];        //  ids from the paths, in order
    char authorization [128];           //  last Authorization header, or ""
    char content_type [128];            //  last Content-Type header
    char body [256];                    //  last request body
    int delay_ms;                       //  time taken to answer
} s_server_t;

//  Answer one request with the next scripted code.
static int
s_server_handle (struct mg_connection *conn, void *cbdata)
{
    s_server_t *self = (s_server_t *) cbdata;
    const struct mg_request_info *info = mg_get_request_info (conn);
    char body [256];
    size_t size = 0;
    while (size < sizeof body - 1) {
        int rc = mg_read (conn, body + size, sizeof body - 1 - size);
        if (rc <= 0)
            break;
        size += (size_t) rc;
    }
    body [size] = '\0';
    const char *authorization = mg_get_header (conn, "Authorization");
    const char *content_type = mg_get_header (conn, "Content-Type");
    pthread_mutex_lock (&self->mutex);
    int index = self->requests++;
    int code = self->codes [index < self->code_count? index: self->code_count - 1];
    if (strcmp (info->request_method, "PATCH") == 0)
        self->patches++;
    const char *prefix = "/events/";
    if (index < S_SERVER_IDS && strncmp (info->local_uri, prefix, strlen (prefix)) == 0)
        snprintf (self->ids [index], sizeof self->ids [index], "%s",
                  info->local_uri + strlen (prefix));
    snprintf (self->authorization, sizeof self->authorization, "%s",
              authorization? authorization: "");
    snprintf (self->content_type, sizeof self->content_type, "%s",
              content_type? content_type: "");
    snprintf (self->body, sizeof self->body, "%s", body);
    pthread_mutex_unlock (&self->mutex);
    if (self->delay_ms)
        usleep ((useconds_t) self->delay_ms * 1000);
    const char *reply = "{}";
    mg_printf (conn, "HTTP/1.1 %d Scripted\r\nContent-Type: application/json\r\n"
               "Content-Length: %zu\r\n\r\n%s", code, strlen (reply), reply);
    return code;
}

//  Start the server with a script of answer codes (0-terminated).
static s_server_t *
s_server_new (const int *codes)
{
    s_server_t *self = (s_server_t *) calloc (1, sizeof (s_server_t));
    ck_assert_ptr_nonnull (self);
    pthread_mutex_init (&self->mutex, NULL);
    while (codes [self->code_count] && self->code_count < 8) {
        self->codes [self->code_count] = codes [self->code_count];
        self->code_count++;
    }
    ck_assert_int_gt (self->code_count, 0);
    const char *options [] = {
        "listening_ports", "127.0.0.1:0", "num_threads", "4",
        "enable_keep_alive", "yes", "keep_alive_timeout_ms", "2000",
        "request_timeout_ms", "2000", NULL
    };
    struct mg_callbacks callbacks;
    memset (&callbacks, 0, sizeof callbacks);
    self->context = mg_start (&callbacks, NULL, options);
    ck_assert_ptr_nonnull (self->context);
    struct mg_server_port ports [1];
    ck_assert_int_eq (mg_get_server_ports (self->context, 1, ports), 1);
    self->port = ports [0].port;
    mg_set_request_handler (self->context, "/events", s_server_handle, self);
    return self;
}

typedef struct {
    int port;                   //  the port to knock on
    atomic_bool done;           //  stop knocking
} s_knocker_t;

//  Connect to the port now and then until told to stop. CivetWeb's
//  listening thread polls with a 2 s quantum, so mg_stop takes 2 s unless
//  a connection wakes it; knocking keeps each case fast.
static void *
s_knock (void *arg)
{
    s_knocker_t *self = (s_knocker_t *) arg;
    while (!atomic_load (&self->done)) {
        int fd = socket (AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in address = { .sin_family = AF_INET,
                                       .sin_port = htons (self->port) };
        address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
        if (fd >= 0) {
            if (connect (fd, (struct sockaddr *) &address, sizeof address)) {}
            close (fd);
        }
        usleep (20 * 1000);
    }
    return NULL;
}

//  Stop the server and free it.
static void
s_server_destroy (s_server_t **self_p)
{
    s_server_t *self = *self_p;
    s_knocker_t knocker = { .port = self->port };
    atomic_init (&knocker.done, false);
    pthread_t thread;
    ck_assert_int_eq (pthread_create (&thread, NULL, s_knock, &knocker), 0);
    mg_stop (self->context);
    atomic_store (&knocker.done, true);
    pthread_join (thread, NULL);
    pthread_mutex_destroy (&self->mutex);
    free (self);
    *self_p = NULL;
}

//  Read a counter of the server under its lock.
static int
s_server_requests (s_server_t *self)
{
    pthread_mutex_lock (&self->mutex);
    int requests = self->requests;
    pthread_mutex_unlock (&self->mutex);
    return requests;
}

//  ---------------------------------------------------------------------

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

//  Wait up to timeout_ms for the worker and the server to reach counts.
static bool
s_wait (worker_t *worker, s_server_t *server, uint64_t notified,
        uint64_t reported, int requests, int timeout_ms)
{
    int64_t deadline = enp_time_mono_ms () + timeout_ms;
    while (enp_time_mono_ms () < deadline) {
        if (worker_notified (worker) == notified
        &&  worker_reported (worker) == reported
        &&  s_server_requests (server) == requests)
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

//  A PUSH bound on a free port, playing the broker's backend.
static zsock_t *
s_backend (char *endpoint, size_t size)
{
    zsock_t *push = zsock_new (ZMQ_PUSH);
    ck_assert_ptr_nonnull (push);
    zsock_set_linger (push, 1000);
    zsock_set_sndtimeo (push, 5000);
    //  A port the kernel picks, not czmq's "*", which hands out the same
    //  few ports to every process in turn
    ck_assert_int_eq (zsock_bind (push, "tcp://127.0.0.1:0"), 0);
    char *last = zsock_last_endpoint (push);
    ck_assert_ptr_nonnull (last);
    snprintf (endpoint, size, "%s", last);
    free (last);
    return push;
}

//  Encode and send an event as delivery attempt.
static void
s_send_event (zsock_t *push, enp_event_t *event, uint32_t attempt)
{
    zmsg_t *msg = enp_wire_encode (event, attempt);
    ck_assert_ptr_nonnull (msg);
    ck_assert_int_eq (zmsg_send (&msg, push), 0);
}

//  Usage: format a line, start a worker, feed it an event, stop it.
START_TEST (test_worker_usage)
{
    char line [256];
    size_t length = worker_format_line (line, sizeof line, S_ID, "alice", "hi");
    ck_assert_str_eq (line, "Event " S_ID " has been sent to alice: hi\n");
    ck_assert_uint_eq (length, strlen (line));

    mg_init_library (0);
    s_server_t *server = s_server_new ((int []) { 200, 0 });
    char broker [64], logger [64];
    zsock_t *push = s_backend (broker, sizeof broker);
    snprintf (logger, sizeof logger, "http://127.0.0.1:%d", server->port);
    FILE *out = tmpfile ();
    worker_options_t options = { .broker = broker, .logger_url = logger,
                                 .dedup_size = 100, .max_retries = 2,
                                 .backoff_ms = 10, .inflight = 1 };
    worker_t *worker = worker_new (&options, out);
    ck_assert_ptr_nonnull (worker);
    enp_event_t *event = enp_event_new (S_ID, "alice", "hi", 0);
    s_send_event (push, event, 1);
    ck_assert (s_wait (worker, server, 1, 1, 1, 5000));
    ck_assert_uint_eq (worker_duplicates (worker), 0);
    char *text = s_metrics (worker);
    ck_assert_ptr_nonnull (strstr (text, "worker_events_notified_total 1\n"));
    free (text);
    worker_destroy (&worker);
    ck_assert_ptr_null (worker);
    worker_destroy (&worker);
    char *lines [4];
    ck_assert_uint_eq (s_read_lines (out, lines, 4), 1);
    ck_assert_str_eq (lines [0], line);
    free (lines [0]);
    fclose (out);
    enp_event_destroy (&event);
    zsock_destroy (&push);
    s_server_destroy (&server);
    mg_exit_library ();
}
END_TEST

//  The line has exactly the format DESIGN.md fixes.
START_TEST (test_worker_format_line_exact)
{
    char line [512];
    size_t length = worker_format_line (line, sizeof line, S_ID, "user-42",
                                        "Your order shipped! caf\xc3\xa9 \"ok\" 100%");
    const char *expected = "Event " S_ID " has been sent to user-42: Your order"
                           " shipped! caf\xc3\xa9 \"ok\" 100%\n";
    ck_assert_str_eq (line, expected);
    ck_assert_uint_eq (length, strlen (expected));
}
END_TEST

//  Control characters are escaped so one event is always one line.
START_TEST (test_worker_format_line_escapes)
{
    char line [512];
    size_t length = worker_format_line (line, sizeof line, S_ID, "a\nb\tc",
                                        "x\ty\rz\x01\x1b[31m\x1f\x7f end\n");
    const char *expected = "Event " S_ID " has been sent to a\\nb\\tc: "
                           "x\\ty\\rz\\x01\\x1b[31m\\x1f\\x7f end\\n\n";
    ck_assert_str_eq (line, expected);
    ck_assert_uint_eq (length, strlen (expected));
    //  Exactly one newline, at the end
    ck_assert_ptr_eq (strchr (line, '\n'), line + length - 1);
}
END_TEST

//  The longest valid event, fully escaped, fits the worker's line buffer.
START_TEST (test_worker_format_line_longest)
{
    char user [ENP_USER_ID_MAX + 1];
    char description [ENP_DESCRIPTION_MAX + 1];
    memset (user, '\x02', ENP_USER_ID_MAX);
    user [ENP_USER_ID_MAX] = '\0';
    memset (description, '\x03', ENP_DESCRIPTION_MAX);
    description [ENP_DESCRIPTION_MAX] = '\0';
    size_t size = ENP_DESCRIPTION_MAX * 4 + ENP_USER_ID_MAX * 4 + 128;
    char *line = malloc (size);
    size_t length = worker_format_line (line, size, S_ID, user, description);
    size_t expected = strlen ("Event  has been sent to : \n") + ENP_UUID_LEN
                    + 4 * ENP_USER_ID_MAX + 4 * ENP_DESCRIPTION_MAX;
    ck_assert_uint_eq (length, expected);
    ck_assert_uint_eq (strlen (line), expected);
    ck_assert_int_eq (line [length - 1], '\n');
    ck_assert_int_eq (memcmp (line + length - 5, "\\x03", 4), 0);
    free (line);
}
END_TEST

//  Small buffers truncate cleanly: NUL-terminated, no half escape.
START_TEST (test_worker_format_line_truncates)
{
    char full [256];
    size_t full_length = worker_format_line (full, sizeof full, S_ID, "u\x01v",
                                             "d\x02\x03" "e");
    for (size_t size = 1; size <= full_length + 1; size++) {
        char buf [256];
        memset (buf, '#', sizeof buf);
        size_t length = worker_format_line (buf, size, S_ID, "u\x01v",
                                            "d\x02\x03" "e");
        ck_assert_uint_lt (length, size);
        ck_assert_uint_eq (strlen (buf), length);
        ck_assert_int_eq (buf [size], '#');
        //  An escape is written whole or not at all
        const char *escape = strrchr (buf, '\\');
        if (escape) {
            ck_assert_int_eq (escape [1], 'x');
            ck_assert_uint_ge (strlen (escape), 4);
        }
    }
    char buf [4] = "###";
    ck_assert_uint_eq (worker_format_line (buf, 0, S_ID, "u", "d"), 0);
    ck_assert_int_eq (buf [0], '#');
}
END_TEST

//  A buffer of exactly the line's length plus its NUL holds the whole line.
START_TEST (test_worker_format_line_exact_fit)
{
    const char *descriptions [] = { "hello", "d\x02\x03" "e", "tab\t" };
    for (size_t index = 0; index < 3; index++) {
        char full [256];
        size_t full_length = worker_format_line (full, sizeof full, S_ID,
                                                 "alice", descriptions [index]);
        char whole [256];
        size_t length = worker_format_line (whole, full_length + 1, S_ID,
                                            "alice", descriptions [index]);
        ck_assert_msg (length == full_length && strcmp (whole, full) == 0,
                       "a %zu-byte buffer gave '%s' instead of '%s'",
                       full_length + 1, whole, full);
    }
}
END_TEST

//  Three events, a duplicate and a malformed message: three lines, four
//  reports (the duplicate is reported again), and counters that match.
START_TEST (test_worker_prints_and_reports)
{
    mg_init_library (0);
    s_server_t *server = s_server_new ((int []) { 200, 0 });
    char broker [64], logger [64];
    zsock_t *push = s_backend (broker, sizeof broker);
    snprintf (logger, sizeof logger, "http://127.0.0.1:%d", server->port);
    FILE *out = tmpfile ();
    worker_options_t options = { .broker = broker, .logger_url = logger,
                                 .dedup_size = 100, .max_retries = 2,
                                 .backoff_ms = 10, .inflight = 1 };
    worker_t *worker = worker_new (&options, out);
    ck_assert_ptr_nonnull (worker);

    enp_event_t *events [3] = {
        enp_event_new ("00000000-0000-4000-8000-000000000001", "alice",
                       "first", 1),
        enp_event_new ("00000000-0000-4000-8000-000000000002", "bob",
                       "second\nline", 2),
        enp_event_new ("00000000-0000-4000-8000-000000000003", "carol",
                       "third\tpart", 3)
    };
    s_send_event (push, events [0], 1);
    zmsg_t *garbage = zmsg_new ();
    zmsg_addstr (garbage, "not an event");
    ck_assert_int_eq (zmsg_send (&garbage, push), 0);
    s_send_event (push, events [1], 1);
    s_send_event (push, events [2], 1);
    s_send_event (push, events [0], 2);         //  a redelivery

    ck_assert (s_wait (worker, server, 3, 4, 4, 5000));
    ck_assert_uint_eq (worker_duplicates (worker), 1);
    ck_assert_int_eq (server->patches, 4);
    ck_assert_str_eq (server->ids [0], enp_event_id (events [0]));
    ck_assert_str_eq (server->ids [1], enp_event_id (events [1]));
    ck_assert_str_eq (server->ids [2], enp_event_id (events [2]));
    ck_assert_str_eq (server->ids [3], enp_event_id (events [0]));
    char *text = s_metrics (worker);
    ck_assert_ptr_nonnull (strstr (text, "worker_events_notified_total 3\n"));
    ck_assert_ptr_nonnull (strstr (text, "worker_events_reported_total 4\n"));
    ck_assert_ptr_nonnull (strstr (text, "worker_events_duplicate_total 1\n"));
    ck_assert_ptr_nonnull (strstr (text, "worker_report_failures_total 0\n"));
    ck_assert_ptr_nonnull (strstr (text, "worker_messages_malformed_total 1\n"));
    ck_assert_ptr_nonnull (strstr (text, "# TYPE worker_events_notified_total counter\n"));
    free (text);
    worker_destroy (&worker);

    char *lines [8];
    size_t count = s_read_lines (out, lines, 8);
    ck_assert_uint_eq (count, 3);
    ck_assert_str_eq (lines [0], "Event 00000000-0000-4000-8000-000000000001"
                                 " has been sent to alice: first\n");
    ck_assert_str_eq (lines [1], "Event 00000000-0000-4000-8000-000000000002"
                                 " has been sent to bob: second\\nline\n");
    ck_assert_str_eq (lines [2], "Event 00000000-0000-4000-8000-000000000003"
                                 " has been sent to carol: third\\tpart\n");
    for (size_t index = 0; index < count; index++)
        free (lines [index]);
    fclose (out);
    for (int index = 0; index < 3; index++)
        enp_event_destroy (&events [index]);
    zsock_destroy (&push);
    s_server_destroy (&server);
    mg_exit_library ();
}
END_TEST

//  A logger that says 404: the line is still printed, the report is not
//  counted as done, and the failure shows in the metrics.
START_TEST (test_worker_report_rejected)
{
    mg_init_library (0);
    s_server_t *server = s_server_new ((int []) { 404, 0 });
    char broker [64], logger [64];
    zsock_t *push = s_backend (broker, sizeof broker);
    snprintf (logger, sizeof logger, "http://127.0.0.1:%d", server->port);
    FILE *out = tmpfile ();
    worker_options_t options = { .broker = broker, .logger_url = logger,
                                 .status_token = "tok", .dedup_size = 100,
                                 .max_retries = 2, .backoff_ms = 10,
                                 .inflight = 1 };
    worker_t *worker = worker_new (&options, out);
    enp_event_t *event = enp_event_new (S_ID, "alice", "hi", 0);
    s_send_event (push, event, 1);
    ck_assert (s_wait (worker, server, 1, 0, 1, 5000));
    ck_assert_str_eq (server->authorization, "Bearer tok");
    char *text = NULL;
    int64_t deadline = enp_time_mono_ms () + 2000;
    bool found = false;
    while (!found && enp_time_mono_ms () < deadline) {
        free (text);
        text = s_metrics (worker);
        found = strstr (text, "worker_report_failures_total 1\n") != NULL;
        zclock_sleep (10);
    }
    free (text);
    ck_assert (found);
    worker_destroy (&worker);
    char *lines [2];
    ck_assert_uint_eq (s_read_lines (out, lines, 2), 1);
    free (lines [0]);
    fclose (out);
    enp_event_destroy (&event);
    zsock_destroy (&push);
    s_server_destroy (&server);
    mg_exit_library ();
}
END_TEST

//  Stopping while a report is retrying against a failing logger is prompt.
START_TEST (test_worker_destroy_cancels_retries)
{
    mg_init_library (0);
    s_server_t *server = s_server_new ((int []) { 503, 0 });
    char broker [64], logger [64];
    zsock_t *push = s_backend (broker, sizeof broker);
    snprintf (logger, sizeof logger, "http://127.0.0.1:%d", server->port);
    FILE *out = tmpfile ();
    worker_options_t options = { .broker = broker, .logger_url = logger,
                                 .dedup_size = 100, .max_retries = 50,
                                 .backoff_ms = 4000, .inflight = 1 };
    worker_t *worker = worker_new (&options, out);
    enp_event_t *event = enp_event_new (S_ID, "alice", "hi", 0);
    s_send_event (push, event, 1);
    int64_t deadline = enp_time_mono_ms () + 5000;
    while (s_server_requests (server) < 1 && enp_time_mono_ms () < deadline)
        zclock_sleep (10);
    ck_assert_int_ge (s_server_requests (server), 1);
    int64_t start = enp_time_mono_ms ();
    worker_destroy (&worker);
    ck_assert_int_lt (enp_time_mono_ms () - start, 3000);
    ck_assert_ptr_null (worker);
    fclose (out);
    enp_event_destroy (&event);
    zsock_destroy (&push);
    s_server_destroy (&server);
    mg_exit_library ();
}
END_TEST

//  Stopping finishes the events the worker already holds: printed and
//  reported, though the logger answers slowly.
START_TEST (test_worker_destroy_finishes_held_events)
{
    mg_init_library (0);
    s_server_t *server = s_server_new ((int []) { 200, 0 });
    server->delay_ms = 200;
    char broker [64], logger [64];
    zsock_t *push = s_backend (broker, sizeof broker);
    snprintf (logger, sizeof logger, "http://127.0.0.1:%d", server->port);
    FILE *out = tmpfile ();
    worker_options_t options = { .broker = broker, .logger_url = logger,
                                 .dedup_size = 100, .max_retries = 2,
                                 .backoff_ms = 10, .inflight = 1 };
    worker_t *worker = worker_new (&options, out);
    enp_event_t *events [4];
    for (int index = 0; index < 4; index++) {
        char id [37];
        snprintf (id, sizeof id, "00000000-0000-4000-8000-%012d", index);
        events [index] = enp_event_new (id, "erin", "held", index);
        s_send_event (push, events [index], 1);
    }
    //  The first event is being reported; the others wait in the worker
    int64_t deadline = enp_time_mono_ms () + 5000;
    while (worker_notified (worker) < 1 && enp_time_mono_ms () < deadline)
        zclock_sleep (5);
    ck_assert_uint_ge (worker_notified (worker), 1);
    zclock_sleep (50);
    worker_destroy (&worker);
    char *lines [8];
    size_t count = s_read_lines (out, lines, 8);
    for (size_t index = 0; index < count && index < 8; index++)
        free (lines [index]);
    ck_assert_msg (count == 4, "the worker printed %zu of the 4 events it held",
                   count);
    ck_assert_int_eq (s_server_requests (server), 4);
    fclose (out);
    for (int index = 0; index < 4; index++)
        enp_event_destroy (&events [index]);
    zsock_destroy (&push);
    s_server_destroy (&server);
    mg_exit_library ();
}
END_TEST

//  With several reports in flight, a slow logger costs one round trip per
//  batch, not one per event.
START_TEST (test_worker_concurrent_reports)
{
    mg_init_library (0);
    s_server_t *server = s_server_new ((int []) { 200, 0 });
    server->delay_ms = 150;
    char broker [64], logger [64];
    zsock_t *push = s_backend (broker, sizeof broker);
    snprintf (logger, sizeof logger, "http://127.0.0.1:%d", server->port);
    FILE *out = tmpfile ();
    worker_options_t options = { .broker = broker, .logger_url = logger,
                                 .dedup_size = 100, .max_retries = 2,
                                 .backoff_ms = 10, .inflight = 4 };
    worker_t *worker = worker_new (&options, out);
    enp_event_t *events [8];
    int64_t start = enp_time_mono_ms ();
    for (int index = 0; index < 8; index++) {
        char id [37];
        snprintf (id, sizeof id, "00000000-0000-4000-8000-%012d", index);
        events [index] = enp_event_new (id, "frank", "fast", index);
        s_send_event (push, events [index], 1);
    }
    ck_assert (s_wait (worker, server, 8, 8, 8, 5000));
    int64_t elapsed = enp_time_mono_ms () - start;
    //  One at a time would take 8 x 150 ms
    ck_assert_msg (elapsed < 900, "8 reports took %ld ms", (long) elapsed);
    worker_destroy (&worker);
    char *lines [10];
    size_t count = s_read_lines (out, lines, 10);
    ck_assert_uint_eq (count, 8);
    for (int index = 0; index < 8; index++) {
        char expected [256];
        worker_format_line (expected, sizeof expected, enp_event_id (events [index]),
                            "frank", "fast");
        ck_assert_str_eq (lines [index], expected);
        free (lines [index]);
        enp_event_destroy (&events [index]);
    }
    fclose (out);
    zsock_destroy (&push);
    s_server_destroy (&server);
    mg_exit_library ();
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
    worker_t *worker = worker_new (&options, out);
    bool created = worker != NULL;
    worker_destroy (&worker);
    fclose (out);
    ck_assert_msg (!created, "worker_new returned a worker that cannot run");
}
END_TEST

//  End to end through a real broker actor.
START_TEST (test_worker_via_broker)
{
    mg_init_library (0);
    s_server_t *server = s_server_new ((int []) { 200, 0 });
    broker_t *broker = broker_new ("tcp://127.0.0.1:*", "tcp://127.0.0.1:*", 100, 0);
    ck_assert_ptr_nonnull (broker);
    char backend [64], logger [64];
    snprintf (backend, sizeof backend, "tcp://127.0.0.1:%d",
              broker_backend_port (broker));
    snprintf (logger, sizeof logger, "http://127.0.0.1:%d", server->port);
    FILE *out = tmpfile ();
    worker_options_t options = { .broker = backend, .logger_url = logger,
                                 .dedup_size = 100, .max_retries = 2,
                                 .backoff_ms = 10, .inflight = 4 };
    worker_t *worker = worker_new (&options, out);
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
    ck_assert (s_wait (worker, server, 5, 5, 5, 5000));
    worker_destroy (&worker);
    char *lines [8];
    ck_assert_uint_eq (s_read_lines (out, lines, 8), 5);
    for (int index = 0; index < 5; index++) {
        char expected [256];
        worker_format_line (expected, sizeof expected, enp_event_id (events [index]),
                            "dave", enp_event_description (events [index]));
        ck_assert_str_eq (lines [index], expected);
        free (lines [index]);
        enp_event_destroy (&events [index]);
    }
    fclose (out);
    zsock_destroy (&push);
    broker_destroy (&broker);
    s_server_destroy (&server);
    mg_exit_library ();
}
END_TEST

static Suite *
s_suite (void)
{
    Suite *suite = suite_create ("worker");
    TCase *tcase = tcase_create ("core");
    tcase_set_timeout (tcase, 30);
    tcase_add_test (tcase, test_worker_usage);
    tcase_add_test (tcase, test_worker_format_line_exact);
    tcase_add_test (tcase, test_worker_format_line_escapes);
    tcase_add_test (tcase, test_worker_format_line_longest);
    tcase_add_test (tcase, test_worker_format_line_truncates);
    tcase_add_test (tcase, test_worker_format_line_exact_fit);
    tcase_add_test (tcase, test_worker_prints_and_reports);
    tcase_add_test (tcase, test_worker_report_rejected);
    tcase_add_test (tcase, test_worker_destroy_cancels_retries);
    tcase_add_test (tcase, test_worker_destroy_finishes_held_events);
    tcase_add_test (tcase, test_worker_concurrent_reports);
    tcase_add_test (tcase, test_worker_bad_endpoint);
    tcase_add_test (tcase, test_worker_via_broker);
    suite_add_tcase (suite, tcase);
    return suite;
}

int
main (void)
{
    SRunner *runner = srunner_create (s_suite ());
    srunner_run_all (runner, CK_NORMAL);
    int failures = srunner_ntests_failed (runner);
    srunner_free (runner);
    return failures? EXIT_FAILURE: EXIT_SUCCESS;
}
