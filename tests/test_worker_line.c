/*  test_worker_line - the notification line: format, escaping, JSON
*/
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "worker_line.h"
#include "enp_event.h"
#include "testkit.h"

#define S_ID "123e4567-e89b-42d3-a456-426614174000"
#define S_PREFIX "Event " S_ID " has been sent to "

//  Format a text line into a new string (caller frees).
static char *
s_text (const char *user_id, const char *description)
{
    worker_line_t *line = worker_line_new (WORKER_LINE_TEXT);
    ck_assert_ptr_nonnull (line);
    size_t size = 0;
    const char *text = worker_line_format (line, S_ID, user_id, description, &size);
    ck_assert_ptr_nonnull (text);
    ck_assert_uint_eq (size, strlen (text));
    char *copy = strdup (text);
    worker_line_destroy (&line);
    return copy;
}

//  Expect the text line of user_id and description to end in tail.
static void
s_expect (const char *user_id, const char *description, const char *tail)
{
    char *line = s_text (user_id, description);
    char expected [1024];
    snprintf (expected, sizeof expected, "%s%s", S_PREFIX, tail);
    ck_assert_str_eq (line, expected);
    free (line);
}

//  Usage: parse a format name, make a formatter, format, destroy.
START_TEST (test_worker_line_usage)
{
    worker_line_format_t format;
    ck_assert_int_eq (worker_line_format_parse ("text", &format), 0);
    ck_assert_int_eq (format, WORKER_LINE_TEXT);
    ck_assert_int_eq (worker_line_format_parse ("json", &format), 0);
    ck_assert_int_eq (format, WORKER_LINE_JSON);
    ck_assert_int_eq (worker_line_format_parse ("xml", &format), -1);
    ck_assert_int_eq (worker_line_format_parse (NULL, &format), -1);
    worker_line_t *line = worker_line_new (WORKER_LINE_TEXT);
    ck_assert_ptr_nonnull (line);
    size_t size = 0;
    const char *text = worker_line_format (line, S_ID, "alice", "hi", &size);
    ck_assert_str_eq (text, S_PREFIX "alice: hi\n");
    ck_assert_uint_eq (size, strlen (text));
    worker_line_destroy (&line);
    ck_assert_ptr_null (line);
    worker_line_destroy (&line);
}
END_TEST

//  Plain text, UTF-8 included, is printed as it is.
START_TEST (test_worker_line_plain)
{
    s_expect ("user-42", "Your order shipped! caf\xc3\xa9 \"ok\" 100% \xe2\x82\xac \xf0\x9f\x98\x80",
              "user-42: Your order shipped! caf\xc3\xa9 \"ok\" 100% \xe2\x82\xac \xf0\x9f\x98\x80\n");
    //  A ':' not followed by a space stays, in user_id too
    s_expect ("urn:user:7", "a: b", "urn:user:7: a: b\n");
}
END_TEST

//  Each escaping rule on its own.
START_TEST (test_worker_line_escapes)
{
    s_expect ("u", "back\\slash", "u: back\\\\slash\n");
    s_expect ("u", "a\nb\rc\td", "u: a\\nb\\rc\\td\n");
    s_expect ("u", "\x01\x1b[31m\x1f\x7f", "u: \\x01\\x1b[31m\\x1f\\x7f\n");
    //  C1 controls: NEL and CSI among them
    s_expect ("u", "\xc2\x80|\xc2\x85|\xc2\x9b|\xc2\x9f|\xc2\xa0",
              "u: \\u0080|\\u0085|\\u009b|\\u009f|\xc2\xa0\n");
    //  Line and paragraph separators
    s_expect ("u", "\xe2\x80\xa8|\xe2\x80\xa9", "u: \\u2028|\\u2029\n");
    //  Bidirectional controls, and a neighbour of each range that stays
    s_expect ("u", "\xd8\x9c|\xe2\x80\x8e|\xe2\x80\x8f|\xe2\x80\xaa|\xe2\x80\xae"
                   "|\xe2\x81\xa6|\xe2\x81\xa9|\xe2\x80\x8d|\xe2\x81\xa5",
              "u: \\u061c|\\u200e|\\u200f|\\u202a|\\u202e|\\u2066|\\u2069"
              "|\xe2\x80\x8d|\xe2\x81\xa5\n");
    //  Bytes that are not UTF-8: a stray continuation, a cut sequence, an
    //  overlong form, a surrogate, past U+10FFFF
    s_expect ("u", "\x80|\xc3|\xc0\xaf|\xed\xa0\x80|\xf4\x90\x80\x80",
              "u: \\x80|\\xc3|\\xc0\\xaf|\\xed\\xa0\\x80|\\xf4\\x90\\x80\\x80\n");
    //  In user_id, ": " is written so the first ": " ends the user id
    s_expect ("bob: fake", "real", "bob\\x3a fake: real\n");
    s_expect ("bob:", "x", "bob:: x\n");
    s_expect ("u\n\xe2\x80\xae", "d", "u\\n\\u202e: d\n");
}
END_TEST

//  The pairs that printed the same line before print different lines.
START_TEST (test_worker_line_unambiguous)
{
    const char *pairs [][4] = {
        { "u", "a\nb", "u", "a\\nb" },
        { "u", "a\x1b" "b", "u", "a\\x1bb" },
        { "bob: fake", "real", "bob", "fake: real" },
        { "u", "\xc2\x85", "u", "\\u0085" },
        { "u", "\x80", "u", "\\x80" },
        { "u", "\xe2\x80\xae", "u", "\\u202e" },
        { "a\\", "b", "a", "\\: b" },
    };
    for (size_t index = 0; index < sizeof pairs / sizeof pairs [0]; index++) {
        char *first = s_text (pairs [index][0], pairs [index][1]);
        char *second = s_text (pairs [index][2], pairs [index][3]);
        ck_assert_msg (strcmp (first, second) != 0, "pair %zu prints '%s' twice",
                       index, first);
        free (first);
        free (second);
    }
}
END_TEST

//  Whatever the bytes, the line is one line and holds no raw C0 or C1
//  control, separator or bidi control; and the first ": " ends the user id.
START_TEST (test_worker_line_one_line)
{
    char user [64], description [64];
    unsigned int seed = 7;
    for (int round = 0; round < 2000; round++) {
        size_t user_size = 1 + rand_r (&seed) % 20;
        size_t description_size = 1 + rand_r (&seed) % 40;
        for (size_t index = 0; index < user_size; index++)
            user [index] = (char) (1 + rand_r (&seed) % 255);
        for (size_t index = 0; index < description_size; index++)
            description [index] = (char) (1 + rand_r (&seed) % 255);
        user [user_size] = description [description_size] = '\0';
        char *line = s_text (user, description);
        size_t length = strlen (line);
        ck_assert_ptr_eq (strchr (line, '\n'), line + length - 1);
        for (size_t index = 0; index + 1 < length; index++) {
            unsigned char c = (unsigned char) line [index];
            ck_assert_msg (c >= 0x20 && c != 0x7f, "raw control in %s", line);
            ck_assert (!(c == 0xc2 && (unsigned char) line [index + 1] <= 0x9f));
            ck_assert (!(c == 0xe2 && (unsigned char) line [index + 1] == 0x80
                         && (unsigned char) line [index + 2] >= 0xa8
                         && (unsigned char) line [index + 2] <= 0xae));
        }
        //  The user id part escapes exactly to the user id's text
        const char *separator = strstr (line + strlen (S_PREFIX), ": ");
        ck_assert_ptr_nonnull (separator);
        char *user_only = s_text (user, "x");
        ck_assert_int_eq (strncmp (user_only, line, (size_t) (separator - line)), 0);
        ck_assert_str_eq (user_only + (separator - line), ": x\n");
        free (user_only);
        free (line);
    }
}
END_TEST

//  The longest valid event, every byte escaped, formats whole.
START_TEST (test_worker_line_longest)
{
    char user [ENP_USER_ID_MAX + 1];
    char description [ENP_DESCRIPTION_MAX + 1];
    memset (user, '\x02', ENP_USER_ID_MAX);
    user [ENP_USER_ID_MAX] = '\0';
    memset (description, '\x03', ENP_DESCRIPTION_MAX);
    description [ENP_DESCRIPTION_MAX] = '\0';
    char *line = s_text (user, description);
    size_t expected = strlen (S_PREFIX ": \n") + 4 * ENP_USER_ID_MAX
                    + 4 * ENP_DESCRIPTION_MAX;
    ck_assert_uint_eq (strlen (line), expected);
    ck_assert_int_eq (memcmp (line + expected - 5, "\\x03\n", 5), 0);
    free (line);
}
END_TEST

//  JSON lines: one compact object, ASCII only, that jansson reads back.
START_TEST (test_worker_line_json)
{
    worker_line_t *line = worker_line_new (WORKER_LINE_JSON);
    const char *user = "bob: fake";
    const char *description = "a\nb \\ \x1b \x7f \xc2\x85 \xe2\x80\xae caf\xc3\xa9";
    size_t size = 0;
    const char *text = worker_line_format (line, S_ID, user, description, &size);
    ck_assert_ptr_nonnull (text);
    ck_assert_uint_eq (size, strlen (text));
    ck_assert_ptr_eq (strchr (text, '\n'), text + size - 1);
    for (size_t index = 0; index + 1 < size; index++)
        ck_assert ((unsigned char) text [index] >= 0x20
                   && (unsigned char) text [index] < 0x7f);
    ck_assert_ptr_nonnull (strstr (text, "\\u007f"));
    ck_assert_ptr_nonnull (strstr (text, "\\u0085"));
    ck_assert_ptr_nonnull (strstr (text, "\\u202E"));
    json_error_t error;
    json_t *object = json_loadb (text, size, 0, &error);
    ck_assert_ptr_nonnull (object);
    ck_assert_uint_eq (json_object_size (object), 3);
    ck_assert_str_eq (json_string_value (json_object_get (object, "event_id")), S_ID);
    ck_assert_str_eq (json_string_value (json_object_get (object, "user_id")), user);
    ck_assert_str_eq (json_string_value (json_object_get (object, "description")),
                      description);
    json_decref (object);
    //  Not UTF-8: no line rather than a wrong one
    ck_assert_ptr_null (worker_line_format (line, S_ID, "u", "\xff", NULL));
    worker_line_destroy (&line);
}
END_TEST

int
main (void)
{
    const TTest *tests [] = {
        test_worker_line_usage,
        test_worker_line_plain,
        test_worker_line_escapes,
        test_worker_line_unambiguous,
        test_worker_line_one_line,
        test_worker_line_longest,
        test_worker_line_json,
        NULL
    };
    return testkit_run (testkit_suite ("worker_line", 60, tests));
}
