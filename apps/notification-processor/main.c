/*  notification-processor - prints a notification per event and reports it

    Parses configuration, starts the worker actor and its metrics endpoint,
    and waits for SIGINT or SIGTERM.
*/
#include <stdlib.h>
#include <strings.h>
#include "enp_app.h"
#include "enp_config.h"
#include "enp_curve.h"
#include "enp_log.h"
#include "enp_probe.h"
#include "worker.h"
#include "worker_callback.h"
#include "worker_reports.h"

//  Declare every option with its default.
static enp_config_t *
s_config_new (void)
{
    enp_config_t *config = enp_config_new ("notification-processor",
        "NOTIFICATION_PROCESSOR_",
        "Pulls events from the queue-broker, prints a notification for each"
        " and marks it processed through the event-logger's API.");
    if (!config
    ||  enp_config_option (config, "broker", "tcp://127.0.0.1:5558",
                           "queue-broker backend to pull events from")
    ||  enp_config_option (config, "logger-url", "http://127.0.0.1:8000",
                           "base URL of the event-logger")
    ||  enp_config_option (config, "logger-ca", "",
                           "PEM file of the CA certificates that verify the"
                           " logger's (an https:// --logger-url); empty: the"
                           " system's")
    ||  enp_config_option (config, "status-token", "",
                           "bearer token for status reports (batches and PATCH),"
                           " when the logger requires one")
    ||  enp_config_option (config, "dedup-size", "100000",
                           "event ids remembered so a redelivery is not printed twice")
    ||  enp_config_option (config, "report-retries", "8",
                           "retries of a failed report before the logger's redelivery takes over")
    ||  enp_config_option (config, "report-backoff", "100",
                           "first retry backoff in ms (doubles, with jitter, up to 5 s)")
    ||  enp_config_option (config, "report-concurrency", "8",
                           "report requests in flight at once, each on its own"
                           " kept-alive connection")
    ||  enp_config_option (config, "report-batch-max", "256",
                           "reports per request at most (1 to 1000); 1 sends"
                           " each as its own PATCH")
    ||  enp_config_option (config, "report-batch-ms", "2",
                           "while a report request is in flight, others gather"
                           " this long at most (0 to 1000 ms); an idle logger"
                           " gets each report at once")
    ||  enp_config_option (config, "report-queue", "100000",
                           "reports waiting for the logger at most (1000 to"
                           " 10000000, 16 bytes each); when full, the processor"
                           " leaves the broker until half are done")
    ||  enp_config_option (config, "notify-format", "text",
                           "text (Event {id} has been sent to {user}: {description},"
                           " escaped) or json (one object per line)")
    ||  enp_curve_declare_client (config)
    ||  enp_app_declare_metrics (config, "9102")
    ||  enp_app_declare (config))
        enp_config_destroy (&config);
    return config;
}

int
main (int argc, char *argv [])
{
    enp_config_t *config = s_config_new ();
    int rc = enp_app_configure (config, argc, argv);
    long dedup = 0, retries = 0, backoff = 0, inflight = 0;
    long batch_max = 0, batch_ms = 0, queue = 0;
    if (rc == 0
    && (enp_app_number (config, "dedup-size", 1, 100000000, &dedup)
    ||  enp_app_number (config, "report-retries", 0, 100, &retries)
    ||  enp_app_number (config, "report-backoff", 1, 60000, &backoff)
    ||  enp_app_number (config, "report-concurrency", 1, 256, &inflight)
    ||  enp_app_number (config, "report-batch-max", 1, WORKER_CALLBACK_BATCH_MAX,
                        &batch_max)
    ||  enp_app_number (config, "report-batch-ms", 0, WORKER_CALLBACK_BATCH_MS_MAX,
                        &batch_ms)
    ||  enp_app_number (config, "report-queue", 1000, WORKER_REPORTS_LIMIT_MAX,
                        &queue)))
        rc = -1;
    worker_line_format_t format = WORKER_LINE_TEXT;
    if (rc == 0
    &&  worker_line_format_parse (enp_config_get (config, "notify-format"), &format)) {
        fprintf (stderr, "notification-processor: --notify-format must be text or json\n");
        rc = -1;
    }
    //  A CA for a plain-HTTP logger protects nothing: surely a mistake
    const char *logger_ca = enp_config_get (config, "logger-ca");
    if (rc == 0 && *logger_ca
    &&  strncasecmp (enp_config_get (config, "logger-url"), "https://", 8) != 0) {
        fprintf (stderr, "notification-processor: --logger-ca needs an https://"
                 " --logger-url\n");
        rc = -1;
    }
    //  0: run; 1: --help was printed; -1: bad configuration, said why
    int status = rc < 0? EXIT_FAILURE: EXIT_SUCCESS;
    if (rc == 0 && enp_app_healthcheck_asked (config))
        status = enp_app_probe_healthcheck (config);
    else
    if (rc == 0) {
        enp_app_start ("notification-processor");
        enp_curve_t *curve = NULL;
        int curve_rc = enp_curve_client_from_config (config, &curve);
        worker_options_t options = {
            .broker = enp_config_get (config, "broker"),
            .logger_url = enp_config_get (config, "logger-url"),
            .status_token = enp_config_get (config, "status-token"),
            .logger_ca = logger_ca,
            .dedup_size = (size_t) dedup, .max_retries = (int) retries,
            .backoff_ms = backoff, .inflight = (size_t) inflight,
            .batch_max = (size_t) batch_max, .batch_ms = (int) batch_ms,
            .report_queue = (size_t) queue,
            .format = format, .curve = curve
        };
        worker_t *worker = curve_rc == 0? worker_new (&options, stdout): NULL;
        enp_probe_t *probe = NULL;
        status = (worker && enp_app_probe (config, worker_print_metrics, worker,
                                           &probe) == 0)? EXIT_SUCCESS: EXIT_FAILURE;
        if (status == EXIT_SUCCESS) {
            enp_log_info ("started: reporting to %s", options.logger_url);
            enp_app_wait ();
            enp_log_info ("stopping: finishing the events already received");
        }
        enp_probe_destroy (&probe);
        worker_destroy (&worker);
        enp_curve_destroy (&curve);
        enp_app_stop ();
    }
    enp_config_destroy (&config);
    return status;
}
