/* webhook_body.h - the neutral half of the webhook outbox (store.h,
 * "webhooks"): the event and body a delivery is inserted with when its job
 * ends, and what an attempt's outcome makes of it. Every store backend
 * inserts and records deliveries with these, so a receiver sees the same
 * bytes whichever store the server runs on. */
#ifndef HARK_STORE_WEBHOOK_BODY_H
#define HARK_STORE_WEBHOOK_BODY_H

#include "store/store.h"

#define STORE_WEBHOOK_EVENT_SIZE 32

/* "job.succeeded", "job.failed", "job.cancelled" for an ended job's state. */
void store_webhook_event(int state, char out[STORE_WEBHOOK_EVENT_SIZE]);

/* The body of job j's delivery for event: its summary as JSON text,
 *   {"event", "id", "object": "job", "kind", "state", "priority", "source",
 *    "created_at", "started_at", "finished_at", "timeout", "duration",
 *    "chunks", "chunks_done", "error", "result_url"}
 * dumped like the API's bodies (server/job_json.h: compact, 13 significant
 * digits, integral numbers as integers, times in epoch seconds or null).
 * malloc'ed (the caller frees it), NULL when out of memory. */
char *store_webhook_body(const store_job *j, const char *event);

/* The state a delivery is left in by attempt number `attempt` whose
 * outcome was requested (enum store_webhook_state): a PENDING (try again)
 * at or past max_attempts is FAILED for good; otherwise requested. */
int store_webhook_outcome(int requested, int attempt, int max_attempts);

#endif
