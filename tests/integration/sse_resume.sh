#!/usr/bin/env bash
# An SSE client library nobody here wrote (the `eventsource` npm package)
# follows a job, disconnects mid-job, reconnects with Last-Event-ID and
# sees every event of the job exactly once, in order.
. "$(dirname "$0")/../lib.sh"
sox $(for i in 1 2 3; do echo "$DATA"/*.wav; done) "$T/mid.wav"   # ~75 s: a dozen chunks
js_deps || { echo "FAIL npm install"; exit 1; }
start_server "$T/s" --workers 1
job=$("$HARK" submit --priority low "$T/mid.wav")
node "$JS/sse_resume.mjs" "$HARK_SERVER" "$job" "$T/seen" 2> "$T/node.err"; rc=$?
check "eventsource client: followed the job to its end (rc $rc)" [ $rc -eq 0 ] || cat "$T/node.err"
check "it disconnected after a few chunks, while the job ran" \
  [ "$(sed -n '/reconnect/=' "$T/seen")" -ge 4 ]
grep -v reconnect "$T/seen" | jq -c '.[0]' > "$T/ids"
curl -s "$HARK_SERVER/v1/jobs/$job/events?after=0" | sed -n 's/^id: //p' > "$T/all"
check "every event exactly once: the same ids as a full replay" cmp -s "$T/ids" "$T/all"
check "in increasing order" bash -c "sort -n -c '$T/ids'"
check "no event twice" [ "$(sort -u "$T/ids" | wc -l)" -eq "$(wc -l < "$T/ids")" ]
check "the last is succeeded" [ "$(tail -n 1 "$T/seen" | jq -r '.[1]')" = succeeded ]
check "events arrived after the reconnect" [ "$(sed -n '/reconnect/,$p' "$T/seen" | wc -l)" -ge 3 ]
stop_server
finish
