/*  test_enp_config - defaults, environment, flags and --help

    Each case uses its own environment prefix, so cases never see each
    other's variables even when run in one process (CK_FORK=no).
*/
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "enp_config.h"
#include "testkit.h"

//  Build a configuration with the options every case uses.
static enp_config_t *
s_config (const char *prefix)
{
    enp_config_t *config = enp_config_new ("demo", prefix, "Demo app.");
    ck_assert_ptr_nonnull (config);
    ck_assert_int_eq (enp_config_option (config, "port", "8000",
                                         "port to listen on"), 0);
    ck_assert_int_eq (enp_config_option (config, "broker",
                                         "tcp://127.0.0.1:5557",
                                         "broker endpoint"), 0);
    ck_assert_int_eq (enp_config_option (config, "status-token", NULL,
                                         "bearer token"), 0);
    ck_assert_int_eq (enp_config_switch (config, "healthcheck",
                                         "probe and exit"), 0);
    return config;
}

//  Read a whole stream into a new string (caller frees).
static char *
s_slurp (FILE *file)
{
    fflush (file);
    rewind (file);
    char *text = calloc (1, 65536);
    size_t size = fread (text, 1, 65535, file);
    text [size] = '\0';
    return text;
}

//  Usage: declare, parse, read values, print help, destroy.
START_TEST (test_enp_config_usage)
{
    enp_config_t *config = s_config ("ENPTEST_USAGE_");
    char *argv [] = { "demo", "--port", "9000", "--healthcheck", NULL };
    char err [256] = "";
    ck_assert_int_eq (enp_config_parse (config, 4, argv, stdout, err,
                                        sizeof err), 0);
    ck_assert_str_eq (enp_config_get (config, "port"), "9000");
    ck_assert_str_eq (enp_config_get (config, "broker"), "tcp://127.0.0.1:5557");
    ck_assert (enp_config_is_on (config, "healthcheck"));
    ck_assert (!enp_config_is_on (config, "help"));
    long port = 0;
    ck_assert_int_eq (enp_config_get_long (config, "port", 1, 65535, &port,
                                           err, sizeof err), 0);
    ck_assert_int_eq (port, 9000);
    FILE *out = tmpfile ();
    ck_assert_ptr_nonnull (out);
    enp_config_print_help (config, out);
    char *help = s_slurp (out);
    ck_assert_ptr_nonnull (strstr (help, "--port"));
    free (help);
    fclose (out);
    enp_config_destroy (&config);
    ck_assert_ptr_null (config);
    enp_config_destroy (&config);       //  A second destroy is harmless
}
END_TEST

//  Without environment or flags, every option has its default.
START_TEST (test_enp_config_defaults)
{
    enp_config_t *config = s_config ("ENPTEST_DEFAULTS_");
    char *argv [] = { "demo", NULL };
    ck_assert_int_eq (enp_config_parse (config, 1, argv, stdout, NULL, 0), 0);
    ck_assert_str_eq (enp_config_get (config, "port"), "8000");
    ck_assert_str_eq (enp_config_get (config, "broker"), "tcp://127.0.0.1:5557");
    ck_assert_str_eq (enp_config_get (config, "status-token"), "");
    ck_assert (!enp_config_is_on (config, "healthcheck"));
    ck_assert_ptr_null (enp_config_get (config, "never-declared"));
    ck_assert (!enp_config_is_on (config, "never-declared"));
    enp_config_destroy (&config);
}
END_TEST

//  PREFIX_FOO_BAR overrides the default of --foo-bar.
START_TEST (test_enp_config_env_overrides_default)
{
    setenv ("ENPTEST_ENV_PORT", "7000", 1);
    setenv ("ENPTEST_ENV_STATUS_TOKEN", "s3cret", 1);
    setenv ("ENPTEST_ENV_HEALTHCHECK", "1", 1);
    enp_config_t *config = s_config ("ENPTEST_ENV_");
    char *argv [] = { "demo", NULL };
    ck_assert_int_eq (enp_config_parse (config, 1, argv, stdout, NULL, 0), 0);
    ck_assert_str_eq (enp_config_get (config, "port"), "7000");
    ck_assert_str_eq (enp_config_get (config, "status-token"), "s3cret");
    ck_assert_str_eq (enp_config_get (config, "broker"), "tcp://127.0.0.1:5557");
    ck_assert (enp_config_is_on (config, "healthcheck"));
    enp_config_destroy (&config);
    unsetenv ("ENPTEST_ENV_PORT");
    unsetenv ("ENPTEST_ENV_STATUS_TOKEN");
    unsetenv ("ENPTEST_ENV_HEALTHCHECK");
}
END_TEST

//  A switch set to "0", "false" or "" in the environment stays off.
START_TEST (test_enp_config_env_switch_off)
{
    const char *values [] = { "0", "false", "" };
    for (size_t index = 0; index < 3; index++) {
        setenv ("ENPTEST_SWOFF_HEALTHCHECK", values [index], 1);
        enp_config_t *config = s_config ("ENPTEST_SWOFF_");
        char *argv [] = { "demo", NULL };
        ck_assert_int_eq (enp_config_parse (config, 1, argv, stdout, NULL, 0), 0);
        ck_assert_msg (!enp_config_is_on (config, "healthcheck"),
                       "'%s' turned the switch on", values [index]);
        enp_config_destroy (&config);
    }
    unsetenv ("ENPTEST_SWOFF_HEALTHCHECK");
}
END_TEST

//  The flag wins over the environment.
START_TEST (test_enp_config_flag_overrides_env)
{
    setenv ("ENPTEST_FLAG_PORT", "7000", 1);
    enp_config_t *config = s_config ("ENPTEST_FLAG_");
    char *argv [] = { "demo", "--port=9100", NULL };
    ck_assert_int_eq (enp_config_parse (config, 2, argv, stdout, NULL, 0), 0);
    ck_assert_str_eq (enp_config_get (config, "port"), "9100");
    enp_config_destroy (&config);
    unsetenv ("ENPTEST_FLAG_PORT");
}
END_TEST

//  --name=value and --name value both work; the value may hold '='.
START_TEST (test_enp_config_flag_forms)
{
    enp_config_t *config = s_config ("ENPTEST_FORMS_");
    char *argv [] = { "demo", "--port", "9200", "--broker=tcp://h:1?a=b",
                      "--status-token", "", NULL };
    char err [256] = "";
    ck_assert_int_eq (enp_config_parse (config, 6, argv, stdout, err,
                                        sizeof err), 0);
    ck_assert_str_eq (enp_config_get (config, "port"), "9200");
    ck_assert_str_eq (enp_config_get (config, "broker"), "tcp://h:1?a=b");
    ck_assert_str_eq (enp_config_get (config, "status-token"), "");
    enp_config_destroy (&config);
}
END_TEST

//  When a flag repeats, the last one wins.
START_TEST (test_enp_config_last_flag_wins)
{
    enp_config_t *config = s_config ("ENPTEST_LAST_");
    char *argv [] = { "demo", "--port=1", "--port", "2", "--port=3", NULL };
    ck_assert_int_eq (enp_config_parse (config, 5, argv, stdout, NULL, 0), 0);
    ck_assert_str_eq (enp_config_get (config, "port"), "3");
    enp_config_destroy (&config);
}
END_TEST

//  Bad command lines return -1 and say what is wrong.
START_TEST (test_enp_config_bad_flags)
{
    struct {
        int argc;
        char *argv [4];
        const char *message;
    } cases [] = {
        { 2, { "demo", "--nope", NULL }, "--nope" },
        { 2, { "demo", "--nope=1", NULL }, "--nope" },
        { 2, { "demo", "--port", NULL }, "--port needs a value" },
        { 2, { "demo", "--healthcheck=yes", NULL }, "--healthcheck takes no value" },
        { 2, { "demo", "stray", NULL }, "stray" },
        { 2, { "demo", "--", NULL }, "--" },
        { 2, { "demo", "-p", NULL }, "-p" },
    };
    for (size_t index = 0; index < sizeof cases / sizeof cases [0]; index++) {
        enp_config_t *config = s_config ("ENPTEST_BAD_");
        char err [256] = "";
        ck_assert_int_eq (enp_config_parse (config, cases [index].argc,
                                            cases [index].argv, stdout,
                                            err, sizeof err), -1);
        ck_assert_msg (strstr (err, cases [index].message) != NULL,
                       "case %zu: '%s' does not mention '%s'", index, err,
                       cases [index].message);
        //  A NULL error buffer is allowed
        ck_assert_int_eq (enp_config_parse (config, cases [index].argc,
                                            cases [index].argv, stdout,
                                            NULL, 0), -1);
        enp_config_destroy (&config);
    }
}
END_TEST

//  --help prints every option with its variable and default, returns 1.
START_TEST (test_enp_config_help)
{
    enp_config_t *config = s_config ("ENPTEST_HELP_");
    FILE *out = tmpfile ();
    ck_assert_ptr_nonnull (out);
    char *argv [] = { "demo", "--port", "1", "--help", NULL };
    ck_assert_int_eq (enp_config_parse (config, 4, argv, out, NULL, 0), 1);
    char *help = s_slurp (out);
    ck_assert_ptr_nonnull (strstr (help, "Usage: demo"));
    ck_assert_ptr_nonnull (strstr (help, "Demo app."));
    const char *expected [] = {
        "--port VALUE", "port to listen on", "env ENPTEST_HELP_PORT",
        "default '8000'",
        "--broker VALUE", "broker endpoint", "env ENPTEST_HELP_BROKER",
        "default 'tcp://127.0.0.1:5557'",
        "--status-token VALUE", "env ENPTEST_HELP_STATUS_TOKEN", "default ''",
        "--healthcheck\n", "probe and exit", "env ENPTEST_HELP_HEALTHCHECK",
        "--help\n", "print this help and exit"
    };
    for (size_t index = 0; index < sizeof expected / sizeof expected [0]; index++)
        ck_assert_msg (strstr (help, expected [index]) != NULL,
                       "help lacks '%s':\n%s", expected [index], help);
    //  Defaults are shown, not the values parsed; --help has no variable
    ck_assert_ptr_null (strstr (help, "default '1'"));
    ck_assert_ptr_null (strstr (help, "ENPTEST_HELP_HELP"));
    free (help);
    fclose (out);
    enp_config_destroy (&config);
}
END_TEST

//  --help comes from the command line only: PREFIX_HELP does nothing.
START_TEST (test_enp_config_help_not_from_env)
{
    setenv ("ENPTEST_NOHELP_HELP", "1", 1);
    enp_config_t *config = s_config ("ENPTEST_NOHELP_");
    FILE *out = tmpfile ();
    char *argv [] = { "demo", NULL };
    ck_assert_int_eq (enp_config_parse (config, 1, argv, out, NULL, 0), 0);
    ck_assert (!enp_config_is_on (config, "help"));
    ck_assert_int_eq (ftell (out), 0);
    fclose (out);
    enp_config_destroy (&config);
    unsetenv ("ENPTEST_NOHELP_HELP");
}
END_TEST

//  Numbers: in range, out of range, junk, overflow, unknown option.
START_TEST (test_enp_config_get_long)
{
    enp_config_t *config = s_config ("ENPTEST_LONG_");
    ck_assert_int_eq (enp_config_option (config, "count", "12", "a number"), 0);
    long value = -5;
    char err [256] = "";
    ck_assert_int_eq (enp_config_get_long (config, "count", 12, 12, &value,
                                           err, sizeof err), 0);
    ck_assert_int_eq (value, 12);

    const char *bad [] = { "13", "0", "-1", "12abc", "", " ", "abc",
                           "99999999999999999999999" };
    for (size_t index = 0; index < sizeof bad / sizeof bad [0]; index++) {
        char *argv [] = { "demo", "--count", (char *) bad [index], NULL };
        ck_assert_int_eq (enp_config_parse (config, 3, argv, stdout, NULL, 0), 0);
        value = -5;
        err [0] = '\0';
        ck_assert_int_eq (enp_config_get_long (config, "count", 1, 12, &value,
                                               err, sizeof err), -1);
        ck_assert_int_eq (value, -5);
        ck_assert_msg (strstr (err, "--count") != NULL, "'%s'", err);
        ck_assert_int_eq (enp_config_get_long (config, "count", 1, 12, &value,
                                               NULL, 0), -1);
    }
    ck_assert_int_eq (enp_config_get_long (config, "nothing", 0, 1, &value,
                                           err, sizeof err), -1);
    ck_assert_ptr_nonnull (strstr (err, "nothing"));
    char *argv [] = { "demo", "--count=-3", NULL };
    ck_assert_int_eq (enp_config_parse (config, 2, argv, stdout, NULL, 0), 0);
    ck_assert_int_eq (enp_config_get_long (config, "count", -3, 0, &value,
                                           NULL, 0), 0);
    ck_assert_int_eq (value, -3);
    enp_config_destroy (&config);
}
END_TEST

//  The option table is bounded: declaring past it fails cleanly.
START_TEST (test_enp_config_too_many_options)
{
    enp_config_t *config = enp_config_new ("demo", "ENPTEST_MANY_", "x");
    ck_assert_ptr_nonnull (config);
    int failures = 0;
    int declared = 0;
    for (int index = 0; index < 60; index++) {
        char name [32];
        snprintf (name, sizeof name, "option-%d", index);
        if (enp_config_option (config, name, "v", "h") == 0)
            declared++;
        else
            failures++;
    }
    ck_assert_int_gt (declared, 10);
    ck_assert_int_gt (failures, 0);
    ck_assert_str_eq (enp_config_get (config, "option-0"), "v");
    enp_config_destroy (&config);
}
END_TEST

//  is_given tells a value someone set, even the default's own, from the
//  default left alone.
START_TEST (test_enp_config_is_given)
{
    setenv ("ENPTEST_GIVEN_BROKER", "tcp://127.0.0.1:5557", 1);
    enp_config_t *config = s_config ("ENPTEST_GIVEN_");
    char *argv [] = { "demo", "--port=8000", NULL };
    ck_assert_int_eq (enp_config_parse (config, 2, argv, stdout, NULL, 0), 0);
    ck_assert (enp_config_is_given (config, "port"));
    ck_assert (enp_config_is_given (config, "broker"));
    ck_assert (!enp_config_is_given (config, "status-token"));
    ck_assert (!enp_config_is_given (config, "healthcheck"));
    ck_assert (!enp_config_is_given (config, "never-declared"));
    ck_assert_str_eq (enp_config_get (config, "port"), "8000");
    enp_config_destroy (&config);
    unsetenv ("ENPTEST_GIVEN_BROKER");
}
END_TEST

int
main (void)
{
    const TTest *tests [] = {
        test_enp_config_usage,
        test_enp_config_is_given,
        test_enp_config_defaults,
        test_enp_config_env_overrides_default,
        test_enp_config_env_switch_off,
        test_enp_config_flag_overrides_env,
        test_enp_config_flag_forms,
        test_enp_config_last_flag_wins,
        test_enp_config_bad_flags,
        test_enp_config_help,
        test_enp_config_help_not_from_env,
        test_enp_config_get_long,
        test_enp_config_too_many_options,
        NULL
    };
    return testkit_run (testkit_suite ("enp_config", 5, tests));
}
