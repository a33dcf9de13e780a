/* migrations.c - the SQLite store's schema, as a list of migrations.
 *
 * RULE: if you change the schema, ADD a migration at the end of the list
 * below. NEVER edit a migration that has been applied: databases in the field
 * already ran it, and it will not run again (their PRAGMA user_version says
 * so). Each migration runs in its own transaction and sets user_version to
 * its number; a database whose version is newer than the last entry here is
 * refused (an older hark must not write a newer schema).
 *
 * Tables (version 1):
 *   meta(key, value)          persisted counters: next_seq, last_token,
 *                             refused_commits, refused_renewals,
 *                             expired_leases, recovered_tasks
 *   jobs                      one row per job; (state, priority, seq) is the
 *                             scheduling order; deadline_ms 0 = none
 *   tasks                     (job_id, idx): idx -1 is the prepare task, 0..
 *                             the chunks; lease_* set iff state = 'leased';
 *                             result set iff a chunk is 'done'
 *   events                    append-only log, id global and increasing
 *                             (AUTOINCREMENT: never reused, even after delete)
 *   schema_migrations         which migrations ran, when
 * Version 2: index tasks_backoff (pending tasks waiting out a retry backoff).
 * Version 3: jobs.callback_url (NULL = none), and the webhook outbox:
 *   webhooks                  one row per delivery, inserted in the
 *                             transaction that ends its job; state
 *                             'pending' until 'delivered' or 'failed';
 *                             attempts made so far; next_at_ms when the
 *                             next attempt is due; claimed_until_ms > now
 *                             while a sender holds it (0 = free)
 * Version 4: meta counters jobs_succeeded, jobs_failed, jobs_cancelled.
 * Version 5: jobs.input_root ('' = none): the directory the worker opens the
 *   input beneath, following no symlink (store_job_spec.input_root).
 * Version 6: jobs.owner, the name of the API token that submitted the job
 *   ('' = none: no tokens, `hark transcribe`, and every job from before);
 *   index jobs_owner (owner, seq): an owner's list in submission order
 *   without visiting other owners' jobs. Every job query filters on it
 *   (store.h, "Owners and scopes").
 * Version 7: tasks.resource_waits, waits for a resource (a full disk),
 *   counted apart from failed attempts.
 * Version 8: retry and retention. jobs.finished_ms is set iff the job is in
 *   a terminal state (store_retry clears it). jobs.input_released: the
 *   job's uploaded input was removed (or left to its owner) after it
 *   succeeded or was cancelled; index jobs_unreleased finds the ones whose
 *   input is still to go, jobs_ended the ended jobs by age (pruning).
 */
#include "store/migrations.h"

static const store_migration migrations[] = {
    {1, "jobs, tasks, events, counters",
     "CREATE TABLE meta ("
     "  key TEXT PRIMARY KEY,"
     "  value INTEGER NOT NULL"
     ") WITHOUT ROWID;"
     "INSERT INTO meta(key, value) VALUES ('next_seq', 0), ('last_token', 0),"
     "  ('refused_commits', 0), ('refused_renewals', 0), ('expired_leases', 0),"
     "  ('recovered_tasks', 0);"
     "CREATE TABLE jobs ("
     "  id TEXT PRIMARY KEY,"
     "  kind TEXT NOT NULL,"
     "  state TEXT NOT NULL CHECK (state IN"
     "    ('queued','running','paused','succeeded','failed','cancelled')),"
     "  priority INTEGER NOT NULL CHECK (priority BETWEEN 0 AND 3),"
     "  seq INTEGER NOT NULL UNIQUE,"
     "  created_ms INTEGER NOT NULL,"
     "  updated_ms INTEGER NOT NULL,"
     "  started_ms INTEGER,"
     "  finished_ms INTEGER,"
     "  input TEXT NOT NULL,"
     "  source TEXT NOT NULL,"
     "  options TEXT NOT NULL,"
     "  timeout_s REAL NOT NULL DEFAULT 0,"
     "  deadline_ms INTEGER NOT NULL DEFAULT 0,"
     "  prepared INTEGER NOT NULL DEFAULT 0,"
     "  duration_s REAL NOT NULL DEFAULT 0,"
     "  n_chunks INTEGER NOT NULL DEFAULT 0,"
     "  chunks_done INTEGER NOT NULL DEFAULT 0 CHECK (chunks_done <= n_chunks),"
     "  error TEXT NOT NULL DEFAULT '',"
     "  result_ready INTEGER NOT NULL DEFAULT 0"
     ");"
     "CREATE INDEX jobs_sched ON jobs(state, priority, seq);"
     "CREATE INDEX jobs_created ON jobs(created_ms);"
     "CREATE TABLE tasks ("
     "  job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,"
     "  idx INTEGER NOT NULL CHECK (idx >= -1),"
     "  start_sample INTEGER NOT NULL DEFAULT 0,"
     "  end_sample INTEGER NOT NULL DEFAULT 0,"
     "  state TEXT NOT NULL CHECK (state IN ('pending','leased','done')),"
     "  attempts INTEGER NOT NULL DEFAULT 0,"
     "  last_error TEXT NOT NULL DEFAULT '',"
     "  not_before_ms INTEGER NOT NULL DEFAULT 0,"
     "  lease_token INTEGER,"
     "  lease_owner TEXT,"
     "  lease_expires_ms INTEGER,"
     "  result TEXT,"
     "  decode_s REAL NOT NULL DEFAULT 0,"
     "  PRIMARY KEY (job_id, idx),"
     "  CHECK ((state = 'leased') = (lease_token IS NOT NULL))"
     ") WITHOUT ROWID;"
     "CREATE UNIQUE INDEX tasks_token ON tasks(lease_token) WHERE lease_token IS NOT NULL;"
     "CREATE INDEX tasks_state ON tasks(state, job_id, idx);"
     "CREATE TABLE events ("
     "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
     "  job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,"
     "  type TEXT NOT NULL,"
     "  data TEXT NOT NULL,"
     "  time_ms INTEGER NOT NULL"
     ");"
     "CREATE INDEX events_job ON events(job_id, id);"},
    {2, "index of tasks waiting out a retry backoff",
     /* The scheduler's next wake-up is the earliest such task: without it,
      * finding it visited every pending task of the queue. Partial: only
      * retried tasks are in it, normally none. */
     "CREATE INDEX tasks_backoff ON tasks(not_before_ms)"
     "  WHERE state = 'pending' AND not_before_ms > 0;"},
    {3, "callback URL of a job, webhook outbox",
     "ALTER TABLE jobs ADD COLUMN callback_url TEXT;"
     "CREATE TABLE webhooks ("
     "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
     "  job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,"
     "  url TEXT NOT NULL,"
     "  event TEXT NOT NULL,"
     "  body TEXT NOT NULL,"
     "  state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending','delivered','failed')),"
     "  attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),"
     "  next_at_ms INTEGER NOT NULL,"
     "  claimed_until_ms INTEGER NOT NULL DEFAULT 0,"
     "  last_status INTEGER NOT NULL DEFAULT 0,"
     "  last_error TEXT NOT NULL DEFAULT '',"
     "  created_ms INTEGER NOT NULL,"
     "  updated_ms INTEGER NOT NULL,"
     "  delivered_ms INTEGER"
     ");"
     /* The senders' question, "what is due", visits pending rows only. */
     "CREATE INDEX webhooks_due ON webhooks(next_at_ms) WHERE state = 'pending';"
     "CREATE INDEX webhooks_job ON webhooks(job_id, id);"},
    {4, "counters of jobs by final state",
     /* /metrics' hark_jobs_finished_total must survive restarts and
      * deletes (a count of rows would go down): counted where jobs end.
      * A database from before starts from the jobs it still holds. */
     "INSERT INTO meta(key, value) SELECT 'jobs_succeeded', count(*) FROM jobs"
     "  WHERE state = 'succeeded';"
     "INSERT INTO meta(key, value) SELECT 'jobs_failed', count(*) FROM jobs"
     "  WHERE state = 'failed';"
     "INSERT INTO meta(key, value) SELECT 'jobs_cancelled', count(*) FROM jobs"
     "  WHERE state = 'cancelled';"},
    {5, "root an input is opened beneath",
     /* Jobs from before have none: their input is opened as named. */
     "ALTER TABLE jobs ADD COLUMN input_root TEXT NOT NULL DEFAULT '';"},
    {6, "owner of a job (the API token that submitted it)",
     /* Jobs from before had no owner: '' keeps them visible where they were
      * (a server without tokens, admin tokens), and to no other token. */
     "ALTER TABLE jobs ADD COLUMN owner TEXT NOT NULL DEFAULT '';"
     "CREATE INDEX jobs_owner ON jobs(owner, seq);"},
    {7, "waits of a task for a resource",
     /* A full disk is not a failed attempt: counted apart, with its own
      * backoff and limit (store_release STORE_RELEASE_RESOURCE). */
     "ALTER TABLE tasks ADD COLUMN resource_waits INTEGER NOT NULL DEFAULT 0"
     "  CHECK (resource_waits >= 0);"},
    {8, "retry and retention: released inputs, ended jobs by age",
     /* Jobs that ended before this migration kept their uploads: they are
      * unreleased (0), so the runtime's next pass removes them. */
     "ALTER TABLE jobs ADD COLUMN input_released INTEGER NOT NULL DEFAULT 0;"
     "CREATE INDEX jobs_unreleased ON jobs(finished_ms)"
     "  WHERE input_released = 0 AND state IN ('succeeded','cancelled');"
     "CREATE INDEX jobs_ended ON jobs(finished_ms) WHERE finished_ms IS NOT NULL;"},
    {9, "job kinds: content keys of decoded audio, stage documents",
     /* content_key names the decoded audio (and the model): a chunk of a
      * new job whose key and span match a committed chunk of another is
      * not recognized again (store_find_cached_chunk). doc is what a kind's
      * completion keeps between its stages (store_add_stage). Jobs from
      * before have neither. */
     "ALTER TABLE jobs ADD COLUMN content_key TEXT NOT NULL DEFAULT '';"
     "ALTER TABLE jobs ADD COLUMN doc TEXT NOT NULL DEFAULT '';"
     "CREATE INDEX jobs_content ON jobs(content_key) WHERE content_key != '';"},
    {10, "live jobs: inputs that grow while the job runs",
     /* input_open: more audio may come (a live dictation); input_bytes:
      * how much was received and synced; input_at_ms: when the last came
      * (the idle end). Jobs from before have a closed input. */
     "ALTER TABLE jobs ADD COLUMN input_open INTEGER NOT NULL DEFAULT 0;"
     "ALTER TABLE jobs ADD COLUMN input_bytes INTEGER NOT NULL DEFAULT 0;"
     "ALTER TABLE jobs ADD COLUMN input_at_ms INTEGER NOT NULL DEFAULT 0;"
     "CREATE INDEX jobs_open_input ON jobs(input_at_ms) WHERE input_open = 1;"},
    /* Add new migrations here: {11, "what it does", "ALTER TABLE ..."}. */

};

const store_migration *store_migrations(size_t *n)
{
    *n = sizeof migrations / sizeof migrations[0];
    return migrations;
}
