/* clip.h - export a span of a recording as a clip file, with FFmpeg's libraries.
 *
 * Two ways to make a clip:
 *   - an audio format (wav, flac, mp3, opus): the input's best audio stream
 *     is decoded from the seek point before the start, cut exactly to
 *     [start, end) by sample count, and encoded at its own rate and layout
 *     (resampled only to what the encoder takes: opus is 48 kHz, mp3 at
 *     least 32 kHz so a player's and ffprobe's durations agree within
 *     0.07 s, mp3 and opus at most stereo, flac at most 8 channels; wav
 *     is pcm_s16le, mp3 192 kb/s, opus 96 kb/s in Ogg);
 *   - CLIP_COPY: every video and audio stream is copied packet by packet
 *     (no re-encode) from the keyframe at or before the start to the end,
 *     into the same container family as the input, timestamps rebased to 0.
 *     The clip starts at that keyframe, so it may begin up to one GOP early.
 *
 * Times are seconds from the start of the input's audio (copy: its video)
 * stream, the timeline hark's decode produces. A range past the input's
 * duration is clamped to it; empty after clamping is HARK_EINVAL.
 *
 * The input is a file descriptor the caller keeps: it is read with pread
 * through our own AVIOContext, never by path or URL, and never opens other
 * files (playlists and concat lists are refused), as media/decode.h does.
 * Memory is bounded whatever the input's length (no whole-file buffering).
 *
 * Files appear whole or not at all (DESIGN.md invariant 6): the clip is
 * written to ".NAME.part.XXXXXX" beside out_path (mode 0644), fsynced,
 * renamed over out_path and the directory fsynced. On any error, cancel or
 * timeout the temporary is removed and out_path is left as it was. Only a
 * process killed mid-export leaves a temporary: whoever owns the directory
 * sweeps names of the form ".*.part.*". out_path's directory must exist.
 *
 * Error codes (the message is one line, git style, naming the input or the
 * clip and the cause):
 *   HARK_EINVAL     bad arguments: unknown format, empty range after
 *                   clamping, a path too long; also a write over the
 *                   process's file-size limit (EFBIG, ulimit -f: retrying
 *                   cannot help, as util/fs.h fs_write_code decides)
 *   HARK_EMEDIA     the input is not usable media: not readable, no audio
 *                   stream (audio formats), no stream the container can
 *                   take (copy), truncated or undecodable inside the range
 *   HARK_ENOSPC     the disk or quota is full while writing the clip
 *                   (ENOSPC/EDQUOT, from a write, fsync or close): a
 *                   resource condition, worth retrying later
 *   HARK_EIO        reading the input or writing the clip failed otherwise
 *   HARK_ENOMEM     an allocation failed
 *   HARK_ECANCELED  the check-in asked to stop (its own non-zero code is
 *                   returned if it is a negative HARK_E* code)
 *   HARK_ETIMEDOUT  opts->timeout_s passed
 */
#ifndef HARK_MEDIA_CLIP_H
#define HARK_MEDIA_CLIP_H

#include "util/err.h"

#include <stdbool.h>
#include <stdint.h>

typedef enum clip_format { CLIP_WAV, CLIP_FLAC, CLIP_MP3, CLIP_OPUS, CLIP_COPY } clip_format;

/* "wav", "flac", "mp3", "opus" or "copy" into *out. Anything else is
 * HARK_EINVAL with a message listing the choices. */
int clip_format_parse(const char *name, clip_format *out, hark_err *err);

/* The name clip_format_parse takes for f ("wav" ...); "?" for no format. */
const char *clip_format_name(clip_format f);

typedef struct clip_info {
    double duration_s; /* of the clip written (clip_probe: 0) */
    int64_t bytes;     /* size of the clip written (clip_probe: 0) */
    char ext[16];      /* file extension without the dot: "mp3", "mp4", "mkv" ... */
    char type[64];     /* MIME type: audio/wav, audio/flac, audio/mpeg, audio/ogg, video/mp4 ... */
    bool has_video;    /* the clip holds a video stream (only with CLIP_COPY) */
} clip_info;

typedef struct clip_opts {
    /* Called at least every 100 ms of media processed with the seconds of
     * the clip done so far; a non-zero return stops the export at once
     * (HARK_ECANCELED, or the return value itself when it is a negative
     * HARK_E* code). May be NULL. */
    int (*checkin)(void *ctx, double done_s);
    void *ctx;
    double timeout_s; /* wall-clock deadline for the whole export; 0 = none */
} clip_opts;

/* What the clip of the input will be called and typed (ext, type,
 * has_video), without writing anything. For CLIP_COPY the ext follows the
 * input's container (mp4, mov, m4a, mkv, mka, webm, mp3, ogg, opus, flac,
 * wav, aac, ts ...; matroska for a container that has no muxer of its own).
 * Fails as clip_export does for an input it could not cut. */
int clip_probe(int fd, const char *name, clip_format f, clip_info *out, hark_err *err);

/* Export [start_s, end_s) of the input (an open regular file the caller
 * keeps and may go on using; read with pread only; name is for messages)
 * as format f into out_path, atomically. o may be NULL (no check-in, no
 * deadline). Returns 0 and fills out (may be NULL), or a negative HARK_E*
 * code (see above) with err set and nothing at out_path. */
int clip_export(int fd, const char *name, double start_s, double end_s, clip_format f,
                const char *out_path, const clip_opts *o, clip_info *out, hark_err *err);

#endif
