#!/usr/bin/python3
"""check_chapters.py TXT [JSON] [--duration SECONDS]

TXT: YouTube chapters, one a line, "M:SS Title", "MM:SS Title" or
"H:MM:SS Title" (blank lines ignored, nothing else allowed). YouTube's rules:
  - the first chapter starts at 0:00;
  - at least 3 chapters;
  - timestamps strictly ascending, each chapter at least 10 s long;
  - a title on every line;
  - with --duration: every start inside the recording and the last chapter
    at least 10 s long too (its start at least 10 s before the end).
JSON: Podcasting 2.0 JSON chapters (podcast namespace, jsonChapters.md):
  an object with "version" (a string) and "chapters" (an array); each chapter
  an object with a numeric "startTime" (>= 0, ascending) and here a string
  "title"; the optional fields typed as the spec says ("img", "url" strings,
  "toc" a boolean, "endTime" a number after startTime, "location" an
  object); and the same chapters as the TXT: as many, each startTime within
  1 s of (and not after) the TXT's whole-second start, the same titles.
Exits 0 with a summary, 1 naming each rule broken, 2 on a usage error or an
unreadable file. Python stdlib only.
"""
import argparse
import json
import math
import re
import sys

LINE_RE = re.compile(r"^(?:(\d{1,2}):([0-5]\d):([0-5]\d)|(\d{1,2}):([0-5]\d))\s+(\S.*)$")


def num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def read(path, what):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        print(f"check_chapters: {path}: cannot read {what}: {e.strerror}", file=sys.stderr)
        sys.exit(2)


def check_txt(path, duration, errors):
    def fail(line, rule, msg):
        errors.append(f"{path}:{line}: {rule}: {msg}" if line else f"{path}: {rule}: {msg}")

    try:
        text = read(path, "the chapters").decode("utf-8")
    except UnicodeDecodeError:
        fail(None, "encoding", "not UTF-8 text")
        return []
    chapters = []  # (line, seconds, title)
    for i, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        m = LINE_RE.match(line.strip())
        if not m:
            fail(i, "format", f"not \"M:SS Title\" or \"H:MM:SS Title\": {line[:60]!r}")
            continue
        if m.group(1) is not None:
            t = int(m.group(1)) * 3600 + int(m.group(2)) * 60 + int(m.group(3))
        else:
            t = int(m.group(4)) * 60 + int(m.group(5))
            if int(m.group(4)) >= 60:
                fail(i, "format", f"{m.group(4)} minutes: from an hour on, write H:MM:SS")
        chapters.append((i, t, m.group(6).strip()))
    if not chapters:
        fail(None, "at least 3 chapters", "no chapters")
        return chapters
    if chapters[0][1] != 0:
        fail(chapters[0][0], "first at 0:00", f"the first chapter starts at {chapters[0][1]} s, not 0:00")
    if len(chapters) < 3:
        fail(None, "at least 3 chapters", f"{len(chapters)} chapters")
    for (la, ta, _), (lb, tb, _) in zip(chapters, chapters[1:]):
        if tb <= ta:
            fail(lb, "ascending", f"{tb} s is not after the previous chapter's {ta} s")
        elif tb - ta < 10:
            fail(la, "at least 10 s", f"the chapter at {ta} s lasts {tb - ta} s")
    if duration is not None:
        for ln, t, _ in chapters:
            if t >= duration:
                fail(ln, "inside the recording", f"starts at {t} s, the recording is {duration:g} s")
        ln, t, _ = chapters[-1]
        if t < duration and duration - t < 10:
            fail(ln, "at least 10 s", f"the last chapter lasts {duration - t:g} s (recording {duration:g} s)")
    return chapters


def check_json(path, txt, errors):
    def fail(rule, msg):
        errors.append(f"{path}: {rule}: {msg}")

    try:
        doc = json.loads(read(path, "the JSON chapters").decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        fail("json", f"not JSON: {e}")
        return 0
    if not isinstance(doc, dict):
        fail("json", "the top level is not an object")
        return 0
    if not isinstance(doc.get("version"), str) or not doc.get("version"):
        fail("version", "\"version\" is missing or not a non-empty string")
    for k in ("author", "title", "podcastName", "description", "fileName"):
        if k in doc and not isinstance(doc[k], str):
            fail("types", f"\"{k}\" is not a string")
    chapters = doc.get("chapters")
    if not isinstance(chapters, list):
        fail("chapters", "\"chapters\" is missing or not an array")
        return 0
    starts = []
    for n, c in enumerate(chapters):
        where = f"chapters[{n}]"
        if not isinstance(c, dict):
            fail("chapters", f"{where} is not an object")
            continue
        st = c.get("startTime")
        if not num(st) or st < 0:
            fail("startTime", f"{where}.startTime is missing or not a number >= 0")
            st = None
        if not isinstance(c.get("title"), str) or not c["title"].strip():
            fail("title", f"{where}.title is missing or not a non-empty string")
        for k in ("img", "url"):
            if k in c and not isinstance(c[k], str):
                fail("types", f"{where}.{k} is not a string")
        if "toc" in c and not isinstance(c["toc"], bool):
            fail("types", f"{where}.toc is not a boolean")
        if "location" in c and not isinstance(c["location"], dict):
            fail("types", f"{where}.location is not an object")
        if "endTime" in c:
            if not num(c["endTime"]):
                fail("types", f"{where}.endTime is not a number")
            elif st is not None and c["endTime"] <= st:
                fail("endTime", f"{where}.endTime is not after its startTime")
        starts.append(st)
    for n in range(1, len(starts)):
        if starts[n] is not None and starts[n - 1] is not None and starts[n] <= starts[n - 1]:
            fail("ascending", f"chapters[{n}].startTime {starts[n]} is not after {starts[n - 1]}")
    if txt:
        if len(chapters) != len(txt):
            fail("match the txt", f"{len(chapters)} chapters, the txt has {len(txt)}")
        for n, (c, (ln, t, title)) in enumerate(zip(chapters, txt)):
            if not isinstance(c, dict):
                continue
            st = c.get("startTime")
            if num(st) and not (t <= st < t + 1):
                fail("match the txt", f"chapters[{n}].startTime {st} is not the txt's {t} s (line {ln})")
            if isinstance(c.get("title"), str) and c["title"].strip() != title:
                fail("match the txt", f"chapters[{n}].title {c['title']!r} is not the txt's {title!r} (line {ln})")
    return len(chapters)


def main():
    ap = argparse.ArgumentParser(description="Check YouTube chapters (txt) and Podcasting 2.0 chapters (json).")
    ap.add_argument("txt")
    ap.add_argument("json", nargs="?")
    ap.add_argument("--duration", type=float, help="the recording's length in seconds")
    a = ap.parse_args()
    errors = []
    txt = check_txt(a.txt, a.duration, errors)
    nj = check_json(a.json, txt, errors) if a.json else None
    if errors:
        for e in errors[:30]:
            print(f"check_chapters: {e}")
        return 1
    print(f"check_chapters: {a.txt}: ok: {len(txt)} chapters"
          + (f", {a.json} agrees ({nj} chapters)" if a.json else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
