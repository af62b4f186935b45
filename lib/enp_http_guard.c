/*  enp_http_guard - bounds how long, and how many at once, connections hold
    the threads of a CivetWeb server

    CivetWeb 1.15 gives each connection a worker thread for its whole life,
    and bounds each read, not a request: a client sending a byte every few
    seconds holds a thread for as long as it likes, and a few hundred such
    clients, or a few thousand idle ones, leave nothing for anyone else.
    This class keeps three rules, from CivetWeb's init_connection and
    connection_close callbacks and the router:

    - A deadline for the whole request, head and body, counted from when
      the server starts waiting for it (the connection's start, or the
      previous response on a kept-alive connection). A watchdog thread
      shuts the receiving side of a connection past its deadline, which
      ends CivetWeb's blocked read at once; the router then answers 408.
    - A cap on the connections one client address holds: over it, a
      connection is refused as soon as a worker takes it, so a single
      address cannot take more than a share of the threads.
    - When nearly every thread is taken, connections that have waited
      100 ms for a request without sending one whole (idle kept-alive
      ones, or ones that trickle a head), and hold nothing unread, are
      closed, so real requests get threads: a real client sends its
      request at once. Closing an idle connection is always allowed in
      HTTP.

    CivetWeb does not hand its callbacks the socket, so the guard finds it:
    the descriptor whose local port and peer address match what CivetWeb
    reports. It runs once per connection, on the worker thread, skipping the
    descriptors of connections already tracked. A connection whose socket is
    not found is still counted; only its deadline is then CivetWeb's own
    (request_timeout_ms per read).
*/
#include <assert.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include "enp_http_guard.h"
#include "enp_log.h"
#include "enp_time.h"

#define S_TICK_MS           50      //  watchdog period: the deadline's precision
#define S_SHED_IDLE_MS      100     //  under pressure, waited this long: closed
#define S_LOG_INTERVAL_MS   10000   //  counters logged at most this often
#define S_FD_BITS           65536   //  descriptors the tracked set covers
#define S_FD_GAP            4096    //  closed descriptors in a row end a search
#define S_ADDRESS_SIZE      64      //  bytes of an address's text

typedef enum {
    S_FREE = 0,                     //  no connection
    S_WAITING,                      //  for a request head
    S_RECEIVING,                    //  a request body, head arrived
    S_RECEIVED,                     //  the request is whole; no deadline
    S_CUT                           //  receiving side shut by the watchdog
} s_state_t;

typedef struct {
    s_state_t state;
    int fd;                         //  the connection's socket, or -1
    char address [S_ADDRESS_SIZE];  //  the client's, as CivetWeb writes it
    int64_t since;                  //  monotonic ms: started waiting
    int64_t deadline;               //  monotonic ms: the request is due
    bool expired;                   //  cut at the deadline, or shed
} s_slot_t;

struct _enp_http_guard_t {
    char *name;                     //  for the log
    int threads;                    //  slots
    int max_per_client;             //  0: no cap
    long deadline_ms;
    int reserve;                    //  fewer free threads: shed idle ones
    pthread_mutex_t mutex;          //  guards everything below
    pthread_cond_t wake;            //  on the monotonic clock
    bool stopping;
    bool watching;                  //  the watchdog runs
    pthread_t watchdog;
    s_slot_t *slots;
    int open;                       //  slots in use
    enp_http_guard_stats_t stats;
    enp_http_guard_stats_t logged;  //  the counters last logged
    int64_t logged_at;              //  monotonic ms
    //  Descriptors of open slots, which a search need not look at; read
    //  without the mutex, so atomic
    _Atomic uint64_t tracked [S_FD_BITS / 64];
};

//  Mark or unmark fd as a tracked connection's.
static void
s_track (enp_http_guard_t *self, int fd, bool on)
{
    if (fd < 0 || fd >= S_FD_BITS)
        return;
    uint64_t bit = (uint64_t) 1 << (fd % 64);
    if (on)
        atomic_fetch_or (&self->tracked [fd / 64], bit);
    else
        atomic_fetch_and (&self->tracked [fd / 64], ~bit);
}

//  True when fd belongs to a tracked connection.
static bool
s_tracked (enp_http_guard_t *self, int fd)
{
    return fd < S_FD_BITS
        && (atomic_load (&self->tracked [fd / 64]) >> (fd % 64)) & 1;
}

//  Return the port of an IPv4 or IPv6 address, or -1.
static int
s_port_of (const struct sockaddr_storage *address)
{
    if (address->ss_family == AF_INET)
        return ntohs (((const struct sockaddr_in *) address)->sin_port);
    if (address->ss_family == AF_INET6)
        return ntohs (((const struct sockaddr_in6 *) address)->sin6_port);
    return -1;
}

//  Look at descriptor fd: 1 when it is a TCP connection from address:port
//  to local_port, 0 when it is something else, -1 when it is not open.
static int
s_probe (int fd, const char *address, int port, int local_port)
{
    struct sockaddr_storage local, peer;
    socklen_t length = sizeof local;
    if (getsockname (fd, (struct sockaddr *) &local, &length) != 0)
        return errno == EBADF? -1: 0;
    if (s_port_of (&local) != local_port)
        return 0;
    length = sizeof peer;
    if (getpeername (fd, (struct sockaddr *) &peer, &length) != 0
    ||  s_port_of (&peer) != port)
        return 0;
    //  The same conversion CivetWeb makes of the address it accepted
    char text [S_ADDRESS_SIZE];
    return getnameinfo ((struct sockaddr *) &peer, length, text, sizeof text,
                        NULL, 0, NI_NUMERICHOST) == 0
        && strcmp (text, address) == 0;
}

//  Find the socket of a connection CivetWeb reports by its addresses:
//  accept() gave it the lowest free descriptor, so it is near the start.
//  Returns the descriptor, or -1.
static int
s_find_fd (enp_http_guard_t *self, const char *address, int port,
           int local_port)
{
    struct rlimit limit;
    long last = 1024;
    if (getrlimit (RLIMIT_NOFILE, &limit) == 0)
        last = limit.rlim_cur < INT32_MAX? (long) limit.rlim_cur: INT32_MAX;
    //  A long run of closed descriptors: none further is open
    int gap = 0;
    for (int fd = 0; fd < last && gap < S_FD_GAP; fd++) {
        if (s_tracked (self, fd))
            continue;
        int probe = s_probe (fd, address, port, local_port);
        if (probe == 1)
            return fd;
        gap = probe < 0? gap + 1: 0;
    }
    return -1;
}

//  Shut the receiving side of a slot's connection: CivetWeb's read in
//  progress, or its next, returns at once. Sending still works, so the
//  client can be told why.
static void
s_cut (s_slot_t *slot)
{
    if (slot->fd >= 0)
        shutdown (slot->fd, SHUT_RD);
    slot->state = S_CUT;
    slot->expired = true;
}

//  True when the slot's socket holds bytes its thread has not read yet: a
//  request that came, on a machine too busy to have read it.
static bool
s_unread (s_slot_t *slot)
{
    int pending = 0;
    return slot->fd >= 0 && ioctl (slot->fd, FIONREAD, &pending) == 0
        && pending > 0;
}

//  Count the open slots of an address.
static int
s_count (enp_http_guard_t *self, const char *address)
{
    int count = 0;
    for (int index = 0; index < self->threads; index++)
        if (self->slots [index].state != S_FREE
        &&  strcmp (self->slots [index].address, address) == 0)
            count++;
    return count;
}

//  Log what the guard did since it last said, at most every 10 s.
static void
s_log_counters (enp_http_guard_t *self, int64_t now)
{
    if (now - self->logged_at < S_LOG_INTERVAL_MS)
        return;
    enp_http_guard_stats_t *stats = &self->stats, *logged = &self->logged;
    if (stats->refused != logged->refused || stats->expired != logged->expired
    ||  stats->shed != logged->shed)
        enp_log_warn ("%s: in the last %d s, %lu connections refused over the"
                      " cap of %d per client address, %lu requests not received"
                      " within %ld ms (408), %lu idle connections closed to"
                      " free threads", self->name, S_LOG_INTERVAL_MS / 1000,
                      stats->refused - logged->refused, self->max_per_client,
                      stats->expired - logged->expired, self->deadline_ms,
                      stats->shed - logged->shed);
    *logged = *stats;
    self->logged_at = now;
}

//  One round of the watchdog, under the mutex: cut what is past its
//  deadline; when nearly every thread is taken, close connections that
//  have waited a while without sending a request.
static void
s_patrol (enp_http_guard_t *self, int64_t now)
{
    bool pressed = self->threads - self->open < self->reserve;
    for (int index = 0; index < self->threads; index++) {
        s_slot_t *slot = &self->slots [index];
        if ((slot->state == S_WAITING || slot->state == S_RECEIVING)
        &&  now >= slot->deadline) {
            s_cut (slot);
            self->stats.expired++;
        }
        else
        if (pressed && slot->state == S_WAITING
        &&  now - slot->since >= S_SHED_IDLE_MS && !s_unread (slot)) {
            s_cut (slot);
            self->stats.shed++;
        }
    }
    s_log_counters (self, now);
}

//  The watchdog thread.
static void *
s_watch (void *arg)
{
    enp_http_guard_t *self = (enp_http_guard_t *) arg;
    pthread_mutex_lock (&self->mutex);
    while (!self->stopping) {
        struct timespec until;
        clock_gettime (CLOCK_MONOTONIC, &until);
        until.tv_nsec += S_TICK_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait (&self->wake, &self->mutex, &until);
        if (!self->stopping)
            s_patrol (self, enp_time_mono_ms ());
    }
    pthread_mutex_unlock (&self->mutex);
    return NULL;
}

//  Create a guard.
enp_http_guard_t *
enp_http_guard_new (const enp_http_guard_options_t *options)
{
    assert (options);
    assert (options->threads >= 1);
    enp_http_guard_t *self = (enp_http_guard_t *) calloc (1, sizeof (enp_http_guard_t));
    if (!self)
        return NULL;
    self->name = strdup (options->name? options->name: "http");
    self->threads = options->threads;
    self->max_per_client = options->max_per_client;
    self->deadline_ms = options->deadline_ms;
    //  An eighth of the threads, so a busy server sheds before it is full
    self->reserve = options->threads / 8 > 1? options->threads / 8: 1;
    self->slots = (s_slot_t *) calloc ((size_t) options->threads, sizeof (s_slot_t));
    self->logged_at = enp_time_mono_ms ();
    for (size_t index = 0; index < S_FD_BITS / 64; index++)
        atomic_init (&self->tracked [index], 0);
    pthread_condattr_t attributes;
    pthread_condattr_init (&attributes);
    pthread_condattr_setclock (&attributes, CLOCK_MONOTONIC);
    pthread_mutex_init (&self->mutex, NULL);
    pthread_cond_init (&self->wake, &attributes);
    pthread_condattr_destroy (&attributes);
    if (self->name && self->slots)
        self->watching = pthread_create (&self->watchdog, NULL, s_watch, self) == 0;
    if (!self->watching)
        enp_http_guard_destroy (&self);
    return self;
}

//  Stop the watchdog and free the guard.
void
enp_http_guard_destroy (enp_http_guard_t **self_p)
{
    assert (self_p);
    if (!*self_p)
        return;
    enp_http_guard_t *self = *self_p;
    if (self->watching) {
        pthread_mutex_lock (&self->mutex);
        self->stopping = true;
        pthread_cond_signal (&self->wake);
        pthread_mutex_unlock (&self->mutex);
        pthread_join (self->watchdog, NULL);
    }
    pthread_cond_destroy (&self->wake);
    pthread_mutex_destroy (&self->mutex);
    free (self->slots);
    free (self->name);
    free (self);
    *self_p = NULL;
}

//  Start tracking a connection, or refuse it.
int
enp_http_guard_open (enp_http_guard_t *self, const char *address, int port,
                     int local_port)
{
    assert (self);
    assert (address);
    //  Found before locking: the search makes a few system calls per
    //  descriptor, and only this thread can close this socket
    int fd = s_find_fd (self, address, port, local_port);
    int64_t now = enp_time_mono_ms ();
    pthread_mutex_lock (&self->mutex);
    int found = -1;
    bool over = self->max_per_client > 0
             && s_count (self, address) >= self->max_per_client;
    for (int index = 0; !over && index < self->threads && found < 0; index++)
        if (self->slots [index].state == S_FREE)
            found = index;
    if (found >= 0) {
        s_slot_t *slot = &self->slots [found];
        memset (slot, 0, sizeof *slot);
        slot->state = S_WAITING;
        slot->fd = fd;
        snprintf (slot->address, sizeof slot->address, "%s", address);
        slot->since = now;
        slot->deadline = now + self->deadline_ms;
        s_track (self, fd, true);
        self->open++;
    }
    else
    if (over) {
        self->stats.refused++;
        if (fd >= 0)
            shutdown (fd, SHUT_RD);
    }
    pthread_mutex_unlock (&self->mutex);
    if (fd < 0)
        enp_log_debug ("%s: socket of %s:%d not found; it has CivetWeb's"
                       " timeouts only", self->name, address, port);
    //  No free slot cannot happen (one per thread); serve it untracked
    return over? ENP_HTTP_GUARD_REFUSED: found;
}

//  Forget a connection.
void
enp_http_guard_close (enp_http_guard_t *self, int slot)
{
    assert (self);
    if (slot < 0 || slot >= self->threads)
        return;
    pthread_mutex_lock (&self->mutex);
    s_slot_t *entry = &self->slots [slot];
    if (entry->state != S_FREE) {
        s_track (self, entry->fd, false);
        entry->state = S_FREE;
        self->open--;
    }
    pthread_mutex_unlock (&self->mutex);
}

//  Move a slot to state, unless the watchdog cut it.
static void
s_move (enp_http_guard_t *self, int slot, s_state_t state)
{
    if (slot < 0 || slot >= self->threads)
        return;
    pthread_mutex_lock (&self->mutex);
    s_slot_t *entry = &self->slots [slot];
    if (entry->state != S_CUT) {
        entry->state = state;
        if (state == S_WAITING) {
            entry->since = enp_time_mono_ms ();
            entry->deadline = entry->since + self->deadline_ms;
        }
    }
    pthread_mutex_unlock (&self->mutex);
}

//  A request's head arrived.
void
enp_http_guard_head (enp_http_guard_t *self, int slot, bool body_pending)
{
    assert (self);
    s_move (self, slot, body_pending? S_RECEIVING: S_RECEIVED);
}

//  The request arrived whole.
void
enp_http_guard_received (enp_http_guard_t *self, int slot)
{
    assert (self);
    s_move (self, slot, S_RECEIVED);
}

//  A response was sent; wait for the next request.
void
enp_http_guard_wait (enp_http_guard_t *self, int slot)
{
    assert (self);
    s_move (self, slot, S_WAITING);
}

//  True when the request did not arrive whole in time.
bool
enp_http_guard_expired (enp_http_guard_t *self, int slot)
{
    assert (self);
    if (slot < 0 || slot >= self->threads)
        return false;
    pthread_mutex_lock (&self->mutex);
    s_slot_t *entry = &self->slots [slot];
    //  CivetWeb's own timeout may see it before the watchdog does
    bool expired = entry->expired
        || ((entry->state == S_WAITING || entry->state == S_RECEIVING)
            && enp_time_mono_ms () >= entry->deadline);
    pthread_mutex_unlock (&self->mutex);
    return expired;
}

//  Copy the counters.
void
enp_http_guard_stats (enp_http_guard_t *self, enp_http_guard_stats_t *stats)
{
    assert (self);
    assert (stats);
    pthread_mutex_lock (&self->mutex);
    *stats = self->stats;
    pthread_mutex_unlock (&self->mutex);
}
