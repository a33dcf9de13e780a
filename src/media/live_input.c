/* live_input.c - a growing input file as 16 kHz mono s16 samples (see live_input.h).
 *
 * Two readers behind one call. s16le is pread and byte order. Containers
 * go through FFmpeg: an AVIOContext whose read callback hands out bytes up
 * to the caller's limit and blocks in wait_more there (end of file only when
 * the input ended), not seekable (the seek callback only steps back over
 * bytes already read, io_seek), over which the named demuxer runs with no
 * probing and no avformat_find_stream_info (the header of these formats
 * names codec, rate and channels; the resampler follows the decoded
 * frames), so nothing waits for data a live stream sends seconds later.
 * Every byte FFmpeg gets has passed live_framing first, which stops the
 * stream at the first byte that breaks the container's structure. MP4's
 * demuxer is replaced now and then, at a fragment (reopen_mp4): its index
 * is the one thing in FFmpeg that would grow with the stream.
 *
 * live_input_read pulls: it returns samples already resampled, else
 * resamples the next slice of the frame in hand, else takes the next frame
 * from the decoder, else the next packet from the demuxer (which may block
 * in wait_more). When the demuxer stops, the decoder and resampler are
 * drained and their samples returned before the reason (0 for a clean end).
 * What is held at once: one packet, one frame, one slice's output.
 */
#include "media/live_input.h"

#include "media/decode.h"
#include "media/live_framing.h"
#include "media/pcm.h"
#include "media/resampler.h"
#include "util/log.h"

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libswresample/swresample.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define IO_BUFFER_SIZE 32768
#define SLICE_SAMPLES 4096 /* frame samples resampled at a time: bounds the output buffer */
#define MIN_SRC_RATE 1000
#define MAX_SRC_RATE 384000
#define MAX_BAD_IN_A_ROW 50 /* packets the decoder rejects in a row before we give up */
#define INDEX_BYTES 65536   /* the demuxer's seek index (matroska keeps one, reduced to this) */
#define SEEKBACK (2 * IO_BUFFER_SIZE) /* how far back FFmpeg may step (see io_seek) */

struct live_input {
    int fd;
    char *name;
    enum live_format f;
    live_input_io io;
    hark_err e; /* the error being built; copied out by live_input_read */

    int64_t limit; /* bytes that may be read, from wait_more */
    bool ended;    /* no more will come */
    int64_t pos;   /* bytes taken: s16le consumed, containers read by FFmpeg (and framed) */
    int64_t at;    /* containers: where FFmpeg reads next (<= pos after a step back) */
    /* MP4 after a reopen (see reopen_mp4): FFmpeg reads the init segment
     * [0, init_len) of the file at positions [splice_at - init_len,
     * splice_at), then the file from splice_at on at its own positions. */
    int64_t splice_at, init_len;
    int64_t last_pkt_pos; /* of the last packet of our stream */
    int reopens;
    int stop; /* the stop code wait_more returned, 0 if none */
    int io_errno;
    int final; /* 0, or the final error (e.msg holds its message); 1: ended cleanly */

    /* containers */
    live_framing fr;
    AVIOContext *avio;
    AVFormatContext *fmt;
    AVCodecContext *dec;
    media_resampler rs;
    AVPacket *pkt;
    AVFrame *frame;
    int idx; /* the audio stream decoded */
    bool opened, frame_held, draining, dec_eof, swr_flushed;
    int frame_off; /* samples of the held frame already resampled */
    int end_rc;    /* why the demuxer stopped: 0 (clean end) or an error in end_msg */
    char end_msg[sizeof(hark_err){0}.msg];
    int bad_in_a_row;

    int16_t *pend; /* resampled samples not yet returned: [pend_off, pend_n) */
    int pend_off, pend_n, pend_cap;
};

/* ---- waiting for bytes ---- */

/* Wait until bytes past `have` may be read. Returns 1 when there are, 0 at
 * the end of the input, or the stop code. */
static int more(live_input *in, int64_t have)
{
    while (in->limit <= have) {
        if (in->ended || in->stop)
            return in->stop ? in->stop : 0;
        int64_t lim = in->limit;
        bool ended = false;
        int rc = in->io.wait_more(in->io.ctx, have, &lim, &ended);
        if (rc) {
            in->stop = rc < 0 ? rc : HARK_ECANCELED;
            return in->stop;
        }
        if (lim > in->limit)
            in->limit = lim;
        in->ended = ended;
    }
    return 1;
}

/* pread exactly n bytes at off (they are below the limit, so present). */
static int read_at(live_input *in, uint8_t *buf, size_t n, int64_t off)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(in->fd, buf + got, n - got, (off_t)(off + (int64_t)got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            in->io_errno = r < 0 ? errno : EIO;
            return r < 0 ? err_set(&in->e, HARK_EIO, "cannot decode '%s': %s", in->name,
                                   strerror(errno))
                         : err_set(&in->e, HARK_EIO,
                                   "cannot decode '%s': the file ends at byte %lld, before the "
                                   "%lld bytes appended",
                                   in->name, (long long)(off + (int64_t)got), (long long)in->limit);
        }
        got += (size_t)r;
    }
    return 0;
}

static int stop_error(live_input *in)
{
    return err_set(&in->e, in->stop, "cannot decode '%s': stopped (%s)", in->name,
                   err_code_name(in->stop));
}

/* ---- raw s16le ---- */

static int64_t read_s16(live_input *in, int16_t *out, size_t max)
{
    for (;;) {
        int64_t avail = (in->limit - in->pos) / 2;
        if (avail > 0) {
            size_t n = (uint64_t)avail < max ? (size_t)avail : max;
            if (read_at(in, (uint8_t *)out, n * 2, in->pos))
                return in->e.code;
            const uint8_t *b = (const uint8_t *)out;
            for (size_t i = 0; i < n; i++) /* little-endian on any host */
                out[i] = (int16_t)(uint16_t)(b[2 * i] | b[2 * i + 1] << 8);
            in->pos += (int64_t)n * 2;
            return (int64_t)n;
        }
        /* Nothing whole: a trailing odd byte waits for its partner. */
        int m = more(in, in->limit);
        if (m < 0)
            return stop_error(in);
        if (m == 0) {
            in->final = 1;
            return 0;
        }
    }
}

/* ---- errors of the container path ---- */

/* The framing broke: at the very start, say what the bytes look like. */
static int framing_error(live_input *in)
{
    const char *label = live_format_label(in->f);
    if (in->fr.bad_at == 0) {
        uint8_t head[16];
        size_t n = in->limit < (int64_t)sizeof head ? (size_t)in->limit : sizeof head;
        hark_err he;
        if (read_at(in, head, n, 0) == 0 && live_format_check_head(in->f, head, n, &he) != 0)
            return err_set(&in->e, HARK_EMEDIA, "cannot decode '%s': %s", in->name, he.msg);
    }
    return err_set(&in->e, HARK_EMEDIA,
                   "cannot decode '%s': invalid data in the %s stream at byte %lld (%s)", in->name,
                   label, (long long)in->fr.bad_at, in->fr.why);
}

/* Why FFmpeg stopped (averr from it, `what` it was doing): the stop, an I/O
 * error, broken framing, a stream cut short, or FFmpeg's own complaint.
 * Returns 0 for a clean end of the input. */
static int end_cause(live_input *in, int averr, const char *what)
{
    const char *label = live_format_label(in->f);
    if (in->stop)
        return stop_error(in);
    if (in->io_errno)
        return in->e.code ? in->e.code
                          : err_set(&in->e, HARK_EIO, "cannot decode '%s': %s", in->name,
                                    strerror(in->io_errno));
    if (in->fr.bad_at >= 0)
        return framing_error(in);
    if (averr == AVERROR(ENOMEM))
        return err_set(&in->e, HARK_ENOMEM, "cannot decode '%s': out of memory", in->name);
    bool at_end = in->ended && in->pos >= in->limit;
    if (at_end && in->pos == 0)
        return 0; /* an input that ended empty */
    if (at_end && !live_framing_ended_cleanly(&in->fr))
        return err_set(&in->e, HARK_EMEDIA, "cannot decode '%s': the %s stream is cut short (%s)",
                       in->name, label, in->fr.why);
    if (averr == AVERROR_EOF && !at_end) {
        /* The stream says it is over (an Ogg end-of-stream page, say): so
         * must the input, with nothing after it. */
        int m = more(in, in->pos);
        if (m < 0)
            return stop_error(in);
        if (m > 0)
            return err_set(&in->e, HARK_EMEDIA,
                           "cannot decode '%s': data after the end of the %s stream at byte %lld",
                           in->name, label, (long long)in->pos);
        at_end = true;
    }
    if (at_end && averr == AVERROR_EOF)
        return 0;
    char cause[AV_ERROR_MAX_STRING_SIZE];
    media_av_cause(averr, cause, sizeof cause);
    int64_t at = in->fmt && in->fmt->pb ? avio_tell(in->fmt->pb) : in->pos;
    return err_set(&in->e, HARK_EMEDIA,
                   "cannot decode '%s': invalid data in the %s stream at byte %lld (%s%s%s)",
                   in->name, label, (long long)at, what ? what : "", what ? ": " : "", cause);
}

/* ---- the AVIO over the growing file ---- */

static int io_read(void *opaque, uint8_t *buf, int n)
{
    live_input *in = opaque;
    if (in->stop || in->io_errno)
        return AVERROR_EXIT;
    if (in->at < in->splice_at - in->init_len) {
        /* Before the start of a reopened demuxer's input: only ever passed
         * over by AVIO on its way forward after a step back (see io_seek). */
        int64_t left = in->splice_at - in->init_len - in->at;
        size_t want = (int64_t)n < left ? (size_t)n : (size_t)left;
        memset(buf, 0, want);
        in->at += (int64_t)want;
        return (int)want;
    }
    if (in->at < in->splice_at) { /* the init segment again, before a fragment */
        int64_t left = in->splice_at - in->at;
        size_t want = (int64_t)n < left ? (size_t)n : (size_t)left;
        if (read_at(in, buf, want, in->init_len - left))
            return AVERROR(EIO);
        in->at += (int64_t)want;
        return (int)want;
    }
    if (in->at < in->pos) { /* again, after a step back: from the file, already checked */
        size_t want = (int64_t)n < in->pos - in->at ? (size_t)n : (size_t)(in->pos - in->at);
        if (read_at(in, buf, want, in->at))
            return AVERROR(EIO);
        in->at += (int64_t)want;
        return (int)want;
    }
    if (in->fr.bad_at >= 0)
        return AVERROR_INVALIDDATA;
    int m = more(in, in->pos);
    if (m < 0)
        return AVERROR_EXIT;
    if (m == 0)
        return AVERROR_EOF;
    int64_t avail = in->limit - in->pos;
    size_t want = (int64_t)n < avail ? (size_t)n : (size_t)avail;
    if (read_at(in, buf, want, in->pos))
        return AVERROR(EIO);
    size_t good = live_framing_feed(&in->fr, buf, want);
    in->pos += (int64_t)good;
    in->at = in->pos;
    return good ? (int)good : AVERROR_INVALIDDATA;
}

/* Only steps back over bytes already read, by at most SEEKBACK bytes: a
 * demuxer that read past an atom's end comes back to it (AVIO does that
 * within its buffer, which with small reads holds only the last one; past
 * it, AVIO steps back half a buffer more than asked and reads forward).
 * Forward, AVIO reads its way (the context is not seekable). */
static int64_t io_seek(void *opaque, int64_t offset, int whence)
{
    live_input *in = opaque;
    int64_t to;
    switch (whence & ~AVSEEK_FORCE) {
    case SEEK_SET:
        to = offset;
        break;
    case SEEK_CUR:
        to = in->at + offset;
        break;
    default: /* AVSEEK_SIZE, SEEK_END: a growing stream has no size */
        return AVERROR(ENOSYS);
    }
    if (to < 0 || to > in->pos || to < in->pos - SEEKBACK)
        return AVERROR(ESPIPE);
    in->at = to;
    return to;
}

static int interrupt_cb(void *opaque)
{
    const live_input *in = opaque;
    return in->stop != 0;
}

/* Nested opens (a reference to another file) are refused. */
static int io_open_refuse(struct AVFormatContext *s, AVIOContext **pb, const char *url, int flags,
                          AVDictionary **options)
{
    (void)s;
    (void)pb;
    (void)url;
    (void)flags;
    (void)options;
    return AVERROR(EPERM);
}

/* ---- opening: demuxer, stream, decoder ---- */

static const struct {
    enum live_format f;
    const char *demuxer;
    enum AVCodecID codecs[4];
    const char *allowed;
} kinds[] = {
    /* Chromium's MediaRecorder also writes "audio/webm;codecs=pcm" (float) */
    {LIVE_WEBM,
     "matroska",
     {AV_CODEC_ID_OPUS, AV_CODEC_ID_VORBIS, AV_CODEC_ID_PCM_F32LE, AV_CODEC_ID_PCM_S16LE},
     "opus, vorbis, pcm_f32le, pcm_s16le"},
    {LIVE_OGG,
     "ogg",
     {AV_CODEC_ID_OPUS, AV_CODEC_ID_VORBIS, AV_CODEC_ID_FLAC},
     "opus, vorbis, flac"},
    {LIVE_MP4, "mp4", {AV_CODEC_ID_AAC, AV_CODEC_ID_OPUS, AV_CODEC_ID_FLAC}, "aac, opus, flac"},
};

static int kind_of(enum live_format f)
{
    for (int i = 0; i < (int)(sizeof kinds / sizeof *kinds); i++)
        if (kinds[i].f == f)
            return i;
    return 0;
}

static bool codec_allowed(int k, enum AVCodecID id)
{
    for (int i = 0; i < 4; i++)
        if (kinds[k].codecs[i] == id && id != AV_CODEC_ID_NONE)
            return true;
    return false;
}

static int choose_stream(live_input *in, int k)
{
    const char *label = live_format_label(in->f);
    int first_audio = -1;
    in->idx = -1;
    for (unsigned i = 0; i < in->fmt->nb_streams; i++) {
        const AVCodecParameters *p = in->fmt->streams[i]->codecpar;
        if (p->codec_type != AVMEDIA_TYPE_AUDIO)
            continue;
        if (first_audio < 0)
            first_audio = (int)i;
        if (codec_allowed(k, p->codec_id)) {
            in->idx = (int)i;
            break;
        }
    }
    if (first_audio < 0)
        return err_set(&in->e, HARK_EMEDIA, "cannot decode '%s': no audio track in the %s stream",
                       in->name, label);
    if (in->idx < 0)
        return err_set(&in->e, HARK_EMEDIA,
                       "cannot decode '%s': unsupported codec '%s' in the %s stream (allowed: %s)",
                       in->name,
                       avcodec_get_name(in->fmt->streams[first_audio]->codecpar->codec_id), label,
                       kinds[k].allowed);
    for (unsigned i = 0; i < in->fmt->nb_streams; i++)
        in->fmt->streams[i]->discard = (int)i == in->idx ? AVDISCARD_DEFAULT : AVDISCARD_ALL;
    return 0;
}

static int open_codec(live_input *in)
{
    AVStream *st = in->fmt->streams[in->idx];
    const AVCodec *codec = avcodec_find_decoder(st->codecpar->codec_id);
    if (!codec)
        return err_set(&in->e, HARK_EMEDIA, "cannot decode '%s': this FFmpeg has no %s decoder",
                       in->name, avcodec_get_name(st->codecpar->codec_id));
    in->dec = avcodec_alloc_context3(codec);
    in->pkt = av_packet_alloc();
    in->frame = av_frame_alloc();
    if (!in->dec || !in->pkt || !in->frame)
        return err_set(&in->e, HARK_ENOMEM, "cannot decode '%s': out of memory", in->name);
    int ret = avcodec_parameters_to_context(in->dec, st->codecpar);
    if (ret >= 0) {
        in->dec->pkt_timebase = st->time_base;
        in->dec->thread_count = 1;
        ret = avcodec_open2(in->dec, codec, NULL);
    }
    if (ret < 0) {
        char cause[AV_ERROR_MAX_STRING_SIZE];
        media_av_cause(ret, cause, sizeof cause);
        return err_set(&in->e, ret == AVERROR(ENOMEM) ? HARK_ENOMEM : HARK_EMEDIA,
                       "cannot decode '%s': unusable %s audio track (%d channels, %d Hz): %s",
                       in->name, avcodec_get_name(st->codecpar->codec_id),
                       st->codecpar->ch_layout.nb_channels, st->codecpar->sample_rate, cause);
    }
    return 0;
}

/* A demuxer of the format over a fresh AVIO that starts reading at
 * position `start`. Returns 0, 1 for an input that ended empty, or an error. */
static int open_demuxer(live_input *in, int64_t start)
{
    int k = kind_of(in->f);
    uint8_t *iobuf = av_malloc(IO_BUFFER_SIZE);
    in->fmt = avformat_alloc_context();
    if (iobuf)
        in->avio = avio_alloc_context(iobuf, IO_BUFFER_SIZE, 0, in, io_read, NULL, io_seek);
    if (!in->avio || !in->fmt) {
        if (!in->avio)
            av_free(iobuf);
        return err_set(&in->e, HARK_ENOMEM, "cannot decode '%s': out of memory", in->name);
    }
    in->avio->seekable = 0; /* streaming: the demuxers skip forward by reading */
    in->avio->pos = start;
    in->at = start;
    in->fmt->pb = in->avio;
    in->fmt->flags |= AVFMT_FLAG_CUSTOM_IO;
    in->fmt->interrupt_callback.callback = interrupt_cb;
    in->fmt->interrupt_callback.opaque = in;
    in->fmt->io_open = io_open_refuse;
    in->fmt->max_index_size = INDEX_BYTES;
    /* Not used, as avformat_find_stream_info is not called; small in case a
     * demuxer consults them while opening. */
    in->fmt->probesize = 4096;
    in->fmt->max_analyze_duration = AV_TIME_BASE / 2;
    const AVInputFormat *ifmt = av_find_input_format(kinds[k].demuxer);
    if (!ifmt)
        return err_set(&in->e, HARK_EMEDIA, "cannot decode '%s': this FFmpeg has no %s demuxer",
                       in->name, kinds[k].demuxer);
    AVDictionary *opts = NULL;
    av_dict_set(&opts, "protocol_whitelist", "none", 0);
    int ret = avformat_open_input(&in->fmt, in->name, ifmt, &opts); /* frees fmt on failure */
    av_dict_free(&opts);
    if (ret < 0) {
        int rc = end_cause(in, ret, "cannot read the header");
        return rc == 0 ? 1 : rc; /* ended cleanly before any audio: an empty stream */
    }
    return choose_stream(in, k);
}

static void close_demuxer(live_input *in)
{
    avformat_close_input(&in->fmt);
    if (in->avio) {
        av_freep(&in->avio->buffer);
        avio_context_free(&in->avio);
    }
}

static int open_container(live_input *in)
{
    int rc = open_demuxer(in, 0);
    if (!rc)
        rc = open_codec(in);
    if (!rc)
        in->opened = true;
    return rc;
}

/* FFmpeg's MP4 demuxer keeps an index entry for every sample and a record
 * for every fragment, for seeking: about 1.5 MB an hour of 48 kHz AAC,
 * with no way to trim it. So after REOPEN_ENTRIES samples, at the start of
 * a fragment, a new demuxer takes over: it reads the init segment (ftyp,
 * moov) again, placed just before the fragment (so offsets into the file,
 * absolute or relative to the fragment, stay right), then the stream from
 * that fragment on. The decoder and resampler carry on, so the samples are
 * the same as without it. */
#define REOPEN_ENTRIES 4096

static int reopen_mp4(live_input *in, int64_t moof)
{
    enum AVCodecID codec = in->fmt->streams[in->idx]->codecpar->codec_id;
    close_demuxer(in);
    in->splice_at = moof;
    in->init_len = in->fr.init_end;
    in->reopens++;
    log_debug("live input %s: MP4 demuxer %d from byte %lld", in->name, in->reopens + 1,
              (long long)moof);
    int rc = open_demuxer(in, moof - in->init_len);
    if (rc == 1 || (!rc && in->fmt->streams[in->idx]->codecpar->codec_id != codec))
        return err_set(&in->e, HARK_EMEDIA,
                       "cannot decode '%s': the MP4 stream reads differently from byte %lld on",
                       in->name, (long long)moof);
    return rc;
}

/* Is the packet just read the first of a fragment whose demuxer should
 * make way (see reopen_mp4)? Then where that fragment starts, else -1. */
static int64_t reopen_point(live_input *in)
{
    int64_t pos = in->pkt->pos, last = in->last_pkt_pos;
    in->last_pkt_pos = pos;
    if (in->f != LIVE_MP4 || pos < 0 ||
        avformat_index_get_entries_count(in->fmt->streams[in->idx]) < REOPEN_ENTRIES)
        return -1;
    int64_t moof = live_framing_fragment_of(&in->fr, pos);
    if (moof <= last || moof < in->fr.init_end)
        return -1;
    return moof;
}

/* ---- resampling into the pending buffer ---- */

/* Room for `need` more pending samples. */
static int pend_reserve(live_input *in, int need)
{
    if (in->pend_off == in->pend_n)
        in->pend_off = in->pend_n = 0;
    if (in->pend_n + need <= in->pend_cap)
        return 0;
    if (in->pend_off > 0) {
        memmove(in->pend, in->pend + in->pend_off,
                (size_t)(in->pend_n - in->pend_off) * sizeof *in->pend);
        in->pend_n -= in->pend_off;
        in->pend_off = 0;
    }
    if (in->pend_n + need <= in->pend_cap)
        return 0;
    int cap = in->pend_n + need + 1024;
    int16_t *p = av_realloc(in->pend, (size_t)cap * sizeof *p);
    if (!p)
        return err_set(&in->e, HARK_ENOMEM, "cannot decode '%s': out of memory", in->name);
    in->pend = p;
    in->pend_cap = cap;
    return 0;
}

/* Convert n samples at in_data (NULL: drain the resampler) into pend. */
static int resample(live_input *in, const uint8_t **in_data, int n)
{
    for (;;) {
        int need = swr_get_out_samples(in->rs.swr, n);
        if (need < 0)
            return end_cause(in, need, "cannot resample");
        if (pend_reserve(in, need + 16))
            return in->e.code;
        uint8_t *outp = (uint8_t *)(in->pend + in->pend_n);
        int got = swr_convert(in->rs.swr, &outp, in->pend_cap - in->pend_n, in_data, n);
        if (got < 0)
            return end_cause(in, got, "cannot resample");
        in->pend_n += got;
        if (in_data || got == 0)
            return 0;
    }
}

static int setup_resampler(live_input *in, const AVFrame *f)
{
    if (f->sample_rate < MIN_SRC_RATE || f->sample_rate > MAX_SRC_RATE)
        return err_set(&in->e, HARK_EMEDIA, "cannot decode '%s': unsupported sample rate %d Hz",
                       in->name, f->sample_rate);
    if (media_resampler_fits(&in->rs, f))
        return 0;
    if (in->rs.swr) { /* the stream changed format: drain, then start again */
        int rc = resample(in, NULL, 0);
        if (rc)
            return rc;
    }
    return media_resampler_setup(&in->rs, f, in->name, &in->e);
}

/* Resample the next slice of the frame in hand. */
static int resample_slice(live_input *in)
{
    AVFrame *f = in->frame;
    int rc = setup_resampler(in, f);
    if (rc)
        return rc;
    enum AVSampleFormat fmt = (enum AVSampleFormat)f->format;
    int planar = av_sample_fmt_is_planar(fmt);
    int planes = planar ? f->ch_layout.nb_channels : 1;
    size_t step =
        (size_t)av_get_bytes_per_sample(fmt) * (size_t)(planar ? 1 : f->ch_layout.nb_channels);
    int n = f->nb_samples - in->frame_off < SLICE_SAMPLES ? f->nb_samples - in->frame_off
                                                          : SLICE_SAMPLES;
    const uint8_t *data[MEDIA_MAX_CHANNELS];
    for (int p = 0; p < planes; p++)
        data[p] = f->extended_data[p] + (size_t)in->frame_off * step;
    rc = resample(in, data, n);
    in->frame_off += n;
    if (rc || in->frame_off >= f->nb_samples) {
        av_frame_unref(f);
        in->frame_held = false;
    }
    return rc;
}

/* ---- the pull loop ---- */

/* The next packet of our stream to the decoder; at the demuxer's end (or
 * failure) the decoder is flushed and the reason kept for after it. */
static int feed_decoder(live_input *in)
{
    int ret = av_read_frame(in->fmt, in->pkt);
    if (ret == AVERROR(EAGAIN))
        return 0;
    if (ret < 0) {
        if (in->stop)
            return stop_error(in);
        in->end_rc = end_cause(in, ret, NULL);
        if (in->end_rc == HARK_ENOMEM || in->end_rc == HARK_EIO)
            return in->end_rc;
        if (in->end_rc)
            snprintf(in->end_msg, sizeof in->end_msg, "%s", in->e.msg);
        in->draining = true;
        avcodec_send_packet(in->dec, NULL);
        return 0;
    }
    /* A packet cut by the end of the input (FFmpeg flags it corrupt) would
     * decode to noise: dropped. */
    if (in->pkt->stream_index != in->idx) {
        av_packet_unref(in->pkt);
        return 0;
    }
    int64_t moof = reopen_point(in);
    if (moof >= 0 || (in->pkt->flags & AV_PKT_FLAG_CORRUPT)) {
        av_packet_unref(in->pkt);
        return moof >= 0 ? reopen_mp4(in, moof) : 0;
    }
    ret = avcodec_send_packet(in->dec, in->pkt);
    av_packet_unref(in->pkt);
    if (ret == AVERROR(ENOMEM))
        return err_set(&in->e, HARK_ENOMEM, "cannot decode '%s': out of memory", in->name);
    if (ret < 0 && ret != AVERROR(EAGAIN) && ++in->bad_in_a_row >= MAX_BAD_IN_A_ROW)
        return err_set(&in->e, HARK_EMEDIA,
                       "cannot decode '%s': the %s audio does not decode (%d packets in a row "
                       "rejected, the last before byte %lld)",
                       in->name, avcodec_get_name(in->dec->codec_id), in->bad_in_a_row,
                       (long long)in->pos);
    return 0;
}

/* The next frame from the decoder, or a packet into it. */
static int next_frame(live_input *in)
{
    int ret = avcodec_receive_frame(in->dec, in->frame);
    if (ret == 0) {
        in->bad_in_a_row = 0;
        if (in->frame->nb_samples > 0) {
            in->frame_held = true;
            in->frame_off = 0;
        } else {
            av_frame_unref(in->frame);
        }
        return 0;
    }
    if (ret == AVERROR_EOF || (ret == AVERROR(EAGAIN) && in->draining)) {
        in->dec_eof = true;
        return 0;
    }
    if (ret == AVERROR(ENOMEM))
        return err_set(&in->e, HARK_ENOMEM, "cannot decode '%s': out of memory", in->name);
    if (ret != AVERROR(EAGAIN)) {
        if (++in->bad_in_a_row >= MAX_BAD_IN_A_ROW)
            return err_set(&in->e, HARK_EMEDIA,
                           "cannot decode '%s': the %s audio does not decode (%d frames in a row "
                           "rejected, the last before byte %lld)",
                           in->name, avcodec_get_name(in->dec->codec_id), in->bad_in_a_row,
                           (long long)in->pos);
        return 0;
    }
    return in->draining ? 0 : feed_decoder(in);
}

static int64_t read_container(live_input *in, int16_t *out, size_t max)
{
    if (!in->opened) {
        int rc = open_container(in);
        if (rc == 1) {
            in->final = 1;
            return 0;
        }
        if (rc)
            return rc;
    }
    for (;;) {
        if (in->pend_off < in->pend_n) {
            size_t n = (size_t)(in->pend_n - in->pend_off);
            if (n > max)
                n = max;
            memcpy(out, in->pend + in->pend_off, n * sizeof *out);
            in->pend_off += (int)n;
            return (int64_t)n;
        }
        int rc;
        if (in->frame_held) {
            rc = resample_slice(in);
        } else if (in->dec_eof) {
            if (in->rs.swr && !in->swr_flushed) {
                in->swr_flushed = true;
                rc = resample(in, NULL, 0);
            } else if (in->end_rc) {
                return err_set(&in->e, in->end_rc, "%s", in->end_msg);
            } else {
                in->final = 1;
                return 0;
            }
        } else {
            rc = next_frame(in);
        }
        if (rc)
            return rc;
    }
}

/* ---- the interface ---- */

int live_input_open(int fd, const char *name, enum live_format f, const live_input_io *io,
                    live_input **out, hark_err *err)
{
    *out = NULL;
    if (fd < 0 || !io || !io->wait_more || (unsigned)f > LIVE_MP4)
        return err_set(err, HARK_EINVAL, "cannot decode '%s': bad arguments to live_input_open",
                       name ? name : "");
    live_input *in = calloc(1, sizeof *in);
    if (in)
        in->name = strdup(name ? name : "(live)");
    if (!in || !in->name) {
        free(in);
        return err_set(err, HARK_ENOMEM, "cannot decode '%s': out of memory", name ? name : "");
    }
    in->fd = fd;
    in->f = f;
    in->io = *io;
    in->last_pkt_pos = -1;
    live_framing_init(&in->fr, f);
    if (f != LIVE_S16LE)
        media_av_log_init();
    *out = in;
    err_clear(err);
    return 0;
}

int64_t live_input_read(live_input *in, int16_t *out, size_t max, hark_err *err)
{
    if (in->final == 1)
        return 0;
    if (in->final) {
        err_set(err, in->final, "%s", in->e.msg);
        return in->final;
    }
    if (max == 0 || !out)
        return err_set(err, HARK_EINVAL, "cannot decode '%s': no room for samples", in->name);
    err_clear(&in->e);
    int64_t r = in->f == LIVE_S16LE ? read_s16(in, out, max) : read_container(in, out, max);
    if (r < 0) {
        in->final = (int)r;
        err_set(err, (int)r, "%s", in->e.msg);
    } else {
        err_clear(err);
    }
    return r;
}

int64_t live_input_bytes_read(const live_input *in)
{
    return in->pos;
}

void live_input_close(live_input *in)
{
    if (!in)
        return;
    av_packet_free(&in->pkt);
    av_frame_free(&in->frame);
    avcodec_free_context(&in->dec);
    media_resampler_free(&in->rs);
    av_freep(&in->pend);
    close_demuxer(in);
    free(in->name);
    free(in);
}
