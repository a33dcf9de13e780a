/* deferred_sync.c - see deferred_sync.h. */
#include "store/deferred_sync.h"

#include "util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct deferred_sync {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* CLOCK_MONOTONIC: a mark, a finished sync, or stop */
    pthread_t thread;
    char *path;
    int interval_ms;
    bool dirty;   /* marked since the last sync began */
    bool syncing; /* an fsync is running (at most one at a time) */
    bool stop;
    int64_t syncs, failures;
};

/* One fdatasync of the file, with the mutex NOT held. Returns 0 or
 * HARK_EIO. A file that does not exist has nothing to lose: 0. */
static int sync_file(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : HARK_EIO;
    int rc = 0;
    if (fdatasync(fd) != 0) {
        log_error("cannot sync '%s': %s: commits since the last sync may not survive a power "
                  "loss",
                  path, strerror(errno));
        rc = HARK_EIO;
    }
    close(fd);
    return rc;
}

/* Under the mutex: wait for a running sync, then sync if dirty. */
static int sync_locked(deferred_sync *d)
{
    while (d->syncing)
        pthread_cond_wait(&d->cv, &d->mu);
    if (!d->dirty)
        return 0;
    d->dirty = false;
    d->syncing = true;
    pthread_mutex_unlock(&d->mu);
    int rc = sync_file(d->path);
    pthread_mutex_lock(&d->mu);
    d->syncing = false;
    d->syncs++;
    if (rc)
        d->failures++;
    pthread_cond_broadcast(&d->cv);
    return rc;
}

static void add_ms(struct timespec *t, int ms)
{
    t->tv_sec += ms / 1000;
    t->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (t->tv_nsec >= 1000000000L) {
        t->tv_sec++;
        t->tv_nsec -= 1000000000L;
    }
}

static void *syncer_main(void *arg)
{
    deferred_sync *d = arg;
    pthread_mutex_lock(&d->mu);
    while (!d->stop) {
        if (!d->dirty) {
            pthread_cond_wait(&d->cv, &d->mu);
            continue;
        }
        /* The first mark starts the interval; every mark until it ends
         * rides on the same fsync. */
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        add_ms(&until, d->interval_ms);
        while (!d->stop && pthread_cond_timedwait(&d->cv, &d->mu, &until) != ETIMEDOUT) {
        }
        sync_locked(d);
    }
    pthread_mutex_unlock(&d->mu);
    return NULL;
}

int deferred_sync_start(const char *path, int interval_ms, deferred_sync **out, hark_err *err)
{
    *out = NULL;
    if (interval_ms < 1 || interval_ms > 60000)
        return err_set(err, HARK_EINVAL, "bad sync interval %d ms (1..60000)", interval_ms);
    deferred_sync *d = calloc(1, sizeof *d);
    if (!d || !(d->path = strdup(path))) {
        free(d);
        return err_set(err, HARK_ENOMEM, "cannot start the sync thread for '%s': out of memory",
                       path);
    }
    d->interval_ms = interval_ms;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->cv, &ca);
    pthread_condattr_destroy(&ca);
    /* The thread must never take a signal meant for the process (INT/TERM
     * reach hark through one signalfd, util/sigwatch.h): it starts with
     * every signal blocked, whatever the caller's mask is at the time. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int crc = pthread_create(&d->thread, NULL, syncer_main, d);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (crc != 0) {
        pthread_cond_destroy(&d->cv);
        pthread_mutex_destroy(&d->mu);
        free(d->path);
        free(d);
        return err_set(err, HARK_ENOMEM, "cannot start the sync thread for '%s'", path);
    }
    *out = d;
    return 0;
}

void deferred_sync_mark(deferred_sync *d)
{
    pthread_mutex_lock(&d->mu);
    if (!d->dirty) {
        d->dirty = true;
        pthread_cond_broadcast(&d->cv);
    }
    pthread_mutex_unlock(&d->mu);
}

int deferred_sync_flush(deferred_sync *d)
{
    pthread_mutex_lock(&d->mu);
    int rc = sync_locked(d);
    pthread_mutex_unlock(&d->mu);
    return rc;
}

bool deferred_sync_pending(deferred_sync *d)
{
    pthread_mutex_lock(&d->mu);
    bool p = d->dirty || d->syncing;
    pthread_mutex_unlock(&d->mu);
    return p;
}

int64_t deferred_sync_count(deferred_sync *d)
{
    pthread_mutex_lock(&d->mu);
    int64_t n = d->syncs;
    pthread_mutex_unlock(&d->mu);
    return n;
}

int64_t deferred_sync_failures(deferred_sync *d)
{
    pthread_mutex_lock(&d->mu);
    int64_t n = d->failures;
    pthread_mutex_unlock(&d->mu);
    return n;
}

void deferred_sync_stop(deferred_sync *d)
{
    if (!d)
        return;
    pthread_mutex_lock(&d->mu);
    d->stop = true;
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
    pthread_join(d->thread, NULL);
    deferred_sync_flush(d);
    pthread_cond_destroy(&d->cv);
    pthread_mutex_destroy(&d->mu);
    free(d->path);
    free(d);
}
