/* store_pg_test.c - what is PostgreSQL's alone: connection strings in
 * messages (no password), bad locations, several nodes sharing one
 * database (recovery keeps live nodes' leases; a zombie's commit is
 * refused), and a lost connection. The contract every backend keeps is
 * store_test.c's, run on PostgreSQL by unit.store_test.postgresql.
 *
 * The cases that need a server run when HARK_TEST_STORE names a
 * PostgreSQL location (tests/pg_fixture.sh, ctest
 * unit.store_pg_test.postgresql); without one they say so and pass. */
#include "store/pg_conn.h"
#include "store/pg_migrations.h"
#include "store/pg_watch.h"
#include "store/store_test_lib.h"

#include <pthread.h>
#include <time.h>

static bool have_server(const char *name)
{
    if (store_test_sqlite_path()) {
        printf("skip %s: HARK_TEST_STORE is not PostgreSQL (tests/pg_fixture.sh)\n", name);
        return false;
    }
    return true;
}

static void redacts(const char *in, const char *want)
{
    char out[512];
    pg_redact(in, out, sizeof out);
    ASSERT_STREQ(out, want);
}

static void test_redact_strips_passwords(void)
{
    redacts("postgresql://alice:s3cret@db.example:5433/hark",
            "postgresql://alice@db.example:5433/hark");
    redacts("postgres://alice@db/hark", "postgres://alice@db/hark");
    redacts("postgresql:///hark?host=/tmp/x&user=postgres",
            "postgresql:///hark?host=/tmp/x&user=postgres");
    redacts("postgresql://db/hark?password=s3cret&sslmode=require",
            "postgresql://db/hark?sslmode=require");
    redacts("postgresql://db/hark?sslmode=require&password=s3cret",
            "postgresql://db/hark?sslmode=require");
    redacts("host=db dbname=hark password=s3cret user=alice", "host=db dbname=hark user=alice");
    redacts("host=db password = 'a \\' b' user=alice", "host=db user=alice");
    redacts("password=s3cret", "");
    /* An unquoted value's escaped space is part of it (libpq's rule). */
    redacts("host=db password=s3\\ cret user=alice", "host=db user=alice");
    /* What libpq cannot parse is never connected to, and not shown. */
    redacts("host=db PASSWORD=s3cret", "(unparsable)");
    redacts("postgresql://db/hark?Password=s3cret", "(unparsable)");
    /* libpq reads credentials up to the first '/', past a '?'. */
    redacts("postgresql://ace:s3c?st@dk", "postgresql://ace@dk");
    /* A spelling the scan reads differently from libpq (found by
     * fuzz_pg_redact): libpq's parsed options, rebuilt without it. */
    redacts("postgres://@@@?password=abpp&password=ap&password=a@@@@H@@@@@@@@", "host='@@'");
    redacts("postgresql://alice:p@ss@db/hark", "postgresql://alice@db/hark");
    redacts("postgresql://alice:s3cret@h1:5432,h2:5433/hark",
            "postgresql://alice@h1:5432,h2:5433/hark");
    char small[8];
    pg_redact("postgresql://alice:s3cret@db/hark", small, sizeof small);
    ASSERT_STREQ(small, "postgre");
}

/* An unreachable server: HARK_EIO naming the location, never its password. */
static void test_bad_location_names_it_without_the_password(void)
{
    static const char *const locs[] = {
        "postgresql://alice:s3cret@/hark?host=/nonexistent-hark-dir",
        "host=/nonexistent-hark-dir dbname=hark user=alice password=s3cret",
    };
    for (size_t i = 0; i < 2; i++) {
        store *st = NULL;
        hark_err err = {0};
        ASSERT_EQ(store_open(locs[i], NULL, &st, &err), HARK_EIO);
        ASSERT(st == NULL);
        ASSERT(strstr(err.msg, "s3cret") == NULL);
        ASSERT(strstr(err.msg, "/nonexistent-hark-dir") != NULL);
        ASSERT(strstr(err.msg, "cannot open store '") != NULL);
    }
    /* Bad options name it without the password too. */
    store *st = NULL;
    hark_err err = {0};
    store_options o = {.max_attempts = 99};
    ASSERT_EQ(store_open(locs[0], &o, &st, &err), HARK_EINVAL);
    ASSERT(strstr(err.msg, "s3cret") == NULL);
}

/* A database that does not exist on a server that does. */
static void test_wrong_database_is_named(void)
{
    if (!have_server(__func__))
        return;
    char loc[1024];
    const char *q = strstr(store_test_location(), "/hark?");
    ASSERT(q != NULL);
    snprintf(loc, sizeof loc, "postgresql:///nosuchdb?%s&password=s3cret", q + 6);
    store *st = NULL;
    hark_err err = {0};
    ASSERT_EQ(store_open(loc, NULL, &st, &err), HARK_EIO);
    ASSERT(strstr(err.msg, "nosuchdb") != NULL);
    ASSERT(strstr(err.msg, "does not exist") != NULL);
    ASSERT(strstr(err.msg, "s3cret") == NULL);
}

static store *open_node(const char *node, const char *life)
{
    store_options o = {.now_ms = fake_clock, .node = node, .incarnation = life};
    store *st = NULL;
    hark_err err = {0};
    if (store_open(store_test_location(), &o, &st, &err))
        TEST_FAIL_("store_open: %s", err.msg);
    return st;
}

/* Node b starting (store_recover) keeps node a's live lease: a's commit
 * goes through. */
static void test_recover_keeps_other_nodes_live_leases(void)
{
    if (!have_server(__func__))
        return;
    fake_now = T0;
    store *a = open_node("node-a", "a-1");
    char id[STORE_ID_SIZE];
    hark_err err = {0};
    submit(a, STORE_PRIO_NORMAL, "x.wav", id);
    prepare(a, id, 2);
    store_task t = claim(a, "wa", LONG_LEASE);
    ASSERT_EQ(t.kind, STORE_TASK_CHUNK);

    store *b = open_node("node-b", "b-1");
    int n = -1;
    ASSERT_EQ(store_recover(b, &n, &err), 0);
    ASSERT_EQ(n, 0);
    ASSERT_EQ(job_state_of(b, id), STORE_RUNNING);
    store_task u = claim(b, "wb", LONG_LEASE); /* the other chunk, not a's */
    ASSERT_EQ(u.idx, 1 - t.idx);
    store_job j = get(a, id); /* which nodes run it: both */
    ASSERT_STREQ(j.nodes, "node-a,node-b");
    store_job_release(&j);
    ASSERT_EQ(commit(a, t.token, "[\"a\"]", &err), 0);
    j = get(b, id);
    ASSERT_STREQ(j.nodes, "node-b");
    store_job_release(&j);
    ASSERT_EQ(commit(b, u.token, "[\"b\"]", &err), 0);
    j = get(b, id);
    ASSERT_STREQ(j.nodes, "");
    store_job_release(&j);
    ASSERT_EQ(counters(b).recovered_tasks, 0);
    check_store(b);
    store_close(a);
    store_close(b);
}

/* Node a restarted (same name, a new incarnation) revokes what its earlier
 * life held, and only that: b's lease stays, a's old token is refused. */
static void test_restarted_node_revokes_its_earlier_leases_only(void)
{
    if (!have_server(__func__))
        return;
    fake_now = T0;
    store *a = open_node("node-a", "a-1");
    store *b = open_node("node-b", "b-1");
    char id[STORE_ID_SIZE];
    hark_err err = {0};
    submit(a, STORE_PRIO_NORMAL, "x.wav", id);
    prepare(a, id, 2);
    store_task ta = claim(a, "wa", LONG_LEASE);
    store_task tb = claim(b, "wb", LONG_LEASE);
    store_close(a); /* node a dies holding its lease */

    store *a2 = open_node("node-a", "a-2");
    int n = -1;
    ASSERT_EQ(store_recover(a2, &n, &err), 0);
    ASSERT_EQ(n, 1);
    ASSERT_EQ(commit(a2, ta.token, "[\"zombie\"]", &err), HARK_ESTALE);
    ASSERT_EQ(commit(b, tb.token, "[\"b\"]", &err), 0);
    store_task again = claim(a2, "wa", LONG_LEASE);
    ASSERT_EQ(again.idx, ta.idx);
    ASSERT_EQ(again.attempt, 1); /* revoked, not failed */
    ASSERT(again.token > tb.token);
    ASSERT_EQ(commit(a2, again.token, "[\"a\"]", &err), 0);
    store_job j = get(b, id);
    ASSERT_EQ(j.chunks_done, 2);
    store_job_release(&j);
    /* Recovering again in the same life revokes nothing. */
    ASSERT_EQ(store_recover(a2, &n, &err), 0);
    ASSERT_EQ(n, 0);
    check_store(a2);
    store_close(a2);
    store_close(b);
}

/* A node that stops heartbeating: after its lease expires any node's sweep
 * takes the task over, and the zombie's late commit is refused by its
 * token. */
static void test_expired_lease_is_taken_over_and_the_zombie_refused(void)
{
    if (!have_server(__func__))
        return;
    fake_now = T0;
    store *a = open_node("node-a", "a-1");
    store *b = open_node("node-b", "b-1");
    char id[STORE_ID_SIZE];
    hark_err err = {0};
    submit(a, STORE_PRIO_NORMAL, "x.wav", id);
    prepare(a, id, 1);
    store_task ta = claim(a, "wa", 30000);
    fake_now += 10000;
    int n = -1;
    ASSERT_EQ(store_expire_leases(b, &n, &err), 0);
    ASSERT_EQ(n, 0); /* still live */
    ASSERT_EQ(store_recover(b, &n, &err), 0);
    ASSERT_EQ(n, 0);
    fake_now += 30000;
    ASSERT_EQ(store_expire_leases(b, &n, &err), 0);
    ASSERT_EQ(n, 1);
    fake_now += 60000; /* past the backoff */
    store_task tb = claim(b, "wb", LONG_LEASE);
    ASSERT_EQ(tb.kind, STORE_TASK_CHUNK);
    ASSERT_EQ(tb.attempt, 2);
    ASSERT_EQ(commit(a, ta.token, "[\"zombie\"]", &err), HARK_ESTALE);
    ASSERT_EQ(store_renew(a, ta.token, 30000, &err), HARK_ESTALE);
    ASSERT_EQ(commit(b, tb.token, "[\"b\"]", &err), 0);
    store_counters c = counters(a);
    ASSERT_EQ(c.expired_leases, 1);
    ASSERT_EQ(c.refused_commits, 1);
    ASSERT_EQ(c.refused_renewals, 1);
    check_store(a);
    store_close(a);
    store_close(b);
}

/* The server drops the connection (a restart, a failover): the call that
 * meets the broken connection fails with HARK_EIO and changes nothing; the
 * next one reconnects. */
static void test_lost_connection_is_reset_on_the_next_call(void)
{
    if (!have_server(__func__))
        return;
    fake_now = T0;
    store *st = open_db();
    char id[STORE_ID_SIZE];
    hark_err err = {0};
    submit(st, STORE_PRIO_NORMAL, "x.wav", id);
    PGconn *c = store_test_pg();
    store_test_pg_exec(c, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                          " WHERE datname = current_database() AND pid <> pg_backend_pid()");
    PQfinish(c);
    usleep(200000); /* let the server end it */
    store_job j;
    int rc = store_get_job(st, STORE_SCOPE_ALL, id, &j, &err);
    if (rc == 0) /* the terminated backend's socket had not closed yet */
        store_job_release(&j);
    else /* terminated by an administrator (57P01): the server is unreachable */
        ASSERT_EQ(rc, HARK_EUNAVAIL);
    ASSERT_EQ(store_get_job(st, STORE_SCOPE_ALL, id, &j, &err), 0);
    ASSERT_STREQ(j.id, id);
    store_job_release(&j);
    store_task t = claim(st, "w", LONG_LEASE);
    ASSERT_EQ(t.kind, STORE_TASK_PREPARE);
    store_close(st);
}

static int64_t mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* The value of libpq option key on connection db ("" if none). */
static void conn_option(PGconn *db, const char *key, char *out, size_t n)
{
    PQconninfoOption *opts = PQconninfo(db);
    snprintf(out, n, "%s", "");
    for (PQconninfoOption *o = opts; o && o->keyword; o++)
        if (strcmp(o->keyword, key) == 0 && o->val)
            snprintf(out, n, "%s", o->val);
    PQconninfoFree(opts);
}

/* A server that cannot be reached (here: the database refuses
 * connections, as one that is down or restarting does) is HARK_EUNAVAIL;
 * after a failed reset no new connect is tried until the backoff passes
 * (250 ms, then doubling); once it answers again the backoff is
 * forgotten. And connects get a default connect_timeout, unless the
 * location sets its own. */
static void test_unreachable_server_is_unavailable_and_backed_off(void)
{
    if (!have_server(__func__))
        return;
    pg_conn c;
    hark_err err = {0};
    ASSERT_EQ(pg_connect(&c, store_test_location(), &err), 0);
    char v[64];
    conn_option(c.db, "connect_timeout", v, sizeof v);
    ASSERT_STREQ(v, PG_CONNECT_TIMEOUT_S);
    char loc[1024];
    snprintf(loc, sizeof loc, "%s%sconnect_timeout=7", store_test_location(),
             strchr(store_test_location(), '?') ? "&" : "?");
    pg_conn c7;
    ASSERT_EQ(pg_connect(&c7, loc, &err), 0);
    conn_option(c7.db, "connect_timeout", v, sizeof v);
    ASSERT_STREQ(v, "7");
    pg_disconnect(&c7);

    const char *const keys[] = {"dbname", "dbname", NULL};
    const char *const vals[] = {store_test_location(), "postgres", NULL};
    PGconn *admin = PQconnectdbParams(keys, vals, 1);
    ASSERT_EQ(PQstatus(admin), CONNECTION_OK);
    char sql[256];
    snprintf(sql, sizeof sql, "ALTER DATABASE \"%s\" ALLOW_CONNECTIONS false", PQdb(c.db));
    store_test_pg_exec(admin, sql);
    snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(%d)", PQbackendPID(c.db));
    store_test_pg_exec(admin, sql);
    int rc = 0;
    for (int i = 0; i < 100 && (rc = pg_plain(&c, "SELECT 1", &err)) == 0; i++)
        usleep(20000); /* until the terminated backend's socket closes */
    ASSERT_EQ(rc, HARK_EUNAVAIL);
    ASSERT(strstr(err.msg, "is unavailable") != NULL);

    ASSERT_EQ(pg_ensure(&c, &err), HARK_EUNAVAIL); /* the reset is refused */
    ASSERT_EQ(c.retry_ms, PG_RETRY_MIN_MS);
    ASSERT(strstr(err.msg, "is unavailable") != NULL);
    ASSERT_EQ(pg_ensure(&c, &err), HARK_EUNAVAIL);
    if (mono_ms() < c.retry_at) /* still within it: no attempt was made */
        ASSERT_EQ(c.retry_ms, PG_RETRY_MIN_MS);
    usleep((useconds_t)(c.retry_at - mono_ms() + 20) * 1000);
    ASSERT_EQ(pg_ensure(&c, &err), HARK_EUNAVAIL); /* tried again, refused again */
    ASSERT_EQ(c.retry_ms, 2 * PG_RETRY_MIN_MS);

    snprintf(sql, sizeof sql, "ALTER DATABASE \"%s\" ALLOW_CONNECTIONS true", PQdb(c.db));
    store_test_pg_exec(admin, sql);
    PQfinish(admin);
    int64_t asked = mono_ms();
    rc = pg_ensure(&c, &err);
    if (asked < c.retry_at) /* within the backoff: not tried, though it is back */
        ASSERT_EQ(rc, HARK_EUNAVAIL);
    if (rc) {
        int64_t left = c.retry_at - mono_ms();
        if (left > 0)
            usleep((useconds_t)(left + 20) * 1000);
        ASSERT_EQ(pg_ensure(&c, &err), 0);
    }
    ASSERT_EQ(c.retry_ms, 0);
    ASSERT_EQ(pg_plain(&c, "SELECT 1", &err), 0);
    pg_disconnect(&c);
}

/* Two nodes opening one new database at once migrate it once (the
 * advisory lock): both get a working store. */
static void *open_one(void *arg)
{
    store_options o = {.now_ms = fake_clock};
    hark_err err = {0};
    if (store_open(store_test_location(), &o, (store **)arg, &err))
        fprintf(stderr, "store_open: %s\n", err.msg);
    return NULL;
}

static void test_concurrent_opens_migrate_once(void)
{
    if (!have_server(__func__))
        return;
    pthread_t th[4];
    store *st[4] = {0};
    for (int i = 0; i < 4; i++)
        ASSERT_EQ(pthread_create(&th[i], NULL, open_one, &st[i]), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 4; i++)
        ASSERT(st[i] != NULL);
    /* Each migration applied once (a second run of one would have failed
     * on its CREATE, or left a second row). */
    ASSERT_EQ(store_test_count("SELECT count(*) FROM schema_migrations"), pg_schema_version());
    ASSERT_EQ(store_test_count("SELECT max(version) FROM schema_migrations"), pg_schema_version());
    char id[STORE_ID_SIZE];
    submit(st[0], STORE_PRIO_NORMAL, "x.wav", id);
    ASSERT_EQ(job_state_of(st[3], id), STORE_QUEUED);
    for (int i = 0; i < 4; i++)
        store_close(st[i]);
}

static int64_t pg_count(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
        TEST_FAIL_("%s: %s", sql, PQresultErrorMessage(r));
    int64_t v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return v;
}

/* Index entries of tasks_claim read, and sequential scans of tasks, so far
 * (the server's statistics, as a new session sees them). */
static void claim_reads(int64_t *entries, int64_t *seq_scans)
{
    PGconn *c = store_test_pg();
    *entries = pg_count(c, "SELECT idx_tup_read FROM pg_stat_user_indexes"
                           " WHERE indexrelname = 'tasks_claim'");
    *seq_scans = pg_count(c, "SELECT seq_scan FROM pg_stat_user_tables WHERE relname = 'tasks'");
    PQfinish(c);
}

/* A claim reads the first entries of the claim index, whatever the queue's
 * length: 50 claims with 20000 jobs queued read a few entries each, and
 * never scan the tasks table. */
static void test_claim_reads_do_not_grow_with_the_queue(void)
{
    if (!have_server(__func__))
        return;
    fake_now = T0;
    store *st = open_db(); /* the schema */
    store_close(st);
    PGconn *c = store_test_pg();
    store_test_pg_exec(c, "INSERT INTO jobs(id, kind, state, priority, seq, created_ms,"
                          " updated_ms, input, source, options)"
                          " SELECT 'jbulk' || g, 'transcribe', 'queued', 2, nextval('job_seq'),"
                          " 0, 0, 'x', 'x', '{}' FROM generate_series(1, 20000) g");
    store_test_pg_exec(c, "INSERT INTO tasks(job_id, idx, prio, job_seq, state)"
                          " SELECT id, -1, priority, seq, 'pending' FROM jobs");
    store_test_pg_exec(c, "ANALYZE");
    PQfinish(c);
    int64_t entries0, scans0, entries = 0, scans = 0;
    claim_reads(&entries0, &scans0);
    st = open_db();
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 1; i <= 50; i++) {
        store_task t = claim(st, "w", LONG_LEASE);
        ASSERT_EQ(t.kind, STORE_TASK_PREPARE);
        char want[32];
        snprintf(want, sizeof want, "jbulk%d", i);
        ASSERT_STREQ(t.job_id, want); /* FIFO */
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double us = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / 1e3;
    store_close(st); /* its session's statistics reach the server as it ends */
    for (int tries = 0; tries < 50 && entries - entries0 < 50; tries++) {
        usleep(100000);
        claim_reads(&entries, &scans);
    }
    printf("     50 claims over 20000 queued jobs: %lld claim-index entries read, %lld scans"
           " of tasks, %.0f us a claim\n",
           (long long)(entries - entries0), (long long)(scans - scans0), us / 50);
    ASSERT(entries - entries0 >= 50);
    ASSERT_LE(entries - entries0, 50 * 10);
    ASSERT_EQ(scans - scans0, 0);
}

/* The same when the queue has just grown by a burst the server's
 * statistics have not seen (analyzed while nearly empty, then 20 jobs of
 * 1000 chunks each committed at once, as a long recording's plan adds
 * them): the claims still walk the claim index from its start instead of
 * reading every pending task and sorting them (pg_store.c, claim_plan). */
static void test_claims_after_a_burst_the_statistics_missed(void)
{
    if (!have_server(__func__))
        return;
    fake_now = T0;
    store *st = open_db();
    store_close(st);
    PGconn *c = store_test_pg();
    store_test_pg_exec(c, "ANALYZE");
    store_test_pg_exec(c, "INSERT INTO jobs(id, kind, state, priority, seq, created_ms,"
                          " updated_ms, input, source, options)"
                          " SELECT 'jburst' || g, 'transcribe', 'running', 3, nextval('job_seq'),"
                          " 0, 0, 'x', 'x', '{}' FROM generate_series(1, 20) g");
    store_test_pg_exec(c, "INSERT INTO tasks(job_id, idx, prio, job_seq, state,"
                          " start_sample, end_sample)"
                          " SELECT id, g, priority, seq, 'pending', g * 16000, (g + 1) * 16000"
                          " FROM jobs, generate_series(0, 999) g");
    PQfinish(c);
    int64_t entries0, scans0, entries = 0, scans = 0;
    claim_reads(&entries0, &scans0);
    st = open_db();
    for (int i = 0; i < 50; i++) {
        store_task t = claim(st, "w", LONG_LEASE);
        ASSERT_EQ(t.kind, STORE_TASK_CHUNK);
        ASSERT_STREQ(t.job_id, "jburst1"); /* FIFO: the first job's chunks in order */
        ASSERT_EQ(t.idx, i);
    }
    store_close(st);
    for (int tries = 0; tries < 50 && entries - entries0 < 50; tries++) {
        usleep(100000);
        claim_reads(&entries, &scans);
    }
    printf("     50 claims just after a burst of 20000 chunks: %lld claim-index entries read,"
           " %lld scans of tasks\n",
           (long long)(entries - entries0), (long long)(scans - scans0));
    ASSERT(entries - entries0 >= 50);
    ASSERT_LE(entries - entries0, 50 * 10);
    ASSERT_EQ(scans - scans0, 0);
}

/* The default clock is the server's (pg_store.c, THE CLOCK): every path
 * that reads it (a writer's BEGIN, a reader's, a claim's) gives times
 * that agree with the server's clock_timestamp(). */
static void test_default_clock_is_the_servers(void)
{
    if (!have_server(__func__))
        return;
    PGconn *c = store_test_pg();
    int64_t before = pg_count(c, "SELECT (extract(epoch from clock_timestamp()) * 1000)::int8");
    store *st = NULL;
    hark_err err = {0};
    ASSERT_EQ(store_open(store_test_location(), NULL, &st, &err), 0);
    char id[STORE_ID_SIZE];
    submit(st, STORE_PRIO_NORMAL, "x.wav", id);
    store_task t = claim(st, "w", 60000);
    ASSERT_EQ(t.kind, STORE_TASK_PREPARE);
    store_peek_info p;
    ASSERT_EQ(store_peek(st, &p, &err), 0);
    int64_t after = pg_count(c, "SELECT (extract(epoch from clock_timestamp()) * 1000)::int8");
    store_job j = get(st, id);
    ASSERT(j.created_ms >= before && j.created_ms <= after);
    ASSERT(j.started_ms >= j.created_ms && j.started_ms <= after);
    store_job_release(&j);
    ASSERT(t.expires_ms >= before + 60000 && t.expires_ms <= after + 60000);
    ASSERT_EQ(p.wake_ms, t.expires_ms); /* the lease is the next thing to happen */
    ASSERT_EQ(store_renew(st, t.token, 60000, &err), 0);
    ASSERT_EQ(store_expire_leases(st, NULL, &err), 0);
    ASSERT_EQ(job_state_of(st, id), STORE_RUNNING);
    PQfinish(c);
    store_close(st);
}

/* ---- nodes racing on one job's rows (pg_store.c, JOB ROW LOCKS) ---------- */

enum { RACE_JOBS = 4, RACE_CHUNKS = 16, RACE_ROUNDS = 150 };
static char race_ids[RACE_JOBS][STORE_ID_SIZE];

/* Any code but these is a failure: a deadlock or a lock error would come
 * back as HARK_EIO. */
static void race_ok(const char *what, int rc, const hark_err *err)
{
    if (rc != 0 && rc != HARK_ESTALE && rc != HARK_EINVAL)
        TEST_FAIL_("%s: %d %s", what, rc, err->msg);
}

static void *race_worker(void *arg)
{
    store *st = arg;
    hark_err err = {0};
    for (int i = 0; i < RACE_ROUNDS; i++) {
        store_task t;
        int rc = store_claim(st, "w", LONG_LEASE, &t, &err);
        race_ok("claim", rc, &err);
        if (rc || t.kind == STORE_TASK_NONE)
            continue;
        if (i % 5 == 4)
            rc = store_release(st, t.token, STORE_RELEASE_PREEMPTED, NULL, NULL, &err);
        else if (i % 7 == 6)
            rc = store_release(st, t.token, STORE_RELEASE_FAILED, "racing", NULL, &err);
        else
            rc = store_commit_chunk(st, t.token, "[\"w\"]", 0.1, NULL, &err);
        race_ok("commit or release", rc, &err);
    }
    return NULL;
}

static void *race_controller(void *arg)
{
    store *st = arg;
    hark_err err = {0};
    for (int i = 0; i < RACE_ROUNDS; i++) {
        const char *id = race_ids[i % RACE_JOBS];
        race_ok("pause", store_pause(st, STORE_SCOPE_ALL, id, &err), &err);
        race_ok("resume", store_resume(st, STORE_SCOPE_ALL, id, &err), &err);
        if (i == RACE_ROUNDS / 2)
            race_ok("cancel", store_cancel(st, STORE_SCOPE_ALL, race_ids[0], &err), &err);
        int n;
        race_ok("expire", store_expire_leases(st, &n, &err), &err);
    }
    return NULL;
}

/* Two nodes claim and commit while a third pauses, resumes and cancels the
 * same jobs: no call fails with a lock error, and no lease is left in a
 * job that is not queued or running (store_check). */
static void test_claims_race_pauses_without_deadlock_or_stray_leases(void)
{
    if (!have_server(__func__))
        return;
    fake_now = T0;
    store *a = open_node("node-a", "a-1"), *b = open_node("node-b", "b-1"),
          *c = open_node("node-c", "c-1");
    for (int i = 0; i < RACE_JOBS; i++) { /* each class above the last: its prepare is next */
        submit(a, STORE_PRIO_LOW - i, "x.wav", race_ids[i]);
        prepare(a, race_ids[i], RACE_CHUNKS);
    }
    pthread_t th[3];
    ASSERT_EQ(pthread_create(&th[0], NULL, race_worker, a), 0);
    ASSERT_EQ(pthread_create(&th[1], NULL, race_worker, b), 0);
    ASSERT_EQ(pthread_create(&th[2], NULL, race_controller, c), 0);
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    check_store(c);
    ASSERT_EQ(job_state_of(c, race_ids[0]), STORE_CANCELLED);
    int64_t done = 0;
    for (int i = 0; i < RACE_JOBS; i++) {
        store_job j = get(c, race_ids[i]);
        done += j.chunks_done;
        store_job_release(&j);
    }
    printf("     %lld chunks committed while racing\n", (long long)done);
    ASSERT(done > 0);
    store_close(a);
    store_close(b);
    store_close(c);
}

typedef struct pause_call {
    store *st;
    const char *id;
    int rc;
    volatile int done;
} pause_call;

static void *pause_thread(void *arg)
{
    pause_call *p = arg;
    hark_err err = {0};
    p->rc = store_pause(p->st, STORE_SCOPE_ALL, p->id, &err);
    p->done = 1;
    return NULL;
}

/* A claim in flight holds its job's row (FOR KEY SHARE) and has leased a
 * task it has not committed yet; a pause on another node waits for it and
 * then revokes that lease too, instead of missing it and leaving a lease
 * in a paused job. The claim is played by a raw session doing what
 * pg_store.c's claim does, stopped before its commit. */
static void test_pause_waits_for_a_claim_in_flight(void)
{
    if (!have_server(__func__))
        return;
    fake_now = T0;
    store *a = open_node("node-a", "a-1");
    char id[STORE_ID_SIZE];
    submit(a, STORE_PRIO_NORMAL, "x.wav", id);
    prepare(a, id, 2);
    PGconn *c = store_test_pg();
    store_test_pg_exec(c, "BEGIN");
    const char *params[2] = {id, NULL};
    char expires[32];
    snprintf(expires, sizeof expires, "%lld", (long long)(T0 + LONG_LEASE));
    params[1] = expires;
    PGresult *r = PQexecParams(c, "SELECT 1 FROM jobs WHERE id = $1 FOR KEY SHARE", 1, NULL, params,
                               NULL, NULL, 0);
    ASSERT_EQ(PQresultStatus(r), PGRES_TUPLES_OK);
    PQclear(r);
    r = PQexecParams(c,
                     "UPDATE tasks SET state = 'leased', lease_token = nextval('lease_tokens'),"
                     " lease_owner = 'raw', lease_expires_ms = $2::int8"
                     " WHERE job_id = $1 AND idx = 0",
                     2, NULL, params, NULL, NULL, 0);
    ASSERT_EQ(PQresultStatus(r), PGRES_COMMAND_OK);
    ASSERT_STREQ(PQcmdTuples(r), "1");
    PQclear(r);

    pause_call p = {.st = a, .id = id};
    pthread_t th;
    ASSERT_EQ(pthread_create(&th, NULL, pause_thread, &p), 0);
    usleep(300000);
    ASSERT_EQ(p.done, 0); /* waiting for the claim's row lock */
    store_test_pg_exec(c, "COMMIT");
    pthread_join(th, NULL);
    ASSERT_EQ(p.rc, 0);
    ASSERT_EQ(job_state_of(a, id), STORE_PAUSED);
    ASSERT_EQ(store_test_count("SELECT count(*) FROM tasks WHERE state = 'leased'"), 0);
    check_store(a);
    PQfinish(c);
    store_close(a);
}

/* ---- store_watch: LISTEN/NOTIFY between nodes ---- */

typedef struct wake_count {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    int n;
} wake_count;

static void count_wake(void *ctx)
{
    wake_count *w = ctx;
    pthread_mutex_lock(&w->mu);
    w->n++;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->mu);
}

static int wakes(wake_count *w)
{
    pthread_mutex_lock(&w->mu);
    int n = w->n;
    pthread_mutex_unlock(&w->mu);
    return n;
}

/* Wait up to ms for w to pass n; true if it did. */
static bool wait_wake(wake_count *w, int n, int ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (long)(ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&w->mu);
    int rc = 0;
    while (w->n <= n && rc == 0)
        rc = pthread_cond_timedwait(&w->cond, &w->mu, &until);
    bool passed = w->n > n;
    pthread_mutex_unlock(&w->mu);
    return passed;
}

static store *open_watching(const char *node, const char *life, wake_count *w)
{
    store_options o = {.now_ms = fake_clock,
                       .node = node,
                       .incarnation = life,
                       .on_remote_change = count_wake,
                       .remote_ctx = w};
    store *st = NULL;
    hark_err err = {0};
    if (store_open(store_test_location(), &o, &st, &err))
        TEST_FAIL_("store_open: %s", err.msg);
    ASSERT_EQ(store_watch(st, &err), 0);
    return st;
}

/* A commit on node a wakes node b's watcher, and not a's own (its
 * in-process on_commit does that); a dropped listener connection is
 * made again and fires once (what was sent meanwhile is lost). */
static void test_watch_hears_other_nodes_commits_only(void)
{
    if (!have_server(__func__))
        return;
    fake_now = T0;
    wake_count wa = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
    wake_count wb = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
    store *a = open_watching("node-a", "a-1", &wa);
    store *b = open_watching("node-b", "b-1", &wb);
    char id[STORE_ID_SIZE];
    /* The listener connects on its thread: submit until b hears one. */
    bool heard = false;
    for (int i = 0; i < 20 && !heard; i++) {
        int n = wakes(&wb);
        submit(a, STORE_PRIO_NORMAL, "x.wav", id);
        heard = wait_wake(&wb, n, 250);
    }
    ASSERT(heard);
    /* Every further writer commit of a reaches b, well under the poll
     * interval of the fallback (typically a few ms; 1 s for a loaded
     * machine); none of a's reaches a. */
    int a0 = wakes(&wa);
    for (int i = 0; i < 5; i++) {
        int n = wakes(&wb);
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        submit(a, STORE_PRIO_NORMAL, "y.wav", id);
        ASSERT(wait_wake(&wb, n, 2000));
        clock_gettime(CLOCK_MONOTONIC, &t1);
        long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
        ASSERT(ms < 1000); /* 5 s without the NOTIFY (the idle poll) */
    }
    ASSERT_EQ(wakes(&wa), a0);
    /* b's commit wakes a. */
    submit(b, STORE_PRIO_NORMAL, "z.wav", id);
    ASSERT(wait_wake(&wa, a0, 2000));
    /* Kill every other backend (both handles' and both listeners'): the
     * listeners come back by themselves and fire, no commit needed. */
    int nb = wakes(&wb);
    PGconn *c = store_test_pg();
    store_test_pg_exec(c, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                          " WHERE datname = current_database() AND pid <> pg_backend_pid()");
    PQfinish(c);
    ASSERT(wait_wake(&wb, nb, 3000));
    /* And hear commits again (a's handle reconnects on its next call). */
    heard = false;
    for (int i = 0; i < 20 && !heard; i++) {
        int n = wakes(&wb);
        hark_err err = {0};
        store_job_spec spec = {.kind = "transcribe", .input = "w.wav"};
        if (store_submit(a, &spec, id, &err) != 0) /* the reset connection's first call */
            continue;
        heard = wait_wake(&wb, n, 250);
    }
    ASSERT(heard);
    /* Unwatched, b hears nothing more (serve stops it before freeing the
     * runtime its callback wakes). */
    store_unwatch(b);
    int quiet_n = wakes(&wb);
    submit(a, STORE_PRIO_NORMAL, "v.wav", id);
    usleep(300000);
    ASSERT_EQ(wakes(&wb), quiet_n);
    store_close(a); /* stops a's watcher: LeakSanitizer sees nothing left */
    store_close(b);
}

/* A server that cannot be reached: the watcher polls (fires every
 * PG_WATCH_POLL_MS), and stops at once when asked. Needs no server. */
static void test_watch_polls_while_the_server_is_unreachable(void)
{
    wake_count w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
    pg_watch *pw = NULL;
    hark_err err = {0};
    ASSERT_EQ(pg_watch_start("postgresql:///hark?host=/nonexistent-hark-dir", "nowhere", "me",
                             count_wake, &w, &pw, &err),
              0);
    usleep(1200000);
    int n = wakes(&w);
    ASSERT(n >= 3 && n <= 6); /* about one per 250 ms */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pg_watch_stop(pw);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    ASSERT(ms < 500);
}

/* store_request_yield from node "who": the token asked (0: none), and the
 * node holding it in node (may be NULL). */
static int64_t ask_yield(store *who, char *node)
{
    int64_t token = -1;
    char spare[64];
    hark_err err = {0};
    if (store_request_yield(who, &token, node ? node : spare, 64, &err))
        TEST_FAIL_("store_request_yield: %s", err.msg);
    return token;
}

static bool yield_asked_of(store *st, int64_t token)
{
    bool asked = false;
    hark_err err = {0};
    if (store_yields_asked(st, &token, 1, &asked, &err))
        TEST_FAIL_("store_yields_asked: %s", err.msg);
    return asked;
}

/* Preemption across nodes: three nodes busy (two on low work, one on
 * normal), a realtime task arrives. Whichever node asks, one worker in the
 * cluster is picked, the newest low lease; asking again, from any node,
 * asks no other. Its node sees the mark; after its yield the freed worker
 * is owed the task (no second worker is asked before it claims), and once
 * it claimed nothing more is asked. Two realtime tasks waiting ask two
 * workers, the low one first, then the normal one, then nothing. */
static void test_one_worker_in_the_cluster_yields(void)
{
    if (!have_server(__func__))
        return;
    fake_now = T0;
    store *a = open_node("node-a", "a-1"), *b = open_node("node-b", "b-1"),
          *c = open_node("node-c", "c-1");
    ASSERT(store_coordinates_yields(a));
    char low[STORE_ID_SIZE], normal[STORE_ID_SIZE], rt[STORE_ID_SIZE], rt2[STORE_ID_SIZE];
    hark_err err = {0};
    submit(a, STORE_PRIO_LOW, "low.wav", low);
    prepare(a, low, 2);
    submit(a, STORE_PRIO_NORMAL, "normal.wav", normal);
    prepare(a, normal, 1);
    store_task tb = claim(b, "w1", LONG_LEASE); /* the normal chunk */
    ASSERT_STREQ(tb.job_id, normal);
    store_task ta = claim(a, "w1", LONG_LEASE);
    store_task tc = claim(c, "w1", LONG_LEASE); /* the newest low lease */
    ASSERT_STREQ(tc.job_id, low);
    ASSERT_EQ(ask_yield(a, NULL), 0); /* nothing better waits */
    /* A worker whose claim found nothing is idle: a better task arriving
     * is its (below), nobody yields for it. */
    store_task none = claim(b, "w2", LONG_LEASE);
    ASSERT_EQ(none.kind, STORE_TASK_NONE);

    submit(a, STORE_PRIO_REALTIME, "rt.wav", rt);
    prepare(a, rt, 1);
    /* prepare()'s worker is between tasks and b's w2 idle: either would
     * take the waiting task, so nobody is asked to yield... */
    ASSERT_EQ(ask_yield(b, NULL), 0);
    fake_now += 1500; /* ... until they lapse (they never claim) */
    char node[64];
    ASSERT_EQ(ask_yield(b, node), tc.token);
    ASSERT_STREQ(node, "node-c");
    ASSERT_EQ(ask_yield(a, NULL), 0);
    ASSERT_EQ(ask_yield(c, NULL), 0);
    ASSERT(yield_asked_of(c, tc.token));
    ASSERT(!yield_asked_of(a, ta.token));
    ASSERT(!yield_asked_of(b, tb.token));

    /* c's worker yields: until it claims, the waiting task is its. */
    ASSERT_EQ(store_release(c, tc.token, STORE_RELEASE_PREEMPTED, "preempted", NULL, &err), 0);
    ASSERT_EQ(ask_yield(a, NULL), 0);
    ASSERT_EQ(ask_yield(b, NULL), 0);
    store_task r = claim(c, "w1", LONG_LEASE);
    ASSERT_STREQ(r.job_id, rt);
    ASSERT_EQ(ask_yield(a, NULL), 0); /* nothing better waits */
    ASSERT(!yield_asked_of(c, r.token));
    ASSERT_EQ(commit(c, r.token, "[\"rt\"]", &err), 0);

    /* Two realtime chunks wait and every worker is busy: two are asked. */
    store_task tc2 = claim(c, "w1", LONG_LEASE);
    ASSERT_STREQ(tc2.job_id, low);
    submit(b, STORE_PRIO_REALTIME, "rt2.wav", rt2);
    prepare(b, rt2, 2);
    fake_now += 1500;
    ASSERT_EQ(ask_yield(a, NULL), tc2.token);
    ASSERT_EQ(ask_yield(c, NULL), ta.token);
    ASSERT_EQ(ask_yield(b, NULL), 0); /* the normal lease is spared: enough asked */
    check_store(a);
    /* A grant whose worker never claims (its node died) stops counting. */
    ASSERT_EQ(store_release(a, ta.token, STORE_RELEASE_PREEMPTED, "preempted", NULL, &err), 0);
    ASSERT_EQ(store_release(c, tc2.token, STORE_RELEASE_PREEMPTED, "preempted", NULL, &err), 0);
    ASSERT_EQ(ask_yield(b, NULL), 0);
    fake_now += 2000;
    ASSERT_EQ(ask_yield(b, NULL), tb.token);
    store_close(a);
    store_close(b);
    store_close(c);
}

/* A worker slow to stop outlives its lease (renewals stop while it
 * yields): its asked lease, expired but not yet swept, still counts, so
 * nobody asks a second worker meanwhile; the sweep ends it. */
static void test_an_asked_lease_counts_until_it_ends(void)
{
    if (!have_server(__func__))
        return;
    fake_now = T0;
    store *a = open_node("node-a", "a-1"), *b = open_node("node-b", "b-1");
    char low[STORE_ID_SIZE], rt[STORE_ID_SIZE];
    submit(a, STORE_PRIO_LOW, "low.wav", low);
    prepare(a, low, 2);
    store_task ta = claim(a, "w1", LONG_LEASE);
    store_task tb = claim(b, "w1", 2000);
    submit(a, STORE_PRIO_REALTIME, "rt.wav", rt);
    prepare(a, rt, 1);
    fake_now += 1500;
    ASSERT_EQ(ask_yield(b, NULL), tb.token); /* the newest */
    fake_now += 1000;                        /* tb's lease ran out, unswept */
    ASSERT_EQ(ask_yield(a, NULL), 0);
    int n = 0;
    hark_err err = {0};
    ASSERT_EQ(store_expire_leases(a, &n, &err), 0);
    ASSERT_EQ(n, 1);
    ASSERT_EQ(ask_yield(a, NULL), ta.token); /* now the clip waits for a yield again */
    check_store(a);
    store_close(a);
    store_close(b);
}

typedef struct yield_race {
    store *st;
    pthread_barrier_t *go;
    int64_t token;
} yield_race;

static void *yield_racer(void *arg)
{
    yield_race *y = arg;
    pthread_barrier_wait(y->go);
    hark_err err = {0};
    char node[64];
    if (store_request_yield(y->st, &y->token, node, sizeof node, &err))
        y->token = -1;
    return NULL;
}

/* Three nodes ask at the same moment: one worker is asked, not three. */
static void test_nodes_asking_at_once_ask_one_worker(void)
{
    if (!have_server(__func__))
        return;
    fake_now = T0;
    store *n[3] = {open_node("node-a", "a-1"), open_node("node-b", "b-1"),
                   open_node("node-c", "c-1")};
    char low[STORE_ID_SIZE], rt[STORE_ID_SIZE];
    submit(n[0], STORE_PRIO_LOW, "low.wav", low);
    prepare(n[0], low, 3);
    store_task cur[3];
    for (int i = 0; i < 3; i++) {
        cur[i] = claim(n[i], "w1", LONG_LEASE);
        ASSERT_STREQ(cur[i].job_id, low);
    }
    for (int round = 0; round < 5; round++) {
        submit(n[0], STORE_PRIO_REALTIME, "rt.wav", rt);
        prepare(n[0], rt, 1);
        fake_now += 1500; /* prepare()'s worker no longer counts as about to claim */
        pthread_barrier_t go;
        pthread_barrier_init(&go, NULL, 3);
        yield_race y[3];
        pthread_t th[3];
        for (int i = 0; i < 3; i++) {
            y[i] = (yield_race){.st = n[i], .go = &go};
            ASSERT_EQ(pthread_create(&th[i], NULL, yield_racer, &y[i]), 0);
        }
        int asked = 0;
        int64_t token = 0;
        for (int i = 0; i < 3; i++) {
            pthread_join(th[i], NULL);
            ASSERT(y[i].token >= 0);
            asked += y[i].token > 0;
            if (y[i].token > 0)
                token = y[i].token;
        }
        pthread_barrier_destroy(&go);
        ASSERT_EQ(asked, 1);
        /* The asked worker yields, runs the realtime chunk, and takes its
         * low chunk back: three low leases again, none asked. */
        int k = 0;
        while (k < 3 && cur[k].token != token)
            k++;
        ASSERT(k < 3);
        hark_err err = {0};
        ASSERT_EQ(store_release(n[k], token, STORE_RELEASE_PREEMPTED, "preempted", NULL, &err), 0);
        store_task r = claim(n[k], "w1", LONG_LEASE);
        ASSERT_STREQ(r.job_id, rt);
        ASSERT_EQ(commit(n[k], r.token, "[\"rt\"]", &err), 0);
        cur[k] = claim(n[k], "w1", LONG_LEASE);
        ASSERT_STREQ(cur[k].job_id, low);
    }
    check_store(n[0]);
    for (int i = 0; i < 3; i++)
        store_close(n[i]);
}

/* Realtime exclusivity covers a machine: a realtime lease of node a is
 * seen by the peek of b, another node of a's machine, and by no node of
 * another machine, nor by a itself (its runtime knows); the claim wakes
 * b at once (a claim of other work does not), and the lease stops
 * counting when it is committed or expires. */
static void test_realtime_lease_is_seen_by_the_machines_other_nodes(void)
{
    if (!have_server(__func__))
        return;
    fake_now = T0;
    wake_count wb = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
    store_options oa = {
        .now_ms = fake_clock, .node = "node-a", .incarnation = "a-1", .machine = "m1"};
    store_options ob = {.now_ms = fake_clock,
                        .node = "node-b",
                        .incarnation = "b-1",
                        .machine = "m1",
                        .on_remote_change = count_wake,
                        .remote_ctx = &wb};
    store_options oc = {
        .now_ms = fake_clock, .node = "node-c", .incarnation = "c-1", .machine = "m2"};
    store *a = NULL, *b = NULL, *c = NULL;
    hark_err err = {0};
    ASSERT_EQ(store_open(store_test_location(), &oa, &a, &err), 0);
    ASSERT_EQ(store_open(store_test_location(), &ob, &b, &err), 0);
    ASSERT_EQ(store_open(store_test_location(), &oc, &c, &err), 0);
    ASSERT_EQ(store_watch(b, &err), 0);
    char low[STORE_ID_SIZE], rt[STORE_ID_SIZE];
    submit(a, STORE_PRIO_LOW, "low.wav", low);
    prepare(a, low, 3);
    submit(a, STORE_PRIO_REALTIME, "rt.wav", rt);
    prepare(a, rt, 2);
    /* The listener connects on its thread: wait until b hears a commit. */
    bool heard = false;
    for (int i = 0; i < 20 && !heard; i++) {
        int n = wakes(&wb);
        char id[STORE_ID_SIZE];
        submit(a, STORE_PRIO_LOW, "x.wav", id);
        heard = wait_wake(&wb, n, 250);
    }
    ASSERT(heard);
    store_peek_info pk;
    ASSERT_EQ(store_peek(b, &pk, &err), 0);
    ASSERT(!pk.realtime_nearby);

    int n = wakes(&wb);
    store_task r = claim(a, "w1", LONG_LEASE);
    ASSERT_STREQ(r.job_id, rt);
    ASSERT(wait_wake(&wb, n, 2000)); /* the realtime claim's NOTIFY */
    ASSERT_EQ(store_peek(b, &pk, &err), 0);
    ASSERT(pk.realtime_nearby);
    ASSERT_EQ(store_peek(c, &pk, &err), 0);
    ASSERT(!pk.realtime_nearby); /* another machine */
    ASSERT_EQ(store_peek(a, &pk, &err), 0);
    ASSERT(!pk.realtime_nearby); /* its own */
    ASSERT_EQ(commit(a, r.token, "[\"rt\"]", &err), 0);
    ASSERT_EQ(store_peek(b, &pk, &err), 0);
    ASSERT(!pk.realtime_nearby);

    /* The second chunk: its lease expires (its node died) and stops
     * counting, whether or not a sweep has ended it. */
    r = claim(a, "w1", LONG_LEASE);
    ASSERT_STREQ(r.job_id, rt);
    ASSERT_EQ(store_peek(b, &pk, &err), 0);
    ASSERT(pk.realtime_nearby);
    fake_now += LONG_LEASE + 1;
    ASSERT_EQ(store_peek(b, &pk, &err), 0);
    ASSERT(!pk.realtime_nearby);

    /* A claim of a running low job's chunk wakes nobody. */
    store_task l1 = claim(c, "w1", LONG_LEASE);
    ASSERT_STREQ(l1.job_id, low);
    usleep(200000);
    n = wakes(&wb);
    store_task l2 = claim(c, "w2", LONG_LEASE);
    ASSERT_STREQ(l2.job_id, low);
    usleep(300000);
    ASSERT_EQ(wakes(&wb), n);
    store_close(a);
    store_close(b);
    store_close(c);
}

int main(void)
{
    test_setup_ = store_test_fresh;
    RUN(test_redact_strips_passwords);
    RUN(test_bad_location_names_it_without_the_password);
    RUN(test_wrong_database_is_named);
    RUN(test_recover_keeps_other_nodes_live_leases);
    RUN(test_restarted_node_revokes_its_earlier_leases_only);
    RUN(test_expired_lease_is_taken_over_and_the_zombie_refused);
    RUN(test_lost_connection_is_reset_on_the_next_call);
    RUN(test_unreachable_server_is_unavailable_and_backed_off);
    RUN(test_concurrent_opens_migrate_once);
    RUN(test_claim_reads_do_not_grow_with_the_queue);
    RUN(test_claims_after_a_burst_the_statistics_missed);
    RUN(test_default_clock_is_the_servers);
    RUN(test_claims_race_pauses_without_deadlock_or_stray_leases);
    RUN(test_pause_waits_for_a_claim_in_flight);
    RUN(test_watch_hears_other_nodes_commits_only);
    RUN(test_watch_polls_while_the_server_is_unreachable);
    RUN(test_one_worker_in_the_cluster_yields);
    RUN(test_nodes_asking_at_once_ask_one_worker);
    RUN(test_an_asked_lease_counts_until_it_ends);
    RUN(test_realtime_lease_is_seen_by_the_machines_other_nodes);
    TEST_DONE();
}
