/* store_sqlite_test.c - what is SQLite's alone in the store: synced and
 * relaxed commits and the background WAL sync, migrations of files made by
 * older versions, the location forms store_open takes, kill -9 at random
 * points, and a file that cannot grow. The store's contract, the same on
 * every backend, is store_test.c's. */
#include "store/migrations.h"
#include "store/sqlite_store.h"
#include "store/store.h"
#include "store/store_test_lib.h"
#include "util/clock.h"
#include "util/test.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sqlite3.h>
#include <stdint.h>
#include <time.h>

#define DB "store.db"

/* ---- durability: synced and relaxed commits ------------------------------ */

static void test_relaxed_commits_are_synced_in_the_background(void)
{
    /* A one-minute interval: only store_flush syncs during the test. */
    store_options o = {.now_ms = fake_clock, .sync_interval_ms = 60000};
    store *st = NULL;
    hark_err err = {0};
    ASSERT_EQ(store_open(DB, &o, &st, &err), 0);
    char id[STORE_ID_SIZE];
    submit(st, STORE_PRIO_NORMAL, "a.wav", id);
    ASSERT(!store_sqlite_sync_pending(st)); /* acknowledged: fsynced at commit */
    prepare(st, id, 2);                     /* grant + plan: relaxed */
    ASSERT(store_sqlite_sync_pending(st));
    ASSERT_EQ(store_flush(st, &err), 0);
    ASSERT(!store_sqlite_sync_pending(st));
    ASSERT_EQ(store_sqlite_sync_count(st), 1);
    store_task t = claim(st, "w", LONG_LEASE);
    ASSERT_EQ(store_flush(st, &err), 0);
    ASSERT_EQ(commit(st, t.token, "[]", &err), 0); /* a chunk result: relaxed */
    ASSERT(store_sqlite_sync_pending(st));
    ASSERT_EQ(store_pause(st, STORE_SCOPE_ALL, id, &err), 0); /* client-visible: synced itself */
    ASSERT_EQ(store_sqlite_sync_count(st), 2);
    store_close(st); /* syncs what is pending */

    /* A 20 ms interval: the syncer catches up without help. */
    o.sync_interval_ms = 20;
    ASSERT_EQ(store_open(DB, &o, &st, &err), 0);
    ASSERT_EQ(store_resume(st, STORE_SCOPE_ALL, id, &err), 0);
    t = claim(st, "w", LONG_LEASE);
    ASSERT_EQ(t.idx, 1);
    ASSERT_EQ(commit(st, t.token, "[]", &err), 0);
    double until = clock_now_s() + 10;
    while (store_sqlite_sync_pending(st) && clock_now_s() < until)
        usleep(2000);
    ASSERT(!store_sqlite_sync_pending(st));
    ASSERT_LE(1, store_sqlite_sync_count(st));
    store_job j = get(st, id);
    ASSERT_EQ(j.chunks_done, 2);
    store_job_release(&j);

    o.sync_interval_ms = 60001;
    store *bad = NULL;
    ASSERT_EQ(store_open("other.db", &o, &bad, &err), HARK_EINVAL);
    store_close(st);
}

static void test_migrations_fresh_reopen_and_newer(void)
{
    int latest = store_schema_version();
    ASSERT(latest >= 1);
    fake_now = 1000;
    store *st = open_db();
    store_close(st);
    ASSERT_EQ(raw_int("PRAGMA user_version"), latest);
    ASSERT_EQ(raw_int("SELECT count(*) FROM schema_migrations"), latest);
    ASSERT_EQ(raw_int("SELECT max(applied_ms) FROM schema_migrations"), 1000);
    char text[64];
    raw_text("PRAGMA journal_mode", text, sizeof text);
    ASSERT_STREQ(text, "wal");

    fake_now = 2000; /* reopening runs nothing again */
    st = open_db();
    char id[STORE_ID_SIZE];
    submit(st, STORE_PRIO_NORMAL, "x", id);
    store_close(st);
    ASSERT_EQ(raw_int("SELECT count(*) FROM schema_migrations"), latest);
    ASSERT_EQ(raw_int("SELECT max(applied_ms) FROM schema_migrations"), 1000);
    ASSERT_EQ(raw_int("SELECT count(*) FROM jobs"), 1);

    raw_exec("PRAGMA user_version = 999");
    hark_err err = {0};
    st = (store *)&err; /* must be reset to NULL */
    ASSERT_EQ(store_open(DB, NULL, &st, &err), HARK_EINVAL);
    ASSERT(st == NULL);
    ASSERT(strstr(err.msg, "schema version 999, newer than this hark") != NULL);
    ASSERT_EQ(raw_int("PRAGMA user_version"), 999);
    ASSERT_EQ(raw_int("SELECT count(*) FROM jobs"), 1);

    /* Not a database at all. */
    FILE *f = fopen("junk.db", "w");
    ASSERT(f != NULL);
    fputs("this is not sqlite, just some text that is long enough to matter.......\n", f);
    for (int i = 0; i < 100; i++)
        fputs("junk junk junk junk junk junk junk junk junk junk junk junk junk\n", f);
    fclose(f);
    ASSERT_EQ(store_open("junk.db", NULL, &st, &err), HARK_EIO);
    ASSERT(strstr(err.msg, "cannot open store 'junk.db': file is not a database") != NULL);
}

/* The location picks the backend (store.h, store_open). */
static void test_location_picks_the_backend(void)
{
    hark_err err = {0};
    store *st = open_db();
    char id[STORE_ID_SIZE];
    submit(st, STORE_PRIO_NORMAL, "x", id);
    store_close(st);
    st = NULL;
    ASSERT_EQ(store_open("sqlite:" DB, NULL, &st, &err), 0); /* the same file */
    store_job j;
    ASSERT_EQ(store_get_job(st, STORE_SCOPE_ALL, id, &j, &err), 0);
    store_job_release(&j);
    store_close(st);

    /* Connection strings go to PostgreSQL (no server in these sockets'
     * directory: the error names the location), never to a file. */
    static const char *const pg[] = {
        "postgresql://hark@/hark?host=/nonexistent-hark", "postgres:///hark?host=/nonexistent-hark",
        "host=/nonexistent-hark dbname=hark", "dbname = hark host=/nonexistent-hark"};
    for (size_t i = 0; i < sizeof pg / sizeof pg[0]; i++) {
        st = (store *)&err; /* must be reset to NULL */
        ASSERT_EQ(store_open(pg[i], NULL, &st, &err), HARK_EIO);
        ASSERT(st == NULL);
        ASSERT(strstr(err.msg, "cannot open store '") != NULL);
        ASSERT(strstr(err.msg, pg[i]) != NULL);
        ASSERT_EQ(access(pg[i], F_OK), -1); /* no file of that name was made */
    }
    /* A path that merely has an '=' in it is still a file. */
    ASSERT_EQ(store_open("notes=old.db", NULL, &st, &err), 0);
    store_close(st);
    ASSERT_EQ(access("notes=old.db", F_OK), 0);
    ASSERT_EQ(store_open("sqlite:", NULL, &st, &err), HARK_EINVAL);
    ASSERT(strstr(err.msg, "store path is empty") != NULL);
    ASSERT_EQ(store_open("", NULL, &st, &err), HARK_EINVAL);
}

static void test_webhook_migration_from_version_2(void)
{
    size_t n;
    const store_migration *m = store_migrations(&n);
    ASSERT(n >= 3);
    sqlite3 *db = NULL;
    ASSERT_EQ(sqlite3_open(DB, &db), SQLITE_OK);
    for (size_t i = 0; i < 2; i++)
        ASSERT_EQ(sqlite3_exec(db, m[i].sql, NULL, NULL, NULL), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db,
                           "PRAGMA user_version = 2;"
                           "UPDATE meta SET value = 1 WHERE key = 'next_seq';"
                           "INSERT INTO jobs(id, kind, state, priority, seq, created_ms,"
                           " updated_ms, input, source, options)"
                           " VALUES ('j00000000000000aa', 'transcribe', 'queued', 2, 1, 1, 1,"
                           " 'old.wav', 'old.wav', '{}');"
                           "INSERT INTO tasks(job_id, idx, state)"
                           " VALUES ('j00000000000000aa', -1, 'pending');",
                           NULL, NULL, NULL),
              SQLITE_OK);
    sqlite3_close(db);
    store *st = open_db();
    ASSERT_EQ(raw_int("PRAGMA user_version"), (int64_t)n);
    store_job j = get(st, "j00000000000000aa");
    ASSERT_STREQ(j.callback_url, "");
    ASSERT_STREQ(j.input_root, ""); /* version 5: opened as named, as before */
    ASSERT_EQ(j.webhook_state, -1);
    ASSERT_STREQ(j.owner, ""); /* version 5: a job from before has no owner */
    store_job_release(&j);
    hark_err err = {0};
    ASSERT_EQ(store_get_job(st, store_scope_owner("ci"), "j00000000000000aa", &j, &err),
              HARK_ENOENT);
    ASSERT_EQ(store_get_job(st, store_scope_owner(""), "j00000000000000aa", &j, &err), 0);
    store_job_release(&j);
    ASSERT_EQ(raw_int("SELECT count(*) FROM sqlite_schema WHERE name = 'jobs_owner'"), 1);
    ASSERT_EQ(store_cancel(st, STORE_SCOPE_ALL, "j00000000000000aa", &err), 0);
    ASSERT_EQ(raw_int("SELECT count(*) FROM webhooks"), 0);
    ASSERT_EQ(store_check(st, &err), 0);
    store_close(st);
}

static void test_retention_of_jobs_from_version_4(void)
{
    /* A store of version 4 with an old finished job: it is listed as
     * unreleased (its upload is removed at the next pass) and can be pruned. */
    size_t n;
    const store_migration *m = store_migrations(&n);
    ASSERT(n >= 5);
    sqlite3 *db = NULL;
    ASSERT_EQ(sqlite3_open(DB, &db), SQLITE_OK);
    for (size_t i = 0; i < 4; i++)
        ASSERT_EQ(sqlite3_exec(db, m[i].sql, NULL, NULL, NULL), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db,
                           "PRAGMA user_version = 4;"
                           "UPDATE meta SET value = 2 WHERE key = 'next_seq';"
                           "INSERT INTO jobs(id, kind, state, priority, seq, created_ms,"
                           " updated_ms, finished_ms, input, source, options)"
                           " VALUES ('j00000000000000aa', 'transcribe', 'cancelled', 2, 1, 1, 1,"
                           " 1, 'old.wav', 'old.wav', '{}'),"
                           " ('j00000000000000bb', 'transcribe', 'queued', 2, 2, 1, 1,"
                           " NULL, 'new.wav', 'new.wav', '{}');"
                           "INSERT INTO tasks(job_id, idx, state)"
                           " VALUES ('j00000000000000aa', -1, 'pending'),"
                           " ('j00000000000000bb', -1, 'pending');",
                           NULL, NULL, NULL),
              SQLITE_OK);
    sqlite3_close(db);
    fake_now = T0;
    store *st = open_db();
    hark_err err = {0};
    store_job_list l;
    ASSERT_EQ(store_list_unreleased(st, 10, &l, &err), 0);
    ids_are(&l, "j00000000000000aa", NULL);
    store_job_list_release(&l);
    ASSERT_EQ(store_prune(st, 1000, 10, &l, &err), 0);
    ids_are(&l, "j00000000000000aa", NULL);
    store_job_list_release(&l);
    ASSERT_EQ(store_check(st, &err), 0);
    store_close(st);
}

static void test_live_migration_from_version_9(void)
{
    size_t n;
    const store_migration *m = store_migrations(&n);
    ASSERT(n >= 10);
    ASSERT_EQ(m[9].version, 10);
    sqlite3 *db = NULL;
    ASSERT_EQ(sqlite3_open(DB, &db), SQLITE_OK);
    for (size_t i = 0; i < 9; i++)
        ASSERT_EQ(sqlite3_exec(db, m[i].sql, NULL, NULL, NULL), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db,
                           "PRAGMA user_version = 9;"
                           "UPDATE meta SET value = 1 WHERE key = 'next_seq';"
                           "INSERT INTO jobs(id, kind, state, priority, seq, created_ms,"
                           " updated_ms, input, source, options)"
                           " VALUES ('j00000000000000aa', 'transcribe', 'queued', 2, 1, 1, 1,"
                           " 'old.wav', 'old.wav', '{}');"
                           "INSERT INTO tasks(job_id, idx, state)"
                           " VALUES ('j00000000000000aa', -1, 'pending');",
                           NULL, NULL, NULL),
              SQLITE_OK);
    sqlite3_close(db);
    fake_now = T0;
    store *st = open_db();
    ASSERT_EQ(raw_int("PRAGMA user_version"), (int64_t)n);
    ASSERT_EQ(raw_int("SELECT count(*) FROM sqlite_schema WHERE name = 'jobs_open_input'"), 1);
    store_job j = get(st, "j00000000000000aa");
    ASSERT(!j.input_open);
    ASSERT_EQ(j.input_bytes, 0);
    ASSERT_EQ(j.input_at_ms, 0);
    store_job_release(&j);
    check_store(st);
    hark_err err = {0};
    store_job_list l;
    ASSERT_EQ(store_list_open_inputs(st, 10, &l, &err), 0);
    ASSERT_EQ(l.n, 0);
    store_job_list_release(&l);
    ASSERT_EQ(store_input_append(st, STORE_SCOPE_ALL, "j00000000000000aa", 10, &err), HARK_EINVAL);
    char a[STORE_ID_SIZE];
    submit_live(st, "", a);
    ASSERT_EQ(store_input_append(st, STORE_SCOPE_ALL, a, 10, &err), 0);
    ASSERT_EQ(store_list_open_inputs(st, 10, &l, &err), 0);
    list_is(&l, 1, (const char *[]){a});
    store_job_list_release(&l);
    ASSERT_EQ(store_cancel(st, STORE_SCOPE_ALL, "j00000000000000aa", &err), 0);
    check_store(st);
    store_close(st);
}

/* ---- crash recovery ------------------------------------------------------------- */

/* The child loops: submit, claim, commit, finish, and reports each
 * acknowledged step on fd as one line, after the store call returned. */
static void crash_child(int fd, unsigned seed)
{
    store *st = NULL;
    hark_err err = {0};
    char line[128];
    if (store_open(DB, NULL, &st, &err))
        _exit(3);
    srand(seed);
    for (;;) {
        store_task t;
        if (rand() % 3 == 0) {
            char id[STORE_ID_SIZE];
            /* Half with a callback: store_check then also proves that no
             * job ends without its webhook delivery, whenever the kill. */
            store_job_spec spec = {.kind = "transcribe",
                                   .input = "x",
                                   .priority = rand() % 4,
                                   .callback_url = rand() % 2 ? "http://127.0.0.1:9/h" : NULL};
            if (store_submit(st, &spec, id, &err))
                _exit(4);
            int n = snprintf(line, sizeof line, "S %s\n", id);
            if (write(fd, line, (size_t)n) != n)
                _exit(5);
        }
        if (store_claim(st, "child", LONG_LEASE, &t, &err))
            _exit(6);
        if (t.kind == STORE_TASK_PREPARE) {
            store_span plan[4] = {{0, 10}, {10, 20}, {20, 30}, {30, 40}};
            if (store_commit_prepare(st, t.token, 1, plan, 4, NULL, NULL, &err))
                _exit(7);
        } else if (t.kind == STORE_TASK_CHUNK) {
            char res[96];
            store_commit_info info;
            snprintf(res, sizeof res, "[\"%s\",%d,%lld]", t.job_id, t.idx, (long long)t.token);
            if (rand() % 5 == 0) /* sometimes a worker walks away mid-chunk */
                continue;
            if (store_commit_chunk(st, t.token, res, 0.1, &info, &err))
                _exit(8);
            int n =
                snprintf(line, sizeof line, "C %s %d %lld\n", t.job_id, t.idx, (long long)t.token);
            if (write(fd, line, (size_t)n) != n)
                _exit(5);
            if (info.job_complete) {
                if (store_succeed(st, STORE_SCOPE_ALL, t.job_id, &err))
                    _exit(9);
                n = snprintf(line, sizeof line, "D %s\n", t.job_id);
                if (write(fd, line, (size_t)n) != n)
                    _exit(5);
            }
        }
    }
}

enum { CR_MAX = 20000 };

static struct {
    char kind[CR_MAX];
    char id[CR_MAX][STORE_ID_SIZE];
    int idx[CR_MAX];
    long long token[CR_MAX];
    int n;
} cr;

static void crash_record(const char *line)
{
    ASSERT(cr.n < CR_MAX);
    char kind = line[0];
    char id[STORE_ID_SIZE + 8] = "";
    int idx = 0;
    long long token = 0;
    int got = sscanf(line + 2, "%18s %d %lld", id, &idx, &token);
    ASSERT(got >= 1);
    ASSERT_EQ(strlen(id), STORE_ID_SIZE - 1);
    cr.kind[cr.n] = kind;
    memcpy(cr.id[cr.n], id, STORE_ID_SIZE);
    cr.idx[cr.n] = idx;
    cr.token[cr.n] = token;
    cr.n++;
}

static void test_kill_9_at_random_points_then_recover(void)
{
    unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    fprintf(stderr, "crash test seed %u\n", seed);
    srand(seed);
    long long max_token = 0;
    for (int round = 0; round < 8; round++) {
        int p[2];
        ASSERT_EQ(pipe(p), 0);
        unsigned child_seed = (unsigned)rand();
        int kill_after = 5 + rand() % 80; /* acknowledged steps before the kill */
        fflush(NULL);
        pid_t pid = fork();
        ASSERT(pid >= 0);
        if (pid == 0) {
            close(p[0]);
            crash_child(p[1], child_seed);
        }
        close(p[1]);
        FILE *in = fdopen(p[0], "r");
        ASSERT(in != NULL);
        char line[256];
        int got = 0;
        bool killed = false;
        while (fgets(line, sizeof line, in)) {
            crash_record(line);
            if (++got == kill_after && !killed) {
                ASSERT_EQ(kill(pid, SIGKILL), 0);
                killed = true;
            }
        }
        fclose(in);
        int status = 0;
        ASSERT_EQ(waitpid(pid, &status, 0), pid);
        ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

        /* The daemon restarts. */
        char text[256];
        raw_text("PRAGMA integrity_check", text, sizeof text);
        ASSERT_STREQ(text, "ok");
        int64_t leased = raw_int("SELECT count(*) FROM tasks WHERE state = 'leased'");
        store *st = NULL;
        hark_err err = {0};
        ASSERT_EQ(store_open(DB, NULL, &st, &err), 0);
        int n = -1;
        ASSERT_EQ(store_recover(st, &n, &err), 0);
        ASSERT_EQ(n, leased);
        if (store_check(st, &err))
            TEST_FAIL_("store_check after round %d: %s", round, err.msg);
        ASSERT_EQ(raw_int("SELECT count(*) FROM tasks WHERE state = 'leased'"), 0);
        ASSERT_EQ(raw_int("SELECT count(*) FROM jobs WHERE state = 'running'"), 0);
        /* Every acknowledged step is there, each chunk committed exactly once
         * with the result of the lease that committed it. */
        for (int i = 0; i < cr.n; i++) {
            store_job j = get(st, cr.id[i]);
            if (cr.kind[i] == 'D')
                ASSERT_EQ(j.state, STORE_SUCCEEDED);
            if (cr.kind[i] == 'C') {
                store_chunk_list cl;
                ASSERT_EQ(store_list_chunks(st, STORE_SCOPE_ALL, cr.id[i], &cl, &err), 0);
                ASSERT(cr.idx[i] >= 0 && (size_t)cr.idx[i] < cl.n);
                char want[96];
                snprintf(want, sizeof want, "[\"%s\",%d,%lld]", cr.id[i], cr.idx[i], cr.token[i]);
                ASSERT_EQ(cl.chunks[cr.idx[i]].state, STORE_CHUNK_DONE);
                ASSERT_STREQ(cl.chunks[cr.idx[i]].result, want);
                store_chunk_list_release(&cl);
                if (cr.token[i] > max_token)
                    max_token = cr.token[i];
            }
            store_job_release(&j);
        }
        /* A new lease never reuses a token. */
        store_counters c = counters(st);
        ASSERT(c.last_token >= max_token);
        char id[STORE_ID_SIZE];
        submit(st, STORE_PRIO_LOW, "after", id);
        store_task t = claim(st, "parent", LONG_LEASE);
        ASSERT(t.kind != STORE_TASK_NONE);
        ASSERT_EQ(t.token, c.last_token + 1);
        ASSERT_EQ(store_release(st, t.token, STORE_RELEASE_PREEMPTED, NULL, NULL, &err), 0);
        store_close(st);
    }
    /* No (job, chunk) was acknowledged twice across all rounds. */
    for (int i = 0; i < cr.n; i++)
        for (int k = i + 1; k < cr.n; k++)
            if (cr.kind[i] == 'C' && cr.kind[k] == 'C' && cr.idx[i] == cr.idx[k] &&
                strcmp(cr.id[i], cr.id[k]) == 0)
                TEST_FAIL_("chunk %s/%d committed twice", cr.id[i], cr.idx[i]);
}

/* A store that cannot grow (here the file-size limit, ulimit -f, with
 * SIGXFSZ ignored as hark does) fails its commits with a clear error, a
 * full disk's HARK_ENOSPC or an EFBIG that names the limit, keeps what was
 * committed, and works again once it may grow. */
static void test_commits_fail_clearly_when_the_store_cannot_grow(void)
{
    signal(SIGXFSZ, SIG_IGN);
    store *st = open_db();
    char id[STORE_ID_SIZE];
    submit(st, STORE_PRIO_NORMAL, "first.wav", id);
    struct rlimit rl, was;
    ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &was), 0);
    rl = was;
    rl.rlim_cur = 200000;
    ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &rl), 0);
    static char input[4000];
    memset(input, 'x', sizeof input - 1);
    hark_err err = {0};
    int rc = 0, n = 0;
    for (; rc == 0 && n < 1000; n++) {
        store_job_spec spec = {.kind = "transcribe", .input = input, .priority = STORE_PRIO_LOW};
        rc = store_submit(st, &spec, id, &err);
    }
    ASSERT(n < 1000);
    ASSERT_EQ(rc, HARK_EIO);
    if (!strstr(err.msg, "File too large: over the file-size limit (ulimit -f) of 200000 bytes"))
        TEST_FAIL_("submit %d failed with: %s", n, err.msg);
    ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &was), 0);
    submit(st, STORE_PRIO_NORMAL, "after.wav", id);
    ASSERT_EQ(store_check(st, &err), 0);
    store_close(st);
    st = open_db();
    ASSERT_EQ(store_check(st, &err), 0);
    ASSERT_EQ(raw_int("SELECT count(*) FROM jobs"), n + 1); /* every submit that said 0 */
    store_close(st);
}

int main(void)
{
    /* SQLite's own file, whatever store the contract suite is pointed at. */
    unsetenv("HARK_TEST_STORE");
    RUN(test_migrations_fresh_reopen_and_newer);
    RUN(test_location_picks_the_backend);
    RUN(test_kill_9_at_random_points_then_recover);
    RUN(test_relaxed_commits_are_synced_in_the_background);
    RUN(test_webhook_migration_from_version_2);
    RUN(test_commits_fail_clearly_when_the_store_cannot_grow);
    RUN(test_retention_of_jobs_from_version_4);
    RUN(test_live_migration_from_version_9);
    TEST_DONE();
}
