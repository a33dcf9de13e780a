/* utf8.c - see utf8.h. */
#include "util/utf8.h"

size_t utf8_char_len(const char *s, size_t n, uint32_t *cp)
{
    const unsigned char *p = (const unsigned char *)s;
    unsigned c = p[0];
    size_t len;
    uint32_t v;
    if (c < 0x80) {
        len = 1;
        v = c;
    } else if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        v = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        v = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        v = c & 0x07;
    } else {
        return 0; /* continuation byte, overlong lead (c0, c1) or past f4 */
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        v = (v << 6) | (p[i] & 0x3f);
    }
    if ((len == 3 && v < 0x800) || (len == 4 && (v < 0x10000 || v > 0x10ffff)))
        return 0; /* overlong, or past Unicode */
    if (v >= 0xd800 && v <= 0xdfff)
        return 0; /* UTF-16 surrogate */
    if (cp)
        *cp = v;
    return len;
}

bool utf8_valid(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t l = utf8_char_len(s + i, n - i, NULL);
        if (!l)
            return false;
        i += l;
    }
    return true;
}

size_t utf8_cut(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    /* Back up over at most 3 continuation bytes to the lead byte; keep the
     * character if it is complete, else cut before it. */
    size_t i = n;
    while (i > 0 && n - i < 4 && (p[i - 1] & 0xc0) == 0x80)
        i--;
    if (i == 0 || n - i >= 4)
        return n; /* no lead byte near the end: invalid anyway, cut anywhere */
    unsigned c = p[i - 1];
    size_t want = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
    return n - (i - 1) >= want ? n : i - 1;
}
