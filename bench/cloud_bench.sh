#!/usr/bin/env bash
# Backup and restore of a RocksDB store through s3rver and through Azurite, side by side
# with `rclone copy` of the same directory to and from the same server, in the same run;
# then the requests of an incremental commit (5% new data + compaction).
#   BENCH_CLOUD_MIB   size of the store (default 1024)
#   BENCH_CLOUD_RUNS  runs of each step (default 3), after one discarded run
#   BENCH_DIR         scratch directory (default /tmp)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/bin
mib=${BENCH_CLOUD_MIB:-1024}
scratch=$(mktemp -d "${BENCH_DIR:-/tmp}/blobstate-cloud-bench-XXXXXX")
source bench/lib.sh
start_servers
# s3rver itself, as rclone sees it: it ignores conditional writes, so fencing is off (one
# writer here); the proxy that enforces them for the tests would only slow both tools.
s3_url="$(env_of BLOBSTATE_TEST_S3_DIRECT_URL)&fencing=off"
az_url=$(env_of BLOBSTATE_TEST_AZURE_URL)
s3_endpoint=${s3_url#*endpoint=}; s3_endpoint=${s3_endpoint%%&*}
# rclone's remotes, configured through its environment variables: bs3 here, baz (and the
# container) by azure_container.
export RCLONE_CONFIG_BS3_TYPE=s3 RCLONE_CONFIG_BS3_PROVIDER=Other
export RCLONE_CONFIG_BS3_ENDPOINT=$s3_endpoint RCLONE_CONFIG_BS3_FORCE_PATH_STYLE=true
export RCLONE_CONFIG_BS3_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID
export RCLONE_CONFIG_BS3_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY
azure_container

db=$scratch/db
keys=$((mib * 1024))
echo "== cloud benchmark: filling $keys keys (~$mib MiB)"
fill_store "$db" "$keys"

# Azurite keeps every byte in memory, up to half the RAM, and frees deleted blobs only
# later: a run puts 2 GiB there, so this benchmark has its own, smaller run count.
runs=${BENCH_CLOUD_RUNS:-3}
with_prefix() {  # with_prefix URL PREFIX: the URL with PREFIX as its key prefix
  local base=${1%%\?*} query=${1#*\?}
  echo "$base/$2?$query"
}
rows=()
for backend in s3 azure; do
  url=$([ $backend = s3 ] && echo "$s3_url" || echo "$az_url")
  remote=$([ $backend = s3 ] && echo "bs3:blobstate-test" || echo "baz:blobstate-test")
  bp=(); bg=(); rp=(); rg=()
  # Each run starts from an empty prefix; blobstate goes first in odd runs, rclone in even.
  # Run 0 is discarded: right after the fill's gigabyte of writes this disk is slow.
  for r in $(seq 0 "$runs"); do
    task=(--blob-store "$(with_prefix "$url" "bench-$r")" --job bench --task t0)
    blobstate_pair() {
      rm -rf "$db"-* "$scratch/restored"
      bp+=("$(secs "$bin/blobstate" backup "${task[@]}" --store "db=$db" --json)")
      bg+=("$(secs "$bin/blobstate" restore "${task[@]}" --store "db=$scratch/restored")")
      "$bin/blobstate-rocksdb" verify --db "$scratch/restored" --keys "$keys" \
        --value-size 1000 --total "$keys" >/dev/null
    }
    rclone_pair() {
      rm -rf "$scratch/rclone"
      rp+=("$(secs rclone_ copy "$db" "$remote/rclone-$r")")
      rg+=("$(secs rclone_ copy "$remote/rclone-$r" "$scratch/rclone")")
    }
    if ((r % 2)); then blobstate_pair; rclone_pair; else rclone_pair; blobstate_pair; fi
    if ((r == 0)); then bp=(); bg=(); rp=(); rg=(); fi
    rclone_ purge "$remote/rclone-$r"; rclone_ purge "$remote/bench-$r"
  done
  echo "   $backend runs (s): blobstate backup ${bp[*]}, restore ${bg[*]}; rclone up ${rp[*]}, down ${rg[*]}"
  p1=$(median "${bp[@]}"); g1=$(median "${bg[@]}"); p2=$(median "${rp[@]}"); g2=$(median "${rg[@]}")
  rows+=("$(printf "   %-7s %8.2f s %5.0f MiB/s %8.2f s %5.0f MiB/s %8.2f s %5.0f MiB/s %8.2f s %5.0f MiB/s" \
    $backend "$p1" "$(echo "$db_mib / $p1" | bc -l)" "$p2" "$(echo "$db_mib / $p2" | bc -l)" \
    "$g1" "$(echo "$db_mib / $g1" | bc -l)" "$g2" "$(echo "$db_mib / $g2" | bc -l)")")
done
echo "   medians of $runs runs (rclone copy does not fsync what it downloads; a blobstate restore does)"
printf "   %-7s %25s %25s %25s %25s\n" backend "blobstate backup" "rclone copy up" "blobstate restore" "rclone copy down"
printf '%s\n' "${rows[@]}"

# One incremental commit per backend: 5% new keys, then a compaction of their range. The
# plain PUTs should be the new files' parts (8 MiB each) + 1 index + 1 checkpoint.
rm -rf "$db"-*
for url in "$s3_url" "$az_url"; do  # the base the incremental commits diff against
  "$bin/blobstate" backup --blob-store "$(with_prefix "$url" bench)" --job bench --task t0 \
    --store "db=$db" >/dev/null
done
files_of "$db" >"$scratch/before"
"$bin/blobstate-rocksdb" fill --db "$db" --start "$keys" --keys $((keys / 20)) --value-size 1000 >/dev/null
"$bin/blobstate-rocksdb" compact --db "$db" --start "$keys" >/dev/null
files_of "$db" >"$scratch/after"
parts=$(comm -13 "$scratch/before" "$scratch/after" | grep -v -E '^(LOG|LOCK)' |
  awk '{p += int(($2 + 8388607) / 8388608)} END {print p + 0}')
for backend in s3 azure; do
  url=$([ $backend = s3 ] && echo "$s3_url" || echo "$az_url")
  "$bin/blobstate" backup --blob-store "$(with_prefix "$url" bench)" --job bench --task t0 \
    --store "db=$db" --json >"$scratch/incr.json"
  # A backup is an open (the claim: 1 put, and unless fencing=off 2 probe puts, If-None-Match
  # and If-Match, on the probe object the first backup made) and a commit.
  claim=$([ $backend = s3 ] && echo 1 || echo 3)
  python3 - "$scratch/incr.json" "$backend" "$parts" "$claim" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
s, r, parts, claim = d["stores"]["_all"], d["blob_requests"], int(sys.argv[3]), int(sys.argv[4])
print(f"   {sys.argv[2]} incremental backup: {s['files_uploaded']} new files "
      f"({s['bytes_uploaded'] / 2**20:.1f} MiB) in {d['seconds']:.2f} s; "
      f"puts {r.get('put', 0) + r.get('put-object', 0)} (expected: the commit's {parts} parts"
      f" + 1 index + 1 history (the previous checkpoint, retained) + 1 checkpoint"
      f" = {parts + 3}, and the claim's {claim} = {parts + 3 + claim})")
print("     all requests: " + ", ".join(f"{k} {v}" for k, v in sorted(r.items())))
PY
done
