// How a task's stores are restored: the options of the commit engine's restores
// (CommitOptions::restore, commit.h). A restore downloads only what no local file holds
// (the store directory, its local checkpoint directories, an interrupted restore's staging
// area), assembles the new tree beside the store and swaps it in at the end, so the store
// directory holds its previous contents, whole, until the restore succeeds.
#ifndef BLOBSTATE_RESTORE_H_
#define BLOBSTATE_RESTORE_H_

#include <atomic>
#include <cstdint>

// The public API: exported from a shared libblobstate, which hides everything else.
#pragma GCC visibility push(default)

namespace blobstate {

struct RestoreOptions {
  // Whether downloaded files are checked against their recorded checksum. Default: true.
  bool verify_checksums = true;
  // Whether downloaded parts are also checked against their chunks' checksums (an index
  // of version 3 records them; lazy reads rely on them), as `blobstate verify` does. Costs
  // one more hash of every byte. Only with verify_checksums. Default: false.
  bool verify_chunk_checksums = false;
  // Whether restored trees are made durable (fsync of files and directories) before Restore
  // completes. Default: true.
  bool sync = true;
  // Bytes downloaded so far are added here, if set (TransferOptions::progress).
  std::atomic<uint64_t>* progress = nullptr;
  // Whether a non-empty store directory, or a staging area `<dir>.restore` holding
  // something, that cannot be identified as the store's is emptied all the same (the
  // CLI's --force). Default: false.
  bool force = false;
  // Lazy restore: the RocksDB table files (`*.sst` at the top of a store) not found locally
  // are not downloaded. The store is swapped in without them and `<dir>.remote` lists
  // them; RocksDbStore::Open with the blob store opens it at once, serves reads of them
  // from the blob store, and downloads them in the background. Files of a version 1 index
  // (no part checksums) are downloaded all the same. Default: false.
  bool lazy = false;
};

}  // namespace blobstate

#pragma GCC visibility pop

#endif  // BLOBSTATE_RESTORE_H_
