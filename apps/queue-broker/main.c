/*  queue-broker - buffers events between loggers and notification workers

    Parses configuration, starts the broker actor and its metrics endpoint,
    and waits for SIGINT or SIGTERM.
*/
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>
#include <civetweb.h>
#include <czmq.h>
#include "broker.h"
#include "enp_config.h"
#include "enp_log.h"
#include "enp_probe.h"

static volatile sig_atomic_t s_interrupted = 0;

static void
s_on_signal (int signal_number)
{
    (void) signal_number;
    s_interrupted = 1;
}

//  Declare every option with its default.
static enp_config_t *
s_config_new (void)
{
    enp_config_t *config = enp_config_new ("queue-broker", "QUEUE_BROKER_",
        "Buffers events from event-loggers and fans them out to"
        " notification-processors.");
    if (!config)
        return NULL;
    enp_config_option (config, "frontend", "tcp://*:5557",
                       "endpoint loggers push to (bound)");
    enp_config_option (config, "backend", "tcp://*:5558",
                       "endpoint workers pull from (bound)");
    enp_config_option (config, "max-queue", "100000", "events buffered at most");
    enp_config_option (config, "stats-interval", "10",
                       "seconds between counter log lines (0: never)");
    enp_config_option (config, "metrics-host", "0.0.0.0",
                       "address of the /healthz and /metrics endpoint");
    enp_config_option (config, "metrics-port", "9101",
                       "port of the /healthz and /metrics endpoint (0: off)");
    enp_config_option (config, "log-level", "info", "debug, info, warn or error");
    enp_config_option (config, "log-format", "text", "text or json");
    enp_config_switch (config, "healthcheck",
                       "probe this service's /healthz on 127.0.0.1 and exit 0 if healthy");
    return config;
}

int
main (int argc, char *argv [])
{
    enp_config_t *config = s_config_new ();
    char err [256] = "";
    int rc = config? enp_config_parse (config, argc, argv, stdout, err, sizeof err): -1;
    long max_queue = 0, interval = 0, metrics_port = 0;
    if (rc == 0
    && (enp_config_get_long (config, "max-queue", 1, 100000000, &max_queue, err, sizeof err)
    ||  enp_config_get_long (config, "stats-interval", 0, 86400, &interval, err, sizeof err)
    ||  enp_config_get_long (config, "metrics-port", 0, 65535, &metrics_port, err, sizeof err)))
        rc = -1;
    if (rc == 0 && enp_log_set_level_name (enp_config_get (config, "log-level"))) {
        snprintf (err, sizeof err, "--log-level must be debug, info, warn or error");
        rc = -1;
    }
    if (rc == 0 && enp_log_set_format_name (enp_config_get (config, "log-format"))) {
        snprintf (err, sizeof err, "--log-format must be text or json");
        rc = -1;
    }
    if (rc != 0) {
        if (rc < 0)
            fprintf (stderr, "queue-broker: %s\n", *err? err: "out of memory");
        enp_config_destroy (&config);
        return rc < 0? EXIT_FAILURE: EXIT_SUCCESS;
    }
    if (enp_config_is_on (config, "healthcheck")) {
        char url [64];
        snprintf (url, sizeof url, "http://127.0.0.1:%ld/healthz", metrics_port);
        rc = metrics_port > 0? enp_probe_check (url, 2000): -1;
        enp_config_destroy (&config);
        return rc == 0? EXIT_SUCCESS: EXIT_FAILURE;
    }
    enp_log_init ("queue-broker");
    zsys_handler_set (NULL);
    struct sigaction action = { .sa_handler = s_on_signal };
    sigaction (SIGINT, &action, NULL);
    sigaction (SIGTERM, &action, NULL);
    signal (SIGPIPE, SIG_IGN);
    mg_init_library (0);

    broker_t *broker = broker_new (enp_config_get (config, "frontend"),
                                   enp_config_get (config, "backend"),
                                   (size_t) max_queue, interval * 1000);
    enp_probe_t *probe = NULL;
    if (broker && metrics_port > 0)
        probe = enp_probe_new (enp_config_get (config, "metrics-host"),
                               (int) metrics_port, broker_print_metrics, broker);
    rc = (broker && (probe || metrics_port == 0))? EXIT_SUCCESS: EXIT_FAILURE;
    if (rc == EXIT_SUCCESS) {
        enp_log_info ("started: buffering up to %ld events", max_queue);
        while (!s_interrupted)
            usleep (100 * 1000);
        enp_log_info ("stopping: handing buffered events to workers");
    }
    enp_probe_destroy (&probe);
    broker_destroy (&broker);
    enp_config_destroy (&config);
    mg_exit_library ();
    return rc;
}
