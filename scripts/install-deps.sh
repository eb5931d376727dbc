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

# The blob servers the tests and benchmarks speak to, from npm, into .deps/npm (ignored by
# git): s3rver for S3, Azurite for Azure Blob. Pinned versions; reinstalled only if missing.
npm_dir="$(cd "$(dirname "$0")/.." && pwd)/.deps/npm"
npm_packages=(s3rver@3.7.1 azurite@3.35.0)
npm_bins=(s3rver azurite-blob)
for b in "${npm_bins[@]}"; do
  if [ ! -x "$npm_dir/node_modules/.bin/$b" ]; then
    echo "install-deps: installing ${npm_packages[*]} into $npm_dir"
    mkdir -p "$npm_dir"
    npm install --prefix "$npm_dir" --no-audit --no-fund --loglevel=error "${npm_packages[@]}" >/dev/null
    break
  fi
done
