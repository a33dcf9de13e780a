#!/usr/bin/env bash
# make-live-streams.sh OUTDIR - the LibriVox speech clip as the live streams
# a browser's MediaRecorder sends (src/media/live_input.h), made with ffmpeg:
#
#   speech.webm        Opus in WebM written to a pipe: Segment and Clusters of
#                      unknown size, as MediaRecorder writes them
#   speech-sized.webm  the same written to a file (sizes filled in, Cues)
#   speech.ogg         Opus in Ogg, ffmpeg's default pages of up to 1 s
#   speech-p100.ogg    Opus in Ogg, pages of 100 ms (as Firefox flushes them)
#   speech-aac.mp4     AAC in fragmented MP4, -movflags frag_keyframe+empty_moov
#   speech-opus.mp4    +default_base_moof: audio has no keyframe cuts, so one fragment
#   speech-aac-f100.mp4, speech-opus-f100.mp4: the same with 100 ms fragments
#                      (-frag_duration), as Safari's MediaRecorder cuts them
#   speech-vorbis.webm Vorbis in WebM
#   speech-video.webm  VP8 video and Opus audio (a camera recording)
#   video-only.webm    VP8 alone
#   speech-mp3.mkv     MP3 in Matroska (a codec live input does not take)
#   speech.s16le       the clip as raw s16le 16 kHz mono
. "$(dirname "$0")/common.sh"
src=$speech
frag=(-movflags frag_keyframe+empty_moov+default_base_moof)
opus=(-c:a libopus -b:a 32k)

ff -i "$src" "${bx[@]}" "${opus[@]}" -f webm pipe:1 > speech.webm
ff -i "$src" "${bx[@]}" "${opus[@]}" speech-sized.webm
ff -i "$src" "${bx[@]}" "${opus[@]}" speech.ogg
ff -i "$src" "${bx[@]}" "${opus[@]}" -page_duration 100000 speech-p100.ogg
ff -i "$src" "${bx[@]}" -c:a aac -b:a 64k "${frag[@]}" speech-aac.mp4
ff -i "$src" "${bx[@]}" "${opus[@]}" "${frag[@]}" speech-opus.mp4
ff -i "$src" "${bx[@]}" -c:a aac -b:a 64k "${frag[@]}" -frag_duration 100000 speech-aac-f100.mp4
ff -i "$src" "${bx[@]}" "${opus[@]}" "${frag[@]}" -frag_duration 100000 speech-opus-f100.mp4
ff -i "$src" "${bx[@]}" -c:a libvorbis -q:a 2 -f webm pipe:1 > speech-vorbis.webm
video=(-f lavfi -i testsrc=size=160x120:rate=10)
ff "${video[@]}" -i "$src" "${bx[@]}" -map 0:v -map 1:a -shortest -c:v libvpx -b:v 100k \
    -deadline realtime -cpu-used 8 "${opus[@]}" -f webm pipe:1 > speech-video.webm
ff "${video[@]}" "${bx[@]}" -t 2 -c:v libvpx -b:v 100k -deadline realtime -cpu-used 8 \
    -f webm pipe:1 > video-only.webm
ff -i "$src" "${bx[@]}" -c:a libmp3lame -b:a 32k -f matroska pipe:1 > speech-mp3.mkv
ff -i "$src" "${bx[@]}" -f s16le -ac 1 -ar 16000 speech.s16le
