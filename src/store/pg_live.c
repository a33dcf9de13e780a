/* pg_live.c - live inputs on the PostgreSQL store (store.h, "live
 * inputs"): appends, the close, and the chunks and partials a live session
 * commits under its prepare lease. sqlite_store.c's rules, statement for
 * statement; the transactions and locks are pg_store.c's. */
#include "store/pg_store.h"

#include "store/job_events.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- live inputs --------------------------------------------------------------------- */

int pgs_close_input(pg_store *st, const char *id, const char *reason, hark_err *err)
{
    int64_t bytes = 0;
    int rc = pg_q_int64(&st->c, &bytes, NULL, err,
                        "UPDATE jobs SET input_open = 0, updated_ms = $1 WHERE id = $2"
                        " RETURNING input_bytes",
                        "It", st->now, id);
    if (rc == 0)
        rc =
            pgs_add_event(st, id, "input_ended", store_event_input_ended(reason, bytes), NULL, err);
    return rc;
}

static int input_append_tx(pg_store *st, store_scope sc, const char *id, int64_t bytes,
                           hark_err *err)
{
    PGresult *r = NULL;
    int rc = pg_q(&st->c, &r, NULL, err,
                  "SELECT state, input_open, input_bytes FROM jobs WHERE id = $1"
                  " AND ($2::text IS NULL OR owner = $2) FOR UPDATE",
                  "tt", id, pgs_scope_owner(sc));
    if (rc == 0 && PQntuples(r) == 0)
        rc = err_set(err, HARK_ENOENT, "no job '%s'", id);
    if (rc == 0)
        rc = store_append_check(id, store_state_of_name(pg_str(r, 0, 0)), pg_int(r, 0, 1) != 0,
                                pg_i64(r, 0, 2), bytes, err);
    PQclear(r);
    if (rc == 0)
        rc = pg_q(&st->c, NULL, NULL, err,
                  "UPDATE jobs SET input_bytes = $1, input_at_ms = $2 WHERE id = $3", "IIt", bytes,
                  st->now, id);
    return rc;
}

int pg_input_append_cb(store *base, store_scope sc, const char *id, int64_t bytes, hark_err *err)
{
    pg_store *st = pgs(base);
    int rc = pgs_enter(st, err);
    if (rc)
        return rc;
    rc = pgs_tx_begin(st, false, err);
    if (rc == 0)
        rc = pgs_tx_end(st, input_append_tx(st, sc, id, bytes, err), err);
    pgs_leave(st);
    return rc;
}

static int input_close_tx(pg_store *st, store_scope sc, const char *id, const char *reason,
                          bool *was_open, hark_err *err)
{
    int64_t open = 0;
    bool found = false;
    int rc =
        pg_q_int64(&st->c, &open, &found, err,
                   "SELECT input_open FROM jobs WHERE id = $1 AND ($2::text IS NULL OR owner = $2)"
                   " FOR UPDATE",
                   "tt", id, pgs_scope_owner(sc));
    if (rc == 0 && !found)
        rc = err_set(err, HARK_ENOENT, "no job '%s'", id);
    if (rc == 0 && open)
        rc = pgs_close_input(st, id, reason, err);
    if (rc == 0 && was_open)
        *was_open = open != 0;
    return rc;
}

int pg_input_close_cb(store *base, store_scope sc, const char *id, const char *reason,
                      bool *was_open, hark_err *err)
{
    pg_store *st = pgs(base);
    int rc = pgs_enter(st, err);
    if (rc)
        return rc;
    rc = pgs_tx_begin(st, true, err);
    if (rc == 0)
        rc = pgs_tx_end(st, input_close_tx(st, sc, id, reason, was_open, err), err);
    pgs_leave(st);
    return rc;
}

int pg_list_open_inputs_cb(store *base, int limit, store_job_list *out, hark_err *err)
{
    pg_store *st = pgs(base);
    if (!(out->jobs = calloc((size_t)limit, sizeof *out->jobs)))
        return err_set(err, HARK_ENOMEM, "out of memory listing jobs");
    int rc = pgs_enter(st, err);
    if (rc == 0) {
        rc = pgs_read_jobs(st, limit, out, err,
                           "SELECT " JOB_COLS
                           " WHERE j.input_open = 1 ORDER BY j.input_at_ms LIMIT $1",
                           "i", 0, limit);
        pgs_leave(st);
    }
    if (rc)
        store_job_list_release(out);
    return rc;
}

static int add_delta(pg_store *st, const char *id, const char *delta, hark_err *err)
{
    if (!delta || !delta[0])
        return 0;
    json_t *d = store_event_delta(delta);
    if (!d)
        return err_set(err, HARK_EINVAL, "live text of job %s is not UTF-8", id);
    return pgs_add_event(st, id, "transcript.text.delta", d, NULL, err);
}

static int commit_live_chunk_tx(pg_store *st, int64_t token, int64_t start, int64_t end,
                                const char *result, const char *delta, double decode_s,
                                store_commit_info *info, hark_err *err)
{
    lease l;
    int rc = pgs_find_live_lease(st, token, &l, err);
    if (rc == HARK_ESTALE)
        return pgs_refuse(st, "refused_commits", err);
    if (rc)
        return rc;
    if (l.idx >= 0)
        return err_set(err, HARK_EINVAL, "token %lld is a chunk lease, not a live session's",
                       (long long)token);
    int64_t last_end = 0, n = 0;
    rc = pg_q_int64(&st->c, &last_end, NULL, err,
                    "SELECT COALESCE(MAX(end_sample), 0) FROM tasks WHERE job_id = $1 AND idx >= 0",
                    "t", l.job_id);
    if (rc == 0)
        rc = pg_q_int64(&st->c, &n, NULL, err, "SELECT n_chunks FROM jobs WHERE id = $1", "t",
                        l.job_id);
    if (rc)
        return rc;
    if (start < last_end)
        return err_set(err, HARK_EINVAL,
                       "live chunk %lld-%lld of job %s overlaps the chunk before (to %lld)",
                       (long long)start, (long long)end, l.job_id, (long long)last_end);
    if (n >= STORE_MAX_CHUNKS)
        return err_set(err, HARK_EINVAL, "job %s has %d chunks, the most a job may have", l.job_id,
                       STORE_MAX_CHUNKS);
    rc = pg_q(&st->c, NULL, NULL, err,
              "INSERT INTO tasks(job_id, idx, prio, job_seq, start_sample, end_sample, state,"
              " result, decode_s) SELECT id, $2, priority, seq, $3, $4, 'done', $5, $6"
              " FROM jobs WHERE id = $1",
              "tIIItd", l.job_id, n, start, end, result, decode_s);
    if (rc == 0)
        rc = pg_q(&st->c, NULL, NULL, err,
                  "UPDATE jobs SET n_chunks = n_chunks + 1, chunks_done = chunks_done + 1,"
                  " updated_ms = $1 WHERE id = $2",
                  "It", st->now, l.job_id);
    if (rc == 0)
        rc = pgs_add_event(st, l.job_id, "chunk_committed",
                           store_event_live_chunk_committed((int)n, (int)n + 1, (int)n + 1), NULL,
                           err);
    if (rc == 0)
        rc = add_delta(st, l.job_id, delta, err);
    if (rc == 0 && info) {
        snprintf(info->job_id, sizeof info->job_id, "%s", l.job_id);
        info->idx = (int)n;
        info->chunks_done = info->n_chunks = (int)n + 1;
        info->job_complete = false;
    }
    return rc;
}

int pg_commit_live_chunk_cb(store *base, int64_t token, int64_t start, int64_t end,
                            const char *result, const char *delta, double decode_s,
                            store_commit_info *info, hark_err *err)
{
    pg_store *st = pgs(base);
    int rc = pgs_enter(st, err);
    if (rc)
        return rc;
    rc = pgs_tx_begin(st, true, err);
    if (rc == 0)
        rc = pgs_tx_end(
            st, commit_live_chunk_tx(st, token, start, end, result, delta, decode_s, info, err),
            err);
    pgs_leave(st);
    return rc;
}

static int live_partial_tx(pg_store *st, int64_t token, json_t *data, const char *delta,
                           hark_err *err)
{
    lease l;
    int rc = pgs_find_live_lease(st, token, &l, err);
    if (rc == 0 && l.idx >= 0)
        rc = err_set(err, HARK_ESTALE, "token %lld is a chunk lease, not a live session's",
                     (long long)token);
    if (rc) {
        json_decref(data);
        return rc;
    }
    rc = pgs_add_event(st, l.job_id, "transcript.partial", data, NULL, err);
    if (rc == 0)
        rc = add_delta(st, l.job_id, delta, err);
    return rc;
}

int pg_live_partial_cb(store *base, int64_t token, json_t *obj, const char *delta, hark_err *err)
{
    pg_store *st = pgs(base);
    int rc = pgs_enter(st, err);
    if (rc) {
        json_decref(obj);
        return rc;
    }
    rc = pgs_tx_begin(st, true, err);
    if (rc == 0)
        rc = pgs_tx_end(st, live_partial_tx(st, token, obj, delta, err), err);
    else
        json_decref(obj);
    pgs_leave(st);
    return rc;
}

static int finish_live_tx(pg_store *st, int64_t token, double duration_s, store_commit_info *info,
                          hark_err *err)
{
    lease l;
    PGresult *r = NULL;
    int rc = pgs_find_live_lease(st, token, &l, err);
    if (rc == HARK_ESTALE)
        return pgs_refuse(st, "refused_commits", err);
    if (rc)
        return rc;
    if (l.idx >= 0)
        return err_set(err, HARK_EINVAL, "token %lld is a chunk lease, not a live session's",
                       (long long)token);
    rc = pgs_worker_freed(st, token, err);
    if (rc == 0)
        rc = pg_q(&st->c, NULL, NULL, err,
                  "UPDATE tasks SET state = 'done', " CLEAR_LEASE " WHERE job_id = $1 AND idx = -1",
                  "t", l.job_id);
    if (rc == 0)
        rc = pg_q(&st->c, &r, NULL, err,
                  "UPDATE jobs SET prepared = 1, duration_s = $1, updated_ms = $2,"
                  " input_open = 0 WHERE id = $3 RETURNING chunks_done, n_chunks",
                  "dIt", duration_s, st->now, l.job_id);
    if (rc == 0 && PQntuples(r) == 0)
        rc = err_set(err, HARK_EIO, "store '%s': job %s vanished", st->c.where, l.job_id);
    if (rc) {
        PQclear(r);
        return rc;
    }
    int done = pg_int(r, 0, 0), n = pg_int(r, 0, 1);
    PQclear(r);
    rc = pgs_add_event(st, l.job_id, "progress", store_event_prepared(n, duration_s, done), NULL,
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

int pg_finish_live_cb(store *base, int64_t token, double duration_s, store_commit_info *info,
                      hark_err *err)
{
    pg_store *st = pgs(base);
    int rc = pgs_enter(st, err);
    if (rc)
        return rc;
    rc = pgs_tx_begin(st, true, err);
    if (rc == 0)
        rc = pgs_tx_end(st, finish_live_tx(st, token, duration_s, info, err), err);
    pgs_leave(st);
    return rc;
}
