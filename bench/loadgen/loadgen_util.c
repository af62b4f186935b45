/*  loadgen_util - clocks, allocation that cannot fail, and the connection
    every part of loadgen opens to its (loopback) target

    loadgen is a short-lived command-line tool: running out of memory ends
    the run with a message, so allocation failures need no unwinding.
*/
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "loadgen_util.h"

uint64_t
loadgen_now_ns (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * LOADGEN_NS_PER_S + (uint64_t) ts.tv_nsec;
}

double
loadgen_wall_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    return (double) ts.tv_sec * 1e3 + (double) ts.tv_nsec / 1e6;
}

void
loadgen_die (const char *message)
{
    fprintf (stderr, "loadgen: %s\n", message);
    exit (2);
}

void *
loadgen_malloc (size_t size)
{
    void *pointer = malloc (size? size: 1);
    if (!pointer)
        loadgen_die ("out of memory");
    return pointer;
}

void *
loadgen_calloc (size_t count, size_t size)
{
    void *pointer = calloc (count? count: 1, size? size: 1);
    if (!pointer)
        loadgen_die ("out of memory");
    return pointer;
}

int
loadgen_connect (const char *host, int port)
{
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in address;
    memset (&address, 0, sizeof address);
    address.sin_family = AF_INET;
    address.sin_port = htons ((uint16_t) port);
    inet_pton (AF_INET, host, &address.sin_addr);
    if (connect (fd, (struct sockaddr *) &address, sizeof address) != 0) {
        close (fd);
        return -1;
    }
    int one = 1;
    setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

void
loadgen_sleep_ms (int ms)
{
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long) (ms % 1000) * 1000000L };
    nanosleep (&ts, NULL);
}
