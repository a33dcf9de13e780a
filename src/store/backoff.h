/* backoff.h - when a failed task may run again, and when its job gives up:
 * the retry rules of store_release and lease expiry (store.h,
 * store_options), the same for every store backend. */
#ifndef HARK_STORE_BACKOFF_H
#define HARK_STORE_BACKOFF_H

#include "store/store.h"

#include <stdbool.h>
#include <stdint.h>

/* How long a task waits after a failure, given how many failures of that
 * kind it had before this one (prior >= 0): base * 2^prior, the exponent
 * capped at 20, at most max. With resource, the resource backoff of opt
 * (a wait for disk space), else the attempt backoff. opt is resolved
 * (store_open's checks keep base * 2^20 within int64). */
int64_t store_backoff_ms(const store_options *opt, bool resource, int prior);

/* Whether a task that has now failed `attempts` times, or waited
 * `resource_waits` times for a resource (the kind that just happened:
 * resource), has used up what opt allows, so its job fails. */
bool store_gives_up(const store_options *opt, bool resource, int attempts, int resource_waits);

#endif
