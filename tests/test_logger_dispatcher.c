/*  test_logger_dispatcher - the thread that hands events to the broker

    Cases bind a PULL on tcp://127.0.0.1:* (playing the broker's frontend)
    and point a dispatcher at it, then watch both the socket and the store.
*/
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <czmq.h>
#include "logger_dispatcher.h"
#include "logger_store.h"
#include "enp_time.h"
#include "enp_wire.h"
#include "testkit.h"
#include "testkit_pg.h"

//  A PULL bound on a free port; endpoint receives the address to connect.
static zsock_t *
s_broker (char *endpoint, size_t size, int hwm)
{
    zsock_t *pull = zsock_new (ZMQ_PULL);
    ck_assert_ptr_nonnull (pull);
    if (hwm)
        zsock_set_rcvhwm (pull, hwm);
    zsock_set_rcvtimeo (pull, 5000);
    //  Not "*": a dispatcher of another suite running at the same time
    //  could reconnect to a port czmq hands out again
    ck_assert_int_gt (testkit_bind_any (pull, endpoint, size), 0);
    return pull;
}

//  A memory store with these limits.
static logger_store_t *
s_store_new (size_t max_events, int64_t visibility_ms, uint32_t max_attempts)
{
    logger_store_options_t options = {
        .max_events = max_events, .max_bytes = SIZE_MAX,
        .visibility_ms = visibility_ms, .max_attempts = max_attempts
    };
    logger_store_t *store = logger_store_new ("memory", &options);
    ck_assert_ptr_nonnull (store);
    return store;
}

//  Insert count new events of a user; write their ids into ids.
static void
s_insert (logger_store_t *store, int count, char (*ids) [ENP_UUID_LEN + 1])
{
    for (int index = 0; index < count; index++) {
        char description [32];
        snprintf (description, sizeof description, "event %d", index);
        enp_event_t *event = enp_event_create ("alice", description);
        ck_assert_ptr_nonnull (event);
        if (ids)
            snprintf (ids [index], ENP_UUID_LEN + 1, "%s", enp_event_id (event));
        ck_assert_int_eq (logger_store_insert (store, &event, NULL, NULL), ENP_OK);
    }
}

//  Events of the last message not yet handed out by s_receive: a message
//  may carry several.
static enp_event_t *s_held [ENP_WIRE_BATCH_MAX];
static size_t s_held_count, s_held_next;

//  Return the next event received, decoding a message when none is held
//  (caller owns it), or NULL when nothing came within the receive timeout.
static enp_event_t *
s_receive (zsock_t *pull)
{
    if (s_held_next == s_held_count) {
        zmsg_t *msg = zmsg_recv (pull);
        if (!msg)
            return NULL;
        char err [128] = "";
        s_held_next = s_held_count = 0;
        ck_assert_msg (enp_wire_decode_batch (msg, s_held, ENP_WIRE_BATCH_MAX,
                                              &s_held_count, err, sizeof err)
                       == ENP_OK, "undecodable message: %s", err);
        zmsg_destroy (&msg);
    }
    return s_held [s_held_next++];
}

//  Receive count events and check each: the ids in order, all of s_insert's
//  user, on delivery attempt number attempts.
static void
s_receive_ids (zsock_t *pull, char (*ids) [ENP_UUID_LEN + 1], int count,
               uint32_t attempts)
{
    for (int index = 0; index < count; index++) {
        enp_event_t *event = s_receive (pull);
        ck_assert_ptr_nonnull (event);
        ck_assert_str_eq (enp_event_id (event), ids [index]);
        ck_assert_str_eq (enp_event_user_id (event), "alice");
        ck_assert_uint_eq (enp_event_attempts (event), attempts);
        enp_event_destroy (&event);
    }
}

//  Wait up to timeout_ms for the dispatcher to see the broker.
static bool
s_wait_connected (logger_dispatcher_t *dispatcher, bool connected, int timeout_ms)
{
    int64_t deadline = enp_time_mono_ms () + timeout_ms;
    while (logger_dispatcher_connected (dispatcher) != connected
       &&  enp_time_mono_ms () < deadline)
        zclock_sleep (10);
    return logger_dispatcher_connected (dispatcher) == connected;
}

//  Return the attempts of an event in the store, checking its status.
static uint32_t
s_stored (logger_store_t *store, const char *id, const char *status)
{
    enp_event_t *event = NULL;
    ck_assert_int_eq (logger_store_get (store, id, &event), ENP_OK);
    ck_assert_str_eq (enp_event_status (event), status);
    uint32_t attempts = enp_event_attempts (event);
    enp_event_destroy (&event);
    return attempts;
}

//  Wait until an event has a status and attempts: the dispatcher records a
//  send just after it, so a test can read the message first.
static bool
s_wait_stored (logger_store_t *store, const char *id, const char *status,
               uint32_t attempts, int timeout_ms)
{
    int64_t deadline = enp_time_mono_ms () + timeout_ms;
    while (true) {
        enp_event_t *event = NULL;
        bool match = logger_store_get (store, id, &event) == ENP_OK
                  && enp_event_status_is (event, status)
                  && enp_event_attempts (event) == attempts;
        enp_event_destroy (&event);
        if (match)
            return true;
        if (enp_time_mono_ms () >= deadline)
            return false;
        zclock_sleep (5);
    }
}

//  Wait until the dispatcher counted sent messages.
static bool
s_wait_sent (logger_dispatcher_t *dispatcher, uint64_t sent, int timeout_ms)
{
    int64_t deadline = enp_time_mono_ms () + timeout_ms;
    while (logger_dispatcher_sent (dispatcher) != sent
       &&  enp_time_mono_ms () < deadline)
        zclock_sleep (5);
    return logger_dispatcher_sent (dispatcher) == sent;
}

//  Usage: start, send due events, read state, stop.
START_TEST (test_logger_dispatcher_usage)
{
    char endpoint [64];
    zsock_t *pull = s_broker (endpoint, sizeof endpoint, 0);
    logger_store_t *store = s_store_new (100, 30000, 5);
    logger_dispatcher_t *dispatcher = logger_dispatcher_new (store, endpoint, NULL);
    ck_assert_ptr_nonnull (dispatcher);
    ck_assert (s_wait_connected (dispatcher, true, 3000));
    char ids [3][ENP_UUID_LEN + 1];
    s_insert (store, 3, ids);
    logger_dispatcher_wake (dispatcher);
    s_receive_ids (pull, ids, 3, 1);
    for (int index = 0; index < 3; index++)
        ck_assert (s_wait_stored (store, ids [index], ENP_STATUS_QUEUED, 1, 2000));
    ck_assert (s_wait_sent (dispatcher, 3, 2000));
    ck_assert (!logger_dispatcher_backpressure (dispatcher));
    logger_store_stats_t stats;
    logger_store_stats (store, &stats);
    ck_assert_uint_eq (stats.queued, 3);
    ck_assert_uint_eq (stats.pending, 0);
    logger_dispatcher_destroy (&dispatcher);
    ck_assert_ptr_null (dispatcher);
    logger_dispatcher_destroy (&dispatcher);
    logger_store_destroy (&store);
    zsock_destroy (&pull);
}
END_TEST

//  Events inserted before the dispatcher starts are sent without a wake.
START_TEST (test_logger_dispatcher_sends_backlog)
{
    char endpoint [64];
    zsock_t *pull = s_broker (endpoint, sizeof endpoint, 0);
    logger_store_t *store = s_store_new (100, 30000, 5);
    char ids [5][ENP_UUID_LEN + 1];
    s_insert (store, 5, ids);
    logger_dispatcher_t *dispatcher = logger_dispatcher_new (store, endpoint, NULL);
    s_receive_ids (pull, ids, 5, 1);
    logger_dispatcher_destroy (&dispatcher);
    logger_store_destroy (&store);
    zsock_destroy (&pull);
}
END_TEST

//  Check that a dispatcher on store sends events due together several to
//  a message (ENP3, two frames), up to the wire batch, each event once;
//  and each as an ENP2 message with a wire batch of 1.
static void
s_check_wire_batch (logger_store_t *store)
{
    char endpoint [64];
    zsock_t *pull = s_broker (endpoint, sizeof endpoint, 0);
    char ids [100][ENP_UUID_LEN + 1];
    s_insert (store, 100, ids);
    logger_dispatcher_t *dispatcher = logger_dispatcher_new (store, endpoint, NULL);
    ck_assert_ptr_nonnull (dispatcher);
    //  A backlog of 100: one message of 64, one of 36. Unless the broker
    //  link came up only after the dispatcher found them due: that counts
    //  as a refusal, and the dispatcher then probes with one event (ENP2)
    //  before it sends 64 and 35
    zhashx_t *seen = zhashx_new ();
    size_t expected [3] = { ENP_WIRE_BATCH_MAX, 100 - ENP_WIRE_BATCH_MAX, 0 };
    size_t messages = 0, received = 0;
    for (; received < 100; messages++) {
        ck_assert_uint_lt (messages, 3);
        zmsg_t *msg = zmsg_recv (pull);
        ck_assert_ptr_nonnull (msg);
        if (messages == 0 && zmsg_size (msg) == ENP_WIRE_FRAMES) {
            size_t probed [3] = { 1, ENP_WIRE_BATCH_MAX, 99 - ENP_WIRE_BATCH_MAX };
            memcpy (expected, probed, sizeof expected);
        }
        else
            ck_assert_uint_eq (zmsg_size (msg), ENP_WIRE_BATCH_FRAMES);
        enp_event_t *events [ENP_WIRE_BATCH_MAX];
        size_t count = 0;
        ck_assert_int_eq (enp_wire_decode_batch (msg, events, ENP_WIRE_BATCH_MAX,
                                                 &count, NULL, 0), ENP_OK);
        ck_assert_uint_eq (count, expected [messages]);
        for (size_t index = 0; index < count; index++) {
            ck_assert_int_eq (zhashx_insert (seen, enp_event_id (events [index]),
                                             "x"), 0);
            ck_assert_uint_eq (enp_event_attempts (events [index]), 1);
            enp_event_destroy (&events [index]);
        }
        received += count;
        zmsg_destroy (&msg);
    }
    for (int index = 0; index < 100; index++)
        ck_assert_ptr_nonnull (zhashx_lookup (seen, ids [index]));
    zhashx_destroy (&seen);
    ck_assert (s_wait_sent (dispatcher, 100, 10000));
    ck_assert_uint_eq (logger_dispatcher_messages (dispatcher), messages);
    //  Each event recorded as sent once (the store may write it a moment
    //  after the send)
    for (int index = 0; index < 100; index++)
        ck_assert (s_wait_stored (store, ids [index], ENP_STATUS_QUEUED, 1, 5000));
    ck_assert_int_eq (logger_dispatcher_set_wire_batch (dispatcher, 0), -1);
    ck_assert_int_eq (logger_dispatcher_set_wire_batch (dispatcher,
                                                        ENP_WIRE_BATCH_MAX + 1), -1);
    ck_assert_int_eq (logger_dispatcher_set_wire_batch (dispatcher, 1), 0);
    s_insert (store, 3, ids);
    logger_dispatcher_wake (dispatcher);
    for (int index = 0; index < 3; index++) {
        zmsg_t *msg = zmsg_recv (pull);
        ck_assert_ptr_nonnull (msg);
        ck_assert_uint_eq (zmsg_size (msg), ENP_WIRE_FRAMES);
        ck_assert (zframe_streq (zmsg_first (msg), ENP_WIRE_VERSION));
        zmsg_destroy (&msg);
    }
    ck_assert (s_wait_sent (dispatcher, 103, 10000));
    ck_assert_uint_eq (logger_dispatcher_messages (dispatcher), messages + 3);
    logger_dispatcher_destroy (&dispatcher);
    zsock_destroy (&pull);
}

//  ENP3 with the memory store.
START_TEST (test_logger_dispatcher_wire_batch)
{
    logger_store_t *store = s_store_new (1000, 30000, 5);
    s_check_wire_batch (store);
    logger_store_destroy (&store);
}
END_TEST

//  ENP3 with the PostgreSQL store, which claims with a query and records
//  sends in batches of its own: the same messages, each event once.
START_TEST (test_logger_dispatcher_wire_batch_postgresql)
{
    testkit_pg_t *pg = testkit_pg_new ();
    ck_assert_ptr_nonnull (pg);
    char url [512];
    logger_store_options_t options = {
        .max_events = 1000, .max_bytes = SIZE_MAX, .visibility_ms = 30000,
        .max_attempts = 5, .timeout_ms = 10000, .connections = 2
    };
    logger_store_t *store = logger_store_new (
        testkit_pg_url (pg, "postgres", url, sizeof url), &options);
    ck_assert_ptr_nonnull (store);
    s_check_wire_batch (store);
    logger_store_destroy (&store);
    testkit_pg_destroy (&pg);
}
END_TEST

//  Wait until the dispatcher has had sends refused more than floor times:
//  the positive sign that it tried to deliver and could not.
static bool
s_wait_refused (logger_dispatcher_t *dispatcher, uint64_t floor, int timeout_ms)
{
    int64_t deadline = enp_time_mono_ms () + timeout_ms;
    while (logger_dispatcher_refused (dispatcher) <= floor
       &&  enp_time_mono_ms () < deadline)
        zclock_sleep (5);
    return logger_dispatcher_refused (dispatcher) > floor;
}

//  Wait until the store holds failed events.
static bool
s_wait_failed (logger_store_t *store, size_t failed, int timeout_ms)
{
    int64_t deadline = enp_time_mono_ms () + timeout_ms;
    logger_store_stats_t stats;
    logger_store_stats (store, &stats);
    while (stats.failed != failed && enp_time_mono_ms () < deadline) {
        zclock_sleep (10);
        logger_store_stats (store, &stats);
    }
    return stats.failed == failed;
}

//  Unreported events come again, no sooner than the visibility timeout,
//  until max_attempts; each attempt is counted. Nothing here races the
//  timeout: the events end failed by themselves. (That a reported event is
//  not sent again is the store's rule, tested with explicit times there.)
START_TEST (test_logger_dispatcher_redelivers)
{
    char endpoint [64];
    zsock_t *pull = s_broker (endpoint, sizeof endpoint, 0);
    logger_store_t *store = s_store_new (100, 300, 3);
    logger_dispatcher_t *dispatcher = logger_dispatcher_new (store, endpoint, NULL);
    ck_assert (s_wait_connected (dispatcher, true, 3000));
    char ids [2][ENP_UUID_LEN + 1];
    s_insert (store, 2, ids);
    //  Read the clock before the wake: the first send cannot precede it
    int64_t woken_at = enp_time_mono_ms ();
    logger_dispatcher_wake (dispatcher);
    uint32_t last [2] = { 0, 0 };
    for (int index = 0; index < 6; index++) {
        enp_event_t *event = s_receive (pull);
        ck_assert_ptr_nonnull (event);
        int which = strcmp (enp_event_id (event), ids [0]) == 0? 0: 1;
        ck_assert_str_eq (enp_event_id (event), ids [which]);
        //  Each event's attempts come in order, and a round of first
        //  attempts precedes every redelivery
        ck_assert_uint_eq (enp_event_attempts (event), last [which] + 1);
        ck_assert_uint_eq (enp_event_attempts (event), (uint32_t) index / 2 + 1);
        last [which] = enp_event_attempts (event);
        if (index == 2)
            ck_assert_int_ge (enp_time_mono_ms () - woken_at, 300);
        enp_event_destroy (&event);
    }
    ck_assert (s_wait_failed (store, 2, 10000));
    //  Failed for good: the six sends were all there were
    ck_assert_uint_eq (logger_dispatcher_sent (dispatcher), 6);
    logger_store_stats_t stats;
    logger_store_stats (store, &stats);
    ck_assert_uint_eq (stats.redelivered_total, 4);
    ck_assert_uint_eq (stats.failed_total, 2);
    for (int index = 0; index < 2; index++)
        ck_assert_uint_eq (s_stored (store, ids [index], ENP_STATUS_FAILED), 3);
    logger_dispatcher_destroy (&dispatcher);
    logger_store_destroy (&store);
    zsock_destroy (&pull);
}
END_TEST

//  After max_attempts deliveries without a report, events end "failed".
START_TEST (test_logger_dispatcher_fails_after_max_attempts)
{
    char endpoint [64];
    zsock_t *pull = s_broker (endpoint, sizeof endpoint, 0);
    logger_store_t *store = s_store_new (100, 150, 2);
    logger_dispatcher_t *dispatcher = logger_dispatcher_new (store, endpoint, NULL);
    ck_assert (s_wait_connected (dispatcher, true, 3000));
    char ids [2][ENP_UUID_LEN + 1];
    s_insert (store, 2, ids);
    logger_dispatcher_wake (dispatcher);
    for (int index = 0; index < 4; index++) {
        enp_event_t *event = s_receive (pull);
        ck_assert_ptr_nonnull (event);
        ck_assert_uint_eq (enp_event_attempts (event), index < 2? 1: 2);
        enp_event_destroy (&event);
    }
    //  Once both are failed nothing is due, so the four sends stay four
    ck_assert (s_wait_failed (store, 2, 10000));
    ck_assert_uint_eq (logger_dispatcher_sent (dispatcher), 4);
    logger_store_stats_t stats;
    logger_store_stats (store, &stats);
    ck_assert_uint_eq (stats.failed_total, 2);
    ck_assert_uint_eq (stats.queued, 0);
    for (int index = 0; index < 2; index++)
        ck_assert_uint_eq (s_stored (store, ids [index], ENP_STATUS_FAILED), 2);
    logger_dispatcher_destroy (&dispatcher);
    logger_store_destroy (&store);
    zsock_destroy (&pull);
}
END_TEST

//  No broker: events stay pending; once one listens, they are delivered.
START_TEST (test_logger_dispatcher_broker_late)
{
    int port = testkit_free_port ();
    ck_assert_int_gt (port, 0);
    char endpoint [64];
    snprintf (endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", port);
    logger_store_t *store = s_store_new (100, 30000, 5);
    logger_dispatcher_t *dispatcher = logger_dispatcher_new (store, endpoint, NULL);
    ck_assert_ptr_nonnull (dispatcher);
    char ids [3][ENP_UUID_LEN + 1];
    s_insert (store, 3, ids);
    logger_dispatcher_wake (dispatcher);
    //  It tried, the broker was not there: the events stay pending
    ck_assert (s_wait_refused (dispatcher, 0, 10000));
    ck_assert (!logger_dispatcher_connected (dispatcher));
    ck_assert (!logger_dispatcher_backpressure (dispatcher));
    ck_assert_uint_eq (logger_dispatcher_sent (dispatcher), 0);
    logger_store_stats_t stats;
    logger_store_stats (store, &stats);
    ck_assert_uint_eq (stats.pending, 3);
    ck_assert_uint_eq (stats.queued, 0);
    for (int index = 0; index < 3; index++)
        ck_assert_uint_eq (s_stored (store, ids [index], ENP_STATUS_PENDING), 0);

    zsock_t *pull = zsock_new (ZMQ_PULL);
    zsock_set_rcvtimeo (pull, 5000);
    ck_assert_int_eq (zsock_bind (pull, "%s", endpoint), port);
    s_receive_ids (pull, ids, 3, 1);
    ck_assert (s_wait_connected (dispatcher, true, 3000));
    for (int index = 0; index < 3; index++)
        ck_assert (s_wait_stored (store, ids [index], ENP_STATUS_QUEUED, 1, 2000));
    ck_assert (s_wait_sent (dispatcher, 3, 2000));
    logger_dispatcher_destroy (&dispatcher);
    logger_store_destroy (&store);
    zsock_destroy (&pull);
}
END_TEST

//  The link state follows the broker going away and coming back.
START_TEST (test_logger_dispatcher_link_state)
{
    char endpoint [64];
    zsock_t *pull = s_broker (endpoint, sizeof endpoint, 0);
    logger_store_t *store = s_store_new (100, 30000, 5);
    logger_dispatcher_t *dispatcher = logger_dispatcher_new (store, endpoint, NULL);
    ck_assert (s_wait_connected (dispatcher, true, 3000));
    zsock_destroy (&pull);
    ck_assert (s_wait_connected (dispatcher, false, 5000));
    //  Meanwhile events wait, pending
    char ids [1][ENP_UUID_LEN + 1];
    uint64_t refused = logger_dispatcher_refused (dispatcher);
    s_insert (store, 1, ids);
    logger_dispatcher_wake (dispatcher);
    ck_assert (s_wait_refused (dispatcher, refused, 10000));
    ck_assert_uint_eq (s_stored (store, ids [0], ENP_STATUS_PENDING), 0);
    pull = zsock_new (ZMQ_PULL);
    zsock_set_rcvtimeo (pull, 5000);
    ck_assert_int_eq (zsock_bind (pull, "%s", endpoint),
                      atoi (strrchr (endpoint, ':') + 1));
    enp_event_t *event = s_receive (pull);
    ck_assert_ptr_nonnull (event);
    ck_assert_str_eq (enp_event_id (event), ids [0]);
    enp_event_destroy (&event);
    ck_assert (s_wait_connected (dispatcher, true, 3000));
    logger_dispatcher_destroy (&dispatcher);
    logger_store_destroy (&store);
    zsock_destroy (&pull);
}
END_TEST

#define S_FLOOD 5000

//  A broker that does not read: sends are refused (backpressure), nothing
//  is lost, and everything goes once it reads again.
START_TEST (test_logger_dispatcher_backpressure)
{
    char endpoint [64];
    zsock_t *pull = s_broker (endpoint, sizeof endpoint, 10);
    logger_store_t *store = s_store_new (S_FLOOD, 300000, 5);
    logger_dispatcher_t *dispatcher = logger_dispatcher_new (store, endpoint, NULL);
    ck_assert (s_wait_connected (dispatcher, true, 3000));
    //  Large descriptions so that socket buffers fill up quickly
    char *description = malloc (ENP_DESCRIPTION_MAX + 1);
    memset (description, 'x', ENP_DESCRIPTION_MAX);
    description [ENP_DESCRIPTION_MAX] = '\0';
    for (int index = 0; index < S_FLOOD; index++) {
        enp_event_t *event = enp_event_create ("flood", description);
        ck_assert_int_eq (logger_store_insert (store, &event, NULL, NULL), ENP_OK);
    }
    free (description);
    logger_dispatcher_wake (dispatcher);
    int64_t deadline = enp_time_mono_ms () + 5000;
    while (!logger_dispatcher_backpressure (dispatcher)
       &&  enp_time_mono_ms () < deadline)
        zclock_sleep (10);
    ck_assert (logger_dispatcher_backpressure (dispatcher));
    logger_store_stats_t stats;
    logger_store_stats (store, &stats);
    ck_assert_uint_gt (stats.pending, 0);
    ck_assert_uint_lt (logger_dispatcher_sent (dispatcher), S_FLOOD);

    //  Now read everything: each event once, none lost
    zhashx_t *seen = zhashx_new ();
    for (int index = 0; index < S_FLOOD; index++) {
        enp_event_t *event = s_receive (pull);
        ck_assert_msg (event != NULL, "only %d of %d arrived", index, S_FLOOD);
        ck_assert_int_eq (zhashx_insert (seen, enp_event_id (event), (void *) 1), 0);
        ck_assert_uint_eq (enp_event_attempts (event), 1);
        enp_event_destroy (&event);
    }
    zhashx_destroy (&seen);
    ck_assert (s_wait_sent (dispatcher, S_FLOOD, 2000));
    logger_store_stats (store, &stats);
    ck_assert_uint_eq (stats.pending, 0);
    ck_assert_uint_eq (stats.queued, S_FLOOD);
    deadline = enp_time_mono_ms () + 2000;
    while (logger_dispatcher_backpressure (dispatcher)
       &&  enp_time_mono_ms () < deadline)
        zclock_sleep (10);
    ck_assert (!logger_dispatcher_backpressure (dispatcher));
    logger_dispatcher_destroy (&dispatcher);
    logger_store_destroy (&store);
    zsock_destroy (&pull);
}
END_TEST

//  Stopping with events stuck pending (no broker) hands nothing to a
//  socket that would linger on it: nothing was sent, all stay pending (a
//  stop that hung would hit the case timeout).
START_TEST (test_logger_dispatcher_destroy_without_broker)
{
    int port = testkit_free_port ();
    char endpoint [64];
    snprintf (endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", port);
    logger_store_t *store = s_store_new (100, 30000, 5);
    logger_dispatcher_t *dispatcher = logger_dispatcher_new (store, endpoint, NULL);
    s_insert (store, 10, NULL);
    logger_dispatcher_wake (dispatcher);
    ck_assert (s_wait_refused (dispatcher, 0, 10000));
    ck_assert_uint_eq (logger_dispatcher_sent (dispatcher), 0);
    logger_dispatcher_destroy (&dispatcher);
    logger_store_stats_t stats;
    logger_store_stats (store, &stats);
    ck_assert_uint_eq (stats.pending, 10);
    logger_store_destroy (&store);
}
END_TEST

//  A malformed endpoint is a start failure, not a dispatcher that runs
//  forever while events it can never send pile up as pending.
START_TEST (test_logger_dispatcher_bad_endpoint)
{
    logger_store_t *store = s_store_new (100, 30000, 5);
    const char *endpoints [] = { "nonsense", "tcp://", "nope://127.0.0.1:1" };
    for (size_t index = 0; index < sizeof endpoints / sizeof endpoints [0]; index++) {
        logger_dispatcher_t *dispatcher = logger_dispatcher_new (store,
                                                                 endpoints [index], NULL);
        ck_assert_msg (dispatcher == NULL, "%s was accepted", endpoints [index]);
    }
    //  A broker that is not there is no failure
    int port = testkit_free_port ();
    char endpoint [64];
    snprintf (endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", port);
    logger_dispatcher_t *dispatcher = logger_dispatcher_new (store, endpoint, NULL);
    ck_assert_ptr_nonnull (dispatcher);
    ck_assert (!logger_dispatcher_connected (dispatcher));
    logger_dispatcher_destroy (&dispatcher);
    logger_store_destroy (&store);
}
END_TEST

int
main (void)
{
    const TTest *tests [] = {
        test_logger_dispatcher_usage,
        test_logger_dispatcher_sends_backlog,
        test_logger_dispatcher_wire_batch,
        test_logger_dispatcher_wire_batch_postgresql,
        test_logger_dispatcher_redelivers,
        test_logger_dispatcher_fails_after_max_attempts,
        test_logger_dispatcher_broker_late,
        test_logger_dispatcher_link_state,
        test_logger_dispatcher_backpressure,
        test_logger_dispatcher_destroy_without_broker,
        test_logger_dispatcher_bad_endpoint,
        NULL
    };
    return testkit_run (testkit_suite ("logger_dispatcher", 30, tests));
}
