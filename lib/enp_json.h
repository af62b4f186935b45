//  enp_json - reading untrusted JSON text safely with jansson
#ifndef ENP_JSON_H_INCLUDED
#define ENP_JSON_H_INCLUDED

#include <stddef.h>
#include <jansson.h>

//  The deepest nesting of arrays and objects a request may use. The API's
//  documents need 3 levels (a batch: {"events":[{...}]}); jansson parses recursively and overflows a
//  CivetWeb worker's ~100 KiB stack at ~850 levels, well below its own limit
//  of 2,048, so depth is checked before jansson sees the text.
#define ENP_JSON_DEPTH_MAX 16

//  Return the deepest nesting of arrays and objects in text (size bytes),
//  counting only brackets outside strings, or -1 as soon as it passes
//  max_depth. Reads every byte at most once and never recurses; it does not
//  check that text is JSON (jansson does that afterwards).
int enp_json_depth (const char *text, size_t size, int max_depth);

//  Parse text as JSON with jansson's flags once its nesting is at most
//  ENP_JSON_DEPTH_MAX. Valid JSON jansson cannot hold is still read, so a
//  caller can name the member that is wrong instead of calling the text
//  malformed: a number too large for jansson (1e999, an integer past 64
//  bits) reads as the real 1e308 (or -1e308), and U+0000 in a member name
//  as U+2400 (SYMBOL FOR NULL). Pass JSON_ALLOW_NUL to read U+0000 in
//  string values too (check them with json_string_length). Returns the
//  value (caller owns it), or NULL with the reason in err (may be NULL).
json_t *enp_json_load (const char *text, size_t size, size_t flags,
                       char *err, size_t err_len);

//  Return the JSON pointer (RFC 6901) base + "/" + token, the token's '~'
//  written "~0" and '/' "~1": "/events" and "3" give "/events/3". base
//  may be "" (the whole document). Returns a new string (caller frees), or
//  NULL when out of memory.
char *enp_json_pointer (const char *base, const char *token);

#endif
