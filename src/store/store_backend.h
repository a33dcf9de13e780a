/* store_backend.h - what a store backend provides (PostgreSQL's tableam.h
 * pattern, as asr/engine_impl.h does for recognizers). Only store/ includes
 * this; everyone else uses store.h.
 *
 * store.c is the public entry: every store.h function is a wrapper that
 * validates its arguments once (so a callback never sees a bad scope, id,
 * text, span, limit or option), zeroes its out-parameters, and calls the
 * backend's callback; it clears the out-parameters again when the callback
 * fails. Callers never call a callback directly.
 *
 * Every callback below keeps the contract of the store.h function it
 * serves (the same return codes, the same "one transaction, nothing changed
 * on error" rule, the same messages), with its arguments already checked as
 * the wrapper says. Required callbacks are checked once, when store_open
 * first meets the backend (store_backend_check); optional ones (marked so)
 * may be NULL and the wrapper gives the answer named there.
 *
 * Rules that are not about a database live above the backends, so that a
 * second backend does not restate them: job state names, the legal
 * transitions, the class limit and deadlines (job_states.h), job ids (job_id.h),
 * retry backoff and its limits (backoff.h), the failure messages the store
 * composes (failure_text.h), the data of the events the store logs
 * (job_events.h), a webhook delivery's event, body and outcome
 * (webhook_body.h).
 */
#ifndef HARK_STORE_STORE_BACKEND_H
#define HARK_STORE_STORE_BACKEND_H

#include "store/job_states.h"
#include "store/store.h"

#include <jansson.h>

typedef struct store_backend_ops store_backend_ops;

/* Every backend's handle begins with this. opt holds the resolved options:
 * every default filled in and every range checked by store_open, now_ms
 * never NULL. */
struct store {
    const store_backend_ops *ops;
    store_options opt;
};

/* The wall clock of st (store_options.now_ms). */
static inline int64_t store_now(const store *st)
{
    return st->opt.now_ms(st->opt.now_ctx);
}

struct store_backend_ops {
    const char *name; /* "sqlite" */

    /* The schema version this backend's migrations reach (store_schema_version). */
    int (*schema_version)(void);

    /* Open the store at location (the backend's own form, any "sqlite:"
     * prefix already stripped; non-empty) with resolved options opt. The
     * handle's base must be set (ops = this table, opt = *opt) before the
     * backend reads the clock. 0 with *out set, or HARK_EIO / HARK_EINVAL /
     * HARK_ENOMEM naming the location, with nothing left open. */
    int (*open)(const char *location, const store_options *opt, store **out, hark_err *err);
    /* Release everything; relaxed commits become durable first. st is not NULL. */
    void (*close)(store *st);

    /* Optional (NULL: every commit is durable when it returns; flush is 0). */
    int (*flush)(store *st, hark_err *err);
    /* Optional (NULL: nothing to watch; store_watch is 0). Called only when
     * opt.on_remote_change is set, at most once; close stops it. */
    int (*watch)(store *st, hark_err *err);
    /* Optional (NULL with watch): stop what watch started; nothing if none. */
    void (*unwatch)(store *st);

    /* ---- jobs. spec is checked (texts, priority, timeout, input beneath
     * its root); id is the out-parameter of store_submit. */
    int (*submit)(store *st, const store_job_spec *spec, char id[STORE_ID_SIZE], hark_err *err);
    /* sc and id are checked; *out is zeroed. */
    int (*get_job)(store *st, store_scope sc, const char *id, store_job *out, hark_err *err);
    /* f is resolved (limit 1..1000, state and priority in range); *out zeroed. */
    int (*list_jobs)(store *st, store_scope sc, const store_job_filter *f, store_job_list *out,
                     hark_err *err);

    /* ---- tasks and leases. owner and lease_ms are checked; *out zeroed. */
    int (*claim)(store *st, const char *owner, int64_t lease_ms, int max_priority, store_task *out,
                 hark_err *err);
    /* out->best_priority is -1 and out->wake_ms 0 on entry. */
    int (*peek)(store *st, store_peek_info *out, hark_err *err);
    int (*renew)(store *st, int64_t token, int64_t lease_ms, hark_err *err);
    /* Optional, both or neither (NULL: the store has one runtime, which
     * decides yields alone; store_coordinates_yields is false). *token is 0
     * and node "" on entry (node has n >= 1 bytes, never NULL); tokens has
     * 1..64 entries and asked is all false on entry. */
    int (*request_yield)(store *st, int64_t *token, char *node, size_t n, hark_err *err);
    int (*yields_asked)(store *st, const int64_t *tokens, size_t n, bool *asked, hark_err *err);
    /* result and decode_s are checked; info (may be NULL) zeroed. */
    int (*commit_chunk)(store *st, int64_t token, const char *result, double decode_s,
                        store_commit_info *info, hark_err *err);
    /* The plan is checked (n <= STORE_MAX_CHUNKS, ordered, non-empty spans). */
    int (*commit_prepare)(store *st, int64_t token, double duration_s, const store_span *plan,
                          size_t n, const char *content_key, store_commit_info *info,
                          hark_err *err);
    /* kind is a store_release_kind; cause is checked unless PREEMPTED. */
    int (*release)(store *st, int64_t token, int kind, const char *cause, store_release_info *info,
                   hark_err *err);
    /* The sweeps: *n (never NULL) counts what changed; the wrapper reports
     * 0 when the callback fails. */
    int (*expire_leases)(store *st, int *n, hark_err *err);
    int (*fail_overdue)(store *st, int *n, hark_err *err);
    int (*recover)(store *st, int *n, hark_err *err);

    /* ---- job control. sc and id are checked; message (STORE_CTL_FAIL
     * only) too. Whether op is legal in the job's state is
     * store_ctl_check's (job_states.h), asked inside the transaction. */
    int (*control)(store *st, store_scope sc, const char *id, enum store_ctl op,
                   const char *message, hark_err *err);
    int (*retry)(store *st, store_scope sc, const char *id, int max_active, hark_err *err);

    /* ---- retention. limit, age and ids are checked; *out zeroed. */
    int (*list_unreleased)(store *st, int limit, store_job_list *out, hark_err *err);
    /* n >= 1. */
    int (*mark_released)(store *st, const char *const *ids, size_t n, hark_err *err);
    int (*prune)(store *st, int64_t age_ms, int limit, store_job_list *out, hark_err *err);

    /* ---- chunks, stages, the chunk cache. Ranges and spans are checked;
     * doc is never NULL; content_key is never empty. */
    int (*list_chunks_from)(store *st, store_scope sc, const char *id, int from_idx, int limit,
                            store_chunk_list *out, hark_err *err);
    int (*add_stage)(store *st, const char *id, const char *doc, const store_span *spans, size_t n,
                     hark_err *err);
    int (*find_cached_chunks)(store *st, const char *content_key, const char *except_id,
                              int64_t start_sample, int64_t end_sample, store_chunk_list *out,
                              hark_err *err);

    /* ---- live inputs. Arguments are checked; *was_open is never NULL and
     * false on entry. data is a JSON object, stolen (decref it on every path). */
    int (*input_append)(store *st, store_scope sc, const char *id, int64_t bytes, hark_err *err);
    int (*input_close)(store *st, store_scope sc, const char *id, const char *reason,
                       bool *was_open, hark_err *err);
    int (*list_open_inputs)(store *st, int limit, store_job_list *out, hark_err *err);
    int (*commit_live_chunk)(store *st, int64_t token, int64_t start, int64_t end,
                             const char *result, const char *delta, double decode_s,
                             store_commit_info *info, hark_err *err);
    int (*live_partial)(store *st, int64_t token, json_t *data, const char *delta, hark_err *err);
    int (*finish_live)(store *st, int64_t token, double duration_s, store_commit_info *info,
                       hark_err *err);

    /* ---- events. limit is resolved (1..10000); data is a JSON object or
     * NULL for {}, stolen; *event_id is 0 on entry. */
    int (*list_events)(store *st, store_scope sc, const char *id, int64_t after_id, int limit,
                       store_event_list *out, hark_err *err);
    int (*list_events_since)(store *st, store_scope sc, int64_t after_id, int limit,
                             store_event_list *out, hark_err *err);
    int (*latest_event_id)(store *st, int64_t *event_id, hark_err *err);
    int (*last_event_id)(store *st, store_scope sc, const char *id, const char *type,
                         int64_t *event_id, hark_err *err);
    int (*add_event)(store *st, store_scope sc, const char *id, const char *type, json_t *data,
                     int64_t *event_id, hark_err *err);

    /* ---- webhooks. max, lease and the attempt are checked; wait_ms may be
     * NULL (-1 on entry); a new delivery's event and body are
     * store_webhook_event's and store_webhook_body's, an attempt's
     * resulting state store_webhook_outcome's (webhook_body.h). */
    int (*claim_webhooks)(store *st, int max, int64_t lease_ms, store_webhook_list *out,
                          int64_t *wait_ms, hark_err *err);
    int (*record_webhook)(store *st, int64_t id, int attempt, const store_webhook_attempt *a,
                          int *state_out, hark_err *err);
    int (*list_webhooks)(store *st, store_scope sc, const char *id, store_webhook_list *out,
                         hark_err *err);

    /* ---- counters and checks. Out-parameters are zeroed on entry. */
    int (*count_work)(store *st, int64_t queued[4], int64_t *leased, hark_err *err);
    int (*get_counters)(store *st, store_counters *out, hark_err *err);
    int (*check)(store *st, hark_err *err);
};

/* 0 if every required callback of ops is there, else HARK_EINVAL naming the
 * first missing one. store_open calls it once per backend. */
int store_backend_check(const store_backend_ops *ops, hark_err *err);

extern const store_backend_ops store_sqlite_ops;
extern const store_backend_ops store_pg_ops;

/* The default clock (CLOCK_REALTIME in ms): a backend that has a clock of
 * its own (PostgreSQL's server) uses that one when opt.now_ms is this. */
int64_t store_real_now_ms(void *ctx);

#endif
