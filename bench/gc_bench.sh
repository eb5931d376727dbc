#!/usr/bin/env bash
# gc through file://, s3rver and Azurite: seconds, requests by kind and peak RSS of
# `blobstate gc`, first deleting the orphans, then a second run that finds nothing to
# delete. The listing is paged and deletions run as it goes, so the peak RSS grows with the
# marked set (the checkpoint's blobs), not with the bucket.
#   file://  BENCH_GC_BLOBS blobs (default 100,000), half of them orphans
#   s3rver   BENCH_GC_BLOBS blobs, BENCH_GC_CLOUD_ORPHANS of them orphans (default 2,000):
#            a little garbage among much state, the usual case
#   Azurite  BENCH_GC_AZURE_BLOBS blobs (default 10,000), half of them orphans
# The emulators' own cost per request grows with the bucket: s3rver walks its directory
# tree for each listing page (about 1 s a page at 100,000 keys), and Azurite's puts and
# deletes slow down as its container grows (27 ms a delete at 10,000 blobs; filling it
# with 100,000 did not end within 20 minutes). At 100,000 blobs half of them orphans, a
# sweep through either takes hours, all of it theirs.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/bin
blobs=${BENCH_GC_BLOBS:-100000}
cloud_orphans=${BENCH_GC_CLOUD_ORPHANS:-2000}
azure_blobs=${BENCH_GC_AZURE_BLOBS:-10000}
scratch=$(mktemp -d "${BENCH_DIR:-/tmp}/blobstate-gc-bench-XXXXXX")
source bench/lib.sh
start_servers
az_url=$(env_of BLOBSTATE_TEST_AZURE_URL)
env -u AWS_CA_BUNDLE RCLONE_CONFIG_BAZ_TYPE=azureblob RCLONE_CONFIG_BAZ_USE_EMULATOR=true \
  RCLONE_CONFIG_BAZ_ENDPOINT="${az_url#*endpoint=}" rclone --config /dev/null mkdir baz:blobstate-test
# s3rver directly (gc writes no checkpoint, so it needs no fencing; the fill's claim is
# made with fencing=off): the proxy would add its own cost to every request.
s3_url="$(env_of BLOBSTATE_TEST_S3_DIRECT_URL)&fencing=off"

gc_run() {  # gc_run NAME URL: one gc, printed as seconds, RSS, deletions and requests
  /usr/bin/time -f "%e %M" -o "$scratch/time" "$bin/blobstate" gc --blob-store "$2" \
    --grace 0s --json >"$scratch/gc.json"
  read -r secs rss <"$scratch/time"
  python3 - "$1" "$secs" "$rss" "$scratch/gc.json" <<'PY'
import json, sys
name, secs, rss, path = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
r = json.load(open(path))
req = ", ".join(f"{k} {v}" for k, v in sorted(r["requests"].items()))
print(f"   {name:<22} {secs:7.2f} s  {r['total']['blobs']:7d} listed  {r['deleted']:6d} deleted"
      f"  peak RSS {rss // 1024:4d} MiB  requests: {req}")
PY
}

for backend in file s3 azure; do
  n=$blobs
  case $backend in
    file) url="file://$scratch/blobs"; orphans=$((blobs / 2)) ;;
    s3) url=$s3_url; orphans=$cloud_orphans ;;
    azure) url=$az_url; n=$azure_blobs; orphans=$((azure_blobs / 2)) ;;
  esac
  [[ $backend != file ]] && url="${url%%\?*}/gc-bench-$RANDOM${url#"${url%%\?*}"}"
  echo "== gc of $n blobs through $backend ($((n - orphans)) kept, $orphans orphans)"
  "$bin/gc_bench" "$url" $((n - orphans)) "$orphans"
  gc_run "$backend: sweep" "$url"
  gc_run "$backend: nothing to do" "$url"
done
