/*  worker_line - the notification line a processor prints for each event

    The line goes to a terminal or a log reader, and its text comes from
    whoever posted the event, so it is escaped to be safe and unambiguous:

    - a backslash is written \\, newline \n, carriage return \r, tab \t;
    - every other C0 control and DEL is written \xHH;
    - C1 controls (U+0080-U+009F, NEL and CSI among them), the line and
      paragraph separators U+2028/U+2029, and the bidirectional controls
      (U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069) are written
      \uHHHH: a terminal would obey them, or a reader would see the text
      reordered or split;
    - a byte that is not part of valid UTF-8 is written \xHH (the wire
      decoder refuses such text, but the formatter does not rely on it);
    - in user_id, a ':' followed by a space is written \x3a, so the line's
      first ": " always ends the user id.

    Every escape starts with a backslash and a backslash is always escaped,
    so the line decodes back to exactly one event: two different events
    never print the same line. The JSON format is for machines: one object
    per line made by jansson, ASCII only (\u escapes for everything else,
    DEL included), which keeps it one line and free of raw controls too.
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "worker_line.h"

//  The widest escape, \xHH, is 4 bytes for 1 byte of input.
#define S_ESCAPE_MAX 4

struct _worker_line_t {
    worker_line_format_t format;
    char *buf;                  //  the last line
    size_t size;                //  bytes allocated
};

//  Decode one UTF-8 sequence at text (at most left bytes). Returns its
//  length and the code point in *code, or 0 when it is not valid UTF-8
//  (overlong, a surrogate, past U+10FFFF, or cut short).
static size_t
s_utf8 (const unsigned char *text, size_t left, uint32_t *code)
{
    unsigned char lead = text [0];
    size_t length = lead >= 0xF0? 4: lead >= 0xE0? 3: lead >= 0xC0? 2: 0;
    if (length == 0 || lead > 0xF4 || length > left)
        return 0;
    uint32_t value = lead & (0x3F >> (length - 1));
    for (size_t index = 1; index < length; index++) {
        if ((text [index] & 0xC0) != 0x80)
            return 0;
        value = (value << 6) | (text [index] & 0x3F);
    }
    static const uint32_t smallest [] = { 0, 0, 0x80, 0x800, 0x10000 };
    if (value < smallest [length] || value > 0x10FFFF
    || (value >= 0xD800 && value <= 0xDFFF))
        return 0;
    *code = value;
    return length;
}

//  Return true for a code point written \uHHHH: C1 controls, the line and
//  paragraph separators and the bidirectional controls.
static int
s_escaped_code (uint32_t code)
{
    return (code >= 0x80 && code <= 0x9F) || code == 0x061C
        || code == 0x200E || code == 0x200F
        || (code >= 0x2028 && code <= 0x202E)
        || (code >= 0x2066 && code <= 0x2069);
}

//  Append text, escaped, at out; returns the new end. in_user_id turns on
//  the ": " rule. out has room for S_ESCAPE_MAX bytes per input byte.
static char *
s_escape (char *out, const char *text, int in_user_id)
{
    static const char hex [] = "0123456789abcdef";
    const unsigned char *cursor = (const unsigned char *) text;
    size_t left = strlen (text);
    while (left > 0) {
        unsigned char c = *cursor;
        size_t used = 1;
        uint32_t code = 0;
        if (c == '\\' || c == '\n' || c == '\r' || c == '\t') {
            *out++ = '\\';
            *out++ = c == '\\'? '\\': c == '\n'? 'n': c == '\r'? 'r': 't';
        }
        else
        if (c < 0x20 || c == 0x7F || (in_user_id && c == ':' && cursor [1] == ' ')) {
            out += sprintf (out, "\\x%c%c", hex [c >> 4], hex [c & 0x0F]);
        }
        else
        if (c < 0x80)
            *out++ = (char) c;
        else
        if ((used = s_utf8 (cursor, left, &code)) == 0) {
            used = 1;           //  Not UTF-8: the byte alone, in hex
            out += sprintf (out, "\\x%c%c", hex [c >> 4], hex [c & 0x0F]);
        }
        else
        if (s_escaped_code (code))
            out += sprintf (out, "\\u%04x", (unsigned int) code);
        else {
            memcpy (out, cursor, used);
            out += used;
        }
        cursor += used;
        left -= used;
    }
    return out;
}

//  Make room for size bytes. Returns 0 or -1.
static int
s_reserve (worker_line_t *self, size_t size)
{
    if (size <= self->size)
        return 0;
    char *grown = (char *) realloc (self->buf, size);
    if (!grown)
        return -1;
    self->buf = grown;
    self->size = size;
    return 0;
}

//  Format the text line.
static const char *
s_text (worker_line_t *self, const char *event_id, const char *user_id,
        const char *description, size_t *size_p)
{
    static const char prefix [] = "Event ";
    static const char middle [] = " has been sent to ";
    size_t most = sizeof prefix + sizeof middle + strlen (event_id) + 4
                + S_ESCAPE_MAX * (strlen (user_id) + strlen (description));
    if (s_reserve (self, most))
        return NULL;
    char *end = self->buf + sprintf (self->buf, "%s%s%s", prefix, event_id, middle);
    end = s_escape (end, user_id, 1);
    memcpy (end, ": ", 2);
    end = s_escape (end + 2, description, 0);
    *end++ = '\n';
    *end = '\0';
    *size_p = (size_t) (end - self->buf);
    return self->buf;
}

//  Format the JSON line.
static const char *
s_json (worker_line_t *self, const char *event_id, const char *user_id,
        const char *description, size_t *size_p)
{
    json_t *object = json_pack ("{s:s, s:s, s:s}", "event_id", event_id,
                                "user_id", user_id, "description", description);
    char *text = object? json_dumps (object, JSON_COMPACT | JSON_ENSURE_ASCII
                                             | JSON_PRESERVE_ORDER): NULL;
    json_decref (object);
    size_t length = text? strlen (text): 0;
    const char *line = NULL;
    //  JSON leaves DEL unescaped, and jansson with it; a terminal should
    //  not see it raw, so it becomes \u007f, which parses back the same
    if (text && s_reserve (self, 6 * length + 2) == 0) {
        char *end = self->buf;
        for (size_t index = 0; index < length; index++)
            if (text [index] == 0x7f)
                end += sprintf (end, "\\u007f");
            else
                *end++ = text [index];
        *end++ = '\n';
        *end = '\0';
        *size_p = (size_t) (end - self->buf);
        line = self->buf;
    }
    free (text);
    return line;
}

//  Read a format name.
int
worker_line_format_parse (const char *name, worker_line_format_t *format)
{
    if (name && strcmp (name, "text") == 0)
        *format = WORKER_LINE_TEXT;
    else
    if (name && strcmp (name, "json") == 0)
        *format = WORKER_LINE_JSON;
    else
        return -1;
    return 0;
}

//  Create a formatter.
worker_line_t *
worker_line_new (worker_line_format_t format)
{
    worker_line_t *self = (worker_line_t *) calloc (1, sizeof (worker_line_t));
    if (self)
        self->format = format;
    return self;
}

//  Destroy the formatter.
void
worker_line_destroy (worker_line_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free ((*self_p)->buf);
    free (*self_p);
    *self_p = NULL;
}

//  Format the line for an event.
const char *
worker_line_format (worker_line_t *self, const char *event_id,
                    const char *user_id, const char *description, size_t *size_p)
{
    size_t size = 0;
    const char *line = self->format == WORKER_LINE_JSON
        ? s_json (self, event_id, user_id, description, &size)
        : s_text (self, event_id, user_id, description, &size);
    if (size_p)
        *size_p = size;
    return line;
}
