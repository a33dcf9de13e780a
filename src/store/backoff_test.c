/* backoff_test.c - retry delays, limits and failure texts (backoff.h,
 * failure_text.h, job_id.h): the rules every store backend shares. */
#include "store/backoff.h"
#include "store/failure_text.h"
#include "store/job_id.h"
#include "util/test.h"

static store_options defaults(void)
{
    /* store_open's defaults (store.h). */
    return (store_options){.max_attempts = 3,
                           .backoff_base_ms = 1000,
                           .backoff_max_ms = 30000,
                           .resource_backoff_base_ms = 5000,
                           .resource_backoff_max_ms = 60000,
                           .max_resource_waits = 30};
}

static void test_backoff_doubles_up_to_its_cap(void)
{
    store_options o = defaults();
    static const int64_t attempt[] = {1000, 2000, 4000, 8000, 16000, 30000, 30000};
    static const int64_t resource[] = {5000, 10000, 20000, 40000, 60000, 60000};
    for (int i = 0; i < 7; i++)
        ASSERT_EQ(store_backoff_ms(&o, false, i), attempt[i]);
    for (int i = 0; i < 6; i++)
        ASSERT_EQ(store_backoff_ms(&o, true, i), resource[i]);
    /* The exponent stops at 20: a huge count neither overflows nor wraps. */
    o.backoff_base_ms = INT64_MAX >> 21;
    o.backoff_max_ms = INT64_MAX;
    ASSERT_EQ(store_backoff_ms(&o, false, 1000), (INT64_MAX >> 21) << 20);
    ASSERT_EQ(store_backoff_ms(&o, false, 20), store_backoff_ms(&o, false, 21));
    o.backoff_base_ms = 0;
    ASSERT_EQ(store_backoff_ms(&o, false, 3), 0);
}

static void test_gives_up_at_its_own_limit(void)
{
    store_options o = defaults();
    ASSERT(!store_gives_up(&o, false, 2, 100));
    ASSERT(store_gives_up(&o, false, 3, 0));
    ASSERT(!store_gives_up(&o, true, 100, 29));
    ASSERT(store_gives_up(&o, true, 0, 30));
}

static void test_failure_texts(void)
{
    char m[STORE_MSG_MAX];
    store_task_failure_text(m, sizeof m, 4, 40 * STORE_SAMPLE_RATE, 797 * STORE_SAMPLE_RATE / 16,
                            NULL, false, 3, "decoder crashed");
    ASSERT_STREQ(m, "chunk 4 (40.0-49.8 s) failed 3 times: decoder crashed");
    store_task_failure_text(m, sizeof m, -1, 0, 0, "talk.mp3", false, 1, "no audio stream");
    ASSERT_STREQ(m, "prepare of 'talk.mp3' failed 1 time: no audio stream");
    store_task_failure_text(m, sizeof m, 0, 0, STORE_SAMPLE_RATE, NULL, true, 30, "disk full");
    ASSERT_STREQ(m, "chunk 0 (0.0-1.0 s) waited for a resource 30 times: disk full");
    store_timeout_text(m, sizeof m, 2.5);
    ASSERT_STREQ(m, "timed out after 2.5 s");
    char small[8];
    store_timeout_text(small, sizeof small, 2.5);
    ASSERT_STREQ(small, "timed o");
}

static void test_job_ids_are_random_and_well_formed(void)
{
    char a[STORE_ID_SIZE], b[STORE_ID_SIZE];
    ASSERT_EQ(store_new_job_id(a, NULL), 0);
    ASSERT_EQ(store_new_job_id(b, NULL), 0);
    ASSERT_EQ(strlen(a), STORE_ID_SIZE - 1);
    ASSERT_EQ(a[0], 'j');
    ASSERT_EQ(strspn(a + 1, "0123456789abcdef"), STORE_ID_SIZE - 2);
    ASSERT(strcmp(a, b) != 0);
}

int main(void)
{
    RUN(test_backoff_doubles_up_to_its_cap);
    RUN(test_gives_up_at_its_own_limit);
    RUN(test_failure_texts);
    RUN(test_job_ids_are_random_and_well_formed);
    TEST_DONE();
}
