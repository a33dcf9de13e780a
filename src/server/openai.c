/* openai.c - see openai.h. */
#include "server/openai.h"

#include "jobs/job_result.h"
#include "output/format.h"
#include "server/lang_tag.h"
#include "server/text.h"
#include "util/clock.h"
#include "util/log.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define STREAM_BATCH 64 /* chunk results read at once by a stream */

/* Every field of OpenAI's transcription form (openai-node 7.x and
 * openai-python, which send an array as repeated "name[]" parts and an
 * object's members as "name[member]" parts), and hark's own. docs/api.md
 * says what each does here. */
static const char *const transcription_fields[] = {"model",
                                                   "language",
                                                   "prompt",
                                                   "temperature",
                                                   "response_format",
                                                   "timestamp_granularities[]",
                                                   "stream",
                                                   "chunking_strategy",
                                                   "chunking_strategy[type]",
                                                   "chunking_strategy[prefix_padding_ms]",
                                                   "chunking_strategy[silence_duration_ms]",
                                                   "chunking_strategy[threshold]",
                                                   "include[]",
                                                   "keywords[]",
                                                   "known_speaker_names[]",
                                                   "languages[]",
                                                   "priority",
                                                   "keep_on_disconnect",
                                                   NULL};

/* Data URLs of a few seconds of audio each, for diarization hark does not
 * do: hundreds of kilobytes nobody reads, so they are not kept. */
static const char *const transcription_discard[] = {"known_speaker_references[]", NULL};

/* OpenAI's translation form is file, model, prompt, response_format and
 * temperature; language (English only) and hark's own are accepted too. */
static const char *const translation_fields[] = {
    "model",    "prompt",   "response_format",    "temperature",
    "language", "priority", "keep_on_disconnect", NULL};

const openai_form openai_transcription_form = {transcription_fields, transcription_discard};
const openai_form openai_translation_form = {translation_fields, NULL};

/* hark's one recognizer, and the name OpenAI clients send by default: an
 * alias, so a client written for OpenAI works unchanged. */
const char *const openai_models[] = {"pocketsphinx-en-us", "whisper-1", NULL};

static const struct {
    const char *name;
    enum openai_format format;
} formats[] = {{"json", OA_JSON},
               {"text", OA_TEXT},
               {"srt", OA_SRT},
               {"vtt", OA_VTT},
               {"verbose_json", OA_VERBOSE_JSON}};

/* ---- the request's fields ------------------------------------------------ */

static int parse_bool(const char *v, const char *name, bool *out, api_error *e)
{
    if (strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0)
        *out = true;
    else if (strcasecmp(v, "false") == 0 || strcmp(v, "0") == 0)
        *out = false;
    else
        return api_error_set(e, MHD_HTTP_BAD_REQUEST, name, "invalid_value",
                             "%s must be true or false, not '%.64s'", name, v);
    return 0;
}

/* "pocketsphinx-en-us, whisper-1", for messages. */
static void model_list(char *list, size_t len)
{
    list[0] = '\0';
    for (size_t i = 0; openai_models[i]; i++)
        snprintf(list + strlen(list), len - strlen(list), "%s%s", i ? ", " : "", openai_models[i]);
}

static int parse_model(const char *v, openai_request *r, api_error *e)
{
    for (size_t i = 0; openai_models[i]; i++)
        if (strcmp(v, openai_models[i]) == 0) {
            snprintf(r->model, sizeof r->model, "%s", v);
            return 0;
        }
    char list[256];
    model_list(list, sizeof list);
    return api_error_set(e, MHD_HTTP_BAD_REQUEST, "model", "model_not_found",
                         "unknown model '%.64s': this server has %s", v, list);
}

/* One language tag of param (n bytes at v): English, or a 400 naming it. */
static int check_language(const char *v, size_t n, const char *param, api_error *e)
{
    int shown = (int)(n > 64 ? 64 : n);
    switch (lang_tag_classify(v, n)) {
    case LANG_TAG_ENGLISH:
        return 0;
    case LANG_TAG_OTHER:
        return api_error_set(e, MHD_HTTP_BAD_REQUEST, param, "unsupported_language",
                             "language '%.*s' is not supported: hark's model hears English only "
                             "(en, en-US, eng ...)",
                             shown, v);
    default:
        return api_error_set(e, MHD_HTTP_BAD_REQUEST, param, "invalid_value",
                             "'%.*s' in %s is not a language tag (BCP 47, such as en or en-US)",
                             shown, v, param);
    }
}

/* languages[]: every entry (comma-joined by the upload) English. */
static int parse_languages(const char *v, api_error *e)
{
    for (const char *p = v;; p++) {
        size_t n = strcspn(p, ",");
        int rc = check_language(p, n, "languages[]", e);
        if (rc)
            return rc;
        p += n;
        if (!*p)
            return 0;
    }
}

/* include[]: logprobs is the one value OpenAI defines. */
static int parse_include(const char *v, openai_request *r, api_error *e)
{
    for (const char *p = v;; p++) {
        size_t n = strcspn(p, ",");
        if (n == 8 && strncmp(p, "logprobs", 8) == 0)
            r->logprobs = true;
        else
            return api_error_set(e, MHD_HTTP_BAD_REQUEST, "include[]", "invalid_value",
                                 "unknown include[] value '%.*s' (logprobs)",
                                 (int)(n > 64 ? 64 : n), p);
        p += n;
        if (!*p)
            return 0;
    }
}

static int chunking_invalid(api_error *e, const char *param, const char *why)
{
    return api_error_set(e, MHD_HTTP_BAD_REQUEST, param, "invalid_value",
                         "%s: %s (chunking_strategy is \"auto\" or {\"type\": \"server_vad\", "
                         "\"prefix_padding_ms\", \"silence_duration_ms\", \"threshold\"})",
                         param, why);
}

/* A server_vad member, as JSON (j) or as a form field's text (v). */
static int check_vad_member(const char *name, json_t *j, const char *v, const char *param,
                            api_error *e)
{
    bool threshold = strcmp(name, "threshold") == 0;
    int64_t ms;
    double d;
    char *end;
    if (threshold && j) {
        d = json_number_value(j);
        if (!json_is_number(j) || !(d >= 0 && d <= 1))
            return chunking_invalid(e, param, "threshold must be a number from 0 to 1");
    } else if (threshold) {
        d = strtod(v, &end);
        if (!*v || *end || !(d >= 0 && d <= 1))
            return chunking_invalid(e, param, "threshold must be a number from 0 to 1");
    } else if (j ? !json_is_integer(j) || json_integer_value(j) < 0 ||
                       json_integer_value(j) > INT32_MAX
                 : parse_int64(v, 0, INT32_MAX, &ms) != 0) {
        return chunking_invalid(e, param, "milliseconds must be a whole number, 0 or more");
    }
    return 0;
}

static const char *const vad_members[] = {"prefix_padding_ms", "silence_duration_ms", "threshold",
                                          NULL};

/* chunking_strategy={...}: a JSON server_vad object. */
static int parse_chunking_json(const char *v, api_error *e)
{
    const char *param = "chunking_strategy";
    json_t *o = json_loads(v, JSON_REJECT_DUPLICATES, NULL);
    int rc = 0;
    if (!json_is_object(o)) {
        rc = chunking_invalid(e, param, "not \"auto\" or a JSON object");
        goto out;
    }
    json_t *type = json_object_get(o, "type");
    if (!json_is_string(type) || strcmp(json_string_value(type), "server_vad") != 0) {
        rc = chunking_invalid(e, param, "type must be server_vad");
        goto out;
    }
    const char *key;
    json_t *val;
    json_object_foreach(o, key, val)
    {
        if (strcmp(key, "type") == 0)
            continue;
        size_t i = 0;
        while (vad_members[i] && strcmp(vad_members[i], key) != 0)
            i++;
        if (!vad_members[i]) {
            rc = chunking_invalid(e, param, "unknown member");
            goto out;
        }
        if ((rc = check_vad_member(key, val, NULL, param, e)))
            goto out;
    }
out:
    json_decref(o);
    return rc;
}

/* chunking_strategy: accepted, checked and not used: hark always cuts the
 * audio at silences itself (docs/api.md). The SDKs send an object as
 * chunking_strategy[type]=server_vad, chunking_strategy[threshold]=...;
 * curl users may send it as JSON. */
static int parse_chunking(const char *(*get)(void *ctx, const char *name), void *ctx, api_error *e)
{
    static const char *const fields[] = {"chunking_strategy[prefix_padding_ms]",
                                         "chunking_strategy[silence_duration_ms]",
                                         "chunking_strategy[threshold]"};
    const char *v = get(ctx, "chunking_strategy");
    const char *type = get(ctx, "chunking_strategy[type]");
    bool members = type != NULL;
    for (size_t i = 0; i < 3; i++)
        members |= get(ctx, fields[i]) != NULL;
    if (v && members)
        return chunking_invalid(e, "chunking_strategy",
                                "given both as a value and as chunking_strategy[...] fields");
    if (v) {
        /* null: OpenAI's "transcribe as one block", a value the node SDK
         * asks for as the string null. */
        if (strcmp(v, "auto") == 0 || strcmp(v, "null") == 0)
            return 0;
        return parse_chunking_json(v, e);
    }
    if (!members)
        return 0;
    if (!type)
        return api_error_set(e, MHD_HTTP_BAD_REQUEST, "chunking_strategy[type]", "missing_field",
                             "chunking_strategy[type] is missing (server_vad)");
    if (strcmp(type, "server_vad") != 0)
        return chunking_invalid(e, "chunking_strategy[type]", "type must be server_vad");
    for (size_t i = 0; i < 3; i++) {
        const char *m = get(ctx, fields[i]);
        int rc = m ? check_vad_member(vad_members[i], NULL, m, fields[i], e) : 0;
        if (rc)
            return rc;
    }
    return 0;
}

/* timestamp_granularities[]: the values of every repeat, comma-joined by
 * the upload (upload.h). */
static int parse_granularities(const char *v, openai_request *r, api_error *e)
{
    r->segments = false;
    const char *p = v;
    while (*p) {
        size_t n = strcspn(p, ",");
        if (n == 4 && strncmp(p, "word", 4) == 0)
            r->words = true;
        else if (n == 7 && strncmp(p, "segment", 7) == 0)
            r->segments = true;
        else if (n > 0)
            return api_error_set(
                e, MHD_HTTP_BAD_REQUEST, "timestamp_granularities[]", "invalid_value",
                "unknown timestamp granularity '%.*s' (word, segment)", (int)(n > 64 ? 64 : n), p);
        p += n + (p[n] == ',');
    }
    if (!r->words && !r->segments)
        r->segments = true;
    return 0;
}

int openai_parse(const char *(*get)(void *ctx, const char *name), void *ctx,
                 const char *priority_header, openai_request *r, api_error *e)
{
    memset(r, 0, sizeof *r);
    r->priority = STORE_PRIO_HIGH;
    r->format = OA_JSON;
    r->segments = true;
    const char *v;
    int rc;
    if (!(v = get(ctx, "model")) || !*v)
        return api_error_set(e, MHD_HTTP_BAD_REQUEST, "model", "missing_field",
                             "missing model (this server has %s)", openai_models[0]);
    if ((rc = parse_model(v, r, e)))
        return rc;
    if ((v = get(ctx, "response_format")) && *v) {
        size_t i = 0;
        while (i < sizeof formats / sizeof formats[0] && strcmp(formats[i].name, v) != 0)
            i++;
        if (i == sizeof formats / sizeof formats[0] && strcmp(v, "diarized_json") == 0)
            return api_error_set(e, MHD_HTTP_BAD_REQUEST, "response_format", "unsupported_value",
                                 "response_format diarized_json is not supported: hark does not "
                                 "tell speakers apart (json, text, srt, vtt, verbose_json)");
        if (i == sizeof formats / sizeof formats[0])
            return api_error_set(e, MHD_HTTP_BAD_REQUEST, "response_format", "invalid_value",
                                 "unknown response_format '%.64s' (json, text, srt, vtt, "
                                 "verbose_json)",
                                 v);
        r->format = formats[i].format;
    }
    if ((v = get(ctx, "timestamp_granularities[]"))) {
        if (r->format != OA_VERBOSE_JSON)
            return api_error_set(e, MHD_HTTP_BAD_REQUEST, "timestamp_granularities[]",
                                 "invalid_value",
                                 "timestamp_granularities[] needs response_format verbose_json");
        if ((rc = parse_granularities(v, r, e)))
            return rc;
    }
    if ((v = get(ctx, "stream")) && (rc = parse_bool(v, "stream", &r->stream, e)))
        return rc;
    if ((v = get(ctx, "keep_on_disconnect")) &&
        (rc = parse_bool(v, "keep_on_disconnect", &r->keep, e)))
        return rc;
    if ((v = get(ctx, "temperature"))) {
        char *end;
        double t = strtod(v, &end);
        if (!*v || *end || !(t >= 0 && t <= 1))
            return api_error_set(e, MHD_HTTP_BAD_REQUEST, "temperature", "invalid_value",
                                 "temperature must be a number from 0 to 1");
    }
    if ((v = get(ctx, "language")) && *v && (rc = check_language(v, strlen(v), "language", e)))
        return rc;
    if ((v = get(ctx, "languages[]")) && (rc = parse_languages(v, e)))
        return rc;
    if ((v = get(ctx, "include[]")) && (rc = parse_include(v, r, e)))
        return rc;
    if (r->logprobs && r->format != OA_JSON)
        return api_error_set(e, MHD_HTTP_BAD_REQUEST, "include[]", "unsupported_value",
                             "include[]=logprobs needs response_format json");
    if (r->logprobs && r->stream)
        return api_error_set(e, MHD_HTTP_BAD_REQUEST, "include[]", "unsupported_value",
                             "include[]=logprobs is not available with stream=true: hark's "
                             "stream events carry no logprobs");
    if ((rc = parse_chunking(get, ctx, e)))
        return rc;
    /* prompt, keywords[], known_speaker_names[]: accepted and unused
     * (docs/api.md); the upload caps their size. */
    const char *field = get(ctx, "priority");
    const char *prio = field ? field : priority_header;
    if (prio) {
        hark_err err = {0};
        if (store_priority_parse(prio, &r->priority, &err))
            return api_error_set(e, MHD_HTTP_BAD_REQUEST, "priority", "invalid_value",
                                 "unknown priority '%.32s' (realtime, high, normal, low)", prio);
        r->priority_given = true;
    }
    return 0;
}

static const char *form_get(void *ctx, const char *name)
{
    return upload_field(ctx, name);
}

/* ---- waiting for the job --------------------------------------------------- */

static void abandon(server *s, store_scope sc, const char *id, bool keep, const char *why)
{
    if (keep) {
        log_info("job %s: %s; the job goes on (keep_on_disconnect)", id, why);
        return;
    }
    hark_err err = {0};
    int rc = store_cancel(s->st, sc, id, &err);
    if (rc == 0) {
        log_info("job %s: %s; cancelled", id, why);
        server_wake(s);
    } else if (rc != HARK_EINVAL) { /* EINVAL: it had just ended */
        log_warn("job %s: %s; cannot cancel it: %s", id, why, err.msg);
    }
}

/* A job that did not succeed, as the request's error. */
static enum MHD_Result reply_unsuccessful(struct MHD_Connection *c, const store_job *job)
{
    if (job->state == STORE_CANCELLED)
        return reply_errorf(c, MHD_HTTP_CONFLICT, NULL, "job_cancelled", "job %s was cancelled",
                            job->id);
    /* Faults of the input (it cannot be decoded, is too long, has no audio)
     * are named by the file; others (a chunk that kept crashing or timing
     * out) are the server's. */
    bool input = strncmp(job->error, "cannot decode", 13) == 0 || strstr(job->error, "too long");
    return reply_errorf(c, input ? MHD_HTTP_BAD_REQUEST : MHD_HTTP_INTERNAL_SERVER_ERROR,
                        input ? OPENAI_FILE_FIELD : NULL, input ? "invalid_file" : "job_failed",
                        "%.480s", job->error);
}

/* verbose_json with only the granularities asked for. */
static int filter_verbose(buf *out, const openai_request *r)
{
    json_t *root = json_loadb(out->data, out->len, 0, NULL);
    if (!root)
        return HARK_EIO;
    if (!r->words)
        json_object_del(root, "words");
    if (!r->segments)
        json_object_del(root, "segments");
    if (r->translate)
        json_object_set_new(root, "task", json_string("translate"));
    char *text = json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(6));
    json_decref(root);
    if (!text)
        return HARK_ENOMEM;
    buf_reset(out);
    int rc = buf_puts(out, text);
    free(text);
    return rc;
}

/* include[]=logprobs: OpenAI's [{token, bytes, logprob}], one token per
 * word (hark's recognizer has no subword tokens): the first word, then " "
 * and each next one, so the tokens add up to the text; the logprob is the
 * log of the word's posterior probability (its confidence). */
static json_t *word_logprobs(const transcript *t)
{
    json_t *list = json_array();
    for (size_t i = 0; list && i < t->n_words; i++) {
        const tr_word *w = &t->words[i];
        buf token;
        buf_init(&token, RESULT_MAX);
        json_t *bytes = json_array();
        int rc = bytes ? buf_printf(&token, "%s%s", i ? " " : "", w->text) : HARK_ENOMEM;
        for (size_t k = 0; rc == 0 && k < token.len; k++)
            rc = json_array_append_new(bytes, json_integer((unsigned char)token.data[k]));
        json_t *o = rc ? NULL
                       : json_pack("{s:s, s:o, s:f}", "token", token.data, "bytes", bytes,
                                   "logprob", out_confidence_logprob(w->confidence));
        buf_release(&token);
        if (!o || json_array_append_new(list, o)) {
            if (!o && rc)
                json_decref(bytes);
            json_decref(list);
            return NULL;
        }
    }
    return list;
}

static enum MHD_Result reply_result(server *s, struct MHD_Connection *c, store_scope sc,
                                    const char *id, const openai_request *r)
{
    transcript t;
    hark_err err = {0};
    int rc = job_result_transcript(s->st, sc, id, NULL, &t, &err);
    if (rc)
        return reply_errorf(c, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, "result_error",
                            "cannot read the result of job %s: %s", id, err.msg);
    buf out;
    buf_init(&out, RESULT_MAX);
    const char *ctype = "application/json";
    switch (r->format) {
    case OA_JSON: {
        json_t *o = json_pack("{s:s}", "text", t.text ? t.text : "");
        if (o && r->logprobs && json_object_set_new(o, "logprobs", word_logprobs(&t))) {
            json_decref(o);
            o = NULL;
        }
        char *text = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
        json_decref(o);
        rc = text ? buf_puts(&out, text) : HARK_ENOMEM;
        free(text);
        break;
    }
    case OA_TEXT:
        ctype = "text/plain; charset=utf-8";
        rc = buf_printf(&out, "%s\n", t.text ? t.text : "");
        break;
    case OA_SRT:
    case OA_VTT:
        ctype = out_format_mime(r->format == OA_SRT ? FMT_SRT : FMT_VTT);
        rc = out_render(&t, r->format == OA_SRT ? FMT_SRT : FMT_VTT, &out, &err);
        break;
    case OA_VERBOSE_JSON:
        rc = out_render(&t, FMT_VERBOSE_JSON, &out, &err);
        if (rc == 0)
            rc = filter_verbose(&out, r);
        break;
    }
    transcript_release(&t);
    if (rc) {
        buf_release(&out);
        return reply_errorf(c, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, "result_error",
                            "cannot render the result of job %s", id);
    }
    size_t len = out.len;
    char *body = buf_steal(&out);
    if (!body)
        return reply_errorf(c, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, NULL, "out of memory");
    return reply_bytes(c, MHD_HTTP_OK, ctype, body, len, NULL);
}

/* A request waiting for its job (the continuation of a parked request,
 * server_impl.h). */
typedef struct oa_wait {
    char id[STORE_ID_SIZE];
    openai_request r;
    int fd;
    store_scope scope;               /* the submitter's; its owner points at owner */
    char owner[STORE_OWNER_MAX + 1]; /* copied: the wait outlives the handler's call */
} oa_wait;

static enum MHD_Result reply_stopping(struct MHD_Connection *c, const char *id)
{
    api_error e;
    api_error_set(&e, MHD_HTTP_SERVICE_UNAVAILABLE, NULL, "shutting_down",
                  "the server is stopping; job %s will resume when it is back", id);
    e.retry_after = "5";
    return reply_error(c, &e);
}

/* Answer if job w->id has ended; else park the connection until the store
 * changes (or the client leaves) and come back here. */
static enum MHD_Result wait_step(server *s, struct MHD_Connection *c, void *ctx)
{
    oa_wait *w = ctx;
    store_job job;
    hark_err err = {0};
    int rc = 0;
    switch (server_wait_job(s, c, w->scope, w->id, w->fd, &job, &rc, &err)) {
    case JOB_WAIT_PARKED:
        return MHD_YES;
    case JOB_WAIT_GONE:
        abandon(s, w->scope, w->id, w->r.keep, "the client went away");
        return MHD_NO;
    case JOB_WAIT_STOPPING:
        return reply_stopping(c, w->id);
    case JOB_WAIT_FAILED:
        return reply_store_error(c, rc == HARK_EINVAL ? HARK_EIO : rc, &err, w->id);
    case JOB_WAIT_ENDED:
        break;
    }
    enum MHD_Result ret = job.state == STORE_SUCCEEDED ? reply_result(s, c, w->scope, w->id, &w->r)
                                                       : reply_unsuccessful(c, &job);
    store_job_release(&job);
    return ret;
}

/* ---- stream=true ------------------------------------------------------------- */

typedef struct oa_stream {
    server *s;
    struct MHD_Connection *c;
    store_scope scope;               /* the submitter's; its owner points at owner */
    char owner[STORE_OWNER_MAX + 1]; /* copied: the stream outlives the request */
    char job[STORE_ID_SIZE];
    int fd;
    uint64_t seen; /* the notify counter before the last look at the store */
    bool keep;
    bool finished;     /* the last event (done or error) is queued */
    bool server_ended; /* the server stopped the stream: not the client's doing */
    int next_idx;      /* the first chunk not yet sent */
    buf text;          /* everything sent so far, for the done event */
    buf out;           /* formatted, not yet handed to libmicrohttpd */
    size_t out_pos;
    int64_t keepalive_at_ns;
} oa_stream;

static int put_event(buf *out, json_t *data)
{
    char *text = data ? json_dumps(data, JSON_COMPACT) : NULL;
    json_decref(data);
    if (!text)
        return HARK_ENOMEM;
    int rc = buf_printf(out, "data: %s\n\n", text);
    free(text);
    return rc;
}

/* Deltas for the chunks committed in order since the last call: 1 if any
 * was queued, 0 if none, -1 on error. */
static int stream_deltas(oa_stream *st)
{
    store_chunk_list l;
    hark_err err = {0};
    if (store_list_chunks_from(st->s->st, st->scope, st->job, st->next_idx, STREAM_BATCH, &l,
                               &err)) {
        log_error("transcription stream of job %s: %s", st->job, err.msg);
        return -1;
    }
    int sent = 0;
    for (size_t i = 0; i < l.n && l.chunks[i].state == STORE_CHUNK_DONE; i++) {
        char *text = NULL;
        if (job_result_chunk_text(l.chunks[i].result, l.chunks[i].idx, &text, &err)) {
            log_error("transcription stream of job %s: %s", st->job, err.msg);
            sent = -1;
            break;
        }
        st->next_idx = l.chunks[i].idx + 1;
        if (*text) {
            const char *sep = st->text.len ? " " : "";
            buf delta;
            buf_init(&delta, RESULT_MAX);
            int rc = buf_printf(&delta, "%s%s", sep, text);
            if (rc == 0)
                rc = buf_puts(&st->text, delta.data);
            if (rc == 0)
                rc = put_event(&st->out, json_pack("{s:s, s:s}", "type", "transcript.text.delta",
                                                   "delta", delta.data));
            buf_release(&delta);
            if (rc) {
                free(text);
                sent = -1;
                break;
            }
            sent = 1;
        }
        free(text);
    }
    store_chunk_list_release(&l);
    return sent;
}

/* The job ended: its last event. */
static int stream_end(oa_stream *st, const store_job *job)
{
    st->finished = true;
    if (job->state == STORE_SUCCEEDED)
        return put_event(&st->out, json_pack("{s:s, s:s}", "type", "transcript.text.done", "text",
                                             st->text.data ? st->text.data : ""));
    char msg[512];
    text_clean(job->error, strlen(job->error), '?', msg, sizeof msg);
    if (job->state == STORE_CANCELLED)
        snprintf(msg, sizeof msg, "job %s was cancelled", job->id);
    return put_event(&st->out,
                     json_pack("{s:s, s:{s:s, s:s, s:n, s:s}}", "type", "error", "error", "message",
                               msg, "type", "server_error", "param", "code",
                               job->state == STORE_CANCELLED ? "job_cancelled" : "job_failed"));
}

static void keepalive_reset(oa_stream *st)
{
    st->keepalive_at_ns = clock_now_ns() + (int64_t)atomic_load(&st->s->keepalive_ms) * 1000000;
}

/* Fill st->out: 1 when there are bytes to send, 0 at the end, -1 on error
 * (or when the client went away), 2 when there is nothing to send yet
 * (st->seen says as of when). */
static int stream_refill(oa_stream *st)
{
    buf_reset(&st->out);
    st->out_pos = 0;
    if (st->finished)
        return 0;
    st->seen = notify_gen(st->s->changes);
    if (server_stopping(st->s)) {
        st->server_ended = true;
        return 0;
    }
    int rc = stream_deltas(st);
    if (rc)
        return rc;
    store_job job;
    hark_err err = {0};
    if (store_get_job(st->s->st, st->scope, st->job, &job, &err)) {
        log_error("transcription stream of job %s: %s", st->job, err.msg);
        return -1;
    }
    bool ended = store_state_terminal(job.state);
    /* A success whose last deltas committed after the read above: send
     * them first (the next call comes back here). */
    if (ended && (job.state != STORE_SUCCEEDED || st->next_idx >= job.n_chunks))
        rc = stream_end(st, &job) ? -1 : 1;
    else if (ended)
        rc = 2;
    store_job_release(&job);
    if (ended)
        return rc == 2 ? stream_refill(st) : rc;
    if (park_client_gone(st->fd))
        return -1;
    if (st->keepalive_at_ns <= clock_now_ns()) {
        keepalive_reset(st);
        return buf_puts(&st->out, ": keepalive\n\n") ? -1 : 1;
    }
    return 2;
}

static ssize_t stream_read(void *cls, uint64_t pos, char *dst, size_t max)
{
    oa_stream *st = cls;
    (void)pos;
    while (st->out_pos >= st->out.len) {
        int rc = stream_refill(st);
        if (rc == 2) {
            enum park_result pr =
                park_wait(st->s->park, st->c, st->fd, st->seen, st->keepalive_at_ns);
            if (pr == PARK_PARKED)
                return 0; /* called again once resumed */
            if (pr == PARK_CLOSED) {
                st->server_ended = true;
                return MHD_CONTENT_READER_END_OF_STREAM;
            }
            continue;
        }
        if (rc <= 0)
            return rc == 0 ? MHD_CONTENT_READER_END_OF_STREAM : MHD_CONTENT_READER_END_WITH_ERROR;
        if (!st->finished)
            keepalive_reset(st);
    }
    size_t n = st->out.len - st->out_pos;
    if (n > max)
        n = max;
    memcpy(dst, st->out.data + st->out_pos, n);
    st->out_pos += n;
    return (ssize_t)n;
}

/* The stream is over: by its end, the server's stop, or the client. */
static void stream_free(void *cls)
{
    oa_stream *st = cls;
    if (!st->finished && !st->server_ended)
        abandon(st->s, st->scope, st->job, st->keep, "the client left the stream");
    buf_release(&st->text);
    buf_release(&st->out);
    free(st);
}

static enum MHD_Result reply_stream(server *s, struct MHD_Connection *c, store_scope sc,
                                    const char *id, const openai_request *r)
{
    oa_stream *st = calloc(1, sizeof *st);
    if (!st) {
        abandon(s, sc, id, r->keep, "out of memory for its stream");
        return reply_errorf(c, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, NULL, "out of memory");
    }
    st->s = s;
    st->c = c;
    st->scope = sc;
    if (sc.owner) {
        snprintf(st->owner, sizeof st->owner, "%s", sc.owner);
        st->scope.owner = st->owner;
    }
    snprintf(st->job, sizeof st->job, "%s", id);
    st->fd = server_connection_fd(c);
    st->keep = r->keep;
    buf_init(&st->text, RESULT_MAX);
    buf_init(&st->out, RESULT_MAX);
    keepalive_reset(st);
    struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024,
                                                                  stream_read, st, stream_free);
    if (!resp) {
        stream_free(st);
        return reply_errorf(c, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, NULL, "out of memory");
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    MHD_add_response_header(resp, "X-Hark-Job", id);
    enum MHD_Result ret = reply_queue(c, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* ---- the endpoints -------------------------------------------------------------- */

/* Both endpoints: the form, a job, and the wait for it. */
static enum MHD_Result handle_audio(server *s, struct MHD_Connection *c, const caller *who,
                                    upload *up, bool translate, request_cont *cont)
{
    hark_err err = {0};
    api_error e;
    int rc = upload_finish(up, &err);
    if (rc == HARK_ETOOLONG)
        return reply_errorf(c, MHD_HTTP_CONTENT_TOO_LARGE, OPENAI_FILE_FIELD, "file_too_large",
                            "the file is larger than this server's limit of %lld bytes",
                            (long long)s->max_upload_bytes);
    if (rc)
        return reply_errorf(
            c, rc == HARK_EINVAL ? MHD_HTTP_BAD_REQUEST : MHD_HTTP_INTERNAL_SERVER_ERROR, NULL,
            rc == HARK_EINVAL ? "invalid_multipart" : "upload_failed", "%s", err.msg);
    openai_request r;
    const char *hdr = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Hark-Priority");
    if (openai_parse(form_get, up, hdr, &r, &e))
        return reply_error(c, &e);
    r.translate = translate;
    if (!upload_has_file(up))
        return reply_errorf(c, MHD_HTTP_BAD_REQUEST, OPENAI_FILE_FIELD, "missing_field",
                            "missing file: send the recording as the '%s' part", OPENAI_FILE_FIELD);
    int prio;
    if (caller_priority(who, r.priority_given ? r.priority : -1, STORE_PRIO_HIGH, &prio, &e))
        return reply_error(c, &e);
    r.priority = prio;
    store_job_spec spec = {
        .kind = "transcribe",
        .input = upload_path(up),
        .input_root = s->uploads_dir, /* opened beneath it, following no link */
        .source = upload_filename(up),
        .priority = r.priority,
        .timeout_s = s->default_timeout_s,
        .max_active = s->queue_limit[r.priority],
        .owner = who->token_name,
    };
    char id[STORE_ID_SIZE];
    rc = store_submit(s->st, &spec, id, &err);
    if (rc == HARK_EFULL)
        return reply_queue_full(c, r.priority, &err);
    if (rc == HARK_EUNAVAIL)
        return reply_store_error(c, rc, &err, "");
    if (rc)
        return reply_errorf(
            c, rc == HARK_EINVAL ? MHD_HTTP_BAD_REQUEST : MHD_HTTP_INTERNAL_SERVER_ERROR, NULL,
            rc == HARK_EINVAL ? "invalid_value" : "store_error", "%s", err.msg);
    upload_keep(up); /* the job refers to it now */
    server_wake(s);
    log_event(LOG_INFO, "job.submitted", {"job", id}, {"request", who->request_id},
              {"priority", store_priority_name(r.priority)}, {"token", who->token_name},
              {"api", "openai"}, {"endpoint", translate ? "translations" : "transcriptions"},
              {"format", formats[r.format].name}, {"stream", r.stream ? "true" : "false"});
    store_scope sc = caller_scope(who);
    if (r.stream)
        return reply_stream(s, c, sc, id, &r);
    oa_wait *w = calloc(1, sizeof *w);
    if (!w) {
        abandon(s, sc, id, r.keep, "out of memory while it waits");
        return reply_errorf(c, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, NULL, "out of memory");
    }
    snprintf(w->id, sizeof w->id, "%s", id);
    w->r = r;
    w->fd = server_connection_fd(c);
    w->scope = sc;
    if (sc.owner) {
        snprintf(w->owner, sizeof w->owner, "%s", sc.owner);
        w->scope.owner = w->owner;
    }
    *cont = (request_cont){.fn = wait_step, .ctx = w, .free_ctx = free};
    return wait_step(s, c, w);
}

enum MHD_Result handle_openai_transcription(server *s, struct MHD_Connection *c, const caller *who,
                                            upload *up, request_cont *cont)
{
    return handle_audio(s, c, who, up, false, cont);
}

enum MHD_Result handle_openai_translation(server *s, struct MHD_Connection *c, const caller *who,
                                          upload *up, request_cont *cont)
{
    return handle_audio(s, c, who, up, true, cont);
}

/* OpenAI's model object. created 0: hark's models have no release date. */
static json_t *model_object(const char *id)
{
    return json_pack("{s:s, s:s, s:i, s:s}", "id", id, "object", "model", "created", 0, "owned_by",
                     "hark");
}

enum MHD_Result handle_openai_models(server *s, struct MHD_Connection *c)
{
    (void)s;
    json_t *data = json_array();
    for (size_t i = 0; data && openai_models[i]; i++)
        json_array_append_new(data, model_object(openai_models[i]));
    return reply_json(c, MHD_HTTP_OK,
                      data ? json_pack("{s:s, s:o}", "object", "list", "data", data) : NULL, NULL);
}

enum MHD_Result handle_openai_model(server *s, struct MHD_Connection *c, const char *id, bool exact)
{
    (void)s;
    for (size_t i = 0; exact && openai_models[i]; i++)
        if (strcmp(id, openai_models[i]) == 0)
            return reply_json(c, MHD_HTTP_OK, model_object(id), NULL);
    char list[256];
    model_list(list, sizeof list);
    return reply_errorf(c, MHD_HTTP_NOT_FOUND, "model", "model_not_found",
                        "model '%s' not found: this server has %s", id, list);
}
