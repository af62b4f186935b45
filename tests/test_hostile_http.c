/*  test_hostile_http - hostile HTTP clients against the real services

    A broker, a logger and a processor run on loopback. Attackers connect
    from 127.0.0.2 (or a few more loopback addresses), the normal client
    from 127.0.0.1, so the logger's per-address cap can tell them apart.
    For each attack: the logger stays up, a normal request is answered
    while the attack runs (within 1 s when no sanitizer slows the build),
    its memory stays bounded, and every event accepted before and during
    the attack ends processed.

    The logger runs with its default 512 threads, so the per-client cap is
    128 connections, and mostly with --request-timeout 5000 so that the
    deadline is seen within the suite's time.
*/
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include "testkit.h"
#include "enp_time.h"

#define S_THREADS           512     //  the logger's default --threads
#define S_CAP               (S_THREADS / 4)     //  its default per-client cap
#define S_DEADLINE_MS       5000    //  --request-timeout in most cases, far
                                    //  longer than the normal requests take
#define S_CROWD_MAX         1600    //  attacker connections in one crowd
#define S_CONNECT_MS        3000    //  for one attacker connect
#define S_TRICKLE_MS        500     //  between bytes of a slow body
#define S_EVENTS_MAX        64      //  events one case follows
#define S_NORMAL_REQUESTS   8       //  made while an attack runs
#define S_PROCESSED_MS      30000   //  for every event to end processed
#define S_RSS_GROWTH_KB     (128 * 1024)    //  more is unbounded growth
#define S_FILES_NEEDED      4096    //  descriptors this suite opens

#if defined(__SANITIZE_ADDRESS__)
#   define S_SANITIZED      true
#else
#   define S_SANITIZED      false
#endif

//  A crowd of attacker connections.
typedef struct {
    int fds [S_CROWD_MAX];
    int count;
    int codes [S_CROWD_MAX];        //  status of a response read, or 0
    bool closed [S_CROWD_MAX];      //  the server closed (or reset) it
    atomic_bool stop;               //  tells the trickler to stop
    pthread_t trickler;
    bool trickling;
} s_crowd_t;

//  The case's services and what it saw.
typedef struct {
    testkit_pipeline_t *pipeline;
    char ids [S_EVENTS_MAX][64];    //  events accepted, to follow
    int events;
    long rss_start_kb;              //  the logger's peak before the attack
    long rss_peak_kb;               //  and after it
    long worst_ms;                  //  the slowest normal request
} s_rig_t;

//  Start a broker, a logger with flags (NULL-terminated) and a processor.
static void
s_rig_start (s_rig_t *rig, const char *const flags [])
{
    memset (rig, 0, sizeof *rig);
    rig->pipeline = testkit_pipeline_new ();
    ck_assert_ptr_nonnull (rig->pipeline);
    ck_assert_int_gt (testkit_pipeline_start_broker (rig->pipeline), 0);
    ck_assert_msg (testkit_pipeline_start_logger (rig->pipeline, flags) > 0,
                   "logger did not start (see %s)",
                   testkit_pipeline_dir (rig->pipeline));
    ck_assert_int_gt (testkit_pipeline_start_processor (rig->pipeline, 0, NULL), 0);
    rig->rss_start_kb = testkit_rss_kb (testkit_pipeline_logger (rig->pipeline), true);
}

//  The logger still runs: it has not exited, and it answers /healthz.
static void
s_assert_alive (s_rig_t *rig)
{
    pid_t pid = testkit_pipeline_logger (rig->pipeline);
    int status;
    ck_assert_msg (waitpid (pid, &status, WNOHANG) == 0, "the logger died");
    char url [128];
    snprintf (url, sizeof url, "%s/healthz", testkit_pipeline_base (rig->pipeline));
    ck_assert_int_eq (testkit_wait_http (url, 10000), 0);
}

//  Post one event as the normal client (from 127.0.0.1): it must be
//  accepted; follow it, and keep the slowest time.
static void
s_post (s_rig_t *rig)
{
    char url [128];
    snprintf (url, sizeof url, "%s/events", testkit_pipeline_base (rig->pipeline));
    const char *body = "{\"user_id\":\"normal\",\"description\":\"served\"}";
    int64_t start = enp_time_mono_ms ();
    testkit_response_t response;
    int rc = testkit_http ("POST", url, "application/json", body, strlen (body),
                           NULL, &response);
    long elapsed = (long) (enp_time_mono_ms () - start);
    ck_assert_msg (rc == 0 && response.code == 201,
                   "a normal request got %ld after %ld ms", response.code, elapsed);
    char location [128];
    ck_assert_int_eq (testkit_header (&response, "Location", location,
                                      sizeof location), 0);
    ck_assert_int_lt (rig->events, S_EVENTS_MAX);
    snprintf (rig->ids [rig->events++], sizeof rig->ids [0], "%s",
              strrchr (location, '/') + 1);
    testkit_response_free (&response);
    rig->worst_ms = elapsed > rig->worst_ms? elapsed: rig->worst_ms;
}

//  Normal requests while the attack runs: each answered, and fast when
//  the build is not slowed by a sanitizer.
static void
s_serve_normal_requests (s_rig_t *rig)
{
    for (int index = 0; index < S_NORMAL_REQUESTS; index++) {
        s_post (rig);
        usleep (50 * 1000);
    }
    if (!S_SANITIZED)
        ck_assert_msg (rig->worst_ms < 1000, "a normal request took %ld ms"
                       " during the attack", rig->worst_ms);
}

//  Every event followed ends processed; the logger's memory stayed
//  bounded; every service stops cleanly.
static void
s_rig_finish (s_rig_t *rig, const char *attack)
{
    s_assert_alive (rig);
    rig->rss_peak_kb = testkit_rss_kb (testkit_pipeline_logger (rig->pipeline), true);
    const char *base = testkit_pipeline_base (rig->pipeline);
    int64_t until = enp_time_mono_ms () + S_PROCESSED_MS;
    int processed = 0;
    for (int index = 0; index < rig->events; index++) {
        char url [160];
        snprintf (url, sizeof url, "%s/events/%s", base, rig->ids [index]);
        bool done = false;
        while (!done && enp_time_mono_ms () < until) {
            testkit_response_t response;
            done = testkit_http ("GET", url, NULL, NULL, 0, NULL, &response) == 0
                && strstr (response.body, "\"status\":\"processed\"");
            testkit_response_free (&response);
            if (!done)
                usleep (50 * 1000);
        }
        processed += done;
    }
    fprintf (stderr, "hostile '%s': worst normal request %ld ms, logger RSS"
             " %ld -> %ld MiB, %d of %d events processed\n", attack,
             rig->worst_ms, rig->rss_start_kb / 1024, rig->rss_peak_kb / 1024,
             processed, rig->events);
    ck_assert_int_eq (processed, rig->events);
    ck_assert_msg (rig->rss_peak_kb - rig->rss_start_kb < S_RSS_GROWTH_KB,
                   "the logger grew from %ld to %ld KiB", rig->rss_start_kb,
                   rig->rss_peak_kb);
    ck_assert_int_eq (testkit_pipeline_stop (rig->pipeline), 0);
    testkit_pipeline_destroy (&rig->pipeline);
}

//  Open count connections to the logger, cycling through sources, each
//  sending greeting (may be NULL) at once.
static s_crowd_t *
s_crowd_new (s_rig_t *rig, const char *const sources [], int count,
             const char *greeting)
{
    s_crowd_t *crowd = (s_crowd_t *) calloc (1, sizeof (s_crowd_t));
    ck_assert_ptr_nonnull (crowd);
    ck_assert_int_le (count, S_CROWD_MAX);
    atomic_init (&crowd->stop, false);
    int port = testkit_pipeline_http_port (rig->pipeline);
    int sources_count = 0;
    while (sources [sources_count])
        sources_count++;
    for (int index = 0; index < count; index++) {
        int fd = testkit_connect_from (port, sources [index % sources_count],
                                       S_CONNECT_MS);
        ck_assert_msg (fd >= 0, "attacker connection %d failed: %s", index,
                       strerror (errno));
        if (greeting)
            (void) send (fd, greeting, strlen (greeting), MSG_NOSIGNAL);
        crowd->fds [crowd->count++] = fd;
    }
    return crowd;
}

//  Read what the server sent on connection index: note the status of a
//  response, and whether it closed.
static void
s_crowd_read (s_crowd_t *crowd, int index)
{
    char buffer [1024];
    ssize_t size = recv (crowd->fds [index], buffer, sizeof buffer - 1, MSG_DONTWAIT);
    if (size > 0) {
        buffer [size] = '\0';
        int code = 0;
        if (crowd->codes [index] == 0
        &&  sscanf (buffer, "HTTP/1.%*d %d", &code) == 1)
            crowd->codes [index] = code;
    }
    else
    if (size == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
        crowd->closed [index] = true;
}

//  Read from every connection until at least want of them are closed by
//  the server or timeout_ms passes (at least once, however short).
//  Returns how many are closed.
static int
s_crowd_settle (s_crowd_t *crowd, int want, int timeout_ms)
{
    struct pollfd *items = (struct pollfd *) calloc ((size_t) crowd->count,
                                                     sizeof (struct pollfd));
    int *which = (int *) calloc ((size_t) crowd->count, sizeof (int));
    int64_t until = enp_time_mono_ms () + timeout_ms;
    int closed = 0;
    for (bool first = true; true; first = false) {
        int waiting = 0;
        closed = 0;
        for (int index = 0; index < crowd->count; index++) {
            if (crowd->closed [index])
                closed++;
            else {
                items [waiting] = (struct pollfd) { .fd = crowd->fds [index],
                                                    .events = POLLIN };
                which [waiting++] = index;
            }
        }
        int64_t left = until - enp_time_mono_ms ();
        if (closed >= want || waiting == 0 || (left <= 0 && !first))
            break;
        left = left < 0? 0: left;
        if (poll (items, (nfds_t) waiting, left < 100? (int) left: 100) > 0)
            for (int item = 0; item < waiting; item++)
                if (items [item].revents)
                    s_crowd_read (crowd, which [item]);
    }
    free (which);
    free (items);
    return closed;
}

//  Count the connections that got a response with this status.
static int
s_crowd_count (s_crowd_t *crowd, int code)
{
    int count = 0;
    for (int index = 0; index < crowd->count; index++)
        count += crowd->codes [index] == code;
    return count;
}

//  The trickler: one byte on every connection, every S_TRICKLE_MS.
static void *
s_trickle (void *arg)
{
    s_crowd_t *crowd = (s_crowd_t *) arg;
    while (!atomic_load (&crowd->stop)) {
        for (int index = 0; index < crowd->count; index++)
            (void) send (crowd->fds [index], "1", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
        usleep (S_TRICKLE_MS * 1000);
    }
    return NULL;
}

//  Send a byte on every connection, every S_TRICKLE_MS, until stopped.
static void
s_crowd_trickle (s_crowd_t *crowd)
{
    ck_assert_int_eq (pthread_create (&crowd->trickler, NULL, s_trickle, crowd), 0);
    crowd->trickling = true;
}

//  Stop the trickler and close every connection.
static void
s_crowd_destroy (s_crowd_t **crowd_p)
{
    s_crowd_t *crowd = *crowd_p;
    if (crowd->trickling) {
        atomic_store (&crowd->stop, true);
        pthread_join (crowd->trickler, NULL);
    }
    for (int index = 0; index < crowd->count; index++)
        close (crowd->fds [index]);
    free (crowd);
    *crowd_p = NULL;
}

//  Send request from source on a connection of its own; return the status
//  answered, or 0 when the server closed without one.
static int
s_exchange (s_rig_t *rig, const char *source, const char *request, size_t size)
{
    int fd = testkit_connect_from (testkit_pipeline_http_port (rig->pipeline),
                                   source, S_CONNECT_MS);
    ck_assert_int_ge (fd, 0);
    struct timeval timeout = { .tv_sec = 10 };
    setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    //  The server may answer and close before all is sent
    for (size_t sent = 0; sent < size; ) {
        ssize_t rc = send (fd, request + sent, size - sent, MSG_NOSIGNAL);
        if (rc <= 0)
            break;
        sent += (size_t) rc;
    }
    shutdown (fd, SHUT_WR);
    char buffer [256] = "";
    ssize_t got = recv (fd, buffer, sizeof buffer - 1, 0);
    close (fd);
    int code = 0;
    if (got > 0) {
        buffer [got] = '\0';
        sscanf (buffer, "HTTP/1.%*d %d", &code);
    }
    return code;
}

static const char *const s_attacker [] = { "127.0.0.2", NULL };
static const char *const s_short_deadline [] = {
    "--request-timeout", "5000", NULL
};

//  The normal requests were answered while the attack still held the
//  connections the logger let it keep (not after the deadline freed them).
static void
s_assert_attack_holds (s_crowd_t *crowd)
{
    int closed = s_crowd_settle (crowd, crowd->count, 0);
    ck_assert_msg (closed < crowd->count, "every attacker connection was"
                   " closed before the normal requests were answered");
}

//  520 slow bodies: a 16,000-byte body declared, a byte sent every half
//  second. Over the cap they are refused at once; under it, each is cut
//  with 408 at the deadline though bytes keep coming.
START_TEST (test_hostile_http_slow_bodies)
{
    s_rig_t rig;
    s_rig_start (&rig, s_short_deadline);
    for (int index = 0; index < 4; index++)
        s_post (&rig);
    const char *head = "POST /events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                       "Content-Type: application/json\r\n"
                       "Content-Length: 16000\r\n\r\n{";
    s_crowd_t *crowd = s_crowd_new (&rig, s_attacker, 520, head);
    s_crowd_trickle (crowd);
    s_serve_normal_requests (&rig);
    s_assert_attack_holds (crowd);
    //  Still trickling: every one is closed by the server by the deadline
    int closed = s_crowd_settle (crowd, crowd->count, S_DEADLINE_MS + 5000);
    int cut = s_crowd_count (crowd, 408), refused = s_crowd_count (crowd, 429);
    fprintf (stderr, "hostile 'slow bodies': %d connections, %d refused (429),"
             " %d cut at the deadline (408), %d closed\n", crowd->count,
             refused, cut, closed);
    ck_assert_int_eq (closed, crowd->count);
    ck_assert_int_ge (cut, 1);
    ck_assert_int_le (cut, S_CAP);
    ck_assert_int_ge (refused, 1);
    s_crowd_destroy (&crowd);
    s_rig_finish (&rig, "slow bodies");
}
END_TEST

//  1,500 idle connections from one address: all but the cap are refused
//  at once, the rest closed at the deadline.
START_TEST (test_hostile_http_idle)
{
    s_rig_t rig;
    s_rig_start (&rig, s_short_deadline);
    for (int index = 0; index < 4; index++)
        s_post (&rig);
    s_crowd_t *crowd = s_crowd_new (&rig, s_attacker, 1500, NULL);
    s_serve_normal_requests (&rig);
    s_assert_attack_holds (crowd);
    int closed = s_crowd_settle (crowd, crowd->count, S_DEADLINE_MS + 5000);
    int refused = s_crowd_count (crowd, 429);
    fprintf (stderr, "hostile 'idle': %d connections, %d refused (429), %d"
             " closed\n", crowd->count, refused, closed);
    ck_assert_int_eq (closed, crowd->count);
    ck_assert_int_ge (refused, crowd->count - S_CAP - S_CAP);
    s_crowd_destroy (&crowd);
    s_rig_finish (&rig, "idle");
}
END_TEST

//  1,200 idle connections from 16 addresses, each under the cap but more
//  than the threads together, with the default 10 s deadline: the logger
//  closes idle connections once its threads run short, so a normal request
//  does not wait for the deadline.
START_TEST (test_hostile_http_idle_addresses)
{
    s_rig_t rig;
    s_rig_start (&rig, NULL);
    const char *sources [17];
    char names [16][16];
    for (int index = 0; index < 16; index++) {
        snprintf (names [index], sizeof names [index], "127.0.0.%d", 10 + index);
        sources [index] = names [index];
    }
    sources [16] = NULL;
    s_crowd_t *crowd = s_crowd_new (&rig, sources, 1200, NULL);
    s_serve_normal_requests (&rig);
    //  Those beyond the threads were taken in turn and closed idle
    int closed = s_crowd_settle (crowd, crowd->count - S_THREADS, 10000);
    fprintf (stderr, "hostile 'idle from 16 addresses': %d connections, %d"
             " closed while the deadline was still far\n", crowd->count, closed);
    ck_assert_int_ge (closed, crowd->count - S_THREADS);
    s_crowd_destroy (&crowd);
    s_rig_finish (&rig, "idle from 16 addresses");
}
END_TEST

//  A flood of requests on kept-alive connections from one address: the
//  cap's worth are served and kept, the rest answered 429.
START_TEST (test_hostile_http_flood)
{
    s_rig_t rig;
    s_rig_start (&rig, NULL);
    s_post (&rig);
    const char *request = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    s_crowd_t *crowd = s_crowd_new (&rig, s_attacker, 400, request);
    s_serve_normal_requests (&rig);
    s_assert_attack_holds (crowd);
    //  Every connection is answered: 200 and kept, or 429 and closed
    int64_t until = enp_time_mono_ms () + 10000;
    int answered = 0;
    while (answered < crowd->count && enp_time_mono_ms () < until) {
        s_crowd_settle (crowd, crowd->count, 100);
        answered = s_crowd_count (crowd, 200) + s_crowd_count (crowd, 429);
    }
    int served = s_crowd_count (crowd, 200), refused = s_crowd_count (crowd, 429);
    fprintf (stderr, "hostile 'flood': %d connections, %d served, %d refused"
             " (429)\n", crowd->count, served, refused);
    ck_assert_int_eq (served + refused, crowd->count);
    ck_assert_int_le (served, S_CAP);
    ck_assert_int_ge (served, 1);
    s_crowd_destroy (&crowd);
    s_rig_finish (&rig, "flood");
}
END_TEST

//  Requests built to break a parser: each is refused with a 4xx (or the
//  connection closed), and the logger goes on serving.
START_TEST (test_hostile_http_malformed)
{
    s_rig_t rig;
    s_rig_start (&rig, s_short_deadline);
    s_post (&rig);
    //  Deep JSON: arrays and objects nested 1,000 levels
    char deep [2200], request [2600];
    memset (deep, '[', 1000);
    deep [1000] = '\0';
    for (int kind = 0; kind < 2; kind++) {
        if (kind == 1) {
            deep [0] = '\0';
            for (int level = 0; level < 200; level++)
                strcat (deep, "{\"a\":");
        }
        int length = snprintf (request, sizeof request,
            "POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            "Content-Length: %zu\r\nConnection: close\r\n\r\n%s", strlen (deep), deep);
        ck_assert_int_eq (s_exchange (&rig, "127.0.0.2", request, (size_t) length), 400);
    }
    //  Headers over the 16 KiB limit
    size_t big = 20000;
    char *oversized = (char *) malloc (big + 128);
    int length = snprintf (oversized, 128, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ");
    memset (oversized + length, 'a', big);
    memcpy (oversized + length + big, "\r\n\r\n", 5);
    int code = s_exchange (&rig, "127.0.0.2", oversized, strlen (oversized));
    ck_assert_msg (code == 0 || (code >= 400 && code < 500), "oversized head: %d", code);
    //  Many header lines, garbage bytes, a NUL in the request line
    length = snprintf (oversized, big, "GET /healthz HTTP/1.1\r\nHost: x\r\n");
    for (int line = 0; line < 200; line++)
        length += snprintf (oversized + length, big - (size_t) length, "X-%d: v\r\n", line);
    length += snprintf (oversized + length, big - (size_t) length, "\r\n");
    code = s_exchange (&rig, "127.0.0.2", oversized, (size_t) length);
    ck_assert_msg (code == 0 || code == 200 || (code >= 400 && code < 500),
                   "200 header lines: %d", code);
    for (size_t index = 0; index < 4096; index++)
        oversized [index] = (char) (index * 7919 % 251 + 1);
    code = s_exchange (&rig, "127.0.0.2", oversized, 4096);
    ck_assert_msg (code == 0 || (code >= 400 && code < 500), "garbage: %d", code);
    static const char nul [] = "GET /heal\0thz HTTP/1.1\r\nHost: x\r\n\r\n";
    code = s_exchange (&rig, "127.0.0.2", nul, sizeof nul - 1);
    ck_assert_msg (code == 0 || (code >= 400 && code < 500), "NUL: %d", code);
    free (oversized);
    s_post (&rig);
    s_rig_finish (&rig, "malformed requests");
}
END_TEST

int
main (void)
{
    //  Thousands of attacker sockets, and as many on the logger's side
    struct rlimit limit;
    if (getrlimit (RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit (RLIMIT_NOFILE, &limit);
    }
    if (getrlimit (RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur < S_FILES_NEEDED) {
        fprintf (stderr, "test_hostile_http needs %d open files; the limit is %llu\n",
                 S_FILES_NEEDED, (unsigned long long) limit.rlim_cur);
        return EXIT_FAILURE;
    }
    const TTest *tests [] = {
        test_hostile_http_slow_bodies,
        test_hostile_http_idle,
        test_hostile_http_idle_addresses,
        test_hostile_http_flood,
        test_hostile_http_malformed,
        NULL
    };
    return testkit_run (testkit_suite ("hostile_http", 60, tests));
}
