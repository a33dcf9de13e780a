#include "net/fetch.h"

#include "net/net.h"
#include "util/clock.h"
#include "util/fs.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define URL_SHOWN_MAX 2048 /* = sizeof net_fetch_result.effective_url */

net_fetch_opts net_fetch_defaults(void)
{
    return (net_fetch_opts){
        .connect_timeout_s = 10,
        .total_timeout_s = 3600,
        .low_speed_bytes = 1024,
        .low_speed_time_s = 30,
        .max_bytes = (uint64_t)2 << 30,
        .max_redirects = 5,
    };
}

/* Where the body goes, and what stopped it. */
typedef struct sink {
    int fd;
    uint64_t max; /* 0: no cap */
    uint64_t written;
    bool over;       /* the next piece would have passed max */
    int write_errno; /* a write to the file failed */
    bool cancelled;
    const net_fetch_opts *o;
} sink;

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
    sink *s = ud;
    size_t n = size * nmemb;
    /* Check before writing, so the file never holds more than the cap. */
    if (s->max && (uint64_t)n > s->max - s->written) {
        s->over = true;
        return 0; /* != n: curl stops with CURLE_WRITE_ERROR */
    }
    if (fs_write_all(s->fd, p, n) != 0) {
        s->write_errno = errno;
        return 0;
    }
    s->written += n;
    return n;
}

/* Remember the Content-Length of the response being read, for the message
 * when curl refuses it as over the cap (curl does not report it then). */
static size_t on_header(char *p, size_t size, size_t nmemb, void *ud)
{
    curl_off_t *announced = ud;
    size_t n = size * nmemb;
    static const char name[] = "content-length:";
    if (n > 5 && strncmp(p, "HTTP/", 5) == 0) { /* a new response starts */
        *announced = -1;
    } else if (n > sizeof name - 1 && strncasecmp(p, name, sizeof name - 1) == 0) {
        char digits[32];
        size_t k = 0;
        for (size_t i = sizeof name - 1; i < n && k + 1 < sizeof digits; i++)
            if (p[i] >= '0' && p[i] <= '9')
                digits[k++] = p[i];
            else if (k || (p[i] != ' ' && p[i] != '\t'))
                break;
        digits[k] = '\0';
        errno = 0;
        long long v = strtoll(digits, NULL, 10);
        if (k && errno == 0)
            *announced = (curl_off_t)v;
    }
    return n;
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    sink *s = ud;
    if (s->o->cancel(s->o->cancel_ctx)) {
        s->cancelled = true;
        return 1; /* curl stops with CURLE_ABORTED_BY_CALLBACK */
    }
    return 0;
}

/* How long the transfer may wait on its sockets before it looks at the
 * cancel check again. curl_easy_perform would sleep up to a second while a
 * server is silent; a worker asked to yield for a push-to-talk clip must
 * answer within a tenth of that. */
#define CANCEL_POLL_MS 50

/* curl_easy_perform, but on a multi handle so that the cancel check runs
 * at least every CANCEL_POLL_MS, whatever the server does. */
static CURLcode perform(CURL *h, sink *s)
{
    if (!s->o->cancel)
        return curl_easy_perform(h);
    CURLM *m = curl_multi_init();
    if (!m)
        return CURLE_OUT_OF_MEMORY;
    if (curl_multi_add_handle(m, h) != CURLM_OK) {
        curl_multi_cleanup(m);
        return CURLE_OUT_OF_MEMORY;
    }
    CURLcode rc = CURLE_OK;
    for (;;) {
        int running = 0;
        CURLMcode mc = curl_multi_perform(m, &running);
        if (mc != CURLM_OK) {
            rc = mc == CURLM_OUT_OF_MEMORY ? CURLE_OUT_OF_MEMORY : CURLE_SEND_ERROR;
            break;
        }
        if (!running) {
            int left;
            CURLMsg *msg = curl_multi_info_read(m, &left);
            rc = msg && msg->msg == CURLMSG_DONE ? msg->data.result : CURLE_RECV_ERROR;
            break;
        }
        if (s->cancelled || s->o->cancel(s->o->cancel_ctx)) {
            s->cancelled = true;
            rc = CURLE_ABORTED_BY_CALLBACK;
            break;
        }
        mc = curl_multi_poll(m, NULL, 0, CANCEL_POLL_MS, NULL);
        if (mc != CURLM_OK) {
            rc = mc == CURLM_OUT_OF_MEMORY ? CURLE_OUT_OF_MEMORY : CURLE_RECV_ERROR;
            break;
        }
    }
    curl_multi_remove_handle(m, h);
    curl_multi_cleanup(m);
    return rc;
}

static long to_ms(double s)
{
    long ms = (long)(s * 1000);
    return ms < 1 ? 1 : ms;
}

/* What the transfer left behind, for the message. */
typedef struct outcome {
    CURLcode rc;
    long status;
    long redirects;
    curl_off_t pretransfer_us; /* 0: never connected */
    curl_off_t announced;      /* Content-Length of the last response, -1 if none */
    long os_errno;
    double elapsed_s;
    char errbuf[CURL_ERROR_SIZE];
    char redirect_to[URL_SHOWN_MAX]; /* a redirect not followed, redacted */
    bool refused;                    /* the destination guard refused where it went */
} outcome;

/* An HTTP status that is not 2xx: the code and whether to try again. */
static int status_error(const char *shown, const char *where, long status, net_fetch_result *res,
                        hark_err *err)
{
    int code = status == 404 || status == 410                    ? HARK_ENOENT
               : status >= 500 || status == 408 || status == 429 ? HARK_EIO
                                                                 : HARK_EINVAL;
    res->retryable = code == HARK_EIO;
    if (status >= 300 && status < 400)
        return err_set(err, code, "cannot download %s%s: server answered HTTP %ld with no Location",
                       shown, where, status);
    return err_set(err, code, "cannot download %s%s: server answered HTTP %ld", shown, where,
                   status);
}

/* Turn a failed transfer into err. shown and where are the redacted URL
 * and, after redirects, " (redirected to ...)". */
static int fail(const char *url, const char *shown, const char *where, const outcome *oc,
                const sink *s, const net_fetch_opts *o, const char *dest_path,
                net_fetch_result *res, hark_err *err)
{
    char detail[CURL_ERROR_SIZE], host[256];
    net_error_detail(url, oc->errbuf, curl_easy_strerror(oc->rc), detail, sizeof detail);
    net_url_host(res->effective_url, host, sizeof host);
    res->retryable = false;
    if (s->cancelled)
        return err_set(err, HARK_ECANCELED, "download of %s cancelled", shown);
    if (s->over)
        return err_set(err, HARK_ETOOLONG, "cannot download %s%s: over the cap of %llu bytes",
                       shown, where, (unsigned long long)o->max_bytes);
    if (s->write_errno)
        return err_set(err, HARK_EIO, "cannot write '%s': %s", dest_path, strerror(s->write_errno));
    if (oc->refused) /* the host of the hop that was refused; nothing of its address */
        return err_set(err, HARK_EINVAL,
                       "cannot download %s%s: destination %s " NET_DEST_NOT_ALLOWED, shown, where,
                       host);
    switch (oc->rc) {
    case CURLE_OK:
    case CURLE_HTTP_RETURNED_ERROR:
        return status_error(shown, where, oc->status, res, err);
    case CURLE_FILESIZE_EXCEEDED:
        /* curl checks Content-Length as it reads the headers, before the
         * status decides anything: an error page that says it is large is
         * still an error page. */
        if (oc->status >= 400)
            return status_error(shown, where, oc->status, res, err);
        if (oc->announced > 0)
            return err_set(err, HARK_ETOOLONG,
                           "cannot download %s%s: the server announces %lld bytes, over the cap of "
                           "%llu bytes",
                           shown, where, (long long)oc->announced,
                           (unsigned long long)o->max_bytes);
        return err_set(err, HARK_ETOOLONG,
                       "cannot download %s%s: the server announces more than the cap of %llu bytes",
                       shown, where, (unsigned long long)o->max_bytes);
    case CURLE_UNSUPPORTED_PROTOCOL:
        /* The first URL was checked before the transfer: this is a redirect. */
        return err_set(err, HARK_EINVAL,
                       "cannot download %s: refused a redirect to %s: only http:// and https:// "
                       "are allowed",
                       shown, res->effective_url);
    case CURLE_TOO_MANY_REDIRECTS:
        if (o->max_redirects <= 0)
            return err_set(err, HARK_EINVAL,
                           "cannot download %s: the server redirects to %s and redirects are not "
                           "followed",
                           shown, oc->redirect_to[0] ? oc->redirect_to : "another URL");
        return err_set(err, HARK_EINVAL, "cannot download %s: more than %d redirects", shown,
                       o->max_redirects);
    case CURLE_COULDNT_RESOLVE_HOST:
        res->retryable = true;
        res->host_unresolved = true;
        return err_set(err, HARK_EIO, "cannot download %s%s: cannot resolve host '%s'", shown,
                       where, host);
    case CURLE_COULDNT_CONNECT:
        res->retryable = true;
        if (oc->os_errno)
            return err_set(err, HARK_EIO, "cannot download %s%s: cannot connect to %s: %s", shown,
                           where, host, strerror((int)oc->os_errno));
        return err_set(err, HARK_EIO, "cannot download %s%s: %s", shown, where, detail);
    case CURLE_OPERATION_TIMEDOUT:
        res->retryable = true;
        /* curl says "timed out" for four different limits; tell them apart
         * by how far the transfer got. */
        if (o->total_timeout_s > 0 && oc->elapsed_s >= o->total_timeout_s - 0.05)
            return err_set(err, HARK_ETIMEDOUT,
                           "cannot download %s%s: not done within the time limit of %g s", shown,
                           where, o->total_timeout_s);
        if (oc->pretransfer_us == 0)
            return err_set(err, HARK_ETIMEDOUT,
                           "cannot download %s%s: cannot connect to %s: timed out after %g s",
                           shown, where, host,
                           o->connect_timeout_s > 0 ? o->connect_timeout_s : 300.0);
        if (oc->status == 0)
            return err_set(err, HARK_ETIMEDOUT,
                           "cannot download %s%s: %s accepted the connection but sent no answer "
                           "for %ld s",
                           shown, where, host, o->low_speed_time_s);
        return err_set(err, HARK_ETIMEDOUT,
                       "cannot download %s%s: too slow (under %ld bytes/s for %ld s)", shown, where,
                       o->low_speed_bytes, o->low_speed_time_s);
    case CURLE_URL_MALFORMAT:
        return err_set(err, HARK_EINVAL, "cannot download %s: bad URL: %s", shown, detail);
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
        return err_set(err, HARK_EIO, "cannot download %s%s: %s", shown, where, detail);
    case CURLE_OUT_OF_MEMORY:
        return err_set(err, HARK_ENOMEM, "cannot download %s: out of memory", shown);
    default:
        res->retryable = true;
        return err_set(err, HARK_EIO, "cannot download %s%s: %s", shown, where, detail);
    }
}

/* Run the transfer from url into s->fd; fills res and oc. */
static void transfer(const char *url, const net_fetch_opts *o, sink *s, net_fetch_result *res,
                     outcome *oc)
{
    CURL *h = curl_easy_init();
    if (!h) {
        oc->rc = CURLE_OUT_OF_MEMORY;
        return;
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https"); /* libcurl >= 7.85 */
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, (long)(o->max_redirects > 0 ? o->max_redirects : 0));
    curl_easy_setopt(h, CURLOPT_FAILONERROR, 1L); /* no error page lands in the file */
    curl_easy_setopt(h, CURLOPT_USERAGENT, "hark/" HARK_VERSION);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, oc->errbuf);
    net_dest_guard guard;
    net_dest_guard_attach(&guard, o->dest, h);
    if (o->connect_timeout_s > 0)
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, to_ms(o->connect_timeout_s));
    if (o->total_timeout_s > 0)
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, to_ms(o->total_timeout_s));
    if (o->low_speed_bytes > 0 && o->low_speed_time_s > 0) {
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, o->low_speed_bytes);
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, o->low_speed_time_s);
    }
    if (o->max_bytes) /* refuses an announced Content-Length over the cap */
        curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE,
                         (curl_off_t)(o->max_bytes > INT64_MAX ? INT64_MAX : o->max_bytes));
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &oc->announced);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, s);
    if (o->cancel) {
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(h, CURLOPT_XFERINFODATA, s);
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    }

    double t0 = clock_now_s();
    oc->rc = perform(h, s);
    oc->elapsed_s = clock_now_s() - t0;
    oc->refused = net_dest_guard_refused(&guard, oc->rc);

    char *str = NULL;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &oc->status);
    curl_easy_getinfo(h, CURLINFO_REDIRECT_COUNT, &oc->redirects);
    curl_easy_getinfo(h, CURLINFO_PRETRANSFER_TIME_T, &oc->pretransfer_us);
    curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &oc->os_errno);
    if (curl_easy_getinfo(h, CURLINFO_REDIRECT_URL, &str) == CURLE_OK && str)
        net_url_redact(str, oc->redirect_to, sizeof oc->redirect_to);
    str = NULL;
    if (curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &str) == CURLE_OK && str)
        snprintf(res->content_type, sizeof res->content_type, "%s", str);
    str = NULL;
    if (curl_easy_getinfo(h, CURLINFO_EFFECTIVE_URL, &str) == CURLE_OK && str)
        net_url_redact(str, res->effective_url, sizeof res->effective_url);
    res->status = oc->status;
    curl_easy_cleanup(h);
}

int net_fetch_to_file(const char *url, const char *dest_path, const net_fetch_opts *o,
                      net_fetch_result *res, hark_err *err)
{
    net_fetch_opts defaults = net_fetch_defaults();
    net_fetch_result scratch;
    if (!o)
        o = &defaults;
    if (!res)
        res = &scratch;
    memset(res, 0, sizeof *res);
    char shown[URL_SHOWN_MAX];
    net_url_redact(url, shown, sizeof shown);
    snprintf(res->effective_url, sizeof res->effective_url, "%s", shown);
    if (!net_url_is_http(url))
        return err_set(err, HARK_EINVAL,
                       "cannot download %s: only http:// and https:// URLs are allowed", shown);

    /* The temporary beside dest_path: same filesystem, so rename is atomic;
     * hidden and marked, so a leftover from a crash is recognizable. */
    const char *slash = strrchr(dest_path, '/');
    const char *name = slash ? slash + 1 : dest_path;
    char tmp[4096], dir[4096];
    int w = slash ? snprintf(tmp, sizeof tmp, "%.*s/.%s.part.XXXXXX", (int)(slash - dest_path),
                             dest_path, name)
                  : snprintf(tmp, sizeof tmp, ".%s.part.XXXXXX", name);
    if (!*name || w < 0 || (size_t)w >= sizeof tmp)
        return err_set(err, HARK_EINVAL, "cannot write '%s': not a usable file name", dest_path);
    fs_dirname(dest_path, dir, sizeof dir);
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0 || fchmod(fd, 0600) != 0) {
        int e = errno;
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        return err_set(err, e == ENOENT ? HARK_ENOENT : HARK_EIO, "cannot write '%s': %s",
                       dest_path, strerror(e));
    }

    sink s = {.fd = fd, .max = o->max_bytes, .o = o};
    outcome oc = {.announced = -1};
    transfer(url, o, &s, res, &oc);
    res->bytes = s.written;

    char where[URL_SHOWN_MAX + 32] = "";
    if (oc.redirects > 0 && strcmp(res->effective_url, shown) != 0)
        snprintf(where, sizeof where, " (redirected to %s)", res->effective_url);
    int rc = 0;
    if (oc.rc != CURLE_OK || oc.status < 200 || oc.status > 299 || s.over || s.write_errno ||
        s.cancelled)
        rc = fail(url, shown, where, &oc, &s, o, dest_path, res, err);
    else if (fsync(fd) != 0)
        rc = err_set(err, HARK_EIO, "cannot write '%s': %s", dest_path, strerror(errno));
    /* close can report a deferred write error (NFS); the data is not safe then. */
    if (close(fd) != 0 && errno != EINTR && rc == 0)
        rc = err_set(err, HARK_EIO, "cannot write '%s': %s", dest_path, strerror(errno));
    if (rc == 0 && rename(tmp, dest_path) != 0)
        rc = err_set(err, HARK_EIO, "cannot write '%s': %s", dest_path, strerror(errno));
    if (rc != 0) {
        unlink(tmp);
        return rc;
    }
    /* Make the rename durable. Some filesystems cannot fsync a directory
     * (EINVAL); that is not a failure of this download. Any other failure
     * is, and the contract says nothing is left behind on failure. */
    errno = 0;
    if (fs_fsync_dir(dir) != 0 && errno != EINVAL) {
        int e = errno ? errno : EIO;
        unlink(dest_path);
        return err_set(err, HARK_EIO, "cannot write '%s': cannot sync its directory: %s", dest_path,
                       strerror(e));
    }
    return 0;
}
