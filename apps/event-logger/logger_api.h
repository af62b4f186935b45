//  logger_api - the event-logger's REST API: its routes and handlers
#ifndef LOGGER_API_H_INCLUDED
#define LOGGER_API_H_INCLUDED

#include <stddef.h>
#include "enp_status.h"
#include "logger_store.h"
#include "logger_dispatcher.h"
#include "logger_metrics.h"

typedef struct {
    const char *host;           //  listen address, e.g. "127.0.0.1"
    int port;                   //  0 picks a free port
    int threads;                //  worker threads: one per open connection
    size_t max_body;            //  request body limit in bytes
    size_t max_batch_body;      //  the same for the batch routes
    const char *status_token;   //  "" or NULL: PATCH and :batchUpdateStatus
                                //  need no token
    const char *docs_dir;       //  Swagger UI files for /docs (may lack them:
                                //  /docs then answers 503 saying so)
    long request_timeout_ms;    //  a whole request must arrive within this
    long keep_alive_ms;         //  idle time before a connection closes
    int max_per_client;         //  connections per client address; 0: any
    const char *tls_cert;       //  PEM certificate and key: HTTPS; "": HTTP
} logger_api_options_t;

typedef struct _logger_api_t logger_api_t;

//  Start serving, and log where (and whether /docs has Swagger UI). store,
//  dispatcher and metrics are borrowed and must outlive the API; every
//  response is counted in metrics. Returns NULL (and logs why) when the
//  port cannot be bound or memory runs out.
logger_api_t *logger_api_new (const logger_api_options_t *options,
                              logger_store_t *store,
                              logger_dispatcher_t *dispatcher,
                              logger_metrics_t *metrics);
//  Stop serving, waiting for requests in progress; nulls the pointer.
void logger_api_destroy (logger_api_t **self_p);
//  Map a status code to the HTTP status the API answers with it.
int logger_api_http_status (enp_status_t status);

#endif
