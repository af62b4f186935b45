//  worker_line - the notification line a processor prints for each event
#ifndef WORKER_LINE_H_INCLUDED
#define WORKER_LINE_H_INCLUDED

#include <stddef.h>

typedef enum {
    WORKER_LINE_TEXT = 0,   //  Event {id} has been sent to {user_id}: {description}
    WORKER_LINE_JSON        //  {"event_id","user_id","description"}, ASCII only
} worker_line_format_t;

typedef struct _worker_line_t worker_line_t;

//  Read a format name, "text" or "json", into *format. Returns 0, or -1
//  when the name is neither.
int worker_line_format_parse (const char *name, worker_line_format_t *format);
//  Create a formatter for one format. Returns NULL on failure. Caller
//  owns the result.
worker_line_t *worker_line_new (worker_line_format_t format);
//  Destroy the formatter; nulls the caller's pointer.
void worker_line_destroy (worker_line_t **self_p);
//  Format the line for an event, newline included, into the formatter's
//  buffer; its length goes to *size_p (may be NULL). The text is always one
//  line with no raw control character, and two different events never
//  give the same line (README, "Notification lines", has the grammar).
//  Returns the line, valid until the next call, or NULL when out of memory
//  (or, for JSON, when a string is not UTF-8).
const char *worker_line_format (worker_line_t *self, const char *event_id,
                                const char *user_id, const char *description,
                                size_t *size_p);

#endif
