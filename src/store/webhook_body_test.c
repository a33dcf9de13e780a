/* webhook_body_test.c - a delivery's event, body and outcome (webhook_body.h). */
#include "store/webhook_body.h"
#include "util/test.h"

#include <stdlib.h>

static void test_event_names(void)
{
    char e[STORE_WEBHOOK_EVENT_SIZE];
    store_webhook_event(STORE_SUCCEEDED, e);
    ASSERT_STREQ(e, "job.succeeded");
    store_webhook_event(STORE_CANCELLED, e);
    ASSERT_STREQ(e, "job.cancelled");
}

static void test_body_of_a_success_and_a_failure(void)
{
    store_job j = {.id = "j0123456789abcdef",
                   .kind = "transcribe",
                   .source = "talk.mp3",
                   .error = "",
                   .state = STORE_SUCCEEDED,
                   .priority = STORE_PRIO_HIGH,
                   .created_ms = 1700000000123,
                   .started_ms = 1700000001000,
                   .finished_ms = 1700000009500,
                   .timeout_s = 30,
                   .prepared = true,
                   .duration_s = 12.5,
                   .n_chunks = 2,
                   .chunks_done = 2};
    char *b = store_webhook_body(&j, "job.succeeded");
    ASSERT_STREQ(b, "{\"event\":\"job.succeeded\",\"id\":\"j0123456789abcdef\",\"object\":\"job\","
                    "\"kind\":\"transcribe\",\"state\":\"succeeded\",\"priority\":\"high\","
                    "\"source\":\"talk.mp3\",\"created_at\":1700000000.123,"
                    "\"started_at\":1700000001.0,\"finished_at\":1700000009.5,\"timeout\":30,"
                    "\"duration\":12.5,\"chunks\":2,\"chunks_done\":2,\"error\":null,"
                    "\"result_url\":\"/v1/jobs/j0123456789abcdef/result\"}");
    free(b);
    j.state = STORE_FAILED;
    j.prepared = false;
    j.started_ms = 0;
    j.chunks_done = 0;
    j.error = "prepare of 'talk.mp3' failed 3 times: no audio stream";
    b = store_webhook_body(&j, "job.failed");
    ASSERT(strstr(b, "\"started_at\":null,") != NULL);
    ASSERT(strstr(b, "\"duration\":null,\"chunks\":null,\"chunks_done\":0,") != NULL);
    ASSERT(strstr(b, "\"error\":\"prepare of 'talk.mp3' failed 3 times: no audio stream\","
                     "\"result_url\":null}") != NULL);
    free(b);
}

static void test_outcome_gives_up_at_the_last_attempt(void)
{
    ASSERT_EQ(store_webhook_outcome(STORE_WEBHOOK_PENDING, 7, 8), STORE_WEBHOOK_PENDING);
    ASSERT_EQ(store_webhook_outcome(STORE_WEBHOOK_PENDING, 8, 8), STORE_WEBHOOK_FAILED);
    ASSERT_EQ(store_webhook_outcome(STORE_WEBHOOK_DELIVERED, 8, 8), STORE_WEBHOOK_DELIVERED);
    ASSERT_EQ(store_webhook_outcome(STORE_WEBHOOK_FAILED, 1, 8), STORE_WEBHOOK_FAILED);
}

int main(void)
{
    RUN(test_event_names);
    RUN(test_body_of_a_success_and_a_failure);
    RUN(test_outcome_gives_up_at_the_last_attempt);
    TEST_DONE();
}
