/* webhook_test.c - webhook_deliver against a real receiver in the test
 * (libmicrohttpd on 127.0.0.1) that checks the headers and verifies the
 * signature with net/hmac.h; the outcome of each kind of answer (2xx, 5xx,
 * 429, 4xx, 3xx), never repeating the receiver's body, and of silent or
 * absent receivers; receivers on loopback refused (in any spelling, the
 * same for an open and a closed port) unless allowed (g_local, as
 * `url_allow = 127.0.0.1`); the signing scheme against a value from
 * `openssl dgst`; and the retry schedule. */
#include "net/hmac.h"
#include "net/net.h"
#include "net/test_httpd.h"
#include "net/webhook.h"
#include "util/clock.h"
#include "util/test.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#define SECRET "whsec_test"
#define BODY "{\"event\":\"job.succeeded\",\"job\":\"j1\"}"

static unsigned g_port;
static net_dest_policy g_local; /* url_allow = 127.0.0.1 (any port), set in main */

/* ---- the receiver --------------------------------------------------- */

/* What the receiver saw of the last request (one request at a time). */
typedef struct received {
    int requests;
    char method[16], path[64];
    char content_type[64], user_agent[64], event[64], delivery[64], timestamp[32], signature[128],
        expect[64];
    char body[2 << 20];
    size_t body_len;
    bool signature_ok; /* verified the way docs/operations.md tells receivers to */
} received;

static received g_rcv;
static char g_big[1 << 20]; /* an answer over WEBHOOK_RESPONSE_MAX */

static void copy_header(struct MHD_Connection *c, const char *name, char *out, size_t n)
{
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
    snprintf(out, n, "%s", v ? v : "");
}

/* The receiver's check: HMAC-SHA256(secret, timestamp "." body) in hex,
 * after "sha256=". (A real receiver compares in constant time.) */
static bool verify(const received *r)
{
    struct iovec parts[] = {
        {.iov_base = (void *)r->timestamp, .iov_len = strlen(r->timestamp)},
        {.iov_base = (void *)".", .iov_len = 1},
        {.iov_base = (void *)r->body, .iov_len = r->body_len},
    };
    unsigned char mac[NET_HMAC_SHA256_LEN];
    char hex[NET_HMAC_SHA256_HEX_SIZE], want[NET_HMAC_SHA256_HEX_SIZE + 8];
    if (net_hmac_sha256(SECRET, strlen(SECRET), parts, 3, mac) != 0)
        return false;
    net_hex(mac, sizeof mac, hex);
    snprintf(want, sizeof want, "sha256=%s", hex);
    return strcmp(want, r->signature) == 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    static int marker;
    if (!*con_cls) { /* a new request */
        *con_cls = &marker;
        memset(&g_rcv, 0, sizeof g_rcv);
        return MHD_YES;
    }
    if (*upload_size) { /* a piece of the body */
        size_t room = sizeof g_rcv.body - g_rcv.body_len;
        size_t n = *upload_size < room ? *upload_size : room;
        memcpy(g_rcv.body + g_rcv.body_len, upload, n);
        g_rcv.body_len += n;
        *upload_size = 0;
        return MHD_YES;
    }
    received *r = &g_rcv;
    r->requests = 1;
    snprintf(r->method, sizeof r->method, "%s", method);
    snprintf(r->path, sizeof r->path, "%s", url);
    copy_header(c, "Content-Type", r->content_type, sizeof r->content_type);
    copy_header(c, "User-Agent", r->user_agent, sizeof r->user_agent);
    copy_header(c, "X-Hark-Event", r->event, sizeof r->event);
    copy_header(c, "X-Hark-Delivery", r->delivery, sizeof r->delivery);
    copy_header(c, "X-Hark-Timestamp", r->timestamp, sizeof r->timestamp);
    copy_header(c, "X-Hark-Signature", r->signature, sizeof r->signature);
    copy_header(c, "Expect", r->expect, sizeof r->expect);
    r->signature_ok = verify(r);

    if (strcmp(url, "/ok") == 0)
        return httpd_reply(c, r->signature_ok ? 200 : 401, "thanks", NULL, NULL);
    if (strcmp(url, "/created") == 0)
        return httpd_reply(c, 204, "", NULL, NULL);
    if (strcmp(url, "/fail500") == 0)
        return httpd_reply(c, 500, "  boom\nsecond line", NULL, NULL);
    if (strcmp(url, "/bad") == 0)
        return httpd_reply(c, 400, "bad signature", NULL, NULL);
    if (strcmp(url, "/teapot") == 0)
        return httpd_reply(c, 418, "", NULL, NULL);
    if (strcmp(url, "/busy") == 0)
        return httpd_reply(c, 429, "slow down", "Retry-After", "7");
    if (strcmp(url, "/redirect") == 0)
        return httpd_reply(c, 302, "", "Location", "https://u:pw@elsewhere.example/hook?k=v");
    if (strcmp(url, "/big") == 0) {
        struct MHD_Response *resp =
            MHD_create_response_from_buffer(sizeof g_big, g_big, MHD_RESPMEM_PERSISTENT);
        enum MHD_Result rc = MHD_queue_response(c, 200, resp);
        MHD_destroy_response(resp);
        return rc;
    }
    return httpd_reply(c, 404, "no such hook", NULL, NULL);
}

static struct MHD_Daemon *start(void)
{
    return httpd_start(on_request, NULL, &g_port);
}

static const char *url_of(const char *path)
{
    static char u[256];
    snprintf(u, sizeof u, "http://127.0.0.1:%u%s", g_port, path);
    return u;
}

static webhook_request request(const char *url)
{
    return (webhook_request){.url = url,
                             .secret = SECRET,
                             .event = "job.succeeded",
                             .delivery_id = "d-0123456789",
                             .body = BODY,
                             .body_len = strlen(BODY),
                             .timestamp = 1700000000};
}

/* Quick timeouts; the receiver is on loopback: allowed. */
static webhook_opts quick(void)
{
    return (webhook_opts){.connect_timeout_s = 1, .timeout_s = 1, .dest = &g_local};
}

#define ASSERT_HAS(s, part)                                                                        \
    do {                                                                                           \
        if (!strstr((s), (part)))                                                                  \
            TEST_FAIL_("expected \"%s\" in:\n  %s", (part), (s));                                  \
    } while (0)

#define ASSERT_LACKS(s, part)                                                                      \
    do {                                                                                           \
        if (strstr((s), (part)))                                                                   \
            TEST_FAIL_("did not expect \"%s\" in:\n  %s", (part), (s));                            \
    } while (0)

/* ---- deliveries ----------------------------------------------------- */

static void delivered_with_signed_headers(void)
{
    struct MHD_Daemon *d = start();
    webhook_request rq = request(url_of("/ok"));
    webhook_opts o = quick();
    webhook_result res;
    hark_err err = {0};
    ASSERT_EQ(webhook_deliver(&rq, &o, &res, &err), 0);
    ASSERT_EQ(res.outcome, WEBHOOK_DELIVERED);
    ASSERT_EQ(res.status, 200);
    ASSERT_EQ(res.timestamp, 1700000000);
    ASSERT_STREQ(err.msg, "");

    received *r = &g_rcv;
    ASSERT_EQ(r->requests, 1);
    ASSERT_STREQ(r->method, "POST");
    ASSERT_STREQ(r->path, "/ok");
    ASSERT_STREQ(r->content_type, "application/json");
    ASSERT_STREQ(r->user_agent, "hark/" HARK_VERSION);
    ASSERT_STREQ(r->event, "job.succeeded");
    ASSERT_STREQ(r->delivery, "d-0123456789");
    ASSERT_STREQ(r->timestamp, "1700000000");
    ASSERT_STREQ(r->signature,
                 "sha256=87cd48a5ffee2dfb03a9b248577983976a09ff2e629f839587089c70a295c249");
    ASSERT_STREQ(r->expect, "");
    ASSERT_EQ(r->body_len, strlen(BODY));
    ASSERT_EQ(memcmp(r->body, BODY, r->body_len), 0);
    ASSERT(r->signature_ok);

    /* Any 2xx is delivered, with or without a body. */
    ASSERT_EQ(webhook_deliver(&(webhook_request){.url = url_of("/created"),
                                                 .secret = SECRET,
                                                 .event = "e",
                                                 .delivery_id = "d"},
                              &o, &res, &err),
              0);
    ASSERT_EQ(res.status, 204);
    ASSERT_EQ(g_rcv.body_len, 0);
    ASSERT(g_rcv.signature_ok);
    MHD_stop_daemon(d);
}

static void timestamp_defaults_to_now(void)
{
    struct MHD_Daemon *d = start();
    webhook_request rq = request(url_of("/ok"));
    rq.timestamp = 0;
    webhook_opts o = quick();
    webhook_result res;
    int64_t before = (int64_t)time(NULL);
    ASSERT_EQ(webhook_deliver(&rq, &o, &res, NULL), 0);
    int64_t after = (int64_t)time(NULL);
    ASSERT_LE(before, res.timestamp);
    ASSERT_LE(res.timestamp, after);
    char ts[32];
    snprintf(ts, sizeof ts, "%" PRId64, res.timestamp);
    ASSERT_STREQ(g_rcv.timestamp, ts);
    ASSERT(g_rcv.signature_ok);
    MHD_stop_daemon(d);
}

/* A large body goes out whole and signed, without "Expect: 100-continue"
 * (which curl adds over 1 MiB, and which costs a second with a receiver
 * that does not answer it). */
static void large_body_signed(void)
{
    struct MHD_Daemon *d = start();
    static char body[(1 << 20) + 4096];
    memset(body, 'a', sizeof body);
    body[0] = '"';
    body[sizeof body - 1] = '"';
    webhook_request rq = request(url_of("/ok"));
    rq.body = body;
    rq.body_len = sizeof body;
    webhook_opts o = quick();
    webhook_result res;
    ASSERT_EQ(webhook_deliver(&rq, &o, &res, NULL), 0);
    ASSERT_EQ(g_rcv.body_len, sizeof body);
    ASSERT(g_rcv.signature_ok);
    ASSERT_STREQ(g_rcv.expect, "");
    MHD_stop_daemon(d);
}

static void server_error_is_retryable(void)
{
    struct MHD_Daemon *d = start();
    webhook_request rq = request(url_of("/fail500"));
    webhook_opts o = quick();
    webhook_result res;
    hark_err err = {0};
    ASSERT_EQ(webhook_deliver(&rq, &o, &res, &err), HARK_EIO);
    ASSERT_EQ(res.outcome, WEBHOOK_RETRY);
    ASSERT_EQ(res.status, 500);
    ASSERT_HAS(err.msg, "cannot deliver webhook to http://127.0.0.1:");
    ASSERT_HAS(err.msg, "receiver answered HTTP 500 (Internal Server Error)");
    ASSERT_LACKS(err.msg, "boom"); /* what the receiver said is not repeated */
    ASSERT_LACKS(err.msg, "second line");
    MHD_stop_daemon(d);
}

static void throttled_is_retryable_with_retry_after(void)
{
    struct MHD_Daemon *d = start();
    webhook_request rq = request(url_of("/busy"));
    webhook_opts o = quick();
    webhook_result res;
    hark_err err = {0};
    ASSERT_EQ(webhook_deliver(&rq, &o, &res, &err), HARK_EIO);
    ASSERT_EQ(res.outcome, WEBHOOK_RETRY);
    ASSERT_EQ(res.status, 429);
    ASSERT_EQ(res.retry_after_s, 7);
    ASSERT_HAS(err.msg, "HTTP 429 (Too Many Requests)");
    ASSERT_LACKS(err.msg, "slow down");
    MHD_stop_daemon(d);
}

static void client_error_is_permanent(void)
{
    struct MHD_Daemon *d = start();
    webhook_request rq = request(url_of("/bad"));
    webhook_opts o = quick();
    webhook_result res;
    hark_err err = {0};
    ASSERT_EQ(webhook_deliver(&rq, &o, &res, &err), HARK_EINVAL);
    ASSERT_EQ(res.outcome, WEBHOOK_FAILED);
    ASSERT_EQ(res.status, 400);
    char want[128];
    snprintf(want, sizeof want,
             "cannot deliver webhook to http://127.0.0.1:%u/bad: receiver answered HTTP 400 (Bad "
             "Request)",
             g_port);
    ASSERT_STREQ(err.msg, want);
    ASSERT_LACKS(err.msg, "bad signature");
    ASSERT_EQ(res.retry_after_s, 0);

    rq.url = url_of("/teapot");
    ASSERT_EQ(webhook_deliver(&rq, &o, &res, &err), HARK_EINVAL);
    ASSERT_EQ(res.outcome, WEBHOOK_FAILED);
    ASSERT_EQ(res.status, 418);
    ASSERT_HAS(err.msg, "receiver answered HTTP 418"); /* no phrase of ours for it */
    ASSERT_LACKS(err.msg, "(");
    MHD_stop_daemon(d);
}

static void redirect_is_failure_not_followed(void)
{
    struct MHD_Daemon *d = start();
    webhook_request rq = request(url_of("/redirect"));
    webhook_opts o = quick();
    webhook_result res;
    hark_err err = {0};
    ASSERT_EQ(webhook_deliver(&rq, &o, &res, &err), HARK_EINVAL);
    ASSERT_EQ(res.outcome, WEBHOOK_FAILED);
    ASSERT_EQ(res.status, 302);
    ASSERT_EQ(g_rcv.requests, 1);
    ASSERT_STREQ(g_rcv.path, "/redirect");
    ASSERT_HAS(err.msg, "HTTP 302, a redirect to https://elsewhere.example/hook?...");
    ASSERT_HAS(err.msg, "redirects are not followed");
    ASSERT_LACKS(err.msg, "pw");
    MHD_stop_daemon(d);
}

/* A 2xx with a body over the cap: the status decided, the rest is dropped. */
static void large_answer_capped_still_delivered(void)
{
    struct MHD_Daemon *d = start();
    webhook_request rq = request(url_of("/big"));
    webhook_opts o = quick();
    webhook_result res;
    hark_err err = {0};
    ASSERT_EQ(webhook_deliver(&rq, &o, &res, &err), 0);
    ASSERT_EQ(res.outcome, WEBHOOK_DELIVERED);
    ASSERT_EQ(res.status, 200);
    MHD_stop_daemon(d);
}

static void stalled_receiver_retryable_after_timeout(void)
{
    unsigned port;
    int fd = listener_start(16, &port);
    char u[128];
    snprintf(u, sizeof u, "http://127.0.0.1:%u/hook", port);
    webhook_request rq = request(u);
    webhook_opts o = quick();
    webhook_result res;
    hark_err err = {0};
    double t0 = clock_now_s();
    ASSERT_EQ(webhook_deliver(&rq, &o, &res, &err), HARK_ETIMEDOUT);
    double took = clock_now_s() - t0;
    ASSERT_LE(0.9, took);
    ASSERT_LE(took, 2.0);
    ASSERT_NEAR(res.elapsed_s, took, 0.1);
    ASSERT_EQ(res.outcome, WEBHOOK_RETRY);
    ASSERT_EQ(res.status, 0);
    ASSERT_HAS(err.msg, "no answer within 1 s");
    close(fd);
}

static atomic_bool g_cancel;

static void *cancel_later(void *arg)
{
    (void)arg;
    sleep_ms(200);
    atomic_store(&g_cancel, true);
    return NULL;
}

/* A stopping daemon abandons an attempt that waits for a silent receiver. */
static void cancelled_attempt_ends_early(void)
{
    unsigned port;
    int fd = listener_start(16, &port);
    char u[128];
    snprintf(u, sizeof u, "http://127.0.0.1:%u/hook", port);
    webhook_request rq = request(u);
    webhook_opts o = {
        .connect_timeout_s = 10, .timeout_s = 10, .cancel = &g_cancel, .dest = &g_local};
    webhook_result res;
    hark_err err = {0};
    pthread_t th;
    ASSERT_EQ(pthread_create(&th, NULL, cancel_later, NULL), 0);
    double t0 = clock_now_s();
    ASSERT_EQ(webhook_deliver(&rq, &o, &res, &err), HARK_ECANCELED);
    double took = clock_now_s() - t0;
    pthread_join(th, NULL);
    ASSERT_LE(0.2, took);
    ASSERT_LE(took, 1.6);
    ASSERT_EQ(res.outcome, WEBHOOK_RETRY);
    ASSERT_HAS(err.msg, "cancelled");
    close(fd);
}

static void unreachable_receiver_retryable(void)
{
    char u[128];
    snprintf(u, sizeof u, "http://hooker:pa55@127.0.0.1:%u/hook?key=abc", closed_port());
    webhook_request rq = request(u);
    webhook_opts o = quick();
    webhook_result res;
    hark_err err = {0};
    ASSERT_EQ(webhook_deliver(&rq, &o, &res, &err), HARK_EIO);
    ASSERT_EQ(res.outcome, WEBHOOK_RETRY);
    ASSERT_HAS(err.msg, "cannot connect to 127.0.0.1:");
    ASSERT_HAS(err.msg, "/hook?...");
    ASSERT_LACKS(err.msg, "hooker");
    ASSERT_LACKS(err.msg, "pa55");
    ASSERT_LACKS(err.msg, "abc");
}

/* The message of a refused delivery to url, with `port` written as PORT:
 * a permanent failure saying "not allowed", nothing sent. */
static void expect_refused(const char *url, const webhook_opts *o, unsigned port, char *msg,
                           size_t n)
{
    webhook_request rq = request(url);
    webhook_result res;
    hark_err err = {0};
    memset(&g_rcv, 0, sizeof g_rcv);
    int rc = webhook_deliver(&rq, o, &res, &err);
    if (rc != HARK_EINVAL)
        TEST_FAIL_("%s: rc %d, want HARK_EINVAL: %s", url, rc, err.msg);
    ASSERT_EQ(res.outcome, WEBHOOK_FAILED);
    ASSERT_EQ(res.status, 0);
    ASSERT_LE(res.elapsed_s, 0.5);
    ASSERT_EQ(g_rcv.requests, 0);
    ASSERT_HAS(err.msg, "is not allowed (a private, loopback or reserved address)");
    ASSERT_LACKS(err.msg, "pa55");
    mask_port(err.msg, port, msg, n);
}

/* Without an allow list a receiver on loopback is refused, in any
 * spelling, before anything is sent: the same words for the open port of
 * a real receiver and a closed one. */
static void loopback_receiver_refused(void)
{
    struct MHD_Daemon *d = start();
    unsigned closed = closed_port();
    const char *hosts[] = {"127.0.0.1", "2130706433",         "0x7f.1", "localhost",
                           "[::1]",     "[::ffff:127.0.0.1]", "0.0.0.0"};
    webhook_opts o = quick();
    o.dest = NULL; /* the default: public addresses only */
    for (size_t i = 0; i < sizeof hosts / sizeof hosts[0]; i++) {
        char u[256], open_msg[512], closed_msg[512];
        snprintf(u, sizeof u, "http://hooker:pa55@%s:%u/ok", hosts[i], g_port);
        expect_refused(u, &o, g_port, open_msg, sizeof open_msg);
        snprintf(u, sizeof u, "http://hooker:pa55@%s:%u/ok", hosts[i], closed);
        expect_refused(u, &o, closed, closed_msg, sizeof closed_msg);
        ASSERT_STREQ(open_msg, closed_msg);
        if (i == 0)
            ASSERT_STREQ(open_msg,
                         "cannot deliver webhook to http://127.0.0.1:PORT/ok: destination "
                         "127.0.0.1:PORT is not allowed (a private, loopback or "
                         "reserved address)");
    }
    char msg[512];
    expect_refused(url_of("/ok"), NULL, g_port, msg, sizeof msg); /* NULL options: the same */
    expect_refused("http://169.254.169.254/latest/meta-data", &o, 0, msg, sizeof msg);

    /* Allowed at one port: that port only. */
    net_dest_policy p = {0};
    net_allow a;
    char spec[64];
    snprintf(spec, sizeof spec, "127.0.0.1:%u", g_port);
    ASSERT_EQ(net_allow_parse(spec, &a, NULL), 0);
    ASSERT_EQ(net_dest_policy_add(&p, &a, NULL), 0);
    o.dest = &p;
    webhook_request rq = request(url_of("/ok"));
    webhook_result res;
    ASSERT_EQ(webhook_deliver(&rq, &o, &res, NULL), 0);
    ASSERT(g_rcv.signature_ok);
    char u[128];
    snprintf(u, sizeof u, "http://127.0.0.1:%u/ok", closed);
    expect_refused(u, &o, closed, msg, sizeof msg);
    snprintf(u, sizeof u, "http://localhost:%u/ok", g_port);
    expect_refused(u, &o, g_port, msg, sizeof msg);
    net_dest_policy_release(&p);
    MHD_stop_daemon(d);
}

static void bad_requests_refused_without_sending(void)
{
    struct MHD_Daemon *d = start();
    webhook_opts o = quick();
    webhook_result res;
    hark_err err = {0};
    webhook_request rq = request("ftp://127.0.0.1/hook");
    ASSERT_EQ(webhook_deliver(&rq, &o, &res, &err), HARK_EINVAL);
    ASSERT_EQ(res.outcome, WEBHOOK_FAILED);
    ASSERT_HAS(err.msg, "only http:// and https://");

    const char *bad_values[] = {"", "a\r\nX-Evil: 1", "two words", "caf\xc3\xa9"};
    for (size_t i = 0; i < sizeof bad_values / sizeof bad_values[0]; i++) {
        rq = request(url_of("/ok"));
        rq.event = bad_values[i];
        ASSERT_EQ(webhook_deliver(&rq, &o, &res, &err), HARK_EINVAL);
        ASSERT_EQ(res.outcome, WEBHOOK_FAILED);
        rq = request(url_of("/ok"));
        rq.delivery_id = bad_values[i];
        ASSERT_EQ(webhook_deliver(&rq, &o, &res, &err), HARK_EINVAL);
    }
    rq = request(url_of("/ok"));
    rq.secret = "";
    ASSERT_EQ(webhook_deliver(&rq, &o, &res, &err), HARK_EINVAL);
    ASSERT_HAS(err.msg, "no signing secret");
    ASSERT_EQ(g_rcv.requests, 0); /* none of these reached the receiver */
    MHD_stop_daemon(d);
}

/* ---- the scheme and the schedule ------------------------------------ */

/* The value `openssl dgst` gives for the example in docs/operations.md:
 *   printf '%s' '1700000000.{"event":"job.succeeded","job":"j1"}' |
 *     openssl dgst -sha256 -hmac whsec_test */
static void signature_matches_openssl(void)
{
    char sig[WEBHOOK_SIGNATURE_SIZE];
    ASSERT_EQ(webhook_sign(SECRET, 1700000000, BODY, strlen(BODY), sig), 0);
    ASSERT_STREQ(sig, "sha256=87cd48a5ffee2dfb03a9b248577983976a09ff2e629f839587089c70a295c249");
    /* The timestamp is signed: another one gives another signature. */
    char other[WEBHOOK_SIGNATURE_SIZE];
    ASSERT_EQ(webhook_sign(SECRET, 1700000001, BODY, strlen(BODY), other), 0);
    ASSERT(strcmp(sig, other) != 0);
}

static void backoff_schedule(void)
{
    /* The lowest and highest delay of each attempt: the minimum, and the
     * ceiling doubling from the base up to the cap. */
    int64_t ceiling = WEBHOOK_BACKOFF_BASE_MS;
    for (int a = 1; a <= 12; a++) {
        ASSERT_EQ(webhook_next_delay_ms(a, 0), WEBHOOK_BACKOFF_MIN_MS);
        ASSERT_EQ(webhook_next_delay_ms(a, (uint64_t)(ceiling - WEBHOOK_BACKOFF_MIN_MS)), ceiling);
        ASSERT_EQ(webhook_next_delay_ms(a, (uint64_t)(ceiling - WEBHOOK_BACKOFF_MIN_MS + 1)),
                  WEBHOOK_BACKOFF_MIN_MS); /* wraps: rnd is taken modulo the range */
        ceiling = ceiling * 2 < WEBHOOK_BACKOFF_CAP_MS ? ceiling * 2 : WEBHOOK_BACKOFF_CAP_MS;
    }
    ASSERT_EQ(webhook_next_delay_ms(1, 29000), 30000);
    ASSERT_EQ(webhook_next_delay_ms(2, 59000), 60000);
    ASSERT_EQ(webhook_next_delay_ms(7, 10000000), 1000 + 10000000 % 1919001);
    /* Out-of-range attempts stay in range. */
    ASSERT_EQ(webhook_next_delay_ms(0, 29000), 30000);
    ASSERT_EQ(webhook_next_delay_ms(-5, 29000), 30000);
    ASSERT_EQ(webhook_next_delay_ms(1 << 30, 3599000), WEBHOOK_BACKOFF_CAP_MS);
    /* Over many random values: always within [min, ceiling], and spread over
     * all of it (both ends come within 2% of the range). */
    uint64_t x = 0x9E3779B97F4A7C15u;
    for (int a = 1; a <= WEBHOOK_MAX_ATTEMPTS; a++) {
        int64_t lo = INT64_MAX, hi = 0;
        for (int i = 0; i < 2000; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            int64_t dms = webhook_next_delay_ms(a, x);
            lo = dms < lo ? dms : lo;
            hi = dms > hi ? dms : hi;
        }
        ASSERT_LE(WEBHOOK_BACKOFF_MIN_MS, lo);
        int64_t cap = (int64_t)WEBHOOK_BACKOFF_BASE_MS << (a - 1);
        cap = cap < WEBHOOK_BACKOFF_CAP_MS ? cap : WEBHOOK_BACKOFF_CAP_MS;
        ASSERT_LE(hi, cap);
        ASSERT_LE(lo, WEBHOOK_BACKOFF_MIN_MS + (cap - WEBHOOK_BACKOFF_MIN_MS) / 50);
        ASSERT_LE(cap - (cap - WEBHOOK_BACKOFF_MIN_MS) / 50, hi);
    }
}

int main(void)
{
    memset(g_big, 'x', sizeof g_big);
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
    RUN(delivered_with_signed_headers);
    RUN(timestamp_defaults_to_now);
    RUN(large_body_signed);
    RUN(server_error_is_retryable);
    RUN(throttled_is_retryable_with_retry_after);
    RUN(client_error_is_permanent);
    RUN(redirect_is_failure_not_followed);
    RUN(large_answer_capped_still_delivered);
    RUN(stalled_receiver_retryable_after_timeout);
    RUN(cancelled_attempt_ends_early);
    RUN(unreachable_receiver_retryable);
    RUN(loopback_receiver_refused);
    RUN(bad_requests_refused_without_sending);
    RUN(signature_matches_openssl);
    RUN(backoff_schedule);
    net_dest_policy_release(&g_local);
    net_global_cleanup();
    TEST_DONE();
}
