/*  enp_json - reading untrusted JSON text safely with jansson

    Every JSON body the services read comes from the network. jansson's
    parser recurses once per nesting level, and the threads that run
    CivetWeb's handlers have small stacks: a 1 KB body of '[' took the
    logger down. So the nesting is measured first, by a loop that only
    counts brackets outside strings (no recursion, no allocation), and
    jansson sees only text whose depth is bounded.
*/
#include <stdbool.h>
#include "enp_json.h"
#include "enp_status.h"

//  Measure the nesting depth, giving up past max_depth.
int
enp_json_depth (const char *text, size_t size, int max_depth)
{
    int depth = 0, deepest = 0;
    bool in_string = false, escaped = false;
    for (size_t index = 0; text && index < size; index++) {
        char c = text [index];
        if (in_string) {
            if (escaped)
                escaped = false;
            else
            if (c == '\\')
                escaped = true;
            else
            if (c == '"')
                in_string = false;
        }
        else
        if (c == '"')
            in_string = true;
        else
        if (c == '[' || c == '{') {
            if (++depth > max_depth)
                return -1;
            if (depth > deepest)
                deepest = depth;
        }
        else
        if ((c == ']' || c == '}') && depth > 0)
            depth--;
    }
    return deepest;
}

//  Parse text with jansson once its depth is known to be safe.
json_t *
enp_json_load (const char *text, size_t size, size_t flags, char *err,
               size_t err_len)
{
    if (enp_json_depth (text, size, ENP_JSON_DEPTH_MAX) < 0) {
        enp_status_explain (err, err_len, "body nests arrays or objects more"
                            " than %d levels deep", ENP_JSON_DEPTH_MAX);
        return NULL;
    }
    json_error_t error;
    json_t *value = json_loadb (text? text: "", size, flags, &error);
    if (!value)
        enp_status_explain (err, err_len, "body is not valid JSON: %s (at byte %d)",
                            error.text, error.position);
    return value;
}
