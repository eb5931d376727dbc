#!/usr/bin/env bash
# Commit overhead: sync and async stage of commits of a ~1 GiB RocksDB store with 1% new
# data between them; throughput of the example job with blob store backup on and off.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/bin
scratch=$(mktemp -d "${BENCH_DIR:-/tmp}/blobstate-commit-bench-XXXXXX")
trap 'rm -rf "$scratch"' EXIT
echo "== commit overhead, RocksDB store of ${BENCH_DB_MIB:-1024} MiB"
"$bin/commit_bench" "$scratch/commit" "${BENCH_DB_MIB:-1024}" 5
rm -rf "$scratch/commit"

events=${BENCH_EVENTS:-300000}
every=${BENCH_COMMIT_EVERY:-30000}
echo "== wordcount: $events events, 2 RocksDB stores, commit every $every events"
rate() { sed -nE 's/.*\(([0-9.]+) events\/s\).*/\1/p' "$scratch/err"; }
on=(); off=()
for r in 1 2 3; do
  rm -rf "$scratch/wc"
  "$bin/wordcount" --no-backup --task t --state-dir "$scratch/wc/off" --events "$events" \
    --seed 1 >/dev/null 2>"$scratch/err"
  off+=("$(rate)")
  "$bin/wordcount" --blob-store "file://$scratch/wc/blobs" --job wc --task t \
    --state-dir "$scratch/wc/on" --events "$events" --commit-every "$every" --seed 1 \
    >/dev/null 2>"$scratch/err"
  on+=("$(rate)")
done
med() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
awk -v on="$(med "${on[@]}")" -v off="$(med "${off[@]}")" 'BEGIN {
  printf "   backup off %.0f events/s, on %.0f events/s: %.0f%% (target >= 90%%)\n", off, on, on * 100 / off
}'
