/*
 * loadgen: a small HTTP/1.1 keep-alive load generator for the event pipeline.
 *
 * Plain sockets + epoll + timerfd, one thread.  Loopback targets only.
 *
 *   loadgen rate  --url http://127.0.0.1:P --rate R --conns C --duration D
 *       Constant offered rate R req/s over C connections (each connection
 *       sends every C/R seconds, one request in flight).  Latency is measured
 *       from the *scheduled* send time (wrk2-style, coordinated omission
 *       corrected).  Prints p50/p99/p99.9/max and the achieved rate.
 *
 *   loadgen burst --url http://127.0.0.1:P --events N --conns C --timeout T
 *       Posts N events as fast as they are accepted, records each event_id
 *       (Location: /events/<id>), then waits until all are processed and
 *       reads them back (GET /events?status=processed&limit=1000&after=...)
 *       to compute end-to-end time and create->processed latency
 *       (updated_at - created_at).  --post-only stops after posting.
 *
 * Machine-readable summary: one line starting with "RESULT ".
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define NS_PER_S 1000000000ULL
#define NS_PER_MS 1000000ULL
#define MAX_CONNS 4096
#define ID_MAX 64

/* ------------------------------------------------------------------ config */

struct config {
    const char *mode;
    const char *url;
    char host[64];
    int port;
    const char *path;
    const char *body;
    const char *content_type;
    double rate;
    int conns;
    double duration;
    double warmup;
    double drain;
    long events;
    double timeout;
    int poll_ms;
    int post_only;
    const char *poll;
    int timeline;
};

static struct config cfg = {
    .path = "/events",
    .body = "{\"user_id\":\"u1\",\"description\":\"bench\"}",
    .content_type = "application/json",
    .rate = 1000,
    .conns = 64,
    .duration = 10,
    .warmup = 1,
    .drain = 10,
    .events = 10000,
    .timeout = 300,
    .poll_ms = 100,
    .poll = "list",
};

static volatile sig_atomic_t interrupted = 0;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static double wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void die(const char *msg)
{
    fprintf(stderr, "loadgen: %s\n", msg);
    exit(2);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        die("out of memory");
    return p;
}

static void *xcalloc(size_t n, size_t sz)
{
    void *p = calloc(n ? n : 1, sz ? sz : 1);
    if (!p)
        die("out of memory");
    return p;
}

/* Only loopback targets are allowed: this tool never sends load elsewhere. */
static void parse_url(const char *url)
{
    const char *p = url;
    if (strncmp(p, "http://", 7) != 0)
        die("--url must start with http://");
    p += 7;
    const char *colon = strchr(p, ':');
    const char *slash = strchr(p, '/');
    size_t hlen = colon ? (size_t)(colon - p) : (slash ? (size_t)(slash - p) : strlen(p));
    if (hlen == 0 || hlen >= sizeof cfg.host)
        die("bad host in --url");
    memcpy(cfg.host, p, hlen);
    cfg.host[hlen] = 0;
    cfg.port = colon ? atoi(colon + 1) : 80;
    if (cfg.port <= 0 || cfg.port > 65535)
        die("bad port in --url");
    if (strcmp(cfg.host, "localhost") == 0)
        strcpy(cfg.host, "127.0.0.1");
    struct in_addr a;
    if (inet_pton(AF_INET, cfg.host, &a) != 1)
        die("--url host must be an IPv4 literal (127.x.x.x) or localhost");
    if ((ntohl(a.s_addr) >> 24) != 127)
        die("refusing a non-loopback target: only 127.0.0.0/8 is allowed");
}

static int connect_once(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)cfg.port);
    inet_pton(AF_INET, cfg.host, &sa.sin_addr);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

/* ------------------------------------------------------------ HTTP parser */

struct http_resp {
    int status;
    size_t consumed;   /* bytes of the whole message in the buffer */
    const char *body;  /* points into the buffer, or into dechunked */
    size_t body_len;
    char *dechunked;   /* malloc'd when Transfer-Encoding: chunked */
    char location[160];
    int retry_after;   /* seconds, -1 if absent */
    int close;         /* Connection: close */
};

static void http_resp_free(struct http_resp *r)
{
    free(r->dechunked);
    r->dechunked = NULL;
}

static int hdr_is(const char *line, size_t len, const char *name, const char **val, size_t *vlen)
{
    size_t n = strlen(name);
    if (len <= n || line[n] != ':' || strncasecmp(line, name, n) != 0)
        return 0;
    const char *v = line + n + 1;
    const char *e = line + len;
    while (v < e && (*v == ' ' || *v == '\t'))
        v++;
    while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    *val = v;
    *vlen = (size_t)(e - v);
    return 1;
}

/* 1 complete, 0 need more, -1 malformed.  eof: the peer closed. */
static int http_parse(const char *buf, size_t len, int eof, struct http_resp *r)
{
    memset(r, 0, sizeof *r);
    r->retry_after = -1;
    const char *end = memmem(buf, len, "\r\n\r\n", 4);
    if (!end)
        return eof ? -1 : 0;
    size_t hdr_len = (size_t)(end - buf) + 4;
    if (len < 12 || strncmp(buf, "HTTP/1.", 7) != 0)
        return -1;
    r->status = atoi(buf + 9);
    if (r->status < 100 || r->status > 999)
        return -1;

    long clen = -1;
    int chunked = 0;
    const char *line = memchr(buf, '\n', hdr_len);
    line = line ? line + 1 : buf + hdr_len;
    while (line < buf + hdr_len - 2) {
        const char *nl = memmem(line, (size_t)(buf + hdr_len - line), "\r\n", 2);
        if (!nl)
            break;
        size_t ll = (size_t)(nl - line);
        const char *v;
        size_t vl;
        if (hdr_is(line, ll, "Content-Length", &v, &vl)) {
            clen = strtol(v, NULL, 10);
        } else if (hdr_is(line, ll, "Transfer-Encoding", &v, &vl)) {
            if (vl >= 7 && memmem(v, vl, "chunked", 7))
                chunked = 1;
        } else if (hdr_is(line, ll, "Location", &v, &vl)) {
            if (vl >= sizeof r->location)
                vl = sizeof r->location - 1;
            memcpy(r->location, v, vl);
            r->location[vl] = 0;
        } else if (hdr_is(line, ll, "Retry-After", &v, &vl)) {
            r->retry_after = atoi(v);
        } else if (hdr_is(line, ll, "Connection", &v, &vl)) {
            if (vl >= 5 && strncasecmp(v, "close", 5) == 0)
                r->close = 1;
        }
        line = nl + 2;
    }

    if (chunked) {
        /* pass 1: find the end; pass 2: copy */
        size_t pos = hdr_len, total = 0;
        for (;;) {
            const char *nl = memmem(buf + pos, len - pos, "\r\n", 2);
            if (!nl)
                return eof ? -1 : 0;
            unsigned long sz = strtoul(buf + pos, NULL, 16);
            size_t data = (size_t)(nl - buf) + 2;
            if (sz == 0) {
                if (data + 2 <= len && buf[data] == '\r' && buf[data + 1] == '\n') {
                    r->consumed = data + 2;
                } else {
                    const char *t = memmem(buf + data, len - data, "\r\n\r\n", 4);
                    if (!t)
                        return eof ? -1 : 0;
                    r->consumed = (size_t)(t - buf) + 4;
                }
                break;
            }
            if (data + sz + 2 > len)
                return eof ? -1 : 0;
            total += sz;
            pos = data + sz + 2;
        }
        r->dechunked = xmalloc(total + 1);
        size_t off = 0;
        pos = hdr_len;
        for (;;) {
            const char *nl = memmem(buf + pos, len - pos, "\r\n", 2);
            unsigned long sz = strtoul(buf + pos, NULL, 16);
            size_t data = (size_t)(nl - buf) + 2;
            if (sz == 0)
                break;
            memcpy(r->dechunked + off, buf + data, sz);
            off += sz;
            pos = data + sz + 2;
        }
        r->dechunked[off] = 0;
        r->body = r->dechunked;
        r->body_len = off;
        return 1;
    }
    if (clen >= 0) {
        if (len < hdr_len + (size_t)clen)
            return eof ? -1 : 0;
        r->body = buf + hdr_len;
        r->body_len = (size_t)clen;
        r->consumed = hdr_len + (size_t)clen;
        return 1;
    }
    if (r->status == 204 || r->status == 304 || r->status < 200) {
        r->consumed = hdr_len;
        r->body = buf + hdr_len;
        return 1;
    }
    /* delimited by close */
    if (!eof)
        return 0;
    r->body = buf + hdr_len;
    r->body_len = len - hdr_len;
    r->consumed = len;
    r->close = 1;
    return 1;
}

/* ---------------------------------------------------------- latency stats */

struct lat {
    uint64_t *v;
    size_t n, cap;
};

static void lat_add(struct lat *l, uint64_t x)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 65536;
        uint64_t *nv = realloc(l->v, l->cap * sizeof *nv);
        if (!nv)
            die("out of memory");
        l->v = nv;
    }
    l->v[l->n++] = x;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* nearest-rank percentile of a sorted array */
static uint64_t pct(const struct lat *l, double p)
{
    if (l->n == 0)
        return 0;
    size_t rank = (size_t)((p / 100.0) * (double)l->n + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > l->n)
        rank = l->n;
    return l->v[rank - 1];
}

/* --------------------------------------------------------- the conn engine */

enum { C_DOWN, C_IDLE, C_BUSY };

struct conn {
    int fd;
    int state;
    size_t woff;
    char *rbuf;
    size_t rlen, rcap;
    uint64_t sched; /* scheduled (rate) or actual (burst) send time of the in-flight request */
    uint64_t next;  /* earliest time this connection may send next */
    long idx;       /* burst: event index in flight */
};

static char *request;
static size_t request_len;
static int ep = -1;
static int tfd = -1;
static struct conn *conns;
static long stat_errors, stat_conn_errors, stat_non2xx;

static void build_request(void)
{
    size_t blen = strlen(cfg.body);
    size_t cap = blen + strlen(cfg.path) + strlen(cfg.content_type) + 256;
    request = xmalloc(cap);
    int n = snprintf(request, cap,
                     "POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: %s\r\n"
                     "Content-Length: %zu\r\n\r\n%s",
                     cfg.path, cfg.host, cfg.port, cfg.content_type, blen, cfg.body);
    request_len = (size_t)n;
}

static void conn_close(struct conn *c)
{
    if (c->fd >= 0) {
        epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
    }
    c->fd = -1;
    c->state = C_DOWN;
    c->rlen = 0;
    c->woff = 0;
}

static int conn_open(struct conn *c)
{
    int fd = connect_once();
    if (fd < 0) {
        stat_conn_errors++;
        return -1;
    }
    int fl = fcntl(fd, F_GETFL, 0);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0) {
        close(fd);
        stat_conn_errors++;
        return -1;
    }
    c->fd = fd;
    c->state = C_IDLE;
    c->rlen = 0;
    c->woff = 0;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
        close(fd);
        c->fd = -1;
        c->state = C_DOWN;
        return -1;
    }
    return 0;
}

static void conn_want_write(struct conn *c, int on)
{
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* push the rest of the request; 0 ok (maybe partial), -1 error */
static int conn_flush(struct conn *c)
{
    while (c->woff < request_len) {
        ssize_t n = send(c->fd, request + c->woff, request_len - c->woff, MSG_NOSIGNAL);
        if (n > 0) {
            c->woff += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            conn_want_write(c, 1);
            return 0;
        }
        return -1;
    }
    return 0;
}

static int conn_send(struct conn *c, uint64_t sched)
{
    if (c->state == C_DOWN && conn_open(c) != 0)
        return -1;
    c->state = C_BUSY;
    c->sched = sched;
    c->woff = 0;
    if (conn_flush(c) != 0) {
        stat_conn_errors++;
        conn_close(c);
        return -1;
    }
    return 0;
}

typedef void (*resp_cb)(struct conn *c, const struct http_resp *r, uint64_t now);

/* read what is there; call cb for each complete response.
 * returns -1 when the connection died with a request in flight */
static int conn_read(struct conn *c, resp_cb cb)
{
    int eof = 0;
    for (;;) {
        if (c->rcap - c->rlen < 4096) {
            c->rcap = c->rcap ? c->rcap * 2 : 16384;
            c->rbuf = realloc(c->rbuf, c->rcap);
            if (!c->rbuf)
                die("out of memory");
        }
        size_t space = c->rcap - c->rlen;
        ssize_t n = recv(c->fd, c->rbuf + c->rlen, space, 0);
        if (n > 0) {
            c->rlen += (size_t)n;
            if ((size_t)n < space)
                break; /* drained */
            continue;
        }
        if (n == 0) {
            eof = 1;
            break;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            break;
        eof = 1;
        break;
    }
    uint64_t now = now_ns();
    while (c->rlen > 0) {
        struct http_resp r;
        int st = http_parse(c->rbuf, c->rlen, eof, &r);
        if (st == 0)
            break;
        if (st < 0) {
            int busy = c->state == C_BUSY;
            conn_close(c);
            if (busy)
                return -1;
            stat_errors++;
            return 0;
        }
        int was_busy = c->state == C_BUSY;
        c->state = C_IDLE;
        if (was_busy)
            cb(c, &r, now);
        int cl = r.close;
        size_t used = r.consumed;
        http_resp_free(&r);
        memmove(c->rbuf, c->rbuf + used, c->rlen - used);
        c->rlen -= used;
        if (cl) {
            conn_close(c);
            return 0;
        }
    }
    if (eof) {
        int busy = c->state == C_BUSY;
        conn_close(c);
        if (busy) {
            stat_conn_errors++;
            return -1;
        }
    }
    return 0;
}

static void arm_timer(uint64_t at)
{
    struct itimerspec its;
    memset(&its, 0, sizeof its);
    if (at == 0)
        at = 1; /* 0 would disarm */
    its.it_value.tv_sec = (time_t)(at / NS_PER_S);
    its.it_value.tv_nsec = (long)(at % NS_PER_S);
    timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void engine_init(void)
{
    ep = epoll_create1(EPOLL_CLOEXEC);
    tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (ep < 0 || tfd < 0)
        die("epoll/timerfd");
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev);
    conns = xcalloc((size_t)cfg.conns, sizeof *conns);
    for (int i = 0; i < cfg.conns; i++) {
        conns[i].fd = -1;
        conns[i].state = C_DOWN;
    }
    for (int i = 0; i < cfg.conns; i++)
        if (conn_open(&conns[i]) != 0)
            die("cannot connect to the target");
    build_request();
}

/* one epoll round: timer and socket events */
static void engine_wait(resp_cb cb, void (*on_lost)(struct conn *))
{
    struct epoll_event evs[256];
    int n = epoll_wait(ep, evs, 256, 200);
    for (int i = 0; i < n; i++) {
        struct conn *c = evs[i].data.ptr;
        if (c == NULL) {
            uint64_t x;
            while (read(tfd, &x, sizeof x) > 0) {
            }
            continue;
        }
        if (c->fd < 0)
            continue;
        if (evs[i].events & EPOLLOUT) {
            if (conn_flush(c) != 0) {
                stat_conn_errors++;
                int busy = c->state == C_BUSY;
                conn_close(c);
                if (busy && on_lost)
                    on_lost(c);
                continue;
            }
            if (c->woff >= request_len)
                conn_want_write(c, 0);
        }
        if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
            if (conn_read(c, cb) < 0 && on_lost)
                on_lost(c);
        }
    }
}

/* --------------------------------------------------------------- rate mode */

static struct lat rate_lat;
#define TL_MAX 3600
static uint64_t tl_max[TL_MAX];  /* per second of schedule: worst latency, count, count > 10 ms */
static long tl_n[TL_MAX], tl_slow[TL_MAX];
static uint64_t rate_start;
static uint64_t rate_window_start, rate_last_done;
static long rate_done_in_window, rate_sent;

static void rate_cb(struct conn *c, const struct http_resp *r, uint64_t now)
{
    if (r->status < 200 || r->status > 299)
        stat_non2xx++;
    uint64_t l = now > c->sched ? now - c->sched : 0;
    if (cfg.timeline && c->sched >= rate_start) {
        size_t sec = (size_t)((c->sched - rate_start) / NS_PER_S);
        if (sec < TL_MAX) {
            tl_n[sec]++;
            if (l > tl_max[sec])
                tl_max[sec] = l;
            if (l > 10 * NS_PER_MS)
                tl_slow[sec]++;
        }
    }
    if (c->sched >= rate_window_start) {
        lat_add(&rate_lat, l);
        rate_done_in_window++;
        rate_last_done = now;
    }
}

static void rate_lost(struct conn *c)
{
    (void)c;
    stat_errors++;
}

static int run_rate(void)
{
    if (cfg.rate <= 0 || cfg.duration <= 0)
        die("--rate and --duration must be > 0");
    if (cfg.warmup >= cfg.duration)
        cfg.warmup = 0;
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    engine_init();
    const double interval = (double)cfg.conns * 1e9 / cfg.rate; /* per connection */
    const uint64_t start = now_ns() + 20 * NS_PER_MS;
    rate_start = start;
    const uint64_t end_sched = start + (uint64_t)(cfg.duration * 1e9);
    const uint64_t hard_end = end_sched + (uint64_t)(cfg.drain * 1e9);
    rate_window_start = start + (uint64_t)(cfg.warmup * 1e9);
    long *k = xcalloc((size_t)cfg.conns, sizeof *k);
    for (int i = 0; i < cfg.conns; i++)
        conns[i].next = start + (uint64_t)((double)i * 1e9 / cfg.rate);

    for (;;) {
        uint64_t now = now_ns();
        if (interrupted || now >= hard_end)
            break;
        uint64_t wake = hard_end;
        int busy = 0;
        for (int i = 0; i < cfg.conns; i++) {
            struct conn *c = &conns[i];
            if (c->state == C_BUSY) {
                busy++;
                continue;
            }
            if (c->next >= end_sched)
                continue;
            if (c->next <= now) {
                uint64_t sched = c->next;
                k[i]++;
                c->next = start + (uint64_t)((double)i * 1e9 / cfg.rate) + (uint64_t)((double)k[i] * interval);
                rate_sent++;
                if (conn_send(c, sched) != 0)
                    continue; /* counted as a connection error */
                busy++;
                continue;
            }
            if (c->next < wake)
                wake = c->next;
        }
        if (busy == 0 && wake == hard_end)
            break; /* everything scheduled was sent and answered */
        arm_timer(wake);
        engine_wait(rate_cb, rate_lost);
    }
    long inflight = 0;
    for (int i = 0; i < cfg.conns; i++)
        if (conns[i].state == C_BUSY)
            inflight++;

    qsort(rate_lat.v, rate_lat.n, sizeof *rate_lat.v, cmp_u64);
    double win = (double)(rate_last_done > rate_window_start ? rate_last_done - rate_window_start : 1) / 1e9;
    double achieved = (double)rate_done_in_window / win;
    double p50 = (double)pct(&rate_lat, 50) / 1e6, p90 = (double)pct(&rate_lat, 90) / 1e6;
    double p99 = (double)pct(&rate_lat, 99) / 1e6, p999 = (double)pct(&rate_lat, 99.9) / 1e6;
    double mx = rate_lat.n ? (double)rate_lat.v[rate_lat.n - 1] / 1e6 : 0;
    printf("rate: offered %.0f req/s over %d conns for %.1f s (warmup %.1f s)\n", cfg.rate,
           cfg.conns, cfg.duration, cfg.warmup);
    printf("  completed %ld in window, achieved %.0f req/s\n", rate_done_in_window, achieved);
    printf("  latency from scheduled send: p50 %.3f ms  p90 %.3f ms  p99 %.3f ms  p99.9 %.3f ms  max %.3f ms\n",
           p50, p90, p99, p999, mx);
    printf("  errors %ld (conn %ld, non-2xx %ld, unanswered at end %ld)\n",
           stat_errors + stat_conn_errors + stat_non2xx + inflight, stat_conn_errors, stat_non2xx,
           inflight);
    if (cfg.timeline) {
        printf("  timeline (by scheduled second): second requests max_ms over_10ms\n");
        for (size_t s2 = 0; s2 < TL_MAX && s2 < (size_t)cfg.duration + 1; s2++)
            printf("  %4zu %7ld %9.3f %7ld\n", s2, tl_n[s2], (double)tl_max[s2] / 1e6, tl_slow[s2]);
    }
    printf("RESULT mode=rate offered=%.0f conns=%d duration=%.1f achieved=%.0f count=%zu "
           "p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f p999_ms=%.3f max_ms=%.3f errors=%ld non2xx=%ld\n",
           cfg.rate, cfg.conns, cfg.duration, achieved, rate_lat.n, p50, p90, p99, p999, mx,
           stat_errors + stat_conn_errors + inflight, stat_non2xx);
    fflush(stdout);
    free(k);
    return 0;
}

/* -------------------------------------------------------------- burst mode */

static char (*ids)[ID_MAX];
static long burst_next, burst_ok, burst_failed;
static long *retry_stack;
static long retry_n;
static uint64_t burst_first_send, burst_last_ok;

static void burst_cb(struct conn *c, const struct http_resp *r, uint64_t now)
{
    long idx = c->idx;
    if (r->status == 201 || r->status == 200) {
        const char *slash = strrchr(r->location, '/');
        const char *id = slash ? slash + 1 : r->location;
        size_t l = strlen(id);
        if (l == 0 || l >= ID_MAX) {
            stat_errors++;
            burst_failed++;
            return;
        }
        memcpy(ids[idx], id, l + 1);
        burst_ok++;
        burst_last_ok = now;
        return;
    }
    if (r->status == 503 || r->status == 429) {
        retry_stack[retry_n++] = idx;
        uint64_t wait = r->retry_after > 0 ? (uint64_t)r->retry_after * NS_PER_S : 50 * NS_PER_MS;
        if (wait > NS_PER_S)
            wait = NS_PER_S;
        c->next = now + wait;
        return;
    }
    stat_non2xx++;
    burst_failed++;
}

static void burst_lost(struct conn *c)
{
    /* connection died with the POST in flight: we do not know whether it was
     * recorded, so count it as failed instead of posting a duplicate */
    (void)c;
    stat_errors++;
    burst_failed++;
}

/* sync client for the read-back phase */
struct sync_client {
    int fd;
    char *buf;
    size_t len, cap;
};

static int sync_get(struct sync_client *sc, const char *path, struct http_resp *r)
{
    char req[1024];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s:%d\r\nAccept: application/json\r\n\r\n",
                     path, cfg.host, cfg.port);
    if (n < 0 || (size_t)n >= sizeof req)
        return -1;
    for (int attempt = 0; attempt < 2; attempt++) {
        if (sc->fd < 0) {
            sc->fd = connect_once();
            if (sc->fd < 0)
                return -1;
            struct timeval tv = {.tv_sec = 10};
            setsockopt(sc->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
            setsockopt(sc->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        }
        sc->len = 0;
        if (send(sc->fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
            close(sc->fd);
            sc->fd = -1;
            continue;
        }
        for (;;) {
            if (sc->cap - sc->len < 65536) {
                sc->cap = sc->cap ? sc->cap * 2 : 262144;
                sc->buf = realloc(sc->buf, sc->cap);
                if (!sc->buf)
                    die("out of memory");
            }
            ssize_t got = recv(sc->fd, sc->buf + sc->len, sc->cap - sc->len, 0);
            int eof = got <= 0;
            if (got > 0)
                sc->len += (size_t)got;
            int st = http_parse(sc->buf, sc->len, eof, r);
            if (st == 1) {
                if (r->close || eof) {
                    close(sc->fd);
                    sc->fd = -1;
                }
                return 0;
            }
            if (st < 0 || eof) {
                close(sc->fd);
                sc->fd = -1;
                break;
            }
        }
    }
    return -1;
}

/* open-addressing set of our ids -> index */
static long *idset;
static size_t idset_mask;

static uint64_t fnv(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

static void idset_build(long n)
{
    size_t cap = 1;
    while (cap < (size_t)n * 2 + 16)
        cap <<= 1;
    idset = xmalloc(cap * sizeof *idset);
    for (size_t i = 0; i < cap; i++)
        idset[i] = -1;
    idset_mask = cap - 1;
    for (long i = 0; i < n; i++) {
        if (!ids[i][0])
            continue;
        size_t h = fnv(ids[i]) & idset_mask;
        while (idset[h] >= 0)
            h = (h + 1) & idset_mask;
        idset[h] = i;
    }
}

static long idset_find(const char *id)
{
    size_t h = fnv(id) & idset_mask;
    while (idset[h] >= 0) {
        if (strcmp(ids[idset[h]], id) == 0)
            return idset[h];
        h = (h + 1) & idset_mask;
    }
    return -1;
}

/* RFC 3339 -> ms since the epoch; NAN-ish (-1) on error */
static double parse_rfc3339_ms(const char *s)
{
    int Y, M, D, h, m, sec, used = 0;
    if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &Y, &M, &D, &h, &m, &sec, &used) != 6)
        return -1;
    const char *p = s + used;
    double frac = 0, scale = 0.1;
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++) {
            frac += (*p - '0') * scale;
            scale /= 10;
        }
    }
    long off = 0;
    if (*p == '+' || *p == '-') {
        int oh = 0, om = 0;
        if (sscanf(p + 1, "%2d:%2d", &oh, &om) < 1)
            return -1;
        off = (oh * 60 + om) * 60L * (*p == '-' ? -1 : 1);
    } else if (*p != 'Z' && *p != 'z') {
        return -1;
    }
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = Y - 1900;
    tm.tm_mon = M - 1;
    tm.tm_mday = D;
    tm.tm_hour = h;
    tm.tm_min = m;
    tm.tm_sec = sec;
    time_t t = timegm(&tm);
    return ((double)(t - off) + frac) * 1e3;
}

static void urlencode(const char *in, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (; *in && o + 4 < cap; in++) {
        unsigned char ch = (unsigned char)*in;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '_' || ch == '.' || ch == '~') {
            out[o++] = (char)ch;
        } else {
            out[o++] = '%';
            out[o++] = hex[ch >> 4];
            out[o++] = hex[ch & 15];
        }
    }
    out[o] = 0;
}

static struct lat e2e_lat; /* ms * 1000 (us) */
static char *seen;
static long seen_n;
static double max_updated_ms;

/* records one processed event; returns 1 if it was ours and new */
static int record_event(json_t *ev)
{
    const char *id = json_string_value(json_object_get(ev, "event_id"));
    const char *st = json_string_value(json_object_get(ev, "status"));
    if (!id || !st || strcmp(st, "processed") != 0)
        return 0;
    long i = idset_find(id);
    if (i < 0 || seen[i])
        return 0;
    double c = parse_rfc3339_ms(json_string_value(json_object_get(ev, "created_at")));
    double u = parse_rfc3339_ms(json_string_value(json_object_get(ev, "updated_at")));
    seen[i] = 1;
    seen_n++;
    if (c >= 0 && u >= 0) {
        double d = u - c;
        lat_add(&e2e_lat, d > 0 ? (uint64_t)(d * 1000.0) : 0);
        if (u > max_updated_ms)
            max_updated_ms = u;
    }
    return 1;
}

/* GET a list page; returns items count or -1; *next gets a malloc'd cursor or NULL */
static long list_page(struct sync_client *sc, const char *status, int limit, const char *after,
                      char **next, int record)
{
    char path[600], enc[400];
    if (after) {
        urlencode(after, enc, sizeof enc);
        snprintf(path, sizeof path, "/events?status=%s&limit=%d&after=%s", status, limit, enc);
    } else {
        snprintf(path, sizeof path, "/events?status=%s&limit=%d", status, limit);
    }
    struct http_resp r;
    if (sync_get(sc, path, &r) != 0)
        return -1;
    if (r.status != 200) {
        http_resp_free(&r);
        return -1;
    }
    json_error_t err;
    json_t *root = json_loadb(r.body, r.body_len, 0, &err);
    http_resp_free(&r);
    if (!root)
        return -1;
    json_t *items = json_object_get(root, "items");
    if (!json_is_array(items)) {
        json_decref(root);
        return -1;
    }
    long n = (long)json_array_size(items);
    if (record) {
        for (size_t i = 0; i < json_array_size(items); i++)
            record_event(json_array_get(items, i));
    }
    if (next) {
        *next = NULL;
        json_t *nx = json_object_get(root, "next");
        if (json_is_string(nx)) {
            *next = strdup(json_string_value(nx));
        } else if (json_is_integer(nx)) {
            char tmp[32];
            snprintf(tmp, sizeof tmp, "%lld", (long long)json_integer_value(nx));
            *next = strdup(tmp);
        }
    }
    json_decref(root);
    return n;
}

/* full scan of processed events; returns 0 or -1 when listing is unsupported */
static int scan_processed(struct sync_client *sc, double deadline_ms)
{
    char *after = NULL;
    long pages = 0, max_pages = cfg.events / 10 + 10000;
    for (;;) {
        char *next = NULL;
        long n = list_page(sc, "processed", 1000, after, &next, 1);
        free(after);
        if (n < 0)
            return -1;
        pages++;
        if (!next || n == 0 || pages > max_pages || wall_ms() > deadline_ms || interrupted) {
            free(next);
            return 0;
        }
        after = next;
    }
}

/* per-id fallback: GET /events/{id} for each one not yet seen */
static long scan_by_id(struct sync_client *sc, long n, double deadline_ms)
{
    long checked = 0;
    for (long i = 0; i < n && !interrupted && wall_ms() < deadline_ms; i++) {
        if (!ids[i][0] || seen[i])
            continue;
        char path[128];
        snprintf(path, sizeof path, "/events/%s", ids[i]);
        struct http_resp r;
        if (sync_get(sc, path, &r) != 0)
            return -1;
        if (r.status == 200) {
            json_t *ev = json_loadb(r.body, r.body_len, 0, NULL);
            if (ev) {
                record_event(ev);
                json_decref(ev);
            }
        }
        http_resp_free(&r);
        checked++;
    }
    return checked;
}

static int get_status(struct sync_client *sc, const char *id)
{
    char path[128];
    snprintf(path, sizeof path, "/events/%s", id);
    struct http_resp r;
    if (sync_get(sc, path, &r) != 0)
        return -1;
    int processed = 0;
    if (r.status == 200) {
        json_t *ev = json_loadb(r.body, r.body_len, 0, NULL);
        const char *st = json_string_value(json_object_get(ev, "status"));
        processed = st && strcmp(st, "processed") == 0;
        json_decref(ev);
    }
    http_resp_free(&r);
    return processed;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int run_burst(void)
{
    long N = cfg.events;
    if (N <= 0)
        die("--events must be > 0");
    ids = xcalloc((size_t)N, sizeof *ids);
    retry_stack = xmalloc((size_t)N * sizeof *retry_stack);
    engine_init();

    const double t0_wall = wall_ms();
    const uint64_t t0 = now_ns();
    const uint64_t deadline = t0 + (uint64_t)(cfg.timeout * 1e9);
    burst_first_send = t0;
    long retries = 0;

    /* phase 1: post */
    while (!interrupted && burst_ok + burst_failed < N && now_ns() < deadline) {
        uint64_t now = now_ns();
        uint64_t wake = UINT64_MAX;
        for (int i = 0; i < cfg.conns; i++) {
            struct conn *c = &conns[i];
            if (c->state == C_BUSY)
                continue;
            if (c->next > now) {
                if (c->next < wake)
                    wake = c->next;
                continue;
            }
            long idx;
            if (retry_n > 0) {
                idx = retry_stack[--retry_n];
                retries++;
            } else if (burst_next < N) {
                idx = burst_next++;
            } else {
                continue;
            }
            c->idx = idx;
            if (conn_send(c, now) != 0) {
                retry_stack[retry_n++] = idx; /* never sent: safe to retry */
                c->next = now + 50 * NS_PER_MS;
                if (c->next < wake)
                    wake = c->next;
            }
        }
        arm_timer(wake == UINT64_MAX ? now + 200 * NS_PER_MS : wake);
        engine_wait(burst_cb, burst_lost);
    }
    double post_s = (double)(burst_last_ok - t0) / 1e9;
    for (int i = 0; i < cfg.conns; i++)
        conn_close(&conns[i]);
    printf("burst: posted %ld of %ld events over %d conns in %.3f s (%.0f events/s), "
           "%ld retried after 503/429, %ld failed\n",
           burst_ok, N, cfg.conns, post_s, post_s > 0 ? (double)burst_ok / post_s : 0, retries,
           burst_failed);
    fflush(stdout);

    if (cfg.post_only) {
        printf("RESULT mode=burst events=%ld posted=%ld post_s=%.3f post_rate=%.0f failed=%ld retries=%ld\n",
               N, burst_ok, post_s, post_s > 0 ? (double)burst_ok / post_s : 0, burst_failed, retries);
        return burst_failed ? 1 : 0;
    }

    /* phase 2: wait for processing, then read back */
    seen = xcalloc((size_t)N, 1);
    idset_build(N);
    struct sync_client sc = {.fd = -1};
    const double deadline_ms = t0_wall + cfg.timeout * 1e3;
    int use_list = strcmp(cfg.poll, "list") == 0;
    double done_wall = 0;
    long last_i = N - 1;
    while (last_i >= 0 && !ids[last_i][0])
        last_i--;

    while (!interrupted && wall_ms() < deadline_ms) {
        int done = 0;
        if (use_list) {
            long p = list_page(&sc, "pending", 1, NULL, NULL, 0);
            long q = p == 0 ? list_page(&sc, "queued", 1, NULL, NULL, 0) : 1;
            if (p < 0 || q < 0) {
                fprintf(stderr, "loadgen: list endpoint unusable, falling back to GET /events/{id}\n");
                use_list = 0;
                continue;
            }
            done = p == 0 && q == 0;
        } else {
            done = last_i < 0 || get_status(&sc, ids[last_i]) == 1;
        }
        if (done) {
            if (!done_wall)
                done_wall = wall_ms();
            if (use_list) {
                if (scan_processed(&sc, deadline_ms) != 0) {
                    use_list = 0;
                    continue;
                }
            } else {
                scan_by_id(&sc, N, deadline_ms);
            }
            if (seen_n >= burst_ok)
                break;
            sleep_ms(cfg.poll_ms > 500 ? cfg.poll_ms : 500);
            continue;
        }
        sleep_ms(cfg.poll_ms);
    }
    if (!done_wall)
        done_wall = wall_ms();

    long failed_state = list_page(&sc, "failed", 1, NULL, NULL, 0);
    qsort(e2e_lat.v, e2e_lat.n, sizeof *e2e_lat.v, cmp_u64);
    double e2e_s = max_updated_ms > 0 ? (max_updated_ms - t0_wall) / 1e3 : (done_wall - t0_wall) / 1e3;
    double rate = e2e_s > 0 ? (double)seen_n / e2e_s : 0;
    double p50 = (double)pct(&e2e_lat, 50) / 1e3, p99 = (double)pct(&e2e_lat, 99) / 1e3;
    double p999 = (double)pct(&e2e_lat, 99.9) / 1e3;
    double mx = e2e_lat.n ? (double)e2e_lat.v[e2e_lat.n - 1] / 1e3 : 0;
    printf("  processed %ld of %ld posted; end to end %.3f s (first POST -> last updated_at), "
           "%.0f events/s; seen done after %.3f s\n",
           seen_n, burst_ok, e2e_s, rate, (done_wall - t0_wall) / 1e3);
    printf("  create->processed latency (updated_at - created_at): p50 %.0f ms  p99 %.0f ms  "
           "p99.9 %.0f ms  max %.0f ms\n",
           p50, p99, p999, mx);
    if (failed_state > 0)
        printf("  note: some events are in state failed\n");
    printf("RESULT mode=burst events=%ld posted=%ld post_s=%.3f post_rate=%.0f processed=%ld "
           "e2e_s=%.3f e2e_rate=%.0f lat_p50_ms=%.0f lat_p99_ms=%.0f lat_p999_ms=%.0f lat_max_ms=%.0f "
           "failed=%ld retries=%ld\n",
           N, burst_ok, post_s, post_s > 0 ? (double)burst_ok / post_s : 0, seen_n, e2e_s, rate, p50,
           p99, p999, mx, burst_failed, retries);
    fflush(stdout);
    if (sc.fd >= 0)
        close(sc.fd);
    return seen_n == N ? 0 : 1;
}

/* -------------------------------------------------------------------- main */

static void usage(void)
{
    fprintf(stderr,
            "usage: loadgen rate  --url http://127.0.0.1:PORT [--rate R] [--conns C] [--duration S]\n"
            "                     [--warmup S] [--drain S] [--path P] [--body JSON] [--timeline]\n"
            "       loadgen burst --url http://127.0.0.1:PORT [--events N] [--conns C] [--timeout S]\n"
            "                     [--poll list|get] [--poll-ms MS] [--post-only] [--body JSON]\n"
            "Loopback targets only.  Prints a RESULT line for scripts.\n");
    exit(2);
}

int main(int argc, char **argv)
{
    if (argc < 2 || (strcmp(argv[1], "rate") != 0 && strcmp(argv[1], "burst") != 0))
        usage();
    cfg.mode = argv[1];
    static const struct option opts[] = {
        {"url", required_argument, 0, 'u'},      {"rate", required_argument, 0, 'r'},
        {"conns", required_argument, 0, 'c'},    {"duration", required_argument, 0, 'd'},
        {"warmup", required_argument, 0, 'w'},   {"drain", required_argument, 0, 'D'},
        {"path", required_argument, 0, 'p'},     {"body", required_argument, 0, 'b'},
        {"events", required_argument, 0, 'n'},   {"timeout", required_argument, 0, 't'},
        {"poll", required_argument, 0, 'P'},     {"poll-ms", required_argument, 0, 'm'},
        {"post-only", no_argument, 0, 'o'},      {"content-type", required_argument, 0, 'T'},
        {"timeline", no_argument, 0, 'L'},     {"help", no_argument, 0, 'h'},           {0, 0, 0, 0}};
    optind = 2;
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'u': cfg.url = optarg; break;
        case 'r': cfg.rate = atof(optarg); break;
        case 'c': cfg.conns = atoi(optarg); break;
        case 'd': cfg.duration = atof(optarg); break;
        case 'w': cfg.warmup = atof(optarg); break;
        case 'D': cfg.drain = atof(optarg); break;
        case 'p': cfg.path = optarg; break;
        case 'b': cfg.body = optarg; break;
        case 'n': cfg.events = atol(optarg); break;
        case 't': cfg.timeout = atof(optarg); break;
        case 'P': cfg.poll = optarg; break;
        case 'm': cfg.poll_ms = atoi(optarg); break;
        case 'o': cfg.post_only = 1; break;
        case 'L': cfg.timeline = 1; break;
        case 'T': cfg.content_type = optarg; break;
        default: usage();
        }
    }
    if (!cfg.url)
        usage();
    if (cfg.conns < 1 || cfg.conns > MAX_CONNS)
        die("--conns must be 1..4096");
    if (cfg.timeout <= 0 || cfg.timeout > 3600)
        die("--timeout must be in (0, 3600]");
    if (cfg.duration > 3600)
        die("--duration must be <= 3600");
    if (cfg.events > 20000000)
        die("--events must be <= 20,000,000");
    if (cfg.poll_ms < 1)
        cfg.poll_ms = 1;
    parse_url(cfg.url);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    if (strcmp(cfg.mode, "rate") == 0)
        return run_rate();
    return run_burst();
}
