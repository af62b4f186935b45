/*  test_enp_time - clocks in milliseconds and RFC 3339 formatting
*/
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "enp_time.h"
#include "testkit.h"

//  Usage: read both clocks and format a time.
START_TEST (test_enp_time_usage)
{
    char buf [ENP_TIME_RFC3339_SIZE];
    int64_t now = enp_time_now_ms ();
    int64_t mono = enp_time_mono_ms ();
    ck_assert_int_gt (now, 0);
    ck_assert_int_ge (mono, 0);
    char *text = enp_time_format (now, buf, sizeof buf);
    ck_assert_ptr_eq (text, buf);
    ck_assert_uint_eq (strlen (buf), 24);
    ck_assert_int_eq (buf [10], 'T');
    ck_assert_int_eq (buf [23], 'Z');
}
END_TEST

//  The epoch itself.
START_TEST (test_enp_time_format_epoch)
{
    char buf [ENP_TIME_RFC3339_SIZE];
    ck_assert_str_eq (enp_time_format (0, buf, sizeof buf),
                      "1970-01-01T00:00:00.000Z");
}
END_TEST

//  Times before the epoch round down, so milliseconds stay in 0..999.
START_TEST (test_enp_time_format_negative)
{
    char buf [ENP_TIME_RFC3339_SIZE];
    ck_assert_str_eq (enp_time_format (-1, buf, sizeof buf),
                      "1969-12-31T23:59:59.999Z");
    ck_assert_str_eq (enp_time_format (-1500, buf, sizeof buf),
                      "1969-12-31T23:59:58.500Z");
    ck_assert_str_eq (enp_time_format (-1000, buf, sizeof buf),
                      "1969-12-31T23:59:59.000Z");
}
END_TEST

//  Known instants, including a leap day and milliseconds.
START_TEST (test_enp_time_format_known_dates)
{
    char buf [ENP_TIME_RFC3339_SIZE];
    ck_assert_str_eq (enp_time_format (1700000000123LL, buf, sizeof buf),
                      "2023-11-14T22:13:20.123Z");
    ck_assert_str_eq (enp_time_format (951782400000LL, buf, sizeof buf),
                      "2000-02-29T00:00:00.000Z");
    ck_assert_str_eq (enp_time_format (1798761599999LL, buf, sizeof buf),
                      "2026-12-31T23:59:59.999Z");
    ck_assert_str_eq (enp_time_format (7, buf, sizeof buf),
                      "1970-01-01T00:00:00.007Z");
}
END_TEST

//  A buffer too small for the whole time gets an empty string, never a
//  cut time that reads like a valid one.
START_TEST (test_enp_time_format_short_buffer)
{
    char buf [ENP_TIME_RFC3339_SIZE];
    memset (buf, 'x', sizeof buf);
    ck_assert_ptr_eq (enp_time_format (0, buf, 11), buf);
    ck_assert_str_eq (buf, "");
    memset (buf, 'x', sizeof buf);
    enp_time_format (0, buf, 0);
    ck_assert_int_eq (buf [0], 'x');
}
END_TEST

//  Years outside 0000-9999 still format, without overflowing the buffer.
START_TEST (test_enp_time_format_far_years)
{
    char buf [ENP_TIME_RFC3339_SIZE + 8];
    memset (buf, '#', sizeof buf);
    enp_time_format (253402300800000LL, buf, ENP_TIME_RFC3339_SIZE);
    ck_assert_str_eq (buf, "10000-01-01T00:00:00.000Z");
    for (size_t index = ENP_TIME_RFC3339_SIZE; index < sizeof buf; index++)
        ck_assert_int_eq (buf [index], '#');
    enp_time_format (253402300799999LL, buf, ENP_TIME_RFC3339_SIZE);
    ck_assert_str_eq (buf, "9999-12-31T23:59:59.999Z");
    enp_time_format (-62135596800000LL, buf, ENP_TIME_RFC3339_SIZE);
    ck_assert_str_eq (buf, "0001-01-01T00:00:00.000Z");
}
END_TEST

//  Milliseconds of CLOCK_REALTIME, read directly.
static int64_t
s_realtime_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

//  The wall clock is CLOCK_REALTIME in milliseconds: read between two
//  direct readings, it lies between them. (Comparing with time(2) instead
//  failed now and then: time(2) reads the coarse clock, which lags by up
//  to a tick, and the precise reading can be in the next second.)
START_TEST (test_enp_time_now_matches_wall_clock)
{
    int64_t before = s_realtime_ms ();
    int64_t now = enp_time_now_ms ();
    int64_t after = s_realtime_ms ();
    ck_assert_int_ge (now, before);
    ck_assert_int_le (now, after);
}
END_TEST

//  The monotonic clock never goes back and measures at least a sleep
//  (no upper bound: a busy machine or valgrind may take any longer).
START_TEST (test_enp_time_mono_advances)
{
    int64_t last = enp_time_mono_ms ();
    for (int index = 0; index < 1000; index++) {
        int64_t now = enp_time_mono_ms ();
        ck_assert_int_ge (now, last);
        last = now;
    }
    int64_t start = enp_time_mono_ms ();
    usleep (20 * 1000);
    ck_assert_int_ge (enp_time_mono_ms () - start, 20);
}
END_TEST

int
main (void)
{
    const TTest *tests [] = {
        test_enp_time_usage,
        test_enp_time_format_epoch,
        test_enp_time_format_negative,
        test_enp_time_format_known_dates,
        test_enp_time_format_short_buffer,
        test_enp_time_format_far_years,
        test_enp_time_now_matches_wall_clock,
        test_enp_time_mono_advances,
        NULL
    };
    return testkit_run (testkit_suite ("enp_time", 5, tests));
}
