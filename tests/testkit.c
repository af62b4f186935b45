/*  testkit - helpers shared by the Check suites

    Integration suites start the real services as child processes on free
    127.0.0.1 ports, talk to them over HTTP with libcurl, and stop them by
    PID, so what is tested is exactly what users run. Unit suites of the
    worker use a small CivetWeb server in place of the event-logger.
*/
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <civetweb.h>
#include <curl/curl.h>
#include <jansson.h>
#include "testkit.h"

typedef struct {
    char *data;
    size_t size;
    size_t capacity;
} s_buffer_t;

//  Append what libcurl received; the buffer doubles as it fills, so a
//  body of megabytes is not copied over and over.
static size_t
s_collect (char *data, size_t size, size_t count, void *arg)
{
    s_buffer_t *buffer = (s_buffer_t *) arg;
    size_t bytes = size * count;
    if (buffer->size + bytes + 1 > buffer->capacity) {
        size_t capacity = buffer->capacity? buffer->capacity * 2: 4096;
        while (capacity < buffer->size + bytes + 1)
            capacity *= 2;
        char *grown = realloc (buffer->data, capacity);
        if (!grown)
            return 0;
        buffer->data = grown;
        buffer->capacity = capacity;
    }
    memcpy (buffer->data + buffer->size, data, bytes);
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

Suite *
testkit_suite (const char *name, double timeout, const TTest *tests [])
{
    Suite *suite = suite_create (name);
    TCase *tcase = tcase_create ("core");
    tcase_set_timeout (tcase, timeout);
    for (size_t index = 0; tests [index]; index++)
        tcase_add_test (tcase, tests [index]);
    suite_add_tcase (suite, tcase);
    return suite;
}

int
testkit_run (Suite *suite)
{
    SRunner *runner = srunner_create (suite);
    srunner_run_all (runner, CK_NORMAL);
    int failures = srunner_ntests_failed (runner);
    srunner_free (runner);
    return failures? EXIT_FAILURE: EXIT_SUCCESS;
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

int
testkit_connect (int port)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = { .sin_family = AF_INET,
                                   .sin_port = htons ((uint16_t) port) };
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    if (fd >= 0 && connect (fd, (struct sockaddr *) &address, sizeof address) != 0) {
        close (fd);
        fd = -1;
    }
    return fd;
}

char *
testkit_raw (int port, const char *request, size_t size)
{
    int fd = testkit_connect (port);
    if (fd < 0)
        return NULL;
    struct timeval timeout = { .tv_sec = TESTKIT_RAW_TIMEOUT_S };
    setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    size_t capacity = 4096, used = 0;
    char *text = (char *) malloc (capacity);
    bool closed = false;
    if (text && send (fd, request, size, MSG_NOSIGNAL) == (ssize_t) size)
        for (;;) {
            if (used + 1 == capacity) {
                char *bigger = (char *) realloc (text, capacity * 2);
                if (!bigger)
                    break;
                text = bigger;
                capacity *= 2;
            }
            ssize_t got = recv (fd, text + used, capacity - used - 1, 0);
            if (got <= 0) {
                closed = got == 0;
                break;
            }
            used += (size_t) got;
        }
    close (fd);
    if (!closed) {
        free (text);
        return NULL;
    }
    text [used] = '\0';
    return text;
}

int
testkit_connect_from (int port, const char *source, int timeout_ms)
{
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    //  The port is picked at connect, by the whole address pair: thousands
    //  of connections from one source do not run out of ports
    int on = 1;
    setsockopt (fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &on, sizeof on);
    struct sockaddr_in from = { .sin_family = AF_INET };
    struct sockaddr_in to = { .sin_family = AF_INET,
                              .sin_port = htons ((uint16_t) port) };
    to.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    bool ready = inet_pton (AF_INET, source, &from.sin_addr) == 1
              && bind (fd, (struct sockaddr *) &from, sizeof from) == 0;
    if (ready && connect (fd, (struct sockaddr *) &to, sizeof to) != 0) {
        struct pollfd item = { .fd = fd, .events = POLLOUT };
        int error = 0;
        socklen_t length = sizeof error;
        ready = errno == EINPROGRESS && poll (&item, 1, timeout_ms) == 1
             && getsockopt (fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0
             && error == 0;
    }
    if (!ready) {
        close (fd);
        return -1;
    }
    fcntl (fd, F_SETFL, fcntl (fd, F_GETFL) & ~O_NONBLOCK);
    return fd;
}

int
testkit_bind_any (zsock_t *socket, char *endpoint, size_t size)
{
    if (zsock_bind (socket, "tcp://127.0.0.1:0") != 0)
        return -1;
    char *last = zsock_last_endpoint (socket);
    if (!last)
        return -1;
    snprintf (endpoint, size, "%s", last);
    const char *colon = strrchr (last, ':');
    int port = colon? atoi (colon + 1): 0;
    free (last);
    return port > 0? port: -1;
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
    return testkit_wait (pid, timeout_ms);
}

int
testkit_wait (pid_t pid, int timeout_ms)
{
    if (pid <= 0)
        return -1;
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

//  The CA certificates testkit_http trusts for https://, or "" for the
//  system's: one per test process, set before the requests that need it.
static char s_trusted_ca [512];

void
testkit_http_trust (const char *ca_file)
{
    snprintf (s_trusted_ca, sizeof s_trusted_ca, "%s", ca_file? ca_file: "");
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
    s_buffer_t data = { NULL, 0, 0 }, headers = { NULL, 0, 0 };
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
    if (*s_trusted_ca)
        curl_easy_setopt (curl, CURLOPT_CAINFO, s_trusted_ca);
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

typedef struct {
    void (*fn) (void *);
    void *arg;
} s_call_t;

static void *
s_call (void *arg)
{
    s_call_t *call = (s_call_t *) arg;
    call->fn (call->arg);
    return NULL;
}

int
testkit_on_small_stack (void (*fn) (void *), void *arg, size_t stack_size)
{
    s_call_t call = { fn, arg };
    pthread_attr_t attr;
    pthread_t thread;
    if (pthread_attr_init (&attr))
        return -1;
    int rc = pthread_attr_setstacksize (&attr, stack_size)
          || pthread_create (&thread, &attr, s_call, &call);
    pthread_attr_destroy (&attr);
    if (rc)
        return -1;
    pthread_join (thread, NULL);
    return 0;
}

//  Read a whole file into a new string (caller frees), or NULL.
static char *
s_slurp (const char *path)
{
    FILE *file = fopen (path, "r");
    if (!file)
        return NULL;
    char *text = NULL;
    size_t size = 0;
    FILE *copy = open_memstream (&text, &size);
    int c;
    while (copy && (c = fgetc (file)) != EOF)
        fputc (c, copy);
    if (copy)
        fclose (copy);
    fclose (file);
    return text;
}

void
testkit_capture_start (testkit_capture_t *capture)
{
    snprintf (capture->path, sizeof capture->path, "/tmp/enp-stderr-XXXXXX");
    int fd = mkstemp (capture->path);
    ck_assert_int_ge (fd, 0);
    fflush (stderr);
    capture->saved = dup (STDERR_FILENO);
    ck_assert_int_ge (capture->saved, 0);
    ck_assert_int_ge (dup2 (fd, STDERR_FILENO), 0);
    close (fd);
}

char *
testkit_capture_end (testkit_capture_t *capture)
{
    fflush (stderr);
    dup2 (capture->saved, STDERR_FILENO);
    close (capture->saved);
    char *text = s_slurp (capture->path);
    ck_assert_ptr_nonnull (text);
    unlink (capture->path);
    return text;
}

int
testkit_wait_text (const char *path, const char *text, int timeout_ms)
{
    long deadline = s_now_ms () + timeout_ms;
    do {
        char *content = s_slurp (path);
        bool found = content && strstr (content, text);
        free (content);
        if (found)
            return 0;
        usleep (20 * 1000);
    } while (s_now_ms () < deadline);
    return -1;
}

double
testkit_metric (const char *url, const char *sample)
{
    testkit_response_t response;
    double value = -1;
    char pattern [256];
    snprintf (pattern, sizeof pattern, "\n%s ", sample);
    if (testkit_http ("GET", url, NULL, NULL, 0, NULL, &response) == 0
    &&  response.code == 200) {
        const char *found = strstr (response.body, pattern);
        if (found)
            value = atof (found + strlen (pattern));
    }
    testkit_response_free (&response);
    return value;
}

long
testkit_rss_kb (pid_t pid, bool peak)
{
    const char *field = peak? "VmHWM:": "VmRSS:";
    char path [64], line [256];
    snprintf (path, sizeof path, "/proc/%d/status", (int) pid);
    FILE *file = fopen (path, "r");
    long rss = -1;
    while (file && fgets (line, sizeof line, file))
        if (strncmp (line, field, 6) == 0)
            rss = atol (line + 6);
    if (file)
        fclose (file);
    return rss;
}

//  ---------------------------------------------------------------------
//  testkit_knocker

struct _testkit_knocker_t {
    int port;                   //  the port to knock on
    atomic_bool done;           //  stop knocking
    pthread_t thread;           //  the knocking thread
};

//  Connect to the port now and then until told to stop.
static void *
s_knock (void *arg)
{
    testkit_knocker_t *self = (testkit_knocker_t *) arg;
    while (!atomic_load (&self->done)) {
        int fd = testkit_connect (self->port);
        if (fd >= 0)
            close (fd);
        usleep (20 * 1000);
    }
    return NULL;
}

testkit_knocker_t *
testkit_knocker_new (int port)
{
    testkit_knocker_t *self = (testkit_knocker_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->port = port;
    atomic_init (&self->done, false);
    if (pthread_create (&self->thread, NULL, s_knock, self) != 0) {
        free (self);
        return NULL;
    }
    return self;
}

void
testkit_knocker_destroy (testkit_knocker_t **self_p)
{
    assert (self_p);
    testkit_knocker_t *self = *self_p;
    if (!self)
        return;
    atomic_store (&self->done, true);
    pthread_join (self->thread, NULL);
    free (self);
    *self_p = NULL;
}

int
testkit_threads (void)
{
    DIR *tasks = opendir ("/proc/self/task");
    if (!tasks)
        return -1;
    int count = 0;
    struct dirent *entry;
    while ((entry = readdir (tasks)))
        count += entry->d_name [0] != '.';
    closedir (tasks);
    return count;
}

int
testkit_threads_settle (int count, int timeout_ms)
{
    long deadline = s_now_ms () + timeout_ms;
    while (testkit_threads () > count) {
        if (s_now_ms () >= deadline)
            return -1;
        usleep (1000);
    }
    return 0;
}

//  ---------------------------------------------------------------------
//  testkit_logger

#define S_LOGGER_CODES  8
#define S_LOGGER_IDS    64
#define S_LOGGER_REPORTS 4096           //  reported ids kept, in order
#define S_LOGGER_BODY_MAX (2 << 20)     //  bytes of a request body read
#define S_LOGGER_BATCH_PATH "/events:batchUpdateStatus"

struct _testkit_logger_t {
    bool library;                       //  holds a CivetWeb library reference
    struct mg_context *context;         //  the server, or NULL
    int port;                           //  where it listens
    char url [64];                      //  http://127.0.0.1:port
    pthread_mutex_t mutex;              //  guards everything below
    int codes [S_LOGGER_CODES];         //  answers in order; the last repeats
    int code_count;
    int requests;                       //  requests answered
    int patches;                        //  of which were PATCH
    char ids [S_LOGGER_IDS][64];        //  ids from the paths, in order
    testkit_request_t last;             //  what the last request carried
    int delay_ms;                       //  time taken to answer
    int inflight;                       //  requests being answered now
    int peak;                           //  most requests in flight at once
    int gate;                           //  hold answers until this many are
                                        //  in flight (0: no gate)
    pthread_cond_t changed;             //  signalled when inflight grows
    int batch_route;                    //  0: serve the batch route; else
                                        //  answer it with this code
    int items [S_LOGGER_CODES];         //  per-item codes in turn
    int item_count;
    int items_seen;                     //  batch items answered
    int batches;                        //  batch requests answered
    char *answer;                       //  body of 2xx batch answers, or NULL
    size_t batch_body_max;              //  413 for batch bodies over it (0:
                                        //  no limit)
    bool hold;                          //  hold every answer until released
    char (*reports) [64];               //  reported ids in order
    int report_count;                   //  reports seen (kept: the first
                                        //  S_LOGGER_REPORTS)
};

//  Hold a request at the gate until gate requests are in flight at once,
//  or S_LOGGER_GATE_MS pass; then the gate opens for good. Called locked.
#define S_LOGGER_GATE_MS 3000
static void
s_logger_gate (testkit_logger_t *self)
{
    struct timespec deadline;
    clock_gettime (CLOCK_REALTIME, &deadline);
    deadline.tv_sec += S_LOGGER_GATE_MS / 1000;
    while (self->gate && self->inflight < self->gate)
        if (pthread_cond_timedwait (&self->changed, &self->mutex, &deadline) != 0)
            break;
    self->gate = 0;
    while (self->hold)
        pthread_cond_wait (&self->changed, &self->mutex);
    pthread_cond_broadcast (&self->changed);
}

//  Remember a reported id. Called locked.
static void
s_logger_reported (testkit_logger_t *self, const char *id)
{
    if (self->report_count < S_LOGGER_REPORTS)
        snprintf (self->reports [self->report_count], sizeof self->reports [0],
                  "%s", id);
    self->report_count++;
}

//  Build the answer to a batch of status updates: one result per item,
//  its code the next of the item script. Called locked. Caller frees.
static char *
s_logger_batch_answer (testkit_logger_t *self, const char *body, size_t size)
{
    json_t *request = json_loadb (body, size, 0, NULL);
    json_t *updates = json_object_get (request, "updates");
    json_t *results = json_array ();
    size_t index;
    json_t *update;
    json_array_foreach (updates, index, update) {
        const char *id = json_string_value (json_object_get (update, "event_id"));
        s_logger_reported (self, id? id: "");
        int seen = self->items_seen++;
        int code = self->items [seen < self->item_count? seen: self->item_count - 1];
        json_t *result = json_pack ("{s:s, s:i}", "event_id", id? id: "", "code", code);
        if (code >= 200 && code < 300)
            json_object_set_new (result, "event", json_pack ("{s:s, s:s}",
                                 "event_id", id? id: "", "status", "processed"));
        else
            json_object_set_new (result, "problem", json_pack ("{s:i}", "status", code));
        json_array_append_new (results, result);
    }
    json_t *answer = json_pack ("{s:o}", "results", results);
    char *text = json_dumps (answer, JSON_COMPACT);
    json_decref (answer);
    json_decref (request);
    return text;
}

//  Answer one request with the next scripted code.
static int
s_logger_handle (struct mg_connection *conn, void *cbdata)
{
    testkit_logger_t *self = (testkit_logger_t *) cbdata;
    const struct mg_request_info *info = mg_get_request_info (conn);
    char *body = (char *) malloc (S_LOGGER_BODY_MAX + 1);
    size_t size = 0;
    while (body && size < S_LOGGER_BODY_MAX) {
        int rc = mg_read (conn, body + size, S_LOGGER_BODY_MAX - size);
        if (rc <= 0)
            break;
        size += (size_t) rc;
    }
    if (body)
        body [size] = '\0';
    const char *authorization = mg_get_header (conn, "Authorization");
    const char *content_type = mg_get_header (conn, "Content-Type");
    const char *prefix = "/events/";
    bool batch = strcmp (info->local_uri, S_LOGGER_BATCH_PATH) == 0;
    pthread_mutex_lock (&self->mutex);
    int index = self->requests++;
    int code = self->codes [index < self->code_count? index: self->code_count - 1];
    if (strcmp (info->request_method, "PATCH") == 0)
        self->patches++;
    if (index < S_LOGGER_IDS && strncmp (info->local_uri, prefix, strlen (prefix)) == 0)
        snprintf (self->ids [index], sizeof self->ids [index], "%s",
                  info->local_uri + strlen (prefix));
    if (!batch && strncmp (info->local_uri, prefix, strlen (prefix)) == 0)
        s_logger_reported (self, info->local_uri + strlen (prefix));
    snprintf (self->last.authorization, sizeof self->last.authorization, "%s",
              authorization? authorization: "");
    snprintf (self->last.content_type, sizeof self->last.content_type, "%s",
              content_type? content_type: "");
    snprintf (self->last.body, sizeof self->last.body, "%s", body? body: "");
    char *reply = NULL;
    if (batch) {
        self->batches++;
        if (self->batch_route)
            code = self->batch_route;
        else
        if (self->batch_body_max && size > self->batch_body_max)
            code = 413;
        else
        if (code >= 200 && code < 300)
            reply = self->answer? strdup (self->answer)
                                : s_logger_batch_answer (self, body, size);
    }
    int delay_ms = self->delay_ms;
    self->inflight++;
    if (self->inflight > self->peak)
        self->peak = self->inflight;
    pthread_cond_broadcast (&self->changed);
    s_logger_gate (self);
    pthread_mutex_unlock (&self->mutex);
    if (delay_ms)
        usleep ((useconds_t) delay_ms * 1000);
    const char *text = reply? reply: "{}";
    mg_printf (conn, "HTTP/1.1 %d Scripted\r\nContent-Type: application/json\r\n"
               "Content-Length: %zu\r\n\r\n%s", code, strlen (text), text);
    free (reply);
    free (body);
    pthread_mutex_lock (&self->mutex);
    self->inflight--;
    pthread_mutex_unlock (&self->mutex);
    return code;
}

testkit_logger_t *
testkit_logger_new (const int *codes)
{
    assert (codes);
    testkit_logger_t *self = (testkit_logger_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    pthread_mutex_init (&self->mutex, NULL);
    pthread_cond_init (&self->changed, NULL);
    while (self->code_count < S_LOGGER_CODES && codes [self->code_count]) {
        self->codes [self->code_count] = codes [self->code_count];
        self->code_count++;
    }
    self->items [0] = 200;
    self->item_count = 1;
    self->reports = calloc (S_LOGGER_REPORTS, sizeof *self->reports);
    if (self->code_count == 0 || codes [self->code_count] || !self->reports) {
        testkit_logger_destroy (&self);     //  empty or too long a script
        return NULL;
    }
    //  Its return says which features it set up: 0 asked, 0 returned
    mg_init_library (0);
    self->library = true;
    const char *options [] = {
        "listening_ports", "127.0.0.1:0", "num_threads", "4",
        "enable_keep_alive", "yes", "keep_alive_timeout_ms", "2000",
        "request_timeout_ms", "2000", NULL
    };
    struct mg_callbacks callbacks;
    memset (&callbacks, 0, sizeof callbacks);
    self->context = mg_start (&callbacks, NULL, options);
    struct mg_server_port ports [1];
    if (!self->context || mg_get_server_ports (self->context, 1, ports) != 1) {
        testkit_logger_destroy (&self);
        return NULL;
    }
    self->port = ports [0].port;
    snprintf (self->url, sizeof self->url, "http://127.0.0.1:%d", self->port);
    mg_set_request_handler (self->context, "/", s_logger_handle, self);
    return self;
}

void
testkit_logger_destroy (testkit_logger_t **self_p)
{
    assert (self_p);
    testkit_logger_t *self = *self_p;
    if (!self)
        return;
    testkit_logger_set_hold (self, false);
    if (self->context) {
        testkit_knocker_t *knocker = testkit_knocker_new (self->port);
        mg_stop (self->context);
        testkit_knocker_destroy (&knocker);
    }
    if (self->library)
        mg_exit_library ();
    pthread_cond_destroy (&self->changed);
    pthread_mutex_destroy (&self->mutex);
    free (self->reports);
    free (self->answer);
    free (self);
    *self_p = NULL;
}

int
testkit_logger_port (testkit_logger_t *self)
{
    assert (self);
    return self->port;
}

const char *
testkit_logger_url (testkit_logger_t *self)
{
    assert (self);
    return self->url;
}

int
testkit_logger_requests (testkit_logger_t *self)
{
    assert (self);
    pthread_mutex_lock (&self->mutex);
    int requests = self->requests;
    pthread_mutex_unlock (&self->mutex);
    return requests;
}

int
testkit_logger_patches (testkit_logger_t *self)
{
    assert (self);
    pthread_mutex_lock (&self->mutex);
    int patches = self->patches;
    pthread_mutex_unlock (&self->mutex);
    return patches;
}

const char *
testkit_logger_id (testkit_logger_t *self, int index, char *id, size_t size)
{
    assert (self);
    assert (id && size > 0);
    pthread_mutex_lock (&self->mutex);
    snprintf (id, size, "%s", index >= 0 && index < S_LOGGER_IDS?
                              self->ids [index]: "");
    pthread_mutex_unlock (&self->mutex);
    return id;
}

void
testkit_logger_last (testkit_logger_t *self, testkit_request_t *request)
{
    assert (self);
    assert (request);
    pthread_mutex_lock (&self->mutex);
    *request = self->last;
    pthread_mutex_unlock (&self->mutex);
}

void
testkit_logger_set_delay (testkit_logger_t *self, int delay_ms)
{
    assert (self);
    pthread_mutex_lock (&self->mutex);
    self->delay_ms = delay_ms;
    pthread_mutex_unlock (&self->mutex);
}

void
testkit_logger_set_gate (testkit_logger_t *self, int count)
{
    assert (self);
    pthread_mutex_lock (&self->mutex);
    self->gate = count;
    pthread_mutex_unlock (&self->mutex);
}

int
testkit_logger_peak (testkit_logger_t *self)
{
    assert (self);
    pthread_mutex_lock (&self->mutex);
    int peak = self->peak;
    pthread_mutex_unlock (&self->mutex);
    return peak;
}

//  ---------------------------------------------------------------------
//  testkit_pipeline

#define S_PIPELINE_ARGS 32

struct _testkit_pipeline_t {
    char *dir;                          //  logs and outputs
    int http_ports [TESTKIT_PIPELINE_LOGGERS];  //  the loggers' HTTP ports
    char bases [TESTKIT_PIPELINE_LOGGERS][64];  //  http(s)://127.0.0.1:port
    char front [64], back [64];         //  the broker's tcp://127.0.0.1:port
    char outputs [TESTKIT_PIPELINE_PROCESSORS][256];    //  processors' stdout
    pid_t broker;                       //  -1 when not running
    pid_t loggers [TESTKIT_PIPELINE_LOGGERS];
    pid_t processors [TESTKIT_PIPELINE_PROCESSORS];
};

//  Spawn a binary with fixed flags then extra ones (both NULL-terminated).
static pid_t
s_pipeline_spawn (const char *name, const char *const flags [],
                  const char *const extra [], const char *out, const char *log)
{
    char *argv [S_PIPELINE_ARGS];
    size_t count = 0;
    argv [count++] = strdup (testkit_bin (name));
    for (size_t index = 0; flags [index] && count < S_PIPELINE_ARGS - 1; index++)
        argv [count++] = (char *) flags [index];
    for (size_t index = 0; extra && extra [index] && count < S_PIPELINE_ARGS - 1;
         index++)
        argv [count++] = (char *) extra [index];
    argv [count] = NULL;
    pid_t pid = argv [0]? testkit_spawn (argv, out, log): -1;
    free (argv [0]);
    return pid;
}

testkit_pipeline_t *
testkit_pipeline_new (void)
{
    testkit_pipeline_t *self = (testkit_pipeline_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->broker = -1;
    for (int index = 0; index < TESTKIT_PIPELINE_PROCESSORS; index++)
        self->processors [index] = -1;
    self->dir = testkit_tmpdir ();
    int ports_ok = 1;
    for (int index = 0; index < TESTKIT_PIPELINE_LOGGERS; index++) {
        self->loggers [index] = -1;
        self->http_ports [index] = testkit_free_port ();
        ports_ok &= self->http_ports [index] > 0;
        snprintf (self->bases [index], sizeof self->bases [index],
                  "http://127.0.0.1:%d", self->http_ports [index]);
    }
    int front_port = testkit_free_port ();
    int back_port = testkit_free_port ();
    if (!self->dir || !ports_ok || front_port < 0 || back_port < 0) {
        testkit_pipeline_destroy (&self);
        return NULL;
    }
    snprintf (self->front, sizeof self->front, "tcp://127.0.0.1:%d", front_port);
    snprintf (self->back, sizeof self->back, "tcp://127.0.0.1:%d", back_port);
    for (int index = 0; index < TESTKIT_PIPELINE_PROCESSORS; index++)
        snprintf (self->outputs [index], sizeof self->outputs [index],
                  "%s/processor-%d.out", self->dir, index);
    return self;
}

void
testkit_pipeline_destroy (testkit_pipeline_t **self_p)
{
    assert (self_p);
    testkit_pipeline_t *self = *self_p;
    if (!self)
        return;
    testkit_pipeline_stop (self);
    free (self->dir);
    free (self);
    *self_p = NULL;
}

const char *
testkit_pipeline_dir (testkit_pipeline_t *self)
{
    assert (self);
    return self->dir;
}

void
testkit_pipeline_use_https (testkit_pipeline_t *self)
{
    assert (self);
    for (int index = 0; index < TESTKIT_PIPELINE_LOGGERS; index++)
        snprintf (self->bases [index], sizeof self->bases [index],
                  "https://127.0.0.1:%d", self->http_ports [index]);
}

const char *
testkit_pipeline_base (testkit_pipeline_t *self)
{
    assert (self);
    return self->bases [0];
}

int
testkit_pipeline_http_port (testkit_pipeline_t *self)
{
    assert (self);
    return self->http_ports [0];
}

const char *
testkit_pipeline_output (testkit_pipeline_t *self, int index)
{
    assert (self);
    assert (index >= 0 && index < TESTKIT_PIPELINE_PROCESSORS);
    return self->outputs [index];
}

pid_t
testkit_pipeline_broker (testkit_pipeline_t *self)
{
    assert (self);
    return self->broker;
}

pid_t
testkit_pipeline_logger (testkit_pipeline_t *self)
{
    assert (self);
    return self->loggers [0];
}

pid_t
testkit_pipeline_processor (testkit_pipeline_t *self, int index)
{
    assert (self);
    assert (index >= 0 && index < TESTKIT_PIPELINE_PROCESSORS);
    return self->processors [index];
}

pid_t
testkit_pipeline_start_broker (testkit_pipeline_t *self)
{
    return testkit_pipeline_start_broker_with (self, NULL);
}

pid_t
testkit_pipeline_start_broker_with (testkit_pipeline_t *self,
                                    const char *const extra [])
{
    assert (self);
    char log [512];
    snprintf (log, sizeof log, "%s/broker.log", self->dir);
    const char *const flags [] = { "--frontend", self->front, "--backend",
                                   self->back, "--metrics-port", "0", NULL };
    self->broker = s_pipeline_spawn ("queue-broker", flags, extra, NULL, log);
    return self->broker;
}

const char *
testkit_pipeline_frontend (testkit_pipeline_t *self)
{
    assert (self);
    return self->front;
}

const char *
testkit_pipeline_backend (testkit_pipeline_t *self)
{
    assert (self);
    return self->back;
}

pid_t
testkit_pipeline_start_logger (testkit_pipeline_t *self,
                               const char *const extra [])
{
    return testkit_pipeline_start_logger_at (self, 0, extra);
}

pid_t
testkit_pipeline_start_logger_at (testkit_pipeline_t *self, int index,
                                  const char *const extra [])
{
    assert (self);
    assert (index >= 0 && index < TESTKIT_PIPELINE_LOGGERS);
    char log [512], port [16], url [96];
    if (index)
        snprintf (log, sizeof log, "%s/logger-%d.log", self->dir, index);
    else
        snprintf (log, sizeof log, "%s/logger.log", self->dir);
    snprintf (port, sizeof port, "%d", self->http_ports [index]);
    const char *const flags [] = { "--host", "127.0.0.1", "--port", port,
                                   "--broker", self->front, NULL };
    self->loggers [index] = s_pipeline_spawn ("event-logger", flags, extra, NULL,
                                              log);
    snprintf (url, sizeof url, "%s/healthz", self->bases [index]);
    if (self->loggers [index] < 0 || testkit_wait_http (url, 10000) != 0)
        return -1;
    return self->loggers [index];
}

const char *
testkit_pipeline_base_at (testkit_pipeline_t *self, int index)
{
    assert (self);
    assert (index >= 0 && index < TESTKIT_PIPELINE_LOGGERS);
    return self->bases [index];
}

pid_t
testkit_pipeline_logger_at (testkit_pipeline_t *self, int index)
{
    assert (self);
    assert (index >= 0 && index < TESTKIT_PIPELINE_LOGGERS);
    return self->loggers [index];
}

pid_t
testkit_pipeline_start_processor (testkit_pipeline_t *self, int index,
                                  const char *const extra [])
{
    assert (self);
    assert (index >= 0 && index < TESTKIT_PIPELINE_PROCESSORS);
    char log [512];
    snprintf (log, sizeof log, "%s/processor-%d.log", self->dir, index);
    const char *const flags [] = { "--broker", self->back, "--logger-url",
                                   self->bases [0], "--metrics-port", "0", NULL };
    self->processors [index] = s_pipeline_spawn ("notification-processor",
        flags, extra, self->outputs [index], log);
    return self->processors [index];
}

pid_t
testkit_pipeline_start_processor_defaults (testkit_pipeline_t *self, int index)
{
    assert (self);
    assert (index >= 0 && index < TESTKIT_PIPELINE_PROCESSORS);
    char log [512];
    snprintf (log, sizeof log, "%s/processor-%d.log", self->dir, index);
    const char *const flags [] = { "--broker", self->back, "--logger-url",
                                   self->bases [0], NULL };
    self->processors [index] = s_pipeline_spawn ("notification-processor",
        flags, NULL, self->outputs [index], log);
    return self->processors [index];
}

int
testkit_pipeline_wait_log (testkit_pipeline_t *self, const char *name,
                           const char *text, int timeout_ms)
{
    assert (self);
    char path [512];
    snprintf (path, sizeof path, "%s/%s", self->dir, name);
    return testkit_wait_text (path, text, timeout_ms);
}

void
testkit_pipeline_kill (testkit_pipeline_t *self, pid_t pid)
{
    assert (self);
    if (pid <= 0)
        return;
    kill (pid, SIGKILL);
    testkit_stop (pid, 1000);           //  reap it
    if (self->broker == pid)
        self->broker = -1;
    for (int index = 0; index < TESTKIT_PIPELINE_LOGGERS; index++)
        if (self->loggers [index] == pid)
            self->loggers [index] = -1;
    for (int index = 0; index < TESTKIT_PIPELINE_PROCESSORS; index++)
        if (self->processors [index] == pid)
            self->processors [index] = -1;
}

//  Stop one service if it runs and forget it; returns its exit status.
static int
s_pipeline_stop_one (pid_t *pid, const char *name)
{
    if (*pid <= 0)
        return 0;
    int status = testkit_stop (*pid, TESTKIT_STOP_GRACE_MS);
    if (status != 0)
        fprintf (stderr, "testkit: %s exited with %d on SIGTERM\n", name, status);
    *pid = -1;
    return status;
}

int
testkit_pipeline_stop_processor (testkit_pipeline_t *self, int index)
{
    assert (self);
    assert (index >= 0 && index < TESTKIT_PIPELINE_PROCESSORS);
    return s_pipeline_stop_one (&self->processors [index], "notification-processor");
}

int
testkit_pipeline_stop (testkit_pipeline_t *self)
{
    assert (self);
    int failed = 0;
    for (int index = 0; index < TESTKIT_PIPELINE_PROCESSORS; index++)
        failed |= s_pipeline_stop_one (&self->processors [index],
                                       "notification-processor");
    for (int index = 0; index < TESTKIT_PIPELINE_LOGGERS; index++)
        failed |= s_pipeline_stop_one (&self->loggers [index], "event-logger");
    failed |= s_pipeline_stop_one (&self->broker, "queue-broker");
    return failed? -1: 0;
}

void
testkit_logger_set_batch_route (testkit_logger_t *self, int code)
{
    assert (self);
    pthread_mutex_lock (&self->mutex);
    self->batch_route = code;
    pthread_mutex_unlock (&self->mutex);
}

void
testkit_logger_set_batch_body_max (testkit_logger_t *self, size_t bytes)
{
    assert (self);
    pthread_mutex_lock (&self->mutex);
    self->batch_body_max = bytes;
    pthread_mutex_unlock (&self->mutex);
}

void
testkit_logger_set_items (testkit_logger_t *self, const int *codes)
{
    assert (self);
    assert (codes && codes [0]);
    pthread_mutex_lock (&self->mutex);
    self->item_count = 0;
    while (self->item_count < S_LOGGER_CODES && codes [self->item_count]) {
        self->items [self->item_count] = codes [self->item_count];
        self->item_count++;
    }
    pthread_mutex_unlock (&self->mutex);
}

void
testkit_logger_set_answer (testkit_logger_t *self, const char *body)
{
    assert (self);
    pthread_mutex_lock (&self->mutex);
    free (self->answer);
    self->answer = body? strdup (body): NULL;
    pthread_mutex_unlock (&self->mutex);
}

int
testkit_logger_batches (testkit_logger_t *self)
{
    assert (self);
    pthread_mutex_lock (&self->mutex);
    int batches = self->batches;
    pthread_mutex_unlock (&self->mutex);
    return batches;
}

int
testkit_logger_reports (testkit_logger_t *self)
{
    assert (self);
    pthread_mutex_lock (&self->mutex);
    int count = self->report_count;
    pthread_mutex_unlock (&self->mutex);
    return count;
}

const char *
testkit_logger_report (testkit_logger_t *self, int index, char *id, size_t size)
{
    assert (self);
    assert (id && size > 0);
    pthread_mutex_lock (&self->mutex);
    snprintf (id, size, "%s", index >= 0 && index < S_LOGGER_REPORTS
                              && index < self->report_count? self->reports [index]: "");
    pthread_mutex_unlock (&self->mutex);
    return id;
}

void
testkit_logger_set_hold (testkit_logger_t *self, bool hold)
{
    assert (self);
    pthread_mutex_lock (&self->mutex);
    self->hold = hold;
    pthread_cond_broadcast (&self->changed);
    pthread_mutex_unlock (&self->mutex);
}
