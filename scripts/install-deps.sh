#!/usr/bin/env bash
# Install what hark needs to build, test and benchmark, from Debian 12's
# packages. Idempotent and fast: when everything is present it only asks
# dpkg and exits. Needs root (or sudo) only when something is missing.
set -euo pipefail

PACKAGES=(
  # build
  build-essential cmake pkg-config clang libclang-rt-14-dev clang-format
  # loudness (EBU R 128) for highlights
  libebur128-dev
  # recognizer, model, and the LibriVox test clips with their transcripts
  libpocketsphinx-dev libsphinxbase-dev pocketsphinx-en-us pocketsphinx pocketsphinx-testdata
  # media decode and resample; capture devices (PulseAudio, ALSA) for `hark dictate`
  libavformat-dev libavcodec-dev libswresample-dev libavutil-dev libavdevice-dev
  # JSON, the job store, the HTTP server and client; libcrypto (SHA-256 for
  # API tokens, HMAC-SHA256 for webhook signatures)
  libjansson-dev libsqlite3-dev libmicrohttpd-dev libcurl4-openssl-dev curl libssl-dev
  # the PostgreSQL store: libpq to build, a real server (initdb, pg_ctl) for
  # its tests (tests/pg_fixture.sh)
  libpq-dev postgresql-15
  # test fixtures and tools: media conversion, synthetic audio, JSON checks,
  # peak memory, leak checks; promtool (checks the /metrics page)
  ffmpeg sox jq time valgrind sqlite3 prometheus
  # the highlights tests' recording generator (tests/tools/make_vod.sh): the
  # excited phrases planted over the narration
  espeak-ng
  # the commands of the docs (tests/integration/doc_commands.sh): openssl
  # checks a webhook signature, unshare (util-linux) and ip (iproute2) give
  # the README's daemon a network of its own
  openssl util-linux iproute2
  # real clients of the API in tests/integration/client_matrix.sh: Python's
  # HTTP libraries (run with /usr/bin/python3), and Chromium for fetch +
  # FormData in a browser (driven by puppeteer-core from npm, tests/js)
  python3 python3-requests python3-httpx python3-aiohttp chromium
  # `hark dictate` for real (tests/integration/dictate.sh, media/capture_test.c):
  # a PulseAudio daemon of the test's own with a null sink fed by paplay,
  # clipboard and typing under Xvfb (xclip, xdotool, a python3-tk window),
  # audio piped at real-time pace (pv -L)
  pulseaudio pulseaudio-utils xvfb xclip xdotool python3-tk pv
  # packaging (make install, make deb; tests/integration/packaging.sh): man
  # and groff render the generated man pages, dpkg-shlibdeps (dpkg-dev)
  # computes the package's Depends, objdump (binutils) lists the linked
  # libraries, xz compresses the .deb, systemd-analyze checks hark.service
  man-db groff-base dpkg-dev binutils xz-utils systemd
)

# The client tests run the official `openai` npm package: Node.js and npm
# (the machine's own when it has them, Debian's otherwise).
command -v node >/dev/null && command -v npm >/dev/null || PACKAGES+=(nodejs npm)

missing=()
for p in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$status" = "installed" ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done" >&2
