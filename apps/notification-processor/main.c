/*  notification-processor - prints a notification per event and reports it

    Parses configuration, starts the worker actor and its metrics endpoint,
    and waits for SIGINT or SIGTERM.
*/
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>
#include <civetweb.h>
#include <czmq.h>
#include <curl/curl.h>
#include "enp_config.h"
#include "enp_log.h"
#include "enp_probe.h"
#include "worker.h"

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
    enp_config_t *config = enp_config_new ("notification-processor",
        "NOTIFICATION_PROCESSOR_",
        "Pulls events from the queue-broker, prints a notification for each"
        " and marks it processed through the event-logger's API.");
    if (!config)
        return NULL;
    enp_config_option (config, "broker", "tcp://127.0.0.1:5558",
                       "queue-broker backend to pull events from");
    enp_config_option (config, "logger-url", "http://127.0.0.1:8000",
                       "base URL of the event-logger");
    enp_config_option (config, "status-token", "",
                       "bearer token for PATCH, when the logger requires one");
    enp_config_option (config, "dedup-size", "100000",
                       "event ids remembered so a redelivery is not printed twice");
    enp_config_option (config, "report-retries", "8",
                       "retries of a failed report before the logger's redelivery takes over");
    enp_config_option (config, "report-backoff", "100",
                       "first retry backoff in ms (doubles, with jitter, up to 5 s)");
    enp_config_option (config, "report-concurrency", "8",
                       "reports in flight at once, each on its own kept-alive connection");
    enp_config_option (config, "metrics-host", "0.0.0.0",
                       "address of the /healthz and /metrics endpoint");
    enp_config_option (config, "metrics-port", "9102",
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
    long dedup = 0, retries = 0, backoff = 0, metrics_port = 0, inflight = 0;
    if (rc == 0
    && (enp_config_get_long (config, "dedup-size", 1, 100000000, &dedup, err, sizeof err)
    ||  enp_config_get_long (config, "report-retries", 0, 100, &retries, err, sizeof err)
    ||  enp_config_get_long (config, "report-backoff", 1, 60000, &backoff, err, sizeof err)
    ||  enp_config_get_long (config, "report-concurrency", 1, 256, &inflight, err, sizeof err)
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
            fprintf (stderr, "notification-processor: %s\n", *err? err: "out of memory");
        enp_config_destroy (&config);
        return rc < 0? EXIT_FAILURE: EXIT_SUCCESS;
    }
    curl_global_init (CURL_GLOBAL_DEFAULT);
    if (enp_config_is_on (config, "healthcheck")) {
        char url [64];
        snprintf (url, sizeof url, "http://127.0.0.1:%ld/healthz", metrics_port);
        rc = metrics_port > 0? enp_probe_check (url, 2000): -1;
        enp_config_destroy (&config);
        curl_global_cleanup ();
        return rc == 0? EXIT_SUCCESS: EXIT_FAILURE;
    }
    enp_log_init ("notification-processor");
    zsys_handler_set (NULL);
    struct sigaction action = { .sa_handler = s_on_signal };
    sigaction (SIGINT, &action, NULL);
    sigaction (SIGTERM, &action, NULL);
    signal (SIGPIPE, SIG_IGN);
    mg_init_library (0);

    worker_options_t options = {
        .broker = enp_config_get (config, "broker"),
        .logger_url = enp_config_get (config, "logger-url"),
        .status_token = enp_config_get (config, "status-token"),
        .dedup_size = (size_t) dedup, .max_retries = (int) retries,
        .backoff_ms = backoff, .inflight = (size_t) inflight
    };
    worker_t *worker = worker_new (&options, stdout);
    enp_probe_t *probe = NULL;
    if (worker && metrics_port > 0)
        probe = enp_probe_new (enp_config_get (config, "metrics-host"),
                               (int) metrics_port, worker_print_metrics, worker);
    rc = (worker && (probe || metrics_port == 0))? EXIT_SUCCESS: EXIT_FAILURE;
    if (rc == EXIT_SUCCESS) {
        enp_log_info ("started: reporting to %s", options.logger_url);
        while (!s_interrupted)
            usleep (100 * 1000);
        enp_log_info ("stopping: finishing the events already received");
    }
    enp_probe_destroy (&probe);
    worker_destroy (&worker);
    enp_config_destroy (&config);
    mg_exit_library ();
    curl_global_cleanup ();
    return rc;
}
