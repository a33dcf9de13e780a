/* lang_tag.c - see lang_tag.h. */
#include "server/lang_tag.h"

#include <stdbool.h>
#include <strings.h>

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

enum lang_tag_kind lang_tag_classify(const char *s, size_t n)
{
    if (n == 0 || n > LANG_TAG_MAX)
        return LANG_TAG_MALFORMED;
    if (n == 7 && strncasecmp(s, "english", 7) == 0)
        return LANG_TAG_ENGLISH;
    size_t primary = 0; /* length of the first subtag */
    size_t i = 0;
    for (size_t sub = 0; i <= n; sub++) {
        size_t len = 0;
        while (i + len < n && s[i + len] != '-' && s[i + len] != '_') {
            char c = s[i + len];
            if (!is_alpha(c) && (sub == 0 || !is_digit(c)))
                return LANG_TAG_MALFORMED;
            len++;
        }
        if (len == 0 || len > 8) /* "", "en-", "en--US", a 9-character subtag */
            return LANG_TAG_MALFORMED;
        if (sub == 0)
            primary = len;
        i += len + 1; /* past the separator, or past the end */
    }
    if ((primary == 2 && strncasecmp(s, "en", 2) == 0) ||
        (primary == 3 && strncasecmp(s, "eng", 3) == 0))
        return LANG_TAG_ENGLISH;
    return LANG_TAG_OTHER;
}
