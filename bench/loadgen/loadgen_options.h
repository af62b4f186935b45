//  loadgen_options - loadgen's command line: mode, target and knobs
#ifndef LOADGEN_OPTIONS_H_INCLUDED
#define LOADGEN_OPTIONS_H_INCLUDED

#include <signal.h>

#define LOADGEN_MAX_CONNS 4096

typedef struct {
    const char *mode;           //  "rate" or "burst"
    const char *url;            //  --url, http://127.x.x.x:port
    char host [64];             //  the URL's host, an IPv4 loopback literal
    int port;                   //  the URL's port
    const char *path;           //  --path of the POSTs
    const char *body;           //  --body of the POSTs
    const char *content_type;   //  --content-type of the POSTs
    double rate;                //  rate: offered requests per second
    int conns;                  //  connections
    double duration;            //  rate: seconds of schedule
    double warmup;              //  rate: seconds left out of the statistics
    double drain;               //  rate: seconds to wait for answers at the end
    long events;                //  burst: events to post
    double timeout;             //  burst: seconds for the whole run
    int poll_ms;                //  burst: interval between progress polls
    int post_only;              //  burst: stop after posting
    double pace;                //  burst: events per second at most (0: as fast as accepted)
    int batch;                  //  burst: events per POST /events:batchCreate (0: POST /events)
    const char *poll;           //  burst: "list" or "get" to read back
    int timeline;               //  rate: print the per-second timeline
    const volatile sig_atomic_t *interrupted;   //  set by SIGINT/SIGTERM
} loadgen_options_t;

//  Fill options from argv (argv[1] the mode) over the defaults and check
//  them; the target must be a loopback address. Prints the usage or the
//  problem and exits 2 when they are wrong.
void loadgen_options_parse (loadgen_options_t *self, int argc, char **argv);

#endif
