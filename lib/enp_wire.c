/*  enp_wire - the ZeroMQ message that carries one event, logger to processor

    One multipart message per event:

        frame 0  "ENP1"          version; a new layout gets a new version
        frame 1  event_id        36 bytes, lowercase canonical UUID
        frame 2  user_id         1-256 bytes
        frame 3  description     1-4096 bytes
        frame 4  attempt         4 bytes, unsigned, network byte order
        frame 5  created_at      8 bytes, signed ms since the epoch, network order

    Both ends link this class, so the format is written in one place. The
    broker never decodes: it forwards frames untouched. The decoder treats
    its input as hostile (it is fuzzed): every length is checked and no
    frame may hold a NUL byte, since the strings become C strings.
*/
#include <stdarg.h>
#include <string.h>
#include "enp_wire.h"

//  Copy a frame into a new C string when it is 1..max bytes without NUL.
static char *
s_string (const uint8_t *data, size_t size, size_t max)
{
    if (size == 0 || size > max || memchr (data, '\0', size))
        return NULL;
    char *text = (char *) malloc (size + 1);
    if (text) {
        memcpy (text, data, size);
        text [size] = '\0';
    }
    return text;
}

//  Encode an event as a multipart message.
zmsg_t *
enp_wire_encode (const enp_event_t *event, uint32_t attempt)
{
    zmsg_t *msg = zmsg_new ();
    if (!msg)
        return NULL;
    uint8_t attempt_be [4] = {
        (uint8_t) (attempt >> 24), (uint8_t) (attempt >> 16),
        (uint8_t) (attempt >> 8), (uint8_t) attempt
    };
    uint64_t created = (uint64_t) enp_event_created_at (event);
    uint8_t created_be [8];
    for (int index = 0; index < 8; index++)
        created_be [index] = (uint8_t) (created >> (56 - 8 * index));
    const char *user_id = enp_event_user_id (event);
    const char *description = enp_event_description (event);
    if (zmsg_addstr (msg, ENP_WIRE_VERSION)
    ||  zmsg_addmem (msg, enp_event_id (event), ENP_UUID_LEN)
    ||  zmsg_addmem (msg, user_id, strlen (user_id))
    ||  zmsg_addmem (msg, description, strlen (description))
    ||  zmsg_addmem (msg, attempt_be, sizeof attempt_be)
    ||  zmsg_addmem (msg, created_be, sizeof created_be))
        zmsg_destroy (&msg);
    return msg;
}

//  Decode raw frames into a new event.
enp_status_t
enp_wire_decode_frames (const uint8_t *const *data, const size_t *sizes,
                        size_t count, enp_event_t **event_p,
                        char *err, size_t err_len)
{
    if (count != ENP_WIRE_FRAMES) {
        enp_status_explain (err, err_len, "expected %d frames, got %zu",
                 ENP_WIRE_FRAMES, count);
        return ENP_EPARSE;
    }
    if (sizes [0] != strlen (ENP_WIRE_VERSION)
    ||  memcmp (data [0], ENP_WIRE_VERSION, sizes [0]) != 0) {
        enp_status_explain (err, err_len, "unknown message version");
        return ENP_EPARSE;
    }
    if (sizes [4] != 4 || sizes [5] != 8) {
        enp_status_explain (err, err_len, "bad attempt or created_at frame size");
        return ENP_EPARSE;
    }
    char id_text [ENP_UUID_LEN + 1] = "";
    char event_id [ENP_UUID_LEN + 1];
    if (sizes [1] == ENP_UUID_LEN)
        memcpy (id_text, data [1], ENP_UUID_LEN);
    if (enp_event_id_canonical (id_text, event_id)) {
        enp_status_explain (err, err_len, "event_id is not a UUID");
        return ENP_EPARSE;
    }
    char *user_id = s_string (data [2], sizes [2], ENP_USER_ID_MAX);
    char *description = s_string (data [3], sizes [3], ENP_DESCRIPTION_MAX);
    enp_status_t status = ENP_OK;
    if (!user_id || !description) {
        enp_status_explain (err, err_len, "user_id or description is empty, too long"
                 " or holds a NUL byte");
        status = ENP_EPARSE;
    }
    else {
        uint32_t attempt = ((uint32_t) data [4][0] << 24)
                         | ((uint32_t) data [4][1] << 16)
                         | ((uint32_t) data [4][2] << 8) | data [4][3];
        uint64_t created = 0;
        for (int index = 0; index < 8; index++)
            created = (created << 8) | data [5][index];
        *event_p = enp_event_new (event_id, user_id, description,
                                  (int64_t) created);
        if (*event_p) {
            enp_event_set_status (*event_p, ENP_STATUS_QUEUED, (int64_t) created);
            enp_event_set_attempts (*event_p, attempt);
        }
        else
            status = ENP_ENOMEM;
    }
    free (user_id);
    free (description);
    return status;
}

//  Decode a message into a new event.
enp_status_t
enp_wire_decode (zmsg_t *msg, enp_event_t **event_p, char *err, size_t err_len)
{
    const uint8_t *data [ENP_WIRE_FRAMES] = { NULL };
    size_t sizes [ENP_WIRE_FRAMES] = { 0 };
    size_t count = zmsg_size (msg);
    if (count != ENP_WIRE_FRAMES)
        return enp_wire_decode_frames (data, sizes, count, event_p, err, err_len);
    zframe_t *frame = zmsg_first (msg);
    for (size_t index = 0; frame; index++, frame = zmsg_next (msg)) {
        data [index] = zframe_data (frame);
        sizes [index] = zframe_size (frame);
    }
    return enp_wire_decode_frames (data, sizes, count, event_p, err, err_len);
}
