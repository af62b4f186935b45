/*  loadgen_http - parse one HTTP/1.1 response out of a receive buffer

    Just enough HTTP for a load generator reading its own keep-alive
    connections: status, Content-Length or chunked bodies, and the few
    headers the modes act on. Bodies are not copied unless chunked.
*/
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "loadgen_http.h"
#include "loadgen_util.h"

//  If the header line (len bytes, no CRLF) is name, point value at its
//  trimmed value and return 1.
static int
s_header_is (const char *line, size_t len, const char *name, const char **value,
             size_t *value_len)
{
    size_t name_len = strlen (name);
    if (len <= name_len || line [name_len] != ':' || strncasecmp (line, name, name_len) != 0)
        return 0;
    const char *start = line + name_len + 1;
    const char *end = line + len;
    while (start < end && (*start == ' ' || *start == '\t'))
        start++;
    while (end > start && (end [-1] == ' ' || end [-1] == '\t'))
        end--;
    *value = start;
    *value_len = (size_t) (end - start);
    return 1;
}

//  Read the headers the modes use; set content_length (-1 if absent) and
//  chunked.
static void
s_parse_headers (const char *buf, size_t header_len, loadgen_http_response_t *response,
                 long *content_length, int *chunked)
{
    const char *line = memchr (buf, '\n', header_len);
    line = line? line + 1: buf + header_len;
    while (line < buf + header_len - 2) {
        const char *eol = memmem (line, (size_t) (buf + header_len - line), "\r\n", 2);
        if (!eol)
            break;
        size_t line_len = (size_t) (eol - line);
        const char *value;
        size_t value_len;
        if (s_header_is (line, line_len, "Content-Length", &value, &value_len))
            *content_length = strtol (value, NULL, 10);
        else
        if (s_header_is (line, line_len, "Transfer-Encoding", &value, &value_len)) {
            if (value_len >= 7 && memmem (value, value_len, "chunked", 7))
                *chunked = 1;
        }
        else
        if (s_header_is (line, line_len, "Location", &value, &value_len)) {
            if (value_len >= sizeof response->location)
                value_len = sizeof response->location - 1;
            memcpy (response->location, value, value_len);
            response->location [value_len] = 0;
        }
        else
        if (s_header_is (line, line_len, "Retry-After", &value, &value_len))
            response->retry_after = atoi (value);
        else
        if (s_header_is (line, line_len, "Connection", &value, &value_len)) {
            if (value_len >= 5 && strncasecmp (value, "close", 5) == 0)
                response->close = 1;
        }
        line = eol + 2;
    }
}

//  A chunked body from header_len on: find its end (first pass), then copy
//  the chunks into one buffer (second pass). Returns as loadgen_http_parse.
static int
s_parse_chunked (const char *buf, size_t len, int eof, size_t header_len,
                 loadgen_http_response_t *response)
{
    size_t position = header_len, total = 0;
    while (1) {
        const char *eol = memmem (buf + position, len - position, "\r\n", 2);
        if (!eol)
            return eof? -1: 0;
        unsigned long size = strtoul (buf + position, NULL, 16);
        size_t data = (size_t) (eol - buf) + 2;
        if (size == 0) {
            if (data + 2 <= len && buf [data] == '\r' && buf [data + 1] == '\n')
                response->consumed = data + 2;
            else {
                const char *trailer_end = memmem (buf + data, len - data, "\r\n\r\n", 4);
                if (!trailer_end)
                    return eof? -1: 0;
                response->consumed = (size_t) (trailer_end - buf) + 4;
            }
            break;
        }
        if (data + size + 2 > len)
            return eof? -1: 0;
        total += size;
        position = data + size + 2;
    }
    response->dechunked = loadgen_malloc (total + 1);
    size_t offset = 0;
    position = header_len;
    while (1) {
        const char *eol = memmem (buf + position, len - position, "\r\n", 2);
        unsigned long size = strtoul (buf + position, NULL, 16);
        size_t data = (size_t) (eol - buf) + 2;
        if (size == 0)
            break;
        memcpy (response->dechunked + offset, buf + data, size);
        offset += size;
        position = data + size + 2;
    }
    response->dechunked [offset] = 0;
    response->body = response->dechunked;
    response->body_len = offset;
    return 1;
}

int
loadgen_http_parse (const char *buf, size_t len, int eof, loadgen_http_response_t *response)
{
    memset (response, 0, sizeof *response);
    response->retry_after = -1;
    const char *end = memmem (buf, len, "\r\n\r\n", 4);
    if (!end)
        return eof? -1: 0;
    size_t header_len = (size_t) (end - buf) + 4;
    if (len < 12 || strncmp (buf, "HTTP/1.", 7) != 0)
        return -1;
    response->status = atoi (buf + 9);
    if (response->status < 100 || response->status > 999)
        return -1;
    long content_length = -1;
    int chunked = 0;
    s_parse_headers (buf, header_len, response, &content_length, &chunked);
    if (chunked)
        return s_parse_chunked (buf, len, eof, header_len, response);
    if (content_length >= 0) {
        if (len < header_len + (size_t) content_length)
            return eof? -1: 0;
        response->body = buf + header_len;
        response->body_len = (size_t) content_length;
        response->consumed = header_len + (size_t) content_length;
        return 1;
    }
    if (response->status == 204 || response->status == 304 || response->status < 200) {
        response->consumed = header_len;
        response->body = buf + header_len;
        return 1;
    }
    //  No length: the body ends when the server closes
    if (!eof)
        return 0;
    response->body = buf + header_len;
    response->body_len = len - header_len;
    response->consumed = len;
    response->close = 1;
    return 1;
}

void
loadgen_http_response_free (loadgen_http_response_t *response)
{
    free (response->dechunked);
    response->dechunked = NULL;
}
