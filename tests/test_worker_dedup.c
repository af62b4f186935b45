/*  test_worker_dedup - the bounded memory of events a worker already printed
*/
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include "worker_dedup.h"
#include "testkit.h"

//  A canonical-looking id for a number.
static const char *
s_id (unsigned long number, char *id)
{
    snprintf (id, 37, "00000000-0000-4000-8000-%012lx", number);
    return id;
}

//  Usage: check, check again, size, destroy.
START_TEST (test_worker_dedup_usage)
{
    worker_dedup_t *dedup = worker_dedup_new (3);
    ck_assert_ptr_nonnull (dedup);
    ck_assert_uint_eq (worker_dedup_size (dedup), 0);
    char id [37];
    ck_assert (!worker_dedup_check (dedup, s_id (1, id), 0));
    ck_assert (worker_dedup_check (dedup, s_id (1, id), 0));
    ck_assert_uint_eq (worker_dedup_size (dedup), 1);
    worker_dedup_destroy (&dedup);
    ck_assert_ptr_null (dedup);
    worker_dedup_destroy (&dedup);
}
END_TEST

//  Asking again about a known id does not grow the cache.
START_TEST (test_worker_dedup_repeat_does_not_grow)
{
    worker_dedup_t *dedup = worker_dedup_new (10);
    char id [37];
    ck_assert (!worker_dedup_check (dedup, s_id (1, id), 0));
    ck_assert (!worker_dedup_check (dedup, s_id (2, id), 0));
    for (int index = 0; index < 100; index++) {
        ck_assert (worker_dedup_check (dedup, s_id (1, id), 0));
        ck_assert (worker_dedup_check (dedup, s_id (2, id), 0));
    }
    ck_assert_uint_eq (worker_dedup_size (dedup), 2);
    worker_dedup_destroy (&dedup);
}
END_TEST

//  When full, the oldest id is forgotten first.
START_TEST (test_worker_dedup_evicts_oldest)
{
    worker_dedup_t *dedup = worker_dedup_new (3);
    char id [37];
    for (unsigned long number = 1; number <= 4; number++)
        ck_assert (!worker_dedup_check (dedup, s_id (number, id), 0));
    ck_assert_uint_eq (worker_dedup_size (dedup), 3);
    //  1 was forgotten; 2, 3 and 4 are remembered
    ck_assert (worker_dedup_check (dedup, s_id (2, id), 0));
    ck_assert (worker_dedup_check (dedup, s_id (3, id), 0));
    ck_assert (worker_dedup_check (dedup, s_id (4, id), 0));
    //  Asking about 1 remembers it again and forgets 2, the oldest now
    ck_assert (!worker_dedup_check (dedup, s_id (1, id), 0));
    ck_assert (!worker_dedup_check (dedup, s_id (2, id), 0));
    //  ... which in turn forgot 3
    ck_assert (!worker_dedup_check (dedup, s_id (3, id), 0));
    ck_assert (worker_dedup_check (dedup, s_id (1, id), 0));
    ck_assert_uint_eq (worker_dedup_size (dedup), 3);
    worker_dedup_destroy (&dedup);
}
END_TEST

//  Capacity 0 means 1: only the last id is remembered.
START_TEST (test_worker_dedup_capacity_zero)
{
    worker_dedup_t *dedup = worker_dedup_new (0);
    ck_assert_ptr_nonnull (dedup);
    char id [37];
    ck_assert (!worker_dedup_check (dedup, s_id (1, id), 0));
    ck_assert (worker_dedup_check (dedup, s_id (1, id), 0));
    ck_assert (!worker_dedup_check (dedup, s_id (2, id), 0));
    ck_assert (!worker_dedup_check (dedup, s_id (1, id), 0));
    ck_assert_uint_eq (worker_dedup_size (dedup), 1);
    worker_dedup_destroy (&dedup);
}
END_TEST

//  Many ids through a small cache: exactly the last capacity are known.
START_TEST (test_worker_dedup_many)
{
    size_t capacity = 100;
    worker_dedup_t *dedup = worker_dedup_new (capacity);
    char id [37];
    for (unsigned long number = 0; number < 10000; number++)
        ck_assert (!worker_dedup_check (dedup, s_id (number, id), 0));
    ck_assert_uint_eq (worker_dedup_size (dedup), capacity);
    for (unsigned long number = 10000 - capacity; number < 10000; number++)
        ck_assert_msg (worker_dedup_check (dedup, s_id (number, id), 0),
                       "recent id %lu forgotten", number);
    ck_assert (!worker_dedup_check (dedup, s_id (0, id), 0));
    ck_assert (!worker_dedup_check (dedup, s_id (9000, id), 0));
    ck_assert_uint_eq (worker_dedup_size (dedup), capacity);
    worker_dedup_destroy (&dedup);
}
END_TEST

//  The key is the id and the generation: a new generation of a known id
//  is new (a deliberate re-queue), the same one is not (a redelivery).
START_TEST (test_worker_dedup_generations)
{
    worker_dedup_t *dedup = worker_dedup_new (10);
    char id [37];
    ck_assert (!worker_dedup_check (dedup, s_id (1, id), 0));
    ck_assert (worker_dedup_check (dedup, s_id (1, id), 0));
    ck_assert (!worker_dedup_check (dedup, s_id (1, id), 1));
    ck_assert (worker_dedup_check (dedup, s_id (1, id), 1));
    ck_assert (worker_dedup_check (dedup, s_id (1, id), 0));
    ck_assert (!worker_dedup_check (dedup, s_id (1, id), 4294967295u));
    ck_assert (worker_dedup_check (dedup, s_id (1, id), 4294967295u));
    ck_assert (!worker_dedup_check (dedup, s_id (2, id), 1));
    ck_assert_uint_eq (worker_dedup_size (dedup), 4);
    worker_dedup_destroy (&dedup);
}
END_TEST

int
main (void)
{
    const TTest *tests [] = {
        test_worker_dedup_usage,
        test_worker_dedup_repeat_does_not_grow,
        test_worker_dedup_evicts_oldest,
        test_worker_dedup_capacity_zero,
        test_worker_dedup_many,
        test_worker_dedup_generations,
        NULL
    };
    return testkit_run (testkit_suite ("worker_dedup", 10, tests));
}
