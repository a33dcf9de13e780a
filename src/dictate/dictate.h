/* dictate.h - `hark dictate`: live dictation into `hark serve`.
 *
 * Recording needs FFmpeg's libavdevice, so `hark dictate` and `hark
 * dictate start` run in hark-engine (src/main.c execs it); `stop` and
 * `cancel` only talk to the recorder's control socket and run the desktop
 * tools, so the front end `hark` runs them itself (no exec of hark-engine
 * on a hotkey's release; control.c must stay free of FFmpeg).
 *
 * Modules: opts (the command line), record (the recorder: capture, stream,
 * partial text, end, deadline), ctl (the control socket), live (the live
 * job's HTTP API), deliver (stdout, clipboard, typing), status (the status
 * line), and media/capture (the microphone).
 */
#ifndef HARK_DICTATE_DICTATE_H
#define HARK_DICTATE_DICTATE_H

#include "dictate/opts.h"

/* `hark dictate ...` in every form (argv[0] is "dictate"). Returns the exit
 * status. */
int dictate_main(int argc, char **argv);

/* `hark dictate stop` and `hark dictate cancel` (argv[0] is "dictate"):
 * what the front end runs without hark-engine. Returns the exit status. */
int dictate_control_main(int argc, char **argv);

/* Record one dictation as o says (o->action is DICTATE_RUN or
 * DICTATE_START) and deliver it (record.c). Returns the exit status. */
int dictate_record(const dictate_opts *o);

/* The control side of `stop` and `cancel` (control.c). */
int dictate_control(const dictate_opts *o);

/* Deliver the final text (or the json result with --json) as mode says:
 * stdout, or a desktop tool. Returns the exit status, having said why on
 * failure. */
int dictate_deliver(deliver_mode mode, const char *text, bool quiet);

#endif
