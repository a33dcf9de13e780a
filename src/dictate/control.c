/* control.c - `hark dictate stop | cancel`, and delivering the final text.
 * No FFmpeg here: the front end `hark` runs these itself. */
#include "dictate/ctl.h"
#include "dictate/dictate.h"

#include "cli/cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int dictate_deliver(deliver_mode mode, const char *text, bool quiet)
{
    if (mode == DELIVER_STDOUT) {
        printf("%s\n", text);
        if (fflush(stdout) != 0 || ferror(stdout)) {
            fprintf(stderr, "hark: dictate: cannot write to standard output: %s\n",
                    strerror(errno));
            return EXIT_SOME_FAILED;
        }
        return EXIT_ALL_OK;
    }
    hark_err err = {0};
    if (deliver_text(mode, text, &err) != 0) {
        fprintf(stderr, "hark: dictate: %s\n", err.msg);
        return EXIT_SOME_FAILED;
    }
    if (!quiet && isatty(STDERR_FILENO))
        fprintf(stderr, "hark: dictate: %s\n",
                mode == DELIVER_CLIPBOARD ? "the text is on the clipboard"
                : mode == DELIVER_PASTE   ? "the text was pasted"
                                          : "the text was typed");
    return EXIT_ALL_OK;
}

int dictate_control(const dictate_opts *o)
{
    hark_err err = {0};
    char dir[256];
    int fd = -1;
    if (ctl_dir(dir, sizeof dir, &err) != 0 || ctl_connect(dir, &fd, &err) != 0) {
        fprintf(stderr, "hark: dictate: %s\n", err.msg);
        return EXIT_SOME_FAILED;
    }
    ctl_op op = o->action == DICTATE_CANCEL ? CTL_CANCEL : CTL_STOP;
    /* The recorder answers within its own deadline (--wait of its start);
     * this one is a backstop for a recorder that hangs. */
    deadline dl =
        deadline_in((o->wait_s > DICTATE_DEFAULT_WAIT_S ? o->wait_s : DICTATE_DEFAULT_WAIT_S) + 15);
    json_t *req = json_pack("{s:s}", "op", ctl_op_name(op)), *reply = NULL;
    int rc = req ? ctl_send(fd, req, dl, &err) : err_set(&err, HARK_ENOMEM, "out of memory");
    if (rc == 0)
        rc = ctl_recv(fd, &reply, dl, &err);
    json_decref(req);
    close(fd);
    if (rc) {
        fprintf(stderr, "hark: dictate: %s\n", err.msg);
        return EXIT_SOME_FAILED;
    }
    const char *job = json_string_value(json_object_get(reply, "job"));
    int status = EXIT_ALL_OK;
    if (!json_is_true(json_object_get(reply, "ok"))) {
        const char *e = json_string_value(json_object_get(reply, "error"));
        fprintf(stderr, "hark: dictate: %s\n", e ? e : "the dictation failed");
        status = EXIT_SOME_FAILED;
    } else if (op == CTL_CANCEL) {
        /* "cancelled", or "dropped" when the job had ended and only its
         * undelivered text was dropped. */
        const char *state = json_string_value(json_object_get(reply, "state"));
        printf("%s\n", state ? state : "cancelled");
        if (fflush(stdout) != 0)
            status = EXIT_SOME_FAILED;
    } else {
        const char *text = json_string_value(json_object_get(reply, "text"));
        deliver_mode mode = DELIVER_STDOUT;
        if (o->to_given)
            mode = o->to;
        else if (deliver_mode_parse(json_string_value(json_object_get(reply, "to")), &mode))
            mode = DELIVER_STDOUT;
        json_t *result = json_object_get(reply, "result");
        if (o->json && result) {
            char *dump = json_dumps(result, JSON_INDENT(2) | JSON_REAL_PRECISION(15));
            status = dump ? dictate_deliver(DELIVER_STDOUT, dump, true) : EXIT_SOME_FAILED;
            free(dump);
        } else if (!text) {
            fprintf(stderr, "hark: dictate: the recorder sent no text\n");
            status = EXIT_SOME_FAILED;
        } else if (!*text) {
            fprintf(stderr, "hark: dictate: heard no speech (job %s)\n", job ? job : "?");
        } else {
            status = dictate_deliver(mode, text, false);
        }
    }
    json_decref(reply);
    return status;
}

int dictate_control_main(int argc, char **argv)
{
    dictate_opts o;
    int status = dictate_parse_or_exit(argc, argv, &o);
    if (status >= 0)
        return status;
    return dictate_control(&o);
}
