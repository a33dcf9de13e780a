/* server_test.c - the HTTP API (docs/api.md) end to end: the real server on
 * 127.0.0.1 (port 0) over a real store, driven with libcurl; job progress
 * is simulated by calling the store's own functions (claim, commit, succeed)
 * the way the runtime does (a live job's session too: its chunks committed
 * under its lease, its /end parked until the job ends).
 *
 * Nothing here sleeps to pass: waits are on conditions (a stream received
 * a given line, a thread finished) with a deadline that only bounds a
 * failure. */
#include "auth/path_root.h"
#include "auth/serve_config.h"
#include "auth/tokens.h"
#include "server/server.h"
#include "server/live.h"        /* LIVE_SYNC_BYTES */
#include "server/server_impl.h" /* the park, to see a request wait */

#include "jobs/job_result.h"
#include "metrics/hark_metrics.h"
#include "output/format.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/notify.h"
#include "util/test.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#define LONG_LEASE 600000
#define MAX_EVENTS 64

/* ---- fixture: one server per test (each test is its own process) ------- */

static struct {
    notify changes;
    store *st;
    server *srv;
    int port;
    atomic_int wakes;
    path_roots roots;      /* the test's directory: server-side paths are read from it */
    int queue_limit[4];    /* set before start(): the server's class limits (0: none) */
    token_table tokens;    /* set before start(): API tokens (none: no authentication) */
    hark_metrics *metrics; /* created by start() unless set before */
} F;

static void count_wake(void *ctx)
{
    atomic_fetch_add((atomic_int *)ctx, 1);
}

static void start_with(int64_t max_upload)
{
    ASSERT_EQ(curl_global_init(CURL_GLOBAL_DEFAULT), CURLE_OK);
    ASSERT_EQ(notify_init(&F.changes), 0);
    store_options so = {.on_commit = notify_signal, .commit_ctx = &F.changes};
    hark_err err = {0};
    if (store_open("hark.db", &so, &F.st, &err))
        TEST_FAIL_("store_open: %s", err.msg);
    char cwd[512];
    ASSERT(getcwd(cwd, sizeof cwd) != NULL);
    char *roots[] = {cwd};
    if (path_roots_init(&F.roots, roots, 1, &err))
        TEST_FAIL_("path_roots_init: %s", err.msg);
    if (!F.metrics && !(F.metrics = hark_metrics_new(&err)))
        TEST_FAIL_("hark_metrics_new: %s", err.msg);
    server_opts o = {.listen = "127.0.0.1:0",
                     .state_dir = "state",
                     .st = F.st,
                     .changes = &F.changes,
                     .wake = count_wake,
                     .wake_ctx = &F.wakes,
                     .max_upload_bytes = max_upload,
                     .roots = &F.roots,
                     .tokens = &F.tokens,
                     .metrics = F.metrics};
    memcpy(o.queue_limit, F.queue_limit, sizeof o.queue_limit);
    if (server_start(&o, &F.srv, &err))
        TEST_FAIL_("server_start: %s", err.msg);
    F.port = server_port(F.srv);
    ASSERT(F.port > 0);
}

static void start(void)
{
    start_with(0);
}

/* A server that wants these tokens. */
static void start_tokens(const serve_token *t, size_t n)
{
    hark_err err = {0};
    if (tokens_init(&F.tokens, t, n, &err))
        TEST_FAIL_("tokens_init: %s", err.msg);
    if (!(F.metrics = hark_metrics_new(&err)))
        TEST_FAIL_("hark_metrics_new: %s", err.msg);
    start_with(0);
}

static void stop(void)
{
    server_stop(F.srv);
    tokens_release(&F.tokens);
    hark_metrics_free(F.metrics);
    F.metrics = NULL;
    path_roots_release(&F.roots);
    F.srv = NULL;
    store_close(F.st);
    notify_destroy(&F.changes);
    curl_global_cleanup();
}

/* ---- HTTP client ---------------------------------------------------------- */

typedef struct resp {
    long status;
    buf body;
    char location[256];
    char content_type[128];
    char allow[64];
} resp;

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    ASSERT_EQ(buf_append(ud, p, size * n), 0);
    return size * n;
}

static void header_value(const char *line, size_t len, const char *name, char *out, size_t outlen)
{
    size_t nl = strlen(name);
    if (len <= nl || strncasecmp(line, name, nl) != 0)
        return;
    const char *v = line + nl;
    size_t vl = len - nl;
    while (vl && (*v == ' '))
        v++, vl--;
    while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n'))
        vl--;
    snprintf(out, outlen, "%.*s", (int)vl, v);
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    resp *r = ud;
    header_value(p, size * n, "Location:", r->location, sizeof r->location);
    header_value(p, size * n, "Content-Type:", r->content_type, sizeof r->content_type);
    header_value(p, size * n, "Allow:", r->allow, sizeof r->allow);
    return size * n;
}

static void url_of(const char *path, char *url, size_t len)
{
    snprintf(url, len, "http://127.0.0.1:%d%s", F.port, path);
}

static CURL *new_handle(const char *method, const char *path, resp *r)
{
    char url[512];
    url_of(path, url, sizeof url);
    memset(r, 0, sizeof *r);
    buf_init(&r->body, 64u << 20);
    CURL *h = curl_easy_init();
    ASSERT(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 20L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &r->body);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
    if (strcmp(method, "GET") != 0)
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    return h;
}

static void perform(CURL *h, resp *r, struct curl_slist *hdrs)
{
    if (hdrs)
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    CURLcode rc = curl_easy_perform(h);
    if (rc != CURLE_OK)
        TEST_FAIL_("curl: %s", curl_easy_strerror(rc));
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_cleanup(h);
    curl_slist_free_all(hdrs);
}

/* A request with an optional body of the given content type and an
 * optional extra header line. */
static resp http(const char *method, const char *path, const char *ctype, const char *body,
                 size_t body_len, const char *header)
{
    resp r;
    CURL *h = new_handle(method, path, &r);
    struct curl_slist *hdrs = NULL;
    char line[256];
    if (ctype) {
        snprintf(line, sizeof line, "Content-Type: %s", ctype);
        hdrs = curl_slist_append(hdrs, line);
    }
    if (header)
        hdrs = curl_slist_append(hdrs, header);
    if (body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    } else if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
    }
    perform(h, &r, hdrs);
    return r;
}

static resp get(const char *path)
{
    return http("GET", path, NULL, NULL, 0, NULL);
}

static resp post_json(const char *path, const char *json)
{
    return http("POST", path, "application/json", json, strlen(json), NULL);
}

/* A multipart form. file (n bytes, sent as filename) may be NULL; the
 * text fields come as name, value pairs ending with NULL. chunked: send it
 * without a Content-Length. Returns curl's result (the status is in *r). */
static CURLcode vpost_form(resp *r, bool chunked, const char *filename, const char *file, size_t n,
                           va_list ap)
{
    CURL *h = new_handle("POST", "/v1/jobs", r);
    curl_mime *m = curl_mime_init(h);
    if (file) {
        curl_mimepart *p = curl_mime_addpart(m);
        curl_mime_name(p, "file");
        curl_mime_data(p, file, n);
        curl_mime_filename(p, filename);
    }
    const char *name;
    while ((name = va_arg(ap, const char *))) {
        const char *value = va_arg(ap, const char *);
        curl_mimepart *p = curl_mime_addpart(m);
        curl_mime_name(p, name);
        curl_mime_data(p, value, CURL_ZERO_TERMINATED);
    }
    curl_easy_setopt(h, CURLOPT_MIMEPOST, m);
    struct curl_slist *hdrs =
        chunked ? curl_slist_append(NULL, "Transfer-Encoding: chunked") : NULL;
    if (hdrs)
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    CURLcode rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_cleanup(h);
    curl_slist_free_all(hdrs);
    curl_mime_free(m);
    return rc;
}

static resp post_form(const char *filename, const char *file, size_t n, ...)
{
    resp r;
    va_list ap;
    va_start(ap, n);
    CURLcode rc = vpost_form(&r, false, filename, file, n, ap);
    va_end(ap);
    if (rc != CURLE_OK)
        TEST_FAIL_("curl: %s", curl_easy_strerror(rc));
    return r;
}

static CURLcode post_form_chunked(resp *r, const char *filename, const char *file, size_t n, ...)
{
    va_list ap;
    va_start(ap, n);
    CURLcode rc = vpost_form(r, true, filename, file, n, ap);
    va_end(ap);
    return rc;
}

static json_t *body_json(const resp *r)
{
    json_error_t e;
    json_t *j = json_loadb(r->body.data ? r->body.data : "", r->body.len, 0, &e);
    if (!j)
        TEST_FAIL_("response is not JSON (%s): %.300s", e.text, r->body.data);
    return j;
}

static const char *jstr(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* The response is an error with this status, type, param (NULL: null) and
 * code; returns its message (valid until r is released). */
static void assert_error(resp *r, long status, const char *type, const char *param,
                         const char *code, const char *in_message)
{
    if (r->status != status)
        TEST_FAIL_("status %ld, expected %ld: %.300s", r->status, status, r->body.data);
    ASSERT_STREQ(r->content_type, "application/json");
    json_t *j = body_json(r);
    json_t *e = json_object_get(j, "error");
    ASSERT(json_is_object(e));
    ASSERT_STREQ(jstr(e, "type"), type);
    if (param)
        ASSERT_STREQ(jstr(e, "param"), param);
    else
        ASSERT(json_is_null(json_object_get(e, "param")));
    if (code)
        ASSERT_STREQ(jstr(e, "code"), code);
    ASSERT(jstr(e, "message") && jstr(e, "message")[0]);
    if (in_message && !strstr(jstr(e, "message"), in_message))
        TEST_FAIL_("message '%s' does not name '%s'", jstr(e, "message"), in_message);
    json_decref(j);
}

static void release(resp *r)
{
    buf_release(&r->body);
}

/* ---- store side: what the runtime would do -------------------------------- */

static void submit_direct(int prio, char id[STORE_ID_SIZE])
{
    store_job_spec spec = {.kind = "transcribe", .input = "/nonexistent/in.wav", .priority = prio};
    hark_err err = {0};
    if (store_submit(F.st, &spec, id, &err))
        TEST_FAIL_("store_submit: %s", err.msg);
}

static store_task claim(int kind, const char *id)
{
    store_task t;
    hark_err err = {0};
    if (store_claim(F.st, "test-worker", LONG_LEASE, &t, &err))
        TEST_FAIL_("store_claim: %s", err.msg);
    ASSERT_EQ(t.kind, kind);
    ASSERT_STREQ(t.job_id, id);
    return t;
}

static void drive_prepare(const char *id, int n)
{
    store_span plan[4];
    ASSERT(n <= 4);
    for (int i = 0; i < n; i++) {
        plan[i].start_sample = (int64_t)i * 10 * STORE_SAMPLE_RATE;
        plan[i].end_sample = (int64_t)(i + 1) * 10 * STORE_SAMPLE_RATE;
    }
    store_task t = claim(STORE_TASK_PREPARE, id);
    hark_err err = {0};
    if (store_commit_prepare(F.st, t.token, 10.0 * n, plan, (size_t)n, NULL, NULL, &err))
        TEST_FAIL_("store_commit_prepare: %s", err.msg);
}

static const char *const chunk_words[] = {"[[\"hello\",0.5,0.9,0.95]]",
                                          "[[\"world\",10.5,10.9,0.9]]"};

static void drive_chunk(const char *id, int idx)
{
    store_task t = claim(STORE_TASK_CHUNK, id);
    ASSERT_EQ(t.idx, idx);
    hark_err err = {0};
    if (store_commit_chunk(F.st, t.token, chunk_words[idx], 0.1, NULL, &err))
        TEST_FAIL_("store_commit_chunk: %s", err.msg);
}

static void drive_to_success(const char *id)
{
    drive_prepare(id, 2);
    drive_chunk(id, 0);
    drive_chunk(id, 1);
    hark_err err = {0};
    if (store_succeed(F.st, STORE_SCOPE_ALL, id, &err))
        TEST_FAIL_("store_succeed: %s", err.msg);
}

static size_t count_jobs(void)
{
    store_job_list l;
    hark_err err = {0};
    ASSERT_EQ(store_list_jobs(F.st, STORE_SCOPE_ALL, NULL, &l, &err), 0);
    size_t n = l.n;
    store_job_list_release(&l);
    return n;
}

static int count_uploads(void)
{
    DIR *d = opendir("state/uploads");
    ASSERT(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

static void write_file(const char *path, const char *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    ASSERT(f);
    ASSERT_EQ(fwrite(data, 1, n, f), n);
    ASSERT_EQ(fclose(f), 0);
}

static char *pattern(size_t n)
{
    char *p = malloc(n);
    ASSERT(p);
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        p[i] = (char)(x & 0xff);
    }
    return p;
}

static void abs_path(const char *name, char *out, size_t len)
{
    char cwd[512];
    ASSERT(getcwd(cwd, sizeof cwd));
    snprintf(out, len, "%s/%s", cwd, name);
}

/* ---- event streams ---------------------------------------------------------- */

typedef struct sse_client {
    char path[256];
    char header[64]; /* e.g. "Last-Event-ID: 3"; "" for none */
    pthread_mutex_t mu;
    pthread_cond_t cond;
    buf raw;
    bool done;
    CURLcode rc;
    long status;
    pthread_t th;
} sse_client;

static size_t sse_on_body(char *p, size_t size, size_t n, void *ud)
{
    sse_client *c = ud;
    pthread_mutex_lock(&c->mu);
    int rc = buf_append(&c->raw, p, size * n);
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->mu);
    return rc ? 0 : size * n;
}

static void *sse_run(void *arg)
{
    sse_client *c = arg;
    char url[512];
    url_of(c->path, url, sizeof url);
    CURL *h = curl_easy_init();
    struct curl_slist *hdrs = c->header[0] ? curl_slist_append(NULL, c->header) : NULL;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 20L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sse_on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
    if (hdrs)
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    CURLcode rc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(h);
    curl_slist_free_all(hdrs);
    pthread_mutex_lock(&c->mu);
    c->rc = rc;
    c->status = status;
    c->done = true;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

static void sse_start(sse_client *c, const char *path, const char *header)
{
    memset(c, 0, sizeof *c);
    snprintf(c->path, sizeof c->path, "%s", path);
    snprintf(c->header, sizeof c->header, "%s", header ? header : "");
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cond, NULL);
    buf_init(&c->raw, 1u << 20);
    ASSERT_EQ(pthread_create(&c->th, NULL, sse_run, c), 0);
}

/* Wait until the stream has received text (or, with text NULL, has ended).
 * The deadline only bounds a failure. */
static bool sse_wait(sse_client *c, const char *text, double seconds)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += (time_t)seconds;
    pthread_mutex_lock(&c->mu);
    bool ok;
    for (;;) {
        ok = text ? (c->raw.data && strstr(c->raw.data, text)) : c->done;
        if (ok || (text && c->done))
            break;
        if (pthread_cond_timedwait(&c->cond, &c->mu, &until) == ETIMEDOUT) {
            ok = text ? (c->raw.data && strstr(c->raw.data, text)) : c->done;
            break;
        }
    }
    pthread_mutex_unlock(&c->mu);
    return ok;
}

static void sse_finish(sse_client *c)
{
    ASSERT(sse_wait(c, NULL, 20));
    pthread_join(c->th, NULL);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cond);
}

typedef struct event {
    long long id;
    char type[32];
    json_t *data;
} event;

/* Split an event stream into its events; keepalive comments are counted. */
static size_t parse_events(const char *raw, event *ev, size_t max, int *keepalives)
{
    size_t n = 0;
    *keepalives = 0;
    const char *p = raw ? raw : "";
    while (*p) {
        const char *end = strstr(p, "\n\n");
        ASSERT(end); /* every frame is complete */
        if (strncmp(p, ": keepalive\n", 12) == 0) {
            (*keepalives)++;
            p = end + 2;
            continue;
        }
        ASSERT(n < max);
        event *e = &ev[n++];
        memset(e, 0, sizeof *e);
        ASSERT_EQ(sscanf(p, "id: %lld\nevent: %31s\n", &e->id, e->type), 2);
        const char *data = strstr(p, "\ndata: ");
        ASSERT(data && data < end);
        data += 7;
        json_error_t je;
        e->data = json_loadb(data, (size_t)(end - data), 0, &je);
        ASSERT(json_is_object(e->data));
        p = end + 2;
    }
    return n;
}

static void free_events(event *ev, size_t n)
{
    for (size_t i = 0; i < n; i++)
        json_decref(ev[i].data);
}

/* The streamed events are exactly the stored ones of id after `after`, in
 * order, each once, with job and time added. */
static void assert_events_match(const char *id, long long after, event *ev, size_t n)
{
    store_event_list l;
    hark_err err = {0};
    ASSERT_EQ(store_list_events(F.st, STORE_SCOPE_ALL, id, after, 0, &l, &err), 0);
    ASSERT_EQ(n, l.n);
    for (size_t i = 0; i < n; i++) {
        ASSERT_EQ(ev[i].id, l.events[i].id);
        ASSERT_STREQ(ev[i].type, l.events[i].type);
        ASSERT_STREQ(jstr(ev[i].data, "job"), id);
        ASSERT_NEAR(json_number_value(json_object_get(ev[i].data, "time")),
                    (double)l.events[i].time_ms / 1000.0, 0.0005);
        if (i)
            ASSERT(ev[i].id > ev[i - 1].id);
    }
    store_event_list_release(&l);
}

/* ---- tests -------------------------------------------------------------- */

static void test_submit_upload(void)
{
    start();
    size_t n = 100000;
    char *data = pattern(n);
    resp r = post_form("dir/my\ttalk.wav", data, n, "priority", "high", "timeout", "60", NULL);
    if (r.status != 201)
        TEST_FAIL_("status %ld: %s", r.status, r.body.data);
    ASSERT_STREQ(r.content_type, "application/json");
    json_t *j = body_json(&r);
    const char *id = jstr(j, "id");
    ASSERT(id && strlen(id) == STORE_ID_SIZE - 1);
    char loc[64];
    snprintf(loc, sizeof loc, "/v1/jobs/%s", id);
    ASSERT_STREQ(r.location, loc);
    ASSERT_STREQ(jstr(j, "object"), "job");
    ASSERT_STREQ(jstr(j, "state"), "queued");
    ASSERT_STREQ(jstr(j, "priority"), "high");
    ASSERT_STREQ(jstr(j, "source"), "my_talk.wav"); /* basename, no control characters */
    ASSERT_EQ(json_integer_value(json_object_get(j, "timeout")), 60);
    ASSERT(json_is_null(json_object_get(j, "duration")));
    ASSERT(json_is_null(json_object_get(j, "finished_at")));
    ASSERT(json_is_null(json_object_get(j, "error")));
    ASSERT_EQ(atomic_load(&F.wakes), 1);

    /* Committed before the answer; the input is the stored upload. */
    store_job job;
    hark_err err = {0};
    ASSERT_EQ(store_get_job(F.st, STORE_SCOPE_ALL, id, &job, &err), 0);
    ASSERT_EQ(job.state, STORE_QUEUED);
    ASSERT_EQ(job.input[0], '/');
    ASSERT(strstr(job.input, "/state/uploads/"));
    ASSERT_STREQ(job.input + strlen(job.input) - 4, ".wav");
    struct stat sb;
    ASSERT_EQ(stat(job.input, &sb), 0);
    ASSERT_EQ(sb.st_mode & 07777, 0600);
    ASSERT_EQ(sb.st_size, (long long)n);
    FILE *f = fopen(job.input, "rb");
    ASSERT(f);
    char *back = malloc(n + 1);
    ASSERT_EQ(fread(back, 1, n + 1, f), n);
    fclose(f);
    ASSERT(memcmp(back, data, n) == 0);
    ASSERT_EQ(stat("state/uploads", &sb), 0);
    ASSERT_EQ(sb.st_mode & 07777, 0700);
    ASSERT_EQ(count_uploads(), 1);
    free(back);
    store_job_release(&job);
    json_decref(j);
    release(&r);
    free(data);
    stop();
}

static void test_submit_path(void)
{
    start();
    char path[600], body[800];
    write_file("talk.wav", "RIFF", 4);
    abs_path("talk.wav", path, sizeof path);
    snprintf(body, sizeof body, "{\"path\": \"%s\", \"priority\": \"low\", \"timeout\": 600}",
             path);
    resp r = post_json("/v1/jobs", body);
    if (r.status != 201)
        TEST_FAIL_("status %ld: %s", r.status, r.body.data);
    json_t *j = body_json(&r);
    ASSERT_STREQ(jstr(j, "priority"), "low");
    ASSERT_STREQ(jstr(j, "state"), "queued");
    ASSERT_EQ(json_integer_value(json_object_get(j, "timeout")), 600);
    store_job job;
    hark_err err = {0};
    ASSERT_EQ(store_get_job(F.st, STORE_SCOPE_ALL, jstr(j, "id"), &job, &err), 0);
    ASSERT_STREQ(job.input, path);
    ASSERT_NEAR(job.timeout_s, 600, 1e-9);
    store_job_release(&job);
    ASSERT_EQ(atomic_load(&F.wakes), 1);
    json_decref(j);
    release(&r);

    /* The same through a multipart form, without a file. */
    r = post_form(NULL, NULL, 0, "path", path, NULL);
    ASSERT_EQ(r.status, 201);
    release(&r);
    ASSERT_EQ(count_jobs(), 2);
    ASSERT_EQ(count_uploads(), 0);
    ASSERT_EQ(atomic_load(&F.wakes), 2);
    stop();
}

static void test_submit_bad_requests(void)
{
    start();
    char path[600], body[800];
    write_file("talk.wav", "RIFF", 4);
    abs_path("talk.wav", path, sizeof path);

    /* Only inside the server's roots (here: the test's directory). */
    resp r = post_json("/v1/jobs", "{\"path\": \"/nonexistent/x.wav\"}");
    assert_error(&r, 403, "permission_error", "path", "path_not_allowed", "/nonexistent/x.wav");
    release(&r);
    r = post_json("/v1/jobs", "{\"path\": \"/etc/passwd\"}");
    assert_error(&r, 403, "permission_error", "path", "path_not_allowed", "/etc/passwd");
    release(&r);
    r = post_json("/v1/jobs", "{\"path\": \"talk.wav\"}");
    assert_error(&r, 403, "permission_error", "path", "path_not_allowed", "absolute");
    release(&r);
    char inside[700];
    snprintf(inside, sizeof inside, "{\"path\": \"%.*s/missing.wav\"}",
             (int)(strrchr(path, '/') - path), path);
    r = post_json("/v1/jobs", inside);
    assert_error(&r, 400, "invalid_request_error", "path", "invalid_path", "missing.wav");
    release(&r);
    /* No way out: "..", or a symlink inside the root pointing outside it. */
    snprintf(inside, sizeof inside, "{\"path\": \"%.*s/../../etc/passwd\"}",
             (int)(strrchr(path, '/') - path), path);
    r = post_json("/v1/jobs", inside);
    assert_error(&r, 403, "permission_error", "path", "path_not_allowed", NULL);
    release(&r);
    ASSERT_EQ(symlink("/etc/passwd", "escape.wav"), 0);
    snprintf(inside, sizeof inside, "{\"path\": \"%.*s/escape.wav\"}",
             (int)(strrchr(path, '/') - path), path);
    r = post_json("/v1/jobs", inside);
    assert_error(&r, 403, "permission_error", "path", "path_not_allowed", NULL);
    release(&r);
    ASSERT_EQ(count_jobs(), 0);
    r = post_json("/v1/jobs", "{\"path\": 5}");
    assert_error(&r, 400, "invalid_request_error", "path", NULL, NULL);
    release(&r);
    r = post_json("/v1/jobs", "{\"priority\": \"low\"}");
    assert_error(&r, 400, "invalid_request_error", "path", "missing_field", NULL);
    release(&r);

    snprintf(body, sizeof body, "{\"path\": \"%s\", \"priority\": \"urgent\"}", path);
    r = post_json("/v1/jobs", body);
    assert_error(&r, 400, "invalid_request_error", "priority", "invalid_value", "urgent");
    release(&r);
    snprintf(body, sizeof body, "{\"path\": \"%s\", \"timeout\": 0}", path);
    r = post_json("/v1/jobs", body);
    assert_error(&r, 400, "invalid_request_error", "timeout", "invalid_value", NULL);
    release(&r);
    snprintf(body, sizeof body, "{\"path\": \"%s\", \"model\": \"x\"}", path);
    r = post_json("/v1/jobs", body);
    assert_error(&r, 400, "invalid_request_error", NULL, "unknown_field", "model");
    release(&r);
    r = post_json("/v1/jobs", "{not json");
    assert_error(&r, 400, "invalid_request_error", NULL, "invalid_json", NULL);
    release(&r);
    r = post_json("/v1/jobs", "[1]");
    assert_error(&r, 400, "invalid_request_error", NULL, "invalid_json", NULL);
    release(&r);
    r = http("POST", "/v1/jobs", "text/plain", "hi", 2, NULL);
    assert_error(&r, 400, "invalid_request_error", NULL, "unsupported_content_type", NULL);
    release(&r);

    /* A JSON body over 64 KiB. */
    size_t big = 70000;
    char *huge = malloc(big);
    memset(huge, ' ', big);
    huge[0] = '{';
    huge[big - 1] = '}';
    r = http("POST", "/v1/jobs", "application/json", huge, big, NULL);
    assert_error(&r, 413, "invalid_request_error", NULL, "body_too_large", NULL);
    release(&r);
    free(huge);

    /* Multipart: unknown priority, bad timeout, unknown field, a plain
     * 'file' field, no file at all, both file and path. */
    r = post_form("a.wav", "abc", 3, "priority", "urgent", NULL);
    assert_error(&r, 400, "invalid_request_error", "priority", "invalid_value", "urgent");
    release(&r);
    r = post_form("a.wav", "abc", 3, "timeout", "soon", NULL);
    assert_error(&r, 400, "invalid_request_error", "timeout", "invalid_value", NULL);
    release(&r);
    r = post_form("a.wav", "abc", 3, "model", "whisper-1", NULL);
    assert_error(&r, 400, "invalid_request_error", NULL, "invalid_multipart", "model");
    release(&r);
    r = post_form(NULL, NULL, 0, "file", "not a file", NULL);
    assert_error(&r, 400, "invalid_request_error", NULL, "invalid_multipart", "file upload");
    release(&r);
    r = post_form(NULL, NULL, 0, "priority", "low", NULL);
    assert_error(&r, 400, "invalid_request_error", "file", "missing_field", NULL);
    release(&r);
    r = post_form("a.wav", "abc", 3, "path", path, NULL);
    assert_error(&r, 400, "invalid_request_error", "path", NULL, "not both");
    release(&r);

    /* Malformed multipart bodies. */
    const char *garbage = "this is not a multipart body\r\n";
    r = http("POST", "/v1/jobs", "multipart/form-data; boundary=XyZ", garbage, strlen(garbage),
             NULL);
    assert_error(&r, 400, "invalid_request_error", NULL, "invalid_multipart", NULL);
    release(&r);
    r = http("POST", "/v1/jobs", "multipart/form-data", garbage, strlen(garbage), NULL);
    assert_error(&r, 400, "invalid_request_error", NULL, "invalid_multipart", "boundary");
    release(&r);
    const char *truncated = "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; "
                            "filename=\"a.wav\"\r\n\r\nsome bytes but no closing boundary";
    r = http("POST", "/v1/jobs", "multipart/form-data; boundary=XyZ", truncated, strlen(truncated),
             NULL);
    assert_error(&r, 400, "invalid_request_error", NULL, "invalid_multipart", NULL);
    release(&r);

    /* Nothing was committed or left behind, and nobody was woken. */
    ASSERT_EQ(count_jobs(), 0);
    ASSERT_EQ(count_uploads(), 0);
    ASSERT_EQ(atomic_load(&F.wakes), 0);
    stop();
}

/* A full disk during an upload (injected, util/fault.h): 507 with
 * Retry-After, the partial file removed, no job; with space, it works. */
static void test_upload_on_full_disk(void)
{
    setenv("HARK_TEST_ENOSPC", ".wav", 1);
    setenv("HARK_TEST_ENOSPC_WHILE", "full", 1);
    start();
    write_file("full", "", 0);
    char *data = pattern(50000);
    resp r = post_form("a.wav", data, 50000, NULL);
    assert_error(&r, 507, "server_error", NULL, "insufficient_storage", "No space left on device");
    release(&r);
    ASSERT_EQ(count_uploads(), 0);
    ASSERT_EQ(count_jobs(), 0);
    unlink("full");
    r = post_form("a.wav", data, 50000, NULL);
    ASSERT_EQ(r.status, 201);
    release(&r);
    ASSERT_EQ(count_uploads(), 1);
    free(data);
    stop();
}

static void test_upload_too_large(void)
{
    start_with(4096);
    /* Exactly at the limit is fine. */
    char *data = pattern(200000);
    resp r = post_form("a.wav", data, 4096, NULL);
    ASSERT_EQ(r.status, 201);
    release(&r);
    ASSERT_EQ(count_uploads(), 1);
    /* Over it while streaming (the declared length alone does not tell). */
    r = post_form("a.wav", data, 4097, NULL);
    assert_error(&r, 413, "invalid_request_error", "file", "file_too_large", "4096");
    release(&r);
    r = post_form("b.wav", data, 20000, "priority", "low", NULL);
    assert_error(&r, 413, "invalid_request_error", "file", "file_too_large", NULL);
    release(&r);
    /* Far over it: refused on the declared length, before the body. */
    r = post_form("c.wav", data, 200000, NULL);
    assert_error(&r, 413, "invalid_request_error", "file", "file_too_large", NULL);
    release(&r);
    /* Without a Content-Length: refused while streaming, or, far over the
     * limit, the connection is dropped (no answer can interrupt a body). */
    ASSERT_EQ(post_form_chunked(&r, "d.wav", data, 20000, NULL), CURLE_OK);
    assert_error(&r, 413, "invalid_request_error", "file", "file_too_large", NULL);
    release(&r);
    CURLcode rc = post_form_chunked(&r, "e.wav", data, 200000, NULL);
    ASSERT(rc != CURLE_OK || r.status == 413);
    release(&r);
    ASSERT_EQ(count_uploads(), 1); /* only the accepted one */
    ASSERT_EQ(count_jobs(), 1);
    ASSERT_EQ(atomic_load(&F.wakes), 1);
    /* The server still answers on new connections. */
    r = get("/healthz");
    ASSERT_EQ(r.status, 200);
    release(&r);
    free(data);
    stop();
}

/* Follow next_after through every page of path (which ends in '?' or '&'). */
static size_t list_all(const char *query, int limit, char ids[][STORE_ID_SIZE], size_t max,
                       int *pages)
{
    long long after = 0;
    size_t n = 0;
    *pages = 0;
    for (;;) {
        char path[256];
        snprintf(path, sizeof path, "/v1/jobs?%slimit=%d&after=%lld", query, limit, after);
        resp r = get(path);
        ASSERT_EQ(r.status, 200);
        json_t *j = body_json(&r);
        ASSERT_STREQ(jstr(j, "object"), "list");
        json_t *data = json_object_get(j, "data");
        ASSERT(json_is_array(data));
        ASSERT(json_array_size(data) <= (size_t)limit);
        size_t i;
        json_t *v;
        json_array_foreach(data, i, v)
        {
            ASSERT(n < max);
            snprintf(ids[n++], STORE_ID_SIZE, "%s", jstr(v, "id"));
        }
        (*pages)++;
        json_t *next = json_object_get(j, "next_after");
        if (json_is_null(next)) {
            json_decref(j);
            release(&r);
            break;
        }
        ASSERT(json_is_integer(next));
        after = json_integer_value(next);
        json_decref(j);
        release(&r);
        ASSERT(*pages < 20);
    }
    return n;
}

static void test_get_and_list(void)
{
    start();
    char ids[5][STORE_ID_SIZE];
    const int prios[5] = {STORE_PRIO_NORMAL, STORE_PRIO_HIGH, STORE_PRIO_NORMAL, STORE_PRIO_HIGH,
                          STORE_PRIO_LOW};
    for (int i = 0; i < 5; i++)
        submit_direct(prios[i], ids[i]);
    hark_err err = {0};
    ASSERT_EQ(store_pause(F.st, STORE_SCOPE_ALL, ids[2], &err), 0);

    char path[128];
    snprintf(path, sizeof path, "/v1/jobs/%s", ids[1]);
    resp r = get(path);
    ASSERT_EQ(r.status, 200);
    json_t *j = body_json(&r);
    ASSERT_STREQ(jstr(j, "id"), ids[1]);
    ASSERT_STREQ(jstr(j, "kind"), "transcribe");
    ASSERT_STREQ(jstr(j, "priority"), "high");
    ASSERT_STREQ(jstr(j, "source"), "/nonexistent/in.wav");
    ASSERT(json_is_real(json_object_get(j, "created_at")));
    ASSERT(json_is_null(json_object_get(j, "started_at")));
    ASSERT(json_is_null(json_object_get(j, "chunks")));
    ASSERT_EQ(json_integer_value(json_object_get(j, "chunks_done")), 0);
    ASSERT_EQ(json_number_value(json_object_get(j, "progress")), 0);
    json_decref(j);
    release(&r);

    /* Pages of 2, oldest first, every job once. */
    char got[8][STORE_ID_SIZE];
    int pages;
    size_t n = list_all("", 2, got, 8, &pages);
    ASSERT_EQ(n, 5);
    ASSERT_EQ(pages, 3);
    for (int i = 0; i < 5; i++)
        ASSERT_STREQ(got[i], ids[i]);
    n = list_all("priority=high&", 1, got, 8, &pages);
    ASSERT_EQ(n, 2);
    ASSERT_STREQ(got[0], ids[1]);
    ASSERT_STREQ(got[1], ids[3]);
    n = list_all("state=paused&", 100, got, 8, &pages);
    ASSERT_EQ(n, 1);
    ASSERT_STREQ(got[0], ids[2]);
    n = list_all("state=queued&priority=normal&", 100, got, 8, &pages);
    ASSERT_EQ(n, 1);
    ASSERT_STREQ(got[0], ids[0]);
    r = get("/v1/jobs");
    ASSERT_EQ(r.status, 200);
    j = body_json(&r);
    ASSERT_EQ(json_array_size(json_object_get(j, "data")), 5);
    ASSERT(json_is_null(json_object_get(j, "next_after")));
    json_decref(j);
    release(&r);

    static const struct {
        const char *query, *param;
    } bad[] = {{"state=done", "state"}, {"priority=urgent", "priority"},
               {"limit=0", "limit"},    {"limit=1001", "limit"},
               {"limit=ten", "limit"},  {"after=-1", "after"},
               {"state=", "state"},     {"sort=asc", "sort"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(path, sizeof path, "/v1/jobs?%s", bad[i].query);
        r = get(path);
        assert_error(&r, 400, "invalid_request_error", bad[i].param, NULL, NULL);
        release(&r);
    }
    stop();
}

static void control(const char *id, const char *op, long status, const char *state)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/jobs/%s/%s", id, op);
    resp r = http("POST", path, NULL, NULL, 0, NULL);
    if (status == 200) {
        if (r.status != 200)
            TEST_FAIL_("%s: status %ld: %s", op, r.status, r.body.data);
        json_t *j = body_json(&r);
        ASSERT_STREQ(jstr(j, "state"), state);
        json_decref(j);
    } else {
        /* The store's message names the job and its state. */
        assert_error(&r, status, "conflict_error", NULL, "invalid_state", id);
        assert_error(&r, status, "conflict_error", NULL, "invalid_state", state);
    }
    release(&r);
}

static void test_control(void)
{
    start();
    char id[STORE_ID_SIZE];
    submit_direct(STORE_PRIO_NORMAL, id);
    control(id, "pause", 200, "paused");
    ASSERT_EQ(atomic_load(&F.wakes), 1);
    control(id, "pause", 409, "paused");
    control(id, "resume", 200, "queued");
    control(id, "resume", 409, "queued");
    ASSERT_EQ(atomic_load(&F.wakes), 2);
    control(id, "cancel", 200, "cancelled");
    control(id, "cancel", 409, "cancelled");
    control(id, "pause", 409, "cancelled");
    control(id, "resume", 409, "cancelled");
    ASSERT_EQ(atomic_load(&F.wakes), 3);
    store_job job;
    hark_err err = {0};
    ASSERT_EQ(store_get_job(F.st, STORE_SCOPE_ALL, id, &job, &err), 0);
    ASSERT_EQ(job.state, STORE_CANCELLED);
    store_job_release(&job);

    resp r = http("POST", "/v1/jobs/j0123456789abcdef/cancel", NULL, NULL, 0, NULL);
    assert_error(&r, 404, "not_found_error", "id", "job_not_found", "j0123456789abcdef");
    release(&r);
    ASSERT_EQ(atomic_load(&F.wakes), 3);
    stop();
}

static void test_not_found_and_methods(void)
{
    start();
    char id[STORE_ID_SIZE], path[128];
    submit_direct(STORE_PRIO_NORMAL, id);
    resp r = get("/healthz");
    ASSERT_EQ(r.status, 200);
    json_t *j = body_json(&r);
    ASSERT_STREQ(jstr(j, "status"), "ok");
    json_decref(j);
    release(&r);

    const char *const not_jobs[] = {"/v1/jobs/j0123456789abcdef",        /* well-formed */
                                    "/v1/jobs/jzzzz",                    /* not an id */
                                    "/v1/jobs/J0123456789ABCDEF",        /* not lowercase */
                                    "/v1/jobs/j0123456789abcdef0",       /* too long */
                                    "/v1/jobs/j0123456789abcdeg/result", /* not hex */
                                    "/v1/jobs/x/events"};
    for (size_t i = 0; i < sizeof not_jobs / sizeof not_jobs[0]; i++) {
        r = get(not_jobs[i]);
        assert_error(&r, 404, "not_found_error", "id", "job_not_found", NULL);
        release(&r);
    }
    /* "/" is the dashboard (static_http.c); "/static" alone is no route. */
    const char *const not_routes[] = {
        "/x", "/static", "/v1", "/v1/jobsx", "/v1/jobs/j0123456789abcdef/x", "/v2/jobs"};
    for (size_t i = 0; i < sizeof not_routes / sizeof not_routes[0]; i++) {
        r = get(not_routes[i]);
        assert_error(&r, 404, "not_found_error", NULL, "unknown_route", NULL);
        release(&r);
    }

    r = http("DELETE", "/v1/jobs", NULL, NULL, 0, NULL);
    assert_error(&r, 405, "invalid_request_error", NULL, "method_not_allowed", NULL);
    ASSERT_STREQ(r.allow, "GET, HEAD, POST");
    release(&r);
    snprintf(path, sizeof path, "/v1/jobs/%s/cancel", id);
    r = get(path);
    assert_error(&r, 405, "invalid_request_error", NULL, "method_not_allowed", NULL);
    ASSERT_STREQ(r.allow, "POST");
    release(&r);
    snprintf(path, sizeof path, "/v1/jobs/%s", id);
    r = http("PUT", path, NULL, NULL, 0, NULL);
    assert_error(&r, 405, "invalid_request_error", NULL, "method_not_allowed", NULL);
    ASSERT_STREQ(r.allow, "GET, HEAD, DELETE");
    release(&r);
    r = http("POST", "/healthz", "application/json", "{}", 2, NULL);
    assert_error(&r, 405, "invalid_request_error", NULL, "method_not_allowed", NULL);
    release(&r);
    /* The job is untouched. */
    store_job job;
    hark_err err = {0};
    ASSERT_EQ(store_get_job(F.st, STORE_SCOPE_ALL, id, &job, &err), 0);
    ASSERT_EQ(job.state, STORE_QUEUED);
    store_job_release(&job);
    ASSERT_EQ(atomic_load(&F.wakes), 0);
    stop();
}

static void test_result(void)
{
    start();
    char id[STORE_ID_SIZE], path[128];
    submit_direct(STORE_PRIO_NORMAL, id);
    snprintf(path, sizeof path, "/v1/jobs/%s/result", id);
    resp r = get(path);
    assert_error(&r, 409, "conflict_error", "id", NULL, "queued");
    release(&r);

    drive_prepare(id, 2);
    drive_chunk(id, 0);
    r = get(path);
    assert_error(&r, 409, "conflict_error", "id", NULL, "running");
    release(&r);
    drive_chunk(id, 1);
    hark_err err = {0};
    ASSERT_EQ(store_succeed(F.st, STORE_SCOPE_ALL, id, &err), 0);

    static const struct {
        const char *name, *ctype;
    } fmts[] = {{"txt", "text/plain; charset=utf-8"},
                {"json", "application/json"},
                {"srt", "application/x-subrip; charset=utf-8"},
                {"vtt", "text/vtt; charset=utf-8"},
                {"tsv", "text/tab-separated-values; charset=utf-8"},
                {"verbose_json", "application/json"}};
    for (size_t i = 0; i < sizeof fmts / sizeof fmts[0]; i++) {
        snprintf(path, sizeof path, "/v1/jobs/%s/result?format=%s", id, fmts[i].name);
        r = get(path);
        ASSERT_EQ(r.status, 200);
        ASSERT_STREQ(r.content_type, fmts[i].ctype);
        /* Byte for byte what the job's transcript renders to. */
        out_format f;
        ASSERT_EQ(out_format_parse(fmts[i].name, &f), 0);
        buf want;
        buf_init(&want, 1u << 20);
        ASSERT_EQ(job_result_render(F.st, STORE_SCOPE_ALL, id, f, &want, &err), 0);
        ASSERT_EQ(r.body.len, want.len);
        ASSERT(memcmp(r.body.data, want.data, want.len) == 0);
        ASSERT(strstr(r.body.data, "hello") && strstr(r.body.data, "world"));
        buf_release(&want);
        release(&r);
    }
    snprintf(path, sizeof path, "/v1/jobs/%s/result", id);
    r = get(path);
    ASSERT_EQ(r.status, 200);
    ASSERT_STREQ(r.content_type, "text/plain; charset=utf-8");
    ASSERT(strstr(r.body.data, "hello") && strstr(r.body.data, "world"));
    release(&r);
    r = get("/v1/jobs/j0123456789abcdef/result");
    assert_error(&r, 404, "not_found_error", "id", "job_not_found", NULL);
    release(&r);
    snprintf(path, sizeof path, "/v1/jobs/%s/result?format=docx", id);
    r = get(path);
    assert_error(&r, 400, "invalid_request_error", "format", "invalid_value", "docx");
    release(&r);

    /* A failed job's 409 carries its error. */
    char id2[STORE_ID_SIZE];
    submit_direct(STORE_PRIO_NORMAL, id2);
    ASSERT_EQ(
        store_fail(F.st, STORE_SCOPE_ALL, id2, "cannot decode 'in.wav': no audio stream", &err), 0);
    snprintf(path, sizeof path, "/v1/jobs/%s/result", id2);
    r = get(path);
    assert_error(&r, 409, "conflict_error", "id", "job_failed", "no audio stream");
    release(&r);
    snprintf(path, sizeof path, "/v1/jobs/%s", id2);
    r = get(path);
    json_t *j = body_json(&r);
    ASSERT_STREQ(jstr(j, "state"), "failed");
    ASSERT_STREQ(jstr(j, "error"), "cannot decode 'in.wav': no audio stream");
    ASSERT(json_is_real(json_object_get(j, "finished_at")));
    json_decref(j);
    release(&r);
    stop();
}

static void test_sse_replay(void)
{
    start();
    char id[STORE_ID_SIZE], path[128];
    submit_direct(STORE_PRIO_NORMAL, id);
    drive_to_success(id);

    /* From the start: every stored event once, ending after "succeeded". */
    snprintf(path, sizeof path, "/v1/jobs/%s/events", id);
    resp r = get(path);
    ASSERT_EQ(r.status, 200);
    ASSERT_STREQ(r.content_type, "text/event-stream");
    event ev[MAX_EVENTS];
    int ka;
    size_t n = parse_events(r.body.data, ev, MAX_EVENTS, &ka);
    release(&r);
    ASSERT(n >= 6); /* queued, started, progress, chunk_committed x2, succeeded */
    ASSERT_STREQ(ev[0].type, "queued");
    ASSERT_STREQ(ev[n - 1].type, "succeeded");
    assert_events_match(id, 0, ev, n);
    size_t chunks = 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(ev[i].type, "chunk_committed") == 0) {
            ASSERT_EQ(json_integer_value(json_object_get(ev[i].data, "chunk")), chunks);
            chunks++;
        }
    ASSERT_EQ(chunks, 2);
    long long third = ev[2].id, last = ev[n - 1].id;
    free_events(ev, n);

    /* After Last-Event-ID: only later events, each once. */
    char hdr[64];
    snprintf(hdr, sizeof hdr, "Last-Event-ID: %lld", third);
    r = http("GET", path, NULL, NULL, 0, hdr);
    ASSERT_EQ(r.status, 200);
    size_t m = parse_events(r.body.data, ev, MAX_EVENTS, &ka);
    release(&r);
    ASSERT_EQ(m, n - 3);
    ASSERT(ev[0].id > third);
    assert_events_match(id, third, ev, m);
    free_events(ev, m);

    /* The same with ?after=N. */
    snprintf(path, sizeof path, "/v1/jobs/%s/events?after=%lld", id, third);
    r = get(path);
    m = parse_events(r.body.data, ev, MAX_EVENTS, &ka);
    release(&r);
    ASSERT_EQ(m, n - 3);
    assert_events_match(id, third, ev, m);
    free_events(ev, m);

    /* After the final event: nothing to send, so 204, after which an
     * EventSource stops reconnecting (a 200 that ends at once would bring
     * it back every 3 s). */
    snprintf(path, sizeof path, "/v1/jobs/%s/events?after=%lld", id, last);
    r = get(path);
    ASSERT_EQ(r.status, 204);
    ASSERT_EQ(r.body.len, 0);
    release(&r);

    snprintf(path, sizeof path, "/v1/jobs/%s/events?after=x", id);
    r = get(path);
    assert_error(&r, 400, "invalid_request_error", "after", NULL, NULL);
    release(&r);
    r = get("/v1/jobs/j0123456789abcdef/events");
    assert_error(&r, 404, "not_found_error", "id", "job_not_found", NULL);
    release(&r);
    stop();
}

static void test_sse_live(void)
{
    start();
    char id[STORE_ID_SIZE], path[128];
    submit_direct(STORE_PRIO_NORMAL, id);
    snprintf(path, sizeof path, "/v1/jobs/%s/events", id);
    sse_client c;
    sse_start(&c, path, NULL);
    ASSERT(sse_wait(&c, "event: queued\n", 10));

    /* Each commit from this thread reaches the waiting stream. */
    drive_prepare(id, 2);
    ASSERT(sse_wait(&c, "event: progress\n", 10));
    drive_chunk(id, 0);
    ASSERT(sse_wait(&c, "event: chunk_committed\n", 10));
    drive_chunk(id, 1);
    hark_err err = {0};
    ASSERT_EQ(store_succeed(F.st, STORE_SCOPE_ALL, id, &err), 0);
    /* ... and the stream ends by itself after the final event. */
    sse_finish(&c);
    ASSERT_EQ(c.rc, CURLE_OK);
    ASSERT_EQ(c.status, 200);
    event ev[MAX_EVENTS];
    int ka;
    size_t n = parse_events(c.raw.data, ev, MAX_EVENTS, &ka);
    ASSERT_STREQ(ev[n - 1].type, "succeeded");
    assert_events_match(id, 0, ev, n);
    free_events(ev, n);
    buf_release(&c.raw);
    stop();
}

static void test_sse_keepalive(void)
{
    start();
    server_set_keepalive_ms(F.srv, 100);
    char id[STORE_ID_SIZE], path[128];
    submit_direct(STORE_PRIO_NORMAL, id);
    snprintf(path, sizeof path, "/v1/jobs/%s/events", id);
    sse_client c;
    sse_start(&c, path, NULL);
    ASSERT(sse_wait(&c, ": keepalive\n\n", 10));
    hark_err err = {0};
    ASSERT_EQ(store_cancel(F.st, STORE_SCOPE_ALL, id, &err), 0);
    sse_finish(&c);
    ASSERT_EQ(c.rc, CURLE_OK);
    event ev[MAX_EVENTS];
    int ka;
    size_t n = parse_events(c.raw.data, ev, MAX_EVENTS, &ka);
    ASSERT(ka >= 1);
    ASSERT_STREQ(ev[n - 1].type, "cancelled");
    assert_events_match(id, 0, ev, n);
    free_events(ev, n);
    buf_release(&c.raw);
    stop();
}

/* GET /v1/events: from now on without since, every job's events, not
 * ended by a job's final event (keepalives follow it); ends at stop. */
static void test_sse_global(void)
{
    start();
    server_set_keepalive_ms(F.srv, 100);
    char a[STORE_ID_SIZE], b[STORE_ID_SIZE];
    submit_direct(STORE_PRIO_NORMAL, a);
    sse_client c;
    sse_start(&c, "/v1/events", NULL);
    ASSERT(sse_wait(&c, ": keepalive\n\n", 10)); /* open, and a's queued not replayed */
    submit_direct(STORE_PRIO_NORMAL, b);
    ASSERT(sse_wait(&c, b, 10));
    hark_err err = {0};
    ASSERT_EQ(store_cancel(F.st, STORE_SCOPE_ALL, a, &err), 0);
    ASSERT(sse_wait(&c, "event: cancelled\n", 10));
    pthread_mutex_lock(&c.mu);
    size_t at = c.raw.len;
    pthread_mutex_unlock(&c.mu);
    /* Still open after a's final event: another keepalive comes. */
    bool more = false;
    for (int i = 0; i < 200 && !more; i++) {
        pthread_mutex_lock(&c.mu);
        more = strstr(c.raw.data + at, ": keepalive\n\n") != NULL;
        bool done = c.done;
        pthread_mutex_unlock(&c.mu);
        ASSERT(!done);
        if (!more)
            usleep(50000);
    }
    ASSERT(more);
    server_stop(F.srv);
    F.srv = NULL;
    sse_finish(&c);
    event ev[MAX_EVENTS];
    int ka;
    size_t n = parse_events(c.raw.data, ev, MAX_EVENTS, &ka);
    ASSERT_EQ(n, 2);
    ASSERT_STREQ(ev[0].type, "queued");
    ASSERT_STREQ(json_string_value(json_object_get(ev[0].data, "job")), b);
    ASSERT_STREQ(ev[1].type, "cancelled");
    ASSERT_STREQ(json_string_value(json_object_get(ev[1].data, "job")), a);
    ASSERT(ev[1].id > ev[0].id);
    ASSERT(ka >= 2);
    free_events(ev, n);
    buf_release(&c.raw);
    store_close(F.st);
    notify_destroy(&F.changes);
    curl_global_cleanup();
}

static void test_stop_with_stream_open(void)
{
    start();
    char id[STORE_ID_SIZE], path[128];
    submit_direct(STORE_PRIO_NORMAL, id);
    snprintf(path, sizeof path, "/v1/jobs/%s/events", id);
    sse_client c;
    sse_start(&c, path, NULL);
    ASSERT(sse_wait(&c, "event: queued\n", 10));
    /* The stream waits for events with a 15 s keepalive; stop ends it now. */
    double t0 = clock_now_s();
    server_stop(F.srv);
    F.srv = NULL;
    ASSERT_LE(clock_now_s() - t0, 2.0);
    sse_finish(&c);
    buf_release(&c.raw);
    store_close(F.st);
    notify_destroy(&F.changes);
    curl_global_cleanup();
}

static int connect_raw(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)F.port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

static void send_all(int fd, const char *s)
{
    ASSERT_EQ(send(fd, s, strlen(s), MSG_NOSIGNAL), (ssize_t)strlen(s));
}

static void test_slow_clients_block_nobody(void)
{
    start();
    /* One client sent its headers and part of a body, another half its
     * headers; both then go quiet. */
    int a = connect_raw();
    send_all(a, "POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                "Content-Length: 1000\r\n\r\n{\"pa");
    int b = connect_raw();
    send_all(b, "GET /v1/jobs HTTP/1.1\r\nHo");
    char id[STORE_ID_SIZE], path[128];
    submit_direct(STORE_PRIO_NORMAL, id);
    snprintf(path, sizeof path, "/v1/jobs/%s", id);
    for (int i = 0; i < 3; i++) {
        double t0 = clock_now_s();
        resp r = get(i == 0 ? "/healthz" : path);
        ASSERT_EQ(r.status, 200);
        release(&r);
        ASSERT_LE(clock_now_s() - t0, 2.0);
        send_all(a, "t"); /* trickle */
    }
    double t0 = clock_now_s();
    server_stop(F.srv); /* with both still connected */
    F.srv = NULL;
    ASSERT_LE(clock_now_s() - t0, 2.0);
    close(a);
    close(b);
    store_close(F.st);
    notify_destroy(&F.changes);
    curl_global_cleanup();
}

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    ASSERT(d);
    int n = 0;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

static atomic_bool spin_stop;

static void *spin(void *arg)
{
    (void)arg;
    volatile unsigned long x = 0;
    while (!atomic_load(&spin_stop))
        x++;
    return NULL;
}

/* server_stop quiesces the daemon and closes its listening socket: closed
 * before libmicrohttpd's event-loop threads had taken it out of their epoll
 * sets, the socket made libmicrohttpd abort ("Failed to remove listen FD
 * from epoll set"), on a loaded machine now and then. Many stops, each with
 * a connection open, while busy threads keep the event loops slow to run. */
static void test_stop_while_the_event_loops_are_slow(void)
{
    pthread_t hogs[3];
    atomic_store(&spin_stop, false);
    for (int i = 0; i < 3; i++)
        ASSERT_EQ(pthread_create(&hogs[i], NULL, spin, NULL), 0);
    start(); /* once before counting: what the first start opens for good */
    stop();
    int fds = count_fds();
    for (int i = 0; i < 150; i++) {
        start();
        int fd = connect_raw();
        send_all(fd, "GET /v1/jobs HTTP/1.1\r\nHo");
        stop();
        close(fd);
    }
    atomic_store(&spin_stop, true);
    for (int i = 0; i < 3; i++)
        pthread_join(hogs[i], NULL);
    ASSERT_EQ(count_fds(), fds); /* the listening sockets closed too */
}

static void test_delete_and_list_filters(void)
{
    start();
    char *data = pattern(1000);
    resp r = post_form("a.wav", data, 1000, NULL);
    ASSERT_EQ(r.status, 201);
    json_t *j = body_json(&r);
    char id[STORE_ID_SIZE], path[64];
    snprintf(id, sizeof id, "%s", jstr(j, "id"));
    double created = json_number_value(json_object_get(j, "created_at"));
    json_decref(j);
    release(&r);
    ASSERT_EQ(count_uploads(), 1);
    snprintf(path, sizeof path, "/v1/jobs/%s", id);

    /* Not finished: 409, nothing gone. */
    r = http("DELETE", path, NULL, NULL, 0, NULL);
    assert_error(&r, 409, "conflict_error", "id", "job_not_finished", "cancel it");
    release(&r);
    ASSERT_EQ(count_jobs(), 1);

    /* A second, later job; the list filters by creation time and order. */
    r = post_form("b.wav", data, 1000, NULL);
    ASSERT_EQ(r.status, 201);
    j = body_json(&r);
    char id2[STORE_ID_SIZE];
    snprintf(id2, sizeof id2, "%s", jstr(j, "id"));
    double created2 = json_number_value(json_object_get(j, "created_at"));
    json_decref(j);
    release(&r);
    char q[128];
    snprintf(q, sizeof q, "/v1/jobs?since=%.3f", created2);
    r = get(q);
    ASSERT_EQ(r.status, 200);
    j = body_json(&r);
    json_t *list = json_object_get(j, "data");
    ASSERT(json_array_size(list) >= 1);
    ASSERT_STREQ(jstr(json_array_get(list, json_array_size(list) - 1), "id"), id2);
    if (created2 > created + 0.001)
        ASSERT_EQ(json_array_size(list), 1); /* the first is older */
    json_decref(j);
    release(&r);
    r = get("/v1/jobs?order=desc&limit=1");
    j = body_json(&r);
    ASSERT_STREQ(jstr(json_array_get(json_object_get(j, "data"), 0), "id"), id2);
    json_decref(j);
    release(&r);
    r = get("/v1/jobs?since=yesterday");
    assert_error(&r, 400, "invalid_request_error", "since", "invalid_value", NULL);
    release(&r);
    r = get("/v1/jobs?order=random");
    assert_error(&r, 400, "invalid_request_error", "order", "invalid_value", NULL);
    release(&r);

    /* Finished: deleted with its upload; then gone. */
    hark_err err = {0};
    ASSERT_EQ(store_cancel(F.st, STORE_SCOPE_ALL, id, &err), 0);
    r = http("DELETE", path, NULL, NULL, 0, NULL);
    ASSERT_EQ(r.status, 200);
    j = body_json(&r);
    ASSERT(json_is_true(json_object_get(j, "deleted")));
    ASSERT_STREQ(jstr(j, "id"), id);
    json_decref(j);
    release(&r);
    ASSERT_EQ(count_jobs(), 1);
    ASSERT_EQ(count_uploads(), 1); /* the other job's */
    r = get(path);
    ASSERT_EQ(r.status, 404);
    release(&r);
    r = http("DELETE", path, NULL, NULL, 0, NULL);
    ASSERT_EQ(r.status, 404);
    release(&r);
    r = http("DELETE", "/v1/jobs", NULL, NULL, 0, NULL);
    ASSERT_EQ(r.status, 405);
    release(&r);
    free(data);
    stop();
}

/* ---- tenants: a token sees and controls only its own jobs ------------------ */

#define SECRET_ALICE "alice-0123456789abcdef"
#define SECRET_BOB "bob-0123456789abcdef00"
#define SECRET_ROOT "root-0123456789abcdef0"
#define AS_ALICE "Authorization: Bearer " SECRET_ALICE
#define AS_BOB "Authorization: Bearer " SECRET_BOB
#define AS_ROOT "Authorization: Bearer " SECRET_ROOT

static resp as(const char *auth, const char *method, const char *path)
{
    return http(method, path, NULL, NULL, 0, auth);
}

/* Submit a path job as auth; its id. The job object names its owner. */
static void submit_as(const char *auth, const char *owner, char id[STORE_ID_SIZE])
{
    char path[600], body[800];
    write_file("talk.wav", "RIFF", 4);
    abs_path("talk.wav", path, sizeof path);
    snprintf(body, sizeof body, "{\"path\": \"%s\"}", path);
    resp r = http("POST", "/v1/jobs", "application/json", body, strlen(body), auth);
    if (r.status != 201)
        TEST_FAIL_("submit: status %ld: %s", r.status, r.body.data);
    json_t *j = body_json(&r);
    ASSERT(jstr(j, "id"));
    ASSERT_STREQ(jstr(j, "owner"), owner);
    snprintf(id, STORE_ID_SIZE, "%s", jstr(j, "id"));
    json_decref(j);
    release(&r);
}

/* The ids GET /v1/jobs?query shows auth, in order. */
static size_t list_as(const char *auth, const char *query, char ids[][STORE_ID_SIZE], size_t max)
{
    char path[256];
    snprintf(path, sizeof path, "/v1/jobs%s", query);
    resp r = as(auth, "GET", path);
    if (r.status != 200)
        TEST_FAIL_("list: status %ld: %s", r.status, r.body.data);
    json_t *j = body_json(&r);
    json_t *data = json_object_get(j, "data");
    ASSERT(json_is_array(data));
    size_t n = json_array_size(data);
    ASSERT(n <= max);
    for (size_t i = 0; i < n; i++)
        snprintf(ids[i], STORE_ID_SIZE, "%s", jstr(json_array_get(data, i), "id"));
    json_decref(j);
    release(&r);
    return n;
}

/* Every way of reaching job id as auth is a 404 in the job_not_found shape
 * naming id, exactly as for a job that does not exist. */
static void assert_hidden(const char *auth, const char *id)
{
    static const struct {
        const char *method, *suffix;
    } ways[] = {{"GET", ""},
                {"DELETE", ""},
                {"POST", "/cancel"},
                {"POST", "/pause"},
                {"POST", "/resume"},
                {"GET", "/result"},
                {"GET", "/result?format=json"},
                {"GET", "/events"},
                {"GET", "/events?after=0"}};
    for (size_t i = 0; i < sizeof ways / sizeof ways[0]; i++) {
        char path[128];
        snprintf(path, sizeof path, "/v1/jobs/%s%s", id, ways[i].suffix);
        resp r = as(auth, ways[i].method, path);
        if (r.status != 404)
            TEST_FAIL_("%s %s: status %ld, expected 404: %.300s", ways[i].method, path, r.status,
                       r.body.data);
        assert_error(&r, 404, "not_found_error", "id", "job_not_found", id);
        release(&r);
    }
}

static int state_of(const char *id)
{
    store_job job;
    hark_err err = {0};
    if (store_get_job(F.st, STORE_SCOPE_ALL, id, &job, &err))
        TEST_FAIL_("store_get_job %s: %s", id, err.msg);
    int state = job.state;
    store_job_release(&job);
    return state;
}

static void test_tokens_see_only_their_jobs(void)
{
    serve_token toks[] = {
        {.name = "alice", .secret = SECRET_ALICE, .max_priority = STORE_PRIO_REALTIME},
        {.name = "bob", .secret = SECRET_BOB, .max_priority = STORE_PRIO_REALTIME},
        {.name = "root", .secret = SECRET_ROOT, .max_priority = STORE_PRIO_LOW, .admin = true},
    };
    start_tokens(toks, 3);
    char a[STORE_ID_SIZE], b[STORE_ID_SIZE], legacy[STORE_ID_SIZE], r1[STORE_ID_SIZE];
    char ids[8][STORE_ID_SIZE];
    submit_as(AS_ALICE, "alice", a);
    submit_as(AS_BOB, "bob", b);
    submit_direct(STORE_PRIO_NORMAL, legacy); /* from before tokens: no owner */
    submit_as(AS_ROOT, "root", r1);           /* an admin's own job is owned too */

    /* Lists hold one's own jobs only, with and without filters. */
    ASSERT_EQ(list_as(AS_ALICE, "", ids, 8), 1);
    ASSERT_STREQ(ids[0], a);
    ASSERT_EQ(list_as(AS_BOB, "?order=desc&state=queued&limit=1", ids, 8), 1);
    ASSERT_STREQ(ids[0], b);
    /* An admin token lists every job, each with its owner. */
    ASSERT_EQ(list_as(AS_ROOT, "", ids, 8), 4);
    ASSERT_STREQ(ids[0], a);
    ASSERT_STREQ(ids[1], b);
    ASSERT_STREQ(ids[2], legacy);
    ASSERT_STREQ(ids[3], r1);

    /* Another's job, by every route, is a 404 like a job that does not
     * exist, and nothing changes. */
    assert_hidden(AS_ALICE, b);
    assert_hidden(AS_BOB, a);
    assert_hidden(AS_ALICE, legacy);
    assert_hidden(AS_BOB, legacy);
    assert_hidden(AS_ALICE, r1); /* an admin's job is not everyone's */
    ASSERT_EQ(state_of(a), STORE_QUEUED);
    ASSERT_EQ(state_of(b), STORE_QUEUED);
    ASSERT_EQ(state_of(legacy), STORE_QUEUED);
    ASSERT_EQ(atomic_load(&F.wakes), 3); /* the three submits */

    /* The admin reads and controls any job, one without an owner too. */
    char path[128];
    snprintf(path, sizeof path, "/v1/jobs/%s", b);
    resp r = as(AS_ROOT, "GET", path);
    ASSERT_EQ(r.status, 200);
    json_t *j = body_json(&r);
    ASSERT_STREQ(jstr(j, "owner"), "bob");
    json_decref(j);
    release(&r);
    snprintf(path, sizeof path, "/v1/jobs/%s", legacy);
    r = as(AS_ROOT, "GET", path);
    ASSERT_EQ(r.status, 200);
    j = body_json(&r);
    ASSERT(json_is_null(json_object_get(j, "owner")));
    json_decref(j);
    release(&r);
    snprintf(path, sizeof path, "/v1/jobs/%s/cancel", legacy);
    r = as(AS_ROOT, "POST", path);
    ASSERT_EQ(r.status, 200);
    release(&r);
    snprintf(path, sizeof path, "/v1/jobs/%s", legacy);
    r = as(AS_ROOT, "DELETE", path);
    ASSERT_EQ(r.status, 200);
    release(&r);

    /* Metrics count every tenant's jobs: an admin's only. */
    r = as(AS_ALICE, "GET", "/metrics");
    assert_error(&r, 403, "permission_error", NULL, "admin_required", "admin token");
    release(&r);
    r = as(AS_ROOT, "GET", "/metrics");
    ASSERT_EQ(r.status, 200);
    ASSERT(strstr(r.body.data, "hark_queue_depth{priority=\"normal\"} 2")); /* a, b */
    ASSERT(strstr(r.body.data, "hark_queue_depth{priority=\"low\"} 1"));    /* r1 */
    release(&r);

    /* The owner controls its own job. */
    const char *ops[] = {"pause", "resume", "cancel"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "/v1/jobs/%s/%s", b, ops[i]);
        r = as(AS_BOB, "POST", path);
        if (r.status != 200)
            TEST_FAIL_("%s: status %ld: %s", ops[i], r.status, r.body.data);
        release(&r);
    }
    ASSERT_EQ(state_of(b), STORE_CANCELLED);
    assert_hidden(AS_ALICE, b); /* a finished job: DELETE would work for its owner */
    snprintf(path, sizeof path, "/v1/jobs/%s", b);
    r = as(AS_BOB, "DELETE", path);
    ASSERT_EQ(r.status, 200);
    release(&r);

    /* Results and event streams: the owner's only. */
    drive_to_success(a);
    assert_hidden(AS_BOB, a);
    snprintf(path, sizeof path, "/v1/jobs/%s/result", a);
    r = as(AS_ALICE, "GET", path);
    ASSERT_EQ(r.status, 200);
    ASSERT(strstr(r.body.data, "hello") && strstr(r.body.data, "world"));
    release(&r);
    snprintf(path, sizeof path, "/v1/jobs/%s/events", a);
    r = as(AS_ALICE, "GET", path); /* the job is final: the stream replays and ends */
    ASSERT_EQ(r.status, 200);
    ASSERT(strstr(r.body.data, "event: succeeded"));
    release(&r);
    r = as(AS_ROOT, "GET", path);
    ASSERT_EQ(r.status, 200);
    ASSERT(strstr(r.body.data, "event: succeeded"));
    release(&r);
    snprintf(path, sizeof path, "/v1/jobs/%s/result", a);
    r = as(AS_ROOT, "GET", path);
    ASSERT_EQ(r.status, 200);
    release(&r);
    ASSERT_EQ(list_as(AS_ROOT, "", ids, 8), 2); /* a and r1: b and legacy were deleted */
    stop();
}

/* Without tokens (loopback only) every caller sees every job, as before
 * owners existed; jobs have no owner. */
static void test_no_tokens_every_job_is_everyones(void)
{
    start();
    char id[STORE_ID_SIZE], path[128];
    resp r = post_form("a.wav", "RIFF", 4, NULL);
    ASSERT_EQ(r.status, 201);
    json_t *j = body_json(&r);
    ASSERT(json_is_null(json_object_get(j, "owner")));
    snprintf(id, sizeof id, "%s", jstr(j, "id"));
    json_decref(j);
    release(&r);
    store_job job;
    hark_err err = {0};
    ASSERT_EQ(store_get_job(F.st, store_scope_owner(""), id, &job, &err), 0);
    store_job_release(&job);
    char other[STORE_ID_SIZE];
    store_job_spec spec = {.kind = "transcribe",
                           .input = "/nonexistent/in.wav",
                           .priority = STORE_PRIO_LOW,
                           .owner = "ci"}; /* from when the server had tokens */
    ASSERT_EQ(store_submit(F.st, &spec, other, &err), 0);
    snprintf(path, sizeof path, "/v1/jobs/%s", other);
    r = get(path);
    ASSERT_EQ(r.status, 200);
    j = body_json(&r);
    ASSERT_STREQ(jstr(j, "owner"), "ci");
    json_decref(j);
    release(&r);
    snprintf(path, sizeof path, "/v1/jobs/%s/cancel", other);
    r = http("POST", path, NULL, NULL, 0, NULL);
    ASSERT_EQ(r.status, 200);
    release(&r);
    r = get("/v1/jobs");
    j = body_json(&r);
    ASSERT_EQ(json_array_size(json_object_get(j, "data")), 2);
    json_decref(j);
    release(&r);
    r = get("/metrics"); /* every caller is an admin: the metrics are readable */
    ASSERT_EQ(r.status, 200);
    release(&r);
}

static void test_retry_a_failed_job(void)
{
    start();
    hark_err err = {0};
    char id[STORE_ID_SIZE], other[STORE_ID_SIZE], path[128];
    submit_direct(STORE_PRIO_NORMAL, id);
    drive_prepare(id, 2);
    drive_chunk(id, 0);
    ASSERT_EQ(store_fail(F.st, STORE_SCOPE_ALL, id,
                         "chunk 1 (10.0-20.0 s) failed 3 times: worker crashed", &err),
              0);
    submit_direct(STORE_PRIO_NORMAL, other);

    /* Only a failed job; in the usual error shape. */
    control(other, "retry", 409, "queued");
    resp r = http("POST", "/v1/jobs/j0123456789abcdef/retry", NULL, NULL, 0, NULL);
    assert_error(&r, 404, "not_found_error", "id", "job_not_found", "j0123456789abcdef");
    release(&r);
    snprintf(path, sizeof path, "/v1/jobs/%s/retry", id);
    r = get(path);
    ASSERT_EQ(r.status, 405);
    ASSERT_STREQ(r.allow, "POST");
    release(&r);
    ASSERT_EQ(atomic_load(&F.wakes), 0);

    r = http("POST", path, NULL, NULL, 0, NULL);
    ASSERT_EQ(r.status, 200);
    json_t *j = body_json(&r);
    ASSERT_STREQ(jstr(j, "state"), "queued");
    ASSERT_EQ(json_integer_value(json_object_get(j, "chunks_done")), 1);
    ASSERT_EQ(json_integer_value(json_object_get(j, "chunks")), 2);
    ASSERT(json_is_null(json_object_get(j, "error")));
    ASSERT(json_is_null(json_object_get(j, "finished_at")));
    json_decref(j);
    release(&r);
    ASSERT_EQ(atomic_load(&F.wakes), 1); /* the runtime hears of it at once */
    control(id, "retry", 409, "queued");

    /* A new follower sees the current run, from "retried", and ends with
     * it; a replay from the start goes through the failure and on. */
    snprintf(path, sizeof path, "/v1/jobs/%s/events", id);
    sse_client fresh, all;
    sse_start(&fresh, path, NULL);
    sse_start(&all, path, "Last-Event-ID: 0");
    ASSERT(sse_wait(&fresh, "event: retried\n", 10));
    ASSERT(sse_wait(&all, "event: retried\n", 10));
    drive_chunk(id, 1);
    ASSERT_EQ(store_succeed(F.st, STORE_SCOPE_ALL, id, &err), 0);
    sse_finish(&fresh);
    sse_finish(&all);
    event ev[MAX_EVENTS];
    int ka;
    size_t n = parse_events(fresh.raw.data, ev, MAX_EVENTS, &ka);
    ASSERT_STREQ(ev[0].type, "retried");
    ASSERT_STREQ(jstr(ev[0].data, "error"), "chunk 1 (10.0-20.0 s) failed 3 times: worker crashed");
    ASSERT_STREQ(ev[n - 1].type, "succeeded");
    for (size_t i = 0; i < n; i++)
        ASSERT(strcmp(ev[i].type, "failed") != 0);
    assert_events_match(id, ev[0].id - 1, ev, n);
    free_events(ev, n);
    n = parse_events(all.raw.data, ev, MAX_EVENTS, &ka);
    ASSERT_STREQ(ev[0].type, "queued");
    ASSERT_STREQ(ev[n - 1].type, "succeeded");
    assert_events_match(id, 0, ev, n);
    free_events(ev, n);
    buf_release(&fresh.raw);
    buf_release(&all.raw);
    snprintf(path, sizeof path, "/v1/jobs/%s/result", id);
    r = get(path);
    ASSERT_EQ(r.status, 200);
    ASSERT_STREQ(r.body.data, "hello\nworld\n"); /* chunk 0 from before the failure */
    release(&r);
    control(id, "retry", 409, "succeeded");
    stop();
}

static void test_retry_under_limits_and_ceilings(void)
{
    F.queue_limit[STORE_PRIO_HIGH] = 1;
    /* Admins: they see the jobs submitted here without an owner; their
     * ceilings still hold. */
    serve_token t[] = {
        {.name = "low", .secret = "low-secret-0123456789", .max_priority = 3, .admin = true},
        {.name = "top", .secret = "top-secret-0123456789", .max_priority = 0, .admin = true}};
    hark_err err = {0};
    ASSERT_EQ(tokens_init(&F.tokens, t, 2, &err), 0);
    start();
    char id[STORE_ID_SIZE], busy[STORE_ID_SIZE], path[128];
    submit_direct(STORE_PRIO_HIGH, id);
    ASSERT_EQ(store_fail(F.st, STORE_SCOPE_ALL, id,
                         "prepare of 'in.wav' failed 3 times: worker crashed", &err),
              0);
    submit_direct(STORE_PRIO_HIGH, busy);
    snprintf(path, sizeof path, "/v1/jobs/%s/retry", id);
    /* A token may run again only what it may submit. */
    resp r = http("POST", path, NULL, NULL, 0, "Authorization: Bearer low-secret-0123456789");
    assert_error(&r, 403, "permission_error", "priority", "priority_not_allowed", "high");
    release(&r);
    /* The class is full, as for a submit. */
    r = http("POST", path, NULL, NULL, 0, "Authorization: Bearer top-secret-0123456789");
    assert_error(&r, 429, "rate_limit_error", "priority", "queue_full", "the high queue is full");
    release(&r);
    ASSERT_EQ(store_cancel(F.st, STORE_SCOPE_ALL, busy, &err), 0);
    r = http("POST", path, NULL, NULL, 0, "Authorization: Bearer top-secret-0123456789");
    ASSERT_EQ(r.status, 200);
    release(&r);
    store_job job;
    ASSERT_EQ(store_get_job(F.st, STORE_SCOPE_ALL, id, &job, &err), 0);
    ASSERT_EQ(job.state, STORE_QUEUED);
    ASSERT(!job.prepared); /* its prepare runs again */
    store_job_release(&job);
    stop();
}

static void test_listen_loopback_only(void)
{
    notify n;
    ASSERT_EQ(notify_init(&n), 0);
    store *st = NULL;
    hark_err err = {0};
    ASSERT_EQ(store_open("hark.db", NULL, &st, &err), 0);
    server_opts o = {.state_dir = "state", .st = st, .changes = &n};
    static const char *const refused[] = {
        "0.0.0.0:0", "192.168.1.10:0", "[::]:0",          "10.0.0.1:8090", "example.com:80",
        ":8090",     "127.0.0.1",      "127.0.0.1:99999", "127.0.0.1:x",   "[::1:0"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        server *s = NULL;
        o.listen = refused[i];
        if (server_start(&o, &s, &err) != HARK_EINVAL)
            TEST_FAIL_("'%s' was not refused", refused[i]);
        ASSERT(s == NULL);
        ASSERT(err.msg[0]);
    }
    int fds = count_fds();
    static const char *const ok[] = {"127.0.0.1:0", "localhost:0", "127.0.0.2:0"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        server *s = NULL;
        o.listen = ok[i];
        if (server_start(&o, &s, &err))
            TEST_FAIL_("'%s': %s", ok[i], err.msg);
        ASSERT(server_port(s) > 0);
        server_stop(s);
    }
    /* A port in use is an I/O error that names the address. */
    server *s1 = NULL, *s2 = NULL;
    o.listen = "127.0.0.1:0";
    ASSERT_EQ(server_start(&o, &s1, &err), 0);
    char busy[32];
    snprintf(busy, sizeof busy, "127.0.0.1:%d", server_port(s1));
    o.listen = busy;
    ASSERT_EQ(server_start(&o, &s2, &err), HARK_EIO);
    ASSERT(strstr(err.msg, busy));
    server_stop(s1);
    ASSERT_EQ(count_fds(), fds); /* listening sockets closed, nothing else left open */
    store_close(st);
    notify_destroy(&n);
}

/* An OpenAI form whose parts arrive in pieces, as the npm SDK's streamed
 * FormData does: libmicrohttpd then calls the upload once with no data at
 * a part's start and again from offset 0 when the value comes. Each
 * repeat of an array field is still one value: languages[] en, en-GB (not
 * en,,en-GB). The form has no file, so a 400 naming the file says every
 * other field was read and accepted. */
static void test_openai_form_in_pieces(void)
{
    start();
    static const char *const parts[][2] = {{"model", "whisper-1"},
                                           {"languages[]", "en"},
                                           {"languages[]", "en-GB"},
                                           {"include[]", "logprobs"},
                                           {"chunking_strategy[type]", "server_vad"}};
    const size_t n = sizeof parts / sizeof parts[0];
    char heads[8][160], values[8][64];
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        snprintf(heads[i], sizeof heads[i],
                 "--xyz\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n", parts[i][0]);
        snprintf(values[i], sizeof values[i], "%s\r\n", parts[i][1]);
        len += strlen(heads[i]) + strlen(values[i]);
    }
    const char *end = "--xyz--\r\n";
    len += strlen(end);
    char head[256];
    snprintf(head, sizeof head,
             "POST /v1/audio/transcriptions HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
             "Content-Type: multipart/form-data; boundary=xyz\r\nContent-Length: %zu\r\n\r\n",
             len);
    int fd = connect_raw();
    send_all(fd, head);
    for (size_t i = 0; i < n; i++) {
        /* A part's headers, then its value in a later read of the server's. */
        send_all(fd, heads[i]);
        nanosleep(&(struct timespec){.tv_nsec = 30 * 1000000}, NULL);
        send_all(fd, values[i]);
        nanosleep(&(struct timespec){.tv_nsec = 30 * 1000000}, NULL);
    }
    send_all(fd, end);
    struct timeval tv = {.tv_sec = 20};
    ASSERT_EQ(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
    char answer[4096];
    size_t got = 0;
    ssize_t k;
    while (got + 1 < sizeof answer && (k = recv(fd, answer + got, sizeof answer - 1 - got, 0)) > 0)
        got += (size_t)k;
    answer[got] = '\0';
    close(fd);
    if (!strstr(answer, "\"code\":\"missing_field\"") || !strstr(answer, "\"param\":\"file\""))
        TEST_FAIL_("want a 400 for the missing file, got: %s", answer);
    ASSERT(strncmp(answer, "HTTP/1.1 400", 12) == 0);
    stop();
}

/* The value of the sample `name` (no labels) in a /metrics page, -1 if absent. */
static double sample(const char *page, const char *name)
{
    char want[128];
    snprintf(want, sizeof want, "\n%s ", name);
    const char *at = strstr(page, want);
    return at ? strtod(at + strlen(want), NULL) : -1;
}

/* /metrics moves: upload bytes as they are written (a refused upload's
 * too), stale work refused at renewal as well as at commit, the daemon's
 * own process figures and its build. */
static void test_metrics_move(void)
{
    start_with(4096);
    resp r = get("/metrics");
    ASSERT_EQ(r.status, 200);
    ASSERT_EQ(sample(r.body.data, "hark_upload_bytes_total"), 0);
    ASSERT_EQ(sample(r.body.data, "hark_refused_stale_commits_total"), 0);
    ASSERT(sample(r.body.data, "process_resident_memory_bytes") > 1e6);
    ASSERT(sample(r.body.data, "process_open_fds") >= 3);
    ASSERT(sample(r.body.data, "process_max_fds") >= 3);
    ASSERT(sample(r.body.data, "process_cpu_seconds_total") >= 0);
    ASSERT(sample(r.body.data, "process_virtual_memory_bytes") > 1e6);
    ASSERT(sample(r.body.data, "process_start_time_seconds") > 1e9);
    ASSERT(strstr(r.body.data, "\nhark_build_info{version=\"" HARK_VERSION "\"} 1\n"));
    release(&r);

    char *data = pattern(10000);
    r = post_form("a.wav", data, 3000, NULL);
    ASSERT_EQ(r.status, 201);
    release(&r);
    r = get("/metrics");
    ASSERT_EQ(sample(r.body.data, "hark_upload_bytes_total"), 3000);
    release(&r);
    r = post_form("b.wav", data, 10000, NULL); /* over 4096: refused while streaming */
    ASSERT_EQ(r.status, 413);
    release(&r);
    free(data);
    r = get("/metrics");
    double up = sample(r.body.data, "hark_upload_bytes_total"); /* what was written of it */
    ASSERT(up >= 3000 && up <= 3000 + 4096);
    release(&r);

    /* A lease revoked under a worker (a pause): its renewal is refused,
     * then its result. Each counts. */
    store_task t; /* the uploaded job's prepare */
    hark_err err = {0};
    ASSERT_EQ(store_claim(F.st, "test-worker", LONG_LEASE, &t, &err), 0);
    ASSERT_EQ(t.kind, STORE_TASK_PREPARE);
    ASSERT_EQ(store_pause(F.st, STORE_SCOPE_ALL, t.job_id, &err), 0);
    ASSERT_EQ(store_renew(F.st, t.token, LONG_LEASE, &err), HARK_ESTALE);
    r = get("/metrics");
    ASSERT_EQ(sample(r.body.data, "hark_refused_stale_commits_total"), 1);
    release(&r);
    store_span span = {0, 16000};
    ASSERT_EQ(store_commit_prepare(F.st, t.token, 1.0, &span, 1, NULL, NULL, &err), HARK_ESTALE);
    r = get("/metrics");
    ASSERT_EQ(sample(r.body.data, "hark_refused_stale_commits_total"), 2);
    release(&r);
    stop();
}

/* ---- live dictation (live.h) ---------------------------------------------------- */

/* POST /v1/live with json (NULL: no body) as auth (NULL: none); its id. */
static void live_new(const char *json, const char *auth, char id[STORE_ID_SIZE])
{
    resp r = json ? http("POST", "/v1/live", "application/json", json, strlen(json), auth)
                  : http("POST", "/v1/live", NULL, NULL, 0, auth);
    if (r.status != 201)
        TEST_FAIL_("POST /v1/live: status %ld: %.300s", r.status, r.body.data);
    json_t *j = body_json(&r);
    ASSERT_STREQ(jstr(j, "kind"), "live");
    ASSERT_STREQ(jstr(j, "state"), "queued");
    snprintf(id, STORE_ID_SIZE, "%s", jstr(j, "id"));
    char loc[64];
    snprintf(loc, sizeof loc, "/v1/jobs/%s", id);
    ASSERT_STREQ(r.location, loc);
    json_decref(j);
    release(&r);
}

static resp live_post_audio(const char *id, const void *data, size_t n, const char *auth)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/live/%s/audio", id);
    return http("POST", path, "application/octet-stream", data ? data : "", n, auth);
}

/* An append that must be accepted: the job then has `total` bytes. */
static void live_post_audio_ok(const char *id, const void *data, size_t n, int64_t total)
{
    resp r = live_post_audio(id, data, n, NULL);
    if (r.status != 200)
        TEST_FAIL_("append: status %ld: %.300s", r.status, r.body.data);
    json_t *j = body_json(&r);
    ASSERT_STREQ(jstr(j, "id"), id);
    ASSERT_EQ(json_integer_value(json_object_get(j, "bytes")), total);
    ASSERT_EQ(json_integer_value(json_object_get(j, "received")), (int64_t)n);
    json_decref(j);
    release(&r);
}

static store_job job_of(const char *id)
{
    store_job job;
    hark_err err = {0};
    if (store_get_job(F.st, STORE_SCOPE_ALL, id, &job, &err))
        TEST_FAIL_("store_get_job %s: %s", id, err.msg);
    return job;
}

static int64_t file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (int64_t)sb.st_size : -1;
}

/* The job's input file (as the store names it) holds exactly want[0..n),
 * and the store counts exactly those bytes. */
static void input_is(const char *id, const char *want, size_t n)
{
    store_job job = job_of(id);
    if (job.input_bytes != (int64_t)n || file_size(job.input) != (int64_t)n)
        TEST_FAIL_("job %s: store has %lld bytes, the file %lld, expected %zu", id,
                   (long long)job.input_bytes, (long long)file_size(job.input), n);
    FILE *f = fopen(job.input, "rb");
    ASSERT(f);
    char *got = malloc(n + 1);
    ASSERT(got);
    ASSERT_EQ(fread(got, 1, n + 1, f), n);
    fclose(f);
    ASSERT(n == 0 || memcmp(got, want, n) == 0);
    free(got);
    store_job_release(&job);
}

static bool input_open(const char *id)
{
    store_job job = job_of(id);
    bool open = job.input_open;
    store_job_release(&job);
    return open;
}

/* A request run on its own thread (one that waits, such as /end). */
typedef struct bg_request {
    char method[8], path[256], header[128];
    resp r;
    pthread_t th;
    atomic_bool done;
} bg_request;

static void *bg_run(void *arg)
{
    bg_request *b = arg;
    b->r = http(b->method, b->path, NULL, NULL, 0, b->header[0] ? b->header : NULL);
    atomic_store(&b->done, true);
    return NULL;
}

static void bg_start(bg_request *b, const char *method, const char *path, const char *header)
{
    memset(b, 0, sizeof *b);
    snprintf(b->method, sizeof b->method, "%s", method);
    snprintf(b->path, sizeof b->path, "%s", path);
    snprintf(b->header, sizeof b->header, "%s", header ? header : "");
    ASSERT_EQ(pthread_create(&b->th, NULL, bg_run, b), 0);
}

static void bg_join(bg_request *b)
{
    ASSERT_EQ(pthread_join(b->th, NULL), 0);
}

/* Wait (deadline 10 s, only a failure's bound) until n requests are
 * parked on srv. */
static void wait_parked(server *srv, int n)
{
    double until = clock_now_s() + 10;
    while (park_count(srv->park) != n && clock_now_s() < until)
        usleep(2000);
    ASSERT_EQ(park_count(srv->park), n);
}

static void wait_input_closed(const char *id)
{
    double until = clock_now_s() + 10;
    while (input_open(id) && clock_now_s() < until)
        usleep(2000);
    ASSERT(!input_open(id));
}

static void send_bytes_raw(int fd, const void *p, size_t n)
{
    ASSERT_EQ(send(fd, p, n, MSG_NOSIGNAL), (ssize_t)n);
}

static void send_chunk(int fd, const void *p, size_t n)
{
    char head[32];
    snprintf(head, sizeof head, "%zx\r\n", n);
    send_all(fd, head);
    send_bytes_raw(fd, p, n);
    send_all(fd, "\r\n");
}

static bool fd_readable(int fd, int ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, ms) > 0;
}

/* Read one answer from a raw socket (headers, then a Content-Length body):
 * its status, 0 if none came within 10 s; the body into body (may be NULL). */
static int raw_answer(int fd, buf *body)
{
    char raw[16384];
    size_t have = 0;
    double until = clock_now_s() + 10;
    char *end = NULL;
    while (!end && have < sizeof raw - 1 && clock_now_s() < until) {
        if (!fd_readable(fd, 100))
            continue;
        ssize_t n = recv(fd, raw + have, sizeof raw - 1 - have, 0);
        if (n <= 0)
            return 0;
        have += (size_t)n;
        raw[have] = '\0';
        end = strstr(raw, "\r\n\r\n");
    }
    int status = 0;
    if (!end || sscanf(raw, "HTTP/1.%*d %d", &status) != 1)
        return 0;
    const char *cl = strcasestr(raw, "\r\nContent-Length:");
    long want = cl && cl < end ? strtol(cl + 17, NULL, 10) : 0;
    size_t hl = (size_t)(end - raw) + 4;
    size_t got = have - hl;
    if (body)
        ASSERT_EQ(buf_append(body, raw + hl, got), 0);
    while ((long)got < want && clock_now_s() < until) {
        if (!fd_readable(fd, 100))
            continue;
        ssize_t n = recv(fd, raw, sizeof raw, 0);
        if (n <= 0)
            break;
        if (body)
            ASSERT_EQ(buf_append(body, raw, (size_t)n), 0);
        got += (size_t)n;
    }
    return status;
}

/* Open an append of id on a raw socket: with content_length >= 0 a body of
 * that length, else a chunked one. Nothing of the body is sent yet. */
static int raw_append_open(const char *id, long content_length)
{
    int fd = connect_raw();
    char head[512];
    if (content_length >= 0)
        snprintf(head, sizeof head,
                 "POST /v1/live/%s/audio HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 "Content-Type: application/octet-stream\r\nContent-Length: %ld\r\n\r\n",
                 id, content_length);
    else
        snprintf(head, sizeof head,
                 "POST /v1/live/%s/audio HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 "Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n",
                 id);
    send_all(fd, head);
    return fd;
}

/* Send data[*off..) in small pieces (chunked or not) until the server has
 * acknowledged some of this body (the store counts more than `had`); the
 * body is not finished. Returns the bytes acknowledged. */
static int64_t stream_until_acked(int fd, bool chunked, const char *id, const char *data,
                                  size_t *off, size_t max, int64_t had)
{
    double until = clock_now_s() + 10;
    for (;;) {
        store_job job = job_of(id);
        int64_t b = job.input_bytes;
        store_job_release(&job);
        if (b > had)
            return b;
        ASSERT(clock_now_s() < until);
        size_t n = *off == 0 ? 4000 : 64;
        ASSERT(*off + n <= max);
        if (chunked)
            send_chunk(fd, data + *off, n);
        else
            send_bytes_raw(fd, data + *off, n);
        *off += n;
        usleep(20000);
    }
}

static void test_live_create(void)
{
    start();
    char id[STORE_ID_SIZE], w[STORE_ID_SIZE];
    live_new(NULL, NULL, id);
    store_job job = job_of(id);
    ASSERT_STREQ(job.kind, "live");
    ASSERT_EQ(job.priority, STORE_PRIO_REALTIME); /* the default */
    ASSERT_STREQ(job.source, "dictation");
    ASSERT(job.input_open);
    ASSERT_EQ(job.input_bytes, 0);
    ASSERT_EQ(file_size(job.input), 0); /* made empty, in uploads/ */
    ASSERT(strstr(job.input, "/state/uploads/live-") != NULL);
    ASSERT(strcmp(job.input + strlen(job.input) - 6, ".s16le") == 0);
    json_t *o = json_loads(job.options, 0, NULL);
    ASSERT_STREQ(jstr(o, "format"), "s16le");
    ASSERT_NEAR(json_number_value(json_object_get(o, "idle_timeout")), 30, 1e-9);
    json_decref(o);
    store_job_release(&job);
    /* A JSON body that is just {} takes every default too. */
    live_new("{}", NULL, w);
    job = job_of(w);
    ASSERT_EQ(job.priority, STORE_PRIO_REALTIME);
    store_job_release(&job);

    live_new("{\"priority\":\"high\",\"format\":\"webm\",\"idle_timeout\":5,\"name\":\"memo\"}",
             NULL, w);
    job = job_of(w);
    ASSERT_EQ(job.priority, STORE_PRIO_HIGH);
    ASSERT_STREQ(job.source, "memo");
    ASSERT(strcmp(job.input + strlen(job.input) - 5, ".webm") == 0);
    o = json_loads(job.options, 0, NULL);
    ASSERT_STREQ(jstr(o, "format"), "webm");
    ASSERT_NEAR(json_number_value(json_object_get(o, "idle_timeout")), 5, 1e-9);
    json_decref(o);
    store_job_release(&job);
    char path[64];
    snprintf(path, sizeof path, "/v1/jobs/%s", w);
    resp r = get(path);
    ASSERT_EQ(r.status, 200);
    json_t *j = body_json(&r);
    ASSERT_STREQ(jstr(j, "kind"), "live");
    ASSERT_STREQ(jstr(j, "priority"), "high");
    ASSERT_STREQ(jstr(j, "source"), "memo");
    json_decref(j);
    release(&r);

    /* Each bad field is a 400 naming it; nothing is made. */
    char long_name[300];
    snprintf(long_name, sizeof long_name, "{\"name\":\"%0201d\"}", 0);
    static const struct {
        const char *body, *param, *code;
    } bad[] = {
        {"{\"priority\":\"urgent\"}", "priority", "invalid_value"},
        {"{\"priority\":0}", "priority", "invalid_value"},
        {"{\"format\":\"mp3\"}", "format", "invalid_value"},
        {"{\"format\":null}", "format", "invalid_value"},
        {"{\"idle_timeout\":0}", "idle_timeout", "invalid_value"},
        {"{\"idle_timeout\":-1}", "idle_timeout", "invalid_value"},
        {"{\"idle_timeout\":\"5\"}", "idle_timeout", "invalid_value"},
        {"{\"idle_timeout\":3601}", "idle_timeout", "invalid_value"},
        {"{\"name\":5}", "name", "invalid_value"},
        {NULL, "name", "invalid_value"}, /* long_name */
        {"{\"format\":\"s16le\",\"colour\":\"red\"}", "colour", "unknown_parameter"},
    };
    size_t jobs = count_jobs();
    int uploads = count_uploads();
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = post_json("/v1/live", bad[i].body ? bad[i].body : long_name);
        assert_error(&r, 400, "invalid_request_error", bad[i].param, bad[i].code, bad[i].param);
        release(&r);
    }
    r = post_json("/v1/live", "{\"priority\":");
    assert_error(&r, 400, "invalid_request_error", NULL, "invalid_json", NULL);
    release(&r);
    r = post_json("/v1/live", "[]");
    assert_error(&r, 400, "invalid_request_error", NULL, "invalid_json", NULL);
    release(&r);
    r = http("POST", "/v1/live", "text/plain", "hello", 5, NULL);
    assert_error(&r, 400, "invalid_request_error", NULL, "unsupported_content_type", "text/plain");
    release(&r);
    ASSERT_EQ(count_jobs(), jobs);
    ASSERT_EQ(count_uploads(), uploads);
    r = get("/v1/live");
    ASSERT_EQ(r.status, 405);
    release(&r);
    /* A live job is made here only: POST /v1/jobs refuses the kind. */
    char *data = pattern(1000);
    r = post_form("a.wav", data, 1000, "kind", "live", NULL);
    assert_error(&r, 400, "invalid_request_error", "kind", "invalid_value", "POST /v1/live");
    release(&r);
    write_file("talk.wav", "RIFF", 4);
    char body[800], wav[600];
    abs_path("talk.wav", wav, sizeof wav);
    snprintf(body, sizeof body, "{\"path\": \"%s\", \"kind\": \"live\"}", wav);
    r = post_json("/v1/jobs", body);
    assert_error(&r, 400, "invalid_request_error", "kind", "invalid_value", "POST /v1/live");
    release(&r);
    ASSERT_EQ(count_jobs(), jobs);
    /* The refused upload goes when its request is over, just after the answer. */
    double until = clock_now_s() + 10;
    while (count_uploads() != uploads && clock_now_s() < until)
        usleep(2000);
    ASSERT_EQ(count_uploads(), uploads);
    free(data);
    stop();
}

static void test_live_create_ceilings_and_limits(void)
{
    F.queue_limit[STORE_PRIO_REALTIME] = 1;
    serve_token t[] = {
        {.name = "low", .secret = "low-secret-0123456789", .max_priority = STORE_PRIO_NORMAL},
        {.name = "top", .secret = "top-secret-0123456789", .max_priority = STORE_PRIO_REALTIME}};
    start_tokens(t, 2);
    const char *low = "Authorization: Bearer low-secret-0123456789";
    const char *top = "Authorization: Bearer top-secret-0123456789";
    char id[STORE_ID_SIZE];
    /* The default, realtime, within the token's ceiling. */
    live_new(NULL, low, id);
    store_job job = job_of(id);
    ASSERT_EQ(job.priority, STORE_PRIO_NORMAL);
    ASSERT_STREQ(job.owner, "low");
    store_job_release(&job);
    resp r = http("POST", "/v1/live", "application/json", "{\"priority\":\"high\"}", 19, low);
    assert_error(&r, 403, "permission_error", "priority", "priority_not_allowed", "normal");
    release(&r);
    r = http("POST", "/v1/live", NULL, NULL, 0, NULL);
    ASSERT_EQ(r.status, 401);
    release(&r);
    live_new(NULL, top, id);
    job = job_of(id);
    ASSERT_EQ(job.priority, STORE_PRIO_REALTIME);
    store_job_release(&job);
    /* The realtime class is full: 429, and no job or file is left. */
    size_t jobs = count_jobs();
    int uploads = count_uploads();
    r = http("POST", "/v1/live", NULL, NULL, 0, top);
    assert_error(&r, 429, "rate_limit_error", "priority", "queue_full", "realtime");
    release(&r);
    ASSERT_EQ(count_jobs(), jobs);
    ASSERT_EQ(count_uploads(), uploads);
    stop();
}

/* A WAV header (44 bytes) and some samples. */
static size_t wav_bytes(char *out, size_t n)
{
    static const char head[] = "RIFF\x24\x7d\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00"
                               "\x80\x3e\x00\x00\x00\x7d\x00\x00\x02\x00\x10\x00"
                               "data\x00\x7d\x00\x00";
    ASSERT(n >= sizeof head);
    memset(out, 0x11, n);
    memcpy(out, head, sizeof head - 1);
    return n;
}

static void test_live_append(void)
{
    start();
    size_t total = 64000;
    char *data = pattern(total);
    char a[STORE_ID_SIZE], plain[STORE_ID_SIZE], w[STORE_ID_SIZE];
    live_new(NULL, NULL, a);
    input_is(a, data, 0);
    live_post_audio_ok(a, data, 3200, 3200);
    input_is(a, data, 3200);
    live_post_audio_ok(a, data + 3200, 4001, 7201); /* any size, even odd */
    live_post_audio_ok(a, data + 7201, 0, 7201);
    live_post_audio_ok(a, data + 7201, 799, 8000);
    input_is(a, data, 8000);
    resp r = live_post_audio(a, data + 8000, 3200, NULL);
    json_t *j = body_json(&r);
    ASSERT_NEAR(json_number_value(json_object_get(j, "duration")), 11200.0 / 32000, 1e-9);
    json_decref(j);
    release(&r);
    size_t have = 11200;

    /* Not audio: refused before a byte is written. */
    r = http("POST", "/v1/live/x", NULL, NULL, 0, NULL);
    ASSERT_EQ(r.status, 404);
    release(&r);
    char path[128];
    snprintf(path, sizeof path, "/v1/live/%s/audio", a);
    r = http("POST", path, "application/json", "{\"audio\":\"AAAAAAAAAAAAAAAA\"}", 27, NULL);
    assert_error(&r, 415, "invalid_request_error", NULL, "unsupported_content_type",
                 "application/json");
    release(&r);
    const char *form = "--xyz\r\n\r\nabc\r\n--xyz--\r\n";
    r = http("POST", path, "multipart/form-data; boundary=xyz", form, strlen(form), NULL);
    assert_error(&r, 415, "invalid_request_error", NULL, "unsupported_content_type", "multipart");
    release(&r);
    char wav[4000];
    r = live_post_audio(a, wav, wav_bytes(wav, sizeof wav), NULL);
    assert_error(&r, 415, "invalid_request_error", NULL, "invalid_audio", "WAV");
    release(&r);
    r = live_post_audio(a, "RIFF", 4, NULL); /* short: judged at the end */
    assert_error(&r, 415, "invalid_request_error", NULL, "invalid_audio", "RIFF");
    release(&r);
    char ogg[3000];
    memcpy(ogg, data, sizeof ogg);
    memcpy(ogg, "OggS\0\x02\0\0\0\0\0\0\0\0", 14);
    r = live_post_audio(a, ogg, sizeof ogg, NULL);
    assert_error(&r, 415, "invalid_request_error", NULL, "invalid_audio", "Ogg");
    release(&r);
    const char *js = "{\"audio\": \"AAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}";
    r = live_post_audio(a, js, strlen(js), NULL);
    assert_error(&r, 415, "invalid_request_error", NULL, "invalid_audio", "JSON");
    release(&r);
    input_is(a, data, have);

    /* Unknown, malformed and non-live ids. */
    r = live_post_audio("j0123456789abcdef", data, 320, NULL);
    assert_error(&r, 404, "not_found_error", "id", "job_not_found", "j0123456789abcdef");
    release(&r);
    r = live_post_audio("nope", data, 320, NULL);
    ASSERT_EQ(r.status, 404);
    release(&r);
    submit_direct(STORE_PRIO_NORMAL, plain);
    r = live_post_audio(plain, data, 320, NULL);
    assert_error(&r, 409, "conflict_error", "id", "not_live", plain);
    release(&r);

    /* A WebM job: its stream must start like WebM. */
    live_new("{\"format\":\"webm\"}", NULL, w);
    r = live_post_audio(w, ogg, sizeof ogg, NULL);
    assert_error(&r, 415, "invalid_request_error", NULL, "invalid_audio", "Ogg");
    release(&r);
    input_is(w, data, 0);
    char webm[2000];
    memcpy(webm, data, sizeof webm);
    memcpy(webm, "\x1A\x45\xDF\xA3", 4);
    live_post_audio_ok(w, webm, sizeof webm, sizeof webm);
    input_is(w, webm, sizeof webm);

    /* Cancelled: no more audio. */
    snprintf(path, sizeof path, "/v1/jobs/%s/cancel", a);
    r = http("POST", path, NULL, NULL, 0, NULL);
    ASSERT_EQ(r.status, 200);
    release(&r);
    r = live_post_audio(a, data + have, 3200, NULL);
    assert_error(&r, 409, "conflict_error", "id", "live_ended", "cancelled");
    release(&r);
    input_is(a, data, have);
    free(data);
    stop();
}

static void test_live_append_after_end(void)
{
    start();
    char *data = pattern(8000);
    char a[STORE_ID_SIZE], path[128];
    live_new(NULL, NULL, a);
    live_post_audio_ok(a, data, 3200, 3200);
    snprintf(path, sizeof path, "/v1/live/%s/end", a);
    bg_request end;
    bg_start(&end, "POST", path, NULL);
    wait_input_closed(a);
    resp r = live_post_audio(a, data + 3200, 3200, NULL);
    assert_error(&r, 409, "conflict_error", "id", "live_ended", "ended");
    release(&r);
    input_is(a, data, 3200);
    hark_err err = {0};
    ASSERT_EQ(store_fail(F.st, STORE_SCOPE_ALL, a, "no decoder here", &err), 0);
    bg_join(&end);
    assert_error(&end.r, 409, "conflict_error", "id", "job_failed", "no decoder here");
    release(&end.r);
    r = live_post_audio(a, data + 3200, 3200, NULL);
    assert_error(&r, 409, "conflict_error", "id", "live_ended", "failed");
    release(&r);
    input_is(a, data, 3200);
    free(data);
    stop();
}

static void test_live_is_the_owners_alone(void)
{
    serve_token toks[] = {
        {.name = "alice", .secret = SECRET_ALICE, .max_priority = STORE_PRIO_REALTIME},
        {.name = "bob", .secret = SECRET_BOB, .max_priority = STORE_PRIO_REALTIME},
    };
    start_tokens(toks, 2);
    char *data = pattern(6400);
    char a[STORE_ID_SIZE], path[128];
    live_new(NULL, AS_ALICE, a);
    resp r = live_post_audio(a, data, 3200, AS_ALICE);
    ASSERT_EQ(r.status, 200);
    release(&r);
    r = live_post_audio(a, data + 3200, 3200, AS_BOB);
    assert_error(&r, 404, "not_found_error", "id", "job_not_found", a);
    release(&r);
    r = live_post_audio(a, data + 3200, 3200, NULL);
    ASSERT_EQ(r.status, 401);
    release(&r);
    snprintf(path, sizeof path, "/v1/live/%s/end", a);
    r = http("POST", path, NULL, NULL, 0, AS_BOB);
    assert_error(&r, 404, "not_found_error", "id", "job_not_found", a);
    release(&r);
    r = http("POST", "/v1/live/j0123456789abcdef/end", NULL, NULL, 0, AS_ALICE);
    assert_error(&r, 404, "not_found_error", "id", "job_not_found", "j0123456789abcdef");
    release(&r);
    snprintf(path, sizeof path, "/v1/jobs/%s", a);
    r = http("DELETE", path, NULL, NULL, 0, AS_BOB);
    ASSERT_EQ(r.status, 404);
    release(&r);
    ASSERT(input_open(a));
    ASSERT_EQ(state_of(a), STORE_QUEUED);
    input_is(a, data, 3200);
    free(data);
    stop();
}

/* One append at a time: a second while the first's body is still coming
 * is a 409, and changes nothing. */
static void test_live_appends_one_at_a_time(void)
{
    start();
    size_t total = 32000;
    char *data = pattern(total);
    char a[STORE_ID_SIZE];
    live_new(NULL, NULL, a);
    int fd = raw_append_open(a, (long)total);
    size_t off = 0;
    int64_t acked = stream_until_acked(fd, false, a, data, &off, total, 0);
    ASSERT(acked >= LIVE_SYNC_BYTES);
    resp r = live_post_audio(a, data, 3200, NULL);
    assert_error(&r, 409, "conflict_error", "id", "append_in_progress", a);
    release(&r);
    ASSERT(!fd_readable(fd, 0)); /* the first is still going */
    send_bytes_raw(fd, data + off, total - off);
    buf body;
    buf_init(&body, 1 << 20);
    ASSERT_EQ(raw_answer(fd, &body), 200);
    json_t *j = json_loadb(body.data, body.len, 0, NULL);
    ASSERT_EQ(json_integer_value(json_object_get(j, "bytes")), (int64_t)total);
    json_decref(j);
    buf_release(&body);
    close(fd);
    input_is(a, data, total);
    free(data);
    stop();
}

/* A chunked body (a whole utterance in one request) is acknowledged in
 * pieces while it streams, so it is decoded as it arrives. */
static void test_live_chunked_body_is_acknowledged_as_it_streams(void)
{
    start();
    size_t total = 40000;
    char *data = pattern(total);
    char a[STORE_ID_SIZE];
    live_new(NULL, NULL, a);
    int fd = raw_append_open(a, -1);
    size_t off = 0;
    int64_t first = stream_until_acked(fd, true, a, data, &off, total, 0);
    ASSERT(first >= LIVE_SYNC_BYTES && first <= (int64_t)off);
    ASSERT(!fd_readable(fd, 0)); /* no answer: the body goes on */
    /* What is acknowledged is in the file, as sent. */
    store_job job = job_of(a);
    FILE *f = fopen(job.input, "rb");
    ASSERT(f);
    char *got = malloc((size_t)first);
    ASSERT_EQ(fread(got, 1, (size_t)first, f), (size_t)first);
    fclose(f);
    ASSERT(memcmp(got, data, (size_t)first) == 0);
    free(got);
    store_job_release(&job);
    int64_t second = stream_until_acked(fd, true, a, data, &off, total, first);
    ASSERT(second > first);
    send_chunk(fd, data + off, total - off);
    send_all(fd, "0\r\n\r\n");
    ASSERT_EQ(raw_answer(fd, NULL), 200);
    close(fd);
    input_is(a, data, total);
    free(data);
    stop();
}

/* A body that goes wrong part way (too large, or its client vanishes)
 * leaves the input as the last acknowledged append left it: the next
 * append continues right after that, never after stray bytes. */
static void test_live_broken_bodies_leave_the_input_alone(void)
{
    start_with(64000);
    size_t total = 200000;
    char *data = pattern(total);
    char a[STORE_ID_SIZE];
    live_new(NULL, NULL, a);
    /* Too large for one body, though it came without a length. */
    int fd = raw_append_open(a, -1);
    store_job job = job_of(a);
    send_chunk(fd, data, 48000);
    double until = clock_now_s() + 10;
    while (file_size(job.input) < 48000 && clock_now_s() < until)
        usleep(2000);
    send_chunk(fd, data + 48000, 32000);
    send_all(fd, "0\r\n\r\n");
    buf body;
    buf_init(&body, 1 << 20);
    ASSERT_EQ(raw_answer(fd, &body), 413);
    ASSERT(strstr(body.data, "audio_too_large") != NULL);
    buf_release(&body);
    close(fd);
    store_job_release(&job);
    job = job_of(a);
    int64_t kept = job.input_bytes; /* what was acknowledged before the refusal */
    ASSERT(kept <= 48000);
    store_job_release(&job);
    input_is(a, data, (size_t)kept);
    /* Too large with what the job already has. */
    live_post_audio_ok(a, data + kept, 32000, kept + 32000);
    kept += 32000;
    resp r = live_post_audio(a, data + kept, 64000 - (size_t)kept + 1, NULL);
    assert_error(&r, 413, "invalid_request_error", NULL, "audio_too_large", NULL);
    release(&r);
    input_is(a, data, (size_t)kept);

    /* A client that vanishes mid-body: its unacknowledged bytes go. */
    fd = raw_append_open(a, 10000);
    job = job_of(a);
    send_bytes_raw(fd, data + kept, 1001);
    until = clock_now_s() + 10;
    while (file_size(job.input) < kept + 1001 && clock_now_s() < until)
        usleep(2000);
    ASSERT_EQ(file_size(job.input), kept + 1001); /* written, not acknowledged */
    store_job_release(&job);
    close(fd);
    /* Its lock goes with it; the next append starts where the store says. */
    until = clock_now_s() + 10;
    for (;;) {
        r = live_post_audio(a, data + kept, 320, NULL);
        if (r.status != 409 || clock_now_s() > until)
            break;
        release(&r);
        usleep(5000);
    }
    ASSERT_EQ(r.status, 200);
    release(&r);
    input_is(a, data, (size_t)kept + 320);
    free(data);
    stop();
}

static void test_live_end(void)
{
    start();
    char *data = pattern(32000);
    char a[STORE_ID_SIZE], plain[STORE_ID_SIZE], path[128];
    hark_err err = {0};
    live_new(NULL, NULL, a);
    live_post_audio_ok(a, data, 32000, 32000);
    resp r = http("POST", "/v1/live/j0123456789abcdef/end", NULL, NULL, 0, NULL);
    assert_error(&r, 404, "not_found_error", "id", "job_not_found", "j0123456789abcdef");
    release(&r);
    submit_direct(STORE_PRIO_NORMAL, plain);
    snprintf(path, sizeof path, "/v1/live/%s/end", plain);
    r = http("POST", path, NULL, NULL, 0, NULL);
    assert_error(&r, 409, "conflict_error", "id", "not_live", plain);
    release(&r);
    /* A bad format is refused before the dictation is ended. */
    snprintf(path, sizeof path, "/v1/live/%s/end?format=docx", a);
    r = http("POST", path, NULL, NULL, 0, NULL);
    assert_error(&r, 400, "invalid_request_error", "format", "invalid_value", "docx");
    release(&r);
    ASSERT(input_open(a));
    int64_t ev = 0;
    ASSERT_EQ(store_last_event_id(F.st, STORE_SCOPE_ALL, a, "input_ended", &ev, &err), 0);
    ASSERT_EQ(ev, 0);

    /* With no worker, /end waits, parked (no thread held), until the job
     * ends: here a session committed under its lease, as the runtime does. */
    snprintf(path, sizeof path, "/v1/live/%s/end", a);
    bg_request end;
    bg_start(&end, "POST", path, NULL);
    wait_input_closed(a);
    wait_parked(F.srv, 1);
    ASSERT(!atomic_load(&end.done));
    ASSERT_EQ(store_last_event_id(F.st, STORE_SCOPE_ALL, a, "input_ended", &ev, &err), 0);
    ASSERT(ev > 0);
    store_task t = claim(STORE_TASK_PREPARE, a);
    store_commit_info info;
    ASSERT_EQ(
        store_commit_live_chunk(F.st, t.token, 0, 16000, chunk_words[0], "hello", 0.1, &info, &err),
        0);
    ASSERT_EQ(store_finish_live(F.st, t.token, 1.0, &info, &err), 0);
    ASSERT(info.job_complete);
    ASSERT(!atomic_load(&end.done)); /* not yet: the result is ready when it succeeded */
    ASSERT_EQ(store_succeed(F.st, STORE_SCOPE_ALL, a, &err), 0);
    bg_join(&end);
    ASSERT_EQ(end.r.status, 200);
    ASSERT_STREQ(end.r.content_type, "application/json");
    json_t *j = body_json(&end.r);
    ASSERT(jstr(j, "text") && strstr(jstr(j, "text"), "hello"));
    json_decref(j);
    release(&end.r);
    ASSERT_EQ(park_count(F.srv->park), 0);
    /* Again, with a format: the same result at once. */
    snprintf(path, sizeof path, "/v1/live/%s/end?format=txt", a);
    r = http("POST", path, NULL, NULL, 0, NULL);
    ASSERT_EQ(r.status, 200);
    ASSERT(strstr(r.body.data, "hello") != NULL);
    ASSERT(strncmp(r.content_type, "text/plain", 10) == 0);
    release(&r);

    /* Cancelled while waiting: the wait ends with 409. */
    char b[STORE_ID_SIZE];
    live_new(NULL, NULL, b);
    snprintf(path, sizeof path, "/v1/live/%s/end", b);
    bg_start(&end, "POST", path, NULL);
    wait_parked(F.srv, 1);
    ASSERT_EQ(store_cancel(F.st, STORE_SCOPE_ALL, b, &err), 0);
    bg_join(&end);
    assert_error(&end.r, 409, "conflict_error", "id", "job_cancelled", b);
    release(&end.r);

    /* The server stops under a waiting /end: 503, try later. */
    char c[STORE_ID_SIZE];
    live_new(NULL, NULL, c);
    snprintf(path, sizeof path, "/v1/live/%s/end", c);
    bg_start(&end, "POST", path, NULL);
    wait_parked(F.srv, 1);
    server_stop(F.srv);
    F.srv = NULL;
    bg_join(&end);
    assert_error(&end.r, 503, "server_error", NULL, "shutting_down", c);
    release(&end.r);
    ASSERT_EQ(state_of(c), STORE_QUEUED); /* transcribed when the server is back */
    free(data);
    stop();
}

static void test_live_delete_in_progress(void)
{
    start();
    char *data = pattern(6400);
    char a[STORE_ID_SIZE], path[128];
    live_new(NULL, NULL, a);
    live_post_audio_ok(a, data, 6400, 6400);
    store_task t = claim(STORE_TASK_PREPARE, a); /* its session is running */
    store_job job = job_of(a);
    char *input = strdup(job.input);
    store_job_release(&job);
    ASSERT_EQ(file_size(input), 6400);
    snprintf(path, sizeof path, "/v1/jobs/%s", a);
    resp r = http("DELETE", path, NULL, NULL, 0, NULL);
    ASSERT_EQ(r.status, 200);
    json_t *j = body_json(&r);
    ASSERT(json_is_true(json_object_get(j, "deleted")));
    json_decref(j);
    release(&r);
    r = get(path);
    assert_error(&r, 404, "not_found_error", "id", "job_not_found", a);
    release(&r);
    hark_err err = {0};
    ASSERT_EQ(store_get_job(F.st, STORE_SCOPE_ALL, a, &job, &err), HARK_ENOENT);
    ASSERT_EQ(file_size(input), -1); /* its audio went with it */
    r = live_post_audio(a, data, 320, NULL);
    assert_error(&r, 404, "not_found_error", "id", "job_not_found", a);
    release(&r);
    store_commit_info info;
    ASSERT_EQ(store_commit_live_chunk(F.st, t.token, 0, 1600, "[]", NULL, 0.1, &info, &err),
              HARK_ESTALE);
    ASSERT_EQ(store_check(F.st, &err), 0);
    free(input);
    free(data);
    stop();
}

int main(void)
{
    RUN(test_submit_upload);
    RUN(test_submit_path);
    RUN(test_submit_bad_requests);
    RUN(test_upload_too_large);
    RUN(test_upload_on_full_disk);
    RUN(test_get_and_list);
    RUN(test_control);
    RUN(test_not_found_and_methods);
    RUN(test_result);
    RUN(test_sse_replay);
    RUN(test_sse_live);
    RUN(test_sse_keepalive);
    RUN(test_sse_global);
    RUN(test_stop_with_stream_open);
    RUN(test_slow_clients_block_nobody);
    RUN(test_stop_while_the_event_loops_are_slow);
    RUN(test_listen_loopback_only);
    RUN(test_delete_and_list_filters);
    RUN(test_tokens_see_only_their_jobs);
    RUN(test_no_tokens_every_job_is_everyones);
    RUN(test_openai_form_in_pieces);
    RUN(test_metrics_move);
    RUN(test_retry_a_failed_job);
    RUN(test_retry_under_limits_and_ceilings);
    RUN(test_live_create);
    RUN(test_live_create_ceilings_and_limits);
    RUN(test_live_append);
    RUN(test_live_append_after_end);
    RUN(test_live_is_the_owners_alone);
    RUN(test_live_appends_one_at_a_time);
    RUN(test_live_chunked_body_is_acknowledged_as_it_streams);
    RUN(test_live_broken_bodies_leave_the_input_alone);
    RUN(test_live_end);
    RUN(test_live_delete_in_progress);
    TEST_DONE();
}
