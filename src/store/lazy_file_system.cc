#include "store/lazy_file_system.h"

#include <algorithm>
#include <unordered_set>

namespace blobstate {
namespace {

// A chunk or part that does not match its checksum is corrupt data to RocksDB, as a table
// whose block checksum fails is. An error that retrying may mend is a retryable I/O error:
// a compaction that read it is scheduled again, where any other I/O error would stop the
// store's writes until it is reopened. The message is the Status's ToString(), which starts
// with its code's name: RocksDbStore maps a retriable one back by it.
rocksdb::IOStatus ToIoStatus(const Status& s) {
  if (s.ok()) return rocksdb::IOStatus::OK();
  if (s.code() == StatusCode::kDataLoss) return rocksdb::IOStatus::Corruption(s.ToString());
  rocksdb::IOStatus io = rocksdb::IOStatus::IOError(s.ToString());
  io.SetRetryable(s.IsRetriable());
  return io;
}

// Reads of a file not yet local: each waits for the parts it needs.
class LazyRandomAccessFile : public rocksdb::FSRandomAccessFile {
 public:
  explicit LazyRandomAccessFile(std::shared_ptr<LazyFile> file) : file_(std::move(file)) {}

  rocksdb::IOStatus Read(uint64_t offset, size_t n, const rocksdb::IOOptions&,
                         rocksdb::Slice* result, char* scratch,
                         rocksdb::IODebugContext*) const override {
    Result<size_t> got = file_->Read(offset, n, scratch);
    if (!got.ok()) return ToIoStatus(got.status());
    *result = rocksdb::Slice(scratch, *got);
    return rocksdb::IOStatus::OK();
  }

 private:
  const std::shared_ptr<LazyFile> file_;
};

}  // namespace

rocksdb::IOStatus LazyFileSystem::MakeLocal(const std::string& f) {
  std::shared_ptr<LazyFile> file = files_->Find(f);
  return file == nullptr ? rocksdb::IOStatus::OK() : ToIoStatus(file->MakeLocal());
}

rocksdb::IOStatus LazyFileSystem::NewRandomAccessFile(
    const std::string& f, const rocksdb::FileOptions& options,
    std::unique_ptr<rocksdb::FSRandomAccessFile>* r, rocksdb::IODebugContext* dbg) {
  std::shared_ptr<LazyFile> file = files_->Find(f);
  if (file == nullptr) return target()->NewRandomAccessFile(f, options, r, dbg);
  *r = std::make_unique<LazyRandomAccessFile>(std::move(file));
  return rocksdb::IOStatus::OK();
}

rocksdb::IOStatus LazyFileSystem::NewSequentialFile(const std::string& f,
                                                    const rocksdb::FileOptions& options,
                                                    std::unique_ptr<rocksdb::FSSequentialFile>* r,
                                                    rocksdb::IODebugContext* dbg) {
  rocksdb::IOStatus s = MakeLocal(f);
  return s.ok() ? target()->NewSequentialFile(f, options, r, dbg) : s;
}

rocksdb::IOStatus LazyFileSystem::FileExists(const std::string& f,
                                             const rocksdb::IOOptions& options,
                                             rocksdb::IODebugContext* dbg) {
  if (files_->Find(f) != nullptr) return rocksdb::IOStatus::OK();
  return target()->FileExists(f, options, dbg);
}

rocksdb::IOStatus LazyFileSystem::GetFileSize(const std::string& f,
                                              const rocksdb::IOOptions& options, uint64_t* size,
                                              rocksdb::IODebugContext* dbg) {
  std::shared_ptr<LazyFile> file = files_->Find(f);
  if (file == nullptr) return target()->GetFileSize(f, options, size, dbg);
  *size = file->index().metadata.size;
  return rocksdb::IOStatus::OK();
}

rocksdb::IOStatus LazyFileSystem::GetFileModificationTime(const std::string& f,
                                                          const rocksdb::IOOptions& options,
                                                          uint64_t* mtime,
                                                          rocksdb::IODebugContext* dbg) {
  std::shared_ptr<LazyFile> file = files_->Find(f);
  if (file == nullptr) return target()->GetFileModificationTime(f, options, mtime, dbg);
  *mtime =
      static_cast<uint64_t>(std::max<int64_t>(0, file->index().metadata.mtime_ns)) / 1'000'000'000;
  return rocksdb::IOStatus::OK();
}

rocksdb::IOStatus LazyFileSystem::GetChildren(const std::string& dir,
                                              const rocksdb::IOOptions& options,
                                              std::vector<std::string>* names,
                                              rocksdb::IODebugContext* dbg) {
  // The remote files first: one that becomes local after that is in the listing that
  // follows (and listed once).
  std::vector<std::string> remote = files_->RemoteChildren(dir);
  rocksdb::IOStatus s = target()->GetChildren(dir, options, names, dbg);
  if (!s.ok() || remote.empty()) return s;
  const std::unordered_set<std::string> local(names->begin(), names->end());
  for (std::string& name : remote) {
    if (!local.contains(name)) names->push_back(std::move(name));
  }
  return s;
}

rocksdb::IOStatus LazyFileSystem::GetChildrenFileAttributes(
    const std::string& dir, const rocksdb::IOOptions& options,
    std::vector<rocksdb::FileAttributes>* result, rocksdb::IODebugContext* dbg) {
  std::vector<std::string> names;
  rocksdb::IOStatus s = GetChildren(dir, options, &names, dbg);
  if (!s.ok()) return s;
  result->clear();
  for (const std::string& name : names) {
    rocksdb::FileAttributes a;
    a.name = name;
    s = GetFileSize(dir + "/" + name, options, &a.size_bytes, dbg);
    if (s.IsNotFound() || s.IsPathNotFound()) continue;  // gone since the listing
    if (!s.ok()) return s;
    result->push_back(std::move(a));
  }
  return rocksdb::IOStatus::OK();
}

rocksdb::IOStatus LazyFileSystem::DeleteFile(const std::string& f,
                                             const rocksdb::IOOptions& options,
                                             rocksdb::IODebugContext* dbg) {
  // A file made local meanwhile is deleted at its name.
  if (files_->Drop(f)) return rocksdb::IOStatus::OK();
  return target()->DeleteFile(f, options, dbg);
}

rocksdb::IOStatus LazyFileSystem::RenameFile(const std::string& from, const std::string& to,
                                             const rocksdb::IOOptions& options,
                                             rocksdb::IODebugContext* dbg) {
  // A directory holding aliases (a checkpoint's, renamed to its name once complete) gets
  // the manifest listing them first; a file is made local first.
  Result<bool> listed = files_->WriteAliasManifest(from, to);
  if (!listed.ok()) return ToIoStatus(listed.status());
  rocksdb::IOStatus s = *listed ? rocksdb::IOStatus::OK() : MakeLocal(from);
  if (s.ok()) s = target()->RenameFile(from, to, options, dbg);
  if (*listed) {
    if (s.ok()) {
      files_->ForgetAliases(from);
    } else {
      RemoveRemoteManifest(to).IgnoreError();  // the aliases stay in `from`
    }
  }
  return s;
}

rocksdb::IOStatus LazyFileSystem::LinkFile(const std::string& from, const std::string& to,
                                           const rocksdb::IOOptions& options,
                                           rocksdb::IODebugContext* dbg) {
  std::shared_ptr<LazyFile> file = files_->Find(from);
  if (file != nullptr && files_->AddAlias(to, std::move(file))) return rocksdb::IOStatus::OK();
  return target()->LinkFile(from, to, options, dbg);
}

rocksdb::IOStatus LazyFileSystem::NumFileLinks(const std::string& f,
                                               const rocksdb::IOOptions& options, uint64_t* count,
                                               rocksdb::IODebugContext* dbg) {
  if (files_->Find(f) != nullptr) {
    *count = 1;
    return rocksdb::IOStatus::OK();
  }
  return target()->NumFileLinks(f, options, count, dbg);
}

}  // namespace blobstate
