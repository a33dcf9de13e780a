#!/usr/bin/python3
"""http_clients.py LIB BASE_URL OUTDIR transcribe FILE
http_clients.py LIB BASE_URL OUTDIR errors BODY OVER

OpenAI's transcription API on hark serve through Python's HTTP libraries as
a user would call it without an SDK (LIB: requests, httpx or aiohttp, the
Debian packages python3-requests, python3-httpx, python3-aiohttp; run with
/usr/bin/python3), each building the multipart body its own way. The cases
(all, or those $MATRIX_CASES names) and the files they write are those of
tests/js/openai_matrix.mjs: CASE.out
with what a call got, or CASE.err.json (the status, the body's "error"
object, the exception a failed call raised) for tests/integration/
client_matrix.sh to judge. stream=true is read with each library's own
streaming API and parsed as server-sent events by hand. Exits 0 once the
cases have run.

errors: $HARK_TOKEN is a valid token whose ceiling is below realtime; BODY
is over 64 KiB and under the server's --max-upload, OVER over it. Each error case is tried HARK_TRIES times (default 3): an answer
sent while the client still writes is a race the client may win or lose.
The first outcome without a status is kept (else the last); NAME.tries
lists them all.
"""
import asyncio
import json
import os
import sys

LIB, BASE, OUT, SET = sys.argv[1:5]
FILES = sys.argv[5:]
TOKEN = os.environ.get("HARK_TOKEN", "")
WRONG = "hk-wrong-000000000000000000"
TIMEOUT = 120  # seconds: generous, a loaded machine queues requests


class Reply:
    def __init__(self, status, body=b"", events=None):
        self.status, self.body, self.events = status, body, events


def sse_events(lines):
    """The JSON of each data: line of an event stream (text lines)."""
    events = []
    for line in lines:
        if line.startswith("data: "):
            events.append(json.loads(line[6:]))
    return events


def auth(token):
    return {"Authorization": "Bearer " + token} if token else {}


# ---- one function per library: post(path, fields, file, headers, stream) ----
# fields is a list of (name, value) pairs, names repeated for arrays.

def post_requests(path, fields, file, headers, stream):
    import requests
    with open(file, "rb") as f:
        r = requests.post(BASE + path, data=fields, headers=headers, stream=stream, timeout=TIMEOUT,
                          files={"file": (os.path.basename(file), f, "audio/wav")})
        if stream and r.status_code == 200:
            return Reply(r.status_code, events=sse_events(
                line.decode() for line in r.iter_lines()))
        return Reply(r.status_code, r.content)


def post_httpx(path, fields, file, headers, stream):
    import httpx
    data = {}
    for k, v in fields:
        data.setdefault(k, []).append(v)
    data = {k: v[0] if len(v) == 1 else v for k, v in data.items()}
    with open(file, "rb") as f, httpx.Client(timeout=TIMEOUT) as c:
        files = {"file": (os.path.basename(file), f, "audio/wav")}
        with c.stream("POST", BASE + path, data=data, files=files, headers=headers) as r:
            if stream and r.status_code == 200:
                return Reply(r.status_code, events=sse_events(r.iter_lines()))
            return Reply(r.status_code, r.read())


def post_aiohttp(path, fields, file, headers, stream):
    import aiohttp

    async def go():
        form = aiohttp.FormData()
        for k, v in fields:
            form.add_field(k, v)
        with open(file, "rb") as f:
            form.add_field("file", f, filename=os.path.basename(file), content_type="audio/wav")
            timeout = aiohttp.ClientTimeout(total=TIMEOUT)
            async with aiohttp.ClientSession(timeout=timeout) as s:
                async with s.post(BASE + path, data=form, headers=headers) as r:
                    if stream and r.status == 200:
                        lines = []
                        async for raw in r.content:  # one line at a time
                            lines.append(raw.decode().rstrip("\r\n"))
                        return Reply(r.status, events=sse_events(lines))
                    return Reply(r.status, await r.read())
    return asyncio.run(go())


POST = {"requests": post_requests, "httpx": post_httpx, "aiohttp": post_aiohttp}[LIB]
TRANSCRIBE = "/v1/audio/transcriptions"


def describe_exc(e):
    parts, c = [], e
    for _ in range(4):
        if c is None:
            break
        parts.append(f"{type(c).__module__}.{type(c).__name__}: {c}")
        c = c.__cause__ or c.__context__
    return " <- ".join(parts)


def outcome(path, fields, file, headers=None, stream=False):
    """(value written to .out or None, error description or None)"""
    try:
        r = POST(path, fields, file, headers or auth(TOKEN), stream)
    except Exception as e:  # noqa: BLE001 - what the library raised is the finding
        return None, {"status": None, "error": None, "exception": describe_exc(e)}
    if r.status == 200:
        return r, None
    try:
        err = json.loads(r.body).get("error")
    except ValueError:
        err = None
    return None, {"status": r.status, "error": err, "exception": None,
                  "body": r.body[:300].decode("latin1")}


def write(name, text):
    with open(os.path.join(OUT, name), "w") as f:
        f.write(text)


ONLY = os.environ.get("MATRIX_CASES", "").split()


def case(name, fields, file, get=lambda r: r.body.decode(), **kw):
    if ONLY and name not in ONLY:
        return
    r, err = outcome(TRANSCRIBE, fields, file, **kw)
    if err:
        write(name + ".err.json", json.dumps(err, indent=1))
    else:
        write(name + ".out", get(r))


def error_case(name, path, fields, file, headers):
    tries = int(os.environ.get("HARK_TRIES", "3"))
    kept, seen = None, []
    for _ in range(tries):
        r, err = outcome(path, fields, file, headers)
        err = err or {"status": 200, "error": None, "exception": "none (succeeded)"}
        seen.append(f"{err['status'] or '-'} {err['exception'] or 'answer'}")
        if kept is None or (kept["status"] is not None and err["status"] is None):
            kept = err
    write(name + ".err.json", json.dumps(kept, indent=1))
    write(name + ".tries", "\n".join(seen) + "\n")


if SET == "transcribe":
    f = FILES[0]
    w = [("model", "whisper-1")]
    vj = w + [("response_format", "verbose_json")]
    gran = "timestamp_granularities[]"
    case("json", w, f, get=lambda r: json.loads(r.body)["text"])
    case("text", w + [("response_format", "text")], f)
    case("srt", [("model", "pocketsphinx-en-us"), ("response_format", "srt")], f)
    case("vtt", w + [("response_format", "vtt")], f)
    case("segments", vj + [(gran, "segment")], f)
    case("words", vj + [(gran, "word")], f)
    case("both", vj + [(gran, "word"), (gran, "segment")], f)
    case("stream", w + [("stream", "true")], f, get=lambda r: json.dumps(r.events), stream=True)
    case("bad_model", [("model", "gpt-4o-transcribe")], f)
elif SET == "errors":
    body, over = FILES
    w = [("model", "whisper-1")]
    error_case("wrong_token", TRANSCRIBE, w, body, auth(WRONG))
    error_case("priority", TRANSCRIBE, w, body, {**auth(TOKEN), "X-Hark-Priority": "realtime"})
    error_case("unknown_route", "/v1/audio/nonexistent", w, body, auth(TOKEN))
    error_case("too_large", TRANSCRIBE, w, over, auth(TOKEN))
else:
    sys.exit(f"http_clients.py: unknown set '{SET}'")
