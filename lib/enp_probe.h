//  enp_probe - a tiny HTTP endpoint serving /healthz and /metrics
#ifndef ENP_PROBE_H_INCLUDED
#define ENP_PROBE_H_INCLUDED

#include <stdbool.h>
#include <stdio.h>

typedef struct _enp_probe_t enp_probe_t;

//  Writes the service's metrics, in Prometheus text format, to out. Called
//  on CivetWeb threads, so it may only read thread-safe state (atomics).
typedef void (enp_probe_render_fn) (void *arg, FILE *out);

//  Where and how a probe serves.
typedef struct {
    const char *host;           //  listen address
    int port;                   //  0 picks a free port
    bool fallback;              //  port cannot be bound: take a free one
                                //  instead (and warn) rather than fail
    const char *record_dir;     //  when set, record the port bound there
                                //  for --healthcheck (see enp_portfile)
    const char *app;            //  names the record, e.g. "queue-broker"
    enp_probe_render_fn *render;    //  may be NULL: /metrics is empty
    void *arg;                  //  for render
} enp_probe_options_t;

//  Start serving. Returns NULL (and logs why) when the port cannot be
//  bound and options->fallback is false, or no port at all can be.
//  Failing to record the port is not a failure: it is logged, at warn when
//  the port is not the one asked for (--healthcheck cannot then find it).
enp_probe_t *enp_probe_new (const enp_probe_options_t *options);
//  Stop serving and remove the record; nulls the caller's pointer.
void enp_probe_destroy (enp_probe_t **self_p);
//  Return the port actually bound.
int enp_probe_port (enp_probe_t *self);

//  GET url with a timeout; returns 0 when it answers 2xx, else -1. The
//  --healthcheck switch of every binary calls this, so images need no curl.
//  For an https:// url of the service itself, own_cert is the PEM file of
//  the certificate it serves, the only one trusted; else NULL.
int enp_probe_check (const char *url, const char *own_cert, long timeout_ms);

#endif
