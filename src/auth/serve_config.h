/* serve_config.h - the configuration file of `hark serve --config FILE`,
 * and the HARK_TOKENS environment variable.
 *
 * The format is specified in docs/config.md: UTF-8 lines, `#` comment lines,
 * `key = value` at the top, then `[token NAME]` sections holding `secret`,
 * `max_priority` and `admin`. Parsing is strict: an unknown key, a repeated
 * scalar key (any but root, url_allow, cors_origin and allowed_host), a
 * value not consumed to its last byte, an out-of-range number, a NUL byte,
 * a control character, invalid UTF-8 or a line longer than
 * SERVE_CONFIG_MAX_LINE bytes is an error that names the file, the line and
 * the cause, one line in the err.h style:
 *     hark.conf:12: max_priority: "urgent" is not one of realtime, high, normal, low
 * No message ever quotes a secret.
 *
 * Nothing here keeps global state, reads the environment or resolves paths:
 * the caller passes getenv("HARK_TOKENS") in, and realpath()s the roots with
 * path_roots_init (auth/path_root.h) when it loads the file. Secrets are
 * wiped from memory when the config is released.
 *
 * Typical load:
 *     serve_config cfg;
 *     serve_config_init(&cfg);
 *     serve_config_load(path, &cfg, &err)                            (or skip: no file)
 *     serve_config_add_env_tokens(&cfg, getenv("HARK_TOKENS"), &err)
 *     serve_config_mode_warning(&cfg, msg, sizeof msg)                (print it)
 *     ...
 *     serve_config_release(&cfg);
 */
#ifndef HARK_AUTH_SERVE_CONFIG_H
#define HARK_AUTH_SERVE_CONFIG_H

#include "util/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SERVE_CONFIG_MAX_LINE 4096       /* bytes, line ending excluded */
#define SERVE_CONFIG_MAX_FILE (1u << 20) /* serve_config_load refuses larger files */
#define SERVE_CONFIG_MAX_WORKERS 256     /* workers: 1..this */
#define SERVE_CONFIG_MAX_SECONDS 1e9     /* ~31 years: keeps ms arithmetic far from overflow */
#define SERVE_TOKEN_NAME_MAX 64          /* token names: 1..this of [A-Za-z0-9._-] */
#define SERVE_TOKEN_SECRET_MIN 16        /* secrets: at least this many bytes */
#define SERVE_CONFIG_N_PRIOS 4           /* queue_limit has one slot per store priority */

enum serve_log_format { SERVE_LOG_UNSET = 0, SERVE_LOG_TEXT = 1, SERVE_LOG_JSON = 2 };

/* One API token. Strings are malloc'ed and NUL-terminated. */
typedef struct serve_token {
    char *name;       /* [A-Za-z0-9._-]{1,64}, unique within the config */
    char *secret;     /* visible ASCII (0x21..0x7e), at least 16 bytes, unique */
    int max_priority; /* enum store_priority: the best class it may submit at [normal] */
    bool admin;       /* sees and controls every job, not only its own [no]; file only */
    bool from_env;    /* came from HARK_TOKENS rather than the file */
    int where;        /* line of its [token] header, or its 1-based HARK_TOKENS entry */
} serve_token;

/* A parsed configuration. Every setting the file did not give keeps its
 * "unset" value, so the caller can apply its own defaults and let command
 * line options win: NULL for strings, -1 for numbers (no valid value is
 * negative), SERVE_LOG_UNSET for log_format. */
typedef struct serve_config {
    char *listen;          /* HOST:PORT; HOST non-empty, an IPv6 one in brackets; PORT 0..65535 */
    char *state_dir;       /* as written (a relative one is relative to the working directory) */
    char *store;           /* the job store's location (store_open: a path or a PostgreSQL
                              connection string), as written */
    char *shared_dir;      /* root of uploads/, work/, artifacts/ every node mounts, as written */
    char *node;            /* this node's name (NAME_RULE of tokens) */
    char *machine;         /* the machine it runs on, shared by nodes on one (NAME_RULE) */
    int workers;           /* 1..SERVE_CONFIG_MAX_WORKERS */
    int64_t max_upload;    /* bytes, >= 1 */
    int64_t max_body;      /* bytes, >= 1: request bodies other than uploads */
    double timeout_s;      /* default job timeout, >= 0 (0 = none) */
    double max_duration_s; /* > 0 */
    char **roots;          /* n_roots absolute paths as written (not resolved), in file order */
    size_t n_roots;
    int queue_limit[SERVE_CONFIG_N_PRIOS]; /* by enum store_priority; >= 0, 0 = unlimited */
    int log_format;                        /* enum serve_log_format */
    char *webhook_secret;                  /* at least 16 bytes */
    int64_t url_max_bytes;                 /* bytes, >= 1 */
    double url_timeout_s;                  /* > 0 */
    char **cors_origins;                   /* "*" or scheme://host[:port], in file order */
    size_t n_cors_origins;
    char **allowed_hosts; /* Host names served besides IP literals and localhost */
    size_t n_allowed_hosts;
    int max_connections;             /* 1..1000000 */
    int max_connections_per_address; /* 0 (no limit)..1000000 */
    double header_timeout_s;         /* > 0 */
    int64_t body_min_rate;           /* bytes per second, >= 0 (0 = no minimum) */
    /* HOST[:PORT] entries as written (net_allow_parse accepts each), in
     * file order: URL inputs and webhooks to them may reach private
     * addresses (net/dest.h) */
    char **url_allow;
    size_t n_url_allow;
    int keep_inputs;            /* keep uploads after their job ends: 1 yes, 0 no */
    double job_retention_s;     /* prune ended jobs after this, >= 0 (0 = never) */
    double live_idle_timeout_s; /* end a live job without audio this long, (0, 3600]; -1 = unset */
    serve_token *tokens;        /* file tokens in file order, then HARK_TOKENS ones */
    size_t n_tokens;

    char *source;  /* the display name the file was parsed under; NULL if none was */
    bool has_mode; /* serve_config_load read a file: file_mode is its st_mode */
    unsigned file_mode;
} serve_config;

/* An empty configuration: everything unset, no tokens, no roots. */
void serve_config_init(serve_config *cfg);

/* Free everything cfg holds (wiping secrets first) and leave it as after
 * serve_config_init. NULL is fine. */
void serve_config_release(serve_config *cfg);

/* Wipe and free the token secrets (their digests are kept elsewhere:
 * auth/tokens.h) and the webhook secret, keeping the rest of cfg. */
void serve_config_wipe_secrets(serve_config *cfg);

/* Parse len bytes of config text; name is how messages call it (a path,
 * "hark.conf"). cfg must be freshly initialised (serve_config_init); the
 * text need not be NUL-terminated and may hold anything. Returns 0 with cfg
 * filled, or HARK_EINVAL (HARK_ENOMEM if allocation failed) with err set to
 * "NAME:LINE: cause" and cfg left empty (as after serve_config_init). */
int serve_config_parse(const char *data, size_t len, const char *name, serve_config *cfg,
                       hark_err *err);

/* Read the file at path (a regular file of at most SERVE_CONFIG_MAX_FILE
 * bytes; opened without blocking, so a FIFO is refused rather than waited
 * on) and parse it under its path as the name; records its mode for
 * serve_config_mode_warning. HARK_ENOENT if it does not exist, HARK_EIO if
 * it cannot be read, else as serve_config_parse. */
int serve_config_load(const char *path, serve_config *cfg, hark_err *err);

/* Merge the tokens of a HARK_TOKENS value into cfg: comma-separated
 * `name:max_priority:secret` entries (the secret is everything after the
 * second colon, so it may hold colons but no commas). Same rules as the
 * file's tokens, checked across both: names and secrets unique. Such a
 * token is never an admin (an admin is written in the file). NULL or ""
 * adds nothing. All or nothing: 0 with every entry added, or HARK_EINVAL
 * ("HARK_TOKENS: entry N: cause") with cfg unchanged. */
int serve_config_add_env_tokens(serve_config *cfg, const char *value, hark_err *err);

/* True when cfg came from a file (serve_config_load) that holds secrets (a
 * token section or webhook_secret) and that group or others may read; msg
 * (n bytes, may be NULL) then says so in one line, naming the file and its
 * mode. The caller prints it as a warning. False otherwise, msg empty. */
bool serve_config_mode_warning(const serve_config *cfg, char *msg, size_t n);

/* "text" / "json" for an enum serve_log_format, NULL when unset. */
const char *serve_log_format_name(int format);

#endif
