/* static_assets.c - see static_assets.h. The table is generated at build
 * time (cmake/embed_assets.cmake); this file only looks names up in it. */
#include "server/static_assets.h"

#include <string.h>

const static_asset *static_asset_named(const char *name)
{
    if (!name || !*name)
        return NULL;
    for (size_t i = 0; i < static_asset_count; i++)
        if (strcmp(static_asset_table[i].name, name) == 0)
            return &static_asset_table[i];
    return NULL;
}

const static_asset *static_asset_find(const char *path)
{
    if (!path)
        return NULL;
    if (strcmp(path, "/") == 0)
        return static_asset_named(STATIC_ASSET_INDEX);
    size_t n = strlen(STATIC_ASSET_PREFIX);
    if (strncmp(path, STATIC_ASSET_PREFIX, n) != 0)
        return NULL;
    /* Names in the table have no "/": "/static/a/b" matches nothing. */
    return static_asset_named(path + n);
}
