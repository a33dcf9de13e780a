#include "metrics/hark_metrics.h"

#include "metrics/expo_lint.h"
#include "store/store.h"
#include "util/test.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static char *render(hark_metrics *hm)
{
    buf b;
    buf_init(&b, 1 << 20);
    ASSERT_EQ(hark_metrics_render(hm, &b), 0);
    char *s = buf_steal(&b);
    const char *why = expo_lint(s);
    if (why)
        TEST_FAIL_("not valid exposition text: %s\n%s", why, s);
    return s;
}

/* The lines of s that start with prefix, joined. */
static char *lines_with(const char *s, const char *prefix)
{
    buf b;
    buf_init(&b, 1 << 20);
    for (const char *p = s; *p;) {
        const char *nl = strchr(p, '\n');
        ASSERT(nl);
        if (strncmp(p, prefix, strlen(prefix)) == 0)
            ASSERT_EQ(buf_append(&b, p, (size_t)(nl + 1 - p)), 0);
        p = nl + 1;
    }
    return buf_steal(&b);
}

static void expect_line(const char *s, const char *line)
{
    char want[512];
    snprintf(want, sizeof want, "\n%s\n", line);
    if (!strstr(s, want))
        TEST_FAIL_("no line \"%s\" in:\n%s", line, s);
}

/* The set, its names, types and order are the contract with dashboards. */
static void test_names_types_and_known_series(void)
{
    hark_err err = {0};
    hark_metrics *hm = hark_metrics_new(&err);
    ASSERT(hm);
    char *s = render(hm);
    char *types = lines_with(s, "# TYPE ");
    ASSERT_STREQ(types, "# TYPE hark_queue_depth gauge\n"
                        "# TYPE hark_running_chunks gauge\n"
                        "# TYPE hark_jobs_finished_total counter\n"
                        "# TYPE hark_preemptions_total counter\n"
                        "# TYPE hark_chunk_decode_seconds histogram\n"
                        "# TYPE hark_chunk_audio_seconds_total counter\n"
                        "# TYPE hark_chunk_real_time_factor_ratio histogram\n"
                        "# TYPE hark_job_latency_seconds histogram\n"
                        "# TYPE hark_worker_restarts_total counter\n"
                        "# TYPE hark_deadline_kills_total counter\n"
                        "# TYPE hark_refused_stale_commits_total counter\n"
                        "# TYPE hark_webhook_deliveries_total counter\n"
                        "# TYPE hark_http_requests_total counter\n"
                        "# TYPE hark_upload_bytes_total counter\n"
                        "# TYPE hark_resource_waits_total counter\n"
                        "# TYPE hark_build_info gauge\n"
                        "# TYPE hark_node_info gauge\n"
                        "# TYPE process_cpu_seconds_total counter\n"
                        "# TYPE process_resident_memory_bytes gauge\n"
                        "# TYPE process_virtual_memory_bytes gauge\n"
                        "# TYPE process_start_time_seconds gauge\n"
                        "# TYPE process_open_fds gauge\n"
                        "# TYPE process_max_fds gauge\n");
    free(types);
    char *depth = lines_with(s, "hark_queue_depth{");
    ASSERT_STREQ(depth, "hark_queue_depth{priority=\"realtime\"} 0\n"
                        "hark_queue_depth{priority=\"high\"} 0\n"
                        "hark_queue_depth{priority=\"normal\"} 0\n"
                        "hark_queue_depth{priority=\"low\"} 0\n");
    free(depth);
    char *fin = lines_with(s, "hark_jobs_finished_total{");
    ASSERT_STREQ(fin, "hark_jobs_finished_total{state=\"succeeded\"} 0\n"
                      "hark_jobs_finished_total{state=\"failed\"} 0\n"
                      "hark_jobs_finished_total{state=\"cancelled\"} 0\n");
    free(fin);
    char *rs = lines_with(s, "hark_worker_restarts_total{");
    ASSERT_STREQ(rs, "hark_worker_restarts_total{cause=\"crash\"} 0\n"
                     "hark_worker_restarts_total{cause=\"oom\"} 0\n"
                     "hark_worker_restarts_total{cause=\"timeout\"} 0\n"
                     "hark_worker_restarts_total{cause=\"heartbeat\"} 0\n"
                     "hark_worker_restarts_total{cause=\"protocol\"} 0\n"
                     "hark_worker_restarts_total{cause=\"startup\"} 0\n"
                     "hark_worker_restarts_total{cause=\"exit\"} 0\n");
    free(rs);
    char *wh = lines_with(s, "hark_webhook_deliveries_total{");
    ASSERT_STREQ(wh, "hark_webhook_deliveries_total{outcome=\"delivered\"} 0\n"
                     "hark_webhook_deliveries_total{outcome=\"retried\"} 0\n"
                     "hark_webhook_deliveries_total{outcome=\"failed\"} 0\n");
    free(wh);
    char *http = lines_with(s, "hark_http_requests_total{");
    ASSERT_STREQ(http, "hark_http_requests_total{code=\"2xx\"} 0\n"
                       "hark_http_requests_total{code=\"4xx\"} 0\n"
                       "hark_http_requests_total{code=\"5xx\"} 0\n");
    free(http);
    char *lat = lines_with(s, "hark_job_latency_seconds_count");
    ASSERT_STREQ(lat, "hark_job_latency_seconds_count{priority=\"realtime\"} 0\n"
                      "hark_job_latency_seconds_count{priority=\"high\"} 0\n"
                      "hark_job_latency_seconds_count{priority=\"normal\"} 0\n"
                      "hark_job_latency_seconds_count{priority=\"low\"} 0\n");
    free(lat);
    expect_line(s, "hark_running_chunks 0");
    expect_line(s, "hark_upload_bytes_total 0");
    expect_line(s, "hark_chunk_decode_seconds_bucket{le=\"+Inf\"} 0");
    expect_line(s, "hark_build_info{version=\"" HARK_VERSION "\"} 1");
    ASSERT(strstr(s, "hark_node_info{") == NULL); /* until serve names it */
    free(s);
    hark_metrics_set_node(hm, "asr-1", "asr-1-4242-00ff");
    s = render(hm);
    expect_line(s, "hark_node_info{node=\"asr-1\",incarnation=\"asr-1-4242-00ff\"} 1");
    /* This process's own figures, read at render time. */
    /* The resident set is positive and never above the peak the kernel
     * reports for this process (ru_maxrss, KiB), read after it. A fixed
     * floor would not do: a small test process is under 1 MB on some
     * kernels. */
    double rss = metric_value(hm->process_rss, NULL);
    struct rusage ru;
    ASSERT(getrusage(RUSAGE_SELF, &ru) == 0);
    ASSERT(rss > 0);
    ASSERT(rss <= (double)ru.ru_maxrss * 1024.0);
    ASSERT(metric_value(hm->process_vsize, NULL) >= metric_value(hm->process_rss, NULL));
    ASSERT(metric_value(hm->process_fds, NULL) >= 3); /* stdin, stdout, stderr */
    ASSERT(metric_value(hm->process_max_fds, NULL) >= metric_value(hm->process_fds, NULL));
    double start = metric_value(hm->process_start, NULL), now = (double)time(NULL);
    ASSERT(start > now - 3600 && start <= now + 1);
    free(s);
    hark_metrics_free(hm);
    hark_metrics_free(NULL);
}

static void test_updates(void)
{
    hark_metrics *hm = hark_metrics_new(NULL);
    ASSERT(hm);
    hark_metrics_set_running_chunks(hm, 3);
    hark_metrics_job_finished(hm, STORE_SUCCEEDED, STORE_PRIO_REALTIME, 0.8);
    hark_metrics_job_finished(hm, STORE_SUCCEEDED, STORE_PRIO_REALTIME, 1.5);
    hark_metrics_job_finished(hm, STORE_FAILED, STORE_PRIO_LOW, 100);
    hark_metrics_job_finished(hm, STORE_CANCELLED, STORE_PRIO_NORMAL, 5);
    hark_metrics_job_finished(hm, STORE_RUNNING, STORE_PRIO_NORMAL, 5); /* not final */
    hark_metrics_job_finished(hm, STORE_SUCCEEDED, 99, 5);              /* no class */
    hark_metrics_set_jobs_finished(hm, STORE_SUCCEEDED, 3);             /* the store's counts */
    hark_metrics_set_jobs_finished(hm, STORE_FAILED, 1);
    hark_metrics_set_jobs_finished(hm, STORE_CANCELLED, 1);
    hark_metrics_set_jobs_finished(hm, STORE_RUNNING, 9); /* not final: ignored */
    hark_metrics_preemption(hm);
    hark_metrics_preemption(hm);
    hark_metrics_chunk_decoded(hm, 2, 10);
    hark_metrics_chunk_decoded(hm, 3, 12);
    hark_metrics_chunk_decoded(hm, 0.5, 0); /* no audio: a decode time, no ratio */
    hark_metrics_worker_restart(hm, HARK_RESTART_OOM);
    hark_metrics_worker_restart(hm, HARK_RESTART_HEARTBEAT);
    hark_metrics_worker_restart(hm, HARK_RESTART_HEARTBEAT);
    hark_metrics_worker_restart(hm, (enum hark_restart_cause)42);
    hark_metrics_deadline_kill(hm);
    hark_metrics_set_stale_commits(hm, 7);
    hark_metrics_webhook(hm, HARK_WEBHOOK_RETRIED);
    hark_metrics_webhook(hm, HARK_WEBHOOK_DELIVERED);
    static const int codes[] = {200, 201, 204, 404, 400, 503, 101, 302, 42, 600};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        hark_metrics_http_request(hm, codes[i]);
    hark_metrics_upload_bytes(hm, 3000000000LL);
    hark_metrics_upload_bytes(hm, 5);
    hark_metrics_upload_bytes(hm, -1);

    char *s = render(hm);
    expect_line(s, "hark_running_chunks 3");
    expect_line(s, "hark_jobs_finished_total{state=\"succeeded\"} 3");
    expect_line(s, "hark_jobs_finished_total{state=\"failed\"} 1");
    expect_line(s, "hark_jobs_finished_total{state=\"cancelled\"} 1");
    ASSERT(!strstr(s, "running\"")); /* no series for a state that is not final */
    expect_line(s, "hark_job_latency_seconds_bucket{priority=\"realtime\",le=\"0.5\"} 0");
    expect_line(s, "hark_job_latency_seconds_bucket{priority=\"realtime\",le=\"1\"} 1");
    expect_line(s, "hark_job_latency_seconds_bucket{priority=\"realtime\",le=\"2\"} 2");
    expect_line(s, "hark_job_latency_seconds_sum{priority=\"realtime\"} 2.3");
    expect_line(s, "hark_job_latency_seconds_count{priority=\"low\"} 0");
    expect_line(s, "hark_job_latency_seconds_count{priority=\"normal\"} 0");
    expect_line(s, "hark_preemptions_total 2");
    expect_line(s, "hark_chunk_decode_seconds_count 3");
    expect_line(s, "hark_chunk_decode_seconds_sum 5.5");
    expect_line(s, "hark_chunk_audio_seconds_total 22");
    expect_line(s, "hark_chunk_real_time_factor_ratio_bucket{le=\"0.2\"} 1");
    expect_line(s, "hark_chunk_real_time_factor_ratio_bucket{le=\"0.3\"} 2");
    expect_line(s, "hark_chunk_real_time_factor_ratio_count 2");
    expect_line(s, "hark_worker_restarts_total{cause=\"oom\"} 1");
    expect_line(s, "hark_worker_restarts_total{cause=\"heartbeat\"} 2");
    expect_line(s, "hark_worker_restarts_total{cause=\"crash\"} 0");
    expect_line(s, "hark_deadline_kills_total 1");
    expect_line(s, "hark_refused_stale_commits_total 7");
    expect_line(s, "hark_webhook_deliveries_total{outcome=\"retried\"} 1");
    expect_line(s, "hark_webhook_deliveries_total{outcome=\"delivered\"} 1");
    char *http = lines_with(s, "hark_http_requests_total{");
    ASSERT_STREQ(http, "hark_http_requests_total{code=\"2xx\"} 3\n"
                       "hark_http_requests_total{code=\"4xx\"} 2\n"
                       "hark_http_requests_total{code=\"5xx\"} 1\n"
                       "hark_http_requests_total{code=\"1xx\"} 1\n"
                       "hark_http_requests_total{code=\"3xx\"} 1\n"
                       "hark_http_requests_total{code=\"other\"} 2\n");
    free(http);
    expect_line(s, "hark_upload_bytes_total 3000000005");
    ASSERT_STREQ(hark_restart_cause_name(HARK_RESTART_STARTUP), "startup");
    ASSERT(!hark_restart_cause_name((enum hark_restart_cause)(HARK_RESTART_CRASH - 1)));
    ASSERT_STREQ(hark_webhook_outcome_name(HARK_WEBHOOK_FAILED), "failed");
    ASSERT(!hark_webhook_outcome_name(HARK_WEBHOOK_N));
    free(s);
    hark_metrics_free(hm);
}

/* What cli/serve.c will do: read the store's view at scrape time. */
struct fake_store {
    hark_metrics *hm;
    int64_t queued[4], refused;
};

static void collect_from_store(void *arg)
{
    struct fake_store *st = arg;
    for (int p = 0; p < 4; p++)
        hark_metrics_set_queue_depth(st->hm, p, st->queued[p]);
    hark_metrics_set_queue_depth(st->hm, 4, 99); /* no such class: ignored */
    hark_metrics_set_stale_commits(st->hm, st->refused);
}

static void test_collect_reads_the_store_at_scrape_time(void)
{
    hark_metrics *hm = hark_metrics_new(NULL);
    struct fake_store st = {hm, {1, 0, 12, 3}, 4};
    ASSERT_EQ(hark_metrics_on_collect(hm, collect_from_store, &st), 0);
    char *s = render(hm);
    char *depth = lines_with(s, "hark_queue_depth{");
    ASSERT_STREQ(depth, "hark_queue_depth{priority=\"realtime\"} 1\n"
                        "hark_queue_depth{priority=\"high\"} 0\n"
                        "hark_queue_depth{priority=\"normal\"} 12\n"
                        "hark_queue_depth{priority=\"low\"} 3\n");
    free(depth);
    expect_line(s, "hark_refused_stale_commits_total 4");
    free(s);
    st.queued[2] = 0;
    st.refused = 5;
    s = render(hm);
    expect_line(s, "hark_queue_depth{priority=\"normal\"} 0");
    expect_line(s, "hark_refused_stale_commits_total 5");
    free(s);
    hark_metrics_free(hm);
}

static void test_instances_are_independent(void)
{
    hark_metrics *a = hark_metrics_new(NULL), *b = hark_metrics_new(NULL);
    ASSERT(a && b);
    hark_metrics_preemption(a);
    ASSERT_EQ(metric_value(a->preemptions, NULL), 1);
    ASSERT_EQ(metric_value(b->preemptions, NULL), 0);
    hark_metrics_free(a);
    hark_metrics_free(b);
}

int main(void)
{
    RUN(test_names_types_and_known_series);
    RUN(test_updates);
    RUN(test_collect_reads_the_store_at_scrape_time);
    RUN(test_instances_are_independent);
    TEST_DONE();
}
