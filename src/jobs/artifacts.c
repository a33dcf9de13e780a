/* artifacts.c - see artifacts.h. */
#include "jobs/artifacts.h"

#include "util/fs.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int artifacts_dir(const char *root, const char *job_id, char *out, size_t n)
{
    if (snprintf(out, n, "%s/%s", root, job_id) >= (int)n)
        return HARK_EINVAL;
    return 0;
}

bool artifact_name_ok(const char *name)
{
    size_t len = name ? strlen(name) : 0;
    if (len == 0 || len >= ARTIFACT_NAME_MAX || name[0] == '.')
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

json_t *artifact_to_json(const artifact *a)
{
    return json_pack("{s:{s:s, s:I, s:s, s:f}}", "artifact", "name", a->name, "bytes",
                     (json_int_t)a->bytes, "type", a->type, "duration", a->duration_s);
}

int artifact_from_result(const json_t *result, artifact *out, hark_err *err)
{
    const json_t *a = json_is_object(result) ? json_object_get(result, "artifact") : NULL;
    if (!a)
        return 0;
    memset(out, 0, sizeof *out);
    const char *name = json_string_value(json_object_get(a, "name"));
    const char *type = json_string_value(json_object_get(a, "type"));
    const json_t *bytes = json_object_get(a, "bytes"), *dur = json_object_get(a, "duration");
    if (!json_is_object(a) || !artifact_name_ok(name))
        return err_set(err, HARK_EINVAL, "artifact record without a valid name");
    if (!type || strlen(type) >= sizeof out->type || !json_is_integer(bytes) ||
        json_integer_value(bytes) < 0 || !json_is_number(dur) ||
        !isfinite(json_number_value(dur)) || json_number_value(dur) < 0)
        return err_set(err, HARK_EINVAL, "artifact record of '%s' is malformed", name);
    snprintf(out->name, sizeof out->name, "%s", name);
    snprintf(out->type, sizeof out->type, "%s", type);
    out->bytes = json_integer_value(bytes);
    out->duration_s = json_number_value(dur);
    return 1;
}

int artifacts_list(store *st, store_scope sc, const char *id, artifact_list *out, hark_err *err)
{
    memset(out, 0, sizeof *out);
    store_chunk_list l;
    int rc = store_list_chunks(st, sc, id, &l, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < l.n && rc == 0; i++) {
        /* A transcription's words are an array, an analysis has features:
         * only a result that names an artifact is parsed (a browser seeking
         * in a clip asks for the list on every Range request). */
        if (l.chunks[i].state != STORE_CHUNK_DONE || l.chunks[i].result[0] != '{' ||
            !strstr(l.chunks[i].result, "\"artifact\""))
            continue;
        json_t *r = json_loads(l.chunks[i].result, 0, NULL);
        artifact a;
        hark_err perr = {0};
        int got = r ? artifact_from_result(r, &a, &perr) : HARK_EINVAL;
        json_decref(r);
        if (got < 0) {
            rc = err_set(err, HARK_EIO, "job %s: stored artifact of task %d is damaged: %s", id,
                         l.chunks[i].idx, perr.msg[0] ? perr.msg : "not JSON");
        } else if (got == 1) {
            artifact *p = realloc(out->items, (out->n + 1) * sizeof *p);
            if (!p)
                rc = err_set(err, HARK_ENOMEM, "out of memory");
            else
                (out->items = p)[out->n++] = a;
        }
    }
    store_chunk_list_release(&l);
    if (rc)
        artifact_list_release(out);
    return rc;
}

void artifact_list_release(artifact_list *l)
{
    free(l->items);
    memset(l, 0, sizeof *l);
}

void artifacts_remove_partials(const char *root, const char *job_id)
{
    char dir[4096];
    if (!root || artifacts_dir(root, job_id, dir, sizeof dir))
        return;
    DIR *d = opendir(dir);
    if (!d)
        return;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        char path[4400];
        if (e->d_name[0] == '.' && strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name) < (int)sizeof path)
            unlink(path);
    }
    closedir(d);
}

void artifacts_remove(const char *root, const char *job_id)
{
    char dir[4096];
    if (root && artifacts_dir(root, job_id, dir, sizeof dir) == 0)
        fs_rmtree(dir);
}
