/* webhook_sender.h - the daemon's webhook deliveries: a small fixed pool of
 * threads that take due deliveries from the store's outbox (store.h,
 * "webhooks"), make one signed attempt each (net/webhook.h) and record
 * the outcome.
 *
 * Each thread claims one delivery at a time and holds it for one attempt,
 * bounded by libcurl's timeouts; so a receiver that never answers costs
 * the thread that is calling it one timeout per attempt, and the other
 * threads go on delivering. Only as many silent receivers as there are
 * threads at once can hold up the rest. Nothing else in the daemon waits
 * for a sender thread: they touch nothing but the store (one short
 * transaction per claim or outcome) and the network.
 *
 * Idle threads wait on the notify counter the store bumps after every
 * commit (a job that ends with a callback URL commits its delivery), or
 * until the next retry is due, whichever comes first; they never poll.
 * After a failed attempt the next is due webhook_next_delay_ms later
 * (exponential backoff with jitter, scaled by backoff_base_ms), or after
 * the receiver's Retry-After if that is longer (at most an hour); after
 * the store's webhook_max_attempts [8] attempts, or at once for a
 * permanent failure (another 4xx, a redirect, a destination not allowed),
 * the delivery is failed.
 *
 * Stop is prompt: an attempt in flight is abandoned within about a second
 * and not recorded. Its delivery stays pending in the store; the next
 * start's store_recover frees it and it is attempted again, as is
 * everything else pending. Needs net_global_init() first.
 */
#ifndef HARK_RUNTIME_WEBHOOK_SENDER_H
#define HARK_RUNTIME_WEBHOOK_SENDER_H

#include "net/dest.h"
#include "store/store.h"
#include "util/err.h"
#include "util/notify.h"

#include <stdint.h>

#define WEBHOOK_SENDER_THREADS 3 /* default pool size */
#define WEBHOOK_SECRET_MIN 16    /* bytes of a signing secret, at least */
#define WEBHOOK_SECRET_MAX 4096  /* bytes of a signing secret, at most */
#define WEBHOOK_SECRET_ENV "HARK_WEBHOOK_SECRET"

/* What became of one recorded attempt (the order of hark_metrics.h's enum
 * hark_webhook_outcome). */
enum webhook_sender_outcome {
    WEBHOOK_SENDER_DELIVERED = 0, /* the receiver accepted it */
    WEBHOOK_SENDER_RETRIED = 1,   /* failed; another attempt will follow */
    WEBHOOK_SENDER_FAILED = 2,    /* failed; hark gives up on this delivery */
};

typedef struct webhook_sender webhook_sender;

typedef struct webhook_sender_opts {
    store *st;          /* thread-safe; outlives the sender */
    notify *changes;    /* bumped after every commit of st (store_options.on_commit) */
    const char *secret; /* signing key, WEBHOOK_SECRET_MIN..MAX bytes; copied, wiped at stop */
    int threads;        /* 1..16 [WEBHOOK_SENDER_THREADS] */
    double timeout_s;   /* one attempt, all included, (0, 600] [10]; connecting at most 5 s */
    /* The first retry's delay is at most this; later ones double (the
     * schedule of webhook_next_delay_ms scaled to it), 1..3600000
     * [WEBHOOK_BACKOFF_BASE_MS]. */
    int64_t backoff_base_ms;
    /* Called on a sender thread after each recorded attempt (metrics). [none] */
    void (*on_attempt)(void *ctx, enum webhook_sender_outcome outcome);
    void *attempt_ctx;
    /* Where deliveries may connect (net/dest.h; outlives the sender). A
     * refused receiver fails its delivery at once. [NULL: public addresses only] */
    const net_dest_policy *dest;
} webhook_sender_opts;

/* Zero fields of o take their defaults; then the environment's test and
 * operations knobs override timeout_s and backoff_base_ms:
 *     HARK_WEBHOOK_TIMEOUT     seconds per attempt, e.g. 2.5
 *     HARK_WEBHOOK_BACKOFF_MS  the first retry's delay ceiling in ms
 * 0, or HARK_EINVAL naming the variable and its bad value. */
int webhook_sender_opts_env(webhook_sender_opts *o, hark_err *err);

/* Check a signing secret: WEBHOOK_SECRET_MIN..MAX bytes, printable, no
 * control characters. 0 or HARK_EINVAL (the message never quotes it). */
int webhook_secret_check(const char *secret, hark_err *err);

/* Read a signing secret from a file: its content without the final line
 * ending, checked as above. 0 with *out malloc'ed (wipe and free it), or
 * HARK_ENOENT / HARK_EIO / HARK_EINVAL naming the file. */
int webhook_secret_read(const char *path, char **out, hark_err *err);

/* The daemon's secret: read from file when it is not NULL, else taken
 * from $HARK_WEBHOOK_SECRET when that is set and not empty, else none (0
 * with *out NULL: the daemon then refuses callback_url). Checked as above.
 * 0 with *out malloc'ed or NULL (wipe and free it), or an error naming the
 * file or the variable. */
int webhook_secret_load(const char *file, char **out, hark_err *err);

/* Start the threads. 0, HARK_EINVAL (bad options), HARK_ENOMEM, HARK_EIO. */
int webhook_sender_start(const webhook_sender_opts *o, webhook_sender **out, hark_err *err);

/* Stop the threads and free (NULL is fine). Returns within about a second
 * (an attempt in flight is abandoned, its delivery left pending) plus one
 * store call. */
void webhook_sender_stop(webhook_sender *ws);

#endif
