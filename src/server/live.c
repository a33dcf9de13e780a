/* live.c - see live.h. */
#include "server/live.h"

#include "jobs/kind.h"
#include "jobs/live_kind.h"
#include "media/live_input.h"
#include "server/job_json.h"
#include "server/text.h"
#include "util/clock.h"
#include "util/fs.h"
#include "util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define HEAD_BYTES 16          /* what a format check looks at */
#define SYNC_EVERY_NS 50000000 /* and at most every 50 ms while a body streams */
#define NAME_MAX_LEN 200

/* ---- POST /v1/live -------------------------------------------------------- */

typedef struct live_fields {
    int priority; /* -1: the default */
    const char *format;
    double idle_timeout_s;
    char name[NAME_MAX_LEN + 1];
    char bad[80]; /* an unknown field, cleaned: the error's param (it outlives the parse) */
} live_fields;

static int parse_fields(const buf *json, live_fields *f, api_error *e)
{
    f->priority = -1;
    f->format = "s16le";
    f->idle_timeout_s = 0;
    f->name[0] = '\0';
    if (!json || json->len == 0)
        return 0;
    json_error_t jerr;
    json_t *o = json_loadb(json->data, json->len, 0, &jerr);
    if (!json_is_object(o)) {
        json_decref(o);
        return api_error_set(e, MHD_HTTP_BAD_REQUEST, NULL, "invalid_json",
                             "the body is not a JSON object");
    }
    const char *key;
    json_t *v;
    int rc = 0;
    json_object_foreach(o, key, v)
    {
        if (strcmp(key, "priority") == 0) {
            if (!json_is_string(v) ||
                store_priority_parse(json_string_value(v), &f->priority, NULL))
                rc = api_error_set(e, MHD_HTTP_BAD_REQUEST, "priority", "invalid_value",
                                   "priority must be one of realtime, high, normal, low");
        } else if (strcmp(key, "format") == 0) {
            enum live_format lf;
            hark_err err = {0};
            if (!json_is_string(v) || live_format_parse(json_string_value(v), &lf, &err))
                rc = api_error_set(e, MHD_HTTP_BAD_REQUEST, "format", "invalid_value",
                                   "format must be one of %s", LIVE_FORMATS);
            else
                f->format = live_format_name(lf);
        } else if (strcmp(key, "idle_timeout") == 0) {
            double t = json_is_number(v) ? json_number_value(v) : -1;
            if (!(t > 0 && t <= LIVE_IDLE_TIMEOUT_MAX_S))
                rc = api_error_set(e, MHD_HTTP_BAD_REQUEST, "idle_timeout", "invalid_value",
                                   "idle_timeout must be a number of seconds in (0, %.0f]",
                                   LIVE_IDLE_TIMEOUT_MAX_S);
            else
                f->idle_timeout_s = t;
        } else if (strcmp(key, "name") == 0) {
            const char *n = json_string_value(v);
            if (!n || strlen(n) > NAME_MAX_LEN)
                rc = api_error_set(e, MHD_HTTP_BAD_REQUEST, "name", "invalid_value",
                                   "name must be a string of at most %d bytes", NAME_MAX_LEN);
            else
                text_clean(n, strlen(n), '?', f->name, sizeof f->name);
        } else {
            text_clean(key, strlen(key), '?', f->bad, sizeof f->bad);
            rc = api_error_set(e, MHD_HTTP_BAD_REQUEST, f->bad, "unknown_parameter",
                               "unknown field '%s' (priority, format, idle_timeout, name)", f->bad);
        }
        if (rc)
            break;
    }
    json_decref(o);
    return rc;
}

/* A new empty input file in the uploads directory, synced with its
 * directory: the job that names it is acknowledged only after. */
static int create_input(server *s, const char *format, char *path, size_t n, hark_err *err)
{
    for (int tries = 0; tries < 8; tries++) {
        unsigned char r[8];
        if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
            return err_set(err, HARK_EIO, "no randomness: %s", strerror(errno));
        snprintf(path, n, "%s/live-%02x%02x%02x%02x%02x%02x%02x%02x.%s", s->uploads_dir, r[0], r[1],
                 r[2], r[3], r[4], r[5], r[6], r[7], format);
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0 && errno == EEXIST)
            continue;
        if (fd < 0)
            return err_set(err, errno == ENOSPC ? HARK_ENOSPC : HARK_EIO, "cannot create '%s': %s",
                           path, strerror(errno));
        close(fd);
        if (fs_fsync_dir(s->uploads_dir) != 0)
            return err_set(err, HARK_EIO, "cannot sync '%s': %s", s->uploads_dir, strerror(errno));
        return 0;
    }
    return err_set(err, HARK_EIO, "cannot make a unique name in '%s'", s->uploads_dir);
}

enum MHD_Result handle_live_create(server *s, struct MHD_Connection *c, const caller *who,
                                   const buf *json)
{
    live_fields f;
    api_error e;
    int prio = 0;
    if (parse_fields(json, &f, &e) ||
        caller_priority(who, f.priority, STORE_PRIO_REALTIME, &prio, &e))
        return reply_error(c, &e);
    json_t *opts = json_pack("{s:s, s:f}", "format", f.format, "idle_timeout",
                             f.idle_timeout_s > 0 ? f.idle_timeout_s : s->live_idle_timeout_s);
    char *opts_text = opts ? json_dumps(opts, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(opts);
    char path[4096];
    hark_err err = {0};
    int rc = opts_text ? create_input(s, f.format, path, sizeof path, &err)
                       : err_set(&err, HARK_ENOMEM, "out of memory");
    if (rc) {
        free(opts_text);
        return reply_errorf(c, rc == HARK_ENOSPC ? 507 : MHD_HTTP_INTERNAL_SERVER_ERROR, NULL,
                            "store_error", "cannot start a live job: %s", err.msg);
    }
    store_job_spec spec = {
        .kind = job_kind_live.name,
        .options = opts_text,
        .input = path,
        .input_root = s->uploads_dir,
        .source = f.name[0] ? f.name : "dictation",
        .priority = prio,
        .timeout_s = s->default_timeout_s,
        .max_active = s->queue_limit[prio],
        .owner = who->token_name,
        .input_open = true,
    };
    char id[STORE_ID_SIZE];
    rc = store_submit(s->st, &spec, id, &err);
    free(opts_text);
    if (rc) {
        unlink(path);
        if (rc == HARK_EFULL)
            return reply_queue_full(c, prio, &err);
        if (rc == HARK_EUNAVAIL)
            return reply_store_error(c, rc, &err, "");
        return reply_errorf(c, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, "store_error", "%s", err.msg);
    }
    server_wake(s);
    store_job job;
    rc = store_get_job(s->st, caller_scope(who), id, &job, &err);
    if (rc == HARK_EUNAVAIL) /* the unused job ends at its idle timeout */
        return reply_store_error(c, rc, &err, id);
    if (rc)
        return reply_errorf(c, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, "store_error",
                            "live job %s was made but cannot be read back: %s", id, err.msg);
    log_event(LOG_INFO, "job.submitted", {"job", id}, {"request", who->request_id},
              {"priority", store_priority_name(prio)}, {"token", who->token_name},
              {"kind", "live"});
    char location[64];
    snprintf(location, sizeof location, "/v1/jobs/%s", id);
    enum MHD_Result ret = reply_json(c, MHD_HTTP_CREATED, job_json(&job), location);
    store_job_release(&job);
    return ret;
}

/* ---- POST /v1/live/{id}/audio ------------------------------------------- */

struct live_append {
    char id[STORE_ID_SIZE];
    store_scope scope;
    char owner[STORE_OWNER_MAX + 1];
    int fd;
    enum live_format format;
    bool stream_start; /* the input was empty: this body starts the stream */
    int64_t size;      /* bytes in the file */
    int64_t acked;     /* bytes recorded in the store */
    int64_t begun_at;  /* the file's size when this request began */
    int64_t received;  /* body bytes of this request */
    int64_t sync_ns;   /* last sync */
    unsigned char head[HEAD_BYTES];
    size_t head_n;
    bool head_done;
};

/* Take back what this request wrote and nobody acknowledged. */
static void take_back(live_append *a)
{
    if (a->size > a->acked && ftruncate(a->fd, a->acked) == 0)
        a->size = a->acked;
}

/* The append is over: only what was acknowledged stays (a request that
 * ends without its answer, its client gone or its body refused part way,
 * leaves no stray bytes for the next append to start after), and the lock
 * is released. */
static void append_end(live_append *a)
{
    if (a->fd >= 0) {
        take_back(a);
        close(a->fd); /* releases the lock */
        a->fd = -1;
    }
}

void live_append_free(live_append *a)
{
    if (!a)
        return;
    append_end(a);
    free(a);
}

static int not_taking(api_error *e, const store_job *job)
{
    if (store_state_terminal(job->state))
        return api_error_set(e, MHD_HTTP_CONFLICT, "id", "live_ended",
                             "live job %s is %s: it takes no more audio", job->id,
                             store_state_name(job->state));
    return api_error_set(e, MHD_HTTP_CONFLICT, "id", "live_ended",
                         "live job %s takes no more audio: its audio has ended%s", job->id,
                         job->input_bytes ? " (what was received is being transcribed)" : "");
}

int live_append_begin(server *s, const caller *who, const char *id, live_append **out, api_error *e)
{
    *out = NULL;
    store_job job;
    hark_err err = {0};
    int rc = store_get_job(s->st, caller_scope(who), id, &job, &err);
    if (rc == HARK_ENOENT)
        return api_error_set(e, MHD_HTTP_NOT_FOUND, "id", "job_not_found", "job '%s' not found",
                             id);
    if (rc == HARK_EUNAVAIL)
        return api_store_unavailable(e, &err);
    if (rc)
        return api_error_set(e, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, "store_error", "%s", err.msg);
    const job_kind *k = job_kind_of(&job);
    if (!k || !k->live) {
        rc = api_error_set(e, MHD_HTTP_CONFLICT, "id", "not_live",
                           "job %s is not a live job: make one with POST /v1/live", id);
    } else if (!job.input_open || store_state_terminal(job.state)) {
        rc = not_taking(e, &job);
    }
    live_append *a = rc ? NULL : calloc(1, sizeof *a);
    if (!rc && !a)
        rc = api_error_set(e, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, NULL, "out of memory");
    if (rc) {
        store_job_release(&job);
        return rc;
    }
    a->fd = -1;
    snprintf(a->id, sizeof a->id, "%s", id);
    snprintf(a->owner, sizeof a->owner, "%s", who->token_name);
    a->scope = caller_scope(who);
    if (a->scope.owner)
        a->scope.owner = a->owner;
    live_format_parse(live_format_of(&job), &a->format, NULL);
    /* The input is hark's own file in uploads/: opened with no link
     * followed, appended to, one request at a time. */
    a->fd = open(job.input, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
    store_job_release(&job);
    struct stat sb;
    if (a->fd < 0 || fstat(a->fd, &sb) != 0) {
        rc = api_error_set(e, MHD_HTTP_CONFLICT, "id", "live_ended",
                           "live job %s has no input to append to any more", id);
    } else if (flock(a->fd, LOCK_EX | LOCK_NB) != 0) {
        rc = api_error_set(e, MHD_HTTP_CONFLICT, "id", "append_in_progress",
                           "another append to live job %s is in progress: send them one after "
                           "another",
                           id);
    }
    if (rc) {
        live_append_free(a);
        return rc;
    }
    a->size = a->acked = a->begun_at = sb.st_size;
    a->stream_start = sb.st_size == 0;
    a->sync_ns = clock_now_ns();
    *out = a;
    return 0;
}

static int write_all(live_append *a, const void *data, size_t n, api_error *e)
{
    const char *p = data;
    while (n > 0) {
        ssize_t w = write(a->fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            int full = errno == ENOSPC || errno == EDQUOT;
            take_back(a);
            return api_error_set(e, full ? 507 : MHD_HTTP_INTERNAL_SERVER_ERROR, NULL,
                                 full ? "out_of_space" : "write_error",
                                 "cannot keep the audio of live job %s: %s", a->id,
                                 strerror(errno));
        }
        p += w;
        n -= (size_t)w;
        a->size += w;
    }
    return 0;
}

/* Sync what was written and record it: from here it is acknowledged. */
static int acknowledge(server *s, live_append *a, api_error *e)
{
    if (a->size == a->acked)
        return 0;
    if (fdatasync(a->fd) != 0) {
        take_back(a);
        return api_error_set(e, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, "write_error",
                             "cannot keep the audio of live job %s: %s", a->id, strerror(errno));
    }
    hark_err err = {0};
    int rc = store_input_append(s->st, a->scope, a->id, a->size, &err);
    if (rc) {
        take_back(a);
        if (rc == HARK_EINVAL)
            return api_error_set(e, MHD_HTTP_CONFLICT, "id", "live_ended", "%s", err.msg);
        if (rc == HARK_ENOENT)
            return api_error_set(e, MHD_HTTP_NOT_FOUND, "id", "job_not_found", "job '%s' not found",
                                 a->id);
        if (rc == HARK_EUNAVAIL)
            return api_store_unavailable(e, &err);
        return api_error_set(e, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, "store_error", "%s", err.msg);
    }
    a->acked = a->size;
    a->sync_ns = clock_now_ns();
    server_wake(s);
    return 0;
}

/* The format check of this body's first bytes: a container's stream is
 * judged where it starts; raw samples on every request (a client that
 * sends a WAV file per request is told at once). */
static int check_head(live_append *a, api_error *e)
{
    a->head_done = true;
    if (a->format != LIVE_S16LE && !a->stream_start)
        return 0;
    hark_err err = {0};
    if (live_format_check_head(a->format, a->head, a->head_n, &err) == 0)
        return 0;
    return api_error_set(e, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, NULL, "invalid_audio",
                         "live job %s: %s", a->id, err.msg);
}

int live_append_feed(server *s, live_append *a, const char *data, size_t n, api_error *e)
{
    a->received += (int64_t)n;
    if (a->size + (int64_t)n > s->max_upload_bytes) {
        take_back(a);
        return api_error_set(e, MHD_HTTP_CONTENT_TOO_LARGE, NULL, "audio_too_large",
                             "live job %s would have more than this server's limit of %lld bytes "
                             "of audio",
                             a->id, (long long)s->max_upload_bytes);
    }
    if (!a->head_done) {
        size_t k = HEAD_BYTES - a->head_n < n ? HEAD_BYTES - a->head_n : n;
        memcpy(a->head + a->head_n, data, k);
        a->head_n += k;
        data += k;
        n -= k;
        if (a->head_n < HEAD_BYTES)
            return 0;
        int rc = check_head(a, e);
        if (rc == 0)
            rc = write_all(a, a->head, a->head_n, e);
        if (rc)
            return rc;
    }
    int rc = n ? write_all(a, data, n, e) : 0;
    /* A body that streams (chunked, one utterance long) is acknowledged as
     * it comes, so its audio is decoded while it arrives. */
    if (rc == 0 && a->size - a->acked >= LIVE_SYNC_BYTES &&
        clock_now_ns() - a->sync_ns >= SYNC_EVERY_NS)
        rc = acknowledge(s, a, e);
    return rc;
}

enum MHD_Result handle_live_audio(server *s, struct MHD_Connection *c, live_append *a)
{
    api_error e;
    int rc = 0;
    if (!a->head_done && a->head_n > 0) {
        rc = check_head(a, &e);
        if (rc == 0)
            rc = write_all(a, a->head, a->head_n, &e);
    }
    if (rc == 0)
        rc = acknowledge(s, a, &e);
    /* Unlocked before the answer: a client sends its next append as soon
     * as it has it, and must not find this one still holding the input. */
    append_end(a);
    if (rc)
        return reply_error(c, &e);
    json_t *body = json_pack("{s:s, s:I, s:I}", "id", a->id, "bytes", (json_int_t)a->size,
                             "received", (json_int_t)a->received);
    if (body && a->format == LIVE_S16LE)
        json_object_set_new(body, "duration", json_real((double)(a->size / 2) / 16000));
    return reply_json(c, MHD_HTTP_OK, body, NULL);
}

/* ---- POST /v1/live/{id}/end ---------------------------------------------- */

typedef struct end_wait {
    char id[STORE_ID_SIZE];
    const caller *who; /* the request's: it lives as long as the request */
    int fd;
} end_wait;

static enum MHD_Result reply_stopping(struct MHD_Connection *c, const char *id)
{
    api_error e;
    api_error_set(&e, MHD_HTTP_SERVICE_UNAVAILABLE, NULL, "shutting_down",
                  "the server is stopping; live job %s is transcribed when it is back "
                  "(GET /v1/jobs/%s/result)",
                  id, id);
    e.retry_after = "5";
    return reply_error(c, &e);
}

static enum MHD_Result end_step(server *s, struct MHD_Connection *c, void *ctx)
{
    end_wait *w = ctx;
    store_job job;
    hark_err err = {0};
    int rc = 0;
    switch (server_wait_job(s, c, caller_scope(w->who), w->id, w->fd, &job, &rc, &err)) {
    case JOB_WAIT_PARKED:
        return MHD_YES;
    case JOB_WAIT_GONE:
        return MHD_NO; /* the job goes on; its result stays in the store */
    case JOB_WAIT_STOPPING:
        return reply_stopping(c, w->id);
    case JOB_WAIT_FAILED:
        return reply_store_error(c, rc == HARK_EINVAL ? HARK_EIO : rc, &err, w->id);
    case JOB_WAIT_ENDED:
        break;
    }
    int state = job.state;
    store_job_release(&job);
    if (state == STORE_CANCELLED)
        return reply_errorf(c, MHD_HTTP_CONFLICT, "id", "job_cancelled",
                            "live job %s was cancelled", w->id);
    return reply_job_result(s, c, w->who, w->id, "json");
}

enum MHD_Result handle_live_end(server *s, struct MHD_Connection *c, const caller *who,
                                const char *id, request_cont *cont)
{
    store_job job;
    hark_err err = {0};
    int rc = store_get_job(s->st, caller_scope(who), id, &job, &err);
    if (rc)
        return reply_store_error(c, rc == HARK_EINVAL ? HARK_EIO : rc, &err, id);
    const job_kind *k = job_kind_of(&job);
    bool live = k && k->live;
    store_job_release(&job);
    if (!live)
        return reply_errorf(c, MHD_HTTP_CONFLICT, "id", "not_live",
                            "job %s is not a live job: make one with POST /v1/live", id);
    /* A bad ?format= is refused before the dictation is ended. */
    const char *fmt = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "format");
    if (fmt && job_kind_format(k, fmt) < 0) {
        char list[256];
        job_kind_format_list(k, list, sizeof list);
        return reply_errorf(c, MHD_HTTP_BAD_REQUEST, "format", "invalid_value",
                            "unknown format '%.64s' for a live job (%s)", fmt, list);
    }
    bool was_open = false;
    rc = store_input_close(s->st, caller_scope(who), id, "end", &was_open, &err);
    if (rc)
        return reply_store_error(c, rc, &err, id);
    if (was_open) {
        log_event(LOG_INFO, "live.end", {"job", id}, {"request", who->request_id});
        server_wake(s);
    }
    end_wait *w = calloc(1, sizeof *w);
    if (!w)
        return reply_errorf(c, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, NULL, "out of memory");
    snprintf(w->id, sizeof w->id, "%s", id);
    w->who = who;
    w->fd = server_connection_fd(c);
    *cont = (request_cont){.fn = end_step, .ctx = w, .free_ctx = free};
    return end_step(s, c, w);
}
