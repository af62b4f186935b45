/*  loadgen - a small HTTP/1.1 keep-alive load generator for the event
    pipeline. Plain sockets, epoll and a timerfd, one thread. Loopback
    targets only.

      loadgen rate  --url http://127.0.0.1:P --rate R --conns C --duration D
          Constant offered rate R req/s over C connections (each connection
          sends every C/R seconds, one request in flight). Latency is
          measured from the *scheduled* send time (wrk2-style, coordinated
          omission corrected). Prints p50/p99/p99.9/max and the achieved
          rate. (loadgen_rate)

      loadgen burst --url http://127.0.0.1:P --events N --conns C --timeout T
          Posts N events as fast as they are accepted, records each event_id
          (Location: /events/<id>), then waits until all are processed and
          reads them back (GET /events?status=processed&limit=1000&after=...)
          to compute end-to-end time and create->processed latency
          (updated_at - created_at). --post-only stops after posting.
          (loadgen_burst)

    Machine-readable summary: one line starting with "RESULT ".
    This main only parses the command line and runs the mode.
*/
#include <signal.h>
#include <string.h>
#include "loadgen_burst.h"
#include "loadgen_options.h"
#include "loadgen_rate.h"

//  Set by SIGINT and SIGTERM: the modes stop and report what they have.
static volatile sig_atomic_t s_interrupted = 0;

static void
s_on_signal (int signal_number)
{
    (void) signal_number;
    s_interrupted = 1;
}

int
main (int argc, char **argv)
{
    loadgen_options_t options;
    loadgen_options_parse (&options, argc, argv);
    options.interrupted = &s_interrupted;
    signal (SIGPIPE, SIG_IGN);
    signal (SIGINT, s_on_signal);
    signal (SIGTERM, s_on_signal);
    if (strcmp (options.mode, "rate") == 0)
        return loadgen_rate_run (&options);
    return loadgen_burst_run (&options);
}
