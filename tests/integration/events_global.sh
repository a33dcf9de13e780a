#!/usr/bin/env bash
# GET /v1/events, every job's events in one stream (docs/api.md "Events of
# every job"), and the stream tickets that let a browser's EventSource open
# it without an Authorization header: two tokens each see only their own
# jobs' events; Last-Event-ID resumes with exactly the events after it; a
# ticket opens one stream (the global one or a job's) once, and no other
# route; no token, no stream; and the dashboard in headless Chromium follows
# a job to its end over that stream. One server, four 3 s jobs: ~20 s.
. "$(dirname "$0")/../lib.sh"
A=hk-evA-0123456789abcdef0123
B=hk-evB-0123456789abcdef0123
CLIP=$DATA/sense_and_sensibility_01_austen_64kb-0880.wav # 3 s
HARK_LOG=info HARK_TOKENS="alice:normal:$A,bob:normal:$B" start_server "$T/s" --workers 1
check "server started" [ -n "${HARK_SERVER:-}" ]

ja=$(HARK_TOKEN=$A "$HARK" submit "$CLIP")
jb=$(HARK_TOKEN=$B "$HARK" submit "$CLIP")
HARK_TOKEN=$A wait_state "$ja" succeeded 60
check "alice's job succeeded" [ "$(HARK_TOKEN=$A job_field "$ja" state)" = succeeded ]
HARK_TOKEN=$B wait_state "$jb" succeeded 60
check "bob's job succeeded" [ "$(HARK_TOKEN=$B job_field "$jb" state)" = succeeded ]

# The stream never ends by itself: read what it replays within a second.
events() { curl -s -N --max-time 1 "$@" "$HARK_SERVER/v1/events" || true; }
jobs_in() { sed -n 's/^data: //p' "$1" | jq -r .job | sort -u | tr '\n' ' '; }
events -H "Authorization: Bearer $A" > "$T/a.now"
check "no since, no Last-Event-ID: from now on, no replay" [ -z "$(grep '^id:' "$T/a.now")" ]
events -H "Authorization: Bearer $A" -G -d since=0 > "$T/a"
events -H "Authorization: Bearer $B" -G -d since=0 > "$T/b"
check "alice's stream: her job's events only ($(jobs_in "$T/a"))" [ "$(jobs_in "$T/a")" = "$ja " ]
check "bob's stream: his job's events only ($(jobs_in "$T/b"))" [ "$(jobs_in "$T/b")" = "$jb " ]
check "alice's stream has her job's queued ... succeeded" \
  bash -c "grep -qx 'event: queued' '$T/a' && grep -qx 'event: succeeded' '$T/a'"
sed -n 's/^id: //p' "$T/a" > "$T/a.ids"
check "ids increase" bash -c "sort -n -c '$T/a.ids' && [ \$(sort -u '$T/a.ids' | wc -l) -eq \$(wc -l < '$T/a.ids') ]"
curl -s -H "Authorization: Bearer $A" "$HARK_SERVER/v1/jobs/$ja/events" | sed -n 's/^id: //p' > "$T/ja.ids"
check "the same events as the job's own stream" cmp -s "$T/a.ids" "$T/ja.ids"

# Resume: after the second event, exactly the rest.
second=$(sed -n 2p "$T/a.ids")
events -H "Authorization: Bearer $A" -H "Last-Event-ID: $second" | sed -n 's/^id: //p' > "$T/rest"
check "Last-Event-ID $second: exactly the events after it" cmp -s "$T/rest" <(sed -n '3,$p' "$T/a.ids")
events -H "Authorization: Bearer $A" -G -d "since=$second" | sed -n 's/^id: //p' > "$T/rest2"
check "?since= the same" cmp -s "$T/rest2" "$T/rest"
last=$(tail -n 1 "$T/a.ids")
events -H "Authorization: Bearer $A" -H "Last-Event-ID: $last" > "$T/none"
check "from the last id: nothing yet" [ -z "$(grep '^id:' "$T/none")" ]
events -H "Authorization: Bearer $A" -G -d "since=$((last + 1000000))" > "$T/future"
check "since past the newest id: from now on, no error" [ -z "$(grep '^id:' "$T/future")" ]
# bad_cursor WHAT URL [curl args]: 400 invalid_value naming WHAT.
bad_cursor() {
  local what=$1 url=$2; shift 2
  c=$(curl -s -o "$T/bad.json" -w '%{http_code}' -H "Authorization: Bearer $A" "$@" "$url")
  [ "$c" = 400 ] && jq -e --arg w "$what" '.error.code == "invalid_value" and
    .error.message == ($w + " must be an event id")' "$T/bad.json" > /dev/null
}
check "a bad Last-Event-ID: 400" bad_cursor Last-Event-ID "$HARK_SERVER/v1/events" -H "Last-Event-ID: x"
check "a bad since: 400" bad_cursor since "$HARK_SERVER/v1/events?since=-1"
check "a bad after on a job's stream: 400" bad_cursor after "$HARK_SERVER/v1/jobs/$ja/events?after=1x"
check "... and Last-Event-ID wins over it" \
  bad_cursor Last-Event-ID "$HARK_SERVER/v1/jobs/$ja/events?after=1" -H "Last-Event-ID: 1x"

# A new event while the stream is open arrives live: bob's job deleted,
# a third job submitted, on a stream resumed from bob's last id.
blast=$(sed -n 's/^id: //p' "$T/b" | tail -n 1)
curl -s -o /dev/null -X DELETE -H "Authorization: Bearer $B" "$HARK_SERVER/v1/jobs/$jb"
curl -s -N --max-time 30 -H "Authorization: Bearer $B" -H "Last-Event-ID: $blast" \
  "$HARK_SERVER/v1/events" > "$T/b2" &
reader=$!
sleep 0.3
jb2=$(HARK_TOKEN=$B "$HARK" submit "$CLIP")
for _ in $(seq 1 300); do grep -qx 'event: succeeded' "$T/b2" && break; sleep 0.05; done
kill $reader 2>/dev/null
wait $reader
check "resumed from the id of a deleted job's event: the new job's events, live, to its end" \
  bash -c "grep -qx 'event: succeeded' '$T/b2' && [ \"\$(sed -n 's/^data: //p' '$T/b2' | jq -r .job | sort -u)\" = '$jb2' ]"

# Tickets.
c=$(curl -s -o /dev/null -w '%{http_code}' "$HARK_SERVER/v1/events")
check "no token: 401 ($c)" [ "$c" = 401 ]
c=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$HARK_SERVER/v1/stream-tickets")
check "a ticket wants a token: 401 ($c)" [ "$c" = 401 ]
ticket() { curl -s -X POST -H "Authorization: Bearer $1" "$HARK_SERVER/v1/stream-tickets" | tee "$T/t.json" | jq -r .ticket; }
t=$(ticket "$A")
check "POST /v1/stream-tickets: a ticket good for 60 s" [ "$(jq .expires_in "$T/t.json")" = 60 ]
check "192 random bits, hex" bash -c "[[ '$t' =~ ^hst_[0-9a-f]{48}\$ ]]"
c=$(curl -s -o /dev/null -w '%{http_code}' "$HARK_SERVER/v1/jobs?ticket=$t")
check "the ticket on GET /v1/jobs: 401 ($c)" [ "$c" = 401 ]
c=$(curl -s -o /dev/null -w '%{http_code}' "$HARK_SERVER/v1/jobs/$ja?ticket=$t")
check "the ticket on GET /v1/jobs/{id}: 401 ($c)" [ "$c" = 401 ]
events -G -d "ticket=$t" -d since=0 > "$T/at"
check "the ticket opens /v1/events as alice" cmp -s <(sed -n 's/^id: //p' "$T/at") "$T/a.ids"
c=$(curl -s -o "$T/err" -w '%{http_code}' --max-time 1 "$HARK_SERVER/v1/events?ticket=$t")
check "the same ticket again: 401 ($c)" [ "$c" = 401 ]
check "invalid_ticket" [ "$(jq -r .error.code "$T/err")" = invalid_ticket ]
t=$(ticket "$A")
curl -s "$HARK_SERVER/v1/jobs/$ja/events?ticket=$t" | sed -n 's/^id: //p' > "$T/jat"
check "a ticket opens a job's event stream" cmp -s "$T/jat" "$T/ja.ids"
t=$(ticket "$B")
c=$(curl -s -o /dev/null -w '%{http_code}' "$HARK_SERVER/v1/jobs/$ja/events?ticket=$t")
check "bob's ticket on alice's job: 404 ($c)" [ "$c" = 404 ]
c=$(curl -s -o /dev/null -w '%{http_code}' "$HARK_SERVER/v1/events?ticket=hst_$(printf '0%.0s' $(seq 48))")
check "a made-up ticket: 401 ($c)" [ "$c" = 401 ]
# The dashboard in headless Chromium, signed in as alice: once its
# EventSource is open (a ticket, since the server has tokens) a new job of
# hers appears and reaches succeeded in the page, which lists the jobs only
# when the stream opens, when a new job is queued and when one starts (the
# 10 s poll is only for a stream that is down, the minute's reconcile does
# not come within this test).
if js_deps; then
  lists() { grep -c "method=GET path=/v1/jobs status=200 .*token=alice$" "$T/s.log"; }
  tickets() { grep -c 'path=/v1/stream-tickets status=201 .*token=alice$' "$T/s.log"; }
  t0=$(tickets)
  HARK_TOKEN=$A HARK_JOB_FILE=$T/page.job timeout 150 node "$JS/dashboard_live.mjs" \
    "$HARK_SERVER" "$T/page" > "$T/page.log" 2>&1 &
  page=$!
  for _ in $(seq 1 600); do [ -s "$T/page.status" ] && break; sleep 0.05; done
  check "the page went live ($(cat "$T/page.status" 2>/dev/null))" grep -q '^live' "$T/page.status"
  l0=$(lists)
  HARK_TOKEN=$A "$HARK" submit "$CLIP" > "$T/page.job"
  wait $page; rc=$?
  check "the page showed alice's new job succeeded (rc $rc, $(cat "$T/page.state" 2>/dev/null))" \
    [ $rc -eq 0 ] || cat "$T/page.console"
  check "the page's stream used a ticket" [ "$(tickets)" -gt "$t0" ]
  check "it listed the jobs at most 3 times meanwhile ($l0 then $(lists))" [ $(( $(lists) - l0 )) -le 3 ]
else
  not_ok "npm install (tests/js)"
fi
stop_server
finish
