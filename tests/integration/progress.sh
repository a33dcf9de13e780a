#!/usr/bin/env bash
# Progress: a bar with percent and ETA when stderr is a terminal (a pty from
# script(1)), plain lines for long phases otherwise, nothing with -q.
. "$(dirname "$0")/../lib.sh"
clip=$DATA/sense_and_sensibility_01_austen_64kb-0870.wav
# ~40 s of speech, so the transcribing phase lasts long enough to draw.
sox "$DATA"/*.wav "$DATA"/*.wav "$T/rec.wav"

script -qec "'$HARK' transcribe -o '$T/tty' '$T/rec.wav'" /dev/null > "$T/tty.log" 2>&1
check "on a terminal: exit 0" [ $? -eq 0 ]
check "on a terminal: a bar with percent and ETA" grep -aqE '\[#*\.*\] +[0-9]+%  ETA [0-9]+:[0-9]{2}' "$T/tty.log"
check "on a terminal: redrawn in place (carriage returns)" grep -aq $'\r' "$T/tty.log"
check "on a terminal: reaches 100%" grep -aq '100%' "$T/tty.log"

"$HARK" transcribe -o "$T/plain" "$T/rec.wav" 2> "$T/plain.log"
check "not a terminal: no carriage returns" bash -c "! grep -aq $'\r' '$T/plain.log'"
check "not a terminal: a summary line with the output files" \
  grep -qE 'rec.wav: [0-9.]+ s of audio, [0-9]+ words in .* -> .*rec.txt .*rec.json' "$T/plain.log"

"$HARK" transcribe -q -o "$T/quiet" "$clip" 2> "$T/quiet.log"
check "-q: nothing on stderr" [ ! -s "$T/quiet.log" ]
finish
