/*  event-logger - REST API that records events and hands them to the broker

    Parses configuration, wires the store, the dispatcher and the API
    together, and waits for SIGINT or SIGTERM.
*/
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>
#include <civetweb.h>
#include <czmq.h>
#include "enp_config.h"
#include "enp_log.h"
#include "enp_probe.h"
#include "enp_store.h"
#include "logger_api.h"
#include "logger_dispatcher.h"
#include "logger_metrics.h"

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
    enp_config_t *config = enp_config_new ("event-logger", "EVENT_LOGGER_",
        "REST API that records events and hands them to the queue-broker.");
    if (!config)
        return NULL;
    enp_config_option (config, "host", "0.0.0.0", "address to listen on");
    enp_config_option (config, "port", "8000", "HTTP port (0 picks a free one)");
    enp_config_option (config, "broker", "tcp://127.0.0.1:5557",
                       "queue-broker frontend to push events to");
    enp_config_option (config, "status-token", "",
                       "when set, PATCH needs 'Authorization: Bearer <token>'");
    enp_config_option (config, "visibility-timeout", "30",
                       "seconds before a queued event is sent again");
    enp_config_option (config, "max-attempts", "5",
                       "deliveries before an event becomes failed");
    enp_config_option (config, "max-events", "1000000", "events held in the store");
    enp_config_option (config, "max-body", "16384", "bytes of request body");
    enp_config_option (config, "threads", "512",
                       "HTTP worker threads (one per open connection)");
    enp_config_option (config, "request-timeout", "10000",
                       "ms a connection may stall mid-request");
    enp_config_option (config, "keep-alive-timeout", "10000",
                       "ms an idle keep-alive connection is kept");
    enp_config_option (config, "docs-dir", "",
                       "folder of Swagger UI files served at /docs (empty: the"
                       " folder this build assembled)");
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
    long port = 0, visibility = 0, attempts = 0, max_events = 0, max_body = 0;
    long threads = 0, request_timeout = 0, keep_alive = 0;
    if (rc == 0
    && (enp_config_get_long (config, "port", 0, 65535, &port, err, sizeof err)
    ||  enp_config_get_long (config, "visibility-timeout", 1, 86400, &visibility, err, sizeof err)
    ||  enp_config_get_long (config, "max-attempts", 1, 1000, &attempts, err, sizeof err)
    ||  enp_config_get_long (config, "max-events", 1, 100000000, &max_events, err, sizeof err)
    ||  enp_config_get_long (config, "max-body", 64, 16777216, &max_body, err, sizeof err)
    ||  enp_config_get_long (config, "threads", 2, 4096, &threads, err, sizeof err)
    ||  enp_config_get_long (config, "request-timeout", 100, 600000, &request_timeout, err, sizeof err)
    ||  enp_config_get_long (config, "keep-alive-timeout", 100, 600000, &keep_alive, err, sizeof err)))
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
            fprintf (stderr, "event-logger: %s\n", *err? err: "out of memory");
        enp_config_destroy (&config);
        return rc < 0? EXIT_FAILURE: EXIT_SUCCESS;
    }
    if (enp_config_is_on (config, "healthcheck")) {
        char url [64];
        snprintf (url, sizeof url, "http://127.0.0.1:%ld/healthz", port);
        rc = enp_probe_check (url, 2000);
        enp_config_destroy (&config);
        return rc == 0? EXIT_SUCCESS: EXIT_FAILURE;
    }
    enp_log_init ("event-logger");
    zsys_handler_set (NULL);        //  We handle signals, not czmq
    struct sigaction action = { .sa_handler = s_on_signal };
    sigaction (SIGINT, &action, NULL);
    sigaction (SIGTERM, &action, NULL);
    signal (SIGPIPE, SIG_IGN);
    mg_init_library (0);

    enp_store_t *store = enp_store_new ((size_t) max_events, visibility * 1000,
                                        (uint32_t) attempts);
    logger_metrics_t *metrics = logger_metrics_new ();
    logger_dispatcher_t *dispatcher = store? logger_dispatcher_new (
        store, enp_config_get (config, "broker")): NULL;
    logger_api_options_t options = {
        .host = enp_config_get (config, "host"), .port = (int) port,
        .threads = (int) threads, .max_body = (size_t) max_body,
        .status_token = enp_config_get (config, "status-token"),
        .docs_dir = *enp_config_get (config, "docs-dir")
                  ? enp_config_get (config, "docs-dir"): ENP_DOCS_DIR,
        .request_timeout_ms = request_timeout, .keep_alive_ms = keep_alive
    };
    logger_api_t *api = (metrics && dispatcher)
        ? logger_api_new (&options, store, dispatcher, metrics): NULL;
    if (api) {
        enp_log_info ("started: broker %s, visibility timeout %lds, max attempts"
                      " %ld, max events %ld, auth %s", enp_config_get (config, "broker"),
                      visibility, attempts, max_events,
                      *options.status_token? "on": "off");
        while (!s_interrupted)
            usleep (100 * 1000);    //  No race with the signal, unlike pause ()
        enp_log_info ("stopping: no new requests, handing pending events to the broker");
    }
    rc = api? EXIT_SUCCESS: EXIT_FAILURE;
    logger_api_destroy (&api);
    enp_log_debug ("HTTP server stopped");
    logger_dispatcher_destroy (&dispatcher);
    enp_log_debug ("dispatcher stopped");
    logger_metrics_destroy (&metrics);
    enp_store_destroy (&store);
    enp_config_destroy (&config);
    mg_exit_library ();
    if (rc == EXIT_SUCCESS)
        enp_log_info ("stopped");
    return rc;
}
