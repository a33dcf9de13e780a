/* expo_lint.h - a small checker of the Prometheus text format, for tests.
 *
 * Header-only, like util/test.h: the metrics tests run it over everything
 * they render, and a test of GET /metrics can too. It checks what a
 * Prometheus scrape would reject or silently misread, line by line:
 *
 *   - every line ends in '\n'; "# HELP name text" escapes only \\ and \n;
 *     "# TYPE name t" names a known type, once, before the family's samples;
 *   - a sample is name{label="value",...} value: valid names, no label
 *     twice, values valid UTF-8 escaping only \\ \" \n, the value a float
 *     ("+Inf", "-Inf", "NaN" included); no series twice;
 *   - for a histogram family, each series' _bucket lines come together with
 *     le strictly increasing, counts never falling, the last le "+Inf", and
 *     its _count equal to that last bucket.
 *
 * expo_lint returns NULL when the text passes, else a static message
 * naming the line.
 */
#ifndef HARK_METRICS_EXPO_LINT_H
#define HARK_METRICS_EXPO_LINT_H

#include "util/utf8.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXPO_LINT_MAX_LINES 4096
#define EXPO_LINT_MAX_FAMILIES 256

typedef struct expo_lint_state {
    char families[EXPO_LINT_MAX_FAMILIES][128]; /* names given a TYPE */
    char types[EXPO_LINT_MAX_FAMILIES][16];
    bool sampled[EXPO_LINT_MAX_FAMILIES]; /* a sample of it was seen */
    size_t n_families;
    char *series[EXPO_LINT_MAX_LINES]; /* "name{labels}" seen, labels in order */
    size_t n_series;
    /* the histogram series whose buckets are being read */
    char bucket_key[1024]; /* family + labels other than le, "" if none */
    double last_le, last_count;
    bool seen_inf;
    char inf_key[1024]; /* series whose buckets ended in +Inf, for its _count */
    double inf_count;
} expo_lint_state;

static inline bool expo_lint_name_(const char *s, size_t n, bool colon)
{
    if (n == 0 || (s[0] >= '0' && s[0] <= '9'))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || (colon && c == ':')))
            return false;
    }
    return true;
}

static inline bool expo_lint_float_(const char *s, double *out)
{
    if (strcmp(s, "+Inf") == 0 || strcmp(s, "-Inf") == 0 || strcmp(s, "NaN") == 0) {
        *out = strcmp(s, "NaN") == 0 ? NAN : s[0] == '+' ? INFINITY : -INFINITY;
        return true;
    }
    char *end;
    *out = strtod(s, &end);
    return *s && *end == '\0' && isfinite(*out);
}

static inline int expo_lint_family_(expo_lint_state *st, const char *name, size_t n)
{
    for (size_t i = 0; i < st->n_families; i++)
        if (strlen(st->families[i]) == n && strncmp(st->families[i], name, n) == 0)
            return (int)i;
    return -1;
}

/* The family a sample name belongs to: itself, or for histograms the name
 * without _bucket/_sum/_count. -1 if untyped. *suffix gets the suffix. */
static inline int expo_lint_family_of_(expo_lint_state *st, const char *name, size_t n,
                                       const char **suffix)
{
    static const char *const sfx[] = {"_bucket", "_sum", "_count"};
    *suffix = "";
    for (size_t k = 0; k < 3; k++) {
        size_t l = strlen(sfx[k]);
        if (n > l && strncmp(name + n - l, sfx[k], l) == 0) {
            int f = expo_lint_family_(st, name, n - l);
            if (f >= 0 && strcmp(st->types[f], "histogram") == 0) {
                *suffix = sfx[k];
                return f;
            }
        }
    }
    return expo_lint_family_(st, name, n);
}

static inline const char *expo_lint_help_(const char *s)
{
    for (; *s; s++)
        if (*s == '\\' && s[1] != '\\' && s[1] != 'n')
            return "HELP text with a bad escape";
        else if (*s == '\\')
            s++;
    return NULL;
}

/* One sample line (NUL-terminated, no '\n'). */
static inline const char *expo_lint_sample_(expo_lint_state *st, const char *line)
{
    const char *p = line;
    while (*p && *p != '{' && *p != ' ')
        p++;
    size_t name_len = (size_t)(p - line);
    if (!expo_lint_name_(line, name_len, true))
        return "bad metric name";
    const char *suffix;
    int f = expo_lint_family_of_(st, line, name_len, &suffix);
    if (f >= 0)
        st->sampled[f] = true;
    bool hist = f >= 0 && strcmp(st->types[f], "histogram") == 0;
    if (hist && !*suffix)
        return "histogram sample without _bucket, _sum or _count";

    char key[1024], rest_key[1024], le[64] = "";
    int kn = snprintf(key, sizeof key, "%.*s{", (int)name_len, line);
    int rn = snprintf(rest_key, sizeof rest_key, "%.*s{", (int)(name_len - strlen(suffix)), line);
    char names[16][128];
    size_t n_names = 0;
    if (*p == '{') {
        p++;
        while (*p != '}') {
            const char *ln = p;
            while (*p && *p != '=')
                p++;
            size_t ll = (size_t)(p - ln);
            if (!*p || !expo_lint_name_(ln, ll, false) || ll >= 128 || n_names >= 16)
                return "bad label name";
            for (size_t i = 0; i < n_names; i++)
                if (strlen(names[i]) == ll && strncmp(names[i], ln, ll) == 0)
                    return "label given twice";
            snprintf(names[n_names++], 128, "%.*s", (int)ll, ln);
            if (p[1] != '"')
                return "label value not quoted";
            p += 2;
            char val[512];
            size_t vn = 0;
            for (; *p && *p != '"'; p++) {
                char c = *p;
                if (c == '\\') {
                    p++;
                    if (*p != '\\' && *p != '"' && *p != 'n')
                        return "label value with a bad escape";
                    c = *p == 'n' ? '\n' : *p;
                }
                if (vn + 1 >= sizeof val)
                    return "label value too long for the checker";
                val[vn++] = c;
            }
            if (*p != '"')
                return "label value not closed";
            val[vn] = '\0';
            if (!utf8_valid(val, vn))
                return "label value not UTF-8";
            bool is_le = ll == 2 && strncmp(ln, "le", 2) == 0;
            if (is_le)
                snprintf(le, sizeof le, "%.63s", val);
            kn += snprintf(key + kn, sizeof key - (size_t)kn, "%.*s=%s,", (int)ll, ln, val);
            if (!is_le)
                rn += snprintf(rest_key + rn, sizeof rest_key - (size_t)rn, "%.*s=%s,", (int)ll, ln,
                               val);
            if ((size_t)kn >= sizeof key || (size_t)rn >= sizeof rest_key)
                return "series too long for the checker";
            p++;
            if (*p == ',')
                p++;
            else if (*p != '}')
                return "labels not separated by ','";
        }
        p++;
    }
    if (*p != ' ')
        return "no space before the value";
    p++;
    char value[64];
    const char *sp = strchr(p, ' '); /* an optional timestamp follows */
    size_t vl = sp ? (size_t)(sp - p) : strlen(p);
    if (vl >= sizeof value)
        return "value too long";
    snprintf(value, sizeof value, "%.*s", (int)vl, p);
    double v;
    if (!expo_lint_float_(value, &v))
        return "value is not a number";
    if (sp) {
        char *end;
        strtoll(sp + 1, &end, 10);
        if (end == sp + 1 || *end)
            return "bad timestamp";
    }

    for (size_t i = 0; i < st->n_series; i++)
        if (strcmp(st->series[i], key) == 0)
            return "series given twice";
    if (st->n_series >= EXPO_LINT_MAX_LINES)
        return "too many lines for the checker";
    st->series[st->n_series] = strdup(key);
    if (!st->series[st->n_series++])
        return "out of memory";

    if (hist && strcmp(suffix, "_bucket") == 0) {
        double lev;
        if (!*le || !expo_lint_float_(le, &lev) || isnan(lev))
            return "bucket without a numeric le";
        if (strcmp(st->bucket_key, rest_key) != 0) {
            if (st->bucket_key[0] && !st->seen_inf)
                return "buckets of a series not ended by le=\"+Inf\"";
            snprintf(st->bucket_key, sizeof st->bucket_key, "%s", rest_key);
            st->seen_inf = false;
        } else if (st->seen_inf || !(lev > st->last_le)) {
            return "bucket bounds not increasing";
        } else if (v < st->last_count) {
            return "bucket counts not cumulative";
        }
        st->last_le = lev;
        st->last_count = v;
        if (isinf(lev)) {
            st->seen_inf = true;
            snprintf(st->inf_key, sizeof st->inf_key, "%s", rest_key);
            st->inf_count = v;
        }
    } else if (hist) {
        if (st->bucket_key[0] && !st->seen_inf)
            return "buckets of a series not ended by le=\"+Inf\"";
        st->bucket_key[0] = '\0';
        if (*le)
            return "le on a _sum or _count sample";
        if (strcmp(suffix, "_count") == 0 &&
            (strcmp(st->inf_key, rest_key) != 0 || v != st->inf_count))
            return "_count is not the +Inf bucket";
    }
    return NULL;
}

static inline const char *expo_lint_line_(expo_lint_state *st, const char *line)
{
    if (strncmp(line, "# HELP ", 7) == 0 || strncmp(line, "# TYPE ", 7) == 0) {
        const char *name = line + 7, *sp = strchr(name, ' ');
        size_t n = sp ? (size_t)(sp - name) : strlen(name);
        if (!expo_lint_name_(name, n, true))
            return "bad metric name in a comment";
        if (line[2] == 'H')
            return sp ? expo_lint_help_(sp + 1) : NULL;
        static const char *const types[] = {"counter", "gauge", "histogram", "summary", "untyped"};
        bool known = false;
        for (size_t i = 0; sp && i < 5; i++)
            known = known || strcmp(sp + 1, types[i]) == 0;
        if (!known)
            return "unknown TYPE";
        int f = expo_lint_family_(st, name, n);
        if (f >= 0)
            return "TYPE given twice";
        for (size_t i = 0; i < st->n_series; i++)
            if (strncmp(st->series[i], name, n) == 0 && st->series[i][n] == '{')
                return "TYPE after a sample";
        if (st->n_families >= EXPO_LINT_MAX_FAMILIES || n >= 128)
            return "too many families for the checker";
        snprintf(st->families[st->n_families], 128, "%.*s", (int)n, name);
        snprintf(st->types[st->n_families++], 16, "%s", sp + 1);
        return NULL;
    }
    if (line[0] == '#' || line[0] == '\0')
        return NULL; /* a comment or a blank line */
    return expo_lint_sample_(st, line);
}

static inline const char *expo_lint(const char *text)
{
    static char msg[256];
    expo_lint_state *st = calloc(1, sizeof *st);
    if (!st)
        return "out of memory";
    const char *err = NULL;
    size_t lineno = 0;
    char line[4096];
    for (const char *p = text; *p && !err;) {
        const char *nl = strchr(p, '\n');
        lineno++;
        if (!nl)
            err = "last line without '\\n'";
        else if ((size_t)(nl - p) >= sizeof line)
            err = "line too long for the checker";
        if (err)
            break;
        memcpy(line, p, (size_t)(nl - p));
        line[nl - p] = '\0';
        err = expo_lint_line_(st, line);
        p = nl + 1;
    }
    if (!err && st->bucket_key[0] && !st->seen_inf)
        err = "buckets of a series not ended by le=\"+Inf\"";
    for (size_t i = 0; i < st->n_series; i++)
        free(st->series[i]);
    free(st);
    if (!err)
        return NULL;
    snprintf(msg, sizeof msg, "line %zu: %s", lineno, err);
    return msg;
}

#endif
