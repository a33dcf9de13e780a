/* clip_impl.h - what clip.c shares with clip_audio.c (re-encode to an audio
 * format) and clip_copy.c (stream copy); not a public interface.
 *
 * clip.c owns the input (an AVIOContext over the caller's fd, as in
 * media/decode.c), the output (an AVIOContext over a temporary file that
 * becomes the clip by rename), the deadline and the check-ins; the two
 * engines only demux, transcode or copy between them.
 */
#ifndef HARK_MEDIA_CLIP_IMPL_H
#define HARK_MEDIA_CLIP_IMPL_H

#include "media/clip.h"
#include "util/clock.h"

#include <libavformat/avformat.h>

#include <limits.h>

/* Check in when this much media was processed since the last time: with
 * steps of at most 50 ms of media in between, never more than 100 ms. */
#define CLIP_CHECKIN_S 0.05

typedef struct clip_ctx {
    const char *name;     /* the input, for messages */
    const char *out_path; /* the clip, for messages; NULL in clip_probe */
    const clip_opts *o;
    hark_err *err;
    deadline dl;
    int stop;                /* 0, or the HARK_E* code that stopped the export */
    bool stopped_by_checkin; /* that code is what the check-in returned */
    double next_checkin;     /* media_s at which to call the check-in next */
    double start_s, end_s;   /* the range, clamped */
    double input_s;          /* the input's duration, 0 if unknown */

    /* The input: the caller's fd, read with pread at our own offset. */
    int fd;
    int64_t size, pos;
    int io_errno;     /* a read(2) error, reported as HARK_EIO */
    int refused_open; /* the input tried to open another file or URL */
    AVIOContext *in_avio;
    AVFormatContext *in;

    /* The output: a temporary file beside out_path. */
    char tmp[PATH_MAX];
    int out_fd;
    int64_t out_pos, out_size;
    int write_errno; /* the errno of a failed write, fsync or close */
    AVIOContext *out_avio;
    AVFormatContext *out;
} clip_ctx;

/* Has the deadline passed or the check-in said stop? Sets c->stop. */
bool clip_should_stop(clip_ctx *c);

/* Call the check-in when media_s (seconds of the input processed, skipped
 * media included) moved CLIP_CHECKIN_S past the last call, or when forced;
 * done_s is what it is told (seconds of the clip done). True when the
 * export must stop (then return clip_stop_error). */
bool clip_checkin(clip_ctx *c, double media_s, double done_s, bool force);

/* The error for c->stop (cancelled or timed out). */
int clip_stop_error(clip_ctx *c);

/* The error for a failed FFmpeg call on the input side: stop, read error,
 * out of memory, or HARK_EMEDIA with `what` and FFmpeg's cause. */
int clip_in_error(clip_ctx *c, int averr, const char *what);

/* The next packet of the input into pkt, with the stop check first: 1 got
 * one, 0 the input ended (EOF, or damaged data: the end of what is there,
 * which the caller judges by how far it got), or a negative HARK_E* code
 * (a stop, a read error, no memory). */
int clip_read_packet(clip_ctx *c, AVPacket *pkt);

/* The error for a failed FFmpeg call on the output side (a muxer, an
 * encoder, a write): stop, a write's errno (ENOSPC ...), or HARK_EIO with
 * `what` and FFmpeg's cause. */
int clip_out_error(clip_ctx *c, int averr, const char *what);

/* Create the temporary file and an output context for the named muxer
 * writing to it. */
int clip_open_output(clip_ctx *c, const char *muxer);

/* Seconds of stream time t (in st's time base) from the stream's start;
 * NAN for no timestamp. */
double clip_stream_s(const AVStream *st, int64_t t);

/* The stream timestamp of `s` seconds from the stream's start. */
int64_t clip_stream_ts(const AVStream *st, double s);

/* The two engines: write [c->start_s, c->end_s) of c->in into c->out
 * (opened by them through clip_open_output), fill info's duration, and
 * write the trailer. On error they return the code with c->err set. */
int clip_audio_run(clip_ctx *c, clip_format f, clip_info *info);
int clip_copy_run(clip_ctx *c, clip_info *info);

/* ext, type and muxer of the clip of the input for an audio format or for
 * CLIP_COPY (by container and codecs). info gets ext, type, has_video. */
int clip_audio_describe(clip_ctx *c, clip_format f, clip_info *info, const char **muxer);
int clip_copy_describe(clip_ctx *c, clip_info *info, const char **muxer);

#endif
