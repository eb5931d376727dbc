#!/usr/bin/env bash
# gc of BENCH_GC_BLOBS blobs (default 100,000) through file://, s3rver and Azurite: seconds,
# requests by kind and peak RSS of `blobstate gc`, first deleting the orphans, then a second
# run that finds nothing to delete. On file:// half the blobs are orphans; through the
# emulators BENCH_GC_CLOUD_ORPHANS (default 2,000) are, the rest named by a checkpoint
# (the usual case: a sweep finds a little garbage among much state), because their own cost
# per request grows with the bucket (s3rver walks its directory tree for each listing page;
# Azurite's delete scans the container): 50,000 deletes among 100,000 blobs take them
# hours. The listing is paged and deletions run as it goes, so the peak RSS grows with the
# marked set (the checkpoint's blobs), not with the bucket.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/bin
blobs=${BENCH_GC_BLOBS:-100000}
cloud_orphans=${BENCH_GC_CLOUD_ORPHANS:-2000}
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
  orphans=$cloud_orphans
  case $backend in
    file) url="file://$scratch/blobs"; orphans=$((blobs / 2)) ;;
    s3) url=$s3_url ;;
    azure) url=$az_url ;;
  esac
  [[ $backend != file ]] && url="${url%%\?*}/gc-bench-$RANDOM${url#"${url%%\?*}"}"
  echo "== gc of $blobs blobs through $backend ($((blobs - orphans)) kept, $orphans orphans)"
  "$bin/gc_bench" "$url" $((blobs - orphans)) "$orphans"
  gc_run "$backend: sweep" "$url"
  gc_run "$backend: nothing to do" "$url"
done
