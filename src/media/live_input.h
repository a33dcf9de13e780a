/* live_input.h - a growing input file as 16 kHz mono s16 samples, in order, as it grows.
 *
 * Live dictation: a client appends audio to a job's input file with many
 * small requests (100-250 ms each) while a worker decodes it. The audio is
 * raw s16le 16 kHz mono, or a streamable container as a browser's
 * MediaRecorder makes it: WebM/Matroska (Opus), Ogg (Opus) or fragmented MP4
 * (AAC or Opus).
 *
 * The file is read forward, with pread, never past the limit the caller
 * gives (the bytes the daemon has appended and fsynced); when the reader has
 * read all of them it calls io->wait_more, which blocks until there are more
 * or the input ended. Containers go through FFmpeg (libavformat, libavcodec,
 * libswresample) over a non-seekable AVIO, with the demuxer named (no
 * probing) and no stream-info analysis, so a sample comes out as soon as the
 * packet carrying it is complete in the file. Beside FFmpeg a framing check
 * (live_framing.h) follows the container's top-level structure (EBML
 * elements, Ogg pages, MP4 boxes) over the same bytes, so damage is reported
 * at its byte offset, a stream cut short is told from one that ended
 * cleanly, and what FFmpeg buffers has caps: memory is constant whatever the
 * stream's length.
 *
 * Errors are one line naming the input and the cause, e.g.
 *     cannot decode 'live.webm': invalid data in the WebM stream at byte 12345 (...)
 *     cannot decode 'live.webm': the audio is not a WebM stream (it starts like an Ogg stream)
 *     cannot decode 'live.mp4': unsupported codec 'mp3' in the MP4 stream (allowed: aac, opus,
 * flac)
 */
#ifndef HARK_MEDIA_LIVE_INPUT_H
#define HARK_MEDIA_LIVE_INPUT_H

#include "util/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum live_format { LIVE_S16LE, LIVE_WEBM, LIVE_OGG, LIVE_MP4 };

/* "s16le", "webm", "ogg", "mp4" ("matroska" and "mkv" are webm). Returns 0,
 * or HARK_EINVAL with a message naming the allowed names. */
int live_format_parse(const char *name, enum live_format *out, hark_err *err);

/* The format's name as live_format_parse takes it ("s16le", "webm", ...). */
const char *live_format_name(enum live_format f);

/* Can `head` (the first n bytes of the input, n may be fewer than the
 * format's magic) start a stream of format f? A pure check of magic bytes,
 * no FFmpeg, for the server to call on the first append. Returns 0, or
 * HARK_EMEDIA with a message that names what the bytes look like when it
 * can ("the audio is not a WebM stream (it starts like a WAV file)"). s16le
 * accepts anything except bodies that start like a known container or like
 * text (an MPEG frame sync is not refused there: it is also a plausible pair
 * of samples). */
int live_format_check_head(enum live_format f, const void *head, size_t n, hark_err *err);

typedef struct live_input_io {
    /* Called when the reader has read every byte it may (have = bytes of the
     * file taken in so far, which may include a byte held back, such as the
     * odd byte of an s16le sample). Must block (doing the worker's check-ins)
     * until more bytes may be read or the input ended, then set *limit (bytes
     * of the file that may be read now, >= have unless ended) and *ended.
     * Returns 0, or a negative stop code (e.g. HARK_ECANCELED) that
     * live_input_read returns as it is (a positive one is taken as
     * HARK_ECANCELED). The first call has have = 0. */
    int (*wait_more)(void *ctx, int64_t have, int64_t *limit, bool *ended);
    void *ctx;
} live_input_io;

typedef struct live_input live_input;

/* Start reading the growing file fd (read with pread from offset 0; the
 * caller keeps it open and closes it after live_input_close). name names the
 * input in messages (copied). Reads nothing yet: the container's header is
 * read by the first live_input_read. Returns 0 and *out, or HARK_ENOMEM /
 * HARK_EINVAL with err set. */
int live_input_open(int fd, const char *name, enum live_format f, const live_input_io *io,
                    live_input **out, hark_err *err);

/* Up to max samples (16 kHz mono s16) into out, in order (max 0 is
 * HARK_EINVAL). Returns the count (> 0) as soon as any samples are
 * available (it never waits to fill max), 0 at the end (the input ended and everything in it was
 * decoded; an input that ends empty gives 0 at once), or a negative HARK_* code with err set:
 * HARK_EMEDIA (not the format, damaged or cut short, no audio track, unsupported codec), HARK_EIO,
 * HARK_ENOMEM, or the stop code wait_more returned. Samples decoded before damage are returned
 * first; the error comes with the read after them. An error or a stop is final: every later call
 * returns it again, without waiting. A WebM or MP4 stream followed by a second one (a recorder
 * restarted) is an error at the second header; chained Ogg streams are decoded one after the other.
 */
int64_t live_input_read(live_input *in, int16_t *out, size_t max, hark_err *err);

/* Bytes of the file read so far. */
int64_t live_input_bytes_read(const live_input *in);

/* Free everything (NULL is fine); fd is left open. */
void live_input_close(live_input *in);

#endif
