/* The runtime end to end: a real store, real `hark worker` processes, real
 * speech. Nothing sleeps its way to a pass: the runtime's done() hook is
 * the test's clock, called after every event. */
#include "jobs/chunk_result.h"
#include "runtime/runtime.h"
#include "util/buf.h"
#include "util/test.h"

#include <signal.h>
#include <sys/stat.h>

typedef struct tctx {
    store *st;
    char ids[8][STORE_ID_SIZE];
    int n_ids;
    char finished_order[8][STORE_ID_SIZE];
    int n_finished;
    int finished_state[8];
    char *output[8]; /* all chunk results of each completed job, concatenated */
    int progress_events;
    /* Scenario hooks. */
    int (*on_tick)(struct tctx *c); /* nonzero: stop the runtime */
    int stage;
    double t0;
    double realtime_done_at, low_done_at;
    uint64_t as_bytes; /* worker address-space limit, 0: the default */
    int64_t lease_ms;  /* 0: the default */
} tctx;

static int find(tctx *c, const char *id)
{
    for (int i = 0; i < c->n_ids; i++)
        if (strcmp(c->ids[i], id) == 0)
            return i;
    return -1;
}

/* Assemble what the job produced: its chunk results in order. */
static int complete(void *ctx, store *st, const char *job_id, hark_err *err)
{
    tctx *c = ctx;
    store_chunk_list l;
    int rc = store_list_chunks(st, STORE_SCOPE_ALL, job_id, &l, err);
    if (rc)
        return rc;
    buf b;
    buf_init(&b, 64u << 20);
    for (size_t i = 0; i < l.n; i++)
        buf_printf(&b, "%d:%s\n", l.chunks[i].idx, l.chunks[i].result);
    store_chunk_list_release(&l);
    int k = find(c, job_id);
    if (k >= 0)
        c->output[k] = buf_steal(&b);
    else
        buf_release(&b);
    return 0;
}

static void finished(void *ctx, const char *job_id, int state)
{
    tctx *c = ctx;
    int k = c->n_finished++;
    snprintf(c->finished_order[k], STORE_ID_SIZE, "%s", job_id);
    c->finished_state[k] = state;
}

static void progress(void *ctx, const char *job_id, int idx, double done_s)
{
    tctx *c = ctx;
    c->progress_events++;
}

static bool done(void *ctx)
{
    tctx *c = ctx;
    if (clock_now_s() - c->t0 > 240)
        TEST_FAIL_("scenario took over 240 s");
    if (c->on_tick)
        return c->on_tick(c) != 0;
    return c->n_finished == c->n_ids;
}

static void make_audio(void)
{
    char cmd[4096];
    /* long: ~75 s (~50 s in the sanitizer pass, HARK_TEST_QUICK=1). */
    const char *quick = getenv("HARK_TEST_QUICK");
    snprintf(cmd, sizeof cmd,
             "set -e; d='%s'; sox \"$d\"/*.wav short.wav;"
             "sox short.wav short.wav %s long.wav;"
             "sox \"$d\"/sense_and_sensibility_01_austen_64kb-0880.wav clip.wav;"
             "echo 'not audio' > text.txt",
             test_data_dir(), quick && strcmp(quick, "1") == 0 ? "" : "short.wav");
    ASSERT_EQ(system(cmd), 0);
}

static const char *submit(tctx *c, const char *file, int prio)
{
    char path[4096], cwd[2048];
    ASSERT(getcwd(cwd, sizeof cwd) != NULL);
    snprintf(path, sizeof path, "%s/%s", cwd, file);
    store_job_spec spec = {.kind = "transcribe", .input = path, .priority = prio};
    hark_err err = {0};
    if (store_submit(c->st, &spec, c->ids[c->n_ids], &err))
        TEST_FAIL_("submit: %s", err.msg);
    return c->ids[c->n_ids++];
}

static runtime *start(tctx *c, int workers, int max_attempts)
{
    store_options so = {0};
    so.max_attempts = max_attempts;
    hark_err err = {0};
    if (!c->st && store_open("hark.db", &so, &c->st, &err))
        TEST_FAIL_("store: %s", err.msg);
    ASSERT_EQ(store_recover(c->st, NULL, NULL), 0);
    runtime_opts o;
    runtime_opts_default(&o);
    o.worker_path = getenv("HARK");
    o.workers = workers;
    o.work_root = "work";
    if (c->as_bytes)
        o.limits.as_bytes = c->as_bytes;
    if (c->lease_ms)
        o.lease_ms = c->lease_ms;
    runtime_hooks h = {complete, finished, progress, done, c};
    runtime *rt;
    if (runtime_new(c->st, &o, &h, &rt, &err))
        TEST_FAIL_("runtime: %s", err.msg);
    c->t0 = clock_now_s();
    return rt;
}

static void cleanup(tctx *c, runtime *rt)
{
    runtime_free(rt);
    ASSERT_EQ(store_check(c->st, NULL), 0);
    store_close(c->st);
    for (int i = 0; i < 8; i++)
        free(c->output[i]);
}

static int state_of(tctx *c, const char *id)
{
    store_job j;
    ASSERT_EQ(store_get_job(c->st, STORE_SCOPE_ALL, id, &j, NULL), 0);
    int s = j.state;
    store_job_release(&j);
    return s;
}

/* Classes first, FIFO within a class; a bad input fails alone. */
static void test_priority_order_and_bad_input(void)
{
    make_audio();
    tctx c = {0};
    runtime *rt = start(&c, 2, 3);
    const char *low = submit(&c, "short.wav", STORE_PRIO_LOW);
    const char *bad = submit(&c, "text.txt", STORE_PRIO_NORMAL);
    const char *n1 = submit(&c, "short.wav", STORE_PRIO_NORMAL);
    const char *high = submit(&c, "short.wav", STORE_PRIO_HIGH);
    ASSERT_EQ(runtime_run(rt, NULL), 0);
    ASSERT_EQ(c.n_finished, 4);
    for (int i = 0; i < 4; i++)
        printf("finished %d: %s state %d\n", i, c.finished_order[i], c.finished_state[i]);
    /* The bad input fails at prepare; of the others, high finishes first and low last. */
    ASSERT_EQ(state_of(&c, bad), STORE_FAILED);
    store_job j;
    ASSERT_EQ(store_get_job(c.st, STORE_SCOPE_ALL, bad, &j, NULL), 0);
    printf("bad input: %s\n", j.error);
    ASSERT(strstr(j.error, "text.txt") != NULL);
    ASSERT_EQ(j.prepare_attempts, 0); /* an input's fault is not retried */
    store_job_release(&j);
    int pos_high = -1, pos_n1 = -1, pos_low = -1;
    for (int i = 0; i < 4; i++) {
        if (!strcmp(c.finished_order[i], high))
            pos_high = i;
        if (!strcmp(c.finished_order[i], n1))
            pos_n1 = i;
        if (!strcmp(c.finished_order[i], low))
            pos_low = i;
    }
    ASSERT(pos_high < pos_n1 && pos_n1 < pos_low);
    ASSERT_EQ(state_of(&c, low), STORE_SUCCEEDED);
    /* Same audio, same words, whatever the order and the workers. */
    ASSERT_STREQ(c.output[find(&c, low)], c.output[find(&c, high)]);
    ASSERT_STREQ(c.output[find(&c, n1)], c.output[find(&c, high)]);
    cleanup(&c, rt);
}

/* A realtime clip overtakes a long low job that holds every worker; the low
 * job then finishes with exactly the words of an uninterrupted run. */
static int preempt_tick(tctx *c)
{
    if (c->stage == 0 && c->progress_events >= 4) {
        /* Both workers are deep in low chunks now. */
        submit(c, "clip.wav", STORE_PRIO_REALTIME);
        c->stage = 1;
    }
    for (int i = 0; i < c->n_finished; i++) {
        if (c->n_ids > 1 && !strcmp(c->finished_order[i], c->ids[1]) && !c->realtime_done_at)
            c->realtime_done_at = clock_now_s();
        if (!strcmp(c->finished_order[i], c->ids[0]) && !c->low_done_at)
            c->low_done_at = clock_now_s();
    }
    return c->n_ids == 2 && c->n_finished == 2;
}

static void test_realtime_preempts_low_and_output_is_identical(void)
{
    make_audio();
    /* The reference: the long file alone. */
    tctx ref = {0};
    runtime *rt = start(&ref, 2, 3);
    submit(&ref, "long.wav", STORE_PRIO_LOW);
    ASSERT_EQ(runtime_run(rt, NULL), 0);
    char *expected = strdup(ref.output[0]);
    cleanup(&ref, rt);
    ASSERT_EQ(system("rm -f hark.db*"), 0);

    tctx c = {0};
    c.on_tick = preempt_tick;
    rt = start(&c, 2, 3);
    submit(&c, "long.wav", STORE_PRIO_LOW);
    ASSERT_EQ(runtime_run(rt, NULL), 0);
    runtime_stats s;
    runtime_get_stats(rt, &s);
    printf("preemptions %d; realtime done %.2f s before the low job\n", s.preemptions,
           c.low_done_at - c.realtime_done_at);
    ASSERT(s.preemptions >= 1);
    ASSERT(c.realtime_done_at > 0 && c.realtime_done_at < c.low_done_at);
    ASSERT_STREQ(c.output[0], expected);
    ASSERT_EQ(s.worker_restarts, 0);
    free(expected);
    cleanup(&c, rt);
}

/* A yield slower than the lease (HARK_FAULT=slowyield: 1.5 s, the lease
 * 0.6 s): the worker keeps renewing its lease until it answers, so the
 * low chunk is handed back, not expired into a failed attempt, and the
 * low job's words are those of an uninterrupted run. */
static int slow_yield_tick(tctx *c)
{
    if (c->stage == 0 && c->progress_events >= 2) {
        submit(c, "clip.wav", STORE_PRIO_REALTIME);
        c->stage = 1;
    }
    return c->n_ids == 2 && c->n_finished == 2;
}

static void test_slow_yield_keeps_its_lease(void)
{
    make_audio();
    /* The low job: one 3 s chunk, 6 s with the fault's waits. */
    ASSERT_EQ(system("cp clip.wav low-clip.wav"), 0);
    tctx ref = {0};
    runtime *rt = start(&ref, 1, 3);
    submit(&ref, "low-clip.wav", STORE_PRIO_LOW);
    ASSERT_EQ(runtime_run(rt, NULL), 0);
    char *expected = strdup(ref.output[0]);
    cleanup(&ref, rt);
    ASSERT_EQ(system("rm -f hark.db*"), 0);

    setenv("HARK_FAULT", "slowyield", 1);
    setenv("HARK_FAULT_MATCH", "low-clip", 1);
    setenv("HARK_FAULT_CHUNK", "0", 1);
    tctx c = {0};
    c.on_tick = slow_yield_tick;
    c.lease_ms = 600;
    rt = start(&c, 1, 3);
    const char *low = submit(&c, "low-clip.wav", STORE_PRIO_LOW);
    ASSERT_EQ(runtime_run(rt, NULL), 0);
    unsetenv("HARK_FAULT");
    unsetenv("HARK_FAULT_MATCH");
    runtime_stats s;
    runtime_get_stats(rt, &s);
    store_counters k;
    ASSERT_EQ(store_get_counters(c.st, &k, NULL), 0);
    printf("preemptions %d, expired leases %lld, refused commits %lld\n", s.preemptions,
           (long long)k.expired_leases, (long long)k.refused_commits);
    ASSERT(s.preemptions >= 1);
    ASSERT_EQ(k.expired_leases, 0);
    ASSERT_EQ(k.refused_commits, 0);
    ASSERT_EQ(s.stale_commits, 0);
    ASSERT_EQ(state_of(&c, low), STORE_SUCCEEDED);
    ASSERT_STREQ(c.output[find(&c, low)], expected);
    free(expected);
    cleanup(&c, rt);
}

/* A worker that crashes on one job's chunk is replaced; after max attempts
 * that job fails naming the chunk, its time range and the cause; the other
 * job is unaffected. */
static void test_crashing_worker_is_replaced_and_job_fails_alone(void)
{
    make_audio();
    ASSERT_EQ(system("cp short.wav poison.wav"), 0);
    setenv("HARK_FAULT", "crash", 1);
    setenv("HARK_FAULT_MATCH", "poison", 1);
    setenv("HARK_FAULT_CHUNK", "1", 1);
    tctx c = {0};
    runtime *rt = start(&c, 2, 2);
    const char *poison = submit(&c, "poison.wav", STORE_PRIO_NORMAL);
    const char *good = submit(&c, "short.wav", STORE_PRIO_NORMAL);
    ASSERT_EQ(runtime_run(rt, NULL), 0);
    runtime_stats s;
    runtime_get_stats(rt, &s);
    store_job j;
    ASSERT_EQ(store_get_job(c.st, STORE_SCOPE_ALL, poison, &j, NULL), 0);
    printf("poison: %s; restarts %d\n", j.error, s.worker_restarts);
    ASSERT_EQ(j.state, STORE_FAILED);
    ASSERT(strstr(j.error, "chunk 1 (") != NULL);
    ASSERT(strstr(j.error, "signal 11") != NULL);
    store_job_release(&j);
    ASSERT_EQ(state_of(&c, good), STORE_SUCCEEDED);
    ASSERT(s.worker_restarts >= 2);
    unsetenv("HARK_FAULT");
    cleanup(&c, rt);
}

/* A hung worker (no check-ins, no heartbeats) is killed by the supervisor
 * within its heartbeat deadline (5 s) plus a second, and its task retried;
 * the job fails with a timeout cause. A realtime job submitted meanwhile
 * completes on the other worker before the hung one is even killed. */
static void test_hung_worker_is_killed(void)
{
    make_audio();
    setenv("HARK_FAULT", "hang", 1);
    setenv("HARK_FAULT_MATCH", "clip", 1);
    setenv("HARK_FAULT_CHUNK", "0", 1);
    tctx c = {0};
    runtime *rt = start(&c, 2, 1);
    const char *hung = submit(&c, "clip.wav", STORE_PRIO_NORMAL);
    const char *urgent = submit(&c, "short.wav", STORE_PRIO_REALTIME);
    ASSERT_EQ(runtime_run(rt, NULL), 0);
    runtime_stats s;
    runtime_get_stats(rt, &s);
    store_job j;
    ASSERT_EQ(store_get_job(c.st, STORE_SCOPE_ALL, hung, &j, NULL), 0);
    printf("hung: %s; kills %d\n", j.error, s.deadline_kills);
    ASSERT_EQ(j.state, STORE_FAILED);
    ASSERT(strstr(j.error, "timeout") != NULL);
    /* The cause carries the silence measured at the kill: 5 s deadline,
     * checked at least every 250 ms, so "5 s" or at worst "6 s". */
    ASSERT(strstr(j.error, "no heartbeat for 5 s") || strstr(j.error, "no heartbeat for 6 s"));
    ASSERT(s.deadline_kills >= 1);
    store_job_release(&j);
    ASSERT_EQ(state_of(&c, urgent), STORE_SUCCEEDED);
    ASSERT_STREQ(c.finished_order[0], urgent);
    unsetenv("HARK_FAULT");
    cleanup(&c, rt);
}

/* A worker that allocates without bound hits its address-space limit and
 * dies; the job fails with "out of memory" naming the chunk, while a
 * realtime job on the other worker completes. */
static void test_memory_bomb_fails_its_job_alone(void)
{
    if (UNDER_ASAN) {
        printf("skipped: no address-space limit under ASan\n");
        return;
    }
    make_audio();
    setenv("HARK_FAULT", "oom", 1);
    setenv("HARK_FAULT_MATCH", "long", 1);
    setenv("HARK_FAULT_CHUNK", "0", 1);
    tctx c = {.as_bytes = 1ull << 30};
    runtime *rt = start(&c, 2, 2);
    const char *bomb = submit(&c, "long.wav", STORE_PRIO_LOW);
    const char *rt_job = submit(&c, "clip.wav", STORE_PRIO_REALTIME);
    ASSERT_EQ(runtime_run(rt, NULL), 0);
    store_job j;
    ASSERT_EQ(store_get_job(c.st, STORE_SCOPE_ALL, bomb, &j, NULL), 0);
    printf("bomb: %s\n", j.error);
    ASSERT_EQ(j.state, STORE_FAILED);
    ASSERT(strstr(j.error, "chunk 0 (") != NULL);
    ASSERT(strstr(j.error, "out of memory") != NULL);
    store_job_release(&j);
    ASSERT_EQ(state_of(&c, rt_job), STORE_SUCCEEDED);
    unsetenv("HARK_FAULT");
    cleanup(&c, rt);
}

/* A crash (or an OS crash losing the unsynced success commit) between a
 * job's last chunk commit and its success leaves every result durable but
 * the job running: the next runtime finishes it, through the same hook. */
static void test_lost_success_is_finished_at_start(void)
{
    tctx c = {0};
    store_options so = {0};
    hark_err err = {0};
    ASSERT_EQ(store_open("hark.db", &so, &c.st, &err), 0);
    const char *id = submit(&c, "never-read.wav", STORE_PRIO_NORMAL);
    store_task t;
    store_commit_info info;
    ASSERT_EQ(store_claim(c.st, "gone", 60000, &t, &err), 0);
    ASSERT_EQ(t.kind, STORE_TASK_PREPARE);
    const store_span span = {0, 16000};
    ASSERT_EQ(store_commit_prepare(c.st, t.token, 1.0, &span, 1, NULL, &info, &err), 0);
    ASSERT_EQ(store_claim(c.st, "gone", 60000, &t, &err), 0);
    ASSERT_EQ(t.kind, STORE_TASK_CHUNK);
    ASSERT_EQ(store_commit_chunk(c.st, t.token, "[]", 0.5, &info, &err), 0);
    ASSERT(info.job_complete);
    ASSERT_EQ(state_of(&c, id), STORE_RUNNING); /* the success never came */

    runtime *rt = start(&c, 1, 3);
    ASSERT_EQ(runtime_run(rt, NULL), 0);
    ASSERT_EQ(c.n_finished, 1);
    ASSERT_EQ(c.finished_state[0], STORE_SUCCEEDED);
    ASSERT_STREQ(c.output[0], "0:[]\n");
    ASSERT_EQ(state_of(&c, id), STORE_SUCCEEDED);
    cleanup(&c, rt);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    RUN(test_priority_order_and_bad_input);
    RUN(test_realtime_preempts_low_and_output_is_identical);
    RUN(test_slow_yield_keeps_its_lease);
    RUN(test_crashing_worker_is_replaced_and_job_fails_alone);
    RUN(test_hung_worker_is_killed);
    RUN(test_memory_bomb_fails_its_job_alone);
    RUN(test_lost_success_is_finished_at_start);
    TEST_DONE();
}
