/* sse.c - see sse.h. */
#include "server/sse.h"

#include "server/job_json.h"
#include "server/park.h"
#include "util/clock.h"
#include "util/log.h"

#include <stdlib.h>
#include <string.h>

#define SSE_STORE_RETRY_MS 1000 /* an unreachable store is asked again this often */

typedef struct stream {
    sse_source src;
    char owner[STORE_OWNER_MAX + 1]; /* src.scope.owner points here (it outlives the request) */
    char job[STORE_ID_SIZE];         /* "" for every job of the scope (GET /v1/events) */
    int64_t last_id;                 /* the last event id sent (or skipped) */
    store_event_list batch;          /* read but not yet formatted */
    size_t next;
    buf out; /* formatted, not yet handed to libmicrohttpd */
    size_t out_pos;
    bool final_seen;
    int64_t keepalive_at_ns;
    uint64_t seen; /* the notify counter before the last look at the store */
} stream;

bool sse_is_final(const char *type)
{
    return strcmp(type, "succeeded") == 0 || strcmp(type, "failed") == 0 ||
           strcmp(type, "cancelled") == 0;
}

/* Event types are written by hark itself, but a frame must never be split
 * by a newline in one: keep it to a plain token. */
static bool type_ok(const char *t)
{
    size_t n = strlen(t);
    return n > 0 && n <= 64 && strspn(t, "abcdefghijklmnopqrstuvwxyz0123456789_-.") == n;
}

int sse_format_event(const store_event *e, buf *dst, hark_err *err)
{
    json_t *stored = json_loads(e->data, 0, NULL);
    if (!json_is_object(stored)) {
        log_warn("job %s: event %lld has damaged data; sending it without its fields", e->job_id,
                 (long long)e->id);
        json_decref(stored);
        stored = NULL;
    }
    json_t *data = json_pack("{s:s, s:o}", "job", e->job_id, "time", job_json_time(e->time_ms));
    if (!data) {
        json_decref(stored);
        return err_set(err, HARK_ENOMEM, "out of memory formatting an event");
    }
    const char *key;
    json_t *val;
    if (stored)
        json_object_foreach(stored, key, val)
        {
            if (strcmp(key, "job") != 0 && strcmp(key, "time") != 0)
                json_object_set(data, key, val);
        }
    json_decref(stored);
    char *text = json_dumps(data, JOB_JSON_DUMP_FLAGS);
    json_decref(data);
    if (!text)
        return err_set(err, HARK_ENOMEM, "out of memory formatting an event");
    int rc = buf_printf(dst, "id: %lld\nevent: %s\ndata: %s\n\n", (long long)e->id,
                        type_ok(e->type) ? e->type : "unknown", text);
    free(text);
    if (rc)
        return err_set(err, rc, "event %lld of job %s is too large to send", (long long)e->id,
                       e->job_id);
    return 0;
}

static bool stopping(const stream *s)
{
    return atomic_load(s->src.stopping) || notify_closed(s->src.changes);
}

static void keepalive_reset(stream *s)
{
    s->keepalive_at_ns = clock_now_ns() + (int64_t)s->src.keepalive_ms * 1000000;
}

/* Fill s->out with the next bytes to send: 1 when there are some, 0 at the
 * regular end of the stream, -1 on error (or a client gone), 2 when there
 * is nothing to send yet (s->seen says as of when). */
static int refill(stream *s)
{
    buf_reset(&s->out);
    s->out_pos = 0;
    for (;;) {
        if (s->next < s->batch.n) {
            const store_event *e = &s->batch.events[s->next++];
            hark_err err = {0};
            s->last_id = e->id;
            if (!s->job[0])
                ; /* every job's stream has no end of its own */
            else if (sse_is_final(e->type))
                s->final_seen = true;
            else if (strcmp(e->type, "retried") == 0) /* a failed job runs again */
                s->final_seen = false;
            if (sse_format_event(e, &s->out, &err)) {
                log_error("%s", err.msg);
                return -1;
            }
            keepalive_reset(s);
            return 1;
        }
        store_event_list_release(&s->batch);
        s->next = 0;
        /* Read the counter before looking at the store: a commit after the
         * read moves it, so the wait that follows cannot miss that commit.
         * The same holds for server_stop, which sets the flag, then
         * signals. */
        s->seen = notify_gen(s->src.changes);
        if (stopping(s))
            return 0;
        hark_err err = {0};
        bool global = !s->job[0];
        int rc = global ? store_list_events_since(s->src.st, s->src.scope, s->last_id, SSE_BATCH,
                                                  &s->batch, &err)
                        : store_list_events(s->src.st, s->src.scope, s->job, s->last_id, SSE_BATCH,
                                            &s->batch, &err);
        /* The job was deleted under the stream (the store's read checks it
         * is there, in scope, every time): no final event will come. */
        if (rc == HARK_ENOENT && !global)
            return 0;
        if (rc == HARK_EUNAVAIL) {
            /* The store is down or restarting: the stream stays open and
             * looks again within a second (keepalives go out meanwhile);
             * the events of the outage follow once it answers. */
            int64_t soon = clock_now_ns() + SSE_STORE_RETRY_MS * 1000000;
            if (s->keepalive_at_ns > soon)
                s->keepalive_at_ns = soon;
        } else if (rc) {
            log_error("event stream of %s: %s", global ? "every job" : s->job, err.msg);
            return -1;
        }
        if (s->batch.n)
            continue;
        if (s->final_seen && rc == 0 && !global)
            return 0;
        if (park_client_gone(s->src.fd))
            return -1;
        if (s->keepalive_at_ns <= clock_now_ns()) {
            keepalive_reset(s);
            return buf_puts(&s->out, ": keepalive\n\n") ? -1 : 1;
        }
        return 2;
    }
}

static ssize_t read_cb(void *cls, uint64_t pos, char *dst, size_t max)
{
    stream *s = cls;
    (void)pos;
    while (s->out_pos >= s->out.len) {
        int rc = refill(s);
        if (rc == 2) {
            enum park_result pr =
                park_wait(s->src.park, s->src.conn, s->src.fd, s->seen, s->keepalive_at_ns);
            if (pr == PARK_PARKED)
                return 0; /* called again once resumed */
            if (pr == PARK_CLOSED)
                return MHD_CONTENT_READER_END_OF_STREAM;
            continue;
        }
        if (rc <= 0)
            return rc == 0 ? MHD_CONTENT_READER_END_OF_STREAM : MHD_CONTENT_READER_END_WITH_ERROR;
    }
    size_t n = s->out.len - s->out_pos;
    if (n > max)
        n = max;
    memcpy(dst, s->out.data + s->out_pos, n);
    s->out_pos += n;
    return (ssize_t)n;
}

static void free_cb(void *cls)
{
    stream *s = cls;
    store_event_list_release(&s->batch);
    buf_release(&s->out);
    free(s);
}

struct MHD_Response *sse_response(const sse_source *src, const char *job_id, int64_t after_id,
                                  bool job_final)
{
    stream *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->src = *src;
    if (src->scope.owner) {
        snprintf(s->owner, sizeof s->owner, "%s", src->scope.owner);
        s->src.scope.owner = s->owner;
    }
    if (s->src.keepalive_ms <= 0)
        s->src.keepalive_ms = 15000;
    snprintf(s->job, sizeof s->job, "%s", job_id ? job_id : "");
    s->last_id = after_id;
    s->final_seen = job_final;
    buf_init(&s->out, SSE_FRAME_MAX);
    keepalive_reset(s);
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, read_cb, s, free_cb);
    if (!r)
        free_cb(s);
    return r;
}
