/*  queue-broker - buffers events between loggers and notification workers

    Parses configuration, starts the broker actor and its metrics endpoint,
    and waits for SIGINT or SIGTERM.
*/
#include <stdlib.h>
#include "broker.h"
#include "enp_app.h"
#include "enp_config.h"
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
    ||  enp_config_option (config, "frontend", "tcp://*:5557",
                           "endpoint loggers push to (bound)")
    ||  enp_config_option (config, "backend", "tcp://*:5558",
                           "endpoint workers pull from (bound)")
    ||  enp_config_option (config, "max-queue", "100000", "events buffered at most")
    ||  enp_config_option (config, "stats-interval", "10",
                           "seconds between counter log lines (0: never)")
    ||  enp_app_declare_metrics (config, "9101")
    ||  enp_app_declare (config))
        enp_config_destroy (&config);
    return config;
}

int
main (int argc, char *argv [])
{
    enp_config_t *config = s_config_new ();
    int rc = enp_app_configure (config, argc, argv);
    long max_queue = 0, interval = 0;
    if (rc == 0
    && (enp_app_number (config, "max-queue", 1, 100000000, &max_queue)
    ||  enp_app_number (config, "stats-interval", 0, 86400, &interval)))
        rc = -1;
    //  0: run; 1: --help was printed; -1: bad configuration, said why
    int status = rc < 0? EXIT_FAILURE: EXIT_SUCCESS;
    if (rc == 0 && enp_app_healthcheck_asked (config))
        status = enp_app_probe_healthcheck (config);
    else
    if (rc == 0) {
        enp_app_start ("queue-broker");
        broker_t *broker = broker_new (enp_config_get (config, "frontend"),
                                       enp_config_get (config, "backend"),
                                       (size_t) max_queue, interval * 1000);
        enp_probe_t *probe = NULL;
        status = (broker && enp_app_probe (config, broker_print_metrics, broker,
                                           &probe) == 0)? EXIT_SUCCESS: EXIT_FAILURE;
        if (status == EXIT_SUCCESS) {
            enp_log_info ("started: buffering up to %ld events", max_queue);
            enp_app_wait ();
            enp_log_info ("stopping: handing buffered events to workers");
        }
        enp_probe_destroy (&probe);
        broker_destroy (&broker);
        enp_app_stop ();
    }
    enp_config_destroy (&config);
    return status;
}
