/*  test_logger_store - the store interface, every case on every engine

    One test case (Check's TCase) per engine: each runs the same cases
    through the logger_store interface, opened with that engine's URL by
    the case's fixture. Cases that depend on what only one engine does
    (exact deadlines, eviction of a bounded memory; a schema, several
    loggers on one database) are listed for it only.

    The PostgreSQL cases run against a real cluster this suite starts in a
    temporary folder (testkit_pg) and stops at the end; each case gets a
    database of its own.

    Nothing sleeps: a case that needs a queued event to fall due uses a
    visibility timeout of 0, and one that needs it not to uses an hour.
*/
#include <check.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "logger_store.h"
#include "testkit.h"
#include "testkit_pg.h"
#include <libpq-fe.h>

#define S_HOUR_MS   3600000     //  a visibility timeout no case outlives

//  The URL the running case opens, set by its engine's fixture.
static const char *s_url = "memory";
static char s_pg_url [512];
static char s_pg_database [64];

//  The cluster of the PostgreSQL cases, started by main.
static testkit_pg_t *s_pg;

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

//  Open the case's engine with these options.
static logger_store_t *
s_store_with (const logger_store_options_t *options)
{
    logger_store_t *store = logger_store_new (s_url, options);
    ck_assert_ptr_nonnull (store);
    return store;
}

//  Open the case's engine with these limits.
static logger_store_t *
s_store (size_t max_events, int64_t visibility_ms, uint32_t max_attempts)
{
    logger_store_options_t options = {
        .max_events = max_events, .max_bytes = SIZE_MAX,
        .visibility_ms = visibility_ms, .max_attempts = max_attempts,
        .timeout_ms = 10000, .connections = 2, .stats_ttl_ms = 0
    };
    return s_store_with (&options);
}

//  Insert event n, which must succeed.
static void
s_insert (logger_store_t *store, unsigned long number, const char *user_id)
{
    enp_event_t *event = s_event (number, user_id);
    ck_assert_int_eq (logger_store_insert (store, &event, NULL, NULL), ENP_OK);
    ck_assert_ptr_null (event);
}

//  Return the status of an event (copied into status).
static const char *
s_status (logger_store_t *store, unsigned long number, char *status)
{
    char id [ENP_UUID_LEN + 1];
    enp_event_t *event = NULL;
    ck_assert_int_eq (logger_store_get (store, s_id (number, id), &event), ENP_OK);
    snprintf (status, ENP_STATUS_MAX + 1, "%s", enp_event_status (event));
    enp_event_destroy (&event);
    return status;
}

//  Return the attempts of an event.
static uint32_t
s_attempts (logger_store_t *store, unsigned long number)
{
    char id [ENP_UUID_LEN + 1];
    enp_event_t *event = NULL;
    ck_assert_int_eq (logger_store_get (store, s_id (number, id), &event), ENP_OK);
    uint32_t attempts = enp_event_attempts (event);
    enp_event_destroy (&event);
    return attempts;
}

//  Set an event's status, which must succeed.
static void
s_set (logger_store_t *store, unsigned long number, const char *status)
{
    char id [ENP_UUID_LEN + 1];
    ck_assert_int_eq (logger_store_set_status (store, s_id (number, id), status,
                                               NULL), ENP_OK);
}

//  Destroy count events of an array.
static void
s_destroy_all (enp_event_t **items, size_t count)
{
    for (size_t index = 0; index < count; index++)
        enp_event_destroy (&items [index]);
}

//  Claim what is due, up to max, into out; return how many.
static size_t
s_claim (logger_store_t *store, enp_event_t **out, size_t max)
{
    size_t count = 99;
    ck_assert_int_eq (logger_store_claim (store, out, max, &count), ENP_OK);
    ck_assert_uint_le (count, max);
    return count;
}

//  Claim everything due and record it sent, as the dispatcher does when
//  the broker takes it all. Returns how many were sent.
static size_t
s_deliver (logger_store_t *store)
{
    enp_event_t *due [64];
    size_t count = s_claim (store, due, 64);
    ck_assert_int_eq (logger_store_mark_sent (store, due, count), ENP_OK);
    ck_assert_int_eq (logger_store_flush (store), ENP_OK);
    s_destroy_all (due, count);
    return count;
}

//  Return the number of items of one listing page.
static size_t
s_list_count (logger_store_t *store, const logger_store_query_t *query,
              char *next)
{
    enp_event_t *items [64];
    size_t count = 0;
    ck_assert_uint_le (query->limit, 64);
    ck_assert_int_eq (logger_store_list (store, query, items, &count, next),
                      ENP_OK);
    s_destroy_all (items, count);
    return count;
}

//  Assert the store's counts by status and its processed counter.
static void
s_assert_counts (logger_store_t *store, size_t pending, size_t queued,
                 size_t processed, size_t failed, size_t other,
                 uint64_t processed_total)
{
    logger_store_stats_t stats;
    logger_store_stats (store, &stats);
    ck_assert_uint_eq (stats.pending, pending);
    ck_assert_uint_eq (stats.queued, queued);
    ck_assert_uint_eq (stats.processed, processed);
    ck_assert_uint_eq (stats.failed, failed);
    ck_assert_uint_eq (stats.other, other);
    ck_assert_uint_eq (stats.total, pending + queued + processed + failed + other);
    ck_assert_uint_eq (stats.processed_total, processed_total);
}

//  Usage: every method once.
START_TEST (test_logger_store_usage)
{
    logger_store_t *store = s_store (10, S_HOUR_MS, 3);
    enp_event_t *event = s_event (1, "alice");
    ck_assert_int_eq (logger_store_insert (store, &event, NULL, NULL), ENP_OK);
    ck_assert_ptr_null (event);
    char id [ENP_UUID_LEN + 1];
    s_id (1, id);

    enp_event_t *copy = NULL;
    ck_assert_int_eq (logger_store_get (store, id, &copy), ENP_OK);
    ck_assert_str_eq (enp_event_id (copy), id);
    ck_assert_str_eq (enp_event_user_id (copy), "alice");
    ck_assert_str_eq (enp_event_description (copy), "event 1");
    ck_assert_str_eq (enp_event_status (copy), ENP_STATUS_PENDING);
    ck_assert_int_eq (enp_event_created_at (copy), 1700000000001LL);
    enp_event_destroy (&copy);

    ck_assert_int_eq (logger_store_next_due (store), 0);
    enp_event_t *due [4];
    ck_assert_uint_eq (s_claim (store, due, 4), 1);
    ck_assert_str_eq (enp_event_id (due [0]), id);
    ck_assert_int_eq (logger_store_mark_sent (store, due, 1), ENP_OK);
    ck_assert_int_eq (logger_store_flush (store), ENP_OK);
    enp_event_destroy (&due [0]);
    ck_assert_int_gt (logger_store_next_due (store), 0);

    ck_assert_int_eq (logger_store_set_status (store, id, ENP_STATUS_PROCESSED,
                                               &copy), ENP_OK);
    ck_assert_str_eq (enp_event_status (copy), ENP_STATUS_PROCESSED);
    ck_assert_uint_eq (enp_event_attempts (copy), 1);
    enp_event_destroy (&copy);

    logger_store_query_t query = { .limit = 10 };
    enp_event_t *items [10];
    size_t count = 0;
    char next [ENP_UUID_LEN + 1];
    ck_assert_int_eq (logger_store_list (store, &query, items, &count, next),
                      ENP_OK);
    ck_assert_uint_eq (count, 1);
    ck_assert_str_eq (next, "");
    s_destroy_all (items, count);

    logger_store_stats_t stats;
    logger_store_stats (store, &stats);
    ck_assert_uint_eq (stats.total, 1);
    ck_assert_uint_eq (stats.processed, 1);
    ck_assert_uint_eq (stats.created_total, 1);
    ck_assert_uint_eq (stats.processed_total, 1);
    ck_assert_ptr_null (logger_store_problem (store));
    ck_assert_ptr_nonnull (logger_store_engine (store));
    logger_store_destroy (&store);
    ck_assert_ptr_null (store);
    logger_store_destroy (&store);
}
END_TEST

//  A fresh store is empty, its counters are zero, nothing is due.
START_TEST (test_logger_store_empty)
{
    logger_store_t *store = s_store (5, 1000, 3);
    logger_store_stats_t stats;
    memset (&stats, 0xff, sizeof stats);
    logger_store_stats (store, &stats);
    ck_assert_uint_eq (stats.total, 0);
    ck_assert_uint_eq (stats.pending + stats.queued + stats.processed
                       + stats.failed + stats.other, 0);
    ck_assert_uint_eq (stats.created_total + stats.processed_total
                       + stats.failed_total + stats.redelivered_total
                       + stats.evicted_processed_total
                       + stats.evicted_failed_total, 0);
    enp_event_t *due [2];
    ck_assert_uint_eq (s_claim (store, due, 2), 0);
    ck_assert_int_gt (logger_store_next_due (store), 0);
    logger_store_destroy (&store);
}
END_TEST

//  Unknown ids: get and set_status say ENP_ENOTFOUND.
START_TEST (test_logger_store_unknown_id)
{
    logger_store_t *store = s_store (5, 1000, 3);
    s_insert (store, 1, "alice");
    char id [ENP_UUID_LEN + 1];
    enp_event_t *event = NULL;
    ck_assert_int_eq (logger_store_get (store, s_id (2, id), &event),
                      ENP_ENOTFOUND);
    ck_assert_ptr_null (event);
    ck_assert_int_eq (logger_store_set_status (store, id, ENP_STATUS_PROCESSED,
                                               &event), ENP_ENOTFOUND);
    ck_assert_ptr_null (event);
    ck_assert_int_eq (logger_store_set_status (store, id, ENP_STATUS_PROCESSED,
                                               NULL), ENP_ENOTFOUND);
    logger_store_stats_t stats;
    logger_store_stats (store, &stats);
    ck_assert_uint_eq (stats.total, 1);
    ck_assert_uint_eq (stats.processed_total, 0);
    logger_store_destroy (&store);
}
END_TEST

//  get returns a copy: changing or freeing it leaves the store alone.
START_TEST (test_logger_store_get_returns_copy)
{
    logger_store_t *store = s_store (5, 1000, 3);
    s_insert (store, 1, "alice");
    char id [ENP_UUID_LEN + 1];
    enp_event_t *first = NULL, *second = NULL;
    ck_assert_int_eq (logger_store_get (store, s_id (1, id), &first), ENP_OK);
    enp_event_set_status (first, "tampered", 1);
    ck_assert_int_eq (logger_store_get (store, id, &second), ENP_OK);
    ck_assert_ptr_ne (first, second);
    ck_assert_str_eq (enp_event_status (second), ENP_STATUS_PENDING);
    enp_event_destroy (&first);
    enp_event_destroy (&second);
    logger_store_destroy (&store);
}
END_TEST

//  Strings survive the store byte for byte: UTF-8, quotes, controls.
START_TEST (test_logger_store_strings)
{
    logger_store_t *store = s_store (5, 1000, 3);
    const char *user = "\xc3\xa9l\xc3\xa8ve \"O'Brien\"";
    const char *description = "line\nnext\ttab \\ back \x01 \xe2\x82\xac end";
    enp_event_t *event = enp_event_new ("00000000-0000-4000-8000-0000000000aa",
                                        user, description, 1700000000123LL);
    ck_assert_int_eq (logger_store_insert (store, &event, NULL, NULL), ENP_OK);
    ck_assert_int_eq (logger_store_get (store, "00000000-0000-4000-8000-0000000000aa",
                                        &event), ENP_OK);
    ck_assert_str_eq (enp_event_user_id (event), user);
    ck_assert_str_eq (enp_event_description (event), description);
    ck_assert_int_eq (enp_event_created_at (event), 1700000000123LL);
    enp_event_destroy (&event);
    logger_store_destroy (&store);
}
END_TEST

//  set_status: statuses, counters and the returned copy.
START_TEST (test_logger_store_set_status)
{
    logger_store_t *store = s_store (10, 1000, 3);
    for (unsigned long number = 1; number <= 4; number++)
        s_insert (store, number, "alice");
    char id [ENP_UUID_LEN + 1];
    char status [ENP_STATUS_MAX + 1];
    enp_event_t *copy = NULL;
    ck_assert_int_eq (logger_store_set_status (store, s_id (1, id),
                                               ENP_STATUS_PROCESSED, &copy),
                      ENP_OK);
    ck_assert_str_eq (enp_event_status (copy), ENP_STATUS_PROCESSED);
    ck_assert_int_ge (enp_event_updated_at (copy), enp_event_created_at (copy));
    enp_event_destroy (&copy);
    //  Processed twice counts once
    s_set (store, 1, ENP_STATUS_PROCESSED);
    s_set (store, 2, "archived");
    ck_assert_str_eq (s_status (store, 2, status), "archived");
    s_set (store, 3, ENP_STATUS_FAILED);
    s_assert_counts (store, 1, 0, 1, 1, 1, 1);

    //  A failed event a worker reports after all leaves "failed"
    s_set (store, 3, ENP_STATUS_PROCESSED);
    s_assert_counts (store, 1, 0, 2, 0, 1, 2);
    logger_store_destroy (&store);
}
END_TEST

//  Listing is oldest first; the cursor pages through everything once.
START_TEST (test_logger_store_list_paging)
{
    logger_store_t *store = s_store (100, 1000, 3);
    for (unsigned long number = 1; number <= 25; number++)
        s_insert (store, number, number % 2? "alice": "bob");
    enp_event_t *items [10];
    char next [ENP_UUID_LEN + 1] = "";
    char after [ENP_UUID_LEN + 1] = "";
    unsigned long expected = 1;
    int pages = 0;
    do {
        logger_store_query_t query = { .limit = 10, .after = pages? after: NULL };
        size_t count = 0;
        ck_assert_int_eq (logger_store_list (store, &query, items, &count, next),
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
    logger_store_destroy (&store);
}
END_TEST

//  When the last page is exactly full, no empty page follows.
START_TEST (test_logger_store_list_exact_pages)
{
    logger_store_t *store = s_store (100, 1000, 3);
    for (unsigned long number = 1; number <= 20; number++)
        s_insert (store, number, "alice");
    char next [ENP_UUID_LEN + 1];
    logger_store_query_t query = { .limit = 10 };
    ck_assert_uint_eq (s_list_count (store, &query, next), 10);
    ck_assert_str_ne (next, "");
    char after [ENP_UUID_LEN + 1];
    snprintf (after, sizeof after, "%s", next);
    query.after = after;
    ck_assert_uint_eq (s_list_count (store, &query, next), 10);
    ck_assert_str_eq (next, "");
    //  After the newest event: an empty page and no cursor
    char id [ENP_UUID_LEN + 1];
    query.after = s_id (20, id);
    ck_assert_uint_eq (s_list_count (store, &query, next), 0);
    ck_assert_str_eq (next, "");
    logger_store_destroy (&store);
}
END_TEST

//  Filters by status and user, alone and together, with paging.
START_TEST (test_logger_store_list_filters)
{
    logger_store_t *store = s_store (100, 1000, 3);
    char id [ENP_UUID_LEN + 1];
    for (unsigned long number = 1; number <= 12; number++) {
        s_insert (store, number, number % 3 == 0? "bob": "alice");
        if (number % 2 == 0)
            s_set (store, number, ENP_STATUS_PROCESSED);
    }
    enp_event_t *items [20];
    char next [ENP_UUID_LEN + 1];
    size_t count = 0;

    logger_store_query_t query = { .status = ENP_STATUS_PROCESSED, .limit = 20 };
    ck_assert_int_eq (logger_store_list (store, &query, items, &count, next),
                      ENP_OK);
    ck_assert_uint_eq (count, 6);
    for (size_t index = 0; index < count; index++)
        ck_assert_str_eq (enp_event_status (items [index]), ENP_STATUS_PROCESSED);
    s_destroy_all (items, count);

    query = (logger_store_query_t) { .user_id = "bob", .limit = 20 };
    ck_assert_int_eq (logger_store_list (store, &query, items, &count, next),
                      ENP_OK);
    ck_assert_uint_eq (count, 4);          //  3, 6, 9, 12
    ck_assert_str_eq (enp_event_id (items [0]), s_id (3, id));
    ck_assert_str_eq (enp_event_id (items [3]), s_id (12, id));
    ck_assert_str_eq (next, "");
    s_destroy_all (items, count);

    query = (logger_store_query_t) { .user_id = "bob",
                                     .status = ENP_STATUS_PROCESSED, .limit = 20 };
    ck_assert_int_eq (logger_store_list (store, &query, items, &count, next),
                      ENP_OK);
    ck_assert_uint_eq (count, 2);          //  6, 12
    ck_assert_str_eq (enp_event_id (items [0]), s_id (6, id));
    ck_assert_str_eq (enp_event_id (items [1]), s_id (12, id));
    s_destroy_all (items, count);

    query = (logger_store_query_t) { .user_id = "nobody", .limit = 20 };
    ck_assert_uint_eq (s_list_count (store, &query, next), 0);
    ck_assert_str_eq (next, "");

    //  Filtered paging, two at a time, collects alice's pending events
    unsigned long seen [12];
    size_t total = 0;
    char after [ENP_UUID_LEN + 1] = "";
    int pages = 0;
    do {
        query = (logger_store_query_t) { .user_id = "alice",
                                         .status = ENP_STATUS_PENDING, .limit = 2,
                                         .after = after [0]? after: NULL };
        ck_assert_int_eq (logger_store_list (store, &query, items, &count, next),
                          ENP_OK);
        ck_assert_uint_le (count, 2);
        for (size_t index = 0; index < count && total < 12; index++) {
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
    logger_store_destroy (&store);
}
END_TEST

//  A cursor that names no event is ENP_ENOTFOUND.
START_TEST (test_logger_store_list_unknown_cursor)
{
    logger_store_t *store = s_store (10, 1000, 3);
    s_insert (store, 1, "alice");
    char id [ENP_UUID_LEN + 1];
    logger_store_query_t query = { .limit = 10, .after = s_id (99, id) };
    enp_event_t *items [10];
    size_t count = 7;
    char next [ENP_UUID_LEN + 1] = "junk";
    ck_assert_int_eq (logger_store_list (store, &query, items, &count, next),
                      ENP_ENOTFOUND);
    ck_assert_uint_eq (count, 0);
    ck_assert_str_eq (next, "");
    logger_store_destroy (&store);
}
END_TEST

//  claim: pending events in order, then queued ones whose timeout passed.
START_TEST (test_logger_store_claim_order)
{
    logger_store_t *store = s_store (10, 0, 5);
    char id [ENP_UUID_LEN + 1];
    enp_event_t *due [10];
    for (unsigned long number = 1; number <= 3; number++)
        s_insert (store, number, "alice");
    size_t count = s_claim (store, due, 10);
    ck_assert_uint_eq (count, 3);
    for (size_t index = 0; index < count; index++) {
        ck_assert_str_eq (enp_event_id (due [index]), s_id (index + 1, id));
        ck_assert_str_eq (enp_event_status (due [index]), ENP_STATUS_PENDING);
        ck_assert_uint_eq (enp_event_attempts (due [index]), 0);
    }
    ck_assert_int_eq (logger_store_mark_sent (store, due, count), ENP_OK);
    ck_assert_int_eq (logger_store_flush (store), ENP_OK);
    s_destroy_all (due, count);
    //  With a visibility timeout of 0 they are due again at once, as
    //  queued events on their second attempt
    count = s_claim (store, due, 10);
    ck_assert_uint_eq (count, 3);
    for (size_t index = 0; index < count; index++) {
        ck_assert_str_eq (enp_event_id (due [index]), s_id (index + 1, id));
        ck_assert_str_eq (enp_event_status (due [index]), ENP_STATUS_QUEUED);
        ck_assert_uint_eq (enp_event_attempts (due [index]), 1);
    }
    s_destroy_all (due, count);
    logger_store_destroy (&store);
}
END_TEST

//  A claimed event is leased: not claimed again until sent or released;
//  a released one is due again at once, as it was.
START_TEST (test_logger_store_claim_lease)
{
    logger_store_t *store = s_store (10, S_HOUR_MS, 5);
    for (unsigned long number = 1; number <= 4; number++)
        s_insert (store, number, "alice");
    enp_event_t *first [4], *second [4];
    //  max bounds the answer
    ck_assert_uint_eq (s_claim (store, first, 2), 2);
    ck_assert_uint_eq (s_claim (store, second, 4), 2);
    char id [ENP_UUID_LEN + 1];
    ck_assert_str_eq (enp_event_id (second [0]), s_id (3, id));
    ck_assert_str_eq (enp_event_id (second [1]), s_id (4, id));
    enp_event_t *none [4];
    ck_assert_uint_eq (s_claim (store, none, 4), 0);
    //  Claimed events still read as pending
    char status [ENP_STATUS_MAX + 1];
    ck_assert_str_eq (s_status (store, 1, status), ENP_STATUS_PENDING);
    logger_store_stats_t stats;
    logger_store_stats (store, &stats);
    ck_assert_uint_eq (stats.pending, 4);

    //  The broker refused 3 and 4: released, they come back as they were
    ck_assert_int_eq (logger_store_mark_sent (store, first, 2), ENP_OK);
    ck_assert_int_eq (logger_store_flush (store), ENP_OK);
    ck_assert_int_eq (logger_store_release (store, second, 2), ENP_OK);
    s_destroy_all (first, 2);
    s_destroy_all (second, 2);
    ck_assert_int_eq (logger_store_next_due (store), 0);
    ck_assert_uint_eq (s_claim (store, second, 4), 2);
    ck_assert_str_eq (enp_event_id (second [0]), s_id (3, id));
    ck_assert_str_eq (enp_event_status (second [0]), ENP_STATUS_PENDING);
    ck_assert_uint_eq (enp_event_attempts (second [0]), 0);
    ck_assert_int_eq (logger_store_release (store, second, 2), ENP_OK);
    s_destroy_all (second, 2);
    ck_assert_uint_eq (s_attempts (store, 3), 0);
    ck_assert_str_eq (s_status (store, 3, status), ENP_STATUS_PENDING);
    ck_assert_str_eq (s_status (store, 1, status), ENP_STATUS_QUEUED);
    logger_store_stats (store, &stats);
    ck_assert_uint_eq (stats.pending, 2);
    ck_assert_uint_eq (stats.queued, 2);
    logger_store_destroy (&store);
}
END_TEST

//  A released redelivery keeps its attempts and is due again at once.
START_TEST (test_logger_store_release_queued)
{
    logger_store_t *store = s_store (10, 0, 5);
    s_insert (store, 1, "alice");
    ck_assert_uint_eq (s_deliver (store), 1);
    enp_event_t *due [2];
    ck_assert_uint_eq (s_claim (store, due, 2), 1);
    ck_assert_str_eq (enp_event_status (due [0]), ENP_STATUS_QUEUED);
    ck_assert_int_eq (logger_store_release (store, due, 1), ENP_OK);
    enp_event_destroy (&due [0]);
    ck_assert_uint_eq (s_attempts (store, 1), 1);
    ck_assert_uint_eq (s_claim (store, due, 2), 1);
    ck_assert_uint_eq (enp_event_attempts (due [0]), 1);
    ck_assert_int_eq (logger_store_mark_sent (store, due, 1), ENP_OK);
    ck_assert_int_eq (logger_store_flush (store), ENP_OK);
    enp_event_destroy (&due [0]);
    ck_assert_uint_eq (s_attempts (store, 1), 2);
    logger_store_stats_t stats;
    logger_store_stats (store, &stats);
    ck_assert_uint_eq (stats.redelivered_total, 1);
    logger_store_destroy (&store);
}
END_TEST

//  mark_sent counts attempts; every send after the first is a redelivery.
START_TEST (test_logger_store_mark_sent_counts)
{
    logger_store_t *store = s_store (10, 0, 10);
    s_insert (store, 1, "alice");
    char status [ENP_STATUS_MAX + 1];
    ck_assert_uint_eq (s_deliver (store), 1);
    ck_assert_uint_eq (s_attempts (store, 1), 1);
    ck_assert_str_eq (s_status (store, 1, status), ENP_STATUS_QUEUED);
    ck_assert_uint_eq (s_deliver (store), 1);
    ck_assert_uint_eq (s_deliver (store), 1);
    ck_assert_uint_eq (s_attempts (store, 1), 3);
    s_insert (store, 2, "alice");
    ck_assert_uint_eq (s_deliver (store), 2);
    logger_store_stats_t stats;
    logger_store_stats (store, &stats);
    ck_assert_uint_eq (stats.redelivered_total, 3);
    ck_assert_uint_eq (stats.queued, 2);
    ck_assert_uint_eq (stats.pending, 0);
    logger_store_destroy (&store);
}
END_TEST

//  After max_attempts sends without a report an event fails for good.
START_TEST (test_logger_store_max_attempts_fail)
{
    logger_store_t *store = s_store (10, 0, 2);
    s_insert (store, 1, "alice");
    s_insert (store, 2, "alice");
    char id [ENP_UUID_LEN + 1];
    char status [ENP_STATUS_MAX + 1];
    ck_assert_uint_eq (s_deliver (store), 2);
    //  Event 2 is reported in time; event 1 comes back for attempt 2
    s_set (store, 2, ENP_STATUS_PROCESSED);
    enp_event_t *due [4];
    size_t count = s_claim (store, due, 4);
    ck_assert_uint_eq (count, 1);
    ck_assert_str_eq (enp_event_id (due [0]), s_id (1, id));
    ck_assert_int_eq (logger_store_mark_sent (store, due, count), ENP_OK);
    ck_assert_int_eq (logger_store_flush (store), ENP_OK);
    s_destroy_all (due, count);
    //  Its timeout passes again: it has had its two attempts
    ck_assert_uint_eq (s_claim (store, due, 4), 0);
    ck_assert_str_eq (s_status (store, 1, status), ENP_STATUS_FAILED);
    ck_assert_uint_eq (s_attempts (store, 1), 2);
    logger_store_stats_t stats;
    logger_store_stats (store, &stats);
    ck_assert_uint_eq (stats.failed, 1);
    ck_assert_uint_eq (stats.failed_total, 1);
    ck_assert_uint_eq (stats.queued, 0);
    ck_assert_uint_eq (stats.processed, 1);
    ck_assert_uint_eq (stats.redelivered_total, 1);
    //  Failed events are never due again
    ck_assert_uint_eq (s_claim (store, due, 4), 0);
    logger_store_stats (store, &stats);
    ck_assert_uint_eq (stats.failed_total, 1);
    //  The dead letters can be listed
    logger_store_query_t query = { .status = ENP_STATUS_FAILED, .limit = 10 };
    enp_event_t *items [10];
    char next [ENP_UUID_LEN + 1];
    ck_assert_int_eq (logger_store_list (store, &query, items, &count, next),
                      ENP_OK);
    ck_assert_uint_eq (count, 1);
    ck_assert_str_eq (enp_event_id (items [0]), s_id (1, id));
    s_destroy_all (items, count);
    logger_store_destroy (&store);
}
END_TEST

//  A processed event is not redelivered, and a late mark_sent keeps it so.
START_TEST (test_logger_store_processed_not_redelivered)
{
    logger_store_t *store = s_store (10, 0, 5);
    s_insert (store, 1, "alice");
    char status [ENP_STATUS_MAX + 1];
    enp_event_t *due [4];
    size_t count = s_claim (store, due, 4);
    ck_assert_uint_eq (count, 1);
    //  The worker reports before the dispatcher records the send
    s_set (store, 1, ENP_STATUS_PROCESSED);
    ck_assert_int_eq (logger_store_mark_sent (store, due, count), ENP_OK);
    ck_assert_int_eq (logger_store_flush (store), ENP_OK);
    s_destroy_all (due, count);
    ck_assert_str_eq (s_status (store, 1, status), ENP_STATUS_PROCESSED);
    //  The send did happen, so it counts; the status stays processed
    ck_assert_uint_eq (s_attempts (store, 1), 1);
    ck_assert_uint_eq (s_claim (store, due, 4), 0);

    //  The usual order: sent, then reported
    s_insert (store, 2, "alice");
    ck_assert_uint_eq (s_deliver (store), 1);
    s_set (store, 2, ENP_STATUS_PROCESSED);
    ck_assert_uint_eq (s_claim (store, due, 4), 0);
    logger_store_stats_t stats;
    logger_store_stats (store, &stats);
    ck_assert_uint_eq (stats.processed_total, 2);
    ck_assert_uint_eq (stats.redelivered_total, 0);
    ck_assert_uint_eq (stats.queued + stats.pending, 0);
    logger_store_destroy (&store);
}
END_TEST

//  Setting "pending" again makes an event due at once.
START_TEST (test_logger_store_set_pending_requeues)
{
    logger_store_t *store = s_store (10, S_HOUR_MS, 5);
    s_insert (store, 1, "alice");
    enp_event_t *due [4];
    ck_assert_uint_eq (s_deliver (store), 1);
    ck_assert_uint_eq (s_claim (store, due, 4), 0);
    s_set (store, 1, ENP_STATUS_PENDING);
    ck_assert_int_eq (logger_store_next_due (store), 0);
    size_t count = s_claim (store, due, 4);
    ck_assert_uint_eq (count, 1);
    ck_assert_str_eq (enp_event_status (due [0]), ENP_STATUS_PENDING);
    ck_assert_uint_eq (enp_event_attempts (due [0]), 1);
    s_destroy_all (due, count);
    logger_store_destroy (&store);
}
END_TEST

//  Only a change to "pending" bumps the delivery generation: sending,
//  redelivery after the visibility timeout and other statuses keep it.
START_TEST (test_logger_store_requeue_bumps_generation)
{
    logger_store_t *store = s_store (10, 0, 50);
    s_insert (store, 1, "alice");
    char id [ENP_UUID_LEN + 1];
    s_id (1, id);
    enp_event_t *due [4];
    size_t count = s_claim (store, due, 4);
    ck_assert_uint_eq (count, 1);
    ck_assert_uint_eq (enp_event_generation (due [0]), 0);
    ck_assert_int_eq (logger_store_mark_sent (store, due, count), ENP_OK);
    s_destroy_all (due, count);
    //  Timed out (a visibility timeout of 0): the same generation
    count = s_claim (store, due, 4);
    ck_assert_uint_eq (count, 1);
    ck_assert_uint_eq (enp_event_generation (due [0]), 0);
    ck_assert_int_eq (logger_store_mark_sent (store, due, count), ENP_OK);
    s_destroy_all (due, count);
    enp_event_t *event = NULL;
    ck_assert_int_eq (logger_store_set_status (store, id, ENP_STATUS_PROCESSED,
                                               &event), ENP_OK);
    ck_assert_uint_eq (enp_event_generation (event), 0);
    enp_event_destroy (&event);
    ck_assert_int_eq (logger_store_set_status (store, id, ENP_STATUS_PENDING,
                                               &event), ENP_OK);
    ck_assert_uint_eq (enp_event_generation (event), 1);
    enp_event_destroy (&event);
    count = s_claim (store, due, 4);
    ck_assert_uint_eq (count, 1);
    ck_assert_uint_eq (enp_event_generation (due [0]), 1);
    ck_assert_int_eq (logger_store_release (store, due, count), ENP_OK);
    s_destroy_all (due, count);
    s_set (store, 1, ENP_STATUS_PENDING);
    s_set (store, 1, "archived");
    ck_assert_int_eq (logger_store_get (store, id, &event), ENP_OK);
    ck_assert_uint_eq (enp_event_generation (event), 2);
    enp_event_destroy (&event);
    logger_store_destroy (&store);
}
END_TEST

//  set_status_many: each item as set_status would do it, results in
//  order: found and unknown ids, a processed and a pending item in one
//  call (the pending one bumps its generation and is due again), the same
//  id twice, and a new event reported before it was sent (not sent then).
START_TEST (test_logger_store_set_status_many)
{
    logger_store_t *store = s_store (10, S_HOUR_MS, 5);
    for (unsigned long number = 1; number <= 4; number++)
        s_insert (store, number, "alice");
    ck_assert_uint_eq (s_deliver (store), 4);
    s_insert (store, 5, "alice");
    char ids [7][ENP_UUID_LEN + 1];
    const unsigned long numbers [] = { 1, 99, 2, 0, 3, 1, 5 };
    const char *statuses [] = {
        ENP_STATUS_PROCESSED, ENP_STATUS_PROCESSED, ENP_STATUS_PENDING,
        ENP_STATUS_PROCESSED, "archived", ENP_STATUS_PROCESSED,
        ENP_STATUS_PROCESSED
    };
    const enp_status_t expected [] = {
        ENP_OK, ENP_ENOTFOUND, ENP_OK, ENP_ENOTFOUND, ENP_OK, ENP_OK, ENP_OK
    };
    logger_store_update_t updates [7];
    for (size_t index = 0; index < 7; index++) {
        s_id (numbers [index], ids [index]);
        updates [index] = (logger_store_update_t) {
            .event_id = ids [index], .status = statuses [index],
            .result = ENP_EIO
        };
    }
    updates [3].event_id = "not-a-uuid";
    logger_store_set_status_many (store, updates, 7);
    for (size_t index = 0; index < 7; index++) {
        ck_assert_int_eq (updates [index].result, expected [index]);
        enp_event_t *event = updates [index].event;
        if (expected [index] != ENP_OK) {
            ck_assert_ptr_null (event);
            continue;
        }
        ck_assert_ptr_nonnull (event);
        ck_assert_str_eq (enp_event_id (event), ids [index]);
        ck_assert_str_eq (enp_event_status (event), statuses [index]);
        ck_assert_uint_eq (enp_event_generation (event),
                           numbers [index] == 2? 1: 0);
        enp_event_destroy (&updates [index].event);
    }
    //  Processed twice counts once: 1 and 5 once each
    s_assert_counts (store, 1, 1, 2, 0, 1, 2);
    //  Only the re-queued event is due: not event 5, reported before its send
    ck_assert_int_eq (logger_store_next_due (store), 0);
    enp_event_t *due [4];
    size_t count = s_claim (store, due, 4);
    ck_assert_uint_eq (count, 1);
    ck_assert_str_eq (enp_event_id (due [0]), ids [2]);
    ck_assert_uint_eq (enp_event_generation (due [0]), 1);
    s_destroy_all (due, count);
    logger_store_destroy (&store);
}
END_TEST

//  Idempotency-Key: the same key and body gives back the first event and
//  adds nothing; the same key with another body is ENP_EINVAL.
START_TEST (test_logger_store_idempotency_key)
{
    logger_store_t *store = s_store (10, S_HOUR_MS, 5);
    enp_event_t *event = s_event (1, "alice");
    enp_event_t *replay = NULL;
    ck_assert_int_eq (logger_store_insert (store, &event, "order-1", &replay),
                      ENP_OK);
    ck_assert_ptr_null (event);
    ck_assert_ptr_null (replay);
    s_set (store, 1, ENP_STATUS_PROCESSED);

    //  A retry: another id, same body, same key
    event = enp_event_new ("00000000-0000-4000-8000-0000000000f1", "alice",
                           "event 1", 1700000009999LL);
    ck_assert_int_eq (logger_store_insert (store, &event, "order-1", &replay),
                      ENP_OK);
    ck_assert_ptr_nonnull (event);          //  still the caller's
    ck_assert_ptr_nonnull (replay);
    char id [ENP_UUID_LEN + 1];
    ck_assert_str_eq (enp_event_id (replay), s_id (1, id));
    ck_assert_str_eq (enp_event_status (replay), ENP_STATUS_PROCESSED);
    enp_event_destroy (&replay);

    //  The same key with a different body
    enp_event_t *other = enp_event_new ("00000000-0000-4000-8000-0000000000f2",
                                        "alice", "something else", 1);
    ck_assert_int_eq (logger_store_insert (store, &other, "order-1", &replay),
                      ENP_EINVAL);
    ck_assert_ptr_nonnull (other);
    ck_assert_ptr_null (replay);
    enp_event_destroy (&other);

    //  Keys are independent of each other and of key-less events
    ck_assert_int_eq (logger_store_insert (store, &event, "order-2", &replay),
                      ENP_OK);
    ck_assert_ptr_null (event);
    ck_assert_ptr_null (replay);
    s_insert (store, 3, "alice");
    logger_store_stats_t stats;
    logger_store_stats (store, &stats);
    ck_assert_uint_eq (stats.total, 3);
    ck_assert_uint_eq (stats.created_total, 3);
    logger_store_destroy (&store);
}
END_TEST

//  The same id twice is refused; the caller keeps the second event.
START_TEST (test_logger_store_duplicate_id)
{
    logger_store_t *store = s_store (10, 1000, 5);
    s_insert (store, 1, "alice");
    enp_event_t *event = s_event (1, "mallory");
    ck_assert_int_ne (logger_store_insert (store, &event, NULL, NULL), ENP_OK);
    ck_assert_ptr_nonnull (event);
    enp_event_destroy (&event);
    char id [ENP_UUID_LEN + 1];
    ck_assert_int_eq (logger_store_get (store, s_id (1, id), &event), ENP_OK);
    ck_assert_str_eq (enp_event_user_id (event), "alice");
    enp_event_destroy (&event);
    logger_store_stats_t stats;
    logger_store_stats (store, &stats);
    ck_assert_uint_eq (stats.total, 1);
    ck_assert_uint_eq (stats.created_total, 1);
    logger_store_destroy (&store);
}
END_TEST

//  Make events first .. first + count - 1 into events.
static void
s_events (enp_event_t **events, unsigned long first, size_t count)
{
    for (size_t index = 0; index < count; index++)
        events [index] = s_event (first + index, "bulk");
}

//  A batch goes in whole: every event stored, in order, handed to the
//  dispatcher like single inserts, and the store owns them all.
START_TEST (test_logger_store_insert_many)
{
    logger_store_t *store = s_store (100, S_HOUR_MS, 5);
    s_insert (store, 1, "alice");
    enp_event_t *batch [3];
    s_events (batch, 10, 3);
    ck_assert_int_eq (logger_store_insert_many (store, batch, 3), ENP_OK);
    for (size_t index = 0; index < 3; index++)
        ck_assert_ptr_null (batch [index]);
    enp_event_t *items [8];
    size_t count = 0;
    char next [ENP_UUID_LEN + 1], id [ENP_UUID_LEN + 1];
    logger_store_query_t query = { .limit = 8 };
    ck_assert_int_eq (logger_store_list (store, &query, items, &count, next),
                      ENP_OK);
    ck_assert_uint_eq (count, 4);
    for (size_t index = 1; index < 4; index++) {
        ck_assert_str_eq (enp_event_id (items [index]), s_id (9 + index, id));
        ck_assert_str_eq (enp_event_status (items [index]), ENP_STATUS_PENDING);
    }
    s_destroy_all (items, count);
    //  All four are due for the dispatcher, in creation order
    enp_event_t *due [8];
    count = s_claim (store, due, 8);
    ck_assert_uint_eq (count, 4);
    ck_assert_str_eq (enp_event_id (due [3]), s_id (12, id));
    ck_assert_int_eq (logger_store_mark_sent (store, due, count), ENP_OK);
    ck_assert_int_eq (logger_store_flush (store), ENP_OK);
    s_destroy_all (due, count);
    ck_assert_str_eq (s_status (store, 11, next), ENP_STATUS_QUEUED);
    logger_store_stats_t stats;
    logger_store_stats (store, &stats);
    ck_assert_uint_eq (stats.created_total, 4);
    ck_assert_uint_eq (stats.total, 4);
    logger_store_destroy (&store);
}
END_TEST

//  A batch with one event the store cannot take stores none of them, and
//  the caller keeps every event.
START_TEST (test_logger_store_insert_many_atomic)
{
    logger_store_t *store = s_store (100, S_HOUR_MS, 5);
    s_insert (store, 2, "alice");
    enp_event_t *batch [3];
    s_events (batch, 1, 3);         //  2 is taken
    enp_event_t *kept [3] = { batch [0], batch [1], batch [2] };
    ck_assert_int_ne (logger_store_insert_many (store, batch, 3), ENP_OK);
    char id [ENP_UUID_LEN + 1];
    for (size_t index = 0; index < 3; index++)
        ck_assert_ptr_eq (batch [index], kept [index]);
    s_destroy_all (batch, 3);
    enp_event_t *event = NULL;
    ck_assert_int_eq (logger_store_get (store, s_id (1, id), &event),
                      ENP_ENOTFOUND);
    ck_assert_int_eq (logger_store_get (store, s_id (3, id), &event),
                      ENP_ENOTFOUND);
    ck_assert_int_eq (logger_store_get (store, s_id (2, id), &event), ENP_OK);
    ck_assert_str_eq (enp_event_user_id (event), "alice");
    enp_event_destroy (&event);
    logger_store_stats_t stats;
    logger_store_stats (store, &stats);
    ck_assert_uint_eq (stats.total, 1);
    ck_assert_uint_eq (stats.created_total, 1);
    //  Only one event is due: the store's own
    enp_event_t *due [4];
    size_t count = s_claim (store, due, 4);
    ck_assert_uint_eq (count, 1);
    s_destroy_all (due, count);
    logger_store_destroy (&store);
}
END_TEST

//  A batch that does not fit is refused whole, evicting nothing; one that
//  fits once processed events go evicts just enough of them.
START_TEST (test_logger_store_insert_many_full)
{
    logger_store_t *store = s_store (5, 1000, 5);
    for (unsigned long number = 1; number <= 3; number++)
        s_insert (store, number, "alice");
    s_set (store, 1, ENP_STATUS_PROCESSED);
    enp_event_t *batch [3];
    s_events (batch, 10, 3);
    //  3 held, 1 of them processed: room for 3 only by evicting, and 3 + 3
    //  - 1 > 5 even then
    enp_event_t *four [4];
    s_events (four, 20, 4);
    ck_assert_int_eq (logger_store_insert_many (store, four, 4), ENP_EFULL);
    for (size_t index = 0; index < 4; index++)
        ck_assert_ptr_nonnull (four [index]);
    s_destroy_all (four, 4);
    logger_store_stats_t stats;
    logger_store_stats (store, &stats);
    ck_assert_uint_eq (stats.total, 3);
    ck_assert_uint_eq (stats.evicted_processed_total, 0);
    ck_assert_uint_eq (stats.created_total, 3);
    //  Three fit by evicting the processed one
    ck_assert_int_eq (logger_store_insert_many (store, batch, 3), ENP_OK);
    logger_store_stats (store, &stats);
    ck_assert_uint_eq (stats.total, 5);
    ck_assert_uint_eq (stats.evicted_processed_total, 1);
    ck_assert_uint_eq (stats.created_total, 6);
    logger_store_destroy (&store);
}
END_TEST

//  A full store makes room by evicting the oldest processed event.
START_TEST (test_logger_store_eviction)
{
    logger_store_t *store = s_store (3, 1000, 5);
    char id [ENP_UUID_LEN + 1];
    for (unsigned long number = 1; number <= 3; number++)
        s_insert (store, number, "alice");
    //  2 is processed before 1, so 2 is the oldest processed
    s_set (store, 2, ENP_STATUS_PROCESSED);
    s_set (store, 1, ENP_STATUS_PROCESSED);
    s_insert (store, 4, "alice");
    enp_event_t *event = NULL;
    ck_assert_int_eq (logger_store_get (store, s_id (2, id), &event),
                      ENP_ENOTFOUND);
    ck_assert_int_eq (logger_store_get (store, s_id (1, id), &event), ENP_OK);
    enp_event_destroy (&event);
    s_insert (store, 5, "alice");
    ck_assert_int_eq (logger_store_get (store, s_id (1, id), &event),
                      ENP_ENOTFOUND);
    logger_store_stats_t stats;
    logger_store_stats (store, &stats);
    ck_assert_uint_eq (stats.total, 3);
    ck_assert_uint_eq (stats.evicted_processed_total, 2);
    ck_assert_uint_eq (stats.processed, 0);
    ck_assert_uint_eq (stats.created_total, 5);

    //  The listing and a cursor naming an evicted event reflect it
    enp_event_t *items [5];
    size_t count = 0;
    char next [ENP_UUID_LEN + 1];
    logger_store_query_t query = { .limit = 5 };
    ck_assert_int_eq (logger_store_list (store, &query, items, &count, next),
                      ENP_OK);
    ck_assert_uint_eq (count, 3);
    ck_assert_str_eq (enp_event_id (items [0]), s_id (3, id));
    ck_assert_str_eq (enp_event_id (items [1]), s_id (4, id));
    ck_assert_str_eq (enp_event_id (items [2]), s_id (5, id));
    s_destroy_all (items, count);
    query.after = s_id (1, id);
    ck_assert_int_eq (logger_store_list (store, &query, items, &count, next),
                      ENP_ENOTFOUND);
    logger_store_destroy (&store);
}
END_TEST

//  With nothing processed, a full store refuses and the caller keeps the event.
START_TEST (test_logger_store_full)
{
    logger_store_t *store = s_store (2, 1000, 5);
    char id [ENP_UUID_LEN + 1];
    s_insert (store, 1, "alice");
    s_insert (store, 2, "alice");
    ck_assert_uint_eq (s_deliver (store), 2);
    s_set (store, 2, "archived");
    enp_event_t *event = s_event (3, "alice");
    enp_event_t *kept = event;
    ck_assert_int_eq (logger_store_insert (store, &event, NULL, NULL), ENP_EFULL);
    ck_assert_ptr_eq (event, kept);
    ck_assert_str_eq (enp_event_id (event), s_id (3, id));
    enp_event_destroy (&event);
    ck_assert_int_eq (logger_store_get (store, id, &event), ENP_ENOTFOUND);
    ck_assert_ptr_nonnull (logger_store_problem (store));
    logger_store_stats_t stats;
    logger_store_stats (store, &stats);
    ck_assert_uint_eq (stats.total, 2);
    ck_assert_uint_eq (stats.created_total, 2);
    ck_assert_uint_eq (stats.evicted_processed_total, 0);
    //  Once one is processed, there is room again
    s_set (store, 1, ENP_STATUS_PROCESSED);
    ck_assert_ptr_null (logger_store_problem (store));
    s_insert (store, 3, "alice");
    logger_store_stats (store, &stats);
    ck_assert_uint_eq (stats.evicted_processed_total, 1);
    ck_assert_uint_eq (stats.total, 2);
    logger_store_destroy (&store);
}
END_TEST

//  Failed events are evicted too, after processed ones, oldest first: a
//  flood of failures cannot fill the store for good.
START_TEST (test_logger_store_evict_failed)
{
    logger_store_t *store = s_store (3, 0, 1);
    char id [ENP_UUID_LEN + 1];
    enp_event_t *due [4];
    for (unsigned long number = 1; number <= 3; number++)
        s_insert (store, number, "alice");
    ck_assert_uint_eq (s_deliver (store), 3);
    //  3 is processed; 1 and 2 run out of their one attempt
    s_set (store, 3, ENP_STATUS_PROCESSED);
    ck_assert_uint_eq (s_claim (store, due, 4), 0);
    logger_store_stats_t stats;
    logger_store_stats (store, &stats);
    ck_assert_uint_eq (stats.failed, 2);
    //  The processed one goes first, although the failed ones are older
    s_insert (store, 4, "alice");
    enp_event_t *event = NULL;
    ck_assert_int_eq (logger_store_get (store, s_id (3, id), &event),
                      ENP_ENOTFOUND);
    //  Then the oldest failed one, then the next
    s_insert (store, 5, "alice");
    ck_assert_int_eq (logger_store_get (store, s_id (1, id), &event),
                      ENP_ENOTFOUND);
    s_insert (store, 6, "alice");
    ck_assert_int_eq (logger_store_get (store, s_id (2, id), &event),
                      ENP_ENOTFOUND);
    logger_store_stats (store, &stats);
    ck_assert_uint_eq (stats.evicted_processed_total, 1);
    ck_assert_uint_eq (stats.evicted_failed_total, 2);
    ck_assert_uint_eq (stats.failed, 0);
    ck_assert_uint_eq (stats.total, 3);
    //  Now only unprocessed events are left: full
    event = s_event (7, "alice");
    ck_assert_int_eq (logger_store_insert (store, &event, NULL, NULL), ENP_EFULL);
    enp_event_destroy (&event);
    ck_assert_ptr_nonnull (logger_store_problem (store));
    logger_store_destroy (&store);
}
END_TEST

//  The store is bounded in bytes as well as in events: big events evict
//  by size, and nothing is evicted when that would not make room.
START_TEST (test_logger_store_max_bytes)
{
    char *description = malloc (1001);
    memset (description, 'x', 1000);
    description [1000] = '\0';
    //  Learn what a big and a small event cost from a roomy store
    logger_store_options_t options = {
        .max_events = 100, .visibility_ms = S_HOUR_MS, .max_attempts = 5,
        .max_bytes = SIZE_MAX
    };
    logger_store_t *store = s_store_with (&options);
    enp_event_t *event = enp_event_new ("00000000-0000-4000-8000-0000000000b1",
                                        "alice", description, 1);
    ck_assert_int_eq (logger_store_insert (store, &event, NULL, NULL), ENP_OK);
    logger_store_stats_t stats;
    logger_store_stats (store, &stats);
    size_t big = stats.bytes;
    ck_assert_uint_gt (big, 1005);
    s_insert (store, 99, "bob");
    logger_store_stats (store, &stats);
    size_t small = stats.bytes - big;
    logger_store_destroy (&store);

    //  Room for three big events and a small one, not four big ones
    options.max_bytes = 3 * big + small;
    store = s_store_with (&options);
    char id [ENP_UUID_LEN + 1];
    for (unsigned long number = 1; number <= 3; number++) {
        enp_event_t *event = enp_event_new (s_id (number, id), "alice",
                                            description, 1);
        ck_assert_int_eq (logger_store_insert (store, &event, NULL, NULL), ENP_OK);
    }
    logger_store_stats (store, &stats);
    ck_assert_uint_eq (stats.bytes, 3 * big);
    ck_assert_uint_eq (stats.max_bytes, options.max_bytes);
    event = enp_event_new (s_id (4, id), "alice", description, 1);
    ck_assert_int_eq (logger_store_insert (store, &event, NULL, NULL), ENP_EFULL);
    //  A small event still fits
    s_insert (store, 5, "bob");
    //  With one processed, the big one evicts it
    s_set (store, 2, ENP_STATUS_PROCESSED);
    ck_assert_int_eq (logger_store_insert (store, &event, NULL, NULL), ENP_OK);
    ck_assert_int_eq (logger_store_get (store, s_id (2, id), &event),
                      ENP_ENOTFOUND);
    logger_store_stats (store, &stats);
    ck_assert_uint_eq (stats.total, 4);
    ck_assert_uint_eq (stats.evicted_processed_total, 1);
    ck_assert_uint_le (stats.bytes, options.max_bytes);
    //  Evicting the small processed one would not make room for a big one:
    //  refused, and the small one stays
    s_set (store, 5, ENP_STATUS_PROCESSED);
    event = enp_event_new (s_id (6, id), "alice", description, 1);
    ck_assert_int_eq (logger_store_insert (store, &event, NULL, NULL), ENP_EFULL);
    enp_event_destroy (&event);
    ck_assert_int_eq (logger_store_get (store, s_id (5, id), &event), ENP_OK);
    enp_event_destroy (&event);
    free (description);
    logger_store_destroy (&store);
}
END_TEST

//  A page ends early at its byte budget, with a cursor to the rest; one
//  event is returned even when it alone is over the budget.
START_TEST (test_logger_store_list_budget)
{
    logger_store_t *store = s_store (100, S_HOUR_MS, 5);
    char id [ENP_UUID_LEN + 1];
    //  Control characters take six bytes each in JSON
    char *description = malloc (2701);
    memset (description, '\x01', 2700);
    description [2700] = '\0';
    for (unsigned long number = 1; number <= 10; number++) {
        enp_event_t *event = enp_event_new (s_id (number, id), "alice",
                                            description, 1);
        ck_assert_int_eq (logger_store_insert (store, &event, NULL, NULL), ENP_OK);
    }
    free (description);
    enp_event_t *items [10];
    size_t count = 0;
    char next [ENP_UUID_LEN + 1];
    logger_store_query_t query = { .limit = 10, .max_bytes = 3 * 16500 };
    ck_assert_int_eq (logger_store_list (store, &query, items, &count, next),
                      ENP_OK);
    ck_assert_uint_eq (count, 3);
    size_t bytes = 0;
    for (size_t index = 0; index < count; index++)
        bytes += enp_event_encoded_size (items [index]) + 1;
    ck_assert_uint_le (bytes, query.max_bytes);
    ck_assert_str_eq (next, s_id (3, id));
    s_destroy_all (items, count);
    //  Paging through with the cursor sees every event once
    unsigned long seen = 3;
    char after [ENP_UUID_LEN + 1];
    while (next [0]) {
        snprintf (after, sizeof after, "%s", next);
        query.after = after;
        ck_assert_int_eq (logger_store_list (store, &query, items, &count, next),
                          ENP_OK);
        for (size_t index = 0; index < count; index++)
            ck_assert_str_eq (enp_event_id (items [index]), s_id (++seen, id));
        s_destroy_all (items, count);
    }
    ck_assert_uint_eq (seen, 10);
    //  A budget smaller than one event still returns that event
    query = (logger_store_query_t) { .limit = 10, .max_bytes = 100 };
    ck_assert_int_eq (logger_store_list (store, &query, items, &count, next),
                      ENP_OK);
    ck_assert_uint_eq (count, 1);
    ck_assert_str_eq (next, s_id (1, id));
    s_destroy_all (items, count);
    logger_store_destroy (&store);
}
END_TEST

//  next_due: 0 with a pending event, else the ms to the earliest deadline
//  (within the visibility timeout), else INT64_MAX.
START_TEST (test_logger_store_next_due)
{
    logger_store_t *store = s_store (10, S_HOUR_MS, 5);
    ck_assert_int_eq (logger_store_next_due (store), INT64_MAX);
    s_insert (store, 1, "alice");
    ck_assert_int_eq (logger_store_next_due (store), 0);
    ck_assert_uint_eq (s_deliver (store), 1);
    int64_t due = logger_store_next_due (store);
    ck_assert_int_gt (due, 0);
    ck_assert_int_le (due, S_HOUR_MS);
    s_insert (store, 2, "alice");
    ck_assert_int_eq (logger_store_next_due (store), 0);
    ck_assert_uint_eq (s_deliver (store), 1);
    ck_assert_int_le (logger_store_next_due (store), due);
    s_set (store, 1, ENP_STATUS_PROCESSED);
    s_set (store, 2, ENP_STATUS_PROCESSED);
    ck_assert_int_eq (logger_store_next_due (store), INT64_MAX);
    logger_store_destroy (&store);
}
END_TEST

//  What opening a database store did: the schema is there, recorded once,
//  and opening it again (a restart) keeps every event and its state.
START_TEST (test_logger_store_pg_schema_and_restart)
{
    logger_store_t *store = s_store (10, 0, 5);
    for (unsigned long number = 1; number <= 3; number++)
        s_insert (store, number, "alice");
    //  1 is in flight, 2 processed, 3 still pending when the logger dies
    enp_event_t *due [4];
    ck_assert_uint_eq (s_claim (store, due, 1), 1);
    ck_assert_int_eq (logger_store_mark_sent (store, due, 1), ENP_OK);
    ck_assert_int_eq (logger_store_flush (store), ENP_OK);
    enp_event_destroy (&due [0]);
    s_set (store, 2, ENP_STATUS_PROCESSED);
    logger_store_destroy (&store);
    ck_assert_int_eq (testkit_pg_count (s_pg, s_pg_database,
                      "SELECT count (*) FROM event_logger_schema"), 1);

    store = s_store (10, 0, 5);
    ck_assert_int_eq (testkit_pg_count (s_pg, s_pg_database,
                      "SELECT max (version) FROM event_logger_schema"), 1);
    char status [ENP_STATUS_MAX + 1];
    ck_assert_str_eq (s_status (store, 1, status), ENP_STATUS_QUEUED);
    ck_assert_str_eq (s_status (store, 2, status), ENP_STATUS_PROCESSED);
    ck_assert_str_eq (s_status (store, 3, status), ENP_STATUS_PENDING);
    //  The restarted logger delivers what waited: 1 again (its deadline
    //  passed), 3 for the first time
    size_t count = s_claim (store, due, 4);
    ck_assert_uint_eq (count, 2);
    ck_assert_str_eq (enp_event_user_id (due [0]), "alice");
    uint32_t attempts = enp_event_attempts (due [0]) + enp_event_attempts (due [1]);
    ck_assert_uint_eq (attempts, 1);
    s_destroy_all (due, count);
    logger_store_stats_t stats;
    logger_store_stats (store, &stats);
    ck_assert_uint_eq (stats.total, 3);
    ck_assert_uint_eq (stats.created_total, 0);     //  per process
    logger_store_destroy (&store);
}
END_TEST

typedef struct {
    logger_store_t *store;
} s_opener_t;

//  Open the case's store (run in a thread).
static void *
s_open (void *arg)
{
    s_opener_t *opener = (s_opener_t *) arg;
    logger_store_options_t options = {
        .max_events = 10, .visibility_ms = 1000, .max_attempts = 5,
        .timeout_ms = 10000, .connections = 1
    };
    opener->store = logger_store_new (s_url, &options);
    return NULL;
}

//  Loggers that start at once on an empty database apply the schema once.
START_TEST (test_logger_store_pg_concurrent_start)
{
    pthread_t threads [4];
    s_opener_t openers [4];
    for (int index = 0; index < 4; index++)
        ck_assert_int_eq (pthread_create (&threads [index], NULL, s_open,
                                          &openers [index]), 0);
    for (int index = 0; index < 4; index++)
        pthread_join (threads [index], NULL);
    for (int index = 0; index < 4; index++) {
        ck_assert_ptr_nonnull (openers [index].store);
        logger_store_destroy (&openers [index].store);
    }
    ck_assert_int_eq (testkit_pg_count (s_pg, s_pg_database,
                      "SELECT count (*) FROM event_logger_schema"), 1);
}
END_TEST

//  Two loggers on one database: each sees the other's events, a claim is
//  exclusive, and an Idempotency-Key holds across both.
START_TEST (test_logger_store_pg_two_loggers)
{
    logger_store_t *first = s_store (100, S_HOUR_MS, 5);
    logger_store_t *second = s_store (100, S_HOUR_MS, 5);
    for (unsigned long number = 1; number <= 20; number++)
        s_insert (number % 2? first: second, number, "alice");
    //  Each logger hands its new events to its own dispatcher first; the
    //  broker refuses them all, so they are due for any logger
    enp_event_t *a [32], *b [32];
    size_t from_first = s_claim (first, a, 32);
    size_t from_second = s_claim (second, b, 32);
    ck_assert_uint_eq (from_first + from_second, 20);
    ck_assert_int_eq (logger_store_release (first, a, from_first), ENP_OK);
    ck_assert_int_eq (logger_store_release (second, b, from_second), ENP_OK);
    s_destroy_all (a, from_first);
    s_destroy_all (b, from_second);
    enp_event_t *event = NULL;
    char id [ENP_UUID_LEN + 1];
    ck_assert_int_eq (logger_store_get (second, s_id (1, id), &event), ENP_OK);
    enp_event_destroy (&event);
    s_set (first, 2, ENP_STATUS_PROCESSED);
    char status [ENP_STATUS_MAX + 1];
    ck_assert_str_eq (s_status (second, 2, status), ENP_STATUS_PROCESSED);

    //  19 pending: the two claims share them out, none twice
    from_first = s_claim (first, a, 10);
    from_second = s_claim (second, b, 32);
    ck_assert_uint_eq (from_first, 10);
    ck_assert_uint_eq (from_second, 9);
    for (size_t i = 0; i < from_first; i++)
        for (size_t j = 0; j < from_second; j++)
            ck_assert_str_ne (enp_event_id (a [i]), enp_event_id (b [j]));
    ck_assert_uint_eq (s_claim (second, b + from_second, 4), 0);
    ck_assert_int_eq (logger_store_mark_sent (first, a, from_first), ENP_OK);
    ck_assert_int_eq (logger_store_flush (first), ENP_OK);
    ck_assert_int_eq (logger_store_mark_sent (second, b, from_second), ENP_OK);
    ck_assert_int_eq (logger_store_flush (second), ENP_OK);
    s_destroy_all (a, from_first);
    s_destroy_all (b, from_second);
    logger_store_stats_t stats;
    logger_store_stats (first, &stats);
    ck_assert_uint_eq (stats.queued, 19);
    ck_assert_uint_eq (stats.created_total, 10);

    //  The same key through the other logger is a retry
    event = s_event (100, "bob");
    enp_event_t *replay = NULL;
    ck_assert_int_eq (logger_store_insert (first, &event, "k-1", &replay), ENP_OK);
    event = enp_event_new ("00000000-0000-4000-8000-0000000000f1", "bob",
                           "event 100", 1);
    ck_assert_int_eq (logger_store_insert (second, &event, "k-1", &replay), ENP_OK);
    ck_assert_ptr_nonnull (replay);
    ck_assert_str_eq (enp_event_id (replay), s_id (100, id));
    enp_event_destroy (&replay);
    enp_event_destroy (&event);
    logger_store_destroy (&first);
    logger_store_destroy (&second);
}
END_TEST

//  Claim until a claim fails, as the dispatcher does every time it wakes
//  (a claim asks the database at most every 250 ms); returns the failure,
//  or ENP_OK if none came in 10 s. Events it gets are dropped.
static enp_status_t
s_claim_fails (logger_store_t *store)
{
    for (int attempt = 0; attempt < 200; attempt++) {
        enp_event_t *due [4];
        size_t count = 0;
        enp_status_t status = logger_store_claim (store, due, 4, &count);
        s_destroy_all (due, count);
        if (status != ENP_OK)
            return status;
        usleep (50000);
    }
    return ENP_OK;
}

//  A database that does not answer in time: ENP_EIO within the timeout,
//  then back to work by itself once it answers again.
START_TEST (test_logger_store_pg_slow_database)
{
    logger_store_options_t options = {
        .max_events = 10, .visibility_ms = S_HOUR_MS, .max_attempts = 5,
        .timeout_ms = 500, .connections = 1
    };
    logger_store_t *store = s_store_with (&options);
    s_insert (store, 1, "alice");
    //  Another session holds the table: every statement on it waits
    PGconn *locker = PQconnectdb (s_url);
    ck_assert_int_eq (PQstatus (locker), CONNECTION_OK);
    PQclear (PQexec (locker, "BEGIN; LOCK TABLE events IN ACCESS EXCLUSIVE MODE"));
    enp_event_t *event = s_event (2, "alice");
    ck_assert_int_eq (logger_store_insert (store, &event, NULL, NULL), ENP_EIO);
    enp_event_destroy (&event);
    char id [ENP_UUID_LEN + 1];
    ck_assert_int_eq (logger_store_get (store, s_id (1, id), &event), ENP_EIO);
    //  The dispatcher hands out its new event from memory, then asks the
    //  database (within its polling interval), which does not answer
    enp_event_t *due [2];
    size_t count = 0;
    ck_assert_int_eq (logger_store_claim (store, due, 2, &count), ENP_OK);
    s_destroy_all (due, count);
    ck_assert_int_eq (s_claim_fails (store), ENP_EIO);
    PQclear (PQexec (locker, "ROLLBACK"));
    PQfinish (locker);
    //  The writer reconnects by itself: a few tries at most
    enp_status_t status = ENP_EIO;
    for (int attempt = 0; attempt < 100 && status != ENP_OK; attempt++) {
        event = s_event (3, "alice");
        status = logger_store_insert (store, &event, NULL, NULL);
        enp_event_destroy (&event);
        if (status != ENP_OK)
            usleep (50000);
    }
    ck_assert_int_eq (status, ENP_OK);
    logger_store_destroy (&store);
}
END_TEST

//  The database goes away and comes back: ENP_EIO and a problem to show
//  while it is away, then everything works again without a restart.
START_TEST (test_logger_store_pg_database_restart)
{
    logger_store_options_t options = {
        .max_events = 10, .visibility_ms = S_HOUR_MS, .max_attempts = 5,
        .timeout_ms = 2000, .connections = 2
    };
    logger_store_t *store = s_store_with (&options);
    s_insert (store, 1, "alice");
    ck_assert_ptr_null (logger_store_problem (store));
    //  The broker refused 1: it is due in the database, for any logger
    enp_event_t *first [2];
    ck_assert_uint_eq (s_claim (store, first, 2), 1);
    ck_assert_int_eq (logger_store_release (store, first, 1), ENP_OK);
    enp_event_destroy (&first [0]);
    ck_assert_int_eq (testkit_pg_stop (s_pg), 0);
    enp_event_t *event = s_event (2, "alice");
    ck_assert_int_eq (logger_store_insert (store, &event, NULL, NULL), ENP_EIO);
    enp_event_destroy (&event);
    size_t count = 0;
    enp_event_t *due [2];
    ck_assert_int_eq (s_claim_fails (store), ENP_EIO);
    ck_assert_ptr_nonnull (logger_store_problem (store));
    ck_assert_int_eq (testkit_pg_start (s_pg), 0);
    enp_status_t status = ENP_EIO;
    for (int attempt = 0; attempt < 200 && status != ENP_OK; attempt++) {
        event = s_event (3, "alice");
        status = logger_store_insert (store, &event, NULL, NULL);
        enp_event_destroy (&event);
        if (status != ENP_OK)
            usleep (50000);
    }
    ck_assert_int_eq (status, ENP_OK);
    //  The dispatcher's connection comes back too, and 1 was kept: the
    //  claims (from memory and the database) hand out 1 and 3
    size_t total = 0;
    for (int attempt = 0; attempt < 200 && total < 2; attempt++) {
        count = 0;
        if (logger_store_claim (store, due, 2, &count) == ENP_OK)
            total += count;
        s_destroy_all (due, count);
        if (total < 2)
            usleep (50000);
    }
    ck_assert_uint_eq (total, 2);
    ck_assert_ptr_null (logger_store_problem (store));
    logger_store_destroy (&store);
}
END_TEST

//  What a dispatcher thread of s_lock_order runs: mark_sent and flush, or
//  release, of the events it is given.
typedef struct {
    logger_store_t *store;
    enp_event_t **events;
    size_t count;
    bool release;
    enp_status_t result;
} s_dispatch_arg_t;

static void *
s_dispatch (void *arg)
{
    s_dispatch_arg_t *self = (s_dispatch_arg_t *) arg;
    if (self->release)
        self->result = logger_store_release (self->store, self->events,
                                             self->count);
    else {
        self->result = logger_store_mark_sent (self->store, self->events,
                                               self->count);
        if (self->result == ENP_OK)
            self->result = logger_store_flush (self->store);
    }
    return NULL;
}

//  Lock events 1 then 2 in another session (another logger's statement,
//  in id order) while the store records the two claimed events (mark_sent
//  and flush, or release). The store must wait for event 1 holding
//  nothing; had it locked 2 first, the two sessions would deadlock and
//  PostgreSQL would abort one of them.
static void
s_lock_order (logger_store_t *store, enp_event_t **events, bool release)
{
    char first [ENP_UUID_LEN + 1], second [ENP_UUID_LEN + 1];
    char sql [160];
    PGconn *other = PQconnectdb (s_url);
    ck_assert_int_eq (PQstatus (other), CONNECTION_OK);
    PQclear (PQexec (other, "BEGIN"));
    snprintf (sql, sizeof sql, "SELECT 1 FROM events WHERE event_id = '%s'"
              " FOR NO KEY UPDATE", s_id (1, first));
    PGresult *result = PQexec (other, sql);
    ck_assert_int_eq (PQresultStatus (result), PGRES_TUPLES_OK);
    PQclear (result);

    s_dispatch_arg_t arg = { store, events, 2, release, ENP_EIO };
    pthread_t thread;
    ck_assert_int_eq (pthread_create (&thread, NULL, s_dispatch, &arg), 0);
    //  Go on once the store's statement waits for event 1
    long waiting = 0;
    for (int attempt = 0; attempt < 500 && waiting < 1; attempt++) {
        waiting = testkit_pg_count (s_pg, s_pg_database,
            "SELECT count (*) FROM pg_stat_activity WHERE datname ="
            " current_database () AND wait_event_type = 'Lock'");
        if (waiting < 1)
            usleep (20000);
    }
    ck_assert_int_eq (waiting, 1);
    snprintf (sql, sizeof sql, "SELECT 1 FROM events WHERE event_id = '%s'"
              " FOR NO KEY UPDATE", s_id (2, second));
    result = PQexec (other, sql);
    ck_assert_msg (PQresultStatus (result) == PGRES_TUPLES_OK,
                   "the other session: %s", PQerrorMessage (other));
    PQclear (result);
    result = PQexec (other, "COMMIT");
    ck_assert_int_eq (PQresultStatus (result), PGRES_COMMAND_OK);
    PQclear (result);
    PQfinish (other);
    pthread_join (thread, NULL);
    ck_assert_int_eq (arg.result, ENP_OK);
}

//  Writes of several rows lock them in id order whatever plan PostgreSQL
//  picks. The events are stored 2 then 1, so a plan that reads the table
//  in heap order (the generic plan of a prepared statement, forced here)
//  meets them in the reverse of id order.
START_TEST (test_logger_store_pg_lock_order)
{
    char sql [160];
    snprintf (sql, sizeof sql, "ALTER DATABASE %s SET plan_cache_mode ="
              " force_generic_plan", s_pg_database);
    ck_assert_int_eq (testkit_pg_exec (s_pg, "postgres", sql), 0);
    logger_store_t *store = s_store (10, S_HOUR_MS, 5);
    s_insert (store, 2, "alice");
    s_insert (store, 1, "alice");
    enp_event_t *due [2];
    ck_assert_uint_eq (s_claim (store, due, 2), 2);
    //  The broker refused both: released, they are due again at once
    s_lock_order (store, due, true);
    s_destroy_all (due, 2);
    size_t count = 0;
    for (int attempt = 0; attempt < 200 && count < 2; attempt++) {
        count += s_claim (store, due + count, 2 - count);
        if (count < 2)
            usleep (50000);     //  The next claim asks the database
    }
    ck_assert_uint_eq (count, 2);
    //  Sent: both queued, one attempt each
    s_lock_order (store, due, false);
    s_destroy_all (due, 2);
    char status [ENP_STATUS_MAX + 1];
    for (unsigned long number = 1; number <= 2; number++) {
        ck_assert_str_eq (s_status (store, number, status), ENP_STATUS_QUEUED);
        ck_assert_uint_eq (s_attempts (store, number), 1);
    }
    logger_store_destroy (&store);
}
END_TEST

#define S_THREADS   8

typedef struct {
    logger_store_t *store;
    unsigned long thread;
    unsigned long per_thread;
    int errors;
    unsigned long processed;
} s_worker_arg_t;

//  One writer: insert, read back and update its own events.
static void *
s_writer (void *arg)
{
    s_worker_arg_t *self = (s_worker_arg_t *) arg;
    for (unsigned long index = 0; index < self->per_thread; index++) {
        unsigned long number = self->thread * 1000000 + index;
        char id [ENP_UUID_LEN + 1];
        s_id (number, id);
        enp_event_t *event = enp_event_new (id, "user", "concurrent", 0);
        if (!event
        ||  logger_store_insert (self->store, &event, NULL, NULL) != ENP_OK) {
            self->errors++;
            enp_event_destroy (&event);
            continue;
        }
        enp_event_t *copy = NULL;
        if (logger_store_get (self->store, id, &copy) != ENP_OK
        ||  strcmp (enp_event_id (copy), id) != 0)
            self->errors++;
        enp_event_destroy (&copy);
        const char *status = index % 3 == 0? ENP_STATUS_PROCESSED
                           : index % 3 == 1? "archived": NULL;
        if (status) {
            if (logger_store_set_status (self->store, id, status, NULL) != ENP_OK)
                self->errors++;
            else
            if (index % 3 == 0)
                self->processed++;
        }
    }
    return NULL;
}

typedef struct {
    logger_store_t *store;
    volatile int *stop;
    unsigned long sent;
} s_sender_arg_t;

//  A dispatcher-like thread sending whatever is due, meanwhile.
static void *
s_sender (void *arg)
{
    s_sender_arg_t *self = (s_sender_arg_t *) arg;
    enp_event_t *due [64];
    while (!__atomic_load_n (self->stop, __ATOMIC_ACQUIRE)) {
        size_t count = 0;
        logger_store_claim (self->store, due, 64, &count);
        //  Every other batch is refused by the "broker"
        if (self->sent % 2)
            logger_store_release (self->store, due, count);
        else
            logger_store_mark_sent (self->store, due, count);
        logger_store_flush (self->store);
        self->sent += count? 1: 0;
        s_destroy_all (due, count);
        logger_store_query_t query = { .limit = 16 };
        enp_event_t *items [16];
        size_t listed = 0;
        char next [ENP_UUID_LEN + 1];
        logger_store_list (self->store, &query, items, &listed, next);
        s_destroy_all (items, listed);
        usleep (100);           //  Like the real dispatcher, do not spin
    }
    return NULL;
}

//  8 threads insert, read and update at once; the totals add up.
START_TEST (test_logger_store_concurrency)
{
    unsigned long per_thread = strcmp (s_url, "memory") == 0? 5000: 250;
    unsigned long events = S_THREADS * per_thread;
    logger_store_t *store = s_store (events, S_HOUR_MS, 5);
    pthread_t threads [S_THREADS];
    s_worker_arg_t args [S_THREADS];
    volatile int stop = 0;
    s_sender_arg_t sender_arg = { store, &stop, 0 };
    pthread_t sender;
    ck_assert_int_eq (pthread_create (&sender, NULL, s_sender, &sender_arg), 0);
    for (unsigned long index = 0; index < S_THREADS; index++) {
        args [index] = (s_worker_arg_t) { store, index + 1, per_thread, 0, 0 };
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

    logger_store_stats_t stats;
    logger_store_stats (store, &stats);
    ck_assert_uint_eq (stats.total, events);
    ck_assert_uint_eq (stats.created_total, events);
    ck_assert_uint_eq (stats.processed, processed);
    ck_assert_uint_eq (stats.processed_total, processed);
    ck_assert_uint_eq (stats.other, S_THREADS * ((per_thread + 1) / 3));
    ck_assert_uint_eq (stats.pending + stats.queued + stats.processed
                       + stats.failed + stats.other, stats.total);
    ck_assert_uint_eq (stats.failed, 0);
    //  Every event of the writers is there exactly once, oldest first
    logger_store_query_t query = { .limit = 1000 };
    enp_event_t *items [1000];
    char next [ENP_UUID_LEN + 1] = "";
    char after [ENP_UUID_LEN + 1] = "";
    size_t listed = 0;
    int pages = 0;
    do {
        query.after = after [0]? after: NULL;
        size_t count = 0;
        ck_assert_int_eq (logger_store_list (store, &query, items, &count, next),
                          ENP_OK);
        listed += count;
        s_destroy_all (items, count);
        snprintf (after, sizeof after, "%s", next);
    } while (next [0] && ++pages < 100);
    ck_assert_uint_eq (listed, events);
    logger_store_destroy (&store);
}
END_TEST

//  A batch of status reports reaches the writers together: its rows are
//  written by fewer transactions than it has items (each row's xmin names
//  the transaction that wrote it), where one set_status per item takes a
//  transaction each.
START_TEST (test_logger_store_pg_set_status_many_commits)
{
    logger_store_t *store = s_store (1000, S_HOUR_MS, 5);
    enum { S_ITEMS = 64 };
    char ids [S_ITEMS][ENP_UUID_LEN + 1];
    logger_store_update_t updates [S_ITEMS];
    for (unsigned long number = 1; number <= S_ITEMS; number++) {
        s_insert (store, number, "alice");
        updates [number - 1] = (logger_store_update_t) {
            .event_id = s_id (number, ids [number - 1]),
            .status = ENP_STATUS_PROCESSED
        };
    }
    logger_store_set_status_many (store, updates, S_ITEMS);
    for (size_t index = 0; index < S_ITEMS; index++) {
        ck_assert_int_eq (updates [index].result, ENP_OK);
        enp_event_destroy (&updates [index].event);
    }
    ck_assert_int_eq (testkit_pg_count (s_pg, s_pg_database,
        "SELECT count (*) FROM events WHERE status = 'processed'"), S_ITEMS);
    long transactions = testkit_pg_count (s_pg, s_pg_database,
        "SELECT count (DISTINCT xmin::text) FROM events");
    ck_assert_int_ge (transactions, 1);
    ck_assert_int_lt (transactions, S_ITEMS);
    logger_store_destroy (&store);
}
END_TEST

static void
s_setup_memory (void)
{
    s_url = "memory";
}

//  Each PostgreSQL case starts on a database of its own.
static void
s_setup_postgresql (void)
{
    static int cases = 0;
    snprintf (s_pg_database, sizeof s_pg_database, "case_%d_%d",
              (int) getpid (), ++cases);
    char sql [128];
    snprintf (sql, sizeof sql, "CREATE DATABASE %s", s_pg_database);
    ck_assert_int_eq (testkit_pg_exec (s_pg, "postgres", sql), 0);
    s_url = testkit_pg_url (s_pg, s_pg_database, s_pg_url, sizeof s_pg_url);
}

static void
s_teardown_postgresql (void)
{
    char sql [128];
    snprintf (sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)",
              s_pg_database);
    testkit_pg_exec (s_pg, "postgres", sql);
}

//  Add a test case named name that runs each list of cases.
static void
s_add_engine (Suite *suite, const char *name, void (*setup) (void),
              void (*teardown) (void), const TTest **lists [])
{
    TCase *tcase = tcase_create (name);
    tcase_set_timeout (tcase, 120);
    tcase_add_checked_fixture (tcase, setup, teardown);
    for (size_t list = 0; lists [list]; list++)
        for (size_t index = 0; lists [list][index]; index++)
            tcase_add_test (tcase, lists [list][index]);
    suite_add_tcase (suite, tcase);
}

int
main (void)
{
    //  The PostgreSQL cases are required: without a cluster the suite fails
    s_pg = testkit_pg_new ();
    if (!s_pg) {
        fprintf (stderr, "test_logger_store: cannot run the PostgreSQL cases\n");
        return EXIT_FAILURE;
    }
    Suite *suite = suite_create ("logger_store");
    //  The cases every engine runs.
    const TTest *common [] = {
        test_logger_store_usage,
        test_logger_store_empty,
        test_logger_store_unknown_id,
        test_logger_store_get_returns_copy,
        test_logger_store_strings,
        test_logger_store_set_status,
        test_logger_store_list_paging,
        test_logger_store_list_exact_pages,
        test_logger_store_list_filters,
        test_logger_store_list_unknown_cursor,
        test_logger_store_list_budget,
        test_logger_store_claim_order,
        test_logger_store_claim_lease,
        test_logger_store_release_queued,
        test_logger_store_mark_sent_counts,
        test_logger_store_max_attempts_fail,
        test_logger_store_processed_not_redelivered,
        test_logger_store_set_pending_requeues,
        test_logger_store_requeue_bumps_generation,
        test_logger_store_set_status_many,
        test_logger_store_idempotency_key,
        test_logger_store_duplicate_id,
        test_logger_store_insert_many,
        test_logger_store_insert_many_atomic,
        test_logger_store_concurrency,
        NULL
    };

    //  The cases only the memory engine runs: it bounds what it holds, and
    //  knows every deadline.
    const TTest *memory_only [] = {
        test_logger_store_eviction,
        test_logger_store_full,
        test_logger_store_insert_many_full,
        test_logger_store_evict_failed,
        test_logger_store_max_bytes,
        test_logger_store_next_due,
        NULL
    };
    const TTest **memory [] = { common, memory_only, NULL };
    s_add_engine (suite, "memory", s_setup_memory, NULL, memory);

    //  The cases only the database engine runs: a schema, restarts,
    //  several loggers, a database that is slow or away
    const TTest *postgresql_only [] = {
        test_logger_store_pg_schema_and_restart,
        test_logger_store_pg_concurrent_start,
        test_logger_store_pg_two_loggers,
        test_logger_store_pg_slow_database,
        test_logger_store_pg_database_restart,
        test_logger_store_pg_lock_order,
        test_logger_store_pg_set_status_many_commits,
        NULL
    };
    const TTest **postgresql [] = { common, postgresql_only, NULL };
    s_add_engine (suite, "postgresql", s_setup_postgresql,
                  s_teardown_postgresql, postgresql);
    int rc = testkit_run (suite);
    testkit_pg_destroy (&s_pg);
    return rc;
}
