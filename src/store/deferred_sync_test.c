/* deferred_sync_test.c - the WAL syncer: a mark is synced within its
 * interval, marks in one interval share one fsync, flush syncs at once,
 * failures are counted, stop syncs what is pending. */
#include "store/deferred_sync.h"
#include "util/clock.h"
#include "util/test.h"

#include <fcntl.h>

static deferred_sync *start(const char *path, int interval_ms)
{
    deferred_sync *d = NULL;
    hark_err err = {0};
    if (deferred_sync_start(path, interval_ms, &d, &err))
        TEST_FAIL_("deferred_sync_start: %s", err.msg);
    return d;
}

static void touch(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ASSERT(fd >= 0);
    ASSERT_EQ(write(fd, "x", 1), 1);
    close(fd);
}

/* Poll (not sleep-and-hope): wait until nothing is pending, at most 10 s. */
static void wait_synced(deferred_sync *d)
{
    double until = clock_now_s() + 10;
    while (deferred_sync_pending(d) && clock_now_s() < until)
        usleep(2000);
    ASSERT(!deferred_sync_pending(d));
}

static void test_bad_interval_is_refused(void)
{
    deferred_sync *d = NULL;
    hark_err err = {0};
    ASSERT_EQ(deferred_sync_start("f", 0, &d, &err), HARK_EINVAL);
    ASSERT(d == NULL);
    ASSERT_EQ(deferred_sync_start("f", 60001, &d, &err), HARK_EINVAL);
    ASSERT(strstr(err.msg, "60001") != NULL);
}

static void test_flush_syncs_only_when_marked(void)
{
    touch("wal");
    deferred_sync *d = start("wal", 60000);
    ASSERT(!deferred_sync_pending(d));
    ASSERT_EQ(deferred_sync_flush(d), 0);
    ASSERT_EQ(deferred_sync_count(d), 0); /* nothing marked: no fsync */
    deferred_sync_mark(d);
    ASSERT(deferred_sync_pending(d)); /* a minute away without the flush */
    ASSERT_EQ(deferred_sync_flush(d), 0);
    ASSERT(!deferred_sync_pending(d));
    ASSERT_EQ(deferred_sync_count(d), 1);
    ASSERT_EQ(deferred_sync_failures(d), 0);
    deferred_sync_stop(d);
}

static void test_marks_in_one_interval_share_one_sync(void)
{
    touch("wal");
    deferred_sync *d = start("wal", 300);
    double t0 = clock_now_s();
    for (int i = 0; i < 50; i++)
        deferred_sync_mark(d);
    /* All 50 marks fall well inside the first 300 ms on any machine that
     * runs the rest of this suite; the check below tells if one did not. */
    double marked = clock_now_s() - t0;
    wait_synced(d);
    if (marked < 0.2)
        ASSERT_EQ(deferred_sync_count(d), 1);
    deferred_sync_mark(d);
    wait_synced(d);
    ASSERT_LE(deferred_sync_count(d), 3);
    ASSERT_LE(2, deferred_sync_count(d));
    deferred_sync_stop(d);
}

static void test_missing_file_has_nothing_to_sync(void)
{
    deferred_sync *d = start("no-such-wal", 5);
    deferred_sync_mark(d);
    wait_synced(d);
    ASSERT_EQ(deferred_sync_failures(d), 0);
    ASSERT_EQ(deferred_sync_flush(d), 0);
    deferred_sync_stop(d);
}

static void test_failed_sync_is_reported_and_counted(void)
{
    /* procfs files cannot be fsynced (EINVAL): a stand-in for a disk error. */
    deferred_sync *d = start("/proc/self/stat", 60000);
    deferred_sync_mark(d);
    ASSERT_EQ(deferred_sync_flush(d), HARK_EIO);
    ASSERT_EQ(deferred_sync_failures(d), 1);
    ASSERT(!deferred_sync_pending(d));
    deferred_sync_stop(d);
}

static void test_stop_does_not_wait_for_the_interval(void)
{
    /* A pending mark is synced by stop itself (store_close relies on it),
     * not by waiting out the interval: a minute here. */
    touch("wal");
    deferred_sync *d = start("wal", 60000);
    deferred_sync_mark(d);
    double t0 = clock_now_s();
    deferred_sync_stop(d);
    ASSERT_LE(clock_now_s() - t0, 5.0);
}

int main(void)
{
    RUN(test_bad_interval_is_refused);
    RUN(test_flush_syncs_only_when_marked);
    RUN(test_marks_in_one_interval_share_one_sync);
    RUN(test_missing_file_has_nothing_to_sync);
    RUN(test_failed_sync_is_reported_and_counted);
    RUN(test_stop_does_not_wait_for_the_interval);
    return 0;
}
