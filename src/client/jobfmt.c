#include "client/jobfmt.h"

#include "util/err.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define ROW_FMT "%-17s  %-9s  %-8s  %4s  %8s  %s\n"

void jobfmt_clean(const char *s, char *out, size_t n)
{
    if (!n)
        return;
    size_t k = 0;
    for (; s && s[k] && k + 1 < n; k++)
        out[k] = (unsigned char)s[k] < ' ' || s[k] == 0x7f ? '?' : s[k];
    out[k] = '\0';
}

void jobfmt_duration(double secs, char *out, size_t n)
{
    if (!(secs >= 0) || secs > 1e9) {
        snprintf(out, n, "-");
        return;
    }
    long s = lround(secs);
    if (s >= 3600)
        snprintf(out, n, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    else
        snprintf(out, n, "%ld:%02ld", s / 60, s % 60);
}

const char *jobfmt_header(void)
{
    static char line[128];
    snprintf(line, sizeof line, ROW_FMT, "ID", "STATE", "PRIORITY", "PROG", "DURATION", "SOURCE");
    return line;
}

static const char *str(const json_t *job, const char *key, char *out, size_t n)
{
    const char *v = json_string_value(json_object_get(job, key));
    jobfmt_clean(v ? v : "-", out, n);
    return out;
}

static double num(const json_t *job, const char *key)
{
    const json_t *v = json_object_get(job, key);
    return json_is_number(v) ? json_number_value(v) : -1;
}

static void percent(const json_t *job, char *out, size_t n)
{
    double p = num(job, "progress");
    const char *state = json_string_value(json_object_get(job, "state"));
    if (state && strcmp(state, "succeeded") == 0)
        p = 1;
    else if (!json_is_integer(json_object_get(job, "chunks")))
        p = -1; /* not decoded yet: the progress means nothing */
    if (p < 0)
        snprintf(out, n, "-");
    else
        snprintf(out, n, "%d%%", (int)(fmin(p, 1.0) * 100));
}

int jobfmt_row(const json_t *job, buf *out)
{
    char id[64], state[16], prio[16], pct[8], dur[32], source[512];
    percent(job, pct, sizeof pct);
    jobfmt_duration(num(job, "duration"), dur, sizeof dur);
    return buf_printf(out, ROW_FMT, str(job, "id", id, sizeof id),
                      str(job, "state", state, sizeof state),
                      str(job, "priority", prio, sizeof prio), pct, dur,
                      str(job, "source", source, sizeof source));
}

static void when(const json_t *job, const char *key, char *out, size_t n)
{
    double t = num(job, key);
    time_t secs = (time_t)t;
    struct tm tm;
    if (t < 0 || !localtime_r(&secs, &tm) || !strftime(out, n, "%Y-%m-%d %H:%M:%S", &tm))
        snprintf(out, n, "-");
}

int jobfmt_show(const json_t *job, buf *out)
{
    char a[512], b[64], c[64];
    int rc = 0;
    rc |= buf_printf(out, "id:        %s\n", str(job, "id", a, sizeof a));
    rc |= buf_printf(out, "state:     %s\n", str(job, "state", a, sizeof a));
    rc |= buf_printf(out, "priority:  %s\n", str(job, "priority", a, sizeof a));
    rc |= buf_printf(out, "source:    %s\n", str(job, "source", a, sizeof a));
    if (json_is_string(json_object_get(job, "owner"))) /* a server with tokens */
        rc |= buf_printf(out, "owner:     %s\n", str(job, "owner", a, sizeof a));
    when(job, "created_at", b, sizeof b);
    rc |= buf_printf(out, "created:   %s\n", b);
    when(job, "started_at", b, sizeof b);
    rc |= buf_printf(out, "started:   %s\n", b);
    when(job, "finished_at", b, sizeof b);
    rc |= buf_printf(out, "finished:  %s\n", b);
    double timeout = num(job, "timeout");
    if (timeout > 0)
        rc |= buf_printf(out, "timeout:   %g s\n", timeout);
    else
        rc |= buf_printf(out, "timeout:   none\n");
    double dur = num(job, "duration");
    jobfmt_duration(dur, b, sizeof b);
    if (dur >= 0)
        rc |= buf_printf(out, "duration:  %s (%.1f s)\n", b, dur);
    else
        rc |= buf_printf(out, "duration:  - (not decoded yet)\n");
    double chunks = num(job, "chunks"), done = num(job, "chunks_done");
    percent(job, c, sizeof c);
    if (chunks >= 0)
        rc |=
            buf_printf(out, "chunks:    %.0f of %.0f done (%s)\n", done < 0 ? 0 : done, chunks, c);
    else
        rc |= buf_printf(out, "chunks:    -\n");
    if (json_is_string(json_object_get(job, "error")))
        rc |= buf_printf(out, "error:     %s\n", str(job, "error", a, sizeof a));
    return rc ? HARK_ENOMEM : 0;
}
