/*  test_enp_ratelimit - at most a few log records per time window
*/
#include <check.h>
#include "enp_ratelimit.h"
#include "testkit.h"

//  Usage: a burst is allowed, the rest held back and counted, said with
//  the first record of the next window.
START_TEST (test_enp_ratelimit_usage)
{
    enp_ratelimit_t *limit = enp_ratelimit_new (3, 1000);
    ck_assert_ptr_nonnull (limit);
    uint64_t held = 99;
    for (int index = 0; index < 3; index++) {
        ck_assert (enp_ratelimit_allow (limit, 5000 + index, &held));
        ck_assert_uint_eq (held, 0);
    }
    for (int index = 0; index < 7; index++)
        ck_assert (!enp_ratelimit_allow (limit, 5500, &held));
    ck_assert (!enp_ratelimit_allow (limit, 5999, NULL));
    ck_assert (enp_ratelimit_allow (limit, 6000, &held));
    ck_assert_uint_eq (held, 8);
    ck_assert (enp_ratelimit_allow (limit, 6001, &held));
    ck_assert_uint_eq (held, 0);
    enp_ratelimit_destroy (&limit);
    ck_assert_ptr_null (limit);
    enp_ratelimit_destroy (&limit);
}
END_TEST

//  A zero burst or window is taken as 1.
START_TEST (test_enp_ratelimit_zero)
{
    enp_ratelimit_t *limit = enp_ratelimit_new (0, 0);
    ck_assert (enp_ratelimit_allow (limit, 0, NULL));
    ck_assert (!enp_ratelimit_allow (limit, 0, NULL));
    ck_assert (enp_ratelimit_allow (limit, 1, NULL));
    enp_ratelimit_destroy (&limit);
}
END_TEST

int
main (void)
{
    const TTest *tests [] = {
        test_enp_ratelimit_usage,
        test_enp_ratelimit_zero,
        NULL
    };
    return testkit_run (testkit_suite ("enp_ratelimit", 10, tests));
}
