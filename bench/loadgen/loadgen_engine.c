/*  loadgen_engine - keep-alive connections driven by one epoll loop, each
    sending the same POST with at most one request in flight

    Plain non-blocking sockets, epoll and a timerfd in one thread: the
    client must cost far less than the server it measures. The timer wakes
    the loop at the next scheduled send; socket events finish writes and
    parse answers.
*/
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>
#include "loadgen_engine.h"
#include "loadgen_util.h"

#define S_EVENTS 256            //  epoll events handled per wait

struct _loadgen_engine_t {
    const loadgen_options_t *options;   //  borrowed
    int epoll;                  //  epoll descriptor
    int timer;                  //  timerfd for scheduled sends
    loadgen_conn_t *conns;      //  options->conns connections
    char *request;              //  the whole POST, sent on every request
    size_t request_len;
    loadgen_stats_t stats;
};

//  Build the POST every connection sends.
static void
s_build_request (loadgen_engine_t *self)
{
    const loadgen_options_t *options = self->options;
    size_t body_len = strlen (options->body);
    size_t capacity = body_len + strlen (options->path) + strlen (options->content_type) + 256;
    self->request = loadgen_malloc (capacity);
    int size = snprintf (self->request, capacity,
                         "POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: %s\r\n"
                         "Content-Length: %zu\r\n\r\n%s",
                         options->path, options->host, options->port,
                         options->content_type, body_len, options->body);
    self->request_len = (size_t) size;
}

//  Connect conn and watch it for input. Returns 0 or -1 (counted).
static int
s_conn_open (loadgen_engine_t *self, loadgen_conn_t *conn)
{
    int fd = loadgen_connect (self->options->host, self->options->port);
    if (fd < 0) {
        self->stats.conn_errors++;
        return -1;
    }
    int flags = fcntl (fd, F_GETFL, 0);
    if (flags < 0 || fcntl (fd, F_SETFL, flags | O_NONBLOCK) != 0) {
        close (fd);
        self->stats.conn_errors++;
        return -1;
    }
    conn->fd = fd;
    conn->state = LOADGEN_CONN_IDLE;
    conn->rlen = 0;
    conn->woff = 0;
    struct epoll_event event = { .events = EPOLLIN, .data.ptr = conn };
    if (epoll_ctl (self->epoll, EPOLL_CTL_ADD, fd, &event) != 0) {
        close (fd);
        conn->fd = -1;
        conn->state = LOADGEN_CONN_DOWN;
        return -1;
    }
    return 0;
}

//  Watch conn for room to write too, or stop.
static void
s_conn_want_write (loadgen_engine_t *self, loadgen_conn_t *conn, int on)
{
    struct epoll_event event = { .events = EPOLLIN | (on? EPOLLOUT: 0), .data.ptr = conn };
    epoll_ctl (self->epoll, EPOLL_CTL_MOD, conn->fd, &event);
}

//  Push the rest of the request. Returns 0 (maybe partial: then EPOLLOUT
//  is on) or -1 on error.
static int
s_conn_flush (loadgen_engine_t *self, loadgen_conn_t *conn)
{
    while (conn->woff < self->request_len) {
        ssize_t sent = send (conn->fd, self->request + conn->woff,
                             self->request_len - conn->woff, MSG_NOSIGNAL);
        if (sent > 0) {
            conn->woff += (size_t) sent;
            continue;
        }
        if (sent < 0 && errno == EINTR)
            continue;
        if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            s_conn_want_write (self, conn, 1);
            return 0;
        }
        return -1;
    }
    return 0;
}

//  Receive what is there into conn's buffer. Returns 1 when the peer
//  closed (or the socket failed), else 0.
static int
s_conn_receive (loadgen_conn_t *conn)
{
    while (1) {
        if (conn->rcap - conn->rlen < 4096) {
            conn->rcap = conn->rcap? conn->rcap * 2: 16384;
            conn->rbuf = realloc (conn->rbuf, conn->rcap);
            if (!conn->rbuf)
                loadgen_die ("out of memory");
        }
        size_t space = conn->rcap - conn->rlen;
        ssize_t received = recv (conn->fd, conn->rbuf + conn->rlen, space, 0);
        if (received > 0) {
            conn->rlen += (size_t) received;
            if ((size_t) received < space)
                return 0;       //  drained
            continue;
        }
        if (received == 0)
            return 1;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        return 1;
    }
}

//  Read what is there and call on_response for each complete answer.
//  Returns -1 when the connection died with a request in flight.
static int
s_conn_read (loadgen_engine_t *self, loadgen_conn_t *conn,
             loadgen_response_fn *on_response, void *arg)
{
    int eof = s_conn_receive (conn);
    uint64_t now = loadgen_now_ns ();
    while (conn->rlen > 0) {
        loadgen_http_response_t response;
        int status = loadgen_http_parse (conn->rbuf, conn->rlen, eof, &response);
        if (status == 0)
            break;
        if (status < 0) {
            int busy = conn->state == LOADGEN_CONN_BUSY;
            loadgen_engine_close (self, conn);
            if (busy)
                return -1;
            self->stats.errors++;
            return 0;
        }
        int was_busy = conn->state == LOADGEN_CONN_BUSY;
        conn->state = LOADGEN_CONN_IDLE;
        if (was_busy)
            on_response (arg, conn, &response, now);
        int closing = response.close;
        size_t used = response.consumed;
        loadgen_http_response_free (&response);
        memmove (conn->rbuf, conn->rbuf + used, conn->rlen - used);
        conn->rlen -= used;
        if (closing) {
            loadgen_engine_close (self, conn);
            return 0;
        }
    }
    if (eof) {
        int busy = conn->state == LOADGEN_CONN_BUSY;
        loadgen_engine_close (self, conn);
        if (busy) {
            self->stats.conn_errors++;
            return -1;
        }
    }
    return 0;
}

loadgen_engine_t *
loadgen_engine_new (const loadgen_options_t *options)
{
    loadgen_engine_t *self = (loadgen_engine_t *) loadgen_calloc (1, sizeof *self);
    self->options = options;
    self->epoll = epoll_create1 (EPOLL_CLOEXEC);
    self->timer = timerfd_create (CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (self->epoll < 0 || self->timer < 0)
        loadgen_die ("epoll/timerfd");
    struct epoll_event event = { .events = EPOLLIN, .data.ptr = NULL };
    epoll_ctl (self->epoll, EPOLL_CTL_ADD, self->timer, &event);
    self->conns = loadgen_calloc ((size_t) options->conns, sizeof *self->conns);
    for (int index = 0; index < options->conns; index++) {
        self->conns [index].fd = -1;
        self->conns [index].state = LOADGEN_CONN_DOWN;
    }
    for (int index = 0; index < options->conns; index++)
        if (s_conn_open (self, &self->conns [index]) != 0)
            loadgen_die ("cannot connect to the target");
    s_build_request (self);
    return self;
}

void
loadgen_engine_destroy (loadgen_engine_t **self_p)
{
    assert (self_p);
    loadgen_engine_t *self = *self_p;
    if (!self)
        return;
    for (int index = 0; index < self->options->conns; index++) {
        loadgen_engine_close (self, &self->conns [index]);
        free (self->conns [index].rbuf);
    }
    free (self->conns);
    free (self->request);
    close (self->timer);
    close (self->epoll);
    free (self);
    *self_p = NULL;
}

size_t
loadgen_engine_size (loadgen_engine_t *self)
{
    assert (self);
    return (size_t) self->options->conns;
}

loadgen_conn_t *
loadgen_engine_conn (loadgen_engine_t *self, size_t index)
{
    assert (self);
    assert (index < (size_t) self->options->conns);
    return &self->conns [index];
}

loadgen_stats_t *
loadgen_engine_stats (loadgen_engine_t *self)
{
    assert (self);
    return &self->stats;
}

int
loadgen_engine_send (loadgen_engine_t *self, loadgen_conn_t *conn, uint64_t sched)
{
    assert (self);
    if (conn->state == LOADGEN_CONN_DOWN && s_conn_open (self, conn) != 0)
        return -1;
    conn->state = LOADGEN_CONN_BUSY;
    conn->sched = sched;
    conn->woff = 0;
    if (s_conn_flush (self, conn) != 0) {
        self->stats.conn_errors++;
        loadgen_engine_close (self, conn);
        return -1;
    }
    return 0;
}

void
loadgen_engine_close (loadgen_engine_t *self, loadgen_conn_t *conn)
{
    assert (self);
    if (conn->fd >= 0) {
        epoll_ctl (self->epoll, EPOLL_CTL_DEL, conn->fd, NULL);
        close (conn->fd);
    }
    conn->fd = -1;
    conn->state = LOADGEN_CONN_DOWN;
    conn->rlen = 0;
    conn->woff = 0;
}

void
loadgen_engine_arm (loadgen_engine_t *self, uint64_t at)
{
    assert (self);
    struct itimerspec spec;
    memset (&spec, 0, sizeof spec);
    if (at == 0)
        at = 1;                 //  0 would disarm the timer
    spec.it_value.tv_sec = (time_t) (at / LOADGEN_NS_PER_S);
    spec.it_value.tv_nsec = (long) (at % LOADGEN_NS_PER_S);
    timerfd_settime (self->timer, TFD_TIMER_ABSTIME, &spec, NULL);
}

void
loadgen_engine_wait (loadgen_engine_t *self, loadgen_response_fn *on_response,
                     loadgen_lost_fn *on_lost, void *arg)
{
    assert (self);
    struct epoll_event events [S_EVENTS];
    int count = epoll_wait (self->epoll, events, S_EVENTS, 200);
    for (int index = 0; index < count; index++) {
        loadgen_conn_t *conn = events [index].data.ptr;
        if (conn == NULL) {
            uint64_t expirations;
            while (read (self->timer, &expirations, sizeof expirations) > 0)
                ;
            continue;
        }
        if (conn->fd < 0)
            continue;
        if (events [index].events & EPOLLOUT) {
            if (s_conn_flush (self, conn) != 0) {
                self->stats.conn_errors++;
                int busy = conn->state == LOADGEN_CONN_BUSY;
                loadgen_engine_close (self, conn);
                if (busy && on_lost)
                    on_lost (arg, conn);
                continue;
            }
            if (conn->woff >= self->request_len)
                s_conn_want_write (self, conn, 0);
        }
        if (events [index].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
            if (s_conn_read (self, conn, on_response, arg) < 0 && on_lost)
                on_lost (arg, conn);
        }
    }
}
