/*  test_worker_reports - the bounded queue of ids waiting to be reported
*/
#include <check.h>
#include <stdio.h>
#include <string.h>
#include "worker_reports.h"
#include "testkit.h"

//  Write test id number index into id.
static void
s_id (char *id, size_t size, unsigned long index)
{
    snprintf (id, size, "%08lx-0000-4000-8000-%012lx", index & 0xffffffff, index);
}

//  Usage: push, take in order, limit, destroy.
START_TEST (test_worker_reports_usage)
{
    ck_assert_ptr_null (worker_reports_new (0));
    ck_assert_ptr_null (worker_reports_new (WORKER_REPORTS_LIMIT_MAX + 1));
    worker_reports_t *reports = worker_reports_new (3);
    ck_assert_ptr_nonnull (reports);
    ck_assert_uint_eq (worker_reports_limit (reports), 3);
    ck_assert_uint_eq (worker_reports_size (reports), 0);
    ck_assert_int_eq (worker_reports_push (reports, "123e4567-e89b-42d3-a456-426614174000"), 0);
    ck_assert_int_eq (worker_reports_push (reports, "ffffffff-ffff-4fff-bfff-ffffffffffff"), 0);
    ck_assert_int_eq (worker_reports_push (reports, "00000000-0000-0000-0000-000000000000"), 0);
    ck_assert_uint_eq (worker_reports_size (reports), 3);
    ck_assert_int_eq (worker_reports_push (reports, "123e4567-e89b-42d3-a456-426614174001"), -1);
    char ids [4][ENP_UUID_LEN + 1];
    ck_assert_uint_eq (worker_reports_take (reports, ids, 2), 2);
    ck_assert_str_eq (ids [0], "123e4567-e89b-42d3-a456-426614174000");
    ck_assert_str_eq (ids [1], "ffffffff-ffff-4fff-bfff-ffffffffffff");
    ck_assert_uint_eq (worker_reports_size (reports), 1);
    ck_assert_uint_eq (worker_reports_take (reports, ids, 4), 1);
    ck_assert_str_eq (ids [0], "00000000-0000-0000-0000-000000000000");
    ck_assert_uint_eq (worker_reports_take (reports, ids, 4), 0);
    worker_reports_destroy (&reports);
    ck_assert_ptr_null (reports);
    worker_reports_destroy (&reports);
}
END_TEST

//  Only lowercase canonical UUIDs go in: what the wire decoder lets through.
START_TEST (test_worker_reports_refuses_others)
{
    worker_reports_t *reports = worker_reports_new (10);
    const char *bad [] = {
        "", "123e4567-e89b-42d3-a456-42661417400", "123e4567-e89b-42d3-a456-4266141740000",
        "123E4567-e89b-42d3-a456-426614174000", "123e4567e89b-42d3-a456-4266141740000",
        "123e4567-e89b-42d3-a456_426614174000", "g23e4567-e89b-42d3-a456-426614174000",
        "123e4567-e89b-42d3-a456-42661417400 ", NULL
    };
    for (size_t index = 0; index < sizeof bad / sizeof bad [0]; index++)
        ck_assert_msg (worker_reports_push (reports, bad [index]) == -1,
                       "took %s", bad [index]? bad [index]: "NULL");
    ck_assert_uint_eq (worker_reports_size (reports), 0);
    char ids [1][ENP_UUID_LEN + 1] = { "not a uuid" };
    ck_assert_int_eq (worker_reports_unshift (reports, ids, 1), -1);
    ck_assert_uint_eq (worker_reports_size (reports), 0);
    worker_reports_destroy (&reports);
}
END_TEST

//  Ids put back go ahead of the rest, in their order, even past the limit.
START_TEST (test_worker_reports_unshift)
{
    worker_reports_t *reports = worker_reports_new (3);
    char ids [5][ENP_UUID_LEN + 1];
    for (unsigned long index = 0; index < 3; index++) {
        s_id (ids [0], sizeof ids [0], index);
        ck_assert_int_eq (worker_reports_push (reports, ids [0]), 0);
    }
    ck_assert_uint_eq (worker_reports_take (reports, ids, 2), 2);
    ck_assert_int_eq (worker_reports_push (reports, "123e4567-e89b-42d3-a456-426614174000"), 0);
    ck_assert_int_eq (worker_reports_push (reports, "123e4567-e89b-42d3-a456-426614174001"), 0);
    ck_assert_int_eq (worker_reports_unshift (reports, ids, 2), 0);
    ck_assert_uint_eq (worker_reports_size (reports), 5);
    char out [5][ENP_UUID_LEN + 1];
    ck_assert_uint_eq (worker_reports_take (reports, out, 5), 5);
    char expected [ENP_UUID_LEN + 1];
    for (unsigned long index = 0; index < 3; index++) {
        s_id (expected, sizeof expected, index);
        ck_assert_str_eq (out [index], expected);
    }
    ck_assert_str_eq (out [3], "123e4567-e89b-42d3-a456-426614174000");
    ck_assert_str_eq (out [4], "123e4567-e89b-42d3-a456-426614174001");
    worker_reports_destroy (&reports);
}
END_TEST

//  The ring grows past its first size and wraps around, keeping FIFO order
//  through pushes and takes that interleave.
START_TEST (test_worker_reports_grows_and_wraps)
{
    worker_reports_t *reports = worker_reports_new (100000);
    unsigned long pushed = 0, taken = 0;
    for (int round = 0; round < 50; round++) {
        for (int count = 0; count < 997; count++) {
            char id [ENP_UUID_LEN + 1];
            s_id (id, sizeof id, pushed++);
            ck_assert_int_eq (worker_reports_push (reports, id), 0);
        }
        char out [613][ENP_UUID_LEN + 1];
        size_t got = worker_reports_take (reports, out, 613);
        ck_assert_uint_eq (got, 613);
        for (size_t index = 0; index < got; index++) {
            char expected [ENP_UUID_LEN + 1];
            s_id (expected, sizeof expected, taken++);
            ck_assert_str_eq (out [index], expected);
        }
    }
    ck_assert_uint_eq (worker_reports_size (reports), pushed - taken);
    char out [1000][ENP_UUID_LEN + 1];
    size_t got;
    while ((got = worker_reports_take (reports, out, 1000)) > 0)
        for (size_t index = 0; index < got; index++) {
            char expected [ENP_UUID_LEN + 1];
            s_id (expected, sizeof expected, taken++);
            ck_assert_str_eq (out [index], expected);
        }
    ck_assert_uint_eq (taken, pushed);
    //  Empty again, it takes new ids as before
    ck_assert_int_eq (worker_reports_push (reports, "123e4567-e89b-42d3-a456-426614174000"), 0);
    ck_assert_uint_eq (worker_reports_take (reports, out, 1), 1);
    ck_assert_str_eq (out [0], "123e4567-e89b-42d3-a456-426614174000");
    worker_reports_destroy (&reports);
}
END_TEST

int
main (void)
{
    const TTest *tests [] = {
        test_worker_reports_usage,
        test_worker_reports_refuses_others,
        test_worker_reports_unshift,
        test_worker_reports_grows_and_wraps,
        NULL
    };
    return testkit_run (testkit_suite ("worker_reports", 20, tests));
}
