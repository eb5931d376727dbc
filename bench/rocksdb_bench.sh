#!/usr/bin/env bash
# A RocksDB store of about BENCH_DB_MIB MiB (default 1024): full backup, incremental backup
# after about 5% new data and a compaction, and restore on a new host, each done by
#   cp -r + sync            (the limit: a plain durable copy, never incremental)
#   blobstate (file://)     (backup / restore commands)
#   RocksDB BackupEngine    (same number of threads, sync on, incremental)
# in the same run, on the same disk. Prints seconds, throughput and what blobstate uploaded.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/bin
mib=${BENCH_DB_MIB:-1024}
threads=${BENCH_THREADS:-8}
scratch=$(mktemp -d "${BENCH_DIR:-/tmp}/blobstate-rocksdb-bench-XXXXXX")
trap 'rm -rf "$scratch"' EXIT
db=$scratch/db
keys=$((mib * 1024))          # 1000-byte values: ~1 KiB per key
new_keys=$((keys / 20))       # ~5% new data
task=(--blob-store "file://$scratch/blobs" --job bench --task t0 --io-threads "$threads")

source bench/lib.sh
json_figure() {  # json_figure FILE KEY: KEY of the "_all" store figures in the --json FILE
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["stores"]["_all"][sys.argv[2]])' "$1" "$2"
}

echo "== RocksDB benchmark: filling $keys keys (~$mib MiB)"
fill_store "$db" "$keys"

# Each step is repeated BENCH_RUNS times (default 5) in rotating order, so that none always
# goes first after the others' writes; medians are reported. A first round of all three is
# run and discarded: right after gigabytes of writes (the fill, the backups) this disk is
# slow for seconds, whichever tool runs then. A full backup starts from an empty
# destination each time; the last run's backups serve the incremental step.
runs=${BENCH_RUNS:-5}
rotate() {  # rotate RUN A B C: runs the three commands A, B, C in an order that depends on RUN
  case $(($1 % 3)) in
    1) $2; $3; $4 ;;
    2) $4; $2; $3 ;;
    0) $3; $4; $2 ;;
  esac
}
fc=(); fb=(); fe=()
full_cp() { rm -rf "$scratch/cp1"; fc+=("$(secs bash -c "cp -r '$db' '$scratch/cp1' && sync")"); }
full_bs() {
  rm -rf "$scratch/blobs"
  fb+=("$(secs "$bin/blobstate" backup "${task[@]}" --store "db=$db" --json)")
  cp "$scratch/out" "$scratch/full.json"
  rm -rf "$db"-*  # its local checkpoint: the next full backup starts from nothing
}
full_be() { rm -rf "$scratch/be"; fe+=("$(secs "$bin/backup_engine_tool" backup "$db" "$scratch/be" "$threads")"); }
rotate 1 full_cp full_bs full_be; fc=(); fb=(); fe=()  # the discarded round
for r in $(seq 1 "$runs"); do rotate "$r" full_cp full_bs full_be; done
full_cp=$(median "${fc[@]}"); full_bs=$(median "${fb[@]}"); full_be=$(median "${fe[@]}")
echo "   full backup runs (s): cp ${fc[*]}; blobstate ${fb[*]}; BackupEngine ${fe[*]}"
# The blobstate backup that the incremental step follows must be the latest one made.
rm -rf "$scratch/blobs" "$db"-*
"$bin/blobstate" backup "${task[@]}" --store "db=$db" >/dev/null

files_of "$db" >"$scratch/before"
"$bin/blobstate-rocksdb" fill --db "$db" --start "$keys" --keys "$new_keys" --value-size 1000 >/dev/null
"$bin/blobstate-rocksdb" compact --db "$db" --start "$keys" >/dev/null
files_of "$db" >"$scratch/after"
new_bytes=$(comm -13 "$scratch/before" "$scratch/after" | grep -v -E '^(LOG|LOCK)' |
  awk '{s += $2} END {print s + 0}')
db2_mib=$(( $(du -sb "$db" | cut -f1) >> 20 ))

incr_cp=$(secs bash -c "cp -r '$db' '$scratch/cp2' && sync")
# Every incremental run starts from the backups made before the new data: hard-linked
# copies of both destinations, taken now (neither tool rewrites a file in place).
cp -al "$scratch/blobs" "$scratch/blobs.base"
cp -al "$scratch/be" "$scratch/be.base"
ib=(); ie=()
incr_bs() {
  rm -rf "$scratch/blobs" && cp -al "$scratch/blobs.base" "$scratch/blobs"
  ib+=("$(secs "$bin/blobstate" backup "${task[@]}" --store "db=$db" --json)")
  cp "$scratch/out" "$scratch/incr.json"
}
incr_be() {
  rm -rf "$scratch/be" && cp -al "$scratch/be.base" "$scratch/be"
  ie+=("$(secs "$bin/backup_engine_tool" backup "$db" "$scratch/be" "$threads")")
}
rotate 1 incr_bs incr_be true; ib=(); ie=()  # the discarded round
for r in $(seq 1 "$runs"); do rotate "$r" incr_bs incr_be true; done
incr_bs=$(median "${ib[@]}"); incr_be=$(median "${ie[@]}")
echo "   incremental runs (s): blobstate ${ib[*]}; BackupEngine ${ie[*]}"
uploaded=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["stores"]["_all"]["bytes_uploaded"])' "$scratch/incr.json")

rc=(); rb=(); re=()
restore_cp() { rm -rf "$scratch/restored-cp"; rc+=("$(secs bash -c "cp -r '$scratch/cp2' '$scratch/restored-cp' && sync")"); }
restore_bs() {
  rm -rf "$scratch/restored-bs"
  rb+=("$(secs "$bin/blobstate" restore "${task[@]}" --store "db=$scratch/restored-bs" --json)")
  cp "$scratch/out" "$scratch/restore.json"
}
restore_be() { rm -rf "$scratch/restored-be"; re+=("$(secs "$bin/backup_engine_tool" restore "$scratch/be" "$scratch/restored-be" "$threads")"); }
rotate 1 restore_cp restore_bs restore_be; rc=(); rb=(); re=()  # the discarded round
for r in $(seq 1 "$runs"); do rotate "$r" restore_cp restore_bs restore_be; done
rest_cp=$(median "${rc[@]}"); rest_bs=$(median "${rb[@]}"); rest_be=$(median "${re[@]}")
echo "   restore runs (s): cp ${rc[*]}; blobstate ${rb[*]}; BackupEngine ${re[*]}"
"$bin/blobstate-rocksdb" verify --db "$scratch/restored-bs" --keys $((keys + new_keys)) \
  --value-size 1000 --total $((keys + new_keys)) >/dev/null

awk -v a="$db_mib" -v b="$db2_mib" -v fc="$full_cp" -v fb="$full_bs" -v fe="$full_be" \
    -v ic="$incr_cp" -v ib="$incr_bs" -v ie="$incr_be" -v rc="$rest_cp" -v rb="$rest_bs" \
    -v re="$rest_be" -v up="$uploaded" -v nb="$new_bytes" 'BEGIN {
  printf "   %-12s %18s %18s %18s   %s\n", "step", "cp -r + sync", "blobstate", "BackupEngine", "blobstate vs cp / vs BackupEngine"
  printf "   %-12s %9.2f s %5.0f MiB/s %9.2f s %5.0f MiB/s %9.2f s %5.0f MiB/s   %.2fx / %.2fx faster (medians)\n", "full backup", fc, a/fc, fb, a/fb, fe, a/fe, fc/fb, fe/fb
  printf "   %-12s %9.2f s %18s %9.2f s %18s %9.2f s %18s   %.2fx / %.2fx faster (medians)\n", "incremental", ic, "", ib, "", ie, "", ic/ib, ie/ib
  printf "   %-12s %9.2f s %5.0f MiB/s %9.2f s %5.0f MiB/s %9.2f s %5.0f MiB/s   %.2fx / %.2fx faster (medians)\n", "restore", rc, b/rc, rb, b/rb, re, b/re, rc/rb, re/rb
  printf "   incremental upload: %d bytes for %d bytes of new files (%.2f%% over)\n", up, nb, (up - nb) * 100.0 / nb
}'
echo "   restored store verified: every key present with its value"
read_of() {  # read_of FILE: the bytes the command of --json FILE read (process_io)
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["process_io"]["read_bytes"])' "$1"
}
awk -v br="$(read_of "$scratch/full.json")" -v bu="$(json_figure "$scratch/full.json" bytes_uploaded)" \
    -v rr="$(read_of "$scratch/restore.json")" -v rd="$(json_figure "$scratch/restore.json" bytes_downloaded)" 'BEGIN {
  printf "   bytes read by blobstate: full backup %.0f MiB for %.0f MiB uploaded (%.2fx); restore %.0f MiB for %.0f MiB downloaded (%.2fx)\n", br/1048576, bu/1048576, br/bu, rr/1048576, rd/1048576, rr/rd
}'

# R.1, R.3: restores that start from what is on disk. "One commit behind": this host's store
# is as the last backup before the new data left it (restored from that blob store copy,
# untimed), and the latest checkpoint is restored over it. "Resumed": a restore into an
# empty directory is killed once half of the store's bytes are on disk in its staging
# area, then run again.
bt=(); bd=()
behind_bs() {
  rm -rf "$scratch/behind" "$scratch/behind.restore"
  "$bin/blobstate" restore --blob-store "file://$scratch/blobs.base" --job bench --task t0 \
    --store "db=$scratch/behind" >/dev/null
  bt+=("$(secs "$bin/blobstate" restore "${task[@]}" --store "db=$scratch/behind" --json)")
  bd+=("$(json_figure "$scratch/out" bytes_downloaded)")
  total_bytes=$(($(json_figure "$scratch/out" bytes_downloaded) + $(json_figure "$scratch/out" bytes_reused)))
}
for r in $(seq 1 "$runs"); do behind_bs; done
"$bin/blobstate-rocksdb" verify --db "$scratch/behind" --keys $((keys + new_keys)) \
  --value-size 1000 --total $((keys + new_keys)) >/dev/null
rt=(); rd=()
resumed_bs() {
  rm -rf "$scratch/resumed" "$scratch/resumed.restore" "$scratch/resumed.restore.snapshot"
  "$bin/blobstate" restore "${task[@]}" --store "db=$scratch/resumed" >/dev/null &
  local pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    local staged
    staged=$( (du -s --block-size=1 "$scratch/resumed.restore" 2>/dev/null || true) | cut -f1)
    if (( ${staged:-0} * 2 >= total_bytes )); then kill -9 "$pid"; break; fi
    sleep 0.02
  done
  wait "$pid" 2>/dev/null || true
  rt+=("$(secs "$bin/blobstate" restore "${task[@]}" --store "db=$scratch/resumed" --json)")
  rd+=("$(json_figure "$scratch/out" bytes_downloaded)")
}
for r in $(seq 1 "$runs"); do resumed_bs; done
"$bin/blobstate-rocksdb" verify --db "$scratch/resumed" --keys $((keys + new_keys)) \
  --value-size 1000 --total $((keys + new_keys)) >/dev/null
echo "== restores that start from what is on disk (medians; full restore: $rest_bs s, $((total_bytes >> 20)) MiB)"
awk -v t="$(median "${bt[@]}")" -v d="$(median "${bd[@]}")" -v f="$rest_bs" -v nb="$new_bytes" \
    -v tb="$total_bytes" -v rt="$(median "${rt[@]}")" -v rd="$(median "${rd[@]}")" 'BEGIN {
  printf "   one commit behind: %.2f s (%.1fx faster than full), %.1f MiB downloaded (the new files: %.1f MiB; the store: %.0f MiB)\n", t, f/t, d/1048576, nb/1048576, tb/1048576
  printf "   resumed after a kill at 50%%: %.2f s (%.2fx of full), %.1f MiB downloaded (%.0f%% of the store)\n", rt, rt/f, rd/1048576, rd*100/tb
}'
echo "   both restored stores verified: every key present with its value"

# What history costs in stored bytes: 4 commits after a full backup, with the default
# retention (the latest 3 kept) and with --keep-last 1 (no history), each from its own copy
# of the store, under two kinds of churn: "append" (5% new keys, compacted among
# themselves: old SST files stay) and "rewrite" (a range of 5% of the keys overwritten and
# the store compacted: the SST files covering that range are rewritten).
history_cost() {  # history_cost CHURN KEEP
  rm -rf "$scratch/hist" "$scratch/hist-blobs" "$scratch"/hist-*
  cp -a "$db" "$scratch/hist"
  local htask=(--blob-store "file://$scratch/hist-blobs" --job bench --task h --io-threads "$threads")
  "$bin/blobstate" backup "${htask[@]}" --store "db=$scratch/hist" --keep-last "$2" >/dev/null
  local start=$((keys + new_keys)) r
  for r in 1 2 3 4; do
    if [[ $1 == append ]]; then
      "$bin/blobstate-rocksdb" fill --db "$scratch/hist" --start "$start" --keys "$new_keys" --value-size 1000 >/dev/null
      "$bin/blobstate-rocksdb" compact --db "$scratch/hist" --start "$start" >/dev/null
      start=$((start + new_keys))
    else
      "$bin/blobstate-rocksdb" fill --db "$scratch/hist" --start $((r * new_keys)) --keys "$new_keys" --value-size 1000 >/dev/null
      "$bin/blobstate-rocksdb" compact --db "$scratch/hist" >/dev/null
    fi
    "$bin/blobstate" backup "${htask[@]}" --store "db=$scratch/hist" --keep-last "$2" >/dev/null
  done
  awk -v c="$1" -v k="$2" -v s="$(du -sb "$scratch/hist-blobs" | cut -f1)" \
      -v l="$(du -sb "$scratch/hist" | cut -f1)" 'BEGIN {
    printf "   %-7s churn, keep-last %d: %5d MiB stored for a %d MiB store (%.2fx)\n", c, k, s / 1048576, l / 1048576, s / l
  }'
  rm -rf "$scratch/hist" "$scratch/hist-blobs" "$scratch"/hist-*
}
echo "== stored bytes after 4 commits, default retention (keep 3) vs --keep-last 1"
for churn in append rewrite; do
  for keep in 3 1; do history_cost "$churn" "$keep"; done
done
