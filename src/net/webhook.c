#include "net/webhook.h"

#include "net/hmac.h"
#include "net/net.h"
#include "util/clock.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define HEADER_VALUE_MAX 200
#define URL_SHOWN_MAX 1024

webhook_opts webhook_defaults(void)
{
    return (webhook_opts){.connect_timeout_s = 5, .timeout_s = 10};
}

int webhook_sign(const char *secret, int64_t timestamp, const char *body, size_t body_len,
                 char out[WEBHOOK_SIGNATURE_SIZE])
{
    char ts[24];
    int n = snprintf(ts, sizeof ts, "%" PRId64, timestamp);
    struct iovec parts[] = {
        {.iov_base = ts, .iov_len = (size_t)n},
        {.iov_base = (void *)".", .iov_len = 1},
        {.iov_base = (void *)body, .iov_len = body_len},
    };
    unsigned char mac[NET_HMAC_SHA256_LEN];
    int rc = net_hmac_sha256(secret, strlen(secret), parts, 3, mac);
    if (rc) {
        out[0] = '\0';
        return rc;
    }
    memcpy(out, "sha256=", 7);
    net_hex(mac, sizeof mac, out + 7);
    return 0;
}

int64_t webhook_next_delay_ms(int attempt, uint64_t rnd)
{
    int64_t ceiling = WEBHOOK_BACKOFF_BASE_MS;
    for (int i = 1; i < attempt && ceiling < WEBHOOK_BACKOFF_CAP_MS; i++)
        ceiling *= 2;
    if (ceiling > WEBHOOK_BACKOFF_CAP_MS)
        ceiling = WEBHOOK_BACKOFF_CAP_MS;
    int64_t lo = WEBHOOK_BACKOFF_MIN_MS < ceiling ? WEBHOOK_BACKOFF_MIN_MS : ceiling;
    return lo + (int64_t)(rnd % (uint64_t)(ceiling - lo + 1));
}

/* A header value hark puts on the wire: no CR/LF (header injection), no
 * spaces or controls, not empty, not huge. */
static bool header_value_ok(const char *v)
{
    size_t n = v ? strlen(v) : 0;
    if (n == 0 || n > HEADER_VALUE_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)v[i] <= ' ' || (unsigned char)v[i] >= 0x7f)
            return false;
    return true;
}

/* The response body: counted and dropped. Nothing of it reaches a message:
 * the receiver may be a service that answers with what it should not. */
static size_t on_answer(char *p, size_t size, size_t nmemb, void *ud)
{
    (void)p;
    size_t *len = ud;
    size_t n = size * nmemb;
    *len += n;
    return *len > WEBHOOK_RESPONSE_MAX ? 0 : n; /* 0 != n: curl stops */
}

/* What came back from the attempt. */
typedef struct attempt {
    CURLcode rc;
    long status;
    curl_off_t pretransfer_us; /* 0: never connected */
    curl_off_t retry_after_s;
    long os_errno;
    char errbuf[CURL_ERROR_SIZE];
    char location[URL_SHOWN_MAX]; /* of a 3xx, redacted */
    size_t body_len;
    bool refused; /* the destination guard refused the receiver's address */
} attempt;

/* libcurl's progress callback: a non-zero return abandons the transfer. */
static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    return atomic_load((const atomic_bool *)ud) ? 1 : 0;
}

static void post(const webhook_request *rq, const webhook_opts *o, const char *ts_header,
                 const char *sig_header, attempt *at)
{
    char event[HEADER_VALUE_MAX + 32], delivery[HEADER_VALUE_MAX + 32];
    snprintf(event, sizeof event, "X-Hark-Event: %s", rq->event);
    snprintf(delivery, sizeof delivery, "X-Hark-Delivery: %s", rq->delivery_id);
    const char *lines[] = {
        "Content-Type: application/json",
        event,
        delivery,
        ts_header,
        sig_header,
        /* curl would send "Expect: 100-continue" for a large body and wait
         * up to a second for a receiver that does not know it. */
        "Expect:",
    };
    struct curl_slist *hdrs = NULL;
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        struct curl_slist *t = curl_slist_append(hdrs, lines[i]);
        if (!t) {
            curl_slist_free_all(hdrs);
            at->rc = CURLE_OUT_OF_MEMORY;
            return;
        }
        hdrs = t;
    }
    CURL *h = curl_easy_init();
    if (!h) {
        curl_slist_free_all(hdrs);
        at->rc = CURLE_OUT_OF_MEMORY;
        return;
    }
    long connect_ms = (long)(o->connect_timeout_s * 1000), total_ms = (long)(o->timeout_s * 1000);
    connect_ms = connect_ms > 0 ? connect_ms : 1;
    total_ms = total_ms > 0 ? total_ms : 1;
    curl_easy_setopt(h, CURLOPT_URL, rq->url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https"); /* libcurl >= 7.85 */
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, total_ms);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "hark/" HARK_VERSION);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, rq->body_len ? rq->body : "");
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, at->errbuf);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_answer);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &at->body_len);
    net_dest_guard guard;
    net_dest_guard_attach(&guard, o->dest, h);
    if (o->cancel) {
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(h, CURLOPT_XFERINFODATA, (void *)o->cancel);
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    }
    at->rc = curl_easy_perform(h);
    at->refused = net_dest_guard_refused(&guard, at->rc);
    char *loc = NULL;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &at->status);
    curl_easy_getinfo(h, CURLINFO_PRETRANSFER_TIME_T, &at->pretransfer_us);
    curl_easy_getinfo(h, CURLINFO_RETRY_AFTER, &at->retry_after_s);
    curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &at->os_errno);
    if (curl_easy_getinfo(h, CURLINFO_REDIRECT_URL, &loc) == CURLE_OK && loc)
        net_url_redact(loc, at->location, sizeof at->location);
    curl_easy_cleanup(h);
    curl_slist_free_all(hdrs);
}

/* The outcome of an answer with an HTTP status (the receiver answered). */
static int by_status(const char *shown, const attempt *at, webhook_result *res, hark_err *err)
{
    long st = at->status;
    const char *reason = net_http_reason(st);
    if (st >= 200 && st <= 299) {
        res->outcome = WEBHOOK_DELIVERED;
        err_clear(err);
        return 0;
    }
    if (st >= 300 && st <= 399) {
        res->outcome = WEBHOOK_FAILED;
        return err_set(err, HARK_EINVAL,
                       "cannot deliver webhook to %s: receiver answered HTTP %ld, a redirect%s%s; "
                       "redirects are not followed (configure the final URL)",
                       shown, st, at->location[0] ? " to " : "", at->location);
    }
    bool again = st >= 500 || st == 408 || st == 429;
    res->outcome = again ? WEBHOOK_RETRY : WEBHOOK_FAILED;
    return err_set(err, again ? HARK_EIO : HARK_EINVAL,
                   "cannot deliver webhook to %s: receiver answered HTTP %ld%s%s%s", shown, st,
                   *reason ? " (" : "", reason, *reason ? ")" : "");
}

/* The outcome of an attempt that got no HTTP status. */
static int by_transport(const char *url, const char *shown, const webhook_opts *o,
                        const attempt *at, webhook_result *res, hark_err *err)
{
    char detail[CURL_ERROR_SIZE], host[256];
    net_error_detail(url, at->errbuf, curl_easy_strerror(at->rc), detail, sizeof detail);
    net_url_host(url, host, sizeof host);
    res->outcome = WEBHOOK_RETRY;
    if (at->refused) { /* never contacted: the same whether anything listens there */
        res->outcome = WEBHOOK_FAILED;
        return err_set(err, HARK_EINVAL,
                       "cannot deliver webhook to %s: destination %s " NET_DEST_NOT_ALLOWED, shown,
                       host);
    }
    switch (at->rc) {
    case CURLE_OPERATION_TIMEDOUT:
        if (at->pretransfer_us == 0)
            return err_set(err, HARK_ETIMEDOUT,
                           "cannot deliver webhook to %s: cannot connect to %s: timed out", shown,
                           host);
        return err_set(err, HARK_ETIMEDOUT, "cannot deliver webhook to %s: no answer within %g s",
                       shown, o->timeout_s);
    case CURLE_COULDNT_RESOLVE_HOST:
        return err_set(err, HARK_EIO, "cannot deliver webhook to %s: cannot resolve host '%s'",
                       shown, host);
    case CURLE_COULDNT_CONNECT:
        if (at->os_errno)
            return err_set(err, HARK_EIO, "cannot deliver webhook to %s: cannot connect to %s: %s",
                           shown, host, strerror((int)at->os_errno));
        return err_set(err, HARK_EIO, "cannot deliver webhook to %s: %s", shown, detail);
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
        res->outcome = WEBHOOK_FAILED;
        return err_set(err, HARK_EINVAL, "cannot deliver webhook to %s: bad URL: %s", shown,
                       detail);
    case CURLE_OUT_OF_MEMORY:
        return err_set(err, HARK_ENOMEM, "cannot deliver webhook to %s: out of memory", shown);
    case CURLE_ABORTED_BY_CALLBACK:
        return err_set(err, HARK_ECANCELED, "cannot deliver webhook to %s: cancelled", shown);
    default:
        return err_set(err, HARK_EIO, "cannot deliver webhook to %s: %s", shown, detail);
    }
}

int webhook_deliver(const webhook_request *rq, const webhook_opts *o, webhook_result *res,
                    hark_err *err)
{
    webhook_opts eff = o ? *o : webhook_defaults();
    if (eff.connect_timeout_s <= 0)
        eff.connect_timeout_s = webhook_defaults().connect_timeout_s;
    if (eff.timeout_s <= 0)
        eff.timeout_s = webhook_defaults().timeout_s;
    o = &eff;
    memset(res, 0, sizeof *res);
    res->outcome = WEBHOOK_FAILED;
    char shown[URL_SHOWN_MAX];
    net_url_redact(rq->url ? rq->url : "", shown, sizeof shown);
    if (!rq->url || !net_url_is_http(rq->url))
        return err_set(err, HARK_EINVAL,
                       "cannot deliver webhook to %s: only http:// and https:// URLs are allowed",
                       shown);
    if (!rq->secret || !rq->secret[0])
        return err_set(err, HARK_EINVAL, "cannot deliver webhook to %s: no signing secret", shown);
    if (!header_value_ok(rq->event) || !header_value_ok(rq->delivery_id))
        return err_set(err, HARK_EINVAL,
                       "cannot deliver webhook to %s: event and delivery id must be 1 to %d "
                       "printable characters without spaces",
                       shown, HEADER_VALUE_MAX);
    if (!rq->body && rq->body_len)
        return err_set(err, HARK_EINVAL, "cannot deliver webhook to %s: no body", shown);

    /* Signed at send time, so the timestamp says when this attempt left. */
    int64_t ts = rq->timestamp ? rq->timestamp : (int64_t)time(NULL);
    char sig[WEBHOOK_SIGNATURE_SIZE], ts_header[48], sig_header[WEBHOOK_SIGNATURE_SIZE + 32];
    if (webhook_sign(rq->secret, ts, rq->body ? rq->body : "", rq->body_len, sig) != 0) {
        res->outcome = WEBHOOK_RETRY;
        return err_set(err, HARK_EIO, "cannot deliver webhook to %s: cannot compute the signature",
                       shown);
    }
    snprintf(ts_header, sizeof ts_header, "X-Hark-Timestamp: %" PRId64, ts);
    snprintf(sig_header, sizeof sig_header, "X-Hark-Signature: %s", sig);
    res->timestamp = ts;

    attempt at = {0};
    double t0 = clock_now_s();
    post(rq, o, ts_header, sig_header, &at);
    res->elapsed_s = clock_now_s() - t0;
    res->status = at.status;
    res->retry_after_s = at.retry_after_s > 0 ? (long)at.retry_after_s : 0;
    /* A status means the receiver answered: that decides, whatever happened
     * to the rest of the response (cut at the cap, a reset, a slow body). */
    if (at.status >= 200)
        return by_status(shown, &at, res, err);
    return by_transport(rq->url, shown, o, &at, res, err);
}
