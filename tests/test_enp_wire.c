/*  test_enp_wire - the multipart messages that carry events
*/
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <czmq.h>
#include "enp_wire.h"
#include "testkit.h"

#define S_ID "123e4567-e89b-42d3-a456-426614174000"

//  The seven frames of a valid message, which cases then break one at a time.
typedef struct {
    const uint8_t *data [9];
    size_t sizes [9];
    uint8_t attempt [4];
    uint8_t created [8];
    uint8_t generation [4];
} s_frames_t;

static void
s_frames_init (s_frames_t *frames)
{
    static const uint8_t attempt [4] = { 0, 0, 0, 3 };
    static const uint8_t created [8] = { 0, 0, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x7b };
    static const uint8_t generation [4] = { 0, 0, 0x01, 0x02 };
    memset (frames, 0, sizeof *frames);
    memcpy (frames->attempt, attempt, 4);
    memcpy (frames->created, created, 8);
    memcpy (frames->generation, generation, 4);
    frames->data [0] = (const uint8_t *) "ENP2";
    frames->sizes [0] = 4;
    frames->data [1] = (const uint8_t *) S_ID;
    frames->sizes [1] = ENP_UUID_LEN;
    frames->data [2] = (const uint8_t *) "alice";
    frames->sizes [2] = 5;
    frames->data [3] = (const uint8_t *) "hello";
    frames->sizes [3] = 5;
    frames->data [4] = frames->attempt;
    frames->sizes [4] = 4;
    frames->data [5] = frames->created;
    frames->sizes [5] = 8;
    frames->data [6] = frames->generation;
    frames->sizes [6] = 4;
}

//  Decode frames and expect a parse error with a reason and no event.
static void
s_expect_parse_error (s_frames_t *frames, size_t count, const char *what)
{
    enp_event_t *event = NULL;
    char err [256] = "";
    ck_assert_msg (enp_wire_decode_frames (frames->data, frames->sizes, count,
                                           &event, err, sizeof err)
                   == ENP_EPARSE, "%s was accepted", what);
    ck_assert_ptr_null (event);
    ck_assert_msg (err [0] != '\0', "%s: no reason given", what);
    ck_assert_int_eq (enp_wire_decode_frames (frames->data, frames->sizes,
                                              count, &event, NULL, 0),
                      ENP_EPARSE);
    ck_assert_ptr_null (event);
}

//  Build a message from frames.
static zmsg_t *
s_msg_from (s_frames_t *frames, size_t count)
{
    zmsg_t *msg = zmsg_new ();
    for (size_t index = 0; index < count; index++)
        zmsg_addmem (msg, frames->data [index], frames->sizes [index]);
    return msg;
}

//  Usage: encode an event, decode it back, destroy both.
START_TEST (test_enp_wire_usage)
{
    enp_event_t *event = enp_event_new (S_ID, "alice", "hello", 1700000000123LL);
    zmsg_t *msg = enp_wire_encode (event, 1);
    ck_assert_ptr_nonnull (msg);
    ck_assert_uint_eq (zmsg_size (msg), ENP_WIRE_FRAMES);
    enp_event_t *decoded = NULL;
    char err [256] = "";
    ck_assert_int_eq (enp_wire_decode (msg, &decoded, err, sizeof err), ENP_OK);
    ck_assert_ptr_nonnull (decoded);
    ck_assert_str_eq (enp_event_id (decoded), S_ID);
    ck_assert_str_eq (enp_event_user_id (decoded), "alice");
    ck_assert_str_eq (enp_event_description (decoded), "hello");
    ck_assert_uint_eq (enp_event_attempts (decoded), 1);
    s_frames_t frames;
    s_frames_init (&frames);
    enp_event_t *direct = NULL;
    ck_assert_int_eq (enp_wire_decode_frames (frames.data, frames.sizes, 7,
                                              &direct, err, sizeof err), ENP_OK);
    ck_assert_ptr_nonnull (direct);
    enp_event_destroy (&direct);
    enp_event_destroy (&decoded);
    zmsg_destroy (&msg);
    enp_event_destroy (&event);
}
END_TEST

//  Every field survives the round trip; status becomes "queued".
START_TEST (test_enp_wire_round_trip)
{
    const int64_t times [] = { 1700000000123LL, 0, 1, ENP_WIRE_CREATED_MAX, 255 };
    const uint32_t attempts [] = { 1, 2, 255, 256, ENP_WIRE_ATTEMPT_MAX };
    for (size_t index = 0; index < 5; index++) {
        enp_event_t *event = enp_event_new (S_ID, "user \xc3\xa9",
                                            "line one\nline\ttwo \"q\"",
                                            times [index]);
        enp_event_set_status (event, ENP_STATUS_PROCESSED, 42);
        enp_event_set_attempts (event, 9);
        enp_event_set_generation (event, (uint32_t) index * 0x01010101u);
        zmsg_t *msg = enp_wire_encode (event, attempts [index]);
        ck_assert_ptr_nonnull (msg);
        enp_event_t *decoded = NULL;
        ck_assert_int_eq (enp_wire_decode (msg, &decoded, NULL, 0), ENP_OK);
        ck_assert_str_eq (enp_event_id (decoded), S_ID);
        ck_assert_str_eq (enp_event_user_id (decoded), "user \xc3\xa9");
        ck_assert_str_eq (enp_event_description (decoded),
                          "line one\nline\ttwo \"q\"");
        ck_assert_str_eq (enp_event_status (decoded), ENP_STATUS_QUEUED);
        ck_assert_uint_eq (enp_event_attempts (decoded), attempts [index]);
        ck_assert_int_eq (enp_event_created_at (decoded), times [index]);
        ck_assert_uint_eq (enp_event_generation (decoded), (uint32_t) index * 0x01010101u);
        //  decode borrows the message: it is intact afterwards
        ck_assert_uint_eq (zmsg_size (msg), ENP_WIRE_FRAMES);
        enp_event_destroy (&decoded);
        zmsg_destroy (&msg);
        enp_event_destroy (&event);
    }
}
END_TEST

//  The frames are exactly as docs/protocol.md says: sizes and byte order.
START_TEST (test_enp_wire_frame_layout)
{
    enp_event_t *event = enp_event_new (S_ID, "bob", "desc", 0x0102030405060708LL);
    enp_event_set_generation (event, 0x11223344);
    zmsg_t *msg = enp_wire_encode (event, 0x0A0B0C0D);
    zframe_t *frame = zmsg_first (msg);
    ck_assert_uint_eq (zframe_size (frame), 4);
    ck_assert_int_eq (memcmp (zframe_data (frame), "ENP2", 4), 0);
    frame = zmsg_next (msg);
    ck_assert_uint_eq (zframe_size (frame), ENP_UUID_LEN);
    ck_assert_int_eq (memcmp (zframe_data (frame), S_ID, ENP_UUID_LEN), 0);
    frame = zmsg_next (msg);
    ck_assert_uint_eq (zframe_size (frame), 3);
    ck_assert_int_eq (memcmp (zframe_data (frame), "bob", 3), 0);
    frame = zmsg_next (msg);
    ck_assert_uint_eq (zframe_size (frame), 4);
    ck_assert_int_eq (memcmp (zframe_data (frame), "desc", 4), 0);
    frame = zmsg_next (msg);
    const uint8_t attempt [4] = { 0x0A, 0x0B, 0x0C, 0x0D };
    ck_assert_uint_eq (zframe_size (frame), 4);
    ck_assert_int_eq (memcmp (zframe_data (frame), attempt, 4), 0);
    frame = zmsg_next (msg);
    const uint8_t created [8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
    ck_assert_uint_eq (zframe_size (frame), 8);
    ck_assert_int_eq (memcmp (zframe_data (frame), created, 8), 0);
    frame = zmsg_next (msg);
    const uint8_t generation [4] = { 0x11, 0x22, 0x33, 0x44 };
    ck_assert_uint_eq (zframe_size (frame), 4);
    ck_assert_int_eq (memcmp (zframe_data (frame), generation, 4), 0);
    ck_assert_ptr_null (zmsg_next (msg));
    zmsg_destroy (&msg);
    enp_event_destroy (&event);
}
END_TEST

//  Raw frames decode the same way, big-endian numbers included.
START_TEST (test_enp_wire_decode_frames)
{
    s_frames_t frames;
    s_frames_init (&frames);
    enp_event_t *event = NULL;
    ck_assert_int_eq (enp_wire_decode_frames (frames.data, frames.sizes, 7,
                                              &event, NULL, 0), ENP_OK);
    ck_assert_str_eq (enp_event_id (event), S_ID);
    ck_assert_str_eq (enp_event_user_id (event), "alice");
    ck_assert_str_eq (enp_event_description (event), "hello");
    ck_assert_uint_eq (enp_event_attempts (event), 3);
    ck_assert_int_eq (enp_event_created_at (event), 1700000000123LL);
    ck_assert_str_eq (enp_event_status (event), ENP_STATUS_QUEUED);
    enp_event_destroy (&event);
}
END_TEST

//  Only the lowercase canonical form the logger makes is an id.
START_TEST (test_enp_wire_uppercase_id)
{
    s_frames_t frames;
    s_frames_init (&frames);
    frames.data [1] = (const uint8_t *) "123E4567-E89B-42D3-A456-426614174ABC";
    s_expect_parse_error (&frames, 7, "an uppercase id");
    frames.data [1] = (const uint8_t *) "123e4567-e89b-42d3-a456-426614174abc";
    enp_event_t *event = NULL;
    ck_assert_int_eq (enp_wire_decode_frames (frames.data, frames.sizes, 7,
                                              &event, NULL, 0), ENP_OK);
    enp_event_destroy (&event);
}
END_TEST

//  ENP1, six frames without the generation, still decodes: generation 0.
START_TEST (test_enp_wire_version_1)
{
    s_frames_t frames;
    s_frames_init (&frames);
    frames.data [0] = (const uint8_t *) "ENP1";
    enp_event_t *event = NULL;
    ck_assert_int_eq (enp_wire_decode_frames (frames.data, frames.sizes, 6,
                                              &event, NULL, 0), ENP_OK);
    ck_assert_str_eq (enp_event_user_id (event), "alice");
    ck_assert_uint_eq (enp_event_attempts (event), 3);
    ck_assert_uint_eq (enp_event_generation (event), 0);
    enp_event_destroy (&event);
    //  ...but not with a seventh frame, nor ENP2 without it
    s_expect_parse_error (&frames, 7, "ENP1 with 7 frames");
    frames.data [0] = (const uint8_t *) "ENP2";
    s_expect_parse_error (&frames, 6, "ENP2 with 6 frames");
}
END_TEST

//  Strings follow the API's rules: UTF-8, jansson's way.
START_TEST (test_enp_wire_bad_utf8)
{
    const char *texts [] = {
        "caf\xc3(", "\x80", "\xc3", "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80",
        "\xf4\x90\x80\x80", "\xff", "ok\xfe",
    };
    for (int field = 2; field <= 3; field++)
        for (size_t index = 0; index < sizeof texts / sizeof texts [0]; index++) {
            s_frames_t frames;
            s_frames_init (&frames);
            frames.data [field] = (const uint8_t *) texts [index];
            frames.sizes [field] = strlen (texts [index]);
            s_expect_parse_error (&frames, 7, "text that is not UTF-8");
        }
    s_frames_t frames;
    s_frames_init (&frames);
    frames.data [3] = (const uint8_t *) "caf\xc3\xa9 \xe2\x80\xae \xf0\x9f\x98\x80";
    frames.sizes [3] = strlen ((const char *) frames.data [3]);
    enp_event_t *event = NULL;
    ck_assert_int_eq (enp_wire_decode_frames (frames.data, frames.sizes, 7,
                                              &event, NULL, 0), ENP_OK);
    enp_event_destroy (&event);
}
END_TEST

//  attempt is 1..ENP_WIRE_ATTEMPT_MAX, created_at 0..ENP_WIRE_CREATED_MAX.
START_TEST (test_enp_wire_numbers_in_range)
{
    const uint8_t attempts [][4] = {
        { 0, 0, 0, 0 }, { 0, 0x0f, 0x42, 0x41 }, { 0xff, 0xff, 0xff, 0xff }
    };
    for (size_t index = 0; index < 3; index++) {
        s_frames_t frames;
        s_frames_init (&frames);
        frames.data [4] = attempts [index];
        s_expect_parse_error (&frames, 7, "an attempt out of range");
    }
    const uint8_t created [][8] = {
        { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfb },     //  -5
        { 0x80, 0, 0, 0, 0, 0, 0, 0 },
        { 0, 0, 0xe6, 0x77, 0xd2, 0x1f, 0xdc, 0x00 },           //  max + 1
    };
    for (size_t index = 0; index < 3; index++) {
        s_frames_t frames;
        s_frames_init (&frames);
        frames.data [5] = created [index];
        s_expect_parse_error (&frames, 7, "a created_at out of range");
    }
}
END_TEST

//  Too few or too many frames.
START_TEST (test_enp_wire_wrong_frame_count)
{
    s_frames_t frames;
    s_frames_init (&frames);
    frames.data [7] = (const uint8_t *) "x";
    frames.sizes [7] = 1;
    for (size_t count = 0; count <= 8; count++)
        if (count != ENP_WIRE_FRAMES)
            s_expect_parse_error (&frames, count, "a wrong frame count");
    //  The same through zmsg_t, including an empty message
    for (size_t count = 0; count <= 8; count++) {
        if (count == ENP_WIRE_FRAMES)
            continue;
        zmsg_t *msg = s_msg_from (&frames, count);
        enp_event_t *event = NULL;
        char err [256] = "";
        ck_assert_int_eq (enp_wire_decode (msg, &event, err, sizeof err),
                          ENP_EPARSE);
        ck_assert_ptr_null (event);
        ck_assert_str_ne (err, "");
        zmsg_destroy (&msg);
    }
}
END_TEST

//  Only versions "ENP2" and "ENP1" are understood.
START_TEST (test_enp_wire_wrong_version)
{
    const char *versions [] = { "ENP3", "ENP", "ENP2x", "enp2", "", "2PNE", "ENP0" };
    for (size_t index = 0; index < sizeof versions / sizeof versions [0]; index++) {
        s_frames_t frames;
        s_frames_init (&frames);
        frames.data [0] = (const uint8_t *) versions [index];
        frames.sizes [0] = strlen (versions [index]);
        s_expect_parse_error (&frames, 7, versions [index]);
    }
}
END_TEST

//  The id must be a UUID of exactly 36 bytes.
START_TEST (test_enp_wire_bad_uuid)
{
    const char *ids [] = {
        "123e4567-e89b-42d3-a456-42661417400",
        "123e4567-e89b-42d3-a456-4266141740000",
        "123e4567-e89b-42d3-a456-42661417400z",
        "123e4567e89b42d3a456426614174000abcd",
        "", "not a uuid",
    };
    for (size_t index = 0; index < sizeof ids / sizeof ids [0]; index++) {
        s_frames_t frames;
        s_frames_init (&frames);
        frames.data [1] = (const uint8_t *) ids [index];
        frames.sizes [1] = strlen (ids [index]);
        s_expect_parse_error (&frames, 7, ids [index]);
    }
    //  A NUL inside an otherwise 36-byte id
    s_frames_t frames;
    s_frames_init (&frames);
    frames.data [1] = (const uint8_t *) "123e4567-e89b-42d3-a456-42661417400\0";
    s_expect_parse_error (&frames, 7, "an id with a NUL");
}
END_TEST

//  user_id and description: 1..max bytes, no NUL.
START_TEST (test_enp_wire_bad_strings)
{
    static uint8_t big [ENP_DESCRIPTION_MAX + 2];
    memset (big, 'x', sizeof big);
    for (int field = 2; field <= 3; field++) {
        size_t max = field == 2? ENP_USER_ID_MAX: ENP_DESCRIPTION_MAX;
        s_frames_t frames;
        s_frames_init (&frames);
        frames.sizes [field] = 0;
        s_expect_parse_error (&frames, 7, "an empty string");
        s_frames_init (&frames);
        frames.data [field] = big;
        frames.sizes [field] = max + 1;
        s_expect_parse_error (&frames, 7, "an over-long string");
        s_frames_init (&frames);
        frames.data [field] = (const uint8_t *) "a\0b";
        frames.sizes [field] = 3;
        s_expect_parse_error (&frames, 7, "a NUL byte inside");
        s_frames_init (&frames);
        frames.data [field] = (const uint8_t *) "ab\0";
        frames.sizes [field] = 3;
        s_expect_parse_error (&frames, 7, "a trailing NUL byte");

        //  Exactly the limit is fine
        s_frames_init (&frames);
        frames.data [field] = big;
        frames.sizes [field] = max;
        enp_event_t *event = NULL;
        ck_assert_int_eq (enp_wire_decode_frames (frames.data, frames.sizes, 7,
                                                  &event, NULL, 0), ENP_OK);
        const char *text = field == 2? enp_event_user_id (event)
                                     : enp_event_description (event);
        ck_assert_uint_eq (strlen (text), max);
        enp_event_destroy (&event);
    }
}
END_TEST

//  attempt and generation must be 4 bytes, created_at 8 bytes.
START_TEST (test_enp_wire_bad_number_sizes)
{
    const size_t attempt_sizes [] = { 0, 3, 5, 8 };
    const size_t created_sizes [] = { 0, 4, 7, 9 };
    static const uint8_t zeros [16] = { 0 };
    for (size_t index = 0; index < 4; index++) {
        s_frames_t frames;
        s_frames_init (&frames);
        frames.data [4] = zeros;
        frames.sizes [4] = attempt_sizes [index];
        s_expect_parse_error (&frames, 7, "a bad attempt size");
        s_frames_init (&frames);
        frames.data [5] = zeros;
        frames.sizes [5] = created_sizes [index];
        s_expect_parse_error (&frames, 7, "a bad created_at size");
        s_frames_init (&frames);
        frames.data [6] = zeros;
        frames.sizes [6] = attempt_sizes [index];
        s_expect_parse_error (&frames, 7, "a bad generation size");
    }
}
END_TEST

//  A message broken in transit decodes to an error through zmsg_t too.
START_TEST (test_enp_wire_decode_msg_errors)
{
    s_frames_t frames;
    s_frames_init (&frames);
    frames.sizes [2] = 0;
    zmsg_t *msg = s_msg_from (&frames, 7);
    enp_event_t *event = NULL;
    char err [256] = "";
    ck_assert_int_eq (enp_wire_decode (msg, &event, err, sizeof err), ENP_EPARSE);
    ck_assert_ptr_null (event);
    ck_assert_str_ne (err, "");
    zmsg_destroy (&msg);
    msg = zmsg_new ();
    zmsg_addstr (msg, "garbage");
    ck_assert_int_eq (enp_wire_decode (msg, &event, NULL, 0), ENP_EPARSE);
    zmsg_destroy (&msg);
}
END_TEST

//  Make count events with ids ...-<n> (n from first), user u<n>,
//  description of length bytes, created at n, generation n.
static void
s_events (enp_event_t **events, size_t count, size_t first, size_t length)
{
    char *description = (char *) malloc (length + 1);
    ck_assert_ptr_nonnull (description);
    memset (description, 'd', length);
    description [length] = '\0';
    for (size_t index = 0; index < count; index++) {
        char id [37], user [16];
        snprintf (id, sizeof id, "00000000-0000-4000-8000-%012zu", first + index);
        snprintf (user, sizeof user, "u%zu", first + index);
        events [index] = enp_event_new (id, user, description, (int64_t) (first + index));
        ck_assert_ptr_nonnull (events [index]);
        enp_event_set_generation (events [index], (uint32_t) (first + index));
    }
    free (description);
}

//  ENP3: several events in one message of two frames; each decodes as it
//  went in, with its own attempt and generation.
START_TEST (test_enp_wire_batch_round_trip)
{
    enp_event_t *events [3];
    s_events (events, 3, 7, 20);
    enp_event_t *odd = enp_event_new ("123e4567-e89b-42d3-a456-426614174000",
                                      "caf\xc3\xa9", "line\nbreak", ENP_WIRE_CREATED_MAX);
    enp_event_destroy (&events [1]);
    events [1] = odd;
    uint32_t attempts [3] = { 1, ENP_WIRE_ATTEMPT_MAX, 42 };
    size_t packed = 0;
    zmsg_t *msg = enp_wire_encode_batch (events, attempts, 3, &packed);
    ck_assert_ptr_nonnull (msg);
    ck_assert_uint_eq (packed, 3);
    ck_assert_uint_eq (zmsg_size (msg), ENP_WIRE_BATCH_FRAMES);
    ck_assert (zframe_streq (zmsg_first (msg), ENP_WIRE_BATCH_VERSION));
    //  Frame 1: the count, then each event's fixed part and strings
    zframe_t *body = zmsg_next (msg);
    size_t expected = 2;
    for (int index = 0; index < 3; index++)
        expected += ENP_WIRE_BATCH_FIXED + strlen (enp_event_user_id (events [index]))
                  + strlen (enp_event_description (events [index]));
    ck_assert_uint_eq (zframe_size (body), expected);
    ck_assert_uint_eq (zframe_data (body) [0], 0);
    ck_assert_uint_eq (zframe_data (body) [1], 3);
    ck_assert_int_eq (memcmp (zframe_data (body) + 2, enp_event_id (events [0]),
                              ENP_UUID_LEN), 0);
    enp_event_t *decoded [ENP_WIRE_BATCH_MAX] = { NULL };
    size_t count = 0;
    char err [256] = "";
    ck_assert_int_eq (enp_wire_decode_batch (msg, decoded, ENP_WIRE_BATCH_MAX,
                                             &count, err, sizeof err), ENP_OK);
    ck_assert_uint_eq (count, 3);
    for (size_t index = 0; index < 3; index++) {
        ck_assert_str_eq (enp_event_id (decoded [index]), enp_event_id (events [index]));
        ck_assert_str_eq (enp_event_user_id (decoded [index]), enp_event_user_id (events [index]));
        ck_assert_str_eq (enp_event_description (decoded [index]),
                          enp_event_description (events [index]));
        ck_assert_int_eq (enp_event_created_at (decoded [index]),
                          enp_event_created_at (events [index]));
        ck_assert_uint_eq (enp_event_attempts (decoded [index]), attempts [index]);
        ck_assert_uint_eq (enp_event_generation (decoded [index]),
                           enp_event_generation (events [index]));
        ck_assert_str_eq (enp_event_status (decoded [index]), ENP_STATUS_QUEUED);
        enp_event_destroy (&decoded [index]);
        enp_event_destroy (&events [index]);
    }
    //  Room for fewer than the message holds: refused whole
    ck_assert_int_eq (enp_wire_decode_batch (msg, decoded, 2, &count, err,
                                             sizeof err), ENP_EPARSE);
    ck_assert_ptr_null (decoded [0]);
    zmsg_destroy (&msg);
}
END_TEST

//  ENP1 and ENP2 messages decode through the same call, as one event.
START_TEST (test_enp_wire_batch_decodes_single)
{
    enp_event_t *event = enp_event_new (S_ID, "alice", "hello", 5);
    zmsg_t *msg = enp_wire_encode (event, 2);
    enp_event_t *decoded [1] = { NULL };
    size_t count = 0;
    ck_assert_int_eq (enp_wire_decode_batch (msg, decoded, 1, &count, NULL, 0), ENP_OK);
    ck_assert_uint_eq (count, 1);
    ck_assert_str_eq (enp_event_id (decoded [0]), S_ID);
    ck_assert_uint_eq (enp_event_attempts (decoded [0]), 2);
    enp_event_destroy (&decoded [0]);
    ck_assert_int_eq (enp_wire_decode_batch (msg, decoded, 0, &count, NULL, 0),
                      ENP_EPARSE);
    zmsg_destroy (&msg);
    enp_event_destroy (&event);
}
END_TEST

//  An ENP3 message holds at most ENP_WIRE_BATCH_MAX events and
//  ENP_WIRE_BATCH_BYTES: the encoder takes as many as fit, always one.
START_TEST (test_enp_wire_batch_bounds)
{
    enp_event_t *events [100];
    uint32_t attempts [100];
    for (int index = 0; index < 100; index++)
        attempts [index] = 1;
    s_events (events, 100, 0, 10);
    size_t packed = 0;
    zmsg_t *msg = enp_wire_encode_batch (events, attempts, 100, &packed);
    ck_assert_uint_eq (packed, ENP_WIRE_BATCH_MAX);
    zmsg_destroy (&msg);
    msg = enp_wire_encode_batch (events + 64, attempts, 36, &packed);
    ck_assert_uint_eq (packed, 36);
    zmsg_destroy (&msg);
    ck_assert_ptr_null (enp_wire_encode_batch (events, attempts, 0, &packed));
    for (int index = 0; index < 100; index++)
        enp_event_destroy (&events [index]);
    //  Largest events: three fit in 16 KiB, whatever follows
    s_events (events, 5, 0, ENP_DESCRIPTION_MAX);
    msg = enp_wire_encode_batch (events, attempts, 5, &packed);
    ck_assert_uint_eq (packed, 3);
    ck_assert_uint_le (zframe_size (zmsg_last (msg)), ENP_WIRE_BATCH_BYTES);
    ck_assert_uint_le (zframe_size (zmsg_last (msg)) + 4, ENP_WIRE_SIZE_MAX);
    enp_event_t *decoded [ENP_WIRE_BATCH_MAX];
    size_t count = 0;
    ck_assert_int_eq (enp_wire_decode_batch (msg, decoded, ENP_WIRE_BATCH_MAX,
                                             &count, NULL, 0), ENP_OK);
    ck_assert_uint_eq (count, 3);
    for (size_t index = 0; index < count; index++)
        enp_event_destroy (&decoded [index]);
    zmsg_destroy (&msg);
    for (int index = 0; index < 5; index++)
        enp_event_destroy (&events [index]);
}
END_TEST

//  Decode ENP3 bytes given as a frame; expect a parse error and no event.
static void
s_expect_batch_error (const uint8_t *data, size_t size, const char *what)
{
    const uint8_t *frames [2] = { (const uint8_t *) "ENP3", data };
    size_t sizes [2] = { 4, size };
    enp_event_t *events [ENP_WIRE_BATCH_MAX] = { NULL };
    size_t count = 99;
    char err [256] = "";
    ck_assert_msg (enp_wire_decode_batch_frames (frames, sizes, 2, events,
                   ENP_WIRE_BATCH_MAX, &count, err, sizeof err) == ENP_EPARSE,
                   "%s was accepted", what);
    ck_assert_msg (err [0] != '\0', "%s: no reason", what);
    ck_assert_uint_eq (count, 99);
    for (int index = 0; index < ENP_WIRE_BATCH_MAX; index++)
        ck_assert_ptr_null (events [index]);
}

//  A broken ENP3 message is refused whole: a count of 0 or over the
//  maximum, a count that does not match what follows, lengths running
//  past the end, bytes after the last event, one invalid event among good
//  ones (each checked as an ENP2 message is), too many bytes.
START_TEST (test_enp_wire_batch_malformed)
{
    enp_event_t *events [2];
    uint32_t attempts [2] = { 1, 1 };
    s_events (events, 2, 0, 5);
    size_t packed = 0;
    zmsg_t *msg = enp_wire_encode_batch (events, attempts, 2, &packed);
    zframe_t *body = zmsg_last (msg);
    size_t size = zframe_size (body);
    uint8_t *good = (uint8_t *) malloc (ENP_WIRE_BATCH_BYTES + 8);
    uint8_t *bad = (uint8_t *) malloc (ENP_WIRE_BATCH_BYTES + 8);
    memcpy (good, zframe_data (body), size);
    memcpy (bad, good, size);
    bad [1] = 0;
    s_expect_batch_error (bad, size, "a count of 0");
    bad [1] = 3;
    s_expect_batch_error (bad, size, "a count above the events");
    bad [1] = 1;
    s_expect_batch_error (bad, size, "bytes after the last event");
    bad [0] = 1;
    bad [1] = 0;
    s_expect_batch_error (bad, size, "a count over the maximum");
    memcpy (bad, good, size);
    s_expect_batch_error (bad, size - 1, "a message cut short");
    s_expect_batch_error (bad, 1, "a lone byte");
    s_expect_batch_error (bad, 0, "an empty frame");
    //  user_id length (after id 36, numbers 16) made to run past the end
    bad [2 + ENP_UUID_LEN + 16] = 0xff;
    s_expect_batch_error (bad, size, "a length past the end");
    memcpy (bad, good, size);
    //  The second event's id upper-cased: not canonical
    size_t second = 2 + ENP_WIRE_BATCH_FIXED + strlen ("u0") + 5;
    memcpy (bad + second, "00000000-0000-4000-8000-00000000000A", ENP_UUID_LEN);
    s_expect_batch_error (bad, size, "an event with an id not canonical");
    memcpy (bad, good, size);
    //  The first event's attempt 0
    memset (bad + 2 + ENP_UUID_LEN, 0, 4);
    s_expect_batch_error (bad, size, "an event with attempt 0");
    memcpy (bad, good, size);
    //  The first event's description holding a NUL byte
    bad [2 + ENP_WIRE_BATCH_FIXED + strlen ("u0")] = '\0';
    s_expect_batch_error (bad, size, "an event with a NUL in its text");
    memcpy (bad, good, size);
    s_expect_batch_error (bad, ENP_WIRE_BATCH_BYTES + 1, "too many bytes");
    //  And the good one is good
    enp_event_t *decoded [2];
    size_t count = 0;
    const uint8_t *frames [2] = { (const uint8_t *) "ENP3", good };
    size_t sizes [2] = { 4, size };
    ck_assert_int_eq (enp_wire_decode_batch_frames (frames, sizes, 2, decoded, 2,
                                                    &count, NULL, 0), ENP_OK);
    ck_assert_uint_eq (count, 2);
    enp_event_destroy (&decoded [0]);
    enp_event_destroy (&decoded [1]);
    //  ENP3 with a third frame, or its version on seven frames: refused
    const uint8_t *three [3] = { (const uint8_t *) "ENP3", good, good };
    size_t three_sizes [3] = { 4, size, size };
    ck_assert_int_eq (enp_wire_decode_batch_frames (three, three_sizes, 3, decoded, 2,
                                                    &count, NULL, 0), ENP_EPARSE);
    free (good);
    free (bad);
    zmsg_destroy (&msg);
    enp_event_destroy (&events [0]);
    enp_event_destroy (&events [1]);
}
END_TEST

int
main (void)
{
    const TTest *tests [] = {
        test_enp_wire_usage,
        test_enp_wire_round_trip,
        test_enp_wire_frame_layout,
        test_enp_wire_decode_frames,
        test_enp_wire_uppercase_id,
        test_enp_wire_version_1,
        test_enp_wire_bad_utf8,
        test_enp_wire_numbers_in_range,
        test_enp_wire_wrong_frame_count,
        test_enp_wire_wrong_version,
        test_enp_wire_bad_uuid,
        test_enp_wire_bad_strings,
        test_enp_wire_bad_number_sizes,
        test_enp_wire_decode_msg_errors,
        test_enp_wire_batch_round_trip,
        test_enp_wire_batch_decodes_single,
        test_enp_wire_batch_bounds,
        test_enp_wire_batch_malformed,
        NULL
    };
    return testkit_run (testkit_suite ("enp_wire", 10, tests));
}
