/* resampler.h - FFmpeg audio frames of any layout, sample format and rate
 * into hark's PCM (16 kHz mono signed 16-bit): the libswresample set-up
 * shared by the file decoder (decode.c) and the live input (live_input.c).
 * Each caller keeps its own output buffer and its own bounds on what it
 * accepts; this file knows how a frame's channels are read and mixed down. */
#ifndef HARK_MEDIA_RESAMPLER_H
#define HARK_MEDIA_RESAMPLER_H

#include "util/err.h"

#include <libavutil/channel_layout.h>
#include <libavutil/frame.h>
#include <libswresample/swresample.h>

#include <stdbool.h>
#include <stddef.h>

#define MEDIA_MAX_CHANNELS 64 /* libswresample's limit (SWR_CH_MAX, not public) */

typedef struct media_resampler {
    SwrContext *swr;        /* NULL until set up */
    AVChannelLayout layout; /* what swr reads */
    int format, rate;
} media_resampler;

/* Whether r is set up for frames like f (same layout, format and rate). */
bool media_resampler_fits(const media_resampler *r, const AVFrame *f);

/* Set r up for frames like f, freeing an earlier set-up (drain that one
 * first: its buffered samples go with it). A layout of unknown order is
 * read as the usual one for its channel count, and a layout FFmpeg cannot
 * downmix is averaged. f must have 1..MEDIA_MAX_CHANNELS channels. 0, or
 * HARK_EMEDIA / HARK_ENOMEM with err "cannot decode 'name': cannot
 * resample N channels at R Hz: cause". */
int media_resampler_setup(media_resampler *r, const AVFrame *f, const char *name, hark_err *err);

/* Free r's set-up (r may be zeroed or already freed). */
void media_resampler_free(media_resampler *r);

/* An FFmpeg error code as a cause for a message: its text with a
 * lowercase first letter ("error N" if FFmpeg has none). */
void media_av_cause(int averr, char *out, size_t len);

#endif
