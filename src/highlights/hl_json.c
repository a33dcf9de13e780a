#include "highlights/hl_json.h"

#include "util/buf.h"
#include "util/utf8.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DURATION (10 * 3600.0 + 60)

static json_t *jreal3(double x)
{
    if (!isfinite(x))
        x = 0.0;
    if (x > 1e12)
        x = 1e12;
    if (x < -1e12)
        x = -1e12;
    x = round(x * 1000.0) / 1000.0;
    if (x == 0.0)
        x = 0.0; /* no "-0.0" */
    return json_real(x);
}

/* A JSON string of s with invalid UTF-8 replaced by U+FFFD. */
static json_t *jstr(const char *s)
{
    if (!s)
        s = "";
    size_t n = strlen(s);
    if (utf8_valid(s, n))
        return json_stringn(s, n);
    buf b;
    buf_init(&b, 4 * n + 16);
    for (size_t i = 0; i < n;) {
        size_t l = utf8_char_len(s + i, n - i, NULL);
        if (l == 0) {
            if (buf_puts(&b, "\xEF\xBF\xBD") != 0)
                break;
            i++;
        } else {
            if (buf_append(&b, s + i, l) != 0)
                break;
            i += l;
        }
    }
    json_t *j = json_stringn(b.data ? b.data : "", b.len);
    buf_release(&b);
    return j;
}

static int set(json_t *o, const char *k, json_t *v)
{
    return json_object_set_new(o, k, v) == 0 ? 0 : -1;
}

static json_t *to_json(const hl_result *r, bool chapters)
{
    json_t *root = json_object(), *hs = json_array(), *da = json_array();
    int rc = 0;
    if (!root || !hs || !da) {
        json_decref(root);
        json_decref(hs);
        json_decref(da);
        return NULL;
    }
    rc |= set(root, "source", jstr(r->source));
    rc |= set(root, "duration", jreal3(r->duration));
    rc |= set(root, "highlights", hs);
    rc |= set(root, "dead_air", da);
    for (size_t i = 0; i < r->n && rc == 0; i++) {
        const hl_highlight *h = &r->h[i];
        json_t *o = json_object(), *rs = json_array();
        if (!o || !rs || json_array_append_new(hs, o) != 0) {
            json_decref(o);
            json_decref(rs);
            rc = -1;
            break;
        }
        rc |= set(o, "rank", json_integer(h->rank));
        rc |= set(o, "start", jreal3(h->start));
        rc |= set(o, "end", jreal3(h->end));
        rc |= set(o, "peak", jreal3(h->peak));
        rc |= set(o, "score", jreal3(h->score));
        rc |= set(o, "reasons", rs);
        for (size_t k = 0; k < h->n_reasons && rc == 0; k++)
            rc |= json_array_append_new(rs, jstr(h->reasons[k])) == 0 ? 0 : -1;
        rc |= set(o, "text", jstr(h->text));
    }
    for (size_t i = 0; i < r->n_dead && rc == 0; i++) {
        json_t *o = json_object();
        if (!o || json_array_append_new(da, o) != 0) {
            rc = -1;
            break;
        }
        rc |= set(o, "start", jreal3(r->dead_air[i].start));
        rc |= set(o, "end", jreal3(r->dead_air[i].end));
    }
    if (chapters && rc == 0) {
        json_t *cs = json_array();
        rc |= set(root, "chapters", cs);
        for (size_t i = 0; i < r->n_chapters && rc == 0; i++) {
            json_t *o = json_object();
            if (!o || json_array_append_new(cs, o) != 0) {
                rc = -1;
                break;
            }
            rc |= set(o, "start", jreal3(r->chapters[i].start));
            rc |= set(o, "title", jstr(r->chapters[i].title));
        }
    }
    if (rc != 0) {
        json_decref(root);
        return NULL;
    }
    return root;
}

json_t *hl_result_to_json(const hl_result *r)
{
    return to_json(r, true);
}

json_t *hl_result_to_json_highlights(const hl_result *r)
{
    return to_json(r, false);
}

/* --- parsing ------------------------------------------------------------- */

static int bad(hark_err *err, const char *what)
{
    return err_set(err, HARK_EINVAL, "bad highlights document: %s", what);
}

static bool get_num(const json_t *o, const char *k, double lo, double hi, double *v)
{
    json_t *x = json_object_get(o, k);
    if (!json_is_number(x))
        return false;
    *v = json_number_value(x);
    return isfinite(*v) && *v >= lo && *v <= hi;
}

/* A copy of string x of at most max bytes, valid UTF-8 without NUL; one
 * line (no control characters) when oneline. */
static int str_value(const json_t *x, size_t max, bool nonempty, bool oneline, char **out)
{
    if (!json_is_string(x))
        return HARK_EINVAL;
    size_t n = json_string_length(x);
    const char *s = json_string_value(x);
    if (n > max || (nonempty && n == 0) || memchr(s, '\0', n) || !utf8_valid(s, n))
        return HARK_EINVAL;
    for (size_t i = 0; oneline && i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return HARK_EINVAL;
    *out = strndup(s, n);
    return *out ? 0 : HARK_ENOMEM;
}

static int get_str(const json_t *o, const char *k, size_t max, bool nonempty, bool oneline,
                   char **out)
{
    return str_value(json_object_get(o, k), max, nonempty, oneline, out);
}

static int parse_highlight(const json_t *o, double dur, hl_highlight *h, hark_err *err, size_t i)
{
    char what[96];
    json_t *rank = json_object_get(o, "rank");
    if (!json_is_object(o))
        return snprintf(what, sizeof what, "highlight %zu is not an object", i), bad(err, what);
    if (!json_is_integer(rank) || json_integer_value(rank) < 1 ||
        json_integer_value(rank) > HL_JSON_MAX_HIGHLIGHTS)
        return snprintf(what, sizeof what, "highlight %zu: bad \"rank\"", i), bad(err, what);
    h->rank = (int)json_integer_value(rank);
    const double top = dur + 0.001;
    if (!get_num(o, "start", 0, top, &h->start) || !get_num(o, "end", 0, top, &h->end) ||
        !get_num(o, "peak", 0, top, &h->peak) || h->start > h->peak || h->peak > h->end)
        return snprintf(what, sizeof what, "highlight %zu: bad \"start\", \"peak\" or \"end\"", i),
               bad(err, what);
    if (!get_num(o, "score", -1e6, 1e6, &h->score))
        return snprintf(what, sizeof what, "highlight %zu: bad \"score\"", i), bad(err, what);
    json_t *rs = json_object_get(o, "reasons");
    if (!json_is_array(rs) || json_array_size(rs) > HL_JSON_MAX_REASONS)
        return snprintf(what, sizeof what, "highlight %zu: bad \"reasons\"", i), bad(err, what);
    h->reasons = calloc(json_array_size(rs) + 1, sizeof *h->reasons);
    if (!h->reasons)
        return err_set(err, HARK_ENOMEM, "cannot read highlights: out of memory");
    for (size_t k = 0; k < json_array_size(rs); k++) {
        int rc =
            str_value(json_array_get(rs, k), HL_JSON_MAX_REASON_BYTES, true, true, &h->reasons[k]);
        if (rc == HARK_ENOMEM)
            return err_set(err, HARK_ENOMEM, "cannot read highlights: out of memory");
        if (rc)
            return snprintf(what, sizeof what, "highlight %zu: reason %zu is not a short string", i,
                            k),
                   bad(err, what);
        h->n_reasons++;
    }
    int rc = get_str(o, "text", HL_JSON_MAX_TEXT_BYTES, false, false, &h->text);
    if (rc == HARK_ENOMEM)
        return err_set(err, HARK_ENOMEM, "cannot read highlights: out of memory");
    if (rc)
        return snprintf(what, sizeof what, "highlight %zu: bad \"text\"", i), bad(err, what);
    return 0;
}

int hl_result_from_json(const json_t *j, hl_result *out, hark_err *err)
{
    memset(out, 0, sizeof *out);
    int rc = 0;
    char what[96];
    if (!json_is_object(j))
        return bad(err, "not a JSON object");
    rc = get_str(j, "source", HL_JSON_MAX_SOURCE_BYTES, false, false, &out->source);
    if (rc) {
        rc = rc == HARK_ENOMEM ? err_set(err, rc, "cannot read highlights: out of memory")
                               : bad(err, "bad \"source\"");
        goto fail;
    }
    if (!get_num(j, "duration", 0, MAX_DURATION, &out->duration)) {
        rc = bad(err, "bad \"duration\"");
        goto fail;
    }
    json_t *hs = json_object_get(j, "highlights"), *da = json_object_get(j, "dead_air"),
           *cs = json_object_get(j, "chapters");
    if (!json_is_array(hs) || json_array_size(hs) > HL_JSON_MAX_HIGHLIGHTS) {
        rc = bad(err, "\"highlights\" is not an array of at most 100");
        goto fail;
    }
    if (!json_is_array(da) || json_array_size(da) > HL_JSON_MAX_DEAD) {
        rc = bad(err, "\"dead_air\" is not an array of at most 10000");
        goto fail;
    }
    if (cs && (!json_is_array(cs) || json_array_size(cs) > HL_CHAPTERS_MAX)) {
        rc = bad(err, "\"chapters\" is not an array of at most 100");
        goto fail;
    }
    size_t nh = json_array_size(hs), nd = json_array_size(da), nc = cs ? json_array_size(cs) : 0;
    out->h = calloc(nh + 1, sizeof *out->h);
    out->dead_air = calloc(nd + 1, sizeof *out->dead_air);
    out->chapters = calloc(nc + 1, sizeof *out->chapters);
    if (!out->h || !out->dead_air || !out->chapters) {
        rc = err_set(err, HARK_ENOMEM, "cannot read highlights: out of memory");
        goto fail;
    }
    bool seen[HL_JSON_MAX_HIGHLIGHTS + 1] = {0};
    for (size_t i = 0; i < nh; i++) {
        out->n++;
        rc = parse_highlight(json_array_get(hs, i), out->duration, &out->h[i], err, i);
        if (rc)
            goto fail;
        int rank = out->h[i].rank;
        if (rank > (int)nh || seen[rank]) {
            snprintf(what, sizeof what, "highlight %zu: rank %d repeated or above %zu", i, rank,
                     nh);
            rc = bad(err, what);
            goto fail;
        }
        seen[rank] = true;
        if (i > 0 && out->h[i].start < out->h[i - 1].start) {
            rc = bad(err, "highlights are not in time order");
            goto fail;
        }
    }
    for (size_t i = 0; i < nd; i++) {
        json_t *o = json_array_get(da, i);
        hl_span *s = &out->dead_air[i];
        if (!json_is_object(o) || !get_num(o, "start", 0, out->duration + 0.001, &s->start) ||
            !get_num(o, "end", s->start, out->duration + 0.001, &s->end)) {
            snprintf(what, sizeof what, "dead air %zu: bad \"start\" or \"end\"", i);
            rc = bad(err, what);
            goto fail;
        }
        out->n_dead++;
    }
    for (size_t i = 0; i < nc; i++) {
        json_t *o = json_array_get(cs, i);
        hl_chapter *c = &out->chapters[i];
        double lo = i == 0 ? 0 : out->chapters[i - 1].start + 1e-9;
        if (!json_is_object(o) || !get_num(o, "start", lo, out->duration + 0.001, &c->start) ||
            (i == 0 && c->start != 0)) {
            snprintf(what, sizeof what, "chapter %zu: bad \"start\" (first at 0, ascending)", i);
            rc = bad(err, what);
            goto fail;
        }
        rc = get_str(o, "title", HL_JSON_MAX_TITLE_BYTES, true, true, &c->title);
        if (rc) {
            rc = rc == HARK_ENOMEM ? err_set(err, rc, "cannot read highlights: out of memory")
                                   : (snprintf(what, sizeof what, "chapter %zu: bad \"title\"", i),
                                      bad(err, what));
            goto fail;
        }
        out->n_chapters++;
    }
    return 0;
fail:
    hl_result_release(out);
    return rc;
}
