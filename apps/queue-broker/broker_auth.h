//  broker_auth - the broker's ZAP handler: one CURVE allow-list per side
#ifndef BROKER_AUTH_H_INCLUDED
#define BROKER_AUTH_H_INCLUDED

//  ZAP domains of the broker's two sockets (see enp_link).
#define BROKER_AUTH_LOGGERS "loggers"
#define BROKER_AUTH_WORKERS "workers"

typedef struct _broker_auth_t broker_auth_t;

//  Start the ZAP handler of this process's ZeroMQ context: a CURVE client
//  on domain "loggers" is let in when its public key is among the
//  certificates in loggers_dir, on "workers" when it is in workers_dir;
//  anything else is refused, and refusals are logged (rate-limited) with
//  the peer's address and public key. The folders are read again when
//  they change, so adding or removing a certificate needs no restart.
//  Returns NULL (and logs why) when a folder cannot be read or another
//  handler already serves the context.
broker_auth_t *broker_auth_new (const char *loggers_dir, const char *workers_dir);
//  Stop the handler; nulls the caller's pointer. Sockets that still
//  authenticate through it then refuse every client.
void broker_auth_destroy (broker_auth_t **self_p);

#endif
