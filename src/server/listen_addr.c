/* listen_addr.c - see listen_addr.h. */
#include "server/listen_addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define LISTEN_BACKLOG 128

static int parse_port(const char *s, const char *spec, int *port, hark_err *err)
{
    char *end = NULL;
    if (!*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 5)
        return err_set(err, HARK_EINVAL, "bad listen address '%.100s': port must be 0..65535",
                       spec);
    long v = strtol(s, &end, 10);
    if (*end || v < 0 || v > 65535)
        return err_set(err, HARK_EINVAL, "bad listen address '%.100s': port must be 0..65535",
                       spec);
    *port = (int)v;
    return 0;
}

/* Fill ss from host; HARK_EINVAL unless it is a loopback address or
 * any_host allows every address. */
static int parse_host(const char *host, const char *spec, bool any_host,
                      struct sockaddr_storage *ss, socklen_t *len, hark_err *err)
{
    struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    memset(ss, 0, sizeof *ss);
    if (strcmp(host, "localhost") == 0)
        host = "127.0.0.1";
    if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        *len = sizeof *in4;
        if (any_host || (ntohl(in4->sin_addr.s_addr) >> 24) == 127)
            return 0;
    } else if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        *len = sizeof *in6;
        if (any_host || IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
            return 0;
    } else {
        return err_set(err, HARK_EINVAL,
                       "bad listen address '%.100s': host must be an IP address or localhost",
                       spec);
    }
    return err_set(err, HARK_EINVAL,
                   "refusing to listen on '%.100s': no API tokens are configured (--config "
                   "FILE or HARK_TOKENS), and without them hark binds loopback addresses only",
                   spec);
}

int listen_open(const char *spec, bool any_host, int *fd, int *port, bool *ipv6, hark_err *err)
{
    char host[64];
    *fd = -1;
    if (!spec)
        return err_set(err, HARK_EINVAL, "no listen address");
    const char *colon = strrchr(spec, ':');
    if (!colon)
        return err_set(err, HARK_EINVAL, "bad listen address '%.100s': expected HOST:PORT", spec);
    size_t hl = (size_t)(colon - spec);
    const char *h = spec;
    if (hl >= 2 && spec[0] == '[' && spec[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    if (hl == 0 || hl >= sizeof host)
        return err_set(err, HARK_EINVAL, "bad listen address '%.100s': expected HOST:PORT", spec);
    memcpy(host, h, hl);
    host[hl] = '\0';

    int want_port = 0, rc;
    struct sockaddr_storage ss;
    socklen_t len = 0;
    if ((rc = parse_port(colon + 1, spec, &want_port, err)) ||
        (rc = parse_host(host, spec, any_host, &ss, &len, err)))
        return rc;
    if (ss.ss_family == AF_INET)
        ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)want_port);
    else
        ((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)want_port);

    int s = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return err_set(err, HARK_EIO, "cannot listen on '%.100s': socket: %s", spec,
                       strerror(errno));
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ss.ss_family == AF_INET6)
        setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(s, (struct sockaddr *)&ss, len) != 0 || listen(s, LISTEN_BACKLOG) != 0) {
        int e = errno;
        close(s);
        return err_set(err, HARK_EIO, "cannot listen on '%.100s': %s", spec, strerror(e));
    }
    struct sockaddr_storage bound;
    socklen_t blen = sizeof bound;
    if (getsockname(s, (struct sockaddr *)&bound, &blen) != 0) {
        int e = errno;
        close(s);
        return err_set(err, HARK_EIO, "cannot listen on '%.100s': getsockname: %s", spec,
                       strerror(e));
    }
    *port = ntohs(bound.ss_family == AF_INET ? ((struct sockaddr_in *)&bound)->sin_port
                                             : ((struct sockaddr_in6 *)&bound)->sin6_port);
    *ipv6 = ss.ss_family == AF_INET6;
    *fd = s;
    return 0;
}
