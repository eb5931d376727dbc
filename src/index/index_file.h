// A snapshot index in a local file, decoded one directory at a time.
//
// DecodeSnapshotIndex needs the whole encoding in memory and returns the whole tree: for a
// store of a million files that is 150 MB encoded and twice that decoded. An IndexFile
// checks the envelope when it is opened (one streaming read: magic, version, checksum) and
// then decodes on demand: ReadDir gives one directory's files and the places of its
// subdirectories, with DecodeSnapshotIndex's checks and error messages for that directory.
// Memory stays within the largest directory, whatever the size of the index.
//
// Example:
//   ASSIGN_OR_RETURN(auto index, IndexFile::Open(std::move(file), "snapshot index " + id));
//   ASSIGN_OR_RETURN(IndexFile::Dir root, index->ReadDir(index->root()));
//   for (const IndexFile::DirRef& sub : root.subdirs_present) { ... index->ReadDir(sub) ... }
//
// Thread safety: every method is const and may be called from any thread (reads use pread).
#ifndef BLOBSTATE_INDEX_INDEX_FILE_H_
#define BLOBSTATE_INDEX_INDEX_FILE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "blobstate/index.h"
#include "blobstate/status.h"
#include "index/codec.h"
#include "util/fs.h"

namespace blobstate {

class IndexFile {
 public:
  // The names on the way from the root to a directory, for error messages.
  struct PathNode;

  // Where a directory is in the file. Cheap to copy.
  struct DirRef {
    std::string name;      // empty for the root
    uint64_t offset = 0;   // of its DirIndex message
    uint64_t length = 0;   // 0: an empty directory (or an index without a root)
    int depth = 0;         // the root is 0
    bool removed = false;  // listed as removed, or inside a removed directory
    std::shared_ptr<const PathNode> path;
  };

  // One directory: its files, and its subdirectories to read with ReadDir.
  struct Dir {
    std::string name;
    std::vector<FileIndex> files_present;
    std::vector<FileIndex> files_removed;
    std::vector<DirRef> subdirs_present;
    std::vector<DirRef> subdirs_removed;
  };

  // Takes `file`, which holds an encoded index in [0, its size). kInvalidArgument or
  // kDataLoss as DecodeSnapshotIndex for the envelope and the body's top-level fields (all
  // but the root's contents), which are decoded and checked here.
  static Result<std::shared_ptr<const IndexFile>> Open(File file);

  // The index without the root's contents: creation time, metadata, previous index.
  const SnapshotIndex& header() const { return header_; }
  uint32_t version() const { return version_; }
  // The size of the whole encoding (envelope included).
  uint64_t size() const { return size_; }
  // Reads up to `n` bytes of the encoding at `offset` (fewer only at its end).
  Result<size_t> ReadAt(char* buf, size_t n, uint64_t offset) const {
    return file_.ReadAt(buf, n, offset);
  }

  DirRef root() const { return root_; }
  // Decodes the directory at `ref` (from this file), with DecodeSnapshotIndex's checks of
  // it and its files; its subdirectories are checked when they are read. Errors are
  // kInvalidArgument naming the path (docs/format.md, 2.4), or kDataLoss if the file ends
  // early.
  Result<Dir> ReadDir(const DirRef& ref) const;

  // Every directory, depth first (each before what is under it, siblings in index order):
  // for a reader that needs every file once, a directory at a time. `file` must outlive it.
  class Cursor {
   public:
    // `present_only`: skip removed directories and what is under them.
    explicit Cursor(const IndexFile& file, bool present_only = false)
        : file_(file), present_only_(present_only), stack_{file.root()} {}
    // The next directory, and where it is (`at`), or nullopt after the last.
    Result<std::optional<Dir>> Next(DirRef* at);

   private:
    const IndexFile& file_;
    const bool present_only_;
    std::vector<DirRef> stack_;
  };

  // The path of the directory at `ref` below the root: "" for the root, else "a/b".
  static std::string PathOf(const DirRef& ref);

  // Every file, each directory's once it is read: `visit(file, removed)` as
  // DecodeSnapshotIndexFiles. Directories are read depth first.
  Status VisitFiles(const FileVisitor& visit) const;
  // The whole index, as DecodeSnapshotIndex would give it.
  Result<SnapshotIndex> ReadAll() const;

 private:
  friend class IndexWriter;  // opens what it wrote without hashing it again

  explicit IndexFile(File file) : file_(std::move(file)) {}
  // Open, trusting the checksum when `verify` is false.
  static Result<std::shared_ptr<const IndexFile>> Open(File file, bool verify);
  Status ReadHeader();
  Result<std::string> ReadName(const DirRef& ref, const PathNode* node) const;
  Result<DirIndex> ReadTree(const DirRef& ref) const;

  mutable File file_;  // read with pread only: no state changes
  uint64_t size_ = 0;
  uint32_t version_ = 0;
  SnapshotIndex header_;
  DirRef root_;
};

}  // namespace blobstate

#endif  // BLOBSTATE_INDEX_INDEX_FILE_H_
