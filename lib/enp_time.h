//  enp_time - wall and monotonic clocks in milliseconds, RFC 3339 formatting
#ifndef ENP_TIME_H_INCLUDED
#define ENP_TIME_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

//  Size of a buffer that holds "2026-11-21T08:18:39.123Z" and its NUL.
#define ENP_TIME_RFC3339_SIZE 32

//  Return the wall clock time in milliseconds since the Unix epoch.
int64_t enp_time_now_ms (void);
//  Return a monotonic clock in milliseconds, for timeouts and deadlines.
int64_t enp_time_mono_ms (void);
//  Format ms since the epoch as RFC 3339 UTC with milliseconds into buf
//  (at least ENP_TIME_RFC3339_SIZE bytes). Returns buf.
char *enp_time_format (int64_t ms, char *buf, size_t size);

#endif
