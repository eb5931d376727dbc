#!/usr/bin/env bash
# Lazy restore against a full one (Z.6). For a RocksDB store of each size in BENCH_LAZY_MIB
# (default "1024 4096"), backed up once, through file:// and through s3rver and Azurite
# each behind a proxy that delays every request by BENCH_LAZY_DELAY_MS (default 10), in
# the same run:
#   full restore: seconds until the store opens and serves a Get (restore, open, Get);
#   lazy restore: seconds until the first Get (restore --lazy, open, Get), random Gets per
#                 second while files download against the same once local, and seconds
#                 until every file is local, against the full restore.
# The backup's part size is BENCH_LAZY_PART_SIZE (default 8388608, blobstate's default);
# BENCH_LAZY_BACKENDS (default "file s3 azure") picks the blob stores.
# Targets: first Get within 1 s at every size; warm-up Gets at least half as fast as
# local; fully local within 1.2x of the full restore. Through file://, whose figures vary
# most from run to run, the medians of BENCH_LAZY_FILE_RUNS (default 5) runs of a full and
# a lazy restore, alternating, each run's listed (ratios are each run's, of its lazy and
# full restores); through the others BENCH_LAZY_REMOTE_RUNS (default 1). Each restore, full
# or lazy, starts on memory just primed (prime_memory in bench/lib.sh): on a VM that returns
# free memory to its host, whichever restore found its page cache there ran twice as slow.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/bin
delay=${BENCH_LAZY_DELAY_MS:-10}
part_size=${BENCH_LAZY_PART_SIZE:-8388608}
scratch=$(mktemp -d "${BENCH_DIR:-/tmp}/blobstate-lazy-bench-XXXXXX")
source bench/lib.sh
start_servers
# A proxy in front of s3rver and one in front of Azurite, delaying every request (s3rver
# with fencing off: one writer, and s3rver ignores conditional writes; Azurite enforces
# them, so its proxy is --plain).
port_of() { env_of "$1" | sed 's/.*127.0.0.1:\([0-9]*\).*/\1/'; }
"$bin/blobstate-test-proxy" "$(port_of BLOBSTATE_TEST_S3_DIRECT_URL)" "$scratch/s3.port" "$delay" \
  >/dev/null 2>&1 &
s3_pid=$!
"$bin/blobstate-test-proxy" --plain "$(port_of BLOBSTATE_TEST_AZURE_URL)" "$scratch/az.port" "$delay" \
  >/dev/null 2>&1 &
az_pid=$!
trap 'kill $s3_pid $az_pid 2>/dev/null || true; scripts/test-servers.sh stop "$servers" >/dev/null 2>&1 || true; rm -rf "$scratch"' EXIT
azure_container
for _ in $(seq 1 100); do [ -s "$scratch/s3.port" ] && [ -s "$scratch/az.port" ] && break; sleep 0.1; done
slow_s3="s3://blobstate-test/lazy-bench?endpoint=http://127.0.0.1:$(cat "$scratch/s3.port")&region=us-east-1&fencing=off"
slow_az="azure://devstoreaccount1/blobstate-test?endpoint=http://127.0.0.1:$(cat "$scratch/az.port")/devstoreaccount1"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
small_ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2g", a / b}'; }  # 0.0023, 0.57
file_runs=${BENCH_LAZY_FILE_RUNS:-5}
remote_runs=${BENCH_LAZY_REMOTE_RUNS:-1}

# One full restore, then one lazy, of the store backed up to $url (task "${task[@]}", $keys
# keys); sets full, first_get (lazy_restore + first: the CLI's restore, then the open and
# the Get), warm, local_rate and to_local.
one_run() {
  # Full: restore, then open and one Get (verify of one key). It follows the delete of the
  # last run's lazy store, as the lazy restore follows that of the full one: each of them
  # runs right after a store's worth of deletes, a sync and a prime of its page cache.
  rm -rf "$scratch/full" "$scratch"/full.* "$scratch/lazy" "$scratch"/lazy.*
  local full_restore full_open local_s
  sync && prime_memory "$prime_mib"
  full_restore=$(secs "$bin/blobstate" restore "${task[@]}" --store "db=$scratch/full")
  full_open=$(secs "$bin/blobstate-rocksdb" verify --db "$scratch/full" --keys 1)
  full=$(awk -v a="$full_restore" -v b="$full_open" 'BEGIN {printf "%.3f", a + b}')
  # Gone before the lazy run, which would otherwise run with 4 more GiB in the page cache.
  rm -rf "$scratch/full" "$scratch"/full.*
  # Lazy: restore --lazy, then the tool opens it, Gets, and waits until it is local.
  sync && prime_memory "$prime_mib"
  lazy_restore=$(secs "$bin/blobstate" restore "${task[@]}" --store "db=$scratch/lazy" --lazy)
  "$bin/blobstate-rocksdb" lazy-open --db "$scratch/lazy" --blob-store "$url" \
    --keys "$keys" >"$scratch/lazy.out"
  read -r _ first _ warm _ local_s _ local_rate <"$scratch/lazy.out"
  first_get=$(awk -v a="$lazy_restore" -v b="$first" 'BEGIN {printf "%.3f", a + b}')
  to_local=$(awk -v a="$lazy_restore" -v b="$local_s" 'BEGIN {printf "%.3f", a + b}')
  "$bin/blobstate-rocksdb" verify --db "$scratch/lazy" --keys "$keys" >/dev/null
}

for mib in ${BENCH_LAZY_MIB:-1024 4096}; do
  db=$scratch/db
  rm -rf "$db" "$db".*
  keys=$((mib * 1024))
  echo "== lazy restore of a $mib MiB RocksDB store, backed up in parts of $part_size bytes"
  fill_store "$db" "$keys"
  prime_mib=$((db_mib + 1024))  # each restore's page cache, and then some
  for backend in ${BENCH_LAZY_BACKENDS:-file s3 azure}; do
    case $backend in
      file) url="file://$scratch/blobs" label="file://" ;;
      s3) url=$slow_s3 label="s3rver + ${delay} ms" ;;
      azure) url=$slow_az label="Azurite + ${delay} ms" ;;
    esac
    task=(--blob-store "$url" --job bench --task "lazy-$mib")
    "$bin/blobstate" backup "${task[@]}" --store "db=$db" --part-size "$part_size" >/dev/null
    runs=$remote_runs
    [ "$backend" = file ] && runs=$file_runs
    # Each run's ratios are of its own lazy and full restores; the medians are printed.
    fulls=() firsts=() lazy_restores=() opens=() warms=() local_gets=() warm_ratios=()
    to_locals=() local_ratios=()
    for _ in $(seq 1 "$runs"); do
      one_run
      fulls+=("$full") firsts+=("$first_get") lazy_restores+=("$lazy_restore") opens+=("$first")
      warms+=("$warm") local_gets+=("$local_rate")
      to_locals+=("$to_local") warm_ratios+=("$(small_ratio "$warm" "$local_rate")")
      local_ratios+=("$(ratio "$to_local" "$full")")
    done
    printf "   %-18s full: store serving after %8s s\n" "$label" "$(median "${fulls[@]}")"
    printf "   %-18s lazy: first Get after %8s s (restore --lazy %s s, open and Get %s s);" "" \
      "$(median "${firsts[@]}")" "$(median "${lazy_restores[@]}")" "$(median "${opens[@]}")"
    printf " warm-up Gets %s/s = %sx local (%s/s);" "$(median "${warms[@]}")" \
      "$(median "${warm_ratios[@]}")" "$(median "${local_gets[@]}")"
    printf " local after %s s = %sx the full restore\n" "$(median "${to_locals[@]}")" \
      "$(median "${local_ratios[@]}")"
    if [ "$runs" -gt 1 ]; then
      printf "   %-18s (medians of %s runs; full: %s; first Get: %s; warm-up/local: %s;" \
        "" "$runs" "${fulls[*]}" "${firsts[*]}" "${warm_ratios[*]}"
      printf " local after: %s = %s)\n" "${to_locals[*]}" "${local_ratios[*]}"
    fi
  done
done
echo "   targets: first Get < 1 s; warm-up Gets >= 0.5x local; local <= 1.2x the full restore"
