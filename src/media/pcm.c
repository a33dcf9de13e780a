#include "media/pcm.h"

#include <openssl/evp.h>

#include "util/fault.h"
#include "util/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int pcm_open(const char *path, pcm_file *out, hark_err *err)
{
    out->fd = -1;
    out->n_samples = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return err_set(err, errno == ENOENT ? HARK_ENOENT : HARK_EIO, "cannot open '%s': %s", path,
                       strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return err_set(err, HARK_EIO, "cannot open '%s': %s", path, strerror(e));
    }
    if (st.st_size % 2) {
        close(fd);
        return err_set(err, HARK_EMEDIA, "cannot open '%s': not a 16-bit PCM file", path);
    }
    out->fd = fd;
    out->n_samples = st.st_size / 2;
    return 0;
}

int64_t pcm_read(const pcm_file *f, int64_t at, int16_t *dst, size_t n)
{
    if (at < 0)
        return HARK_EINVAL;
    if (at >= f->n_samples)
        return 0;
    if ((int64_t)n > f->n_samples - at)
        n = (size_t)(f->n_samples - at);
    size_t want = n * 2, got = 0;
    unsigned char *p = (unsigned char *)dst;
    while (got < want) {
        ssize_t r = pread(f->fd, p + got, want - got, (off_t)(at * 2 + (int64_t)got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return HARK_EIO;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    /* The file is little-endian; so is every machine we build for (x86-64,
     * aarch64). Refuse to build elsewhere rather than silently byte-swap. */
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "hark's PCM files are little-endian; add byte swapping for this target"
#endif
    return (int64_t)(got / 2);
}

void pcm_close(pcm_file *f)
{
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
}

/* A failed write as its code (a full disk is HARK_ENOSPC: the runtime
 * retries it later, it is not the input's fault) and message. */
static int write_error(const pcm_writer *w, int e, hark_err *err)
{
    char cause[200];
    return err_set(err, fs_write_code(e), "cannot write '%s': %s", w->part,
                   fs_write_cause(e, cause, sizeof cause));
}

int pcm_writer_open(pcm_writer *w, const char *path, hark_err *err)
{
    w->fd = -1;
    w->n_samples = 0;
    w->used = 0;
    w->path[0] = w->part[0] = '\0';
    if (!path)
        return 0;
    if (strlen(path) >= sizeof w->path)
        return err_set(err, HARK_EINVAL, "cannot write '%s': path too long", path);
    snprintf(w->path, sizeof w->path, "%s", path);
    snprintf(w->part, sizeof w->part, "%s.part", path);
    w->fd = open(w->part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (w->fd < 0)
        return write_error(w, errno, err);
    return 0;
}

static int flush_buffer(pcm_writer *w, hark_err *err)
{
    size_t done = 0;
    int injected = fault_write_errno(w->part); /* test-only (util/fault.h) */
    if (injected && w->used)
        return write_error(w, injected, err);
    while (done < w->used) {
        ssize_t r = write(w->fd, w->buffer + done, w->used - done);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return write_error(w, errno, err);
        if (r == 0)
            return write_error(w, EIO, err);
        done += (size_t)r;
    }
    w->used = 0;
    return 0;
}

int pcm_writer_write(pcm_writer *w, const int16_t *samples, size_t n, hark_err *err)
{
    w->n_samples += (int64_t)n;
    if (w->fd < 0)
        return 0; /* counting-only writer */
    const unsigned char *p = (const unsigned char *)samples;
    size_t bytes = n * 2;
    while (bytes) {
        size_t room = sizeof w->buffer - w->used;
        size_t take = bytes < room ? bytes : room;
        memcpy(w->buffer + w->used, p, take);
        w->used += take;
        p += take;
        bytes -= take;
        if (w->used == sizeof w->buffer) {
            int rc = flush_buffer(w, err);
            if (rc)
                return rc;
        }
    }
    return 0;
}

int pcm_writer_finish(pcm_writer *w, hark_err *err)
{
    if (w->fd < 0)
        return 0;
    int rc = flush_buffer(w, err);
    if (rc == 0 && fsync(w->fd) != 0)
        rc = write_error(w, errno, err);
    close(w->fd);
    w->fd = -1;
    if (rc == 0 && rename(w->part, w->path) != 0)
        rc = err_set(err, HARK_EIO, "cannot rename '%s': %s", w->part, strerror(errno));
    if (rc) {
        unlink(w->part);
        return rc;
    }
    char dir[4096];
    fs_dirname(w->path, dir, sizeof dir);
    fs_fsync_dir(dir);
    return 0;
}

void pcm_writer_abort(pcm_writer *w)
{
    if (w->fd >= 0) {
        close(w->fd);
        unlink(w->part);
    }
    w->fd = -1;
}

int pcm_content_key(const pcm_file *f, char out[PCM_KEY_SIZE], hark_err *err)
{
    enum { BLOCK = 1 << 16 };
    static const char hex[] = "0123456789abcdef";
    int16_t *b = malloc(BLOCK * sizeof *b);
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (!b || !c || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1) {
        free(b);
        EVP_MD_CTX_free(c);
        return err_set(err, HARK_ENOMEM, "out of memory");
    }
    int64_t at = 0, n;
    while ((n = pcm_read(f, at, b, BLOCK)) > 0) {
        EVP_DigestUpdate(c, b, (size_t)n * sizeof *b);
        at += n;
    }
    free(b);
    unsigned char d[32];
    unsigned len = 0;
    int ok = EVP_DigestFinal_ex(c, d, &len) == 1 && len == sizeof d;
    EVP_MD_CTX_free(c);
    if (n < 0 || at != f->n_samples || !ok)
        return err_set(err, HARK_EIO, "cannot read the decoded audio to key it");
    memcpy(out, "sha256:", 7);
    for (int i = 0; i < 32; i++) {
        out[7 + 2 * i] = hex[d[i] >> 4];
        out[8 + 2 * i] = hex[d[i] & 15];
    }
    out[PCM_KEY_SIZE - 1] = 0;
    return 0;
}
