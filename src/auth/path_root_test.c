#include "auth/path_root.h"

#include "util/test.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>

/* Tests run in a fresh temporary working directory (test.h). The tree:
 *   root/a.wav  root/sub/b.wav  root/dir/  root/..a  root/fifo
 *   root/link-in -> a.wav           (stays inside: refused all the same)
 *   root/link-out -> ../outside/secret.wav   (escapes)
 *   root/dangling -> nothing
 *   root/linkdir -> sub             (a directory link on the way)
 *   rootb/c.wav                     (a sibling whose name extends "root")
 *   outside/secret.wav
 *   alias -> root                   (the root under another name)
 */
static char base[PATH_MAX];

static void touch(const char *rel)
{
    int fd = open(rel, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ASSERT(fd >= 0);
    ASSERT_EQ(write(fd, "RIFF", 4), 4);
    close(fd);
}

static void make_tree(void)
{
    ASSERT(getcwd(base, sizeof base) != NULL);
    ASSERT_EQ(mkdir("root", 0700), 0);
    ASSERT_EQ(mkdir("root/sub", 0700), 0);
    ASSERT_EQ(mkdir("root/dir", 0700), 0);
    ASSERT_EQ(mkdir("rootb", 0700), 0);
    ASSERT_EQ(mkdir("outside", 0700), 0);
    touch("root/a.wav");
    touch("root/sub/b.wav");
    touch("root/..a");
    touch("rootb/c.wav");
    touch("outside/secret.wav");
    ASSERT_EQ(mkfifo("root/fifo", 0600), 0);
    ASSERT_EQ(symlink("a.wav", "root/link-in"), 0);
    ASSERT_EQ(symlink("../outside/secret.wav", "root/link-out"), 0);
    ASSERT_EQ(symlink("nothing", "root/dangling"), 0);
    ASSERT_EQ(symlink("sub", "root/linkdir"), 0);
    ASSERT_EQ(symlink("root", "alias"), 0);
}

/* base + rel, in a static buffer (one at a time). */
static const char *abs_(const char *rel)
{
    static char out[2][PATH_MAX + 64];
    static int k;
    k ^= 1;
    snprintf(out[k], sizeof out[k], "%s/%s", base, rel);
    return out[k];
}

static void init_roots(path_roots *r, const char *rel_root)
{
    hark_err err;
    char *roots[] = {(char *)abs_(rel_root)};
    if (path_roots_init(r, roots, 1, &err) != 0)
        TEST_FAIL_("init: %s", err.msg);
}

/* path is accepted beneath the root want_root, as want_root/rel. */
static void accept_(int line, const path_roots *r, const char *path, const char *want_root,
                    const char *rel)
{
    hark_err err;
    path_input in = {(char *)"unset", (char *)"unset"};
    int rc = path_roots_check(r, path, &in, &err);
    if (rc != 0)
        TEST_FAIL_("line %d: '%s' refused (%d): %s", line, path, rc, err.msg);
    char want[PATH_MAX + 64];
    snprintf(want, sizeof want, "%s%s%s", want_root, strcmp(want_root, "/") ? "/" : "", rel);
    if (strcmp(in.root, want_root) != 0 || strcmp(in.path, want) != 0)
        TEST_FAIL_("line %d: '%s' accepted as '%s' beneath '%s', not '%s' beneath '%s'", line, path,
                   in.path, in.root, want, want_root);
    path_input_release(&in);
    ASSERT(in.root == NULL && in.path == NULL);
}
#define ACCEPT(r, path, root, rel) accept_(__LINE__, (r), (path), (root), (rel))

/* path must be refused with code and the message "cannot read 'PATH': why". */
static void refuse_(int line, const path_roots *r, const char *path, int code, const char *why)
{
    hark_err err;
    path_input got = {(char *)"unset", (char *)"unset"};
    char want[PATH_MAX + 256];
    int rc = path_roots_check(r, path, &got, &err);
    snprintf(want, sizeof want, "cannot read '%s': %s", path, why);
    if (rc != code || strcmp(err.msg, want) != 0)
        TEST_FAIL_("line %d: rc %d (wanted %d), message\n  \"%s\"\nwanted\n  \"%s\"", line, rc,
                   code, err.msg, want);
    ASSERT(got.root == NULL && got.path == NULL);
}
#define REFUSE(r, path, code, why) refuse_(__LINE__, (r), (path), (code), (why))

#define LINK "a symbolic link (links are not followed under a root)"

static void test_accepts_files_under_the_root(void)
{
    make_tree();
    path_roots r;
    init_roots(&r, "root");
    char root[PATH_MAX + 64]; /* abs_() reuses its buffers */
    snprintf(root, sizeof root, "%s", abs_("root"));
    ACCEPT(&r, abs_("root/a.wav"), root, "a.wav");
    ACCEPT(&r, abs_("root/sub/b.wav"), root, "sub/b.wav");
    ACCEPT(&r, abs_("root//sub/./b.wav"), root, "sub/b.wav");
    ACCEPT(&r, abs_("./root/a.wav"), root, "a.wav");
    /* ".." as part of a name is just a name. */
    ACCEPT(&r, abs_("root/..a"), root, "..a");
    path_roots_release(&r);
    ASSERT_EQ(r.n, 0);
    path_roots_release(&r);
    path_roots_release(NULL);
    path_input_release(NULL);
}

static void test_refused_before_the_filesystem(void)
{
    make_tree();
    path_roots r;
    init_roots(&r, "root");
    REFUSE(&r, "root/a.wav", HARK_EINVAL, "not an absolute path");
    REFUSE(&r, "./a.wav", HARK_EINVAL, "not an absolute path");
    REFUSE(&r, "", HARK_EINVAL, "not an absolute path");
    /* ".." anywhere, even where it would resolve inside the root. */
    REFUSE(&r, abs_("root/../root/a.wav"), HARK_EINVAL, "'..' is not allowed in a path");
    REFUSE(&r, abs_("root/sub/../a.wav"), HARK_EINVAL, "'..' is not allowed in a path");
    REFUSE(&r, abs_("root/sub/.."), HARK_EINVAL, "'..' is not allowed in a path");
    REFUSE(&r, "/../etc/passwd", HARK_EINVAL, "'..' is not allowed in a path");
    /* Outside: the same answer whether the file exists or not, so a client
     * cannot probe the rest of the filesystem. */
    REFUSE(&r, "/etc/passwd", HARK_EINVAL, "outside the allowed roots");
    REFUSE(&r, "/etc/no-such-file", HARK_EINVAL, "outside the allowed roots");
    REFUSE(&r, abs_("outside/secret.wav"), HARK_EINVAL, "outside the allowed roots");
    REFUSE(&r, "/", HARK_EINVAL, "outside the allowed roots");
    /* A sibling whose name starts with the root's: a component boundary. */
    REFUSE(&r, abs_("rootb/c.wav"), HARK_EINVAL, "outside the allowed roots");
    REFUSE(&r, abs_("root.wav"), HARK_EINVAL, "outside the allowed roots");
    /* Too long for the filesystem anyway. */
    static char longpath[PATH_MAX + 16];
    memset(longpath, 'a', sizeof longpath - 1);
    longpath[0] = '/';
    path_input got;
    hark_err err;
    ASSERT_EQ(path_roots_check(&r, longpath, &got, &err), HARK_EINVAL);
    ASSERT(strstr(err.msg, "...': path too long") != NULL);
    ASSERT_EQ(path_roots_check(&r, NULL, &got, &err), HARK_EINVAL);
    ASSERT_STREQ(err.msg, "no path");
    path_roots_release(&r);
}

static void test_refused_when_opened(void)
{
    make_tree();
    path_roots r;
    init_roots(&r, "root");
    /* Every symbolic link under the root: leading out, staying inside,
     * dangling, a directory on the way, a loop. */
    REFUSE(&r, abs_("root/link-out"), HARK_EINVAL, LINK);
    REFUSE(&r, abs_("root/link-in"), HARK_EINVAL, LINK);
    REFUSE(&r, abs_("root/dangling"), HARK_EINVAL, LINK);
    REFUSE(&r, abs_("root/linkdir/b.wav"), HARK_EINVAL, LINK);
    ASSERT_EQ(symlink("loop2", "root/loop1"), 0);
    ASSERT_EQ(symlink("loop1", "root/loop2"), 0);
    REFUSE(&r, abs_("root/loop1"), HARK_EINVAL, LINK);
    /* Not found: a missing file, a file used as a directory. */
    REFUSE(&r, abs_("root/missing.wav"), HARK_ENOENT, "not found");
    REFUSE(&r, abs_("root/nodir/x.wav"), HARK_ENOENT, "not found");
    REFUSE(&r, abs_("root/a.wav/x"), HARK_ENOENT, "not found");
    /* Not a regular file: a directory (the root itself too), a FIFO
     * (opened without waiting for a writer). */
    REFUSE(&r, abs_("root/dir"), HARK_EINVAL, "not a regular file");
    REFUSE(&r, abs_("root/sub/"), HARK_EINVAL, "not a regular file");
    REFUSE(&r, abs_("root"), HARK_EINVAL, "not a regular file");
    REFUSE(&r, abs_("root/fifo"), HARK_EINVAL, "not a regular file");
    /* A directory the daemon may not search. */
    if (geteuid() != 0) { /* root searches anything */
        ASSERT_EQ(mkdir("root/locked", 0700), 0);
        touch("root/locked/x.wav");
        ASSERT_EQ(chmod("root/locked", 0), 0);
        REFUSE(&r, abs_("root/locked/x.wav"), HARK_EIO, "Permission denied");
        ASSERT_EQ(chmod("root/locked", 0700), 0);
    }
    path_roots_release(&r);
}

static void test_root_spellings(void)
{
    make_tree();
    path_roots r;
    char root[PATH_MAX + 64]; /* abs_() reuses its buffers */
    snprintf(root, sizeof root, "%s", abs_("root"));
    /* The root configured through a symlink: paths spelled either way are
     * accepted beneath the real directory (the root's own link is the
     * operator's, followed once at start). */
    init_roots(&r, "alias");
    ACCEPT(&r, abs_("alias/a.wav"), root, "a.wav");
    ACCEPT(&r, abs_("root/sub/b.wav"), root, "sub/b.wav");
    REFUSE(&r, abs_("rootb/c.wav"), HARK_EINVAL, "outside the allowed roots");
    REFUSE(&r, abs_("alias/link-out"), HARK_EINVAL, LINK);
    path_roots_release(&r);
    /* A root with "." and a trailing slash. */
    init_roots(&r, "./root/");
    ACCEPT(&r, abs_("root/a.wav"), root, "a.wav");
    REFUSE(&r, abs_("rootb/c.wav"), HARK_EINVAL, "outside the allowed roots");
    path_roots_release(&r);
    /* A root written with "..": only its resolved form counts. */
    init_roots(&r, "outside/../root");
    ACCEPT(&r, abs_("root/a.wav"), root, "a.wav");
    REFUSE(&r, abs_("outside/secret.wav"), HARK_EINVAL, "outside the allowed roots");
    path_roots_release(&r);
    /* Several roots. */
    hark_err err;
    char *two[] = {(char *)abs_("rootb"), (char *)abs_("root/sub")};
    ASSERT_EQ(path_roots_init(&r, two, 2, &err), 0);
    ACCEPT(&r, abs_("rootb/c.wav"), abs_("rootb"), "c.wav");
    ACCEPT(&r, abs_("root/sub/b.wav"), abs_("root/sub"), "b.wav");
    REFUSE(&r, abs_("root/a.wav"), HARK_EINVAL, "outside the allowed roots");
    path_roots_release(&r);
    /* Nested roots: the most specific one is used. A path through the
     * inner root's link is refused beneath the outer root but accepted
     * beneath the inner one; the outer one still refuses links. */
    char *nested[] = {(char *)base, (char *)abs_("alias")};
    ASSERT_EQ(path_roots_init(&r, nested, 2, &err), 0);
    ACCEPT(&r, abs_("alias/a.wav"), root, "a.wav");
    ACCEPT(&r, abs_("root/a.wav"), root, "a.wav");
    ACCEPT(&r, abs_("outside/secret.wav"), base, "outside/secret.wav");
    REFUSE(&r, abs_("root/link-out"), HARK_EINVAL, LINK);
    path_roots_release(&r);
    /* "/" admits every file that can be reached without a link. */
    char *slash[] = {"/"};
    ASSERT_EQ(path_roots_init(&r, slash, 1, &err), 0);
    ACCEPT(&r, abs_("outside/secret.wav"), "/", abs_("outside/secret.wav") + 1);
    REFUSE(&r, abs_("root/link-out"), HARK_EINVAL, LINK);
    REFUSE(&r, "/", HARK_EINVAL, "not a regular file");
    path_roots_release(&r);
}

static void test_no_roots(void)
{
    make_tree();
    path_roots r;
    hark_err err;
    ASSERT_EQ(path_roots_init(&r, NULL, 0, &err), 0);
    REFUSE(&r, abs_("root/a.wav"), HARK_EINVAL, "outside the allowed roots");
    path_roots_release(&r);
}

static void test_init_errors(void)
{
    make_tree();
    path_roots r;
    hark_err err;
    char *rel[] = {"root"};
    ASSERT_EQ(path_roots_init(&r, rel, 1, &err), HARK_EINVAL);
    ASSERT_STREQ(err.msg, "root 'root' is not an absolute path");
    ASSERT(r.n == 0 && r.resolved == NULL);
    char *missing[] = {(char *)abs_("root"), (char *)abs_("gone")};
    ASSERT_EQ(path_roots_init(&r, missing, 2, &err), HARK_ENOENT);
    char want[PATH_MAX + 64];
    snprintf(want, sizeof want, "root '%s': No such file or directory", abs_("gone"));
    ASSERT_STREQ(err.msg, want);
    ASSERT(r.n == 0 && r.resolved == NULL);
    char *file[] = {(char *)abs_("root/a.wav")};
    ASSERT_EQ(path_roots_init(&r, file, 1, &err), HARK_EINVAL);
    snprintf(want, sizeof want, "root '%s' is not a directory", abs_("root/a.wav"));
    ASSERT_STREQ(err.msg, want);
}

static void test_messages_escape_the_path(void)
{
    make_tree();
    path_roots r;
    init_roots(&r, "root");
    path_input got;
    hark_err err;
    ASSERT_EQ(path_roots_check(&r, "/etc/\x1b[31mred\n\xff", &got, &err), HARK_EINVAL);
    ASSERT_STREQ(err.msg, "cannot read '/etc/\\x1b[31mred\\x0a\\xff': outside the allowed roots");
    path_roots_release(&r);
}

int main(void)
{
    RUN(test_accepts_files_under_the_root);
    RUN(test_refused_before_the_filesystem);
    RUN(test_refused_when_opened);
    RUN(test_root_spellings);
    RUN(test_no_roots);
    RUN(test_init_errors);
    RUN(test_messages_escape_the_path);
    TEST_DONE();
}
