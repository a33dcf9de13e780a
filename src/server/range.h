/* range.h - the Range header of a GET for one artifact (RFC 9110 section
 * 14): which bytes to send, so a browser's audio or video element can seek
 * in a clip.
 *
 * Only single byte ranges are served:
 *     Range: bytes=FIRST-LAST   (inclusive; LAST past the end is clamped)
 *     Range: bytes=FIRST-       (from FIRST to the end)
 *     Range: bytes=-N           (the last N bytes; N past the size: all)
 * A header the server does not act on is HTTP_RANGE_NONE, and the answer is
 * 200 with the whole body, as RFC 9110 14.2 allows ("a server MAY ignore
 * the Range header field"): no header; another unit than "bytes" (the unit
 * is case-insensitive); a syntactically invalid range set (a sign, a space
 * after "=" or around "-", LAST below FIRST, anything but digits); and a
 * set of two or more ranges (multipart/byteranges answers are not worth
 * their cost for a media element, which asks for one range at a time).
 * Empty list elements are ignored as RFC 9110 5.6.1 asks ("bytes=0-1," is
 * one range) and optional whitespace is allowed around commas only. The
 * header's own leading and trailing whitespace is not part of its value.
 *
 * HTTP_RANGE_UNSATISFIABLE: a single range that selects nothing: FIRST at or
 * past the size (also for a size of 0), or a suffix of 0 bytes. The server
 * answers 416 with the Content-Range "bytes *" "/SIZE" (one string; the
 * comment cannot spell it whole), from http_range_content_range(NULL, ...).
 *
 * A representation of 0 bytes with a suffix range (bytes=-5): RFC 9110
 * 14.1.2 calls it satisfiable, yet there is no byte to send in a 206, so
 * it is HTTP_RANGE_NONE (200 with the empty body).
 *
 * Numbers are digits only and never wrap: one longer than int64_t can hold
 * is taken at its true size (a FIRST of 20 digits is past any file; a LAST
 * or a suffix of 20 digits means to the end).
 *
 * Pure functions: no allocation, no I/O; safe from any thread.
 */
#ifndef HARK_SERVER_RANGE_H
#define HARK_SERVER_RANGE_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

enum {
    HTTP_RANGE_NONE = 0,          /* answer 200 with the whole body */
    HTTP_RANGE_OK = 1,            /* answer 206 with bytes first..last */
    HTTP_RANGE_UNSATISFIABLE = 2, /* answer 416 with the unsatisfied Content-Range */
};

/* The longest Content-Range value and its NUL: "bytes " and three 19-digit
 * numbers with "-" and "/" (65), rounded up. */
#define HTTP_RANGE_CONTENT_RANGE_MAX 72

typedef struct http_range {
    int64_t first; /* inclusive: 0 <= first <= last < size */
    int64_t last;
} http_range;

/* Judge a Range header (NULL: none was sent) for a body of size bytes
 * (size >= 0; a negative size is HTTP_RANGE_NONE). Fills *out only for
 * HTTP_RANGE_OK. */
int http_range_parse(const char *header, int64_t size, http_range *out);

/* The Content-Range value: "bytes FIRST-LAST/SIZE" for a range (206), or
 * "bytes *" "/SIZE" for r = NULL (416). Returns its length
 * (out NUL-terminated), or -1 when it does not fit in n bytes or r is not a
 * range of size (then out is "" if n > 0). HTTP_RANGE_CONTENT_RANGE_MAX
 * bytes always suffice. */
int http_range_content_range(const http_range *r, int64_t size, char *out, size_t n);

/* Whether a Range may be honoured given the If-Range header if_range
 * (NULL: none was sent: yes): only when it equals the representation's
 * strong etag or, for a date, its last_modified exactly (both as the server
 * sends them); a weak etag never matches (RFC 9110 13.1.5). */
bool http_range_if_range(const char *if_range, const char *etag, const char *last_modified);

/* Whether an If-None-Match header (NULL: none was sent: no) names etag, or
 * is "*": the client's copy is current and the answer is 304. The weak
 * comparison RFC 9110 13.1.2 asks for: "W/" before a tag is ignored.
 * Shared by every GET that sends an ETag (artifacts, the dashboard's
 * files). */
bool http_none_match(const char *if_none_match, const char *etag);

#endif
