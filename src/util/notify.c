/* notify.c - see notify.h. */
#include "util/notify.h"

#include <time.h>

int notify_init(notify *n)
{
    n->gen = 0;
    n->closed = false;
    pthread_condattr_t a;
    if (pthread_condattr_init(&a))
        return -1;
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(&n->cond, &a);
    pthread_condattr_destroy(&a);
    if (rc)
        return -1;
    if (pthread_mutex_init(&n->mu, NULL)) {
        pthread_cond_destroy(&n->cond);
        return -1;
    }
    return 0;
}

void notify_destroy(notify *n)
{
    pthread_cond_destroy(&n->cond);
    pthread_mutex_destroy(&n->mu);
}

void notify_signal(void *p)
{
    notify *n = p;
    pthread_mutex_lock(&n->mu);
    n->gen++;
    pthread_cond_broadcast(&n->cond);
    pthread_mutex_unlock(&n->mu);
}

uint64_t notify_gen(notify *n)
{
    pthread_mutex_lock(&n->mu);
    uint64_t g = n->gen;
    pthread_mutex_unlock(&n->mu);
    return g;
}

uint64_t notify_wait(notify *n, uint64_t seen, int timeout_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&n->mu);
    while (n->gen == seen && !n->closed)
        if (pthread_cond_timedwait(&n->cond, &n->mu, &until) != 0)
            break; /* ETIMEDOUT */
    uint64_t g = n->gen;
    pthread_mutex_unlock(&n->mu);
    return g;
}

void notify_close(notify *n)
{
    pthread_mutex_lock(&n->mu);
    n->closed = true;
    n->gen++;
    pthread_cond_broadcast(&n->cond);
    pthread_mutex_unlock(&n->mu);
}

bool notify_closed(notify *n)
{
    pthread_mutex_lock(&n->mu);
    bool c = n->closed;
    pthread_mutex_unlock(&n->mu);
    return c;
}
