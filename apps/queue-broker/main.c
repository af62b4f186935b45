/*  queue-broker - buffers events between loggers and notification workers

    Parses configuration, starts the broker actor and its metrics endpoint,
    and waits for SIGINT or SIGTERM. --make-cert writes a CURVE certificate
    pair and exits.
*/
#include <stdlib.h>
#include "broker.h"
#include "enp_app.h"
#include "enp_config.h"
#include "enp_curve.h"
#include "enp_log.h"
#include "enp_probe.h"

//  Declare every option with its default.
static enp_config_t *
s_config_new (void)
{
    enp_config_t *config = enp_config_new ("queue-broker", "QUEUE_BROKER_",
        "Buffers events from event-loggers and fans them out to"
        " notification-processors.");
    if (!config
    ||  enp_config_option (config, "frontend", "tcp://127.0.0.1:5557",
                           "endpoint loggers push to (bound; tcp://*:5557 for"
                           " every interface)")
    ||  enp_config_option (config, "backend", "tcp://127.0.0.1:5558",
                           "endpoint workers pull from (bound; tcp://*:5558 for"
                           " every interface)")
    ||  enp_config_option (config, "max-queue", "100000", "events buffered at most")
    ||  enp_config_option (config, "max-queue-bytes", "67108864",
                           "bytes of events buffered at most")
    ||  enp_config_option (config, "stats-interval", "10",
                           "seconds between counter log lines (0: never)")
    ||  enp_app_declare_metrics (config, "9101")
    ||  enp_config_option (config, "curve-secret", "",
                           "own CURVE secret certificate file (PATH_secret from"
                           " --make-cert); empty: CURVE off")
    ||  enp_config_option (config, "curve-loggers", "",
                           "folder of public certificates of loggers allowed to"
                           " push (needed with --curve-secret)")
    ||  enp_config_option (config, "curve-workers", "",
                           "folder of public certificates of processors allowed"
                           " to pull (needed with --curve-secret)")
    ||  enp_config_option (config, "make-cert", "",
                           "write a new certificate pair to PATH and PATH_secret,"
                           " then exit")
    ||  enp_app_declare (config))
        enp_config_destroy (&config);
    return config;
}

//  Write a certificate pair for --make-cert. Returns the exit status.
static int
s_make_cert (const char *path)
{
    char err [512];
    if (enp_curve_make_cert (path, err, sizeof err)) {
        fprintf (stderr, "queue-broker: %s\n", err);
        return EXIT_FAILURE;
    }
    printf ("wrote %s (public key: give it to peers) and %s_secret (keep it"
            " private)\n", path, path);
    return EXIT_SUCCESS;
}

//  Load the broker's certificate when CURVE is asked for. Returns 0 (with
//  *curve_p NULL when CURVE is off) or -1 after saying what is wrong.
static int
s_curve (enp_config_t *config, enp_curve_t **curve_p)
{
    const char *secret = enp_config_get (config, "curve-secret");
    bool lists = *enp_config_get (config, "curve-loggers")
              || *enp_config_get (config, "curve-workers");
    char err [512] = "--curve-loggers and --curve-workers need --curve-secret";
    *curve_p = *secret? enp_curve_new (secret, NULL, err, sizeof err): NULL;
    if ((*secret && !*curve_p) || (!*secret && lists)) {
        enp_log_error ("%s", err);
        return -1;
    }
    if (*curve_p)
        enp_log_info ("CURVE public key %s", enp_curve_public_key (*curve_p));
    return 0;
}

//  Run the broker until a signal. Returns the exit status.
static int
s_run (enp_config_t *config, long max_queue, long max_bytes, long interval)
{
    enp_curve_t *curve = NULL;
    if (s_curve (config, &curve))
        return EXIT_FAILURE;
    broker_options_t options = {
        .frontend = enp_config_get (config, "frontend"),
        .backend = enp_config_get (config, "backend"),
        .max_queue = (size_t) max_queue, .max_queue_bytes = (size_t) max_bytes,
        .stats_interval_ms = interval * 1000, .curve = curve,
        .curve_loggers = enp_config_get (config, "curve-loggers"),
        .curve_workers = enp_config_get (config, "curve-workers")
    };
    broker_t *broker = broker_new (&options);
    enp_probe_t *probe = NULL;
    int status = (broker && enp_app_probe (config, broker_print_metrics, broker,
                                           &probe) == 0)? EXIT_SUCCESS: EXIT_FAILURE;
    if (status == EXIT_SUCCESS) {
        enp_log_info ("started: buffering up to %ld events, %ld bytes",
                      max_queue, max_bytes);
        enp_app_wait ();
        enp_log_info ("stopping: handing buffered events to workers");
    }
    enp_probe_destroy (&probe);
    broker_destroy (&broker);
    enp_curve_destroy (&curve);
    return status;
}

int
main (int argc, char *argv [])
{
    enp_config_t *config = s_config_new ();
    int rc = enp_app_configure (config, argc, argv);
    long max_queue = 0, max_bytes = 0, interval = 0;
    if (rc == 0
    && (enp_app_number (config, "max-queue", 1, 100000000, &max_queue)
    ||  enp_app_number (config, "max-queue-bytes", 65536, 1L << 40, &max_bytes)
    ||  enp_app_number (config, "stats-interval", 0, 86400, &interval)))
        rc = -1;
    //  0: run; 1: --help was printed; -1: bad configuration, said why
    int status = rc < 0? EXIT_FAILURE: EXIT_SUCCESS;
    if (rc == 0 && *enp_config_get (config, "make-cert"))
        status = s_make_cert (enp_config_get (config, "make-cert"));
    else
    if (rc == 0 && enp_app_healthcheck_asked (config))
        status = enp_app_probe_healthcheck (config);
    else
    if (rc == 0) {
        enp_app_start ("queue-broker");
        status = s_run (config, max_queue, max_bytes, interval);
        enp_app_stop ();
    }
    enp_config_destroy (&config);
    return status;
}
