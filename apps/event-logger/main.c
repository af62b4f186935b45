/*  event-logger - REST API that records events and hands them to the broker

    Parses configuration, wires the store, the dispatcher and the API
    together, and waits for SIGINT or SIGTERM.
*/
#include <stdlib.h>
#include <string.h>
#include "enp_app.h"
#include "enp_config.h"
#include "enp_curve.h"
#include "enp_log.h"
#include "enp_wire.h"
#include "logger_api.h"
#include "logger_dispatcher.h"
#include "logger_metrics.h"
#include "logger_paths.h"
#include "logger_store.h"

//  Declare every option with its default.
static enp_config_t *
s_config_new (void)
{
    enp_config_t *config = enp_config_new ("event-logger", "EVENT_LOGGER_",
        "REST API that records events and hands them to the queue-broker.");
    if (!config
    ||  enp_config_option (config, "host", "127.0.0.1",
                           "address to listen on (0.0.0.0: every interface)")
    ||  enp_config_option (config, "port", "8000", "HTTP port (0 picks a free one)")
    ||  enp_config_option (config, "broker", "tcp://127.0.0.1:5557",
                           "queue-broker frontend to push events to")
    ||  enp_curve_declare_client (config)
    ||  enp_config_option (config, "status-token", "",
                           "when set, PATCH and :batchUpdateStatus need"
                           " 'Authorization: Bearer <token>'")
    ||  enp_config_option (config, "visibility-timeout", "30",
                           "seconds before a queued event is sent again")
    ||  enp_config_option (config, "wire-batch", "64",
                           "events per message to the broker at most (1 to 64);"
                           " 1 sends one per message, as brokers and processors"
                           " before ENP3 need")
    ||  enp_config_option (config, "max-attempts", "5",
                           "deliveries before an event becomes failed")
    ||  enp_config_option (config, "store", "memory",
                           "where events live: 'memory', or a PostgreSQL URI"
                           " (postgresql://user:password@host/database)")
    ||  enp_config_option (config, "store-connections", "4",
                           "connections to the PostgreSQL store, each one"
                           " writer committing what queued up meanwhile")
    ||  enp_config_option (config, "max-events", "1000000", "events held in the store")
    ||  enp_config_option (config, "max-store-bytes", "1073741824",
                           "bytes of events held in the memory store (strings"
                           " plus ~384 bytes each); processed, then failed"
                           " events are evicted to make room")
    ||  enp_config_option (config, "max-body", "16384", "bytes of request body")
    ||  enp_config_option (config, "max-batch-body", "1048576",
                           "bytes of request body of POST /events:batchCreate"
                           " and /events:batchUpdateStatus (1 to 1000 items)")
    ||  enp_config_option (config, "threads", "512",
                           "HTTP worker threads (one per open connection)")
    ||  enp_config_option (config, "request-timeout", "10000",
                           "ms a whole request, head and body, may take to"
                           " arrive (then 408); also how long a write may stall")
    ||  enp_config_option (config, "keep-alive-timeout", "10000",
                           "ms an idle keep-alive connection is kept (at most"
                           " --request-timeout)")
    ||  enp_config_option (config, "max-connections-per-client", "auto",
                           "connections one client address may hold at once"
                           " (then 429); auto: a quarter of --threads; 0: no"
                           " cap, for a reverse proxy in front")
    ||  enp_config_option (config, "tls-cert", "",
                           "PEM file with the server's certificate (chain) and"
                           " its private key: serve HTTPS (TLS 1.2+) instead of HTTP")
    ||  enp_config_option (config, "docs-dir", "",
                           "folder of Swagger UI files served at /docs (empty:"
                           " ../share/event-logger/docs from the binary's folder)")
    ||  enp_app_declare (config))
        enp_config_destroy (&config);
    return config;
}

//  Say what a store that lives in memory loses when the process ends: the
//  events nobody reported processed (the dispatcher has already handed
//  what it could to the broker).
static void
s_report_loss (logger_store_t *store)
{
    if (!store || logger_store_durable (store))
        return;
    logger_store_stats_t stats;
    logger_store_stats (store, &stats);
    if (stats.pending + stats.queued > 0)
        enp_log_error ("dropping %zu unprocessed events with the memory store"
                       " (%zu pending, never sent; %zu queued, sent but not"
                       " reported): they are lost. --store postgresql://..."
                       " keeps them", stats.pending + stats.queued,
                       stats.pending, stats.queued);
}

//  Read --max-connections-per-client: auto is a quarter of the threads, so
//  one address (one attacker) cannot take them all. Returns 0 or -1.
static int
s_per_client (enp_config_t *config, long threads, long *value)
{
    if (strcmp (enp_config_get (config, "max-connections-per-client"), "auto") == 0) {
        *value = threads / 4 > 1? threads / 4: 1;
        return 0;
    }
    return enp_app_number (config, "max-connections-per-client", 0, 4096, value);
}

//  Create the store, the metrics and the dispatcher. Returns 0, or -1
//  after logging which one failed and why (the dispatcher says why itself).
static int
s_start_parts (enp_config_t *config, enp_curve_t *curve,
               const logger_store_options_t *store_options,
               logger_store_t **store_p, logger_metrics_t **metrics_p,
               logger_dispatcher_t **dispatcher_p)
{
    //  The store says itself why it cannot start
    *store_p = logger_store_new (enp_config_get (config, "store"), store_options);
    if (!*store_p)
        return -1;
    *metrics_p = logger_metrics_new ();
    if (!*metrics_p) {
        enp_log_error ("cannot create the request metrics: out of memory");
        return -1;
    }
    *dispatcher_p = logger_dispatcher_new (*store_p, enp_config_get (config, "broker"),
                                           curve);
    //  main checked the value already
    long wire_batch = ENP_WIRE_BATCH_MAX;
    enp_config_get_long (config, "wire-batch", 1, ENP_WIRE_BATCH_MAX, &wire_batch,
                         NULL, 0);
    return *dispatcher_p? logger_dispatcher_set_wire_batch (*dispatcher_p,
                                                            (size_t) wire_batch): -1;
}

//  Create the classes, serve until a signal, destroy in reverse order.
static int
s_run (enp_config_t *config, const logger_api_options_t *options,
       const logger_store_options_t *store_options)
{
    enp_curve_t *curve = NULL;
    if (enp_curve_client_from_config (config, &curve))
        return EXIT_FAILURE;
    logger_store_t *store = NULL;
    logger_metrics_t *metrics = NULL;
    logger_dispatcher_t *dispatcher = NULL;
    logger_api_t *api = s_start_parts (config, curve, store_options, &store,
                                       &metrics, &dispatcher) == 0
        ? logger_api_new (options, store, dispatcher, metrics): NULL;
    if (api) {
        enp_log_info ("started: %s store, broker %s, visibility timeout %llds,"
                      " max attempts %u, max events %zu, auth %s",
                      logger_store_engine (store), enp_config_get (config, "broker"),
                      (long long) store_options->visibility_ms / 1000,
                      store_options->max_attempts, store_options->max_events,
                      *options->status_token? "on": "off");
        enp_app_wait ();
        enp_log_info ("stopping: no new requests%s", logger_store_durable (store)
                      ? "; the store keeps what is not processed"
                      : ", handing pending events to the broker");
    }
    int rc = api? EXIT_SUCCESS: EXIT_FAILURE;
    logger_api_destroy (&api);
    enp_log_debug ("HTTP server stopped");
    logger_dispatcher_destroy (&dispatcher);
    logger_metrics_destroy (&metrics);
    s_report_loss (store);
    logger_store_destroy (&store);
    enp_curve_destroy (&curve);
    if (rc == EXIT_SUCCESS)
        enp_log_info ("stopped");
    return rc;
}

int
main (int argc, char *argv [])
{
    enp_config_t *config = s_config_new ();
    int rc = enp_app_configure (config, argc, argv);
    long port = 0, visibility = 0, attempts = 0, max_events = 0, max_body = 0;
    long max_store_bytes = 0, store_connections = 0, per_client = 0;
    long max_batch_body = 0;
    long threads = 0, request_timeout = 0, keep_alive = 0, wire_batch = 0;
    if (rc == 0
    && (enp_app_number (config, "port", 0, 65535, &port)
    ||  enp_app_number (config, "visibility-timeout", 1, 86400, &visibility)
    ||  enp_app_number (config, "max-attempts", 1, 1000, &attempts)
    ||  enp_app_number (config, "wire-batch", 1, ENP_WIRE_BATCH_MAX, &wire_batch)
    ||  enp_app_number (config, "max-events", 1, 100000000, &max_events)
    ||  enp_app_number (config, "max-store-bytes", 1048576, 1099511627776L,
                        &max_store_bytes)
    ||  enp_app_number (config, "store-connections", 1, 64, &store_connections)
    ||  enp_app_number (config, "max-body", 64, 16777216, &max_body)
    ||  enp_app_number (config, "max-batch-body", 64, 67108864, &max_batch_body)
    ||  enp_app_number (config, "threads", 2, 4096, &threads)
    ||  enp_app_number (config, "request-timeout", 100, 600000, &request_timeout)
    ||  enp_app_number (config, "keep-alive-timeout", 100, 600000, &keep_alive)
    ||  s_per_client (config, threads, &per_client)))
        rc = -1;
    //  0: run; 1: --help was printed; -1: bad configuration, said why
    int status = rc < 0? EXIT_FAILURE: EXIT_SUCCESS;
    if (rc == 0 && enp_app_healthcheck_asked (config))
        status = enp_app_healthcheck (config, enp_config_get (config, "host"), port);
    else
    if (rc == 0) {
        enp_app_start ("event-logger");
        const char *docs_dir = enp_config_get (config, "docs-dir");
        char *docs_default = logger_paths_beside_exe (ENP_DOCS_DIR);
        logger_api_options_t options = {
            .host = enp_config_get (config, "host"), .port = (int) port,
            .threads = (int) threads, .max_body = (size_t) max_body,
            .max_batch_body = (size_t) max_batch_body,
            .status_token = enp_config_get (config, "status-token"),
            .docs_dir = *docs_dir? docs_dir: docs_default? docs_default: "",
            .request_timeout_ms = request_timeout, .keep_alive_ms = keep_alive,
            .max_per_client = (int) per_client,
            .tls_cert = enp_config_get (config, "tls-cert")
        };
        logger_store_options_t store_options = {
            .max_events = (size_t) max_events,
            .max_bytes = (size_t) max_store_bytes,
            .visibility_ms = (int64_t) visibility * 1000,
            .max_attempts = (uint32_t) attempts,
            //  A store that does not answer in time gets a 503 sent
            //  within the request timeout
            .timeout_ms = request_timeout * 4 / 5,
            .connections = (int) store_connections,
            .stats_ttl_ms = 1000
        };
        status = s_run (config, &options, &store_options);
        free (docs_default);
        enp_app_stop ();
    }
    enp_config_destroy (&config);
    return status;
}
