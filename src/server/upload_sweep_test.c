#include "server/upload_sweep.h"

#include "util/test.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <time.h>

static void touch(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ASSERT(fd >= 0);
    ASSERT_EQ(write(fd, "RIFF", 4), 4);
    close(fd);
}

static void submit(store *st, const char *input, char id[STORE_ID_SIZE])
{
    store_job_spec spec = {.kind = "transcribe", .input = input, .priority = STORE_PRIO_NORMAL};
    hark_err err = {0};
    if (store_submit(st, &spec, id, &err))
        TEST_FAIL_("store_submit: %s", err.msg);
}

static bool exists(const char *path)
{
    struct stat sb;
    return lstat(path, &sb) == 0;
}

/* Files no job names are removed; inputs of queued and ended jobs stay, and
 * so does anything that is not a regular file. */
static void test_sweep(void)
{
    hark_err err = {0};
    store *st;
    ASSERT_EQ(store_open("hark.db", NULL, &st, &err), 0);
    ASSERT_EQ(mkdir("uploads", 0700), 0);
    char cwd[PATH_MAX], path[PATH_MAX + 64], id[STORE_ID_SIZE];
    ASSERT(getcwd(cwd, sizeof cwd));
    touch("uploads/0123456789abcdef.wav"); /* a queued job's */
    touch("uploads/1111111111111111.mp3"); /* a failed job's */
    touch("uploads/2222222222222222.wav"); /* cut off by kill -9: no job */
    touch("uploads/3333333333333333");     /* whole, but its job never committed */
    ASSERT_EQ(mkdir("uploads/sub", 0700), 0);
    ASSERT_EQ(symlink("0123456789abcdef.wav", "uploads/link"), 0);
    snprintf(path, sizeof path, "%s/uploads/0123456789abcdef.wav", cwd);
    submit(st, path, id);
    snprintf(path, sizeof path, "%s/uploads/1111111111111111.mp3", cwd);
    submit(st, path, id);
    ASSERT_EQ(store_fail(st, STORE_SCOPE_ALL, id, "bad input", &err), 0);
    submit(st, "/srv/audio/2222222222222222.wav.txt", id); /* a path job: another name */
    int removed = -1;
    ASSERT_EQ(upload_sweep("uploads", st, &removed, &err), 0);
    ASSERT_EQ(removed, 2);
    ASSERT(exists("uploads/0123456789abcdef.wav"));
    ASSERT(exists("uploads/1111111111111111.mp3"));
    ASSERT(!exists("uploads/2222222222222222.wav"));
    ASSERT(!exists("uploads/3333333333333333"));
    ASSERT(exists("uploads/sub"));
    ASSERT(exists("uploads/link"));
    /* Again: nothing left to remove. A missing directory is fine. */
    ASSERT_EQ(upload_sweep("uploads", st, &removed, &err), 0);
    ASSERT_EQ(removed, 0);
    ASSERT_EQ(upload_sweep("no-such-dir", st, &removed, &err), 0);
    ASSERT_EQ(removed, 0);
    store_close(st);
}

/* On a shared directory: an unreferenced file written within the bound (a
 * node's upload in flight) stays; an older one goes. */
static void test_sweep_spares_young_files(void)
{
    hark_err err = {0};
    store *st;
    ASSERT_EQ(store_open("hark.db", NULL, &st, &err), 0);
    ASSERT_EQ(mkdir("uploads", 0700), 0);
    touch("uploads/aaaaaaaaaaaaaaaa.wav"); /* being written by another node */
    touch("uploads/bbbbbbbbbbbbbbbb.wav"); /* a kill -9's leftover, two hours old */
    struct timespec old[2];
    clock_gettime(CLOCK_REALTIME, &old[0]);
    old[0].tv_sec -= 2 * 3600;
    old[1] = old[0];
    ASSERT_EQ(utimensat(AT_FDCWD, "uploads/bbbbbbbbbbbbbbbb.wav", old, 0), 0);
    int removed = -1;
    ASSERT_EQ(upload_sweep_older("uploads", st, UPLOAD_SWEEP_SHARED_AGE_S, &removed, &err), 0);
    ASSERT_EQ(removed, 1);
    ASSERT(exists("uploads/aaaaaaaaaaaaaaaa.wav"));
    ASSERT(!exists("uploads/bbbbbbbbbbbbbbbb.wav"));
    /* Without the bound (one machine: nothing is in flight at start) it goes. */
    ASSERT_EQ(upload_sweep("uploads", st, &removed, &err), 0);
    ASSERT_EQ(removed, 1);
    ASSERT(!exists("uploads/aaaaaaaaaaaaaaaa.wav"));
    store_close(st);
}

int main(void)
{
    RUN(test_sweep);
    RUN(test_sweep_spares_young_files);
    TEST_DONE();
}
