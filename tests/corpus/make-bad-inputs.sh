#!/usr/bin/env bash
# make-bad-inputs.sh OUTDIR - generate bad and edge-case media inputs for the
# decoder's tests and the fuzzer's seed corpus. Deterministic (fixed seeds,
# bit-exact encoders) and fast (a few seconds). Prints nothing on success.
#
#   empty.wav             0 bytes                               -> "empty file"
#   random.bin/.mp3       random bytes                          -> not media / no decodable audio
#   text.txt              a text file                           -> not media
#   adir/                 a directory                           -> "is a directory"
#   truncated.wav         wav cut to 40%, header says more      -> truncated
#   truncated.mp3         lame mp3 (Xing/Info header) cut to 40% -> truncated
#   truncated.mp4         mp4 (moov at the end) cut to 40%      -> no moov: not readable
#   truncated-faststart.mp4  moov first, cut to 40%             -> truncated
#   silent-video.mp4      video track, no audio                 -> "no audio stream"
#   header-only.wav       a wav header with no samples          -> no decodable audio
#   zero-channels.wav     header claims 0 channels              -> error
#   absurd-rate.wav       header claims a 4 GHz sample rate     -> error
#   huge-channels.wav     header claims 65535 channels          -> error
#   playlist.m3u8         HLS playlist naming a local wav       -> refused (no nested opens)
#   list.ffconcat         concat list naming a local wav        -> refused (no nested opens)
#   corrupt-middle.mp3    valid mp3 with garbage in the middle  -> OK, decode_errors > 0
#   silence.wav           10 s of digital silence (valid)       -> OK, all zeros
#   long.flac             120 s of low noise (valid)            -> ETOOLONG with a 60 s max
#   multichannel.mp4      aac 8 channels 96 kHz (valid)         -> OK
#   multichannel.mov      pcm_f32le 8 channels 96 kHz, 1.5 s   -> OK
. "$(dirname "$0")/common.sh"

# Cut a file to a percentage of its bytes.
cut_to() { # src dst percent
    local size
    size=$(stat -c %s "$1")
    head -c $((size * $3 / 100)) "$1" >"$2"
}

# Little-endian integers as printf escapes.
le32() { printf '\\x%02x\\x%02x\\x%02x\\x%02x' $(($1 & 255)) $((($1 >> 8) & 255)) \
    $((($1 >> 16) & 255)) $((($1 >> 24) & 255)); }
le16() { printf '\\x%02x\\x%02x' $(($1 & 255)) $((($1 >> 8) & 255)); }
# A 44-byte canonical WAV header: format channels rate bits data_bytes.
wav_header() {
    local fmt=$1 ch=$2 rate=$3 bits=$4 n=$5
    local align=$((ch * bits / 8))
    printf '%b' "RIFF$(le32 $((36 + n)))WAVEfmt $(le32 16)$(le16 "$fmt")$(le16 "$ch")"
    printf '%b' "$(le32 "$rate")$(le32 $(((rate * align) & 0xffffffff)))$(le16 $((align & 0xffff)))"
    printf '%b' "$(le16 "$bits")data$(le32 "$n")"
}
# n deterministic pseudo-random bytes (sox's repeatable noise, -R).
random_bytes() {
    sox -q -D -R -r 8000 -n -r 8000 -c 1 -b 8 -e unsigned-integer -t raw - synth "${1}s" whitenoise
}

: >empty.wav
random_bytes 65536 >random.bin
random_bytes 32000 >random.mp3
printf 'This is not audio.\nJust some text that a user fed to hark by mistake.\n' >text.txt
mkdir -p adir

# Truncated WAV: the header's data size says 7.1 s, 40% of the bytes are there.
cut_to "$speech" truncated.wav 40

# A longer speech file (three clips) for the compressed truncations.
sox "$data"/sense_and_sensibility_01_austen_64kb-08{70,80,90}.wav speech3.wav
ff -i speech3.wav "${bx[@]}" -c:a libmp3lame -b:a 64k full.mp3
cut_to full.mp3 truncated.mp3 40
# corrupt-middle.mp3: 2 KiB of noise over the middle of a valid mp3.
cp full.mp3 corrupt-middle.mp3
size=$(stat -c %s full.mp3)
random_bytes 2048 | dd of=corrupt-middle.mp3 bs=1 seek=$((size / 2)) conv=notrunc status=none
rm -f full.mp3

video=(-f lavfi -i testsrc=size=160x120:rate=10)
ff "${video[@]}" -i speech3.wav "${bx[@]}" -shortest -c:v mpeg4 -q:v 5 -c:a aac -b:a 64k full.mp4
cut_to full.mp4 truncated.mp4 40
ff "${video[@]}" -i speech3.wav "${bx[@]}" -shortest -c:v mpeg4 -q:v 5 -c:a aac -b:a 64k \
    -movflags +faststart full-fs.mp4
cut_to full-fs.mp4 truncated-faststart.mp4 40
rm -f full.mp4 full-fs.mp4 speech3.wav
ff "${video[@]}" "${bx[@]}" -t 3 -c:v mpeg4 -q:v 5 silent-video.mp4

# Hostile WAV headers (written by hand, with 1 s of random bytes as data).
{ wav_header 1 1 16000 16 0; } >header-only.wav
{ wav_header 1 0 16000 16 32000; random_bytes 32000; } >zero-channels.wav
{ wav_header 1 1 4000000000 16 32000; random_bytes 32000; } >absurd-rate.wav
{ wav_header 1 65535 16000 16 32000; random_bytes 32000; } >huge-channels.wav

# Containers that point at other files: the decoder must not follow them.
printf '#EXTM3U\n#EXT-X-TARGETDURATION:8\n#EXTINF:7.1,\n%s\n#EXT-X-ENDLIST\n' "$speech" >playlist.m3u8
printf 'ffconcat version 1.0\nfile silence.wav\n' >list.ffconcat

# Valid edge cases.
sox -D -r 16000 -n -r 16000 -c 1 -b 16 silence.wav trim 0 10
sox -R -r 16000 -n -r 16000 -c 1 -b 16 long.flac synth 120 whitenoise vol 0.01
ff -i "$speech" "${bx[@]}" -af "aresample=96000,pan=7.1|FL=c0|FR=c0|FC=c0|LFE=c0|BL=c0|BR=c0|SL=c0|SR=c0" \
    -c:a aac -b:a 256k multichannel.mp4
ff -i "$speech" "${bx[@]}" -af "aresample=96000,pan=7.1|FL=c0|FR=c0|FC=c0|LFE=c0|BL=c0|BR=c0|SL=c0|SR=c0" \
    -t 1.5 -c:a pcm_f32le multichannel.mov
