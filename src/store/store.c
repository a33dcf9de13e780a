/* store.c - the store seam: pick a backend by location, check the arguments
 * of every store.h call once, and delegate to the backend's ops
 * (store_backend.h). Nothing here knows SQL.
 *
 * Locations: "sqlite:PATH" or a plain PATH is SQLite; a PostgreSQL
 * connection string ("postgresql://...", "postgres://...", or libpq's
 * "key=value ..." form) is PostgreSQL (pg_store.c). */
#include "store/store.h"

#include "store/pg_conn.h"
#include "store/store_backend.h"
#include "util/beneath.h"

#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- backends ------------------------------------------------------------ */

int64_t store_real_now_ms(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int store_backend_check(const store_backend_ops *o, hark_err *err)
{
    const char *missing = !o->name                 ? "name"
                          : !o->schema_version     ? "schema_version"
                          : !o->open               ? "open"
                          : !o->close              ? "close"
                          : !o->submit             ? "submit"
                          : !o->get_job            ? "get_job"
                          : !o->list_jobs          ? "list_jobs"
                          : !o->claim              ? "claim"
                          : !o->peek               ? "peek"
                          : !o->renew              ? "renew"
                          : !o->commit_chunk       ? "commit_chunk"
                          : !o->commit_prepare     ? "commit_prepare"
                          : !o->release            ? "release"
                          : !o->expire_leases      ? "expire_leases"
                          : !o->fail_overdue       ? "fail_overdue"
                          : !o->recover            ? "recover"
                          : !o->control            ? "control"
                          : !o->retry              ? "retry"
                          : !o->list_unreleased    ? "list_unreleased"
                          : !o->mark_released      ? "mark_released"
                          : !o->prune              ? "prune"
                          : !o->list_chunks_from   ? "list_chunks_from"
                          : !o->add_stage          ? "add_stage"
                          : !o->find_cached_chunks ? "find_cached_chunks"
                          : !o->input_append       ? "input_append"
                          : !o->input_close        ? "input_close"
                          : !o->list_open_inputs   ? "list_open_inputs"
                          : !o->commit_live_chunk  ? "commit_live_chunk"
                          : !o->live_partial       ? "live_partial"
                          : !o->finish_live        ? "finish_live"
                          : !o->list_events        ? "list_events"
                          : !o->list_events_since  ? "list_events_since"
                          : !o->latest_event_id    ? "latest_event_id"
                          : !o->last_event_id      ? "last_event_id"
                          : !o->add_event          ? "add_event"
                          : !o->claim_webhooks     ? "claim_webhooks"
                          : !o->record_webhook     ? "record_webhook"
                          : !o->list_webhooks      ? "list_webhooks"
                          : !o->count_work         ? "count_work"
                          : !o->get_counters       ? "get_counters"
                          : !o->check              ? "check"
                                                   : NULL;
    if (missing)
        return err_set(err, HARK_EINVAL, "store backend '%s' lacks its %s callback",
                       o->name ? o->name : "?", missing);
    return 0;
}

/* The SQLite backend's table, checked once (tableam's rule: a table with a
 * hole is refused when it is met, not when the hole is called). */
static pthread_once_t backends_once = PTHREAD_ONCE_INIT;
static hark_err backend_check_err;
static int backend_check_rc;

static void check_backends(void)
{
    backend_check_rc = store_backend_check(&store_sqlite_ops, &backend_check_err);
    if (backend_check_rc == 0)
        backend_check_rc = store_backend_check(&store_pg_ops, &backend_check_err);
}

/* Whether location is a PostgreSQL connection string: a URI, or libpq's
 * keyword=value form, recognized by its first keyword being one of
 * libpq's (so a file named "notes=old.db" stays a SQLite path). */
static bool is_postgres_location(const char *loc)
{
    static const char *const keywords[] = {
        "host",
        "hostaddr",
        "port",
        "dbname",
        "user",
        "password",
        "passfile",
        "service",
        "options",
        "application_name",
        "connect_timeout",
        "sslmode",
        "sslrootcert",
        "sslcert",
        "sslkey",
        "target_session_attrs",
        "client_encoding",
        "keepalives",
        "gssencmode",
        "channel_binding",
    };
    if (strncmp(loc, "postgresql://", 13) == 0 || strncmp(loc, "postgres://", 11) == 0)
        return true;
    const char *p = loc;
    while (isspace((unsigned char)*p))
        p++;
    const char *word = p;
    while (isalpha((unsigned char)*p) || *p == '_')
        p++;
    size_t n = (size_t)(p - word);
    while (isspace((unsigned char)*p))
        p++;
    if (*p != '=')
        return false;
    for (size_t i = 0; i < sizeof keywords / sizeof keywords[0]; i++)
        if (strlen(keywords[i]) == n && strncmp(word, keywords[i], n) == 0)
            return true;
    return false;
}

/* ---- open, close, durability ----------------------------------------------- */

/* Fill opt's defaults and check its ranges (store.h, store_options). */
static int resolve_options(const char *location, const store_options *opt, store_options *o,
                           hark_err *err)
{
    memset(o, 0, sizeof *o);
    if (opt)
        *o = *opt;
    if (o->max_attempts == 0)
        o->max_attempts = 3;
    if (o->backoff_base_ms == 0)
        o->backoff_base_ms = 1000;
    if (o->backoff_max_ms == 0)
        o->backoff_max_ms = 30000;
    if (o->busy_timeout_ms == 0)
        o->busy_timeout_ms = 10000;
    if (o->sync_interval_ms == 0)
        o->sync_interval_ms = 1000;
    if (o->webhook_max_attempts == 0)
        o->webhook_max_attempts = STORE_WEBHOOK_MAX_ATTEMPTS;
    if (o->resource_backoff_base_ms == 0)
        o->resource_backoff_base_ms = 5000;
    if (o->resource_backoff_max_ms == 0)
        o->resource_backoff_max_ms = 60000;
    if (o->max_resource_waits == 0)
        o->max_resource_waits = 30;
    if (o->max_attempts < 1 || o->max_attempts > 20 || o->backoff_base_ms < 0 ||
        o->backoff_max_ms < 0 || o->backoff_base_ms > INT64_MAX >> 21 || o->busy_timeout_ms < 0 ||
        o->sync_interval_ms < 1 || o->sync_interval_ms > 60000 || o->webhook_max_attempts < 1 ||
        o->webhook_max_attempts > 100 || o->resource_backoff_base_ms < 0 ||
        o->resource_backoff_base_ms > INT64_MAX >> 21 || o->resource_backoff_max_ms < 0 ||
        o->max_resource_waits < 1 || o->max_resource_waits > 1000)
        return err_set(err, HARK_EINVAL, "bad store options for '%s'", location);
    if ((o->node && strnlen(o->node, 256) > 255) ||
        (o->incarnation && strnlen(o->incarnation, 256) > 255) ||
        (o->machine && strnlen(o->machine, 256) > 255))
        return err_set(err, HARK_EINVAL, "store node name too long for '%s'", location);
    if (!o->now_ms)
        o->now_ms = store_real_now_ms;
    return 0;
}

int store_open(const char *location, const store_options *opt, store **out, hark_err *err)
{
    store_options o;
    *out = NULL;
    if (!location || !location[0])
        return err_set(err, HARK_EINVAL, "store path is empty");
    const store_backend_ops *ops = &store_sqlite_ops;
    const char *path = location;
    if (is_postgres_location(location))
        ops = &store_pg_ops;
    else if (strncmp(path, "sqlite:", 7) == 0) {
        path += 7;
        if (!path[0])
            return err_set(err, HARK_EINVAL, "store path is empty");
    }
    /* Messages name a connection string without its password. */
    char shown[1024];
    if (ops == &store_pg_ops)
        pg_redact(location, shown, sizeof shown);
    else
        snprintf(shown, sizeof shown, "%s", path);
    int rc = resolve_options(shown, opt, &o, err);
    if (rc)
        return rc;
    pthread_once(&backends_once, check_backends);
    if (backend_check_rc) {
        if (err)
            *err = backend_check_err;
        return backend_check_rc;
    }
    return ops->open(path, &o, out, err);
}

void store_close(store *st)
{
    if (st)
        st->ops->close(st);
}

int store_flush(store *st, hark_err *err)
{
    return st->ops->flush ? st->ops->flush(st, err) : 0;
}

void store_location_shown(const char *location, char *out, size_t n)
{
    if (is_postgres_location(location))
        pg_redact(location, out, n);
    else
        snprintf(out, n, "%s", strncmp(location, "sqlite:", 7) == 0 ? location + 7 : location);
}

int store_watch(store *st, hark_err *err)
{
    if (!st->ops->watch || !st->opt.on_remote_change)
        return 0;
    return st->ops->watch(st, err);
}

void store_unwatch(store *st)
{
    if (st && st->ops->unwatch)
        st->ops->unwatch(st);
}

int store_schema_version(void)
{
    return store_sqlite_ops.schema_version();
}

/* ---- argument checks ---------------------------------------------------------- */

static int check_text(const char *what, const char *s, size_t max, bool empty_ok, hark_err *err)
{
    if (!s)
        return err_set(err, HARK_EINVAL, "%s is missing", what);
    size_t n = strnlen(s, max + 1);
    if (n > max)
        return err_set(err, HARK_EINVAL, "%s is too long (over %zu bytes)", what, max);
    if (n == 0 && !empty_ok)
        return err_set(err, HARK_EINVAL, "%s is empty", what);
    return 0;
}

static int check_id(const char *id, hark_err *err)
{
    if (!id || strnlen(id, STORE_ID_SIZE) >= STORE_ID_SIZE || !id[0])
        return err_set(err, HARK_EINVAL, "bad job id '%.40s'", id ? id : "");
    return 0;
}

/* A scope is the all scope or names one owner (store.h): anything else is
 * a caller that did not say whose jobs it means, and gets nothing. */
static int check_scope(store_scope sc, hark_err *err)
{
    if (sc.all && sc.owner)
        return err_set(err, HARK_EINVAL, "job scope is both every job and owner '%.64s'", sc.owner);
    if (!sc.all && !sc.owner)
        return err_set(err, HARK_EINVAL, "job scope names no owner");
    if (sc.owner && strnlen(sc.owner, STORE_OWNER_MAX + 1) > STORE_OWNER_MAX)
        return err_set(err, HARK_EINVAL, "job owner is too long (over %d bytes)", STORE_OWNER_MAX);
    return 0;
}

static int check_lease_ms(int64_t lease_ms, hark_err *err)
{
    if (lease_ms <= 0 || lease_ms > 86400000LL)
        return err_set(err, HARK_EINVAL, "bad lease duration %lld ms", (long long)lease_ms);
    return 0;
}

static void clear_info(store_commit_info *info)
{
    if (info)
        memset(info, 0, sizeof *info);
}

/* ---- jobs ------------------------------------------------------------------------ */

int store_submit(store *st, const store_job_spec *spec, char id[STORE_ID_SIZE], hark_err *err)
{
    int rc = 0;
    id[0] = '\0';
    if (!spec)
        return err_set(err, HARK_EINVAL, "no job to submit");
    if ((rc = check_text("job kind", spec->kind, 64, false, err)) ||
        (rc = check_text("job input", spec->input, 4096, false, err)) ||
        (spec->source && (rc = check_text("job source name", spec->source, 4096, true, err))) ||
        (spec->options &&
         (rc = check_text("job options", spec->options, STORE_MAX_TEXT, true, err))) ||
        (spec->callback_url && (rc = check_text("callback URL", spec->callback_url,
                                                STORE_CALLBACK_URL_MAX, true, err))) ||
        (spec->input_root &&
         (rc = check_text("job input root", spec->input_root, 4096, true, err))) ||
        (spec->owner && (rc = check_text("job owner", spec->owner, STORE_OWNER_MAX, true, err))))
        return rc;
    if (spec->input_root && spec->input_root[0] && !beneath_rel(spec->input_root, spec->input))
        return err_set(err, HARK_EINVAL, "job input '%s' is not beneath its root '%s'", spec->input,
                       spec->input_root);
    if (spec->priority < STORE_PRIO_REALTIME || spec->priority > STORE_PRIO_LOW)
        return err_set(err, HARK_EINVAL, "bad priority %d", spec->priority);
    if (!isfinite(spec->timeout_s) || spec->timeout_s < 0 || spec->timeout_s > 1e9)
        return err_set(err, HARK_EINVAL, "bad timeout %g s", spec->timeout_s);
    rc = st->ops->submit(st, spec, id, err);
    if (rc)
        id[0] = '\0';
    return rc;
}

int store_get_job(store *st, store_scope sc, const char *id, store_job *out, hark_err *err)
{
    int rc;
    memset(out, 0, sizeof *out);
    if ((rc = check_scope(sc, err)) || (rc = check_id(id, err)))
        return rc;
    return st->ops->get_job(st, sc, id, out, err);
}

void store_job_filter_init(store_job_filter *f)
{
    memset(f, 0, sizeof *f);
    f->state = -1;
    f->priority = -1;
}

void store_job_release(store_job *job)
{
    if (!job)
        return;
    free(job->kind);
    free(job->input);
    free(job->source);
    free(job->options);
    free(job->prepare_error);
    free(job->error);
    free(job->callback_url);
    free(job->webhook_last_error);
    free(job->input_root);
    free(job->owner);
    free(job->content_key);
    free(job->doc);
    free(job->nodes);
    memset(job, 0, sizeof *job);
}

void store_job_list_release(store_job_list *list)
{
    if (!list)
        return;
    for (size_t i = 0; i < list->n; i++)
        store_job_release(&list->jobs[i]);
    free(list->jobs);
    memset(list, 0, sizeof *list);
}

int store_list_jobs(store *st, store_scope sc, const store_job_filter *filter, store_job_list *out,
                    hark_err *err)
{
    store_job_filter f;
    int rc;
    memset(out, 0, sizeof *out);
    if ((rc = check_scope(sc, err)))
        return rc;
    if (filter)
        f = *filter;
    else
        store_job_filter_init(&f);
    if (f.limit == 0)
        f.limit = 100;
    if (f.limit < 1 || f.limit > 1000 || f.state < -1 || f.state > STORE_CANCELLED ||
        f.priority < -1 || f.priority > STORE_PRIO_LOW || f.after_seq < 0)
        return err_set(err, HARK_EINVAL, "bad job list filter");
    rc = st->ops->list_jobs(st, sc, &f, out, err);
    if (rc)
        store_job_list_release(out);
    return rc;
}

/* ---- tasks and leases ------------------------------------------------------------- */

int store_claim(store *st, const char *owner, int64_t lease_ms, store_task *out, hark_err *err)
{
    return store_claim_upto(st, owner, lease_ms, STORE_PRIO_LOW, out, err);
}

int store_claim_upto(store *st, const char *owner, int64_t lease_ms, int max_priority,
                     store_task *out, hark_err *err)
{
    int rc;
    memset(out, 0, sizeof *out);
    if ((rc = check_text("worker id", owner, 256, false, err)) ||
        (rc = check_lease_ms(lease_ms, err)))
        return rc;
    rc = st->ops->claim(st, owner, lease_ms, max_priority, out, err);
    if (rc)
        memset(out, 0, sizeof *out);
    return rc;
}

int store_peek(store *st, store_peek_info *out, hark_err *err)
{
    out->best_priority = -1;
    out->wake_ms = 0;
    out->realtime_nearby = false;
    return st->ops->peek(st, out, err);
}

bool store_coordinates_yields(const store *st)
{
    return st->ops->request_yield && st->ops->yields_asked;
}

int store_request_yield(store *st, int64_t *token, char *node, size_t n, hark_err *err)
{
    char spare[1];
    *token = 0;
    if (!node || n == 0)
        node = spare, n = sizeof spare;
    node[0] = '\0';
    if (!store_coordinates_yields(st))
        return err_set(err, HARK_EINVAL, "this store's runtime decides its yields alone");
    return st->ops->request_yield(st, token, node, n, err);
}

int store_yields_asked(store *st, const int64_t *tokens, size_t n, bool *asked, hark_err *err)
{
    if (n == 0)
        return 0;
    if (n > 64 || !tokens || !asked)
        return err_set(err, HARK_EINVAL, "store_yields_asked: 1 to 64 tokens");
    memset(asked, 0, n * sizeof *asked);
    if (!store_coordinates_yields(st))
        return err_set(err, HARK_EINVAL, "this store's runtime decides its yields alone");
    return st->ops->yields_asked(st, tokens, n, asked, err);
}

int store_renew(store *st, int64_t token, int64_t lease_ms, hark_err *err)
{
    int rc = check_lease_ms(lease_ms, err);
    return rc ? rc : st->ops->renew(st, token, lease_ms, err);
}

int store_commit_chunk(store *st, int64_t token, const char *result, double decode_s,
                       store_commit_info *info, hark_err *err)
{
    int rc;
    clear_info(info);
    if ((rc = check_text("chunk result", result, STORE_MAX_RESULT, false, err)))
        return rc;
    if (!isfinite(decode_s) || decode_s < 0)
        return err_set(err, HARK_EINVAL, "bad decode time %g s", decode_s);
    rc = st->ops->commit_chunk(st, token, result, decode_s, info, err);
    if (rc)
        clear_info(info);
    return rc;
}

int store_commit_prepare(store *st, int64_t token, double duration_s, const store_span *plan,
                         size_t n, const char *content_key, store_commit_info *info, hark_err *err)
{
    int rc;
    clear_info(info);
    if (content_key &&
        (rc = check_text("content key", content_key, STORE_CONTENT_KEY_MAX, true, err)))
        return rc;
    if (n > STORE_MAX_CHUNKS)
        return err_set(err, HARK_EINVAL, "chunk plan too long: %zu chunks (at most %d)", n,
                       STORE_MAX_CHUNKS);
    if (n > 0 && !plan)
        return err_set(err, HARK_EINVAL, "chunk plan is missing");
    if (!isfinite(duration_s) || duration_s < 0)
        return err_set(err, HARK_EINVAL, "bad duration %g s", duration_s);
    for (size_t i = 0; i < n; i++) {
        if (plan[i].start_sample < 0 || plan[i].end_sample <= plan[i].start_sample ||
            (i > 0 && plan[i].start_sample < plan[i - 1].end_sample))
            return err_set(err, HARK_EINVAL, "bad chunk plan: chunk %zu spans %lld-%lld", i,
                           (long long)plan[i].start_sample, (long long)plan[i].end_sample);
    }
    rc = st->ops->commit_prepare(st, token, duration_s, plan, n, content_key, info, err);
    if (rc)
        clear_info(info);
    return rc;
}

int store_release(store *st, int64_t token, int kind, const char *cause, store_release_info *info,
                  hark_err *err)
{
    int rc;
    if (info)
        memset(info, 0, sizeof *info);
    if (kind != STORE_RELEASE_PREEMPTED && kind != STORE_RELEASE_FAILED &&
        kind != STORE_RELEASE_RESOURCE)
        return err_set(err, HARK_EINVAL, "bad release kind %d", kind);
    if (kind != STORE_RELEASE_PREEMPTED &&
        (rc = check_text("failure cause", cause, 4096, false, err)))
        return rc;
    rc = st->ops->release(st, token, kind, cause, info, err);
    if (rc && info)
        memset(info, 0, sizeof *info);
    return rc;
}

/* A sweep: *n (may be NULL) is what it changed when it committed, else 0. */
static int sweep(store *st, int (*fn)(store *, int *, hark_err *), int *n, hark_err *err)
{
    int count = 0;
    int rc = fn(st, &count, err);
    if (n)
        *n = rc ? 0 : count;
    return rc;
}

int store_expire_leases(store *st, int *n, hark_err *err)
{
    return sweep(st, st->ops->expire_leases, n, err);
}

int store_fail_overdue(store *st, int *n, hark_err *err)
{
    return sweep(st, st->ops->fail_overdue, n, err);
}

int store_recover(store *st, int *n, hark_err *err)
{
    return sweep(st, st->ops->recover, n, err);
}

/* ---- job control ------------------------------------------------------------------- */

static int control(store *st, store_scope sc, const char *id, enum store_ctl op,
                   const char *message, hark_err *err)
{
    int rc = check_scope(sc, err);
    if (rc == 0)
        rc = check_id(id, err);
    return rc ? rc : st->ops->control(st, sc, id, op, message, err);
}

int store_pause(store *st, store_scope sc, const char *id, hark_err *err)
{
    return control(st, sc, id, STORE_CTL_PAUSE, NULL, err);
}

int store_resume(store *st, store_scope sc, const char *id, hark_err *err)
{
    return control(st, sc, id, STORE_CTL_RESUME, NULL, err);
}

int store_cancel(store *st, store_scope sc, const char *id, hark_err *err)
{
    return control(st, sc, id, STORE_CTL_CANCEL, NULL, err);
}

int store_fail(store *st, store_scope sc, const char *id, const char *message, hark_err *err)
{
    int rc = check_text("failure message", message, 4096, false, err);
    return rc ? rc : control(st, sc, id, STORE_CTL_FAIL, message, err);
}

int store_succeed(store *st, store_scope sc, const char *id, hark_err *err)
{
    return control(st, sc, id, STORE_CTL_SUCCEED, NULL, err);
}

int store_delete_job(store *st, store_scope sc, const char *id, hark_err *err)
{
    return control(st, sc, id, STORE_CTL_DELETE, NULL, err);
}

int store_retry(store *st, store_scope sc, const char *id, int max_active, hark_err *err)
{
    int rc;
    if ((rc = check_scope(sc, err)) || (rc = check_id(id, err)))
        return rc;
    if (max_active < 0)
        return err_set(err, HARK_EINVAL, "bad class limit %d", max_active);
    return st->ops->retry(st, sc, id, max_active, err);
}

/* ---- retention ---------------------------------------------------------------------- */

int store_list_unreleased(store *st, int limit, store_job_list *out, hark_err *err)
{
    memset(out, 0, sizeof *out);
    if (limit < 1 || limit > 1000)
        return err_set(err, HARK_EINVAL, "bad job list limit %d", limit);
    int rc = st->ops->list_unreleased(st, limit, out, err);
    if (rc)
        store_job_list_release(out);
    return rc;
}

int store_mark_released(store *st, const char *const *ids, size_t n, hark_err *err)
{
    int rc = 0;
    if (n > 1000 || (n && !ids))
        return err_set(err, HARK_EINVAL, "bad list of %zu job ids", n);
    for (size_t i = 0; i < n; i++)
        if ((rc = check_id(ids[i], err)))
            return rc;
    if (n == 0)
        return 0;
    return st->ops->mark_released(st, ids, n, err);
}

int store_prune(store *st, int64_t age_ms, int limit, store_job_list *out, hark_err *err)
{
    memset(out, 0, sizeof *out);
    if (age_ms < 0 || limit < 1 || limit > 1000)
        return err_set(err, HARK_EINVAL, "bad prune of %d jobs older than %lld ms", limit,
                       (long long)age_ms);
    int rc = st->ops->prune(st, age_ms, limit, out, err);
    if (rc)
        store_job_list_release(out);
    return rc;
}

/* ---- chunks, stages, the chunk cache ------------------------------------------------ */

void store_chunk_list_release(store_chunk_list *list)
{
    if (!list)
        return;
    for (size_t i = 0; i < list->n; i++) {
        free(list->chunks[i].last_error);
        free(list->chunks[i].result);
    }
    free(list->chunks);
    memset(list, 0, sizeof *list);
}

int store_list_chunks_from(store *st, store_scope sc, const char *id, int from_idx, int limit,
                           store_chunk_list *out, hark_err *err)
{
    int rc;
    memset(out, 0, sizeof *out);
    if ((rc = check_scope(sc, err)) || (rc = check_id(id, err)))
        return rc;
    if (from_idx < 0 || limit < 1)
        return err_set(err, HARK_EINVAL, "bad chunk range %d+%d", from_idx, limit);
    rc = st->ops->list_chunks_from(st, sc, id, from_idx, limit, out, err);
    if (rc)
        store_chunk_list_release(out);
    return rc;
}

int store_list_chunks(store *st, store_scope sc, const char *id, store_chunk_list *out,
                      hark_err *err)
{
    return store_list_chunks_from(st, sc, id, 0, INT_MAX, out, err);
}

int store_add_stage(store *st, const char *id, const char *doc, const store_span *spans, size_t n,
                    hark_err *err)
{
    int rc;
    if ((rc = check_id(id, err)) ||
        (rc = check_text("stage document", doc ? doc : "", STORE_MAX_RESULT, true, err)))
        return rc;
    if (n > 0 && !spans)
        return err_set(err, HARK_EINVAL, "stage spans are missing");
    for (size_t i = 0; i < n; i++)
        if (spans[i].start_sample < 0 || spans[i].end_sample <= spans[i].start_sample)
            return err_set(err, HARK_EINVAL, "bad stage: task %zu spans %lld-%lld", i,
                           (long long)spans[i].start_sample, (long long)spans[i].end_sample);
    return st->ops->add_stage(st, id, doc ? doc : "", spans, n, err);
}

int store_find_cached_chunks(store *st, const char *content_key, const char *except_id,
                             int64_t start_sample, int64_t end_sample, store_chunk_list *out,
                             hark_err *err)
{
    memset(out, 0, sizeof *out);
    if (!content_key || !content_key[0])
        return 0;
    int rc = st->ops->find_cached_chunks(st, content_key, except_id ? except_id : "", start_sample,
                                         end_sample, out, err);
    if (rc)
        store_chunk_list_release(out);
    return rc;
}

/* ---- live inputs -------------------------------------------------------------------- */

int store_input_append(store *st, store_scope sc, const char *id, int64_t bytes, hark_err *err)
{
    int rc;
    if ((rc = check_scope(sc, err)) || (rc = check_id(id, err)))
        return rc;
    if (bytes < 0)
        return err_set(err, HARK_EINVAL, "bad input length %lld", (long long)bytes);
    return st->ops->input_append(st, sc, id, bytes, err);
}

int store_input_close(store *st, store_scope sc, const char *id, const char *reason, bool *was_open,
                      hark_err *err)
{
    bool open = false;
    int rc;
    if (was_open)
        *was_open = false;
    if ((rc = check_scope(sc, err)) || (rc = check_id(id, err)) ||
        (rc = check_text("reason", reason, 64, false, err)))
        return rc;
    rc = st->ops->input_close(st, sc, id, reason, &open, err);
    if (was_open)
        *was_open = open;
    return rc;
}

int store_list_open_inputs(store *st, int limit, store_job_list *out, hark_err *err)
{
    memset(out, 0, sizeof *out);
    if (limit < 1 || limit > 1000)
        return err_set(err, HARK_EINVAL, "bad limit %d", limit);
    int rc = st->ops->list_open_inputs(st, limit, out, err);
    if (rc)
        store_job_list_release(out);
    return rc;
}

int store_commit_live_chunk(store *st, int64_t token, int64_t start, int64_t end,
                            const char *result, const char *delta, double decode_s,
                            store_commit_info *info, hark_err *err)
{
    int rc;
    clear_info(info);
    if ((rc = check_text("chunk result", result, STORE_MAX_RESULT, false, err)))
        return rc;
    if (!isfinite(decode_s) || decode_s < 0)
        return err_set(err, HARK_EINVAL, "bad decode time %g s", decode_s);
    if (start < 0 || end <= start)
        return err_set(err, HARK_EINVAL, "bad live chunk span %lld-%lld", (long long)start,
                       (long long)end);
    rc = st->ops->commit_live_chunk(st, token, start, end, result, delta, decode_s, info, err);
    if (rc)
        clear_info(info);
    return rc;
}

int store_live_partial(store *st, int64_t token, const char *data, const char *delta, hark_err *err)
{
    int rc;
    if ((rc = check_text("event data", data, STORE_MAX_TEXT, false, err)) ||
        (delta && (rc = check_text("live text", delta, STORE_MAX_TEXT, true, err))))
        return rc;
    json_t *obj = json_loads(data, 0, NULL);
    if (!json_is_object(obj)) {
        json_decref(obj);
        return err_set(err, HARK_EINVAL, "partial data is not a JSON object");
    }
    return st->ops->live_partial(st, token, obj, delta, err);
}

int store_finish_live(store *st, int64_t token, double duration_s, store_commit_info *info,
                      hark_err *err)
{
    int rc;
    clear_info(info);
    if (!isfinite(duration_s) || duration_s < 0)
        return err_set(err, HARK_EINVAL, "bad duration %g s", duration_s);
    rc = st->ops->finish_live(st, token, duration_s, info, err);
    if (rc)
        clear_info(info);
    return rc;
}

/* ---- events ---------------------------------------------------------------------------- */

void store_event_list_release(store_event_list *list)
{
    if (!list)
        return;
    for (size_t i = 0; i < list->n; i++) {
        free(list->events[i].type);
        free(list->events[i].data);
    }
    free(list->events);
    memset(list, 0, sizeof *list);
}

int store_list_events(store *st, store_scope sc, const char *id, int64_t after_id, int limit,
                      store_event_list *out, hark_err *err)
{
    int rc;
    memset(out, 0, sizeof *out);
    if ((rc = check_scope(sc, err)) || (rc = check_id(id, err)))
        return rc;
    if (limit == 0)
        limit = 1000;
    if (limit < 0 || limit > 10000)
        return err_set(err, HARK_EINVAL, "bad event list limit %d", limit);
    rc = st->ops->list_events(st, sc, id, after_id, limit, out, err);
    if (rc)
        store_event_list_release(out);
    return rc;
}

int store_list_events_since(store *st, store_scope sc, int64_t after_id, int limit,
                            store_event_list *out, hark_err *err)
{
    int rc;
    memset(out, 0, sizeof *out);
    if ((rc = check_scope(sc, err)))
        return rc;
    if (limit == 0)
        limit = 1000;
    if (limit < 0 || limit > 10000)
        return err_set(err, HARK_EINVAL, "bad event list limit %d", limit);
    if (after_id < 0)
        after_id = 0;
    rc = st->ops->list_events_since(st, sc, after_id, limit, out, err);
    if (rc)
        store_event_list_release(out);
    return rc;
}

int store_latest_event_id(store *st, int64_t *event_id, hark_err *err)
{
    *event_id = 0;
    return st->ops->latest_event_id(st, event_id, err);
}

int store_last_event_id(store *st, store_scope sc, const char *id, const char *type,
                        int64_t *event_id, hark_err *err)
{
    int rc;
    *event_id = 0;
    if ((rc = check_scope(sc, err)) || (rc = check_id(id, err)) ||
        (rc = check_text("event type", type, 64, false, err)))
        return rc;
    return st->ops->last_event_id(st, sc, id, type, event_id, err);
}

int store_add_event(store *st, store_scope sc, const char *id, const char *type, const char *data,
                    int64_t *event_id, hark_err *err)
{
    json_t *obj = NULL;
    int rc;
    if ((rc = check_scope(sc, err)) || (rc = check_id(id, err)) ||
        (rc = check_text("event type", type, 64, false, err)))
        return rc;
    if (data) {
        if ((rc = check_text("event data", data, STORE_MAX_TEXT, false, err)))
            return rc;
        obj = json_loads(data, 0, NULL);
        if (!json_is_object(obj)) {
            json_decref(obj);
            return err_set(err, HARK_EINVAL, "event data for job %s is not a JSON object", id);
        }
    }
    return st->ops->add_event(st, sc, id, type, obj, event_id, err);
}

/* ---- webhooks ---------------------------------------------------------------------------- */

static void webhook_release(store_webhook *w)
{
    free(w->url);
    free(w->event);
    free(w->body);
    free(w->last_error);
    memset(w, 0, sizeof *w);
}

void store_webhook_list_release(store_webhook_list *list)
{
    if (!list)
        return;
    for (size_t i = 0; i < list->n; i++)
        webhook_release(&list->items[i]);
    free(list->items);
    memset(list, 0, sizeof *list);
}

void store_webhook_delivery_id(const store_webhook *w, char out[STORE_DELIVERY_ID_SIZE])
{
    snprintf(out, STORE_DELIVERY_ID_SIZE, "%s-%lld", w->job_id, (long long)w->id);
}

int store_claim_webhooks(store *st, int max, int64_t lease_ms, store_webhook_list *out,
                         int64_t *wait_ms, hark_err *err)
{
    memset(out, 0, sizeof *out);
    if (wait_ms)
        *wait_ms = -1;
    if (max < 1 || max > 64)
        return err_set(err, HARK_EINVAL, "bad webhook claim size %d", max);
    if (lease_ms <= 0 || lease_ms > 86400000LL)
        return err_set(err, HARK_EINVAL, "bad webhook lease %lld ms", (long long)lease_ms);
    int rc = st->ops->claim_webhooks(st, max, lease_ms, out, wait_ms, err);
    if (rc) {
        store_webhook_list_release(out);
        if (wait_ms)
            *wait_ms = -1;
    }
    return rc;
}

int store_record_webhook(store *st, int64_t id, int attempt, const store_webhook_attempt *a,
                         int *state_out, hark_err *err)
{
    int rc;
    if (state_out)
        *state_out = -1;
    if (!a || a->state < STORE_WEBHOOK_PENDING || a->state > STORE_WEBHOOK_FAILED)
        return err_set(err, HARK_EINVAL, "bad webhook attempt outcome");
    if (attempt < 1 || attempt > 1000)
        return err_set(err, HARK_EINVAL, "bad webhook attempt number %d", attempt);
    if (a->status < 0 || a->status > 999)
        return err_set(err, HARK_EINVAL, "bad HTTP status %d", a->status);
    if (a->retry_delay_ms < 0 || a->retry_delay_ms > 366LL * 86400000LL)
        return err_set(err, HARK_EINVAL, "bad webhook retry delay %lld ms",
                       (long long)a->retry_delay_ms);
    if (a->error && (rc = check_text("webhook error", a->error, 4096, true, err)))
        return rc;
    return st->ops->record_webhook(st, id, attempt, a, state_out, err);
}

int store_list_webhooks(store *st, store_scope sc, const char *id, store_webhook_list *out,
                        hark_err *err)
{
    int rc;
    memset(out, 0, sizeof *out);
    if ((rc = check_scope(sc, err)) || (rc = check_id(id, err)))
        return rc;
    rc = st->ops->list_webhooks(st, sc, id, out, err);
    if (rc)
        store_webhook_list_release(out);
    return rc;
}

/* ---- counters and checks ----------------------------------------------------------------- */

int store_count_work(store *st, int64_t queued[4], int64_t *leased, hark_err *err)
{
    for (int i = 0; i < 4; i++)
        queued[i] = 0;
    *leased = 0;
    return st->ops->count_work(st, queued, leased, err);
}

int store_get_counters(store *st, store_counters *out, hark_err *err)
{
    memset(out, 0, sizeof *out);
    return st->ops->get_counters(st, out, err);
}

int store_check(store *st, hark_err *err)
{
    return st->ops->check(st, err);
}
