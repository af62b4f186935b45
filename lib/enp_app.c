/*  enp_app - what every service's main does: options, logging, signals

    The three services parse their configuration, set up logging, answer
    --healthcheck and wait for a signal the same way; this module does it
    once, so each main.c only declares its own options and wires its own
    classes together.

    SIGINT and SIGTERM are blocked in every thread and taken synchronously
    by enp_app_wait with sigwait, never by a handler: a signal that
    arrived while the main thread was stopping the actors used to cut
    zactor_destroy's wait short (EINTR), and main then freed the store
    under a dispatcher that was still running.
*/
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <civetweb.h>
#include <curl/curl.h>
#include <czmq.h>
#include "enp_app.h"
#include "enp_log.h"
#include "enp_portfile.h"
#include "enp_probe.h"

#define S_HEALTHCHECK_TIMEOUT_MS 2000   //  for the whole --healthcheck request
#define S_PORT_MAX      65535
#define S_URL_MAX       256             //  bytes of a health check's URL
#define S_DIR_MAX       1024            //  bytes of the runtime folder's path
#define S_RECORDS_MAX   64              //  processes one --healthcheck probes

//  Fill set with the signals that stop a service.
static void
s_stop_signals (sigset_t *set)
{
    sigemptyset (set);
    sigaddset (set, SIGINT);
    sigaddset (set, SIGTERM);
}

//  Declare the options every service has.
int
enp_app_declare (enp_config_t *config)
{
    if (enp_config_option (config, "log-level", "info",
                           "debug, info, warn or error")
    ||  enp_config_option (config, "log-format", "text",
                           "text, or json for one JSON object per line")
    ||  enp_config_switch (config, "healthcheck",
                           "probe this service's own /healthz and exit 0 if"
                           " healthy"))
        return -1;
    return 0;
}

//  Declare the options of a service with a metrics endpoint.
int
enp_app_declare_metrics (enp_config_t *config, const char *default_port)
{
    if (enp_config_option (config, "metrics-host", "127.0.0.1",
                           "address of the /healthz and /metrics endpoint"
                           " (0.0.0.0: every interface)")
    ||  enp_config_option (config, "metrics-port", default_port,
                           "port of the /healthz and /metrics endpoint (0: off);"
                           " the default gives way to a free port when taken,"
                           " a port set here must be free")
    ||  enp_config_option (config, "runtime-dir", "",
                           "folder where the metrics port is recorded for"
                           " --healthcheck (empty: $XDG_RUNTIME_DIR/enp, else"
                           " /tmp/enp-<uid>)")
    ||  enp_config_option (config, "healthcheck-pid", "0",
                           "with --healthcheck, probe the process with this PID"
                           " (0: every one of this service on this host)"))
        return -1;
    return 0;
}

//  Check the metrics options, when the app has them.
static int
s_check_metrics (enp_config_t *config, char *err, size_t err_len)
{
    long value = 0;
    if (!enp_config_get (config, "metrics-port"))
        return 0;
    if (enp_config_get_long (config, "metrics-port", 0, S_PORT_MAX, &value,
                             err, err_len)
    ||  enp_config_get_long (config, "healthcheck-pid", 0, INT_MAX, &value,
                             err, err_len))
        return -1;
    return 0;
}

//  Parse configuration and apply the logging options.
int
enp_app_configure (enp_config_t *config, int argc, char **argv)
{
    char err [256] = "out of memory";
    int rc = config? enp_config_parse (config, argc, argv, stdout, err,
                                       sizeof err): -1;
    if (rc == 0 && enp_log_set_level_name (enp_config_get (config, "log-level"))) {
        snprintf (err, sizeof err, "--log-level must be debug, info, warn or error");
        rc = -1;
    }
    if (rc == 0 && enp_log_set_format_name (enp_config_get (config, "log-format"))) {
        snprintf (err, sizeof err, "--log-format must be text or json");
        rc = -1;
    }
    if (rc == 0 && s_check_metrics (config, err, sizeof err))
        rc = -1;
    if (rc < 0)
        fprintf (stderr, "%s: %s\n", config? enp_config_app (config): "enp", err);
    return rc;
}

//  Read a whole-number option in [min, max].
int
enp_app_number (enp_config_t *config, const char *name, long min, long max,
                long *value)
{
    char err [256];
    if (enp_config_get_long (config, name, min, max, value, err, sizeof err)) {
        fprintf (stderr, "%s: %s\n", enp_config_app (config), err);
        return -1;
    }
    return 0;
}

//  Return true when --healthcheck was given.
bool
enp_app_healthcheck_asked (enp_config_t *config)
{
    return enp_config_is_on (config, "healthcheck");
}

//  Return the runtime folder of the records into buf.
static const char *
s_runtime_dir (enp_config_t *config, char *buf, size_t size)
{
    const char *dir = enp_config_get (config, "runtime-dir");
    if (dir && *dir) {
        snprintf (buf, size, "%s", dir);
        return buf;
    }
    return enp_portfile_default_dir (buf, size);
}

//  Return the host to probe a service listening on host at: itself,
//  unless it listens on every interface.
static const char *
s_probe_host (const char *host)
{
    if (!host || !*host || strcmp (host, "0.0.0.0") == 0
    ||  strcmp (host, "::") == 0 || strcmp (host, "*") == 0)
        return "127.0.0.1";
    return host;
}

//  Probe one port's /healthz; say on stderr when it fails. A service
//  serving HTTPS (it has a --tls-cert) is probed over HTTPS, trusting the
//  certificate it serves.
static int
s_probe_port (enp_config_t *config, const char *host, long port, pid_t pid)
{
    host = s_probe_host (host);
    const char *tls_cert = enp_config_get (config, "tls-cert");
    if (tls_cert && !*tls_cert)
        tls_cert = NULL;
    char url [S_URL_MAX];
    snprintf (url, sizeof url, strchr (host, ':')? "%s://[%s]:%ld/healthz"
                                                 : "%s://%s:%ld/healthz",
              tls_cert? "https": "http", host, port);
    if (port > 0 && enp_probe_check (url, tls_cert, S_HEALTHCHECK_TIMEOUT_MS) == 0)
        return 0;
    if (pid > 0)
        fprintf (stderr, "%s: unhealthy: %s (PID %ld) did not answer 2xx\n",
                 enp_config_app (config), url, (long) pid);
    else
        fprintf (stderr, "%s: unhealthy: %s did not answer 2xx\n",
                 enp_config_app (config), url);
    return -1;
}

//  Probe a service's /healthz.
int
enp_app_healthcheck (enp_config_t *config, const char *host, long port)
{
    return s_probe_port (config, host, port, 0) == 0? EXIT_SUCCESS: EXIT_FAILURE;
}

//  --healthcheck of a service with a metrics endpoint.
int
enp_app_probe_healthcheck (enp_config_t *config)
{
    long port = 0, pid = 0;
    enp_config_get_long (config, "metrics-port", 0, S_PORT_MAX, &port, NULL, 0);
    enp_config_get_long (config, "healthcheck-pid", 0, INT_MAX, &pid, NULL, 0);
    const char *app = enp_config_app (config);
    const char *host = enp_config_get (config, "metrics-host");
    if (pid == 0 && enp_config_is_given (config, "metrics-port")) {
        if (port == 0) {
            fprintf (stderr, "%s: unhealthy: --metrics-port is 0, so there is"
                     " no endpoint to probe\n", app);
            return EXIT_FAILURE;
        }
        return enp_app_healthcheck (config, host, port);
    }
    char dir [S_DIR_MAX];
    s_runtime_dir (config, dir, sizeof dir);
    enp_portfile_entry_t entries [S_RECORDS_MAX];
    int count = enp_portfile_find (dir, app, (pid_t) pid, entries, S_RECORDS_MAX);
    if (count <= 0 && pid > 0) {
        fprintf (stderr, "%s: unhealthy: no live %s with PID %ld has recorded"
                 " its metrics port in %s\n", app, app, pid, dir);
        return EXIT_FAILURE;
    }
    if (count <= 0)
        return enp_app_healthcheck (config, host, port);
    int failed = 0;
    for (int index = 0; index < count && index < S_RECORDS_MAX; index++)
        failed |= s_probe_port (config, host, entries [index].port,
                                entries [index].pid);
    return failed? EXIT_FAILURE: EXIT_SUCCESS;
}

//  Start the metrics endpoint.
int
enp_app_probe (enp_config_t *config, enp_probe_render_fn *render, void *arg,
               enp_probe_t **probe_p)
{
    *probe_p = NULL;
    long port = 0;
    enp_config_get_long (config, "metrics-port", 0, S_PORT_MAX, &port, NULL, 0);
    if (port == 0) {
        enp_log_info ("metrics endpoint off (--metrics-port 0)");
        return 0;
    }
    char dir [S_DIR_MAX];
    enp_probe_options_t options = {
        .host = enp_config_get (config, "metrics-host"), .port = (int) port,
        .fallback = !enp_config_is_given (config, "metrics-port"),
        .record_dir = s_runtime_dir (config, dir, sizeof dir),
        .app = enp_config_app (config), .render = render, .arg = arg
    };
    *probe_p = enp_probe_new (&options);
    return *probe_p? 0: -1;
}

//  Raise the soft limit on open files to the hard one: each HTTP
//  connection and each ZeroMQ peer is a descriptor, and the usual soft
//  limit (1024) is less than a busy logger holds. Logged, since it shows
//  what the service can take.
static void
s_raise_open_files (void)
{
    struct rlimit limit;
    if (getrlimit (RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max)
        return;
    rlim_t before = limit.rlim_cur;
    limit.rlim_cur = limit.rlim_max;
    if (setrlimit (RLIMIT_NOFILE, &limit) == 0)
        enp_log_info ("open files limit raised from %llu to %llu",
                      (unsigned long long) before,
                      (unsigned long long) limit.rlim_cur);
    else
        enp_log_warn ("cannot raise the open files limit from %llu: %s",
                      (unsigned long long) before, strerror (errno));
}

//  Start a service.
void
enp_app_start (const char *name)
{
    enp_log_init (name);
    s_raise_open_files ();
    zsys_handler_set (NULL);            //  We take the signals, not czmq
    //  Before any thread exists, so every thread inherits the mask: no
    //  system call anywhere is interrupted by a stop signal
    sigset_t stop;
    s_stop_signals (&stop);
    pthread_sigmask (SIG_BLOCK, &stop, NULL);
    signal (SIGPIPE, SIG_IGN);
    mg_init_library (0);
    curl_global_init (CURL_GLOBAL_DEFAULT);
}

//  Block until SIGINT or SIGTERM.
void
enp_app_wait (void)
{
    //  A signal that came before this call is pending and returns at once
    sigset_t stop;
    s_stop_signals (&stop);
    int signal_number = 0;
    while (sigwait (&stop, &signal_number) != 0)
        ;
}

//  Release what enp_app_start took.
void
enp_app_stop (void)
{
    curl_global_cleanup ();
    mg_exit_library ();
}
