/* utf8.h - the one strict UTF-8 decoder of util/.
 *
 * Log lines in JSON and Prometheus label values must be valid UTF-8 (a
 * parser rejects the whole line or the whole scrape otherwise), so both
 * check what they are given with this.
 */
#ifndef HARK_UTIL_UTF8_H
#define HARK_UTIL_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Length (1..4) of the valid UTF-8 character at s, n >= 1 bytes left, with
 * its code point in *cp (may be NULL); 0 if the bytes there are not valid
 * UTF-8 (stray continuation byte, overlong form, UTF-16 surrogate, past
 * U+10FFFF, or cut off by the end of the input). Control characters and NUL
 * are valid UTF-8: callers that care check *cp. */
size_t utf8_char_len(const char *s, size_t n, uint32_t *cp);

/* True if the n bytes at s are valid UTF-8 as above. */
bool utf8_valid(const char *s, size_t n);

/* The largest length <= n that does not end inside a multi-byte
 * character of s (for cutting text to a size). */
size_t utf8_cut(const char *s, size_t n);

#endif
