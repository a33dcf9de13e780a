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
    buf_init(&p->stable, PARTIAL_MAX);
    buf_init(&p->partial, PARTIAL_MAX);
}

void live_partial_release(live_partial *p)
{
    buf_release(&p->stable);
    buf_release(&p->partial);
}

bool live_partial_apply(live_partial *p, const char *type, const char *data, size_t len)
{
    bool changed = false;
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
    if (s && is_partial) {
        buf old = p->partial;
        buf_init(&p->partial, PARTIAL_MAX);
        if (append_trimmed(&p->partial, s) == 0) {
            changed = old.len != p->partial.len ||
                      (old.len && memcmp(old.data, p->partial.data, old.len) != 0);
            buf_release(&old);
        } else { /* over the cap: keep what was shown */
            buf_release(&p->partial);
            p->partial = old;
        }
    } else if (s && *s) {
        /* Deltas carry their own spacing (the OpenAI stream's rule). */
        changed = buf_puts(&p->stable, s) == 0 && p->partial.len == 0;
    }
    json_decref(d);
    return changed;
}

const char *live_partial_text(const live_partial *p)
{
    if (p->partial.len)
        return p->partial.data;
    const char *s = p->stable.data ? p->stable.data : "";
    while (*s == ' ')
        s++;
    return s;
}
