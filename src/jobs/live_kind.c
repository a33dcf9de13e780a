/* live_kind.c - the live dictation job kind (kind.h): audio decoded while
 * it is spoken.
 *
 * A live job is made by POST /v1/live with an open input (an empty file in
 * the uploads directory that the server appends the client's audio to).
 * Its prepare task is the whole session: the worker that claims it reads
 * the input as it grows (the runtime says how far with MSG_LIVE_INPUT),
 * decodes it with jobs/live_session (chunks cut online at pauses, 100 ms
 * blocks, partial text), and sends each chunk as it closes; the daemon
 * commits it under the session's lease. When the input has closed (the
 * client's end, the idle end, a restart) and is decoded, the session ends
 * the prepare, and the job completes as a transcription does: its result
 * is the committed chunks' words, in every transcript format.
 *
 * A session that stops (a yield, a crash, a restart) leaves its committed
 * chunks; the next claim resumes after the last one (live_session.h). */
#include "jobs/live_kind.h"

#include "jobs/chunk_result.h"
#include "jobs/kind.h"
#include "jobs/live_session.h"
#include "jobs/transcription.h"
#include "media/live_input.h"
#include "runtime/protocol.h"
#include "util/beneath.h"
#include "util/buf.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The format's canonical name ("matroska" is "webm"), NULL for none. */
static const char *format_name(const char *name)
{
    enum live_format f;
    return name && live_format_parse(name, &f, NULL) == 0 ? live_format_name(f) : NULL;
}

double live_idle_timeout_s(const store_job *job)
{
    json_t *o = json_loads(job->options, 0, NULL);
    json_t *v = json_object_get(o, "idle_timeout");
    double s = json_is_number(v) ? json_number_value(v) : LIVE_IDLE_TIMEOUT_S;
    json_decref(o);
    return isfinite(s) && s > 0 && s <= LIVE_IDLE_TIMEOUT_MAX_S ? s : LIVE_IDLE_TIMEOUT_S;
}

const char *live_format_of(const store_job *job)
{
    json_t *o = json_loads(job->options, 0, NULL);
    const char *f = format_name(json_string_value(json_object_get(o, "format")));
    json_decref(o);
    return f ? f : "s16le";
}

static int check_options(json_t *o, hark_err *err)
{
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v)
    {
        if (strcmp(key, "format") == 0) {
            if (!format_name(json_string_value(v)))
                return err_set(err, HARK_EINVAL, "format must be one of %s", LIVE_FORMATS);
        } else if (strcmp(key, "idle_timeout") == 0) {
            double s = json_is_number(v) ? json_number_value(v) : -1;
            if (!(s > 0 && s <= LIVE_IDLE_TIMEOUT_MAX_S))
                return err_set(err, HARK_EINVAL,
                               "idle_timeout must be a number of seconds in (0, %.0f]",
                               LIVE_IDLE_TIMEOUT_MAX_S);
        } else {
            return err_set(err, HARK_EINVAL, "unknown option '%.64s' for a live job", key);
        }
    }
    if (!json_object_get(o, "format"))
        json_object_set_new(o, "format", json_string("s16le"));
    return 0;
}

/* Where the committed chunks leave off, for a session that resumes. */
static int prepare_task(store *st, const store_job *job, json_t *msg, hark_err *err)
{
    store_chunk_list l;
    int rc = store_list_chunks(st, STORE_SCOPE_ALL, job->id, &l, err);
    if (rc)
        return rc;
    bool words = false;
    for (size_t i = 0; i < l.n && !words; i++)
        words = strcmp(l.chunks[i].result, "[]") != 0; /* a chunk result is a words array */
    int64_t resume_end = l.n ? l.chunks[l.n - 1].end_sample : 0;
    /* A closed input is read to its end: after a restart the file may hold
     * audio that arrived but was not counted yet. */
    int64_t bytes = job->input_bytes;
    struct stat sb;
    if (!job->input_open && stat(job->input, &sb) == 0 && sb.st_size > bytes)
        bytes = sb.st_size;
    int64_t seed_start = l.n ? l.chunks[l.n - 1].start_sample : 0;
    json_t *live = json_pack("{s:s, s:I, s:b, s:i, s:I, s:I, s:b}", "format", live_format_of(job),
                             "bytes", (json_int_t)bytes, "ended", !job->input_open, "first_idx",
                             (int)l.n, "resume_end", (json_int_t)resume_end, "seed_start",
                             (json_int_t)seed_start, "words_before", words);
    store_chunk_list_release(&l);
    if (!live || json_object_set_new(msg, "live", live))
        return err_set(err, HARK_ENOMEM, "out of memory");
    return 0;
}

/* ---- the worker's side: the session ---- */

typedef struct session_ctx {
    const kind_worker *w;
    live_input *in;
    int fd;
    int64_t limit; /* bytes of the input that may be read */
    bool ended;
    double fed_s; /* for check-ins */
} session_ctx;

/* live_input's wait: the daemon says when the input grew or closed. At
 * the end the whole file is read: a restart may have left audio the store
 * had not counted yet (the daemon's task message says how much). */
static int wait_more(void *ctx, int64_t have, int64_t *limit, bool *ended)
{
    session_ctx *c = ctx;
    while (c->limit <= have && !c->ended) {
        int rc = c->w->wait_input(c->w->ctx, &c->limit, &c->ended);
        if (rc)
            return rc;
    }
    *limit = c->limit;
    *ended = c->ended;
    return 0;
}

static int64_t session_read(void *ctx, int16_t *out, size_t max, hark_err *err)
{
    session_ctx *c = ctx;
    int stop = c->w->checkin(c->w->ctx, c->fed_s);
    if (stop)
        return stop;
    int64_t n = live_input_read(c->in, out, max, err);
    if (n > 0)
        c->fed_s += (double)n / 16000;
    return n;
}

static int on_chunk(void *ctx, int idx, int64_t start, int64_t end, const asr_result *words,
                    const char *delta, double decode_s, hark_err *err)
{
    session_ctx *c = ctx;
    json_t *result = chunk_result_to_json(words);
    if (!result)
        return err_set(err, HARK_ENOMEM, "out of memory");
    return c->w->send(c->w->ctx, MSG_LIVE_CHUNK,
                      json_pack("{s:i, s:I, s:I, s:o, s:s, s:f}", "index", idx, "start",
                                (json_int_t)start, "end", (json_int_t)end, "result", result,
                                "delta", delta, "decode_s", decode_s));
}

static int on_partial(void *ctx, int idx, int64_t start, int64_t at, const asr_result *words,
                      size_t n_stable, const char *delta, hark_err *err)
{
    session_ctx *c = ctx;
    json_t *list = json_array();
    buf tail; /* the words after the stable ones: what may still change */
    buf_init(&tail, 1 << 20);
    int rc = list ? 0 : HARK_ENOMEM;
    for (size_t i = 0; rc == 0 && i < words->n_words; i++) {
        const asr_word *w = &words->words[i];
        rc = json_array_append_new(list, json_pack("{s:s, s:f, s:f}", "word", w->text, "start",
                                                   w->start_s, "end", w->end_s))
                 ? HARK_ENOMEM
                 : 0;
        if (rc == 0 && i >= n_stable)
            rc = buf_printf(&tail, "%s%s", tail.len ? " " : "", w->text);
    }
    json_t *data =
        rc ? NULL
           : json_pack("{s:i, s:f, s:f, s:s, s:i, s:O}", "chunk", idx, "start",
                       (double)start / 16000, "at", (double)at / 16000, "text",
                       tail.len ? tail.data : "", "stable", (int)n_stable, "words", list);
    json_decref(list);
    buf_release(&tail);
    if (!data)
        return err_set(err, HARK_ENOMEM, "out of memory");
    return c->w->send(c->w->ctx, MSG_LIVE_PARTIAL,
                      json_pack("{s:o, s:s}", "data", data, "delta", delta));
}

static int run_prepare(const kind_worker *w, const json_t *task, double *duration_s, hark_err *err)
{
    const char *input = json_string_value(json_object_get(task, "input"));
    const char *root = json_string_value(json_object_get(task, "root"));
    const json_t *live = json_object_get(task, "live");
    enum live_format format;
    if (!input || !json_is_object(live) ||
        live_format_parse(json_string_value(json_object_get(live, "format")), &format, err))
        return err_set(err, HARK_EINVAL, "malformed live task");
    /* The input is opened beneath its root (the uploads directory),
     * following no link, as every input is (util/beneath.h). */
    int fd = -1, rc;
    const char *rel = root ? beneath_rel(root, input) : NULL;
    if (root && !rel)
        return err_set(err, HARK_EINVAL, "cannot read '%s': not beneath its root '%s'", input,
                       root);
    rc = root ? beneath_open_file(root, rel, input, &fd, err) : 0;
    if (rc)
        return rc;
    if (!root && (fd = open(input, O_RDONLY | O_CLOEXEC)) < 0)
        return err_set(err, HARK_ENOENT, "cannot read '%s': %s", input, strerror(errno));
    session_ctx c = {.w = w,
                     .fd = fd,
                     .limit = json_integer_value(json_object_get(live, "bytes")),
                     .ended = json_is_true(json_object_get(live, "ended"))};
    live_session_opts o = {
        .first_idx = (int)json_integer_value(json_object_get(live, "first_idx")),
        .resume_end = json_integer_value(json_object_get(live, "resume_end")),
        .seed_start = json_integer_value(json_object_get(live, "seed_start")),
        .words_before = json_is_true(json_object_get(live, "words_before")),
    };
    asr_engine *e = NULL;
    rc = w->engine(w->ctx, &e, err);
    live_input_io lio = {.wait_more = wait_more, .ctx = &c};
    if (rc == 0)
        rc = live_input_open(fd, input, format, &lio, &c.in, err);
    live_session_io io = {
        .read = session_read, .chunk = on_chunk, .partial = on_partial, .ctx = &c};
    int64_t total = 0;
    if (rc == 0)
        rc = live_session_run(e, &o, &io, &total, err);
    live_input_close(c.in);
    close(fd);
    if (rc == 0)
        *duration_s = (double)total / 16000;
    return rc;
}

static int run_chunk(const kind_worker *w, const json_t *task, json_t **result, hark_err *err)
{
    (void)w;
    (void)task;
    (void)result;
    /* Live chunks are committed by their session, never handed out. */
    return err_set(err, HARK_EINVAL, "a live job has no chunk tasks");
}

static int check_result(const json_t *result, hark_err *err)
{
    return job_kind_transcribe.check_result(result, err);
}

static int complete(store *st, const store_job *job, const kind_env *env, hark_err *err)
{
    return job_kind_transcribe.complete(st, job, env, err);
}

static int render(store *st, store_scope sc, const store_job *job, const char *format, buf *out,
                  hark_err *err)
{
    return job_kind_transcribe.render(st, sc, job, format, out, err);
}

const job_kind job_kind_live = {
    .name = "live",
    .formats = transcription_formats,
    .mimes = transcription_mimes,
    .check_options = check_options,
    .prepare_task = prepare_task,
    .run_prepare = run_prepare,
    .run_chunk = run_chunk,
    .check_result = check_result,
    .complete = complete,
    .render = render,
    .live = true,
};
