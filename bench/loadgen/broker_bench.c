/*
 * broker_bench: queue-broker throughput alone, and a discarding sink.
 *
 *   broker_bench through --frontend tcp://127.0.0.1:P --backend tcp://127.0.0.1:Q
 *                        [--messages N] [--events E] [--timeout S] [--curve DIR]
 *       PUSHes N multipart messages into the broker's frontend (as a logger
 *       does) and PULLs them from its backend (as a processor does), one
 *       thread each; reports messages/s and events/s from the first send
 *       to the last receive. --events E (default 1) sends E events per
 *       message: 1 is the seven-frame ENP2 message, more the two-frame
 *       ENP3 one (up to 64). With --curve, both are CURVE clients using
 *       DIR/logger_secret, DIR/worker_secret and DIR/broker (czmq
 *       certificate files, as queue-broker --make-cert writes them).
 *   broker_bench self [--messages N]
 *       The same through an in-process zmq_proxy on loopback: the libzmq
 *       baseline the broker is compared with.
 *   broker_bench sink --backend tcp://127.0.0.1:Q [--seconds S]
 *       PULLs and discards until SIGTERM/SIGINT or S seconds (default 600):
 *       a processor that costs nothing, for create-throughput runs.
 *
 * The messages are the logger's (lib/enp_wire.c, docs/protocol.md): a
 * seven-frame ENP2 event or an ENP3 batch; the broker forwards frames
 * untouched.
 * Loopback endpoints only.  Prints one "RESULT " line.
 */
#define _GNU_SOURCE
#include <zmq.h>

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_FRAMES 8

static volatile sig_atomic_t interrupted = 0;
static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *m)
{
    fprintf(stderr, "broker_bench: %s\n", m);
    exit(2);
}

static void check_loopback(const char *ep)
{
    if (!ep || strncmp(ep, "tcp://127.", 10) != 0)
        die("endpoints must be tcp://127.x.x.x:PORT (loopback only)");
}

static char *frames[MAX_FRAMES];
static size_t frame_len[MAX_FRAMES];
static int nframes;
static int events_per_message = 1;

/* the ENP2 layout of lib/enp_wire.c (docs/protocol.md): "ENP2", the 36-byte
 * event id, user_id, description, attempt (u32 BE), created_at (u64 BE ms),
 * generation (u32 BE) */
static void default_frames(void)
{
    static char attempt[4] = {0, 0, 0, 1};
    static char generation[4] = {0, 0, 0, 0};
    static char created[8];
    uint64_t ms = (uint64_t)time(NULL) * 1000u;
    for (int i = 0; i < 8; i++)
        created[i] = (char)(ms >> (56 - 8 * i));
    frames[0] = "ENP2";
    frames[1] = "6f1c2a6e-2f55-4c1e-9d1b-2b7f1e0c9a11";
    frames[2] = "u1";
    frames[3] = "bench";
    frames[4] = attempt;
    frames[5] = created;
    frames[6] = generation;
    nframes = 7;
    for (int i = 0; i < 4; i++)
        frame_len[i] = strlen(frames[i]);
    frame_len[4] = sizeof attempt;
    frame_len[5] = sizeof created;
    frame_len[6] = sizeof generation;
}

/* ENP3: "ENP3", then a 2-byte count and per event the id, attempt,
 * created_at, generation and the two strings with 2-byte lengths: the
 * same event as default_frames, events_per_message times */
static void batch_frames(void)
{
    static char body[2 + 64 * 128];
    size_t at = 2;
    body[0] = (char)(events_per_message >> 8);
    body[1] = (char)events_per_message;
    for (int e = 0; e < events_per_message; e++) {
        memcpy(body + at, frames[1], 36);
        at += 36;
        memcpy(body + at, frames[4], 4);
        memcpy(body + at + 4, frames[5], 8);
        memcpy(body + at + 12, frames[6], 4);
        at += 16;
        for (int f = 2; f <= 3; f++) {
            body[at] = (char)(frame_len[f] >> 8);
            body[at + 1] = (char)frame_len[f];
            memcpy(body + at + 2, frames[f], frame_len[f]);
            at += 2 + frame_len[f];
        }
    }
    frames[0] = "ENP3";
    frames[1] = body;
    frame_len[1] = at;
    nframes = 2;
}

/* CURVE keys (Z85 text) read from czmq certificate files, or "" when off */
static char broker_key[41], logger_public[41], logger_secret[41];
static char worker_public[41], worker_secret[41];

/* read `name = "<40 chars>"` from a czmq certificate file */
static void read_key(const char *path, const char *name, char *key)
{
    FILE *f = fopen(path, "r");
    char line[256], pattern[64];
    snprintf(pattern, sizeof pattern, " %s = \"%%40[^\"]\"", name);
    key[0] = '\0';
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, pattern, key) == 1)
            break;
    if (f)
        fclose(f);
    if (strlen(key) != 40)
        die("cannot read a key from a certificate file");
}

static void read_curve(const char *dir)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/broker", dir);
    read_key(path, "public-key", broker_key);
    snprintf(path, sizeof path, "%s/logger_secret", dir);
    read_key(path, "public-key", logger_public);
    read_key(path, "secret-key", logger_secret);
    snprintf(path, sizeof path, "%s/worker_secret", dir);
    read_key(path, "public-key", worker_public);
    read_key(path, "secret-key", worker_secret);
}

/* make s a CURVE client of the broker with the given pair, when on */
static void apply_curve(void *s, const char *public_key, const char *secret_key)
{
    if (!broker_key[0])
        return;
    zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, broker_key, 40);
    zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, public_key, 40);
    zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, secret_key, 40);
}

struct sender_args {
    void *ctx;
    const char *endpoint;
    long n;
    long sent;
    double t_first;
};

static void *sender(void *arg)
{
    struct sender_args *a = arg;
    void *s = zmq_socket(a->ctx, ZMQ_PUSH);
    int linger = 5000, sndtimeo = 5000;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s, ZMQ_SNDTIMEO, &sndtimeo, sizeof sndtimeo);
    apply_curve(s, logger_public, logger_secret);
    if (zmq_connect(s, a->endpoint) != 0) {
        fprintf(stderr, "broker_bench: connect %s: %s\n", a->endpoint, zmq_strerror(zmq_errno()));
        zmq_close(s);
        return NULL;
    }
    a->t_first = now_s();
    for (long i = 0; i < a->n && !interrupted; i++) {
        int ok = 1;
        for (int f = 0; f < nframes; f++) {
            if (zmq_send(s, frames[f], frame_len[f], f + 1 < nframes ? ZMQ_SNDMORE : 0) < 0) {
                ok = 0;
                break;
            }
        }
        if (!ok) {
            fprintf(stderr, "broker_bench: send stalled for 5 s after %ld messages\n", i);
            break;
        }
        a->sent++;
    }
    zmq_close(s);
    return NULL;
}

/* receive n messages; returns how many arrived */
static long receive(void *pull, long n, double timeout_s, double *t_last)
{
    long got = 0;
    double deadline = now_s() + timeout_s;
    zmq_msg_t m;
    zmq_msg_init(&m);
    while (got < n && !interrupted && now_s() < deadline) {
        int more;
        do {
            if (zmq_msg_recv(&m, pull, 0) < 0) {
                if (zmq_errno() == EAGAIN)
                    goto again;
                fprintf(stderr, "broker_bench: receive: %s\n", zmq_strerror(zmq_errno()));
                goto out;
            }
            more = zmq_msg_more(&m);
        } while (more);
        got++;
        *t_last = now_s();
    again:;
    }
out:
    zmq_msg_close(&m);
    return got;
}

static void *proxy_thread(void *arg)
{
    void **socks = arg;
    zmq_proxy(socks[0], socks[1], NULL);
    return NULL;
}

static int run_through(void *ctx, const char *front, const char *back, long n, double timeout)
{
    void *pull = zmq_socket(ctx, ZMQ_PULL);
    int rcvtimeo = 1000, linger = 0;
    zmq_setsockopt(pull, ZMQ_RCVTIMEO, &rcvtimeo, sizeof rcvtimeo);
    zmq_setsockopt(pull, ZMQ_LINGER, &linger, sizeof linger);
    apply_curve(pull, worker_public, worker_secret);
    if (zmq_connect(pull, back) != 0)
        die("cannot connect to the backend");
    usleep(200 * 1000); /* let the worker side connect first */

    struct sender_args a = {.ctx = ctx, .endpoint = front, .n = n};
    pthread_t th;
    pthread_create(&th, NULL, sender, &a);
    double t_last = 0;
    long got = receive(pull, n, timeout, &t_last);
    pthread_join(th, NULL);
    zmq_close(pull);
    double secs = t_last > a.t_first ? t_last - a.t_first : 0;
    double rate = secs > 0 ? (double)got / secs : 0;
    size_t bytes = 0;
    for (int f = 0; f < nframes; f++)
        bytes += frame_len[f];
    printf("broker: %ld of %ld messages (%d frames, %zu bytes, %d events each) through in %.3f s:"
           " %.0f msg/s, %.0f events/s\n", got, n, nframes, bytes, events_per_message, secs, rate,
           rate * events_per_message);
    printf("RESULT mode=through messages=%ld received=%ld events=%d seconds=%.3f rate=%.0f event_rate=%.0f\n",
           n, got, events_per_message, secs, rate, rate * events_per_message);
    fflush(stdout);
    return got == n ? 0 : 1;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    const char *front = NULL, *back = NULL;
    long n = 1000000;
    double timeout = 120, seconds = 600;
    for (int i = 2; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "--frontend") && v)
            front = v, i++;
        else if (!strcmp(argv[i], "--backend") && v)
            back = v, i++;
        else if (!strcmp(argv[i], "--messages") && v)
            n = atol(v), i++;
        else if (!strcmp(argv[i], "--timeout") && v)
            timeout = atof(v), i++;
        else if (!strcmp(argv[i], "--seconds") && v)
            seconds = atof(v), i++;
        else if (!strcmp(argv[i], "--curve") && v)
            read_curve(v), i++;
        else if (!strcmp(argv[i], "--events") && v)
            events_per_message = atoi(v), i++;
        else
            mode = "";
    }
    if (strcmp(mode, "through") && strcmp(mode, "self") && strcmp(mode, "sink")) {
        fprintf(stderr, "usage: broker_bench through --frontend EP --backend EP [--messages N] [--timeout S]\n"
                        "                            [--events E] [--curve DIR]\n"
                        "       broker_bench self [--messages N]\n"
                        "       broker_bench sink --backend EP [--seconds S]\n");
        return 2;
    }
    if (n <= 0 || n > 100000000 || timeout <= 0 || timeout > 3600 || seconds <= 0 || seconds > 3600
        || events_per_message < 1 || events_per_message > 64)
        die("bad --messages/--timeout/--seconds/--events");
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    default_frames();
    if (events_per_message > 1)
        batch_frames();

    void *ctx = zmq_ctx_new();
    int rc;
    if (!strcmp(mode, "through")) {
        check_loopback(front);
        check_loopback(back);
        rc = run_through(ctx, front, back, n, timeout);
    } else if (!strcmp(mode, "self")) {
        void *in = zmq_socket(ctx, ZMQ_PULL), *out = zmq_socket(ctx, ZMQ_PUSH);
        char fe[64], be[64];
        size_t l = sizeof fe;
        if (zmq_bind(in, "tcp://127.0.0.1:*") || zmq_bind(out, "tcp://127.0.0.1:*"))
            die("bind");
        zmq_getsockopt(in, ZMQ_LAST_ENDPOINT, fe, &l);
        l = sizeof be;
        zmq_getsockopt(out, ZMQ_LAST_ENDPOINT, be, &l);
        void *socks[2] = {in, out};
        pthread_t th;
        pthread_create(&th, NULL, proxy_thread, socks);
        rc = run_through(ctx, fe, be, n, timeout);
        /* the proxy thread ends when the context terminates */
        int linger = 0;
        zmq_setsockopt(in, ZMQ_LINGER, &linger, sizeof linger);
        zmq_setsockopt(out, ZMQ_LINGER, &linger, sizeof linger);
        zmq_ctx_shutdown(ctx);
        pthread_join(th, NULL);
        zmq_close(in);
        zmq_close(out);
    } else {
        check_loopback(back);
        void *pull = zmq_socket(ctx, ZMQ_PULL);
        int rcvtimeo = 500, linger = 0;
        zmq_setsockopt(pull, ZMQ_RCVTIMEO, &rcvtimeo, sizeof rcvtimeo);
        zmq_setsockopt(pull, ZMQ_LINGER, &linger, sizeof linger);
        if (zmq_connect(pull, back) != 0)
            die("cannot connect to the backend");
        double end = now_s() + seconds, t_last = 0;
        long total = 0;
        while (!interrupted && now_s() < end)
            total += receive(pull, 1L << 40, 0.5, &t_last);
        zmq_close(pull);
        printf("RESULT mode=sink received=%ld\n", total);
        fflush(stdout);
        rc = 0;
    }
    zmq_ctx_term(ctx);
    return rc;
}
