/*  enp_wire - the ZeroMQ messages that carry events, logger to processor

    ENP2, one multipart message per event:

        frame 0  "ENP2"          version; a new layout gets a new version
        frame 1  event_id        36 bytes, lowercase canonical UUID
        frame 2  user_id         1-256 bytes of UTF-8, no NUL
        frame 3  description     1-4096 bytes of UTF-8, no NUL
        frame 4  attempt         4 bytes, unsigned, network byte order
        frame 5  created_at      8 bytes, signed ms since the epoch, network order
        frame 6  generation      4 bytes, unsigned, network byte order

    ENP1 is the same without frame 6; it decodes as generation 0.

    ENP3, several events in one message of two frames:

        frame 0  "ENP3"
        frame 1  count (2 bytes), then per event: event_id (36 bytes),
                 attempt (4), created_at (8), generation (4), then
                 user_id and description, each as a 2-byte length and
                 its bytes; all numbers unsigned except created_at, in
                 network byte order; at most ENP_WIRE_BATCH_BYTES in all

    ZeroMQ and CURVE cost per frame, so an event costs them 2/n frames in
    ENP3 instead of 7. Each packed event is checked exactly as an ENP2
    message is (it is laid out as one and handed to the same checks).

    Both ends link this class, so the format is written in one place. The
    broker never decodes: it forwards frames untouched. The decoder treats
    its input as hostile (it is fuzzed): it applies the API's own rules to
    every field, so whoever reaches a processor's socket cannot make it
    print what the API would have refused.
*/
#include <string.h>
#include "enp_wire.h"

//  Write value as 4 bytes, network byte order.
static void
s_put_u32 (uint8_t *out, uint32_t value)
{
    for (int index = 0; index < 4; index++)
        out [index] = (uint8_t) (value >> (24 - 8 * index));
}

//  Read width bytes in network byte order.
static uint64_t
s_get (const uint8_t *data, int width)
{
    uint64_t value = 0;
    for (int index = 0; index < width; index++)
        value = (value << 8) | data [index];
    return value;
}

//  Return true when a frame holds exactly this text.
static bool
s_frame_is (const uint8_t *data, size_t size, const char *text)
{
    return size == strlen (text) && memcmp (data, text, size) == 0;
}

//  Write value as 2 bytes, network byte order.
static void
s_put_u16 (uint8_t *out, size_t value)
{
    out [0] = (uint8_t) (value >> 8);
    out [1] = (uint8_t) value;
}

//  Encode an event as a multipart message.
zmsg_t *
enp_wire_encode (const enp_event_t *event, uint32_t attempt)
{
    zmsg_t *msg = zmsg_new ();
    if (!msg)
        return NULL;
    uint8_t attempt_be [4], generation_be [4], created_be [8];
    s_put_u32 (attempt_be, attempt);
    s_put_u32 (generation_be, enp_event_generation (event));
    uint64_t created = (uint64_t) enp_event_created_at (event);
    s_put_u32 (created_be, (uint32_t) (created >> 32));
    s_put_u32 (created_be + 4, (uint32_t) created);
    const char *user_id = enp_event_user_id (event);
    const char *description = enp_event_description (event);
    if (zmsg_addstr (msg, ENP_WIRE_VERSION)
    ||  zmsg_addmem (msg, enp_event_id (event), ENP_UUID_LEN)
    ||  zmsg_addmem (msg, user_id, strlen (user_id))
    ||  zmsg_addmem (msg, description, strlen (description))
    ||  zmsg_addmem (msg, attempt_be, sizeof attempt_be)
    ||  zmsg_addmem (msg, created_be, sizeof created_be)
    ||  zmsg_addmem (msg, generation_be, sizeof generation_be))
        zmsg_destroy (&msg);
    return msg;
}

//  Check the frames' count, version, sizes and numbers. Returns 0 or -1
//  with a reason in err.
static int
s_check_layout (const uint8_t *const *data, const size_t *sizes, size_t count,
                char *err, size_t err_len)
{
    bool v2 = count == ENP_WIRE_FRAMES
           && s_frame_is (data [0], sizes [0], ENP_WIRE_VERSION);
    bool v1 = count == ENP_WIRE_V1_FRAMES
           && s_frame_is (data [0], sizes [0], ENP_WIRE_V1);
    if (!v1 && !v2) {
        enp_status_explain (err, err_len, "not an %s message of %d frames (nor"
                            " %s of %d): %zu frames", ENP_WIRE_VERSION,
                            ENP_WIRE_FRAMES, ENP_WIRE_V1, ENP_WIRE_V1_FRAMES, count);
        return -1;
    }
    if (sizes [4] != 4 || sizes [5] != 8 || (v2 && sizes [6] != 4)) {
        enp_status_explain (err, err_len, "bad attempt, created_at or"
                            " generation frame size");
        return -1;
    }
    uint64_t attempt = s_get (data [4], 4);
    int64_t created = (int64_t) s_get (data [5], 8);
    if (attempt == 0 || attempt > ENP_WIRE_ATTEMPT_MAX
    ||  created < 0 || created > ENP_WIRE_CREATED_MAX) {
        enp_status_explain (err, err_len, "attempt or created_at out of range");
        return -1;
    }
    char id_text [ENP_UUID_LEN + 1] = "";
    char canonical [ENP_UUID_LEN + 1];
    if (sizes [1] == ENP_UUID_LEN)
        memcpy (id_text, data [1], ENP_UUID_LEN);
    if (enp_event_id_canonical (id_text, canonical)
    ||  memcmp (canonical, data [1], ENP_UUID_LEN) != 0) {
        enp_status_explain (err, err_len, "event_id is not a lowercase"
                            " canonical UUID");
        return -1;
    }
    if (!enp_event_text_valid ((const char *) data [2], sizes [2], ENP_USER_ID_MAX)
    ||  !enp_event_text_valid ((const char *) data [3], sizes [3],
                               ENP_DESCRIPTION_MAX)) {
        enp_status_explain (err, err_len, "user_id or description is empty,"
                            " too long, not UTF-8 or holds a NUL byte");
        return -1;
    }
    return 0;
}

//  Decode raw frames into a new event.
enp_status_t
enp_wire_decode_frames (const uint8_t *const *data, const size_t *sizes,
                        size_t count, enp_event_t **event_p,
                        char *err, size_t err_len)
{
    if (s_check_layout (data, sizes, count, err, err_len))
        return ENP_EPARSE;
    //  The strings were checked: only their terminating NULs are missing
    char event_id [ENP_UUID_LEN + 1];
    memcpy (event_id, data [1], ENP_UUID_LEN);
    event_id [ENP_UUID_LEN] = '\0';
    char *user_id = strndup ((const char *) data [2], sizes [2]);
    char *description = strndup ((const char *) data [3], sizes [3]);
    int64_t created = (int64_t) s_get (data [5], 8);
    enp_event_t *event = (user_id && description)
        ? enp_event_new (event_id, user_id, description, created): NULL;
    free (user_id);
    free (description);
    if (!event)
        return ENP_ENOMEM;
    enp_event_set_status (event, ENP_STATUS_QUEUED, created);
    enp_event_set_attempts (event, (uint32_t) s_get (data [4], 4));
    if (count == ENP_WIRE_FRAMES)
        enp_event_set_generation (event, (uint32_t) s_get (data [6], 4));
    *event_p = event;
    return ENP_OK;
}

//  Decode a message into a new event.
enp_status_t
enp_wire_decode (zmsg_t *msg, enp_event_t **event_p, char *err, size_t err_len)
{
    const uint8_t *data [ENP_WIRE_FRAMES_MAX] = { NULL };
    size_t sizes [ENP_WIRE_FRAMES_MAX] = { 0 };
    size_t count = zmsg_size (msg);
    if (count > ENP_WIRE_FRAMES_MAX)
        return enp_wire_decode_frames (data, sizes, count, event_p, err, err_len);
    zframe_t *frame = zmsg_first (msg);
    for (size_t index = 0; frame; index++, frame = zmsg_next (msg)) {
        data [index] = zframe_data (frame);
        sizes [index] = zframe_size (frame);
    }
    return enp_wire_decode_frames (data, sizes, count, event_p, err, err_len);
}

//  Bytes one event takes in an ENP3 message.
static size_t
s_packed_size (const enp_event_t *event)
{
    return ENP_WIRE_BATCH_FIXED + strlen (enp_event_user_id (event))
         + strlen (enp_event_description (event));
}

//  Write one event into an ENP3 message at out; returns the new end.
static uint8_t *
s_pack (uint8_t *out, const enp_event_t *event, uint32_t attempt)
{
    memcpy (out, enp_event_id (event), ENP_UUID_LEN);
    out += ENP_UUID_LEN;
    s_put_u32 (out, attempt);
    uint64_t created = (uint64_t) enp_event_created_at (event);
    s_put_u32 (out + 4, (uint32_t) (created >> 32));
    s_put_u32 (out + 8, (uint32_t) created);
    s_put_u32 (out + 12, enp_event_generation (event));
    out += 16;
    const char *texts [2] = { enp_event_user_id (event),
                              enp_event_description (event) };
    for (int index = 0; index < 2; index++) {
        size_t length = strlen (texts [index]);
        s_put_u16 (out, length);
        memcpy (out + 2, texts [index], length);
        out += 2 + length;
    }
    return out;
}

//  Encode events as one ENP3 message, as many as fit.
zmsg_t *
enp_wire_encode_batch (enp_event_t *const *events, const uint32_t *attempts,
                       size_t count, size_t *packed_p)
{
    size_t packed = 0, bytes = 2;
    while (packed < count && packed < ENP_WIRE_BATCH_MAX) {
        size_t more = s_packed_size (events [packed]);
        if (packed > 0 && bytes + more > ENP_WIRE_BATCH_BYTES)
            break;
        bytes += more;
        packed++;
    }
    if (packed == 0 || bytes > ENP_WIRE_BATCH_BYTES)
        return NULL;            //  Nothing to send, or strings over the API's
    zmsg_t *msg = zmsg_new ();
    zframe_t *frame = zframe_new (NULL, bytes);
    if (!msg || !frame || zmsg_addstr (msg, ENP_WIRE_BATCH_VERSION)) {
        zframe_destroy (&frame);
        zmsg_destroy (&msg);
        return NULL;
    }
    uint8_t *out = zframe_data (frame);
    s_put_u16 (out, packed);
    out += 2;
    for (size_t index = 0; index < packed; index++)
        out = s_pack (out, events [index], attempts [index]);
    zmsg_append (msg, &frame);
    if (packed_p)
        *packed_p = packed;
    return msg;
}

//  Read one packed event at data (left bytes remain) as the seven frames
//  of an ENP2 message: ENP2's checks then apply to it unchanged. Returns
//  the bytes it took, or 0 when it runs past the end.
static size_t
s_unpack (const uint8_t *data, size_t left, const uint8_t **frames,
          size_t *sizes)
{
    if (left < ENP_WIRE_BATCH_FIXED)
        return 0;
    frames [0] = (const uint8_t *) ENP_WIRE_VERSION;
    sizes [0] = 4;
    size_t offset = 0;
    const size_t widths [] = { 0, ENP_UUID_LEN, 0, 0, 4, 8, 4 };
    const int order [] = { 1, 4, 5, 6 };
    for (int index = 0; index < 4; index++) {
        frames [order [index]] = data + offset;
        sizes [order [index]] = widths [order [index]];
        offset += widths [order [index]];
    }
    for (int index = 2; index <= 3; index++) {
        if (left < offset + 2)
            return 0;
        size_t length = (size_t) s_get (data + offset, 2);
        if (left < offset + 2 + length)
            return 0;
        frames [index] = data + offset + 2;
        sizes [index] = length;
        offset += 2 + length;
    }
    return offset;
}

//  Decode the events of an ENP3 message's second frame.
static enp_status_t
s_decode_packed (const uint8_t *data, size_t size, enp_event_t **events,
                 size_t max, size_t *count_p, char *err, size_t err_len)
{
    size_t count = size >= 2? (size_t) s_get (data, 2): 0;
    if (size > ENP_WIRE_BATCH_BYTES || count < 1 || count > ENP_WIRE_BATCH_MAX
    ||  count > max) {
        enp_status_explain (err, err_len, "%s message of %zu bytes holding %zu"
                            " events (1 to %d allowed, in at most %d bytes)",
                            ENP_WIRE_BATCH_VERSION, size, count,
                            ENP_WIRE_BATCH_MAX, ENP_WIRE_BATCH_BYTES);
        return ENP_EPARSE;
    }
    size_t offset = 2, made = 0;
    enp_status_t status = ENP_OK;
    char reason [96] = "";
    while (status == ENP_OK && made < count) {
        const uint8_t *frames [ENP_WIRE_FRAMES];
        size_t sizes [ENP_WIRE_FRAMES];
        size_t taken = s_unpack (data + offset, size - offset, frames, sizes);
        if (taken == 0) {
            snprintf (reason, sizeof reason, "cut short");
            status = ENP_EPARSE;
        }
        else
            status = enp_wire_decode_frames (frames, sizes, ENP_WIRE_FRAMES,
                                             &events [made], reason, sizeof reason);
        if (status == ENP_OK) {
            made++;
            offset += taken;
        }
    }
    if (status == ENP_OK && offset != size) {
        snprintf (reason, sizeof reason, "%zu bytes after the last event",
                  size - offset);
        status = ENP_EPARSE;
    }
    if (status != ENP_OK) {
        enp_status_explain (err, err_len, "%s message, event %zu: %s",
                            ENP_WIRE_BATCH_VERSION, made + 1, reason);
        while (made > 0)
            enp_event_destroy (&events [--made]);
        return status;
    }
    *count_p = count;
    return ENP_OK;
}

//  Decode raw frames of any version into events.
enp_status_t
enp_wire_decode_batch_frames (const uint8_t *const *data, const size_t *sizes,
                              size_t count, enp_event_t **events, size_t max,
                              size_t *count_p, char *err, size_t err_len)
{
    if (count == ENP_WIRE_BATCH_FRAMES
    &&  s_frame_is (data [0], sizes [0], ENP_WIRE_BATCH_VERSION))
        return s_decode_packed (data [1], sizes [1], events, max, count_p,
                                err, err_len);
    if (max < 1) {
        enp_status_explain (err, err_len, "no room for an event");
        return ENP_EPARSE;
    }
    enp_status_t status = enp_wire_decode_frames (data, sizes, count, &events [0],
                                                  err, err_len);
    if (status == ENP_OK)
        *count_p = 1;
    return status;
}

//  Decode a message of any version into events.
enp_status_t
enp_wire_decode_batch (zmsg_t *msg, enp_event_t **events, size_t max,
                       size_t *count_p, char *err, size_t err_len)
{
    const uint8_t *data [ENP_WIRE_FRAMES_MAX] = { NULL };
    size_t sizes [ENP_WIRE_FRAMES_MAX] = { 0 };
    size_t count = zmsg_size (msg);
    if (count <= ENP_WIRE_FRAMES_MAX) {
        zframe_t *frame = zmsg_first (msg);
        for (size_t index = 0; frame; index++, frame = zmsg_next (msg)) {
            data [index] = zframe_data (frame);
            sizes [index] = zframe_size (frame);
        }
    }
    return enp_wire_decode_batch_frames (data, sizes, count, events, max,
                                         count_p, err, err_len);
}
