#include "client/wav.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void put_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

void wav_header(uint8_t out[WAV_HEADER_SIZE], uint32_t data_len)
{
    const uint16_t block_align = WAV_CHANNELS * WAV_BITS / 8;
    memcpy(out, "RIFF", 4);
    put_le32(out + 4, 36u + data_len); /* everything after this field */
    memcpy(out + 8, "WAVE", 4);
    memcpy(out + 12, "fmt ", 4);
    put_le32(out + 16, 16); /* the PCM fmt chunk's size */
    put_le16(out + 20, 1);  /* WAVE_FORMAT_PCM */
    put_le16(out + 22, WAV_CHANNELS);
    put_le32(out + 24, WAV_RATE);
    put_le32(out + 28, (uint32_t)WAV_RATE * block_align); /* bytes per second */
    put_le16(out + 32, block_align);
    put_le16(out + 34, WAV_BITS);
    memcpy(out + 36, "data", 4);
    put_le32(out + 40, data_len);
}

int wav_read_pcm(int fd, size_t max_pcm, const char *what, buf *out, hark_err *err)
{
    if (max_pcm > UINT32_MAX - 36u)
        max_pcm = UINT32_MAX - 36u;
    uint8_t hdr[WAV_HEADER_SIZE] = {0};
    /* One byte more than allowed tells "too long" from "exactly the cap". */
    buf_init(out, WAV_HEADER_SIZE + max_pcm + 1);
    if (buf_append(out, hdr, sizeof hdr))
        return err_set(err, HARK_ENOMEM, "out of memory reading %s", what);
    char block[65536];
    for (;;) {
        ssize_t n = read(fd, block, sizeof block);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            buf_release(out);
            return err_set(err, HARK_EIO, "cannot read %s: %s", what, strerror(e));
        }
        if (n == 0)
            break;
        bool over = out->len + (size_t)n > out->max;
        if (over || buf_append(out, block, (size_t)n) || out->len - WAV_HEADER_SIZE > max_pcm) {
            over = over || out->len - WAV_HEADER_SIZE > max_pcm;
            buf_release(out);
            if (!over)
                return err_set(err, HARK_ENOMEM, "out of memory reading %s", what);
            return err_set(err, HARK_ETOOLONG,
                           "%s is longer than %.0f s of 16 kHz s16le mono audio (%zu bytes)", what,
                           (double)max_pcm / (WAV_RATE * 2), max_pcm);
        }
    }
    size_t pcm = (out->len - WAV_HEADER_SIZE) & ~(size_t)1;
    out->len = WAV_HEADER_SIZE + pcm;
    out->data[out->len] = '\0';
    if (pcm == 0) {
        buf_release(out);
        return err_set(err, HARK_EMEDIA, "no audio on %s", what);
    }
    wav_header((uint8_t *)out->data, (uint32_t)pcm);
    return 0;
}
