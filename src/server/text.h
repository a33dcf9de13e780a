/* text.h - making client-supplied text safe to store, log and put in JSON.
 *
 * Names and values from requests end up in the store, in log lines and in
 * JSON bodies, where jansson refuses invalid UTF-8. So anything a client
 * sends that is echoed back or kept is either checked (text_is_clean) or
 * cleaned (text_clean) first.
 */
#ifndef HARK_SERVER_TEXT_H
#define HARK_SERVER_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* True if the n bytes at s are valid UTF-8 (no overlong forms, surrogates or
 * code points past U+10FFFF) without control characters (C0, DEL, C1) or
 * NUL. */
bool text_is_clean(const char *s, size_t n);

/* Copy the n bytes at s into out (outlen >= 1, always NUL-terminated) so the
 * result is clean in the sense above: every invalid byte and control
 * character becomes repl (a printable ASCII character). The copy is cut at a
 * character boundary to fit. Returns the length written. */
size_t text_clean(const char *s, size_t n, char repl, char *out, size_t outlen);

/* The name shown for an uploaded file: the part after the last '/' or '\'
 * (browsers on Windows send whole paths), cleaned with '_', "upload" when
 * nothing usable ("", ".", "..") remains. */
void text_upload_name(const char *filename, char *out, size_t outlen);

#endif
