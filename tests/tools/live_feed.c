/* live_feed.c - play a live client against media/live_input: grow a file piece by piece, decode it
 * as it grows.
 *
 *   live_feed [-o OUT.raw] [-b BYTES | -m MS] FORMAT FILE
 *   live_feed [-o OUT.raw] -m MS FORMAT PIECE1 PIECE2 ...
 *
 * With one FILE, it is appended in pieces of BYTES, or of MS milliseconds
 * of audio at the stream's average byte rate (found by a first decode);
 * with several, each is one piece (MediaRecorder's blobs, MS apart). A
 * piece is appended when the reader waits for more, so every piece is
 * decoded before the next arrives. Prints one line of key=value:
 *   samples bytes pieces waits lag_mean_ms lag_max_ms [rc error]
 * where lag is, at each wait, the audio the pieces written carry (pieces *
 * MS) minus the audio decoded so far; the first three waits are not
 * counted (the header's bytes). The decoded samples go to -o. Exit status
 * 0 when the stream decoded to its end, 1 on a decode error, 2 on usage.
 */
#include "media/live_input.h"

#include "media/pcm.h"
#include "util/fs.h"
#include "util/log.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct feeder {
    int fd;
    uint8_t *src; /* everything, concatenated */
    size_t size, written;
    size_t *ends; /* piece ends */
    size_t n_ends, next;
    int waits;
    double piece_s;
    int64_t out;
    double lag_max, lag_sum;
    int lag_n;
} feeder;

static int wait_more(void *ctx, int64_t have, int64_t *limit, bool *ended)
{
    feeder *f = ctx;
    (void)have;
    f->waits++;
    if (f->piece_s > 0 && f->next > 3 && f->next < f->n_ends) {
        double lag = (double)f->next * f->piece_s - pcm_seconds(f->out);
        if (lag > f->lag_max || f->lag_n == 0)
            f->lag_max = lag;
        f->lag_sum += lag;
        f->lag_n++;
    }
    if (f->next < f->n_ends) {
        size_t to = f->ends[f->next++];
        if (pwrite(f->fd, f->src + f->written, to - f->written, (off_t)f->written) !=
            (ssize_t)(to - f->written)) {
            perror("live_feed: write");
            exit(2);
        }
        f->written = to;
    }
    *limit = (int64_t)f->written;
    *ended = f->next == f->n_ends;
    return 0;
}

static void append_file(feeder *f, const char *path)
{
    FILE *in = fopen(path, "rb");
    if (!in) {
        perror(path);
        exit(2);
    }
    struct stat st;
    if (fstat(fileno(in), &st) != 0) {
        perror(path);
        exit(2);
    }
    f->src = realloc(f->src, f->size + (size_t)st.st_size + 1);
    f->ends = realloc(f->ends, (f->n_ends + 1) * sizeof *f->ends);
    if (!f->src || !f->ends ||
        fread(f->src + f->size, 1, (size_t)st.st_size, in) != (size_t)st.st_size) {
        fprintf(stderr, "live_feed: cannot read %s\n", path);
        exit(2);
    }
    fclose(in);
    f->size += (size_t)st.st_size;
    f->ends[f->n_ends++] = f->size;
}

static void cut(feeder *f, size_t bytes)
{
    f->n_ends = 0;
    for (size_t at = bytes; at < f->size + bytes; at += bytes) {
        f->ends = realloc(f->ends, (f->n_ends + 1) * sizeof *f->ends);
        if (!f->ends)
            exit(2);
        f->ends[f->n_ends++] = at < f->size ? at : f->size;
    }
}

/* Decode everything fed; rc as live_input_read's last return. */
static int run(feeder *f, enum live_format fmt, FILE *out, hark_err *err)
{
    char tmpl[] = "/tmp/live_feed-XXXXXX";
    f->fd = mkstemp(tmpl);
    if (f->fd < 0) {
        perror("mkstemp");
        exit(2);
    }
    unlink(tmpl);
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
    close(f->fd);
    return (int)got;
}

int main(int argc, char **argv)
{
    log_init_from_env(); /* HARK_LOG=debug shows FFmpeg's messages */
    const char *outpath = NULL;
    long bytes = 0, ms = 0;
    int opt;
    while ((opt = getopt(argc, argv, "o:b:m:")) != -1) {
        if (opt == 'o')
            outpath = optarg;
        else if (opt == 'b')
            bytes = strtol(optarg, NULL, 10);
        else if (opt == 'm')
            ms = strtol(optarg, NULL, 10);
        else
            return 2;
    }
    enum live_format fmt;
    hark_err err;
    if (argc - optind < 2 || live_format_parse(argv[optind], &fmt, &err) != 0) {
        fprintf(stderr, "usage: live_feed [-o OUT.raw] [-b BYTES | -m MS] FORMAT FILE...\n");
        return 2;
    }
    feeder f = {0};
    for (int i = optind + 1; i < argc; i++)
        append_file(&f, argv[i]);
    if (argc - optind == 2) {
        if (bytes <= 0 && ms > 0) {
            size_t one = f.size;
            cut(&f, one ? one : 1);
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
        cut(&f, bytes > 0 ? (size_t)bytes : f.size);
    } else {
        f.piece_s = ms / 1000.0;
    }
    FILE *out = outpath ? fopen(outpath, "wb") : NULL;
    if (outpath && !out) {
        perror(outpath);
        return 2;
    }
    int rc = run(&f, fmt, out, &err);
    if (out)
        fclose(out);
    printf("samples=%lld bytes=%zu pieces=%zu waits=%d lag_mean_ms=%.0f lag_max_ms=%.0f",
           (long long)f.out, f.size, f.n_ends, f.waits, f.lag_n ? f.lag_sum / f.lag_n * 1000 : 0,
           f.lag_max * 1000);
    if (rc < 0)
        printf(" rc=%d error=%s", rc, err.msg);
    printf("\n");
    free(f.src);
    free(f.ends);
    return rc < 0 ? 1 : 0;
}
