/* store_test.c - the store contract suite: scheduling order, leases and
 * fencing, retries, control transitions, recovery, events, owners and
 * scopes, webhooks, retention, live inputs and the chunks a live session
 * commits; everything store.h promises of every backend. It runs on the
 * store store_test_location() names (store_test_lib.h: SQLite by default,
 * HARK_TEST_STORE for another), each case on an empty store.
 *
 * Time is injected (fake_now) except where real concurrency is tested, so no
 * test sleeps its way to a pass. */
#include "store/store.h"
#include "store/store_test_lib.h"
#include "util/clock.h"
#include "util/test.h"

#include <jansson.h>
#include <pthread.h>
#include <stdint.h>
#include <time.h>

static void test_finished_jobs_are_counted_by_state(void)
{
    store *st = open_db();
    char a[STORE_ID_SIZE], b[STORE_ID_SIZE], c[STORE_ID_SIZE];
    hark_err err = {0};
    submit(st, STORE_PRIO_NORMAL, "a.wav", a);
    submit(st, STORE_PRIO_NORMAL, "b.wav", b);
    submit(st, STORE_PRIO_NORMAL, "c.wav", c);
    prepare(st, a, 1);
    store_task t = claim(st, "w", LONG_LEASE);
    ASSERT_EQ(commit(st, t.token, "[]", &err), 0);
    ASSERT_EQ(store_succeed(st, STORE_SCOPE_ALL, a, &err), 0);
    ASSERT_EQ(store_fail(st, STORE_SCOPE_ALL, b, "bad input", &err), 0);
    ASSERT_EQ(store_cancel(st, STORE_SCOPE_ALL, c, &err), 0);
    store_counters k = counters(st);
    ASSERT_EQ(k.jobs_succeeded, 1);
    ASSERT_EQ(k.jobs_failed, 1);
    ASSERT_EQ(k.jobs_cancelled, 1);
    /* Counters, not row counts: deleting and reopening keeps them. */
    ASSERT_EQ(store_delete_job(st, STORE_SCOPE_ALL, a, &err), 0);
    ASSERT_EQ(store_cancel(st, STORE_SCOPE_ALL, c, &err),
              HARK_EINVAL); /* already final: not counted again */
    store_close(st);
    st = open_db();
    k = counters(st);
    ASSERT_EQ(k.jobs_succeeded, 1);
    ASSERT_EQ(k.jobs_cancelled, 1);
    store_close(st);
}

/* ---- scheduling order --------------------------------------------------- */

static void test_priority_order_and_fifo_within_class(void)
{
    store *st = open_db();
    static const int prios[] = {3, 2, 1, 0, 2, 3, 0, 1, 2, 3, 1, 0, 2, 2, 3};
    enum { N = sizeof prios / sizeof prios[0] };
    char ids[N][STORE_ID_SIZE];
    for (int i = 0; i < N; i++) {
        submit(st, prios[i], "in.wav", ids[i]);
        fake_now++;
    }
    /* Expected: by class, then submission order. */
    int order[N], k = 0;
    for (int p = 0; p < 4; p++)
        for (int i = 0; i < N; i++)
            if (prios[i] == p)
                order[k++] = i;
    for (int i = 0; i < N; i++) {
        store_peek_info pk;
        ASSERT_EQ(store_peek(st, &pk, NULL), 0);
        ASSERT_EQ(pk.best_priority, prios[order[i]]);
        store_task t = claim(st, "w", LONG_LEASE);
        ASSERT_EQ(t.kind, STORE_TASK_PREPARE);
        ASSERT_STREQ(t.job_id, ids[order[i]]);
        ASSERT_EQ(t.priority, prios[order[i]]);
        ASSERT_EQ(t.attempt, 1);
        ASSERT_EQ(job_state_of(st, t.job_id), STORE_RUNNING);
    }
    store_peek_info pk;
    ASSERT_EQ(store_peek(st, &pk, NULL), 0);
    ASSERT_EQ(pk.best_priority, -1);
    ASSERT_EQ(claim(st, "w", LONG_LEASE).kind, STORE_TASK_NONE);
    store_close(st);
}

static void test_prepare_first_then_chunks_in_index_order(void)
{
    store *st = open_db();
    char id[STORE_ID_SIZE];
    hark_err err = {0};
    submit(st, STORE_PRIO_NORMAL, "talk.mp3", id);
    store_task p = claim(st, "w1", LONG_LEASE);
    ASSERT_EQ(p.kind, STORE_TASK_PREPARE);
    ASSERT_EQ(p.idx, -1);
    /* Nothing else until the plan exists. */
    ASSERT_EQ(claim(st, "w2", LONG_LEASE).kind, STORE_TASK_NONE);
    /* A prepare token cannot commit a chunk. */
    ASSERT_EQ(commit(st, p.token, "[]", &err), HARK_EINVAL);
    store_span plan[3] = {{0, 1000}, {1000, 5000}, {5000, 9000}};
    store_commit_info info;
    ASSERT_EQ(store_commit_prepare(st, p.token, 0.5625, plan, 3, NULL, &info, &err), 0);
    ASSERT(!info.job_complete);
    store_job j = get(st, id);
    ASSERT(j.prepared);
    ASSERT_EQ(j.n_chunks, 3);
    ASSERT_NEAR(j.duration_s, 0.5625, 1e-9);
    store_job_release(&j);
    /* Committing the prepare twice is refused. */
    ASSERT_EQ(store_commit_prepare(st, p.token, 1, plan, 3, NULL, NULL, &err), HARK_ESTALE);

    store_task c[3];
    for (int i = 0; i < 3; i++) {
        c[i] = claim(st, "w", LONG_LEASE);
        ASSERT_EQ(c[i].kind, STORE_TASK_CHUNK);
        ASSERT_EQ(c[i].idx, i);
        ASSERT_EQ(c[i].start_sample, plan[i].start_sample);
        ASSERT_EQ(c[i].end_sample, plan[i].end_sample);
        ASSERT(c[i].token > (i ? c[i - 1].token : p.token));
    }
    ASSERT_EQ(claim(st, "w", LONG_LEASE).kind, STORE_TASK_NONE);
    ASSERT_EQ(store_succeed(st, STORE_SCOPE_ALL, id, &err), HARK_EINVAL);
    ASSERT(strstr(err.msg, "0 of 3 chunks") != NULL);
    /* Commit out of order; the list comes back in index order. */
    const char *res[3] = {"[[\"a\",0,1,1]]", "[[\"b\",1,2,1]]", "[]"};
    for (int k = 2; k >= 0; k--) {
        ASSERT_EQ(store_commit_chunk(st, c[k].token, res[k], 0.25, &info, &err), 0);
        ASSERT_EQ(info.idx, k);
        ASSERT_EQ(info.chunks_done, 3 - k);
        ASSERT_EQ(info.job_complete, k == 0);
    }
    store_chunk_list cl;
    ASSERT_EQ(store_list_chunks(st, STORE_SCOPE_ALL, id, &cl, &err), 0);
    ASSERT_EQ(cl.n, 3);
    for (int k = 0; k < 3; k++) {
        ASSERT_EQ(cl.chunks[k].idx, k);
        ASSERT_EQ(cl.chunks[k].state, STORE_CHUNK_DONE);
        ASSERT_STREQ(cl.chunks[k].result, res[k]);
    }
    store_chunk_list_release(&cl);
    store_job_filter f;
    store_job_filter_init(&f);
    f.ready_only = true;
    store_job_list jl;
    ASSERT_EQ(store_list_jobs(st, STORE_SCOPE_ALL, &f, &jl, &err), 0);
    ASSERT_EQ(jl.n, 1);
    store_job_list_release(&jl);
    ASSERT_EQ(store_succeed(st, STORE_SCOPE_ALL, id, &err), 0);
    j = get(st, id);
    ASSERT_EQ(j.state, STORE_SUCCEEDED);
    ASSERT(j.result_ready);
    ASSERT_EQ(j.chunks_done, 3);
    store_job_release(&j);
    ASSERT_EQ(store_check(st, &err), 0);
    store_close(st);
}

static void test_sequential_claims_get_distinct_tasks(void)
{
    store *st = open_db();
    char ids[3][STORE_ID_SIZE];
    store_task p[3];
    for (int i = 0; i < 3; i++)
        submit(st, STORE_PRIO_NORMAL, "x.wav", ids[i]);
    /* Three workers take the three prepares (a leased prepare is not offered twice). */
    for (int i = 0; i < 3; i++) {
        p[i] = claim(st, "w", LONG_LEASE);
        ASSERT_EQ(p[i].kind, STORE_TASK_PREPARE);
        ASSERT_STREQ(p[i].job_id, ids[i]);
    }
    ASSERT_EQ(claim(st, "w", LONG_LEASE).kind, STORE_TASK_NONE);
    store_span plan[4] = {{0, 1}, {1, 2}, {2, 3}, {3, 4}};
    for (int i = 2; i >= 0; i--)
        ASSERT_EQ(store_commit_prepare(st, p[i].token, 1, plan, 4, NULL, NULL, NULL), 0);
    char seen[3][4] = {{0}};
    int64_t last = 0;
    for (int k = 0; k < 12; k++) {
        char w[8];
        snprintf(w, sizeof w, "w%d", k % 4);
        store_task t = claim(st, w, LONG_LEASE);
        ASSERT_EQ(t.kind, STORE_TASK_CHUNK);
        int j = -1;
        for (int i = 0; i < 3; i++)
            if (strcmp(t.job_id, ids[i]) == 0)
                j = i;
        ASSERT(j >= 0);
        ASSERT_EQ(seen[j][t.idx], 0);
        seen[j][t.idx] = 1;
        ASSERT(t.token > last);
        last = t.token;
        /* FIFO: the first job's chunks all go before the second's. */
        ASSERT_EQ(j, k / 4);
    }
    ASSERT_EQ(claim(st, "w", LONG_LEASE).kind, STORE_TASK_NONE);
    store_close(st);
}

/* Two threads, each with its own handle on the same file, claim and commit
 * until every job is done; no task may be handed out twice. */
enum { TH_JOBS = 6, TH_CHUNKS = 5, TH_MAX = 64 };

static struct {
    pthread_mutex_t mu;
    char ids[TH_JOBS][STORE_ID_SIZE];
    int claimed[TH_JOBS][TH_CHUNKS + 1]; /* [.][0] prepare, [.][i+1] chunk i */
    int errors;
} th;

static int th_job(const char *id)
{
    for (int i = 0; i < TH_JOBS; i++)
        if (strcmp(id, th.ids[i]) == 0)
            return i;
    return -1;
}

static void *th_worker(void *arg)
{
    const char *name = arg;
    store *st = NULL;
    hark_err err = {0};
    int done = 0;
    if (store_open(store_test_location(), NULL, &st, &err)) {
        fprintf(stderr, "%s: %s\n", name, err.msg);
        pthread_mutex_lock(&th.mu);
        th.errors++;
        pthread_mutex_unlock(&th.mu);
        return NULL;
    }
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        struct timespec t1;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (t1.tv_sec - t0.tv_sec > 20) {
            fprintf(stderr, "%s: gave up\n", name);
            goto fail;
        }
        store_task t;
        if (store_claim(st, name, LONG_LEASE, &t, &err))
            goto fail;
        if (t.kind == STORE_TASK_NONE) {
            store_job_filter f;
            store_job_filter_init(&f);
            f.state = STORE_SUCCEEDED;
            store_job_list jl;
            if (store_list_jobs(st, STORE_SCOPE_ALL, &f, &jl, &err))
                goto fail;
            done = (int)jl.n;
            store_job_list_release(&jl);
            if (done == TH_JOBS)
                break;
            sched_yield();
            continue;
        }
        int j = th_job(t.job_id);
        pthread_mutex_lock(&th.mu);
        int dup = j < 0 || th.claimed[j][t.idx + 1]++;
        pthread_mutex_unlock(&th.mu);
        if (dup) {
            fprintf(stderr, "%s: task %s/%d handed out twice\n", name, t.job_id, t.idx);
            goto fail;
        }
        store_commit_info info;
        if (t.kind == STORE_TASK_PREPARE) {
            store_span plan[TH_CHUNKS];
            for (int i = 0; i < TH_CHUNKS; i++)
                plan[i] = (store_span){i * 100, i * 100 + 100};
            if (store_commit_prepare(st, t.token, 1, plan, TH_CHUNKS, NULL, &info, &err))
                goto fail;
        } else {
            char res[64];
            snprintf(res, sizeof res, "[\"%s\",%d]", name, t.idx);
            if (store_commit_chunk(st, t.token, res, 0.1, &info, &err))
                goto fail;
            if (info.job_complete && store_succeed(st, STORE_SCOPE_ALL, t.job_id, &err))
                goto fail;
        }
    }
    store_close(st);
    return NULL;
fail:
    fprintf(stderr, "%s: %s\n", name, err.msg);
    pthread_mutex_lock(&th.mu);
    th.errors++;
    pthread_mutex_unlock(&th.mu);
    store_close(st);
    return NULL;
}

static void test_two_handles_in_threads_never_share_a_task(void)
{
    store *st = NULL;
    hark_err err = {0};
    ASSERT_EQ(store_open(store_test_location(), NULL, &st, &err), 0);
    pthread_mutex_init(&th.mu, NULL);
    for (int i = 0; i < TH_JOBS; i++) {
        store_job_spec spec = {.kind = "transcribe", .input = "x", .priority = i % 4};
        ASSERT_EQ(store_submit(st, &spec, th.ids[i], &err), 0);
    }
    pthread_t a, b;
    ASSERT_EQ(pthread_create(&a, NULL, th_worker, "alpha"), 0);
    ASSERT_EQ(pthread_create(&b, NULL, th_worker, "beta"), 0);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    ASSERT_EQ(th.errors, 0);
    for (int i = 0; i < TH_JOBS; i++) {
        for (int k = 0; k <= TH_CHUNKS; k++)
            ASSERT_EQ(th.claimed[i][k], 1);
        store_job j = get(st, th.ids[i]);
        ASSERT_EQ(j.state, STORE_SUCCEEDED);
        ASSERT_EQ(j.chunks_done, TH_CHUNKS);
        store_job_release(&j);
    }
    ASSERT_EQ(counters(st).refused_commits, 0);
    ASSERT_EQ(store_check(st, &err), 0);
    store_close(st);
}

/* ---- fencing ----------------------------------------------------------------- */

static void test_expired_lease_cannot_renew_or_commit(void)
{
    store *st = open_db();
    char id[STORE_ID_SIZE];
    hark_err err = {0};
    submit(st, STORE_PRIO_NORMAL, "a.wav", id);
    prepare(st, id, 2);
    store_task t = claim(st, "w", 50);
    ASSERT_EQ(t.idx, 0);
    ASSERT_EQ(t.expires_ms, fake_now + 50);
    fake_now += 30;
    ASSERT_EQ(store_renew(st, t.token, 50, &err), 0); /* now expires at +80 */
    fake_now += 49;
    ASSERT_EQ(store_renew(st, t.token, 50, &err), 0); /* +129 */
    fake_now += 50;                                   /* exactly at expiry: gone */
    ASSERT_EQ(store_renew(st, t.token, 50, &err), HARK_ESTALE);
    ASSERT_EQ(commit(st, t.token, "[]", &err), HARK_ESTALE);
    ASSERT(strstr(err.msg, "expired") != NULL);
    store_counters c = counters(st);
    ASSERT_EQ(c.refused_commits, 1);
    ASSERT_EQ(c.refused_renewals, 1);
    store_job j = get(st, id);
    ASSERT_EQ(j.chunks_done, 0);
    store_job_release(&j);

    /* Expiry counts an attempt and backs off. */
    int n = -1;
    ASSERT_EQ(store_expire_leases(st, &n, &err), 0);
    ASSERT_EQ(n, 1);
    store_chunk_list cl;
    ASSERT_EQ(store_list_chunks(st, STORE_SCOPE_ALL, id, &cl, &err), 0);
    ASSERT_EQ(cl.chunks[0].state, STORE_CHUNK_PENDING);
    ASSERT_EQ(cl.chunks[0].attempts, 1);
    ASSERT_STREQ(cl.chunks[0].last_error, "lease expired");
    store_chunk_list_release(&cl);
    ASSERT_EQ(commit(st, t.token, "[]", &err), HARK_ESTALE);

    store_task t1 = claim(st, "w", LONG_LEASE);
    ASSERT_EQ(t1.idx, 1); /* chunk 0 is backing off */
    ASSERT_EQ(claim(st, "w", LONG_LEASE).kind, STORE_TASK_NONE);
    fake_now += 999;
    ASSERT_EQ(claim(st, "w", LONG_LEASE).kind, STORE_TASK_NONE);
    fake_now += 1;
    store_task t2 = claim(st, "w", LONG_LEASE);
    ASSERT_EQ(t2.idx, 0);
    ASSERT_EQ(t2.attempt, 2);
    ASSERT(t2.token > t1.token);
    ASSERT_EQ(commit(st, t2.token, "[\"late\"]", &err), 0);
    ASSERT_EQ(commit(st, t.token, "[\"zombie\"]", &err), HARK_ESTALE);
    ASSERT_EQ(counters(st).refused_commits, 3);
    store_close(st);

    /* The counter is durable. */
    st = open_db();
    ASSERT_EQ(counters(st).refused_commits, 3);
    ASSERT_EQ(store_list_chunks(st, STORE_SCOPE_ALL, id, &cl, &err), 0);
    ASSERT_STREQ(cl.chunks[0].result, "[\"late\"]");
    store_chunk_list_release(&cl);
    store_close(st);
}

static void test_pause_and_cancel_revoke_leases(void)
{
    store *st = open_db();
    char id[STORE_ID_SIZE];
    hark_err err = {0};
    submit(st, STORE_PRIO_HIGH, "a.wav", id);
    prepare(st, id, 3);
    store_task a = claim(st, "w1", LONG_LEASE), b = claim(st, "w2", LONG_LEASE);
    ASSERT_EQ(store_pause(st, STORE_SCOPE_ALL, id, &err), 0);
    ASSERT_EQ(job_state_of(st, id), STORE_PAUSED);
    ASSERT_EQ(commit(st, a.token, "[]", &err), HARK_ESTALE);
    ASSERT_EQ(store_renew(st, b.token, 1000, &err), HARK_ESTALE);
    ASSERT_EQ(claim(st, "w", LONG_LEASE).kind, STORE_TASK_NONE); /* paused: not claimable */
    ASSERT_EQ(store_resume(st, STORE_SCOPE_ALL, id, &err), 0);
    ASSERT_EQ(job_state_of(st, id), STORE_QUEUED);
    store_task a2 = claim(st, "w1", LONG_LEASE);
    ASSERT_EQ(a2.idx, 0);
    ASSERT_EQ(a2.attempt, 1); /* revocation is not a failed attempt */
    ASSERT_EQ(commit(st, a2.token, "[]", &err), 0);
    store_task b2 = claim(st, "w2", LONG_LEASE);
    ASSERT_EQ(b2.idx, 1);
    ASSERT_EQ(store_cancel(st, STORE_SCOPE_ALL, id, &err), 0);
    ASSERT_EQ(commit(st, b2.token, "[]", &err), HARK_ESTALE);
    ASSERT_EQ(counters(st).refused_commits, 2);
    store_job j = get(st, id);
    ASSERT_EQ(j.state, STORE_CANCELLED);
    ASSERT_EQ(j.chunks_done, 1);
    ASSERT(j.finished_ms > 0);
    store_job_release(&j);
    ASSERT_EQ(store_check(st, &err), 0);
    store_close(st);
}

static void test_recover_makes_old_tokens_stale_and_never_reuses_them(void)
{
    store *st = open_db();
    char id[STORE_ID_SIZE];
    hark_err err = {0};
    submit(st, STORE_PRIO_NORMAL, "a.wav", id);
    prepare(st, id, 2);
    store_task a = claim(st, "w1", LONG_LEASE);
    store_task b = claim(st, "w2", LONG_LEASE);
    ASSERT_EQ(commit(st, b.token, "[\"b\"]", &err), 0);
    store_close(st); /* the daemon dies with chunk 0 leased */

    st = open_db();
    int n = -1;
    ASSERT_EQ(store_recover(st, &n, &err), 0);
    ASSERT_EQ(n, 1);
    store_job j = get(st, id);
    ASSERT_EQ(j.state, STORE_QUEUED);
    ASSERT_EQ(j.chunks_done, 1);
    store_job_release(&j);
    ASSERT_EQ(commit(st, a.token, "[\"zombie\"]", &err), HARK_ESTALE);
    store_task a2 = claim(st, "w1", LONG_LEASE);
    ASSERT_EQ(a2.idx, 0);
    ASSERT_EQ(a2.attempt, 1);
    ASSERT(a2.token > b.token);
    ASSERT_EQ(commit(st, a2.token, "[\"a\"]", &err), 0);
    /* The same token cannot commit twice; b's chunk cannot be committed again. */
    ASSERT_EQ(commit(st, a2.token, "[\"again\"]", &err), HARK_ESTALE);
    ASSERT_EQ(commit(st, b.token, "[\"again\"]", &err), HARK_ESTALE);
    j = get(st, id);
    ASSERT_EQ(j.chunks_done, 2);
    store_job_release(&j);
    store_counters c = counters(st);
    ASSERT_EQ(c.refused_commits, 3);
    ASSERT_EQ(c.recovered_tasks, 1);
    ASSERT_EQ(c.last_token, a2.token);
    store_close(st);

    st = open_db();
    ASSERT_EQ(counters(st).refused_commits, 3);
    char id2[STORE_ID_SIZE];
    submit(st, STORE_PRIO_NORMAL, "b.wav", id2);
    store_task p = claim(st, "w", LONG_LEASE);
    ASSERT_EQ(p.token, a2.token + 1);
    store_close(st);
}

/* ---- releases and retries ---------------------------------------------------- */

static void test_preempt_keeps_attempts_failure_counts_with_backoff(void)
{
    store *st = open_db();
    char id[STORE_ID_SIZE];
    hark_err err = {0};
    store_release_info ri;
    submit(st, STORE_PRIO_LOW, "meeting.wav", id);
    store_task p = claim(st, "w", LONG_LEASE);
    store_span plan[2] = {{0, 640000}, {640000, 796800}}; /* 0-40 s, 40.0-49.8 s */
    ASSERT_EQ(store_commit_prepare(st, p.token, 49.8, plan, 2, NULL, NULL, &err), 0);

    store_task c0 = claim(st, "w", LONG_LEASE), c1 = claim(st, "w", LONG_LEASE);
    ASSERT_EQ(c1.idx, 1);
    ASSERT_EQ(store_release(st, c0.token, STORE_RELEASE_PREEMPTED, NULL, &ri, &err), 0);
    ASSERT_EQ(ri.attempts, 0);
    ASSERT_EQ(job_state_of(st, id), STORE_RUNNING); /* c1 still leased */
    ASSERT_EQ(store_release(st, c1.token, STORE_RELEASE_PREEMPTED, NULL, &ri, &err), 0);
    ASSERT_EQ(job_state_of(st, id), STORE_QUEUED); /* no lease left: back to the queue */
    ASSERT_EQ(commit(st, c1.token, "[]", &err), HARK_ESTALE);
    ASSERT_EQ(store_release(st, c1.token, STORE_RELEASE_PREEMPTED, NULL, &ri, &err), HARK_ESTALE);

    c0 = claim(st, "w", LONG_LEASE);
    ASSERT_EQ(c0.idx, 0);
    ASSERT_EQ(c0.attempt, 1);
    ASSERT_EQ(commit(st, c0.token, "[]", &err), 0);

    /* Chunk 1 fails three times: 1 s, then 2 s of backoff, then the job fails. */
    int64_t backoff[] = {1000, 2000};
    for (int a = 1; a <= 3; a++) {
        store_task c = claim(st, "w", LONG_LEASE);
        ASSERT_EQ(c.idx, 1);
        ASSERT_EQ(c.attempt, a);
        const char *cause = a == 3 ? "timeout" : "crash with signal 11";
        ASSERT_EQ(store_release(st, c.token, STORE_RELEASE_FAILED, cause, &ri, &err), 0);
        ASSERT_EQ(ri.attempts, a);
        ASSERT_EQ(ri.job_failed, a == 3);
        if (a < 3) {
            ASSERT_EQ(ri.not_before_ms, fake_now + backoff[a - 1]);
            store_peek_info pk;
            ASSERT_EQ(store_peek(st, &pk, NULL), 0);
            ASSERT_EQ(pk.best_priority, -1);
            ASSERT_EQ(pk.wake_ms, ri.not_before_ms);
            fake_now += backoff[a - 1] - 1;
            ASSERT_EQ(claim(st, "w", LONG_LEASE).kind, STORE_TASK_NONE);
            fake_now += 1;
        }
    }
    store_job j = get(st, id);
    ASSERT_EQ(j.state, STORE_FAILED);
    ASSERT_STREQ(j.error, "chunk 1 (40.0-49.8 s) failed 3 times: timeout");
    store_job_release(&j);
    ASSERT_EQ(claim(st, "w", LONG_LEASE).kind, STORE_TASK_NONE);
    store_event_list el;
    ASSERT_EQ(store_list_events(st, STORE_SCOPE_ALL, id, 0, 0, &el, &err), 0);
    ASSERT_STREQ(el.events[el.n - 1].type, "failed");
    ASSERT(strstr(el.events[el.n - 1].data, "40.0-49.8 s") != NULL);
    store_event_list_release(&el);
    store_close(st);
}

static void test_failed_job_revokes_other_leases(void)
{
    store *st = open_db();
    store_options o = {.now_ms = fake_clock, .max_attempts = 1};
    store_close(st);
    hark_err err = {0};
    ASSERT_EQ(store_open(store_test_location(), &o, &st, &err), 0);
    char id[STORE_ID_SIZE];
    submit(st, STORE_PRIO_NORMAL, "a.wav", id);
    prepare(st, id, 3);
    store_task a = claim(st, "w1", LONG_LEASE), b = claim(st, "w2", LONG_LEASE);
    store_release_info ri;
    ASSERT_EQ(store_release(st, a.token, STORE_RELEASE_FAILED, "out of memory", &ri, &err), 0);
    ASSERT(ri.job_failed);
    ASSERT_EQ(commit(st, b.token, "[]", &err), HARK_ESTALE);
    ASSERT_EQ(store_check(st, &err), 0);
    store_close(st);
}

static void test_prepare_failures_fail_the_job(void)
{
    store *st = open_db();
    char id[STORE_ID_SIZE];
    hark_err err = {0};
    store_job_spec spec = {.kind = "transcribe", .input = "/srv/up/123", .source = "talk.mp3"};
    ASSERT_EQ(store_submit(st, &spec, id, &err), 0);
    for (int a = 1; a <= 3; a++) {
        store_task t = claim(st, "w", LONG_LEASE);
        ASSERT_EQ(t.kind, STORE_TASK_PREPARE);
        ASSERT_EQ(store_release(st, t.token, STORE_RELEASE_FAILED, "worker crashed", NULL, &err),
                  0);
        store_job j = get(st, id);
        ASSERT_EQ(j.prepare_attempts, a);
        ASSERT_STREQ(j.prepare_error, "worker crashed");
        store_job_release(&j);
        fake_now += 60000;
    }
    store_job j = get(st, id);
    ASSERT_EQ(j.state, STORE_FAILED);
    ASSERT_STREQ(j.error, "prepare of 'talk.mp3' failed 3 times: worker crashed");
    store_job_release(&j);
    store_close(st);
}

/* Out of disk space is a resource condition, not a failed attempt: the
 * task waits on its own, longer schedule (5, 10, 20, 40, then 60 s),
 * attempts are untouched, and the job fails only after max_resource_waits. */
static void test_resource_waits_back_off_longer_and_count_apart(void)
{
    store *st = open_db();
    char id[STORE_ID_SIZE];
    hark_err err = {0};
    store_release_info ri;
    store_job_spec spec = {.kind = "transcribe", .input = "/srv/up/9", .source = "talk.mp3"};
    ASSERT_EQ(store_submit(st, &spec, id, &err), 0);
    static const int64_t backoff[] = {5000, 10000, 20000, 40000, 60000, 60000};
    for (int w = 1; w <= 6; w++) {
        store_task t = claim(st, "w", LONG_LEASE);
        ASSERT_EQ(t.kind, STORE_TASK_PREPARE);
        ASSERT_EQ(t.attempt, 1); /* waits are not attempts */
        ASSERT_EQ(store_release(st, t.token, STORE_RELEASE_RESOURCE,
                                "cannot write 'a.pcm.part': No space left on device", &ri, &err),
                  0);
        ASSERT_EQ(ri.attempts, 0);
        ASSERT_EQ(ri.resource_waits, w);
        ASSERT_EQ(ri.not_before_ms, fake_now + backoff[w - 1]);
        ASSERT(!ri.job_failed);
        store_job j = get(st, id);
        ASSERT_EQ(j.prepare_attempts, 0);
        ASSERT_STREQ(j.prepare_error, "cannot write 'a.pcm.part': No space left on device");
        ASSERT(!store_state_terminal(j.state));
        store_job_release(&j);
        fake_now += backoff[w - 1] - 1;
        ASSERT_EQ(claim(st, "w", LONG_LEASE).kind, STORE_TASK_NONE);
        fake_now += 1;
    }
    /* A real failure still counts as one attempt of three. */
    store_task t = claim(st, "w", LONG_LEASE);
    ASSERT_EQ(store_release(st, t.token, STORE_RELEASE_FAILED, "worker crashed", &ri, &err), 0);
    ASSERT_EQ(ri.attempts, 1);
    ASSERT_EQ(ri.resource_waits, 6);
    ASSERT(!ri.job_failed);
    /* Space came back: the prepare commits. */
    fake_now += 60000;
    t = claim(st, "w", LONG_LEASE);
    store_span span = {0, 16000};
    ASSERT_EQ(store_commit_prepare(st, t.token, 1.0, &span, 1, NULL, NULL, &err), 0);
    ASSERT_EQ(store_check(st, &err), 0);
    ASSERT_EQ(store_cancel(st, STORE_SCOPE_ALL, id, &err), 0);
    store_close(st);

    /* max_resource_waits (a small one here) ends it, saying why. */
    store_options o = {.now_ms = fake_clock, .max_resource_waits = 2};
    ASSERT_EQ(store_open(store_test_location(), &o, &st, &err), 0);
    ASSERT_EQ(store_submit(st, &spec, id, &err), 0);
    for (int w = 1; w <= 2; w++) {
        fake_now += 120000;
        t = claim(st, "w", LONG_LEASE);
        ASSERT_STREQ(t.job_id, id);
        ASSERT_EQ(store_release(st, t.token, STORE_RELEASE_RESOURCE, "disk full", &ri, &err), 0);
        ASSERT_EQ(ri.job_failed, w == 2);
    }
    store_job j = get(st, id);
    ASSERT_EQ(j.state, STORE_FAILED);
    ASSERT_STREQ(j.error, "prepare of 'talk.mp3' waited for a resource 2 times: disk full");
    store_job_release(&j);
    ASSERT_EQ(store_check(st, &err), 0);
    store_close(st);
}

/* ---- control ------------------------------------------------------------------ */

static void test_control_transitions(void)
{
    store *st = open_db();
    char id[STORE_ID_SIZE], id2[STORE_ID_SIZE];
    hark_err err = {0};
    submit(st, STORE_PRIO_NORMAL, "a.wav", id);
    submit(st, STORE_PRIO_NORMAL, "b.wav", id2);
    ASSERT_EQ(store_resume(st, STORE_SCOPE_ALL, id, &err), HARK_EINVAL);
    ASSERT(strstr(err.msg, "it is queued") != NULL);
    ASSERT_EQ(store_pause(st, STORE_SCOPE_ALL, id, &err), 0);
    ASSERT_EQ(store_pause(st, STORE_SCOPE_ALL, id, &err), HARK_EINVAL);
    ASSERT(strstr(err.msg, "cannot pause job") && strstr(err.msg, "it is paused"));
    ASSERT_EQ(store_succeed(st, STORE_SCOPE_ALL, id, &err), HARK_EINVAL);
    ASSERT_EQ(store_delete_job(st, STORE_SCOPE_ALL, id, &err), HARK_EINVAL);
    ASSERT_EQ(store_resume(st, STORE_SCOPE_ALL, id, &err), 0);
    ASSERT_EQ(job_state_of(st, id), STORE_QUEUED);
    ASSERT_EQ(store_succeed(st, STORE_SCOPE_ALL, id, &err), HARK_EINVAL);
    ASSERT(strstr(err.msg, "not prepared"));
    ASSERT_EQ(store_cancel(st, STORE_SCOPE_ALL, id, &err), 0);
    ASSERT_EQ(store_cancel(st, STORE_SCOPE_ALL, id, &err), HARK_EINVAL);
    ASSERT_EQ(store_resume(st, STORE_SCOPE_ALL, id, &err), HARK_EINVAL);
    ASSERT_EQ(store_pause(st, STORE_SCOPE_ALL, id, &err), HARK_EINVAL);
    ASSERT_EQ(store_fail(st, STORE_SCOPE_ALL, id, "x", &err), HARK_EINVAL);
    ASSERT(strstr(err.msg, "it is cancelled"));
    ASSERT_EQ(store_pause(st, STORE_SCOPE_ALL, "jnope", &err), HARK_ENOENT);
    ASSERT_EQ(store_pause(st, STORE_SCOPE_ALL, "", &err), HARK_EINVAL);

    /* A running job can be paused and failed. */
    store_task t = claim(st, "w", LONG_LEASE);
    ASSERT_STREQ(t.job_id, id2);
    ASSERT_EQ(store_fail(st, STORE_SCOPE_ALL, id2, "cannot decode 'b.wav': no audio stream", &err),
              0);
    store_job j = get(st, id2);
    ASSERT_EQ(j.state, STORE_FAILED);
    ASSERT_STREQ(j.error, "cannot decode 'b.wav': no audio stream");
    store_job_release(&j);
    ASSERT_EQ(store_commit_prepare(st, t.token, 1, NULL, 0, NULL, NULL, &err), HARK_ESTALE);

    ASSERT_EQ(store_delete_job(st, STORE_SCOPE_ALL, id, &err), 0);
    ASSERT_EQ(store_get_job(st, STORE_SCOPE_ALL, id, &j, &err), HARK_ENOENT);
    store_event_list el; /* its events went with it: the job is not there */
    ASSERT_EQ(store_list_events(st, STORE_SCOPE_ALL, id, 0, 0, &el, &err), HARK_ENOENT);
    ASSERT_EQ(el.n, 0);
    store_event_list_release(&el);
    ASSERT_EQ(store_check(st, &err), 0);
    store_close(st);
}

static void test_bad_arguments_change_nothing(void)
{
    store *st = open_db();
    char id[STORE_ID_SIZE];
    hark_err err = {0};
    store_job_spec bad[] = {
        {.kind = "transcribe", .input = ""},
        {.kind = "transcribe", .input = NULL},
        {.kind = "", .input = "a"},
        {.kind = "transcribe", .input = "a", .priority = 4},
        {.kind = "transcribe", .input = "a", .timeout_s = -1},
        /* an input not beneath its root (at a component boundary) */
        {.kind = "transcribe", .input = "/srv/ab/x.wav", .input_root = "/srv/a"},
        {.kind = "transcribe", .input = "x.wav", .input_root = "/srv/a"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ASSERT_EQ(store_submit(st, &bad[i], id, &err), HARK_EINVAL);
        ASSERT_EQ(id[0], '\0');
    }
    store_job_list jl;
    ASSERT_EQ(store_list_jobs(st, STORE_SCOPE_ALL, NULL, &jl, &err), 0);
    ASSERT_EQ(jl.n, 0);
    store_job_list_release(&jl);

    submit(st, STORE_PRIO_NORMAL, "a.wav", id);
    store_task t = claim(st, "w", LONG_LEASE);
    store_span overlap[2] = {{0, 100}, {50, 200}}, empty[1] = {{10, 10}};
    ASSERT_EQ(store_commit_prepare(st, t.token, 1, overlap, 2, NULL, NULL, &err), HARK_EINVAL);
    ASSERT_EQ(store_commit_prepare(st, t.token, 1, empty, 1, NULL, NULL, &err), HARK_EINVAL);
    ASSERT_EQ(store_claim(st, "w", 0, &t, &err), HARK_EINVAL);
    ASSERT_EQ(store_claim(st, "", 10, &t, &err), HARK_EINVAL);
    int v;
    ASSERT_EQ(store_priority_parse("urgent", &v, &err), HARK_EINVAL);
    ASSERT_EQ(store_priority_parse("realtime", &v, &err), 0);
    ASSERT_EQ(v, STORE_PRIO_REALTIME);
    ASSERT_EQ(counters(st).refused_commits, 0);
    store_close(st);
}

/* The root a file input is opened beneath travels with the job ("" when
 * there is none: a URL, a local path). */
static void test_input_root_is_kept(void)
{
    store *st = open_db();
    char id[STORE_ID_SIZE], id2[STORE_ID_SIZE];
    hark_err err = {0};
    store_job_spec spec = {.kind = "transcribe", .input = "/srv/a/x.wav", .input_root = "/srv/a"};
    ASSERT_EQ(store_submit(st, &spec, id, &err), 0);
    spec = (store_job_spec){.kind = "transcribe", .input = "x.wav"};
    ASSERT_EQ(store_submit(st, &spec, id2, &err), 0);
    store_job j = get(st, id);
    ASSERT_STREQ(j.input, "/srv/a/x.wav");
    ASSERT_STREQ(j.input_root, "/srv/a");
    store_job_release(&j);
    j = get(st, id2);
    ASSERT_STREQ(j.input_root, "");
    store_job_release(&j);
    store_close(st);
}

/* ---- stages and the chunk cache ------------------------------------------------ */

/* Commit every pending chunk of id with result text. */
static void commit_all(store *st, const char *id, const char *result)
{
    for (;;) {
        store_task t = claim(st, "w", LONG_LEASE);
        if (t.kind == STORE_TASK_NONE)
            return;
        ASSERT_STREQ(t.job_id, id);
        ASSERT_EQ(t.kind, STORE_TASK_CHUNK);
        hark_err err = {0};
        ASSERT_EQ(store_commit_chunk(st, t.token, result, 0.1, NULL, &err), 0);
    }
}

static void test_stage_adds_tasks_after_every_chunk_is_committed(void)
{
    store *st = open_db();
    char id[STORE_ID_SIZE];
    hark_err err = {0};
    submit(st, STORE_PRIO_NORMAL, "a.wav", id);
    prepare(st, id, 2);
    store_span more[3] = {{0, 100}, {50, 900}, {10, 20}}; /* any spans: clips may overlap */
    /* Not while a chunk of the first stage is outstanding. */
    ASSERT_EQ(store_add_stage(st, id, "{}", more, 3, &err), HARK_EINVAL);
    ASSERT(strstr(err.msg, "0 of 2 chunks"));
    commit_all(st, id, "[]");
    store_span bad = {5, 5};
    ASSERT_EQ(store_add_stage(st, id, "{}", &bad, 1, &err), HARK_EINVAL);
    ASSERT_EQ(store_add_stage(st, id, "{\"n\":2}", more, 3, &err), 0);
    store_job j = get(st, id);
    ASSERT_EQ(j.n_chunks, 5);
    ASSERT_EQ(j.chunks_done, 2);
    ASSERT_STREQ(j.doc, "{\"n\":2}");
    store_job_release(&j);
    /* The new tasks are claimed like chunks, in index order, and the job
     * completes when the last commits. */
    store_task t = claim(st, "w", LONG_LEASE);
    ASSERT_EQ(t.idx, 2);
    ASSERT_EQ(t.start_sample, 0);
    ASSERT_EQ(t.end_sample, 100);
    store_commit_info info;
    ASSERT_EQ(store_commit_chunk(st, t.token, "{\"artifact\":1}", 0.1, &info, &err), 0);
    ASSERT(!info.job_complete);
    t = claim(st, "w", LONG_LEASE);
    ASSERT_EQ(store_commit_chunk(st, t.token, "{}", 0.1, &info, &err), 0);
    t = claim(st, "w", LONG_LEASE);
    ASSERT_EQ(t.idx, 4);
    ASSERT_EQ(store_commit_chunk(st, t.token, "{}", 0.1, &info, &err), 0);
    ASSERT(info.job_complete);
    ASSERT_EQ(info.n_chunks, 5);
    ASSERT_EQ(store_check(st, &err), 0);
    /* An empty stage only sets the document; an ended job takes none. */
    ASSERT_EQ(store_add_stage(st, id, "{\"done\":1}", NULL, 0, &err), 0);
    ASSERT_EQ(store_succeed(st, STORE_SCOPE_ALL, id, &err), 0);
    ASSERT_EQ(store_add_stage(st, id, "{}", NULL, 0, &err), HARK_EINVAL);
    ASSERT(strstr(err.msg, "succeeded"));
    ASSERT_EQ(store_add_stage(st, "j0000000000000000", "{}", NULL, 0, &err), HARK_ENOENT);
    store_close(st);
}

static void test_cached_chunks_match_content_key_and_span(void)
{
    store *st = open_db();
    char a[STORE_ID_SIZE], b[STORE_ID_SIZE], c[STORE_ID_SIZE];
    hark_err err = {0};
    store_span plan[2] = {{0, 16000}, {16000, 32000}};
    submit(st, STORE_PRIO_NORMAL, "a.wav", a);
    store_task t = claim(st, "w", LONG_LEASE);
    ASSERT_EQ(store_commit_prepare(st, t.token, 2, plan, 2, "sha256:aa|m", NULL, &err), 0);
    commit_all(st, a, "[[\"hello\",0.1,0.5,0.9]]");
    submit(st, STORE_PRIO_NORMAL, "b.wav", b);
    t = claim(st, "w", LONG_LEASE);
    ASSERT_EQ(store_commit_prepare(st, t.token, 2, plan, 2, "sha256:aa|m", NULL, &err), 0);
    store_job j = get(st, b);
    ASSERT_STREQ(j.content_key, "sha256:aa|m");
    store_job_release(&j);
    store_chunk_list l;
    /* Same key and span: a's chunk; never b's own; other spans or keys: none. */
    ASSERT_EQ(store_find_cached_chunks(st, "sha256:aa|m", b, 16000, 32000, &l, &err), 0);
    ASSERT_EQ(l.n, 1);
    ASSERT_STREQ(l.chunks[0].result, "[[\"hello\",0.1,0.5,0.9]]");
    store_chunk_list_release(&l);
    ASSERT_EQ(store_find_cached_chunks(st, "sha256:aa|m", a, 16000, 32000, &l, &err), 0);
    ASSERT_EQ(l.n, 0); /* b has committed nothing yet */
    store_chunk_list_release(&l);
    ASSERT_EQ(store_find_cached_chunks(st, "sha256:aa|m", b, 16000, 32001, &l, &err), 0);
    ASSERT_EQ(l.n, 0);
    store_chunk_list_release(&l);
    ASSERT_EQ(store_find_cached_chunks(st, "sha256:bb|m", b, 16000, 32000, &l, &err), 0);
    ASSERT_EQ(l.n, 0);
    store_chunk_list_release(&l);
    ASSERT_EQ(store_find_cached_chunks(st, "", b, 16000, 32000, &l, &err), 0);
    ASSERT_EQ(l.n, 0);
    store_chunk_list_release(&l);
    /* A job without a key caches nothing; deleting a job drops its entries. */
    commit_all(st, b, "[]");
    submit(st, STORE_PRIO_NORMAL, "c.wav", c);
    ASSERT_EQ(store_succeed(st, STORE_SCOPE_ALL, a, &err), 0);
    ASSERT_EQ(store_delete_job(st, STORE_SCOPE_ALL, a, &err), 0);
    ASSERT_EQ(store_find_cached_chunks(st, "sha256:aa|m", c, 0, 16000, &l, &err), 0);
    ASSERT_EQ(l.n, 1);
    ASSERT_STREQ(l.chunks[0].result, "[]"); /* b's */
    store_chunk_list_release(&l);
    store_close(st);
}

/* ---- deadlines ---------------------------------------------------------------- */

static void test_overdue_job_is_not_claimable_and_fails(void)
{
    store *st = open_db();
    char a[STORE_ID_SIZE], b[STORE_ID_SIZE];
    hark_err err = {0};
    store_job_spec spec = {
        .kind = "transcribe", .input = "a.wav", .priority = STORE_PRIO_REALTIME, .timeout_s = 30};
    ASSERT_EQ(store_submit(st, &spec, a, &err), 0);
    submit(st, STORE_PRIO_NORMAL, "b.wav", b);
    store_job j = get(st, a);
    ASSERT_EQ(j.deadline_ms, T0 + 30000);
    store_job_release(&j);
    store_peek_info pk;
    ASSERT_EQ(store_peek(st, &pk, NULL), 0);
    ASSERT_EQ(pk.best_priority, STORE_PRIO_REALTIME);
    ASSERT_EQ(pk.wake_ms, T0 + 30000);
    fake_now = T0 + 29999;
    ASSERT_EQ(store_fail_overdue(st, NULL, &err), 0);
    ASSERT_EQ(job_state_of(st, a), STORE_QUEUED);
    fake_now = T0 + 30000;
    ASSERT_EQ(store_peek(st, &pk, NULL), 0);
    ASSERT_EQ(pk.best_priority, STORE_PRIO_NORMAL);
    store_task t = claim(st, "w", LONG_LEASE);
    ASSERT_STREQ(t.job_id, b);
    int n = -1;
    ASSERT_EQ(store_fail_overdue(st, &n, &err), 0);
    ASSERT_EQ(n, 1);
    j = get(st, a);
    ASSERT_EQ(j.state, STORE_FAILED);
    ASSERT_STREQ(j.error, "timed out after 30 s");
    store_job_release(&j);
    ASSERT_EQ(store_fail_overdue(st, &n, &err), 0);
    ASSERT_EQ(n, 0);
    store_close(st);
}

/* ---- events and listing ------------------------------------------------------- */

static void test_events_replay_after_id(void)
{
    store *st = open_db();
    char id[STORE_ID_SIZE], other[STORE_ID_SIZE];
    hark_err err = {0};
    submit(st, STORE_PRIO_NORMAL, "a.wav", id);
    submit(st, STORE_PRIO_LOW, "b.wav", other);
    prepare(st, id, 2);
    store_task c = claim(st, "w", LONG_LEASE);
    ASSERT_EQ(store_add_event(st, STORE_SCOPE_ALL, id, "progress", "{\"done_s\":1.5}", NULL, &err),
              0);
    ASSERT_EQ(store_add_event(st, STORE_SCOPE_ALL, id, "progress", "[1]", NULL, &err), HARK_EINVAL);
    ASSERT_EQ(store_add_event(st, STORE_SCOPE_ALL, "jmissing", "progress", NULL, NULL, &err),
              HARK_ENOENT);
    ASSERT_EQ(commit(st, c.token, "[]", &err), 0);
    ASSERT_EQ(store_pause(st, STORE_SCOPE_ALL, id, &err), 0);
    ASSERT_EQ(store_resume(st, STORE_SCOPE_ALL, id, &err), 0);
    ASSERT_EQ(store_cancel(st, STORE_SCOPE_ALL, id, &err), 0);

    static const char *want[] = {"queued",          "started", "progress", "progress",
                                 "chunk_committed", "paused",  "resumed",  "cancelled"};
    enum { NW = sizeof want / sizeof want[0] };
    store_event_list el;
    ASSERT_EQ(store_list_events(st, STORE_SCOPE_ALL, id, 0, 0, &el, &err), 0);
    ASSERT_EQ(el.n, NW);
    for (size_t i = 0; i < el.n; i++) {
        ASSERT_STREQ(el.events[i].type, want[i]);
        ASSERT_STREQ(el.events[i].job_id, id);
        if (i)
            ASSERT(el.events[i].id > el.events[i - 1].id);
    }
    ASSERT(strstr(el.events[4].data, "\"chunks_done\":1") != NULL);
    for (size_t k = 0; k < el.n; k++) {
        store_event_list after;
        ASSERT_EQ(store_list_events(st, STORE_SCOPE_ALL, id, el.events[k].id, 0, &after, &err), 0);
        ASSERT_EQ(after.n, el.n - k - 1);
        for (size_t i = 0; i < after.n; i++)
            ASSERT_EQ(after.events[i].id, el.events[k + 1 + i].id);
        store_event_list_release(&after);
    }
    store_event_list lim;
    ASSERT_EQ(store_list_events(st, STORE_SCOPE_ALL, id, el.events[1].id, 2, &lim, &err), 0);
    ASSERT_EQ(lim.n, 2);
    ASSERT_STREQ(lim.events[0].type, "progress");
    store_event_list_release(&lim);
    store_event_list_release(&el);
    ASSERT_EQ(store_list_events(st, STORE_SCOPE_ALL, other, 0, 0, &el, &err), 0);
    ASSERT_EQ(el.n, 1);
    ASSERT_STREQ(el.events[0].type, "queued");
    store_event_list_release(&el);
    store_close(st);
}

static void test_list_jobs_filters_and_pages(void)
{
    store *st = open_db();
    char ids[7][STORE_ID_SIZE];
    hark_err err = {0};
    for (int i = 0; i < 7; i++) {
        fake_now = T0 + i * 1000;
        submit(st, i % 2 ? STORE_PRIO_HIGH : STORE_PRIO_LOW, "x", ids[i]);
    }
    ASSERT_EQ(store_pause(st, STORE_SCOPE_ALL, ids[1], &err), 0);
    store_job_filter f;
    store_job_filter_init(&f);
    f.limit = 3;
    store_job_list jl;
    int seen = 0;
    for (int page = 0; page < 3; page++) {
        ASSERT_EQ(store_list_jobs(st, STORE_SCOPE_ALL, &f, &jl, &err), 0);
        ASSERT_EQ(jl.n, page < 2 ? 3 : 1);
        for (size_t i = 0; i < jl.n; i++)
            ASSERT_STREQ(jl.jobs[i].id, ids[seen++]);
        f.after_seq = jl.next_after;
        ASSERT_EQ(jl.next_after == 0, page == 2);
        store_job_list_release(&jl);
    }
    store_job_filter_init(&f);
    f.newest_first = true;
    f.priority = STORE_PRIO_HIGH;
    ASSERT_EQ(store_list_jobs(st, STORE_SCOPE_ALL, &f, &jl, &err), 0);
    ASSERT_EQ(jl.n, 3);
    ASSERT_STREQ(jl.jobs[0].id, ids[5]);
    ASSERT_STREQ(jl.jobs[2].id, ids[1]);
    store_job_list_release(&jl);
    f.state = STORE_QUEUED;
    ASSERT_EQ(store_list_jobs(st, STORE_SCOPE_ALL, &f, &jl, &err), 0);
    ASSERT_EQ(jl.n, 2);
    store_job_list_release(&jl);
    store_job_filter_init(&f);
    f.created_since = T0 + 4000;
    ASSERT_EQ(store_list_jobs(st, STORE_SCOPE_ALL, &f, &jl, &err), 0);
    ASSERT_EQ(jl.n, 3);
    ASSERT_STREQ(jl.jobs[0].id, ids[4]);
    store_job_list_release(&jl);
    store_close(st);
}

/* ---- owners: every query is scoped (DESIGN.md invariant 9) ------------------------ */

static void submit_owned(store *st, const char *owner, char id[STORE_ID_SIZE])
{
    store_job_spec spec = {.kind = "transcribe",
                           .input = "in.wav",
                           .priority = STORE_PRIO_NORMAL,
                           .callback_url = "http://127.0.0.1:9/hook",
                           .owner = owner};
    hark_err err = {0};
    if (store_submit(st, &spec, id, &err))
        TEST_FAIL_("store_submit: %s", err.msg);
}

static size_t count_events(store *st, const char *id)
{
    store_event_list l;
    ASSERT_EQ(store_list_events(st, STORE_SCOPE_ALL, id, 0, 0, &l, NULL), 0);
    size_t n = l.n;
    store_event_list_release(&l);
    return n;
}

/* Every call that names job id answers HARK_ENOENT in scope sc, exactly as
 * for a job that does not exist, and changes nothing. */
static void assert_out_of_scope(store *st, store_scope sc, const char *id)
{
    hark_err err = {0};
    store_job j;
    store_chunk_list cl;
    store_event_list el;
    store_webhook_list wl;
    int64_t ev = -1;
    int state = job_state_of(st, id);
    size_t events = count_events(st, id);
    ASSERT_EQ(store_get_job(st, sc, id, &j, &err), HARK_ENOENT);
    ASSERT(strstr(err.msg, id));
    ASSERT_EQ(store_pause(st, sc, id, &err), HARK_ENOENT);
    ASSERT_EQ(store_resume(st, sc, id, &err), HARK_ENOENT);
    ASSERT_EQ(store_cancel(st, sc, id, &err), HARK_ENOENT);
    ASSERT_EQ(store_fail(st, sc, id, "no", &err), HARK_ENOENT);
    ASSERT_EQ(store_succeed(st, sc, id, &err), HARK_ENOENT);
    ASSERT_EQ(store_delete_job(st, sc, id, &err), HARK_ENOENT);
    ASSERT_EQ(store_list_chunks(st, sc, id, &cl, &err), HARK_ENOENT);
    ASSERT_EQ(cl.n, 0);
    ASSERT_EQ(store_list_chunks_from(st, sc, id, 0, 10, &cl, &err), HARK_ENOENT);
    ASSERT_EQ(store_list_events(st, sc, id, 0, 0, &el, &err), HARK_ENOENT);
    ASSERT_EQ(el.n, 0);
    ASSERT_EQ(store_add_event(st, sc, id, "progress", NULL, &ev, &err), HARK_ENOENT);
    ASSERT_EQ(store_list_webhooks(st, sc, id, &wl, &err), HARK_ENOENT);
    ASSERT_EQ(wl.n, 0);
    ASSERT_EQ(job_state_of(st, id), state);
    ASSERT_EQ(count_events(st, id), events);
}

/* The ids store_list_jobs gives scope sc with filter f (NULL: all), every page. */
static size_t list_ids(store *st, store_scope sc, const store_job_filter *f,
                       char ids[][STORE_ID_SIZE], size_t max)
{
    store_job_filter page;
    if (f)
        page = *f;
    else
        store_job_filter_init(&page);
    page.limit = 1; /* a page per job: the cursor must stay in scope too */
    size_t n = 0;
    for (;;) {
        store_job_list l;
        hark_err err = {0};
        if (store_list_jobs(st, sc, &page, &l, &err))
            TEST_FAIL_("store_list_jobs: %s", err.msg);
        for (size_t i = 0; i < l.n; i++) {
            ASSERT(n < max);
            snprintf(ids[n++], STORE_ID_SIZE, "%s", l.jobs[i].id);
        }
        page.after_seq = l.next_after;
        store_job_list_release(&l);
        if (!page.after_seq)
            return n;
    }
}

static void test_owner_scopes_every_job_query(void)
{
    store *st = open_db();
    const store_scope alice = store_scope_owner("alice"), bob = store_scope_owner("bob"),
                      none = store_scope_owner("");
    char a1[STORE_ID_SIZE], b1[STORE_ID_SIZE], n1[STORE_ID_SIZE], a2[STORE_ID_SIZE];
    char ids[8][STORE_ID_SIZE];
    submit_owned(st, "alice", a1);
    submit_owned(st, "bob", b1);
    submit_owned(st, NULL, n1); /* no tokens: owner "" */
    submit_owned(st, "alice", a2);

    /* Reads. */
    store_job j;
    hark_err err = {0};
    ASSERT_EQ(store_get_job(st, alice, a1, &j, &err), 0);
    ASSERT_STREQ(j.owner, "alice");
    store_job_release(&j);
    ASSERT_EQ(store_get_job(st, none, n1, &j, &err), 0);
    ASSERT_STREQ(j.owner, "");
    store_job_release(&j);
    ASSERT_EQ(store_get_job(st, STORE_SCOPE_ALL, b1, &j, &err), 0);
    ASSERT_STREQ(j.owner, "bob");
    store_job_release(&j);
    ASSERT_EQ(list_ids(st, alice, NULL, ids, 8), 2);
    ASSERT_STREQ(ids[0], a1);
    ASSERT_STREQ(ids[1], a2);
    ASSERT_EQ(list_ids(st, bob, NULL, ids, 8), 1);
    ASSERT_STREQ(ids[0], b1);
    ASSERT_EQ(list_ids(st, none, NULL, ids, 8), 1);
    ASSERT_STREQ(ids[0], n1);
    ASSERT_EQ(list_ids(st, store_scope_owner("carol"), NULL, ids, 8), 0);
    ASSERT_EQ(list_ids(st, STORE_SCOPE_ALL, NULL, ids, 8), 4);
    store_job_filter f;
    store_job_filter_init(&f);
    f.newest_first = true;
    ASSERT_EQ(list_ids(st, alice, &f, ids, 8), 2);
    ASSERT_STREQ(ids[0], a2);
    ASSERT_STREQ(ids[1], a1);
    f.state = STORE_QUEUED;
    f.priority = STORE_PRIO_NORMAL;
    ASSERT_EQ(list_ids(st, bob, &f, ids, 8), 1);

    /* Another owner's job, and a job without an owner to a token, do not
     * exist: nothing a call does reaches them. */
    assert_out_of_scope(st, bob, a1);
    assert_out_of_scope(st, alice, b1);
    assert_out_of_scope(st, alice, n1);
    assert_out_of_scope(st, none, a1);
    assert_out_of_scope(st, store_scope_owner("Alice"), a1); /* names are exact */

    /* With chunks, events and a delivery in place, still nothing. */
    prepare(st, a1, 2);
    store_task t = claim(st, "w", LONG_LEASE);
    ASSERT_STREQ(t.job_id, a1);
    ASSERT_EQ(commit(st, t.token, "[[\"hi\",0.1,0.2,0.9]]", &err), 0);
    assert_out_of_scope(st, bob, a1);
    store_chunk_list cl;
    ASSERT_EQ(store_list_chunks(st, alice, a1, &cl, &err), 0);
    ASSERT_EQ(cl.n, 2);
    ASSERT_STREQ(cl.chunks[0].result, "[[\"hi\",0.1,0.2,0.9]]");
    store_chunk_list_release(&cl);
    ASSERT_EQ(store_list_chunks_from(st, alice, a1, 1, 5, &cl, &err), 0);
    ASSERT_EQ(cl.n, 1);
    store_chunk_list_release(&cl);
    int64_t ev = 0;
    ASSERT_EQ(store_add_event(st, alice, a1, "progress", "{\"p\":1}", &ev, &err), 0);
    store_event_list el;
    ASSERT_EQ(store_list_events(st, alice, a1, 0, 0, &el, &err), 0);
    ASSERT(el.n >= 4); /* queued, started, progress, chunk_committed, progress */
    ASSERT_EQ(el.events[el.n - 1].id, ev);
    store_event_list_release(&el);

    /* The owner controls its own: pause, resume, cancel (its webhook is
     * queued), the delivery, delete. */
    ASSERT_EQ(store_pause(st, alice, a1, &err), 0);
    ASSERT_EQ(store_resume(st, alice, a1, &err), 0);
    ASSERT_EQ(store_cancel(st, alice, a1, &err), 0);
    store_webhook_list wl;
    ASSERT_EQ(store_list_webhooks(st, alice, a1, &wl, &err), 0);
    ASSERT_EQ(wl.n, 1);
    store_webhook_list_release(&wl);
    assert_out_of_scope(st, bob, a1);
    ASSERT_EQ(store_delete_job(st, alice, a1, &err), 0);
    ASSERT_EQ(store_get_job(st, STORE_SCOPE_ALL, a1, &j, &err), HARK_ENOENT);
    ASSERT_EQ(store_fail(st, none, n1, "bad input", &err), 0);
    ASSERT_EQ(store_delete_job(st, none, n1, &err), 0);
    /* The all scope reaches every owner's job. */
    ASSERT_EQ(store_cancel(st, STORE_SCOPE_ALL, b1, &err), 0);
    ASSERT_EQ(store_delete_job(st, STORE_SCOPE_ALL, b1, &err), 0);
    ASSERT_EQ(list_ids(st, STORE_SCOPE_ALL, NULL, ids, 8), 1);
    ASSERT_STREQ(ids[0], a2);
    ASSERT_EQ(store_check(st, &err), 0);
    store_close(st);
}

/* The global event list: every job's events of a scope in id order, paged
 * by a bare id that survives the deletion of its event's job. */
static void test_events_since_across_jobs_by_scope(void)
{
    store *st = open_db();
    const store_scope alice = store_scope_owner("alice"), bob = store_scope_owner("bob");
    char a1[STORE_ID_SIZE], b1[STORE_ID_SIZE], a2[STORE_ID_SIZE];
    hark_err err = {0};
    int64_t none = -1;
    ASSERT_EQ(store_latest_event_id(st, &none, &err), 0);
    ASSERT_EQ(none, 0);
    submit_owned(st, "alice", a1);
    submit_owned(st, "bob", b1);
    submit_owned(st, "alice", a2);
    int64_t ea = 0, eb = 0;
    ASSERT_EQ(store_add_event(st, alice, a1, "progress", "{\"p\":1}", &ea, &err), 0);
    ASSERT_EQ(store_add_event(st, bob, b1, "progress", "{\"p\":2}", &eb, &err), 0);
    ASSERT(eb > ea);

    store_event_list el;
    ASSERT_EQ(store_list_events_since(st, alice, 0, 0, &el, &err), 0);
    ASSERT_EQ(el.n, 3); /* a1 queued, a2 queued, a1 progress */
    for (size_t i = 0; i < el.n; i++) {
        ASSERT(strcmp(el.events[i].job_id, b1) != 0);
        if (i)
            ASSERT(el.events[i].id > el.events[i - 1].id);
    }
    ASSERT_STREQ(el.events[0].job_id, a1);
    ASSERT_STREQ(el.events[1].job_id, a2);
    ASSERT_EQ(el.events[2].id, ea);
    ASSERT_STREQ(el.events[2].data, "{\"p\":1}");
    store_event_list_release(&el);
    ASSERT_EQ(store_list_events_since(st, bob, 0, 0, &el, &err), 0);
    ASSERT_EQ(el.n, 2);
    ASSERT_STREQ(el.events[0].job_id, b1);
    ASSERT_EQ(el.events[1].id, eb);
    store_event_list_release(&el);
    ASSERT_EQ(store_list_events_since(st, store_scope_owner("carol"), 0, 0, &el, &err), 0);
    ASSERT_EQ(el.n, 0);
    store_event_list_release(&el);
    ASSERT_EQ(store_list_events_since(st, STORE_SCOPE_ALL, 0, 0, &el, &err), 0);
    ASSERT_EQ(el.n, 5);
    int64_t latest = -1;
    ASSERT_EQ(store_latest_event_id(st, &latest, &err), 0);
    ASSERT_EQ(latest, el.events[4].id);
    store_event_list_release(&el);
    /* Paging: after an id, at most limit. */
    ASSERT_EQ(store_list_events_since(st, STORE_SCOPE_ALL, 0, 2, &el, &err), 0);
    ASSERT_EQ(el.n, 2);
    int64_t second = el.events[1].id;
    store_event_list_release(&el);
    ASSERT_EQ(store_list_events_since(st, STORE_SCOPE_ALL, second, 0, &el, &err), 0);
    ASSERT_EQ(el.n, 3);
    ASSERT(el.events[0].id > second);
    store_event_list_release(&el);

    /* A cursor that was an event of a job deleted since still pages on:
     * the later events of the other jobs, none of the deleted job's. */
    ASSERT_EQ(store_cancel(st, alice, a1, &err), 0);
    ASSERT_EQ(store_delete_job(st, alice, a1, &err), 0);
    ASSERT_EQ(store_add_event(st, alice, a2, "progress", NULL, &ea, &err), 0);
    ASSERT_EQ(store_list_events_since(st, alice, eb, 0, &el, &err), 0);
    ASSERT_EQ(el.n, 1);
    ASSERT_EQ(el.events[0].id, ea);
    ASSERT_STREQ(el.events[0].job_id, a2);
    store_event_list_release(&el);
    ASSERT_EQ(store_list_events_since(st, alice, 0, 0, &el, &err), 0);
    ASSERT_EQ(el.n, 2); /* a2's queued and progress */
    store_event_list_release(&el);

    /* Bad arguments. */
    ASSERT_EQ(store_list_events_since(st, (store_scope){0}, 0, 0, &el, &err), HARK_EINVAL);
    ASSERT_EQ(store_list_events_since(st, alice, 0, 10001, &el, &err), HARK_EINVAL);
    store_close(st);
}

/* A scope that says neither "every job" nor whose (a zeroed one: a caller
 * that forgot), or both, gets nothing; so does an owner no token can have. */
static void test_bad_scopes_are_refused(void)
{
    store *st = open_db();
    char id[STORE_ID_SIZE];
    submit_owned(st, "alice", id);
    char longname[STORE_OWNER_MAX + 2];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    const store_scope bad[] = {{.all = false, .owner = NULL},
                               {.all = true, .owner = "alice"},
                               {.all = false, .owner = longname}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        hark_err err = {0};
        store_job j;
        store_job_list jl;
        store_chunk_list cl;
        store_event_list el;
        store_webhook_list wl;
        ASSERT_EQ(store_get_job(st, bad[i], id, &j, &err), HARK_EINVAL);
        ASSERT(strstr(err.msg, "scope") || strstr(err.msg, "owner"));
        ASSERT_EQ(store_list_jobs(st, bad[i], NULL, &jl, &err), HARK_EINVAL);
        ASSERT_EQ(jl.n, 0);
        ASSERT_EQ(store_pause(st, bad[i], id, &err), HARK_EINVAL);
        ASSERT_EQ(store_cancel(st, bad[i], id, &err), HARK_EINVAL);
        ASSERT_EQ(store_delete_job(st, bad[i], id, &err), HARK_EINVAL);
        ASSERT_EQ(store_list_chunks(st, bad[i], id, &cl, &err), HARK_EINVAL);
        ASSERT_EQ(store_list_events(st, bad[i], id, 0, 0, &el, &err), HARK_EINVAL);
        ASSERT_EQ(store_add_event(st, bad[i], id, "x", NULL, NULL, &err), HARK_EINVAL);
        ASSERT_EQ(store_list_webhooks(st, bad[i], id, &wl, &err), HARK_EINVAL);
    }
    ASSERT_EQ(job_state_of(st, id), STORE_QUEUED);
    /* An owner longer than any token name is refused at submit. */
    store_job_spec spec = {
        .kind = "transcribe", .input = "in.wav", .priority = STORE_PRIO_NORMAL, .owner = longname};
    hark_err err = {0};
    char id2[STORE_ID_SIZE];
    ASSERT_EQ(store_submit(st, &spec, id2, &err), HARK_EINVAL);
    ASSERT(strstr(err.msg, "job owner is too long"));
    longname[STORE_OWNER_MAX] = '\0'; /* at the limit: fine */
    ASSERT_EQ(store_submit(st, &spec, id2, &err), 0);
    store_close(st);
}

/* ---- webhooks: the outbox ------------------------------------------------------- */

#define HOOK_LEASE 60000

static void submit_cb(store *st, const char *url, double timeout_s, char id[STORE_ID_SIZE])
{
    store_job_spec spec = {.kind = "transcribe",
                           .input = "in.wav",
                           .priority = STORE_PRIO_NORMAL,
                           .timeout_s = timeout_s,
                           .callback_url = url};
    hark_err err = {0};
    if (store_submit(st, &spec, id, &err))
        TEST_FAIL_("store_submit: %s", err.msg);
}

static store_webhook_list claim_hooks(store *st, int max, int64_t *wait_ms)
{
    store_webhook_list l;
    hark_err err = {0};
    if (store_claim_webhooks(st, max, HOOK_LEASE, &l, wait_ms, &err))
        TEST_FAIL_("store_claim_webhooks: %s", err.msg);
    return l;
}

static store_webhook_list hooks_of(store *st, const char *id)
{
    store_webhook_list l;
    hark_err err = {0};
    if (store_list_webhooks(st, STORE_SCOPE_ALL, id, &l, &err))
        TEST_FAIL_("store_list_webhooks: %s", err.msg);
    return l;
}

static int record(store *st, int64_t id, int attempt, int state, int status, const char *error,
                  int64_t delay_ms, int *state_out)
{
    store_webhook_attempt a = {
        .state = state, .status = status, .error = error, .retry_delay_ms = delay_ms};
    hark_err err = {0};
    return store_record_webhook(st, id, attempt, &a, state_out, &err);
}

/* The one delivery of job id: its event and its parsed body. */
static json_t *the_hook(store *st, const char *id, const char *event)
{
    store_webhook_list l = hooks_of(st, id);
    ASSERT_EQ(l.n, 1);
    ASSERT_STREQ(l.items[0].event, event);
    ASSERT_STREQ(l.items[0].job_id, id);
    ASSERT_EQ(l.items[0].state, STORE_WEBHOOK_PENDING);
    ASSERT_EQ(l.items[0].attempts, 0);
    ASSERT_EQ(l.items[0].next_at_ms, fake_now);
    json_t *body = json_loads(l.items[0].body, 0, NULL);
    ASSERT(json_is_object(body));
    ASSERT_STREQ(json_string_value(json_object_get(body, "event")), event);
    ASSERT_STREQ(json_string_value(json_object_get(body, "id")), id);
    store_webhook_list_release(&l);
    return body;
}

static void test_webhook_enqueued_with_every_terminal_state(void)
{
    fake_now = T0;
    store *st = open_db();
    hark_err err = {0};
    char ok[STORE_ID_SIZE], cancelled[STORE_ID_SIZE], failed[STORE_ID_SIZE];
    char overdue[STORE_ID_SIZE], plain[STORE_ID_SIZE];
    submit_cb(st, "https://user:pw@hooks.example/a?token=x", 0, ok);
    submit_cb(st, "http://127.0.0.1:9/b", 0, cancelled);
    submit_cb(st, "http://127.0.0.1:9/c", 0, failed);
    submit_cb(st, "http://127.0.0.1:9/d", 5, overdue);
    submit(st, STORE_PRIO_NORMAL, "plain.wav", plain);

    /* Nothing is sent before a job ends. */
    int64_t wait = 0;
    store_webhook_list l = claim_hooks(st, 8, &wait);
    ASSERT_EQ(l.n, 0);
    ASSERT_EQ(wait, -1);
    store_job j = get(st, ok);
    ASSERT_STREQ(j.callback_url, "https://user:pw@hooks.example/a?token=x");
    ASSERT_EQ(j.webhook_state, -1);
    store_job_release(&j);
    j = get(st, plain);
    ASSERT_STREQ(j.callback_url, "");
    store_job_release(&j);

    /* Success: prepared, one chunk, finished. */
    prepare(st, ok, 1);
    store_task t = claim(st, "w", LONG_LEASE);
    ASSERT_STREQ(t.job_id, ok);
    ASSERT_EQ(commit(st, t.token, "[]", &err), 0);
    fake_now += 1500;
    ASSERT_EQ(store_succeed(st, STORE_SCOPE_ALL, ok, &err), 0);
    json_t *b = the_hook(st, ok, "job.succeeded");
    ASSERT_STREQ(json_string_value(json_object_get(b, "state")), "succeeded");
    ASSERT_STREQ(json_string_value(json_object_get(b, "object")), "job");
    ASSERT_STREQ(json_string_value(json_object_get(b, "priority")), "normal");
    ASSERT_STREQ(json_string_value(json_object_get(b, "source")), "in.wav");
    char url[64];
    snprintf(url, sizeof url, "/v1/jobs/%s/result", ok);
    ASSERT_STREQ(json_string_value(json_object_get(b, "result_url")), url);
    ASSERT(json_is_null(json_object_get(b, "error")));
    ASSERT_NEAR(json_number_value(json_object_get(b, "finished_at")), fake_now / 1000.0, 1e-6);
    ASSERT_NEAR(json_number_value(json_object_get(b, "created_at")), T0 / 1000.0, 1e-6);
    ASSERT_EQ(json_integer_value(json_object_get(b, "duration")), 10);
    ASSERT_EQ(json_integer_value(json_object_get(b, "chunks")), 1);
    json_decref(b);
    j = get(st, ok);
    ASSERT_EQ(j.webhook_state, STORE_WEBHOOK_PENDING);
    ASSERT_EQ(j.webhook_attempts, 0);
    store_job_release(&j);

    /* Cancelled, failed by a caller, and failed by its deadline. */
    ASSERT_EQ(store_cancel(st, STORE_SCOPE_ALL, cancelled, &err), 0);
    b = the_hook(st, cancelled, "job.cancelled");
    ASSERT(json_is_null(json_object_get(b, "result_url")));
    ASSERT(json_is_null(json_object_get(b, "duration")));
    json_decref(b);
    ASSERT_EQ(
        store_fail(st, STORE_SCOPE_ALL, failed, "cannot decode 'c.wav': not a media file", &err),
        0);
    b = the_hook(st, failed, "job.failed");
    ASSERT_STREQ(json_string_value(json_object_get(b, "error")),
                 "cannot decode 'c.wav': not a media file");
    json_decref(b);
    fake_now += 6000;
    int n = 0;
    ASSERT_EQ(store_fail_overdue(st, &n, &err), 0);
    ASSERT_EQ(n, 1);
    b = the_hook(st, overdue, "job.failed");
    ASSERT_STREQ(json_string_value(json_object_get(b, "error")), "timed out after 5 s");
    json_decref(b);

    /* No callback, no delivery. */
    ASSERT_EQ(store_cancel(st, STORE_SCOPE_ALL, plain, &err), 0);
    l = hooks_of(st, plain);
    ASSERT_EQ(l.n, 0);
    store_webhook_list_release(&l);
    ASSERT_EQ(store_list_webhooks(st, STORE_SCOPE_ALL, "j0000000000000000", &l, &err), HARK_ENOENT);

    /* Due in the order the jobs ended. */
    l = claim_hooks(st, 8, &wait);
    ASSERT_EQ(l.n, 4);
    char did[STORE_DELIVERY_ID_SIZE];
    store_webhook_delivery_id(&l.items[0], did);
    ASSERT(strncmp(did, l.items[0].job_id, STORE_ID_SIZE - 1) == 0 &&
           did[STORE_ID_SIZE - 1] == '-');
    store_webhook_list_release(&l);
    ASSERT_EQ(store_check(st, &err), 0);

    /* Deleting a job deletes its deliveries. */
    ASSERT_EQ(store_delete_job(st, STORE_SCOPE_ALL, cancelled, &err), 0);
    ASSERT_EQ(store_test_count("SELECT count(*) FROM webhooks"), 3);
    store_close(st);
}

/* A job whose chunk fails max_attempts times fails with its delivery. */
static void test_webhook_enqueued_when_attempts_run_out(void)
{
    fake_now = T0;
    store_options o = {.now_ms = fake_clock, .max_attempts = 1};
    store *st = NULL;
    hark_err err = {0};
    ASSERT_EQ(store_open(store_test_location(), &o, &st, &err), 0);
    char id[STORE_ID_SIZE];
    submit_cb(st, "http://127.0.0.1:9/x", 0, id);
    store_task t = claim(st, "w", LONG_LEASE);
    store_release_info info;
    ASSERT_EQ(store_release(st, t.token, STORE_RELEASE_FAILED, "worker crashed", &info, &err), 0);
    ASSERT(info.job_failed);
    json_t *b = the_hook(st, id, "job.failed");
    ASSERT(strstr(json_string_value(json_object_get(b, "error")), "worker crashed") != NULL);
    json_decref(b);
    store_close(st);
}

static void test_webhook_retry_deliver_and_give_up(void)
{
    fake_now = T0;
    store_options o = {.now_ms = fake_clock, .webhook_max_attempts = 3};
    store *st = NULL;
    hark_err err = {0};
    ASSERT_EQ(store_open(store_test_location(), &o, &st, &err), 0);
    char a[STORE_ID_SIZE], b[STORE_ID_SIZE], c[STORE_ID_SIZE];
    submit_cb(st, "http://127.0.0.1:9/a", 0, a);
    submit_cb(st, "http://127.0.0.1:9/b", 0, b);
    submit_cb(st, "http://127.0.0.1:9/c", 0, c);
    ASSERT_EQ(store_cancel(st, STORE_SCOPE_ALL, a, &err), 0);
    ASSERT_EQ(store_cancel(st, STORE_SCOPE_ALL, b, &err), 0);

    int64_t wait = -5;
    store_webhook_list l = claim_hooks(st, 1, &wait);
    ASSERT_EQ(l.n, 1);
    ASSERT_STREQ(l.items[0].job_id, a);
    ASSERT_STREQ(l.items[0].url, "http://127.0.0.1:9/a");
    ASSERT_EQ(wait, 0); /* b is due */
    int64_t ha = l.items[0].id;
    store_webhook_list_release(&l);
    l = claim_hooks(st, 64, &wait);
    ASSERT_EQ(l.n, 1);
    ASSERT_STREQ(l.items[0].job_id, b);
    int64_t hb = l.items[0].id;
    store_webhook_list_release(&l);
    l = claim_hooks(st, 64, &wait); /* both held */
    ASSERT_EQ(l.n, 0);
    ASSERT_EQ(wait, HOOK_LEASE);

    /* a: 500, retry in 1 s. The same attempt cannot be recorded twice. */
    int state = -1;
    ASSERT_EQ(record(st, ha, 1, STORE_WEBHOOK_PENDING, 500, "HTTP 500", 1000, &state), 0);
    ASSERT_EQ(state, STORE_WEBHOOK_PENDING);
    ASSERT_EQ(record(st, ha, 1, STORE_WEBHOOK_PENDING, 500, "HTTP 500", 1000, &state), HARK_ESTALE);
    ASSERT_EQ(record(st, ha, 3, STORE_WEBHOOK_PENDING, 500, "HTTP 500", 1000, NULL), HARK_ESTALE);
    store_job j = get(st, a);
    ASSERT_EQ(j.webhook_state, STORE_WEBHOOK_PENDING);
    ASSERT_EQ(j.webhook_attempts, 1);
    ASSERT_EQ(j.webhook_last_status, 500);
    ASSERT_STREQ(j.webhook_last_error, "HTTP 500");
    store_job_release(&j);
    l = claim_hooks(st, 64, &wait); /* a backs off, b is held */
    ASSERT_EQ(l.n, 0);
    ASSERT_EQ(wait, 1000);
    fake_now += 999;
    l = claim_hooks(st, 64, &wait);
    ASSERT_EQ(l.n, 0);
    ASSERT_EQ(wait, 1);
    fake_now += 1;
    l = claim_hooks(st, 64, &wait);
    ASSERT_EQ(l.n, 1);
    ASSERT_EQ(l.items[0].id, ha);
    ASSERT_EQ(l.items[0].attempts, 1);
    store_webhook_list_release(&l);

    /* Attempt 2 times out; attempt 3 is the last one allowed: given up. */
    ASSERT_EQ(record(st, ha, 2, STORE_WEBHOOK_PENDING, 0, "no answer within 10 s", 50, &state), 0);
    fake_now += 50;
    l = claim_hooks(st, 64, NULL);
    ASSERT_EQ(l.n, 1);
    store_webhook_list_release(&l);
    ASSERT_EQ(record(st, ha, 3, STORE_WEBHOOK_PENDING, 503, "HTTP 503", 50, &state), 0);
    ASSERT_EQ(state, STORE_WEBHOOK_FAILED);
    j = get(st, a);
    ASSERT_EQ(j.webhook_state, STORE_WEBHOOK_FAILED);
    ASSERT_EQ(j.webhook_attempts, 3);
    ASSERT_EQ(j.webhook_last_status, 503);
    ASSERT_EQ(j.webhook_delivered_ms, 0);
    store_job_release(&j);

    /* b: delivered at once. */
    fake_now += 7;
    ASSERT_EQ(record(st, hb, 1, STORE_WEBHOOK_DELIVERED, 204, NULL, 0, &state), 0);
    ASSERT_EQ(state, STORE_WEBHOOK_DELIVERED);
    ASSERT_EQ(record(st, hb, 2, STORE_WEBHOOK_PENDING, 500, "late", 0, NULL), HARK_ESTALE);
    j = get(st, b);
    ASSERT_EQ(j.webhook_state, STORE_WEBHOOK_DELIVERED);
    ASSERT_EQ(j.webhook_attempts, 1);
    ASSERT_EQ(j.webhook_last_status, 204);
    ASSERT_STREQ(j.webhook_last_error, "");
    ASSERT_EQ(j.webhook_delivered_ms, fake_now);
    store_job_release(&j);
    l = claim_hooks(st, 64, &wait);
    ASSERT_EQ(l.n, 0);
    ASSERT_EQ(wait, -1);

    /* c: a permanent failure (404) ends it at the first attempt. */
    ASSERT_EQ(store_cancel(st, STORE_SCOPE_ALL, c, &err), 0);
    l = claim_hooks(st, 64, NULL);
    ASSERT_EQ(l.n, 1);
    ASSERT_EQ(record(st, l.items[0].id, 1, STORE_WEBHOOK_FAILED, 404, "HTTP 404", 0, &state), 0);
    ASSERT_EQ(state, STORE_WEBHOOK_FAILED);
    store_webhook_list_release(&l);
    l = hooks_of(st, c);
    ASSERT_EQ(l.n, 1);
    ASSERT_EQ(l.items[0].state, STORE_WEBHOOK_FAILED);
    ASSERT_STREQ(l.items[0].last_error, "HTTP 404");
    store_webhook_list_release(&l);

    /* Bad arguments. */
    ASSERT_EQ(record(st, 999999, 1, STORE_WEBHOOK_DELIVERED, 200, NULL, 0, NULL), HARK_ENOENT);
    ASSERT_EQ(record(st, hb, 0, STORE_WEBHOOK_DELIVERED, 200, NULL, 0, NULL), HARK_EINVAL);
    ASSERT_EQ(record(st, hb, 1, 7, 200, NULL, 0, NULL), HARK_EINVAL);
    ASSERT_EQ(record(st, hb, 1, STORE_WEBHOOK_PENDING, 500, NULL, -1, NULL), HARK_EINVAL);
    ASSERT_EQ(store_claim_webhooks(st, 0, HOOK_LEASE, &l, NULL, &err), HARK_EINVAL);
    ASSERT_EQ(store_claim_webhooks(st, 1, 0, &l, NULL, &err), HARK_EINVAL);
    char longurl[STORE_CALLBACK_URL_MAX + 2];
    memset(longurl, 'x', sizeof longurl - 1);
    longurl[sizeof longurl - 1] = '\0';
    store_job_spec spec = {.kind = "transcribe", .input = "x", .callback_url = longurl};
    char id[STORE_ID_SIZE];
    ASSERT_EQ(store_submit(st, &spec, id, &err), HARK_EINVAL);
    ASSERT(strstr(err.msg, "callback URL is too long") != NULL);
    store_close(st);
}

static int commits_seen;

static void count_commit(void *ctx)
{
    (void)ctx;
    commits_seen++;
}

/* A claim of nothing commits nothing (senders ask after every commit); a
 * lease that runs out frees the delivery, and the slower of two claimants
 * cannot record the attempt again. */
static void test_webhook_lease_and_claims_of_nothing(void)
{
    fake_now = T0;
    store_options o = {.now_ms = fake_clock, .on_commit = count_commit};
    store *st = NULL;
    hark_err err = {0};
    ASSERT_EQ(store_open(store_test_location(), &o, &st, &err), 0);
    char a[STORE_ID_SIZE];
    submit_cb(st, "http://127.0.0.1:9/a", 0, a);
    int before = commits_seen;
    int64_t wait;
    store_webhook_list l = claim_hooks(st, 4, &wait);
    ASSERT_EQ(l.n, 0);
    ASSERT_EQ(commits_seen, before);
    ASSERT_EQ(store_cancel(st, STORE_SCOPE_ALL, a, &err), 0);
    l = claim_hooks(st, 4, &wait);
    ASSERT_EQ(l.n, 1);
    int64_t h = l.items[0].id;
    store_webhook_list_release(&l);
    before = commits_seen;
    for (int i = 0; i < 5; i++) {
        l = claim_hooks(st, 4, &wait);
        ASSERT_EQ(l.n, 0);
    }
    ASSERT_EQ(commits_seen, before);
    fake_now += HOOK_LEASE;
    l = claim_hooks(st, 4, &wait); /* the first claimant is presumed dead */
    ASSERT_EQ(l.n, 1);
    ASSERT_EQ(l.items[0].id, h);
    store_webhook_list_release(&l);
    ASSERT_EQ(record(st, h, 1, STORE_WEBHOOK_DELIVERED, 200, NULL, 0, NULL), 0);
    ASSERT_EQ(record(st, h, 1, STORE_WEBHOOK_PENDING, 0, "timed out", 10, NULL), HARK_ESTALE);
    store_job j = get(st, a);
    ASSERT_EQ(j.webhook_state, STORE_WEBHOOK_DELIVERED);
    store_job_release(&j);
    store_close(st);
}

/* The outbox is in the file: a reopened store (a restarted daemon) finds
 * what is pending, and store_recover frees a delivery whose sender died
 * mid-attempt, attempt uncounted. */
static void test_webhook_survives_restart_and_recover_frees_claims(void)
{
    fake_now = T0;
    store *st = open_db();
    hark_err err = {0};
    char a[STORE_ID_SIZE], b[STORE_ID_SIZE];
    submit_cb(st, "http://127.0.0.1:9/a", 0, a);
    submit_cb(st, "http://127.0.0.1:9/b", 0, b);
    ASSERT_EQ(store_cancel(st, STORE_SCOPE_ALL, a, &err), 0);
    ASSERT_EQ(store_cancel(st, STORE_SCOPE_ALL, b, &err), 0);
    store_webhook_list l = claim_hooks(st, 1, NULL); /* a: "in flight" when the daemon dies */
    ASSERT_EQ(l.n, 1);
    ASSERT_STREQ(l.items[0].job_id, a);
    store_webhook_list_release(&l);
    store_close(st);

    st = open_db();
    int64_t wait;
    l = claim_hooks(st, 8, &wait); /* without recovery, only b */
    ASSERT_EQ(l.n, 1);
    ASSERT_STREQ(l.items[0].job_id, b);
    ASSERT_EQ(record(st, l.items[0].id, 1, STORE_WEBHOOK_DELIVERED, 200, NULL, 0, NULL), 0);
    store_webhook_list_release(&l);
    store_close(st);

    st = open_db();
    ASSERT_EQ(store_recover(st, NULL, &err), 0);
    l = claim_hooks(st, 8, &wait);
    ASSERT_EQ(l.n, 1);
    ASSERT_STREQ(l.items[0].job_id, a);
    ASSERT_EQ(l.items[0].attempts, 0);
    store_webhook_list_release(&l);
    store_job j = get(st, b);
    ASSERT_EQ(j.webhook_state, STORE_WEBHOOK_DELIVERED);
    store_job_release(&j);
    store_close(st);
}

/* A database made by the previous schema (version 2, with a job in it) is
 * migrated: the job has no callback and gets no delivery. */
/* ---- retry ---------------------------------------------------------------------- */

static store_chunk_list chunks_of(store *st, const char *id)
{
    store_chunk_list l;
    hark_err err = {0};
    if (store_list_chunks(st, STORE_SCOPE_ALL, id, &l, &err))
        TEST_FAIL_("store_list_chunks: %s", err.msg);
    return l;
}

/* Fail task t of a job once, with cause. */
static store_release_info fail_once(store *st, const store_task *t, const char *cause)
{
    store_release_info ri;
    hark_err err = {0};
    if (store_release(st, t->token, STORE_RELEASE_FAILED, cause, &ri, &err))
        TEST_FAIL_("store_release: %s", err.msg);
    return ri;
}

static void test_retry_keeps_committed_chunks_and_resets_attempts(void)
{
    fake_now = T0;
    store *st = open_db();
    hark_err err = {0};
    char id[STORE_ID_SIZE], other[STORE_ID_SIZE];
    submit_cb(st, "http://127.0.0.1:9/h", 0, id);
    prepare(st, id, 3);
    store_task c0 = claim(st, "w", LONG_LEASE);
    ASSERT_EQ(c0.idx, 0);
    ASSERT_EQ(store_commit_chunk(st, c0.token, "[\"zero\"]", 0.5, NULL, &err), 0);
    /* Chunk 1 is killed three times; chunk 2 once, in between. */
    store_task t = claim(st, "w", LONG_LEASE);
    ASSERT_EQ(t.idx, 1);
    fail_once(st, &t, "worker crash with signal 9");
    t = claim(st, "w", LONG_LEASE);
    ASSERT_EQ(t.idx, 2);
    fail_once(st, &t, "worker crash with signal 9");
    for (int a = 2; a <= 3; a++) {
        fake_now += 60000;
        t = claim(st, "w", LONG_LEASE);
        ASSERT_EQ(t.idx, 1);
        ASSERT_EQ(t.attempt, a);
        ASSERT_EQ(fail_once(st, &t, "worker crash with signal 9").job_failed, a == 3);
    }
    store_job j = get(st, id);
    ASSERT_EQ(j.state, STORE_FAILED);
    ASSERT(strstr(j.error, "chunk 1 (10.0-20.0 s) failed 3 times"));
    ASSERT(j.finished_ms > 0);
    ASSERT_EQ(j.webhook_state, STORE_WEBHOOK_PENDING);
    store_job_release(&j);

    /* Only a failed job can be retried. */
    submit(st, STORE_PRIO_NORMAL, "b.wav", other);
    ASSERT_EQ(store_retry(st, STORE_SCOPE_ALL, other, 0, &err), HARK_EINVAL);
    ASSERT(strstr(err.msg, "cannot retry job") && strstr(err.msg, "it is queued"));
    ASSERT_EQ(store_pause(st, STORE_SCOPE_ALL, other, &err), 0);
    ASSERT_EQ(store_retry(st, STORE_SCOPE_ALL, other, 0, &err), HARK_EINVAL);
    ASSERT(strstr(err.msg, "it is paused"));
    ASSERT_EQ(store_cancel(st, STORE_SCOPE_ALL, other, &err), 0);
    ASSERT_EQ(store_retry(st, STORE_SCOPE_ALL, other, 0, &err), HARK_EINVAL);
    ASSERT(strstr(err.msg, "it is cancelled"));
    ASSERT_EQ(store_retry(st, STORE_SCOPE_ALL, "j0000000000000000", 0, &err), HARK_ENOENT);
    ASSERT_EQ(store_retry(st, STORE_SCOPE_ALL, "", 0, &err), HARK_EINVAL);

    fake_now += 1000;
    ASSERT_EQ(store_retry(st, STORE_SCOPE_ALL, id, 0, &err), 0);
    j = get(st, id);
    ASSERT_EQ(j.state, STORE_QUEUED);
    ASSERT_STREQ(j.error, "");
    ASSERT_EQ(j.finished_ms, 0);
    ASSERT_EQ(j.chunks_done, 1);
    ASSERT(j.prepared);
    ASSERT_EQ(j.webhook_state, -1); /* its job.failed delivery is history now */
    store_job_release(&j);
    ASSERT_EQ(store_retry(st, STORE_SCOPE_ALL, id, 0, &err), HARK_EINVAL); /* once */
    store_chunk_list cl = chunks_of(st, id);
    ASSERT_EQ(cl.n, 3);
    ASSERT_EQ(cl.chunks[0].state, STORE_CHUNK_DONE);
    ASSERT_STREQ(cl.chunks[0].result, "[\"zero\"]");
    for (size_t i = 1; i < 3; i++) {
        ASSERT_EQ(cl.chunks[i].state, STORE_CHUNK_PENDING);
        ASSERT_EQ(cl.chunks[i].attempts, 0);
        ASSERT_STREQ(cl.chunks[i].last_error, "");
    }
    store_chunk_list_release(&cl);
    store_event_list el;
    ASSERT_EQ(store_list_events(st, STORE_SCOPE_ALL, id, 0, 0, &el, &err), 0);
    ASSERT_STREQ(el.events[el.n - 1].type, "retried");
    int64_t last = 0;
    ASSERT_EQ(store_last_event_id(st, STORE_SCOPE_ALL, id, "retried", &last, &err), 0);
    ASSERT_EQ(last, el.events[el.n - 1].id);
    ASSERT_EQ(store_last_event_id(st, STORE_SCOPE_ALL, other, "retried", &last, &err), 0);
    ASSERT_EQ(last, 0);
    ASSERT(strstr(el.events[el.n - 1].data, "\"chunks_done\":1"));
    ASSERT(strstr(el.events[el.n - 1].data, "failed 3 times"));
    store_event_list_release(&el);
    ASSERT_EQ(store_check(st, &err), 0);

    /* It runs again at once (no backoff left), from chunk 1, to success:
     * chunk 0 is never handed out again. */
    store_task r1 = claim(st, "w", LONG_LEASE), r2 = claim(st, "w", LONG_LEASE);
    ASSERT_EQ(r1.idx, 1);
    ASSERT_EQ(r1.attempt, 1);
    ASSERT_EQ(r2.idx, 2);
    ASSERT_EQ(r2.attempt, 1);
    ASSERT_EQ(claim(st, "w", LONG_LEASE).kind, STORE_TASK_NONE);
    ASSERT_EQ(job_state_of(st, id), STORE_RUNNING);
    store_commit_info info;
    ASSERT_EQ(store_commit_chunk(st, r1.token, "[\"one\"]", 0.5, &info, &err), 0);
    ASSERT_EQ(store_commit_chunk(st, r2.token, "[\"two\"]", 0.5, &info, &err), 0);
    ASSERT(info.job_complete);
    ASSERT_EQ(store_succeed(st, STORE_SCOPE_ALL, id, &err), 0);
    cl = chunks_of(st, id);
    ASSERT_STREQ(cl.chunks[0].result, "[\"zero\"]");
    ASSERT_STREQ(cl.chunks[1].result, "[\"one\"]");
    store_chunk_list_release(&cl);
    store_counters c = counters(st);
    ASSERT_EQ(c.jobs_failed, 1);
    ASSERT_EQ(c.jobs_succeeded, 1);
    /* Both endings were announced, in order. */
    store_webhook_list hl = hooks_of(st, id);
    ASSERT_EQ(hl.n, 2);
    ASSERT_STREQ(hl.items[0].event, "job.failed");
    ASSERT_STREQ(hl.items[1].event, "job.succeeded");
    store_webhook_list_release(&hl);
    ASSERT_EQ(store_retry(st, STORE_SCOPE_ALL, id, 0, &err), HARK_EINVAL);
    ASSERT(strstr(err.msg, "it is succeeded"));
    ASSERT_EQ(store_check(st, &err), 0);
    store_close(st);
}

static void test_retry_of_a_failed_prepare_prepares_again(void)
{
    fake_now = T0;
    store *st = open_db();
    hark_err err = {0};
    char id[STORE_ID_SIZE], bad[STORE_ID_SIZE];
    submit(st, STORE_PRIO_NORMAL, "/srv/up/1", id);
    for (int a = 1; a <= 3; a++) {
        store_task t = claim(st, "w", LONG_LEASE);
        ASSERT_EQ(t.kind, STORE_TASK_PREPARE);
        fail_once(st, &t, "out of disk space");
        fake_now += 60000;
    }
    ASSERT_EQ(job_state_of(st, id), STORE_FAILED);
    /* A job failed by its input's fault (store_fail): its prepare task was
     * revoked, not counted. */
    submit(st, STORE_PRIO_NORMAL, "/srv/up/2", bad);
    store_task t = claim(st, "w", LONG_LEASE);
    ASSERT_STREQ(t.job_id, bad);
    ASSERT_EQ(
        store_fail(st, STORE_SCOPE_ALL, bad, "cannot decode '/srv/up/2': not a media file", &err),
        0);

    ASSERT_EQ(store_retry(st, STORE_SCOPE_ALL, id, 0, &err), 0);
    store_job j = get(st, id);
    ASSERT_EQ(j.state, STORE_QUEUED);
    ASSERT(!j.prepared);
    ASSERT_EQ(j.prepare_attempts, 0);
    ASSERT_STREQ(j.prepare_error, "");
    store_job_release(&j);
    prepare(st, id, 2); /* the prepare task comes first again, attempt 1 */
    ASSERT_EQ(store_retry(st, STORE_SCOPE_ALL, bad, 0, &err), 0);
    t = claim(st, "w", LONG_LEASE);
    ASSERT_STREQ(t.job_id, id); /* FIFO: the older job's chunks first */
    ASSERT_EQ(t.idx, 0);
    ASSERT_EQ(store_check(st, &err), 0);
    store_close(st);
}

static void test_retry_respects_class_limit_and_restarts_timeout(void)
{
    fake_now = T0;
    store *st = open_db();
    hark_err err = {0};
    char id[STORE_ID_SIZE], busy[STORE_ID_SIZE];
    store_job_spec spec = {
        .kind = "transcribe", .input = "a.wav", .priority = STORE_PRIO_HIGH, .timeout_s = 5};
    ASSERT_EQ(store_submit(st, &spec, id, &err), 0);
    fake_now += 6000;
    int n = 0;
    ASSERT_EQ(store_fail_overdue(st, &n, &err), 0);
    ASSERT_EQ(n, 1);
    submit(st, STORE_PRIO_HIGH, "b.wav", busy);
    ASSERT_EQ(store_retry(st, STORE_SCOPE_ALL, id, 1, &err), HARK_EFULL);
    ASSERT(strstr(err.msg, "the high queue is full"));
    ASSERT_EQ(job_state_of(st, id), STORE_FAILED);
    ASSERT_EQ(store_retry(st, STORE_SCOPE_ALL, id, 2, &err), 0);
    store_job j = get(st, id);
    ASSERT_EQ(j.deadline_ms, fake_now + 5000); /* the timeout counts from the retry */
    store_job_release(&j);
    store_task t = claim(st, "w", LONG_LEASE);
    ASSERT_STREQ(t.job_id, id);
    ASSERT_EQ(store_check(st, &err), 0);
    store_close(st);
}

/* ---- retention ------------------------------------------------------------------ */

static void test_unreleased_inputs_of_succeeded_and_cancelled_jobs(void)
{
    fake_now = T0;
    store *st = open_db();
    hark_err err = {0};
    char ok[STORE_ID_SIZE], cancelled[STORE_ID_SIZE], failed[STORE_ID_SIZE], queued[STORE_ID_SIZE];
    submit(st, STORE_PRIO_NORMAL, "ok.wav", ok);
    submit(st, STORE_PRIO_NORMAL, "cancelled.wav", cancelled);
    submit(st, STORE_PRIO_NORMAL, "failed.wav", failed);
    submit(st, STORE_PRIO_NORMAL, "queued.wav", queued);
    store_job_list l;
    ASSERT_EQ(store_list_unreleased(st, 10, &l, &err), 0);
    ids_are(&l, NULL, NULL);
    store_job_list_release(&l);
    prepare(st, ok, 1);
    store_task t = claim(st, "w", LONG_LEASE);
    ASSERT_EQ(store_commit_chunk(st, t.token, "[]", 0.1, NULL, &err), 0);
    fake_now += 10;
    ASSERT_EQ(store_succeed(st, STORE_SCOPE_ALL, ok, &err), 0);
    fake_now += 10;
    ASSERT_EQ(store_cancel(st, STORE_SCOPE_ALL, cancelled, &err), 0);
    ASSERT_EQ(store_fail(st, STORE_SCOPE_ALL, failed, "chunk 0 failed 3 times", &err), 0);
    ASSERT_EQ(store_list_unreleased(st, 10, &l, &err), 0);
    ids_are(&l, ok, cancelled); /* earliest ended first; failed jobs keep theirs */
    ASSERT_STREQ(l.jobs[1].input, "cancelled.wav");
    store_job_list_release(&l);
    ASSERT_EQ(store_list_unreleased(st, 1, &l, &err), 0);
    ids_are(&l, ok, NULL);
    store_job_list_release(&l);
    ASSERT_EQ(store_list_unreleased(st, 0, &l, &err), HARK_EINVAL);

    const char *done[] = {ok, "j0000000000000000"}; /* a vanished job is skipped */
    ASSERT_EQ(store_mark_released(st, done, 2, &err), 0);
    ASSERT_EQ(store_list_unreleased(st, 10, &l, &err), 0);
    ids_are(&l, cancelled, NULL);
    store_job_list_release(&l);
    /* A failed job that is retried and succeeds releases its input then. */
    ASSERT_EQ(store_retry(st, STORE_SCOPE_ALL, failed, 0, &err), 0);
    prepare(st, failed, 1);
    t = claim(st, "w", LONG_LEASE);
    ASSERT_EQ(store_commit_chunk(st, t.token, "[]", 0.1, NULL, &err), 0);
    fake_now += 10;
    ASSERT_EQ(store_succeed(st, STORE_SCOPE_ALL, failed, &err), 0);
    ASSERT_EQ(store_list_unreleased(st, 10, &l, &err), 0);
    ids_are(&l, cancelled, failed);
    store_job_list_release(&l);
    ASSERT_EQ(store_check(st, &err), 0);
    store_close(st);
}

static void test_prune_deletes_ended_jobs_past_retention_only(void)
{
    fake_now = T0;
    store *st = open_db();
    hark_err err = {0};
    char ok[STORE_ID_SIZE], failed[STORE_ID_SIZE], cancelled[STORE_ID_SIZE];
    char queued[STORE_ID_SIZE], paused[STORE_ID_SIZE], running[STORE_ID_SIZE];
    submit(st, STORE_PRIO_LOW, "queued.wav", queued); /* old, but never ends */
    submit(st, STORE_PRIO_LOW, "paused.wav", paused);
    ASSERT_EQ(store_pause(st, STORE_SCOPE_ALL, paused, &err), 0);
    submit(st, STORE_PRIO_NORMAL, "ok.wav", ok);
    submit_cb(st, "http://127.0.0.1:9/h", 0, failed);
    submit(st, STORE_PRIO_NORMAL, "cancelled.wav", cancelled);
    submit(st, STORE_PRIO_HIGH, "running.wav", running);
    store_task rt = claim(st, "w", LONG_LEASE);
    ASSERT_STREQ(rt.job_id, running);
    fake_now = T0 + 1000;
    prepare(st, ok, 2);
    for (int i = 0; i < 2; i++) {
        store_task t = claim(st, "w", LONG_LEASE);
        ASSERT_EQ(store_commit_chunk(st, t.token, "[]", 0.1, NULL, &err), 0);
    }
    ASSERT_EQ(store_succeed(st, STORE_SCOPE_ALL, ok, &err), 0);
    ASSERT_EQ(
        store_fail(st, STORE_SCOPE_ALL, failed, "cannot decode 'in.wav': not a media file", &err),
        0);
    fake_now = T0 + 5000;
    ASSERT_EQ(store_cancel(st, STORE_SCOPE_ALL, cancelled, &err), 0);

    store_job_list l;
    fake_now = T0 + 60000;
    ASSERT_EQ(store_prune(st, 60000, 10, &l, &err), 0); /* ended 59 s ago: kept */
    ids_are(&l, NULL, NULL);
    store_job_list_release(&l);
    fake_now = T0 + 61000;
    ASSERT_EQ(store_prune(st, 60000, 1, &l, &err), 0); /* at most 1, earliest first */
    ids_are(&l, ok, NULL);
    ASSERT_STREQ(l.jobs[0].input, "ok.wav");
    store_job_list_release(&l);
    ASSERT_EQ(store_prune(st, 60000, 10, &l, &err), 0);
    ids_are(&l, failed, NULL);
    store_job_list_release(&l);
    ASSERT_EQ(store_get_job(st, STORE_SCOPE_ALL, ok, &(store_job){0}, &err), HARK_ENOENT);
    ASSERT_EQ(
        store_test_count("SELECT count(*) FROM tasks WHERE job_id NOT IN (SELECT id FROM jobs)"),
        0);
    ASSERT_EQ(
        store_test_count("SELECT count(*) FROM events WHERE job_id NOT IN (SELECT id FROM jobs)"),
        0);
    ASSERT_EQ(store_test_count("SELECT count(*) FROM webhooks"), 0);

    /* Years later, only what ended is gone: unfinished jobs stay. */
    fake_now = T0 + 3LL * 365 * 86400000;
    ASSERT_EQ(store_prune(st, 60000, 10, &l, &err), 0);
    ids_are(&l, cancelled, NULL);
    store_job_list_release(&l);
    ASSERT_EQ(store_prune(st, 0, 10, &l, &err), 0);
    ids_are(&l, NULL, NULL);
    store_job_list_release(&l);
    ASSERT_EQ(job_state_of(st, queued), STORE_QUEUED);
    ASSERT_EQ(job_state_of(st, paused), STORE_PAUSED);
    ASSERT_EQ(job_state_of(st, running), STORE_RUNNING);
    ASSERT_EQ(store_prune(st, -1, 10, &l, &err), HARK_EINVAL);
    ASSERT_EQ(store_prune(st, 0, 0, &l, &err), HARK_EINVAL);
    /* A retried job is not ended: its old finish time does not count. */
    ASSERT_EQ(store_fail(st, STORE_SCOPE_ALL, queued, "chunk 0 failed 3 times", &err), 0);
    ASSERT_EQ(store_retry(st, STORE_SCOPE_ALL, queued, 0, &err), 0);
    fake_now += 86400000;
    ASSERT_EQ(store_prune(st, 0, 10, &l, &err), 0);
    ids_are(&l, NULL, NULL);
    store_job_list_release(&l);
    ASSERT_EQ(store_check(st, &err), 0);
    store_close(st);
}

/* ---- live inputs ------------------------------------------------------------------ */

#define WORDS0 "[[\"hello\",0.5,0.9,0.95]]"
#define WORDS1 "[[\"world\",1.5,1.9,0.9]]"

static int64_t last_event(store *st, const char *id)
{
    store_event_list l;
    ASSERT_EQ(store_list_events(st, STORE_SCOPE_ALL, id, 0, 10000, &l, NULL), 0);
    int64_t last = l.n ? l.events[l.n - 1].id : 0;
    store_event_list_release(&l);
    return last;
}

/* The events of id after `after` are exactly these types, in order (n of
 * them); returns the last one's id. datas[i] (may be NULL) must be in the
 * i-th event's data. */
static int64_t events_are(store *st, const char *id, int64_t after, size_t n,
                          const char *const *types, const char *const *datas)
{
    store_event_list l;
    hark_err err = {0};
    ASSERT_EQ(store_list_events(st, STORE_SCOPE_ALL, id, after, 0, &l, &err), 0);
    if (l.n != n) {
        for (size_t i = 0; i < l.n; i++)
            fprintf(stderr, "  event %s %s\n", l.events[i].type, l.events[i].data);
        TEST_FAIL_("job %s: %zu events after %lld, expected %zu", id, l.n, (long long)after, n);
    }
    for (size_t i = 0; i < n; i++) {
        ASSERT_STREQ(l.events[i].type, types[i]);
        if (datas && datas[i] && !strstr(l.events[i].data, datas[i]))
            TEST_FAIL_("event %s data %s does not hold %s", types[i], l.events[i].data, datas[i]);
    }
    int64_t last = n ? l.events[n - 1].id : after;
    store_event_list_release(&l);
    return last;
}

static int live_commit(store *st, int64_t token, int64_t start, int64_t end, const char *result,
                       const char *delta, store_commit_info *info, hark_err *err)
{
    return store_commit_live_chunk(st, token, start, end, result, delta, 0.25, info, err);
}

static void test_live_input_grows_and_closes(void)
{
    fake_now = T0;
    store *st = open_db();
    char a[STORE_ID_SIZE], b[STORE_ID_SIZE], c[STORE_ID_SIZE], plain[STORE_ID_SIZE];
    hark_err err = {0};
    submit_live(st, "alice", a);
    submit(st, STORE_PRIO_NORMAL, "x.wav", plain);
    store_job j = get(st, a);
    ASSERT(j.input_open);
    ASSERT_EQ(j.input_bytes, 0);
    ASSERT_EQ(j.input_at_ms, T0); /* idle counts from the job's start */
    store_job_release(&j);
    j = get(st, plain);
    ASSERT(!j.input_open);
    store_job_release(&j);
    check_store(st);

    int64_t ev = last_event(st, a);
    fake_now = T0 + 100;
    ASSERT_EQ(store_input_append(st, store_scope_owner("alice"), a, 3200, &err), 0);
    j = get(st, a);
    ASSERT_EQ(j.input_bytes, 3200);
    ASSERT_EQ(j.input_at_ms, T0 + 100);
    ASSERT(j.input_open);
    store_job_release(&j);
    fake_now = T0 + 200;
    ASSERT_EQ(store_input_append(st, STORE_SCOPE_ALL, a, 9600, &err), 0);
    fake_now = T0 + 300;
    /* Shorter than what was recorded: refused, nothing changes. */
    ASSERT_EQ(store_input_append(st, STORE_SCOPE_ALL, a, 9599, &err), HARK_EINVAL);
    ASSERT(strstr(err.msg, "already has 9600 bytes") != NULL);
    ASSERT(strstr(err.msg, a) != NULL);
    ASSERT_EQ(store_input_append(st, STORE_SCOPE_ALL, a, -1, &err), HARK_EINVAL);
    /* Out of scope, or no such job: as if it were not there. */
    ASSERT_EQ(store_input_append(st, store_scope_owner("bob"), a, 12800, &err), HARK_ENOENT);
    ASSERT(strstr(err.msg, a) != NULL);
    ASSERT_EQ(store_input_append(st, store_scope_owner(""), a, 12800, &err), HARK_ENOENT);
    ASSERT_EQ(store_input_append(st, STORE_SCOPE_ALL, "j00000000000000aa", 1, &err), HARK_ENOENT);
    bool was_open = true;
    ASSERT_EQ(store_input_close(st, store_scope_owner("bob"), a, "end", &was_open, &err),
              HARK_ENOENT);
    ASSERT(!was_open);
    ASSERT_EQ(store_input_append(st, (store_scope){0}, a, 12800, &err), HARK_EINVAL);
    j = get(st, a);
    ASSERT_EQ(j.input_bytes, 9600);
    ASSERT_EQ(j.input_at_ms, T0 + 200);
    ASSERT(j.input_open);
    store_job_release(&j);
    ASSERT_EQ(last_event(st, a), ev); /* appends are not events */

    /* A job that never had an open input takes no audio. */
    ASSERT_EQ(store_input_append(st, STORE_SCOPE_ALL, plain, 10, &err), HARK_EINVAL);
    ASSERT(strstr(err.msg, "is not taking audio") != NULL);
    ASSERT_EQ(store_input_close(st, STORE_SCOPE_ALL, plain, "end", &was_open, &err), 0);
    ASSERT(!was_open);
    ASSERT_EQ(last_event(st, plain), events_are(st, plain, 0, 1, (const char *[]){"queued"}, NULL));

    /* Close: once, with an event; again is no error and no event. */
    fake_now = T0 + 400;
    ASSERT_EQ(store_input_close(st, store_scope_owner("alice"), a, "end", &was_open, &err), 0);
    ASSERT(was_open);
    ev = events_are(st, a, ev, 1, (const char *[]){"input_ended"},
                    (const char *[]){"\"reason\":\"end\""});
    store_event_list el;
    ASSERT_EQ(store_list_events(st, STORE_SCOPE_ALL, a, ev - 1, 1, &el, &err), 0);
    json_t *d = json_loads(el.events[0].data, 0, NULL);
    ASSERT_EQ(json_integer_value(json_object_get(d, "bytes")), 9600);
    ASSERT_EQ(el.events[0].time_ms, T0 + 400);
    json_decref(d);
    store_event_list_release(&el);
    j = get(st, a);
    ASSERT(!j.input_open);
    ASSERT_EQ(j.input_bytes, 9600);
    ASSERT_EQ(j.state, STORE_QUEUED); /* closed input, job goes on */
    store_job_release(&j);
    ASSERT_EQ(store_input_close(st, STORE_SCOPE_ALL, a, "idle", &was_open, &err), 0);
    ASSERT(!was_open);
    ASSERT_EQ(store_input_close(st, STORE_SCOPE_ALL, a, "idle", NULL, &err), 0);
    ASSERT_EQ(last_event(st, a), ev);
    ASSERT_EQ(store_input_append(st, STORE_SCOPE_ALL, a, 12800, &err), HARK_EINVAL);
    ASSERT(strstr(err.msg, "is not taking audio") && strstr(err.msg, "ended"));
    ASSERT_EQ(store_input_append(st, STORE_SCOPE_ALL, a, 9600, &err), HARK_EINVAL);
    check_store(st);

    /* Cancel and fail close the input: appends are refused naming why. */
    submit_live(st, "", b);
    submit_live(st, "", c);
    ASSERT_EQ(store_input_append(st, STORE_SCOPE_ALL, b, 320, &err), 0);
    ASSERT_EQ(store_cancel(st, STORE_SCOPE_ALL, b, &err), 0);
    ASSERT_EQ(store_fail(st, STORE_SCOPE_ALL, c, "bad audio", &err), 0);
    check_store(st);
    ASSERT_EQ(store_input_append(st, STORE_SCOPE_ALL, b, 640, &err), HARK_EINVAL);
    ASSERT(strstr(err.msg, b) && strstr(err.msg, "cancelled"));
    ASSERT_EQ(store_input_append(st, STORE_SCOPE_ALL, c, 640, &err), HARK_EINVAL);
    ASSERT(strstr(err.msg, c) && strstr(err.msg, "failed"));
    j = get(st, b);
    ASSERT(!j.input_open);
    ASSERT_EQ(j.input_bytes, 320);
    store_job_release(&j);
    ASSERT_EQ(store_input_close(st, STORE_SCOPE_ALL, b, "end", &was_open, &err), 0);
    ASSERT(!was_open);
    ASSERT_EQ(store_input_close(st, STORE_SCOPE_ALL, b, "", &was_open, &err), HARK_EINVAL);
    check_store(st);
    store_close(st);
}

static void test_open_inputs_longest_idle_first(void)
{
    fake_now = T0;
    store *st = open_db();
    char a[STORE_ID_SIZE], b[STORE_ID_SIZE], c[STORE_ID_SIZE], d[STORE_ID_SIZE], x[STORE_ID_SIZE];
    hark_err err = {0};
    submit_live(st, "alice", a);
    fake_now += 10;
    submit_live(st, "", b);
    fake_now += 10;
    submit_live(st, "bob", c);
    fake_now += 10;
    submit_live(st, "", d);
    submit(st, STORE_PRIO_NORMAL, "x.wav", x);
    fake_now += 10;
    ASSERT_EQ(store_input_append(st, STORE_SCOPE_ALL, a, 100, &err), 0); /* a: freshest now */
    store_job_list l;
    ASSERT_EQ(store_list_open_inputs(st, 10, &l, &err), 0);
    list_is(&l, 4, (const char *[]){b, c, d, a});
    ASSERT(l.jobs[3].input_open);
    ASSERT_EQ(l.jobs[3].input_bytes, 100);
    ASSERT_EQ(l.jobs[3].input_at_ms, T0 + 40);
    store_job_list_release(&l);
    ASSERT_EQ(store_list_open_inputs(st, 2, &l, &err), 0);
    list_is(&l, 2, (const char *[]){b, c});
    store_job_list_release(&l);

    /* Closed, cancelled, failed or paused-then-cancelled: gone from the list. */
    ASSERT_EQ(store_input_close(st, STORE_SCOPE_ALL, c, "end", NULL, &err), 0);
    ASSERT_EQ(store_cancel(st, STORE_SCOPE_ALL, b, &err), 0);
    ASSERT_EQ(store_pause(st, STORE_SCOPE_ALL, d, &err), 0); /* paused: still open */
    ASSERT_EQ(store_list_open_inputs(st, 10, &l, &err), 0);
    list_is(&l, 2, (const char *[]){d, a});
    store_job_list_release(&l);
    ASSERT_EQ(store_fail(st, STORE_SCOPE_ALL, d, "no", &err), 0);
    ASSERT_EQ(store_list_open_inputs(st, 10, &l, &err), 0);
    list_is(&l, 1, (const char *[]){a});
    store_job_list_release(&l);

    ASSERT_EQ(store_list_open_inputs(st, 0, &l, &err), HARK_EINVAL);
    ASSERT_EQ(l.n, 0);
    ASSERT_EQ(store_list_open_inputs(st, 1001, &l, &err), HARK_EINVAL);
    check_store(st);
    store_close(st);
}

static void test_live_chunks_commit_under_the_session_lease(void)
{
    fake_now = T0;
    store *st = open_db();
    char a[STORE_ID_SIZE], t[STORE_ID_SIZE];
    hark_err err = {0};
    store_commit_info info;
    submit_live(st, "", a);
    submit(st, STORE_PRIO_NORMAL, "t.wav", t);
    store_task s = claim(st, "w1", LONG_LEASE);
    ASSERT_EQ(s.kind, STORE_TASK_PREPARE);
    ASSERT_STREQ(s.job_id, a);
    int64_t ev = last_event(st, a);
    check_store(st);

    /* Partial text: an event, and the delta when there is one. */
    ASSERT_EQ(store_live_partial(st, s.token, "{\"text\":\"hel\",\"words\":[]}", "hel", &err), 0);
    ev = events_are(st, a, ev, 2, (const char *[]){"transcript.partial", "transcript.text.delta"},
                    (const char *[]){"\"text\":\"hel\"", "{\"delta\":\"hel\"}"});
    ASSERT_EQ(store_live_partial(st, s.token, "{\"text\":\"hello\"}", NULL, &err), 0);
    ASSERT_EQ(store_live_partial(st, s.token, "{\"text\":\"hello\"}", "", &err), 0);
    ev = events_are(st, a, ev, 2, (const char *[]){"transcript.partial", "transcript.partial"},
                    NULL);
    ASSERT_EQ(store_live_partial(st, s.token, "[1]", NULL, &err), HARK_EINVAL);
    ASSERT_EQ(store_live_partial(st, s.token, "{}", "\xff", &err), HARK_EINVAL);
    ASSERT_EQ(last_event(st, a), ev);

    /* Chunks as they close: indexes 0, 1, 2, each done at once. */
    ASSERT_EQ(live_commit(st, s.token, 0, 16000, WORDS0, "hello", &info, &err), 0);
    ASSERT_STREQ(info.job_id, a);
    ASSERT_EQ(info.idx, 0);
    ASSERT_EQ(info.chunks_done, 1);
    ASSERT_EQ(info.n_chunks, 1);
    ASSERT(!info.job_complete);
    ev = events_are(st, a, ev, 2, (const char *[]){"chunk_committed", "transcript.text.delta"},
                    (const char *[]){"\"chunk\":0", "{\"delta\":\"hello\"}"});
    ASSERT_EQ(live_commit(st, s.token, 16000, 40000, WORDS1, "", &info, &err), 0);
    ASSERT_EQ(info.idx, 1);
    ASSERT_EQ(live_commit(st, s.token, 48000, 56000, "[]", NULL, &info, &err),
              0); /* a gap is fine */
    ASSERT_EQ(info.idx, 2);
    ASSERT_EQ(info.chunks_done, 3);
    ev = events_are(st, a, ev, 2, (const char *[]){"chunk_committed", "chunk_committed"},
                    (const char *[]){"\"chunk\":1", "\"chunk\":2"});
    check_store(st);

    /* Overlap, bad spans, bad text: refused, nothing changes. */
    ASSERT_EQ(live_commit(st, s.token, 55999, 60000, "[]", "x", &info, &err), HARK_EINVAL);
    ASSERT(strstr(err.msg, "overlaps") != NULL);
    ASSERT_EQ(info.idx, 0);
    ASSERT_EQ(live_commit(st, s.token, 0, 8000, "[]", "x", &info, &err), HARK_EINVAL);
    ASSERT_EQ(live_commit(st, s.token, 60000, 60000, "[]", NULL, &info, &err), HARK_EINVAL);
    ASSERT_EQ(live_commit(st, s.token, -5, 100, "[]", NULL, &info, &err), HARK_EINVAL);
    ASSERT_EQ(live_commit(st, s.token, 60000, 61000, "[]", "\xff", &info, &err), HARK_EINVAL);
    ASSERT_EQ(store_commit_live_chunk(st, s.token, 60000, 61000, "[]", NULL, -1, &info, &err),
              HARK_EINVAL);
    ASSERT_EQ(last_event(st, a), ev);
    store_job j = get(st, a);
    ASSERT_EQ(j.n_chunks, 3);
    ASSERT_EQ(j.chunks_done, 3);
    ASSERT(!j.prepared);
    ASSERT_EQ(j.state, STORE_RUNNING);
    store_job_release(&j);
    store_chunk_list cl = chunks_of(st, a);
    ASSERT_EQ(cl.n, 3);
    static const int64_t spans[3][2] = {{0, 16000}, {16000, 40000}, {48000, 56000}};
    for (int i = 0; i < 3; i++) {
        ASSERT_EQ(cl.chunks[i].idx, i);
        ASSERT_EQ(cl.chunks[i].state, STORE_CHUNK_DONE);
        ASSERT_EQ(cl.chunks[i].start_sample, spans[i][0]);
        ASSERT_EQ(cl.chunks[i].end_sample, spans[i][1]);
    }
    ASSERT_STREQ(cl.chunks[0].result, WORDS0);
    ASSERT_STREQ(cl.chunks[1].result, WORDS1);
    store_chunk_list_release(&cl);

    /* Mid-session every chunk is committed, yet the job is not done. */
    store_job_filter f;
    store_job_filter_init(&f);
    f.ready_only = true;
    store_job_list l;
    ASSERT_EQ(store_list_jobs(st, STORE_SCOPE_ALL, &f, &l, &err), 0);
    ASSERT_EQ(l.n, 0);
    store_job_list_release(&l);
    ASSERT_EQ(store_succeed(st, STORE_SCOPE_ALL, a, &err), HARK_EINVAL);

    /* A chunk lease is not a session's. */
    store_task p = claim(st, "w2", LONG_LEASE);
    ASSERT_STREQ(p.job_id, t);
    store_span plan = {0, 160000};
    ASSERT_EQ(store_commit_prepare(st, p.token, 10, &plan, 1, NULL, NULL, &err), 0);
    store_task ck = claim(st, "w2", LONG_LEASE);
    ASSERT_EQ(ck.kind, STORE_TASK_CHUNK);
    int64_t refused = counters(st).refused_commits;
    ASSERT_EQ(live_commit(st, ck.token, 60000, 61000, "[]", NULL, &info, &err), HARK_EINVAL);
    ASSERT(strstr(err.msg, "chunk lease") != NULL);
    ASSERT_EQ(store_live_partial(st, ck.token, "{}", "x", &err), HARK_ESTALE);
    ASSERT_EQ(store_finish_live(st, ck.token, 1, &info, &err), HARK_EINVAL);
    ASSERT_EQ(commit(st, ck.token, "[]", &err), 0); /* its lease is intact */
    store_job jt = get(st, t);
    ASSERT_EQ(jt.n_chunks, 1);
    store_job_release(&jt);

    /* Unknown and expired tokens: stale, counted. */
    ASSERT_EQ(live_commit(st, 999999, 60000, 61000, "[]", NULL, &info, &err), HARK_ESTALE);
    ASSERT_EQ(counters(st).refused_commits, refused + 1);
    ASSERT_EQ(store_live_partial(st, 999999, "{}", "x", &err), HARK_ESTALE);
    ASSERT_EQ(last_event(st, a), ev);

    /* The session ends: prepared, complete, then finished as any job. */
    fake_now += 1000;
    ASSERT_EQ(store_renew(st, s.token, LONG_LEASE, &err), 0);
    ASSERT_EQ(store_finish_live(st, s.token, -1, &info, &err), HARK_EINVAL);
    ASSERT_EQ(store_finish_live(st, s.token, 3.5, &info, &err), 0);
    ASSERT_STREQ(info.job_id, a);
    ASSERT(info.job_complete);
    ASSERT_EQ(info.n_chunks, 3);
    ASSERT_EQ(info.chunks_done, 3);
    ev = events_are(st, a, ev, 1, (const char *[]){"progress"},
                    (const char *[]){"\"prepared\":true"});
    j = get(st, a);
    ASSERT(j.prepared);
    ASSERT_NEAR(j.duration_s, 3.5, 1e-9);
    ASSERT(!j.input_open);
    ASSERT_EQ(j.state, STORE_RUNNING);
    store_job_release(&j);
    check_store(st);
    /* Its lease is gone: everything under it is stale now. */
    ASSERT_EQ(live_commit(st, s.token, 60000, 61000, "[]", NULL, &info, &err), HARK_ESTALE);
    ASSERT_EQ(store_finish_live(st, s.token, 3.5, &info, &err), HARK_ESTALE);
    ASSERT_EQ(store_live_partial(st, s.token, "{}", NULL, &err), HARK_ESTALE);
    ASSERT_EQ(counters(st).refused_commits, refused + 3);
    ASSERT_EQ(claim(st, "w3", LONG_LEASE).kind, STORE_TASK_NONE);
    ASSERT_EQ(store_list_jobs(st, STORE_SCOPE_ALL, &f, &l, &err), 0);
    ASSERT_EQ(l.n, 2); /* both ready to be finished */
    store_job_list_release(&l);
    ASSERT_EQ(store_succeed(st, STORE_SCOPE_ALL, a, &err), 0);
    j = get(st, a);
    ASSERT_EQ(j.state, STORE_SUCCEEDED);
    ASSERT(j.result_ready);
    store_job_release(&j);
    check_store(st);
    store_close(st);
}

static void test_expired_live_lease_is_stale(void)
{
    fake_now = T0;
    store *st = open_db();
    char a[STORE_ID_SIZE];
    hark_err err = {0};
    store_commit_info info;
    submit_live(st, "", a);
    store_task s = claim(st, "w", 1000);
    ASSERT_EQ(live_commit(st, s.token, 0, 1600, WORDS0, "hello", &info, &err), 0);
    int64_t ev = last_event(st, a);
    fake_now += 1000; /* expired, not yet swept */
    ASSERT_EQ(live_commit(st, s.token, 1600, 3200, WORDS1, "world", &info, &err), HARK_ESTALE);
    ASSERT(strstr(err.msg, "expired") != NULL);
    ASSERT_EQ(store_live_partial(st, s.token, "{}", "x", &err), HARK_ESTALE);
    ASSERT_EQ(store_finish_live(st, s.token, 1, &info, &err), HARK_ESTALE);
    ASSERT_EQ(counters(st).refused_commits, 2);
    ASSERT_EQ(last_event(st, a), ev);
    store_job j = get(st, a);
    ASSERT_EQ(j.n_chunks, 1);
    ASSERT(!j.prepared);
    store_job_release(&j);
    check_store(st);
    store_close(st);
}

static void test_pause_and_cancel_revoke_the_session(void)
{
    fake_now = T0;
    store *st = open_db();
    char a[STORE_ID_SIZE];
    hark_err err = {0};
    store_commit_info info;
    submit_live(st, "", a);
    store_task s = claim(st, "w", LONG_LEASE);
    ASSERT_EQ(live_commit(st, s.token, 0, 16000, WORDS0, "hello", &info, &err), 0);
    ASSERT_EQ(store_pause(st, STORE_SCOPE_ALL, a, &err), 0);
    check_store(st);
    ASSERT_EQ(live_commit(st, s.token, 16000, 32000, WORDS1, "world", &info, &err), HARK_ESTALE);
    ASSERT_EQ(store_live_partial(st, s.token, "{}", NULL, &err), HARK_ESTALE);
    ASSERT_EQ(store_finish_live(st, s.token, 2, &info, &err), HARK_ESTALE);
    ASSERT_EQ(counters(st).refused_commits, 2);
    ASSERT_EQ(claim(st, "w", LONG_LEASE).kind, STORE_TASK_NONE);
    ASSERT_EQ(store_resume(st, STORE_SCOPE_ALL, a, &err), 0);
    /* The session resumes after the committed chunk, under a new lease. */
    store_task s2 = claim(st, "w", LONG_LEASE);
    ASSERT_EQ(s2.kind, STORE_TASK_PREPARE);
    ASSERT(s2.token > s.token);
    ASSERT_EQ(s2.attempt, 1);
    ASSERT_EQ(live_commit(st, s2.token, 16000, 32000, WORDS1, "world", &info, &err), 0);
    ASSERT_EQ(info.idx, 1);
    ASSERT_EQ(store_cancel(st, STORE_SCOPE_ALL, a, &err), 0);
    ASSERT_EQ(live_commit(st, s2.token, 32000, 48000, "[]", NULL, &info, &err), HARK_ESTALE);
    ASSERT_EQ(store_finish_live(st, s2.token, 3, &info, &err), HARK_ESTALE);
    store_job j = get(st, a);
    ASSERT_EQ(j.state, STORE_CANCELLED);
    ASSERT(!j.input_open);
    ASSERT_EQ(j.chunks_done, 2);
    store_job_release(&j);
    check_store(st);
    store_close(st);
}

static void test_recover_closes_open_inputs_and_keeps_live_chunks(void)
{
    fake_now = T0;
    store *st = open_db();
    char a[STORE_ID_SIZE], b[STORE_ID_SIZE], c[STORE_ID_SIZE], x[STORE_ID_SIZE];
    hark_err err = {0};
    store_commit_info info;
    submit_live(st, "alice", a);
    submit_live(st, "", b);
    submit_live(st, "", c);
    submit(st, STORE_PRIO_NORMAL, "x.wav", x);
    ASSERT_EQ(store_input_append(st, STORE_SCOPE_ALL, a, 64000, &err), 0);
    store_task s = claim(st, "w", LONG_LEASE);
    ASSERT_STREQ(s.job_id, a);
    ASSERT_EQ(live_commit(st, s.token, 0, 16000, WORDS0, "hello", &info, &err), 0);
    ASSERT_EQ(store_input_close(st, STORE_SCOPE_ALL, c, "end", NULL, &err), 0);
    int64_t ev_a = last_event(st, a), ev_b = last_event(st, b), ev_c = last_event(st, c),
            ev_x = last_event(st, x);
    store_close(st); /* the daemon died */

    fake_now = T0 + 5000;
    st = open_db();
    int n = -1;
    ASSERT_EQ(store_recover(st, &n, &err), 0);
    ASSERT_EQ(n, 1);
    check_store(st);
    events_are(st, a, ev_a, 2, (const char *[]){"preempted", "input_ended"},
               (const char *[]){"\"reason\":\"restart\"", "\"bytes\":64000"});
    store_event_list el;
    ASSERT_EQ(store_list_events(st, STORE_SCOPE_ALL, a, ev_a, 0, &el, &err), 0);
    ASSERT(strstr(el.events[1].data, "\"reason\":\"restart\"") != NULL);
    store_event_list_release(&el);
    events_are(st, b, ev_b, 1, (const char *[]){"input_ended"}, (const char *[]){"\"bytes\":0"});
    events_are(st, c, ev_c, 0, NULL, NULL); /* closed before: nothing new */
    events_are(st, x, ev_x, 0, NULL, NULL);
    store_job_list l;
    ASSERT_EQ(store_list_open_inputs(st, 10, &l, &err), 0);
    ASSERT_EQ(l.n, 0);
    store_job_list_release(&l);
    store_job j = get(st, a);
    ASSERT_EQ(j.state, STORE_QUEUED);
    ASSERT(!j.input_open);
    ASSERT_EQ(j.input_bytes, 64000);
    ASSERT_EQ(j.n_chunks, 1);
    ASSERT_EQ(j.chunks_done, 1);
    store_job_release(&j);
    /* The client's next append is refused; the old session is stale. */
    ASSERT_EQ(store_input_append(st, store_scope_owner("alice"), a, 96000, &err), HARK_EINVAL);
    ASSERT(strstr(err.msg, "not taking audio") != NULL);
    ASSERT_EQ(live_commit(st, s.token, 16000, 32000, WORDS1, "world", &info, &err), HARK_ESTALE);

    /* What was received is transcribed: a new session after the chunk. */
    store_task s2 = claim(st, "w", LONG_LEASE);
    ASSERT_STREQ(s2.job_id, a);
    ASSERT_EQ(s2.kind, STORE_TASK_PREPARE);
    ASSERT_EQ(live_commit(st, s2.token, 8000, 32000, WORDS1, "world", &info, &err), HARK_EINVAL);
    ASSERT_EQ(live_commit(st, s2.token, 16000, 32000, WORDS1, "world", &info, &err), 0);
    ASSERT_EQ(info.idx, 1);
    ASSERT_EQ(store_finish_live(st, s2.token, 2.0, &info, &err), 0);
    ASSERT(info.job_complete);
    ASSERT_EQ(store_succeed(st, STORE_SCOPE_ALL, a, &err), 0);
    store_chunk_list cl = chunks_of(st, a);
    ASSERT_EQ(cl.n, 2);
    ASSERT_STREQ(cl.chunks[0].result, WORDS0);
    ASSERT_STREQ(cl.chunks[1].result, WORDS1);
    store_chunk_list_release(&cl);
    check_store(st);
    store_close(st);
}

static void test_retry_of_a_failed_live_job_keeps_its_chunks(void)
{
    fake_now = T0;
    store *st = open_db();
    char a[STORE_ID_SIZE];
    hark_err err = {0};
    store_commit_info info;
    submit_live(st, "", a);
    ASSERT_EQ(store_input_append(st, STORE_SCOPE_ALL, a, 96000, &err), 0);
    store_task s = claim(st, "w", LONG_LEASE);
    ASSERT_EQ(live_commit(st, s.token, 0, 16000, WORDS0, "hello", &info, &err), 0);
    ASSERT_EQ(live_commit(st, s.token, 16000, 32000, WORDS1, "world", &info, &err), 0);
    /* The session fails every attempt (the input is open meanwhile). */
    store_release_info ri = fail_once(st, &s, "decoder crashed");
    ASSERT(!ri.job_failed);
    for (int i = 0; !ri.job_failed; i++) {
        ASSERT(i < 5);
        fake_now += 60000;
        store_task again = claim(st, "w", LONG_LEASE);
        ASSERT_STREQ(again.job_id, a);
        ASSERT_EQ(again.kind, STORE_TASK_PREPARE);
        ri = fail_once(st, &again, "decoder crashed");
        check_store(st);
    }
    store_job j = get(st, a);
    ASSERT_EQ(j.state, STORE_FAILED);
    ASSERT(!j.input_open);
    ASSERT_EQ(j.chunks_done, 2);
    ASSERT(strstr(j.error, "decoder crashed") != NULL);
    store_job_release(&j);
    check_store(st);
    ASSERT_EQ(store_input_append(st, STORE_SCOPE_ALL, a, 128000, &err), HARK_EINVAL);
    ASSERT(strstr(err.msg, "failed") != NULL);

    ASSERT_EQ(store_retry(st, STORE_SCOPE_ALL, a, 0, &err), 0);
    check_store(st);
    j = get(st, a);
    ASSERT_EQ(j.state, STORE_QUEUED);
    ASSERT(!j.prepared);
    ASSERT(!j.input_open); /* closed is final */
    ASSERT_EQ(j.n_chunks, 2);
    store_job_release(&j);
    store_task s2 = claim(st, "w", LONG_LEASE);
    ASSERT_STREQ(s2.job_id, a);
    ASSERT_EQ(s2.kind, STORE_TASK_PREPARE);
    ASSERT_EQ(s2.attempt, 1);
    ASSERT_EQ(live_commit(st, s2.token, 32000, 48000, "[]", NULL, &info, &err), 0);
    ASSERT_EQ(info.idx, 2);
    ASSERT_EQ(store_finish_live(st, s2.token, 3.0, &info, &err), 0);
    ASSERT(info.job_complete);
    ASSERT_EQ(info.n_chunks, 3);
    ASSERT_EQ(store_succeed(st, STORE_SCOPE_ALL, a, &err), 0);
    store_chunk_list cl = chunks_of(st, a);
    ASSERT_EQ(cl.n, 3);
    ASSERT_STREQ(cl.chunks[0].result, WORDS0);
    ASSERT_STREQ(cl.chunks[1].result, WORDS1);
    store_chunk_list_release(&cl);
    check_store(st);
    store_close(st);
}

/* A store made by schema version 9 gets the live-input columns: its jobs
 * have a closed input, and live jobs work beside them. */

int main(void)
{
    test_setup_ = store_test_fresh;
    RUN(test_priority_order_and_fifo_within_class);
    RUN(test_prepare_first_then_chunks_in_index_order);
    RUN(test_sequential_claims_get_distinct_tasks);
    RUN(test_two_handles_in_threads_never_share_a_task);
    RUN(test_expired_lease_cannot_renew_or_commit);
    RUN(test_pause_and_cancel_revoke_leases);
    RUN(test_recover_makes_old_tokens_stale_and_never_reuses_them);
    RUN(test_preempt_keeps_attempts_failure_counts_with_backoff);
    RUN(test_failed_job_revokes_other_leases);
    RUN(test_prepare_failures_fail_the_job);
    RUN(test_control_transitions);
    RUN(test_bad_arguments_change_nothing);
    RUN(test_input_root_is_kept);
    RUN(test_stage_adds_tasks_after_every_chunk_is_committed);
    RUN(test_cached_chunks_match_content_key_and_span);
    RUN(test_overdue_job_is_not_claimable_and_fails);
    RUN(test_events_replay_after_id);
    RUN(test_list_jobs_filters_and_pages);
    RUN(test_owner_scopes_every_job_query);
    RUN(test_events_since_across_jobs_by_scope);
    RUN(test_bad_scopes_are_refused);
    RUN(test_finished_jobs_are_counted_by_state);
    RUN(test_webhook_enqueued_with_every_terminal_state);
    RUN(test_webhook_enqueued_when_attempts_run_out);
    RUN(test_webhook_retry_deliver_and_give_up);
    RUN(test_webhook_lease_and_claims_of_nothing);
    RUN(test_webhook_survives_restart_and_recover_frees_claims);
    RUN(test_resource_waits_back_off_longer_and_count_apart);
    RUN(test_retry_keeps_committed_chunks_and_resets_attempts);
    RUN(test_retry_of_a_failed_prepare_prepares_again);
    RUN(test_retry_respects_class_limit_and_restarts_timeout);
    RUN(test_unreleased_inputs_of_succeeded_and_cancelled_jobs);
    RUN(test_prune_deletes_ended_jobs_past_retention_only);
    RUN(test_live_input_grows_and_closes);
    RUN(test_open_inputs_longest_idle_first);
    RUN(test_live_chunks_commit_under_the_session_lease);
    RUN(test_expired_live_lease_is_stale);
    RUN(test_pause_and_cancel_revoke_the_session);
    RUN(test_recover_closes_open_inputs_and_keeps_live_chunks);
    RUN(test_retry_of_a_failed_live_job_keeps_its_chunks);
    TEST_DONE();
}
