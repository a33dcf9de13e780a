/* static_http.c - the dashboard's files over HTTP (docs/api.md
 * "The dashboard"): GET|HEAD / and /static/NAME from the table compiled
 * into the binary (static_assets.h), with no token: the files hold no data,
 * and the page's own API calls carry the caller's token like any client's.
 * The Host check (DNS rebinding) and the Origin rules apply as to every
 * route: server.c makes them before any handler.
 *
 * Caching: every file is `no-cache` with its strong ETag, so a browser
 * revalidates each time and gets a 304 with no body while the build is the
 * same. Not a year's `immutable`: the file names are not content-hashed
 * (index.html names /static/app.js), so a long max-age would keep an old
 * app.js beside a new index.html after an upgrade, and a revalidation on
 * the daemon's own host costs one small round trip.
 *
 * Every answer of a file carries the headers that confine the page: a
 * Content-Security-Policy that admits only the daemon's own scripts,
 * styles and connections (no inline script or style, no framing, media
 * from the daemon or blob: URLs), nosniff, no referrer, no framing. */
#include "server/server_impl.h"
#include "server/range.h"
#include "server/static_assets.h"

#define PAGE_CACHE_CONTROL "no-cache"
#define PAGE_CSP                                                                                   \
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "        \
    "media-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "        \
    "form-action 'self'"

static void add_page_headers(struct MHD_Response *r, const static_asset *a)
{
    MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, a->etag);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, PAGE_CACHE_CONTROL);
    MHD_add_response_header(r, "Content-Security-Policy", PAGE_CSP);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
}

enum MHD_Result handle_static(server *s, struct MHD_Connection *c, const static_asset *a,
                              const char *path)
{
    (void)s;
    if (!a)
        return reply_errorf(c, MHD_HTTP_NOT_FOUND, NULL, "asset_not_found",
                            "the dashboard has no file '%.128s'", path);
    const char *inm =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
    bool current = http_none_match(inm, a->etag);
    /* The bytes are constant data of the program: lent, never copied. */
    struct MHD_Response *r =
        current ? MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT)
                : MHD_create_response_from_buffer(a->size, (void *)a->data, MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    if (!current)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, a->type);
    add_page_headers(r, a);
    enum MHD_Result ret = reply_queue(c, current ? MHD_HTTP_NOT_MODIFIED : MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}
