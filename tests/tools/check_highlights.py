#!/usr/bin/python3
"""check_highlights.py JSON TRUTH [--top 10] [--need 5] [--tolerance 3]

JSON: a NAME.highlights.json (issue 11):
  {"source": str, "duration": s,
   "highlights": [{"rank", "start", "end", "peak", "score", "reasons", "text"}],
   "dead_air": [{"start", "end"}]}
Schema rules: "source" a non-empty string; "duration" a number > 0; every
time a finite number (not a boolean) in [0, duration]; each highlight with
start <= peak <= end and start < end, an integer rank, a numeric score,
"reasons" a non-empty array of non-empty strings, "text" a string;
highlights in time order and not overlapping; ranks exactly 1..n; scores not
increasing with rank (rank 1 is the best); dead_air spans with start < end,
in time order, not overlapping.
TRUTH: tests/tools/make_vod.sh's truth.json ({"moments": [{"start", ...}],
"dead_air": {"start", "end"}}; a list of spans is taken too). Rules:
  - coverage: among the top --top highlights by rank, at least --need of
    the moments are covered; a clip covers a moment when
    clip.start <= moment.start + tolerance and clip.end >= moment.start
    (it contains the moment's start, or starts at most --tolerance after);
  - no highlight overlaps the truth's dead air by more than 1 s;
  - dead air reported: the reported spans together overlap at least half
    of each truth dead-air span.
Prints one summary line (covered k of n, which missed); exits 0 when all
hold, 1 naming each rule broken, 2 on a usage error or an unreadable file.
Python stdlib only.
"""
import argparse
import json
import math
import sys


def num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def load(path, what):
    try:
        with open(path, "rb") as f:
            return json.loads(f.read().decode("utf-8"))
    except OSError as e:
        print(f"check_highlights: {path}: cannot read {what}: {e.strerror}", file=sys.stderr)
        sys.exit(2)
    except (UnicodeDecodeError, ValueError) as e:
        print(f"check_highlights: {path}: json: {what} is not JSON: {e}")
        sys.exit(1)


def overlap(a0, a1, b0, b1):
    return max(0.0, min(a1, b1) - max(a0, b0))


def check_schema(doc, fail):
    """The highlights that passed the schema checks (dicts), and dead_air spans."""
    if not isinstance(doc, dict):
        fail("schema", "the top level is not an object")
        return [], []
    if not isinstance(doc.get("source"), str) or not doc["source"]:
        fail("schema", "\"source\" is missing or not a non-empty string")
    dur = doc.get("duration")
    if not num(dur) or dur <= 0:
        fail("schema", "\"duration\" is missing or not a number > 0")
        dur = None
    hs = doc.get("highlights")
    if not isinstance(hs, list):
        fail("schema", "\"highlights\" is missing or not an array")
        hs = []
    good = []
    for n, h in enumerate(hs):
        w = f"highlights[{n}]"
        if not isinstance(h, dict):
            fail("schema", f"{w} is not an object")
            continue
        ok = True
        for k in ("start", "end", "peak", "score"):
            if not num(h.get(k)):
                fail("schema", f"{w}.{k} is missing or not a number")
                ok = False
        r = h.get("rank")
        if not isinstance(r, int) or isinstance(r, bool):
            fail("schema", f"{w}.rank is missing or not an integer")
            ok = False
        rs = h.get("reasons")
        if not isinstance(rs, list) or not rs or not all(isinstance(x, str) and x.strip() for x in rs):
            fail("schema", f"{w}.reasons is not a non-empty array of non-empty strings")
        if not isinstance(h.get("text"), str):
            fail("schema", f"{w}.text is missing or not a string")
        if not ok:
            continue
        s, e, p = h["start"], h["end"], h["peak"]
        if not (s <= p <= e and s < e):
            fail("bounds", f"{w}: not start <= peak <= end with start < end ({s}, {p}, {e})")
        if s < 0 or (dur is not None and e > dur + 1e-6):
            fail("bounds", f"{w}: [{s}, {e}] is outside the recording [0, {dur}]")
        good.append(h)
    for a, b in zip(good, good[1:]):
        if b["start"] < a["start"]:
            fail("time order", f"highlight at {b['start']} s is listed after the one at {a['start']} s")
        elif b["start"] < a["end"] - 1e-6:
            fail("overlap", f"highlights [{a['start']}, {a['end']}] and [{b['start']}, {b['end']}] overlap")
    if len(good) == len(hs):
        ranks = sorted(h["rank"] for h in good)
        if ranks != list(range(1, len(good) + 1)):
            fail("ranks", f"ranks are {ranks}, not 1..{len(good)} each once")
        else:
            by_rank = sorted(good, key=lambda h: h["rank"])
            for a, b in zip(by_rank, by_rank[1:]):
                if b["score"] > a["score"]:
                    fail("ranks", f"rank {b['rank']} scores {b['score']}, more than rank {a['rank']}'s {a['score']}")
    da = doc.get("dead_air")
    spans = []
    if not isinstance(da, list):
        fail("schema", "\"dead_air\" is missing or not an array")
    else:
        for n, d in enumerate(da):
            if not isinstance(d, dict) or not num(d.get("start")) or not num(d.get("end")):
                fail("schema", f"dead_air[{n}] is not an object with numeric start and end")
                continue
            if not 0 <= d["start"] < d["end"] or (dur is not None and d["end"] > dur + 1e-6):
                fail("bounds", f"dead_air[{n}] [{d['start']}, {d['end']}] is not a span inside the recording")
            spans.append((d["start"], d["end"]))
        for a, b in zip(spans, spans[1:]):
            if b[0] < a[1]:
                fail("time order", f"dead_air spans {a} and {b} are out of order or overlap")
    return good, spans


def main():
    ap = argparse.ArgumentParser(description="Check a highlights.json against make_vod.sh's truth.json.")
    ap.add_argument("json")
    ap.add_argument("truth")
    ap.add_argument("--top", type=int, default=10, help="judge the best N by rank (default 10)")
    ap.add_argument("--need", type=int, default=5, help="moments that must be covered (default 5)")
    ap.add_argument("--tolerance", type=float, default=3.0, help="seconds (default 3)")
    a = ap.parse_args()
    errors = []

    def fail(rule, msg):
        errors.append(f"{a.json}: {rule}: {msg}")

    doc = load(a.json, "the highlights")
    truth = load(a.truth, "the truth")
    hs, spans = check_schema(doc, fail)
    try:
        moments = [(float(m["start"]), str(m.get("phrase", ""))) for m in truth["moments"]]
        td = truth["dead_air"]
        truth_dead = [(float(d["start"]), float(d["end"])) for d in (td if isinstance(td, list) else [td])]
    except (KeyError, TypeError, ValueError):
        print(f"check_highlights: {a.truth}: truth: not make_vod.sh's truth.json", file=sys.stderr)
        return 2

    top = sorted(hs, key=lambda h: h["rank"])[:a.top]
    covered, missed = [], []
    for t, phrase in moments:
        hit = [h for h in top if h["start"] <= t + a.tolerance and h["end"] >= t]
        (covered if hit else missed).append((t, phrase))
    if len(covered) < a.need:
        fail("coverage", f"the top {a.top} cover {len(covered)} of {len(moments)} moments, {a.need} needed")
    for h in hs:
        for d0, d1 in truth_dead:
            o = overlap(h["start"], h["end"], d0, d1)
            if o > 1.0:
                fail("dead air", f"highlight rank {h['rank']} [{h['start']}, {h['end']}] overlaps the dead air "
                     f"[{d0}, {d1}] by {o:.1f} s")
    found = []
    for d0, d1 in truth_dead:
        o = sum(overlap(s, e, d0, d1) for s, e in spans)
        found.append(o)
        if o < (d1 - d0) / 2:
            fail("dead air reported", f"the reported dead_air covers {o:.1f} s of the truth's [{d0}, {d1}], "
                 "less than half")

    miss = ", ".join(f"{t:.1f} s \"{p}\"" for t, p in missed) or "none"
    dead = ", ".join(f"{o:.1f} of {d1 - d0:.1f} s" for o, (d0, d1) in zip(found, truth_dead))
    print(f"check_highlights: {a.json}: covered {len(covered)} of {len(moments)} moments in the top {a.top} "
          f"(need {a.need}, tolerance {a.tolerance:g} s); missed: {miss}; dead air found: {dead}; "
          f"{len(hs)} highlights, {len(spans)} dead_air spans")
    for e in errors[:30]:
        print(f"check_highlights: {e}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
