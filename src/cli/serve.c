/* serve.c - `hark serve`: the daemon.
 *
 * Threads: the main thread runs the job runtime (runtime/runtime.c: one poll
 * loop over worker sockets, pidfds, the signalfd and a wake eventfd);
 * libmicrohttpd's threads serve the API (server/). They share only the
 * store, which serializes access and bumps the `changes` counter on every
 * commit (event streams wait on it); the server wakes the runtime after a
 * submit, cancel, pause or resume.
 *
 * Start: open the store, recover (running jobs go back to the queue with
 * their committed chunks), start the workers, then listen. SIGTERM/SIGINT:
 * running chunks yield and are released uncounted, the listener stops, the
 * workers are shut down; exit 0. Nothing is lost: every acknowledged submit
 * and every committed chunk is already durable.
 */
#include "cli/cli.h"

#include "jobs/job_result.h"
#include "runtime/runtime.h"
#include "server/server.h"
#include "store/store.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/notify.h"
#include "util/sigwatch.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_WORKERS 64

static void usage(FILE *to)
{
    fprintf(to, "usage: hark serve [options]\n"
                "\n"
                "Run the transcription daemon: a durable job queue, worker processes and\n"
                "the HTTP API (docs/api.md).\n"
                "\n"
                "  --listen HOST:PORT       address to listen on, loopback only\n"
                "                           (default: 127.0.0.1:8090)\n"
                "  --state-dir DIR          job store, uploads, decoded audio\n"
                "                           (default: $XDG_STATE_HOME/hark/server)\n"
                "  -j, --workers N          worker processes (default: the number of cores)\n"
                "  --max-upload BYTES       largest accepted upload (default: 2 GiB)\n"
                "  --timeout SEC            default job timeout (default: none)\n"
                "  --max-duration SEC       refuse longer inputs (default: 43200)\n"
                "  --url-max-bytes BYTES    largest input downloaded by URL (default: 2 GiB)\n"
                "  --url-timeout SEC        time limit of one download (default: 3600)\n"
                "  --url-stall SEC          abandon a download under 1 KiB/s for SEC\n"
                "                           seconds (default: 30)\n"
                "  --model-dir DIR          PocketSphinx model directory\n"
                "  --max-attempts K         failed attempts of a chunk (crash, hang, out\n"
                "                           of memory) before its job fails (default: 3)\n"
                "  --lease SEC              chunk lease, renewed by worker heartbeats;\n"
                "                           a stopped worker loses its chunk after it\n"
                "                           (default: 10)\n"
                "  -v, --verbose            log each job event\n"
                "  -h, --help               this help\n"
                "\n"
                "SIGTERM or Ctrl-C stops gracefully: running chunks yield, the queue is\n"
                "kept, and the next start continues it.\n");
}

/* runtime hook: check the job's results assemble before it is marked
 * succeeded (outputs are rendered on request, from the store). */
static int on_complete(void *ctx, store *st, const char *job_id, hark_err *err)
{
    (void)ctx;
    transcript t;
    int rc = job_result_transcript(st, job_id, NULL, &t, err);
    if (rc == 0)
        transcript_release(&t);
    return rc;
}

static void on_finished(void *ctx, const char *job_id, int state)
{
    (void)ctx;
    log_info("job %s %s", job_id, store_state_name(state));
}

static void wake_runtime(void *rt)
{
    runtime_wake(rt);
}

static int parse_count(const char *s, long min, long max, long *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || !end || end == s || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

enum { OPT_URL_MAX_BYTES = 0x300, OPT_URL_TIMEOUT, OPT_URL_STALL };

/* --url-*: the limits of downloads of URL inputs (done by the workers). */
static int url_option(int opt, const char *arg, net_fetch_opts *f)
{
    long n;
    double v;
    if (opt == OPT_URL_MAX_BYTES) {
        if (parse_count(arg, 1, __LONG_MAX__, &n) == 0) {
            f->max_bytes = (uint64_t)n;
            return 0;
        }
        fprintf(stderr, "hark: --url-max-bytes wants a number of bytes, not '%s'\n", arg);
    } else if (opt == OPT_URL_TIMEOUT) {
        if (cli_parse_seconds(arg, &v) == 0 && v > 0) {
            f->total_timeout_s = v;
            if (f->connect_timeout_s > v)
                f->connect_timeout_s = v;
            return 0;
        }
        fprintf(stderr, "hark: --url-timeout wants a number of seconds > 0, not '%s'\n", arg);
    } else {
        if (parse_count(arg, 1, 86400, &n) == 0) {
            f->low_speed_time_s = n;
            return 0;
        }
        fprintf(stderr, "hark: --url-stall wants whole seconds (1..86400), not '%s'\n", arg);
    }
    return -1;
}

int cli_serve(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"listen", required_argument, NULL, 'l'},
        {"state-dir", required_argument, NULL, 's'},
        {"workers", required_argument, NULL, 'j'},
        {"max-upload", required_argument, NULL, 'U'},
        {"timeout", required_argument, NULL, 't'},
        {"max-duration", required_argument, NULL, 'M'},
        {"model-dir", required_argument, NULL, 'm'},
        {"lease", required_argument, NULL, 'L'},
        {"max-attempts", required_argument, NULL, 'A'},
        {"url-max-bytes", required_argument, NULL, OPT_URL_MAX_BYTES},
        {"url-timeout", required_argument, NULL, OPT_URL_TIMEOUT},
        {"url-stall", required_argument, NULL, OPT_URL_STALL},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *listen = "127.0.0.1:8090", *state_arg = NULL;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    long workers = cores < 1 ? 1 : cores > MAX_WORKERS ? MAX_WORKERS : cores;
    long max_upload = 2L << 30;
    long attempts = 3;
    double timeout_s = 0;
    runtime_opts o;
    runtime_opts_default(&o);
    optind = 1;
    int opt;
    while ((opt = getopt_long(argc, argv, "j:vh", longopts, NULL)) != -1) {
        switch (opt) {
        case 'l':
            listen = optarg;
            break;
        case 's':
            state_arg = optarg;
            break;
        case 'j':
            if (parse_count(optarg, 1, MAX_WORKERS, &workers)) {
                fprintf(stderr, "hark: --workers wants 1..%d, not '%s'\n", MAX_WORKERS, optarg);
                return EXIT_USAGE;
            }
            break;
        case 'A':
            if (parse_count(optarg, 1, 20, &attempts)) {
                fprintf(stderr, "hark: --max-attempts wants 1..20, not '%s'\n", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'U':
            if (parse_count(optarg, 1, __LONG_MAX__, &max_upload)) {
                fprintf(stderr, "hark: --max-upload wants a number of bytes, not '%s'\n", optarg);
                return EXIT_USAGE;
            }
            break;
        case 't':
        case 'L':
        case 'M': {
            double v;
            if (cli_parse_seconds(optarg, &v)) {
                fprintf(stderr, "hark: %s wants a number of seconds, not '%s'\n",
                        opt == 't'   ? "--timeout"
                        : opt == 'L' ? "--lease"
                                     : "--max-duration",
                        optarg);
                return EXIT_USAGE;
            }
            if (opt == 't')
                timeout_s = v;
            else if (opt == 'L')
                o.lease_ms = v < 0.5 ? 500 : (int64_t)(v * 1000);
            else
                o.max_duration_s = v;
            break;
        }
        case 'm':
            setenv("HARK_MODEL_DIR", optarg, 1); /* read by the workers */
            break;
        case OPT_URL_MAX_BYTES:
        case OPT_URL_TIMEOUT:
        case OPT_URL_STALL:
            if (url_option(opt, optarg, &o.fetch))
                return EXIT_USAGE;
            break;
        case 'v':
            log_set_level(LOG_INFO);
            break;
        case 'h':
            usage(stdout);
            return EXIT_ALL_OK;
        default:
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "hark: serve takes no arguments ('%s')\n", argv[optind]);
        usage(stderr);
        return EXIT_USAGE;
    }

    char state[4096], db[4200], work[4200], exe[4096];
    hark_err err = {0};
    if (state_arg)
        snprintf(state, sizeof state, "%s", state_arg);
    else if (fs_default_state_dir(state, sizeof state) != 0 ||
             strlen(state) + sizeof "/server" > sizeof state) {
        fprintf(stderr, "hark: cannot find a state directory; give --state-dir\n");
        return EXIT_SOME_FAILED;
    } else {
        strncat(state, "/server", sizeof state - strlen(state) - 1);
    }
    snprintf(db, sizeof db, "%s/hark.db", state);
    snprintf(work, sizeof work, "%s/work", state);
    if (fs_self_exe(exe, sizeof exe)) {
        fprintf(stderr, "hark: cannot find the hark executable: %s\n", strerror(errno));
        return EXIT_SOME_FAILED;
    }
    if (fs_mkdir_p(state, 0700, &err)) {
        fprintf(stderr, "hark: %s\n", err.msg);
        return EXIT_SOME_FAILED;
    }

    /* Block INT/TERM before any thread starts, so every thread inherits
     * the mask and they arrive only through the signalfd. */
    int sigfd = sigwatch_open();
    notify changes;
    if (notify_init(&changes)) {
        fprintf(stderr, "hark: cannot create a condition variable\n");
        return EXIT_SOME_FAILED;
    }
    store_options so = {
        .max_attempts = (int)attempts, .on_commit = notify_signal, .commit_ctx = &changes};
    store *st = NULL;
    runtime *rt = NULL;
    server *srv = NULL;
    int recovered = 0, rc = store_open(db, &so, &st, &err);
    if (rc == 0)
        rc = store_recover(st, &recovered, &err);
    if (rc == 0) {
        o.worker_path = exe;
        o.workers = (int)workers;
        o.work_root = work;
        o.sigfd = sigfd;
        runtime_hooks h = {.complete = on_complete, .finished = on_finished};
        rc = runtime_new(st, &o, &h, &rt, &err);
    }
    if (rc == 0) {
        server_opts sv = {.listen = listen,
                          .state_dir = state,
                          .st = st,
                          .changes = &changes,
                          .wake = wake_runtime,
                          .wake_ctx = rt,
                          .max_upload_bytes = max_upload,
                          .default_timeout_s = timeout_s};
        rc = server_start(&sv, &srv, &err);
    }
    if (rc == 0) {
        /* The real port (--listen HOST:0 picks a free one): tests read it here. */
        char host[256];
        const char *colon = strrchr(listen, ':');
        snprintf(host, sizeof host, "%.*s", colon ? (int)(colon - listen) : 0, listen);
        fprintf(stderr, "hark: serving http://%s:%d (state %s, %ld workers%s)\n", host,
                server_port(srv), state, workers, recovered ? ", recovered running jobs" : "");
        rc = runtime_run(rt, &err);
        if (rc == HARK_ECANCELED) {
            log_info("signal %d: stopping", runtime_signal(rt));
            rc = 0;
        }
    }
    if (rc)
        fprintf(stderr, "hark: %s\n", err.msg);
    notify_close(&changes); /* event streams end */
    server_stop(srv);
    runtime_free(rt);
    store_close(st);
    notify_destroy(&changes);
    sigwatch_close(sigfd);
    if (rc == 0)
        fprintf(stderr, "hark: stopped; the queue is kept\n");
    return rc ? EXIT_SOME_FAILED : EXIT_ALL_OK;
}
