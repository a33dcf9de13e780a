/* job_wait.c - a parked request waiting for its job to end (server_impl.h,
 * server_wait_job). The notify counter is read before the store, so a
 * change committed between the look and the park wakes the request. */
#include "server/server_impl.h"

enum job_wait server_wait_job(server *s, struct MHD_Connection *c, store_scope scope,
                              const char *id, int fd, store_job *job, int *rc, hark_err *err)
{
    for (;;) {
        uint64_t seen = notify_gen(s->changes);
        if (server_stopping(s))
            return JOB_WAIT_STOPPING;
        *rc = store_get_job(s->st, scope, id, job, err);
        if (*rc)
            return JOB_WAIT_FAILED;
        if (store_state_terminal(job->state))
            return JOB_WAIT_ENDED;
        store_job_release(job);
        if (park_client_gone(fd))
            return JOB_WAIT_GONE;
        switch (park_wait(s->park, c, fd, seen, 0)) {
        case PARK_PARKED:
            return JOB_WAIT_PARKED;
        case PARK_CHANGED:
            break;
        case PARK_CLOSED:
            return JOB_WAIT_STOPPING;
        }
    }
}
