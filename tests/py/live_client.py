#!/usr/bin/env python3
"""A live dictation client for the tests and the latency benchmark.

    live_client.py SERVER FILE [--format s16le|webm|ogg|mp4] [--pace X]
                   [--piece-ms MS | --piece-bytes N] [--chunked] [--stop-after S]
                   [--no-end] [--token T] [--priority P] [--idle-timeout S]
                   [--result-format F] [--id JOB]

Streams FILE to hark's live API (docs/api.md, "Live dictation") the way a
push-to-talk client does: POST /v1/live, then the file in pieces of
--piece-ms of audio (s16le: 32 bytes a millisecond; a container: its
average byte rate over its duration, given by --duration-s) sent --pace
times faster than real time (0: as fast as possible), one POST each, or
with --chunked as one chunked request that streams at that pace; then
POST /end. Meanwhile a thread follows the job's event stream. Prints one
JSON object: the job id, the final text, what the events said (partials
and their times, the deltas concatenated), the time from the last audio to
the final text (end_ms), from the first audio to the first partial, the
HTTP statuses. Uses only Python's standard library (http.client), so what
it measures is hark, not a client library.
"""
import argparse
import http.client
import json
import sys
import threading
import time
import urllib.parse


def conn_for(url):
    u = urllib.parse.urlsplit(url)
    return http.client.HTTPConnection(u.hostname, u.port or 80, timeout=120)


def headers(args, extra=None):
    h = {"Content-Type": "application/octet-stream"}
    if args.token:
        h["Authorization"] = "Bearer " + args.token
    if extra:
        h.update(extra)
    return h


class Events(threading.Thread):
    """Follows /v1/jobs/ID/events; records (time, type, data) per event."""

    def __init__(self, args, job):
        super().__init__(daemon=True)
        self.args, self.job = args, job
        self.events = []
        self.ready = threading.Event()
        self.done = threading.Event()

    def run(self):
        c = conn_for(self.args.server)
        c.request("GET", "/v1/jobs/%s/events" % self.job, headers=headers(self.args))
        r = c.getresponse()
        self.ready.set()
        typ, data = None, []
        while True:
            line = r.fp.readline()
            if not line:
                break
            line = line.decode("utf-8").rstrip("\n")
            if line.startswith("event: "):
                typ = line[7:]
            elif line.startswith("data: "):
                data.append(line[6:])
            elif line == "" and typ:
                self.events.append((time.monotonic(), typ, json.loads("\n".join(data))))
                if typ in ("succeeded", "failed", "cancelled"):
                    break
                typ, data = None, []
        self.done.set()


def post(args, path, body=b"", extra=None):
    c = conn_for(args.server)
    c.request("POST", path, body=body, headers=headers(args, extra))
    r = c.getresponse()
    return r.status, r.read()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("server")
    p.add_argument("file")
    p.add_argument("--format", default="s16le")
    p.add_argument("--pace", type=float, default=1.0)
    p.add_argument("--piece-ms", type=float, default=100)
    p.add_argument("--piece-bytes", type=int, default=0)
    p.add_argument("--duration-s", type=float, default=0)
    p.add_argument("--chunked", action="store_true")
    p.add_argument("--stop-after", type=float, default=0, help="send only this many seconds")
    p.add_argument("--no-end", action="store_true")
    p.add_argument("--token", default="")
    p.add_argument("--priority", default="")
    p.add_argument("--idle-timeout", type=float, default=0)
    p.add_argument("--result-format", default="json")
    p.add_argument("--id", default="", help="append to this job instead of making one")
    args = p.parse_args()

    audio = open(args.file, "rb").read()
    if args.format == "s16le":
        rate = 32000.0
    else:
        if args.duration_s <= 0:
            sys.exit("live_client: --duration-s is needed for a container")
        rate = len(audio) / args.duration_s
    piece = args.piece_bytes or max(1, int(rate * args.piece_ms / 1000))
    if args.stop_after > 0:
        audio = audio[: int(rate * args.stop_after)]

    out = {"statuses": []}
    job = args.id
    if not job:
        spec = {"format": args.format}
        if args.priority:
            spec["priority"] = args.priority
        if args.idle_timeout:
            spec["idle_timeout"] = args.idle_timeout
        st, body = post(args, "/v1/live", json.dumps(spec).encode(),
                        {"Content-Type": "application/json"})
        out["create_status"] = st
        if st != 201:
            out["error"] = body.decode("utf-8", "replace")
            print(json.dumps(out))
            return 1
        job = json.loads(body)["id"]
    out["id"] = job
    ev = Events(args, job)
    ev.start()
    ev.ready.wait(10)

    t_first = time.monotonic()
    pieces = [audio[i:i + piece] for i in range(0, len(audio), piece)]
    gap = (piece / rate) / args.pace if args.pace > 0 else 0
    if args.chunked:
        def gen():
            t = time.monotonic()
            for k, b in enumerate(pieces):
                wait = t + k * gap - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                yield b
        c = conn_for(args.server)
        c.request("POST", "/v1/live/%s/audio" % job, body=gen(), headers=headers(args),
                  encode_chunked=True)
        r = c.getresponse()
        r.read()
        out["statuses"].append(r.status)
    else:
        t = time.monotonic()
        for k, b in enumerate(pieces):
            wait = t + k * gap - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            st, body = post(args, "/v1/live/%s/audio" % job, b)
            out["statuses"].append(st)
            if st != 200:
                out["append_error"] = body.decode("utf-8", "replace")
                break
    t_last = time.monotonic()
    # Events seen before the end was asked: what a speaker sees while speaking.
    before = [e for e in ev.events if e[0] <= t_last]
    out["partials_before_end"] = sum(1 for e in before if e[1] == "transcript.partial")
    if not args.no_end:
        st, body = post(args, "/v1/live/%s/end?format=%s" % (job, args.result_format))
        t_end = time.monotonic()
        out["end_status"] = st
        out["end_ms"] = round((t_end - t_last) * 1000, 1)
        text = body.decode("utf-8", "replace")
        if st == 200 and args.result_format == "json":
            out["text"] = json.loads(text).get("text", "")
        else:
            out["text"] = text
        ev.done.wait(10)
    partials = [e for e in ev.events if e[1] == "transcript.partial"]
    if partials:
        out["first_partial_s"] = round(partials[0][0] - t_first, 3)
        # Longest stretch without a partial while audio was arriving.
        ts = [t_first] + [e[0] for e in partials if e[0] <= t_last]
        out["max_partial_gap_s"] = round(max(b - a for a, b in zip(ts, ts[1:])) if len(ts) > 1 else 0, 3)
    out["partials"] = len(partials)
    out["deltas"] = "".join(e[2].get("delta", "") for e in ev.events
                            if e[1] == "transcript.text.delta")
    out["event_types"] = sorted(set(e[1] for e in ev.events))
    out["chunks_committed"] = [e[2].get("chunk") for e in ev.events if e[1] == "chunk_committed"]
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
