/*  test_worker_callback - the worker's HTTP client reporting to the logger

    A small CivetWeb server started in each case plays the logger.
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
#include "worker_callback.h"
#include "enp_time.h"
#include "testkit.h"

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

//  The server's base URL.
static void
s_url (s_server_t *server, char *url, size_t size)
{
    snprintf (url, size, "http://127.0.0.1:%d", server->port);
}

typedef struct {
    int count;                      //  reports finished
    char ids [8][64];               //  their ids, in order
    enp_status_t statuses [8];      //  their outcomes
} s_outcomes_t;

//  Collect the outcome of a finished report.
static void
s_done (void *arg, const char *event_id, enp_status_t status)
{
    s_outcomes_t *self = (s_outcomes_t *) arg;
    if (self->count < 8) {
        snprintf (self->ids [self->count], sizeof self->ids [0], "%s", event_id);
        self->statuses [self->count] = status;
    }
    self->count++;
}

//  Drive a client until nothing is pending or timeout_ms passes.
static void
s_run_all (worker_callback_t *callback, s_outcomes_t *outcomes, int timeout_ms)
{
    int64_t deadline = enp_time_mono_ms () + timeout_ms;
    while (worker_callback_run (callback, s_done, outcomes) > 0
       &&  enp_time_mono_ms () < deadline)
        worker_callback_wait (callback, NULL, 0, 50);
}

//  Usage: report events to a logger that says 200, blocking and not.
START_TEST (test_worker_callback_usage)
{
    mg_init_library (0);
    s_server_t *server = s_server_new ((int []) { 200, 0 });
    char url [64];
    s_url (server, url, sizeof url);
    worker_callback_t *callback = worker_callback_new (url, NULL, 2, 10, NULL);
    ck_assert_ptr_nonnull (callback);
    ck_assert_int_eq (worker_callback_report (callback, S_ID), ENP_OK);
    ck_assert_uint_eq (worker_callback_retries (callback), 0);
    ck_assert_int_eq (s_server_requests (server), 1);
    ck_assert_int_eq (server->patches, 1);
    ck_assert_str_eq (server->ids [0], S_ID);
    ck_assert_str_eq (server->body, "{\"status\":\"processed\"}");
    ck_assert_str_eq (server->content_type, "application/json");
    ck_assert_str_eq (server->authorization, "");

    ck_assert_int_eq (worker_callback_set_inflight (callback, 2), 0);
    ck_assert_uint_eq (worker_callback_pending (callback), 0);
    ck_assert (!worker_callback_full (callback));
    ck_assert_int_eq (worker_callback_submit (callback, S_ID), 0);
    ck_assert_uint_eq (worker_callback_pending (callback), 1);
    s_outcomes_t outcomes = { 0 };
    while (worker_callback_run (callback, s_done, &outcomes) > 0)
        worker_callback_wait (callback, NULL, 0, 100);
    ck_assert_int_eq (outcomes.count, 1);
    ck_assert_str_eq (outcomes.ids [0], S_ID);
    ck_assert_int_eq (outcomes.statuses [0], ENP_OK);
    ck_assert_uint_eq (worker_callback_pending (callback), 0);
    ck_assert_int_eq (s_server_requests (server), 2);
    worker_callback_destroy (&callback);
    ck_assert_ptr_null (callback);
    worker_callback_destroy (&callback);
    s_server_destroy (&server);
    mg_exit_library ();
}
END_TEST

//  Two 503s, then 200: success after two retries.
START_TEST (test_worker_callback_retries_5xx)
{
    mg_init_library (0);
    s_server_t *server = s_server_new ((int []) { 503, 503, 200, 0 });
    char url [64];
    s_url (server, url, sizeof url);
    worker_callback_t *callback = worker_callback_new (url, NULL, 5, 10, NULL);
    ck_assert_int_eq (worker_callback_report (callback, S_ID), ENP_OK);
    ck_assert_uint_eq (worker_callback_retries (callback), 2);
    ck_assert_int_eq (s_server_requests (server), 3);
    ck_assert_int_eq (server->patches, 3);
    for (int index = 0; index < 3; index++)
        ck_assert_str_eq (server->ids [index], S_ID);
    worker_callback_destroy (&callback);
    s_server_destroy (&server);
    mg_exit_library ();
}
END_TEST

//  404: the logger does not know the event; no retry.
START_TEST (test_worker_callback_not_found)
{
    mg_init_library (0);
    s_server_t *server = s_server_new ((int []) { 404, 200, 0 });
    char url [64];
    s_url (server, url, sizeof url);
    worker_callback_t *callback = worker_callback_new (url, NULL, 5, 10, NULL);
    ck_assert_int_eq (worker_callback_report (callback, S_ID), ENP_ENOTFOUND);
    ck_assert_uint_eq (worker_callback_retries (callback), 0);
    ck_assert_int_eq (s_server_requests (server), 1);
    worker_callback_destroy (&callback);
    s_server_destroy (&server);
    mg_exit_library ();
}
END_TEST

//  Any other 4xx is the logger saying no: ENP_EINVAL, no retry.
START_TEST (test_worker_callback_client_error)
{
    mg_init_library (0);
    const int codes [] = { 400, 401, 403, 409, 422 };
    for (size_t index = 0; index < sizeof codes / sizeof codes [0]; index++) {
        s_server_t *server = s_server_new ((int []) { codes [index], 200, 0 });
        char url [64];
        s_url (server, url, sizeof url);
        worker_callback_t *callback = worker_callback_new (url, NULL, 5, 10, NULL);
        ck_assert_msg (worker_callback_report (callback, S_ID) == ENP_EINVAL,
                       "HTTP %d was not ENP_EINVAL", codes [index]);
        ck_assert_uint_eq (worker_callback_retries (callback), 0);
        ck_assert_int_eq (s_server_requests (server), 1);
        worker_callback_destroy (&callback);
        s_server_destroy (&server);
    }
    mg_exit_library ();
}
END_TEST

//  A logger that keeps failing: max_retries retries, then ENP_EIO.
START_TEST (test_worker_callback_gives_up)
{
    mg_init_library (0);
    s_server_t *server = s_server_new ((int []) { 500, 0 });
    char url [64];
    s_url (server, url, sizeof url);
    worker_callback_t *callback = worker_callback_new (url, NULL, 2, 10, NULL);
    ck_assert_int_eq (worker_callback_report (callback, S_ID), ENP_EIO);
    ck_assert_uint_eq (worker_callback_retries (callback), 2);
    ck_assert_int_eq (s_server_requests (server), 3);
    //  Retries accumulate over reports
    ck_assert_int_eq (worker_callback_report (callback, S_ID), ENP_EIO);
    ck_assert_uint_eq (worker_callback_retries (callback), 4);
    ck_assert_int_eq (s_server_requests (server), 6);
    worker_callback_destroy (&callback);
    s_server_destroy (&server);
    mg_exit_library ();
}
END_TEST

//  max_retries 0: one try only.
START_TEST (test_worker_callback_no_retries)
{
    mg_init_library (0);
    s_server_t *server = s_server_new ((int []) { 503, 200, 0 });
    char url [64];
    s_url (server, url, sizeof url);
    worker_callback_t *callback = worker_callback_new (url, NULL, 0, 10, NULL);
    ck_assert_int_eq (worker_callback_report (callback, S_ID), ENP_EIO);
    ck_assert_uint_eq (worker_callback_retries (callback), 0);
    ck_assert_int_eq (s_server_requests (server), 1);
    worker_callback_destroy (&callback);
    s_server_destroy (&server);
    mg_exit_library ();
}
END_TEST

//  Nobody listening: connection errors are retried, then ENP_EIO.
START_TEST (test_worker_callback_connection_refused)
{
    int port = testkit_free_port ();
    char url [64];
    snprintf (url, sizeof url, "http://127.0.0.1:%d", port);
    worker_callback_t *callback = worker_callback_new (url, NULL, 2, 10, NULL);
    int64_t start = enp_time_mono_ms ();
    ck_assert_int_eq (worker_callback_report (callback, S_ID), ENP_EIO);
    ck_assert_uint_eq (worker_callback_retries (callback), 2);
    ck_assert_int_lt (enp_time_mono_ms () - start, 3000);
    worker_callback_destroy (&callback);
}
END_TEST

//  A token is sent as a bearer Authorization header; none without one.
START_TEST (test_worker_callback_authorization)
{
    mg_init_library (0);
    s_server_t *server = s_server_new ((int []) { 200, 0 });
    char url [64];
    s_url (server, url, sizeof url);
    worker_callback_t *callback = worker_callback_new (url, "s3cret", 2, 10, NULL);
    ck_assert_int_eq (worker_callback_report (callback, S_ID), ENP_OK);
    ck_assert_str_eq (server->authorization, "Bearer s3cret");
    ck_assert_str_eq (server->content_type, "application/json");
    worker_callback_destroy (&callback);
    callback = worker_callback_new (url, "", 2, 10, NULL);
    ck_assert_int_eq (worker_callback_report (callback, S_ID), ENP_OK);
    ck_assert_str_eq (server->authorization, "");
    worker_callback_destroy (&callback);
    s_server_destroy (&server);
    mg_exit_library ();
}
END_TEST

//  A cancel flag already set: no waiting, one request, ENP_EIO.
START_TEST (test_worker_callback_cancelled)
{
    mg_init_library (0);
    s_server_t *server = s_server_new ((int []) { 503, 0 });
    char url [64];
    s_url (server, url, sizeof url);
    atomic_bool cancel;
    atomic_init (&cancel, true);
    worker_callback_t *callback = worker_callback_new (url, NULL, 10, 4000, &cancel);
    int64_t start = enp_time_mono_ms ();
    ck_assert_int_eq (worker_callback_report (callback, S_ID), ENP_EIO);
    ck_assert_int_lt (enp_time_mono_ms () - start, 1000);
    ck_assert_int_eq (s_server_requests (server), 1);
    worker_callback_destroy (&callback);
    s_server_destroy (&server);
    mg_exit_library ();
}
END_TEST

typedef struct {
    atomic_bool *cancel;
    int delay_ms;
} s_canceller_t;

static void *
s_cancel_later (void *arg)
{
    s_canceller_t *self = (s_canceller_t *) arg;
    usleep ((useconds_t) self->delay_ms * 1000);
    atomic_store (self->cancel, true);
    return NULL;
}

//  Cancelling during a backoff wait cuts the retries short.
START_TEST (test_worker_callback_cancel_cuts_wait)
{
    mg_init_library (0);
    s_server_t *server = s_server_new ((int []) { 503, 0 });
    char url [64];
    s_url (server, url, sizeof url);
    atomic_bool cancel;
    atomic_init (&cancel, false);
    //  Up to 20 retries of up to 5 s each would take over a minute
    worker_callback_t *callback = worker_callback_new (url, NULL, 20, 5000, &cancel);
    s_canceller_t canceller = { &cancel, 200 };
    pthread_t thread;
    ck_assert_int_eq (pthread_create (&thread, NULL, s_cancel_later, &canceller), 0);
    int64_t start = enp_time_mono_ms ();
    ck_assert_int_eq (worker_callback_report (callback, S_ID), ENP_EIO);
    int64_t elapsed = enp_time_mono_ms () - start;
    pthread_join (thread, NULL);
    ck_assert_int_lt (elapsed, 1500);
    ck_assert_int_lt (s_server_requests (server), 20);
    worker_callback_destroy (&callback);
    s_server_destroy (&server);
    mg_exit_library ();
}
END_TEST

//  One client reports many events; a trailing slash in the URL is fine.
START_TEST (test_worker_callback_many_reports)
{
    mg_init_library (0);
    s_server_t *server = s_server_new ((int []) { 200, 0 });
    char url [64];
    snprintf (url, sizeof url, "http://127.0.0.1:%d//", server->port);
    worker_callback_t *callback = worker_callback_new (url, NULL, 2, 10, NULL);
    for (unsigned long index = 0; index < 20; index++) {
        char id [37];
        snprintf (id, sizeof id, "00000000-0000-4000-8000-%012lx", index);
        ck_assert_int_eq (worker_callback_report (callback, id), ENP_OK);
    }
    ck_assert_int_eq (s_server_requests (server), 20);
    for (unsigned long index = 0; index < 20; index++) {
        char id [37];
        snprintf (id, sizeof id, "00000000-0000-4000-8000-%012lx", index);
        ck_assert_str_eq (server->ids [index], id);
    }
    ck_assert_uint_eq (worker_callback_retries (callback), 0);
    worker_callback_destroy (&callback);
    s_server_destroy (&server);
    mg_exit_library ();
}
END_TEST

//  Backoff stays bounded: three retries from 50 ms take well under 1 s.
START_TEST (test_worker_callback_backoff_bounded)
{
    mg_init_library (0);
    s_server_t *server = s_server_new ((int []) { 503, 0 });
    char url [64];
    s_url (server, url, sizeof url);
    worker_callback_t *callback = worker_callback_new (url, NULL, 3, 50, NULL);
    int64_t start = enp_time_mono_ms ();
    ck_assert_int_eq (worker_callback_report (callback, S_ID), ENP_EIO);
    //  Waits are at most 50 + 100 + 200 ms with full jitter
    ck_assert_int_lt (enp_time_mono_ms () - start, 350 + 500);
    ck_assert_int_eq (s_server_requests (server), 4);
    worker_callback_destroy (&callback);
    s_server_destroy (&server);
    mg_exit_library ();
}
END_TEST

//  The number of reports in flight is bounded and can only change when idle.
START_TEST (test_worker_callback_set_inflight)
{
    worker_callback_t *callback = worker_callback_new ("http://127.0.0.1:1",
                                                       NULL, 0, 10, NULL);
    ck_assert_int_eq (worker_callback_set_inflight (callback, 0), -1);
    ck_assert_int_eq (worker_callback_set_inflight (callback, 257), -1);
    ck_assert_int_eq (worker_callback_set_inflight (callback, 256), 0);
    ck_assert_int_eq (worker_callback_set_inflight (callback, 1), 0);
    ck_assert_int_eq (worker_callback_submit (callback, S_ID), 0);
    ck_assert_int_eq (worker_callback_set_inflight (callback, 4), -1);
    s_outcomes_t outcomes = { 0 };
    s_run_all (callback, &outcomes, 5000);
    ck_assert_int_eq (outcomes.count, 1);
    ck_assert_int_eq (outcomes.statuses [0], ENP_EIO);
    ck_assert_int_eq (worker_callback_set_inflight (callback, 4), 0);
    worker_callback_destroy (&callback);
}
END_TEST

//  Slots fill up: submit refuses when full; each outcome is reported once.
START_TEST (test_worker_callback_submit_full)
{
    mg_init_library (0);
    s_server_t *server = s_server_new ((int []) { 200, 404, 0 });
    server->delay_ms = 100;
    char url [64];
    s_url (server, url, sizeof url);
    worker_callback_t *callback = worker_callback_new (url, NULL, 2, 10, NULL);
    ck_assert_int_eq (worker_callback_set_inflight (callback, 2), 0);
    ck_assert_int_eq (worker_callback_submit (callback,
                      "00000000-0000-4000-8000-000000000001"), 0);
    ck_assert (!worker_callback_full (callback));
    ck_assert_int_eq (worker_callback_submit (callback,
                      "00000000-0000-4000-8000-000000000002"), 0);
    ck_assert (worker_callback_full (callback));
    ck_assert_uint_eq (worker_callback_pending (callback), 2);
    ck_assert_int_eq (worker_callback_submit (callback,
                      "00000000-0000-4000-8000-000000000003"), -1);
    //  The blocking form refuses while reports are in flight
    ck_assert_int_eq (worker_callback_report (callback, S_ID), ENP_EFULL);
    s_outcomes_t outcomes = { 0 };
    s_run_all (callback, &outcomes, 5000);
    ck_assert_int_eq (outcomes.count, 2);
    ck_assert_uint_eq (worker_callback_pending (callback), 0);
    ck_assert (!worker_callback_full (callback));
    //  One got 200 and the other 404, in whichever order they landed
    int ok = 0, not_found = 0;
    for (int index = 0; index < 2; index++) {
        ok += outcomes.statuses [index] == ENP_OK;
        not_found += outcomes.statuses [index] == ENP_ENOTFOUND;
        ck_assert_ptr_nonnull (strstr (outcomes.ids [index],
                               "00000000-0000-4000-8000-00000000000"));
    }
    ck_assert_int_eq (ok, 1);
    ck_assert_int_eq (not_found, 1);
    ck_assert_str_ne (outcomes.ids [0], outcomes.ids [1]);
    ck_assert_int_eq (s_server_requests (server), 2);
    worker_callback_destroy (&callback);
    s_server_destroy (&server);
    mg_exit_library ();
}
END_TEST

//  Reports in flight run at the same time against a slow logger.
START_TEST (test_worker_callback_concurrent)
{
    mg_init_library (0);
    s_server_t *server = s_server_new ((int []) { 200, 0 });
    server->delay_ms = 200;
    char url [64];
    s_url (server, url, sizeof url);
    worker_callback_t *callback = worker_callback_new (url, NULL, 2, 10, NULL);
    ck_assert_int_eq (worker_callback_set_inflight (callback, 4), 0);
    int64_t start = enp_time_mono_ms ();
    for (int index = 0; index < 4; index++) {
        char id [37];
        snprintf (id, sizeof id, "00000000-0000-4000-8000-%012d", index);
        ck_assert_int_eq (worker_callback_submit (callback, id), 0);
    }
    s_outcomes_t outcomes = { 0 };
    s_run_all (callback, &outcomes, 5000);
    int64_t elapsed = enp_time_mono_ms () - start;
    ck_assert_int_eq (outcomes.count, 4);
    for (int index = 0; index < 4; index++)
        ck_assert_int_eq (outcomes.statuses [index], ENP_OK);
    ck_assert_msg (elapsed < 700, "4 reports of 200 ms took %ld ms", (long) elapsed);
    worker_callback_destroy (&callback);
    s_server_destroy (&server);
    mg_exit_library ();
}
END_TEST

//  A retry waiting for its backoff is given up as soon as cancel is set.
START_TEST (test_worker_callback_cancel_waiting_retry)
{
    mg_init_library (0);
    s_server_t *server = s_server_new ((int []) { 503, 0 });
    char url [64];
    s_url (server, url, sizeof url);
    atomic_bool cancel;
    atomic_init (&cancel, false);
    worker_callback_t *callback = worker_callback_new (url, NULL, 10, 5000, &cancel);
    ck_assert_int_eq (worker_callback_submit (callback, S_ID), 0);
    s_outcomes_t outcomes = { 0 };
    int64_t deadline = enp_time_mono_ms () + 3000;
    while (s_server_requests (server) < 1 && enp_time_mono_ms () < deadline) {
        worker_callback_run (callback, s_done, &outcomes);
        worker_callback_wait (callback, NULL, 0, 10);
    }
    worker_callback_run (callback, s_done, &outcomes);
    ck_assert_int_eq (s_server_requests (server), 1);
    atomic_store (&cancel, true);
    int64_t start = enp_time_mono_ms ();
    s_run_all (callback, &outcomes, 5000);
    ck_assert_int_lt (enp_time_mono_ms () - start, 500);
    ck_assert_int_eq (outcomes.count, 1);
    ck_assert_int_eq (outcomes.statuses [0], ENP_EIO);
    ck_assert_uint_eq (worker_callback_pending (callback), 0);
    worker_callback_destroy (&callback);
    s_server_destroy (&server);
    mg_exit_library ();
}
END_TEST

//  wait returns early when an extra descriptor becomes readable.
START_TEST (test_worker_callback_wait_extra_fd)
{
    worker_callback_t *callback = worker_callback_new ("http://127.0.0.1:1",
                                                       NULL, 0, 10, NULL);
    int fds [2];
    ck_assert_int_eq (pipe (fds), 0);
    struct curl_waitfd extra = { .fd = fds [0], .events = CURL_WAIT_POLLIN };
    int64_t start = enp_time_mono_ms ();
    worker_callback_wait (callback, &extra, 1, 100);
    ck_assert_int_ge (enp_time_mono_ms () - start, 90);
    ck_assert_int_eq (write (fds [1], "x", 1), 1);
    start = enp_time_mono_ms ();
    worker_callback_wait (callback, &extra, 1, 5000);
    ck_assert_int_lt (enp_time_mono_ms () - start, 1000);
    close (fds [0]);
    close (fds [1]);
    worker_callback_destroy (&callback);
}
END_TEST

static Suite *
s_suite (void)
{
    Suite *suite = suite_create ("worker_callback");
    TCase *tcase = tcase_create ("core");
    tcase_set_timeout (tcase, 20);
    tcase_add_test (tcase, test_worker_callback_usage);
    tcase_add_test (tcase, test_worker_callback_retries_5xx);
    tcase_add_test (tcase, test_worker_callback_not_found);
    tcase_add_test (tcase, test_worker_callback_client_error);
    tcase_add_test (tcase, test_worker_callback_gives_up);
    tcase_add_test (tcase, test_worker_callback_no_retries);
    tcase_add_test (tcase, test_worker_callback_connection_refused);
    tcase_add_test (tcase, test_worker_callback_authorization);
    tcase_add_test (tcase, test_worker_callback_cancelled);
    tcase_add_test (tcase, test_worker_callback_cancel_cuts_wait);
    tcase_add_test (tcase, test_worker_callback_many_reports);
    tcase_add_test (tcase, test_worker_callback_backoff_bounded);
    tcase_add_test (tcase, test_worker_callback_set_inflight);
    tcase_add_test (tcase, test_worker_callback_submit_full);
    tcase_add_test (tcase, test_worker_callback_concurrent);
    tcase_add_test (tcase, test_worker_callback_cancel_waiting_retry);
    tcase_add_test (tcase, test_worker_callback_wait_extra_fd);
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
