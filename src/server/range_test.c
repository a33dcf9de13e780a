/* range_test.c - Range and If-Range headers against a file's size. */
#include "server/range.h"
#include "util/test.h"

static void table(void)
{
    static const struct {
        const char *hdr;
        int64_t size;
        enum range_verdict v;
        int64_t start, len;
    } cases[] = {
        {NULL, 1000, RANGE_WHOLE, 0, 0},
        {"bytes=0-99", 1000, RANGE_PART, 0, 100},
        {"bytes=100-", 1000, RANGE_PART, 100, 900},
        {"bytes=-100", 1000, RANGE_PART, 900, 100},
        {"bytes=-5000", 1000, RANGE_PART, 0, 1000},
        {"bytes=990-5000", 1000, RANGE_PART, 990, 10},
        {"bytes=999-999", 1000, RANGE_PART, 999, 1},
        {"Bytes = 5-9 ", 1000, RANGE_PART, 5, 5},
        {"bytes=1000-", 1000, RANGE_UNSATISFIABLE, 0, 0},
        {"bytes=2000-2100", 1000, RANGE_UNSATISFIABLE, 0, 0},
        {"bytes=-0", 1000, RANGE_UNSATISFIABLE, 0, 0},
        {"bytes=0-", 0, RANGE_UNSATISFIABLE, 0, 0},
        {"bytes=-10", 0, RANGE_UNSATISFIABLE, 0, 0},
        /* several ranges, other units and malformed headers: the whole file */
        {"bytes=0-1,5-6", 1000, RANGE_WHOLE, 0, 0},
        {"bytes=0-1, 2000-3000", 1000, RANGE_WHOLE, 0, 0},
        {"items=0-1", 1000, RANGE_WHOLE, 0, 0},
        {"bytes=", 1000, RANGE_WHOLE, 0, 0},
        {"bytes=-", 1000, RANGE_WHOLE, 0, 0},
        {"bytes=9-5", 1000, RANGE_WHOLE, 0, 0},
        {"bytes=a-5", 1000, RANGE_WHOLE, 0, 0},
        {"bytes=5-a", 1000, RANGE_WHOLE, 0, 0},
        {"bytes 0-5", 1000, RANGE_WHOLE, 0, 0},
        {"bytes=+1-5", 1000, RANGE_WHOLE, 0, 0},
        {"bytes=99999999999999999999-", 1000, RANGE_WHOLE, 0, 0},
        {"bytes=0-99999999999999999999", 1000, RANGE_WHOLE, 0, 0},
        {"bytes=0-999999999999", 1000, RANGE_PART, 0, 1000},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        byte_range r = {-1, -1};
        enum range_verdict v = range_parse(cases[i].hdr, cases[i].size, &r);
        if (v != cases[i].v)
            fprintf(stderr, "case %zu: '%s'\n", i, cases[i].hdr ? cases[i].hdr : "(none)");
        ASSERT_EQ(v, cases[i].v);
        if (v == RANGE_PART) {
            ASSERT_EQ(r.start, cases[i].start);
            ASSERT_EQ(r.len, cases[i].len);
        }
    }
}

static void if_range(void)
{
    const char *etag = "\"3e8-5f\"", *lm = "Tue, 01 Jul 2025 10:00:00 GMT";
    ASSERT(range_if_range(NULL, etag, lm));
    ASSERT(range_if_range("\"3e8-5f\"", etag, lm));
    ASSERT(range_if_range(" \"3e8-5f\" ", etag, lm));
    ASSERT(!range_if_range("\"3e8-60\"", etag, lm));
    ASSERT(!range_if_range("W/\"3e8-5f\"", etag, lm));
    ASSERT(range_if_range("Tue, 01 Jul 2025 10:00:00 GMT", etag, lm));
    ASSERT(!range_if_range("Tue, 01 Jul 2025 10:00:01 GMT", etag, lm));
    ASSERT(!range_if_range("", etag, lm));
}

static void content_range(void)
{
    char out[64];
    byte_range r = {100, 50};
    range_content_range(&r, 1000, out, sizeof out);
    ASSERT_STREQ(out, "bytes 100-149/1000");
    range_content_range(NULL, 1000, out, sizeof out);
    ASSERT_STREQ(out, "bytes */1000");
}

int main(void)
{
    RUN(table);
    RUN(if_range);
    RUN(content_range);
    TEST_DONE();
}
