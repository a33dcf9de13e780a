/* pcm.h - the PCM file: the one audio format hark works on after decode.
 *
 * A PCM file is raw signed 16-bit little-endian mono samples at 16 kHz, no
 * header. It lives in a job's work directory, is written once by the media
 * decoder and then read at random offsets by the chunk planner and the
 * recognizer, so memory never depends on the recording's length.
 */
#ifndef HARK_MEDIA_PCM_H
#define HARK_MEDIA_PCM_H

#include "util/err.h"

#include <stddef.h>
#include <stdint.h>

#define PCM_RATE 16000

/* Samples <-> seconds. */
static inline double pcm_seconds(int64_t samples)
{
    return (double)samples / PCM_RATE;
}
static inline int64_t pcm_samples(double seconds)
{
    return (int64_t)(seconds * PCM_RATE + 0.5);
}

/* A PCM file opened for reading. */
typedef struct pcm_file {
    int fd;
    int64_t n_samples;
} pcm_file;

/* Open path for reading. Returns 0, or HARK_EIO/HARK_ENOENT with err set.
 * A file whose size is odd is refused (HARK_EMEDIA): it is not one we wrote. */
int pcm_open(const char *path, pcm_file *out, hark_err *err);

/* Read up to n samples starting at sample offset `at` into dst (pread: no
 * shared file position, so it is safe from several threads). Returns the
 * number of samples read (0 at or past the end) or HARK_EIO. */
int64_t pcm_read(const pcm_file *f, int64_t at, int16_t *dst, size_t n);

void pcm_close(pcm_file *f);

/* The content key of a PCM file: "sha256:" and the hex SHA-256 of its
 * samples (PCM_KEY_SIZE bytes with the NUL). Two inputs that decode to the
 * same audio have the same key whatever their names or containers: what
 * the chunk cache is keyed by (store_find_cached_chunk). Returns 0 or
 * HARK_EIO. */
#define PCM_KEY_SIZE (7 + 64 + 1)
int pcm_content_key(const pcm_file *f, char out[PCM_KEY_SIZE], hark_err *err);

/* A PCM file being written: buffered appends, then finish (flush + fsync +
 * rename from "<path>.part" to path) or abort (unlink). Until finish, path
 * does not exist, so a crash never leaves a PCM file that looks complete. */
typedef struct pcm_writer {
    int fd;
    int64_t n_samples;
    size_t used; /* bytes in buffer */
    unsigned char buffer[65536];
    char path[4096];
    char part[4100];
} pcm_writer;

/* path NULL gives a writer that counts samples and discards them (fuzzing). */
int pcm_writer_open(pcm_writer *w, const char *path, hark_err *err);
int pcm_writer_write(pcm_writer *w, const int16_t *samples, size_t n, hark_err *err);
int pcm_writer_finish(pcm_writer *w, hark_err *err);
void pcm_writer_abort(pcm_writer *w);

#endif
