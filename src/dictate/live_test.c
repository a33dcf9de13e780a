/* live_test.c - the pure parts of a dictation's client side: the create
 * body, the partial text an event stream builds up, the final result's
 * text, and the status line cut to a terminal's width. The HTTP side runs
 * against a real `hark serve` in tests/integration/dictate.sh. */
#include "dictate/live.h"
#include "dictate/status.h"
#include "util/test.h"

static bool apply(live_partial *p, const char *type, const char *data)
{
    return live_partial_apply(p, type, data, data ? strlen(data) : 0);
}

static void test_create_body(void)
{
    live_opts o = {0};
    json_t *b = live_create_body(&o);
    char *s = json_dumps(b, JSON_COMPACT | JSON_SORT_KEYS);
    ASSERT_STREQ(s, "{\"format\":\"s16le\"}");
    free(s);
    json_decref(b);
    o.priority = "high";
    o.name = "memo \"1\"";
    b = live_create_body(&o);
    s = json_dumps(b, JSON_COMPACT | JSON_SORT_KEYS);
    ASSERT_STREQ(s, "{\"format\":\"s16le\",\"name\":\"memo \\\"1\\\"\",\"priority\":\"high\"}");
    free(s);
    json_decref(b);
}

static void test_partial(void)
{
    live_partial p;
    live_partial_init(&p);
    ASSERT_STREQ(live_partial_text(&p), "");
    /* Deltas alone build the stable text (their own spacing). */
    ASSERT(apply(&p, "transcript.text.delta", "{\"delta\":\"he was\"}"));
    ASSERT(apply(&p, "transcript.text.delta", "{\"delta\":\" not an\"}"));
    ASSERT_STREQ(live_partial_text(&p), "he was not an");
    /* A partial is the whole text so far: it wins. */
    ASSERT(apply(&p, "transcript.partial", "{\"text\":\"he was not an ill\",\"words\":[]}"));
    ASSERT_STREQ(live_partial_text(&p), "he was not an ill");
    /* The same text again changes nothing to show. */
    ASSERT(!apply(&p, "transcript.partial", "{\"text\":\" he was not an ill \"}"));
    /* The still-changing tail may change its mind. */
    ASSERT(apply(&p, "transcript.partial", "{\"text\":\"he was not an ill disposed\"}"));
    ASSERT_STREQ(live_partial_text(&p), "he was not an ill disposed");
    /* A delta after partials does not redraw (the partial already has it). */
    ASSERT(!apply(&p, "transcript.text.delta", "{\"delta\":\" ill\"}"));
    /* Other events and bad data change nothing. */
    ASSERT(!apply(&p, "progress", "{\"progress\":0.5}"));
    ASSERT(!apply(&p, "transcript.partial", "not json"));
    ASSERT(!apply(&p, "transcript.partial", "{\"text\":7}"));
    ASSERT(!apply(&p, "transcript.partial", NULL));
    ASSERT_STREQ(live_partial_text(&p), "he was not an ill disposed");
    ASSERT(!p.final);
    ASSERT(!apply(&p, "succeeded", "{}"));
    ASSERT(p.final);
    ASSERT_STREQ(p.state, "succeeded");
    live_partial_release(&p);
    live_partial_init(&p);
    ASSERT(!apply(&p, "cancelled", NULL));
    ASSERT(p.final);
    ASSERT_STREQ(p.state, "cancelled");
    live_partial_release(&p);
}

static void test_result_text(void)
{
    json_t *r = json_pack("{s:s,s:f,s:[]}", "text", "  he was not an ill disposed young man\n",
                          "duration", 3.3, "segments");
    buf t;
    hark_err err = {0};
    ASSERT_EQ(live_result_text(r, &t, &err), 0);
    ASSERT_STREQ(t.data, "he was not an ill disposed young man");
    buf_release(&t);
    json_decref(r);
    r = json_pack("{s:s}", "text", "");
    ASSERT_EQ(live_result_text(r, &t, &err), 0);
    ASSERT_EQ(t.len, 0);
    buf_release(&t);
    json_decref(r);
    r = json_pack("{s:i}", "duration", 3);
    ASSERT_EQ(live_result_text(r, &t, &err), HARK_EIO);
    ASSERT(strstr(err.msg, "no text"));
    buf_release(&t);
    json_decref(r);
}

static void test_status_fit(void)
{
    char out[256];
    status_fit("hello world", 80, out, sizeof out);
    ASSERT_STREQ(out, "hello world");
    status_fit("hello world", 11, out, sizeof out);
    ASSERT_STREQ(out, "hello world");
    /* Too long: the tail, after an ellipsis, in exactly width columns. */
    status_fit("hello world", 8, out, sizeof out);
    ASSERT_STREQ(out, "\xe2\x80\xa6o world");
    /* Characters, not bytes: é is one column and is never cut in half. */
    status_fit("café au lait déjà", 6, out, sizeof out);
    ASSERT_STREQ(out, "\xe2\x80\xa6 déjà");
    /* Control characters cannot drive the terminal. */
    status_fit("a\x1b[2Jb\nc", 80, out, sizeof out);
    ASSERT_STREQ(out, "a [2Jb c");
    status_fit("anything", 1, out, sizeof out);
    ASSERT_STREQ(out, "");
    status_fit("", 10, out, sizeof out);
    ASSERT_STREQ(out, "");
    /* A small output buffer is never overrun, and holds whole characters. */
    char tiny[6];
    status_fit("ééééé", 80, tiny, sizeof tiny);
    ASSERT_STREQ(tiny, "éé");
}

int main(void)
{
    RUN(test_create_body);
    RUN(test_partial);
    RUN(test_result_text);
    RUN(test_status_fit);
    TEST_DONE();
}
