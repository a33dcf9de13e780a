/* store_test_lib.h - what the store's tests share: the store they run
 * on, a fake clock, and short forms of the common calls.
 *
 * The contract suite (store_test.c) runs on whatever store
 * store_test_location() names, so one binary checks every backend:
 *   HARK_TEST_STORE unset       SQLite, "store.db" in each case's own
 *                               temporary directory (util/test.h)
 *   HARK_TEST_STORE=LOCATION    any store_open location, e.g.
 *                               "sqlite:store.db", or a PostgreSQL
 *                               connection string (tests/pg_fixture.sh
 *                               starts a server and sets it);
 *                               store_test_fresh() empties it before
 *                               each case.
 * store_sqlite_test.c checks what is SQLite's alone (the file, the WAL,
 * migrations of old files, kill -9 and the file-size limit) and always
 * runs on the default. */
#ifndef HARK_STORE_STORE_TEST_LIB_H
#define HARK_STORE_STORE_TEST_LIB_H

#include "store/store.h"
#include "util/test.h"

#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdint.h>

#define T0 1700000000000LL
#define LONG_LEASE 600000 /* 10 min: never expires within a test */

/* The location every case opens (see above). */
static inline const char *store_test_location(void)
{
    const char *loc = getenv("HARK_TEST_STORE");
    return loc && loc[0] ? loc : "store.db";
}

/* The file of a SQLite location, NULL for another backend's: a PostgreSQL
 * URI, or anything with an '=' in it, taken for libpq's "key=value" form
 * (store_open is stricter, but the suite is never pointed at such a file). */
static inline const char *store_test_sqlite_path(void)
{
    const char *loc = store_test_location();
    if (strncmp(loc, "postgres://", 11) == 0 || strncmp(loc, "postgresql://", 13) == 0 ||
        strchr(loc, '=') != NULL)
        return NULL;
    return strncmp(loc, "sqlite:", 7) == 0 ? loc + 7 : loc;
}

/* A PostgreSQL location's own connection, for what a case does around the
 * store: empty the database, count rows. Fails the case if it cannot. */
static inline PGconn *store_test_pg(void)
{
    PGconn *c = PQconnectdb(store_test_location());
    if (!c || PQstatus(c) != CONNECTION_OK)
        TEST_FAIL_("cannot connect to '%s': %s", store_test_location(),
                   c ? PQerrorMessage(c) : "out of memory");
    return c;
}

static inline void store_test_pg_exec(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        TEST_FAIL_("%s: %s", sql, PQresultErrorMessage(r));
    PQclear(r);
}

/* Before each case (util/test.h's test_setup_): an empty store. A
 * relative SQLite path is new in the case's new directory; an absolute one
 * is removed with its WAL. PostgreSQL's schema (public, where the store's
 * tables, sequences and counters are) is dropped and made again: the next
 * store_open migrates an empty database. */
static inline void store_test_fresh(void)
{
    const char *path = store_test_sqlite_path();
    if (!path) {
        PGconn *c = store_test_pg();
        store_test_pg_exec(c, "SET client_min_messages = warning;"
                              " DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public");
        PQfinish(c);
        return;
    }
    if (path[0] == '/') {
        char side[4200];
        unlink(path);
        snprintf(side, sizeof side, "%s-wal", path);
        unlink(side);
        snprintf(side, sizeof side, "%s-shm", path);
        unlink(side);
    }
}

static int64_t fake_now = T0;

static inline int64_t fake_clock(void *ctx)
{
    (void)ctx;
    return fake_now;
}

static inline store *open_db(void)
{
    store_options o = {.now_ms = fake_clock};
    store *st = NULL;
    hark_err err = {0};
    int rc = store_open(store_test_location(), &o, &st, &err);
    if (rc)
        TEST_FAIL_("store_open: %s", err.msg);
    return st;
}

static inline void submit(store *st, int prio, const char *input, char id[STORE_ID_SIZE])
{
    store_job_spec spec = {.kind = "transcribe", .input = input, .priority = prio};
    hark_err err = {0};
    if (store_submit(st, &spec, id, &err))
        TEST_FAIL_("store_submit: %s", err.msg);
    ASSERT_EQ(strlen(id), STORE_ID_SIZE - 1);
}

static inline store_task claim(store *st, const char *worker, int64_t lease_ms)
{
    store_task t;
    hark_err err = {0};
    if (store_claim(st, worker, lease_ms, &t, &err))
        TEST_FAIL_("store_claim: %s", err.msg);
    return t;
}

/* Claim the prepare task of id (it must be next) and commit a plan of n
 * chunks of 10 s each. */
static inline void prepare(store *st, const char *id, int n)
{
    store_span plan[16];
    ASSERT(n <= 16);
    for (int i = 0; i < n; i++) {
        plan[i].start_sample = (int64_t)i * 10 * STORE_SAMPLE_RATE;
        plan[i].end_sample = (int64_t)(i + 1) * 10 * STORE_SAMPLE_RATE;
    }
    store_task t = claim(st, "prep", LONG_LEASE);
    ASSERT_EQ(t.kind, STORE_TASK_PREPARE);
    ASSERT_STREQ(t.job_id, id);
    hark_err err = {0};
    store_commit_info info;
    if (store_commit_prepare(st, t.token, 10.0 * n, plan, (size_t)n, NULL, &info, &err))
        TEST_FAIL_("store_commit_prepare: %s", err.msg);
    ASSERT_EQ(info.n_chunks, n);
}

static inline store_job get(store *st, const char *id)
{
    store_job j;
    hark_err err = {0};
    if (store_get_job(st, STORE_SCOPE_ALL, id, &j, &err))
        TEST_FAIL_("store_get_job: %s", err.msg);
    return j;
}

static inline int job_state_of(store *st, const char *id)
{
    store_job j = get(st, id);
    int s = j.state;
    store_job_release(&j);
    return s;
}

static inline store_counters counters(store *st)
{
    store_counters c;
    ASSERT_EQ(store_get_counters(st, &c, NULL), 0);
    return c;
}

static inline int commit(store *st, int64_t token, const char *result, hark_err *err)
{
    return store_commit_chunk(st, token, result, 0.5, NULL, err);
}

static inline void ids_are(const store_job_list *l, const char *a, const char *b)
{
    ASSERT_EQ(l->n, (a != NULL) + (b != NULL));
    if (a)
        ASSERT_STREQ(l->jobs[0].id, a);
    if (b)
        ASSERT_STREQ(l->jobs[1].id, b);
}

static inline void check_store(store *st)
{
    hark_err err = {0};
    if (store_check(st, &err))
        TEST_FAIL_("store_check: %s", err.msg);
}

/* A live job (its input open) of owner ("" = none), realtime. */
static inline void submit_live(store *st, const char *owner, char id[STORE_ID_SIZE])
{
    store_job_spec spec = {.kind = "live",
                           .input = "live.s16le",
                           .priority = STORE_PRIO_REALTIME,
                           .owner = owner,
                           .input_open = true};
    hark_err err = {0};
    if (store_submit(st, &spec, id, &err))
        TEST_FAIL_("store_submit: %s", err.msg);
}

/* The ids of list l are exactly ids (n of them), in order. */
static inline void list_is(const store_job_list *l, size_t n, const char *const *ids)
{
    ASSERT_EQ(l->n, n);
    for (size_t i = 0; i < n; i++)
        ASSERT_STREQ(l->jobs[i].id, ids[i]);
}

/* ---- SQLite's file, read directly: what the store's own calls cannot show */

static inline int64_t raw_int(const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    ASSERT_EQ(sqlite3_open_v2(store_test_sqlite_path(), &db, SQLITE_OPEN_READWRITE, NULL),
              SQLITE_OK);
    ASSERT_EQ(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return v;
}

static inline void raw_text(const char *sql, char *out, size_t outlen)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    ASSERT_EQ(sqlite3_open_v2(store_test_sqlite_path(), &db, SQLITE_OPEN_READWRITE, NULL),
              SQLITE_OK);
    ASSERT_EQ(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
    const unsigned char *t = sqlite3_column_text(s, 0);
    snprintf(out, outlen, "%s", t ? (const char *)t : "");
    sqlite3_finalize(s);
    sqlite3_close(db);
}

static inline void raw_exec(const char *sql)
{
    sqlite3 *db = NULL;
    ASSERT_EQ(sqlite3_open_v2(store_test_sqlite_path(), &db, SQLITE_OPEN_READWRITE, NULL),
              SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

/* A count the store's calls do not give (rows left behind, say), by a
 * query on the backend's own tables (the same SQL on both). */
static inline int64_t store_test_count(const char *sql)
{
    if (store_test_sqlite_path())
        return raw_int(sql);
    PGconn *c = store_test_pg();
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
        TEST_FAIL_("%s: %s", sql, PQresultErrorMessage(r));
    int64_t v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    PQfinish(c);
    return v;
}

#endif
