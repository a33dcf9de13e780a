/* frame.h - length-prefixed messages over a stream socket (the socketpair
 * between the daemon and a worker).
 *
 * Wire format, all integers little-endian:
 *
 *     offset 0  uint32  payload length (at most the reader's max, which is
 *                       at most FRAME_MAX_PAYLOAD = 16 MiB)
 *     offset 4  uint16  type (protocol.h msg_type)
 *     offset 6  uint16  reserved, must be 0
 *     offset 8  payload (one JSON object in practice; bytes to this layer)
 *
 * A declared length above the reader's maximum, or a reserved field that is
 * not 0, is a protocol error (HARK_EINVAL): the reader refuses it as soon as
 * the 8 header bytes are in, before any payload is buffered. The reader only
 * ever allocates for bytes that actually arrived, never for what the peer
 * declares.
 *
 * After any error (protocol error, truncation, a write that failed or timed
 * out half-way) the stream is out of step: close the connection (the
 * supervisor kills and replaces the worker). No function here uses a signal:
 * writes use send(MSG_NOSIGNAL | MSG_DONTWAIT) and waits are poll() timeouts
 * on a monotonic deadline (DESIGN.md invariant 1).
 */
#ifndef HARK_RUNTIME_FRAME_H
#define HARK_RUNTIME_FRAME_H

#include "util/clock.h"
#include "util/err.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define FRAME_HEADER_SIZE 8
/* The largest payload anyone writes or reads (the hard default). */
#define FRAME_MAX_PAYLOAD (16u * 1024 * 1024)
/* The most frame_reader_read_fd reads in one call. */
#define FRAME_READ_CHUNK (64u * 1024)
/* frame_reader_read_fd: the peer closed the connection at a frame boundary. */
#define FRAME_CLOSED 1

/* Write the 8-byte header for a payload of len bytes of the given type. */
void frame_header_encode(uint8_t out[FRAME_HEADER_SIZE], uint16_t type, uint32_t len);

/* The decoder: a state machine fed arbitrary slices of the byte stream
 * (partial headers, several frames at once) that yields whole frames.
 * Memory held: the bytes fed and not yet returned by frame_reader_next (at
 * most one partial frame plus the last slice, if the caller drains next()
 * after every feed). The fields are private. */
typedef struct frame_reader {
    uint8_t *data;      /* received bytes; [off, len) not yet returned */
    size_t len, cap;    /* bytes held, bytes allocated */
    size_t off;         /* start of the next frame to return */
    size_t scan;        /* start of the next header not yet checked */
    size_t max_payload; /* the largest payload accepted */
    int error;          /* sticky protocol error (HARK_EINVAL), or 0 */
} frame_reader;

/* Start an empty reader that accepts payloads of at most max_payload bytes
 * (0 or anything above FRAME_MAX_PAYLOAD means FRAME_MAX_PAYLOAD).
 * Allocates nothing. */
void frame_reader_init(frame_reader *r, size_t max_payload);

/* Free the storage. The reader may be initialized again afterwards. */
void frame_reader_release(frame_reader *r);

/* Append n bytes received from the peer. Checks every header as soon as it
 * is complete. Returns 0, HARK_ENOMEM (nothing appended), or HARK_EINVAL on
 * a bad header (err says which): the reader is then failed for good and
 * refuses further bytes, but the complete frames before the bad header can
 * still be taken with frame_reader_next, which returns HARK_EINVAL when it
 * reaches it. Invalidates payload pointers from frame_reader_next. */
int frame_reader_feed(frame_reader *r, const void *data, size_t n, hark_err *err);

/* Take the next complete frame. Returns 0 with *type, *payload, *len set
 * (payload points into the reader, valid until the next feed, read_fd or
 * release; a 0-length payload is a valid non-NULL pointer), 1 if more bytes
 * are needed, or HARK_EINVAL once the frames before a bad header are used
 * up. Never allocates. */
int frame_reader_next(frame_reader *r, uint16_t *type, const void **payload, size_t *len);

/* Read what is available on fd (at most FRAME_READ_CHUNK bytes, one read
 * call, retried on EINTR) and feed it. Returns 0 when bytes were read or
 * none are available yet (EAGAIN on a non-blocking fd): call
 * frame_reader_next until it returns 1. Returns FRAME_CLOSED when the peer
 * closed at a frame boundary (complete frames may still be waiting in
 * next). Errors: HARK_EIO when the read failed or the peer closed in the
 * middle of a frame ("connection closed mid-frame: truncated ..."; the
 * complete frames before it are still available), plus feed's errors. */
int frame_reader_read_fd(frame_reader *r, int fd, hark_err *err);

/* Wait for one whole frame on fd (blocking or not) until the deadline:
 * frame_reader_next, else poll for input and frame_reader_read_fd. Returns
 * 0 with the frame as frame_reader_next gives it, HARK_ETIMEDOUT when the
 * deadline passes first, HARK_EIO when the peer closed ("connection closed
 * by peer") or the read failed, or a protocol error. */
int frame_read(frame_reader *r, int fd, deadline dl, uint16_t *type, const void **payload,
               size_t *len, hark_err *err);

/* Write one whole frame to the stream socket fd, blocking or not, waiting
 * with poll for room until the deadline. A closed peer gives HARK_EIO
 * ("cannot send message: peer closed the connection") and never SIGPIPE.
 * Returns 0, HARK_EINVAL (len above FRAME_MAX_PAYLOAD, or fd not a
 * socket), HARK_ETIMEDOUT (deadline passed; part of the frame may have
 * been sent) or HARK_EIO. Tries to send before it looks at the deadline, so
 * a frame that fits goes out even with a passed deadline; it never waits
 * past the deadline. */
int frame_write(int fd, uint16_t type, const void *payload, size_t len, deadline dl, hark_err *err);

/* Serialize obj compactly and write it as one frame. Returns frame_write's
 * codes; HARK_ENOMEM if it cannot be serialized. */
int frame_write_json(int fd, uint16_t type, const json_t *obj, deadline dl, hark_err *err);

/* Parse a payload as one JSON object (at most FRAME_MAX_PAYLOAD bytes, no
 * duplicate keys). On success *out is a new reference the caller must
 * json_decref. Returns 0 or HARK_EINVAL ("bad message: ...") with *out NULL. */
int frame_parse_json(const void *payload, size_t len, json_t **out, hark_err *err);

/* frame_read, then frame_parse_json of its payload. *obj is NULL on error. */
int frame_read_json(frame_reader *r, int fd, deadline dl, uint16_t *type, json_t **obj,
                    hark_err *err);

#endif
