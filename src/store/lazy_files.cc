#include "store/lazy_files.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <optional>
#include <utility>

#include "async/failpoints.h"
#include "async/pipeline.h"
#include "index/codec.h"
#include "util/fs.h"

namespace blobstate {
namespace {

// `path` without repeated or trailing slashes, as the files are keyed ("dir/name").
std::string Normalized(const std::string& path) {
  std::string out;
  for (char c : path) {
    if (c == '/' && !out.empty() && out.back() == '/') continue;
    out.push_back(c);
  }
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

}  // namespace

void Foreground::Enter() {
  std::lock_guard<std::mutex> lock(mu_);
  ++waiting_;
}

void Foreground::Leave(bool linger) { Decrement(waiting_, linger); }

void Foreground::Done() { Decrement(running_, false); }

bool Foreground::MayStart(std::chrono::steady_clock::time_point now) const {
  return running_ == 0 || (waiting_ == 0 && (!last_read_ || now - *last_read_ >= linger_));
}

Future<void> Foreground::Turn() {
  std::lock_guard<std::mutex> lock(mu_);
  if (MayStart(now_())) {
    ++running_;
    return MakeReadyFuture();
  }
  queued_.emplace_back();
  return queued_.back().GetFuture();
}

void Foreground::Decrement(int& count, bool linger) {
  std::vector<Promise<void>> go;
  {
    const auto now = now_();
    std::lock_guard<std::mutex> lock(mu_);
    --count;
    if (linger) last_read_ = now;
    // A queued turn waits for a part in flight to end (its Done), never for a clock.
    while (!queued_.empty() && MayStart(now)) {
      ++running_;
      go.push_back(std::move(queued_.back()));
      queued_.pop_back();
    }
  }
  for (Promise<void>& p : go) p.Set(Result<void>());
}

namespace {

// Keeps the first error in `first`.
void KeepFirst(Status& first, Status s) {
  if (first.ok()) first = std::move(s);
}

// Counts a read in `foreground` for as long as it lives.
class Waiting {
 public:
  explicit Waiting(Foreground& foreground) : foreground_(foreground) { foreground_.Enter(); }
  ~Waiting() { foreground_.Leave(linger_); }
  // The read was made on its reader's thread: see Foreground::Leave.
  void Linger() { linger_ = true; }
  Waiting(const Waiting&) = delete;
  Waiting& operator=(const Waiting&) = delete;

 private:
  Foreground& foreground_;
  bool linger_ = false;
};

// A turn that Foreground::Turn gave, ended (Done) once: by End, else when the last
// reference goes.
class HeldTurn {
 public:
  explicit HeldTurn(std::shared_ptr<Foreground> foreground) : foreground_(std::move(foreground)) {}
  ~HeldTurn() { End(); }
  HeldTurn(const HeldTurn&) = delete;
  HeldTurn& operator=(const HeldTurn&) = delete;
  void End() {
    if (!ended_.exchange(true)) foreground_->Done();
  }

 private:
  const std::shared_ptr<Foreground> foreground_;
  std::atomic<bool> ended_{false};
};

}  // namespace

LazyFile::LazyFile(Transfer& transfer, std::shared_ptr<Foreground> foreground, std::string what,
                   std::string path, FileIndex index, File tmp, std::vector<bool> have)
    : transfer_(transfer),
      foreground_(std::move(foreground)),
      what_(std::move(what)),
      path_(std::move(path)),
      tmp_path_(PartialNameOf(path_)),
      index_(std::move(index)),
      tmp_(std::move(tmp)),
      parts_(index_.blobs.size()) {
  for (size_t i = 0; i < parts_.size(); ++i) {
    parts_[i].chunks.resize(index_.blobs[i].chunk_checksums.size());
    if (i < have.size() && have[i]) {
      parts_[i].state = PartState::kLocal;
    } else {
      ++parts_left_;
    }
  }
}

Result<size_t> LazyFile::Read(uint64_t offset, size_t n, char* buf) {
  const uint64_t size = index_.metadata.size;
  if (offset >= size || n == 0) return 0;
  n = static_cast<size_t>(std::min<uint64_t>(n, size - offset));
  Waiting waiting(*foreground_);
  // Parts [first, last] hold the range: the last whose offset is at most each end.
  auto part_at = [this](uint64_t at) {
    auto after = std::upper_bound(index_.blobs.begin(), index_.blobs.end(), at,
                                  [](uint64_t v, const FileBlob& b) { return v < b.offset; });
    return static_cast<size_t>(after - index_.blobs.begin()) - 1;
  };
  std::vector<Future<void>> parts;
  std::vector<ChunkRead> chunks;
  // The pieces of the range ([from, to) in the file) that come from the partial file once
  // what was asked for is in it; the rest was read here.
  std::vector<std::pair<uint64_t, uint64_t>> from_file;
  Status first;
  for (size_t i = part_at(offset); i <= part_at(offset + n - 1); ++i) {
    const uint64_t start = index_.blobs[i].offset;
    const uint64_t from = std::max(offset, start) - start;
    const uint64_t to = std::min(offset + n, PartEnd(index_, i)) - start;
    if (index_.blobs[i].chunk_checksums.empty()) {
      parts.push_back(GetPart(i));
    } else if (std::optional<Status> here = ReadHere(i, from, to, buf + (start + from - offset))) {
      KeepFirst(first, std::move(*here));
      waiting.Linger();
      continue;
    } else if (std::optional<ChunkRead> read = GetChunks(i, from, to)) {
      chunks.push_back(std::move(*read));
    }
    from_file.emplace_back(start + from, start + to);
  }
  // Every request started is waited for, failed or not: none outlives the read.
  for (Future<void>& part : parts) KeepFirst(first, std::move(part).Get().status());
  for (ChunkRead& read : chunks) KeepFirst(first, PutChunks(read));
  RETURN_IF_ERROR(first);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (dropped_) return FailedPreconditionError(what_ + ": deleted while it was read");
  }
  // The partial file is the same inode once renamed to the file's name.
  for (const auto& [from, to] : from_file) {
    Result<size_t> read = tmp_.ReadAt(buf + (from - offset), to - from, from);
    if (!read.ok()) return read.status().WithContext(what_);
    if (*read != to - from) return DataLossError(what_ + ": its partial file is short");
  }
  return n;
}

std::optional<Status> LazyFile::ReadHere(size_t i, uint64_t from, uint64_t to, char* out) {
  if (!reads_here_.load(std::memory_order_relaxed)) return std::nullopt;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (dropped_ || parts_[i].state == PartState::kLocal) return std::nullopt;
  }
  Status read = transfer_.ReadChunks(index_, i, from, to, out);
  if (read.code() == StatusCode::kUnimplemented) {
    reads_here_.store(false, std::memory_order_relaxed);
    return std::nullopt;
  }
  return read.WithContext(what_);
}

std::optional<LazyFile::ChunkRead> LazyFile::GetChunks(size_t i, uint64_t from, uint64_t to) {
  std::unique_lock<std::mutex> lock(mu_);
  const Part& part = parts_[i];
  if (dropped_ || part.state == PartState::kLocal) return std::nullopt;
  size_t first = static_cast<size_t>(from / kChunkSize);
  size_t last = static_cast<size_t>((to - 1) / kChunkSize);
  while (first <= last && part.chunks[first]) ++first;
  while (last > first && part.chunks[last]) --last;
  if (first > last) return std::nullopt;
  lock.unlock();
  return ChunkRead{i, first, transfer_.GetChunks(index_, i, first, last - first + 1)};
}

Status LazyFile::PutChunks(ChunkRead& read) {
  Result<std::string> bytes = std::move(read.bytes).Get();
  if (!bytes.ok()) return bytes.status().WithContext(what_);
  // Under mu_, so that the file is not finished (nor its mtime set) while it is written.
  std::lock_guard<std::mutex> lock(mu_);
  Part& part = parts_[read.part];
  if (dropped_ || part.state == PartState::kLocal) return Status::Ok();
  const uint64_t at = index_.blobs[read.part].offset + read.first * kChunkSize;
  RETURN_IF_ERROR(tmp_.WriteAt(bytes->data(), bytes->size(), at).WithContext(what_));
  for (size_t c = read.first; c * kChunkSize < read.first * kChunkSize + bytes->size(); ++c) {
    part.chunks[c] = true;
  }
  return Status::Ok();
}

LazyFile::Fetch LazyFile::FetchPart(size_t i) {
  std::unique_lock<std::mutex> lock(mu_);
  Part& part = parts_[i];
  if (dropped_ || local_) return {MakeReadyFuture(), MakeReadyFuture()};
  if (part.state == PartState::kLocal) {
    if (parts_left_ > 0 || !finish_error_.ok()) return {MakeReadyFuture(), MakeReadyFuture()};
    finish_waiters_.emplace_back();  // the last part is in: the file is being finished
    return {MakeReadyFuture(), finish_waiters_.back().GetFuture()};
  }
  Fetch fetch{part.landed.emplace_back().GetFuture(), part.waiters.emplace_back().GetFuture()};
  if (part.state == PartState::kFetching) return fetch;
  part.state = PartState::kFetching;
  lock.unlock();
  transfer_.GetPart(index_, i, tmp_path_).Subscribe([self = shared_from_this(), i](Result<void> r) {
    self->PartDone(i, r.status());
  });
  return fetch;
}

void LazyFile::PartDone(size_t i, const Status& s) {
  std::vector<Promise<void>> landed;
  std::vector<Promise<void>> waiters;
  bool last = false;
  bool dropped = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    landed.swap(parts_[i].landed);
    waiters.swap(parts_[i].waiters);
    parts_[i].state = s.ok() ? PartState::kLocal : PartState::kAbsent;
    dropped = dropped_;
    if (s.ok()) last = --parts_left_ == 0 && !dropped;
  }
  // A file deleted meanwhile has nothing left to get: that its fetch failed (its partial
  // file went) is no error. A read that waited for the part finds the file deleted.
  const Status out = dropped ? Status::Ok() : s.WithContext(what_);
  auto set = [&out](std::vector<Promise<void>>& promises) {
    for (Promise<void>& p : promises) p.Set(out.ok() ? Result<void>() : Result<void>(out));
  };
  set(landed);
  if (last) Finish().IgnoreError();  // MakeLocal reports it
  set(waiters);
}

Status LazyFile::Finish() {
  Status s = Failpoint("lazy.before_finish");
  if (s.ok()) s = transfer_.FinishParts(index_, tmp_path_);
  std::vector<Promise<void>> waiters;
  {
    // The rename under mu_: a Drop comes before it (and there is no rename) or after it
    // (and finds the file local).
    std::lock_guard<std::mutex> lock(mu_);
    if (dropped_) {
      s = Status::Ok();  // deleted meanwhile: there is nothing to finish
    } else {
      if (s.ok()) s = RenameNoReplace(tmp_path_, path_);
      if (s.ok()) s = Failpoint("lazy.after_finish");
      s = s.WithContext(what_);
      local_ = s.ok();
      finish_error_ = s;
      waiters.swap(local_waiters_);
    }
    waiters.insert(waiters.end(), std::make_move_iterator(finish_waiters_.begin()),
                   std::make_move_iterator(finish_waiters_.end()));
    finish_waiters_.clear();
  }
  for (Promise<void>& w : waiters) w.Set(s.ok() ? Result<void>() : Result<void>(s));
  return s;
}

Status LazyFile::MakeLocal() {
  Future<void> finished;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (local_) return Status::Ok();
    if (!finish_error_.ok()) return finish_error_;
    if (dropped_) return FailedPreconditionError(what_ + ": deleted");
    Promise<void> promise;
    finished = promise.GetFuture();
    local_waiters_.push_back(std::move(promise));
  }
  Waiting waiting(*foreground_);
  std::vector<Future<void>> parts;
  for (size_t i = 0; i < index_.blobs.size(); ++i) parts.push_back(GetPart(i));
  Status first;  // every part is waited for, as in Read
  for (Future<void>& part : parts) KeepFirst(first, std::move(part).Get().status());
  RETURN_IF_ERROR(first);
  return std::move(finished).Get().status();
}

bool LazyFile::local() const {
  std::lock_guard<std::mutex> lock(mu_);
  return local_;
}

Status LazyFile::Settled() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (local_ || dropped_) return Status::Ok();
  if (!finish_error_.ok()) return finish_error_;
  return InternalError(what_ + ": not local after every part was got");
}

bool LazyFile::Drop() {
  std::vector<Promise<void>> waiters;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (local_) return false;
    dropped_ = true;
    waiters.swap(local_waiters_);
  }
  ::unlink(tmp_path_.c_str());
  for (Promise<void>& w : waiters) w.Set(FailedPreconditionError(what_ + ": deleted"));
  return true;
}

Result<std::shared_ptr<LazyFiles>> LazyFiles::Create(Transfer& transfer, std::string what,
                                                     std::string dir,
                                                     std::map<std::string, FileIndex> files) {
  dir = Normalized(dir);
  std::shared_ptr<LazyFiles> out(new LazyFiles(dir));
  for (auto& [name, index] : files) {
    const std::string about = what + ", file " + name;
    if (!index.blobs.empty() && !HasPartChecksums(index)) {
      return FailedPreconditionError(about +
                                     ": its parts record no checksums (a version 1 index), so "
                                     "it cannot be read before it is whole");
    }
    const std::string path = JoinPath(dir, name);
    if (PathExists(path)) continue;  // finished by an earlier run
    const std::string tmp = PartialNameOf(path);
    std::vector<bool> have = VerifiedParts(tmp, index);
    Result<File> file = File::Open(
        tmp, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | (have.empty() ? O_TRUNC : 0), 0600);
    if (!file.ok()) return file.status().WithContext(about);
    if (have.empty() && ::ftruncate(file->fd(), index.metadata.size) != 0) {
      return ErrnoError("truncate " + tmp, errno).WithContext(about);
    }
    if (std::count(have.begin(), have.end(), true) == static_cast<long>(index.blobs.size())) {
      RETURN_IF_ERROR(file->Close().WithContext(about));
      RETURN_IF_ERROR(transfer.FinishParts(index, tmp).WithContext(about));
      RETURN_IF_ERROR(RenameNoReplace(tmp, path).WithContext(about));
      continue;
    }
    out->files_.emplace(
        path, std::make_shared<LazyFile>(transfer, out->foreground_, about, path, std::move(index),
                                         std::move(*file), std::move(have)));
  }
  return out;
}

std::string RemoteManifestOf(const std::string& dir) { return Normalized(dir) + ".remote"; }

Status WriteRemoteManifest(const std::string& dir, const SnapshotIndex& remote) {
  return WriteFileAtomic(RemoteManifestOf(dir), EncodeSnapshotIndex(remote));
}

Status RemoveRemoteManifest(const std::string& dir) {
  const std::string manifest = RemoteManifestOf(dir);
  if (::unlink(manifest.c_str()) != 0) {
    return errno == ENOENT ? Status::Ok() : ErrnoError("unlink " + manifest, errno);
  }
  return SyncDir(DirName(manifest));
}

Result<std::shared_ptr<const IndexFile>> OpenRemoteManifest(const std::string& dir) {
  const std::string manifest = RemoteManifestOf(dir);
  if (!PathExists(manifest)) return std::shared_ptr<const IndexFile>();
  Result<File> file = File::Open(manifest, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (!file.ok()) return file.status();
  Result<std::shared_ptr<const IndexFile>> index = IndexFile::Open(std::move(*file));
  if (!index.ok()) return index.status().WithContext("manifest " + manifest);
  return index;
}

Result<std::shared_ptr<LazyFiles>> LazyFiles::Open(Transfer& transfer, std::string what,
                                                   const std::string& dir) {
  Result<std::shared_ptr<const IndexFile>> manifest = OpenRemoteManifest(dir);
  if (!manifest.ok()) return manifest.status().WithContext(what);
  if (*manifest == nullptr) return std::shared_ptr<LazyFiles>();
  Result<IndexFile::Dir> root = (*manifest)->ReadDir((*manifest)->root());
  if (!root.ok()) return root.status().WithContext(what + ": manifest " + RemoteManifestOf(dir));
  std::map<std::string, FileIndex> files;
  for (FileIndex& f : root->files_present) files.emplace(f.name, std::move(f));
  ASSIGN_OR_RETURN(std::shared_ptr<LazyFiles> out,
                   Create(transfer, std::move(what), dir, std::move(files)));
  out->manifest_ = RemoteManifestOf(dir);
  return out;
}

void LazyFiles::Stop() { stop_ = true; }

std::shared_ptr<LazyFile> LazyFiles::Find(const std::string& path) const {
  const std::string key = Normalized(path);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = files_.find(key);
  if (it != files_.end()) return it->second->local() ? nullptr : it->second;
  auto alias = aliases_.find(key);
  return alias == aliases_.end() ? nullptr : alias->second;
}

std::vector<std::string> LazyFiles::RemoteChildren(const std::string& path) const {
  const std::string dir = Normalized(path);
  std::vector<std::string> names;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [file_path, file] : files_) {
    if (DirName(file_path) == dir && !file->local()) names.push_back(BaseName(file_path));
  }
  for (const auto& [alias_path, file] : aliases_) {
    if (DirName(alias_path) == dir) names.push_back(BaseName(alias_path));
  }
  return names;
}

uint64_t LazyFiles::LargestPart() const {
  uint64_t largest = 0;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [path, file] : files_) {
    const FileIndex& index = file->index();
    for (size_t i = 0; i < index.blobs.size(); ++i) {
      largest = std::max(largest, PartEnd(index, i) - index.blobs[i].offset);
    }
  }
  return largest;
}

bool LazyFiles::AddAlias(const std::string& path, std::shared_ptr<LazyFile> file) {
  std::lock_guard<std::mutex> lock(mu_);
  if (file->local()) return false;
  aliases_[Normalized(path)] = std::move(file);
  return true;
}

Result<bool> LazyFiles::WriteAliasManifest(const std::string& from, const std::string& to) const {
  const std::string dir = Normalized(from);
  SnapshotIndex remote;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [path, file] : aliases_) {  // by path: by name within `dir`
      if (DirName(path) != dir) continue;
      remote.root.files_present.push_back(file->index());
      remote.root.files_present.back().name = BaseName(path);
    }
  }
  if (remote.root.files_present.empty()) return false;
  RETURN_IF_ERROR(WriteRemoteManifest(to, remote));
  return true;
}

void LazyFiles::ForgetAliases(const std::string& dir) {
  const std::string key = Normalized(dir);
  std::lock_guard<std::mutex> lock(mu_);
  std::erase_if(aliases_, [&](const auto& alias) { return DirName(alias.first) == key; });
}

bool LazyFiles::Drop(const std::string& path) {
  std::shared_ptr<LazyFile> file;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (aliases_.erase(Normalized(path)) > 0) return true;
    auto it = files_.find(Normalized(path));
    if (it == files_.end()) return false;
    file = std::move(it->second);
    files_.erase(it);
  }
  return file->Drop();
}

Future<void> LazyFiles::FetchAll(Executor& executor, size_t window) {
  struct Walk {
    std::vector<std::shared_ptr<LazyFile>> files;
    size_t file = 0;
    size_t part = 0;
  };
  auto walk = std::make_shared<Walk>();
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [path, file] : files_) walk->files.push_back(file);
  }
  return Pipeline(
             executor, window,
             [self = shared_from_this(), walk, &executor]() -> Result<std::optional<Future<void>>> {
               while (!self->stop_ && walk->file < walk->files.size()) {
                 LazyFile& f = *walk->files[walk->file];
                 if (walk->part < f.index().blobs.size()) {
                   const size_t part = walk->part++;
                   return std::optional(self->foreground_->Turn().Map(
                       executor, [&executor, self, file = walk->files[walk->file], part] {
                         auto turn = std::make_shared<HeldTurn>(self->foreground_);
                         if (self->stop_) return MakeReadyFuture();  // starts nothing
                         return Between<void>(executor, "lazy.before_part", "lazy.after_part", [&] {
                           LazyFile::Fetch fetch = file->FetchPart(part);
                           std::move(fetch.landed).Subscribe([turn](Result<void>) { turn->End(); });
                           return std::move(fetch.local);
                         });
                       }));
                 }
                 ++walk->file;
                 walk->part = 0;
               }
               return std::optional<Future<void>>();
             })
      .Map(executor, [self = shared_from_this(), walk]() -> Status {
        if (self->stop_) return CancelledError("the fetch of " + self->dir_ + " was stopped");
        // A file is finished before its last part's future completes.
        for (const auto& f : walk->files) RETURN_IF_ERROR(f->Settled());
        if (self->manifest_.empty()) return Status::Ok();
        RETURN_IF_ERROR(SyncDir(self->dir_));  // the files' renames before the manifest goes
        return RemoveRemoteManifest(self->dir_);
      });
}

}  // namespace blobstate
