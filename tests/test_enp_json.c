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

int
main (void)
{
    const TTest *tests [] = {
        test_enp_json_usage, test_enp_json_limit_inclusive,
        test_enp_json_strings_ignored, test_enp_json_size_and_early_exit,
        test_enp_json_huge_nesting, NULL
    };
    return testkit_run (testkit_suite ("enp_json", 10, tests));
}
