#include "client/http_client.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SSE_LINE_MAX (1u << 20) /* one line of the event stream */
#define SSE_DATA_MAX (4u << 20) /* one event's data */
#define ERROR_BODY_MAX (64u << 10)
#define EVENTS_MIN_STALL_S 60 /* > 3 keepalive periods of the server (15 s) */

struct hc_client {
    CURL *curl;
    char base[1024];
    char errbuf[CURL_ERROR_SIZE];
    long connect_ms;
    long stall_s;
    int reconnect_tries;
    long reconnect_delay_ms;
    bool unreachable;
    long timeout_ms;            /* the whole transfer, 0: none */
    int (*abort_fn)(void *ctx); /* nonzero: stop the transfer now */
    void *abort_ctx;
    char auth[600];       /* "Authorization: Bearer <HARK_TOKEN>", or "" */
    double unavailable_s; /* hc_set_unavailable_retry: 0 = a 503 is an error at once */
};

/* ---- pure helpers --------------------------------------------------- */

/* Copy s (n bytes) to out as one line: control characters become spaces,
 * surrounding blanks go, a UTF-8 sequence is never cut in half. */
static void one_line(const char *s, size_t n, char *out, size_t outlen)
{
    while (n && (unsigned char)*s <= ' ') {
        s++;
        n--;
    }
    size_t k = 0;
    bool cut = false;
    for (size_t i = 0; i < n && s[i]; i++) {
        if (k + 1 >= outlen) {
            cut = true;
            break;
        }
        unsigned char ch = (unsigned char)s[i];
        out[k++] = ch < ' ' || ch == 0x7f ? ' ' : (char)ch;
    }
    if (cut) { /* drop a last character that did not fit whole */
        size_t lead = k;
        while (lead && ((unsigned char)out[lead - 1] & 0xC0) == 0x80)
            lead--;
        if (lead && (unsigned char)out[lead - 1] >= 0xC0) {
            unsigned char b = (unsigned char)out[lead - 1];
            size_t need = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2;
            if (k - (lead - 1) < need)
                k = lead - 1;
        }
    }
    while (k && out[k - 1] == ' ')
        k--;
    if (outlen)
        out[k] = '\0';
}

int hc_resolve_base(const char *flag, const char *env, char *out, size_t n, hark_err *err)
{
    const char *src = HC_DEFAULT_SERVER, *what = "the default";
    if (flag) {
        src = flag;
        what = "--server";
        if (!*flag)
            return err_set(err, HARK_EINVAL, "--server wants a URL like %s", HC_DEFAULT_SERVER);
    } else if (env && *env) {
        src = env;
        what = HC_SERVER_ENV;
    }
    for (const char *p = src; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f || *p == '?' || *p == '#')
            return err_set(err, HARK_EINVAL,
                           "bad server URL in %s: it contains a space, a control character, "
                           "'?' or '#'",
                           what);
    const char *sep = strstr(src, "://");
    const char *host = sep ? sep + 3 : src;
    if (sep && !((sep - src == 4 && strncasecmp(src, "http", 4) == 0) ||
                 (sep - src == 5 && strncasecmp(src, "https", 5) == 0)))
        return err_set(err, HARK_EINVAL, "bad server URL '%.200s' in %s: want http:// or https://",
                       src, what);
    if (!*host || *host == '/')
        return err_set(err, HARK_EINVAL, "bad server URL '%.200s' in %s: no host", src, what);
    size_t len = strlen(src);
    while (len && src[len - 1] == '/')
        len--;
    int w = snprintf(out, n, "%s%.*s", sep ? "" : "http://", (int)len, src);
    if (w < 0 || (size_t)w >= n)
        return err_set(err, HARK_EINVAL, "server URL in %s is too long", what);
    return 0;
}

int hc_status_error(long status, const char *body, size_t len, hark_err *err)
{
    int code = status == 404                   ? HARK_ENOENT
               : status == 413                 ? HARK_ETOOLONG
               : status >= 400 && status < 500 ? HARK_EINVAL
                                               : HARK_EIO;
    char msg[400] = "";
    if (body && len) {
        json_t *j = json_loadb(body, len, 0, NULL);
        const char *m = json_string_value(json_object_get(json_object_get(j, "error"), "message"));
        if (m)
            one_line(m, strlen(m), msg, sizeof msg);
        json_decref(j);
        if (msg[0])
            return err_set(err, code, "%s", msg);
        if (!j) {
            const char *nl = memchr(body, '\n', len);
            one_line(body, nl ? (size_t)(nl - body) : len, msg, 200);
        }
    }
    if (msg[0])
        return err_set(err, code, "hark server answered HTTP %ld: %s", status, msg);
    return err_set(err, code, "hark server answered HTTP %ld", status);
}

/* ---- the handle ----------------------------------------------------- */

int hc_open(const char *base, hc_client **out, hark_err *err)
{
    *out = NULL;
    hc_client *c = calloc(1, sizeof *c);
    if (!c)
        return err_set(err, HARK_ENOMEM, "out of memory");
    if (snprintf(c->base, sizeof c->base, "%s", base) >= (int)sizeof c->base) {
        free(c);
        return err_set(err, HARK_EINVAL, "server URL is too long");
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        free(c);
        return err_set(err, HARK_EIO, "cannot initialize libcurl");
    }
    c->curl = curl_easy_init();
    if (!c->curl) {
        curl_global_cleanup();
        free(c);
        return err_set(err, HARK_ENOMEM, "cannot initialize libcurl");
    }
    /* A server with API tokens wants one on every request (docs/config.md).
     * Only visible ASCII: anything else could split the header. */
    const char *token = getenv("HARK_TOKEN");
    if (token && *token) {
        size_t n = strlen(token);
        bool visible = n < 512;
        for (size_t i = 0; visible && i < n; i++)
            visible = token[i] > ' ' && token[i] < 0x7f;
        if (!visible) {
            curl_easy_cleanup(c->curl);
            curl_global_cleanup();
            free(c);
            return err_set(err, HARK_EINVAL,
                           "HARK_TOKEN must be visible ASCII (at most 511 "
                           "characters)");
        }
        snprintf(c->auth, sizeof c->auth, "Authorization: Bearer %s", token);
    }
    c->connect_ms = 10000;
    c->stall_s = 60;
    c->reconnect_tries = 5;
    c->reconnect_delay_ms = 250;
    *out = c;
    return 0;
}

void hc_close(hc_client *c)
{
    if (!c)
        return;
    curl_easy_cleanup(c->curl);
    curl_global_cleanup();
    free(c);
}

const char *hc_base(const hc_client *c)
{
    return c->base;
}

void hc_set_timeouts(hc_client *c, double connect_s, double stall_s)
{
    c->connect_ms = connect_s > 0 ? (long)(connect_s * 1000) : 10000;
    if (c->connect_ms < 1)
        c->connect_ms = 1;
    c->stall_s = stall_s >= 1 ? (long)stall_s : 1;
}

void hc_set_reconnect(hc_client *c, int tries, long delay_ms)
{
    c->reconnect_tries = tries < 0 ? 0 : tries;
    c->reconnect_delay_ms = delay_ms < 0 ? 0 : delay_ms;
}

void hc_set_transfer_timeout(hc_client *c, double seconds)
{
    c->timeout_ms = seconds > 0 ? (long)(seconds * 1000) : 0;
    if (seconds > 0 && c->timeout_ms < 1)
        c->timeout_ms = 1;
}

void hc_set_abort(hc_client *c, int (*fn)(void *ctx), void *ctx)
{
    c->abort_fn = fn;
    c->abort_ctx = ctx;
}

void hc_set_unavailable_retry(hc_client *c, double seconds)
{
    c->unavailable_s = seconds > 0 ? seconds : 0;
}

bool hc_unreachable(const hc_client *c)
{
    return c->unreachable;
}

/* ---- one transfer --------------------------------------------------- */

typedef struct xfer {
    const char *method; /* "GET", "POST" or "DELETE" */
    const char *path;
    const char *json;  /* a JSON body, or NULL */
    const void *bytes; /* or a body of bytes (bytes_len of them, of content_type) */
    size_t bytes_len;
    const char *content_type;
    curl_mime *mime;      /* a multipart body, or NULL */
    const char *event_id; /* Last-Event-ID, or NULL */
    bool events;          /* an event stream: Accept and stall time */
    curl_write_callback write;
    void *write_ctx;
    /* A multipart body is made again before it is sent again (NULL: out of
     * memory); libcurl does not rewind a body it read to its end. */
    curl_mime *(*remake)(void *ctx);
    void *remake_ctx;
} xfer;

typedef struct sink {
    buf *b;
    bool overflow;
} sink;

static size_t write_to_buf(char *ptr, size_t size, size_t nmemb, void *ud)
{
    sink *s = ud;
    size_t n = size * nmemb;
    if (buf_append(s->b, ptr, n)) {
        s->overflow = true;
        return 0; /* != n: curl stops with CURLE_WRITE_ERROR */
    }
    return n;
}

static int transport_error(hc_client *c, CURLcode rc, hark_err *err)
{
    char detail[CURL_ERROR_SIZE];
    const char *d = c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc);
    one_line(d, strlen(d), detail, sizeof detail);
    switch (rc) {
    case CURLE_ABORTED_BY_CALLBACK:
        return err_set(err, HARK_ECANCELED, "request to hark server at %s stopped", c->base);
    case CURLE_COULDNT_CONNECT:
        c->unreachable = true;
        return err_set(err, HARK_EIO, "cannot reach hark server at %s (is `hark serve` running?)",
                       c->base);
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        c->unreachable = true;
        return err_set(err, HARK_EIO, "cannot reach hark server at %s: %s", c->base, detail);
    case CURLE_OPERATION_TIMEDOUT: {
        /* A reused connection has no connect time of its own: a request
         * sent means the server was reached and then stopped answering. */
        curl_off_t connected = 0;
        long sent = 0;
        curl_easy_getinfo(c->curl, CURLINFO_CONNECT_TIME_T, &connected);
        curl_easy_getinfo(c->curl, CURLINFO_REQUEST_SIZE, &sent);
        if (connected == 0 && sent == 0) {
            c->unreachable = true;
            return err_set(err, HARK_ETIMEDOUT,
                           "cannot reach hark server at %s: connection timed out", c->base);
        }
        return err_set(err, HARK_ETIMEDOUT, "hark server at %s stopped answering: %s", c->base,
                       detail);
    }
    default:
        return err_set(err, HARK_EIO, "request to hark server at %s failed: %s", c->base, detail);
    }
}

/* libcurl calls this often during a transfer and about once a second when
 * nothing moves: the caller's abort hook is asked each time. */
static int xferinfo(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                    curl_off_t ulnow)
{
    hc_client *c = ud;
    return c->abort_fn(c->abort_ctx) ? 1 : 0;
}

/* Run one transfer. Returns the CURLcode; *status gets the HTTP status (0
 * if none came). */
static CURLcode perform(hc_client *c, const xfer *x, long *status)
{
    *status = 0;
    c->errbuf[0] = '\0';
    char url[2048];
    if (snprintf(url, sizeof url, "%s%s", c->base, x->path) >= (int)sizeof url)
        return CURLE_URL_MALFORMAT;
    CURL *h = c->curl;
    curl_easy_reset(h); /* keeps the live connection for reuse */
    struct curl_slist *hdrs = NULL, *t;
    bool ok = true;
#define ADD_HEADER(s)                                                                              \
    do {                                                                                           \
        t = curl_slist_append(hdrs, (s));                                                          \
        if (t)                                                                                     \
            hdrs = t;                                                                              \
        else                                                                                       \
            ok = false;                                                                            \
    } while (0)
    ADD_HEADER(x->events ? "Accept: text/event-stream" : "Accept: application/json");
    if (c->auth[0])
        ADD_HEADER(c->auth);
    char idh[200];
    if (x->event_id && x->event_id[0]) {
        snprintf(idh, sizeof idh, "Last-Event-ID: %s", x->event_id);
        ADD_HEADER(idh);
    }
    bool post = strcmp(x->method, "POST") == 0;
    char cth[128];
    if (post && x->json) {
        ADD_HEADER("Content-Type: application/json");
    } else if (post && x->bytes) {
        snprintf(cth, sizeof cth, "Content-Type: %s", x->content_type);
        ADD_HEADER(cth);
    } else if (post && !x->mime)
        ADD_HEADER("Content-Type:"); /* an empty body of no type */
#undef ADD_HEADER
    if (!ok) {
        curl_slist_free_all(hdrs);
        return CURLE_OUT_OF_MEMORY;
    }
    long stall = c->stall_s;
    if (x->events && stall < EVENTS_MIN_STALL_S)
        stall = EVENTS_MIN_STALL_S;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->connect_ms);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, stall);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->errbuf);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "hark/" HARK_VERSION);
    /* The server is on loopback; an http_proxy from the environment must not
     * carry requests for it elsewhere. */
    curl_easy_setopt(h, CURLOPT_NOPROXY, "localhost,127.0.0.1,::1");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, x->write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, x->write_ctx);
    if (c->timeout_ms > 0)
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
    if (c->abort_fn) {
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, xferinfo);
        curl_easy_setopt(h, CURLOPT_XFERINFODATA, c);
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    }
    if (post && x->mime) {
        curl_easy_setopt(h, CURLOPT_MIMEPOST, x->mime);
    } else if (post && x->bytes) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->bytes_len);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, x->bytes);
    } else if (post) {
        const char *body = x->json ? x->json : "";
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    } else if (strcmp(x->method, "DELETE") == 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "DELETE"); /* no body */
    } else {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    }
    CURLcode rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
    /* The handle must not keep pointers into this frame or the caller's. */
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
    curl_slist_free_all(hdrs);
    return rc;
}

/* Run x with the body into b; transport failures and the cap are errors. */
static int perform_to_buf(hc_client *c, xfer *x, long *status, buf *b, hark_err *err)
{
    sink s = {.b = b};
    x->write = write_to_buf;
    x->write_ctx = &s;
    c->unreachable = false;
    CURLcode rc = perform(c, x, status);
    if (s.overflow)
        return err_set(err, HARK_ENOMEM, "answer of hark server at %s to %s is over %zu bytes",
                       c->base, x->path, b->max);
    if (rc == CURLE_URL_MALFORMAT && !c->errbuf[0])
        return err_set(err, HARK_EINVAL, "URL too long: %s%s", c->base, x->path);
    if (rc != CURLE_OK)
        return transport_error(c, rc, err);
    return 0;
}

int hc_request(hc_client *c, const char *method, const char *path, const char *json, long *status,
               buf *body, hark_err *err)
{
    xfer x = {.method = method, .path = path, .json = json};
    return perform_to_buf(c, &x, status, body, err);
}

static int parse_object(hc_client *c, const buf *b, json_t **out, hark_err *err)
{
    json_error_t je;
    json_t *j = json_loadb(b->data ? b->data : "", b->len, 0, &je);
    if (!j || !json_is_object(j)) {
        json_decref(j);
        return err_set(err, HARK_EIO, "hark server at %s sent malformed JSON: %s", c->base,
                       j ? "not an object" : je.text);
    }
    *out = j;
    return 0;
}

static double mono_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec / 1e9;
}

/* The whole seconds of the last answer's Retry-After (1..HC_RETRY_AFTER_MAX_S),
 * 0 if it had none (or an HTTP date: not a delay we guess at). */
static long retry_after_s(hc_client *c)
{
    struct curl_header *h = NULL;
    if (curl_easy_header(c->curl, "Retry-After", 0, CURLH_HEADER, -1, &h) != CURLHE_OK || !h ||
        !h->value || strspn(h->value, "0123456789") == 0 || strlen(h->value) > 6)
        return 0;
    long v = strtol(h->value, NULL, 10);
    return v < 1 ? 1 : v > HC_RETRY_AFTER_MAX_S ? HC_RETRY_AFTER_MAX_S : v;
}

/* Sleep s seconds, in steps that ask the abort hook: false if it said stop. */
static bool nap(hc_client *c, double s)
{
    for (double end = mono_s() + s; mono_s() < end;) {
        if (c->abort_fn && c->abort_fn(c->abort_ctx))
            return false;
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return true;
}

/* Whether to send a request again that the server answered status (rc
 * 0): a 503 with a Retry-After (its store is down or restarting; it
 * stored nothing) within the client's unavailable budget, which ends at
 * *give_up (set on the first call, from 0). Says so once on stderr (the
 * error in body) and sleeps the Retry-After; false when it is the answer
 * to keep (any other, the budget spent, or the abort hook said stop). */
static bool again_after_503(hc_client *c, int rc, long status, const char *body, size_t len,
                            double *give_up, bool *said)
{
    if (rc != 0 || status != 503 || c->unavailable_s <= 0)
        return false;
    if (*give_up == 0)
        *give_up = mono_s() + c->unavailable_s;
    long wait = retry_after_s(c);
    if (!wait || mono_s() + (double)wait > *give_up)
        return false;
    if (!*said) {
        hark_err said_err = {0};
        hc_status_error(status, body, len, &said_err);
        fprintf(stderr, "hark: %s; trying again for up to %.0f s\n", said_err.msg,
                c->unavailable_s);
        *said = true;
    }
    return nap(c, (double)wait);
}

/* Run x into b (max bytes), sent again while again_after_503 says so. */
static int perform_retrying(hc_client *c, xfer *x, long *status, buf *b, size_t max, hark_err *err)
{
    double give_up = 0;
    bool said = false;
    for (;;) {
        int rc = perform_to_buf(c, x, status, b, err);
        if (!again_after_503(c, rc, *status, b->data, b->len, &give_up, &said))
            return rc;
        if (x->remake && !(x->mime = x->remake(x->remake_ctx)))
            return err_set(err, HARK_ENOMEM, "cannot send the request to %s again: out of memory",
                           c->base);
        buf_release(b);
        buf_init(b, max);
    }
}

/* Run x and take a 2xx JSON object (into *out if out is not NULL). A 503
 * with a Retry-After is tried again after it, within the client's
 * unavailable budget (hc_set_unavailable_retry). */
static int json_xfer(hc_client *c, xfer *x, json_t **out, hark_err *err)
{
    if (out)
        *out = NULL;
    buf b;
    buf_init(&b, HC_JSON_MAX);
    long status = 0;
    int rc = perform_retrying(c, x, &status, &b, HC_JSON_MAX, err);
    if (rc == 0 && (status < 200 || status > 299))
        rc = hc_status_error(status, b.data, b.len, err);
    if (rc == 0 && out)
        rc = parse_object(c, &b, out, err);
    buf_release(&b);
    return rc;
}

int hc_get_json(hc_client *c, const char *path, json_t **out, hark_err *err)
{
    xfer x = {.method = "GET", .path = path};
    return json_xfer(c, &x, out, err);
}

int hc_post_json(hc_client *c, const char *path, const json_t *body, json_t **out, hark_err *err)
{
    char *text = NULL;
    if (body && !(text = json_dumps(body, JSON_COMPACT)))
        return err_set(err, HARK_ENOMEM, "out of memory");
    xfer x = {.method = "POST", .path = path, .json = text};
    int rc = json_xfer(c, &x, out, err);
    free(text);
    return rc;
}

int hc_post_bytes(hc_client *c, const char *path, const void *data, size_t len,
                  const char *content_type, json_t **out, hark_err *err)
{
    static const char empty[1];
    xfer x = {.method = "POST",
              .path = path,
              .bytes = len ? data : empty,
              .bytes_len = len,
              .content_type = content_type};
    return json_xfer(c, &x, out, err);
}

int hc_delete_json(hc_client *c, const char *path, json_t **out, hark_err *err)
{
    xfer x = {.method = "DELETE", .path = path};
    return json_xfer(c, &x, out, err);
}

int hc_get_body(hc_client *c, const char *path, size_t max, buf *out, hark_err *err)
{
    buf_init(out, max);
    xfer x = {.method = "GET", .path = path};
    long status = 0;
    int rc = perform_retrying(c, &x, &status, out, max, err);
    if (rc == 0 && (status < 200 || status > 299))
        rc = hc_status_error(status, out->data, out->len, err);
    if (rc)
        buf_release(out);
    return rc;
}

/* Where a download goes: the body of a 2xx answer to fd, any other answer
 * (an error's JSON) to err_body. */
typedef struct fd_sink {
    CURL *curl;
    int fd;
    buf err_body;
    bool overflow;
    int write_errno; /* a failed write(2) */
    int64_t written;
} fd_sink;

static size_t write_to_fd(char *ptr, size_t size, size_t nmemb, void *ud)
{
    fd_sink *s = ud;
    size_t n = size * nmemb;
    long status = 0;
    curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200 || status > 299) {
        if (buf_append(&s->err_body, ptr, n)) {
            s->overflow = true;
            return 0;
        }
        return n;
    }
    for (size_t done = 0; done < n;) {
        ssize_t w = write(s->fd, ptr + done, n - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            s->write_errno = w < 0 ? errno : EIO;
            return 0; /* curl stops with CURLE_WRITE_ERROR */
        }
        done += (size_t)w;
    }
    s->written += (int64_t)n;
    return n;
}

int hc_download(hc_client *c, const char *path, int fd, const char *name, int64_t *bytes,
                hark_err *err)
{
    fd_sink s = {.curl = c->curl, .fd = fd};
    buf_init(&s.err_body, HC_JSON_MAX);
    xfer x = {.method = "GET", .path = path, .write = write_to_fd, .write_ctx = &s};
    long status = 0;
    CURLcode cc;
    double give_up = 0;
    bool said = false;
    for (;;) {
        /* Nothing reaches fd but a 2xx answer's body: a 503 can be sent again. */
        c->unreachable = false;
        cc = perform(c, &x, &status);
        if (s.write_errno || s.overflow || s.written ||
            !again_after_503(c, cc == CURLE_OK ? 0 : -1, status, s.err_body.data, s.err_body.len,
                             &give_up, &said))
            break;
        buf_release(&s.err_body);
        buf_init(&s.err_body, HC_JSON_MAX);
    }
    int rc = 0;
    if (s.write_errno)
        rc = err_set(err,
                     s.write_errno == ENOSPC || s.write_errno == EDQUOT ? HARK_ENOSPC : HARK_EIO,
                     "cannot write '%s': %s", name, strerror(s.write_errno));
    else if (s.overflow)
        rc = err_set(err, HARK_ENOMEM, "answer of hark server at %s to %s is over %zu bytes",
                     c->base, path, s.err_body.max);
    else if (cc != CURLE_OK)
        rc = transport_error(c, cc, err);
    else if (status < 200 || status > 299)
        rc = hc_status_error(status, s.err_body.data, s.err_body.len, err);
    buf_release(&s.err_body);
    if (bytes)
        *bytes = s.written;
    return rc;
}

/* ---- multipart uploads ---------------------------------------------- */

typedef struct source {
    int fd;           /* a file, or -1 */
    const char *data; /* or memory */
    size_t len, pos;
} source;

static size_t source_read(char *out, size_t size, size_t nitems, void *arg)
{
    source *s = arg;
    size_t want = size * nitems;
    if (s->fd < 0) {
        size_t n = s->len - s->pos < want ? s->len - s->pos : want;
        memcpy(out, s->data + s->pos, n);
        s->pos += n;
        return n;
    }
    for (;;) {
        ssize_t n = read(s->fd, out, want);
        if (n >= 0)
            return (size_t)n;
        if (errno != EINTR)
            return CURL_READFUNC_ABORT;
    }
}

static int source_seek(void *arg, curl_off_t offset, int origin)
{
    source *s = arg;
    if (s->fd >= 0)
        return lseek(s->fd, (off_t)offset, origin) < 0 ? CURL_SEEKFUNC_FAIL : CURL_SEEKFUNC_OK;
    curl_off_t base = origin == SEEK_SET ? 0 : origin == SEEK_CUR ? (curl_off_t)s->pos : -1;
    if (origin == SEEK_END)
        base = (curl_off_t)s->len;
    if (base < 0 || base + offset < 0 || base + offset > (curl_off_t)s->len)
        return CURL_SEEKFUNC_FAIL;
    s->pos = (size_t)(base + offset);
    return CURL_SEEKFUNC_OK;
}

/* What a multipart body is made of: made again (the file read from its
 * start) for each time the request is sent. */
typedef struct form {
    hc_client *c;
    const char *filename;
    source *src;
    curl_off_t size;
    const hc_field *fields;
    size_t n_fields;
    curl_mime *mime; /* the current one */
} form;

/* (Re)make f's body, the file from its start: the new mime, or NULL when
 * out of memory (or the file cannot be rewound). */
static curl_mime *form_make(void *arg)
{
    form *f = arg;
    curl_mime_free(f->mime);
    f->mime = NULL;
    f->src->pos = 0;
    if (f->src->fd >= 0 && lseek(f->src->fd, 0, SEEK_SET) != 0)
        return NULL;
    curl_mime *mime = curl_mime_init(f->c->curl);
    bool ok = mime != NULL;
    for (size_t i = 0; ok && i < f->n_fields; i++) {
        curl_mimepart *p = curl_mime_addpart(mime);
        ok = p && curl_mime_name(p, f->fields[i].name) == CURLE_OK &&
             curl_mime_data(p, f->fields[i].value, CURL_ZERO_TERMINATED) == CURLE_OK;
    }
    curl_mimepart *p = ok ? curl_mime_addpart(mime) : NULL;
    ok = p && curl_mime_name(p, "file") == CURLE_OK &&
         curl_mime_filename(p, f->filename) == CURLE_OK &&
         curl_mime_type(p, "application/octet-stream") == CURLE_OK &&
         curl_mime_data_cb(p, f->size, source_read, source_seek, NULL, f->src) == CURLE_OK;
    if (!ok) {
        curl_mime_free(mime);
        return NULL;
    }
    return f->mime = mime;
}

static int upload(hc_client *c, const char *path, const char *filename, source *src,
                  curl_off_t size, const hc_field *fields, size_t n_fields, json_t **out,
                  hark_err *err)
{
    form f = {.c = c,
              .filename = filename,
              .src = src,
              .size = size,
              .fields = fields,
              .n_fields = n_fields};
    int rc;
    if (!form_make(&f)) {
        rc = err_set(err, HARK_ENOMEM, "out of memory");
    } else {
        xfer x = {
            .method = "POST", .path = path, .mime = f.mime, .remake = form_make, .remake_ctx = &f};
        rc = json_xfer(c, &x, out, err);
    }
    curl_mime_free(f.mime);
    return rc;
}

int hc_upload_file(hc_client *c, const char *path, const char *file, const hc_field *fields,
                   size_t n_fields, json_t **out, hark_err *err)
{
    if (out)
        *out = NULL;
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return err_set(err, errno == ENOENT ? HARK_ENOENT : HARK_EIO, "cannot open '%s': %s", file,
                       strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        int e = errno;
        bool dir = S_ISDIR(sb.st_mode);
        close(fd);
        if (dir)
            return err_set(err, HARK_EINVAL, "cannot upload '%s': it is a directory", file);
        return err_set(err, HARK_EINVAL, "cannot upload '%s': %s", file,
                       e ? strerror(e) : "not a regular file");
    }
    const char *slash = strrchr(file, '/');
    const char *name = slash && slash[1] ? slash + 1 : file;
    source src = {.fd = fd};
    int rc = upload(c, path, name, &src, (curl_off_t)sb.st_size, fields, n_fields, out, err);
    close(fd);
    return rc;
}

int hc_upload_memory(hc_client *c, const char *path, const char *filename, const void *data,
                     size_t len, const hc_field *fields, size_t n_fields, json_t **out,
                     hark_err *err)
{
    if (out)
        *out = NULL;
    source src = {.fd = -1, .data = data, .len = len};
    return upload(c, path, filename, &src, (curl_off_t)len, fields, n_fields, out, err);
}

/* ---- the event stream ----------------------------------------------- */

typedef struct stream {
    hc_client *c;
    sse_parser p;
    CURL *curl;
    long status; /* of this connection, 0 until the first bytes */
    buf errbody; /* the body of a non-200 answer (truncated at its cap) */
    int fn_rc;   /* what fn returned when it stopped the stream */
    int feed_rc; /* the parser's own error */
    int events;  /* events on this connection */
    sse_event_fn fn;
    void *ctx;
} stream;

static int stream_event(void *ctx, const sse_event *ev)
{
    stream *s = ctx;
    s->events++;
    int rc = s->fn(s->ctx, ev);
    if (rc)
        s->fn_rc = rc;
    return rc;
}

static size_t stream_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
    stream *s = ud;
    size_t n = size * nmemb;
    if (!s->status)
        curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &s->status);
    if (s->status != 200) {
        size_t room = s->errbody.max - s->errbody.len;
        buf_append(&s->errbody, ptr, n < room ? n : room);
        return n;
    }
    int rc = sse_feed(&s->p, ptr, n);
    if (rc && !s->fn_rc)
        s->feed_rc = rc;
    return rc ? 0 : n; /* 0 != n: curl stops the transfer */
}

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

int hc_events(hc_client *c, const char *path, const char *last_event_id, sse_event_fn fn, void *ctx,
              hark_err *err)
{
    stream s = {.c = c, .curl = c->curl, .fn = fn, .ctx = ctx};
    sse_init(&s.p, SSE_LINE_MAX, SSE_DATA_MAX, stream_event, &s);
    buf_init(&s.errbody, ERROR_BODY_MAX);
    if (last_event_id)
        snprintf(s.p.id, sizeof s.p.id, "%s", last_event_id); /* sse_reset copies it on */
    int left = c->reconnect_tries;
    long delay = c->reconnect_delay_ms;
    int rc = 0;
    double give_up = 0;
    bool said = false;
    for (int attempt = 0;; attempt++) {
        sse_reset(&s.p);
        buf_reset(&s.errbody);
        s.status = 0;
        s.events = 0;
        xfer x = {.method = "GET",
                  .path = path,
                  .events = true,
                  .event_id = s.p.id,
                  .write = stream_write,
                  .write_ctx = &s};
        c->unreachable = false;
        long status = 0;
        CURLcode cc = perform(c, &x, &status);
        if (s.fn_rc) {
            rc = s.fn_rc > 0 ? 0 : s.fn_rc;
            break;
        }
        if (s.feed_rc) {
            rc = err_set(err, s.feed_rc,
                         "event stream of hark server at %s%s has a line or event "
                         "over the size limit",
                         c->base, path);
            break;
        }
        if (cc == CURLE_ABORTED_BY_CALLBACK) {
            rc = transport_error(c, cc, err);
            break;
        }
        hark_err why = {0};
        if (cc == CURLE_OK && status != 200 &&
            again_after_503(c, 0, status, s.errbody.data, s.errbody.len, &give_up, &said))
            continue; /* a stream refused while the server's store is down */
        if (cc == CURLE_OK && status != 200) {
            rc = hc_status_error(status, s.errbody.data, s.errbody.len, err);
            break;
        }
        if (cc == CURLE_URL_MALFORMAT && !c->errbuf[0]) {
            rc = err_set(err, HARK_EINVAL, "URL too long: %s%s", c->base, path);
            break;
        }
        if (cc == CURLE_OK)
            err_set(&why, HARK_EIO, "the server closed the stream before the job finished");
        else
            transport_error(c, cc, &why);
        if (attempt == 0 && c->unreachable) {
            rc = err_set(err, why.code, "%s", why.msg);
            break;
        }
        if (s.events > 0) { /* progress was made: a fresh set of tries */
            left = c->reconnect_tries;
            delay = c->reconnect_delay_ms;
        }
        if (left-- <= 0) {
            rc =
                err_set(err, why.code, "lost the event stream at %s%s: %s", c->base, path, why.msg);
            break;
        }
        long wait = s.p.retry_ms >= 0 ? s.p.retry_ms : delay;
        if (wait > 4000)
            wait = 4000;
        bool aborted = false; /* the abort hook is asked every 50 ms of the wait */
        for (long waited = 0; waited < wait && !aborted; waited += 50) {
            sleep_ms(wait - waited < 50 ? wait - waited : 50);
            aborted = c->abort_fn && c->abort_fn(c->abort_ctx);
        }
        if (aborted) {
            rc = err_set(err, HARK_ECANCELED, "request to hark server at %s stopped", c->base);
            break;
        }
        delay = delay * 2 < 4000 ? delay * 2 : 4000;
    }
    sse_release(&s.p);
    buf_release(&s.errbody);
    return rc;
}
