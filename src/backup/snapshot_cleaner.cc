#include "backup/snapshot_cleaner.h"

#include <algorithm>
#include <functional>
#include <iterator>
#include <memory>
#include <set>
#include <span>

#include "blobstore/blob_ids.h"
#include "checkpoint/snapshot_util.h"
#include "index/codec.h"
#include "util/hash.h"

namespace blobstate {

std::set<std::string> BlobSet(const DirIndex& dir) {
  std::vector<std::string> ids = BlobIdsOf(dir);
  return std::set<std::string>(ids.begin(), ids.end());
}

namespace {

bool HashLess(const Checksum& a, const Checksum& b) {
  return a.high != b.high ? a.high < b.high : a.low < b.low;
}

Checksum HashOfId(std::string_view id) { return HashBytes(id.data(), id.size()); }

void ForEachBlobId(const DirIndex& dir, const std::function<void(const std::string&)>& fn) {
  for (const FileIndex& f : dir.files_present) {
    for (const FileBlob& b : f.blobs) fn(b.blob_id);
  }
  for (const DirIndex& sub : dir.subdirs_present) ForEachBlobId(sub, fn);
}

}  // namespace

BlobIdSet BlobIdSet::Of(const DirIndex& dir) {
  BlobIdSet set;
  ForEachBlobId(dir, [&set](const std::string& id) { set.Insert(id); });
  set.Seal();
  return set;
}

Result<BlobIdSet> BlobIdSet::Of(const IndexFile& index) {
  BlobIdSet set;
  RETURN_IF_ERROR(index.VisitFiles([&set](const FileIndex& f, bool removed) {
    if (removed) return;
    for (const FileBlob& b : f.blobs) set.Insert(b.blob_id);
  }));
  set.Seal();
  return set;
}

void BlobIdSet::Insert(std::string_view id) { hashes_.push_back(HashOfId(id)); }

void BlobIdSet::Seal() {
  std::sort(hashes_.begin(), hashes_.end(), HashLess);
  hashes_.erase(std::unique(hashes_.begin(), hashes_.end()), hashes_.end());
  hashes_.shrink_to_fit();
}

void BlobIdSet::Add(const BlobIdSet& other) {
  std::vector<Checksum> merged;
  merged.reserve(hashes_.size() + other.hashes_.size());
  std::set_union(hashes_.begin(), hashes_.end(), other.hashes_.begin(), other.hashes_.end(),
                 std::back_inserter(merged), HashLess);
  hashes_ = std::move(merged);
}

bool BlobIdSet::Contains(std::string_view id) const {
  return std::binary_search(hashes_.begin(), hashes_.end(), HashOfId(id), HashLess);
}

std::vector<std::string> BlobsNotIn(const DirIndex& dir, const BlobIdSet& keep) {
  std::vector<std::string> out;
  ForEachBlobId(dir, [&](const std::string& id) {
    if (!keep.Contains(id)) out.push_back(id);
  });
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

SnapshotCleaner::SnapshotCleaner(BlobStore& store, Executor& executor, Transfer& transfer)
    : store_(store), executor_(executor), transfer_(transfer) {}

Future<void> SnapshotCleaner::Run(CleanupWork work) {
  auto w = std::make_shared<const CleanupWork>(std::move(work));
  return transfer_.RemoveTtls(ToBlobIds({w->ttl_blobs.begin(), w->ttl_blobs.end()}))
      .Map(executor_, [this] { return store_.Flush(); })
      .Map(executor_,
           [this, w] {
             return w->ttl_index.empty() ? MakeReadyFuture() : store_.RemoveTtl(w->ttl_index);
           })
      .Map(executor_,
           [this, w] {
             return transfer_.DeleteBlobs(
                 ToBlobIds({w->delete_blobs.begin(), w->delete_blobs.end()}));
           })
      .Map(executor_, [this] { return store_.Flush(); })
      .Map(executor_, [this, w] {
        // Oldest first, each durable before the next: Recover takes a present newer
        // index as the sign that the older ones may still be there.
        Future<void> chain = MakeReadyFuture();
        for (const std::string& id : w->delete_indexes) {
          chain = std::move(chain)
                      .Map(executor_,
                           [this, id] {
                             // Already gone counts as deleted.
                             return transfer_.DeleteBlobs(ToBlobIds({id}));
                           })
                      .Map(executor_, [this] { return store_.Flush(); });
        }
        return chain;
      });
}

namespace {

// The first blob id of `dir` (files present and removed, removed subdirectories, at any
// depth) that does not start with `prefix`; "" if none.
std::string ForeignBlob(const DirIndex& dir, const std::string& prefix) {
  for (const auto* files : {&dir.files_present, &dir.files_removed}) {
    for (const FileIndex& f : *files) {
      for (const FileBlob& b : f.blobs) {
        if (!b.blob_id.starts_with(prefix)) return b.blob_id;
      }
    }
  }
  for (const auto* subdirs : {&dir.subdirs_present, &dir.subdirs_removed}) {
    for (const DirIndex& sub : *subdirs) {
      if (std::string id = ForeignBlob(sub, prefix); !id.empty()) return id;
    }
  }
  return "";
}

// The start of the id of every blob of `owner` (NewBlobId).
std::string OwnerPrefix(const SnapshotMetadata& owner) {
  return SanitizeIdComponent(owner.job_name) + "/" + SanitizeIdComponent(owner.task_name) + "/" +
         SanitizeIdComponent(owner.store_name) + "/";
}

// CheckOwner, for a snapshot whose first blob not of its owner is `foreign` ("" if none).
Status CheckOwnerWith(const StoreSnapshot& s, const SnapshotMetadata& owner, std::string_view head,
                      const std::string& foreign) {
  const SnapshotMetadata& m = s.index.metadata;
  if (m.job_name == owner.job_name && m.task_name == owner.task_name &&
      m.store_name == owner.store_name) {
    if (foreign.empty()) return Status::Ok();
    return DataLossError("snapshot " + s.index_blob_id + ", reached from " + std::string(head) +
                         ", names blob " + foreign + ", which is not of job " + owner.job_name +
                         ", task " + owner.task_name + ", store " + owner.store_name +
                         "; nothing deleted");
  }
  return DataLossError("snapshot " + s.index_blob_id + ", reached from " + std::string(head) +
                       ", belongs to job " + m.job_name + ", task " + m.task_name + ", store " +
                       m.store_name + ", not to job " + owner.job_name + ", task " +
                       owner.task_name + ", store " + owner.store_name + "; nothing deleted");
}

// kDataLoss unless snapshot `s` (reached from `head`) belongs to `owner`'s job, task and
// store, and so does every blob it names (its id starts with the owner's names, as
// NewBlobId makes them): a corrupt or forged index or link must never make a cleanup
// untag or delete another's blobs.
Status CheckOwner(const StoreSnapshot& s, const SnapshotMetadata& owner, std::string_view head) {
  return CheckOwnerWith(s, owner, head, ForeignBlob(s.index.root, OwnerPrefix(owner)));
}

// kDataLoss unless every snapshot of `ancestors` belongs to `owner` and appears once,
// `head` (whose ancestors they are) not among them.
Status CheckAncestors(const std::string& head, const SnapshotMetadata& owner,
                      std::span<const StoreSnapshot> ancestors) {
  std::set<std::string> seen = {head};
  for (const StoreSnapshot& s : ancestors) {
    if (!seen.insert(s.index_blob_id).second) {
      return DataLossError("the previous-index links of snapshot " + head + " loop at " +
                           s.index_blob_id + "; nothing deleted");
    }
    RETURN_IF_ERROR(CheckOwner(s, owner, head));
  }
  return Status::Ok();
}

}  // namespace

Future<std::vector<StoreSnapshot>> SnapshotCleaner::PresentAncestors(std::string index_blob_id,
                                                                     int budget) {
  using Out = std::vector<StoreSnapshot>;
  if (index_blob_id.empty() || budget <= 0) return MakeReadyFuture<Out>(Out{});
  return GetSnapshotIndex(store_, executor_, index_blob_id)
      .Then(executor_, [this, index_blob_id, budget](Result<SnapshotIndex> index) -> Future<Out> {
        if (index.status().code() == StatusCode::kNotFound) return MakeReadyFuture<Out>(Out{});
        if (!index.ok()) return MakeReadyFuture<Out>(index.status());
        std::string prev = index->prev_snapshot_index_blob_id;
        StoreSnapshot found{index_blob_id, std::move(*index)};
        return PresentAncestors(prev, budget - 1)
            .Map(executor_, [found = std::move(found)](Out older) mutable {
              older.insert(older.begin(), std::move(found));
              return older;
            });
      });
}

Future<void> SnapshotCleaner::Recover(const StoreSnapshot& snapshot, const SnapshotMetadata& owner,
                                      std::set<std::string> keep) {
  auto s = std::make_shared<const StoreSnapshot>(snapshot);
  if (Status bad = CheckOwner(*s, owner, "the checkpoint"); !bad.ok()) {
    return MakeReadyFuture<void>(bad);
  }
  if (s->index.prev_snapshot_index_blob_id.empty()) {
    // A first snapshot: its cleanup removes the index's TTL after all the others, so an
    // index without one means the cleanup finished.
    using Expiry = std::optional<std::chrono::system_clock::time_point>;
    return store_.ExpiryOf(s->index_blob_id).Then(executor_, [this, s](Result<Expiry> ttl) {
      if (ttl.ok() && !ttl->has_value()) return MakeReadyFuture();
      CleanupWork work;
      work.ttl_blobs = BlobSet(s->index.root);
      work.ttl_index = s->index_blob_id;
      return Run(std::move(work));
    });
  }
  return PresentAncestors(s->index.prev_snapshot_index_blob_id, kMaxAncestors)
      .Map(executor_, [this, s, owner, keep](std::vector<StoreSnapshot> ancestors) {
        auto kept = std::find_if(ancestors.begin(), ancestors.end(), [&](const StoreSnapshot& a) {
          return keep.contains(a.index_blob_id);
        });
        // What stays: the blobs of `snapshot` and of the kept one (the newest kept: an older
        // one shares a blob with a newer ancestor only through it).
        BlobIdSet live = BlobIdSet::Of(s->index.root);
        if (kept != ancestors.end()) live.Add(BlobIdSet::Of(kept->index.root));
        ancestors.erase(kept, ancestors.end());
        if (ancestors.empty()) return MakeReadyFuture();  // cleanup finished
        Status bad = CheckAncestors(s->index_blob_id, owner, ancestors);
        if (!bad.ok()) return MakeReadyFuture<void>(bad);
        CleanupWork work;
        work.ttl_blobs = BlobSet(s->index.root);
        work.ttl_index = s->index_blob_id;
        // Oldest first: the previous index (the sign of an unfinished cleanup) goes last.
        for (auto it = ancestors.rbegin(); it != ancestors.rend(); ++it) {
          for (const std::string& id : BlobsNotIn(it->index.root, live)) {
            work.delete_blobs.insert(id);
          }
          work.delete_indexes.push_back(it->index_blob_id);
        }
        return Run(std::move(work));
      });
}

Future<void> SnapshotCleaner::DeleteSnapshot(const SnapshotMetadata& owner,
                                             const std::string& index_blob_id,
                                             std::shared_ptr<const BlobIdSet> keep) {
  // The index is read one directory at a time: the blobs it alone holds are collected, and
  // any blob it names is checked to be the owner's.
  struct Found {
    std::set<std::string> doomed;
    std::string foreign;
  };
  auto found = std::make_shared<Found>();
  const std::string prefix = OwnerPrefix(owner);
  FileVisitor visit = [found, keep, prefix](const FileIndex& f, bool removed) {
    for (const FileBlob& b : f.blobs) {
      if (!b.blob_id.starts_with(prefix) && found->foreign.empty()) found->foreign = b.blob_id;
      if (!removed && !keep->Contains(b.blob_id)) found->doomed.insert(b.blob_id);
    }
  };
  return VisitSnapshotFiles(store_, executor_, index_blob_id, std::move(visit))
      .Then(executor_, [this, owner, index_blob_id, found](Result<SnapshotIndex> index) {
        if (index.status().code() == StatusCode::kNotFound) return MakeReadyFuture();  // done
        if (!index.ok()) return MakeReadyFuture<void>(index.status());
        StoreSnapshot s{index_blob_id, std::move(*index)};
        if (Status bad = CheckOwnerWith(s, owner, "the checkpoint", found->foreign); !bad.ok()) {
          return MakeReadyFuture<void>(bad);
        }
        CleanupWork work;
        work.delete_blobs = std::move(found->doomed);
        work.delete_indexes.push_back(index_blob_id);
        return Run(std::move(work));
      });
}

}  // namespace blobstate
