/* pg_store.c - the PostgreSQL backend of the store (store_pg_ops,
 * store_backend.h): the same contracts as sqlite_store.c, whose header
 * comment holds the task diagram, the invariants and the lease and fencing
 * rules; this file follows them statement for statement, and says below
 * only what differs because several nodes (machines, processes) share one
 * database. Live inputs are in pg_live.c, the webhook outbox in
 * pg_webhooks.c (sharing pg_store.h), the connection in pg_conn.c, the
 * schema in pg_migrations.c.
 *
 * TRANSACTIONS. Every store.h call is one transaction on this handle's
 * connection (READ COMMITTED), rolled back on any error, so nothing changes
 * then (a refused stale commit keeps only its counter bump, as on SQLite).
 * Calls that write events ("writers") first take one transaction-scoped
 * advisory lock (WRITE_LOCK), as SQLite's BEGIN IMMEDIATE serializes
 * writers: event ids then grow in commit order, so a reader that pages
 * events by id (SSE's Last-Event-ID) never skips one that commits late,
 * and writers that touch the same job cannot deadlock. Claims, renewals,
 * webhook claims and outcomes, released marks and input appends write no
 * event and take no such lock: claims run side by side on every node.
 * A claim that starts a job (event "started") takes the lock with
 * pg_try_advisory_xact_lock after its row locks; if another writer holds
 * it, the claim rolls back and runs again taking the lock first (locks in
 * one order only: no deadlock).
 *
 * JOB ROW LOCKS. A claim key-share-locks the job row of the task it leases
 * (FOR KEY SHARE OF j), which other claims and the progress updates of
 * commits (no-key updates) do not wait for; a call that changes a job's
 * state or revokes its leases locks the row FOR UPDATE first
 * (job_state_at, lock_job), which does. So a pause, cancel, failure or
 * preemption either waits for a claim in flight and then sees its lease,
 * or makes the claim (waiting on the row, rechecking it after) pass the
 * job over: never a lease left in a job that has ended. A claim never
 * waits on a task row (SKIP LOCKED). Should the server still find a
 * deadlock, the claim it picks runs again (pg_claim_cb).
 *
 * CLAIMS. One statement picks and leases the task: the first pending task
 * in (priority, job seq, idx) order whose job is claimable, FOR UPDATE
 * SKIP LOCKED (a task another node is leasing right now is passed over,
 * not waited for), read through the partial index tasks_claim, so its
 * cost does not grow with the queue (pg_migrations.c). Tokens come from
 * the sequence lease_tokens.
 *
 * THE CLOCK. Each call computes its `now` once, at its start (pgs_tx_begin,
 * pgs_call_now), and passes it to every statement as a parameter. When the
 * caller left store_options.now_ms at its default, now is the database's
 * clock (clock_timestamp() of the server, read in the same round trip as
 * BEGIN): every node judges lease expiry, deadlines and backoff by the one
 * clock, never its own. A clock the caller injected (the tests' fake
 * clock) is used as given.
 *
 * NODES. store_options.node names the node (stable across restarts) and
 * incarnation this run of it. A lease records both (tasks.lease_node,
 * lease_life), a webhook claim too. store_recover revokes only leases that
 * have expired or that this node held in an earlier incarnation; other
 * nodes' live leases stay. A node that died without recovering has its
 * leases expire, and store_expire_leases on any node turns them into
 * failed attempts; a zombie's later commit is refused by its token.
 *
 * CONNECTION. A connection lost between calls is reset once at the start
 * of the next call (pg_ensure); HARK_EUNAVAIL if that fails, and at once
 * (no connect attempt) until its backoff has passed. A call whose
 * connection breaks midway returns HARK_EUNAVAIL and changes nothing (the
 * server rolls back an unfinished transaction; a COMMIT whose answer was
 * lost may have committed: the caller's retry meets a stale token).
 *
 * LISTEN/NOTIFY. A writer's transaction (one that logs events or changes
 * what may be claimed) ends with NOTIFY hark_changes, '<incarnation>' sent
 * in the same round trip as its COMMIT (pgs_tx_end): exactly one per
 * transaction, delivered only if it commits. Claims of a running job's
 * chunks, renewals and input appends change nothing another node waits
 * for, and do not notify (heartbeats would wake every node otherwise).
 * store_watch starts pg_watch.c's listener, which calls on_remote_change
 * for other incarnations' notifications.
 */
#include "store/pg_store.h"

#include "store/backoff.h"
#include "store/counter_keys.h"
#include "store/failure_text.h"
#include "store/job_events.h"
#include "store/job_id.h"
#include "store/pg_conn.h"
#include "store/pg_migrations.h"
#include "store/pg_watch.h"
#include "store/webhook_body.h"

#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- calls and transactions --------------------------------------------- */

/* Start a call: the handle's mutex, then a usable connection. */
int pgs_enter(pg_store *st, hark_err *err)
{
    pthread_mutex_lock(&st->mu);
    int rc = pg_ensure(&st->c, err);
    if (rc)
        pthread_mutex_unlock(&st->mu);
    return rc;
}

void pgs_leave(pg_store *st)
{
    pthread_mutex_unlock(&st->mu);
}

/* This call's now, outside a transaction (reads). */
int pgs_call_now(pg_store *st, hark_err *err)
{
    if (!st->db_clock) {
        st->now = store_now(&st->base);
        return 0;
    }
    return pg_plain_int64(&st->c, "SELECT " DB_NOW_MS, &st->now, err);
}

/* BEGIN (and WRITE_LOCK for a writer), and this call's now, in one round
 * trip. */
int pgs_tx_begin(pg_store *st, bool writer, hark_err *err)
{
    static const char *const sql[2][2] = {
        {"BEGIN", "BEGIN; SELECT " DB_NOW_MS},
        {"BEGIN; SELECT pg_advisory_xact_lock(" WRITE_LOCK ")",
         "BEGIN; SELECT pg_advisory_xact_lock(" WRITE_LOCK "); SELECT " DB_NOW_MS},
    };
    int64_t now = 0;
    st->tx_notify = writer;
    int rc = pg_plain_int64(&st->c, sql[writer][st->db_clock], &now, err);
    if (rc) {
        pg_plain(&st->c, "ROLLBACK", NULL);
        return rc;
    }
    st->now = st->db_clock ? now : store_now(&st->base);
    return 0;
}

/* Commit when the body returned 0 or HARK_ESTALE (a refused commit keeps its
 * counter bump and nothing else), roll back otherwise. */
int pgs_tx_end(pg_store *st, int rc, hark_err *err)
{
    if (rc == 0 || rc == HARK_ESTALE) {
        PGresult *r = PQexec(st->c.db, st->tx_notify ? st->notify_sql : "COMMIT");
        bool ok =
            r && PQresultStatus(r) == PGRES_COMMAND_OK && strcmp(PQcmdStatus(r), "COMMIT") == 0;
        if (ok) {
            PQclear(r);
            if (st->base.opt.on_commit)
                st->base.opt.on_commit(st->base.opt.commit_ctx);
            return rc;
        }
        rc = pg_error(&st->c, r, "commit", err);
        PQclear(r);
    }
    pg_plain(&st->c, "ROLLBACK", NULL);
    return rc;
}

/* A read-only snapshot for calls that read twice (a scope's gate, then
 * rows). */
int pgs_snap_begin(pg_store *st, hark_err *err)
{
    return pg_plain(&st->c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", err);
}

void pgs_copy_id(char dst[STORE_ID_SIZE], const PGresult *r, int row, int col)
{
    snprintf(dst, STORE_ID_SIZE, "%s", pg_str(r, row, col));
}

const char *pgs_scope_owner(store_scope sc)
{
    return sc.all ? NULL : sc.owner;
}

/* ---- events ---------------------------------------------------------------- */

/* Append an event (writers only: WRITE_LOCK is held); data (stolen, may be
 * NULL for {}) is serialized here. */
int pgs_add_event(pg_store *st, const char *job_id, const char *type, json_t *data,
                  int64_t *event_id, hark_err *err)
{
    char *text = NULL;
    int rc = 0;
    if (data) {
        text = json_dumps(data, JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(data);
        if (!text)
            return err_set(err, HARK_ENOMEM, "cannot encode event '%s' of job %s", type, job_id);
    }
    int64_t id = 0;
    rc = pg_q_int64(&st->c, &id, NULL, err,
                    "INSERT INTO events(job_id, type, data, time_ms) VALUES ($1, $2, $3, $4)"
                    " RETURNING id",
                    "tttI", job_id, type, text ? text : "{}", st->now);
    if (rc == 0 && event_id)
        *event_id = id;
    free(text);
    return rc;
}

/* ---- open, close ------------------------------------------------------------ */

static int pg_schema_version_cb(void)
{
    return pg_schema_version();
}

/* host-pid-random: a new one at every open. */
static int make_life(const char *node, char **out)
{
    char id[STORE_ID_SIZE]; /* "j" and 16 random hex digits */
    if (store_new_job_id(id, NULL) != 0)
        return -1;
    size_t n = strlen(node) + 64;
    if (!(*out = malloc(n)))
        return -1;
    snprintf(*out, n, "%s-%ld-%s", node, (long)getpid(), id + 1);
    return 0;
}

/* The commit of a writer's transaction, with its one NOTIFY (the payload,
 * this incarnation, quoted by the server's rules). */
static int make_notify_sql(pg_store *st, hark_err *err)
{
    char *lit = PQescapeLiteral(st->c.db, st->life, strlen(st->life));
    if (!lit)
        return err_set(err, HARK_ENOMEM, "cannot open store '%s': out of memory", st->c.where);
    size_t n = strlen(lit) + sizeof "NOTIFY " PG_WATCH_CHANNEL ", ; COMMIT";
    st->notify_sql = malloc(n);
    if (st->notify_sql)
        snprintf(st->notify_sql, n, "NOTIFY " PG_WATCH_CHANNEL ", %s; COMMIT", lit);
    PQfreemem(lit);
    return st->notify_sql
               ? 0
               : err_set(err, HARK_ENOMEM, "cannot open store '%s': out of memory", st->c.where);
}

static int pg_open_cb(const char *location, const store_options *opt, store **out, hark_err *err)
{
    pg_store *st = calloc(1, sizeof *st);
    int rc = 0;
    bool mu = false;
    *out = NULL;
    if (!st)
        return err_set(err, HARK_ENOMEM, "cannot open store: out of memory");
    st->base.ops = &store_pg_ops;
    st->base.opt = *opt;
    st->db_clock = opt->now_ms == store_real_now_ms;
    if ((rc = pg_connect(&st->c, location, err)))
        goto out;
    if (pthread_mutex_init(&st->mu, NULL) != 0) {
        rc = err_set(err, HARK_ENOMEM, "cannot open store '%s': no mutex", st->c.where);
        goto out;
    }
    mu = true;
    char host[256] = "localhost";
    if (!opt->node || !opt->node[0] || !opt->machine || !opt->machine[0]) {
        gethostname(host, sizeof host - 1);
        host[sizeof host - 1] = '\0';
    }
    st->node = strdup(opt->node && opt->node[0] ? opt->node : host);
    st->machine = strdup(opt->machine && opt->machine[0] ? opt->machine : host);
    if (!st->node || !st->machine ||
        (opt->incarnation && opt->incarnation[0] ? !(st->life = strdup(opt->incarnation))
                                                 : make_life(st->node, &st->life) != 0)) {
        rc = err_set(err, HARK_ENOMEM, "cannot open store '%s': out of memory", st->c.where);
        goto out;
    }
    if (!(st->location = strdup(location)) || (rc = make_notify_sql(st, err)) != 0) {
        rc = rc ? rc
                : err_set(err, HARK_ENOMEM, "cannot open store '%s': out of memory", st->c.where);
        goto out;
    }
    if ((rc = pgs_call_now(st, err)) || (rc = pg_migrate(&st->c, st->now, err)))
        goto out;
    *out = &st->base;
    st = NULL;
out:
    if (st) {
        pg_disconnect(&st->c);
        if (mu)
            pthread_mutex_destroy(&st->mu);
        free(st->node);
        free(st->machine);
        free(st->life);
        free(st->location);
        free(st->notify_sql);
        free(st);
    }
    return rc;
}

static void pg_close_cb(store *base)
{
    pg_store *st = pgs(base);
    pg_watch_stop(st->watch);
    pg_disconnect(&st->c);
    pthread_mutex_destroy(&st->mu);
    free(st->node);
    free(st->machine);
    free(st->life);
    free(st->location);
    free(st->notify_sql);
    free(st);
}

static void pg_unwatch_cb(store *base)
{
    pg_store *st = pgs(base);
    pg_watch_stop(st->watch);
    st->watch = NULL;
}

static int pg_watch_cb(store *base, hark_err *err)
{
    pg_store *st = pgs(base);
    if (st->watch)
        return 0;
    return pg_watch_start(st->location, st->c.where, st->life, st->base.opt.on_remote_change,
                          st->base.opt.remote_ctx, &st->watch, err);
}

/* ---- submit ------------------------------------------------------------------ */

static int submit_tx(pg_store *st, const store_job_spec *spec, char id[STORE_ID_SIZE],
                     hark_err *err)
{
    int64_t t = st->now, seq, exists = 1;
    const char *source = spec->source && spec->source[0] ? spec->source : spec->input;
    int rc = 0;
    if (spec->max_active > 0) {
        int64_t active = 0;
        rc = pg_q_int64(&st->c, &active, NULL, err,
                        "SELECT count(*) FROM jobs WHERE priority = $1"
                        " AND state IN ('queued', 'running', 'paused')",
                        "i", spec->priority);
        if (rc)
            return rc;
        if ((rc = store_admit_check(spec->priority, active, spec->max_active, err)))
            return rc;
    }
    for (int tries = 0; exists && tries < 4; tries++) {
        rc = store_new_job_id(id, err);
        if (rc == 0)
            rc = pg_q_int64(&st->c, &exists, NULL, err, "SELECT count(*) FROM jobs WHERE id = $1",
                            "t", id);
        if (rc)
            return rc;
    }
    if (exists)
        return err_set(err, HARK_EIO, "cannot make a unique job id");
    rc = pg_q_int64(&st->c, &seq, NULL, err, "SELECT nextval('job_seq')", "");
    if (rc)
        return rc;
    int64_t deadline = store_deadline_ms(t, spec->timeout_s);
    rc = pg_q(&st->c, NULL, NULL, err,
              "INSERT INTO jobs(id, kind, state, priority, seq, created_ms, updated_ms, input,"
              " source, options, timeout_s, deadline_ms, callback_url, input_root, owner,"
              " input_open, input_at_ms)"
              " VALUES ($1, $2, 'queued', $3, $4, $5, $5, $6, $7, $8, $9, $10, $11, $12, $13,"
              " $14, $5)",
              "ttiIItttdItttI", id, spec->kind, spec->priority, seq, t, spec->input, source,
              spec->options ? spec->options : "{}", spec->timeout_s, deadline,
              spec->callback_url && spec->callback_url[0] ? spec->callback_url : NULL,
              spec->input_root ? spec->input_root : "", spec->owner ? spec->owner : "",
              (int64_t)(spec->input_open ? 1 : 0));
    if (rc == 0)
        rc = pg_q(&st->c, NULL, NULL, err,
                  "INSERT INTO tasks(job_id, idx, prio, job_seq, state)"
                  " VALUES ($1, -1, $2, $3, 'pending')",
                  "tiI", id, spec->priority, seq);
    if (rc == 0)
        rc = pgs_add_event(st, id, "queued", store_event_queued(spec->priority, source, seq), NULL,
                           err);
    return rc;
}

static int pg_submit_cb(store *base, const store_job_spec *spec, char id[STORE_ID_SIZE],
                        hark_err *err)
{
    pg_store *st = pgs(base);
    int rc = pgs_enter(st, err);
    if (rc)
        return rc;
    rc = pgs_tx_begin(st, true, err);
    if (rc == 0)
        rc = pgs_tx_end(st, submit_tx(st, spec, id, err), err);
    pgs_leave(st);
    return rc;
}

/* ---- jobs: read ------------------------------------------------------------------ */

int pgs_read_job(pg_store *st, const PGresult *r, int row, store_job *j, hark_err *err)
{
    memset(j, 0, sizeof *j);
    pgs_copy_id(j->id, r, row, 0);
    j->kind = pg_dup(r, row, 1);
    j->state = store_state_of_name(pg_str(r, row, 2));
    j->priority = pg_int(r, row, 3);
    j->seq = pg_i64(r, row, 4);
    j->created_ms = pg_i64(r, row, 5);
    j->updated_ms = pg_i64(r, row, 6);
    j->started_ms = pg_i64(r, row, 7);
    j->finished_ms = pg_i64(r, row, 8);
    j->input = pg_dup(r, row, 9);
    j->source = pg_dup(r, row, 10);
    j->options = pg_dup(r, row, 11);
    j->timeout_s = pg_dbl(r, row, 12);
    j->deadline_ms = pg_i64(r, row, 13);
    j->prepared = pg_int(r, row, 14) != 0;
    j->prepare_attempts = pg_int(r, row, 15);
    j->prepare_error = pg_dup(r, row, 16);
    j->duration_s = pg_dbl(r, row, 17);
    j->n_chunks = pg_int(r, row, 18);
    j->chunks_done = pg_int(r, row, 19);
    j->error = pg_dup(r, row, 20);
    j->result_ready = pg_int(r, row, 21) != 0;
    j->callback_url = pg_dup(r, row, 22);
    j->webhook_state = store_webhook_state_of_name(pg_str(r, row, 23));
    j->webhook_attempts = pg_int(r, row, 24);
    j->webhook_last_status = pg_int(r, row, 25);
    j->webhook_last_error = pg_dup(r, row, 26);
    j->webhook_delivered_ms = pg_i64(r, row, 27);
    j->input_root = pg_dup(r, row, 28);
    j->owner = pg_dup(r, row, 29);
    j->content_key = pg_dup(r, row, 30);
    j->doc = pg_dup(r, row, 31);
    j->input_open = pg_int(r, row, 32) != 0;
    j->input_bytes = pg_i64(r, row, 33);
    j->input_at_ms = pg_i64(r, row, 34);
    j->nodes = pg_dup(r, row, 35);
    if (!j->kind || !j->input || !j->source || !j->options || !j->prepare_error || !j->error ||
        !j->callback_url || !j->webhook_last_error || !j->input_root || !j->owner ||
        !j->content_key || !j->doc || !j->nodes) {
        store_job_release(j);
        return err_set(err, HARK_ENOMEM, "store '%s': out of memory reading a job", st->c.where);
    }
    return 0;
}

/* Read every row of r (JOB_COLS) into out->jobs (room for limit). */
static int collect_jobs(pg_store *st, const PGresult *r, int limit, store_job_list *out,
                        hark_err *err)
{
    int rc = 0;
    for (int i = 0; rc == 0 && i < PQntuples(r) && out->n < (size_t)limit; i++) {
        rc = pgs_read_job(st, r, i, &out->jobs[out->n], err);
        if (rc == 0)
            out->n++;
    }
    return rc;
}

static int pg_get_job_cb(store *base, store_scope sc, const char *id, store_job *out, hark_err *err)
{
    pg_store *st = pgs(base);
    PGresult *r = NULL;
    int rc = pgs_enter(st, err);
    if (rc)
        return rc;
    rc = pg_q(&st->c, &r, NULL, err,
              "SELECT " JOB_COLS " WHERE j.id = $1 AND ($2::text IS NULL OR j.owner = $2)", "tt",
              id, pgs_scope_owner(sc));
    if (rc == 0)
        rc = PQntuples(r) > 0 ? pgs_read_job(st, r, 0, out, err)
                              : err_set(err, HARK_ENOENT, "no job '%s'", id);
    PQclear(r);
    pgs_leave(st);
    return rc;
}

#define LIST_WHERE                                                                                 \
    "SELECT " JOB_COLS " WHERE ($1::text IS NULL OR j.state = $1)"                                 \
    " AND ($2 < 0 OR j.priority = $2) AND j.created_ms >= $3"                                      \
    " AND ($4 = 0 OR (j.state IN ('queued','running') AND j.prepared = 1"                          \
    " AND j.chunks_done = j.n_chunks))"
static const char *const list_sql[2][2] = {
    {LIST_WHERE " AND ($5 = 0 OR j.seq > $5) ORDER BY j.seq LIMIT $6",
     LIST_WHERE " AND j.owner = $7 AND ($5 = 0 OR j.seq > $5) ORDER BY j.seq LIMIT $6"},
    {LIST_WHERE " AND ($5 = 0 OR j.seq < $5) ORDER BY j.seq DESC LIMIT $6",
     LIST_WHERE " AND j.owner = $7 AND ($5 = 0 OR j.seq < $5) ORDER BY j.seq DESC LIMIT $6"},
};

static int pg_list_jobs_cb(store *base, store_scope sc, const store_job_filter *filter,
                           store_job_list *out, hark_err *err)
{
    pg_store *st = pgs(base);
    const store_job_filter f = *filter;
    PGresult *r = NULL;
    out->jobs = calloc((size_t)f.limit, sizeof *out->jobs);
    if (!out->jobs)
        return err_set(err, HARK_ENOMEM, "out of memory listing jobs");
    int rc = pgs_enter(st, err);
    if (rc) {
        store_job_list_release(out);
        return rc;
    }
    rc = pg_q(&st->c, &r, NULL, err, list_sql[f.newest_first][!sc.all],
              sc.all ? "tiIiIi" : "tiIiIit", f.state < 0 ? NULL : store_state_name(f.state),
              f.priority, f.created_since, (int)f.ready_only, f.after_seq, f.limit + 1, sc.owner);
    if (rc == 0) {
        rc = collect_jobs(st, r, f.limit, out, err);
        if (rc == 0 && PQntuples(r) > f.limit) /* one more exists: there is a next page */
            out->next_after = out->jobs[out->n - 1].seq;
    }
    PQclear(r);
    pgs_leave(st);
    if (rc)
        store_job_list_release(out);
    return rc;
}

/* ---- claim and peek ------------------------------------------------------------ */

enum { CLAIM_RELOCK = 1 }; /* claim_tx: run again with WRITE_LOCK taken first */

/* Within the transaction: plan the next claim statement as a walk of
 * tasks_claim in claim order, whatever the table's statistics say. A
 * queue fills in bursts (a long recording's plan adds thousands of chunks
 * in one commit) faster than autovacuum analyzes it; with stale counts the
 * planner joins every pending task and sorts them all (measured: 11 ms a
 * claim with 10 000 waiting, growing with the queue), where the index
 * walk stops at the first claimable task (0.1 ms at 100 000). */
int pgs_claim_plan(pg_store *st, hark_err *err)
{
    return pg_q(&st->c, NULL, NULL, err, "SET LOCAL enable_sort = off", "");
}

static int claim_tx(pg_store *st, const char *owner, int64_t lease_ms, int max_priority,
                    bool locked, store_task *out, hark_err *err)
{
    int64_t t = st->now;
    PGresult *r = NULL;
    int rc = pgs_claim_plan(st, err);
    if (rc == 0)
        rc = pg_q(&st->c, &r, NULL, err,
                  "WITH g AS (DELETE FROM yield_grants WHERE life = $6 AND owner = $4),"
                  " c AS (SELECT t.job_id, t.idx" SQL_CLAIMABLE
                  " FOR UPDATE OF t SKIP LOCKED FOR KEY SHARE OF j)"
                  " UPDATE tasks t SET state = 'leased', lease_token = nextval('lease_tokens'),"
                  " lease_owner = $4, lease_node = $5, lease_life = $6, lease_machine = $8,"
                  " lease_expires_ms = $1 + $7, yield_asked_ms = NULL FROM c, jobs j"
                  " WHERE t.job_id = c.job_id AND t.idx = c.idx AND j.id = c.job_id"
                  " RETURNING t.job_id, t.idx, t.start_sample, t.end_sample, t.attempts,"
                  " t.lease_token, t.lease_expires_ms, j.priority, j.state, j.started_ms IS NULL",
                  "IiitttIt", t, st->base.opt.max_attempts, max_priority, owner, st->node, st->life,
                  lease_ms, st->machine);
    if (rc == 0 && PQntuples(r) == 0)
        rc = pgs_worker_idle(st, owner, err);
    if (rc || PQntuples(r) == 0)
        goto out; /* nothing claimable: out->kind stays NONE */
    pgs_copy_id(out->job_id, r, 0, 0);
    out->idx = pg_int(r, 0, 1);
    out->kind = out->idx < 0 ? STORE_TASK_PREPARE : STORE_TASK_CHUNK;
    out->start_sample = pg_i64(r, 0, 2);
    out->end_sample = pg_i64(r, 0, 3);
    out->attempt = pg_int(r, 0, 4) + 1;
    out->token = pg_i64(r, 0, 5);
    out->expires_ms = pg_i64(r, 0, 6);
    out->priority = pg_int(r, 0, 7);
    /* The other nodes on this machine clear their workers for a realtime
     * task (store_peek_info.realtime_nearby): wake them. */
    if (out->priority == STORE_PRIO_REALTIME)
        st->tx_notify = true;
    bool was_queued = strcmp(pg_str(r, 0, 8), "queued") == 0;
    bool maybe_first = pg_bool(r, 0, 9);
    PQclear(r);
    r = NULL;
    if (!was_queued && !maybe_first)
        goto out;
    /* The job's row under its lock: exactly one claim sees it unstarted
     * and logs "started" (an event: WRITE_LOCK first, see TRANSACTIONS). */
    bool have_lock = locked, first = false;
    for (int pass = 0; rc == 0 && pass < 2; pass++) {
        if (pass == 1) {
            rc = pg_q(&st->c, &r, NULL, err,
                      "SELECT state = 'queued', started_ms IS NULL FROM jobs WHERE id = $1"
                      " FOR NO KEY UPDATE",
                      "t", out->job_id);
            if (rc == 0 && PQntuples(r) != 1)
                rc =
                    err_set(err, HARK_EIO, "store '%s': job %s vanished", st->c.where, out->job_id);
            if (rc)
                goto out;
            was_queued = pg_bool(r, 0, 0);
            first = maybe_first = pg_bool(r, 0, 1);
            PQclear(r);
            r = NULL;
        }
        if (maybe_first && !have_lock) {
            int64_t got = 0;
            rc = pg_q_int64(&st->c, &got, NULL, err,
                            "SELECT pg_try_advisory_xact_lock(" WRITE_LOCK ")::int", "");
            if (rc == 0 && !got)
                rc = CLAIM_RELOCK;
            have_lock = rc == 0;
        }
    }
    if (rc)
        goto out;
    if (was_queued || first)
        rc = pg_q(&st->c, NULL, NULL, err,
                  "UPDATE jobs SET state = 'running', updated_ms = $1,"
                  " started_ms = COALESCE(started_ms, $1) WHERE id = $2",
                  "It", t, out->job_id);
    if (rc == 0 && first)
        rc = pgs_add_event(st, out->job_id, "started", store_event_started(owner), NULL, err);
out:
    PQclear(r);
    if (rc)
        memset(out, 0, sizeof *out);
    return rc;
}

static int pg_claim_cb(store *base, const char *owner, int64_t lease_ms, int max_priority,
                       store_task *out, hark_err *err)
{
    pg_store *st = pgs(base);
    int rc = pgs_enter(st, err);
    if (rc)
        return rc;
    bool locked = false;
    for (int tries = 0; tries < 5; tries++) {
        rc = pgs_tx_begin(st, locked, err);
        if (rc)
            break;
        rc = claim_tx(st, owner, lease_ms, max_priority, locked, out, err);
        if (rc == CLAIM_RELOCK) {
            pg_plain(&st->c, "ROLLBACK", NULL);
            locked = true;
            continue;
        }
        bool again = rc < 0 && pg_retryable(&st->c); /* a deadlock victim: run it again */
        rc = pgs_tx_end(st, rc, err);
        if (rc == 0 || !again)
            break;
        memset(out, 0, sizeof *out);
    }
    pgs_leave(st);
    return rc;
}

static int pg_peek_cb(store *base, store_peek_info *out, hark_err *err)
{
    pg_store *st = pgs(base);
    int64_t v;
    bool found;
    int rc = pgs_enter(st, err);
    if (rc)
        return rc;
    rc = pgs_snap_begin(st, err);
    if (rc == 0)
        rc = pgs_call_now(st, err);
    if (rc == 0)
        rc = pgs_claim_plan(st, err);
    if (rc == 0)
        rc = pg_q_int64(&st->c, &v, &found, err, "SELECT t.prio" SQL_CLAIMABLE, "Iii", st->now,
                        st->base.opt.max_attempts, STORE_PRIO_LOW);
    if (rc == 0 && found)
        out->best_priority = (int)v;
    if (rc == 0)
        rc = pg_q_int64(
            &st->c, &v, NULL, err,
            "SELECT COALESCE(MIN(x), 0) FROM ("
            " SELECT MIN(t.not_before_ms) AS x FROM tasks t"
            "  JOIN jobs j ON j.id = t.job_id"
            "  WHERE t.state = 'pending' AND t.not_before_ms > 0 AND t.not_before_ms > $1"
            "  AND t.attempts < $2 AND j.state IN ('queued','running')"
            " UNION ALL SELECT MIN(lease_expires_ms) FROM tasks WHERE state = 'leased'"
            " UNION ALL SELECT MIN(deadline_ms) FROM jobs"
            "  WHERE state IN ('queued','running') AND deadline_ms > 0) m",
            "Ii", st->now, st->base.opt.max_attempts);
    if (rc == 0)
        out->wake_ms = v;
    if (rc == 0)
        rc = pg_q_int64(&st->c, &v, NULL, err,
                        "SELECT COUNT(*) FROM tasks WHERE state = 'leased' AND prio = $1"
                        " AND lease_machine = $2 AND lease_life <> $3 AND lease_expires_ms > $4",
                        "ittI", STORE_PRIO_REALTIME, st->machine, st->life, st->now);
    if (rc == 0)
        out->realtime_nearby = v > 0;
    pg_plain(&st->c, "COMMIT", NULL);
    pgs_leave(st);
    return rc;
}

/* ---- leases -------------------------------------------------------------------- */

/* Find (and lock) the LEASED task holding token: 0 with *l filled, or
 * HARK_ESTALE. Expiry is not checked. */
static int find_lease(pg_store *st, int64_t token, lease *l, hark_err *err)
{
    PGresult *r = NULL;
    int rc = pg_q(&st->c, &r, NULL, err,
                  "SELECT job_id, idx, lease_expires_ms FROM tasks"
                  " WHERE lease_token = $1 AND state = 'leased' FOR UPDATE",
                  "I", token);
    if (rc == 0 && PQntuples(r) > 0) {
        pgs_copy_id(l->job_id, r, 0, 0);
        l->idx = pg_int(r, 0, 1);
        l->expires_ms = pg_i64(r, 0, 2);
    } else if (rc == 0) {
        rc = err_set(err, HARK_ESTALE,
                     "stale lease token %lld: revoked, expired or already committed",
                     (long long)token);
    }
    PQclear(r);
    return rc;
}

int pgs_find_live_lease(pg_store *st, int64_t token, lease *l, hark_err *err)
{
    int rc = find_lease(st, token, l, err);
    if (rc == 0 && l->expires_ms <= st->now)
        rc =
            err_set(err, HARK_ESTALE, "stale lease token %lld: the lease of job %s task %d expired",
                    (long long)token, l->job_id, l->idx);
    return rc;
}

static int bump_counter(pg_store *st, const char *key, int64_t by, hark_err *err)
{
    return pg_q(&st->c, NULL, NULL, err, "UPDATE meta SET value = value + $1 WHERE key = $2", "It",
                by, key);
}

int pgs_refuse(pg_store *st, const char *counter, hark_err *err)
{
    hark_err keep = {0};
    if (err)
        keep = *err;
    int rc = bump_counter(st, counter, 1, err);
    if (rc)
        return rc;
    if (err)
        *err = keep;
    return HARK_ESTALE;
}

static int renew_tx(pg_store *st, int64_t token, int64_t lease_ms, hark_err *err)
{
    lease l;
    int rc = pgs_find_live_lease(st, token, &l, err);
    if (rc == HARK_ESTALE)
        return pgs_refuse(st, "refused_renewals", err);
    if (rc)
        return rc;
    return pg_q(&st->c, NULL, NULL, err,
                "UPDATE tasks SET lease_expires_ms = $1 WHERE lease_token = $2", "II",
                st->now + lease_ms, token);
}

static int pg_renew_cb(store *base, int64_t token, int64_t lease_ms, hark_err *err)
{
    pg_store *st = pgs(base);
    int rc = pgs_enter(st, err);
    if (rc)
        return rc;
    rc = pgs_tx_begin(st, false, err);
    if (rc == 0)
        rc = pgs_tx_end(st, renew_tx(st, token, lease_ms, err), err);
    pgs_leave(st);
    return rc;
}

static int commit_chunk_tx(pg_store *st, int64_t token, const char *result, double decode_s,
                           store_commit_info *info, hark_err *err)
{
    lease l;
    PGresult *r = NULL;
    int rc = pgs_find_live_lease(st, token, &l, err);
    if (rc == HARK_ESTALE)
        return pgs_refuse(st, "refused_commits", err);
    if (rc)
        return rc;
    if (l.idx < 0)
        return err_set(err, HARK_EINVAL, "token %lld is a prepare lease, not a chunk lease",
                       (long long)token);
    rc = pgs_worker_freed(st, token, err);
    if (rc == 0)
        rc = pg_q(&st->c, NULL, NULL, err,
                  "UPDATE tasks SET state = 'done', result = $1, decode_s = $2, " CLEAR_LEASE
                  " WHERE job_id = $3 AND idx = $4",
                  "tdti", result, decode_s, l.job_id, l.idx);
    if (rc == 0)
        rc = pg_q(&st->c, &r, NULL, err,
                  "UPDATE jobs SET chunks_done = chunks_done + 1, updated_ms = $1 WHERE id = $2"
                  " RETURNING chunks_done, n_chunks",
                  "It", st->now, l.job_id);
    if (rc == 0 && PQntuples(r) == 0)
        rc = err_set(err, HARK_EIO, "store '%s': job %s vanished", st->c.where, l.job_id);
    if (rc)
        goto out;
    int done = pg_int(r, 0, 0), n = pg_int(r, 0, 1);
    if (info) {
        snprintf(info->job_id, sizeof info->job_id, "%s", l.job_id);
        info->idx = l.idx;
        info->chunks_done = done;
        info->n_chunks = n;
        info->job_complete = done == n;
    }
    rc = pgs_add_event(st, l.job_id, "chunk_committed", store_event_chunk_committed(l.idx, done, n),
                       NULL, err);
out:
    PQclear(r);
    return rc;
}

static int pg_commit_chunk_cb(store *base, int64_t token, const char *result, double decode_s,
                              store_commit_info *info, hark_err *err)
{
    pg_store *st = pgs(base);
    int rc = pgs_enter(st, err);
    if (rc)
        return rc;
    rc = pgs_tx_begin(st, true, err);
    if (rc == 0)
        rc = pgs_tx_end(st, commit_chunk_tx(st, token, result, decode_s, info, err), err);
    pgs_leave(st);
    return rc;
}

/* "{a,b,...}": the start (or end) samples of spans, for an int8[] parameter. */
static char *span_array(const store_span *spans, size_t n, bool ends)
{
    size_t cap = 3 + n * 22, at = 0;
    char *s = malloc(cap);
    if (!s)
        return NULL;
    s[at++] = '{';
    for (size_t i = 0; i < n; i++)
        at += (size_t)snprintf(s + at, cap - at, "%s%" PRId64, i ? "," : "",
                               ends ? spans[i].end_sample : spans[i].start_sample);
    snprintf(s + at, cap - at, "}");
    return s;
}

/* Insert n pending tasks of job id with indexes first, first + 1, ... in
 * one statement, each with its job's priority and seq (tasks_claim). */
static int insert_tasks(pg_store *st, const char *id, int first, const store_span *spans, size_t n,
                        hark_err *err)
{
    if (n == 0)
        return 0;
    char *a = span_array(spans, n, false), *b = span_array(spans, n, true);
    int rc = a && b ? pg_q(&st->c, NULL, NULL, err,
                           "INSERT INTO tasks(job_id, idx, prio, job_seq, start_sample, end_sample,"
                           " state) SELECT j.id, $2 + s.i::int - 1, j.priority, j.seq, s.a, s.b,"
                           " 'pending' FROM jobs j,"
                           " unnest($3::int8[], $4::int8[]) WITH ORDINALITY AS s(a, b, i)"
                           " WHERE j.id = $1",
                           "titt", id, first, a, b)
                    : err_set(err, HARK_ENOMEM, "out of memory adding tasks to job %s", id);
    free(a);
    free(b);
    return rc;
}

static int commit_prepare_tx(pg_store *st, int64_t token, double duration_s, const store_span *plan,
                             size_t n, const char *content_key, store_commit_info *info,
                             hark_err *err)
{
    lease l;
    int rc = pgs_find_live_lease(st, token, &l, err);
    if (rc == HARK_ESTALE)
        return pgs_refuse(st, "refused_commits", err);
    if (rc)
        return rc;
    if (l.idx >= 0)
        return err_set(err, HARK_EINVAL, "token %lld is a chunk lease, not a prepare lease",
                       (long long)token);
    rc = insert_tasks(st, l.job_id, 0, plan, n, err);
    if (rc == 0)
        rc = pgs_worker_freed(st, token, err);
    if (rc == 0)
        rc = pg_q(&st->c, NULL, NULL, err,
                  "UPDATE tasks SET state = 'done', " CLEAR_LEASE " WHERE job_id = $1 AND idx = -1",
                  "t", l.job_id);
    if (rc == 0)
        rc = pg_q(&st->c, NULL, NULL, err,
                  "UPDATE jobs SET prepared = 1, duration_s = $1, n_chunks = $2, updated_ms = $3,"
                  " content_key = $5 WHERE id = $4",
                  "diItt", duration_s, (int)n, st->now, l.job_id, content_key ? content_key : "");
    if (rc == 0)
        rc = pgs_add_event(st, l.job_id, "progress", store_event_prepared((int)n, duration_s, 0),
                           NULL, err);
    if (rc == 0 && info) {
        snprintf(info->job_id, sizeof info->job_id, "%s", l.job_id);
        info->idx = -1;
        info->n_chunks = (int)n;
        info->job_complete = n == 0;
    }
    return rc;
}

static int pg_commit_prepare_cb(store *base, int64_t token, double duration_s,
                                const store_span *plan, size_t n, const char *content_key,
                                store_commit_info *info, hark_err *err)
{
    pg_store *st = pgs(base);
    int rc = pgs_enter(st, err);
    if (rc)
        return rc;
    rc = pgs_tx_begin(st, true, err);
    if (rc == 0)
        rc = pgs_tx_end(
            st, commit_prepare_tx(st, token, duration_s, plan, n, content_key, info, err), err);
    pgs_leave(st);
    return rc;
}

/* ---- failing: a task's attempt, a whole job ------------------------------------ */

static int revoke_job_leases(pg_store *st, const char *id, int *n, hark_err *err)
{
    return pg_q(&st->c, NULL, n, err,
                "UPDATE tasks SET state = 'pending', " CLEAR_LEASE
                " WHERE job_id = $1 AND state = 'leased'",
                "t", id);
}

/* The state of job id if it is in scope sc (the gate of every call that
 * names a job), HARK_ENOENT otherwise. A writer locks the row (for_update):
 * see JOB ROW LOCKS. */
static int job_state_at(pg_store *st, store_scope sc, const char *id, bool for_update, int *state,
                        hark_err *err)
{
    PGresult *r = NULL;
    int rc = pg_q(&st->c, &r, NULL, err,
                  for_update ? "SELECT state FROM jobs WHERE id = $1"
                               " AND ($2::text IS NULL OR owner = $2) FOR UPDATE"
                             : "SELECT state FROM jobs WHERE id = $1"
                               " AND ($2::text IS NULL OR owner = $2)",
                  "tt", id, pgs_scope_owner(sc));
    if (rc == 0) {
        if (PQntuples(r) > 0)
            *state = store_state_of_name(pg_str(r, 0, 0));
        else
            rc = err_set(err, HARK_ENOENT, "no job '%s'", id);
    }
    PQclear(r);
    return rc;
}

int pgs_job_state(pg_store *st, store_scope sc, const char *id, int *state, hark_err *err)
{
    return job_state_at(st, sc, id, false, state, err);
}

/* Lock job id's row before changing its state or revoking its leases (see
 * JOB ROW LOCKS). */
static int lock_job(pg_store *st, const char *id, hark_err *err)
{
    return pg_q(&st->c, NULL, NULL, err, "SELECT 1 FROM jobs WHERE id = $1 FOR UPDATE", "t", id);
}

/* Every terminal transition (sqlite_store.c finish_job). */
static int finish_job(pg_store *st, const char *id, int state, const char *error, json_t *data,
                      hark_err *err)
{
    int rc = lock_job(st, id, err);
    if (rc == 0)
        rc = revoke_job_leases(st, id, NULL, err);
    if (rc == 0)
        rc = pg_q(&st->c, NULL, NULL, err,
                  "UPDATE jobs SET state = $1, error = $2, updated_ms = $3, finished_ms = $3,"
                  " result_ready = $4, input_open = 0 WHERE id = $5",
                  "ttIit", store_state_name(state), error ? error : "", st->now,
                  (int)(state == STORE_SUCCEEDED), id);
    if (rc == 0)
        rc = pgs_add_event(st, id, store_state_name(state), data, NULL, err);
    else
        json_decref(data);
    if (rc == 0)
        rc = bump_counter(st,
                          state == STORE_SUCCEEDED ? "jobs_succeeded"
                          : state == STORE_FAILED  ? "jobs_failed"
                                                   : "jobs_cancelled",
                          1, err);
    if (rc == 0)
        rc = pgs_enqueue_webhook(st, id, err);
    return rc;
}

static int fail_job(pg_store *st, const char *id, const char *message, hark_err *err)
{
    return finish_job(st, id, STORE_FAILED, message, store_event_failed(message), err);
}

/* sqlite_store.c fail_task: 0, 1 if the task was no longer leased, or an
 * error. */
static int fail_task(pg_store *st, const char *job_id, int idx, const char *cause, bool resource,
                     store_release_info *info, hark_err *err)
{
    PGresult *r = NULL;
    char *msg = NULL;
    int rc = pg_q(&st->c, &r, NULL, err,
                  "SELECT attempts, resource_waits FROM tasks"
                  " WHERE job_id = $1 AND idx = $2 AND state = 'leased' FOR UPDATE",
                  "ti", job_id, idx);
    if (rc == 0 && PQntuples(r) == 0)
        rc = 1;
    if (rc)
        goto out;
    int prior = pg_int(r, 0, resource ? 1 : 0);
    PQclear(r);
    r = NULL;
    rc = pg_q(&st->c, &r, NULL, err,
              "UPDATE tasks SET state = 'pending', " CLEAR_LEASE ", attempts = attempts + 1 - $5,"
              " resource_waits = resource_waits + $5, last_error = $3, not_before_ms = $4"
              " WHERE job_id = $1 AND idx = $2 AND state = 'leased'"
              " RETURNING attempts, not_before_ms, start_sample, end_sample, resource_waits",
              "titIi", job_id, idx, cause,
              st->now + store_backoff_ms(&st->base.opt, resource, prior), resource ? 1 : 0);
    if (rc == 0 && PQntuples(r) == 0)
        rc = 1;
    if (rc)
        goto out;
    int attempts = pg_int(r, 0, 0);
    int64_t not_before = pg_i64(r, 0, 1);
    int64_t start = pg_i64(r, 0, 2), end = pg_i64(r, 0, 3);
    int waits = pg_int(r, 0, 4);
    PQclear(r);
    r = NULL;
    if (info) {
        snprintf(info->job_id, sizeof info->job_id, "%s", job_id);
        info->idx = idx;
        info->attempts = attempts;
        info->resource_waits = waits;
        info->not_before_ms = not_before;
    }
    if (!store_gives_up(&st->base.opt, resource, attempts, waits))
        goto out;
    msg = malloc(STORE_MSG_MAX);
    if (!msg) {
        rc = err_set(err, HARK_ENOMEM, "out of memory failing job %s", job_id);
        goto out;
    }
    int n = resource ? waits : attempts;
    if (idx >= 0) {
        store_task_failure_text(msg, STORE_MSG_MAX, idx, start, end, NULL, resource, n, cause);
    } else {
        rc = pg_q(&st->c, &r, NULL, err, "SELECT source FROM jobs WHERE id = $1", "t", job_id);
        if (rc == 0)
            store_task_failure_text(msg, STORE_MSG_MAX, idx, start, end,
                                    PQntuples(r) > 0 ? pg_str(r, 0, 0) : job_id, resource, n,
                                    cause);
    }
    if (rc == 0)
        rc = fail_job(st, job_id, msg, err);
    if (rc == 0 && info)
        info->job_failed = true;
out:
    PQclear(r);
    free(msg);
    return rc;
}

static int release_tx(pg_store *st, int64_t token, int kind, const char *cause,
                      store_release_info *info, hark_err *err)
{
    lease l;
    int rc = find_lease(st, token, &l, err);
    if (rc == 0)
        rc = pgs_worker_freed(st, token, err);
    if (rc)
        return rc;
    if (kind == STORE_RELEASE_FAILED || kind == STORE_RELEASE_RESOURCE) {
        rc = fail_task(st, l.job_id, l.idx, cause, kind == STORE_RELEASE_RESOURCE, info, err);
        return rc == 1 ? err_set(err, HARK_EIO, "lease %lld vanished", (long long)token) : rc;
    }
    int64_t a = 0;
    rc = lock_job(st, l.job_id, err);
    if (rc == 0)
        rc = pg_q_int64(&st->c, &a, NULL, err,
                        "UPDATE tasks SET state = 'pending', " CLEAR_LEASE
                        " WHERE job_id = $1 AND idx = $2 RETURNING attempts",
                        "ti", l.job_id, l.idx);
    if (rc == 0)
        rc = pg_q(&st->c, NULL, NULL, err,
                  "UPDATE jobs SET state = 'queued', updated_ms = $1"
                  " WHERE id = $2 AND state = 'running' AND NOT EXISTS"
                  " (SELECT 1 FROM tasks WHERE job_id = $2 AND state = 'leased')",
                  "It", st->now, l.job_id);
    if (rc == 0)
        rc = pgs_add_event(st, l.job_id, "preempted", store_event_preempted(l.idx), NULL, err);
    if (rc == 0 && info) {
        snprintf(info->job_id, sizeof info->job_id, "%s", l.job_id);
        info->idx = l.idx;
        info->attempts = (int)a;
        info->not_before_ms = st->now;
    }
    return rc;
}

static int pg_release_cb(store *base, int64_t token, int kind, const char *cause,
                         store_release_info *info, hark_err *err)
{
    pg_store *st = pgs(base);
    int rc = pgs_enter(st, err);
    if (rc)
        return rc;
    rc = pgs_tx_begin(st, true, err);
    if (rc == 0)
        rc = pgs_tx_end(st, release_tx(st, token, kind, cause, info, err), err);
    pgs_leave(st);
    return rc;
}

/* One writer transaction of a sweep that counts what it changed. */
static int counted_tx(pg_store *st, int (*fn)(pg_store *, int *, hark_err *), int *n, hark_err *err)
{
    int rc = pgs_enter(st, err);
    if (rc)
        return rc;
    rc = pgs_tx_begin(st, true, err);
    if (rc == 0) {
        rc = fn(st, n, err);
        /* A sweep that changed nothing wakes no node: every node sweeps
         * each tick, and they would wake each other for nothing. */
        if (rc == 0 && *n == 0)
            st->tx_notify = false;
        rc = pgs_tx_end(st, rc, err);
    }
    pgs_leave(st);
    return rc;
}

static int expire_tx(pg_store *st, int *count, hark_err *err)
{
    PGresult *r = NULL;
    int rc = pg_q(&st->c, &r, NULL, err,
                  /* Locked now: a renewal in flight (its row locked) wins,
                   * and is passed over. */
                  "SELECT job_id, idx FROM tasks WHERE state = 'leased' AND lease_expires_ms <= $1"
                  " ORDER BY lease_expires_ms FOR UPDATE SKIP LOCKED",
                  "I", st->now);
    for (int i = 0; rc == 0 && i < PQntuples(r); i++) {
        rc = fail_task(st, pg_str(r, i, 0), pg_int(r, i, 1), "lease expired", false, NULL, err);
        if (rc == 0)
            (*count)++;
        else if (rc == 1) /* its job failed on an earlier task: revoked */
            rc = 0;
    }
    PQclear(r);
    if (rc == 0 && *count)
        rc = bump_counter(st, "expired_leases", *count, err);
    return rc;
}

static int pg_expire_leases_cb(store *base, int *n, hark_err *err)
{
    return counted_tx(pgs(base), expire_tx, n, err);
}

static int overdue_tx(pg_store *st, int *count, hark_err *err)
{
    PGresult *r = NULL;
    int rc = pg_q(&st->c, &r, NULL, err,
                  "SELECT id, timeout_s FROM jobs WHERE state IN ('queued','running')"
                  " AND deadline_ms > 0 AND deadline_ms <= $1 ORDER BY seq",
                  "I", st->now);
    for (int i = 0; rc == 0 && i < PQntuples(r); i++) {
        char msg[128];
        store_timeout_text(msg, sizeof msg, pg_dbl(r, i, 1));
        rc = fail_job(st, pg_str(r, i, 0), msg, err);
        if (rc == 0)
            (*count)++;
    }
    PQclear(r);
    return rc;
}

static int pg_fail_overdue_cb(store *base, int *n, hark_err *err)
{
    return counted_tx(pgs(base), overdue_tx, n, err);
}

/* See NODES: only expired leases and this node's earlier lives' are
 * revoked. A job that lost a lease here and holds none now goes back to
 * queued (other nodes' running jobs keep their state and events); every
 * job left without a lease has its open input closed (a client's stream,
 * which did not survive its daemon). */
static int recover_tx(pg_store *st, int *count, hark_err *err)
{
    PGresult *r = NULL;
    int rc = pg_q(&st->c, &r, count, err,
                  "UPDATE tasks SET state = 'pending', " CLEAR_LEASE
                  " WHERE state = 'leased' AND (lease_expires_ms <= $1"
                  " OR (lease_node = $2 AND lease_life IS DISTINCT FROM $3))"
                  " RETURNING job_id",
                  "Itt", st->now, st->node, st->life);
    for (int i = 0; rc == 0 && i < PQntuples(r); i++) {
        bool requeued = false;
        PGresult *q = NULL;
        rc = pg_q(&st->c, &q, NULL, err,
                  "UPDATE jobs j SET state = 'queued', updated_ms = $1 WHERE id = $2"
                  " AND state = 'running' AND NOT EXISTS"
                  " (SELECT 1 FROM tasks t WHERE t.job_id = j.id AND t.state = 'leased')"
                  " RETURNING id",
                  "It", st->now, pg_str(r, i, 0));
        requeued = rc == 0 && PQntuples(q) > 0;
        PQclear(q);
        if (requeued)
            rc =
                pgs_add_event(st, pg_str(r, i, 0), "preempted", store_event_restarted(), NULL, err);
    }
    PQclear(r);
    r = NULL;
    if (rc == 0)
        rc = pg_q(&st->c, &r, NULL, err,
                  "SELECT id FROM jobs j WHERE input_open = 1 AND NOT EXISTS"
                  " (SELECT 1 FROM tasks t WHERE t.job_id = j.id AND t.state = 'leased')"
                  " ORDER BY seq",
                  "");
    for (int i = 0; rc == 0 && i < PQntuples(r); i++)
        rc = pgs_close_input(st, pg_str(r, i, 0), "restart", err);
    PQclear(r);
    if (rc == 0 && *count)
        rc = bump_counter(st, "recovered_tasks", *count, err);
    if (rc == 0)
        rc = pgs_sweep_yield_grants(st, err);
    if (rc == 0)
        rc = pg_q(&st->c, NULL, NULL, err,
                  "UPDATE webhooks SET claimed_until_ms = 0, claimed_node = NULL,"
                  " claimed_life = NULL WHERE state = 'pending' AND claimed_until_ms > 0"
                  " AND (claimed_until_ms <= $1"
                  " OR (claimed_node = $2 AND claimed_life IS DISTINCT FROM $3))",
                  "Itt", st->now, st->node, st->life);
    return rc;
}

static int pg_recover_cb(store *base, int *n, hark_err *err)
{
    return counted_tx(pgs(base), recover_tx, n, err);
}

/* ---- job control ------------------------------------------------------------------ */

static int control_tx(pg_store *st, store_scope sc, const char *id, enum store_ctl op,
                      const char *message, hark_err *err)
{
    int state, rc = job_state_at(st, sc, id, true, &state, err);
    if (rc == 0)
        rc = store_ctl_check(op, state, id, err);
    if (rc)
        return rc;
    switch (op) {
    case STORE_CTL_PAUSE: {
        int revoked = 0;
        rc = revoke_job_leases(st, id, &revoked, err);
        if (rc == 0)
            rc = pg_q(&st->c, NULL, NULL, err,
                      "UPDATE jobs SET state = 'paused', updated_ms = $1 WHERE id = $2", "It",
                      st->now, id);
        if (rc == 0)
            rc = pgs_add_event(st, id, "paused", store_event_paused(revoked), NULL, err);
        return rc;
    }
    case STORE_CTL_RESUME:
        rc = pg_q(&st->c, NULL, NULL, err,
                  "UPDATE jobs SET state = 'queued', updated_ms = $1 WHERE id = $2", "It", st->now,
                  id);
        if (rc == 0)
            rc = pgs_add_event(st, id, "resumed", NULL, NULL, err);
        return rc;
    case STORE_CTL_CANCEL:
        return finish_job(st, id, STORE_CANCELLED, NULL, NULL, err);
    case STORE_CTL_FAIL:
        return fail_job(st, id, message, err);
    case STORE_CTL_SUCCEED: {
        PGresult *r = NULL;
        rc = pg_q(&st->c, &r, NULL, err,
                  "SELECT prepared, chunks_done, n_chunks FROM jobs WHERE id = $1", "t", id);
        int64_t total = 0;
        if (rc == 0) {
            total = pg_i64(r, 0, 2);
            rc = store_finish_check(id, pg_int(r, 0, 0) != 0, pg_i64(r, 0, 1), total, err);
        }
        PQclear(r);
        if (rc)
            return rc;
        return finish_job(st, id, STORE_SUCCEEDED, NULL, store_event_succeeded(total), err);
    }
    case STORE_CTL_DELETE:
        return pg_q(&st->c, NULL, NULL, err, "DELETE FROM jobs WHERE id = $1", "t", id);
    }
    return HARK_EINVAL;
}

static int pg_control_cb(store *base, store_scope sc, const char *id, enum store_ctl op,
                         const char *message, hark_err *err)
{
    pg_store *st = pgs(base);
    int rc = pgs_enter(st, err);
    if (rc)
        return rc;
    rc = pgs_tx_begin(st, true, err);
    if (rc == 0)
        rc = pgs_tx_end(st, control_tx(st, sc, id, op, message, err), err);
    pgs_leave(st);
    return rc;
}

static int retry_tx(pg_store *st, store_scope sc, const char *id, int max_active, hark_err *err)
{
    int state, rc = job_state_at(st, sc, id, true, &state, err);
    if (rc == 0)
        rc = store_retry_check(state, id, err);
    if (rc)
        return rc;
    PGresult *r = NULL;
    rc = pg_q(&st->c, &r, NULL, err,
              "SELECT priority, error, chunks_done, timeout_s FROM jobs WHERE id = $1", "t", id);
    if (rc == 0 && PQntuples(r) == 0)
        rc = err_set(err, HARK_EIO, "store '%s': job %s vanished", st->c.where, id);
    if (rc)
        goto out;
    int prio = pg_int(r, 0, 0);
    if (max_active > 0) {
        int64_t active = 0;
        rc = pg_q_int64(&st->c, &active, NULL, err,
                        "SELECT count(*) FROM jobs WHERE priority = $1"
                        " AND state IN ('queued', 'running', 'paused')",
                        "i", prio);
        if (rc == 0)
            rc = store_admit_check(prio, active, max_active, err);
        if (rc)
            goto out;
    }
    rc = pg_q(&st->c, NULL, NULL, err,
              "UPDATE tasks SET attempts = 0, not_before_ms = 0, last_error = ''"
              " WHERE job_id = $1 AND state != 'done'",
              "t", id);
    if (rc)
        goto out;
    json_t *data = store_event_retried(pg_str(r, 0, 1), pg_int(r, 0, 2));
    int64_t deadline = store_deadline_ms(st->now, pg_dbl(r, 0, 3));
    rc = pg_q(&st->c, NULL, NULL, err,
              "UPDATE jobs SET state = 'queued', error = '', finished_ms = NULL,"
              " result_ready = 0, updated_ms = $1, deadline_ms = $3 WHERE id = $2",
              "ItI", st->now, id, deadline);
    if (rc == 0)
        rc = pgs_add_event(st, id, "retried", data, NULL, err);
    else
        json_decref(data);
out:
    PQclear(r);
    return rc;
}

static int pg_retry_cb(store *base, store_scope sc, const char *id, int max_active, hark_err *err)
{
    pg_store *st = pgs(base);
    int rc = pgs_enter(st, err);
    if (rc)
        return rc;
    rc = pgs_tx_begin(st, true, err);
    if (rc == 0)
        rc = pgs_tx_end(st, retry_tx(st, sc, id, max_active, err), err);
    pgs_leave(st);
    return rc;
}

/* ---- retention ---------------------------------------------------------------------- */

/* A one-statement read of jobs (JOB_COLS) into out, at most limit. */
int pgs_read_jobs(pg_store *st, int limit, store_job_list *out, hark_err *err, const char *sql,
                  const char *types, int64_t a, int b)
{
    PGresult *r = NULL;
    int rc = types[0] == 'I' ? pg_q(&st->c, &r, NULL, err, sql, types, a, b)
                             : pg_q(&st->c, &r, NULL, err, sql, types, b);
    if (rc == 0)
        rc = collect_jobs(st, r, limit, out, err);
    PQclear(r);
    return rc;
}

static int pg_list_unreleased_cb(store *base, int limit, store_job_list *out, hark_err *err)
{
    pg_store *st = pgs(base);
    if (!(out->jobs = calloc((size_t)limit, sizeof *out->jobs)))
        return err_set(err, HARK_ENOMEM, "out of memory listing jobs");
    int rc = pgs_enter(st, err);
    if (rc == 0) {
        rc = pgs_read_jobs(st, limit, out, err,
                           "SELECT " JOB_COLS " WHERE j.input_released = 0"
                           " AND j.state IN ('succeeded','cancelled')"
                           " ORDER BY j.finished_ms, j.seq LIMIT $1",
                           "i", 0, limit);
        pgs_leave(st);
    }
    if (rc)
        store_job_list_release(out);
    return rc;
}

static int mark_released_tx(pg_store *st, const char *const *ids, size_t n, hark_err *err)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = pg_q(&st->c, NULL, NULL, err,
                  "UPDATE jobs SET input_released = 1 WHERE id = $1"
                  " AND state IN ('succeeded','cancelled')",
                  "t", ids[i]);
    return rc;
}

static int pg_mark_released_cb(store *base, const char *const *ids, size_t n, hark_err *err)
{
    pg_store *st = pgs(base);
    int rc = pgs_enter(st, err);
    if (rc)
        return rc;
    rc = pgs_tx_begin(st, false, err);
    if (rc == 0)
        rc = pgs_tx_end(st, mark_released_tx(st, ids, n, err), err);
    pgs_leave(st);
    return rc;
}

static int prune_tx(pg_store *st, int64_t age_ms, int limit, store_job_list *out, hark_err *err)
{
    int rc =
        pgs_read_jobs(st, limit, out, err,
                      "SELECT " JOB_COLS " WHERE j.finished_ms IS NOT NULL"
                      " AND j.finished_ms <= $1 AND j.state IN ('succeeded','failed','cancelled')"
                      " ORDER BY j.finished_ms, j.seq LIMIT $2 FOR UPDATE OF j",
                      "Ii", st->now - age_ms, limit);
    /* Tasks, events and webhook deliveries go with it (ON DELETE CASCADE). */
    for (size_t i = 0; rc == 0 && i < out->n; i++)
        rc = pg_q(&st->c, NULL, NULL, err, "DELETE FROM jobs WHERE id = $1", "t", out->jobs[i].id);
    return rc;
}

static int pg_prune_cb(store *base, int64_t age_ms, int limit, store_job_list *out, hark_err *err)
{
    pg_store *st = pgs(base);
    if (!(out->jobs = calloc((size_t)limit, sizeof *out->jobs)))
        return err_set(err, HARK_ENOMEM, "out of memory pruning jobs");
    int rc = pgs_enter(st, err);
    if (rc == 0) {
        rc = pgs_tx_begin(st, true, err);
        if (rc == 0) {
            rc = prune_tx(st, age_ms, limit, out, err);
            if (rc == 0 && out->n == 0)
                st->tx_notify = false; /* as counted_tx */
            rc = pgs_tx_end(st, rc, err);
        }
        pgs_leave(st);
    }
    if (rc)
        store_job_list_release(out);
    return rc;
}

/* ---- chunks -------------------------------------------------------------------------- */

static int pg_list_chunks_from_cb(store *base, store_scope sc, const char *id, int from_idx,
                                  int limit, store_chunk_list *out, hark_err *err)
{
    pg_store *st = pgs(base);
    PGresult *r = NULL;
    int64_t n_chunks = 0;
    bool found = false;
    int rc = pgs_enter(st, err);
    if (rc)
        return rc;
    rc = pgs_snap_begin(st, err);
    if (rc)
        goto unlock;
    rc = pg_q_int64(&st->c, &n_chunks, &found, err,
                    "SELECT n_chunks FROM jobs WHERE id = $1 AND ($2::text IS NULL OR owner = $2)",
                    "tt", id, pgs_scope_owner(sc));
    if (rc == 0 && !found)
        rc = err_set(err, HARK_ENOENT, "no job '%s'", id);
    n_chunks = n_chunks > from_idx ? n_chunks - from_idx : 0;
    if (n_chunks > limit)
        n_chunks = limit;
    if (rc == 0 && n_chunks > 0 && !(out->chunks = calloc((size_t)n_chunks, sizeof *out->chunks)))
        rc = err_set(err, HARK_ENOMEM, "out of memory listing chunks of %s", id);
    if (rc == 0)
        rc = pg_q(&st->c, &r, NULL, err,
                  "SELECT idx, start_sample, end_sample, state, attempts, last_error,"
                  " COALESCE(result, ''), decode_s FROM tasks WHERE job_id = $1 AND idx >= $2"
                  " ORDER BY idx LIMIT $3",
                  "tii", id, from_idx, limit);
    for (int i = 0; rc == 0 && i < PQntuples(r); i++) {
        if (out->n == (size_t)n_chunks) {
            rc = err_set(err, HARK_EIO, "store '%s': job %s has more chunks than n_chunks",
                         st->c.where, id);
            break;
        }
        store_chunk *c = &out->chunks[out->n++];
        c->idx = pg_int(r, i, 0);
        c->start_sample = pg_i64(r, i, 1);
        c->end_sample = pg_i64(r, i, 2);
        c->state = store_chunk_state_of_name(pg_str(r, i, 3));
        c->attempts = pg_int(r, i, 4);
        c->last_error = pg_dup(r, i, 5);
        c->result = pg_dup(r, i, 6);
        c->decode_s = pg_dbl(r, i, 7);
        if (!c->last_error || !c->result)
            rc = err_set(err, HARK_ENOMEM, "out of memory listing chunks of %s", id);
    }
    PQclear(r);
    pg_plain(&st->c, "COMMIT", NULL);
unlock:
    pgs_leave(st);
    if (rc)
        store_chunk_list_release(out);
    return rc;
}

/* ---- stages and the chunk cache ------------------------------------------------------ */

static int add_stage_tx(pg_store *st, const char *id, const char *doc, const store_span *spans,
                        size_t n, hark_err *err)
{
    PGresult *r = NULL;
    int rc = pg_q(&st->c, &r, NULL, err,
                  "SELECT state, prepared, n_chunks, chunks_done FROM jobs WHERE id = $1"
                  " FOR UPDATE",
                  "t", id);
    if (rc == 0 && PQntuples(r) == 0)
        rc = err_set(err, HARK_ENOENT, "no job '%s'", id);
    if (rc) {
        PQclear(r);
        return rc;
    }
    int state = store_state_of_name(pg_str(r, 0, 0));
    bool prepared = pg_int(r, 0, 1) != 0;
    int n_chunks = pg_int(r, 0, 2), done = pg_int(r, 0, 3);
    PQclear(r);
    if ((rc = store_stage_check(id, state, prepared, done, n_chunks, n, err)))
        return rc;
    rc = insert_tasks(st, id, n_chunks, spans, n, err);
    if (rc == 0)
        rc = pg_q(&st->c, NULL, NULL, err,
                  "UPDATE jobs SET n_chunks = n_chunks + $1, doc = $2, updated_ms = $3"
                  " WHERE id = $4",
                  "itIt", (int)n, doc, st->now, id);
    if (rc == 0)
        rc = pgs_add_event(st, id, "stage", store_event_stage((int)n, n_chunks + (int)n, done),
                           NULL, err);
    return rc;
}

static int pg_add_stage_cb(store *base, const char *id, const char *doc, const store_span *spans,
                           size_t n, hark_err *err)
{
    pg_store *st = pgs(base);
    int rc = pgs_enter(st, err);
    if (rc)
        return rc;
    rc = pgs_tx_begin(st, true, err);
    if (rc == 0)
        rc = pgs_tx_end(st, add_stage_tx(st, id, doc, spans, n, err), err);
    pgs_leave(st);
    return rc;
}

static int pg_find_cached_chunks_cb(store *base, const char *content_key, const char *except_id,
                                    int64_t start_sample, int64_t end_sample, store_chunk_list *out,
                                    hark_err *err)
{
    enum { MAX_MATCHES = 8 };
    pg_store *st = pgs(base);
    PGresult *r = NULL;
    if (!(out->chunks = calloc(MAX_MATCHES, sizeof *out->chunks)))
        return err_set(err, HARK_ENOMEM, "out of memory");
    int rc = pgs_enter(st, err);
    if (rc) {
        store_chunk_list_release(out);
        return rc;
    }
    rc = pg_q(&st->c, &r, NULL, err,
              "SELECT c.idx, c.start_sample, c.end_sample, c.attempts, c.result, c.decode_s"
              " FROM jobs j JOIN tasks c ON c.job_id = j.id"
              " WHERE j.content_key = $1 AND j.content_key != '' AND j.id != $2 AND c.idx >= 0"
              " AND c.start_sample = $3 AND c.end_sample = $4 AND c.state = 'done'"
              " ORDER BY j.seq LIMIT $5",
              "ttIIi", content_key, except_id ? except_id : "", start_sample, end_sample,
              (int)MAX_MATCHES);
    for (int i = 0; rc == 0 && i < PQntuples(r); i++) {
        store_chunk *c = &out->chunks[out->n++];
        c->idx = pg_int(r, i, 0);
        c->start_sample = pg_i64(r, i, 1);
        c->end_sample = pg_i64(r, i, 2);
        c->state = STORE_CHUNK_DONE;
        c->attempts = pg_int(r, i, 3);
        c->last_error = strdup("");
        c->result = pg_dup(r, i, 4);
        c->decode_s = pg_dbl(r, i, 5);
        rc = c->last_error && c->result ? 0 : err_set(err, HARK_ENOMEM, "out of memory");
    }
    PQclear(r);
    pgs_leave(st);
    if (rc)
        store_chunk_list_release(out);
    return rc;
}

/* ---- events ---------------------------------------------------------------------------- */

static int pg_last_event_id_cb(store *base, store_scope sc, const char *id, const char *type,
                               int64_t *event_id, hark_err *err)
{
    pg_store *st = pgs(base);
    int rc = pgs_enter(st, err);
    if (rc)
        return rc;
    rc = pg_q_int64(&st->c, event_id, NULL, err,
                    "SELECT COALESCE(MAX(e.id), 0) FROM events e JOIN jobs j ON j.id = e.job_id"
                    " WHERE e.job_id = $1 AND e.type = $2 AND ($3::text IS NULL OR j.owner = $3)",
                    "ttt", id, type, pgs_scope_owner(sc));
    pgs_leave(st);
    return rc;
}

/* Rows (id, job_id, type, data, time_ms) of r appended to out, whose
 * events array has room for them. */
static int read_events(const PGresult *r, store_event_list *out, hark_err *err)
{
    for (int i = 0; i < PQntuples(r); i++) {
        store_event *e = &out->events[out->n++];
        e->id = pg_i64(r, i, 0);
        pgs_copy_id(e->job_id, r, i, 1);
        e->type = pg_dup(r, i, 2);
        e->data = pg_dup(r, i, 3);
        e->time_ms = pg_i64(r, i, 4);
        if (!e->type || !e->data)
            return err_set(err, HARK_ENOMEM, "out of memory listing events");
    }
    return 0;
}

static int pg_list_events_cb(store *base, store_scope sc, const char *id, int64_t after_id,
                             int limit, store_event_list *out, hark_err *err)
{
    pg_store *st = pgs(base);
    PGresult *r = NULL;
    int state;
    out->events = calloc((size_t)limit, sizeof *out->events);
    if (!out->events)
        return err_set(err, HARK_ENOMEM, "out of memory listing events");
    int rc = pgs_enter(st, err);
    if (rc) {
        store_event_list_release(out);
        return rc;
    }
    rc = pgs_snap_begin(st, err);
    if (rc)
        goto unlock;
    rc = pgs_job_state(st, sc, id, &state, err);
    if (rc == 0)
        rc = pg_q(&st->c, &r, NULL, err,
                  "SELECT id, job_id, type, data, time_ms FROM events WHERE job_id = $1"
                  " AND id > $2 ORDER BY id LIMIT $3",
                  "tIi", id, after_id, limit);
    if (rc == 0)
        rc = read_events(r, out, err);
    PQclear(r);
    pg_plain(&st->c, "COMMIT", NULL);
unlock:
    pgs_leave(st);
    if (rc)
        store_event_list_release(out);
    return rc;
}

static int pg_latest_event_id_cb(store *base, int64_t *event_id, hark_err *err)
{
    pg_store *st = pgs(base);
    int rc = pgs_enter(st, err);
    if (rc)
        return rc;
    rc = pg_q_int64(&st->c, event_id, NULL, err, "SELECT COALESCE(MAX(id), 0) FROM events", "");
    pgs_leave(st);
    return rc;
}

static int pg_list_events_since_cb(store *base, store_scope sc, int64_t after_id, int limit,
                                   store_event_list *out, hark_err *err)
{
    pg_store *st = pgs(base);
    PGresult *r = NULL;
    out->events = calloc((size_t)limit, sizeof *out->events);
    if (!out->events)
        return err_set(err, HARK_ENOMEM, "out of memory listing events");
    int rc = pgs_enter(st, err);
    if (rc) {
        store_event_list_release(out);
        return rc;
    }
    rc = pg_q(&st->c, &r, NULL, err,
              "SELECT e.id, e.job_id, e.type, e.data, e.time_ms FROM events e"
              " JOIN jobs j ON j.id = e.job_id WHERE e.id > $1"
              " AND ($2::text IS NULL OR j.owner = $2) ORDER BY e.id LIMIT $3",
              "Iti", after_id, pgs_scope_owner(sc), limit);
    if (rc == 0)
        rc = read_events(r, out, err);
    PQclear(r);
    pgs_leave(st);
    if (rc)
        store_event_list_release(out);
    return rc;
}

static int add_event_tx(pg_store *st, store_scope sc, const char *id, const char *type,
                        json_t *data, int64_t *event_id, hark_err *err)
{
    int state, rc = pgs_job_state(st, sc, id, &state, err);
    if (rc) {
        json_decref(data);
        return rc;
    }
    return pgs_add_event(st, id, type, data, event_id, err);
}

static int pg_add_event_cb(store *base, store_scope sc, const char *id, const char *type,
                           json_t *obj, int64_t *event_id, hark_err *err)
{
    pg_store *st = pgs(base);
    int rc = pgs_enter(st, err);
    if (rc) {
        json_decref(obj);
        return rc;
    }
    rc = pgs_tx_begin(st, true, err);
    if (rc == 0)
        rc = pgs_tx_end(st, add_event_tx(st, sc, id, type, obj, event_id, err), err);
    else
        json_decref(obj);
    pgs_leave(st);
    return rc;
}

/* ---- counters and checks ------------------------------------------------------------------ */

/* The last fencing token handed out: the sequence's, 0 before the first. */
#define SQL_LAST_TOKEN "(SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM lease_tokens)"

static int pg_count_work_cb(store *base, int64_t queued[4], int64_t *leased, hark_err *err)
{
    pg_store *st = pgs(base);
    PGresult *r = NULL;
    int rc = pgs_enter(st, err);
    if (rc)
        return rc;
    rc = pg_q(&st->c, &r, NULL, err,
              "SELECT priority, count(*) FROM jobs WHERE state = 'queued' GROUP BY priority", "");
    for (int i = 0; rc == 0 && i < PQntuples(r); i++) {
        int p = pg_int(r, i, 0);
        if (p >= STORE_PRIO_REALTIME && p <= STORE_PRIO_LOW)
            queued[p] = pg_i64(r, i, 1);
    }
    PQclear(r);
    if (rc == 0)
        rc = pg_q_int64(&st->c, leased, NULL, err,
                        "SELECT count(*) FROM tasks WHERE state = 'leased'", "");
    pgs_leave(st);
    return rc;
}

static int pg_get_counters_cb(store *base, store_counters *out, hark_err *err)
{
    pg_store *st = pgs(base);
    PGresult *r = NULL;
    int rc = pgs_enter(st, err);
    if (rc)
        return rc;
    rc = pg_q(&st->c, &r, NULL, err,
              "SELECT key, value FROM meta UNION ALL SELECT 'last_token', " SQL_LAST_TOKEN, "");
    for (int i = 0; rc == 0 && i < PQntuples(r); i++) {
        store_counters_set(out, pg_str(r, i, 0), pg_i64(r, i, 1));
    }
    PQclear(r);
    pgs_leave(st);
    return rc;
}

static int pg_check_cb(store *base, hark_err *err)
{
    pg_store *st = pgs(base);
    /* The invariants of sqlite_store.c's store_check; foreign keys and the
     * pages' integrity are the server's to keep. */
    static const struct {
        const char *what, *sql;
    } checks[] = {
        {"chunks_done differs from the done chunks",
         "SELECT count(*) FROM jobs j WHERE j.chunks_done != (SELECT count(*) FROM tasks t"
         " WHERE t.job_id = j.id AND t.idx >= 0 AND t.state = 'done')"},
        {"a done chunk has no result",
         "SELECT count(*) FROM tasks WHERE idx >= 0 AND state = 'done' AND result IS NULL"},
        {"an unfinished chunk has a result",
         "SELECT count(*) FROM tasks WHERE state != 'done' AND result IS NOT NULL"},
        {"n_chunks differs from the chunk rows",
         "SELECT count(*) FROM jobs j WHERE j.n_chunks != (SELECT count(*) FROM tasks t"
         " WHERE t.job_id = j.id AND t.idx >= 0)"},
        {"a lease is held in a job that is not queued or running",
         "SELECT count(*) FROM tasks t JOIN jobs j ON j.id = t.job_id WHERE t.state = 'leased'"
         " AND j.state NOT IN ('queued','running')"},
        {"a lease token is above the last token handed out",
         "SELECT count(*) FROM tasks WHERE lease_token > " SQL_LAST_TOKEN},
        {"a task's claim order differs from its job's",
         "SELECT count(*) FROM tasks t JOIN jobs j ON j.id = t.job_id"
         " WHERE t.prio != j.priority OR t.job_seq != j.seq"},
        {"a job ended with a callback URL but without a webhook delivery",
         "SELECT count(*) FROM jobs j WHERE j.state IN ('succeeded','failed','cancelled')"
         " AND COALESCE(j.callback_url, '') != ''"
         " AND NOT EXISTS (SELECT 1 FROM webhooks w WHERE w.job_id = j.id)"},
        {"a webhook delivery of a job that has not ended",
         "SELECT count(*) FROM webhooks w JOIN jobs j ON j.id = w.job_id"
         " WHERE j.state NOT IN ('succeeded','failed','cancelled') AND w.event != 'job.failed'"},
        {"a finish time on a job that has not ended, or none on one that has",
         "SELECT count(*) FROM jobs WHERE (finished_ms IS NOT NULL)"
         " != (state IN ('succeeded','failed','cancelled'))"},
        {"an open input on a job that has ended",
         "SELECT count(*) FROM jobs WHERE input_open != 0"
         " AND state IN ('succeeded','failed','cancelled')"},
        {"an input released before its job succeeded or was cancelled",
         "SELECT count(*) FROM jobs WHERE input_released != 0"
         " AND state NOT IN ('succeeded','cancelled')"},
    };
    int rc = pgs_enter(st, err);
    if (rc)
        return rc;
    rc = pgs_snap_begin(st, err);
    for (size_t i = 0; rc == 0 && i < sizeof checks / sizeof checks[0]; i++) {
        int64_t bad;
        rc = pg_q_int64(&st->c, &bad, NULL, err, checks[i].sql, "");
        if (rc == 0 && bad)
            rc = err_set(err, HARK_EIO, "store '%s' is inconsistent: %s (%lld rows)", st->c.where,
                         checks[i].what, (long long)bad);
    }
    pg_plain(&st->c, "COMMIT", NULL);
    pgs_leave(st);
    return rc;
}

const store_backend_ops store_pg_ops = {
    .name = "postgresql",
    .schema_version = pg_schema_version_cb,
    .open = pg_open_cb,
    .close = pg_close_cb,
    .watch = pg_watch_cb,
    .unwatch = pg_unwatch_cb,
    .submit = pg_submit_cb,
    .get_job = pg_get_job_cb,
    .list_jobs = pg_list_jobs_cb,
    .claim = pg_claim_cb,
    .peek = pg_peek_cb,
    .renew = pg_renew_cb,
    .request_yield = pg_request_yield_cb,
    .yields_asked = pg_yields_asked_cb,
    .commit_chunk = pg_commit_chunk_cb,
    .commit_prepare = pg_commit_prepare_cb,
    .release = pg_release_cb,
    .expire_leases = pg_expire_leases_cb,
    .fail_overdue = pg_fail_overdue_cb,
    .recover = pg_recover_cb,
    .control = pg_control_cb,
    .retry = pg_retry_cb,
    .list_unreleased = pg_list_unreleased_cb,
    .mark_released = pg_mark_released_cb,
    .prune = pg_prune_cb,
    .list_chunks_from = pg_list_chunks_from_cb,
    .add_stage = pg_add_stage_cb,
    .find_cached_chunks = pg_find_cached_chunks_cb,
    .input_append = pg_input_append_cb,
    .input_close = pg_input_close_cb,
    .list_open_inputs = pg_list_open_inputs_cb,
    .commit_live_chunk = pg_commit_live_chunk_cb,
    .live_partial = pg_live_partial_cb,
    .finish_live = pg_finish_live_cb,
    .list_events = pg_list_events_cb,
    .list_events_since = pg_list_events_since_cb,
    .latest_event_id = pg_latest_event_id_cb,
    .last_event_id = pg_last_event_id_cb,
    .add_event = pg_add_event_cb,
    .claim_webhooks = pg_claim_webhooks_cb,
    .record_webhook = pg_record_webhook_cb,
    .list_webhooks = pg_list_webhooks_cb,
    .count_work = pg_count_work_cb,
    .get_counters = pg_get_counters_cb,
    .check = pg_check_cb,
};
