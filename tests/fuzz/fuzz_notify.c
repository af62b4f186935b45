/*  fuzz_notify - libFuzzer harness for the wire path into a processor's print

    What a processor does with a message, minus the sockets: decode it
    with enp_wire_decode_frames, and format the notification line of what
    decodes, as text and as JSON, with worker_line. The input is split
    into frames as fuzz_wire does (fuzz_frames.h).

    For every event that decodes, each line must be exactly one line (one
    newline, at the end), hold no raw C0 control or DEL, no raw C1 control
    (U+0080-U+009F), no raw U+2028/U+2029 and no raw bidirectional
    control; the text line's first ": " must end the user id (the user
    id's own line, formatted with another description, agrees up to
    there); the JSON line must be ASCII and parse back to the same strings.
    Any breach abort()s.
*/
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <czmq.h>
#include <jansson.h>
#include "enp_event.h"
#include "enp_wire.h"
#include "worker_line.h"
#include "fuzz_frames.h"
#define S_PREFIX_LEN (sizeof "Event  has been sent to " - 1 + ENP_UUID_LEN)

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

//  Abort unless a line is one line with no raw control of any kind.
static void
s_check_clean (const char *line, size_t size)
{
    if (size == 0 || strlen (line) != size || line [size - 1] != '\n'
    ||  memchr (line, '\n', size - 1))
        abort ();
    const unsigned char *cursor = (const unsigned char *) line;
    for (size_t index = 0; index + 1 < size; index++) {
        unsigned char c = cursor [index];
        unsigned char next = index + 2 < size? cursor [index + 1]: 0;
        unsigned char third = index + 3 < size? cursor [index + 2]: 0;
        if (c < 0x20 || c == 0x7f)
            abort ();
        if (c == 0xc2 && next >= 0x80 && next <= 0x9f)
            abort ();                               //  C1
        if (c == 0xd8 && next == 0x9c)
            abort ();                               //  U+061C
        if (c == 0xe2 && next == 0x80
        && (third == 0x8e || third == 0x8f || (third >= 0xa8 && third <= 0xae)))
            abort ();                               //  U+200E/F, U+2028-202E
        if (c == 0xe2 && next == 0x81 && third >= 0xa6 && third <= 0xa9)
            abort ();                               //  U+2066-2069
    }
}

//  Format and check an event's lines.
static void
s_check_lines (const enp_event_t *event)
{
    const char *id = enp_event_id (event);
    const char *user_id = enp_event_user_id (event);
    const char *description = enp_event_description (event);
    worker_line_t *text = worker_line_new (WORKER_LINE_TEXT);
    worker_line_t *other = worker_line_new (WORKER_LINE_TEXT);
    worker_line_t *json = worker_line_new (WORKER_LINE_JSON);
    if (!text || !other || !json)
        abort ();
    size_t size = 0, other_size = 0;
    const char *line = worker_line_format (text, id, user_id, description, &size);
    if (!line)
        abort ();
    s_check_clean (line, size);
    const char *separator = strstr (line + S_PREFIX_LEN, ": ");
    const char *mine = worker_line_format (other, id, user_id, "x", &other_size);
    if (!separator || !mine
    ||  strncmp (line, mine, (size_t) (separator - line))
    ||  strcmp (mine + (separator - line), ": x\n"))
        abort ();
    line = worker_line_format (json, id, user_id, description, &size);
    if (!line)
        abort ();
    s_check_clean (line, size);
    for (size_t index = 0; index < size; index++)
        if ((unsigned char) line [index] >= 0x80)
            abort ();
    json_t *object = json_loadb (line, size, 0, NULL);
    if (!object
    ||  strcmp (json_string_value (json_object_get (object, "user_id")), user_id)
    ||  strcmp (json_string_value (json_object_get (object, "description")), description))
        abort ();
    json_decref (object);
    worker_line_destroy (&json);
    worker_line_destroy (&other);
    worker_line_destroy (&text);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    uint8_t *frames [FUZZ_FRAMES_MAX] = { NULL };
    size_t sizes [FUZZ_FRAMES_MAX] = { 0 };
    size_t count = fuzz_frames_split (data, size, frames, sizes);
    enp_event_t *event = NULL;
    if (enp_wire_decode_frames ((const uint8_t *const *) frames, sizes, count,
                                &event, NULL, 0) == ENP_OK)
        s_check_lines (event);
    enp_event_destroy (&event);
    for (size_t index = 0; index < count; index++)
        free (frames [index]);
    return 0;
}
