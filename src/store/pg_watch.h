/* pg_watch.h - waking on other nodes' commits (PostgreSQL LISTEN/NOTIFY).
 *
 * Every writer transaction of the PostgreSQL store sends one NOTIFY on
 * PG_WATCH_CHANNEL with its handle's incarnation as the payload, delivered
 * by the server when (and only if) it commits (pgs_tx_end). A watcher is a
 * thread with a libpq connection of its own that LISTENs on the channel and
 * calls fn(ctx) when a transaction of another incarnation committed; its
 * own handle's commits (payload == self) are skipped: the in-process
 * on_commit hook already woke the local waiters.
 *
 * Nothing waits forever: while the connection is down (never made, or
 * lost) fn fires every PG_WATCH_POLL_MS, and the thread reconnects with a
 * backoff (250 ms doubling to 5 s); after a reconnect fn fires once
 * (notifications sent while it was down are gone). While connected, fn
 * also fires after PG_WATCH_IDLE_MS without any notification, as a safety
 * net (a connection that hangs without an error). fn runs on the watcher's
 * thread: it must only signal (notify_signal, runtime_wake), never block.
 * Only pg_store.c (and its test) include this. */
#ifndef HARK_STORE_PG_WATCH_H
#define HARK_STORE_PG_WATCH_H

#include "util/err.h"

#define PG_WATCH_CHANNEL "hark_changes"
#define PG_WATCH_POLL_MS 250
#define PG_WATCH_IDLE_MS 5000

typedef struct pg_watch pg_watch;

/* Start watching the database at location (a libpq connection string;
 * where is its redacted form, for logs) for commits whose payload is not
 * self. The first connection is made on the thread (a server that is down
 * now only means polling). 0 with *out set, or HARK_ENOMEM / HARK_EIO (no
 * thread) with nothing started. Strings are copied. */
int pg_watch_start(const char *location, const char *where, const char *self, void (*fn)(void *ctx),
                   void *ctx, pg_watch **out, hark_err *err);

/* Stop the thread (it ends within a poll interval, a connection attempt in
 * flight abandoned), close its connection, free w. NULL is fine. */
void pg_watch_stop(pg_watch *w);

#endif
