#include "output/atomic_file.h"

#include "util/test.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>

/* Tests run in a fresh temporary working directory (test.h). */

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        TEST_FAIL_("cannot open %s: %s", path, strerror(errno));
    static char data[1 << 16];
    size_t n = fread(data, 1, sizeof data - 1, f);
    fclose(f);
    data[n] = '\0';
    *len = n;
    return data;
}

/* Number of entries in dir (other than . and ..) whose name contains ".tmp." */
static int count_temps(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        TEST_FAIL_("cannot open dir %s: %s", dir, strerror(errno));
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strstr(e->d_name, ".tmp.") != NULL)
            n++;
    closedir(d);
    return n;
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        TEST_FAIL_("cannot open dir %s: %s", dir, strerror(errno));
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

static void test_writes_content_and_mode(void)
{
    hark_err err;
    err_clear(&err);
    const char msg[] = "hello\nworld\n";
    ASSERT_EQ(atomic_write_file("out.txt", msg, sizeof msg - 1, 0640, &err), 0);
    size_t n;
    char *got = slurp("out.txt", &n);
    ASSERT_EQ(n, sizeof msg - 1);
    ASSERT(memcmp(got, msg, n) == 0);
    struct stat st;
    ASSERT_EQ(stat("out.txt", &st), 0);
    ASSERT(S_ISREG(st.st_mode));
    ASSERT_EQ(st.st_mode & 07777, 0640);

    /* The mode is exact (not filtered by umask, not mkstemp's 0600). */
    ASSERT_EQ(atomic_write_file("pub.txt", "x", 1, 0644, &err), 0);
    ASSERT_EQ(stat("pub.txt", &st), 0);
    ASSERT_EQ(st.st_mode & 07777, 0644);
    ASSERT_EQ(count_temps("."), 0);
    ASSERT_EQ(count_entries("."), 2);
}

static void test_subdirectory_and_empty(void)
{
    hark_err err;
    err_clear(&err);
    ASSERT_EQ(mkdir("sub", 0755), 0);
    ASSERT_EQ(atomic_write_file("sub/empty.srt", "", 0, 0600, &err), 0);
    struct stat st;
    ASSERT_EQ(stat("sub/empty.srt", &st), 0);
    ASSERT_EQ(st.st_size, 0);
    ASSERT_EQ(count_entries("sub"), 1);

    /* An absolute path works too. */
    char cwd[4096], abs[4200];
    ASSERT(getcwd(cwd, sizeof cwd) != NULL);
    snprintf(abs, sizeof abs, "%s/sub/abs.txt", cwd);
    ASSERT_EQ(atomic_write_file(abs, "abc", 3, 0600, &err), 0);
    size_t n;
    ASSERT_STREQ(slurp("sub/abs.txt", &n), "abc");
    ASSERT_EQ(count_entries("sub"), 2);
}

static void test_large(void)
{
    hark_err err;
    err_clear(&err);
    size_t n = 3u << 20;
    char *big = malloc(n);
    ASSERT(big != NULL);
    for (size_t i = 0; i < n; i++)
        big[i] = (char)('a' + i % 26);
    ASSERT_EQ(atomic_write_file("big.bin", big, n, 0600, &err), 0);
    FILE *f = fopen("big.bin", "rb");
    ASSERT(f != NULL);
    char *back = malloc(n + 1);
    ASSERT(back != NULL);
    ASSERT_EQ(fread(back, 1, n + 1, f), n);
    fclose(f);
    ASSERT(memcmp(big, back, n) == 0);
    free(big);
    free(back);
}

/* Overwriting replaces the file by rename: a reader holding the old file
 * still sees the old bytes whole, and the name now points at a new inode. */
static void test_overwrite(void)
{
    hark_err err;
    err_clear(&err);
    ASSERT_EQ(atomic_write_file("f.json", "old contents", 12, 0600, &err), 0);
    struct stat before;
    ASSERT_EQ(stat("f.json", &before), 0);
    int fd = open("f.json", O_RDONLY);
    ASSERT(fd >= 0);

    ASSERT_EQ(atomic_write_file("f.json", "new", 3, 0644, &err), 0);
    size_t n;
    ASSERT_STREQ(slurp("f.json", &n), "new");
    struct stat after;
    ASSERT_EQ(stat("f.json", &after), 0);
    ASSERT_NE(before.st_ino, after.st_ino);
    ASSERT_EQ(after.st_mode & 07777, 0644);

    char old[32] = {0};
    ASSERT_EQ(read(fd, old, sizeof old - 1), 12);
    ASSERT_STREQ(old, "old contents");
    close(fd);
    ASSERT_EQ(count_temps("."), 0);
    ASSERT_EQ(count_entries("."), 1);
}

static void test_fails_missing_directory(void)
{
    hark_err err;
    err_clear(&err);
    ASSERT_EQ(atomic_write_file("nope/out.txt", "x", 1, 0600, &err), HARK_EIO);
    ASSERT_EQ(err.code, HARK_EIO);
    ASSERT_STREQ(err.msg, "cannot write 'nope/out.txt': No such file or directory");
    ASSERT_EQ(count_entries("."), 0);
}

/* The temporary is created and written, then rename fails: it must go. */
static void test_fails_target_is_directory(void)
{
    hark_err err;
    err_clear(&err);
    ASSERT_EQ(mkdir("taken", 0755), 0);
    ASSERT_EQ(atomic_write_file("taken", "data", 4, 0600, &err), HARK_EIO);
    ASSERT(strstr(err.msg, "cannot write 'taken': ") == err.msg);
    ASSERT(strlen(err.msg) > strlen("cannot write 'taken': "));
    ASSERT_EQ(count_temps("."), 0);
    ASSERT_EQ(count_entries("."), 1);
    ASSERT_EQ(count_entries("taken"), 0);

    /* Same with a non-empty directory in a subdirectory. */
    ASSERT_EQ(mkdir("d", 0755), 0);
    ASSERT_EQ(mkdir("d/x", 0755), 0);
    ASSERT_EQ(atomic_write_file("d/x/", "z", 1, 0600, &err), HARK_EIO);
    ASSERT(strstr(err.msg, "'d/x/'") != NULL);
    ASSERT_EQ(mkdir("d/x/inner", 0755), 0);
    ASSERT_EQ(atomic_write_file("d/x", "z", 1, 0600, &err), HARK_EIO);
    ASSERT(strstr(err.msg, "'d/x'") != NULL);
    ASSERT_EQ(count_entries("d"), 1);
    ASSERT_EQ(count_entries("d/x"), 1);
}

/* A parent that is a regular file (ENOTDIR). */
static void test_fails_parent_is_file(void)
{
    hark_err err;
    err_clear(&err);
    ASSERT_EQ(atomic_write_file("plain", "p", 1, 0600, &err), 0);
    ASSERT_EQ(atomic_write_file("plain/child", "c", 1, 0600, &err), HARK_EIO);
    ASSERT_STREQ(err.msg, "cannot write 'plain/child': Not a directory");
    ASSERT_EQ(count_entries("."), 1);
}

/* A full disk (injected, util/fault.h) is HARK_ENOSPC, names the file, and
 * leaves the old file and no temporary. */
static void test_full_disk(void)
{
    hark_err err = {0};
    setenv("HARK_TEST_ENOSPC", ".json,.srt", 1); /* read at the first write */
    setenv("HARK_TEST_ENOSPC_WHILE", "full", 1);
    ASSERT_EQ(atomic_write_file("t.json", "new", 3, 0644, &err), 0); /* no "full" yet */
    int fd = open("full", O_WRONLY | O_CREAT, 0600);
    ASSERT(fd >= 0);
    close(fd);
    ASSERT_EQ(atomic_write_file("t.json", "newer", 5, 0644, &err), HARK_ENOSPC);
    ASSERT_STREQ(err.msg, "cannot write 't.json': No space left on device");
    ASSERT_EQ(atomic_write_file("t.txt", "text", 4, 0644, &err), 0); /* other names: fine */
    size_t len;
    ASSERT_STREQ(slurp("t.json", &len), "new");
    ASSERT_EQ(count_temps("."), 0);
    unlink("full"); /* space again */
    ASSERT_EQ(atomic_write_file("t.json", "newer", 5, 0644, &err), 0);
    ASSERT_STREQ(slurp("t.json", &len), "newer");
}

/* Past the file-size limit (ulimit -f) the write fails with EFBIG, not
 * SIGXFSZ (hark ignores it, main.c), and the message says the limit. */
static void test_file_size_limit(void)
{
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl = {.rlim_cur = 4096, .rlim_max = RLIM_INFINITY};
    ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &rl), 0);
    rl.rlim_cur = 4096;
    ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &rl), 0);
    static char big[10000];
    hark_err err = {0};
    ASSERT_EQ(atomic_write_file("big.txt", big, sizeof big, 0644, &err), HARK_EINVAL);
    ASSERT_STREQ(err.msg, "cannot write 'big.txt': File too large: over the file-size limit "
                          "(ulimit -f) of 4096 bytes");
    ASSERT_EQ(count_temps("."), 0);
    ASSERT_EQ(atomic_write_file("small.txt", big, 4096, 0644, &err), 0);
}

int main(void)
{
    RUN(test_writes_content_and_mode);
    RUN(test_subdirectory_and_empty);
    RUN(test_large);
    RUN(test_overwrite);
    RUN(test_fails_missing_directory);
    RUN(test_fails_target_is_directory);
    RUN(test_fails_parent_is_file);
    RUN(test_full_disk);
    RUN(test_file_size_limit);
    TEST_DONE();
}
