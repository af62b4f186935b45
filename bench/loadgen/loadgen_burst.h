//  loadgen_burst - "loadgen burst": post N events as fast as they are
//  accepted, then read them back to time the whole pipeline
#ifndef LOADGEN_BURST_H_INCLUDED
#define LOADGEN_BURST_H_INCLUDED

#include "loadgen_options.h"

//  Run the burst mode and print its report and RESULT line. Returns the
//  process exit status: 0 when every event posted was seen processed (or,
//  with --post-only, none failed).
int loadgen_burst_run (const loadgen_options_t *options);

#endif
