//  loadgen_util - clocks, allocation that cannot fail, and the connection
//  every part of loadgen opens to its (loopback) target
#ifndef LOADGEN_UTIL_H_INCLUDED
#define LOADGEN_UTIL_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#define LOADGEN_NS_PER_S  1000000000ULL
#define LOADGEN_NS_PER_MS 1000000ULL

//  Return CLOCK_MONOTONIC in nanoseconds.
uint64_t loadgen_now_ns (void);
//  Return CLOCK_REALTIME in milliseconds (fractional), to compare with the
//  servers' RFC 3339 times.
double loadgen_wall_ms (void);
//  Print "loadgen: message" on standard error and exit 2.
void loadgen_die (const char *message) __attribute__ ((noreturn));
//  malloc and calloc that exit through loadgen_die when memory runs out;
//  a zero size still returns a valid pointer. Caller owns the result.
void *loadgen_malloc (size_t size);
void *loadgen_calloc (size_t count, size_t size);
//  Open a blocking TCP connection to host (an IPv4 literal) and port, with
//  TCP_NODELAY. Returns the descriptor (caller closes it), or -1.
int loadgen_connect (const char *host, int port);
//  Sleep for ms milliseconds.
void loadgen_sleep_ms (int ms);

#endif
