/* wav.h - raw PCM from standard input as an in-memory WAV file.
 *
 * `hark ptt -` reads raw s16le 16 kHz mono samples (what `arecord -f S16_LE
 * -r 16000 -c 1 -t raw` or `ffmpeg -f s16le -ar 16000 -ac 1 -` write) and
 * uploads them with the canonical 44-byte RIFF/WAVE header in front, so the
 * server decodes them like any other file.
 */
#ifndef HARK_CLIENT_WAV_H
#define HARK_CLIENT_WAV_H

#include "util/buf.h"
#include "util/err.h"

#include <stddef.h>
#include <stdint.h>

enum {
    WAV_HEADER_SIZE = 44,
    WAV_RATE = 16000,
    WAV_CHANNELS = 1,
    WAV_BITS = 16,
};

/* The most PCM `ptt -` takes: 10 minutes of 16 kHz s16le mono. */
#define WAV_MAX_PCM_BYTES ((size_t)WAV_RATE * 2 * 600)

/* Write the 44-byte header of a PCM WAVE file holding data_len bytes of
 * 16 kHz mono 16-bit samples. */
void wav_header(uint8_t out[WAV_HEADER_SIZE], uint32_t data_len);

/* Read raw PCM from fd until end of file into out (which must be empty) as
 * a complete WAV file: header, then the samples (an odd trailing byte is
 * dropped). HARK_ETOOLONG with err when more than max_pcm bytes come,
 * HARK_EMEDIA when none do, HARK_EIO on a read error; what names the input
 * in messages ("standard input"). */
int wav_read_pcm(int fd, size_t max_pcm, const char *what, buf *out, hark_err *err);

#endif
