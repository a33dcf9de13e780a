#include "jobs/chunk_result.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

json_t *chunk_result_to_json(const asr_result *r)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < r->n_words; i++) {
        const asr_word *w = &r->words[i];
        json_t *item =
            json_pack("[s, f, f, f]", w->text, w->start_s, w->end_s, (double)w->confidence);
        if (!item || json_array_append_new(arr, item) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

static int bad(asr_result *r, hark_err *err, size_t i, const char *why)
{
    asr_result_release(r);
    return err_set(err, HARK_EINVAL, "malformed chunk result: word %zu: %s", i, why);
}

int chunk_result_from_json(const json_t *words, asr_result *r, hark_err *err)
{
    memset(r, 0, sizeof *r);
    if (!json_is_array(words))
        return err_set(err, HARK_EINVAL, "malformed chunk result: not an array");
    size_t n = json_array_size(words);
    if (n > CHUNK_RESULT_MAX_WORDS)
        return err_set(err, HARK_EINVAL, "malformed chunk result: %zu words", n);
    double prev_end = 0;
    for (size_t i = 0; i < n; i++) {
        const json_t *w = json_array_get(words, i);
        if (!json_is_array(w) || json_array_size(w) != 4)
            return bad(r, err, i, "not [word, start, end, confidence]");
        const json_t *t = json_array_get(w, 0);
        double v[3];
        for (int k = 0; k < 3; k++) {
            const json_t *x = json_array_get(w, (size_t)k + 1);
            if (!json_is_number(x))
                return bad(r, err, i, "a time or confidence is not a number");
            v[k] = json_number_value(x);
            if (!isfinite(v[k]) || v[k] < 0)
                return bad(r, err, i, "a time or confidence is negative or not finite");
        }
        if (!json_is_string(t) || json_string_length(t) == 0 || json_string_length(t) > 256)
            return bad(r, err, i, "the word is not a non-empty string of at most 256 bytes");
        if (v[1] < v[0] || v[0] < prev_end - 1e-6)
            return bad(r, err, i, "times out of order");
        if (v[2] > 1)
            return bad(r, err, i, "confidence above 1");
        prev_end = v[1];
        if (asr_result_add_word(r, json_string_value(t), json_string_length(t), v[0], v[1],
                                (float)v[2]))
            return bad(r, err, i, "out of memory");
    }
    return 0;
}

char *chunk_result_dumps(const asr_result *r)
{
    json_t *j = chunk_result_to_json(r);
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(9)) : NULL;
    json_decref(j);
    return s;
}

int chunk_result_loads(const char *text, asr_result *r, hark_err *err)
{
    memset(r, 0, sizeof *r);
    json_error_t je;
    json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    if (!j)
        return err_set(err, HARK_EINVAL, "malformed chunk result: %s", je.text);
    int rc = chunk_result_words(j, r, err);
    json_decref(j);
    return rc;
}

int chunk_result_words(const json_t *result, asr_result *r, hark_err *err)
{
    if (!json_is_object(result))
        return chunk_result_from_json(result, r, err);
    const json_t *words = json_object_get(result, "words");
    if (words)
        return chunk_result_from_json(words, r, err);
    memset(r, 0, sizeof *r);
    /* A task that heard nothing: an analysis of the audio alone, an export.
     * Anything else is not a result of any kind. */
    if (json_object_get(result, "features") || json_object_get(result, "artifact"))
        return 0;
    return err_set(err, HARK_EINVAL, "malformed chunk result: an object without words");
}

json_t *chunk_plan_to_json(const chunk_plan *p)
{
    json_t *chunks = json_array();
    for (size_t i = 0; chunks && i < p->n; i++) {
        json_t *c =
            json_pack("[I, I]", (json_int_t)p->chunks[i].start, (json_int_t)p->chunks[i].end);
        if (!c || json_array_append_new(chunks, c) != 0) {
            json_decref(chunks);
            return NULL;
        }
    }
    if (!chunks)
        return NULL;
    return json_pack("{s:I, s:o}", "total", (json_int_t)p->total_samples, "chunks", chunks);
}

int chunk_plan_from_json(const json_t *j, chunk_plan *p, hark_err *err)
{
    memset(p, 0, sizeof *p);
    const json_t *total = json_object_get(j, "total");
    const json_t *chunks = json_object_get(j, "chunks");
    if (!json_is_integer(total) || json_integer_value(total) < 0 || !json_is_array(chunks))
        return err_set(err, HARK_EINVAL, "malformed chunk plan: want {total, chunks}");
    size_t n = json_array_size(chunks);
    if (n > CHUNK_PLAN_MAX_CHUNKS)
        return err_set(err, HARK_EINVAL, "malformed chunk plan: %zu chunks", n);
    p->total_samples = json_integer_value(total);
    p->chunks = calloc(n ? n : 1, sizeof *p->chunks);
    if (!p->chunks)
        return err_set(err, HARK_ENOMEM, "out of memory");
    int64_t prev = 0;
    for (size_t i = 0; i < n; i++) {
        const json_t *c = json_array_get(chunks, i);
        const json_t *s = json_array_get(c, 0), *e = json_array_get(c, 1);
        if (!json_is_array(c) || json_array_size(c) != 2 || !json_is_integer(s) ||
            !json_is_integer(e)) {
            chunk_plan_release(p);
            return err_set(err, HARK_EINVAL, "malformed chunk plan: chunk %zu is not [start, end]",
                           i);
        }
        int64_t a = json_integer_value(s), b = json_integer_value(e);
        if (a < prev || b <= a || b > p->total_samples) {
            chunk_plan_release(p);
            return err_set(err, HARK_EINVAL,
                           "malformed chunk plan: chunk %zu [%lld, %lld) overlaps, is empty or "
                           "passes the end",
                           i, (long long)a, (long long)b);
        }
        p->chunks[i] = (chunk){a, b};
        prev = b;
    }
    p->n = n;
    return 0;
}
