/* store_bench LOCATION QUEUED [MEASURED] - claim-and-commit throughput of
 * empty chunk tasks on the store at LOCATION (a SQLite path or a PostgreSQL
 * connection string: the store's own backends), with QUEUED chunks waiting.
 *
 * It queues QUEUED + MEASURED chunks (jobs of up to 1000 chunks, each job's
 * prepare task claimed and committed with its plan), then times MEASURED
 * rounds of store_claim + store_commit_chunk, one after the other as one
 * worker would: the queue shrinks from QUEUED + MEASURED to QUEUED waiting
 * chunks while it is measured. Prints one line:
 *   store_bench <backend> queued=<Q> measured=<M> chunks_per_s=<x> claim_ms=<mean> commit_ms=<mean>
 * The store must be empty (a fresh file or database). Used by
 * bench/cluster.sh, which runs it on SQLite and PostgreSQL side by side. */
#include "store/store.h"
#include "util/clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JOB_CHUNKS 1000
#define CHUNK_SAMPLES 16000

static int fail(const char *what, const hark_err *err)
{
    fprintf(stderr, "store_bench: %s: %s\n", what, err->msg);
    return 1;
}

/* Every job submitted and its prepare claimed first (a job's chunks are
 * claimed before a later job's prepare, FIFO), then each plan committed:
 * jobs chunks waiting in all, the last job holding last_n of them. */
static int queue_jobs(store *st, long jobs, int last_n, hark_err *err)
{
    store_job_spec spec = {.kind = "transcribe", .input = "/dev/null", .priority = STORE_PRIO_LOW};
    int64_t *tokens = calloc((size_t)jobs, sizeof *tokens);
    store_span *plan = malloc(sizeof *plan * JOB_CHUNKS);
    int rc = tokens && plan ? 0 : err_set(err, HARK_ENOMEM, "out of memory");
    for (long j = 0; rc == 0 && j < jobs; j++) {
        char id[STORE_ID_SIZE];
        store_task t;
        rc = store_submit(st, &spec, id, err);
        if (rc == 0)
            rc = store_claim(st, "bench", 3600000, &t, err);
        if (rc == 0 && t.kind != STORE_TASK_PREPARE)
            rc = err_set(err, HARK_EINVAL, "the store is not empty (give a fresh one)");
        if (rc == 0)
            tokens[j] = t.token;
    }
    for (int i = 0; rc == 0 && i < JOB_CHUNKS; i++)
        plan[i] = (store_span){(int64_t)i * CHUNK_SAMPLES, (int64_t)(i + 1) * CHUNK_SAMPLES};
    for (long j = 0; rc == 0 && j < jobs; j++) {
        int n = j == jobs - 1 ? last_n : JOB_CHUNKS;
        rc = store_commit_prepare(st, tokens[j], (double)n, plan, (size_t)n, NULL, NULL, err);
    }
    free(tokens);
    free(plan);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: store_bench LOCATION QUEUED [MEASURED]\n");
        return 2;
    }
    long queued = strtol(argv[2], NULL, 10), measured = argc > 3 ? strtol(argv[3], NULL, 10) : 1000;
    if (queued < 0 || measured < 1 || queued + measured > 10000000) {
        fprintf(stderr, "store_bench: QUEUED >= 0 and MEASURED >= 1, at most 10^7 in all\n");
        return 2;
    }
    hark_err err = {0};
    store *st = NULL;
    if (store_open(argv[1], NULL, &st, &err))
        return fail("open", &err);
    long all = queued + measured, jobs = (all + JOB_CHUNKS - 1) / JOB_CHUNKS;
    int rc = 0;
    if (queue_jobs(st, jobs, (int)(all - (jobs - 1) * JOB_CHUNKS), &err))
        rc = fail("queue", &err);
    double claim_s = 0, commit_s = 0, t0 = clock_now_s();
    for (long i = 0; rc == 0 && i < measured; i++) {
        store_task t;
        double a = clock_now_s();
        if (store_claim(st, "bench", 60000, &t, &err)) {
            rc = fail("claim", &err);
            break;
        }
        double b = clock_now_s();
        if (t.kind != STORE_TASK_CHUNK) {
            fprintf(stderr, "store_bench: claim %ld found no chunk\n", i);
            rc = 1;
            break;
        }
        if (store_commit_chunk(st, t.token, "{\"words\":[]}", 0.001, NULL, &err)) {
            rc = fail("commit", &err);
            break;
        }
        claim_s += b - a;
        commit_s += clock_now_s() - b;
    }
    double total = clock_now_s() - t0;
    if (rc == 0)
        printf("store_bench %s queued=%ld measured=%ld chunks_per_s=%.0f claim_ms=%.3f "
               "commit_ms=%.3f\n",
               strstr(argv[1], "postgres") || strchr(argv[1], '=') ? "postgresql" : "sqlite",
               queued, measured, (double)measured / total, claim_s * 1000 / (double)measured,
               commit_s * 1000 / (double)measured);
    store_close(st);
    return rc;
}
