#!/usr/bin/env bash
# `hark serve --config FILE` with the example of docs/config.md, taken from
# the doc itself (so the doc cannot rot): only its port, its paths (moved
# under the test's directory) and a few limits (made small enough to reach)
# are changed. The example uses every top-level key and three tokens; each
# is checked to take effect on the real daemon. Then what operators scrape:
# /metrics passes `promtool check metrics` and shows process metrics, the
# build and the bytes of uploads.
. "$(dirname "$0")/../lib.sh"
DOC=$HARK_SOURCE_DIR/docs/config.md
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY

# ---- the example, from the doc ----
awk '/^## Example/ { ex = 1 } ex && /^```ini$/ { on = 1; next } on && /^```$/ { exit } on' \
  "$DOC" > "$T/example.conf"
check "the doc has an example" [ -s "$T/example.conf" ]
# Every top-level key of the doc's table is in the example.
keys=$(sed -n '/^## Top-level settings/,/^## /p' "$DOC" | grep -o '^| `[a-z_.]*`\( *, *`[a-z_.]*`\)*' |
  grep -o '`[a-z_.]*`' | tr -d '`')
missing=
for k in $keys; do grep -q "^$k = " "$T/example.conf" || missing="$missing $k"; done
check "the example uses every top-level key ($(echo $keys | wc -w) keys; missing:${missing:- none})" \
  [ -z "$missing" -a "$(echo $keys | wc -w)" -ge 16 ]
check "the example has token sections" [ "$(grep -c '^\[token ' "$T/example.conf")" -ge 3 ]

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# set KEY VALUE: change one setting of the example (it must be there).
set_key() {
  grep -q "^$1 = " "$T/serve.conf" || { not_ok "example has no $1"; return; }
  sed -i "s|^$1 = .*|$1 = $2|" "$T/serve.conf"
}
# Absolute paths move under $T; the rest as the doc says.
sed -e "s#^\(state_dir\|root\|store\|shared_dir\) = /#\1 = $T/#" "$T/example.conf" > "$T/serve.conf"
set_key listen "127.0.0.1:$PORT"
set_key workers 2
set_key max_upload 200K              # the 3 s and 5 s clips fit, the 7 s one does not
set_key max_duration 4               # the 5 s clip is too long
for c in realtime high normal low; do set_key "queue_limit.$c" 1; done
set_key url_max_bytes 1K
set_key url_timeout 1
# The test's own URL server and webhook receiver are on loopback: one
# more url_allow entry (repeatable) lets the daemon reach them.
sed -i '0,/^url_allow = /s//url_allow = 127.0.0.1\nurl_allow = /' "$T/serve.conf"
chmod 600 "$T/serve.conf"
state=$(sed -n 's/^state_dir = //p' "$T/serve.conf")
roots=$(sed -n 's/^root = //p' "$T/serve.conf")
for r in $roots; do mkdir -p "$r"; done
root2=$(echo "$roots" | tail -n 1)
cp "$DATA/sense_and_sensibility_01_austen_64kb-0880.wav" "$root2/short.wav"   # 3.0 s, 96 KB
cp "$DATA/sense_and_sensibility_01_austen_64kb-0890.wav" "$T/five.wav"       # 5.3 s, 170 KB
cp "$DATA/sense_and_sensibility_01_austen_64kb-0870.wav" "$T/seven.wav"      # 7.1 s, 227 KB
tok() { sed -n "/^\[token $1\]/,/^\[/s/^secret = //p" "$T/serve.conf"; }
CI=$(tok ci); DICT=$(tok dictation); BATCH=$(tok batch)
check "three secrets from the example" [ -n "$CI" -a -n "$DICT" -a -n "$BATCH" ]

# URL inputs: a file over url_max_bytes, and a server that never answers.
python3 - "$T/urls.port" > "$T/urls.log" 2>&1 <<'PY' &
import http.server, sys, time
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/hang":
            time.sleep(30)
            return
        body = b"x" * 4096
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
s.daemon_threads = True
open(sys.argv[1] + ".tmp", "w").write(str(s.server_address[1]))
import os; os.rename(sys.argv[1] + ".tmp", sys.argv[1])
s.serve_forever()
PY
URL_PID=$!
trap 'kill $URL_PID 2>/dev/null; [ -n "${SERVER_PID:-}" ] && kill $SERVER_PID 2>/dev/null; rm -rf "$T"' EXIT

# ---- start it: nothing on the command line but the file ----
HARK_LOG=info "$HARK" serve --config "$T/serve.conf" > "$T/d.log" 2>&1 &
SERVER_PID=$!
HARK_SERVER=http://127.0.0.1:$PORT
up=no
for _ in $(seq 1 400); do
  curl -sf "$HARK_SERVER/healthz" > /dev/null 2>&1 && { up=yes; break; }
  kill -0 $SERVER_PID 2>/dev/null || break
  sleep 0.05
done
check "listen: serves on the configured port $PORT" [ $up = yes ]
[ $up = yes ] || { cat "$T/d.log"; finish; exit 1; }
check "state_dir: the store is in the configured directory" [ -f "$state/hark.db" ]
check "state_dir: said at start" grep -q "state $state," "$T/d.log"
store=$(sed -n 's/^store = //p' "$T/serve.conf")
shared=$(sed -n 's/^shared_dir = //p' "$T/serve.conf")
check "store: the store is the configured file" [ -f "$store" ]
check "shared_dir: uploads, work and artifacts are there" \
  [ -d "$shared/uploads" -a -d "$shared/artifacts" -a ! -d "$state/uploads" ]
check "node: said at start" grep -q "^hark: node asr-1 (incarnation asr-1-[0-9]*-[0-9a-f]*), store $store, files in $shared$" "$T/d.log"
check "workers: 2 worker processes" [ "$(pgrep -P $SERVER_PID | wc -l)" = 2 ]
check "workers: said at start" grep -q ", 2 workers" "$T/d.log"
for _ in $(seq 1 600); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' "$HARK_SERVER/readyz")" = 200 ] && break
  sleep 0.1
done
PORT_URL=$(cat "$T/urls.port" 2>/dev/null)

code() { curl -s -o "$T/body" -D "$T/headers" -w '%{http_code}' "$@"; }
A_CI=(-H "Authorization: Bearer $CI")
A_DICT=(-H "Authorization: Bearer $DICT")
A_BATCH=(-H "Authorization: Bearer $BATCH")
json() { code "${A_DICT[@]}" -H 'Content-Type: application/json' -d "$1" "$HARK_SERVER/v1/jobs"; }
wait_end() { # ID: its final state, bounded (60 s)
  local s
  for _ in $(seq 1 1200); do
    s=$(curl -s "${A_DICT[@]}" "$HARK_SERVER/v1/jobs/$1" | jq -r .state)
    case $s in succeeded|failed|cancelled) echo "$s"; return;; esac
    sleep 0.05
  done
  echo "$s"
}
err_of() { curl -s "${A_DICT[@]}" "$HARK_SERVER/v1/jobs/$1" | jq -r .error; }

# ---- tokens ----
c=$(code "$HARK_SERVER/v1/jobs")
check "tokens: none given: 401" [ "$c" = 401 ]
c=$(code "${A_CI[@]}" "$HARK_SERVER/v1/jobs")
check "tokens: [token ci]: 200" [ "$c" = 200 ]
c=$(code "${A_BATCH[@]}" -H 'Content-Type: application/json' \
  -d "{\"path\": \"$root2/short.wav\", \"priority\": \"high\"}" "$HARK_SERVER/v1/jobs")
check "tokens: batch's max_priority defaults to normal: high is 403" [ "$c" = 403 ]
c=$(code "${A_CI[@]}" -H 'Content-Type: application/json' \
  -d "{\"path\": \"$root2/short.wav\", \"priority\": \"realtime\"}" "$HARK_SERVER/v1/jobs")
check "tokens: ci's max_priority high: realtime is 403" [ "$c" = 403 ]

# ---- root, timeout, webhook_secret: a path job with a callback ----
c=$(json "{\"path\": \"$root2/short.wav\", \"callback_url\": \"http://127.0.0.1:9/hook\"}")
job=$(jq -r .id "$T/body")
check "root: a path under the second root: 201 ($c $(jq -c .error "$T/body"))" [ "$c" = 201 ]
check "webhook_secret: a callback_url is accepted" [ "$(jq -r .webhook.url "$T/body")" = "http://127.0.0.1:9/hook" ]
check "timeout: the job's timeout is the configured 600 s" [ "$(jq -r .timeout "$T/body")" = 600 ]
c=$(json "{\"path\": \"$T/five.wav\"}")
check "root: a path outside the roots: 403 ($c)" [ "$c" = 403 ]
check "root: the path job succeeds" [ "$(wait_end "$job")" = succeeded ]

# ---- max_upload, max_duration ----
c=$(code "${A_DICT[@]}" -F file=@"$T/seven.wav" "$HARK_SERVER/v1/jobs")
check "max_upload 200K: a 227 KB upload is 413 ($c)" [ "$c" = 413 ]
c=$(code "${A_DICT[@]}" -F file=@"$T/five.wav" "$HARK_SERVER/v1/jobs")
five=$(jq -r .id "$T/body")
check "max_upload: a 170 KB upload is 201 ($c)" [ "$c" = 201 ]
check "max_duration 4: the 5.3 s upload fails" [ "$(wait_end "$five")" = failed ]
check "max_duration: its error says so" bash -c "[[ '$(err_of "$five")' == *'longer than the maximum of 4 s'* ]]"

# ---- max_body (64K in the example) ----
big=$(printf '%070000d' 0)
c=$(json "{\"path\": \"$root2/short.wav\", \"x\": \"$big\"}")
check "max_body 64K: a 70 KB JSON body is 413 ($c)" [ "$c" = 413 ]

# ---- queue_limit.*: one active job per class, the next is 429 ----
for p in realtime high normal low; do
  c=$(json "{\"path\": \"$root2/short.wav\", \"priority\": \"$p\"}")
  id=$(jq -r .id "$T/body")
  code "${A_DICT[@]}" -X POST "$HARK_SERVER/v1/jobs/$id/pause" > /dev/null
  c2=$(json "{\"path\": \"$root2/short.wav\", \"priority\": \"$p\"}")
  check "queue_limit.$p 1: a second active $p job is 429 ($c then $c2)" [ "$c" = 201 -a "$c2" = 429 ]
  code "${A_DICT[@]}" -X POST "$HARK_SERVER/v1/jobs/$id/cancel" > /dev/null
done

# ---- url_max_bytes, url_timeout ----
# (one class each: the queue limits above are 1)
c=$(json "{\"url\": \"http://127.0.0.1:$PORT_URL/big.wav\", \"priority\": \"low\"}")
big_job=$(jq -r .id "$T/body")
c2=$(json "{\"url\": \"http://127.0.0.1:$PORT_URL/hang\", \"priority\": \"high\"}")
hang_job=$(jq -r .id "$T/body")
check "url: both submitted ($c, $c2)" [ "$c" = 201 -a "$c2" = 201 ]
check "url_max_bytes 1K: a 4 KB download fails" [ "$(wait_end "$big_job")" = failed ]
check "url_max_bytes: its error names the cap" bash -c "[[ '$(err_of "$big_job")' == *'1024 bytes'* ]]"
st=$(wait_end "$hang_job")
check "url_timeout 1: a server that never answers fails the job ($st)" [ "$st" = failed ]
check "url_timeout: its error names the limit of 1 s ($(err_of "$hang_job"))" \
  bash -c "[[ '$(err_of "$hang_job")' == *'time limit of 1 s'* ]]"

# ---- metrics: promtool, process metrics, build, upload bytes ----
# They count every token's jobs: the example's admin token (ops) reads them.
OPS=$(tok ops)
c=$(code "${A_CI[@]}" "$HARK_SERVER/metrics")
check "metrics: a token that is not an admin gets 403 ($c)" [ "$c" = 403 ]
code -H "Authorization: Bearer $OPS" "$HARK_SERVER/metrics" > /dev/null
m() { grep -E "^$1 " "$T/body" | awk '{print $2}'; }
if command -v promtool > /dev/null; then
  promtool check metrics < "$T/body" > "$T/promtool.out" 2>&1; rc=$?
  check "promtool check metrics: clean (exit $rc)" [ $rc -eq 0 -a ! -s "$T/promtool.out" ]
  [ -s "$T/promtool.out" ] && cat "$T/promtool.out"
else
  echo "skip promtool check metrics: promtool is missing (Debian's prometheus package; scripts/install-deps.sh installs it)"
fi
uploaded=$(( $(stat -c %s "$T/five.wav") ))
check "hark_upload_bytes_total counts the stored upload ($(m hark_upload_bytes_total) >= $uploaded)" \
  awk -v a="$(m hark_upload_bytes_total)" -v b=$uploaded 'BEGIN { exit !(a >= b) }'
check "process_resident_memory_bytes" awk -v a="$(m process_resident_memory_bytes)" 'BEGIN { exit !(a > 1000000) }'
check "process_cpu_seconds_total" awk -v a="$(m process_cpu_seconds_total)" 'BEGIN { exit !(a > 0) }'
check "process_open_fds" awk -v a="$(m process_open_fds)" 'BEGIN { exit !(a >= 5) }'
check "process_start_time_seconds" awk -v a="$(m process_start_time_seconds)" -v now="$(date +%s)" \
  'BEGIN { exit !(a > now - 3600 && a <= now) }'
check "hark_node_info names the node" grep -q '^hark_node_info{node="asr-1",incarnation="asr-1-[0-9]*-[0-9a-f]*"} 1$' "$T/body"
check "hark_build_info names the version" \
  grep -q "^hark_build_info{version=\"$("$HARK" --version | awk '{print $2}')\"} 1$" "$T/body"

# ---- log_format json ----
stop_server; rc=$?
check "SIGTERM: exit 0 ($rc)" [ $rc -eq 0 ]
grep '^{' "$T/d.log" > "$T/log.json"
check "log_format json: JSON log lines" [ "$(wc -l < "$T/log.json")" -ge 5 ]
check "log_format json: every one parses" bash -c "jq -e -s 'length > 0' '$T/log.json' > /dev/null"
check "log_format json: no text log lines" bash -c "! grep -q '^hark: \(info\|warn\|error\):' '$T/d.log'"
check "no secret in the logs" bash -c "! grep -q -e '$CI' -e '$DICT' -e '$BATCH' '$T/d.log'"
finish
