/*  fuzz_event_status - libFuzzer harness for enp_event_decode_status

    The input is a PATCH /events/{id} body. The decoder must never crash or
    leak; a status it accepts must pass enp_event_status_valid and equal the
    body's "status" member, and the status buffer of exactly
    ENP_STATUS_MAX + 1 bytes (heap-allocated, so ASan guards its end) must
    never overflow.
*/
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "enp_event.h"
#include "fuzz_stack.h"

#define S_ERR_LEN 128   //  error buffer, heap-allocated so ASan sees overruns

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

//  Decode one input and check every promise; runs on a server-sized stack.
static void
s_check_input (const uint8_t *data, size_t size)
{
    char *body = (char *) malloc (size? size: 1);
    char *status = (char *) malloc (ENP_STATUS_MAX + 1);
    char *err = (char *) malloc (S_ERR_LEN);
    json_t *errors = json_array ();
    if (!body || !status || !err || !errors)
        abort ();
    if (size)
        memcpy (body, data, size);
    status [0] = '\0';
    err [0] = '\0';

    enp_status_t result = enp_event_decode_status (body, size, status, errors,
                                                   err, S_ERR_LEN);
    if (memchr (err, '\0', S_ERR_LEN) == NULL)
        abort ();
    size_t index;
    json_t *item;
    json_array_foreach (errors, index, item) {
        if (!json_is_string (json_object_get (item, "field"))
        ||  !json_is_string (json_object_get (item, "message")))
            abort ();
    }
    if (result == ENP_OK) {
        if (memchr (status, '\0', ENP_STATUS_MAX + 1) == NULL
        ||  !enp_event_status_valid (status)
        ||  json_array_size (errors) != 0)
            abort ();
        //  The accepted status is the body's, unchanged
        json_t *root = json_loadb (body, size, JSON_REJECT_DUPLICATES, NULL);
        const char *value = json_string_value (json_object_get (root, "status"));
        if (!value || strcmp (value, status) != 0 || json_object_size (root) != 1)
            abort ();
        json_decref (root);
    }
    else
    if (result == ENP_EINVAL) {
        if (json_array_size (errors) == 0 || err [0] == '\0')
            abort ();
    }
    else
    if (result == ENP_EPARSE) {
        if (json_array_size (errors) != 0 || err [0] == '\0')
            abort ();
    }
    else
        abort ();

    //  NULL errors and err are allowed and must not change the verdict
    if (enp_event_decode_status (body, size, status, NULL, NULL, 0) != result)
        abort ();

    json_decref (errors);
    free (err);
    free (status);
    free (body);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    fuzz_on_server_stack (s_check_input, data, size);
    return 0;
}
