/*  enp_config - options from defaults, the environment and flags, with --help

    Every option of every app is both a flag and an environment variable:
    flag --foo-bar of an app reads PREFIX_FOO_BAR, and the flag wins. Apps
    declare their options with a default and a help line, so --help is
    always complete and cannot drift from what the app reads.
*/
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include "enp_config.h"
#include "enp_status.h"

#define ENP_CONFIG_MAX_OPTIONS 48

typedef struct {
    char *name;                 //  e.g. "max-events"
    char *variable;             //  e.g. "EVENT_LOGGER_MAX_EVENTS"
    char *value;                //  current value, owned
    char *default_value;        //  shown by --help, owned
    char *help;                 //  one line, owned
    bool is_switch;             //  takes no value
    bool given;                 //  set by the environment or a flag
} s_option_t;

struct _enp_config_t {
    char *app;                  //  program name for --help
    char *env_prefix;           //  e.g. "EVENT_LOGGER_"
    char *summary;              //  first line of --help
    s_option_t options [ENP_CONFIG_MAX_OPTIONS];
    size_t count;               //  options declared
};

//  Find an option by its name, or NULL.
static s_option_t *
s_find (enp_config_t *self, const char *name, size_t name_len)
{
    for (size_t index = 0; index < self->count; index++) {
        s_option_t *option = &self->options [index];
        if (strlen (option->name) == name_len
        &&  memcmp (option->name, name, name_len) == 0)
            return option;
    }
    return NULL;
}

//  Replace an option's value with a copy of value.
static int
s_set (s_option_t *option, const char *value)
{
    char *copy = strdup (value);
    if (!copy)
        return -1;
    free (option->value);
    option->value = copy;
    return 0;
}

//  Declare one option or switch.
static int
s_declare (enp_config_t *self, const char *name, const char *default_value,
           const char *help, bool is_switch)
{
    if (!self || !name || self->count == ENP_CONFIG_MAX_OPTIONS)
        return -1;
    s_option_t *option = &self->options [self->count];
    size_t variable_size = strlen (self->env_prefix) + strlen (name) + 1;
    option->variable = malloc (variable_size);
    option->name = strdup (name);
    option->default_value = strdup (default_value? default_value: "");
    option->value = strdup (default_value? default_value: "");
    option->help = strdup (help? help: "");
    option->is_switch = is_switch;
    self->count++;              //  Counted now so destroy frees partial work
    if (!option->variable || !option->name || !option->default_value
    ||  !option->value || !option->help)
        return -1;
    snprintf (option->variable, variable_size, "%s%s", self->env_prefix, name);
    for (char *cursor = option->variable; *cursor; cursor++)
        *cursor = *cursor == '-'? '_': (char) toupper ((unsigned char) *cursor);
    return 0;
}

//  Create a configuration for an app.
enp_config_t *
enp_config_new (const char *app, const char *env_prefix, const char *summary)
{
    enp_config_t *self = (enp_config_t *) calloc (1, sizeof (enp_config_t));
    if (!self)
        return NULL;
    self->app = strdup (app? app: "app");
    self->env_prefix = strdup (env_prefix? env_prefix: "");
    self->summary = strdup (summary? summary: "");
    if (!self->app || !self->env_prefix || !self->summary
    ||  s_declare (self, "help", NULL, "print this help and exit", true)) {
        enp_config_destroy (&self);
        return NULL;
    }
    return self;
}

//  Destroy the configuration.
void
enp_config_destroy (enp_config_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    enp_config_t *self = *self_p;
    for (size_t index = 0; index < self->count; index++) {
        s_option_t *option = &self->options [index];
        free (option->name);
        free (option->variable);
        free (option->value);
        free (option->default_value);
        free (option->help);
    }
    free (self->summary);
    free (self->env_prefix);
    free (self->app);
    free (self);
    *self_p = NULL;
}

//  Return the app's name.
const char *
enp_config_app (enp_config_t *self)
{
    return self->app;
}

//  Return the value of an option.
const char *
enp_config_get (enp_config_t *self, const char *name)
{
    s_option_t *option = s_find (self, name, strlen (name));
    return option? option->value: NULL;
}

//  Return true when the environment or a flag set the option.
bool
enp_config_is_given (enp_config_t *self, const char *name)
{
    s_option_t *option = s_find (self, name, strlen (name));
    return option && option->given;
}

//  Return true when a switch was given.
bool
enp_config_is_on (enp_config_t *self, const char *name)
{
    const char *value = enp_config_get (self, name);
    return value && (strcmp (value, "1") == 0 || strcmp (value, "true") == 0
                 ||  strcmp (value, "yes") == 0);
}

//  Read an option as a whole number in [min, max].
int
enp_config_get_long (enp_config_t *self, const char *name, long min,
                     long max, long *value, char *err, size_t err_len)
{
    const char *text = enp_config_get (self, name);
    if (!text) {
        enp_status_explain (err, err_len, "unknown option --%s", name);
        return -1;
    }
    char *end = NULL;
    errno = 0;
    long number = strtol (text, &end, 10);
    if (errno || end == text || *end || number < min || number > max) {
        enp_status_explain (err, err_len, "--%s must be a whole number from %ld to %ld,"
                 " not '%s'", name, min, max, text);
        return -1;
    }
    *value = number;
    return 0;
}

//  Declare an option taking a value.
int
enp_config_option (enp_config_t *self, const char *name,
                   const char *default_value, const char *help)
{
    return s_declare (self, name, default_value, help, false);
}

//  Declare a switch that takes no value.
int
enp_config_switch (enp_config_t *self, const char *name, const char *help)
{
    return s_declare (self, name, NULL, help, true);
}

//  Apply the environment, then argv.
int
enp_config_parse (enp_config_t *self, int argc, char **argv, FILE *out,
                  char *err, size_t err_len)
{
    //  Options from index 1: "help" comes from the command line only
    for (size_t index = 1; index < self->count; index++) {
        s_option_t *option = &self->options [index];
        const char *value = getenv (option->variable);
        if (value && !option->is_switch && s_set (option, value))
            return -1;
        if (value && option->is_switch
        &&  s_set (option, (*value && strcmp (value, "0") != 0
                            && strcmp (value, "false") != 0)? "true": ""))
            return -1;
        option->given = value != NULL;
    }
    for (int arg = 1; arg < argc; arg++) {
        const char *text = argv [arg];
        if (strncmp (text, "--", 2) != 0 || text [2] == '\0') {
            enp_status_explain (err, err_len, "unexpected argument '%s' (try --help)", text);
            return -1;
        }
        const char *name = text + 2;
        const char *equals = strchr (name, '=');
        size_t name_len = equals? (size_t) (equals - name): strlen (name);
        s_option_t *option = s_find (self, name, name_len);
        if (!option) {
            enp_status_explain (err, err_len, "unknown option '%s' (try --help)", text);
            return -1;
        }
        const char *value = NULL;
        if (option->is_switch) {
            if (equals) {
                enp_status_explain (err, err_len, "--%s takes no value", option->name);
                return -1;
            }
            value = "true";
        }
        else
        if (equals)
            value = equals + 1;
        else
        if (arg + 1 < argc)
            value = argv [++arg];
        else {
            enp_status_explain (err, err_len, "--%s needs a value", option->name);
            return -1;
        }
        if (s_set (option, value)) {
            enp_status_explain (err, err_len, "out of memory");
            return -1;
        }
        option->given = true;
    }
    if (enp_config_is_on (self, "help")) {
        enp_config_print_help (self, out);
        return 1;
    }
    return 0;
}

//  Print usage, every option with its variable and default.
void
enp_config_print_help (enp_config_t *self, FILE *out)
{
    fprintf (out, "Usage: %s [OPTION]...\n%s\n\n", self->app, self->summary);
    fprintf (out, "Every option can also be set by the environment variable"
                  " shown; the flag wins.\n\n");
    for (size_t index = 0; index < self->count; index++) {
        s_option_t *option = &self->options [index];
        if (option->is_switch)
            fprintf (out, "  --%s\n", option->name);
        else
            fprintf (out, "  --%s VALUE\n", option->name);
        if (index == 0) {
            fprintf (out, "      %s\n", option->help);
            continue;
        }
        fprintf (out, "      %s\n      env %s", option->help, option->variable);
        if (!option->is_switch)
            fprintf (out, ", default '%s'", option->default_value);
        fprintf (out, "\n");
    }
}
