# hark: the two commands of the README's Quick start, and a few more.
#   make demo   install what is missing, build, transcribe the LibriVox clips
#   make check  install, build, run the whole test suite (+ ASan/UBSan, fuzz)
#   make install PREFIX=/usr DESTDIR=DIR   build, then install under DESTDIR
#   make deb    build, then out/hark_VERSION_ARCH.deb (scripts/mkdeb.sh)
NPROC   ?= $(shell nproc 2>/dev/null || echo 2)
BUILD   ?= build
CMAKE_FLAGS ?=
PREFIX  ?= /usr/local
DESTDIR ?=

.PHONY: all deps build demo check test bench format clean install deb

all: build

deps:
	@scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j$(NPROC)

demo: build
	@scripts/demo.sh $(BUILD)/hark

# The whole suite: house rules, -Werror build + tests, ASan/UBSan build +
# tests, and a bounded libFuzzer run over the media decoder.
check: deps
	@scripts/check.sh

# Just the tests of the normal build (quicker while developing).
test: build
	@cd $(BUILD) && ctest --output-on-failure -j$(NPROC)

bench: build
	@bench/transcribe_vs_cli.sh $(BUILD)/hark
	@bench/serve_latency.sh $(BUILD)/hark

# Both programs, the man pages, bash completion, hark.service, the config
# (kept if DESTDIR/etc already has one) and the alerting rules.
install: build
	@DESTDIR="$(DESTDIR)" cmake --install $(BUILD) --prefix $(PREFIX)

# A Debian package of the build, made with dpkg-shlibdeps and dpkg-deb.
deb: build
	@scripts/mkdeb.sh $(BUILD) out

format:
	@git ls-files '*.c' '*.h' | xargs clang-format -i

clean:
	rm -rf build build-asan build-fuzz out
