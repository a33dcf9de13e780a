/* job_events.c - the store's own events' data (job_events.h). */
#include "store/job_events.h"

#include "store/store.h"

json_t *store_event_queued(int priority, const char *source, int64_t seq)
{
    return json_pack("{s:s, s:s, s:I}", "priority", store_priority_name(priority), "source", source,
                     "seq", (json_int_t)seq);
}

json_t *store_event_started(const char *worker)
{
    return json_pack("{s:s}", "worker", worker);
}

json_t *store_event_prepared(int n_chunks, double duration_s, int chunks_done)
{
    return json_pack("{s:b, s:i, s:f, s:i}", "prepared", 1, "n_chunks", n_chunks, "duration_s",
                     duration_s, "chunks_done", chunks_done);
}

json_t *store_event_chunk_committed(int idx, int chunks_done, int n_chunks)
{
    return json_pack("{s:i, s:i, s:i, s:f}", "chunk", idx, "chunks_done", chunks_done, "n_chunks",
                     n_chunks, "progress", n_chunks > 0 ? (double)chunks_done / n_chunks : 1.0);
}

json_t *store_event_live_chunk_committed(int idx, int chunks_done, int n_chunks)
{
    return json_pack("{s:i, s:i, s:i, s:b}", "chunk", idx, "chunks_done", chunks_done, "n_chunks",
                     n_chunks, "live", 1);
}

json_t *store_event_preempted(int idx)
{
    return json_pack("{s:i}", "chunk", idx);
}

json_t *store_event_restarted(void)
{
    return json_pack("{s:s}", "reason", "restart");
}

json_t *store_event_paused(int revoked)
{
    return json_pack("{s:i}", "revoked", revoked);
}

json_t *store_event_succeeded(int64_t n_chunks)
{
    return json_pack("{s:I}", "n_chunks", (json_int_t)n_chunks);
}

json_t *store_event_failed(const char *error)
{
    return json_pack("{s:s}", "error", error);
}

json_t *store_event_retried(const char *error, int chunks_done)
{
    return json_pack("{s:s, s:i}", "error", error, "chunks_done", chunks_done);
}

json_t *store_event_stage(int added, int n_chunks, int chunks_done)
{
    return json_pack("{s:i, s:i, s:i}", "added", added, "n_chunks", n_chunks, "chunks_done",
                     chunks_done);
}

json_t *store_event_input_ended(const char *reason, int64_t bytes)
{
    return json_pack("{s:s, s:I}", "reason", reason, "bytes", (json_int_t)bytes);
}

json_t *store_event_delta(const char *delta)
{
    return json_pack("{s:s}", "delta", delta);
}
