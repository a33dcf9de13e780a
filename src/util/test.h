/* test.h - the in-tree unit test harness.
 *
 * Each src/<module>/<name>_test.c is one executable (CMake finds them) run by
 * ctest. A file defines test functions and lists them in main with RUN().
 * Each test runs in a forked child with its own temporary directory as the
 * working directory (beanstalkd's ct), so a crash or a leak of state fails
 * that test alone. ASSERT_* print both values (libuv's ASSERT_EQ).
 */
#ifndef HARK_UTIL_TEST_H
#define HARK_UTIL_TEST_H

#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/fs.h"

/* UNDER_ASAN: 1 in an AddressSanitizer build, whose shadow memory needs
 * terabytes of address space (so no RLIMIT_AS there). */
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

#define TEST_FAIL_(...)                                                                            \
    do {                                                                                           \
        fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                                            \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fprintf(stderr, "\n");                                                                     \
        exit(1);                                                                                   \
    } while (0)

#define ASSERT(cond)                                                                               \
    do {                                                                                           \
        if (!(cond))                                                                               \
            TEST_FAIL_("assertion failed: %s", #cond);                                             \
    } while (0)

#define ASSERT_EQ(a, b)                                                                            \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        if (a_ != b_)                                                                              \
            TEST_FAIL_("%s == %s failed: %lld != %lld", #a, #b, a_, b_);                           \
    } while (0)

#define ASSERT_NE(a, b)                                                                            \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        if (a_ == b_)                                                                              \
            TEST_FAIL_("%s != %s failed: both %lld", #a, #b, a_);                                  \
    } while (0)

#define ASSERT_LE(a, b)                                                                            \
    do {                                                                                           \
        double a_ = (double)(a), b_ = (double)(b);                                                 \
        if (!(a_ <= b_))                                                                           \
            TEST_FAIL_("%s <= %s failed: %g > %g", #a, #b, a_, b_);                                \
    } while (0)

#define ASSERT_NEAR(a, b, tol)                                                                     \
    do {                                                                                           \
        double a_ = (double)(a), b_ = (double)(b);                                                 \
        if (!(fabs(a_ - b_) <= (tol)))                                                             \
            TEST_FAIL_("%s ~= %s failed: %g vs %g (tolerance %g)", #a, #b, a_, b_, (double)(tol)); \
    } while (0)

#define ASSERT_STREQ(a, b)                                                                         \
    do {                                                                                           \
        const char *a_ = (a), *b_ = (b);                                                           \
        if (!a_ || !b_ || strcmp(a_, b_) != 0)                                                     \
            TEST_FAIL_("%s == %s failed:\n  \"%s\"\n  \"%s\"", #a, #b, a_ ? a_ : "(null)",         \
                       b_ ? b_ : "(null)");                                                        \
    } while (0)

static int test_failures_;
static int test_count_;
/* Run in each test's child, in its directory, before the test (NULL =
 * nothing): e.g. store_test.c empties the store under test. */
static void (*test_setup_)(void);

/* HARK_TEST_ONLY=TEXT runs only the tests whose name contains TEXT (while
 * working on one); the others are not counted. */
static inline void test_run_(const char *name, void (*fn)(void))
{
    const char *only = getenv("HARK_TEST_ONLY");
    if (only && *only && !strstr(name, only))
        return;
    char dir[] = "/tmp/hark-test-XXXXXX";
    test_count_++;
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        exit(2);
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        if (chdir(dir) != 0)
            _exit(2);
        if (test_setup_)
            test_setup_();
        fn();
        /* exit, not _exit: LeakSanitizer checks at exit in the ASan build. */
        exit(0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    fs_rmtree(dir);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
        printf("ok   %s\n", name);
    } else {
        test_failures_++;
        if (WIFSIGNALED(st))
            printf("FAIL %s (signal %d)\n", name, WTERMSIG(st));
        else
            printf("FAIL %s\n", name);
    }
    fflush(stdout);
}

#define RUN(fn) test_run_(#fn, fn)

/* Closing line in the plain "N passed, N failed" form; exit status says it too. */
#define TEST_DONE()                                                                                \
    do {                                                                                           \
        printf("%d passed, %d failed\n", test_count_ - test_failures_, test_failures_);            \
        return test_failures_ ? 1 : 0;                                                             \
    } while (0)

/* The directory of the pocketsphinx-testdata LibriVox clips. */
static inline const char *test_data_dir(void)
{
    const char *d = getenv("HARK_TESTDATA");
    return d ? d : "/usr/share/pocketsphinx/test/data/librivox";
}

/* The raw 16-bit samples of the file at path (malloc'd), *n of them. */
static inline int16_t *test_read_samples(const char *path, int64_t *n)
{
    FILE *f = fopen(path, "rb");
    ASSERT(f != NULL);
    fseek(f, 0, SEEK_END);
    long bytes = ftell(f);
    fseek(f, 0, SEEK_SET);
    int16_t *x = malloc(bytes > 0 ? (size_t)bytes : 1);
    ASSERT(x != NULL);
    ASSERT_EQ(fread(x, 1, (size_t)bytes, f), (size_t)bytes);
    fclose(f);
    *n = bytes / 2;
    return x;
}

#endif
