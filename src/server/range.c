/* range.c - RFC 9110 byte ranges of one artifact (range.h). */
#include "server/range.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* A run of digits: its value, saturated at INT64_MAX (a longer number
 * still compares right against any size, which is at most INT64_MAX), and
 * where it is, to compare two saturated numbers exactly. */
typedef struct number {
    int64_t value;
    const char *digits; /* without leading zeros */
    size_t len;
} number;

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* Parse digits at *p (at least one); advance *p past them. */
static bool parse_number(const char **p, number *n)
{
    const char *s = *p;
    if (!is_digit(*s))
        return false;
    while (*s == '0' && is_digit(s[1]))
        s++;
    n->digits = s;
    n->value = 0;
    for (; is_digit(*s); s++) {
        int d = *s - '0';
        if (n->value > (INT64_MAX - d) / 10)
            n->value = INT64_MAX; /* saturate, keep reading */
        else if (n->value != INT64_MAX)
            n->value = n->value * 10 + d;
    }
    n->len = (size_t)(s - n->digits);
    *p = s;
    return true;
}

/* a < b, exactly, for numbers of any length. */
static bool number_less(const number *a, const number *b)
{
    if (a->len != b->len)
        return a->len < b->len;
    return memcmp(a->digits, b->digits, a->len) < 0;
}

typedef struct spec {
    bool suffix; /* "-N" */
    bool has_last;
    number first, last; /* suffix: the length in last */
} spec;

/* One range-spec from s to end (no surrounding whitespace). */
static bool parse_spec(const char *s, const char *end, spec *sp)
{
    memset(sp, 0, sizeof *sp);
    const char *p = s;
    if (*p == '-') {
        p++;
        sp->suffix = true;
        if (!parse_number(&p, &sp->last))
            return false;
        sp->has_last = true;
        return p == end;
    }
    if (!parse_number(&p, &sp->first) || *p != '-')
        return false;
    p++;
    if (p == end)
        return true;
    if (!parse_number(&p, &sp->last) || p != end)
        return false;
    sp->has_last = true;
    /* RFC 9110 14.1.1: LAST below FIRST makes the range-spec invalid. */
    return !number_less(&sp->last, &sp->first);
}

int http_range_parse(const char *header, int64_t size, http_range *out)
{
    if (!header || size < 0)
        return HTTP_RANGE_NONE;
    const char *s = header, *end = header + strlen(header);
    while (is_ows(*s))
        s++;
    while (end > s && is_ows(end[-1]))
        end--;
    if ((size_t)(end - s) < 6 || strncasecmp(s, "bytes=", 6) != 0)
        return HTTP_RANGE_NONE;
    s += 6;

    /* range-set = 1#range-spec, and RFC 9110 5.6.1 spells 1#element as
     *     *( "," OWS ) element *( OWS "," [ OWS element ] )
     * so whitespace only around commas, and empty elements ignored. */
    spec one;
    int n = 0;
    const char *p = s;
    while (p < end && *p == ',') {
        p++;
        while (p < end && is_ows(*p))
            p++;
    }
    for (;;) {
        const char *e = p;
        while (e < end && *e != ',' && !is_ows(*e))
            e++;
        if (e == p && n == 0)
            return HTTP_RANGE_NONE; /* no element, or whitespace right after "=" */
        if (e > p) {
            if (++n > 1)
                return HTTP_RANGE_NONE; /* several ranges: ignored (200) */
            if (!parse_spec(p, e, &one))
                return HTTP_RANGE_NONE;
        }
        p = e;
        while (p < end && is_ows(*p))
            p++;
        if (p == end)
            break;
        if (*p != ',')
            return HTTP_RANGE_NONE; /* whitespace inside an element */
        p++;
        while (p < end && is_ows(*p))
            p++;
    }
    if (n == 0)
        return HTTP_RANGE_NONE;

    if (one.suffix) {
        if (one.last.value == 0)
            return HTTP_RANGE_UNSATISFIABLE;
        if (size == 0)
            return HTTP_RANGE_NONE; /* satisfiable, yet no byte to send: 200 */
        out->first = one.last.value >= size ? 0 : size - one.last.value;
        out->last = size - 1;
        return HTTP_RANGE_OK;
    }
    if (one.first.value >= size)
        return HTTP_RANGE_UNSATISFIABLE;
    out->first = one.first.value;
    out->last = one.has_last && one.last.value < size ? one.last.value : size - 1;
    return HTTP_RANGE_OK;
}

int http_range_content_range(const http_range *r, int64_t size, char *out, size_t n)
{
    if (n > 0)
        out[0] = '\0';
    if (size < 0 || (r && !(r->first >= 0 && r->first <= r->last && r->last < size)))
        return -1;
    int k = r ? snprintf(out, n, "bytes %" PRId64 "-%" PRId64 "/%" PRId64, r->first, r->last, size)
              : snprintf(out, n, "bytes */%" PRId64, size);
    if (k < 0 || (size_t)k >= n) {
        if (n > 0)
            out[0] = '\0';
        return -1;
    }
    return k;
}

bool http_range_if_range(const char *if_range, const char *etag, const char *last_modified)
{
    if (!if_range)
        return true;
    const char *v = if_range;
    while (is_ows(*v))
        v++;
    size_t n = strlen(v);
    while (n > 0 && is_ows(v[n - 1]))
        n--;
    if (n >= 2 && v[0] == 'W' && v[1] == '/')
        return false;
    if (n > 0 && v[0] == '"')
        return etag && strlen(etag) == n && memcmp(v, etag, n) == 0;
    return n > 0 && last_modified && strlen(last_modified) == n && memcmp(v, last_modified, n) == 0;
}

bool http_none_match(const char *inm, const char *etag)
{
    if (!inm)
        return false;
    size_t n = strlen(etag);
    for (const char *p = inm; *p;) {
        p += strspn(p, " \t,");
        if (*p == '*')
            return true;
        if (p[0] == 'W' && p[1] == '/')
            p += 2;
        if (strncmp(p, etag, n) == 0 &&
            (p[n] == '\0' || p[n] == ',' || p[n] == ' ' || p[n] == '\t'))
            return true;
        p += strcspn(p, ",");
    }
    return false;
}
