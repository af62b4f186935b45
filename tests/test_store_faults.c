/*  test_store_faults - what each store keeps when the logger stops or dies

    Real binaries on free loopback ports. With the memory store a stopping
    logger must say, at error level, how many unprocessed events it drops.
*/
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "testkit.h"

//  POST one small event to the logger at base; return the HTTP status.
static long
s_post (const char *base, int number)
{
    char url [128], body [128];
    snprintf (url, sizeof url, "%s/events", base);
    snprintf (body, sizeof body, "{\"user_id\":\"u%d\",\"description\":"
              "\"event %d\"}", number % 10, number);
    testkit_response_t response;
    testkit_http ("POST", url, "application/json", body, strlen (body), NULL,
                  &response);
    long code = response.code;
    testkit_response_free (&response);
    return code;
}

//  Return the line of a file that holds text (caller frees), or NULL.
static char *
s_find_line (const char *path, const char *text)
{
    FILE *file = fopen (path, "r");
    char line [1024];
    char *found = NULL;
    while (file && !found && fgets (line, sizeof line, file))
        if (strstr (line, text))
            found = strdup (line);
    if (file)
        fclose (file);
    return found;
}

//  A logger with the memory store, stopped with events nobody processed,
//  says how many it drops, at error level.
START_TEST (test_store_faults_memory_stop_reports_loss)
{
    testkit_pipeline_t *pipeline = testkit_pipeline_new ();
    ck_assert_ptr_nonnull (pipeline);
    //  No broker: every event stays pending
    ck_assert_int_gt (testkit_pipeline_start_logger (pipeline, NULL), 0);
    for (int index = 0; index < 7; index++)
        ck_assert_int_eq (s_post (testkit_pipeline_base (pipeline), index), 201);
    ck_assert_int_eq (testkit_pipeline_stop (pipeline), 0);
    char log [512];
    snprintf (log, sizeof log, "%s/logger.log", testkit_pipeline_dir (pipeline));
    char *line = s_find_line (log, "dropping 7 unprocessed events");
    ck_assert_msg (line != NULL, "no loss report in %s", log);
    ck_assert_ptr_nonnull (strstr (line, " error "));
    ck_assert_ptr_nonnull (strstr (line, "7 pending"));
    free (line);
    testkit_pipeline_destroy (&pipeline);
}
END_TEST

int
main (void)
{
    const TTest *tests [] = {
        test_store_faults_memory_stop_reports_loss,
        NULL
    };
    return testkit_run (testkit_suite ("store_faults", 240, tests));
}
