//  enp_curve - a service's CURVE identity: its certificate, its server's key
#ifndef ENP_CURVE_H_INCLUDED
#define ENP_CURVE_H_INCLUDED

#include <stddef.h>
#include <czmq.h>
#include "enp_config.h"

typedef struct _enp_curve_t enp_curve_t;

//  Load a service's own certificate from secret_path (a czmq secret
//  certificate, the PATH_secret file that enp_curve_make_cert writes) and,
//  for a client, the server's public certificate from server_path (NULL
//  for a server). Returns NULL with a reason in err (may be NULL) when a
//  file is missing, unreadable or holds no key. Never puts a secret key in
//  err. Caller owns the result.
enp_curve_t *enp_curve_new (const char *secret_path, const char *server_path,
                            char *err, size_t err_len);
//  Destroy the identity, wiping its keys from memory; nulls the pointer.
void enp_curve_destroy (enp_curve_t **self_p);
//  Return the own public key in Z85 text (40 characters), safe to log.
const char *enp_curve_public_key (enp_curve_t *self);
//  Make socket a CURVE server with this certificate, asking the ZAP
//  handler to authenticate every client under zap_domain. A socket whose
//  domain has no handler refuses every client.
void enp_curve_apply_server (enp_curve_t *self, zsock_t *socket,
                             const char *zap_domain);
//  Make socket a CURVE client with this certificate that accepts only the
//  server key given to enp_curve_new.
void enp_curve_apply_client (enp_curve_t *self, zsock_t *socket);
//  Write a new certificate pair: path (public key) and path_secret (both
//  keys, mode 0600). Refuses to overwrite either file. Returns 0, or -1
//  with a reason in err.
int enp_curve_make_cert (const char *path, char *err, size_t err_len);
//  Declare a client's options: --curve-secret and --curve-broker. Returns
//  0 or -1.
int enp_curve_declare_client (enp_config_t *config);
//  Read a client's options into *curve_p: NULL when both are empty (CURVE
//  off). Returns 0, or -1 after printing what is wrong to stderr.
int enp_curve_client_from_config (enp_config_t *config, enp_curve_t **curve_p);

#endif
