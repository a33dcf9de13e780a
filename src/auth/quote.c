/* quote.c - see quote.h. */
#include "auth/quote.h"

#include <stdio.h>
#include <string.h>

const char *auth_quote(const char *s, size_t n, char *out, size_t outlen)
{
    size_t limit = outlen - 4; /* room for "..." and the NUL */
    size_t o = 0, i = 0;
    for (; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        size_t w = c >= 0x20 && c < 0x7f ? 1 : 4;
        if (o + w > limit)
            break;
        if (w == 1)
            out[o] = (char)c;
        else
            snprintf(out + o, 5, "\\x%02x", c);
        o += w;
    }
    if (i < n) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
    return out;
}
