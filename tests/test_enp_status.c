/*  test_enp_status - the shared result codes and their names
*/
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include "enp_status.h"
#include "testkit.h"

//  Usage: every status has a name that reads well in a log line.
START_TEST (test_enp_status_usage)
{
    ck_assert_str_eq (enp_status_str (ENP_OK), "ok");
    ck_assert_str_eq (enp_status_str (ENP_EPARSE), "malformed input");
    ck_assert_str_eq (enp_status_str (ENP_EINVAL), "invalid input");
    ck_assert_str_eq (enp_status_str (ENP_ENOTFOUND), "not found");
    ck_assert_str_eq (enp_status_str (ENP_EFULL), "full");
    ck_assert_str_eq (enp_status_str (ENP_ENOMEM), "out of memory");
    ck_assert_str_eq (enp_status_str (ENP_EIO), "input/output error");
}
END_TEST

//  Every value has a distinct, non-empty name.
START_TEST (test_enp_status_names_distinct)
{
    const enp_status_t all [] = {
        ENP_OK, ENP_EPARSE, ENP_EINVAL, ENP_ENOTFOUND, ENP_EFULL,
        ENP_ENOMEM, ENP_EIO
    };
    size_t count = sizeof all / sizeof all [0];
    for (size_t index = 0; index < count; index++) {
        const char *name = enp_status_str (all [index]);
        ck_assert_ptr_nonnull (name);
        ck_assert_uint_gt (strlen (name), 0);
        ck_assert_str_ne (name, "unknown status");
        for (size_t other = index + 1; other < count; other++)
            ck_assert_str_ne (name, enp_status_str (all [other]));
    }
}
END_TEST

//  A value outside the enum still gets a name, never NULL.
START_TEST (test_enp_status_unknown_value)
{
    ck_assert_str_eq (enp_status_str ((enp_status_t) 99), "unknown status");
}
END_TEST

//  The names are static: the same pointer every call, nothing to free.
START_TEST (test_enp_status_names_static)
{
    ck_assert_ptr_eq (enp_status_str (ENP_EFULL), enp_status_str (ENP_EFULL));
}
END_TEST

int
main (void)
{
    const TTest *tests [] = {
        test_enp_status_usage,
        test_enp_status_names_distinct,
        test_enp_status_unknown_value,
        test_enp_status_names_static,
        NULL
    };
    return testkit_run (testkit_suite ("enp_status", 5, tests));
}
