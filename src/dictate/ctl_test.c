/* ctl_test.c - the control socket: where it lives and what that directory
 * must be, one recorder at a time, a dead recorder's socket detected and
 * replaced, the request and reply lines, deadlines and caps. */
#include "dictate/ctl.h"
#include "util/test.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

static char here[PATH_MAX];

static void use_runtime_dir(const char *sub)
{
    ASSERT(getcwd(here, sizeof here));
    char rt[PATH_MAX + 32];
    snprintf(rt, sizeof rt, "%s/%s", here, sub);
    ASSERT_EQ(mkdir(rt, 0700), 0);
    setenv("XDG_RUNTIME_DIR", rt, 1);
}

static void test_requests(void)
{
    char line[64];
    ctl_op op;
    hark_err err = {0};
    for (ctl_op k = CTL_STOP; k <= CTL_STATUS; k++) {
        ctl_request_text(k, line, sizeof line);
        ASSERT_EQ(ctl_request_parse(line, strlen(line), &op, &err), 0);
        ASSERT_EQ(op, k);
    }
    ctl_request_text(CTL_CANCEL, line, sizeof line);
    ASSERT_STREQ(line, "{\"op\":\"cancel\"}");
    ASSERT_EQ(ctl_request_parse("{\"op\":\"reboot\"}", 15, &op, &err), HARK_EINVAL);
    ASSERT(strstr(err.msg, "unknown op 'reboot'"));
    ASSERT_EQ(ctl_request_parse("stop", 4, &op, &err), HARK_EINVAL);
    ASSERT(strstr(err.msg, "JSON object"));
    ASSERT_EQ(ctl_request_parse("{}", 2, &op, &err), HARK_EINVAL);
    ASSERT(strstr(err.msg, "needs an \"op\""));
    ASSERT_EQ(ctl_request_parse("[1]", 3, &op, &err), HARK_EINVAL);
}

static void test_dir(void)
{
    use_runtime_dir("rt");
    char dir[256];
    hark_err err = {0};
    ASSERT_EQ(ctl_dir(dir, sizeof dir, &err), 0);
    char want[PATH_MAX + 32];
    snprintf(want, sizeof want, "%s/rt/hark", here);
    ASSERT_STREQ(dir, want);
    struct stat sb;
    ASSERT_EQ(stat(dir, &sb), 0);
    ASSERT_EQ(sb.st_mode & 0777, 0700);
    /* Again: it exists and is fine. */
    ASSERT_EQ(ctl_dir(dir, sizeof dir, &err), 0);
    /* Open to others: refused, not fixed behind the user's back. */
    ASSERT_EQ(chmod(dir, 0755), 0);
    ASSERT_EQ(ctl_dir(dir, sizeof dir, &err), HARK_EINVAL);
    ASSERT(strstr(err.msg, "others may enter it (mode 755"));
    ASSERT_EQ(chmod(dir, 0700), 0);
    /* A symbolic link in its place: refused. */
    use_runtime_dir("rt2");
    char link_path[PATH_MAX + 40], target[PATH_MAX + 40];
    snprintf(link_path, sizeof link_path, "%s/rt2/hark", here);
    snprintf(target, sizeof target, "%s/elsewhere", here);
    ASSERT_EQ(mkdir(target, 0700), 0);
    ASSERT_EQ(symlink(target, link_path), 0);
    ASSERT_EQ(ctl_dir(dir, sizeof dir, &err), HARK_EINVAL);
    ASSERT(strstr(err.msg, "a symbolic link"));
    /* A file in its place. */
    use_runtime_dir("rt3");
    snprintf(link_path, sizeof link_path, "%s/rt3/hark", here);
    FILE *f = fopen(link_path, "w");
    ASSERT(f);
    fclose(f);
    ASSERT_EQ(ctl_dir(dir, sizeof dir, &err), HARK_EINVAL);
    ASSERT(strstr(err.msg, "not a directory"));
    /* Without XDG_RUNTIME_DIR: a private directory under /tmp named for us. */
    unsetenv("XDG_RUNTIME_DIR");
    int rc = ctl_dir(dir, sizeof dir, &err);
    snprintf(want, sizeof want, "/tmp/hark-%u", (unsigned)geteuid());
    ASSERT_STREQ(dir, want);
    if (rc)
        TEST_FAIL_("%s", err.msg);
    ASSERT_EQ(lstat(dir, &sb), 0);
    ASSERT(S_ISDIR(sb.st_mode) && sb.st_uid == geteuid() && (sb.st_mode & 077) == 0);
}

static void test_one_recorder(void)
{
    use_runtime_dir("rt");
    char dir[256], holder[160] = "";
    hark_err err = {0};
    ASSERT_EQ(ctl_dir(dir, sizeof dir, &err), 0);
    /* Nobody yet. */
    int fd;
    ASSERT_EQ(ctl_connect(dir, &fd, &err), HARK_ENOENT);
    ASSERT_STREQ(err.msg, "no dictation is running");
    ctl_server s;
    ASSERT_EQ(ctl_listen(dir, &s, holder, sizeof holder, &err), 0);
    struct stat sb;
    ASSERT_EQ(stat(s.sock_path, &sb), 0);
    ASSERT(S_ISSOCK(sb.st_mode));
    ASSERT_EQ(sb.st_mode & 0777, 0600);
    /* A second one (another process) is refused and told who holds it. */
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        ctl_server s2;
        char h[160] = "";
        hark_err e2 = {0};
        int rc = ctl_listen(dir, &s2, h, sizeof h, &e2);
        char want[64];
        snprintf(want, sizeof want, "hark dictate (pid %d)", (int)getppid());
        _exit(rc == 1 && strcmp(h, want) == 0 ? 0 : 1);
    }
    int st;
    waitpid(pid, &st, 0);
    ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    /* A client gets through; nothing pending afterwards. */
    ASSERT_EQ(ctl_connect(dir, &fd, &err), 0);
    int got;
    ASSERT_EQ(ctl_accept(&s, &got, &err), 0);
    int none;
    ASSERT_EQ(ctl_accept(&s, &none, &err), 1);
    close(fd);
    close(got);
    ctl_close(&s);
    ASSERT(stat(s.sock_path, &sb) != 0 && errno == ENOENT);
    ASSERT_EQ(ctl_connect(dir, &fd, &err), HARK_ENOENT);
}

/* A recorder killed with kill -9 leaves its socket; the next one finds
 * the lock free, knows the socket is stale and replaces it; a client of
 * the dead one is told nothing runs. */
static void test_stale_socket(void)
{
    use_runtime_dir("rt");
    char dir[256];
    hark_err err = {0};
    ASSERT_EQ(ctl_dir(dir, sizeof dir, &err), 0);
    int ready[2];
    ASSERT_EQ(pipe(ready), 0);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        ctl_server s;
        char h[160];
        if (ctl_listen(dir, &s, h, sizeof h, &err) != 0)
            _exit(1);
        ASSERT_EQ(write(ready[1], "x", 1), 1);
        pause();
        _exit(0);
    }
    char x;
    ASSERT_EQ(read(ready[0], &x, 1), 1);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    char sock[300];
    snprintf(sock, sizeof sock, "%s/dictate.sock", dir);
    struct stat sb;
    ASSERT_EQ(stat(sock, &sb), 0); /* left behind */
    int fd;
    ASSERT_EQ(ctl_connect(dir, &fd, &err), HARK_ENOENT);
    ctl_server s;
    char holder[160];
    ASSERT_EQ(ctl_listen(dir, &s, holder, sizeof holder, &err), 0);
    ASSERT_EQ(ctl_connect(dir, &fd, &err), 0);
    close(fd);
    ctl_close(&s);
}

static void test_lines(void)
{
    int sv[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    hark_err err = {0};
    json_t *msg = json_pack("{s:b,s:s,s:s}", "ok", 1, "job", "j1", "text", "héllo\nworld");
    ASSERT_EQ(ctl_send(sv[0], msg, deadline_in(2), &err), 0);
    json_decref(msg);
    json_t *got = NULL;
    ASSERT_EQ(ctl_recv(sv[1], &got, deadline_in(2), &err), 0);
    ASSERT_STREQ(json_string_value(json_object_get(got, "text")), "héllo\nworld");
    json_decref(got);
    /* Nothing comes: the deadline, not a hang. */
    double t0 = clock_now_s();
    ASSERT_EQ(ctl_recv(sv[1], &got, deadline_in(0.2), &err), HARK_ETIMEDOUT);
    ASSERT_LE(clock_now_s() - t0, 1.0);
    /* Not JSON. */
    ASSERT_EQ(write(sv[0], "nonsense\n", 9), 9);
    ASSERT_EQ(ctl_recv(sv[1], &got, deadline_in(2), &err), HARK_EIO);
    ASSERT(strstr(err.msg, "malformed"));
    /* The peer goes away without a word. */
    close(sv[0]);
    ASSERT_EQ(ctl_recv(sv[1], &got, deadline_in(2), &err), HARK_EIO);
    ASSERT(strstr(err.msg, "without a word"));
    close(sv[1]);
    /* A line over the cap is refused, not grown without end. */
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(sv[1]);
        char block[65536];
        memset(block, 'a', sizeof block);
        for (size_t sent = 0; sent <= CTL_LINE_MAX; sent += sizeof block)
            if (write(sv[0], block, sizeof block) <= 0)
                _exit(0);
        _exit(0);
    }
    close(sv[0]);
    char *line;
    size_t len;
    ASSERT_EQ(ctl_recv_line(sv[1], &line, &len, deadline_in(5), &err), HARK_ENOMEM);
    close(sv[1]);
    waitpid(pid, NULL, 0);
}

int main(void)
{
    RUN(test_requests);
    RUN(test_dir);
    RUN(test_one_recorder);
    RUN(test_stale_socket);
    RUN(test_lines);
    TEST_DONE();
}
