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

/* A partial event's data as the daemon sends it (jobs/live_kind.c). */
static char *partial_json(int chunk, int stable, const char *words)
{
    json_t *list = json_array();
    char copy[256];
    snprintf(copy, sizeof copy, "%s", words);
    for (char *w = strtok(copy, " "); w; w = strtok(NULL, " "))
        json_array_append_new(list,
                              json_pack("{s:s,s:f,s:f}", "word", w, "start", 0.0, "end", 0.1));
    char tail[256] = "";
    size_t used = 0;
    for (size_t i = (size_t)stable; i < json_array_size(list) && used < sizeof tail; i++)
        used +=
            (size_t)snprintf(tail + used, sizeof tail - used, "%s%s", used ? " " : "",
                             json_string_value(json_object_get(json_array_get(list, i), "word")));
    json_t *d = json_pack("{s:i,s:f,s:f,s:s,s:i,s:o}", "chunk", chunk, "start", 0.0, "at", 1.0,
                          "text", tail, "stable", stable, "words", list);
    char *s = json_dumps(d, JSON_COMPACT);
    json_decref(d);
    return s;
}

static bool partial(live_partial *p, int chunk, int stable, const char *words)
{
    char *s = partial_json(chunk, stable, words);
    bool changed = apply(p, "transcript.partial", s);
    free(s);
    return changed;
}

static void test_partial(void)
{
    live_partial p;
    live_partial_init(&p);
    ASSERT_STREQ(live_partial_text(&p), "");
    ASSERT(partial(&p, 0, 0, "he was"));
    ASSERT_STREQ(live_partial_text(&p), "he was");
    /* The same words again change nothing to show. */
    ASSERT(!partial(&p, 0, 0, "he was"));
    /* Words become stable: the delta that follows the partial changes
     * nothing on screen (the partial had them), so nothing blinks. */
    ASSERT(partial(&p, 0, 2, "he was not an ill"));
    ASSERT_STREQ(live_partial_text(&p), "he was not an ill");
    ASSERT(!apply(&p, "transcript.text.delta", "{\"delta\":\"he was\"}"));
    ASSERT_STREQ(live_partial_text(&p), "he was not an ill");
    /* The tail may change its mind. */
    ASSERT(partial(&p, 0, 2, "he was not an ill disposed"));
    ASSERT_STREQ(live_partial_text(&p), "he was not an ill disposed");
    /* The chunk commits with its last words as a delta; the next chunk's
     * words follow them. */
    ASSERT(!apply(&p, "transcript.text.delta", "{\"delta\":\" not an ill disposed\"}"));
    ASSERT(partial(&p, 1, 0, "young man"));
    ASSERT_STREQ(live_partial_text(&p), "he was not an ill disposed young man");
    ASSERT(partial(&p, 1, 0, "young"));
    ASSERT_STREQ(live_partial_text(&p), "he was not an ill disposed young");
    /* A chunk whose final words go further than its last partial. */
    ASSERT(apply(&p, "transcript.text.delta", "{\"delta\":\" young man unless\"}"));
    ASSERT_STREQ(live_partial_text(&p), "he was not an ill disposed young man unless");
    /* Deltas alone (no partials) are shown as they come. */
    live_partial q;
    live_partial_init(&q);
    ASSERT(apply(&q, "transcript.text.delta", "{\"delta\":\"he was\"}"));
    ASSERT(apply(&q, "transcript.text.delta", "{\"delta\":\" not\"}"));
    ASSERT_STREQ(live_partial_text(&q), "he was not");
    live_partial_release(&q);
    /* Other events and bad data change nothing. */
    ASSERT(!apply(&p, "progress", "{\"progress\":0.5}"));
    ASSERT(!apply(&p, "transcript.partial", "not json"));
    ASSERT(!apply(&p, "transcript.partial", "{\"text\":7}"));
    ASSERT(!apply(&p, "transcript.partial", NULL));
    ASSERT(!apply(&p, "transcript.text.delta", "{\"delta\":\"\"}"));
    ASSERT_STREQ(live_partial_text(&p), "he was not an ill disposed young man unless");
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
