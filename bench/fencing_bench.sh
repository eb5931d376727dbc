#!/usr/bin/env bash
# What fencing costs (the claim per open, the conditional persist per commit) on file://,
# on Azurite (which enforces conditions itself) and on S3 through the test suite's proxy
# that enforces them in front of s3rver (so its figures include that proxy's extra HEAD
# and connection per conditional put; AWS S3 checks the condition itself).
#   BENCH_FENCING_ROUNDS  runs of each step (default 21)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/bin
rounds=${BENCH_FENCING_ROUNDS:-21}
scratch=$(mktemp -d "${BENCH_DIR:-/tmp}/blobstate-fencing-bench-XXXXXX")
source bench/lib.sh
start_servers
az_url=$(env_of BLOBSTATE_TEST_AZURE_URL)
"$bin/fencing_bench" "file://$scratch/blobs" "$rounds"
"$bin/fencing_bench" "$(env_of BLOBSTATE_TEST_S3_URL)" "$rounds"
# Azurite starts without the container; rclone makes it (as in cloud_bench.sh).
env -u AWS_CA_BUNDLE RCLONE_CONFIG_BAZ_TYPE=azureblob RCLONE_CONFIG_BAZ_USE_EMULATOR=true \
  RCLONE_CONFIG_BAZ_ENDPOINT="${az_url#*endpoint=}" rclone --config /dev/null mkdir baz:blobstate-test
"$bin/fencing_bench" "$az_url" "$rounds"
