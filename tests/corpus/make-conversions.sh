#!/usr/bin/env bash
# make-conversions.sh OUTDIR - the same LibriVox speech clip in many formats,
# for checking that every one decodes to the same 16 kHz mono audio.
# Deterministic (bit-exact encoders); prints nothing on success.
#
#   speech.flac speech.mp3 speech.opus (ogg) speech.m4a (aac) speech.ogg (vorbis)
#   speech-44k-stereo.wav speech-8k.wav speech-24bit.wav speech-float.wav
#   speech.mp4 (mpeg4 + aac) speech.mkv (h264 + flac ... see below) speech.webm (vp8 + opus)
. "$(dirname "$0")/common.sh"
src=$speech
has_encoder() { ffmpeg -hide_banner -encoders 2>/dev/null | awk '{print $2}' | grep -qx "$1"; }

ff -i "$src" "${bx[@]}" -c:a flac speech.flac
ff -i "$src" "${bx[@]}" -c:a libmp3lame -b:a 64k speech.mp3
ff -i "$src" "${bx[@]}" -c:a libopus -b:a 32k speech.opus
ff -i "$src" "${bx[@]}" -c:a aac -b:a 64k speech.m4a
if has_encoder libvorbis; then
    ff -i "$src" "${bx[@]}" -c:a libvorbis -q:a 4 speech.ogg
fi
ff -i "$src" "${bx[@]}" -ar 44100 -ac 2 -c:a pcm_s16le speech-44k-stereo.wav
ff -i "$src" "${bx[@]}" -ar 8000 -c:a pcm_s16le speech-8k.wav
ff -i "$src" "${bx[@]}" -c:a pcm_s24le speech-24bit.wav
ff -i "$src" "${bx[@]}" -c:a pcm_f32le speech-float.wav

video=(-f lavfi -i testsrc=size=160x120:rate=10)
ff "${video[@]}" -i "$src" "${bx[@]}" -map 0:v -map 1:a -shortest -c:v mpeg4 -q:v 5 \
    -c:a aac -b:a 64k speech.mp4
ff "${video[@]}" -i "$src" "${bx[@]}" -map 0:v -map 1:a -shortest -c:v mpeg4 -q:v 5 \
    -c:a libmp3lame -b:a 64k speech.mkv
if has_encoder libvpx; then
    ff "${video[@]}" -i "$src" "${bx[@]}" -map 0:v -map 1:a -shortest -c:v libvpx -b:v 100k \
        -deadline realtime -cpu-used 8 -c:a libopus -b:a 32k speech.webm
fi
