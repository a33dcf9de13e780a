/* server_conn_test.c - the server's connections (server.c, park.h,
 * conn_guard.h, origin.h) against hostile and plain clients, over raw
 * sockets on 127.0.0.1: errors answered after the body (not while the
 * client still writes), the header deadline and the minimum body rate,
 * the per-address limit, idle connections that hold no thread, waiting
 * requests answered 503 at stop, event streams of ended jobs (204), the
 * Host and Origin rules and CORS preflights, multipart preambles and
 * epilogues.
 *
 * Waits are on conditions with a deadline that only bounds a failure. */
#include "server/server.h"

#include "auth/tokens.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/notify.h"
#include "util/test.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#define SECRET "hk-test-secret-0123456789"

static struct {
    notify changes;
    store *st;
    server *srv;
    int port;
    token_table tokens;
} F;

static void start_opts(server_opts *o)
{
    ASSERT_EQ(notify_init(&F.changes), 0);
    store_options so = {.on_commit = notify_signal, .commit_ctx = &F.changes};
    hark_err err = {0};
    if (store_open("hark.db", &so, &F.st, &err))
        TEST_FAIL_("store_open: %s", err.msg);
    o->listen = "127.0.0.1:0";
    o->state_dir = "state";
    o->st = F.st;
    o->changes = &F.changes;
    if (server_start(o, &F.srv, &err))
        TEST_FAIL_("server_start: %s", err.msg);
    F.port = server_port(F.srv);
}

static void start(void)
{
    server_opts o = {0};
    start_opts(&o);
}

/* A server that wants the token SECRET (name "t", ceiling normal). */
static void start_with_token(server_opts *o)
{
    serve_token t = {.name = "t", .secret = SECRET, .max_priority = STORE_PRIO_NORMAL};
    hark_err err = {0};
    ASSERT_EQ(tokens_init(&F.tokens, &t, 1, &err), 0);
    o->tokens = &F.tokens;
    start_opts(o);
}

static void stop(void)
{
    server_stop(F.srv);
    F.srv = NULL;
    store_close(F.st);
    notify_destroy(&F.changes);
    tokens_release(&F.tokens);
}

/* ---- raw HTTP ----------------------------------------------------------- */

static int connect_from(const char *source)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT(fd >= 0);
    if (source) {
        struct sockaddr_in b = {.sin_family = AF_INET};
        ASSERT_EQ(inet_pton(AF_INET, source, &b.sin_addr), 1);
        ASSERT_EQ(bind(fd, (struct sockaddr *)&b, sizeof b), 0);
    }
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)F.port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

static int connect_raw(void)
{
    return connect_from(NULL);
}

/* Send everything; false if the peer closed or reset first (what a Node
 * client reports as "Connection error"). */
static bool send_bytes(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

static bool send_str(int fd, const char *s)
{
    return send_bytes(fd, s, strlen(s));
}

/* Wait up to seconds for fd to be readable; false on timeout. */
static bool readable(int fd, double seconds)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, (int)(seconds * 1000)) > 0;
}

/* True when the server closed the connection (EOF or reset) within
 * seconds, reading and dropping anything it sent first. */
static bool closed_within(int fd, double seconds)
{
    double until = clock_now_s() + seconds;
    char b[4096];
    while (clock_now_s() < until) {
        if (!readable(fd, until - clock_now_s()))
            return false;
        ssize_t n = recv(fd, b, sizeof b, 0);
        if (n <= 0)
            return true;
    }
    return false;
}

typedef struct answer {
    int status; /* 0: no answer (closed, reset, or timeout) */
    char head[4096];
    buf body;
} answer;

static const char *header_of(const answer *a, const char *name, char *out, size_t n)
{
    size_t nl = strlen(name);
    for (const char *p = strstr(a->head, "\r\n"); p && p[2]; p = strstr(p + 2, "\r\n")) {
        const char *line = p + 2;
        if (strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
            const char *v = line + nl + 1;
            while (*v == ' ')
                v++;
            size_t vl = strcspn(v, "\r\n");
            snprintf(out, n, "%.*s", (int)vl, v);
            return out;
        }
    }
    return NULL;
}

/* Read one response (headers, then a Content-Length body) within seconds. */
static answer read_answer(int fd, double seconds)
{
    answer a = {0};
    buf_init(&a.body, 1 << 20);
    char raw[8192];
    size_t have = 0;
    double until = clock_now_s() + seconds;
    char *end = NULL;
    while (!end && have < sizeof raw - 1 && clock_now_s() < until) {
        if (!readable(fd, until - clock_now_s()))
            return a;
        ssize_t n = recv(fd, raw + have, sizeof raw - 1 - have, 0);
        if (n <= 0)
            return a;
        have += (size_t)n;
        raw[have] = '\0';
        end = strstr(raw, "\r\n\r\n");
    }
    if (!end)
        return a;
    size_t hl = (size_t)(end - raw) + 4;
    snprintf(a.head, sizeof a.head, "%.*s", (int)hl, raw);
    if (sscanf(raw, "HTTP/1.%*d %d", &a.status) != 1)
        a.status = 0;
    char cl[32];
    long want = header_of(&a, "Content-Length", cl, sizeof cl) ? strtol(cl, NULL, 10) : 0;
    ASSERT_EQ(buf_append(&a.body, raw + hl, have - hl), 0);
    while ((long)a.body.len < want && clock_now_s() < until) {
        if (!readable(fd, until - clock_now_s()))
            break;
        ssize_t n = recv(fd, raw, sizeof raw, 0);
        if (n <= 0)
            break;
        ASSERT_EQ(buf_append(&a.body, raw, (size_t)n), 0);
    }
    return a;
}

/* One request on a new connection: head (with its blank line), then
 * body_len bytes of body (body, or 'x' repeated when body is NULL). */
static answer request(const char *head, const char *body, size_t body_len, bool *sent_all)
{
    int fd = connect_raw();
    bool ok = send_str(fd, head);
    char chunk[65536];
    memset(chunk, 'x', sizeof chunk);
    for (size_t off = 0; ok && off < body_len;) {
        size_t n = body_len - off < sizeof chunk ? body_len - off : sizeof chunk;
        ok = send_bytes(fd, body ? body + off : chunk, n);
        off += n;
    }
    if (sent_all)
        *sent_all = ok;
    answer a = read_answer(fd, 10);
    close(fd);
    return a;
}

static void answer_release(answer *a)
{
    buf_release(&a->body);
}

static bool body_has(const answer *a, const char *s)
{
    return a->body.data && strstr(a->body.data, s);
}

static int thread_count(void)
{
    DIR *d = opendir("/proc/self/task");
    ASSERT(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* ---- errors come after the body --------------------------------------- */

/* A client that writes its whole body before it reads (Node's http does)
 * must see the error status, not a reset: 401, 404, 413 with large
 * bodies. */
static void test_errors_after_the_body(void)
{
    server_opts o = {.max_upload_bytes = 4 << 20};
    start_with_token(&o);
    size_t big = 1 << 20; /* far past the 64 KiB a socket buffers */
    char head[512];
    struct {
        const char *path, *auth, *ctype;
        int status;
        const char *code;
    } cases[] = {
        {"/v1/audio/transcriptions", "Bearer wrong-token-0123456789",
         "multipart/form-data; boundary=XyZ123", 401, "invalid_api_key"},
        {"/v1/audio/transcriptions", NULL, "multipart/form-data; boundary=XyZ123", 401,
         "missing_api_key"},
        {"/v1/audio/nonexistent", "Bearer " SECRET, "multipart/form-data; boundary=XyZ123", 404,
         "unknown_route"},
        {"/v1/jobs", "Bearer " SECRET, "application/json", 413, "body_too_large"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        snprintf(head, sizeof head,
                 "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s%s%sContent-Type: %s\r\n"
                 "Content-Length: %zu\r\n\r\n",
                 cases[i].path, cases[i].auth ? "Authorization: " : "",
                 cases[i].auth ? cases[i].auth : "", cases[i].auth ? "\r\n" : "", cases[i].ctype,
                 big);
        bool sent = false;
        answer a = request(head, NULL, big, &sent);
        if (!sent || a.status != cases[i].status || !body_has(&a, cases[i].code))
            TEST_FAIL_("%s: sent all %d, status %d, body %.200s", cases[i].path, sent, a.status,
                       a.body.data ? a.body.data : "");
        answer_release(&a);
    }
    /* A file larger than the limit, in a body under the limit and the
     * slack for the framing: 413 with the upload's error, after the body. */
    static const char part[] = "--XyZ123\r\nContent-Disposition: form-data; name=\"file\"; "
                               "filename=\"big.wav\"\r\n\r\n";
    static const char close_[] = "\r\n--XyZ123--\r\n";
    size_t file = (4 << 20) + 1000, len = sizeof part - 1 + file + sizeof close_ - 1;
    char *body = malloc(len);
    ASSERT(body);
    memcpy(body, part, sizeof part - 1);
    memset(body + sizeof part - 1, 'x', file);
    memcpy(body + sizeof part - 1 + file, close_, sizeof close_ - 1);
    snprintf(
        head, sizeof head,
        "POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " SECRET
        "\r\nContent-Type: multipart/form-data; boundary=XyZ123\r\nContent-Length: %zu\r\n\r\n",
        len);
    bool sent = false;
    answer a = request(head, body, len, &sent);
    free(body);
    ASSERT(sent);
    ASSERT_EQ(a.status, 413);
    ASSERT(body_has(&a, "file_too_large"));
    answer_release(&a);
    /* Declared over the limit (here 1.5 times it): nothing is stored, the
     * body is read and dropped, and the 413 arrives after it. */
    snprintf(head, sizeof head,
             "POST /v1/audio/transcriptions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: "
             "Bearer " SECRET "\r\nContent-Type: multipart/form-data; boundary=XyZ123\r\n"
             "Content-Length: %d\r\n\r\n",
             6 << 20);
    a = request(head, NULL, 6 << 20, &sent);
    ASSERT(sent);
    ASSERT_EQ(a.status, 413);
    ASSERT(body_has(&a, "file_too_large"));
    answer_release(&a);
    /* A client that asks before sending (Expect: 100-continue) hears the
     * error at once and sends nothing. */
    int fd = connect_raw();
    ASSERT(send_str(fd, "POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                        "application/json\r\nContent-Length: 1000000\r\nExpect: "
                        "100-continue\r\n\r\n"));
    a = read_answer(fd, 5);
    ASSERT_EQ(a.status, 401);
    answer_release(&a);
    close(fd);
    stop();
}

/* ---- slow clients --------------------------------------------------------- */

static void test_header_deadline(void)
{
    server_opts o = {.header_timeout_s = 1};
    start_opts(&o);
    int fd = connect_raw();
    ASSERT(send_str(fd, "GET /healthz HTTP/1.1\r\nHo"));
    /* A byte every 200 ms keeps libmicrohttpd's idle timeout away, not
     * the total deadline. */
    double t0 = clock_now_s();
    bool cut = false;
    while (!cut && clock_now_s() - t0 < 6) {
        if (!send_str(fd, "x") || closed_within(fd, 0.2))
            cut = true;
    }
    ASSERT(cut);
    ASSERT(clock_now_s() - t0 >= 0.9);
    close(fd);
    /* A keep-alive connection idle past the deadline is closed too; one
     * that asks in time is served. */
    fd = connect_raw();
    ASSERT(send_str(fd, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
    answer a = read_answer(fd, 5);
    ASSERT_EQ(a.status, 200);
    answer_release(&a);
    ASSERT(closed_within(fd, 5));
    close(fd);
    stop();
}

static void test_minimum_body_rate(void)
{
    server_opts o = {.header_timeout_s = 1, .body_min_rate = 1000};
    start_opts(&o);
    int fd = connect_raw();
    ASSERT(send_str(fd, "POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                        "application/json\r\nContent-Length: 60000\r\n\r\n{"));
    double t0 = clock_now_s();
    bool cut = false;
    while (!cut && clock_now_s() - t0 < 8) {
        if (!send_str(fd, "  ") || closed_within(fd, 0.1))
            cut = true;
    }
    ASSERT(cut);
    close(fd);
    /* A body that keeps up is read whole. */
    fd = connect_raw();
    ASSERT(send_str(fd, "POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                        "application/json\r\nContent-Length: 8\r\n\r\n{\"a\""));
    nanosleep(&(struct timespec){.tv_nsec = 300000000}, NULL);
    ASSERT(send_str(fd, ": 1}"));
    answer a = read_answer(fd, 5);
    ASSERT_EQ(a.status, 400); /* read, parsed, refused for its content */
    answer_release(&a);
    close(fd);
    stop();
}

static void test_per_address_limit(void)
{
    server_opts o = {.max_connections_per_address = 4};
    start_opts(&o);
    int held[4];
    for (int i = 0; i < 4; i++) {
        held[i] = connect_raw();
        ASSERT(send_str(held[i], "GET /healthz HTTP/1.1\r\nHo"));
    }
    /* The fifth from the same address is closed unanswered. */
    int fifth = connect_raw();
    send_str(fifth, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    ASSERT(closed_within(fifth, 5));
    close(fifth);
    /* Another address is served. */
    int other = connect_from("127.0.0.2");
    ASSERT(send_str(other, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
    answer a = read_answer(other, 5);
    ASSERT_EQ(a.status, 200);
    answer_release(&a);
    close(other);
    for (int i = 0; i < 4; i++)
        close(held[i]);
    stop();
}

/* Hundreds of connections that hold a request half sent, or sit idle
 * between requests, cost no thread, and a plain client is served at once. */
static void test_idle_connections_hold_no_thread(void)
{
    int n = UNDER_ASAN ? 200 : 600;
    struct rlimit rl;
    ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_cur < (rlim_t)(2 * n + 100)) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    server_opts o = {.max_connections_per_address = -1};
    start_opts(&o);
    int base = thread_count();
    int *fds = calloc((size_t)n, sizeof *fds);
    ASSERT(fds);
    for (int i = 0; i < n; i++) {
        fds[i] = connect_raw();
        ASSERT(send_str(fds[i], i % 2 ? "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: "
                                      : "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
    }
    for (int i = 0; i < n; i += 2) {
        answer a = read_answer(fds[i], 10);
        ASSERT_EQ(a.status, 200);
        answer_release(&a);
    }
    ASSERT_EQ(thread_count(), base);
    double t0 = clock_now_s();
    answer a = request("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", NULL, 0, NULL);
    ASSERT_EQ(a.status, 200);
    answer_release(&a);
    ASSERT_LE(clock_now_s() - t0, 2.0);
    for (int i = 0; i < n; i++)
        close(fds[i]);
    free(fds);
    stop();
}

/* ---- waiting requests -------------------------------------------------- */

static const char oa_body[] =
    "--XyZ123\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\n"
    "whisper-1\r\n--XyZ123\r\nContent-Disposition: form-data; name=\"file\"; "
    "filename=\"a.wav\"\r\nContent-Type: audio/wav\r\n\r\nRIFFxxxx\r\n"
    "--XyZ123--\r\n";

static void *stop_soon(void *arg)
{
    (void)arg;
    nanosleep(&(struct timespec){.tv_nsec = 300000000}, NULL);
    server_stop(F.srv);
    return NULL;
}

/* An OpenAI request waiting for its job when the server stops gets the
 * documented 503, every time: never an empty reply. */
static void test_stop_answers_waiting_requests(void)
{
    start();
    int fds[8];
    char head[256];
    snprintf(head, sizeof head,
             "POST /v1/audio/transcriptions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
             "multipart/form-data; boundary=XyZ123\r\nContent-Length: %zu\r\n\r\n",
             sizeof oa_body - 1);
    for (int i = 0; i < 8; i++) {
        fds[i] = connect_raw();
        ASSERT(send_str(fds[i], head));
        ASSERT(send_str(fds[i], oa_body));
    }
    /* Every request is in (its job queued, nobody runs it). */
    double until = clock_now_s() + 10;
    store_job_list l = {0};
    for (;;) {
        store_job_filter f;
        store_job_filter_init(&f);
        hark_err err = {0};
        ASSERT_EQ(store_list_jobs(F.st, STORE_SCOPE_ALL, &f, &l, &err), 0);
        size_t n = l.n;
        store_job_list_release(&l);
        if (n == 8)
            break;
        ASSERT(clock_now_s() < until);
        nanosleep(&(struct timespec){.tv_nsec = 10000000}, NULL);
    }
    pthread_t t;
    ASSERT_EQ(pthread_create(&t, NULL, stop_soon, NULL), 0);
    for (int i = 0; i < 8; i++) {
        answer a = read_answer(fds[i], 10);
        if (a.status != 503 || !body_has(&a, "shutting_down"))
            TEST_FAIL_("request %d: status %d", i, a.status);
        char ra[16];
        ASSERT(header_of(&a, "Retry-After", ra, sizeof ra));
        answer_release(&a);
        close(fds[i]);
    }
    pthread_join(t, NULL);
    F.srv = NULL;
    store_close(F.st);
    notify_destroy(&F.changes);
}

/* A client that leaves while its request waits: the job is cancelled. */
static void test_waiting_client_leaves(void)
{
    start();
    char head[256];
    snprintf(head, sizeof head,
             "POST /v1/audio/transcriptions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
             "multipart/form-data; boundary=XyZ123\r\nContent-Length: %zu\r\n\r\n",
             sizeof oa_body - 1);
    int fd = connect_raw();
    ASSERT(send_str(fd, head));
    ASSERT(send_str(fd, oa_body));
    double until = clock_now_s() + 10;
    store_job_list l = {0};
    hark_err err = {0};
    store_job_filter f;
    store_job_filter_init(&f);
    for (;;) {
        ASSERT_EQ(store_list_jobs(F.st, STORE_SCOPE_ALL, &f, &l, &err), 0);
        if (l.n == 1)
            break;
        store_job_list_release(&l);
        ASSERT(clock_now_s() < until);
        nanosleep(&(struct timespec){.tv_nsec = 10000000}, NULL);
    }
    char id[STORE_ID_SIZE];
    snprintf(id, sizeof id, "%s", l.jobs[0].id);
    store_job_list_release(&l);
    close(fd);
    for (;;) {
        store_job job;
        ASSERT_EQ(store_get_job(F.st, STORE_SCOPE_ALL, id, &job, &err), 0);
        int state = job.state;
        store_job_release(&job);
        if (state == STORE_CANCELLED)
            break;
        ASSERT(clock_now_s() < until);
        nanosleep(&(struct timespec){.tv_nsec = 10000000}, NULL);
    }
    stop();
}

/* ---- event streams of ended jobs ----------------------------------------- */

static void test_events_of_an_ended_job(void)
{
    start();
    store_job_spec spec = {.kind = "transcribe", .input = "/nonexistent/in.wav", .priority = 2};
    char id[STORE_ID_SIZE], head[256];
    hark_err err = {0};
    ASSERT_EQ(store_submit(F.st, &spec, id, &err), 0);
    ASSERT_EQ(store_cancel(F.st, STORE_SCOPE_ALL, id, &err), 0);
    /* From the start: the events, then the end of the stream. */
    snprintf(head, sizeof head, "GET /v1/jobs/%s/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", id);
    int fd = connect_raw();
    ASSERT(send_str(fd, head));
    answer a = read_answer(fd, 5);
    ASSERT_EQ(a.status, 200);
    answer_release(&a);
    close(fd);
    store_event_list ev;
    ASSERT_EQ(store_list_events(F.st, STORE_SCOPE_ALL, id, 0, 100, &ev, &err), 0);
    ASSERT(ev.n >= 2);
    long long last = (long long)ev.events[ev.n - 1].id;
    store_event_list_release(&ev);
    /* An EventSource reconnecting after the final event: 204, the answer
     * after which browsers stop reconnecting. */
    snprintf(head, sizeof head,
             "GET /v1/jobs/%s/events HTTP/1.1\r\nHost: 127.0.0.1\r\nLast-Event-ID: %lld\r\n\r\n",
             id, last);
    a = request(head, NULL, 0, NULL);
    ASSERT_EQ(a.status, 204);
    answer_release(&a);
    stop();
}

/* ---- Host, Origin, CORS ------------------------------------------------------ */

static void test_host_and_origin(void)
{
    const char *origins[] = {"https://app.example"};
    server_opts o = {.cors_origins = origins, .n_cors_origins = 1};
    start_opts(&o);
    /* DNS rebinding: a name the server does not serve. */
    answer a = request("GET /v1/jobs HTTP/1.1\r\nHost: evil.example:8090\r\n\r\n", NULL, 0, NULL);
    ASSERT_EQ(a.status, 421);
    ASSERT(body_has(&a, "host_not_allowed"));
    answer_release(&a);
    a = request("GET /v1/jobs HTTP/1.1\r\nHost: localhost\r\n\r\n", NULL, 0, NULL);
    ASSERT_EQ(a.status, 200);
    answer_release(&a);
    /* A cross-site POST (a form, or fetch without a preflight) from a page
     * not allowed changes nothing. */
    const char json[] = "{\"path\": \"/nonexistent.wav\"}";
    char head[512];
    snprintf(head, sizeof head,
             "POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: https://evil.example\r\n"
             "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
             sizeof json - 1);
    a = request(head, json, sizeof json - 1, NULL);
    ASSERT_EQ(a.status, 403);
    ASSERT(body_has(&a, "origin_not_allowed"));
    answer_release(&a);
    snprintf(head, sizeof head,
             "POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: null\r\n"
             "Content-Type: text/plain\r\nContent-Length: %zu\r\n\r\n",
             sizeof json - 1);
    a = request(head, json, sizeof json - 1, NULL);
    ASSERT_EQ(a.status, 403);
    answer_release(&a);
    store_job_list l;
    store_job_filter f;
    store_job_filter_init(&f);
    hark_err err = {0};
    ASSERT_EQ(store_list_jobs(F.st, STORE_SCOPE_ALL, &f, &l, &err), 0);
    ASSERT_EQ(l.n, 0);
    store_job_list_release(&l);
    /* Reading from a page not allowed: answered, without the header that
     * would let the page see it. */
    char v[256];
    a = request("GET /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: https://evil.example\r\n\r\n",
                NULL, 0, NULL);
    ASSERT_EQ(a.status, 200);
    ASSERT(!header_of(&a, "Access-Control-Allow-Origin", v, sizeof v));
    answer_release(&a);
    /* An allowed page: preflight, then the answer carries its origin. */
    a = request(
        "OPTIONS /v1/audio/transcriptions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Origin: https://app.example\r\nAccess-Control-Request-Method: POST\r\n"
        "Access-Control-Request-Headers: authorization, content-type, x-stainless-os\r\n\r\n",
        NULL, 0, NULL);
    ASSERT_EQ(a.status, 204);
    ASSERT_STREQ(header_of(&a, "Access-Control-Allow-Origin", v, sizeof v), "https://app.example");
    ASSERT(strstr(header_of(&a, "Access-Control-Allow-Methods", v, sizeof v), "POST"));
    ASSERT_STREQ(header_of(&a, "Access-Control-Allow-Headers", v, sizeof v),
                 "authorization, content-type, x-stainless-os");
    ASSERT(strstr(header_of(&a, "Vary", v, sizeof v), "Origin"));
    answer_release(&a);
    a = request("OPTIONS /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: https://evil.example\r\n"
                "Access-Control-Request-Method: POST\r\n\r\n",
                NULL, 0, NULL);
    ASSERT_EQ(a.status, 403);
    ASSERT(!header_of(&a, "Access-Control-Allow-Origin", v, sizeof v));
    answer_release(&a);
    a = request("GET /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: https://app.example\r\n\r\n",
                NULL, 0, NULL);
    ASSERT_EQ(a.status, 200);
    ASSERT_STREQ(header_of(&a, "Access-Control-Allow-Origin", v, sizeof v), "https://app.example");
    answer_release(&a);
    /* Errors carry it too, so the page can read why. */
    a = request("GET /v1/jobs/j0000000000000000 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                "Origin: https://app.example\r\n\r\n",
                NULL, 0, NULL);
    ASSERT_EQ(a.status, 404);
    ASSERT_STREQ(header_of(&a, "Access-Control-Allow-Origin", v, sizeof v), "https://app.example");
    answer_release(&a);
    /* The server's own pages are same-origin. */
    snprintf(head, sizeof head,
             "POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nOrigin: http://127.0.0.1:%d\r\n"
             "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
             F.port, F.port, sizeof json - 1);
    a = request(head, json, sizeof json - 1, NULL);
    ASSERT_EQ(a.status, 403); /* no roots: refused for the path, not the origin */
    ASSERT(!body_has(&a, "origin_not_allowed"));
    answer_release(&a);
    stop();
}

/* ---- multipart framing -------------------------------------------------------- */

/* RFC 2046: a preamble before the first boundary and an epilogue after the
 * last are ignored (the openai npm package 4.x sends a CRLF after it). */
static void test_multipart_preamble_and_epilogue(void)
{
    start();
    const char *bodies[] = {
        "--XyZ123\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n\r\n"
        "RIFF\r\n--XyZ123--\r\n\r\n",
        "This is a preamble.\r\n--XyZ123\r\nContent-Disposition: form-data; name=\"file\"; "
        "filename=\"a.wav\"\r\n\r\nRIFF\r\n--XyZ123--\r\nAnd an epilogue, of any length.\r\n",
        "--XyZ123\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n\r\n"
        "RIFF\r\n--XyZ123--",
    };
    for (size_t i = 0; i < sizeof bodies / sizeof *bodies; i++) {
        char head[256];
        snprintf(head, sizeof head,
                 "POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; "
                 "boundary=XyZ123\r\nContent-Length: %zu\r\n\r\n",
                 strlen(bodies[i]));
        answer a = request(head, bodies[i], strlen(bodies[i]), NULL);
        if (a.status != 201)
            TEST_FAIL_("body %zu: %d %.200s", i, a.status, a.body.data ? a.body.data : "");
        answer_release(&a);
    }
    /* The same body cut in pieces anywhere still works: the close
     * delimiter is found across them. */
    const char *body = bodies[1];
    size_t n = strlen(body);
    for (size_t cut = 1; cut < n; cut += 7) {
        char head[256];
        snprintf(head, sizeof head,
                 "POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; "
                 "boundary=\"XyZ123\"\r\nContent-Length: %zu\r\n\r\n",
                 n);
        int fd = connect_raw();
        ASSERT(send_str(fd, head));
        ASSERT(send_bytes(fd, body, cut));
        nanosleep(&(struct timespec){.tv_nsec = 2000000}, NULL);
        ASSERT(send_bytes(fd, body + cut, n - cut));
        answer a = read_answer(fd, 5);
        if (a.status != 201)
            TEST_FAIL_("cut at %zu: %d %.200s", cut, a.status, a.body.data ? a.body.data : "");
        answer_release(&a);
        close(fd);
    }
    stop();
}

int main(void)
{
    RUN(test_errors_after_the_body);
    RUN(test_header_deadline);
    RUN(test_minimum_body_rate);
    RUN(test_per_address_limit);
    RUN(test_idle_connections_hold_no_thread);
    RUN(test_stop_answers_waiting_requests);
    RUN(test_waiting_client_leaves);
    RUN(test_events_of_an_ended_job);
    RUN(test_host_and_origin);
    RUN(test_multipart_preamble_and_epilogue);
    TEST_DONE();
}
