/* job_json.c - see job_json.h. */
#include "server/job_json.h"

#include "highlights/keywords.h"
#include "net/net.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

json_t *job_json_number(double v)
{
    /* 2^53: beyond it every double is integral and json_int_t still holds it. */
    if (isfinite(v) && v == floor(v) && fabs(v) <= 9007199254740992.0)
        return json_integer((json_int_t)v);
    return json_real(isfinite(v) ? v : 0.0);
}

json_t *job_json_time(int64_t ms)
{
    return ms > 0 ? json_real((double)ms / 1000.0) : json_null();
}

static json_t *string_or_null(const char *s)
{
    return s && s[0] ? json_string(s) : json_null();
}

static double progress_of(const store_job *job)
{
    if (!job->prepared)
        return 0.0;
    if (job->n_chunks <= 0)
        return 1.0; /* an empty plan: nothing left to do */
    return (double)job->chunks_done / (double)job->n_chunks;
}

/* The job's webhook: null without a callback_url; "waiting" until the job
 * ends, then its delivery's state. The URL is shown redacted (no userinfo,
 * no query): it may carry the receiver's credentials. */
static json_t *webhook_json(const store_job *job)
{
    if (!job->callback_url || !job->callback_url[0])
        return json_null();
    char url[STORE_CALLBACK_URL_MAX + 8];
    net_url_redact(job->callback_url, url, sizeof url);
    bool sent = job->webhook_state >= 0;
    return json_pack("{s:s, s:s, s:i, s:o, s:o, s:o}", "url", url, "state",
                     sent ? store_webhook_state_name(job->webhook_state) : "waiting", "attempts",
                     job->webhook_attempts, "last_status",
                     job->webhook_last_status ? json_integer(job->webhook_last_status)
                                              : json_null(),
                     "last_error", string_or_null(job->webhook_last_error), "delivered_at",
                     job_json_time(job->webhook_delivered_ms));
}

/* The options the job was submitted with, as its kind completed them
 * (defaults filled in), minus what is not the client's: "key" (the
 * runtime's cache key). A keywords list (up to 64 KiB of text) is shown as
 * the number of its phrases. {} for a job without options; null when the
 * stored text does not parse (it always should). */
static json_t *options_json(const store_job *job)
{
    if (!job->options || !job->options[0])
        return json_object();
    json_t *o = json_loads(job->options, 0, NULL);
    if (!json_is_object(o)) {
        json_decref(o);
        return json_null();
    }
    json_object_del(o, "key");
    const char *kw = json_string_value(json_object_get(o, "keywords"));
    if (kw) {
        hl_keyword *k = NULL;
        size_t n = 0;
        if (hl_keywords_parse(kw, "keywords", &k, &n, NULL) == 0)
            hl_keywords_free(k, n);
        json_object_set_new(o, "keywords", json_integer((json_int_t)n));
    }
    return o;
}

/* Where the job's artifacts are listed, when its kind makes any (a
 * highlights job with clips); null otherwise. */
static json_t *artifacts_url_json(const store_job *job)
{
    if (!job->kind || strcmp(job->kind, "highlights") != 0 || !job->options)
        return json_null();
    json_t *o = json_loads(job->options, 0, NULL);
    bool clips = json_is_true(json_object_get(o, "clips"));
    json_decref(o);
    if (!clips)
        return json_null();
    char url[STORE_ID_SIZE + 32];
    snprintf(url, sizeof url, "/v1/jobs/%s/artifacts", job->id);
    return json_string(url);
}

/* "a,b" -> ["a", "b"]. */
static json_t *nodes_json(const char *list)
{
    json_t *a = json_array();
    for (const char *p = list; a && *p;) {
        size_t n = strcspn(p, ",");
        if (json_array_append_new(a, json_stringn(p, n))) {
            json_decref(a);
            return NULL;
        }
        p += n + (p[n] == ',');
    }
    return a;
}

json_t *job_json(const store_job *job)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    /* json_object_set_new steals (and tolerates) NULL values, but reports the
     * failure; any failure makes the whole object fail. */
    int bad = 0;
    bad |= json_object_set_new(o, "id", json_string(job->id));
    bad |= json_object_set_new(o, "object", json_string("job"));
    bad |= json_object_set_new(o, "kind", json_string(job->kind ? job->kind : ""));
    bad |= json_object_set_new(o, "state", json_string(store_state_name(job->state)));
    bad |= json_object_set_new(o, "priority", json_string(store_priority_name(job->priority)));
    bad |= json_object_set_new(o, "source", json_string(job->source ? job->source : ""));
    bad |= json_object_set_new(o, "owner", string_or_null(job->owner));
    bad |= json_object_set_new(o, "created_at", job_json_time(job->created_ms));
    bad |= json_object_set_new(o, "started_at", job_json_time(job->started_ms));
    bad |= json_object_set_new(o, "finished_at", job_json_time(job->finished_ms));
    bad |= json_object_set_new(o, "timeout", job_json_number(job->timeout_s));
    bad |= json_object_set_new(o, "duration",
                               job->prepared ? job_json_number(job->duration_s) : json_null());
    bad |=
        json_object_set_new(o, "chunks", job->prepared ? json_integer(job->n_chunks) : json_null());
    bad |= json_object_set_new(o, "chunks_done", json_integer(job->chunks_done));
    bad |= json_object_set_new(o, "progress", job_json_number(progress_of(job)));
    bad |= json_object_set_new(o, "error", string_or_null(job->error));
    bad |= json_object_set_new(o, "webhook", webhook_json(job));
    bad |= json_object_set_new(o, "options", options_json(job));
    bad |= json_object_set_new(o, "artifacts_url", artifacts_url_json(job));
    /* Several machines (PostgreSQL store): which nodes run it now. Absent
     * where the store does not know (SQLite) and when no node does. */
    if (job->nodes && job->nodes[0])
        bad |= json_object_set_new(o, "nodes", nodes_json(job->nodes));
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

char *job_json_dumps(const store_job *job)
{
    json_t *o = job_json(job);
    if (!o)
        return NULL;
    char *s = json_dumps(o, JOB_JSON_DUMP_FLAGS);
    json_decref(o);
    return s;
}
