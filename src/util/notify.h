/* notify.h - a change counter that threads can wait on.
 *
 * The store calls notify_signal after every commit (store_options.on_commit);
 * event streams wait for the counter to move past what they last saw instead
 * of polling the database. Signalling is cheap (a mutex and a broadcast), so
 * it is safe to call under other locks; it never calls back.
 */
#ifndef HARK_UTIL_NOTIFY_H
#define HARK_UTIL_NOTIFY_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct notify {
    pthread_mutex_t mu;
    pthread_cond_t cond; /* CLOCK_MONOTONIC */
    uint64_t gen;
    bool closed;
} notify;

int notify_init(notify *n);
void notify_destroy(notify *n);

/* Bump the counter and wake every waiter. Usable as an on_commit hook. */
void notify_signal(void *n);

/* The current counter. */
uint64_t notify_gen(notify *n);

/* Wait until the counter differs from seen, notify_close was called, or
 * timeout_ms passed. Returns the counter. */
uint64_t notify_wait(notify *n, uint64_t seen, int timeout_ms);

/* Wake everyone for good (shutdown): later waits return at once. */
void notify_close(notify *n);
bool notify_closed(notify *n);

#endif
