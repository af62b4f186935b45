/*  fuzz_wire - libFuzzer harness for enp_wire_decode_frames

    The processor decodes whatever arrives on its PULL socket, so the
    decoder must survive any frames. The input is split into frames as
    fuzz_frames.h says (7 is the valid count, 6 for ENP1). When the frames decode, the event must hold
    exactly what they said, and encoding it with enp_wire_encode and
    decoding that with enp_wire_decode must give the same frames and the
    same event; any difference abort()s.
*/
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <czmq.h>
#include "enp_event.h"
#include "enp_wire.h"
#include "fuzz_frames.h"

#define S_ERR_LEN    128

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

//  Return the big-endian unsigned integer in the first width bytes of data.
static uint64_t
s_big_endian (const uint8_t *data, size_t width)
{
    uint64_t value = 0;
    for (size_t index = 0; index < width; index++)
        value = (value << 8) | data [index];
    return value;
}

//  Abort unless a and b are the same event, field by field.
static void
s_check_same (const enp_event_t *a, const enp_event_t *b)
{
    if (strcmp (enp_event_id (a), enp_event_id (b))
    ||  strcmp (enp_event_user_id (a), enp_event_user_id (b))
    ||  strcmp (enp_event_description (a), enp_event_description (b))
    ||  strcmp (enp_event_status (a), enp_event_status (b))
    ||  enp_event_created_at (a) != enp_event_created_at (b)
    ||  enp_event_updated_at (a) != enp_event_updated_at (b)
    ||  enp_event_attempts (a) != enp_event_attempts (b)
    ||  enp_event_generation (a) != enp_event_generation (b))
        abort ();
}

//  Abort unless the text equals the frame byte for byte.
static void
s_check_text (const char *text, const uint8_t *frame, size_t size)
{
    if (strlen (text) != size || memcmp (text, frame, size) != 0)
        abort ();
}

//  Abort unless the decoded event holds what the frames said.
static void
s_check_event (const enp_event_t *event, uint8_t **frames, size_t *sizes)
{
    //  Only a lowercase canonical id is accepted, byte for byte
    const char *event_id = enp_event_id (event);
    char canonical [ENP_UUID_LEN + 1];
    if (sizes [1] != ENP_UUID_LEN || strlen (event_id) != ENP_UUID_LEN
    ||  memcmp (event_id, frames [1], ENP_UUID_LEN)
    ||  enp_event_id_canonical (event_id, canonical)
    ||  strcmp (event_id, canonical))
        abort ();
    //  The API's string rules: UTF-8 as jansson checks it
    if (!enp_event_text_valid ((const char *) frames [2], sizes [2], ENP_USER_ID_MAX)
    ||  !enp_event_text_valid ((const char *) frames [3], sizes [3], ENP_DESCRIPTION_MAX))
        abort ();
    s_check_text (enp_event_user_id (event), frames [2], sizes [2]);
    s_check_text (enp_event_description (event), frames [3], sizes [3]);
    if (sizes [2] < 1 || sizes [2] > ENP_USER_ID_MAX
    ||  sizes [3] < 1 || sizes [3] > ENP_DESCRIPTION_MAX)
        abort ();
    int64_t created = (int64_t) s_big_endian (frames [5], 8);
    uint32_t attempt = (uint32_t) s_big_endian (frames [4], 4);
    uint32_t generation = sizes [0] == 4 && !memcmp (frames [0], "ENP2", 4)
                        ? (uint32_t) s_big_endian (frames [6], 4): 0;
    if (strcmp (enp_event_status (event), ENP_STATUS_QUEUED)
    ||  enp_event_attempts (event) != attempt
    ||  attempt < 1 || attempt > ENP_WIRE_ATTEMPT_MAX
    ||  created < 0 || created > ENP_WIRE_CREATED_MAX
    ||  enp_event_generation (event) != generation
    ||  enp_event_created_at (event) != created
    ||  enp_event_updated_at (event) != created)
        abort ();
}

//  Encode the event, check the frames against the input's, decode again.
//  An ENP1 input comes back as ENP2 with generation 0.
static void
s_check_round_trip (const enp_event_t *event, uint8_t **frames, size_t *sizes,
                    size_t count)
{
    zmsg_t *msg = enp_wire_encode (event, enp_event_attempts (event));
    if (!msg || zmsg_size (msg) != ENP_WIRE_FRAMES)
        abort ();
    size_t index = 0;
    for (zframe_t *frame = zmsg_first (msg); frame; frame = zmsg_next (msg)) {
        if (index == 0 || index >= count) {
            if (zframe_size (frame) != 4
            ||  memcmp (zframe_data (frame), index? "\0\0\0\0": ENP_WIRE_VERSION, 4))
                abort ();
        }
        else
        if (zframe_size (frame) != sizes [index]
        ||  memcmp (zframe_data (frame), frames [index], sizes [index]))
            abort ();
        index++;
    }
    enp_event_t *copy = NULL;
    char err [S_ERR_LEN];
    if (enp_wire_decode (msg, &copy, err, sizeof err) != ENP_OK || !copy)
        abort ();
    s_check_same (event, copy);
    enp_event_destroy (&copy);
    zmsg_destroy (&msg);

    copy = enp_event_dup (event);
    if (!copy)
        abort ();
    s_check_same (event, copy);
    enp_event_destroy (&copy);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    uint8_t *frames [FUZZ_FRAMES_MAX] = { NULL };
    size_t sizes [FUZZ_FRAMES_MAX] = { 0 };
    size_t count = fuzz_frames_split (data, size, frames, sizes);
    enp_event_t *event = NULL;
    char *err = (char *) malloc (S_ERR_LEN);
    if (!err)
        abort ();
    err [0] = '\0';
    enp_status_t status = enp_wire_decode_frames (
        (const uint8_t *const *) frames, sizes, count, &event, err, S_ERR_LEN);
    if (memchr (err, '\0', S_ERR_LEN) == NULL)
        abort ();
    if (status == ENP_OK) {
        if (!event)
            abort ();
        s_check_event (event, frames, sizes);
        s_check_round_trip (event, frames, sizes, count);
    }
    else
    if (status == ENP_EPARSE) {
        if (event || err [0] == '\0')
            abort ();
    }
    else
    if (status != ENP_ENOMEM || event)
        abort ();

    enp_event_destroy (&event);
    free (err);
    for (size_t index = 0; index < count; index++)
        free (frames [index]);
    return 0;
}
