#!/usr/bin/env bash
# blobstate benchmarks. Prints medians of several runs and ratios against the limit each
# one is measured against (memcpy; `cp -r` + `sync` on the same disk, in the same run).
#   BENCH_TREE_MIB   size of the put/get tree (default 1024)
#   BENCH_RUNS       runs per measurement (default 5; the cloud part: BENCH_CLOUD_RUNS, 3)
#   BENCH_DIR        scratch directory (default /tmp); needs ~3x the tree size free
#   BENCH_ONLY       the parts to run, space-separated, from: hash diff tree files rocksdb
#                    lazy commit fencing gc cloud
#                    (default: all of them)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/bin
tree_mib=${BENCH_TREE_MIB:-1024}
runs=${BENCH_RUNS:-5}
scratch=$(mktemp -d "${BENCH_DIR:-/tmp}/blobstate-bench-XXXXXX")
trap 'rm -rf "$scratch"' EXIT
only=" ${BENCH_ONLY:-hash diff tree files rocksdb lazy commit fencing gc cloud} "
source bench/lib.sh
want() { [[ $only == *" $1 "* ]]; }

if want hash; then

echo "== hashing: XXH3-128, XXH3-64 of a 64 KiB chunk, vs memcpy (same buffer)"
"$bin/hash_bench" --benchmark_repetitions=3 --benchmark_report_aggregates_only=true 2>/dev/null |
  grep -E "median" | awk '{sub("bytes_per_second=", "", $NF); printf "   %-30s %s\n", $1, $NF}'

fi

if want diff; then
echo "== diff of a 100,000-file tree, nothing changed (target < 1 s);"
echo "   the snapshot index of 100,000 files encoded and decoded (target < 500 ms each)"
BLOBSTATE_BENCH_DIR=$scratch "$bin/diff_bench" 2>/dev/null | grep BM_ |
  awk '{printf "   %-28s %s %s per %s\n", $1, $2, $3, ($1 ~ /Diff/ ? "diff" : "index")}'
rm -rf "$scratch/blobstate-diff-bench"
fi

if want tree; then

echo "== put and get of a ${tree_mib} MiB tree through file:// vs cp -r + sync"
src=$scratch/tree
mkdir -p "$src/large" "$src/small"
large_mib=$((tree_mib * 3 / 4 / 4))
for i in 1 2 3 4; do head -c $((large_mib << 20)) /dev/urandom >"$src/large/$i.sst"; done
small_count=$((tree_mib * 1024 / 4 / 128))   # 128 KiB files for the last quarter
for i in $(seq 1 "$small_count"); do
  d=$src/small/$((i % 16)); mkdir -p "$d"; head -c 131072 /dev/urandom >"$d/$i.sst"
done
bytes=$(du -sb "$src" | cut -f1)
echo "   tree: $(find "$src" -type f | wc -l) files, $((bytes >> 20)) MiB"

# Runs "$@" with a cold-ish page cache for writes (sync before), prints "seconds max_rss_kib".
# The command's own stdout is kept in $scratch/out.
timed() { sync; /usr/bin/time -f "%e %M" -o "$scratch/time" "$@" >"$scratch/out"; cat "$scratch/time"; }

# blobstate commits the tree as a task's store ("backup"), and restores it into an empty
# directory as a new host would ("restore"); each run starts from an empty blob store.
task=(--blob-store "file://$scratch/blobs" --job bench --task tree)
cp_put=(); bs_put=(); cp_get=(); bs_get=(); rss=()
for r in $(seq 1 "$runs"); do
  rm -rf "$scratch/cp" "$scratch/blobs" "$scratch/restored" "$scratch/cp2" "$src"-*
  cp_put+=("$(timed bash -c "cp -r '$src' '$scratch/cp' && sync" | cut -d' ' -f1)")
  out=$(timed "$bin/blobstate" backup "${task[@]}" --store "tree=$src" --json)
  bs_put+=("${out% *}"); rss+=("${out#* }")
  cp_get+=("$(timed bash -c "cp -r '$scratch/cp' '$scratch/cp2' && sync" | cut -d' ' -f1)")
  out=$(timed "$bin/blobstate" restore "${task[@]}" --store "tree=$scratch/restored" --json)
  bs_get+=("${out% *}"); rss+=("${out#* }")
done
put_cp=$(median "${cp_put[@]}"); put_bs=$(median "${bs_put[@]}")
get_cp=$(median "${cp_get[@]}"); get_bs=$(median "${bs_get[@]}")
mib=$((bytes >> 20))
awk -v mib="$mib" -v pc="$put_cp" -v pb="$put_bs" -v gc="$get_cp" -v gb="$get_bs" 'BEGIN {
  printf "   put: blobstate %.2f s (%.0f MiB/s)  cp -r+sync %.2f s (%.0f MiB/s)  ratio %.2fx (target >= 0.8x)\n", pb, mib/pb, pc, mib/pc, pc/pb
  printf "   get: blobstate %.2f s (%.0f MiB/s)  cp -r+sync %.2f s (%.0f MiB/s)  ratio %.2fx (target >= 0.8x)\n", gb, mib/gb, gc, mib/gc, gc/gb
}'
max_rss=$(printf '%s\n' "${rss[@]}" | sort -n | tail -n1)
echo "   peak RSS of blobstate: $((max_rss / 1024)) MiB (target < 256 MiB)"
fi

if want files; then bash "$(dirname "$0")/files_bench.sh"; fi
if want rocksdb; then bash "$(dirname "$0")/rocksdb_bench.sh"; fi
if want lazy; then bash "$(dirname "$0")/lazy_bench.sh"; fi
if want commit; then bash "$(dirname "$0")/commit_bench.sh"; fi
if want fencing; then bash "$(dirname "$0")/fencing_bench.sh"; fi
if want gc; then bash "$(dirname "$0")/gc_bench.sh"; fi
if want cloud; then bash "$(dirname "$0")/cloud_bench.sh"; fi
