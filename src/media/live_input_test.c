/* live_input_test.c - growing files read as they grow: s16le, WebM, Ogg, fragmented MP4.
 *
 * The streams are made at test time by tests/corpus/make-live-streams.sh
 * (ffmpeg, from the LibriVox clip). A feeder plays the client and the
 * daemon: the reader's wait_more appends the next piece of the stream to a
 * real file and returns the new limit, so the file grows exactly as fast as
 * the reader asks and every byte boundary can be tried.
 */
#include "media/live_input.h"

#include "media/pcm.h"
#include "util/clock.h"
#include "util/test.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/stat.h>

#if UNDER_ASAN
/* ASan keeps freed memory in a quarantine (256 MB by default), which looks
 * like growth to the constant-memory test; keep it small in this binary. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "quarantine_size_mb=16";
}
#endif

static char corpus_dir[256];

static const char *stream(const char *name)
{
    static char path[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(path[k], sizeof path[k], "%s/%s", corpus_dir, name);
    return path[k];
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    fflush(NULL);
    return system(cmd);
}

static uint8_t *slurp(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        TEST_FAIL_("cannot open %s", path);
    ASSERT(fseek(f, 0, SEEK_END) == 0);
    long n = ftell(f);
    ASSERT(n >= 0);
    rewind(f);
    uint8_t *p = malloc((size_t)n + 1);
    ASSERT(p);
    ASSERT(fread(p, 1, (size_t)n, f) == (size_t)n);
    fclose(f);
    *size = (size_t)n;
    return p;
}

/* ---- the feeder: a file that grows when the reader waits ---- */

typedef struct feeder {
    int fd; /* the growing file */
    const uint8_t *src;
    size_t size, written;
    size_t piece;       /* bytes appended per wait; 0: everything at once */
    const size_t *ends; /* or: explicit piece ends (ascending, the last = size) */
    size_t n_ends, next_end;
    int calls;
    int stop_on_call; /* return stop_code on this call (0: never) */
    int stop_code;
    /* latency, at each wait (when the reader has taken every byte there is):
     * the audio the pieces written carry (pieces * piece_s) and the audio of
     * the packets complete in them (map), against the samples out */
    double piece_s;
    const struct packet_map *map;
    int64_t *out_so_far;
    double lag_max, lag_sum, reader_max, reader_sum;
    int lag_n, reader_n, skip_lag; /* waits not counted (the stream's start) */
} feeder;

/* When each packet of a stream is complete in the file, from ffprobe: the
 * audio time (end of the packet) available once `bytes` are written. */
typedef struct packet_map {
    size_t n;
    int64_t *bytes;
    double *t; /* the latest end time among packets complete by bytes[i] */
} packet_map;

static double map_time(const packet_map *m, int64_t written)
{
    double t = 0;
    for (size_t i = 0; i < m->n && m->bytes[i] <= written; i++)
        t = m->t[i];
    return t;
}

static int feeder_wait(void *ctx, int64_t have, int64_t *limit, bool *ended)
{
    feeder *fd = ctx;
    fd->calls++;
    /* The reader waits only once it has taken every byte it may. */
    ASSERT_EQ(have, (int64_t)fd->written);
    if (fd->stop_on_call && fd->calls >= fd->stop_on_call)
        return fd->stop_code;
    if (fd->piece_s > 0 && fd->out_so_far && fd->calls > fd->skip_lag + 1) {
        double lag = (double)(fd->calls - 1) * fd->piece_s - pcm_seconds(*fd->out_so_far);
        if (lag > fd->lag_max)
            fd->lag_max = lag;
        fd->lag_sum += lag;
        fd->lag_n++;
    }
    if (fd->map && fd->out_so_far && fd->written < fd->size) {
        double lag = map_time(fd->map, (int64_t)fd->written) - pcm_seconds(*fd->out_so_far);
        if (lag > fd->reader_max)
            fd->reader_max = lag;
        fd->reader_sum += lag;
        fd->reader_n++;
    }
    size_t to = fd->size;
    if (fd->ends)
        to = fd->next_end < fd->n_ends ? fd->ends[fd->next_end++] : fd->size;
    else if (fd->piece && fd->written + fd->piece < fd->size)
        to = fd->written + fd->piece;
    if (to > fd->written) {
        ASSERT_EQ(pwrite(fd->fd, fd->src + fd->written, to - fd->written, (off_t)fd->written),
                  (ssize_t)(to - fd->written));
        fd->written = to;
    }
    *limit = (int64_t)fd->written;
    *ended = fd->written == fd->size;
    return 0;
}

static void feeder_init(feeder *fd, const uint8_t *src, size_t size, size_t piece)
{
    memset(fd, 0, sizeof *fd);
    fd->fd = open("growing", O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ASSERT(fd->fd >= 0);
    fd->src = src;
    fd->size = size;
    fd->piece = piece;
}

typedef struct result {
    int rc; /* 0, or the error live_input_read ended with */
    hark_err err;
    int16_t *s;
    int64_t n;
    int reads;
} result;

/* Read everything with reads of at most `max` samples. */
static result read_all(feeder *fd, enum live_format f, size_t max)
{
    result r = {0};
    live_input_io io = {feeder_wait, fd};
    live_input *in;
    ASSERT_EQ(live_input_open(fd->fd, "live.in", f, &io, &in, &r.err), 0);
    size_t cap = 16000;
    r.s = malloc(cap * sizeof *r.s);
    ASSERT(r.s);
    fd->out_so_far = &r.n;
    for (;;) {
        if ((size_t)r.n + max > cap) {
            cap = cap * 2 + max;
            r.s = realloc(r.s, cap * sizeof *r.s);
            ASSERT(r.s);
        }
        int64_t got = live_input_read(in, r.s + r.n, max, &r.err);
        r.reads++;
        if (got <= 0) {
            r.rc = (int)got;
            if (got < 0) {
                ASSERT_EQ(r.err.code, got);
                ASSERT(strstr(r.err.msg, "live.in"));
                ASSERT(!strchr(r.err.msg, '\n'));
                /* final: the same again */
                hark_err again;
                ASSERT_EQ(live_input_read(in, r.s, max, &again), got);
                ASSERT_STREQ(again.msg, r.err.msg);
            } else {
                ASSERT_EQ(live_input_read(in, r.s, max, &r.err), 0);
            }
            break;
        }
        ASSERT_LE(got, (int64_t)max);
        r.n += got;
    }
    ASSERT_LE(live_input_bytes_read(in), (int64_t)fd->written);
    fd->out_so_far = NULL;
    live_input_close(in);
    return r;
}

/* Feed `src` in pieces of `piece` bytes (0: all at once) and read it all. */
static result feed(enum live_format f, const uint8_t *src, size_t size, size_t piece)
{
    feeder fd;
    feeder_init(&fd, src, size, piece);
    result r = read_all(&fd, f, 4096);
    close(fd.fd);
    return r;
}

static result feed_file(enum live_format f, const char *name, size_t piece)
{
    size_t size;
    uint8_t *src = slurp(stream(name), &size);
    result r = feed(f, src, size, piece);
    free(src);
    return r;
}

static void expect_ok(const result *r, const char *what)
{
    if (r->rc != 0)
        TEST_FAIL_("%s: %s", what, r->err.msg);
}

static void expect_error(const result *r, int code, const char *cause)
{
    if (r->rc != code || !strstr(r->err.msg, cause))
        TEST_FAIL_("expected error %d with \"%s\", got %d: %s", code, cause, r->rc, r->err.msg);
}

/* ---- comparing with a one-shot ffmpeg decode ---- */

/* The file decoded whole by the ffmpeg command line, as 16 kHz mono s16. */
static int16_t *reference(const char *name, int64_t *n)
{
    ASSERT_EQ(sh("ffmpeg -nostdin -hide_banner -loglevel error -y -i '%s' -f s16le -ac 1 -ar 16000 "
                 "ref.raw",
                 stream(name)),
              0);
    size_t size;
    int16_t *s = (int16_t *)slurp("ref.raw", &size);
    *n = (int64_t)(size / 2);
    return s;
}

/* The best normalized correlation of a against b over shifts of up to
 * max_shift samples (the two decoders may trim the codec's priming
 * differently). */
static double best_correlation(const int16_t *a, int64_t na, const int16_t *b, int64_t nb,
                               int max_shift, int *at)
{
    double best = -1;
    for (int shift = -max_shift; shift <= max_shift; shift += 1) {
        double ab = 0, aa = 0, bb = 0;
        for (int64_t i = 0; i < na; i += 3) {
            int64_t j = i + shift;
            if (j < 0 || j >= nb)
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

/* The live decode of `name` matches a one-shot ffmpeg decode: length
 * within a frame (frame_samples at 16 kHz), content correlated. */
static void expect_like_reference(const result *r, const char *name, int frame_samples)
{
    int64_t nref;
    int16_t *ref = reference(name, &nref);
    int shift = 0;
    double c = best_correlation(r->s, r->n, ref, nref, frame_samples, &shift);
    printf("     %s: %lld samples live, %lld one-shot, correlation %.4f at shift %d\n", name,
           (long long)r->n, (long long)nref, c, shift);
    ASSERT_LE(llabs(r->n - nref), frame_samples);
    ASSERT_LE(0.98, c);
    free(ref);
}

static void expect_same(const result *a, const result *b)
{
    ASSERT_EQ(a->n, b->n);
    ASSERT(memcmp(a->s, b->s, (size_t)a->n * sizeof *a->s) == 0);
}

/* ---- formats and heads ---- */

static void test_format_parse(void)
{
    enum live_format f;
    hark_err err;
    ASSERT_EQ(live_format_parse("s16le", &f, &err), 0);
    ASSERT_EQ(f, LIVE_S16LE);
    ASSERT_EQ(live_format_parse("webm", &f, &err), 0);
    ASSERT_EQ(f, LIVE_WEBM);
    ASSERT_EQ(live_format_parse("matroska", &f, &err), 0);
    ASSERT_EQ(f, LIVE_WEBM);
    ASSERT_EQ(live_format_parse("mkv", &f, &err), 0);
    ASSERT_EQ(f, LIVE_WEBM);
    ASSERT_EQ(live_format_parse("ogg", &f, &err), 0);
    ASSERT_EQ(f, LIVE_OGG);
    ASSERT_EQ(live_format_parse("mp4", &f, &err), 0);
    ASSERT_EQ(f, LIVE_MP4);
    ASSERT_EQ(live_format_parse("wav", &f, &err), HARK_EINVAL);
    ASSERT(strstr(err.msg, "'wav'") && strstr(err.msg, "s16le, webm, ogg, mp4"));
    ASSERT_EQ(live_format_parse(NULL, &f, &err), HARK_EINVAL);
    for (int i = LIVE_S16LE; i <= LIVE_MP4; i++) {
        ASSERT_EQ(live_format_parse(live_format_name((enum live_format)i), &f, &err), 0);
        ASSERT_EQ(f, i);
    }
}

static void head_is(enum live_format f, const char *head, size_t n, const char *like)
{
    hark_err err;
    int rc = live_format_check_head(f, head, n, &err);
    if (!like) {
        if (rc != 0)
            TEST_FAIL_("%s refused %zu bytes: %s", live_format_name(f), n, err.msg);
        return;
    }
    if (rc != HARK_EMEDIA || !strstr(err.msg, like))
        TEST_FAIL_("%s: expected \"%s\", got %d: %s", live_format_name(f), like, rc,
                   rc ? err.msg : "");
}

static void test_check_head(void)
{
    static const char wav[] = "RIFF\x24\x00\x00\x00WAVEfmt ";
    static const char ogg[] = "OggS\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00";
    static const char ebml[] = "\x1A\x45\xDF\xA3\x9F\x42\x86\x81\x01";
    static const char mp4[] = "\x00\x00\x00\x1C"
                              "ftypiso5\x00\x00\x02\x00";
    static const char id3[] = "ID3\x04\x00\x00\x00\x00\x00\x00";
    static const char mp3[] = "\xFF\xFB\x90\x64\x00\x00\x00\x00";
    static const char adts[] = "\xFF\xF1\x50\x80\x02\x1F\xFC\x21";
    static const char flac[] = "fLaC\x00\x00\x00\x22";
    static const char json[] = "{\"error\": \"nope\"}";
    static const char html[] = "<!DOCTYPE html><html><body>502 Bad Gateway";
    static const char xml[] = "<?xml version=\"1.0\"?><a/>";
    static const char text[] = "hello, this is not audio\n";
    static const char form[] = "--boundary123\r\nContent-Disposition: form-data";

    /* each container's own start, whole or cut anywhere */
    for (size_t n = 0; n <= 8; n++) {
        head_is(LIVE_WEBM, ebml, n, NULL);
        head_is(LIVE_OGG, ogg, n, NULL);
        head_is(LIVE_MP4, mp4, n, NULL);
    }
    head_is(LIVE_WEBM, wav, sizeof wav - 1, "not a WebM stream (it starts like a WAV file)");
    head_is(LIVE_WEBM, ogg, sizeof ogg - 1, "not a WebM stream (it starts like an Ogg stream)");
    head_is(LIVE_WEBM, mp4, sizeof mp4 - 1, "(it starts like an MP4 file)");
    head_is(LIVE_WEBM, json, sizeof json - 1, "(it starts like JSON text)");
    head_is(LIVE_WEBM, html, sizeof html - 1, "(it starts like an HTML page)");
    head_is(LIVE_OGG, ebml, sizeof ebml - 1,
            "not an Ogg stream (it starts like a WebM/Matroska stream)");
    head_is(LIVE_OGG, id3, sizeof id3 - 1, "(it starts like an MP3 file (ID3 tag))");
    head_is(LIVE_OGG, flac, sizeof flac - 1, "(it starts like a FLAC file)");
    head_is(LIVE_OGG, xml, sizeof xml - 1, "(it starts like an XML document)");
    head_is(LIVE_MP4, mp3, sizeof mp3 - 1, "not an MP4 stream (it starts like an MP3 file)");
    head_is(LIVE_MP4, adts, sizeof adts - 1, "(it starts like an AAC (ADTS) stream)");
    head_is(LIVE_MP4, text, sizeof text - 1, "(it starts like plain text)");
    head_is(LIVE_MP4, form, sizeof form - 1, "(it starts like a multipart form body)");
    head_is(LIVE_MP4, ogg, sizeof ogg - 1, "(it starts like an Ogg stream)");
    head_is(LIVE_WEBM, "\x01\x02\x03\x04\x05", 5, "(its first bytes are 01 02 03 04 05)");
    /* a wrong first byte is enough */
    head_is(LIVE_WEBM, "O", 1, "not a WebM stream");
    head_is(LIVE_OGG, "\x1A", 1, "not an Ogg stream");

    /* s16le: containers and text refused, samples of any kind taken */
    const char *why = "send raw s16le samples, or create the live job with format webm/ogg/mp4";
    head_is(LIVE_S16LE, wav, sizeof wav - 1, "(it starts like a WAV file)");
    head_is(LIVE_S16LE, wav, sizeof wav - 1, why);
    head_is(LIVE_S16LE, ogg, sizeof ogg - 1, "(it starts like an Ogg stream)");
    head_is(LIVE_S16LE, ebml, sizeof ebml - 1, "(it starts like a WebM/Matroska stream)");
    head_is(LIVE_S16LE, mp4, sizeof mp4 - 1, "(it starts like an MP4 file)");
    head_is(LIVE_S16LE, id3, sizeof id3 - 1, "(it starts like an MP3 file (ID3 tag))");
    head_is(LIVE_S16LE, flac, sizeof flac - 1, "(it starts like a FLAC file)");
    head_is(LIVE_S16LE, json, sizeof json - 1, "(it starts like JSON text)");
    head_is(LIVE_S16LE, html, sizeof html - 1, "(it starts like an HTML page)");
    head_is(LIVE_S16LE, text, sizeof text - 1, "(it starts like plain text)");
    int16_t quiet[64], loud[64], zero[64] = {0};
    for (int i = 0; i < 64; i++) {
        quiet[i] = (int16_t)(i % 7 - 3);
        loud[i] = (int16_t)(i * 997 % 30000 - 15000);
    }
    head_is(LIVE_S16LE, (const char *)zero, sizeof zero, NULL);
    head_is(LIVE_S16LE, (const char *)quiet, sizeof quiet, NULL);
    head_is(LIVE_S16LE, (const char *)loud, sizeof loud, NULL);
    head_is(LIVE_S16LE, mp3, sizeof mp3 - 1, NULL); /* -1025, ... : plausible samples */
    head_is(LIVE_S16LE, "{", 1, NULL);              /* 123: a quiet sample, not JSON yet */
    head_is(LIVE_S16LE, "RIF", 3, NULL);
    head_is(LIVE_S16LE, "", 0, NULL);
}

/* ---- s16le ---- */

static void test_s16le_pieces(void)
{
    size_t size;
    uint8_t *src = slurp(stream("speech.s16le"), &size);
    const size_t pieces[] = {0, 1, 3200, 777, 2, 4096};
    for (size_t i = 0; i < sizeof pieces / sizeof *pieces; i++) {
        result r = feed(LIVE_S16LE, src, size, pieces[i]);
        expect_ok(&r, "s16le");
        ASSERT_EQ(r.n * 2, (int64_t)size);
        for (int64_t k = 0; k < r.n; k++) /* bit-exact, read as little-endian */
            ASSERT_EQ(r.s[k], (int16_t)(uint16_t)(src[2 * k] | src[2 * k + 1] << 8));
        free(r.s);
    }
    /* a trailing odd byte is dropped at the end */
    result r = feed(LIVE_S16LE, src, 3201, 1000);
    expect_ok(&r, "odd");
    ASSERT_EQ(r.n, 1600);
    free(r.s);
    free(src);
}

/* Reads return what is there at once: a 100 ms append gives its 1600
 * samples to a read asking for 16000. */
static void test_s16le_prompt(void)
{
    size_t size;
    uint8_t *src = slurp(stream("speech.s16le"), &size);
    feeder fd;
    feeder_init(&fd, src, size, 3200);
    live_input_io io = {feeder_wait, &fd};
    live_input *in;
    hark_err err;
    ASSERT_EQ(live_input_open(fd.fd, "live.in", LIVE_S16LE, &io, &in, &err), 0);
    int16_t buf[16000];
    for (int i = 0; i < 5; i++) {
        ASSERT_EQ(live_input_read(in, buf, 16000, &err), 1600);
        ASSERT_EQ(fd.calls, i + 1);
        ASSERT_EQ(live_input_bytes_read(in), (i + 1) * 3200);
    }
    /* an odd piece: the half sample waits for its partner */
    fd.piece = 3;
    ASSERT_EQ(live_input_read(in, buf, 16000, &err), 1);
    ASSERT_EQ(live_input_read(in, buf, 16000, &err), 2);
    ASSERT_EQ(live_input_bytes_read(in), 5 * 3200 + 6);
    ASSERT_EQ(live_input_read(in, buf, 0, &err), HARK_EINVAL);
    live_input_close(in);
    close(fd.fd);
    free(src);
}

/* ---- containers ---- */

typedef struct case_ {
    const char *file;
    enum live_format f;
    int frame; /* samples at 16 kHz in one codec frame: the length tolerance */
} case_;

static const case_ cases[] = {
    {"speech.webm", LIVE_WEBM, 320},         {"speech-sized.webm", LIVE_WEBM, 320},
    {"speech.ogg", LIVE_OGG, 320},           {"speech-p100.ogg", LIVE_OGG, 320},
    {"speech-aac.mp4", LIVE_MP4, 1024},      {"speech-opus.mp4", LIVE_MP4, 320},
    {"speech-aac-f100.mp4", LIVE_MP4, 1024}, {"speech-opus-f100.mp4", LIVE_MP4, 320},
    {"speech-vorbis.webm", LIVE_WEBM, 1024}, {"speech-video.webm", LIVE_WEBM, 320},
};

/* Every container, in pieces of 1 byte, 100 ms, odd sizes and all at once:
 * the same samples each time, and those of a one-shot decode. */
static void test_containers_pieces(void)
{
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        size_t size;
        uint8_t *src = slurp(stream(cases[c].file), &size);
        result whole = feed(cases[c].f, src, size, 0);
        expect_ok(&whole, cases[c].file);
        expect_like_reference(&whole, cases[c].file, cases[c].frame);
        /* 100 ms of the stream's average rate, odd sizes, single bytes */
        size_t per100 = (size_t)((double)size / pcm_seconds(whole.n) / 10);
        const size_t pieces[] = {per100, 997, 4099, 1};
        for (size_t i = 0; i < sizeof pieces / sizeof *pieces; i++) {
            result r = feed(cases[c].f, src, size, pieces[i]);
            expect_ok(&r, cases[c].file);
            expect_same(&r, &whole);
            free(r.s);
        }
        free(whole.s);
        free(src);
    }
}

/* Small reads: a caller's buffer of 7 samples gets the same samples. */
static void test_small_reads(void)
{
    size_t size;
    uint8_t *src = slurp(stream("speech.webm"), &size);
    feeder fd;
    feeder_init(&fd, src, size, 500);
    result small = read_all(&fd, LIVE_WEBM, 7);
    close(fd.fd);
    expect_ok(&small, "small");
    result whole = feed(LIVE_WEBM, src, size, 0);
    expect_same(&small, &whole);
    ASSERT_LE(small.n / 7, small.reads);
    free(small.s);
    free(whole.s);
    free(src);
}

/* wait_more's stop code comes back as it is, at once and for good, from
 * the header and from the middle; the read never waits again. */
static void test_stop(void)
{
    const struct {
        const char *file;
        enum live_format f;
    } list[] = {{"speech.s16le", LIVE_S16LE},
                {"speech.webm", LIVE_WEBM},
                {"speech.ogg", LIVE_OGG},
                {"speech-aac-f100.mp4", LIVE_MP4}};
    for (size_t i = 0; i < sizeof list / sizeof *list; i++)
        for (int on = 1; on <= 20; on += 19) {
            size_t size;
            uint8_t *src = slurp(stream(list[i].file), &size);
            feeder fd;
            feeder_init(&fd, src, size, 300);
            fd.stop_on_call = on;
            fd.stop_code = HARK_ECANCELED;
            result r = read_all(&fd, list[i].f, 4096);
            expect_error(&r, HARK_ECANCELED, "live.in': stopped");
            ASSERT_EQ(fd.calls, on);
            if (on == 1)
                ASSERT_EQ(r.n, 0);
            else
                ASSERT(r.n > 0);
            close(fd.fd);
            free(r.s);
            free(src);
        }
    /* any code: a timeout stays a timeout */
    size_t size;
    uint8_t *src = slurp(stream("speech.ogg"), &size);
    feeder fd;
    feeder_init(&fd, src, size, 300);
    fd.stop_on_call = 3;
    fd.stop_code = HARK_ETIMEDOUT;
    result r = read_all(&fd, LIVE_OGG, 4096);
    expect_error(&r, HARK_ETIMEDOUT, "stopped");
    close(fd.fd);
    free(r.s);
    free(src);
}

/* An input that ends with nothing in it is an empty result, whatever the format. */
static void test_empty(void)
{
    for (int f = LIVE_S16LE; f <= LIVE_MP4; f++) {
        result r = feed((enum live_format)f, (const uint8_t *)"", 0, 0);
        expect_ok(&r, live_format_name((enum live_format)f));
        ASSERT_EQ(r.n, 0);
        free(r.s);
    }
}

/* Cut short at the end: the samples before the cut, then a clear error
 * (never a hang); cut inside the header: the error alone. */
static void test_truncated(void)
{
    for (size_t c = 0; c < 8; c++) {
        size_t size;
        uint8_t *src = slurp(stream(cases[c].file), &size);
        result whole = feed(cases[c].f, src, size, 0);
        expect_ok(&whole, cases[c].file);
        size_t cut = size * 2 / 3 + 5;
        result r = feed(cases[c].f, src, cut, 333);
        if (r.rc == 0)
            TEST_FAIL_("%s cut at %zu: no error", cases[c].file, cut);
        expect_error(&r, HARK_EMEDIA, "stream is cut short (it ends inside the");
        printf("     %s: %s (%lld of %lld samples)\n", cases[c].file, r.err.msg, (long long)r.n,
               (long long)whole.n);
        ASSERT(r.n > 0 && r.n < whole.n);
        /* the same samples but the last few, where the resampler's filter
         * was drained instead of fed what followed */
        ASSERT(memcmp(r.s, whole.s, (size_t)(r.n - 32) * sizeof *r.s) == 0);
        free(r.s);
        r = feed(cases[c].f, src, 30, 7);
        expect_error(&r, HARK_EMEDIA, "cut short");
        ASSERT_EQ(r.n, 0);
        free(r.s);
        free(whole.s);
        free(src);
    }
}

/* Where an element, page or box starts at or after `from`: a Cluster, an
 * Ogg page, a top-level MP4 box. */
static size_t boundary_after(enum live_format f, const uint8_t *p, size_t size, size_t from)
{
    if (f == LIVE_MP4) {
        size_t at = 0;
        while (at < from && at + 8 <= size)
            at +=
                (size_t)p[at] << 24 | (size_t)p[at + 1] << 16 | (size_t)p[at + 2] << 8 | p[at + 3];
        return at;
    }
    const char *magic = f == LIVE_OGG ? "OggS" : "\x1F\x43\xB6\x75";
    for (size_t at = from; at + 4 <= size; at++)
        if (memcmp(p + at, magic, 4) == 0)
            return at;
    return size;
}

static uint8_t *with_garbage(const uint8_t *src, size_t size, size_t at, size_t n)
{
    uint8_t *bad = malloc(size + n);
    ASSERT(bad);
    memcpy(bad, src, at);
    for (size_t i = 0; i < n; i++)
        bad[at + i] = (uint8_t)(i * 131 + 7);
    memcpy(bad + at + n, src + at, size - at);
    return bad;
}

static long long error_byte(const result *r)
{
    const char *p = strstr(r->err.msg, "at byte ");
    if (!p)
        TEST_FAIL_("no byte in: %s", r->err.msg);
    return strtoll(p + 8, NULL, 10);
}

/* Garbage in the middle: the samples before it, then an error. Put where
 * an element, page or box starts, it is named at its byte; anywhere else,
 * it shows where the structure breaks after it (an Ogg page: its checksum),
 * or, inside the media data of a one-fragment MP4, as packets that do not
 * decode. */
static void test_garbage_middle(void)
{
    for (size_t c = 0; c < 8; c++) {
        enum live_format f = cases[c].f;
        size_t size;
        uint8_t *src = slurp(stream(cases[c].file), &size);
        result whole = feed(f, src, size, 0);
        size_t at = boundary_after(f, src, size, size / 2);
        ASSERT(at < size);
        uint8_t *bad = with_garbage(src, size, at, 300);
        result r = feed(f, bad, size + 300, 250);
        printf("     %s at a boundary: %s (%lld samples)\n", cases[c].file, r.err.msg,
               (long long)r.n);
        expect_error(&r, HARK_EMEDIA, "invalid data in the");
        ASSERT_EQ(error_byte(&r), at);
        ASSERT(r.n > 0 && r.n <= whole.n); /* one-fragment MP4: the box after it all is 'mfra' */
        free(r.s);
        free(bad);

        at = size / 2 + 11;
        bad = with_garbage(src, size, at, 300);
        r = feed(f, bad, size + 300, 250);
        printf("     %s inside: %s (%lld samples)\n", cases[c].file, r.err.msg, (long long)r.n);
        ASSERT(r.n > 0);
        if (strstr(r.err.msg, "audio does not decode")) {
            ASSERT(strstr(cases[c].file, "mp4") && !strstr(cases[c].file, "f100"));
        } else {
            expect_error(&r, HARK_EMEDIA, "invalid data in the");
            ASSERT_LE(error_byte(&r), size + 300);
            ASSERT_LE((long long)at - 65536, error_byte(&r));
        }
        free(r.s);
        free(bad);
        free(whole.s);
        free(src);
    }
}

/* What is not the format asked for is refused from its first bytes, saying what it looks like. */
static void test_wrong_container(void)
{
    result r = feed_file(LIVE_WEBM, "speech.ogg", 400);
    expect_error(&r, HARK_EMEDIA,
                 "live.in': the audio is not a WebM stream (it starts like an Ogg stream)");
    ASSERT_EQ(r.n, 0);
    free(r.s);
    r = feed_file(LIVE_OGG, "speech.webm", 400);
    expect_error(&r, HARK_EMEDIA, "not an Ogg stream (it starts like a WebM/Matroska stream)");
    free(r.s);
    r = feed_file(LIVE_MP4, "speech.webm", 400);
    expect_error(&r, HARK_EMEDIA, "not an MP4 stream (it starts like a WebM/Matroska stream)");
    free(r.s);
    r = feed_file(LIVE_WEBM, "speech-aac.mp4", 400);
    expect_error(&r, HARK_EMEDIA, "not a WebM stream (it starts like an MP4 file)");
    free(r.s);
    r = feed_file(LIVE_OGG, "speech.s16le", 400);
    expect_error(&r, HARK_EMEDIA, "not an Ogg stream (its first bytes are");
    free(r.s);
    static const char json[] = "{\"audio\": \"AAAA\", \"format\": \"webm\"}";
    r = feed(LIVE_WEBM, (const uint8_t *)json, sizeof json - 1, 5);
    expect_error(&r, HARK_EMEDIA, "not a WebM stream (it starts like JSON text)");
    free(r.s);
    static const char html[] = "<html><head><title>413 Request Entity Too Large</title>";
    r = feed(LIVE_MP4, (const uint8_t *)html, sizeof html - 1, 0);
    expect_error(&r, HARK_EMEDIA, "not an MP4 stream (it starts like an HTML page)");
    free(r.s);
}

/* Tracks we cannot use: none that is audio, an audio codec not taken. */
static void test_tracks(void)
{
    result r = feed_file(LIVE_WEBM, "video-only.webm", 1000);
    expect_error(&r, HARK_EMEDIA, "live.in': no audio track in the WebM stream");
    free(r.s);
    r = feed_file(LIVE_WEBM, "speech-mp3.mkv", 1000);
    expect_error(
        &r, HARK_EMEDIA,
        "unsupported codec 'mp3' in the WebM stream (allowed: opus, vorbis, pcm_f32le, pcm_s16le)");
    free(r.s);
}

/* A recorder restarted mid-job appends a second stream: in WebM and MP4,
 * the first one's samples, then an error at the second header. */
static void test_second_stream(void)
{
    const char *files[] = {"speech.webm", "speech-aac-f100.mp4"};
    enum live_format fs[] = {LIVE_WEBM, LIVE_MP4};
    for (int i = 0; i < 2; i++) {
        size_t size;
        uint8_t *src = slurp(stream(files[i]), &size);
        uint8_t *two = malloc(2 * size);
        ASSERT(two);
        memcpy(two, src, size);
        memcpy(two + size, src, size);
        result one = feed(fs[i], src, size, 0);
        result r = feed(fs[i], two, 2 * size, 1000);
        char want[96];
        snprintf(want, sizeof want, "at byte %zu (a second", size);
        expect_error(&r, HARK_EMEDIA, want);
        ASSERT_NEAR(r.n, one.n, 2048);
        free(r.s);
        free(one.s);
        free(two);
        free(src);
    }
    /* Ogg streams may be chained (RFC 3533): a restarted recorder's second
     * stream is decoded after the first */
    size_t size;
    uint8_t *src = slurp(stream("speech.ogg"), &size);
    uint8_t *two = malloc(2 * size);
    ASSERT(two);
    memcpy(two, src, size);
    memcpy(two + size, src, size);
    result one = feed(LIVE_OGG, src, size, 0);
    result r = feed(LIVE_OGG, two, 2 * size, 1000);
    expect_ok(&r, "chained");
    ASSERT_NEAR(r.n, 2 * one.n, 320);
    free(r.s);
    /* and what follows the end of a stream must be another one */
    memcpy(two + size, "garbage after the end", 21);
    r = feed(LIVE_OGG, two, size + 21, 1000);
    expect_error(&r, HARK_EMEDIA, "invalid data in the Ogg stream at byte");
    ASSERT_EQ(r.n, one.n);
    free(r.s);
    free(one.s);
    free(two);
    free(src);
}

/* ---- latency ---- */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* ffprobe's packets (pts, duration, size, pos) as a packet_map. A WebM or
 * MP4 packet is complete at pos + size; an Ogg packet when its page is,
 * where the next page starts (ffprobe gives the page's position). */
static void map_packets(const char *name, enum live_format f, size_t file_size, packet_map *m)
{
    ASSERT_EQ(sh("ffprobe -v error -select_streams a -show_entries "
                 "packet=pts_time,duration_time,size,pos -of csv=p=0 '%s' > packets.csv",
                 stream(name)),
              0);
    FILE *in = fopen("packets.csv", "r");
    ASSERT(in);
    size_t cap = 1024, n = 0;
    double *pts = malloc(cap * sizeof *pts), *dur = malloc(cap * sizeof *dur);
    int64_t *pos = malloc(cap * sizeof *pos), *size = malloc(cap * sizeof *size);
    char line[256];
    while (fgets(line, sizeof line, in)) {
        char d[32];
        long long sz, ps;
        if (n == cap || sscanf(line, "%lf,%31[^,],%lld,%lld", &pts[n], d, &sz, &ps) != 4)
            continue;
        dur[n] = strcmp(d, "N/A") == 0 ? -1 : strtod(d, NULL);
        size[n] = sz;
        pos[n] = ps;
        n++;
    }
    fclose(in);
    ASSERT(n > 10);
    /* sorted by completion */
    int64_t *order = malloc(n * 2 * sizeof *order);
    m->n = n;
    m->bytes = malloc(n * sizeof *m->bytes);
    m->t = malloc(n * sizeof *m->t);
    for (size_t i = 0; i < n; i++) {
        if (dur[i] < 0)
            dur[i] = i + 1 < n ? pts[i + 1] - pts[i] : 0;
        int64_t done = pos[i] + size[i];
        if (f == LIVE_OGG) {
            done = (int64_t)file_size;
            for (size_t k = i + 1; k < n; k++)
                if (pos[k] != pos[i]) {
                    done = pos[k];
                    break;
                }
        }
        order[2 * i] = done;
        order[2 * i + 1] = (int64_t)i;
    }
    qsort(order, n, 2 * sizeof *order, cmp_i64);
    double t = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = (size_t)order[2 * i + 1];
        if (pts[k] + dur[k] > t)
            t = pts[k] + dur[k];
        m->bytes[i] = order[2 * i];
        m->t[i] = t;
    }
    free(order);
    free(pts);
    free(dur);
    free(pos);
    free(size);
}

/* Fed in 100 ms pieces (by the stream's average byte rate), how far behind
 * is the decoded audio, each time the reader has taken every byte there is:
 *   reader lag: behind the packets complete in the bytes written (what this
 *     module holds back: at most a packet and the resampler's few samples);
 *   stream lag: behind the pieces' 100 ms each (that plus how the muxer
 *     groups packets: Ogg pages, MP4 fragments; the header's bytes make the
 *     first pieces carry less, so the first three are not counted). */
static void test_latency(void)
{
    const struct {
        const char *file;
        enum live_format f;
        double max_stream_lag; /* seconds */
    } list[] = {
        {"speech.webm", LIVE_WEBM, 0.2},         {"speech-p100.ogg", LIVE_OGG, 0.25},
        {"speech.ogg", LIVE_OGG, 1.3},           {"speech-aac-f100.mp4", LIVE_MP4, 0.3},
        {"speech-opus-f100.mp4", LIVE_MP4, 0.3}, {"speech-aac.mp4", LIVE_MP4, 1},
        {"speech-opus.mp4", LIVE_MP4, 1},        {"speech-video.webm", LIVE_WEBM, 0.3},
    };
    for (size_t i = 0; i < sizeof list / sizeof *list; i++) {
        size_t size;
        uint8_t *src = slurp(stream(list[i].file), &size);
        packet_map map;
        map_packets(list[i].file, list[i].f, size, &map);
        result whole = feed(list[i].f, src, size, 0);
        double dur = pcm_seconds(whole.n);
        feeder fd;
        feeder_init(&fd, src, size, (size_t)((double)size / dur / 10 + 0.5));
        fd.piece_s = (double)fd.piece / (double)size * dur;
        fd.skip_lag = 3;
        fd.map = &map;
        result r = read_all(&fd, list[i].f, 4096);
        expect_ok(&r, list[i].file);
        printf("     %-20s pieces of %4zu bytes (%3.0f ms): reader lag mean %3.0f max %3.0f ms, "
               "stream lag mean %4.0f max %4.0f ms\n",
               list[i].file, fd.piece, fd.piece_s * 1000, fd.reader_sum / fd.reader_n * 1000,
               fd.reader_max * 1000, fd.lag_sum / fd.lag_n * 1000, fd.lag_max * 1000);
        /* a 20 ms Opus or 64 ms AAC packet, and the resampler's delay */
        ASSERT_LE(fd.reader_max, 0.070);
        ASSERT_LE(fd.lag_max, list[i].max_stream_lag);
        close(fd.fd);
        free(map.bytes);
        free(map.t);
        free(r.s);
        free(whole.s);
        free(src);
    }
    /* s16le: nothing held back */
    size_t size;
    uint8_t *src = slurp(stream("speech.s16le"), &size);
    feeder fd;
    feeder_init(&fd, src, size, 3200);
    fd.piece_s = 0.1;
    result r = read_all(&fd, LIVE_S16LE, 4096);
    printf("     speech.s16le pieces of 3200 bytes (100 ms): lag max %.0f ms\n", fd.lag_max * 1000);
    ASSERT_LE(fd.lag_max, 0.0001);
    close(fd.fd);
    free(r.s);
    free(src);
}

/* The MP4 demuxer's replacements (every 4096 packets, see reopen_mp4)
 * keep every sample whatever the pieces: 200 s of 48 kHz AAC (9376
 * packets: two replacements) whose fragments give absolute data offsets
 * (no default_base_moof), appended 7 bytes at a time. */
static void test_mp4_reopen(void)
{
    char src[600];
    snprintf(src, sizeof src, "'%s/sense_and_sensibility_01_austen_64kb-0870.wav'",
             test_data_dir());
    ASSERT_EQ(sh("ffmpeg -nostdin -v error -y -stream_loop -1 -i %s -t 200 -ar 48000 -c:a aac "
                 "-b:a 48k -movflags frag_keyframe+empty_moov -frag_duration 300000 long.mp4 && "
                 "ffmpeg -nostdin -v error -y -i long.mp4 -f s16le -ac 1 -ar 16000 ref.raw",
                 src),
              0);
    size_t size, ref_size;
    uint8_t *mp4 = slurp("long.mp4", &size);
    int16_t *ref = (int16_t *)slurp("ref.raw", &ref_size);
    result r = feed(LIVE_MP4, mp4, size, 7);
    expect_ok(&r, "long.mp4");
    ASSERT_EQ(r.n, (int64_t)(ref_size / 2));
    ASSERT(memcmp(r.s, ref, ref_size) == 0);
    free(r.s);
    free(ref);
    free(mp4);
}

/* ---- memory ---- */

/* A file that is all there; the limit grows 4000 bytes a wait. */
static int grow_wait(void *ctx, int64_t have, int64_t *limit, bool *ended)
{
    int64_t *g = ctx; /* size, limit */
    ASSERT_EQ(have, g[1]);
    g[1] = g[1] + 4000 < g[0] ? g[1] + 4000 : g[0];
    *limit = g[1];
    *ended = g[1] == g[0];
    return 0;
}

static long max_rss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* Read a whole stream, comparing as it goes with the one-shot decode in
 * ref (a raw file; NULL: none), keeping nothing. Returns the samples read. */
static int64_t stream_compare(const char *path, enum live_format f, const char *ref, int64_t *same)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ASSERT(fd >= 0);
    struct stat st;
    ASSERT_EQ(fstat(fd, &st), 0);
    int64_t g[2] = {st.st_size, 0};
    FILE *rf = ref ? fopen(ref, "rb") : NULL;
    ASSERT(rf || !ref);
    live_input_io io = {grow_wait, g};
    live_input *in;
    hark_err err;
    ASSERT_EQ(live_input_open(fd, "long", f, &io, &in, &err), 0);
    int16_t buf[4096], rbuf[4096];
    int64_t n = 0, got;
    *same = 0;
    bool differ = false;
    while ((got = live_input_read(in, buf, 4096, &err)) > 0) {
        size_t r = rf ? fread(rbuf, sizeof *rbuf, (size_t)got, rf) : 0;
        for (size_t i = 0; i < r && !differ; i++, (*same)++)
            differ = buf[i] != rbuf[i];
        n += got;
    }
    if (got < 0)
        TEST_FAIL_("%s: %s", path, err.msg);
    live_input_close(in);
    if (rf)
        fclose(rf);
    close(fd);
    return n;
}

/* Half an hour (10 min with HARK_TEST_QUICK) in the memory of a few minutes: the demuxers' indexes
 * are bounded (matroska's reduced, MP4's demuxer replaced now and then, see reopen_mp4), and the
 * samples are those of a one-shot decode. */
static void test_constant_memory(void)
{
    char src[600];
    snprintf(src, sizeof src, "'%s/sense_and_sensibility_01_austen_64kb-0870.wav'",
             test_data_dir());
    double t0 = clock_now_s();
    int secs = getenv("HARK_TEST_QUICK") ? 600 : 1800;
    ASSERT_EQ(sh("ffmpeg -nostdin -v error -y -stream_loop -1 -i %s -t %d -c:a libopus -b:a 16k "
                 "-compression_level 0 -f webm pipe:1 > long.webm",
                 src, secs),
              0);
    const char *frag = "-movflags frag_keyframe+empty_moov+default_base_moof -frag_duration 100000";
    /* the same packets in the other containers; a one-shot decode of the MP4 to compare */
    ASSERT_EQ(
        sh("ffmpeg -nostdin -v error -y -i long.webm -c copy %s long.mp4 && "
           "ffmpeg -nostdin -v error -y -i long.webm -c copy -page_duration 100000 long.ogg && "
           "for f in webm mp4 ogg; do ffmpeg -nostdin -v error -y -i long.$f -t 180 -c copy "
           "$([ $f = mp4 ] && echo '%s') short.$f || exit 1; done && "
           "ffmpeg -nostdin -v error -y -i long.mp4 -f s16le -ac 1 -ar 16000 long-mp4.raw",
           frag, frag),
        0);
    printf("     made the streams in %.1f s\n", clock_now_s() - t0);
    const char *ext[] = {"webm", "ogg", "mp4"};
    enum live_format fs[] = {LIVE_WEBM, LIVE_OGG, LIVE_MP4};
    for (int i = 0; i < 3; i++) {
        char path[64];
        snprintf(path, sizeof path, "short.%s", ext[i]);
        int64_t same;
        int64_t n = stream_compare(path, fs[i], NULL, &same);
        ASSERT_NEAR(pcm_seconds(n), 180, 0.05);
        long before = max_rss_kb();
        snprintf(path, sizeof path, "long.%s", ext[i]);
        double t1 = clock_now_s();
        bool mp4 = fs[i] == LIVE_MP4;
        n = stream_compare(path, fs[i], mp4 ? "long-mp4.raw" : NULL, &same);
        long after = max_rss_kb();
        printf("     %d min %-4s: decoded in %.1f s, max RSS %ld -> %ld KiB after 3 min\n",
               secs / 60, ext[i], clock_now_s() - t1, before, after);
        ASSERT_NEAR(pcm_seconds(n), secs, 0.05);
        if (mp4) /* every sample, across the demuxer's replacements */
            ASSERT_EQ(same, n);
        /* without the MP4 demuxer's replacement: 5.7 MB more; ASan's
         * quarantine of freed memory looks like growth */
        ASSERT_LE(after - before, UNDER_ASAN ? 64 * 1024 : 1024);
    }
}

int main(void)
{
    const char *env = getenv("HARK_SOURCE_DIR");
    char src[512];
    snprintf(src, sizeof src, "%s", env ? env : __FILE__);
    if (!env) {
        char *p = strstr(src, "/src/media/live_input_test.c");
        if (p)
            *p = '\0';
        else
            snprintf(src, sizeof src, ".");
    }
    snprintf(corpus_dir, sizeof corpus_dir, "/tmp/hark-live-corpus-XXXXXX");
    if (!mkdtemp(corpus_dir)) {
        perror("mkdtemp");
        return 2;
    }
    if (sh("bash '%s/tests/corpus/make-live-streams.sh' '%s'", src, corpus_dir) != 0) {
        fprintf(stderr, "cannot generate the test streams\n");
        fs_rmtree(corpus_dir);
        return 2;
    }
    RUN(test_format_parse);
    RUN(test_check_head);
    RUN(test_s16le_pieces);
    RUN(test_s16le_prompt);
    RUN(test_containers_pieces);
    RUN(test_small_reads);
    RUN(test_stop);
    RUN(test_empty);
    RUN(test_truncated);
    RUN(test_garbage_middle);
    RUN(test_wrong_container);
    RUN(test_tracks);
    RUN(test_second_stream);
    RUN(test_latency);
    RUN(test_mp4_reopen);
    RUN(test_constant_memory);
    fs_rmtree(corpus_dir);
    TEST_DONE();
}
