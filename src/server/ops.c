/* ops.c - the operator's endpoints: GET /readyz and GET /metrics. */
#include "metrics/metrics.h"
#include "server/server_impl.h"

#include <stdlib.h>
#include <string.h>

/* Ready: the store answers a read, and the owner (the runtime) says its
 * workers are up. A load balancer sends traffic elsewhere on 503. */
enum MHD_Result handle_ready(server *s, struct MHD_Connection *c)
{
    store_counters counters;
    hark_err err = {0};
    if (store_get_counters(s->st, &counters, &err) != 0) {
        api_error e;
        api_error_set(&e, MHD_HTTP_SERVICE_UNAVAILABLE, NULL, "store_unavailable",
                      "the job store cannot be read: %s", err.msg);
        e.retry_after = "5";
        return reply_error(c, &e);
    }
    char why[256] = "";
    if (atomic_load(&s->stopping) || (s->ready && s->ready(s->ready_ctx, why, sizeof why) != 0)) {
        api_error e;
        api_error_set(&e, MHD_HTTP_SERVICE_UNAVAILABLE, NULL, "not_ready", "not ready: %s",
                      why[0] ? why : "the server is stopping");
        e.retry_after = "1";
        return reply_error(c, &e);
    }
    return reply_json(c, MHD_HTTP_OK, json_pack("{s:s}", "status", "ready"), NULL);
}

/* Scrape-time values read from the store: queue depth by class, running
 * work, refused stale results and renewals (persisted, so the count
 * survives restarts). */
void server_collect_metrics(void *ctx)
{
    server *s = ctx;
    int64_t queued[4], leased = 0;
    hark_err err = {0};
    if (store_count_work(s->st, queued, &leased, &err) == 0) {
        for (int p = 0; p < 4; p++)
            hark_metrics_set_queue_depth(s->metrics, p, queued[p]);
        hark_metrics_set_running_chunks(s->metrics, (int)leased);
    }
    store_counters counters;
    if (store_get_counters(s->st, &counters, &err) == 0) {
        /* Stale work is refused at commit and at lease renewal alike. */
        hark_metrics_set_stale_commits(s->metrics,
                                       counters.refused_commits + counters.refused_renewals);
        hark_metrics_set_jobs_finished(s->metrics, STORE_SUCCEEDED, counters.jobs_succeeded);
        hark_metrics_set_jobs_finished(s->metrics, STORE_FAILED, counters.jobs_failed);
        hark_metrics_set_jobs_finished(s->metrics, STORE_CANCELLED, counters.jobs_cancelled);
    }
}

enum MHD_Result handle_metrics(server *s, struct MHD_Connection *c, const caller *who)
{
    /* The metrics count every tenant's jobs (queue depth, finished jobs,
     * request counts): with tokens they are the operators', not a
     * tenant's. Without tokens every caller is an admin. */
    if (!who->admin)
        return reply_errorf(c, MHD_HTTP_FORBIDDEN, NULL, "admin_required",
                            "the metrics cover every token's jobs: reading them takes an admin "
                            "token (admin = yes in its [token] section)");
    if (!s->metrics)
        return reply_errorf(c, MHD_HTTP_NOT_FOUND, NULL, "unknown_route",
                            "this server keeps no metrics");
    buf out;
    buf_init(&out, 16u << 20);
    if (hark_metrics_render(s->metrics, &out) != 0) {
        buf_release(&out);
        return reply_errorf(c, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, NULL,
                            "cannot render the metrics");
    }
    size_t len = out.len;
    char *text = buf_steal(&out);
    if (!text)
        return reply_errorf(c, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, NULL, "out of memory");
    return reply_bytes(c, MHD_HTTP_OK, METRICS_CONTENT_TYPE, text, len, NULL);
}
