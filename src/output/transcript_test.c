#include "output/transcript.h"

#include "util/err.h"
#include "util/test.h"

static void test_init_and_release(void)
{
    transcript t;
    ASSERT_EQ(transcript_init(&t, "talk.mp3", 12.5), 0);
    ASSERT_STREQ(t.source, "talk.mp3");
    ASSERT_STREQ(t.language, "en");
    ASSERT_NEAR(t.duration, 12.5, 1e-12);
    ASSERT_EQ(t.n_words, 0);
    ASSERT_EQ(transcript_add_word(&t, "hi", 0.0, 0.5, 0.9f, 0), 0);
    ASSERT_EQ(transcript_finish(&t), 0);
    transcript_release(&t);
    ASSERT(t.source == NULL && t.language == NULL && t.words == NULL && t.segments == NULL &&
           t.text == NULL);
    ASSERT_EQ(t.n_words, 0);
    ASSERT_EQ(t.cap_words, 0);
    ASSERT_EQ(t.n_segments, 0);
}

static void test_empty(void)
{
    transcript t;
    ASSERT_EQ(transcript_init(&t, "silence.wav", 3.0), 0);
    ASSERT_EQ(transcript_finish(&t), 0);
    ASSERT_EQ(t.n_segments, 0);
    ASSERT_STREQ(t.text, "");
    transcript_release(&t);
}

static void test_copies_text(void)
{
    transcript t;
    char word[] = "hello";
    ASSERT_EQ(transcript_init(&t, "a", 1.0), 0);
    ASSERT_EQ(transcript_add_word(&t, word, 0.0, 0.3, 1.0f, 0), 0);
    word[0] = 'j';
    ASSERT_STREQ(t.words[0].text, "hello");
    transcript_release(&t);
}

/* Many words: the array grows past its first capacity and keeps order. */
static void test_growth(void)
{
    transcript t;
    ASSERT_EQ(transcript_init(&t, "a", 1000.0), 0);
    for (int i = 0; i < 1000; i++) {
        char w[16];
        snprintf(w, sizeof w, "w%d", i);
        ASSERT_EQ(transcript_add_word(&t, w, i * 0.5, i * 0.5 + 0.4, 0.5f, 0), 0);
    }
    ASSERT_EQ(t.n_words, 1000);
    ASSERT(t.cap_words >= 1000);
    ASSERT_STREQ(t.words[999].text, "w999");
    ASSERT_EQ(transcript_finish(&t), 0);
    size_t total = 0;
    for (size_t i = 0; i < t.n_segments; i++) {
        ASSERT_EQ(t.segments[i].first_word, total);
        total += t.segments[i].n_words;
    }
    ASSERT_EQ(total, 1000);
    transcript_release(&t);
}

static void test_one_segment_joins_words(void)
{
    transcript t;
    ASSERT_EQ(transcript_init(&t, "a", 5.0), 0);
    ASSERT_EQ(transcript_add_word(&t, "the", 0.5, 0.7, 0.9f, 0), 0);
    ASSERT_EQ(transcript_add_word(&t, "quick", 0.8, 1.1, 0.6f, 0), 0);
    ASSERT_EQ(transcript_add_word(&t, "fox", 1.5, 1.9, 0.3f, 0), 0); /* gap 0.4 s */
    ASSERT_EQ(transcript_finish(&t), 0);
    ASSERT_EQ(t.n_segments, 1);
    ASSERT_STREQ(t.segments[0].text, "the quick fox");
    ASSERT_NEAR(t.segments[0].start, 0.5, 1e-12);
    ASSERT_NEAR(t.segments[0].end, 1.9, 1e-12);
    ASSERT_EQ(t.segments[0].first_word, 0);
    ASSERT_EQ(t.segments[0].n_words, 3);
    ASSERT_NEAR(t.segments[0].avg_confidence, 0.6, 1e-6);
    ASSERT_STREQ(t.text, "the quick fox");
    transcript_release(&t);
}

static void test_chunk_change_splits(void)
{
    transcript t;
    ASSERT_EQ(transcript_init(&t, "a", 5.0), 0);
    ASSERT_EQ(transcript_add_word(&t, "one", 0.0, 0.5, 1.0f, 0), 0);
    ASSERT_EQ(transcript_add_word(&t, "two", 0.5, 1.0, 1.0f, 1), 0); /* no gap, new chunk */
    ASSERT_EQ(transcript_add_word(&t, "three", 1.0, 1.5, 1.0f, 1), 0);
    ASSERT_EQ(transcript_finish(&t), 0);
    ASSERT_EQ(t.n_segments, 2);
    ASSERT_STREQ(t.segments[0].text, "one");
    ASSERT_STREQ(t.segments[1].text, "two three");
    ASSERT_EQ(t.segments[1].first_word, 1);
    ASSERT_NEAR(t.segments[1].start, 0.5, 1e-12);
    ASSERT_NEAR(t.segments[1].end, 1.5, 1e-12);
    ASSERT_STREQ(t.text, "one two three");
    transcript_release(&t);
}

/* A pause of exactly 0.6 s splits; 0.599 s does not. 0.1 -> 0.7 is a gap of
 * 0.6 that floating point computes as slightly less; it must still split. */
static void test_gap_splits(void)
{
    transcript t;
    ASSERT_EQ(transcript_init(&t, "a", 10.0), 0);
    ASSERT_EQ(transcript_add_word(&t, "a", 0.0, 0.1, 1.0f, 0), 0);
    ASSERT_EQ(transcript_add_word(&t, "b", 0.7, 1.0, 1.0f, 0), 0);   /* gap 0.600 */
    ASSERT_EQ(transcript_add_word(&t, "c", 1.599, 2.0, 1.0f, 0), 0); /* gap 0.599 */
    ASSERT_EQ(transcript_add_word(&t, "d", 3.0, 3.2, 1.0f, 0), 0);   /* gap 1.0 */
    ASSERT_EQ(transcript_finish(&t), 0);
    ASSERT_EQ(t.n_segments, 3);
    ASSERT_STREQ(t.segments[0].text, "a");
    ASSERT_STREQ(t.segments[1].text, "b c");
    ASSERT_STREQ(t.segments[2].text, "d");
    ASSERT_STREQ(t.text, "a b c d");
    transcript_release(&t);
}

/* Segments hold at most 84 characters: 8 words of 9 letters joined by spaces
 * are 79 characters; a 4-letter word makes 84 (fits), one more letter would
 * make 85 (splits). */
static void test_length_limit(void)
{
    transcript t;
    ASSERT_EQ(transcript_init(&t, "a", 100.0), 0);
    double at = 0.0;
    for (int i = 0; i < 8; i++, at += 0.5)
        ASSERT_EQ(transcript_add_word(&t, "abcdefghi", at, at + 0.4, 1.0f, 0), 0);
    ASSERT_EQ(transcript_add_word(&t, "wxyz", at, at + 0.4, 1.0f, 0), 0);
    at += 0.5;
    ASSERT_EQ(transcript_add_word(&t, "z", at, at + 0.4, 1.0f, 0), 0);
    at += 0.5;
    ASSERT_EQ(transcript_finish(&t), 0);
    ASSERT_EQ(t.n_segments, 2);
    ASSERT_EQ(strlen(t.segments[0].text), 84);
    ASSERT_EQ(t.segments[0].n_words, 9);
    ASSERT_STREQ(t.segments[1].text, "z");
    transcript_release(&t);

    ASSERT_EQ(transcript_init(&t, "a", 100.0), 0);
    at = 0.0;
    for (int i = 0; i < 8; i++, at += 0.5)
        ASSERT_EQ(transcript_add_word(&t, "abcdefghi", at, at + 0.4, 1.0f, 0), 0);
    ASSERT_EQ(transcript_add_word(&t, "vwxyz", at, at + 0.4, 1.0f, 0), 0);
    ASSERT_EQ(transcript_finish(&t), 0);
    ASSERT_EQ(t.n_segments, 2);
    ASSERT_EQ(strlen(t.segments[0].text), 79);
    ASSERT_STREQ(t.segments[1].text, "vwxyz");
    transcript_release(&t);
}

/* The limit counts characters, not bytes: "é" is 2 bytes, 1 character. */
static void test_length_counts_characters(void)
{
    transcript t;
    ASSERT_EQ(transcript_init(&t, "a", 100.0), 0);
    double at = 0.0;
    for (int i = 0; i < 8; i++, at += 0.5)
        ASSERT_EQ(transcript_add_word(&t, "caf\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9", at,
                                      at + 0.4, 1.0f, 0),
                  0); /* 9 characters, 15 bytes */
    ASSERT_EQ(transcript_add_word(&t, "wxyz", at, at + 0.4, 1.0f, 0), 0);
    ASSERT_EQ(transcript_finish(&t), 0);
    ASSERT_EQ(t.n_segments, 1);
    transcript_release(&t);
}

/* A word longer than the limit still gets a segment of its own. */
static void test_overlong_word(void)
{
    transcript t;
    char big[120];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    ASSERT_EQ(transcript_init(&t, "a", 10.0), 0);
    ASSERT_EQ(transcript_add_word(&t, "a", 0.0, 0.1, 1.0f, 0), 0);
    ASSERT_EQ(transcript_add_word(&t, big, 0.2, 0.3, 1.0f, 0), 0);
    ASSERT_EQ(transcript_add_word(&t, "b", 0.4, 0.5, 1.0f, 0), 0);
    ASSERT_EQ(transcript_finish(&t), 0);
    ASSERT_EQ(t.n_segments, 3);
    ASSERT_STREQ(t.segments[1].text, big);
    transcript_release(&t);
}

/* Finishing twice rebuilds rather than leaking or duplicating. */
static void test_finish_twice(void)
{
    transcript t;
    ASSERT_EQ(transcript_init(&t, "a", 10.0), 0);
    ASSERT_EQ(transcript_add_word(&t, "a", 0.0, 0.1, 1.0f, 0), 0);
    ASSERT_EQ(transcript_finish(&t), 0);
    ASSERT_EQ(transcript_add_word(&t, "b", 0.2, 0.3, 1.0f, 0), 0);
    ASSERT_EQ(transcript_finish(&t), 0);
    ASSERT_EQ(t.n_segments, 1);
    ASSERT_STREQ(t.text, "a b");
    transcript_release(&t);
}

int main(void)
{
    RUN(test_init_and_release);
    RUN(test_empty);
    RUN(test_copies_text);
    RUN(test_growth);
    RUN(test_one_segment_joins_words);
    RUN(test_chunk_change_splits);
    RUN(test_gap_splits);
    RUN(test_length_limit);
    RUN(test_length_counts_characters);
    RUN(test_overlong_word);
    RUN(test_finish_twice);
    TEST_DONE();
}
