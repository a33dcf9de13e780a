#include "client/sse.h"

#include "util/err.h"

#include <string.h>

void sse_init(sse_parser *p, size_t max_line, size_t max_data, sse_event_fn fn, void *ctx)
{
    memset(p, 0, sizeof *p);
    buf_init(&p->line, max_line);
    buf_init(&p->data, max_data);
    p->retry_ms = -1;
    p->fn = fn;
    p->ctx = ctx;
}

void sse_reset(sse_parser *p)
{
    buf_reset(&p->line);
    buf_reset(&p->data);
    p->type[0] = '\0';
    memcpy(p->id_buf, p->id, sizeof p->id);
    p->after_cr = false;
    p->seen_line = false;
}

void sse_release(sse_parser *p)
{
    buf_release(&p->line);
    buf_release(&p->data);
}

static int dispatch(sse_parser *p)
{
    memcpy(p->id, p->id_buf, sizeof p->id);
    if (p->data.len == 0) {
        p->type[0] = '\0';
        return 0;
    }
    p->data.len--; /* the '\n' after the last data line */
    p->data.data[p->data.len] = '\0';
    sse_event ev = {
        .type = p->type[0] ? p->type : "message",
        .data = p->data.data,
        .data_len = p->data.len,
        .id = p->id,
    };
    int rc = p->fn ? p->fn(p->ctx, &ev) : 0;
    buf_reset(&p->data);
    p->type[0] = '\0';
    return rc;
}

static bool field_is(const char *f, size_t n, const char *name)
{
    return n == strlen(name) && memcmp(f, name, n) == 0;
}

static int process_line(sse_parser *p, const char *s, size_t n)
{
    if (!p->seen_line && n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) {
        s += 3; /* a UTF-8 byte order mark may open the stream */
        n -= 3;
    }
    p->seen_line = true;
    if (n == 0)
        return dispatch(p);
    if (s[0] == ':')
        return 0; /* a comment (keepalive) */
    const char *colon = memchr(s, ':', n);
    size_t flen = colon ? (size_t)(colon - s) : n;
    const char *v = colon ? colon + 1 : s + n;
    size_t vlen = (size_t)(s + n - v);
    if (vlen && v[0] == ' ') {
        v++;
        vlen--;
    }
    if (field_is(s, flen, "data")) {
        if (buf_append(&p->data, v, vlen) || buf_append(&p->data, "\n", 1))
            return HARK_ENOMEM;
    } else if (field_is(s, flen, "event")) {
        size_t k = vlen < sizeof p->type - 1 ? vlen : sizeof p->type - 1;
        memcpy(p->type, v, k);
        p->type[k] = '\0';
    } else if (field_is(s, flen, "id")) {
        /* An ID with NUL is ignored (spec); so is one too long to resend whole. */
        if (!memchr(v, '\0', vlen) && vlen < sizeof p->id_buf) {
            memcpy(p->id_buf, v, vlen);
            p->id_buf[vlen] = '\0';
        }
    } else if (field_is(s, flen, "retry")) {
        long ms = 0;
        size_t i = 0;
        for (; i < vlen && v[i] >= '0' && v[i] <= '9' && ms < 100000000; i++)
            ms = ms * 10 + (v[i] - '0');
        if (vlen && i == vlen)
            p->retry_ms = ms;
    }
    return 0; /* other fields are ignored */
}

int sse_feed(sse_parser *p, const void *bytes, size_t n)
{
    const char *s = bytes;
    size_t i = 0;
    while (i < n) {
        if (p->after_cr) {
            p->after_cr = false;
            if (s[i] == '\n') {
                i++;
                continue;
            }
        }
        size_t j = i;
        while (j < n && s[j] != '\n' && s[j] != '\r')
            j++;
        if (j > i && buf_append(&p->line, s + i, j - i))
            return HARK_ENOMEM;
        if (j == n)
            break;
        p->after_cr = s[j] == '\r';
        i = j + 1;
        int rc = process_line(p, p->line.data ? p->line.data : "", p->line.len);
        buf_reset(&p->line);
        if (rc)
            return rc;
    }
    return 0;
}
