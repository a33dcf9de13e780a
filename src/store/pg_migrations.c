/* pg_migrations.c - the PostgreSQL store's schema, as a list of migrations.
 *
 * RULE (as in migrations.c): to change the schema, ADD a migration at the
 * end of the list. NEVER edit one that has been applied: databases in the
 * field ran it, and it will not run again (schema_migrations says so). A
 * database whose newest migration is newer than the list is refused.
 *
 * Version 1 is SQLite's version 10 (migrations.c says what each column
 * means), in PostgreSQL's types, and with what several nodes sharing one
 * database need:
 *   sequences job_seq, lease_tokens  submission order; fencing tokens. A
 *                             sequence never hands a number out twice, even
 *                             to a transaction that rolled back, so tokens
 *                             are strictly increasing and never reused.
 *   meta                      the persisted counters (no next_seq or
 *                             last_token: the sequences are those)
 *   tasks.prio, tasks.job_seq the job's priority and seq, copied when the
 *                             task is made (neither ever changes): the claim
 *                             order priority, seq, idx is then one index,
 *                             tasks_claim over pending tasks, so a claim
 *                             reads the first claimable entries of it
 *                             whatever the queue's length.
 *   tasks.lease_node, lease_life  who holds a lease: the node's stable name
 *                             and this run of it (store_options.node,
 *                             incarnation). Recovery revokes only expired
 *                             leases and those of its own earlier lives.
 *   webhooks.claimed_node, claimed_life  the same for a sender's claim.
 * Tables live in the connection's search_path (public unless the
 * connection string says otherwise).
 */
#include "store/pg_migrations.h"

#include <stdlib.h>
#include <string.h>

typedef struct pg_migration {
    int version;
    const char *name;
    const char *sql;
} pg_migration;

static const pg_migration migrations[] = {
    {1, "jobs, tasks, events, counters, webhooks (SQLite version 10), lease owners by node",
     "CREATE SEQUENCE job_seq;"
     "CREATE SEQUENCE lease_tokens;"
     "CREATE TABLE meta ("
     "  key TEXT PRIMARY KEY,"
     "  value BIGINT NOT NULL"
     ");"
     "INSERT INTO meta(key, value) VALUES ('refused_commits', 0), ('refused_renewals', 0),"
     "  ('expired_leases', 0), ('recovered_tasks', 0), ('jobs_succeeded', 0),"
     "  ('jobs_failed', 0), ('jobs_cancelled', 0);"
     "CREATE TABLE jobs ("
     "  id TEXT PRIMARY KEY,"
     "  kind TEXT NOT NULL,"
     "  state TEXT NOT NULL CHECK (state IN"
     "    ('queued','running','paused','succeeded','failed','cancelled')),"
     "  priority INTEGER NOT NULL CHECK (priority BETWEEN 0 AND 3),"
     "  seq BIGINT NOT NULL UNIQUE,"
     "  created_ms BIGINT NOT NULL,"
     "  updated_ms BIGINT NOT NULL,"
     "  started_ms BIGINT,"
     "  finished_ms BIGINT,"
     "  input TEXT NOT NULL,"
     "  source TEXT NOT NULL,"
     "  options TEXT NOT NULL,"
     "  timeout_s DOUBLE PRECISION NOT NULL DEFAULT 0,"
     "  deadline_ms BIGINT NOT NULL DEFAULT 0,"
     "  prepared INTEGER NOT NULL DEFAULT 0,"
     "  duration_s DOUBLE PRECISION NOT NULL DEFAULT 0,"
     "  n_chunks INTEGER NOT NULL DEFAULT 0,"
     "  chunks_done INTEGER NOT NULL DEFAULT 0 CHECK (chunks_done <= n_chunks),"
     "  error TEXT NOT NULL DEFAULT '',"
     "  result_ready INTEGER NOT NULL DEFAULT 0,"
     "  callback_url TEXT,"
     "  input_root TEXT NOT NULL DEFAULT '',"
     "  owner TEXT NOT NULL DEFAULT '',"
     "  input_released INTEGER NOT NULL DEFAULT 0,"
     "  content_key TEXT NOT NULL DEFAULT '',"
     "  doc TEXT NOT NULL DEFAULT '',"
     "  input_open INTEGER NOT NULL DEFAULT 0,"
     "  input_bytes BIGINT NOT NULL DEFAULT 0,"
     "  input_at_ms BIGINT NOT NULL DEFAULT 0"
     ");"
     "CREATE INDEX jobs_sched ON jobs(state, priority, seq);"
     "CREATE INDEX jobs_created ON jobs(created_ms);"
     "CREATE INDEX jobs_owner ON jobs(owner, seq);"
     "CREATE INDEX jobs_unreleased ON jobs(finished_ms)"
     "  WHERE input_released = 0 AND state IN ('succeeded','cancelled');"
     "CREATE INDEX jobs_ended ON jobs(finished_ms) WHERE finished_ms IS NOT NULL;"
     "CREATE INDEX jobs_content ON jobs(content_key) WHERE content_key != '';"
     "CREATE INDEX jobs_open_input ON jobs(input_at_ms) WHERE input_open = 1;"
     "CREATE TABLE tasks ("
     "  job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,"
     "  idx INTEGER NOT NULL CHECK (idx >= -1),"
     "  prio INTEGER NOT NULL,"
     "  job_seq BIGINT NOT NULL,"
     "  start_sample BIGINT NOT NULL DEFAULT 0,"
     "  end_sample BIGINT NOT NULL DEFAULT 0,"
     "  state TEXT NOT NULL CHECK (state IN ('pending','leased','done')),"
     "  attempts INTEGER NOT NULL DEFAULT 0,"
     "  resource_waits INTEGER NOT NULL DEFAULT 0 CHECK (resource_waits >= 0),"
     "  last_error TEXT NOT NULL DEFAULT '',"
     "  not_before_ms BIGINT NOT NULL DEFAULT 0,"
     "  lease_token BIGINT,"
     "  lease_owner TEXT,"
     "  lease_node TEXT,"
     "  lease_life TEXT,"
     "  lease_expires_ms BIGINT,"
     "  result TEXT,"
     "  decode_s DOUBLE PRECISION NOT NULL DEFAULT 0,"
     "  PRIMARY KEY (job_id, idx),"
     "  CHECK ((state = 'leased') = (lease_token IS NOT NULL))"
     ");"
     "CREATE UNIQUE INDEX tasks_token ON tasks(lease_token) WHERE lease_token IS NOT NULL;"
     "CREATE INDEX tasks_claim ON tasks(prio, job_seq, idx) WHERE state = 'pending';"
     "CREATE INDEX tasks_leased ON tasks(lease_expires_ms) WHERE state = 'leased';"
     "CREATE INDEX tasks_backoff ON tasks(not_before_ms)"
     "  WHERE state = 'pending' AND not_before_ms > 0;"
     "CREATE TABLE events ("
     "  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
     "  job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,"
     "  type TEXT NOT NULL,"
     "  data TEXT NOT NULL,"
     "  time_ms BIGINT NOT NULL"
     ");"
     "CREATE INDEX events_job ON events(job_id, id);"
     "CREATE TABLE webhooks ("
     "  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
     "  job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,"
     "  url TEXT NOT NULL,"
     "  event TEXT NOT NULL,"
     "  body TEXT NOT NULL,"
     "  state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending','delivered','failed')),"
     "  attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),"
     "  next_at_ms BIGINT NOT NULL,"
     "  claimed_until_ms BIGINT NOT NULL DEFAULT 0,"
     "  claimed_node TEXT,"
     "  claimed_life TEXT,"
     "  last_status INTEGER NOT NULL DEFAULT 0,"
     "  last_error TEXT NOT NULL DEFAULT '',"
     "  created_ms BIGINT NOT NULL,"
     "  updated_ms BIGINT NOT NULL,"
     "  delivered_ms BIGINT"
     ");"
     "CREATE INDEX webhooks_due ON webhooks(next_at_ms) WHERE state = 'pending';"
     "CREATE INDEX webhooks_job ON webhooks(job_id, id);"},
    {2, "yield requests: leases asked to yield, workers between tasks (cross-node preemption)",
     "ALTER TABLE tasks ADD COLUMN yield_asked_ms BIGINT;"
     /* Unlogged: what it holds is for the next second, and writing it
      * (every idle claim) must not wait for a WAL flush. */
     "CREATE UNLOGGED TABLE yield_grants ("
     "  life TEXT NOT NULL,"
     "  owner TEXT NOT NULL,"
     "  until_ms BIGINT NOT NULL,"
     "  PRIMARY KEY (life, owner)"
     ");"},
    {3, "the machine of a lease (realtime exclusivity covers a machine's nodes)",
     "ALTER TABLE tasks ADD COLUMN lease_machine TEXT;"},
    /* Add new migrations here: {4, "what it does", "ALTER TABLE ..."}. */
};

#define N_MIGRATIONS (sizeof migrations / sizeof migrations[0])

/* pg_advisory_xact_lock key of schema changes ("hark" "migr" in ASCII). */
#define MIGRATE_LOCK "7521981955374163314"

int pg_schema_version(void)
{
    return (int)N_MIGRATIONS;
}

int pg_migrate(pg_conn *c, int64_t now_ms, hark_err *err)
{
    for (;;) {
        int64_t v = 0;
        int rc = pg_plain(c,
                          "BEGIN; SELECT pg_advisory_xact_lock(" MIGRATE_LOCK ");"
                          "CREATE TABLE IF NOT EXISTS schema_migrations ("
                          " version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                          " applied_ms BIGINT NOT NULL)",
                          err);
        if (rc == 0)
            rc = pg_q_int64(c, &v, NULL, err,
                            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", "");
        if (rc == 0 && (v < 0 || v > (int64_t)N_MIGRATIONS))
            rc = err_set(err, HARK_EINVAL,
                         "store '%s' has schema version %lld, newer than this hark knows (%d): "
                         "upgrade hark",
                         c->where, (long long)v, (int)N_MIGRATIONS);
        if (rc == 0 && v == (int64_t)N_MIGRATIONS) {
            rc = pg_plain(c, "COMMIT", err);
            return rc;
        }
        const pg_migration *m = rc == 0 ? &migrations[v] : NULL;
        if (rc == 0 && m->version != (int)v + 1)
            rc = err_set(err, HARK_EINVAL, "migration %d is numbered %d", (int)v + 1, m->version);
        if (rc == 0)
            rc = pg_plain(c, m->sql, err);
        if (rc == 0)
            rc = pg_q(c, NULL, NULL, err,
                      "INSERT INTO schema_migrations(version, name, applied_ms)"
                      " VALUES ($1, $2, $3)",
                      "itI", m->version, m->name, now_ms);
        if (rc == 0)
            rc = pg_plain(c, "COMMIT", err);
        if (rc) {
            pg_plain(c, "ROLLBACK", NULL);
            return rc;
        }
    }
}
