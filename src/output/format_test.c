#include "output/format.h"

#include "util/test.h"

#include <jansson.h>

/* ---- helpers --------------------------------------------------------------- */

/* The fixed sample: two segments split by a 1.1 s pause.
 *   "Hello world" 0.000-1.000 (confidence 0.9, 0.8)   "again" 2.100-2.600 */
static void sample(transcript *t)
{
    ASSERT_EQ(transcript_init(t, "talk.mp3", 5.25), 0);
    ASSERT_EQ(transcript_add_word(t, "Hello", 0.0, 0.42, 0.9f, 0), 0);
    ASSERT_EQ(transcript_add_word(t, "world", 0.5, 1.0, 0.8f, 0), 0);
    ASSERT_EQ(transcript_add_word(t, "again", 2.1, 2.6, 1.0f, 0), 0);
    ASSERT_EQ(transcript_finish(t), 0);
    ASSERT_EQ(t->n_segments, 2);
}

static void empty(transcript *t)
{
    ASSERT_EQ(transcript_init(t, "silence.wav", 3.0), 0);
    ASSERT_EQ(transcript_finish(t), 0);
}

/* One word (so one segment) with the given text and times. */
static void one_word(transcript *t, const char *text, double start, double end)
{
    ASSERT_EQ(transcript_init(t, "x.wav", end), 0);
    ASSERT_EQ(transcript_add_word(t, text, start, end, 0.5f, 0), 0);
    ASSERT_EQ(transcript_finish(t), 0);
}

/* Render t as f; returns a malloc'ed string the caller frees. */
static char *render(const transcript *t, out_format f)
{
    buf b;
    hark_err err;
    err_clear(&err);
    buf_init(&b, 1 << 20);
    int rc = out_render(t, f, &b, &err);
    if (rc)
        TEST_FAIL_("out_render(%s) = %d: %s", out_format_name(f), rc, err.msg);
    char *s = buf_steal(&b);
    ASSERT(s != NULL);
    return s;
}

static void expect_render(const transcript *t, out_format f, const char *want)
{
    char *got = render(t, f);
    ASSERT_STREQ(got, want);
    free(got);
}

/* The SRT timing line of a one-word transcript spanning start..end. */
static void expect_srt_times(double start, double end, const char *want_line)
{
    transcript t;
    one_word(&t, "w", start, end);
    char *got = render(&t, FMT_SRT);
    char want[256];
    snprintf(want, sizeof want, "1\n%s\nw\n\n", want_line);
    ASSERT_STREQ(got, want);
    free(got);
    transcript_release(&t);
}

static void expect_vtt_times(double start, double end, const char *want_line)
{
    transcript t;
    one_word(&t, "w", start, end);
    char *got = render(&t, FMT_VTT);
    char want[256];
    snprintf(want, sizeof want, "WEBVTT\n\n%s\nw\n\n", want_line);
    ASSERT_STREQ(got, want);
    free(got);
    transcript_release(&t);
}

static json_t *parse(const char *text)
{
    json_error_t jerr;
    json_t *j = json_loads(text, 0, &jerr);
    if (!j)
        TEST_FAIL_("output is not JSON: %s (line %d)\n%s", jerr.text, jerr.line, text);
    return j;
}

static const char *jget_str(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v))
        TEST_FAIL_("key '%s' missing or not a string", key);
    return json_string_value(v);
}

static double jget_num(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_number(v))
        TEST_FAIL_("key '%s' missing or not a number", key);
    return json_number_value(v);
}

/* ---- format names ------------------------------------------------------------ */

static void test_parse_names(void)
{
    out_format f;
    const char *names[] = {"txt", "json", "srt", "vtt", "tsv", "verbose_json"};
    for (int i = 0; i < FMT_COUNT; i++) {
        ASSERT_EQ(out_format_parse(names[i], &f), 0);
        ASSERT_EQ(f, i);
        ASSERT_STREQ(out_format_name(f), names[i]);
    }
    ASSERT_EQ(out_format_parse("text", &f), 0);
    ASSERT_EQ(f, FMT_TXT);
    ASSERT_EQ(out_format_parse("TXT", &f), HARK_EINVAL);
    ASSERT_EQ(out_format_parse("", &f), HARK_EINVAL);
    ASSERT_EQ(out_format_parse("verbose", &f), HARK_EINVAL);
    ASSERT_EQ(out_format_parse("json ", &f), HARK_EINVAL);

    ASSERT_STREQ(out_format_ext(FMT_TXT), "txt");
    ASSERT_STREQ(out_format_ext(FMT_JSON), "json");
    ASSERT_STREQ(out_format_ext(FMT_SRT), "srt");
    ASSERT_STREQ(out_format_ext(FMT_VTT), "vtt");
    ASSERT_STREQ(out_format_ext(FMT_TSV), "tsv");
    ASSERT_STREQ(out_format_ext(FMT_VERBOSE_JSON), "verbose.json");
}

static void test_parse_list(void)
{
    unsigned set = 0;
    hark_err err;
    err_clear(&err);
    ASSERT_EQ(out_format_parse_list("txt,json,srt", &set, &err), 0);
    ASSERT_EQ(set, (1u << FMT_TXT) | (1u << FMT_JSON) | (1u << FMT_SRT));
    ASSERT_EQ(out_format_parse_list("verbose_json", &set, &err), 0);
    ASSERT_EQ(set, 1u << FMT_VERBOSE_JSON);
    ASSERT_EQ(out_format_parse_list("text,txt", &set, &err), 0);
    ASSERT_EQ(set, 1u << FMT_TXT);
    ASSERT_EQ(out_format_parse_list("vtt, tsv", &set, &err), 0);
    ASSERT_EQ(set, (1u << FMT_VTT) | (1u << FMT_TSV));
    ASSERT_EQ(out_format_parse_list("txt,json,srt,vtt,tsv,verbose_json", &set, &err), 0);
    ASSERT_EQ(set, (1u << FMT_COUNT) - 1);
}

static void test_parse_list_errors(void)
{
    unsigned set = 12345;
    hark_err err;
    err_clear(&err);
    ASSERT_EQ(out_format_parse_list("txt,xyz", &set, &err), HARK_EINVAL);
    ASSERT_EQ(err.code, HARK_EINVAL);
    ASSERT_STREQ(
        err.msg,
        "unknown output format 'xyz' (choose from txt, json, srt, vtt, tsv, verbose_json)");
    ASSERT_EQ(set, 12345); /* untouched on error */

    ASSERT_EQ(out_format_parse_list("SRT", &set, &err), HARK_EINVAL);
    ASSERT(strstr(err.msg, "'SRT'") != NULL);

    err_clear(&err);
    ASSERT_EQ(out_format_parse_list("", &set, &err), HARK_EINVAL);
    ASSERT(strstr(err.msg, "choose from") != NULL);
    err_clear(&err);
    ASSERT_EQ(out_format_parse_list("txt,,srt", &set, &err), HARK_EINVAL);
    ASSERT(strstr(err.msg, "empty output format") != NULL);
    ASSERT_EQ(out_format_parse_list("txt,", &set, &err), HARK_EINVAL);
    ASSERT_EQ(out_format_parse_list(",txt", &set, &err), HARK_EINVAL);
    ASSERT_EQ(out_format_parse_list(" ", &set, &err), HARK_EINVAL);

    /* A long bad name is quoted (shortened) rather than overflowing. */
    char big[300];
    memset(big, 'q', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    ASSERT_EQ(out_format_parse_list(big, &set, &err), HARK_EINVAL);
    ASSERT(strstr(err.msg, "unknown output format 'qqqq") != NULL);
    ASSERT_EQ(set, 12345);
}

/* ---- golden renderings of the sample --------------------------------------- */

static void test_golden_txt(void)
{
    transcript t;
    sample(&t);
    expect_render(&t, FMT_TXT, "Hello world\nagain\n");
    transcript_release(&t);
}

static void test_golden_srt(void)
{
    transcript t;
    sample(&t);
    expect_render(&t, FMT_SRT,
                  "1\n"
                  "00:00:00,000 --> 00:00:01,000\n"
                  "Hello world\n"
                  "\n"
                  "2\n"
                  "00:00:02,100 --> 00:00:02,600\n"
                  "again\n"
                  "\n");
    transcript_release(&t);
}

static void test_golden_vtt(void)
{
    transcript t;
    sample(&t);
    expect_render(&t, FMT_VTT,
                  "WEBVTT\n"
                  "\n"
                  "00:00:00.000 --> 00:00:01.000\n"
                  "Hello world\n"
                  "\n"
                  "00:00:02.100 --> 00:00:02.600\n"
                  "again\n"
                  "\n");
    transcript_release(&t);
}

static void test_golden_tsv(void)
{
    transcript t;
    sample(&t);
    expect_render(&t, FMT_TSV,
                  "start\tend\ttext\n"
                  "0\t1000\tHello world\n"
                  "2100\t2600\tagain\n");
    transcript_release(&t);
}

static void test_golden_json(void)
{
    transcript t;
    sample(&t);
    expect_render(&t, FMT_JSON,
                  "{\n"
                  "  \"source\": \"talk.mp3\",\n"
                  "  \"duration\": 5.25,\n"
                  "  \"language\": \"en\",\n"
                  "  \"text\": \"Hello world again\",\n"
                  "  \"segments\": [\n"
                  "    {\n"
                  "      \"id\": 0,\n"
                  "      \"start\": 0.0,\n"
                  "      \"end\": 1.0,\n"
                  "      \"text\": \"Hello world\",\n"
                  "      \"confidence\": 0.85,\n"
                  "      \"words\": [\n"
                  "        {\n"
                  "          \"word\": \"Hello\",\n"
                  "          \"start\": 0.0,\n"
                  "          \"end\": 0.42,\n"
                  "          \"confidence\": 0.9\n"
                  "        },\n"
                  "        {\n"
                  "          \"word\": \"world\",\n"
                  "          \"start\": 0.5,\n"
                  "          \"end\": 1.0,\n"
                  "          \"confidence\": 0.8\n"
                  "        }\n"
                  "      ]\n"
                  "    },\n"
                  "    {\n"
                  "      \"id\": 1,\n"
                  "      \"start\": 2.1,\n"
                  "      \"end\": 2.6,\n"
                  "      \"text\": \"again\",\n"
                  "      \"confidence\": 1.0,\n"
                  "      \"words\": [\n"
                  "        {\n"
                  "          \"word\": \"again\",\n"
                  "          \"start\": 2.1,\n"
                  "          \"end\": 2.6,\n"
                  "          \"confidence\": 1.0\n"
                  "        }\n"
                  "      ]\n"
                  "    }\n"
                  "  ]\n"
                  "}\n");
    transcript_release(&t);
}

static void test_golden_verbose_json(void)
{
    transcript t;
    sample(&t);
    /* avg_logprob: ln(0.85) = -0.1625 -> -0.163; ln(1) = 0. */
    expect_render(&t, FMT_VERBOSE_JSON,
                  "{\n"
                  "  \"task\": \"transcribe\",\n"
                  "  \"language\": \"english\",\n"
                  "  \"duration\": 5.25,\n"
                  "  \"text\": \"Hello world again\",\n"
                  "  \"segments\": [\n"
                  "    {\n"
                  "      \"id\": 0,\n"
                  "      \"seek\": 0,\n"
                  "      \"start\": 0.0,\n"
                  "      \"end\": 1.0,\n"
                  "      \"text\": \" Hello world\",\n"
                  "      \"tokens\": [],\n"
                  "      \"temperature\": 0.0,\n"
                  "      \"avg_logprob\": -0.163,\n"
                  "      \"compression_ratio\": 1.0,\n"
                  "      \"no_speech_prob\": 0.0\n"
                  "    },\n"
                  "    {\n"
                  "      \"id\": 1,\n"
                  "      \"seek\": 0,\n"
                  "      \"start\": 2.1,\n"
                  "      \"end\": 2.6,\n"
                  "      \"text\": \" again\",\n"
                  "      \"tokens\": [],\n"
                  "      \"temperature\": 0.0,\n"
                  "      \"avg_logprob\": 0.0,\n"
                  "      \"compression_ratio\": 1.0,\n"
                  "      \"no_speech_prob\": 0.0\n"
                  "    }\n"
                  "  ],\n"
                  "  \"words\": [\n"
                  "    {\n"
                  "      \"word\": \"Hello\",\n"
                  "      \"start\": 0.0,\n"
                  "      \"end\": 0.42\n"
                  "    },\n"
                  "    {\n"
                  "      \"word\": \"world\",\n"
                  "      \"start\": 0.5,\n"
                  "      \"end\": 1.0\n"
                  "    },\n"
                  "    {\n"
                  "      \"word\": \"again\",\n"
                  "      \"start\": 2.1,\n"
                  "      \"end\": 2.6\n"
                  "    }\n"
                  "  ]\n"
                  "}\n");
    transcript_release(&t);
}

/* ---- empty transcripts ------------------------------------------------------ */

static void test_empty_all_formats(void)
{
    transcript t;
    empty(&t);
    expect_render(&t, FMT_TXT, "");
    expect_render(&t, FMT_SRT, "");
    expect_render(&t, FMT_VTT, "WEBVTT\n\n");
    expect_render(&t, FMT_TSV, "start\tend\ttext\n");
    expect_render(&t, FMT_JSON,
                  "{\n"
                  "  \"source\": \"silence.wav\",\n"
                  "  \"duration\": 3.0,\n"
                  "  \"language\": \"en\",\n"
                  "  \"text\": \"\",\n"
                  "  \"segments\": []\n"
                  "}\n");
    expect_render(&t, FMT_VERBOSE_JSON,
                  "{\n"
                  "  \"task\": \"transcribe\",\n"
                  "  \"language\": \"english\",\n"
                  "  \"duration\": 3.0,\n"
                  "  \"text\": \"\",\n"
                  "  \"segments\": [],\n"
                  "  \"words\": []\n"
                  "}\n");
    transcript_release(&t);
}

/* ---- timestamps ---------------------------------------------------------------- */

static void test_timestamps(void)
{
    expect_srt_times(0.0, 0.0, "00:00:00,000 --> 00:00:00,000");
    expect_srt_times(0.0004, 0.0005, "00:00:00,000 --> 00:00:00,001");
    /* Halves round away from zero: 1.0005 * 1000 is exactly 1000.5 in double. */
    expect_srt_times(1.0004, 1.0005, "00:00:01,000 --> 00:00:01,001");
    /* Rounding carries into the seconds, minutes and hours fields. */
    expect_srt_times(59.9994, 59.9995, "00:00:59,999 --> 00:01:00,000");
    expect_srt_times(3599.999, 3599.9995, "00:59:59,999 --> 01:00:00,000");
    expect_srt_times(3600.0, 3661.001, "01:00:00,000 --> 01:01:01,001");
    expect_srt_times(36000.0, 36000.25, "10:00:00,000 --> 10:00:00,250");
    expect_srt_times(86399.999, 360000.0, "23:59:59,999 --> 100:00:00,000");

    expect_vtt_times(0.0, 59.9995, "00:00:00.000 --> 00:01:00.000");
    expect_vtt_times(3599.999, 3600.0, "00:59:59.999 --> 01:00:00.000");
    expect_vtt_times(36000.5, 45296.789, "10:00:00.500 --> 12:34:56.789");
}

/* JSON, tsv and srt agree on every rounded time. */
static void test_rounding_consistent(void)
{
    transcript t;
    one_word(&t, "w", 1.0005, 59.9995);
    char *tsv = render(&t, FMT_TSV);
    ASSERT_STREQ(tsv, "start\tend\ttext\n1001\t60000\tw\n");
    char *js = render(&t, FMT_JSON);
    json_t *j = parse(js);
    json_t *seg = json_array_get(json_object_get(j, "segments"), 0);
    ASSERT_NEAR(jget_num(seg, "start"), 1.001, 1e-12);
    ASSERT_NEAR(jget_num(seg, "end"), 60.0, 1e-12);
    ASSERT(strstr(js, "\"start\": 1.001,") != NULL);
    ASSERT(strstr(js, "\"end\": 60.0,") != NULL);
    json_decref(j);
    free(js);
    free(tsv);
    transcript_release(&t);
}

/* Rounded values print in their short decimal form, integral ones with ".0". */
static void test_json_numbers(void)
{
    transcript t;
    ASSERT_EQ(transcript_init(&t, "n.wav", 36000.1), 0);
    ASSERT_EQ(transcript_add_word(&t, "a", 0.1, 1.2, 0.1f, 0), 0);
    ASSERT_EQ(transcript_add_word(&t, "b", 1.3, 3.0, 0.7f, 0), 0);
    ASSERT_EQ(transcript_add_word(&t, "c", 3.1, 3.123456, 0.33333f, 0), 0);
    ASSERT_EQ(transcript_finish(&t), 0);
    char *js = render(&t, FMT_JSON);
    ASSERT(strstr(js, "\"duration\": 36000.1,") != NULL);
    ASSERT(strstr(js, "\"start\": 0.1,") != NULL);
    ASSERT(strstr(js, "\"end\": 1.2,") != NULL);
    ASSERT(strstr(js, "\"end\": 3.0,") != NULL);
    ASSERT(strstr(js, "\"end\": 3.123,") != NULL);
    ASSERT(strstr(js, "\"confidence\": 0.1\n") != NULL);
    ASSERT(strstr(js, "\"confidence\": 0.7\n") != NULL);
    ASSERT(strstr(js, "\"confidence\": 0.333\n") != NULL);
    ASSERT(strstr(js, "0000000") == NULL);
    ASSERT(strstr(js, "9999999") == NULL);
    free(js);
    transcript_release(&t);
}

static void test_zero_confidence_logprob(void)
{
    transcript t;
    ASSERT_EQ(transcript_init(&t, "z.wav", 1.0), 0);
    ASSERT_EQ(transcript_add_word(&t, "um", 0.0, 0.5, 0.0f, 0), 0);
    ASSERT_EQ(transcript_finish(&t), 0);
    char *js = render(&t, FMT_VERBOSE_JSON);
    json_t *j = parse(js);
    json_t *seg = json_array_get(json_object_get(j, "segments"), 0);
    ASSERT_NEAR(jget_num(seg, "avg_logprob"), -10.0, 1e-12);
    json_decref(j);
    free(js);
    transcript_release(&t);

    /* ln(0.9999) = -0.0001 rounds to zero, printed "0.0", never "-0.0". */
    ASSERT_EQ(transcript_init(&t, "z.wav", 1.0), 0);
    ASSERT_EQ(transcript_add_word(&t, "um", 0.0, 0.5, 0.9999f, 0), 0);
    ASSERT_EQ(transcript_finish(&t), 0);
    js = render(&t, FMT_VERBOSE_JSON);
    ASSERT(strstr(js, "\"avg_logprob\": 0.0,") != NULL);
    ASSERT(strstr(js, "-0.0") == NULL);
    free(js);
    transcript_release(&t);
}

/* ---- escaping ------------------------------------------------------------------ */

static void test_vtt_escaping(void)
{
    transcript t;
    ASSERT_EQ(transcript_init(&t, "e.wav", 2.0), 0);
    ASSERT_EQ(transcript_add_word(&t, "a<b>", 0.0, 0.2, 1.0f, 0), 0);
    ASSERT_EQ(transcript_add_word(&t, "&", 0.3, 0.4, 1.0f, 0), 0);
    ASSERT_EQ(transcript_add_word(&t, "-->", 0.5, 0.6, 1.0f, 0), 0);
    ASSERT_EQ(transcript_add_word(&t, "x\r\n\ny", 0.7, 0.8, 1.0f, 0), 0);
    ASSERT_EQ(transcript_finish(&t), 0);
    char *vtt = render(&t, FMT_VTT);
    ASSERT_STREQ(vtt, "WEBVTT\n\n00:00:00.000 --> 00:00:00.800\n"
                      "a&lt;b&gt; &amp; --&gt; x   y\n\n");
    /* The only "-->" is the timing line's. */
    const char *arrow = strstr(vtt, "-->");
    ASSERT(arrow != NULL && strstr(arrow + 3, "-->") == NULL);
    free(vtt);

    /* SRT has no entities, but still one line of text per cue. */
    char *srt = render(&t, FMT_SRT);
    ASSERT_STREQ(srt, "1\n00:00:00,000 --> 00:00:00,800\na<b> & --> x   y\n\n");
    free(srt);
    char *txt = render(&t, FMT_TXT);
    ASSERT_STREQ(txt, "a<b> & --> x   y\n");
    free(txt);
    transcript_release(&t);
}

static void test_tsv_escaping(void)
{
    transcript t;
    ASSERT_EQ(transcript_init(&t, "e.wav", 2.0), 0);
    ASSERT_EQ(transcript_add_word(&t, "a\tb", 0.0, 0.25, 1.0f, 0), 0);
    ASSERT_EQ(transcript_add_word(&t, "c\nd\re", 0.3, 1.5, 1.0f, 0), 0);
    ASSERT_EQ(transcript_finish(&t), 0);
    expect_render(&t, FMT_TSV, "start\tend\ttext\n0\t1500\ta b c d e\n");
    transcript_release(&t);
}

static void test_json_escaping(void)
{
    const char *nasty = "say \"hi\" \\ back\x01\x1f\ttab\nnl";
    const char *utf8 = "na\xC3\xAFve \xE2\x82\xAC \xF0\x9F\x8E\xA4"; /* naïve € 🎤 */
    transcript t;
    ASSERT_EQ(transcript_init(&t, "bad\xFFname \"q\".mp3", 2.0), 0);
    ASSERT_EQ(transcript_add_word(&t, nasty, 0.0, 0.5, 1.0f, 0), 0);
    ASSERT_EQ(transcript_add_word(&t, utf8, 0.6, 1.0, 1.0f, 0), 0);
    ASSERT_EQ(transcript_finish(&t), 0);

    char *js = render(&t, FMT_JSON);
    ASSERT(strstr(js, "say \\\"hi\\\" \\\\ back\\u0001\\u001F\\ttab\\nnl") != NULL);
    json_t *j = parse(js);
    /* Invalid UTF-8 in the file name becomes U+FFFD instead of failing. */
    ASSERT_STREQ(jget_str(j, "source"), "bad\xEF\xBF\xBDname \"q\".mp3");
    json_t *seg = json_array_get(json_object_get(j, "segments"), 0);
    json_t *words = json_object_get(seg, "words");
    ASSERT_EQ(json_array_size(words), 2);
    ASSERT_STREQ(jget_str(json_array_get(words, 0), "word"), nasty);
    ASSERT_STREQ(jget_str(json_array_get(words, 1), "word"), utf8);
    ASSERT(strstr(js, utf8) != NULL); /* UTF-8 kept as is, not \u-escaped */
    char joined[256];
    snprintf(joined, sizeof joined, "%s %s", nasty, utf8);
    ASSERT_STREQ(jget_str(seg, "text"), joined);
    ASSERT_STREQ(jget_str(j, "text"), joined);
    json_decref(j);
    free(js);

    char *vj = render(&t, FMT_VERBOSE_JSON);
    j = parse(vj);
    ASSERT_STREQ(jget_str(json_array_get(json_object_get(j, "words"), 0), "word"), nasty);
    json_decref(j);
    free(vj);
    transcript_release(&t);
}

/* ---- verbose_json shape ------------------------------------------------------- */

static void test_verbose_json_keys(void)
{
    transcript t;
    sample(&t);
    char *vj = render(&t, FMT_VERBOSE_JSON);
    json_t *j = parse(vj);
    ASSERT_STREQ(jget_str(j, "task"), "transcribe");
    ASSERT_STREQ(jget_str(j, "language"), "english");
    ASSERT_NEAR(jget_num(j, "duration"), 5.25, 1e-12);
    ASSERT_STREQ(jget_str(j, "text"), "Hello world again");
    json_t *segs = json_object_get(j, "segments");
    ASSERT_EQ(json_array_size(segs), 2);
    const char *keys[] = {"id",
                          "seek",
                          "start",
                          "end",
                          "text",
                          "tokens",
                          "temperature",
                          "avg_logprob",
                          "compression_ratio",
                          "no_speech_prob"};
    for (size_t i = 0; i < json_array_size(segs); i++) {
        json_t *s = json_array_get(segs, i);
        ASSERT_EQ(json_object_size(s), sizeof keys / sizeof keys[0]);
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
            if (!json_object_get(s, keys[k]))
                TEST_FAIL_("segment %zu has no '%s'", i, keys[k]);
        ASSERT_EQ(json_integer_value(json_object_get(s, "id")), (long long)i);
        ASSERT(json_is_array(json_object_get(s, "tokens")));
        ASSERT(json_is_real(json_object_get(s, "temperature")));
        ASSERT_EQ(jget_str(s, "text")[0], ' ');
    }
    ASSERT_NEAR(jget_num(json_array_get(segs, 0), "avg_logprob"), -0.163, 1e-12);
    ASSERT_STREQ(jget_str(json_array_get(segs, 1), "text"), " again");
    json_t *words = json_object_get(j, "words");
    ASSERT_EQ(json_array_size(words), 3);
    ASSERT_STREQ(jget_str(json_array_get(words, 2), "word"), "again");
    ASSERT_NEAR(jget_num(json_array_get(words, 2), "start"), 2.1, 1e-12);
    ASSERT_NEAR(jget_num(json_array_get(words, 2), "end"), 2.6, 1e-12);
    json_decref(j);
    free(vj);
    transcript_release(&t);
}

/* ---- determinism, errors --------------------------------------------------------- */

static void test_deterministic(void)
{
    for (int f = 0; f < FMT_COUNT; f++) {
        transcript a, b;
        sample(&a);
        sample(&b);
        char *x = render(&a, (out_format)f);
        char *y = render(&a, (out_format)f);
        char *z = render(&b, (out_format)f);
        ASSERT_STREQ(x, y);
        ASSERT_STREQ(x, z);
        free(x);
        free(y);
        free(z);
        transcript_release(&a);
        transcript_release(&b);
    }
}

/* Rendering appends, and a failed render leaves the buffer as it was. */
static void test_append_and_cap(void)
{
    transcript t;
    sample(&t);
    buf b;
    hark_err err;
    err_clear(&err);
    buf_init(&b, 40);
    ASSERT_EQ(buf_puts(&b, "head:"), 0);
    ASSERT_EQ(out_render(&t, FMT_TXT, &b, &err), 0);
    ASSERT_STREQ(b.data, "head:Hello world\nagain\n");
    for (int f = 0; f < FMT_COUNT; f++) {
        if (f == FMT_TXT)
            continue;
        err_clear(&err);
        ASSERT_EQ(out_render(&t, (out_format)f, &b, &err), HARK_ENOMEM);
        ASSERT_EQ(err.code, HARK_ENOMEM);
        ASSERT(strstr(err.msg, out_format_name((out_format)f)) != NULL);
        ASSERT_STREQ(b.data, "head:Hello world\nagain\n");
        ASSERT_EQ(b.len, strlen("head:Hello world\nagain\n"));
    }
    ASSERT_EQ(out_render(&t, FMT_COUNT, &b, &err), HARK_EINVAL);
    buf_release(&b);
    transcript_release(&t);
}

int main(void)
{
    RUN(test_parse_names);
    RUN(test_parse_list);
    RUN(test_parse_list_errors);
    RUN(test_golden_txt);
    RUN(test_golden_srt);
    RUN(test_golden_vtt);
    RUN(test_golden_tsv);
    RUN(test_golden_json);
    RUN(test_golden_verbose_json);
    RUN(test_empty_all_formats);
    RUN(test_timestamps);
    RUN(test_rounding_consistent);
    RUN(test_json_numbers);
    RUN(test_zero_confidence_logprob);
    RUN(test_vtt_escaping);
    RUN(test_tsv_escaping);
    RUN(test_json_escaping);
    RUN(test_verbose_json_keys);
    RUN(test_deterministic);
    RUN(test_append_and_cap);
    TEST_DONE();
}
