/*  enp_status - result codes shared by every class of the pipeline

    One enum for every class, so that a handler can tell the causes of a
    failure apart and map each to one HTTP status in one place.
*/
#include <stdarg.h>
#include <stdio.h>
#include "enp_status.h"

//  Return a short, static, human-readable name for a status.
const char *
enp_status_str (enp_status_t status)
{
    switch (status) {
        case ENP_OK:        return "ok";
        case ENP_EPARSE:    return "malformed input";
        case ENP_EINVAL:    return "invalid input";
        case ENP_ENOTFOUND: return "not found";
        case ENP_EFULL:     return "full";
        case ENP_ENOMEM:    return "out of memory";
        case ENP_EIO:       return "input/output error";
    }
    return "unknown status";
}

//  Format an explanation into the caller's error buffer, if any.
void
enp_status_explain (char *err, size_t err_len, const char *format, ...)
{
    if (!err || err_len == 0)
        return;
    va_list args;
    va_start (args, format);
    vsnprintf (err, err_len, format, args);
    va_end (args);
}
