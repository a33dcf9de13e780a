#!/usr/bin/env bash
# The front end people type stays small (src/main.c): `hark` links libcurl
# and jansson, never FFmpeg, PocketSphinx, SQLite or libmicrohttpd, which
# only hark-engine needs; a client command that reached into the job kinds
# or the store would pull them all in (150 libraries, 4x the start-up).
. "$(dirname "$0")/../lib.sh"
ldd "$HARK" > "$T/front.ldd"
ldd "$(dirname "$HARK")/hark-engine" > "$T/engine.ldd"
for lib in libavformat libavcodec libpocketsphinx libsqlite3 libmicrohttpd libebur128; do
  check "hark does not link $lib" eval "! grep -q '$lib' '$T/front.ldd'"
done
check "hark-engine does (the check sees what it looks for)" grep -q libpocketsphinx "$T/engine.ldd"
n=$(wc -l < "$T/front.ldd")
check "hark links few libraries ($n)" [ "$n" -le 60 ]
check "a client command still runs" eval '"$HARK" result --help > /dev/null'
finish
