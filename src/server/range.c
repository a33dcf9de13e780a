/* range.c - see range.h. */
#include "server/range.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *skip_ows(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

/* A non-negative decimal at *p (advanced past it); -1 when there is none or
 * it overflows. */
static int64_t digits(const char **p)
{
    const char *s = *p;
    int64_t v = 0;
    if (*s < '0' || *s > '9')
        return -1;
    for (; *s >= '0' && *s <= '9'; s++) {
        if (v > (INT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (*s - '0');
    }
    *p = s;
    return v;
}

enum range_verdict range_parse(const char *hdr, int64_t size, byte_range *out)
{
    if (!hdr)
        return RANGE_WHOLE;
    const char *p = skip_ows(hdr);
    if (strncasecmp(p, "bytes", 5) != 0)
        return RANGE_WHOLE;
    p = skip_ows(p + 5);
    if (*p++ != '=')
        return RANGE_WHOLE;
    p = skip_ows(p);
    int64_t first = -1, last = -1;
    if (*p == '-') { /* a suffix: the last N bytes */
        p++;
        if ((last = digits(&p)) < 0)
            return RANGE_WHOLE;
    } else {
        if ((first = digits(&p)) < 0 || *p++ != '-')
            return RANGE_WHOLE;
        if (*p >= '0' && *p <= '9' && (last = digits(&p)) < 0)
            return RANGE_WHOLE;
        if (last >= 0 && last < first)
            return RANGE_WHOLE; /* invalid: the header is ignored */
    }
    if (*skip_ows(p) != '\0')
        return RANGE_WHOLE; /* several ranges, or junk */
    if (first < 0) {        /* bytes=-N */
        if (last == 0 || size == 0)
            return RANGE_UNSATISFIABLE;
        out->len = last < size ? last : size;
        out->start = size - out->len;
        return RANGE_PART;
    }
    if (first >= size)
        return RANGE_UNSATISFIABLE;
    int64_t end = last < 0 || last >= size ? size - 1 : last;
    out->start = first;
    out->len = end - first + 1;
    return RANGE_PART;
}

bool range_if_range(const char *if_range, const char *etag, const char *last_modified)
{
    if (!if_range)
        return true;
    const char *v = skip_ows(if_range);
    size_t n = strlen(v);
    while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    if (n >= 2 && v[0] == 'W' && v[1] == '/')
        return false;
    if (n > 0 && v[0] == '"')
        return etag && strlen(etag) == n && memcmp(v, etag, n) == 0;
    return last_modified && strlen(last_modified) == n && memcmp(v, last_modified, n) == 0;
}

void range_content_range(const byte_range *part, int64_t size, char *out, size_t n)
{
    if (part)
        snprintf(out, n, "bytes %" PRId64 "-%" PRId64 "/%" PRId64, part->start,
                 part->start + part->len - 1, size);
    else
        snprintf(out, n, "bytes */%" PRId64, size);
}
