# blobstate: `make demo` and `make test` are all a fresh Debian 12 machine needs.
SHELL := /bin/bash
JOBS ?= $(shell nproc)
CTEST_JOBS ?= $(JOBS)
FUZZ_SECONDS ?= 60
CMAKE_FLAGS ?=

PREFIX ?= /usr/local

.PHONY: all deps build demo test test-asan test-tsan test-install install fuzz bench format clean

all: build

deps:
	@bash scripts/install-deps.sh

build: deps
	@cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null
	@ninja -C build -j $(JOBS)

demo: build
	@bash scripts/demo.sh

test: build
	@cd build && ctest --output-on-failure -j $(CTEST_JOBS) --timeout 600

# Builds blobstate as released (no tests, no failpoints; BUILD_SHARED_LIBS=ON for a shared
# library) and installs it into PREFIX.
install: deps
	@cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=$(PREFIX) \
	  -DBLOBSTATE_BUILD_TESTS=OFF -DBLOBSTATE_BUILD_BENCHMARKS=OFF -DBLOBSTATE_BUILD_EXAMPLES=OFF \
	  $(CMAKE_FLAGS) >/dev/null
	@ninja -C build-release -j $(JOBS)
	@cmake --install build-release

# Static and shared installs, each consumed by a project of its own (scripts/check-install.sh).
test-install: deps
	@bash scripts/check-install.sh build-install

# Sanitizer builds: Debug-ish (-O1) so that reports point at lines, still fast enough.
test-asan: deps
	@cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" -DBLOBSTATE_SANITIZE=address,undefined >/dev/null
	@ninja -C build-asan -j $(JOBS)
	@cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j $(CTEST_JOBS) --timeout 900

test-tsan: deps
	@cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" -DBLOBSTATE_SANITIZE=thread >/dev/null
	@ninja -C build-tsan -j $(JOBS)
	@cd build-tsan && TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$(CURDIR)/tsan.supp" \
	  ctest --output-on-failure -j $(CTEST_JOBS) --timeout 900

# libFuzzer targets (clang); each runs FUZZ_SECONDS.
fuzz: deps
	@CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DBLOBSTATE_FUZZ=ON >/dev/null
	@ninja -C build-fuzz -j $(JOBS)
	@bash scripts/fuzz.sh build-fuzz $(FUZZ_SECONDS)

bench: build
	@bash bench/run.sh

format:
	@git ls-files '*.cc' '*.h' | xargs clang-format -i

clean:
	rm -rf build build-asan build-tsan build-fuzz build-release build-install
