/* submit.c - see submit.h. */
#include "server/submit.h"

#include "jobs/kind.h"

#include "net/net.h"
#include "server/job_json.h"
#include "server/text.h"
#include "util/log.h"

#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define TIMEOUT_MAX_S 1e9 /* ~31 years: keeps created_ms + timeout far from overflow */

const char *const submit_text_fields[] = {"priority",     "timeout", "path",    "url",
                                          "callback_url", "kind",    "options", NULL};

static void fields_init(submit_fields *f)
{
    f->priority = -1; /* not given: the server's default for the caller */
    f->has_timeout = false;
    f->timeout_s = 0;
    f->path[0] = '\0';
    f->callback_url[0] = '\0';
    f->url[0] = '\0';
    f->kind[0] = '\0';
    f->options[0] = '\0';
}

static int set_kind(const char *v, submit_fields *f, api_error *e)
{
    const job_kind *k = job_kind_find(v);
    if (k && k->live)
        return api_error_set(e, MHD_HTTP_BAD_REQUEST, "kind", "invalid_value",
                             "a %s job is made with POST /v1/live, not submitted", k->name);
    if (!k) {
        char names[256];
        job_kind_names(names, sizeof names);
        return api_error_set(e, MHD_HTTP_BAD_REQUEST, "kind", "invalid_value",
                             "unknown kind '%.64s' (%s)", v, names);
    }
    snprintf(f->kind, sizeof f->kind, "%s", v);
    return 0;
}

/* Options as the object's JSON text; its kind checks them at submit. */
static int set_options(const json_t *v, submit_fields *f, api_error *e)
{
    if (!json_is_object(v))
        return api_error_set(e, MHD_HTTP_BAD_REQUEST, "options", "invalid_type",
                             "options must be an object");
    char *text = json_dumps(v, JSON_COMPACT);
    int rc = 0;
    if (!text || strlen(text) > SUBMIT_OPTIONS_MAX)
        rc = api_error_set(e, MHD_HTTP_BAD_REQUEST, "options", "invalid_value",
                           "options are too long (at most %d bytes)", SUBMIT_OPTIONS_MAX);
    else
        memcpy(f->options, text, strlen(text) + 1);
    free(text);
    return rc;
}

static int set_priority(const char *v, submit_fields *f, api_error *e)
{
    if (store_priority_parse(v, &f->priority, NULL))
        return api_error_set(e, MHD_HTTP_BAD_REQUEST, "priority", "invalid_value",
                             "unknown priority '%.64s' (realtime, high, normal, low)", v);
    return 0;
}

static int set_timeout(double t, submit_fields *f, api_error *e)
{
    if (!isfinite(t) || t <= 0 || t > TIMEOUT_MAX_S)
        return api_error_set(e, MHD_HTTP_BAD_REQUEST, "timeout", "invalid_value",
                             "timeout must be a number of seconds > 0 (at most %.0f)",
                             TIMEOUT_MAX_S);
    f->has_timeout = true;
    f->timeout_s = t;
    return 0;
}

static int set_path(const char *v, submit_fields *f, api_error *e)
{
    size_t n = strlen(v);
    if (n == 0)
        return api_error_set(e, MHD_HTTP_BAD_REQUEST, "path", "invalid_value", "path is empty");
    if (n >= sizeof f->path)
        return api_error_set(e, MHD_HTTP_BAD_REQUEST, "path", "invalid_value",
                             "path is longer than %zu bytes", sizeof f->path - 1);
    if (!text_is_clean(v, n))
        return api_error_set(e, MHD_HTTP_BAD_REQUEST, "path", "invalid_value",
                             "path '%.200s' is not UTF-8 text without control characters", v);
    memcpy(f->path, v, n + 1);
    return 0;
}

/* Where the job's summary is POSTed when it ends (docs/api.md, "Webhooks"). */
static int set_callback_url(const char *v, submit_fields *f, api_error *e)
{
    size_t n = strlen(v);
    if (n > STORE_CALLBACK_URL_MAX)
        return api_error_set(e, MHD_HTTP_BAD_REQUEST, "callback_url", "invalid_value",
                             "callback_url is longer than %d bytes", STORE_CALLBACK_URL_MAX);
    bool ascii = n > 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)v[i] <= ' ' || (unsigned char)v[i] >= 0x7f)
            ascii = false;
    if (!ascii || !net_url_is_http(v)) {
        char shown[256];
        net_url_redact(v, shown, sizeof shown); /* no credentials in the answer */
        return api_error_set(e, MHD_HTTP_BAD_REQUEST, "callback_url", "invalid_value",
                             "callback_url '%s' is not an http:// or https:// URL (printable "
                             "ASCII, no spaces)",
                             ascii ? shown : "...");
    }
    memcpy(f->callback_url, v, n + 1);
    return 0;
}

/* A URL to download: http(s), under the cap, clean text, parseable. What
 * is echoed is redacted: a URL may carry a password or a signature. */
static int set_url(const char *v, submit_fields *f, api_error *e)
{
    size_t n = strlen(v);
    char shown[SUBMIT_URL_MAX + 8];
    if (n == 0)
        return api_error_set(e, MHD_HTTP_BAD_REQUEST, "url", "invalid_value", "url is empty");
    if (n > SUBMIT_URL_MAX)
        return api_error_set(e, MHD_HTTP_BAD_REQUEST, "url", "invalid_value",
                             "url is longer than %d bytes", SUBMIT_URL_MAX);
    if (!text_is_clean(v, n))
        return api_error_set(e, MHD_HTTP_BAD_REQUEST, "url", "invalid_value",
                             "url is not UTF-8 text without control characters");
    net_url_redact(v, shown, sizeof shown);
    if (!net_url_is_http(v))
        return api_error_set(e, MHD_HTTP_BAD_REQUEST, "url", "invalid_url",
                             "url '%.200s' is not an http:// or https:// URL", shown);
    if (strpbrk(v, " \t"))
        return api_error_set(e, MHD_HTTP_BAD_REQUEST, "url", "invalid_url",
                             "url '%.200s' contains a space (write it as %%20)", shown);
    CURLU *u = curl_url();
    CURLUcode uc = u ? curl_url_set(u, CURLUPART_URL, v, 0) : CURLUE_OUT_OF_MEMORY;
    curl_url_cleanup(u);
    if (uc)
        return api_error_set(e, MHD_HTTP_BAD_REQUEST, "url", "invalid_url",
                             "url '%.200s' is not a valid URL: %s", shown, curl_url_strerror(uc));
    memcpy(f->url, v, n + 1);
    return 0;
}

int submit_parse_json(const char *body, size_t len, submit_fields *f, api_error *e)
{
    fields_init(f);
    json_error_t jerr;
    json_t *o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!o)
        return api_error_set(e, MHD_HTTP_BAD_REQUEST, NULL, "invalid_json",
                             "the body is not valid JSON: %s (line %d, column %d)", jerr.text,
                             jerr.line, jerr.column);
    int rc = 0;
    if (!json_is_object(o)) {
        rc = api_error_set(e, MHD_HTTP_BAD_REQUEST, NULL, "invalid_json",
                           "the body must be a JSON object");
        goto out;
    }
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v)
    {
        if (json_is_null(v))
            continue; /* null means "not given" */
        if (strcmp(key, "path") == 0) {
            rc = json_is_string(v) ? set_path(json_string_value(v), f, e)
                                   : api_error_set(e, MHD_HTTP_BAD_REQUEST, "path", "invalid_type",
                                                   "path must be a string");
        } else if (strcmp(key, "url") == 0) {
            rc = json_is_string(v) ? set_url(json_string_value(v), f, e)
                                   : api_error_set(e, MHD_HTTP_BAD_REQUEST, "url", "invalid_type",
                                                   "url must be a string");
        } else if (strcmp(key, "priority") == 0) {
            rc = json_is_string(v) ? set_priority(json_string_value(v), f, e)
                                   : api_error_set(e, MHD_HTTP_BAD_REQUEST, "priority",
                                                   "invalid_type", "priority must be a string");
        } else if (strcmp(key, "timeout") == 0) {
            rc = json_is_number(v) ? set_timeout(json_number_value(v), f, e)
                                   : api_error_set(e, MHD_HTTP_BAD_REQUEST, "timeout",
                                                   "invalid_type", "timeout must be a number");
        } else if (strcmp(key, "callback_url") == 0) {
            rc = json_is_string(v) ? set_callback_url(json_string_value(v), f, e)
                                   : api_error_set(e, MHD_HTTP_BAD_REQUEST, "callback_url",
                                                   "invalid_type", "callback_url must be a string");
        } else if (strcmp(key, "kind") == 0) {
            rc = json_is_string(v) ? set_kind(json_string_value(v), f, e)
                                   : api_error_set(e, MHD_HTTP_BAD_REQUEST, "kind", "invalid_type",
                                                   "kind must be a string");
        } else if (strcmp(key, "options") == 0) {
            rc = set_options(v, f, e);
        } else {
            /* jansson keys are valid UTF-8; reply_error cleans controls. */
            rc = api_error_set(
                e, MHD_HTTP_BAD_REQUEST, NULL, "unknown_field",
                "unknown field '%.64s' (path, url, priority, timeout, callback_url, kind, "
                "options)",
                key);
        }
        if (rc)
            break;
    }
    if (rc == 0 && f->path[0] && f->url[0])
        rc = api_error_set(e, MHD_HTTP_BAD_REQUEST, "url", "invalid_value",
                           "give either a path or a url, not both");
    if (rc == 0 && !f->path[0] && !f->url[0])
        rc = api_error_set(e, MHD_HTTP_BAD_REQUEST, "path", "missing_field",
                           "missing path: a JSON submit names a file on the server (path) or "
                           "a URL to download (url); upload a file with multipart/form-data "
                           "instead");
out:
    json_decref(o);
    return rc;
}

int submit_parse_form(const upload *u, submit_fields *f, api_error *e)
{
    fields_init(f);
    const char *v;
    int rc;
    if ((v = upload_field(u, "priority")) && (rc = set_priority(v, f, e)))
        return rc;
    if ((v = upload_field(u, "timeout"))) {
        char *end = NULL;
        errno = 0;
        double t = strtod(v, &end);
        if (!*v || errno || *end)
            return api_error_set(e, MHD_HTTP_BAD_REQUEST, "timeout", "invalid_value",
                                 "timeout must be a number of seconds > 0");
        if ((rc = set_timeout(t, f, e)))
            return rc;
    }
    if ((v = upload_field(u, "path")) && (rc = set_path(v, f, e)))
        return rc;
    if ((v = upload_field(u, "callback_url")) && (rc = set_callback_url(v, f, e)))
        return rc;
    if ((v = upload_field(u, "url")) && (rc = set_url(v, f, e)))
        return rc;
    if ((v = upload_field(u, "kind")) && (rc = set_kind(v, f, e)))
        return rc;
    if ((v = upload_field(u, "options"))) {
        json_error_t jerr;
        json_t *o = json_loads(v, JSON_REJECT_DUPLICATES, &jerr);
        if (!o)
            return api_error_set(e, MHD_HTTP_BAD_REQUEST, "options", "invalid_json",
                                 "options are not valid JSON: %s", jerr.text);
        rc = set_options(o, f, e);
        json_decref(o);
        if (rc)
            return rc;
    }
    if (upload_has_file(u) && f->path[0])
        return api_error_set(e, MHD_HTTP_BAD_REQUEST, "path", "invalid_value",
                             "give either a file or a path, not both");
    if (f->url[0] && (upload_has_file(u) || f->path[0]))
        return api_error_set(e, MHD_HTTP_BAD_REQUEST, "url", "invalid_value",
                             "give one of a file, a path or a url, not several");
    if (!upload_has_file(u) && !f->path[0] && !f->url[0])
        return api_error_set(e, MHD_HTTP_BAD_REQUEST, SUBMIT_FILE_FIELD, "missing_field",
                             "missing file: send the recording as the '%s' part, or a 'path' "
                             "or a 'url'",
                             SUBMIT_FILE_FIELD);
    return 0;
}

int submit_check_destination(const net_dest_policy *dest, const char *param, const char *url,
                             api_error *e)
{
    if (!net_dest_url_refused(dest, url))
        return 0;
    char shown[SUBMIT_URL_MAX + 8], host[NET_HOST_MAX + 8];
    net_url_redact(url, shown, sizeof shown);
    net_url_host(url, host, sizeof host);
    return api_error_set(e, MHD_HTTP_FORBIDDEN, param, "destination_not_allowed",
                         "%s '%.200s': destination %s " NET_DEST_NOT_ALLOWED, param, shown, host);
}

int submit_check_path(const path_roots *roots, const char *path, path_input *in, api_error *e)
{
    in->root = in->path = NULL;
    if (!roots || roots->n == 0)
        return api_error_set(e, MHD_HTTP_FORBIDDEN, "path", "path_not_allowed",
                             "this server reads no server-side paths (its configuration has no "
                             "root): upload the file instead");
    hark_err err = {0};
    int rc = path_roots_check(roots, path, in, &err);
    if (rc == HARK_EINVAL)
        return api_error_set(e, MHD_HTTP_FORBIDDEN, "path", "path_not_allowed", "%s", err.msg);
    if (rc)
        return api_error_set(e, MHD_HTTP_BAD_REQUEST, "path", "invalid_path", "%s", err.msg);
    return 0;
}

static enum MHD_Result upload_error(struct MHD_Connection *c, int rc, const hark_err *err,
                                    const server *s)
{
    switch (rc) {
    case HARK_ETOOLONG:
        return reply_errorf(c, MHD_HTTP_CONTENT_TOO_LARGE, SUBMIT_FILE_FIELD, "file_too_large",
                            "the file is larger than this server's limit of %lld bytes",
                            (long long)s->max_upload_bytes);
    case HARK_EINVAL:
        return reply_errorf(c, MHD_HTTP_BAD_REQUEST, NULL, "invalid_multipart", "%s", err->msg);
    case HARK_ENOSPC: { /* a resource condition: come back later (invariant 11) */
        api_error e;
        api_error_set(&e, MHD_HTTP_INSUFFICIENT_STORAGE, NULL, "insufficient_storage", "%s",
                      err->msg);
        e.retry_after = "60";
        return reply_error(c, &e);
    }
    default:
        return reply_errorf(c, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, "upload_failed", "%s",
                            err->msg);
    }
}

enum MHD_Result handle_submit(server *s, struct MHD_Connection *c, const caller *who,
                              const buf *json, upload *up)
{
    submit_fields *f = malloc(sizeof *f); /* PATH_MAX: keep it off the thread's stack */
    path_input in = {0};
    api_error e;
    hark_err err = {0};
    enum MHD_Result ret;
    char *opts_text = NULL;
    int rc;
    if (!f)
        return reply_errorf(c, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, NULL, "out of memory");
    if (up) {
        if ((rc = upload_finish(up, &err))) {
            ret = upload_error(c, rc, &err, s);
            goto out;
        }
        rc = submit_parse_form(up, f, &e);
    } else {
        rc = submit_parse_json(json->data ? json->data : "", json->len, f, &e);
    }
    int prio = 0;
    if (rc == 0)
        rc = caller_priority(who, f->priority, STORE_PRIO_NORMAL, &prio, &e);
    if (rc == 0 && f->path[0])
        rc = submit_check_path(s->roots, f->path, &in, &e);
    if (rc == 0 && f->callback_url[0] && !s->webhooks)
        rc = api_error_set(&e, MHD_HTTP_BAD_REQUEST, "callback_url", "webhooks_disabled",
                           "this server sends no webhooks: it has no webhook secret (start hark "
                           "serve with --webhook-secret-file FILE, %s or the config's "
                           "webhook_secret)",
                           "HARK_WEBHOOK_SECRET");
    if (rc == 0 && f->url[0])
        rc = submit_check_destination(s->dest, "url", f->url, &e);
    if (rc == 0 && f->callback_url[0])
        rc = submit_check_destination(s->dest, "callback_url", f->callback_url, &e);
    if (rc) {
        ret = reply_error(c, &e);
        goto out;
    }

    /* The kind checks its options (and fills in its defaults), so a job
     * never starts with options its workers would refuse. */
    const job_kind *kind = job_kind_find(f->kind[0] ? f->kind : "transcribe");
    json_t *opts = f->options[0] ? json_loads(f->options, 0, NULL) : json_object();
    hark_err oerr = {0};
    if (!opts || (kind->check_options && kind->check_options(opts, &oerr)) ||
        !(opts_text = json_dumps(opts, JSON_COMPACT | JSON_SORT_KEYS))) {
        json_decref(opts);
        ret = reply_errorf(c, MHD_HTTP_BAD_REQUEST, "options", "invalid_value", "%s",
                           oerr.msg[0] ? oerr.msg : "options are not valid");
        goto out;
    }
    json_decref(opts);

    bool file = !f->path[0] && !f->url[0];
    char shown[SUBMIT_URL_MAX + 8]; /* a URL's source: without credentials or query */
    if (f->url[0])
        net_url_redact(f->url, shown, sizeof shown);
    store_job_spec spec = {
        .kind = kind->name,
        .options = opts_text,
        .input = file        ? upload_path(up)
                 : f->url[0] ? f->url
                             : in.path,
        /* The worker opens a file input beneath its root, following no
         * link: a path under its server root, an upload in the uploads
         * directory (hark's own, but never read through a link either). */
        .input_root = file        ? s->uploads_dir
                      : f->url[0] ? NULL
                                  : in.root,
        .source = file        ? upload_filename(up)
                  : f->url[0] ? shown
                              : f->path,
        .priority = prio,
        .timeout_s = f->has_timeout ? f->timeout_s : s->default_timeout_s,
        .max_active = s->queue_limit[prio],
        .callback_url = f->callback_url,
        .owner = who->token_name,
    };
    char id[STORE_ID_SIZE];
    rc = store_submit(s->st, &spec, id, &err);
    if (rc == HARK_EFULL) {
        ret = reply_queue_full(c, prio, &err);
        goto out;
    }
    if (rc == HARK_EUNAVAIL) { /* nothing stored: the client tries again */
        api_store_unavailable(&e, &err);
        ret = reply_error(c, &e);
        goto out;
    }
    if (rc) {
        ret = reply_errorf(
            c, rc == HARK_EINVAL ? MHD_HTTP_BAD_REQUEST : MHD_HTTP_INTERNAL_SERVER_ERROR, NULL,
            rc == HARK_EINVAL ? "invalid_value" : "store_error", "%s", err.msg);
        goto out;
    }
    if (file)
        upload_keep(up); /* the job refers to it now */
    server_wake(s);

    char location[64];
    snprintf(location, sizeof location, "/v1/jobs/%s", id);
    store_job job;
    rc = store_get_job(s->st, caller_scope(who), id, &job, &err);
    if (rc == HARK_EUNAVAIL) {
        /* The job is stored (a 503 would have the client submit it
         * again): its id, for the client to look at once the store is
         * back. */
        ret = reply_json(c, MHD_HTTP_CREATED,
                         json_pack("{s:s, s:s, s:s}", "id", id, "object", "job", "state", "queued"),
                         location);
        goto out;
    }
    if (rc) {
        ret = reply_errorf(c, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, "store_error",
                           "job %s was submitted but cannot be read back: %s", id, err.msg);
        goto out;
    }
    log_event(LOG_INFO, "job.submitted", {"job", id}, {"request", who->request_id},
              {"priority", store_priority_name(prio)}, {"token", who->token_name});
    ret = reply_json(c, MHD_HTTP_CREATED, job_json(&job), location);
    store_job_release(&job);
out:
    free(opts_text);
    path_input_release(&in);
    free(f);
    return ret;
}
