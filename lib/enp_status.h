//  enp_status - result codes shared by every class of the pipeline
#ifndef ENP_STATUS_H_INCLUDED
#define ENP_STATUS_H_INCLUDED

#include <stddef.h>

typedef enum {
    ENP_OK = 0,         //  success
    ENP_EPARSE,         //  input is not well formed (bad JSON, not a UUID)
    ENP_EINVAL,         //  input is well formed but breaks the schema
    ENP_ENOTFOUND,      //  no such object
    ENP_EFULL,          //  a bounded container is full; retry later
    ENP_ENOMEM,         //  out of memory
    ENP_EIO             //  a socket or file failed
} enp_status_t;

//  Return a short, static, human-readable name for a status.
const char *enp_status_str (enp_status_t status);
//  Format an explanation into err, the caller-supplied buffer that parsers
//  fill (every parser takes err, err_len); does nothing when err is NULL or err_len is 0.
void enp_status_explain (char *err, size_t err_len, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

#endif
