#include "util/beneath.h"

#include "util/test.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>

/* Tests run in a fresh temporary working directory (test.h). The tree:
 *   root/a.txt ("inside")  root/sub/b.txt  root/dir/  root/fifo
 *   root/link-in -> a.txt   root/link-out -> ../outside/secret.txt
 *   root/linkdir -> sub     root/out-dir -> ../outside
 *   outside/secret.txt ("secret")  outside/b.txt
 */
static void put(const char *rel, const char *text)
{
    int fd = open(rel, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ASSERT(fd >= 0);
    ASSERT_EQ(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

static void make_tree(void)
{
    ASSERT_EQ(mkdir("root", 0700), 0);
    ASSERT_EQ(mkdir("root/sub", 0700), 0);
    ASSERT_EQ(mkdir("root/dir", 0700), 0);
    ASSERT_EQ(mkdir("outside", 0700), 0);
    put("root/a.txt", "inside");
    put("root/sub/b.txt", "inside b");
    put("outside/secret.txt", "secret");
    put("outside/b.txt", "secret b");
    ASSERT_EQ(mkfifo("root/fifo", 0600), 0);
    ASSERT_EQ(symlink("a.txt", "root/link-in"), 0);
    ASSERT_EQ(symlink("../outside/secret.txt", "root/link-out"), 0);
    ASSERT_EQ(symlink("sub", "root/linkdir"), 0);
    ASSERT_EQ(symlink("../outside", "root/out-dir"), 0);
}

/* Open rel beneath root/ and read it: its text, or "errno N". */
static const char *read_beneath(int dir, const char *rel)
{
    static char out[64];
    errno = 0;
    int fd = beneath_openat(dir, rel, O_RDONLY | O_NONBLOCK);
    if (fd < 0) {
        snprintf(out, sizeof out, "errno %d", errno);
        return out;
    }
    ssize_t n = read(fd, out, sizeof out - 1);
    int flags = fcntl(fd, F_GETFD);
    close(fd);
    ASSERT(flags & FD_CLOEXEC);
    out[n < 0 ? 0 : n] = '\0';
    return out;
}

static char errno_text[8][32];
static const char *err_(int e, int k)
{
    snprintf(errno_text[k], sizeof errno_text[k], "errno %d", e);
    return errno_text[k];
}

/* The same answers from openat2 and from the component walk. */
static void check_openat(void)
{
    int dir = open("root", O_PATH | O_DIRECTORY | O_CLOEXEC);
    ASSERT(dir >= 0);
    ASSERT_STREQ(read_beneath(dir, "a.txt"), "inside");
    ASSERT_STREQ(read_beneath(dir, "sub/b.txt"), "inside b");
    ASSERT_STREQ(read_beneath(dir, "./sub//b.txt"), "inside b");
    /* Every link, in or out, at the end or on the way. */
    ASSERT_STREQ(read_beneath(dir, "link-in"), err_(ELOOP, 0));
    ASSERT_STREQ(read_beneath(dir, "link-out"), err_(ELOOP, 0));
    ASSERT_STREQ(read_beneath(dir, "linkdir/b.txt"), err_(ELOOP, 0));
    ASSERT_STREQ(read_beneath(dir, "out-dir/b.txt"), err_(ELOOP, 0));
    /* Climbing out, absolute paths. */
    ASSERT_STREQ(read_beneath(dir, "../outside/secret.txt"), err_(EXDEV, 1));
    ASSERT_STREQ(read_beneath(dir, "sub/../a.txt"), err_(EXDEV, 1));
    ASSERT_STREQ(read_beneath(dir, "/etc/passwd"), err_(EXDEV, 1));
    /* Missing, empty, a file used as a directory. */
    ASSERT_STREQ(read_beneath(dir, "missing"), err_(ENOENT, 2));
    ASSERT_STREQ(read_beneath(dir, "nodir/x"), err_(ENOENT, 2));
    ASSERT_STREQ(read_beneath(dir, ""), err_(ENOENT, 2));
    ASSERT_STREQ(read_beneath(dir, "a.txt/x"), err_(ENOTDIR, 3));
    /* Directories open (the caller's fstat refuses them). */
    int fd = beneath_openat(dir, "sub/", O_RDONLY);
    ASSERT(fd >= 0);
    struct stat st;
    ASSERT(fstat(fd, &st) == 0 && S_ISDIR(st.st_mode));
    close(fd);

    /* The swap this exists for: a directory on the way replaced by a link
     * out, and a file replaced by a link out, after the root was opened. */
    ASSERT_EQ(rename("root/sub", "root/sub.old"), 0);
    ASSERT_EQ(symlink("../outside", "root/sub"), 0);
    ASSERT_STREQ(read_beneath(dir, "sub/b.txt"), err_(ELOOP, 0));
    ASSERT_EQ(unlink("root/a.txt"), 0);
    ASSERT_EQ(symlink("../outside/secret.txt", "root/a.txt"), 0);
    ASSERT_STREQ(read_beneath(dir, "a.txt"), err_(ELOOP, 0));
    close(dir);
}

static void test_openat2(void)
{
    make_tree();
    beneath_walk_only = false;
    check_openat();
}

static void test_component_walk(void)
{
    make_tree();
    beneath_walk_only = true;
    check_openat();
    beneath_walk_only = false;
}

static void test_rel(void)
{
    ASSERT_STREQ(beneath_rel("/srv/a", "/srv/a/x/y.wav"), "x/y.wav");
    ASSERT_STREQ(beneath_rel("/srv/a/", "/srv/a/x"), "x");
    ASSERT_STREQ(beneath_rel("/srv/a", "/srv/a"), "");
    ASSERT_STREQ(beneath_rel("/", "/srv/a"), "srv/a");
    ASSERT(beneath_rel("/srv/a", "/srv/ab/x") == NULL);
    ASSERT(beneath_rel("/srv/a", "/srv") == NULL);
    ASSERT(beneath_rel("/srv/a", "srv/a/x") == NULL);
    ASSERT(beneath_rel("", "/x") == NULL);
}

/* path's message when beneath_open_file refuses it, with its code. */
static void refuse_(int line, const char *rel, int code, const char *why)
{
    hark_err err;
    int fd = 99;
    int rc = beneath_open_file("root", rel, "NAME", &fd, &err);
    char want[256];
    snprintf(want, sizeof want, "cannot read 'NAME': %s", why);
    if (rc != code || strcmp(err.msg, want) != 0 || fd != -1)
        TEST_FAIL_("line %d: '%s': rc %d (wanted %d), fd %d, message\n  \"%s\"\nwanted\n  \"%s\"",
                   line, rel, rc, code, fd, err.msg, want);
}
#define REFUSE(rel, code, why) refuse_(__LINE__, (rel), (code), (why))

static void test_open_file(void)
{
    make_tree();
    hark_err err;
    int fd = -1;
    ASSERT_EQ(beneath_open_file("root", "sub/b.txt", "NAME", &fd, &err), 0);
    ASSERT(fd >= 0);
    int fl = fcntl(fd, F_GETFL);
    ASSERT((fl & O_ACCMODE) == O_RDONLY && !(fl & O_NONBLOCK));
    char buf[16] = {0};
    ASSERT_EQ(pread(fd, buf, sizeof buf - 1, 0), 8);
    ASSERT_STREQ(buf, "inside b");
    close(fd);
    const char *link = "a symbolic link (links are not followed under a root)";
    REFUSE("link-in", HARK_EINVAL, link);
    REFUSE("linkdir/b.txt", HARK_EINVAL, link);
    REFUSE("../outside/secret.txt", HARK_EINVAL, "outside the allowed roots");
    REFUSE("missing", HARK_ENOENT, "not found");
    REFUSE("a.txt/x", HARK_ENOENT, "not found");
    REFUSE("dir", HARK_EINVAL, "not a regular file");
    REFUSE("", HARK_EINVAL, "not a regular file");
    REFUSE("fifo", HARK_EINVAL, "not a regular file"); /* and no wait for a writer */
    ASSERT_EQ(beneath_open_file("gone", "a.txt", "NAME", &fd, &err), HARK_EIO);
    ASSERT_STREQ(err.msg,
                 "cannot read 'NAME': cannot open its root 'gone': No such file or directory");
    ASSERT_EQ(fd, -1);
}

int main(void)
{
    RUN(test_openat2);
    RUN(test_component_walk);
    RUN(test_rel);
    RUN(test_open_file);
    TEST_DONE();
}
