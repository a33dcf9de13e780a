/* live_feed.c - play a live client against media/live_input: grow a file piece by piece, decode it
 * as it grows.
 *
 *   live_feed [-o OUT.raw] [-r REF.raw] [-b BYTES [-u UPTO] | -m MS] FORMAT FILE
 *   live_feed [-o OUT.raw] [-r REF.raw] [-m MS | -t TIMES] FORMAT PIECE1 PIECE2 ...
 *
 * With one FILE, it is appended in pieces of BYTES, or of MS milliseconds
 * of audio at the stream's average byte rate (found by a first decode);
 * with -u, pieces of BYTES only up to byte UPTO, then the rest as one;
 * with several, each is one piece (MediaRecorder's blobs, MS apart, or at
 * the times in TIMES, one line of milliseconds per piece). A
 * piece is appended when the reader waits for more, so every piece is
 * decoded before the next arrives (the file is whole from the start: what
 * grows is the limit the reader is given, so memory can be measured with
 * the tool holding none of the stream). Prints one line of key=value:
 *   samples bytes pieces waits lag_mean_ms lag_max_ms [rc error]
 * where lag is, at each wait, the audio the pieces written carry (pieces *
 * MS, or the time of the last one) minus the audio decoded so far; the
 * first three waits are not counted (the header's bytes). The decoded
 * samples go to -o. With -r, also ref_correlation and ref_shift: how alike
 * the samples are to REF (raw s16le 16 kHz mono) at the best shift within
 * a second. Exit status
 * 0 when the stream decoded to its end, 1 on a decode error, 2 on usage.
 */
#include "media/live_input.h"

#include "media/pcm.h"
#include "util/fs.h"
#include "util/log.h"

#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct feeder {
    int fd; /* the stream, whole */
    size_t size, written;
    size_t *ends; /* piece ends */
    size_t n_ends, next;
    int waits;
    double piece_s;
    double *times; /* or the time (s) each piece came */
    int64_t out;
    double lag_max, lag_sum;
    int lag_n;
} feeder;

static int wait_more(void *ctx, int64_t have, int64_t *limit, bool *ended)
{
    feeder *f = ctx;
    (void)have;
    f->waits++;
    if ((f->piece_s > 0 || f->times) && f->next > 3 && f->next < f->n_ends) {
        double carried = f->times ? f->times[f->next - 1] : (double)f->next * f->piece_s;
        double lag = carried - pcm_seconds(f->out);
        if (lag > f->lag_max || f->lag_n == 0)
            f->lag_max = lag;
        f->lag_sum += lag;
        f->lag_n++;
    }
    if (f->next < f->n_ends)
        f->written = f->ends[f->next++];
    *limit = (int64_t)f->written;
    *ended = f->next == f->n_ends;
    return 0;
}

/* One more piece: the file at path, appended to the stream file. */
static void append_file(feeder *f, const char *path)
{
    FILE *in = fopen(path, "rb");
    if (!in) {
        perror(path);
        exit(2);
    }
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0) {
        if (pwrite(f->fd, buf, n, (off_t)f->size) != (ssize_t)n) {
            perror("live_feed: write");
            exit(2);
        }
        f->size += n;
    }
    fclose(in);
    f->ends = realloc(f->ends, (f->n_ends + 1) * sizeof *f->ends);
    if (!f->ends)
        exit(2);
    f->ends[f->n_ends++] = f->size;
}

static void cut(feeder *f, size_t bytes, size_t upto)
{
    f->n_ends = 0;
    if (!f->size)
        return;
    for (size_t at = bytes;; at = at < upto ? at + bytes : f->size) {
        f->ends = realloc(f->ends, (f->n_ends + 1) * sizeof *f->ends);
        if (!f->ends)
            exit(2);
        f->ends[f->n_ends++] = at < f->size ? at : f->size;
        if (at >= f->size)
            break;
    }
}

/* Decode everything fed; rc as live_input_read's last return. */
static int run(feeder *f, enum live_format fmt, FILE *out, hark_err *err)
{
    f->written = f->next = 0;
    f->waits = 0;
    f->out = 0;
    f->lag_max = f->lag_sum = 0;
    f->lag_n = 0;
    live_input_io io = {wait_more, f};
    live_input *in;
    if (live_input_open(f->fd, "live", fmt, &io, &in, err) != 0)
        return err->code;
    int16_t buf[4096];
    int64_t got;
    while ((got = live_input_read(in, buf, 4096, err)) > 0) {
        f->out += got;
        if (out && fwrite(buf, sizeof *buf, (size_t)got, out) != (size_t)got) {
            perror("live_feed: -o");
            exit(2);
        }
    }
    live_input_close(in);
    return (int)got;
}

/* The milliseconds in path, one a line, as seconds; n of them. */
static double *read_times(const char *path, size_t n)
{
    FILE *in = fopen(path, "r");
    double *t = calloc(n ? n : 1, sizeof *t);
    if (!in || !t) {
        perror(path);
        exit(2);
    }
    for (size_t i = 0; i < n; i++)
        if (fscanf(in, "%lf", &t[i]) != 1) {
            fprintf(stderr, "live_feed: %s: fewer than %zu times\n", path, n);
            exit(2);
        }
    fclose(in);
    for (size_t i = 0; i < n; i++)
        t[i] /= 1000;
    return t;
}

static int16_t *read_raw(const char *path, size_t *n)
{
    FILE *in = fopen(path, "rb");
    if (!in) {
        perror(path);
        exit(2);
    }
    size_t cap = 1 << 16, len = 0;
    int16_t *s = malloc(cap * sizeof *s);
    size_t got;
    while (s && (got = fread(s + len, sizeof *s, cap - len, in)) > 0) {
        len += got;
        if (len == cap)
            s = realloc(s, (cap *= 2) * sizeof *s);
    }
    fclose(in);
    if (!s)
        exit(2);
    *n = len;
    return s;
}

/* The best normalized correlation of a with b shifted by up to a second
 * either way (every 4th sample: enough to tell speech from noise). */
static double correlation(const int16_t *a, size_t na, const int16_t *b, size_t nb, int *at)
{
    double best = -1;
    for (int shift = -PCM_RATE; shift <= PCM_RATE; shift++) {
        double ab = 0, aa = 0, bb = 0;
        for (size_t i = 0; i < na; i += 4) {
            long j = (long)i + shift;
            if (j < 0 || (size_t)j >= nb)
                continue;
            ab += (double)a[i] * b[j];
            aa += (double)a[i] * a[i];
            bb += (double)b[j] * b[j];
        }
        double c = aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : 0;
        if (c > best) {
            best = c;
            *at = shift;
        }
    }
    return best;
}

int main(int argc, char **argv)
{
    log_init_from_env(); /* HARK_LOG=debug shows FFmpeg's messages */
    const char *outpath = NULL, *timespath = NULL, *refpath = NULL;
    long bytes = 0, ms = 0, upto = 0;
    int opt;
    while ((opt = getopt(argc, argv, "o:b:u:m:t:r:")) != -1) {
        if (opt == 'o')
            outpath = optarg;
        else if (opt == 't')
            timespath = optarg;
        else if (opt == 'r')
            refpath = optarg;
        else if (opt == 'b')
            bytes = strtol(optarg, NULL, 10);
        else if (opt == 'u')
            upto = strtol(optarg, NULL, 10);
        else if (opt == 'm')
            ms = strtol(optarg, NULL, 10);
        else
            return 2;
    }
    enum live_format fmt;
    hark_err err;
    if (argc - optind < 2 || live_format_parse(argv[optind], &fmt, &err) != 0) {
        fprintf(stderr,
                "usage: live_feed [-o OUT.raw] [-b BYTES [-u UPTO] | -m MS] FORMAT FILE...\n");
        return 2;
    }
    feeder f = {0};
    if (argc - optind == 2) {
        f.fd = open(argv[optind + 1], O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (f.fd < 0 || fstat(f.fd, &st) != 0) {
            perror(argv[optind + 1]);
            return 2;
        }
        f.size = (size_t)st.st_size;
    } else {
        char tmpl[] = "/tmp/live_feed-XXXXXX";
        f.fd = mkstemp(tmpl);
        if (f.fd < 0) {
            perror("mkstemp");
            return 2;
        }
        unlink(tmpl);
        for (int i = optind + 1; i < argc; i++)
            append_file(&f, argv[i]);
    }
    if (argc - optind == 2) {
        if (bytes <= 0 && ms > 0) {
            size_t one = f.size;
            cut(&f, one ? one : 1, 0);
            if (run(&f, fmt, NULL, &err) < 0) {
                printf("rc=%d error=%s\n", err.code, err.msg);
                return 1;
            }
            double dur = pcm_seconds(f.out);
            bytes = dur > 0 ? (long)((double)f.size / dur * (double)ms / 1000 + 0.5) : 1;
            if (bytes < 1)
                bytes = 1;
            f.piece_s = (double)bytes / (double)f.size * dur;
        }
        cut(&f, bytes > 0 ? (size_t)bytes : f.size, upto > 0 ? (size_t)upto : SIZE_MAX);
    } else if (timespath) {
        f.times = read_times(timespath, f.n_ends);
    } else {
        f.piece_s = ms / 1000.0;
    }
    if (refpath && !outpath)
        outpath = "/dev/null";
    FILE *out = outpath ? fopen(outpath, refpath ? "w+b" : "wb") : NULL;
    if (outpath && !out) {
        perror(outpath);
        return 2;
    }
    int rc = run(&f, fmt, out, &err);
    double corr = 0;
    int shift = 0;
    if (refpath && strcmp(outpath, "/dev/null") != 0) {
        fflush(out);
        size_t na, nb;
        int16_t *a = read_raw(outpath, &na), *b = read_raw(refpath, &nb);
        corr = correlation(a, na, b, nb, &shift);
        free(a);
        free(b);
    }
    if (out)
        fclose(out);
    printf("samples=%lld bytes=%zu pieces=%zu waits=%d lag_mean_ms=%.0f lag_max_ms=%.0f",
           (long long)f.out, f.size, f.n_ends, f.waits, f.lag_n ? f.lag_sum / f.lag_n * 1000 : 0,
           f.lag_max * 1000);
    if (refpath)
        printf(" ref_correlation=%.3f ref_shift=%d", corr, shift);
    if (rc < 0)
        printf(" rc=%d error=%s", rc, err.msg);
    printf("\n");
    close(f.fd);
    free(f.ends);
    free(f.times);
    return rc < 0 ? 1 : 0;
}
