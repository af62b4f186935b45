//  enp_ratelimit - at most a few log records per time window
#ifndef ENP_RATELIMIT_H_INCLUDED
#define ENP_RATELIMIT_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _enp_ratelimit_t enp_ratelimit_t;

//  Create a limiter that allows burst records per window_ms (both at least
//  1). Returns NULL on failure. Caller owns the result.
enp_ratelimit_t *enp_ratelimit_new (size_t burst, int64_t window_ms);
//  Destroy the limiter; nulls the caller's pointer.
void enp_ratelimit_destroy (enp_ratelimit_t **self_p);
//  Return true when one more record may be written at monotonic time now
//  (ms). Records refused are counted; the first allowed one after them
//  gets that count in *held_p (else 0), so the caller can say how many it
//  held back. held_p may be NULL.
bool enp_ratelimit_allow (enp_ratelimit_t *self, int64_t now, uint64_t *held_p);

#endif
