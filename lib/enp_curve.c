/*  enp_curve - a service's CURVE identity: its certificate, its server's key

    ZeroMQ's CURVE mechanism encrypts a link and authenticates both ends by
    their long-term keys. Keys live in czmq's certificate files (zcert):
    PATH holds the public key, PATH_secret both. A client must know the
    server's public key before it connects, so an impostor cannot play the
    broker; the server learns each client's public key in the handshake and
    asks its ZAP handler whether that key is allowed (see broker_auth).

    Secret keys never leave this class except into libzmq: nothing here
    logs or formats one, and destroy wipes the certificate's copies.
*/
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include "enp_curve.h"
#include "enp_log.h"
#include "enp_status.h"

//  Z85 of 32 zero bytes: what zcert_load gives for a missing key
#define S_ZERO_KEY "0000000000000000000000000000000000000000"

struct _enp_curve_t {
    zcert_t *cert;              //  own public and secret key
    char server_key [41];       //  the server's public key (Z85), or ""
};

//  Overwrite a certificate's secret key, binary and text: zcert_destroy
//  frees them without wiping.
static void
s_wipe (zcert_t *cert)
{
    if (cert) {
        memset ((void *) zcert_secret_key (cert), 0, 32);
        memset ((void *) zcert_secret_txt (cert), 0, 40);
    }
}

//  Load a certificate file. Returns NULL with a reason in err.
static zcert_t *
s_load (const char *path, const char *what, char *err, size_t err_len)
{
    struct stat info;
    if (!path || !*path || stat (path, &info) != 0) {
        enp_status_explain (err, err_len, "%s %s: %s", what, path? path: "",
                            strerror (path && *path? errno: ENOENT));
        return NULL;
    }
    zcert_t *cert = zcert_load (path);
    if (!cert || streq (zcert_public_txt (cert), S_ZERO_KEY)) {
        enp_status_explain (err, err_len, "%s %s is not a czmq certificate"
                            " (make one with queue-broker --make-cert)", what, path);
        zcert_destroy (&cert);
    }
    return cert;
}

//  Load a service's own certificate and its server's public key.
enp_curve_t *
enp_curve_new (const char *secret_path, const char *server_path,
               char *err, size_t err_len)
{
    enp_curve_t *self = (enp_curve_t *) calloc (1, sizeof (enp_curve_t));
    if (!self) {
        enp_status_explain (err, err_len, "out of memory");
        return NULL;
    }
    self->cert = s_load (secret_path, "secret certificate", err, err_len);
    if (self->cert && streq (zcert_secret_txt (self->cert), S_ZERO_KEY)) {
        //  zcert_load falls back to PATH when PATH_secret is absent
        enp_status_explain (err, err_len, "%s holds no secret key: give the"
                            " PATH_secret file", secret_path);
        enp_curve_destroy (&self);
        return NULL;
    }
    struct stat info;
    if (self->cert && stat (secret_path, &info) == 0 && (info.st_mode & 077))
        enp_log_warn ("%s can be read by other users; chmod 600 it", secret_path);
    if (self->cert && server_path) {
        zcert_t *server = s_load (server_path, "server certificate", err, err_len);
        if (server)
            snprintf (self->server_key, sizeof self->server_key, "%s",
                      zcert_public_txt (server));
        zcert_destroy (&server);
        if (!self->server_key [0])
            enp_curve_destroy (&self);
    }
    else
    if (!self->cert)
        enp_curve_destroy (&self);
    return self;
}

//  Destroy the identity.
void
enp_curve_destroy (enp_curve_t **self_p)
{
    assert (self_p);
    if (!*self_p)
        return;
    enp_curve_t *self = *self_p;
    s_wipe (self->cert);
    zcert_destroy (&self->cert);
    free (self);
    *self_p = NULL;
}

const char *
enp_curve_public_key (enp_curve_t *self)
{
    assert (self);
    return zcert_public_txt (self->cert);
}

//  Make socket a CURVE server.
void
enp_curve_apply_server (enp_curve_t *self, zsock_t *socket, const char *zap_domain)
{
    assert (self);
    zcert_apply (self->cert, socket);
    zsock_set_curve_server (socket, 1);
    zsock_set_zap_domain (socket, zap_domain);
#ifndef ZMQ_ZAP_ENFORCE_DOMAIN
#   define ZMQ_ZAP_ENFORCE_DOMAIN 93   //  libzmq >= 4.3, a draft option there
#endif
    //  Without it libzmq lets every client in when no ZAP handler answers
    int enforce = 1;
    if (zmq_setsockopt (zsock_resolve (socket), ZMQ_ZAP_ENFORCE_DOMAIN,
                        &enforce, sizeof enforce))
        enp_log_debug ("ZMQ_ZAP_ENFORCE_DOMAIN not supported: %s",
                       zmq_strerror (zmq_errno ()));
}

//  Make socket a CURVE client of the known server.
void
enp_curve_apply_client (enp_curve_t *self, zsock_t *socket)
{
    assert (self);
    assert (self->server_key [0]);
    zcert_apply (self->cert, socket);
    zsock_set_curve_serverkey (socket, self->server_key);
}

//  Write a new certificate pair.
int
enp_curve_make_cert (const char *path, char *err, size_t err_len)
{
    char secret [4096];
    if (!path || !*path
    ||  snprintf (secret, sizeof secret, "%s_secret", path) >= (int) sizeof secret) {
        enp_status_explain (err, err_len, "bad certificate path");
        return -1;
    }
    if (zsys_file_exists (path) || zsys_file_exists (secret)) {
        enp_status_explain (err, err_len, "%s or %s exists; not overwriting a key",
                            path, secret);
        return -1;
    }
    zcert_t *cert = zcert_new ();
    if (!cert) {
        enp_status_explain (err, err_len, "cannot make keys");
        return -1;
    }
    zcert_set_meta (cert, "made-by", "queue-broker --make-cert");
    int rc = zcert_save_public (cert, path);
    mode_t mask = umask (077);          //  The secret file is born 0600
    if (rc == 0)
        rc = zcert_save_secret (cert, secret);
    umask (mask);
    s_wipe (cert);
    zcert_destroy (&cert);
    if (rc != 0)
        enp_status_explain (err, err_len, "cannot write %s or %s: %s", path,
                            secret, strerror (errno));
    return rc == 0? 0: -1;
}

//  Declare a client's options.
int
enp_curve_declare_client (enp_config_t *config)
{
    if (enp_config_option (config, "curve-secret", "",
                           "own CURVE secret certificate file (PATH_secret from"
                           " queue-broker --make-cert); empty: CURVE off")
    ||  enp_config_option (config, "curve-broker", "",
                           "the queue-broker's public certificate file (needed"
                           " with --curve-secret)"))
        return -1;
    return 0;
}

//  Read a client's options.
int
enp_curve_client_from_config (enp_config_t *config, enp_curve_t **curve_p)
{
    const char *secret = enp_config_get (config, "curve-secret");
    const char *broker = enp_config_get (config, "curve-broker");
    *curve_p = NULL;
    if (!*secret && !*broker)
        return 0;
    char err [512] = "--curve-secret and --curve-broker go together";
    if (*secret && *broker)
        *curve_p = enp_curve_new (secret, broker, err, sizeof err);
    if (!*curve_p) {
        fprintf (stderr, "%s: %s\n", enp_config_app (config), err);
        return -1;
    }
    return 0;
}
