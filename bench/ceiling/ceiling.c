/*
 * ceiling: the fastest thing CivetWeb can be on this machine.
 *
 * A bare CivetWeb server that answers POST /events with a fixed 201 JSON body
 * (request body read and discarded, whole response written with ONE mg_write,
 * tcp_nodelay=1, keep-alive on).  bench/run.sh measures it with wrk so the
 * event-logger's create throughput can be quoted as a fraction of it.
 *
 * usage: ceiling PORT [NUM_THREADS]     (listens on 127.0.0.1 only)
 */
#include <civetweb.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t stop_flag = 0;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

#define BODY                                                                   \
    "{\"event_id\":\"00000000-0000-4000-8000-000000000000\","                  \
    "\"user_id\":\"u1\",\"description\":\"bench\",\"status\":\"pending\","     \
    "\"created_at\":\"2024-01-01T00:00:00.000Z\","                             \
    "\"updated_at\":\"2024-01-01T00:00:00.000Z\",\"attempts\":0}"

static char response[1024];
static size_t response_len;

static int events_handler(struct mg_connection *conn, void *cbdata)
{
    (void)cbdata;
    const struct mg_request_info *ri = mg_get_request_info(conn);
    char buf[8192];

    /* read and discard the request body */
    while (mg_read(conn, buf, sizeof buf) > 0) {
    }
    if (strcmp(ri->request_method, "POST") != 0) {
        static const char r405[] =
            "HTTP/1.1 405 Method Not Allowed\r\n"
            "Allow: POST\r\nContent-Type: application/problem+json\r\n"
            "Content-Length: 62\r\n\r\n"
            "{\"type\":\"about:blank\",\"title\":\"Method Not Allowed\",\"status\":405}";
        mg_write(conn, r405, sizeof r405 - 1);
        return 405;
    }
    mg_write(conn, response, response_len);
    return 201;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s PORT [NUM_THREADS]\n", argv[0]);
        return 2;
    }
    const int port = atoi(argv[1]);
    const char *threads = argc > 2 ? argv[2] : "256";
    if (port <= 0 || port > 65535 || atoi(threads) <= 0) {
        fprintf(stderr, "bad port or thread count\n");
        return 2;
    }

    int n = snprintf(response, sizeof response,
                     "HTTP/1.1 201 Created\r\n"
                     "Content-Type: application/json\r\n"
                     "Location: /events/00000000-0000-4000-8000-000000000000\r\n"
                     "Content-Length: %zu\r\n"
                     "\r\n%s",
                     sizeof(BODY) - 1, BODY);
    if (n < 0 || (size_t)n >= sizeof response)
        return 1;
    response_len = (size_t)n;

    char ports[64];
    snprintf(ports, sizeof ports, "127.0.0.1:%d", port);
    const char *options[] = {"listening_ports",
                             ports,
                             "num_threads",
                             threads,
                             "enable_keep_alive",
                             "yes",
                             "tcp_nodelay",
                             "1",
                             "keep_alive_timeout_ms",
                             "30000",
                             "request_timeout_ms",
                             "30000",
                             NULL};

    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_IGN);

    mg_init_library(0);
    struct mg_callbacks cb;
    memset(&cb, 0, sizeof cb);
    struct mg_context *ctx = mg_start(&cb, NULL, options);
    if (ctx == NULL) {
        fprintf(stderr, "ceiling: mg_start failed on %s\n", ports);
        return 1;
    }
    mg_set_request_handler(ctx, "/events$", events_handler, NULL);
    fprintf(stderr, "ceiling: listening on %s with %s threads\n", ports, threads);

    while (!stop_flag)
        sleep(1);

    mg_stop(ctx);
    mg_exit_library();
    return 0;
}
