//  enp_app - what every service's main does: options, logging, signals
#ifndef ENP_APP_H_INCLUDED
#define ENP_APP_H_INCLUDED

#include <stdbool.h>
#include "enp_config.h"
#include "enp_probe.h"

//  Declare the options every service has: --log-level, --log-format and
//  the --healthcheck switch. Returns 0 or -1.
int enp_app_declare (enp_config_t *config);
//  Declare the options of a service with a /healthz and /metrics endpoint
//  (the broker, the processors): --metrics-host, --metrics-port with
//  default_port (0 turns the endpoint off), --runtime-dir and
//  --healthcheck-pid. Returns 0 or -1.
int enp_app_declare_metrics (enp_config_t *config, const char *default_port);
//  Parse argv over the environment, apply the logging options and check
//  the metrics ones (when declared). Returns 0 when the service should
//  run, 1 when it should exit successfully (--help was printed), -1 after
//  printing what is wrong to stderr.
int enp_app_configure (enp_config_t *config, int argc, char **argv);
//  Read a whole-number option in [min, max] into *value. Returns 0, or -1
//  after printing what is wrong to stderr.
int enp_app_number (enp_config_t *config, const char *name, long min,
                    long max, long *value);
//  Return true when --healthcheck was given.
bool enp_app_healthcheck_asked (enp_config_t *config);
//  Probe http://host:port/healthz (127.0.0.1 when host is a wildcard such
//  as 0.0.0.0); return the exit status for main: EXIT_SUCCESS when
//  healthy. Says on stderr what failed. Port 0 (no endpoint) is unhealthy.
int enp_app_healthcheck (enp_config_t *config, const char *host, long port);
//  --healthcheck of a service declared with enp_app_declare_metrics: with
//  --healthcheck-pid, that process's recorded endpoint; with an explicit
//  --metrics-port, that port; with the default port, every live process of
//  this app recorded in the runtime folder (all must answer), or the
//  default port when none is recorded. Says on stderr what failed. Returns
//  the exit status for main.
int enp_app_probe_healthcheck (enp_config_t *config);
//  Start the endpoint enp_app_declare_metrics's options describe, with
//  render writing the metrics: an explicit --metrics-port that cannot be
//  bound is an error, the default one gives way to a free port (logged at
//  warn); the port is recorded for --healthcheck. Returns 0 with the probe
//  in *probe_p (NULL when --metrics-port is 0), or -1 after logging why.
int enp_app_probe (enp_config_t *config, enp_probe_render_fn *render, void *arg,
                   enp_probe_t **probe_p);
//  Start a service: log under its name, block SIGINT and SIGTERM in every
//  thread (call it before any thread starts; czmq's handler off) so only
//  enp_app_wait takes them, ignore SIGPIPE, initialise CivetWeb and libcurl.
void enp_app_start (const char *name);
//  Block until SIGINT or SIGTERM arrives (or return at once if one came
//  since enp_app_start).
void enp_app_wait (void);
//  Release what enp_app_start took.
void enp_app_stop (void);

#endif
