/*  broker_auth - the broker's ZAP handler: one CURVE allow-list per side

    With CURVE, libzmq asks a ZAP handler (RFC 27, on the context's
    inproc://zeromq.zap.01) whether each client key may connect. czmq's
    zauth is such a handler, but it holds one certificate store for the
    whole context and ignores the ZAP domain, and a context has room for
    one handler only: with zauth a logger's key could pull from the backend
    and a processor's key push into the frontend. The broker must keep the
    two lists apart, so this handler gives each socket its own domain
    ("loggers" on the frontend, "workers" on the backend) and each domain
    its own zcertstore. It is zauth's request loop cut down to CURVE, with
    domains and rate-limited logging of refusals.
*/
#include <dirent.h>
#include <czmq.h>
#include "broker_auth.h"
#include "enp_log.h"
#include "enp_ratelimit.h"
#include "enp_time.h"

#define S_ZAP_ENDPOINT  "inproc://zeromq.zap.01"
#define S_LOG_BURST     10          //  refusals logged per window
#define S_LOG_WINDOW_MS 60000

struct _broker_auth_t {
    char *loggers_dir, *workers_dir;    //  allow-lists, folders of certificates
    bool started;                       //  the actor bound the ZAP endpoint
    zactor_t *actor;
};

//  The actor's state.
typedef struct {
    zsock_t *handler;                   //  REP bound to the ZAP endpoint
    zcertstore_t *loggers, *workers;    //  one store per domain
    const char *loggers_dir, *workers_dir;
    enp_ratelimit_t *limit;             //  for refusal records
} s_state_t;

//  Answer one ZAP request.
static void
s_authenticate (s_state_t *state)
{
    zmsg_t *request = zmsg_recv (state->handler);
    if (!request)
        return;
    //  version, request id, domain, address, identity, mechanism, key
    char *version = zmsg_popstr (request);
    char *sequence = zmsg_popstr (request);
    char *domain = zmsg_popstr (request);
    char *address = zmsg_popstr (request);
    char *identity = zmsg_popstr (request);
    char *mechanism = zmsg_popstr (request);
    zframe_t *key = zmsg_pop (request);
    char key_text [41] = "";
    if (key && zframe_size (key) == 32)
        zmq_z85_encode (key_text, zframe_data (key), 32);
    zcertstore_t *store = NULL;
    const char *dir = "";
    if (domain && streq (domain, BROKER_AUTH_LOGGERS)) {
        store = state->loggers;
        dir = state->loggers_dir;
    }
    else
    if (domain && streq (domain, BROKER_AUTH_WORKERS)) {
        store = state->workers;
        dir = state->workers_dir;
    }
    bool allowed = version && streq (version, "1.0") && mechanism
                && streq (mechanism, "CURVE") && key_text [0] && store
                && zcertstore_lookup (store, key_text);
    if (!allowed) {
        uint64_t held = 0;
        if (enp_ratelimit_allow (state->limit, enp_time_mono_ms (), &held)) {
            if (held)
                enp_log_warn ("%llu more refused handshakes were not logged",
                              (unsigned long long) held);
            enp_log_warn ("refused %s key %s from %s: not among the %s in %s",
                          mechanism? mechanism: "?", key_text [0]? key_text: "-",
                          address? address: "?",
                          domain && streq (domain, BROKER_AUTH_WORKERS)
                          ? "workers": "loggers", dir);
        }
    }
    else
        enp_log_debug ("allowed key %s from %s as one of the %s", key_text,
                       address, domain);
    zstr_sendx (state->handler, "1.0", sequence? sequence: "",
                allowed? "200": "400", allowed? "OK": "Not allowed", "", "", NULL);
    zframe_destroy (&key);
    zstr_free (&version);
    zstr_free (&sequence);
    zstr_free (&domain);
    zstr_free (&address);
    zstr_free (&identity);
    zstr_free (&mechanism);
    zmsg_destroy (&request);
}

//  The actor: bind the ZAP endpoint, answer until $TERM.
static void
s_actor (zsock_t *pipe, void *arg)
{
    broker_auth_t *self = (broker_auth_t *) arg;
    s_state_t state = { .loggers_dir = self->loggers_dir,
                        .workers_dir = self->workers_dir };
    state.handler = zsock_new (ZMQ_REP);
    state.loggers = zcertstore_new (self->loggers_dir);
    state.workers = zcertstore_new (self->workers_dir);
    state.limit = enp_ratelimit_new (S_LOG_BURST, S_LOG_WINDOW_MS);
    self->started = state.handler && state.loggers && state.workers && state.limit
                 && zsock_bind (state.handler, S_ZAP_ENDPOINT) == 0;
    if (!self->started)
        enp_log_error ("cannot start the CURVE authenticator (is another one"
                       " running in this process?)");
    zsock_signal (pipe, 0);
    zpoller_t *poller = self->started? zpoller_new (pipe, state.handler, NULL): NULL;
    while (poller) {
        zsock_t *which = (zsock_t *) zpoller_wait (poller, -1);
        if (which == state.handler)
            s_authenticate (&state);
        else
        if (which == pipe) {
            char *command = zstr_recv (pipe);
            bool terminate = !command || streq (command, "$TERM");
            zstr_free (&command);
            if (terminate)
                break;
        }
        else
        if (zpoller_terminated (poller))
            break;
    }
    zpoller_destroy (&poller);
    if (self->started)
        zsock_unbind (state.handler, S_ZAP_ENDPOINT);
    zsock_destroy (&state.handler);
    zcertstore_destroy (&state.loggers);
    zcertstore_destroy (&state.workers);
    enp_ratelimit_destroy (&state.limit);
}

//  Return 0 if path is a folder we can read, else log why and return -1.
static int
s_check_dir (const char *path, const char *option)
{
    DIR *dir = path && *path? opendir (path): NULL;
    if (!dir) {
        enp_log_error ("%s %s: %s", option, path? path: "",
                       path && *path? strerror (errno): "not given");
        return -1;
    }
    closedir (dir);
    return 0;
}

//  Start the ZAP handler.
broker_auth_t *
broker_auth_new (const char *loggers_dir, const char *workers_dir)
{
    if (s_check_dir (loggers_dir, "--curve-loggers")
    ||  s_check_dir (workers_dir, "--curve-workers"))
        return NULL;
    broker_auth_t *self = (broker_auth_t *) calloc (1, sizeof (broker_auth_t));
    if (!self)
        return NULL;
    self->loggers_dir = strdup (loggers_dir);
    self->workers_dir = strdup (workers_dir);
    if (self->loggers_dir && self->workers_dir)
        self->actor = zactor_new (s_actor, self);
    //  zactor_new ignores the actor's signal value, so ask it ourselves
    if (!self->actor || !self->started)
        broker_auth_destroy (&self);
    else
        enp_log_info ("CURVE on: loggers' keys from %s, workers' keys from %s",
                      loggers_dir, workers_dir);
    return self;
}

//  Stop the handler.
void
broker_auth_destroy (broker_auth_t **self_p)
{
    assert (self_p);
    if (!*self_p)
        return;
    broker_auth_t *self = *self_p;
    zactor_destroy (&self->actor);
    free (self->loggers_dir);
    free (self->workers_dir);
    free (self);
    *self_p = NULL;
}
