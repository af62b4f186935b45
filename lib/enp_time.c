/*  enp_time - wall and monotonic clocks in milliseconds, RFC 3339 formatting

    Events carry wall-clock times (created_at, updated_at) for people, and
    the logger measures timeouts on the monotonic clock so that a clock step
    never redelivers or fails events by mistake.
*/
#include <stdio.h>
#include <time.h>
#include "enp_time.h"

//  Return the wall clock time in milliseconds since the Unix epoch.
int64_t
enp_time_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

//  Return a monotonic clock in milliseconds, for timeouts and deadlines.
int64_t
enp_time_mono_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

//  Write value as exactly digits decimal digits, zero-padded.
static char *
s_digits (char *cursor, int value, int digits)
{
    for (int index = digits - 1; index >= 0; index--) {
        cursor [index] = (char) ('0' + value % 10);
        value /= 10;
    }
    return cursor + digits;
}

//  Format ms since the epoch as RFC 3339 UTC with milliseconds. Every
//  response carries two of these, so it writes digits directly rather
//  than going through snprintf.
char *
enp_time_format (int64_t ms, char *buf, size_t size)
{
    if (size < ENP_TIME_RFC3339_SIZE) {
        if (size)
            buf [0] = '\0';
        return buf;
    }
    time_t secs = (time_t) (ms / 1000);
    int millis = (int) (ms % 1000);
    if (millis < 0) {
        millis += 1000;
        secs -= 1;
    }
    struct tm tm;
    gmtime_r (&secs, &tm);
    int year = tm.tm_year + 1900;
    if (year < 0 || year > 9999) {
        snprintf (buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", year,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                  tm.tm_sec, millis);
        return buf;
    }
    char *cursor = s_digits (buf, year, 4);
    *cursor++ = '-';
    cursor = s_digits (cursor, tm.tm_mon + 1, 2);
    *cursor++ = '-';
    cursor = s_digits (cursor, tm.tm_mday, 2);
    *cursor++ = 'T';
    cursor = s_digits (cursor, tm.tm_hour, 2);
    *cursor++ = ':';
    cursor = s_digits (cursor, tm.tm_min, 2);
    *cursor++ = ':';
    cursor = s_digits (cursor, tm.tm_sec, 2);
    *cursor++ = '.';
    cursor = s_digits (cursor, millis, 3);
    *cursor++ = 'Z';
    *cursor = '\0';
    return buf;
}
