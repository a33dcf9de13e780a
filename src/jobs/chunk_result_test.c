#include "jobs/chunk_result.h"
#include "util/test.h"

static void make_result(asr_result *r)
{
    memset(r, 0, sizeof *r);
    ASSERT_EQ(asr_result_add_word(r, "hello", 5, 1.25, 1.5, 0.75f), 0);
    ASSERT_EQ(asr_result_add_word(r, "wor\"ld\\", 7, 1.5, 2.0, 1.0f), 0);
}

static void test_words_round_trip_exactly(void)
{
    asr_result r, back;
    make_result(&r);
    char *text = chunk_result_dumps(&r);
    ASSERT(text != NULL);
    hark_err err = {0};
    ASSERT_EQ(chunk_result_loads(text, &back, &err), 0);
    ASSERT_EQ(back.n_words, 2);
    ASSERT_STREQ(back.words[1].text, "wor\"ld\\");
    ASSERT(back.words[0].start_s == 1.25 && back.words[1].end_s == 2.0);
    ASSERT(back.words[0].confidence == 0.75f);
    /* Re-encoding gives the same bytes: what the store keeps is stable. */
    char *again = chunk_result_dumps(&back);
    ASSERT_STREQ(text, again);
    free(text);
    free(again);
    asr_result_release(&r);
    asr_result_release(&back);
}

/* The other kinds' results: words inside an object, or none at all for a
 * task that heard nothing (an analysis of the audio alone, an export). */
static void test_results_of_other_kinds(void)
{
    asr_result r;
    hark_err err = {0};
    ASSERT_EQ(chunk_result_loads("{\"words\": [[\"a\", 1, 2, 0.5]], \"features\": {}}", &r, &err),
              0);
    ASSERT_EQ(r.n_words, 1);
    asr_result_release(&r);
    ASSERT_EQ(chunk_result_loads("{\"features\": {}}", &r, &err), 0);
    ASSERT_EQ(r.n_words, 0);
    ASSERT_EQ(chunk_result_loads("{\"artifact\": {}}", &r, &err), 0);
    ASSERT_EQ(r.n_words, 0);
    ASSERT_EQ(chunk_result_loads("{\"other\": 1}", &r, &err), HARK_EINVAL);
}

static void test_empty_result(void)
{
    asr_result r = {0}, back;
    char *text = chunk_result_dumps(&r);
    ASSERT_STREQ(text, "[]");
    ASSERT_EQ(chunk_result_loads(text, &back, NULL), 0);
    ASSERT_EQ(back.n_words, 0);
    free(text);
}

static void test_malformed_results_are_refused(void)
{
    const char *bad[] = {
        "",
        "{}",
        "[[\"a\", 1, 2]]",
        "[[\"a\", 1, 2, 0.5, 9]]",
        "[[1, 1, 2, 0.5]]",
        "[[\"\", 1, 2, 0.5]]",
        "[[\"a\", -1, 2, 0.5]]",
        "[[\"a\", 2, 1, 0.5]]",
        "[[\"a\", 1, 2, 1.5]]",
        "[[\"a\", 1, 2, \"x\"]]",
        "[[\"a\", 1, 2, 0.5], [\"b\", 0.5, 3, 0.5]]",
        "[[\"a\", 1e999, 2, 0.5]]",
        "[[\"a\", 1, 2, 0.5]] trailing",
        "{\"words\": [[\"a\", 2, 1, 0.5]], \"features\": {}}",
        "{\"words\": {}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        asr_result r;
        hark_err err = {0};
        if (chunk_result_loads(bad[i], &r, &err) != HARK_EINVAL)
            TEST_FAIL_("accepted: %s", bad[i]);
        ASSERT(strstr(err.msg, "malformed chunk result") != NULL);
        ASSERT_EQ(r.n_words, 0);
        ASSERT(r.words == NULL);
    }
}

static void test_plan_round_trip_and_validation(void)
{
    chunk c[] = {{0, 100}, {100, 250}, {300, 400}};
    chunk_plan p = {c, 3, 500}, back;
    json_t *j = chunk_plan_to_json(&p);
    ASSERT(j != NULL);
    ASSERT_EQ(chunk_plan_from_json(j, &back, NULL), 0);
    ASSERT_EQ(back.n, 3);
    ASSERT_EQ(back.total_samples, 500);
    ASSERT_EQ(back.chunks[2].start, 300);
    ASSERT_EQ(back.chunks[2].end, 400);
    chunk_plan_release(&back);
    json_decref(j);
    const char *bad[] = {
        "{\"total\": 500}",
        "{\"total\": -1, \"chunks\": []}",
        "{\"total\": 500, \"chunks\": [[0, 600]]}",
        "{\"total\": 500, \"chunks\": [[0, 100], [50, 150]]}",
        "{\"total\": 500, \"chunks\": [[10, 10]]}",
        "{\"total\": 500, \"chunks\": [[0]]}",
        "{\"total\": 500, \"chunks\": [[0, 1.5]]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *b = json_loads(bad[i], 0, NULL);
        ASSERT(b != NULL);
        hark_err err = {0};
        if (chunk_plan_from_json(b, &back, &err) != HARK_EINVAL)
            TEST_FAIL_("accepted: %s", bad[i]);
        ASSERT(strstr(err.msg, "malformed chunk plan") != NULL);
        json_decref(b);
    }
}

int main(void)
{
    RUN(test_words_round_trip_exactly);
    RUN(test_empty_result);
    RUN(test_results_of_other_kinds);
    RUN(test_malformed_results_are_refused);
    RUN(test_plan_round_trip_and_validation);
    TEST_DONE();
}
