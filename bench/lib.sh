# Helpers the benchmark scripts source. They expect $scratch, a scratch directory.

# Runs "$@" after a sync, so that it pays for no earlier step's writeback; prints its wall
# time in seconds. Its stdout is kept in $scratch/out.
secs() {
  sync
  local t0
  t0=$(date +%s%N)
  "$@" >"$scratch/out"
  awk -v ns=$(($(date +%s%N) - t0)) 'BEGIN {printf "%.3f", ns / 1e9}'
}

# Writes $1 MiB to a file in /dev/shm and deletes it, so that the next $1 MiB the kernel
# hands out are memory the guest already holds. A VM that returns free memory to its host
# (virtio-balloon's free page reporting) makes the first touch of each returned page a
# fault in the host: a restore of 4 GiB whose page cache landed on such memory took
# 6.7-8.5 s (11-15 s of system time) instead of 3.1-4.0 s (1.4-1.9 s) right after 6 GiB were
# freed. Does nothing where /dev/shm has less room.
prime_memory() {
  local avail_mib
  avail_mib=$(df -m --output=avail /dev/shm 2>/dev/null | tail -1) || return 0
  [ "${avail_mib:-0}" -gt "$1" ] || return 0
  dd if=/dev/zero of="/dev/shm/blobstate-bench-prime.$$" bs=1M count="$1" status=none || true
  rm -f "/dev/shm/blobstate-bench-prime.$$"
}

# The median of the numbers given as arguments.
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# "path size" of every file under $1, sorted: what a diff of two listings compares.
files_of() { (cd "$1" && find . -type f -printf '%P %s\n' | sort); }

# Fills a new RocksDB store at $1 with $2 keys of 1000-byte values (blobstate-rocksdb, in
# $bin) and compacts it; sets db_mib to its size and prints it.
fill_store() {
  "$bin/blobstate-rocksdb" fill --db "$1" --keys "$2" --value-size 1000 >/dev/null
  "$bin/blobstate-rocksdb" compact --db "$1" >/dev/null
  db_mib=$(($(du -sb "$1" | cut -f1) >> 20))
  echo "   store: $db_mib MiB in $(find "$1" -type f | wc -l) files"
}

# Starts the test blob servers (scripts/test-servers.sh, with the proxy that enforces
# conditional writes in front of s3rver) under $scratch/servers, stopped and $scratch
# removed on exit, and exports their credentials. env_of NAME then gives a value of their
# env file (BLOBSTATE_TEST_S3_URL, ...).
start_servers() {
  servers=$scratch/servers
  trap 'scripts/test-servers.sh stop "$servers" >/dev/null 2>&1 || true; rm -rf "$scratch"' EXIT
  scripts/test-servers.sh start "$servers" "$bin/blobstate-test-proxy" >/dev/null
  export AWS_ACCESS_KEY_ID=$(env_of BLOBSTATE_TEST_S3_ACCESS_KEY)
  export AWS_SECRET_ACCESS_KEY=$(env_of BLOBSTATE_TEST_S3_SECRET_KEY)
  export AZURE_STORAGE_KEY=$(env_of BLOBSTATE_TEST_AZURE_KEY)
}
env_of() { grep "^$1=" "$servers/env" | cut -d= -f2-; }

# rclone without AWS_CA_BUNDLE, configured by the environment only.
rclone_() { env -u AWS_CA_BUNDLE rclone --config /dev/null "$@"; }
# Configures rclone's remote "baz" for Azurite (its well-known account and key, at the
# endpoint of BLOBSTATE_TEST_AZURE_URL) and creates the container blobstate-test there:
# the servers start without it.
azure_container() {
  local az_url
  az_url=$(env_of BLOBSTATE_TEST_AZURE_URL)
  export RCLONE_CONFIG_BAZ_TYPE=azureblob RCLONE_CONFIG_BAZ_USE_EMULATOR=true
  export RCLONE_CONFIG_BAZ_ENDPOINT=${az_url#*endpoint=}
  rclone_ mkdir baz:blobstate-test
}
