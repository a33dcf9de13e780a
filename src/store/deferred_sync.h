/* deferred_sync.h - make a file durable within a bounded delay, off the
 * caller's path (redis's "appendfsync everysec").
 *
 * The store commits some transactions without an fsync (SQLite's
 * synchronous=NORMAL in WAL mode: in the WAL, safe from a process crash,
 * not yet from a power loss). After each such commit it calls
 * deferred_sync_mark(); a background thread then fdatasync()s the WAL file
 * at most interval_ms later, batching every commit marked in between into
 * one fsync. A power loss can therefore lose at most the last interval's
 * unsynced commits; SQLite's checksummed WAL guarantees that what survives
 * is a prefix of the commit sequence, never a torn or reordered state.
 *
 * The file is opened by path at each sync (it may not exist yet, and
 * SQLite keeps the same inode for the WAL's whole life), so no descriptor
 * is held across SQLite's own file handling.
 */
#ifndef HARK_STORE_DEFERRED_SYNC_H
#define HARK_STORE_DEFERRED_SYNC_H

#include "util/err.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct deferred_sync deferred_sync;

/* Start the thread that syncs `path` within interval_ms (1..60000) of a
 * mark. Returns 0, HARK_EINVAL (bad interval) or HARK_ENOMEM. */
int deferred_sync_start(const char *path, int interval_ms, deferred_sync **out, hark_err *err);

/* Something was written to the file and not synced: sync it within the
 * interval. Cheap (a mutex and a condition signal); any thread. */
void deferred_sync_mark(deferred_sync *d);

/* Sync now if anything is marked. Returns 0, or HARK_EIO when the fsync
 * failed (the failure is also counted; see deferred_sync_failures). */
int deferred_sync_flush(deferred_sync *d);

/* Whether a mark is waiting for its sync. */
bool deferred_sync_pending(deferred_sync *d);

/* fsyncs done and fsyncs that failed, since start. */
int64_t deferred_sync_count(deferred_sync *d);
int64_t deferred_sync_failures(deferred_sync *d);

/* Flush what is marked, stop and join the thread, free. NULL is fine. */
void deferred_sync_stop(deferred_sync *d);

#endif
