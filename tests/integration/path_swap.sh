#!/usr/bin/env bash
# What is checked is what is used (DESIGN.md invariant 10): a path job is
# checked against the server's roots at submit, and a worker opens the file
# later. A file swapped for a symlink to a file outside the root in between,
# or a directory on its way swapped for a symlink to a directory outside,
# must not lead the worker out: the job fails with a message naming the path
# and the cause, and the file outside is never read (it is a valid
# recording: had it been read, the job would succeed with its words).
. "$(dirname "$0")/../lib.sh"
w() { echo "$DATA/sense_and_sensibility_01_austen_64kb-$1.wav"; }
mkdir -p "$T/media/sub" "$T/outside/sub"
cp "$(w 0880)" "$T/outside/secret.wav"   # "he was not an ill disposed young man"
cp "$(w 0880)" "$T/outside/sub/b.wav"
cp "$(w 0930)" "$T/media/a.wav"          # "he might even have been made amiable himself"
cp "$(w 0930)" "$T/media/sub/b.wav"
cp "$(w 0930)" "$T/media/ok.wav"
sox $(for i in 1 2; do echo "$DATA"/*.wav; done) "$T/long.wav"   # ~50 s: keeps the worker busy

start_server "$T/s" --workers 1 --root "$T/media"
check "server starts" [ -n "${HARK_SERVER:-}" ]
code() { curl -s -o "$T/body" -w '%{http_code}' "$@"; }
# What a submit answers at once (docs/api.md): 403 for what the roots do
# not admit, 400 for a file that is not there.
refused() { # PATH STATUS CAUSE
  c=$(code -H 'Content-Type: application/json' -d "{\"path\": \"$1\"}" "$HARK_SERVER/v1/jobs")
  [ "$c" = "$2" ] && grep -q "$3" "$T/body"
}
mkfifo "$T/media/fifo"
ln -s ok.wav "$T/media/link-in.wav"
check "a relative path: 403" refused media/ok.wav 403 "not an absolute path"
check "a directory: 403" refused "$T/media/sub" 403 "not a regular file"
check "a FIFO: 403" refused "$T/media/fifo" 403 "not a regular file"
check "a symlink staying inside the root: 403" refused "$T/media/link-in.wav" 403 "a symbolic link"
check "a missing file: 400" refused "$T/media/missing.wav" 400 "not found"
submit_path() { # PATH: the job's id, or nothing
  c=$(code -H 'Content-Type: application/json' -d "{\"path\": \"$1\", \"priority\": \"low\"}" \
    "$HARK_SERVER/v1/jobs")
  [ "$c" = 201 ] && jq -r .id "$T/body"
}

# The only worker decodes a high job: low jobs wait in the queue (pausing
# them too), so the swaps below happen between the check and the open.
blocker=$("$HARK" submit --priority high "$T/long.wav")
check "a high job keeps the worker busy" wait_state "$blocker" running 60
a=$(submit_path "$T/media/a.wav")
check "a file under the root: 201" [ -n "$a" ]
b=$(submit_path "$T/media/sub/b.wav")
check "a file in a directory under the root: 201" [ -n "$b" ]
ok=$(submit_path "$T/media/ok.wav")
check "a file left alone: 201" [ -n "$ok" ]
for j in "$a" "$b"; do curl -s -o /dev/null -X POST "$HARK_SERVER/v1/jobs/$j/pause"; done
check "the swapped jobs were paused before any worker opened them" \
  [ "$(job_field "$a" state)/$(job_field "$b" state)/$(job_field "$a" chunks)" = paused/paused/null ]

rm "$T/media/a.wav" && ln -s "$T/outside/secret.wav" "$T/media/a.wav"
mv "$T/media/sub" "$T/media/sub.old" && ln -s "$T/outside/sub" "$T/media/sub"
# Submitting them now is refused at once, as before.
c=$(code -H 'Content-Type: application/json' -d "{\"path\": \"$T/media/a.wav\"}" "$HARK_SERVER/v1/jobs")
check "submit of the symlink now: 403" [ "$c" = 403 ]
check "... saying it is a symbolic link" grep -q "a.wav': a symbolic link" "$T/body"
c=$(code -H 'Content-Type: application/json' -d "{\"path\": \"$T/media/sub/b.wav\"}" "$HARK_SERVER/v1/jobs")
check "submit through the symlinked directory now: 403" [ "$c" = 403 ]

for j in "$a" "$b"; do curl -s -o /dev/null -X POST "$HARK_SERVER/v1/jobs/$j/resume"; done
curl -s -o /dev/null -X POST "$HARK_SERVER/v1/jobs/$blocker/cancel"
check "the file swapped for a symlink: the job fails" wait_state "$a" failed 60
check "... naming the path as submitted and the cause" \
  grep -q "cannot read '$T/media/a.wav': a symbolic link" <(job_field "$a" error)
check "the directory swapped for a symlink: the job fails" wait_state "$b" failed 60
check "... naming the path as submitted and the cause" \
  grep -q "cannot read '$T/media/sub/b.wav': a symbolic link" <(job_field "$b" error)
echo "     (errors: $(job_field "$a" error) | $(job_field "$b" error))"
check "a file under the root that stayed put is read" wait_state "$ok" succeeded 60
curl -s "$HARK_SERVER/v1/jobs/$ok/result?format=txt" > "$T/ok.txt"
check "... and transcribed" grep -q "amiable" "$T/ok.txt"
for j in "$a" "$b"; do
  c=$(code "$HARK_SERVER/v1/jobs/$j/result?format=txt")
  check "no transcript of the file outside ($j: $c)" [ "$c" = 409 ]
  check "... nor any of its words in the job" bash -c "! grep -q young '$T/body'"
done
stop_server
finish
