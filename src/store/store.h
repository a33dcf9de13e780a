/* store.h - the durable state of the job runtime: jobs, their tasks (one
 * prepare task, then one task per chunk), leases with fencing tokens, and a
 * per-job event log.
 *
 * The daemon owns the store; worker processes never touch it (the daemon
 * commits on their behalf). The interface is backend-neutral: store.c
 * checks the arguments of every call and dispatches to a backend's ops
 * table (store_backend.h): SQLite (sqlite_store.c) or PostgreSQL
 * (pg_store.c) behind the same functions.
 *
 * Conventions (util/err.h): every function returns 0 or a negative HARK_E*
 * code with err (may be NULL) set to one line; results go through
 * out-parameters. Every mutating function is ONE transaction: on error
 * nothing changed, except where a contract says otherwise (a refused stale
 * commit still bumps the persisted refused-commits counter). A function
 * returns only after its transaction is durable (see "Durability" at the
 * top of sqlite_store.c).
 *
 * Thread safety: one store handle may be shared by threads (calls are
 * serialized on a mutex inside); several handles (threads or processes) may
 * open the same file at once and see each other's commits.
 *
 * Times are wall-clock milliseconds since the epoch ("ms"), taken from the
 * clock in store_options (tests inject one). Sample positions are in the
 * job's 16 kHz PCM (STORE_SAMPLE_RATE).
 *
 * Owners and scopes (DESIGN.md invariant 9): every job has an owner, the
 * name of the API token that submitted it ("" for none: a server without
 * tokens, `hark transcribe`). Every function that names a job by id or lists
 * jobs takes a store_scope, and its SQL selects only jobs of that scope: a
 * job outside it is HARK_ENOENT, exactly like a job that does not exist, so
 * a caller cannot even learn that it is there. The functions addressed by a
 * lease token or a webhook delivery id (claim, commit, renew, release, the
 * sweeps, the webhook senders' claim and record) are the runtime's own and
 * see every job. Anything a later issue keys by job (artifacts) takes the
 * scope the same way, and so it follows the job's owner.
 *
 * Lease and fencing rules in short (full text in sqlite_store.c):
 * store_claim grants a lease with a new token, strictly increasing and never
 * reused; a commit, renewal or release must carry that token while the lease
 * is live; pause, cancel, fail, recover and expiry revoke leases, after
 * which their tokens are refused with HARK_ESTALE.
 */
#ifndef HARK_STORE_STORE_H
#define HARK_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define STORE_ID_SIZE 18             /* "j" + 16 hex digits + NUL */
#define STORE_SAMPLE_RATE 16000      /* chunk start/end are samples at this rate */
#define STORE_MAX_CHUNKS 200000      /* a chunk plan longer than this is refused */
#define STORE_MAX_TEXT (1u << 20)    /* cap on options and event data */
#define STORE_MAX_RESULT (16u << 20) /* cap on one chunk's result text */
#define STORE_CALLBACK_URL_MAX 2048  /* cap on a job's callback URL */
#define STORE_WEBHOOK_MAX_ATTEMPTS 8 /* default attempts of a delivery (= WEBHOOK_MAX_ATTEMPTS) */
#define STORE_OWNER_MAX 64           /* bytes of a job's owner (= SERVE_TOKEN_NAME_MAX) */
#define STORE_CONTENT_KEY_MAX 8192   /* bytes of a job's content key */

typedef struct store store;

/* Which jobs a call may see and touch (see "Owners and scopes" above). */
typedef struct store_scope {
    bool all;          /* every job: admin tokens, the runtime, `hark transcribe` */
    const char *owner; /* otherwise only the jobs of this owner ("" = jobs without one) */
} store_scope;

/* Every job. */
#define STORE_SCOPE_ALL ((store_scope){.all = true, .owner = NULL})

/* Only owner's jobs (owner is borrowed: it must outlive the calls). */
static inline store_scope store_scope_owner(const char *owner)
{
    return (store_scope){.all = false, .owner = owner};
}

/* Job states (see the diagram and the transitions in job_states.h). */
enum store_job_state {
    STORE_QUEUED = 0,
    STORE_RUNNING = 1,
    STORE_PAUSED = 2,
    STORE_SUCCEEDED = 3,
    STORE_FAILED = 4,
    STORE_CANCELLED = 5,
};

/* Priority classes, strictly ordered: a lower number always goes first. */
enum store_priority {
    STORE_PRIO_REALTIME = 0,
    STORE_PRIO_HIGH = 1,
    STORE_PRIO_NORMAL = 2,
    STORE_PRIO_LOW = 3,
};

enum store_chunk_state { STORE_CHUNK_PENDING = 0, STORE_CHUNK_LEASED = 1, STORE_CHUNK_DONE = 2 };

enum store_task_kind { STORE_TASK_NONE = 0, STORE_TASK_PREPARE = 1, STORE_TASK_CHUNK = 2 };

/* "queued", "running", ...; "?" for an unknown value. Never NULL. */
const char *store_state_name(int state);
/* "realtime", "high", "normal", "low"; "?" for an unknown value. */
const char *store_priority_name(int prio);
/* Parse a name back. Returns 0 with *out set, or HARK_EINVAL (err set). */
int store_state_parse(const char *name, int *out, hark_err *err);
int store_priority_parse(const char *name, int *out, hark_err *err);
/* True for succeeded, failed and cancelled. */
bool store_state_terminal(int state);

/* Open options. Zero fields take the defaults in brackets. */
typedef struct store_options {
    int64_t (*now_ms)(void *ctx); /* wall clock in ms [CLOCK_REALTIME] */
    void *now_ctx;
    int max_attempts;        /* failed attempts before a job fails, 1..20 [3] */
    int64_t backoff_base_ms; /* retry n waits base * 2^(n-1) ... [1000] */
    int64_t backoff_max_ms;  /* ... at most this [30000] */
    /* A resource condition (STORE_RELEASE_RESOURCE: the disk was full) is
     * not a failed attempt: the task waits resource_backoff_base_ms *
     * 2^(n-1) before its n-th retry [5000], at most resource_backoff_max_ms
     * [60000] (so 5, 10, 20, 40, 60, 60, ... s), and its job fails only
     * after max_resource_waits such waits, 1..1000 [30: about 27 min]. */
    int64_t resource_backoff_base_ms;
    int64_t resource_backoff_max_ms;
    int max_resource_waits;
    /* SQLite only (other backends ignore them): how long to wait for
     * another writer [10000]; relaxed commits (grants, renewals, prepare
     * and chunk results, preemptions, successes: see DURABILITY in
     * sqlite_store.c) reach the disk at most sync_interval_ms after they
     * return, 1..60000 [1000]. */
    int busy_timeout_ms;
    int sync_interval_ms;
    /* Called after every transaction this handle committed (under the
     * handle's mutex: it must only signal, never call the store). Lets a
     * server wake waiters (event streams) without polling. [none] */
    void (*on_commit)(void *ctx);
    void *commit_ctx;
    /* Attempts of a webhook delivery before it fails for good, 1..100
     * [STORE_WEBHOOK_MAX_ATTEMPTS]. */
    int webhook_max_attempts;
    /* Who this handle is, where several nodes share one store (PostgreSQL;
     * SQLite, one machine's file, ignores them): node names the node,
     * stable across its restarts [the host name]; incarnation names this
     * run of it [node, pid and a random number: new at every open]. Each
     * lease and webhook claim records both, and store_recover revokes only
     * the expired ones and those of node's earlier incarnations, never
     * another live node's. Copied; at most 255 bytes each. */
    const char *node;
    const char *incarnation;
    /* The machine the node runs on [the host name]. Nodes on one machine
     * share its cores, caches and memory bandwidth, so realtime
     * exclusivity covers them all (store_peek_info.realtime_nearby). At
     * most 255 bytes; copied. */
    const char *machine;
    /* Called when another handle on a shared store (another node) may have
     * committed a change: after store_watch, from a thread of the store's
     * own, so it must only signal (like on_commit). [none] */
    void (*on_remote_change)(void *ctx);
    void *remote_ctx;
} store_options;

/* Open (creating if missing) the store at location and migrate its schema
 * to the latest version, each migration in its own transaction. location
 * picks the backend: a file path, or "sqlite:" and a path, is SQLite; a
 * PostgreSQL connection string ("postgresql://...", "postgres://...", or
 * libpq's "key=value ..." form) is PostgreSQL (pg_store.c: the tables in
 * the connection's schema; messages show the location without its
 * password). opt may be NULL. Returns 0 with *out set, or HARK_EIO
 * (cannot open, corrupt), HARK_EINVAL (bad options, an unknown kind of
 * location, or a schema newer than this code: it is left untouched),
 * HARK_ENOMEM; *out is NULL then. */
int store_open(const char *location, const store_options *opt, store **out, hark_err *err);

/* Close the handle (NULL is fine). Nothing is lost: relaxed commits are
 * synced first. */
void store_close(store *st);

/* Make every relaxed commit so far durable now (on SQLite an fsync of the
 * WAL if any is pending; a backend whose every commit is durable does
 * nothing). Returns 0 or HARK_EIO. */
int store_flush(store *st, hark_err *err);

/* The schema version this code migrates to. */
int store_schema_version(void);

/* location as messages show it (a connection string without its
 * password, a SQLite path without "sqlite:"), in out (n bytes, always
 * NUL-terminated). */
void store_location_shown(const char *location, char *out, size_t n);

/* Start calling opt.on_remote_change when other handles commit (several
 * nodes on one PostgreSQL database: LISTEN/NOTIFY on a connection of its
 * own, and while that is down a poll every 250 ms: pg_watch.h). It stops
 * when st is closed. A backend without other writers to hear (SQLite), or
 * no on_remote_change, starts nothing: 0. Returns 0, or HARK_ENOMEM /
 * HARK_EIO (no thread; nothing started). Call it at most once. */
int store_watch(store *st, hark_err *err);

/* Stop what store_watch started, waiting for its thread: on_remote_change
 * is not called after this returns (call it before freeing what the
 * callback touches). Nothing started, or st NULL: nothing to do.
 * store_close does it too. */
void store_unwatch(store *st);

/* ---- jobs ------------------------------------------------------------
 *
 * A scope that is neither all nor names an owner (a zeroed store_scope),
 * or both, is refused with HARK_EINVAL by every function below: a caller
 * that forgot to say whose jobs it means gets nothing. */

/* What a client asks for. Strings are copied; the caller keeps them. */
typedef struct store_job_spec {
    const char *kind;  /* "transcribe" */
    const char *input; /* server-side path of the input, non-empty */
    /* The directory input must be opened beneath, following no symbolic
     * link (util/beneath.h), input then being root + "/" + the rest: the
     * server root of a path job, the uploads directory. NULL or "" = none:
     * input is a URL, or a path the local user named (hark transcribe). */
    const char *input_root;
    const char *source;  /* user-facing name (upload name); NULL = input */
    const char *options; /* JSON text, opaque to the store; NULL = "{}" */
    int priority;        /* enum store_priority */
    double timeout_s;    /* wall-clock limit from submit; 0 = none */
    int max_active;      /* refuse (HARK_EFULL) when this many jobs of the class
                            are queued, running or paused; 0 = no limit */
    /* Where to POST the job's summary when it ends (see "webhooks"); NULL or
     * "" = nowhere. At most STORE_CALLBACK_URL_MAX bytes; the store checks
     * nothing else (the caller allows http and https URLs only). */
    const char *callback_url;
    /* Who submitted it: the API token's name, at most STORE_OWNER_MAX bytes;
     * NULL or "" = none (every owner scope but "" and the all scope miss it). */
    const char *owner;
    /* The input grows while the job runs (a live dictation): it is open
     * until store_input_close ("live inputs" below). */
    bool input_open;
} store_job_spec;

/* Create a queued job with its prepare task and a "queued" event. On
 * return 0 the job is durable and id (STORE_ID_SIZE bytes) holds its new
 * random id. HARK_EINVAL for a bad spec, HARK_EFULL when its class already
 * has max_active active jobs (counted in the same transaction, so
 * concurrent submits cannot overshoot), HARK_EIO on storage errors: no job
 * exists then. */
int store_submit(store *st, const store_job_spec *spec, char id[STORE_ID_SIZE], hark_err *err);

/* A job as stored. Every string is malloc'ed and non-NULL ("" when unset);
 * free them with store_job_release. */
typedef struct store_job {
    char id[STORE_ID_SIZE];
    char *kind, *input, *source, *options;
    char *owner; /* the submitting token's name, "" = none */
    int state, priority;
    int64_t seq; /* submission order, the FIFO key within a class; list cursor */
    int64_t created_ms, updated_ms;
    int64_t started_ms;  /* first claim, 0 if never */
    int64_t finished_ms; /* entered a terminal state, 0 if not */
    double timeout_s;
    int64_t deadline_ms; /* created + timeout, 0 = none */
    bool prepared;
    int prepare_attempts; /* failed prepare attempts */
    char *prepare_error;  /* cause of the last failed prepare attempt */
    double duration_s;    /* set by store_commit_prepare */
    int n_chunks, chunks_done;
    char *error;        /* why it failed, "" otherwise */
    bool result_ready;  /* outputs assembled: set by store_succeed */
    char *callback_url; /* as submitted (may hold credentials: redact it to show it), "" = none */
    char *input_root;   /* as submitted, "" = none (store_job_spec) */
    /* What the decoded audio is (and the model that hears it), from the
     * prepare: the chunk cache's key ("" = none). */
    char *content_key;
    /* What the job's kind keeps between its stages (store_add_stage), ""
     * = none: e.g. the ranked highlights whose clips the next stage cuts. */
    char *doc;
    /* A growing input ("live inputs"): open while more may come, the bytes
     * received so far, when the last came (until some does: when the job
     * was made; 0 for a job from before live inputs). */
    bool input_open;
    int64_t input_bytes, input_at_ms;
    /* The nodes (store_options.node) holding leases of its tasks now,
     * sorted, comma-separated, "" if none; NULL where the backend does not
     * record nodes (SQLite: one machine). */
    char *nodes;
    /* The job's webhook delivery (the latest, if there were several), once
     * the job has ended with a callback_url: webhook_state is an enum
     * store_webhook_state, or -1 while there is none (no callback_url, or
     * the job has not ended). The other fields are as in store_webhook. */
    int webhook_state;
    int webhook_attempts, webhook_last_status;
    char *webhook_last_error;
    int64_t webhook_delivered_ms;
} store_job;

void store_job_release(store_job *job);

/* Fetch one job of scope sc. 0 with *out filled (release it), HARK_ENOENT if
 * there is no such job in sc (*out zeroed), HARK_EINVAL, HARK_EIO. */
int store_get_job(store *st, store_scope sc, const char *id, store_job *out, hark_err *err);

typedef struct store_job_filter {
    int state;             /* -1 = any */
    int priority;          /* -1 = any */
    int64_t created_since; /* ms, 0 = any */
    bool ready_only;       /* only queued/running jobs whose every chunk is committed */
    bool newest_first;     /* order by seq descending */
    int64_t after_seq;     /* cursor: jobs after this seq in the chosen order, 0 = from start */
    int limit;             /* 1..1000, 0 = 100 */
} store_job_filter;

/* A filter that matches everything, oldest first, 100 at a time. */
void store_job_filter_init(store_job_filter *f);

typedef struct store_job_list {
    store_job *jobs;
    size_t n;
    int64_t next_after; /* pass as after_seq for the next page; 0 = no more */
} store_job_list;

void store_job_list_release(store_job_list *list);

/* List the jobs of scope sc matching f (NULL = everything, see
 * store_job_filter_init); the cursor counts only those. 0 with *out filled
 * (release it; n may be 0), HARK_EINVAL, HARK_EIO. */
int store_list_jobs(store *st, store_scope sc, const store_job_filter *f, store_job_list *out,
                    hark_err *err);

/* ---- tasks and leases ------------------------------------------------- */

typedef struct store_task {
    int kind; /* enum store_task_kind; STORE_TASK_NONE = nothing to do */
    char job_id[STORE_ID_SIZE];
    int idx; /* chunk index, -1 for prepare */
    int64_t start_sample, end_sample;
    int priority;
    int64_t token;      /* the fencing token of this lease */
    int attempt;        /* 1 for the first try, counts failed attempts + 1 */
    int64_t expires_ms; /* lease expiry */
} store_task;

/* Atomically take the next task for worker `owner` with a lease of lease_ms:
 * the best priority class first, FIFO (submission order) within a class,
 * among queued/running jobs whose deadline has not passed; an unprepared job
 * gives its prepare task, a prepared one its lowest-index pending chunk that
 * is out of backoff and under max_attempts. Sets the job running (event
 * "started" the first time). 0 with out->kind = STORE_TASK_NONE when
 * nothing is claimable; HARK_EINVAL, HARK_EIO (nothing claimed). */
int store_claim(store *st, const char *owner, int64_t lease_ms, store_task *out, hark_err *err);

/* store_claim restricted to classes max_priority and better (e.g.
 * STORE_PRIO_REALTIME: only realtime work). */
int store_claim_upto(store *st, const char *owner, int64_t lease_ms, int max_priority,
                     store_task *out, hark_err *err);

typedef struct store_peek_info {
    int best_priority;    /* class of the task store_claim would give now, -1 = none */
    int64_t wake_ms;      /* earliest future moment something time-driven happens (a
                             backoff ends, a lease expires, a deadline passes), 0 = none;
                             may be <= now when store_expire_leases is due */
    bool realtime_nearby; /* another node on this machine (store_options.machine)
                             holds a live lease of a realtime task: its clip
                             should have the machine to itself (SQLite: one
                             runtime, always false) */
} store_peek_info;

/* Look without claiming (the scheduler's preemption and sleep decisions). */
int store_peek(store *st, store_peek_info *out, hark_err *err);

/* Preemption across nodes. On a store several nodes share (PostgreSQL), no
 * node sees every worker, so the store picks who yields: exactly one
 * worker in the cluster for each better task that waits, not one on every
 * node that noticed it. On a store one runtime owns (SQLite) the runtime
 * sees every worker and decides alone: store_coordinates_yields is false,
 * and the two calls below answer HARK_EINVAL without touching anything. */
bool store_coordinates_yields(const store *st);

/* If a task waits that is better than some live lease, and fewer yields
 * are owed (leases asked and not yet ended, workers between tasks about to
 * claim) than tasks of that best class wait, ask one more: the live lease of the lowest class,
 * among equals the newest (the least work lost), is marked asked. Every node hears of it (the
 * store's change notification) and the one holding it asks its worker to yield; the mark goes with
 * the lease (commit, release, expiry). Decisions are serialized in the store, so two nodes asking
 * at once ask one worker. *token gets the asked lease's token and node (n bytes, may be NULL) its
 * node, or 0 and "" when nothing was asked (nothing better waits, nothing
 * worse runs, or enough yields are asked already). */
int store_request_yield(store *st, int64_t *token, char *node, size_t n, hark_err *err);

/* Which of the n lease tokens are asked to yield: asked[i] (n entries) is
 * set for each. n <= 64. */
int store_yields_asked(store *st, const int64_t *tokens, size_t n, bool *asked, hark_err *err);

/* Extend the lease of token to now + lease_ms. HARK_ESTALE (counted as a
 * refused renewal) if the lease was revoked, committed or has expired: the
 * worker must drop the task. */
int store_renew(store *st, int64_t token, int64_t lease_ms, hark_err *err);

typedef struct store_commit_info {
    char job_id[STORE_ID_SIZE];
    int idx;
    int chunks_done, n_chunks;
    bool job_complete; /* every chunk committed: assemble, then store_succeed */
} store_commit_info;

/* Commit a chunk's result (JSON text, opaque, copied) decoded under token,
 * with the job's progress, in one transaction: the chunk becomes done,
 * chunks_done + 1, event "chunk_committed". Accepted only if token is the
 * live (unexpired) lease of a chunk task; otherwise HARK_ESTALE: nothing
 * changed except the persisted refused-commits counter. info may be NULL. */
int store_commit_chunk(store *st, int64_t token, const char *result, double decode_s,
                       store_commit_info *info, hark_err *err);

typedef struct store_span {
    int64_t start_sample, end_sample;
} store_span;

/* Commit a prepare task: the chunk plan (n spans, copied; n may be 0), the
 * duration, the content key of the decoded audio (NULL or "" = none; at
 * most STORE_CONTENT_KEY_MAX bytes), prepared = true, event "progress".
 * Same fencing as store_commit_chunk. HARK_EINVAL for a bad plan (nothing
 * changed). info->job_complete is true when the plan is empty. */
int store_commit_prepare(store *st, int64_t token, double duration_s, const store_span *plan,
                         size_t n, const char *content_key, store_commit_info *info, hark_err *err);

enum store_release_kind {
    STORE_RELEASE_PREEMPTED = 0, /* yielded: back to pending, attempt not counted */
    STORE_RELEASE_FAILED = 1,    /* attempt counted, cause kept, backoff */
    STORE_RELEASE_RESOURCE = 2,  /* a resource ran out (disk full): a wait counted
                                    apart from attempts, cause kept, longer backoff */
};

typedef struct store_release_info {
    char job_id[STORE_ID_SIZE];
    int idx;
    int attempts;          /* failed attempts so far */
    int resource_waits;    /* waits for a resource so far */
    int64_t not_before_ms; /* when the task may be claimed again */
    bool job_failed;       /* that was the last allowed attempt (or wait) */
} store_release_info;

/* End the lease of token without a result. PREEMPTED: the task is pending
 * again with its attempts unchanged, event "preempted"; the job goes back to
 * queued when it holds no other lease. FAILED: attempts + 1, last error =
 * cause, claimable again after the backoff; at max_attempts the job fails
 * with "chunk 4 (40.0-49.8 s) failed 3 times: <cause>" (or "prepare of
 * '<source>' failed ..."). RESOURCE: resource_waits + 1 (attempts
 * unchanged), last error = cause, claimable again after the resource
 * backoff; at max_resource_waits the job fails with "... waited for a
 * resource N times: <cause>". An expired but not yet reclaimed lease may still
 * be released. HARK_ESTALE if token holds no lease (nothing changed).
 * info may be NULL. */
int store_release(store *st, int64_t token, int kind, const char *cause, store_release_info *info,
                  hark_err *err);

/* Treat every lease whose expiry has passed as a failed attempt with cause
 * "lease expired" (the worker missed its heartbeats). *n (may be NULL) gets
 * the number expired. Call it periodically (store_peek's wake_ms says when). */
int store_expire_leases(store *st, int *n, hark_err *err);

/* Fail every queued/running job whose deadline has passed with "timed out
 * after N s", revoking its leases. *n (may be NULL) gets the count. */
int store_fail_overdue(store *st, int *n, hark_err *err);

/* At daemon start, before anything is claimed: revoke every lease (tasks back
 * to pending, attempts not counted; their tokens become stale) and put
 * running jobs back to queued (event "preempted" {"reason":"restart"}).
 * Webhook deliveries claimed by a sender that died become free again at
 * once, with their attempts unchanged (the attempt in flight is not counted).
 * On a store several nodes share (PostgreSQL), "every lease" is every lease
 * that has expired or that this node (store_options.node) held in an
 * earlier incarnation, and likewise for webhook claims: other live nodes'
 * leases stay; only jobs left without a lease go back to queued and have
 * their open input closed.
 * *n (may be NULL) gets the number of tasks recovered. Jobs whose chunks were
 * all committed stay for the daemon to finish (store_list_jobs ready_only). */
int store_recover(store *st, int *n, hark_err *err);

/* ---- job control: HARK_ENOENT for a job not in scope sc (or none at all),
 * HARK_EINVAL (with a message naming the job and its state) for an illegal
 * transition; nothing changes on error. ---------------------------------- */

/* queued/running -> paused; leases revoked (their commits will be refused). */
int store_pause(store *st, store_scope sc, const char *id, hark_err *err);
/* paused -> queued, event "resumed". */
int store_resume(store *st, store_scope sc, const char *id, hark_err *err);
/* any non-terminal -> cancelled; leases revoked. */
int store_cancel(store *st, store_scope sc, const char *id, hark_err *err);
/* any non-terminal -> failed with message (e.g. a bad input); leases revoked. */
int store_fail(store *st, store_scope sc, const char *id, const char *message, hark_err *err);
/* queued/running with every chunk committed -> succeeded, result_ready. */
int store_succeed(store *st, store_scope sc, const char *id, hark_err *err);
/* Delete a job in a terminal state with its chunks, events and webhook
 * deliveries. */
int store_delete_job(store *st, store_scope sc, const char *id, hark_err *err);

/* failed -> queued, to run again from its committed chunks (DESIGN.md
 * invariant 11). Committed chunks stay as they are; every task not done
 * (the chunks that failed or never ran, or the prepare if the job failed
 * before it had a plan) gets its attempts, backoff and last error reset,
 * so it has max_attempts again. The job's error and finish time are
 * cleared; a job with a timeout gets it again, counted from now. Event
 * "retried" {"error": the error it had, "chunks_done"}. An unprepared job
 * prepares again (its input must still be there); one whose chunks were
 * all committed (it failed assembling them) is finished again by the
 * runtime (store_list_jobs ready_only). HARK_EFULL when the job's class
 * already has max_active (> 0) active jobs, counted in the same
 * transaction as store_submit counts them; HARK_EINVAL "cannot retry job
 * X: it is S" when it is not failed; HARK_ENOENT. Nothing changes on error. */
int store_retry(store *st, store_scope sc, const char *id, int max_active, hark_err *err);

/* ---- retention: what ended jobs leave behind ------------------------------
 *
 * The store keeps the bookkeeping; the runtime removes the files
 * (runtime/retention.h). A job's uploaded input is released once the job
 * succeeded or was cancelled (a failed job keeps it for a retry); ended jobs
 * are pruned after a retention age. ------------------------------------- */

/* Up to limit (1..1000) jobs that succeeded or were cancelled and whose
 * input was not released yet (store_mark_released), earliest ended first.
 * 0 with *out filled (release it; n may be 0), HARK_EINVAL, HARK_EIO. */
int store_list_unreleased(store *st, int limit, store_job_list *out, hark_err *err);

/* Record that the inputs of the n (0..1000) jobs ids were released; ids of
 * jobs that are gone are skipped. One relaxed commit (see DURABILITY in
 * sqlite_store.c): a lost one only means the inputs are released again.
 * HARK_EINVAL, HARK_EIO. */
int store_mark_released(store *st, const char *const *ids, size_t n, hark_err *err);

/* Delete up to limit (1..1000) ended jobs (succeeded, failed, cancelled)
 * that ended at least age_ms (>= 0) ago, earliest ended first, with their
 * chunks, events and webhook deliveries, in one transaction. *out gets the
 * deleted jobs as they were (release it; n may be 0), so the caller can
 * remove their files. A job that has not ended is never deleted.
 * HARK_EINVAL, HARK_EIO (nothing deleted). */
int store_prune(store *st, int64_t age_ms, int limit, store_job_list *out, hark_err *err);

/* ---- chunks ------------------------------------------------------------ */

typedef struct store_chunk {
    int idx;
    int64_t start_sample, end_sample;
    int state; /* enum store_chunk_state */
    int attempts;
    char *last_error; /* "" if none */
    char *result;     /* the committed JSON text, "" unless done */
    double decode_s;
} store_chunk;

typedef struct store_chunk_list {
    store_chunk *chunks;
    size_t n;
} store_chunk_list;

void store_chunk_list_release(store_chunk_list *list);

/* Every chunk of job id (of scope sc) in index order (done or not; assemble
 * the done ones). 0 with *out filled (release it), HARK_ENOENT, HARK_EIO. */
int store_list_chunks(store *st, store_scope sc, const char *id, store_chunk_list *out,
                      hark_err *err);

/* At most limit (>= 1) chunks of job id from index from_idx (>= 0) on, in
 * index order: what a follower of a job's results reads after each commit
 * without re-reading what it has. Errors as store_list_chunks, and
 * HARK_EINVAL for a bad range. */
int store_list_chunks_from(store *st, store_scope sc, const char *id, int from_idx, int limit,
                           store_chunk_list *out, hark_err *err);

/* ---- stages and the chunk cache ----------------------------------------
 *
 * A job's kind (jobs/kind.h) may run its work in stages: when every chunk
 * of a stage is committed, its completion adds the next stage's tasks. */

/* Add n tasks (spans, copied; n may be 0) to job id, queued or running,
 * prepared, with every chunk so far committed: they get indexes n_chunks,
 * n_chunks + 1, ... and are claimed like any chunk; the job's doc becomes
 * doc (NULL = ""; at most STORE_MAX_RESULT bytes). Event "stage" {"added",
 * "n_chunks", "chunks_done"}. One durable transaction. HARK_ENOENT,
 * HARK_EINVAL (bad spans, or the job is not in that state: the message
 * names the job and why), HARK_EIO. The runtime's own: no scope. */
int store_add_stage(store *st, const char *id, const char *doc, const store_span *spans, size_t n,
                    hark_err *err);

/* Committed chunks of jobs other than except_id whose content key is
 * content_key and whose span is exactly [start_sample, end_sample): up to
 * 8, oldest job first, into *out (release it; n may be 0, always 0 for an
 * empty key). Any owner's: the key names the audio itself, so a match
 * tells a caller only what it already has. A kind decides whether a match
 * can stand for a new chunk's result. HARK_ENOMEM, HARK_EIO. */
int store_find_cached_chunks(store *st, const char *content_key, const char *except_id,
                             int64_t start_sample, int64_t end_sample, store_chunk_list *out,
                             hark_err *err);

/* ---- live inputs ---------------------------------------------------------
 *
 * A live job's input grows while it runs: the server appends the audio a
 * client sends to the input file, syncs it, and records its length here
 * (store_input_append); the worker that holds the job's prepare task (for
 * a live job, the whole session: jobs/live_kind.c) decodes as it grows and
 * commits each chunk when it closes (store_commit_live_chunk), then ends
 * the task (store_finish_live) once the input is closed and decoded. The
 * input closes when the client says it is done, when it was idle too long,
 * or at recovery (a client's stream does not survive the daemon), and
 * whenever the job ends. Closed is final. */

/* Job id (of scope sc) received audio: its input is now bytes long (at
 * least what it was), at this moment. A relaxed commit (the audio itself
 * was synced by the caller; recovery reads the file). HARK_ENOENT,
 * HARK_EINVAL "job X is not taking audio: ..." when its input is closed
 * (or it never had an open one), naming why. */
int store_input_append(store *st, store_scope sc, const char *id, int64_t bytes, hark_err *err);

/* Close job id's input (reason: "end", "idle", ...; event "input_ended"
 * {"reason", "bytes"}). *was_open (may be NULL) says whether it was open;
 * closing a closed input is not an error. A relaxed commit (recovery
 * closes every open input anyway). HARK_ENOENT. */
int store_input_close(store *st, store_scope sc, const char *id, const char *reason, bool *was_open,
                      hark_err *err);

/* Up to limit (1..1000) unended jobs whose input is open, the longest idle
 * first (the runtime's idle check). */
int store_list_open_inputs(store *st, int limit, store_job_list *out, hark_err *err);

/* Commit a chunk that a live session closed over [start, end) with its
 * result, under token, the lease of the job's prepare task: the chunk is
 * added done (index n_chunks), n_chunks and chunks_done + 1, event
 * "chunk_committed", and, when delta is not NULL or "", event
 * "transcript.text.delta" {"delta"} (the text the chunk adds to the
 * stable text sent before: jobs/live_session.h); it must start at or
 * after the previous chunk's end.
 * Relaxed, like store_commit_chunk; HARK_ESTALE as it; HARK_EINVAL for a
 * chunk lease or a bad span. info->idx gets the chunk's index. */
int store_commit_live_chunk(store *st, int64_t token, int64_t start, int64_t end,
                            const char *result, const char *delta, double decode_s,
                            store_commit_info *info, hark_err *err);

/* What a live session under token hears so far: event "transcript.partial"
 * with data (a JSON object's text), then "transcript.text.delta" {"delta"}
 * when delta is not NULL or "". Relaxed (a partial lost to a power cut is
 * superseded by the chunk's commit); HARK_ESTALE for a token that is not a
 * live prepare lease (nothing is added). */
int store_live_partial(store *st, int64_t token, const char *data, const char *delta,
                       hark_err *err);

/* The live session under token (a prepare lease) is over: the prepare task
 * is done, the job prepared with duration_s; info->job_complete is set
 * (every chunk was committed as it closed). Relaxed; HARK_ESTALE as above. */
int store_finish_live(store *st, int64_t token, double duration_s, store_commit_info *info,
                      hark_err *err);

/* ---- events ------------------------------------------------------------ */

typedef struct store_event {
    int64_t id; /* global, strictly increasing: the SSE Last-Event-ID */
    char job_id[STORE_ID_SIZE];
    char *type; /* queued, started, progress, preempted, resumed, ... */
    char *data; /* JSON object text */
    int64_t time_ms;
} store_event;

typedef struct store_event_list {
    store_event *events;
    size_t n;
} store_event_list;

void store_event_list_release(store_event_list *list);

/* Events of job id (of scope sc) with id > after_id, oldest first, at most
 * limit (1..10000, 0 = 1000). 0 with *out filled (may be empty),
 * HARK_ENOENT when the job is not in sc (or was deleted), HARK_EINVAL,
 * HARK_EIO. */
int store_list_events(store *st, store_scope sc, const char *id, int64_t after_id, int limit,
                      store_event_list *out, hark_err *err);

/* Events of every job in scope sc with id > after_id, oldest first (the
 * store's global order: ids grow in commit order on both backends), at
 * most limit (1..10000, 0 = 1000). The cursor is a bare id: events of jobs
 * deleted since are gone, and a cursor that was such an event's id still
 * pages on from there. 0 with *out filled (may be empty), HARK_EINVAL,
 * HARK_EIO, HARK_EUNAVAIL. */
int store_list_events_since(store *st, store_scope sc, int64_t after_id, int limit,
                            store_event_list *out, hark_err *err);

/* The id of the newest event of any job into *event_id (0 when there is
 * none): where a stream that starts "from now" starts. Not scoped: an id
 * is only a position. 0, HARK_EIO, HARK_EUNAVAIL. */
int store_latest_event_id(store *st, int64_t *event_id, hark_err *err);

/* The id of job id's latest event of the given type into *event_id, 0 if
 * it has none (or there is no such job). 0, HARK_EINVAL, HARK_EIO. */
int store_last_event_id(store *st, store_scope sc, const char *id, const char *type,
                        int64_t *event_id, hark_err *err);

/* Append an event (e.g. "progress" from a heartbeat). data is JSON object
 * text or NULL for "{}". *event_id may be NULL. HARK_ENOENT, HARK_EINVAL. */
int store_add_event(store *st, store_scope sc, const char *id, const char *type, const char *data,
                    int64_t *event_id, hark_err *err);

/* ---- webhooks ------------------------------------------------------------
 *
 * A durable outbox. When a job that has a callback_url reaches a terminal
 * state (succeeded, failed, cancelled: every path, including lease expiry,
 * deadlines and store_fail), the same transaction inserts a pending
 * delivery: the event ("job.succeeded", "job.failed", "job.cancelled") and
 * the body, the job's summary as JSON text, fixed from then on so every
 * attempt sends the same bytes:
 *   {"event", "id", "object": "job", "kind", "state", "priority", "source",
 *    "created_at", "started_at", "finished_at", "timeout", "duration",
 *    "chunks", "chunks_done", "error", "result_url"}
 * (times in epoch seconds or null, as in the API's job object; result_url
 * "/v1/jobs/{id}/result" for a success, null otherwise). A sender claims
 * due deliveries, makes one attempt each, and records the outcome. Claims
 * and outcomes are relaxed commits (see DURABILITY in sqlite_store.c): a
 * power loss may forget the last second's outcomes, and those deliveries
 * are attempted again. Delivery is at least once; receivers drop repeats
 * by delivery id. Deleting a job deletes its deliveries. A failed job that
 * is retried (store_retry) keeps its "job.failed" delivery and gets
 * another one when it ends again. */

enum store_webhook_state {
    STORE_WEBHOOK_PENDING = 0,   /* waiting for its next attempt (or in one) */
    STORE_WEBHOOK_DELIVERED = 1, /* the receiver accepted it */
    STORE_WEBHOOK_FAILED = 2,    /* given up: permanent failure or attempts used up */
};

/* "pending", "delivered", "failed"; "?" for an unknown value. */
const char *store_webhook_state_name(int state);

typedef struct store_webhook {
    int64_t id; /* global, increasing */
    char job_id[STORE_ID_SIZE];
    char *url, *event, *body; /* malloc'ed, as stored */
    int state;                /* enum store_webhook_state */
    int attempts;             /* attempts recorded so far */
    int last_status;          /* HTTP status of the last attempt, 0 if none came */
    char *last_error;         /* why the last attempt failed, "" if it did not (or none yet) */
    int64_t created_ms, next_at_ms, delivered_ms; /* delivered_ms 0 unless delivered */
} store_webhook;

typedef struct store_webhook_list {
    store_webhook *items;
    size_t n;
} store_webhook_list;

void store_webhook_list_release(store_webhook_list *list);

/* "<job id>-<delivery id>": the X-Hark-Delivery value of w, the same on
 * every attempt. out must hold STORE_DELIVERY_ID_SIZE bytes. */
#define STORE_DELIVERY_ID_SIZE (STORE_ID_SIZE + 24)
void store_webhook_delivery_id(const store_webhook *w, char out[STORE_DELIVERY_ID_SIZE]);

/* Claim up to max (1..64) due deliveries, oldest due first: pending, due
 * (next_at_ms <= now) and not claimed. Each is held for lease_ms (longer
 * than an attempt can take): no other claim returns it until it is
 * recorded or the lease runs out. 0 with *out filled (release it; n may be
 * 0), HARK_EINVAL, HARK_EIO. *wait_ms (may be NULL) gets how long from now
 * until the next pending delivery (claimed or not) may be claimed, 0 if one
 * is due already, -1 if none is pending. When nothing is due this is a
 * read: it commits nothing (so on_commit does not fire). */
int store_claim_webhooks(store *st, int max, int64_t lease_ms, store_webhook_list *out,
                         int64_t *wait_ms, hark_err *err);

/* What one attempt came to. */
typedef struct store_webhook_attempt {
    int state;              /* DELIVERED, PENDING (try again) or FAILED (permanent) */
    int status;             /* HTTP status, 0 if none came */
    const char *error;      /* why it failed (NULL or "" when delivered); capped at 4096 */
    int64_t retry_delay_ms; /* PENDING: the next attempt is due this long from now */
} store_webhook_attempt;

/* Record attempt number `attempt` (the claimed attempts + 1) of delivery
 * id, releasing the claim: attempts = attempt, last status and error set;
 * DELIVERED sets delivered_ms; PENDING makes it due retry_delay_ms from
 * now, or FAILED once attempt reaches webhook_max_attempts. *state_out
 * (may be NULL) gets the resulting state. HARK_ENOENT if the delivery is
 * gone (its job was deleted), HARK_ESTALE if it is not pending with
 * attempt - 1 attempts (another sender recorded this attempt first:
 * nothing changed), HARK_EINVAL. */
int store_record_webhook(store *st, int64_t id, int attempt, const store_webhook_attempt *a,
                         int *state_out, hark_err *err);

/* Every delivery of job id (of scope sc), oldest first. 0 with *out filled
 * (n may be 0), HARK_ENOENT for a job not in sc, HARK_EIO. */
int store_list_webhooks(store *st, store_scope sc, const char *id, store_webhook_list *out,
                        hark_err *err);

/* ---- counters and checks ------------------------------------------------ */

typedef struct store_counters {
    int64_t refused_commits;  /* commits refused for a stale token */
    int64_t refused_renewals; /* renewals refused for a stale token */
    int64_t expired_leases;   /* leases ended by store_expire_leases */
    int64_t recovered_tasks;  /* leases revoked by store_recover */
    int64_t last_token;       /* the last fencing token handed out */
    int64_t jobs_succeeded;   /* jobs that reached each final state, ever */
    int64_t jobs_failed;      /* (deleting a job does not lower them) */
    int64_t jobs_cancelled;
} store_counters;

/* Jobs queued (by enum store_priority, in queued[]) and tasks leased now
 * (running chunks and prepares): what /metrics shows as queue depth and
 * running work. Reads only. */
int store_count_work(store *st, int64_t queued[4], int64_t *leased, hark_err *err);

/* Read the persisted counters. */
int store_get_counters(store *st, store_counters *out, hark_err *err);

/* Check the file (PRAGMA integrity_check, foreign keys) and the store's own
 * invariants (chunks_done = done chunks; results exactly on done chunks;
 * leases only in queued/running jobs, each with a token; a webhook delivery
 * for every ended job with a callback URL, and only for ended jobs (or the
 * failure a retried job was retried from); a finish time exactly on ended
 * jobs; inputs released only of succeeded or cancelled jobs). 0 if all hold,
 * HARK_EIO naming the first violation. */
int store_check(store *st, hark_err *err);

#endif
