//  loadgen_engine - keep-alive connections driven by one epoll loop, each
//  sending the same POST with at most one request in flight
#ifndef LOADGEN_ENGINE_H_INCLUDED
#define LOADGEN_ENGINE_H_INCLUDED

#include <stddef.h>
#include <stdint.h>
#include "loadgen_http.h"
#include "loadgen_options.h"

typedef enum {
    LOADGEN_CONN_DOWN,          //  not connected
    LOADGEN_CONN_IDLE,          //  connected, nothing in flight
    LOADGEN_CONN_BUSY           //  a request in flight
} loadgen_conn_state_t;

//  One connection. Modes read state and use sched, next and idx; the other
//  fields are the engine's.
typedef struct {
    int fd;                     //  the socket, -1 when down
    loadgen_conn_state_t state;
    size_t woff;                //  bytes of the request written so far
    char *rbuf;                 //  bytes received, not yet parsed
    size_t rlen, rcap;
    uint64_t sched;             //  scheduled (rate) or actual (burst) send time
                                //  of the request in flight
    uint64_t next;              //  earliest time this connection may send next
    long idx;                   //  burst: the event index in flight
} loadgen_conn_t;

//  Failures counted while running; modes add their own.
typedef struct {
    long errors;                //  malformed answers, requests lost
    long conn_errors;           //  connections that failed or died busy
    long non2xx;                //  answers outside 2xx the mode did not expect
} loadgen_stats_t;

//  A response to a request in flight arrived on conn at now (ns).
typedef void (loadgen_response_fn) (void *arg, loadgen_conn_t *conn,
                                    const loadgen_http_response_t *response,
                                    uint64_t now);
//  conn died with its request in flight.
typedef void (loadgen_lost_fn) (void *arg, loadgen_conn_t *conn);

typedef struct _loadgen_engine_t loadgen_engine_t;

//  Open options->conns connections to the target and build the request.
//  Exits through loadgen_die when that fails. Caller owns the result.
loadgen_engine_t *loadgen_engine_new (const loadgen_options_t *options);
//  Close every connection and free the engine; nulls the caller's pointer.
void loadgen_engine_destroy (loadgen_engine_t **self_p);
//  Return the number of connections.
size_t loadgen_engine_size (loadgen_engine_t *self);
//  Return connection number index (0 <= index < size).
loadgen_conn_t *loadgen_engine_conn (loadgen_engine_t *self, size_t index);
//  Return the failure counters, which the caller may add to.
loadgen_stats_t *loadgen_engine_stats (loadgen_engine_t *self);
//  Send the request on conn (reconnecting it if down), marking it sent at
//  sched. Returns 0, or -1 when it could not be sent (counted).
int loadgen_engine_send (loadgen_engine_t *self, loadgen_conn_t *conn, uint64_t sched);
//  Close conn.
void loadgen_engine_close (loadgen_engine_t *self, loadgen_conn_t *conn);
//  Make the next wait return no later than at (CLOCK_MONOTONIC ns).
void loadgen_engine_arm (loadgen_engine_t *self, uint64_t at);
//  Wait for the timer or socket events (at most 200 ms) and handle them:
//  on_response for each complete answer, on_lost for each request lost.
void loadgen_engine_wait (loadgen_engine_t *self, loadgen_response_fn *on_response,
                          loadgen_lost_fn *on_lost, void *arg);

#endif
