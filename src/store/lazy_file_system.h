// LazyFileSystem: the RocksDB file system of a store whose files are not all local yet.
//
// RocksDB sees every file of LazyFiles as present, with its recorded size. Reads of one
// not yet local go through LazyFile (the parts they need are got and checked first); a
// file RocksDB opens whole (a sequential read, a rename) is made local first; a file it
// deletes stops being fetched. A hard link of one (RocksDB's Checkpoint links each table)
// downloads nothing: it is an alias (LazyFiles::AddAlias), and when RocksDB renames the
// directory holding aliases (the checkpoint's staging directory to its name), the
// directory's manifest (RemoteManifestOf) is written first, listing them with their blobs:
// so a commit of a store still warming up neither downloads nor uploads them again (the
// backup keeps their blobs). Everything else, and every file once local, goes to the target
// file system. An error of a read is an IOError whose message names the store, the file
// and the blob.
//
// Example:
//   auto fs = std::make_shared<LazyFileSystem>(rocksdb::FileSystem::Default(), files);
//   std::unique_ptr<rocksdb::Env> env = rocksdb::NewCompositeEnv(fs);
//   options.env = env.get();  // outlives the DB
#ifndef BLOBSTATE_STORE_LAZY_FILE_SYSTEM_H_
#define BLOBSTATE_STORE_LAZY_FILE_SYSTEM_H_

#include <rocksdb/file_system.h>

#include <memory>
#include <string>
#include <vector>

#include "store/lazy_files.h"

namespace blobstate {

class LazyFileSystem : public rocksdb::FileSystemWrapper {
 public:
  LazyFileSystem(const std::shared_ptr<rocksdb::FileSystem>& target,
                 std::shared_ptr<LazyFiles> files)
      : rocksdb::FileSystemWrapper(target), files_(std::move(files)) {}

  static const char* kClassName() { return "BlobstateLazyFileSystem"; }
  const char* Name() const override { return kClassName(); }

  rocksdb::IOStatus NewRandomAccessFile(const std::string& f, const rocksdb::FileOptions& options,
                                        std::unique_ptr<rocksdb::FSRandomAccessFile>* r,
                                        rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus NewSequentialFile(const std::string& f, const rocksdb::FileOptions& options,
                                      std::unique_ptr<rocksdb::FSSequentialFile>* r,
                                      rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus FileExists(const std::string& f, const rocksdb::IOOptions& options,
                               rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus GetFileSize(const std::string& f, const rocksdb::IOOptions& options,
                                uint64_t* size, rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus GetFileModificationTime(const std::string& f, const rocksdb::IOOptions& options,
                                            uint64_t* mtime, rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus GetChildren(const std::string& dir, const rocksdb::IOOptions& options,
                                std::vector<std::string>* names,
                                rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus GetChildrenFileAttributes(const std::string& dir,
                                              const rocksdb::IOOptions& options,
                                              std::vector<rocksdb::FileAttributes>* result,
                                              rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus DeleteFile(const std::string& f, const rocksdb::IOOptions& options,
                               rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus RenameFile(const std::string& from, const std::string& to,
                               const rocksdb::IOOptions& options,
                               rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus LinkFile(const std::string& from, const std::string& to,
                             const rocksdb::IOOptions& options,
                             rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus NumFileLinks(const std::string& f, const rocksdb::IOOptions& options,
                                 uint64_t* count, rocksdb::IODebugContext* dbg) override;

 private:
  // Makes `f` local if it is served; IOError if that fails.
  rocksdb::IOStatus MakeLocal(const std::string& f);

  const std::shared_ptr<LazyFiles> files_;
};

}  // namespace blobstate

#endif  // BLOBSTATE_STORE_LAZY_FILE_SYSTEM_H_
