/* webhook_body.c - what a webhook delivery carries (webhook_body.h). */
#include "store/webhook_body.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>

void store_webhook_event(int state, char out[STORE_WEBHOOK_EVENT_SIZE])
{
    snprintf(out, STORE_WEBHOOK_EVENT_SIZE, "job.%s", store_state_name(state));
}

int store_webhook_outcome(int requested, int attempt, int max_attempts)
{
    return requested == STORE_WEBHOOK_PENDING && attempt >= max_attempts ? STORE_WEBHOOK_FAILED
                                                                         : requested;
}

/* A JSON number as the API's job object writes it: an integer when v is
 * integral (server/job_json.c's job_json_number). */
static json_t *json_number_of(double v)
{
    if (isfinite(v) && v == floor(v) && fabs(v) <= 9007199254740992.0)
        return json_integer((json_int_t)v);
    return json_real(isfinite(v) ? v : 0.0);
}

static json_t *json_time_of(int64_t ms)
{
    return ms > 0 ? json_real((double)ms / 1000.0) : json_null();
}

char *store_webhook_body(const store_job *j, const char *event)
{
    char result_url[64];
    snprintf(result_url, sizeof result_url, "/v1/jobs/%s/result", j->id);
    json_t *o = json_object();
    if (!o)
        return NULL;
    int bad = 0;
    bad |= json_object_set_new(o, "event", json_string(event));
    bad |= json_object_set_new(o, "id", json_string(j->id));
    bad |= json_object_set_new(o, "object", json_string("job"));
    bad |= json_object_set_new(o, "kind", json_string(j->kind));
    bad |= json_object_set_new(o, "state", json_string(store_state_name(j->state)));
    bad |= json_object_set_new(o, "priority", json_string(store_priority_name(j->priority)));
    bad |= json_object_set_new(o, "source", json_string(j->source));
    bad |= json_object_set_new(o, "created_at", json_time_of(j->created_ms));
    bad |= json_object_set_new(o, "started_at", json_time_of(j->started_ms));
    bad |= json_object_set_new(o, "finished_at", json_time_of(j->finished_ms));
    bad |= json_object_set_new(o, "timeout", json_number_of(j->timeout_s));
    bad |= json_object_set_new(o, "duration",
                               j->prepared ? json_number_of(j->duration_s) : json_null());
    bad |= json_object_set_new(o, "chunks", j->prepared ? json_integer(j->n_chunks) : json_null());
    bad |= json_object_set_new(o, "chunks_done", json_integer(j->chunks_done));
    bad |= json_object_set_new(o, "error", j->error[0] ? json_string(j->error) : json_null());
    bad |= json_object_set_new(o, "result_url",
                               j->state == STORE_SUCCEEDED ? json_string(result_url) : json_null());
    /* JSON_COMPACT | JSON_REAL_PRECISION(13): server/job_json.h's flags, so
     * epoch seconds keep their milliseconds without binary noise. */
    char *text = bad ? NULL : json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(13));
    json_decref(o);
    return text;
}
