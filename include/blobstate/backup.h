// How a task's stores are backed up: the options of the commit engine's backups
// (CommitOptions::backup, commit.h).
#ifndef BLOBSTATE_BACKUP_H_
#define BLOBSTATE_BACKUP_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

// The public API: exported from a shared libblobstate, which hides everything else.
#pragma GCC visibility push(default)

namespace blobstate {

struct BackupOptions {
  // Bytes per blob of a file; larger files are split, and their parts are put in parallel.
  // Default: 8 MiB (measured: a 53 MB file reaches the file:// store in 0.08 s in 8 MiB
  // parts, 0.15 s in one 64 MiB part).
  uint64_t part_size = 8ull << 20;
  // TTL of every blob put, removed by the commit that names it. Default: 7 days, far longer
  // than a commit; at least kMinBlobTtl (commit.h).
  std::chrono::seconds ttl = std::chrono::hours(24 * 7);
  // If set, the bytes of each part put are added to it once the part is done (for progress
  // reports); it must outlive the engine. Default: none.
  std::atomic<uint64_t>* progress = nullptr;
  // File names (at any depth) never backed up and ignored when comparing (e.g. an offsets
  // file written beside the store's data). Default: none.
  std::vector<std::string> excluded_names;
  // Whether each commit deletes the store's older local checkpoint directories.
  // Default: true.
  bool delete_old_checkpoint_dirs = true;
};

}  // namespace blobstate

#pragma GCC visibility pop

#endif  // BLOBSTATE_BACKUP_H_
