//  enp_log - the one logging facade: one line per record on standard error
#ifndef ENP_LOG_H_INCLUDED
#define ENP_LOG_H_INCLUDED

#include <stdbool.h>

typedef enum {
    ENP_LOG_DEBUG = 0,
    ENP_LOG_INFO,
    ENP_LOG_WARN,
    ENP_LOG_ERROR
} enp_log_level_t;

typedef enum {
    ENP_LOG_TEXT = 0,   //  time service LEVEL message [event_id=...]
    ENP_LOG_JSON        //  {"time","level","service","message","event_id"}
} enp_log_format_t;

//  Set the service name written on every line (copied, at most 63 bytes).
void enp_log_init (const char *service);
//  Set the lowest level written. Returns -1 if name is not a level name.
int enp_log_set_level_name (const char *name);
//  Set the line format by name, "text" or "json". Returns -1 if unknown.
int enp_log_set_format_name (const char *name);
//  Return true when records at this level are written.
bool enp_log_enabled (enp_log_level_t level);
//  Format and write one record; event_id may be NULL. Prefer the macros,
//  which skip formatting when the level is off.
void enp_log_write (enp_log_level_t level, const char *event_id,
                    const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

#define ENP_LOG_AT(level, event_id, ...) \
    do { if (enp_log_enabled (level)) \
             enp_log_write ((level), (event_id), __VA_ARGS__); } while (0)
#define enp_log_debug(...) ENP_LOG_AT (ENP_LOG_DEBUG, NULL, __VA_ARGS__)
#define enp_log_info(...)  ENP_LOG_AT (ENP_LOG_INFO, NULL, __VA_ARGS__)
#define enp_log_warn(...)  ENP_LOG_AT (ENP_LOG_WARN, NULL, __VA_ARGS__)
#define enp_log_error(...) ENP_LOG_AT (ENP_LOG_ERROR, NULL, __VA_ARGS__)
//  Variants that name the event a record is about.
#define enp_log_event_debug(id, ...) ENP_LOG_AT (ENP_LOG_DEBUG, (id), __VA_ARGS__)
#define enp_log_event_info(id, ...)  ENP_LOG_AT (ENP_LOG_INFO, (id), __VA_ARGS__)
#define enp_log_event_warn(id, ...)  ENP_LOG_AT (ENP_LOG_WARN, (id), __VA_ARGS__)
#define enp_log_event_error(id, ...) ENP_LOG_AT (ENP_LOG_ERROR, (id), __VA_ARGS__)

#endif
