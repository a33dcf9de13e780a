#include "metrics/metrics.h"

#include "metrics/expo_lint.h"
#include "util/test.h"

#include <pthread.h>

/* Render r, check the text with the format checker, return it (free it). */
static char *render(metrics_registry *r)
{
    buf b;
    buf_init(&b, 1 << 20);
    ASSERT_EQ(metrics_render(r, &b), 0);
    char *s = buf_steal(&b);
    const char *why = expo_lint(s);
    if (why)
        TEST_FAIL_("not valid exposition text: %s\n%s", why, s);
    return s;
}

static void test_small_registry_exact_text(void)
{
    metrics_registry *r = metrics_registry_new();
    ASSERT(r);
    hark_err err = {0};
    metric *req = metrics_counter(r, "t_requests_total", "Requests handled.",
                                  METRIC_LABELS("code", "route"), &err);
    metric *up = metrics_gauge(r, "t_up", "1 when up.", NULL, &err);
    metric *boot = metrics_counter(r, "t_boots_total", "", NULL, &err);
    const double bounds[] = {0.1, 0.5, 2};
    metric *lat = metrics_histogram(r, "t_latency_seconds", "Latency.", METRIC_LABELS("class"),
                                    bounds, 3, &err);
    metric *empty = metrics_gauge(r, "t_depth", "Never used.", METRIC_LABELS("q"), &err);
    ASSERT(req && up && boot && lat && empty);

    metric_inc(req, METRIC_LABELS("2xx", "/b"));
    metric_add(req, METRIC_LABELS("5xx", "/a"), 2);
    metric_inc(req, METRIC_LABELS("2xx", "/b"));
    metric_set(up, NULL, 1);
    metric_observe(lat, METRIC_LABELS("low"), 0.1); /* on a bound: in that bucket */
    metric_observe(lat, METRIC_LABELS("low"), 0.3);
    metric_observe(lat, METRIC_LABELS("low"), 7); /* past the last bound: +Inf only */
    metric_observe(lat, METRIC_LABELS("high"), 0.05);

    char *s = render(r);
    ASSERT_STREQ(s, "# HELP t_requests_total Requests handled.\n"
                    "# TYPE t_requests_total counter\n"
                    "t_requests_total{code=\"2xx\",route=\"/b\"} 2\n"
                    "t_requests_total{code=\"5xx\",route=\"/a\"} 2\n"
                    "# HELP t_up 1 when up.\n"
                    "# TYPE t_up gauge\n"
                    "t_up 1\n"
                    "# HELP t_boots_total \n"
                    "# TYPE t_boots_total counter\n"
                    "t_boots_total 0\n"
                    "# HELP t_latency_seconds Latency.\n"
                    "# TYPE t_latency_seconds histogram\n"
                    "t_latency_seconds_bucket{class=\"low\",le=\"0.1\"} 1\n"
                    "t_latency_seconds_bucket{class=\"low\",le=\"0.5\"} 2\n"
                    "t_latency_seconds_bucket{class=\"low\",le=\"2\"} 2\n"
                    "t_latency_seconds_bucket{class=\"low\",le=\"+Inf\"} 3\n"
                    "t_latency_seconds_sum{class=\"low\"} 7.4\n"
                    "t_latency_seconds_count{class=\"low\"} 3\n"
                    "t_latency_seconds_bucket{class=\"high\",le=\"0.1\"} 1\n"
                    "t_latency_seconds_bucket{class=\"high\",le=\"0.5\"} 1\n"
                    "t_latency_seconds_bucket{class=\"high\",le=\"2\"} 1\n"
                    "t_latency_seconds_bucket{class=\"high\",le=\"+Inf\"} 1\n"
                    "t_latency_seconds_sum{class=\"high\"} 0.05\n"
                    "t_latency_seconds_count{class=\"high\"} 1\n"
                    "# HELP t_depth Never used.\n"
                    "# TYPE t_depth gauge\n");
    free(s);
    ASSERT_EQ(metric_value(req, METRIC_LABELS("2xx", "/b")), 2);
    ASSERT_EQ(metric_value(lat, METRIC_LABELS("low")), 3);
    ASSERT(isnan(metric_value(req, METRIC_LABELS("3xx", "/b")))); /* and not created */
    ASSERT(isnan(metric_value(empty, METRIC_LABELS("x"))));
    s = render(r);
    ASSERT(!strstr(s, "3xx"));
    free(s);
    metrics_registry_free(r);
}

static void test_histogram_without_labels(void)
{
    metrics_registry *r = metrics_registry_new();
    const double bounds[] = {1};
    metric *h = metrics_histogram(r, "t_h", "H.", NULL, bounds, 1, NULL);
    ASSERT(h);
    char *s = render(r);
    ASSERT_STREQ(s, "# HELP t_h H.\n"
                    "# TYPE t_h histogram\n"
                    "t_h_bucket{le=\"1\"} 0\n"
                    "t_h_bucket{le=\"+Inf\"} 0\n"
                    "t_h_sum 0\n"
                    "t_h_count 0\n");
    free(s);
    metrics_registry_free(r);
}

static void test_escaping(void)
{
    metrics_registry *r = metrics_registry_new();
    metric *g = metrics_gauge(r, "t_g", "Help with \\ backslash,\nnewline and \"quotes\".",
                              METRIC_LABELS("v"), NULL);
    ASSERT(g);
    metric_set(g, METRIC_LABELS("back\\slash \"quoted\"\nnext line"), 1);
    metric_set(g, METRIC_LABELS("caf\xc3\xa9 {a=b,c}"), 2);
    metric_set(g, METRIC_LABELS(""), 3);
    char *s = render(r);
    ASSERT_STREQ(s, "# HELP t_g Help with \\\\ backslash,\\nnewline and \"quotes\".\n"
                    "# TYPE t_g gauge\n"
                    "t_g{v=\"back\\\\slash \\\"quoted\\\"\\nnext line\"} 1\n"
                    "t_g{v=\"caf\xc3\xa9 {a=b,c}\"} 2\n"
                    "t_g{v=\"\"} 3\n");
    free(s);
    metrics_registry_free(r);
}

static void test_float_formatting(void)
{
    static const struct {
        double v;
        const char *want;
    } cases[] = {
        {0, "0"},
        {-0.0, "0"},
        {1, "1"},
        {-3, "-3"},
        {42, "42"},
        {1e6, "1000000"},
        {2147483648.0, "2147483648"},
        {1e15, "1000000000000000"},
        {9007199254740992.0, "9007199254740992"},
        {9007199254740994.0, "9007199254740994"}, /* %.16g needs no exponent */
        {1e17, "1e+17"},
        {1e300, "1e+300"},
        {0.1, "0.1"},
        {0.25, "0.25"},
        {0.005, "0.005"},
        {1e-6, "1e-06"},
        {2.5, "2.5"},
        {-7.75, "-7.75"},
        {1.0 / 3, "0.3333333333333333"},
        {0.1 + 0.2, "0.30000000000000004"},
        {123456.789, "123456.789"},
        {INFINITY, "+Inf"},
        {-INFINITY, "-Inf"},
        {NAN, "NaN"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[40];
        ASSERT_STREQ(metrics_format_double(cases[i].v, out, sizeof out), cases[i].want);
    }
    /* Whatever the value, the text reads back as the same double. */
    srand(7);
    for (int i = 0; i < 20000; i++) {
        double v = ldexp((double)rand() / RAND_MAX - 0.5, rand() % 200 - 100);
        char out[40];
        metrics_format_double(v, out, sizeof out);
        ASSERT(strtod(out, NULL) == v);
        ASSERT(!strchr(out, ',') && !strchr(out, ' '));
    }
}

static void test_histogram_buckets_are_cumulative(void)
{
    metrics_registry *r = metrics_registry_new();
    const double bounds[] = {1, 2, 4, 8};
    metric *h = metrics_histogram(r, "t_h", "H.", METRIC_LABELS("k"), bounds, 4, NULL);
    ASSERT(h);
    /* 0..9 once each, -1 and the bounds once more; NaN is ignored. */
    for (int i = 0; i < 10; i++)
        metric_observe(h, METRIC_LABELS("x"), i);
    metric_observe(h, METRIC_LABELS("x"), -1);
    for (int i = 0; i < 4; i++)
        metric_observe(h, METRIC_LABELS("x"), bounds[i]);
    metric_observe(h, METRIC_LABELS("x"), NAN);
    metric_observe(h, METRIC_LABELS("x"), INFINITY);
    char *s = render(r);
    ASSERT_STREQ(s, "# HELP t_h H.\n"
                    "# TYPE t_h histogram\n"
                    "t_h_bucket{k=\"x\",le=\"1\"} 4\n"     /* -1 0 1 1 */
                    "t_h_bucket{k=\"x\",le=\"2\"} 6\n"     /* 2 2 */
                    "t_h_bucket{k=\"x\",le=\"4\"} 9\n"     /* 3 4 4 */
                    "t_h_bucket{k=\"x\",le=\"8\"} 14\n"    /* 5 6 7 8 8 */
                    "t_h_bucket{k=\"x\",le=\"+Inf\"} 16\n" /* 9 inf */
                    "t_h_sum{k=\"x\"} +Inf\n"
                    "t_h_count{k=\"x\"} 16\n");
    free(s);
    metrics_registry_free(r);
}

static void test_label_cardinality_is_capped(void)
{
    metrics_registry *r = metrics_registry_new();
    metric *c = metrics_counter(r, "t_c_total", "C.", METRIC_LABELS("id"), NULL);
    const double bounds[] = {1};
    metric *h = metrics_histogram(r, "t_h", "H.", METRIC_LABELS("id"), bounds, 1, NULL);
    ASSERT(c && h);
    for (int i = 0; i < 200; i++) {
        char id[16];
        snprintf(id, sizeof id, "id%03d", i);
        metric_inc(c, METRIC_LABELS(id));
        metric_observe(h, METRIC_LABELS(id), 0.5);
        metric_inc(c, METRIC_LABELS(id)); /* again: the same series (or the overflow) */
    }
    /* The first 63 tuples have their own series, the rest share the overflow. */
    ASSERT_EQ(metric_value(c, METRIC_LABELS("id000")), 2);
    ASSERT_EQ(metric_value(c, METRIC_LABELS("id062")), 2);
    ASSERT_EQ(metric_value(c, METRIC_LABELS(METRICS_OVERFLOW)), 2 * (200 - 63));
    ASSERT(isnan(metric_value(c, METRIC_LABELS("id063"))));
    /* An existing tuple still finds its own series when the cap is reached. */
    metric_inc(c, METRIC_LABELS("id010"));
    ASSERT_EQ(metric_value(c, METRIC_LABELS("id010")), 3);

    char *s = render(r);
    size_t lines = 0, overflow_lines = 0;
    double total = 0;
    for (char *p = s; (p = strstr(p, "t_c_total{")); p++) {
        lines++;
        total += strtod(strchr(p, ' ') + 1, NULL);
    }
    for (char *p = s; (p = strstr(p, METRICS_OVERFLOW)); p++)
        overflow_lines++;
    ASSERT_EQ(lines, METRICS_MAX_SERIES);
    ASSERT_EQ(total, 401); /* nothing lost */
    /* The overflow series comes last; counter and histogram (4 lines) each have one. */
    ASSERT(strstr(s, "t_c_total{id=\"" METRICS_OVERFLOW "\"} 274\n# HELP t_h"));
    ASSERT_EQ(overflow_lines, 1 + 4);
    ASSERT(strstr(s, "t_h_count{id=\"" METRICS_OVERFLOW "\"} 137\n"));
    free(s);
    metrics_registry_free(r);
}

static void test_bad_values_go_to_overflow(void)
{
    metrics_registry *r = metrics_registry_new();
    metric *c = metrics_counter(r, "t_c_total", "C.", METRIC_LABELS("a", "b"), NULL);
    ASSERT(c);
    char longv[METRICS_MAX_VALUE + 2];
    memset(longv, 'x', sizeof longv - 1);
    longv[sizeof longv - 1] = '\0';
    metric_inc(c, METRIC_LABELS("ok", longv)); /* too long */
    longv[METRICS_MAX_VALUE] = '\0';
    metric_inc(c, METRIC_LABELS("ok", longv));                        /* just fits */
    metric_inc(c, METRIC_LABELS("ok", "bad \xff utf-8"));             /* not UTF-8 */
    metric_inc(c, METRIC_LABELS("only one"));                         /* too few */
    metric_inc(c, METRIC_LABELS("1", "2", "3"));                      /* too many */
    metric_inc(c, NULL);                                              /* none */
    metric_inc(c, METRIC_LABELS(METRICS_OVERFLOW, METRICS_OVERFLOW)); /* it, by name */
    metric_inc(c, METRIC_LABELS("ok", "fine"));
    ASSERT_EQ(metric_value(c, METRIC_LABELS(METRICS_OVERFLOW, METRICS_OVERFLOW)), 6);
    ASSERT_EQ(metric_value(c, METRIC_LABELS("ok", longv)), 1);
    char *s = render(r);
    char want[1024];
    snprintf(want, sizeof want,
             "# HELP t_c_total C.\n"
             "# TYPE t_c_total counter\n"
             "t_c_total{a=\"ok\",b=\"%s\"} 1\n"
             "t_c_total{a=\"ok\",b=\"fine\"} 1\n"
             "t_c_total{a=\"" METRICS_OVERFLOW "\",b=\"" METRICS_OVERFLOW "\"} 6\n",
             longv);
    ASSERT_STREQ(s, want);
    free(s);
    metrics_registry_free(r);
}

static void test_updates_that_do_nothing(void)
{
    metrics_registry *r = metrics_registry_new();
    metric *c = metrics_counter(r, "t_c_total", "C.", NULL, NULL);
    metric *g = metrics_gauge(r, "t_g", "G.", NULL, NULL);
    const double bounds[] = {1};
    metric *h = metrics_histogram(r, "t_h", "H.", NULL, bounds, 1, NULL);
    ASSERT(c && g && h);
    metric_add(c, NULL, -1); /* counters only go up */
    metric_add(c, NULL, NAN);
    metric_observe(c, NULL, 1); /* wrong kind */
    metric_add(h, NULL, 1);
    metric_set(h, NULL, 1);
    metric_observe(g, NULL, 1);
    metric_inc(NULL, NULL); /* a failed registration */
    metric_observe(NULL, NULL, 1);
    ASSERT(isnan(metric_value(NULL, NULL)));
    ASSERT_EQ(metric_value(c, NULL), 0);
    ASSERT_EQ(metric_value(h, NULL), 0);
    ASSERT_EQ(metric_value(g, NULL), 0);
    /* What does work: gauges go both ways, a counter can be set (totals kept elsewhere). */
    metric_add(g, NULL, -2.5);
    metric_inc(g, NULL);
    ASSERT_EQ(metric_value(g, NULL) * 2, -3);
    metric_set(c, NULL, 40);
    metric_inc(c, METRIC_LABELS("ignored")); /* no labels: values are ignored */
    ASSERT_EQ(metric_value(c, NULL), 41);
    metric_set(g, NULL, NAN);
    char *s = render(r);
    ASSERT(strstr(s, "\nt_c_total 41\n"));
    ASSERT(strstr(s, "\nt_g NaN\n"));
    free(s);
    metrics_registry_free(r);
}

static void test_registration_errors(void)
{
    metrics_registry *r = metrics_registry_new();
    hark_err err = {0};
    const double ok_bounds[] = {1, 2}, flat[] = {1, 1}, down[] = {2, 1}, inf[] = {1, INFINITY};
    ASSERT(metrics_counter(r, "t_ok_total", "ok", NULL, &err));
    ASSERT(!metrics_counter(r, "t_ok_total", "again", NULL, &err));
    ASSERT_EQ(err.code, HARK_EINVAL);
    ASSERT_STREQ(err.msg, "metric t_ok_total registered twice");
    ASSERT(!metrics_gauge(r, "t_ok_total", "as a gauge", NULL, &err));
    ASSERT(!metrics_gauge(r, "", "x", NULL, &err));
    ASSERT(!metrics_gauge(r, NULL, "x", NULL, &err));
    ASSERT(!metrics_gauge(r, "9lives", "x", NULL, &err));
    ASSERT(!metrics_gauge(r, "t-dash", "x", NULL, &err));
    ASSERT(!metrics_gauge(r, "t_nohelp", NULL, NULL, &err));
    ASSERT(metrics_gauge(r, "t:colon_ok", "x", NULL, &err));
    ASSERT(!metrics_gauge(r, "t_l1", "x", METRIC_LABELS("a:b"), &err));
    ASSERT(!metrics_gauge(r, "t_l2", "x", METRIC_LABELS("__reserved"), &err));
    ASSERT(!metrics_gauge(r, "t_l3", "x", METRIC_LABELS("a", "a"), &err));
    ASSERT_STREQ(err.msg, "metric t_l3: label 'a' twice");
    ASSERT(!metrics_gauge(r, "t_l4", "x", METRIC_LABELS("a", "b", "c", "d", "e"), &err));
    ASSERT(metrics_gauge(r, "t_l5", "x", METRIC_LABELS("a", "b", "c", "d"), &err));
    ASSERT(metrics_gauge(r, "t_le", "le is fine outside histograms", METRIC_LABELS("le"), &err));
    ASSERT(!metrics_histogram(r, "t_h1", "x", METRIC_LABELS("le"), ok_bounds, 2, &err));
    ASSERT(!metrics_histogram(r, "t_h2", "x", NULL, flat, 2, &err));
    ASSERT(!metrics_histogram(r, "t_h3", "x", NULL, down, 2, &err));
    ASSERT(!metrics_histogram(r, "t_h4", "x", NULL, inf, 2, &err));
    ASSERT(!metrics_histogram(r, "t_h5", "x", NULL, ok_bounds, 0, &err));
    ASSERT(!metrics_histogram(r, "t_h6", "x", NULL, NULL, 2, &err));
    ASSERT(metrics_histogram(r, "t_h7", "x", NULL, ok_bounds, 2, &err));
    ASSERT(!metrics_counter(NULL, "t_x", "x", NULL, &err));
    ASSERT(!metrics_counter(r, "t_noerr", "x", METRIC_LABELS("a", "a"), NULL));
    char *s = render(r);
    ASSERT(strstr(s, "# TYPE t_ok_total counter\nt_ok_total 0\n# HELP t:colon_ok x\n"));
    free(s);
    metrics_registry_free(r);
    metrics_registry_free(NULL);
}

/* ---- collect callbacks ---- */

struct collect_ctx {
    metric *depth, *total;
    int calls;
};

static void collect_depth(void *arg)
{
    struct collect_ctx *c = arg;
    c->calls++;
    static const char *const classes[] = {"realtime", "normal"};
    for (int i = 0; i < 2; i++)
        metric_set(c->depth, METRIC_LABELS(classes[i]), c->calls * (i + 1));
    metric_set(c->total, NULL, 100 + c->calls);
    /* Reading is fine too: the registry's lock is not held here. */
    ASSERT_EQ(metric_value(c->total, NULL), 100 + c->calls);
}

static void test_collect_callback(void)
{
    metrics_registry *r = metrics_registry_new();
    struct collect_ctx c = {0};
    c.depth = metrics_gauge(r, "t_depth", "Queued.", METRIC_LABELS("priority"), NULL);
    c.total = metrics_counter(r, "t_refused_total", "Refused.", NULL, NULL);
    ASSERT(c.depth && c.total);
    ASSERT_EQ(metrics_on_collect(r, collect_depth, &c), 0);
    char *s = render(r);
    ASSERT_STREQ(s, "# HELP t_depth Queued.\n"
                    "# TYPE t_depth gauge\n"
                    "t_depth{priority=\"realtime\"} 1\n"
                    "t_depth{priority=\"normal\"} 2\n"
                    "# HELP t_refused_total Refused.\n"
                    "# TYPE t_refused_total counter\n"
                    "t_refused_total 101\n");
    free(s);
    s = render(r);
    ASSERT(strstr(s, "t_depth{priority=\"normal\"} 4\n"));
    ASSERT(strstr(s, "t_refused_total 102\n"));
    free(s);
    ASSERT_EQ(c.calls, 2);
    for (int i = 1; i < METRICS_MAX_COLLECT; i++)
        ASSERT_EQ(metrics_on_collect(r, collect_depth, &c), 0);
    ASSERT_EQ(metrics_on_collect(r, collect_depth, &c), HARK_ENOMEM);
    free(render(r));
    ASSERT_EQ(c.calls, 2 + METRICS_MAX_COLLECT);
    metrics_registry_free(r);
}

static void test_render_respects_the_buffer_cap(void)
{
    metrics_registry *r = metrics_registry_new();
    ASSERT(metrics_gauge(r, "t_g", "A gauge with a long enough help text.", NULL, NULL));
    buf b;
    buf_init(&b, 32);
    ASSERT_EQ(metrics_render(r, &b), HARK_ENOMEM);
    buf_release(&b);
    buf_init(&b, 1024);
    ASSERT_EQ(buf_puts(&b, "# before\n"), 0);
    ASSERT_EQ(metrics_render(r, &b), 0); /* it appends */
    ASSERT_STREQ(b.data, "# before\n# HELP t_g A gauge with a long enough help text.\n"
                         "# TYPE t_g gauge\nt_g 0\n");
    buf_release(&b);
    metrics_registry_free(r);
}

/* ---- threads ---- */

#define N_THREADS 4
#define N_UPDATES 50000

struct worker_arg {
    metric *c, *g, *h;
    int id;
};

static void *hammer(void *p)
{
    struct worker_arg *a = p;
    static const char *const codes[] = {"2xx", "4xx", "5xx"};
    for (int i = 0; i < N_UPDATES; i++) {
        metric_inc(a->c, METRIC_LABELS(codes[i % 3]));
        metric_add(a->g, NULL, (a->id % 2) ? 1 : -1);
        metric_observe(a->h, NULL, (i % 4) * 0.5);
    }
    return NULL;
}

static void *scraper(void *p)
{
    metrics_registry *r = p;
    for (int i = 0; i < 50; i++) {
        buf b;
        buf_init(&b, 1 << 20);
        ASSERT_EQ(metrics_render(r, &b), 0);
        const char *why = expo_lint(b.data);
        if (why)
            TEST_FAIL_("%s", why);
        buf_release(&b);
    }
    return NULL;
}

static void test_concurrent_updates_sum_correctly(void)
{
    metrics_registry *r = metrics_registry_new();
    const double bounds[] = {0.25, 1};
    struct worker_arg a[N_THREADS];
    metric *c = metrics_counter(r, "t_c_total", "C.", METRIC_LABELS("code"), NULL);
    metric *g = metrics_gauge(r, "t_g", "G.", NULL, NULL);
    metric *h = metrics_histogram(r, "t_h", "H.", NULL, bounds, 2, NULL);
    ASSERT(c && g && h);
    pthread_t th[N_THREADS], scrape;
    ASSERT_EQ(pthread_create(&scrape, NULL, scraper, r), 0);
    for (int t = 0; t < N_THREADS; t++) {
        a[t] = (struct worker_arg){c, g, h, t};
        ASSERT_EQ(pthread_create(&th[t], NULL, hammer, &a[t]), 0);
    }
    for (int t = 0; t < N_THREADS; t++)
        pthread_join(th[t], NULL);
    pthread_join(scrape, NULL);

    ASSERT_EQ(metric_value(c, METRIC_LABELS("2xx")), N_THREADS * ((N_UPDATES + 2) / 3));
    ASSERT_EQ(metric_value(c, METRIC_LABELS("4xx")), N_THREADS * ((N_UPDATES + 1) / 3));
    ASSERT_EQ(metric_value(c, METRIC_LABELS("5xx")), N_THREADS * (N_UPDATES / 3));
    ASSERT_EQ(metric_value(g, NULL), 0);
    ASSERT_EQ(metric_value(h, NULL), N_THREADS * N_UPDATES);
    char *s = render(r);
    char want[512];
    /* Per thread, i % 4 gives 0, 0.5, 1, 1.5 equally often. */
    long q = (long)N_THREADS * N_UPDATES / 4;
    snprintf(want, sizeof want,
             "t_h_bucket{le=\"0.25\"} %ld\nt_h_bucket{le=\"1\"} %ld\n"
             "t_h_bucket{le=\"+Inf\"} %ld\nt_h_sum %ld\nt_h_count %ld\n",
             q, 3 * q, 4 * q, 3 * q, 4 * q);
    ASSERT(strstr(s, want));
    free(s);
    metrics_registry_free(r);
}

/* The checker itself rejects what it should. */
static void test_lint_rejects_bad_text(void)
{
    static const char *const bad[] = {
        "m 1",
        "m{a=\"x\"} one\n",
        "m{a=x} 1\n",
        "m{a=\"x\",a=\"y\"} 1\n",
        "m{a=\"\\t\"} 1\n",
        "m{a=\"\xff\"} 1\n",
        "m 1\nm 2\n",
        "# TYPE m gauge\n# TYPE m gauge\n",
        "# TYPE m thing\n",
        "# HELP m a \\t tab\n",
        "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n",
        "# TYPE h histogram\nh_bucket{le=\"2\"} 1\nh_bucket{le=\"1\"} 1\n",
        "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\n",
        "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_count 1\n",
        "# TYPE h histogram\nh 1\n",
        "9m 1\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (!expo_lint(bad[i]))
            TEST_FAIL_("accepted bad text %zu: %s", i, bad[i]);
    ASSERT(!expo_lint("# a comment\n\nm{a=\"x\\\\\\\"\\n\"} -1.5e3 1700000000000\nm NaN\n"));
}

int main(void)
{
    RUN(test_small_registry_exact_text);
    RUN(test_histogram_without_labels);
    RUN(test_escaping);
    RUN(test_float_formatting);
    RUN(test_histogram_buckets_are_cumulative);
    RUN(test_label_cardinality_is_capped);
    RUN(test_bad_values_go_to_overflow);
    RUN(test_updates_that_do_nothing);
    RUN(test_registration_errors);
    RUN(test_collect_callback);
    RUN(test_render_respects_the_buffer_cap);
    RUN(test_concurrent_updates_sum_correctly);
    RUN(test_lint_rejects_bad_text);
    TEST_DONE();
}
