/* proc.h - the supervisor's primitives for worker processes.
 *
 * A worker is started with fork + execv (never a bare fork of the threaded
 * daemon) and held by a pidfd, so a kill always reaches the right process
 * even after its pid is reused. The child:
 *   - finds its end of the socketpair on fd PROC_CHILD_FD (3) with
 *     close-on-exec cleared; every other fd above 2 is closed at exec;
 *     0, 1 and 2 are inherited as they are (the daemon keeps them open);
 *   - is the leader of its own process group (pgid == pid), so anything it
 *     starts is killed with it;
 *   - has every signal disposition reset to default and an empty signal
 *     mask (the daemon blocks INT/TERM for its signalfd; the child must
 *     not inherit that);
 *   - runs under RLIMIT_AS and RLIMIT_CPU if asked, and RLIMIT_CORE 0;
 *   - is killed by the kernel when the thread that spawned it dies
 *     (PR_SET_PDEATHSIG), so no worker outlives a kill -9 of its supervisor:
 *     spawn workers from a thread that lives as long as the supervisor.
 * Between fork and exec the child makes only async-signal-safe system
 * calls; an exec failure comes back to the parent through a close-on-exec
 * pipe ("cannot start worker 'path': No such file or directory").
 *
 * No SIGCHLD handler: the exit of a child is observed by polling its pidfd
 * (readable once it has exited), then proc_reap collects the status with
 * waitid(P_PIDFD). Nothing else in the process may reap children with
 * waitpid(-1) or set SIGCHLD to SIG_IGN, or the pidfd's status is lost.
 *
 * Out of memory: a worker whose allocation fails (under its RLIMIT_AS)
 * exits with PROC_EXIT_OOM (86, = WORKER_EXIT_OOM in protocol.h), and the
 * supervisor reports "out of memory". A child killed by the kernel's OOM
 * killer shows as "killed (SIGKILL)".
 *
 * RLIMIT_CPU is a backstop, not a timeout: it counts the CPU time of the
 * whole life of the process (all its tasks), and the kernel sends SIGXCPU
 * at the soft limit and SIGKILL one second later. Deadlines are the
 * supervisor's business (poll timeouts, then proc_kill).
 */
#ifndef HARK_RUNTIME_PROC_H
#define HARK_RUNTIME_PROC_H

#include "util/clock.h"
#include "util/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The fd number the child finds its socket on. */
#define PROC_CHILD_FD 3
/* The exit code a child uses to say it ran out of memory. */
#define PROC_EXIT_OOM 86

typedef struct proc_limits {
    uint64_t as_bytes;    /* RLIMIT_AS (soft and hard), 0 = inherit */
    uint64_t cpu_seconds; /* RLIMIT_CPU soft (hard = soft + 1), 0 = inherit */
    int nice;             /* added to the inherited nice value (>= 0), 0 = inherit */
} proc_limits;

enum proc_cause {
    PROC_EXITED = 1,   /* exited with code (not PROC_EXIT_OOM) */
    PROC_SIGNALED = 2, /* killed by signal code */
    PROC_OOM = 3,      /* exited with PROC_EXIT_OOM: out of memory */
};

typedef struct proc_status {
    enum proc_cause cause;
    int code;  /* exit code, or signal number */
    bool core; /* a core dump was written (only without RLIMIT_CORE 0) */
} proc_status;

typedef struct proc_t {
    pid_t pid;                 /* for logs and /proc; signal through the pidfd */
    int pidfd;                 /* readable (POLLIN) once the child has exited; -1 when none */
    bool reaped;               /* proc_reap collected the status; pid is no longer ours */
    struct proc_status status; /* valid once reaped */
} proc_t;

/* Start argv[0] (a path; no PATH search) with argv, the daemon's
 * environment, limits lim (NULL: none but RLIMIT_CORE 0), and child_fd as
 * fd PROC_CHILD_FD in the child (-1: none). The parent keeps child_fd open;
 * close it after the call. Returns 0 with *out filled once the child has
 * exec'ed, or: HARK_ENOENT/HARK_EIO "cannot start worker 'path': <cause>"
 * with nothing left behind (the failed child is reaped), HARK_EINVAL for
 * bad arguments. Safe to call from any thread of a threaded process. */
int proc_spawn(const char *const argv[], const proc_limits *lim, int child_fd, proc_t *out,
               hark_err *err);

/* The fd to poll for the child's exit (POLLIN). Owned by p. */
int proc_pidfd(const proc_t *p);

/* Send SIGKILL to the child through its pidfd and to its process group
 * (unless it was reaped already: then its pid may belong to someone else
 * and nothing is sent). Returns 0 (also when it has exited already) or
 * HARK_EIO. */
int proc_kill(proc_t *p);

/* Collect the exit status if the child has exited, never blocking.
 * Returns 0 with *st filled (and p->reaped set; again on later calls),
 * 1 if it is still running, or HARK_EIO. */
int proc_reap(proc_t *p, proc_status *st);

/* Wait until the child exits or the deadline passes (poll on the pidfd),
 * then reap. Returns 0 with *st, HARK_ETIMEDOUT (still running), or
 * HARK_EIO. */
int proc_wait(proc_t *p, deadline dl, proc_status *st, hark_err *err);

/* Close the pidfd. A child that was not reaped is killed and reaped first
 * (this waits for it to die), so no zombie or orphan is left behind. */
void proc_release(proc_t *p);

/* Turn a wait status (from waitpid) into a proc_status. */
void proc_status_from_wait(int wstatus, proc_status *st);

/* One line for st into buf (truncated to n): "exit code 3", "crash with
 * signal 11", "killed (SIGKILL)", "killed (SIGTERM)", "cpu time limit
 * exceeded (SIGXCPU)", "out of memory". Returns buf. */
const char *proc_status_describe(const proc_status *st, char *buf, size_t n);

#endif
