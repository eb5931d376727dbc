// Transfer::PutTree: the diff and the uploads of a backup, as one pipeline.
#include <deque>
#include <mutex>
#include <set>

#include "async/pipeline.h"
#include "transfer/transfer.h"
#include "util/fs.h"

namespace blobstate {
namespace {

using Clock = std::chrono::steady_clock;

// A directory whose uploads have not all ended.
struct DirUpload {
  IndexWriter::DirId id;
  std::string path;                 // below the root
  std::vector<FileIndex> uploaded;  // by slot (files_added order); no name until uploaded
  std::vector<FileIndex> removed;   // listed after the uploaded files
  size_t left;                      // uploads not ended
};

struct Queued {
  std::shared_ptr<DirUpload> dir;
  size_t slot;
  LocalFile file;
};

// The state of one PutTree. Next, the pipeline's producer, hands out one upload at a time,
// pulling a directory from the diff when the queue is empty: the diff runs at most one
// directory ahead of the window.
class TreeUpload : public std::enable_shared_from_this<TreeUpload> {
 public:
  TreeUpload(Transfer& transfer, Executor& executor, std::string root,
             std::unique_ptr<TreeDiff> diff, std::shared_ptr<IndexWriter> writer,
             BlobMetadata metadata)
      : transfer_(transfer),
        executor_(executor),
        root_(std::move(root)),
        diff_(std::move(diff)),
        writer_(std::move(writer)),
        metadata_(std::move(metadata)) {}

  Future<TreeFigures> Run() {
    auto self = shared_from_this();
    return Pipeline(executor_, kTransfersInFlight, [self] { return self->Next(); })
        .Then(executor_, [self](Result<void> r) -> Result<TreeFigures> {
          if (r.ok()) return self->figures_;
          self->KeepUploaded();
          return r.status();
        });
  }

 private:
  Result<std::optional<Future<void>>> Next();
  // Records `delta` in the writer and queues its uploads.
  Status AddDir(DirDelta delta);
  Status Uploaded(const std::shared_ptr<DirUpload>& dir, size_t slot, Result<FileIndex> r);
  // After a failure: what directories not done have uploaded goes to the writer.
  void KeepUploaded();

  Transfer& transfer_;
  Executor& executor_;
  const std::string root_;
  const std::unique_ptr<TreeDiff> diff_;
  const std::shared_ptr<IndexWriter> writer_;
  const BlobMetadata metadata_;
  // The producer's (one call at a time).
  std::deque<Queued> queue_;
  std::vector<IndexWriter::DirId> ids_;  // writer ids by delta number
  bool diff_done_ = false;
  TreeFigures figures_;
  // Shared with the uploads' ends.
  std::mutex mu_;
  std::set<std::shared_ptr<DirUpload>> open_;  // GUARDED_BY(mu_)
};

Result<std::optional<Future<void>>> TreeUpload::Next() {
  while (queue_.empty()) {
    if (diff_done_) return std::optional<Future<void>>();
    const auto started = Clock::now();
    Result<std::optional<DirDelta>> delta = diff_->Next();
    figures_.diff_time += Clock::now() - started;
    if (!delta.ok()) return delta.status();
    if (!*delta) {
      diff_done_ = true;
      return std::optional<Future<void>>();
    }
    RETURN_IF_ERROR(AddDir(std::move(**delta)));
  }
  Queued q = std::move(queue_.front());
  queue_.pop_front();
  const std::string rel = q.dir->path.empty() ? q.file.name : JoinPath(q.dir->path, q.file.name);
  BlobMetadata m = metadata_;
  m.file_path = rel;
  return std::optional(transfer_.PutFile(JoinPath(root_, rel), q.file, m)
                           .Then(executor_,
                                 [self = shared_from_this(), dir = q.dir,
                                  slot = q.slot](Result<FileIndex> r) -> Result<void> {
                                   return self->Uploaded(dir, slot, std::move(r));
                                 }));
}

Status TreeUpload::AddDir(DirDelta delta) {
  const IndexWriter::DirId id =
      delta.number == 0 ? writer_->root()
                        : writer_->AddDir(ids_[delta.parent], delta.name, delta.listed_removed);
  ids_.push_back(id);
  TreeFigures& f = figures_;
  for (const FileIndex& file : delta.files_retained) {
    (delta.removed ? f.files_removed : f.files_retained) += 1;
    (delta.removed ? f.bytes_removed : f.bytes_retained) += file.metadata.size;
  }
  for (const FileIndex& file : delta.files_removed) {
    ++f.files_removed;
    f.bytes_removed += file.metadata.size;
  }
  if (delta.files_added.empty()) {
    return writer_->AppendFiles(id, delta.files_retained, delta.files_removed);
  }
  // Retained files go now; uploaded and removed ones once the uploads have ended.
  RETURN_IF_ERROR(writer_->AppendFiles(id, delta.files_retained, {}));
  const size_t n = delta.files_added.size();
  auto dir = std::make_shared<DirUpload>(DirUpload{.id = id,
                                                   .path = std::move(delta.path),
                                                   .uploaded = std::vector<FileIndex>(n),
                                                   .removed = std::move(delta.files_removed),
                                                   .left = n});
  {
    std::lock_guard<std::mutex> lock(mu_);
    open_.insert(dir);
  }
  for (size_t i = 0; i < n; ++i) {
    f.files_uploaded += 1;
    f.bytes_uploaded += delta.files_added[i].metadata.size;
    queue_.push_back(Queued{dir, i, std::move(delta.files_added[i])});
  }
  return Status::Ok();
}

Status TreeUpload::Uploaded(const std::shared_ptr<DirUpload>& dir, size_t slot,
                            Result<FileIndex> r) {
  std::lock_guard<std::mutex> lock(mu_);
  if (r.ok()) dir->uploaded[slot] = std::move(*r);
  if (--dir->left > 0) return r.status();
  open_.erase(dir);
  std::erase_if(dir->uploaded, [](const FileIndex& f) { return f.name.empty(); });
  Status appended = writer_->AppendFiles(dir->id, dir->uploaded, dir->removed);
  return r.ok() ? appended : r.status();
}

void TreeUpload::KeepUploaded() {
  std::lock_guard<std::mutex> lock(mu_);
  for (const std::shared_ptr<DirUpload>& dir : open_) {
    std::erase_if(dir->uploaded, [](const FileIndex& f) { return f.name.empty(); });
    writer_->AppendFiles(dir->id, dir->uploaded, {}).IgnoreError();
  }
  open_.clear();
}

}  // namespace

Future<TreeFigures> Transfer::PutTree(const std::string& root, std::unique_ptr<TreeDiff> diff,
                                      std::shared_ptr<IndexWriter> writer,
                                      const BlobMetadata& metadata) {
  return std::make_shared<TreeUpload>(*this, executor_, root, std::move(diff), std::move(writer),
                                      metadata)
      ->Run();
}

}  // namespace blobstate
