/* metrics.h - a small Prometheus metrics registry (text exposition 0.0.4).
 *
 * A registry holds metrics: counters, gauges and histograms (fixed bucket
 * bounds). Each metric has a fixed list of label names, given when it is
 * registered; a series (one value, or one set of buckets) is created the
 * first time a tuple of label values is used. A metric without labels has
 * its one series from the start, so it is rendered (as 0) before any update.
 *
 * Order, so output can be compared exactly: metrics in registration order,
 * series of a metric in the order they were created (first use, or
 * metric_touch), the overflow series last.
 *
 * Bounded: a metric has at most METRICS_MAX_SERIES series. The last slot
 * is reserved for the overflow series, whose every label value is
 * METRICS_OVERFLOW ("__overflow__"). An update whose tuple has no series
 * and cannot get one goes there: when the other slots are full, when a
 * value is longer than METRICS_MAX_VALUE bytes or is not valid UTF-8 (a
 * scrape with invalid UTF-8 fails whole), or when the number of values is
 * not the number of labels. So the sum over a metric's series stays the
 * true total, only the detail is lost, and memory never grows past the cap.
 *
 * Threads: one mutex per registry guards every metric and series. An
 * update is a lock, a search of at most 64 series comparing strings, some
 * arithmetic and an unlock; only a series' first use allocates. Hark
 * updates per request, per chunk and per job, far too seldom for one lock
 * to be contended, and a single lock makes a render one consistent
 * snapshot. Every function is thread-safe.
 *
 * Collect callbacks (metrics_on_collect) run at the start of every render,
 * on the rendering thread, in the order they were added, without the
 * registry's lock held: they may call any update function, and may take
 * other locks (the store's) without an order to respect.
 *
 * Updates are no-ops on a NULL metric (a failed registration does not crash
 * call sites) and on the wrong kind (observe on a counter ...).
 */
#ifndef HARK_METRICS_METRICS_H
#define HARK_METRICS_METRICS_H

#include "util/buf.h"
#include "util/err.h"

#include <stddef.h>
#include <stdint.h>

#define METRICS_MAX_SERIES 64 /* per metric, the overflow series included */
#define METRICS_MAX_LABELS 4  /* label names per metric */
#define METRICS_MAX_BUCKETS 32
#define METRICS_MAX_VALUE 128 /* bytes of a label value */
#define METRICS_MAX_COLLECT 8 /* collect callbacks per registry */
#define METRICS_OVERFLOW "__overflow__"

/* The Content-Type of metrics_render's output. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* A NULL-terminated list of label names or values, as the functions below
 * take them:  metric_inc(m, METRIC_LABELS("2xx")). Metrics without labels
 * take NULL. */
#define METRIC_LABELS(...) ((const char *const[]){__VA_ARGS__, NULL})

typedef struct metrics_registry metrics_registry;
typedef struct metric metric;

enum metric_kind { METRIC_COUNTER = 0, METRIC_GAUGE = 1, METRIC_HISTOGRAM = 2 };

/* An empty registry, or NULL when out of memory. */
metrics_registry *metrics_registry_new(void);

/* Free the registry and its metrics (their pointers become invalid).
 * NULL is fine. No other thread may use it any more. */
void metrics_registry_free(metrics_registry *r);

/* Register a metric. name matches [a-zA-Z_:][a-zA-Z0-9_:]* and is new in
 * the registry; help is one line of text (may be empty); label_names is
 * NULL or a NULL-terminated list of up to METRICS_MAX_LABELS distinct
 * names matching [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__". Returns
 * the metric, owned by the registry, or NULL with err set (HARK_EINVAL for
 * a bad or taken name, HARK_ENOMEM). */
metric *metrics_counter(metrics_registry *r, const char *name, const char *help,
                        const char *const *label_names, hark_err *err);
metric *metrics_gauge(metrics_registry *r, const char *name, const char *help,
                      const char *const *label_names, hark_err *err);

/* A histogram with n_bounds (1..METRICS_MAX_BUCKETS) finite, strictly
 * increasing upper bounds; the +Inf bucket is implicit. "le" may not be a
 * label name. Renders name_bucket{...,le="B"} (cumulative), name_sum and
 * name_count for each series. */
metric *metrics_histogram(metrics_registry *r, const char *name, const char *help,
                          const char *const *label_names, const double *bounds, size_t n_bounds,
                          hark_err *err);

/* Run fn(ctx) at the start of every render (see above), e.g. to set gauges
 * from the store. Returns 0, or HARK_ENOMEM past METRICS_MAX_COLLECT. */
int metrics_on_collect(metrics_registry *r, void (*fn)(void *ctx), void *ctx);

/* values: NULL or NULL-terminated, one per label name, in their order
 * (ignored for a metric without labels). */

/* Counter or gauge: add v. On a counter, v < 0 and NaN are ignored (a
 * counter only goes up). */
void metric_add(metric *m, const char *const *values, double v);
/* metric_add(m, values, 1). */
void metric_inc(metric *m, const char *const *values);
/* Gauge: set to v (NaN and the infinities render as such). Counter: set
 * the total, for counts kept elsewhere (the store's persisted counters,
 * read in a collect callback); the source must never go down. */
void metric_set(metric *m, const char *const *values, double v);
/* Histogram: count one observation of v (NaN is ignored). */
void metric_observe(metric *m, const char *const *values, double v);
/* Create the series (at 0) if it does not exist, so it is rendered before
 * its first update and in a chosen order. */
void metric_touch(metric *m, const char *const *values);

/* The value of a counter or gauge series, or a histogram series' count;
 * NaN when there is no such series (none is created). For tests. */
double metric_value(metric *m, const char *const *values);

/* Run the collect callbacks, then append the whole registry in the text
 * exposition format to out. Returns 0, or HARK_ENOMEM when out hit its cap
 * (out then holds a partial page; reset it). */
int metrics_render(metrics_registry *r, buf *out);

/* v as a Prometheus sample value into out (at least 32 bytes): integers up
 * to 2^53 exactly and without an exponent ("42", "-3", "0"), other finite
 * values in the shortest %g form that reads back the same ("0.25",
 * "1e-06"), "+Inf", "-Inf", "NaN". Relies on the C locale's '.' (hark
 * never calls setlocale). Returns out. */
char *metrics_format_double(double v, char *out, size_t outlen);

#endif
