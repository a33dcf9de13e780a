/* proc.c - worker process supervision primitives; the contract is in proc.h.
 *
 * Spawn, step by step:
 *   parent: pipe2(O_CLOEXEC) for the exec report; block every signal (so no
 *           handler of the daemon runs in the child between fork and the
 *           reset); fork; restore the mask; pidfd_open(pid) (safe: the pid
 *           is our unreaped child, so it cannot have been reused); read the
 *           report pipe: EOF means execv succeeded (the pipe closed on
 *           exec), a report means the child failed and exited 127.
 *   child:  only async-signal-safe system calls: reset dispositions, own
 *           process group, limits, fd PROC_CHILD_FD, close-on-exec on every
 *           other fd above 2, empty signal mask, execv; on failure write
 *           {stage, errno} to the pipe and _exit(127).
 */
#include "runtime/proc.h"

#include "runtime/protocol.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

_Static_assert(PROC_EXIT_OOM == WORKER_EXIT_OOM, "one out-of-memory exit code");
_Static_assert(PROC_CHILD_FD == WORKER_FD, "one worker fd number");

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/* What failed in the child before exec, as reported through the pipe. */
enum spawn_stage {
    STAGE_SETPGID = 1,
    STAGE_RLIMIT_AS,
    STAGE_RLIMIT_CPU,
    STAGE_RLIMIT_CORE,
    STAGE_FD,
    STAGE_EXEC,
};

struct spawn_report {
    int stage;
    int errnum;
};

static const char *stage_name(int stage)
{
    switch (stage) {
    case STAGE_SETPGID:
        return "cannot create process group: ";
    case STAGE_RLIMIT_AS:
        return "cannot set address space limit: ";
    case STAGE_RLIMIT_CPU:
        return "cannot set cpu time limit: ";
    case STAGE_RLIMIT_CORE:
        return "cannot set core file limit: ";
    case STAGE_FD:
        return "cannot set up worker socket: ";
    default:
        return "";
    }
}

static _Noreturn void child_fail(int errfd, int stage)
{
    struct spawn_report rep = {.stage = stage, .errnum = errno};
    ssize_t w;
    do
        w = write(errfd, &rep, sizeof rep);
    while (w < 0 && errno == EINTR);
    _exit(127);
}

/* Lower one limit to value (soft and hard at most value, never above the
 * current hard limit, which an unprivileged process cannot raise). */
static int child_limit(int resource, rlim_t soft, rlim_t hard)
{
    struct rlimit old;
    if (getrlimit(resource, &old) != 0)
        return -1;
    struct rlimit rl = {.rlim_cur = soft, .rlim_max = hard};
    if (old.rlim_max != RLIM_INFINITY && rl.rlim_max > old.rlim_max)
        rl.rlim_max = old.rlim_max;
    if (rl.rlim_cur > rl.rlim_max)
        rl.rlim_cur = rl.rlim_max;
    return setrlimit(resource, &rl);
}

/* In the child between fork and exec: async-signal-safe calls only. */
static _Noreturn void child_exec(const char *const argv[], const proc_limits *lim, int child_fd,
                                 int errfd, pid_t parent)
{
    /* A worker must not outlive its supervisor (kill -9 of the daemon): the
     * kernel kills it when the parent dies. Checked once more after the
     * call, in case the parent died before it. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(127);

    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            sigaction(sig, &dfl, NULL); /* fails harmlessly for libc's own signals */

    if (setpgid(0, 0) != 0)
        child_fail(errfd, STAGE_SETPGID);

    if (lim && lim->as_bytes && child_limit(RLIMIT_AS, lim->as_bytes, lim->as_bytes) != 0)
        child_fail(errfd, STAGE_RLIMIT_AS);
    if (lim && lim->cpu_seconds &&
        child_limit(RLIMIT_CPU, lim->cpu_seconds,
                    lim->cpu_seconds < RLIM_INFINITY - 1 ? lim->cpu_seconds + 1
                                                         : lim->cpu_seconds) != 0)
        child_fail(errfd, STAGE_RLIMIT_CPU);
    if (child_limit(RLIMIT_CORE, 0, 0) != 0)
        child_fail(errfd, STAGE_RLIMIT_CORE);
    if (lim && lim->nice > 0) /* best effort: a lower priority is always allowed */
        setpriority(PRIO_PROCESS, 0, getpriority(PRIO_PROCESS, 0) + lim->nice);

    /* errfd is above PROC_CHILD_FD (proc_spawn sees to it), so dup2 cannot
     * clobber it; it is close-on-exec and goes away at exec. */
    int first_closed = PROC_CHILD_FD;
    if (child_fd >= 0) {
        if (child_fd == PROC_CHILD_FD) {
            if (fcntl(PROC_CHILD_FD, F_SETFD, 0) != 0)
                child_fail(errfd, STAGE_FD);
        } else if (dup2(child_fd, PROC_CHILD_FD) != PROC_CHILD_FD) {
            child_fail(errfd, STAGE_FD);
        }
        first_closed = PROC_CHILD_FD + 1;
    }
    /* Mark rather than close, so errfd survives until exec. */
    if (close_range((unsigned)first_closed, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
        struct rlimit nofile;
        if (getrlimit(RLIMIT_NOFILE, &nofile) != 0 || nofile.rlim_cur == RLIM_INFINITY)
            nofile.rlim_cur = 65536;
        for (int fd = first_closed; (rlim_t)fd < nofile.rlim_cur; fd++)
            fcntl(fd, F_SETFD, FD_CLOEXEC);
    }

    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);

    execv(argv[0], (char *const *)argv);
    child_fail(errfd, STAGE_EXEC);
}

static void reap_blocking(pid_t pid)
{
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
}

int proc_spawn(const char *const argv[], const proc_limits *lim, int child_fd, proc_t *out,
               hark_err *err)
{
    int rc = 0;
    int ep[2] = {-1, -1};
    int pidfd = -1;
    pid_t pid = -1;
    out->pid = -1;
    out->pidfd = -1;
    out->reaped = false;
    memset(&out->status, 0, sizeof out->status);
    if (!argv || !argv[0] || child_fd < -1)
        return err_set(err, HARK_EINVAL, "cannot start worker: bad arguments");
    const char *path = argv[0];

    if (pipe2(ep, O_CLOEXEC) != 0) {
        rc = err_set(err, HARK_EIO, "cannot start worker '%s': %s", path, strerror(errno));
        goto out;
    }
    if (ep[1] <= PROC_CHILD_FD) {
        int moved = fcntl(ep[1], F_DUPFD_CLOEXEC, PROC_CHILD_FD + 1);
        if (moved < 0) {
            rc = err_set(err, HARK_EIO, "cannot start worker '%s': %s", path, strerror(errno));
            goto out;
        }
        close(ep[1]);
        ep[1] = moved;
    }

    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t parent = getpid();
    pid = fork();
    if (pid == 0)
        child_exec(argv, lim, child_fd, ep[1], parent);
    int fork_errno = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    close(ep[1]);
    ep[1] = -1;
    if (pid < 0) {
        rc = err_set(err, HARK_EIO, "cannot start worker '%s': %s", path, strerror(fork_errno));
        goto out;
    }

    pidfd = pidfd_open(pid, 0);
    int pidfd_errno = errno;
    setpgid(pid, pid); /* the child does it too; whoever is first wins */

    struct spawn_report rep;
    ssize_t n;
    do
        n = read(ep[0], &rep, sizeof rep);
    while (n < 0 && errno == EINTR);
    if (n != 0) {
        /* The child failed before or at exec and has exited (or is about
         * to); collect it so no zombie stays behind. */
        reap_blocking(pid);
        pid = -1;
        if (n != (ssize_t)sizeof rep)
            rc = err_set(err, HARK_EIO, "cannot start worker '%s': lost the start report", path);
        else
            rc = err_set(err,
                         rep.stage == STAGE_EXEC && rep.errnum == ENOENT ? HARK_ENOENT : HARK_EIO,
                         "cannot start worker '%s': %s%s", path, stage_name(rep.stage),
                         strerror(rep.errnum));
        goto out;
    }
    if (pidfd < 0) {
        kill(pid, SIGKILL);
        reap_blocking(pid);
        pid = -1;
        rc = err_set(err, HARK_EIO, "cannot start worker '%s': pidfd_open: %s", path,
                     strerror(pidfd_errno));
        goto out;
    }
    out->pid = pid;
    out->pidfd = pidfd;
    pidfd = -1;

out:
    if (ep[0] >= 0)
        close(ep[0]);
    if (ep[1] >= 0)
        close(ep[1]);
    if (pidfd >= 0)
        close(pidfd);
    return rc;
}

int proc_pidfd(const proc_t *p)
{
    return p->pidfd;
}

int proc_kill(proc_t *p)
{
    if (p->pidfd < 0 || p->reaped)
        return 0;
    int rc = 0;
    /* The group first, while the leader's pid (unreaped) still pins it. */
    kill(-p->pid, SIGKILL);
    if (pidfd_send_signal(p->pidfd, SIGKILL, NULL, 0) != 0 && errno != ESRCH)
        rc = HARK_EIO;
    return rc;
}

void proc_status_from_wait(int wstatus, proc_status *st)
{
    memset(st, 0, sizeof *st);
    if (WIFSIGNALED(wstatus)) {
        st->cause = PROC_SIGNALED;
        st->code = WTERMSIG(wstatus);
        st->core = WCOREDUMP(wstatus);
    } else {
        st->code = WEXITSTATUS(wstatus);
        st->cause = st->code == PROC_EXIT_OOM ? PROC_OOM : PROC_EXITED;
    }
}

int proc_reap(proc_t *p, proc_status *st)
{
    if (p->reaped) {
        *st = p->status;
        return 0;
    }
    if (p->pidfd < 0)
        return HARK_EIO;
    siginfo_t si;
    for (;;) {
        memset(&si, 0, sizeof si);
        if (waitid(P_PIDFD, (id_t)p->pidfd, &si, WEXITED | WNOHANG) == 0)
            break;
        if (errno != EINTR)
            return HARK_EIO;
    }
    if (si.si_pid == 0)
        return 1;
    proc_status s = {0};
    if (si.si_code == CLD_EXITED) {
        s.code = si.si_status;
        s.cause = s.code == PROC_EXIT_OOM ? PROC_OOM : PROC_EXITED;
    } else {
        s.cause = PROC_SIGNALED;
        s.code = si.si_status;
        s.core = si.si_code == CLD_DUMPED;
    }
    p->status = s;
    p->reaped = true;
    *st = s;
    return 0;
}

int proc_wait(proc_t *p, deadline dl, proc_status *st, hark_err *err)
{
    for (;;) {
        int rc = proc_reap(p, st);
        if (rc <= 0) {
            if (rc < 0)
                err_set(err, rc, "cannot wait for worker %d: %s", (int)p->pid, strerror(errno));
            return rc;
        }
        int ms = deadline_remaining_ms(dl);
        if (ms == 0)
            return err_set(err, HARK_ETIMEDOUT, "worker %d still running at the deadline",
                           (int)p->pid);
        struct pollfd pfd = {.fd = p->pidfd, .events = POLLIN};
        if (poll(&pfd, 1, ms) < 0 && errno != EINTR)
            return err_set(err, HARK_EIO, "cannot wait for worker %d: %s", (int)p->pid,
                           strerror(errno));
    }
}

void proc_release(proc_t *p)
{
    if (p->pidfd < 0)
        return;
    if (!p->reaped) {
        proc_kill(p);
        siginfo_t si;
        while (waitid(P_PIDFD, (id_t)p->pidfd, &si, WEXITED) != 0 && errno == EINTR)
            ;
        p->reaped = true;
    }
    close(p->pidfd);
    p->pidfd = -1;
}

const char *proc_status_describe(const proc_status *st, char *buf, size_t n)
{
    if (n == 0)
        return buf;
    const char *abbrev = NULL;
    switch (st->cause) {
    case PROC_OOM:
        snprintf(buf, n, "out of memory");
        break;
    case PROC_EXITED:
        snprintf(buf, n, "exit code %d", st->code);
        break;
    case PROC_SIGNALED:
        abbrev = sigabbrev_np(st->code);
        if (st->code == SIGKILL || st->code == SIGTERM || st->code == SIGINT || st->code == SIGHUP)
            snprintf(buf, n, "killed (SIG%s)", abbrev ? abbrev : "?");
        else if (st->code == SIGXCPU)
            snprintf(buf, n, "cpu time limit exceeded (SIGXCPU)");
        else
            snprintf(buf, n, "crash with signal %d", st->code);
        break;
    default:
        snprintf(buf, n, "unknown status");
        break;
    }
    return buf;
}
