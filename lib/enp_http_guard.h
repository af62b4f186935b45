//  enp_http_guard - bounds how long, and how many at once, connections hold
//  the threads of a CivetWeb server
#ifndef ENP_HTTP_GUARD_H_INCLUDED
#define ENP_HTTP_GUARD_H_INCLUDED

#include <stdbool.h>

//  What enp_http_guard_open answers for a connection it will not serve.
#define ENP_HTTP_GUARD_REFUSED  (-1)

typedef struct {
    const char *name;           //  names the server in the log; copied
    int threads;                //  the server's worker threads (>= 1)
    int max_per_client;         //  connections one address may hold; 0: any
    long deadline_ms;           //  a request must arrive whole within this
} enp_http_guard_options_t;

typedef struct _enp_http_guard_t enp_http_guard_t;

//  Create a guard and start its watchdog thread. Returns NULL on failure.
//  Caller owns the result.
enp_http_guard_t *enp_http_guard_new (const enp_http_guard_options_t *options);
//  Stop the watchdog and free the guard; nulls the pointer. Only once no
//  connection is open (the server stopped).
void enp_http_guard_destroy (enp_http_guard_t **self_p);

//  A worker thread took a connection from address (text, as CivetWeb
//  writes it) and port, accepted on local_port; call it on that thread.
//  Returns the connection's slot (>= 0), which the calls below take, or
//  ENP_HTTP_GUARD_REFUSED when address already holds max_per_client
//  connections: then the connection's receiving side is shut, so the
//  server's read ends at once, and the caller answers and closes.
int enp_http_guard_open (enp_http_guard_t *self, const char *address, int port,
                         int local_port);
//  The connection is closing (before its socket is): forget it.
void enp_http_guard_close (enp_http_guard_t *self, int slot);
//  A request's head arrived. With body_pending, the deadline still runs
//  until enp_http_guard_received; without, the request is whole.
void enp_http_guard_head (enp_http_guard_t *self, int slot, bool body_pending);
//  The request arrived whole: its handler runs without a deadline.
void enp_http_guard_received (enp_http_guard_t *self, int slot);
//  A response was sent: the connection waits for its next request, which
//  must arrive whole within a new deadline.
void enp_http_guard_wait (enp_http_guard_t *self, int slot);
//  Return true when the slot's request did not arrive whole in time (or
//  the connection was closed to free its thread): the caller answers 408.
bool enp_http_guard_expired (enp_http_guard_t *self, int slot);

//  Counters since the start, for tests and logs.
typedef struct {
    unsigned long refused;      //  connections over the per-client cap
    unsigned long expired;      //  requests cut at the deadline
    unsigned long shed;         //  idle connections closed to free threads
} enp_http_guard_stats_t;

//  Copy the counters.
void enp_http_guard_stats (enp_http_guard_t *self, enp_http_guard_stats_t *stats);

#endif
