/*  test_enp_portfile - metrics ports recorded for --healthcheck
*/
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "enp_portfile.h"
#include "testkit.h"

//  Remove a test folder and the files the cases leave in it.
static void
s_remove_dir (char *dir)
{
    char command [512];
    snprintf (command, sizeof command, "rm -rf '%s'", dir);
    ck_assert_int_eq (system (command), 0);
    free (dir);
}

//  Usage: record, find, remove.
START_TEST (test_enp_portfile_usage)
{
    char *dir = testkit_tmpdir ();
    char err [256] = "";
    enp_portfile_t *record = enp_portfile_new (dir, "demo", 9102, err, sizeof err);
    ck_assert_msg (record != NULL, "%s", err);
    char expected [512];
    snprintf (expected, sizeof expected, "%s/demo.%ld.port", dir, (long) getpid ());
    ck_assert_str_eq (enp_portfile_path (record), expected);
    enp_portfile_entry_t entries [4];
    ck_assert_int_eq (enp_portfile_find (dir, "demo", 0, entries, 4), 1);
    ck_assert_int_eq (entries [0].pid, getpid ());
    ck_assert_int_eq (entries [0].port, 9102);
    //  By PID: ours, and nobody else's
    ck_assert_int_eq (enp_portfile_find (dir, "demo", getpid (), entries, 4), 1);
    ck_assert_int_eq (enp_portfile_find (dir, "demo", getpid () + 1, entries, 4), 0);
    //  Another app's records are not ours
    ck_assert_int_eq (enp_portfile_find (dir, "dem", 0, entries, 4), 0);
    ck_assert_int_eq (enp_portfile_find (dir, "demo.1", 0, entries, 4), 0);
    enp_portfile_destroy (&record);
    ck_assert_ptr_null (record);
    enp_portfile_destroy (&record);
    struct stat status;
    ck_assert_int_ne (stat (expected, &status), 0);
    ck_assert_int_eq (enp_portfile_find (dir, "demo", 0, entries, 4), 0);
    s_remove_dir (dir);
}
END_TEST

//  A record whose process was killed (SIGKILL: no clean-up) is ignored;
//  live ones of other processes are found, more than fit counted.
START_TEST (test_enp_portfile_live_only)
{
    char *dir = testkit_tmpdir ();
    int ready [2];
    ck_assert_int_eq (pipe (ready), 0);
    pid_t children [3];
    for (int index = 0; index < 3; index++) {
        children [index] = fork ();
        ck_assert_int_ge (children [index], 0);
        if (children [index] == 0) {
            enp_portfile_t *record = enp_portfile_new (dir, "demo",
                                                       9200 + index, NULL, 0);
            char byte = record? 'y': 'n';
            if (write (ready [1], &byte, 1) != 1)
                _exit (1);
            pause ();
            _exit (0);
        }
    }
    for (int index = 0; index < 3; index++) {
        char byte = 0;
        ck_assert_int_eq (read (ready [0], &byte, 1), 1);
        ck_assert_int_eq (byte, 'y');
    }
    enp_portfile_entry_t entries [2];
    ck_assert_int_eq (enp_portfile_find (dir, "demo", 0, entries, 2), 3);
    kill (children [1], SIGKILL);
    waitpid (children [1], NULL, 0);
    enp_portfile_entry_t all [4];
    ck_assert_int_eq (enp_portfile_find (dir, "demo", 0, all, 4), 2);
    for (int index = 0; index < 2; index++) {
        ck_assert_int_ne (all [index].pid, children [1]);
        ck_assert (all [index].port == 9200 || all [index].port == 9202);
    }
    ck_assert_int_eq (enp_portfile_find (dir, "demo", children [1], all, 4), 0);
    ck_assert_int_eq (enp_portfile_find (dir, "demo", children [2], all, 4), 1);
    ck_assert_int_eq (all [0].port, 9202);
    for (int index = 0; index < 3; index += 2) {
        kill (children [index], SIGKILL);
        waitpid (children [index], NULL, 0);
    }
    ck_assert_int_eq (enp_portfile_find (dir, "demo", 0, all, 4), 0);
    close (ready [0]);
    close (ready [1]);
    s_remove_dir (dir);
}
END_TEST

//  The folder is made when missing; a link or a file in its place is not
//  trusted; a folder that cannot be read finds nothing.
START_TEST (test_enp_portfile_folder)
{
    char *base = testkit_tmpdir ();
    char dir [512], link [512], file [512], err [256] = "";
    snprintf (dir, sizeof dir, "%s/made", base);
    enp_portfile_t *record = enp_portfile_new (dir, "demo", 1, err, sizeof err);
    ck_assert_msg (record != NULL, "%s", err);
    struct stat status;
    ck_assert_int_eq (stat (dir, &status), 0);
    ck_assert_int_eq (status.st_mode & 0777, 0700);
    enp_portfile_destroy (&record);

    snprintf (link, sizeof link, "%s/link", base);
    ck_assert_int_eq (symlink (dir, link), 0);
    ck_assert_ptr_null (enp_portfile_new (link, "demo", 1, err, sizeof err));
    ck_assert_ptr_nonnull (strstr (err, "is not a folder"));

    snprintf (file, sizeof file, "%s/file", base);
    FILE *handle = fopen (file, "w");
    fclose (handle);
    ck_assert_ptr_null (enp_portfile_new (file, "demo", 1, err, sizeof err));
    snprintf (dir, sizeof dir, "%s/no/such/parent", base);
    ck_assert_ptr_null (enp_portfile_new (dir, "demo", 1, NULL, 0));
    enp_portfile_entry_t entries [1];
    ck_assert_int_eq (enp_portfile_find (dir, "demo", 0, entries, 1), -1);
    s_remove_dir (base);
}
END_TEST

//  Files that only look like records are ignored.
START_TEST (test_enp_portfile_junk)
{
    char *dir = testkit_tmpdir ();
    const char *names [] = { "demo.12x.port", "demo..port", "demo.12.port.new",
                             "demo.12", "other.12.port" };
    for (size_t index = 0; index < sizeof names / sizeof names [0]; index++) {
        char path [512];
        snprintf (path, sizeof path, "%s/%s", dir, names [index]);
        FILE *file = fopen (path, "w");
        fputs ("9102\n", file);
        fclose (file);
    }
    enp_portfile_entry_t entries [4];
    ck_assert_int_eq (enp_portfile_find (dir, "demo", 0, entries, 4), 0);
    s_remove_dir (dir);
}
END_TEST

//  The default folder is under $XDG_RUNTIME_DIR, else /tmp, per user.
START_TEST (test_enp_portfile_default_dir)
{
    char buf [256], expected [256];
    setenv ("XDG_RUNTIME_DIR", "/run/user/4242", 1);
    ck_assert_str_eq (enp_portfile_default_dir (buf, sizeof buf), "/run/user/4242/enp");
    unsetenv ("XDG_RUNTIME_DIR");
    snprintf (expected, sizeof expected, "/tmp/enp-%lu", (unsigned long) geteuid ());
    ck_assert_str_eq (enp_portfile_default_dir (buf, sizeof buf), expected);
    setenv ("XDG_RUNTIME_DIR", "", 1);
    ck_assert_str_eq (enp_portfile_default_dir (buf, sizeof buf), expected);
}
END_TEST

int
main (void)
{
    const TTest *tests [] = {
        test_enp_portfile_usage,
        test_enp_portfile_live_only,
        test_enp_portfile_folder,
        test_enp_portfile_junk,
        test_enp_portfile_default_dir,
        NULL
    };
    return testkit_run (testkit_suite ("enp_portfile", 20, tests));
}
