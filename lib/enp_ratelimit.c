/*  enp_ratelimit - at most a few log records per time window

    Whoever can reach a port can make a service log: a refused handshake,
    a malformed message. Logging each one would let an attacker fill the
    disk and bury what matters, so such records go through a limiter: a
    burst per fixed window, and a count of what was held back, said with
    the next record that gets through.
*/
#include <assert.h>
#include <stdlib.h>
#include "enp_ratelimit.h"

struct _enp_ratelimit_t {
    size_t burst;               //  records allowed per window
    int64_t window_ms;          //  window length
    int64_t window_start;       //  monotonic ms the current window began
    size_t used;                //  records allowed in the current window
    uint64_t held;              //  records refused since the last allowed one
    bool started;               //  window_start is set
};

//  Create a limiter.
enp_ratelimit_t *
enp_ratelimit_new (size_t burst, int64_t window_ms)
{
    enp_ratelimit_t *self = (enp_ratelimit_t *) calloc (1, sizeof (enp_ratelimit_t));
    if (!self)
        return NULL;
    self->burst = burst? burst: 1;
    self->window_ms = window_ms > 0? window_ms: 1;
    return self;
}

//  Destroy the limiter.
void
enp_ratelimit_destroy (enp_ratelimit_t **self_p)
{
    assert (self_p);
    free (*self_p);
    *self_p = NULL;
}

//  Allow one more record, or count it as held back.
bool
enp_ratelimit_allow (enp_ratelimit_t *self, int64_t now, uint64_t *held_p)
{
    assert (self);
    if (held_p)
        *held_p = 0;
    if (!self->started || now - self->window_start >= self->window_ms) {
        self->started = true;
        self->window_start = now;
        self->used = 0;
    }
    if (self->used == self->burst) {
        self->held++;
        return false;
    }
    self->used++;
    if (held_p)
        *held_p = self->held;
    self->held = 0;
    return true;
}
