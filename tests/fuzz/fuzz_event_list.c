/*  fuzz_event_list - libFuzzer harness for enp_event_encode_list

    The listing (GET /events) and the bulk create write their pages with
    enp_event_encode_list, which sizes the page by counting every escape
    first and then writes into exactly that much memory: a count that is
    one byte short is a heap overflow. The input is split into frames as
    fuzz_frames.h says: frame 0 picks the "next" member (its first byte: 0
    none, 1 null, else a cursor), then each three frames are one event's
    user_id, description and status (a field the API would refuse is
    replaced, so the rest of the input still counts). The page must be
    valid JSON holding exactly those events and that cursor, and its size
    must be what was written. Any difference abort()s.
*/
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "enp_event.h"
#include "fuzz_frames.h"
#include "fuzz_stack.h"

#define S_EVENTS_MAX  (FUZZ_FRAMES_MAX / 3)
#define S_CURSOR      "7d444840-9dc0-41d8-a9c2-2f8e5c2ab6d1"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

//  Return frame as a new C string when the API would take it for a field
//  of at most max bytes, else a copy of fallback.
static char *
s_field (const uint8_t *frame, size_t size, size_t max, const char *fallback)
{
    int valid = enp_event_text_valid ((const char *) frame, size, max);
    char *text = strndup (valid? (const char *) frame: fallback,
                          valid? size: strlen (fallback));
    if (!text)
        abort ();
    return text;
}

//  Abort unless item is the event, field by field.
static void
s_check_item (json_t *item, const enp_event_t *event)
{
    static const char *const fields [] = { "event_id", "user_id", "description",
                                           "status" };
    const char *values [] = { enp_event_id (event), enp_event_user_id (event),
                              enp_event_description (event), enp_event_status (event) };
    for (size_t index = 0; index < 4; index++) {
        const char *text = json_string_value (json_object_get (item, fields [index]));
        if (!text || strcmp (text, values [index]) != 0)
            abort ();
    }
    if (json_integer_value (json_object_get (item, "attempts"))
        != (json_int_t) enp_event_attempts (event))
        abort ();
}

//  Encode the input's events as a page and check it; runs on a server-sized
//  stack.
static void
s_check_input (const uint8_t *data, size_t size)
{
    uint8_t *frames [FUZZ_FRAMES_MAX];
    size_t sizes [FUZZ_FRAMES_MAX];
    size_t count = fuzz_frames_split (data, size, frames, sizes);
    const char *next = NULL;
    if (count > 0 && sizes [0] > 0)
        next = frames [0][0] == 0? NULL: frames [0][0] == 1? "": S_CURSOR;
    enp_event_t *events [S_EVENTS_MAX];
    size_t used = 0;
    for (size_t first = 1; first + 2 < count && used < S_EVENTS_MAX; first += 3) {
        char *user_id = s_field (frames [first], sizes [first], ENP_USER_ID_MAX, "u");
        char *description = s_field (frames [first + 1], sizes [first + 1],
                                     ENP_DESCRIPTION_MAX, "d");
        char *status = strndup ((const char *) frames [first + 2], sizes [first + 2]);
        char event_id [ENP_UUID_LEN + 1];
        if (!status || enp_event_new_id (event_id))
            abort ();
        enp_event_t *event = enp_event_new (event_id, user_id, description,
                                            (int64_t) used * 1000);
        if (!event)
            abort ();
        if (enp_event_status_valid (status))
            enp_event_set_status (event, status, 0);
        enp_event_set_attempts (event, (uint32_t) sizes [first + 2]);
        events [used++] = event;
        free (user_id);
        free (description);
        free (status);
    }
    size_t page_size = 0;
    char *page = enp_event_encode_list (events, used, "items", next, &page_size);
    if (!page || page_size != strlen (page))
        abort ();
    json_t *root = json_loadb (page, page_size, JSON_REJECT_DUPLICATES, NULL);
    json_t *items = json_object_get (root, "items");
    json_t *cursor = json_object_get (root, "next");
    if (!json_is_array (items) || json_array_size (items) != used
    ||  json_object_size (root) != (next? 2u: 1u)
    ||  (next && !*next && !json_is_null (cursor))
    ||  (next && *next && (!json_is_string (cursor)
                       || strcmp (json_string_value (cursor), next) != 0)))
        abort ();
    for (size_t index = 0; index < used; index++) {
        s_check_item (json_array_get (items, index), events [index]);
        enp_event_destroy (&events [index]);
    }
    json_decref (root);
    free (page);
    for (size_t index = 0; index < count; index++)
        free (frames [index]);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    fuzz_on_server_stack (s_check_input, data, size);
    return 0;
}
