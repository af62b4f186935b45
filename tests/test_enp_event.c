/*  test_enp_event - the event value, its JSON form and request validation
*/
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <czmq.h>
#include <jansson.h>
#include "enp_event.h"
#include "enp_time.h"
#include "testkit.h"

#define S_ID "123e4567-e89b-42d3-a456-426614174000"

//  Return a new string of size bytes of c (caller frees).
static char *
s_repeat (char c, size_t size)
{
    char *text = malloc (size + 1);
    memset (text, c, size);
    text [size] = '\0';
    return text;
}

//  Decode a create body; on success destroy the event. Fills errors.
static enp_status_t
s_create (const char *body, json_t *errors)
{
    enp_event_t *event = NULL;
    char err [256] = "";
    enp_status_t status = enp_event_decode_create (body, strlen (body), &event,
                                                   errors, err, sizeof err);
    if (status == ENP_OK)
        ck_assert_ptr_nonnull (event);
    else {
        ck_assert_ptr_null (event);
        ck_assert_msg (err [0] != '\0', "no error summary for %s", body);
    }
    enp_event_destroy (&event);
    return status;
}

//  Return true if errors holds an entry for field with a message.
static int
s_has_field (json_t *errors, const char *field)
{
    size_t index;
    json_t *entry;
    json_array_foreach (errors, index, entry) {
        const char *name = json_string_value (json_object_get (entry, "field"));
        const char *message = json_string_value (json_object_get (entry, "message"));
        if (name && strcmp (name, field) == 0 && message && *message)
            return 1;
    }
    return 0;
}

//  Usage: create, read, change, copy, encode, destroy.
START_TEST (test_enp_event_usage)
{
    enp_event_t *event = enp_event_new (S_ID, "alice", "hello", 1700000000123LL);
    ck_assert_ptr_nonnull (event);
    ck_assert_str_eq (enp_event_id (event), S_ID);
    ck_assert_str_eq (enp_event_user_id (event), "alice");
    ck_assert_str_eq (enp_event_description (event), "hello");
    ck_assert_str_eq (enp_event_status (event), ENP_STATUS_PENDING);
    ck_assert_int_eq (enp_event_created_at (event), 1700000000123LL);
    ck_assert_int_eq (enp_event_updated_at (event), 1700000000123LL);
    ck_assert_uint_eq (enp_event_attempts (event), 0);
    ck_assert (enp_event_status_is (event, ENP_STATUS_PENDING));

    enp_event_set_status (event, ENP_STATUS_QUEUED, 1700000001000LL);
    enp_event_set_attempts (event, 2);
    ck_assert (enp_event_status_is (event, ENP_STATUS_QUEUED));
    ck_assert (!enp_event_status_is (event, ENP_STATUS_PENDING));
    ck_assert_int_eq (enp_event_updated_at (event), 1700000001000LL);
    ck_assert_uint_eq (enp_event_attempts (event), 2);

    enp_event_t *copy = enp_event_dup (event);
    ck_assert_ptr_nonnull (copy);
    ck_assert_str_eq (enp_event_status (copy), ENP_STATUS_QUEUED);

    json_t *json = enp_event_to_json (event);
    ck_assert_ptr_nonnull (json);
    json_decref (json);
    size_t size = 0;
    char *text = enp_event_encode (event, &size);
    ck_assert_ptr_nonnull (text);
    ck_assert_uint_eq (size, strlen (text));
    size_t max = enp_event_encoded_max (event);
    ck_assert_uint_ge (max, size);
    char *buf = malloc (max);
    ck_assert_uint_eq (enp_event_encode_into (event, buf), size);
    ck_assert_int_eq (memcmp (buf, text, size), 0);
    free (buf);
    free (text);

    char id [ENP_UUID_LEN + 1];
    ck_assert_int_eq (enp_event_new_id (id), 0);
    ck_assert_uint_eq (strlen (id), ENP_UUID_LEN);
    enp_event_t *created = enp_event_create ("bob", "created");
    ck_assert_ptr_nonnull (created);
    ck_assert_str_eq (enp_event_user_id (created), "bob");
    enp_event_destroy (&created);
    const char *body = "{\"user_id\":\"carol\",\"description\":\"decoded\"}";
    ck_assert_int_eq (enp_event_decode_create (body, strlen (body), &created,
                                               NULL, NULL, 0), ENP_OK);
    ck_assert_str_eq (enp_event_description (created), "decoded");
    enp_event_destroy (&created);

    char status [ENP_STATUS_MAX + 1];
    const char *patch = "{\"status\":\"processed\"}";
    ck_assert_int_eq (enp_event_decode_status (patch, strlen (patch), status,
                                               NULL, NULL, 0), ENP_OK);
    ck_assert_str_eq (status, "processed");
    ck_assert (enp_event_status_valid ("processed"));
    char canonical [ENP_UUID_LEN + 1];
    ck_assert_int_eq (enp_event_id_canonical (S_ID, canonical), 0);

    enp_event_destroy (&copy);
    enp_event_destroy (&event);
    ck_assert_ptr_null (event);
    enp_event_destroy (&event);     //  Destroying NULL is harmless
}
END_TEST

//  enp_event_create makes a fresh random v4 UUID, created now.
START_TEST (test_enp_event_create_fresh_ids)
{
    int64_t before = enp_time_now_ms ();
    enp_event_t *first = enp_event_create ("u", "d");
    enp_event_t *second = enp_event_create ("u", "d");
    int64_t after = enp_time_now_ms ();
    ck_assert_ptr_nonnull (first);
    ck_assert_ptr_nonnull (second);
    ck_assert_str_ne (enp_event_id (first), enp_event_id (second));
    const char *id = enp_event_id (first);
    ck_assert_uint_eq (strlen (id), ENP_UUID_LEN);
    ck_assert_int_eq (id [14], '4');
    ck_assert_ptr_nonnull (strchr ("89ab", id [19]));
    char canonical [ENP_UUID_LEN + 1];
    ck_assert_int_eq (enp_event_id_canonical (id, canonical), 0);
    ck_assert_str_eq (canonical, id);
    ck_assert_int_ge (enp_event_created_at (first), before);
    ck_assert_int_le (enp_event_created_at (first), after);
    ck_assert_str_eq (enp_event_status (first), ENP_STATUS_PENDING);
    enp_event_destroy (&first);
    enp_event_destroy (&second);
}
END_TEST

//  A copy is deep: changing it leaves the original alone.
START_TEST (test_enp_event_dup_is_deep)
{
    enp_event_t *event = enp_event_new (S_ID, "alice", "hello", 5);
    enp_event_set_attempts (event, 3);
    enp_event_set_status (event, "custom.state", 9);
    enp_event_t *copy = enp_event_dup (event);
    ck_assert_ptr_nonnull (copy);
    ck_assert_ptr_ne (enp_event_user_id (copy), enp_event_user_id (event));
    ck_assert_ptr_ne (enp_event_description (copy), enp_event_description (event));
    ck_assert_str_eq (enp_event_id (copy), S_ID);
    ck_assert_str_eq (enp_event_user_id (copy), "alice");
    ck_assert_str_eq (enp_event_description (copy), "hello");
    ck_assert_str_eq (enp_event_status (copy), "custom.state");
    ck_assert_int_eq (enp_event_created_at (copy), 5);
    ck_assert_int_eq (enp_event_updated_at (copy), 9);
    ck_assert_uint_eq (enp_event_attempts (copy), 3);
    enp_event_set_status (copy, ENP_STATUS_PROCESSED, 10);
    enp_event_set_attempts (copy, 4);
    ck_assert_str_eq (enp_event_status (event), "custom.state");
    ck_assert_uint_eq (enp_event_attempts (event), 3);
    ck_assert_ptr_null (enp_event_dup (NULL));
    enp_event_destroy (&copy);
    enp_event_destroy (&event);
}
END_TEST

//  to_json has exactly the seven fields, times in RFC 3339 with ms.
START_TEST (test_enp_event_to_json_fields)
{
    enp_event_t *event = enp_event_new (S_ID, "bob", "line \"one\"\nline two",
                                        1700000000123LL);
    enp_event_set_status (event, ENP_STATUS_PROCESSED, 951782400007LL);
    enp_event_set_attempts (event, 7);
    json_t *json = enp_event_to_json (event);
    ck_assert_ptr_nonnull (json);
    ck_assert_uint_eq (json_object_size (json), 7);
    ck_assert_str_eq (json_string_value (json_object_get (json, "event_id")), S_ID);
    ck_assert_str_eq (json_string_value (json_object_get (json, "user_id")), "bob");
    ck_assert_str_eq (json_string_value (json_object_get (json, "description")),
                      "line \"one\"\nline two");
    ck_assert_str_eq (json_string_value (json_object_get (json, "status")),
                      "processed");
    ck_assert_str_eq (json_string_value (json_object_get (json, "created_at")),
                      "2023-11-14T22:13:20.123Z");
    ck_assert_str_eq (json_string_value (json_object_get (json, "updated_at")),
                      "2000-02-29T00:00:00.007Z");
    json_t *attempts = json_object_get (json, "attempts");
    ck_assert (json_is_integer (attempts));
    ck_assert_int_eq (json_integer_value (attempts), 7);
    json_decref (json);
    enp_event_destroy (&event);
}
END_TEST

//  encode gives compact JSON that parses back to the same fields.
START_TEST (test_enp_event_encode_compact)
{
    enp_event_t *event = enp_event_new (S_ID, "caf\xc3\xa9", "tab\there", 0);
    size_t size = 0;
    char *text = enp_event_encode (event, &size);
    ck_assert_ptr_nonnull (text);
    ck_assert_uint_eq (size, strlen (text));
    ck_assert_ptr_null (strchr (text, '\n'));
    ck_assert_ptr_null (strstr (text, ", "));
    ck_assert_ptr_nonnull (strstr (text, "\"event_id\":\"" S_ID "\""));
    ck_assert_ptr_nonnull (strstr (text, "\"created_at\":\"1970-01-01T00:00:00.000Z\""));
    json_t *json = json_loads (text, 0, NULL);
    ck_assert_ptr_nonnull (json);
    ck_assert_str_eq (json_string_value (json_object_get (json, "user_id")),
                      "caf\xc3\xa9");
    ck_assert_str_eq (json_string_value (json_object_get (json, "description")),
                      "tab\there");
    json_decref (json);
    free (text);
    text = enp_event_encode (event, NULL);      //  size_p may be NULL
    ck_assert_ptr_nonnull (text);
    free (text);
    enp_event_destroy (&event);
}
END_TEST

//  Return the encoding jansson makes of the event's JSON object.
static char *
s_jansson_encode (const enp_event_t *event)
{
    json_t *json = enp_event_to_json (event);
    ck_assert_ptr_nonnull (json);
    char *text = json_dumps (json, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref (json);
    return text;
}

//  The hand-written encoder agrees with jansson: the same bytes where
//  jansson's spelling is the only one, the same JSON value always.
START_TEST (test_enp_event_encode_matches_jansson)
{
    char controls [40];
    for (int index = 1; index < 0x20; index++)
        controls [index - 1] = (char) index;
    controls [31] = '\0';
    struct {
        const char *user, *description;
        uint32_t attempts;
        int64_t created;
        int exact;          //  jansson writes \u00XX in uppercase; we may not
    } cases [] = {
        { "alice", "hello", 0, 0, 1 },
        { "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "say \"hi\" \\ / done", 7,
          1700000000123LL, 1 },
        { "tab\there", "line\nbreak\r\b\f", 4294967295u, -1, 1 },
        { "del\x7f", "x", 10, 951782400000LL, 1 },
        { "ctl", controls, 1, 0, 0 },
    };
    for (size_t index = 0; index < sizeof cases / sizeof cases [0]; index++) {
        enp_event_t *event = enp_event_new ("123e4567-e89b-42d3-a456-426614174000",
                                            cases [index].user,
                                            cases [index].description,
                                            cases [index].created);
        enp_event_set_attempts (event, cases [index].attempts);
        enp_event_set_status (event, "x.y-z_1", cases [index].created + 5);
        char *ours = enp_event_encode (event, NULL);
        char *theirs = s_jansson_encode (event);
        ck_assert_ptr_nonnull (ours);
        ck_assert_ptr_nonnull (theirs);
        if (cases [index].exact)
            ck_assert_str_eq (ours, theirs);
        json_error_t error;
        json_t *parsed = json_loads (ours, 0, &error);
        ck_assert_msg (parsed != NULL, "case %zu: not JSON (%s): %s", index,
                       error.text, ours);
        json_t *expected = json_loads (theirs, 0, NULL);
        ck_assert_msg (json_equal (parsed, expected), "case %zu: %s != %s",
                       index, ours, theirs);
        ck_assert_str_eq (json_string_value (json_object_get (parsed, "description")),
                          cases [index].description);
        json_decref (expected);
        json_decref (parsed);
        free (theirs);
        free (ours);
        enp_event_destroy (&event);
    }
}
END_TEST

//  encoded_size is exactly what encode_into writes, escapes and odd
//  times included.
START_TEST (test_enp_event_encoded_size_exact)
{
    const char *users [] = { "u", "quote\" back\\ slash", "\x01\x1f\n\t\r\b\f",
                             "\xc3\xa9t\xc3\xa9 \xe2\x82\xac" };
    const int64_t times [] = { 0, 1700000000123LL, -62167219200001LL,
                               253402300800000LL, INT64_MIN, INT64_MAX };
    const uint32_t attempts [] = { 0, 9, 10, 4294967295u };
    for (size_t user = 0; user < sizeof users / sizeof users [0]; user++)
        for (size_t time = 0; time < sizeof times / sizeof times [0]; time++) {
            enp_event_t *event = enp_event_new (
                "123e4567-e89b-42d3-a456-426614174000", users [user],
                users [(user + 1) % 4], times [time]);
            enp_event_set_attempts (event, attempts [time % 4]);
            enp_event_set_status (event, "processed", times [5 - time]);
            size_t size = 0;
            char *json = enp_event_encode (event, &size);
            ck_assert_uint_eq (enp_event_encoded_size (event), size);
            free (json);
            enp_event_destroy (&event);
        }
}
END_TEST

//  encode_into never writes more than encoded_max, even in the worst case.
START_TEST (test_enp_event_encoded_max_bound)
{
    char *user = s_repeat ('\x01', ENP_USER_ID_MAX);
    char *description = s_repeat ('\x1f', ENP_DESCRIPTION_MAX);
    enp_event_t *event = enp_event_new ("123e4567-e89b-42d3-a456-426614174000",
                                        user, description, INT64_MIN);
    enp_event_set_attempts (event, 4294967295u);
    char *status = s_repeat ('z', ENP_STATUS_MAX);
    enp_event_set_status (event, status, INT64_MAX);
    size_t max = enp_event_encoded_max (event);
    char *buf = malloc (max + 64);
    memset (buf, '#', max + 64);
    size_t size = enp_event_encode_into (event, buf);
    ck_assert_uint_le (size, max);
    for (size_t index = max; index < max + 64; index++)
        ck_assert_int_eq (buf [index], '#');
    buf [size] = '\0';
    json_t *parsed = json_loads (buf, 0, NULL);
    ck_assert_ptr_nonnull (parsed);
    ck_assert_str_eq (json_string_value (json_object_get (parsed, "user_id")), user);
    json_decref (parsed);
    free (buf);
    free (status);
    free (description);
    free (user);
    enp_event_destroy (&event);
}
END_TEST

//  New ids are canonical v4 UUIDs and do not repeat.
START_TEST (test_enp_event_new_id)
{
    zhashx_t *seen = zhashx_new ();
    for (int index = 0; index < 5000; index++) {
        char id [ENP_UUID_LEN + 1];
        memset (id, '#', sizeof id);
        ck_assert_int_eq (enp_event_new_id (id), 0);
        ck_assert_uint_eq (strlen (id), ENP_UUID_LEN);
        char canonical [ENP_UUID_LEN + 1];
        ck_assert_int_eq (enp_event_id_canonical (id, canonical), 0);
        ck_assert_str_eq (canonical, id);
        ck_assert_int_eq (id [14], '4');
        ck_assert_ptr_nonnull (strchr ("89ab", id [19]));
        ck_assert_msg (zhashx_insert (seen, id, (void *) 1) == 0,
                       "id %s came twice", id);
    }
    zhashx_destroy (&seen);
}
END_TEST

//  A valid create body gives a new pending event with a fresh id.
START_TEST (test_enp_event_decode_create_valid)
{
    const char *body = "{\"user_id\":\"alice\",\"description\":\"hi \\u00e9\"}";
    enp_event_t *event = NULL;
    json_t *errors = json_array ();
    char err [256] = "";
    ck_assert_int_eq (enp_event_decode_create (body, strlen (body), &event,
                                               errors, err, sizeof err), ENP_OK);
    ck_assert_ptr_nonnull (event);
    ck_assert_uint_eq (json_array_size (errors), 0);
    ck_assert_str_eq (enp_event_user_id (event), "alice");
    ck_assert_str_eq (enp_event_description (event), "hi \xc3\xa9");
    ck_assert_str_eq (enp_event_status (event), ENP_STATUS_PENDING);
    ck_assert_uint_eq (enp_event_attempts (event), 0);
    ck_assert_uint_eq (strlen (enp_event_id (event)), ENP_UUID_LEN);
    enp_event_destroy (&event);
    //  errors and err may be NULL
    ck_assert_int_eq (enp_event_decode_create (body, strlen (body), &event,
                                               NULL, NULL, 0), ENP_OK);
    enp_event_destroy (&event);
    json_decref (errors);
}
END_TEST

//  Only size bytes are read: what follows in the buffer is ignored.
START_TEST (test_enp_event_decode_create_uses_size)
{
    const char *object = "{\"user_id\":\"a\",\"description\":\"b\"}";
    char body [128];
    snprintf (body, sizeof body, "%sGARBAGE", object);
    enp_event_t *event = NULL;
    ck_assert_int_eq (enp_event_decode_create (body, strlen (object), &event,
                                               NULL, NULL, 0), ENP_OK);
    enp_event_destroy (&event);
    ck_assert_int_eq (enp_event_decode_create (body, strlen (body), &event,
                                               NULL, NULL, 0), ENP_EPARSE);
    ck_assert_ptr_null (event);
}
END_TEST

//  Malformed JSON and JSON that is not an object are parse errors.
START_TEST (test_enp_event_decode_create_malformed)
{
    const char *bodies [] = {
        "", " ", "{", "{\"user_id\":", "{\"user_id\":\"a\",}", "nul",
        "[]", "[{\"user_id\":\"a\",\"description\":\"b\"}]", "\"string\"",
        "5", "null", "true",
        "{\"user_id\":'a',\"description\":\"b\"}",
        "{\"user_id\":\"a\",\"description\":\"b\"} {}"
    };
    for (size_t index = 0; index < sizeof bodies / sizeof bodies [0]; index++) {
        json_t *errors = json_array ();
        ck_assert_msg (s_create (bodies [index], errors) == ENP_EPARSE,
                       "'%s' was not a parse error", bodies [index]);
        ck_assert_uint_eq (json_array_size (errors), 0);
        json_decref (errors);
    }
    enp_event_t *event = NULL;
    ck_assert_int_eq (enp_event_decode_create (NULL, 0, &event, NULL, NULL, 0),
                      ENP_EPARSE);
}
END_TEST

//  Invalid UTF-8 anywhere is a parse error, as is a raw NUL byte.
START_TEST (test_enp_event_decode_create_invalid_utf8)
{
    const char *bodies [] = {
        "{\"user_id\":\"\xff\",\"description\":\"b\"}",
        "{\"user_id\":\"a\",\"description\":\"\xc3\x28\"}",
        "{\"user_id\":\"a\",\"description\":\"\xed\xa0\x80\"}",     //  surrogate
        "{\"user_id\":\"a\",\"description\":\"\xc0\xaf\"}",         //  overlong
        "{\"user_id\":\"a\",\"description\":\"b\",\"\xfe\":1}",
        "{\"user_id\":\"a\",\"description\":\"\\ud800\"}",          //  lone surrogate
    };
    for (size_t index = 0; index < sizeof bodies / sizeof bodies [0]; index++)
        ck_assert_msg (s_create (bodies [index], NULL) == ENP_EPARSE,
                       "body %zu was not a parse error", index);
    //  A raw NUL byte inside the body is not JSON either
    const char body [] = "{\"user_id\":\"a\0b\",\"description\":\"b\"}";
    enp_event_t *event = NULL;
    ck_assert_int_eq (enp_event_decode_create (body, sizeof body - 1, &event,
                                               NULL, NULL, 0), ENP_EPARSE);
    ck_assert_ptr_null (event);
}
END_TEST

//  Duplicate keys are refused as malformed.
//  Valid JSON is never a parse error for what it holds: U+0000 in a field
//  is that field's error, a number too large for jansson a wrong type, a
//  U+0000 in a member name an unknown field, and a scalar is "not an
//  object" rather than "'[' or '{' expected".
START_TEST (test_enp_event_decode_valid_json)
{
    const struct { const char *body, *field, *message; } cases [] = {
        { "{\"user_id\":\"a\\u0000\",\"description\":\"b\"}", "user_id", "U+0000" },
        { "{\"user_id\":\"a\",\"description\":\"\\u0000b\"}", "description", "U+0000" },
        { "{\"user_id\":1e999,\"description\":\"b\"}", "user_id", "must be a string" },
        { "{\"user_id\":\"a\",\"description\":-1e999}", "description", "must be a string" },
        { "{\"user_id\":123456789012345678901234567890,\"description\":\"b\"}",
          "user_id", "must be a string" },
        { "{\"user_id\":\"a\",\"description\":\"b\",\"x\\u0000\":1}",
          "x\xe2\x90\x80", "not a known field" },
        { "{\"user_id\":\"a\",\"description\":\"b\",\"n\":1e999}", "n",
          "not a known field" }
    };
    for (size_t index = 0; index < sizeof cases / sizeof cases [0]; index++) {
        json_t *errors = json_array ();
        ck_assert_msg (s_create (cases [index].body, errors) == ENP_EINVAL,
                       "%s was not a field error", cases [index].body);
        ck_assert_uint_eq (json_array_size (errors), 1);
        json_t *entry = json_array_get (errors, 0);
        ck_assert_str_eq (json_string_value (json_object_get (entry, "field")),
                          cases [index].field);
        ck_assert_ptr_nonnull (strstr (json_string_value (json_object_get (entry,
                               "message")), cases [index].message));
        json_decref (errors);
    }
    //  The same in a status patch
    const char *patches [] = { "{\"status\":\"ok\\u0000\"}", "{\"status\":1e999}" };
    for (size_t index = 0; index < 2; index++) {
        char status [ENP_STATUS_MAX + 1];
        json_t *errors = json_array ();
        ck_assert_int_eq (enp_event_decode_status (patches [index],
            strlen (patches [index]), status, errors, NULL, 0), ENP_EINVAL);
        ck_assert (s_has_field (errors, "status"));
        json_decref (errors);
    }
    //  Scalars and arrays are JSON, not objects
    const char *scalars [] = { "42", "\"text\"", "null", "[1e999]", "-1e999" };
    for (size_t index = 0; index < sizeof scalars / sizeof scalars [0]; index++) {
        enp_event_t *event = NULL;
        char err [128] = "";
        ck_assert_int_eq (enp_event_decode_create (scalars [index],
            strlen (scalars [index]), &event, NULL, err, sizeof err), ENP_EPARSE);
        ck_assert_str_eq (err, "body must be a JSON object");
    }
}
END_TEST

START_TEST (test_enp_event_decode_create_duplicate_keys)
{
    ck_assert_int_eq (s_create ("{\"user_id\":\"a\",\"user_id\":\"b\","
                                "\"description\":\"d\"}", NULL), ENP_EPARSE);
    char status [ENP_STATUS_MAX + 1];
    const char *body = "{\"status\":\"a\",\"status\":\"b\"}";
    ck_assert_int_eq (enp_event_decode_status (body, strlen (body), status,
                                               NULL, NULL, 0), ENP_EPARSE);
}
END_TEST

//  Missing fields: one error per field, all at once.
START_TEST (test_enp_event_decode_create_missing_fields)
{
    json_t *errors = json_array ();
    ck_assert_int_eq (s_create ("{}", errors), ENP_EINVAL);
    ck_assert_uint_eq (json_array_size (errors), 2);
    ck_assert (s_has_field (errors, "user_id"));
    ck_assert (s_has_field (errors, "description"));
    json_array_clear (errors);
    ck_assert_int_eq (s_create ("{\"user_id\":\"a\"}", errors), ENP_EINVAL);
    ck_assert_uint_eq (json_array_size (errors), 1);
    ck_assert (s_has_field (errors, "description"));
    json_array_clear (errors);
    ck_assert_int_eq (s_create ("{\"description\":\"d\"}", errors), ENP_EINVAL);
    ck_assert_uint_eq (json_array_size (errors), 1);
    ck_assert (s_has_field (errors, "user_id"));
    json_decref (errors);
}
END_TEST

//  Each wrong type is reported against its field.
START_TEST (test_enp_event_decode_create_wrong_types)
{
    const char *values [] = { "null", "5", "1.5", "true", "[]", "{}",
                              "[\"a\"]" };
    for (size_t index = 0; index < sizeof values / sizeof values [0]; index++) {
        char body [128];
        snprintf (body, sizeof body, "{\"user_id\":%s,\"description\":%s}",
                  values [index], values [index]);
        json_t *errors = json_array ();
        ck_assert_msg (s_create (body, errors) == ENP_EINVAL, "%s", body);
        ck_assert_uint_eq (json_array_size (errors), 2);
        ck_assert (s_has_field (errors, "user_id"));
        ck_assert (s_has_field (errors, "description"));
        json_decref (errors);
    }
}
END_TEST

//  Several problems at once give one entry each, and a summary.
START_TEST (test_enp_event_decode_create_all_errors_at_once)
{
    const char *body = "{\"user_id\":\"\",\"description\":5,\"x\":1}";
    json_t *errors = json_array ();
    enp_event_t *event = NULL;
    char err [256] = "";
    ck_assert_int_eq (enp_event_decode_create (body, strlen (body), &event,
                                               errors, err, sizeof err),
                      ENP_EINVAL);
    ck_assert_ptr_null (event);
    ck_assert_uint_eq (json_array_size (errors), 3);
    ck_assert (s_has_field (errors, "user_id"));
    ck_assert (s_has_field (errors, "description"));
    ck_assert (s_has_field (errors, "x"));
    ck_assert_ptr_nonnull (strstr (err, "3"));
    //  Every entry is exactly {"field","message"}
    size_t index;
    json_t *entry;
    json_array_foreach (errors, index, entry) {
        ck_assert_uint_eq (json_object_size (entry), 2);
        ck_assert (json_is_string (json_object_get (entry, "field")));
        ck_assert (json_is_string (json_object_get (entry, "message")));
    }
    json_decref (errors);
}
END_TEST

//  Empty strings are schema errors.
START_TEST (test_enp_event_decode_create_empty_strings)
{
    json_t *errors = json_array ();
    ck_assert_int_eq (s_create ("{\"user_id\":\"\",\"description\":\"\"}", errors),
                      ENP_EINVAL);
    ck_assert_uint_eq (json_array_size (errors), 2);
    ck_assert (s_has_field (errors, "user_id"));
    ck_assert (s_has_field (errors, "description"));
    json_decref (errors);
}
END_TEST

//  Length limits are in bytes: 256 and 4096 pass, 257 and 4097 fail.
START_TEST (test_enp_event_decode_create_lengths)
{
    struct {
        size_t user, description;
        enp_status_t expected;
        const char *field;
    } cases [] = {
        { 256, 4096, ENP_OK, NULL },
        { 1, 1, ENP_OK, NULL },
        { 257, 10, ENP_EINVAL, "user_id" },
        { 10, 4097, ENP_EINVAL, "description" },
    };
    for (size_t index = 0; index < sizeof cases / sizeof cases [0]; index++) {
        char *user = s_repeat ('u', cases [index].user);
        char *description = s_repeat ('d', cases [index].description);
        size_t size = strlen (user) + strlen (description) + 64;
        char *body = malloc (size);
        snprintf (body, size, "{\"user_id\":\"%s\",\"description\":\"%s\"}",
                  user, description);
        json_t *errors = json_array ();
        enp_event_t *event = NULL;
        ck_assert_int_eq (enp_event_decode_create (body, strlen (body), &event,
                                                   errors, NULL, 0),
                          cases [index].expected);
        if (cases [index].expected == ENP_OK) {
            ck_assert_str_eq (enp_event_user_id (event), user);
            ck_assert_str_eq (enp_event_description (event), description);
            enp_event_destroy (&event);
        }
        else {
            ck_assert_uint_eq (json_array_size (errors), 1);
            ck_assert (s_has_field (errors, cases [index].field));
        }
        json_decref (errors);
        free (body);
        free (description);
        free (user);
    }
}
END_TEST

//  Multi-byte characters count by bytes: 128 x "é" is 256 bytes, 129 is not.
START_TEST (test_enp_event_decode_create_length_in_bytes)
{
    char body [1024];
    char user [300] = "";
    for (int index = 0; index < 128; index++)
        strcat (user, "\xc3\xa9");
    snprintf (body, sizeof body, "{\"user_id\":\"%s\",\"description\":\"d\"}", user);
    ck_assert_int_eq (s_create (body, NULL), ENP_OK);
    strcat (user, "\xc3\xa9");
    snprintf (body, sizeof body, "{\"user_id\":\"%s\",\"description\":\"d\"}", user);
    json_t *errors = json_array ();
    ck_assert_int_eq (s_create (body, errors), ENP_EINVAL);
    ck_assert (s_has_field (errors, "user_id"));
    json_decref (errors);
}
END_TEST

//  Unknown fields are schema errors, one entry each.
START_TEST (test_enp_event_decode_create_unknown_fields)
{
    json_t *errors = json_array ();
    ck_assert_int_eq (s_create ("{\"user_id\":\"a\",\"description\":\"b\","
                                "\"status\":\"processed\",\"extra\":null}",
                                errors), ENP_EINVAL);
    ck_assert_uint_eq (json_array_size (errors), 2);
    ck_assert (s_has_field (errors, "status"));
    ck_assert (s_has_field (errors, "extra"));
    json_decref (errors);
}
END_TEST

//  A valid status patch.
START_TEST (test_enp_event_decode_status_valid)
{
    const char *statuses [] = { "processed", "a", "x.y-z_9", "failed" };
    for (size_t index = 0; index < sizeof statuses / sizeof statuses [0]; index++) {
        char body [128];
        snprintf (body, sizeof body, "{\"status\":\"%s\"}", statuses [index]);
        char status [ENP_STATUS_MAX + 1] = "";
        json_t *errors = json_array ();
        ck_assert_int_eq (enp_event_decode_status (body, strlen (body), status,
                                                   errors, NULL, 0), ENP_OK);
        ck_assert_str_eq (status, statuses [index]);
        ck_assert_uint_eq (json_array_size (errors), 0);
        json_decref (errors);
    }
    char *longest = s_repeat ('z', ENP_STATUS_MAX);
    char body [128];
    snprintf (body, sizeof body, "{\"status\":\"%s\"}", longest);
    char status [ENP_STATUS_MAX + 1] = "";
    ck_assert_int_eq (enp_event_decode_status (body, strlen (body), status,
                                               NULL, NULL, 0), ENP_OK);
    ck_assert_str_eq (status, longest);
    free (longest);
    //  The report every worker sends is the canonical patch of processed
    ck_assert_str_eq (ENP_STATUS_PATCH_PROCESSED, "{\"status\":\"processed\"}");
    ck_assert_int_eq (enp_event_decode_status (ENP_STATUS_PATCH_PROCESSED,
                      strlen (ENP_STATUS_PATCH_PROCESSED), status, NULL, NULL, 0),
                      ENP_OK);
    ck_assert_str_eq (status, ENP_STATUS_PROCESSED);
}
END_TEST

//  Bad status patches: charset, length, type, unknown and missing fields.
START_TEST (test_enp_event_decode_status_invalid)
{
    char *too_long = s_repeat ('z', ENP_STATUS_MAX + 1);
    char long_body [128];
    snprintf (long_body, sizeof long_body, "{\"status\":\"%s\"}", too_long);
    struct {
        const char *body;
        enp_status_t expected;
        size_t errors;
        const char *field;
    } cases [] = {
        { "{\"status\":\"Processed\"}", ENP_EINVAL, 1, "status" },
        { "{\"status\":\"with space\"}", ENP_EINVAL, 1, "status" },
        { "{\"status\":\"caf\xc3\xa9\"}", ENP_EINVAL, 1, "status" },
        { "{\"status\":\"a/b\"}", ENP_EINVAL, 1, "status" },
        { "{\"status\":\"\"}", ENP_EINVAL, 1, "status" },
        { long_body, ENP_EINVAL, 1, "status" },
        { "{\"status\":7}", ENP_EINVAL, 1, "status" },
        { "{\"status\":null}", ENP_EINVAL, 1, "status" },
        { "{}", ENP_EINVAL, 1, "status" },
        { "{\"status\":\"ok\",\"user_id\":\"x\"}", ENP_EINVAL, 1, "user_id" },
        { "{\"state\":\"ok\"}", ENP_EINVAL, 2, "state" },
        { "[\"processed\"]", ENP_EPARSE, 0, NULL },
        { "\"processed\"", ENP_EPARSE, 0, NULL },
        { "{\"status\":", ENP_EPARSE, 0, NULL },
        { "{\"status\":\"\xff\"}", ENP_EPARSE, 0, NULL },
    };
    for (size_t index = 0; index < sizeof cases / sizeof cases [0]; index++) {
        char status [ENP_STATUS_MAX + 1] = "unchanged";
        json_t *errors = json_array ();
        char err [256] = "";
        ck_assert_msg (enp_event_decode_status (cases [index].body,
                                                strlen (cases [index].body),
                                                status, errors, err, sizeof err)
                       == cases [index].expected, "case %zu", index);
        ck_assert_msg (json_array_size (errors) == cases [index].errors,
                       "case %zu: %zu errors", index, json_array_size (errors));
        if (cases [index].field)
            ck_assert (s_has_field (errors, cases [index].field));
        ck_assert_str_eq (status, "unchanged");
        ck_assert_str_ne (err, "");
        json_decref (errors);
    }
    free (too_long);
}
END_TEST

//  The status charset and length rule on its own.
//  The compact form every worker sends is recognised without jansson; the
//  answer must be the one the full parser gives, whatever the bytes.
START_TEST (test_enp_event_decode_status_canonical)
{
    struct { const char *body; size_t size; enp_status_t expect; const char *status; } cases [] = {
        { "{\"status\":\"processed\"}", 0, ENP_OK, "processed" },
        { "{\"status\":\"a\"}", 0, ENP_OK, "a" },
        { "{ \"status\" : \"processed\" }", 0, ENP_OK, "processed" },   //  jansson path
        { "{\"status\":\"Processed\"}", 0, ENP_EINVAL, NULL },
        { "{\"status\":\"\"}", 0, ENP_EINVAL, NULL },
        { "{\"status\":\"a\\\"b\"}", 0, ENP_EINVAL, NULL },          //  an escaped quote
        { "{\"status\":\"ok\"}x", 0, ENP_EPARSE, NULL },
        { "{\"status\":\"ok\"", 0, ENP_EPARSE, NULL },
        { "{\"status\":\"ok\"}", 14, ENP_EPARSE, NULL },               //  size cuts it
        { "{\"status\":\"a\0b\"}", 16, ENP_EPARSE, NULL },            //  NUL inside
        { NULL, 0, ENP_OK, NULL }
    };
    for (int index = 0; cases [index].body; index++) {
        char status [ENP_STATUS_MAX + 1] = "";
        size_t size = cases [index].size? cases [index].size: strlen (cases [index].body);
        enp_status_t rc = enp_event_decode_status (cases [index].body, size, status,
                                                   NULL, NULL, 0);
        ck_assert_msg (rc == cases [index].expect, "case %d: got %d", index, rc);
        if (cases [index].status)
            ck_assert_str_eq (status, cases [index].status);
    }
    //  64 characters pass, 65 do not
    char body [128], status [ENP_STATUS_MAX + 1];
    snprintf (body, sizeof body, "{\"status\":\"%064d\"}", 0);
    ck_assert_int_eq (enp_event_decode_status (body, strlen (body), status, NULL, NULL, 0), ENP_OK);
    ck_assert_uint_eq (strlen (status), 64);
    snprintf (body, sizeof body, "{\"status\":\"%065d\"}", 0);
    ck_assert_int_eq (enp_event_decode_status (body, strlen (body), status, NULL, NULL, 0), ENP_EINVAL);
}
END_TEST

START_TEST (test_enp_event_status_valid)
{
    ck_assert (enp_event_status_valid ("pending"));
    ck_assert (enp_event_status_valid ("a"));
    ck_assert (enp_event_status_valid ("0.9_x-y"));
    char *text = s_repeat ('a', ENP_STATUS_MAX);
    ck_assert (enp_event_status_valid (text));
    free (text);
    text = s_repeat ('a', ENP_STATUS_MAX + 1);
    ck_assert (!enp_event_status_valid (text));
    free (text);
    ck_assert (!enp_event_status_valid (""));
    ck_assert (!enp_event_status_valid ("Pending"));
    ck_assert (!enp_event_status_valid ("a b"));
    ck_assert (!enp_event_status_valid ("a\n"));
    ck_assert (!enp_event_status_valid ("a/b"));
    ck_assert (!enp_event_status_valid ("\xc3\xa9"));
}
END_TEST

//  UUIDs in any case become lowercase; anything else is refused.
START_TEST (test_enp_event_id_canonical)
{
    char canonical [ENP_UUID_LEN + 1] = "";
    ck_assert_int_eq (enp_event_id_canonical (
        "123E4567-E89B-42D3-A456-426614174ABC", canonical), 0);
    ck_assert_str_eq (canonical, "123e4567-e89b-42d3-a456-426614174abc");
    ck_assert_int_eq (enp_event_id_canonical (S_ID, canonical), 0);
    ck_assert_str_eq (canonical, S_ID);

    const char *bad [] = {
        "", "123e4567", "123e4567-e89b-42d3-a456-42661417400",     //  35
        "123e4567-e89b-42d3-a456-4266141740000",                    //  37
        S_ID "x", S_ID " ", " " S_ID,
        "123e4567-e89b-42d3-a456-42661417400g",                     //  junk
        "123e4567xe89bx42d3xa456x426614174000",                     //  dashes
        "123e4567e89b42d3a456426614174000abcd",                     //  no dashes
        "{123e4567-e89b-42d3-a456-4266141740}",
        "zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz",
    };
    for (size_t index = 0; index < sizeof bad / sizeof bad [0]; index++)
        ck_assert_msg (enp_event_id_canonical (bad [index], canonical) == -1,
                       "'%s' was accepted", bad [index]);
    ck_assert_int_eq (enp_event_id_canonical (NULL, canonical), -1);
}
END_TEST

//  Bodies that nest far deeper than any request needs, in the shapes an
//  attacker would use; each is under 16 KiB, the default body limit.
typedef struct {
    const char *open, *close;   //  one level
    const char *prefix;         //  before the first level
    const char *suffix;         //  after the last level
} s_nesting_t;

static const s_nesting_t s_nestings [] = {
    { "[", "]", "", "" },
    { "{\"a\":", "}", "", "" },
    { "[", "]", "{\"user_id\":\"u\",\"description\":\"d\",\"x\":", "}" },
    { "{\"a\":", "}", "{\"status\":\"processed\",\"x\":", "}" },
};

//  Build a body nesting one shape depth levels deep (caller frees).
static char *
s_nesting_body (const s_nesting_t *shape, int depth)
{
    size_t size = strlen (shape->prefix) + strlen (shape->suffix)
                + (size_t) depth * (strlen (shape->open) + strlen (shape->close)) + 2;
    char *body = malloc (size);
    strcpy (body, shape->prefix);
    for (int level = 0; level < depth; level++)
        strcat (body, shape->open);
    strcat (body, "1");
    for (int level = 0; level < depth; level++)
        strcat (body, shape->close);
    strcat (body, shape->suffix);
    return body;
}

//  Decode every attack body both ways; runs on a small stack.
static void
s_decode_nestings (void *arg)
{
    int *refused = (int *) arg;
    for (size_t index = 0; index < sizeof s_nestings / sizeof s_nestings [0]; index++) {
        char *body = s_nesting_body (&s_nestings [index], 2000);
        enp_event_t *event = NULL;
        char status [ENP_STATUS_MAX + 1];
        json_t *errors = json_array ();
        char err [256] = "";
        if (enp_event_decode_create (body, strlen (body), &event, errors, err,
                                     sizeof err) == ENP_EPARSE
        &&  strstr (err, "levels deep"))
            (*refused)++;
        if (enp_event_decode_status (body, strlen (body), status, errors, err,
                                     sizeof err) == ENP_EPARSE
        &&  strstr (err, "levels deep"))
            (*refused)++;
        enp_event_destroy (&event);
        json_decref (errors);
        free (body);
    }
}

//  Deeply nested bodies are malformed (400), decided without recursing:
//  on a stack smaller than a CivetWeb worker's, jansson alone overflowed
//  at ~850 levels and took the logger down with one 1 KB request.
START_TEST (test_enp_event_decode_deep_nesting)
{
    int refused = 0;
    ck_assert_int_eq (testkit_on_small_stack (s_decode_nestings, &refused,
                                              64 * 1024), 0);
    ck_assert_int_eq (refused, 2 * (int) (sizeof s_nestings / sizeof s_nestings [0]));
    //  The API's own documents, a few levels deep, still decode
    ck_assert_int_eq (s_create ("{\"user_id\":\"u\",\"description\":\"d\"}", NULL),
                      ENP_OK);
}
END_TEST

//  A page of events: each written as enp_event_encode writes it, the size
//  exact, and "next" absent, null or the cursor. A page of one event with
//  next "" once came out one byte short of its closing brace.
START_TEST (test_enp_event_encode_list)
{
    enp_event_t *events [2] = {
        enp_event_new ("7d444840-9dc0-41d8-a9c2-2f8e5c2ab6d1", "u", "d", 0),
        enp_event_new ("00000000-0000-4000-8000-000000000001", "bob",
                       "tab\there \"quoted\"", 1763713119123)
    };
    char *single [2];
    for (size_t index = 0; index < 2; index++)
        single [index] = enp_event_encode (events [index], NULL);
    const char *nexts [] = { NULL, "", "00000000-0000-4000-8000-000000000001" };
    for (size_t count = 0; count <= 2; count++)
        for (size_t which = 0; which < 3; which++) {
            size_t size = 0;
            char *page = enp_event_encode_list (events, count, "items",
                                                nexts [which], &size);
            ck_assert_ptr_nonnull (page);
            ck_assert_uint_eq (size, strlen (page));
            char expected [1024];
            snprintf (expected, sizeof expected, "{\"items\":[%s%s%s]%s%s%s%s}",
                      count > 0? single [0]: "", count > 1? ",": "",
                      count > 1? single [1]: "",
                      nexts [which]? ",\"next\":": "",
                      nexts [which] && *nexts [which]? "\"": "",
                      !nexts [which]? "": *nexts [which]? nexts [which]: "null",
                      nexts [which] && *nexts [which]? "\"": "");
            ck_assert_str_eq (page, expected);
            free (page);
        }
    for (size_t index = 0; index < 2; index++) {
        free (single [index]);
        enp_event_destroy (&events [index]);
    }
}
END_TEST

//  Return the "field" of error index of errors.
static const char *
s_field (json_t *errors, size_t index)
{
    return json_string_value (json_object_get (json_array_get (errors, index),
                                               "field"));
}

//  An item of a batch is checked by the single create's rules, its errors
//  named by JSON pointer into the batch; unnamed, as the single create.
START_TEST (test_enp_event_create_from_json_pointer)
{
    json_t *item = json_pack ("{s:i, s:s, s:s}", "user_id", 7,
                              "description", "", "a/b", "x");
    json_t *errors = json_array ();
    enp_event_t *event = NULL;
    ck_assert_int_eq (enp_event_create_from_json (item, "/events/3", &event,
                                                  errors, NULL, 0), ENP_EINVAL);
    ck_assert_ptr_null (event);
    ck_assert_uint_eq (json_array_size (errors), 3);
    ck_assert_str_eq (s_field (errors, 0), "/events/3/user_id");
    ck_assert_str_eq (s_field (errors, 1), "/events/3/description");
    ck_assert_str_eq (s_field (errors, 2), "/events/3/a~1b");
    json_array_clear (errors);
    ck_assert_int_eq (enp_event_create_from_json (item, NULL, &event, errors,
                                                  NULL, 0), ENP_EINVAL);
    ck_assert_str_eq (s_field (errors, 0), "user_id");
    json_decref (item);
    item = json_pack ("{s:s, s:s}", "user_id", "u", "description", "d");
    ck_assert_int_eq (enp_event_create_from_json (item, "/events/0", &event,
                                                  NULL, NULL, 0), ENP_OK);
    ck_assert_str_eq (enp_event_user_id (event), "u");
    ck_assert_str_eq (enp_event_status (event), ENP_STATUS_PENDING);
    enp_event_destroy (&event);
    json_decref (item);
    json_decref (errors);
}
END_TEST

//  A status batch item: a UUID (any case, canonical out) and a status
//  checked as PATCH checks it; nothing else.
START_TEST (test_enp_event_update_from_json)
{
    char event_id [ENP_UUID_LEN + 1] = "", status [ENP_STATUS_MAX + 1] = "";
    json_t *item = json_pack ("{s:s, s:s}", "event_id",
                              "3F2504E0-4F89-41D3-9A0C-0305E82C3301",
                              "status", "processed");
    ck_assert_int_eq (enp_event_update_from_json (item, "/updates/0", event_id,
                      status, NULL, NULL, 0), ENP_OK);
    ck_assert_str_eq (event_id, "3f2504e0-4f89-41d3-9a0c-0305e82c3301");
    ck_assert_str_eq (status, "processed");
    json_decref (item);
    item = json_pack ("{s:s, s:s, s:b}", "event_id", "nope", "status",
                      "Processed", "extra", 1);
    json_t *errors = json_array ();
    char err [128] = "";
    ck_assert_int_eq (enp_event_update_from_json (item, "/updates/9", event_id,
                      status, errors, err, sizeof err), ENP_EINVAL);
    ck_assert_uint_eq (json_array_size (errors), 3);
    ck_assert_str_eq (s_field (errors, 0), "/updates/9/event_id");
    ck_assert_str_eq (s_field (errors, 1), "/updates/9/status");
    ck_assert_str_eq (s_field (errors, 2), "/updates/9/extra");
    ck_assert_str_eq (err, "3 fields failed validation");
    ck_assert_str_eq (status, "processed");     //  Unchanged
    json_decref (item);
    item = json_object ();
    json_array_clear (errors);
    ck_assert_int_eq (enp_event_update_from_json (item, "/updates/1", event_id,
                      status, errors, NULL, 0), ENP_EINVAL);
    ck_assert_uint_eq (json_array_size (errors), 2);
    json_decref (item);
    json_decref (errors);
}
END_TEST

int
main (void)
{
    const TTest *tests [] = {
        test_enp_event_usage,
        test_enp_event_create_fresh_ids,
        test_enp_event_dup_is_deep,
        test_enp_event_to_json_fields,
        test_enp_event_encode_compact,
        test_enp_event_encode_matches_jansson,
        test_enp_event_encoded_max_bound,
        test_enp_event_encoded_size_exact,
        test_enp_event_encode_list,
        test_enp_event_new_id,
        test_enp_event_decode_create_valid,
        test_enp_event_decode_create_uses_size,
        test_enp_event_decode_create_malformed,
        test_enp_event_decode_create_invalid_utf8,
        test_enp_event_decode_valid_json,
        test_enp_event_decode_create_duplicate_keys,
        test_enp_event_decode_create_missing_fields,
        test_enp_event_decode_create_wrong_types,
        test_enp_event_decode_create_all_errors_at_once,
        test_enp_event_decode_create_empty_strings,
        test_enp_event_decode_create_lengths,
        test_enp_event_decode_create_length_in_bytes,
        test_enp_event_decode_create_unknown_fields,
        test_enp_event_decode_status_valid,
        test_enp_event_decode_status_invalid,
        test_enp_event_decode_status_canonical,
        test_enp_event_status_valid,
        test_enp_event_id_canonical,
        test_enp_event_decode_deep_nesting,
        test_enp_event_create_from_json_pointer,
        test_enp_event_update_from_json,
        NULL
    };
    return testkit_run (testkit_suite ("enp_event", 10, tests));
}
