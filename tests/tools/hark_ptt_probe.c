/* hark_ptt_probe - push-to-talk timings from one long-lived client, for
 * bench/serve_latency.sh: what `hark ptt` does (upload at realtime
 * priority, follow the event stream to the end, fetch the text), N times
 * over one connection pool, printing each submit-to-text time in ms, the
 * job id, the wall-clock time the submit began (Unix seconds, to line up
 * with the job's event times) and the three legs in ms: upload answered,
 * event stream ended, text fetched. It
 * leaves out what a CLI pays per run (process start, library loading),
 * which the bench measures separately with `hark ptt` itself.
 *
 *   hark_ptt_probe URL FILE N
 */
#include "client/follow.h"
#include "client/http_client.h"
#include "util/buf.h"
#include "util/clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: hark_ptt_probe URL FILE N\n");
        return 2;
    }
    long n = strtol(argv[3], NULL, 10);
    hark_err err = {0};
    hc_client *c;
    if (hc_open(argv[1], &c, &err)) {
        fprintf(stderr, "hark_ptt_probe: %s\n", err.msg);
        return 1;
    }
    const hc_field prio = {"priority", "realtime"};
    int rc = 0;
    for (long i = 0; i < n && rc == 0; i++) {
        double wall0 = wall_s();
        double t0 = clock_now_s();
        json_t *job = NULL;
        rc = hc_upload_file(c, "/v1/jobs", argv[2], &prio, 1, &job, &err);
        double t_up = clock_now_s();
        const char *id = job ? json_string_value(json_object_get(job, "id")) : NULL;
        follow_state f;
        follow_init(&f, job);
        follow_opts fo = {0};
        char path[128];
        buf text;
        buf_init(&text, 1 << 20);
        if (rc == 0 && id)
            rc = follow_job(c, id, &fo, &f, &err);
        double t_ev = clock_now_s();
        if (rc == 0 && id) {
            snprintf(path, sizeof path, "/v1/jobs/%s/result?format=txt", id);
            rc = hc_get_body(c, path, 1 << 20, &text, &err);
        }
        double t1 = clock_now_s();
        if (rc == 0)
            printf("%.1f %s %.6f %.1f %.1f %.1f\n", (t1 - t0) * 1000, id, wall0, (t_up - t0) * 1000,
                   (t_ev - t_up) * 1000, (t1 - t_ev) * 1000);
        buf_release(&text);
        json_decref(job);
    }
    if (rc)
        fprintf(stderr, "hark_ptt_probe: %s\n", err.msg);
    hc_close(c);
    return rc ? 1 : 0;
}
