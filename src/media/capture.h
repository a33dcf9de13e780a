/* capture.h - live audio from a capture device (PulseAudio or PipeWire
 * through `pulse`, or ALSA), as 16 kHz mono s16: what `hark dictate`
 * records from the microphone.
 *
 * FFmpeg's libavdevice opens the device; its packets are decoded and
 * resampled with libswresample as media/decode does with files. The device
 * is asked for 16 kHz mono already (PulseAudio converts server-side), so
 * the resampler usually passes the samples through.
 *
 * libavdevice is loaded with dlopen when the first device is opened, not
 * linked: it drags in some 80 shared libraries (SDL, OpenGL, JACK, X11, ...)
 * that every other hark-engine process (each worker, `hark transcribe`)
 * would otherwise map at start. Only avdevice_register_all is needed from
 * it; everything else is libavformat's.
 *
 * Reads block until the device has samples (PulseAudio and ALSA do not
 * look at FFmpeg's interrupt callback): run capture_next on a thread of its
 * own and stop between reads.
 */
#ifndef HARK_MEDIA_CAPTURE_H
#define HARK_MEDIA_CAPTURE_H

#include "util/err.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CAPTURE_RATE 16000 /* what capture_next returns: mono s16 at this rate */

/* Which device: an FFmpeg input device ("pulse" or "alsa") and its name
 * there ("default", a PulseAudio source, "hw:0"). */
typedef struct capture_spec {
    char backend[8];  /* "pulse" or "alsa"; "" for the default order */
    char device[256]; /* the device's name in that backend */
} capture_spec;

/* Parse what --input says: "pulse:NAME", "alsa:NAME", "pulse" or "alsa"
 * alone (that backend's default device), or a plain NAME, which is a
 * PulseAudio source (`pactl list short sources` lists them). NULL or ""
 * is the default order: PulseAudio's default source, else ALSA's default
 * device (backend ""). Returns 0, or HARK_EINVAL with a message for an
 * empty name ("alsa:") or a name too long. */
int capture_parse_spec(const char *s, capture_spec *out, hark_err *err);

/* "pulse:default", "alsa:hw:0": how messages name a spec. */
void capture_spec_name(const capture_spec *spec, char *out, size_t n);

typedef struct capture capture;

/* Open the device of spec (the default order when spec->backend is "")
 * and start capturing. stop (may be NULL) is checked by FFmpeg's interrupt
 * callback, for backends that look at it. Returns 0 with *out, or an error
 * naming the device and the cause ("cannot open microphone 'pulse:default':
 * Connection refused"; with the default order, both attempts). */
int capture_open(const capture_spec *spec, const atomic_bool *stop, capture **out, hark_err *err);

/* The device it opened, as capture_spec_name says it. */
const char *capture_name(const capture *c);

/* Wait for the next packet of the device and return its samples (16 kHz
 * mono s16): *samples points into c and stays valid until the next call;
 * *n may be 0 (a packet the resampler keeps for later). Returns 0, or an
 * error (the device went away: HARK_EIO naming it and the cause). */
int capture_next(capture *c, const int16_t **samples, size_t *n, hark_err *err);

/* Close the device; c may be NULL. */
void capture_close(capture *c);

#endif
