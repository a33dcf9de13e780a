/* decode.h - any audio or video file to a 16 kHz mono s16 PCM file.
 *
 * Streaming: packets are decoded, resampled with libswresample and appended
 * to the PCM file as they come, so memory is constant whatever the input's
 * length. The best audio stream is chosen (av_find_best_stream), so video
 * files work. FFmpeg runs under a deadline enforced through its interrupt
 * callback and checks in the decode loop, on the monotonic clock: never a
 * signal. Hostile input may still crash FFmpeg; that is why the job runtime
 * runs this in a worker process.
 *
 * Errors name the file and the cause, one line, e.g.
 *     cannot decode 'x.mp3': no audio stream
 *     cannot decode 'x.wav': truncated: header says 10.0 s, only 4.2 s decodable
 *     cannot decode 'x.flac': longer than the maximum of 3600 s
 * On any error the PCM file is not created.
 */
#ifndef HARK_MEDIA_DECODE_H
#define HARK_MEDIA_DECODE_H

#include "util/err.h"

#include <stddef.h>
#include <stdint.h>

typedef struct media_decode_opts {
    double max_duration_s; /* refuse inputs longer than this (HARK_ETOOLONG); 0: no limit */
    double timeout_s;      /* wall-clock deadline for the whole decode (HARK_ETIMEDOUT); 0: none */
    /* Called now and then during the decode with the seconds decoded so far
     * and the container's declared duration (0 if unknown). Returning nonzero
     * stops the decode with HARK_ECANCELED. May be NULL. */
    int (*checkin)(void *ctx, double decoded_s, double total_s);
    void *checkin_ctx;
} media_decode_opts;

typedef struct media_info {
    double duration_s;          /* seconds of PCM written */
    int64_t n_samples;          /* samples of PCM written */
    double declared_duration_s; /* what the container said, 0 if unknown (may be FFmpeg's
                                   estimate from the bitrate; only a duration the header
                                   itself declares is used to detect truncation) */
    int src_rate;               /* the source stream's sample rate */
    int src_channels;           /* the source stream's channel count */
    char codec[32];             /* the source codec's short name, e.g. "mp3" */
    char container[32];         /* the container's short name, e.g. "wav" */
    int decode_errors;          /* packets the decoder rejected but we skipped */
} media_info;

/* Defaults: 12 h maximum duration, 30 min timeout, no check-in. */
void media_decode_opts_default(media_decode_opts *o);

/* Decode the file at `input` into a PCM file at `pcm_path` (NULL: decode and
 * discard). Returns 0 and fills info (may be NULL), or a negative HARK_E*
 * code with err set (the message names `input`). */
int media_decode_file(const char *input, const char *pcm_path, const media_decode_opts *o,
                      media_info *info, hark_err *err);

/* The same over a file already open for reading (the caller keeps and
 * closes fd; it must be a regular file, or this fails with HARK_EINVAL as
 * media_decode_file does), read with pread only, so its offset does not
 * matter. `name` is used in messages. What is decoded is exactly the file
 * the caller opened (and checked): util/beneath.h. */
int media_decode_fd(int fd, const char *name, const char *pcm_path, const media_decode_opts *o,
                    media_info *info, hark_err *err);

/* The same over bytes in memory, for the fuzzer and tests; `name` is used in
 * messages. */
int media_decode_memory(const uint8_t *data, size_t size, const char *name, const char *pcm_path,
                        const media_decode_opts *o, media_info *info, hark_err *err);

/* Route FFmpeg's own log lines to hark's log (debug level, else dropped),
 * once per process; every module that calls FFmpeg calls this first. */
void media_av_log_init(void);

/* The last error line FFmpeg logged on this thread since the last call
 * (without its "[ctx @ 0x...]" prefix), into out; "" if none. Clears it. */
void media_av_last_error(char *out, size_t n);

#endif
