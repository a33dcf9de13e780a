/* job_json.h - a stored job as the job object of docs/api.md.
 *
 * The one place that turns a store_job into what clients see, so the HTTP
 * API, its event streams and later the CLI client cannot disagree about a
 * job's shape. Times are seconds since the epoch (fractional) or null;
 * duration and chunks are null until the input is decoded.
 */
#ifndef HARK_SERVER_JOB_JSON_H
#define HARK_SERVER_JOB_JSON_H

#include "store/store.h"

#include <jansson.h>

/* Dump flags for every JSON body the API sends: compact, and 13 significant
 * digits so epoch seconds keep their milliseconds without binary noise
 * (1795420800.123, not 1795420800.1229999). */
#define JOB_JSON_DUMP_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(13))

/* A JSON number for v: an integer when v is integral (timeout 0, not 0.0),
 * a real otherwise. NULL on allocation failure. */
json_t *job_json_number(double v);

/* Epoch milliseconds as fractional seconds; null for 0 ("not reached"). */
json_t *job_json_time(int64_t ms);

/* New job object for job; NULL on allocation failure. */
json_t *job_json(const store_job *job);

/* The same, serialized with JOB_JSON_DUMP_FLAGS: a malloc'ed string or NULL. */
char *job_json_dumps(const store_job *job);

#endif
