#!/usr/bin/env bash
# Installs every system package blobstate needs to build, test, fuzz and benchmark.
# Idempotent and quiet when everything is already there. Needs root (or sudo) only when
# something is missing.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build ccache pkg-config clang libclang-rt-14-dev clang-format
  # libraries
  librocksdb-dev libxxhash-dev libcurl4-openssl-dev libssl-dev zlib1g-dev
  libgtest-dev libgmock-dev libbenchmark-dev prometheus-cpp-dev libcpp-httplib-dev
  # tests and benchmarks: SigV4 reference signer, peer tools
  python3 python3-botocore rclone rsync time nodejs
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

# npm ships inside nodejs on some machines; install Debian's npm only when it is absent.
command -v npm >/dev/null 2>&1 || missing+=(npm)

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
