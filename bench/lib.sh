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
