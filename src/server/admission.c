/* admission.c - who may submit at which priority, whose jobs a caller
 * sees, and what a full queue answers (server_impl.h). */
#include "server/server_impl.h"

#include <stdio.h>

_Static_assert(SERVE_TOKEN_NAME_MAX <= STORE_OWNER_MAX, "a token's name fits a job's owner");

store_scope caller_scope(const caller *who)
{
    return who->admin ? STORE_SCOPE_ALL : store_scope_owner(who->token_name);
}

int caller_priority(const caller *who, int requested, int default_priority, int *out, api_error *e)
{
    if (requested < 0) {
        /* Nothing asked: the route's default, but never above the token's
         * ceiling (an OpenAI request defaults to high; a token limited to
         * normal still gets its transcription, at normal). */
        *out = default_priority < who->max_priority ? who->max_priority : default_priority;
        return 0;
    }
    if (requested < who->max_priority)
        return api_error_set(e, MHD_HTTP_FORBIDDEN, "priority", "priority_not_allowed",
                             "token '%s' may submit at %s priority or below, not %s",
                             who->token_name, store_priority_name(who->max_priority),
                             store_priority_name(requested));
    *out = requested;
    return 0;
}

enum MHD_Result reply_queue_full(struct MHD_Connection *c, int priority, const hark_err *err)
{
    /* How long to wait is a guess either way; the realtime class drains in
     * seconds, the batch classes in minutes. Clients back off further on
     * repeated 429s. */
    static const char *const retry_after[] = {"1", "5", "30", "60"};
    api_error e;
    api_error_set(&e, MHD_HTTP_TOO_MANY_REQUESTS, "priority", "queue_full", "%s", err->msg);
    e.retry_after = retry_after[priority >= 0 && priority < 4 ? priority : 3];
    return reply_error(c, &e);
}
