/*  test_integration - the three real services working together

    Starts queue-broker, event-logger and two notification-processors on
    free loopback ports, posts 1,000 events from four threads, and checks
    that every event ends processed, that every notification line was
    printed exactly once in the exact format, and that both processors
    did some of the work. Then three processors with default flags on one
    host: all three work, and --healthcheck finds each.
*/
#include <check.h>
#include <pthread.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <czmq.h>
#include <jansson.h>
#include "testkit.h"

#define S_THREADS   4
#define S_PER_THREAD 250
#define S_EVENTS    (S_THREADS * S_PER_THREAD)

typedef struct {
    int thread;
    const char *base;
    char ids [S_PER_THREAD][37];
    int created;
} s_poster_t;

//  Post this thread's share of events over one kept-alive connection.
static void *
s_post (void *arg)
{
    s_poster_t *poster = (s_poster_t *) arg;
    for (int index = 0; index < S_PER_THREAD; index++) {
        char url [128], body [256];
        snprintf (url, sizeof url, "%s/events", poster->base);
        snprintf (body, sizeof body, "{\"user_id\":\"user-%d\",\"description\":"
                  "\"message %d of thread %d: caf\\u00e9\"}",
                  poster->thread, index, poster->thread);
        testkit_response_t response;
        if (testkit_http ("POST", url, "application/json", body, strlen (body),
                          NULL, &response) == 0 && response.code == 201) {
            json_t *event = json_loads (response.body, 0, NULL);
            snprintf (poster->ids [poster->created++], 37, "%s",
                      json_string_value (json_object_get (event, "event_id")));
            json_decref (event);
        }
        testkit_response_free (&response);
    }
    return NULL;
}

//  Count processed events by paging through the listing.
static int
s_count_processed (const char *base)
{
    int count = 0;
    char after [64] = "";
    while (true) {
        char url [256];
        snprintf (url, sizeof url, "%s/events?status=processed&limit=1000%s%s",
                  base, *after? "&after=": "", after);
        testkit_response_t response;
        if (testkit_http ("GET", url, NULL, NULL, 0, NULL, &response) != 0
        ||  response.code != 200) {
            testkit_response_free (&response);
            return -1;
        }
        json_t *page = json_loads (response.body, 0, NULL);
        count += (int) json_array_size (json_object_get (page, "items"));
        json_t *next = json_object_get (page, "next");
        int more = json_is_string (next);
        if (more)
            snprintf (after, sizeof after, "%s", json_string_value (next));
        json_decref (page);
        testkit_response_free (&response);
        if (!more)
            return count;
    }
}

//  Read a processor's output: check each line's format, count each id.
static int
s_read_lines (const char *path, zhashx_t *seen, int *bad_lines)
{
    FILE *file = fopen (path, "r");
    ck_assert_ptr_nonnull (file);
    regex_t pattern;
    ck_assert_int_eq (regcomp (&pattern, "^Event ([0-9a-f-]{36}) has been sent to"
        " user-([0-9]): message ([0-9]+) of thread ([0-9]): café$",
        REG_EXTENDED), 0);
    char line [1024];
    int lines = 0;
    while (fgets (line, sizeof line, file)) {
        line [strcspn (line, "\n")] = '\0';
        regmatch_t match [5];
        if (regexec (&pattern, line, 5, match, 0) != 0
        ||  line [match [2].rm_so] != line [match [4].rm_so]) {
            (*bad_lines)++;
            fprintf (stderr, "bad line: %s\n", line);
            continue;
        }
        char id [37];
        snprintf (id, sizeof id, "%.36s", line + match [1].rm_so);
        size_t count = (size_t) zhashx_lookup (seen, id);
        zhashx_update (seen, id, (void *) (count + 1));
        lines++;
    }
    regfree (&pattern);
    fclose (file);
    return lines;
}

START_TEST (test_integration_thousand_events_two_processors)
{
    testkit_pipeline_t *pipeline = testkit_pipeline_new ();
    ck_assert_ptr_nonnull (pipeline);
    const char *base = testkit_pipeline_base (pipeline);
    const char *const token [] = { "--status-token", "t0ken", NULL };
    testkit_pipeline_start_broker (pipeline);
    testkit_pipeline_start_logger (pipeline, token);
    for (int index = 0; index < 2; index++)
        testkit_pipeline_start_processor (pipeline, index, token);
    char url [128];
    snprintf (url, sizeof url, "%s/readyz", base);
    ck_assert_msg (testkit_wait_http (url, 10000) == 0, "logger never ready");
    //  Both workers connected (the broker logs each), so it shares the load
    ck_assert_msg (testkit_pipeline_wait_log (pipeline, "broker.log",
                   "worker connected (2 now)", 20000) == 0,
                   "the broker never saw both processors");

    s_poster_t posters [S_THREADS];
    pthread_t threads [S_THREADS];
    for (int index = 0; index < S_THREADS; index++) {
        posters [index] = (s_poster_t) { .thread = index, .base = base };
        pthread_create (&threads [index], NULL, s_post, &posters [index]);
    }
    for (int index = 0; index < S_THREADS; index++) {
        pthread_join (threads [index], NULL);
        ck_assert_int_eq (posters [index].created, S_PER_THREAD);
    }

    int processed = 0;
    for (int tries = 0; tries < 300 && processed < S_EVENTS; tries++) {
        processed = s_count_processed (base);
        if (processed < S_EVENTS)
            usleep (100 * 1000);
    }
    ck_assert_int_eq (processed, S_EVENTS);

    //  Each created event individually reads processed
    for (int thread = 0; thread < S_THREADS; thread++)
        for (int index = 0; index < S_PER_THREAD; index++) {
            snprintf (url, sizeof url, "%s/events/%s", base,
                      posters [thread].ids [index]);
            testkit_response_t response;
            ck_assert_int_eq (testkit_http ("GET", url, NULL, NULL, 0, NULL,
                                            &response), 0);
            ck_assert_int_eq (response.code, 200);
            ck_assert_ptr_nonnull (strstr (response.body, "\"status\":\"processed\""));
            testkit_response_free (&response);
        }

    //  Stop everything; each must exit 0 on SIGTERM
    ck_assert_int_eq (testkit_pipeline_stop (pipeline), 0);

    zhashx_t *seen = zhashx_new ();
    int bad_lines = 0;
    int lines [2];
    for (int index = 0; index < 2; index++)
        lines [index] = s_read_lines (testkit_pipeline_output (pipeline, index),
                                      seen, &bad_lines);
    ck_assert_int_eq (bad_lines, 0);
    ck_assert_int_eq (lines [0] + lines [1], S_EVENTS);
    ck_assert_msg (lines [0] > 0 && lines [1] > 0, "one processor did nothing:"
                   " %d and %d lines", lines [0], lines [1]);
    ck_assert_int_eq (zhashx_size (seen), S_EVENTS);
    for (int thread = 0; thread < S_THREADS; thread++)
        for (int index = 0; index < S_PER_THREAD; index++)
            ck_assert_int_eq ((size_t) zhashx_lookup (seen,
                              posters [thread].ids [index]), 1);
    fprintf (stderr, "integration: %d events, processors printed %d and %d\n",
             S_EVENTS, lines [0], lines [1]);
    zhashx_destroy (&seen);
    testkit_pipeline_destroy (&pipeline);
}
END_TEST

#define S_DEFAULT_PROCESSORS 3
#define S_MAX_POSTS         2000

//  Run notification-processor --healthcheck (for one PID when pid > 0)
//  and return its exit status.
static int
s_healthcheck (testkit_pipeline_t *pipeline, pid_t pid)
{
    char pid_text [16], log [512];
    snprintf (pid_text, sizeof pid_text, "%ld", (long) pid);
    snprintf (log, sizeof log, "%s/healthcheck.log", testkit_pipeline_dir (pipeline));
    char *argv [] = { strdup (testkit_bin ("notification-processor")),
                      "--healthcheck", "--healthcheck-pid", pid_text, NULL };
    if (pid <= 0)
        argv [2] = NULL;
    int status = testkit_wait (testkit_spawn (argv, NULL, log), 10000);
    free (argv [0]);
    return status;
}

//  Three processors started with default flags on one host share the
//  default metrics port: one gets it, the others take free ports instead
//  of exiting, all three print notifications, and --healthcheck finds
//  each one (by PID), and all of them (without).
START_TEST (test_integration_default_processors)
{
    //  The processors record their ports in a folder of this test's own
    char *runtime = testkit_tmpdir ();
    ck_assert_ptr_nonnull (runtime);
    setenv ("XDG_RUNTIME_DIR", runtime, 1);
    testkit_pipeline_t *pipeline = testkit_pipeline_new ();
    ck_assert_ptr_nonnull (pipeline);
    const char *base = testkit_pipeline_base (pipeline);
    ck_assert_int_gt (testkit_pipeline_start_broker (pipeline), 0);
    ck_assert_int_gt (testkit_pipeline_start_logger (pipeline, NULL), 0);
    pid_t pids [S_DEFAULT_PROCESSORS];
    for (int index = 0; index < S_DEFAULT_PROCESSORS; index++) {
        pids [index] = testkit_pipeline_start_processor_defaults (pipeline, index);
        ck_assert_int_gt (pids [index], 0);
    }
    //  Each one's endpoint answers once it is up, found by its PID
    for (int index = 0; index < S_DEFAULT_PROCESSORS; index++) {
        int status = -1;
        for (int tries = 0; tries < 50 && status != 0; tries++) {
            ck_assert_msg (kill (pids [index], 0) == 0, "processor %d exited", index);
            status = s_healthcheck (pipeline, pids [index]);
            if (status != 0)
                usleep (100 * 1000);
        }
        ck_assert_msg (status == 0, "processor %d never answered --healthcheck", index);
    }
    char url [128];
    snprintf (url, sizeof url, "%s/readyz", base);
    ck_assert_msg (testkit_wait_http (url, 10000) == 0, "logger never ready");

    //  Post until every processor has printed (the broker deals events
    //  round-robin among the workers connected)
    snprintf (url, sizeof url, "%s/events", base);
    const char *body = "{\"user_id\":\"u1\",\"description\":\"shared\"}";
    int posts = 0;
    bool all_worked = false;
    while (!all_worked && posts < S_MAX_POSTS) {
        testkit_response_t response;
        ck_assert_int_eq (testkit_http ("POST", url, "application/json", body,
                                        strlen (body), NULL, &response), 0);
        ck_assert_int_eq (response.code, 201);
        testkit_response_free (&response);
        posts++;
        all_worked = true;
        for (int index = 0; index < S_DEFAULT_PROCESSORS; index++)
            all_worked &= testkit_count_lines (testkit_pipeline_output (pipeline,
                                                                        index)) > 0;
        if (!all_worked)
            usleep (10 * 1000);
    }
    for (int index = 0; index < S_DEFAULT_PROCESSORS; index++)
        ck_assert_msg (testkit_count_lines (testkit_pipeline_output (pipeline, index)) > 0,
                       "processor %d printed nothing after %d events", index, posts);

    //  Without a PID, --healthcheck probes every live processor: all answer
    ck_assert_int_eq (s_healthcheck (pipeline, 0), 0);
    //  One that stops answering makes it fail, while the others still pass
    kill (pids [1], SIGSTOP);
    ck_assert_int_eq (s_healthcheck (pipeline, 0), 1);
    ck_assert_int_eq (s_healthcheck (pipeline, pids [1]), 1);
    ck_assert_int_eq (s_healthcheck (pipeline, pids [0]), 0);
    kill (pids [1], SIGCONT);
    ck_assert_int_eq (s_healthcheck (pipeline, 0), 0);

    //  At most one had the default port: the others said where they went
    int moved = 0;
    for (int index = 0; index < S_DEFAULT_PROCESSORS; index++) {
        char log [512];
        snprintf (log, sizeof log, "%s/processor-%d.log",
                  testkit_pipeline_dir (pipeline), index);
        moved += testkit_wait_text (log, "serving metrics on port", 0) == 0;
    }
    ck_assert_int_ge (moved, S_DEFAULT_PROCESSORS - 1);
    ck_assert_int_eq (testkit_pipeline_stop (pipeline), 0);
    //  Stopped processors leave no live record behind
    ck_assert_int_eq (s_healthcheck (pipeline, pids [0]), 1);
    testkit_pipeline_destroy (&pipeline);
    unsetenv ("XDG_RUNTIME_DIR");
    char command [512];
    snprintf (command, sizeof command, "rm -rf '%s'", runtime);
    ck_assert_int_eq (system (command), 0);
    free (runtime);
}
END_TEST

//  The batching flags refuse what they cannot mean, each service exiting
//  1 at start and naming the flag, never running with a clamped value.
START_TEST (test_integration_batch_flags_refused)
{
    static const char *const cases [][3] = {
        { "notification-processor", "--report-batch-max", "0" },
        { "notification-processor", "--report-batch-max", "1001" },
        { "notification-processor", "--report-batch-ms", "-1" },
        { "notification-processor", "--report-batch-ms", "2ms" },
        { "event-logger", "--max-batch-body", "63" },
        { "event-logger", "--max-batch-body", "99999999999999999999" },
        { "event-logger", "--wire-batch", "0" },
        { "event-logger", "--wire-batch", "65" }
    };
    char *dir = testkit_tmpdir ();
    ck_assert_ptr_nonnull (dir);
    for (size_t index = 0; index < sizeof cases / sizeof cases [0]; index++) {
        char log [512];
        snprintf (log, sizeof log, "%s/flags-%zu.log", dir, index);
        char *argv [] = { strdup (testkit_bin (cases [index][0])),
                          (char *) cases [index][1], (char *) cases [index][2], NULL };
        int status = testkit_wait (testkit_spawn (argv, NULL, log), 10000);
        free (argv [0]);
        ck_assert_msg (status == 1, "%s %s %s exited %d", cases [index][0],
                       cases [index][1], cases [index][2], status);
        ck_assert_int_eq (testkit_wait_text (log, cases [index][1], 1000), 0);
    }
    free (dir);
}
END_TEST

int
main (void)
{
    const TTest *tests [] = {
        test_integration_thousand_events_two_processors,
        test_integration_default_processors,
        test_integration_batch_flags_refused,
        NULL
    };
    return testkit_run (testkit_suite ("integration", 120, tests));
}
