/*  test_worker_callback - the worker's HTTP client reporting to the logger

    A small CivetWeb server started in each case (testkit_logger) plays the
    logger.
*/
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "worker_callback.h"
#include "enp_time.h"
#include "testkit.h"

#define S_ID "123e4567-e89b-42d3-a456-426614174000"

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

//  Report one event as the worker does (submit, then run and wait until it
//  finishes) and return its outcome.
static enp_status_t
s_report (worker_callback_t *callback, const char *event_id)
{
    ck_assert_uint_eq (worker_callback_pending (callback), 0);
    ck_assert_int_eq (worker_callback_submit (callback, event_id), 0);
    s_outcomes_t outcomes = { 0 };
    while (worker_callback_run (callback, s_done, &outcomes) > 0)
        worker_callback_wait (callback, NULL, 0, 100);
    ck_assert_int_eq (outcomes.count, 1);
    ck_assert_str_eq (outcomes.ids [0], event_id);
    return outcomes.statuses [0];
}

//  Usage: report events to a logger that says 200, one and then two at once.
START_TEST (test_worker_callback_usage)
{
    testkit_logger_t *logger = testkit_logger_new ((int []) { 200, 0 });
    ck_assert_ptr_nonnull (logger);
    const char *url = testkit_logger_url (logger);
    worker_callback_t *callback = worker_callback_new (url, NULL, 2, 10, NULL);
    ck_assert_ptr_nonnull (callback);
    ck_assert_int_eq (s_report (callback, S_ID), ENP_OK);
    ck_assert_uint_eq (worker_callback_retries (callback), 0);
    ck_assert_int_eq (testkit_logger_requests (logger), 1);
    ck_assert_int_eq (testkit_logger_patches (logger), 1);
    char id [64];
    ck_assert_str_eq (testkit_logger_id (logger, 0, id, sizeof id), S_ID);
    testkit_request_t last;
    testkit_logger_last (logger, &last);
    ck_assert_str_eq (last.body, "{\"status\":\"processed\"}");
    ck_assert_str_eq (last.content_type, "application/json");
    ck_assert_str_eq (last.authorization, "");

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
    ck_assert_int_eq (testkit_logger_requests (logger), 2);
    worker_callback_destroy (&callback);
    ck_assert_ptr_null (callback);
    worker_callback_destroy (&callback);
    testkit_logger_destroy (&logger);
}
END_TEST

//  Two 503s, then 200: success after two retries.
START_TEST (test_worker_callback_retries_5xx)
{
    testkit_logger_t *logger = testkit_logger_new ((int []) { 503, 503, 200, 0 });
    ck_assert_ptr_nonnull (logger);
    const char *url = testkit_logger_url (logger);
    worker_callback_t *callback = worker_callback_new (url, NULL, 5, 10, NULL);
    ck_assert_int_eq (s_report (callback, S_ID), ENP_OK);
    ck_assert_uint_eq (worker_callback_retries (callback), 2);
    ck_assert_int_eq (testkit_logger_requests (logger), 3);
    ck_assert_int_eq (testkit_logger_patches (logger), 3);
    char id [64];
    for (int index = 0; index < 3; index++)
        ck_assert_str_eq (testkit_logger_id (logger, index, id, sizeof id), S_ID);
    worker_callback_destroy (&callback);
    testkit_logger_destroy (&logger);
}
END_TEST

//  408 and 429 (the logger cut a slow request, or this address holds too
//  many connections) say "later": retried like a 5xx.
START_TEST (test_worker_callback_retries_later)
{
    testkit_logger_t *logger = testkit_logger_new ((int []) { 429, 408, 200, 0 });
    ck_assert_ptr_nonnull (logger);
    worker_callback_t *callback = worker_callback_new (testkit_logger_url (logger),
                                                       NULL, 5, 10, NULL);
    ck_assert_int_eq (s_report (callback, S_ID), ENP_OK);
    ck_assert_uint_eq (worker_callback_retries (callback), 2);
    ck_assert_int_eq (testkit_logger_requests (logger), 3);
    worker_callback_destroy (&callback);
    testkit_logger_destroy (&logger);
}
END_TEST

//  404: the logger does not know the event; no retry.
START_TEST (test_worker_callback_not_found)
{
    testkit_logger_t *logger = testkit_logger_new ((int []) { 404, 200, 0 });
    ck_assert_ptr_nonnull (logger);
    const char *url = testkit_logger_url (logger);
    worker_callback_t *callback = worker_callback_new (url, NULL, 5, 10, NULL);
    ck_assert_int_eq (s_report (callback, S_ID), ENP_ENOTFOUND);
    ck_assert_uint_eq (worker_callback_retries (callback), 0);
    ck_assert_int_eq (testkit_logger_requests (logger), 1);
    worker_callback_destroy (&callback);
    testkit_logger_destroy (&logger);
}
END_TEST

//  Any other 4xx is the logger saying no: ENP_EINVAL, no retry.
START_TEST (test_worker_callback_client_error)
{
    const int codes [] = { 400, 401, 403, 409, 422 };
    for (size_t index = 0; index < sizeof codes / sizeof codes [0]; index++) {
        testkit_logger_t *logger = testkit_logger_new ((int []) { codes [index], 200, 0 });
        ck_assert_ptr_nonnull (logger);
        const char *url = testkit_logger_url (logger);
        worker_callback_t *callback = worker_callback_new (url, NULL, 5, 10, NULL);
        ck_assert_msg (s_report (callback, S_ID) == ENP_EINVAL,
                       "HTTP %d was not ENP_EINVAL", codes [index]);
        ck_assert_uint_eq (worker_callback_retries (callback), 0);
        ck_assert_int_eq (testkit_logger_requests (logger), 1);
        worker_callback_destroy (&callback);
        testkit_logger_destroy (&logger);
    }
}
END_TEST

//  A logger that keeps failing: max_retries retries, then ENP_EIO.
START_TEST (test_worker_callback_gives_up)
{
    testkit_logger_t *logger = testkit_logger_new ((int []) { 500, 0 });
    ck_assert_ptr_nonnull (logger);
    const char *url = testkit_logger_url (logger);
    worker_callback_t *callback = worker_callback_new (url, NULL, 2, 10, NULL);
    ck_assert_int_eq (s_report (callback, S_ID), ENP_EIO);
    ck_assert_uint_eq (worker_callback_retries (callback), 2);
    ck_assert_int_eq (testkit_logger_requests (logger), 3);
    //  Retries accumulate over reports
    ck_assert_int_eq (s_report (callback, S_ID), ENP_EIO);
    ck_assert_uint_eq (worker_callback_retries (callback), 4);
    ck_assert_int_eq (testkit_logger_requests (logger), 6);
    worker_callback_destroy (&callback);
    testkit_logger_destroy (&logger);
}
END_TEST

//  max_retries 0: one try only.
START_TEST (test_worker_callback_no_retries)
{
    testkit_logger_t *logger = testkit_logger_new ((int []) { 503, 200, 0 });
    ck_assert_ptr_nonnull (logger);
    const char *url = testkit_logger_url (logger);
    worker_callback_t *callback = worker_callback_new (url, NULL, 0, 10, NULL);
    ck_assert_int_eq (s_report (callback, S_ID), ENP_EIO);
    ck_assert_uint_eq (worker_callback_retries (callback), 0);
    ck_assert_int_eq (testkit_logger_requests (logger), 1);
    worker_callback_destroy (&callback);
    testkit_logger_destroy (&logger);
}
END_TEST

//  Nobody listening: connection errors are retried, then ENP_EIO.
START_TEST (test_worker_callback_connection_refused)
{
    int port = testkit_free_port ();
    char url [64];
    snprintf (url, sizeof url, "http://127.0.0.1:%d", port);
    worker_callback_t *callback = worker_callback_new (url, NULL, 2, 10, NULL);
    ck_assert_int_eq (s_report (callback, S_ID), ENP_EIO);
    ck_assert_uint_eq (worker_callback_retries (callback), 2);
    worker_callback_destroy (&callback);
}
END_TEST

//  A token is sent as a bearer Authorization header; none without one.
START_TEST (test_worker_callback_authorization)
{
    testkit_logger_t *logger = testkit_logger_new ((int []) { 200, 0 });
    ck_assert_ptr_nonnull (logger);
    const char *url = testkit_logger_url (logger);
    worker_callback_t *callback = worker_callback_new (url, "s3cret", 2, 10, NULL);
    ck_assert_int_eq (s_report (callback, S_ID), ENP_OK);
    testkit_request_t last;
    testkit_logger_last (logger, &last);
    ck_assert_str_eq (last.authorization, "Bearer s3cret");
    ck_assert_str_eq (last.content_type, "application/json");
    worker_callback_destroy (&callback);
    callback = worker_callback_new (url, "", 2, 10, NULL);
    ck_assert_int_eq (s_report (callback, S_ID), ENP_OK);
    testkit_logger_last (logger, &last);
    ck_assert_str_eq (last.authorization, "");
    worker_callback_destroy (&callback);
    testkit_logger_destroy (&logger);
}
END_TEST

//  A cancel flag already set: one request, no retry (and so no 4 s backoff
//  wait), ENP_EIO.
START_TEST (test_worker_callback_cancelled)
{
    testkit_logger_t *logger = testkit_logger_new ((int []) { 503, 0 });
    ck_assert_ptr_nonnull (logger);
    const char *url = testkit_logger_url (logger);
    atomic_bool cancel;
    atomic_init (&cancel, true);
    worker_callback_t *callback = worker_callback_new (url, NULL, 10, 4000, &cancel);
    ck_assert_int_eq (s_report (callback, S_ID), ENP_EIO);
    ck_assert_int_eq (testkit_logger_requests (logger), 1);
    ck_assert_uint_eq (worker_callback_retries (callback), 0);
    worker_callback_destroy (&callback);
    testkit_logger_destroy (&logger);
}
END_TEST

typedef struct {
    atomic_bool *cancel;
    testkit_logger_t *logger;
} s_canceller_t;

//  Set the cancel flag once the logger has seen the first try, so the
//  report is failing and retrying by then.
static void *
s_cancel_later (void *arg)
{
    s_canceller_t *self = (s_canceller_t *) arg;
    while (testkit_logger_requests (self->logger) < 1)
        usleep (1000);
    atomic_store (self->cancel, true);
    return NULL;
}

//  Cancelling during a backoff wait cuts the retries short: the blocking
//  report returns long before its 20 retries (which would take over a
//  minute and hit the case timeout).
START_TEST (test_worker_callback_cancel_cuts_wait)
{
    testkit_logger_t *logger = testkit_logger_new ((int []) { 503, 0 });
    ck_assert_ptr_nonnull (logger);
    const char *url = testkit_logger_url (logger);
    atomic_bool cancel;
    atomic_init (&cancel, false);
    //  Up to 20 retries of up to 5 s each would take over a minute
    worker_callback_t *callback = worker_callback_new (url, NULL, 20, 5000, &cancel);
    s_canceller_t canceller = { &cancel, logger };
    pthread_t thread;
    ck_assert_int_eq (pthread_create (&thread, NULL, s_cancel_later, &canceller), 0);
    ck_assert_int_eq (s_report (callback, S_ID), ENP_EIO);
    pthread_join (thread, NULL);
    ck_assert_int_lt (testkit_logger_requests (logger), 20);
    worker_callback_destroy (&callback);
    testkit_logger_destroy (&logger);
}
END_TEST

//  One client reports many events; a trailing slash in the URL is fine.
START_TEST (test_worker_callback_many_reports)
{
    testkit_logger_t *logger = testkit_logger_new ((int []) { 200, 0 });
    ck_assert_ptr_nonnull (logger);
    char url [64];
    snprintf (url, sizeof url, "http://127.0.0.1:%d//", testkit_logger_port (logger));
    worker_callback_t *callback = worker_callback_new (url, NULL, 2, 10, NULL);
    for (unsigned long index = 0; index < 20; index++) {
        char id [37];
        snprintf (id, sizeof id, "00000000-0000-4000-8000-%012lx", index);
        ck_assert_int_eq (s_report (callback, id), ENP_OK);
    }
    ck_assert_int_eq (testkit_logger_requests (logger), 20);
    for (unsigned long index = 0; index < 20; index++) {
        char id [37], seen [64];
        snprintf (id, sizeof id, "00000000-0000-4000-8000-%012lx", index);
        ck_assert_str_eq (testkit_logger_id (logger, (int) index, seen, sizeof seen),
                          id);
    }
    ck_assert_uint_eq (worker_callback_retries (callback), 0);
    worker_callback_destroy (&callback);
    testkit_logger_destroy (&logger);
}
END_TEST

//  Backoff doubles from the first value, with full jitter: the waits the
//  client logs ("retry N in W ms") are 1..50, 1..100 and 1..200 ms.
START_TEST (test_worker_callback_backoff_bounded)
{
    testkit_logger_t *logger = testkit_logger_new ((int []) { 503, 0 });
    ck_assert_ptr_nonnull (logger);
    const char *url = testkit_logger_url (logger);
    worker_callback_t *callback = worker_callback_new (url, NULL, 3, 50, NULL);
    testkit_capture_t capture;
    testkit_capture_start (&capture);
    enp_status_t status = s_report (callback, S_ID);
    char *log = testkit_capture_end (&capture);
    ck_assert_ptr_nonnull (log);
    ck_assert_int_eq (status, ENP_EIO);
    ck_assert_int_eq (testkit_logger_requests (logger), 4);
    int retries = 0;
    for (const char *cursor = strstr (log, ", retry "); cursor;
         cursor = strstr (cursor + 1, ", retry ")) {
        int number = 0;
        long wait = 0;
        ck_assert_int_eq (sscanf (cursor, ", retry %d in %ld ms", &number, &wait), 2);
        ck_assert_int_eq (number, ++retries);
        ck_assert_int_ge (wait, 1);
        ck_assert_int_le (wait, 50L << (number - 1));
    }
    free (log);
    ck_assert_int_eq (retries, 3);
    worker_callback_destroy (&callback);
    testkit_logger_destroy (&logger);
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

//  The client holds at most its limit of reports, waiting or in flight:
//  submit refuses past it; each outcome is reported once.
START_TEST (test_worker_callback_submit_full)
{
    testkit_logger_t *logger = testkit_logger_new ((int []) { 200, 404, 0 });
    ck_assert_ptr_nonnull (logger);
    testkit_logger_set_delay (logger, 100);
    const char *url = testkit_logger_url (logger);
    worker_callback_t *callback = worker_callback_new (url, NULL, 2, 10, NULL);
    ck_assert_int_eq (worker_callback_set_inflight (callback, 2), 0);
    ck_assert_int_eq (worker_callback_set_queue (callback, 0), -1);
    ck_assert_int_eq (worker_callback_set_queue (callback, 2), 0);
    ck_assert_uint_eq (worker_callback_room (callback), 2);
    ck_assert_int_eq (worker_callback_submit (callback,
                      "00000000-0000-4000-8000-000000000001"), 0);
    ck_assert (!worker_callback_full (callback));
    ck_assert_int_eq (worker_callback_submit (callback,
                      "00000000-0000-4000-8000-000000000002"), 0);
    ck_assert (worker_callback_full (callback));
    ck_assert_uint_eq (worker_callback_room (callback), 0);
    ck_assert_uint_eq (worker_callback_pending (callback), 2);
    ck_assert_uint_eq (worker_callback_queued (callback), 2);
    ck_assert_int_eq (worker_callback_submit (callback,
                      "00000000-0000-4000-8000-000000000003"), -1);
    //  Only while nothing is held
    ck_assert_int_eq (worker_callback_set_queue (callback, 10), -1);
    ck_assert_int_eq (worker_callback_set_batch (callback, 8, 2), -1);
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
    ck_assert_int_eq (testkit_logger_requests (logger), 2);
    //  Not a lowercase canonical UUID: refused, nothing held
    ck_assert_int_eq (worker_callback_submit (callback, "not-an-id"), -1);
    ck_assert_int_eq (worker_callback_submit (callback,
                      "00000000-0000-4000-8000-00000000000A"), -1);
    ck_assert_uint_eq (worker_callback_pending (callback), 0);
    worker_callback_destroy (&callback);
    testkit_logger_destroy (&logger);
}
END_TEST

//  Write test id number index into id.
static void
s_id (char *id, size_t size, int index)
{
    snprintf (id, size, "00000000-0000-4000-8000-%012d", index);
}

//  Submit count reports with ids number first, first + 1, ...
static void
s_submit (worker_callback_t *callback, int first, int count)
{
    for (int index = first; index < first + count; index++) {
        char id [37];
        s_id (id, sizeof id, index);
        ck_assert_int_eq (worker_callback_submit (callback, id), 0);
    }
}

//  A client of logger (2 retries, 10 ms first backoff) with up to inflight
//  requests at once, in batches of up to max gathering for up to ms.
static worker_callback_t *
s_batch_client (testkit_logger_t *logger, size_t inflight, size_t max, int ms)
{
    worker_callback_t *callback = worker_callback_new (testkit_logger_url (logger),
                                                       NULL, 2, 10, NULL);
    ck_assert_ptr_nonnull (callback);
    ck_assert_int_eq (worker_callback_set_inflight (callback, inflight), 0);
    ck_assert_int_eq (worker_callback_set_batch (callback, max, ms), 0);
    return callback;
}

//  Outcomes of many reports, by the number in their ids.
typedef struct {
    int count;                      //  reports finished
    int ok;                         //  of them with ENP_OK
    unsigned char seen [1000];      //  times each id finished
} s_tally_t;

//  Count the outcome of a finished report.
static void
s_tally (void *arg, const char *event_id, enp_status_t status)
{
    s_tally_t *self = (s_tally_t *) arg;
    int number = atoi (event_id + 24);
    ck_assert (number >= 0 && number < 1000);
    self->seen [number]++;
    self->count++;
    self->ok += status == ENP_OK;
}

//  Drive a client until nothing is pending or timeout_ms passes, tallying
//  the outcomes.
static void
s_tally_all (worker_callback_t *callback, s_tally_t *tally, int timeout_ms)
{
    int64_t deadline = enp_time_mono_ms () + timeout_ms;
    while (worker_callback_run (callback, s_tally, tally) > 0
       &&  enp_time_mono_ms () < deadline)
        worker_callback_wait (callback, NULL, 0, 50);
}

//  Batches: reports waiting when nothing is in flight go at once, in one
//  POST /events:batchUpdateStatus whose body lists them in order; each
//  gets its own outcome.
START_TEST (test_worker_callback_batch)
{
    testkit_logger_t *logger = testkit_logger_new ((int []) { 200, 0 });
    ck_assert_ptr_nonnull (logger);
    worker_callback_t *callback = worker_callback_new (testkit_logger_url (logger),
                                                       "s3cret", 2, 10, NULL);
    ck_assert_int_eq (worker_callback_set_batch (callback, 0, 2), -1);
    ck_assert_int_eq (worker_callback_set_batch (callback, 1001, 2), -1);
    ck_assert_int_eq (worker_callback_set_batch (callback, 8, -1), -1);
    ck_assert_int_eq (worker_callback_set_batch (callback, 8, 1001), -1);
    ck_assert_int_eq (worker_callback_set_batch (callback, 8, 1000), 0);
    ck_assert (worker_callback_batching (callback));
    s_submit (callback, 0, 3);
    //  Nothing in flight: out at once, however long batches may gather
    worker_callback_run (callback, NULL, NULL);
    ck_assert_uint_eq (worker_callback_queued (callback), 0);
    ck_assert_uint_eq (worker_callback_pending (callback), 3);
    s_outcomes_t outcomes = { 0 };
    s_run_all (callback, &outcomes, 5000);
    ck_assert_int_eq (outcomes.count, 3);
    for (int index = 0; index < 3; index++) {
        char id [37];
        s_id (id, sizeof id, index);
        ck_assert_str_eq (outcomes.ids [index], id);
        ck_assert_int_eq (outcomes.statuses [index], ENP_OK);
    }
    ck_assert_int_eq (testkit_logger_requests (logger), 1);
    ck_assert_int_eq (testkit_logger_batches (logger), 1);
    ck_assert_int_eq (testkit_logger_patches (logger), 0);
    ck_assert_uint_eq (worker_callback_batches (callback), 1);
    testkit_request_t last;
    testkit_logger_last (logger, &last);
    ck_assert_str_eq (last.body, "{\"updates\":["
        "{\"event_id\":\"00000000-0000-4000-8000-000000000000\",\"status\":\"processed\"},"
        "{\"event_id\":\"00000000-0000-4000-8000-000000000001\",\"status\":\"processed\"},"
        "{\"event_id\":\"00000000-0000-4000-8000-000000000002\",\"status\":\"processed\"}]}");
    ck_assert_str_eq (last.authorization, "Bearer s3cret");
    ck_assert_str_eq (last.content_type, "application/json");
    worker_callback_destroy (&callback);
    testkit_logger_destroy (&logger);
}
END_TEST

//  While a request is in flight, reports gather until batch_max wait (or
//  batch_ms pass): the logger holds its answers until two requests are
//  open, so the first stays in flight while the others arrive.
START_TEST (test_worker_callback_batch_gathers)
{
    testkit_logger_t *logger = testkit_logger_new ((int []) { 200, 0 });
    ck_assert_ptr_nonnull (logger);
    testkit_logger_set_gate (logger, 2);
    worker_callback_t *callback = s_batch_client (logger, 3, 4, 1000);
    s_submit (callback, 0, 1);
    int64_t start = enp_time_mono_ms ();
    worker_callback_run (callback, NULL, NULL);
    ck_assert_uint_eq (worker_callback_queued (callback), 0);
    s_submit (callback, 1, 3);
    worker_callback_run (callback, NULL, NULL);
    //  One in flight, three waiting (fewer than 4): they gather, unless
    //  this machine took the whole second allowed for it
    if (enp_time_mono_ms () - start < 900)
        ck_assert_uint_eq (worker_callback_queued (callback), 3);
    s_submit (callback, 4, 1);
    worker_callback_run (callback, NULL, NULL);
    ck_assert_uint_eq (worker_callback_queued (callback), 0);
    s_outcomes_t outcomes = { 0 };
    s_run_all (callback, &outcomes, 10000);
    ck_assert_int_eq (outcomes.count, 5);
    ck_assert_int_eq (testkit_logger_batches (logger), 2);
    ck_assert_int_eq (testkit_logger_reports (logger), 5);
    ck_assert_int_eq (testkit_logger_peak (logger), 2);
    worker_callback_destroy (&callback);
    testkit_logger_destroy (&logger);
}
END_TEST

//  Each item of a batch has its own outcome: a 404 item is dropped (as a
//  single 404), another 4xx item refused, a 503 item retried in a batch of
//  its own.
START_TEST (test_worker_callback_batch_items)
{
    testkit_logger_t *logger = testkit_logger_new ((int []) { 200, 0 });
    ck_assert_ptr_nonnull (logger);
    testkit_logger_set_items (logger, (int []) { 200, 404, 503, 422, 200, 0 });
    worker_callback_t *callback = worker_callback_new (testkit_logger_url (logger),
                                                       NULL, 3, 10, NULL);
    ck_assert_int_eq (worker_callback_set_batch (callback, 16, 2), 0);
    s_submit (callback, 0, 4);
    testkit_capture_t capture;
    testkit_capture_start (&capture);
    s_outcomes_t outcomes = { 0 };
    s_run_all (callback, &outcomes, 5000);
    char *log = testkit_capture_end (&capture);
    ck_assert_int_eq (outcomes.count, 4);
    const enp_status_t expected [] = { ENP_OK, ENP_ENOTFOUND, ENP_EINVAL, ENP_OK };
    const int order [] = { 0, 1, 3, 2 };    //  the retried one comes last
    for (int index = 0; index < 4; index++) {
        char id [37];
        s_id (id, sizeof id, order [index]);
        ck_assert_str_eq (outcomes.ids [index], id);
        ck_assert_int_eq (outcomes.statuses [index], expected [index]);
    }
    ck_assert_int_eq (testkit_logger_batches (logger), 2);
    ck_assert_int_eq (testkit_logger_reports (logger), 5);
    char id [64];
    ck_assert_str_eq (testkit_logger_report (logger, 4, id, sizeof id),
                      "00000000-0000-4000-8000-000000000002");
    ck_assert_uint_eq (worker_callback_retries (callback), 1);
    ck_assert_msg (strstr (log, "report failed") == NULL
               &&  strstr (log, "HTTP 503 for 1 of them"), "%s", log);
    ck_assert_msg (strstr (log, "does not know this event"), "%s", log);
    ck_assert_msg (strstr (log, "refused the report with HTTP 422"), "%s", log);
    free (log);
    worker_callback_destroy (&callback);
    testkit_logger_destroy (&logger);
}
END_TEST

//  A whole batch that fails for a passing reason is retried as a whole,
//  with backoff; a 4xx other than 404, 405 and 413 drops it.
START_TEST (test_worker_callback_batch_retries)
{
    testkit_logger_t *logger = testkit_logger_new ((int []) { 503, 500, 200, 401, 0 });
    ck_assert_ptr_nonnull (logger);
    worker_callback_t *callback = worker_callback_new (testkit_logger_url (logger),
                                                       NULL, 5, 10, NULL);
    ck_assert_int_eq (worker_callback_set_batch (callback, 16, 2), 0);
    s_submit (callback, 0, 3);
    s_outcomes_t outcomes = { 0 };
    s_run_all (callback, &outcomes, 5000);
    ck_assert_int_eq (outcomes.count, 3);
    for (int index = 0; index < 3; index++)
        ck_assert_int_eq (outcomes.statuses [index], ENP_OK);
    ck_assert_uint_eq (worker_callback_retries (callback), 2);
    ck_assert_int_eq (testkit_logger_batches (logger), 3);
    ck_assert_uint_eq (worker_callback_batches (callback), 1);
    //  The fourth request gets 401: dropped, no retry
    s_submit (callback, 3, 2);
    outcomes.count = 0;
    s_run_all (callback, &outcomes, 5000);
    ck_assert_int_eq (outcomes.count, 2);
    ck_assert_int_eq (outcomes.statuses [0], ENP_EINVAL);
    ck_assert_int_eq (outcomes.statuses [1], ENP_EINVAL);
    ck_assert_int_eq (testkit_logger_batches (logger), 4);
    ck_assert_uint_eq (worker_callback_retries (callback), 2);
    worker_callback_destroy (&callback);
    testkit_logger_destroy (&logger);
}
END_TEST

//  An answer that is not the batch result (not JSON, the wrong count, ids
//  out of order) is a passing failure: retried, then given up.
START_TEST (test_worker_callback_batch_bad_answer)
{
    const char *answers [] = {
        "not json", "{}", "{\"results\":[]}",
        "{\"results\":[{\"event_id\":\"00000000-0000-4000-8000-000000000001\",\"code\":200}]}",
        "{\"results\":[{\"event_id\":\"00000000-0000-4000-8000-000000000000\",\"code\":\"200\"}]}",
        "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
    };
    for (size_t index = 0; index < sizeof answers / sizeof answers [0]; index++) {
        testkit_logger_t *logger = testkit_logger_new ((int []) { 200, 0 });
        ck_assert_ptr_nonnull (logger);
        testkit_logger_set_answer (logger, answers [index]);
        worker_callback_t *callback = worker_callback_new (
            testkit_logger_url (logger), NULL, 1, 10, NULL);
        ck_assert_int_eq (worker_callback_set_batch (callback, 16, 2), 0);
        s_submit (callback, 0, 1);
        s_outcomes_t outcomes = { 0 };
        s_run_all (callback, &outcomes, 5000);
        ck_assert_int_eq (outcomes.count, 1);
        ck_assert_msg (outcomes.statuses [0] == ENP_EIO, "answer %zu", index);
        ck_assert_int_eq (testkit_logger_batches (logger), 2);
        worker_callback_destroy (&callback);
        testkit_logger_destroy (&logger);
    }
}
END_TEST

//  A logger without the batch route (404 or 405), or one that takes no
//  body even for one report (413), gets the reports as single PATCHes, in
//  order, and later reports too; the processor says so once.
START_TEST (test_worker_callback_batch_fallback)
{
    const int codes [] = { 404, 405, 413 };
    for (size_t round = 0; round < 3; round++) {
        testkit_logger_t *logger = testkit_logger_new ((int []) { 200, 0 });
        ck_assert_ptr_nonnull (logger);
        testkit_logger_set_batch_route (logger, codes [round]);
        worker_callback_t *callback = worker_callback_new (
            testkit_logger_url (logger), NULL, 2, 10, NULL);
        ck_assert_int_eq (worker_callback_set_batch (callback, 16, 2), 0);
        s_submit (callback, 0, 3);
        testkit_capture_t capture;
        testkit_capture_start (&capture);
        s_outcomes_t outcomes = { 0 };
        s_run_all (callback, &outcomes, 5000);
        char *log = testkit_capture_end (&capture);
        ck_assert_int_eq (outcomes.count, 3);
        for (int index = 0; index < 3; index++) {
            char id [37];
            s_id (id, sizeof id, index);
            ck_assert_str_eq (outcomes.ids [index], id);
            ck_assert_int_eq (outcomes.statuses [index], ENP_OK);
        }
        //  A 413 for three reports first halves the batch to one
        int batches = codes [round] == 413? 2: 1;
        ck_assert_int_eq (testkit_logger_batches (logger), batches);
        ck_assert_int_eq (testkit_logger_patches (logger), 3);
        ck_assert (!worker_callback_batching (callback));
        const char *said = strstr (log, "reporting with single PATCHes");
        ck_assert_msg (said, "%s", log);
        free (log);
        //  Later reports go as PATCHes too, without asking again or saying
        //  it again
        testkit_capture_start (&capture);
        s_submit (callback, 3, 2);
        outcomes.count = 0;
        s_run_all (callback, &outcomes, 5000);
        log = testkit_capture_end (&capture);
        ck_assert_int_eq (outcomes.count, 2);
        ck_assert_int_eq (testkit_logger_batches (logger), batches);
        ck_assert_int_eq (testkit_logger_patches (logger), 5);
        ck_assert_msg (strstr (log, "reporting with single PATCHes") == NULL,
                       "%s", log);
        free (log);
        worker_callback_destroy (&callback);
        testkit_logger_destroy (&logger);
    }
}
END_TEST

//  An idle logger costs a report no latency: with nothing in flight a
//  report goes at once, however long batches may gather, so reports that
//  come one at a time, each after the last one finished, are one request
//  each.
START_TEST (test_worker_callback_batch_idle)
{
    testkit_logger_t *logger = testkit_logger_new ((int []) { 200, 0 });
    ck_assert_ptr_nonnull (logger);
    worker_callback_t *callback = s_batch_client (logger, 8, 256, WORKER_CALLBACK_BATCH_MS_MAX);
    for (int index = 0; index < 5; index++) {
        s_submit (callback, index, 1);
        worker_callback_run (callback, NULL, NULL);
        ck_assert_uint_eq (worker_callback_queued (callback), 0);
        s_outcomes_t outcomes = { 0 };
        s_run_all (callback, &outcomes, 5000);
        ck_assert_int_eq (outcomes.count, 1);
        ck_assert_int_eq (outcomes.statuses [0], ENP_OK);
        ck_assert_int_eq (testkit_logger_requests (logger), index + 1);
        ck_assert_int_eq (testkit_logger_reports (logger), index + 1);
    }
    ck_assert_int_eq (testkit_logger_batches (logger), 5);
    ck_assert_int_eq (testkit_logger_patches (logger), 0);
    worker_callback_destroy (&callback);
    testkit_logger_destroy (&logger);
}
END_TEST


//  A slow logger gets far fewer requests than reports: while requests are
//  in flight, reports that come one at a time gather. The logger holds
//  its answers, so this needs no timing: with 4 requests in flight and
//  256 reports a batch, 1000 reports cost at most 4 requests while the
//  logger holds them and 4 (1000 / 256) once it answers. Each report
//  finishes once.
START_TEST (test_worker_callback_batch_slow_logger)
{
    testkit_logger_t *logger = testkit_logger_new ((int []) { 200, 0 });
    ck_assert_ptr_nonnull (logger);
    testkit_logger_set_hold (logger, true);
    worker_callback_t *callback = s_batch_client (logger, 4, 256, 2);
    s_tally_t tally = { 0 };
    for (int index = 0; index < 1000; index++) {
        s_submit (callback, index, 1);
        worker_callback_run (callback, s_tally, &tally);
    }
    ck_assert_int_eq (tally.count, 0);
    ck_assert_uint_le (worker_callback_batches (callback), 4);
    testkit_logger_set_hold (logger, false);
    s_tally_all (callback, &tally, 20000);
    ck_assert_int_eq (tally.count, 1000);
    ck_assert_int_eq (tally.ok, 1000);
    for (int index = 0; index < 1000; index++)
        ck_assert_int_eq (tally.seen [index], 1);
    ck_assert_uint_le (worker_callback_batches (callback), 8);
    ck_assert_int_eq (testkit_logger_patches (logger), 0);
    //  Every request the logger saw was a batch of the client's, or a
    //  retry of one
    ck_assert_int_eq (testkit_logger_requests (logger),
                      (int) (worker_callback_batches (callback)
                           + worker_callback_retries (callback)));
    worker_callback_destroy (&callback);
    testkit_logger_destroy (&logger);
}
END_TEST

//  A logger with a smaller body limit (413 for a large batch) gets
//  batches half as large, again until they fit, and no PATCH: 16 reports
//  through one slot to a logger taking at most 4 a request go as a
//  refused 16, a refused 8, then four batches of 4, each report once.
START_TEST (test_worker_callback_batch_shrinks)
{
    testkit_logger_t *logger = testkit_logger_new ((int []) { 200, 0 });
    ck_assert_ptr_nonnull (logger);
    //  A batch body is 14 bytes and 72 a report, with commas between:
    //  4 reports take 305 bytes, 8 take 597
    testkit_logger_set_batch_body_max (logger, 400);
    worker_callback_t *callback = s_batch_client (logger, 1, 16, 2);
    s_submit (callback, 0, 16);
    testkit_capture_t capture;
    testkit_capture_start (&capture);
    s_tally_t tally = { 0 };
    s_tally_all (callback, &tally, 10000);
    char *log = testkit_capture_end (&capture);
    ck_assert_int_eq (tally.count, 16);
    ck_assert_int_eq (tally.ok, 16);
    for (int index = 0; index < 16; index++)
        ck_assert_int_eq (tally.seen [index], 1);
    ck_assert_int_eq (testkit_logger_batches (logger), 6);
    ck_assert_int_eq (testkit_logger_reports (logger), 16);
    ck_assert_int_eq (testkit_logger_patches (logger), 0);
    ck_assert (worker_callback_batching (callback));
    ck_assert_msg (strstr (log, "sending at most 8 a request")
               &&  strstr (log, "sending at most 4 a request"), "%s", log);
    free (log);
    worker_callback_destroy (&callback);
    testkit_logger_destroy (&logger);
}
END_TEST

//  Many reports through a few slots: every one reported exactly once, in
//  batches of at most batch_max.
START_TEST (test_worker_callback_batch_many)
{
    testkit_logger_t *logger = testkit_logger_new ((int []) { 200, 0 });
    ck_assert_ptr_nonnull (logger);
    worker_callback_t *callback = s_batch_client (logger, 2, 100, 2);
    s_outcomes_t outcomes = { 0 };
    for (int round = 0; round < 10; round++) {
        s_submit (callback, round * 300, 300);
        worker_callback_run (callback, s_done, &outcomes);
    }
    s_run_all (callback, &outcomes, 20000);
    ck_assert_int_eq (outcomes.count, 3000);
    ck_assert_int_eq (testkit_logger_reports (logger), 3000);
    ck_assert_int_ge (testkit_logger_batches (logger), 30);
    ck_assert_int_eq (testkit_logger_patches (logger), 0);
    //  Each id once (the fake logger keeps them in arrival order)
    char *seen = calloc (3000, 1);
    for (int index = 0; index < 3000; index++) {
        char id [64];
        testkit_logger_report (logger, index, id, sizeof id);
        int number = atoi (id + 24);
        ck_assert_int_lt (number, 3000);
        ck_assert_int_eq (seen [number], 0);
        seen [number] = 1;
    }
    free (seen);
    worker_callback_destroy (&callback);
    testkit_logger_destroy (&logger);
}
END_TEST

//  Reports in flight run at the same time: the logger holds each answer
//  until four requests are open at once, which only happens if the client
//  really runs them together.
START_TEST (test_worker_callback_concurrent)
{
    testkit_logger_t *logger = testkit_logger_new ((int []) { 200, 0 });
    ck_assert_ptr_nonnull (logger);
    testkit_logger_set_gate (logger, 4);
    const char *url = testkit_logger_url (logger);
    worker_callback_t *callback = worker_callback_new (url, NULL, 2, 10, NULL);
    ck_assert_int_eq (worker_callback_set_inflight (callback, 4), 0);
    for (int index = 0; index < 4; index++) {
        char id [37];
        snprintf (id, sizeof id, "00000000-0000-4000-8000-%012d", index);
        ck_assert_int_eq (worker_callback_submit (callback, id), 0);
    }
    s_outcomes_t outcomes = { 0 };
    s_run_all (callback, &outcomes, 15000);
    ck_assert_int_eq (outcomes.count, 4);
    for (int index = 0; index < 4; index++)
        ck_assert_int_eq (outcomes.statuses [index], ENP_OK);
    ck_assert_int_eq (testkit_logger_peak (logger), 4);
    worker_callback_destroy (&callback);
    testkit_logger_destroy (&logger);
}
END_TEST

//  A retry waiting for its backoff is given up as soon as cancel is set.
START_TEST (test_worker_callback_cancel_waiting_retry)
{
    testkit_logger_t *logger = testkit_logger_new ((int []) { 503, 0 });
    ck_assert_ptr_nonnull (logger);
    const char *url = testkit_logger_url (logger);
    atomic_bool cancel;
    atomic_init (&cancel, false);
    worker_callback_t *callback = worker_callback_new (url, NULL, 10, 5000, &cancel);
    ck_assert_int_eq (worker_callback_submit (callback, S_ID), 0);
    s_outcomes_t outcomes = { 0 };
    int64_t deadline = enp_time_mono_ms () + 10000;
    while (testkit_logger_requests (logger) < 1 && enp_time_mono_ms () < deadline) {
        worker_callback_run (callback, s_done, &outcomes);
        worker_callback_wait (callback, NULL, 0, 10);
    }
    ck_assert_int_ge (testkit_logger_requests (logger), 1);
    //  Only run starts retries, and this thread calls it: from here on no
    //  request may go out, however long the 5 s backoff would have been
    atomic_store (&cancel, true);
    unsigned long retries = worker_callback_retries (callback);
    s_run_all (callback, &outcomes, 10000);
    ck_assert_int_eq (testkit_logger_requests (logger), 1 + (int) retries);
    ck_assert_int_eq (outcomes.count, 1);
    ck_assert_int_eq (outcomes.statuses [0], ENP_EIO);
    ck_assert_uint_eq (worker_callback_pending (callback), 0);
    worker_callback_destroy (&callback);
    testkit_logger_destroy (&logger);
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
    //  Readable now: a wait that ignored it would sit out its 60 s and
    //  hit the case timeout
    ck_assert_int_eq (write (fds [1], "x", 1), 1);
    worker_callback_wait (callback, &extra, 1, 60000);
    close (fds [0]);
    close (fds [1]);
    worker_callback_destroy (&callback);
}
END_TEST

//  A status that is neither 2xx nor 4xx is retried and logged as what it
//  is: a redirect is not a "5xx".
START_TEST (test_worker_callback_logs_what_it_got)
{
    testkit_logger_t *logger = testkit_logger_new ((int []) { 301, 302, 200, 0 });
    ck_assert_ptr_nonnull (logger);
    const char *url = testkit_logger_url (logger);
    worker_callback_t *callback = worker_callback_new (url, NULL, 5, 10, NULL);
    testkit_capture_t capture;
    testkit_capture_start (&capture);
    enp_status_t status = s_report (callback, S_ID);
    char *log = testkit_capture_end (&capture);
    ck_assert_int_eq (status, ENP_OK);
    ck_assert_uint_eq (worker_callback_retries (callback), 2);
    ck_assert_msg (strstr (log, "report failed (HTTP 301), retry 1"), "%s", log);
    ck_assert_msg (strstr (log, "report failed (HTTP 302), retry 2"), "%s", log);
    ck_assert_msg (!strstr (log, "5xx"), "%s", log);
    free (log);
    worker_callback_destroy (&callback);
    testkit_logger_destroy (&logger);

    logger = testkit_logger_new ((int []) { 307, 0 });
    ck_assert_ptr_nonnull (logger);
    callback = worker_callback_new (testkit_logger_url (logger), NULL, 0, 10, NULL);
    testkit_capture_start (&capture);
    status = s_report (callback, S_ID);
    log = testkit_capture_end (&capture);
    ck_assert_int_eq (status, ENP_EIO);
    ck_assert_msg (strstr (log, "report failed after 0 retries (HTTP 307)"), "%s", log);
    free (log);
    worker_callback_destroy (&callback);
    testkit_logger_destroy (&logger);
}
END_TEST

int
main (void)
{
    const TTest *tests [] = {
        test_worker_callback_usage,
        test_worker_callback_retries_5xx,
        test_worker_callback_retries_later,
        test_worker_callback_not_found,
        test_worker_callback_client_error,
        test_worker_callback_gives_up,
        test_worker_callback_no_retries,
        test_worker_callback_connection_refused,
        test_worker_callback_authorization,
        test_worker_callback_cancelled,
        test_worker_callback_cancel_cuts_wait,
        test_worker_callback_many_reports,
        test_worker_callback_backoff_bounded,
        test_worker_callback_set_inflight,
        test_worker_callback_submit_full,
        test_worker_callback_batch,
        test_worker_callback_batch_gathers,
        test_worker_callback_batch_items,
        test_worker_callback_batch_retries,
        test_worker_callback_batch_bad_answer,
        test_worker_callback_batch_fallback,
        test_worker_callback_batch_idle,
        test_worker_callback_batch_slow_logger,
        test_worker_callback_batch_shrinks,
        test_worker_callback_batch_many,
        test_worker_callback_concurrent,
        test_worker_callback_cancel_waiting_retry,
        test_worker_callback_wait_extra_fd,
        test_worker_callback_logs_what_it_got,
        NULL
    };
    return testkit_run (testkit_suite ("worker_callback", 20, tests));
}
