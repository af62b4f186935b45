/*  test_enp_log - the logging facade: levels, text and JSON lines

    Each case sends standard error to a temporary file (testkit_capture),
    logs, puts standard error back and reads what was written.
*/
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>
#include "enp_log.h"
#include "testkit.h"

//  Count newline characters.
static int
s_lines (const char *text)
{
    int lines = 0;
    for (; *text; text++)
        lines += *text == '\n';
    return lines;
}

//  Every case starts from the same settings.
static void
s_reset (const char *service)
{
    enp_log_init (service);
    ck_assert_int_eq (enp_log_set_level_name ("info"), 0);
    ck_assert_int_eq (enp_log_set_format_name ("text"), 0);
}

//  Usage: name the service, choose level and format, write records.
START_TEST (test_enp_log_usage)
{
    testkit_capture_t capture;
    testkit_capture_start (&capture);
    enp_log_init ("usage-svc");
    ck_assert_int_eq (enp_log_set_level_name ("debug"), 0);
    ck_assert_int_eq (enp_log_set_format_name ("text"), 0);
    ck_assert (enp_log_enabled (ENP_LOG_DEBUG));
    enp_log_debug ("value %d", 42);
    enp_log_event_info ("1b4e28ba-2fa1-41d2-883f-0016d3cca427", "sent");
    enp_log_write (ENP_LOG_WARN, NULL, "direct %s", "write");
    char *text = testkit_capture_end (&capture);
    ck_assert_int_eq (s_lines (text), 3);
    ck_assert_ptr_nonnull (strstr (text, " usage-svc debug value 42\n"));
    ck_assert_ptr_nonnull (strstr (text, " usage-svc info sent event_id="
                                         "1b4e28ba-2fa1-41d2-883f-0016d3cca427\n"));
    ck_assert_ptr_nonnull (strstr (text, " usage-svc warn direct write\n"));
    free (text);
    s_reset ("enp");
}
END_TEST

//  Records below the level are not written, at or above it are.
START_TEST (test_enp_log_level_filtering)
{
    s_reset ("filter");
    ck_assert_int_eq (enp_log_set_level_name ("warn"), 0);
    ck_assert (!enp_log_enabled (ENP_LOG_DEBUG));
    ck_assert (!enp_log_enabled (ENP_LOG_INFO));
    ck_assert (enp_log_enabled (ENP_LOG_WARN));
    ck_assert (enp_log_enabled (ENP_LOG_ERROR));
    testkit_capture_t capture;
    testkit_capture_start (&capture);
    enp_log_debug ("hidden debug");
    enp_log_info ("hidden info");
    enp_log_warn ("shown warn");
    enp_log_error ("shown error");
    char *text = testkit_capture_end (&capture);
    ck_assert_int_eq (s_lines (text), 2);
    ck_assert_ptr_null (strstr (text, "hidden"));
    ck_assert_ptr_nonnull (strstr (text, "filter warn shown warn"));
    ck_assert_ptr_nonnull (strstr (text, "filter error shown error"));
    free (text);

    ck_assert_int_eq (enp_log_set_level_name ("error"), 0);
    ck_assert (!enp_log_enabled (ENP_LOG_WARN));
    ck_assert (enp_log_enabled (ENP_LOG_ERROR));
    s_reset ("enp");
}
END_TEST

//  Unknown level and format names are refused and change nothing.
START_TEST (test_enp_log_bad_names)
{
    s_reset ("names");
    ck_assert_int_eq (enp_log_set_level_name ("verbose"), -1);
    ck_assert_int_eq (enp_log_set_level_name ("INFO"), -1);
    ck_assert_int_eq (enp_log_set_level_name (""), -1);
    ck_assert_int_eq (enp_log_set_level_name (NULL), -1);
    ck_assert (enp_log_enabled (ENP_LOG_INFO));
    ck_assert (!enp_log_enabled (ENP_LOG_DEBUG));
    ck_assert_int_eq (enp_log_set_format_name ("xml"), -1);
    ck_assert_int_eq (enp_log_set_format_name (NULL), -1);
    testkit_capture_t capture;
    testkit_capture_start (&capture);
    enp_log_info ("still text");
    char *text = testkit_capture_end (&capture);
    ck_assert_ptr_nonnull (strstr (text, " names info still text\n"));
    ck_assert_int_ne (text [0], '{');
    free (text);
}
END_TEST

//  A text line starts with an RFC 3339 time, then service, level, message.
START_TEST (test_enp_log_text_format)
{
    s_reset ("text-svc");
    testkit_capture_t capture;
    testkit_capture_start (&capture);
    enp_log_error ("disk %s", "full");
    char *text = testkit_capture_end (&capture);
    ck_assert_int_eq (s_lines (text), 1);
    ck_assert_uint_gt (strlen (text), 25);
    ck_assert_int_eq (text [4], '-');
    ck_assert_int_eq (text [10], 'T');
    ck_assert_int_eq (text [19], '.');
    ck_assert_int_eq (text [23], 'Z');
    ck_assert_str_eq (text + 24, " text-svc error disk full\n");
    free (text);
}
END_TEST

//  A JSON line parses and carries time, level, service, message, event_id.
START_TEST (test_enp_log_json_format)
{
    s_reset ("json-svc");
    ck_assert_int_eq (enp_log_set_format_name ("json"), 0);
    testkit_capture_t capture;
    testkit_capture_start (&capture);
    enp_log_event_warn ("1b4e28ba-2fa1-41d2-883f-0016d3cca427",
                        "say \"hi\" \\ %s", "caf\xc3\xa9");
    enp_log_info ("no event");
    char *text = testkit_capture_end (&capture);
    ck_assert_int_eq (s_lines (text), 2);
    char *second = strchr (text, '\n') + 1;
    second [-1] = '\0';

    json_error_t error;
    json_t *record = json_loads (text, 0, &error);
    ck_assert_msg (record != NULL, "not JSON: %s", error.text);
    ck_assert (json_is_object (record));
    const char *time = json_string_value (json_object_get (record, "time"));
    ck_assert_ptr_nonnull (time);
    ck_assert_uint_eq (strlen (time), 24);
    ck_assert_int_eq (time [23], 'Z');
    ck_assert_str_eq (json_string_value (json_object_get (record, "level")),
                      "warn");
    ck_assert_str_eq (json_string_value (json_object_get (record, "service")),
                      "json-svc");
    ck_assert_str_eq (json_string_value (json_object_get (record, "message")),
                      "say \"hi\" \\ caf\xc3\xa9");
    ck_assert_str_eq (json_string_value (json_object_get (record, "event_id")),
                      "1b4e28ba-2fa1-41d2-883f-0016d3cca427");
    json_decref (record);

    record = json_loads (second, JSON_DISABLE_EOF_CHECK, &error);
    ck_assert_msg (record != NULL, "not JSON: %s", error.text);
    ck_assert_str_eq (json_string_value (json_object_get (record, "message")),
                      "no event");
    ck_assert_str_eq (json_string_value (json_object_get (record, "level")),
                      "info");
    ck_assert_ptr_null (json_object_get (record, "event_id"));
    json_decref (record);
    free (text);
    s_reset ("enp");
}
END_TEST

//  Newlines inside a message never split a record over two lines.
START_TEST (test_enp_log_one_line_per_record)
{
    s_reset ("lines");
    testkit_capture_t capture;
    testkit_capture_start (&capture);
    enp_log_info ("first\nsecond\r\nthird");
    ck_assert_int_eq (enp_log_set_format_name ("json"), 0);
    enp_log_info ("json\nline");
    char *text = testkit_capture_end (&capture);
    ck_assert_int_eq (s_lines (text), 2);
    ck_assert_ptr_nonnull (strstr (text, "lines info first second  third\n"));
    ck_assert_ptr_nonnull (strstr (text, "\"message\":\"json line\""));
    free (text);
    s_reset ("enp");
}
END_TEST

//  A message longer than the line buffer is cut but still ends the line.
START_TEST (test_enp_log_long_message)
{
    s_reset ("long");
    char message [3000];
    memset (message, 'a', sizeof message - 1);
    message [sizeof message - 1] = '\0';
    testkit_capture_t capture;
    testkit_capture_start (&capture);
    enp_log_info ("%s", message);
    enp_log_info ("after");
    char *text = testkit_capture_end (&capture);
    ck_assert_int_eq (s_lines (text), 2);
    char *end = strchr (text, '\n');
    ck_assert_uint_lt ((size_t) (end - text), 1200);
    ck_assert_int_eq (end [-1], 'a');
    ck_assert_ptr_nonnull (strstr (end + 1, " long info after\n"));
    free (text);
}
END_TEST

//  In JSON, a message that is not valid UTF-8 (raw bytes from a peer, or
//  a multi-byte character cut by the 1 KiB message limit) is still logged.
START_TEST (test_enp_log_json_invalid_utf8)
{
    s_reset ("utf8");
    ck_assert_int_eq (enp_log_set_format_name ("json"), 0);
    char message [1100];
    memset (message, 'a', sizeof message);
    memcpy (message + 1022, "\xc3\xa9", 2);    //  'é' across the limit
    message [1030] = '\0';
    testkit_capture_t capture;
    testkit_capture_start (&capture);
    enp_log_warn ("bad byte \xff here");
    enp_log_warn ("%s", message);
    char *text = testkit_capture_end (&capture);
    ck_assert_msg (s_lines (text) == 2, "%d of 2 records written", s_lines (text));
    for (char *line = strtok (text, "\n"); line; line = strtok (NULL, "\n")) {
        json_t *record = json_loads (line, 0, NULL);
        ck_assert_ptr_nonnull (record);
        ck_assert_str_eq (json_string_value (json_object_get (record, "level")),
                          "warn");
        json_decref (record);
    }
    free (text);
    s_reset ("enp");
}
END_TEST

//  A NULL service falls back to "enp"; a long one is cut to 63 bytes.
START_TEST (test_enp_log_service_name)
{
    s_reset (NULL);
    testkit_capture_t capture;
    testkit_capture_start (&capture);
    enp_log_info ("default name");
    char name [100];
    memset (name, 's', sizeof name - 1);
    name [sizeof name - 1] = '\0';
    enp_log_init (name);
    enp_log_info ("long name");
    char *text = testkit_capture_end (&capture);
    ck_assert_ptr_nonnull (strstr (text, " enp info default name\n"));
    char expected [100];
    snprintf (expected, sizeof expected, " %.63s info long name\n", name);
    ck_assert_ptr_nonnull (strstr (text, expected));
    ck_assert_ptr_null (strstr (text, " ssssssssssssssssssssssssssssssssssssssss"
                                      "ssssssssssssssssssssssss info"));
    free (text);
    s_reset ("enp");
}
END_TEST

int
main (void)
{
    const TTest *tests [] = {
        test_enp_log_usage,
        test_enp_log_level_filtering,
        test_enp_log_bad_names,
        test_enp_log_text_format,
        test_enp_log_json_format,
        test_enp_log_one_line_per_record,
        test_enp_log_long_message,
        test_enp_log_json_invalid_utf8,
        test_enp_log_service_name,
        NULL
    };
    return testkit_run (testkit_suite ("enp_log", 5, tests));
}
