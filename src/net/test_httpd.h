/* test_httpd.h - servers for the net/ unit tests: a real HTTP server
 * (libmicrohttpd, one thread per connection so a handler may sleep) on
 * 127.0.0.1 at a free port, and listeners that never answer. Header-only
 * (static inline) so each *_test.c executable takes what it uses. */
#ifndef HARK_NET_TEST_HTTPD_H
#define HARK_NET_TEST_HTTPD_H

#include "util/test.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

/* msg with every spelling of port replaced by "PORT", into out (n bytes):
 * messages about an open and a closed port compare equal if they say the
 * same thing. */
static inline void mask_port(const char *msg, unsigned port, char *out, size_t n)
{
    char p[16];
    snprintf(p, sizeof p, "%u", port);
    size_t k = 0, pl = strlen(p);
    for (const char *s = msg; *s && k + 5 < n;) {
        if (strncmp(s, p, pl) == 0) {
            memcpy(out + k, "PORT", 4);
            k += 4;
            s += pl;
        } else {
            out[k++] = *s++;
        }
    }
    out[k] = '\0';
}

/* Start an HTTP server calling fn for each request; *port gets its port. */
static inline struct MHD_Daemon *httpd_start(MHD_AccessHandlerCallback fn, void *ctx,
                                             unsigned *port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL, NULL, fn, ctx,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_END);
    ASSERT(d != NULL);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    ASSERT(info != NULL && info->port != 0);
    *port = info->port;
    return d;
}

/* A TCP socket on 127.0.0.1 that listens and never accepts: the kernel
 * completes connections into its backlog, and then nothing is ever said.
 * With backlog 0 and the queue filled (listener_fill), further connection
 * attempts are not even completed: the client's SYNs go unanswered. */
static inline int listener_start(int backlog, unsigned *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ASSERT_EQ(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    ASSERT_EQ(listen(fd, backlog), 0);
    socklen_t len = sizeof sa;
    ASSERT_EQ(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    *port = ntohs(sa.sin_port);
    return fd;
}

/* A port on 127.0.0.1 where nothing listens (bound, then closed). */
static inline unsigned closed_port(void)
{
    unsigned port;
    int fd = listener_start(1, &port);
    close(fd);
    return port;
}

static inline void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Queue a response with status and a copied body (and one extra header if
 * name is not NULL). */
static inline enum MHD_Result httpd_reply(struct MHD_Connection *c, unsigned status,
                                          const char *body, const char *name, const char *value)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    if (name)
        MHD_add_response_header(r, name, value);
    enum MHD_Result rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

/* The number of entries in the working directory (the test's own temporary
 * directory), to prove a failure left no file behind. */
static inline int dir_entries(void)
{
    int n = 0;
    DIR *d = opendir(".");
    ASSERT(d != NULL);
    for (struct dirent *e; (e = readdir(d));)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

#endif
