/* counter_keys.h - the store's counters (store_counters, store.h) by the
 * names a backend keeps them under (its meta table's keys), so that every
 * backend reads them into the struct the same way. */
#ifndef HARK_STORE_COUNTER_KEYS_H
#define HARK_STORE_COUNTER_KEYS_H

#include "store/store.h"

#include <stdint.h>

/* Set the field of out that key names ("refused_commits", "last_token" ...:
 * the field's own name) to value. A key that names no counter (a backend's
 * other meta rows) is ignored; key may be NULL. */
void store_counters_set(store_counters *out, const char *key, int64_t value);

#endif
