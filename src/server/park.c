/* park.c - see park.h.
 *
 * Locking: one mutex guards the list and the closed flag. park_wait
 * suspends its connection and adds it under that mutex, and the thread
 * resumes and removes under it, so a connection is never resumed before it
 * was suspended, nor twice. libmicrohttpd's own locks are taken inside
 * (suspend and resume take its cleanup mutex); it never calls back into
 * hark while holding them, so the order park -> libmicrohttpd is safe.
 */
#include "server/park.h"

#include "util/clock.h"
#include "util/log.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

typedef struct parked {
    struct MHD_Connection *c;
    int fd;
    uint64_t seen;
    int64_t deadline_ns;
} parked;

struct park {
    notify *changes;
    pthread_mutex_t mu;
    pthread_cond_t cond; /* the list became non-empty, or quit */
    parked *v;
    size_t n, cap;
    struct pollfd *pfd; /* scratch for the hang-up check, cap entries */
    bool closed, quit;
    pthread_t thread;
};

bool park_client_gone(int fd)
{
    if (fd < 0)
        return false;
    struct pollfd p = {.fd = fd, .events = POLLRDHUP};
    return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL));
}

/* Resume entry i and drop it from the list (the last entry takes its place). */
static void resume_at(park *p, size_t i)
{
    MHD_resume_connection(p->v[i].c);
    p->v[i] = p->v[--p->n];
}

/* One pass over the list: resume what is due. Returns the nearest deadline
 * of what stays (INT64_MAX if none). Called with the mutex held. */
static int64_t sweep(park *p, uint64_t gen)
{
    int64_t now = clock_now_ns(), next = INT64_MAX;
    for (size_t i = 0; i < p->n; i++)
        p->pfd[i] = (struct pollfd){.fd = p->v[i].fd, .events = POLLRDHUP};
    size_t n = p->n;
    int ready = n ? poll(p->pfd, n, 0) : 0;
    /* Walk backwards: resume_at moves the last entry into the hole, and
     * pfd[i] still describes v[i] for every i not yet visited. */
    for (size_t k = n; k-- > 0;) {
        parked *e = &p->v[k];
        bool gone = ready > 0 && (p->pfd[k].revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL));
        if (gone || e->seen != gen || (e->deadline_ns && e->deadline_ns <= now)) {
            resume_at(p, k);
            continue;
        }
        if (e->deadline_ns && e->deadline_ns < next)
            next = e->deadline_ns;
    }
    return next;
}

static void *park_main(void *arg)
{
    park *p = arg;
    pthread_mutex_lock(&p->mu);
    while (!p->quit) {
        if (p->n == 0) {
            pthread_cond_wait(&p->cond, &p->mu);
            continue;
        }
        uint64_t gen = notify_gen(p->changes);
        int64_t next = sweep(p, gen);
        if (p->n == 0)
            continue;
        int64_t left_ms = PARK_HANGUP_CHECK_MS;
        if (next != INT64_MAX) {
            int64_t d = (next - clock_now_ns() + 999999) / 1000000;
            if (d < left_ms)
                left_ms = d < 1 ? 1 : d;
        }
        pthread_mutex_unlock(&p->mu);
        notify_wait(p->changes, gen, (int)left_ms);
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

int park_new(notify *changes, park **out, hark_err *err)
{
    *out = NULL;
    park *p = calloc(1, sizeof *p);
    if (!p)
        return err_set(err, HARK_ENOMEM, "out of memory");
    p->changes = changes;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cond, NULL);
    /* The thread takes no signal: the daemon reads INT and TERM from its
     * signalfd on the main thread (util/sigwatch). */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int e = pthread_create(&p->thread, NULL, park_main, p);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (e) {
        pthread_cond_destroy(&p->cond);
        pthread_mutex_destroy(&p->mu);
        free(p);
        return err_set(err, HARK_EIO, "cannot start the parking thread: %s", strerror(e));
    }
    *out = p;
    return 0;
}

static bool grow(park *p)
{
    if (p->n < p->cap)
        return true;
    size_t cap = p->cap ? p->cap * 2 : 64;
    parked *v = realloc(p->v, cap * sizeof *v);
    if (!v)
        return false;
    p->v = v;
    struct pollfd *pfd = realloc(p->pfd, cap * sizeof *pfd);
    if (!pfd)
        return false;
    p->pfd = pfd;
    p->cap = cap;
    return true;
}

enum park_result park_wait(park *p, struct MHD_Connection *c, int fd, uint64_t seen,
                           int64_t deadline_ns)
{
    pthread_mutex_lock(&p->mu);
    enum park_result r = PARK_PARKED;
    if (p->closed || notify_closed(p->changes)) {
        r = PARK_CLOSED;
    } else if (notify_gen(p->changes) != seen) {
        r = PARK_CHANGED;
    } else if (!grow(p)) {
        /* Out of memory: do not wait here; the caller looks again (a
         * tight loop only while memory is exhausted, bounded by the
         * caller's own deadline). */
        log_warn("out of memory parking a connection");
        r = PARK_CHANGED;
    } else {
        MHD_suspend_connection(c);
        p->v[p->n++] = (parked){.c = c, .fd = fd, .seen = seen, .deadline_ns = deadline_ns};
        if (p->n == 1)
            pthread_cond_signal(&p->cond);
    }
    pthread_mutex_unlock(&p->mu);
    return r;
}

void park_close(park *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->closed = true;
    while (p->n)
        resume_at(p, p->n - 1);
    pthread_mutex_unlock(&p->mu);
}

int park_count(park *p)
{
    pthread_mutex_lock(&p->mu);
    int n = (int)p->n;
    pthread_mutex_unlock(&p->mu);
    return n;
}

void park_free(park *p)
{
    if (!p)
        return;
    park_close(p);
    pthread_mutex_lock(&p->mu);
    p->quit = true;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->thread, NULL);
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->mu);
    free(p->v);
    free(p->pfd);
    free(p);
}
