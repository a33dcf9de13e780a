#include "metrics/procstat.h"

#include "util/test.h"

#include <fcntl.h>
#include <time.h>

/* A command name may hold spaces and parentheses: fields count from the last ')'. */
static void test_parse_stat(void)
{
    const char *line = "4242 (a) (b c)) S 1 4242 4242 0 -1 4194560 500 0 0 0 "
                       "250 75 0 0 20 0 3 0 123456 987654321 2048 18446744073709551615 "
                       "1 1 0 0 0 0 0 4096 0 0 0 0 17 0 0 0 0 0 0\n";
    int64_t cpu = 0, start = 0, vsize = 0, rss = 0;
    ASSERT_EQ(procstat_parse_stat(line, &cpu, &start, &vsize, &rss), 0);
    ASSERT_EQ(cpu, 325);
    ASSERT_EQ(start, 123456);
    ASSERT_EQ(vsize, 987654321);
    ASSERT_EQ(rss, 2048);
    ASSERT_EQ(procstat_parse_stat("4242 (x) S 1 2 3", &cpu, &start, &vsize, &rss), HARK_EINVAL);
    ASSERT_EQ(procstat_parse_stat("no parenthesis", &cpu, &start, &vsize, &rss), HARK_EINVAL);
    ASSERT_EQ(procstat_parse_stat("1 (x) S 1 2 3 4 5 6 7 8 9 10 u 12 13 14 15 16 17 18 19 20 21 22",
                                  &cpu, &start, &vsize, &rss),
              HARK_EINVAL);
}

/* The figures of this very process, and that they move. */
static void test_read_self(void)
{
    procstat a, b;
    hark_err err = {0};
    ASSERT_EQ(procstat_read(&a, &err), 0);
    ASSERT(a.resident_bytes > 100000);
    ASSERT(a.virtual_bytes >= a.resident_bytes);
    double now = (double)time(NULL);
    ASSERT(a.start_time_s > now - 3600 && a.start_time_s <= now + 1);
    ASSERT(a.open_fds >= 3);
    ASSERT(a.max_fds == -1 || a.max_fds >= a.open_fds);
    int fds[10];
    for (int i = 0; i < 10; i++)
        ASSERT((fds[i] = open("/dev/null", O_RDONLY)) >= 0);
    volatile double x = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
    do { /* 50 ms of CPU: five clock ticks at 100 Hz */
        for (int i = 0; i < 100000; i++)
            x += i * 0.5;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
    } while ((t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9 < 0.05);
    ASSERT_EQ(procstat_read(&b, &err), 0);
    ASSERT_EQ(b.open_fds, a.open_fds + 10);
    ASSERT(b.cpu_seconds >= a.cpu_seconds + 0.03);
    ASSERT_NEAR(b.start_time_s, a.start_time_s, 0.001);
    for (int i = 0; i < 10; i++)
        close(fds[i]);
}

int main(void)
{
    RUN(test_parse_stat);
    RUN(test_read_self);
    TEST_DONE();
}
