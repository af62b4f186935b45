//  enp_wire - the ZeroMQ messages that carry events, logger to processor
#ifndef ENP_WIRE_H_INCLUDED
#define ENP_WIRE_H_INCLUDED

#include <czmq.h>
#include "enp_event.h"
#include "enp_status.h"

//  First frame of every message; a new layout gets a new version. ENP2
//  added the generation frame; ENP1 (six frames) is still decoded, as
//  generation 0, so processors can be upgraded before loggers.
#define ENP_WIRE_VERSION     "ENP2"
#define ENP_WIRE_FRAMES      7
#define ENP_WIRE_V1          "ENP1"
#define ENP_WIRE_V1_FRAMES   6
//  ENP3 carries 1..ENP_WIRE_BATCH_MAX events in two frames: the version
//  and the events packed one after another, in at most
//  ENP_WIRE_BATCH_BYTES (one event of any valid size always fits).
#define ENP_WIRE_BATCH_VERSION  "ENP3"
#define ENP_WIRE_BATCH_FRAMES   2
#define ENP_WIRE_BATCH_MAX      64
#define ENP_WIRE_BATCH_BYTES    16384
//  Bytes of one packed event besides its two strings: id, attempt,
//  created_at, generation and the strings' two lengths.
#define ENP_WIRE_BATCH_FIXED    (ENP_UUID_LEN + 4 + 8 + 4 + 2 + 2)

//  Bounds every valid message keeps, whatever its version: what a reader
//  may enforce without decoding (the broker does). The largest frame is
//  ENP3's events; the most frames are ENP2's; the largest message is
//  ENP3's version and events (an ENP2 message is at most 4,408 bytes).
#define ENP_WIRE_FRAMES_MAX  ENP_WIRE_FRAMES
#define ENP_WIRE_FRAME_MAX   ENP_WIRE_BATCH_BYTES
#define ENP_WIRE_SIZE_MAX    (4 + ENP_WIRE_BATCH_BYTES)
//  A sane attempt number: deliveries of one event, re-queues included.
#define ENP_WIRE_ATTEMPT_MAX 1000000u
//  Latest sane created_at: 9999-12-31T23:59:59.999Z, the last time an
//  RFC 3339 timestamp of the API can show.
#define ENP_WIRE_CREATED_MAX 253402300799999LL

//  Encode an event as a multipart message (see docs/protocol.md); attempt
//  is the delivery number this message is (1 for the first), and the
//  event's generation travels with it. Returns NULL on failure. Caller
//  owns the result.
zmsg_t *enp_wire_encode (const enp_event_t *event, uint32_t attempt);
//  Decode a message into a new event (status "queued", attempts = attempt,
//  its generation). Returns ENP_OK with *event_p set (caller owns it), or
//  ENP_EPARSE with a reason in err when the message is not a valid event:
//  an unknown version, a wrong frame count or size, an id that is not a
//  lowercase canonical UUID, a user_id or description the API would
//  refuse (empty, too long, not UTF-8, holding NUL), an attempt outside
//  1..ENP_WIRE_ATTEMPT_MAX or a created_at outside 0..ENP_WIRE_CREATED_MAX.
enp_status_t enp_wire_decode (zmsg_t *msg, enp_event_t **event_p,
                              char *err, size_t err_len);
//  Decode raw frames (data and sizes) the same way; used by the fuzzer and
//  by readers that do not hold a zmsg_t.
enp_status_t enp_wire_decode_frames (const uint8_t *const *data,
                                     const size_t *sizes, size_t count,
                                     enp_event_t **event_p,
                                     char *err, size_t err_len);

//  Encode events (count of them, each sent as delivery attempts[i]) as one
//  ENP3 message, as many from the first as fit: at most
//  ENP_WIRE_BATCH_MAX and ENP_WIRE_BATCH_BYTES, always at least one. How
//  many went in goes to *packed_p. Returns NULL on failure (or count 0).
//  Caller owns the result.
zmsg_t *enp_wire_encode_batch (enp_event_t *const *events,
                               const uint32_t *attempts, size_t count,
                               size_t *packed_p);
//  Decode a message of any version into new events, in order, into
//  events (room for max; ENP_WIRE_BATCH_MAX is enough for any message),
//  and their number into *count_p: one for ENP1 and ENP2, all of an ENP3
//  message. Every event is checked as enp_wire_decode checks one; if any
//  is not valid (or the packing is broken, or there are more than max),
//  the whole message is refused: ENP_EPARSE with the reason in err and no
//  event made. Caller owns the events.
enp_status_t enp_wire_decode_batch (zmsg_t *msg, enp_event_t **events,
                                    size_t max, size_t *count_p,
                                    char *err, size_t err_len);
//  Decode raw frames the same way (for the fuzzer).
enp_status_t enp_wire_decode_batch_frames (const uint8_t *const *data,
                                           const size_t *sizes, size_t count,
                                           enp_event_t **events, size_t max,
                                           size_t *count_p,
                                           char *err, size_t err_len);

#endif
