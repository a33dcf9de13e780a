/* clip_audio.c - a span of the input's audio re-encoded as wav, flac, mp3 or opus.
 *
 * Seek (backward) to a little before the start, decode, and keep exactly the
 * samples of [start, end) counted from each frame's timestamp; resample only
 * where the encoder needs it (opus takes 48 kHz, mp3 and opus at most two
 * channels, each encoder its own sample formats); an AVAudioFifo cuts the
 * stream into the encoder's frame size. Memory is a few frames, whatever the
 * length of the input or the clip.
 */
#include "media/clip_impl.h"

#include "util/log.h"

#include <libavcodec/avcodec.h>
#include <libavutil/audio_fifo.h>
#include <libavutil/channel_layout.h>
#include <libswresample/swresample.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#define PREROLL_S 0.5         /* decode from this much before the start: mp3's bit reservoir */
#define PCM_FRAME 4096        /* samples per frame for encoders that take any size */
#define SHORT_TOLERANCE_S 0.5 /* audio may end this much before the clip's end */

typedef struct audio_fmt {
    const char *encoder; /* encoder name */
    const char *muxer;
    const char *ext;
    const char *type;
    int64_t bit_rate; /* 0: the encoder's own (lossless) */
    int max_channels;
} audio_fmt;

static const audio_fmt formats[] = {
    [CLIP_WAV] = {"pcm_s16le", "wav", "wav", "audio/wav", 0, 64},
    [CLIP_FLAC] = {"flac", "flac", "flac", "audio/flac", 0, 8},
    [CLIP_MP3] = {"libmp3lame", "mp3", "mp3", "audio/mpeg", 192000, 2},
    [CLIP_OPUS] = {"libopus", "ogg", "opus", "audio/ogg", 96000, 2},
};

typedef struct audio_job {
    clip_ctx *c;
    const audio_fmt *af;
    int idx; /* the input's audio stream */
    AVStream *ist;
    AVCodecContext *dec, *enc;
    AVStream *ost;
    SwrContext *swr;
    AVAudioFifo *fifo;
    AVPacket *pkt;
    AVFrame *frame, *eframe;
    uint8_t **buf; /* resampler output */
    int buf_cap;   /* in samples */
    int frame_size;

    /* The resampler's current input. */
    AVChannelLayout swr_layout;
    int swr_format, swr_rate;

    int64_t next_in;   /* the sample (at the frame's rate) after the last frame, -1 unknown */
    int64_t fed;       /* input samples of the clip given to the resampler */
    int64_t out_total; /* samples of the clip at the output rate */
    int64_t queued;    /* samples put in the fifo */
    int64_t pts;       /* next encoder frame's pts (samples) */
    bool done;         /* reached end_s */
    double seeked_to;  /* where the last seek aimed, 0: the start of the input */
    double back;       /* how far before the clip's start that was */
    bool landed;       /* a frame was seen since that seek */
    bool reseek;       /* it began after the clip's start: seek further back */
    double reached_s;  /* the input time decoded up to, for the truncation check */
    int packets, errors;
} audio_job;

/* The best audio stream and its decoder, or why there is none. */
static int find_audio(clip_ctx *c, const AVCodec **dec)
{
    int idx = av_find_best_stream(c->in, AVMEDIA_TYPE_AUDIO, -1, -1, dec, 0);
    if (idx == AVERROR_STREAM_NOT_FOUND) {
        for (unsigned i = 0; i < c->in->nb_streams; i++) {
            const AVCodecParameters *p = c->in->streams[i]->codecpar;
            if (p->codec_type == AVMEDIA_TYPE_AUDIO)
                return err_set(c->err, HARK_EMEDIA,
                               "cannot cut a clip of '%s': unusable %s audio stream (%d channels, "
                               "%d Hz)",
                               c->name, avcodec_get_name(p->codec_id), p->ch_layout.nb_channels,
                               p->sample_rate);
        }
        return err_set(c->err, HARK_EMEDIA, "cannot cut a clip of '%s': no audio stream", c->name);
    }
    if (idx < 0 && idx != AVERROR_DECODER_NOT_FOUND)
        return clip_in_error(c, idx, NULL);
    if (idx < 0 || !*dec)
        return err_set(c->err, HARK_EMEDIA, "cannot cut a clip of '%s': unsupported audio codec",
                       c->name);
    const AVCodecParameters *p = c->in->streams[idx]->codecpar;
    if (p->sample_rate < 100 || p->sample_rate > 768000 || p->ch_layout.nb_channels < 1 ||
        p->ch_layout.nb_channels > 64)
        return err_set(c->err, HARK_EMEDIA,
                       "cannot cut a clip of '%s': unusable %s audio stream (%d channels, %d Hz)",
                       c->name, avcodec_get_name(p->codec_id), p->ch_layout.nb_channels,
                       p->sample_rate);
    return idx;
}

int clip_audio_describe(clip_ctx *c, clip_format f, clip_info *info, const char **muxer)
{
    const AVCodec *dec = NULL;
    int idx = find_audio(c, &dec);
    if (idx < 0)
        return idx;
    const audio_fmt *af = &formats[f];
    snprintf(info->ext, sizeof info->ext, "%s", af->ext);
    snprintf(info->type, sizeof info->type, "%s", af->type);
    info->has_video = false;
    *muxer = af->muxer;
    /* Clamp to the audio stream's own duration when the header gives it:
     * the container's may be a longer video's. */
    const AVStream *st = c->in->streams[idx];
    if (st->duration != AV_NOPTS_VALUE && st->duration > 0)
        c->input_s = (double)st->duration * av_q2d(st->time_base);
    return 0;
}

/* ---- choosing the encoder's parameters ---- */

/* The input's rate if the encoder takes it, else the next one up, else its
 * highest: never fewer samples than the input has. Two exceptions: opus is
 * always 48 kHz, and mp3 is at least 32 kHz (MPEG-1): below, a frame is
 * 576 samples and LAME's delay and padding (up to about 1700 samples,
 * which players skip but the Xing header's duration counts) make ffprobe
 * report a 16 kHz clip up to 0.105 s long; at 32 kHz and up, under 0.07 s. */
static int pick_rate(const AVCodec *codec, clip_format f, int in_rate)
{
    if (f == CLIP_OPUS)
        return 48000;
    if (f == CLIP_MP3 && in_rate < 32000)
        return in_rate % 11025 == 0 ? 44100 : in_rate % 12000 == 0 ? 48000 : 32000;
    const int *r = codec->supported_samplerates;
    if (!r)
        return in_rate;
    int up = 0, top = 0;
    for (; *r; r++) {
        if (*r == in_rate)
            return in_rate;
        if (*r > in_rate && (!up || *r < up))
            up = *r;
        if (*r > top)
            top = *r;
    }
    return up ? up : top ? top : in_rate;
}

static enum AVSampleFormat pick_format(const AVCodec *codec)
{
    const enum AVSampleFormat *s = codec->sample_fmts;
    if (!s)
        return AV_SAMPLE_FMT_S16;
    for (const enum AVSampleFormat *p = s; *p != AV_SAMPLE_FMT_NONE; p++)
        if (*p == AV_SAMPLE_FMT_FLTP || *p == AV_SAMPLE_FMT_FLT)
            return *p;
    return s[0];
}

static int open_decoder(audio_job *a, const AVCodec *codec)
{
    clip_ctx *c = a->c;
    a->dec = avcodec_alloc_context3(codec);
    if (!a->dec)
        return clip_in_error(c, AVERROR(ENOMEM), NULL);
    int ret = avcodec_parameters_to_context(a->dec, a->ist->codecpar);
    if (ret >= 0) {
        a->dec->pkt_timebase = a->ist->time_base;
        a->dec->thread_count = 1;
        ret = avcodec_open2(a->dec, codec, NULL);
    }
    if (ret < 0)
        return clip_in_error(c, ret, "cannot open the audio decoder");
    return 0;
}

static int open_encoder(audio_job *a, clip_format f)
{
    clip_ctx *c = a->c;
    const AVCodec *codec = avcodec_find_encoder_by_name(a->af->encoder);
    if (!codec)
        return err_set(c->err, HARK_EINVAL, "cannot write clip '%s': this FFmpeg has no %s encoder",
                       c->out_path, a->af->encoder);
    a->enc = avcodec_alloc_context3(codec);
    if (!a->enc)
        return clip_out_error(c, AVERROR(ENOMEM), NULL);
    const AVCodecParameters *p = a->ist->codecpar;
    int channels = p->ch_layout.nb_channels;
    if (channels > a->af->max_channels)
        channels = 2;
    if (channels == p->ch_layout.nb_channels && p->ch_layout.order != AV_CHANNEL_ORDER_UNSPEC)
        av_channel_layout_copy(&a->enc->ch_layout, &p->ch_layout);
    else
        av_channel_layout_default(&a->enc->ch_layout, channels);
    a->enc->sample_rate = pick_rate(codec, f, p->sample_rate);
    a->enc->sample_fmt = pick_format(codec);
    a->enc->time_base = (AVRational){1, a->enc->sample_rate};
    if (a->af->bit_rate)
        a->enc->bit_rate = a->af->bit_rate;
    a->enc->flags |= AV_CODEC_FLAG_BITEXACT;
    if (c->out->oformat->flags & AVFMT_GLOBALHEADER)
        a->enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    int ret = avcodec_open2(a->enc, codec, NULL);
    if (ret < 0)
        return clip_out_error(c, ret, "cannot open the encoder");
    a->frame_size = a->enc->frame_size > 0 ? a->enc->frame_size : PCM_FRAME;

    a->ost = avformat_new_stream(c->out, NULL);
    if (!a->ost)
        return clip_out_error(c, AVERROR(ENOMEM), NULL);
    ret = avcodec_parameters_from_context(a->ost->codecpar, a->enc);
    if (ret < 0)
        return clip_out_error(c, ret, NULL);
    a->ost->time_base = a->enc->time_base;
    ret = avformat_write_header(c->out, NULL);
    if (ret < 0)
        return clip_out_error(c, ret, "cannot write the header");

    a->fifo = av_audio_fifo_alloc(a->enc->sample_fmt, channels, a->frame_size * 2);
    a->pkt = av_packet_alloc();
    a->frame = av_frame_alloc();
    a->eframe = av_frame_alloc();
    if (!a->fifo || !a->pkt || !a->frame || !a->eframe)
        return clip_out_error(c, AVERROR(ENOMEM), NULL);
    a->out_total = llround((c->end_s - c->start_s) * a->enc->sample_rate);
    return 0;
}

/* ---- encoding ---- */

static int write_packets(audio_job *a)
{
    clip_ctx *c = a->c;
    for (;;) {
        int ret = avcodec_receive_packet(a->enc, a->pkt);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
            return 0;
        if (ret < 0)
            return clip_out_error(c, ret, "cannot encode");
        a->pkt->stream_index = a->ost->index;
        av_packet_rescale_ts(a->pkt, a->enc->time_base, a->ost->time_base);
        ret = av_write_frame(c->out, a->pkt); /* one stream: nothing to interleave */
        av_packet_unref(a->pkt);
        if (ret < 0 || c->write_errno)
            return clip_out_error(c, ret, NULL);
    }
}

/* Encode what the fifo holds in whole frames; with flush, the rest too
 * (padded with silence for an encoder that takes no short last frame),
 * then drain the encoder. */
static int encode_fifo(audio_job *a, bool flush)
{
    clip_ctx *c = a->c;
    unsigned caps = a->enc->codec->capabilities;
    bool any_size = caps & (AV_CODEC_CAP_VARIABLE_FRAME_SIZE | AV_CODEC_CAP_SMALL_LAST_FRAME);
    for (;;) {
        int have = av_audio_fifo_size(a->fifo);
        if (have <= 0 || (have < a->frame_size && !flush))
            break;
        int n = have < a->frame_size ? have : a->frame_size;
        AVFrame *f = a->eframe;
        f->nb_samples = n < a->frame_size && !any_size ? a->frame_size : n;
        f->format = a->enc->sample_fmt;
        f->sample_rate = a->enc->sample_rate;
        int ret = av_channel_layout_copy(&f->ch_layout, &a->enc->ch_layout);
        if (ret >= 0)
            ret = av_frame_get_buffer(f, 0);
        if (ret < 0)
            return clip_out_error(c, ret, NULL);
        if (f->nb_samples > n)
            av_samples_set_silence(f->extended_data, n, f->nb_samples - n, f->ch_layout.nb_channels,
                                   (enum AVSampleFormat)f->format);
        if (av_audio_fifo_read(a->fifo, (void **)f->extended_data, n) != n) {
            av_frame_unref(f);
            return clip_out_error(c, AVERROR_BUG, NULL);
        }
        f->pts = a->pts;
        a->pts += f->nb_samples;
        ret = avcodec_send_frame(a->enc, f);
        av_frame_unref(f);
        if (ret < 0)
            return clip_out_error(c, ret, "cannot encode");
        if ((ret = write_packets(a)) != 0)
            return ret;
    }
    if (!flush)
        return 0;
    int ret = avcodec_send_frame(a->enc, NULL);
    if (ret < 0 && ret != AVERROR_EOF)
        return clip_out_error(c, ret, "cannot encode");
    return write_packets(a);
}

/* ---- resampling ---- */

static int setup_resampler(audio_job *a, const AVFrame *f)
{
    AVChannelLayout in = {0};
    int rc = 0;
    if (f->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC || f->ch_layout.nb_channels <= 0)
        av_channel_layout_default(&in, f->ch_layout.nb_channels);
    else if (av_channel_layout_copy(&in, &f->ch_layout) < 0)
        return clip_in_error(a->c, AVERROR(ENOMEM), NULL);
    if (in.nb_channels < 1 || in.nb_channels > 64 || f->sample_rate < 100 ||
        f->sample_rate > 768000) {
        rc = err_set(a->c->err, HARK_EMEDIA,
                     "cannot cut a clip of '%s': unusable audio (%d channels, %d Hz)", a->c->name,
                     in.nb_channels, f->sample_rate);
        goto out;
    }
    if (a->swr && a->swr_format == f->format && a->swr_rate == f->sample_rate &&
        av_channel_layout_compare(&a->swr_layout, &in) == 0)
        goto out;
    swr_free(&a->swr); /* the stream changed shape: start over (rare) */
    int ret =
        swr_alloc_set_opts2(&a->swr, &a->enc->ch_layout, a->enc->sample_fmt, a->enc->sample_rate,
                            &in, (enum AVSampleFormat)f->format, f->sample_rate, 0, NULL);
    if (ret >= 0)
        ret = swr_init(a->swr);
    if (ret < 0) {
        rc = clip_in_error(a->c, ret, "cannot resample");
        goto out;
    }
    av_channel_layout_uninit(&a->swr_layout);
    a->swr_layout = in;
    in = (AVChannelLayout){0};
    a->swr_format = f->format;
    a->swr_rate = f->sample_rate;
out:
    av_channel_layout_uninit(&in);
    return rc;
}

/* Resample n input samples (in NULL: drain) into the fifo, never past the
 * clip's length at the output rate. */
static int resample(audio_job *a, const uint8_t **in, int n)
{
    int need = swr_get_out_samples(a->swr, n);
    if (need < 0)
        return clip_in_error(a->c, need, "cannot resample");
    if (need + 16 > a->buf_cap) {
        if (a->buf)
            av_freep(&a->buf[0]);
        av_freep(&a->buf);
        a->buf_cap = 0;
        int ret = av_samples_alloc_array_and_samples(&a->buf, NULL, a->enc->ch_layout.nb_channels,
                                                     need + 16, a->enc->sample_fmt, 0);
        if (ret < 0)
            return clip_in_error(a->c, ret, NULL);
        a->buf_cap = need + 16;
    }
    int got = swr_convert(a->swr, a->buf, a->buf_cap, in, n);
    if (got < 0)
        return clip_in_error(a->c, got, "cannot resample");
    int64_t room = a->out_total - a->queued;
    if (got > room)
        got = (int)(room > 0 ? room : 0);
    if (got > 0) {
        if (av_audio_fifo_write(a->fifo, (void **)a->buf, got) != got)
            return clip_out_error(a->c, AVERROR(ENOMEM), NULL);
        a->queued += got;
    }
    return encode_fifo(a, false);
}

/* Keep the part of a decoded frame inside the clip; note when it is done. */
static int take_frame(audio_job *a, const AVFrame *f)
{
    clip_ctx *c = a->c;
    int rate = f->sample_rate;
    int64_t ts = f->best_effort_timestamp != AV_NOPTS_VALUE ? f->best_effort_timestamp : f->pts;
    int64_t first;
    double at = ts != AV_NOPTS_VALUE ? clip_stream_s(a->ist, ts) : NAN;
    if (fabs(at) < 1e9) /* a hostile timestamp counts as none */
        first = llround(at * rate);
    else if (a->next_in >= 0)
        first = a->next_in;
    else
        return err_set(c->err, HARK_EMEDIA, "cannot cut a clip of '%s': audio without timestamps",
                       c->name);
    if (!a->landed) {
        a->landed = true;
        /* Some demuxers (MPEG-TS, VBR mp3 without an exact index) land
         * after the point asked for: then go further back. */
        if (a->seeked_to > 0 && first > llround(c->start_s * rate)) {
            a->reseek = true;
            return 0;
        }
    }
    a->next_in = first + f->nb_samples;
    a->reached_s = (double)a->next_in / rate;
    int64_t from = llround(c->start_s * rate), to = llround(c->end_s * rate);
    if (a->next_in >= to)
        a->done = true;
    enum AVSampleFormat fmt = (enum AVSampleFormat)f->format;
    int planar = av_sample_fmt_is_planar(fmt);
    int planes = planar ? f->ch_layout.nb_channels : 1;
    size_t step = (size_t)av_get_bytes_per_sample(fmt) * (planar ? 1 : f->ch_layout.nb_channels);
    const uint8_t *in[64];
    /* In slices of at most 50 ms of media, each followed by a check-in
     * (skipped media counts as processed too). */
    int slice = rate / 20 > 0 ? rate / 20 : 1;
    for (int off = 0; off < f->nb_samples; off += slice) {
        int n = f->nb_samples - off < slice ? f->nb_samples - off : slice;
        int64_t lo = first + off > from ? first + off : from;
        int64_t hi = first + off + n < to ? first + off + n : to;
        if (hi > lo) {
            int rc = setup_resampler(a, f);
            if (rc)
                return rc;
            for (int p = 0; p < planes; p++)
                in[p] = f->extended_data[p] + (size_t)(lo - first) * step;
            if ((rc = resample(a, in, (int)(hi - lo))) != 0)
                return rc;
            a->fed += hi - lo;
        }
        if (clip_checkin(c, (double)(first + off + n) / rate,
                         a->queued / (double)a->enc->sample_rate, false))
            return clip_stop_error(c);
    }
    return 0;
}

static int drain_decoder(audio_job *a)
{
    clip_ctx *c = a->c;
    int failures = 0;
    while (!a->done && !a->reseek) {
        if (clip_should_stop(c))
            return clip_stop_error(c);
        int ret = avcodec_receive_frame(a->dec, a->frame);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
            return 0;
        if (ret == AVERROR(ENOMEM))
            return clip_in_error(c, ret, NULL);
        if (ret < 0) {
            a->errors++;
            if (++failures >= 16)
                return 0; /* a decoder stuck on an error: go on with the next packet */
            continue;
        }
        int rc = a->frame->nb_samples > 0 ? take_frame(a, a->frame) : 0;
        av_frame_unref(a->frame);
        if (rc)
            return rc;
    }
    return 0;
}

/* Seek backward to `back` seconds before the start (to a point at or
 * before it), or to the input's start when that is before 0; if the input
 * cannot seek, read it from where it is. */
static void seek_near_start(audio_job *a, double back)
{
    clip_ctx *c = a->c;
    double to = c->start_s - back;
    a->back = back;
    a->landed = false;
    a->reseek = false;
    a->next_in = -1;
    if (to <= 0 && a->seeked_to <= 0)
        return; /* still at the start */
    a->seeked_to = to > 0 ? to : 0;
    int64_t ts = clip_stream_ts(a->ist, a->seeked_to);
    int ret = avformat_seek_file(c->in, a->idx, INT64_MIN, ts, ts, 0);
    if (ret < 0) {
        log_debug("clip %s: cannot seek to %.3f s: %s; reading on", c->name, a->seeked_to,
                  av_err2str(ret));
        a->seeked_to = 0;
    }
    avcodec_flush_buffers(a->dec);
}

static int pump(audio_job *a)
{
    clip_ctx *c = a->c;
    int rc;
    while (!a->done) {
        int got = clip_read_packet(c, a->pkt);
        if (got < 0)
            return got;
        if (got == 0)
            break; /* the end of what is there; judged below */
        if (a->pkt->stream_index != a->idx) {
            av_packet_unref(a->pkt);
            continue;
        }
        a->packets++;
        int ret = avcodec_send_packet(a->dec, a->pkt);
        av_packet_unref(a->pkt);
        if (ret == AVERROR(ENOMEM))
            return clip_in_error(c, ret, NULL);
        if (ret < 0)
            a->errors++;
        if ((rc = drain_decoder(a)) != 0)
            return rc;
        if (a->reseek)
            seek_near_start(a, a->back * 4);
    }
    if (!a->done && avcodec_send_packet(a->dec, NULL) >= 0 && (rc = drain_decoder(a)) != 0)
        return rc;
    if (a->swr && (rc = resample(a, NULL, 0)) != 0)
        return rc;
    return 0;
}

static int judge(audio_job *a)
{
    clip_ctx *c = a->c;
    if (a->queued == 0)
        return err_set(c->err, HARK_EMEDIA,
                       "cannot cut a clip of '%s': no decodable audio between %.3f and %.3f s",
                       c->name, c->start_s, c->end_s);
    if (a->errors > 2 && a->errors * 2 > a->packets)
        return err_set(c->err, HARK_EMEDIA,
                       "cannot cut a clip of '%s': no decodable audio (%d of %d packets rejected)",
                       c->name, a->errors, a->packets);
    if (!a->done && a->reached_s < c->end_s - SHORT_TOLERANCE_S)
        return err_set(
            c->err, HARK_EMEDIA,
            "cannot cut a clip of '%s': truncated: the audio ends at %.1f s, the clip at "
            "%.1f s",
            c->name, a->reached_s, c->end_s);
    return 0;
}

static void job_release(audio_job *a)
{
    avcodec_free_context(&a->dec);
    avcodec_free_context(&a->enc);
    swr_free(&a->swr);
    av_channel_layout_uninit(&a->swr_layout);
    if (a->fifo)
        av_audio_fifo_free(a->fifo);
    av_packet_free(&a->pkt);
    av_frame_free(&a->frame);
    av_frame_free(&a->eframe);
    if (a->buf)
        av_freep(&a->buf[0]);
    av_freep(&a->buf);
}

int clip_audio_run(clip_ctx *c, clip_format f, clip_info *info)
{
    audio_job a = {.c = c, .af = &formats[f], .next_in = -1, .swr_format = -1};
    const AVCodec *dcodec = NULL;
    int rc = 0;
    a.idx = find_audio(c, &dcodec);
    if (a.idx < 0)
        return a.idx;
    a.ist = c->in->streams[a.idx];
    for (unsigned i = 0; i < c->in->nb_streams; i++)
        c->in->streams[i]->discard = (int)i == a.idx ? AVDISCARD_DEFAULT : AVDISCARD_ALL;
    if ((rc = open_decoder(&a, dcodec)) != 0 || (rc = open_encoder(&a, f)) != 0)
        goto out;
    seek_near_start(&a, PREROLL_S);
    if ((rc = pump(&a)) != 0 || (rc = judge(&a)) != 0 || (rc = encode_fifo(&a, true)) != 0)
        goto out;
    int ret = av_write_trailer(c->out);
    if (ret < 0 || c->write_errno) {
        rc = clip_out_error(c, ret, "cannot write the trailer");
        goto out;
    }
    info->duration_s = (double)a.queued / a.enc->sample_rate;
out:
    job_release(&a);
    return rc;
}
