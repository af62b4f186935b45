//  loadgen_rate - "loadgen rate": a constant offered rate, latency measured
//  from the scheduled send time
#ifndef LOADGEN_RATE_H_INCLUDED
#define LOADGEN_RATE_H_INCLUDED

#include "loadgen_options.h"

//  Run the rate mode and print its report and RESULT line. Returns the
//  process exit status.
int loadgen_rate_run (const loadgen_options_t *options);

#endif
