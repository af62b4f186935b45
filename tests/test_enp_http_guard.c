/*  test_enp_http_guard - deadlines, per-client caps and idle shedding

    The guard finds a connection's socket by its addresses, so each case
    makes real loopback connections: a listening socket here, clients from
    127.0.0.2 and 127.0.0.3, and the accepted sockets the guard is told
    about. A connection the guard cuts has its receiving side shut: a read
    on the accepted socket then returns 0 at once, which is what the cases
    wait for.
*/
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "enp_http_guard.h"
#include "enp_time.h"
#include "testkit.h"

//  A listening socket and its port.
typedef struct {
    int fd;
    int port;
} s_listener_t;

//  One connection as both ends see it.
typedef struct {
    int client;                     //  the client's socket
    int server;                     //  the accepted one
    char address [32];              //  the client's address
    int port;                       //  the client's port
} s_link_t;

static s_listener_t
s_listen (void)
{
    s_listener_t listener = { .fd = socket (AF_INET, SOCK_STREAM, 0) };
    struct sockaddr_in address = { .sin_family = AF_INET };
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    ck_assert_int_eq (bind (listener.fd, (struct sockaddr *) &address, length), 0);
    ck_assert_int_eq (listen (listener.fd, 16), 0);
    ck_assert_int_eq (getsockname (listener.fd, (struct sockaddr *) &address,
                                   &length), 0);
    listener.port = ntohs (address.sin_port);
    return listener;
}

//  Connect from source and accept.
static s_link_t
s_link (s_listener_t *listener, const char *source)
{
    s_link_t link = { .client = testkit_connect_from (listener->port, source, 2000) };
    ck_assert_int_ge (link.client, 0);
    struct sockaddr_in peer;
    socklen_t length = sizeof peer;
    link.server = accept (listener->fd, (struct sockaddr *) &peer, &length);
    ck_assert_int_ge (link.server, 0);
    inet_ntop (AF_INET, &peer.sin_addr, link.address, sizeof link.address);
    link.port = ntohs (peer.sin_port);
    return link;
}

static void
s_unlink (s_link_t *link)
{
    close (link->client);
    close (link->server);
}

//  Tell the guard about a link, as CivetWeb's worker would.
static int
s_open (enp_http_guard_t *guard, s_listener_t *listener, s_link_t *link)
{
    return enp_http_guard_open (guard, link->address, link->port, listener->port);
}

//  True when the accepted socket's receiving side was shut within
//  timeout_ms: a read returns 0 although the client did not close.
static bool
s_cut_within (s_link_t *link, int timeout_ms)
{
    struct pollfd item = { .fd = link->server, .events = POLLIN };
    char byte;
    return poll (&item, 1, timeout_ms) == 1
        && recv (link->server, &byte, 1, MSG_DONTWAIT) == 0;
}

//  True when nothing cut the accepted socket: no data, no end.
static bool
s_intact (s_link_t *link)
{
    char byte;
    return recv (link->server, &byte, 1, MSG_DONTWAIT) < 0
        && (errno == EAGAIN || errno == EWOULDBLOCK);
}

//  Usage: open, head, received, wait, close; counters.
START_TEST (test_enp_http_guard_usage)
{
    s_listener_t listener = s_listen ();
    enp_http_guard_options_t options = { .name = "test", .threads = 4,
        .max_per_client = 2, .deadline_ms = 60000 };
    enp_http_guard_t *guard = enp_http_guard_new (&options);
    ck_assert_ptr_nonnull (guard);
    s_link_t link = s_link (&listener, "127.0.0.2");
    int slot = s_open (guard, &listener, &link);
    ck_assert_int_ge (slot, 0);
    enp_http_guard_head (guard, slot, true);
    enp_http_guard_received (guard, slot);
    enp_http_guard_wait (guard, slot);
    ck_assert (!enp_http_guard_expired (guard, slot));
    ck_assert (s_intact (&link));
    enp_http_guard_close (guard, slot);
    enp_http_guard_stats_t stats;
    enp_http_guard_stats (guard, &stats);
    ck_assert_uint_eq (stats.refused + stats.expired + stats.shed, 0);
    s_unlink (&link);
    enp_http_guard_destroy (&guard);
    ck_assert_ptr_null (guard);
    enp_http_guard_destroy (&guard);
    close (listener.fd);
}
END_TEST

//  Over the cap an address is refused, its socket's receiving side shut;
//  another address is not affected; a closed connection frees its place.
START_TEST (test_enp_http_guard_cap)
{
    s_listener_t listener = s_listen ();
    enp_http_guard_options_t options = { .name = "test", .threads = 8,
        .max_per_client = 2, .deadline_ms = 60000 };
    enp_http_guard_t *guard = enp_http_guard_new (&options);
    s_link_t links [4];
    int slots [4];
    for (int index = 0; index < 3; index++) {
        links [index] = s_link (&listener, "127.0.0.2");
        slots [index] = s_open (guard, &listener, &links [index]);
    }
    ck_assert_int_ge (slots [0], 0);
    ck_assert_int_ge (slots [1], 0);
    ck_assert_int_eq (slots [2], ENP_HTTP_GUARD_REFUSED);
    ck_assert (s_cut_within (&links [2], 0));
    ck_assert (s_intact (&links [0]));
    links [3] = s_link (&listener, "127.0.0.3");
    slots [3] = s_open (guard, &listener, &links [3]);
    ck_assert_int_ge (slots [3], 0);
    enp_http_guard_close (guard, slots [0]);
    s_unlink (&links [0]);
    s_link_t again = s_link (&listener, "127.0.0.2");
    int slot = s_open (guard, &listener, &again);
    ck_assert_int_ge (slot, 0);
    enp_http_guard_stats_t stats;
    enp_http_guard_stats (guard, &stats);
    ck_assert_uint_eq (stats.refused, 1);
    enp_http_guard_close (guard, slot);
    enp_http_guard_close (guard, slots [1]);
    enp_http_guard_close (guard, slots [3]);
    s_unlink (&again);
    for (int index = 1; index < 4; index++)
        s_unlink (&links [index]);
    enp_http_guard_destroy (&guard);
    close (listener.fd);
}
END_TEST

//  A request not whole by the deadline is cut, even while bytes flow; one
//  that arrived whole is not, until it waits for the next request.
START_TEST (test_enp_http_guard_deadline)
{
    s_listener_t listener = s_listen ();
    enp_http_guard_options_t options = { .name = "test", .threads = 4,
        .max_per_client = 0, .deadline_ms = 300 };
    enp_http_guard_t *guard = enp_http_guard_new (&options);
    s_link_t slow = s_link (&listener, "127.0.0.2");
    s_link_t done = s_link (&listener, "127.0.0.2");
    int slow_slot = s_open (guard, &listener, &slow);
    int done_slot = s_open (guard, &listener, &done);
    enp_http_guard_head (guard, slow_slot, true);
    enp_http_guard_head (guard, done_slot, false);
    //  The slow one sends a byte every 50 ms and still is cut
    bool cut = false;
    int64_t until = enp_time_mono_ms () + 5000;
    while (!cut && enp_time_mono_ms () < until) {
        ck_assert_int_eq (send (slow.client, "x", 1, MSG_NOSIGNAL), 1);
        char bytes [64];
        while (recv (slow.server, bytes, sizeof bytes, MSG_DONTWAIT) > 0)
            ;
        cut = s_cut_within (&slow, 50);
    }
    ck_assert (cut);
    ck_assert (enp_http_guard_expired (guard, slow_slot));
    ck_assert (s_intact (&done));
    ck_assert (!enp_http_guard_expired (guard, done_slot));
    //  Answered, it waits for a next request within a new deadline
    enp_http_guard_wait (guard, done_slot);
    ck_assert (s_cut_within (&done, 5000));
    enp_http_guard_stats_t stats;
    enp_http_guard_stats (guard, &stats);
    ck_assert_uint_eq (stats.expired, 2);
    enp_http_guard_close (guard, slow_slot);
    enp_http_guard_close (guard, done_slot);
    s_unlink (&slow);
    s_unlink (&done);
    enp_http_guard_destroy (&guard);
    close (listener.fd);
}
END_TEST

//  With every thread taken, connections waiting for a request are closed
//  long before their deadline; ones whose request arrived are not.
START_TEST (test_enp_http_guard_shed)
{
    s_listener_t listener = s_listen ();
    enp_http_guard_options_t options = { .name = "test", .threads = 4,
        .max_per_client = 0, .deadline_ms = 60000 };
    enp_http_guard_t *guard = enp_http_guard_new (&options);
    s_link_t links [4];
    int slots [4];
    for (int index = 0; index < 4; index++) {
        links [index] = s_link (&listener, "127.0.0.2");
        slots [index] = s_open (guard, &listener, &links [index]);
        ck_assert_int_ge (slots [index], 0);
    }
    enp_http_guard_head (guard, slots [0], false);
    for (int index = 1; index < 4; index++)
        ck_assert (s_cut_within (&links [index], 5000));
    ck_assert (s_intact (&links [0]));
    enp_http_guard_stats_t stats;
    enp_http_guard_stats (guard, &stats);
    ck_assert_uint_eq (stats.shed, 3);
    ck_assert_uint_eq (stats.expired, 0);
    for (int index = 0; index < 4; index++) {
        enp_http_guard_close (guard, slots [index]);
        s_unlink (&links [index]);
    }
    enp_http_guard_destroy (&guard);
    close (listener.fd);
}
END_TEST

//  A connection whose socket cannot be found is still counted, and a
//  slot out of range is ignored.
START_TEST (test_enp_http_guard_unknown_socket)
{
    enp_http_guard_options_t options = { .name = "test", .threads = 2,
        .max_per_client = 1, .deadline_ms = 60000 };
    enp_http_guard_t *guard = enp_http_guard_new (&options);
    int slot = enp_http_guard_open (guard, "127.0.0.9", 1, 1);
    ck_assert_int_ge (slot, 0);
    ck_assert_int_eq (enp_http_guard_open (guard, "127.0.0.9", 2, 1),
                      ENP_HTTP_GUARD_REFUSED);
    enp_http_guard_close (guard, slot);
    enp_http_guard_close (guard, 99);
    enp_http_guard_head (guard, -2, true);
    ck_assert (!enp_http_guard_expired (guard, -2));
    enp_http_guard_destroy (&guard);
}
END_TEST

int
main (void)
{
    const TTest *tests [] = {
        test_enp_http_guard_usage,
        test_enp_http_guard_cap,
        test_enp_http_guard_deadline,
        test_enp_http_guard_shed,
        test_enp_http_guard_unknown_socket,
        NULL
    };
    return testkit_run (testkit_suite ("enp_http_guard", 20, tests));
}
