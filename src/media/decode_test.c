/* decode_test.c - media_decode_file/_memory over generated good and bad inputs.
 *
 * The inputs are made at test time by tests/corpus/make-bad-inputs.sh and
 * make-conversions.sh (sox and ffmpeg), once, into a directory shared by the
 * tests; each test runs in its own temporary working directory.
 */
#include "media/decode.h"

#include "media/pcm.h"
#include "util/clock.h"
#include "util/test.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/stat.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HARK_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define HARK_ASAN 1
#endif

#ifdef HARK_ASAN
/* ASan keeps freed memory in a quarantine (256 MB by default), which looks
 * like growth to the constant-memory test; keep it small in this binary. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "quarantine_size_mb=16";
}
#endif

static char corpus_dir[256];

static const char *bad(const char *name)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/bad/%s", corpus_dir, name);
    return path;
}

static const char *conv(const char *name)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/conv/%s", corpus_dir, name);
    return path;
}

static const char *speech_wav(void)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/sense_and_sensibility_01_austen_64kb-0870.wav",
             test_data_dir());
    return path;
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

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static void assert_no_pcm(void)
{
    ASSERT(!exists("out.pcm"));
    ASSERT(!exists("out.pcm.part"));
}

static uint8_t *slurp(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    ASSERT(f);
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

/* The whole PCM file (test inputs are short). */
static int16_t *read_pcm(const char *path, int64_t *n)
{
    pcm_file f;
    hark_err err;
    ASSERT_EQ(pcm_open(path, &f, &err), 0);
    int16_t *s = malloc((size_t)(f.n_samples + 1) * sizeof *s);
    ASSERT(s);
    ASSERT_EQ(pcm_read(&f, 0, s, (size_t)f.n_samples), f.n_samples);
    *n = f.n_samples;
    pcm_close(&f);
    return s;
}

static int decode_ok(const char *path, media_info *info)
{
    hark_err err;
    media_decode_opts o;
    media_decode_opts_default(&o);
    o.timeout_s = 60;
    int rc = media_decode_file(path, "out.pcm", &o, info, &err);
    if (rc != 0)
        TEST_FAIL_("decoding %s failed: %s", path, err.msg);
    ASSERT(exists("out.pcm"));
    ASSERT(!exists("out.pcm.part"));
    return rc;
}

static const char *base(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* Decode path as a file, then from memory, expecting code and a message that
 * names the input and contains cause. */
static void expect_fail(const char *path, int code, const char *cause)
{
    hark_err err;
    media_info info;
    media_decode_opts o;
    media_decode_opts_default(&o);
    o.timeout_s = 30;
    int rc = media_decode_file(path, "out.pcm", &o, &info, &err);
    if (rc != code || !strstr(err.msg, path) || (cause && !strstr(err.msg, cause)))
        TEST_FAIL_("%s: got %d '%s', want %d '...%s...'", base(path), rc, err.msg, code,
                   cause ? cause : "");
    ASSERT_EQ(err.code, code);
    ASSERT(!strchr(err.msg, '\n'));
    assert_no_pcm();

    struct stat st;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
        size_t n;
        uint8_t *data = slurp(path, &n);
        rc = media_decode_memory(data, n, base(path), "out.pcm", &o, &info, &err);
        free(data);
        if (rc != code || !strstr(err.msg, base(path)) || (cause && !strstr(err.msg, cause)))
            TEST_FAIL_("%s (memory): got %d '%s', want %d '...%s...'", base(path), rc, err.msg,
                       code, cause ? cause : "");
        assert_no_pcm();
    }
}

static void test_missing(void)
{
    expect_fail("nope.wav", HARK_ENOENT, "No such file or directory");
    expect_fail("nodir/nope.wav", HARK_ENOENT, "No such file or directory");
    expect_fail(bad("adir"), HARK_EINVAL, "is a directory");
    expect_fail("/dev/null", HARK_EINVAL, "not a regular file");
    expect_fail(bad("empty.wav"), HARK_EMEDIA, "empty file");
    hark_err err;
    ASSERT_EQ(media_decode_memory((const uint8_t *)"", 0, "mem.wav", NULL, NULL, NULL, &err),
              HARK_EMEDIA);
    ASSERT(strstr(err.msg, "'mem.wav': empty file"));
}

static void test_permission_denied(void)
{
    if (geteuid() == 0) {
        printf("     (running as root: permission check skipped)\n");
        return;
    }
    ASSERT_EQ(sh("cp '%s' locked.wav && chmod 000 locked.wav", speech_wav()), 0);
    expect_fail("locked.wav", HARK_EIO, "Permission denied");
}

static void test_not_media(void)
{
    expect_fail(bad("text.txt"), HARK_EMEDIA, "not a media file FFmpeg can read");
    expect_fail(bad("random.bin"), HARK_EMEDIA, NULL);
    expect_fail(bad("random.mp3"), HARK_EMEDIA, NULL);
    expect_fail(bad("silent-video.mp4"), HARK_EMEDIA, "no audio stream");
    expect_fail(bad("header-only.wav"), HARK_EMEDIA, "no decodable audio");
    expect_fail(bad("playlist.m3u8"), HARK_EMEDIA, "not followed");
    expect_fail(bad("list.ffconcat"), HARK_EMEDIA, "not followed");
    expect_fail(bad("zero-channels.wav"), HARK_EMEDIA,
                "unusable pcm_s16le audio stream (0 channels");
    expect_fail(bad("absurd-rate.wav"), HARK_EMEDIA, "not a media file FFmpeg can read");
    expect_fail(bad("huge-channels.wav"), HARK_EMEDIA, "(65535 channels, 16000 Hz)");
}

static void test_truncated(void)
{
    expect_fail(bad("truncated.wav"), HARK_EMEDIA, "truncated: header says 7.1 s, only 2.8 s");
    expect_fail(bad("truncated.mp3"), HARK_EMEDIA, "truncated: header says 15.5 s");
    expect_fail(bad("truncated-faststart.mp4"), HARK_EMEDIA, "truncated: header says 15.4 s");
    /* moov at the end, cut off: nothing to go on. */
    expect_fail(bad("truncated.mp4"), HARK_EMEDIA, "not a media file FFmpeg can read");
}

/* Bad input must not make FFmpeg print anything. */
static void test_quiet(void)
{
    fflush(stderr);
    int saved = dup(2);
    int fd = open("stderr.txt", O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ASSERT(saved >= 0 && fd >= 0);
    dup2(fd, 2);
    close(fd);
    static const char *inputs[] = {"random.bin",    "random.mp3",        "truncated.mp4",
                                   "text.txt",      "zero-channels.wav", "huge-channels.wav",
                                   "truncated.mp3", "corrupt-middle.mp3"};
    for (size_t i = 0; i < sizeof inputs / sizeof *inputs; i++) {
        hark_err err;
        media_decode_file(bad(inputs[i]), NULL, NULL, NULL, &err);
    }
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    struct stat st;
    ASSERT_EQ(stat("stderr.txt", &st), 0);
    if (st.st_size != 0) {
        sh("cat stderr.txt >&2");
        TEST_FAIL_("FFmpeg wrote %lld bytes to stderr", (long long)st.st_size);
    }
}

static void test_silence(void)
{
    media_info info;
    decode_ok(bad("silence.wav"), &info);
    ASSERT_EQ(info.n_samples, 10 * PCM_RATE);
    ASSERT_NEAR(info.duration_s, 10.0, 1e-9);
    ASSERT_NEAR(info.declared_duration_s, 10.0, 1e-6);
    ASSERT_STREQ(info.codec, "pcm_s16le");
    ASSERT_STREQ(info.container, "wav");
    ASSERT_EQ(info.src_rate, 16000);
    ASSERT_EQ(info.src_channels, 1);
    ASSERT_EQ(info.decode_errors, 0);
    int64_t n;
    int16_t *s = read_pcm("out.pcm", &n);
    ASSERT_EQ(n, 10 * PCM_RATE);
    for (int64_t i = 0; i < n; i++)
        if (s[i] != 0)
            TEST_FAIL_("sample %lld is %d, not 0", (long long)i, s[i]);
    free(s);
}

static void test_multichannel(void)
{
    media_info info;
    decode_ok(bad("multichannel.mp4"), &info);
    ASSERT_EQ(info.src_channels, 8);
    ASSERT_EQ(info.src_rate, 96000);
    ASSERT_STREQ(info.codec, "aac");
    ASSERT_NEAR(info.duration_s, 7.1, 0.1);
    decode_ok(bad("multichannel.mov"), &info);
    ASSERT_EQ(info.src_channels, 8);
    ASSERT_EQ(info.src_rate, 96000);
    ASSERT_STREQ(info.codec, "pcm_f32le");
    ASSERT_NEAR(info.duration_s, 1.5, 0.01);
}

/* A few damaged frames in an otherwise good file are skipped and counted. */
static void test_corrupt_middle(void)
{
    media_info info;
    decode_ok(bad("corrupt-middle.mp3"), &info);
    ASSERT_NEAR(info.duration_s, 15.48, 0.5);
    printf("     corrupt-middle.mp3: %d decode errors, %.2f s\n", info.decode_errors,
           info.duration_s);
}

static double correlation(const int16_t *a, const int16_t *b, int64_t n)
{
    double ab = 0, aa = 0, bb = 0;
    for (int64_t i = 0; i < n; i++) {
        ab += (double)a[i] * b[i];
        aa += (double)a[i] * a[i];
        bb += (double)b[i] * b[i];
    }
    return aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : 0;
}

/* The best correlation of b against a over small lags (resampler delay). */
static double best_correlation(const int16_t *a, int64_t na, const int16_t *b, int64_t nb,
                               int max_lag)
{
    double best = -1;
    for (int lag = -max_lag; lag <= max_lag; lag++) {
        const int16_t *pa = a, *pb = b;
        int64_t n = (na < nb ? na : nb) - max_lag;
        if (lag > 0)
            pb += lag;
        else
            pa -= lag;
        double c = correlation(pa, pb, n);
        if (c > best)
            best = c;
    }
    return best;
}

static void test_conversions(void)
{
    media_info info;
    decode_ok(speech_wav(), &info);
    int64_t n_ref;
    int16_t *ref = read_pcm("out.pcm", &n_ref);
    ASSERT_EQ(n_ref, pcm_samples(7.1));

    static const struct {
        const char *file, *codec;
        int rate, channels;
        double tolerance; /* seconds */
        double min_corr;  /* against the source */
        int max_lag;      /* samples: 64 covers resampler delays */
    } cases[] = {
        {"speech.flac", "flac", 16000, 1, 0.001, 0.9999, 64},
        {"speech.mp3", "mp3", 16000, 1, 0.1, 0.9, 64},
        {"speech.opus", "opus", 48000, 1, 0.1, 0.8, 64},
        {"speech.m4a", "aac", 16000, 1, 0.1, 0.9, 64},
        {"speech.ogg", "vorbis", 16000, 1, 0.1, 0.8, 64},
        {"speech-44k-stereo.wav", "pcm_s16le", 44100, 2, 0.01, 0.99, 64},
        {"speech-8k.wav", "pcm_s16le", 8000, 1, 0.01, 0.7, 64},
        {"speech-24bit.wav", "pcm_s24le", 16000, 1, 0.001, 0.9999, 64},
        {"speech-float.wav", "pcm_f32le", 16000, 1, 0.001, 0.9999, 64},
        {"speech.mp4", "aac", 16000, 1, 0.1, 0.9, 64},
        /* mp3 in Matroska carries no gapless info: LAME's 1105-sample delay stays. */
        {"speech.mkv", "mp3", 16000, 1, 0.1, 0.9, 1200},
        {"speech.webm", "opus", 48000, 1, 0.1, 0.8, 64},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *path = conv(cases[i].file);
        if (!exists(path)) {
            printf("     %s not made (encoder missing), skipped\n", cases[i].file);
            continue;
        }
        decode_ok(path, &info);
        int64_t n;
        int16_t *s = read_pcm("out.pcm", &n);
        double c = best_correlation(ref, n_ref, s, n, cases[i].max_lag);
        printf("     %-22s %-10s %6d Hz %d ch  %.4f s  corr %.4f\n", cases[i].file, info.codec,
               info.src_rate, info.src_channels, info.duration_s, c);
        ASSERT_STREQ(info.codec, cases[i].codec);
        ASSERT_EQ(info.src_rate, cases[i].rate);
        ASSERT_EQ(info.src_channels, cases[i].channels);
        ASSERT_EQ(info.n_samples, n);
        ASSERT_NEAR(info.duration_s, 7.1, cases[i].tolerance);
        if (c < cases[i].min_corr)
            TEST_FAIL_("%s: correlation %.4f < %.4f", cases[i].file, c, cases[i].min_corr);
        free(s);
    }
    free(ref);
}

/* The same bytes from memory give the same samples as from the file. */
static void test_memory_matches_file(void)
{
    media_info a, b;
    decode_ok(conv("speech.mp4"), &a);
    ASSERT_EQ(rename("out.pcm", "file.pcm"), 0);
    size_t size;
    uint8_t *data = slurp(conv("speech.mp4"), &size);
    hark_err err;
    ASSERT_EQ(media_decode_memory(data, size, "speech.mp4", "out.pcm", NULL, &b, &err), 0);
    free(data);
    ASSERT_EQ(a.n_samples, b.n_samples);
    ASSERT_EQ(sh("cmp -s file.pcm out.pcm"), 0);
    ASSERT(strstr(a.container, "mp4"));
}

static void test_too_long(void)
{
    hark_err err;
    media_info info;
    media_decode_opts o;
    media_decode_opts_default(&o);
    o.max_duration_s = 60;
    /* Declared by the container: refused before decoding. */
    double t0 = clock_now_s();
    ASSERT_EQ(media_decode_file(bad("long.flac"), "out.pcm", &o, &info, &err), HARK_ETOOLONG);
    ASSERT_LE(clock_now_s() - t0, 1.0);
    ASSERT(strstr(err.msg, "long.flac': longer than the maximum of 60 s"));
    assert_no_pcm();
    /* Not declared (mp3 with no Xing header: only a bitrate estimate):
     * refused as soon as the decoded audio passes the limit. */
    ASSERT_EQ(sh("ffmpeg -nostdin -loglevel error -i '%s' -c:a libmp3lame -b:a 32k -write_xing 0 "
                 "noxing.mp3",
                 speech_wav()),
              0);
    o.max_duration_s = 3;
    ASSERT_EQ(media_decode_file("noxing.mp3", "out.pcm", &o, &info, &err), HARK_ETOOLONG);
    ASSERT(strstr(err.msg, "'noxing.mp3': longer than the maximum of 3 s"));
    assert_no_pcm();
    o.max_duration_s = 8;
    ASSERT_EQ(media_decode_file("noxing.mp3", "out.pcm", &o, &info, &err), 0);
}

static void test_timeout(void)
{
    hark_err err;
    media_decode_opts o;
    media_decode_opts_default(&o);
    o.timeout_s = 0.001;
    double t0 = clock_now_s();
    ASSERT_EQ(media_decode_file(bad("long.flac"), "out.pcm", &o, NULL, &err), HARK_ETIMEDOUT);
    ASSERT_LE(clock_now_s() - t0, 0.5);
    ASSERT(strstr(err.msg, "long.flac': timed out after 0.001 s"));
    assert_no_pcm();
}

struct checkin_log {
    int calls, stop_after;
    double last_decoded, total;
};

static int checkin_cb(void *ctx, double decoded_s, double total_s)
{
    struct checkin_log *l = ctx;
    ASSERT(decoded_s >= l->last_decoded);
    l->last_decoded = decoded_s;
    l->total = total_s;
    l->calls++;
    return l->stop_after && l->calls >= l->stop_after;
}

static void test_checkin(void)
{
    hark_err err;
    media_info info;
    media_decode_opts o;
    media_decode_opts_default(&o);
    struct checkin_log l = {0};
    o.checkin = checkin_cb;
    o.checkin_ctx = &l;
    decode_ok(bad("long.flac"), &info);
    ASSERT_EQ(media_decode_file(bad("long.flac"), "out.pcm", &o, &info, &err), 0);
    ASSERT(l.calls >= 100); /* about once a second of audio */
    ASSERT_NEAR(l.total, 120, 0.01);
    unlink("out.pcm");

    struct checkin_log stop = {.stop_after = 5};
    o.checkin_ctx = &stop;
    ASSERT_EQ(media_decode_file(bad("long.flac"), "out.pcm", &o, &info, &err), HARK_ECANCELED);
    ASSERT_EQ(stop.calls, 5);
    ASSERT(strstr(err.msg, "long.flac': cancelled"));
    assert_no_pcm();
}

static void test_bad_output_path(void)
{
    hark_err err;
    ASSERT_EQ(media_decode_file(speech_wav(), "no/such/dir/out.pcm", NULL, NULL, &err), HARK_EIO);
    ASSERT(strstr(err.msg, "no/such/dir/out.pcm"));
}

static long max_rss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* Invariant 8: a 2-hour input decodes in constant memory. */
static void test_constant_memory(void)
{
    double t0 = clock_now_s();
    /* 8 kHz so the resampler works too; quiet noise keeps FLAC fast. */
    ASSERT_EQ(sh("sox -q -R -r 8000 -n -r 8000 -c 1 -b 16 long.flac synth 7200 whitenoise "
                 "vol 0.001"),
              0);
    double t1 = clock_now_s();
    /* Warm up FFmpeg's lazily allocated tables on a short input first. */
    media_info info;
    decode_ok(speech_wav(), &info);
    long before = max_rss_kb();
    decode_ok("long.flac", &info);
    long after = max_rss_kb();
    printf("     2 h flac: made in %.1f s, decoded in %.1f s, max RSS %ld -> %ld KiB\n", t1 - t0,
           clock_now_s() - t1, before, after);
    ASSERT_EQ(info.n_samples, (int64_t)7200 * PCM_RATE);
    ASSERT_LE(after - before, 64 * 1024);
}

int main(void)
{
    /* ctest sets HARK_SOURCE_DIR; else find the tree from this file's path. */
    char src[512];
    const char *env = getenv("HARK_SOURCE_DIR");
    snprintf(src, sizeof src, "%s", env ? env : __FILE__);
    if (!env) {
        char *p = strstr(src, "/src/media/decode_test.c");
        if (p)
            *p = '\0';
        else
            snprintf(src, sizeof src, ".");
    }
    snprintf(corpus_dir, sizeof corpus_dir, "/tmp/hark-decode-corpus-XXXXXX");
    if (!mkdtemp(corpus_dir)) {
        perror("mkdtemp");
        return 2;
    }
    if (sh("bash '%s/tests/corpus/make-bad-inputs.sh' '%s/bad' && "
           "bash '%s/tests/corpus/make-conversions.sh' '%s/conv'",
           src, corpus_dir, src, corpus_dir) != 0) {
        fprintf(stderr, "cannot generate the test inputs\n");
        fs_rmtree(corpus_dir);
        return 2;
    }
    RUN(test_missing);
    RUN(test_permission_denied);
    RUN(test_not_media);
    RUN(test_truncated);
    RUN(test_quiet);
    RUN(test_silence);
    RUN(test_multichannel);
    RUN(test_corrupt_middle);
    RUN(test_conversions);
    RUN(test_memory_matches_file);
    RUN(test_too_long);
    RUN(test_timeout);
    RUN(test_checkin);
    RUN(test_bad_output_path);
    RUN(test_constant_memory);
    fs_rmtree(corpus_dir);
    TEST_DONE();
}
