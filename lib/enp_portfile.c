/*  enp_portfile - a service's metrics port, recorded for --healthcheck

    A broker or processor started with the default metrics port takes a
    free port when the default is busy (a second processor on the host),
    and `--healthcheck` must still find it. So each service records the
    port it bound in a small file named after its app and its PID, in a
    runtime folder both it and --healthcheck can name, and keeps an
    exclusive lock on that file while it lives. A reader that can take the
    lock knows the writer is gone (killed, even with SIGKILL: the kernel
    drops the lock with the process) and ignores the record, so stale
    files and recycled PIDs mislead nobody.

    The file is written under a temporary name and renamed into place, so
    a reader sees either no record or a whole one.
*/
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include "enp_portfile.h"
#include "enp_status.h"

#define S_SUFFIX        ".port"
#define S_TEMP_SUFFIX   ".port.new"
#define S_PATH_MAX      1024    //  bytes of a record's path
#define S_CONTENT_MAX   16      //  bytes of a record: a port and a newline
#define S_PORT_MAX      65535

struct _enp_portfile_t {
    char *path;                 //  the record, owned
    int fd;                     //  open on the record, locked; -1 if not
};

//  Make the folder if needed, and trust it only if it is ours: a folder
//  in /tmp that someone else made first could feed --healthcheck lies.
static int
s_dir_ready (const char *dir, char *err, size_t err_len)
{
    if (mkdir (dir, 0700) != 0 && errno != EEXIST) {
        enp_status_explain (err, err_len, "cannot make %s: %s", dir, strerror (errno));
        return -1;
    }
    struct stat status;
    if (lstat (dir, &status) != 0) {
        enp_status_explain (err, err_len, "cannot read %s: %s", dir, strerror (errno));
        return -1;
    }
    if (!S_ISDIR (status.st_mode)) {
        enp_status_explain (err, err_len, "%s is not a folder", dir);
        return -1;
    }
    if (status.st_uid != geteuid ()) {
        enp_status_explain (err, err_len, "%s belongs to another user", dir);
        return -1;
    }
    return 0;
}

//  Read the port a record holds; 0 if it holds none.
static int
s_read_port (int fd)
{
    char text [S_CONTENT_MAX];
    ssize_t size = read (fd, text, sizeof text - 1);
    if (size <= 0)
        return 0;
    text [size] = '\0';
    char *end = NULL;
    long port = strtol (text, &end, 10);
    return (end != text && (*end == '\n' || *end == '\0') && port > 0
            && port <= S_PORT_MAX)? (int) port: 0;
}

//  If name is app's record ("<app>.<pid>.port"), return its PID, else 0.
static pid_t
s_record_pid (const char *name, const char *app)
{
    size_t app_length = strlen (app);
    size_t length = strlen (name);
    size_t suffix_length = strlen (S_SUFFIX);
    if (length <= app_length + 1 + suffix_length
    ||  strncmp (name, app, app_length) != 0 || name [app_length] != '.'
    ||  strcmp (name + length - suffix_length, S_SUFFIX) != 0)
        return 0;
    const char *digits = name + app_length + 1;
    size_t count = length - app_length - 1 - suffix_length;
    if (strspn (digits, "0123456789") != count)
        return 0;
    return (pid_t) strtol (digits, NULL, 10);
}

//  Record this process's port.
enp_portfile_t *
enp_portfile_new (const char *dir, const char *app, int port, char *err,
                  size_t err_len)
{
    assert (dir && app);
    if (s_dir_ready (dir, err, err_len))
        return NULL;
    enp_portfile_t *self = (enp_portfile_t *) calloc (1, sizeof (enp_portfile_t));
    char temp [S_PATH_MAX], path [S_PATH_MAX];
    snprintf (path, sizeof path, "%s/%s.%ld%s", dir, app, (long) getpid (), S_SUFFIX);
    snprintf (temp, sizeof temp, "%s/%s.%ld%s", dir, app, (long) getpid (),
              S_TEMP_SUFFIX);
    if (self) {
        self->fd = -1;
        self->path = strdup (path);
    }
    if (!self || !self->path) {
        enp_status_explain (err, err_len, "out of memory");
        enp_portfile_destroy (&self);
        return NULL;
    }
    self->fd = open (temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    char content [S_CONTENT_MAX];
    int size = snprintf (content, sizeof content, "%d\n", port);
    if (self->fd < 0 || flock (self->fd, LOCK_EX | LOCK_NB) != 0
    ||  write (self->fd, content, (size_t) size) != size
    ||  rename (temp, path) != 0) {
        enp_status_explain (err, err_len, "cannot write %s: %s", path, strerror (errno));
        unlink (temp);
        if (self->fd >= 0)
            close (self->fd);
        self->fd = -1;
        enp_portfile_destroy (&self);
        return NULL;
    }
    return self;
}

//  Remove the record.
void
enp_portfile_destroy (enp_portfile_t **self_p)
{
    assert (self_p);
    if (!*self_p)
        return;
    enp_portfile_t *self = *self_p;
    if (self->fd >= 0) {
        unlink (self->path);
        close (self->fd);
    }
    free (self->path);
    free (self);
    *self_p = NULL;
}

//  Return the path of the record file.
const char *
enp_portfile_path (enp_portfile_t *self)
{
    assert (self);
    return self->path;
}

//  Read the live records of app in dir.
int
enp_portfile_find (const char *dir, const char *app, pid_t pid,
                   enp_portfile_entry_t *entries, size_t max)
{
    assert (dir && app);
    DIR *folder = opendir (dir);
    if (!folder)
        return -1;
    int count = 0;
    struct dirent *entry;
    while ((entry = readdir (folder))) {
        pid_t owner = s_record_pid (entry->d_name, app);
        if (owner <= 0 || (pid > 0 && owner != pid))
            continue;
        char path [S_PATH_MAX];
        snprintf (path, sizeof path, "%s/%s", dir, entry->d_name);
        int fd = open (path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
            continue;
        //  Taking the lock means its writer is gone: a stale record
        bool live = flock (fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
        int port = live? s_read_port (fd): 0;
        close (fd);
        if (port == 0)
            continue;
        if ((size_t) count < max) {
            entries [count].pid = owner;
            entries [count].port = port;
        }
        count++;
    }
    closedir (folder);
    return count;
}

//  Write the default folder of the records.
const char *
enp_portfile_default_dir (char *buf, size_t size)
{
    const char *runtime = getenv ("XDG_RUNTIME_DIR");
    if (runtime && *runtime)
        snprintf (buf, size, "%s/enp", runtime);
    else
        snprintf (buf, size, "/tmp/enp-%lu", (unsigned long) geteuid ());
    return buf;
}
