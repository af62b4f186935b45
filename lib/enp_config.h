//  enp_config - options from defaults, the environment and flags, with --help
#ifndef ENP_CONFIG_H_INCLUDED
#define ENP_CONFIG_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef struct _enp_config_t enp_config_t;

//  Create a configuration for an app. env_prefix is e.g. "EVENT_LOGGER_";
//  summary is the first line of --help. Returns NULL on failure.
enp_config_t *enp_config_new (const char *app, const char *env_prefix,
                              const char *summary);
//  Destroy the configuration; nulls the caller's pointer.
void enp_config_destroy (enp_config_t **self_p);
//  Return the app's name, as given to enp_config_new.
const char *enp_config_app (enp_config_t *self);
//  Return the value of an option (default, environment or flag, in rising
//  order of precedence). Valid until the configuration dies. NULL if the
//  option was never declared.
const char *enp_config_get (enp_config_t *self, const char *name);
//  Return true when the environment or a flag set the option (to any
//  value, its default included), false when it has its default.
bool enp_config_is_given (enp_config_t *self, const char *name);
//  Return true when a switch (see enp_config_switch) was given.
bool enp_config_is_on (enp_config_t *self, const char *name);
//  Read an option as a whole number in [min, max]. Returns 0, or -1 with a
//  message in err (which may be NULL).
int enp_config_get_long (enp_config_t *self, const char *name, long min,
                         long max, long *value, char *err, size_t err_len);
//  Declare an option taking a value, e.g. "max-events" (flag --max-events,
//  variable PREFIX_MAX_EVENTS). Strings are copied. Returns 0 or -1.
int enp_config_option (enp_config_t *self, const char *name,
                       const char *default_value, const char *help);
//  Declare a switch that takes no value, e.g. "healthcheck". Returns 0 or -1.
int enp_config_switch (enp_config_t *self, const char *name, const char *help);
//  Apply the environment, then argv. Returns 0 when the app should run, 1
//  when --help was printed to out, -1 with a message in err on bad input.
int enp_config_parse (enp_config_t *self, int argc, char **argv, FILE *out,
                      char *err, size_t err_len);
//  Print usage, every option with its variable and default, to out.
void enp_config_print_help (enp_config_t *self, FILE *out);

#endif
