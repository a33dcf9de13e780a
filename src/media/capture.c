#include "media/capture.h"

#include "media/decode.h"

#include <dlfcn.h>
#include <errno.h>
#include <libavcodec/avcodec.h>
#include <libavdevice/avdevice.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>
#include <libswresample/swresample.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AVDEVICE_SONAME "libavdevice.so." AV_STRINGIFY(LIBAVDEVICE_VERSION_MAJOR)

struct capture {
    AVFormatContext *fmt;
    AVCodecContext *dec;
    AVPacket *pkt;
    AVFrame *frame;
    SwrContext *swr;
    int swr_format, swr_rate, swr_channels;
    int16_t *out;
    int out_cap;
    const atomic_bool *stop;
    char name[300];
};

/* ---- the spec ------------------------------------------------------- */

int capture_parse_spec(const char *s, capture_spec *out, hark_err *err)
{
    memset(out, 0, sizeof *out);
    if (!s || !*s)
        return 0;
    const char *backend = "pulse", *device = s;
    if (strcmp(s, "pulse") == 0 || strcmp(s, "alsa") == 0) {
        backend = s;
        device = "default";
    } else if (strncmp(s, "pulse:", 6) == 0) {
        device = s + 6;
    } else if (strncmp(s, "alsa:", 5) == 0) {
        backend = "alsa";
        device = s + 5;
    }
    if (!*device)
        return err_set(err, HARK_EINVAL, "--input '%s' names no device (e.g. %sdefault)", s, s);
    if (strlen(device) >= sizeof out->device)
        return err_set(err, HARK_EINVAL, "--input '%.40s...' is too long", s);
    snprintf(out->backend, sizeof out->backend, "%s", backend);
    snprintf(out->device, sizeof out->device, "%s", device);
    return 0;
}

void capture_spec_name(const capture_spec *spec, char *out, size_t n)
{
    if (!spec->backend[0])
        snprintf(out, n, "the default microphone");
    else
        snprintf(out, n, "%s:%s", spec->backend, spec->device);
}

/* ---- libavdevice, loaded once --------------------------------------- */

static pthread_once_t devices_once = PTHREAD_ONCE_INIT;
static char devices_error[300];

/* ALSA's library prints its errors on stderr itself unless given a
 * handler: keep the last one for our message instead. */
static _Thread_local char last_alsa_error[200];

static void alsa_error(const char *file, int line, const char *function, int err, const char *fmt,
                       ...) __attribute__((format(printf, 5, 6)));

static void alsa_error(const char *file, int line, const char *function, int err, const char *fmt,
                       ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_alsa_error, sizeof last_alsa_error, fmt, ap);
    va_end(ap);
}

static void quiet_alsa(void)
{
    /* libasound came in with libavdevice; RTLD_NOLOAD finds it, loads nothing. */
    void *h = dlopen("libasound.so.2", RTLD_NOW | RTLD_NOLOAD);
    int (*set_handler)(void *) = h ? (int (*)(void *))dlsym(h, "snd_lib_error_set_handler") : NULL;
    if (set_handler)
        set_handler((void *)alsa_error);
    if (h)
        dlclose(h); /* the NOLOAD reference only */
}

static void load_devices(void)
{
    /* RTLD_NODELETE: the devices it registers stay valid for the process. */
    void *h = dlopen(AVDEVICE_SONAME, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    void (*register_all)(void) = h ? (void (*)(void))dlsym(h, "avdevice_register_all") : NULL;
    if (!register_all) {
        const char *why = dlerror();
        snprintf(devices_error, sizeof devices_error, "cannot load %s: %s", AVDEVICE_SONAME,
                 why ? why : "no avdevice_register_all in it");
        return;
    }
    register_all();
    quiet_alsa();
}

/* ---- opening -------------------------------------------------------- */

static int interrupt_cb(void *opaque)
{
    const capture *c = opaque;
    return c->stop && atomic_load(c->stop);
}

static void av_cause(int ret, char *out, size_t n)
{
    if (av_strerror(ret, out, n) < 0)
        snprintf(out, n, "error %d", ret);
}

/* FFmpeg's pulse device returns PulseAudio's own error code as if it were
 * an errno ("No such process" for a refused connection): PulseAudio names
 * it. */
static bool pulse_cause(int ret, char *out, size_t n)
{
    int code = AVUNERROR(ret);
    void *h = dlopen("libpulse.so.0", RTLD_NOW | RTLD_NOLOAD);
    const char *(*pa_strerror)(int) = h ? (const char *(*)(int))dlsym(h, "pa_strerror") : NULL;
    const char *what = pa_strerror && code > 0 && code < 64 ? pa_strerror(code) : NULL;
    if (what)
        snprintf(out, n, "%s", what);
    if (h)
        dlclose(h);
    return what != NULL;
}

/* Open one device; the cause of a failure into cause. */
static int open_device(capture *c, const char *backend, const char *device, char *cause, size_t n)
{
    const AVInputFormat *ifmt = av_find_input_format(backend);
    if (!ifmt) {
        snprintf(cause, n, "this FFmpeg has no '%s' input device", backend);
        return HARK_EINVAL;
    }
    c->fmt = avformat_alloc_context();
    if (!c->fmt) {
        snprintf(cause, n, "out of memory");
        return HARK_ENOMEM;
    }
    c->fmt->interrupt_callback.callback = interrupt_cb;
    c->fmt->interrupt_callback.opaque = c;
    AVDictionary *o = NULL;
    av_dict_set(&o, "sample_rate", "16000", 0);
    av_dict_set(&o, "channels", "1", 0);
    if (strcmp(backend, "pulse") == 0) {
        /* 50 ms fragments: the recording reaches the daemon in about that. */
        av_dict_set(&o, "fragment_size", "1600", 0);
        av_dict_set(&o, "name", "hark", 0);
        av_dict_set(&o, "stream_name", "dictate", 0);
    }
    char said[256];
    media_av_last_error(said, sizeof said); /* forget older lines */
    last_alsa_error[0] = '\0';
    int ret = avformat_open_input(&c->fmt, device, ifmt, &o);
    av_dict_free(&o);
    if (ret < 0) {
        /* The device's own words when it gave some, else FFmpeg's code. */
        media_av_last_error(said, sizeof said);
        if (last_alsa_error[0])
            snprintf(cause, n, "%s", last_alsa_error);
        else if (said[0])
            snprintf(cause, n, "%s", said);
        else if (strcmp(backend, "pulse") != 0 || !pulse_cause(ret, cause, n))
            av_cause(ret, cause, n);
        return HARK_EIO; /* avformat_open_input freed the context */
    }
    const AVCodecParameters *par = c->fmt->nb_streams > 0 ? c->fmt->streams[0]->codecpar : NULL;
    const AVCodec *codec =
        par && par->codec_type == AVMEDIA_TYPE_AUDIO ? avcodec_find_decoder(par->codec_id) : NULL;
    if (!codec) {
        snprintf(cause, n, "the device gives no audio FFmpeg can decode");
        return HARK_EIO;
    }
    c->dec = avcodec_alloc_context3(codec);
    if (!c->dec || avcodec_parameters_to_context(c->dec, par) < 0 ||
        (ret = avcodec_open2(c->dec, codec, NULL)) < 0) {
        snprintf(cause, n, "cannot decode its %s audio", avcodec_get_name(par->codec_id));
        return HARK_EIO;
    }
    return 0;
}

static void close_device(capture *c)
{
    avcodec_free_context(&c->dec);
    avformat_close_input(&c->fmt);
}

int capture_open(const capture_spec *spec, const atomic_bool *stop, capture **out, hark_err *err)
{
    *out = NULL;
    media_av_log_init();
    pthread_once(&devices_once, load_devices);
    if (devices_error[0])
        return err_set(err, HARK_EIO, "cannot open the microphone: %s", devices_error);
    capture *c = calloc(1, sizeof *c);
    if (!c)
        return err_set(err, HARK_ENOMEM, "out of memory");
    c->stop = stop;
    c->swr_format = -1;
    c->pkt = av_packet_alloc();
    c->frame = av_frame_alloc();
    if (!c->pkt || !c->frame) {
        capture_close(c);
        return err_set(err, HARK_ENOMEM, "out of memory");
    }
    char cause[256] = "", cause2[256] = "";
    int rc;
    if (spec->backend[0]) {
        rc = open_device(c, spec->backend, spec->device, cause, sizeof cause);
        snprintf(c->name, sizeof c->name, "%s:%s", spec->backend, spec->device);
        if (rc) {
            close_device(c);
            err_set(err, rc, "cannot open microphone '%s': %s", c->name, cause);
            capture_close(c);
            return rc;
        }
    } else {
        /* PulseAudio (and PipeWire's pulse server) first: it is what a
         * desktop shares; raw ALSA's default may be busy or absent. */
        snprintf(c->name, sizeof c->name, "pulse:default");
        rc = open_device(c, "pulse", "default", cause, sizeof cause);
        if (rc) {
            close_device(c);
            snprintf(c->name, sizeof c->name, "alsa:default");
            rc = open_device(c, "alsa", "default", cause2, sizeof cause2);
        }
        if (rc) {
            close_device(c);
            err_set(err, rc,
                    "cannot open the microphone: pulse:default: %s (is PulseAudio or PipeWire "
                    "running?); alsa:default: %s",
                    cause, cause2);
            capture_close(c);
            return rc;
        }
    }
    *out = c;
    return 0;
}

const char *capture_name(const capture *c)
{
    return c->name;
}

/* ---- reading -------------------------------------------------------- */

static int setup_resampler(capture *c, const AVFrame *f, hark_err *err)
{
    int channels = f->ch_layout.nb_channels;
    if (c->swr && c->swr_format == f->format && c->swr_rate == f->sample_rate &&
        c->swr_channels == channels)
        return 0;
    swr_free(&c->swr); /* a device does not change format mid-way; if it did, start again */
    if (channels <= 0 || channels > 64 || f->sample_rate < 1000 || f->sample_rate > 768000)
        return err_set(err, HARK_EIO, "microphone '%s' gives %d channels at %d Hz", c->name,
                       channels, f->sample_rate);
    AVChannelLayout in = {0}, mono = AV_CHANNEL_LAYOUT_MONO;
    if (f->ch_layout.order == AV_CHANNEL_ORDER_NATIVE)
        av_channel_layout_copy(&in, &f->ch_layout);
    else
        av_channel_layout_default(&in, channels);
    int ret = swr_alloc_set_opts2(&c->swr, &mono, AV_SAMPLE_FMT_S16, CAPTURE_RATE, &in,
                                  (enum AVSampleFormat)f->format, f->sample_rate, 0, NULL);
    if (ret >= 0)
        ret = swr_init(c->swr);
    av_channel_layout_uninit(&in);
    if (ret < 0) {
        swr_free(&c->swr);
        char cause[128];
        av_cause(ret, cause, sizeof cause);
        return err_set(err, HARK_EIO, "cannot resample microphone '%s': %s", c->name, cause);
    }
    c->swr_format = f->format;
    c->swr_rate = f->sample_rate;
    c->swr_channels = channels;
    return 0;
}

/* Resample the frame in c->frame onto the end of c->out (*have samples). */
static int convert_frame(capture *c, int *have, hark_err *err)
{
    int rc = setup_resampler(c, c->frame, err);
    if (rc)
        return rc;
    int need = swr_get_out_samples(c->swr, c->frame->nb_samples);
    if (need < 0)
        return err_set(err, HARK_EIO, "cannot resample microphone '%s'", c->name);
    if (*have + need + 16 > c->out_cap) {
        int cap = *have + need + 16 + 1024;
        int16_t *p = av_realloc(c->out, (size_t)cap * sizeof *p);
        if (!p)
            return err_set(err, HARK_ENOMEM, "out of memory");
        c->out = p;
        c->out_cap = cap;
    }
    uint8_t *outp = (uint8_t *)(c->out + *have);
    int got = swr_convert(c->swr, &outp, c->out_cap - *have,
                          (const uint8_t **)c->frame->extended_data, c->frame->nb_samples);
    if (got < 0)
        return err_set(err, HARK_EIO, "cannot resample microphone '%s'", c->name);
    *have += got;
    return 0;
}

int capture_next(capture *c, const int16_t **samples, size_t *n, hark_err *err)
{
    *samples = c->out;
    *n = 0;
    int ret = av_read_frame(c->fmt, c->pkt);
    if (ret < 0) {
        char cause[128];
        av_cause(ret, cause, sizeof cause);
        if (ret == AVERROR_EOF)
            snprintf(cause, sizeof cause, "the device stopped giving audio");
        return err_set(err, ret == AVERROR_EXIT ? HARK_ECANCELED : HARK_EIO,
                       "microphone '%s' failed: %s", c->name, cause);
    }
    int have = 0, rc = 0;
    if (c->pkt->stream_index == 0) {
        ret = avcodec_send_packet(c->dec, c->pkt);
        while (ret >= 0 && rc == 0) {
            ret = avcodec_receive_frame(c->dec, c->frame);
            if (ret < 0)
                break;
            rc = convert_frame(c, &have, err);
            av_frame_unref(c->frame);
        }
    }
    av_packet_unref(c->pkt);
    if (rc)
        return rc;
    *samples = c->out;
    *n = (size_t)have;
    return 0;
}

void capture_close(capture *c)
{
    if (!c)
        return;
    close_device(c);
    av_packet_free(&c->pkt);
    av_frame_free(&c->frame);
    swr_free(&c->swr);
    av_free(c->out);
    free(c);
}
