#!/usr/bin/env bash
# Starts or stops the blob servers the test suite speaks to, on loopback:
#   s3rver (S3) and Azurite (Azure Blob), installed by scripts/install-deps.sh into .deps/npm.
#   test-servers.sh start DIR PROXY
#                               starts both with their data under DIR, and PROXY
#                               (blobstate-test-proxy) in front of s3rver to enforce
#                               conditional PUTs as AWS S3 does; waits until they answer,
#                               and writes DIR/env (the servers' URLs, one VAR=value a
#                               line) for the tests to read: BLOBSTATE_TEST_S3_URL goes
#                               through the proxy, BLOBSTATE_TEST_S3_DIRECT_URL does not
#   test-servers.sh stop DIR    stops what start started, and removes DIR
set -euo pipefail
cmd=${1:?usage: test-servers.sh start|stop DIR}
dir=${2:?usage: test-servers.sh start|stop DIR}
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$root/.deps/npm/node_modules/.bin

stop() {
  for f in "$dir"/*.pid; do
    [ -e "$f" ] || continue
    kill "$(cat "$f")" 2>/dev/null || true
  done
  rm -rf "$dir"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_for() {  # wait_for NAME PORT PID
  for _ in $(seq 1 300); do
    if ! kill -0 "$3" 2>/dev/null; then
      echo "test-servers: $1 exited; its log:" >&2
      cat "$dir/$1.log" >&2
      return 1
    fi
    if (exec 3<>"/dev/tcp/127.0.0.1/$2") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "test-servers: $1 did not listen on port $2 within 30 s" >&2
  return 1
}

case $cmd in
  stop) stop ;;
  start)
    stop
    for tool in s3rver azurite-blob; do
      [ -x "$bin/$tool" ] || { echo "test-servers: $bin/$tool is missing: run make deps" >&2; exit 1; }
    done
    mkdir -p "$dir/s3"
    s3_port=$(free_port)
    "$bin/s3rver" -d "$dir/s3" -a 127.0.0.1 -p "$s3_port" --silent \
      --configure-bucket blobstate-test >"$dir/s3rver.log" 2>&1 &
    echo $! >"$dir/s3rver.pid"
    az_port=$(free_port)
    "$bin/azurite-blob" --blobHost 127.0.0.1 --blobPort "$az_port" \
      --inMemoryPersistence --disableTelemetry --skipApiVersionCheck --loose \
      >"$dir/azurite.log" 2>&1 &
    echo $! >"$dir/azurite.pid"
    wait_for s3rver "$s3_port" "$(cat "$dir/s3rver.pid")"
    wait_for azurite "$az_port" "$(cat "$dir/azurite.pid")"
    proxy=${3:?usage: test-servers.sh start DIR PROXY}
    "$proxy" "$s3_port" "$dir/proxy.port" >"$dir/proxy.log" 2>&1 &
    echo $! >"$dir/proxy.pid"
    for _ in $(seq 1 100); do [ -s "$dir/proxy.port" ] && break; sleep 0.1; done
    proxy_port=$(cat "$dir/proxy.port")
    wait_for proxy "$proxy_port" "$(cat "$dir/proxy.pid")"
    cat >"$dir/env" <<ENV
BLOBSTATE_TEST_S3_URL=s3://blobstate-test?endpoint=http://127.0.0.1:$proxy_port&region=us-east-1
BLOBSTATE_TEST_S3_DIRECT_URL=s3://blobstate-test?endpoint=http://127.0.0.1:$s3_port&region=us-east-1
BLOBSTATE_TEST_S3_ACCESS_KEY=S3RVER
BLOBSTATE_TEST_S3_SECRET_KEY=s3rver-test-secret-9f2c41d7e8a6
BLOBSTATE_TEST_AZURE_URL=azure://devstoreaccount1/blobstate-test?endpoint=http://127.0.0.1:$az_port/devstoreaccount1
BLOBSTATE_TEST_AZURE_KEY=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==
ENV
    ;;
  *) echo "usage: test-servers.sh start|stop DIR" >&2; exit 2 ;;
esac
