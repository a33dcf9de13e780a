/* conn_guard.c - see conn_guard.h. One mutex guards every record and the
 * list; the thread holds it while it cuts a connection, and the CLOSED
 * notification (which libmicrohttpd sends before it closes the socket)
 * takes it to unlink, so shutdown(2) never hits a reused descriptor. */
#include "server/conn_guard.h"

#include "util/clock.h"
#include "util/log.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

enum phase { WAITING, BODY, ACTIVE };

struct guard_conn {
    struct guard_conn *prev, *next;
    int fd;
    enum phase phase;
    int64_t since_ns; /* when the phase began */
    uint64_t bytes;   /* body bytes so far (BODY) */
    bool cut;
};

struct conn_guard {
    conn_guard_opts o;
    pthread_mutex_t mu;
    pthread_cond_t cond; /* quit */
    guard_conn *head;
    bool quit;
    conn_guard_stats stats;
    pthread_t thread;
};

static void cut(guard_conn *gc)
{
    /* libmicrohttpd reads the end of the stream and closes the connection
     * on its own thread; closing here would race with it. */
    if (!gc->cut && shutdown(gc->fd, SHUT_RDWR) != 0 && errno != ENOTCONN)
        log_debug("shutdown of a slow connection: %s", strerror(errno));
    gc->cut = true;
}

static void check(conn_guard *g, int64_t now)
{
    for (guard_conn *gc = g->head; gc; gc = gc->next) {
        if (gc->cut)
            continue;
        int64_t age_ms = (now - gc->since_ns) / 1000000;
        if (gc->phase == WAITING && age_ms > g->o.header_timeout_ms) {
            g->stats.header_timeouts++;
            cut(gc);
        } else if (gc->phase == BODY && age_ms > g->o.body_grace_ms &&
                   gc->bytes * 1000 < (uint64_t)g->o.body_min_rate * (uint64_t)age_ms) {
            g->stats.slow_bodies++;
            cut(gc);
        }
    }
}

static void *guard_main(void *arg)
{
    conn_guard *g = arg;
    pthread_mutex_lock(&g->mu);
    while (!g->quit) {
        check(g, clock_now_ns());
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += GUARD_TICK_MS * 1000000L;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&g->cond, &g->mu, &ts);
    }
    pthread_mutex_unlock(&g->mu);
    return NULL;
}

int conn_guard_new(const conn_guard_opts *o, conn_guard **out, hark_err *err)
{
    *out = NULL;
    if (o->header_timeout_ms <= 0 || o->body_grace_ms < 0 || o->body_min_rate < 0)
        return err_set(err, HARK_EINVAL, "bad connection deadlines");
    conn_guard *g = calloc(1, sizeof *g);
    if (!g)
        return err_set(err, HARK_ENOMEM, "out of memory");
    g->o = *o;
    pthread_mutex_init(&g->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&g->cond, &ca);
    pthread_condattr_destroy(&ca);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int e = pthread_create(&g->thread, NULL, guard_main, g);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (e) {
        pthread_cond_destroy(&g->cond);
        pthread_mutex_destroy(&g->mu);
        free(g);
        return err_set(err, HARK_EIO, "cannot start the connection guard: %s", strerror(e));
    }
    *out = g;
    return 0;
}

void conn_guard_free(conn_guard *g)
{
    if (!g)
        return;
    pthread_mutex_lock(&g->mu);
    g->quit = true;
    pthread_cond_signal(&g->cond);
    pthread_mutex_unlock(&g->mu);
    pthread_join(g->thread, NULL);
    /* Every connection closed before (MHD_stop_daemon); free what a
     * missed notification might have left. */
    while (g->head) {
        guard_conn *gc = g->head;
        g->head = gc->next;
        free(gc);
    }
    pthread_cond_destroy(&g->cond);
    pthread_mutex_destroy(&g->mu);
    free(g);
}

void conn_guard_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                       enum MHD_ConnectionNotificationCode code)
{
    conn_guard *g = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        guard_conn *gc = ci ? calloc(1, sizeof *gc) : NULL;
        *socket_context = gc;
        if (!gc)
            return;
        gc->fd = ci->connect_fd;
        gc->phase = WAITING;
        gc->since_ns = clock_now_ns();
        pthread_mutex_lock(&g->mu);
        gc->next = g->head;
        if (g->head)
            g->head->prev = gc;
        g->head = gc;
        g->stats.open++;
        pthread_mutex_unlock(&g->mu);
        return;
    }
    guard_conn *gc = *socket_context;
    if (code != MHD_CONNECTION_NOTIFY_CLOSED || !gc)
        return;
    pthread_mutex_lock(&g->mu);
    if (gc->prev)
        gc->prev->next = gc->next;
    else
        g->head = gc->next;
    if (gc->next)
        gc->next->prev = gc->prev;
    g->stats.open--;
    pthread_mutex_unlock(&g->mu);
    free(gc);
    *socket_context = NULL;
}

guard_conn *conn_guard_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

static void set_phase(conn_guard *g, guard_conn *gc, enum phase ph)
{
    if (!g || !gc)
        return;
    pthread_mutex_lock(&g->mu);
    gc->phase = ph;
    gc->since_ns = clock_now_ns();
    gc->bytes = 0;
    pthread_mutex_unlock(&g->mu);
}

void conn_guard_headers_done(conn_guard *g, guard_conn *gc, bool has_body)
{
    set_phase(g, gc, has_body ? BODY : ACTIVE);
}

void conn_guard_body(conn_guard *g, guard_conn *gc, uint64_t n)
{
    if (!g || !gc)
        return;
    pthread_mutex_lock(&g->mu);
    gc->bytes += n;
    pthread_mutex_unlock(&g->mu);
}

void conn_guard_body_done(conn_guard *g, guard_conn *gc)
{
    set_phase(g, gc, ACTIVE);
}

void conn_guard_request_done(conn_guard *g, guard_conn *gc)
{
    set_phase(g, gc, WAITING);
}

void conn_guard_stats_get(conn_guard *g, conn_guard_stats *out)
{
    pthread_mutex_lock(&g->mu);
    *out = g->stats;
    pthread_mutex_unlock(&g->mu);
}
