//  enp_app - what every service's main does: options, logging, signals
#ifndef ENP_APP_H_INCLUDED
#define ENP_APP_H_INCLUDED

#include <stdbool.h>
#include "enp_config.h"

//  Declare the options every service has: --log-level, --log-format and
//  the --healthcheck switch. Returns 0 or -1.
int enp_app_declare (enp_config_t *config);
//  Parse argv over the environment and apply the logging options. Returns
//  0 when the service should run, 1 when it should exit successfully
//  (--help was printed), -1 after printing what is wrong to stderr.
int enp_app_configure (enp_config_t *config, int argc, char **argv);
//  Read a whole-number option in [min, max] into *value. Returns 0, or -1
//  after printing what is wrong to stderr.
int enp_app_number (enp_config_t *config, const char *name, long min,
                    long max, long *value);
//  Return true when --healthcheck was given.
bool enp_app_healthcheck_asked (enp_config_t *config);
//  Probe http://127.0.0.1:port/healthz; return the exit status for main:
//  EXIT_SUCCESS when healthy. Port 0 (no endpoint) is unhealthy.
int enp_app_healthcheck (long port);
//  Start a service: log under its name, catch SIGINT and SIGTERM (czmq's
//  own handler off), ignore SIGPIPE, initialise CivetWeb and libcurl.
void enp_app_start (const char *name);
//  Block until SIGINT or SIGTERM arrives.
void enp_app_wait (void);
//  Release what enp_app_start took.
void enp_app_stop (void);

#endif
