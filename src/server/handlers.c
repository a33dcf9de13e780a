/* handlers.c - the job endpoints except submit (submit.c): read, list,
 * control, result and the start of an event stream (sse.c).
 *
 * Every store call is made in the caller's scope (caller_scope): the store
 * answers HARK_ENOENT for another token's job, which is the same 404 as
 * for a job that does not exist. No handler reads a job and then decides. */
#include "server/job_json.h"
#include "server/server_impl.h"
#include "server/sse.h"

#include "auth/stream_tickets.h"
#include "jobs/artifacts.h"
#include "jobs/job_result.h"
#include "jobs/kind.h"
#include "output/format.h"
#include "util/clock.h"
#include "util/fs.h"
#include "util/log.h"

#include <errno.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

int parse_int64(const char *s, int64_t min, int64_t max, int64_t *out)
{
    if (!s || !*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 19)
        return -1;
    errno = 0;
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int api_store_unavailable(api_error *e, const hark_err *err)
{
    int rc = api_error_set(e, MHD_HTTP_SERVICE_UNAVAILABLE, NULL, "store_unavailable", "%s",
                           err->msg[0] ? err->msg : "the job store is unavailable");
    e->retry_after = STORE_RETRY_AFTER;
    return rc;
}

enum MHD_Result reply_store_error(struct MHD_Connection *c, int rc, const hark_err *err,
                                  const char *id)
{
    if (rc == HARK_EUNAVAIL) {
        api_error e;
        api_store_unavailable(&e, err);
        return reply_error(c, &e);
    }
    if (rc == HARK_ENOENT)
        return reply_errorf(c, MHD_HTTP_NOT_FOUND, "id", "job_not_found", "job %s not found", id);
    if (rc == HARK_EINVAL)
        return reply_errorf(c, MHD_HTTP_CONFLICT, NULL, "invalid_state", "%s", err->msg);
    return reply_errorf(c, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, "store_error", "%s",
                        err->msg[0] ? err->msg : "the job store failed");
}

/* 200 with the job object of id as it is now. */
static enum MHD_Result reply_job(server *s, struct MHD_Connection *c, const caller *who,
                                 const char *id, unsigned status, const char *location)
{
    store_job job;
    hark_err err = {0};
    int rc = store_get_job(s->st, caller_scope(who), id, &job, &err);
    if (rc)
        return reply_store_error(c, rc == HARK_EINVAL ? HARK_EIO : rc, &err, id);
    json_t *o = job_json(&job);
    store_job_release(&job);
    return reply_json(c, status, o, location);
}

enum MHD_Result handle_health(server *s, struct MHD_Connection *c)
{
    (void)s;
    return reply_json(c, MHD_HTTP_OK, json_pack("{s:s}", "status", "ok"), NULL);
}

enum MHD_Result handle_get(server *s, struct MHD_Connection *c, const caller *who, const char *id)
{
    return reply_job(s, c, who, id, MHD_HTTP_OK, NULL);
}

static const char *arg(struct MHD_Connection *c, const char *name)
{
    return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
}

/* Whether the query names the argument at all (?after with no value is
 * present but has a NULL value). */
static bool has_arg(struct MHD_Connection *c, const char *name)
{
    const char *v = NULL;
    size_t len = 0;
    return MHD_lookup_connection_value_n(c, MHD_GET_ARGUMENT_KIND, name, strlen(name), &v, &len) ==
           MHD_YES;
}

enum MHD_Result handle_list(server *s, struct MHD_Connection *c, const caller *who)
{
    store_job_filter f;
    store_job_filter_init(&f);
    hark_err err = {0};
    int64_t v;
    if (has_arg(c, "state") &&
        (!arg(c, "state") || store_state_parse(arg(c, "state"), &f.state, &err)))
        return reply_errorf(c, MHD_HTTP_BAD_REQUEST, "state", "invalid_value",
                            "unknown state '%.64s' (queued, running, paused, succeeded, failed, "
                            "cancelled)",
                            arg(c, "state") ? arg(c, "state") : "");
    if (has_arg(c, "priority") &&
        (!arg(c, "priority") || store_priority_parse(arg(c, "priority"), &f.priority, &err)))
        return reply_errorf(c, MHD_HTTP_BAD_REQUEST, "priority", "invalid_value",
                            "unknown priority '%.64s' (realtime, high, normal, low)",
                            arg(c, "priority") ? arg(c, "priority") : "");
    if (has_arg(c, "limit")) {
        if (parse_int64(arg(c, "limit"), 1, 1000, &v))
            return reply_errorf(c, MHD_HTTP_BAD_REQUEST, "limit", "invalid_value",
                                "limit must be an integer in 1..1000");
        f.limit = (int)v;
    }
    if (has_arg(c, "since")) {
        /* Seconds since the epoch, like the job's times; fractions allowed. */
        const char *a = arg(c, "since");
        char *end = NULL;
        double t = a ? strtod(a, &end) : -1;
        if (!a || !*a || *end || !(t >= 0 && t < 1e11))
            return reply_errorf(c, MHD_HTTP_BAD_REQUEST, "since", "invalid_value",
                                "since must be a time in seconds since the epoch");
        f.created_since = (int64_t)(t * 1000);
    }
    if (has_arg(c, "order")) {
        const char *o = arg(c, "order");
        if (!o || (strcmp(o, "asc") != 0 && strcmp(o, "desc") != 0))
            return reply_errorf(c, MHD_HTTP_BAD_REQUEST, "order", "invalid_value",
                                "order must be asc (oldest first) or desc (newest first)");
        f.newest_first = strcmp(o, "desc") == 0;
    }
    if (has_arg(c, "after")) {
        if (parse_int64(arg(c, "after"), 0, INT64_MAX, &v))
            return reply_errorf(c, MHD_HTTP_BAD_REQUEST, "after", "invalid_value",
                                "after must be a cursor (next_after) from a previous page");
        f.after_seq = v;
    }

    store_job_list l;
    int rc = store_list_jobs(s->st, caller_scope(who), &f, &l, &err);
    if (rc)
        return reply_store_error(c, rc == HARK_EUNAVAIL ? rc : HARK_EIO, &err, "");
    json_t *data = json_array();
    for (size_t i = 0; data && i < l.n; i++)
        if (json_array_append_new(data, job_json(&l.jobs[i])) != 0) {
            json_decref(data);
            data = NULL;
        }
    json_t *next = l.next_after ? json_integer(l.next_after) : json_null();
    store_job_list_release(&l);
    json_t *body =
        data ? json_pack("{s:s, s:o, s:o}", "object", "list", "data", data, "next_after", next)
             : NULL;
    if (!data)
        json_decref(next);
    return reply_json(c, MHD_HTTP_OK, body, NULL);
}

enum MHD_Result handle_control(server *s, struct MHD_Connection *c, const caller *who,
                               const char *id, enum control_op op)
{
    hark_err err = {0};
    store_scope sc = caller_scope(who);
    int rc = op == CONTROL_CANCEL  ? store_cancel(s->st, sc, id, &err)
             : op == CONTROL_PAUSE ? store_pause(s->st, sc, id, &err)
                                   : store_resume(s->st, sc, id, &err);
    if (rc)
        return reply_store_error(c, rc, &err, id);
    server_wake(s);
    return reply_job(s, c, who, id, MHD_HTTP_OK, NULL);
}

enum MHD_Result handle_retry(server *s, struct MHD_Connection *c, const caller *who, const char *id)
{
    store_job job;
    hark_err err = {0};
    api_error e;
    store_scope sc = caller_scope(who);
    int rc = store_get_job(s->st, sc, id, &job, &err);
    if (rc)
        return reply_store_error(c, rc == HARK_EINVAL ? HARK_EIO : rc, &err, id);
    int prio = job.priority, got;
    store_job_release(&job);
    /* Running it again is submitting it again: the same ceiling and limit. */
    if (caller_priority(who, prio, prio, &got, &e))
        return reply_error(c, &e);
    rc = store_retry(s->st, sc, id, s->queue_limit[prio], &err);
    if (rc == HARK_EFULL)
        return reply_queue_full(c, prio, &err);
    if (rc)
        return reply_store_error(c, rc, &err, id);
    log_event(LOG_INFO, "job.retried", {"job", id}, {"request", who->request_id},
              {"token", who->token_name});
    /* The answer shows the job as the retry left it, before the runtime,
     * woken, claims it. */
    enum MHD_Result ret = reply_job(s, c, who, id, MHD_HTTP_OK, NULL);
    server_wake(s);
    return ret;
}

enum MHD_Result handle_result(server *s, struct MHD_Connection *c, const caller *who,
                              const char *id)
{
    return reply_job_result(s, c, who, id, NULL);
}

enum MHD_Result reply_job_result(server *s, struct MHD_Connection *c, const caller *who,
                                 const char *id, const char *default_format)
{
    store_job job;
    hark_err err = {0};
    int rc = store_get_job(s->st, caller_scope(who), id, &job, &err);
    if (rc)
        return reply_store_error(c, rc == HARK_EINVAL ? HARK_EIO : rc, &err, id);
    const job_kind *kind = job_kind_of(&job);
    int f = 0;
    if (kind && has_arg(c, "format") && (f = job_kind_format(kind, arg(c, "format"))) < 0) {
        char list[256];
        job_kind_format_list(kind, list, sizeof list);
        enum MHD_Result ret =
            reply_errorf(c, MHD_HTTP_BAD_REQUEST, "format", "invalid_value",
                         "unknown format '%.64s' for a %s job (%s)",
                         arg(c, "format") ? arg(c, "format") : "", kind->name, list);
        store_job_release(&job);
        return ret;
    }
    if (kind && !has_arg(c, "format") && default_format &&
        (f = job_kind_format(kind, default_format)) < 0)
        f = 0;
    int state = job.state;
    if (state != STORE_SUCCEEDED || !kind) {
        enum MHD_Result ret =
            !kind ? reply_errorf(c, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, "result_error",
                                 "job %s is of a kind this server does not know: '%.64s'", id,
                                 job.kind)
            : state == STORE_FAILED
                ? reply_errorf(c, MHD_HTTP_CONFLICT, "id", "job_failed", "job %s failed: %.400s",
                               id, job.error)
                : reply_errorf(c, MHD_HTTP_CONFLICT, "id", "job_not_finished",
                               "job %s is %s: its result is ready when it has succeeded", id,
                               store_state_name(state));
        store_job_release(&job);
        return ret;
    }
    buf out;
    buf_init(&out, RESULT_MAX);
    rc = kind->render(s->st, caller_scope(who), &job, kind->formats[f], &out, &err);
    store_job_release(&job);
    if (rc == HARK_ENOENT) { /* deleted since the read above */
        buf_release(&out);
        return reply_store_error(c, rc, &err, id);
    }
    if (rc) {
        buf_release(&out);
        return reply_errorf(c, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, "result_error",
                            "cannot render the result of job %s: %s", id, err.msg);
    }
    size_t len = out.len;
    char *text = buf_steal(&out);
    if (!text)
        return reply_errorf(c, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, NULL, "out of memory");
    return reply_bytes(c, MHD_HTTP_OK, kind->mimes[f], text, len, NULL);
}

/* The shared end of both event streams (sse.h): job_id NULL for every job
 * of sc. The open streams of a client count against its connections like
 * any request (max_per_address). */
static enum MHD_Result reply_event_stream(server *s, struct MHD_Connection *c, store_scope sc,
                                          const char *job_id, int64_t after, bool final)
{
    sse_source src = {.st = s->st,
                      .scope = sc,
                      .changes = s->changes,
                      .stopping = &s->stopping,
                      .keepalive_ms = atomic_load(&s->keepalive_ms),
                      .park = s->park,
                      .conn = c,
                      .fd = server_connection_fd(c)};
    struct MHD_Response *r = sse_response(&src, job_id, after, final);
    if (!r)
        return reply_errorf(c, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, NULL, "out of memory");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    enum MHD_Result ret = reply_queue(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

/* Where an event stream resumes: Last-Event-ID (a reconnecting
 * EventSource) wins over the query argument name (for clients that cannot
 * set headers). *given: either was there. False with *bad the queued 400
 * when the one given is not an event id. */
static bool event_cursor(struct MHD_Connection *c, const char *name, int64_t *out, bool *given,
                         enum MHD_Result *bad)
{
    const char *hdr = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Last-Event-ID");
    const char *v = hdr ? hdr : has_arg(c, name) ? arg(c, name) : NULL;
    *out = 0;
    *given = v != NULL;
    if (!v || parse_int64(v, 0, INT64_MAX, out) == 0)
        return true;
    const char *what = hdr ? "Last-Event-ID" : name;
    *bad = reply_errorf(c, MHD_HTTP_BAD_REQUEST, what, "invalid_value", "%s must be an event id",
                        what);
    return false;
}

enum MHD_Result handle_events(server *s, struct MHD_Connection *c, const caller *who,
                              const char *id)
{
    int64_t after = 0;
    bool given = false;
    enum MHD_Result bad;
    if (!event_cursor(c, "after", &after, &given, &bad))
        return bad;
    store_job job;
    hark_err err = {0};
    store_scope sc = caller_scope(who);
    int rc = store_get_job(s->st, sc, id, &job, &err);
    if (rc)
        return reply_store_error(c, rc == HARK_EINVAL ? HARK_EIO : rc, &err, id);
    /* A job already final has logged its final event: the stream replays
     * what is after `after` and ends. When that is nothing, 204: the one
     * answer after which a browser's EventSource stops reconnecting (a
     * 200 that ends at once makes it come back every 3 s forever). */
    bool final = store_state_terminal(job.state);
    store_job_release(&job);
    if (final) {
        store_event_list rest;
        rc = store_list_events(s->st, sc, id, after, 1, &rest, &err);
        if (rc)
            return reply_store_error(c, rc == HARK_EINVAL ? HARK_EIO : rc, &err, id);
        bool nothing = rest.n == 0;
        store_event_list_release(&rest);
        if (nothing)
            return reply_no_content(c);
    }
    /* A new follower of a retried job that has not ended follows its
     * current run: from its last "retried" event, not through the final
     * event it was retried from. */
    if (!final && !given) {
        int64_t retried = 0;
        if (store_last_event_id(s->st, sc, id, "retried", &retried, &err) == 0 && retried > 0)
            after = retried - 1;
    }
    return reply_event_stream(s, c, sc, id, after, final);
}

enum MHD_Result handle_events_all(server *s, struct MHD_Connection *c, const caller *who)
{
    /* Ids are the store's global event ids: one whose job was deleted
     * since still says where the client was. */
    int64_t since = 0;
    bool given = false;
    enum MHD_Result bad;
    if (!event_cursor(c, "since", &since, &given, &bad))
        return bad;
    /* Neither: from now on (a page lists the jobs, then follows them). An
     * id past the newest (a store restored from a backup, or another
     * server's id) is from now on too: else the events up to it would be
     * skipped. */
    hark_err err = {0};
    int64_t latest = 0;
    int rc = store_latest_event_id(s->st, &latest, &err);
    if (rc)
        return reply_store_error(c, rc, &err, NULL);
    if (!given || since > latest)
        since = latest;
    return reply_event_stream(s, c, caller_scope(who), NULL, since, false);
}

enum MHD_Result handle_stream_ticket(server *s, struct MHD_Connection *c, const caller *who)
{
    token_entry t = {.max_priority = who->max_priority, .admin = who->admin};
    snprintf(t.name, sizeof t.name, "%s", who->token_name ? who->token_name : "");
    char ticket[STREAM_TICKET_SIZE];
    hark_err err = {0};
    if (stream_ticket_issue(s->tickets, &t, clock_now_ns() / 1000000, ticket, &err)) {
        log_error("%s", err.msg);
        return reply_errorf(c, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, NULL,
                            "cannot issue a stream ticket");
    }
    enum MHD_Result ret = reply_json(
        c, MHD_HTTP_CREATED,
        json_pack("{s:s, s:i}", "ticket", ticket, "expires_in", STREAM_TICKET_TTL_S), NULL);
    memset(ticket, 0, sizeof ticket);
    return ret;
}

enum MHD_Result handle_delete(server *s, struct MHD_Connection *c, const caller *who,
                              const char *id)
{
    store_job job;
    hark_err err = {0};
    store_scope sc = caller_scope(who);
    int rc = store_get_job(s->st, sc, id, &job, &err);
    if (rc)
        return reply_store_error(c, rc == HARK_EINVAL ? HARK_EIO : rc, &err, id);
    const job_kind *kind = job_kind_of(&job);
    if (!store_state_terminal(job.state) && kind && kind->live) {
        /* A dictation in progress is dropped: cancelled, then deleted
         * (docs/api.md); its session stops at its next check-in. */
        rc = store_cancel(s->st, sc, id, &err);
        if (rc && rc != HARK_EINVAL) {
            store_job_release(&job);
            return reply_store_error(c, rc, &err, id);
        }
        server_wake(s);
        job.state = STORE_CANCELLED;
    }
    if (!store_state_terminal(job.state)) {
        enum MHD_Result ret = reply_errorf(c, MHD_HTTP_CONFLICT, "id", "job_not_finished",
                                           "job %s is %s: cancel it before deleting it", id,
                                           store_state_name(job.state));
        store_job_release(&job);
        return ret;
    }
    /* An uploaded input belongs to the job: it goes with it, after the
     * store forgot the job (a crash in between leaves a file nobody refers
     * to, never a job whose input is gone). Server-side paths are the
     * user's own files and stay. */
    char *input_file = fs_is_entry_of(s->uploads_dir, job.input) ? strdup(job.input) : NULL;
    store_job_release(&job);
    rc = store_delete_job(s->st, sc, id, &err);
    if (rc) {
        free(input_file);
        return reply_store_error(c, rc, &err, id);
    }
    if (input_file && unlink(input_file) != 0 && errno != ENOENT)
        log_warn("job %s deleted, but its upload '%s' stays: %s", id, input_file, strerror(errno));
    free(input_file);
    /* Its artifacts too, after the store forgot them (never a listed
     * artifact whose file is gone); a crash in between leaves a directory
     * of no job, which the runtime's sweep removes. */
    artifacts_remove(s->artifact_root, id);
    log_event(LOG_INFO, "job.deleted", {"job", id});
    return reply_json(c, MHD_HTTP_OK,
                      json_pack("{s:s, s:s, s:b}", "id", id, "object", "job.deleted", "deleted", 1),
                      NULL);
}
