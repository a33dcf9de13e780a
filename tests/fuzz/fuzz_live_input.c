/* fuzz_live_input.c - libFuzzer harness over media/live_input: random bytes as a growing live
 * stream.
 *
 * Input: byte 0 picks the format (0 webm, 1 ogg, 2 mp4, by value mod 3) and
 * whether wait_more stops the read (bit 7: with HARK_ECANCELED on the 5th
 * wait); byte 1 the piece size (1 + its value, in bytes); the rest is the
 * stream, in a memfd whose readable limit grows by a piece at each wait.
 * Every read must end in samples, 0 or a one-line error naming the input,
 * an error or a stop must stay final, and the reader must never read past
 * the limit. Seeds: tests/corpus/make-live-streams.sh's files with the two
 * bytes in front (scripts/check.sh makes them):
 *     ./fuzz_live_input -max_total_time=30 corpus/
 */
#include "media/live_input.h"

#include <libavutil/log.h>

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct grow {
    int64_t size, limit, piece;
    int waits, stop_on;
} grow;

static int wait_more(void *ctx, int64_t have, int64_t *limit, bool *ended)
{
    grow *g = ctx;
    if (have != g->limit) /* a wait before every byte allowed was taken */
        __builtin_trap();
    if (++g->waits == g->stop_on)
        return HARK_ECANCELED;
    g->limit = g->limit + g->piece < g->size ? g->limit + g->piece : g->size;
    *limit = g->limit;
    *ended = g->limit == g->size;
    return 0;
}

static void check_error(int64_t rc, const hark_err *err)
{
    if (err->code != rc || !strstr(err->msg, "fuzz.in") || strchr(err->msg, '\n'))
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int quiet;
    if (!quiet) {
        av_log_set_level(AV_LOG_QUIET);
        quiet = 1;
    }
    if (size < 2)
        return 0;
    static const enum live_format fmts[] = {LIVE_WEBM, LIVE_OGG, LIVE_MP4};
    enum live_format f = fmts[(data[0] & 0x7F) % 3];
    grow g = {(int64_t)(size - 2), 0, 1 + data[1], 0, data[0] & 0x80 ? 5 : 0};
    int fd = memfd_create("fuzz.in", MFD_CLOEXEC);
    if (fd < 0 || write(fd, data + 2, size - 2) != (ssize_t)(size - 2))
        __builtin_trap();
    live_input_io io = {wait_more, &g};
    live_input *in;
    hark_err err;
    if (live_input_open(fd, "fuzz.in", f, &io, &in, &err) != 0)
        __builtin_trap();
    int16_t buf[1024];
    int64_t rc;
    while ((rc = live_input_read(in, buf, sizeof buf / sizeof *buf, &err)) > 0)
        if (rc > (int64_t)(sizeof buf / sizeof *buf) || live_input_bytes_read(in) > g.limit)
            __builtin_trap();
    if (rc < 0) {
        check_error(rc, &err);
        if (g.stop_on && g.waits >= g.stop_on && rc != HARK_ECANCELED)
            __builtin_trap();
    }
    /* final: the same answer again, without waiting */
    int waits = g.waits;
    hark_err again;
    if (live_input_read(in, buf, 16, &again) != rc || g.waits != waits)
        __builtin_trap();
    if (rc < 0)
        check_error(rc, &again);
    live_input_close(in);
    close(fd);
    return 0;
}
