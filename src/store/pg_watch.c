/* pg_watch.c - see pg_watch.h.
 *
 * The thread waits in poll(2) on two descriptors: its stop pipe and the
 * libpq socket. Connecting is non-blocking (PQconnectStart/PQconnectPoll),
 * so a stop never waits for a server that does not answer. */
#include "store/pg_watch.h"

#include "util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 5000

struct pg_watch {
    char *location, *where, *self;
    void (*fn)(void *ctx);
    void *ctx;
    int stop[2]; /* a byte in stop[1] ends the thread */
    pthread_t thread;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait until fd (-1: none) is ready for events or timeout_ms passed.
 * 1: fd ready, 0: timeout, -1: stop asked. */
static int wait_fd(pg_watch *w, int fd, short events, int timeout_ms)
{
    struct pollfd p[2] = {{.fd = w->stop[0], .events = POLLIN}, {.fd = fd, .events = events}};
    int n = poll(p, fd >= 0 ? 2 : 1, timeout_ms < 0 ? 0 : timeout_ms);
    if (n < 0)
        return errno == EINTR ? 0 : -1;
    if (p[0].revents)
        return -1;
    return n > 0 && fd >= 0 && p[1].revents ? 1 : 0;
}

/* The server's notices (and a terminated connection's FATAL) are not for
 * stderr: a lost connection is handled (and logged once) here. */
static void quiet(void *arg, const char *message)
{
    (void)arg, (void)message;
}

/* One connection attempt, LISTEN included. NULL if it failed; -1 in *stop
 * if a stop came meanwhile. fn still fires every PG_WATCH_POLL_MS. */
static PGconn *connect_listen(pg_watch *w, bool *stop)
{
    PGconn *c = PQconnectStart(w->location);
    if (!c)
        return NULL;
    PQsetNoticeProcessor(c, quiet, NULL);
    int64_t deadline = mono_ms() + 10000, next_poll = mono_ms() + PG_WATCH_POLL_MS;
    PostgresPollingStatusType s = PGRES_POLLING_WRITING;
    while (PQstatus(c) != CONNECTION_BAD && s != PGRES_POLLING_OK && s != PGRES_POLLING_FAILED) {
        int64_t now = mono_ms();
        if (now >= deadline)
            break;
        int r = wait_fd(w, PQsocket(c), s == PGRES_POLLING_READING ? POLLIN : POLLOUT,
                        (int)(next_poll - now));
        if (r < 0) {
            *stop = true;
            break;
        }
        if (r == 0) {
            if (mono_ms() >= next_poll) {
                w->fn(w->ctx);
                next_poll = mono_ms() + PG_WATCH_POLL_MS;
            }
            continue;
        }
        s = PQconnectPoll(c);
    }
    if (s != PGRES_POLLING_OK || PQstatus(c) != CONNECTION_OK) {
        PQfinish(c);
        return NULL;
    }
    PGresult *r = PQexec(c, "LISTEN " PG_WATCH_CHANNEL);
    bool ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok || PQsetnonblocking(c, 1) != 0) {
        PQfinish(c);
        return NULL;
    }
    return c;
}

/* Read what arrived: true if some other incarnation committed. false in
 * *lost when the connection broke. */
static bool drain(pg_watch *w, PGconn *c, bool *lost)
{
    bool other = false;
    if (!PQconsumeInput(c) || PQstatus(c) != CONNECTION_OK) {
        *lost = true;
        return false;
    }
    PGnotify *n;
    while ((n = PQnotifies(c)) != NULL) {
        if (!n->extra || strcmp(n->extra, w->self) != 0)
            other = true;
        PQfreemem(n);
    }
    return other;
}

static void *watch_main(void *arg)
{
    pg_watch *w = arg;
    PGconn *c = NULL;
    int backoff = BACKOFF_MIN_MS;
    bool stop = false, ever = false, warned = false;
    while (!stop) {
        if (!c) {
            c = connect_listen(w, &stop);
            if (stop)
                break;
            if (!c) {
                if (!warned)
                    log_warn("store '%s': cannot listen for other nodes' changes; polling "
                             "every %d ms until it can",
                             w->where, PG_WATCH_POLL_MS);
                warned = true;
                /* Down: fire every poll interval until the next attempt. */
                int64_t until = mono_ms() + backoff;
                while (!stop && mono_ms() < until) {
                    if (wait_fd(w, -1, 0, PG_WATCH_POLL_MS) < 0)
                        stop = true;
                    else
                        w->fn(w->ctx);
                }
                backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
                continue;
            }
            if (ever || warned) /* what was sent while down is gone */
                w->fn(w->ctx);
            if (warned)
                log_info("store '%s': listening for other nodes' changes again", w->where);
            ever = true;
            warned = false;
            backoff = BACKOFF_MIN_MS;
        }
        int r = wait_fd(w, PQsocket(c), POLLIN, PG_WATCH_IDLE_MS);
        if (r < 0)
            break;
        bool lost = false;
        if (r == 0 || drain(w, c, &lost) || lost)
            w->fn(w->ctx);
        if (lost) {
            PQfinish(c);
            c = NULL;
        }
    }
    if (c)
        PQfinish(c);
    return NULL;
}

static void free_watch(pg_watch *w)
{
    if (w->stop[0] >= 0)
        close(w->stop[0]);
    if (w->stop[1] >= 0)
        close(w->stop[1]);
    free(w->location);
    free(w->where);
    free(w->self);
    free(w);
}

int pg_watch_start(const char *location, const char *where, const char *self, void (*fn)(void *ctx),
                   void *ctx, pg_watch **out, hark_err *err)
{
    *out = NULL;
    pg_watch *w = calloc(1, sizeof *w);
    if (!w)
        return err_set(err, HARK_ENOMEM, "cannot watch store '%s': out of memory", where);
    w->stop[0] = w->stop[1] = -1;
    w->fn = fn;
    w->ctx = ctx;
    if (!(w->location = strdup(location)) || !(w->where = strdup(where)) ||
        !(w->self = strdup(self))) {
        free_watch(w);
        return err_set(err, HARK_ENOMEM, "cannot watch store '%s': out of memory", where);
    }
    if (pipe2(w->stop, O_CLOEXEC) != 0) {
        int e = errno;
        free_watch(w);
        return err_set(err, HARK_EIO, "cannot watch store '%s': %s", where, strerror(e));
    }
    int e = pthread_create(&w->thread, NULL, watch_main, w);
    if (e) {
        free_watch(w);
        return err_set(err, HARK_EIO, "cannot watch store '%s': %s", where, strerror(e));
    }
    *out = w;
    return 0;
}

void pg_watch_stop(pg_watch *w)
{
    if (!w)
        return;
    char b = 1;
    while (write(w->stop[1], &b, 1) < 0 && errno == EINTR)
        ;
    pthread_join(w->thread, NULL);
    free_watch(w);
}
