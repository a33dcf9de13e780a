/* transcribe.c - `hark transcribe [options] FILE...`
 *
 * For each file: decode to PCM in a private work directory, plan chunks,
 * recognise them with one engine (loaded once, lazily, for the whole batch),
 * and write the asked formats atomically to DIR/<name>.<ext>. A bad file is
 * reported in one line and skipped; the exit status says whether any failed.
 * Ctrl-C (or TERM) is noticed at the next check-in (at most 100 ms of audio
 * later), the work directory is removed and no partial output is left.
 */
#include "cli/cli.h"

#include "jobs/transcription.h"
#include "output/atomic_file.h"
#include "output/format.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/progress.h"
#include "util/sigwatch.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define OUTPUT_MAX (256u << 20) /* cap on one rendered output */

typedef struct transcribe_cmd {
    const char *out_dir;
    unsigned formats;
    bool to_stdout;
    bool quiet;
    bool tty;
    char work_root[4096];
    media_decode_opts decode;
    chunk_plan_opts plan;
    asr_config asr;
    asr_engine *engine; /* opened on first use */
    int sigfd;
    int interrupted; /* signal number once INT/TERM arrived */
    progress prog;
    double prog_base, prog_total; /* chunk-seconds done before this chunk, total */
    char (*stems)[256];           /* output names used so far in this batch */
    size_t n_stems;
} transcribe_cmd;

static void usage(FILE *to)
{
    fprintf(to,
            "usage: hark transcribe [options] FILE...\n"
            "\n"
            "Transcribe audio or video files to timed text, offline.\n"
            "\n"
            "  -o, --output-dir DIR     write DIR/<name>.<ext> (default: .)\n"
            "  -f, --format LIST        comma-separated: txt,json,srt,vtt,tsv,verbose_json\n"
            "                           (default: txt,json)\n"
            "      --stdout             print the first format to stdout, write no files\n"
            "      --max-duration SEC   refuse longer inputs (default: 43200 = 12 h)\n"
            "      --decode-timeout SEC give up decoding a file after SEC (default: 1800)\n"
            "      --work-dir DIR       scratch space for decoded audio\n"
            "                           (default: $XDG_STATE_HOME/hark/work)\n"
            "      --model-dir DIR      PocketSphinx model directory\n"
            "                           (default: $HARK_MODEL_DIR or %s)\n"
            "  -q, --quiet              no progress output\n"
            "  -v, --verbose            log details (HARK_LOG=debug for everything)\n"
            "  -h, --help               this help\n"
            "\n"
            "Exit status: 0 all files done, 1 some failed, 2 usage, 130 interrupted.\n",
            HARK_MODEL_DIR);
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

static int check_signal(transcribe_cmd *c)
{
    if (!c->interrupted)
        c->interrupted = sigwatch_pending(c->sigfd);
    return c->interrupted ? HARK_ECANCELED : 0;
}

static int decode_checkin(void *ctx, double decoded_s, double total_s)
{
    transcribe_cmd *c = ctx;
    if (total_s > 0)
        progress_update(&c->prog, decoded_s / total_s);
    return check_signal(c);
}

static int chunk_checkin(void *ctx, double fed_s)
{
    transcribe_cmd *c = ctx;
    if (c->prog_total > 0)
        progress_update(&c->prog, (c->prog_base + fed_s) / c->prog_total);
    return check_signal(c);
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

/* Render every asked format and write the files (or print the first one). */
static int write_outputs(transcribe_cmd *c, const transcript *t, const char *stem, buf *written,
                         hark_err *err)
{
    for (int f = 0; f < FMT_COUNT; f++) {
        if (!(c->formats & (1u << f)))
            continue;
        buf out;
        buf_init(&out, OUTPUT_MAX);
        int rc = out_render(t, (out_format)f, &out, err);
        if (rc == 0 && c->to_stdout) {
            if (out.len && fwrite(out.data, 1, out.len, stdout) != out.len)
                rc = err_set(err, HARK_EIO, "cannot write to standard output: %s", strerror(errno));
            fflush(stdout);
            buf_release(&out);
            return rc; /* only the first format goes to stdout */
        }
        char path[4096];
        if (rc == 0 && snprintf(path, sizeof path, "%s/%s.%s", c->out_dir, stem,
                                out_format_ext((out_format)f)) >= (int)sizeof path)
            rc = err_set(err, HARK_EINVAL, "output path too long in '%s'", c->out_dir);
        if (rc == 0)
            rc = atomic_write_file(path, out.data ? out.data : "", out.len, 0644, err);
        buf_release(&out);
        if (rc)
            return rc;
        buf_printf(written, " %s", path);
    }
    return 0;
}

static int open_engine(transcribe_cmd *c, hark_err *err)
{
    if (c->engine)
        return 0;
    double t0 = clock_now_s();
    int rc = asr_engine_open(&c->asr, &c->engine, err);
    if (rc == 0)
        log_info("loaded %s in %.2f s", asr_engine_name(c->engine), clock_now_s() - t0);
    return rc;
}

/* Transcribe one input. Returns 0 or a negative code with err set. */
static int transcribe_one(transcribe_cmd *c, const char *input, hark_err *err)
{
    double t0 = clock_now_s();
    char work[4096];
    if (snprintf(work, sizeof work, "%s/transcribe-%d-XXXXXX", c->work_root, (int)getpid()) >=
        (int)sizeof work)
        return err_set(err, HARK_EINVAL, "work directory path too long");
    if (!mkdtemp(work))
        return err_set(err, HARK_EIO, "cannot create a work directory in '%s': %s", c->work_root,
                       strerror(errno));

    prepared_audio prep;
    transcript t = {0};
    asr_result *results = NULL;
    buf written;
    buf_init(&written, 1 << 16);

    progress_begin(&c->prog, input, "decoding", c->tty, c->quiet);
    c->decode.checkin = decode_checkin;
    c->decode.checkin_ctx = c;
    int rc = transcription_prepare(input, work, &c->decode, &c->plan, &prep, err);
    progress_end(&c->prog);
    if (rc) {
        fs_rmtree(work);
        buf_release(&written);
        return rc;
    }
    log_info("%s: %.1f s of %s/%s audio, %zu chunks", input, prep.info.duration_s,
             prep.info.container, prep.info.codec, prep.plan.n);

    if (prep.plan.n > 0)
        rc = open_engine(c, err);
    results = calloc(prep.plan.n ? prep.plan.n : 1, sizeof *results);
    if (!results && rc == 0)
        rc = err_set(err, HARK_ENOMEM, "out of memory");

    c->prog_total = chunk_plan_speech_seconds(&prep.plan);
    c->prog_base = 0;
    progress_begin(&c->prog, input, "transcribing", c->tty, c->quiet);
    for (size_t i = 0; rc == 0 && i < prep.plan.n; i++) {
        const chunk *ch = &prep.plan.chunks[i];
        rc = asr_engine_decode(c->engine, &prep.pcm, ch->start, ch->end, chunk_checkin, c,
                               &results[i], err);
        if (rc == HARK_ECANCELED)
            err_set(err, rc, "interrupted");
        else if (rc)
            err_set(err, rc, "cannot transcribe '%s' at %.2f-%.2f s: %s", input,
                    pcm_seconds(ch->start), pcm_seconds(ch->end), err ? err->msg : "");
        c->prog_base += pcm_seconds(ch->end - ch->start);
    }
    progress_update(&c->prog, 1.0);
    progress_end(&c->prog);

    if (rc == 0)
        rc = transcript_init(&t, input, prep.info.duration_s);
    for (size_t i = 0; rc == 0 && i < prep.plan.n; i++)
        rc = transcription_add_chunk(&t, (int)i, &results[i]);
    if (rc == 0)
        rc = transcript_finish(&t);
    if (rc == HARK_ENOMEM)
        err_set(err, rc, "cannot transcribe '%s': out of memory", input);

    char stem[256];
    if (rc == 0)
        rc = unique_stem(c, input, stem, sizeof stem);
    if (rc == 0)
        rc = write_outputs(c, &t, stem, &written, err);
    if (rc == 0 && t.n_words == 0) {
        /* Said even with -q: an empty result must never look like a success
         * that lost the words. */
        fprintf(stderr, "hark: %s: no speech found (%.1f s of audio); empty transcript%s\n", input,
                prep.info.duration_s, c->to_stdout ? "" : " written");
    } else if (rc == 0 && !c->quiet) {
        double took = clock_now_s() - t0;
        fprintf(stderr, "hark: %s: %.1f s of audio, %zu words in %.1f s (%.2fx real time)%s%s\n",
                input, prep.info.duration_s, t.n_words, took,
                took > 0 ? prep.info.duration_s / took : 0.0, written.len ? " ->" : "",
                written.len ? written.data : "");
    }

    for (size_t i = 0; results && i < prep.plan.n; i++)
        asr_result_release(&results[i]);
    free(results);
    transcript_release(&t);
    prepared_audio_release(&prep);
    buf_release(&written);
    fs_rmtree(work);
    return rc;
}

int cli_transcribe(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"output-dir", required_argument, NULL, 'o'},
        {"format", required_argument, NULL, 'f'},
        {"stdout", no_argument, NULL, 'S'},
        {"max-duration", required_argument, NULL, 'M'},
        {"decode-timeout", required_argument, NULL, 'T'},
        {"work-dir", required_argument, NULL, 'W'},
        {"model-dir", required_argument, NULL, 'm'},
        {"quiet", no_argument, NULL, 'q'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    transcribe_cmd c = {0};
    c.out_dir = ".";
    c.formats = (1u << FMT_TXT) | (1u << FMT_JSON);
    c.tty = isatty(STDERR_FILENO);
    c.sigfd = -1;
    media_decode_opts_default(&c.decode);
    chunk_plan_opts_default(&c.plan);
    asr_config_default(&c.asr);
    const char *work_dir = NULL;
    hark_err err = {0};
    bool formats_given = false;

    optind = 1;
    int opt;
    while ((opt = getopt_long(argc, argv, "o:f:qvh", longopts, NULL)) != -1) {
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
                c.decode.max_duration_s = v;
            else
                c.decode.timeout_s = v;
            break;
        }
        case 'W':
            work_dir = optarg;
            break;
        case 'm':
            c.asr.model_dir = optarg;
            break;
        case 'q':
            c.quiet = true;
            break;
        case 'v':
            log_set_level(LOG_INFO);
            break;
        case 'h':
            usage(stdout);
            return EXIT_ALL_OK;
        default:
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "hark: transcribe needs at least one FILE\n");
        usage(stderr);
        return EXIT_USAGE;
    }
    if (c.to_stdout && !formats_given)
        c.formats = 1u << FMT_TXT;

    if (work_dir)
        snprintf(c.work_root, sizeof c.work_root, "%s", work_dir);
    else if (fs_default_state_dir(c.work_root, sizeof c.work_root) == 0)
        strncat(c.work_root, "/work", sizeof c.work_root - strlen(c.work_root) - 1);
    if (fs_mkdir_p(c.work_root, 0700, &err) ||
        (!c.to_stdout && fs_mkdir_p(c.out_dir, 0755, &err))) {
        fprintf(stderr, "hark: %s\n", err.msg);
        return EXIT_SOME_FAILED;
    }

    c.sigfd = sigwatch_open();
    int n_files = argc - optind, n_failed = 0;
    for (int i = optind; i < argc && !c.interrupted; i++) {
        err_clear(&err);
        int rc = transcribe_one(&c, argv[i], &err);
        if (rc && !c.interrupted) {
            n_failed++;
            fprintf(stderr, "hark: %s\n", err.msg[0] ? err.msg : "unknown error");
        }
    }
    asr_engine_close(c.engine);
    free(c.stems);
    sigwatch_close(c.sigfd);
    if (c.interrupted) {
        fprintf(stderr, "hark: interrupted; no partial output was written\n");
        return EXIT_INTERRUPTED;
    }
    if (n_failed) {
        if (n_files > 1)
            fprintf(stderr, "hark: %d of %d files failed\n", n_failed, n_files);
        return EXIT_SOME_FAILED;
    }
    return EXIT_ALL_OK;
}
