/* sqlite_store.h - what only the SQLite backend has, for its own tests and
 * tools: the background WAL sync behind relaxed commits (DURABILITY in
 * sqlite_store.c). Callers of the store use store.h alone. */
#ifndef HARK_STORE_SQLITE_STORE_H
#define HARK_STORE_SQLITE_STORE_H

#include "store/store.h"

#include <stdbool.h>
#include <stdint.h>

/* Whether relaxed commits of st are waiting for their fsync; how many
 * fsyncs its background syncer has done. false and 0 for a store of
 * another backend. */
bool store_sqlite_sync_pending(store *st);
int64_t store_sqlite_sync_count(store *st);

#endif
