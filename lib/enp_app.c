/*  enp_app - what every service's main does: options, logging, signals

    The three services parse their configuration, set up logging, answer
    --healthcheck and wait for a signal the same way; this module does it
    once, so each main.c only declares its own options and wires its own
    classes together. It holds the one global the style allows: the flag
    that SIGINT and SIGTERM set.
*/
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <civetweb.h>
#include <curl/curl.h>
#include <czmq.h>
#include "enp_app.h"
#include "enp_log.h"
#include "enp_probe.h"

#define S_HEALTHCHECK_TIMEOUT_MS 2000   //  for the whole --healthcheck request
#define S_WAIT_STEP_US (100 * 1000)     //  how often enp_app_wait looks at the flag

static volatile sig_atomic_t s_interrupted = 0;

static void
s_on_signal (int signal_number)
{
    (void) signal_number;
    s_interrupted = 1;
}

//  Declare the options every service has.
int
enp_app_declare (enp_config_t *config)
{
    if (enp_config_option (config, "log-level", "info",
                           "debug, info, warn or error")
    ||  enp_config_option (config, "log-format", "text",
                           "text, or json for one JSON object per line")
    ||  enp_config_switch (config, "healthcheck",
                           "probe this service's /healthz on 127.0.0.1 and"
                           " exit 0 if healthy"))
        return -1;
    return 0;
}

//  Parse configuration and apply the logging options.
int
enp_app_configure (enp_config_t *config, int argc, char **argv)
{
    char err [256] = "out of memory";
    int rc = config? enp_config_parse (config, argc, argv, stdout, err,
                                       sizeof err): -1;
    if (rc == 0 && enp_log_set_level_name (enp_config_get (config, "log-level"))) {
        snprintf (err, sizeof err, "--log-level must be debug, info, warn or error");
        rc = -1;
    }
    if (rc == 0 && enp_log_set_format_name (enp_config_get (config, "log-format"))) {
        snprintf (err, sizeof err, "--log-format must be text or json");
        rc = -1;
    }
    if (rc < 0)
        fprintf (stderr, "%s: %s\n", config? enp_config_app (config): "enp", err);
    return rc;
}

//  Read a whole-number option in [min, max].
int
enp_app_number (enp_config_t *config, const char *name, long min, long max,
                long *value)
{
    char err [256];
    if (enp_config_get_long (config, name, min, max, value, err, sizeof err)) {
        fprintf (stderr, "%s: %s\n", enp_config_app (config), err);
        return -1;
    }
    return 0;
}

//  Return true when --healthcheck was given.
bool
enp_app_healthcheck_asked (enp_config_t *config)
{
    return enp_config_is_on (config, "healthcheck");
}

//  Probe this service's /healthz.
int
enp_app_healthcheck (long port)
{
    char url [64];
    snprintf (url, sizeof url, "http://127.0.0.1:%ld/healthz", port);
    return (port > 0 && enp_probe_check (url, S_HEALTHCHECK_TIMEOUT_MS) == 0)
           ? EXIT_SUCCESS: EXIT_FAILURE;
}

//  Start a service.
void
enp_app_start (const char *name)
{
    enp_log_init (name);
    zsys_handler_set (NULL);            //  We handle the signals, not czmq
    struct sigaction action = { .sa_handler = s_on_signal };
    sigaction (SIGINT, &action, NULL);
    sigaction (SIGTERM, &action, NULL);
    signal (SIGPIPE, SIG_IGN);
    mg_init_library (0);
    curl_global_init (CURL_GLOBAL_DEFAULT);
}

//  Block until SIGINT or SIGTERM.
void
enp_app_wait (void)
{
    //  A short sleep loop has no race with the signal, unlike pause ()
    while (!s_interrupted)
        usleep (S_WAIT_STEP_US);
}

//  Release what enp_app_start took.
void
enp_app_stop (void)
{
    curl_global_cleanup ();
    mg_exit_library ();
}
