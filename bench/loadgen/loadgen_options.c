/*  loadgen_options - loadgen's command line: mode, target and knobs

    Only loopback targets are accepted: this tool never sends load to
    another machine.
*/
#include <arpa/inet.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "loadgen_options.h"
#include "loadgen_util.h"

//  Print how to call loadgen and exit 2.
static void
s_usage (void)
{
    fprintf (stderr,
             "usage: loadgen rate  --url http://127.0.0.1:PORT [--rate R] [--conns C] [--duration S]\n"
             "                     [--warmup S] [--drain S] [--path P] [--body JSON] [--timeline]\n"
             "       loadgen burst --url http://127.0.0.1:PORT [--events N] [--conns C] [--timeout S]\n"
             "                     [--poll list|get] [--poll-ms MS] [--post-only] [--body JSON]\n"
             "                     [--batch N]   (N events a POST /events:batchCreate, each --body)\n"
             "                     [--pace R]    (post at most R events/s, on a schedule)\n"
             "Loopback targets only.  Prints a RESULT line for scripts.\n");
    exit (2);
}

//  Split --url into host and port; refuse anything but 127.0.0.0/8.
static void
s_parse_url (loadgen_options_t *self)
{
    const char *cursor = self->url;
    if (strncmp (cursor, "http://", 7) != 0)
        loadgen_die ("--url must start with http://");
    cursor += 7;
    const char *colon = strchr (cursor, ':');
    const char *slash = strchr (cursor, '/');
    size_t host_length = colon? (size_t) (colon - cursor)
                       : slash? (size_t) (slash - cursor): strlen (cursor);
    if (host_length == 0 || host_length >= sizeof self->host)
        loadgen_die ("bad host in --url");
    memcpy (self->host, cursor, host_length);
    self->host [host_length] = 0;
    self->port = colon? atoi (colon + 1): 80;
    if (self->port <= 0 || self->port > 65535)
        loadgen_die ("bad port in --url");
    if (strcmp (self->host, "localhost") == 0)
        strcpy (self->host, "127.0.0.1");
    struct in_addr address;
    if (inet_pton (AF_INET, self->host, &address) != 1)
        loadgen_die ("--url host must be an IPv4 literal (127.x.x.x) or localhost");
    if ((ntohl (address.s_addr) >> 24) != 127)
        loadgen_die ("refusing a non-loopback target: only 127.0.0.0/8 is allowed");
}

void
loadgen_options_parse (loadgen_options_t *self, int argc, char **argv)
{
    *self = (loadgen_options_t) {
        .path = "/events",
        .body = "{\"user_id\":\"u1\",\"description\":\"bench\"}",
        .content_type = "application/json",
        .rate = 1000, .conns = 64, .duration = 10, .warmup = 1, .drain = 10,
        .events = 10000, .timeout = 300, .poll_ms = 100, .poll = "list"
    };
    if (argc < 2 || (strcmp (argv [1], "rate") != 0 && strcmp (argv [1], "burst") != 0))
        s_usage ();
    self->mode = argv [1];
    static const struct option options [] = {
        { "url", required_argument, 0, 'u' },      { "rate", required_argument, 0, 'r' },
        { "conns", required_argument, 0, 'c' },    { "duration", required_argument, 0, 'd' },
        { "warmup", required_argument, 0, 'w' },   { "drain", required_argument, 0, 'D' },
        { "path", required_argument, 0, 'p' },     { "body", required_argument, 0, 'b' },
        { "events", required_argument, 0, 'n' },   { "timeout", required_argument, 0, 't' },
        { "poll", required_argument, 0, 'P' },     { "poll-ms", required_argument, 0, 'm' },
        { "post-only", no_argument, 0, 'o' },      { "content-type", required_argument, 0, 'T' },
        { "timeline", no_argument, 0, 'L' },       { "help", no_argument, 0, 'h' },
        { "batch", required_argument, 0, 'B' },    { "pace", required_argument, 0, 'R' },
        { 0, 0, 0, 0 }
    };
    optind = 2;
    int option;
    while ((option = getopt_long (argc, argv, "", options, NULL)) != -1) {
        switch (option) {
            case 'u': self->url = optarg; break;
            case 'r': self->rate = atof (optarg); break;
            case 'c': self->conns = atoi (optarg); break;
            case 'd': self->duration = atof (optarg); break;
            case 'w': self->warmup = atof (optarg); break;
            case 'D': self->drain = atof (optarg); break;
            case 'p': self->path = optarg; break;
            case 'b': self->body = optarg; break;
            case 'n': self->events = atol (optarg); break;
            case 't': self->timeout = atof (optarg); break;
            case 'P': self->poll = optarg; break;
            case 'm': self->poll_ms = atoi (optarg); break;
            case 'o': self->post_only = 1; break;
            case 'L': self->timeline = 1; break;
            case 'T': self->content_type = optarg; break;
            case 'B': self->batch = atoi (optarg); break;
            case 'R': self->pace = atof (optarg); break;
            default:  s_usage ();
        }
    }
    if (!self->url)
        s_usage ();
    if (self->conns < 1 || self->conns > LOADGEN_MAX_CONNS)
        loadgen_die ("--conns must be 1..4096");
    if (self->timeout <= 0 || self->timeout > 3600)
        loadgen_die ("--timeout must be in (0, 3600]");
    if (self->duration > 3600)
        loadgen_die ("--duration must be <= 3600");
    if (self->events > 20000000)
        loadgen_die ("--events must be <= 20,000,000");
    if (self->pace < 0 || self->pace > 10000000)
        loadgen_die ("--pace must be 0..10,000,000 events/s");
    if (self->batch < 0 || self->batch > 1000)
        loadgen_die ("--batch must be 0..1000");
    if (self->batch > 0 && self->events % self->batch != 0)
        loadgen_die ("--events must be a multiple of --batch");
    if (self->poll_ms < 1)
        self->poll_ms = 1;
    s_parse_url (self);
}
