//  loadgen_client - a blocking keep-alive HTTP client for GETs, used to
//  read results back after a burst
#ifndef LOADGEN_CLIENT_H_INCLUDED
#define LOADGEN_CLIENT_H_INCLUDED

#include "loadgen_http.h"

typedef struct _loadgen_client_t loadgen_client_t;

//  Create a client for host (IPv4 literal) and port; it connects on first
//  use. Caller owns the result.
loadgen_client_t *loadgen_client_new (const char *host, int port);
//  Close and free the client; nulls the caller's pointer.
void loadgen_client_destroy (loadgen_client_t **self_p);
//  GET path (reconnecting once if the kept-alive connection was closed).
//  Returns 0 and fills response (its body is valid until the next call;
//  free it with loadgen_http_response_free), or -1.
int loadgen_client_get (loadgen_client_t *self, const char *path,
                        loadgen_http_response_t *response);

#endif
