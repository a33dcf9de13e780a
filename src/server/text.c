/* text.c - see text.h. */
#include "server/text.h"

#include "util/utf8.h"

#include <stdint.h>
#include <string.h>

/* Length of the valid, non-control UTF-8 character at s (n bytes left), or 0
 * if the bytes there are invalid or a control character (C0, DEL, C1). */
static size_t char_len(const unsigned char *s, size_t n)
{
    uint32_t cp = 0;
    size_t len = utf8_char_len((const char *)s, n, &cp);
    if (len == 0 || cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
        return 0;
    return len;
}

bool text_is_clean(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        size_t l = char_len(p + i, n - i);
        if (!l)
            return false;
        i += l;
    }
    return true;
}

size_t text_clean(const char *s, size_t n, char repl, char *out, size_t outlen)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, o = 0;
    if (outlen == 0)
        return 0;
    while (i < n) {
        size_t l = char_len(p + i, n - i);
        size_t w = l ? l : 1;
        if (o + w >= outlen)
            break;
        if (l)
            memcpy(out + o, p + i, l);
        else
            out[o] = repl;
        o += w;
        i += w;
    }
    out[o] = '\0';
    return o;
}

void text_upload_name(const char *filename, char *out, size_t outlen)
{
    const char *base = filename ? filename : "";
    for (const char *p = base; *p; p++)
        if (*p == '/' || *p == '\\')
            base = p + 1;
    text_clean(base, strlen(base), '_', out, outlen);
    if (!out[0] || strcmp(out, ".") == 0 || strcmp(out, "..") == 0)
        text_clean("upload", 6, '_', out, outlen);
}
