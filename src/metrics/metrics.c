/* metrics.c - see metrics.h. */
#include "metrics/metrics.h"

#include "util/utf8.h"

#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct series {
    char *values[METRICS_MAX_LABELS]; /* one per label name */
    double value;                     /* counter, gauge */
    double sum;                       /* histogram */
    uint64_t count;                   /* histogram: observations */
    uint64_t *buckets; /* histogram: observations per bound, not cumulative (the render adds) */
} series;

struct metric {
    metrics_registry *r; /* whose lock guards the series */
    enum metric_kind kind;
    char *name, *help;
    size_t n_labels;
    char *labels[METRICS_MAX_LABELS];
    double bounds[METRICS_MAX_BUCKETS];
    size_t n_bounds;
    series *series[METRICS_MAX_SERIES - 1]; /* in creation order */
    size_t n_series;
    series *overflow; /* the reserved last slot, created on first need */
};

typedef struct collect_hook {
    void (*fn)(void *ctx);
    void *ctx;
} collect_hook;

struct metrics_registry {
    pthread_mutex_t mu; /* guards everything below and every metric's series */
    metric **metrics;   /* in registration order */
    size_t n_metrics, cap_metrics;
    collect_hook collect[METRICS_MAX_COLLECT];
    size_t n_collect;
};

/* ---- series ------------------------------------------------------------ */

static void series_free(series *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < METRICS_MAX_LABELS; i++)
        free(s->values[i]);
    free(s->buckets);
    free(s);
}

static series *series_new(const metric *m, const char *const *values)
{
    series *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    for (size_t i = 0; i < m->n_labels; i++) {
        s->values[i] = strdup(values ? values[i] : METRICS_OVERFLOW);
        if (!s->values[i]) {
            series_free(s);
            return NULL;
        }
    }
    if (m->kind == METRIC_HISTOGRAM) {
        s->buckets = calloc(m->n_bounds, sizeof *s->buckets);
        if (!s->buckets) {
            series_free(s);
            return NULL;
        }
    }
    return s;
}

/* The values can name a series of their own: the right count, each short
 * and valid UTF-8, and not the overflow tuple itself. */
static bool values_ok(const metric *m, const char *const *values)
{
    if (!values)
        return false;
    size_t n = 0;
    bool all_overflow = true;
    for (; values[n]; n++) {
        if (n >= m->n_labels)
            return false;
        size_t len = strnlen(values[n], METRICS_MAX_VALUE + 1);
        if (len > METRICS_MAX_VALUE || !utf8_valid(values[n], len))
            return false;
        all_overflow = all_overflow && strcmp(values[n], METRICS_OVERFLOW) == 0;
    }
    return n == m->n_labels && !all_overflow;
}

/* The series for values, created if create. NULL when it does not exist
 * and either create is false or memory ran out. Lock held. */
static series *series_get(metric *m, const char *const *values, bool create)
{
    if (m->n_labels == 0)
        return m->series[0];
    if (values_ok(m, values)) {
        for (size_t i = 0; i < m->n_series; i++) {
            series *s = m->series[i];
            size_t k = 0;
            while (k < m->n_labels && strcmp(s->values[k], values[k]) == 0)
                k++;
            if (k == m->n_labels)
                return s;
        }
        if (!create)
            return NULL;
        if (m->n_series < METRICS_MAX_SERIES - 1) {
            series *s = series_new(m, values);
            if (s) {
                m->series[m->n_series++] = s;
                return s;
            }
        }
    }
    if (!m->overflow && create)
        m->overflow = series_new(m, NULL);
    return m->overflow;
}

/* ---- registration ------------------------------------------------------ */

static bool name_ok(const char *s, bool colon)
{
    if (!s || !*s || (*s >= '0' && *s <= '9'))
        return false;
    for (; *s; s++) {
        char c = *s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || (colon && c == ':')))
            return false;
    }
    return true;
}

metrics_registry *metrics_registry_new(void)
{
    metrics_registry *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    if (pthread_mutex_init(&r->mu, NULL)) {
        free(r);
        return NULL;
    }
    return r;
}

static void metric_free(metric *m)
{
    free(m->name);
    free(m->help);
    for (size_t i = 0; i < m->n_labels; i++)
        free(m->labels[i]);
    for (size_t i = 0; i < m->n_series; i++)
        series_free(m->series[i]);
    series_free(m->overflow);
    free(m);
}

void metrics_registry_free(metrics_registry *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_metrics; i++)
        metric_free(r->metrics[i]);
    free(r->metrics);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

/* 0 if a metric so described may be registered, else HARK_EINVAL with err set. */
static int check_spec(enum metric_kind kind, const char *name, const char *help,
                      const char *const *label_names, const double *bounds, size_t n_bounds,
                      hark_err *err)
{
    if (!name_ok(name, true) || !help)
        return err_set(err, HARK_EINVAL, "bad metric name '%s'", name ? name : "(null)");
    for (size_t n = 0; label_names && label_names[n]; n++) {
        const char *l = label_names[n];
        if (n >= METRICS_MAX_LABELS)
            return err_set(err, HARK_EINVAL, "metric %s: more than %d labels", name,
                           METRICS_MAX_LABELS);
        if (!name_ok(l, false) || strncmp(l, "__", 2) == 0 ||
            (kind == METRIC_HISTOGRAM && strcmp(l, "le") == 0))
            return err_set(err, HARK_EINVAL, "metric %s: bad label name '%s'", name, l);
        for (size_t k = 0; k < n; k++)
            if (strcmp(label_names[k], l) == 0)
                return err_set(err, HARK_EINVAL, "metric %s: label '%s' twice", name, l);
    }
    if (kind != METRIC_HISTOGRAM)
        return 0;
    if (!bounds || n_bounds < 1 || n_bounds > METRICS_MAX_BUCKETS)
        return err_set(err, HARK_EINVAL, "histogram %s: wants 1..%d bucket bounds", name,
                       METRICS_MAX_BUCKETS);
    for (size_t i = 0; i < n_bounds; i++)
        if (!isfinite(bounds[i]) || (i > 0 && !(bounds[i] > bounds[i - 1])))
            return err_set(err, HARK_EINVAL, "histogram %s: bounds must be finite and increasing",
                           name);
    return 0;
}

static metric *add_metric(metrics_registry *r, enum metric_kind kind, const char *name,
                          const char *help, const char *const *label_names, const double *bounds,
                          size_t n_bounds, hark_err *err)
{
    if (!r) {
        err_set(err, HARK_EINVAL, "no registry");
        return NULL;
    }
    if (check_spec(kind, name, help, label_names, bounds, n_bounds, err))
        return NULL;
    metric *m = calloc(1, sizeof *m);
    if (!m) {
        err_set(err, HARK_ENOMEM, "out of memory");
        return NULL;
    }
    m->r = r;
    m->kind = kind;
    if (kind == METRIC_HISTOGRAM) {
        m->n_bounds = n_bounds;
        memcpy(m->bounds, bounds, n_bounds * sizeof *bounds);
    }
    m->name = strdup(name);
    m->help = strdup(help);
    bool ok = m->name && m->help;
    for (; label_names && label_names[m->n_labels]; m->n_labels++)
        ok = (m->labels[m->n_labels] = strdup(label_names[m->n_labels])) && ok;
    if (ok && m->n_labels == 0) {
        /* The one series exists from the start: a scrape shows 0, not nothing. */
        ok = (m->series[0] = series_new(m, NULL)) != NULL;
        m->n_series = ok;
    }
    if (!ok) {
        metric_free(m);
        err_set(err, HARK_ENOMEM, "out of memory");
        return NULL;
    }

    pthread_mutex_lock(&r->mu);
    int rc = 0;
    for (size_t i = 0; i < r->n_metrics && !rc; i++)
        if (strcmp(r->metrics[i]->name, name) == 0)
            rc = err_set(err, HARK_EINVAL, "metric %s registered twice", name);
    if (!rc && r->n_metrics == r->cap_metrics) {
        size_t cap = r->cap_metrics ? 2 * r->cap_metrics : 16;
        metric **p = realloc(r->metrics, cap * sizeof *p);
        if (p) {
            r->metrics = p;
            r->cap_metrics = cap;
        } else {
            rc = err_set(err, HARK_ENOMEM, "out of memory");
        }
    }
    if (!rc)
        r->metrics[r->n_metrics++] = m;
    pthread_mutex_unlock(&r->mu);
    if (rc) {
        metric_free(m);
        return NULL;
    }
    return m;
}

metric *metrics_counter(metrics_registry *r, const char *name, const char *help,
                        const char *const *label_names, hark_err *err)
{
    return add_metric(r, METRIC_COUNTER, name, help, label_names, NULL, 0, err);
}

metric *metrics_gauge(metrics_registry *r, const char *name, const char *help,
                      const char *const *label_names, hark_err *err)
{
    return add_metric(r, METRIC_GAUGE, name, help, label_names, NULL, 0, err);
}

metric *metrics_histogram(metrics_registry *r, const char *name, const char *help,
                          const char *const *label_names, const double *bounds, size_t n_bounds,
                          hark_err *err)
{
    return add_metric(r, METRIC_HISTOGRAM, name, help, label_names, bounds, n_bounds, err);
}

int metrics_on_collect(metrics_registry *r, void (*fn)(void *ctx), void *ctx)
{
    int rc = HARK_ENOMEM;
    pthread_mutex_lock(&r->mu);
    if (r->n_collect < METRICS_MAX_COLLECT) {
        r->collect[r->n_collect++] = (collect_hook){fn, ctx};
        rc = 0;
    }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

/* ---- updates ----------------------------------------------------------- */

enum op { OP_ADD, OP_SET, OP_OBSERVE, OP_TOUCH };

static void update(metric *m, const char *const *values, enum op op, double v)
{
    if (!m)
        return;
    bool scalar = m->kind == METRIC_COUNTER || m->kind == METRIC_GAUGE;
    if ((op == OP_ADD || op == OP_SET) && !scalar)
        return;
    if (op == OP_OBSERVE && (m->kind != METRIC_HISTOGRAM || isnan(v)))
        return;
    if (op == OP_ADD && m->kind == METRIC_COUNTER && !(v >= 0))
        return;
    pthread_mutex_lock(&m->r->mu);
    series *s = series_get(m, values, true);
    if (s && op == OP_ADD) {
        s->value += v;
    } else if (s && op == OP_SET) {
        s->value = v;
    } else if (s && op == OP_OBSERVE) {
        size_t i = 0;
        while (i < m->n_bounds && !(v <= m->bounds[i]))
            i++;
        if (i < m->n_bounds)
            s->buckets[i]++; /* past the last bound: only in count, the +Inf bucket */
        s->count++;
        s->sum += v;
    }
    pthread_mutex_unlock(&m->r->mu);
}

void metric_add(metric *m, const char *const *values, double v)
{
    update(m, values, OP_ADD, v);
}

void metric_inc(metric *m, const char *const *values)
{
    update(m, values, OP_ADD, 1);
}

void metric_set(metric *m, const char *const *values, double v)
{
    update(m, values, OP_SET, v);
}

void metric_observe(metric *m, const char *const *values, double v)
{
    update(m, values, OP_OBSERVE, v);
}

void metric_touch(metric *m, const char *const *values)
{
    update(m, values, OP_TOUCH, 0);
}

double metric_value(metric *m, const char *const *values)
{
    if (!m)
        return NAN;
    pthread_mutex_lock(&m->r->mu);
    series *s = series_get(m, values, false);
    double v = !s ? NAN : m->kind == METRIC_HISTOGRAM ? (double)s->count : s->value;
    pthread_mutex_unlock(&m->r->mu);
    return v;
}

/* ---- rendering --------------------------------------------------------- */

char *metrics_format_double(double v, char *out, size_t outlen)
{
    if (isnan(v)) {
        snprintf(out, outlen, "NaN");
    } else if (isinf(v)) {
        snprintf(out, outlen, "%s", v > 0 ? "+Inf" : "-Inf");
    } else if (v == 0) {
        snprintf(out, outlen, "0"); /* and not "-0" */
    } else if (v == trunc(v) && fabs(v) <= 9007199254740992.0) {
        snprintf(out, outlen, "%.0f", v); /* 2^53: every integer up to it is exact */
    } else {
        for (int prec = 15; prec <= 17; prec++) {
            snprintf(out, outlen, "%.*g", prec, v);
            if (strtod(out, NULL) == v)
                break;
        }
    }
    return out;
}

static int put_value(buf *b, double v)
{
    char num[40];
    return buf_puts(b, metrics_format_double(v, num, sizeof num));
}

/* HELP text: backslash and newline escaped (format 0.0.4). */
static int put_help(buf *b, const char *s)
{
    int rc = 0;
    for (; *s && !rc; s++) {
        if (*s == '\\')
            rc = buf_puts(b, "\\\\");
        else if (*s == '\n')
            rc = buf_puts(b, "\\n");
        else
            rc = buf_append(b, s, 1);
    }
    return rc;
}

/* A label value: backslash, double quote and newline escaped. */
static int put_label_value(buf *b, const char *s)
{
    int rc = buf_puts(b, "\"");
    for (; *s && !rc; s++) {
        if (*s == '\\')
            rc = buf_puts(b, "\\\\");
        else if (*s == '"')
            rc = buf_puts(b, "\\\"");
        else if (*s == '\n')
            rc = buf_puts(b, "\\n");
        else
            rc = buf_append(b, s, 1);
    }
    return rc ? rc : buf_puts(b, "\"");
}

/* name{labels[,le="le"]} value\n; le may be NULL. */
static int put_sample(buf *b, const metric *m, const char *suffix, const series *s, const char *le,
                      double v)
{
    int rc = buf_printf(b, "%s%s", m->name, suffix);
    if (!rc && (m->n_labels || le)) {
        rc = buf_puts(b, "{");
        for (size_t i = 0; i < m->n_labels && !rc; i++) {
            rc = buf_printf(b, "%s%s=", i ? "," : "", m->labels[i]);
            rc = rc ? rc : put_label_value(b, s->values[i]);
        }
        if (!rc && le) {
            rc = buf_printf(b, "%sle=", m->n_labels ? "," : "");
            rc = rc ? rc : put_label_value(b, le);
        }
        rc = rc ? rc : buf_puts(b, "}");
    }
    rc = rc ? rc : buf_puts(b, " ");
    rc = rc ? rc : put_value(b, v);
    return rc ? rc : buf_puts(b, "\n");
}

static int put_series(buf *b, const metric *m, const series *s)
{
    if (m->kind != METRIC_HISTOGRAM)
        return put_sample(b, m, "", s, NULL, s->value);
    int rc = 0;
    uint64_t cumulative = 0;
    for (size_t i = 0; i < m->n_bounds && !rc; i++) {
        char le[40];
        cumulative += s->buckets[i];
        metrics_format_double(m->bounds[i], le, sizeof le);
        rc = put_sample(b, m, "_bucket", s, le, (double)cumulative);
    }
    rc = rc ? rc : put_sample(b, m, "_bucket", s, "+Inf", (double)s->count);
    rc = rc ? rc : put_sample(b, m, "_sum", s, NULL, s->sum);
    return rc ? rc : put_sample(b, m, "_count", s, NULL, (double)s->count);
}

static int put_metric(buf *b, const metric *m)
{
    static const char *const kinds[] = {"counter", "gauge", "histogram"};
    int rc = buf_printf(b, "# HELP %s ", m->name);
    rc = rc ? rc : put_help(b, m->help);
    rc = rc ? rc : buf_printf(b, "\n# TYPE %s %s\n", m->name, kinds[m->kind]);
    for (size_t i = 0; i < m->n_series && !rc; i++)
        rc = put_series(b, m, m->series[i]);
    if (!rc && m->overflow)
        rc = put_series(b, m, m->overflow);
    return rc;
}

int metrics_render(metrics_registry *r, buf *out)
{
    /* Callbacks first and unlocked: they update metrics (which locks) and
     * may read the store (its own lock). */
    collect_hook hooks[METRICS_MAX_COLLECT];
    pthread_mutex_lock(&r->mu);
    size_t n = r->n_collect;
    memcpy(hooks, r->collect, n * sizeof *hooks);
    pthread_mutex_unlock(&r->mu);
    for (size_t i = 0; i < n; i++)
        hooks[i].fn(hooks[i].ctx);

    int rc = 0;
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->n_metrics && !rc; i++)
        rc = put_metric(out, r->metrics[i]);
    pthread_mutex_unlock(&r->mu);
    return rc;
}
