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
#include "asr/engine.h"
#include "cli/cli.h"

#include "auth/path_root.h"
#include "auth/serve_config.h"
#include "auth/tokens.h"
#include "jobs/job_result.h"
#include "metrics/hark_metrics.h"
#include "net/dest.h"
#include "net/net.h"
#include "runtime/runtime.h"
#include "runtime/webhook_sender.h"
#include "server/server.h"
#include "server/upload_sweep.h"
#include "store/store.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/notify.h"
#include "util/sigwatch.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#define MAX_WORKERS 64
#define MAX_ROOTS 64
#define MAX_URL_ALLOW 64

/* Active jobs a class may hold before submits get 429 (config queue_limit.*
 * overrides; 0 there means unbounded). */
static const int default_queue_limit[4] = {100, 1000, 10000, 10000};

/* How long an ended job is kept (config job_retention overrides; 0 there
 * keeps them forever). */
#define DEFAULT_JOB_RETENTION_S (30 * 86400.0)

static void usage(FILE *to)
{
    fprintf(to, "usage: hark serve [options]\n"
                "\n"
                "Run the transcription daemon: a durable job queue, worker processes and\n"
                "the HTTP API (docs/api.md).\n"
                "\n"
                "  --config FILE            settings and API tokens (docs/config.md);\n"
                "                           options given here win over the file\n"
                "  --listen HOST:PORT       address to listen on (default: 127.0.0.1:8090);\n"
                "                           loopback only unless API tokens are configured\n"
                "  --root DIR               server-side paths may be read from DIR\n"
                "                           (repeatable; none: paths are refused)\n"
                "  --state-dir DIR          job store, uploads, decoded audio, artifacts\n"
                "                           (default: $XDG_STATE_HOME/hark/server)\n"
                "  --store LOCATION         the job store: a SQLite file, or a PostgreSQL\n"
                "                           connection string several nodes share\n"
                "                           (default: STATE_DIR/hark.db)\n"
                "  --shared-dir DIR         uploads, decoded audio and artifacts, on storage\n"
                "                           every node mounts (default: STATE_DIR)\n"
                "  --node NAME              this node's name in leases, logs and /metrics\n"
                "                           (default: the host name)\n"
                "  --machine NAME           the machine it runs on: a push-to-talk clip\n"
                "                           clears every node of its machine (default:\n"
                "                           the host name)\n"
                "  -j, --workers N          worker processes (default: the number of cores)\n"
                "  --max-upload BYTES       largest accepted upload (default: 2 GiB)\n"
                "  --max-body BYTES         largest JSON request body (default: 64 KiB)\n"
                "  --timeout SEC            default job timeout (default: none)\n"
                "  --max-duration SEC       refuse longer inputs (default: 43200)\n"
                "  --url-max-bytes BYTES    largest input downloaded by URL (default: 2 GiB)\n"
                "  --url-timeout SEC        time limit of one download (default: 3600)\n"
                "  --url-stall SEC          abandon a download under 1 KiB/s for SEC\n"
                "                           seconds (default: 30)\n"
                "  --url-allow HOST[:PORT]  URL inputs and webhooks to HOST (at PORT) may\n"
                "                           reach private and loopback addresses\n"
                "                           (repeatable; none: public addresses only)\n"
                "  --model-dir DIR          PocketSphinx model directory\n"
                "  --max-attempts K         failed attempts of a chunk (crash, hang, out\n"
                "                           of memory) before its job fails (default: 3)\n"
                "  --lease SEC              chunk lease, renewed by worker heartbeats;\n"
                "                           a stopped worker loses its chunk after it\n"
                "                           (default: 10)\n"
                "  --webhook-secret-file FILE  sign webhooks with the key in FILE\n"
                "                           (default: $HARK_WEBHOOK_SECRET); without a key,\n"
                "                           submits with a callback_url are refused\n"
                "  -v, --verbose            log each job event\n"
                "  -h, --help               this help\n"
                "\n"
                "API tokens come from the config file's [token NAME] sections and from\n"
                "HARK_TOKENS=name:max_priority:secret,... (docs/config.md).\n"
                "SIGTERM or Ctrl-C stops gracefully: running chunks yield, the queue is\n"
                "kept, and the next start continues it.\n");
}

/* runtime hook: the job's kind has checked its results (outputs are
 * rendered on request, from the store); nothing more to do. */
static int on_complete(void *ctx, store *st, const char *job_id, hark_err *err)
{
    (void)ctx, (void)st, (void)job_id, (void)err;
    return 0;
}

/* What the runtime hooks and the readiness probe need. */
typedef struct daemon_ctx {
    store *st;
    hark_metrics *metrics;
    runtime *rt;
} daemon_ctx;

static void on_finished(void *ctx, const char *job_id, int state)
{
    daemon_ctx *d = ctx;
    store_job job;
    hark_err err = {0};
    char latency[32] = "";
    if (store_get_job(d->st, STORE_SCOPE_ALL, job_id, &job, &err) == 0) {
        double s = job.finished_ms > 0 ? (double)(job.finished_ms - job.created_ms) / 1000 : 0;
        snprintf(latency, sizeof latency, "%.3f", s);
        hark_metrics_job_finished(d->metrics, state, job.priority, s);
        store_job_release(&job);
    }
    log_event(LOG_INFO, "job.finished", {"job", job_id}, {"state", store_state_name(state)},
              {"latency_s", latency});
}

static void on_webhook_attempt(void *ctx, enum webhook_sender_outcome outcome)
{
    hark_metrics_webhook(ctx, outcome == WEBHOOK_SENDER_DELIVERED ? HARK_WEBHOOK_DELIVERED
                              : outcome == WEBHOOK_SENDER_RETRIED ? HARK_WEBHOOK_RETRIED
                                                                  : HARK_WEBHOOK_FAILED);
}

static void wake_runtime(void *rt)
{
    runtime_wake(rt);
}

/* /readyz: a worker is ready, and no resource condition holds (the disk
 * filled under a task or a commit: DESIGN.md invariant 11). */
static int workers_ready(void *ctx, char *why, size_t n)
{
    daemon_ctx *d = ctx;
    if (!d->rt || runtime_ready_workers(d->rt) == 0) {
        snprintf(why, n, "no worker is ready yet");
        return -1;
    }
    char cause[400];
    if (runtime_resource_problem(d->rt, cause, sizeof cause)) {
        snprintf(why, n, "out of disk space: %s", cause);
        return -1;
    }
    return 0;
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

enum {
    OPT_URL_MAX_BYTES = 0x300,
    OPT_URL_TIMEOUT,
    OPT_URL_STALL,
    OPT_URL_ALLOW,
    OPT_STORE,
    OPT_SHARED_DIR,
    OPT_NODE,
    OPT_MACHINE
};

/* A node name: what a token name may be (1 to 64 of A-Z a-z 0-9 . _ -), so
 * it is safe in logs, metric labels and the store. */
static bool node_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr("._-", s[i]))
            return false;
    return true;
}

/* What the store's watcher wakes when another node commits: event
 * streams and long polls (changes), and the runtime (a job queued or
 * paused elsewhere). rt is set before store_watch starts the thread. */
typedef struct remote_wake {
    notify *changes;
    runtime *rt;
} remote_wake;

static void on_remote_change(void *ctx)
{
    remote_wake *w = ctx;
    notify_signal(w->changes);
    if (w->rt)
        runtime_wake(w->rt);
}

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

/* The allow list of --url-allow and the config's url_allow: where URL
 * inputs and webhooks may reach private addresses (net/dest.h). */
static int url_allow_init(net_dest_policy *dest, const char *const *specs, size_t n, hark_err *err)
{
    for (size_t i = 0; i < n; i++) {
        net_allow a;
        hark_err why = {0};
        if (net_allow_parse(specs[i], &a, &why))
            return err_set(err, HARK_EINVAL, "url_allow '%.100s': %s", specs[i], why.msg);
        if (net_dest_policy_add(dest, &a, err))
            return HARK_ENOMEM;
    }
    return 0;
}

static void release_setup(serve_config *cfg, token_table *tokens, path_roots *roots,
                          hark_metrics *metrics, net_dest_policy *dest)
{
    net_dest_policy_release(dest);
    serve_config_release(cfg);
    tokens_release(tokens);
    path_roots_release(roots);
    hark_metrics_free(metrics);
}

/* A failure before the daemon starts: say it, free what the setup holds. */
static int setup_failed(const char *why, char *secret, serve_config *cfg, token_table *tokens,
                        path_roots *roots, hark_metrics *metrics, net_dest_policy *dest)
{
    fprintf(stderr, "hark: %s\n", why);
    if (secret)
        explicit_bzero(secret, strlen(secret));
    free(secret);
    release_setup(cfg, tokens, roots, metrics, dest);
    return EXIT_SOME_FAILED;
}

int cli_serve(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"root", required_argument, NULL, 'r'},
        {"max-body", required_argument, NULL, 'B'},
        {"listen", required_argument, NULL, 'l'},
        {"state-dir", required_argument, NULL, 's'},
        {"workers", required_argument, NULL, 'j'},
        {"max-upload", required_argument, NULL, 'U'},
        {"timeout", required_argument, NULL, 't'},
        {"max-duration", required_argument, NULL, 'M'},
        {"model-dir", required_argument, NULL, 'm'},
        {"lease", required_argument, NULL, 'L'},
        {"max-attempts", required_argument, NULL, 'A'},
        {"webhook-secret-file", required_argument, NULL, 'W'},
        {"url-max-bytes", required_argument, NULL, OPT_URL_MAX_BYTES},
        {"url-timeout", required_argument, NULL, OPT_URL_TIMEOUT},
        {"url-stall", required_argument, NULL, OPT_URL_STALL},
        {"url-allow", required_argument, NULL, OPT_URL_ALLOW},
        {"store", required_argument, NULL, OPT_STORE},
        {"shared-dir", required_argument, NULL, OPT_SHARED_DIR},
        {"node", required_argument, NULL, OPT_NODE},
        {"machine", required_argument, NULL, OPT_MACHINE},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *listen = NULL, *state_arg = NULL, *config_path = NULL, *secret_file = NULL;
    const char *store_arg = NULL, *shared_arg = NULL, *node_arg = NULL, *machine_arg = NULL;
    const char *roots_arg[MAX_ROOTS];
    size_t n_roots_arg = 0;
    const char *allow_arg[MAX_URL_ALLOW];
    size_t n_allow_arg = 0;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    long workers = 0; /* 0: not given here */
    long max_upload = 0, max_body = 0;
    long attempts = 3;
    double timeout_s = -1, max_duration_s = -1;
    runtime_opts o;
    runtime_opts_default(&o);
    optind = 1;
    int opt;
    while ((opt = getopt_long(argc, argv, "j:vh", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            config_path = optarg;
            break;
        case 'r':
            if (n_roots_arg == MAX_ROOTS) {
                fprintf(stderr, "hark: at most %d --root options\n", MAX_ROOTS);
                return EXIT_USAGE;
            }
            roots_arg[n_roots_arg++] = optarg;
            break;
        case 'B':
            if (parse_count(optarg, 1, 16L << 20, &max_body)) {
                fprintf(stderr, "hark: --max-body wants 1..16777216 bytes, not '%s'\n", optarg);
                return EXIT_USAGE;
            }
            break;
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
                max_duration_s = v;
            break;
        }
        case 'm':
            setenv("HARK_MODEL_DIR", optarg, 1); /* read by the workers */
            break;
        case 'W':
            secret_file = optarg;
            break;
        case OPT_STORE:
            if (!optarg[0]) {
                fprintf(stderr, "hark: --store wants a location\n");
                return EXIT_USAGE;
            }
            store_arg = optarg;
            break;
        case OPT_SHARED_DIR:
            shared_arg = optarg;
            break;
        case OPT_NODE:
            if (!node_name_ok(optarg)) {
                fprintf(stderr, "hark: --node wants 1 to 64 of A-Z a-z 0-9 . _ -, not '%.100s'\n",
                        optarg);
                return EXIT_USAGE;
            }
            node_arg = optarg;
            break;
        case OPT_MACHINE:
            if (!node_name_ok(optarg)) {
                fprintf(stderr,
                        "hark: --machine wants 1 to 64 of A-Z a-z 0-9 . _ -, not '%.100s'\n",
                        optarg);
                return EXIT_USAGE;
            }
            machine_arg = optarg;
            break;
        case OPT_URL_ALLOW: {
            net_allow a;
            hark_err why = {0};
            if (n_allow_arg == MAX_URL_ALLOW) {
                fprintf(stderr, "hark: at most %d --url-allow options\n", MAX_URL_ALLOW);
                return EXIT_USAGE;
            }
            if (net_allow_parse(optarg, &a, &why)) {
                fprintf(stderr, "hark: --url-allow '%.100s': %s\n", optarg, why.msg);
                return EXIT_USAGE;
            }
            allow_arg[n_allow_arg++] = optarg;
            break;
        }
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

    /* The config file, then HARK_TOKENS; options given above win. */
    serve_config cfg;
    serve_config_init(&cfg);
    hark_err err = {0};
    int crc = config_path ? serve_config_load(config_path, &cfg, &err) : 0;
    if (crc == 0 && getenv("HARK_TOKENS"))
        crc = serve_config_add_env_tokens(&cfg, getenv("HARK_TOKENS"), &err);
    if (crc) {
        fprintf(stderr, "hark: %s\n", err.msg);
        serve_config_release(&cfg);
        return EXIT_USAGE;
    }
    char warning[512];
    if (serve_config_mode_warning(&cfg, warning, sizeof warning))
        fprintf(stderr, "hark: warning: %s\n", warning);
    if (cfg.log_format == SERVE_LOG_JSON && !getenv("HARK_LOG_FORMAT"))
        log_set_format(LOG_FORMAT_JSON);
    /* These point into cfg, which lives until the daemon stops. */
    if (!listen)
        listen = cfg.listen ? cfg.listen : "127.0.0.1:8090";
    if (!state_arg)
        state_arg = cfg.state_dir;
    if (!store_arg)
        store_arg = cfg.store;
    if (!shared_arg)
        shared_arg = cfg.shared_dir;
    if (!node_arg)
        node_arg = cfg.node;
    if (!machine_arg)
        machine_arg = cfg.machine;
    if (!workers)
        workers = cfg.workers > 0       ? cfg.workers
                  : cores < 1           ? 1
                  : cores > MAX_WORKERS ? MAX_WORKERS
                                        : cores;
    if (!max_upload)
        max_upload = cfg.max_upload > 0 ? (long)cfg.max_upload : 2L << 30;
    if (!max_body && cfg.max_body > 0)
        max_body = cfg.max_body > (16 << 20) ? 16 << 20 : (long)cfg.max_body;
    if (timeout_s < 0)
        timeout_s = cfg.timeout_s >= 0 ? cfg.timeout_s : 0;
    if (max_duration_s < 0 && cfg.max_duration_s > 0)
        max_duration_s = cfg.max_duration_s;
    if (max_duration_s >= 0)
        o.max_duration_s = max_duration_s;
    /* URL inputs: the config's limits where the command line left the defaults. */
    net_fetch_opts fetch_defaults = net_fetch_defaults();
    if (cfg.url_max_bytes > 0 && o.fetch.max_bytes == fetch_defaults.max_bytes)
        o.fetch.max_bytes = (uint64_t)cfg.url_max_bytes;
    if (cfg.url_timeout_s > 0 && o.fetch.total_timeout_s == fetch_defaults.total_timeout_s) {
        o.fetch.total_timeout_s = cfg.url_timeout_s;
        if (o.fetch.connect_timeout_s > cfg.url_timeout_s)
            o.fetch.connect_timeout_s = cfg.url_timeout_s;
    }
    int queue_limit[4];
    for (int p = 0; p < 4; p++)
        queue_limit[p] = cfg.queue_limit[p] >= 0 ? cfg.queue_limit[p] : default_queue_limit[p];
    /* Retention (runtime/retention.h): a failed job keeps its decoded audio
     * and upload for a retry; uploads of the others go when they end. */
    o.keep_failed = true;
    o.keep_inputs = cfg.keep_inputs == 1;
    o.job_retention_ms =
        (int64_t)((cfg.job_retention_s >= 0 ? cfg.job_retention_s : DEFAULT_JOB_RETENTION_S) *
                  1000.0);

    token_table tokens = {0};
    path_roots roots = {0};
    hark_metrics *metrics = NULL;
    /* Where URL inputs (in the workers) and webhooks may connect: both
     * lists; lives until the runtime, the senders and the server are gone. */
    net_dest_policy dest = {0};
    crc = url_allow_init(&dest, allow_arg, n_allow_arg, &err);
    if (crc == 0)
        crc = url_allow_init(&dest, (const char *const *)cfg.url_allow, cfg.n_url_allow, &err);
    if (crc == 0) {
        char *all_roots[MAX_ROOTS * 2];
        size_t n = 0;
        for (size_t i = 0; i < n_roots_arg; i++)
            all_roots[n++] = (char *)roots_arg[i];
        for (size_t i = 0; i < cfg.n_roots && n < MAX_ROOTS * 2; i++)
            all_roots[n++] = cfg.roots[i];
        crc = tokens_init(&tokens, cfg.tokens, cfg.n_tokens, &err);
        if (crc == 0)
            crc = path_roots_init(&roots, all_roots, n, &err);
        if (crc == 0 && !(metrics = hark_metrics_new(&err)))
            crc = err.code ? err.code : HARK_ENOMEM;
    }
    o.fetch.dest = &dest;
    /* The config's webhook_secret, unless --webhook-secret-file gave one. */
    char *cfg_secret = !secret_file && cfg.webhook_secret ? strdup(cfg.webhook_secret) : NULL;
    /* The config lives on until the daemon stops (listen, state_dir and the
     * host lists point into it); its token secrets do not: only their
     * digests are kept. */
    serve_config_wipe_secrets(&cfg);
    if (crc) {
        fprintf(stderr, "hark: %s\n", err.msg);
        free(cfg_secret);
        release_setup(&cfg, &tokens, &roots, metrics, &dest);
        return EXIT_USAGE;
    }
    /* A missing model is a clear error at start, not workers that fail to
     * start again and again behind a daemon that looks up. */
    asr_config model;
    asr_config_default(&model);
    if (asr_engine_check(&model, &err))
        return setup_failed(err.msg, cfg_secret, &cfg, &tokens, &roots, metrics, &dest);

    char state[SERVE_CONFIG_MAX_LINE + 16], db[4200], work[4200], uploads[4200], exe[4096],
        artifacts[4200];
    if (state_arg)
        snprintf(state, sizeof state, "%s", state_arg);
    else if (fs_default_state_dir(state, sizeof state) != 0 ||
             strlen(state) + sizeof "/server" > sizeof state) {
        return setup_failed("cannot find a state directory; give --state-dir", cfg_secret, &cfg,
                            &tokens, &roots, metrics, &dest);
    } else {
        strncat(state, "/server", sizeof state - strlen(state) - 1);
    }
    /* The store (default: a SQLite file in the state directory), and the
     * files jobs keep: in the state directory, or where every node of a
     * cluster reaches them (--shared-dir). */
    const char *files = shared_arg && shared_arg[0] ? shared_arg : state;
    if (store_arg)
        snprintf(db, sizeof db, "%s", store_arg);
    else
        snprintf(db, sizeof db, "%s/hark.db", state);
    snprintf(work, sizeof work, "%s/work", files);
    snprintf(artifacts, sizeof artifacts, "%s/artifacts", files);
    /* Who this daemon is among the nodes of one store, and this run of it
     * (a new incarnation at every start: store.h, store_options). */
    char node[256], life[400];
    if (node_arg)
        snprintf(node, sizeof node, "%s", node_arg);
    else if (gethostname(node, sizeof node - 1) != 0 || !node[0])
        snprintf(node, sizeof node, "localhost");
    node[sizeof node - 1] = '\0';
    {
        unsigned char rnd[8] = {0};
        if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
            return setup_failed("cannot read random bytes", cfg_secret, &cfg, &tokens, &roots,
                                metrics, &dest);
        snprintf(life, sizeof life, "%s-%ld-%02x%02x%02x%02x%02x%02x%02x%02x", node, (long)getpid(),
                 rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
    }
    if (fs_self_exe(exe, sizeof exe)) {
        err_set(&err, HARK_EIO, "cannot find the hark executable: %s", strerror(errno));
        return setup_failed(err.msg, cfg_secret, &cfg, &tokens, &roots, metrics, &dest);
    }
    if (fs_mkdir_p(state, 0700, &err))
        return setup_failed(err.msg, cfg_secret, &cfg, &tokens, &roots, metrics, &dest);
    /* One daemon per state directory, locked before the store is touched:
     * a second one's recovery would revoke the first one's leases. */
    char lock_path[sizeof state + 16], holder[160];
    snprintf(lock_path, sizeof lock_path, "%s/serve.lock", state);
    int lock_fd = -1,
        lrc = fs_lock_file(lock_path, "hark serve", &lock_fd, holder, sizeof holder, &err);
    if (lrc == 1)
        err_set(&err, HARK_EINVAL, "state directory '%s' is in use by %s", state, holder);
    if (lrc)
        return setup_failed(err.msg, cfg_secret, &cfg, &tokens, &roots, metrics, &dest);
    /* Uploads are named by their resolved path in the store (the server
     * resolves the directory the same way): the runtime removes only files
     * directly in it. */
    {
        char up[4200];
        snprintf(up, sizeof up, "%s/uploads", files);
        char *real = fs_mkdir_p(up, 0700, &err) == 0 ? realpath(up, NULL) : NULL;
        if (!real && !err.msg[0])
            err_set(&err, HARK_EIO, "cannot resolve '%s': %s", up, strerror(errno));
        if (!real)
            return setup_failed(err.msg, cfg_secret, &cfg, &tokens, &roots, metrics, &dest);
        snprintf(uploads, sizeof uploads, "%s", real);
        free(real);
    }
    /* Jobs' artifacts (clips) outlive their work directories: they stay
     * until their job is deleted or pruned (docs/operations.md). */
    if (fs_mkdir_p(artifacts, 0700, &err))
        return setup_failed(err.msg, cfg_secret, &cfg, &tokens, &roots, metrics, &dest);
    /* Webhooks: libcurl is set up before any thread starts (net.h). */
    char *webhook_secret = NULL;
    webhook_sender_opts wo = {0};
    int wrc = webhook_secret_load(secret_file, &webhook_secret, &err);
    if (wrc == 0 && !webhook_secret) {
        webhook_secret = cfg_secret;
        cfg_secret = NULL;
    }
    free(cfg_secret);
    if (wrc || (webhook_secret && webhook_sender_opts_env(&wo, &err)) || net_global_init(&err))
        return setup_failed(err.msg, webhook_secret, &cfg, &tokens, &roots, metrics, &dest);

    /* Block INT/TERM before any thread starts, so every thread inherits
     * the mask and they arrive only through the signalfd. */
    int sigfd = sigwatch_open();
    notify changes;
    if (notify_init(&changes)) {
        sigwatch_close(sigfd);
        net_global_cleanup();
        return setup_failed("cannot create a condition variable", webhook_secret, &cfg, &tokens,
                            &roots, metrics, &dest);
    }
    remote_wake rwake = {.changes = &changes};
    store_options so = {.max_attempts = (int)attempts,
                        .on_commit = notify_signal,
                        .commit_ctx = &changes,
                        .node = node,
                        .incarnation = life,
                        .machine = machine_arg,
                        .on_remote_change = on_remote_change,
                        .remote_ctx = &rwake};
    store *st = NULL;
    runtime *rt = NULL;
    server *srv = NULL;
    webhook_sender *hooks = NULL;
    int recovered = 0, rc = store_open(db, &so, &st, &err);
    daemon_ctx dctx = {.st = st, .metrics = metrics};
    if (rc == 0)
        rc = store_recover(st, &recovered, &err);
    if (rc == 0) {
        /* Before listening, so no upload of ours is in flight: what no job
         * refers to is a leftover of a kill -9 or crash mid-upload. In a
         * directory other nodes share, their uploads may be in flight:
         * only files untouched for an hour go (upload_sweep.h says why). */
        rc = upload_sweep_older(uploads, st, files != state ? UPLOAD_SWEEP_SHARED_AGE_S : 0, NULL,
                                &err);
    }
    if (rc == 0) {
        o.worker_path = exe;
        o.workers = (int)workers;
        o.work_root = work;
        o.uploads_dir = uploads;
        o.artifact_root = artifacts;
        o.sigfd = sigfd;
        o.metrics = metrics;
        runtime_hooks h = {.complete = on_complete, .finished = on_finished, .ctx = &dctx};
        rc = runtime_new(st, &o, &h, &rt, &err);
        dctx.rt = rt;
        rwake.rt = rt;
    }
    /* Other nodes' commits wake this one (PostgreSQL; nothing on SQLite). */
    if (rc == 0)
        rc = store_watch(st, &err);
    if (rc == 0)
        hark_metrics_set_node(metrics, node, life);
    if (rc == 0 && webhook_secret) {
        wo.st = st;
        wo.changes = &changes;
        wo.secret = webhook_secret;
        wo.on_attempt = on_webhook_attempt;
        wo.attempt_ctx = metrics;
        wo.dest = &dest;
        rc = webhook_sender_start(&wo, &hooks, &err);
    }
    if (rc == 0) {
        server_opts sv = {.listen = listen,
                          .state_dir = files, /* uploads/ is there */
                          .artifact_root = artifacts,
                          .st = st,
                          .changes = &changes,
                          .wake = wake_runtime,
                          .wake_ctx = rt,
                          .max_upload_bytes = max_upload,
                          .max_body_bytes = max_body,
                          .default_timeout_s = timeout_s,
                          .live_idle_timeout_s =
                              cfg.live_idle_timeout_s > 0 ? cfg.live_idle_timeout_s : 0,
                          .tokens = &tokens,
                          .roots = &roots,
                          .metrics = metrics,
                          .ready = workers_ready,
                          .ready_ctx = &dctx,
                          .webhooks = hooks != NULL,
                          .max_connections = cfg.max_connections > 0 ? cfg.max_connections : 0,
                          .max_connections_per_address = cfg.max_connections_per_address == 0 ? -1
                                                         : cfg.max_connections_per_address > 0
                                                             ? cfg.max_connections_per_address
                                                             : 0,
                          .header_timeout_s = cfg.header_timeout_s > 0 ? cfg.header_timeout_s : 0,
                          .body_min_rate = cfg.body_min_rate == 0  ? -1
                                           : cfg.body_min_rate > 0 ? cfg.body_min_rate
                                                                   : 0,
                          .allowed_hosts = (const char *const *)cfg.allowed_hosts,
                          .n_allowed_hosts = cfg.n_allowed_hosts,
                          .cors_origins = (const char *const *)cfg.cors_origins,
                          .n_cors_origins = cfg.n_cors_origins,
                          .dest = &dest};
        memcpy(sv.queue_limit, queue_limit, sizeof sv.queue_limit);
        rc = server_start(&sv, &srv, &err);
    }
    if (rc == 0) {
        /* The real port (--listen HOST:0 picks a free one): tests read it here. */
        char host[256];
        const char *colon = strrchr(listen, ':');
        snprintf(host, sizeof host, "%.*s", colon ? (int)(colon - listen) : 0, listen);
        fprintf(stderr, "hark: serving http://%s:%d (state %s, %ld workers%s)\n", host,
                server_port(srv), state, workers, recovered ? ", recovered running jobs" : "");
        if (store_arg || shared_arg || node_arg) {
            char shown[1024];
            store_location_shown(db, shown, sizeof shown);
            fprintf(stderr, "hark: node %s (incarnation %s), store %s, files in %s\n", node, life,
                    shown, files);
        } else {
            log_info("node %s (incarnation %s)", node, life);
        }
        if (tokens.n)
            log_info("%zu API token%s; %zu path root%s", tokens.n, tokens.n == 1 ? "" : "s",
                     roots.n, roots.n == 1 ? "" : "s");
        else
            fprintf(stderr, "hark: no API tokens are configured: listening on loopback only, "
                            "without authentication\n");
        rc = runtime_run(rt, &err);
        if (rc == HARK_ECANCELED) {
            log_info("signal %d: stopping", runtime_signal(rt));
            rc = 0;
        }
    }
    if (rc)
        fprintf(stderr, "hark: %s\n", err.msg);
    store_unwatch(st);          /* no more remote wakes: the runtime is freed below */
    webhook_sender_stop(hooks); /* an attempt in flight is abandoned, kept pending */
    notify_close(&changes);     /* event streams end */
    server_stop(srv);
    runtime_free(rt);
    store_close(st);
    notify_destroy(&changes);
    release_setup(&cfg, &tokens, &roots, metrics, &dest);
    sigwatch_close(sigfd);
    if (webhook_secret)
        explicit_bzero(webhook_secret, strlen(webhook_secret));
    free(webhook_secret);
    net_global_cleanup();
    close(lock_fd); /* the state directory is free for the next daemon */
    if (rc == 0)
        fprintf(stderr, "hark: stopped; the queue is kept\n");
    return rc ? EXIT_SOME_FAILED : EXIT_ALL_OK;
}
