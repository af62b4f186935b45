/*  enp_event - one event: its fields, JSON encoding and request validation

    The event is the value every part of the pipeline passes around. This
    class owns the rules of what a valid event is, so the logger's handlers,
    the fuzzers and the tests all validate the same way, and every schema
    error of a request is reported at once rather than one per round trip.
*/
#include <stdarg.h>
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <uuid/uuid.h>
#include "enp_event.h"
#include "enp_json.h"
#include "enp_time.h"

#define S_UUID_POOL       4096  //  random bytes fetched at a time per thread
#define S_ESCAPED_MAX     6     //  bytes one string byte becomes at most (\u00XX)
#define S_ENCODED_FIXED   384   //  bytes of an encoding besides the two strings
#define S_ATTEMPTS_DIGITS 16    //  room for a uint32_t in decimal

struct _enp_event_t {
    char event_id [ENP_UUID_LEN + 1];   //  lowercase canonical UUID
    char status [ENP_STATUS_MAX + 1];   //  pending, queued, processed, ...
    char *user_id;                      //  1-256 bytes of UTF-8, owned
    char *description;                  //  1-4096 bytes of UTF-8, owned
    int64_t created_at;                 //  ms since the epoch
    int64_t updated_at;                 //  ms since the epoch
    uint32_t attempts;                  //  deliveries to the broker so far
    uint32_t generation;                //  deliberate re-queues so far
};

//  Append {"field","message"} to errors when the caller wants them. The
//  field is named by the member's name, or within a larger document by
//  its JSON pointer there (pointer, the object's, is not NULL).
static void
s_field_error (json_t *errors, const char *pointer, const char *field,
               const char *message)
{
    if (!errors)
        return;
    char *named = pointer? enp_json_pointer (pointer, field): NULL;
    json_array_append_new (errors, json_pack ("{s:s, s:s}", "field",
                           named? named: field, "message", message));
    free (named);
}

//  Parse body as a JSON object. Jansson rejects invalid UTF-8 and
//  duplicate keys here; any JSON value is read, so a scalar is told it is
//  not an object, and U+0000 is read into strings so that s_check_string
//  can name the field that holds it. enp_json bounds the nesting first, so
//  no body can exhaust the stack.
static json_t *
s_parse_object (const char *body, size_t size, char *err, size_t err_len)
{
    json_t *root = enp_json_load (body, size, JSON_REJECT_DUPLICATES
                                  | JSON_DECODE_ANY | JSON_ALLOW_NUL,
                                  err, err_len);
    if (!root)
        return NULL;
    if (!json_is_object (root)) {
        enp_status_explain (err, err_len, "body must be a JSON object");
        json_decref (root);
        return NULL;
    }
    return root;
}

//  Check one required string field of 1..max bytes; record any error.
//  Returns the string (borrowed from root) or NULL.
static const char *
s_check_string (json_t *root, const char *pointer, const char *field,
                size_t max, json_t *errors)
{
    json_t *value = json_object_get (root, field);
    char message [96];
    if (!value) {
        s_field_error (errors, pointer, field, "is required");
        return NULL;
    }
    if (!json_is_string (value)) {
        s_field_error (errors, pointer, field, "must be a string");
        return NULL;
    }
    size_t length = json_string_length (value);
    if (length == 0) {
        s_field_error (errors, pointer, field, "must not be empty");
        return NULL;
    }
    //  Valid JSON, but a C string would end at it, and so would a line
    if (strlen (json_string_value (value)) != length) {
        s_field_error (errors, pointer, field, "must not contain U+0000 (\\u0000)");
        return NULL;
    }
    if (length > max) {
        snprintf (message, sizeof message, "must be at most %zu bytes", max);
        s_field_error (errors, pointer, field, message);
        return NULL;
    }
    return json_string_value (value);
}

//  Record an error for every member of root not named in allowed.
static void
s_check_unknown (json_t *root, const char *pointer,
                 const char *const *allowed, json_t *errors, int *failures)
{
    const char *key;
    json_t *value;
    json_object_foreach (root, key, value) {
        int known = 0;
        for (const char *const *name = allowed; *name; name++)
            if (strcmp (key, *name) == 0)
                known = 1;
        if (!known) {
            s_field_error (errors, pointer, key, "is not a known field");
            (*failures)++;
        }
    }
}

//  Create a pending event with the given id, strings and creation time.
enp_event_t *
enp_event_new (const char *event_id, const char *user_id,
               const char *description, int64_t created_at)
{
    enp_event_t *self = (enp_event_t *) calloc (1, sizeof (enp_event_t));
    if (!self)
        return NULL;
    //  Bounded copies without snprintf: this runs for every event
    size_t length = strnlen (event_id, ENP_UUID_LEN);
    memcpy (self->event_id, event_id, length);
    self->event_id [length] = '\0';
    memcpy (self->status, ENP_STATUS_PENDING, sizeof ENP_STATUS_PENDING);
    self->user_id = strdup (user_id);
    self->description = strdup (description);
    self->created_at = created_at;
    self->updated_at = created_at;
    if (!self->user_id || !self->description)
        enp_event_destroy (&self);
    return self;
}

//  Write a new random (v4) UUID. libuuid's generator costs ~9,000
//  instructions a call; this takes the same 122 random bits from the
//  kernel's CSPRNG (getrandom), 4 KiB at a time per thread, and still
//  formats with libuuid.
int
enp_event_new_id (char *event_id)
{
    static _Thread_local uint8_t pool [S_UUID_POOL];
    static _Thread_local size_t used = sizeof pool;
    uuid_t uuid;
    if (used + sizeof uuid > sizeof pool) {
        size_t filled = 0;
        while (filled < sizeof pool) {
            ssize_t rc = getrandom (pool + filled, sizeof pool - filled, 0);
            if (rc <= 0)
                return -1;
            filled += (size_t) rc;
        }
        used = 0;
    }
    memcpy (uuid, pool + used, sizeof uuid);
    memset (pool + used, 0, sizeof uuid);   //  Never hand out the same bytes twice
    used += sizeof uuid;
    uuid [6] = (uint8_t) ((uuid [6] & 0x0f) | 0x40);     //  version 4
    uuid [8] = (uint8_t) ((uuid [8] & 0x3f) | 0x80);     //  RFC 4122 variant
    uuid_unparse_lower (uuid, event_id);
    return 0;
}

//  Create a pending event with a new random (v4) UUID, created now.
enp_event_t *
enp_event_create (const char *user_id, const char *description)
{
    char event_id [ENP_UUID_LEN + 1];
    if (enp_event_new_id (event_id))
        return NULL;
    return enp_event_new (event_id, user_id, description, enp_time_now_ms ());
}

//  Destroy the event.
void
enp_event_destroy (enp_event_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    enp_event_t *self = *self_p;
    free (self->description);
    free (self->user_id);
    free (self);
    *self_p = NULL;
}

//  Return a deep copy.
enp_event_t *
enp_event_dup (const enp_event_t *self)
{
    if (!self)
        return NULL;
    enp_event_t *copy = enp_event_new (self->event_id, self->user_id,
                                       self->description, self->created_at);
    if (copy) {
        memcpy (copy->status, self->status, sizeof copy->status);
        copy->updated_at = self->updated_at;
        copy->attempts = self->attempts;
        copy->generation = self->generation;
    }
    return copy;
}

const char *enp_event_id (const enp_event_t *self) { return self->event_id; }
const char *enp_event_user_id (const enp_event_t *self) { return self->user_id; }
const char *enp_event_description (const enp_event_t *self) { return self->description; }
const char *enp_event_status (const enp_event_t *self) { return self->status; }
int64_t enp_event_created_at (const enp_event_t *self) { return self->created_at; }
int64_t enp_event_updated_at (const enp_event_t *self) { return self->updated_at; }
uint32_t enp_event_attempts (const enp_event_t *self) { return self->attempts; }
uint32_t enp_event_generation (const enp_event_t *self) { return self->generation; }

//  Set the status and updated_at.
void
enp_event_set_status (enp_event_t *self, const char *status, int64_t now)
{
    size_t length = strnlen (status, ENP_STATUS_MAX);
    memcpy (self->status, status, length);
    self->status [length] = '\0';
    self->updated_at = now;
}

//  Set the number of deliveries so far.
void
enp_event_set_attempts (enp_event_t *self, uint32_t attempts)
{
    self->attempts = attempts;
}

//  Set the delivery generation.
void
enp_event_set_generation (enp_event_t *self, uint32_t generation)
{
    self->generation = generation;
}

//  Return true when the status is the given one.
int
enp_event_status_is (const enp_event_t *self, const char *status)
{
    return strcmp (self->status, status) == 0;
}

//  Return the event as a new JSON object.
json_t *
enp_event_to_json (const enp_event_t *self)
{
    char created [ENP_TIME_RFC3339_SIZE];
    char updated [ENP_TIME_RFC3339_SIZE];
    return json_pack ("{s:s, s:s, s:s, s:s, s:s, s:s, s:I}",
                      "event_id", self->event_id,
                      "user_id", self->user_id,
                      "description", self->description,
                      "status", self->status,
                      "created_at", enp_time_format (self->created_at, created,
                                                     sizeof created),
                      "updated_at", enp_time_format (self->updated_at, updated,
                                                     sizeof updated),
                      "attempts", (json_int_t) self->attempts);
}

//  Append text as a JSON string (quotes included), escaping what RFC 8259
//  requires: the quote, the backslash and control characters. Input is
//  valid UTF-8 (validated on the way in), which passes through as is.
static char *
s_json_string (char *cursor, const char *text)
{
    static const char hex [] = "0123456789abcdef";
    *cursor++ = '"';
    for (const unsigned char *byte = (const unsigned char *) text; *byte; byte++) {
        unsigned char c = *byte;
        if (c == '"' || c == '\\') {
            *cursor++ = '\\';
            *cursor++ = (char) c;
        }
        else
        if (c < 0x20) {
            *cursor++ = '\\';
            switch (c) {
                case '\n': *cursor++ = 'n'; break;
                case '\r': *cursor++ = 'r'; break;
                case '\t': *cursor++ = 't'; break;
                case '\b': *cursor++ = 'b'; break;
                case '\f': *cursor++ = 'f'; break;
                default:
                    memcpy (cursor, "u00", 3);
                    cursor [3] = hex [c >> 4];
                    cursor [4] = hex [c & 0x0f];
                    cursor += 5;
            }
        }
        else
            *cursor++ = (char) c;
    }
    *cursor++ = '"';
    return cursor;
}

//  Append a literal string.
static char *
s_literal (char *cursor, const char *text)
{
    size_t length = strlen (text);
    memcpy (cursor, text, length);
    return cursor + length;
}

//  Return the most bytes enp_event_encode_into can write.
size_t
enp_event_encoded_max (const enp_event_t *self)
{
    //  Escaping grows a byte to at most 6 (\u00XX); the rest is bounded
    return S_ESCAPED_MAX * (strlen (self->user_id) + strlen (self->description))
         + S_ENCODED_FIXED;
}

//  Return the length of text as a JSON string, quotes included: what
//  s_json_string writes for it.
static size_t
s_json_string_size (const char *text)
{
    size_t size = 2;
    for (const unsigned char *byte = (const unsigned char *) text; *byte; byte++) {
        unsigned char c = *byte;
        if (c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t'
        ||  c == '\b' || c == '\f')
            size += 2;
        else
            size += c < 0x20? 6: 1;
    }
    return size;
}

//  Return the length of a time as enp_time_format writes it.
static size_t
s_time_size (int64_t ms)
{
    //  Years 0000 to 9999 take the fixed form; others are rare enough to
    //  format and measure
    if (ms >= -62167219200000LL && ms <= 253402300799999LL)
        return 24;
    char time [ENP_TIME_RFC3339_SIZE];
    return strlen (enp_time_format (ms, time, sizeof time));
}

//  Return the bytes enp_event_encode_into writes for this event.
size_t
enp_event_encoded_size (const enp_event_t *self)
{
    assert (self);
    size_t digits = 1;
    for (uint32_t attempts = self->attempts; attempts >= 10; attempts /= 10)
        digits++;
    return strlen ("{\"event_id\":\"\",\"user_id\":,\"description\":"
                   ",\"status\":\"\",\"created_at\":\"\",\"updated_at\":\"\""
                   ",\"attempts\":}")
         + strlen (self->event_id) + s_json_string_size (self->user_id)
         + s_json_string_size (self->description) + strlen (self->status)
         + s_time_size (self->created_at) + s_time_size (self->updated_at)
         + digits;
}

//  Write the event as compact JSON, in the field order of the contract.
//  Encoding by hand rather than through json_pack and json_dumps cut the
//  cost of a create request by more than half (see docs/benchmarks.md);
//  test_enp_event checks the output against jansson's own.
size_t
enp_event_encode_into (const enp_event_t *self, char *buf)
{
    char time [ENP_TIME_RFC3339_SIZE];
    char *cursor = s_literal (buf, "{\"event_id\":\"");
    cursor = s_literal (cursor, self->event_id);
    cursor = s_literal (cursor, "\",\"user_id\":");
    cursor = s_json_string (cursor, self->user_id);
    cursor = s_literal (cursor, ",\"description\":");
    cursor = s_json_string (cursor, self->description);
    cursor = s_literal (cursor, ",\"status\":\"");
    cursor = s_literal (cursor, self->status);
    cursor = s_literal (cursor, "\",\"created_at\":\"");
    cursor = s_literal (cursor, enp_time_format (self->created_at, time, sizeof time));
    cursor = s_literal (cursor, "\",\"updated_at\":\"");
    cursor = s_literal (cursor, enp_time_format (self->updated_at, time, sizeof time));
    cursor = s_literal (cursor, "\",\"attempts\":");
    char digits [S_ATTEMPTS_DIGITS];
    int length = 0;
    uint32_t attempts = self->attempts;
    do {
        digits [length++] = (char) ('0' + attempts % 10);
        attempts /= 10;
    } while (attempts);
    while (length)
        *cursor++ = digits [--length];
    *cursor++ = '}';
    return (size_t) (cursor - buf);
}

//  Return the event as compact JSON text.
char *
enp_event_encode (const enp_event_t *self, size_t *size_p)
{
    char *text = (char *) malloc (enp_event_encoded_max (self) + 1);
    if (!text)
        return NULL;
    size_t size = enp_event_encode_into (self, text);
    text [size] = '\0';
    if (size_p)
        *size_p = size;
    return text;
}

//  Return {"<member>":[...]} (and "next") as compact JSON text.
char *
enp_event_encode_list (enp_event_t *const *events, size_t count,
                       const char *member, const char *next, size_t *size_p)
{
    assert (member);
    //  Counted first, so a page is one allocation of its own size: the
    //  frame at its longest ("next":null is longer than "next":"" by two)
    size_t capacity = strlen (member) + sizeof "{\"\":[],\"next\":null}"
                    + (next? strlen (next) + 2: 0);
    for (size_t index = 0; index < count; index++)
        capacity += enp_event_encoded_size (events [index]) + 1;
    char *text = (char *) malloc (capacity);
    if (!text)
        return NULL;
    size_t size = (size_t) snprintf (text, capacity, "{\"%s\":[", member);
    for (size_t index = 0; index < count; index++) {
        if (index)
            text [size++] = ',';
        size += enp_event_encode_into (events [index], text + size);
    }
    if (next)
        size += (size_t) snprintf (text + size, capacity - size, "],\"next\":%s%s%s}",
                                   *next? "\"": "", *next? next: "null",
                                   *next? "\"": "");
    else
        size += (size_t) snprintf (text + size, capacity - size, "]}");
    assert (size < capacity);
    if (size_p)
        *size_p = size;
    return text;
}

//  Validate a parsed create request.
enp_status_t
enp_event_create_from_json (json_t *object, const char *pointer,
                            enp_event_t **event_p, json_t *errors,
                            char *err, size_t err_len)
{
    assert (json_is_object (object));
    static const char *const allowed [] = { "user_id", "description", NULL };
    int failures = 0;
    const char *user_id = s_check_string (object, pointer, "user_id",
                                          ENP_USER_ID_MAX, errors);
    const char *description = s_check_string (object, pointer, "description",
                                              ENP_DESCRIPTION_MAX, errors);
    failures += !user_id + !description;
    s_check_unknown (object, pointer, allowed, errors, &failures);
    if (failures) {
        enp_status_explain (err, err_len, "%d field%s failed validation",
                            failures, failures == 1? "": "s");
        return ENP_EINVAL;
    }
    *event_p = enp_event_create (user_id, description);
    return *event_p? ENP_OK: ENP_ENOMEM;
}

//  Decode and validate a create request body.
enp_status_t
enp_event_decode_create (const char *body, size_t size, enp_event_t **event_p,
                         json_t *errors, char *err, size_t err_len)
{
    json_t *root = s_parse_object (body, size, err, err_len);
    if (!root)
        return ENP_EPARSE;
    enp_status_t status = enp_event_create_from_json (root, NULL, event_p,
                                                      errors, err, err_len);
    json_decref (root);
    return status;
}

//  Recognise the compact canonical form {"status":"<1-64 of [a-z0-9_.-]>"}
//  byte for byte, as every worker sends it; anything else, whitespace
//  included, goes to jansson. Returns 1 with status filled, or 0.
static int
s_canonical_status (const char *body, size_t size, char *status)
{
    static const char prefix [] = ENP_STATUS_PATCH_PREFIX;
    static const char suffix [] = ENP_STATUS_PATCH_SUFFIX;
    size_t prefix_size = sizeof prefix - 1;
    size_t suffix_size = sizeof suffix - 1;
    if (!body || size < prefix_size + 1 + suffix_size
    ||  size > prefix_size + ENP_STATUS_MAX + suffix_size
    ||  memcmp (body, prefix, prefix_size) != 0
    ||  memcmp (body + size - suffix_size, suffix, suffix_size) != 0)
        return 0;
    size_t length = size - prefix_size - suffix_size;
    char value [ENP_STATUS_MAX + 1];
    memcpy (value, body + prefix_size, length);
    value [length] = '\0';
    if (strlen (value) != length || !enp_event_status_valid (value))
        return 0;
    memcpy (status, value, length + 1);
    return 1;
}

//  Check the status member of a patch. Returns it (borrowed from object)
//  when valid, else NULL with a failure counted.
static const char *
s_check_status (json_t *object, const char *pointer, json_t *errors,
                int *failures)
{
    const char *value = s_check_string (object, pointer, "status",
                                        ENP_STATUS_MAX, errors);
    if (value && !enp_event_status_valid (value)) {
        s_field_error (errors, pointer, "status",
                       "must use only a-z, 0-9, '_', '.' and '-'");
        value = NULL;
    }
    *failures += !value;
    return value;
}

//  Copy a checked status (at most ENP_STATUS_MAX bytes) into status.
static void
s_copy_status (char *status, const char *value)
{
    memcpy (status, value, strlen (value) + 1);
}

//  Return ENP_EINVAL with a summary in err when fields failed, else ENP_OK.
static enp_status_t
s_failures (int failures, char *err, size_t err_len)
{
    if (failures == 0)
        return ENP_OK;
    enp_status_explain (err, err_len, "%d field%s failed validation", failures,
                        failures == 1? "": "s");
    return ENP_EINVAL;
}

//  Decode and validate a status patch.
enp_status_t
enp_event_decode_status (const char *body, size_t size, char *status,
                         json_t *errors, char *err, size_t err_len)
{
    //  The hot path: each event's report is {"status":"processed"}, and
    //  jansson's parser was half the cost of answering it
    if (s_canonical_status (body, size, status))
        return ENP_OK;
    json_t *root = s_parse_object (body, size, err, err_len);
    if (!root)
        return ENP_EPARSE;
    static const char *const allowed [] = { "status", NULL };
    int failures = 0;
    const char *value = s_check_status (root, NULL, errors, &failures);
    s_check_unknown (root, NULL, allowed, errors, &failures);
    if (!failures)
        s_copy_status (status, value);
    json_decref (root);
    return s_failures (failures, err, err_len);
}

//  Validate one parsed item of a status batch.
enp_status_t
enp_event_update_from_json (json_t *object, const char *pointer,
                            char *event_id, char *status, json_t *errors,
                            char *err, size_t err_len)
{
    assert (json_is_object (object));
    static const char *const allowed [] = { "event_id", "status", NULL };
    int failures = 0;
    const char *text = s_check_string (object, pointer, "event_id", SIZE_MAX,
                                       errors);
    if (!text)
        failures++;
    else
    if (enp_event_id_canonical (text, event_id)) {
        s_field_error (errors, pointer, "event_id", "must be a UUID");
        failures++;
    }
    const char *value = s_check_status (object, pointer, errors, &failures);
    s_check_unknown (object, pointer, allowed, errors, &failures);
    if (!failures)
        s_copy_status (status, value);
    return s_failures (failures, err, err_len);
}

//  Return 1 if text is 1-64 bytes of [a-z0-9_.-].
int
enp_event_status_valid (const char *text)
{
    size_t length = 0;
    for (const char *cursor = text; *cursor; cursor++, length++) {
        char c = *cursor;
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
            || c == '_' || c == '.' || c == '-'))
            return 0;
    }
    return length >= 1 && length <= ENP_STATUS_MAX;
}

//  Check a string field the way a request's is checked. Jansson's own
//  UTF-8 check (the one its parser applies to request bodies) decides, so
//  overlong forms, surrogates and code points past U+10FFFF fail alike.
int
enp_event_text_valid (const char *data, size_t size, size_t max)
{
    if (!data || size == 0 || size > max || memchr (data, '\0', size))
        return 0;
    json_t *string = json_stringn (data, size);
    json_decref (string);
    return string != NULL;
}

//  Parse a UUID in any case into its lowercase canonical form.
int
enp_event_id_canonical (const char *text, char *canonical)
{
    uuid_t uuid;
    //  uuid_parse reads exactly 36 characters; insist nothing follows
    if (!text || strlen (text) != ENP_UUID_LEN || uuid_parse (text, uuid))
        return -1;
    uuid_unparse_lower (uuid, canonical);
    return 0;
}
