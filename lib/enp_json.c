/*  enp_json - reading untrusted JSON text safely with jansson

    Every JSON body the services read comes from the network. jansson's
    parser recurses once per nesting level, and the threads that run
    CivetWeb's handlers have small stacks: a 1 KB body of '[' took the
    logger down. So the nesting is measured first, by a loop that only
    counts brackets outside strings (no recursion, no allocation), and
    jansson sees only text whose depth is bounded.

    jansson also refuses some valid JSON it cannot hold: numbers past what
    a double or a 64-bit integer holds (1e999), and member names holding
    U+0000. A client sending them made a schema mistake (a wrong type, an
    unknown member), not a syntax one, and deserves to hear which member
    is wrong. So when jansson stops for one of these reasons, a copy of
    the text is patched, in place and at the same length, into JSON it
    can hold, and parsed again, once.
*/
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "enp_json.h"
#include "enp_status.h"

//  What a number too large for jansson becomes: the largest power of ten
//  a double holds, no longer than any number that overflows ("1e309")
#define S_HUGE              "1e308"
#define S_NUL_ESCAPE        "\\u0000"
#define S_NUL_STANDIN       "\\u2400"
#define S_ESCAPE_SIZE       (sizeof S_NUL_ESCAPE - 1)

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

//  If the number token at text [start, end) is too large for jansson (a
//  real that overflows a double, an integer past 64 bits), overwrite it
//  with S_HUGE (signed), padded with blanks. text is NUL-terminated.
static void
s_patch_number (char *text, size_t start, size_t end)
{
    char *token = text + start, *stop = NULL;
    size_t length = end - start;
    bool negative = *token == '-';
    bool real = memchr (token, '.', length) || memchr (token, 'e', length)
             || memchr (token, 'E', length);
    bool overflow;
    errno = 0;
    if (real)
        overflow = isinf (strtod (token, &stop));
    else {
        (void) strtoll (token, &stop, 10);
        overflow = errno == ERANGE;
    }
    size_t size = sizeof S_HUGE - 1 + negative;
    if (!overflow || stop != text + end || length < size)
        return;
    memset (token, ' ', length);
    if (negative)
        *token = '-';
    memcpy (token + negative, S_HUGE, sizeof S_HUGE - 1);
}

//  Replace each \u0000 escape in the string at text [start, end) (between
//  its quotes) with \u2400, "SYMBOL FOR NULL".
static void
s_patch_name (char *text, size_t start, size_t end)
{
    for (size_t index = start; index < end; index++)
        if (text [index] == '\\') {
            if (end - index >= S_ESCAPE_SIZE
            &&  memcmp (text + index, S_NUL_ESCAPE, S_ESCAPE_SIZE) == 0)
                memcpy (text + index, S_NUL_STANDIN, S_ESCAPE_SIZE);
            index++;                //  Skip what the backslash escapes
        }
}

//  Patch, in one pass, every number jansson cannot hold and every member
//  name holding U+0000, outside and inside strings as JSON's grammar has
//  them. Text that is not JSON is left for jansson to refuse.
static void
s_patch (char *text, size_t size)
{
    size_t index = 0;
    while (index < size) {
        char c = text [index];
        if (c == '"') {
            size_t start = ++index;
            while (index < size && text [index] != '"')
                index += text [index] == '\\'? 2: 1;
            size_t end = index < size? index: size;
            index = end + 1;
            //  A member name is a string followed by a colon
            size_t next = index + strspn (text + (index < size? index: size), " \t\r\n");
            if (next < size && text [next] == ':')
                s_patch_name (text, start, end);
        }
        else
        if (c == '-' || (c >= '0' && c <= '9')) {
            size_t start = index;
            index += strspn (text + index, "-+.eE0123456789");
            s_patch_number (text, start, index < size? index: size);
        }
        else
            index++;
    }
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
    enum json_error_code code = value? json_error_unknown: json_error_code (&error);
    if (code == json_error_numeric_overflow || code == json_error_null_byte_in_key) {
        char *copy = (char *) malloc (size + 1);
        if (copy) {
            memcpy (copy, text, size);
            copy [size] = '\0';
            s_patch (copy, size);
            value = json_loadb (copy, size, flags, &error);
            free (copy);
        }
    }
    if (!value)
        enp_status_explain (err, err_len, "body is not valid JSON: %s (at byte %d)",
                            error.text, error.position);
    return value;
}

//  Return base + "/" + token, escaped as RFC 6901 says.
char *
enp_json_pointer (const char *base, const char *token)
{
    size_t base_size = strlen (base), size = base_size + 2;
    for (const char *c = token; *c; c++)
        size += (*c == '~' || *c == '/')? 2: 1;
    char *pointer = (char *) malloc (size);
    if (!pointer)
        return NULL;
    memcpy (pointer, base, base_size);
    char *cursor = pointer + base_size;
    *cursor++ = '/';
    for (const char *c = token; *c; c++)
        if (*c == '~' || *c == '/') {
            *cursor++ = '~';
            *cursor++ = *c == '~'? '0': '1';
        }
        else
            *cursor++ = *c;
    *cursor = '\0';
    return pointer;
}
