/* proc_test.c - worker supervision with real processes.
 *
 * The test binary plays the worker itself: proc_spawn re-executes it
 * (/proc/self/exe) with argv[1] naming a role (--child-echo, -report,
 * -bomb, -crash, -hang, -spin). Every wait is a poll on the pidfd with a
 * bounded timeout; nothing sleeps its way to a pass.
 *
 * Under AddressSanitizer the memory-bomb test cannot run the test binary
 * under a 64 MiB RLIMIT_AS: ASan reserves terabytes of shadow address space
 * at start and would die before main. There it checks that the limit is
 * applied (/proc/<pid>/limits of a non-ASan /bin/sleep) and that exit code
 * PROC_EXIT_OOM is reported as "out of memory"; the real bomb runs in the
 * plain build.
 */
#include "runtime/frame.h"
#include "runtime/proc.h"

#include "util/sigwatch.h"
#include "util/test.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/pidfd.h>
#include <sys/socket.h>

enum { MSG_TEST = 7, MSG_REPORT = 8 };

static char self_exe[4096];

/* ---- the child roles ---------------------------------------------------- */

static int child_echo(void)
{
    frame_reader r;
    frame_reader_init(&r, 0);
    int rc = 0;
    for (;;) {
        uint16_t type;
        const void *payload;
        size_t len;
        hark_err err;
        int got = frame_read(&r, PROC_CHILD_FD, deadline_in(0), &type, &payload, &len, &err);
        if (got == HARK_EIO && strcmp(err.msg, "connection closed by peer") == 0)
            break;
        if (got != 0 ||
            frame_write(PROC_CHILD_FD, type, payload, len, deadline_in(10), &err) != 0) {
            fprintf(stderr, "child-echo: %s\n", err.msg);
            rc = 1;
            break;
        }
    }
    frame_reader_release(&r);
    return rc;
}

static void status_field(const char *name, char *out, size_t n)
{
    snprintf(out, n, "?");
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return;
    char line[256];
    size_t nl = strlen(name);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, name, nl) == 0 && line[nl] == ':') {
            snprintf(out, n, "%s", line + nl + 1 + strspn(line + nl + 1, " \t"));
            out[strcspn(out, "\n")] = '\0';
        }
    fclose(f);
}

/* Report the open fds, signal mask and ignored signals, process group;
 * then wait for the parent to look at /proc/<pid> and close the socket. */
static int child_report(void)
{
    json_t *fds = json_array();
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return 1;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.' && strtol(e->d_name, NULL, 10) != dirfd(d))
            json_array_append_new(fds, json_integer(strtol(e->d_name, NULL, 10)));
    closedir(d);
    char blk[64], ign[64];
    status_field("SigBlk", blk, sizeof blk);
    status_field("SigIgn", ign, sizeof ign);
    json_t *o = json_pack("{s:i, s:i, s:o, s:s, s:s}", "pid", (int)getpid(), "pgid", (int)getpgrp(),
                          "fds", fds, "sigblk", blk, "sigign", ign);
    hark_err err;
    int rc = frame_write_json(PROC_CHILD_FD, MSG_REPORT, o, deadline_in(10), &err);
    json_decref(o);
    if (rc)
        return 1;
    char c;
    while (read(PROC_CHILD_FD, &c, 1) > 0)
        ;
    return 0;
}

static int child_bomb(void)
{
    void *chain = NULL;
    for (int i = 0; i < 1024; i++) { /* stop at 1 GiB if the limit failed */
        void **p = malloc(1u << 20);
        if (!p)
            exit(PROC_EXIT_OOM);
        memset(p, 0x5a, 1u << 20);
        *p = chain;
        chain = p;
    }
    return 2;
}

static int child_role(const char *role)
{
    if (strcmp(role, "--child-echo") == 0)
        return child_echo();
    if (strcmp(role, "--child-report") == 0)
        return child_report();
    if (strcmp(role, "--child-bomb") == 0)
        return child_bomb();
    if (strcmp(role, "--child-crash") == 0) {
        signal(SIGSEGV, SIG_DFL); /* past a sanitizer's handler */
        raise(SIGSEGV);
        return 1;
    }
    if (strcmp(role, "--child-hang") == 0)
        for (;;)
            pause();
    if (strcmp(role, "--child-spin") == 0) {
        volatile unsigned long n = 0;
        for (;;)
            n++;
    }
    fprintf(stderr, "unknown role %s\n", role);
    return 2;
}

/* ---- helpers ------------------------------------------------------------ */

/* Spawn this binary in role; returns the parent's end of the socketpair. */
static int spawn_role(const char *role, const proc_limits *lim, proc_t *p)
{
    int sv[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    const char *argv[] = {self_exe, role, NULL};
    hark_err err;
    int rc = proc_spawn(argv, lim, sv[1], p, &err);
    if (rc)
        TEST_FAIL_("proc_spawn %s: %s", role, err.msg);
    close(sv[1]);
    ASSERT(p->pid > 0);
    ASSERT(proc_pidfd(p) >= 0);
    return sv[0];
}

static void wait_status(proc_t *p, double seconds, proc_status *st)
{
    hark_err err;
    int rc = proc_wait(p, deadline_in(seconds), st, &err);
    if (rc)
        TEST_FAIL_("proc_wait: %s", err.msg);
    ASSERT(p->reaped);
}

/* The reaped child is gone: no zombie of ours under that pid. */
static void assert_no_zombie(pid_t pid)
{
    errno = 0;
    ASSERT_EQ(waitpid(pid, NULL, WNOHANG), -1);
    ASSERT_EQ(errno, ECHILD);
}

static const char *describe(const proc_status *st)
{
    static char line[128];
    return proc_status_describe(st, line, sizeof line);
}

/* Soft and hard values of one /proc/<pid>/limits line ("unlimited" -> -1). */
static void read_limit(pid_t pid, const char *name, long long *soft, long long *hard)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/limits", (int)pid);
    FILE *f = fopen(path, "r");
    ASSERT(f);
    char line[256];
    int found = 0;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, name, strlen(name)) != 0)
            continue;
        char *s = line + strlen(name);
        long long *out[2] = {soft, hard};
        for (int i = 0; i < 2; i++) {
            s += strspn(s, " ");
            if (strncmp(s, "unlimited", 9) == 0) {
                *out[i] = -1;
                s += 9;
            } else {
                char *end;
                *out[i] = strtoll(s, &end, 10);
                ASSERT(end != s);
                s = end;
            }
        }
        found = 1;
    }
    fclose(f);
    if (!found)
        TEST_FAIL_("no '%s' in %s", name, path);
}

/* ---- tests -------------------------------------------------------------- */

static void test_spawn_echo(void)
{
    proc_t p;
    int fd = spawn_role("--child-echo", NULL, &p);
    frame_reader r;
    frame_reader_init(&r, 0);
    static const size_t sizes[] = {0, 10, 70000, 1u << 20};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        char *out = malloc(sizes[k] + 1);
        ASSERT(out);
        for (size_t i = 0; i < sizes[k]; i++)
            out[i] = (char)('a' + (i * 7 + k) % 26);
        hark_err err;
        ASSERT_EQ(frame_write(fd, (uint16_t)(MSG_TEST + k), out, sizes[k], deadline_in(10), &err),
                  0);
        uint16_t type;
        const void *payload;
        size_t len;
        int rc = frame_read(&r, fd, deadline_in(10), &type, &payload, &len, &err);
        if (rc)
            TEST_FAIL_("frame_read: %s", err.msg);
        ASSERT_EQ(type, MSG_TEST + k);
        ASSERT_EQ(len, sizes[k]);
        ASSERT(len == 0 || memcmp(payload, out, len) == 0);
        free(out);
    }
    json_t *o = json_pack("{s:s, s:i}", "hello", "worker", "n", 3);
    ASSERT_EQ(frame_write_json(fd, MSG_TEST, o, deadline_in(10), NULL), 0);
    uint16_t type;
    json_t *back = NULL;
    ASSERT_EQ(frame_read_json(&r, fd, deadline_in(10), &type, &back, NULL), 0);
    ASSERT(json_equal(o, back));
    json_decref(o);
    json_decref(back);
    frame_reader_release(&r);

    /* Closing our end makes the worker exit cleanly. */
    close(fd);
    proc_status st;
    wait_status(&p, 10, &st);
    ASSERT_EQ(st.cause, PROC_EXITED);
    ASSERT_EQ(st.code, 0);
    ASSERT_STREQ(describe(&st), "exit code 0");
    pid_t pid = p.pid;
    proc_release(&p);
    assert_no_zombie(pid);
}

/* The child sees only fds 0-3, an empty signal mask and no ignored signals
 * although the parent blocks INT/TERM (for its signalfd), ignores PIPE and
 * USR1 and holds extra fds without close-on-exec; it leads its own process
 * group and has the limits asked for. */
static void test_child_environment(void)
{
    int sfd = sigwatch_open();
    ASSERT(sfd >= 0);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGUSR1, SIG_IGN);
    int leak1 = open("/dev/null", O_RDONLY);
    int leak2[2];
    ASSERT(leak1 >= 0);
    ASSERT_EQ(pipe(leak2), 0);

    proc_limits lim = {.cpu_seconds = 7, .as_bytes = UNDER_ASAN ? 0 : 1ull << 30};
    proc_t p;
    int fd = spawn_role("--child-report", &lim, &p);
    frame_reader r;
    frame_reader_init(&r, 0);
    uint16_t type;
    json_t *rep = NULL;
    hark_err err;
    if (frame_read_json(&r, fd, deadline_in(10), &type, &rep, &err) != 0)
        TEST_FAIL_("no report: %s", err.msg);
    ASSERT_EQ(type, MSG_REPORT);
    char *text = json_dumps(rep, JSON_COMPACT);
    printf("child report: %s\n", text);
    free(text);

    json_t *fds = json_object_get(rep, "fds");
    ASSERT_EQ(json_array_size(fds), 4);
    for (size_t i = 0; i < 4; i++)
        ASSERT_EQ(json_integer_value(json_array_get(fds, i)), (long long)i);
    ASSERT_STREQ(json_string_value(json_object_get(rep, "sigblk")), "0000000000000000");
    /* Every signal's disposition is reset, except glibc's two internal ones
     * (32 and 33: SIGCANCEL, SIGSETXID), which sigaction refuses to touch;
     * they keep whatever the test's own parent gave them (CI may ignore them). */
    unsigned long long ign = strtoull(json_string_value(json_object_get(rep, "sigign")), NULL, 16);
    ign &= ~((1ull << (32 - 1)) | (1ull << (33 - 1)));
    ASSERT_EQ(ign, 0);
    ASSERT_EQ(json_integer_value(json_object_get(rep, "pid")), p.pid);
    ASSERT_EQ(json_integer_value(json_object_get(rep, "pgid")), p.pid);
    ASSERT_EQ(getpgid(p.pid), p.pid);
    json_decref(rep);

    long long soft, hard;
    read_limit(p.pid, "Max cpu time", &soft, &hard);
    ASSERT_EQ(soft, 7);
    ASSERT_EQ(hard, 8);
    read_limit(p.pid, "Max core file size", &soft, &hard);
    ASSERT_EQ(soft, 0);
    ASSERT_EQ(hard, 0);
    if (!UNDER_ASAN) {
        read_limit(p.pid, "Max address space", &soft, &hard);
        ASSERT_EQ(soft, 1ll << 30);
        ASSERT_EQ(hard, 1ll << 30);
    }

    close(fd);
    proc_status st;
    wait_status(&p, 10, &st);
    ASSERT_EQ(st.cause, PROC_EXITED);
    ASSERT_EQ(st.code, 0);
    proc_release(&p);
    frame_reader_release(&r);
    close(leak1);
    close(leak2[0]);
    close(leak2[1]);
    sigwatch_close(sfd);
}

static void test_kill_hung_child(void)
{
    static const char *const sleep_argv[] = {"/bin/sleep", "1000", NULL};
    for (int variant = 0; variant < 2; variant++) {
        proc_t p;
        int fd = -1;
        if (variant == 0) {
            fd = spawn_role("--child-hang", NULL, &p);
        } else {
            hark_err err;
            if (proc_spawn(sleep_argv, NULL, -1, &p, &err) != 0)
                TEST_FAIL_("%s", err.msg);
        }
        struct pollfd pfd = {.fd = proc_pidfd(&p), .events = POLLIN};
        ASSERT_EQ(poll(&pfd, 1, 0), 0);
        proc_status st;
        ASSERT_EQ(proc_reap(&p, &st), 1); /* running: no blocking, no status */
        ASSERT(!p.reaped);

        double t0 = clock_now_s();
        ASSERT_EQ(proc_kill(&p), 0);
        ASSERT_EQ(poll(&pfd, 1, 5000), 1);
        ASSERT(pfd.revents & POLLIN);
        ASSERT_EQ(proc_reap(&p, &st), 0);
        ASSERT_LE(clock_now_s() - t0, 2.0);
        ASSERT_EQ(st.cause, PROC_SIGNALED);
        ASSERT_EQ(st.code, SIGKILL);
        ASSERT_STREQ(describe(&st), "killed (SIGKILL)");
        assert_no_zombie(p.pid);

        /* Reaped: the status stays, and a kill no longer sends anything. */
        proc_status again;
        ASSERT_EQ(proc_reap(&p, &again), 0);
        ASSERT_EQ(again.code, SIGKILL);
        ASSERT_EQ(proc_kill(&p), 0);
        proc_release(&p);
        ASSERT_EQ(p.pidfd, -1);
        if (fd >= 0)
            close(fd);
    }
}

/* proc_kill takes the worker's whole process group with it. */
static void test_kill_process_group(void)
{
    int sv[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    static const char *const argv[] = {"/bin/sh", "-c", "sleep 1000 & echo $! >&3; wait", NULL};
    proc_t p;
    hark_err err;
    if (proc_spawn(argv, NULL, sv[1], &p, &err) != 0)
        TEST_FAIL_("%s", err.msg);
    close(sv[1]);
    char line[32] = {0};
    size_t n = 0;
    while (n < sizeof line - 1 && !strchr(line, '\n')) {
        struct pollfd pfd = {.fd = sv[0], .events = POLLIN};
        ASSERT_EQ(poll(&pfd, 1, 5000), 1);
        ssize_t got = read(sv[0], line + n, sizeof line - 1 - n);
        ASSERT(got > 0);
        n += (size_t)got;
    }
    pid_t grandchild = (pid_t)strtol(line, NULL, 10);
    ASSERT(grandchild > 0);
    int gfd = pidfd_open(grandchild, 0);
    ASSERT(gfd >= 0);
    ASSERT_EQ(getpgid(grandchild), p.pid);

    ASSERT_EQ(proc_kill(&p), 0);
    proc_status st;
    wait_status(&p, 5, &st);
    ASSERT_EQ(st.code, SIGKILL);
    struct pollfd pfd = {.fd = gfd, .events = POLLIN};
    ASSERT_EQ(poll(&pfd, 1, 5000), 1);
    close(gfd);
    proc_release(&p);
    close(sv[0]);
}

static void test_crash_reports_signal(void)
{
    proc_t p;
    int fd = spawn_role("--child-crash", NULL, &p);
    proc_status st;
    wait_status(&p, 10, &st);
    ASSERT_EQ(st.cause, PROC_SIGNALED);
    ASSERT_EQ(st.code, SIGSEGV);
    ASSERT(!st.core); /* RLIMIT_CORE 0 */
    ASSERT_STREQ(describe(&st), "crash with signal 11");
    proc_release(&p);
    close(fd);

    static const char *const argv[] = {"/bin/sh", "-c", "kill -ABRT $$", NULL};
    ASSERT_EQ(proc_spawn(argv, NULL, -1, &p, NULL), 0);
    wait_status(&p, 10, &st);
    ASSERT_STREQ(describe(&st), "crash with signal 6");
    proc_release(&p);
}

static void test_out_of_memory(void)
{
    proc_limits lim = {.as_bytes = 64u << 20};
    proc_t p;
    proc_status st;
    if (!UNDER_ASAN) {
        int fd = spawn_role("--child-bomb", &lim, &p);
        wait_status(&p, 15, &st);
        ASSERT_EQ(st.cause, PROC_OOM);
        ASSERT_EQ(st.code, PROC_EXIT_OOM);
        ASSERT_STREQ(describe(&st), "out of memory");
        proc_release(&p);
        close(fd);
    } else {
        printf("ASan build: the bomb needs a non-ASan child; checking the limit instead\n");
        static const char *const argv[] = {"/bin/sleep", "1000", NULL};
        ASSERT_EQ(proc_spawn(argv, &lim, -1, &p, NULL), 0);
        long long soft, hard;
        read_limit(p.pid, "Max address space", &soft, &hard);
        ASSERT_EQ(soft, 64ll << 20);
        ASSERT_EQ(hard, 64ll << 20);
        proc_release(&p);
    }
    /* The convention itself, from any program. */
    static const char *const oom_argv[] = {"/bin/sh", "-c", "exit 86", NULL};
    ASSERT_EQ(proc_spawn(oom_argv, NULL, -1, &p, NULL), 0);
    wait_status(&p, 10, &st);
    ASSERT_EQ(st.cause, PROC_OOM);
    ASSERT_STREQ(describe(&st), "out of memory");
    proc_release(&p);
}

static void test_exec_failure(void)
{
    static const char *const argv[] = {"/nonexistent/hark-worker", "--x", NULL};
    proc_t p;
    hark_err err;
    ASSERT_EQ(proc_spawn(argv, NULL, -1, &p, &err), HARK_ENOENT);
    ASSERT_STREQ(err.msg,
                 "cannot start worker '/nonexistent/hark-worker': No such file or directory");
    ASSERT_EQ(p.pidfd, -1);
    /* The failed child was reaped. */
    errno = 0;
    ASSERT_EQ(waitpid(-1, NULL, WNOHANG), -1);
    ASSERT_EQ(errno, ECHILD);

    /* Not executable (cwd is the test's temporary directory). */
    FILE *f = fopen("not-a-program", "w");
    ASSERT(f);
    fputs("hello\n", f);
    fclose(f);
    static const char *const argv2[] = {"./not-a-program", NULL};
    ASSERT_EQ(proc_spawn(argv2, NULL, -1, &p, &err), HARK_EIO);
    ASSERT_STREQ(err.msg, "cannot start worker './not-a-program': Permission denied");
    errno = 0;
    ASSERT_EQ(waitpid(-1, NULL, WNOHANG), -1);
    ASSERT_EQ(errno, ECHILD);

    ASSERT_EQ(proc_spawn(argv, NULL, -5, &p, &err), HARK_EINVAL);
}

/* RLIMIT_CPU is the backstop: a spinning child dies of SIGXCPU. */
static void test_cpu_limit_backstop(void)
{
    proc_limits lim = {.cpu_seconds = 1};
    proc_t p;
    int fd = spawn_role("--child-spin", &lim, &p);
    proc_status st;
    wait_status(&p, 10, &st);
    ASSERT_EQ(st.cause, PROC_SIGNALED);
    ASSERT_EQ(st.code, SIGXCPU);
    ASSERT_STREQ(describe(&st), "cpu time limit exceeded (SIGXCPU)");
    proc_release(&p);
    close(fd);
}

/* proc_wait gives up at its deadline; proc_release kills and reaps. */
static void test_wait_deadline_and_release(void)
{
    proc_t p;
    int fd = spawn_role("--child-hang", NULL, &p);
    proc_status st;
    hark_err err;
    double t0 = clock_now_s();
    ASSERT_EQ(proc_wait(&p, deadline_in(0.2), &st, &err), HARK_ETIMEDOUT);
    double dt = clock_now_s() - t0;
    ASSERT(dt >= 0.19);
    ASSERT_LE(dt, 2.0);
    pid_t pid = p.pid;
    proc_release(&p);
    ASSERT_EQ(p.pidfd, -1);
    assert_no_zombie(pid);
    close(fd);
}

static void test_describe(void)
{
    char b[64];
    proc_status st = {.cause = PROC_EXITED, .code = 3};
    ASSERT_STREQ(proc_status_describe(&st, b, sizeof b), "exit code 3");
    st = (proc_status){.cause = PROC_SIGNALED, .code = SIGTERM};
    ASSERT_STREQ(proc_status_describe(&st, b, sizeof b), "killed (SIGTERM)");
    st = (proc_status){.cause = PROC_SIGNALED, .code = SIGBUS};
    ASSERT_STREQ(proc_status_describe(&st, b, sizeof b), "crash with signal 7");
    st = (proc_status){.cause = PROC_OOM, .code = PROC_EXIT_OOM};
    ASSERT_STREQ(proc_status_describe(&st, b, 4), "out");
    proc_status_from_wait(0x000b, &st); /* raw wait status: signal 11 */
    ASSERT_EQ(st.cause, PROC_SIGNALED);
    ASSERT_EQ(st.code, 11);
    proc_status_from_wait(86 << 8, &st);
    ASSERT_EQ(st.cause, PROC_OOM);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strncmp(argv[1], "--child-", 8) == 0)
        return child_role(argv[1]);
    ssize_t n = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
    if (n <= 0)
        return 2;
    self_exe[n] = '\0';
    RUN(test_spawn_echo);
    RUN(test_child_environment);
    RUN(test_kill_hung_child);
    RUN(test_kill_process_group);
    RUN(test_crash_reports_signal);
    RUN(test_out_of_memory);
    RUN(test_exec_failure);
    RUN(test_cpu_limit_backstop);
    RUN(test_wait_deadline_and_release);
    RUN(test_describe);
    TEST_DONE();
}
