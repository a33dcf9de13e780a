/* job_result.h - a stored job's transcript: its committed chunk results
 * assembled in plan order. The one place that turns store rows into a
 * transcript, so `hark transcribe`, the server's result endpoint and the
 * tests cannot disagree about what a job produced.
 */
#ifndef HARK_JOBS_JOB_RESULT_H
#define HARK_JOBS_JOB_RESULT_H

#include "output/format.h"
#include "output/transcript.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/err.h"

/* Build job id's transcript from its committed chunks into t (initialised
 * here; release it with transcript_release). The job must be in scope sc
 * (HARK_ENOENT otherwise), prepared, with every chunk committed (HARK_EINVAL
 * naming the job otherwise). source is the name shown in outputs (NULL: the
 * job's source). A stored result that does not parse is HARK_EIO naming the
 * chunk. */
int job_result_transcript(store *st, store_scope sc, const char *id, const char *source,
                          transcript *t, hark_err *err);

/* The text one committed chunk contributes to its job's transcript text:
 * its segments' texts joined by single spaces ("" when it heard no
 * speech). Segments never span chunks, so a job's text is exactly its
 * chunks' non-empty texts in index order joined by single spaces: what a
 * follower streams as the chunks commit. result is the stored chunk
 * result; idx its index (for messages). *text is malloc'ed. */
int job_result_chunk_text(const char *result, int idx, char **text, hark_err *err);

/* Render job id (of scope sc) in format f into dst (appended). */
int job_result_render(store *st, store_scope sc, const char *id, out_format f, buf *dst,
                      hark_err *err);

#endif
