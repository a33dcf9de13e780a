/* highlights_kind.c - the highlights job kind (kind.h): the moments of a
 * recording worth a clip, with chapters and editor markers, and the clips.
 *
 *   prepare   as a transcription: decode to <work>/audio.pcm, plan chunks
 *             (a recording without speech still gets one chunk, so its
 *             audio is analysed)
 *   stage 1   one analysis task per chunk: the chunk's words (unless the
 *             job has no transcript; reused from a committed chunk of the
 *             same audio when there is one) and the audio features
 *             (highlights/features.h) of its stretch of the recording:
 *             from its start to the next chunk's start, so the stretches
 *             tile the whole recording, silences included, on the 100 ms
 *             feature grid
 *   complete  every analysis task committed: rank (highlights/rank.h),
 *             keep the ranking as the job's stage document; with clips,
 *             add stage 2: one export task per highlight
 *   stage 2   one export task per clip: cut from the original input
 *             (media/clip.h) into the job's artifact directory, written
 *             whole or not at all, recorded as an artifact (jobs/artifacts.h)
 *   complete  every clip recorded: done
 *
 * Every step is a task of the runtime's, so analysis and export yield to
 * a push-to-talk clip within 100 ms of audio, renew leases, die under a
 * watchdog and retry like any chunk. The ranking runs once, in the daemon,
 * from committed results only, so an interrupted job ranks exactly as an
 * uninterrupted one.
 */
#include "highlights/features.h"
#include "highlights/hl_json.h"
#include "highlights/hl_render.h"
#include "highlights/rank.h"
#include "jobs/artifacts.h"
#include "jobs/chunk_result.h"
#include "jobs/job_result.h"
#include "jobs/kind.h"
#include "jobs/transcription.h"
#include "media/clip.h"
#include "media/pcm.h"
#include "net/net.h"
#include "util/beneath.h"
#include "util/fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TOP_MAX 100
#define PAD_MAX_S 120.0
#define EXPORT_WATCHDOG_BASE_S 60.0
#define EXPORT_WATCHDOG_PER_S 2.0   /* wall seconds per second of clip */
#define ANALYSIS_WATCHDOG_PER_S 0.5 /* wall seconds per second of analysed audio */
#define CHUNK_WATCHDOG_BASE_S 30.0
#define CHUNK_WATCHDOG_PER_S 4.0
#define TILE_S 60 /* analysis tiles of a recording judged without a transcript */

static const char *const formats[] = {
    "highlights", "chapters", "chapters_json", "edl",          "txt", "json",
    "srt",        "vtt",      "tsv",           "verbose_json", NULL};
static const char *const mimes[] = {"application/json",
                                    "text/plain; charset=utf-8",
                                    "application/json+chapters",
                                    "text/plain; charset=utf-8",
                                    "text/plain; charset=utf-8",
                                    "application/json",
                                    "application/x-subrip; charset=utf-8",
                                    "text/vtt; charset=utf-8",
                                    "text/tab-separated-values; charset=utf-8",
                                    "application/json",
                                    NULL};

/* ---- options ---- */

static int number_opt(json_t *o, const char *key, double def, double lo, double hi, hark_err *err)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v))
        return json_object_set_new(o, key, json_real(def)) ? HARK_ENOMEM : 0;
    if (!json_is_number(v) || !isfinite(json_number_value(v)) || json_number_value(v) < lo ||
        json_number_value(v) > hi)
        return err_set(err, HARK_EINVAL, "option %s must be a number from %g to %g", key, lo, hi);
    return 0;
}

static int bool_opt(json_t *o, const char *key, bool def, hark_err *err)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v))
        return json_object_set_new(o, key, json_boolean(def)) ? HARK_ENOMEM : 0;
    if (!json_is_boolean(v))
        return err_set(err, HARK_EINVAL, "option %s must be true or false", key);
    return 0;
}

static int check_options(json_t *o, hark_err *err)
{
    static const char *const known[] = {"top",         "pre",        "post",     "clips",
                                        "clip_format", "transcript", "keywords", NULL};
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v)
    {
        bool ok = false;
        for (int i = 0; known[i]; i++)
            ok |= strcmp(known[i], key) == 0;
        if (!ok)
            return err_set(err, HARK_EINVAL,
                           "unknown highlights option '%.64s' (top, pre, post, clips, "
                           "clip_format, transcript, keywords)",
                           key);
    }
    json_t *top = json_object_get(o, "top");
    if (!top || json_is_null(top))
        json_object_set_new(o, "top", json_integer(10));
    else if (!json_is_integer(top) || json_integer_value(top) < 1 ||
             json_integer_value(top) > TOP_MAX)
        return err_set(err, HARK_EINVAL, "option top must be a whole number from 1 to %d", TOP_MAX);
    int rc;
    if ((rc = number_opt(o, "pre", 8, 0, PAD_MAX_S, err)) ||
        (rc = number_opt(o, "post", 5, 0, PAD_MAX_S, err)) ||
        (rc = bool_opt(o, "clips", false, err)) || (rc = bool_opt(o, "transcript", true, err)))
        return rc;
    json_t *fmt = json_object_get(o, "clip_format");
    clip_format cf;
    if (!fmt || json_is_null(fmt))
        json_object_set_new(o, "clip_format", json_string("wav"));
    else if (!json_is_string(fmt) || clip_format_parse(json_string_value(fmt), &cf, err))
        return json_is_string(fmt)
                   ? HARK_EINVAL
                   : err_set(err, HARK_EINVAL, "option clip_format must be a string");
    json_t *kw = json_object_get(o, "keywords");
    if (kw && !json_is_null(kw)) {
        if (!json_is_string(kw))
            return err_set(err, HARK_EINVAL,
                           "option keywords must be a string: the lines of a keywords file");
        hl_keyword *k = NULL;
        size_t n = 0;
        if ((rc = hl_keywords_parse(json_string_value(kw), "keywords", &k, &n, err)))
            return rc;
        hl_keywords_free(k, n);
    }
    return 0;
}

/* The ranking's options from a job's (checked) options; *kw holds the
 * parsed keywords (release with hl_keywords_free). */
static int rank_opts(const json_t *o, hl_opts *r, hl_keyword **kw, size_t *n_kw, hark_err *err)
{
    hl_opts_default(r);
    *kw = NULL;
    *n_kw = 0;
    r->top_n = (int)json_integer_value(json_object_get(o, "top"));
    r->pre_s = json_number_value(json_object_get(o, "pre"));
    r->post_s = json_number_value(json_object_get(o, "post"));
    const char *text = json_string_value(json_object_get(o, "keywords"));
    if (text) {
        int rc = hl_keywords_parse(text, "keywords", kw, n_kw, err);
        if (rc)
            return rc;
        r->keywords = *kw;
        r->n_keywords = *n_kw;
    }
    return 0;
}

/* What the prepare needs to know of the options: keep a URL input's
 * download when clips will be cut from it (the PCM is 16 kHz mono and has
 * no video); without a transcript, no recognizer needs speech-shaped
 * chunks, so the recording is analysed in tiles of TILE_S (fewer, longer
 * tasks: a 1-hour recording is 60, not 380). */
static int prepare_task(store *st, const store_job *job, json_t *msg, hark_err *err)
{
    json_t *o = json_loads(job->options, 0, NULL);
    if (!json_is_object(o)) {
        json_decref(o);
        return err_set(err, HARK_EIO, "job %s: its stored options are damaged", job->id);
    }
    if (json_is_true(json_object_get(o, "clips")))
        json_object_set_new(msg, "keep_input", json_true());
    if (json_is_false(json_object_get(o, "transcript")))
        json_object_set_new(msg, "tile_s", json_integer(TILE_S));
    json_decref(o);
    return 0;
}

/* ---- the worker's side ---- */

/* The plan the analysis runs on. Tiles (tile_s in the prepare task): the
 * recording cut every tile_s seconds, on the feature grid. Otherwise the
 * transcription's plan, whose chunks the recognizer hears; a recording
 * without speech still gets one short chunk, whose analysis stretch runs
 * to the end. */
static void adjust_plan(const json_t *task, chunk_plan *plan)
{
    int64_t total = plan->total_samples;
    json_int_t tile_s = json_integer_value(json_object_get(task, "tile_s"));
    if (total <= 0 || (plan->n > 0 && tile_s <= 0))
        return;
    int64_t step = tile_s > 0 ? (int64_t)tile_s * PCM_RATE : total;
    step = step / HL_HOP_SAMPLES * HL_HOP_SAMPLES;
    if (step <= 0)
        step = total;
    size_t n = (size_t)((total + step - 1) / step);
    chunk *c = calloc(n, sizeof *c);
    if (!c)
        return; /* the plan stays as it was: analysed all the same */
    for (size_t i = 0; i < n; i++) {
        c[i].start = (int64_t)i * step;
        c[i].end = c[i].start + step < total ? c[i].start + step : total;
    }
    if (tile_s <= 0) /* no speech: a short chunk for the recognizer */
        c[0].end = total < PCM_RATE ? total : PCM_RATE;
    free(plan->chunks);
    plan->chunks = c;
    plan->n = tile_s > 0 ? n : 1;
}

static int analyze(const kind_worker *w, const json_t *t, json_t **result, hark_err *err)
{
    const char *work = json_string_value(json_object_get(t, "work_dir"));
    json_int_t a_start = json_integer_value(json_object_get(t, "a_start"));
    json_int_t a_end = json_integer_value(json_object_get(t, "a_end"));
    if (!work || a_start < 0)
        return err_set(err, HARK_EINVAL, "malformed analysis task");
    json_t *words = NULL;
    const json_t *cached = json_object_get(t, "cached");
    int rc = 0;
    if (cached)
        words = json_deep_copy(cached); /* checked by the daemon when it commits */
    else if (json_is_true(json_object_get(t, "transcript")))
        rc = transcription_recognize(w, t, &words, err);
    if (rc)
        return rc;
    char path[4096];
    pcm_file pcm;
    if (snprintf(path, sizeof path, "%s/%s", work, TRANSCRIPTION_PCM_NAME) >= (int)sizeof path)
        rc = err_set(err, HARK_EINVAL, "work directory path too long: '%s'", work);
    if (rc == 0)
        rc = pcm_open(path, &pcm, err);
    if (rc) {
        json_decref(words);
        return rc;
    }
    int64_t end = a_end < 0 || a_end > pcm.n_samples ? pcm.n_samples : a_end;
    hl_features f;
    rc = hl_features_compute(&pcm, a_start, end, w->checkin, w->ctx, &f, err);
    pcm_close(&pcm);
    if (rc) {
        json_decref(words);
        return rc;
    }
    json_t *feat = hl_features_to_json(&f);
    hl_features_release(&f);
    *result = feat ? json_pack("{s:o}", "features", feat) : NULL;
    if (*result && cached) /* said, so a test (or a person) can see it */
        json_object_set_new(*result, "reused", json_true());
    if (*result && words)
        json_object_set_new(*result, "words", words);
    else
        json_decref(words);
    return *result ? 0 : err_set(err, HARK_ENOMEM, "out of memory");
}

/* Remove what an export of this clip killed before its rename left behind
 * (".<prefix>...", never listed or served: artifact names never start
 * with a dot). Only one task holds the clip's lease at a time. */
static void remove_partials(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    size_t n = strlen(prefix);
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        char path[4096];
        if (e->d_name[0] == '.' && strncmp(e->d_name + 1, prefix, n) == 0 &&
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name) < (int)sizeof path)
            unlink(path);
    }
    closedir(d);
}

/* Open the job's input as the prepare did: beneath its root, following
 * no link, when it has one. */
static int open_input(const char *input, const char *root, int *fd, hark_err *err)
{
    if (root && root[0]) {
        const char *rel = beneath_rel(root, input);
        if (!rel)
            return err_set(err, HARK_EINVAL, "cannot read '%s': not beneath its root '%s'", input,
                           root);
        return beneath_open_file(root, rel, input, fd, err);
    }
    *fd = open(input, O_RDONLY | O_CLOEXEC);
    if (*fd < 0)
        return err_set(err, errno == ENOENT ? HARK_ENOENT : HARK_EIO, "cannot open '%s': %s", input,
                       strerror(errno));
    return 0;
}

static int export_clip(const kind_worker *w, const json_t *t, json_t **result, hark_err *err)
{
    const char *input = json_string_value(json_object_get(t, "clip_input"));
    const char *source = json_string_value(json_object_get(t, "source"));
    const char *dir = json_string_value(json_object_get(t, "artifact_dir"));
    const char *prefix = json_string_value(json_object_get(t, "prefix"));
    const char *fmt = json_string_value(json_object_get(t, "format"));
    double start = json_number_value(json_object_get(t, "clip_start"));
    double end = json_number_value(json_object_get(t, "clip_end"));
    clip_format cf;
    if (!input || !dir || !prefix || !fmt || !artifact_name_ok(prefix) || !(end > start))
        return err_set(err, HARK_EINVAL, "malformed export task");
    if (clip_format_parse(fmt, &cf, err))
        return HARK_EINVAL;
    int rc = fs_mkdir_p(dir, 0700, err);
    if (rc)
        return rc;
    remove_partials(dir, prefix);
    int fd;
    if ((rc = open_input(input, json_string_value(json_object_get(t, "root")), &fd, err)))
        return rc;
    const char *shown = source && source[0] ? source : input;
    clip_info info;
    if ((rc = clip_probe(fd, shown, cf, &info, err)) == 0) {
        char name[ARTIFACT_NAME_MAX], path[4096];
        if (snprintf(name, sizeof name, "%s.%s", prefix, info.ext) >= (int)sizeof name ||
            !artifact_name_ok(name) ||
            snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path) {
            rc = err_set(err, HARK_EINVAL, "cannot name clip %s of '%s'", prefix, shown);
        } else {
            clip_opts o = {.checkin = w->checkin, .ctx = w->ctx};
            rc = clip_export(fd, shown, start, end, cf, path, &o, &info, err);
            if (rc == 0) {
                artifact a = {.bytes = info.bytes, .duration_s = info.duration_s};
                snprintf(a.name, sizeof a.name, "%s", name);
                snprintf(a.type, sizeof a.type, "%s", info.type);
                if (!(*result = artifact_to_json(&a)))
                    rc = err_set(err, HARK_ENOMEM, "out of memory");
            }
        }
    }
    close(fd);
    return rc;
}

static int run_chunk(const kind_worker *w, const json_t *task, json_t **result, hark_err *err)
{
    const char *op = json_string_value(json_object_get(task, "op"));
    if (op && strcmp(op, "analyze") == 0)
        return analyze(w, task, result, err);
    if (op && strcmp(op, "export") == 0)
        return export_clip(w, task, result, err);
    return err_set(err, HARK_EINVAL, "malformed highlights task: no op");
}

/* ---- the daemon's side ---- */

/* The words a cached chunk result carries, a new reference or NULL. */
static json_t *cached_words(const char *text)
{
    json_t *r = json_loads(text, 0, NULL);
    json_t *words = json_is_array(r) ? json_incref(r) : json_incref(json_object_get(r, "words"));
    json_decref(r);
    asr_result check;
    if (!words || chunk_result_from_json(words, &check, NULL)) {
        json_decref(words);
        return NULL;
    }
    asr_result_release(&check);
    return words;
}

/* The stretch of the recording chunk t analyses: from its start (0 for
 * the first) to the next chunk's start (-1: the end), on the feature
 * grid, so the stretches tile the recording. */
static int analysis_span(store *st, const store_job *job, const store_task *t, int64_t *a_start,
                         int64_t *a_end, hark_err *err)
{
    *a_start = t->idx == 0 ? 0 : t->start_sample / HL_HOP_SAMPLES * HL_HOP_SAMPLES;
    *a_end = -1;
    store_chunk_list next;
    int rc = store_list_chunks_from(st, STORE_SCOPE_ALL, job->id, t->idx + 1, 1, &next, err);
    if (rc)
        return rc;
    if (next.n == 1)
        *a_end = next.chunks[0].start_sample / HL_HOP_SAMPLES * HL_HOP_SAMPLES;
    store_chunk_list_release(&next);
    return 0;
}

static int analysis_task(store *st, const store_job *job, const json_t *o, const store_task *t,
                         json_t *msg, double *watchdog_s, hark_err *err)
{
    int64_t a_start, a_end;
    int rc = analysis_span(st, job, t, &a_start, &a_end, err);
    if (rc)
        return rc;
    bool with_words = json_is_true(json_object_get(o, "transcript"));
    json_object_set_new(msg, "op", json_string("analyze"));
    json_object_set_new(msg, "a_start", json_integer(a_start));
    json_object_set_new(msg, "a_end", json_integer(a_end));
    json_object_set_new(msg, "transcript", json_boolean(with_words));
    double span_s =
        (double)((a_end < 0 ? (int64_t)(job->duration_s * PCM_RATE) : a_end) - a_start) / PCM_RATE;
    *watchdog_s += ANALYSIS_WATCHDOG_PER_S * (span_s > 0 ? span_s : 0);
    if (!with_words)
        return 0;
    /* The same audio heard by the same model before: its words stand. */
    store_chunk_list l;
    if (store_find_cached_chunks(st, job->content_key, job->id, t->start_sample, t->end_sample, &l,
                                 NULL) == 0) {
        for (size_t i = 0; i < l.n; i++) {
            json_t *words = cached_words(l.chunks[i].result);
            if (words) {
                json_object_set_new(msg, "cached", words);
                break;
            }
        }
        store_chunk_list_release(&l);
    }
    return 0;
}

/* The clip of export task number k (in rank order) of the stage document. */
static int export_task(const store_job *job, const json_t *doc, const json_t *o,
                       const store_task *t, const kind_env *env, json_t *msg, double *watchdog_s,
                       hark_err *err)
{
    json_int_t first = json_integer_value(json_object_get(doc, "n_analysis"));
    const json_t *clip = json_array_get(json_object_get(doc, "clips"), (size_t)(t->idx - first));
    const char *prefix = json_string_value(json_object_get(clip, "prefix"));
    if (!prefix)
        return err_set(err, HARK_EIO, "job %s: its stage document has no clip for task %d", job->id,
                       t->idx);
    if (!env->artifact_dir)
        return err_set(err, HARK_EINVAL, "job %s: this runtime keeps no artifacts", job->id);
    double start = json_number_value(json_object_get(clip, "start"));
    double end = json_number_value(json_object_get(clip, "end"));
    json_object_set_new(msg, "op", json_string("export"));
    json_object_set_new(msg, "prefix", json_string(prefix));
    json_object_set_new(msg, "clip_start", json_real(start));
    json_object_set_new(msg, "clip_end", json_real(end));
    json_object_set_new(msg, "format", json_incref(json_object_get(o, "clip_format")));
    json_object_set_new(msg, "artifact_dir", json_string(env->artifact_dir));
    json_object_set_new(msg, "source", json_string(job->source));
    /* The original, for its quality and its video: kept beside the PCM for
     * a URL input (transcription.h), opened beneath its root otherwise. */
    if (transcription_input_is_url(job->input)) {
        char kept[4200];
        snprintf(kept, sizeof kept, "%s/%s", env->work_dir, TRANSCRIPTION_KEPT_NAME);
        json_object_set_new(msg, "clip_input", json_string(kept));
        json_object_set_new(msg, "root", json_string(env->work_dir));
    } else {
        json_object_set_new(msg, "clip_input", json_string(job->input));
        if (job->input_root[0])
            json_object_set_new(msg, "root", json_string(job->input_root));
    }
    *watchdog_s = EXPORT_WATCHDOG_BASE_S + EXPORT_WATCHDOG_PER_S * (end - start);
    return 0;
}

static void task_name(const store_job *job, int idx, char *out, size_t n)
{
    json_t *doc = job->doc[0] ? json_loads(job->doc, 0, NULL) : NULL;
    json_int_t first = json_integer_value(json_object_get(doc, "n_analysis"));
    const char *prefix = json_string_value(json_object_get(
        json_array_get(json_object_get(doc, "clips"), (size_t)(idx - first)), "prefix"));
    if (prefix && idx >= first)
        snprintf(out, n, "clip %s", prefix);
    json_decref(doc);
}

static int chunk_task(store *st, const store_job *job, const store_task *t, const kind_env *env,
                      json_t *msg, double *watchdog_s, hark_err *err)
{
    json_t *o = json_loads(job->options, 0, NULL);
    json_t *doc = job->doc[0] ? json_loads(job->doc, 0, NULL) : NULL;
    int rc;
    if (!json_is_object(o) || (job->doc[0] && !json_is_object(doc)))
        rc = err_set(err, HARK_EIO, "job %s: its stored options or stage are damaged", job->id);
    else if (!doc)
        rc = analysis_task(st, job, o, t, msg, watchdog_s, err);
    else
        rc = export_task(job, doc, o, t, env, msg, watchdog_s, err);
    json_decref(o);
    json_decref(doc);
    return rc;
}

static int check_result(const json_t *result, hark_err *err)
{
    if (!json_is_object(result))
        return err_set(err, HARK_EINVAL, "a highlights result must be an object");
    artifact a;
    int got = artifact_from_result(result, &a, err);
    if (got)
        return got < 0 ? got : 0;
    hl_features f;
    int rc = hl_features_from_json(json_object_get(result, "features"), &f, err);
    if (rc)
        return rc;
    hl_features_release(&f);
    asr_result r;
    if ((rc = chunk_result_words(result, &r, err)) == 0)
        asr_result_release(&r);
    return rc;
}

/* "NN-HHhMMmSSs": a clip's name without its extension (rank, start). */
static void clip_prefix(int rank, double start, char *out, size_t n)
{
    long s = (long)floor(start);
    snprintf(out, n, "%02d-%02ldh%02ldm%02lds", rank, s / 3600, s / 60 % 60, s % 60);
}

/* The stage document: the ranking, the number of analysis tasks, and
 * with clips, each clip's name and bounds in rank order (the order of the
 * export tasks). */
static json_t *stage_doc(const hl_result *res, int n_analysis, bool clips, store_span **spans,
                         size_t *n_spans)
{
    json_t *doc = hl_result_to_json(res);
    json_t *list = json_array();
    *spans = NULL;
    *n_spans = 0;
    if (!doc || !list) {
        json_decref(doc);
        json_decref(list);
        return NULL;
    }
    json_object_set_new(doc, "n_analysis", json_integer(n_analysis));
    if (clips && res->n > 0 && (*spans = calloc(res->n, sizeof **spans))) {
        for (int rank = 1; rank <= (int)res->n; rank++) {
            for (size_t i = 0; i < res->n; i++) {
                const hl_highlight *h = &res->h[i];
                if (h->rank != rank)
                    continue;
                char prefix[64];
                clip_prefix(rank, h->start, prefix, sizeof prefix);
                json_array_append_new(list, json_pack("{s:s, s:f, s:f}", "prefix", prefix, "start",
                                                      h->start, "end", h->end));
                int64_t a = pcm_samples(h->start), b = pcm_samples(h->end);
                (*spans)[(*n_spans)++] = (store_span){a, b > a ? b : a + 1};
            }
        }
    }
    json_object_set_new(doc, "clips", list);
    return doc;
}

/* Stage 1 is in: the features of every stretch, the words, the ranking. */
static int rank_job(store *st, const store_job *job, const json_t *o, hark_err *err)
{
    store_chunk_list l;
    int rc = store_list_chunks(st, STORE_SCOPE_ALL, job->id, &l, err);
    if (rc)
        return rc;
    hl_features all = {0};
    for (size_t i = 0; i < l.n && rc == 0; i++) {
        json_t *r = json_loads(l.chunks[i].result, 0, NULL);
        hl_features f;
        hark_err perr = {0};
        if (hl_features_from_json(json_object_get(r, "features"), &f, &perr)) {
            rc = err_set(err, HARK_EIO, "job %s: stored analysis of chunk %d is damaged: %s",
                         job->id, l.chunks[i].idx, perr.msg);
        } else {
            rc = hl_features_append(&all, &f, err);
            hl_features_release(&f);
        }
        json_decref(r);
    }
    int n_analysis = (int)l.n;
    store_chunk_list_release(&l);
    bool with_words = json_is_true(json_object_get(o, "transcript"));
    transcript t;
    bool have_t = false;
    if (rc == 0 && with_words)
        have_t = (rc = job_result_transcript(st, STORE_SCOPE_ALL, job->id, NULL, &t, err)) == 0;
    hl_opts ro;
    hl_keyword *kw = NULL;
    size_t n_kw = 0;
    hl_result res;
    bool have_res = false;
    if (rc == 0)
        rc = rank_opts(o, &ro, &kw, &n_kw, err);
    if (rc == 0)
        have_res =
            (rc = hl_find(&all, have_t ? &t : NULL, job->source[0] ? job->source : job->input,
                          job->duration_s, &ro, &res, err)) == 0;
    store_span *spans = NULL;
    size_t n_spans = 0;
    json_t *doc = NULL;
    if (rc == 0 && !(doc = stage_doc(&res, n_analysis, json_is_true(json_object_get(o, "clips")),
                                     &spans, &n_spans)))
        rc = err_set(err, HARK_ENOMEM, "out of memory");
    char *text = doc ? json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(9)) : NULL;
    if (rc == 0 && !text)
        rc = err_set(err, HARK_ENOMEM, "out of memory");
    if (rc == 0)
        rc = store_add_stage(st, job->id, text, spans, n_spans, err);
    if (rc == 0 && n_spans > 0)
        rc = KIND_STAGED;
    free(text);
    free(spans);
    json_decref(doc);
    if (have_res)
        hl_result_release(&res);
    hl_keywords_free(kw, n_kw);
    if (have_t)
        transcript_release(&t);
    hl_features_release(&all);
    return rc;
}

/* Stage 2 is in: every clip must be listed, and there. */
static int check_clips(store *st, const store_job *job, const kind_env *env, hark_err *err)
{
    artifact_list l;
    int rc = artifacts_list(st, STORE_SCOPE_ALL, job->id, &l, err);
    if (rc)
        return rc;
    for (size_t i = 0; rc == 0 && i < l.n; i++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", env->artifact_dir ? env->artifact_dir : "",
                 l.items[i].name);
        if (access(path, R_OK) != 0)
            rc = err_set(err, HARK_EIO, "clip %s of job %s is missing: %s", l.items[i].name,
                         job->id, strerror(errno));
    }
    artifact_list_release(&l);
    return rc;
}

static int complete(store *st, const store_job *job, const kind_env *env, hark_err *err)
{
    json_t *o = json_loads(job->options, 0, NULL);
    int rc;
    if (!json_is_object(o))
        rc = err_set(err, HARK_EIO, "job %s: its stored options are damaged", job->id);
    else if (!job->doc[0])
        rc = rank_job(st, job, o, err);
    else
        rc = check_clips(st, job, env, err);
    json_decref(o);
    return rc;
}

static int render(store *st, store_scope sc, const store_job *job, const char *format, buf *out,
                  hark_err *err)
{
    out_format f;
    if (out_format_parse(format, &f) == 0)
        return job_result_render(st, sc, job->id, f, out, err);
    json_t *doc = json_loads(job->doc, 0, NULL);
    hl_result res;
    if (!doc || hl_result_from_json(doc, &res, err)) {
        json_decref(doc);
        return err_set(err, HARK_EIO, "job %s: its highlights are damaged", job->id);
    }
    json_decref(doc);
    int rc;
    if (strcmp(format, "highlights") == 0)
        rc = hl_render_highlights(&res, out, err);
    else if (strcmp(format, "chapters") == 0)
        rc = hl_render_chapters_txt(&res, out, err);
    else if (strcmp(format, "chapters_json") == 0)
        rc = hl_render_chapters_json(&res, out, err);
    else if (strcmp(format, "edl") == 0)
        rc = hl_render_edl(&res, out, err);
    else
        rc = err_set(err, HARK_EINVAL, "unknown format '%s'", format);
    hl_result_release(&res);
    return rc;
}

const job_kind job_kind_highlights = {
    .name = "highlights",
    .formats = formats,
    .mimes = mimes,
    .check_options = check_options,
    .prepare_task = prepare_task,
    .adjust_plan = adjust_plan,
    .chunk_task = chunk_task,
    .task_name = task_name,
    .run_chunk = run_chunk,
    .check_result = check_result,
    .complete = complete,
    .render = render,
};
