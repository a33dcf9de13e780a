#!/usr/bin/env bash
# hark as an installed service, from the finished build (nothing is
# rebuilt): the man pages generated from --help, bash completion, the
# Prometheus alerting rules, `cmake --install` into a DESTDIR (what `make
# install PREFIX=/usr DESTDIR=DIR` runs) with its systemd unit, and the
# Debian package of scripts/mkdeb.sh (`make deb`) installed with dpkg
# --root into an empty tree, run from there, and purged.
. "$(dirname "$0")/../lib.sh"
SRC=$HARK_SOURCE_DIR
B=$HARK_BUILD_DIR
version=$("$HARK" --version | sed -n 's/^hark //p')

# ---- man pages: every option of every --help, no warning from man ----
commands=$("$HARK" --help | sed -n 's/^  \([a-z][a-z]*\) .*/\1/p')
check "hark --help lists the commands" [ "$(echo "$commands" | wc -w)" -ge 15 ]
# The option names of a --help text on stdin: -x and --long-name.
options_of() { grep -oE '(^|[ ,[])--?[A-Za-z][A-Za-z0-9-]*' | sed 's/^[ ,[]//' | grep -v -- '-[0-9]' | sort -u; }
unescape() { sed -e 's/\\-/-/g' -e 's/\\e/\\/g' "$1"; }
unescape "$B/man/hark.1" > "$T/hark.1.txt"
unescape "$B/man/hark-serve.8" > "$T/hark-serve.8.txt"
missing=
"$HARK" --help | options_of > "$T/opts"
for c in $commands; do
  "$HARK" "$c" --help > "$T/help.$c" 2>&1; rc=$?
  [ $rc -eq 0 ] || not_ok "hark $c --help exits 0 ($rc)"
  options_of < "$T/help.$c" >> "$T/opts"
  grep -qF ".SS \"hark $c" "$T/hark.1.txt" || missing="$missing [section $c]"
done
sort -u -o "$T/opts" "$T/opts"
n_opts=$(wc -l < "$T/opts")
missing="$missing $(options_of < "$T/hark.1.txt" | comm -23 "$T/opts" - | tr '\n' ' ')"
missing=${missing%% }; missing=${missing## }
check "hark(1) has a section per command and all $n_opts options of their --help${missing:+ (missing:$missing)}" [ -z "$missing" ]
missing=$(comm -23 <(options_of < "$T/help.serve") <(options_of < "$T/hark-serve.8.txt") | tr '\n' ' ')
check "hark-serve(8) has every option of hark serve --help${missing:+ (missing:$missing)}" [ -z "$missing" ]
check "hark-serve(8) is titled so, section 8" grep -q '^\.TH HARK-SERVE 8 ' "$T/hark-serve.8.txt"
for page in hark.1 hark-serve.8; do
  MANWIDTH=80 man --warnings -l "$B/man/$page" > "$T/$page.out" 2> "$T/$page.warn"
  groff -man -ww -z "$B/man/$page" 2>> "$T/$page.warn"
  check "man renders $page without warnings$(head -c 300 "$T/$page.warn")" [ ! -s "$T/$page.warn" ]
  check "$page renders to text" grep -q 'hark' "$T/$page.out"
done

# ---- bash completion ----
cat > "$T/complete.sh" <<'SH'
. "$1"
c() { COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMPREPLY=(); _hark; echo "${COMPREPLY[*]}"; }
echo "cmds: $(c hark '')"
echo "tr: $(c hark tr)"
echo "transcribe: $(c hark transcribe --)"
echo "serve: $(c hark serve --st)"
echo "submit-p: $(c hark submit -p r)"
echo "dictate: $(c hark dictate '')"
echo "show: $(c hark show --)"
echo "ls-k: $(c hark ls -k '')"
complete -p hark
SH
PATH=$(dirname "$HARK"):$PATH bash "$T/complete.sh" "$SRC/contrib/bash-completion/hark" > "$T/complete.out" 2>&1
has() { grep -q -- "^$1: .*$2" "$T/complete.out"; }
check "completion: every command of hark --help" has cmds "$(echo $commands) --help --version"
check "completion: a command from its start" grep -qx 'tr: transcribe' "$T/complete.out"
check "completion: transcribe's options from its --help" has transcribe '--output-dir --format --stdout'
check "completion: serve --st gives --state-dir --store" grep -qx 'serve: --state-dir --store' "$T/complete.out"
check "completion: priorities" grep -qx 'submit-p: realtime' "$T/complete.out"
check "completion: dictate's start stop cancel" grep -qx 'dictate: start stop cancel' "$T/complete.out"
check "completion: show --json --server --help" grep -qx 'show: --json --server --help' "$T/complete.out"
check "completion: kinds" grep -qx 'ls-k: transcribe highlights live' "$T/complete.out"
check "completion: registered for hark, files by default" grep -q 'complete -o default -F _hark hark' "$T/complete.out"

# ---- Prometheus alerting rules ----
check "promtool check rules hark.rules.yml" promtool check rules "$SRC/contrib/prometheus/hark.rules.yml"
check "promtool test rules: each alert fires and stays silent as it should" \
  bash -c "cd '$SRC/contrib/prometheus' && promtool test rules hark.rules.test.yml"
# Every metric the rules read is one hark exports (src/metrics/hark_metrics.c).
missing=
for m in $(grep -oE '\b(hark|process)_[a-z_]+' "$SRC/contrib/prometheus/hark.rules.yml" | sed 's/_\(bucket\|count\|sum\)$//' | sort -u); do
  grep -q "\"$m\"" "$SRC/src/metrics/hark_metrics.c" || missing="$missing $m"
done
check "the rules read only metrics hark exports${missing:+ (not exported:$missing)}" [ -z "$missing" ]

# ---- cmake --install into a DESTDIR (make install PREFIX=/usr DESTDIR=DIR) ----
D=$T/dest
DESTDIR=$D cmake --install "$B" --prefix /usr > "$T/install.log" 2>&1
check "cmake --install --prefix /usr into DESTDIR" [ $? -eq 0 ]
for f in usr/bin/hark usr/bin/hark-engine usr/share/man/man1/hark.1 usr/share/man/man8/hark-serve.8 \
  usr/lib/systemd/system/hark.service usr/share/bash-completion/completions/hark \
  usr/share/hark/prometheus/hark.rules.yml usr/share/doc/hark/hark.conf.example \
  usr/share/doc/hark/LICENSE etc/hark/hark.conf; do
  check "installed: /$f" [ -s "$D/$f" ]
done
check "installed hark --version runs (from DESTDIR/usr/bin)" [ "$("$D/usr/bin/hark" --version)" = "hark $version" ]
check "installed hark runs the hark-engine beside it (transcribe --help)" \
  bash -c "'$D/usr/bin/hark' transcribe --help | grep -q '^usage: hark transcribe'"
check "/etc/hark/hark.conf is root's alone (it may hold tokens)" [ "$(stat -c %a "$D/etc/hark/hark.conf")" = 600 ]
echo '# mine' >> "$D/etc/hark/hark.conf"
DESTDIR=$D cmake --install "$B" --prefix /usr > /dev/null 2>&1
check "installing again keeps an edited /etc/hark/hark.conf" grep -qx '# mine' "$D/etc/hark/hark.conf"

# ---- the systemd unit ----
U=$D/usr/lib/systemd/system/hark.service
unit_has() { grep -qx "$1" "$U"; }
check "unit: ExecStart is the installed hark with the credential's config" \
  unit_has 'ExecStart=/usr/bin/hark serve --config %d/hark.conf'
check "unit: the config as a credential" unit_has 'LoadCredential=hark.conf:/etc/hark/hark.conf'
for d in DynamicUser=yes StateDirectory=hark ProtectSystem=strict NoNewPrivileges=yes 'MemoryMax=[0-9]*[KMG]' \
  PrivateTmp=yes 'CapabilityBoundingSet=' 'SystemCallFilter=@system-service'; do
  check "unit: $d" grep -qx -- "$d" "$U"
done
check "the config's state_dir is the unit's StateDirectory" grep -qx 'state_dir = /var/lib/hark' "$D/etc/hark/hark.conf"
if command -v systemd-analyze > /dev/null; then
  # verify wants ExecStart's program to exist: point it at the DESTDIR's.
  sed "s|=/usr/bin/hark|=$D/usr/bin/hark|" "$U" > "$T/hark.service"
  systemd-analyze verify --man=no "$T/hark.service" > "$T/verify.out" 2>&1; rc=$?
  check "systemd-analyze verify hark.service: no complaint ($rc: $(head -c 300 "$T/verify.out"))" \
    [ $rc -eq 0 -a ! -s "$T/verify.out" ]
  systemd-analyze security --offline=yes --threshold=25 "$T/hark.service" > "$T/security.out" 2>&1; rc=$?
  check "systemd-analyze security: exposure at most 2.5 ($(grep -o 'exposure level.*' "$T/security.out"))" [ $rc -eq 0 ]
else
  echo "skip systemd-analyze checks: systemd-analyze is not installed"
fi

# ---- the Debian package (make deb) ----
# Not of a sanitizer build (make check's HARK_TEST_QUICK pass): nobody ships
# one, and packing it costs 10 s; the normal build's pass checks the package.
if [ "${HARK_TEST_QUICK:-0}" = 1 ]; then
  echo "skip the package: HARK_TEST_QUICK (a sanitizer build is not packaged)"
  finish
  exit
fi
deb=$(bash "$SRC/scripts/mkdeb.sh" "$B" "$T/deb" 2> "$T/mkdeb.err")
check "scripts/mkdeb.sh builds hark_${version}_$(dpkg --print-architecture).deb $(head -c 300 "$T/mkdeb.err")" \
  [ -s "$deb" ] && [ "$(basename "$deb")" = "hark_${version}_$(dpkg --print-architecture).deb" ]
dpkg-deb --info "$deb" > "$T/info"
dpkg-deb --contents "$deb" > "$T/contents"
check "dpkg-deb --info: package hark $version" grep -qx " Package: hark" "$T/info"
check "dpkg-deb --info: the version" grep -qx " Version: $version" "$T/info"
check "the config is a conffile" bash -c "dpkg-deb -I '$deb' conffiles | grep -qx /etc/hark/hark.conf"
for f in ./usr/bin/hark ./usr/bin/hark-engine ./usr/share/man/man1/hark.1.gz ./usr/share/man/man8/hark-serve.8.gz \
  ./usr/lib/systemd/system/hark.service ./usr/share/bash-completion/completions/hark ./etc/hark/hark.conf \
  ./usr/share/doc/hark/copyright ./usr/share/hark/prometheus/hark.rules.yml; do
  check "the package holds $f" grep -q " $f\$" "$T/contents"
done
depends=$(sed -n 's/^ Depends: //p' "$T/info")
check "Depends names the model" grep -q 'pocketsphinx-en-us' <<< "$depends"
# Each shared library the programs link (NEEDED) is in a package of Depends.
libs=$(objdump -p "$B/hark" "$B/hark-engine" | sed -n 's/^ *NEEDED *//p' | sort -u)
pats=(); for l in $libs; do pats+=("*/$l"); done
dpkg -S "${pats[@]}" > "$T/owners" 2> /dev/null
missing=
for lib in $libs; do
  pkg=$(grep -F "/$lib" "$T/owners" | grep -E "/$lib\$" | cut -d: -f1 | grep -v -- '-dev$' | sort -u | head -n 1)
  [ -n "$pkg" ] && grep -qE "(^|, )$pkg( |,|$)" <<< "$depends" || missing="$missing $lib(${pkg:-?})"
done
check "Depends covers every linked library's package${missing:+ (missing:$missing)}" [ -z "$missing" ]

# Install it into an empty tree (its own dpkg database; the libraries it
# depends on are the machine's), run it from there, then purge it.
R=$T/root
mkdir -p "$R/var/lib/dpkg/info" "$R/var/lib/dpkg/updates"
: > "$R/var/lib/dpkg/status"
dpkg --root="$R" --force-depends --force-script-chrootless --log=/dev/null -i "$deb" > "$T/dpkg.log" 2>&1
check "dpkg --root installs it" bash -c "dpkg --root='$R' -s hark | grep -qx 'Status: install ok installed'"
check "the installed package's hark --version runs" [ "$("$R/usr/bin/hark" --version)" = "hark $version" ]
check "and its hark serve --help runs its hark-engine" \
  bash -c "'$R/usr/bin/hark' serve --help | grep -q '^usage: hark serve'"
check "its man page opens" bash -c "MANWIDTH=80 man -l '$R/usr/share/man/man8/hark-serve.8.gz' | grep -q HARK-SERVE"
dpkg --root="$R" --force-depends --force-script-chrootless --log=/dev/null --purge hark > "$T/purge.log" 2>&1
check "dpkg --purge leaves no file behind" [ -z "$(find "$R" -path "$R/var/lib/dpkg" -prune -o ! -type d -print)" ]
finish
