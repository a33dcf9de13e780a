#include "util/utf8.h"

#include "util/test.h"

static void test_char_len(void)
{
    static const struct {
        const char *s;
        size_t n, len;
        uint32_t cp;
    } cases[] = {
        {"a", 1, 1, 'a'},
        {"\x01", 1, 1, 1},
        {"", 1, 1, 0}, /* NUL is valid UTF-8: callers decide */
        {"\xc3\xa9", 2, 2, 0xe9},
        {"\xe2\x82\xac", 3, 3, 0x20ac},
        {"\xf0\x9f\x98\x80", 4, 4, 0x1f600},
        {"\xf4\x8f\xbf\xbf", 4, 4, 0x10ffff},
        {"\x80", 1, 0, 0},             /* stray continuation */
        {"\xc0\xaf", 2, 0, 0},         /* overlong */
        {"\xe0\x80\xaf", 3, 0, 0},     /* overlong */
        {"\xf0\x80\x80\xaf", 4, 0, 0}, /* overlong */
        {"\xed\xa0\x80", 3, 0, 0},     /* surrogate */
        {"\xf4\x90\x80\x80", 4, 0, 0}, /* past U+10FFFF */
        {"\xff", 1, 0, 0},
        {"\xc3\xa9", 1, 0, 0},     /* cut off by n */
        {"\xe2\x28\xa1", 3, 0, 0}, /* bad continuation */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint32_t cp = 0;
        ASSERT_EQ(utf8_char_len(cases[i].s, cases[i].n, &cp), cases[i].len);
        if (cases[i].len)
            ASSERT_EQ(cp, cases[i].cp);
    }
    ASSERT(utf8_valid("caf\xc3\xa9 \xe2\x82\xac", 9));
    ASSERT(utf8_valid("", 0));
    ASSERT(!utf8_valid("caf\xc3", 4));
}

static void test_cut(void)
{
    const char *s = "ab\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
    ASSERT_EQ(utf8_cut(s, 0), 0);
    ASSERT_EQ(utf8_cut(s, 2), 2);
    ASSERT_EQ(utf8_cut(s, 3), 2); /* inside é */
    ASSERT_EQ(utf8_cut(s, 4), 4);
    ASSERT_EQ(utf8_cut(s, 5), 4); /* inside € */
    ASSERT_EQ(utf8_cut(s, 6), 4);
    ASSERT_EQ(utf8_cut(s, 7), 7);
    ASSERT_EQ(utf8_cut(s, 8), 7); /* inside the emoji */
    ASSERT_EQ(utf8_cut(s, 10), 7);
    ASSERT_EQ(utf8_cut(s, 11), 11);
    ASSERT_EQ(utf8_cut("\x80\x80\x80\x80\x80", 5), 5); /* no lead byte: nothing to keep whole */
}

int main(void)
{
    RUN(test_char_len);
    RUN(test_cut);
    TEST_DONE();
}
