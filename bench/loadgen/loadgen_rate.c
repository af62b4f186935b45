/*  loadgen_rate - "loadgen rate": a constant offered rate, latency measured
    from the scheduled send time

    Each of C connections sends every C/R seconds with one request in
    flight, so R requests a second are offered whatever the server does.
    Latency counts from when a request was due, not from when it went out
    (wrk2's correction for coordinated omission): a stalled server shows
    up as latency, not as a lower rate.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include "loadgen_engine.h"
#include "loadgen_latency.h"
#include "loadgen_rate.h"
#include "loadgen_util.h"

#define S_TIMELINE_MAX 3600     //  seconds of schedule the timeline covers

//  One run's state, shared with the engine's callbacks.
typedef struct {
    const loadgen_options_t *options;
    loadgen_engine_t *engine;
    loadgen_latency_t *latency;         //  ns from scheduled send, in window
    uint64_t timeline_max [S_TIMELINE_MAX];     //  per second: worst latency,
    long timeline_count [S_TIMELINE_MAX];       //  answers,
    long timeline_slow [S_TIMELINE_MAX];        //  answers over 10 ms
    uint64_t start;                     //  first scheduled send
    uint64_t window_start;              //  end of the warmup
    uint64_t last_done;                 //  last answer in the window
    long done_in_window;                //  answers in the window
    long sent;                          //  requests sent
} s_rate_t;

//  An answer: count it in the timeline and, past the warmup, the window.
static void
s_on_response (void *arg, loadgen_conn_t *conn, const loadgen_http_response_t *response,
               uint64_t now)
{
    s_rate_t *self = (s_rate_t *) arg;
    if (response->status < 200 || response->status > 299)
        loadgen_engine_stats (self->engine)->non2xx++;
    uint64_t latency = now > conn->sched? now - conn->sched: 0;
    if (self->options->timeline && conn->sched >= self->start) {
        size_t second = (size_t) ((conn->sched - self->start) / LOADGEN_NS_PER_S);
        if (second < S_TIMELINE_MAX) {
            self->timeline_count [second]++;
            if (latency > self->timeline_max [second])
                self->timeline_max [second] = latency;
            if (latency > 10 * LOADGEN_NS_PER_MS)
                self->timeline_slow [second]++;
        }
    }
    if (conn->sched >= self->window_start) {
        loadgen_latency_add (self->latency, latency);
        self->done_in_window++;
        self->last_done = now;
    }
}

//  A request lost with its connection.
static void
s_on_lost (void *arg, loadgen_conn_t *conn)
{
    (void) conn;
    s_rate_t *self = (s_rate_t *) arg;
    loadgen_engine_stats (self->engine)->errors++;
}

//  Send on every connection whose turn has come, until the schedule and
//  the drain time are over (or a signal).
static void
s_send_schedule (s_rate_t *self, uint64_t end_sched, uint64_t hard_end)
{
    const loadgen_options_t *options = self->options;
    const double interval = (double) options->conns * 1e9 / options->rate;
    long *turns = loadgen_calloc ((size_t) options->conns, sizeof *turns);
    for (int index = 0; index < options->conns; index++)
        loadgen_engine_conn (self->engine, (size_t) index)->next
            = self->start + (uint64_t) ((double) index * 1e9 / options->rate);
    while (1) {
        uint64_t now = loadgen_now_ns ();
        if (*options->interrupted || now >= hard_end)
            break;
        uint64_t wake = hard_end;
        int busy = 0;
        for (int index = 0; index < options->conns; index++) {
            loadgen_conn_t *conn = loadgen_engine_conn (self->engine, (size_t) index);
            if (conn->state == LOADGEN_CONN_BUSY) {
                busy++;
                continue;
            }
            if (conn->next >= end_sched)
                continue;
            if (conn->next <= now) {
                uint64_t sched = conn->next;
                turns [index]++;
                conn->next = self->start + (uint64_t) ((double) index * 1e9 / options->rate)
                           + (uint64_t) ((double) turns [index] * interval);
                self->sent++;
                if (loadgen_engine_send (self->engine, conn, sched) != 0)
                    continue;   //  counted as a connection error
                busy++;
                continue;
            }
            if (conn->next < wake)
                wake = conn->next;
        }
        if (busy == 0 && wake == hard_end)
            break;              //  everything scheduled was sent and answered
        loadgen_engine_arm (self->engine, wake);
        loadgen_engine_wait (self->engine, s_on_response, s_on_lost, self);
    }
    free (turns);
}

//  Print the report and the RESULT line.
static void
s_report (s_rate_t *self)
{
    const loadgen_options_t *options = self->options;
    loadgen_stats_t *stats = loadgen_engine_stats (self->engine);
    long inflight = 0;
    for (int index = 0; index < options->conns; index++)
        if (loadgen_engine_conn (self->engine, (size_t) index)->state == LOADGEN_CONN_BUSY)
            inflight++;
    loadgen_latency_t *latency = self->latency;
    loadgen_latency_sort (latency);
    double window = (double) (self->last_done > self->window_start
                              ? self->last_done - self->window_start: 1) / 1e9;
    double achieved = (double) self->done_in_window / window;
    double p50 = (double) loadgen_latency_percentile (latency, 50) / 1e6;
    double p90 = (double) loadgen_latency_percentile (latency, 90) / 1e6;
    double p99 = (double) loadgen_latency_percentile (latency, 99) / 1e6;
    double p999 = (double) loadgen_latency_percentile (latency, 99.9) / 1e6;
    double max = (double) loadgen_latency_max (latency) / 1e6;
    printf ("rate: offered %.0f req/s over %d conns for %.1f s (warmup %.1f s)\n",
            options->rate, options->conns, options->duration, options->warmup);
    printf ("  completed %ld in window, achieved %.0f req/s\n", self->done_in_window, achieved);
    printf ("  latency from scheduled send: p50 %.3f ms  p90 %.3f ms  p99 %.3f ms  p99.9 %.3f ms  max %.3f ms\n",
            p50, p90, p99, p999, max);
    printf ("  errors %ld (conn %ld, non-2xx %ld, unanswered at end %ld)\n",
            stats->errors + stats->conn_errors + stats->non2xx + inflight, stats->conn_errors,
            stats->non2xx, inflight);
    if (options->timeline) {
        printf ("  timeline (by scheduled second): second requests max_ms over_10ms\n");
        for (size_t second = 0; second < S_TIMELINE_MAX && second < (size_t) options->duration + 1;
             second++)
            printf ("  %4zu %7ld %9.3f %7ld\n", second, self->timeline_count [second],
                    (double) self->timeline_max [second] / 1e6, self->timeline_slow [second]);
    }
    printf ("RESULT mode=rate offered=%.0f conns=%d duration=%.1f achieved=%.0f count=%zu "
            "p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f p999_ms=%.3f max_ms=%.3f errors=%ld non2xx=%ld\n",
            options->rate, options->conns, options->duration, achieved,
            loadgen_latency_count (latency), p50, p90, p99, p999, max,
            stats->errors + stats->conn_errors + inflight, stats->non2xx);
    fflush (stdout);
}

int
loadgen_rate_run (const loadgen_options_t *given)
{
    loadgen_options_t options = *given;
    if (options.rate <= 0 || options.duration <= 0)
        loadgen_die ("--rate and --duration must be > 0");
    if (options.warmup >= options.duration)
        options.warmup = 0;
    prctl (PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    s_rate_t *self = (s_rate_t *) loadgen_calloc (1, sizeof *self);
    self->options = &options;
    self->engine = loadgen_engine_new (&options);
    self->latency = loadgen_latency_new ();
    self->start = loadgen_now_ns () + 20 * LOADGEN_NS_PER_MS;
    const uint64_t end_sched = self->start + (uint64_t) (options.duration * 1e9);
    const uint64_t hard_end = end_sched + (uint64_t) (options.drain * 1e9);
    self->window_start = self->start + (uint64_t) (options.warmup * 1e9);
    s_send_schedule (self, end_sched, hard_end);
    s_report (self);
    loadgen_latency_destroy (&self->latency);
    loadgen_engine_destroy (&self->engine);
    free (self);
    return 0;
}
