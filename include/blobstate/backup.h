// How a task's stores are backed up: the options of the commit engine's backups
// (CommitOptions::backup, commit.h).
#ifndef BLOBSTATE_BACKUP_H_
#define BLOBSTATE_BACKUP_H_

#include <chrono>

#include "blobstate/diff.h"
#include "blobstate/transfer.h"

// The public API: exported from a shared libblobstate, which hides everything else.
#pragma GCC visibility push(default)

namespace blobstate {

struct BackupOptions {
  // Part size and TTL of the blobs put. Default TTL: 7 days, far longer than a commit; at
  // least kMinBlobTtl (commit.h).
  TransferOptions transfer{.ttl = std::chrono::hours(24 * 7)};
  // Names never backed up (e.g. an offsets file written beside the store's data).
  DiffOptions diff;
  // Whether each commit deletes the store's older local checkpoint directories.
  // Default: true.
  bool delete_old_checkpoint_dirs = true;
};

}  // namespace blobstate

#pragma GCC visibility pop

#endif  // BLOBSTATE_BACKUP_H_
