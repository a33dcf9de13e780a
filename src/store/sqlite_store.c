/* sqlite_store.c - the SQLite backend of the store (store_sqlite_ops,
 * store_backend.h): store.c checks every argument and calls the callbacks
 * at the end of this file. What is SQLite's alone lives here: the SQL, the
 * schema and its migrations (migrations.c), WAL mode and the deferred WAL
 * sync, busy timeouts, the file-size and full-disk diagnosis.
 *
 * JOB STATES: the diagram, the names and the legal transitions are
 * job_states.h's, shared by every backend.
 *
 * TASKS. A job has a prepare task (idx -1) from submit, and chunk tasks
 * (idx 0..n-1) once the prepare commits its plan. A task is
 *
 *   PENDING ──claim──► LEASED ──commit under its token──► DONE
 *      ▲                 │
 *      └─────────────────┘ preempt (attempts kept) / failure or lease expiry
 *                          (attempts + 1, backoff) / a resource ran out
 *                          (resource_waits + 1, longer backoff) / revoke
 *                          (pause, cancel, fail, recover: attempts kept)
 *
 * INVARIANTS (store_check tests the ones the schema cannot):
 *   1. A task has a lease token, owner and expiry iff it is LEASED (schema
 *      CHECK), and only tasks of QUEUED/RUNNING jobs are leased.
 *   2. Tokens come from meta.last_token, incremented in the same transaction
 *      that grants the lease: strictly increasing and never reused, across
 *      restarts too, since the counter is committed with the lease.
 *   3. A chunk has a result iff it is DONE, and jobs.chunks_done is the
 *      number of DONE chunks: both change in the same transaction.
 *   4. A task is claimable iff it is PENDING, its attempts < max_attempts,
 *      its not_before_ms <= now, its job is QUEUED/RUNNING and the job's
 *      deadline (if any) has not passed. Claim order: priority, job seq
 *      (submission order), idx; the prepare task (idx -1) exists only until
 *      the job is prepared, so it always comes first.
 *   5. A call that names a job or lists jobs for a caller sees only its
 *      scope's (store.h, "Owners and scopes"): the owner is a condition of
 *      the SQL that finds the job (job_state, the reads, the list query),
 *      inside the call's own transaction or read snapshot, never a check
 *      made after reading. jobs.owner never changes after submit. (Not a
 *      property of the data: store_test.c checks every call with scopes.)
 *
 * LEASES AND FENCING
 *   - store_claim grants a lease (token T, owner, expiry now + lease_ms).
 *   - store_renew(T) extends it while it is live; refused once expired.
 *   - store_commit_chunk(T) / store_commit_prepare(T) are accepted only if T
 *     is the token of a LEASED task and now < its expiry. Anything else (a
 *     revoked, expired, already committed or unknown token) is refused with
 *     HARK_ESTALE and counted in meta.refused_commits; nothing else changes.
 *     A commit clears the lease, so the same token cannot commit twice.
 *   - Revoking a lease (pause, cancel, fail, recover, expiry) clears the
 *     token from the task. Since tokens are never reused, the old token can
 *     never match again: a zombie worker's result is refused forever.
 *   - An expired lease stays LEASED (and unclaimable) until
 *     store_expire_leases turns it into a failed attempt ("lease expired").
 *
 * DURABILITY
 *   The database runs in WAL mode. Two kinds of commit:
 *
 *   Synced (PRAGMA synchronous=FULL): COMMIT fsyncs the WAL before it
 *   returns, so the call's effect survives a power loss once it returns 0.
 *   These are what a client is told happened: store_submit (a submit is
 *   acknowledged only after this), pause, resume, cancel, fail, delete, a
 *   failed attempt (store_release FAILED), lease expiry and recovery, and a
 *   refused stale commit's counter bump.
 *
 *   Relaxed (synchronous=NORMAL): lease grants (store_claim), renewals,
 *   prepare results (the chunk plan), chunk results, preemptions
 *   (store_release PREEMPTED), a job's success, and webhook claims and
 *   attempt outcomes (store_claim_webhooks, store_record_webhook). They
 *   are written to the WAL before the call returns, so a process crash
 *   (kill -9 of the daemon included) loses nothing; their fsync is left to
 *   a background thread (deferred_sync.h) that syncs the WAL at most
 *   sync_interval_ms [1 s] after such a commit, one fsync for all commits
 *   made meanwhile, and to the next synced commit, which syncs everything
 *   before it. These are the commits on every chunk's path: an fsync costs
 *   2-4 ms, most of a push-to-talk request's own overhead, and several per
 *   resumed chunk.
 *
 *   So an OS crash or power loss can lose at most the relaxed commits of
 *   the last interval. What survives is always a prefix of the commit
 *   sequence (the WAL's frames carry cumulative checksums; recovery stops
 *   at the first bad one), so the store is consistent, never torn:
 *   - a lost chunk result leaves its chunk pending: it is decoded again,
 *     with the same words (chunks are decoded from a reset state), and it
 *     is never committed twice, since its first commit did not survive;
 *   - a lost prepare result leaves the prepare task pending: the media is
 *     decoded again. A surviving plan always has its PCM file, which the
 *     worker fsyncs (with its directory) before it reports the plan;
 *   - a lost grant leaves the task pending, which is what recovery makes
 *     of any lease anyway; a token number it used may be handed out again,
 *     but its holder died with the machine, and anything committed under
 *     it was lost with it (it came later in the WAL);
 *   - a lost success leaves a job whose chunk results are all committed,
 *     which the runtime finishes again (store_list_jobs with ready_only);
 *     its webhook delivery, inserted in the same transaction, is lost with
 *     it and inserted again when the job is finished again;
 *   - a lost webhook outcome leaves the delivery pending with its earlier
 *     attempts: it is attempted again (the receiver may see a delivery id
 *     twice: webhooks are at least once, store.h), never lost.
 *
 *   The webhook outbox rides on the transaction that ends a job
 *   (finish_job): a job is never terminal without its pending delivery.
 *
 *   Checkpoints (automatic, every ~1000 WAL pages) fsync the WAL and then
 *   the database file. SQLite fsyncs the directory when it creates the
 *   WAL; store_open fsyncs the directory when it creates the database file.
 *   store_close syncs pending relaxed commits. Reads take no write lock.
 *   Several connections may use one file: writers wait up to
 *   busy_timeout_ms for each other.
 */
#include "store/sqlite_store.h"

#include "store/store_backend.h"

#include "store/backoff.h"
#include "store/counter_keys.h"
#include "store/deferred_sync.h"
#include "store/failure_text.h"
#include "store/job_events.h"
#include "store/job_id.h"
#include "store/webhook_body.h"
#include "store/migrations.h"
#include "util/fs.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct sq_store {
    store base; /* ops, resolved options (store_backend.h) */
    sqlite3 *db;
    pthread_mutex_t mu;
    char *path;
    deferred_sync *wal_sync; /* fsyncs the WAL after relaxed commits */
    bool relaxed;            /* the next COMMIT runs with synchronous=NORMAL */
} sq_store;

/* The SQLite handle behind a store handle this backend opened. */
static sq_store *sq(store *st)
{
    return (sq_store *)st;
}

static int sq_schema_version(void)
{
    size_t n;
    store_migrations(&n);
    return (int)n;
}

/* ---- small SQLite helpers ------------------------------------------------ */

/* Whether the database or its WAL has reached the process's file-size
 * limit (ulimit -f): SQLite reports that as a short write (SQLITE_FULL) or
 * an I/O error, without the EFBIG behind it. */
static bool at_size_limit(const sq_store *st)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_FSIZE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return false;
    char wal[4200];
    snprintf(wal, sizeof wal, "%s-wal", st->path);
    struct stat a, b;
    return (stat(st->path, &a) == 0 && (uint64_t)a.st_size >= (uint64_t)rl.rlim_cur) ||
           (stat(wal, &b) == 0 && (uint64_t)b.st_size >= (uint64_t)rl.rlim_cur);
}

/* A failed call's code and message. A full disk (SQLITE_FULL, or ENOSPC
 * under an I/O error) is HARK_ENOSPC, a resource condition the caller may
 * wait out; at the file-size limit the message says so (HARK_EIO). */
static int db_error(sq_store *st, int rc, const char *what, hark_err *err)
{
    int prim = rc & 0xff, sys = sqlite3_system_errno(st->db);
    if ((prim == SQLITE_FULL || prim == SQLITE_IOERR) && (sys == EFBIG || at_size_limit(st))) {
        char cause[200];
        return err_set(err, HARK_EIO, "store '%s': %s: %s", st->path, what,
                       fs_write_cause(EFBIG, cause, sizeof cause));
    }
    int code = rc == SQLITE_NOMEM ? HARK_ENOMEM
               : prim == SQLITE_FULL || (prim == SQLITE_IOERR && (sys == ENOSPC || sys == EDQUOT))
                   ? HARK_ENOSPC
                   : HARK_EIO;
    return err_set(err, code, "store '%s': %s: %s", st->path, what, sqlite3_errmsg(st->db));
}

/* Prepare sql and bind the arguments described by types, one character per
 * parameter ?1, ?2 ...: 't' const char * (NULL binds NULL), 'i' int,
 * 'I' int64_t, 'd' double. */
static int q_vopen(sq_store *st, sqlite3_stmt **out, hark_err *err, const char *sql,
                   const char *types, va_list ap)
{
    sqlite3_stmt *s = NULL;
    int ret = 0;
    int rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
    if (rc != SQLITE_OK) {
        ret = db_error(st, rc, "prepare", err);
        goto out;
    }
    for (int i = 0; types[i]; i++) {
        int col = i + 1;
        switch (types[i]) {
        case 't': {
            const char *v = va_arg(ap, const char *);
            rc = v ? sqlite3_bind_text(s, col, v, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(s, col);
            break;
        }
        case 'i':
            rc = sqlite3_bind_int(s, col, va_arg(ap, int));
            break;
        case 'I':
            rc = sqlite3_bind_int64(s, col, va_arg(ap, int64_t));
            break;
        case 'd':
            rc = sqlite3_bind_double(s, col, va_arg(ap, double));
            break;
        default:
            rc = SQLITE_MISUSE;
            break;
        }
        if (rc != SQLITE_OK) {
            ret = db_error(st, rc, "bind", err);
            goto out;
        }
    }
out:
    if (ret) {
        sqlite3_finalize(s);
        s = NULL;
    }
    *out = s;
    return ret;
}

static int q_open(sq_store *st, sqlite3_stmt **out, hark_err *err, const char *sql,
                  const char *types, ...)
{
    va_list ap;
    va_start(ap, types);
    int rc = q_vopen(st, out, err, sql, types, ap);
    va_end(ap);
    return rc;
}

/* Step: 1 for a row, 0 when done, a negative code on error. */
static int q_step(sq_store *st, sqlite3_stmt *s, hark_err *err)
{
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        return 1;
    if (rc == SQLITE_DONE)
        return 0;
    return db_error(st, rc, "step", err);
}

/* Run a statement to completion; *changes (may be NULL) gets the rows changed. */
static int q_exec(sq_store *st, int *changes, hark_err *err, const char *sql, const char *types,
                  ...)
{
    sqlite3_stmt *s = NULL;
    va_list ap;
    va_start(ap, types);
    int rc = q_vopen(st, &s, err, sql, types, ap);
    va_end(ap);
    if (rc)
        goto out;
    while ((rc = q_step(st, s, err)) == 1)
        ;
    if (rc == 0 && changes)
        *changes = sqlite3_changes(st->db);
out:
    sqlite3_finalize(s);
    return rc;
}

/* Run a statement that yields one integer (a SELECT or an UPDATE ... RETURNING).
 * *found (may be NULL) says whether there was a row; *out is 0 if not. */
static int q_int64(sq_store *st, int64_t *out, bool *found, hark_err *err, const char *sql,
                   const char *types, ...)
{
    sqlite3_stmt *s = NULL;
    va_list ap;
    va_start(ap, types);
    int rc = q_vopen(st, &s, err, sql, types, ap);
    va_end(ap);
    *out = 0;
    if (found)
        *found = false;
    if (rc)
        goto out;
    rc = q_step(st, s, err);
    if (rc == 1) {
        *out = sqlite3_column_int64(s, 0);
        if (found)
            *found = true;
        while ((rc = q_step(st, s, err)) == 1)
            ;
    }
out:
    sqlite3_finalize(s);
    return rc < 0 ? rc : 0;
}

static int exec_plain(sq_store *st, const char *sql, hark_err *err)
{
    int rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : db_error(st, rc, sql, err);
}

static void lock(sq_store *st)
{
    pthread_mutex_lock(&st->mu);
}

static void unlock(sq_store *st)
{
    pthread_mutex_unlock(&st->mu);
}

/* Commit the next transaction with synchronous=NORMAL, its fsync left to
 * the WAL syncer (see DURABILITY); unrelax() after it. Under the mutex. */
static int relax(sq_store *st, hark_err *err)
{
    int rc = exec_plain(st, "PRAGMA synchronous = NORMAL", err);
    st->relaxed = rc == 0;
    return rc;
}

static void unrelax(sq_store *st)
{
    if (st->relaxed)
        exec_plain(st, "PRAGMA synchronous = FULL", NULL);
    st->relaxed = false;
}

/* Every mutating call: BEGIN IMMEDIATE (take the write lock now, so two
 * connections never deadlock upgrading a read), the body, then tx_end. */
static int tx_begin(sq_store *st, hark_err *err)
{
    return exec_plain(st, "BEGIN IMMEDIATE", err);
}

/* Commit when the body returned 0 or HARK_ESTALE (a refused commit keeps its
 * counter bump and nothing else: bodies change nothing else before they
 * return HARK_ESTALE); roll back on any other error. Returns the body's code
 * or the commit's error. */
static int tx_end(sq_store *st, int rc, hark_err *err)
{
    if (rc == 0 || rc == HARK_ESTALE) {
        int c = sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
        if (c == SQLITE_OK) {
            if (st->relaxed)
                deferred_sync_mark(st->wal_sync);
            if (st->base.opt.on_commit)
                st->base.opt.on_commit(st->base.opt.commit_ctx);
            return rc;
        }
        rc = db_error(st, c, "commit", err);
    }
    if (!sqlite3_get_autocommit(st->db))
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

static char *dup_col(sqlite3_stmt *s, int col)
{
    const unsigned char *t = sqlite3_column_text(s, col);
    return strdup(t ? (const char *)t : "");
}

static void copy_id(char dst[STORE_ID_SIZE], sqlite3_stmt *s, int col)
{
    const unsigned char *t = sqlite3_column_text(s, col);
    snprintf(dst, STORE_ID_SIZE, "%s", t ? (const char *)t : "");
}

/* What a query binds for scope sc: NULL for every job, else the owner. The
 * queries say "(?N IS NULL OR owner = ?N)" or, where the owner picks the
 * index, "owner = ?N" only when scoped. */
static const char *scope_owner(store_scope sc)
{
    return sc.all ? NULL : sc.owner;
}

/* ---- events --------------------------------------------------------------- */

/* Append an event; data (stolen, may be NULL for {}) is serialized here. */
static int add_event(sq_store *st, const char *job_id, const char *type, json_t *data, int64_t now,
                     int64_t *event_id, hark_err *err)
{
    char *text = NULL;
    int rc = 0;
    if (data) {
        text = json_dumps(data, JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(data);
        if (!text) {
            rc = err_set(err, HARK_ENOMEM, "cannot encode event '%s' of job %s", type, job_id);
            goto out;
        }
    }
    rc = q_exec(st, NULL, err,
                "INSERT INTO events(job_id, type, data, time_ms) VALUES (?1, ?2, ?3, ?4)", "tttI",
                job_id, type, text ? text : "{}", now);
    if (rc == 0 && event_id)
        *event_id = sqlite3_last_insert_rowid(st->db);
out:
    free(text);
    return rc;
}

/* ---- open, migrate, close ------------------------------------------------- */

static int user_version(sq_store *st, int *v, hark_err *err)
{
    int64_t x;
    int rc = q_int64(st, &x, NULL, err, "PRAGMA user_version", "");
    *v = (int)x;
    return rc;
}

static int migrate(sq_store *st, hark_err *err)
{
    size_t n;
    const store_migration *m = store_migrations(&n);
    int v, rc = user_version(st, &v, err);
    if (rc)
        return rc;
    if (v < 0 || (size_t)v > n)
        return err_set(err, HARK_EINVAL,
                       "store '%s' has schema version %d, newer than this hark knows (%zu): "
                       "upgrade hark",
                       st->path, v, n);
    for (size_t i = (size_t)v; i < n; i++) {
        if (m[i].version != (int)i + 1)
            return err_set(err, HARK_EINVAL, "migration %zu is numbered %d", i + 1, m[i].version);
        rc = tx_begin(st, err);
        if (rc)
            return rc;
        int cur;
        rc = user_version(st, &cur, err);
        if (rc == 0 && cur >= m[i].version) /* another connection migrated meanwhile */
            goto end;
        if (rc == 0)
            rc = exec_plain(st,
                            "CREATE TABLE IF NOT EXISTS schema_migrations ("
                            "version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                            " applied_ms INTEGER NOT NULL)",
                            err);
        if (rc == 0) {
            int c = sqlite3_exec(st->db, m[i].sql, NULL, NULL, NULL);
            if (c != SQLITE_OK)
                rc = db_error(st, c, "migration", err);
        }
        if (rc == 0)
            rc = q_exec(st, NULL, err,
                        "INSERT INTO schema_migrations(version, name, applied_ms)"
                        " VALUES (?1, ?2, ?3)",
                        "itI", m[i].version, m[i].name, store_now(&st->base));
        if (rc == 0) {
            /* PRAGMA takes no parameters; the value is our own integer. */
            char sql[64];
            snprintf(sql, sizeof sql, "PRAGMA user_version = %d", m[i].version);
            rc = exec_plain(st, sql, err);
        }
    end:
        rc = tx_end(st, rc, err);
        if (rc)
            return rc;
    }
    return 0;
}

/* path is a file name; opt is resolved (store_backend.h). */
static int sq_open(const char *path, const store_options *opt, store **out, hark_err *err)
{
    sq_store *st = NULL;
    int rc = 0;
    bool mu_init = false;
    const store_options o = *opt;
    *out = NULL;
    st = calloc(1, sizeof *st);
    if (!st || !(st->path = strdup(path))) {
        rc = err_set(err, HARK_ENOMEM, "cannot open store '%s': out of memory", path);
        goto out;
    }
    if (pthread_mutex_init(&st->mu, NULL) != 0) {
        rc = err_set(err, HARK_ENOMEM, "cannot open store '%s': no mutex", path);
        goto out;
    }
    mu_init = true;
    st->base.ops = &store_sqlite_ops;
    st->base.opt = o;

    bool existed = access(path, F_OK) == 0;
    int c = sqlite3_open_v2(
        path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL);
    if (c != SQLITE_OK) {
        rc = err_set(err, c == SQLITE_NOMEM ? HARK_ENOMEM : HARK_EIO, "cannot open store '%s': %s",
                     path, st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(c));
        goto out;
    }
    sqlite3_busy_timeout(st->db, o.busy_timeout_ms);
    /* Check the file is a database before changing anything in it. */
    c = sqlite3_exec(st->db, "SELECT count(*) FROM sqlite_schema", NULL, NULL, NULL);
    if (c != SQLITE_OK) {
        rc = err_set(err, c == SQLITE_NOMEM ? HARK_ENOMEM : HARK_EIO, "cannot open store '%s': %s",
                     path, sqlite3_errmsg(st->db));
        goto out;
    }
    {
        sqlite3_stmt *s = NULL;
        rc = q_open(st, &s, err, "PRAGMA journal_mode = WAL", "");
        if (rc == 0 && (rc = q_step(st, s, err)) == 1) {
            const unsigned char *mode = sqlite3_column_text(s, 0);
            rc = mode && strcmp((const char *)mode, "wal") == 0
                     ? 0
                     : err_set(err, HARK_EIO, "store '%s': cannot use WAL mode (got '%s')", path,
                               mode ? (const char *)mode : "");
        } else if (rc == 0) {
            rc = err_set(err, HARK_EIO, "store '%s': cannot use WAL mode", path);
        }
        sqlite3_finalize(s);
        if (rc)
            goto out;
    }
    rc = exec_plain(st, "PRAGMA synchronous = FULL", err);
    if (rc == 0)
        rc = exec_plain(st, "PRAGMA foreign_keys = ON", err);
    if (rc == 0)
        rc = migrate(st, err);
    if (rc)
        goto out;
    {
        char wal[4200];
        snprintf(wal, sizeof wal, "%s-wal", sqlite3_db_filename(st->db, "main"));
        if ((rc = deferred_sync_start(wal, o.sync_interval_ms, &st->wal_sync, err)))
            goto out;
    }
    if (!existed) {
        char dir[4096];
        fs_dirname(path, dir, sizeof dir);
        if (fs_fsync_dir(dir) != 0) {
            rc = err_set(err, HARK_EIO, "store '%s': cannot sync directory '%s'", path, dir);
            goto out;
        }
    }
    *out = &st->base;
    st = NULL;
out:
    if (st) {
        deferred_sync_stop(st->wal_sync);
        sqlite3_close_v2(st->db);
        if (mu_init)
            pthread_mutex_destroy(&st->mu);
        free(st->path);
        free(st);
    }
    return rc;
}

static void sq_close(store *base)
{
    sq_store *st = sq(base);
    deferred_sync_stop(st->wal_sync); /* the last relaxed commits become durable */
    sqlite3_close_v2(st->db);
    pthread_mutex_destroy(&st->mu);
    free(st->path);
    free(st);
}

static int sq_flush(store *base, hark_err *err)
{
    sq_store *st = sq(base);
    if (deferred_sync_flush(st->wal_sync) != 0)
        return err_set(err, HARK_EIO, "store '%s': cannot sync the WAL", st->path);
    return 0;
}

bool store_sqlite_sync_pending(store *base)
{
    return base->ops == &store_sqlite_ops && deferred_sync_pending(sq(base)->wal_sync);
}

int64_t store_sqlite_sync_count(store *base)
{
    return base->ops == &store_sqlite_ops ? deferred_sync_count(sq(base)->wal_sync) : 0;
}

/* ---- submit ---------------------------------------------------------------- */

static int submit_tx(sq_store *st, const store_job_spec *spec, char id[STORE_ID_SIZE],
                     hark_err *err)
{
    int64_t t = store_now(&st->base), seq, exists = 1;
    const char *source = spec->source && spec->source[0] ? spec->source : spec->input;
    int rc = 0;
    if (spec->max_active > 0) {
        int64_t active = 0;
        rc = q_int64(st, &active, NULL, err,
                     "SELECT count(*) FROM jobs WHERE priority = ?1"
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
            rc =
                q_int64(st, &exists, NULL, err, "SELECT count(*) FROM jobs WHERE id = ?1", "t", id);
        if (rc)
            return rc;
    }
    if (exists)
        return err_set(err, HARK_EIO, "cannot make a unique job id");
    rc = q_int64(st, &seq, NULL, err,
                 "UPDATE meta SET value = value + 1 WHERE key = 'next_seq' RETURNING value", "");
    if (rc)
        return rc;
    int64_t deadline = store_deadline_ms(t, spec->timeout_s);
    rc = q_exec(st, NULL, err,
                "INSERT INTO jobs(id, kind, state, priority, seq, created_ms, updated_ms, input,"
                " source, options, timeout_s, deadline_ms, callback_url, input_root, owner,"
                " input_open, input_at_ms)"
                " VALUES (?1, ?2, 'queued', ?3, ?4, ?5, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13,"
                " ?14, ?5)",
                "ttiIItttdItttI", id, spec->kind, spec->priority, seq, t, spec->input, source,
                spec->options ? spec->options : "{}", spec->timeout_s, deadline,
                spec->callback_url && spec->callback_url[0] ? spec->callback_url : NULL,
                spec->input_root ? spec->input_root : "", spec->owner ? spec->owner : "",
                (int64_t)(spec->input_open ? 1 : 0));
    if (rc == 0)
        rc = q_exec(st, NULL, err,
                    "INSERT INTO tasks(job_id, idx, state) VALUES (?1, -1, 'pending')", "t", id);
    if (rc == 0)
        rc = add_event(st, id, "queued", store_event_queued(spec->priority, source, seq), t, NULL,
                       err);
    return rc;
}

static int sq_submit(store *base, const store_job_spec *spec, char id[STORE_ID_SIZE], hark_err *err)
{
    sq_store *st = sq(base);
    int rc;
    lock(st);
    rc = tx_begin(st, err);
    if (rc == 0)
        rc = tx_end(st, submit_tx(st, spec, id, err), err);
    unlock(st);
    return rc;
}

/* ---- jobs: read ------------------------------------------------------------ */

/* A job's columns (read_job's order) from `jobs j` (JOB_COLS) or from
 * jobs_table, which may name an index: "jobs j INDEXED BY x". */
#define JOB_COLS JOB_COLS_FROM("jobs j")
#define JOB_COLS_FROM(jobs_table)                                                                  \
    "j.id, j.kind, j.state, j.priority, j.seq, j.created_ms, j.updated_ms,"                        \
    " COALESCE(j.started_ms, 0), COALESCE(j.finished_ms, 0), j.input, j.source, j.options,"        \
    " j.timeout_s, j.deadline_ms, j.prepared, COALESCE(p.attempts, 0),"                            \
    " COALESCE(p.last_error, ''), j.duration_s, j.n_chunks, j.chunks_done, j.error,"               \
    " j.result_ready, COALESCE(j.callback_url, ''), COALESCE(w.state, ''),"                        \
    " COALESCE(w.attempts, 0), COALESCE(w.last_status, 0), COALESCE(w.last_error, ''),"            \
    " COALESCE(w.delivered_ms, 0), j.input_root, j.owner, j.content_key, j.doc,"                   \
    " j.input_open, j.input_bytes, j.input_at_ms"                                                  \
    " FROM " jobs_table " LEFT JOIN tasks p ON p.job_id = j.id AND p.idx = -1"                     \
    " LEFT JOIN webhooks w ON j.finished_ms IS NOT NULL"                                           \
    " AND w.id = (SELECT MAX(id) FROM webhooks WHERE job_id = j.id)"

static int read_job(sq_store *st, sqlite3_stmt *s, store_job *j, hark_err *err)
{
    memset(j, 0, sizeof *j);
    copy_id(j->id, s, 0);
    j->kind = dup_col(s, 1);
    j->state = store_state_of_name((const char *)sqlite3_column_text(s, 2));
    j->priority = sqlite3_column_int(s, 3);
    j->seq = sqlite3_column_int64(s, 4);
    j->created_ms = sqlite3_column_int64(s, 5);
    j->updated_ms = sqlite3_column_int64(s, 6);
    j->started_ms = sqlite3_column_int64(s, 7);
    j->finished_ms = sqlite3_column_int64(s, 8);
    j->input = dup_col(s, 9);
    j->source = dup_col(s, 10);
    j->options = dup_col(s, 11);
    j->timeout_s = sqlite3_column_double(s, 12);
    j->deadline_ms = sqlite3_column_int64(s, 13);
    j->prepared = sqlite3_column_int(s, 14) != 0;
    j->prepare_attempts = sqlite3_column_int(s, 15);
    j->prepare_error = dup_col(s, 16);
    j->duration_s = sqlite3_column_double(s, 17);
    j->n_chunks = sqlite3_column_int(s, 18);
    j->chunks_done = sqlite3_column_int(s, 19);
    j->error = dup_col(s, 20);
    j->result_ready = sqlite3_column_int(s, 21) != 0;
    j->callback_url = dup_col(s, 22);
    j->webhook_state = store_webhook_state_of_name((const char *)sqlite3_column_text(s, 23));
    j->webhook_attempts = sqlite3_column_int(s, 24);
    j->webhook_last_status = sqlite3_column_int(s, 25);
    j->webhook_last_error = dup_col(s, 26);
    j->webhook_delivered_ms = sqlite3_column_int64(s, 27);
    j->input_root = dup_col(s, 28);
    j->owner = dup_col(s, 29);
    j->content_key = dup_col(s, 30);
    j->doc = dup_col(s, 31);
    j->input_open = sqlite3_column_int(s, 32) != 0;
    j->input_bytes = sqlite3_column_int64(s, 33);
    j->input_at_ms = sqlite3_column_int64(s, 34);
    if (!j->kind || !j->input || !j->source || !j->options || !j->prepare_error || !j->error ||
        !j->callback_url || !j->webhook_last_error || !j->input_root || !j->owner ||
        !j->content_key || !j->doc) {
        store_job_release(j);
        return err_set(err, HARK_ENOMEM, "store '%s': out of memory reading a job", st->path);
    }
    return 0;
}

static int sq_get_job(store *base, store_scope sc, const char *id, store_job *out, hark_err *err)
{
    sq_store *st = sq(base);
    sqlite3_stmt *s = NULL;
    int rc;
    lock(st);
    rc = q_open(st, &s, err, "SELECT " JOB_COLS " WHERE j.id = ?1 AND (?2 IS NULL OR j.owner = ?2)",
                "tt", id, scope_owner(sc));
    if (rc)
        goto out;
    rc = q_step(st, s, err);
    if (rc == 1)
        rc = read_job(st, s, out, err);
    else if (rc == 0)
        rc = err_set(err, HARK_ENOENT, "no job '%s'", id);
out:
    sqlite3_finalize(s);
    unlock(st);
    return rc;
}

/* The list query: [newest first][scoped to an owner]. Scoped, "j.owner =
 * ?7" lets jobs_owner (owner, seq) give one owner's jobs in order. */
#define LIST_WHERE                                                                                 \
    "SELECT " JOB_COLS " WHERE (?1 IS NULL OR j.state = ?1)"                                       \
    " AND (?2 < 0 OR j.priority = ?2) AND j.created_ms >= ?3"                                      \
    " AND (?4 = 0 OR (j.state IN ('queued','running') AND j.prepared = 1"                          \
    " AND j.chunks_done = j.n_chunks))"
static const char *const list_sql[2][2] = {
    {LIST_WHERE " AND (?5 = 0 OR j.seq > ?5) ORDER BY j.seq LIMIT ?6",
     LIST_WHERE " AND j.owner = ?7 AND (?5 = 0 OR j.seq > ?5) ORDER BY j.seq LIMIT ?6"},
    {LIST_WHERE " AND (?5 = 0 OR j.seq < ?5) ORDER BY j.seq DESC LIMIT ?6",
     LIST_WHERE " AND j.owner = ?7 AND (?5 = 0 OR j.seq < ?5) ORDER BY j.seq DESC LIMIT ?6"},
};

static int sq_list_jobs(store *base, store_scope sc, const store_job_filter *filter,
                        store_job_list *out, hark_err *err)
{
    sq_store *st = sq(base);
    const store_job_filter f = *filter;
    sqlite3_stmt *s = NULL;
    int rc = 0;
    out->jobs = calloc((size_t)f.limit, sizeof *out->jobs);
    if (!out->jobs)
        return err_set(err, HARK_ENOMEM, "out of memory listing jobs");
    lock(st);
    rc = q_open(st, &s, err, list_sql[f.newest_first][!sc.all], sc.all ? "tiIiIi" : "tiIiIit",
                f.state < 0 ? NULL : store_state_name(f.state), f.priority, f.created_since,
                (int)f.ready_only, f.after_seq, f.limit + 1, sc.owner);
    while (rc == 0 && (rc = q_step(st, s, err)) == 1) {
        if (out->n == (size_t)f.limit) { /* one more exists: there is a next page */
            out->next_after = out->jobs[out->n - 1].seq;
            rc = 0;
            break;
        }
        rc = read_job(st, s, &out->jobs[out->n], err);
        if (rc == 0)
            out->n++;
    }
    sqlite3_finalize(s);
    unlock(st);
    if (rc)
        store_job_list_release(out);
    return rc;
}

/* ---- claim and peek ---------------------------------------------------------- */

/* The claimable tasks in claim order (invariant 4). ?1 now, ?2 max_attempts. */
/* Claimable work, in two indexed steps so neither grows with the queue: the
 * best job (jobs_sched: the few queued/running jobs, each checked for a
 * pending task through tasks_state), then that job's first pending task
 * (tasks_state again, in idx order). A single join over tasks would visit
 * every pending task of every queued job on each claim and peek: 2 ms with
 * one 7-hour job waiting, on the push-to-talk path. ?1 now, ?2 attempts. */
#define SQL_CLAIMABLE_JOBS                                                                         \
    " FROM jobs j WHERE j.state IN ('queued','running')"                                           \
    " AND (j.deadline_ms = 0 OR j.deadline_ms > ?1) AND EXISTS (SELECT 1"                          \
    "  FROM tasks t INDEXED BY tasks_state WHERE t.state = 'pending' AND t.job_id = j.id"          \
    "  AND t.attempts < ?2 AND t.not_before_ms <= ?1)"
#define SQL_JOB_ORDER " ORDER BY j.priority, j.seq LIMIT 1"

static int claim_tx(sq_store *st, const char *owner, int64_t lease_ms, int max_priority,
                    store_task *out, hark_err *err)
{
    sqlite3_stmt *s = NULL;
    int64_t t = store_now(&st->base), token;
    bool first_start = false, was_queued = false;
    int rc = q_open(st, &s, err,
                    "SELECT j.id, j.priority, j.state, j.started_ms IS NULL" SQL_CLAIMABLE_JOBS
                    " AND j.priority <= ?3" SQL_JOB_ORDER,
                    "Iii", t, st->base.opt.max_attempts, max_priority);
    if (rc)
        goto out;
    rc = q_step(st, s, err);
    if (rc <= 0)
        goto out; /* 0: nothing claimable, out->kind stays NONE */
    copy_id(out->job_id, s, 0);
    out->priority = sqlite3_column_int(s, 1);
    was_queued = store_state_of_name((const char *)sqlite3_column_text(s, 2)) == STORE_QUEUED;
    first_start = sqlite3_column_int(s, 3) != 0;
    sqlite3_finalize(s);
    s = NULL;
    rc = q_open(st, &s, err,
                "SELECT idx, start_sample, end_sample, attempts FROM tasks INDEXED BY tasks_state"
                " WHERE state = 'pending' AND job_id = ?1 AND attempts < ?2 AND not_before_ms <= ?3"
                " ORDER BY idx LIMIT 1",
                "tiI", out->job_id, st->base.opt.max_attempts, t);
    if (rc == 0 && (rc = q_step(st, s, err)) == 0)
        rc = err_set(err, HARK_EIO, "store '%s': job %s lost its claimable task", st->path,
                     out->job_id);
    if (rc < 0)
        goto out;
    out->idx = sqlite3_column_int(s, 0);
    out->kind = out->idx < 0 ? STORE_TASK_PREPARE : STORE_TASK_CHUNK;
    out->start_sample = sqlite3_column_int64(s, 1);
    out->end_sample = sqlite3_column_int64(s, 2);
    out->attempt = sqlite3_column_int(s, 3) + 1;
    sqlite3_finalize(s);
    s = NULL;

    rc = q_int64(st, &token, NULL, err,
                 "UPDATE meta SET value = value + 1 WHERE key = 'last_token' RETURNING value", "");
    if (rc)
        goto out;
    out->token = token;
    out->expires_ms = t + lease_ms;
    int changed = 0;
    rc = q_exec(st, &changed, err,
                "UPDATE tasks SET state = 'leased', lease_token = ?1, lease_owner = ?2,"
                " lease_expires_ms = ?3 WHERE job_id = ?4 AND idx = ?5 AND state = 'pending'",
                "ItIti", token, owner, out->expires_ms, out->job_id, out->idx);
    if (rc == 0 && changed != 1)
        rc = err_set(err, HARK_EIO, "store '%s': claim of job %s task %d lost its row", st->path,
                     out->job_id, out->idx);
    if (rc == 0 && was_queued)
        rc = q_exec(st, NULL, err,
                    "UPDATE jobs SET state = 'running', updated_ms = ?1,"
                    " started_ms = COALESCE(started_ms, ?1) WHERE id = ?2",
                    "It", t, out->job_id);
    if (rc == 0 && first_start)
        rc = add_event(st, out->job_id, "started", store_event_started(owner), t, NULL, err);
out:
    sqlite3_finalize(s);
    return rc;
}

static int sq_claim(store *base, const char *owner, int64_t lease_ms, int max_priority,
                    store_task *out, hark_err *err)
{
    sq_store *st = sq(base);
    int rc;
    lock(st);
    rc = relax(st, err);
    if (rc == 0)
        rc = tx_begin(st, err);
    if (rc == 0)
        rc = tx_end(st, claim_tx(st, owner, lease_ms, max_priority, out, err), err);
    unrelax(st);
    unlock(st);
    return rc;
}

static int sq_peek(store *base, store_peek_info *out, hark_err *err)
{
    sq_store *st = sq(base);
    int64_t t, v;
    bool found;
    int rc;
    lock(st);
    t = store_now(&st->base);
    rc = exec_plain(st, "BEGIN", err); /* one snapshot for both queries */
    if (rc)
        goto out;
    rc = q_int64(st, &v, &found, err, "SELECT j.priority" SQL_CLAIMABLE_JOBS SQL_JOB_ORDER, "Ii", t,
                 st->base.opt.max_attempts);
    if (rc == 0 && found)
        out->best_priority = (int)v;
    if (rc == 0)
        rc = q_int64(st, &v, NULL, err,
                     "SELECT COALESCE(MIN(x), 0) FROM ("
                     " SELECT MIN(t.not_before_ms) AS x FROM tasks t INDEXED BY tasks_backoff"
                     "  JOIN jobs j ON j.id = t.job_id"
                     "  WHERE t.state = 'pending' AND t.not_before_ms > 0 AND t.not_before_ms > ?1"
                     "  AND t.attempts < ?2 AND j.state IN ('queued','running')"
                     " UNION ALL SELECT MIN(lease_expires_ms) FROM tasks WHERE state = 'leased'"
                     " UNION ALL SELECT MIN(deadline_ms) FROM jobs"
                     "  WHERE state IN ('queued','running') AND deadline_ms > 0)",
                     "Ii", t, st->base.opt.max_attempts);
    if (rc == 0)
        out->wake_ms = v;
    sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
out:
    unlock(st);
    return rc;
}

/* ---- leases ---------------------------------------------------------------- */

typedef struct lease {
    char job_id[STORE_ID_SIZE];
    int idx;
    int64_t expires_ms;
} lease;

/* Find the LEASED task holding token. Returns 0 with *l filled, or
 * HARK_ESTALE (err says why) when no task holds it. Expiry is not checked. */
static int find_lease(sq_store *st, int64_t token, lease *l, hark_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = q_open(st, &s, err,
                    "SELECT job_id, idx, lease_expires_ms FROM tasks"
                    " WHERE lease_token = ?1 AND state = 'leased'",
                    "I", token);
    if (rc)
        goto out;
    rc = q_step(st, s, err);
    if (rc == 1) {
        copy_id(l->job_id, s, 0);
        l->idx = sqlite3_column_int(s, 1);
        l->expires_ms = sqlite3_column_int64(s, 2);
        rc = 0;
    } else if (rc == 0) {
        rc = err_set(err, HARK_ESTALE,
                     "stale lease token %lld: revoked, expired or already committed",
                     (long long)token);
    }
out:
    sqlite3_finalize(s);
    return rc;
}

/* find_lease, and refuse an expired lease too. */
static int find_live_lease(sq_store *st, int64_t token, int64_t t, lease *l, hark_err *err)
{
    int rc = find_lease(st, token, l, err);
    if (rc == 0 && l->expires_ms <= t)
        rc =
            err_set(err, HARK_ESTALE, "stale lease token %lld: the lease of job %s task %d expired",
                    (long long)token, l->job_id, l->idx);
    return rc;
}

static int bump_counter(sq_store *st, const char *key, int64_t by, hark_err *err)
{
    return q_exec(st, NULL, err, "UPDATE meta SET value = value + ?1 WHERE key = ?2", "It", by,
                  key);
}

/* Count a refused commit and keep the HARK_ESTALE (tx_end commits it). */
static int refuse(sq_store *st, const char *counter, hark_err *err)
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

static int renew_tx(sq_store *st, int64_t token, int64_t lease_ms, hark_err *err)
{
    int64_t t = store_now(&st->base);
    lease l;
    int rc = find_live_lease(st, token, t, &l, err);
    if (rc == HARK_ESTALE)
        return refuse(st, "refused_renewals", err);
    if (rc)
        return rc;
    return q_exec(st, NULL, err, "UPDATE tasks SET lease_expires_ms = ?1 WHERE lease_token = ?2",
                  "II", t + lease_ms, token);
}

static int sq_renew(store *base, int64_t token, int64_t lease_ms, hark_err *err)
{
    sq_store *st = sq(base);
    lock(st);
    int rc = relax(st, err);
    if (rc == 0)
        rc = tx_begin(st, err);
    if (rc == 0)
        rc = tx_end(st, renew_tx(st, token, lease_ms, err), err);
    unrelax(st);
    unlock(st);
    return rc;
}

static int commit_chunk_tx(sq_store *st, int64_t token, const char *result, double decode_s,
                           store_commit_info *info, hark_err *err)
{
    int64_t t = store_now(&st->base);
    lease l;
    sqlite3_stmt *s = NULL;
    int rc = find_live_lease(st, token, t, &l, err);
    if (rc == HARK_ESTALE)
        return refuse(st, "refused_commits", err);
    if (rc)
        return rc;
    if (l.idx < 0)
        return err_set(err, HARK_EINVAL, "token %lld is a prepare lease, not a chunk lease",
                       (long long)token);
    rc = q_exec(st, NULL, err,
                "UPDATE tasks SET state = 'done', result = ?1, decode_s = ?2, lease_token = NULL,"
                " lease_owner = NULL, lease_expires_ms = NULL WHERE job_id = ?3 AND idx = ?4",
                "tdti", result, decode_s, l.job_id, l.idx);
    if (rc)
        goto out;
    rc = q_open(st, &s, err,
                "UPDATE jobs SET chunks_done = chunks_done + 1, updated_ms = ?1 WHERE id = ?2"
                " RETURNING chunks_done, n_chunks",
                "It", t, l.job_id);
    if (rc == 0 && (rc = q_step(st, s, err)) == 0)
        rc = err_set(err, HARK_EIO, "store '%s': job %s vanished", st->path, l.job_id);
    if (rc < 0)
        goto out;
    int done = sqlite3_column_int(s, 0), n = sqlite3_column_int(s, 1);
    while ((rc = q_step(st, s, err)) == 1)
        ;
    if (rc)
        goto out;
    if (info) {
        snprintf(info->job_id, sizeof info->job_id, "%s", l.job_id);
        info->idx = l.idx;
        info->chunks_done = done;
        info->n_chunks = n;
        info->job_complete = done == n;
    }
    rc = add_event(st, l.job_id, "chunk_committed", store_event_chunk_committed(l.idx, done, n), t,
                   NULL, err);
out:
    sqlite3_finalize(s);
    return rc;
}

static int sq_commit_chunk(store *base, int64_t token, const char *result, double decode_s,
                           store_commit_info *info, hark_err *err)
{
    sq_store *st = sq(base);
    int rc;
    lock(st);
    rc = relax(st, err);
    if (rc == 0)
        rc = tx_begin(st, err);
    if (rc == 0)
        rc = tx_end(st, commit_chunk_tx(st, token, result, decode_s, info, err), err);
    unrelax(st);
    unlock(st);
    return rc;
}

static int commit_prepare_tx(sq_store *st, int64_t token, double duration_s, const store_span *plan,
                             size_t n, const char *content_key, store_commit_info *info,
                             hark_err *err)
{
    int64_t t = store_now(&st->base);
    lease l;
    sqlite3_stmt *s = NULL;
    int rc = find_live_lease(st, token, t, &l, err);
    if (rc == HARK_ESTALE)
        return refuse(st, "refused_commits", err);
    if (rc)
        return rc;
    if (l.idx >= 0)
        return err_set(err, HARK_EINVAL, "token %lld is a chunk lease, not a prepare lease",
                       (long long)token);
    rc = q_open(st, &s, err,
                "INSERT INTO tasks(job_id, idx, start_sample, end_sample, state)"
                " VALUES (?1, ?2, ?3, ?4, 'pending')",
                "t", l.job_id);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        sqlite3_reset(s);
        if (sqlite3_bind_int(s, 2, (int)i) != SQLITE_OK ||
            sqlite3_bind_int64(s, 3, plan[i].start_sample) != SQLITE_OK ||
            sqlite3_bind_int64(s, 4, plan[i].end_sample) != SQLITE_OK)
            rc = db_error(st, SQLITE_ERROR, "bind", err);
        else if ((rc = q_step(st, s, err)) > 0)
            rc = 0;
    }
    if (rc)
        goto out;
    rc = q_exec(st, NULL, err,
                "UPDATE tasks SET state = 'done', lease_token = NULL, lease_owner = NULL,"
                " lease_expires_ms = NULL WHERE job_id = ?1 AND idx = -1",
                "t", l.job_id);
    if (rc == 0)
        rc = q_exec(st, NULL, err,
                    "UPDATE jobs SET prepared = 1, duration_s = ?1, n_chunks = ?2, updated_ms = ?3,"
                    " content_key = ?5 WHERE id = ?4",
                    "diItt", duration_s, (int)n, t, l.job_id, content_key ? content_key : "");
    if (rc == 0)
        rc = add_event(st, l.job_id, "progress", store_event_prepared((int)n, duration_s, 0), t,
                       NULL, err);
    if (rc == 0 && info) {
        snprintf(info->job_id, sizeof info->job_id, "%s", l.job_id);
        info->idx = -1;
        info->n_chunks = (int)n;
        info->job_complete = n == 0;
    }
out:
    sqlite3_finalize(s);
    return rc;
}

static int sq_commit_prepare(store *base, int64_t token, double duration_s, const store_span *plan,
                             size_t n, const char *content_key, store_commit_info *info,
                             hark_err *err)
{
    sq_store *st = sq(base);
    int rc;
    lock(st);
    rc = relax(st, err);
    if (rc == 0)
        rc = tx_begin(st, err);
    if (rc == 0)
        rc = tx_end(st, commit_prepare_tx(st, token, duration_s, plan, n, content_key, info, err),
                    err);
    unrelax(st);
    unlock(st);
    return rc;
}

/* ---- failing: a task's attempt, a whole job ---------------------------------- */

static int revoke_job_leases(sq_store *st, const char *id, int *n, hark_err *err)
{
    return q_exec(st, n, err,
                  "UPDATE tasks SET state = 'pending', lease_token = NULL, lease_owner = NULL,"
                  " lease_expires_ms = NULL WHERE job_id = ?1 AND state = 'leased'",
                  "t", id);
}

/* The state of job id if it is in scope sc: the gate of every call that
 * names a job, inside its transaction (or read snapshot), so what it lets
 * through is what the rest of the call touches. HARK_ENOENT otherwise. */
static int job_state(sq_store *st, store_scope sc, const char *id, int *state, hark_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc =
        q_open(st, &s, err, "SELECT state FROM jobs WHERE id = ?1 AND (?2 IS NULL OR owner = ?2)",
               "tt", id, scope_owner(sc));
    if (rc == 0) {
        rc = q_step(st, s, err);
        if (rc == 1) {
            *state = store_state_of_name((const char *)sqlite3_column_text(s, 0));
            rc = 0;
        } else if (rc == 0) {
            rc = err_set(err, HARK_ENOENT, "no job '%s'", id);
        }
    }
    sqlite3_finalize(s);
    return rc;
}

static int enqueue_webhook(sq_store *st, const char *id, int64_t t, hark_err *err);

/* Move job id to a terminal state: revoke its leases, set state, message,
 * finished time, log event `type` with data (stolen), and put its webhook
 * (if it has a callback URL) in the outbox. Every terminal transition goes
 * through here, so none can end a job without its delivery. */
static int finish_job(sq_store *st, const char *id, int state, const char *error, json_t *data,
                      int64_t t, hark_err *err)
{
    int rc = revoke_job_leases(st, id, NULL, err);
    if (rc == 0)
        rc = q_exec(st, NULL, err,
                    "UPDATE jobs SET state = ?1, error = ?2, updated_ms = ?3, finished_ms = ?3,"
                    " result_ready = ?4, input_open = 0 WHERE id = ?5",
                    "ttIit", store_state_name(state), error ? error : "", t,
                    (int)(state == STORE_SUCCEEDED), id);
    if (rc == 0)
        rc = add_event(st, id, store_state_name(state), data, t, NULL, err);
    else
        json_decref(data);
    if (rc == 0)
        rc = bump_counter(st,
                          state == STORE_SUCCEEDED ? "jobs_succeeded"
                          : state == STORE_FAILED  ? "jobs_failed"
                                                   : "jobs_cancelled",
                          1, err);
    if (rc == 0)
        rc = enqueue_webhook(st, id, t, err);
    return rc;
}

static int fail_job(sq_store *st, const char *id, const char *message, int64_t t, hark_err *err)
{
    return finish_job(st, id, STORE_FAILED, message, store_event_failed(message), t, err);
}

/* Count a failed attempt of a LEASED task (job_id, idx) with cause: back to
 * pending after the backoff, or fail the job at max_attempts. With
 * resource, count a wait for a resource instead (resource_waits, its own
 * longer backoff and limit; attempts unchanged). Returns 0, 1 if the task
 * was no longer leased (nothing done), or an error. */
static int fail_task(sq_store *st, const char *job_id, int idx, const char *cause, bool resource,
                     int64_t t, store_release_info *info, hark_err *err)
{
    sqlite3_stmt *s = NULL;
    char *msg = NULL;
    /* The n-th failure of a kind waits its backoff of n - 1 (backoff.h):
     * the counts as they were, read in this transaction. */
    int rc = q_open(st, &s, err,
                    "SELECT attempts, resource_waits FROM tasks"
                    " WHERE job_id = ?1 AND idx = ?2 AND state = 'leased'",
                    "ti", job_id, idx);
    if (rc)
        goto out;
    rc = q_step(st, s, err);
    if (rc == 0)
        rc = 1;
    if (rc < 0)
        goto out;
    int prior = sqlite3_column_int(s, resource ? 1 : 0);
    sqlite3_finalize(s);
    s = NULL;
    rc = q_open(st, &s, err,
                "UPDATE tasks SET state = 'pending', lease_token = NULL, lease_owner = NULL,"
                " lease_expires_ms = NULL, attempts = attempts + 1 - ?5,"
                " resource_waits = resource_waits + ?5, last_error = ?3, not_before_ms = ?4"
                " WHERE job_id = ?1 AND idx = ?2 AND state = 'leased'"
                " RETURNING attempts, not_before_ms, start_sample, end_sample, resource_waits",
                "titIi", job_id, idx, cause, t + store_backoff_ms(&st->base.opt, resource, prior),
                resource ? 1 : 0);
    if (rc)
        goto out;
    rc = q_step(st, s, err);
    if (rc == 0)
        rc = 1;
    if (rc < 0)
        goto out;
    int attempts = sqlite3_column_int(s, 0);
    int64_t not_before = sqlite3_column_int64(s, 1);
    int64_t start = sqlite3_column_int64(s, 2), end = sqlite3_column_int64(s, 3);
    int waits = sqlite3_column_int(s, 4);
    while ((rc = q_step(st, s, err)) == 1)
        ;
    sqlite3_finalize(s);
    s = NULL;
    if (rc)
        goto out;
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
        rc = q_open(st, &s, err, "SELECT source FROM jobs WHERE id = ?1", "t", job_id);
        if (rc == 0 && (rc = q_step(st, s, err)) >= 0) {
            const unsigned char *src = rc == 1 ? sqlite3_column_text(s, 0) : NULL;
            store_task_failure_text(msg, STORE_MSG_MAX, idx, start, end,
                                    src ? (const char *)src : job_id, resource, n, cause);
            rc = 0;
        }
    }
    if (rc == 0)
        rc = fail_job(st, job_id, msg, t, err);
    if (rc == 0 && info)
        info->job_failed = true;
out:
    sqlite3_finalize(s);
    free(msg);
    return rc;
}

static int release_tx(sq_store *st, int64_t token, int kind, const char *cause,
                      store_release_info *info, hark_err *err)
{
    int64_t t = store_now(&st->base);
    lease l;
    int rc = find_lease(st, token, &l, err);
    if (rc)
        return rc;
    if (kind == STORE_RELEASE_FAILED || kind == STORE_RELEASE_RESOURCE) {
        rc = fail_task(st, l.job_id, l.idx, cause, kind == STORE_RELEASE_RESOURCE, t, info, err);
        return rc == 1 ? err_set(err, HARK_EIO, "lease %lld vanished", (long long)token) : rc;
    }
    rc = q_exec(st, NULL, err,
                "UPDATE tasks SET state = 'pending', lease_token = NULL, lease_owner = NULL,"
                " lease_expires_ms = NULL WHERE job_id = ?1 AND idx = ?2",
                "ti", l.job_id, l.idx);
    if (rc == 0)
        rc = q_exec(st, NULL, err,
                    "UPDATE jobs SET state = 'queued', updated_ms = ?1"
                    " WHERE id = ?2 AND state = 'running' AND NOT EXISTS"
                    " (SELECT 1 FROM tasks WHERE job_id = ?2 AND state = 'leased')",
                    "It", t, l.job_id);
    if (rc == 0)
        rc = add_event(st, l.job_id, "preempted", store_event_preempted(l.idx), t, NULL, err);
    if (rc == 0 && info) {
        int64_t a;
        rc = q_int64(st, &a, NULL, err, "SELECT attempts FROM tasks WHERE job_id = ?1 AND idx = ?2",
                     "ti", l.job_id, l.idx);
        snprintf(info->job_id, sizeof info->job_id, "%s", l.job_id);
        info->idx = l.idx;
        info->attempts = (int)a;
        info->not_before_ms = t;
    }
    return rc;
}

static int sq_release(store *base, int64_t token, int kind, const char *cause,
                      store_release_info *info, hark_err *err)
{
    sq_store *st = sq(base);
    int rc = 0;
    lock(st);
    if (kind == STORE_RELEASE_PREEMPTED) /* see DURABILITY */
        rc = relax(st, err);
    if (rc == 0)
        rc = tx_begin(st, err);
    if (rc == 0)
        rc = tx_end(st, release_tx(st, token, kind, cause, info, err), err);
    unrelax(st);
    unlock(st);
    return rc;
}

/* Collect up to max ids (or (id, idx) pairs) from a query with those columns. */
typedef struct task_ref {
    char job_id[STORE_ID_SIZE];
    int idx;
} task_ref;

static int collect(sq_store *st, sqlite3_stmt *s, task_ref **out, size_t *n, hark_err *err)
{
    size_t cap = 0;
    int rc;
    *out = NULL;
    *n = 0;
    while ((rc = q_step(st, s, err)) == 1) {
        if (*n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            task_ref *p = ncap <= 1000000 ? realloc(*out, ncap * sizeof *p) : NULL;
            if (!p) {
                rc = err_set(err, HARK_ENOMEM, "out of memory collecting tasks");
                break;
            }
            *out = p;
            cap = ncap;
        }
        copy_id((*out)[*n].job_id, s, 0);
        (*out)[*n].idx = sqlite3_column_count(s) > 1 ? sqlite3_column_int(s, 1) : 0;
        (*n)++;
    }
    if (rc) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

/* One transaction of a sweep that counts what it changed (expiry, overdue
 * jobs, recovery) in *n. */
static int counted_tx(sq_store *st, int (*fn)(sq_store *, int *, hark_err *), int *n, hark_err *err)
{
    lock(st);
    int rc = tx_begin(st, err);
    if (rc == 0)
        rc = tx_end(st, fn(st, n, err), err);
    unlock(st);
    return rc;
}

static int expire_tx(sq_store *st, int *count, hark_err *err)
{
    int64_t t = store_now(&st->base);
    sqlite3_stmt *s = NULL;
    task_ref *refs = NULL;
    size_t n = 0;
    int rc =
        q_open(st, &s, err,
               "SELECT job_id, idx FROM tasks WHERE state = 'leased' AND lease_expires_ms <= ?1"
               " ORDER BY lease_expires_ms",
               "I", t);
    if (rc == 0)
        rc = collect(st, s, &refs, &n, err);
    sqlite3_finalize(s);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        rc = fail_task(st, refs[i].job_id, refs[i].idx, "lease expired", false, t, NULL, err);
        if (rc == 0)
            (*count)++;
        else if (rc == 1) /* its job failed on an earlier task: revoked */
            rc = 0;
    }
    if (rc == 0 && *count)
        rc = bump_counter(st, "expired_leases", *count, err);
    free(refs);
    return rc;
}

static int sq_expire_leases(store *base, int *n, hark_err *err)
{
    return counted_tx(sq(base), expire_tx, n, err);
}

static int overdue_tx(sq_store *st, int *count, hark_err *err)
{
    int64_t t = store_now(&st->base);
    sqlite3_stmt *s = NULL;
    task_ref *refs = NULL;
    size_t n = 0;
    int rc = q_open(st, &s, err,
                    "SELECT id FROM jobs WHERE state IN ('queued','running') AND deadline_ms > 0"
                    " AND deadline_ms <= ?1 ORDER BY seq",
                    "I", t);
    if (rc == 0)
        rc = collect(st, s, &refs, &n, err);
    sqlite3_finalize(s);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        store_job j;
        rc = q_open(st, &s, err, "SELECT " JOB_COLS " WHERE j.id = ?1", "t", refs[i].job_id);
        if (rc == 0 && (rc = q_step(st, s, err)) == 1)
            rc = read_job(st, s, &j, err);
        else if (rc == 0)
            rc = err_set(err, HARK_EIO, "store '%s': job %s vanished", st->path, refs[i].job_id);
        sqlite3_finalize(s);
        s = NULL;
        if (rc)
            break;
        char msg[128];
        store_timeout_text(msg, sizeof msg, j.timeout_s);
        store_job_release(&j);
        rc = fail_job(st, refs[i].job_id, msg, t, err);
        if (rc == 0)
            (*count)++;
    }
    free(refs);
    return rc;
}

static int sq_fail_overdue(store *base, int *n, hark_err *err)
{
    return counted_tx(sq(base), overdue_tx, n, err);
}

static int close_input(sq_store *st, const char *id, const char *reason, int64_t t, hark_err *err);

static int recover_tx(sq_store *st, int *count, hark_err *err)
{
    int64_t t = store_now(&st->base);
    sqlite3_stmt *s = NULL;
    task_ref *refs = NULL;
    size_t n = 0;
    int rc = q_exec(st, count, err,
                    "UPDATE tasks SET state = 'pending', lease_token = NULL, lease_owner = NULL,"
                    " lease_expires_ms = NULL WHERE state = 'leased'",
                    "");
    if (rc == 0)
        rc = q_open(st, &s, err, "SELECT id FROM jobs WHERE state = 'running' ORDER BY seq", "");
    if (rc == 0)
        rc = collect(st, s, &refs, &n, err);
    sqlite3_finalize(s);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        rc =
            q_exec(st, NULL, err, "UPDATE jobs SET state = 'queued', updated_ms = ?1 WHERE id = ?2",
                   "It", t, refs[i].job_id);
        if (rc == 0)
            rc = add_event(st, refs[i].job_id, "preempted", store_event_restarted(), t, NULL, err);
    }
    free(refs);
    refs = NULL;
    n = 0;
    /* A live client's stream did not survive the daemon: its audio so far
     * is transcribed, and its next append is refused (store.h). */
    if (rc == 0)
        rc = q_open(st, &s, err, "SELECT id FROM jobs WHERE input_open = 1 ORDER BY seq", "");
    if (rc == 0)
        rc = collect(st, s, &refs, &n, err);
    sqlite3_finalize(s);
    s = NULL;
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = close_input(st, refs[i].job_id, "restart", t, err);
    if (rc == 0 && *count)
        rc = bump_counter(st, "recovered_tasks", *count, err);
    /* A sender that held a delivery died with the process: free it now,
     * the attempt in flight uncounted (store.h, "webhooks"). */
    if (rc == 0)
        rc = q_exec(st, NULL, err,
                    "UPDATE webhooks SET claimed_until_ms = 0 WHERE state = 'pending'"
                    " AND claimed_until_ms > 0",
                    "");
    free(refs);
    return rc;
}

static int sq_recover(store *base, int *n, hark_err *err)
{
    return counted_tx(sq(base), recover_tx, n, err);
}

/* ---- job control -------------------------------------------------------------- */

static int control_tx(sq_store *st, store_scope sc, const char *id, enum store_ctl op,
                      const char *message, hark_err *err)
{
    int64_t t = store_now(&st->base);
    int state, rc = job_state(st, sc, id, &state, err);
    if (rc == 0)
        rc = store_ctl_check(op, state, id, err);
    if (rc)
        return rc;
    switch (op) {
    case STORE_CTL_PAUSE: {
        int revoked = 0;
        rc = revoke_job_leases(st, id, &revoked, err);
        if (rc == 0)
            rc = q_exec(st, NULL, err,
                        "UPDATE jobs SET state = 'paused', updated_ms = ?1 WHERE id = ?2", "It", t,
                        id);
        if (rc == 0)
            rc = add_event(st, id, "paused", store_event_paused(revoked), t, NULL, err);
        return rc;
    }
    case STORE_CTL_RESUME:
        rc = q_exec(st, NULL, err,
                    "UPDATE jobs SET state = 'queued', updated_ms = ?1 WHERE id = ?2", "It", t, id);
        if (rc == 0)
            rc = add_event(st, id, "resumed", NULL, t, NULL, err);
        return rc;
    case STORE_CTL_CANCEL:
        return finish_job(st, id, STORE_CANCELLED, NULL, NULL, t, err);
    case STORE_CTL_FAIL:
        return fail_job(st, id, message, t, err);
    case STORE_CTL_SUCCEED: {
        int64_t done, total, prepared;
        rc = q_int64(st, &prepared, NULL, err, "SELECT prepared FROM jobs WHERE id = ?1", "t", id);
        if (rc == 0)
            rc = q_int64(st, &done, NULL, err, "SELECT chunks_done FROM jobs WHERE id = ?1", "t",
                         id);
        if (rc == 0)
            rc = q_int64(st, &total, NULL, err, "SELECT n_chunks FROM jobs WHERE id = ?1", "t", id);
        if (rc == 0)
            rc = store_finish_check(id, prepared != 0, done, total, err);
        if (rc)
            return rc;
        return finish_job(st, id, STORE_SUCCEEDED, NULL, store_event_succeeded(total), t, err);
    }
    case STORE_CTL_DELETE:
        return q_exec(st, NULL, err, "DELETE FROM jobs WHERE id = ?1", "t", id);
    }
    return HARK_EINVAL;
}

static int sq_control(store *base, store_scope sc, const char *id, enum store_ctl op,
                      const char *message, hark_err *err)
{
    sq_store *st = sq(base);
    int rc = 0;
    lock(st);
    if (op == STORE_CTL_SUCCEED) /* see DURABILITY */
        rc = relax(st, err);
    if (rc == 0)
        rc = tx_begin(st, err);
    if (rc == 0)
        rc = tx_end(st, control_tx(st, sc, id, op, message, err), err);
    unrelax(st);
    unlock(st);
    return rc;
}

/* failed -> queued with its committed chunks (store.h). */
static int retry_tx(sq_store *st, store_scope sc, const char *id, int max_active, hark_err *err)
{
    int64_t t = store_now(&st->base), prio;
    int state, rc = job_state(st, sc, id, &state, err);
    if (rc == 0)
        rc = store_retry_check(state, id, err);
    if (rc)
        return rc;
    rc = q_int64(st, &prio, NULL, err, "SELECT priority FROM jobs WHERE id = ?1", "t", id);
    if (rc == 0 && max_active > 0) {
        int64_t active = 0;
        rc = q_int64(st, &active, NULL, err,
                     "SELECT count(*) FROM jobs WHERE priority = ?1"
                     " AND state IN ('queued', 'running', 'paused')",
                     "i", (int)prio);
        if (rc == 0 && (rc = store_admit_check((int)prio, active, max_active, err)))
            return rc;
    }
    if (rc)
        return rc;
    /* The failed job holds no lease (finish_job revoked them): every task
     * that is not done is pending, and gets a fresh set of attempts. */
    rc = q_exec(st, NULL, err,
                "UPDATE tasks SET attempts = 0, not_before_ms = 0, last_error = ''"
                " WHERE job_id = ?1 AND state != 'done'",
                "t", id);
    sqlite3_stmt *s = NULL;
    if (rc == 0)
        rc = q_open(st, &s, err, "SELECT error, chunks_done, timeout_s FROM jobs WHERE id = ?1",
                    "t", id);
    if (rc == 0 && (rc = q_step(st, s, err)) == 1) {
        json_t *data =
            store_event_retried((const char *)sqlite3_column_text(s, 0), sqlite3_column_int(s, 1));
        int64_t deadline = store_deadline_ms(t, sqlite3_column_double(s, 2));
        sqlite3_finalize(s);
        s = NULL;
        rc = q_exec(st, NULL, err,
                    "UPDATE jobs SET state = 'queued', error = '', finished_ms = NULL,"
                    " result_ready = 0, updated_ms = ?1, deadline_ms = ?3 WHERE id = ?2",
                    "ItI", t, id, deadline);
        if (rc == 0)
            rc = add_event(st, id, "retried", data, t, NULL, err);
        else
            json_decref(data);
    } else if (rc == 0) {
        rc = err_set(err, HARK_EIO, "store '%s': job %s vanished", st->path, id);
    }
    sqlite3_finalize(s);
    return rc;
}

static int sq_retry(store *base, store_scope sc, const char *id, int max_active, hark_err *err)
{
    sq_store *st = sq(base);
    int rc;
    lock(st);
    rc = tx_begin(st, err);
    if (rc == 0)
        rc = tx_end(st, retry_tx(st, sc, id, max_active, err), err);
    unlock(st);
    return rc;
}

/* ---- retention -------------------------------------------------------------------- */

/* Read every row of s (JOB_COLS) into out, at most limit. */
static int collect_jobs(sq_store *st, sqlite3_stmt *s, int limit, store_job_list *out,
                        hark_err *err)
{
    int rc;
    while ((rc = q_step(st, s, err)) == 1 && out->n < (size_t)limit) {
        rc = read_job(st, s, &out->jobs[out->n], err);
        if (rc)
            break;
        out->n++;
    }
    return rc;
}

static int sq_list_unreleased(store *base, int limit, store_job_list *out, hark_err *err)
{
    sq_store *st = sq(base);
    sqlite3_stmt *s = NULL;
    if (!(out->jobs = calloc((size_t)limit, sizeof *out->jobs)))
        return err_set(err, HARK_ENOMEM, "out of memory listing jobs");
    lock(st);
    /* Through the partial index (its terms as written there): the planner
     * would rather visit every ended job by state. */
    int rc =
        q_open(st, &s, err,
               "SELECT " JOB_COLS_FROM(
                   "jobs j INDEXED BY jobs_unreleased") " WHERE j.input_released = 0"
                                                        " AND j.state IN ('succeeded','cancelled') "
                                                        "ORDER BY j.finished_ms, j.seq"
                                                        " LIMIT ?1",
               "i", limit);
    if (rc == 0)
        rc = collect_jobs(st, s, limit, out, err);
    sqlite3_finalize(s);
    unlock(st);
    if (rc)
        store_job_list_release(out);
    return rc;
}

static int mark_released_tx(sq_store *st, const char *const *ids, size_t n, hark_err *err)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = q_exec(st, NULL, err,
                    "UPDATE jobs SET input_released = 1 WHERE id = ?1"
                    " AND state IN ('succeeded','cancelled')",
                    "t", ids[i]);
    return rc;
}

static int sq_mark_released(store *base, const char *const *ids, size_t n, hark_err *err)
{
    sq_store *st = sq(base);
    int rc;
    lock(st);
    rc = relax(st, err); /* see DURABILITY: a lost mark releases again */
    if (rc == 0)
        rc = tx_begin(st, err);
    if (rc == 0)
        rc = tx_end(st, mark_released_tx(st, ids, n, err), err);
    unrelax(st);
    unlock(st);
    return rc;
}

static int prune_tx(sq_store *st, int64_t age_ms, int limit, store_job_list *out, hark_err *err)
{
    sqlite3_stmt *s = NULL;
    int64_t before = store_now(&st->base) - age_ms;
    int rc = q_open(st, &s, err,
                    "SELECT " JOB_COLS_FROM(
                        "jobs j INDEXED BY jobs_ended") " WHERE j.finished_ms IS NOT NULL"
                                                        " AND j.finished_ms <= ?1 AND j.state IN "
                                                        "('succeeded','failed','cancelled')"
                                                        " ORDER BY j.finished_ms, j.seq LIMIT ?2",
                    "Ii", before, limit);
    if (rc == 0)
        rc = collect_jobs(st, s, limit, out, err);
    sqlite3_finalize(s);
    /* Tasks, events and webhook deliveries go with it (ON DELETE CASCADE). */
    for (size_t i = 0; rc == 0 && i < out->n; i++)
        rc = q_exec(st, NULL, err, "DELETE FROM jobs WHERE id = ?1", "t", out->jobs[i].id);
    return rc;
}

static int sq_prune(store *base, int64_t age_ms, int limit, store_job_list *out, hark_err *err)
{
    sq_store *st = sq(base);
    if (!(out->jobs = calloc((size_t)limit, sizeof *out->jobs)))
        return err_set(err, HARK_ENOMEM, "out of memory pruning jobs");
    lock(st);
    int rc = tx_begin(st, err);
    if (rc == 0)
        rc = tx_end(st, prune_tx(st, age_ms, limit, out, err), err);
    unlock(st);
    if (rc)
        store_job_list_release(out);
    return rc;
}

/* ---- chunks and events -------------------------------------------------------- */

static int sq_list_chunks_from(store *base, store_scope sc, const char *id, int from_idx, int limit,
                               store_chunk_list *out, hark_err *err)
{
    sq_store *st = sq(base);
    sqlite3_stmt *s = NULL;
    int64_t n_chunks = 0;
    bool found = false;
    int rc;
    lock(st);
    rc = exec_plain(st, "BEGIN", err);
    if (rc)
        goto unlock;
    /* The scope's gate, in the snapshot the chunks are read from. */
    rc = q_int64(st, &n_chunks, &found, err,
                 "SELECT n_chunks FROM jobs WHERE id = ?1 AND (?2 IS NULL OR owner = ?2)", "tt", id,
                 scope_owner(sc));
    if (rc == 0 && !found)
        rc = err_set(err, HARK_ENOENT, "no job '%s'", id);
    if (n_chunks > from_idx)
        n_chunks -= from_idx;
    else
        n_chunks = 0;
    if (n_chunks > limit)
        n_chunks = limit;
    if (rc == 0 && n_chunks > 0 && !(out->chunks = calloc((size_t)n_chunks, sizeof *out->chunks)))
        rc = err_set(err, HARK_ENOMEM, "out of memory listing chunks of %s", id);
    if (rc == 0)
        rc = q_open(st, &s, err,
                    "SELECT idx, start_sample, end_sample, state, attempts, last_error,"
                    " COALESCE(result, ''), decode_s FROM tasks WHERE job_id = ?1 AND idx >= ?2"
                    " ORDER BY idx LIMIT ?3",
                    "tii", id, from_idx, limit);
    while (rc == 0 && (rc = q_step(st, s, err)) == 1) {
        if (out->n == (size_t)n_chunks) { /* LIMIT keeps within it, unless damaged */
            rc = err_set(err, HARK_EIO, "store '%s': job %s has more chunks than n_chunks",
                         st->path, id);
            break;
        }
        store_chunk *c = &out->chunks[out->n++];
        c->idx = sqlite3_column_int(s, 0);
        c->start_sample = sqlite3_column_int64(s, 1);
        c->end_sample = sqlite3_column_int64(s, 2);
        c->state = store_chunk_state_of_name((const char *)sqlite3_column_text(s, 3));
        c->attempts = sqlite3_column_int(s, 4);
        c->last_error = dup_col(s, 5);
        c->result = dup_col(s, 6);
        c->decode_s = sqlite3_column_double(s, 7);
        if (!c->last_error || !c->result)
            rc = err_set(err, HARK_ENOMEM, "out of memory listing chunks of %s", id);
        else
            rc = 0;
    }
    sqlite3_finalize(s);
    sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
unlock:
    unlock(st);
    if (rc)
        store_chunk_list_release(out);
    return rc;
}

/* ---- live inputs ----------------------------------------------------------- */

static int close_input(sq_store *st, const char *id, const char *reason, int64_t t, hark_err *err)
{
    int64_t bytes = 0;
    int rc = q_int64(st, &bytes, NULL, err,
                     "UPDATE jobs SET input_open = 0, updated_ms = ?1 WHERE id = ?2"
                     " RETURNING input_bytes",
                     "It", t, id);
    if (rc == 0)
        rc = add_event(st, id, "input_ended", store_event_input_ended(reason, bytes), t, NULL, err);
    return rc;
}

static int input_append_tx(sq_store *st, store_scope sc, const char *id, int64_t bytes,
                           hark_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = q_open(st, &s, err,
                    "SELECT state, input_open, input_bytes FROM jobs WHERE id = ?1"
                    " AND (?2 IS NULL OR owner = ?2)",
                    "tt", id, scope_owner(sc));
    if (rc == 0 && (rc = q_step(st, s, err)) == 0)
        rc = err_set(err, HARK_ENOENT, "no job '%s'", id);
    if (rc < 0)
        goto out;
    int state = store_state_of_name((const char *)sqlite3_column_text(s, 0));
    bool open = sqlite3_column_int(s, 1) != 0;
    int64_t had = sqlite3_column_int64(s, 2);
    sqlite3_finalize(s);
    s = NULL;
    rc = store_append_check(id, state, open, had, bytes, err);
    if (rc == 0)
        rc = q_exec(st, NULL, err,
                    "UPDATE jobs SET input_bytes = ?1, input_at_ms = ?2 WHERE id = ?3", "IIt",
                    bytes, store_now(&st->base), id);
out:
    sqlite3_finalize(s);
    return rc;
}

static int sq_input_append(store *base, store_scope sc, const char *id, int64_t bytes,
                           hark_err *err)
{
    sq_store *st = sq(base);
    int rc;
    lock(st);
    rc = relax(st, err);
    if (rc == 0)
        rc = tx_begin(st, err);
    if (rc == 0)
        rc = tx_end(st, input_append_tx(st, sc, id, bytes, err), err);
    unrelax(st);
    unlock(st);
    return rc;
}

static int input_close_tx(sq_store *st, store_scope sc, const char *id, const char *reason,
                          bool *was_open, hark_err *err)
{
    int64_t open = 0;
    bool found = false;
    int rc = q_int64(st, &open, &found, err,
                     "SELECT input_open FROM jobs WHERE id = ?1 AND (?2 IS NULL OR owner = ?2)",
                     "tt", id, scope_owner(sc));
    if (rc == 0 && !found)
        rc = err_set(err, HARK_ENOENT, "no job '%s'", id);
    if (rc == 0 && open)
        rc = close_input(st, id, reason, store_now(&st->base), err);
    if (rc == 0 && was_open)
        *was_open = open != 0;
    return rc;
}

static int sq_input_close(store *base, store_scope sc, const char *id, const char *reason,
                          bool *was_open, hark_err *err)
{
    sq_store *st = sq(base);
    int rc;
    lock(st);
    /* Relaxed: closing loses nothing a power cut could take back (recovery
     * closes every open input), and a push-to-talk release waits on it. */
    rc = relax(st, err);
    if (rc == 0)
        rc = tx_begin(st, err);
    if (rc == 0)
        rc = tx_end(st, input_close_tx(st, sc, id, reason, was_open, err), err);
    unrelax(st);
    unlock(st);
    return rc;
}

static int sq_list_open_inputs(store *base, int limit, store_job_list *out, hark_err *err)
{
    sq_store *st = sq(base);
    if (!(out->jobs = calloc((size_t)limit, sizeof *out->jobs)))
        return err_set(err, HARK_ENOMEM, "out of memory listing jobs");
    sqlite3_stmt *s = NULL;
    lock(st);
    int rc = q_open(st, &s, err,
                    "SELECT " JOB_COLS_FROM(
                        "jobs j INDEXED BY jobs_open_input") " WHERE j.input_open = 1 ORDER BY "
                                                             "j.input_at_ms LIMIT ?1",
                    "i", limit);
    if (rc == 0)
        rc = collect_jobs(st, s, limit, out, err);
    sqlite3_finalize(s);
    unlock(st);
    if (rc)
        store_job_list_release(out);
    return rc;
}

static int add_delta(sq_store *st, const char *id, const char *delta, int64_t t, hark_err *err)
{
    if (!delta || !delta[0])
        return 0;
    json_t *d = store_event_delta(delta);
    if (!d)
        return err_set(err, HARK_EINVAL, "live text of job %s is not UTF-8", id);
    return add_event(st, id, "transcript.text.delta", d, t, NULL, err);
}

static int commit_live_chunk_tx(sq_store *st, int64_t token, int64_t start, int64_t end,
                                const char *result, const char *delta, double decode_s,
                                store_commit_info *info, hark_err *err)
{
    int64_t t = store_now(&st->base);
    lease l;
    int rc = find_live_lease(st, token, t, &l, err);
    if (rc == HARK_ESTALE)
        return refuse(st, "refused_commits", err);
    if (rc)
        return rc;
    if (l.idx >= 0)
        return err_set(err, HARK_EINVAL, "token %lld is a chunk lease, not a live session's",
                       (long long)token);
    int64_t last_end = 0, n = 0;
    rc = q_int64(st, &last_end, NULL, err,
                 "SELECT COALESCE(MAX(end_sample), 0) FROM tasks WHERE job_id = ?1 AND idx >= 0",
                 "t", l.job_id);
    if (rc == 0)
        rc = q_int64(st, &n, NULL, err, "SELECT n_chunks FROM jobs WHERE id = ?1", "t", l.job_id);
    if (rc)
        return rc;
    if (start < last_end)
        return err_set(err, HARK_EINVAL,
                       "live chunk %lld-%lld of job %s overlaps the chunk before (to %lld)",
                       (long long)start, (long long)end, l.job_id, (long long)last_end);
    if (n >= STORE_MAX_CHUNKS)
        return err_set(err, HARK_EINVAL, "job %s has %d chunks, the most a job may have", l.job_id,
                       STORE_MAX_CHUNKS);
    rc = q_exec(st, NULL, err,
                "INSERT INTO tasks(job_id, idx, start_sample, end_sample, state, result, decode_s)"
                " VALUES (?1, ?2, ?3, ?4, 'done', ?5, ?6)",
                "tIIItd", l.job_id, n, start, end, result, decode_s);
    if (rc == 0)
        rc = q_exec(st, NULL, err,
                    "UPDATE jobs SET n_chunks = n_chunks + 1, chunks_done = chunks_done + 1,"
                    " updated_ms = ?1 WHERE id = ?2",
                    "It", t, l.job_id);
    if (rc == 0)
        rc = add_event(st, l.job_id, "chunk_committed",
                       store_event_live_chunk_committed((int)n, (int)n + 1, (int)n + 1), t, NULL,
                       err);
    if (rc == 0)
        rc = add_delta(st, l.job_id, delta, t, err);
    if (rc == 0 && info) {
        snprintf(info->job_id, sizeof info->job_id, "%s", l.job_id);
        info->idx = (int)n;
        info->chunks_done = info->n_chunks = (int)n + 1;
        info->job_complete = false;
    }
    return rc;
}

static int sq_commit_live_chunk(store *base, int64_t token, int64_t start, int64_t end,
                                const char *result, const char *delta, double decode_s,
                                store_commit_info *info, hark_err *err)
{
    sq_store *st = sq(base);
    int rc;
    lock(st);
    rc = relax(st, err);
    if (rc == 0)
        rc = tx_begin(st, err);
    if (rc == 0)
        rc = tx_end(st,
                    commit_live_chunk_tx(st, token, start, end, result, delta, decode_s, info, err),
                    err);
    unrelax(st);
    unlock(st);
    return rc;
}

static int live_partial_tx(sq_store *st, int64_t token, json_t *data, const char *delta,
                           hark_err *err)
{
    int64_t t = store_now(&st->base);
    lease l;
    int rc = find_live_lease(st, token, t, &l, err);
    if (rc == 0 && l.idx >= 0)
        rc = err_set(err, HARK_ESTALE, "token %lld is a chunk lease, not a live session's",
                     (long long)token);
    if (rc) {
        json_decref(data);
        return rc;
    }
    rc = add_event(st, l.job_id, "transcript.partial", data, t, NULL, err);
    if (rc == 0)
        rc = add_delta(st, l.job_id, delta, t, err);
    return rc;
}

static int sq_live_partial(store *base, int64_t token, json_t *obj, const char *delta,
                           hark_err *err)
{
    sq_store *st = sq(base);
    int rc;
    lock(st);
    rc = relax(st, err);
    if (rc == 0)
        rc = tx_begin(st, err);
    if (rc == 0)
        rc = tx_end(st, live_partial_tx(st, token, obj, delta, err), err);
    else
        json_decref(obj);
    unrelax(st);
    unlock(st);
    return rc;
}

static int finish_live_tx(sq_store *st, int64_t token, double duration_s, store_commit_info *info,
                          hark_err *err)
{
    int64_t t = store_now(&st->base);
    lease l;
    int rc = find_live_lease(st, token, t, &l, err);
    if (rc == HARK_ESTALE)
        return refuse(st, "refused_commits", err);
    if (rc)
        return rc;
    if (l.idx >= 0)
        return err_set(err, HARK_EINVAL, "token %lld is a chunk lease, not a live session's",
                       (long long)token);
    rc = q_exec(st, NULL, err,
                "UPDATE tasks SET state = 'done', lease_token = NULL, lease_owner = NULL,"
                " lease_expires_ms = NULL WHERE job_id = ?1 AND idx = -1",
                "t", l.job_id);
    sqlite3_stmt *s = NULL;
    if (rc == 0)
        rc = q_open(st, &s, err,
                    "UPDATE jobs SET prepared = 1, duration_s = ?1, updated_ms = ?2,"
                    " input_open = 0 WHERE id = ?3 RETURNING chunks_done, n_chunks",
                    "dIt", duration_s, t, l.job_id);
    if (rc == 0 && (rc = q_step(st, s, err)) == 0)
        rc = err_set(err, HARK_EIO, "store '%s': job %s vanished", st->path, l.job_id);
    if (rc < 0) {
        sqlite3_finalize(s);
        return rc;
    }
    int done = sqlite3_column_int(s, 0), n = sqlite3_column_int(s, 1);
    while ((rc = q_step(st, s, err)) == 1)
        ;
    sqlite3_finalize(s);
    if (rc == 0)
        rc = add_event(st, l.job_id, "progress", store_event_prepared(n, duration_s, done), t, NULL,
                       err);
    if (rc == 0 && info) {
        snprintf(info->job_id, sizeof info->job_id, "%s", l.job_id);
        info->idx = -1;
        info->chunks_done = done;
        info->n_chunks = n;
        info->job_complete = done == n;
    }
    return rc;
}

static int sq_finish_live(store *base, int64_t token, double duration_s, store_commit_info *info,
                          hark_err *err)
{
    sq_store *st = sq(base);
    int rc;
    lock(st);
    rc = relax(st, err);
    if (rc == 0)
        rc = tx_begin(st, err);
    if (rc == 0)
        rc = tx_end(st, finish_live_tx(st, token, duration_s, info, err), err);
    unrelax(st);
    unlock(st);
    return rc;
}

/* ---- stages and the chunk cache ------------------------------------------------ */

static int add_stage_tx(sq_store *st, const char *id, const char *doc, const store_span *spans,
                        size_t n, hark_err *err)
{
    int64_t t = store_now(&st->base);
    sqlite3_stmt *s = NULL;
    int rc =
        q_open(st, &s, err, "SELECT state, prepared, n_chunks, chunks_done FROM jobs WHERE id = ?1",
               "t", id);
    if (rc == 0 && (rc = q_step(st, s, err)) == 0)
        rc = err_set(err, HARK_ENOENT, "no job '%s'", id);
    if (rc < 0) {
        sqlite3_finalize(s);
        return rc;
    }
    int state = store_state_of_name((const char *)sqlite3_column_text(s, 0));
    bool prepared = sqlite3_column_int(s, 1) != 0;
    int n_chunks = sqlite3_column_int(s, 2), done = sqlite3_column_int(s, 3);
    sqlite3_finalize(s);
    s = NULL;
    if ((rc = store_stage_check(id, state, prepared, done, n_chunks, n, err)))
        return rc;
    rc = q_open(st, &s, err,
                "INSERT INTO tasks(job_id, idx, start_sample, end_sample, state)"
                " VALUES (?1, ?2, ?3, ?4, 'pending')",
                "t", id);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        sqlite3_reset(s);
        if (sqlite3_bind_int(s, 2, n_chunks + (int)i) != SQLITE_OK ||
            sqlite3_bind_int64(s, 3, spans[i].start_sample) != SQLITE_OK ||
            sqlite3_bind_int64(s, 4, spans[i].end_sample) != SQLITE_OK)
            rc = db_error(st, SQLITE_ERROR, "bind", err);
        else if ((rc = q_step(st, s, err)) > 0)
            rc = 0;
    }
    sqlite3_finalize(s);
    if (rc == 0)
        rc = q_exec(st, NULL, err,
                    "UPDATE jobs SET n_chunks = n_chunks + ?1, doc = ?2, updated_ms = ?3"
                    " WHERE id = ?4",
                    "itIt", (int)n, doc, t, id);
    if (rc == 0)
        rc = add_event(st, id, "stage", store_event_stage((int)n, n_chunks + (int)n, done), t, NULL,
                       err);
    return rc;
}

static int sq_add_stage(store *base, const char *id, const char *doc, const store_span *spans,
                        size_t n, hark_err *err)
{
    sq_store *st = sq(base);
    int rc;
    lock(st);
    rc = tx_begin(st, err);
    if (rc == 0)
        rc = tx_end(st, add_stage_tx(st, id, doc, spans, n, err), err);
    unlock(st);
    return rc;
}

static int sq_find_cached_chunks(store *base, const char *content_key, const char *except_id,
                                 int64_t start_sample, int64_t end_sample, store_chunk_list *out,
                                 hark_err *err)
{
    enum { MAX_MATCHES = 8 };
    sq_store *st = sq(base);
    sqlite3_stmt *s = NULL;
    int rc;
    if (!(out->chunks = calloc(MAX_MATCHES, sizeof *out->chunks)))
        return err_set(err, HARK_ENOMEM, "out of memory");
    lock(st);
    rc = q_open(st, &s, err,
                "SELECT c.idx, c.start_sample, c.end_sample, c.attempts, c.result, c.decode_s"
                " FROM jobs j JOIN tasks c ON c.job_id = j.id"
                /* content_key != '': the partial index jobs_content's term */
                " WHERE j.content_key = ?1 AND j.content_key != '' AND j.id != ?2 AND c.idx >= 0"
                " AND c.start_sample = ?3 AND c.end_sample = ?4 AND c.state = 'done'"
                " ORDER BY j.seq LIMIT ?5",
                "ttIIi", content_key, except_id, start_sample, end_sample, (int)MAX_MATCHES);
    while (rc == 0 && (rc = q_step(st, s, err)) == 1) {
        store_chunk *c = &out->chunks[out->n++];
        c->idx = sqlite3_column_int(s, 0);
        c->start_sample = sqlite3_column_int64(s, 1);
        c->end_sample = sqlite3_column_int64(s, 2);
        c->state = STORE_CHUNK_DONE;
        c->attempts = sqlite3_column_int(s, 3);
        c->last_error = strdup("");
        c->result = dup_col(s, 4);
        c->decode_s = sqlite3_column_double(s, 5);
        rc = c->last_error && c->result ? 0 : err_set(err, HARK_ENOMEM, "out of memory");
    }
    sqlite3_finalize(s);
    unlock(st);
    if (rc)
        store_chunk_list_release(out);
    return rc;
}

static int sq_last_event_id(store *base, store_scope sc, const char *id, const char *type,
                            int64_t *event_id, hark_err *err)
{
    sq_store *st = sq(base);
    int rc;
    lock(st);
    rc = q_int64(st, event_id, NULL, err,
                 "SELECT COALESCE(MAX(e.id), 0) FROM events e JOIN jobs j ON j.id = e.job_id"
                 " WHERE e.job_id = ?1 AND e.type = ?2 AND (?3 IS NULL OR j.owner = ?3)",
                 "ttt", id, type, scope_owner(sc));
    unlock(st);
    return rc;
}

/* Every row (id, job_id, type, data, time_ms) of s appended to out, whose
 * events array has room for them. */
static int read_events(sq_store *st, sqlite3_stmt *s, store_event_list *out, hark_err *err)
{
    int rc;
    while ((rc = q_step(st, s, err)) == 1) {
        store_event *e = &out->events[out->n++];
        e->id = sqlite3_column_int64(s, 0);
        copy_id(e->job_id, s, 1);
        e->type = dup_col(s, 2);
        e->data = dup_col(s, 3);
        e->time_ms = sqlite3_column_int64(s, 4);
        if (!e->type || !e->data)
            return err_set(err, HARK_ENOMEM, "out of memory listing events");
    }
    return rc;
}

static int sq_list_events(store *base, store_scope sc, const char *id, int64_t after_id, int limit,
                          store_event_list *out, hark_err *err)
{
    sq_store *st = sq(base);
    sqlite3_stmt *s = NULL;
    int state, rc;
    out->events = calloc((size_t)limit, sizeof *out->events);
    if (!out->events)
        return err_set(err, HARK_ENOMEM, "out of memory listing events");
    lock(st);
    rc = exec_plain(st, "BEGIN", err); /* one snapshot: the scope's gate, then the events */
    if (rc)
        goto unlock;
    rc = job_state(st, sc, id, &state, err);
    if (rc == 0)
        rc = q_open(st, &s, err,
                    "SELECT id, job_id, type, data, time_ms FROM events WHERE job_id = ?1"
                    " AND id > ?2 ORDER BY id LIMIT ?3",
                    "tIi", id, after_id, limit);
    if (rc == 0)
        rc = read_events(st, s, out, err);
    sqlite3_finalize(s);
    sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
unlock:
    unlock(st);
    if (rc)
        store_event_list_release(out);
    return rc;
}

static int sq_latest_event_id(store *base, int64_t *event_id, hark_err *err)
{
    sq_store *st = sq(base);
    lock(st);
    int rc = q_int64(st, event_id, NULL, err, "SELECT COALESCE(MAX(id), 0) FROM events", "");
    unlock(st);
    return rc;
}

static int sq_list_events_since(store *base, store_scope sc, int64_t after_id, int limit,
                                store_event_list *out, hark_err *err)
{
    sq_store *st = sq(base);
    sqlite3_stmt *s = NULL;
    int rc;
    out->events = calloc((size_t)limit, sizeof *out->events);
    if (!out->events)
        return err_set(err, HARK_ENOMEM, "out of memory listing events");
    lock(st);
    /* By the events' primary key; the owner through the job's row. */
    rc = q_open(st, &s, err,
                "SELECT e.id, e.job_id, e.type, e.data, e.time_ms FROM events e"
                " JOIN jobs j ON j.id = e.job_id WHERE e.id > ?1"
                " AND (?2 IS NULL OR j.owner = ?2) ORDER BY e.id LIMIT ?3",
                "Iti", after_id, scope_owner(sc), limit);
    if (rc == 0)
        rc = read_events(st, s, out, err);
    sqlite3_finalize(s);
    unlock(st);
    if (rc)
        store_event_list_release(out);
    return rc;
}

static int add_event_tx(sq_store *st, store_scope sc, const char *id, const char *type,
                        json_t *data, int64_t *event_id, hark_err *err)
{
    int state, rc = job_state(st, sc, id, &state, err);
    if (rc) {
        json_decref(data);
        return rc;
    }
    return add_event(st, id, type, data, store_now(&st->base), event_id, err);
}

static int sq_add_event(store *base, store_scope sc, const char *id, const char *type, json_t *obj,
                        int64_t *event_id, hark_err *err)
{
    sq_store *st = sq(base);
    int rc;
    lock(st);
    rc = tx_begin(st, err);
    if (rc == 0)
        rc = tx_end(st, add_event_tx(st, sc, id, type, obj, event_id, err), err);
    else
        json_decref(obj);
    unlock(st);
    return rc;
}

/* ---- webhooks ------------------------------------------------------------------ */

/* Inside finish_job's transaction: if job id has a callback URL, insert its
 * delivery, due now. */
static int enqueue_webhook(sq_store *st, const char *id, int64_t t, hark_err *err)
{
    sqlite3_stmt *s = NULL;
    store_job j;
    char *body = NULL;
    int rc = q_open(st, &s, err, "SELECT " JOB_COLS " WHERE j.id = ?1", "t", id);
    if (rc == 0 && (rc = q_step(st, s, err)) == 0)
        rc = err_set(err, HARK_EIO, "store '%s': job %s vanished", st->path, id);
    if (rc == 1)
        rc = read_job(st, s, &j, err);
    sqlite3_finalize(s);
    if (rc)
        return rc;
    if (j.callback_url[0]) {
        char event[STORE_WEBHOOK_EVENT_SIZE];
        store_webhook_event(j.state, event);
        body = store_webhook_body(&j, event);
        rc = body ? q_exec(st, NULL, err,
                           "INSERT INTO webhooks(job_id, url, event, body, next_at_ms, created_ms,"
                           " updated_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?5)",
                           "ttttI", id, j.callback_url, event, body, t)
                  : err_set(err, HARK_ENOMEM, "out of memory composing the webhook of job %s", id);
    }
    free(body);
    store_job_release(&j);
    return rc;
}

#define WEBHOOK_COLS                                                                               \
    "id, job_id, url, event, body, state, attempts, last_status, last_error, created_ms,"          \
    " next_at_ms, COALESCE(delivered_ms, 0)"

/* Append every row of s (WEBHOOK_COLS) to out. */
static int collect_webhooks(sq_store *st, sqlite3_stmt *s, store_webhook_list *out, hark_err *err)
{
    size_t cap = out->n;
    int rc;
    while ((rc = q_step(st, s, err)) == 1) {
        if (out->n == cap) {
            size_t ncap = cap ? cap * 2 : 4;
            store_webhook *p = ncap <= 1000000 ? realloc(out->items, ncap * sizeof *p) : NULL;
            if (!p) {
                rc = err_set(err, HARK_ENOMEM, "out of memory listing webhook deliveries");
                break;
            }
            out->items = p;
            cap = ncap;
        }
        store_webhook *w = &out->items[out->n++];
        memset(w, 0, sizeof *w);
        w->id = sqlite3_column_int64(s, 0);
        copy_id(w->job_id, s, 1);
        w->url = dup_col(s, 2);
        w->event = dup_col(s, 3);
        w->body = dup_col(s, 4);
        w->state = store_webhook_state_of_name((const char *)sqlite3_column_text(s, 5));
        w->attempts = sqlite3_column_int(s, 6);
        w->last_status = sqlite3_column_int(s, 7);
        w->last_error = dup_col(s, 8);
        w->created_ms = sqlite3_column_int64(s, 9);
        w->next_at_ms = sqlite3_column_int64(s, 10);
        w->delivered_ms = sqlite3_column_int64(s, 11);
        if (!w->url || !w->event || !w->body || !w->last_error) {
            rc = err_set(err, HARK_ENOMEM, "out of memory listing webhook deliveries");
            break;
        }
    }
    return rc;
}

/* The claimable deliveries: ?1 now. */
#define SQL_WEBHOOK_DUE                                                                            \
    " FROM webhooks WHERE state = 'pending' AND next_at_ms <= ?1 AND claimed_until_ms <= ?1"

static int claim_webhooks_tx(sq_store *st, int max, int64_t t, int64_t lease_ms,
                             store_webhook_list *out, hark_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = q_open(st, &s, err,
                    "UPDATE webhooks SET claimed_until_ms = ?2, updated_ms = ?1 WHERE id IN"
                    " (SELECT id" SQL_WEBHOOK_DUE " ORDER BY next_at_ms, id LIMIT ?3)"
                    " RETURNING " WEBHOOK_COLS,
                    "IIi", t, t + lease_ms, max);
    if (rc == 0)
        rc = collect_webhooks(st, s, out, err);
    sqlite3_finalize(s);
    return rc;
}

static int sq_claim_webhooks(store *base, int max, int64_t lease_ms, store_webhook_list *out,
                             int64_t *wait_ms, hark_err *err)
{
    sq_store *st = sq(base);
    int64_t t, due = 0, next = -1;
    bool found = false;
    int rc;
    lock(st);
    t = store_now(&st->base);
    /* Look first: senders ask after every commit, and a claim of nothing
     * must not commit (its on_commit would wake the other senders, whose
     * empty claims would wake it, and so on). */
    rc = q_int64(st, &due, &found, err, "SELECT id" SQL_WEBHOOK_DUE " LIMIT 1", "I", t);
    if (rc == 0 && found) {
        rc = relax(st, err); /* see DURABILITY */
        if (rc == 0)
            rc = tx_begin(st, err);
        if (rc == 0)
            rc = tx_end(st, claim_webhooks_tx(st, max, t, lease_ms, out, err), err);
        unrelax(st);
    }
    if (rc == 0 && wait_ms)
        rc = q_int64(st, &next, NULL, err,
                     "SELECT COALESCE(MIN(MAX(next_at_ms, claimed_until_ms)), -1) FROM webhooks"
                     " WHERE state = 'pending'",
                     "");
    unlock(st);
    if (rc)
        return rc;
    if (wait_ms)
        *wait_ms = next < 0 ? -1 : next > t ? next - t : 0;
    return 0;
}

static int record_webhook_tx(sq_store *st, int64_t id, int attempt, const store_webhook_attempt *a,
                             int *state_out, hark_err *err)
{
    int64_t t = store_now(&st->base);
    sqlite3_stmt *s = NULL;
    int state = -1, attempts = 0;
    int rc = q_open(st, &s, err, "SELECT state, attempts FROM webhooks WHERE id = ?1", "I", id);
    if (rc == 0 && (rc = q_step(st, s, err)) == 1) {
        state = store_webhook_state_of_name((const char *)sqlite3_column_text(s, 0));
        attempts = sqlite3_column_int(s, 1);
        rc = 0;
    } else if (rc == 0) {
        rc = err_set(err, HARK_ENOENT, "no webhook delivery %lld", (long long)id);
    }
    sqlite3_finalize(s);
    if (rc)
        return rc;
    if (state != STORE_WEBHOOK_PENDING || attempts != attempt - 1)
        return err_set(err, HARK_ESTALE,
                       "webhook delivery %lld: attempt %d was already recorded (%s, %d attempts)",
                       (long long)id, attempt, store_webhook_state_name(state), attempts);
    int to = store_webhook_outcome(a->state, attempt, st->base.opt.webhook_max_attempts);
    rc = q_exec(st, NULL, err,
                "UPDATE webhooks SET state = ?2, attempts = ?3, last_status = ?4, last_error = ?5,"
                " next_at_ms = CASE WHEN ?2 = 'pending' THEN ?6 + ?7 ELSE next_at_ms END,"
                " claimed_until_ms = 0, updated_ms = ?6,"
                " delivered_ms = CASE WHEN ?2 = 'delivered' THEN ?6 END WHERE id = ?1",
                "ItiitII", id, store_webhook_state_name(to), attempt, a->status,
                to == STORE_WEBHOOK_DELIVERED || !a->error ? "" : a->error, t, a->retry_delay_ms);
    if (rc == 0 && state_out)
        *state_out = to;
    return rc;
}

static int sq_record_webhook(store *base, int64_t id, int attempt, const store_webhook_attempt *a,
                             int *state_out, hark_err *err)
{
    sq_store *st = sq(base);
    int rc;
    lock(st);
    rc = relax(st, err); /* see DURABILITY */
    if (rc == 0)
        rc = tx_begin(st, err);
    if (rc == 0)
        rc = tx_end(st, record_webhook_tx(st, id, attempt, a, state_out, err), err);
    unrelax(st);
    unlock(st);
    return rc;
}

static int sq_list_webhooks(store *base, store_scope sc, const char *id, store_webhook_list *out,
                            hark_err *err)
{
    sq_store *st = sq(base);
    sqlite3_stmt *s = NULL;
    int state, rc;
    lock(st);
    rc = exec_plain(st, "BEGIN", err); /* one snapshot: the job, then its deliveries */
    if (rc)
        goto unlock;
    rc = job_state(st, sc, id, &state, err);
    if (rc == 0)
        rc = q_open(st, &s, err,
                    "SELECT " WEBHOOK_COLS " FROM webhooks WHERE job_id = ?1 ORDER BY id", "t", id);
    if (rc == 0)
        rc = collect_webhooks(st, s, out, err);
    sqlite3_finalize(s);
    sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
unlock:
    unlock(st);
    if (rc)
        store_webhook_list_release(out);
    return rc;
}

/* ---- counters and checks ---------------------------------------------------- */

static int sq_count_work(store *base, int64_t queued[4], int64_t *leased, hark_err *err)
{
    sq_store *st = sq(base);
    sqlite3_stmt *s = NULL;
    lock(st);
    int rc =
        q_open(st, &s, err,
               "SELECT priority, count(*) FROM jobs WHERE state = 'queued' GROUP BY priority", "");
    while (rc == 0 && (rc = q_step(st, s, err)) == 1) {
        int p = sqlite3_column_int(s, 0);
        if (p >= STORE_PRIO_REALTIME && p <= STORE_PRIO_LOW)
            queued[p] = sqlite3_column_int64(s, 1);
        rc = 0;
    }
    sqlite3_finalize(s);
    if (rc == 0)
        rc =
            q_int64(st, leased, NULL, err,
                    "SELECT count(*) FROM tasks INDEXED BY tasks_state WHERE state = 'leased'", "");
    unlock(st);
    return rc;
}

static int sq_get_counters(store *base, store_counters *out, hark_err *err)
{
    sq_store *st = sq(base);
    sqlite3_stmt *s = NULL;
    int rc;
    lock(st);
    rc = q_open(st, &s, err, "SELECT key, value FROM meta", "");
    while (rc == 0 && (rc = q_step(st, s, err)) == 1) {
        store_counters_set(out, (const char *)sqlite3_column_text(s, 0),
                           sqlite3_column_int64(s, 1));
        rc = 0;
    }
    sqlite3_finalize(s);
    unlock(st);
    return rc;
}

static int sq_check(store *base, hark_err *err)
{
    sq_store *st = sq(base);
    static const struct {
        const char *what, *sql;
    } checks[] = {
        {"foreign keys", "SELECT count(*) FROM pragma_foreign_key_check"},
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
         "SELECT count(*) FROM tasks WHERE lease_token >"
         " (SELECT value FROM meta WHERE key = 'last_token')"},
        {"a job ended with a callback URL but without a webhook delivery",
         "SELECT count(*) FROM jobs j WHERE j.state IN ('succeeded','failed','cancelled')"
         " AND COALESCE(j.callback_url, '') != ''"
         " AND NOT EXISTS (SELECT 1 FROM webhooks w WHERE w.job_id = j.id)"},
        /* A retried job keeps the delivery of the failure it was retried from. */
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
    sqlite3_stmt *s = NULL;
    int rc;
    lock(st);
    rc = q_open(st, &s, err, "PRAGMA integrity_check", "");
    if (rc == 0 && (rc = q_step(st, s, err)) == 1) {
        const char *r = (const char *)sqlite3_column_text(s, 0);
        rc = r && strcmp(r, "ok") == 0
                 ? 0
                 : err_set(err, HARK_EIO, "store '%s' is damaged: %s", st->path, r ? r : "?");
    }
    sqlite3_finalize(s);
    for (size_t i = 0; rc == 0 && i < sizeof checks / sizeof checks[0]; i++) {
        int64_t bad;
        rc = q_int64(st, &bad, NULL, err, checks[i].sql, "");
        if (rc == 0 && bad)
            rc = err_set(err, HARK_EIO, "store '%s' is inconsistent: %s (%lld rows)", st->path,
                         checks[i].what, (long long)bad);
    }
    unlock(st);
    return rc;
}

const store_backend_ops store_sqlite_ops = {
    .name = "sqlite",
    .schema_version = sq_schema_version,
    .open = sq_open,
    .close = sq_close,
    .flush = sq_flush,
    .submit = sq_submit,
    .get_job = sq_get_job,
    .list_jobs = sq_list_jobs,
    .claim = sq_claim,
    .peek = sq_peek,
    .renew = sq_renew,
    .commit_chunk = sq_commit_chunk,
    .commit_prepare = sq_commit_prepare,
    .release = sq_release,
    .expire_leases = sq_expire_leases,
    .fail_overdue = sq_fail_overdue,
    .recover = sq_recover,
    .control = sq_control,
    .retry = sq_retry,
    .list_unreleased = sq_list_unreleased,
    .mark_released = sq_mark_released,
    .prune = sq_prune,
    .list_chunks_from = sq_list_chunks_from,
    .add_stage = sq_add_stage,
    .find_cached_chunks = sq_find_cached_chunks,
    .input_append = sq_input_append,
    .input_close = sq_input_close,
    .list_open_inputs = sq_list_open_inputs,
    .commit_live_chunk = sq_commit_live_chunk,
    .live_partial = sq_live_partial,
    .finish_live = sq_finish_live,
    .list_events = sq_list_events,
    .list_events_since = sq_list_events_since,
    .latest_event_id = sq_latest_event_id,
    .last_event_id = sq_last_event_id,
    .add_event = sq_add_event,
    .claim_webhooks = sq_claim_webhooks,
    .record_webhook = sq_record_webhook,
    .list_webhooks = sq_list_webhooks,
    .count_work = sq_count_work,
    .get_counters = sq_get_counters,
    .check = sq_check,
};
