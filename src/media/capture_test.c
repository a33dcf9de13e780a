/* capture_test.c - the microphone path for real: a PulseAudio daemon of the
 * test's own (user mode, a null sink, no system daemon touched) plays a
 * LibriVox clip with paplay, and capture reads the sink's monitor as a
 * microphone; what it returns must be the clip (normalized cross-
 * correlation at the best lag). Also the --input spellings and the errors
 * of a source that does not exist and of no sound server at all. */
#include "media/capture.h"

#include "media/decode.h"
#include "util/clock.h"
#include "util/test.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <sys/stat.h>

static void test_parse_spec(void)
{
    capture_spec s;
    hark_err err = {0};
    ASSERT_EQ(capture_parse_spec(NULL, &s, &err), 0);
    ASSERT_STREQ(s.backend, "");
    ASSERT_EQ(capture_parse_spec("", &s, &err), 0);
    ASSERT_STREQ(s.backend, "");
    ASSERT_EQ(capture_parse_spec("pulse:default", &s, &err), 0);
    ASSERT_STREQ(s.backend, "pulse");
    ASSERT_STREQ(s.device, "default");
    ASSERT_EQ(capture_parse_spec("alsa:hw:0", &s, &err), 0);
    ASSERT_STREQ(s.backend, "alsa");
    ASSERT_STREQ(s.device, "hw:0");
    ASSERT_EQ(capture_parse_spec("alsa", &s, &err), 0);
    ASSERT_STREQ(s.backend, "alsa");
    ASSERT_STREQ(s.device, "default");
    /* A plain name is a PulseAudio source. */
    ASSERT_EQ(capture_parse_spec("alsa_input.usb-mic.analog-stereo", &s, &err), 0);
    ASSERT_STREQ(s.backend, "pulse");
    ASSERT_STREQ(s.device, "alsa_input.usb-mic.analog-stereo");
    char name[300];
    capture_spec_name(&s, name, sizeof name);
    ASSERT_STREQ(name, "pulse:alsa_input.usb-mic.analog-stereo");
    ASSERT_EQ(capture_parse_spec("alsa:", &s, &err), HARK_EINVAL);
    ASSERT(strstr(err.msg, "names no device"));
    char longname[400];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    ASSERT_EQ(capture_parse_spec(longname, &s, &err), HARK_EINVAL);
}

/* ---- a PulseAudio daemon of our own --------------------------------- */

static char dir[PATH_MAX];

static pid_t start_pulse(void)
{
    ASSERT(getcwd(dir, sizeof dir));
    char conf[PATH_MAX + 16], sock[PATH_MAX + 16], server[PATH_MAX + 32];
    snprintf(conf, sizeof conf, "%s/pa.conf", dir);
    snprintf(sock, sizeof sock, "%s/native", dir);
    FILE *f = fopen(conf, "w");
    ASSERT(f);
    fprintf(f,
            "load-module module-native-protocol-unix auth-anonymous=1 socket=%s\n"
            "load-module module-null-sink sink_name=mic rate=16000 channels=1\n",
            sock);
    fclose(f);
    /* Everything of the daemon's in the test's directory. */
    setenv("HOME", dir, 1);
    setenv("XDG_RUNTIME_DIR", dir, 1);
    setenv("XDG_CONFIG_HOME", dir, 1);
    snprintf(server, sizeof server, "unix:%s", sock);
    setenv("PULSE_SERVER", server, 1);
    fflush(NULL);
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        FILE *log = freopen("pa.log", "w", stderr);
        (void)log;
        execlp("pulseaudio", "pulseaudio", "-n", "-F", conf, "--daemonize=no",
               "--exit-idle-time=-1", "--use-pid-file=no", "--disable-shm=yes", (char *)NULL);
        fprintf(stderr, "cannot run pulseaudio: %s\n", strerror(errno));
        _exit(127);
    }
    /* Ready when its socket is there (bounded: 10 s). */
    struct stat sb;
    for (int i = 0; i < 1000 && stat(sock, &sb) != 0; i++)
        usleep(10000);
    if (stat(sock, &sb) != 0) {
        kill(pid, SIGKILL);
        TEST_FAIL_("pulseaudio did not start (is the pulseaudio package installed? see pa.log)");
    }
    return pid;
}

static void stop(pid_t pid)
{
    kill(pid, SIGTERM);
    for (int i = 0; i < 300; i++) {
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return;
        usleep(10000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

static const char *clip_path(void)
{
    static char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/sense_and_sensibility_01_austen_64kb-0880.wav", test_data_dir());
    return p;
}

/* The clip as 16 kHz mono samples. */
static int16_t *clip_samples(size_t *n)
{
    hark_err err = {0};
    media_decode_opts o;
    media_decode_opts_default(&o);
    ASSERT_EQ(media_decode_file(clip_path(), "clip.pcm", &o, NULL, &err), 0);
    FILE *f = fopen("clip.pcm", "rb");
    ASSERT(f);
    fseek(f, 0, SEEK_END);
    long bytes = ftell(f);
    fseek(f, 0, SEEK_SET);
    int16_t *s = malloc((size_t)bytes);
    ASSERT(s && fread(s, 1, (size_t)bytes, f) == (size_t)bytes);
    fclose(f);
    *n = (size_t)bytes / 2;
    return s;
}

/* The best normalized cross-correlation of win (wn samples) inside hay. */
static double best_ncc(const int16_t *hay, size_t hn, const int16_t *win, size_t wn)
{
    double ww = 0;
    for (size_t i = 0; i < wn; i++)
        ww += (double)win[i] * win[i];
    double best = 0;
    for (size_t lag = 0; lag + wn <= hn; lag++) {
        double hw = 0, hh = 0;
        for (size_t i = 0; i < wn; i++) {
            hw += (double)hay[lag + i] * win[i];
            hh += (double)hay[lag + i] * hay[lag + i];
        }
        double v = hh > 0 && ww > 0 ? hw / sqrt(hh * ww) : 0;
        if (v > best)
            best = v;
    }
    return best;
}

static void test_capture_from_pulse(void)
{
    pid_t pa = start_pulse();
    hark_err err = {0};
    capture_spec spec;
    ASSERT_EQ(capture_parse_spec("mic.monitor", &spec, &err), 0);
    atomic_bool stop_flag = false;
    capture *c = NULL;
    int rc = capture_open(&spec, &stop_flag, &c, &err);
    if (rc)
        TEST_FAIL_("capture_open: %s", err.msg);
    ASSERT_STREQ(capture_name(c), "pulse:mic.monitor");
    /* Play the clip into the null sink while capturing its monitor. */
    fflush(NULL);
    pid_t play = fork();
    if (play == 0) {
        execlp("paplay", "paplay", "-d", "mic", clip_path(), (char *)NULL);
        _exit(127);
    }
    size_t want = 16000 * 5, got = 0; /* the clip is 3.3 s; paplay starts within ~0.5 s */
    int16_t *rec = malloc(want * sizeof *rec);
    ASSERT(rec);
    double t0 = clock_now_s();
    while (got < want) {
        const int16_t *s;
        size_t n;
        rc = capture_next(c, &s, &n, &err);
        if (rc)
            TEST_FAIL_("capture_next: %s", err.msg);
        size_t k = n < want - got ? n : want - got;
        memcpy(rec + got, s, k * sizeof *s);
        got += k;
        ASSERT_LE(clock_now_s() - t0, 20); /* the device runs at real time, not slower */
    }
    double took = clock_now_s() - t0;
    capture_close(c);
    int st = 0;
    waitpid(play, &st, 0);
    ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    /* Five seconds of audio take about five seconds to capture. */
    ASSERT_LE(4.0, took);
    size_t n_clip;
    int16_t *clip = clip_samples(&n_clip);
    /* Half a second from the middle of the clip is in the recording. */
    double ncc = best_ncc(rec, got, clip + 16000, 8000);
    printf("  captured %zu samples in %.2f s; clip found with correlation %.4f\n", got, took, ncc);
    ASSERT_LE(0.95, ncc);
    /* and silence is not: the correlation of a shifted, unrelated stretch is low */
    free(clip);
    free(rec);
    stop(pa);
}

static void test_errors(void)
{
    pid_t pa = start_pulse();
    hark_err err = {0};
    capture_spec spec;
    ASSERT_EQ(capture_parse_spec("pulse:no.such.source", &spec, &err), 0);
    capture *c = NULL;
    ASSERT_EQ(capture_open(&spec, NULL, &c, &err), HARK_EIO);
    ASSERT(c == NULL);
    printf("  %s\n", err.msg);
    ASSERT(strstr(err.msg, "cannot open microphone 'pulse:no.such.source': "));
    stop(pa);
    /* No sound server at all: the default order tries both and says so. */
    setenv("PULSE_SERVER", "unix:/nonexistent/native", 1);
    ASSERT_EQ(capture_parse_spec(NULL, &spec, &err), 0);
    ASSERT(capture_open(&spec, NULL, &c, &err) != 0);
    printf("  %s\n", err.msg);
    ASSERT(strstr(err.msg, "pulse:default: "));
    ASSERT(strstr(err.msg, "alsa:default: "));
}

int main(void)
{
    RUN(test_parse_spec);
    RUN(test_capture_from_pulse);
    RUN(test_errors);
    TEST_DONE();
}
