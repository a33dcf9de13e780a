/* runtime.c - scheduler and supervisor (see runtime.h).
 *
 * Worker slot states:
 *
 *   DEAD --spawn--> STARTING --READY--> IDLE --claim+send--> BUSY
 *     ^                 |                 ^                    |
 *     |                 |                 +--RESULT/PREPARED---+
 *     |                 |                 +--YIELDED/FAILED----+
 *     +----exit (pidfd readable), reaped, task released as failed----+
 *
 * Only this thread touches the slots. A slot is killed (SIGKILL via pidfd)
 * when its heartbeats stop for HEARTBEAT_TIMEOUT_MS, its task passes its
 * watchdog, or it breaks the protocol; its exit is then seen on the pidfd
 * like any crash, so there is one path for every way a worker dies.
 */
#include "runtime/runtime.h"

#include "jobs/artifacts.h"
#include "jobs/chunk_result.h"
#include "jobs/kind.h"
#include "jobs/live_kind.h"
#include "jobs/transcription.h"
#include "runtime/frame.h"
#include "runtime/protocol.h"
#include "runtime/retention.h"
#include "util/clock.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/sigwatch.h"

#include <dirent.h>
#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define STARTUP_TIMEOUT_S 120.0 /* loading the model */
#define SEND_TIMEOUT_S 5.0
#define TICK_MS 250       /* the longest poll sleep: store housekeeping */
#define RENEW_EVERY_S 1.0 /* lease renewals, driven by heartbeats */
#define SHUTDOWN_GRACE_S 3.0
#define CLOSED_GRACE_S                                                                             \
    2.0 /* a worker that closed its socket must exit by then */ /* for yields at a signal, and for \
                                                                   exits */
#define CHUNK_WATCHDOG_BASE_S 30.0
#define CHUNK_WATCHDOG_PER_S 4.0 /* seconds of wall time allowed per second of audio */
#define RESPAWN_BACKOFF_MAX_S 10.0
#define YIELD_POLL_S 0.25 /* shared_preempt's fallback when no wake comes */
#define SWEEP_EVERY_S 2.0 /* work directories of jobs that ended elsewhere */

enum slot_state { SLOT_DEAD, SLOT_STARTING, SLOT_IDLE, SLOT_BUSY };

typedef struct slot {
    int n; /* 1-based, for names and logs */
    char name[24];
    enum slot_state state;
    proc_t proc;
    int fd;
    frame_reader reader;
    double since;    /* entered the current state (monotonic s) */
    store_task task; /* valid when BUSY */
    double deadline; /* the task's watchdog */
    double last_beat, last_renew;
    bool yielding;        /* asked to yield; stays BUSY until it answers */
    bool preempting;      /* ... for a better task: its lease is kept (renewed) meanwhile */
    double closed_at;     /* its socket closed (0: open); the pidfd tells why */
    char kill_cause[160]; /* why we killed it, for the released task */
    int failures;         /* deaths in a row without a task done: respawn backoff */
    double respawn_at;
    double dispatch_s; /* claim + send of the current task, for the debug log */
    /* A live session (kind.h live): the input the worker was told of. */
    bool live;
    int64_t live_bytes;
    bool live_ended;
    double yield_at; /* when the yield was asked, for the debug log */
    /* What the store could not take while it was unreachable
     * (HARK_EUNAVAIL): a chunk's result to commit, or a task to hand back
     * (PREEMPTED). Kept and tried again before the slot takes new work
     * (retry_pending), so an outage shorter than the lease loses nothing
     * and burns no attempt; after the lease the token is stale and the
     * chunk is redone as for any expired lease. */
    enum { PENDING_NONE, PENDING_COMMIT, PENDING_RELEASE } pending;
    store_task pending_task;
    char *pending_text; /* PENDING_COMMIT: the result */
    double pending_decode_s;
} slot;

struct runtime {
    store *st;
    runtime_opts o;
    runtime_hooks h;
    slot *slots;
    int n;
    int signo;
    int wakefd; /* eventfd: runtime_wake() from other threads */
    bool stopping;
    bool store_down; /* the last claim found the store unreachable (logged once) */
    double last_housekeeping, last_sweep;
    char artifact_cursor[STORE_ID_SIZE]; /* retention_sweep_artifacts's place */
    runtime_stats stats;
    atomic_int ready_workers; /* published each loop turn, read by other threads */
    /* A resource condition (DESIGN.md invariant 11): set when a task or a
     * commit fails for want of disk space, cleared by the next task result
     * committed or when the job that hit it ends. Read by other threads
     * (/readyz), so under a mutex. */
    pthread_mutex_t resource_mu;
    char resource_why[512]; /* "" = none */
    char resource_job[STORE_ID_SIZE];
    /* Preemption across nodes (store_coordinates_yields): the store picks
     * who yields. yield_recheck: the store changed since the last request
     * that asked nothing, so ask again; yield_best and yield_at: the best
     * waiting class and the time of that request. */
    bool shared_yields, yield_recheck;
    int yield_best;
    double yield_at;
};

void runtime_opts_default(runtime_opts *o)
{
    memset(o, 0, sizeof *o);
    o->workers = 2;
    o->lease_ms = 10000;
    o->max_duration_s = 12 * 3600;
    o->decode_timeout_s = 30 * 60;
    o->fetch = net_fetch_defaults();
#if defined(__SANITIZE_ADDRESS__)
    /* An ASan build's workers reserve terabytes of address space for shadow
     * memory; an address-space limit would stop them from starting. */
    o->limits.as_bytes = 0;
#else
    o->limits.as_bytes = 4ull << 30;
#endif
    /* Workers yield CPU to the daemon's own threads and to clients on the
     * same machine: a push-to-talk request's upload and dispatch must not
     * queue behind batch decoding. */
    o->limits.nice = 10;
    o->realtime_exclusive = true;
    o->load_model = true;
    o->sigfd = -1;
}

/* ---- the resource condition (runtime_resource_problem) ---- */

static void resource_set(runtime *rt, const char *job_id, const char *why)
{
    pthread_mutex_lock(&rt->resource_mu);
    bool was = rt->resource_why[0] != '\0';
    snprintf(rt->resource_why, sizeof rt->resource_why, "%s", why);
    snprintf(rt->resource_job, sizeof rt->resource_job, "%s", job_id ? job_id : "");
    pthread_mutex_unlock(&rt->resource_mu);
    if (!was)
        log_info("out of disk space: %s; /readyz says not ready until a result commits", why);
}

/* Clear it: a commit went through (job_id NULL), or job_id, the job that
 * hit it, ended. */
static void resource_clear(runtime *rt, const char *job_id)
{
    pthread_mutex_lock(&rt->resource_mu);
    bool was = rt->resource_why[0] != '\0';
    if (was && (!job_id || strcmp(job_id, rt->resource_job) == 0))
        rt->resource_why[0] = rt->resource_job[0] = '\0';
    else
        was = false;
    pthread_mutex_unlock(&rt->resource_mu);
    if (was)
        log_info("disk space: commits go through again");
}

int runtime_resource_problem(runtime *rt, char *why, size_t n)
{
    pthread_mutex_lock(&rt->resource_mu);
    int set = rt->resource_why[0] != '\0';
    if (set && why && n)
        snprintf(why, n, "%s", rt->resource_why);
    pthread_mutex_unlock(&rt->resource_mu);
    return set;
}

static void work_dir_of(const runtime *rt, const char *job_id, char *out, size_t n)
{
    snprintf(out, n, "%s/%s", rt->o.work_root, job_id);
}

/* The job's artifact directory into out, or NULL when the runtime keeps none. */
static const char *artifact_dir_of(const runtime *rt, const char *job_id, char *out, size_t n)
{
    if (!rt->o.artifact_root || artifacts_dir(rt->o.artifact_root, job_id, out, n))
        return NULL;
    return out;
}

/* ---- workers: start, send, kill, exit ---- */

static void slot_spawn(runtime *rt, slot *s)
{
    int sv[2];
    hark_err err = {0};
    s->fd = -1;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        log_error("%s: cannot create a socket pair: %s", s->name, strerror(errno));
        s->respawn_at = clock_now_s() + 1;
        return;
    }
    const char *argv[] = {rt->o.worker_path, "worker",
                          !rt->o.load_model       ? "--no-model"
                          : rt->o.background_load ? "--background-load"
                                                  : NULL,
                          NULL};
    if (proc_spawn(argv, &rt->o.limits, sv[1], &s->proc, &err) != 0) {
        log_error("%s: %s", s->name, err.msg);
        close(sv[0]);
        close(sv[1]);
        s->failures++;
        s->respawn_at = clock_now_s() + 1;
        return;
    }
    close(sv[1]);
    s->fd = sv[0];
    fcntl(s->fd, F_SETFL, fcntl(s->fd, F_GETFL) | O_NONBLOCK);
    frame_reader_init(&s->reader, 0);
    s->state = SLOT_STARTING;
    s->since = clock_now_s();
    s->yielding = false;
    s->preempting = false;
    s->closed_at = 0;
    s->kill_cause[0] = '\0';
    log_debug("%s: started pid %d", s->name, (int)s->proc.pid);
}

static void slot_kill(runtime *rt, slot *s, const char *cause)
{
    if (s->state == SLOT_DEAD || s->kill_cause[0])
        return;
    snprintf(s->kill_cause, sizeof s->kill_cause, "%s", cause);
    log_warn("%s: killing pid %d: %s", s->name, (int)s->proc.pid, cause);
    proc_kill(&s->proc);
    rt->stats.deadline_kills++;
    if (rt->o.metrics && strncmp(cause, "timeout:", 8) == 0)
        hark_metrics_deadline_kill(rt->o.metrics);
}

static int slot_send(runtime *rt, slot *s, int type, json_t *msg)
{
    hark_err err = {0};
    int rc = frame_write_json(s->fd, (uint16_t)type, msg, deadline_in(SEND_TIMEOUT_S), &err);
    json_decref(msg);
    if (rc)
        slot_kill(rt, s, "cannot talk to the worker");
    return rc;
}

/* A failed job (keep_failed) keeps its decoded audio for a retry, nothing
 * else. *job: the job as the store has it now. */
static void trim_failed(runtime *rt, const store_job *job)
{
    char dir[4096];
    work_dir_of(rt, job->id, dir, sizeof dir);
    retention_trim_failed(dir, job->prepared);
}

static void job_finished(runtime *rt, const char *job_id, int state)
{
    resource_clear(rt, job_id);
    artifacts_remove_partials(rt->o.artifact_root, job_id);
    char dir[4096];
    work_dir_of(rt, job_id, dir, sizeof dir);
    store_job job;
    if (state != STORE_FAILED || !rt->o.keep_failed) {
        fs_rmtree(dir);
    } else if (store_get_job(rt->st, STORE_SCOPE_ALL, job_id, &job, NULL) == 0) {
        if (job.state == STORE_FAILED) /* not retried meanwhile */
            trim_failed(rt, &job);
        store_job_release(&job);
    }
    if (rt->h.finished)
        rt->h.finished(rt->h.ctx, job_id, state);
}

/* Every chunk is in: the job's kind completes it (or adds a stage of
 * tasks), then the owner takes the outputs, then the job is closed. */
static void complete_job(runtime *rt, const char *job_id)
{
    hark_err err = {0};
    store_job job;
    int rc = store_get_job(rt->st, STORE_SCOPE_ALL, job_id, &job, &err);
    if (rc) {
        log_error("job %s: %s", job_id, err.msg);
        return;
    }
    const job_kind *kind = job_kind_of(&job);
    char dir[4096], art[4096];
    work_dir_of(rt, job_id, dir, sizeof dir);
    kind_env env = {.work_dir = dir, .artifact_dir = artifact_dir_of(rt, job_id, art, sizeof art)};
    if (!kind)
        rc = err_set(&err, HARK_EINVAL, "unknown job kind '%.64s'", job.kind);
    else
        rc = kind->complete(rt->st, &job, &env, &err);
    store_job_release(&job);
    if (rc == KIND_STAGED)
        return; /* more tasks: the scheduler takes them up */
    if (rc == 0)
        rc = rt->h.complete(rt->h.ctx, rt->st, job_id, &err);
    int state = STORE_SUCCEEDED;
    if (rc == RUNTIME_COMPLETE_KEEP)
        return; /* the hook keeps it unfinished, with its results */
    if (rc && (rc == HARK_EUNAVAIL || err.code == HARK_EUNAVAIL)) {
        /* Not the job's fault: finish_ready_jobs tries again. */
        log_warn("job %s: %s", job_id, err.msg);
        return;
    }
    if (rc) {
        state = STORE_FAILED;
        hark_err e2 = {0};
        if (store_fail(rt->st, STORE_SCOPE_ALL, job_id,
                       err.msg[0] ? err.msg : "cannot write the results", &e2))
            log_error("job %s: %s", job_id, e2.msg);
    } else if (store_succeed(rt->st, STORE_SCOPE_ALL, job_id, &err)) {
        /* Tried again every SWEEP_EVERY_S (finish_ready_jobs). */
        if (err.code == HARK_ENOSPC)
            resource_set(rt, job_id, err.msg);
        log_error("job %s: %s", job_id, err.msg);
        return;
    }
    job_finished(rt, job_id, state);
}

/* Release a task as failed with cause; tell the owner if the job died of it. */
static void release_failed(runtime *rt, const store_task *t, const char *cause)
{
    store_release_info ri;
    hark_err err = {0};
    /* Say which task when its kind names it ("clip 03-00h05m12s: ..."):
     * the cause of a death (a crash, a watchdog) knows only the worker. */
    char named[1200], what[200] = "";
    store_job job;
    if (t->kind == STORE_TASK_CHUNK &&
        store_get_job(rt->st, STORE_SCOPE_ALL, t->job_id, &job, NULL) == 0) {
        const job_kind *k = job_kind_of(&job);
        if (k && k->task_name)
            k->task_name(&job, t->idx, what, sizeof what);
        store_job_release(&job);
    }
    if (what[0] && strncmp(cause, what, strlen(what)) != 0) {
        snprintf(named, sizeof named, "%s: %s", what, cause);
        cause = named;
    }
    int rc = store_release(rt->st, t->token, STORE_RELEASE_FAILED, cause, &ri, &err);
    if (rc == 0 && ri.job_failed)
        job_finished(rt, t->job_id, STORE_FAILED);
    else if (rc && rc != HARK_ESTALE)
        log_error("job %s: %s", t->job_id, err.msg);
}

/* The disk was full under a task (invariant 11): not the input's fault and
 * not a failed attempt. The task waits on the store's longer backoff
 * (5 s doubling to 60 s) and /readyz says not ready until a result commits. */
static void release_for_space(runtime *rt, const store_task *t, const char *cause)
{
    resource_set(rt, t->job_id, cause);
    if (rt->o.metrics)
        hark_metrics_resource_wait(rt->o.metrics);
    store_release_info ri;
    hark_err err = {0};
    int rc = store_release(rt->st, t->token, STORE_RELEASE_RESOURCE, cause, &ri, &err);
    if (rc == 0 && ri.job_failed) {
        job_finished(rt, t->job_id, STORE_FAILED);
    } else if (rc == 0) {
        struct timespec now; /* the store's times are wall-clock ms */
        clock_gettime(CLOCK_REALTIME, &now);
        double in_s = (double)ri.not_before_ms / 1000 - ((double)now.tv_sec + now.tv_nsec / 1e9);
        log_warn("job %s: %s; waiting for disk space, retry %d in %.0f s", t->job_id, cause,
                 ri.resource_waits + 1, in_s > 0 ? in_s : 0);
    } else if (rc != HARK_ESTALE) {
        /* The store could not take it either (its disk is full too): the
         * lease runs out and expiry releases the task. */
        log_error("job %s: %s", t->job_id, err.msg);
    }
}

/* Why a worker had to be replaced, for the metrics: the cause we killed it
 * for (slot_kill's texts), else how it ended on its own. */
static enum hark_restart_cause restart_cause(const char *kill_cause, const proc_status *ps)
{
    if (kill_cause[0]) {
        if (strstr(kill_cause, "no heartbeat"))
            return HARK_RESTART_HEARTBEAT;
        if (strncmp(kill_cause, "timeout:", 8) == 0)
            return HARK_RESTART_TIMEOUT;
        if (strstr(kill_cause, "did not start"))
            return HARK_RESTART_STARTUP;
        return HARK_RESTART_PROTOCOL;
    }
    if (ps->cause == PROC_OOM)
        return HARK_RESTART_OOM;
    return ps->cause == PROC_SIGNALED ? HARK_RESTART_CRASH : HARK_RESTART_EXIT;
}

/* The worker process is gone (its pidfd is readable). */
static void slot_exited(runtime *rt, slot *s)
{
    proc_status ps;
    proc_reap(&s->proc, &ps);
    char cause[200], what[64];
    proc_status_describe(&ps, what, sizeof what);
    if (s->kill_cause[0])
        snprintf(cause, sizeof cause, "%s", s->kill_cause);
    else
        snprintf(cause, sizeof cause, "worker %s", what);
    if (s->state == SLOT_BUSY) {
        log_warn("%s: task of job %s lost: %s", s->name, s->task.job_id, cause);
        release_failed(rt, &s->task, cause);
    } else if (!rt->stopping) {
        log_warn("%s: exited (%s)", s->name, cause);
    }
    close(s->fd);
    s->fd = -1;
    frame_reader_release(&s->reader);
    proc_release(&s->proc);
    s->state = SLOT_DEAD;
    s->failures++;
    double backoff =
        s->failures <= 1 ? 0 : 0.5 * (double)(1 << (s->failures < 6 ? s->failures : 6));
    s->respawn_at =
        clock_now_s() + (backoff < RESPAWN_BACKOFF_MAX_S ? backoff : RESPAWN_BACKOFF_MAX_S);
    if (!rt->stopping) {
        rt->stats.worker_restarts++;
        if (rt->o.metrics)
            hark_metrics_worker_restart(rt->o.metrics, restart_cause(s->kill_cause, &ps));
    }
}

/* ---- tasks: dispatch and answers ---- */

/* What a download may take before the watchdog gives up on its worker:
 * its own limits, which end it sooner. Without a total limit, a generous
 * bound: the low-speed limit still ends a stalled transfer. */
static double fetch_watchdog_s(const net_fetch_opts *f)
{
    double connect = f->connect_timeout_s > 0 ? f->connect_timeout_s : 300;
    return connect + (f->total_timeout_s > 0 ? f->total_timeout_s : 24 * 3600.0);
}

/* Where a download may connect, for the worker (protocol.h "dest"). */
static json_t *dest_json(const net_dest_policy *p)
{
    json_t *allow = json_array();
    for (size_t i = 0; p && i < p->n_allow; i++)
        json_array_append_new(allow, json_pack("{s:s, s:i}", "host", p->allow[i].host, "port",
                                               (int)p->allow[i].port));
    return json_pack("{s:b, s:o}", "any", p && p->any, "allow", allow);
}

static void dispatch(runtime *rt, slot *s, const store_task *t)
{
    store_job job;
    hark_err err = {0};
    if (store_get_job(rt->st, STORE_SCOPE_ALL, t->job_id, &job, &err)) {
        log_error("job %s: %s", t->job_id, err.msg);
        if (store_release(rt->st, t->token, STORE_RELEASE_PREEMPTED, "job vanished", NULL, NULL) ==
            HARK_EUNAVAIL) {
            s->pending = PENDING_RELEASE;
            s->pending_task = *t;
        }
        return;
    }
    const job_kind *kind = job_kind_of(&job);
    if (!kind) {
        /* A job stored by a build with more kinds: nothing here can run it. */
        char names[128], why[256];
        job_kind_names(names, sizeof names);
        snprintf(why, sizeof why, "unknown job kind '%.64s' (this build has: %s)", job.kind, names);
        store_job_release(&job);
        if (store_fail(rt->st, STORE_SCOPE_ALL, t->job_id, why, &err) == 0)
            job_finished(rt, t->job_id, STORE_FAILED);
        return;
    }
    char dir[4096];
    work_dir_of(rt, t->job_id, dir, sizeof dir);
    json_t *msg;
    double now = clock_now_s();
    s->task = *t;
    s->state = SLOT_BUSY;
    s->since = s->last_beat = s->last_renew = now;
    s->yielding = false;
    s->preempting = false;
    if (t->kind == STORE_TASK_PREPARE) {
        if (fs_mkdir_p(dir, 0700, &err)) {
            store_job_release(&job);
            s->state = SLOT_IDLE;
            release_failed(rt, t, err.msg);
            return;
        }
        msg = json_pack("{s:I, s:s, s:s, s:s, s:s, s:f, s:f}", "token", (json_int_t)t->token, "job",
                        t->job_id, "kind", kind->name, "input", job.input, "work_dir", dir,
                        "max_duration", rt->o.max_duration_s, "timeout", rt->o.decode_timeout_s);
        s->deadline = now + rt->o.decode_timeout_s + CHUNK_WATCHDOG_BASE_S;
        if (job.input_root[0] && !transcription_input_is_url(job.input))
            json_object_set_new(msg, "root", json_string(job.input_root));
        if (transcription_input_is_url(job.input)) {
            /* The worker downloads it first, under these limits. */
            const net_fetch_opts *f = &rt->o.fetch;
            json_object_set_new(msg, "fetch",
                                json_pack("{s:f, s:f, s:I, s:I, s:I, s:i}", "connect_timeout",
                                          f->connect_timeout_s, "timeout", f->total_timeout_s,
                                          "low_speed_bytes", (json_int_t)f->low_speed_bytes,
                                          "low_speed_time", (json_int_t)f->low_speed_time_s,
                                          "max_bytes", (json_int_t)f->max_bytes, "max_redirects",
                                          f->max_redirects));
            json_object_set_new(json_object_get(msg, "fetch"), "dest", dest_json(f->dest));
            s->deadline += fetch_watchdog_s(f);
        }
        s->live = kind->live;
        s->live_bytes = job.input_bytes;
        s->live_ended = !job.input_open;
        if (kind->live) /* the session lasts as long as the dictation */
            s->deadline = now + rt->o.max_duration_s + CHUNK_WATCHDOG_BASE_S;
        if (kind->prepare_task && kind->prepare_task(rt->st, &job, msg, &err) != 0) {
            json_decref(msg);
            store_job_release(&job);
            s->state = SLOT_IDLE;
            release_failed(rt, t, err.msg);
            return;
        }
    } else {
        s->live = false;
        double secs = (double)(t->end_sample - t->start_sample) / STORE_SAMPLE_RATE;
        msg = json_pack("{s:I, s:s, s:s, s:i, s:s, s:s, s:I, s:I}", "token", (json_int_t)t->token,
                        "job", t->job_id, "kind", kind->name, "index", t->idx, "work_dir", dir,
                        "input", job.input, "start", (json_int_t)t->start_sample, "end",
                        (json_int_t)t->end_sample);
        double watchdog_s = CHUNK_WATCHDOG_BASE_S + CHUNK_WATCHDOG_PER_S * secs;
        char art[4096];
        kind_env env = {.work_dir = dir,
                        .artifact_dir = artifact_dir_of(rt, t->job_id, art, sizeof art)};
        if (kind->chunk_task &&
            kind->chunk_task(rt->st, &job, t, &env, msg, &watchdog_s, &err) != 0) {
            json_decref(msg);
            store_job_release(&job);
            s->state = SLOT_IDLE;
            release_failed(rt, t, err.msg);
            return;
        }
        s->deadline = now + watchdog_s;
    }
    store_job_release(&job);
    /* The kernel's CPU limit backs up the watchdog: twice its length, so
     * the wall-clock kill (with its clearer cause) normally comes first. */
    json_object_set_new(msg, "cpu_s", json_real(2 * (s->deadline - now)));
    log_debug("%s: job %s task %d (token %lld)", s->name, t->job_id, t->idx, (long long)t->token);
    slot_send(rt, s, t->kind == STORE_TASK_PREPARE ? MSG_PREPARE : MSG_DECODE, msg);
}

/* Faults that are the input's, not the worker's: retrying cannot help. */
static bool input_fault(int code)
{
    return code == HARK_EMEDIA || code == HARK_ETOOLONG || code == HARK_ENOENT ||
           code == HARK_EINVAL;
}

/* A live session ended: its input closed and every chunk is committed. */
static void on_live_finished(runtime *rt, slot *s, json_t *m)
{
    hark_err err = {0};
    store_commit_info info = {0};
    int rc = store_finish_live(rt->st, s->task.token,
                               json_number_value(json_object_get(m, "duration")), &info, &err);
    s->state = SLOT_IDLE;
    s->failures = 0;
    if (rc == HARK_ESTALE)
        rt->stats.stale_commits++;
    else if (rc == HARK_ENOSPC)
        release_for_space(rt, &s->task, err.msg);
    else if (rc)
        log_error("job %s: %s", s->task.job_id, err.msg);
    else if (info.job_complete)
        complete_job(rt, s->task.job_id);
}

/* A live session closed a chunk: commit it under the session's lease. */
static void on_live_chunk(runtime *rt, slot *s, json_t *m)
{
    const json_t *result = json_object_get(m, "result");
    const char *delta = json_string_value(json_object_get(m, "delta"));
    json_t *start = json_object_get(m, "start"), *end = json_object_get(m, "end");
    hark_err err = {0};
    char *text = result ? json_dumps(result, JSON_COMPACT | JSON_REAL_PRECISION(9)) : NULL;
    if (!text || !json_is_integer(start) || !json_is_integer(end) ||
        job_kind_live.check_result(result, &err)) {
        char why[160];
        snprintf(why, sizeof why, "the worker sent a malformed live chunk%s%.100s",
                 err.msg[0] ? ": " : "", err.msg);
        free(text);
        slot_kill(rt, s, why);
        return;
    }
    double decode_s = json_number_value(json_object_get(m, "decode_s"));
    if (!(decode_s >= 0))
        decode_s = 0;
    store_commit_info info = {0};
    int rc = store_commit_live_chunk(rt->st, s->task.token, json_integer_value(start),
                                     json_integer_value(end), text, delta, decode_s, &info, &err);
    free(text);
    if (rc == 0) {
        resource_clear(rt, NULL);
        if (rt->o.metrics)
            hark_metrics_chunk_decoded(
                rt->o.metrics, decode_s,
                (double)(json_integer_value(end) - json_integer_value(start)) / STORE_SAMPLE_RATE);
    } else if (rc == HARK_ESTALE) {
        /* Paused, cancelled or expired under it: stop the session. */
        rt->stats.stale_commits++;
        if (!s->yielding) {
            s->yielding = true;
            slot_send(rt, s, MSG_YIELD, json_pack("{s:I}", "token", (json_int_t)s->task.token));
        }
    } else if (rc == HARK_ENOSPC) {
        resource_set(rt, s->task.job_id, err.msg);
    } else if (rc == HARK_EINVAL) {
        slot_kill(rt, s, err.msg);
    } else {
        log_error("job %s: %s", s->task.job_id, err.msg);
    }
}

/* What a live session hears so far: events for the job's streams. */
static void on_live_partial(runtime *rt, slot *s, json_t *m)
{
    json_t *data = json_object_get(m, "data");
    const char *delta = json_string_value(json_object_get(m, "delta"));
    char *text = json_is_object(data) ? json_dumps(data, JSON_COMPACT) : NULL;
    if (!text) {
        slot_kill(rt, s, "the worker sent a malformed partial");
        return;
    }
    hark_err err = {0};
    int rc = store_live_partial(rt->st, s->task.token, text, delta, &err);
    free(text);
    if (rc && rc != HARK_ESTALE)
        log_warn("job %s: partial text not kept: %s", s->task.job_id, err.msg);
}

static void on_prepared(runtime *rt, slot *s, json_t *m)
{
    if (s->live) {
        on_live_finished(rt, s, m);
        return;
    }
    chunk_plan plan;
    hark_err err = {0};
    if (chunk_plan_from_json(json_object_get(m, "plan"), &plan, &err)) {
        slot_kill(rt, s, err.msg);
        return;
    }
    store_span *spans = calloc(plan.n ? plan.n : 1, sizeof *spans);
    for (size_t i = 0; spans && i < plan.n; i++)
        spans[i] = (store_span){plan.chunks[i].start, plan.chunks[i].end};
    store_commit_info info = {0};
    const char *key = json_string_value(json_object_get(m, "content_key"));
    int rc = spans ? store_commit_prepare(rt->st, s->task.token,
                                          json_number_value(json_object_get(m, "duration")), spans,
                                          plan.n, key, &info, &err)
                   : HARK_ENOMEM;
    free(spans);
    chunk_plan_release(&plan);
    s->state = SLOT_IDLE;
    if (rc == 0)
        resource_clear(rt, NULL);
    if (rc == HARK_ESTALE)
        rt->stats.stale_commits++;
    else if (rc == HARK_ENOSPC)
        release_for_space(rt, &s->task, err.msg);
    else if (rc)
        log_error("job %s: %s", s->task.job_id, err.msg);
    else if (info.job_complete)
        complete_job(rt, s->task.job_id);
}

static void on_result(runtime *rt, slot *s, json_t *m)
{
    const json_t *result = json_object_get(m, "result");
    hark_err err = {0};
    const job_kind *kind = NULL;
    store_job job;
    if (store_get_job(rt->st, STORE_SCOPE_ALL, s->task.job_id, &job, &err) == 0) {
        kind = job_kind_of(&job);
        store_job_release(&job);
    }
    /* The result is checked by its kind before it is committed: a worker
     * is untrusted (FFmpeg and the recognizer run there). A job gone
     * meanwhile is refused by the commit's token like any stale result. */
    char *text = result ? json_dumps(result, JSON_COMPACT | JSON_REAL_PRECISION(9)) : NULL;
    if (!text || (kind && kind->check_result(result, &err))) {
        free(text);
        slot_kill(rt, s, "the worker sent a malformed result");
        return;
    }
    log_debug("%s: job %s chunk %d: dispatch %.3f ms, worker setup %.3f ms, decode %.1f ms",
              s->name, s->task.job_id, s->task.idx, s->dispatch_s * 1000,
              json_number_value(json_object_get(m, "setup_s")) * 1000,
              json_number_value(json_object_get(m, "decode_s")) * 1000);
    store_commit_info info = {0};
    double decode_s = json_number_value(json_object_get(m, "decode_s"));
    int rc = store_commit_chunk(rt->st, s->task.token, text, decode_s, &info, &err);
    if (rc == 0 && rt->o.metrics)
        hark_metrics_chunk_decoded(rt->o.metrics, decode_s,
                                   (double)(s->task.end_sample - s->task.start_sample) /
                                       STORE_SAMPLE_RATE);
    s->state = SLOT_IDLE;
    s->failures = 0;
    if (rc == HARK_EUNAVAIL) {
        /* Kept: committed when the store answers again (retry_pending). */
        log_warn("job %s chunk %d: result kept until the store is back: %s", s->task.job_id,
                 s->task.idx, err.msg);
        s->pending = PENDING_COMMIT;
        s->pending_task = s->task;
        s->pending_text = text;
        s->pending_decode_s = decode_s;
        return;
    }
    free(text);
    if (rc == 0)
        resource_clear(rt, NULL);
    if (rc == HARK_ENOSPC) {
        release_for_space(rt, &s->task, err.msg);
    } else if (rc == HARK_ESTALE) {
        rt->stats.stale_commits++;
        log_info("%s: refused a stale result for job %s chunk %d", s->name, s->task.job_id,
                 s->task.idx);
    } else if (rc) {
        log_error("job %s: %s", s->task.job_id, err.msg);
    } else if (info.job_complete) {
        complete_job(rt, s->task.job_id);
    }
}

static void on_failed(runtime *rt, slot *s, json_t *m)
{
    int code = (int)json_integer_value(json_object_get(m, "code"));
    const char *msg = json_string_value(json_object_get(m, "message"));
    if (!msg)
        msg = "unknown error";
    s->state = SLOT_IDLE;
    if (s->task.kind == STORE_TASK_PREPARE && input_fault(code)) {
        /* The decoder names the path it opened (an upload's stored name);
         * say it as the user named the input. */
        char said[1024];
        store_job job;
        if (store_get_job(rt->st, STORE_SCOPE_ALL, s->task.job_id, &job, NULL) == 0) {
            const char *at = job.input[0] && job.source[0] ? strstr(msg, job.input) : NULL;
            if (at) {
                snprintf(said, sizeof said, "%.*s%s%s", (int)(at - msg), msg, job.source,
                         at + strlen(job.input));
                msg = said;
            }
            store_job_release(&job);
        }
        hark_err err = {0};
        if (store_fail(rt->st, STORE_SCOPE_ALL, s->task.job_id, msg, &err) == 0)
            job_finished(rt, s->task.job_id, STORE_FAILED);
        return;
    }
    if (code == HARK_ENOSPC) {
        release_for_space(rt, &s->task, msg);
        return;
    }
    release_failed(rt, &s->task, msg);
}

/* Renew well before the lease runs out: every second, or a third of a
 * short lease. */
static double renew_every(const runtime *rt)
{
    double third = (double)rt->o.lease_ms / 3000.0;
    return third < RENEW_EVERY_S ? third : RENEW_EVERY_S;
}

static void on_heartbeat(runtime *rt, slot *s, json_t *m)
{
    double now = clock_now_s();
    s->last_beat = now;
    if (rt->h.progress)
        rt->h.progress(rt->h.ctx, s->task.job_id, s->task.idx,
                       json_number_value(json_object_get(m, "done_s")));
    /* A task told to stop because its job ended has no lease left to
     * renew; one yielding for a better task keeps its lease until it
     * answers, which a loaded machine can stretch past a short lease (it
     * would expire into a failed attempt, and on a shared store its
     * asked mark would stop holding other nodes back). */
    if (now - s->last_renew < renew_every(rt) || (s->yielding && !s->preempting))
        return;
    s->last_renew = now;
    hark_err err = {0};
    int rc = store_renew(rt->st, s->task.token, rt->o.lease_ms, &err);
    if (rc == HARK_ENOSPC)
        resource_set(rt, s->task.job_id, err.msg);
    if (rc == HARK_ESTALE && !s->yielding) {
        /* Paused, cancelled, failed or expired under us: stop now. */
        s->yielding = true;
        slot_send(rt, s, MSG_YIELD, json_pack("{s:I}", "token", (json_int_t)s->task.token));
    }
}

static void slot_message(runtime *rt, slot *s, int type, json_t *m)
{
    bool busy = s->state == SLOT_BUSY;
    bool ours = busy && json_integer_value(json_object_get(m, "token")) == s->task.token;
    switch (type) {
    case MSG_READY:
        if (s->state == SLOT_STARTING) {
            s->state = SLOT_IDLE;
            log_debug("%s: ready (%s)", s->name, json_string_value(json_object_get(m, "engine")));
        }
        return;
    case MSG_FAILED:
        if (s->state == SLOT_STARTING) { /* could not load the model */
            slot_kill(rt, s, json_string_value(json_object_get(m, "message")));
            return;
        }
        if (ours)
            on_failed(rt, s, m);
        return;
    case MSG_HEARTBEAT:
        if (ours)
            on_heartbeat(rt, s, m);
        return;
    case MSG_PREPARED:
        if (ours && s->task.kind == STORE_TASK_PREPARE)
            on_prepared(rt, s, m);
        return;
    case MSG_RESULT:
        if (ours && s->task.kind == STORE_TASK_CHUNK)
            on_result(rt, s, m);
        return;
    case MSG_LIVE_CHUNK:
        if (ours && s->live)
            on_live_chunk(rt, s, m);
        return;
    case MSG_LIVE_PARTIAL:
        if (ours && s->live)
            on_live_partial(rt, s, m);
        return;
    case MSG_YIELDED:
        if (ours) {
            log_debug("%s: yielded job %s chunk %d %.1f ms after the ask (dispatch %.3f ms, "
                      "worker setup %.3f ms)",
                      s->name, s->task.job_id, s->task.idx, (clock_now_s() - s->yield_at) * 1000,
                      s->dispatch_s * 1000,
                      json_number_value(json_object_get(m, "setup_s")) * 1000);
            if (store_release(rt->st, s->task.token, STORE_RELEASE_PREEMPTED, "preempted", NULL,
                              NULL) == HARK_EUNAVAIL) {
                s->pending = PENDING_RELEASE;
                s->pending_task = s->task;
            }
            rt->stats.preemptions++;
            if (rt->o.metrics)
                hark_metrics_preemption(rt->o.metrics);
            s->state = SLOT_IDLE;
        }
        return;
    default:
        slot_kill(rt, s, "the worker broke the protocol");
    }
}

static void slot_readable(runtime *rt, slot *s)
{
    hark_err err = {0};
    int rc = frame_reader_read_fd(&s->reader, s->fd, &err);
    for (;;) {
        uint16_t type;
        const void *payload;
        size_t len;
        int got = frame_reader_next(&s->reader, &type, &payload, &len);
        if (got == 1)
            break;
        json_t *m = NULL;
        if (got < 0 || frame_parse_json(payload, len, &m, &err)) {
            slot_kill(rt, s, "the worker sent a malformed message");
            return;
        }
        slot_message(rt, s, type, m);
        json_decref(m);
        if (s->state == SLOT_DEAD || s->kill_cause[0])
            return;
    }
    if (rc != 0 && !s->closed_at) /* closed: the exit, and its cause, follow on the pidfd */
        s->closed_at = clock_now_s();
}

/* ---- scheduling ---- */

static bool realtime_running(const runtime *rt)
{
    for (int i = 0; i < rt->n; i++)
        if (rt->slots[i].state == SLOT_BUSY && rt->slots[i].task.priority == STORE_PRIO_REALTIME)
            return true;
    return false;
}

/* for_priority: the class yielded for, -1 when another node's request
 * picked it (store_yields_asked). */
static void ask_yield(runtime *rt, slot *s, int for_priority)
{
    s->yielding = true;
    s->preempting = true;
    s->yield_at = clock_now_s();
    log_info("%s: yield job %s chunk %d for a %s task", s->name, s->task.job_id, s->task.idx,
             for_priority < 0 ? "better" : store_priority_name(for_priority));
    slot_send(rt, s, MSG_YIELD, json_pack("{s:I}", "token", (json_int_t)s->task.token));
}

/* The slot holding lease token, or NULL. */
static slot *slot_of_token(runtime *rt, int64_t token)
{
    for (int i = 0; i < rt->n; i++)
        if (rt->slots[i].state == SLOT_BUSY && rt->slots[i].task.token == token)
            return &rt->slots[i];
    return NULL;
}

/* Every worker of this node is busy and a task of class best waits: on a
 * shared store, ask the store to pick the cluster's one worker to yield
 * (store_request_yield). Nothing is worse than the lowest class, so only a
 * better class is worth a request; after a request that asked nothing,
 * the next waits for a change in the store (a wake: a commit, a release,
 * a submit, on any node), a better class, or the poll fallback. */
static void shared_preempt(runtime *rt, int best)
{
    if (best >= STORE_PRIO_LOW)
        return;
    double now = clock_now_s();
    if (!rt->yield_recheck && best >= rt->yield_best && now - rt->yield_at < YIELD_POLL_S)
        return;
    rt->yield_recheck = false;
    rt->yield_best = best;
    rt->yield_at = now;
    int64_t token = 0;
    char node[128];
    hark_err err = {0};
    if (store_request_yield(rt->st, &token, node, sizeof node, &err)) {
        log_warn("preemption: %s", err.msg);
        return;
    }
    if (!token)
        return;
    slot *s = slot_of_token(rt, token);
    if (s && !s->yielding && !s->kill_cause[0])
        ask_yield(rt, s, best);
    else if (!s)
        log_info("asked node %s to yield a task for a %s task", node[0] ? node : "?",
                 store_priority_name(best));
}

/* A wake: was a task of ours picked to yield by another node's request? */
static void shared_yield_check(runtime *rt)
{
    int64_t tokens[64];
    slot *of[64];
    size_t n = 0;
    for (int i = 0; i < rt->n && n < 64; i++) {
        slot *s = &rt->slots[i];
        if (s->state == SLOT_BUSY && !s->yielding && !s->kill_cause[0]) {
            tokens[n] = s->task.token;
            of[n++] = s;
        }
    }
    bool asked[64];
    hark_err err = {0};
    if (n == 0 || store_yields_asked(rt->st, tokens, n, asked, &err))
        return;
    for (size_t i = 0; i < n; i++)
        if (asked[i])
            ask_yield(rt, of[i], -1);
}

/* Hand the store what slot s kept while it was unreachable. True while
 * it still cannot be reached (the slot waits: nothing can be claimed
 * then anyway). */
static bool retry_pending(runtime *rt, slot *s)
{
    hark_err err = {0};
    const store_task *t = &s->pending_task;
    if (s->pending == PENDING_RELEASE) {
        int rc = store_release(rt->st, t->token, STORE_RELEASE_PREEMPTED, "store unavailable", NULL,
                               &err);
        if (rc == HARK_EUNAVAIL)
            return true;
        s->pending = PENDING_NONE;
        return false;
    }
    store_commit_info info = {0};
    int rc =
        store_commit_chunk(rt->st, t->token, s->pending_text, s->pending_decode_s, &info, &err);
    if (rc == HARK_EUNAVAIL)
        return true;
    free(s->pending_text);
    s->pending_text = NULL;
    s->pending = PENDING_NONE;
    if (rc == 0) {
        log_info("job %s chunk %d: kept result committed", t->job_id, t->idx);
        resource_clear(rt, NULL);
        if (rt->o.metrics)
            hark_metrics_chunk_decoded(rt->o.metrics, s->pending_decode_s,
                                       (double)(t->end_sample - t->start_sample) /
                                           STORE_SAMPLE_RATE);
        if (info.job_complete)
            complete_job(rt, t->job_id);
    } else if (rc == HARK_ENOSPC) {
        release_for_space(rt, t, err.msg);
    } else if (rc == HARK_ESTALE) {
        rt->stats.stale_commits++;
        log_info("%s: refused a kept result for job %s chunk %d (its lease ran out)", s->name,
                 t->job_id, t->idx);
    } else {
        log_error("job %s: %s", t->job_id, err.msg);
    }
    return false;
}

static void schedule(runtime *rt)
{
    if (rt->stopping)
        return;
    for (int i = 0; i < rt->n; i++)
        if (rt->slots[i].pending && retry_pending(rt, &rt->slots[i]))
            return;
    store_peek_info pk;
    if (store_peek(rt->st, &pk, NULL))
        pk.best_priority = -1;
    /* Realtime exclusivity: while realtime work waits or runs, nothing else
     * is started and every other worker yields, so a push-to-talk clip gets
     * the whole machine (cores share caches and memory bandwidth: measured,
     * a neighbour's decode slows a clip by 10-15%). A machine is shared by
     * every node on it: another node's realtime task counts as ours. */
    bool nearby = pk.realtime_nearby;
    bool exclusive = rt->o.realtime_exclusive &&
                     (pk.best_priority == STORE_PRIO_REALTIME || realtime_running(rt) || nearby);
    bool starting = false, idle_left = false;
    for (int i = 0; i < rt->n; i++) {
        slot *s = &rt->slots[i];
        starting |= s->state == SLOT_STARTING;
        if (s->state != SLOT_IDLE || s->kill_cause[0])
            continue;
        store_task t;
        hark_err err = {0};
        double claim_at = clock_now_s();
        int rc = store_claim_upto(rt->st, s->name, rt->o.lease_ms,
                                  exclusive ? STORE_PRIO_REALTIME : STORE_PRIO_LOW, &t, &err);
        if (rc == HARK_EUNAVAIL) {
            /* Said once: the store's backoff makes each turn's try cheap. */
            if (!rt->store_down)
                log_warn("claim: %s; waiting for it", err.msg);
            rt->store_down = true;
            return;
        }
        if (rc) {
            log_error("claim: %s", err.msg);
            return;
        }
        if (rt->store_down)
            log_info("claim: the store answers again");
        rt->store_down = false;
        if (t.kind == STORE_TASK_NONE) {
            idle_left = true;
            break;
        }
        dispatch(rt, s, &t);
        s->dispatch_s = clock_now_s() - claim_at;
    }
    /* On a shared store exclusivity is the machine's (caches and memory
     * bandwidth are per machine): the nodes of the machine running a
     * realtime task clear their other workers; one that only sees it wait
     * asks the store like any better task (shared_preempt), so one worker
     * in the cluster yields. */
    if (exclusive && (!rt->shared_yields || realtime_running(rt) || nearby)) {
        for (int i = 0; i < rt->n; i++) {
            slot *s = &rt->slots[i];
            if (s->state == SLOT_BUSY && !s->yielding && !s->kill_cause[0] &&
                s->task.priority != STORE_PRIO_REALTIME)
                ask_yield(rt, s, STORE_PRIO_REALTIME);
        }
        return;
    }
    if (idle_left || starting)
        return;
    /* Every worker is busy: does a better task wait? */
    if (store_peek(rt->st, &pk, NULL) || pk.best_priority < 0)
        return;
    if (rt->shared_yields) {
        shared_preempt(rt, pk.best_priority);
        return;
    }
    slot *victim = NULL;
    for (int i = 0; i < rt->n; i++) {
        slot *s = &rt->slots[i];
        if (s->state != SLOT_BUSY)
            continue;
        if (s->yielding)
            return; /* one yield at a time; the freed worker takes the better task */
        if (s->task.priority <= pk.best_priority)
            continue;
        if (!victim || s->task.priority > victim->task.priority ||
            (s->task.priority == victim->task.priority && s->since > victim->since))
            victim = s; /* the lowest class; among equals the least work lost */
    }
    if (victim)
        ask_yield(rt, victim, pk.best_priority);
}

/* A job paused or cancelled by another thread revoked its leases in the
 * store; stop its chunks now rather than at the next lease renewal. And a
 * live session hears here that its input grew or closed (the server wakes
 * the runtime after each append). */
static void revoke_check(runtime *rt)
{
    for (int i = 0; i < rt->n; i++) {
        slot *s = &rt->slots[i];
        if (s->state != SLOT_BUSY || s->yielding || s->kill_cause[0])
            continue;
        store_job job;
        if (store_get_job(rt->st, STORE_SCOPE_ALL, s->task.job_id, &job, NULL))
            continue;
        bool live = job.state == STORE_QUEUED || job.state == STORE_RUNNING;
        if (live && s->live &&
            (job.input_bytes > s->live_bytes || (!job.input_open && !s->live_ended))) {
            /* The session's input grew or closed: tell it at once. */
            s->live_bytes = job.input_bytes;
            s->live_ended = !job.input_open;
            slot_send(rt, s, MSG_LIVE_INPUT,
                      json_pack("{s:I, s:I, s:b}", "token", (json_int_t)s->task.token, "bytes",
                                (json_int_t)job.input_bytes, "ended", !job.input_open));
        }
        store_job_release(&job);
        if (!live) {
            s->yielding = true;
            s->yield_at = clock_now_s();
            log_info("%s: job %s was paused or ended: stopping its task", s->name, s->task.job_id);
            slot_send(rt, s, MSG_YIELD, json_pack("{s:I}", "token", (json_int_t)s->task.token));
        }
    }
}

static void watchdogs(runtime *rt)
{
    double now = clock_now_s();
    for (int i = 0; i < rt->n; i++) {
        slot *s = &rt->slots[i];
        char cause[160];
        if (s->state == SLOT_DEAD) {
            if (!rt->stopping && now >= s->respawn_at)
                slot_spawn(rt, s);
        } else if (s->closed_at && now - s->closed_at > CLOSED_GRACE_S) {
            slot_kill(rt, s, "the worker closed its socket but did not exit");
        } else if (s->state == SLOT_STARTING && now - s->since > STARTUP_TIMEOUT_S) {
            slot_kill(rt, s, "the worker did not start in time");
        } else if (s->state == SLOT_BUSY && now - s->last_beat > HEARTBEAT_TIMEOUT_MS / 1000.0) {
            snprintf(cause, sizeof cause,
                     "timeout: the worker stopped responding (no heartbeat for %.0f s)",
                     now - s->last_beat);
            slot_kill(rt, s, cause);
        } else if (s->state == SLOT_BUSY && now > s->deadline) {
            snprintf(cause, sizeof cause, "timeout: the task ran past its %.0f s watchdog",
                     s->deadline - s->since);
            slot_kill(rt, s, cause);
        }
    }
}

static void sweep_work_dirs(runtime *rt);
static void finish_ready_jobs(runtime *rt);
static void retention(runtime *rt);

/* Live jobs whose client has sent nothing for their idle timeout are
 * ended with what they have (their session then finishes). */
static void end_idle_inputs(runtime *rt)
{
    store_job_list l;
    if (store_list_open_inputs(rt->st, 100, &l, NULL))
        return;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t now_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    bool closed = false;
    for (size_t i = 0; i < l.n; i++) {
        const store_job *j = &l.jobs[i];
        double idle_s = (double)(now_ms - j->input_at_ms) / 1000;
        if (idle_s < live_idle_timeout_s(j))
            continue;
        hark_err err = {0};
        if (store_input_close(rt->st, STORE_SCOPE_ALL, j->id, "idle", NULL, &err) == 0) {
            log_info("job %s: no audio for %.0f s: ending it with what it has", j->id, idle_s);
            closed = true;
        } else {
            log_warn("job %s: %s", j->id, err.msg);
        }
    }
    store_job_list_release(&l);
    if (closed)
        revoke_check(rt);
}

static void housekeeping(runtime *rt)
{
    double now = clock_now_s();
    if (now - rt->last_housekeeping < TICK_MS / 1000.0)
        return;
    rt->last_housekeeping = now;
    store_expire_leases(rt->st, NULL, NULL);
    int n = 0;
    store_fail_overdue(rt->st, &n, NULL);
    end_idle_inputs(rt);
    if (now - rt->last_sweep >= SWEEP_EVERY_S) {
        rt->last_sweep = now;
        sweep_work_dirs(rt);   /* jobs cancelled or deleted by another thread */
        finish_ready_jobs(rt); /* a success whose commit failed: try again */
        retention(rt);         /* uploads of ended jobs, jobs past their retention */
    }
}

static void retention(runtime *rt)
{
    retention_opts ro = {.work_root = rt->o.work_root,
                         .uploads_dir = rt->o.uploads_dir,
                         .keep_inputs = rt->o.keep_inputs,
                         .keep_failed = rt->o.keep_failed,
                         .artifact_root = rt->o.artifact_root,
                         .job_retention_ms = rt->o.job_retention_ms};
    hark_err err = {0};
    if (retention_pass(rt->st, &ro, NULL, &err))
        log_error("retention: %s", err.msg);
}

/* Finish jobs whose chunks were all committed but whose success was not:
 * a crash between the two commits, an OS crash that lost the (unsynced)
 * success, or a success commit that failed. */
static void finish_ready_jobs(runtime *rt)
{
    store_job_filter f;
    store_job_filter_init(&f);
    f.ready_only = true;
    f.limit = 1000;
    store_job_list l;
    if (store_list_jobs(rt->st, STORE_SCOPE_ALL, &f, &l, NULL))
        return;
    for (size_t i = 0; i < l.n; i++)
        complete_job(rt, l.jobs[i].id);
    store_job_list_release(&l);
}

/* Remove work directories that no unfinished job owns: left by a crash
 * between a job's end and its directory's removal, or by a deleted job.
 * Unfinished jobs keep theirs (decoded audio + plan), so resuming never
 * decodes again; so do failed jobs with keep_failed, for a retry. */
static void sweep_work_dirs(runtime *rt)
{
    retention_sweep_artifacts(rt->st, rt->o.artifact_root, rt->artifact_cursor, NULL);
    DIR *d = opendir(rt->o.work_root);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        store_job job;
        int rc = store_get_job(rt->st, STORE_SCOPE_ALL, e->d_name, &job, NULL);
        bool failed = rc == 0 && rt->o.keep_failed && job.state == STORE_FAILED;
        bool keep = rc == 0 && (!store_state_terminal(job.state) || failed);
        if (failed) /* also what a worker left after the job failed */
            trim_failed(rt, &job);
        if (rc == 0)
            store_job_release(&job);
        if (keep || (rc != 0 && rc != HARK_ENOENT))
            continue;
        char dir[4096];
        work_dir_of(rt, e->d_name, dir, sizeof dir);
        log_info("removing orphaned work directory %s", dir);
        fs_rmtree(dir);
    }
    closedir(d);
}

/* ---- the loop ---- */

static int poll_once(runtime *rt, int timeout_ms)
{
    struct pollfd pf[1 + 2 * 64];
    slot *owner[1 + 2 * 64];
    int n = 0;
    if (rt->o.sigfd >= 0) {
        pf[n] = (struct pollfd){.fd = rt->o.sigfd, .events = POLLIN};
        owner[n++] = NULL;
    }
    pf[n] = (struct pollfd){.fd = rt->wakefd, .events = POLLIN};
    owner[n++] = NULL;
    for (int i = 0; i < rt->n && n + 2 <= (int)(sizeof pf / sizeof pf[0]); i++) {
        slot *s = &rt->slots[i];
        if (s->state == SLOT_DEAD)
            continue;
        pf[n] = (struct pollfd){.fd = proc_pidfd(&s->proc), .events = POLLIN};
        owner[n++] = s;
        if (s->closed_at)
            continue;
        pf[n] = (struct pollfd){.fd = s->fd, .events = POLLIN};
        owner[n++] = s;
    }
    int ready = poll(pf, (nfds_t)n, timeout_ms);
    if (ready < 0)
        return errno == EINTR ? 0 : HARK_EIO;
    for (int i = 0; i < n && ready > 0; i++) {
        if (!pf[i].revents)
            continue;
        slot *s = owner[i];
        if (!s && pf[i].fd == rt->wakefd) {
            uint64_t v;
            if (read(rt->wakefd, &v, sizeof v) < 0 && errno != EAGAIN)
                log_warn("runtime: wake read: %s", strerror(errno));
            revoke_check(rt);
            if (rt->shared_yields) {
                rt->yield_recheck = true;
                shared_yield_check(rt);
            }
        } else if (!s) {
            int sig = sigwatch_pending(rt->o.sigfd);
            if (sig && !rt->signo)
                rt->signo = sig;
        } else if (s->state == SLOT_DEAD) {
            continue;
        } else if (pf[i].fd == proc_pidfd(&s->proc)) {
            slot_exited(rt, s);
        } else {
            slot_readable(rt, s);
        }
    }
    return 0;
}

int runtime_new(store *st, const runtime_opts *o, const runtime_hooks *h, runtime **out,
                hark_err *err)
{
    if (!o->worker_path || !o->work_root || o->workers < 1 || o->workers > 64 || !h->complete)
        return err_set(err, HARK_EINVAL, "runtime: bad options");
    runtime *rt = calloc(1, sizeof *rt);
    slot *slots = calloc((size_t)o->workers, sizeof *slots);
    if (!rt || !slots) {
        free(rt);
        free(slots);
        return err_set(err, HARK_ENOMEM, "out of memory");
    }
    int rc = fs_mkdir_p(o->work_root, 0700, err);
    if (rc == 0 && (rt->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
        rc = err_set(err, HARK_EIO, "runtime: eventfd: %s", strerror(errno));
    if (rc == 0 && pthread_mutex_init(&rt->resource_mu, NULL) != 0) {
        close(rt->wakefd);
        rc = err_set(err, HARK_ENOMEM, "runtime: no mutex");
    }
    if (rc) {
        free(rt);
        free(slots);
        return rc;
    }
    rt->st = st;
    rt->o = *o;
    rt->h = *h;
    rt->slots = slots;
    rt->n = o->workers;
    rt->shared_yields = store_coordinates_yields(st);
    rt->yield_best = STORE_PRIO_LOW;
    for (int i = 0; i < rt->n; i++) {
        slots[i].n = i + 1;
        snprintf(slots[i].name, sizeof slots[i].name, "worker-%d", i + 1);
        slots[i].fd = -1;
        slot_spawn(rt, &slots[i]);
    }
    *out = rt;
    return 0;
}

static bool any_busy(const runtime *rt)
{
    for (int i = 0; i < rt->n; i++)
        if (rt->slots[i].state == SLOT_BUSY)
            return true;
    return false;
}

/* A signal: ask every busy worker to yield, give them a moment, then kill
 * the rest. Their tasks go back to the queue uncounted either way. */
static void drain(runtime *rt)
{
    rt->stopping = true;
    for (int i = 0; i < rt->n; i++) {
        slot *s = &rt->slots[i];
        if (s->state == SLOT_BUSY && !s->yielding) {
            s->yielding = true;
            slot_send(rt, s, MSG_YIELD, json_pack("{s:I}", "token", (json_int_t)s->task.token));
        }
    }
    deadline dl = deadline_in(SHUTDOWN_GRACE_S);
    while (any_busy(rt) && !deadline_passed(dl))
        poll_once(rt, 50);
    for (int i = 0; i < rt->n; i++) {
        slot *s = &rt->slots[i];
        if (s->pending) /* a last try: else its lease runs out */
            retry_pending(rt, s);
        if (s->state == SLOT_BUSY) {
            store_release(rt->st, s->task.token, STORE_RELEASE_PREEMPTED, "shutdown", NULL, NULL);
            s->state = SLOT_IDLE;
            slot_kill(rt, s, "shutdown");
        }
    }
}

static void publish_ready(runtime *rt)
{
    int n = 0;
    for (int i = 0; i < rt->n; i++)
        if ((rt->slots[i].state == SLOT_IDLE || rt->slots[i].state == SLOT_BUSY) &&
            !rt->slots[i].kill_cause[0])
            n++;
    atomic_store(&rt->ready_workers, n);
}

int runtime_ready_workers(const runtime *rt)
{
    return atomic_load(&((runtime *)rt)->ready_workers);
}

int runtime_run(runtime *rt, hark_err *err)
{
    sweep_work_dirs(rt);
    finish_ready_jobs(rt);
    retention(rt);
    while (!rt->signo) {
        if (rt->h.done && rt->h.done(rt->h.ctx))
            return 0;
        schedule(rt);
        int rc = poll_once(rt, TICK_MS);
        if (rc)
            return err_set(err, rc, "runtime: poll failed: %s", strerror(errno));
        watchdogs(rt);
        housekeeping(rt);
        publish_ready(rt);
    }
    atomic_store(&rt->ready_workers, 0);
    drain(rt);
    return err_set(err, HARK_ECANCELED, "interrupted");
}

int runtime_signal(const runtime *rt)
{
    return rt->signo;
}

void runtime_get_stats(const runtime *rt, runtime_stats *out)
{
    *out = rt->stats;
}

void runtime_free(runtime *rt)
{
    if (!rt)
        return;
    rt->stopping = true;
    for (int i = 0; i < rt->n; i++) {
        slot *s = &rt->slots[i];
        if (s->state != SLOT_DEAD && !s->kill_cause[0])
            slot_send(rt, s, MSG_SHUTDOWN, json_object());
    }
    for (int i = 0; i < rt->n; i++) {
        slot *s = &rt->slots[i];
        if (s->state == SLOT_DEAD)
            continue;
        proc_status ps;
        if (proc_wait(&s->proc, deadline_in(SHUTDOWN_GRACE_S), &ps, NULL) != 0) {
            proc_kill(&s->proc);
            proc_wait(&s->proc, deadline_in(SHUTDOWN_GRACE_S), &ps, NULL);
        }
        close(s->fd);
        frame_reader_release(&s->reader);
        proc_release(&s->proc);
    }
    for (int i = 0; i < rt->n; i++)
        free(rt->slots[i].pending_text);
    close(rt->wakefd);
    pthread_mutex_destroy(&rt->resource_mu);
    free(rt->slots);
    free(rt);
}

void runtime_wake(runtime *rt)
{
    uint64_t one = 1;
    ssize_t w = write(rt->wakefd, &one, sizeof one);
    (void)w; /* EAGAIN: the counter is saturated, a wake is pending anyway */
}
