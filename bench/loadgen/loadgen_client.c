/*  loadgen_client - a blocking keep-alive HTTP client for GETs, used to
    read results back after a burst

    The read-back is a few hundred sequential requests, so one blocking
    connection with 10 s timeouts is simpler than the engine and enough.
*/
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include "loadgen_client.h"
#include "loadgen_util.h"

struct _loadgen_client_t {
    char host [64];             //  the target
    int port;
    int fd;                     //  the connection, -1 when closed
    char *buf;                  //  the response being read
    size_t len, cap;
};

//  Close the connection (the next request reconnects).
static void
s_disconnect (loadgen_client_t *self)
{
    close (self->fd);
    self->fd = -1;
}

loadgen_client_t *
loadgen_client_new (const char *host, int port)
{
    loadgen_client_t *self = (loadgen_client_t *) loadgen_calloc (1, sizeof *self);
    snprintf (self->host, sizeof self->host, "%s", host);
    self->port = port;
    self->fd = -1;
    return self;
}

void
loadgen_client_destroy (loadgen_client_t **self_p)
{
    assert (self_p);
    loadgen_client_t *self = *self_p;
    if (!self)
        return;
    if (self->fd >= 0)
        close (self->fd);
    free (self->buf);
    free (self);
    *self_p = NULL;
}

int
loadgen_client_get (loadgen_client_t *self, const char *path,
                    loadgen_http_response_t *response)
{
    assert (self);
    char request [1024];
    int size = snprintf (request, sizeof request,
                         "GET %s HTTP/1.1\r\nHost: %s:%d\r\nAccept: application/json\r\n\r\n",
                         path, self->host, self->port);
    if (size < 0 || (size_t) size >= sizeof request)
        return -1;
    for (int attempt = 0; attempt < 2; attempt++) {
        if (self->fd < 0) {
            self->fd = loadgen_connect (self->host, self->port);
            if (self->fd < 0)
                return -1;
            struct timeval timeout = { .tv_sec = 10 };
            setsockopt (self->fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
            setsockopt (self->fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
        }
        self->len = 0;
        if (send (self->fd, request, (size_t) size, MSG_NOSIGNAL) != size) {
            s_disconnect (self);
            continue;
        }
        while (1) {
            if (self->cap - self->len < 65536) {
                self->cap = self->cap? self->cap * 2: 262144;
                self->buf = realloc (self->buf, self->cap);
                if (!self->buf)
                    loadgen_die ("out of memory");
            }
            ssize_t received = recv (self->fd, self->buf + self->len, self->cap - self->len, 0);
            int eof = received <= 0;
            if (received > 0)
                self->len += (size_t) received;
            int status = loadgen_http_parse (self->buf, self->len, eof, response);
            if (status == 1) {
                if (response->close || eof)
                    s_disconnect (self);
                return 0;
            }
            if (status < 0 || eof) {
                s_disconnect (self);
                break;
            }
        }
    }
    return -1;
}
