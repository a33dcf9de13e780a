/* live_kind.h - what the rest of hark needs to know of live jobs besides
 * their row in the kind table (jobs/kind.h, job_kind_live). */
#ifndef HARK_JOBS_LIVE_KIND_H
#define HARK_JOBS_LIVE_KIND_H

#include "store/store.h"

#define LIVE_IDLE_TIMEOUT_S 30.0 /* the default idle end */
#define LIVE_IDLE_TIMEOUT_MAX_S 3600.0

/* Formats a live job's audio may come in: raw s16le 16 kHz mono, or the
 * streamable containers browsers' MediaRecorder makes. */
#define LIVE_FORMATS "s16le, webm, ogg, mp4"

/* How long job (a live job) may go without audio before the daemon ends
 * it: its "idle_timeout" option, else LIVE_IDLE_TIMEOUT_S. */
double live_idle_timeout_s(const store_job *job);

/* Its "format" option ("s16le" when none). The string lives in a static
 * table: it outlives job. */
const char *live_format_of(const store_job *job);

#endif
