#!/usr/bin/env bash
# A directory store of many small files (R.6): for each count in BENCH_SMALL_FILES (default
# "300000 1000000"), files of 256 bytes in directories of 1,000, backed up, backed up again
# with nothing changed, and restored on a new host, by
#   cp -r + sync        (the limit: a plain durable copy)
#   rclone copy + sync  (to a local directory and back)
#   blobstate (file://) (backup / restore commands)
# in the same run, on the same disk. Prints seconds and peak RSS of each, and the bytes
# blobstate read against those it moved (--json's process_io). One run each: the largest
# count takes minutes per step.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/bin
scratch=$(mktemp -d "${BENCH_DIR:-/tmp}/blobstate-files-bench-XXXXXX")
trap 'rm -rf "$scratch"' EXIT
source bench/lib.sh

# Runs "$@" after a sync; prints "seconds peak_rss_mib". Its stdout is kept in $scratch/out.
timed() {
  sync
  /usr/bin/time -f "%e %M" -o "$scratch/time" "$@" >"$scratch/out"
  awk '{printf "%.2f %d", $1, $2 / 1024}' "$scratch/time"
}
io_of() {  # io_of KEY: process_io KEY of the --json output in $scratch/out
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["process_io"][sys.argv[2]])' \
    "$scratch/out" "$1"
}
moved_of() {  # moved_of KEY: KEY of the "_all" store figures in $scratch/out
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["stores"]["_all"][sys.argv[2]])' \
    "$scratch/out" "$1"
}
row() { printf "   %-30s %8s s %6s MiB\n" "$1" "${2% *}" "${2#* }"; }
rclone=(rclone --config /dev/null --transfers 16)

for count in ${BENCH_SMALL_FILES:-300000 1000000}; do
  src=$scratch/src
  rm -rf "$scratch"/*
  python3 - "$src" "$count" <<'EOF'
import os, sys
root, count = sys.argv[1], int(sys.argv[2])
for i in range(count):
    d = os.path.join(root, "%04d" % (i // 1000))
    if i % 1000 == 0:
        os.makedirs(d)
    with open(os.path.join(d, "%d.dat" % i), "wb") as f:
        f.write(os.urandom(256))
EOF
  echo "== $count files of 256 bytes ($(( $(du -sk "$src" | cut -f1) >> 10 )) MiB on disk)"
  row "cp -r + sync (backup)" "$(timed bash -c "cp -r '$src' '$scratch/cp' && sync")"
  row "cp -r + sync (restore)" "$(timed bash -c "cp -r '$scratch/cp' '$scratch/cp2' && sync")"
  rm -rf "$scratch/cp" "$scratch/cp2"
  row "rclone copy + sync (backup)" \
    "$(timed bash -c "${rclone[*]} copy '$src' '$scratch/rc' && sync")"
  row "rclone copy + sync (restore)" \
    "$(timed bash -c "${rclone[*]} copy '$scratch/rc' '$scratch/rc2' && sync")"
  rm -rf "$scratch/rc" "$scratch/rc2"
  task=(--blob-store "file://$scratch/blobs" --job bench --task files)
  row "blobstate backup" "$(timed "$bin/blobstate" backup "${task[@]}" --store "s=$src" --json)"
  echo "      read $(io_of read_bytes) bytes for $(moved_of bytes_uploaded) uploaded"
  row "blobstate no change" "$(timed "$bin/blobstate" backup "${task[@]}" --store "s=$src" --json)"
  row "blobstate restore" "$(timed "$bin/blobstate" restore "${task[@]}" --store "s=$scratch/r" --json)"
  echo "      read $(io_of read_bytes) bytes for $(moved_of bytes_downloaded) downloaded" \
    "(and the snapshot index)"
  echo "   targets: peak RSS < 256 MiB for each blobstate step; no change < 5 s at 300,000 files"
done
