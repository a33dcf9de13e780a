#include "client/follow.h"

#include "client/jobfmt.h"
#include "util/progress.h"

#include <stdio.h>
#include <string.h>

static void set_phase(follow_state *f, const char *phase)
{
    snprintf(f->phase, sizeof f->phase, "%s", phase);
}

static void set_error(follow_state *f, const char *msg)
{
    size_t k = 0;
    for (; msg && msg[k] && k + 1 < sizeof f->error; k++)
        f->error[k] = (unsigned char)msg[k] < ' ' ? ' ' : msg[k];
    f->error[k] = '\0';
}

static bool is_final(const char *state)
{
    return strcmp(state, "succeeded") == 0 || strcmp(state, "failed") == 0 ||
           strcmp(state, "cancelled") == 0;
}

static double clamp01(double v)
{
    return v < 0 ? 0 : v > 1 ? 1 : v;
}

void follow_init(follow_state *f, const json_t *job)
{
    memset(f, 0, sizeof *f);
    set_phase(f, "queued");
    if (!job)
        return;
    const char *state = json_string_value(json_object_get(job, "state"));
    f->decoded = json_is_integer(json_object_get(job, "chunks"));
    f->fraction = clamp01(json_number_value(json_object_get(job, "progress")));
    if (!state)
        return;
    if (is_final(state)) {
        f->final = true;
        snprintf(f->state, sizeof f->state, "%s", state);
        const char *e = json_string_value(json_object_get(job, "error"));
        if (strcmp(state, "failed") == 0)
            set_error(f, e && e[0] ? e : "the job failed");
        if (strcmp(state, "succeeded") == 0)
            f->fraction = 1;
    } else if (strcmp(state, "running") == 0) {
        set_phase(f, f->decoded ? "transcribing" : "decoding");
    } else if (strcmp(state, "paused") == 0) {
        set_phase(f, "paused");
    }
}

bool follow_apply(follow_state *f, const char *type, const char *data, size_t len)
{
    json_t *d = data ? json_loadb(data, len, 0, NULL) : NULL;
    if (strcmp(type, "queued") == 0 || strcmp(type, "resumed") == 0 ||
        strcmp(type, "retried") == 0) {
        set_phase(f, "queued");
    } else if (strcmp(type, "started") == 0) {
        set_phase(f, f->decoded ? "transcribing" : "decoding");
    } else if (strcmp(type, "preempted") == 0 || strcmp(type, "paused") == 0) {
        set_phase(f, type);
    } else if (strcmp(type, "progress") == 0 || strcmp(type, "chunk_committed") == 0) {
        f->decoded = true;
        set_phase(f, "transcribing");
        json_t *p = json_object_get(d, "progress");
        json_int_t done = json_integer_value(json_object_get(d, "chunks_done"));
        json_int_t n = json_integer_value(json_object_get(d, "n_chunks"));
        if (json_is_number(p))
            f->fraction = clamp01(json_number_value(p));
        else if (n > 0)
            f->fraction = clamp01((double)done / (double)n);
    } else if (is_final(type)) {
        f->final = true;
        snprintf(f->state, sizeof f->state, "%s", type);
        if (strcmp(type, "succeeded") == 0)
            f->fraction = 1;
        if (strcmp(type, "failed") == 0) {
            const char *e = json_string_value(json_object_get(d, "error"));
            set_error(f, e && e[0] ? e : "the job failed");
        }
    }
    json_decref(d);
    return f->final;
}

typedef struct follower {
    follow_state *f;
    progress prog;
    const follow_opts *o;
    char label[96];
} follower;

static void show(follower *w)
{
    if (strcmp(w->prog.phase, w->f->phase) != 0) {
        progress_end(&w->prog);
        progress_begin(&w->prog, w->label, w->f->phase, w->o->tty, !w->o->progress);
    }
    progress_update(&w->prog, w->f->fraction);
}

static int on_event(void *ctx, const sse_event *ev)
{
    follower *w = ctx;
    if (follow_apply(w->f, ev->type, ev->data, ev->data_len))
        return 1;
    show(w);
    return 0;
}

int follow_job(hc_client *c, const char *id, const follow_opts *o, follow_state *f, hark_err *err)
{
    char path[256];
    snprintf(path, sizeof path, "/v1/jobs/%s", id);
    json_t *job = NULL;
    int rc = hc_get_json(c, path, &job, err);
    follow_init(f, job);
    if (rc || f->final) {
        json_decref(job);
        return rc;
    }
    follower w = {.f = f, .o = o};
    const char *source = json_string_value(json_object_get(job, "source"));
    jobfmt_clean(source && source[0] ? source : id, w.label, sizeof w.label);
    json_decref(job);
    progress_begin(&w.prog, w.label, f->phase, o->tty, !o->progress);
    show(&w);
    snprintf(path, sizeof path, "/v1/jobs/%s/events", id);
    rc = hc_events(c, path, NULL, on_event, &w, err);
    progress_end(&w.prog);
    if (rc == 0 && strcmp(f->state, "failed") == 0 && strcmp(f->error, "the job failed") == 0) {
        /* The event had no error; the job object may. */
        snprintf(path, sizeof path, "/v1/jobs/%s", id);
        if (hc_get_json(c, path, &job, NULL) == 0) {
            const char *e = json_string_value(json_object_get(job, "error"));
            if (e && e[0])
                set_error(f, e);
            json_decref(job);
        }
    }
    return rc;
}
