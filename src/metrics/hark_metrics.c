/* hark_metrics.c - see hark_metrics.h. */
#include "metrics/hark_metrics.h"

#include "metrics/procstat.h"
#include "store/store.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

/* Chunks hold 5-15 s of audio (never over 30 s) and decode at roughly 0.1-0.5x
 * real time, so most decodes take 0.5-8 s; the tail up to a minute shows
 * an overloaded machine, past that the watchdog is near. */
static const double decode_bounds[] = {0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120};

/* Real-time factor per chunk as a histogram, not a gauge: a gauge would
 * show whichever chunk finished last before a scrape, one of several
 * workers' and a fraction of the chunks, while the histogram keeps every
 * chunk, so its quantiles show the slow tail (> 1 means a chunk decoded
 * slower than real time, which push-to-talk feels). The ratio of rates,
 * rate(hark_chunk_decode_seconds_sum) / rate(hark_chunk_audio_seconds_total),
 * gives the throughput figure; the mean of the histogram would weigh
 * short chunks like long ones. */
static const double rtf_bounds[] = {0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 4};

/* Submit to success: push-to-talk in under a second or two, a podcast in
 * minutes, a 12-hour recording in hours. */
static const double latency_bounds[] = {0.25, 0.5, 1,   2,    5,    10,    30,
                                        60,   300, 900, 1800, 3600, 14400, 43200};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const char *const restart_names[HARK_RESTART_N] = {
    "crash", "oom", "timeout", "heartbeat", "protocol", "startup", "exit"};
static const char *const webhook_names[HARK_WEBHOOK_N] = {"delivered", "retried", "failed"};
static const char *const code_classes[] = {"2xx", "4xx", "5xx"};
static const int final_states[] = {STORE_SUCCEEDED, STORE_FAILED, STORE_CANCELLED};
#define N_PRIOS (STORE_PRIO_LOW + 1)

const char *hark_restart_cause_name(enum hark_restart_cause cause)
{
    return (int)cause >= 0 && cause < HARK_RESTART_N ? restart_names[cause] : NULL;
}

const char *hark_webhook_outcome_name(enum hark_webhook_outcome outcome)
{
    return (int)outcome >= 0 && outcome < HARK_WEBHOOK_N ? webhook_names[outcome] : NULL;
}

/* A known priority's name, or NULL (no series for values hark never uses). */
static const char *prio_name(int priority)
{
    return priority >= 0 && priority < N_PRIOS ? store_priority_name(priority) : NULL;
}

/* Collect hook: the process_* metrics from /proc/self. A read that fails
 * leaves the last values (a scrape never fails for it). */
static void collect_process(void *ctx)
{
    hark_metrics *hm = ctx;
    procstat ps;
    if (procstat_read(&ps, NULL) != 0)
        return;
    metric_set(hm->process_cpu, NULL, ps.cpu_seconds);
    metric_set(hm->process_rss, NULL, (double)ps.resident_bytes);
    metric_set(hm->process_vsize, NULL, (double)ps.virtual_bytes);
    metric_set(hm->process_start, NULL, ps.start_time_s);
    metric_set(hm->process_fds, NULL, (double)ps.open_fds);
    metric_set(hm->process_max_fds, NULL, ps.max_fds < 0 ? -1.0 : (double)ps.max_fds);
}

hark_metrics *hark_metrics_new(hark_err *err)
{
    hark_metrics *hm = calloc(1, sizeof *hm);
    if (!hm || !(hm->reg = metrics_registry_new())) {
        free(hm);
        err_set(err, HARK_ENOMEM, "out of memory");
        return NULL;
    }
    metrics_registry *r = hm->reg;
    const char *const *prio = METRIC_LABELS("priority");
    hm->queue_depth =
        metrics_gauge(r, "hark_queue_depth", "Jobs waiting to run, by priority class.", prio, err);
    hm->running_chunks = metrics_gauge(r, "hark_running_chunks",
                                       "Chunk tasks being decoded by workers now.", NULL, err);
    hm->jobs_finished = metrics_counter(r, "hark_jobs_finished_total",
                                        "Jobs that reached a final state, by that state.",
                                        METRIC_LABELS("state"), err);
    hm->preemptions = metrics_counter(
        r, "hark_preemptions_total",
        "Running chunks told to yield so a higher priority class could run.", NULL, err);
    hm->chunk_decode_seconds =
        metrics_histogram(r, "hark_chunk_decode_seconds", "Wall time to decode one chunk.", NULL,
                          decode_bounds, N(decode_bounds), err);
    hm->chunk_audio_seconds =
        metrics_counter(r, "hark_chunk_audio_seconds_total",
                        "Seconds of audio in decoded chunks (divide the decode time by it for "
                        "the real-time factor).",
                        NULL, err);
    hm->chunk_rtf = metrics_histogram(r, "hark_chunk_real_time_factor_ratio",
                                      "Decode time over audio duration, per chunk (1 = real time).",
                                      NULL, rtf_bounds, N(rtf_bounds), err);
    hm->job_latency = metrics_histogram(r, "hark_job_latency_seconds",
                                        "Time from submit to success, by priority class.", prio,
                                        latency_bounds, N(latency_bounds), err);
    hm->worker_restarts =
        metrics_counter(r, "hark_worker_restarts_total", "Worker processes replaced, by cause.",
                        METRIC_LABELS("cause"), err);
    hm->deadline_kills = metrics_counter(
        r, "hark_deadline_kills_total",
        "Workers killed because a task ran past its watchdog or its job's deadline.", NULL, err);
    hm->stale_commits = metrics_counter(
        r, "hark_refused_stale_commits_total",
        "Chunk results and lease renewals refused because their lease had been lost (fencing).",
        NULL, err);
    hm->webhook_deliveries =
        metrics_counter(r, "hark_webhook_deliveries_total",
                        "Webhook delivery attempts, by outcome.", METRIC_LABELS("outcome"), err);
    hm->http_requests =
        metrics_counter(r, "hark_http_requests_total", "HTTP responses, by status class.",
                        METRIC_LABELS("code"), err);
    hm->upload_bytes = metrics_counter(r, "hark_upload_bytes_total",
                                       "Bytes of uploaded files written to disk.", NULL, err);
    hm->resource_waits = metrics_counter(
        r, "hark_resource_waits_total",
        "Tasks put back to wait for disk space (not counted as failed attempts).", NULL, err);
    hm->build_info = metrics_gauge(r, "hark_build_info", "Always 1; the version of hark.",
                                   METRIC_LABELS("version"), err);
    hm->node_info = metrics_gauge(r, "hark_node_info",
                                  "Always 1; this daemon's node name and incarnation (this run).",
                                  METRIC_LABELS("node", "incarnation"), err);
    hm->process_cpu =
        metrics_counter(r, "process_cpu_seconds_total",
                        "User and system CPU time of the daemon, seconds.", NULL, err);
    hm->process_rss = metrics_gauge(r, "process_resident_memory_bytes",
                                    "Resident memory of the daemon.", NULL, err);
    hm->process_vsize = metrics_gauge(r, "process_virtual_memory_bytes",
                                      "Virtual memory of the daemon.", NULL, err);
    hm->process_start =
        metrics_gauge(r, "process_start_time_seconds",
                      "When the daemon started, seconds since the Unix epoch.", NULL, err);
    hm->process_fds =
        metrics_gauge(r, "process_open_fds", "File descriptors the daemon has open.", NULL, err);
    hm->process_max_fds = metrics_gauge(r, "process_max_fds",
                                        "The daemon's limit of open file descriptors.", NULL, err);
    metric *all[] = {hm->queue_depth,
                     hm->running_chunks,
                     hm->jobs_finished,
                     hm->preemptions,
                     hm->chunk_decode_seconds,
                     hm->chunk_audio_seconds,
                     hm->chunk_rtf,
                     hm->job_latency,
                     hm->worker_restarts,
                     hm->deadline_kills,
                     hm->stale_commits,
                     hm->webhook_deliveries,
                     hm->http_requests,
                     hm->upload_bytes,
                     hm->resource_waits,
                     hm->build_info,
                     hm->node_info,
                     hm->process_cpu,
                     hm->process_rss,
                     hm->process_vsize,
                     hm->process_start,
                     hm->process_fds,
                     hm->process_max_fds};
    for (size_t i = 0; i < N(all); i++) {
        if (!all[i]) {
            hark_metrics_free(hm); /* err says which */
            return NULL;
        }
    }

    /* Every series hark knows of, at 0, in a fixed order. */
    for (int p = 0; p < N_PRIOS; p++) {
        metric_touch(hm->queue_depth, METRIC_LABELS(prio_name(p)));
        metric_touch(hm->job_latency, METRIC_LABELS(prio_name(p)));
    }
    for (size_t i = 0; i < N(final_states); i++)
        metric_touch(hm->jobs_finished, METRIC_LABELS(store_state_name(final_states[i])));
    for (size_t i = 0; i < HARK_RESTART_N; i++)
        metric_touch(hm->worker_restarts, METRIC_LABELS(restart_names[i]));
    for (size_t i = 0; i < HARK_WEBHOOK_N; i++)
        metric_touch(hm->webhook_deliveries, METRIC_LABELS(webhook_names[i]));
    for (size_t i = 0; i < N(code_classes); i++)
        metric_touch(hm->http_requests, METRIC_LABELS(code_classes[i]));
    metric_set(hm->build_info, METRIC_LABELS(HARK_VERSION), 1);
    if (hark_metrics_on_collect(hm, collect_process, hm) != 0) {
        err_set(err, HARK_ENOMEM, "out of memory");
        hark_metrics_free(hm);
        return NULL;
    }
    return hm;
}

void hark_metrics_free(hark_metrics *hm)
{
    if (!hm)
        return;
    metrics_registry_free(hm->reg);
    free(hm);
}

int hark_metrics_on_collect(hark_metrics *hm, void (*fn)(void *ctx), void *ctx)
{
    return metrics_on_collect(hm->reg, fn, ctx);
}

int hark_metrics_render(hark_metrics *hm, buf *out)
{
    return metrics_render(hm->reg, out);
}

void hark_metrics_set_node(hark_metrics *hm, const char *node, const char *incarnation)
{
    metric_set(hm->node_info, METRIC_LABELS(node, incarnation), 1);
}

void hark_metrics_set_queue_depth(hark_metrics *hm, int priority, int64_t jobs)
{
    const char *p = prio_name(priority);
    if (p)
        metric_set(hm->queue_depth, METRIC_LABELS(p), (double)jobs);
}

void hark_metrics_set_running_chunks(hark_metrics *hm, int chunks)
{
    metric_set(hm->running_chunks, NULL, chunks);
}

void hark_metrics_set_jobs_finished(hark_metrics *hm, int state, int64_t total)
{
    if (state != STORE_SUCCEEDED && state != STORE_FAILED && state != STORE_CANCELLED)
        return;
    metric_set(hm->jobs_finished, METRIC_LABELS(store_state_name(state)), (double)total);
}

void hark_metrics_job_finished(hark_metrics *hm, int state, int priority, double latency_s)
{
    if (state != STORE_SUCCEEDED && state != STORE_FAILED && state != STORE_CANCELLED)
        return;
    const char *p = prio_name(priority);
    if (state == STORE_SUCCEEDED && p && latency_s >= 0)
        metric_observe(hm->job_latency, METRIC_LABELS(p), latency_s);
}

void hark_metrics_preemption(hark_metrics *hm)
{
    metric_inc(hm->preemptions, NULL);
}

void hark_metrics_chunk_decoded(hark_metrics *hm, double decode_s, double audio_s)
{
    if (!(decode_s >= 0))
        return;
    metric_observe(hm->chunk_decode_seconds, NULL, decode_s);
    if (audio_s > 0) {
        metric_add(hm->chunk_audio_seconds, NULL, audio_s);
        metric_observe(hm->chunk_rtf, NULL, decode_s / audio_s);
    }
}

void hark_metrics_worker_restart(hark_metrics *hm, enum hark_restart_cause cause)
{
    const char *c = hark_restart_cause_name(cause);
    if (c)
        metric_inc(hm->worker_restarts, METRIC_LABELS(c));
}

void hark_metrics_deadline_kill(hark_metrics *hm)
{
    metric_inc(hm->deadline_kills, NULL);
}

void hark_metrics_set_stale_commits(hark_metrics *hm, int64_t total)
{
    metric_set(hm->stale_commits, NULL, (double)total);
}

void hark_metrics_webhook(hark_metrics *hm, enum hark_webhook_outcome outcome)
{
    const char *o = hark_webhook_outcome_name(outcome);
    if (o)
        metric_inc(hm->webhook_deliveries, METRIC_LABELS(o));
}

void hark_metrics_http_request(hark_metrics *hm, int status)
{
    static const char *const classes[] = {"1xx", "2xx", "3xx", "4xx", "5xx"};
    const char *c = status >= 100 && status <= 599 ? classes[status / 100 - 1] : "other";
    metric_inc(hm->http_requests, METRIC_LABELS(c));
}

void hark_metrics_upload_bytes(hark_metrics *hm, int64_t bytes)
{
    if (bytes > 0)
        metric_add(hm->upload_bytes, NULL, (double)bytes);
}

void hark_metrics_resource_wait(hark_metrics *hm)
{
    metric_inc(hm->resource_waits, NULL);
}
