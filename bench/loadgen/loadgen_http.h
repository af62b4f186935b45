//  loadgen_http - parse one HTTP/1.1 response out of a receive buffer
#ifndef LOADGEN_HTTP_H_INCLUDED
#define LOADGEN_HTTP_H_INCLUDED

#include <stddef.h>

typedef struct {
    int status;                 //  the status code
    size_t consumed;            //  bytes of the whole message in the buffer
    const char *body;           //  points into the buffer, or into dechunked
    size_t body_len;
    char *dechunked;            //  the body when chunked; owned, see _free
    char location [160];        //  Location header, or ""
    int retry_after;            //  Retry-After seconds, -1 if absent
    int close;                  //  the server will close the connection
} loadgen_http_response_t;

//  Parse the response at the start of buf (len bytes; eof: the peer has
//  closed). Returns 1 when a whole response is there (fills response, which
//  then needs loadgen_http_response_free), 0 when more bytes are needed, -1
//  when it is malformed.
int loadgen_http_parse (const char *buf, size_t len, int eof,
                        loadgen_http_response_t *response);
//  Free what a parsed response owns.
void loadgen_http_response_free (loadgen_http_response_t *response);

#endif
