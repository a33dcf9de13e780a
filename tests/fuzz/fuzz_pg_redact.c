/* fuzz_pg_redact.c - libFuzzer harness over the PostgreSQL store's
 * connection-string redaction (store/pg_conn.h: pg_redact), which every
 * message that names a store location goes through.
 *
 * The input (up to its first NUL) is a location, URI or key=value. Checks:
 *   - the output is NUL-terminated within its buffer, also a tiny one;
 *   - what libpq cannot parse is shown as "(unparsable)" and nothing else;
 *   - libpq is the judge of what the password is: when libpq's own parser
 *     (PQconninfoParse) finds one in the input, the output parses, to no
 *     password at all. (Its text may still occur by chance: "password=a"
 *     beside "host=a.example".)
 *     ./fuzz_pg_redact -max_total_time=10
 */
#include "store/pg_conn.h"

#include <libpq-fe.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* libpq's password in a connection string; NULL if none or unparsable
 * (*parsed says which). Freed by the caller. */
static char *password_of(const char *loc, int *parsed)
{
    char *errmsg = NULL;
    PQconninfoOption *opts = PQconninfoParse(loc, &errmsg);
    PQfreemem(errmsg);
    *parsed = opts != NULL;
    if (!opts)
        return NULL;
    char *pw = NULL;
    for (PQconninfoOption *o = opts; o->keyword; o++)
        if (strcmp(o->keyword, "password") == 0 && o->val && o->val[0])
            pw = strdup(o->val);
    PQconninfoFree(opts);
    return pw;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    char *loc = malloc(size + 1);
    if (!loc)
        return 0;
    memcpy(loc, data, size);
    loc[size] = '\0';

    char tiny[5];
    memset(tiny, 'x', sizeof tiny);
    pg_redact(loc, tiny, sizeof tiny);
    if (memchr(tiny, '\0', sizeof tiny) == NULL)
        __builtin_trap();

    char out[16384];
    pg_redact(loc, out, sizeof out);

    int parsed_in = 0, parsed_out = 0;
    char *pw = password_of(loc, &parsed_in);
    if (!parsed_in && strcmp(out, "(unparsable)") != 0)
        __builtin_trap();
    if (pw) {
        char *left = password_of(out, &parsed_out);
        if (left || !parsed_out)
            __builtin_trap(); /* libpq still finds a password in what we print */
        free(left);
    }
    free(pw);
    free(loc);
    return 0;
}
