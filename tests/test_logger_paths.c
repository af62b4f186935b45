/*  test_logger_paths - files found relative to the running executable
*/
#include <check.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "logger_paths.h"
#include "testkit.h"

//  The folder of this test binary, as the kernel reports it.
static void
s_exe_dir (char *dir, size_t size)
{
    char exe [PATH_MAX];
    ssize_t length = readlink ("/proc/self/exe", exe, sizeof exe - 1);
    ck_assert_int_gt (length, 0);
    exe [length] = '\0';
    snprintf (dir, size, "%s", dirname (exe));
}

//  Usage: an existing relative path comes back absolute and canonical.
START_TEST (test_logger_paths_usage)
{
    char dir [PATH_MAX];
    s_exe_dir (dir, sizeof dir);
    //  ../<this folder's name> leads back to this folder: canonical form
    char relative [PATH_MAX + 8];
    char copy [PATH_MAX];
    snprintf (copy, sizeof copy, "%s", dir);
    snprintf (relative, sizeof relative, "../%s", basename (copy));
    char *path = logger_paths_beside_exe (relative);
    ck_assert_ptr_nonnull (path);
    ck_assert_str_eq (path, dir);
    free (path);
}
END_TEST

//  A path that does not exist is still placed beside the executable.
START_TEST (test_logger_paths_missing)
{
    char dir [PATH_MAX];
    s_exe_dir (dir, sizeof dir);
    char *path = logger_paths_beside_exe ("../share/no-such-app/docs");
    ck_assert_ptr_nonnull (path);
    char expected [PATH_MAX + 32];
    snprintf (expected, sizeof expected, "%s/../share/no-such-app/docs", dir);
    ck_assert_str_eq (path, expected);
    free (path);
}
END_TEST

//  An absolute path is returned unchanged; NULL gives NULL.
START_TEST (test_logger_paths_absolute)
{
    char *path = logger_paths_beside_exe ("/usr/share/event-logger/docs");
    ck_assert_str_eq (path, "/usr/share/event-logger/docs");
    free (path);
    ck_assert_ptr_null (logger_paths_beside_exe (NULL));
}
END_TEST

int
main (void)
{
    const TTest *tests [] = {
        test_logger_paths_usage,
        test_logger_paths_missing,
        test_logger_paths_absolute,
        NULL
    };
    return testkit_run (testkit_suite ("logger_paths", 10, tests));
}
