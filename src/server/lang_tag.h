/* lang_tag.h - a client's language tag, as OpenAI's clients send it: a
 * BCP 47 tag (RFC 5646: "en", "en-US", "zh-Hans-CN"), with '_' taken as '-'
 * (POSIX locales: "en_US"), an ISO 639-2/3 code ("eng"), or the name
 * "english" (whisper's spelling, accepted before tags were).
 *
 * Only the shape is checked, not the IANA registry: a primary subtag of 1
 * to 8 letters, then subtags of 1 to 8 letters or digits, at most
 * LANG_TAG_MAX bytes in all.
 */
#ifndef HARK_SERVER_LANG_TAG_H
#define HARK_SERVER_LANG_TAG_H

#include <stddef.h>

#define LANG_TAG_MAX 64

enum lang_tag_kind {
    LANG_TAG_ENGLISH,  /* primary language en or eng (any case), or "english" */
    LANG_TAG_OTHER,    /* a well-formed tag of another language ("fr-CA", "und") */
    LANG_TAG_MALFORMED /* not a language tag ("e n", "en-", "") */
};

/* Classify the n bytes at s (no NUL needed). */
enum lang_tag_kind lang_tag_classify(const char *s, size_t n);

#endif
