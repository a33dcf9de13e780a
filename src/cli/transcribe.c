/* transcribe.c - `hark transcribe [options] FILE...` and
 * `hark highlights [options] FILE...`: a batch of jobs of one kind
 * (jobs/kind.h) on the embedded runtime.
 *
 * The same runtime as `hark serve`, embedded: a job store in the state
 * directory, one job per file, and worker processes (one per core) that
 * decode each file once and then share its chunks, so one long file runs
 * on every core. Outputs are written atomically to DIR/<name>.<ext> as each
 * job completes. A bad file fails alone in one line; the exit status says
 * whether any failed.
 *
 * Ctrl-C (or TERM, or a crash) keeps what was done: the committed chunks
 * stay in the store and the decoded audio in the work directory, and the
 * same command later resumes from there (a job is matched to its file by
 * path, size and modification time). Jobs of earlier runs that this run did
 * not ask for are paused, never worked on behind the user's back.
 *
 * A job is dropped from the store only once its outputs are written: when
 * they cannot be (a full disk), the file fails but its job stays, paused
 * with every chunk committed, and the same command later writes the
 * outputs from the store without decoding anything.
 */
#include "asr/engine.h"
#include "cli/cli.h"

#include "highlights/keywords.h"
#include "jobs/artifacts.h"
#include "jobs/job_result.h"
#include "jobs/kind.h"
#include "media/clip.h"
#include "net/net.h"
#include "output/atomic_file.h"
#include "output/format.h"
#include "runtime/runtime.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/progress.h"
#include "util/sigwatch.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define OUTPUT_MAX (256u << 20) /* cap on one rendered output */
#define MAX_WORKERS 64

/* One input of the batch and its job. */
typedef struct tjob {
    const char *input; /* as given; for a URL, shown (credentials and query removed) */
    const char *url;   /* an http(s) input as given, NULL for a file */
    char shown[2048];
    char key[PATH_MAX + 70000]; /* kind|options|realpath|size|mtime: what makes a job resumable */
    char id[STORE_ID_SIZE];
    char stem[256];
    int resumed_chunks, n_chunks; /* committed before this run */
    bool resumed;
    bool submitted;
    bool finished;
    int state;
    size_t n_words;
    double duration;
    char *written; /* " path path" of the outputs, malloc'ed */
    char *printed; /* --stdout: the rendered text, until its turn comes */
} tjob;

typedef struct transcribe_cmd {
    const job_kind *kind; /* transcribe or highlights */
    json_t *kind_opts;    /* the kind's options (checked), NULL for none */
    bool with_transcript; /* highlights: write the transcript formats too */
    bool clips;           /* highlights: copy the clips to DIR/<name>.clips/ */
    char artifact_root[4200];
    const char *out_dir;
    unsigned formats;
    bool to_stdout;
    bool quiet;
    bool tty;
    int workers;
    char state_dir[4096];
    double max_duration_s, decode_timeout_s;
    store *st;
    tjob *jobs;
    int n_jobs;
    int n_failed;
    int current;    /* the job the progress display follows */
    int next_print; /* --stdout: outputs go out in input order */
    double last_poll;
    progress prog;
    const tjob *prog_job; /* the job prog shows */
    char (*stems)[256];   /* output names used so far in this batch */
    size_t n_stems;
} transcribe_cmd;

static void usage(FILE *to)
{
    fprintf(to,
            "usage: hark transcribe [options] FILE...\n"
            "\n"
            "Transcribe audio or video files to timed text, offline. A FILE that\n"
            "starts with http:// or https:// is downloaded first (at most 2 GiB).\n"
            "\n"
            "  -o, --output-dir DIR     write DIR/<name>.<ext> (default: .)\n"
            "  -f, --format LIST        comma-separated: txt,json,srt,vtt,tsv,verbose_json\n"
            "                           (default: txt,json)\n"
            "      --stdout             print the first format to stdout, write no files\n"
            "      --max-duration SEC   refuse longer inputs (default: 43200 = 12 h)\n"
            "      --decode-timeout SEC give up decoding a file after SEC (default: 1800)\n"
            "  -j, --workers N          worker processes (default: the number of cores)\n"
            "      --state-dir DIR      job store and decoded audio, kept for resuming\n"
            "                           (default: $XDG_STATE_HOME/hark)\n"
            "      --model-dir DIR      PocketSphinx model directory\n"
            "                           (default: $HARK_MODEL_DIR or %s)\n"
            "  -q, --quiet              no progress output\n"
            "  -v, --verbose            log details (HARK_LOG=debug for everything)\n"
            "  -h, --help               this help\n"
            "\n"
            "After Ctrl-C or a crash, the same command resumes where it stopped.\n"
            "Exit status: 0 all files done, 1 some failed, 2 usage, 130 interrupted.\n",
            HARK_MODEL_DIR);
}

static void usage_highlights(FILE *to)
{
    fprintf(to, "usage: hark highlights [options] FILE...\n"
                "\n"
                "Find the moments worth a clip in recordings (streams, podcasts,\n"
                "meetings), offline, and write for each FILE:\n"
                "  DIR/<name>.highlights.json  ranked highlights with their reasons\n"
                "  DIR/<name>.chapters.txt     YouTube chapter lines\n"
                "  DIR/<name>.chapters.json    Podcasting 2.0 chapters\n"
                "  DIR/<name>.edl              CMX 3600 markers (DaVinci Resolve)\n"
                "  DIR/<name>.<ext>            the transcript (-f), unless --no-transcript\n"
                "  DIR/<name>.clips/NN-HHhMMmSSs.<ext>  with --clips, one per highlight\n"
                "\n"
                "  -o, --output-dir DIR     where to write (default: .)\n"
                "      --top N              highlights to keep, 1..100 (default: 10)\n"
                "      --pre SEC            clip start before the peak (default: 8)\n"
                "      --post SEC           clip end after the peak (default: 5)\n"
                "      --keywords FILE      phrases that mark a highlight, one per line,\n"
                "                           an optional weight after a tab (default weight 1)\n"
                "      --clips              cut each highlight as a clip\n"
                "      --clip-format F      wav, flac, mp3, opus, or copy (the input's own\n"
                "                           streams, video too, cut at a keyframe) (default: wav)\n"
                "      --no-transcript      judge the audio alone (faster; no text, no keywords)\n"
                "  -f, --format LIST        transcript formats: txt,json,srt,vtt,tsv,verbose_json\n"
                "                           (default: txt,json)\n"
                "      --max-duration SEC   refuse longer inputs (default: 43200 = 12 h)\n"
                "      --decode-timeout SEC give up decoding a file after SEC (default: 1800)\n"
                "  -j, --workers N          worker processes (default: the number of cores)\n"
                "      --state-dir DIR      job store and decoded audio, kept for resuming\n"
                "                           (default: $XDG_STATE_HOME/hark)\n"
                "      --model-dir DIR      PocketSphinx model directory\n"
                "  -q, --quiet              no progress output\n"
                "  -v, --verbose            log details (HARK_LOG=debug for everything)\n"
                "  -h, --help               this help\n"
                "\n"
                "After Ctrl-C or a crash, the same command resumes where it stopped.\n"
                "Exit status: 0 all files done, 1 some failed, 2 usage, 130 interrupted.\n");
}

int cli_parse_seconds(const char *s, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end != '\0' || !isfinite(v) || v < 0)
        return -1;
    *out = v;
    return 0;
}

/* A name for this input's outputs, unique within the batch ("talk", "talk-2"). */
static int unique_stem(transcribe_cmd *c, const char *input, char *out, size_t n)
{
    char stem[256];
    fs_stem(input, stem, sizeof stem);
    if (!stem[0])
        snprintf(stem, sizeof stem, "audio");
    snprintf(out, n, "%s", stem);
    for (int k = 2;; k++) {
        bool taken = false;
        for (size_t i = 0; i < c->n_stems; i++)
            taken |= strcmp(c->stems[i], out) == 0;
        if (!taken)
            break;
        snprintf(out, n, "%.200s-%d", stem, k);
    }
    void *p = realloc(c->stems, (c->n_stems + 1) * sizeof *c->stems);
    if (!p)
        return HARK_ENOMEM;
    c->stems = p;
    snprintf(c->stems[c->n_stems++], sizeof c->stems[0], "%s", out);
    return 0;
}

/* Render every asked format and write the files; with --stdout render the
 * first format into *printed instead (printed in input order later). */
/* Write out to DIR/<stem>.<ext>, atomically, and add its path to written. */
static int write_output_file(const transcribe_cmd *c, const char *stem, const char *ext,
                             const buf *out, buf *written, hark_err *err)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s.%s", c->out_dir, stem, ext) >= (int)sizeof path)
        return err_set(err, HARK_EINVAL, "output path too long in '%s'", c->out_dir);
    int rc = atomic_write_file(path, out->data ? out->data : "", out->len, 0644, err);
    if (rc == 0)
        buf_printf(written, " %s", path);
    return rc;
}

static int write_outputs(transcribe_cmd *c, const transcript *t, const char *stem, buf *written,
                         char **printed, hark_err *err)
{
    for (int f = 0; f < FMT_COUNT; f++) {
        if (!(c->formats & (1u << f)))
            continue;
        buf out;
        buf_init(&out, OUTPUT_MAX);
        int rc = out_render(t, (out_format)f, &out, err);
        if (rc == 0 && c->to_stdout) {
            *printed = buf_steal(&out);
            buf_release(&out);
            return *printed ? 0 : err_set(err, HARK_ENOMEM, "out of memory");
        }
        if (rc == 0)
            rc = write_output_file(c, stem, out_format_ext((out_format)f), &out, written, err);
        buf_release(&out);
        if (rc)
            return rc;
    }
    return 0;
}

/* The highlights outputs: each of the kind's own formats, and the clips. */
static const struct {
    const char *format, *ext;
} highlight_files[] = {
    {"highlights", "highlights.json"},
    {"chapters", "chapters.txt"},
    {"chapters_json", "chapters.json"},
    {"edl", "edl"},
};

/* Copy one file whole into dst (atomically: dst appears complete or not at all). */
static int copy_file(const char *src, const char *dst, hark_err *err)
{
    FILE *f = fopen(src, "rb");
    if (!f)
        return err_set(err, HARK_EIO, "cannot read clip '%s': %s", src, strerror(errno));
    buf b;
    buf_init(&b, OUTPUT_MAX);
    char block[1 << 16];
    size_t n;
    int rc = 0;
    while (rc == 0 && (n = fread(block, 1, sizeof block, f)) > 0)
        if (buf_append(&b, block, n))
            rc = err_set(err, HARK_ENOMEM, "clip '%s' is too large to copy", src);
    if (rc == 0 && ferror(f))
        rc = err_set(err, HARK_EIO, "cannot read clip '%s': %s", src, strerror(errno));
    fclose(f);
    if (rc == 0)
        rc = atomic_write_file(dst, b.data ? b.data : "", b.len, 0644, err);
    buf_release(&b);
    return rc;
}

static int write_clips(transcribe_cmd *c, const char *job_id, const char *stem, buf *written,
                       hark_err *err)
{
    artifact_list l;
    int rc = artifacts_list(c->st, STORE_SCOPE_ALL, job_id, &l, err);
    if (rc)
        return rc;
    char dir[4400], from[4096];
    if (snprintf(dir, sizeof dir, "%s/%s.clips", c->out_dir, stem) >= (int)sizeof dir)
        rc = err_set(err, HARK_EINVAL, "output path too long in '%s'", c->out_dir);
    if (rc == 0)
        rc = fs_mkdir_p(dir, 0755, err);
    if (rc == 0)
        rc = artifacts_dir(c->artifact_root, job_id, from, sizeof from);
    for (size_t i = 0; rc == 0 && i < l.n; i++) {
        char src[4300], dst[4600];
        snprintf(src, sizeof src, "%s/%s", from, l.items[i].name);
        snprintf(dst, sizeof dst, "%s/%s", dir, l.items[i].name);
        rc = copy_file(src, dst, err);
    }
    if (rc == 0 && l.n > 0)
        buf_printf(written, " %s/", dir);
    artifact_list_release(&l);
    return rc;
}

static int write_highlights(transcribe_cmd *c, const char *job_id, const char *stem, buf *written,
                            hark_err *err)
{
    store_job job;
    int rc = store_get_job(c->st, STORE_SCOPE_ALL, job_id, &job, err);
    if (rc)
        return rc;
    for (size_t i = 0; rc == 0 && i < sizeof highlight_files / sizeof highlight_files[0]; i++) {
        buf out;
        buf_init(&out, OUTPUT_MAX);
        rc = c->kind->render(c->st, STORE_SCOPE_ALL, &job, highlight_files[i].format, &out, err);
        if (rc == 0)
            rc = write_output_file(c, stem, highlight_files[i].ext, &out, written, err);
        buf_release(&out);
    }
    store_job_release(&job);
    if (rc == 0 && c->clips)
        rc = write_clips(c, job_id, stem, written, err);
    return rc;
}

static tjob *find_job(transcribe_cmd *c, const char *id)
{
    for (int i = 0; i < c->n_jobs; i++)
        if (c->jobs[i].submitted && strcmp(c->jobs[i].id, id) == 0)
            return &c->jobs[i];
    return NULL;
}

static void print_in_order(transcribe_cmd *c);

/* The outputs could not all be written (a full disk, the file-size limit,
 * a directory that went away): the file counts as failed, but its job stays
 * in the store, paused with every chunk committed, so the same command
 * later writes the outputs from the store without decoding anything. */
static int keep_unwritten(transcribe_cmd *c, tjob *j, const hark_err *why)
{
    fprintf(stderr,
            "hark: %s: %s; the transcript is kept: run the same command again to write the "
            "outputs\n",
            j->input, why->msg[0] ? why->msg : "cannot write the outputs");
    hark_err err = {0};
    if (store_pause(c->st, STORE_SCOPE_ALL, j->id, &err))
        log_warn("%s", err.msg);
    j->finished = true;
    j->state = STORE_FAILED;
    c->n_failed++;
    print_in_order(c);
    return RUNTIME_COMPLETE_KEEP;
}

/* runtime hook: every chunk of a job is in; write its outputs. */
static int on_complete(void *ctx, store *st, const char *job_id, hark_err *err)
{
    transcribe_cmd *c = ctx;
    tjob *j = find_job(c, job_id);
    if (!j)
        return err_set(err, HARK_EINVAL, "job %s is not part of this run", job_id);
    transcript t;
    int rc = job_result_transcript(st, STORE_SCOPE_ALL, job_id, j->input, &t, err);
    if (rc)
        return rc;
    buf written;
    buf_init(&written, 1 << 16);
    if (c->prog_job == j)
        progress_update(&c->prog, 1.0);
    progress_end(&c->prog);
    rc = c->kind == &job_kind_highlights ? write_highlights(c, job_id, j->stem, &written, err) : 0;
    if (rc == 0 && c->formats)
        rc = write_outputs(c, &t, j->stem, &written, &j->printed, err);
    if (rc == 0) {
        j->n_words = t.n_words;
        j->duration = t.duration;
        j->written = buf_steal(&written);
    }
    buf_release(&written);
    transcript_release(&t);
    if (rc)
        return keep_unwritten(c, j, err);
    return rc;
}

static void print_in_order(transcribe_cmd *c)
{
    for (; c->next_print < c->n_jobs && c->jobs[c->next_print].finished; c->next_print++) {
        tjob *j = &c->jobs[c->next_print];
        if (j->printed && fputs(j->printed, stdout) == EOF)
            fprintf(stderr, "hark: cannot write to standard output: %s\n", strerror(errno));
        free(j->printed);
        j->printed = NULL;
    }
    fflush(stdout);
}

/* runtime hook: a job ended. Report it and drop it from the store (this
 * command keeps no history). */
static void on_finished(void *ctx, const char *job_id, int state)
{
    transcribe_cmd *c = ctx;
    tjob *j = find_job(c, job_id);
    if (!j)
        return;
    j->finished = true;
    j->state = state;
    progress_end(&c->prog);
    store_job sj;
    bool got = store_get_job(c->st, STORE_SCOPE_ALL, job_id, &sj, NULL) == 0;
    double took = got && sj.started_ms ? (double)(sj.finished_ms - sj.started_ms) / 1000 : 0;
    if (state == STORE_SUCCEEDED && j->n_words == 0 && c->formats) {
        /* Said even with -q: an empty result must never look like a success
         * that lost the words. */
        fprintf(stderr, "hark: %s: no speech found (%.1f s of audio); empty transcript%s\n",
                j->input, j->duration, c->to_stdout ? "" : " written");
    } else if (state == STORE_SUCCEEDED && !c->quiet && j->resumed && j->n_chunks > 0 &&
               j->resumed_chunks == j->n_chunks) {
        /* Every chunk was committed by an earlier run: only the outputs. */
        fprintf(stderr,
                "hark: %s: %.1f s of audio, %zu words, from the store (nothing decoded)%s%s\n",
                j->input, j->duration, j->n_words, j->written && j->written[0] ? " ->" : "",
                j->written ? j->written : "");
    } else if (state == STORE_SUCCEEDED && !c->quiet) {
        fprintf(stderr, "hark: %s: %.1f s of audio, %zu words in %.1f s (%.2fx real time)%s%s\n",
                j->input, j->duration, j->n_words, took, took > 0 ? j->duration / took : 0.0,
                j->written && j->written[0] ? " ->" : "", j->written ? j->written : "");
    } else if (state != STORE_SUCCEEDED) {
        const char *why = "stopped";
        if (got && sj.error[0])
            why = sj.error;
        /* Decode errors name the file (the runtime says it as the job's
         * source, the name the user gave); chunk errors do not. */
        if (strstr(why, j->input))
            fprintf(stderr, "hark: %s\n", why);
        else
            fprintf(stderr, "hark: %s: %s\n", j->input, why);
        c->n_failed++;
    }
    if (got)
        store_job_release(&sj);
    store_delete_job(c->st, STORE_SCOPE_ALL, job_id, NULL);
    artifacts_remove(c->artifact_root, job_id);
    print_in_order(c);
}

/* runtime hook: after every event. Drive the progress display and say
 * when the batch is done. */
static bool on_tick(void *ctx)
{
    transcribe_cmd *c = ctx;
    while (c->current < c->n_jobs && c->jobs[c->current].finished)
        c->current++;
    if (c->current >= c->n_jobs)
        return true;
    double now = clock_now_s();
    if (now - c->last_poll < 0.1)
        return false;
    c->last_poll = now;
    tjob *j = &c->jobs[c->current];
    store_job sj;
    if (store_get_job(c->st, STORE_SCOPE_ALL, j->id, &sj, NULL))
        return false;
    const char *phase = !sj.prepared                      ? "decoding"
                        : sj.doc[0]                       ? "cutting clips"
                        : c->kind == &job_kind_highlights ? "analysing"
                                                          : "transcribing";
    if (strcmp(c->prog.phase, phase) != 0 || c->prog_job != j) {
        progress_end(&c->prog);
        progress_begin(&c->prog, j->input, phase, c->tty, c->quiet);
        c->prog_job = j;
    }
    if (sj.prepared && sj.n_chunks > 0)
        progress_update(&c->prog, (double)sj.chunks_done / sj.n_chunks);
    store_job_release(&sj);
    return false;
}

/* What identifies "the same file" across runs (for a URL: the URL). */
static int job_key(const transcribe_cmd *c, const tjob *j, char *out, size_t n, hark_err *err)
{
    const char *input = j->input;
    char real[PATH_MAX];
    struct stat sb;
    /* A job of another kind, or with other options, is another job. */
    char *opts = c->kind_opts ? json_dumps(c->kind_opts, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    int at = snprintf(out, n, "%s|%s|", c->kind->name, opts ? opts : "");
    free(opts);
    if (at < 0 || (size_t)at >= n)
        return err_set(err, HARK_EINVAL, "cannot run %s: its options are too long", input);
    out += at;
    n -= (size_t)at;
    if (j->url) {
        if (snprintf(out, n, "url|%s", j->url) >= (int)n)
            return err_set(err, HARK_EINVAL, "cannot transcribe %s: the URL is too long", input);
        return 0;
    }
    if (!realpath(input, real) || stat(real, &sb) != 0)
        return err_set(err, HARK_ENOENT, "cannot open '%s': %s", input, strerror(errno));
    snprintf(out, n, "%s|%lld|%lld.%09ld", real, (long long)sb.st_size,
             (long long)sb.st_mtim.tv_sec, sb.st_mtim.tv_nsec);
    return 0;
}

static const char *key_of(const store_job *j, json_t **holder)
{
    *holder = json_loads(j->options, 0, NULL);
    return json_string_value(json_object_get(*holder, "key"));
}

/* Match the batch against unfinished jobs of earlier runs: resume those
 * whose file is unchanged, pause the rest, and drop finished leftovers. */
static int adopt_earlier_jobs(transcribe_cmd *c, hark_err *err)
{
    store_job_filter f;
    store_job_filter_init(&f);
    f.limit = 1000;
    for (;;) {
        store_job_list l;
        int rc = store_list_jobs(c->st, STORE_SCOPE_ALL, &f, &l, err);
        if (rc)
            return rc;
        for (size_t i = 0; i < l.n; i++) {
            store_job *sj = &l.jobs[i];
            if (store_state_terminal(sj->state)) {
                store_delete_job(c->st, STORE_SCOPE_ALL, sj->id, NULL);
                artifacts_remove(c->artifact_root, sj->id);
                continue;
            }
            json_t *holder;
            const char *key = key_of(sj, &holder);
            tjob *match = NULL;
            for (int k = 0; key && k < c->n_jobs && !match; k++)
                if (!c->jobs[k].submitted && c->jobs[k].key[0] && strcmp(c->jobs[k].key, key) == 0)
                    match = &c->jobs[k];
            json_decref(holder);
            if (!match) {
                if (sj->state != STORE_PAUSED)
                    store_pause(c->st, STORE_SCOPE_ALL, sj->id, NULL);
                continue;
            }
            if (sj->state == STORE_PAUSED &&
                (rc = store_resume(c->st, STORE_SCOPE_ALL, sj->id, err)) != 0) {
                store_job_list_release(&l);
                return rc;
            }
            snprintf(match->id, sizeof match->id, "%s", sj->id);
            match->submitted = match->resumed = true;
            match->resumed_chunks = sj->chunks_done;
            match->n_chunks = sj->n_chunks;
        }
        f.after_seq = l.next_after;
        store_job_list_release(&l);
        if (!f.after_seq)
            return 0;
    }
}

static int submit_jobs(transcribe_cmd *c, hark_err *err)
{
    for (int i = 0; i < c->n_jobs; i++) {
        tjob *j = &c->jobs[i];
        if (j->resumed && !c->quiet)
            fprintf(stderr, "hark: %s: resuming (%d of %d chunks already done)\n", j->input,
                    j->resumed_chunks, j->n_chunks);
        if (j->submitted || j->finished) /* finished: failed to open, said already */
            continue;
        char real[PATH_MAX];
        const char *input = j->url                                  ? j->url
                            : j->key[0] && realpath(j->input, real) ? real
                                                                    : j->input;
        json_t *opts = c->kind_opts ? json_deep_copy(c->kind_opts) : json_object();
        if (opts)
            json_object_set_new(opts, "key", json_string(j->key));
        char *opts_text = opts ? json_dumps(opts, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        json_decref(opts);
        store_job_spec spec = {.kind = c->kind->name,
                               .input = input,
                               .source = j->input,
                               .options = opts_text,
                               .priority = STORE_PRIO_NORMAL};
        int rc = opts_text ? store_submit(c->st, &spec, j->id, err) : HARK_ENOMEM;
        free(opts_text);
        if (rc)
            return rc;
        j->submitted = true;
    }
    return 0;
}

/* The store and work directories live in the state directory. One run at a
 * time owns it (a lock file); a second, concurrent run gets a private state
 * directory that is removed when it ends (it cannot be resumed). */
static int take_state_dir(transcribe_cmd *c, int *lock_fd, bool *private_dir, hark_err *err)
{
    int rc = fs_mkdir_p(c->state_dir, 0700, err);
    if (rc)
        return rc;
    char path[4200];
    snprintf(path, sizeof path, "%s/transcribe.lock", c->state_dir);
    rc = fs_lock_file(path, "hark transcribe", lock_fd, NULL, 0, err);
    if (rc <= 0)
        return rc;
    char priv[sizeof c->state_dir];
    if (snprintf(priv, sizeof priv, "%.4000s/run-%d-XXXXXX", c->state_dir, (int)getpid()) >=
            (int)sizeof priv ||
        !mkdtemp(priv))
        return err_set(err, HARK_EIO, "cannot create a state directory in '%s': %s", c->state_dir,
                       strerror(errno));
    log_info("another hark transcribe uses %s; this run uses %s and cannot be resumed",
             c->state_dir, priv);
    memcpy(c->state_dir, priv, sizeof priv);
    *private_dir = true;
    return 0;
}

/* Run the batch on the embedded runtime. Returns HARK_ECANCELED when
 * interrupted, other codes when the runtime itself could not run. */
static int run_batch(transcribe_cmd *c, hark_err *err)
{
    bool any_left = false;
    for (int i = 0; i < c->n_jobs; i++)
        any_left |= !c->jobs[i].finished;
    if (!any_left)
        return 0; /* every file failed to open: nothing to run */
    /* A missing model is one line now, not workers failing to start. */
    asr_config model;
    asr_config_default(&model);
    if ((c->kind != &job_kind_highlights || c->with_transcript) && asr_engine_check(&model, err))
        return HARK_EINVAL;
    char db[4200], work[4200], exe[4096];
    snprintf(db, sizeof db, "%s/transcribe.db", c->state_dir);
    snprintf(work, sizeof work, "%s/work", c->state_dir);
    snprintf(c->artifact_root, sizeof c->artifact_root, "%s/artifacts", c->state_dir);
    if (fs_self_exe(exe, sizeof exe))
        return err_set(err, HARK_EIO, "cannot find the hark executable: %s", strerror(errno));
    int rc = store_open(db, NULL, &c->st, err);
    if (rc == 0)
        rc = store_recover(c->st, NULL, err);
    if (rc == 0)
        rc = adopt_earlier_jobs(c, err);
    if (rc == 0)
        rc = submit_jobs(c, err);
    if (rc)
        return rc;

    runtime_opts o;
    runtime_opts_default(&o);
    o.worker_path = exe;
    o.workers = c->workers;
    o.work_root = work;
    o.artifact_root = c->artifact_root;
    o.max_duration_s = c->max_duration_s;
    o.decode_timeout_s = c->decode_timeout_s;
    o.background_load = true; /* a bad input fails without loading a model */
    /* Highlights of the audio alone never ask for the recognizer. */
    o.load_model = c->kind != &job_kind_highlights || c->with_transcript;
    /* A URL given here is the user's own: it may reach what the user can
     * (a media server on localhost or the LAN), as curl would. hark serve
     * is where URLs come from others and are held to public addresses. */
    o.fetch.dest = &net_dest_anywhere;
    o.sigfd = sigwatch_open();
    runtime_hooks h = {.complete = on_complete, .finished = on_finished, .done = on_tick, .ctx = c};
    runtime *rt;
    rc = runtime_new(c->st, &o, &h, &rt, err);
    if (rc == 0) {
        rc = runtime_run(rt, err);
        runtime_free(rt);
    }
    progress_end(&c->prog);
    sigwatch_close(o.sigfd);
    return rc;
}

static void report_interrupted(transcribe_cmd *c)
{
    int done = 0, total = 0, unfinished = 0;
    for (int i = 0; i < c->n_jobs; i++) {
        tjob *j = &c->jobs[i];
        store_job sj;
        if (j->finished || !j->submitted || store_get_job(c->st, STORE_SCOPE_ALL, j->id, &sj, NULL))
            continue;
        unfinished++;
        done += sj.chunks_done;
        total += sj.n_chunks;
        store_job_release(&sj);
    }
    fprintf(stderr,
            "hark: interrupted; no partial output was written. %d unfinished file%s (%d of %d "
            "chunks done) kept: run the same command to resume\n",
            unfinished, unfinished == 1 ? "" : "s", done, total);
}

/* Read a --keywords file into the options (its text: the job keeps it,
 * so a resumed job ranks with the same list even if the file changed). */
static int read_keywords(const char *path, json_t *opts)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "hark: cannot open keywords file '%s': %s\n", path, strerror(errno));
        return -1;
    }
    char text[65536];
    size_t n = fread(text, 1, sizeof text, f);
    bool too_long = n == sizeof text;
    bool bad = ferror(f);
    fclose(f);
    if (bad || too_long) {
        fprintf(stderr, "hark: cannot read keywords file '%s': %s\n", path,
                too_long ? "larger than 64 KiB" : strerror(errno));
        return -1;
    }
    text[n] = 0;
    if (strlen(text) != n) {
        fprintf(stderr, "hark: keywords file '%s' is not text (it has a NUL byte)\n", path);
        return -1;
    }
    hark_err err = {0};
    hl_keyword *kw = NULL;
    size_t n_kw = 0;
    if (hl_keywords_parse(text, path, &kw, &n_kw, &err)) {
        fprintf(stderr, "hark: %s\n", err.msg);
        return -1;
    }
    hl_keywords_free(kw, n_kw);
    json_object_set_new(opts, "keywords", json_string(text));
    return 0;
}

static int run_cmd_with(const job_kind *kind, json_t *hopts, int argc, char **argv);

/* hopts: the highlights options, filled from the command line. */
static int run_cmd(const job_kind *kind, int argc, char **argv)
{
    json_t *hopts = kind == &job_kind_highlights ? json_object() : NULL;
    if (kind == &job_kind_highlights && !hopts) {
        fprintf(stderr, "hark: out of memory\n");
        return EXIT_SOME_FAILED;
    }
    int rc = run_cmd_with(kind, hopts, argc, argv);
    json_decref(hopts);
    return rc;
}

int cli_transcribe(int argc, char **argv)
{
    return run_cmd(&job_kind_transcribe, argc, argv);
}

int cli_highlights(int argc, char **argv)
{
    return run_cmd(&job_kind_highlights, argc, argv);
}

static int run_cmd_with(const job_kind *kind, json_t *hopts, int argc, char **argv)
{
    bool hl = kind == &job_kind_highlights;
    void (*show_usage)(FILE *) = hl ? usage_highlights : usage;
    static const struct option longopts[] = {
        {"output-dir", required_argument, NULL, 'o'},
        {"format", required_argument, NULL, 'f'},
        {"stdout", no_argument, NULL, 'S'},
        {"max-duration", required_argument, NULL, 'M'},
        {"decode-timeout", required_argument, NULL, 'T'},
        {"state-dir", required_argument, NULL, 'W'},
        {"workers", required_argument, NULL, 'j'},
        {"model-dir", required_argument, NULL, 'm'},
        {"quiet", no_argument, NULL, 'q'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {"top", required_argument, NULL, 'N'},
        {"pre", required_argument, NULL, 'P'},
        {"post", required_argument, NULL, 'Q'},
        {"keywords", required_argument, NULL, 'K'},
        {"clips", no_argument, NULL, 'C'},
        {"clip-format", required_argument, NULL, 'F'},
        {"no-transcript", no_argument, NULL, 'X'},
        {NULL, 0, NULL, 0},
    };
    transcribe_cmd c = {0};
    c.kind = kind;
    const char *keywords = NULL;
    c.out_dir = ".";
    c.formats = (1u << FMT_TXT) | (1u << FMT_JSON);
    c.tty = isatty(STDERR_FILENO);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    c.workers = cores < 1 ? 1 : cores > MAX_WORKERS ? MAX_WORKERS : (int)cores;
    runtime_opts defaults;
    runtime_opts_default(&defaults);
    c.max_duration_s = defaults.max_duration_s;
    c.decode_timeout_s = defaults.decode_timeout_s;
    const char *state_dir = NULL;
    hark_err err = {0};
    bool formats_given = false;

    optind = 1;
    int opt;
    while ((opt = getopt_long(argc, argv, "o:f:j:qvh", longopts, NULL)) != -1) {
        switch (opt) {
        case 'o':
            c.out_dir = optarg;
            break;
        case 'f':
            if (out_format_parse_list(optarg, &c.formats, &err)) {
                fprintf(stderr, "hark: %s\n", err.msg);
                return EXIT_USAGE;
            }
            formats_given = true;
            break;
        case 'S':
            c.to_stdout = true;
            break;
        case 'M':
        case 'T': {
            double v;
            if (cli_parse_seconds(optarg, &v)) {
                fprintf(stderr, "hark: %s wants a number of seconds, not '%s'\n",
                        opt == 'M' ? "--max-duration" : "--decode-timeout", optarg);
                return EXIT_USAGE;
            }
            if (opt == 'M')
                c.max_duration_s = v;
            else
                c.decode_timeout_s = v;
            break;
        }
        case 'W':
            state_dir = optarg;
            break;
        case 'j': {
            char *end = NULL;
            long v = strtol(optarg, &end, 10);
            if (!end || *end || v < 1 || v > MAX_WORKERS) {
                fprintf(stderr, "hark: --workers wants 1..%d, not '%s'\n", MAX_WORKERS, optarg);
                return EXIT_USAGE;
            }
            c.workers = (int)v;
            break;
        }
        case 'm':
            /* The workers read it when they load the model. */
            setenv("HARK_MODEL_DIR", optarg, 1);
            break;
        case 'q':
            c.quiet = true;
            break;
        case 'v':
            log_set_level(LOG_INFO);
            break;
        case 'h':
            show_usage(stdout);
            return EXIT_ALL_OK;
        case 'N':
        case 'P':
        case 'Q': {
            double v;
            char *end = NULL;
            const char *name = opt == 'N' ? "top" : opt == 'P' ? "pre" : "post";
            if (!hl) {
                fprintf(stderr, "hark: --%s is an option of hark highlights\n", name);
                return EXIT_USAGE;
            }
            if (opt == 'N') {
                long n = strtol(optarg, &end, 10);
                if (!end || *end || n < 1 || n > 100) {
                    fprintf(stderr, "hark: --top wants 1..100, not '%s'\n", optarg);
                    return EXIT_USAGE;
                }
                json_object_set_new(hopts, "top", json_integer(n));
            } else if (cli_parse_seconds(optarg, &v) || v > 120) {
                fprintf(stderr, "hark: --%s wants 0..120 seconds, not '%s'\n", name, optarg);
                return EXIT_USAGE;
            } else {
                json_object_set_new(hopts, name, json_real(v));
            }
            break;
        }
        case 'K':
        case 'C':
        case 'F':
        case 'X':
            if (!hl) {
                fprintf(stderr, "hark: %s is an option of hark highlights\n", argv[optind - 1]);
                return EXIT_USAGE;
            }
            if (opt == 'K')
                keywords = optarg;
            else if (opt == 'C')
                c.clips = true;
            else if (opt == 'X')
                json_object_set_new(hopts, "transcript", json_false());
            else {
                clip_format cf;
                if (clip_format_parse(optarg, &cf, &err)) {
                    fprintf(stderr, "hark: --clip-format: %s\n", err.msg);
                    return EXIT_USAGE;
                }
                json_object_set_new(hopts, "clip_format", json_string(optarg));
            }
            break;
        default:
            show_usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "hark: %s needs at least one FILE\n", hl ? "highlights" : "transcribe");
        show_usage(stderr);
        return EXIT_USAGE;
    }
    if (c.to_stdout && !formats_given)
        c.formats = 1u << FMT_TXT;
    if (hl) {
        if (c.to_stdout) {
            fprintf(stderr, "hark: highlights writes files; --stdout is for transcribe\n");
            return EXIT_USAGE;
        }
        if (keywords && read_keywords(keywords, hopts))
            return EXIT_USAGE;
        json_object_set_new(hopts, "clips", json_boolean(c.clips));
        c.with_transcript = !json_is_false(json_object_get(hopts, "transcript"));
        if (!c.with_transcript && formats_given) {
            fprintf(stderr, "hark: -f names transcript formats; --no-transcript makes none\n");
            return EXIT_USAGE;
        }
        if (!c.with_transcript)
            c.formats = 0;
        if (job_kind_highlights.check_options(hopts, &err)) {
            fprintf(stderr, "hark: %s\n", err.msg);
            return EXIT_USAGE;
        }
        c.kind_opts = hopts;
    }

    if (state_dir)
        snprintf(c.state_dir, sizeof c.state_dir, "%s", state_dir);
    else if (fs_default_state_dir(c.state_dir, sizeof c.state_dir) != 0) {
        fprintf(stderr, "hark: cannot find a state directory; give --state-dir\n");
        return EXIT_SOME_FAILED;
    }
    if (!c.to_stdout && fs_mkdir_p(c.out_dir, 0755, &err)) {
        fprintf(stderr, "hark: %s\n", err.msg);
        return EXIT_SOME_FAILED;
    }

    /* Files that cannot even be opened fail here, in one line each. */
    c.n_jobs = argc - optind;
    c.jobs = calloc((size_t)c.n_jobs, sizeof *c.jobs);
    if (!c.jobs) {
        fprintf(stderr, "hark: out of memory\n");
        return EXIT_SOME_FAILED;
    }
    for (int i = 0; i < c.n_jobs; i++) {
        tjob *j = &c.jobs[i];
        j->input = argv[optind + i];
        char name[sizeof j->shown]; /* what the outputs are named after */
        snprintf(name, sizeof name, "%s", j->input);
        if (net_url_is_http(j->input)) {
            /* Downloaded by a worker; named without credentials or query. */
            j->url = j->input;
            net_url_redact(j->url, j->shown, sizeof j->shown);
            j->input = j->shown;
            snprintf(name, sizeof name, "%.*s", (int)strcspn(j->shown, "?#"), j->shown);
        }
        hark_err kerr = {0};
        if (job_key(&c, j, j->key, sizeof j->key, &kerr) == 0 &&
            unique_stem(&c, name, j->stem, sizeof j->stem) == 0)
            continue;
        struct stat sb;
        if (stat(j->input, &sb) == 0 && S_ISDIR(sb.st_mode))
            err_set(&kerr, HARK_EINVAL, "cannot transcribe '%s': it is a directory", j->input);
        fprintf(stderr, "hark: %s\n", kerr.msg[0] ? kerr.msg : "out of memory");
        j->finished = true;
        j->state = STORE_FAILED;
        c.n_failed++;
    }

    int lock_fd = -1;
    bool private_dir = false;
    int rc = take_state_dir(&c, &lock_fd, &private_dir, &err);
    if (rc == 0)
        rc = run_batch(&c, &err);
    bool interrupted = rc == HARK_ECANCELED;
    if (interrupted)
        report_interrupted(&c);
    else if (rc)
        fprintf(stderr, "hark: %s\n", err.msg);
    store_close(c.st);
    if (private_dir)
        fs_rmtree(c.state_dir);
    if (lock_fd >= 0)
        close(lock_fd);
    print_in_order(&c);
    for (int i = 0; i < c.n_jobs; i++) {
        free(c.jobs[i].written);
        free(c.jobs[i].printed);
    }
    free(c.jobs);
    free(c.stems);
    if (interrupted)
        return EXIT_INTERRUPTED;
    if (rc)
        return EXIT_SOME_FAILED;
    if (c.n_failed) {
        if (c.n_jobs > 1)
            fprintf(stderr, "hark: %d of %d files failed\n", c.n_failed, c.n_jobs);
        return EXIT_SOME_FAILED;
    }
    return EXIT_ALL_OK;
}
