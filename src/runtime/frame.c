/* frame.c - message framing; see frame.h for the wire format.
 *
 * Reader invariants (0 <= off <= scan, off <= len <= cap):
 *   1. Every header that starts before scan has been checked (length within
 *      max_payload, reserved 0); scan is the start of the next header, past
 *      the declared payload of the previous one (so scan may exceed len
 *      while a payload is still arriving).
 *   2. scan == len exactly when the bytes held end at a frame boundary.
 *   3. When error is set, scan is the offset of the bad header and nothing
 *      more is appended; next() returns the frames before it, then error.
 *   4. Storage grows only with bytes appended (geometric), never with a
 *      length a peer declares.
 */
#include "runtime/frame.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

void frame_header_encode(uint8_t out[FRAME_HEADER_SIZE], uint16_t type, uint32_t len)
{
    out[0] = (uint8_t)len;
    out[1] = (uint8_t)(len >> 8);
    out[2] = (uint8_t)(len >> 16);
    out[3] = (uint8_t)(len >> 24);
    out[4] = (uint8_t)type;
    out[5] = (uint8_t)(type >> 8);
    out[6] = 0;
    out[7] = 0;
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t get_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

void frame_reader_init(frame_reader *r, size_t max_payload)
{
    memset(r, 0, sizeof *r);
    r->max_payload =
        max_payload == 0 || max_payload > FRAME_MAX_PAYLOAD ? FRAME_MAX_PAYLOAD : max_payload;
}

void frame_reader_release(frame_reader *r)
{
    free(r->data);
    r->data = NULL;
    r->len = r->cap = r->off = r->scan = 0;
    r->error = 0;
}

/* Drop the bytes already returned, then make room for extra more bytes. */
static int reader_reserve(frame_reader *r, size_t extra)
{
    if (r->off > 0) {
        memmove(r->data, r->data + r->off, r->len - r->off);
        r->len -= r->off;
        r->scan -= r->off;
        r->off = 0;
    }
    if (extra > SIZE_MAX / 2 - r->len)
        return HARK_ENOMEM;
    size_t need = r->len + extra;
    if (need <= r->cap)
        return 0;
    size_t cap = r->cap ? r->cap : 4096;
    while (cap < need)
        cap *= 2;
    uint8_t *p = realloc(r->data, cap);
    if (!p)
        return HARK_ENOMEM;
    r->data = p;
    r->cap = cap;
    return 0;
}

/* Check the headers that became complete (invariant 1). */
static int reader_scan(frame_reader *r, hark_err *err)
{
    while (r->scan <= r->len && r->len - r->scan >= FRAME_HEADER_SIZE) {
        const uint8_t *h = r->data + r->scan;
        uint32_t n = get_u32(h);
        uint16_t reserved = get_u16(h + 6);
        if (reserved != 0) {
            r->error = HARK_EINVAL;
            return err_set(err, HARK_EINVAL, "bad message: reserved header field is %u, not 0",
                           (unsigned)reserved);
        }
        if (n > r->max_payload) {
            r->error = HARK_EINVAL;
            return err_set(err, HARK_EINVAL,
                           "bad message: declared length %lu exceeds the maximum %lu",
                           (unsigned long)n, (unsigned long)r->max_payload);
        }
        r->scan += FRAME_HEADER_SIZE + (size_t)n;
    }
    return 0;
}

int frame_reader_feed(frame_reader *r, const void *data, size_t n, hark_err *err)
{
    if (r->error)
        return err_set(err, r->error, "bad message: the stream already failed");
    if (n == 0)
        return 0;
    int rc = reader_reserve(r, n);
    if (rc)
        return err_set(err, rc, "cannot buffer message: out of memory");
    memcpy(r->data + r->len, data, n);
    r->len += n;
    return reader_scan(r, err);
}

int frame_reader_next(frame_reader *r, uint16_t *type, const void **payload, size_t *len)
{
    if (r->error && r->off == r->scan)
        return r->error;
    if (r->len - r->off < FRAME_HEADER_SIZE)
        return 1;
    const uint8_t *h = r->data + r->off;
    size_t n = get_u32(h);
    if (r->len - r->off - FRAME_HEADER_SIZE < n)
        return 1;
    *type = get_u16(h + 4);
    *payload = h + FRAME_HEADER_SIZE;
    *len = n;
    r->off += FRAME_HEADER_SIZE + n;
    if (r->off == r->len && !r->error) {
        /* All returned: start over at the front (no bytes move, so the
         * payload just returned stays valid). */
        r->off = r->len = r->scan = 0;
    }
    return 0;
}

int frame_reader_read_fd(frame_reader *r, int fd, hark_err *err)
{
    if (r->error)
        return err_set(err, r->error, "bad message: the stream already failed");
    int rc = reader_reserve(r, FRAME_READ_CHUNK);
    if (rc)
        return err_set(err, rc, "cannot buffer message: out of memory");
    ssize_t got;
    do
        got = read(fd, r->data + r->len, FRAME_READ_CHUNK);
    while (got < 0 && errno == EINTR);
    if (got < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        if (errno == ECONNRESET)
            return err_set(err, HARK_EIO, "connection closed by peer (reset)");
        return err_set(err, HARK_EIO, "cannot read message: %s", strerror(errno));
    }
    if (got == 0) {
        if (r->scan == r->len)
            return FRAME_CLOSED;
        if (r->scan <= r->len && r->len - r->scan < FRAME_HEADER_SIZE)
            return err_set(err, HARK_EIO,
                           "connection closed mid-frame: truncated header (%lu of %d bytes)",
                           (unsigned long)(r->len - r->scan), FRAME_HEADER_SIZE);
        /* scan > len: the last checked frame is missing payload bytes. */
        return err_set(err, HARK_EIO,
                       "connection closed mid-frame: truncated payload (%lu bytes missing)",
                       (unsigned long)(r->scan - r->len));
    }
    r->len += (size_t)got;
    return reader_scan(r, err);
}

/* Wait until fd is ready for events or the deadline passes. Returns 0 when
 * ready (or in error/hangup state: the next call finds out), HARK_ETIMEDOUT,
 * or HARK_EIO. */
static int wait_fd(int fd, short events, deadline dl, const char *what, hark_err *err)
{
    for (;;) {
        int ms = deadline_remaining_ms(dl);
        if (ms == 0)
            return err_set(err, HARK_ETIMEDOUT, "cannot %s message: timed out", what);
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, ms);
        if (n > 0)
            return 0;
        if (n < 0 && errno != EINTR)
            return err_set(err, HARK_EIO, "cannot %s message: poll: %s", what, strerror(errno));
        /* n == 0: loop, and deadline_remaining_ms says whether time is up. */
    }
}

int frame_read(frame_reader *r, int fd, deadline dl, uint16_t *type, const void **payload,
               size_t *len, hark_err *err)
{
    for (;;) {
        int rc = frame_reader_next(r, type, payload, len);
        if (rc <= 0) {
            if (rc < 0)
                err_set(err, rc, "bad message: invalid frame header");
            return rc;
        }
        rc = wait_fd(fd, POLLIN, dl, "receive", err);
        if (rc)
            return rc;
        rc = frame_reader_read_fd(r, fd, err);
        if (rc == FRAME_CLOSED)
            return err_set(err, HARK_EIO, "connection closed by peer");
        if (rc < 0) {
            /* Frames before a bad header or a truncation still count. */
            if (frame_reader_next(r, type, payload, len) == 0)
                return 0;
            return rc;
        }
    }
}

int frame_write(int fd, uint16_t type, const void *payload, size_t len, deadline dl, hark_err *err)
{
    if (len > FRAME_MAX_PAYLOAD)
        return err_set(err, HARK_EINVAL, "cannot send message: %lu bytes exceeds the maximum %lu",
                       (unsigned long)len, (unsigned long)FRAME_MAX_PAYLOAD);
    uint8_t hdr[FRAME_HEADER_SIZE];
    frame_header_encode(hdr, type, (uint32_t)len);
    struct iovec iov[2] = {
        {.iov_base = hdr, .iov_len = sizeof hdr},
        {.iov_base = (void *)payload, .iov_len = len},
    };
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = len ? 2 : 1};
    for (;;) {
        ssize_t sent = sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (sent < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                int rc = wait_fd(fd, POLLOUT, dl, "send", err);
                if (rc)
                    return rc;
                continue;
            }
            if (errno == EPIPE || errno == ECONNRESET)
                return err_set(err, HARK_EIO, "cannot send message: peer closed the connection");
            if (errno == ENOTSOCK)
                return err_set(err, HARK_EINVAL, "cannot send message: fd %d is not a socket", fd);
            return err_set(err, HARK_EIO, "cannot send message: %s", strerror(errno));
        }
        size_t left = (size_t)sent;
        while (msg.msg_iovlen > 0 && left >= msg.msg_iov[0].iov_len) {
            left -= msg.msg_iov[0].iov_len;
            msg.msg_iov++;
            msg.msg_iovlen--;
        }
        if (msg.msg_iovlen == 0)
            return 0;
        msg.msg_iov[0].iov_base = (char *)msg.msg_iov[0].iov_base + left;
        msg.msg_iov[0].iov_len -= left;
    }
}

int frame_write_json(int fd, uint16_t type, const json_t *obj, deadline dl, hark_err *err)
{
    char *text = json_dumps(obj, JSON_COMPACT);
    if (!text)
        return err_set(err, HARK_ENOMEM, "cannot send message: cannot serialize JSON");
    int rc = frame_write(fd, type, text, strlen(text), dl, err);
    free(text);
    return rc;
}

int frame_parse_json(const void *payload, size_t len, json_t **out, hark_err *err)
{
    *out = NULL;
    if (len > FRAME_MAX_PAYLOAD)
        return err_set(err, HARK_EINVAL, "bad message: %lu bytes exceeds the maximum %lu",
                       (unsigned long)len, (unsigned long)FRAME_MAX_PAYLOAD);
    json_error_t jerr;
    json_t *v = json_loadb(payload, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!v)
        return err_set(err, HARK_EINVAL, "bad message: %s at byte %d", jerr.text, jerr.position);
    if (!json_is_object(v)) {
        json_decref(v);
        return err_set(err, HARK_EINVAL, "bad message: not a JSON object");
    }
    *out = v;
    return 0;
}

int frame_read_json(frame_reader *r, int fd, deadline dl, uint16_t *type, json_t **obj,
                    hark_err *err)
{
    const void *payload;
    size_t len;
    *obj = NULL;
    int rc = frame_read(r, fd, dl, type, &payload, &len, err);
    if (rc)
        return rc;
    return frame_parse_json(payload, len, obj, err);
}
