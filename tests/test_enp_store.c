/*  test_enp_store - the thread-safe event store and its delivery state

    Delivery cases pass their own monotonic 'now' to enp_store_due and
    enp_store_mark_sent, so timeouts are exact and nothing sleeps.
*/
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "enp_store.h"
#include "testkit.h"

//  Make a pending event with a predictable id: 00000000-0000-4000-8000-<n>.
static enp_event_t *
s_event (unsigned long number, const char *user_id)
{
    char id [ENP_UUID_LEN + 1];
    snprintf (id, sizeof id, "00000000-0000-4000-8000-%012lx", number);
    char description [64];
    snprintf (description, sizeof description, "event %lu", number);
    enp_event_t *event = enp_event_new (id, user_id, description,
                                        1700000000000LL + (int64_t) number);
    ck_assert_ptr_nonnull (event);
    return event;
}

//  Write the id s_event gives number into id.
static const char *
s_id (unsigned long number, char *id)
{
    snprintf (id, ENP_UUID_LEN + 1, "00000000-0000-4000-8000-%012lx", number);
    return id;
}

//  Insert event number n, which must succeed.
static void
s_insert (enp_store_t *store, unsigned long number, const char *user_id)
{
    enp_event_t *event = s_event (number, user_id);
    ck_assert_int_eq (enp_store_insert (store, &event), ENP_OK);
    ck_assert_ptr_null (event);
}

//  Return the status of an event (copied into status).
static const char *
s_status (enp_store_t *store, unsigned long number, char *status)
{
    char id [ENP_UUID_LEN + 1];
    enp_event_t *event = NULL;
    ck_assert_int_eq (enp_store_get (store, s_id (number, id), &event), ENP_OK);
    snprintf (status, ENP_STATUS_MAX + 1, "%s", enp_event_status (event));
    enp_event_destroy (&event);
    return status;
}

//  Return the attempts of an event.
static uint32_t
s_attempts (enp_store_t *store, unsigned long number)
{
    char id [ENP_UUID_LEN + 1];
    enp_event_t *event = NULL;
    ck_assert_int_eq (enp_store_get (store, s_id (number, id), &event), ENP_OK);
    uint32_t attempts = enp_event_attempts (event);
    enp_event_destroy (&event);
    return attempts;
}

//  Destroy count events of an array.
static void
s_destroy_all (enp_event_t **items, size_t count)
{
    for (size_t index = 0; index < count; index++)
        enp_event_destroy (&items [index]);
}

//  Usage: every method once.
START_TEST (test_enp_store_usage)
{
    enp_store_t *store = enp_store_new (10, 1000, 3);
    ck_assert_ptr_nonnull (store);
    enp_event_t *event = s_event (1, "alice");
    ck_assert_int_eq (enp_store_insert (store, &event), ENP_OK);
    ck_assert_ptr_null (event);
    char id [ENP_UUID_LEN + 1];
    s_id (1, id);

    enp_event_t *copy = NULL;
    ck_assert_int_eq (enp_store_get (store, id, &copy), ENP_OK);
    ck_assert_str_eq (enp_event_id (copy), id);
    ck_assert_str_eq (enp_event_user_id (copy), "alice");
    ck_assert_str_eq (enp_event_status (copy), ENP_STATUS_PENDING);
    enp_event_destroy (&copy);

    ck_assert_int_eq (enp_store_next_due (store), 0);
    enp_event_t *due [4];
    ck_assert_uint_eq (enp_store_due (store, 100, due, 4), 1);
    ck_assert_str_eq (enp_event_id (due [0]), id);
    enp_event_destroy (&due [0]);
    ck_assert_int_eq (enp_store_mark_sent (store, id, 100), ENP_OK);
    ck_assert_int_eq (enp_store_next_due (store), 1100);

    ck_assert_int_eq (enp_store_set_status (store, id, ENP_STATUS_PROCESSED,
                                            &copy), ENP_OK);
    ck_assert_str_eq (enp_event_status (copy), ENP_STATUS_PROCESSED);
    ck_assert_uint_eq (enp_event_attempts (copy), 1);
    enp_event_destroy (&copy);

    enp_store_query_t query = { .limit = 10 };
    enp_event_t *items [10];
    size_t count = 0;
    char next [ENP_UUID_LEN + 1];
    ck_assert_int_eq (enp_store_list (store, &query, items, &count, next), ENP_OK);
    ck_assert_uint_eq (count, 1);
    ck_assert_str_eq (next, "");
    s_destroy_all (items, count);

    enp_store_stats_t stats;
    enp_store_stats (store, &stats);
    ck_assert_uint_eq (stats.total, 1);
    ck_assert_uint_eq (stats.processed, 1);
    ck_assert_uint_eq (stats.created_total, 1);
    ck_assert_uint_eq (stats.processed_total, 1);
    ck_assert_uint_eq (stats.max_events, 10);
    enp_store_destroy (&store);
    ck_assert_ptr_null (store);
    enp_store_destroy (&store);
}
END_TEST

//  A fresh store is empty and its counters are zero.
START_TEST (test_enp_store_empty)
{
    enp_store_t *store = enp_store_new (5, 1000, 3);
    enp_store_stats_t stats;
    memset (&stats, 0xff, sizeof stats);
    enp_store_stats (store, &stats);
    ck_assert_uint_eq (stats.total, 0);
    ck_assert_uint_eq (stats.pending + stats.queued + stats.processed
                       + stats.failed + stats.other, 0);
    ck_assert_uint_eq (stats.created_total + stats.processed_total
                       + stats.failed_total + stats.redelivered_total
                       + stats.evicted_total, 0);
    ck_assert_uint_eq (stats.max_events, 5);
    ck_assert_int_eq (enp_store_next_due (store), INT64_MAX);
    enp_event_t *due [2];
    ck_assert_uint_eq (enp_store_due (store, 1000000, due, 2), 0);
    enp_store_destroy (&store);
}
END_TEST

//  Unknown ids: get, set_status and mark_sent say ENP_ENOTFOUND.
START_TEST (test_enp_store_unknown_id)
{
    enp_store_t *store = enp_store_new (5, 1000, 3);
    s_insert (store, 1, "alice");
    char id [ENP_UUID_LEN + 1];
    enp_event_t *event = NULL;
    ck_assert_int_eq (enp_store_get (store, s_id (2, id), &event), ENP_ENOTFOUND);
    ck_assert_ptr_null (event);
    ck_assert_int_eq (enp_store_set_status (store, id, ENP_STATUS_PROCESSED,
                                            &event), ENP_ENOTFOUND);
    ck_assert_ptr_null (event);
    ck_assert_int_eq (enp_store_set_status (store, id, ENP_STATUS_PROCESSED,
                                            NULL), ENP_ENOTFOUND);
    ck_assert_int_eq (enp_store_mark_sent (store, id, 5), ENP_ENOTFOUND);
    ck_assert_int_eq (enp_store_get (store, "", &event), ENP_ENOTFOUND);
    enp_store_stats_t stats;
    enp_store_stats (store, &stats);
    ck_assert_uint_eq (stats.total, 1);
    ck_assert_uint_eq (stats.processed_total, 0);
    enp_store_destroy (&store);
}
END_TEST

//  get returns a copy: changing or freeing it leaves the store alone.
START_TEST (test_enp_store_get_returns_copy)
{
    enp_store_t *store = enp_store_new (5, 1000, 3);
    s_insert (store, 1, "alice");
    char id [ENP_UUID_LEN + 1];
    enp_event_t *first = NULL, *second = NULL;
    ck_assert_int_eq (enp_store_get (store, s_id (1, id), &first), ENP_OK);
    enp_event_set_status (first, "tampered", 1);
    ck_assert_int_eq (enp_store_get (store, id, &second), ENP_OK);
    ck_assert_ptr_ne (first, second);
    ck_assert_str_eq (enp_event_status (second), ENP_STATUS_PENDING);
    enp_event_destroy (&first);
    enp_event_destroy (&second);
    enp_store_destroy (&store);
}
END_TEST

//  set_status: statuses, counters and the returned copy.
START_TEST (test_enp_store_set_status)
{
    enp_store_t *store = enp_store_new (10, 1000, 3);
    for (unsigned long number = 1; number <= 4; number++)
        s_insert (store, number, "alice");
    char id [ENP_UUID_LEN + 1];
    char status [ENP_STATUS_MAX + 1];
    enp_event_t *copy = NULL;
    ck_assert_int_eq (enp_store_set_status (store, s_id (1, id),
                                            ENP_STATUS_PROCESSED, &copy), ENP_OK);
    ck_assert_str_eq (enp_event_status (copy), ENP_STATUS_PROCESSED);
    ck_assert_int_ge (enp_event_updated_at (copy), enp_event_created_at (copy));
    enp_event_destroy (&copy);
    //  Processed twice counts once
    ck_assert_int_eq (enp_store_set_status (store, id, ENP_STATUS_PROCESSED,
                                            NULL), ENP_OK);
    ck_assert_int_eq (enp_store_set_status (store, s_id (2, id), "archived",
                                            NULL), ENP_OK);
    ck_assert_str_eq (s_status (store, 2, status), "archived");
    ck_assert_int_eq (enp_store_set_status (store, s_id (3, id),
                                            ENP_STATUS_FAILED, NULL), ENP_OK);

    enp_store_stats_t stats;
    enp_store_stats (store, &stats);
    ck_assert_uint_eq (stats.total, 4);
    ck_assert_uint_eq (stats.pending, 1);
    ck_assert_uint_eq (stats.processed, 1);
    ck_assert_uint_eq (stats.failed, 1);
    ck_assert_uint_eq (stats.other, 1);
    ck_assert_uint_eq (stats.queued, 0);
    ck_assert_uint_eq (stats.processed_total, 1);

    //  A failed event a worker reports after all leaves "failed"
    ck_assert_int_eq (enp_store_set_status (store, s_id (3, id),
                                            ENP_STATUS_PROCESSED, NULL), ENP_OK);
    enp_store_stats (store, &stats);
    ck_assert_uint_eq (stats.failed, 0);
    ck_assert_uint_eq (stats.processed, 2);
    ck_assert_uint_eq (stats.processed_total, 2);
    ck_assert_uint_eq (stats.pending + stats.queued + stats.processed
                       + stats.failed + stats.other, stats.total);
    enp_store_destroy (&store);
}
END_TEST

//  Listing is oldest first; the cursor pages through everything once.
START_TEST (test_enp_store_list_paging)
{
    enp_store_t *store = enp_store_new (100, 1000, 3);
    for (unsigned long number = 1; number <= 25; number++)
        s_insert (store, number, number % 2? "alice": "bob");
    enp_event_t *items [10];
    char next [ENP_UUID_LEN + 1] = "";
    char after [ENP_UUID_LEN + 1] = "";
    unsigned long expected = 1;
    int pages = 0;
    do {
        enp_store_query_t query = { .limit = 10, .after = pages? after: NULL };
        size_t count = 0;
        ck_assert_int_eq (enp_store_list (store, &query, items, &count, next),
                          ENP_OK);
        ck_assert_uint_eq (count, pages < 2? 10: 5);
        for (size_t index = 0; index < count; index++) {
            char id [ENP_UUID_LEN + 1];
            ck_assert_str_eq (enp_event_id (items [index]), s_id (expected, id));
            expected++;
        }
        if (next [0])
            ck_assert_str_eq (next, enp_event_id (items [count - 1]));
        s_destroy_all (items, count);
        snprintf (after, sizeof after, "%s", next);
        pages++;
    } while (next [0] && pages < 10);
    ck_assert_int_eq (pages, 3);
    ck_assert_uint_eq (expected, 26);
    enp_store_destroy (&store);
}
END_TEST

//  When the last page is exactly full, no empty page follows.
START_TEST (test_enp_store_list_exact_pages)
{
    enp_store_t *store = enp_store_new (100, 1000, 3);
    for (unsigned long number = 1; number <= 20; number++)
        s_insert (store, number, "alice");
    enp_event_t *items [10];
    char next [ENP_UUID_LEN + 1];
    size_t count = 0;
    enp_store_query_t query = { .limit = 10 };
    ck_assert_int_eq (enp_store_list (store, &query, items, &count, next), ENP_OK);
    ck_assert_uint_eq (count, 10);
    ck_assert_str_ne (next, "");
    s_destroy_all (items, count);
    char after [ENP_UUID_LEN + 1];
    snprintf (after, sizeof after, "%s", next);
    query.after = after;
    ck_assert_int_eq (enp_store_list (store, &query, items, &count, next), ENP_OK);
    ck_assert_uint_eq (count, 10);
    ck_assert_str_eq (next, "");
    s_destroy_all (items, count);
    //  After the newest event: an empty page and no cursor
    char id [ENP_UUID_LEN + 1];
    query.after = s_id (20, id);
    ck_assert_int_eq (enp_store_list (store, &query, items, &count, next), ENP_OK);
    ck_assert_uint_eq (count, 0);
    ck_assert_str_eq (next, "");
    enp_store_destroy (&store);
}
END_TEST

//  Filters by status and user, alone and together, with paging.
START_TEST (test_enp_store_list_filters)
{
    enp_store_t *store = enp_store_new (100, 1000, 3);
    char id [ENP_UUID_LEN + 1];
    for (unsigned long number = 1; number <= 12; number++) {
        s_insert (store, number, number % 3 == 0? "bob": "alice");
        if (number % 2 == 0)
            ck_assert_int_eq (enp_store_set_status (store, s_id (number, id),
                                                    ENP_STATUS_PROCESSED, NULL),
                              ENP_OK);
    }
    enp_event_t *items [20];
    char next [ENP_UUID_LEN + 1];
    size_t count = 0;

    enp_store_query_t query = { .status = ENP_STATUS_PROCESSED, .limit = 20 };
    ck_assert_int_eq (enp_store_list (store, &query, items, &count, next), ENP_OK);
    ck_assert_uint_eq (count, 6);
    for (size_t index = 0; index < count; index++)
        ck_assert_str_eq (enp_event_status (items [index]), ENP_STATUS_PROCESSED);
    s_destroy_all (items, count);

    query = (enp_store_query_t) { .user_id = "bob", .limit = 20 };
    ck_assert_int_eq (enp_store_list (store, &query, items, &count, next), ENP_OK);
    ck_assert_uint_eq (count, 4);          //  3, 6, 9, 12
    ck_assert_str_eq (enp_event_id (items [0]), s_id (3, id));
    ck_assert_str_eq (enp_event_id (items [3]), s_id (12, id));
    ck_assert_str_eq (next, "");
    s_destroy_all (items, count);

    query = (enp_store_query_t) { .user_id = "bob",
                                  .status = ENP_STATUS_PROCESSED, .limit = 20 };
    ck_assert_int_eq (enp_store_list (store, &query, items, &count, next), ENP_OK);
    ck_assert_uint_eq (count, 2);          //  6, 12
    ck_assert_str_eq (enp_event_id (items [0]), s_id (6, id));
    ck_assert_str_eq (enp_event_id (items [1]), s_id (12, id));
    s_destroy_all (items, count);

    query = (enp_store_query_t) { .user_id = "nobody", .limit = 20 };
    ck_assert_int_eq (enp_store_list (store, &query, items, &count, next), ENP_OK);
    ck_assert_uint_eq (count, 0);
    ck_assert_str_eq (next, "");

    //  Filtered paging, two at a time, collects alice's pending events
    unsigned long seen [12];
    size_t total = 0;
    char after [ENP_UUID_LEN + 1] = "";
    int pages = 0;
    do {
        query = (enp_store_query_t) { .user_id = "alice",
                                      .status = ENP_STATUS_PENDING, .limit = 2,
                                      .after = after [0]? after: NULL };
        ck_assert_int_eq (enp_store_list (store, &query, items, &count, next),
                          ENP_OK);
        ck_assert_uint_le (count, 2);
        for (size_t index = 0; index < count; index++) {
            ck_assert_str_eq (enp_event_user_id (items [index]), "alice");
            seen [total++] = strtoul (enp_event_id (items [index]) + 24, NULL, 16);
        }
        s_destroy_all (items, count);
        snprintf (after, sizeof after, "%s", next);
    } while (next [0] && ++pages < 20);
    ck_assert_uint_eq (total, 4);           //  1, 5, 7, 11
    ck_assert_uint_eq (seen [0], 1);
    ck_assert_uint_eq (seen [1], 5);
    ck_assert_uint_eq (seen [2], 7);
    ck_assert_uint_eq (seen [3], 11);
    enp_store_destroy (&store);
}
END_TEST

//  A cursor that names no event is ENP_ENOTFOUND.
START_TEST (test_enp_store_list_unknown_cursor)
{
    enp_store_t *store = enp_store_new (10, 1000, 3);
    s_insert (store, 1, "alice");
    char id [ENP_UUID_LEN + 1];
    enp_store_query_t query = { .limit = 10, .after = s_id (99, id) };
    enp_event_t *items [10];
    size_t count = 7;
    char next [ENP_UUID_LEN + 1] = "junk";
    ck_assert_int_eq (enp_store_list (store, &query, items, &count, next),
                      ENP_ENOTFOUND);
    ck_assert_uint_eq (count, 0);
    ck_assert_str_eq (next, "");
    enp_store_destroy (&store);
}
END_TEST

//  due: pending first, then queued events whose visibility timeout passed.
START_TEST (test_enp_store_due_order)
{
    enp_store_t *store = enp_store_new (10, 100, 5);
    char id [ENP_UUID_LEN + 1];
    enp_event_t *due [10];
    for (unsigned long number = 1; number <= 3; number++)
        s_insert (store, number, "alice");
    size_t count = enp_store_due (store, 1000, due, 10);
    ck_assert_uint_eq (count, 3);
    for (size_t index = 0; index < count; index++) {
        ck_assert_str_eq (enp_event_id (due [index]), s_id (index + 1, id));
        ck_assert_str_eq (enp_event_status (due [index]), ENP_STATUS_PENDING);
        ck_assert_int_eq (enp_store_mark_sent (store, enp_event_id (due [index]),
                                               1000), ENP_OK);
    }
    s_destroy_all (due, count);
    //  Nothing is due before the timeout, everything at it
    ck_assert_uint_eq (enp_store_due (store, 1000, due, 10), 0);
    ck_assert_uint_eq (enp_store_due (store, 1099, due, 10), 0);
    s_insert (store, 4, "bob");
    count = enp_store_due (store, 1100, due, 10);
    ck_assert_uint_eq (count, 4);
    ck_assert_str_eq (enp_event_id (due [0]), s_id (4, id));
    ck_assert_str_eq (enp_event_status (due [0]), ENP_STATUS_PENDING);
    for (size_t index = 1; index < 4; index++) {
        ck_assert_str_eq (enp_event_id (due [index]), s_id (index, id));
        ck_assert_str_eq (enp_event_status (due [index]), ENP_STATUS_QUEUED);
        ck_assert_uint_eq (enp_event_attempts (due [index]), 1);
    }
    s_destroy_all (due, count);
    //  max bounds the answer; due itself changes nothing
    count = enp_store_due (store, 1100, due, 2);
    ck_assert_uint_eq (count, 2);
    s_destroy_all (due, count);
    ck_assert_uint_eq (enp_store_due (store, 1100, due, 10), 4);
    s_destroy_all (due, 4);
    enp_store_destroy (&store);
}
END_TEST

//  mark_sent counts attempts; every send after the first is a redelivery.
START_TEST (test_enp_store_mark_sent_counts)
{
    enp_store_t *store = enp_store_new (10, 100, 10);
    s_insert (store, 1, "alice");
    s_insert (store, 2, "alice");
    char id [ENP_UUID_LEN + 1];
    char status [ENP_STATUS_MAX + 1];
    ck_assert_int_eq (enp_store_mark_sent (store, s_id (1, id), 0), ENP_OK);
    ck_assert_uint_eq (s_attempts (store, 1), 1);
    ck_assert_str_eq (s_status (store, 1, status), ENP_STATUS_QUEUED);
    ck_assert_int_eq (enp_store_mark_sent (store, id, 100), ENP_OK);
    ck_assert_int_eq (enp_store_mark_sent (store, id, 200), ENP_OK);
    ck_assert_uint_eq (s_attempts (store, 1), 3);
    ck_assert_int_eq (enp_store_mark_sent (store, s_id (2, id), 0), ENP_OK);
    enp_store_stats_t stats;
    enp_store_stats (store, &stats);
    ck_assert_uint_eq (stats.redelivered_total, 2);
    ck_assert_uint_eq (stats.queued, 2);
    ck_assert_uint_eq (stats.pending, 0);
    enp_store_destroy (&store);
}
END_TEST

//  After max_attempts sends without a report an event fails for good.
START_TEST (test_enp_store_max_attempts_fail)
{
    enp_store_t *store = enp_store_new (10, 100, 2);
    s_insert (store, 1, "alice");
    s_insert (store, 2, "alice");
    char id [ENP_UUID_LEN + 1];
    char status [ENP_STATUS_MAX + 1];
    enp_event_t *due [4];
    ck_assert_int_eq (enp_store_mark_sent (store, s_id (1, id), 0), ENP_OK);
    ck_assert_int_eq (enp_store_mark_sent (store, s_id (2, id), 50), ENP_OK);
    //  First timeout: event 1 comes back for its second attempt
    size_t count = enp_store_due (store, 100, due, 4);
    ck_assert_uint_eq (count, 1);
    ck_assert_str_eq (enp_event_id (due [0]), s_id (1, id));
    s_destroy_all (due, count);
    ck_assert_int_eq (enp_store_mark_sent (store, id, 100), ENP_OK);
    //  Event 2 is reported in time
    ck_assert_int_eq (enp_store_set_status (store, s_id (2, id),
                                            ENP_STATUS_PROCESSED, NULL), ENP_OK);
    //  Second timeout: event 1 has had its two attempts
    ck_assert_uint_eq (enp_store_due (store, 200, due, 4), 0);
    ck_assert_str_eq (s_status (store, 1, status), ENP_STATUS_FAILED);
    ck_assert_uint_eq (s_attempts (store, 1), 2);
    enp_store_stats_t stats;
    enp_store_stats (store, &stats);
    ck_assert_uint_eq (stats.failed, 1);
    ck_assert_uint_eq (stats.failed_total, 1);
    ck_assert_uint_eq (stats.queued, 0);
    ck_assert_uint_eq (stats.processed, 1);
    ck_assert_uint_eq (stats.redelivered_total, 1);
    //  Failed events are never due again, and cannot be sent
    ck_assert_uint_eq (enp_store_due (store, 1000000, due, 4), 0);
    ck_assert_int_eq (enp_store_next_due (store), INT64_MAX);
    ck_assert_int_eq (enp_store_mark_sent (store, s_id (1, id), 300), ENP_EINVAL);
    ck_assert_str_eq (s_status (store, 1, status), ENP_STATUS_FAILED);
    enp_store_stats (store, &stats);
    ck_assert_uint_eq (stats.failed_total, 1);
    //  The dead letters can be listed
    enp_store_query_t query = { .status = ENP_STATUS_FAILED, .limit = 10 };
    enp_event_t *items [10];
    char next [ENP_UUID_LEN + 1];
    ck_assert_int_eq (enp_store_list (store, &query, items, &count, next), ENP_OK);
    ck_assert_uint_eq (count, 1);
    ck_assert_str_eq (enp_event_id (items [0]), s_id (1, id));
    s_destroy_all (items, count);
    enp_store_destroy (&store);
}
END_TEST

//  A processed event is not redelivered, and a late mark_sent keeps it so.
START_TEST (test_enp_store_processed_not_redelivered)
{
    enp_store_t *store = enp_store_new (10, 100, 5);
    s_insert (store, 1, "alice");
    char id [ENP_UUID_LEN + 1];
    char status [ENP_STATUS_MAX + 1];
    enp_event_t *due [4];
    size_t count = enp_store_due (store, 0, due, 4);
    ck_assert_uint_eq (count, 1);
    //  The worker reports before the dispatcher records the send
    ck_assert_int_eq (enp_store_set_status (store, s_id (1, id),
                                            ENP_STATUS_PROCESSED, NULL), ENP_OK);
    ck_assert_int_eq (enp_store_mark_sent (store, id, 0), ENP_EINVAL);
    s_destroy_all (due, count);
    ck_assert_str_eq (s_status (store, 1, status), ENP_STATUS_PROCESSED);
    //  The send did happen, so it counts; the status stays processed
    ck_assert_uint_eq (s_attempts (store, 1), 1);
    ck_assert_uint_eq (enp_store_due (store, 1000000, due, 4), 0);
    ck_assert_int_eq (enp_store_next_due (store), INT64_MAX);

    //  The usual order: sent, then reported
    s_insert (store, 2, "alice");
    ck_assert_int_eq (enp_store_mark_sent (store, s_id (2, id), 0), ENP_OK);
    ck_assert_int_eq (enp_store_set_status (store, id, ENP_STATUS_PROCESSED,
                                            NULL), ENP_OK);
    ck_assert_uint_eq (enp_store_due (store, 1000000, due, 4), 0);
    //  A second send recorded after the report still counts as one, but
    //  cannot take the event back from processed
    ck_assert_int_eq (enp_store_mark_sent (store, id, 10), ENP_EINVAL);
    ck_assert_str_eq (s_status (store, 2, status), ENP_STATUS_PROCESSED);
    ck_assert_uint_eq (s_attempts (store, 2), 2);
    enp_store_stats_t stats;
    enp_store_stats (store, &stats);
    ck_assert_uint_eq (stats.processed_total, 2);
    ck_assert_uint_eq (stats.redelivered_total, 1);
    enp_store_destroy (&store);
}
END_TEST

//  Setting "pending" again makes an event due at once.
START_TEST (test_enp_store_set_pending_requeues)
{
    enp_store_t *store = enp_store_new (10, 100000, 5);
    s_insert (store, 1, "alice");
    char id [ENP_UUID_LEN + 1];
    enp_event_t *due [4];
    ck_assert_int_eq (enp_store_mark_sent (store, s_id (1, id), 0), ENP_OK);
    ck_assert_uint_eq (enp_store_due (store, 10, due, 4), 0);
    ck_assert_int_eq (enp_store_set_status (store, id, ENP_STATUS_PENDING, NULL),
                      ENP_OK);
    ck_assert_int_eq (enp_store_next_due (store), 0);
    size_t count = enp_store_due (store, 10, due, 4);
    ck_assert_uint_eq (count, 1);
    ck_assert_str_eq (enp_event_status (due [0]), ENP_STATUS_PENDING);
    s_destroy_all (due, count);
    enp_store_destroy (&store);
}
END_TEST

//  Only a change to "pending" bumps the delivery generation: sending,
//  redelivery after the visibility timeout and other statuses keep it.
START_TEST (test_enp_store_requeue_bumps_generation)
{
    enp_store_t *store = enp_store_new (10, 100, 50);
    s_insert (store, 1, "alice");
    char id [ENP_UUID_LEN + 1];
    s_id (1, id);
    enp_event_t *due [4];
    size_t count = enp_store_due (store, 0, due, 4);
    ck_assert_uint_eq (count, 1);
    ck_assert_uint_eq (enp_event_generation (due [0]), 0);
    s_destroy_all (due, count);
    ck_assert_int_eq (enp_store_mark_sent (store, id, 0), ENP_OK);
    count = enp_store_due (store, 1000, due, 4);        //  timed out
    ck_assert_uint_eq (count, 1);
    ck_assert_uint_eq (enp_event_generation (due [0]), 0);
    s_destroy_all (due, count);
    ck_assert_int_eq (enp_store_mark_sent (store, id, 1000), ENP_OK);
    enp_event_t *event = NULL;
    ck_assert_int_eq (enp_store_set_status (store, id, ENP_STATUS_PROCESSED, &event), ENP_OK);
    ck_assert_uint_eq (enp_event_generation (event), 0);
    enp_event_destroy (&event);
    ck_assert_int_eq (enp_store_set_status (store, id, ENP_STATUS_PENDING, &event), ENP_OK);
    ck_assert_uint_eq (enp_event_generation (event), 1);
    enp_event_destroy (&event);
    count = enp_store_due (store, 2000, due, 4);
    ck_assert_uint_eq (count, 1);
    ck_assert_uint_eq (enp_event_generation (due [0]), 1);
    s_destroy_all (due, count);
    ck_assert_int_eq (enp_store_set_status (store, id, ENP_STATUS_PENDING, NULL), ENP_OK);
    ck_assert_int_eq (enp_store_set_status (store, id, "archived", NULL), ENP_OK);
    ck_assert_int_eq (enp_store_get (store, id, &event), ENP_OK);
    ck_assert_uint_eq (enp_event_generation (event), 2);
    enp_event_destroy (&event);
    enp_store_destroy (&store);
}
END_TEST

//  A full store makes room by evicting the oldest processed event.
START_TEST (test_enp_store_eviction)
{
    enp_store_t *store = enp_store_new (3, 1000, 5);
    char id [ENP_UUID_LEN + 1];
    for (unsigned long number = 1; number <= 3; number++)
        s_insert (store, number, "alice");
    //  2 is processed before 1, so 2 is the oldest processed
    ck_assert_int_eq (enp_store_set_status (store, s_id (2, id),
                                            ENP_STATUS_PROCESSED, NULL), ENP_OK);
    ck_assert_int_eq (enp_store_set_status (store, s_id (1, id),
                                            ENP_STATUS_PROCESSED, NULL), ENP_OK);
    s_insert (store, 4, "alice");
    enp_event_t *event = NULL;
    ck_assert_int_eq (enp_store_get (store, s_id (2, id), &event), ENP_ENOTFOUND);
    ck_assert_int_eq (enp_store_get (store, s_id (1, id), &event), ENP_OK);
    enp_event_destroy (&event);
    s_insert (store, 5, "alice");
    ck_assert_int_eq (enp_store_get (store, s_id (1, id), &event), ENP_ENOTFOUND);
    enp_store_stats_t stats;
    enp_store_stats (store, &stats);
    ck_assert_uint_eq (stats.total, 3);
    ck_assert_uint_eq (stats.evicted_total, 2);
    ck_assert_uint_eq (stats.processed, 0);
    ck_assert_uint_eq (stats.created_total, 5);

    //  The listing and a cursor naming an evicted event reflect it
    enp_event_t *items [5];
    size_t count = 0;
    char next [ENP_UUID_LEN + 1];
    enp_store_query_t query = { .limit = 5 };
    ck_assert_int_eq (enp_store_list (store, &query, items, &count, next), ENP_OK);
    ck_assert_uint_eq (count, 3);
    ck_assert_str_eq (enp_event_id (items [0]), s_id (3, id));
    ck_assert_str_eq (enp_event_id (items [1]), s_id (4, id));
    ck_assert_str_eq (enp_event_id (items [2]), s_id (5, id));
    s_destroy_all (items, count);
    query.after = s_id (1, id);
    ck_assert_int_eq (enp_store_list (store, &query, items, &count, next),
                      ENP_ENOTFOUND);
    enp_store_destroy (&store);
}
END_TEST

//  With nothing processed, a full store refuses and the caller keeps the event.
START_TEST (test_enp_store_full)
{
    enp_store_t *store = enp_store_new (2, 1000, 5);
    char id [ENP_UUID_LEN + 1];
    s_insert (store, 1, "alice");
    s_insert (store, 2, "alice");
    ck_assert_int_eq (enp_store_mark_sent (store, s_id (1, id), 0), ENP_OK);
    ck_assert_int_eq (enp_store_set_status (store, s_id (2, id), "archived",
                                            NULL), ENP_OK);
    enp_event_t *event = s_event (3, "alice");
    enp_event_t *kept = event;
    ck_assert_int_eq (enp_store_insert (store, &event), ENP_EFULL);
    ck_assert_ptr_eq (event, kept);
    ck_assert_str_eq (enp_event_id (event), s_id (3, id));
    enp_event_destroy (&event);
    ck_assert_int_eq (enp_store_get (store, id, &event), ENP_ENOTFOUND);
    enp_store_stats_t stats;
    enp_store_stats (store, &stats);
    ck_assert_uint_eq (stats.total, 2);
    ck_assert_uint_eq (stats.created_total, 2);
    ck_assert_uint_eq (stats.evicted_total, 0);
    //  Once one is processed, there is room again
    ck_assert_int_eq (enp_store_set_status (store, s_id (1, id),
                                            ENP_STATUS_PROCESSED, NULL), ENP_OK);
    s_insert (store, 3, "alice");
    enp_store_stats (store, &stats);
    ck_assert_uint_eq (stats.evicted_total, 1);
    ck_assert_uint_eq (stats.total, 2);
    enp_store_destroy (&store);
}
END_TEST

//  The same id twice is refused; the caller keeps the second event.
START_TEST (test_enp_store_duplicate_id)
{
    enp_store_t *store = enp_store_new (10, 1000, 5);
    s_insert (store, 1, "alice");
    enp_event_t *event = s_event (1, "mallory");
    ck_assert_int_ne (enp_store_insert (store, &event), ENP_OK);
    ck_assert_ptr_nonnull (event);
    enp_event_destroy (&event);
    char id [ENP_UUID_LEN + 1];
    ck_assert_int_eq (enp_store_get (store, s_id (1, id), &event), ENP_OK);
    ck_assert_str_eq (enp_event_user_id (event), "alice");
    enp_event_destroy (&event);
    enp_store_stats_t stats;
    enp_store_stats (store, &stats);
    ck_assert_uint_eq (stats.total, 1);
    ck_assert_uint_eq (stats.created_total, 1);
    enp_store_destroy (&store);
}
END_TEST

//  next_due: 0 with a pending event, else the earliest deadline, else max.
START_TEST (test_enp_store_next_due)
{
    enp_store_t *store = enp_store_new (10, 1000, 5);
    char id [ENP_UUID_LEN + 1];
    ck_assert_int_eq (enp_store_next_due (store), INT64_MAX);
    s_insert (store, 1, "alice");
    s_insert (store, 2, "alice");
    ck_assert_int_eq (enp_store_next_due (store), 0);
    ck_assert_int_eq (enp_store_mark_sent (store, s_id (1, id), 500), ENP_OK);
    ck_assert_int_eq (enp_store_next_due (store), 0);
    ck_assert_int_eq (enp_store_mark_sent (store, s_id (2, id), 700), ENP_OK);
    ck_assert_int_eq (enp_store_next_due (store), 1500);
    ck_assert_int_eq (enp_store_set_status (store, s_id (1, id),
                                            ENP_STATUS_PROCESSED, NULL), ENP_OK);
    ck_assert_int_eq (enp_store_next_due (store), 1700);
    //  A resend moves the deadline
    ck_assert_int_eq (enp_store_mark_sent (store, s_id (2, id), 1700), ENP_OK);
    ck_assert_int_eq (enp_store_next_due (store), 2700);
    ck_assert_int_eq (enp_store_set_status (store, id, ENP_STATUS_PROCESSED,
                                            NULL), ENP_OK);
    ck_assert_int_eq (enp_store_next_due (store), INT64_MAX);
    enp_store_destroy (&store);
}
END_TEST

#define S_THREADS   8
#define S_PER_THREAD 5000

typedef struct {
    enp_store_t *store;
    unsigned long thread;
    int errors;
    unsigned long processed;
} s_worker_arg_t;

//  One writer: insert, read back and update its own events.
static void *
s_writer (void *arg)
{
    s_worker_arg_t *self = (s_worker_arg_t *) arg;
    for (unsigned long index = 0; index < S_PER_THREAD; index++) {
        unsigned long number = self->thread * 1000000 + index;
        char id [ENP_UUID_LEN + 1];
        s_id (number, id);
        enp_event_t *event = enp_event_new (id, "user", "concurrent", 0);
        if (!event || enp_store_insert (self->store, &event) != ENP_OK) {
            self->errors++;
            enp_event_destroy (&event);
            continue;
        }
        enp_event_t *copy = NULL;
        if (enp_store_get (self->store, id, &copy) != ENP_OK
        ||  strcmp (enp_event_id (copy), id) != 0)
            self->errors++;
        enp_event_destroy (&copy);
        const char *status = index % 3 == 0? ENP_STATUS_PROCESSED
                           : index % 3 == 1? "archived": NULL;
        if (status) {
            if (enp_store_set_status (self->store, id, status, NULL) != ENP_OK)
                self->errors++;
            else
            if (index % 3 == 0)
                self->processed++;
        }
    }
    return NULL;
}

typedef struct {
    enp_store_t *store;
    volatile int *stop;
    unsigned long sent;
} s_sender_arg_t;

//  A dispatcher-like thread sending whatever is due, meanwhile.
static void *
s_sender (void *arg)
{
    s_sender_arg_t *self = (s_sender_arg_t *) arg;
    enp_event_t *due [64];
    int64_t now = 0;
    while (!__atomic_load_n (self->stop, __ATOMIC_ACQUIRE)) {
        size_t count = enp_store_due (self->store, now++, due, 64);
        for (size_t index = 0; index < count; index++) {
            if (enp_store_mark_sent (self->store, enp_event_id (due [index]),
                                     now) == ENP_OK)
                self->sent++;
            enp_event_destroy (&due [index]);
        }
        enp_store_query_t query = { .limit = 16 };
        enp_event_t *items [16];
        size_t listed = 0;
        char next [ENP_UUID_LEN + 1];
        enp_store_list (self->store, &query, items, &listed, next);
        s_destroy_all (items, listed);
        usleep (100);           //  Like the real dispatcher, do not spin
    }
    return NULL;
}

//  8 threads insert, read and update at once; the totals add up.
START_TEST (test_enp_store_concurrency)
{
    enp_store_t *store = enp_store_new (S_THREADS * S_PER_THREAD, 1000000, 5);
    pthread_t threads [S_THREADS];
    s_worker_arg_t args [S_THREADS];
    volatile int stop = 0;
    s_sender_arg_t sender_arg = { store, &stop, 0 };
    pthread_t sender;
    ck_assert_int_eq (pthread_create (&sender, NULL, s_sender, &sender_arg), 0);
    for (unsigned long index = 0; index < S_THREADS; index++) {
        args [index] = (s_worker_arg_t) { store, index + 1, 0, 0 };
        ck_assert_int_eq (pthread_create (&threads [index], NULL, s_writer,
                                          &args [index]), 0);
    }
    unsigned long processed = 0;
    for (unsigned long index = 0; index < S_THREADS; index++) {
        pthread_join (threads [index], NULL);
        ck_assert_int_eq (args [index].errors, 0);
        processed += args [index].processed;
    }
    __atomic_store_n (&stop, 1, __ATOMIC_RELEASE);
    pthread_join (sender, NULL);

    enp_store_stats_t stats;
    enp_store_stats (store, &stats);
    ck_assert_uint_eq (stats.total, S_THREADS * S_PER_THREAD);
    ck_assert_uint_eq (stats.created_total, S_THREADS * S_PER_THREAD);
    ck_assert_uint_eq (stats.processed, processed);
    ck_assert_uint_eq (stats.processed_total, processed);
    ck_assert_uint_eq (stats.other, S_THREADS * ((S_PER_THREAD + 1) / 3));
    ck_assert_uint_eq (stats.pending + stats.queued + stats.processed
                       + stats.failed + stats.other, stats.total);
    ck_assert_uint_eq (stats.failed, 0);
    ck_assert_uint_eq (stats.evicted_total, 0);
    //  Every event of the writers is there exactly once, oldest first
    enp_store_query_t query = { .limit = 1000 };
    enp_event_t *items [1000];
    char next [ENP_UUID_LEN + 1] = "";
    char after [ENP_UUID_LEN + 1] = "";
    size_t listed = 0;
    int pages = 0;
    do {
        query.after = after [0]? after: NULL;
        size_t count = 0;
        ck_assert_int_eq (enp_store_list (store, &query, items, &count, next),
                          ENP_OK);
        listed += count;
        s_destroy_all (items, count);
        snprintf (after, sizeof after, "%s", next);
    } while (next [0] && ++pages < 100);
    ck_assert_uint_eq (listed, S_THREADS * S_PER_THREAD);
    enp_store_destroy (&store);
}
END_TEST

int
main (void)
{
    const TTest *tests [] = {
        test_enp_store_usage,
        test_enp_store_empty,
        test_enp_store_unknown_id,
        test_enp_store_get_returns_copy,
        test_enp_store_set_status,
        test_enp_store_list_paging,
        test_enp_store_list_exact_pages,
        test_enp_store_list_filters,
        test_enp_store_list_unknown_cursor,
        test_enp_store_due_order,
        test_enp_store_mark_sent_counts,
        test_enp_store_max_attempts_fail,
        test_enp_store_processed_not_redelivered,
        test_enp_store_set_pending_requeues,
        test_enp_store_requeue_bumps_generation,
        test_enp_store_eviction,
        test_enp_store_full,
        test_enp_store_duplicate_id,
        test_enp_store_next_due,
        test_enp_store_concurrency,
        NULL
    };
    return testkit_run (testkit_suite ("enp_store", 30, tests));
}
