//  enp_wire - the ZeroMQ message that carries one event, logger to processor
#ifndef ENP_WIRE_H_INCLUDED
#define ENP_WIRE_H_INCLUDED

#include <czmq.h>
#include "enp_event.h"
#include "enp_status.h"

//  First frame of every message; a new layout gets a new version.
#define ENP_WIRE_VERSION "ENP1"
#define ENP_WIRE_FRAMES  6

//  Encode an event as a multipart message (see docs/protocol.md); attempt
//  is the delivery number this message is (1 for the first). Returns NULL
//  on failure. Caller owns the result.
zmsg_t *enp_wire_encode (const enp_event_t *event, uint32_t attempt);
//  Decode a message into a new event (status "queued", attempts = attempt).
//  Returns ENP_OK with *event_p set (caller owns it), or ENP_EPARSE with a
//  reason in err when the message is not a valid version-1 event.
enp_status_t enp_wire_decode (zmsg_t *msg, enp_event_t **event_p,
                              char *err, size_t err_len);
//  Decode raw frames (data and sizes) the same way; used by the fuzzer and
//  by readers that do not hold a zmsg_t.
enp_status_t enp_wire_decode_frames (const uint8_t *const *data,
                                     const size_t *sizes, size_t count,
                                     enp_event_t **event_p,
                                     char *err, size_t err_len);

#endif
