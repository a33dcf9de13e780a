/* buf.h - a growable byte buffer with a hard cap (curl's dynbuf idea).
 *
 * Everything input can grow goes through a buf with a cap, so hostile input
 * gets HARK_ENOMEM instead of eating the machine. The contents are always
 * NUL-terminated (the NUL is not counted in len), so text can be used as a
 * C string directly.
 */
#ifndef HARK_UTIL_BUF_H
#define HARK_UTIL_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct buf {
    char *data; /* NULL until the first append */
    size_t len; /* bytes used, excluding the trailing NUL */
    size_t cap; /* bytes allocated */
    size_t max; /* the most len may ever reach */
} buf;

/* Start an empty buffer that may hold at most max bytes. */
void buf_init(buf *b, size_t max);

/* Free the storage; the buffer is empty and reusable afterwards. */
void buf_release(buf *b);

/* Append n bytes. Returns 0, or HARK_ENOMEM (buffer unchanged) if the cap
 * would be exceeded or allocation failed. */
int buf_append(buf *b, const void *data, size_t n);

/* Append a C string. Same errors as buf_append. */
int buf_puts(buf *b, const char *s);

/* Append printf-style formatted text. Same errors as buf_append. */
int buf_printf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/* Forget the contents, keep the storage. */
void buf_reset(buf *b);

/* Take the contents as a malloc'ed NUL-terminated string (never NULL unless
 * allocation fails); the buffer is left empty. */
char *buf_steal(buf *b);

#endif
