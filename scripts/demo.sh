#!/usr/bin/env bash
# The demo: back up a generated store-like directory tree to a file:// blob store, change
# it, back it up again (incrementally), restore it elsewhere as a new host would, and check
# that the restored tree is identical.
set -euo pipefail
cd "$(dirname "$0")/.."
bs=build/bin/blobstate
work=$(mktemp -d /tmp/blobstate-demo-XXXXXX)
trap 'rm -rf "$work"' EXIT
src=$work/store
url=file://$work/blobs

echo "== generating a store-like tree in $src"
mkdir -p "$src/sst" "$src/wal" "$src/empty-dir"
for i in $(seq 1 40); do
  head -c $((1024 * 1024 + i * 4096)) /dev/urandom >"$src/sst/$(printf '%06d' "$i").sst"
done
head -c $((96 * 1024 * 1024)) /dev/urandom >"$src/sst/big-000099.sst"   # a multi-part file
for i in $(seq 1 200); do head -c $((i * 37)) /dev/urandom >"$src/wal/$(printf '%03d' "$i").log"; done
: >"$src/empty-file"
echo "MANIFEST-000001" >"$src/CURRENT"
echo "   $(du -sh "$src" | cut -f1) in $(find "$src" -type f | wc -l) files, $(find "$src" -type d | wc -l) directories"

echo "== first backup (everything is new)"
first=$($bs backup-dir --blob-store "$url" --job demo --task task-0 --store store \
  --part-size $((32 * 1024 * 1024)) --json "$src")
echo "   $first"
id1=$(sed -E 's/.*"snapshot_index":"([^"]+)".*/\1/' <<<"$first")

echo "== changing 5 files, adding 10, removing 20"
for i in $(seq 1 5); do head -c 2048 /dev/urandom >>"$src/sst/$(printf '%06d' "$i").sst"; done
for i in $(seq 1 10); do head -c $((512 * 1024)) /dev/urandom >"$src/sst/new-$i.sst"; done
rm -f "$src"/wal/0{01..20}.log
echo "MANIFEST-000002" >"$src/CURRENT"

echo "== second backup (incremental: only what changed is uploaded)"
second=$($bs backup-dir --blob-store "$url" --job demo --task task-0 --store store \
  --previous "$id1" --part-size $((32 * 1024 * 1024)) --json "$src")
echo "   $second"
id2=$(sed -E 's/.*"snapshot_index":"([^"]+)".*/\1/' <<<"$second")

echo "== restoring the second snapshot into an empty directory (a new host)"
$bs restore-dir --blob-store "$url" --index "$id2" "$work/restored"

echo "== comparing the restored tree with the original"
diff -r "$src" "$work/restored" && echo "   identical: every file, empty file and empty directory"
$bs show --blob-store "$url" --index "$id2" | head -n 6
echo "== demo done"
