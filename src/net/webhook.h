/* webhook.h - deliver one webhook attempt, and the retry schedule.
 *
 * One call is one attempt: a POST of a JSON body to the receiver's URL,
 * with no state kept between calls. Whoever persists deliveries (what to
 * send, how many attempts so far, when the next one is due) calls
 * webhook_deliver, looks at the outcome, and if it says WEBHOOK_RETRY and
 * attempts remain, schedules the next attempt webhook_next_delay_ms later.
 *
 * The request carries these headers:
 *     Content-Type: application/json
 *     User-Agent: hark/<version>
 *     X-Hark-Event: <event>             e.g. job.succeeded
 *     X-Hark-Delivery: <delivery id>    the same on every attempt of one delivery
 *     X-Hark-Timestamp: <unix seconds>  when this attempt was signed
 *     X-Hark-Signature: sha256=<hex>
 * where <hex> is the lowercase hex HMAC-SHA256, keyed with the secret
 * shared with the receiver, of the bytes
 *     <timestamp> "." <body>
 * (the X-Hark-Timestamp value as sent, a full stop, the raw body as sent).
 *
 * A receiver verifies by recomputing the HMAC over the timestamp header, a
 * '.', and the raw request body (before any JSON parsing), comparing it to
 * the signature header in constant time, and rejecting a timestamp more
 * than a few minutes from its own clock. The timestamp is inside the
 * signed bytes, so a captured request cannot be replayed later with a
 * fresh timestamp; the delivery id lets a receiver drop a retry it already
 * processed. docs/operations.md shows a check with `openssl dgst`.
 *
 * Redirects are not followed (a 3xx is a permanent failure: configure the
 * final URL); only http and https; the connection goes only to an address
 * o->dest allows (net/dest.h: public ones, and private ones only for
 * url_allow hosts), judged on the address connected to, and a refused one
 * is never contacted (a permanent failure, "not allowed"). The response
 * body is read up to WEBHOOK_RESPONSE_MAX and discarded: no message
 * repeats anything a receiver answered but its status (with the standard
 * reason phrase, not the receiver's), so a failure message cannot carry
 * an internal service's answer to whoever reads the job. Timeouts are
 * libcurl's with CURLOPT_NOSIGNAL (no signals). Needs net_global_init()
 * once per process first.
 */
#ifndef HARK_NET_WEBHOOK_H
#define HARK_NET_WEBHOOK_H

#include "net/dest.h"
#include "util/err.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define WEBHOOK_MAX_ATTEMPTS 8              /* default: the first try and 7 retries */
#define WEBHOOK_BACKOFF_MIN_MS 1000         /* no retry sooner than this */
#define WEBHOOK_BACKOFF_BASE_MS 30000       /* the first retry's ceiling; doubles per attempt */
#define WEBHOOK_BACKOFF_CAP_MS 3600000      /* ceiling of any one delay (1 h) */
#define WEBHOOK_RESPONSE_MAX (64u << 10)    /* bytes of a response read before giving up on it */
#define WEBHOOK_SIGNATURE_SIZE (7 + 64 + 1) /* "sha256=" + hex + NUL */

typedef struct webhook_opts {
    double connect_timeout_s; /* name lookup + TCP + TLS; default (and if <= 0) 5 */
    double timeout_s;         /* the whole attempt; default (and if <= 0) 10 */
    /* When set and it becomes true, the attempt in flight is abandoned
     * within about a second (libcurl's progress callback): a daemon that
     * is stopping need not wait for a receiver that does not answer.
     * Outcome WEBHOOK_RETRY, HARK_ECANCELED. [NULL] */
    const atomic_bool *cancel;
    const net_dest_policy *dest; /* where it may connect [NULL: public addresses only] */
} webhook_opts;

webhook_opts webhook_defaults(void);

typedef struct webhook_request {
    const char *url;         /* http:// or https:// */
    const char *secret;      /* shared with the receiver; must not be empty */
    const char *event;       /* X-Hark-Event: printable ASCII, no spaces, <= 200 bytes */
    const char *delivery_id; /* X-Hark-Delivery: same rules */
    const char *body;        /* the JSON body, sent as is */
    size_t body_len;
    int64_t timestamp; /* X-Hark-Timestamp, unix seconds; 0: now (the usual) */
} webhook_request;

typedef enum webhook_outcome {
    WEBHOOK_DELIVERED, /* the receiver answered 2xx */
    WEBHOOK_RETRY,     /* worth another attempt: timeout, connection failure, 5xx, 408, 429 */
    WEBHOOK_FAILED,    /* will fail the same way: other 4xx, 3xx, bad URL or request,
                          a destination not allowed */
} webhook_outcome;

typedef struct webhook_result {
    webhook_outcome outcome;
    long status;        /* HTTP status, 0 if none came */
    int64_t timestamp;  /* the X-Hark-Timestamp signed (0 if refused before that) */
    long retry_after_s; /* the receiver's Retry-After in seconds; 0 if none */
    double elapsed_s;   /* how long the attempt took */
} webhook_result;

/* Make one delivery attempt of rq with options o (NULL: webhook_defaults()).
 * res is always filled. Returns 0 when delivered, else a HARK_E* code with
 * err (may be NULL) set to a one-line message naming the URL (credentials
 * and query removed, see net_url_redact) and the cause:
 *     HARK_ETIMEDOUT  no connection or no answer in time          (RETRY)
 *     HARK_EIO        connection, name lookup or TLS failure, 5xx,
 *                     408, 429                                     (RETRY)
 *     HARK_EINVAL     3xx, other 4xx, a bad URL, secret or header,
 *                     a destination o->dest refuses                (FAILED)
 *     HARK_ENOMEM     out of memory                                (RETRY)
 *     HARK_ECANCELED  o->cancel became true                        (RETRY) */
int webhook_deliver(const webhook_request *rq, const webhook_opts *o, webhook_result *res,
                    hark_err *err);

/* The X-Hark-Signature value for body at timestamp: "sha256=<hex>".
 * Returns 0, or HARK_EIO if libcrypto fails. */
int webhook_sign(const char *secret, int64_t timestamp, const char *body, size_t body_len,
                 char out[WEBHOOK_SIGNATURE_SIZE]);

/* How long to wait after `attempt` failed attempts (1 after the first)
 * before the next: exponential backoff with full jitter. The ceiling is
 * WEBHOOK_BACKOFF_BASE_MS * 2^(attempt-1), at most WEBHOOK_BACKOFF_CAP_MS,
 * and the delay is spread evenly over [WEBHOOK_BACKOFF_MIN_MS, ceiling] by
 * rnd, a uniformly random 64-bit value from the caller (so tests are
 * deterministic and this function has no state). Jitter keeps receivers
 * that come back from an outage from being hit by every retry at once.
 * attempt < 1 counts as 1. A caller that got a Retry-After may wait the
 * larger of the two. */
int64_t webhook_next_delay_ms(int attempt, uint64_t rnd);

#endif
