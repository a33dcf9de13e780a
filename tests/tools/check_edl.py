#!/usr/bin/python3
"""check_edl.py FILE [--events N] [--fps 30]

Checks a CMX 3600 marker EDL as DaVinci Resolve exports it (Timelines >
Export > Timeline Markers to EDL) and imports it (Timeline Markers from EDL):

    TITLE: My recording
    FCM: NON-DROP FRAME

    001  001      V     C        01:00:12:00 01:00:12:01 01:00:12:00 01:00:12:01
     |C:ResolveColorBlue |M:let's go |D:390
    * FROM CLIP NAME: rec.wav

The grammar, one line at a time (blank lines anywhere, CRLF or LF):
  - header: an optional "TITLE: text" first, then an optional
    "FCM: NON-DROP FRAME" or "FCM: DROP FRAME" (before the first event);
  - event: NNN REEL TRACK TRANS [DUR] SRC_IN SRC_OUT REC_IN REC_OUT: event
    numbers 001, 002, ... (three digits, one more each time); a reel of 1-8
    characters (Resolve writes 001, AX and BL are the usual others); a track
    V, A, A2, A3, A4, AA, B, A/V or AA/V (also with V: V/A...); a transition C,
    D, K, KB, KO or Wnnn, the non-cut ones followed by their duration in
    frames; timecodes HH:MM:SS:FF (HH < 24, FF < fps; with DROP FRAME, frames
    00 and 01 do not exist at minutes not divisible by 10); in < out, the
    source and the record the same length (a cut at 100 % speed); record
    times ascending and not overlapping;
  - comment: a line starting with "*" ("* FROM CLIP NAME: x", "* LOC: ...");
  - marker (Resolve): "[note] |C:ResolveColorNAME |M:name |D:frames" after an
    event: NAME one of Resolve's 16 marker colours, a non-empty name without
    "|", a duration of 1 frame or more; a note may run over lines before it
    (Resolve writes a multi-line note so), nothing else may;
  - one marker per event, and the marker's event has its source timecodes
    equal to its record ones (Resolve writes both from the timeline);
  - a clip name: a non-empty TITLE or a "* FROM CLIP NAME:" comment;
  - with --events N: exactly N events.
Exits 0 and prints a summary when it holds, 1 naming each rule broken (line
and rule), 2 on a usage error or an unreadable file. Python stdlib only.
"""
import argparse
import re
import sys

COLOURS = {"Blue", "Cyan", "Green", "Yellow", "Red", "Pink", "Purple", "Fuchsia", "Rose",
           "Lavender", "Sky", "Mint", "Lemon", "Sand", "Cocoa", "Cream"}
TRACKS = {"V", "A", "A2", "A3", "A4", "AA", "B", "A/V", "AA/V", "V/A", "V/AA"}
TC = r"(\d{2}):(\d{2}):(\d{2})[:;](\d{2})"
EVENT_RE = re.compile(r"^(\d{3})\s+(\S+)\s+(\S+)\s+(\S+)(?:\s+(\d{3}))?\s+" + r"\s+".join([TC] * 4) + r"\s*$")
MARKER_RE = re.compile(r"^(.*?)\s*\|C:(\S*)\s+\|M:([^|]*?)\s+\|D:(\S*)\s*$")
TRANS_RE = re.compile(r"^(C|D|K|KB|KO|W\d{3})$")


class Edl:
    def __init__(self, path, fps):
        self.path = path
        self.fps = fps
        self.errors = []
        self.events = []   # dicts: line, number, rec_in, rec_out, markers
        self.title = None
        self.clip_names = []
        self.drop = False

    def fail(self, line, rule, msg):
        where = f"{self.path}:{line}" if line else self.path
        self.errors.append(f"{where}: {rule}: {msg}")

    def frames(self, line, m, what):
        """Frames since 00:00:00:00 of a timecode's four groups, or None."""
        hh, mm, ss, ff = (int(x) for x in m)
        tc = f"{m[0]}:{m[1]}:{m[2]}:{m[3]}"
        if hh >= 24 or mm >= 60 or ss >= 60 or ff >= self.fps:
            self.fail(line, "timecode", f"{what} {tc} is not a valid timecode at {self.fps} fps "
                      f"(HH < 24, MM < 60, SS < 60, FF < {self.fps})")
            return None
        if self.drop and ss == 0 and ff < 2 and mm % 10 != 0:
            self.fail(line, "timecode", f"{what} {tc} does not exist in drop-frame timecode")
            return None
        total = ((hh * 60 + mm) * 60 + ss) * self.fps + ff
        if self.drop:  # the frame numbers skipped so far (two a minute, not every tenth)
            minutes = hh * 60 + mm
            total -= 2 * (minutes - minutes // 10)
        return total


def check(path, fps, want_events):
    edl = Edl(path, fps)
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        print(f"check_edl: {path}: cannot read: {e.strerror}", file=sys.stderr)
        sys.exit(2)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        edl.fail(None, "encoding", f"not UTF-8 text (byte {e.start})")
        return edl
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()

    state = "header"   # header -> events
    seen_fcm = False
    first_content = True
    pending_note = []  # note lines of the current event before its marker
    cur = None
    for i, line in enumerate(lines, 1):
        line = line[:-1] if line.endswith("\r") else line
        if any(ord(c) < 32 and c != "\t" for c in line):
            edl.fail(i, "grammar", "control character in the line")
            continue
        s = line.strip()
        if not s:
            continue
        was_first = first_content
        first_content = False
        if s.startswith("TITLE:"):
            if not was_first:
                edl.fail(i, "title", "TITLE: must be the first line")
            title = s[len("TITLE:"):].strip()
            if not title:
                edl.fail(i, "title", "TITLE: is empty")
            edl.title = title
            continue
        if s.startswith("FCM:"):
            if state != "header" or seen_fcm:
                edl.fail(i, "fcm", "FCM: must come once, before the first event")
            mode = s[len("FCM:"):].strip()
            if mode not in ("NON-DROP FRAME", "DROP FRAME"):
                edl.fail(i, "fcm", f"FCM: {mode!r} is neither NON-DROP FRAME nor DROP FRAME")
            edl.drop = mode == "DROP FRAME"
            if edl.drop and fps != 30:
                edl.fail(i, "fcm", f"DROP FRAME needs 30 fps timecode (--fps {fps})")
            seen_fcm = True
            continue
        if s.startswith("*"):
            m = re.match(r"^\*\s*FROM CLIP NAME:\s*(.*)$", s)
            if m:
                if not m.group(1).strip():
                    edl.fail(i, "clip name", "* FROM CLIP NAME: is empty")
                else:
                    edl.clip_names.append(m.group(1).strip())
            continue
        m = EVENT_RE.match(s)
        if m:
            if cur is not None and pending_note:
                edl.fail(pending_note[0], "marker", "note text without its |C: |M: |D: marker line")
            pending_note = []
            state = "events"
            num, reel, track, trans, dur = m.group(1, 2, 3, 4, 5)
            tcs = [m.group(6 + 4 * k, 7 + 4 * k, 8 + 4 * k, 9 + 4 * k) for k in range(4)]
            cur = {"line": i, "number": int(num), "markers": 0, "src": None, "rec": None}
            expect = len(edl.events) + 1
            if int(num) != expect:
                edl.fail(i, "event number", f"event {num} where {expect:03d} was due (001, 002, ... in order)")
            if not 1 <= len(reel) <= 8 or not re.match(r"^[A-Za-z0-9_.-]+$", reel):
                edl.fail(i, "reel", f"reel {reel!r} is not 1-8 letters, digits, '_', '.' or '-'")
            if track not in TRACKS:
                edl.fail(i, "track", f"track {track!r} is not one of {', '.join(sorted(TRACKS))}")
            if not TRANS_RE.match(trans):
                edl.fail(i, "transition", f"transition {trans!r} is not C, D, K, KB, KO or Wnnn")
            elif trans == "C" and dur is not None:
                edl.fail(i, "transition", "a cut (C) takes no transition duration")
            elif trans != "C" and dur is None:
                edl.fail(i, "transition", f"transition {trans} needs its duration in frames")
            names = ("source in", "source out", "record in", "record out")
            fr = [edl.frames(i, tcs[k], names[k]) for k in range(4)]
            if None not in fr:
                si, so, ri, ro = fr
                if si >= so:
                    edl.fail(i, "in < out", "source in is not before source out")
                if ri >= ro:
                    edl.fail(i, "in < out", "record in is not before record out")
                if si < so and ri < ro and so - si != ro - ri:
                    edl.fail(i, "duration", f"source length {so - si} frames != record length {ro - ri} "
                             "(a cut at 100 % speed keeps them equal)")
                prev = edl.events[-1] if edl.events else None
                if prev and prev["rec"] is not None:
                    if ri < prev["rec"][0]:
                        edl.fail(i, "record order", "record in is before the previous event's (not ascending)")
                    elif ri < prev["rec"][1]:
                        edl.fail(i, "record overlap", "record in is before the previous event's record out")
                cur["src"] = (si, so)
                cur["rec"] = (ri, ro)
            edl.events.append(cur)
            continue
        if cur is None:
            edl.fail(i, "grammar", f"neither TITLE:, FCM:, a comment nor an event: {s[:60]!r}")
            continue
        if "|C:" in s or "|M:" in s or "|D:" in s:
            mm = MARKER_RE.match(line)
            pending_note = []
            if not mm:
                edl.fail(i, "marker", "a marker is \"[note] |C:ResolveColorNAME |M:name |D:frames\"")
                cur["markers"] += 1
                continue
            _, colour, name, dur = mm.groups()
            if not colour.startswith("ResolveColor") or colour[len("ResolveColor"):] not in COLOURS:
                edl.fail(i, "marker colour", f"{colour!r} is not ResolveColor + one of {', '.join(sorted(COLOURS))}")
            if not name.strip():
                edl.fail(i, "marker name", "|M: is empty")
            if not re.fullmatch(r"[0-9]+", dur) or int(dur) < 1:
                edl.fail(i, "marker duration", f"|D:{dur} is not a whole number of frames >= 1")
            cur["markers"] += 1
            if cur["markers"] == 1 and cur["src"] is not None and cur["src"] != cur["rec"]:
                edl.fail(cur["line"], "marker timecodes", "a marker event has source timecodes equal to its "
                         "record ones (Resolve writes both from the timeline)")
            continue
        if cur["markers"] == 0:
            pending_note.append(i)  # a note's earlier lines, before its marker line
            continue
        edl.fail(i, "grammar", f"after the marker only comments or the next event: {s[:60]!r}")
    if pending_note:
        edl.fail(pending_note[0], "marker", "note text without its |C: |M: |D: marker line")

    for ev in edl.events:
        if ev["markers"] != 1:
            edl.fail(ev["line"], "one marker per event", f"event {ev['number']:03d} has {ev['markers']} markers")
    if not edl.events:
        edl.fail(None, "events", "no events")
    if want_events is not None and len(edl.events) != want_events:
        edl.fail(None, "events", f"{len(edl.events)} events, {want_events} expected")
    if not edl.title and not edl.clip_names:
        edl.fail(None, "clip name", "no clip name: neither a TITLE: nor a * FROM CLIP NAME: comment")
    return edl


def main():
    ap = argparse.ArgumentParser(description="Check a CMX 3600 marker EDL (DaVinci Resolve's form).")
    ap.add_argument("file")
    ap.add_argument("--events", type=int, help="exactly this many events")
    ap.add_argument("--fps", type=int, default=30, help="timecode frame rate (default 30)")
    a = ap.parse_args()
    if a.fps < 1:
        ap.error("--fps must be positive")
    edl = check(a.file, a.fps, a.events)
    if edl.errors:
        for e in edl.errors[:30]:
            print(f"check_edl: {e}")
        if len(edl.errors) > 30:
            print(f"check_edl: ... and {len(edl.errors) - 30} more")
        return 1
    name = edl.clip_names[0] if edl.clip_names else edl.title
    print(f"check_edl: {a.file}: ok: {len(edl.events)} events with one marker each, clip {name!r}, "
          f"{'DROP' if edl.drop else 'NON-DROP'} FRAME at {a.fps} fps")
    return 0


if __name__ == "__main__":
    sys.exit(main())
