/*  test_enp_probe - the small /healthz and /metrics endpoint
*/
#include <check.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <civetweb.h>
#include <unistd.h>
#include "enp_portfile.h"
#include "enp_probe.h"
#include "enp_time.h"
#include "testkit.h"

//  Start a probe on 127.0.0.1:port with no fallback and no record.
static enp_probe_t *
s_probe_new (int port, enp_probe_render_fn *render, void *arg)
{
    enp_probe_options_t options = { .host = "127.0.0.1", .port = port,
                                    .render = render, .arg = arg };
    return enp_probe_new (&options);
}

//  A renderer that counts its calls and writes one metric.
static void
s_render (void *arg, FILE *out)
{
    atomic_int *calls = (atomic_int *) arg;
    int call = atomic_fetch_add (calls, 1) + 1;
    fprintf (out, "# TYPE demo_renders_total counter\n"
                  "demo_renders_total %d\n", call);
}

//  GET a path of the probe; returns the response (caller frees it).
static testkit_response_t
s_get (enp_probe_t *probe, const char *path)
{
    char url [128];
    snprintf (url, sizeof url, "http://127.0.0.1:%d%s", enp_probe_port (probe),
              path);
    testkit_response_t response;
    ck_assert_int_eq (testkit_http ("GET", url, NULL, NULL, 0, NULL, &response), 0);
    return response;
}

//  Usage: start on a free port, ask both routes, check, stop.
START_TEST (test_enp_probe_usage)
{
    mg_init_library (0);
    atomic_int calls = 0;
    enp_probe_t *probe = s_probe_new (0, s_render, &calls);
    ck_assert_ptr_nonnull (probe);
    ck_assert_int_gt (enp_probe_port (probe), 0);
    testkit_response_t response = s_get (probe, "/healthz");
    ck_assert_int_eq (response.code, 200);
    testkit_response_free (&response);
    response = s_get (probe, "/metrics");
    ck_assert_int_eq (response.code, 200);
    ck_assert_ptr_nonnull (strstr (response.body, "demo_renders_total 1\n"));
    testkit_response_free (&response);
    char url [128];
    snprintf (url, sizeof url, "http://127.0.0.1:%d/healthz",
              enp_probe_port (probe));
    ck_assert_int_eq (enp_probe_check (url, NULL, 2000), 0);
    enp_probe_destroy (&probe);
    ck_assert_ptr_null (probe);
    enp_probe_destroy (&probe);     //  Destroying NULL is harmless
    mg_exit_library ();
}
END_TEST

//  /healthz answers 200 with a small JSON body.
START_TEST (test_enp_probe_healthz)
{
    mg_init_library (0);
    enp_probe_t *probe = s_probe_new (0, NULL, NULL);
    ck_assert_ptr_nonnull (probe);
    testkit_response_t response = s_get (probe, "/healthz");
    ck_assert_int_eq (response.code, 200);
    ck_assert_str_eq (response.body, "{\"status\":\"ok\"}");
    char value [128];
    ck_assert_int_eq (testkit_header (&response, "Content-Type", value,
                                      sizeof value), 0);
    ck_assert_str_eq (value, "application/json");
    testkit_response_free (&response);
    enp_probe_destroy (&probe);
    mg_exit_library ();
}
END_TEST

//  /metrics is exactly what the renderer writes, as Prometheus text.
START_TEST (test_enp_probe_metrics)
{
    mg_init_library (0);
    atomic_int calls = 0;
    enp_probe_t *probe = s_probe_new (0, s_render, &calls);
    ck_assert_ptr_nonnull (probe);
    testkit_response_t response = s_get (probe, "/metrics");
    testkit_response_free (&response);
    response = s_get (probe, "/metrics");
    ck_assert_int_eq (response.code, 200);
    ck_assert_str_eq (response.body, "# TYPE demo_renders_total counter\n"
                                     "demo_renders_total 2\n");
    char value [128];
    ck_assert_int_eq (testkit_header (&response, "Content-Type", value,
                                      sizeof value), 0);
    ck_assert_ptr_nonnull (strstr (value, "text/plain"));
    ck_assert_ptr_nonnull (strstr (value, "version=0.0.4"));
    testkit_response_free (&response);
    ck_assert_int_eq (atomic_load (&calls), 2);
    enp_probe_destroy (&probe);
    mg_exit_library ();
}
END_TEST

//  Without a renderer /metrics is an empty 200.
START_TEST (test_enp_probe_metrics_without_renderer)
{
    mg_init_library (0);
    enp_probe_t *probe = s_probe_new (0, NULL, NULL);
    testkit_response_t response = s_get (probe, "/metrics");
    ck_assert_int_eq (response.code, 200);
    ck_assert_uint_eq (response.size, 0);
    testkit_response_free (&response);
    enp_probe_destroy (&probe);
    mg_exit_library ();
}
END_TEST

//  Any other path is a 404 problem document.
START_TEST (test_enp_probe_unknown_path)
{
    mg_init_library (0);
    enp_probe_t *probe = s_probe_new (0, NULL, NULL);
    const char *paths [] = { "/", "/nope", "/healthz/extra", "/metrics/x",
                             "/healthzz", "/metricsx" };
    for (size_t index = 0; index < sizeof paths / sizeof paths [0]; index++) {
        testkit_response_t response = s_get (probe, paths [index]);
        ck_assert_msg (response.code == 404, "%s gave %ld", paths [index],
                       response.code);
        ck_assert_ptr_nonnull (strstr (response.body, "\"status\":404"));
        char value [128];
        ck_assert_int_eq (testkit_header (&response, "Content-Type", value,
                                          sizeof value), 0);
        ck_assert_str_eq (value, "application/problem+json");
        testkit_response_free (&response);
    }
    enp_probe_destroy (&probe);
    mg_exit_library ();
}
END_TEST

//  enp_probe_check: 0 for 2xx, -1 for 404 and for a closed port, at once:
//  the closed port is tried with a 60 s timeout, so a check that waited for
//  it instead of failing on the refused connection hits the case timeout.
START_TEST (test_enp_probe_check)
{
    mg_init_library (0);
    enp_probe_t *probe = s_probe_new (0, NULL, NULL);
    char url [128];
    snprintf (url, sizeof url, "http://127.0.0.1:%d/healthz",
              enp_probe_port (probe));
    ck_assert_int_eq (enp_probe_check (url, NULL, 2000), 0);
    snprintf (url, sizeof url, "http://127.0.0.1:%d/missing",
              enp_probe_port (probe));
    ck_assert_int_eq (enp_probe_check (url, NULL, 2000), -1);
    enp_probe_destroy (&probe);

    int port = testkit_free_port ();
    ck_assert_int_gt (port, 0);
    snprintf (url, sizeof url, "http://127.0.0.1:%d/healthz", port);
    ck_assert_int_eq (enp_probe_check (url, NULL, 60000), -1);
    ck_assert_int_eq (enp_probe_check ("not a url", NULL, 500), -1);
    mg_exit_library ();
}
END_TEST

//  A port already in use: enp_probe_new returns NULL.
START_TEST (test_enp_probe_port_in_use)
{
    mg_init_library (0);
    enp_probe_t *first = s_probe_new (0, NULL, NULL);
    ck_assert_ptr_nonnull (first);
    enp_probe_t *second = s_probe_new (enp_probe_port (first), NULL, NULL);
    ck_assert_ptr_null (second);
    //  The first one still serves
    testkit_response_t response = s_get (first, "/healthz");
    ck_assert_int_eq (response.code, 200);
    testkit_response_free (&response);
    enp_probe_destroy (&first);
    mg_exit_library ();
}
END_TEST

//  A fixed port is honoured.
START_TEST (test_enp_probe_fixed_port)
{
    mg_init_library (0);
    int port = testkit_free_port ();
    enp_probe_t *probe = s_probe_new (port, NULL, NULL);
    ck_assert_ptr_nonnull (probe);
    ck_assert_int_eq (enp_probe_port (probe), port);
    testkit_response_t response = s_get (probe, "/healthz");
    ck_assert_int_eq (response.code, 200);
    testkit_response_free (&response);
    enp_probe_destroy (&probe);
    mg_exit_library ();
}
END_TEST

//  With fallback, a port already in use gives way to a free one.
START_TEST (test_enp_probe_fallback)
{
    mg_init_library (0);
    enp_probe_t *first = s_probe_new (0, NULL, NULL);
    ck_assert_ptr_nonnull (first);
    enp_probe_options_t options = { .host = "127.0.0.1",
        .port = enp_probe_port (first), .fallback = true };
    enp_probe_t *second = enp_probe_new (&options);
    ck_assert_ptr_nonnull (second);
    ck_assert_int_gt (enp_probe_port (second), 0);
    ck_assert_int_ne (enp_probe_port (second), enp_probe_port (first));
    testkit_response_t response = s_get (second, "/healthz");
    ck_assert_int_eq (response.code, 200);
    testkit_response_free (&response);
    enp_probe_destroy (&second);
    enp_probe_destroy (&first);
    mg_exit_library ();
}
END_TEST

//  The port bound is recorded for --healthcheck while the probe lives.
START_TEST (test_enp_probe_record)
{
    mg_init_library (0);
    char *dir = testkit_tmpdir ();
    ck_assert_ptr_nonnull (dir);
    enp_probe_options_t options = { .host = "127.0.0.1", .port = 0,
        .record_dir = dir, .app = "demo-probe" };
    enp_probe_t *probe = enp_probe_new (&options);
    ck_assert_ptr_nonnull (probe);
    enp_portfile_entry_t entries [4];
    ck_assert_int_eq (enp_portfile_find (dir, "demo-probe", 0, entries, 4), 1);
    ck_assert_int_eq (entries [0].pid, getpid ());
    ck_assert_int_eq (entries [0].port, enp_probe_port (probe));
    enp_probe_destroy (&probe);
    ck_assert_int_eq (enp_portfile_find (dir, "demo-probe", 0, entries, 4), 0);
    ck_assert_int_eq (rmdir (dir), 0);      //  Nothing left in it
    free (dir);
    mg_exit_library ();
}
END_TEST

int
main (void)
{
    const TTest *tests [] = {
        test_enp_probe_usage,
        test_enp_probe_healthz,
        test_enp_probe_metrics,
        test_enp_probe_metrics_without_renderer,
        test_enp_probe_unknown_path,
        test_enp_probe_check,
        test_enp_probe_port_in_use,
        test_enp_probe_fixed_port,
        test_enp_probe_fallback,
        test_enp_probe_record,
        NULL
    };
    return testkit_run (testkit_suite ("enp_probe", 20, tests));
}
