/* commands.c - `hark submit | ls | show | wait | result | cancel | pause |
 * resume | retry | delete | artifacts | ptt`: the command lines, the requests they make
 * (docs/api.md) and what they print. Data goes to stdout, messages to stderr as "hark: <one line>".
 * Exit 0 done, 1 failed, 2 usage (cli/cli.h).
 */
#include "client/client.h"

#include "cli/cli.h"
#include "client/follow.h"
#include "client/http_client.h"
#include "client/jobfmt.h"
#include "client/wav.h"
#include "jobs/kind_formats.h"
#include "net/net.h"
#include "output/atomic_file.h"
#include "output/format.h"
#include "util/buf.h"
#include "util/fs.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct command command;
struct command {
    const char *name;
    const char *args;    /* what follows the name in the usage line */
    const char *brief;   /* "name ARGS|what it does": its line in `hark --help` */
    const char *summary; /* the paragraph under the usage line */
    const char *options; /* option lines besides --server and --help */
    const char *exits;   /* the exit status line */
    int (*run)(const command *cmd, int argc, char **argv);
};

enum { OPT_SERVER = 0x100, OPT_PATH, OPT_JSON, OPT_URL };

/* The tail of every command's long options. */
// clang-format off
#define COMMON_OPTIONS \
    {"server", required_argument, NULL, OPT_SERVER}, \
    {"help", no_argument, NULL, 'h'}, \
    {NULL, 0, NULL, 0}
// clang-format on

static void usage(const command *cmd, FILE *to)
{
    fprintf(to,
            "usage: hark %s %s\n"
            "\n"
            "%s\n"
            "\n"
            "%s"
            "      --server URL       the hark server (default: $" HC_SERVER_ENV
            " or " HC_DEFAULT_SERVER ");\n"
            "                         $HARK_TOKEN is sent as its API token\n"
            "  -h, --help             this help\n"
            "\n"
            "%s\n",
            cmd->name, cmd->args, cmd->summary, cmd->options, cmd->exits);
}

static int bad_usage(const command *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Say what is wrong with the command line, then the usage; exit status 2. */
static int bad_usage(const command *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("hark: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    usage(cmd, stderr);
    return EXIT_USAGE;
}

/* The options every command has: returns -1 when opt was --server (the
 * parse goes on), else the exit status to return at once. */
static int common_option(const command *cmd, int opt, const char **server)
{
    switch (opt) {
    case OPT_SERVER:
        *server = optarg;
        return -1;
    case 'h':
        usage(cmd, stdout);
        return EXIT_ALL_OK;
    default: /* getopt said what was wrong */
        usage(cmd, stderr);
        return EXIT_USAGE;
    }
}

static bool one_of(const char *s, const char *const *names)
{
    for (; *names; names++)
        if (strcmp(s, *names) == 0)
            return true;
    return false;
}

static const char *const priorities[] = {"realtime", "high", "normal", "low", NULL};
static const char *const states[] = {"queued", "running",   "paused", "succeeded",
                                     "failed", "cancelled", NULL};

/* Job IDs go into URL paths: letters, digits, '-' and '_' only. */
#define KEYWORDS_FILE_MAX (64 * 1024) /* the server's cap on a keywords list */

static bool valid_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_'))
            return false;
    return true;
}

/* The single job ID argument left after the options. */
static int job_id_arg(const command *cmd, int argc, char **argv, const char **id)
{
    if (optind >= argc)
        return bad_usage(cmd, "%s needs a job ID", cmd->name);
    if (optind + 1 < argc)
        return bad_usage(cmd, "%s takes one job ID; '%s' is one too many", cmd->name,
                         argv[optind + 1]);
    if (!valid_id(argv[optind]))
        return bad_usage(cmd, "%s: '%s' is not a job ID", cmd->name, argv[optind]);
    *id = argv[optind];
    return 0;
}

/* A number of seconds > 0 for --timeout. */
static int parse_timeout(const char *s, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v <= 0 || v > 1e9)
        return -1;
    *out = v;
    return 0;
}

/* Resolve the server URL and open a client. Returns 0, or the exit status
 * after saying why not (a bad URL is a usage error). */
#define UNAVAILABLE_S 60.0 /* how long a request retries a 503 (store unavailable) */

static int open_client(const char *server, hc_client **c)
{
    char base[1024];
    hark_err err = {0};
    int rc = hc_resolve_base(server, getenv(HC_SERVER_ENV), base, sizeof base, &err);
    if (rc == 0)
        rc = hc_open(base, c, &err);
    if (rc == 0) {
        /* A server whose store is down or restarting answers 503 with a
         * Retry-After, having done nothing: every request is sent again
         * for up to a minute (saying so once on stderr). */
        hc_set_unavailable_retry(*c, UNAVAILABLE_S);
        return 0;
    }
    fprintf(stderr, "hark: %s\n", err.msg);
    return rc == HARK_EINVAL ? EXIT_USAGE : EXIT_SOME_FAILED;
}

static int fail(const hark_err *err)
{
    fprintf(stderr, "hark: %s\n", err->msg[0] ? err->msg : "failed");
    return EXIT_SOME_FAILED;
}

/* Flush stdout and say so if anything written to it was lost. */
static int finish_stdout(int status)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "hark: cannot write to standard output: %s\n", strerror(errno));
        return EXIT_SOME_FAILED;
    }
    return status;
}

static void put(const void *data, size_t n)
{
    if (n)
        fwrite(data, 1, n, stdout);
}

/* Seconds as a form field: "600", "1.500". */
static void seconds_text(double v, char *out, size_t n)
{
    if (v == floor(v))
        snprintf(out, n, "%.0f", v);
    else
        snprintf(out, n, "%.3f", v);
}

/* ---- submit --------------------------------------------------------- */

/* What every submit of one command line carries. */
typedef struct submit_opts {
    const char *prio;   /* NULL: the server's default */
    double timeout;     /* 0: none */
    const char *kind;   /* NULL: transcribe */
    json_t *options;    /* the kind's options, NULL: none */
    char *options_text; /* the same as JSON text (a form field) */
} submit_opts;

/* POST a JSON submit of {key: value} with the options. */
static int submit_json(hc_client *c, const char *key, const char *value, const submit_opts *so,
                       json_t **job, hark_err *err)
{
    json_t *body = json_pack("{s:s}", key, value);
    if (body && so->prio)
        json_object_set_new(body, "priority", json_string(so->prio));
    if (body && so->timeout > 0)
        json_object_set_new(body, "timeout",
                            so->timeout == floor(so->timeout)
                                ? json_integer((json_int_t)so->timeout)
                                : json_real(so->timeout));
    if (body && so->kind)
        json_object_set_new(body, "kind", json_string(so->kind));
    if (body && so->options)
        json_object_set(body, "options", so->options);
    int rc = body ? hc_post_json(c, "/v1/jobs", body, job, err)
                  : err_set(err, HARK_ENOMEM, "out of memory");
    json_decref(body);
    return rc;
}

static int submit_path(hc_client *c, const char *file, const submit_opts *so, json_t **job,
                       hark_err *err)
{
    char abs[PATH_MAX], cwd[PATH_MAX];
    if (!realpath(file, abs)) {
        /* The server names a missing path itself; send it absolute anyway. */
        if (file[0] == '/')
            snprintf(abs, sizeof abs, "%s", file);
        else if (!getcwd(cwd, sizeof cwd) ||
                 snprintf(abs, sizeof abs, "%s/%s", cwd, file) >= (int)sizeof abs)
            return err_set(err, HARK_EINVAL, "cannot make '%s' an absolute path", file);
    }
    return submit_json(c, "path", abs, so, job, err);
}

static int submit_upload(hc_client *c, const char *file, const submit_opts *so, json_t **job,
                         hark_err *err)
{
    hc_field fields[4];
    size_t n = 0;
    char t[64];
    if (so->prio)
        fields[n++] = (hc_field){"priority", so->prio};
    if (so->timeout > 0) {
        seconds_text(so->timeout, t, sizeof t);
        fields[n++] = (hc_field){"timeout", t};
    }
    if (so->kind)
        fields[n++] = (hc_field){"kind", so->kind};
    if (so->options_text)
        fields[n++] = (hc_field){"options", so->options_text};
    return hc_upload_file(c, "/v1/jobs", file, fields, n, job, err);
}

/* The id of a job object the server sent back. */
static const char *job_id_of(const json_t *job, hark_err *err)
{
    const char *id = json_string_value(json_object_get(job, "id"));
    if (!id || !valid_id(id)) {
        err_set(err, HARK_EIO, "the server's answer has no valid job id");
        return NULL;
    }
    return id;
}

/* Submit each input (a URL, else a file by upload or by path); print the
 * job IDs. Returns the exit status. */
static int submit_all(const char *server, const char *const *inputs, int n, bool by_path,
                      const submit_opts *so)
{
    hc_client *c;
    int rc = open_client(server, &c);
    if (rc)
        return rc;
    int failed = 0;
    for (int i = 0; i < n; i++) {
        /* A URL is named without its credentials or query in messages. */
        const char *input = inputs[i], *file = input;
        bool url = net_url_is_http(input);
        char shown[1024];
        if (url) {
            net_url_redact(input, shown, sizeof shown);
            file = shown;
        }
        if (hc_unreachable(c)) { /* said once already; each would wait the same way */
            fprintf(stderr, "hark: %s: not submitted\n", file);
            failed++;
            continue;
        }
        hark_err err = {0};
        json_t *job = NULL;
        int r = url       ? submit_json(c, "url", input, so, &job, &err)
                : by_path ? submit_path(c, file, so, &job, &err)
                          : submit_upload(c, file, so, &job, &err);
        const char *id = r ? NULL : job_id_of(job, &err);
        if (id) {
            printf("%s\n", id);
            fflush(stdout);
        } else if (strstr(err.msg, file)) {
            fprintf(stderr, "hark: %s\n", err.msg);
            failed++;
        } else {
            fprintf(stderr, "hark: %s: %s\n", file, err.msg);
            failed++;
        }
        json_decref(job);
    }
    hc_close(c);
    if (failed && n > 1)
        fprintf(stderr, "hark: %d of %d files not submitted\n", failed, n);
    return finish_stdout(failed ? EXIT_SOME_FAILED : EXIT_ALL_OK);
}

/* Read a keywords file (phrase [TAB weight] per line; the server checks
 * the lines) into options.keywords. The usage error's status, or -1. */
static int read_keywords(const command *cmd, const char *path, json_t *options)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "hark: %s: cannot open keywords file '%s': %s\n", cmd->name, path,
                strerror(errno));
        return EXIT_SOME_FAILED;
    }
    char *text = malloc(KEYWORDS_FILE_MAX + 1);
    size_t n = text ? fread(text, 1, KEYWORDS_FILE_MAX + 1, f) : 0;
    bool bad = !text || ferror(f);
    fclose(f);
    int status = -1;
    if (bad || n > KEYWORDS_FILE_MAX) {
        fprintf(stderr, "hark: %s: cannot read keywords file '%s': %s\n", cmd->name, path,
                !text ? "out of memory"
                : bad ? strerror(errno)
                      : "larger than 64 KiB");
        status = EXIT_SOME_FAILED;
    } else if ((text[n] = '\0', strlen(text) != n)) {
        fprintf(stderr, "hark: %s: keywords file '%s' is not text\n", cmd->name, path);
        status = EXIT_SOME_FAILED;
    } else {
        json_object_set_new(options, "keywords", json_string(text));
        if (!json_is_string(json_object_get(options, "keywords"))) {
            fprintf(stderr, "hark: %s: keywords file '%s' is not UTF-8 text\n", cmd->name, path);
            status = EXIT_SOME_FAILED;
        }
    }
    free(text);
    return status;
}

/* A number of seconds >= 0 (--pre, --post). */
static int parse_seconds(const char *s, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < 0)
        return -1;
    *out = v;
    return 0;
}

static int cmd_submit(const command *cmd, int argc, char **argv)
{
    enum {
        OPT_KIND = 0x200,
        OPT_TOP,
        OPT_CLIPS,
        OPT_CLIP_FORMAT,
        OPT_PRE,
        OPT_POST,
        OPT_KEYWORDS,
        OPT_NO_TRANSCRIPT
    };
    static const struct option longopts[] = {
        {"priority", required_argument, NULL, 'p'},
        {"timeout", required_argument, NULL, 't'},
        {"path", no_argument, NULL, OPT_PATH},
        {"url", required_argument, NULL, OPT_URL},
        {"kind", required_argument, NULL, OPT_KIND},
        {"top", required_argument, NULL, OPT_TOP},
        {"clips", no_argument, NULL, OPT_CLIPS},
        {"clip-format", required_argument, NULL, OPT_CLIP_FORMAT},
        {"pre", required_argument, NULL, OPT_PRE},
        {"post", required_argument, NULL, OPT_POST},
        {"keywords", required_argument, NULL, OPT_KEYWORDS},
        {"no-transcript", no_argument, NULL, OPT_NO_TRANSCRIPT},
        COMMON_OPTIONS,
    };
    static const char *const clip_formats[] = {"wav", "flac", "mp3", "opus", "copy", NULL};
    const char *server = NULL, *hl_option = NULL; /* the first highlights option given */
    submit_opts so = {0};
    bool by_path = false;
    /* The inputs in order: the --url values, then the arguments. */
    const char **inputs = calloc((size_t)argc + 1, sizeof *inputs);
    json_t *options = json_object();
    int n_inputs = 0;
    if (!inputs || !options) {
        free(inputs);
        json_decref(options);
        fprintf(stderr, "hark: out of memory\n");
        return EXIT_SOME_FAILED;
    }
    int status = -1; /* decided: an exit status */
    optind = 0;
    int opt;
    while (status < 0 && (opt = getopt_long(argc, argv, "p:t:h", longopts, NULL)) != -1) {
        double v = 0;
        long n;
        char *end = NULL;
        switch (opt) {
        case 'p':
            if (!one_of(optarg, priorities))
                status = bad_usage(cmd, "%s: bad priority '%s' (realtime, high, normal, low)",
                                   cmd->name, optarg);
            so.prio = optarg;
            break;
        case 't':
            if (parse_timeout(optarg, &so.timeout))
                status =
                    bad_usage(cmd, "%s: --timeout wants seconds > 0, not '%s'", cmd->name, optarg);
            break;
        case OPT_PATH:
            by_path = true;
            break;
        case OPT_URL:
            if (!net_url_is_http(optarg))
                status = bad_usage(cmd, "%s: --url wants an http:// or https:// URL", cmd->name);
            inputs[n_inputs++] = optarg;
            break;
        case OPT_KIND:
            /* The server knows its kinds and names them when it refuses one. */
            so.kind = optarg;
            break;
        case OPT_TOP:
            hl_option = hl_option ? hl_option : "--top";
            errno = 0;
            n = strtol(optarg, &end, 10);
            if (errno || end == optarg || *end || n < 1 || n > 100)
                status = bad_usage(cmd, "%s: --top wants 1..100, not '%s'", cmd->name, optarg);
            json_object_set_new(options, "top", json_integer(n));
            break;
        case OPT_CLIPS:
            hl_option = hl_option ? hl_option : "--clips";
            json_object_set_new(options, "clips", json_true());
            break;
        case OPT_CLIP_FORMAT:
            hl_option = hl_option ? hl_option : "--clip-format";
            if (!one_of(optarg, clip_formats))
                status = bad_usage(cmd, "%s: bad clip format '%s' (wav, flac, mp3, opus, copy)",
                                   cmd->name, optarg);
            json_object_set_new(options, "clip_format", json_string(optarg));
            break;
        case OPT_PRE:
        case OPT_POST:
            hl_option = hl_option ? hl_option : opt == OPT_PRE ? "--pre" : "--post";
            if (parse_seconds(optarg, &v))
                status = bad_usage(cmd, "%s: %s wants seconds >= 0, not '%s'", cmd->name,
                                   opt == OPT_PRE ? "--pre" : "--post", optarg);
            json_object_set_new(options, opt == OPT_PRE ? "pre" : "post", json_real(v));
            break;
        case OPT_KEYWORDS:
            hl_option = hl_option ? hl_option : "--keywords";
            status = read_keywords(cmd, optarg, options);
            break;
        case OPT_NO_TRANSCRIPT:
            hl_option = hl_option ? hl_option : "--no-transcript";
            json_object_set_new(options, "transcript", json_false());
            break;
        default:
            status = common_option(cmd, opt, &server);
        }
    }
    if (status < 0 && hl_option && (!so.kind || strcmp(so.kind, "highlights") != 0))
        status = bad_usage(cmd, "%s: %s is an option of --kind highlights", cmd->name, hl_option);
    if (status < 0 && json_object_size(options) > 0) {
        so.options = options;
        if (!(so.options_text = json_dumps(options, JSON_COMPACT))) {
            fprintf(stderr, "hark: out of memory\n");
            status = EXIT_SOME_FAILED;
        }
    }
    if (status < 0) {
        for (int i = optind; i < argc; i++)
            inputs[n_inputs++] = argv[i];
        status = n_inputs == 0 ? bad_usage(cmd, "%s needs at least one FILE or URL", cmd->name)
                               : submit_all(server, inputs, n_inputs, by_path, &so);
    }
    free(so.options_text);
    json_decref(options);
    free(inputs);
    return status;
}

/* ---- ls ------------------------------------------------------------- */

#define LS_DEFAULT_LIMIT 50
#define LS_PAGE 1000 /* the server's largest page */

/* List the limit (0: all) most recent jobs, newest first, a page at a time. */
/* Whether job is of kind (NULL: any). A job stored before kinds existed
 * has none: it is a transcription. */
static bool kind_matches(const json_t *job, const char *kind)
{
    if (!kind)
        return true;
    const char *k = json_string_value(json_object_get(job, "kind"));
    if (!k || !*k)
        k = "transcribe";
    return strcmp(k, kind) == 0;
}

/* The kind filter is the client's: the server lists every kind. */
static int list_jobs(hc_client *c, const char *state, const char *prio, const char *kind,
                     long limit, bool as_json, hark_err *err)
{
    long long after = 0;
    long shown = 0;
    bool first = true;
    int rc = 0;
    for (;;) {
        char path[256];
        long page = limit == 0 || limit - shown > LS_PAGE ? LS_PAGE : limit - shown;
        snprintf(path, sizeof path, "/v1/jobs?order=desc&limit=%ld%s%s%s%s", page,
                 state ? "&state=" : "", state ? state : "", prio ? "&priority=" : "",
                 prio ? prio : "");
        if (after > 0) {
            size_t k = strlen(path);
            snprintf(path + k, sizeof path - k, "&after=%lld", after);
        }
        json_t *page_json = NULL;
        if ((rc = hc_get_json(c, path, &page_json, err)) != 0)
            break;
        json_t *data = json_object_get(page_json, "data"),
               *next = json_object_get(page_json, "next_after");
        if (!json_is_array(data) || !(json_is_null(next) || json_is_integer(next) || !next)) {
            json_decref(page_json);
            rc = err_set(err, HARK_EIO, "hark server sent a malformed job list");
            break;
        }
        buf out;
        buf_init(&out, HC_JSON_MAX * 2);
        if (after == 0) /* the first page came: the list can begin */
            fputs(as_json ? "[" : jobfmt_header(), stdout);
        size_t i;
        json_t *job;
        json_array_foreach(data, i, job)
        {
            if (!kind_matches(job, kind) || (limit > 0 && shown >= limit))
                continue;
            if (as_json) {
                char *text = json_dumps(job, JSON_COMPACT | JSON_REAL_PRECISION(15));
                if (!text || buf_printf(&out, "%s\n  %s", first ? "" : ",", text))
                    rc = err_set(err, HARK_ENOMEM, "out of memory");
                free(text);
            } else if (jobfmt_row(job, &out)) {
                rc = err_set(err, HARK_ENOMEM, "out of memory");
            }
            first = false;
            shown++;
        }
        put(out.data, out.len);
        buf_release(&out);
        long long n = json_is_integer(next) ? (long long)json_integer_value(next) : 0;
        json_decref(page_json);
        if (rc || n == 0 || (limit > 0 && shown >= limit))
            break;
        if (after > 0 && n >= after) { /* newest first: the cursor only goes down */
            rc = err_set(err, HARK_EIO, "hark server sent a job list cursor that goes back");
            break;
        }
        after = n;
    }
    if (as_json && rc == 0)
        fputs(first ? "]\n" : "\n]\n", stdout);
    return rc;
}

static int cmd_ls(const command *cmd, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"state", required_argument, NULL, 's'}, {"priority", required_argument, NULL, 'p'},
        {"kind", required_argument, NULL, 'k'},  {"limit", required_argument, NULL, 'n'},
        {"json", no_argument, NULL, OPT_JSON},   COMMON_OPTIONS,
    };
    const char *server = NULL, *state = NULL, *prio = NULL, *kind = NULL;
    bool as_json = false;
    long limit = LS_DEFAULT_LIMIT;
    optind = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, "s:p:k:n:h", longopts, NULL)) != -1) {
        int rc;
        char *end = NULL;
        switch (opt) {
        case 'n':
            errno = 0;
            limit = optarg[0] >= '0' && optarg[0] <= '9' ? strtol(optarg, &end, 10) : -1;
            if (errno || !end || *end || limit < 0 || limit > 1000000000)
                return bad_usage(cmd, "%s: --limit wants a number of jobs (0: all), not '%s'",
                                 cmd->name, optarg);
            break;
        case 's':
            if (!one_of(optarg, states))
                return bad_usage(cmd,
                                 "%s: bad state '%s' (queued, running, paused, succeeded, "
                                 "failed, cancelled)",
                                 cmd->name, optarg);
            state = optarg;
            break;
        case 'p':
            if (!one_of(optarg, priorities))
                return bad_usage(cmd, "%s: bad priority '%s' (realtime, high, normal, low)",
                                 cmd->name, optarg);
            prio = optarg;
            break;
        case 'k':
            kind = optarg;
            break;
        case OPT_JSON:
            as_json = true;
            break;
        default:
            if ((rc = common_option(cmd, opt, &server)) >= 0)
                return rc;
        }
    }
    if (optind < argc)
        return bad_usage(cmd, "%s takes no arguments; '%s' is one too many", cmd->name,
                         argv[optind]);
    hc_client *c;
    int rc = open_client(server, &c);
    if (rc)
        return rc;
    hark_err err = {0};
    rc = list_jobs(c, state, prio, kind, limit, as_json, &err);
    hc_close(c);
    fflush(stdout);
    return finish_stdout(rc ? fail(&err) : EXIT_ALL_OK);
}

/* ---- show, cancel, pause, resume ------------------------------------- */

/* Parse "[--json] ID" (json may be NULL: no --json) and open the client:
 * -1 when the command goes on, else the exit status to return at once
 * (--help's 0 included). */
static int id_command_args(const command *cmd, int argc, char **argv, bool *json, const char **id,
                           hc_client **c)
{
    static const struct option with_json[] = {{"json", no_argument, NULL, OPT_JSON},
                                              COMMON_OPTIONS};
    static const struct option without[] = {COMMON_OPTIONS};
    const char *server = NULL;
    optind = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, "h", json ? with_json : without, NULL)) != -1) {
        int rc;
        if (opt == OPT_JSON && json)
            *json = true;
        else if ((rc = common_option(cmd, opt, &server)) >= 0)
            return rc;
    }
    int rc = job_id_arg(cmd, argc, argv, id);
    if (!rc)
        rc = open_client(server, c);
    return rc ? rc : -1;
}

static int cmd_show(const command *cmd, int argc, char **argv)
{
    bool as_json = false;
    const char *id;
    hc_client *c;
    int rc = id_command_args(cmd, argc, argv, &as_json, &id, &c);
    if (rc >= 0)
        return rc;
    char path[128];
    snprintf(path, sizeof path, "/v1/jobs/%s", id);
    hark_err err = {0};
    json_t *job = NULL;
    rc = hc_get_json(c, path, &job, &err);
    hc_close(c);
    if (rc)
        return fail(&err);
    buf out;
    buf_init(&out, HC_JSON_MAX);
    char *text = NULL;
    if (as_json)
        rc = (text = json_dumps(job, JSON_INDENT(2) | JSON_REAL_PRECISION(15)))
                 ? buf_printf(&out, "%s\n", text)
                 : HARK_ENOMEM;
    else
        rc = jobfmt_show(job, &out);
    if (rc)
        err_set(&err, HARK_ENOMEM, "out of memory");
    put(out.data, out.len);
    free(text);
    buf_release(&out);
    json_decref(job);
    return finish_stdout(rc ? fail(&err) : EXIT_ALL_OK);
}

/* One request on job ID (the command's argument): POST .../ID/<name> for
 * a transition, DELETE .../ID for delete. Prints the job's new state, or
 * "deleted". */
static int job_request(const command *cmd, int argc, char **argv, bool del)
{
    const char *id;
    hc_client *c;
    int rc = id_command_args(cmd, argc, argv, NULL, &id, &c);
    if (rc >= 0)
        return rc;
    char path[128];
    if (del)
        snprintf(path, sizeof path, "/v1/jobs/%s", id);
    else
        snprintf(path, sizeof path, "/v1/jobs/%s/%s", id, cmd->name);
    hark_err err = {0};
    json_t *job = NULL;
    rc = del ? hc_delete_json(c, path, &job, &err) : hc_post_json(c, path, NULL, &job, &err);
    hc_close(c);
    if (rc) {
        json_decref(job);
        return fail(&err);
    }
    const char *state = del ? "deleted" : json_string_value(json_object_get(job, "state"));
    char clean[32];
    jobfmt_clean(state ? state : "unknown", clean, sizeof clean);
    printf("%s\n", clean);
    json_decref(job);
    return finish_stdout(EXIT_ALL_OK);
}

static int cmd_transition(const command *cmd, int argc, char **argv)
{
    return job_request(cmd, argc, argv, false);
}

/* DELETE the job; print "deleted". */
static int cmd_delete(const command *cmd, int argc, char **argv)
{
    return job_request(cmd, argc, argv, true);
}

/* ---- wait ----------------------------------------------------------- */

/* Say how a followed job ended; the exit status. */
static int job_outcome(const char *id, const follow_state *f)
{
    if (strcmp(f->state, "succeeded") == 0)
        return EXIT_ALL_OK;
    if (strcmp(f->state, "cancelled") == 0)
        fprintf(stderr, "hark: job %s was cancelled\n", id);
    else
        fprintf(stderr, "hark: job %s failed: %s\n", id,
                f->error[0] ? f->error : "no reason given");
    return EXIT_SOME_FAILED;
}

static int cmd_wait(const command *cmd, int argc, char **argv)
{
    static const struct option longopts[] = {{"quiet", no_argument, NULL, 'q'}, COMMON_OPTIONS};
    const char *server = NULL, *id;
    bool quiet = false;
    optind = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, "qh", longopts, NULL)) != -1) {
        int rc;
        if (opt == 'q')
            quiet = true;
        else if ((rc = common_option(cmd, opt, &server)) >= 0)
            return rc;
    }
    hc_client *c;
    int rc = job_id_arg(cmd, argc, argv, &id);
    if (rc || (rc = open_client(server, &c)) != 0)
        return rc;
    follow_opts fo = {.progress = !quiet, .tty = isatty(STDERR_FILENO)};
    follow_state f;
    hark_err err = {0};
    rc = follow_job(c, id, &fo, &f, &err);
    hc_close(c);
    if (rc)
        return fail(&err);
    printf("%s\n", f.state);
    return finish_stdout(job_outcome(id, &f));
}

/* ---- result --------------------------------------------------------- */

static int fetch_result(hc_client *c, const char *id, const char *format, const char *out_path,
                        hark_err *err)
{
    char path[160];
    snprintf(path, sizeof path, "/v1/jobs/%s/result%s%s", id, format ? "?format=" : "",
             format ? format : "");
    buf b;
    int rc = hc_get_body(c, path, HC_RESULT_MAX, &b, err);
    if (rc)
        return rc;
    if (out_path)
        rc = atomic_write_file(out_path, b.data ? b.data : "", b.len, 0644, err);
    else
        put(b.data, b.len);
    buf_release(&b);
    return rc;
}

static int cmd_result(const command *cmd, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"format", required_argument, NULL, 'f'},
        {"output", required_argument, NULL, 'o'},
        COMMON_OPTIONS,
    };
    const char *server = NULL, *out_path = NULL, *id, *format = NULL;
    optind = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, "f:o:h", longopts, NULL)) != -1) {
        int rc;
        switch (opt) {
        case 'f':
            /* Which formats a job has depends on its kind, which the
             * server knows (a 400 naming them); here a format no kind has
             * is a usage error. */
            if (!kind_formats_known(optarg))
                return bad_usage(cmd,
                                 "%s: bad format '%s' (txt, json, srt, vtt, tsv, verbose_json; "
                                 "highlights, chapters, chapters_json, edl for a highlights job)",
                                 cmd->name, optarg);
            format = optarg;
            break;
        case 'o':
            out_path = optarg;
            break;
        default:
            if ((rc = common_option(cmd, opt, &server)) >= 0)
                return rc;
        }
    }
    hc_client *c;
    int rc = job_id_arg(cmd, argc, argv, &id);
    if (rc || (rc = open_client(server, &c)) != 0)
        return rc;
    hark_err err = {0};
    /* No format: the job's default (a transcript, or a highlights job's
     * highlights). */
    rc = fetch_result(c, id, format, out_path, &err);
    hc_close(c);
    return finish_stdout(rc ? fail(&err) : EXIT_ALL_OK);
}

/* ---- artifacts ------------------------------------------------------ */

/* Print job id's artifacts: a table, or the list's data as JSON. */
static int list_artifacts(hc_client *c, const char *id, bool as_json, hark_err *err)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/jobs/%s/artifacts", id);
    json_t *list = NULL;
    int rc = hc_get_json(c, path, &list, err);
    if (rc)
        return rc;
    json_t *data = json_object_get(list, "data");
    if (!json_is_array(data)) {
        json_decref(list);
        return err_set(err, HARK_EIO, "hark server sent a malformed artifact list");
    }
    buf out;
    buf_init(&out, HC_JSON_MAX * 2);
    char *text = NULL;
    if (as_json) {
        rc = (text = json_dumps(data, JSON_INDENT(2) | JSON_REAL_PRECISION(15)))
                 ? buf_printf(&out, "%s\n", text)
                 : HARK_ENOMEM;
    } else {
        rc = buf_printf(&out, "%-32s %12s %9s  %s\n", "NAME", "BYTES", "DURATION", "TYPE");
        size_t i;
        json_t *a;
        json_array_foreach(data, i, a)
        {
            char name[64], type[64];
            const char *n = json_string_value(json_object_get(a, "name")),
                       *t = json_string_value(json_object_get(a, "type"));
            jobfmt_clean(n ? n : "?", name, sizeof name);
            jobfmt_clean(t ? t : "?", type, sizeof type);
            rc = rc ? rc
                    : buf_printf(&out, "%-32s %12lld %8.2fs  %s\n", name,
                                 (long long)json_integer_value(json_object_get(a, "bytes")),
                                 json_number_value(json_object_get(a, "duration")), type);
        }
    }
    if (rc)
        rc = err_set(err, HARK_ENOMEM, "out of memory");
    else
        put(out.data, out.len);
    free(text);
    buf_release(&out);
    json_decref(list);
    return rc;
}

/* Download artifact name of job id to out_path (atomically: a temporary
 * file beside it, renamed when whole) or, without one, to stdout. */
static int download_artifact(hc_client *c, const char *id, const char *name, const char *out_path,
                             hark_err *err)
{
    char path[384];
    snprintf(path, sizeof path, "/v1/jobs/%s/artifacts/%s", id, name);
    if (!out_path) {
        fflush(stdout);
        return hc_download(c, path, STDOUT_FILENO, "standard output", NULL, err);
    }
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.part-XXXXXX", out_path) >= (int)sizeof tmp)
        return err_set(err, HARK_EINVAL, "cannot write '%s': the name is too long", out_path);
    int fd = mkstemp(tmp);
    if (fd < 0)
        return err_set(err, fs_write_code(errno), "cannot write '%s': %s", out_path,
                       strerror(errno));
    int rc = hc_download(c, path, fd, out_path, NULL, err);
    if (rc == 0 && (fchmod(fd, 0644) != 0 || fsync(fd) != 0))
        rc = err_set(err, fs_write_code(errno), "cannot write '%s': %s", out_path, strerror(errno));
    if (close(fd) != 0 && rc == 0)
        rc = err_set(err, fs_write_code(errno), "cannot write '%s': %s", out_path, strerror(errno));
    if (rc == 0 && rename(tmp, out_path) != 0)
        rc = err_set(err, fs_write_code(errno), "cannot write '%s': %s", out_path, strerror(errno));
    if (rc)
        unlink(tmp);
    return rc;
}

static int cmd_artifacts(const command *cmd, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},
        {"json", no_argument, NULL, OPT_JSON},
        COMMON_OPTIONS,
    };
    const char *server = NULL, *out_path = NULL;
    bool as_json = false;
    optind = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
        int rc;
        if (opt == 'o')
            out_path = optarg;
        else if (opt == OPT_JSON)
            as_json = true;
        else if ((rc = common_option(cmd, opt, &server)) >= 0)
            return rc;
    }
    if (optind >= argc)
        return bad_usage(cmd, "%s needs a job ID", cmd->name);
    const char *id = argv[optind], *name = optind + 1 < argc ? argv[optind + 1] : NULL;
    if (!valid_id(id))
        return bad_usage(cmd, "%s: '%s' is not a job ID", cmd->name, id);
    if (optind + 2 < argc)
        return bad_usage(cmd, "%s takes a job ID and a NAME; '%s' is one too many", cmd->name,
                         argv[optind + 2]);
    if (name &&
        (!name[0] || name[0] == '.' || strlen(name) > 127 ||
         strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") !=
             strlen(name)))
        return bad_usage(cmd, "%s: '%s' is not an artifact name", cmd->name, name);
    if (name && as_json)
        return bad_usage(cmd, "%s: --json lists; it takes no NAME", cmd->name);
    if (!name && out_path)
        return bad_usage(cmd, "%s: --output needs the NAME of an artifact", cmd->name);
    hc_client *c;
    int rc = open_client(server, &c);
    if (rc)
        return rc;
    hark_err err = {0};
    rc = name ? download_artifact(c, id, name, out_path, &err)
              : list_artifacts(c, id, as_json, &err);
    hc_close(c);
    return finish_stdout(rc ? fail(&err) : EXIT_ALL_OK);
}

/* ---- ptt ------------------------------------------------------------ */

/* Submit the recording (a file, or raw PCM on stdin as WAV) at realtime
 * priority; the job id into id. */
static int ptt_submit(hc_client *c, const char *input, char *id, size_t idlen, hark_err *err)
{
    static const hc_field fields[] = {{"priority", "realtime"}};
    json_t *job = NULL;
    int rc;
    if (strcmp(input, "-") == 0) {
        buf wav;
        rc = wav_read_pcm(STDIN_FILENO, WAV_MAX_PCM_BYTES, "standard input", &wav, err);
        if (rc == 0)
            rc =
                hc_upload_memory(c, "/v1/jobs", "ptt.wav", wav.data, wav.len, fields, 1, &job, err);
        buf_release(&wav);
    } else {
        rc = hc_upload_file(c, "/v1/jobs", input, fields, 1, &job, err);
    }
    const char *jid = rc ? NULL : job_id_of(job, err);
    if (jid)
        snprintf(id, idlen, "%s", jid);
    json_decref(job);
    return jid ? 0 : rc ? rc : HARK_EIO;
}

static int cmd_ptt(const command *cmd, int argc, char **argv)
{
    static const struct option longopts[] = {{"json", no_argument, NULL, OPT_JSON}, COMMON_OPTIONS};
    const char *server = NULL;
    bool as_json = false;
    optind = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        int rc;
        if (opt == OPT_JSON)
            as_json = true;
        else if ((rc = common_option(cmd, opt, &server)) >= 0)
            return rc;
    }
    if (optind >= argc)
        return bad_usage(cmd, "%s needs a FILE, or - for raw audio on standard input", cmd->name);
    if (optind + 1 < argc)
        return bad_usage(cmd, "%s takes one FILE; '%s' is one too many", cmd->name,
                         argv[optind + 1]);
    const char *input = argv[optind];
    if (strcmp(input, "-") == 0 && isatty(STDIN_FILENO))
        return bad_usage(cmd,
                         "%s: standard input is a terminal; pipe raw s16le 16 kHz mono audio "
                         "into it",
                         cmd->name);
    hc_client *c;
    int rc = open_client(server, &c);
    if (rc)
        return rc;
    hark_err err = {0};
    char id[72];
    const char *what = strcmp(input, "-") ? input : "standard input";
    /* Ask before the user talks for minutes into a pipe nobody reads. */
    rc = hc_get_json(c, "/healthz", NULL, &err);
    if (rc) {
        hc_close(c);
        return fail(&err);
    }
    if ((rc = ptt_submit(c, input, id, sizeof id, &err)) != 0) {
        if (strstr(err.msg, what))
            fprintf(stderr, "hark: %s\n", err.msg);
        else
            fprintf(stderr, "hark: %s: %s\n", what, err.msg);
        hc_close(c);
        return EXIT_SOME_FAILED;
    }
    follow_opts fo = {.progress = false};
    follow_state f;
    int status;
    if (follow_job(c, id, &fo, &f, &err) != 0)
        status = fail(&err);
    else if ((status = job_outcome(id, &f)) == EXIT_ALL_OK &&
             fetch_result(c, id, as_json ? "json" : "txt", NULL, &err) != 0)
        status = fail(&err);
    hc_close(c);
    return finish_stdout(status);
}

/* ---- dispatch ------------------------------------------------------- */

static const command commands[] = {
    {.name = "submit",
     .args = "[options] FILE|URL...",
     .brief = "submit FILE|URL...|queue recordings on a running hark serve",
     .summary = "Submit recordings as jobs; print one job ID per line. An argument that\n"
                "starts with http:// or https:// is a URL the server downloads. A job\n"
                "transcribes, unless --kind highlights: then it finds the highlights (and\n"
                "with --clips cuts them as clips: `hark artifacts ID`).",
     .options = "  -p, --priority P       realtime, high, normal (default) or low\n"
                "  -t, --timeout SEC      fail the job if it is not done SEC seconds after submit\n"
                "      --path             send each FILE's absolute path instead of uploading it\n"
                "                         (the server reads the file itself: it must be under\n"
                "                         a directory hark serve was given with --root)\n"
                "      --url URL          have the server download URL (http or https);\n"
                "                         may be given several times\n"
                "      --kind K           transcribe (default) or highlights\n"
                "  with --kind highlights:\n"
                "      --top N            highlights to keep, 1..100 (default: 10)\n"
                "      --pre SEC          clip start before the peak (default: 8)\n"
                "      --post SEC         clip end after the peak (default: 5)\n"
                "      --keywords FILE    phrases that mark a highlight, one per line,\n"
                "                         optionally followed by a TAB and a weight\n"
                "      --clips            cut each highlight as a clip (an artifact)\n"
                "      --clip-format F    wav (default), flac, mp3, opus, or copy (the\n"
                "                         input's own streams, for a video)\n"
                "      --no-transcript    judge the audio alone (no text, no keywords)\n",
     .exits = "Exit status: 0 all submitted, 1 some not (one line each), 2 usage.",
     .run = cmd_submit},
    {.name = "ls",
     .args = "[options]",
     .brief = "ls|list the most recent jobs, newest first",
     .summary = "List the most recent jobs, newest first.",
     .options = "  -s, --state S          only jobs in state S (queued, running, paused,\n"
                "                         succeeded, failed, cancelled)\n"
                "  -p, --priority P       only jobs of priority P\n"
                "  -k, --kind K           only jobs of kind K (transcribe, highlights, live:\n"
                "                         the dictations of hark dictate)\n"
                "  -n, --limit N          at most N jobs (default 50; 0: all)\n"
                "      --json             a JSON array of job objects\n",
     .exits = "Exit status: 0 listed, 1 failed, 2 usage.",
     .run = cmd_ls},
    {.name = "show",
     .args = "[--json] ID",
     .brief = "show ID|show one job",
     .summary = "Show one job.",
     .options = "      --json             the job object as JSON\n",
     .exits = "Exit status: 0 shown, 1 failed (e.g. no such job), 2 usage.",
     .run = cmd_show},
    {.name = "wait",
     .args = "[-q] ID",
     .brief = "wait ID|wait for a job to finish, with progress",
     .summary = "Wait for a job to finish, showing its progress; print its final state.",
     .options = "  -q, --quiet            no progress on stderr\n",
     .exits = "Exit status: 0 succeeded, 1 failed or cancelled (with the job's error) or the\n"
              "server could not be followed, 2 usage.",
     .run = cmd_wait},
    {.name = "result",
     .args = "[-f FORMAT] [-o FILE] ID",
     .brief = "result ID|print or save the result of a finished job",
     .summary = "Print or save the result of a finished job: its transcript, or a highlights\n"
                "job's highlights, chapters or markers.",
     .options = "  -f, --format FORMAT    txt (the default of a transcription), json, srt, vtt,\n"
                "                         tsv or verbose_json; for a highlights job also\n"
                "                         highlights (its default), chapters, chapters_json\n"
                "                         or edl\n"
                "  -o, --output FILE      write FILE (atomically) instead of standard output\n",
     .exits = "Exit status: 0 done, 1 failed (e.g. the job has not succeeded), 2 usage.",
     .run = cmd_result},
    {.name = "artifacts",
     .args = "[--json] ID | [-o FILE] ID NAME",
     .brief = "artifacts ID [NAME]|list a job's artifacts (clips), or download one",
     .summary = "List the artifacts of a job (a highlights job's clips), or download the one\n"
                "called NAME to standard output or FILE.",
     .options = "  -o, --output FILE      write NAME to FILE (atomically)\n"
                "      --json             the list as JSON\n",
     .exits = "Exit status: 0 done, 1 failed (e.g. no such job or artifact), 2 usage.",
     .run = cmd_artifacts},
    {.name = "cancel",
     .args = "ID",
     .brief = "cancel ID|cancel a job",
     .summary = "Cancel a job; print its new state.",
     .options = "",
     .exits = "Exit status: 0 done, 1 failed (e.g. the job already finished), 2 usage.",
     .run = cmd_transition},
    {.name = "pause",
     .args = "ID",
     .brief = "pause ID|pause a job, keeping its work",
     .summary = "Pause a job, keeping its work; print its new state.",
     .options = "",
     .exits = "Exit status: 0 done, 1 failed (e.g. the job already finished), 2 usage.",
     .run = cmd_transition},
    {.name = "resume",
     .args = "ID",
     .brief = "resume ID|resume a paused job",
     .summary = "Resume a paused job; print its new state.",
     .options = "",
     .exits = "Exit status: 0 done, 1 failed (e.g. the job is not paused), 2 usage.",
     .run = cmd_transition},
    {.name = "retry",
     .args = "ID",
     .brief = "retry ID|run a failed job again from its committed chunks",
     .summary = "Put a failed job back in the queue: its committed chunks are kept and the\n"
                "rest is tried again; print its new state.",
     .options = "",
     .exits = "Exit status: 0 done, 1 failed (e.g. the job did not fail, or its class is\n"
              "full), 2 usage.",
     .run = cmd_transition},
    {.name = "delete",
     .args = "ID",
     .brief = "delete ID|delete a finished job, its results and its upload",
     .summary = "Delete a finished job (succeeded, failed or cancelled) with its results, its\n"
                "events, its decoded audio and its uploaded file; print \"deleted\".",
     .options = "",
     .exits = "Exit status: 0 deleted, 1 failed (e.g. the job has not finished), 2 usage.",
     .run = cmd_delete},
    {.name = "ptt",
     .args = "[--json] FILE|-",
     .brief = "ptt FILE|-|push to talk: transcribe one short recording now",
     .summary = "Push to talk: transcribe one short recording at realtime priority and print\n"
                "the text. With -, read raw s16le 16 kHz mono audio from standard input (at\n"
                "most 10 minutes), e.g. arecord -q -f S16_LE -r 16000 -c 1 -t raw | hark ptt -",
     .options = "      --json             print the json result instead of the text\n",
     .exits = "Exit status: 0 transcribed, 1 failed, 2 usage.",
     .run = cmd_ptt},
};

#define N_COMMANDS (sizeof commands / sizeof commands[0])

static const command *find_command(const char *name)
{
    for (size_t i = 0; name && i < N_COMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

bool client_is_command(const char *name)
{
    return find_command(name) != NULL;
}

void client_print_commands(FILE *to)
{
    for (size_t i = 0; i < N_COMMANDS; i++) {
        const char *bar = strrchr(commands[i].brief, '|');
        fprintf(to, "  %-20.*s %s\n", (int)(bar - commands[i].brief), commands[i].brief, bar + 1);
    }
}

int client_main(int argc, char **argv)
{
    const command *cmd = argc >= 1 ? find_command(argv[0]) : NULL;
    if (!cmd) {
        fprintf(stderr, "hark: unknown client command '%s'\n", argc >= 1 ? argv[0] : "");
        return EXIT_USAGE;
    }
    return cmd->run(cmd, argc, argv);
}
