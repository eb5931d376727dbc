#!/usr/bin/env bash
# The install check (`make test-install`, run by CI): builds blobstate as a release would
# (no tests, no failpoints), static and then shared; installs each into a fresh prefix;
# builds the embedding example (examples/embed) against each install, with CMake
# (find_package) and with pkg-config; runs every build. Also checks that a shared
# libblobstate exports the public API and nothing else, that failpoints cannot be armed,
# that the parts left out (the cloud blob stores, the prometheus-cpp sink) are neither
# built nor installed nor needed, and that the installed tool runs.
#
# Usage: scripts/check-install.sh [WORK_DIR]   (default: build-install; reused for ccache)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(realpath -m "${1:-$root/build-install}")"

fail() { echo "check-install: FAILED: $*" >&2; exit 1; }

# embed_run NAME BINARY: runs the example with a failpoint armed that a test build would
# crash on at the first commit; a release build must not know it.
embed_run() {
  rm -rf "$work/run-$1"
  BLOBSTATE_FAILPOINTS=upload.before_index=crash "$2" "$work/run-$1" ||
    fail "$1: the embedding example failed (exit $?)"
  echo "check-install: $1: ok"
}

for kind in static shared; do
  # The shared build also leaves out the optional parts: the cloud blob stores and the
  # prometheus-cpp sink.
  shared=OFF optional=ON
  [ "$kind" = shared ] && shared=ON optional=OFF
  build="$work/$kind/build" prefix="$work/$kind/prefix"
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=$shared \
    -DBLOBSTATE_PROMETHEUS_CPP=$optional -DBLOBSTATE_S3=$optional -DBLOBSTATE_AZURE=$optional \
    -DBLOBSTATE_BUILD_TESTS=OFF -DBLOBSTATE_BUILD_BENCHMARKS=OFF -DBLOBSTATE_BUILD_EXAMPLES=OFF \
    -DCMAKE_INSTALL_PREFIX="$prefix" >/dev/null
  ninja --quiet -C "$build"
  rm -rf "$prefix"
  cmake --install "$build" >/dev/null
  libdir="$(dirname "$(find "$prefix" -name 'libblobstate.*' -print -quit)")"

  "$prefix/bin/blobstate" --help >/dev/null || fail "$kind: installed blobstate --help"
  if [ "$kind" = static ]; then
    for header in prometheus_cpp.h s3.h azure.h; do
      [ -e "$prefix/include/blobstate/$header" ] || fail "static: $header not installed"
    done
  fi
  if [ "$kind" = shared ]; then
    # Functions defined in the library (type T; weak template instances aside).
    exported="$(nm -DC --defined-only "$libdir/libblobstate.so" | awk '$2 == "T"')"
    grep -q 'blobstate::OpenBlobStore' <<<"$exported" || fail "shared: OpenBlobStore not exported"
    if grep -E 'blobstate::(LinkTree|RetryingBlobStore|BackupManager|RestoreManager)' <<<"$exported"; then
      fail "shared: libblobstate.so exports private symbols (above)"
    fi
    for header in prometheus_cpp.h s3.h azure.h; do  # the headers of the parts left out
      [ ! -e "$prefix/include/blobstate/$header" ] || fail "shared: $header installed"
    done
    if readelf -d "$libdir/libblobstate.so" | grep -E 'prometheus|curl'; then
      fail "shared: libblobstate.so needs a library of a part left out (above)"
    fi
    out="$("$prefix/bin/blobstate" checkpoints --blob-store s3://b/p --job j --task t 2>&1)" &&
      fail "shared: an s3:// URL worked without the S3 blob store"
    grep -q "BLOBSTATE_S3=OFF" <<<"$out" || fail "shared: s3:// refused without naming why: $out"
  fi

  cmake -S "$root/examples/embed" -B "$work/$kind/embed-cmake" -G Ninja \
    -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
  ninja --quiet -C "$work/$kind/embed-cmake"
  embed_run "$kind-cmake" "$work/$kind/embed-cmake/embed"

  # shellcheck disable=SC2046
  c++ -std=c++20 -O1 -o "$work/$kind/embed-pkgconfig" "$root/examples/embed/embed.cc" \
    $(PKG_CONFIG_PATH="$libdir/pkgconfig" pkg-config --cflags --libs blobstate) -Wl,-rpath,"$libdir"
  embed_run "$kind-pkgconfig" "$work/$kind/embed-pkgconfig"
done
echo "check-install: static and shared installs build and run the embedding example"
