/* webhook_sender_test.c - the sender threads against a real store and a
 * receiver in the test (libmicrohttpd on 127.0.0.1, verifying signatures):
 * a delivery signed and accepted once; 500, 500, 200 gives exactly one
 * accepted delivery in 3 attempts; a permanent failure is not retried; a
 * receiver that never answers delays no other delivery; stop abandons an
 * attempt in flight at once and leaves it pending; secrets and knobs.
 *
 * The store runs on the real clock (the sender waits for real); waits are
 * bounded polls of the store, never sleeps to pass. */
#include "net/hmac.h"
#include "net/net.h"
#include "net/test_httpd.h"
#include "net/webhook.h"
#include "runtime/webhook_sender.h"
#include "util/clock.h"
#include "util/test.h"
#include "util/utf8.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>

#define SECRET "whsec-sender-test-0123456789"
#define DB "store.db"
#define MAX_SEEN 64

/* ---- the receiver ------------------------------------------------------------ */

typedef struct seen_request {
    char path[64], event[64], delivery[64];
    unsigned status; /* what the receiver answered */
    bool verified;
    char body[8192];
} seen_request;

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static seen_request g_seen[MAX_SEEN];
static int g_n_seen;
static int g_fail2_count;
static unsigned g_port;

typedef struct req {
    char body[8192];
    size_t len;
} req;

static void header(struct MHD_Connection *c, const char *name, char *out, size_t n)
{
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
    snprintf(out, n, "%s", v ? v : "");
}

static bool verify(const char *ts, const char *body, size_t len, const char *sig)
{
    struct iovec parts[] = {
        {.iov_base = (void *)ts, .iov_len = strlen(ts)},
        {.iov_base = (void *)".", .iov_len = 1},
        {.iov_base = (void *)body, .iov_len = len},
    };
    unsigned char mac[NET_HMAC_SHA256_LEN];
    char hex[NET_HMAC_SHA256_HEX_SIZE], want[NET_HMAC_SHA256_HEX_SIZE + 8];
    if (net_hmac_sha256(SECRET, strlen(SECRET), parts, 3, mac) != 0)
        return false;
    net_hex(mac, sizeof mac, hex);
    snprintf(want, sizeof want, "sha256=%s", hex);
    return strcmp(want, sig) == 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    req *r = *con_cls;
    if (!r) {
        *con_cls = r = calloc(1, sizeof *r);
        return r ? MHD_YES : MHD_NO;
    }
    if (*upload_size) {
        size_t room = sizeof r->body - 1 - r->len;
        size_t n = *upload_size < room ? *upload_size : room;
        memcpy(r->body + r->len, upload, n);
        r->len += n;
        *upload_size = 0;
        return MHD_YES;
    }
    char ts[32], sig[128];
    header(c, "X-Hark-Timestamp", ts, sizeof ts);
    header(c, "X-Hark-Signature", sig, sizeof sig);
    bool ok = verify(ts, r->body, r->len, sig);
    unsigned status = ok ? 200 : 401;
    pthread_mutex_lock(&g_mu);
    if (strcmp(url, "/fail2") == 0 && g_fail2_count++ < 2)
        status = 500;
    else if (strcmp(url, "/gone") == 0)
        status = 410;
    if (g_n_seen < MAX_SEEN) {
        seen_request *s = &g_seen[g_n_seen++];
        snprintf(s->path, sizeof s->path, "%s", url);
        header(c, "X-Hark-Event", s->event, sizeof s->event);
        header(c, "X-Hark-Delivery", s->delivery, sizeof s->delivery);
        memcpy(s->body, r->body, r->len);
        s->body[r->len] = '\0';
        s->verified = ok;
        s->status = status;
    }
    pthread_mutex_unlock(&g_mu);
    free(r);
    *con_cls = NULL;
    /* A 410 answers in Latin-1: not UTF-8, which the job object needs. */
    return httpd_reply(c, status,
                       status == 200   ? "thanks"
                       : status == 410 ? "gone \xe9t\xe9"
                                       : "no",
                       NULL, NULL);
}

static int seen_count(const char *path, unsigned status)
{
    int n = 0;
    pthread_mutex_lock(&g_mu);
    for (int i = 0; i < g_n_seen; i++)
        if (strcmp(g_seen[i].path, path) == 0 && (!status || g_seen[i].status == status))
            n++;
    pthread_mutex_unlock(&g_mu);
    return n;
}

static const char *url_of(const char *path)
{
    static char u[4][256];
    static int k;
    k = (k + 1) % 4;
    snprintf(u[k], sizeof u[k], "http://127.0.0.1:%u%s", g_port, path);
    return u[k];
}

/* ---- the daemon's side ---------------------------------------------------------- */

static notify g_changes;
static atomic_int g_outcomes[3];

static void count_outcome(void *ctx, enum webhook_sender_outcome o)
{
    (void)ctx;
    atomic_fetch_add(&g_outcomes[o], 1);
}

static store *open_store(void)
{
    ASSERT_EQ(notify_init(&g_changes), 0);
    store_options so = {.on_commit = notify_signal, .commit_ctx = &g_changes};
    store *st = NULL;
    hark_err err = {0};
    if (store_open(DB, &so, &st, &err))
        TEST_FAIL_("store_open: %s", err.msg);
    return st;
}

/* The receivers are on loopback: url_allow = 127.0.0.1, set in main. */
static net_dest_policy g_local;

static webhook_sender *start_sender_to(store *st, double timeout_s, const net_dest_policy *dest)
{
    webhook_sender_opts o = {.st = st,
                             .changes = &g_changes,
                             .secret = SECRET,
                             .timeout_s = timeout_s,
                             .backoff_base_ms = 40,
                             .on_attempt = count_outcome,
                             .dest = dest};
    webhook_sender *ws = NULL;
    hark_err err = {0};
    if (webhook_sender_start(&o, &ws, &err))
        TEST_FAIL_("webhook_sender_start: %s", err.msg);
    return ws;
}

static webhook_sender *start_sender(store *st, double timeout_s)
{
    return start_sender_to(st, timeout_s, &g_local);
}

/* A job with a callback to url, ended at once (cancelled): its delivery is due. */
static void ended_job(store *st, const char *url, char id[STORE_ID_SIZE])
{
    store_job_spec spec = {.kind = "transcribe",
                           .input = "in.wav",
                           .priority = STORE_PRIO_NORMAL,
                           .callback_url = url};
    hark_err err = {0};
    if (store_submit(st, &spec, id, &err) || store_cancel(st, STORE_SCOPE_ALL, id, &err))
        TEST_FAIL_("submit/cancel: %s", err.msg);
}

/* Poll (bounded) until job id's webhook is in state; returns the job. */
static store_job wait_hook(store *st, const char *id, int state, double seconds)
{
    double until = clock_now_s() + seconds;
    for (;;) {
        store_job j;
        hark_err err = {0};
        if (store_get_job(st, STORE_SCOPE_ALL, id, &j, &err))
            TEST_FAIL_("store_get_job: %s", err.msg);
        if (j.webhook_state == state)
            return j;
        if (clock_now_s() > until)
            TEST_FAIL_("job %s: webhook %s, not %s after %g s (attempts %d, %s)", id,
                       store_webhook_state_name(j.webhook_state), store_webhook_state_name(state),
                       seconds, j.webhook_attempts, j.webhook_last_error);
        store_job_release(&j);
        sleep_ms(10);
    }
}

static void delivered_signed_once(void)
{
    struct MHD_Daemon *d = httpd_start(on_request, NULL, &g_port);
    store *st = open_store();
    char id[STORE_ID_SIZE];
    ended_job(st, url_of("/ok"), id);
    webhook_sender *ws = start_sender(st, 5);
    store_job j = wait_hook(st, id, STORE_WEBHOOK_DELIVERED, 10);
    ASSERT_EQ(j.webhook_attempts, 1);
    ASSERT_EQ(j.webhook_last_status, 200);
    ASSERT(j.webhook_delivered_ms > 0);
    store_job_release(&j);
    webhook_sender_stop(ws);
    ASSERT_EQ(seen_count("/ok", 200), 1);
    ASSERT_EQ(g_n_seen, 1);
    seen_request *s = &g_seen[0];
    ASSERT(s->verified);
    ASSERT_STREQ(s->event, "job.cancelled");
    ASSERT(strncmp(s->delivery, id, STORE_ID_SIZE - 1) == 0);
    store_webhook_list l;
    ASSERT_EQ(store_list_webhooks(st, STORE_SCOPE_ALL, id, &l, NULL), 0);
    ASSERT_STREQ(s->body, l.items[0].body); /* the stored bytes, as stored */
    store_webhook_list_release(&l);
    json_t *b = json_loads(s->body, 0, NULL);
    ASSERT_STREQ(json_string_value(json_object_get(b, "id")), id);
    ASSERT_STREQ(json_string_value(json_object_get(b, "state")), "cancelled");
    json_decref(b);
    ASSERT_EQ(atomic_load(&g_outcomes[WEBHOOK_SENDER_DELIVERED]), 1);
    store_close(st);
    MHD_stop_daemon(d);
}

static void retried_until_accepted_once(void)
{
    struct MHD_Daemon *d = httpd_start(on_request, NULL, &g_port);
    store *st = open_store();
    char id[STORE_ID_SIZE];
    ended_job(st, url_of("/fail2"), id);
    webhook_sender *ws = start_sender(st, 5);
    store_job j = wait_hook(st, id, STORE_WEBHOOK_DELIVERED, 10);
    ASSERT_EQ(j.webhook_attempts, 3);
    ASSERT_EQ(j.webhook_last_status, 200);
    ASSERT_STREQ(j.webhook_last_error, "");
    store_job_release(&j);
    webhook_sender_stop(ws);
    ASSERT_EQ(seen_count("/fail2", 0), 3);
    ASSERT_EQ(seen_count("/fail2", 200), 1);
    /* One delivery: every attempt carried the same id and body. */
    for (int i = 1; i < 3; i++) {
        ASSERT_STREQ(g_seen[i].delivery, g_seen[0].delivery);
        ASSERT_STREQ(g_seen[i].body, g_seen[0].body);
    }
    ASSERT_EQ(atomic_load(&g_outcomes[WEBHOOK_SENDER_RETRIED]), 2);
    ASSERT_EQ(atomic_load(&g_outcomes[WEBHOOK_SENDER_DELIVERED]), 1);
    store_close(st);
    MHD_stop_daemon(d);
}

static void permanent_failure_not_retried(void)
{
    struct MHD_Daemon *d = httpd_start(on_request, NULL, &g_port);
    store *st = open_store();
    char id[STORE_ID_SIZE];
    ended_job(st, url_of("/gone"), id);
    webhook_sender *ws = start_sender(st, 5);
    store_job j = wait_hook(st, id, STORE_WEBHOOK_FAILED, 10);
    ASSERT_EQ(j.webhook_attempts, 1);
    ASSERT_EQ(j.webhook_last_status, 410);
    /* The status and its standard phrase; not what the receiver said (in
     * Latin-1, too). */
    char want[256];
    snprintf(
        want, sizeof want,
        "cannot deliver webhook to http://127.0.0.1:%u/gone: receiver answered HTTP 410 (Gone)",
        g_port);
    ASSERT_STREQ(j.webhook_last_error, want);
    ASSERT(utf8_valid(j.webhook_last_error, strlen(j.webhook_last_error)));
    store_job_release(&j);
    webhook_sender_stop(ws);
    ASSERT_EQ(seen_count("/gone", 0), 1);
    ASSERT_EQ(atomic_load(&g_outcomes[WEBHOOK_SENDER_FAILED]), 1);
    store_close(st);
    MHD_stop_daemon(d);
}

/* Without an allow list, a receiver on loopback is never contacted: its
 * delivery fails at the first attempt, not retried, saying why. */
static void loopback_receiver_not_allowed(void)
{
    struct MHD_Daemon *d = httpd_start(on_request, NULL, &g_port);
    store *st = open_store();
    char id[STORE_ID_SIZE];
    ended_job(st, url_of("/ok"), id);
    webhook_sender *ws = start_sender_to(st, 5, NULL);
    store_job j = wait_hook(st, id, STORE_WEBHOOK_FAILED, 10);
    ASSERT_EQ(j.webhook_attempts, 1);
    ASSERT_EQ(j.webhook_last_status, 0);
    char want[256];
    snprintf(want, sizeof want,
             "cannot deliver webhook to http://127.0.0.1:%u/ok: destination 127.0.0.1:%u is not "
             "allowed (a private, loopback or reserved address)",
             g_port, g_port);
    ASSERT_STREQ(j.webhook_last_error, want);
    store_job_release(&j);
    webhook_sender_stop(ws);
    ASSERT_EQ(seen_count("/ok", 0), 0);
    store_close(st);
    MHD_stop_daemon(d);
}

/* A receiver that never answers holds one sender thread for its timeout;
 * a later delivery to a good receiver goes out at once meanwhile. Stop
 * abandons the silent attempt without waiting for its timeout. */
static void silent_receiver_delays_nothing_else(void)
{
    struct MHD_Daemon *d = httpd_start(on_request, NULL, &g_port);
    unsigned silent_port;
    int fd = listener_start(16, &silent_port);
    char silent[128];
    snprintf(silent, sizeof silent, "http://127.0.0.1:%u/hook", silent_port);
    store *st = open_store();
    webhook_sender *ws = start_sender(st, 8);
    char slow[STORE_ID_SIZE], fast[STORE_ID_SIZE];
    ended_job(st, silent, slow);
    sleep_ms(100); /* the silent attempt is under way (not needed for a pass) */
    double t0 = clock_now_s();
    ended_job(st, url_of("/ok"), fast);
    store_job j = wait_hook(st, fast, STORE_WEBHOOK_DELIVERED, 10);
    double took = clock_now_s() - t0;
    store_job_release(&j);
    ASSERT_LE(took, 1.0); /* far below the silent receiver's 8 s timeout */
    j = wait_hook(st, slow, STORE_WEBHOOK_PENDING, 1);
    ASSERT_EQ(j.webhook_attempts, 0); /* still in its first attempt */
    store_job_release(&j);

    t0 = clock_now_s();
    webhook_sender_stop(ws);
    took = clock_now_s() - t0;
    ASSERT_LE(took, 2.0);
    j = wait_hook(st, slow, STORE_WEBHOOK_PENDING, 1);
    ASSERT_EQ(j.webhook_attempts, 0); /* abandoned, not counted */
    store_job_release(&j);
    /* Held by the dead attempt's claim until a restart recovers it. */
    store_webhook_list l;
    int64_t wait_ms;
    ASSERT_EQ(store_claim_webhooks(st, 8, 1000, &l, &wait_ms, NULL), 0);
    ASSERT_EQ(l.n, 0);
    ASSERT_EQ(store_recover(st, NULL, NULL), 0);
    ASSERT_EQ(store_claim_webhooks(st, 8, 1000, &l, &wait_ms, NULL), 0);
    ASSERT_EQ(l.n, 1);
    ASSERT_STREQ(l.items[0].job_id, slow);
    store_webhook_list_release(&l);
    store_close(st);
    close(fd);
    MHD_stop_daemon(d);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ASSERT(f != NULL);
    fputs(text, f);
    fclose(f);
}

static void secrets_and_knobs(void)
{
    char *s = NULL;
    hark_err err = {0};
    write_text("secret", "0123456789abcdef-xyz\n");
    ASSERT_EQ(webhook_secret_read("secret", &s, &err), 0);
    ASSERT_STREQ(s, "0123456789abcdef-xyz");
    free(s);
    write_text("short", "tooshort\n");
    ASSERT_EQ(webhook_secret_read("short", &s, &err), HARK_EINVAL);
    ASSERT(s == NULL);
    ASSERT(strstr(err.msg, "webhook secret file 'short': webhook secret is too short") != NULL);
    ASSERT(strstr(err.msg, "tooshort") == NULL);
    write_text("twolines", "0123456789abcdef\nmore\n");
    ASSERT_EQ(webhook_secret_read("twolines", &s, &err), HARK_EINVAL);
    ASSERT_EQ(webhook_secret_read("missing", &s, &err), HARK_ENOENT);
    ASSERT_EQ(webhook_secret_read(".", &s, &err), HARK_EINVAL);

    webhook_sender_opts o = {0};
    unsetenv("HARK_WEBHOOK_TIMEOUT");
    unsetenv("HARK_WEBHOOK_BACKOFF_MS");
    ASSERT_EQ(webhook_sender_opts_env(&o, &err), 0);
    ASSERT_EQ(o.threads, WEBHOOK_SENDER_THREADS);
    ASSERT_NEAR(o.timeout_s, 10, 0);
    ASSERT_EQ(o.backoff_base_ms, WEBHOOK_BACKOFF_BASE_MS);
    setenv("HARK_WEBHOOK_TIMEOUT", "2.5", 1);
    setenv("HARK_WEBHOOK_BACKOFF_MS", "100", 1);
    ASSERT_EQ(webhook_sender_opts_env(&o, &err), 0);
    ASSERT_NEAR(o.timeout_s, 2.5, 0);
    ASSERT_EQ(o.backoff_base_ms, 100);
    setenv("HARK_WEBHOOK_BACKOFF_MS", "fast", 1);
    ASSERT_EQ(webhook_sender_opts_env(&o, &err), HARK_EINVAL);
    ASSERT(strstr(err.msg, "HARK_WEBHOOK_BACKOFF_MS: 'fast'") != NULL);
    setenv("HARK_WEBHOOK_BACKOFF_MS", "100", 1);
    setenv("HARK_WEBHOOK_TIMEOUT", "0", 1);
    ASSERT_EQ(webhook_sender_opts_env(&o, &err), HARK_EINVAL);

    /* The sender refuses a weak secret. */
    ASSERT_EQ(notify_init(&g_changes), 0);
    o = (webhook_sender_opts){.st = (store *)&o, .changes = &g_changes, .secret = "short"};
    webhook_sender *ws = NULL;
    ASSERT_EQ(webhook_sender_start(&o, &ws, &err), HARK_EINVAL);
    ASSERT(ws == NULL);
}

int main(void)
{
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
    RUN(delivered_signed_once);
    RUN(retried_until_accepted_once);
    RUN(permanent_failure_not_retried);
    RUN(loopback_receiver_not_allowed);
    RUN(silent_receiver_delays_nothing_else);
    RUN(secrets_and_knobs);
    net_dest_policy_release(&g_local);
    net_global_cleanup();
    TEST_DONE();
}
