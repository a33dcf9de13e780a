/* clip_copy.c - a span of the input copied packet by packet (no re-encode).
 *
 * The reference stream is the video (else the audio). Seek backward to the
 * keyframe at or before the start; that keyframe is the clip's start: its
 * timestamp becomes 0 in every stream, and packets of the other streams
 * from before it are dropped, so audio and video stay in sync. Packets of
 * other streams read before the keyframe wait in a small queue until the
 * keyframe fixes the start. A stream ends at the first packet whose decode
 * time is at or past the end (for video, a frame decoded before the end may
 * show after it: B-frames need their references). The output container is
 * the input's family (mp4 to mp4, matroska to mkv or webm, ...), or
 * matroska when that muxer cannot take every stream.
 */
#include "media/clip_impl.h"

#include "util/log.h"

#include <libavcodec/avcodec.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QUEUE_MAX 256 /* packets of other streams held until the keyframe */
#define OVERRUN_S 1.0 /* read this far past the end for streams not yet ended */
#define SHORT_TOLERANCE_S 1.0

typedef struct container {
    const char *muxer, *ext, *type;
} container;

/* Is this a stream we copy (video that is not a cover picture, or audio)? */
static bool copyable(const AVStream *st)
{
    enum AVMediaType t = st->codecpar->codec_type;
    if (t == AVMEDIA_TYPE_VIDEO)
        return !(st->disposition & AV_DISPOSITION_ATTACHED_PIC);
    return t == AVMEDIA_TYPE_AUDIO;
}

static bool takes_all(const clip_ctx *c, const char *muxer)
{
    const AVOutputFormat *of = av_guess_format(muxer, NULL, NULL);
    if (!of)
        return false;
    for (unsigned i = 0; i < c->in->nb_streams; i++) {
        const AVStream *st = c->in->streams[i];
        if (copyable(st) &&
            avformat_query_codec(of, st->codecpar->codec_id, FF_COMPLIANCE_NORMAL) == 0)
            return false;
    }
    return true;
}

static bool webm_codecs(const clip_ctx *c)
{
    for (unsigned i = 0; i < c->in->nb_streams; i++) {
        const AVStream *st = c->in->streams[i];
        enum AVCodecID id = st->codecpar->codec_id;
        if (copyable(st) && id != AV_CODEC_ID_VP8 && id != AV_CODEC_ID_VP9 &&
            id != AV_CODEC_ID_AV1 && id != AV_CODEC_ID_OPUS && id != AV_CODEC_ID_VORBIS)
            return false;
    }
    return true;
}

/* The container family of the input, as muxer, extension and MIME type. */
static container family(const clip_ctx *c, bool video)
{
    const char *in = c->in->iformat->name;
    if (strstr(in, "mp4") || strstr(in, "mov")) {
        const AVDictionaryEntry *brand = av_dict_get(c->in->metadata, "major_brand", NULL, 0);
        if (brand && strncmp(brand->value, "qt", 2) == 0)
            return (container){"mov", "mov", "video/quicktime"};
        if (!video)
            return (container){"mp4", "m4a", "audio/mp4"};
        return (container){"mp4", "mp4", "video/mp4"};
    }
    if (strstr(in, "matroska") || strstr(in, "webm")) {
        if (webm_codecs(c))
            return (container){"webm", "webm", video ? "video/webm" : "audio/webm"};
        return video ? (container){"matroska", "mkv", "video/x-matroska"}
                     : (container){"matroska", "mka", "audio/x-matroska"};
    }
    if (strcmp(in, "ogg") == 0) {
        if (video)
            return (container){"ogg", "ogv", "video/ogg"};
        for (unsigned i = 0; i < c->in->nb_streams; i++)
            if (c->in->streams[i]->codecpar->codec_id == AV_CODEC_ID_OPUS)
                return (container){"ogg", "opus", "audio/ogg"};
        return (container){"ogg", "ogg", "audio/ogg"};
    }
    static const struct {
        const char *demuxer;
        container out;
    } simple[] = {
        {"mp3", {"mp3", "mp3", "audio/mpeg"}},      {"flac", {"flac", "flac", "audio/flac"}},
        {"wav", {"wav", "wav", "audio/wav"}},       {"aac", {"adts", "aac", "audio/aac"}},
        {"mpegts", {"mpegts", "ts", "video/mp2t"}}, {"avi", {"avi", "avi", "video/x-msvideo"}},
        {"flv", {"flv", "flv", "video/x-flv"}},
    };
    for (size_t i = 0; i < sizeof simple / sizeof *simple; i++)
        if (strcmp(in, simple[i].demuxer) == 0)
            return simple[i].out;
    return video ? (container){"matroska", "mkv", "video/x-matroska"}
                 : (container){"matroska", "mka", "audio/x-matroska"};
}

int clip_copy_describe(clip_ctx *c, clip_info *info, const char **muxer)
{
    bool video = false, any = false;
    for (unsigned i = 0; i < c->in->nb_streams; i++) {
        const AVStream *st = c->in->streams[i];
        if (!copyable(st) || st->codecpar->codec_id == AV_CODEC_ID_NONE)
            continue;
        any = true;
        video |= st->codecpar->codec_type == AVMEDIA_TYPE_VIDEO;
    }
    if (!any)
        return err_set(c->err, HARK_EMEDIA, "cannot cut a clip of '%s': no video or audio stream",
                       c->name);
    container k = family(c, video);
    if (!takes_all(c, k.muxer))
        k = video ? (container){"matroska", "mkv", "video/x-matroska"}
                  : (container){"matroska", "mka", "audio/x-matroska"};
    snprintf(info->ext, sizeof info->ext, "%s", k.ext);
    snprintf(info->type, sizeof info->type, "%s", k.type);
    info->has_video = video;
    *muxer = k.muxer;
    return 0;
}

/* ---- the copy ---- */

typedef struct copy_job {
    clip_ctx *c;
    int *map;        /* input stream -> output stream, -1: not copied */
    int64_t *offset; /* per input stream: the cut, in its time base */
    bool *ended;
    int ref;     /* the reference stream (video, else audio) */
    int64_t cut; /* the keyframe's pts in ref's time base; AV_NOPTS_VALUE until found */
    AVPacket *pkt;
    AVPacket *queue[QUEUE_MAX];
    int queued;
    int live;          /* copied streams not yet ended */
    double last_ref_s; /* the reference stream's time read up to */
    double out_s;      /* the clip's duration so far */
    int64_t packets;
} copy_job;

static int64_t pkt_ts(const AVPacket *p)
{
    return p->pts != AV_NOPTS_VALUE ? p->pts : p->dts;
}

static int open_streams(copy_job *j)
{
    clip_ctx *c = j->c;
    unsigned n = c->in->nb_streams;
    j->map = malloc(n * sizeof *j->map);
    j->offset = calloc(n, sizeof *j->offset);
    j->ended = calloc(n, sizeof *j->ended);
    if (!j->map || !j->offset || !j->ended)
        return clip_out_error(c, AVERROR(ENOMEM), NULL);
    j->ref = -1;
    for (unsigned i = 0; i < n; i++) {
        AVStream *ist = c->in->streams[i];
        j->map[i] = -1;
        if (!copyable(ist) || ist->codecpar->codec_id == AV_CODEC_ID_NONE ||
            avformat_query_codec(c->out->oformat, ist->codecpar->codec_id, FF_COMPLIANCE_NORMAL) ==
                0) {
            ist->discard = AVDISCARD_ALL;
            continue;
        }
        AVStream *ost = avformat_new_stream(c->out, NULL);
        if (!ost)
            return clip_out_error(c, AVERROR(ENOMEM), NULL);
        int ret = avcodec_parameters_copy(ost->codecpar, ist->codecpar);
        if (ret < 0)
            return clip_out_error(c, ret, NULL);
        ost->codecpar->codec_tag = 0; /* let the muxer choose the tag for its container */
        ost->time_base = ist->time_base;
        ost->disposition = ist->disposition;
        j->map[i] = ost->index;
        j->live++;
        bool video = ist->codecpar->codec_type == AVMEDIA_TYPE_VIDEO;
        if (j->ref < 0 ||
            (video && c->in->streams[j->ref]->codecpar->codec_type != AVMEDIA_TYPE_VIDEO))
            j->ref = (int)i;
    }
    if (j->ref < 0)
        return err_set(c->err, HARK_EMEDIA, "cannot cut a clip of '%s': no stream to copy",
                       c->name);
    int ret = avformat_write_header(c->out, NULL);
    if (ret < 0)
        return clip_out_error(c, ret, "cannot write the header");
    return 0;
}

static int seek_to_keyframe(copy_job *j)
{
    clip_ctx *c = j->c;
    if (c->start_s <= 0)
        return 0;
    AVStream *st = c->in->streams[j->ref];
    int64_t ts = clip_stream_ts(st, c->start_s);
    int ret = avformat_seek_file(c->in, j->ref, INT64_MIN, ts, ts, 0);
    if (ret < 0)
        ret = av_seek_frame(c->in, j->ref, ts, AVSEEK_FLAG_BACKWARD);
    if (ret < 0)
        return clip_in_error(c, ret, "cannot seek");
    return 0;
}

/* Write one packet of input stream i (taking it), rebased to the cut. */
static int emit(copy_job *j, AVPacket *p)
{
    clip_ctx *c = j->c;
    int i = p->stream_index;
    AVStream *ist = c->in->streams[i];
    AVStream *ost = c->out->streams[j->map[i]];
    int64_t ts = pkt_ts(p);
    if (j->ended[i] || ts == AV_NOPTS_VALUE || ts < j->offset[i]) {
        av_packet_unref(p);
        return 0; /* before the keyframe, after the end, or no time at all */
    }
    int64_t dts = p->dts != AV_NOPTS_VALUE ? p->dts : ts;
    if (clip_stream_s(ist, dts) >= c->end_s) {
        j->ended[i] = true;
        j->live--;
        av_packet_unref(p);
        return 0;
    }
    double end = (double)(ts + p->duration - j->offset[i]) * av_q2d(ist->time_base);
    if (end > j->out_s)
        j->out_s = end;
    if (p->pts != AV_NOPTS_VALUE)
        p->pts -= j->offset[i];
    if (p->dts != AV_NOPTS_VALUE)
        p->dts -= j->offset[i];
    av_packet_rescale_ts(p, ist->time_base, ost->time_base);
    p->stream_index = j->map[i];
    p->pos = -1;
    j->packets++;
    int ret = av_interleaved_write_frame(c->out, p); /* takes the packet */
    if (ret < 0 || c->write_errno)
        return clip_out_error(c, ret, NULL);
    return 0;
}

/* The keyframe is found: fix every stream's offset and let the queue go. */
static int start_at(copy_job *j, int64_t cut)
{
    clip_ctx *c = j->c;
    AVStream *ref = c->in->streams[j->ref];
    j->cut = cut;
    for (unsigned i = 0; i < c->in->nb_streams; i++)
        j->offset[i] = av_rescale_q(cut, ref->time_base, c->in->streams[i]->time_base);
    int rc = 0;
    for (int k = 0; k < j->queued; k++) {
        if (!rc)
            rc = emit(j, j->queue[k]);
        av_packet_free(&j->queue[k]);
    }
    j->queued = 0;
    return rc;
}

static int hold(copy_job *j, AVPacket *p)
{
    if (j->queued == QUEUE_MAX) { /* the oldest is surely before the keyframe */
        av_packet_free(&j->queue[0]);
        memmove(j->queue, j->queue + 1, (QUEUE_MAX - 1) * sizeof *j->queue);
        j->queued--;
    }
    AVPacket *q = av_packet_alloc();
    if (!q)
        return clip_out_error(j->c, AVERROR(ENOMEM), NULL);
    av_packet_move_ref(q, p);
    j->queue[j->queued++] = q;
    return 0;
}

static int pump(copy_job *j)
{
    clip_ctx *c = j->c;
    AVStream *ref = c->in->streams[j->ref];
    int rc;
    while (j->live > 0) {
        if (clip_should_stop(c))
            return clip_stop_error(c);
        int ret = av_read_frame(c->in, j->pkt);
        if (ret == AVERROR_EOF)
            break;
        if (ret < 0) {
            if (c->stop || c->io_errno || ret == AVERROR(ENOMEM))
                return clip_in_error(c, ret, NULL);
            if (ret == AVERROR(EAGAIN))
                continue;
            log_debug("clip %s: demuxer stopped: %s", c->name, av_err2str(ret));
            break; /* damaged data: the end of what is there; judged below */
        }
        int i = j->pkt->stream_index;
        if (i < 0 || (unsigned)i >= c->in->nb_streams || j->map[i] < 0) {
            av_packet_unref(j->pkt);
            continue;
        }
        if (i == j->ref) {
            int64_t ts = pkt_ts(j->pkt);
            double t = clip_stream_s(ref, j->pkt->dts != AV_NOPTS_VALUE ? j->pkt->dts : ts);
            if (!isnan(t))
                j->last_ref_s = t;
            if (j->cut == AV_NOPTS_VALUE) {
                if (!(j->pkt->flags & AV_PKT_FLAG_KEY) || ts == AV_NOPTS_VALUE) {
                    av_packet_unref(j->pkt);
                    continue; /* not a place a clip can start */
                }
                if ((rc = start_at(j, ts)) != 0)
                    return rc;
            }
            if (clip_checkin(c, j->last_ref_s, j->out_s, false))
                return clip_stop_error(c);
            if (j->ended[i] && j->last_ref_s >= c->end_s + OVERRUN_S)
                break; /* the others are sparse or over: do not read on */
        }
        if (j->cut == AV_NOPTS_VALUE) {
            if ((rc = hold(j, j->pkt)) != 0)
                return rc;
            continue;
        }
        if ((rc = emit(j, j->pkt)) != 0)
            return rc;
    }
    return 0;
}

static int judge(copy_job *j)
{
    clip_ctx *c = j->c;
    if (j->cut == AV_NOPTS_VALUE || j->packets == 0)
        return err_set(c->err, HARK_EMEDIA,
                       "cannot cut a clip of '%s': nothing to copy between %.3f and %.3f s "
                       "(no keyframe or no packets)",
                       c->name, c->start_s, c->end_s);
    if (!j->ended[j->ref] && j->last_ref_s < c->end_s - SHORT_TOLERANCE_S)
        return err_set(c->err, HARK_EMEDIA,
                       "cannot cut a clip of '%s': truncated: the media ends at %.1f s, the clip "
                       "at %.1f s",
                       c->name, j->last_ref_s, c->end_s);
    return 0;
}

int clip_copy_run(clip_ctx *c, clip_info *info)
{
    copy_job j = {.c = c, .cut = AV_NOPTS_VALUE};
    int rc = 0;
    j.pkt = av_packet_alloc();
    if (!j.pkt) {
        rc = clip_out_error(c, AVERROR(ENOMEM), NULL);
        goto out;
    }
    if ((rc = open_streams(&j)) != 0 || (rc = seek_to_keyframe(&j)) != 0 || (rc = pump(&j)) != 0 ||
        (rc = judge(&j)) != 0)
        goto out;
    int ret = av_write_trailer(c->out);
    if (ret < 0 || c->write_errno) {
        rc = clip_out_error(c, ret, "cannot write the trailer");
        goto out;
    }
    info->duration_s = j.out_s;
out:
    for (int k = 0; k < j.queued; k++)
        av_packet_free(&j.queue[k]);
    av_packet_free(&j.pkt);
    free(j.map);
    free(j.offset);
    free(j.ended);
    return rc;
}
