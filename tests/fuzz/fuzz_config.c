/* fuzz_config.c - libFuzzer harness over the serve config parser
 * (auth/serve_config.h) and what consumes its tokens (auth/tokens.h).
 *
 * The input is parsed as a config file from memory, then, up to its first
 * NUL, merged as a HARK_TOKENS value. Checks:
 *   - a failed parse says HARK_EINVAL with "fuzz.conf:LINE: ..." and leaves
 *     the config empty; a failed merge says "HARK_TOKENS: ..." and leaves
 *     the tokens as they were; every message is one line of printable ASCII;
 *   - a parsed config keeps every documented range: numbers unset (-1) or
 *     valid, roots absolute, url_allow entries that net_allow_parse
 *     accepts again (normalized, a port 0..65535), token names and secrets
 *     valid and unique;
 *   - a token table built from it finds each token by its secret, and a
 *     secret cut by one byte finds only a token whose secret that is.
 * Leaks are LeakSanitizer's.
 *     ./fuzz_config -dict=tests/fuzz/fuzz_config.dict -max_total_time=30
 */
#include "auth/serve_config.h"
#include "auth/tokens.h"
#include "net/dest.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_message(const hark_err *err, int rc, const char *prefix)
{
    if (rc != HARK_EINVAL || strncmp(err->msg, prefix, strlen(prefix)) != 0)
        __builtin_trap();
    for (const char *c = err->msg; *c; c++)
        if (*c < 0x20 || *c > 0x7e)
            __builtin_trap();
}

static bool valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > SERVE_TOKEN_NAME_MAX ||
        strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstu"
                  "vwxyz0123456789._-") != n)
        return false;
    return true;
}

static void check_config(const serve_config *c)
{
    if (c->workers != -1 && (c->workers < 1 || c->workers > SERVE_CONFIG_MAX_WORKERS))
        __builtin_trap();
    if (c->max_upload == 0 || c->max_upload < -1 || c->max_body == 0 || c->max_body < -1 ||
        c->url_max_bytes == 0 || c->url_max_bytes < -1)
        __builtin_trap();
    if (c->timeout_s != -1 && !(c->timeout_s >= 0 && c->timeout_s <= SERVE_CONFIG_MAX_SECONDS))
        __builtin_trap();
    if (c->max_duration_s != -1 &&
        !(c->max_duration_s > 0 && c->max_duration_s <= SERVE_CONFIG_MAX_SECONDS))
        __builtin_trap();
    if (c->url_timeout_s != -1 &&
        !(c->url_timeout_s > 0 && c->url_timeout_s <= SERVE_CONFIG_MAX_SECONDS))
        __builtin_trap();
    for (int p = 0; p < SERVE_CONFIG_N_PRIOS; p++)
        if (c->queue_limit[p] < -1)
            __builtin_trap();
    if (c->log_format < SERVE_LOG_UNSET || c->log_format > SERVE_LOG_JSON)
        __builtin_trap();
    if (c->webhook_secret && strlen(c->webhook_secret) < SERVE_TOKEN_SECRET_MIN)
        __builtin_trap();
    for (size_t i = 0; i < c->n_roots; i++)
        if (c->roots[i][0] != '/')
            __builtin_trap();
    if ((c->n_url_allow == 0) != (c->url_allow == NULL))
        __builtin_trap();
    for (size_t i = 0; i < c->n_url_allow; i++) {
        net_allow a;
        if (net_allow_parse(c->url_allow[i], &a, NULL) != 0 || !a.host[0] || a.port > 65535)
            __builtin_trap();
        /* Its normalized host is an entry of its own (what the daemon
         * compares URLs' hosts with is stable). */
        net_allow again;
        if (net_allow_parse(a.host, &again, NULL) != 0 || strcmp(again.host, a.host) != 0)
            __builtin_trap();
    }
    for (size_t i = 0; i < c->n_tokens; i++) {
        const serve_token *t = &c->tokens[i];
        if (!valid_name(t->name) || !t->secret || t->max_priority < 0 || t->max_priority > 3)
            __builtin_trap();
        if (t->from_env && t->admin) /* admins are written in the file only */
            __builtin_trap();
        size_t n = strlen(t->secret);
        if (n < SERVE_TOKEN_SECRET_MIN)
            __builtin_trap();
        for (size_t k = 0; k < n; k++)
            if (t->secret[k] < 0x21 || t->secret[k] > 0x7e)
                __builtin_trap();
        for (size_t j = 0; j < i; j++)
            if (strcmp(c->tokens[j].name, t->name) == 0 ||
                strcmp(c->tokens[j].secret, t->secret) == 0)
                __builtin_trap();
    }
}

static void check_lookup(const serve_config *c)
{
    token_table t;
    if (tokens_init(&t, c->tokens, c->n_tokens, NULL) != 0)
        __builtin_trap();
    for (size_t i = 0; i < c->n_tokens; i++) {
        const char *s = c->tokens[i].secret;
        size_t n = strlen(s);
        if (tokens_lookup(&t, s, n) != &t.v[i] || t.v[i].admin != c->tokens[i].admin)
            __builtin_trap();
        const token_entry *e = tokens_lookup(&t, s, n - 1);
        size_t want = c->n_tokens;
        for (size_t j = 0; j < c->n_tokens; j++)
            if (strlen(c->tokens[j].secret) == n - 1 && memcmp(c->tokens[j].secret, s, n - 1) == 0)
                want = j;
        if (want == c->n_tokens ? e != NULL : e != &t.v[want])
            __builtin_trap();
    }
    tokens_release(&t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    serve_config cfg;
    hark_err err;
    serve_config_init(&cfg);
    err_clear(&err);
    int rc = serve_config_parse((const char *)data, size, "fuzz.conf", &cfg, &err);
    if (rc) {
        check_message(&err, rc, "fuzz.conf:");
        if (cfg.tokens || cfg.n_tokens || cfg.roots || cfg.n_roots || cfg.source || cfg.listen ||
            cfg.state_dir || cfg.webhook_secret || cfg.url_allow || cfg.n_url_allow ||
            cfg.workers != -1)
            __builtin_trap();
    }
    check_config(&cfg);

    char *env = strndup((const char *)data, size);
    if (!env)
        abort();
    size_t before = cfg.n_tokens;
    rc = serve_config_add_env_tokens(&cfg, env, &err);
    if (rc) {
        check_message(&err, rc, "HARK_TOKENS: ");
        if (cfg.n_tokens != before)
            __builtin_trap();
    }
    check_config(&cfg);
    check_lookup(&cfg);
    free(env);
    serve_config_release(&cfg);
    return 0;
}
