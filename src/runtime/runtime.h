/* runtime.h - the job runtime: a scheduler and a supervisor of worker
 * processes over the job store. The daemon (`hark serve`) and the embedded
 * `hark transcribe` both run one.
 *
 * One thread, one poll loop: worker sockets, worker pidfds and the
 * signalfd. Workers are started with fork+exec (`hark worker`), each with
 * its own model; they take tasks (prepare a job, decode a chunk) that the
 * runtime claims from the store under a lease with a fencing token.
 *
 *  - Priority: idle workers get the best waiting task (class, then FIFO).
 *    When a better task waits and no worker is free, the worker running the
 *    lowest-class task is asked to yield; it stops at its next block
 *    boundary (<= 100 ms of audio) and its chunk goes back to the queue
 *    uncounted. Nobody blocks holding anything (DESIGN.md invariant 2).
 *    Realtime work is exclusive by default (opts.realtime_exclusive): while
 *    it waits or runs, every other worker yields and stays idle.
 *    On a store several nodes share (store_coordinates_yields) the store
 *    picks the one worker of the cluster that yields (store_request_yield)
 *    and the node holding it hears of it on a wake (store_yields_asked);
 *    exclusivity is then this machine's: only a node running realtime
 *    work clears its other workers.
 *  - Fencing: results are committed with the task's token; the store
 *    refuses a token whose lease expired or was revoked (invariant 4).
 *  - Deadlines, never signals as timers (invariant 1): a worker whose
 *    heartbeats stop, or whose task passes its watchdog (derived from the
 *    chunk's length), is killed with SIGKILL through its pidfd, reaped and
 *    replaced; the task is released as failed with the cause, and retried
 *    with backoff by the store until its attempts run out.
 *  - Resources (DESIGN.md invariant 11): a task that failed because the
 *    disk was full (a worker's HARK_ENOSPC, or a commit the store could not
 *    write) is not a bad input and not a failed attempt: it waits on the
 *    store's resource backoff (5, 10, 20, 40, then every 60 s; the job
 *    fails after 30 waits, about 27 min) and runtime_resource_problem says
 *    why until a task result commits again.
 */
#ifndef HARK_RUNTIME_RUNTIME_H
#define HARK_RUNTIME_RUNTIME_H

#include "net/fetch.h"
#include "runtime/proc.h"
#include "metrics/hark_metrics.h"
#include "store/store.h"
#include "util/err.h"

#include <stdbool.h>

typedef struct runtime runtime;

/* What runtime_hooks.complete returns to leave a job as it is. */
#define RUNTIME_COMPLETE_KEEP 1

typedef struct runtime_hooks {
    /* Every chunk of job_id is committed: assemble its outputs. Return 0 and
     * the runtime marks the job succeeded; a negative code with err set
     * fails it with err's message; RUNTIME_COMPLETE_KEEP leaves it as it is
     * (every chunk committed, not ended: the hook paused it or will finish
     * it, e.g. outputs that could not be written are kept for a rerun).
     * Required. */
    int (*complete)(void *ctx, store *st, const char *job_id, hark_err *err);
    /* A job reached a terminal state (succeeded, failed, cancelled). May be NULL. */
    void (*finished)(void *ctx, const char *job_id, int state);
    /* Progress of a running task (seconds of audio done in it). May be NULL. */
    void (*progress)(void *ctx, const char *job_id, int idx, double done_s);
    /* The runtime asks after each event whether to stop; NULL: run until a signal. */
    bool (*done)(void *ctx);
    void *ctx;
} runtime_hooks;

typedef struct runtime_opts {
    const char *worker_path; /* the hark binary to exec as `worker_path worker` */
    int workers;             /* worker processes, >= 1 */
    const char *work_root;   /* jobs' work directories: <work_root>/<job id> */
    /* Jobs' artifacts (clips: jobs/artifacts.h), kept after the job ends
     * until it is deleted or pruned: <artifact_root>/<job id>; NULL: none
     * are made (a job that asks for some fails). */
    const char *artifact_root;
    int64_t lease_ms;        /* lease length, renewed by heartbeats [10000] */
    double max_duration_s;   /* inputs longer than this fail [43200] */
    double decode_timeout_s; /* prepare watchdog [1800] */
    proc_limits limits;      /* per worker [4 GiB address space, no CPU limit, nice +10] */
    int sigfd;               /* INT/TERM arrive here (util/sigwatch.h); -1: none */
    /* While a realtime task waits or runs, start nothing else and ask every
     * other worker to yield [true]: push-to-talk gets the whole machine. */
    bool realtime_exclusive;
    /* Workers say ready before their model is loaded and load it beside
     * their first tasks (worker_main's background_load) [false]: hark
     * transcribe's choice, where a bad input fails without waiting for a
     * model and the media decode overlaps the loads. A daemon keeps warm workers:
     * ready means the model is loaded. */
    bool background_load;
    /* Workers load the speech model [true]. false: they never do, and a
     * task that asks for it fails: `hark highlights --no-transcript`,
     * whose tasks only measure the audio, spares each worker the load's
     * CPU and memory. */
    bool load_model;
    /* Counts preemptions, worker restarts by cause, deadline kills and
     * chunk decode times into it (thread-safe; NULL: none). */
    hark_metrics *metrics;
    /* What ended jobs leave behind (runtime/retention.h): a failed job
     * keeps its work directory for a retry [false: removed when it ends];
     * uploads (files directly in uploads_dir, resolved; NULL: no input is
     * hark's own) are removed when their job succeeds or is cancelled,
     * unless keep_inputs; ended jobs are pruned job_retention_ms after they
     * ended [0: never], with their files. */
    bool keep_failed;
    const char *uploads_dir;
    bool keep_inputs;
    int64_t job_retention_ms;
    /* Downloads of URL inputs, in the worker's prepare: limits, timeouts and
     * where they may connect (dest, sent to the worker with each task; it
     * must outlive the runtime) [net_fetch_defaults(): public addresses
     * only]; the prepare's watchdog grows by the connect and total
     * timeouts. cancel is the worker's own and ignored here. */
    net_fetch_opts fetch;
} runtime_opts;

/* Defaults for everything but worker_path, work_root and sigfd. */
void runtime_opts_default(runtime_opts *o);

/* Start the workers (they load their models in parallel). The store must
 * have been recovered (store_recover) by the caller. */
int runtime_new(store *st, const runtime_opts *o, const runtime_hooks *h, runtime **out,
                hark_err *err);

/* First removes work directories no unfinished (or, with keep_failed,
 * failed) job owns, completes jobs whose chunks were all committed before a
 * restart, and runs a retention pass. Then serves until
 * hooks->done() says so (returns 0) or a signal arrives: then
 * running tasks are asked to yield and released as preempted, so they
 * resume on the next run, and it returns HARK_ECANCELED with
 * runtime_signal() set. Other failures (the store) return their code. */
int runtime_run(runtime *rt, hark_err *err);

/* Wake runtime_run from any thread (or a signal handler: one write to an
 * eventfd): the store changed under it (a submit, pause, cancel, resume),
 * so schedule now and stop tasks of jobs that were paused or ended, rather
 * than at the next tick or lease renewal. */
void runtime_wake(runtime *rt);

/* The signal that stopped runtime_run, 0 if none. */
int runtime_signal(const runtime *rt);

typedef struct runtime_stats {
    int preemptions; /* yields asked for and honoured */
    int worker_restarts;
    int deadline_kills; /* workers killed for missing heartbeats or a watchdog */
    int stale_commits;  /* results the store refused */
} runtime_stats;
void runtime_get_stats(const runtime *rt, runtime_stats *out);

/* Workers ready for tasks now (started, model loaded, not being killed).
 * Safe from any thread: what /readyz reports. */
int runtime_ready_workers(const runtime *rt);

/* 1 while a resource condition holds (the disk was full under a task or a
 * commit, and no task result has committed since), with why (n bytes, may
 * be NULL) saying what failed; 0 otherwise. Safe from any thread: what
 * /readyz reports. */
int runtime_resource_problem(runtime *rt, char *why, size_t n);

/* Shut the workers down (ask, then kill after a grace period) and free. */
void runtime_free(runtime *rt);

#endif
