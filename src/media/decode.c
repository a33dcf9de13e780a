/* decode.c - any audio or video file to a 16 kHz mono s16 PCM file (see decode.h).
 *
 * The input is read through our own AVIOContext over a file descriptor or a
 * memory buffer, never by URL: a path is never taken for a protocol
 * ("http:", "concat:"), and io_open refuses every nested open, so a hostile
 * playlist (HLS, concat, ...) cannot make FFmpeg read other files or the
 * network. The read callback and the interrupt callback both check the
 * deadline; the decode loop checks it between packets.
 *
 * Truncation: a header that declares a duration (mp4 track, Xing/Info tag,
 * FLAC STREAMINFO, ...) is compared with what was actually decoded. FFmpeg's
 * wav demuxer drops the data chunk's size when the file is shorter than it
 * says (and then estimates the duration from the bytes present), so for WAV
 * we read the RIFF header ourselves.
 */
#include "media/decode.h"

#include "media/pcm.h"
#include "media/resampler.h"
#include "util/clock.h"
#include "util/log.h"

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>
#include <libswresample/swresample.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define IO_BUFFER_SIZE 65536
#define DESCRIBED_PROBESIZE 4096 /* see choose_stream() */
#define CHECKIN_EVERY (PCM_RATE) /* samples: about once per second of audio */
/* Sample rates outside this range are refused: a rate of 2^31 Hz would make
 * libswresample build a filter bank of gigabytes. */
#define MIN_SRC_RATE 100
#define MAX_SRC_RATE 768000
/* Truncation: decoded < declared * TRUNC_RATIO - TRUNC_SLACK_S fails. */
#define TRUNC_RATIO 0.97
#define TRUNC_SLACK_S 0.5

void media_decode_opts_default(media_decode_opts *o)
{
    memset(o, 0, sizeof *o);
    o->max_duration_s = 12 * 3600;
    o->timeout_s = 30 * 60;
}

typedef struct decoder {
    const char *name; /* for messages */
    const media_decode_opts *o;
    hark_err *err;
    deadline dl;
    int stop; /* 0, HARK_ETIMEDOUT or HARK_ECANCELED once decided */

    /* The input: a file descriptor (fd >= 0) or a memory buffer. */
    int fd;
    const uint8_t *data;
    int64_t size, pos;
    int io_errno; /* a read(2) error, reported as HARK_EIO */

    AVIOContext *avio;
    AVFormatContext *fmt;
    AVCodecContext *dec;
    media_resampler rs;
    AVPacket *pkt;
    AVFrame *frame;
    pcm_writer *w;

    /* The resampler's current input configuration. */

    int16_t *out; /* resampler output */
    int out_cap;  /* in samples */

    int64_t max_samples; /* 0: no limit */
    int64_t next_checkin;
    double total_s; /* for check-ins: the best known duration, 0 if unknown */
    int packets, errors;
    int refused_open; /* the input tried to open another file or URL */

    /* What open_input and choose_stream found. */
    int64_t *open_durations; /* each stream's duration as the header declared it */
    unsigned n_open;
    int idx; /* the audio stream we decode */
    const AVCodec *codec;
    double header_s; /* declared duration the truncation check trusts, 0 if none */
} decoder;

/* ---- FFmpeg's own logging: dropped unless HARK_LOG=debug ---- */

/* The last error line FFmpeg logged on this thread: a device's own reason
 * ("pa_context_connect() failed: Connection refused") is only said there. */
static _Thread_local char last_av_error[256];

static void av_log_to_hark(void *avcl, int level, const char *fmt, va_list vl)
{
    bool keep = level <= AV_LOG_ERROR;
    if (!keep && (level > AV_LOG_VERBOSE || log_get_level() > LOG_DEBUG))
        return;
    char line[1024];
    int prefix = 1;
    va_list copy;
    va_copy(copy, vl);
    av_log_format_line2(avcl, level, fmt, copy, line, sizeof line, &prefix);
    va_end(copy);
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    if (n && keep) {
        /* Without the "[pulse @ 0x55...] " prefix: the caller names the device. */
        const char *msg = line[0] == '[' && strstr(line, "] ") ? strstr(line, "] ") + 2 : line;
        snprintf(last_av_error, sizeof last_av_error, "%s", msg);
    }
    if (n && level <= AV_LOG_VERBOSE && log_get_level() <= LOG_DEBUG)
        log_debug("ffmpeg: %s", line);
}

void media_av_last_error(char *out, size_t n)
{
    snprintf(out, n, "%s", last_av_error);
    last_av_error[0] = '\0';
}

static void setup_av_log(void)
{
    av_log_set_callback(av_log_to_hark);
}

static pthread_once_t ffmpeg_log_once = PTHREAD_ONCE_INIT;

void media_av_log_init(void)
{
    pthread_once(&ffmpeg_log_once, setup_av_log);
}

/* ---- deadline and cancellation ---- */

static int should_stop(decoder *d)
{
    if (!d->stop && deadline_passed(d->dl))
        d->stop = HARK_ETIMEDOUT;
    return d->stop != 0;
}

static int interrupt_cb(void *opaque)
{
    return should_stop(opaque);
}

static int checkin(decoder *d, int64_t samples)
{
    if (d->o->checkin && !d->stop &&
        d->o->checkin(d->o->checkin_ctx, pcm_seconds(samples), d->total_s) != 0)
        d->stop = HARK_ECANCELED;
    return should_stop(d);
}

static int stop_error(decoder *d)
{
    if (d->stop == HARK_ECANCELED)
        return err_set(d->err, HARK_ECANCELED, "cannot decode '%s': cancelled", d->name);
    return err_set(d->err, HARK_ETIMEDOUT, "cannot decode '%s': timed out after %g s", d->name,
                   d->o->timeout_s);
}

static int too_long_error(decoder *d)
{
    return err_set(d->err, HARK_ETOOLONG, "cannot decode '%s': longer than the maximum of %g s",
                   d->name, d->o->max_duration_s);
}

static int refused_error(decoder *d)
{
    return err_set(d->err, HARK_EMEDIA,
                   "cannot decode '%s': a playlist or list of other files, which are not followed",
                   d->name);
}

/* Demuxers whose input names other files or network streams. */
static int refers_to_others(const char *name)
{
    static const char *const list[] = {"concat", "hls", "dash", "imf", "sdp", "rtp", "rtsp"};
    for (size_t i = 0; i < sizeof list / sizeof *list; i++)
        if (strcmp(name, list[i]) == 0)
            return 1;
    return 0;
}

/* The error for a failed FFmpeg call: stop, I/O error, or cause text. */
static int av_error(decoder *d, int averr, const char *what)
{
    if (d->stop)
        return stop_error(d);
    if (d->io_errno)
        return err_set(d->err, HARK_EIO, "cannot decode '%s': %s", d->name, strerror(d->io_errno));
    if (averr == AVERROR(ENOMEM))
        return err_set(d->err, HARK_ENOMEM, "cannot decode '%s': out of memory", d->name);
    if (d->refused_open)
        return refused_error(d);
    char cause[AV_ERROR_MAX_STRING_SIZE];
    media_av_cause(averr, cause, sizeof cause);
    return err_set(d->err, HARK_EMEDIA, "cannot decode '%s': %s%s%s", d->name, what ? what : "",
                   what ? ": " : "", cause);
}

/* ---- the input, as an AVIOContext ---- */

static int64_t src_pread(decoder *d, int64_t off, uint8_t *buf, int64_t n)
{
    if (off < 0 || off >= d->size || n <= 0)
        return 0;
    if (n > d->size - off)
        n = d->size - off;
    if (!d->data) {
        int64_t got = 0;
        while (got < n) {
            ssize_t r = pread(d->fd, buf + got, (size_t)(n - got), (off_t)(off + got));
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0) {
                d->io_errno = errno;
                return -1;
            }
            if (r == 0)
                break; /* the file shrank */
            got += r;
        }
        return got;
    }
    memcpy(buf, d->data + off, (size_t)n);
    return n;
}

static int io_read(void *opaque, uint8_t *buf, int n)
{
    decoder *d = opaque;
    if (should_stop(d))
        return AVERROR_EXIT;
    int64_t r = src_pread(d, d->pos, buf, n);
    if (r < 0)
        return AVERROR(d->io_errno);
    if (r == 0)
        return AVERROR_EOF;
    d->pos += r;
    return (int)r;
}

static int64_t io_seek(void *opaque, int64_t offset, int whence)
{
    decoder *d = opaque;
    whence &= ~AVSEEK_FORCE;
    int64_t to;
    switch (whence) {
    case AVSEEK_SIZE:
        return d->size;
    case SEEK_SET:
        to = offset;
        break;
    case SEEK_CUR:
        to = d->pos + offset;
        break;
    case SEEK_END:
        to = d->size + offset;
        break;
    default:
        return AVERROR(EINVAL);
    }
    if (to < 0)
        return AVERROR(EINVAL);
    d->pos = to;
    return to;
}

/* Nested opens (playlists, concat lists, references) are refused. */
static int io_open_refuse(struct AVFormatContext *s, AVIOContext **pb, const char *url, int flags,
                          AVDictionary **options)
{
    decoder *d = s->opaque;
    if (d)
        d->refused_open = 1;
    (void)pb;
    (void)url;
    (void)flags;
    (void)options;
    return AVERROR(EPERM);
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

/* For a RIFF WAVE file whose data chunk claims more bytes than the file
 * holds, the duration its header declares; 0 otherwise. */
static double wav_declared_if_short(decoder *d)
{
    uint8_t h[12];
    if (src_pread(d, 0, h, 12) != 12 || memcmp(h, "RIFF", 4) != 0 || memcmp(h + 8, "WAVE", 4) != 0)
        return 0;
    uint32_t byte_rate = 0;
    int64_t off = 12;
    for (int i = 0; i < 64 && off + 8 <= d->size; i++) {
        uint8_t c[16];
        if (src_pread(d, off, c, 8) != 8)
            return 0;
        uint32_t len = rd32(c + 4);
        if (memcmp(c, "fmt ", 4) == 0) {
            if (len < 16 || src_pread(d, off + 8, c, 16) != 16)
                return 0;
            uint16_t tag = rd16(c), channels = rd16(c + 2), align = rd16(c + 12);
            uint32_t rate = rd32(c + 4);
            /* Only plain PCM/float (or extensible): there bytes map to time. */
            if ((tag == 1 || tag == 3 || tag == 0xFFFE) && channels && align && rate)
                byte_rate = rate * (uint32_t)align;
            if ((uint64_t)rate * align > UINT32_MAX)
                byte_rate = 0;
        } else if (memcmp(c, "data", 4) == 0) {
            if (!byte_rate || len == 0 || len == UINT32_MAX)
                return 0; /* unknown size (a stream) or unknown rate */
            if (off + 8 + (int64_t)len <= d->size)
                return 0; /* all there */
            return (double)len / byte_rate;
        }
        off += 8 + (int64_t)len + (len & 1);
    }
    return 0;
}

/* ---- resampling to 16 kHz mono s16 and writing ---- */

static int write_samples(decoder *d, const int16_t *s, int n)
{
    if (n <= 0)
        return 0;
    int64_t before = d->w->n_samples;
    int rc = pcm_writer_write(d->w, s, (size_t)n, d->err);
    if (rc)
        return rc;
    if (d->max_samples && d->w->n_samples > d->max_samples)
        return too_long_error(d);
    if (d->w->n_samples >= d->next_checkin || before == 0) {
        d->next_checkin = d->w->n_samples + CHECKIN_EVERY;
        if (checkin(d, d->w->n_samples))
            return stop_error(d);
    }
    return 0;
}

/* Convert n input samples (NULL, 0: drain the resampler) and write them. */
static int resample(decoder *d, const uint8_t **in, int n)
{
    for (;;) {
        int need = swr_get_out_samples(d->rs.swr, n);
        if (need < 0)
            return av_error(d, need, "cannot resample");
        if (need + 16 > d->out_cap) {
            int cap = need + 16 + 1024;
            int16_t *p = av_realloc(d->out, (size_t)cap * sizeof *p);
            if (!p)
                return err_set(d->err, HARK_ENOMEM, "cannot decode '%s': out of memory", d->name);
            d->out = p;
            d->out_cap = cap;
        }
        uint8_t *outp = (uint8_t *)d->out;
        int got = swr_convert(d->rs.swr, &outp, d->out_cap, in, n);
        if (got < 0)
            return av_error(d, got, "cannot resample");
        int rc = write_samples(d, d->out, got);
        if (rc)
            return rc;
        if (in || got == 0)
            return 0;
    }
}

static int setup_resampler(decoder *d, const AVFrame *f)
{
    if (f->sample_rate < MIN_SRC_RATE || f->sample_rate > MAX_SRC_RATE)
        return err_set(d->err, HARK_EMEDIA, "cannot decode '%s': unsupported sample rate %d Hz",
                       d->name, f->sample_rate);
    if (media_resampler_fits(&d->rs, f))
        return 0;
    if (d->rs.swr) { /* the stream changed format mid-way: drain, then start again */
        int rc = resample(d, NULL, 0);
        if (rc)
            return rc;
    }
    return media_resampler_setup(&d->rs, f, d->name, d->err);
}

/* Resample a frame in slices, so the output buffer stays small whatever the
 * frame's size and the rate ratio (a 100 Hz source grows 160 times). */
#define SLICE_SAMPLES 8192

static int resample_frame(decoder *d, const AVFrame *f)
{
    int rc = setup_resampler(d, f);
    if (rc)
        return rc;
    enum AVSampleFormat fmt = (enum AVSampleFormat)f->format;
    int planar = av_sample_fmt_is_planar(fmt);
    int planes = planar ? f->ch_layout.nb_channels : 1;
    size_t step = (size_t)av_get_bytes_per_sample(fmt) * (planar ? 1 : f->ch_layout.nb_channels);
    const uint8_t *in[MEDIA_MAX_CHANNELS];
    for (int off = 0; off < f->nb_samples; off += SLICE_SAMPLES) {
        int n = f->nb_samples - off < SLICE_SAMPLES ? f->nb_samples - off : SLICE_SAMPLES;
        for (int p = 0; p < planes; p++)
            in[p] = f->extended_data[p] + (size_t)off * step;
        rc = resample(d, in, n);
        if (rc)
            return rc;
    }
    return 0;
}

/* Receive every frame the decoder has ready and write it out. */
static int drain_frames(decoder *d)
{
    int failures = 0;
    for (;;) {
        if (should_stop(d))
            return stop_error(d);
        int ret = avcodec_receive_frame(d->dec, d->frame);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
            return 0;
        if (ret == AVERROR(ENOMEM))
            return av_error(d, ret, NULL);
        if (ret < 0) {
            d->errors++;
            if (++failures >= 16)
                return 0; /* a decoder stuck on an error: go on with the next packet */
            continue;
        }
        int rc = d->frame->nb_samples > 0 ? resample_frame(d, d->frame) : 0;
        av_frame_unref(d->frame);
        if (rc)
            return rc;
    }
}

/* ---- the whole decode ---- */

static double stream_seconds(const AVStream *st, int64_t t)
{
    if (t == AV_NOPTS_VALUE || t <= 0 || st->time_base.num <= 0 || st->time_base.den <= 0)
        return 0;
    return (double)t * av_q2d(st->time_base);
}

/* Open the input through our AVIO, refusing demuxers that follow lists of
 * other files, and remember each stream's declared duration before
 * avformat_find_stream_info replaces missing ones with estimates. */
static int open_input(decoder *d)
{
    uint8_t *iobuf = av_malloc(IO_BUFFER_SIZE);
    d->fmt = avformat_alloc_context();
    if (iobuf)
        d->avio = avio_alloc_context(iobuf, IO_BUFFER_SIZE, 0, d, io_read, NULL, io_seek);
    if (!d->avio || !d->fmt) {
        if (!d->avio)
            av_free(iobuf);
        return err_set(d->err, HARK_ENOMEM, "cannot decode '%s': out of memory", d->name);
    }
    d->fmt->pb = d->avio;
    d->fmt->flags |= AVFMT_FLAG_CUSTOM_IO;
    d->fmt->interrupt_callback.callback = interrupt_cb;
    d->fmt->interrupt_callback.opaque = d;
    d->fmt->io_open = io_open_refuse;
    d->fmt->opaque = d;

    /* Probe first, to refuse the demuxers whose input is a list of other
     * files or network addresses. */
    const AVInputFormat *ifmt = NULL;
    int ret = av_probe_input_buffer2(d->avio, &ifmt, d->name, d->fmt, 0, 0);
    if (ret >= 0 && ifmt && refers_to_others(ifmt->name))
        return refused_error(d);
    /* Demuxers that open nested inputs themselves (concat) do not use
     * io_open but inherit the protocol whitelist: allow no protocol at all. */
    if (ret >= 0) {
        AVDictionary *open_opts = NULL;
        av_dict_set(&open_opts, "protocol_whitelist", "none", 0);
        ret = avformat_open_input(&d->fmt, d->name, ifmt, &open_opts); /* frees fmt on failure */
        av_dict_free(&open_opts);
    }
    if (ret < 0) {
        if (d->stop || ret == AVERROR_EXIT || d->io_errno || ret == AVERROR(ENOMEM))
            return av_error(d, ret, NULL);
        if (d->refused_open)
            return refused_error(d);
        char cause[AV_ERROR_MAX_STRING_SIZE];
        media_av_cause(ret, cause, sizeof cause);
        if (ret == AVERROR_INVALIDDATA)
            return err_set(d->err, HARK_EMEDIA,
                           "cannot decode '%s': not a media file FFmpeg can read", d->name);
        return err_set(d->err, HARK_EMEDIA,
                       "cannot decode '%s': not a media file FFmpeg can read (%s)", d->name, cause);
    }
    d->n_open = d->fmt->nb_streams;
    if (d->n_open) {
        d->open_durations = calloc(d->n_open, sizeof *d->open_durations);
        if (!d->open_durations)
            return err_set(d->err, HARK_ENOMEM, "cannot decode '%s': out of memory", d->name);
        for (unsigned i = 0; i < d->n_open; i++)
            d->open_durations[i] = d->fmt->streams[i]->duration;
    }
    return 0;
}

/* Pick the best audio stream (so video files work) and discard the rest;
 * say precisely why when there is none we can use. */
static int choose_stream(decoder *d)
{
    /* avformat_find_stream_info reads up to 5 MB of packets by default and
     * runs codec probes over them (a WAV's PCM is checked for being MP3 or
     * S/PDIF in disguise): its time grows with what it reads, 2.5 ms of a
     * 3-second WAV's 4.5 ms decode at 64 KiB, 0.1 ms at 4 KiB, on the
     * push-to-talk path. When the header already gave every stream its
     * codec, rate and channels (WAV, FLAC, Ogg, Matroska, MP4...), 4 KiB
     * suffices; streams the header leaves unknown (raw MPEG, ADTS,
     * transport streams) keep the full default. The resampler follows the
     * decoded frames, so a refined guess cannot hurt. */
    bool described = d->fmt->nb_streams > 0;
    for (unsigned i = 0; i < d->fmt->nb_streams && described; i++) {
        const AVCodecParameters *p = d->fmt->streams[i]->codecpar;
        described = p->codec_id != AV_CODEC_ID_NONE &&
                    (p->codec_type != AVMEDIA_TYPE_AUDIO ||
                     (p->sample_rate > 0 && p->ch_layout.nb_channels > 0));
    }
    if (described)
        d->fmt->probesize = DESCRIBED_PROBESIZE;
    int ret = avformat_find_stream_info(d->fmt, NULL);
    if (ret < 0)
        return av_error(d, ret, "cannot read stream information");
    if (should_stop(d))
        return stop_error(d);

    int idx = av_find_best_stream(d->fmt, AVMEDIA_TYPE_AUDIO, -1, -1, &d->codec, 0);
    if (idx == AVERROR_STREAM_NOT_FOUND) {
        /* av_find_best_stream skips audio streams with no channels or no
         * rate: say so rather than "no audio stream". */
        for (unsigned i = 0; i < d->fmt->nb_streams; i++) {
            const AVCodecParameters *p = d->fmt->streams[i]->codecpar;
            if (p->codec_type == AVMEDIA_TYPE_AUDIO)
                return err_set(d->err, HARK_EMEDIA,
                               "cannot decode '%s': unusable %s audio stream (%d channels, %d Hz)",
                               d->name, avcodec_get_name(p->codec_id), p->ch_layout.nb_channels,
                               p->sample_rate);
        }
        return err_set(d->err, HARK_EMEDIA, "cannot decode '%s': no audio stream", d->name);
    }
    if (idx < 0 && idx != AVERROR_DECODER_NOT_FOUND)
        return av_error(d, idx, NULL);
    if (idx < 0 || !d->codec) {
        /* An audio stream whose codec this FFmpeg cannot decode. */
        const char *cname = "unknown";
        for (unsigned i = 0; i < d->fmt->nb_streams; i++)
            if (d->fmt->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_AUDIO) {
                cname = avcodec_get_name(d->fmt->streams[i]->codecpar->codec_id);
                break;
            }
        return err_set(d->err, HARK_EMEDIA, "cannot decode '%s': unsupported audio codec '%s'",
                       d->name, cname);
    }
    for (unsigned i = 0; i < d->fmt->nb_streams; i++)
        d->fmt->streams[i]->discard = (int)i == idx ? AVDISCARD_DEFAULT : AVDISCARD_ALL;
    d->idx = idx;
    return 0;
}

/* The durations the input declares: the best known one (for progress and
 * the max-duration check) and, when it is not an estimate, the one the
 * truncation check compares against. */
static int read_durations(decoder *d, media_info *info)
{
    AVStream *st = d->fmt->streams[d->idx];
    AVCodecParameters *par = st->codecpar;
    double declared = stream_seconds(st, st->duration);
    if (declared <= 0 && d->fmt->duration != AV_NOPTS_VALUE && d->fmt->duration > 0)
        declared = (double)d->fmt->duration / AV_TIME_BASE;
    int estimated = d->fmt->duration_estimation_method == AVFMT_DURATION_FROM_BITRATE;
    if ((unsigned)d->idx < d->n_open && !estimated)
        d->header_s = stream_seconds(st, d->open_durations[d->idx]);
    if (strcmp(d->fmt->iformat->name, "wav") == 0)
        d->header_s = wav_declared_if_short(d);
    if (d->io_errno)
        return err_set(d->err, HARK_EIO, "cannot decode '%s': %s", d->name, strerror(d->io_errno));
    d->total_s = declared;
    if (info) {
        snprintf(info->codec, sizeof info->codec, "%s", avcodec_get_name(par->codec_id));
        snprintf(info->container, sizeof info->container, "%s", d->fmt->iformat->name);
        info->src_rate = par->sample_rate;
        info->src_channels = par->ch_layout.nb_channels;
        info->declared_duration_s = declared;
    }
    if (d->o->max_duration_s > 0 && !estimated && declared > d->o->max_duration_s)
        return too_long_error(d);
    return 0;
}

static int open_codec(decoder *d)
{
    AVStream *st = d->fmt->streams[d->idx];
    AVCodecParameters *par = st->codecpar;
    d->dec = avcodec_alloc_context3(d->codec);
    if (!d->dec)
        return err_set(d->err, HARK_ENOMEM, "cannot decode '%s': out of memory", d->name);
    int ret = avcodec_parameters_to_context(d->dec, par);
    if (ret >= 0) {
        d->dec->pkt_timebase = st->time_base;
        d->dec->thread_count = 1;
        ret = avcodec_open2(d->dec, d->codec, NULL);
    }
    if (ret < 0) {
        char what[160];
        snprintf(what, sizeof what, "unusable %s audio stream (%d channels, %d Hz)",
                 avcodec_get_name(par->codec_id), par->ch_layout.nb_channels, par->sample_rate);
        return av_error(d, ret, what);
    }
    d->pkt = av_packet_alloc();
    d->frame = av_frame_alloc();
    if (!d->pkt || !d->frame)
        return err_set(d->err, HARK_ENOMEM, "cannot decode '%s': out of memory", d->name);
    return 0;
}

/* Demux, decode, resample, write; then flush the decoder and resampler. */
static int pump_packets(decoder *d)
{
    int rc;
    for (;;) {
        if (should_stop(d))
            return stop_error(d);
        int ret = av_read_frame(d->fmt, d->pkt);
        if (ret == AVERROR_EOF)
            break;
        if (ret < 0) {
            if (d->stop || ret == AVERROR_EXIT || d->io_errno || ret == AVERROR(ENOMEM))
                return av_error(d, ret, NULL);
            if (ret == AVERROR(EAGAIN))
                continue;
            /* Damaged data that the demuxer cannot get past: the end of what
             * is decodable; check_result judges what we got. */
            log_debug("decode %s: demuxer stopped: %s", d->name, av_err2str(ret));
            break;
        }
        if (d->pkt->stream_index != d->idx) {
            av_packet_unref(d->pkt);
            continue;
        }
        d->packets++;
        ret = avcodec_send_packet(d->dec, d->pkt);
        av_packet_unref(d->pkt);
        if (ret == AVERROR(ENOMEM))
            return av_error(d, ret, NULL);
        if (ret < 0)
            d->errors++;
        if ((rc = drain_frames(d)) != 0)
            return rc;
    }
    if (avcodec_send_packet(d->dec, NULL) >= 0 && (rc = drain_frames(d)) != 0)
        return rc;
    if (d->rs.swr && (rc = resample(d, NULL, 0)) != 0)
        return rc;
    return should_stop(d) ? stop_error(d) : 0;
}

/* Is what we decoded the recording, or a damaged or truncated part of it? */
static int check_result(decoder *d, media_info *info)
{
    double decoded = pcm_seconds(d->w->n_samples);
    if (info) {
        info->n_samples = d->w->n_samples;
        info->duration_s = decoded;
        info->decode_errors = d->errors;
    }
    if (d->w->n_samples == 0 && d->refused_open)
        return refused_error(d);
    if (d->w->n_samples == 0)
        return err_set(d->err, HARK_EMEDIA, "cannot decode '%s': no decodable audio", d->name);
    if (d->errors > 2 && d->errors * 2 > d->packets)
        return err_set(d->err, HARK_EMEDIA,
                       "cannot decode '%s': no decodable audio (%d of %d packets rejected)",
                       d->name, d->errors, d->packets);
    if (d->header_s > 0 && decoded < d->header_s * TRUNC_RATIO - TRUNC_SLACK_S)
        return err_set(d->err, HARK_EMEDIA,
                       "cannot decode '%s': truncated: header says %.1f s, only %.1f s decodable",
                       d->name, d->header_s, decoded);
    return 0;
}

static int decode_all(decoder *d, const char *pcm_path, media_info *info)
{
    int rc = open_input(d);
    if (!rc)
        rc = choose_stream(d);
    if (!rc)
        rc = read_durations(d, info);
    if (!rc)
        rc = open_codec(d);
    if (rc)
        return rc;
    d->w = malloc(sizeof *d->w);
    if (!d->w)
        return err_set(d->err, HARK_ENOMEM, "cannot decode '%s': out of memory", d->name);
    if ((rc = pcm_writer_open(d->w, pcm_path, d->err)) != 0) {
        free(d->w);
        d->w = NULL;
        return rc;
    }
    if (checkin(d, 0))
        return stop_error(d);
    rc = pump_packets(d);
    if (!rc)
        rc = check_result(d, info);
    if (!rc) {
        rc = pcm_writer_finish(d->w, d->err);
        free(d->w);
        d->w = NULL;
    }
    return rc;
}

static void decoder_free(decoder *d)
{
    free(d->open_durations);
    if (d->w) {
        pcm_writer_abort(d->w);
        free(d->w);
    }
    av_packet_free(&d->pkt);
    av_frame_free(&d->frame);
    avcodec_free_context(&d->dec);
    media_resampler_free(&d->rs);
    av_freep(&d->out);
    avformat_close_input(&d->fmt);
    if (d->avio) {
        av_freep(&d->avio->buffer);
        avio_context_free(&d->avio);
    }
}

static int decode(decoder *d, const char *pcm_path, media_info *info)
{
    media_av_log_init();
    if (info)
        memset(info, 0, sizeof *info);
    if (d->o->max_duration_s > 0)
        d->max_samples = pcm_samples(d->o->max_duration_s);
    d->dl = deadline_in(d->o->timeout_s);
    int rc = decode_all(d, pcm_path, info);
    decoder_free(d);
    return rc;
}

static void decoder_init(decoder *d, const char *name, const media_decode_opts *o,
                         const media_decode_opts *defaults, hark_err *err)
{
    memset(d, 0, sizeof *d);
    d->name = name;
    d->o = o ? o : defaults;
    d->err = err;
    d->fd = -1;
    err_clear(err);
}

int media_decode_fd(int fd, const char *name, const char *pcm_path, const media_decode_opts *o,
                    media_info *info, hark_err *err)
{
    media_decode_opts defaults;
    media_decode_opts_default(&defaults);
    decoder d;
    decoder_init(&d, name, o, &defaults, err);
    if (info)
        memset(info, 0, sizeof *info);
    struct stat sb;
    if (fstat(fd, &sb) != 0)
        return err_set(err, HARK_EIO, "cannot decode '%s': %s", name, strerror(errno));
    if (S_ISDIR(sb.st_mode))
        return err_set(err, HARK_EINVAL, "cannot decode '%s': is a directory", name);
    if (!S_ISREG(sb.st_mode))
        return err_set(err, HARK_EINVAL, "cannot decode '%s': not a regular file", name);
    if (sb.st_size == 0)
        return err_set(err, HARK_EMEDIA, "cannot decode '%s': empty file", name);
    d.fd = fd;
    d.size = sb.st_size;
    return decode(&d, pcm_path, info);
}

int media_decode_file(const char *input, const char *pcm_path, const media_decode_opts *o,
                      media_info *info, hark_err *err)
{
    if (info)
        memset(info, 0, sizeof *info);
    /* O_NONBLOCK: a FIFO does not wait for a writer here, it is refused as
     * not a regular file; reads of a regular file are not affected. */
    int fd = open(input, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return err_set(err, errno == ENOENT || errno == ENOTDIR ? HARK_ENOENT : HARK_EIO,
                       "cannot decode '%s': %s", input, strerror(errno));
    int rc = media_decode_fd(fd, input, pcm_path, o, info, err);
    close(fd);
    return rc;
}

int media_decode_memory(const uint8_t *data, size_t size, const char *name, const char *pcm_path,
                        const media_decode_opts *o, media_info *info, hark_err *err)
{
    media_decode_opts defaults;
    media_decode_opts_default(&defaults);
    decoder d;
    decoder_init(&d, name ? name : "(memory)", o, &defaults, err);
    if (info)
        memset(info, 0, sizeof *info);
    if (size == 0 || !data)
        return err_set(err, HARK_EMEDIA, "cannot decode '%s': empty file", d.name);
    d.data = data;
    d.size = (int64_t)size;
    return decode(&d, pcm_path, info);
}
