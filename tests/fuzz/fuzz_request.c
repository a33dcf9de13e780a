/* fuzz_request.c - libFuzzer harness over what the HTTP server parses from
 * a client before anything is committed: a JSON submit body
 * (submit_parse_json), the fields of an OpenAI transcription form
 * (openai_parse), an Authorization header (tokens_parse_bearer), the
 * cleaning of client text (text_clean, text_upload_name) and the Host and
 * Origin headers (origin_host_allowed, origin_check).
 *
 * The first byte picks the target; the rest is its input. For forms it is
 * "name=value" lines (a repeated "name[]" joined with commas, as the
 * upload does). Checks:
 *   - a refusal is a 4xx api_error with a non-empty message and nothing
 *     else changed; an acceptance keeps every documented range (a language
 *     and every languages[] entry are English tags, logprobs only with
 *     json and without stream);
 *   - an Origin is allowed only when configured or the page's own (an
 *     empty policy allows none but the same origin, which needs a Host);
 *   - cleaned text is clean (text_is_clean) and NUL-terminated in its
 *     buffer; an upload name never contains '/' or '\\' and is not "." or
 *     "..".
 *     ./fuzz_request -max_total_time=30
 */
#include "auth/tokens.h"
#include "server/lang_tag.h"
#include "server/openai.h"
#include "server/origin.h"
#include "server/submit.h"
#include "server/text.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_FIELDS 32

typedef struct form {
    char *names[MAX_FIELDS];
    char *values[MAX_FIELDS];
    size_t n;
} form;

static const char *form_get(void *ctx, const char *name)
{
    form *f = ctx;
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->names[i], name) == 0)
            return f->values[i];
    return NULL;
}

/* "name=value" lines; a repeat of a name ending in "[]" appends ",value";
 * other repeats keep the first (the upload refuses them before parsing). */
static void form_parse(char *text, form *f)
{
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line && f->n < MAX_FIELDS;
         line = strtok_r(NULL, "\n", &save)) {
        char *eq = strchr(line, '=');
        if (!eq)
            continue;
        *eq = '\0';
        const char *old = form_get(f, line);
        size_t ln = strlen(line);
        if (old && ln > 2 && strcmp(line + ln - 2, "[]") == 0) {
            for (size_t i = 0; i < f->n; i++)
                if (strcmp(f->names[i], line) == 0) {
                    size_t a = strlen(f->values[i]), b = strlen(eq + 1);
                    char *v = realloc(f->values[i], a + b + 2);
                    if (!v)
                        return;
                    v[a] = ',';
                    memcpy(v + a + 1, eq + 1, b + 1);
                    f->values[i] = v;
                }
            continue;
        }
        if (old)
            continue;
        f->names[f->n] = strdup(line);
        f->values[f->n] = strdup(eq + 1);
        if (!f->names[f->n] || !f->values[f->n]) {
            free(f->names[f->n]);
            free(f->values[f->n]);
            return;
        }
        f->n++;
    }
}

static void check_error(const api_error *e)
{
    if (e->status < 400 || e->status >= 500 || !e->message[0])
        __builtin_trap();
}

static void fuzz_json(const char *s, size_t n)
{
    submit_fields *f = malloc(sizeof *f);
    api_error e;
    if (!f)
        return;
    if (submit_parse_json(s, n, f, &e) != 0) {
        check_error(&e);
    } else if (f->priority < -1 || f->priority > 3 || (f->has_timeout && !(f->timeout_s > 0)) ||
               !f->path[0] == !f->url[0] || /* exactly one input: a path or a url */
               !text_is_clean(f->path, strlen(f->path)) || !text_is_clean(f->url, strlen(f->url))) {
        __builtin_trap();
    }
    free(f);
}

static void fuzz_openai(char *text)
{
    form f = {0};
    form_parse(text, &f);
    openai_request r;
    api_error e;
    const char *hdr = form_get(&f, "x-hark-priority");
    if (openai_parse(form_get, &f, hdr, &r, &e) != 0) {
        check_error(&e);
    } else {
        bool model_ok = false;
        for (size_t i = 0; openai_models[i]; i++)
            model_ok |= strcmp(r.model, openai_models[i]) == 0;
        if (!model_ok || r.priority < 0 || r.priority > 3 || (int)r.format < 0 ||
            r.format > OA_VERBOSE_JSON || (!r.words && !r.segments) ||
            (r.logprobs && (r.format != OA_JSON || r.stream)))
            __builtin_trap();
        const char *lang = form_get(&f, "language");
        if (lang && *lang && lang_tag_classify(lang, strlen(lang)) != LANG_TAG_ENGLISH)
            __builtin_trap();
        const char *langs = form_get(&f, "languages[]");
        for (const char *p = langs; p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
            if (lang_tag_classify(p, strcspn(p, ",")) != LANG_TAG_ENGLISH)
                __builtin_trap();
    }
    for (size_t i = 0; i < f.n; i++) {
        free(f.names[i]);
        free(f.values[i]);
    }
}

static void fuzz_bearer(const char *s)
{
    const char *secret = NULL;
    size_t len = 0;
    hark_err err = {0};
    if (tokens_parse_bearer(s, &secret, &len, &err) == 0) {
        if (!secret || len == 0 || secret < s || secret + len > s + strlen(s))
            __builtin_trap();
        for (size_t i = 0; i < len; i++)
            if (secret[i] <= ' ' || secret[i] >= 0x7f)
                __builtin_trap();
    } else if (!err.msg[0]) {
        __builtin_trap();
    }
}

static void fuzz_text(const char *s, size_t n)
{
    char out[64], name[UPLOAD_NAME_MAX];
    size_t k = text_clean(s, n, '?', out, sizeof out);
    if (k >= sizeof out || out[k] != '\0' || !text_is_clean(out, k))
        __builtin_trap();
    text_upload_name(s, name, sizeof name);
    if (strchr(name, '/') || strchr(name, '\\') || !name[0] || strcmp(name, ".") == 0 ||
        strcmp(name, "..") == 0 || !text_is_clean(name, strlen(name)))
        __builtin_trap();
}

/* "HOST\nORIGIN": judged by an empty policy and by one with a configured
 * host and origin. */
static void fuzz_origin(char *s)
{
    static origin_policy none, some;
    static bool ready;
    if (!ready) {
        const char *hosts[] = {"hark.example"}, *origins[] = {"https://app.example:8443"};
        hark_err err = {0};
        if (origin_policy_init(&none, NULL, 0, NULL, 0, &err) ||
            origin_policy_init(&some, hosts, 1, origins, 1, &err))
            __builtin_trap();
        ready = true;
    }
    char *nl = strchr(s, '\n');
    const char *host = s, *origin = nl ? nl + 1 : NULL;
    if (nl)
        *nl = '\0';
    bool a = origin_host_allowed(&none, host), b = origin_host_allowed(&some, host);
    if (a && !b) /* adding a name never takes one away */
        __builtin_trap();
    if (origin_check(&none, NULL, host) != ORIGIN_ABSENT)
        __builtin_trap();
    enum origin_verdict v = origin_check(&none, origin, host);
    if (v == ORIGIN_ALLOWED || (origin && v == ORIGIN_ABSENT))
        __builtin_trap();
    if (origin_check(&none, origin, NULL) == ORIGIN_SAME)
        __builtin_trap();
    (void)origin_check(&some, origin, host);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 64 * 1024)
        return 0;
    size_t n = size - 1;
    char *s = malloc(n + 1);
    if (!s)
        return 0;
    memcpy(s, data + 1, n);
    s[n] = '\0';
    switch (data[0] % 5) {
    case 0:
        fuzz_json(s, n);
        break;
    case 1:
        fuzz_openai(s);
        break;
    case 2:
        fuzz_bearer(s);
        break;
    case 4:
        fuzz_origin(s);
        break;
    default:
        fuzz_text(s, strlen(s));
        break;
    }
    free(s);
    return 0;
}
