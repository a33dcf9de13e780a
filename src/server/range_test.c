/* range_test.c - RFC 9110 byte ranges (range.h), case by case: what the
 * server serves, ignores (200) and refuses (416) for each spelling. */
#include "server/range.h"

#include "util/test.h"

#include <stdint.h>

#define NONE HTTP_RANGE_NONE
#define OK HTTP_RANGE_OK
#define BAD HTTP_RANGE_UNSATISFIABLE

typedef struct range_case {
    const char *header;
    int64_t size;
    int want;
    int64_t first, last; /* when OK */
} range_case;

static const range_case cases[] = {
    /* no header, or not one of ours: 200 */
    {NULL, 100, NONE, 0, 0},
    {"", 100, NONE, 0, 0},
    {"bytes", 100, NONE, 0, 0},
    {"bytes=", 100, NONE, 0, 0},
    {"bytes=,", 100, NONE, 0, 0},
    {"items=0-1", 100, NONE, 0, 0},
    {"bytes:0-1", 100, NONE, 0, 0},
    {"bytesx=0-1", 100, NONE, 0, 0},
    {"=0-1", 100, NONE, 0, 0},
    /* the three forms */
    {"bytes=0-0", 100, OK, 0, 0},
    {"bytes=0-99", 100, OK, 0, 99},
    {"bytes=10-19", 100, OK, 10, 19},
    {"bytes=99-99", 100, OK, 99, 99},
    {"bytes=50-", 100, OK, 50, 99},
    {"bytes=0-", 100, OK, 0, 99},
    {"bytes=-10", 100, OK, 90, 99},
    {"bytes=-100", 100, OK, 0, 99},
    {"bytes=-1", 1, OK, 0, 0},
    /* LAST past the end is clamped; a suffix past the size is the whole */
    {"bytes=10-1000", 100, OK, 10, 99},
    {"bytes=-1000", 100, OK, 0, 99},
    /* case-insensitive unit; the value's own outer whitespace is not in it */
    {"BYTES=1-2", 100, OK, 1, 2},
    {"Bytes=1-2", 100, OK, 1, 2},
    {" bytes=1-2 ", 100, OK, 1, 2},
    {"\tbytes=1-2\t", 100, OK, 1, 2},
    /* leading zeros are digits like any other */
    {"bytes=007-0009", 100, OK, 7, 9},
    /* unsatisfiable: 416 */
    {"bytes=100-", 100, BAD, 0, 0},
    {"bytes=100-200", 100, BAD, 0, 0},
    {"bytes=1000-1001", 100, BAD, 0, 0},
    {"bytes=-0", 100, BAD, 0, 0},
    {"bytes=-000", 100, BAD, 0, 0},
    {"bytes=0-0", 0, BAD, 0, 0},
    {"bytes=0-", 0, BAD, 0, 0},
    {"bytes=-0", 0, BAD, 0, 0},
    /* a suffix of an empty body: satisfiable per RFC 9110, nothing to send */
    {"bytes=-5", 0, NONE, 0, 0},
    /* invalid: LAST below FIRST */
    {"bytes=5-3", 100, NONE, 0, 0},
    {"bytes=500-3", 100, NONE, 0, 0},
    /* not digits: signs, spaces inside, others */
    {"bytes=-5-10", 100, NONE, 0, 0},
    {"bytes=+5-10", 100, NONE, 0, 0},
    {"bytes=5-+10", 100, NONE, 0, 0},
    {"bytes=--5", 100, NONE, 0, 0},
    {"bytes=-", 100, NONE, 0, 0},
    {"bytes=-a", 100, NONE, 0, 0},
    {"bytes=1-2x", 100, NONE, 0, 0},
    {"bytes=0x10-", 100, NONE, 0, 0},
    {"bytes=1.5-2", 100, NONE, 0, 0},
    {"bytes=5", 100, NONE, 0, 0},
    {"bytes= 0-1", 100, NONE, 0, 0},
    {"bytes =0-1", 100, NONE, 0, 0},
    {"bytes=0 -1", 100, NONE, 0, 0},
    {"bytes=0- 1", 100, NONE, 0, 0},
    {"bytes=0-1\r\n", 100, NONE, 0, 0}, /* CR LF are neither whitespace nor digits */
    {"bytes=0-1\r", 100, NONE, 0, 0},
    {"bytes=\xff", 100, NONE, 0, 0},
    /* commas: empty elements ignored, whitespace around them allowed */
    {"bytes=0-1,", 100, OK, 0, 1},
    {"bytes=,0-1", 100, OK, 0, 1},
    {"bytes=, 0-1", 100, OK, 0, 1},
    {"bytes=0-1 ,", 100, OK, 0, 1},
    {"bytes=0-1 , ,", 100, OK, 0, 1},
    {"bytes=,,0-1,,", 100, OK, 0, 1},
    /* several ranges: ignored, 200 with the whole body */
    {"bytes=0-1,5-6", 100, NONE, 0, 0},
    {"bytes=0-1, 5-6", 100, NONE, 0, 0},
    {"bytes=0-1 ,5-6", 100, NONE, 0, 0},
    {"bytes=0-1,,-5", 100, NONE, 0, 0},
    {"bytes=0-0,0-0", 100, NONE, 0, 0},
    {"bytes=200-300,0-1", 100, NONE, 0, 0},
    /* 20-digit numbers never wrap */
    {"bytes=99999999999999999999-", 100, BAD, 0, 0},
    {"bytes=18446744073709551616-", 100, BAD, 0, 0}, /* 2^64: 0 if it wrapped */
    {"bytes=9223372036854775808-", INT64_MAX, BAD, 0, 0},
    {"bytes=9223372036854775806-", INT64_MAX, OK, INT64_MAX - 1, INT64_MAX - 1},
    {"bytes=0-99999999999999999999", 100, OK, 0, 99},
    {"bytes=0-18446744073709551616", 100, OK, 0, 99},
    {"bytes=-99999999999999999999", 100, OK, 0, 99},
    {"bytes=-18446744073709551616", 100, OK, 0, 99},
    {"bytes=-18446744073709551615", 100, OK, 0, 99}, /* -1 as uint64 */
    {"bytes=99999999999999999999-99999999999999999998", 100, NONE, 0, 0},
    {"bytes=99999999999999999998-99999999999999999999", 100, BAD, 0, 0},
    {"bytes=00000000000000000000000000000001-2", 100, OK, 1, 2},
    {"bytes=1-00000000000000000000000000000002", 100, OK, 1, 2},
    /* a negative size is not a body */
    {"bytes=0-1", -1, NONE, 0, 0},
};

static void test_table(void)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const range_case *c = &cases[i];
        http_range r = {-7, -7};
        int got = http_range_parse(c->header, c->size, &r);
        if (got != c->want)
            TEST_FAIL_("case %zu '%s' size %lld: got %d, want %d", i,
                       c->header ? c->header : "(null)", (long long)c->size, got, c->want);
        if (got == OK && (r.first != c->first || r.last != c->last))
            TEST_FAIL_("case %zu '%s' size %lld: %lld-%lld, want %lld-%lld", i, c->header,
                       (long long)c->size, (long long)r.first, (long long)r.last,
                       (long long)c->first, (long long)c->last);
        if (got != OK && (r.first != -7 || r.last != -7))
            TEST_FAIL_("case %zu '%s': out written without a range", i,
                       c->header ? c->header : "(null)");
    }
}

static void test_content_range(void)
{
    char buf[HTTP_RANGE_CONTENT_RANGE_MAX];
    http_range r = {0, 0};
    ASSERT_EQ(http_range_content_range(&r, 1, buf, sizeof buf), 11);
    ASSERT_STREQ(buf, "bytes 0-0/1");
    r = (http_range){10, 19};
    ASSERT_EQ(http_range_content_range(&r, 100, buf, sizeof buf), 15);
    ASSERT_STREQ(buf, "bytes 10-19/100");
    ASSERT_EQ(http_range_content_range(NULL, 100, buf, sizeof buf), 11);
    ASSERT_STREQ(buf, "bytes */100");
    ASSERT_EQ(http_range_content_range(NULL, 0, buf, sizeof buf), 9);
    ASSERT_STREQ(buf, "bytes */0");
    /* the largest fits */
    r = (http_range){INT64_MAX - 1, INT64_MAX - 1};
    ASSERT_EQ(http_range_content_range(&r, INT64_MAX, buf, sizeof buf), 65);
    ASSERT_STREQ(buf, "bytes 9223372036854775806-9223372036854775806/9223372036854775807");
    /* too small a buffer: -1 and "" */
    r = (http_range){10, 19};
    ASSERT_EQ(http_range_content_range(&r, 100, buf, 15), -1);
    ASSERT_STREQ(buf, "");
    ASSERT_EQ(http_range_content_range(&r, 100, buf, 16), 15);
    ASSERT_EQ(http_range_content_range(&r, 100, NULL, 0), -1);
    /* not a range of the body: -1 */
    r = (http_range){5, 3};
    ASSERT_EQ(http_range_content_range(&r, 100, buf, sizeof buf), -1);
    r = (http_range){0, 100};
    ASSERT_EQ(http_range_content_range(&r, 100, buf, sizeof buf), -1);
    r = (http_range){-1, 3};
    ASSERT_EQ(http_range_content_range(&r, 100, buf, sizeof buf), -1);
    ASSERT_EQ(http_range_content_range(NULL, -1, buf, sizeof buf), -1);
}

/* What a parsed range gives, for every header, is a Content-Range the
 * same function accepts: the two agree. */
static void test_parse_then_content_range(void)
{
    char buf[HTTP_RANGE_CONTENT_RANGE_MAX];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        http_range r;
        int got = http_range_parse(cases[i].header, cases[i].size, &r);
        if (got == OK)
            ASSERT(http_range_content_range(&r, cases[i].size, buf, sizeof buf) > 0);
        else if (got == BAD)
            ASSERT(http_range_content_range(NULL, cases[i].size, buf, sizeof buf) > 0);
    }
}

static void test_if_range(void)
{
    const char *etag = "\"3e8-5f\"", *lm = "Tue, 01 Jul 2025 10:00:00 GMT";
    ASSERT(http_range_if_range(NULL, etag, lm));
    ASSERT(http_range_if_range("\"3e8-5f\"", etag, lm));
    ASSERT(http_range_if_range(" \"3e8-5f\" ", etag, lm));
    ASSERT(!http_range_if_range("\"3e8-60\"", etag, lm));
    ASSERT(!http_range_if_range("W/\"3e8-5f\"", etag, lm)); /* weak: never */
    ASSERT(http_range_if_range("Tue, 01 Jul 2025 10:00:00 GMT", etag, lm));
    ASSERT(!http_range_if_range("Tue, 01 Jul 2025 10:00:01 GMT", etag, lm));
    ASSERT(!http_range_if_range("", etag, lm));
}

static void test_none_match(void)
{
    const char *etag = "\"3e8-5f\"";
    ASSERT(!http_none_match(NULL, etag));
    ASSERT(!http_none_match("", etag));
    ASSERT(http_none_match("\"3e8-5f\"", etag));
    ASSERT(http_none_match("W/\"3e8-5f\"", etag)); /* weak comparison */
    ASSERT(http_none_match("\"x\", \"3e8-5f\"", etag));
    ASSERT(http_none_match(" *", etag));
    ASSERT(!http_none_match("\"3e8-5\"", etag));
    ASSERT(!http_none_match("\"3e8-5f\"x", etag));
    ASSERT(!http_none_match("\"x\", \"y\"", etag));
}

int main(void)
{
    RUN(test_table);
    RUN(test_if_range);
    RUN(test_none_match);
    RUN(test_content_range);
    RUN(test_parse_then_content_range);
    TEST_DONE();
}
