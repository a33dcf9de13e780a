# Shared preamble of the corpus scripts (sourced): checks the one argument
# OUTDIR, finds the LibriVox speech clip, enters OUTDIR, and defines ff (a
# quiet ffmpeg) and bx (flags for bit-exact, repeatable output).
set -euo pipefail
if [ $# -ne 1 ]; then
    echo "usage: $0 OUTDIR" >&2
    exit 2
fi
out=$1
data=${HARK_TESTDATA:-/usr/share/pocketsphinx/test/data/librivox}
speech=$data/sense_and_sensibility_01_austen_64kb-0870.wav
[ -r "$speech" ] || { echo "$0: missing $speech (install pocketsphinx-testdata)" >&2; exit 1; }
mkdir -p "$out"
cd "$out"
ff() { ffmpeg -nostdin -hide_banner -loglevel error -y "$@"; }
# Bit-exact output so the corpus is the same on every run.
bx=(-fflags +bitexact -flags:v +bitexact -flags:a +bitexact -map_metadata -1)
