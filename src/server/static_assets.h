/* static_assets.h - the dashboard's files (web/ in the source tree),
 * compiled into the binary: the daemon serves its page with no file on
 * disk, no network and no CDN.
 *
 * At build time cmake/embed_assets.cmake turns each file of web/ into a row
 * of static_asset_table (a generated C file): its name, its media type
 * (charset included for text; a file of an unknown type stops the build),
 * its bytes and a strong ETag derived from them (the first 16 hex digits of
 * their SHA-256, quoted), so the tag is the same for the same bytes in
 * every build and changes when they do.
 *
 * Request paths map to files by exact name, never by a file system path:
 *     "/"              index.html
 *     "/static/NAME"   the file NAME of web/
 * Anything else (a "..", a subdirectory, a query, "%2e" left encoded) is no
 * asset. Pure lookups over constant data: safe from any thread.
 */
#ifndef HARK_SERVER_STATIC_ASSETS_H
#define HARK_SERVER_STATIC_ASSETS_H

#include <stddef.h>

#define STATIC_ASSET_PREFIX "/static/"
#define STATIC_ASSET_INDEX "index.html" /* what "/" serves */

typedef struct static_asset {
    const char *name; /* its file name in web/, e.g. "app.js" */
    const char *type; /* Content-Type, e.g. "text/javascript; charset=utf-8" */
    const unsigned char *data;
    size_t size;
    const char *etag; /* strong and quoted: "\"0123456789abcdef\"" */
} static_asset;

/* Every asset, sorted by name (generated). */
extern const static_asset static_asset_table[];
extern const size_t static_asset_count;

/* The asset a request path names (see above), or NULL. path is the path
 * as libmicrohttpd decoded it, without the query; NULL is no asset. */
const static_asset *static_asset_find(const char *path);

/* The asset of a file name ("app.js"), or NULL. */
const static_asset *static_asset_named(const char *name);

#endif
