// The blob-level work of backup cleanups: deleting what no live checkpoint references any
// more, and finishing the cleanups of writers from before history, in the order that keeps
// a crash recoverable.
#ifndef BLOBSTATE_BACKUP_SNAPSHOT_CLEANER_H_
#define BLOBSTATE_BACKUP_SNAPSHOT_CLEANER_H_

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "blobstate/blob_store.h"
#include "blobstate/future.h"
#include "blobstate/snapshot.h"
#include "index/index_file.h"
#include "transfer/transfer.h"

namespace blobstate {

// One cleanup, run in this order (each step after the previous one succeeded):
//   1. remove the TTL of ttl_blobs (in parallel), flush, 2. then of ttl_index;
//   3. delete delete_blobs (in parallel; already gone counts as deleted), flush,
//   4. then delete_indexes, one after the other, in order, and flush.
// The flushes keep that order after a crash on a store whose changes are durable only
// once flushed (file://), which Recover relies on. Every step is idempotent, so a failed
// run can be run again as it is.
struct CleanupWork {
  std::set<std::string> ttl_blobs;
  std::string ttl_index;  // empty: none
  std::set<std::string> delete_blobs;
  std::vector<std::string> delete_indexes;

  bool Empty() const {
    return ttl_blobs.empty() && ttl_index.empty() && delete_blobs.empty() && delete_indexes.empty();
  }
};

// The blob ids of every file in `dir`, at every depth.
std::set<std::string> BlobSet(const DirIndex& dir);

// The blob ids of snapshots, compactly: the XXH3-128 of each id, sorted and unique, 16
// bytes an id whatever its length (a 300,000-file snapshot: 4.8 MB). Membership is decided
// by the hash: two ids with one hash (a chance of 2^-128 a pair) count as one.
class BlobIdSet {
 public:
  // Every blob id of the files in `dir`, at every depth.
  static BlobIdSet Of(const DirIndex& dir);
  // Every blob id of the files present in `index` (not removed), read a directory at a
  // time; the errors of IndexFile::ReadDir.
  static Result<BlobIdSet> Of(const IndexFile& index);
  // Adds `id` to a set being built; Seal must follow before the set is used.
  void Insert(std::string_view id);
  // Sorts what Insert added and drops duplicates.
  void Seal();
  // Adds the ids of `other`.
  void Add(const BlobIdSet& other);
  bool Contains(std::string_view id) const;
  size_t size() const { return hashes_.size(); }

 private:
  std::vector<Checksum> hashes_;
};

// The blob ids of the files in `dir` (at every depth) that `keep` lacks, sorted, each once.
std::vector<std::string> BlobsNotIn(const DirIndex& dir, const BlobIdSet& keep);

class SnapshotCleaner {
 public:
  // All must outlive this object and its futures.
  SnapshotCleaner(BlobStore& store, Executor& executor, Transfer& transfer);

  // Removes TTLs (blobs first, then the index), deletes blobs, then indexes one by one,
  // flushing the store after each step so that the steps become durable in this order.
  // Fails at the first error.
  Future<void> Run(CleanupWork work);

  // Finishes the cleanup of `snapshot` (persisted by a writer from before history, whose
  // cleanup removed TTLs after the persist) if a crash interrupted it. A
  // cleanup deletes the previous index last, so it finished if the previous index is gone
  // (or there is none and... see below); otherwise the TTL of every blob of `snapshot` is
  // removed and the ancestors still present (up to kMaxAncestors) are deleted with the
  // blobs `snapshot` does not share. A first snapshot (no previous index) has its
  // cleanup finished once its index has no TTL (which the cleanup removes last); until
  // then, the TTL of each of its blobs is removed. kDataLoss, changing nothing, if
  // `snapshot` or an ancestor belongs to another job, task or store than `owner` names, or
  // an ancestor is `snapshot` itself or appears twice. The walk through the ancestors
  // stops at one in `keep` (a pinned snapshot), which is never deleted, nor anything older,
  // nor a blob it shares with the ancestors deleted.
  Future<void> Recover(const StoreSnapshot& snapshot, const SnapshotMetadata& owner,
                       std::set<std::string> keep = {});

  // Deletes the snapshot `index_blob_id`: its blobs not in `keep` (those of the snapshots
  // still live), then its index. A missing index counts as deleted. kDataLoss, deleting
  // nothing, if the snapshot belongs to another job, task or store than `owner` names, or
  // names a blob of another.
  Future<void> DeleteSnapshot(const SnapshotMetadata& owner, const std::string& index_blob_id,
                              std::shared_ptr<const BlobIdSet> keep);

  static constexpr int kMaxAncestors = 16;

 private:
  // The ancestors of a snapshot still present, newest first, starting at `index_blob_id`.
  Future<std::vector<StoreSnapshot>> PresentAncestors(std::string index_blob_id, int budget);

  BlobStore& store_;
  Executor& executor_;
  Transfer& transfer_;
};

}  // namespace blobstate

#endif  // BLOBSTATE_BACKUP_SNAPSHOT_CLEANER_H_
