// Transfer::PutTree: the diff and the uploads of a backup, as one pipeline.
#include <deque>
#include <mutex>
#include <set>

#include "transfer/transfer.h"
#include "util/fs.h"

namespace blobstate {
namespace {

using Clock = std::chrono::steady_clock;

// A directory whose uploads are not all done.
struct DirUpload {
  IndexWriter::DirId id;
  std::string path;                 // below the root
  std::vector<FileIndex> uploaded;  // by slot (files_added order); empty name until done
  std::vector<FileIndex> removed;   // listed after the uploaded files
  size_t left;                      // uploads not ended
};

struct Queued {
  std::shared_ptr<DirUpload> dir;
  size_t slot;
  LocalFile file;
};

}  // namespace

// The state of one PutTree. Pump runs the diff and starts uploads while the window has
// room; each upload's end calls it again. One Pump runs at a time (the diff is not
// thread-safe); a call while one runs makes it go round once more.
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

  Future<TreeFigures> Start() {
    Future<TreeFigures> out = promise_.GetFuture();
    executor_.Execute([self = shared_from_this()] { self->Pump(); });
    return out;
  }

 private:
  void Pump();
  // Records `delta` in the writer and queues its uploads. REQUIRES: mu_ held.
  Status AddDir(DirDelta delta);
  void Upload(Queued q);
  void Uploaded(const std::shared_ptr<DirUpload>& dir, size_t slot, Result<FileIndex> r);
  void Finish();

  Transfer& transfer_;
  Executor& executor_;
  const std::string root_;
  const std::unique_ptr<TreeDiff> diff_;
  const std::shared_ptr<IndexWriter> writer_;
  const BlobMetadata metadata_;
  Promise<TreeFigures> promise_;

  std::mutex mu_;
  std::deque<Queued> queue_;                   // uploads not started
  std::set<std::shared_ptr<DirUpload>> open_;  // directories with uploads not ended
  std::vector<IndexWriter::DirId> ids_;        // writer ids by delta number
  size_t in_flight_ = 0;
  bool pumping_ = false;
  bool again_ = false;
  bool diff_done_ = false;
  bool finished_ = false;
  Status error_;
  TreeFigures figures_;
};

void TreeUpload::Pump() {
  std::unique_lock<std::mutex> lock(mu_);
  if (pumping_) {
    again_ = true;
    return;
  }
  pumping_ = true;
  for (bool progressed = true; progressed || again_;) {
    again_ = false;
    std::vector<Queued> start;
    while (error_.ok() && in_flight_ < kTransfersInFlight && !queue_.empty()) {
      start.push_back(std::move(queue_.front()));
      queue_.pop_front();
      ++in_flight_;
    }
    const bool pull = error_.ok() && !diff_done_ && queue_.size() < kTransfersInFlight;
    progressed = !start.empty() || pull;
    lock.unlock();
    for (Queued& q : start) Upload(std::move(q));
    Result<std::optional<DirDelta>> next = std::optional<DirDelta>();
    if (pull) {
      const auto started = Clock::now();
      next = diff_->Next();
      figures_.diff_time += Clock::now() - started;  // only the pumping thread writes it
    }
    lock.lock();
    if (!pull) continue;
    Status s = !next.ok() ? next.status() : *next ? AddDir(std::move(**next)) : Status::Ok();
    if (next.ok() && !*next) diff_done_ = true;
    if (!s.ok() && error_.ok()) error_ = s;
  }
  pumping_ = false;
  const bool done =
      !finished_ && in_flight_ == 0 && (!error_.ok() || (diff_done_ && queue_.empty()));
  finished_ = finished_ || done;
  lock.unlock();
  if (done) Finish();
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
  // Retained files go now; uploaded and removed ones once the uploads are done.
  if (!delta.files_retained.empty() || delta.number != 0) {
    RETURN_IF_ERROR(writer_->AppendFiles(id, delta.files_retained, {}));
  }
  const size_t n = delta.files_added.size();
  auto dir = std::make_shared<DirUpload>(DirUpload{.id = id,
                                                   .path = std::move(delta.path),
                                                   .uploaded = std::vector<FileIndex>(n),
                                                   .removed = std::move(delta.files_removed),
                                                   .left = n});
  open_.insert(dir);
  for (size_t i = 0; i < n; ++i) {
    f.files_uploaded += 1;
    f.bytes_uploaded += delta.files_added[i].metadata.size;
    queue_.push_back(Queued{dir, i, std::move(delta.files_added[i])});
  }
  return Status::Ok();
}

void TreeUpload::Upload(Queued q) {
  const std::string rel = q.dir->path.empty() ? q.file.name : JoinPath(q.dir->path, q.file.name);
  BlobMetadata m = metadata_;
  m.file_path = rel;
  transfer_.PutFile(JoinPath(root_, rel), q.file, m)
      .Subscribe([self = shared_from_this(), dir = q.dir, slot = q.slot](Result<FileIndex> r) {
        self->Uploaded(dir, slot, std::move(r));
      });
}

void TreeUpload::Uploaded(const std::shared_ptr<DirUpload>& dir, size_t slot, Result<FileIndex> r) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    --in_flight_;
    if (r.ok()) {
      dir->uploaded[slot] = std::move(*r);
    } else if (error_.ok()) {
      error_ = r.status();
    }
    if (--dir->left == 0 && error_.ok()) {
      open_.erase(dir);
      Status s = writer_->AppendFiles(dir->id, dir->uploaded, dir->removed);
      if (!s.ok()) error_ = s;
    }
  }
  executor_.Execute([self = shared_from_this()] { self->Pump(); });
}

void TreeUpload::Finish() {
  if (error_.ok()) return promise_.Set(figures_);
  // What was uploaded goes to the writer, for the caller to delete.
  for (const std::shared_ptr<DirUpload>& dir : open_) {
    std::vector<FileIndex> done;
    for (FileIndex& f : dir->uploaded) {
      if (!f.name.empty()) done.push_back(std::move(f));
    }
    writer_->AppendFiles(dir->id, done, {}).IgnoreError();
  }
  promise_.Set(error_);
}

Future<TreeFigures> Transfer::PutTree(const std::string& root, std::unique_ptr<TreeDiff> diff,
                                      std::shared_ptr<IndexWriter> writer,
                                      const BlobMetadata& metadata) {
  return std::make_shared<TreeUpload>(*this, executor_, root, std::move(diff), std::move(writer),
                                      metadata)
      ->Start();
}

}  // namespace blobstate
