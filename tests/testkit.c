/*  testkit - helpers for suites that start the real binaries on loopback

    Integration suites start the real services as child processes on free
    127.0.0.1 ports, talk to them over HTTP with libcurl, and stop them by
    PID, so what is tested is exactly what users run.
*/
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <curl/curl.h>
#include "testkit.h"

typedef struct {
    char *data;
    size_t size;
} s_buffer_t;

static size_t
s_collect (char *data, size_t size, size_t count, void *arg)
{
    s_buffer_t *buffer = (s_buffer_t *) arg;
    size_t bytes = size * count;
    char *grown = realloc (buffer->data, buffer->size + bytes + 1);
    if (!grown)
        return 0;
    memcpy (grown + buffer->size, data, bytes);
    buffer->data = grown;
    buffer->size += bytes;
    buffer->data [buffer->size] = '\0';
    return bytes;
}

static long
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

int
testkit_free_port (void)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = { .sin_family = AF_INET };
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    int port = -1;
    if (fd >= 0 && bind (fd, (struct sockaddr *) &address, sizeof address) == 0
    &&  getsockname (fd, (struct sockaddr *) &address, &length) == 0)
        port = ntohs (address.sin_port);
    if (fd >= 0)
        close (fd);
    return port;
}

const char *
testkit_bin (const char *name)
{
    static char path [1024];
    const char *dir = getenv ("ENP_BIN_DIR");
    snprintf (path, sizeof path, "%s/%s", dir? dir: "build/bin", name);
    return path;
}

pid_t
testkit_spawn (char *const argv [], const char *stdout_path,
               const char *stderr_path)
{
    fflush (NULL);
    pid_t pid = fork ();
    if (pid != 0)
        return pid;
    //  If the test dies on a failed assertion, its services go with it
    prctl (PR_SET_PDEATHSIG, SIGTERM);
    int out = open (stdout_path? stdout_path: "/dev/null",
                    O_WRONLY | O_CREAT | O_APPEND, 0644);
    int err = open (stderr_path? stderr_path: "/dev/null",
                    O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (out >= 0)
        dup2 (out, STDOUT_FILENO);
    if (err >= 0)
        dup2 (err, STDERR_FILENO);
    execv (argv [0], argv);
    _exit (127);
}

int
testkit_stop (pid_t pid, int timeout_ms)
{
    if (pid <= 0)
        return -1;
    kill (pid, SIGTERM);
    long deadline = s_now_ms () + timeout_ms;
    int status = 0;
    while (s_now_ms () < deadline) {
        pid_t rc = waitpid (pid, &status, WNOHANG);
        if (rc == pid)
            return WIFEXITED (status)? WEXITSTATUS (status)
                                     : 128 + WTERMSIG (status);
        if (rc < 0)
            return -1;
        usleep (10 * 1000);
    }
    kill (pid, SIGKILL);
    waitpid (pid, &status, 0);
    return 128 + SIGKILL;
}

int
testkit_wait_http (const char *url, int timeout_ms)
{
    long deadline = s_now_ms () + timeout_ms;
    while (s_now_ms () < deadline) {
        testkit_response_t response;
        if (testkit_http ("GET", url, NULL, NULL, 0, NULL, &response) == 0
        &&  response.code >= 200 && response.code < 300) {
            testkit_response_free (&response);
            return 0;
        }
        testkit_response_free (&response);
        usleep (20 * 1000);
    }
    return -1;
}

int
testkit_http (const char *method, const char *url, const char *content_type,
              const char *body, size_t size, const char *header,
              testkit_response_t *response)
{
    memset (response, 0, sizeof *response);
    CURL *curl = curl_easy_init ();
    if (!curl)
        return -1;
    s_buffer_t data = { NULL, 0 }, headers = { NULL, 0 };
    struct curl_slist *list = NULL;
    char line [512];
    if (content_type) {
        snprintf (line, sizeof line, "Content-Type: %s", content_type);
        list = curl_slist_append (list, line);
    }
    else
        list = curl_slist_append (list, "Content-Type:");
    if (header)
        list = curl_slist_append (list, header);
    list = curl_slist_append (list, "Expect:");
    curl_easy_setopt (curl, CURLOPT_URL, url);
    curl_easy_setopt (curl, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp (method, "HEAD") == 0)
        curl_easy_setopt (curl, CURLOPT_NOBODY, 1L);
    if (body) {
        curl_easy_setopt (curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt (curl, CURLOPT_POSTFIELDSIZE, (long) size);
    }
    curl_easy_setopt (curl, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt (curl, CURLOPT_WRITEFUNCTION, s_collect);
    curl_easy_setopt (curl, CURLOPT_WRITEDATA, &data);
    curl_easy_setopt (curl, CURLOPT_HEADERFUNCTION, s_collect);
    curl_easy_setopt (curl, CURLOPT_HEADERDATA, &headers);
    curl_easy_setopt (curl, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt (curl, CURLOPT_NOSIGNAL, 1L);
    CURLcode rc = curl_easy_perform (curl);
    if (rc == CURLE_OK)
        curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, &response->code);
    curl_slist_free_all (list);
    curl_easy_cleanup (curl);
    response->body = data.data? data.data: strdup ("");
    response->size = data.size;
    response->headers = headers.data? headers.data: strdup ("");
    return rc == CURLE_OK? 0: -1;
}

int
testkit_header (const testkit_response_t *response, const char *name,
                char *value, size_t size)
{
    size_t length = strlen (name);
    for (const char *line = response->headers; line && *line; ) {
        const char *end = strstr (line, "\r\n");
        if (!end)
            end = line + strlen (line);
        if ((size_t) (end - line) > length + 1 && line [length] == ':'
        &&  strncasecmp (line, name, length) == 0) {
            const char *start = line + length + 1;
            while (*start == ' ')
                start++;
            snprintf (value, size, "%.*s", (int) (end - start), start);
            return 0;
        }
        line = *end? end + 2: end;
    }
    return -1;
}

void
testkit_response_free (testkit_response_t *response)
{
    free (response->body);
    free (response->headers);
    response->body = response->headers = NULL;
}

char *
testkit_tmpdir (void)
{
    char template [] = "/tmp/enp-test-XXXXXX";
    char *dir = mkdtemp (template);
    return dir? strdup (dir): NULL;
}

long
testkit_count_lines (const char *path)
{
    FILE *file = fopen (path, "r");
    if (!file)
        return -1;
    long lines = 0;
    int c;
    while ((c = fgetc (file)) != EOF)
        if (c == '\n')
            lines++;
    fclose (file);
    return lines;
}
