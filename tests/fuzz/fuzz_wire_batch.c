/*  fuzz_wire_batch - libFuzzer harness for enp_wire_decode_batch_frames

    The processor decodes every message through this call: ENP1, ENP2 and
    ENP3 (several events in two frames). The input is split into frames as
    fuzz_frames.h says. When the frames decode, every event must pass the
    API's rules; an ENP3 message encoded again from its events must give
    frame 1 byte for byte, and decode to the same events; when they do not
    decode, no event may be left behind. Any difference abort()s.
*/
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <czmq.h>
#include "enp_event.h"
#include "enp_wire.h"
#include "fuzz_frames.h"

#define S_ERR_LEN    160

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

//  Abort unless the event keeps the API's rules and the wire's ranges.
static void
s_check_event (const enp_event_t *event)
{
    const char *event_id = enp_event_id (event);
    char canonical [ENP_UUID_LEN + 1];
    const char *user_id = enp_event_user_id (event);
    const char *description = enp_event_description (event);
    if (strlen (event_id) != ENP_UUID_LEN
    ||  enp_event_id_canonical (event_id, canonical) || strcmp (event_id, canonical)
    ||  !enp_event_text_valid (user_id, strlen (user_id), ENP_USER_ID_MAX)
    ||  !enp_event_text_valid (description, strlen (description), ENP_DESCRIPTION_MAX)
    ||  enp_event_attempts (event) < 1
    ||  enp_event_attempts (event) > ENP_WIRE_ATTEMPT_MAX
    ||  enp_event_created_at (event) < 0
    ||  enp_event_created_at (event) > ENP_WIRE_CREATED_MAX
    ||  strcmp (enp_event_status (event), ENP_STATUS_QUEUED))
        abort ();
}

//  Abort unless a and b are the same event as the wire carries it.
static void
s_check_same (const enp_event_t *a, const enp_event_t *b)
{
    if (strcmp (enp_event_id (a), enp_event_id (b))
    ||  strcmp (enp_event_user_id (a), enp_event_user_id (b))
    ||  strcmp (enp_event_description (a), enp_event_description (b))
    ||  enp_event_created_at (a) != enp_event_created_at (b)
    ||  enp_event_attempts (a) != enp_event_attempts (b)
    ||  enp_event_generation (a) != enp_event_generation (b))
        abort ();
}

//  Encode the events again as ENP3; frame 1 must be the input's, and it
//  must decode to the same events.
static void
s_check_round_trip (enp_event_t **events, size_t count, const uint8_t *frame,
                    size_t size)
{
    uint32_t attempts [ENP_WIRE_BATCH_MAX];
    for (size_t index = 0; index < count; index++)
        attempts [index] = enp_event_attempts (events [index]);
    size_t packed = 0;
    zmsg_t *msg = enp_wire_encode_batch (events, attempts, count, &packed);
    if (!msg || packed != count || zmsg_size (msg) != ENP_WIRE_BATCH_FRAMES)
        abort ();
    zframe_t *body = zmsg_last (msg);
    if (zframe_size (body) != size || memcmp (zframe_data (body), frame, size))
        abort ();
    enp_event_t *again [ENP_WIRE_BATCH_MAX];
    size_t again_count = 0;
    if (enp_wire_decode_batch (msg, again, ENP_WIRE_BATCH_MAX, &again_count,
                               NULL, 0) != ENP_OK || again_count != count)
        abort ();
    for (size_t index = 0; index < count; index++) {
        s_check_same (events [index], again [index]);
        enp_event_destroy (&again [index]);
    }
    zmsg_destroy (&msg);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    uint8_t *frames [FUZZ_FRAMES_MAX] = { NULL };
    size_t sizes [FUZZ_FRAMES_MAX] = { 0 };
    size_t count = fuzz_frames_split (data, size, frames, sizes);
    enp_event_t *events [ENP_WIRE_BATCH_MAX] = { NULL };
    size_t decoded = 0;
    char *err = (char *) malloc (S_ERR_LEN);
    if (!err)
        abort ();
    err [0] = '\0';
    enp_status_t status = enp_wire_decode_batch_frames (
        (const uint8_t *const *) frames, sizes, count, events,
        ENP_WIRE_BATCH_MAX, &decoded, err, S_ERR_LEN);
    if (memchr (err, '\0', S_ERR_LEN) == NULL)
        abort ();
    if (status == ENP_OK) {
        bool batch = count == ENP_WIRE_BATCH_FRAMES && sizes [0] == 4
                  && memcmp (frames [0], ENP_WIRE_BATCH_VERSION, 4) == 0;
        if (decoded < 1 || decoded > ENP_WIRE_BATCH_MAX || (!batch && decoded != 1))
            abort ();
        for (size_t index = 0; index < decoded; index++)
            s_check_event (events [index]);
        if (batch)
            s_check_round_trip (events, decoded, frames [1], sizes [1]);
    }
    else {
        if (status != ENP_EPARSE && status != ENP_ENOMEM)
            abort ();
        if (status == ENP_EPARSE && err [0] == '\0')
            abort ();
        decoded = 0;
    }
    for (size_t index = 0; index < ENP_WIRE_BATCH_MAX; index++) {
        if (index >= decoded && events [index])
            abort ();               //  left behind by a refused message
        enp_event_destroy (&events [index]);
    }
    free (err);
    for (size_t index = 0; index < count; index++)
        free (frames [index]);
    return 0;
}
