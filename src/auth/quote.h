/* quote.h - quoting untrusted text (a config value, a client's path) in a
 * one-line message.
 *
 * Messages end up on a terminal, in logs and in JSON error bodies (jansson
 * refuses invalid UTF-8), so quoted text keeps printable ASCII only and
 * shows every other byte as \xHH; long text is cut, marked with "...".
 */
#ifndef HARK_AUTH_QUOTE_H
#define HARK_AUTH_QUOTE_H

#include <stddef.h>

/* The n bytes at s, escaped as above, into out (outlen >= 4 bytes, always
 * NUL-terminated). Returns out, for use as a printf argument. */
const char *auth_quote(const char *s, size_t n, char *out, size_t outlen);

#endif
