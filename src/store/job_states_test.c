/* job_states_test.c - the lifecycle's names and the transition table
 * (job_states.h), checked arrow by arrow. */
#include "store/job_states.h"
#include "util/test.h"

#define T0_MS 1700000000000LL

static void test_names_round_trip(void)
{
    for (int s = STORE_QUEUED; s <= STORE_CANCELLED; s++) {
        int back = -1;
        ASSERT_EQ(store_state_parse(store_state_name(s), &back, NULL), 0);
        ASSERT_EQ(back, s);
        ASSERT_EQ(store_state_of_name(store_state_name(s)), s);
    }
    for (int p = STORE_PRIO_REALTIME; p <= STORE_PRIO_LOW; p++) {
        int back = -1;
        ASSERT_EQ(store_priority_parse(store_priority_name(p), &back, NULL), 0);
        ASSERT_EQ(back, p);
    }
    for (int c = STORE_CHUNK_PENDING; c <= STORE_CHUNK_DONE; c++)
        ASSERT_EQ(store_chunk_state_of_name(store_chunk_state_name(c)), c);
    for (int w = STORE_WEBHOOK_PENDING; w <= STORE_WEBHOOK_FAILED; w++)
        ASSERT_EQ(store_webhook_state_of_name(store_webhook_state_name(w)), w);
    ASSERT_STREQ(store_state_name(6), "?");
    ASSERT_STREQ(store_state_name(-1), "?");
    ASSERT_STREQ(store_priority_name(4), "?");
    ASSERT_STREQ(store_webhook_state_name(3), "?");
    ASSERT_EQ(store_state_of_name(NULL), -1);
    ASSERT_EQ(store_state_of_name(""), -1);
    ASSERT_EQ(store_webhook_state_of_name("sent"), -1);
    hark_err err = {0};
    int out = 7;
    ASSERT_EQ(store_state_parse("done", &out, &err), HARK_EINVAL);
    ASSERT_EQ(out, 7);
    ASSERT_STREQ(err.msg, "unknown job state 'done'");
    ASSERT_EQ(store_priority_parse(NULL, &out, &err), HARK_EINVAL);
    ASSERT_STREQ(err.msg, "unknown priority '' (expected realtime, high, normal or low)");
}

static void test_control_table(void)
{
    /* allowed[op][state]: Q R P S F C */
    static const int allowed[6][6] = {
        [STORE_CTL_PAUSE] = {1, 1, 0, 0, 0, 0},   [STORE_CTL_RESUME] = {0, 0, 1, 0, 0, 0},
        [STORE_CTL_CANCEL] = {1, 1, 1, 0, 0, 0},  [STORE_CTL_FAIL] = {1, 1, 1, 0, 0, 0},
        [STORE_CTL_SUCCEED] = {1, 1, 0, 0, 0, 0}, [STORE_CTL_DELETE] = {0, 0, 0, 1, 1, 1},
    };
    for (int op = STORE_CTL_PAUSE; op <= STORE_CTL_DELETE; op++) {
        for (int s = STORE_QUEUED; s <= STORE_CANCELLED; s++) {
            hark_err err = {0};
            int rc = store_ctl_check((enum store_ctl)op, s, "j1", &err);
            ASSERT_EQ(rc, allowed[op][s] ? 0 : HARK_EINVAL);
            if (rc)
                ASSERT(strstr(err.msg, store_state_name(s)) != NULL);
        }
    }
    hark_err err = {0};
    ASSERT_EQ(store_ctl_check(STORE_CTL_RESUME, STORE_RUNNING, "jx", &err), HARK_EINVAL);
    ASSERT_STREQ(err.msg, "cannot resume job jx: it is running");
    ASSERT_EQ(store_ctl_check(STORE_CTL_SUCCEED, STORE_PAUSED, "jx", &err), HARK_EINVAL);
    ASSERT_STREQ(err.msg, "cannot finish job jx: it is paused");
}

static void test_other_arrows(void)
{
    hark_err err = {0};
    ASSERT_EQ(store_finish_check("jx", true, 3, 3, &err), 0);
    ASSERT_EQ(store_finish_check("jx", false, 0, 0, &err), HARK_EINVAL);
    ASSERT_STREQ(err.msg, "cannot finish job jx: it is not prepared");
    ASSERT_EQ(store_finish_check("jx", true, 2, 3, &err), HARK_EINVAL);
    ASSERT_STREQ(err.msg, "cannot finish job jx: 2 of 3 chunks committed");

    for (int s = STORE_QUEUED; s <= STORE_CANCELLED; s++)
        ASSERT_EQ(store_retry_check(s, "jx", &err), s == STORE_FAILED ? 0 : HARK_EINVAL);
    ASSERT_STREQ(err.msg, "cannot retry job jx: it is cancelled");

    ASSERT_EQ(store_stage_check("jx", STORE_RUNNING, true, 4, 4, 2, &err), 0);
    ASSERT_EQ(store_stage_check("jx", STORE_PAUSED, true, 4, 4, 2, &err), HARK_EINVAL);
    ASSERT_STREQ(err.msg, "cannot add a stage to job jx: it is paused");
    ASSERT_EQ(store_stage_check("jx", STORE_QUEUED, true, 3, 4, 2, &err), HARK_EINVAL);
    ASSERT_STREQ(err.msg, "cannot add a stage to job jx: 3 of 4 chunks are committed");
    ASSERT_EQ(store_stage_check("jx", STORE_QUEUED, true, 4, 4, STORE_MAX_CHUNKS, &err),
              HARK_EINVAL);
    ASSERT_STREQ(err.msg, "job jx would have too many tasks");

    ASSERT_EQ(store_deadline_ms(T0_MS, 0), 0);
    ASSERT_EQ(store_deadline_ms(T0_MS, 2.5), T0_MS + 2500);
    ASSERT_EQ(store_deadline_ms(T0_MS, 0.0015), T0_MS + 2); /* 1.5 ms, half away from zero */
    ASSERT_EQ(store_deadline_ms(T0_MS, 1e9), T0_MS + 1000000000000LL);

    ASSERT_EQ(store_admit_check(STORE_PRIO_LOW, 1000, 0, &err), 0);
    ASSERT_EQ(store_admit_check(STORE_PRIO_LOW, 1, 2, &err), 0);
    ASSERT_EQ(store_admit_check(STORE_PRIO_HIGH, 2, 2, &err), HARK_EFULL);
    ASSERT_STREQ(err.msg, "the high queue is full (2 active jobs, at most 2)");

    ASSERT_EQ(store_append_check("jx", STORE_RUNNING, true, 10, 10, &err), 0);
    ASSERT_EQ(store_append_check("jx", STORE_SUCCEEDED, true, 10, 20, &err), HARK_EINVAL);
    ASSERT_STREQ(err.msg, "job jx is not taking audio: it is succeeded");
    ASSERT_EQ(store_append_check("jx", STORE_RUNNING, false, 10, 20, &err), HARK_EINVAL);
    ASSERT_STREQ(err.msg, "job jx is not taking audio: its audio has ended");
    ASSERT_EQ(store_append_check("jx", STORE_QUEUED, true, 10, 9, &err), HARK_EINVAL);
    ASSERT_STREQ(err.msg, "job jx already has 10 bytes of audio, not 9");
}

int main(void)
{
    RUN(test_names_round_trip);
    RUN(test_control_table);
    RUN(test_other_arrows);
    TEST_DONE();
}
