/*  testkit_pg - a throwaway PostgreSQL cluster for the tests

    initdb and pg_ctl from the PostgreSQL installation (ENP_PG_BIN, else
    the newest /usr/lib/postgresql/<version>/bin), run as the user
    postgres when we are root. The server listens on a Unix socket in the
    cluster's own folder, so clusters of suites that run at once never
    meet, and with fsync off: these tests kill processes, not machines.

    pg_ctl starts the server as a daemon, which outlives a test that dies
    on a timeout. So a watchdog child waits on a pipe that only this
    process holds open (close-on-exec: the services the tests start do not
    inherit it); when it reads end of file - we are gone, one way or
    another - it stops the server and removes the folder.
*/
#include <assert.h>
#include <fcntl.h>
#include <glob.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <libpq-fe.h>
#include "testkit_pg.h"

#define S_PORT "5432"          //  names the socket file only

struct _testkit_pg_t {
    char bin [256];             //  PostgreSQL's bin folder
    char dir [64];              //  the cluster's folder, socket included
    int watchdog_fd;            //  write end of the watchdog's pipe
    pid_t watchdog;             //  the watchdog's PID
};

//  Find the PostgreSQL bin folder into bin. Returns 0 or -1.
static int
s_find_bin (char *bin, size_t size)
{
    const char *given = getenv ("ENP_PG_BIN");
    if (given && *given) {
        snprintf (bin, size, "%s", given);
        return 0;
    }
    glob_t found;
    if (glob ("/usr/lib/postgresql/*/bin/initdb", 0, NULL, &found) != 0)
        return -1;
    //  Sorted: the last is the newest major version (two digits since 10)
    snprintf (bin, size, "%s", found.gl_pathv [found.gl_pathc - 1]);
    globfree (&found);
    *strrchr (bin, '/') = '\0';
    return 0;
}

//  Run a PostgreSQL program (argv [0] a name in bin) as the cluster's
//  owner, its output appended to the cluster's log. Returns its exit
//  status, or -1.
static int
s_run (testkit_pg_t *self, const char *const argv [])
{
    char program [512], log [128];
    snprintf (program, sizeof program, "%s/%s", self->bin, argv [0]);
    snprintf (log, sizeof log, "%s/tools.log", self->dir);
    const char *args [32];
    size_t count = 0;
    if (geteuid () == 0) {
        args [count++] = "/sbin/runuser";
        args [count++] = "-u";
        args [count++] = "postgres";
        args [count++] = "--";
    }
    args [count++] = program;
    for (size_t index = 1; argv [index] && count < 31; index++)
        args [count++] = argv [index];
    args [count] = NULL;
    fflush (NULL);
    pid_t pid = fork ();
    if (pid == 0) {
        int out = open (log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (out >= 0) {
            dup2 (out, STDOUT_FILENO);
            dup2 (out, STDERR_FILENO);
        }
        execv (args [0], (char *const *) args);
        _exit (127);
    }
    int status = 0;
    if (pid < 0 || waitpid (pid, &status, 0) != pid)
        return -1;
    return WIFEXITED (status)? WEXITSTATUS (status): -1;
}

//  The watchdog: wait until the test process is gone, then clean up.
static void
s_watchdog (testkit_pg_t *self, int read_fd)
{
    //  Not killed with the process group when the test is interrupted
    setsid ();
    signal (SIGINT, SIG_IGN);
    signal (SIGTERM, SIG_IGN);
    for (int fd = 3; fd < 1024; fd++)
        if (fd != read_fd)
            close (fd);
    char byte;
    while (read (read_fd, &byte, 1) > 0)
        ;
    char data [128];
    snprintf (data, sizeof data, "%s/data", self->dir);
    const char *const stop [] = { "pg_ctl", "-D", data, "-m", "immediate",
                                  "-w", "stop", NULL };
    struct stat info;
    if (stat (data, &info) == 0)
        s_run (self, stop);
    char command [160];
    snprintf (command, sizeof command, "rm -rf '%s'", self->dir);
    if (system (command) != 0)
        _exit (1);
    _exit (0);
}

//  Make the cluster's folder, owned by the user who runs the server.
static int
s_make_dir (testkit_pg_t *self)
{
    char template [] = "/tmp/enp-pg-XXXXXX";
    if (!mkdtemp (template))
        return -1;
    snprintf (self->dir, sizeof self->dir, "%s", template);
    if (geteuid () == 0) {
        struct passwd *owner = getpwnam ("postgres");
        if (!owner || chown (self->dir, owner->pw_uid, owner->pw_gid) != 0) {
            fprintf (stderr, "testkit_pg: no user postgres to run the"
                     " server as\n");
            return -1;
        }
    }
    return 0;
}

//  Make and start the cluster.
testkit_pg_t *
testkit_pg_new (void)
{
    testkit_pg_t *self = (testkit_pg_t *) calloc (1, sizeof (testkit_pg_t));
    if (!self)
        return NULL;
    self->watchdog_fd = -1;
    if (s_find_bin (self->bin, sizeof self->bin)) {
        fprintf (stderr, "testkit_pg: PostgreSQL is not installed (no"
                 " /usr/lib/postgresql/*/bin/initdb; scripts/deps.sh test"
                 " installs it)\n");
        free (self);
        return NULL;
    }
    int pipe_fds [2];
    if (s_make_dir (self) || pipe2 (pipe_fds, O_CLOEXEC) != 0) {
        testkit_pg_destroy (&self);
        return NULL;
    }
    fflush (NULL);
    self->watchdog = fork ();
    if (self->watchdog == 0)
        s_watchdog (self, pipe_fds [0]);
    close (pipe_fds [0]);
    self->watchdog_fd = pipe_fds [1];
    char data [128];
    snprintf (data, sizeof data, "%s/data", self->dir);
    const char *const initdb [] = { "initdb", "-D", data, "-U", "postgres",
        "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync", NULL };
    if (s_run (self, initdb) != 0 || testkit_pg_start (self) != 0) {
        fprintf (stderr, "testkit_pg: the cluster did not start; see %s\n",
                 self->dir);
        testkit_pg_destroy (&self);
    }
    return self;
}

//  Stop the cluster and remove its folder.
void
testkit_pg_destroy (testkit_pg_t **self_p)
{
    assert (self_p);
    if (!*self_p)
        return;
    testkit_pg_t *self = *self_p;
    //  The watchdog does the cleaning: end of file on its pipe
    if (self->watchdog_fd >= 0)
        close (self->watchdog_fd);
    if (self->watchdog > 0)
        waitpid (self->watchdog, NULL, 0);
    free (self);
    *self_p = NULL;
}

const char *
testkit_pg_url (testkit_pg_t *self, const char *database, char *url,
                size_t size)
{
    assert (self);
    snprintf (url, size, "postgresql:///%s?host=%s&port=" S_PORT "&user=postgres",
              database, self->dir);
    return url;
}

//  Make a new database for this process and return its URI.
const char *
testkit_pg_database (testkit_pg_t *self, const char *prefix, char *url,
                     size_t size)
{
    assert (self);
    char database [64], sql [128];
    snprintf (database, sizeof database, "%s_%d", prefix, (int) getpid ());
    snprintf (sql, sizeof sql, "CREATE DATABASE %s", database);
    if (testkit_pg_exec (self, "postgres", sql))
        return NULL;
    return testkit_pg_url (self, database, url, size);
}

//  Connect to a database. Returns NULL, saying why.
static PGconn *
s_connect (testkit_pg_t *self, const char *database)
{
    char url [256];
    PGconn *conn = PQconnectdb (testkit_pg_url (self, database, url, sizeof url));
    if (PQstatus (conn) != CONNECTION_OK) {
        fprintf (stderr, "testkit_pg: %s", PQerrorMessage (conn));
        PQfinish (conn);
        return NULL;
    }
    return conn;
}

int
testkit_pg_exec (testkit_pg_t *self, const char *database, const char *sql)
{
    assert (self);
    PGconn *conn = s_connect (self, database);
    PGresult *result = conn? PQexec (conn, sql): NULL;
    ExecStatusType status = PQresultStatus (result);
    int rc = status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK? 0: -1;
    if (conn && rc)
        fprintf (stderr, "testkit_pg: %s: %s", sql, PQerrorMessage (conn));
    PQclear (result);
    PQfinish (conn);
    return rc;
}

long
testkit_pg_count (testkit_pg_t *self, const char *database, const char *sql)
{
    assert (self);
    PGconn *conn = s_connect (self, database);
    PGresult *result = conn? PQexec (conn, sql): NULL;
    long value = -1;
    if (PQresultStatus (result) == PGRES_TUPLES_OK && PQntuples (result) == 1
    &&  !PQgetisnull (result, 0, 0))
        value = atol (PQgetvalue (result, 0, 0));
    else
    if (conn)
        fprintf (stderr, "testkit_pg: %s: %s", sql, PQerrorMessage (conn));
    PQclear (result);
    PQfinish (conn);
    return value;
}

int
testkit_pg_stop (testkit_pg_t *self)
{
    assert (self);
    char data [128];
    snprintf (data, sizeof data, "%s/data", self->dir);
    const char *const stop [] = { "pg_ctl", "-D", data, "-m", "fast", "-w",
                                  "stop", NULL };
    return s_run (self, stop) == 0? 0: -1;
}

int
testkit_pg_start (testkit_pg_t *self)
{
    assert (self);
    char data [128], log [128], options [256];
    snprintf (data, sizeof data, "%s/data", self->dir);
    snprintf (log, sizeof log, "%s/server.log", self->dir);
    snprintf (options, sizeof options, "-k %s -p " S_PORT " -c listen_addresses="
              " -c fsync=off -c full_page_writes=off -c max_connections=200",
              self->dir);
    const char *const start [] = { "pg_ctl", "-D", data, "-l", log, "-o", options,
                                   "-w", "-t", "60", "start", NULL };
    return s_run (self, start) == 0? 0: -1;
}
