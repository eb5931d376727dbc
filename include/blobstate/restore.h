// How a task's stores are restored: the options of the commit engine's restores
// (CommitOptions::restore, commit.h).
#ifndef BLOBSTATE_RESTORE_H_
#define BLOBSTATE_RESTORE_H_

#include <atomic>
#include <cstdint>

#include "blobstate/diff.h"

namespace blobstate {

struct RestoreOptions {
  // Whether downloaded files are checked against their recorded checksum. Default: true.
  bool verify_checksums = true;
  // Whether restored trees are made durable (fsync of files and directories) before Restore
  // completes. Default: true.
  bool sync = true;
  // Bytes downloaded so far are added here, if set (TransferOptions::progress).
  std::atomic<uint64_t>* progress = nullptr;
  // Names ignored when comparing a local checkpoint directory with a snapshot (files that
  // were never uploaded, e.g. an offsets file). Default: none.
  DiffOptions diff;
  // Whether a non-empty store directory that cannot be identified as the store's is
  // emptied all the same (the CLI's --force). Default: false.
  bool force = false;
};

}  // namespace blobstate

#endif  // BLOBSTATE_RESTORE_H_
