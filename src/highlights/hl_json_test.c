#include "highlights/hl_json.h"
#include "highlights/hl_render.h"

#include "util/test.h"

/* A result built by hand: two highlights, dead air, three chapters. */
static void sample(hl_result *r, double duration)
{
    memset(r, 0, sizeof *r);
    r->source = strdup("/videos/My Stream|1.mkv");
    r->duration = duration;
    r->n = 2;
    r->h = calloc(2, sizeof *r->h);
    r->h[0] =
        (hl_highlight){2, 12.3456, 25.0004, 20.1, 7.12345, NULL, 0, strdup("let's go what a shot")};
    r->h[0].reasons = calloc(2, sizeof(char *));
    r->h[0].reasons[0] = strdup("keyword \"let's go\"");
    r->h[0].reasons[1] = strdup("crowd noise");
    r->h[0].n_reasons = 2;
    r->h[1] = (hl_highlight){1, 3700.5, 3713.25, 3708.0, 15.5, NULL, 0, strdup("")};
    r->h[1].reasons = calloc(1, sizeof(char *));
    r->h[1].reasons[0] = strdup("loudness +6.1 LU over baseline");
    r->h[1].n_reasons = 1;
    r->n_dead = 1;
    r->dead_air = calloc(1, sizeof *r->dead_air);
    r->dead_air[0] = (hl_span){100.0, 161.25};
    r->n_chapters = 3;
    r->chapters = calloc(3, sizeof *r->chapters);
    r->chapters[0] = (hl_chapter){0, strdup("Elinor and Marianne")};
    r->chapters[1] = (hl_chapter){605, strdup("Ship, Storm and \"Captain\"")};
    r->chapters[2] = (hl_chapter){3725, strdup("Part 3")};
}

static char *render(int (*fn)(const hl_result *, buf *, hark_err *), const hl_result *r)
{
    buf b;
    buf_init(&b, 1 << 20);
    hark_err err = {0};
    ASSERT_EQ(fn(r, &b, &err), 0);
    char *s = buf_steal(&b);
    buf_release(&b);
    return s;
}

static void test_golden(void)
{
    hl_result r;
    sample(&r, 3800.0);
    char *s = render(hl_render_highlights, &r);
    ASSERT_STREQ(s, "{\n"
                    "  \"source\": \"/videos/My Stream|1.mkv\",\n"
                    "  \"duration\": 3800.0,\n"
                    "  \"highlights\": [\n"
                    "    {\n"
                    "      \"rank\": 2,\n"
                    "      \"start\": 12.346,\n"
                    "      \"end\": 25.0,\n"
                    "      \"peak\": 20.1,\n"
                    "      \"score\": 7.123,\n"
                    "      \"reasons\": [\n"
                    "        \"keyword \\\"let's go\\\"\",\n"
                    "        \"crowd noise\"\n"
                    "      ],\n"
                    "      \"text\": \"let's go what a shot\"\n"
                    "    },\n"
                    "    {\n"
                    "      \"rank\": 1,\n"
                    "      \"start\": 3700.5,\n"
                    "      \"end\": 3713.25,\n"
                    "      \"peak\": 3708.0,\n"
                    "      \"score\": 15.5,\n"
                    "      \"reasons\": [\n"
                    "        \"loudness +6.1 LU over baseline\"\n"
                    "      ],\n"
                    "      \"text\": \"\"\n"
                    "    }\n"
                    "  ],\n"
                    "  \"dead_air\": [\n"
                    "    {\n"
                    "      \"start\": 100.0,\n"
                    "      \"end\": 161.25\n"
                    "    }\n"
                    "  ]\n"
                    "}\n");
    free(s);

    s = render(hl_render_chapters_txt, &r);
    ASSERT_STREQ(s, "0:00 Elinor and Marianne\n"
                    "10:05 Ship, Storm and \"Captain\"\n"
                    "1:02:05 Part 3\n");
    free(s);

    s = render(hl_render_chapters_json, &r);
    ASSERT_STREQ(s, "{\n"
                    "  \"version\": \"1.2.0\",\n"
                    "  \"chapters\": [\n"
                    "    {\n"
                    "      \"startTime\": 0,\n"
                    "      \"title\": \"Elinor and Marianne\"\n"
                    "    },\n"
                    "    {\n"
                    "      \"startTime\": 605,\n"
                    "      \"title\": \"Ship, Storm and \\\"Captain\\\"\"\n"
                    "    },\n"
                    "    {\n"
                    "      \"startTime\": 3725,\n"
                    "      \"title\": \"Part 3\"\n"
                    "    }\n"
                    "  ]\n"
                    "}\n");
    free(s);

    s = render(hl_render_edl, &r);
    ASSERT_STREQ(s, "TITLE: My Stream/1.mkv\n"
                    "FCM: NON-DROP FRAME\n"
                    "\n"
                    "001  001      V     C        01:00:12:10 01:00:25:00 01:00:12:10 01:00:25:00\n"
                    "keyword \"let's go\"; crowd noise |C:ResolveColorBlue |M:Highlight 2 |D:380\n"
                    "* FROM CLIP NAME: My Stream/1.mkv\n"
                    "\n"
                    "002  001      V     C        02:01:40:15 02:01:53:08 02:01:40:15 02:01:53:08\n"
                    "loudness +6.1 LU over baseline |C:ResolveColorBlue |M:Highlight 1 |D:383\n"
                    "* FROM CLIP NAME: My Stream/1.mkv\n"
                    "\n");
    free(s);
    hl_result_release(&r);

    /* a short recording: one chapter, and the file says why */
    hl_result one = {.duration = 12.5};
    one.n_chapters = 1;
    one.chapters = calloc(1, sizeof *one.chapters);
    one.chapters[0] = (hl_chapter){0, strdup("Part 1")};
    s = render(hl_render_chapters_txt, &one);
    ASSERT_STREQ(s, "0:00 Part 1\n# shorter than 30 s: YouTube shows chapters only for videos of "
                    "30 s or more, with at least 3 chapters of 10 s\n");
    free(s);
    s = render(hl_render_edl, &one);
    ASSERT_STREQ(s, "TITLE: recording\nFCM: NON-DROP FRAME\n\n");
    free(s);
    hl_result_release(&one);
}

/* Every EDL line matches the CMX 3600 grammar this file writes. */
static void test_edl_grammar(void)
{
    hl_result r;
    sample(&r, 3800.0);
    free(r.h[0].reasons[0]);
    r.h[0].reasons[0] = strdup("bad|pipe\nand line");
    char *s = render(hl_render_edl, &r);
    int events = 0;
    for (char *line = strtok(s, "\n"); line; line = strtok(NULL, "\n")) {
        int n, h1, m1, s1, f1, h2, m2, s2, f2, h3, m3, s3, f3, h4, m4, s4, f4, used = 0;
        if (strncmp(line, "TITLE: ", 7) == 0 || strcmp(line, "FCM: NON-DROP FRAME") == 0 ||
            strncmp(line, "* FROM CLIP NAME: ", 18) == 0)
            continue;
        if (sscanf(line,
                   "%3d  001      V     C        %2d:%2d:%2d:%2d %2d:%2d:%2d:%2d %2d:%2d:%2d:%2d "
                   "%2d:%2d:%2d:%2d%n",
                   &n, &h1, &m1, &s1, &f1, &h2, &m2, &s2, &f2, &h3, &m3, &s3, &f3, &h4, &m4, &s4,
                   &f4, &used) == 17 &&
            line[used] == '\0') {
            ASSERT(f1 < 30 && f2 < 30 && f3 < 30 && f4 < 30 && m1 < 60 && s1 < 60);
            ASSERT(h3 == h1 && m3 == m1 && s3 == s1 && f3 == f1); /* source = record */
            events++;
            continue;
        }
        const char *c = strstr(line, " |C:ResolveColorBlue |M:Highlight ");
        ASSERT(c);
        ASSERT(strchr(line, '|') == c + 1); /* the note holds no '|' */
        int rank, d;
        ASSERT_EQ(sscanf(c, " |C:ResolveColorBlue |M:Highlight %d |D:%d%n", &rank, &d, &used), 2);
        ASSERT(c[used] == '\0' && d > 0);
    }
    ASSERT_EQ(events, 2);
    free(s);
    hl_result_release(&r);
}

static char *dumps(const json_t *j)
{
    return json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(15));
}

/* to_json, from_json, to_json: the same document. */
static void test_round_trip(void)
{
    hl_result r, back;
    sample(&r, 3800.0);
    hark_err err = {0};
    json_t *j = hl_result_to_json(&r);
    ASSERT(j);
    char *a = dumps(j);
    json_t *parsed = json_loads(a, 0, NULL);
    ASSERT(parsed);
    ASSERT_EQ(hl_result_from_json(parsed, &back, &err), 0);
    json_t *j2 = hl_result_to_json(&back);
    char *b = dumps(j2);
    ASSERT_STREQ(a, b);
    ASSERT_EQ(back.n, 2);
    ASSERT_EQ(back.h[1].rank, 1);
    ASSERT_STREQ(back.h[0].reasons[1], "crowd noise");
    ASSERT_EQ(back.n_chapters, 3);
    ASSERT_STREQ(back.chapters[1].title, "Ship, Storm and \"Captain\"");
    free(a);
    free(b);
    json_decref(j);
    json_decref(j2);
    json_decref(parsed);
    hl_result_release(&back);

    /* invalid UTF-8 from a transcript is repaired, not lost */
    free(r.h[0].text);
    r.h[0].text = strdup("caf\xc3 ok");
    j = hl_result_to_json(&r);
    ASSERT(j);
    ASSERT_STREQ(json_string_value(
                     json_object_get(json_array_get(json_object_get(j, "highlights"), 0), "text")),
                 "caf\xEF\xBF\xBD ok");
    json_decref(j);
    hl_result_release(&r);
}

static void expect_bad(const char *text, const char *want)
{
    json_error_t je;
    json_t *j = json_loads(text, JSON_ALLOW_NUL, &je);
    if (!j)
        TEST_FAIL_("test document does not parse: %s: %s", text, je.text);
    hl_result r;
    hark_err err = {0};
    int rc = hl_result_from_json(j, &r, &err);
    json_decref(j);
    if (rc != HARK_EINVAL || !strstr(err.msg, want))
        TEST_FAIL_("%s: rc %d '%s', wanted '%s'", text, rc, err.msg, want);
    ASSERT(r.h == NULL && r.n == 0 && r.source == NULL);
}

#define HEAD "{\"source\":\"x\",\"duration\":100,"
#define H(body) HEAD "\"dead_air\":[],\"highlights\":[" body "]}"
#define H1                                                                                         \
    "{\"rank\":1,\"start\":1,\"end\":9,\"peak\":5,\"score\":3,\"reasons\":[\"a\"],\"text\":\"\"}"

static void test_hostile(void)
{
    expect_bad("[]", "not a JSON object");
    expect_bad("{\"duration\":1,\"highlights\":[],\"dead_air\":[]}", "bad \"source\"");
    expect_bad("{\"source\":7,\"duration\":1,\"highlights\":[],\"dead_air\":[]}", "\"source\"");
    expect_bad("{\"source\":\"a\\u0000b\",\"duration\":1,\"highlights\":[],\"dead_air\":[]}",
               "\"source\"");
    expect_bad("{\"source\":\"x\",\"duration\":-1,\"highlights\":[],\"dead_air\":[]}",
               "\"duration\"");
    expect_bad("{\"source\":\"x\",\"duration\":1e300,\"highlights\":[],\"dead_air\":[]}",
               "\"duration\"");
    expect_bad("{\"source\":\"x\",\"duration\":\"5\",\"highlights\":[],\"dead_air\":[]}",
               "\"duration\"");
    expect_bad(HEAD "\"highlights\":{},\"dead_air\":[]}", "\"highlights\" is not an array");
    expect_bad(HEAD "\"highlights\":[],\"dead_air\":7}", "\"dead_air\"");
    expect_bad(H("7"), "highlight 0 is not an object");
    expect_bad(H("{\"rank\":0}"), "bad \"rank\"");
    expect_bad(H("{\"rank\":1.5}"), "bad \"rank\"");
    expect_bad(H("{\"rank\":1,\"start\":5,\"end\":9,\"peak\":4,\"score\":3,\"reasons\":[],"
                 "\"text\":\"\"}"),
               "\"peak\"");
    expect_bad(H("{\"rank\":1,\"start\":5,\"end\":900,\"peak\":6,\"score\":3,\"reasons\":[],"
                 "\"text\":\"\"}"),
               "\"end\"");
    expect_bad(H("{\"rank\":1,\"start\":1,\"end\":9,\"peak\":5,\"score\":1e9,\"reasons\":[],"
                 "\"text\":\"\"}"),
               "\"score\"");
    expect_bad(H("{\"rank\":1,\"start\":1,\"end\":9,\"peak\":5,\"score\":3,\"reasons\":[3],"
                 "\"text\":\"\"}"),
               "reason 0 is not a short string");
    expect_bad(H("{\"rank\":1,\"start\":1,\"end\":9,\"peak\":5,\"score\":3,\"reasons\":[\"a\\nb\"],"
                 "\"text\":\"\"}"),
               "reason 0");
    expect_bad(H("{\"rank\":1,\"start\":1,\"end\":9,\"peak\":5,\"score\":3,\"reasons\":[],"
                 "\"text\":null}"),
               "bad \"text\"");
    expect_bad(H(H1 "," H1), "rank 1 repeated");
    expect_bad(H("{\"rank\":2,\"start\":1,\"end\":9,\"peak\":5,\"score\":3,\"reasons\":[],"
                 "\"text\":\"\"}"),
               "rank 2 repeated or above 1");
    expect_bad(HEAD "\"highlights\":[],\"dead_air\":[{\"start\":5,\"end\":4}]}", "dead air 0");
    expect_bad(HEAD
               "\"highlights\":[],\"dead_air\":[],\"chapters\":[{\"start\":1,\"title\":\"a\"}]}",
               "chapter 0: bad \"start\"");
    expect_bad(HEAD "\"highlights\":[],\"dead_air\":[],\"chapters\":[{\"start\":0,\"title\":\"a\"},"
                    "{\"start\":0,\"title\":\"b\"}]}",
               "chapter 1: bad \"start\"");
    expect_bad(HEAD
               "\"highlights\":[],\"dead_air\":[],\"chapters\":[{\"start\":0,\"title\":\"\"}]}",
               "chapter 0: bad \"title\"");

    /* huge arrays: refused by count before anything is allocated per item */
    buf b;
    buf_init(&b, 8 << 20);
    ASSERT_EQ(buf_puts(&b, H("")), 0);
    b.len -= 2;
    for (int i = 0; i < 101; i++)
        ASSERT_EQ(buf_puts(&b, i ? "," H1 : H1), 0);
    ASSERT_EQ(buf_puts(&b, "]}"), 0);
    expect_bad(b.data, "\"highlights\" is not an array of at most 100");
    buf_reset(&b);
    ASSERT_EQ(buf_puts(&b, HEAD "\"highlights\":[],\"dead_air\":["), 0);
    for (int i = 0; i < 10001; i++)
        ASSERT_EQ(buf_puts(&b, i ? ",{\"start\":1,\"end\":2}" : "{\"start\":1,\"end\":2}"), 0);
    ASSERT_EQ(buf_puts(&b, "]}"), 0);
    expect_bad(b.data, "\"dead_air\" is not an array of at most 10000");
    buf_release(&b);

    /* NaN and infinities cannot come through JSON text, but a caller may
     * build the document in memory */
    json_t *j = json_loads(H(H1), 0, NULL);
    ASSERT(j);
    json_object_set_new(json_array_get(json_object_get(j, "highlights"), 0), "score",
                        json_real(NAN));
    hl_result r;
    hark_err err = {0};
    if (json_is_real(json_object_get(json_array_get(json_object_get(j, "highlights"), 0), "score")))
        ASSERT_EQ(hl_result_from_json(j, &r, &err), HARK_EINVAL);
    json_decref(j);
    /* a good minimal one */
    j = json_loads(H(H1), 0, NULL);
    ASSERT_EQ(hl_result_from_json(j, &r, &err), 0);
    ASSERT_EQ(r.n, 1);
    ASSERT_EQ(r.n_chapters, 0);
    hl_result_release(&r);
    json_decref(j);
}

/* Formats by name, and hl_render renders what the named function does. */
static void test_formats(void)
{
    static const char *const names[] = {"highlights", "chapters", "chapters_json", "edl"};
    hl_result r;
    sample(&r, 3800.0);
    for (int i = 0; i < 4; i++) {
        hl_format f;
        ASSERT_EQ(hl_format_parse(names[i], &f), 0);
        ASSERT_STREQ(hl_format_name(f), names[i]);
        buf a, b;
        buf_init(&a, 1 << 20);
        buf_init(&b, 1 << 20);
        hark_err err = {0};
        ASSERT_EQ(hl_render(&r, f, &a, &err), 0);
        static int (*const fns[])(const hl_result *, buf *, hark_err *) = {
            hl_render_highlights, hl_render_chapters_txt, hl_render_chapters_json, hl_render_edl};
        ASSERT_EQ(fns[i](&r, &b, &err), 0);
        ASSERT_STREQ(a.data, b.data);
        buf_release(&a);
        buf_release(&b);
    }
    hl_format f;
    ASSERT_EQ(hl_format_parse("txt", &f), HARK_EINVAL);
    ASSERT_EQ(hl_format_parse(NULL, &f), HARK_EINVAL);
    ASSERT_STREQ(hl_format_ext(HL_FMT_HIGHLIGHTS), "highlights.json");
    ASSERT_STREQ(hl_format_ext(HL_FMT_EDL), "edl");
    ASSERT_STREQ(hl_format_mime(HL_FMT_CHAPTERS), "text/plain; charset=utf-8");
    /* a cap too small is a clear error, not a cut file */
    buf tiny;
    buf_init(&tiny, 16);
    hark_err err = {0};
    ASSERT_EQ(hl_render(&r, HL_FMT_EDL, &tiny, &err), HARK_ENOMEM);
    ASSERT(strstr(err.msg, "too large"));
    buf_release(&tiny);
    hl_result_release(&r);
}

int main(void)
{
    RUN(test_formats);
    RUN(test_golden);
    RUN(test_edl_grammar);
    RUN(test_round_trip);
    RUN(test_hostile);
    TEST_DONE();
}
