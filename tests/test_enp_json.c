/*  test_enp_json - bounding the nesting of untrusted JSON before parsing
*/
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "enp_json.h"
#include "testkit.h"

//  Return text nested depth levels deep: depth opens, "1", depth closes.
static char *
s_nested (const char *open, const char *close, int depth)
{
    size_t open_size = strlen (open), close_size = strlen (close);
    char *text = malloc ((size_t) depth * (open_size + close_size) + 2);
    size_t used = 0;
    for (int level = 0; level < depth; level++, used += open_size)
        memcpy (text + used, open, open_size);
    text [used++] = '1';
    for (int level = 0; level < depth; level++, used += close_size)
        memcpy (text + used, close, close_size);
    text [used] = '\0';
    return text;
}

//  Usage: measure a document, then load one within the limit and one past it.
START_TEST (test_enp_json_usage)
{
    const char *text = "{\"a\":[1,{\"b\":[]}],\"c\":{}}";
    ck_assert_int_eq (enp_json_depth (text, strlen (text), 16), 4);
    char err [128] = "";
    json_t *value = enp_json_load (text, strlen (text), 0, err, sizeof err);
    ck_assert_ptr_nonnull (value);
    json_decref (value);
    char *deep = s_nested ("[", "]", ENP_JSON_DEPTH_MAX + 1);
    ck_assert_ptr_null (enp_json_load (deep, strlen (deep), 0, err, sizeof err));
    ck_assert_ptr_nonnull (strstr (err, "levels deep"));
    free (deep);
}
END_TEST

//  The limit is inclusive: exactly ENP_JSON_DEPTH_MAX levels still parse.
START_TEST (test_enp_json_limit_inclusive)
{
    char *text = s_nested ("{\"a\":", "}", ENP_JSON_DEPTH_MAX);
    ck_assert_int_eq (enp_json_depth (text, strlen (text), ENP_JSON_DEPTH_MAX),
                      ENP_JSON_DEPTH_MAX);
    json_t *value = enp_json_load (text, strlen (text), 0, NULL, 0);
    ck_assert_ptr_nonnull (value);
    json_decref (value);
    free (text);
}
END_TEST

//  Brackets inside strings, escaped quotes included, do not count.
START_TEST (test_enp_json_strings_ignored)
{
    const char *text = "[\"[[[[{{{{\", \"\\\"[[[[\", \"\\\\\", [\"]]]]\"]]";
    ck_assert_int_eq (enp_json_depth (text, strlen (text), 16), 2);
    //  An escaped backslash ends the escape: the quote after it closes
    const char *closes = "[\"\\\\\"]";
    ck_assert_int_eq (enp_json_depth (closes, strlen (closes), 16), 1);
}
END_TEST

//  The scan stops at size and gives up as soon as the limit is passed.
START_TEST (test_enp_json_size_and_early_exit)
{
    const char *text = "[[[[[[";
    ck_assert_int_eq (enp_json_depth (text, 2, 16), 2);
    ck_assert_int_eq (enp_json_depth (text, 6, 3), -1);
    ck_assert_int_eq (enp_json_depth (NULL, 0, 3), 0);
    ck_assert_int_eq (enp_json_depth ("", 0, 3), 0);
    //  Unbalanced closers do not make the depth negative
    ck_assert_int_eq (enp_json_depth ("]]]][", 5, 3), 1);
}
END_TEST

//  A megabyte of '[' is refused without recursing (it would need ~100 MB of
//  stack in jansson), and so is the same nesting hidden behind objects.
START_TEST (test_enp_json_huge_nesting)
{
    size_t size = 1024 * 1024;
    char *text = malloc (size);
    memset (text, '[', size);
    ck_assert_ptr_null (enp_json_load (text, size, 0, NULL, 0));
    free (text);
    char *objects = s_nested ("{\"a\":", "}", 100000);
    ck_assert_ptr_null (enp_json_load (objects, strlen (objects), 0, NULL, 0));
    free (objects);
}
END_TEST

//  Valid JSON jansson cannot hold is still read: numbers past a double or
//  a 64-bit integer as +-1e308, U+0000 in a member name as U+2400; the
//  same text in strings, and near misses, stay as they are.
START_TEST (test_enp_json_jansson_limits)
{
    const char *text = "[1e999, -1E+400, 99999999999999999999999, -99999999999999999999,"
                       " 1e-999, 12, 2.5e3, \"1e999\", {\"n\":1e999}]";
    char err [128] = "";
    json_t *value = enp_json_load (text, strlen (text), 0, err, sizeof err);
    ck_assert_msg (value != NULL, "%s", err);
    const double expected [] = { 1e308, -1e308, 1e308, -1e308 };
    for (size_t index = 0; index < 4; index++) {
        json_t *item = json_array_get (value, index);
        ck_assert (json_is_real (item));
        ck_assert (json_real_value (item) == expected [index]);
    }
    ck_assert (json_real_value (json_array_get (value, 4)) == 0.0);
    ck_assert_int_eq (json_integer_value (json_array_get (value, 5)), 12);
    ck_assert (json_real_value (json_array_get (value, 6)) == 2500.0);
    ck_assert_str_eq (json_string_value (json_array_get (value, 7)), "1e999");
    ck_assert (json_real_value (json_object_get (json_array_get (value, 8), "n"))
               == 1e308);
    json_decref (value);

    //  A NUL in a name, escaped any way JSON allows; values keep theirs
    text = "{\"a\\u0000b\":\"x\\u0000\", \"\\\\u0000\":2}";
    value = enp_json_load (text, strlen (text), JSON_ALLOW_NUL, err, sizeof err);
    ck_assert_msg (value != NULL, "%s", err);
    json_t *member = json_object_get (value, "a\xe2\x90\x80" "b");
    ck_assert_ptr_nonnull (member);
    ck_assert_uint_eq (json_string_length (member), 2);
    //  An escaped backslash before u0000 is not an escaped NUL
    ck_assert_ptr_nonnull (json_object_get (value, "\\u0000"));
    json_decref (value);

    //  Text that is not JSON stays refused, with jansson's reason
    const char *bad [] = { "[1e999x]", "{\"a\\u0000\" 1}", "[1e999", "1e999 2" };
    for (size_t index = 0; index < sizeof bad / sizeof bad [0]; index++) {
        err [0] = '\0';
        ck_assert_ptr_null (enp_json_load (bad [index], strlen (bad [index]),
                                           JSON_DECODE_ANY, err, sizeof err));
        ck_assert_ptr_nonnull (strstr (err, "not valid JSON"));
    }
}
END_TEST

//  JSON pointers escape '~' and '/' in a token (RFC 6901), and only those.
START_TEST (test_enp_json_pointer)
{
    const char *cases [][3] = {
        { "/events", "3", "/events/3" },
        { "/events/3", "user_id", "/events/3/user_id" },
        { "", "events", "/events" },
        { "/e/0", "a/b~c", "/e/0/a~1b~0c" },
        { "/e", "", "/e/" }
    };
    for (size_t index = 0; index < sizeof cases / sizeof cases [0]; index++) {
        char *pointer = enp_json_pointer (cases [index][0], cases [index][1]);
        ck_assert_ptr_nonnull (pointer);
        ck_assert_str_eq (pointer, cases [index][2]);
        free (pointer);
    }
}
END_TEST

int
main (void)
{
    const TTest *tests [] = {
        test_enp_json_usage, test_enp_json_limit_inclusive,
        test_enp_json_strings_ignored, test_enp_json_size_and_early_exit,
        test_enp_json_huge_nesting, test_enp_json_jansson_limits,
        test_enp_json_pointer, NULL
    };
    return testkit_run (testkit_suite ("enp_json", 10, tests));
}
