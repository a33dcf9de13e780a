#include "dictate/live.h"

#include <stdio.h>
#include <string.h>

#define PARTIAL_MAX (1u << 20) /* the partial text of a dictation (minutes of speech) */

static bool valid_id(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n >= LIVE_ID_MAX)
        return false;
    return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") == n;
}

json_t *live_create_body(const live_opts *o)
{
    json_t *body = json_pack("{s:s}", "format", "s16le");
    if (body && o->priority)
        json_object_set_new(body, "priority", json_string(o->priority));
    if (body && o->name)
        json_object_set_new(body, "name", json_string(o->name));
    return body;
}

int live_create(hc_client *c, const live_opts *o, char *id, hark_err *err)
{
    id[0] = '\0';
    json_t *body = live_create_body(o), *job = NULL;
    if (!body)
        return err_set(err, HARK_ENOMEM, "out of memory");
    int rc = hc_post_json(c, "/v1/live", body, &job, err);
    json_decref(body);
    if (rc)
        return rc;
    const char *jid = json_string_value(json_object_get(job, "id"));
    if (!valid_id(jid))
        rc = err_set(err, HARK_EIO, "the server's answer to POST /v1/live has no valid job id");
    else
        snprintf(id, LIVE_ID_MAX, "%s", jid);
    json_decref(job);
    return rc;
}

int live_append(hc_client *c, const char *id, const void *data, size_t len, int64_t *total,
                hark_err *err)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/live/%s/audio", id);
    json_t *ans = NULL;
    int rc = hc_post_bytes(c, path, data, len, "application/octet-stream", &ans, err);
    if (rc == 0 && total) {
        json_t *b = json_object_get(ans, "bytes");
        *total = json_is_integer(b) ? (int64_t)json_integer_value(b) : -1;
    }
    json_decref(ans);
    return rc;
}

int live_end(hc_client *c, const char *id, json_t **result, hark_err *err)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/live/%s/end?format=json", id);
    return hc_post_json(c, path, NULL, result, err);
}

int live_cancel(hc_client *c, const char *id, hark_err *err)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/jobs/%s/cancel", id);
    return hc_post_json(c, path, NULL, NULL, err);
}

/* Append s without its leading and trailing blanks. */
static int append_trimmed(buf *out, const char *s)
{
    while (*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\n' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        n--;
    return buf_append(out, s, n);
}

int live_result_text(const json_t *result, buf *out, hark_err *err)
{
    buf_init(out, PARTIAL_MAX * 4);
    const char *text = json_string_value(json_object_get(result, "text"));
    if (!text)
        return err_set(err, HARK_EIO, "the final result has no text");
    if (append_trimmed(out, text))
        return err_set(err, HARK_ENOMEM, "out of memory");
    return 0;
}

/* ---- partial text --------------------------------------------------- */

void live_partial_init(live_partial *p)
{
    memset(p, 0, sizeof *p);
    p->chunk = -1;
    buf_init(&p->stable, PARTIAL_MAX);
    buf_init(&p->base, PARTIAL_MAX);
    buf_init(&p->words, PARTIAL_MAX);
    buf_init(&p->shown, PARTIAL_MAX * 2 + 2);
}

void live_partial_release(live_partial *p)
{
    buf_release(&p->stable);
    buf_release(&p->base);
    buf_release(&p->words);
    buf_release(&p->shown);
}

static const char *skip_spaces(const buf *b)
{
    const char *s = b->data ? b->data : "";
    while (*s == ' ')
        s++;
    return s;
}

/* Rebuild what is shown; true when it changed. */
static bool reshow(live_partial *p)
{
    buf next;
    buf_init(&next, PARTIAL_MAX * 2 + 2);
    const char *base = skip_spaces(&p->base), *stable = skip_spaces(&p->stable);
    bool ok = buf_puts(&next, base) == 0 &&
              (!p->words.len || buf_printf(&next, "%s%s", *base ? " " : "", p->words.data) == 0);
    /* The stable text goes further once the chunk's last words committed. */
    if (ok && strlen(stable) > next.len) {
        buf_reset(&next);
        ok = buf_puts(&next, stable) == 0;
    }
    bool changed = ok && (next.len != p->shown.len ||
                          (next.len && memcmp(next.data, p->shown.data, next.len) != 0));
    if (changed) {
        buf_release(&p->shown);
        p->shown = next;
    } else {
        buf_release(&next);
    }
    return changed;
}

/* The words of a partial joined by spaces into p->words. */
static void take_words(live_partial *p, const json_t *words, const char *tail)
{
    buf_reset(&p->words);
    size_t i;
    const json_t *w;
    bool ok = true;
    if (json_is_array(words)) {
        json_array_foreach(words, i, w)
        {
            const char *t = json_string_value(json_object_get(w, "word"));
            if (t && *t && ok)
                ok = buf_printf(&p->words, "%s%s", p->words.len ? " " : "", t) == 0;
        }
    } else if (tail) { /* no word list: the tail alone */
        ok = append_trimmed(&p->words, tail) == 0;
    }
    if (!ok)
        buf_reset(&p->words); /* over the cap: the stable text only */
}

bool live_partial_apply(live_partial *p, const char *type, const char *data, size_t len)
{
    if (strcmp(type, "succeeded") == 0 || strcmp(type, "failed") == 0 ||
        strcmp(type, "cancelled") == 0) {
        p->final = true;
        snprintf(p->state, sizeof p->state, "%s", type);
        return false;
    }
    bool is_partial = strcmp(type, "transcript.partial") == 0;
    if (!is_partial && strcmp(type, "transcript.text.delta") != 0)
        return false;
    json_t *d = data ? json_loadb(data, len, 0, NULL) : NULL;
    const char *s = json_string_value(json_object_get(d, is_partial ? "text" : "delta"));
    bool touched = false;
    if (s && is_partial) {
        /* A new chunk starts where the stable text is now: the chunks
         * before it have committed their words (with their deltas). */
        json_t *c = json_object_get(d, "chunk");
        long long chunk = json_is_integer(c) ? (long long)json_integer_value(c) : p->chunk;
        if (chunk != p->chunk || !json_is_integer(c)) {
            p->chunk = chunk;
            buf_reset(&p->base);
            if (buf_puts(&p->base, p->stable.data ? p->stable.data : ""))
                buf_reset(&p->base);
        }
        take_words(p, json_object_get(d, "words"), s);
        touched = true;
    } else if (s && *s) {
        /* Deltas carry their own spacing (the OpenAI stream's rule). */
        touched = buf_puts(&p->stable, s) == 0;
    }
    json_decref(d);
    return touched && reshow(p);
}

const char *live_partial_text(const live_partial *p)
{
    return p->shown.data ? p->shown.data : "";
}
