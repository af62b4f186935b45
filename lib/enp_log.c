/*  enp_log - the one logging facade: one line per record on standard error

    Every service logs through here so that operators get the same shape of
    line everywhere: time, service, level, message and, where there is one,
    the event id. Each record is written with a single write(2) so lines
    from many threads never interleave. Standard output stays free for the
    product's own output (the processor's notification lines).
*/
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>
#include "enp_log.h"
#include "enp_time.h"

//  Process-wide settings; written once at start-up by main, before any
//  thread starts, and only read afterwards.
static char s_service [64] = "enp";
static enp_log_level_t s_level = ENP_LOG_INFO;
static enp_log_format_t s_format = ENP_LOG_TEXT;

#define S_MESSAGE_MAX   1024    //  bytes of a message; longer ones are cut
#define S_LINE_MAX      (S_MESSAGE_MAX + 176)   //  and of time, service, level, id

static const char *s_level_names [] = { "debug", "info", "warn", "error" };
#define S_LEVELS (sizeof s_level_names / sizeof s_level_names [0])

//  Write the whole buffer to standard error, retrying on short writes.
static void
s_write_all (const char *data, size_t size)
{
    while (size > 0) {
        ssize_t rc = write (STDERR_FILENO, data, size);
        if (rc <= 0)
            return;             //  Nowhere else to report a failed log write
        data += rc;
        size -= (size_t) rc;
    }
}

//  Length of the valid UTF-8 sequence at text, or 0 if it is not one.
static size_t
s_utf8_length (const unsigned char *text)
{
    unsigned char c = text [0];
    size_t length = c < 0x80? 1: (c & 0xe0) == 0xc0? 2: (c & 0xf0) == 0xe0? 3
                  : (c & 0xf8) == 0xf0? 4: 0;
    if (length == 0 || (length == 2 && c < 0xc2) || (c == 0xf4 && text [1] > 0x8f)
    ||  c > 0xf4 || (c == 0xe0 && text [1] < 0xa0) || (c == 0xf0 && text [1] < 0x90)
    ||  (c == 0xed && text [1] > 0x9f))
        return length == 1? 1: 0;
    for (size_t index = 1; index < length; index++)
        if ((text [index] & 0xc0) != 0x80)
            return 0;
    return length;
}

//  Replace bytes that are not valid UTF-8 with '?', in place, so a message
//  holding them (or cut mid-character) still makes a JSON record.
static void
s_sanitize_utf8 (char *text)
{
    unsigned char *cursor = (unsigned char *) text;
    while (*cursor) {
        size_t length = s_utf8_length (cursor);
        if (length == 0)
            *cursor++ = '?';
        else
            cursor += length;
    }
}

//  Render one record as a JSON object on one line, escaping with jansson.
static void
s_write_json (const char *time, enp_log_level_t level, const char *event_id,
              const char *message)
{
    json_t *record = json_pack ("{s:s, s:s, s:s, s:s}",
                                "time", time, "level", s_level_names [level],
                                "service", s_service, "message", message);
    if (!record)
        return;
    if (event_id)
        json_object_set_new (record, "event_id", json_string (event_id));
    char *text = json_dumps (record, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref (record);
    if (text) {
        size_t size = strlen (text);
        text [size] = '\n';     //  Replace the NUL: we write by length
        s_write_all (text, size + 1);
        free (text);
    }
}

//  Set the service name written on every line.
void
enp_log_init (const char *service)
{
    snprintf (s_service, sizeof s_service, "%s", service? service: "enp");
}

//  Set the lowest level written, by name.
int
enp_log_set_level_name (const char *name)
{
    for (size_t index = 0; index < S_LEVELS; index++)
        if (name && strcmp (name, s_level_names [index]) == 0) {
            s_level = (enp_log_level_t) index;
            return 0;
        }
    return -1;
}

//  Set the line format by name.
int
enp_log_set_format_name (const char *name)
{
    if (name && strcmp (name, "text") == 0)
        s_format = ENP_LOG_TEXT;
    else
    if (name && strcmp (name, "json") == 0)
        s_format = ENP_LOG_JSON;
    else
        return -1;
    return 0;
}

//  Return true when records at this level are written.
bool
enp_log_enabled (enp_log_level_t level)
{
    return level >= s_level;
}

//  Format and write one record.
void
enp_log_write (enp_log_level_t level, const char *event_id,
               const char *format, ...)
{
    if (level < ENP_LOG_DEBUG || level > ENP_LOG_ERROR)
        level = ENP_LOG_ERROR;
    char time [ENP_TIME_RFC3339_SIZE];
    enp_time_format (enp_time_now_ms (), time, sizeof time);

    char message [S_MESSAGE_MAX];
    va_list args;
    va_start (args, format);
    vsnprintf (message, sizeof message, format, args);
    va_end (args);
    //  Keep one record on one line whatever the message holds
    for (char *cursor = message; *cursor; cursor++)
        if (*cursor == '\n' || *cursor == '\r')
            *cursor = ' ';

    if (s_format == ENP_LOG_JSON) {
        s_sanitize_utf8 (message);
        s_write_json (time, level, event_id, message);
        return;
    }
    char line [S_LINE_MAX];
    int size;
    if (event_id)
        size = snprintf (line, sizeof line, "%s %s %s %s event_id=%s\n", time,
                         s_service, s_level_names [level], message, event_id);
    else
        size = snprintf (line, sizeof line, "%s %s %s %s\n", time,
                         s_service, s_level_names [level], message);
    if (size < 0)
        return;
    if ((size_t) size >= sizeof line) {
        size = sizeof line - 1;
        line [size - 1] = '\n';
    }
    s_write_all (line, (size_t) size);
}
