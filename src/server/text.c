/* text.c - see text.h. */
#include "server/text.h"

#include <string.h>

/* Length of the valid, non-control UTF-8 character at s (n bytes left), or 0
 * if the bytes there are invalid or a control character. */
static size_t char_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c < 0x20 || c == 0x7f)
        return 0;
    if (c < 0x80)
        return 1;
    size_t len;
    unsigned cp;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0; /* continuation byte, overlong lead (c0, c1) or past f4 */
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0; /* overlong, or past Unicode */
    if (cp >= 0xd800 && cp <= 0xdfff)
        return 0; /* UTF-16 surrogate */
    if (cp >= 0x80 && cp <= 0x9f)
        return 0; /* C1 control */
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
