/* clock.h - monotonic time and deadlines.
 *
 * Every timeout in hark is a deadline on CLOCK_MONOTONIC checked in a loop,
 * in a callback, or as a poll timeout. Never a signal (DESIGN.md invariant 1).
 */
#ifndef HARK_UTIL_CLOCK_H
#define HARK_UTIL_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

/* Nanoseconds on CLOCK_MONOTONIC. */
int64_t clock_now_ns(void);

/* Seconds on CLOCK_MONOTONIC, as a double, for timing and progress. */
double clock_now_s(void);

/* A point in monotonic time after which work must stop. 0 means "never". */
typedef struct deadline {
    int64_t at_ns;
} deadline;

/* A deadline `seconds` from now; seconds <= 0 gives a deadline that never passes. */
deadline deadline_in(double seconds);

/* True once the deadline has passed. A "never" deadline never passes. */
bool deadline_passed(deadline d);

/* Milliseconds left, clamped to [0, INT32_MAX]; -1 for "never" (poll's infinity). */
int deadline_remaining_ms(deadline d);

#endif
