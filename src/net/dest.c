/* dest.c - see dest.h. */
#include "net/dest.h"

#include "net/addr_policy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const net_dest_policy net_dest_anywhere = {.any = true};

/* ---- allow entries --------------------------------------------------- */

/* The host of url as libcurl's URL parser gives it (numeric IPv4 forms
 * made dotted, IPv6 in brackets) and, if port is not NULL, its port (the
 * scheme's default when none is written). 0, or -1 if url does not parse
 * or the host does not fit. */
static int url_host_port(const char *url, char *host, size_t hostlen, unsigned *port)
{
    CURLU *u = curl_url();
    char *h = NULL, *p = NULL;
    int rc = -1;
    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &h, 0) == CURLUE_OK && h && strlen(h) < hostlen) {
        memcpy(host, h, strlen(h) + 1);
        rc = 0;
        if (port) {
            *port = 0;
            if (curl_url_get(u, CURLUPART_PORT, &p, CURLU_DEFAULT_PORT) == CURLUE_OK && p)
                *port = (unsigned)strtoul(p, NULL, 10);
        }
    }
    curl_free(h);
    curl_free(p);
    curl_url_cleanup(u);
    return rc;
}

int net_allow_parse(const char *spec, net_allow *out, hark_err *err)
{
    static const char ok[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_:[]";
    memset(out, 0, sizeof *out);
    size_t n = spec ? strlen(spec) : 0;
    if (n == 0 || n > NET_HOST_MAX || strspn(spec, ok) != n)
        return err_set(err, HARK_EINVAL,
                       "expected HOST or HOST:PORT (a host name or IP address, an IPv6 one in "
                       "brackets; no scheme, user or path)");
    /* Where the host ends: after "]" for IPv6, at the one ':' otherwise. */
    const char *end;
    if (spec[0] == '[') {
        end = strchr(spec, ']');
        if (!end || end == spec + 1 || strchr(end + 1, '[') || strchr(end + 1, ']'))
            return err_set(err, HARK_EINVAL, "expected [IPV6] or [IPV6]:PORT");
        end++;
    } else {
        end = strchr(spec, ':');
        if (end && strchr(end + 1, ':'))
            return err_set(err, HARK_EINVAL,
                           "an IPv6 address goes in brackets, as in [fd00::5]:8080");
        if (!end)
            end = spec + n;
        if (end == spec || memchr(spec, '[', (size_t)(end - spec)) ||
            memchr(spec, ']', (size_t)(end - spec)))
            return err_set(err, HARK_EINVAL, "the host must be a name or an IP address");
    }
    if (*end) {
        const char *p = end + 1;
        size_t pl = strlen(p);
        unsigned long v = pl ? strtoul(p, NULL, 10) : 0;
        if (*end != ':' || pl < 1 || pl > 5 || strspn(p, "0123456789") != pl || v < 1 || v > 65535)
            return err_set(err, HARK_EINVAL, "the port must be 1 to 65535");
        out->port = (unsigned)v;
    }
    /* The host as libcurl will show it for a URL that names it. */
    char url[NET_HOST_MAX + 16];
    snprintf(url, sizeof url, "http://%.*s/", (int)(end - spec), spec);
    if (url_host_port(url, out->host, sizeof out->host, NULL) != 0) {
        memset(out, 0, sizeof *out);
        return err_set(err, HARK_EINVAL, "the host must be a name or an IP address");
    }
    return 0;
}

int net_dest_policy_add(net_dest_policy *p, const net_allow *a, hark_err *err)
{
    net_allow *v = realloc(p->allow, (p->n_allow + 1) * sizeof *v); /* a handful */
    if (!v)
        return err_set(err, HARK_ENOMEM, "out of memory");
    p->allow = v;
    p->allow[p->n_allow++] = *a;
    return 0;
}

void net_dest_policy_release(net_dest_policy *p)
{
    if (!p)
        return;
    free(p->allow);
    memset(p, 0, sizeof *p);
}

/* ---- the decision ---------------------------------------------------- */

static unsigned port_of(const struct sockaddr *sa, size_t len)
{
    if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in))
        return ntohs(((const struct sockaddr_in *)sa)->sin_port);
    if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6))
        return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
    return 0;
}

bool net_dest_allows(const net_dest_policy *p, const char *host, const struct sockaddr *sa,
                     size_t len)
{
    if (p && p->any)
        return true;
    if (addr_class_of(sa, len) == ADDR_PUBLIC)
        return true;
    if (!p || !host || !host[0])
        return false;
    unsigned port = port_of(sa, len);
    for (size_t i = 0; i < p->n_allow; i++) {
        const net_allow *a = &p->allow[i];
        if (strcasecmp(a->host, host) == 0 && (a->port == 0 || a->port == port))
            return true;
    }
    return false;
}

bool net_dest_url_refused(const net_dest_policy *p, const char *url)
{
    if (p && p->any)
        return false;
    char host[NET_HOST_MAX], bare[NET_HOST_MAX];
    unsigned port = 0;
    if (url_host_port(url, host, sizeof host, &port) != 0)
        return false;
    struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    struct sockaddr_in6 in6 = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port)};
    size_t n = strlen(host);
    if (host[0] == '[' && n > 2 && host[n - 1] == ']') {
        snprintf(bare, sizeof bare, "%.*s", (int)(n - 2), host + 1);
        if (inet_pton(AF_INET6, bare, &in6.sin6_addr) != 1)
            return false;
        return !net_dest_allows(p, host, (struct sockaddr *)&in6, sizeof in6);
    }
    if (inet_pton(AF_INET, host, &in.sin_addr) != 1)
        return false; /* a name: judged when connected */
    return !net_dest_allows(p, host, (struct sockaddr *)&in, sizeof in);
}

/* ---- the guard ------------------------------------------------------- */

/* libcurl's open-socket callback: the address a connection of g's handle
 * is about to be made to, redirects included. Refusing it (CURL_SOCKET_BAD)
 * makes libcurl try the name's next address, if any, and otherwise fail
 * with CURLE_COULDNT_CONNECT; no packet is sent to a refused address. */
static curl_socket_t open_socket(void *ud, curlsocktype purpose, struct curl_sockaddr *a)
{
    (void)purpose;
    net_dest_guard *g = ud;
    const struct sockaddr *sa = &a->addr;
    char host[NET_HOST_MAX];
    const char *name = NULL;
    /* The host of the URL this connection is for: during a redirect,
     * libcurl's effective URL is already the new one (fetch_test checks
     * that an allowed host's redirect to another one is refused). */
    char *url = NULL;
    if (g->policy && g->policy->n_allow && addr_class_of(sa, a->addrlen) != ADDR_PUBLIC &&
        curl_easy_getinfo(g->h, CURLINFO_EFFECTIVE_URL, &url) == CURLE_OK && url &&
        url_host_port(url, host, sizeof host, NULL) == 0)
        name = host;
    if (!net_dest_allows(g->policy, name, sa, a->addrlen)) {
        g->refused = true;
        return CURL_SOCKET_BAD;
    }
    g->refused = false;
    /* Close-on-exec: the daemon starts workers while webhooks are in flight. */
    return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

void net_dest_guard_attach(net_dest_guard *g, const net_dest_policy *p, CURL *h)
{
    g->policy = p;
    g->h = h;
    g->refused = false;
    curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, open_socket);
    curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, g);
    /* Connect to the destination itself, so the address judged is the
     * address connected to. "" overrides http_proxy and friends. */
    if (!p || !p->any)
        curl_easy_setopt(h, CURLOPT_PROXY, "");
}

bool net_dest_guard_refused(const net_dest_guard *g, CURLcode rc)
{
    return g->refused && rc == CURLE_COULDNT_CONNECT;
}
