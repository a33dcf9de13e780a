/* fetch_test.c - URL redaction, and net_fetch_to_file against a real HTTP
 * server in the test (libmicrohttpd on 127.0.0.1): exact bytes, status
 * errors, the size cap (announced and counted), slow, silent and
 * unreachable servers, redirects within and out of http(s), cancel, and
 * credentials kept out of messages. Limits are 1-2 s to keep it quick.
 * Destinations: the test server is on loopback, which only an allow list
 * opens (g_local, as `url_allow = 127.0.0.1`); without it, loopback in
 * every spelling, by name and through redirects is refused before any
 * request, the same for an open and a closed port; proxies from the
 * environment are not used. */
#include "net/fetch.h"
#include "net/net.h"
#include "net/test_httpd.h"
#include "util/clock.h"
#include "util/test.h"

#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/stat.h>

#define DATA_LEN 100000
static unsigned char g_data[DATA_LEN]; /* what /data serves, filled in main */
static unsigned g_port;                /* of the running server, for Location headers */
static atomic_int g_requests;          /* requests the server has seen */
static net_dest_policy g_local;        /* url_allow = 127.0.0.1 (any port), set in main */

/* ---- the server ----------------------------------------------------- */

/* A body produced piece by piece: `piece` bytes every `delay_ms` until
 * `total`, from g_data's pattern. */
typedef struct feed {
    size_t piece;
    long delay_ms;
    uint64_t total;
} feed;

static ssize_t feed_read(void *cls, uint64_t pos, char *out, size_t max)
{
    feed *f = cls;
    if (pos >= f->total)
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (f->delay_ms)
        sleep_ms(f->delay_ms);
    size_t n = f->piece < max ? f->piece : max;
    if (n > f->total - pos)
        n = (size_t)(f->total - pos);
    for (size_t i = 0; i < n; i++)
        out[i] = (char)g_data[(pos + i) % DATA_LEN];
    return (ssize_t)n;
}

/* Reply with a fed body; announce its size (Content-Length) or not (chunked). */
static enum MHD_Result reply_feed(struct MHD_Connection *c, unsigned status, bool announce,
                                  size_t piece, long delay_ms, uint64_t total)
{
    feed *f = malloc(sizeof *f);
    if (!f)
        return MHD_NO;
    *f = (feed){.piece = piece, .delay_ms = delay_ms, .total = total};
    struct MHD_Response *r = MHD_create_response_from_callback(announce ? total : MHD_SIZE_UNKNOWN,
                                                               piece, feed_read, f, free);
    if (!r) {
        free(f);
        return MHD_NO;
    }
    enum MHD_Result rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

static uint64_t arg_u64(struct MHD_Connection *c, const char *name, uint64_t dflt)
{
    const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
    return v ? strtoull(v, NULL, 10) : dflt;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    static int seen;
    if (!*con_cls) { /* the first call only announces the request */
        *con_cls = &seen;
        atomic_fetch_add(&g_requests, 1);
        return MHD_YES;
    }
    char loc[256];
    if (strcmp(url, "/data") == 0) {
        struct MHD_Response *r =
            MHD_create_response_from_buffer(DATA_LEN, g_data, MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(r, "Content-Type", "audio/mpeg");
        enum MHD_Result rc = MHD_queue_response(c, MHD_HTTP_OK, r);
        MHD_destroy_response(r);
        return rc;
    }
    if (strcmp(url, "/empty") == 0)
        return httpd_reply(c, MHD_HTTP_OK, "", NULL, NULL);
    if (strcmp(url, "/missing") == 0)
        return httpd_reply(c, MHD_HTTP_NOT_FOUND, "not here\n", NULL, NULL);
    if (strcmp(url, "/big") == 0) /* announces 64 MiB */
        return reply_feed(c, MHD_HTTP_OK, true, 65536, 0, (uint64_t)64 << 20);
    if (strcmp(url, "/big-error") == 0)
        return reply_feed(c, MHD_HTTP_SERVICE_UNAVAILABLE, true, 65536, 0, (uint64_t)64 << 20);
    if (strcmp(url, "/chunked") == 0)
        return reply_feed(c, MHD_HTTP_OK, false, (size_t)arg_u64(c, "piece", 4096), 0,
                          arg_u64(c, "n", 200000));
    if (strcmp(url, "/trickle") == 0) /* 16 bytes per 100 ms: 160 B/s, for 5 s at most */
        return reply_feed(c, MHD_HTTP_OK, false, 16, 100, 16 * 50);
    if (strcmp(url, "/steady") == 0) /* 2000 bytes per 50 ms: 40 kB/s, for 10 s at most */
        return reply_feed(c, MHD_HTTP_OK, false, 2000, 50, 2000 * 200);
    if (strcmp(url, "/redirect") == 0)
        return httpd_reply(c, MHD_HTTP_FOUND, "", "Location", "/data");
    if (strcmp(url, "/redirect-twice") == 0)
        return httpd_reply(c, MHD_HTTP_MOVED_PERMANENTLY, "", "Location", "/redirect");
    if (strcmp(url, "/redirect-file") == 0)
        return httpd_reply(c, MHD_HTTP_FOUND, "", "Location", "file:///etc/passwd");
    if (strcmp(url, "/redirect-ftp") == 0) {
        snprintf(loc, sizeof loc, "ftp://127.0.0.1:%u/data", g_port);
        return httpd_reply(c, MHD_HTTP_FOUND, "", "Location", loc);
    }
    if (strcmp(url, "/redirect-port") == 0) { /* to /data on another port of 127.0.0.1 */
        snprintf(loc, sizeof loc, "http://127.0.0.1:%u/data", (unsigned)arg_u64(c, "port", 1));
        return httpd_reply(c, MHD_HTTP_FOUND, "", "Location", loc);
    }
    if (strcmp(url, "/redirect-host") == 0) { /* to /data here, by another host name */
        const char *h = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "host");
        snprintf(loc, sizeof loc, "http://%s:%u/data", h ? h : "localhost", g_port);
        return httpd_reply(c, MHD_HTTP_FOUND, "", "Location", loc);
    }
    if (strcmp(url, "/loop") == 0)
        return httpd_reply(c, MHD_HTTP_FOUND, "", "Location", "/loop");
    if (strcmp(url, "/no-location") == 0)
        return httpd_reply(c, MHD_HTTP_FOUND, "moved, but where?", NULL, NULL);
    return httpd_reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "unknown test route\n", NULL, NULL);
}

static struct MHD_Daemon *start(void)
{
    return httpd_start(on_request, NULL, &g_port);
}

static char *url_of(const char *path)
{
    static char u[512];
    snprintf(u, sizeof u, "http://127.0.0.1:%u%s", g_port, path);
    return u;
}

/* Quick limits for the tests: nothing here should take more than 2 s.
 * The test server is on loopback: allowed. */
static net_fetch_opts quick(void)
{
    net_fetch_opts o = net_fetch_defaults();
    o.connect_timeout_s = 2;
    o.low_speed_bytes = 1;
    o.low_speed_time_s = 2;
    o.total_timeout_s = 5;
    o.dest = &g_local;
    return o;
}

static bool contains(const char *s, const char *part)
{
    return strstr(s, part) != NULL;
}

#define ASSERT_HAS(s, part)                                                                        \
    do {                                                                                           \
        if (!contains((s), (part)))                                                                \
            TEST_FAIL_("expected \"%s\" in:\n  %s", (part), (s));                                  \
    } while (0)

#define ASSERT_LACKS(s, part)                                                                      \
    do {                                                                                           \
        if (contains((s), (part)))                                                                 \
            TEST_FAIL_("did not expect \"%s\" in:\n  %s", (part), (s));                            \
    } while (0)

/* ---- URL helpers ---------------------------------------------------- */

static void redact(const char *url, const char *want)
{
    char out[256];
    net_url_redact(url, out, sizeof out);
    ASSERT_STREQ(out, want);
}

static void url_redaction(void)
{
    redact("https://example.com/a/b.mp3", "https://example.com/a/b.mp3");
    redact("https://u:pw@example.com:8443/a.mp3?sig=x#frag", "https://example.com:8443/a.mp3?...");
    redact("http://user@host/x", "http://host/x");
    redact("http://us:p@ss@host/x", "http://host/x"); /* '@' in a password */
    redact("http://host/a@b", "http://host/a@b");     /* '@' in the path is not userinfo */
    redact("http://u:pw@host?x=1", "http://host?...");
    redact("http://host/#top", "http://host/?...");
    redact("user:pw@host/x", "host/x"); /* no scheme: still no password */
    redact("ftp://u:p@files/x", "ftp://files/x");
    redact("http://host/a\r\nb", "http://host/a??b");
    redact("", "");
    char small[16];
    net_url_redact("http://example.com/very/long/path", small, sizeof small);
    ASSERT_STREQ(small, "http://examp...");
    net_url_redact("http://u:pw@h/x", small, 1);
    ASSERT_STREQ(small, "");

    ASSERT(net_url_is_http("http://h"));
    ASSERT(net_url_is_http("HTTPS://h/x"));
    ASSERT(!net_url_is_http("http://"));
    ASSERT(!net_url_is_http("http:///path"));
    ASSERT(!net_url_is_http("ftp://h/x"));
    ASSERT(!net_url_is_http("file:///etc/passwd"));
    ASSERT(!net_url_is_http("h/x"));
    ASSERT(!net_url_is_http("httpx://h"));

    char host[64];
    net_url_host("https://u:pw@example.com:8443/a?b", host, sizeof host);
    ASSERT_STREQ(host, "example.com:8443");
    net_url_host("no scheme", host, sizeof host);
    ASSERT_STREQ(host, "");

    char d[128];
    net_error_detail("http://alice:s3cret@h/", "Could not resolve host: h\n", "fallback", d,
                     sizeof d);
    ASSERT_STREQ(d, "Could not resolve host: h");
    net_error_detail("http://alice:s3cret@h/", "login s3cret denied", "fallback", d, sizeof d);
    ASSERT_STREQ(d, "fallback");
    net_error_detail("http://alice:s3cret@h/", "user alice denied", "fallback", d, sizeof d);
    ASSERT_STREQ(d, "fallback");
    net_error_detail("http://h/", "", "fallback", d, sizeof d);
    ASSERT_STREQ(d, "fallback");
}

/* ---- downloads ------------------------------------------------------ */

static void success_exact_bytes(void)
{
    struct MHD_Daemon *d = start();
    net_fetch_opts o = quick();
    net_fetch_result res;
    hark_err err = {0};
    ASSERT_EQ(net_fetch_to_file(url_of("/data"), "in.mp3", &o, &res, &err), 0);
    ASSERT_EQ(res.bytes, DATA_LEN);
    ASSERT_EQ(res.status, 200);
    ASSERT_STREQ(res.content_type, "audio/mpeg");
    ASSERT_STREQ(res.effective_url, url_of("/data"));

    int fd = open("in.mp3", O_RDONLY);
    ASSERT(fd >= 0);
    static unsigned char got[DATA_LEN + 1];
    ASSERT_EQ(read(fd, got, sizeof got), DATA_LEN);
    close(fd);
    ASSERT_EQ(memcmp(got, g_data, DATA_LEN), 0);
    struct stat sb;
    ASSERT_EQ(stat("in.mp3", &sb), 0);
    ASSERT_EQ(sb.st_mode & 0777, 0600);
    ASSERT_EQ(dir_entries(), 1); /* no temporary left beside it */

    /* An empty body is a valid download. */
    ASSERT_EQ(net_fetch_to_file(url_of("/empty"), "empty", &o, &res, &err), 0);
    ASSERT_EQ(res.bytes, 0);
    ASSERT_EQ(stat("empty", &sb), 0);
    ASSERT_EQ(sb.st_size, 0);
    MHD_stop_daemon(d);
}

static void status_404_named_in_message(void)
{
    struct MHD_Daemon *d = start();
    net_fetch_opts o = quick();
    net_fetch_result res;
    hark_err err = {0};
    ASSERT_EQ(net_fetch_to_file(url_of("/missing"), "in.mp3", &o, &res, &err), HARK_ENOENT);
    ASSERT_HAS(err.msg, "HTTP 404");
    ASSERT_HAS(err.msg, url_of("/missing"));
    ASSERT_EQ(res.status, 404);
    ASSERT(!res.retryable);
    ASSERT_EQ(dir_entries(), 0);

    /* A failure leaves an existing file as it was. */
    FILE *f = fopen("keep", "w");
    ASSERT(f && fputs("old", f) >= 0 && fclose(f) == 0);
    ASSERT_EQ(net_fetch_to_file(url_of("/missing"), "keep", &o, &res, &err), HARK_ENOENT);
    char buf[8] = "";
    f = fopen("keep", "r");
    ASSERT(f && fgets(buf, sizeof buf, f));
    fclose(f);
    ASSERT_STREQ(buf, "old");
    ASSERT_EQ(dir_entries(), 1);
    MHD_stop_daemon(d);
}

static void credentials_never_in_messages(void)
{
    struct MHD_Daemon *d = start();
    net_fetch_opts o = quick();
    hark_err err = {0};
    char u[512];
    snprintf(u, sizeof u, "http://alice:s3cret@127.0.0.1:%u/missing?token=t0ps3cr3t", g_port);
    ASSERT_EQ(net_fetch_to_file(u, "x", &o, NULL, &err), HARK_ENOENT);
    ASSERT_HAS(err.msg, "HTTP 404");
    ASSERT_HAS(err.msg, "127.0.0.1");
    ASSERT_LACKS(err.msg, "alice");
    ASSERT_LACKS(err.msg, "s3cret");
    ASSERT_LACKS(err.msg, "t0ps3cr3t");

    /* The same through a transport error and a bad scheme. */
    snprintf(u, sizeof u, "http://alice:s3cret@127.0.0.1:%u/", closed_port());
    ASSERT_EQ(net_fetch_to_file(u, "x", &o, NULL, &err), HARK_EIO);
    ASSERT_HAS(err.msg, "cannot connect");
    ASSERT_LACKS(err.msg, "alice");
    ASSERT_LACKS(err.msg, "s3cret");
    ASSERT_EQ(net_fetch_to_file("ftp://alice:s3cret@h/x", "x", &o, NULL, &err), HARK_EINVAL);
    ASSERT_LACKS(err.msg, "s3cret");
    ASSERT_EQ(dir_entries(), 0);
    MHD_stop_daemon(d);
}

static void announced_length_over_cap_refused(void)
{
    struct MHD_Daemon *d = start();
    net_fetch_opts o = quick();
    o.max_bytes = 1 << 20;
    net_fetch_result res;
    hark_err err = {0};
    double t0 = clock_now_s();
    ASSERT_EQ(net_fetch_to_file(url_of("/big"), "big", &o, &res, &err), HARK_ETOOLONG);
    ASSERT_LE(clock_now_s() - t0, 1.0);
    ASSERT_HAS(err.msg, "announces 67108864 bytes");
    ASSERT_HAS(err.msg, "cap of 1048576 bytes");
    ASSERT_EQ(res.bytes, 0); /* refused from the headers: no byte written */
    ASSERT(!res.retryable);
    ASSERT_EQ(dir_entries(), 0);

    /* An error page that announces a large body is reported as the error. */
    ASSERT_EQ(net_fetch_to_file(url_of("/big-error"), "big", &o, &res, &err), HARK_EIO);
    ASSERT_HAS(err.msg, "HTTP 503");
    ASSERT(res.retryable);
    ASSERT_EQ(dir_entries(), 0);
    MHD_stop_daemon(d);
}

static void chunked_body_over_cap_aborted(void)
{
    struct MHD_Daemon *d = start();
    net_fetch_opts o = quick();
    o.max_bytes = 10000;
    net_fetch_result res;
    hark_err err = {0};
    ASSERT_EQ(net_fetch_to_file(url_of("/chunked?n=200000"), "c", &o, &res, &err), HARK_ETOOLONG);
    ASSERT_HAS(err.msg, "over the cap of 10000 bytes");
    ASSERT_LE(res.bytes, 10000);
    ASSERT_EQ(dir_entries(), 0);

    /* One byte over, in pieces of one byte: the last byte is refused. */
    ASSERT_EQ(net_fetch_to_file(url_of("/chunked?n=10001&piece=1000"), "c", &o, &res, &err),
              HARK_ETOOLONG);
    ASSERT_EQ(dir_entries(), 0);

    /* Exactly the cap is fine. */
    ASSERT_EQ(net_fetch_to_file(url_of("/chunked?n=10000&piece=1000"), "c", &o, &res, &err), 0);
    ASSERT_EQ(res.bytes, 10000);
    struct stat sb;
    ASSERT_EQ(stat("c", &sb), 0);
    ASSERT_EQ(sb.st_size, 10000);
    MHD_stop_daemon(d);
}

static void trickle_below_low_speed_abandoned(void)
{
    struct MHD_Daemon *d = start();
    net_fetch_opts o = quick();
    o.low_speed_bytes = 1000; /* the server sends 160 B/s */
    o.low_speed_time_s = 1;
    net_fetch_result res;
    hark_err err = {0};
    double t0 = clock_now_s();
    ASSERT_EQ(net_fetch_to_file(url_of("/trickle"), "t", &o, &res, &err), HARK_ETIMEDOUT);
    double took = clock_now_s() - t0;
    ASSERT_LE(took, 3.0);
    ASSERT_HAS(err.msg, "too slow (under 1000 bytes/s for 1 s)");
    ASSERT(res.retryable);
    ASSERT_EQ(dir_entries(), 0);
    MHD_stop_daemon(d);
}

static void total_timeout(void)
{
    struct MHD_Daemon *d = start();
    net_fetch_opts o = quick();
    o.total_timeout_s = 1; /* the steady body would take 10 s */
    net_fetch_result res;
    hark_err err = {0};
    double t0 = clock_now_s();
    ASSERT_EQ(net_fetch_to_file(url_of("/steady"), "s", &o, &res, &err), HARK_ETIMEDOUT);
    double took = clock_now_s() - t0;
    ASSERT_LE(0.9, took);
    ASSERT_LE(took, 2.0);
    ASSERT_HAS(err.msg, "not done within the time limit of 1 s");
    ASSERT(res.bytes > 0);
    ASSERT_EQ(dir_entries(), 0);
    MHD_stop_daemon(d);
}

/* A server that accepts the connection and then says nothing. */
static void silent_server_gives_up_in_time(void)
{
    unsigned port;
    int fd = listener_start(16, &port);
    char u[128];
    snprintf(u, sizeof u, "http://127.0.0.1:%u/x", port);
    net_fetch_opts o = quick();
    o.low_speed_time_s = 1;
    hark_err err = {0};
    double t0 = clock_now_s();
    ASSERT_EQ(net_fetch_to_file(u, "x", &o, NULL, &err), HARK_ETIMEDOUT);
    ASSERT_LE(clock_now_s() - t0, 2.5);
    ASSERT_HAS(err.msg, "accepted the connection but sent no answer for 1 s");

    /* Without the low-speed check, the total timeout still ends it. */
    o.low_speed_bytes = 0;
    o.total_timeout_s = 1;
    t0 = clock_now_s();
    ASSERT_EQ(net_fetch_to_file(u, "x", &o, NULL, &err), HARK_ETIMEDOUT);
    ASSERT_LE(clock_now_s() - t0, 2.0);
    ASSERT_HAS(err.msg, "time limit of 1 s");
    ASSERT_EQ(dir_entries(), 0);
    close(fd);
}

/* A listener whose backlog is full: SYNs go unanswered, so the connection
 * never completes and the connect timeout decides. */
static void connect_timeout(void)
{
    unsigned port;
    int fd = listener_start(0, &port);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fill[4];
    for (int i = 0; i < 4; i++) {
        fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        ASSERT(fill[i] >= 0);
        (void)connect(fill[i], (struct sockaddr *)&sa, sizeof sa); /* EINPROGRESS is fine */
    }
    sleep_ms(50);
    char u[128];
    snprintf(u, sizeof u, "http://127.0.0.1:%u/x", port);
    net_fetch_opts o = quick();
    o.connect_timeout_s = 1;
    net_fetch_result res;
    hark_err err = {0};
    double t0 = clock_now_s();
    ASSERT_EQ(net_fetch_to_file(u, "x", &o, &res, &err), HARK_ETIMEDOUT);
    ASSERT_LE(clock_now_s() - t0, 2.0);
    ASSERT_HAS(err.msg, "cannot connect to 127.0.0.1:");
    ASSERT_HAS(err.msg, "timed out after 1 s");
    ASSERT(res.retryable);
    for (int i = 0; i < 4; i++)
        close(fill[i]);
    close(fd);
}

static void unreachable_and_unresolvable(void)
{
    char u[128];
    snprintf(u, sizeof u, "http://127.0.0.1:%u/x", closed_port());
    net_fetch_opts o = quick();
    net_fetch_result res;
    hark_err err = {0};
    ASSERT_EQ(net_fetch_to_file(u, "x", &o, &res, &err), HARK_EIO);
    ASSERT_HAS(err.msg, "cannot connect to 127.0.0.1:");
    ASSERT_HAS(err.msg, "Connection refused");
    ASSERT(res.retryable);
    ASSERT(!res.host_unresolved);

    /* .invalid never resolves (RFC 2606). Where the resolver is slow to
     * say so, the connect timeout ends it instead. */
    int rc = net_fetch_to_file("http://hark-test.invalid/x", "x", &o, &res, &err);
    if (rc == HARK_EIO) {
        ASSERT_HAS(err.msg, "cannot resolve host 'hark-test.invalid'");
        ASSERT(res.host_unresolved);
    } else {
        ASSERT_EQ(rc, HARK_ETIMEDOUT);
    }
    ASSERT_EQ(dir_entries(), 0);
}

static void bad_schemes_refused(void)
{
    const char *bad[] = {"ftp://example.com/x", "file:///etc/passwd", "example.com/x", "",
                         "gopher://h/",         "http:///no-host"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        hark_err err = {0};
        net_fetch_result res;
        ASSERT_EQ(net_fetch_to_file(bad[i], "x", NULL, &res, &err), HARK_EINVAL);
        ASSERT_HAS(err.msg, "only http:// and https:// URLs are allowed");
        ASSERT(!res.retryable);
    }
    ASSERT_EQ(dir_entries(), 0);
}

static void redirects_within_http_followed(void)
{
    struct MHD_Daemon *d = start();
    net_fetch_opts o = quick();
    net_fetch_result res;
    hark_err err = {0};
    ASSERT_EQ(net_fetch_to_file(url_of("/redirect-twice"), "r", &o, &res, &err), 0);
    ASSERT_EQ(res.bytes, DATA_LEN);
    ASSERT_EQ(res.status, 200);
    ASSERT_STREQ(res.effective_url, url_of("/data"));

    o.max_redirects = 1;
    ASSERT_EQ(net_fetch_to_file(url_of("/redirect-twice"), "r2", &o, &res, &err), HARK_EINVAL);
    ASSERT_HAS(err.msg, "more than 1 redirects");
    o.max_redirects = 0;
    ASSERT_EQ(net_fetch_to_file(url_of("/redirect"), "r2", &o, &res, &err), HARK_EINVAL);
    ASSERT_HAS(err.msg, "redirects to http://127.0.0.1:");
    ASSERT_HAS(err.msg, "/data and redirects are not followed");
    o = quick();
    ASSERT_EQ(net_fetch_to_file(url_of("/loop"), "r2", &o, &res, &err), HARK_EINVAL);
    ASSERT_HAS(err.msg, "more than 5 redirects");
    ASSERT_EQ(net_fetch_to_file(url_of("/no-location"), "r2", &o, &res, &err), HARK_EINVAL);
    ASSERT_HAS(err.msg, "HTTP 302");
    ASSERT_EQ(dir_entries(), 1); /* only r */
    MHD_stop_daemon(d);
}

static void redirects_to_other_schemes_refused(void)
{
    struct MHD_Daemon *d = start();
    net_fetch_opts o = quick();
    net_fetch_result res;
    hark_err err = {0};
    ASSERT_EQ(net_fetch_to_file(url_of("/redirect-file"), "f", &o, &res, &err), HARK_EINVAL);
    ASSERT_HAS(err.msg, "refused a redirect to file:///etc/passwd");
    ASSERT_EQ(res.bytes, 0);
    ASSERT(!res.retryable);
    ASSERT_EQ(net_fetch_to_file(url_of("/redirect-ftp"), "f", &o, &res, &err), HARK_EINVAL);
    ASSERT_HAS(err.msg, "refused a redirect to ftp://127.0.0.1:");
    ASSERT_HAS(err.msg, "only http:// and https:// are allowed");
    ASSERT_EQ(dir_entries(), 0);
    MHD_stop_daemon(d);
}

/* ---- destinations --------------------------------------------------- */

/* The message of a refused fetch of url, with `port` written as PORT; it
 * must say "not allowed", not be retryable, leave no file, and the server
 * must have seen no request. */
static void expect_refused(const char *url, const net_fetch_opts *o, unsigned port, char *msg,
                           size_t n)
{
    net_fetch_result res;
    hark_err err = {0};
    int before = atomic_load(&g_requests);
    double t0 = clock_now_s();
    int rc = net_fetch_to_file(url, "x", o, &res, &err);
    if (rc != HARK_EINVAL)
        TEST_FAIL_("%s: rc %d, want HARK_EINVAL: %s", url, rc, err.msg);
    ASSERT_HAS(err.msg, "is not allowed (a private, loopback or reserved address)");
    ASSERT_LACKS(err.msg, "s3cret");
    ASSERT(!res.retryable);
    ASSERT_EQ(res.status, 0);
    ASSERT_LE(clock_now_s() - t0, 0.5); /* nothing waited for */
    ASSERT_EQ(atomic_load(&g_requests), before);
    ASSERT_EQ(dir_entries(), 0);
    mask_port(err.msg, port, msg, n);
}

/* Without an allow list, loopback is refused however the URL spells it,
 * before a packet is sent: an open port (the test server's) and a closed
 * one fail with the same words. */
static void loopback_refused_in_every_spelling(void)
{
    struct MHD_Daemon *d = start();
    unsigned closed = closed_port();
    const char *hosts[] = {"127.0.0.1",
                           "2130706433",
                           "0x7f000001",
                           "0x7f.1",
                           "017700000001",
                           "0177.0.0.1",
                           "127.1",
                           "0.0.0.0",
                           "0",
                           "localhost",
                           "LOCALHOST",
                           "[::1]",
                           "[0:0:0:0:0:0:0:1]",
                           "[::ffff:127.0.0.1]",
                           "[::ffff:7f00:1]",
                           "[::]",
                           "[64:ff9b::7f00:1]"};
    net_fetch_opts o = quick();
    o.dest = NULL; /* the default: public addresses only */
    for (size_t i = 0; i < sizeof hosts / sizeof hosts[0]; i++) {
        char open_url[256], closed_url[256], open_msg[512], closed_msg[512];
        snprintf(open_url, sizeof open_url, "http://alice:s3cret@%s:%u/data", hosts[i], g_port);
        snprintf(closed_url, sizeof closed_url, "http://alice:s3cret@%s:%u/data", hosts[i], closed);
        expect_refused(open_url, &o, g_port, open_msg, sizeof open_msg);
        expect_refused(closed_url, &o, closed, closed_msg, sizeof closed_msg);
        ASSERT_STREQ(open_msg, closed_msg);
        if (i == 0)
            ASSERT_STREQ(open_msg, "cannot download http://127.0.0.1:PORT/data: destination "
                                   "127.0.0.1:PORT is not allowed (a private, loopback or "
                                   "reserved address)");
    }
    /* NULL options are the defaults: refused too. */
    char msg[512];
    expect_refused(url_of("/data"), NULL, g_port, msg, sizeof msg);
    /* Other private ranges (never contacted, so no route is needed). */
    const char *others[] = {"http://10.0.0.1/x",    "http://169.254.169.254/latest/meta-data",
                            "http://192.168.1.1/x", "http://100.64.0.1/x",
                            "http://[fe80::1]/x",   "http://[fd00::1]/x",
                            "http://224.0.0.1/x"};
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
        expect_refused(others[i], &o, 0, msg, sizeof msg);
    MHD_stop_daemon(d);
}

/* url_allow = 127.0.0.1:PORT opens that host and port, as the URL names
 * it, hop by hop: a redirect from it to another port or to another name of
 * the same address is judged again, and refused. */
static void allow_list_per_host_and_port(void)
{
    struct MHD_Daemon *d = start();
    net_fetch_opts o = quick();
    net_dest_policy p = {0};
    net_allow a;
    char spec[64], msg[512];
    snprintf(spec, sizeof spec, "127.0.0.1:%u", g_port);
    ASSERT_EQ(net_allow_parse(spec, &a, NULL), 0);
    ASSERT_EQ(net_dest_policy_add(&p, &a, NULL), 0);
    o.dest = &p;
    net_fetch_result res;
    hark_err err = {0};
    ASSERT_EQ(net_fetch_to_file(url_of("/data"), "a", &o, &res, &err), 0);
    ASSERT_EQ(res.bytes, DATA_LEN);
    /* The same address spelled another way is the same host to libcurl. */
    char u[256];
    snprintf(u, sizeof u, "http://2130706433:%u/data", g_port);
    ASSERT_EQ(net_fetch_to_file(u, "b", &o, &res, &err), 0);
    ASSERT_EQ(unlink("a"), 0);
    ASSERT_EQ(unlink("b"), 0);
    /* Another name for it is not. */
    snprintf(u, sizeof u, "http://localhost:%u/data", g_port);
    expect_refused(u, &o, g_port, msg, sizeof msg);
    ASSERT_HAS(msg, "destination localhost:PORT is not allowed");

    /* Redirects from the allowed server: one request (the redirect), then
     * the next hop is refused, open port or closed, with the same words. */
    unsigned other;
    int fd = listener_start(16, &other); /* open, and would never answer */
    unsigned closed = closed_port();
    char open_msg[512], closed_msg[512];
    int before = atomic_load(&g_requests);
    snprintf(u, sizeof u, "http://127.0.0.1:%u/redirect-port?port=%u", g_port, other);
    ASSERT_EQ(net_fetch_to_file(u, "r", &o, &res, &err), HARK_EINVAL);
    ASSERT_HAS(err.msg, "(redirected to http://127.0.0.1:");
    ASSERT_HAS(err.msg, "is not allowed (a private, loopback or reserved address)");
    ASSERT(!res.retryable);
    snprintf(open_msg, sizeof open_msg, "%s", err.msg);
    snprintf(u, sizeof u, "http://127.0.0.1:%u/redirect-port?port=%u", g_port, closed);
    ASSERT_EQ(net_fetch_to_file(u, "r", &o, &res, &err), HARK_EINVAL);
    snprintf(closed_msg, sizeof closed_msg, "%s", err.msg);
    ASSERT_EQ(atomic_load(&g_requests), before + 2); /* the two redirects, nothing more */
    char want[512];
    snprintf(want, sizeof want,
             "cannot download http://127.0.0.1:%u/redirect-port?... (redirected to "
             "http://127.0.0.1:%u/data): destination 127.0.0.1:%u is not allowed (a private, "
             "loopback or reserved address)",
             g_port, other, other);
    ASSERT_STREQ(open_msg, want);
    snprintf(want, sizeof want,
             "cannot download http://127.0.0.1:%u/redirect-port?... (redirected to "
             "http://127.0.0.1:%u/data): destination 127.0.0.1:%u is not allowed (a private, "
             "loopback or reserved address)",
             g_port, closed, closed);
    ASSERT_STREQ(closed_msg, want);
    const char *names[] = {"localhost", "[::ffff:127.0.0.1]", "0x7f.1.2.3"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(u, sizeof u, "http://127.0.0.1:%u/redirect-host?host=%s", g_port, names[i]);
        ASSERT_EQ(net_fetch_to_file(u, "r", &o, &res, &err), HARK_EINVAL);
        ASSERT_HAS(err.msg, "is not allowed");
    }
    ASSERT_EQ(dir_entries(), 0);

    /* A host allowed without a port: any port; names compare in any case. */
    net_dest_policy_release(&p);
    ASSERT_EQ(net_allow_parse("LocalHost", &a, NULL), 0);
    ASSERT_EQ(net_dest_policy_add(&p, &a, NULL), 0);
    o.dest = &p;
    snprintf(u, sizeof u, "http://localhost:%u/data", g_port);
    ASSERT_EQ(net_fetch_to_file(u, "c", &o, &res, &err), 0);
    snprintf(u, sizeof u, "http://LOCALHOST:%u/data", g_port);
    ASSERT_EQ(net_fetch_to_file(u, "c", &o, &res, &err), 0);
    ASSERT_EQ(unlink("c"), 0);
    expect_refused(url_of("/data"), &o, g_port, msg, sizeof msg); /* 127.0.0.1 is another host */
    /* net_dest_anywhere: everything (hark transcribe). */
    o.dest = &net_dest_anywhere;
    ASSERT_EQ(net_fetch_to_file(url_of("/data"), "d", &o, &res, &err), 0);
    ASSERT_EQ(unlink("d"), 0);
    net_dest_policy_release(&p);
    close(fd);
    MHD_stop_daemon(d);
}

/* A proxy in the environment is not used: the address judged must be the
 * address connected to. (Here the proxy's port is closed: using it would
 * fail the download.) */
static void proxy_environment_ignored(void)
{
    struct MHD_Daemon *d = start();
    char proxy[64];
    snprintf(proxy, sizeof proxy, "http://127.0.0.1:%u", closed_port());
    setenv("http_proxy", proxy, 1);
    setenv("ALL_PROXY", proxy, 1);
    net_fetch_opts o = quick();
    net_fetch_result res;
    hark_err err = {0};
    int rc = net_fetch_to_file(url_of("/data"), "p", &o, &res, &err);
    unsetenv("http_proxy");
    unsetenv("ALL_PROXY");
    if (rc != 0)
        TEST_FAIL_("rc %d: %s", rc, err.msg);
    ASSERT_EQ(res.bytes, DATA_LEN);
    MHD_stop_daemon(d);
}

typedef struct canceller {
    double at; /* cancel from this clock_now_s() on */
    int calls;
} canceller;

static bool cancel_after(void *ctx)
{
    canceller *c = ctx;
    c->calls++;
    return clock_now_s() >= c->at;
}

static void cancel_stops_transfer(void)
{
    struct MHD_Daemon *d = start();
    net_fetch_opts o = quick();
    canceller c = {.at = clock_now_s() + 0.3};
    o.cancel = cancel_after;
    o.cancel_ctx = &c;
    net_fetch_result res;
    hark_err err = {0};
    double t0 = clock_now_s();
    ASSERT_EQ(net_fetch_to_file(url_of("/steady"), "s", &o, &res, &err), HARK_ECANCELED);
    double took = clock_now_s() - t0;
    ASSERT_LE(0.3, took);
    ASSERT_LE(took, 1.5);
    ASSERT(c.calls > 1);
    ASSERT_HAS(err.msg, "cancelled");
    ASSERT(!res.retryable);
    ASSERT_EQ(dir_entries(), 0);

    /* Against a silent server too: the check runs while nothing arrives,
     * often (a worker must yield to a push-to-talk clip within 100 ms). */
    unsigned port;
    int fd = listener_start(16, &port);
    char u[128];
    snprintf(u, sizeof u, "http://127.0.0.1:%u/x", port);
    c = (canceller){.at = clock_now_s() + 0.2};
    t0 = clock_now_s();
    ASSERT_EQ(net_fetch_to_file(u, "s", &o, &res, &err), HARK_ECANCELED);
    took = clock_now_s() - t0;
    printf("cancelled a silent transfer %.0f ms after the cancel (%d checks)\n",
           (took - 0.2) * 1000, c.calls);
    ASSERT_LE(took, 0.2 + 0.3);
    ASSERT(c.calls >= 3);
    close(fd);
    MHD_stop_daemon(d);
}

static void unwritable_destination(void)
{
    struct MHD_Daemon *d = start();
    net_fetch_opts o = quick();
    hark_err err = {0};
    ASSERT_EQ(net_fetch_to_file(url_of("/data"), "no/such/dir/x", &o, NULL, &err), HARK_ENOENT);
    ASSERT_HAS(err.msg, "cannot write 'no/such/dir/x'");
    ASSERT_EQ(net_fetch_to_file(url_of("/data"), "dir/", &o, NULL, &err), HARK_EINVAL);
    ASSERT_EQ(dir_entries(), 0);
    MHD_stop_daemon(d);
}

int main(void)
{
    for (size_t i = 0; i < DATA_LEN; i++)
        g_data[i] = (unsigned char)(i * 7 + i / 251);
    /* A proxy from the environment would carry the requests for 127.0.0.1
     * elsewhere. */
    const char *proxies[] = {"http_proxy", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"};
    for (size_t i = 0; i < sizeof proxies / sizeof proxies[0]; i++)
        unsetenv(proxies[i]);
    hark_err err = {0};
    if (net_global_init(&err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 2;
    }
    net_allow local;
    if (net_allow_parse("127.0.0.1", &local, &err) || net_dest_policy_add(&g_local, &local, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 2;
    }
    RUN(url_redaction);
    RUN(success_exact_bytes);
    RUN(status_404_named_in_message);
    RUN(credentials_never_in_messages);
    RUN(announced_length_over_cap_refused);
    RUN(chunked_body_over_cap_aborted);
    RUN(trickle_below_low_speed_abandoned);
    RUN(total_timeout);
    RUN(silent_server_gives_up_in_time);
    RUN(connect_timeout);
    RUN(unreachable_and_unresolvable);
    RUN(bad_schemes_refused);
    RUN(redirects_within_http_followed);
    RUN(redirects_to_other_schemes_refused);
    RUN(cancel_stops_transfer);
    RUN(unwritable_destination);
    RUN(loopback_refused_in_every_spelling);
    RUN(allow_list_per_host_and_port);
    RUN(proxy_environment_ignored);
    net_dest_policy_release(&g_local);
    net_global_cleanup();
    TEST_DONE();
}
