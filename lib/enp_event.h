//  enp_event - one event: its fields, JSON encoding and request validation
#ifndef ENP_EVENT_H_INCLUDED
#define ENP_EVENT_H_INCLUDED

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "enp_status.h"

#define ENP_UUID_LEN          36      //  canonical text form, no NUL
#define ENP_USER_ID_MAX       256     //  bytes
#define ENP_DESCRIPTION_MAX   4096    //  bytes
#define ENP_STATUS_MAX        64      //  bytes of [a-z0-9_.-]

#define ENP_STATUS_PENDING    "pending"
#define ENP_STATUS_QUEUED     "queued"
#define ENP_STATUS_PROCESSED  "processed"
#define ENP_STATUS_FAILED     "failed"

//  A status patch in its compact canonical form, {"status":"<status>"}:
//  enp_event_decode_status reads this form without a JSON parser, and it
//  is what every worker sends to report an event processed.
#define ENP_STATUS_PATCH_PREFIX     "{\"status\":\""
#define ENP_STATUS_PATCH_SUFFIX     "\"}"
#define ENP_STATUS_PATCH_PROCESSED  \
    ENP_STATUS_PATCH_PREFIX ENP_STATUS_PROCESSED ENP_STATUS_PATCH_SUFFIX

typedef struct _enp_event_t enp_event_t;

//  Create a pending event with the given id (canonical UUID), strings and
//  creation time. Strings are copied. Returns NULL on failure.
enp_event_t *enp_event_new (const char *event_id, const char *user_id,
                            const char *description, int64_t created_at);
//  Create a pending event with a new random (v4) UUID, created now.
//  Returns NULL on failure. Caller owns the result.
enp_event_t *enp_event_create (const char *user_id, const char *description);
//  Destroy the event; nulls the caller's pointer.
void enp_event_destroy (enp_event_t **self_p);
//  Return a deep copy, or NULL. Caller owns the result.
enp_event_t *enp_event_dup (const enp_event_t *self);

const char *enp_event_id (const enp_event_t *self);
const char *enp_event_user_id (const enp_event_t *self);
const char *enp_event_description (const enp_event_t *self);
const char *enp_event_status (const enp_event_t *self);
int64_t enp_event_created_at (const enp_event_t *self);
int64_t enp_event_updated_at (const enp_event_t *self);
uint32_t enp_event_attempts (const enp_event_t *self);
//  Return the delivery generation: 0 when created, one more each time the
//  event is deliberately re-queued (status set to "pending" again). A
//  processor prints an event once per generation, so a re-queue prints
//  again while a redelivery after a timeout does not.
uint32_t enp_event_generation (const enp_event_t *self);

//  Set the status (must pass enp_event_status_valid) and updated_at.
void enp_event_set_status (enp_event_t *self, const char *status,
                           int64_t now);
//  Set the number of deliveries so far.
void enp_event_set_attempts (enp_event_t *self, uint32_t attempts);
//  Set the delivery generation.
void enp_event_set_generation (enp_event_t *self, uint32_t generation);
//  Return true when the status is the given one.
int enp_event_status_is (const enp_event_t *self, const char *status);

//  Return the event as a new JSON object, or NULL. Caller owns the result.
json_t *enp_event_to_json (const enp_event_t *self);
//  Return the event as compact JSON text and its length in *size_p (may be
//  NULL), or NULL. Caller frees the result with free().
char *enp_event_encode (const enp_event_t *self, size_t *size_p);
//  Return the most bytes enp_event_encode_into can write for this event.
size_t enp_event_encoded_max (const enp_event_t *self);
//  Return the exact number of bytes enp_event_encode_into writes for this
//  event (a page's byte budget is counted with it).
size_t enp_event_encoded_size (const enp_event_t *self);
//  Write the event as compact JSON at buf, which has room for
//  enp_event_encoded_max bytes; no NUL is added. Returns bytes written.
size_t enp_event_encode_into (const enp_event_t *self, char *buf);
//  Return {"<member>":[event,...]} as compact JSON text, with a member
//  "next" after the array when next is not NULL (null when it is "", else
//  that string, which must need no escaping: a cursor), and its length in
//  *size_p; or NULL when out of memory. The listing and the bulk create
//  answer with it, each event written as enp_event_encode writes it.
char *enp_event_encode_list (enp_event_t *const *events, size_t count,
                             const char *member, const char *next,
                             size_t *size_p);
//  Write a new random (v4) UUID in lowercase canonical form into event_id
//  (ENP_UUID_LEN + 1 bytes). Returns 0, or -1 if no randomness is to be had.
int enp_event_new_id (char *event_id);

//  Decode and validate a create request body {"user_id","description"}.
//  On ENP_OK *event_p is a new pending event (caller owns it). Returns
//  ENP_EPARSE if the body is not a JSON object (or not UTF-8), ENP_EINVAL if
//  it breaks the schema: then every field error is appended to errors (a
//  JSON array, may be NULL) as {"field","message"}. err gets a summary.
enp_status_t enp_event_decode_create (const char *body, size_t size,
                                      enp_event_t **event_p, json_t *errors,
                                      char *err, size_t err_len);
//  Decode and validate a status patch {"status"}. On ENP_OK, status (at
//  least ENP_STATUS_MAX + 1 bytes) holds the new status. Errors as above.
enp_status_t enp_event_decode_status (const char *body, size_t size,
                                      char *status, json_t *errors,
                                      char *err, size_t err_len);
//  Validate a create request already parsed into object (a JSON object),
//  as enp_event_decode_create does: the one rule for a single create and
//  each item of a batch. Field errors name the member, or, when pointer
//  (the object's JSON pointer in a larger document, e.g. "/events/3") is
//  not NULL, its pointer: "/events/3/user_id". Returns ENP_OK with a new
//  pending event in *event_p (caller owns it), ENP_EINVAL or ENP_ENOMEM.
enp_status_t enp_event_create_from_json (json_t *object, const char *pointer,
                                         enp_event_t **event_p,
                                         json_t *errors, char *err,
                                         size_t err_len);
//  Validate one item of a status batch, {"event_id","status"}, already
//  parsed into object (a JSON object): event_id a UUID (its canonical form
//  into event_id, ENP_UUID_LEN + 1 bytes), status checked as
//  enp_event_decode_status checks it. Errors named as above. Returns
//  ENP_OK or ENP_EINVAL.
enp_status_t enp_event_update_from_json (json_t *object, const char *pointer,
                                         char *event_id, char *status,
                                         json_t *errors, char *err,
                                         size_t err_len);
//  Return 1 if text is 1-64 bytes of [a-z0-9_.-], else 0.
int enp_event_status_valid (const char *text);
//  Return 1 if data is 1..max bytes of valid UTF-8 holding no NUL byte:
//  the rule the API applies to user_id and description, for readers of
//  other inputs (the wire decoder); else 0.
int enp_event_text_valid (const char *data, size_t size, size_t max);
//  Parse a UUID in any case; write its lowercase canonical form into
//  canonical (ENP_UUID_LEN + 1 bytes). Returns 0, or -1 if not a UUID.
int enp_event_id_canonical (const char *text, char *canonical);

#endif
