/* webhook_sender.c - see webhook_sender.h. */
#include "runtime/webhook_sender.h"

#include "net/webhook.h"
#include "util/log.h"
#include "util/utf8.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 16
#define DEFAULT_TIMEOUT_S 10.0
#define MAX_TIMEOUT_S 600.0
#define CONNECT_TIMEOUT_S 5.0
#define IDLE_WAIT_MS 30000   /* look anyway after this long (a clock jump, another writer) */
#define ERROR_WAIT_MS 1000   /* after the store failed, before asking again */
#define LEASE_SLACK_MS 60000 /* a claim outlives its attempt by this much */

struct webhook_sender {
    store *st;
    notify *changes;
    char *secret;
    double timeout_s;
    int64_t backoff_base_ms, lease_ms;
    void (*on_attempt)(void *ctx, enum webhook_sender_outcome outcome);
    void *attempt_ctx;
    const net_dest_policy *dest;
    atomic_bool stop; /* also the cancel flag of attempts in flight */
    int n_threads;
    pthread_t threads[MAX_THREADS];
};

/* ---- options, secrets ------------------------------------------------------ */

static void defaults(webhook_sender_opts *o)
{
    if (o->threads == 0)
        o->threads = WEBHOOK_SENDER_THREADS;
    if (o->timeout_s == 0)
        o->timeout_s = DEFAULT_TIMEOUT_S;
    if (o->backoff_base_ms == 0)
        o->backoff_base_ms = WEBHOOK_BACKOFF_BASE_MS;
}

int webhook_sender_opts_env(webhook_sender_opts *o, hark_err *err)
{
    defaults(o);
    const char *v = getenv("HARK_WEBHOOK_TIMEOUT");
    if (v && *v) {
        char *end = NULL;
        errno = 0;
        double t = strtod(v, &end);
        if (errno || *end || !isfinite(t) || t <= 0 || t > MAX_TIMEOUT_S)
            return err_set(err, HARK_EINVAL,
                           "HARK_WEBHOOK_TIMEOUT: '%.40s' is not a number of seconds in (0, %g]", v,
                           MAX_TIMEOUT_S);
        o->timeout_s = t;
    }
    v = getenv("HARK_WEBHOOK_BACKOFF_MS");
    if (v && *v) {
        char *end = NULL;
        errno = 0;
        long long ms = strtoll(v, &end, 10);
        if (errno || *end || ms < 1 || ms > WEBHOOK_BACKOFF_CAP_MS)
            return err_set(err, HARK_EINVAL,
                           "HARK_WEBHOOK_BACKOFF_MS: '%.40s' is not a number of milliseconds in "
                           "1..%d",
                           v, WEBHOOK_BACKOFF_CAP_MS);
        o->backoff_base_ms = ms;
    }
    return 0;
}

int webhook_secret_check(const char *secret, hark_err *err)
{
    size_t n = secret ? strnlen(secret, WEBHOOK_SECRET_MAX + 1) : 0;
    if (n < WEBHOOK_SECRET_MIN)
        return err_set(err, HARK_EINVAL, "webhook secret is too short (at least %d bytes)",
                       WEBHOOK_SECRET_MIN);
    if (n > WEBHOOK_SECRET_MAX)
        return err_set(err, HARK_EINVAL, "webhook secret is too long (at most %d bytes)",
                       WEBHOOK_SECRET_MAX);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)secret[i] < 0x20 || (unsigned char)secret[i] == 0x7f)
            return err_set(err, HARK_EINVAL, "webhook secret holds a control character (byte %zu)",
                           i + 1);
    return 0;
}

int webhook_secret_read(const char *path, char **out, hark_err *err)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return err_set(err, errno == ENOENT ? HARK_ENOENT : HARK_EIO,
                       "cannot read webhook secret file '%s': %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return err_set(err, HARK_EINVAL, "cannot read webhook secret file '%s': not a regular file",
                       path);
    }
    char *buf = calloc(1, WEBHOOK_SECRET_MAX + 4);
    if (!buf) {
        close(fd);
        return err_set(err, HARK_ENOMEM, "out of memory reading '%s'", path);
    }
    size_t n = 0;
    while (n < WEBHOOK_SECRET_MAX + 3) {
        ssize_t r = read(fd, buf + n, WEBHOOK_SECRET_MAX + 3 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            close(fd);
            free(buf);
            return err_set(err, HARK_EIO, "cannot read webhook secret file '%s': %s", path,
                           strerror(e));
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    if (n && buf[n - 1] == '\n')
        n--;
    if (n && buf[n - 1] == '\r')
        n--;
    buf[n] = '\0';
    int rc = memchr(buf, '\0', n) ? err_set(err, HARK_EINVAL, "holds a NUL byte")
                                  : webhook_secret_check(buf, err);
    if (rc) {
        hark_err why = {0};
        if (err)
            why = *err;
        err_set(err, rc, "webhook secret file '%s': %s", path, why.msg);
        explicit_bzero(buf, WEBHOOK_SECRET_MAX + 4);
        free(buf);
        return rc;
    }
    *out = buf;
    return 0;
}

int webhook_secret_load(const char *file, char **out, hark_err *err)
{
    *out = NULL;
    if (file)
        return webhook_secret_read(file, out, err);
    const char *v = getenv(WEBHOOK_SECRET_ENV);
    if (!v || !v[0])
        return 0;
    hark_err why = {0};
    int rc = webhook_secret_check(v, &why);
    if (rc)
        return err_set(err, rc, "%s: %s", WEBHOOK_SECRET_ENV, why.msg);
    if (!(*out = strdup(v)))
        return err_set(err, HARK_ENOMEM, "out of memory");
    return 0;
}

/* ---- one attempt ---------------------------------------------------------------- */

static uint64_t random64(void)
{
    uint64_t r = 0;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        r = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ULL ^ (uint64_t)pthread_self();
    }
    return r;
}

/* How long after failed attempt number `attempt` the next is due. */
static int64_t retry_delay_ms(const webhook_sender *ws, int attempt, long retry_after_s)
{
    int64_t d = webhook_next_delay_ms(attempt, random64());
    if (ws->backoff_base_ms != WEBHOOK_BACKOFF_BASE_MS)
        d = d * ws->backoff_base_ms / WEBHOOK_BACKOFF_BASE_MS;
    if (retry_after_s > 0) {
        int64_t ra = retry_after_s > WEBHOOK_BACKOFF_CAP_MS / 1000 ? WEBHOOK_BACKOFF_CAP_MS
                                                                   : (int64_t)retry_after_s * 1000;
        if (ra > d)
            d = ra;
    }
    return d;
}

/* An attempt's message as it may be stored and shown in JSON: the URLs
 * quoted in it (the callback's, a redirect's Location) may hold any bytes,
 * so what is not valid UTF-8 or is a control character becomes '?'. */
static void clean_message(const char *in, char *out, size_t outlen)
{
    size_t n = strlen(in), k = 0;
    for (size_t i = 0; i < n && k + 5 < outlen;) {
        uint32_t cp = 0;
        size_t len = utf8_char_len(in + i, n - i, &cp);
        if (len == 0 || cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) {
            out[k++] = '?';
            i += len ? len : 1;
        } else {
            memcpy(out + k, in + i, len);
            k += len;
            i += len;
        }
    }
    out[k] = '\0';
}

static void deliver_one(webhook_sender *ws, const store_webhook *w)
{
    char did[STORE_DELIVERY_ID_SIZE];
    store_webhook_delivery_id(w, did);
    webhook_request rq = {.url = w->url,
                          .secret = ws->secret,
                          .event = w->event,
                          .delivery_id = did,
                          .body = w->body,
                          .body_len = strlen(w->body)};
    webhook_opts o = {
        .connect_timeout_s = ws->timeout_s < CONNECT_TIMEOUT_S ? ws->timeout_s : CONNECT_TIMEOUT_S,
        .timeout_s = ws->timeout_s,
        .cancel = &ws->stop,
        .dest = ws->dest,
    };
    webhook_result res;
    hark_err e = {0};
    int attempt = w->attempts + 1;
    int rc = webhook_deliver(&rq, &o, &res, &e);
    if (rc == HARK_ECANCELED) {
        /* Stopping: this attempt does not count. The claim lapses (at the
         * next start store_recover frees it) and it is made again. */
        log_info("webhook %s of job %s: attempt %d abandoned at stop", did, w->job_id, attempt);
        return;
    }
    char msg[sizeof e.msg + 8];
    clean_message(e.msg, msg, sizeof msg);
    store_webhook_attempt a = {.status = (int)res.status, .error = rc ? msg : NULL};
    switch (res.outcome) {
    case WEBHOOK_DELIVERED:
        a.state = STORE_WEBHOOK_DELIVERED;
        break;
    case WEBHOOK_RETRY:
        a.state = STORE_WEBHOOK_PENDING;
        a.retry_delay_ms = retry_delay_ms(ws, attempt, res.retry_after_s);
        break;
    default:
        a.state = STORE_WEBHOOK_FAILED;
        break;
    }
    int state = -1;
    hark_err serr = {0};
    int src = store_record_webhook(ws->st, w->id, attempt, &a, &state, &serr);
    if (src == HARK_ENOENT || src == HARK_ESTALE) {
        log_info("webhook %s of job %s: outcome of attempt %d not recorded: %s", did, w->job_id,
                 attempt, serr.msg);
        return;
    }
    if (src) {
        log_warn("webhook %s of job %s: cannot record attempt %d: %s", did, w->job_id, attempt,
                 serr.msg);
        return;
    }
    enum webhook_sender_outcome out;
    if (state == STORE_WEBHOOK_DELIVERED) {
        out = WEBHOOK_SENDER_DELIVERED;
        log_info("webhook %s of job %s: delivered (HTTP %ld, attempt %d, %.3f s)", did, w->job_id,
                 res.status, attempt, res.elapsed_s);
    } else if (state == STORE_WEBHOOK_PENDING) {
        out = WEBHOOK_SENDER_RETRIED;
        log_info("webhook %s of job %s: attempt %d failed, next in %.1f s: %s", did, w->job_id,
                 attempt, (double)a.retry_delay_ms / 1000.0, msg);
    } else {
        out = WEBHOOK_SENDER_FAILED;
        log_warn("webhook %s of job %s: given up after attempt %d: %s", did, w->job_id, attempt,
                 msg);
    }
    if (ws->on_attempt)
        ws->on_attempt(ws->attempt_ctx, out);
}

/* ---- the threads ----------------------------------------------------------------- */

static bool stopping(webhook_sender *ws)
{
    return atomic_load(&ws->stop) || notify_closed(ws->changes);
}

static void *sender_main(void *arg)
{
    webhook_sender *ws = arg;
    while (!stopping(ws)) {
        /* Read the counter before looking: a commit after this wakes the wait. */
        uint64_t seen = notify_gen(ws->changes);
        store_webhook_list l;
        int64_t wait_ms = -1;
        hark_err err = {0};
        int rc = store_claim_webhooks(ws->st, 1, ws->lease_ms, &l, &wait_ms, &err);
        if (rc) {
            log_warn("webhooks: %s", err.msg);
            wait_ms = ERROR_WAIT_MS;
        } else if (l.n > 0) {
            deliver_one(ws, &l.items[0]);
            store_webhook_list_release(&l);
            continue;
        }
        int timeout = wait_ms < 0 || wait_ms > IDLE_WAIT_MS ? IDLE_WAIT_MS
                      : wait_ms < 1                         ? 1
                                                            : (int)wait_ms;
        notify_wait(ws->changes, seen, timeout);
    }
    return NULL;
}

int webhook_sender_start(const webhook_sender_opts *opts, webhook_sender **out, hark_err *err)
{
    webhook_sender_opts o = *opts;
    *out = NULL;
    defaults(&o);
    if (!o.st || !o.changes)
        return err_set(err, HARK_EINVAL, "webhook sender: no store");
    int rc = webhook_secret_check(o.secret, err);
    if (rc)
        return rc;
    if (o.threads < 1 || o.threads > MAX_THREADS || !isfinite(o.timeout_s) || o.timeout_s <= 0 ||
        o.timeout_s > MAX_TIMEOUT_S || o.backoff_base_ms < 1 ||
        o.backoff_base_ms > WEBHOOK_BACKOFF_CAP_MS)
        return err_set(err, HARK_EINVAL, "webhook sender: bad options");
    webhook_sender *ws = calloc(1, sizeof *ws);
    if (!ws || !(ws->secret = strdup(o.secret))) {
        free(ws);
        return err_set(err, HARK_ENOMEM, "webhook sender: out of memory");
    }
    ws->st = o.st;
    ws->changes = o.changes;
    ws->timeout_s = o.timeout_s;
    ws->backoff_base_ms = o.backoff_base_ms;
    ws->lease_ms = (int64_t)ceil(o.timeout_s * 1000.0) + LEASE_SLACK_MS;
    ws->on_attempt = o.on_attempt;
    ws->attempt_ctx = o.attempt_ctx;
    ws->dest = o.dest;
    atomic_init(&ws->stop, false);
    /* Sender threads never take a signal meant for the process (INT/TERM
     * reach the daemon through its signalfd): they start with all blocked. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    for (int i = 0; i < o.threads; i++) {
        int e = pthread_create(&ws->threads[i], NULL, sender_main, ws);
        if (e) {
            pthread_sigmask(SIG_SETMASK, &old, NULL);
            webhook_sender_stop(ws);
            return err_set(err, HARK_EIO, "webhook sender: cannot start a thread: %s", strerror(e));
        }
        ws->n_threads++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    *out = ws;
    return 0;
}

void webhook_sender_stop(webhook_sender *ws)
{
    if (!ws)
        return;
    atomic_store(&ws->stop, true);
    notify_signal(ws->changes); /* wake the idle ones */
    for (int i = 0; i < ws->n_threads; i++)
        pthread_join(ws->threads[i], NULL);
    explicit_bzero(ws->secret, strlen(ws->secret));
    free(ws->secret);
    free(ws);
}
