/* clip_test.c - clip_export and clip_probe over inputs made at test time.
 *
 * The fixtures are short files made once with the ffmpeg CLI into a
 * directory the tests share (a wav, a stereo 44.1 kHz mp3 and m4a, an mp4
 * with h264 + aac, a matroska with h264 + opus, a webm with vp8 + vorbis),
 * plus the bad-input corpus of tests/corpus/make-bad-inputs.sh. Each clip
 * is checked by reopening it with libavformat and decoding it: codec,
 * container, channels, rate, duration; copies also for untouched codec
 * parameters and a keyframe first.
 *
 * `clip_test --bench FILE [N]` times N (10) stream-copy exports of 15 s
 * from FILE (bench/clip_export.sh); it is not a test.
 */
#include "media/clip.h"

#include "util/clock.h"
#include "util/test.h"

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>

static char fix_dir[256];
static char corpus_dir[300];

static const char *fix(const char *name)
{
    static char path[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(path[k], sizeof path[k], "%s/%s", fix_dir, name);
    return path[k];
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    return system(cmd);
}

static int open_in(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        TEST_FAIL_("cannot open %s: %s", path, strerror(errno));
    return fd;
}

/* Files in the working directory (the clips and any temporaries). */
static int count_files(void)
{
    DIR *d = opendir(".");
    ASSERT(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

/* ---- what a clip holds, measured by reading it back ---- */

typedef struct measured {
    char container[64];
    int n_streams;
    char acodec[32], vcodec[32];
    int channels, rate;
    double audio_s;  /* audio duration from decoded samples */
    double stream_s; /* max over streams of last pts + duration - first pts */
    double video_first_s;
    bool first_video_key;
    AVCodecParameters *vpar, *apar;
} measured;

static void measured_free(measured *m)
{
    avcodec_parameters_free(&m->vpar);
    avcodec_parameters_free(&m->apar);
}

static void measure(const char *path, measured *m)
{
    memset(m, 0, sizeof *m);
    AVFormatContext *fmt = NULL;
    ASSERT_EQ(avformat_open_input(&fmt, path, NULL, NULL), 0);
    ASSERT(avformat_find_stream_info(fmt, NULL) >= 0);
    snprintf(m->container, sizeof m->container, "%s", fmt->iformat->name);
    m->n_streams = (int)fmt->nb_streams;
    int ai = av_find_best_stream(fmt, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0);
    int vi = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    AVCodecContext *dec = NULL;
    if (ai >= 0) {
        AVCodecParameters *p = fmt->streams[ai]->codecpar;
        snprintf(m->acodec, sizeof m->acodec, "%s", avcodec_get_name(p->codec_id));
        m->channels = p->ch_layout.nb_channels;
        m->rate = p->sample_rate;
        m->apar = avcodec_parameters_alloc();
        avcodec_parameters_copy(m->apar, p);
        const AVCodec *codec = avcodec_find_decoder(p->codec_id);
        dec = avcodec_alloc_context3(codec);
        avcodec_parameters_to_context(dec, p);
        dec->pkt_timebase = fmt->streams[ai]->time_base;
        ASSERT_EQ(avcodec_open2(dec, codec, NULL), 0);
    }
    if (vi >= 0) {
        snprintf(m->vcodec, sizeof m->vcodec, "%s",
                 avcodec_get_name(fmt->streams[vi]->codecpar->codec_id));
        m->vpar = avcodec_parameters_alloc();
        avcodec_parameters_copy(m->vpar, fmt->streams[vi]->codecpar);
    }
    int64_t first[16], last[16];
    for (int i = 0; i < 16; i++)
        first[i] = last[i] = AV_NOPTS_VALUE;
    AVPacket *pkt = av_packet_alloc();
    AVFrame *frame = av_frame_alloc();
    int64_t samples = 0;
    bool seen_video = false;
    while (av_read_frame(fmt, pkt) >= 0) {
        int i = pkt->stream_index;
        if (i < 16 && pkt->pts != AV_NOPTS_VALUE) {
            if (first[i] == AV_NOPTS_VALUE || pkt->pts < first[i])
                first[i] = pkt->pts;
            if (last[i] == AV_NOPTS_VALUE || pkt->pts + pkt->duration > last[i])
                last[i] = pkt->pts + pkt->duration;
        }
        if (i == vi && !seen_video) {
            seen_video = true;
            m->first_video_key = pkt->flags & AV_PKT_FLAG_KEY;
            m->video_first_s = (double)pkt->pts * av_q2d(fmt->streams[i]->time_base);
        }
        if (i == ai && dec && avcodec_send_packet(dec, pkt) >= 0)
            while (avcodec_receive_frame(dec, frame) >= 0)
                samples += frame->nb_samples;
        av_packet_unref(pkt);
    }
    if (dec && avcodec_send_packet(dec, NULL) >= 0)
        while (avcodec_receive_frame(dec, frame) >= 0)
            samples += frame->nb_samples;
    if (m->rate)
        m->audio_s = (double)samples / m->rate;
    for (unsigned i = 0; i < fmt->nb_streams && i < 16; i++)
        if (first[i] != AV_NOPTS_VALUE) {
            double s = (double)(last[i] - first[i]) * av_q2d(fmt->streams[i]->time_base);
            if (s > m->stream_s)
                m->stream_s = s;
        }
    av_frame_free(&frame);
    av_packet_free(&pkt);
    avcodec_free_context(&dec);
    avformat_close_input(&fmt);
}

/* The duration ffprobe (the CLI) reports for a file's container. */
static double ffprobe_duration(const char *path)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "ffprobe -v error -show_entries format=duration -of default=nw=1:nk=1 '%s'", path);
    FILE *p = popen(cmd, "r");
    ASSERT(p);
    double d = -1;
    if (fscanf(p, "%lf", &d) != 1)
        d = -1;
    pclose(p);
    return d;
}

static void assert_no_partial(const char *out, int files_before)
{
    struct stat st;
    ASSERT(stat(out, &st) != 0 && errno == ENOENT);
    ASSERT_EQ(count_files(), files_before);
}

/* ---- tests ---- */

static void test_format_names(void)
{
    hark_err err;
    for (int f = CLIP_WAV; f <= CLIP_COPY; f++) {
        clip_format g;
        ASSERT_EQ(clip_format_parse(clip_format_name((clip_format)f), &g, &err), 0);
        ASSERT_EQ(g, f);
    }
    clip_format g;
    ASSERT_EQ(clip_format_parse("ogg", &g, &err), HARK_EINVAL);
    ASSERT_STREQ(err.msg, "unknown clip format 'ogg' (choose wav, flac, mp3, opus or copy)");
    ASSERT_STREQ(clip_format_name((clip_format)42), "?");
}

typedef struct audio_case {
    clip_format f;
    const char *ext, *type, *codec, *container;
} audio_case;

static const audio_case audio_cases[] = {
    {CLIP_WAV, "wav", "audio/wav", "pcm_s16le", "wav"},
    {CLIP_FLAC, "flac", "audio/flac", "flac", "flac"},
    {CLIP_MP3, "mp3", "audio/mpeg", "mp3", "mp3"},
    {CLIP_OPUS, "opus", "audio/ogg", "opus", "ogg"},
};

/* Each audio format from `input`, [5.3, 12.7): codec, container, layout,
 * duration within 0.1 s (decoded and per ffprobe). */
static void audio_formats_from(const char *input, int channels, int rate)
{
    int fd = open_in(fix(input));
    for (size_t k = 0; k < sizeof audio_cases / sizeof *audio_cases; k++) {
        const audio_case *ac = &audio_cases[k];
        char out[64];
        snprintf(out, sizeof out, "clip.%s", ac->ext);
        clip_info info;
        hark_err err;
        off_t before = lseek(fd, 0, SEEK_CUR);
        int rc = clip_export(fd, input, 5.3, 12.7, ac->f, out, NULL, &info, &err);
        if (rc)
            TEST_FAIL_("%s to %s: %s", input, ac->ext, err.msg);
        ASSERT_EQ(lseek(fd, 0, SEEK_CUR), before); /* the caller's offset is untouched */
        ASSERT_STREQ(info.ext, ac->ext);
        ASSERT_STREQ(info.type, ac->type);
        ASSERT(!info.has_video);
        ASSERT_NEAR(info.duration_s, 7.4, 0.1);
        struct stat st;
        ASSERT_EQ(stat(out, &st), 0);
        ASSERT_EQ(info.bytes, st.st_size);
        ASSERT_EQ(st.st_mode & 0777, 0644);
        measured m;
        measure(out, &m);
        ASSERT_STREQ(m.acodec, ac->codec);
        ASSERT_STREQ(m.container, ac->container);
        ASSERT_EQ(m.n_streams, 1);
        ASSERT_EQ(m.channels, channels);
        int want_rate = ac->f == CLIP_OPUS                  ? 48000
                        : ac->f == CLIP_MP3 && rate < 32000 ? 32000
                                                            : rate;
        ASSERT_EQ(m.rate, want_rate);
        ASSERT_NEAR(m.audio_s, 7.4, 0.1);
        ASSERT_NEAR(ffprobe_duration(out), 7.4, 0.1);
        printf("     %s -> %s: %.3f s decoded, %.3f s by ffprobe, %lld bytes\n", input, ac->ext,
               m.audio_s, ffprobe_duration(out), (long long)info.bytes);
        measured_free(&m);
        clip_info probed;
        ASSERT_EQ(clip_probe(fd, input, ac->f, &probed, &err), 0);
        ASSERT_STREQ(probed.ext, ac->ext);
        ASSERT_STREQ(probed.type, ac->type);
        unlink(out);
    }
    ASSERT_EQ(count_files(), 0); /* no temporary left behind */
    close(fd);
}

static void test_audio_from_wav(void)
{
    audio_formats_from("mono16k.wav", 1, 16000);
}

static void test_audio_from_mp3(void)
{
    audio_formats_from("stereo44k.mp3", 2, 44100);
}

static void test_audio_from_m4a(void)
{
    audio_formats_from("stereo44k.m4a", 2, 44100);
}

static void test_audio_from_video(void)
{
    audio_formats_from("video.mp4", 2, 44100);
}

/* Decode a file's audio as s16 mono samples [skip, skip + n). */
static void read_samples(const char *path, int64_t skip, int n, int16_t *out)
{
    AVFormatContext *fmt = NULL;
    ASSERT_EQ(avformat_open_input(&fmt, path, NULL, NULL), 0);
    ASSERT(avformat_find_stream_info(fmt, NULL) >= 0);
    int ai = av_find_best_stream(fmt, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0);
    ASSERT(ai >= 0);
    const AVCodec *codec = avcodec_find_decoder(fmt->streams[ai]->codecpar->codec_id);
    AVCodecContext *dec = avcodec_alloc_context3(codec);
    avcodec_parameters_to_context(dec, fmt->streams[ai]->codecpar);
    ASSERT_EQ(avcodec_open2(dec, codec, NULL), 0);
    AVPacket *pkt = av_packet_alloc();
    AVFrame *frame = av_frame_alloc();
    int64_t pos = 0;
    int got = 0;
    while (got < n && av_read_frame(fmt, pkt) >= 0) {
        if (pkt->stream_index == ai && avcodec_send_packet(dec, pkt) >= 0)
            while (avcodec_receive_frame(dec, frame) >= 0) {
                ASSERT_EQ(frame->format, AV_SAMPLE_FMT_S16);
                const int16_t *s = (const int16_t *)frame->data[0];
                for (int i = 0; i < frame->nb_samples; i++, pos++)
                    if (pos >= skip && got < n)
                        out[got++] = s[i];
                av_frame_unref(frame);
            }
        av_packet_unref(pkt);
    }
    ASSERT_EQ(got, n);
    av_frame_free(&frame);
    av_packet_free(&pkt);
    avcodec_free_context(&dec);
    avformat_close_input(&fmt);
}

/* wav to wav is sample-exact: the clip is the input's samples from
 * start * rate, cut after (end - start) * rate. */
static void test_wav_sample_exact(void)
{
    int fd = open_in(fix("mono16k.wav"));
    clip_info info;
    hark_err err;
    ASSERT_EQ(clip_export(fd, "mono16k.wav", 10.25, 11.5, CLIP_WAV, "x.wav", NULL, &info, &err), 0);
    close(fd);
    int16_t want[2000], got[2000];
    read_samples(fix("mono16k.wav"), 164000, 2000, want);
    read_samples("x.wav", 0, 2000, got);
    ASSERT_EQ(memcmp(want, got, sizeof want), 0);
    measured m;
    measure("x.wav", &m);
    ASSERT_EQ(llround(m.audio_s * 16000), 20000);
    measured_free(&m);
}

typedef struct copy_case {
    const char *input, *ext, *type, *container, *vcodec, *acodec;
} copy_case;

static void copy_from(const copy_case *cc, double start, double end, double gop)
{
    int fd = open_in(fix(cc->input));
    clip_info info;
    hark_err err;
    char out[64];
    snprintf(out, sizeof out, "clip.%s", cc->ext);
    clip_info probed;
    ASSERT_EQ(clip_probe(fd, cc->input, CLIP_COPY, &probed, &err), 0);
    ASSERT_STREQ(probed.ext, cc->ext);
    int rc = clip_export(fd, cc->input, start, end, CLIP_COPY, out, NULL, &info, &err);
    if (rc)
        TEST_FAIL_("copy of %s: %s", cc->input, err.msg);
    ASSERT_STREQ(info.ext, cc->ext);
    ASSERT_STREQ(info.type, cc->type);
    ASSERT(info.has_video);
    measured in, m;
    measure(fix(cc->input), &in);
    measure(out, &m);
    ASSERT_STREQ(m.container, cc->container);
    ASSERT_EQ(m.n_streams, 2);
    ASSERT_STREQ(m.vcodec, cc->vcodec);
    ASSERT_STREQ(m.acodec, cc->acodec);
    /* No re-encode: the codec parameters are the input's. */
    ASSERT_EQ(m.vpar->width, in.vpar->width);
    ASSERT_EQ(m.vpar->height, in.vpar->height);
    ASSERT_EQ(m.vpar->extradata_size, in.vpar->extradata_size);
    ASSERT(m.vpar->extradata_size == 0 ||
           memcmp(m.vpar->extradata, in.vpar->extradata, (size_t)m.vpar->extradata_size) == 0);
    ASSERT_EQ(m.vpar->profile, in.vpar->profile);
    ASSERT_EQ(m.apar->sample_rate, in.apar->sample_rate);
    ASSERT_EQ(m.apar->ch_layout.nb_channels, in.apar->ch_layout.nb_channels);
    ASSERT_EQ(m.apar->extradata_size, in.apar->extradata_size);
    ASSERT(m.first_video_key);
    ASSERT_NEAR(m.video_first_s, 0, 0.05); /* rebased to 0 */
    /* From the keyframe at or before the start: up to one GOP longer. */
    if (end > in.stream_s)
        end = in.stream_s; /* clamped to the input's end */
    /* From the keyframe at or before the start (the inputs have one every
     * `gop` seconds exactly), not an earlier or a later one: at most one
     * GOP longer than asked. */
    double key = floor(start / gop + 1e-9) * gop;
    ASSERT_NEAR(m.stream_s, end - key, 0.1);
    ASSERT_LE(m.stream_s, end - start + gop + 0.1);
    ASSERT_NEAR(m.audio_s, m.stream_s, 0.15); /* the audio spans the video */
    ASSERT_NEAR(info.duration_s, m.stream_s, 0.1);
    printf("     %s -> %s [%.1f, %.1f): %.3f s (ffprobe %.3f), %lld bytes\n", cc->input, out, start,
           end, m.stream_s, ffprobe_duration(out), (long long)info.bytes);
    measured_free(&in);
    measured_free(&m);
    close(fd);
}

static void test_copy_mp4(void)
{
    copy_case cc = {"video.mp4", "mp4", "video/mp4", "mov,mp4,m4a,3gp,3g2,mj2", "h264", "aac"};
    copy_from(&cc, 5.5, 12.0, 2.0);
    unlink("clip.mp4");
    copy_from(&cc, 0, 3.0, 2.0); /* from the very start */
    unlink("clip.mp4");
    copy_from(&cc, 14.0, 30.0, 2.0); /* clamped to the input's end */
}

/* MPEG-TS seeks land after the point asked for: the clip must still start
 * at the keyframe at or before the start, not the one after. */
static void test_copy_ts(void)
{
    copy_case cc = {"video.ts", "ts", "video/mp2t", "mpegts", "h264", "aac"};
    copy_from(&cc, 7.3, 12.0, 2.0);
}

static void test_audio_from_ts(void)
{
    audio_formats_from("video.ts", 2, 44100);
}

static void test_copy_mkv(void)
{
    copy_case cc = {"video.mkv", "mkv", "video/x-matroska", "matroska,webm", "h264", "opus"};
    copy_from(&cc, 4.2, 9.0, 2.0);
}

static void test_copy_webm(void)
{
    copy_case cc = {"video.webm", "webm", "video/webm", "matroska,webm", "vp8", "vorbis"};
    copy_from(&cc, 4.2, 9.0, 2.0);
}

static void test_copy_audio_only(void)
{
    int fd = open_in(fix("stereo44k.mp3"));
    clip_info info;
    hark_err err;
    ASSERT_EQ(clip_export(fd, "stereo44k.mp3", 3.0, 8.0, CLIP_COPY, "c.mp3", NULL, &info, &err), 0);
    ASSERT_STREQ(info.ext, "mp3");
    ASSERT_STREQ(info.type, "audio/mpeg");
    ASSERT(!info.has_video);
    measured m;
    measure("c.mp3", &m);
    ASSERT_STREQ(m.acodec, "mp3");
    ASSERT_NEAR(m.audio_s, 5.0, 0.1);
    measured_free(&m);
    close(fd);
    fd = open_in(fix("stereo44k.m4a"));
    ASSERT_EQ(clip_export(fd, "stereo44k.m4a", 3.0, 8.0, CLIP_COPY, "c.m4a", NULL, &info, &err), 0);
    ASSERT_STREQ(info.ext, "m4a");
    ASSERT_STREQ(info.type, "audio/mp4");
    measure("c.m4a", &m);
    ASSERT_STREQ(m.acodec, "aac");
    ASSERT_NEAR(m.audio_s, 5.0, 0.1);
    measured_free(&m);
    close(fd);
}

static void test_range(void)
{
    int fd = open_in(fix("mono16k.wav"));
    clip_info info;
    hark_err err;
    /* Past the end: clamped to the input's 30 s. */
    ASSERT_EQ(clip_export(fd, "mono16k.wav", 28.0, 40.0, CLIP_WAV, "a.wav", NULL, &info, &err), 0);
    ASSERT_NEAR(info.duration_s, 2.0, 0.01);
    /* Before the start: from 0. */
    ASSERT_EQ(clip_export(fd, "mono16k.wav", -3.0, 1.0, CLIP_FLAC, "b.flac", NULL, &info, &err), 0);
    ASSERT_NEAR(info.duration_s, 1.0, 0.01);
    ASSERT_EQ(clip_export(fd, "mono16k.wav", 31.0, 40.0, CLIP_WAV, "c.wav", NULL, &info, &err),
              HARK_EINVAL);
    ASSERT(strstr(err.msg, "'mono16k.wav'") && strstr(err.msg, "empty range"));
    ASSERT_EQ(clip_export(fd, "mono16k.wav", 5.0, 5.0, CLIP_COPY, "c.wav", NULL, &info, &err),
              HARK_EINVAL);
    ASSERT_EQ(clip_export(fd, "mono16k.wav", NAN, 5.0, CLIP_MP3, "c.mp3", NULL, &info, &err),
              HARK_EINVAL);
    ASSERT_EQ(count_files(), 2);
    close(fd);
}

static void test_garbage_and_truncated(void)
{
    hark_err err;
    clip_info info;
    ASSERT_EQ(sh("head -c 100000 /dev/urandom > garbage.mp4"), 0);
    ASSERT_EQ(sh("head -c 60000 '%s' > cut.mp3", fix("stereo44k.mp3")), 0); /* ~3.7 of 30 s */
    ASSERT_EQ(sh("head -c 300000 '%s' > cut.mp4", fix("video.mp4")), 0);    /* no moov */
    int files = count_files();
    for (int f = CLIP_WAV; f <= CLIP_COPY; f++) {
        int fd = open_in("garbage.mp4");
        ASSERT_EQ(clip_export(fd, "garbage.mp4", 1, 3, (clip_format)f, "out", NULL, &info, &err),
                  HARK_EMEDIA);
        ASSERT_STREQ(err.msg,
                     "cannot cut a clip of 'garbage.mp4': not a media file FFmpeg can read");
        close(fd);
        fd = open_in("cut.mp4");
        ASSERT_EQ(clip_export(fd, "cut.mp4", 1, 3, (clip_format)f, "out", NULL, &info, &err),
                  HARK_EMEDIA);
        close(fd);
        /* The mp3's header says 30 s; the clip lies past what is there. */
        fd = open_in("cut.mp3");
        ASSERT_EQ(clip_export(fd, "cut.mp3", 2, 9, (clip_format)f, "out", NULL, &info, &err),
                  HARK_EMEDIA);
        ASSERT(strstr(err.msg, "'cut.mp3'") && strstr(err.msg, "truncated"));
        close(fd);
        assert_no_partial("out", files);
    }
}

static void test_no_audio(void)
{
    int fd = open_in(fix("silent.mp4"));
    hark_err err;
    clip_info info;
    ASSERT_EQ(clip_export(fd, "silent.mp4", 0, 1, CLIP_MP3, "x.mp3", NULL, &info, &err),
              HARK_EMEDIA);
    ASSERT_STREQ(err.msg, "cannot cut a clip of 'silent.mp4': no audio stream");
    ASSERT_EQ(clip_probe(fd, "silent.mp4", CLIP_OPUS, &info, &err), HARK_EMEDIA);
    /* A copy of it is fine: video only. */
    ASSERT_EQ(clip_export(fd, "silent.mp4", 0, 1, CLIP_COPY, "x.mp4", NULL, &info, &err), 0);
    ASSERT(info.has_video);
    close(fd);
}

typedef struct counter {
    int calls, stop_at;
    double last, max_gap;
} counter;

static int count_checkin(void *ctx, double done_s)
{
    counter *k = ctx;
    if (k->calls++ > 0 && done_s - k->last > k->max_gap)
        k->max_gap = done_s - k->last;
    k->last = done_s;
    return k->stop_at && k->calls >= k->stop_at ? HARK_ECANCELED : 0;
}

static void test_checkins(void)
{
    for (int f = CLIP_WAV; f <= CLIP_COPY; f++) {
        const char *in = f == CLIP_COPY ? "video.mp4" : "stereo44k.m4a";
        int fd = open_in(fix(in));
        counter k = {0};
        clip_opts o = {.checkin = count_checkin, .ctx = &k};
        clip_info info;
        hark_err err;
        ASSERT_EQ(clip_export(fd, in, 0, 10, (clip_format)f, "x", &o, &info, &err), 0);
        printf("     %s: %d check-ins, largest gap %.3f s\n", clip_format_name((clip_format)f),
               k.calls, k.max_gap);
        ASSERT(k.calls >= 90);
        ASSERT_LE(k.max_gap, 0.1 + 0.005);
        ASSERT_NEAR(k.last, info.duration_s, 0.001);
        unlink("x");
        close(fd);
    }
}

static void test_cancel(void)
{
    for (int f = CLIP_WAV; f <= CLIP_COPY; f++) {
        const char *in = f == CLIP_COPY ? "video.mp4" : "stereo44k.mp3";
        int fd = open_in(fix(in));
        /* An older clip of the same name stays as it was. */
        ASSERT_EQ(sh("echo old > x"), 0);
        counter k = {.stop_at = 20};
        clip_opts o = {.checkin = count_checkin, .ctx = &k};
        clip_info info;
        hark_err err;
        ASSERT_EQ(clip_export(fd, in, 2, 12, (clip_format)f, "x", &o, &info, &err), HARK_ECANCELED);
        ASSERT_EQ(k.calls, 20);
        ASSERT(strstr(err.msg, "cancelled") && strstr(err.msg, "'x'"));
        ASSERT_EQ(count_files(), 1);
        ASSERT_EQ(sh("grep -qx old x"), 0);
        unlink("x");
        close(fd);
    }
}

static int stop_busy(void *ctx, double done_s)
{
    (void)ctx;
    return done_s > 1 ? HARK_ENOSPC : 0;
}

/* A check-in's own negative HARK_E* code is what the export returns. */
static void test_checkin_code(void)
{
    int fd = open_in(fix("mono16k.wav"));
    clip_opts o = {.checkin = stop_busy};
    clip_info info;
    hark_err err;
    ASSERT_EQ(clip_export(fd, "mono16k.wav", 0, 5, CLIP_FLAC, "s.flac", &o, &info, &err),
              HARK_ENOSPC);
    ASSERT_STREQ(err.msg, "cannot export clip 's.flac' of 'mono16k.wav': stopped (no-space)");
    ASSERT_EQ(count_files(), 0);
    close(fd);
}

static void test_timeout(void)
{
    int fd = open_in(fix("video.mp4"));
    clip_opts o = {.timeout_s = 1e-6};
    clip_info info;
    hark_err err;
    ASSERT_EQ(clip_export(fd, "video.mp4", 2, 12, CLIP_OPUS, "t.opus", &o, &info, &err),
              HARK_ETIMEDOUT);
    ASSERT(strstr(err.msg, "'t.opus'") && strstr(err.msg, "timed out"));
    ASSERT_EQ(count_files(), 0);
    close(fd);
}

/* A full disk (util/fault.h's injection: every write to the clip fails
 * with ENOSPC) is HARK_ENOSPC naming the clip; nothing is left. */
static void test_disk_full(void)
{
    setenv("HARK_TEST_ENOSPC", "full.clip", 1);
    for (int f = CLIP_WAV; f <= CLIP_COPY; f++) {
        const char *in = f == CLIP_COPY ? "video.mp4" : "stereo44k.m4a";
        int fd = open_in(fix(in));
        clip_info info;
        hark_err err;
        ASSERT_EQ(clip_export(fd, in, 1, 9, (clip_format)f, "full.clip", NULL, &info, &err),
                  HARK_ENOSPC);
        ASSERT(strstr(err.msg, "'full.clip'") && strstr(err.msg, "the disk is full"));
        ASSERT_EQ(count_files(), 0);
        /* Another name on the same disk still works. */
        ASSERT_EQ(clip_export(fd, in, 1, 2, (clip_format)f, "fine.clip", NULL, &info, &err), 0);
        unlink("fine.clip");
        close(fd);
    }
}

static bool write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    bool ok = write(fd, text, strlen(text)) == (ssize_t)strlen(text);
    close(fd);
    return ok;
}

/* A tmpfs of `kib` KiB mounted on dir, in a mount namespace of this test's
 * own (as root; else in a user namespace of its own where this uid is
 * root). False when neither is allowed here. */
static bool mount_tiny_fs(const char *dir, int kib)
{
    if (mkdir(dir, 0755) != 0)
        return false;
    if (unshare(CLONE_NEWNS) != 0) {
        char map[64];
        uid_t uid = getuid();
        gid_t gid = getgid();
        if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0)
            return false;
        snprintf(map, sizeof map, "0 %u 1", (unsigned)uid);
        if (!write_file("/proc/self/uid_map", map))
            return false;
        write_file("/proc/self/setgroups", "deny");
        snprintf(map, sizeof map, "0 %u 1", (unsigned)gid);
        if (!write_file("/proc/self/gid_map", map))
            return false;
    }
    char opts[32];
    snprintf(opts, sizeof opts, "size=%dk", kib);
    return mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0 &&
           mount("tmpfs", dir, "tmpfs", 0, opts) == 0;
}

/* A real full disk: a 64 KiB tmpfs. Every format fails with HARK_ENOSPC
 * naming the clip, and the filesystem is left empty. */
static void test_real_full_disk(void)
{
    if (!mount_tiny_fs("tiny", 64)) {
        printf("     skipped: cannot mount a tmpfs here (%s)\n", strerror(errno));
        return;
    }
    for (int f = CLIP_WAV; f <= CLIP_COPY; f++) {
        const char *in = f == CLIP_COPY ? "video.mp4" : "stereo44k.m4a";
        int fd = open_in(fix(in));
        clip_info info;
        hark_err err;
        ASSERT_EQ(clip_export(fd, in, 0, 20, (clip_format)f, "tiny/clip", NULL, &info, &err),
                  HARK_ENOSPC);
        ASSERT(strstr(err.msg, "'tiny/clip'") && strstr(err.msg, "the disk is full"));
        ASSERT_EQ(sh("test -z \"$(ls -A tiny)\""), 0);
        close(fd);
    }
    /* A clip that fits is fine there. */
    int fd = open_in(fix("mono16k.wav"));
    clip_info info;
    hark_err err;
    ASSERT_EQ(clip_export(fd, "mono16k.wav", 0, 1, CLIP_WAV, "tiny/small.wav", NULL, &info, &err),
              0);
    close(fd);
    umount("tiny");
}

/* The process's file-size limit (ulimit -f) is hit mid-clip: EFBIG, which
 * util/fs.h maps to HARK_EINVAL (retrying cannot help); nothing is left. */
static void test_file_size_limit(void)
{
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl = {.rlim_cur = 100000, .rlim_max = RLIM_INFINITY};
    getrlimit(RLIMIT_FSIZE, &rl);
    rl.rlim_cur = 100000;
    ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &rl), 0);
    for (int f = CLIP_WAV; f <= CLIP_COPY; f += CLIP_COPY - CLIP_WAV) {
        const char *in = f == CLIP_COPY ? "video.mp4" : "stereo44k.m4a";
        int fd = open_in(fix(in));
        clip_info info;
        hark_err err;
        ASSERT_EQ(clip_export(fd, in, 1, 15, (clip_format)f, "big", NULL, &info, &err),
                  HARK_EINVAL);
        ASSERT(strstr(err.msg, "'big'") && strstr(err.msg, "file-size limit"));
        ASSERT_EQ(count_files(), 0);
        close(fd);
    }
}

/* Every file of the bad-input corpus fails cleanly (or makes a whole clip,
 * for the valid edge cases): no crash, no hang, no partial file. */
static void test_bad_corpus(void)
{
    static const char *const must_fail[] = {
        "empty.wav",         "random.bin",      "random.mp3",        "text.txt",
        "truncated.mp4",     "header-only.wav", "zero-channels.wav", "absurd-rate.wav",
        "huge-channels.wav", "playlist.m3u8",   "list.ffconcat",
    };
    DIR *d = opendir(corpus_dir);
    ASSERT(d);
    struct dirent *e;
    int n = 0, failed = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[600];
        snprintf(path, sizeof path, "%s/%s", corpus_dir, e->d_name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        ASSERT(fd >= 0);
        bool bad = false;
        for (size_t i = 0; i < sizeof must_fail / sizeof *must_fail; i++)
            bad |= strcmp(e->d_name, must_fail[i]) == 0;
        for (int f = CLIP_WAV; f <= CLIP_COPY; f += 2) { /* wav, mp3, copy */
            clip_opts o = {.timeout_s = 20};
            clip_info info;
            hark_err err;
            int rc = clip_export(fd, e->d_name, 1, 3, (clip_format)f, "out", &o, &info, &err);
            n++;
            if (rc) {
                failed++;
                ASSERT(rc == HARK_EMEDIA || rc == HARK_EINVAL);
                ASSERT(strstr(err.msg, e->d_name));
                ASSERT_EQ(count_files(), 0);
            } else {
                ASSERT(!bad);
                unlink("out");
            }
            if (bad && rc != HARK_EMEDIA && rc != HARK_EINVAL)
                TEST_FAIL_("%s as %s: %d %s", e->d_name, clip_format_name((clip_format)f), rc,
                           err.msg);
        }
        close(fd);
    }
    closedir(d);
    printf("     %d exports of the bad corpus, %d failed cleanly, the rest made whole clips\n", n,
           failed);
    ASSERT(n >= 3 * 20);
}

/* ---- bench mode: N stream-copy exports of 15 s from one file ---- */

static int bench(const char *input, int n)
{
    int fd = open(input, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        perror(input);
        return 2;
    }
    char dir[] = "/tmp/hark-clip-bench-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 2;
    }
    clip_info probe;
    hark_err err;
    if (clip_probe(fd, input, CLIP_COPY, &probe, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    AVFormatContext *fmt = NULL;
    double dur = 3600;
    if (avformat_open_input(&fmt, input, NULL, NULL) == 0) {
        dur = (double)fmt->duration / AV_TIME_BASE;
        avformat_close_input(&fmt);
    }
    double total = 0, worst = 0, media = 0;
    int64_t bytes = 0;
    for (int i = 0; i < n; i++) {
        double start = (dur - 30) * (i + 0.5) / n;
        char out[400];
        snprintf(out, sizeof out, "%s/%02d.%s", dir, i + 1, probe.ext);
        clip_info info;
        double t0 = clock_now_s();
        int rc = clip_export(fd, input, start, start + 15, CLIP_COPY, out, NULL, &info, &err);
        double t = clock_now_s() - t0;
        if (rc) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        total += t;
        worst = t > worst ? t : worst;
        media += info.duration_s;
        bytes += info.bytes;
    }
    printf("%d copy exports of 15 s from %.0f s of %s: %.3f s total, %.1f ms mean, %.1f ms worst, "
           "%.1f s of clips, %.1f MB\n",
           n, dur, input, total, total * 1000 / n, worst * 1000, media, bytes / 1e6);
    fs_rmtree(dir);
    close(fd);
    return 0;
}

static int make_fixtures(void)
{
    const char *ff = "ffmpeg -nostdin -hide_banner -loglevel error -y";
    const char *bx = "-fflags +bitexact -flags:v +bitexact -flags:a +bitexact -map_metadata -1";
    const char *tone = "-f lavfi -i 'aevalsrc=0.4*sin(2*PI*440*t)|0.3*sin(2*PI*660*t):s=44100'";
    const char *video = "-f lavfi -i testsrc=size=160x120:rate=30";
    return sh("cd '%s' && "
              "%s -f lavfi -i 'aevalsrc=0.5*sin(2*PI*(200+20*t)*t):s=16000' -t 30 %s "
              "-c:a pcm_s16le mono16k.wav && "
              "%s %s -t 30 %s -c:a libmp3lame -b:a 128k stereo44k.mp3 && "
              "%s %s -t 30 %s -c:a aac -b:a 128k stereo44k.m4a && "
              "%s %s %s -t 20 %s -c:v libx264 -preset ultrafast -g 60 -c:a aac video.mp4 && "
              "%s %s %s -t 12 %s -c:v libx264 -preset ultrafast -g 60 -c:a libopus video.mkv && "
              "%s %s %s -t 12 %s -c:v libvpx -deadline realtime -cpu-used 8 -g 60 -c:a libvorbis "
              "video.webm && "
              "%s -i video.mp4 -c copy -f mpegts video.ts && "
              "%s %s -t 3 %s -c:v libx264 -preset ultrafast silent.mp4",
              fix_dir, ff, bx, ff, tone, bx, ff, tone, bx, ff, video, tone, bx, ff, video, tone, bx,
              ff, video, tone, bx, ff, ff, video, bx);
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "--bench") == 0)
        return bench(argv[2], argc >= 4 ? (int)strtol(argv[3], NULL, 10) : 10);
    char src[512];
    const char *env = getenv("HARK_SOURCE_DIR");
    snprintf(src, sizeof src, "%s", env ? env : __FILE__);
    if (!env) {
        char *p = strstr(src, "/src/media/clip_test.c");
        if (p)
            *p = '\0';
        else
            snprintf(src, sizeof src, ".");
    }
    snprintf(fix_dir, sizeof fix_dir, "/tmp/hark-clip-fixtures-XXXXXX");
    if (!mkdtemp(fix_dir)) {
        perror("mkdtemp");
        return 2;
    }
    snprintf(corpus_dir, sizeof corpus_dir, "%s/bad", fix_dir);
    if (make_fixtures() != 0 ||
        sh("bash '%s/tests/corpus/make-bad-inputs.sh' '%s'", src, corpus_dir) != 0) {
        fprintf(stderr, "cannot generate the test inputs\n");
        fs_rmtree(fix_dir);
        return 2;
    }
    RUN(test_format_names);
    RUN(test_audio_from_wav);
    RUN(test_audio_from_mp3);
    RUN(test_audio_from_m4a);
    RUN(test_audio_from_video);
    RUN(test_wav_sample_exact);
    RUN(test_copy_mp4);
    RUN(test_copy_ts);
    RUN(test_audio_from_ts);
    RUN(test_copy_mkv);
    RUN(test_copy_webm);
    RUN(test_copy_audio_only);
    RUN(test_range);
    RUN(test_garbage_and_truncated);
    RUN(test_no_audio);
    RUN(test_checkins);
    RUN(test_cancel);
    RUN(test_checkin_code);
    RUN(test_timeout);
    RUN(test_disk_full);
    RUN(test_real_full_disk);
    RUN(test_file_size_limit);
    RUN(test_bad_corpus);
    fs_rmtree(fix_dir);
    TEST_DONE();
}
