//  enp_probe - a tiny HTTP endpoint serving /healthz and /metrics
#ifndef ENP_PROBE_H_INCLUDED
#define ENP_PROBE_H_INCLUDED

#include <stdio.h>

typedef struct _enp_probe_t enp_probe_t;

//  Writes the service's metrics, in Prometheus text format, to out. Called
//  on CivetWeb threads, so it may only read thread-safe state (atomics).
typedef void (enp_probe_render_fn) (void *arg, FILE *out);

//  Start serving on host:port (port 0 picks a free one). render may be
//  NULL. Returns NULL (and logs why) when the port cannot be bound.
enp_probe_t *enp_probe_new (const char *host, int port,
                            enp_probe_render_fn *render, void *arg);
//  Stop serving; nulls the caller's pointer.
void enp_probe_destroy (enp_probe_t **self_p);
//  Return the port actually bound.
int enp_probe_port (enp_probe_t *self);

//  GET url with a timeout; returns 0 when it answers 2xx, else -1. The
//  --healthcheck switch of every binary calls this, so images need no curl.
int enp_probe_check (const char *url, long timeout_ms);

#endif
