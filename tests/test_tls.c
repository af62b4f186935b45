/*  test_tls - the logger over HTTPS, processors verifying it

    The README's example, run: scripts/make-tls-certs.sh makes a CA and a
    certificate for the logger in a temporary folder; a real logger serves
    HTTPS with it (--tls-cert); a processor given the CA (--logger-ca)
    reports every event processed, and one without it refuses to report
    (its reports fail verification; nothing falls back to plain HTTP or to
    an unverified connection).
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "testkit.h"
#include "enp_time.h"

#define S_EVENTS            5
#define S_PROCESSED_MS      20000

//  Make the CA and the logger's certificate in dir with the project's
//  script, for localhost and 127.0.0.1.
static void
s_make_certs (const char *dir)
{
    const char *source = getenv ("ENP_SOURCE_DIR");
    ck_assert_ptr_nonnull (source);
    char command [1024];
    snprintf (command, sizeof command, "bash '%s/scripts/make-tls-certs.sh' '%s'"
              " localhost 127.0.0.1 >/dev/null", source, dir);
    ck_assert_int_eq (system (command), 0);
}

//  Count the lines of a file that contain text.
static int
s_count_lines_with (const char *path, const char *text)
{
    FILE *file = fopen (path, "r");
    ck_assert_ptr_nonnull (file);
    char line [1024];
    int count = 0;
    while (fgets (line, sizeof line, file))
        count += strstr (line, text) != NULL;
    fclose (file);
    return count;
}

//  Post an event over HTTPS; return its id in id.
static void
s_post (testkit_pipeline_t *pipeline, char *id, size_t size)
{
    char url [128], location [128];
    snprintf (url, sizeof url, "%s/events", testkit_pipeline_base (pipeline));
    const char *body = "{\"user_id\":\"tls\",\"description\":\"over HTTPS\"}";
    testkit_response_t response;
    ck_assert_int_eq (testkit_http ("POST", url, "application/json", body,
                                    strlen (body), NULL, &response), 0);
    ck_assert_int_eq (response.code, 201);
    ck_assert_int_eq (testkit_header (&response, "Location", location,
                                      sizeof location), 0);
    snprintf (id, size, "%s", strrchr (location, '/') + 1);
    testkit_response_free (&response);
}

//  Return the status of an event, as its JSON says it ("" if unknown).
static void
s_status (testkit_pipeline_t *pipeline, const char *id, char *status, size_t size)
{
    char url [160];
    snprintf (url, sizeof url, "%s/events/%s", testkit_pipeline_base (pipeline), id);
    testkit_response_t response;
    status [0] = '\0';
    static const char key [] = "\"status\":\"";
    if (testkit_http ("GET", url, NULL, NULL, 0, NULL, &response) == 0) {
        const char *field = strstr (response.body, key);
        const char *value = field? field + sizeof key - 1: NULL;
        if (value)
            snprintf (status, size, "%.*s", (int) strcspn (value, "\""), value);
    }
    testkit_response_free (&response);
}

//  Wait until the event is processed. Returns true if it was in time.
static bool
s_processed (testkit_pipeline_t *pipeline, const char *id, int64_t until)
{
    char status [64];
    do {
        s_status (pipeline, id, status, sizeof status);
        if (strcmp (status, "processed") == 0)
            return true;
        usleep (50 * 1000);
    } while (enp_time_mono_ms () < until);
    return false;
}

//  The whole pipeline over HTTPS: without the CA a processor refuses to
//  report; with it, every event ends processed, the refused one included
//  (the logger delivers it again).
START_TEST (test_tls_pipeline)
{
    char *dir = testkit_tmpdir ();
    s_make_certs (dir);
    char cert [512], ca [512];
    snprintf (cert, sizeof cert, "%s/logger.pem", dir);
    snprintf (ca, sizeof ca, "%s/ca.pem", dir);
    testkit_http_trust (ca);
    testkit_pipeline_t *pipeline = testkit_pipeline_new ();
    ck_assert_ptr_nonnull (pipeline);
    testkit_pipeline_use_https (pipeline);
    ck_assert_int_gt (testkit_pipeline_start_broker (pipeline), 0);
    const char *const logger_flags [] = { "--tls-cert", cert,
                                          "--visibility-timeout", "1", NULL };
    ck_assert_msg (testkit_pipeline_start_logger (pipeline, logger_flags) > 0,
                   "the logger did not serve HTTPS (see %s)",
                   testkit_pipeline_dir (pipeline));
    //  Plain HTTP on the HTTPS port gets nothing; each failed handshake
    //  makes CivetWeb complain, which the log shows only a few times
    char plain [96];
    snprintf (plain, sizeof plain, "http://127.0.0.1:%d/healthz",
              testkit_pipeline_http_port (pipeline));
    for (int attempt = 0; attempt < 30; attempt++) {
        testkit_response_t response;
        ck_assert_int_ne (testkit_http ("GET", plain, NULL, NULL, 0, NULL, &response), 0);
        testkit_response_free (&response);
    }
    char logger_log [512];
    snprintf (logger_log, sizeof logger_log, "%s/logger.log",
              testkit_pipeline_dir (pipeline));
    ck_assert_int_eq (testkit_wait_text (logger_log, "sslize", 5000), 0);
    ck_assert_int_le (s_count_lines_with (logger_log, "sslize"), 10);

    //  No CA: the system's CAs do not know ours, so every report fails
    const char *const no_ca [] = { "--report-backoff", "50", NULL };
    pid_t untrusting = testkit_pipeline_start_processor (pipeline, 0, no_ca);
    ck_assert_int_gt (untrusting, 0);
    char ids [S_EVENTS][64];
    s_post (pipeline, ids [0], sizeof ids [0]);
    char log [512];
    snprintf (log, sizeof log, "%s/processor-0.log", testkit_pipeline_dir (pipeline));
    ck_assert_int_eq (testkit_wait_text (log, "TLS certificate is not trusted",
                                         10000), 0);
    char status [64];
    s_status (pipeline, ids [0], status, sizeof status);
    ck_assert_str_ne (status, "processed");
    testkit_pipeline_kill (pipeline, untrusting);

    //  With the CA: reports go through
    const char *const with_ca [] = { "--logger-ca", ca, "--report-backoff", "50",
                                     NULL };
    ck_assert_int_gt (testkit_pipeline_start_processor (pipeline, 1, with_ca), 0);
    for (int index = 1; index < S_EVENTS; index++)
        s_post (pipeline, ids [index], sizeof ids [index]);
    int64_t until = enp_time_mono_ms () + S_PROCESSED_MS;
    for (int index = 0; index < S_EVENTS; index++)
        ck_assert_msg (s_processed (pipeline, ids [index], until),
                       "event %d was not processed over HTTPS", index);
    ck_assert_int_eq (testkit_pipeline_stop (pipeline), 0);
    testkit_pipeline_destroy (&pipeline);
    testkit_http_trust (NULL);
    char command [600];
    snprintf (command, sizeof command, "rm -rf '%s'", dir);
    ck_assert_int_eq (system (command), 0);
    free (dir);
}
END_TEST

//  Mistakes are said at start: a CA for a plain-HTTP logger, a
//  certificate file that is not there.
START_TEST (test_tls_misconfigured)
{
    char *argv [] = { (char *) testkit_bin ("notification-processor"),
                      "--logger-url", "http://127.0.0.1:8000",
                      "--logger-ca", "/nonexistent/ca.pem", NULL };
    argv [0] = strdup (argv [0]);
    ck_assert_int_eq (testkit_wait (testkit_spawn (argv, NULL, NULL), 10000), 1);
    free (argv [0]);
    testkit_pipeline_t *pipeline = testkit_pipeline_new ();
    char log [512], port [16];
    snprintf (log, sizeof log, "%s/logger.log", testkit_pipeline_dir (pipeline));
    snprintf (port, sizeof port, "%d", testkit_free_port ());
    char *logger [] = { strdup (testkit_bin ("event-logger")), "--port", port,
                        "--tls-cert", "/nonexistent/logger.pem", NULL };
    ck_assert_int_eq (testkit_wait (testkit_spawn (logger, NULL, log), 10000), 1);
    free (logger [0]);
    ck_assert_int_eq (testkit_wait_text (log, "cannot serve HTTPS", 1000), 0);
    testkit_pipeline_destroy (&pipeline);
}
END_TEST

int
main (void)
{
    const TTest *tests [] = {
        test_tls_pipeline,
        test_tls_misconfigured,
        NULL
    };
    return testkit_run (testkit_suite ("tls", 60, tests));
}
