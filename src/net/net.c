#include "net/net.h"

#include <curl/curl.h>
#include <string.h>
#include <strings.h>

int net_global_init(hark_err *err)
{
    CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (rc != CURLE_OK)
        return err_set(err, HARK_EIO, "cannot initialize libcurl: %s", curl_easy_strerror(rc));
    return 0;
}

void net_global_cleanup(void)
{
    curl_global_cleanup();
}

/* The parts of a URL these helpers care about, as offsets into it:
 * [0, rest) is "scheme://", [host, end) the host and port, [end, tail)
 * the path, and tail is the '?' or '#' that starts the rest (or the NUL). */
typedef struct url_parts {
    size_t rest, host, end, tail;
    bool ok; /* "://" was found */
} url_parts;

static url_parts split(const char *url)
{
    url_parts p = {0};
    const char *sep = strstr(url, "://");
    /* Without a scheme, take the text up to the first '/' as the authority
     * anyway: "user:pw@host/x" must not show its password either. */
    p.ok = sep != NULL;
    p.rest = sep ? (size_t)(sep - url) + 3 : 0;
    p.end = p.rest + strcspn(url + p.rest, "/?#");
    /* The userinfo ends at the last '@' of the authority: a password may
     * itself contain '@' when it was not percent-encoded. */
    p.host = p.rest;
    for (size_t i = p.rest; i < p.end; i++)
        if (url[i] == '@')
            p.host = i + 1;
    p.tail = p.end + strcspn(url + p.end, "?#");
    return p;
}

bool net_url_is_http(const char *url)
{
    size_t skip = strncasecmp(url, "http://", 7) == 0    ? 7
                  : strncasecmp(url, "https://", 8) == 0 ? 8
                                                         : 0;
    if (!skip)
        return false;
    url_parts p = split(url);
    return p.end > p.host;
}

/* Append n bytes of s to out at *k, control characters as '?'; false when
 * out is full (what did not fit is dropped). */
static bool put(char *out, size_t outlen, size_t *k, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (*k + 1 >= outlen)
            return false;
        unsigned char c = (unsigned char)s[i];
        out[(*k)++] = c < ' ' || c == 0x7f ? '?' : (char)c;
    }
    return true;
}

void net_url_redact(const char *url, char *out, size_t outlen)
{
    if (!outlen)
        return;
    url_parts p = split(url);
    size_t k = 0;
    bool fits = put(out, outlen, &k, url, p.rest) &&
                put(out, outlen, &k, url + p.host, p.tail - p.host) &&
                (!url[p.tail] || put(out, outlen, &k, "?...", 4));
    if (!fits) {
        k = outlen - 1;
        for (size_t i = 0; i < 3 && i < k; i++)
            out[k - 1 - i] = '.';
    }
    out[k] = '\0';
}

void net_url_host(const char *url, char *out, size_t outlen)
{
    if (!outlen)
        return;
    url_parts p = split(url);
    size_t k = 0;
    if (p.ok)
        put(out, outlen, &k, url + p.host, p.end - p.host);
    out[k] = '\0';
}

const char *net_http_reason(long status)
{
    static const struct {
        long status;
        const char *reason;
    } table[] = {
        {200, "OK"},
        {201, "Created"},
        {202, "Accepted"},
        {204, "No Content"},
        {301, "Moved Permanently"},
        {302, "Found"},
        {303, "See Other"},
        {307, "Temporary Redirect"},
        {308, "Permanent Redirect"},
        {400, "Bad Request"},
        {401, "Unauthorized"},
        {403, "Forbidden"},
        {404, "Not Found"},
        {405, "Method Not Allowed"},
        {408, "Request Timeout"},
        {409, "Conflict"},
        {410, "Gone"},
        {413, "Content Too Large"},
        {415, "Unsupported Media Type"},
        {422, "Unprocessable Content"},
        {429, "Too Many Requests"},
        {500, "Internal Server Error"},
        {501, "Not Implemented"},
        {502, "Bad Gateway"},
        {503, "Service Unavailable"},
        {504, "Gateway Timeout"},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (table[i].status == status)
            return table[i].reason;
    return "";
}

/* True if s contains the n bytes at part (n > 0). */
static bool contains(const char *s, const char *part, size_t n)
{
    for (; *s; s++)
        if (strncmp(s, part, n) == 0)
            return true;
    return false;
}

void net_error_detail(const char *url, const char *errbuf, const char *fallback, char *out,
                      size_t outlen)
{
    if (!outlen)
        return;
    const char *text = errbuf && errbuf[0] ? errbuf : fallback;
    url_parts p = split(url);
    if (p.host > p.rest) { /* "user:password@" at [rest, host - 1) */
        const char *ui = url + p.rest;
        size_t n = p.host - 1 - p.rest;
        size_t user = strcspn(ui, ":");
        if (user > n)
            user = n;
        bool leaks = (user && contains(text, ui, user)) ||
                     (n > user + 1 && contains(text, ui + user + 1, n - user - 1));
        if (leaks)
            text = fallback;
    }
    size_t len = strlen(text);
    while (len && (unsigned char)text[len - 1] <= ' ') /* errbuf may end in a newline */
        len--;
    size_t k = 0;
    put(out, outlen, &k, text, len);
    out[k] = '\0';
}
