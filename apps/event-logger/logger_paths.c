/*  logger_paths - where the logger's installed files are

    The build tree mirrors the install tree: bin/event-logger and
    share/event-logger/docs/ sit side by side in build/ as under the install
    prefix. Looking the Swagger UI files up relative to the executable
    therefore works in both, for any `cmake --install --prefix`, without
    compiling in an absolute path that only one of them has.
*/
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "logger_paths.h"

char *
logger_paths_beside_exe (const char *path)
{
    if (!path)
        return NULL;
    if (path [0] == '/')
        return strdup (path);
    char exe [PATH_MAX];
    ssize_t size = readlink ("/proc/self/exe", exe, sizeof exe - 1);
    if (size <= 0)
        return NULL;
    exe [size] = '\0';
    char *joined = NULL;
    if (asprintf (&joined, "%s/%s", dirname (exe), path) < 0)
        return NULL;
    //  Canonical when it exists; a missing folder keeps its joined name so
    //  the error message that mentions it still says where it was sought
    char *canonical = realpath (joined, NULL);
    if (canonical) {
        free (joined);
        return canonical;
    }
    return joined;
}
