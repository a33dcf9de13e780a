/* pg_store.h - what the files of the PostgreSQL backend share (pg_store.c,
 * pg_live.c, pg_webhooks.c): the handle, the call and transaction helpers,
 * and the callbacks each file gives store_pg_ops. Only they include this;
 * the rules they follow are in pg_store.c's header comment. */
#ifndef HARK_STORE_PG_STORE_H
#define HARK_STORE_PG_STORE_H

#include "store/pg_conn.h"
#include "store/pg_watch.h"
#include "store/store_backend.h"

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* pg_advisory_xact_lock key of writers (see TRANSACTIONS). */
#define WRITE_LOCK "7521981955374162551"
/* The server's clock in ms since the epoch. */
#define DB_NOW_MS "(extract(epoch from clock_timestamp()) * 1000)::int8"

typedef struct pg_store {
    store base; /* ops, resolved options (store_backend.h) */
    pg_conn c;
    pthread_mutex_t mu;
    bool db_clock;    /* the caller left the default clock: now is the server's */
    int64_t now;      /* this call's now (see THE CLOCK) */
    char *node;       /* store_options.node, or the host name */
    char *life;       /* store_options.incarnation, or host-pid-random */
    char *machine;    /* store_options.machine, or the host name */
    char *location;   /* as given: the watcher connects with it */
    char *notify_sql; /* "NOTIFY <channel>, '<life>'; COMMIT" (see LISTEN/NOTIFY) */
    bool tx_notify;   /* this transaction is a writer's: its commit notifies */
    pg_watch *watch;  /* store_watch's thread, or NULL */
} pg_store;

static inline pg_store *pgs(store *st)
{
    return (pg_store *)st;
}

/* ---- calls and transactions (pg_store.c) ----------------------------------- */

/* Start a call: the handle's mutex, then a usable connection (a lost one
 * reset once); pgs_leave ends it. */
int pgs_enter(pg_store *st, hark_err *err);
void pgs_leave(pg_store *st);
/* st->now for a call outside a transaction (see THE CLOCK). */
int pgs_call_now(pg_store *st, hark_err *err);
/* BEGIN (a writer also takes WRITE_LOCK) and st->now; pgs_tx_end commits
 * when rc is 0 or HARK_ESTALE, else rolls back, and returns rc or the
 * commit's error. */
int pgs_tx_begin(pg_store *st, bool writer, hark_err *err);
int pgs_tx_end(pg_store *st, int rc, hark_err *err);
/* One read-only snapshot for a read of several statements (end: COMMIT). */
int pgs_snap_begin(pg_store *st, hark_err *err);

/* ---- rows ----------------------------------------------------------------------- */

void pgs_copy_id(char dst[STORE_ID_SIZE], const PGresult *r, int row, int col);
/* What a query binds for scope sc: NULL for every job, else the owner. */
const char *pgs_scope_owner(store_scope sc);

/* A job's columns in read_job's order. */
#define JOB_COLS                                                                                   \
    "j.id, j.kind, j.state, j.priority, j.seq, j.created_ms, j.updated_ms,"                        \
    " COALESCE(j.started_ms, 0), COALESCE(j.finished_ms, 0), j.input, j.source, j.options,"        \
    " j.timeout_s, j.deadline_ms, j.prepared, COALESCE(p.attempts, 0),"                            \
    " COALESCE(p.last_error, ''), j.duration_s, j.n_chunks, j.chunks_done, j.error,"               \
    " j.result_ready, COALESCE(j.callback_url, ''), COALESCE(w.state, ''),"                        \
    " COALESCE(w.attempts, 0), COALESCE(w.last_status, 0), COALESCE(w.last_error, ''),"            \
    " COALESCE(w.delivered_ms, 0), j.input_root, j.owner, j.content_key, j.doc,"                   \
    " j.input_open, j.input_bytes, j.input_at_ms,"                                                 \
    " COALESCE((SELECT string_agg(DISTINCT l.lease_node, ',' ORDER BY l.lease_node) FROM tasks l"  \
    "  WHERE l.job_id = j.id AND l.state = 'leased' AND l.lease_node IS NOT NULL), '')"            \
    " FROM jobs j LEFT JOIN tasks p ON p.job_id = j.id AND p.idx = -1"                             \
    " LEFT JOIN webhooks w ON j.finished_ms IS NOT NULL"                                           \
    " AND w.id = (SELECT MAX(id) FROM webhooks WHERE job_id = j.id)"

/* Row `row` of r (JOB_COLS) into *j (release it); HARK_ENOMEM. */
int pgs_read_job(pg_store *st, const PGresult *r, int row, store_job *j, hark_err *err);
/* A one-statement read of jobs (JOB_COLS) into out (room for limit):
 * types "i" binds b, "Ii" binds a then b. */
int pgs_read_jobs(pg_store *st, int limit, store_job_list *out, hark_err *err, const char *sql,
                  const char *types, int64_t a, int b);
/* The state of job id if it is in scope sc, HARK_ENOENT otherwise. */
int pgs_job_state(pg_store *st, store_scope sc, const char *id, int *state, hark_err *err);

/* Append an event (a writer: WRITE_LOCK held); data stolen, NULL = {}. */
int pgs_add_event(pg_store *st, const char *job_id, const char *type, json_t *data,
                  int64_t *event_id, hark_err *err);

/* ---- claims (pg_store.c) ---------------------------------------------------------- */

/* Claimable tasks in claim order (invariant 4 of sqlite_store.c), through
 * tasks_claim: the condition, then the order and the first. $1 now, $2
 * max_attempts, $3 max_priority. */
#define SQL_CLAIMABLE_WHERE                                                                        \
    " FROM tasks t JOIN jobs j ON j.id = t.job_id"                                                 \
    " WHERE t.state = 'pending' AND t.prio <= $3 AND t.attempts < $2 AND t.not_before_ms <= $1"    \
    " AND j.state IN ('queued','running') AND (j.deadline_ms = 0 OR j.deadline_ms > $1)"
#define SQL_CLAIMABLE SQL_CLAIMABLE_WHERE " ORDER BY t.prio, t.job_seq, t.idx LIMIT 1"

/* Within a transaction: plan the next claim-order read as a walk of
 * tasks_claim, whatever the statistics say (pg_store.c says why). */
int pgs_claim_plan(pg_store *st, hark_err *err);

/* ---- leases --------------------------------------------------------------------- */

typedef struct lease {
    char job_id[STORE_ID_SIZE];
    int idx;
    int64_t expires_ms;
} lease;

/* The LEASED task holding token, locked, and live (unexpired): 0, or
 * HARK_ESTALE. */
int pgs_find_live_lease(pg_store *st, int64_t token, lease *l, hark_err *err);
/* Count a refused commit or renewal (counter) and keep the HARK_ESTALE. */
int pgs_refuse(pg_store *st, const char *counter, hark_err *err);

/* What clears a lease from a task row (SET ...). */
#define CLEAR_LEASE                                                                                \
    "lease_token = NULL, lease_owner = NULL, lease_node = NULL, lease_life = NULL,"                \
    " lease_machine = NULL, lease_expires_ms = NULL, yield_asked_ms = NULL"

/* ---- preemption across nodes (pg_yield.c) --------------------------------------- */

/* Inside a transaction that ends the lease token (a commit, a release):
 * its worker is between tasks, about to claim, so it counts as a worker
 * a waiting task will get, and no other is asked to yield for it, until
 * its next claim or for a moment (its node may have died). */
int pgs_worker_freed(pg_store *st, int64_t token, hark_err *err);
/* A claim of worker owner found nothing: it is idle, and counts so too. */
int pgs_worker_idle(pg_store *st, const char *owner, hark_err *err);
/* Drop what stopped counting (at recovery). */
int pgs_sweep_yield_grants(pg_store *st, hark_err *err);
int pg_request_yield_cb(store *base, int64_t *token, char *node, size_t n, hark_err *err);
int pg_yields_asked_cb(store *base, const int64_t *tokens, size_t n, bool *asked, hark_err *err);

/* ---- live inputs (pg_live.c) ------------------------------------------------------ */

/* Close job id's input (event "input_ended"), inside a writer's
 * transaction. */
int pgs_close_input(pg_store *st, const char *id, const char *reason, hark_err *err);
int pg_input_append_cb(store *base, store_scope sc, const char *id, int64_t bytes, hark_err *err);
int pg_input_close_cb(store *base, store_scope sc, const char *id, const char *reason,
                      bool *was_open, hark_err *err);
int pg_list_open_inputs_cb(store *base, int limit, store_job_list *out, hark_err *err);
int pg_commit_live_chunk_cb(store *base, int64_t token, int64_t start, int64_t end,
                            const char *result, const char *delta, double decode_s,
                            store_commit_info *info, hark_err *err);
int pg_live_partial_cb(store *base, int64_t token, json_t *obj, const char *delta, hark_err *err);
int pg_finish_live_cb(store *base, int64_t token, double duration_s, store_commit_info *info,
                      hark_err *err);

/* ---- webhooks (pg_webhooks.c) ------------------------------------------------------ */

/* Inside the transaction that ends job id: its delivery, if it has a
 * callback URL (webhook_body.h). */
int pgs_enqueue_webhook(pg_store *st, const char *id, hark_err *err);
int pg_claim_webhooks_cb(store *base, int max, int64_t lease_ms, store_webhook_list *out,
                         int64_t *wait_ms, hark_err *err);
int pg_record_webhook_cb(store *base, int64_t id, int attempt, const store_webhook_attempt *a,
                         int *state_out, hark_err *err);
int pg_list_webhooks_cb(store *base, store_scope sc, const char *id, store_webhook_list *out,
                        hark_err *err);

#endif
