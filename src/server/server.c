/* server.c - the HTTP API daemon (server.h): libmicrohttpd setup, the life
 * of a request (route, take in the body under a cap, dispatch), shutdown.
 *
 * libmicrohttpd runs one thread per connection (MHD_USE_THREAD_PER_CONNECTION)
 * under a connection limit and an idle timeout: a slow or trickling client
 * and a long event stream tie up only their own thread. The access handler
 * is called once with the headers, then with each piece of the body, then
 * once more with none: that last call sends the response.
 */
#include "server/server.h"

#include "server/listen_addr.h"
#include "server/openai.h"
#include "server/server_impl.h"
#include "server/submit.h"
#include "server/text.h"
#include "util/clock.h"
#include "util/fs.h"
#include "util/log.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_MAX_UPLOAD (INT64_C(2) << 30)
#define DEFAULT_MAX_CONNECTIONS 256
#define DEFAULT_MAX_BODY (64 * 1024) /* a JSON submit body */
#define CONNECTION_TIMEOUT_S 60u     /* idle connections; streams send keepalives well within */
#define OTHER_BODY_MAX (64 * 1024)   /* a body nobody reads (GET, control): dropped under a cap */
#define MULTIPART_SLACK (64 * 1024)  /* multipart framing and the text fields around the file */

enum route {
    R_NONE,
    R_HEALTH,
    R_JOBS,
    R_JOB,
    R_CANCEL,
    R_PAUSE,
    R_RESUME,
    R_RETRY,
    R_RESULT,
    R_EVENTS,
    R_OA_TRANSCRIBE, /* POST /v1/audio/transcriptions */
    R_OA_MODELS,     /* GET /v1/models */
    R_READY,         /* GET /readyz */
    R_METRICS,       /* GET /metrics */
};

/* Methods and query arguments each route accepts. HEAD is served as GET
 * (libmicrohttpd drops the body). */
static const struct route_def {
    bool get, post;
    const char *allow;
    const char *args[8]; /* accepted query arguments, NULL-terminated */
    bool del;
} routes[] = {
    [R_NONE] = {false, false, NULL, {NULL}, false},
    [R_HEALTH] = {true, false, "GET, HEAD", {NULL}, false},
    [R_JOBS] = {true,
                true,
                "GET, HEAD, POST",
                {"state", "priority", "since", "order", "limit", "after", NULL},
                false},
    [R_JOB] = {true, false, "GET, HEAD, DELETE", {NULL}, true},
    [R_CANCEL] = {false, true, "POST", {NULL}, false},
    [R_PAUSE] = {false, true, "POST", {NULL}, false},
    [R_RESUME] = {false, true, "POST", {NULL}, false},
    [R_RETRY] = {false, true, "POST", {NULL}, false},
    [R_RESULT] = {true, false, "GET, HEAD", {"format", NULL}, false},
    [R_EVENTS] = {true, false, "GET, HEAD", {"after", NULL}, false},
    [R_OA_TRANSCRIBE] = {false, true, "POST", {NULL}, false},
    [R_OA_MODELS] = {true, false, "GET, HEAD", {NULL}, false},
    [R_READY] = {true, false, "GET, HEAD", {NULL}, false},
    [R_METRICS] = {true, false, "GET, HEAD", {NULL}, false},
};

/* Routes anyone may call, tokens or not: probes for orchestrators. */
static bool route_is_public(enum route r)
{
    return r == R_HEALTH || r == R_READY;
}

/* Routes without a job id in their path. */
static bool route_has_id(enum route r)
{
    return r != R_HEALTH && r != R_READY && r != R_METRICS && r != R_JOBS && r != R_OA_TRANSCRIBE &&
           r != R_OA_MODELS;
}

enum body_kind { BODY_DROP, BODY_JSON, BODY_FORM };

typedef struct request {
    enum route route;
    bool post, del;
    char id[STORE_ID_SIZE]; /* valid when id_ok */
    bool id_ok;
    char id_shown[48]; /* the id segment as sent, cleaned, for a 404 message */
    char bad_arg[64];  /* an unknown query argument, cleaned: the error's param */
    bool failed;       /* error holds the response, sent once the body is in */
    api_error error;
    enum body_kind body;
    buf json;
    upload *up;
    uint64_t body_bytes, body_cap;
    bool responded;
    caller who;
    char token_name[SERVE_TOKEN_NAME_MAX + 1];
    char request_id[48];
    char method[8];
    char path[96]; /* cleaned, for the log line */
    int64_t start_ns;
} request;

void server_wake(server *s)
{
    if (s->wake)
        s->wake(s->wake_ctx);
}

static bool id_valid(const char *s, size_t n)
{
    if (n != STORE_ID_SIZE - 1 || s[0] != 'j')
        return false;
    for (size_t i = 1; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

static enum route parse_route(const char *url, request *r)
{
    if (strcmp(url, "/healthz") == 0)
        return R_HEALTH;
    if (strcmp(url, "/readyz") == 0)
        return R_READY;
    if (strcmp(url, "/metrics") == 0)
        return R_METRICS;
    if (strcmp(url, "/v1/audio/transcriptions") == 0)
        return R_OA_TRANSCRIBE;
    if (strcmp(url, "/v1/models") == 0)
        return R_OA_MODELS;
    if (strncmp(url, "/v1/jobs", 8) != 0)
        return R_NONE;
    const char *rest = url + 8;
    if (!*rest)
        return R_JOBS;
    if (*rest != '/')
        return R_NONE;
    const char *seg = rest + 1, *slash = strchr(seg, '/');
    size_t n = slash ? (size_t)(slash - seg) : strlen(seg);
    text_clean(seg, n, '?', r->id_shown, sizeof r->id_shown);
    if ((r->id_ok = id_valid(seg, n))) {
        memcpy(r->id, seg, n);
        r->id[n] = '\0';
    }
    if (!slash)
        return R_JOB;
    static const struct {
        const char *name;
        enum route route;
    } actions[] = {{"cancel", R_CANCEL}, {"pause", R_PAUSE},   {"resume", R_RESUME},
                   {"retry", R_RETRY},   {"result", R_RESULT}, {"events", R_EVENTS}};
    for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++)
        if (strcmp(slash + 1, actions[i].name) == 0)
            return actions[i].route;
    return R_NONE;
}

struct arg_check {
    const char *const *allowed;
    bool found;
    char *bad; /* the first unknown argument, cleaned */
    size_t badlen;
};

static const char *const no_args[] = {NULL};

static enum MHD_Result check_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *value)
{
    struct arg_check *ac = cls;
    (void)kind;
    (void)value;
    for (const char *const *a = ac->allowed; *a; a++)
        if (strcmp(*a, key) == 0)
            return MHD_YES;
    ac->found = true;
    text_clean(key, strlen(key), '?', ac->bad, ac->badlen);
    return MHD_NO;
}

static bool is_type(const char *ct, const char *type)
{
    size_t n = strlen(type);
    return ct && strncasecmp(ct, type, n) == 0 && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/* -1 when the request gave no (or an unreadable) Content-Length. */
static int64_t content_length(struct MHD_Connection *c)
{
    int64_t v;
    const char *s = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    return s && parse_int64(s, 0, INT64_MAX, &v) == 0 ? v : -1;
}

/* Decide how the body of POST /v1/jobs is taken in: a JSON buffer or an
 * upload, each under its cap. A request refused here keeps the small cap of
 * a body nobody reads. */
static void setup_submit_body(server *s, struct MHD_Connection *c, request *r, int64_t len)
{
    const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    r->failed = true;
    if (r->route == R_OA_TRANSCRIBE && !is_type(ct, "multipart/form-data")) {
        api_error_set(&r->error, MHD_HTTP_BAD_REQUEST, NULL, "unsupported_content_type",
                      "the body must be multipart/form-data, not '%.64s'", ct ? ct : "");
        return;
    }
    if (is_type(ct, "application/json")) {
        if (len > s->max_body_bytes) {
            api_error_set(&r->error, MHD_HTTP_CONTENT_TOO_LARGE, NULL, "body_too_large",
                          "the JSON body is larger than this server's limit of %lld bytes",
                          (long long)s->max_body_bytes);
            return;
        }
        r->body = BODY_JSON;
        r->body_cap = (uint64_t)s->max_body_bytes;
        buf_init(&r->json, (size_t)s->max_body_bytes);
        r->failed = false;
        return;
    }
    if (is_type(ct, "multipart/form-data")) {
        uint64_t cap = (uint64_t)s->max_upload_bytes + MULTIPART_SLACK;
        if (len >= 0 && (uint64_t)len > cap) {
            api_error_set(&r->error, MHD_HTTP_CONTENT_TOO_LARGE, SUBMIT_FILE_FIELD,
                          "file_too_large",
                          "the file is larger than this server's limit of %lld bytes",
                          (long long)s->max_upload_bytes);
            return;
        }
        hark_err err = {0};
        bool oa = r->route == R_OA_TRANSCRIBE;
        int rc = upload_begin(c, s->uploads_dir, s->max_upload_bytes,
                              oa ? OPENAI_FILE_FIELD : SUBMIT_FILE_FIELD,
                              oa ? openai_text_fields : submit_text_fields, &r->up, &err);
        if (rc) {
            api_error_set(&r->error,
                          rc == HARK_EINVAL ? MHD_HTTP_BAD_REQUEST : MHD_HTTP_INTERNAL_SERVER_ERROR,
                          NULL, rc == HARK_EINVAL ? "invalid_multipart" : NULL, "%s", err.msg);
            return;
        }
        r->body = BODY_FORM;
        r->body_cap = cap;
        r->failed = false;
        return;
    }
    api_error_set(&r->error, MHD_HTTP_BAD_REQUEST, NULL, "unsupported_content_type",
                  "the body must be multipart/form-data (an upload) or application/json "
                  "(a path), not '%.64s'",
                  ct ? ct : "");
}

/* A request's id for the logs: the client's X-Request-Id when it is a
 * plain token (so a caller can follow its own ids through hark's logs),
 * else "r" + a process-unique number. Handlers read it back from the
 * X-Request-Id request header, which is set here. */
static void set_request_id(server *s, struct MHD_Connection *c, request *r)
{
    const char *given = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Request-Id");
    size_t n = given ? strlen(given) : 0;
    if (n > 0 && n < sizeof r->request_id &&
        strspn(given, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n) {
        memcpy(r->request_id, given, n + 1);
        return;
    }
    snprintf(r->request_id, sizeof r->request_id, "r%08x%06llx", s->boot_id,
             (unsigned long long)atomic_fetch_add(&s->next_request, 1) & 0xffffffULL);
    MHD_set_connection_value(c, MHD_HEADER_KIND, "X-Request-Id", r->request_id);
}

/* With tokens configured, every route but the probes wants a known bearer
 * token; the caller's priority ceiling comes from it. False with r->error
 * set (401) otherwise. */
static bool authenticate(server *s, struct MHD_Connection *c, request *r)
{
    r->who.max_priority = STORE_PRIO_REALTIME;
    r->who.token_name = r->token_name;
    r->who.request_id = r->request_id;
    if (!s->tokens || s->tokens->n == 0 || route_is_public(r->route))
        return true;
    const char *hdr =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    const char *secret = NULL;
    size_t len = 0;
    hark_err err = {0};
    if (!hdr) {
        api_error_set(&r->error, MHD_HTTP_UNAUTHORIZED, NULL, "missing_api_key",
                      "this server wants an API token: send 'Authorization: Bearer <token>'");
        return false;
    }
    const token_entry *t = NULL;
    if (tokens_parse_bearer(hdr, &secret, &len, &err) == 0)
        t = tokens_lookup(s->tokens, secret, len);
    if (!t) {
        api_error_set(&r->error, MHD_HTTP_UNAUTHORIZED, NULL, "invalid_api_key",
                      "the API token is not valid");
        return false;
    }
    snprintf(r->token_name, sizeof r->token_name, "%s", t->name);
    r->who.max_priority = t->max_priority;
    return true;
}

/* The first call: route the request and decide what happens to its body.
 * Errors are kept and sent after the body is in (an early answer makes
 * libmicrohttpd close the connection under a client still sending), except
 * when the declared body is over its cap. Returns false to answer now
 * (r->error). */
static bool begin(server *s, struct MHD_Connection *c, const char *url, const char *method,
                  request *r)
{
    bool get =
        strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
    r->post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;
    r->del = strcmp(method, MHD_HTTP_METHOD_DELETE) == 0;
    r->route = parse_route(url, r);
    r->body = BODY_DROP;
    r->body_cap = OTHER_BODY_MAX;
    const struct route_def *d = &routes[r->route];
    struct arg_check ac = {
        .allowed = r->post ? no_args : d->args, .bad = r->bad_arg, .badlen = sizeof r->bad_arg};

    r->failed = true;
    if (r->route == R_NONE) {
        char shown[128];
        text_clean(url, strlen(url), '?', shown, sizeof shown);
        api_error_set(&r->error, MHD_HTTP_NOT_FOUND, NULL, "unknown_route", "no route %.16s %s",
                      method, shown);
    } else if (!(get && d->get) && !(r->post && d->post) && !(r->del && d->del)) {
        api_error_set(&r->error, MHD_HTTP_METHOD_NOT_ALLOWED, NULL, "method_not_allowed",
                      "method %.16s is not allowed here (%s)", method, d->allow);
        r->error.allow = d->allow;
    } else if (!authenticate(s, c, r)) {
        /* r->error says why */
    } else if (route_has_id(r->route) && !r->id_ok) {
        api_error_set(&r->error, MHD_HTTP_NOT_FOUND, "id", "job_not_found", "job '%s' not found",
                      r->id_shown);
    } else if (MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, check_arg, &ac) < 0 ||
               ac.found) {
        api_error_set(&r->error, MHD_HTTP_BAD_REQUEST, r->bad_arg[0] ? r->bad_arg : NULL,
                      "unknown_parameter", "unknown query parameter '%s'", r->bad_arg);
    } else {
        r->failed = false;
    }
    int64_t len = content_length(c);
    if (!r->failed && (r->route == R_JOBS || r->route == R_OA_TRANSCRIBE) && r->post)
        setup_submit_body(s, c, r, len);
    /* A refused request whose declared body is over its cap: answer now. */
    return !(r->failed && len > (int64_t)r->body_cap);
}

/* Take n body bytes. false: the body went past its cap (only possible
 * without a Content-Length): drop the connection, as no answer can be
 * queued in the middle of a body. */
static bool take_body(request *r, const char *data, size_t n)
{
    r->body_bytes += n;
    if (r->body_bytes > r->body_cap) {
        upload_free(r->up); /* the partial file goes now */
        r->up = NULL;
        return false;
    }
    if (r->failed)
        return true;
    if (r->body == BODY_JSON && buf_append(&r->json, data, n)) {
        r->failed = true;
        api_error_set(&r->error, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, NULL, "out of memory");
    } else if (r->body == BODY_FORM && r->up) {
        upload_feed(r->up, data, n);
    }
    return true;
}

static enum MHD_Result dispatch(server *s, struct MHD_Connection *c, request *r)
{
    if (r->failed)
        return reply_error(c, &r->error);
    switch (r->route) {
    case R_HEALTH:
        return handle_health(s, c);
    case R_JOBS:
        return r->post ? handle_submit(s, c, &r->who, r->body == BODY_JSON ? &r->json : NULL, r->up)
                       : handle_list(s, c);
    case R_READY:
        return handle_ready(s, c);
    case R_METRICS:
        return handle_metrics(s, c);
    case R_JOB:
        return r->del ? handle_delete(s, c, r->id) : handle_get(s, c, r->id);
    case R_OA_TRANSCRIBE:
        return handle_openai_transcription(s, c, &r->who, r->up);
    case R_OA_MODELS:
        return handle_openai_models(s, c);
    case R_CANCEL:
        return handle_control(s, c, r->id, CONTROL_CANCEL);
    case R_PAUSE:
        return handle_control(s, c, r->id, CONTROL_PAUSE);
    case R_RESUME:
        return handle_control(s, c, r->id, CONTROL_RESUME);
    case R_RETRY:
        return handle_retry(s, c, &r->who, r->id);
    case R_RESULT:
        return handle_result(s, c, r->id);
    case R_EVENTS:
        return handle_events(s, c, r->id);
    case R_NONE:
        break;
    }
    return reply_errorf(c, MHD_HTTP_NOT_FOUND, NULL, "unknown_route", "no such route");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    server *s = cls;
    request *r = *con_cls;
    (void)version;
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r)
            return MHD_NO;
        buf_init(&r->json, 0);
        *con_cls = r;
        r->start_ns = clock_now_ns();
        snprintf(r->method, sizeof r->method, "%s", method);
        text_clean(url, strlen(url), '?', r->path, sizeof r->path);
        set_request_id(s, c, r);
        if (begin(s, c, url, method, r))
            return MHD_YES;
        r->responded = true;
        return reply_error(c, &r->error);
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (r->responded)
            return MHD_YES;
        return take_body(r, upload_data, n) ? MHD_YES : MHD_NO;
    }
    if (r->responded)
        return MHD_YES;
    r->responded = true;
    return dispatch(s, c, r);
}

/* The request is over (answered, or the client went away): free it; an
 * upload that did not become a job is removed here. */
static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    request *r = *con_cls;
    server *s = cls;
    if (!r)
        return;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_HTTP_STATUS);
    unsigned status = ci && toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? ci->http_status : 0;
    if (s->metrics)
        hark_metrics_http_request(s->metrics, (int)status);
    char code[8], ms[32];
    snprintf(code, sizeof code, "%u", status);
    snprintf(ms, sizeof ms, "%.1f", (double)(clock_now_ns() - r->start_ns) / 1e6);
    /* status 0: the client went away or the connection broke mid-answer. */
    log_event(status >= 500 ? LOG_WARN : LOG_INFO, "http.request", {"request", r->request_id},
              {"method", r->method}, {"path", r->path}, {"status", code}, {"ms", ms},
              {"token", r->token_name});
    upload_free(r->up);
    buf_release(&r->json);
    free(r);
    *con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    server *s = cls;
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    line[strcspn(line, "\r\n")] = '\0';
    /* Connections cut by server_stop are expected, not worth a warning. */
    log_msg(atomic_load(&s->stopping) ? LOG_DEBUG : LOG_WARN, "http: %s", line);
}

static int make_uploads_dir(server *s, const char *state_dir, hark_err *err)
{
    size_t len = strlen(state_dir) + sizeof "/uploads";
    s->uploads_dir = malloc(len);
    if (!s->uploads_dir)
        return err_set(err, HARK_ENOMEM, "out of memory");
    snprintf(s->uploads_dir, len, "%s/uploads", state_dir);
    int rc = fs_mkdir_p(s->uploads_dir, 0700, err);
    if (rc)
        return rc;
    /* Jobs keep the stored path as their input: make it absolute, so it
     * means the same to every process whatever its working directory. */
    char *abs = realpath(s->uploads_dir, NULL);
    if (!abs)
        return err_set(err, HARK_EIO, "cannot resolve '%s': %s", s->uploads_dir, strerror(errno));
    free(s->uploads_dir);
    s->uploads_dir = abs;
    /* An existing directory keeps its mode through mkdir -p: uploads are
     * private, so tighten it (and refuse anything but our own directory). */
    struct stat sb;
    if (lstat(s->uploads_dir, &sb) != 0 || !S_ISDIR(sb.st_mode) || sb.st_uid != geteuid())
        return err_set(err, HARK_EINVAL, "'%s' is not a directory of this user", s->uploads_dir);
    if ((sb.st_mode & 07777) != 0700 && chmod(s->uploads_dir, 0700) != 0)
        return err_set(err, HARK_EIO, "cannot make '%s' private: %s", s->uploads_dir,
                       strerror(errno));
    return 0;
}

static int check_opts(const server_opts *o, hark_err *err)
{
    if (!o || !o->st || !o->changes || !o->state_dir || !o->state_dir[0] || !o->listen)
        return err_set(err, HARK_EINVAL, "server: listen, state_dir, st and changes are required");
    if (o->max_upload_bytes < 0 || o->max_upload_bytes > (INT64_C(1) << 50))
        return err_set(err, HARK_EINVAL, "server: bad upload limit %lld",
                       (long long)o->max_upload_bytes);
    if (o->max_connections < 0 || o->max_connections > 65536)
        return err_set(err, HARK_EINVAL, "server: bad connection limit %d", o->max_connections);
    if (o->max_body_bytes < 0 || o->max_body_bytes > (16 << 20))
        return err_set(err, HARK_EINVAL, "server: bad body limit %lld (at most 16 MiB)",
                       (long long)o->max_body_bytes);
    for (int i = 0; i < 4; i++)
        if (o->queue_limit[i] < 0)
            return err_set(err, HARK_EINVAL, "server: bad queue limit %d", o->queue_limit[i]);
    if (!isfinite(o->default_timeout_s) || o->default_timeout_s < 0)
        return err_set(err, HARK_EINVAL, "server: bad default timeout %g", o->default_timeout_s);
    return 0;
}

int server_start(const server_opts *o, server **out, hark_err *err)
{
    *out = NULL;
    int rc = check_opts(o, err);
    if (rc)
        return rc;
    server *s = calloc(1, sizeof *s);
    if (!s)
        return err_set(err, HARK_ENOMEM, "out of memory");
    s->st = o->st;
    s->changes = o->changes;
    s->wake = o->wake;
    s->wake_ctx = o->wake_ctx;
    s->max_upload_bytes = o->max_upload_bytes ? o->max_upload_bytes : DEFAULT_MAX_UPLOAD;
    s->default_timeout_s = o->default_timeout_s;
    s->max_connections = o->max_connections ? o->max_connections : DEFAULT_MAX_CONNECTIONS;
    s->max_body_bytes = o->max_body_bytes ? o->max_body_bytes : DEFAULT_MAX_BODY;
    s->tokens = o->tokens;
    s->roots = o->roots;
    memcpy(s->queue_limit, o->queue_limit, sizeof s->queue_limit);
    s->metrics = o->metrics;
    s->ready = o->ready;
    s->ready_ctx = o->ready_ctx;
    s->boot_id = (unsigned)(clock_now_ns() ^ (int64_t)getpid() << 16);
    atomic_init(&s->next_request, 1);
    s->webhooks = o->webhooks;
    atomic_init(&s->stopping, false);
    atomic_init(&s->keepalive_ms, SERVER_KEEPALIVE_MS);
    if ((rc = make_uploads_dir(s, o->state_dir, err))) {
        free(s->uploads_dir);
        free(s);
        return rc;
    }
    if (s->metrics && (rc = hark_metrics_on_collect(s->metrics, server_collect_metrics, s))) {
        free(s->uploads_dir);
        free(s);
        return err_set(err, HARK_ENOMEM, "cannot register the metrics hook");
    }
    int fd;
    bool ipv6;
    if ((rc = listen_open(o->listen, o->tokens && o->tokens->n > 0, &fd, &s->port, &ipv6, err))) {
        free(s->uploads_dir);
        free(s);
        return rc;
    }
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL_INTERNAL_THREAD |
                     MHD_USE_ERROR_LOG | (ipv6 ? MHD_USE_IPv6 : 0);
    /* The logger goes first, or libmicrohttpd prints to stderr until it is set. */
    s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER,
                                 mhd_log, s, MHD_OPTION_LISTEN_SOCKET, fd,
                                 MHD_OPTION_CONNECTION_LIMIT, (unsigned)s->max_connections,
                                 MHD_OPTION_CONNECTION_TIMEOUT, CONNECTION_TIMEOUT_S,
                                 MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_END);
    if (!s->daemon) {
        close(fd);
        free(s->uploads_dir);
        free(s);
        return err_set(err, HARK_EIO, "cannot start the HTTP server on '%.100s'", o->listen);
    }
    *out = s;
    return 0;
}

int server_port(const server *s)
{
    return s ? s->port : 0;
}

void server_set_keepalive_ms(server *s, int ms)
{
    atomic_store(&s->keepalive_ms, ms > 0 ? ms : SERVER_KEEPALIVE_MS);
}

void server_stop(server *s)
{
    if (!s)
        return;
    /* Flag first, then signal: a stream reads the counter before it checks
     * the flag, so it either sees the flag or wakes from the signal. */
    atomic_store(&s->stopping, true);
    notify_signal(s->changes);
    MHD_stop_daemon(s->daemon); /* closes the connections, joins their threads */
    free(s->uploads_dir);
    free(s);
}
