#!/usr/bin/env bash
# mkdeb.sh BUILD_DIR OUTDIR: the Debian package of a finished build,
# OUTDIR/hark_VERSION_ARCH.deb, with Debian's own tools: the files staged
# by `cmake --install --prefix /usr` (stripped), Depends computed by
# dpkg-shlibdeps from the programs' shared libraries, dpkg-deb --build.
# It builds nothing: run it after the build (`make deb` does both).
# tests/integration/packaging.sh runs it and checks the package.
set -euo pipefail
BUILD=$(realpath "$1")
OUT=$2
SRC=$(cd "$(dirname "$0")/.." && pwd)
for f in hark hark-engine man/hark.1 man/hark-serve.8; do
  [ -e "$BUILD/$f" ] || { echo "mkdeb: $BUILD/$f is missing: build first (make build)" >&2; exit 1; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/root
DESTDIR=$root cmake --install "$BUILD" --prefix /usr --strip > /dev/null

version=$("$root/usr/bin/hark" --version | sed -n 's/^hark //p')
arch=$(dpkg --print-architecture)
[ -n "$version" ] || { echo "mkdeb: the staged hark gave no version" >&2; exit 1; }

# Debian's places: compressed man pages, the copyright file.
gzip -9n "$root/usr/share/man/man1/hark.1" "$root/usr/share/man/man8/hark-serve.8"
doc=$root/usr/share/doc/hark
{
  printf 'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n'
  printf 'Upstream-Name: hark\n\nFiles: *\nCopyright: 2026 the hark authors\nLicense: Expat\n'
  sed -n '/^Permission/,$p' "$SRC/LICENSE" | sed -e 's/^$/./' -e 's/^/ /'
} > "$doc/copyright"
rm "$doc/LICENSE"

# Depends: the packages of the shared libraries the two programs link
# (dpkg-shlibdeps reads debian/control, so it runs in a tree that has one),
# and the recognizer's model. libavdevice is loaded by `hark dictate` alone
# (dlopen, media/capture.c): a recommendation.
mkdir -p "$work/src/debian"
printf 'Source: hark\n\nPackage: hark\nArchitecture: any\n' > "$work/src/debian/control"
shlibs=$(cd "$work/src" && dpkg-shlibdeps -O "$root/usr/bin/hark" "$root/usr/bin/hark-engine" 2> "$work/shlibdeps.err" |
  sed -n 's/^shlibs:Depends=//p') || { cat "$work/shlibdeps.err" >&2; exit 1; }
[ -n "$shlibs" ] || { echo "mkdeb: dpkg-shlibdeps found no dependencies" >&2; cat "$work/shlibdeps.err" >&2; exit 1; }
avdevice=$( (dpkg -S 'libavdevice.so.*' 2> /dev/null || true) | cut -d: -f1 | grep -v -- -dev | sort -u | head -n 1)

mkdir -p "$root/DEBIAN"
cat > "$root/DEBIAN/control" <<CONTROL
Package: hark
Version: $version
Architecture: $arch
Maintainer: ${DEBFULLNAME:-the hark authors} <${DEBEMAIL:-hark@localhost}>
Installed-Size: $(du -sk --exclude=DEBIAN "$root" | cut -f1)
Depends: $shlibs, pocketsphinx-en-us
Recommends: ${avdevice:-libavdevice59}
Suggests: prometheus
Section: sound
Priority: optional
Description: offline speech transcription: files, highlights and a job server
 hark turns any audio or video file into text with word timings (txt,
 json, srt, vtt, tsv, OpenAI's verbose_json) on plain CPUs, with
 PocketSphinx and FFmpeg. hark serve is a daemon with a durable job queue,
 worker processes and an HTTP API (OpenAI-compatible transcriptions
 included), run by hark.service; hark submit, wait, result, ptt and
 dictate are its clients.
CONTROL
echo /etc/hark/hark.conf > "$root/DEBIAN/conffiles"
cat > "$root/DEBIAN/postinst" <<'SCRIPT'
#!/bin/sh
set -e
# hark.service is not started by itself: `systemctl enable --now hark`.
if [ "$1" = configure ] && [ -z "${DPKG_ROOT:-}" ] && [ -d /run/systemd/system ]; then
  systemctl daemon-reload || true
fi
SCRIPT
cat > "$root/DEBIAN/prerm" <<'SCRIPT'
#!/bin/sh
set -e
if [ "$1" = remove ] && [ -z "${DPKG_ROOT:-}" ] && [ -d /run/systemd/system ]; then
  systemctl stop hark.service || true
fi
SCRIPT
cat > "$root/DEBIAN/postrm" <<'SCRIPT'
#!/bin/sh
set -e
if [ -z "${DPKG_ROOT:-}" ] && [ -d /run/systemd/system ]; then
  systemctl daemon-reload || true
fi
# purge: the daemon's state (StateDirectory=hark with DynamicUser).
if [ "$1" = purge ]; then
  rm -rf "${DPKG_ROOT:-}/var/lib/private/hark" "${DPKG_ROOT:-}/var/lib/hark"
fi
SCRIPT
chmod 0755 "$root/DEBIAN/postinst" "$root/DEBIAN/prerm" "$root/DEBIAN/postrm"

mkdir -p "$OUT"
deb=$OUT/hark_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" > /dev/null
echo "$deb"
