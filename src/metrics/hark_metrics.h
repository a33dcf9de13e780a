/* hark_metrics.h - hark's own metrics, declared in one place.
 *
 * One object (not a global, so tests can make several) holding a registry
 * with every metric `hark serve` exposes, and typed functions to update
 * them, so call sites cannot misspell a name or a label value. Names follow
 * Prometheus conventions: a hark_ prefix, _total on counters, base units
 * (_seconds, _bytes), _ratio for a unitless ratio.
 *
 * Every labelled series hark knows of (each priority class, final state,
 * restart cause, webhook outcome and the 2xx/4xx/5xx code classes) is
 * created at 0 by hark_metrics_new, in that order, so a scrape shows it
 * before it first happens (rate() then sees the first increment) and the
 * output order is fixed.
 *
 * Thread-safe (see metrics.h): the runtime thread, libmicrohttpd's
 * connection threads and the collect callbacks may all update at once.
 *
 *   metric                             type      labels   updated by: what
 *   hark_queue_depth                   gauge     priority collect: jobs queued (store)
 *   hark_running_chunks                gauge     -        runtime: chunk tasks decoding
 *   hark_jobs_finished_total           counter   state    runtime: jobs ending
 *   hark_preemptions_total             counter   -        runtime: yields for a higher class
 *   hark_chunk_decode_seconds          histogram -        runtime: a chunk's decode time
 *   hark_chunk_audio_seconds_total     counter   -        runtime: audio decoded
 *   hark_chunk_real_time_factor_ratio  histogram -        runtime: decode / audio time
 *   hark_job_latency_seconds           histogram priority runtime: submit to success
 *   hark_worker_restarts_total         counter   cause    runtime: workers replaced
 *   hark_deadline_kills_total          counter   -        runtime: killed past a deadline
 *   hark_refused_stale_commits_total   counter   -        collect: the store's count of
 *                                                        results and renewals refused
 *   hark_webhook_deliveries_total      counter   outcome  webhook sender: attempts
 *   hark_http_requests_total           counter   code     server: responses
 *   hark_upload_bytes_total            counter   -        server: upload bytes written
 *   hark_resource_waits_total          counter   -        runtime: tasks put back to wait
 *                                                        for disk space
 *   hark_build_info                    gauge     version  new: 1, the version as a label
 *   hark_node_info                     gauge     node,    serve: 1, who this daemon is
 *                                                incarnation among the nodes of one store
 *   process_cpu_seconds_total          counter   -        collect: /proc/self (procstat.h)
 *   process_resident_memory_bytes      gauge     -        collect
 *   process_virtual_memory_bytes       gauge     -        collect
 *   process_start_time_seconds         gauge     -        collect
 *   process_open_fds                   gauge     -        collect
 *   process_max_fds                    gauge     -        collect
 * The process_* metrics are the daemon's own (its threads), as Prometheus's
 * client libraries define them, not its workers'.
 */
#ifndef HARK_METRICS_HARK_METRICS_H
#define HARK_METRICS_HARK_METRICS_H

#include "metrics/metrics.h"
#include "util/buf.h"
#include "util/err.h"

#include <stdint.h>

/* Why a worker process was replaced (label cause). */
enum hark_restart_cause {
    HARK_RESTART_CRASH = 0,     /* "crash": died of a signal hark did not send */
    HARK_RESTART_OOM = 1,       /* "oom": exited saying it ran out of memory */
    HARK_RESTART_TIMEOUT = 2,   /* "timeout": killed, its task ran past the watchdog */
    HARK_RESTART_HEARTBEAT = 3, /* "heartbeat": killed, its heartbeats stopped */
    HARK_RESTART_PROTOCOL = 4,  /* "protocol": killed, it broke the worker protocol */
    HARK_RESTART_STARTUP = 5,   /* "startup": killed, it did not get ready in time */
    HARK_RESTART_EXIT = 6,      /* "exit": exited on its own */
};
#define HARK_RESTART_N 7

/* What became of one webhook delivery attempt (label outcome). */
enum hark_webhook_outcome {
    HARK_WEBHOOK_DELIVERED = 0, /* "delivered": the receiver answered 2xx */
    HARK_WEBHOOK_RETRIED = 1,   /* "retried": this attempt failed, another will follow */
    HARK_WEBHOOK_FAILED = 2,    /* "failed": the last attempt failed, hark gives up */
};
#define HARK_WEBHOOK_N 3

typedef struct hark_metrics {
    metrics_registry *reg;
    /* For reading in tests and for collect callbacks; update through the
     * functions below. */
    metric *queue_depth, *running_chunks, *jobs_finished, *preemptions;
    metric *chunk_decode_seconds, *chunk_audio_seconds, *chunk_rtf, *job_latency;
    metric *worker_restarts, *deadline_kills, *stale_commits, *webhook_deliveries;
    metric *http_requests, *upload_bytes, *build_info, *resource_waits, *node_info;
    metric *process_cpu, *process_rss, *process_vsize, *process_start, *process_fds,
        *process_max_fds;
} hark_metrics;

/* The full set with every known series at 0 (the process_* ones are read
 * at every render), or NULL with err set. */
hark_metrics *hark_metrics_new(hark_err *err);
void hark_metrics_free(hark_metrics *hm); /* NULL is fine */

/* Run fn(ctx) before every render, unlocked (see metrics_on_collect): the
 * place to read the store (queue depth, refused commits). */
int hark_metrics_on_collect(hark_metrics *hm, void (*fn)(void *ctx), void *ctx);

/* Append the page for GET /metrics (Content-Type METRICS_CONTENT_TYPE). */
int hark_metrics_render(hark_metrics *hm, buf *out);

/* Name this daemon: hark_node_info{node, incarnation} 1 (set once, at
 * start; label values longer than METRICS_MAX_VALUE are cut). */
void hark_metrics_set_node(hark_metrics *hm, const char *node, const char *incarnation);
/* Jobs waiting (state queued) in class priority (enum store_priority). */
void hark_metrics_set_queue_depth(hark_metrics *hm, int priority, int64_t jobs);
/* Chunk tasks being decoded now. */
void hark_metrics_set_running_chunks(hark_metrics *hm, int chunks);
/* A job reached final state (enum store_job_state: succeeded, failed or
 * cancelled; others are ignored), latency_s after it was submitted. Only
 * the latency is recorded here, and for successes only: a cancel's latency
 * says when someone gave up, a failure's how many retries it took, neither
 * how fast hark serves. */
void hark_metrics_job_finished(hark_metrics *hm, int state, int priority, double latency_s);
/* Jobs that ever reached final state `state`, as the store counts them
 * (store_counters: every way a job ends, API cancels and deadlines
 * included, and it survives restarts): set at scrape time. */
void hark_metrics_set_jobs_finished(hark_metrics *hm, int state, int64_t total);
/* A running chunk was told to yield so a higher class could run. */
void hark_metrics_preemption(hark_metrics *hm);
/* A chunk of audio_s seconds was decoded in decode_s seconds. */
void hark_metrics_chunk_decoded(hark_metrics *hm, double decode_s, double audio_s);
void hark_metrics_worker_restart(hark_metrics *hm, enum hark_restart_cause cause);
/* A worker was killed because a task ran past its watchdog or deadline. */
void hark_metrics_deadline_kill(hark_metrics *hm);
/* The store's count of work refused for a stale lease token: results
 * (store_counters.refused_commits) and lease renewals (refused_renewals),
 * summed by the caller; persisted, so it survives restarts. */
void hark_metrics_set_stale_commits(hark_metrics *hm, int64_t total);
void hark_metrics_webhook(hark_metrics *hm, enum hark_webhook_outcome outcome);
/* One HTTP response with this status, counted by class ("2xx" ...;
 * "other" outside 100..599). */
void hark_metrics_http_request(hark_metrics *hm, int status);
/* A task was put back to wait for disk space (not a failed attempt). */
void hark_metrics_resource_wait(hark_metrics *hm);
/* bytes of an upload were written to disk (as they are written). */
void hark_metrics_upload_bytes(hark_metrics *hm, int64_t bytes);

/* The label values, for tests and logs. NULL when out of range. */
const char *hark_restart_cause_name(enum hark_restart_cause cause);
const char *hark_webhook_outcome_name(enum hark_webhook_outcome outcome);

#endif
