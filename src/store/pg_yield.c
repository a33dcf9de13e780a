/* pg_yield.c - preemption across nodes on the PostgreSQL store: which
 * worker of the cluster yields for a better waiting task (store.h,
 * store_request_yield).
 *
 * Each node sees only its own workers. If every node that found its
 * workers busy while a push-to-talk clip waited asked one of them to
 * yield, a cluster of ten nodes would stop ten chunks for one clip. So the
 * choice is made here: a read without any lock says whether anything
 * worse than the best waiting class runs unasked (most calls end there);
 * then one statement under YIELD_LOCK counts the tasks of that class and
 * the yields already owed (asked leases not yet ended, workers between
 * tasks), and only if fewer are owed marks one more lease, the lowest
 * class's newest. The mark lives in the task row (yield_asked_ms) and goes
 * with the lease: every path that ends a lease clears it (CLEAR_LEASE), and
 * a claim starts without it. The marking transaction's commit notifies
 * (LISTEN/NOTIFY), so the node holding that lease hears of it at once and
 * asks its worker (store_yields_asked).
 *
 * A worker between tasks is about to claim: when it ended its task (a
 * commit, a release: a yield among them) or found nothing to claim, its
 * row in yield_grants (its incarnation and name) says so until its next
 * claim takes a task (the claim statement deletes it) or GRANT_MS pass
 * (an idle worker claims again every tick, renewing it; a dead node's
 * lapse). Each counts as an asked yield: the waiting task is that
 * worker's. Without it, the moment between a yield and the claim that
 * follows, or between a job's prepare and its first chunk's claim, would
 * look to another node like a cluster with every worker busy, and a second
 * worker would be asked.
 *
 * YIELD_LOCK, not WRITE_LOCK: a decision that asks nothing changes nothing
 * and must not notify (every node would wake and decide again, and so on),
 * and it must not queue behind the writers' commits. Two deciders are
 * serialized by it; each statement under READ COMMITTED then sees the other's
 * committed mark. */
#include "store/pg_store.h"

#include <stdio.h>
#include <string.h>

/* pg_advisory_xact_lock key of yield decisions (any constant of its own:
 * WRITE_LOCK and the migrations' lock are others). */
#define YIELD_LOCK "7521981955383297057"

/* Is a request worth the lock? best_sql ($1 now, $2 max_attempts, $3 the
 * lowest class): the best waiting class, the claim's first task's, read
 * as the claim reads it (pgs_claim_plan); worse_sql ($1 now, $2 that
 * class): the live leases of a worse class not asked yet. Most calls end here, read-only and
 * without the lock: a queue of one class behind busy workers of that class has nothing to preempt.
 */
static const char best_sql[] = "SELECT t.prio" SQL_CLAIMABLE;
static const char worse_sql[] = "SELECT COUNT(*) FROM tasks WHERE state = 'leased' AND prio > $2"
                                " AND yield_asked_ms IS NULL AND lease_expires_ms > $1";

/* $1 now, $2 max_attempts, $3 the best waiting class. The demand counts
 * that class's claimable tasks (at most 64: no cluster has more workers to
 * ask). An asked lease counts until it ends, expired or not: a worker may
 * take a while to stop (a loaded machine can stretch the wait past a
 * short lease); the expiry sweep ends a dead node's. Only a live lease is
 * picked. Planned as PostgreSQL likes (enable_sort back on: the victim's
 * order is a sort of the few leases; the demand walks tasks_claim at one
 * class). */
static const char ask_sql[] =
    "WITH demand AS (SELECT COUNT(*) AS n FROM (SELECT 1" SQL_CLAIMABLE_WHERE
    "  AND t.prio = $3 LIMIT 64) d),"
    " asked AS (SELECT (SELECT COUNT(*) FROM tasks WHERE state = 'leased'"
    "  AND yield_asked_ms IS NOT NULL)"
    "  + (SELECT COUNT(*) FROM yield_grants WHERE until_ms > $1) AS n),"
    " victim AS (SELECT job_id, idx FROM tasks WHERE state = 'leased'"
    "  AND yield_asked_ms IS NULL AND lease_expires_ms > $1 AND prio > $3"
    "  AND (SELECT n FROM asked) < (SELECT n FROM demand)"
    "  ORDER BY prio DESC, lease_token DESC LIMIT 1 FOR UPDATE SKIP LOCKED)"
    " UPDATE tasks t SET yield_asked_ms = $1 FROM victim v"
    " WHERE t.job_id = v.job_id AND t.idx = v.idx"
    " RETURNING t.lease_token, COALESCE(t.lease_node, '')";

/* How long a worker between tasks counts: a freed worker claims within
 * milliseconds, an idle one every runtime tick (250 ms); this bounds what
 * a node that died holds up. */
#define GRANT_MS 1000

int pgs_worker_freed(pg_store *st, int64_t token, hark_err *err)
{
    return pg_q(&st->c, NULL, NULL, err,
                "INSERT INTO yield_grants(life, owner, until_ms)"
                " SELECT lease_life, lease_owner, $2 FROM tasks WHERE lease_token = $1"
                " AND lease_life IS NOT NULL AND lease_owner IS NOT NULL"
                " ON CONFLICT (life, owner) DO UPDATE SET until_ms = EXCLUDED.until_ms",
                "II", token, st->now + GRANT_MS);
}

int pgs_worker_idle(pg_store *st, const char *owner, hark_err *err)
{
    return pg_q(&st->c, NULL, NULL, err,
                "INSERT INTO yield_grants(life, owner, until_ms) VALUES ($1, $2, $3)"
                " ON CONFLICT (life, owner) DO UPDATE SET until_ms = EXCLUDED.until_ms",
                "ttI", st->life, owner, st->now + GRANT_MS);
}

int pgs_sweep_yield_grants(pg_store *st, hark_err *err)
{
    return pg_q(&st->c, NULL, NULL, err, "DELETE FROM yield_grants WHERE until_ms <= $1", "I",
                st->now);
}

int pg_request_yield_cb(store *base, int64_t *token, char *node, size_t n, hark_err *err)
{
    pg_store *st = pgs(base);
    int rc = pgs_enter(st, err);
    if (rc)
        return rc;
    PGresult *r = NULL;
    rc = pgs_tx_begin(st, false, err);
    if (rc) {
        pgs_leave(st);
        return rc;
    }
    int64_t best = -1, worse = 0;
    bool waits = false;
    rc = pgs_claim_plan(st, err);
    if (rc == 0)
        rc = pg_q_int64(&st->c, &best, &waits, err, best_sql, "Iii", st->now,
                        st->base.opt.max_attempts, STORE_PRIO_LOW);
    if (rc == 0 && waits)
        rc = pg_q_int64(&st->c, &worse, NULL, err, worse_sql, "Ii", st->now, (int)best);
    if (rc == 0 && waits && worse > 0)
        rc = pg_plain(&st->c,
                      "SELECT pg_advisory_xact_lock(" YIELD_LOCK "); SET LOCAL enable_sort = on",
                      err);
    if (rc == 0 && waits && worse > 0)
        rc = pg_q(&st->c, &r, NULL, err, ask_sql, "Iii", st->now, st->base.opt.max_attempts,
                  (int)best);
    if (rc == 0 && r && PQntuples(r) == 1) {
        *token = pg_i64(r, 0, 0);
        snprintf(node, n, "%s", pg_str(r, 0, 1));
        st->tx_notify = true; /* the node holding it hears now */
    }
    PQclear(r);
    rc = pgs_tx_end(st, rc, err);
    if (rc) {
        *token = 0;
        node[0] = '\0';
    }
    pgs_leave(st);
    return rc;
}

int pg_yields_asked_cb(store *base, const int64_t *tokens, size_t n, bool *asked, hark_err *err)
{
    pg_store *st = pgs(base);
    /* The tokens as one array parameter: "{1,2,3}" (64 tokens of at most
     * 20 digits and a comma each). */
    char list[64 * 21 + 3];
    size_t at = 0;
    list[at++] = '{';
    for (size_t i = 0; i < n; i++)
        at += (size_t)snprintf(list + at, sizeof list - at, "%s%lld", i ? "," : "",
                               (long long)tokens[i]);
    snprintf(list + at, sizeof list - at, "}");
    int rc = pgs_enter(st, err);
    if (rc)
        return rc;
    PGresult *r = NULL;
    rc = pg_q(&st->c, &r, NULL, err,
              "SELECT lease_token FROM tasks WHERE lease_token = ANY($1::int8[])"
              " AND state = 'leased' AND yield_asked_ms IS NOT NULL",
              "t", list);
    for (int row = 0; rc == 0 && row < PQntuples(r); row++) {
        int64_t t = pg_i64(r, row, 0);
        for (size_t i = 0; i < n; i++)
            if (tokens[i] == t)
                asked[i] = true;
    }
    PQclear(r);
    pgs_leave(st);
    return rc;
}
