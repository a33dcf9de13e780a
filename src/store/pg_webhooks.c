/* pg_webhooks.c - the webhook outbox on the PostgreSQL store (store.h,
 * "webhooks"): a delivery inserted in the transaction that ends its job,
 * claims (FOR UPDATE SKIP LOCKED, each recording the claiming node and its
 * incarnation, so store_recover frees only a dead life's), outcomes, and a
 * job's list. The transactions and locks are pg_store.c's. */
#include "store/pg_store.h"

#include "store/webhook_body.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- webhooks ---------------------------------------------------------------------------- */

int pgs_enqueue_webhook(pg_store *st, const char *id, hark_err *err)
{
    PGresult *r = NULL;
    store_job j;
    char *body = NULL;
    int rc = pg_q(&st->c, &r, NULL, err, "SELECT " JOB_COLS " WHERE j.id = $1", "t", id);
    if (rc == 0 && PQntuples(r) == 0)
        rc = err_set(err, HARK_EIO, "store '%s': job %s vanished", st->c.where, id);
    if (rc == 0)
        rc = pgs_read_job(st, r, 0, &j, err);
    PQclear(r);
    if (rc)
        return rc;
    if (j.callback_url[0]) {
        char event[STORE_WEBHOOK_EVENT_SIZE];
        store_webhook_event(j.state, event);
        body = store_webhook_body(&j, event);
        rc = body ? pg_q(&st->c, NULL, NULL, err,
                         "INSERT INTO webhooks(job_id, url, event, body, next_at_ms, created_ms,"
                         " updated_ms) VALUES ($1, $2, $3, $4, $5, $5, $5)",
                         "ttttI", id, j.callback_url, event, body, st->now)
                  : err_set(err, HARK_ENOMEM, "out of memory composing the webhook of job %s", id);
    }
    free(body);
    store_job_release(&j);
    return rc;
}

#define WEBHOOK_COLS                                                                               \
    "id, job_id, url, event, body, state, attempts, last_status, last_error, created_ms,"          \
    " next_at_ms, COALESCE(delivered_ms, 0)"

static int collect_webhooks(pg_store *st, const PGresult *r, store_webhook_list *out, hark_err *err)
{
    int n = PQntuples(r);
    if (n == 0)
        return 0;
    if (!(out->items = calloc((size_t)n, sizeof *out->items)))
        return err_set(err, HARK_ENOMEM, "out of memory listing webhook deliveries");
    for (int i = 0; i < n; i++) {
        store_webhook *w = &out->items[out->n++];
        w->id = pg_i64(r, i, 0);
        pgs_copy_id(w->job_id, r, i, 1);
        w->url = pg_dup(r, i, 2);
        w->event = pg_dup(r, i, 3);
        w->body = pg_dup(r, i, 4);
        w->state = store_webhook_state_of_name(pg_str(r, i, 5));
        w->attempts = pg_int(r, i, 6);
        w->last_status = pg_int(r, i, 7);
        w->last_error = pg_dup(r, i, 8);
        w->created_ms = pg_i64(r, i, 9);
        w->next_at_ms = pg_i64(r, i, 10);
        w->delivered_ms = pg_i64(r, i, 11);
        if (!w->url || !w->event || !w->body || !w->last_error)
            return err_set(err, HARK_ENOMEM, "out of memory listing webhook deliveries (%s)",
                           st->c.where);
    }
    return 0;
}

#define SQL_WEBHOOK_DUE                                                                            \
    " FROM webhooks WHERE state = 'pending' AND next_at_ms <= $1 AND claimed_until_ms <= $1"

static int claim_webhooks_tx(pg_store *st, int max, int64_t lease_ms, store_webhook_list *out,
                             hark_err *err)
{
    PGresult *r = NULL;
    int rc = pg_q(&st->c, &r, NULL, err,
                  "UPDATE webhooks SET claimed_until_ms = $2, updated_ms = $1, claimed_node = $4,"
                  " claimed_life = $5 WHERE id IN (SELECT id" SQL_WEBHOOK_DUE
                  " ORDER BY next_at_ms, id LIMIT $3 FOR UPDATE SKIP LOCKED)"
                  " RETURNING " WEBHOOK_COLS,
                  "IIitt", st->now, st->now + lease_ms, max, st->node, st->life);
    if (rc == 0)
        rc = collect_webhooks(st, r, out, err);
    PQclear(r);
    /* RETURNING gives no order: the contract's is oldest due first. */
    return rc;
}

static int cmp_webhook(const void *a, const void *b)
{
    const store_webhook *x = a, *y = b;
    if (x->next_at_ms != y->next_at_ms)
        return x->next_at_ms < y->next_at_ms ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

int pg_claim_webhooks_cb(store *base, int max, int64_t lease_ms, store_webhook_list *out,
                         int64_t *wait_ms, hark_err *err)
{
    pg_store *st = pgs(base);
    int64_t due = 0, next = -1;
    bool found = false;
    int rc = pgs_enter(st, err);
    if (rc)
        return rc;
    rc = pgs_call_now(st, err);
    int64_t t = st->now;
    /* Look first: a claim of nothing must not commit (sqlite_store.c). */
    if (rc == 0)
        rc = pg_q_int64(&st->c, &due, &found, err, "SELECT id" SQL_WEBHOOK_DUE " LIMIT 1", "I", t);
    if (rc == 0 && found) {
        rc = pgs_tx_begin(st, false, err);
        st->now = t;
        if (rc == 0)
            rc = pgs_tx_end(st, claim_webhooks_tx(st, max, lease_ms, out, err), err);
        if (rc == 0 && out->n > 1) /* the next_at_ms sent back is the row's, as claimed */
            qsort(out->items, out->n, sizeof *out->items, cmp_webhook);
    }
    if (rc == 0 && wait_ms)
        rc = pg_q_int64(&st->c, &next, NULL, err,
                        "SELECT COALESCE(MIN(GREATEST(next_at_ms, claimed_until_ms)), -1)"
                        " FROM webhooks WHERE state = 'pending'",
                        "");
    pgs_leave(st);
    if (rc) {
        store_webhook_list_release(out);
        return rc;
    }
    if (wait_ms)
        *wait_ms = next < 0 ? -1 : next > t ? next - t : 0;
    return 0;
}

static int record_webhook_tx(pg_store *st, int64_t id, int attempt, const store_webhook_attempt *a,
                             int *state_out, hark_err *err)
{
    PGresult *r = NULL;
    int state = -1, attempts = 0;
    int rc = pg_q(&st->c, &r, NULL, err,
                  "SELECT state, attempts FROM webhooks WHERE id = $1 FOR UPDATE", "I", id);
    if (rc == 0 && PQntuples(r) > 0) {
        state = store_webhook_state_of_name(pg_str(r, 0, 0));
        attempts = pg_int(r, 0, 1);
    } else if (rc == 0) {
        rc = err_set(err, HARK_ENOENT, "no webhook delivery %lld", (long long)id);
    }
    PQclear(r);
    if (rc)
        return rc;
    if (state != STORE_WEBHOOK_PENDING || attempts != attempt - 1)
        return err_set(err, HARK_ESTALE,
                       "webhook delivery %lld: attempt %d was already recorded (%s, %d attempts)",
                       (long long)id, attempt, store_webhook_state_name(state), attempts);
    int to = store_webhook_outcome(a->state, attempt, st->base.opt.webhook_max_attempts);
    rc = pg_q(&st->c, NULL, NULL, err,
              "UPDATE webhooks SET state = $2, attempts = $3, last_status = $4, last_error = $5,"
              " next_at_ms = CASE WHEN $2 = 'pending' THEN $6 + $7 ELSE next_at_ms END,"
              " claimed_until_ms = 0, claimed_node = NULL, claimed_life = NULL, updated_ms = $6,"
              " delivered_ms = CASE WHEN $2 = 'delivered' THEN $6 END WHERE id = $1",
              "ItiitII", id, store_webhook_state_name(to), attempt, a->status,
              to == STORE_WEBHOOK_DELIVERED || !a->error ? "" : a->error, st->now,
              a->retry_delay_ms);
    if (rc == 0 && state_out)
        *state_out = to;
    return rc;
}

int pg_record_webhook_cb(store *base, int64_t id, int attempt, const store_webhook_attempt *a,
                         int *state_out, hark_err *err)
{
    pg_store *st = pgs(base);
    int rc = pgs_enter(st, err);
    if (rc)
        return rc;
    rc = pgs_tx_begin(st, false, err);
    if (rc == 0)
        rc = pgs_tx_end(st, record_webhook_tx(st, id, attempt, a, state_out, err), err);
    pgs_leave(st);
    return rc;
}

int pg_list_webhooks_cb(store *base, store_scope sc, const char *id, store_webhook_list *out,
                        hark_err *err)
{
    pg_store *st = pgs(base);
    PGresult *r = NULL;
    int state;
    int rc = pgs_enter(st, err);
    if (rc)
        return rc;
    rc = pgs_snap_begin(st, err);
    if (rc)
        goto unlock;
    rc = pgs_job_state(st, sc, id, &state, err);
    if (rc == 0)
        rc = pg_q(&st->c, &r, NULL, err,
                  "SELECT " WEBHOOK_COLS " FROM webhooks WHERE job_id = $1 ORDER BY id", "t", id);
    if (rc == 0)
        rc = collect_webhooks(st, r, out, err);
    PQclear(r);
    pg_plain(&st->c, "COMMIT", NULL);
unlock:
    pgs_leave(st);
    if (rc)
        store_webhook_list_release(out);
    return rc;
}
