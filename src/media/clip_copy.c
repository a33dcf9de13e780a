/* clip_copy.c - a span of the input copied packet by packet (no re-encode).
 *
 * The reference stream is the video (else the audio). Seek backward to the
 * start; the last keyframe of the reference stream at or before the start
 * is the clip's start: its timestamp becomes 0 in every stream, and packets
 * of the other streams from before it are dropped, so audio and video stay
 * in sync. Demuxers do not all land on that keyframe (MPEG-TS lands on any
 * packet, sometimes after the point asked for), so packets are held in a
 * queue from the first keyframe read until a reference packet decodes after
 * the start (no later keyframe can then show at or before it); a later
 * keyframe at or before the start replaces the earlier one and drops what
 * was held before it. A seek that landed after the start is retried
 * further back. A stream ends at the first packet whose decode
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

/* Packets held until the keyframe that starts the clip is known: at most
 * one GOP up to the start. Past these caps the latest keyframe seen wins. */
#define QUEUE_MAX_PACKETS 65536
#define QUEUE_MAX_BYTES (64 << 20)
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
    int ref;          /* the reference stream (video, else audio) */
    int64_t cand;     /* the latest keyframe at or before the start seen so far (pts) */
    int64_t cut;      /* the keyframe the clip starts at; AV_NOPTS_VALUE until decided */
    double seeked_to; /* where the last seek aimed, 0: the start of the input */
    double back;      /* how far before the clip's start that was */
    AVPacket *pkt;
    AVPacket **queue; /* packets read before the cut is decided */
    int queued, queue_cap;
    int64_t queue_bytes;
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

static void drop_queue(copy_job *j)
{
    for (int k = 0; k < j->queued; k++)
        av_packet_free(&j->queue[k]);
    j->queued = 0;
    j->queue_bytes = 0;
}

/* Seek backward to `back` seconds before the start (0: to the start
 * itself). pump calls this again with a larger `back` when the demuxer
 * landed after the start. */
static int seek_to_keyframe(copy_job *j, double back)
{
    clip_ctx *c = j->c;
    double to = c->start_s - back;
    j->back = back;
    j->cand = AV_NOPTS_VALUE;
    drop_queue(j);
    if (to <= 0 && j->seeked_to <= 0)
        return 0; /* still at the start */
    j->seeked_to = to > 0 ? to : 0;
    AVStream *st = c->in->streams[j->ref];
    int64_t ts = clip_stream_ts(st, j->seeked_to);
    int ret = avformat_seek_file(c->in, j->ref, INT64_MIN, ts, ts, 0);
    if (ret < 0)
        ret = av_seek_frame(c->in, j->ref, ts, AVSEEK_FLAG_BACKWARD);
    if (ret < 0) {
        /* Read on from where the input is: every later keyframe at or
         * before the start replaces the candidate, holding one GOP. */
        if (c->stop || c->io_errno || ret == AVERROR(ENOMEM))
            return clip_in_error(c, ret, "cannot seek");
        log_debug("clip %s: cannot seek to %.3f s: %s; reading on", c->name, j->seeked_to,
                  av_err2str(ret));
        j->seeked_to = 0;
    }
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
    int64_t npts = p->pts, ndts = p->dts;
    if ((npts != AV_NOPTS_VALUE && __builtin_sub_overflow(npts, j->offset[i], &npts)) ||
        (ndts != AV_NOPTS_VALUE && __builtin_sub_overflow(ndts, j->offset[i], &ndts))) {
        av_packet_unref(p);
        return 0; /* a timestamp no clip can hold */
    }
    p->pts = npts;
    p->dts = ndts;
    double end = ((double)ts + (double)p->duration - (double)j->offset[i]) * av_q2d(ist->time_base);
    if (end > j->out_s)
        j->out_s = end;
    av_packet_rescale_ts(p, ist->time_base, ost->time_base);
    p->stream_index = j->map[i];
    p->pos = -1;
    j->packets++;
    int ret = av_interleaved_write_frame(c->out, p); /* takes the packet */
    if (ret < 0 || c->write_errno)
        return clip_out_error(c, ret, NULL);
    return 0;
}

/* The keyframe is decided: fix every stream's offset and let the queue go. */
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
    j->queue_bytes = 0;
    return rc;
}

/* A later keyframe `key` (at or before the start) replaces the candidate:
 * drop what was held before it. */
static void restart_at(copy_job *j, int64_t key)
{
    clip_ctx *c = j->c;
    AVRational rtb = c->in->streams[j->ref]->time_base;
    int kept = 0;
    j->queue_bytes = 0;
    for (int k = 0; k < j->queued; k++) {
        AVPacket *q = j->queue[k];
        int64_t ts = pkt_ts(q);
        AVRational tb = c->in->streams[q->stream_index]->time_base;
        if (q->stream_index == j->ref || ts == AV_NOPTS_VALUE || ts < av_rescale_q(key, rtb, tb)) {
            av_packet_free(&j->queue[k]);
            continue;
        }
        j->queue_bytes += q->size;
        j->queue[kept++] = q;
    }
    j->queued = kept;
    j->cand = key;
}

/* Hold a packet until the cut is decided. Before any keyframe, the queue
 * only needs what may follow one: when full, the oldest goes. */
static int hold(copy_job *j, AVPacket *p)
{
    if (j->queued == j->queue_cap) {
        int cap = j->queue_cap ? j->queue_cap * 2 : 256;
        AVPacket **q = realloc(j->queue, (size_t)cap * sizeof *q);
        if (!q)
            return clip_out_error(j->c, AVERROR(ENOMEM), NULL);
        j->queue = q;
        j->queue_cap = cap;
    }
    AVPacket *q = av_packet_alloc();
    if (!q)
        return clip_out_error(j->c, AVERROR(ENOMEM), NULL);
    av_packet_move_ref(q, p);
    j->queue[j->queued++] = q;
    j->queue_bytes += q->size;
    if (j->queued < QUEUE_MAX_PACKETS && j->queue_bytes < QUEUE_MAX_BYTES)
        return 0;
    if (j->cand != AV_NOPTS_VALUE)
        return start_at(j, j->cand); /* a very long GOP: start at the keyframe we have */
    j->queue_bytes -= j->queue[0]->size;
    av_packet_free(&j->queue[0]);
    memmove(j->queue, j->queue + 1, (size_t)(j->queued - 1) * sizeof *j->queue);
    j->queued--;
    return 0;
}

/* A packet of the reference stream while the cut is not decided: pick
 * keyframes, decide once a packet decodes after the start. Returns 0 with
 * the packet taken (held, dropped or written), or an error. */
static int choose_cut(copy_job *j, AVPacket *p)
{
    clip_ctx *c = j->c;
    AVStream *ref = c->in->streams[j->ref];
    int64_t ts = pkt_ts(p);
    bool key = (p->flags & AV_PKT_FLAG_KEY) && ts != AV_NOPTS_VALUE;
    double t = clip_stream_s(ref, ts);
    if (j->cand == AV_NOPTS_VALUE) {
        if (!key) {
            av_packet_unref(p);
            return 0; /* not a place a clip can start */
        }
        if (t > c->start_s + 0.001 && j->seeked_to > 0) {
            av_packet_unref(p); /* landed past the start: further back */
            return seek_to_keyframe(j, j->back > 0 ? j->back * 4 : 1);
        }
        j->cand = ts;
    } else if (key && t <= c->start_s + 0.001) {
        restart_at(j, ts);
    }
    /* pts >= dts: once a packet decodes after the start, no keyframe at
     * or before the start can follow. */
    double dt = p->dts != AV_NOPTS_VALUE ? clip_stream_s(ref, p->dts) : t;
    bool decided = dt > c->start_s + 0.001 || t > c->start_s + 0.001;
    int64_t cand = j->cand;
    int rc = hold(j, p);
    if (!rc && decided && j->cut == AV_NOPTS_VALUE)
        rc = start_at(j, cand);
    return rc;
}

static int pump(copy_job *j)
{
    clip_ctx *c = j->c;
    AVStream *ref = c->in->streams[j->ref];
    int rc;
    while (j->live > 0) {
        int got = clip_read_packet(c, j->pkt);
        if (got < 0)
            return got;
        if (got == 0)
            break; /* the end of what is there; judged below */
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
            if (clip_checkin(c, j->last_ref_s, j->out_s, false))
                return clip_stop_error(c);
            if (j->ended[i] && j->last_ref_s >= c->end_s + OVERRUN_S)
                break; /* the others are sparse or over: do not read on */
            if (j->cut == AV_NOPTS_VALUE) {
                if ((rc = choose_cut(j, j->pkt)) != 0)
                    return rc;
                continue;
            }
        }
        if (j->cut == AV_NOPTS_VALUE)
            rc = hold(j, j->pkt);
        else
            rc = emit(j, j->pkt);
        if (rc)
            return rc;
    }
    /* The input ended before a packet past the start: the last keyframe. */
    if (j->cut == AV_NOPTS_VALUE && j->cand != AV_NOPTS_VALUE)
        return start_at(j, j->cand);
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
    copy_job j = {.c = c, .cut = AV_NOPTS_VALUE, .cand = AV_NOPTS_VALUE};
    int rc = 0;
    j.pkt = av_packet_alloc();
    if (!j.pkt) {
        rc = clip_out_error(c, AVERROR(ENOMEM), NULL);
        goto out;
    }
    if ((rc = open_streams(&j)) != 0 || (rc = seek_to_keyframe(&j, 0)) != 0 ||
        (rc = pump(&j)) != 0 || (rc = judge(&j)) != 0)
        goto out;
    int ret = av_write_trailer(c->out);
    if (ret < 0 || c->write_errno) {
        rc = clip_out_error(c, ret, "cannot write the trailer");
        goto out;
    }
    info->duration_s = j.out_s;
out:
    drop_queue(&j);
    free(j.queue);
    av_packet_free(&j.pkt);
    free(j.map);
    free(j.offset);
    free(j.ended);
    return rc;
}
