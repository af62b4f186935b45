/*  fuzz_event_create - libFuzzer harness for enp_event_decode_create

    The input is a request body exactly as the logger's POST /events handler
    would pass it. The decoder must never crash or leak, whatever the bytes,
    and whatever it accepts must be an event the rest of the pipeline can
    trust: the checks below abort() when a promise of enp_event.h is broken,
    which libFuzzer reports as a crash with the input that caused it.
*/
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "enp_event.h"
#include "fuzz_stack.h"

#define S_ERR_LEN 128   //  error buffer, heap-allocated so ASan sees overruns

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

//  Abort unless text is a string of min..max bytes.
static void
s_check_length (const char *text, size_t min, size_t max)
{
    if (!text)
        abort ();
    size_t length = strlen (text);
    if (length < min || length > max)
        abort ();
}

//  Abort unless every item of errors is {"field": string, "message": string}.
static void
s_check_errors (json_t *errors)
{
    size_t index;
    json_t *item;
    json_array_foreach (errors, index, item) {
        if (!json_is_string (json_object_get (item, "field"))
        ||  !json_is_string (json_object_get (item, "message")))
            abort ();
    }
}

//  Abort unless an accepted event holds exactly the request's fields, is
//  pending with a canonical id, and survives its own JSON encoding.
static void
s_check_event (const enp_event_t *event, const char *body, size_t size)
{
    if (!event)
        abort ();
    const char *user_id = enp_event_user_id (event);
    const char *description = enp_event_description (event);
    s_check_length (user_id, 1, ENP_USER_ID_MAX);
    s_check_length (description, 1, ENP_DESCRIPTION_MAX);
    if (strcmp (enp_event_status (event), ENP_STATUS_PENDING) != 0
    ||  enp_event_attempts (event) != 0)
        abort ();
    char canonical [ENP_UUID_LEN + 1];
    const char *event_id = enp_event_id (event);
    if (strlen (event_id) != ENP_UUID_LEN
    ||  enp_event_id_canonical (event_id, canonical) != 0
    ||  strcmp (event_id, canonical) != 0)
        abort ();

    //  The fields are the request's, byte for byte
    json_t *request = json_loadb (body, size, JSON_REJECT_DUPLICATES, NULL);
    if (!request
    ||  strcmp (json_string_value (json_object_get (request, "user_id")), user_id)
    ||  strcmp (json_string_value (json_object_get (request, "description")),
                description))
        abort ();
    json_decref (request);

    //  The logger answers with enp_event_encode: it must work and round-trip
    size_t text_size = 0;
    char *text = enp_event_encode (event, &text_size);
    if (!text || text_size != strlen (text))
        abort ();
    json_t *reply = json_loadb (text, text_size, JSON_REJECT_DUPLICATES, NULL);
    if (!reply
    ||  strcmp (json_string_value (json_object_get (reply, "event_id")), event_id)
    ||  strcmp (json_string_value (json_object_get (reply, "user_id")), user_id)
    ||  strcmp (json_string_value (json_object_get (reply, "description")),
                description)
    ||  strcmp (json_string_value (json_object_get (reply, "status")),
                ENP_STATUS_PENDING))
        abort ();
    json_decref (reply);
    free (text);
}

//  Decode one input and check every promise; runs on a server-sized stack.
static void
s_check_input (const uint8_t *data, size_t size)
{
    //  Copy the body so ASan catches a read one byte past its end
    char *body = (char *) malloc (size? size: 1);
    char *err = (char *) malloc (S_ERR_LEN);
    json_t *errors = json_array ();
    if (!body || !err || !errors)
        abort ();
    if (size)
        memcpy (body, data, size);
    err [0] = '\0';

    enp_event_t *event = NULL;
    enp_status_t status = enp_event_decode_create (body, size, &event, errors,
                                                   err, S_ERR_LEN);
    if (memchr (err, '\0', S_ERR_LEN) == NULL)
        abort ();               //  err must stay a C string
    s_check_errors (errors);
    switch (status) {
        case ENP_OK:
            if (json_array_size (errors) != 0)
                abort ();
            s_check_event (event, body, size);
            break;
        case ENP_EINVAL:
            if (event || json_array_size (errors) == 0 || err [0] == '\0')
                abort ();
            break;
        case ENP_EPARSE:
            if (event || json_array_size (errors) != 0 || err [0] == '\0')
                abort ();
            break;
        case ENP_ENOMEM:
            if (event)
                abort ();
            break;
        default:
            abort ();           //  no other status is documented
    }

    //  NULL errors and err are allowed and must not change the verdict
    enp_event_t *again = NULL;
    if (enp_event_decode_create (body, size, &again, NULL, NULL, 0) != status
    &&  status != ENP_ENOMEM)
        abort ();

    enp_event_destroy (&again);
    enp_event_destroy (&event);
    json_decref (errors);
    free (err);
    free (body);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    fuzz_on_server_stack (s_check_input, data, size);
    return 0;
}
