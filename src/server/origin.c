/* origin.c - see origin.h. */
#include "server/origin.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* A host and port split out of "host[:port]" or "[v6]:port"; port -1 when
 * none was given. Hosts are lowercased, a final dot dropped. */
typedef struct hostport {
    char host[ORIGIN_MAX];
    bool v6; /* was bracketed */
    int port;
} hostport;

static bool host_char_ok(char c, bool v6)
{
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.')
        return true;
    return v6 ? (c == ':' || c == '%') : c == '_';
}

static bool parse_port(const char *s, size_t n, int *out)
{
    if (n == 0 || n > 5)
        return false;
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    if (v > 65535)
        return false;
    *out = v;
    return true;
}

static bool split_hostport(const char *s, size_t n, hostport *hp)
{
    const char *host = s, *rest;
    size_t hn;
    hp->v6 = false;
    hp->port = -1;
    if (n > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (!close)
            return false;
        host = s + 1;
        hn = (size_t)(close - host);
        rest = close + 1;
        hp->v6 = true;
    } else {
        const char *colon = memchr(s, ':', n);
        hn = colon ? (size_t)(colon - s) : n;
        rest = s + hn;
    }
    size_t rn = n - (size_t)(rest - s);
    if (rn > 0) {
        if (rest[0] != ':' || !parse_port(rest + 1, rn - 1, &hp->port))
            return false;
    }
    if (hn > 0 && !hp->v6 && host[hn - 1] == '.')
        hn--;
    if (hn == 0 || hn >= sizeof hp->host)
        return false;
    for (size_t i = 0; i < hn; i++) {
        char c = host[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (!host_char_ok(c, hp->v6))
            return false;
        hp->host[i] = c;
    }
    hp->host[hn] = '\0';
    return true;
}

static bool is_ip_literal(const hostport *hp)
{
    unsigned char addr[16];
    if (hp->v6) {
        char tmp[ORIGIN_MAX];
        snprintf(tmp, sizeof tmp, "%s", hp->host);
        tmp[strcspn(tmp, "%")] = '\0'; /* a zone id */
        return inet_pton(AF_INET6, tmp, addr) == 1;
    }
    return inet_pton(AF_INET, hp->host, addr) == 1;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* "scheme://host[:port]" (no path, no user info) into hp and its scheme's
 * default port; false when it is not one. */
static bool parse_origin(const char *o, hostport *hp, bool *https)
{
    size_t skip;
    if (strncasecmp(o, "http://", 7) == 0) {
        *https = false;
        skip = 7;
    } else if (strncasecmp(o, "https://", 8) == 0) {
        *https = true;
        skip = 8;
    } else {
        return false;
    }
    const char *rest = o + skip;
    size_t n = strlen(rest);
    if (n == 0 || strpbrk(rest, "/?#@ \t"))
        return false;
    if (!split_hostport(rest, n, hp))
        return false;
    if (hp->port == (*https ? 443 : 80))
        hp->port = -1;
    return true;
}

static void normalize(const hostport *hp, bool https, char *out, size_t n)
{
    const char *l = hp->v6 ? "[" : "", *r = hp->v6 ? "]" : "";
    if (hp->port >= 0)
        snprintf(out, n, "%s://%s%s%s:%d", https ? "https" : "http", l, hp->host, r, hp->port);
    else
        snprintf(out, n, "%s://%s%s%s", https ? "https" : "http", l, hp->host, r);
}

static int push(char ***v, size_t *n, const char *s, hark_err *err)
{
    char **nv = realloc(*v, (*n + 1) * sizeof *nv);
    if (!nv)
        return err_set(err, HARK_ENOMEM, "out of memory");
    *v = nv;
    if (!(nv[*n] = strdup(s)))
        return err_set(err, HARK_ENOMEM, "out of memory");
    (*n)++;
    return 0;
}

int origin_policy_init(origin_policy *p, const char *const *hosts, size_t n_hosts,
                       const char *const *origins, size_t n_origins, hark_err *err)
{
    memset(p, 0, sizeof *p);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n_hosts; i++) {
        hostport hp;
        if (strcmp(hosts[i], "*") == 0) {
            p->any_host = true;
        } else if (!split_hostport(hosts[i], strlen(hosts[i]), &hp) || hp.port >= 0) {
            rc = err_set(err, HARK_EINVAL, "allowed_host '%.100s' is not a host name", hosts[i]);
        } else {
            rc = push(&p->hosts, &p->n_hosts, hp.host, err);
        }
    }
    for (size_t i = 0; rc == 0 && i < n_origins; i++) {
        hostport hp;
        bool https;
        char norm[2 * ORIGIN_MAX];
        if (strcmp(origins[i], "*") == 0) {
            p->any_origin = true;
        } else if (!parse_origin(origins[i], &hp, &https)) {
            rc = err_set(err, HARK_EINVAL,
                         "cors_origin '%.100s' is not an origin (scheme://host[:port], scheme "
                         "http or https, no path)",
                         origins[i]);
        } else {
            normalize(&hp, https, norm, sizeof norm);
            rc = push(&p->origins, &p->n_origins, norm, err);
        }
    }
    if (rc) {
        origin_policy_release(p);
        return rc;
    }
    if (gethostname(p->machine, sizeof p->machine) != 0)
        p->machine[0] = '\0';
    p->machine[sizeof p->machine - 1] = '\0';
    for (char *c = p->machine; *c; c++)
        if (*c >= 'A' && *c <= 'Z')
            *c = (char)(*c - 'A' + 'a');
    return 0;
}

void origin_policy_release(origin_policy *p)
{
    for (size_t i = 0; i < p->n_hosts; i++)
        free(p->hosts[i]);
    for (size_t i = 0; i < p->n_origins; i++)
        free(p->origins[i]);
    free(p->hosts);
    free(p->origins);
    memset(p, 0, sizeof *p);
}

bool origin_host_allowed(const origin_policy *p, const char *host_header)
{
    if (!host_header)
        return true;
    hostport hp;
    if (!split_hostport(host_header, strlen(host_header), &hp))
        return false;
    if (p->any_host || is_ip_literal(&hp) || strcmp(hp.host, "localhost") == 0 ||
        ends_with(hp.host, ".localhost"))
        return true;
    if (p->machine[0] && strcmp(hp.host, p->machine) == 0)
        return true;
    for (size_t i = 0; i < p->n_hosts; i++)
        if (strcmp(hp.host, p->hosts[i]) == 0)
            return true;
    return false;
}

enum origin_verdict origin_check(const origin_policy *p, const char *origin,
                                 const char *host_header)
{
    if (!origin)
        return ORIGIN_ABSENT;
    hostport o;
    bool https;
    if (!parse_origin(origin, &o, &https))
        return ORIGIN_REFUSED; /* "null" (sandboxed pages, file:) included */
    hostport h;
    if (host_header && split_hostport(host_header, strlen(host_header), &h)) {
        int hport = h.port >= 0 ? h.port : (https ? 443 : 80);
        int oport = o.port >= 0 ? o.port : (https ? 443 : 80);
        if (strcmp(h.host, o.host) == 0 && h.v6 == o.v6 && hport == oport)
            return ORIGIN_SAME;
    }
    if (p->any_origin)
        return ORIGIN_ALLOWED;
    char norm[2 * ORIGIN_MAX];
    normalize(&o, https, norm, sizeof norm);
    for (size_t i = 0; i < p->n_origins; i++)
        if (strcmp(norm, p->origins[i]) == 0)
            return ORIGIN_ALLOWED;
    return ORIGIN_REFUSED;
}

bool origin_method_unsafe(const char *method)
{
    return strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0 &&
           strcmp(method, "OPTIONS") != 0;
}
