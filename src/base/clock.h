/* clock.h — the one monotonic clock every layer reads (deadlines, durations,
 * trace timestamps).  CLOCK_MONOTONIC never jumps with the wall clock. */
#ifndef BRD_CLOCK_H
#define BRD_CLOCK_H

#include <stdint.h>

/* CLOCK_MONOTONIC in nanoseconds. */
int64_t brd_now_ns(void);

/* CLOCK_MONOTONIC in microseconds. */
int64_t brd_now_us(void);

#endif
