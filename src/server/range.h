/* range.h - HTTP Range requests (RFC 9110 section 14) for files the server
 * sends whole or in part: a job's artifacts (artifacts_http.c).
 *
 * One range is served (206); anything else the client may ask is answered
 * with the whole file (200), which every client accepts: several ranges
 * (multipart/byteranges is not worth its complexity for seeking media), a
 * unit other than bytes, a malformed header. A well-formed single range
 * that lies wholly past the end is 416 with "Content-Range: bytes * /SIZE"
 * (no space). If-Range is honoured by the caller (range_if_range): a
 * validator that does not match the file's means the file changed since
 * the client's part, so it gets the whole file.
 */
#ifndef HARK_SERVER_RANGE_H
#define HARK_SERVER_RANGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum range_verdict {
    RANGE_WHOLE,         /* no usable Range: 200 with the whole file */
    RANGE_PART,          /* 206 with bytes [start, start + len) */
    RANGE_UNSATISFIABLE, /* 416 with Content-Range: bytes * /size */
};

typedef struct byte_range {
    int64_t start, len;
} byte_range;

/* Judge the Range header hdr (NULL: none) against a file of size bytes.
 * RANGE_PART fills *out, clipped to the file ("bytes=0-" of 10 bytes is
 * 0..9, "bytes=-100" of 10 bytes is all 10). */
enum range_verdict range_parse(const char *hdr, int64_t size, byte_range *out);

/* Whether a Range may be used given the If-Range header if_range (NULL:
 * none: yes): only when it equals the file's strong etag or, for a date,
 * its last_modified exactly (both as the server sends them). A weak etag
 * never matches. */
bool range_if_range(const char *if_range, const char *etag, const char *last_modified);

/* "bytes START-END/SIZE" for a part, "bytes * /SIZE" (no space) when part is
 * NULL, into out (n bytes). */
void range_content_range(const byte_range *part, int64_t size, char *out, size_t n);

#endif
