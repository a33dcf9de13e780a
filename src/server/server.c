/* server.c - the HTTP API daemon (server.h): libmicrohttpd setup, the life
 * of a request (route, take in the body under a cap, dispatch), shutdown.
 *
 * Connections cost little while idle. libmicrohttpd runs a small pool of
 * event-loop threads (epoll, HTTP_THREADS of them) that share every
 * connection; nothing on them blocks for longer than a store transaction
 * or a disk write. A request that has to wait (an OpenAI transcription for
 * its job, an event stream between events) is suspended and parked
 * (park.h) instead of holding a thread. Slow clients are bounded three
 * ways: a connection limit per address (libmicrohttpd's), a total deadline
 * for a request's headers and a minimum rate for its body (conn_guard.h),
 * and libmicrohttpd's idle timeout for one that stops reading.
 *
 * The access handler is called once with the headers, then with each piece
 * of the body, then once more with none: that last call sends the
 * response. An error found early (a bad token, an unknown route) is kept
 * and sent only after the body was read and dropped, up to the upload
 * limit: a response sent while the client still writes makes the server
 * close under it, and clients (Node's, notably) then report a connection
 * error instead of the status.
 */
#include "server/server.h"

#include "server/artifacts_http.h"
#include "server/listen_addr.h"
#include "server/live.h"
#include "server/openai.h"
#include "server/server_impl.h"
#include "server/static_assets.h"
#include "server/submit.h"
#include "server/text.h"
#include "auth/stream_tickets.h"
#include "jobs/artifacts.h"
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
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_MAX_UPLOAD (INT64_C(2) << 30)
#define DEFAULT_MAX_CONNECTIONS 4096
#define DEFAULT_MAX_PER_ADDRESS 256 /* Node's fetch holds two per concurrent client */
#define DEFAULT_HEADER_TIMEOUT_S 15.0
#define DEFAULT_BODY_MIN_RATE 1024   /* bytes per second, on average after the grace */
#define DEFAULT_MAX_BODY (64 * 1024) /* a JSON submit body */
#define CONNECTION_TIMEOUT_S 60u     /* idle connections; streams send keepalives well within */
#define OTHER_BODY_MAX (64 * 1024)   /* a body nobody reads (GET, control) */
#define MULTIPART_SLACK (64 * 1024)  /* multipart framing and the text fields around the file */
#define HTTP_THREADS 4               /* libmicrohttpd's event loops */
#define FD_RESERVE 64                /* descriptors kept for the store, uploads, workers */
#define STOP_GRACE_MS 2000           /* answers in flight at stop get this long to go out */

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
    R_OA_MODEL,      /* GET /v1/models/{id} */
    R_OA_TRANSLATE,  /* POST /v1/audio/translations */
    R_READY,         /* GET /readyz */
    R_METRICS,       /* GET /metrics */
    R_ARTIFACTS,     /* GET /v1/jobs/{id}/artifacts */
    R_ARTIFACT,      /* GET /v1/jobs/{id}/artifacts/{name} */
    R_LIVE,          /* POST /v1/live */
    R_LIVE_AUDIO,    /* POST /v1/live/{id}/audio */
    R_LIVE_END,      /* POST /v1/live/{id}/end */
    R_STATIC,        /* GET / and /static/{name}: the dashboard */
    R_EVENTS_ALL,    /* GET /v1/events */
    R_TICKETS,       /* POST /v1/stream-tickets */
};

/* Methods and query arguments each route accepts, and what it needs before
 * its handler runs: a token (unless public) and a job id in its path (a
 * malformed one is a 404 before any handler). HEAD is served as GET
 * (libmicrohttpd drops the body). A new route is one line here, one in
 * parse_route and one in dispatch. */
static const struct route_def {
    bool get, post, del;
    const char *allow;
    const char *args[8]; /* accepted query arguments, NULL-terminated */
    bool public;         /* answered without a token: probes, the dashboard's files */
    bool has_id;         /* a job id in the path (r->id) */
    bool ticket;         /* an event stream: ?ticket= may stand for the token */
} routes[] = {
    [R_NONE] = {0},
    [R_HEALTH] = {.get = true, .allow = "GET, HEAD", .public = true},
    [R_JOBS] = {.get = true,
                .post = true,
                .allow = "GET, HEAD, POST",
                .args = {"state", "priority", "since", "order", "limit", "after", NULL}},
    [R_JOB] = {.get = true, .del = true, .allow = "GET, HEAD, DELETE", .has_id = true},
    [R_CANCEL] = {.post = true, .allow = "POST", .has_id = true},
    [R_PAUSE] = {.post = true, .allow = "POST", .has_id = true},
    [R_RESUME] = {.post = true, .allow = "POST", .has_id = true},
    [R_RETRY] = {.post = true, .allow = "POST", .has_id = true},
    [R_RESULT] = {.get = true, .allow = "GET, HEAD", .args = {"format", NULL}, .has_id = true},
    [R_EVENTS] = {.get = true,
                  .allow = "GET, HEAD",
                  .args = {"after", "ticket", NULL},
                  .has_id = true,
                  .ticket = true},
    [R_EVENTS_ALL] = {.get = true,
                      .allow = "GET, HEAD",
                      .args = {"since", "ticket", NULL},
                      .ticket = true},
    [R_TICKETS] = {.post = true, .allow = "POST"},
    [R_OA_TRANSCRIBE] = {.post = true, .allow = "POST"},
    [R_OA_MODELS] = {.get = true, .allow = "GET, HEAD"},
    [R_OA_MODEL] = {.get = true, .allow = "GET, HEAD"},
    [R_OA_TRANSLATE] = {.post = true, .allow = "POST"},
    [R_READY] = {.get = true, .allow = "GET, HEAD", .public = true},
    [R_METRICS] = {.get = true, .allow = "GET, HEAD"},
    [R_ARTIFACTS] = {.get = true, .allow = "GET, HEAD", .has_id = true},
    [R_ARTIFACT] = {.get = true, .allow = "GET, HEAD", .has_id = true},
    [R_LIVE] = {.post = true, .allow = "POST"},
    [R_LIVE_AUDIO] = {.post = true, .allow = "POST", .has_id = true},
    [R_LIVE_END] = {.post = true, .allow = "POST", .args = {"format", NULL}, .has_id = true},
    [R_STATIC] = {.get = true, .allow = "GET, HEAD", .public = true},
};

/* The OpenAI form a route takes, NULL for hark's own. */
static const openai_form *route_openai_form(enum route r)
{
    return r == R_OA_TRANSCRIBE  ? &openai_transcription_form
           : r == R_OA_TRANSLATE ? &openai_translation_form
                                 : NULL;
}

enum body_kind { BODY_DROP, BODY_JSON, BODY_FORM, BODY_LIVE };

typedef struct request {
    enum route route;
    bool post, del;
    char id[STORE_ID_SIZE]; /* valid when id_ok */
    bool id_ok;
    const static_asset *asset;        /* R_STATIC's file, NULL for none */
    char artifact[ARTIFACT_NAME_MAX]; /* R_ARTIFACT's name, valid when artifact_ok */
    bool artifact_ok;
    char id_shown[48]; /* the id segment as sent, cleaned, for a 404 message */
    char bad_arg[64];  /* an unknown query argument, cleaned: the error's param */
    bool failed;       /* error holds the response, sent once the body is in */
    api_error error;
    enum body_kind body;
    buf json;
    upload *up;
    live_append *live; /* BODY_LIVE: the live job's input being appended to */
    uint64_t body_bytes, body_cap;
    bool responded;
    uint64_t drain_cap; /* a refused body is read and dropped up to this */
    bool has_body;
    guard_conn *gc;
    const char *origin; /* the Origin header, while the request lives */
    enum origin_verdict cors;
    request_cont cont; /* set by a handler that parked (server_impl.h) */
    caller who;
    char token_name[SERVE_TOKEN_NAME_MAX + 1];
    char request_id[48];
    char method[8];
    bool preflight; /* OPTIONS: answered by reply_options */
    bool answering; /* counted in server.answering */
    char path[96];  /* cleaned, for the log line */
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
    if (strcmp(url, "/") == 0 ||
        strncmp(url, STATIC_ASSET_PREFIX, strlen(STATIC_ASSET_PREFIX)) == 0) {
        r->asset = static_asset_find(url); /* NULL: a 404 from the handler */
        return R_STATIC;
    }
    if (strcmp(url, "/healthz") == 0)
        return R_HEALTH;
    if (strcmp(url, "/readyz") == 0)
        return R_READY;
    if (strcmp(url, "/metrics") == 0)
        return R_METRICS;
    if (strcmp(url, "/v1/audio/transcriptions") == 0)
        return R_OA_TRANSCRIBE;
    if (strcmp(url, "/v1/audio/translations") == 0)
        return R_OA_TRANSLATE;
    if (strcmp(url, "/v1/models") == 0)
        return R_OA_MODELS;
    if (strncmp(url, "/v1/models/", 11) == 0 && url[11]) {
        /* id_shown holds the model id for the handler; id_ok says it is
         * the id itself, not shortened or cleaned. */
        size_t n = strlen(url + 11);
        text_clean(url + 11, n, '?', r->id_shown, sizeof r->id_shown);
        r->id_ok = n < sizeof r->id_shown && text_is_clean(url + 11, n);
        return R_OA_MODEL;
    }
    if (strcmp(url, "/v1/events") == 0)
        return R_EVENTS_ALL;
    if (strcmp(url, "/v1/stream-tickets") == 0)
        return R_TICKETS;
    if (strcmp(url, "/v1/live") == 0)
        return R_LIVE;
    if (strncmp(url, "/v1/live/", 9) == 0) {
        const char *seg = url + 9, *slash = strchr(seg, '/');
        size_t n = slash ? (size_t)(slash - seg) : strlen(seg);
        text_clean(seg, n, '?', r->id_shown, sizeof r->id_shown);
        if ((r->id_ok = id_valid(seg, n))) {
            memcpy(r->id, seg, n);
            r->id[n] = '\0';
        }
        if (slash && strcmp(slash + 1, "audio") == 0)
            return R_LIVE_AUDIO;
        if (slash && strcmp(slash + 1, "end") == 0)
            return R_LIVE_END;
        return R_NONE;
    }
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
    if (strcmp(slash + 1, "artifacts") == 0)
        return R_ARTIFACTS;
    if (strncmp(slash + 1, "artifacts/", 10) == 0) {
        /* The name as libmicrohttpd decoded it: a "/", ".." or anything
         * but [A-Za-z0-9._-] is no artifact's (a 404 in the handler). */
        const char *name = slash + 11;
        if ((r->artifact_ok = artifact_name_ok(name)))
            snprintf(r->artifact, sizeof r->artifact, "%s", name);
        return R_ARTIFACT;
    }
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
    const openai_form *oa = route_openai_form(r->route);
    if (oa && !is_type(ct, "multipart/form-data")) {
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
        int rc = upload_begin(c, s->uploads_dir, s->max_upload_bytes, s->metrics,
                              oa ? OPENAI_FILE_FIELD : SUBMIT_FILE_FIELD,
                              oa ? oa->fields : submit_text_fields, oa ? oa->discard : NULL, &r->up,
                              &err);
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

/* POST /v1/live: an optional JSON body under the JSON cap. */
static void setup_live_json_body(server *s, struct MHD_Connection *c, request *r, int64_t len)
{
    const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (r->has_body && !is_type(ct, "application/json")) {
        r->failed = true;
        api_error_set(&r->error, MHD_HTTP_BAD_REQUEST, NULL, "unsupported_content_type",
                      "the body must be application/json, not '%.64s'", ct ? ct : "");
        return;
    }
    if (len > s->max_body_bytes) {
        r->failed = true;
        api_error_set(&r->error, MHD_HTTP_CONTENT_TOO_LARGE, NULL, "body_too_large",
                      "the JSON body is larger than this server's limit of %lld bytes",
                      (long long)s->max_body_bytes);
        return;
    }
    r->body = BODY_JSON;
    r->body_cap = (uint64_t)s->max_body_bytes;
    buf_init(&r->json, (size_t)s->max_body_bytes);
}

/* POST /v1/live/{id}/audio: the body goes to the job's input as it comes
 * (live.h). Form and JSON bodies are a client's mistake, said at once. */
static void setup_live_audio_body(server *s, struct MHD_Connection *c, request *r, int64_t len)
{
    const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    r->failed = true;
    if (is_type(ct, "multipart/form-data") || is_type(ct, "application/x-www-form-urlencoded") ||
        is_type(ct, "application/json")) {
        api_error_set(&r->error, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, NULL, "unsupported_content_type",
                      "send the audio itself as the body (application/octet-stream), not '%.64s'",
                      ct);
        return;
    }
    if (len >= 0 && len > s->max_upload_bytes) {
        api_error_set(&r->error, MHD_HTTP_CONTENT_TOO_LARGE, NULL, "audio_too_large",
                      "the body is larger than this server's limit of %lld bytes",
                      (long long)s->max_upload_bytes);
        return;
    }
    if (live_append_begin(s, &r->who, r->id, &r->live, &r->error))
        return;
    r->body = BODY_LIVE;
    r->body_cap = (uint64_t)s->max_upload_bytes;
    r->failed = false;
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

/* The caller r->who is the token t (or a stream ticket's copy of it). */
static bool authenticated(request *r, const token_entry *t)
{
    snprintf(r->token_name, sizeof r->token_name, "%s", t->name);
    r->who.max_priority = t->max_priority;
    r->who.admin = t->admin;
    return true;
}

static bool authenticate_ticket(server *s, request *r, const char *ticket)
{
    token_entry t;
    if (!stream_ticket_redeem(s->tickets, ticket, clock_now_ns() / 1000000, &t)) {
        api_error_set(&r->error, MHD_HTTP_UNAUTHORIZED, "ticket", "invalid_ticket",
                      "the stream ticket is not valid (a ticket opens one stream, within %d s "
                      "of POST /v1/stream-tickets)",
                      STREAM_TICKET_TTL_S);
        return false;
    }
    return authenticated(r, &t);
}

/* With tokens configured, every route but the probes wants a known bearer
 * token; the caller's priority ceiling and whose jobs it sees come from it.
 * Without tokens every caller sees every job. False with r->error set
 * (401) otherwise. */
static bool authenticate(server *s, struct MHD_Connection *c, request *r)
{
    r->who.max_priority = STORE_PRIO_REALTIME;
    r->who.token_name = r->token_name;
    r->who.request_id = r->request_id;
    r->who.admin = !s->tokens || s->tokens->n == 0;
    if (!s->tokens || s->tokens->n == 0 || routes[r->route].public)
        return true;
    const char *hdr =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    const char *secret = NULL;
    size_t len = 0;
    hark_err err = {0};
    /* An EventSource cannot send the header: the event streams take a
     * stream ticket in the URL instead (stream_tickets.h). No other route
     * does, so a ticket that leaks opens one stream, once, for a minute. */
    const char *ticket = routes[r->route].ticket
                             ? MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "ticket")
                             : NULL;
    if (!hdr && ticket)
        return authenticate_ticket(s, r, ticket);
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
    return authenticated(r, t);
}

/* Answer a CORS preflight (OPTIONS with Access-Control-Request-Method)
 * from an allowed origin, or a plain OPTIONS: 204 with what the route
 * takes. */
static enum MHD_Result reply_options(server *s, struct MHD_Connection *c, const request *r)
{
    (void)s;
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    const char *allow = routes[r->route].allow;
    char methods[64];
    snprintf(methods, sizeof methods, "%s, OPTIONS", allow);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, methods);
    if (r->origin && (r->cors == ORIGIN_ALLOWED || r->cors == ORIGIN_SAME)) {
        MHD_add_response_header(resp, "Access-Control-Allow-Methods", methods);
        /* Any header the page wants to send: the OpenAI SDKs add several
         * of their own (x-stainless-...), and none of them changes what a
         * request may do here; authentication is the bearer token. */
        const char *want =
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Access-Control-Request-Headers");
        char clean[1024];
        if (want) {
            text_clean(want, strlen(want), '?', clean, sizeof clean);
            if (strspn(clean,
                       "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_, ") ==
                strlen(clean))
                MHD_add_response_header(resp, "Access-Control-Allow-Headers", clean);
        }
        MHD_add_response_header(resp, "Access-Control-Max-Age", "600");
    }
    enum MHD_Result ret = reply_queue(c, MHD_HTTP_NO_CONTENT, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* The headers every answer to an allowed (or same-origin) page carries:
 * reply_queue calls this for each response the request queues. */
static void add_cors_headers(void *ctx, struct MHD_Response *resp)
{
    const request *r = ctx;
    if (!r->origin)
        return;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, "Origin");
    if (r->cors != ORIGIN_ALLOWED && r->cors != ORIGIN_SAME)
        return;
    MHD_add_response_header(resp, "Access-Control-Allow-Origin", r->origin);
    MHD_add_response_header(resp, "Access-Control-Expose-Headers",
                            "X-Hark-Job, X-Request-Id, Retry-After, Location, Content-Range, "
                            "Accept-Ranges, ETag, Content-Disposition");
}

/* A request whose body will be read: by its headers, or by a body that
 * already arrived with them. */
static bool request_has_body(struct MHD_Connection *c, int64_t len)
{
    if (len > 0)
        return true;
    return len < 0 && MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                  MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL;
}

/* The first call: route the request and decide what happens to its body.
 * Errors are kept and sent after the body is in (an early answer makes
 * libmicrohttpd close the connection under a client still sending), except
 * when the declared body is over what is drained, or the client waits for
 * a 100 Continue before it sends the body at all. Returns false to answer
 * now (r->error). */
static bool begin(server *s, struct MHD_Connection *c, const char *url, const char *method,
                  request *r)
{
    bool get =
        strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
    bool options = strcmp(method, MHD_HTTP_METHOD_OPTIONS) == 0;
    r->post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;
    r->del = strcmp(method, MHD_HTTP_METHOD_DELETE) == 0;
    r->route = parse_route(url, r);
    r->body = BODY_DROP;
    r->body_cap = OTHER_BODY_MAX;
    /* Twice the upload limit: a too-large upload is drained too, so its
     * client sees the 413 (a larger one is answered at once and cut). */
    r->drain_cap = 2 * (uint64_t)s->max_upload_bytes + MULTIPART_SLACK;
    const struct route_def *d = &routes[r->route];
    struct arg_check ac = {.allowed = r->post && r->route != R_LIVE_END ? no_args : d->args,
                           .bad = r->bad_arg,
                           .badlen = sizeof r->bad_arg};
    const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
    r->origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ORIGIN);
    r->cors = origin_check(&s->hosts, r->origin, host);

    r->failed = true;
    if (!origin_host_allowed(&s->hosts, host)) {
        char shown[96];
        text_clean(host, strlen(host), '?', shown, sizeof shown);
        api_error_set(&r->error, MHD_HTTP_MISDIRECTED_REQUEST, NULL, "host_not_allowed",
                      "this server does not answer to host '%s' (allowed_host in the config "
                      "adds names)",
                      shown);
    } else if (r->cors == ORIGIN_REFUSED && (options || origin_method_unsafe(method))) {
        char shown[96];
        text_clean(r->origin, strlen(r->origin), '?', shown, sizeof shown);
        api_error_set(&r->error, MHD_HTTP_FORBIDDEN, NULL, "origin_not_allowed",
                      "requests from pages on '%s' are not allowed (cors_origin in the config "
                      "allows an origin)",
                      shown);
    } else if (r->route == R_NONE) {
        char shown[128];
        text_clean(url, strlen(url), '?', shown, sizeof shown);
        api_error_set(&r->error, MHD_HTTP_NOT_FOUND, NULL, "unknown_route", "no route %.16s %s",
                      method, shown);
    } else if (options) {
        r->preflight = true; /* answered without a token: it carries none */
        r->failed = false;
    } else if (!(get && d->get) && !(r->post && d->post) && !(r->del && d->del)) {
        api_error_set(&r->error, MHD_HTTP_METHOD_NOT_ALLOWED, NULL, "method_not_allowed",
                      "method %.16s is not allowed here (%s)", method, d->allow);
        r->error.allow = d->allow;
    } else if (!authenticate(s, c, r)) {
        /* r->error says why */
    } else if (d->has_id && !r->id_ok) {
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
    r->has_body = request_has_body(c, len);
    if (!r->failed && (r->route == R_JOBS || route_openai_form(r->route)) && r->post)
        setup_submit_body(s, c, r, len);
    if (!r->failed && r->route == R_LIVE)
        setup_live_json_body(s, c, r, len);
    if (!r->failed && r->route == R_LIVE_AUDIO)
        setup_live_audio_body(s, c, r, len);
    if (!r->failed)
        return true;
    /* A refused request: answer now if its body will not be read anyway. */
    const char *expect = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);
    if (expect && strcasecmp(expect, "100-continue") == 0)
        return false; /* the client sends nothing until it hears from us */
    return !(len > 0 && (uint64_t)len > r->drain_cap);
}

/* Take n body bytes. false: the body went past what is ever read (only
 * possible without a Content-Length, or with a wrong one): drop the
 * connection. A body over its route's cap but under the drain cap is read
 * and dropped, and answered 413 once it is in. */
static bool take_body(server *s, request *r, const char *data, size_t n)
{
    r->body_bytes += n;
    conn_guard_body(s->guard, r->gc, n);
    if (r->body_bytes > r->drain_cap) {
        upload_free(r->up); /* the partial file goes now */
        r->up = NULL;
        return false;
    }
    if (r->failed)
        return true;
    if (r->body_bytes > r->body_cap) {
        r->failed = true;
        upload_free(r->up);
        r->up = NULL;
        live_append_free(r->live); /* what it wrote is taken back before the 413 */
        r->live = NULL;
        if (r->body == BODY_FORM)
            api_error_set(&r->error, MHD_HTTP_CONTENT_TOO_LARGE, SUBMIT_FILE_FIELD,
                          "file_too_large",
                          "the file is larger than this server's limit of %lld bytes",
                          (long long)s->max_upload_bytes);
        else if (r->body == BODY_LIVE)
            api_error_set(&r->error, MHD_HTTP_CONTENT_TOO_LARGE, NULL, "audio_too_large",
                          "the body is larger than this server's limit of %lld bytes",
                          (long long)s->max_upload_bytes);
        else if (r->body == BODY_JSON)
            api_error_set(&r->error, MHD_HTTP_CONTENT_TOO_LARGE, NULL, "body_too_large",
                          "the JSON body is larger than this server's limit of %lld bytes",
                          (long long)s->max_body_bytes);
        else
            api_error_set(&r->error, MHD_HTTP_CONTENT_TOO_LARGE, NULL, "body_too_large",
                          "this request takes no body (at most %d bytes are ignored)",
                          OTHER_BODY_MAX);
        return true;
    }
    if (r->body == BODY_JSON && buf_append(&r->json, data, n)) {
        r->failed = true;
        api_error_set(&r->error, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, NULL, "out of memory");
    } else if (r->body == BODY_FORM && r->up) {
        upload_feed(r->up, data, n);
    } else if (r->body == BODY_LIVE && r->live &&
               live_append_feed(s, r->live, data, n, &r->error)) {
        r->failed = true;
        live_append_free(r->live);
        r->live = NULL;
    }
    return true;
}

static enum MHD_Result dispatch(server *s, struct MHD_Connection *c, request *r)
{
    if (r->failed)
        return reply_error(c, &r->error);
    if (r->preflight)
        return reply_options(s, c, r);
    switch (r->route) {
    case R_HEALTH:
        return handle_health(s, c);
    case R_JOBS:
        return r->post ? handle_submit(s, c, &r->who, r->body == BODY_JSON ? &r->json : NULL, r->up)
                       : handle_list(s, c, &r->who);
    case R_READY:
        return handle_ready(s, c);
    case R_METRICS:
        return handle_metrics(s, c, &r->who);
    case R_JOB:
        return r->del ? handle_delete(s, c, &r->who, r->id) : handle_get(s, c, &r->who, r->id);
    case R_OA_TRANSCRIBE:
        return handle_openai_transcription(s, c, &r->who, r->up, &r->cont);
    case R_OA_TRANSLATE:
        return handle_openai_translation(s, c, &r->who, r->up, &r->cont);
    case R_OA_MODELS:
        return handle_openai_models(s, c);
    case R_OA_MODEL:
        return handle_openai_model(s, c, r->id_shown, r->id_ok);
    case R_CANCEL:
        return handle_control(s, c, &r->who, r->id, CONTROL_CANCEL);
    case R_PAUSE:
        return handle_control(s, c, &r->who, r->id, CONTROL_PAUSE);
    case R_RESUME:
        return handle_control(s, c, &r->who, r->id, CONTROL_RESUME);
    case R_RETRY:
        return handle_retry(s, c, &r->who, r->id);
    case R_RESULT:
        return handle_result(s, c, &r->who, r->id);
    case R_EVENTS:
        return handle_events(s, c, &r->who, r->id);
    case R_ARTIFACTS:
        return handle_artifacts(s, c, &r->who, r->id);
    case R_ARTIFACT:
        return handle_artifact(s, c, &r->who, r->id, r->artifact_ok ? r->artifact : NULL);
    case R_LIVE:
        return handle_live_create(s, c, &r->who, &r->json);
    case R_LIVE_AUDIO:
        return handle_live_audio(s, c, r->live);
    case R_LIVE_END:
        return handle_live_end(s, c, &r->who, r->id, &r->cont);
    case R_STATIC:
        return handle_static(s, c, r->asset, r->path);
    case R_EVENTS_ALL:
        return handle_events_all(s, c, &r->who);
    case R_TICKETS:
        return handle_stream_ticket(s, c, &r->who);
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
        r->gc = conn_guard_of(c);
        snprintf(r->method, sizeof r->method, "%s", method);
        text_clean(url, strlen(url), '?', r->path, sizeof r->path);
        set_request_id(s, c, r);
        bool go_on = begin(s, c, url, method, r);
        conn_guard_headers_done(s->guard, r->gc, go_on && r->has_body);
        if (go_on)
            return MHD_YES;
        r->responded = true;
        r->answering = true;
        atomic_fetch_add(&s->answering, 1);
        reply_decorate_begin(add_cors_headers, r);
        enum MHD_Result ret = reply_error(c, &r->error);
        reply_decorate_end();
        return ret;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (r->responded)
            return MHD_YES;
        return take_body(s, r, upload_data, n) ? MHD_YES : MHD_NO;
    }
    enum MHD_Result ret = MHD_YES;
    reply_decorate_begin(add_cors_headers, r);
    if (r->cont.fn) {
        /* Resumed after a park: the handler that parked goes on. */
        ret = r->cont.fn(s, c, r->cont.ctx);
    } else if (!r->responded) {
        r->responded = true;
        r->answering = true;
        atomic_fetch_add(&s->answering, 1);
        conn_guard_body_done(s->guard, r->gc);
        ret = dispatch(s, c, r);
    }
    reply_decorate_end();
    return ret;
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
    if (r->cont.free_ctx)
        r->cont.free_ctx(r->cont.ctx);
    upload_free(r->up);
    live_append_free(r->live);
    buf_release(&r->json);
    conn_guard_request_done(s->guard, r->gc);
    if (r->answering)
        atomic_fetch_sub(&s->answering, 1);
    free(r);
    *con_cls = NULL;
}

int server_connection_fd(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    return ci ? ci->connect_fd : -1;
}

bool server_stopping(server *s)
{
    return atomic_load(&s->stopping) || notify_closed(s->changes);
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
    if (o->max_connections < 0 || o->max_connections > 1000000)
        return err_set(err, HARK_EINVAL, "server: bad connection limit %d", o->max_connections);
    if (o->max_connections_per_address < -1)
        return err_set(err, HARK_EINVAL, "server: bad connection limit per address %d",
                       o->max_connections_per_address);
    if (!isfinite(o->header_timeout_s) || o->header_timeout_s < 0 || o->header_timeout_s > 3600)
        return err_set(err, HARK_EINVAL, "server: bad header timeout %g", o->header_timeout_s);
    if (o->body_min_rate < -1)
        return err_set(err, HARK_EINVAL, "server: bad minimum body rate %lld",
                       (long long)o->body_min_rate);
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

/* Connections are file descriptors: raise the soft limit to the hard one
 * and keep the connection limit under it, with room for everything else
 * the daemon opens. */
static unsigned connection_limit(int wanted)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return (unsigned)wanted;
    if (rl.rlim_cur < rl.rlim_max) {
        rlim_t cur = rl.rlim_cur;
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            rl.rlim_cur = cur;
    }
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (rlim_t)wanted + FD_RESERVE)
        return (unsigned)wanted;
    unsigned room = rl.rlim_cur > 2 * FD_RESERVE ? (unsigned)(rl.rlim_cur - FD_RESERVE) : 16;
    log_warn("at most %u connections: the descriptor limit is %llu (ulimit -n)", room,
             (unsigned long long)rl.rlim_cur);
    return room;
}

static void server_free(server *s)
{
    if (!s)
        return;
    park_free(s->park);
    conn_guard_free(s->guard);
    stream_tickets_free(s->tickets);
    origin_policy_release(&s->hosts);
    free(s->uploads_dir);
    free(s->artifact_root);
    free(s);
}

/* New connections are refused once the server is stopping (server_stop). */
static enum MHD_Result accept_policy(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
    (void)addr;
    (void)addrlen;
    server *srv = cls;
    return atomic_load(&srv->stopping) ? MHD_NO : MHD_YES;
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
    s->live_idle_timeout_s = o->live_idle_timeout_s > 0 ? o->live_idle_timeout_s : 30.0;
    s->max_connections = o->max_connections ? o->max_connections : DEFAULT_MAX_CONNECTIONS;
    s->max_per_address = o->max_connections_per_address == 0  ? DEFAULT_MAX_PER_ADDRESS
                         : o->max_connections_per_address < 0 ? 0
                                                              : o->max_connections_per_address;
    s->max_body_bytes = o->max_body_bytes ? o->max_body_bytes : DEFAULT_MAX_BODY;
    s->tokens = o->tokens;
    s->roots = o->roots;
    memcpy(s->queue_limit, o->queue_limit, sizeof s->queue_limit);
    s->metrics = o->metrics;
    s->ready = o->ready;
    s->ready_ctx = o->ready_ctx;
    s->boot_id = (unsigned)(clock_now_ns() ^ (int64_t)getpid() << 16);
    atomic_init(&s->next_request, 1);
    atomic_init(&s->answering, 0);
    s->webhooks = o->webhooks;
    s->dest = o->dest;
    atomic_init(&s->stopping, false);
    atomic_init(&s->keepalive_ms, SERVER_KEEPALIVE_MS);
    int64_t header_ms =
        (int64_t)((o->header_timeout_s > 0 ? o->header_timeout_s : DEFAULT_HEADER_TIMEOUT_S) *
                  1000);
    /* A body gets as long to get going as the headers had, then must keep
     * up the minimum rate on average. */
    conn_guard_opts go = {
        .header_timeout_ms = header_ms,
        .body_grace_ms = header_ms,
        .body_min_rate = o->body_min_rate == 0  ? DEFAULT_BODY_MIN_RATE
                         : o->body_min_rate < 0 ? 0
                                                : o->body_min_rate,
    };
    if ((rc = origin_policy_init(&s->hosts, o->allowed_hosts, o->n_allowed_hosts, o->cors_origins,
                                 o->n_cors_origins, err)) ||
        (rc = make_uploads_dir(s, o->state_dir, err)) ||
        (o->artifact_root && !(s->artifact_root = strdup(o->artifact_root)) &&
         (rc = err_set(err, HARK_ENOMEM, "out of memory"))) ||
        (rc = park_new(s->changes, &s->park, err)) || (rc = conn_guard_new(&go, &s->guard, err)) ||
        (rc = stream_tickets_new(&s->tickets, err))) {
        server_free(s);
        return rc;
    }
    if (s->metrics && (rc = hark_metrics_on_collect(s->metrics, server_collect_metrics, s))) {
        server_free(s);
        return err_set(err, HARK_ENOMEM, "cannot register the metrics hook");
    }
    int fd;
    bool ipv6;
    if ((rc = listen_open(o->listen, o->tokens && o->tokens->n > 0, &fd, &s->port, &ipv6, err))) {
        server_free(s);
        return rc;
    }
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG |
                     (ipv6 ? MHD_USE_IPv6 : 0);
    /* The logger goes first, or libmicrohttpd prints to stderr until it is set. */
    s->daemon = MHD_start_daemon(
        flags, 0, accept_policy, s, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
        MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_THREAD_POOL_SIZE, (unsigned)HTTP_THREADS,
        MHD_OPTION_CONNECTION_LIMIT, connection_limit(s->max_connections),
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)s->max_per_address,
        MHD_OPTION_CONNECTION_TIMEOUT, CONNECTION_TIMEOUT_S, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, s, MHD_OPTION_NOTIFY_CONNECTION, conn_guard_notify, s->guard, MHD_OPTION_END);
    if (!s->daemon) {
        close(fd);
        server_free(s);
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
    /* Flag first, then wake: a waiting request reads the counter before it
     * checks the flag, so it either sees the flag or is woken. */
    atomic_store(&s->stopping, true);
    notify_signal(s->changes);
    /* No new connections from here: accept_policy refuses them. Not
     * MHD_quiesce_daemon: with epoll event-loop threads it races them to
     * take the listening socket out of their epoll sets, and the loser
     * aborts the process ("Failed to remove listen FD from epoll set";
     * libmicrohttpd 0.9.75, seen in CI). MHD_stop_daemon closes the socket. */
    /* Every parked request resumes and answers (503, or the end of its
     * stream); let those answers, and any other in flight, go out before
     * the connections are closed under them. A request still sending its
     * body is not waited for. */
    park_close(s->park);
    int64_t until = clock_now_ns() + (int64_t)STOP_GRACE_MS * 1000000;
    while (atomic_load(&s->answering) > 0 && clock_now_ns() < until)
        nanosleep(&(struct timespec){.tv_nsec = 10 * 1000000L}, NULL);
    MHD_stop_daemon(s->daemon); /* closes the connections, joins its threads */
    server_free(s);
}
