# hark: the two commands of the README's Quick start, and a few more.
#   make demo   install what is missing, build, transcribe the LibriVox clips
#   make check  install, build, run the whole test suite (+ ASan/UBSan, fuzz)
NPROC   ?= $(shell nproc 2>/dev/null || echo 2)
BUILD   ?= build
CMAKE_FLAGS ?=

.PHONY: all deps build demo check test bench format clean

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

format:
	@git ls-files '*.c' '*.h' | xargs clang-format -i

clean:
	rm -rf build build-asan build-fuzz out
