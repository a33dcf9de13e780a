/* lang_tag_test.c - language tags as OpenAI's clients send them. */
#include "server/lang_tag.h"
#include "util/test.h"

#include <string.h>

static enum lang_tag_kind kind(const char *s)
{
    return lang_tag_classify(s, strlen(s));
}

static void english(void)
{
    static const char *const tags[] = {
        "en",         "EN",     "En",      "en-US",     "en_US",
        "en-gb",      "eng",    "ENG",     "english",   "English",
        "en-Latn-US", "en-150", "en-x-a1", "en-GB-oed", "en-US-u-ca-gregory",
    };
    for (size_t i = 0; i < sizeof tags / sizeof tags[0]; i++) {
        if (kind(tags[i]) != LANG_TAG_ENGLISH)
            fprintf(stderr, "%s\n", tags[i]);
        ASSERT_EQ(kind(tags[i]), LANG_TAG_ENGLISH);
    }
    /* Not NUL-terminated: only n bytes count. */
    ASSERT_EQ(lang_tag_classify("en,fr", 2), LANG_TAG_ENGLISH);
}

static void other(void)
{
    static const char *const tags[] = {"fr",  "fr-CA",      "de_DE",    "zh-Hans-CN",
                                       "deu", "x-klingon",  "und",      "enx",
                                       "e",   "english-US", "i-klingon"};
    for (size_t i = 0; i < sizeof tags / sizeof tags[0]; i++) {
        if (kind(tags[i]) != LANG_TAG_OTHER)
            fprintf(stderr, "%s\n", tags[i]);
        ASSERT_EQ(kind(tags[i]), LANG_TAG_OTHER);
    }
    ASSERT_EQ(lang_tag_classify("en,fr" + 3, 2), LANG_TAG_OTHER);
}

static void malformed(void)
{
    static const char *const tags[] = {"",      "e n",    "en-",          "en--US", "-en",
                                       "en.US", "3n",     "en-abcdefghi", "en US",  "en-\xc3\xa9",
                                       "_",     "en\tUS", "abcdefghi"};
    for (size_t i = 0; i < sizeof tags / sizeof tags[0]; i++) {
        if (kind(tags[i]) != LANG_TAG_MALFORMED)
            fprintf(stderr, "%s\n", tags[i]);
        ASSERT_EQ(kind(tags[i]), LANG_TAG_MALFORMED);
    }
    char long_tag[LANG_TAG_MAX + 8];
    memset(long_tag, 'a', sizeof long_tag);
    memcpy(long_tag, "en", 2);
    for (size_t i = 2; i + 2 < sizeof long_tag; i += 3)
        long_tag[i] = '-';
    ASSERT_EQ(lang_tag_classify(long_tag, LANG_TAG_MAX + 1), LANG_TAG_MALFORMED);
    ASSERT_EQ(lang_tag_classify(long_tag, 2), LANG_TAG_ENGLISH);
}

int main(void)
{
    RUN(english);
    RUN(other);
    RUN(malformed);
    TEST_DONE();
}
