// Writes a snapshot index a directory at a time, without the tree in memory.
//
// EncodeSnapshotIndex needs the whole tree; a backup of a million files learns it one
// directory at a time, as uploads finish, in no set order. IndexWriter takes each
// directory's files when they are known, encodes them at once to a scratch file, and keeps
// only the shape of the tree (a few words per directory). Finish writes the index into an
// IndexFile: byte for byte what EncodeSnapshotIndex gives for the same tree.
//
// Example:
//   ASSIGN_OR_RETURN(auto writer, IndexWriter::Create(spill_dir));
//   IndexWriter::DirId sub = writer->AddDir(writer->root(), "sub", /*removed=*/false);
//   RETURN_IF_ERROR(writer->AppendFiles(sub, files, {}));
//   ASSIGN_OR_RETURN(auto index, writer->Finish(header));  // header.root is ignored
//
// Thread safety: every method may be called from any thread.
#ifndef BLOBSTATE_INDEX_INDEX_WRITER_H_
#define BLOBSTATE_INDEX_INDEX_WRITER_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "blobstate/index.h"
#include "blobstate/status.h"
#include "index/index_file.h"
#include "util/fs.h"

namespace blobstate {

class IndexWriter {
 public:
  using DirId = uint32_t;

  // Scratch files are unnamed files in `dir` (File::Unnamed).
  static Result<std::unique_ptr<IndexWriter>> Create(const std::string& dir);

  DirId root() const { return 0; }
  // A new subdirectory of `parent`, present or removed; each list keeps the order of the
  // calls.
  DirId AddDir(DirId parent, std::string name, bool removed);
  // Adds files to `dir`, after those of earlier calls (a directory never given any has
  // none). The index lists them in the order of the calls; to write what
  // EncodeSnapshotIndex writes, give no present file after a removed one.
  Status AppendFiles(DirId dir, const std::vector<FileIndex>& present,
                     const std::vector<FileIndex>& removed);
  // Writes the index: `header`'s fields (its root is ignored) and the tree given so far.
  // Each call writes a new file: a writer abandoned midway can still be finished, for what
  // was given to it.
  Result<std::shared_ptr<const IndexFile>> Finish(const SnapshotIndex& header);

 private:
  // Encoded fields of a directory in the scratch file.
  struct Segment {
    uint64_t offset;
    uint64_t size;
  };
  struct Node {
    std::string name;               // until the first AppendFiles encodes it
    std::vector<Segment> segments;  // its fields before the subdirectories, in order
    uint64_t size = 0;              // of the whole DirIndex, set by Finish
    std::vector<DirId> present, removed;
  };

  IndexWriter(File spill, std::string dir) : spill_(std::move(spill)), dir_(std::move(dir)) {}
  // The fields of `node` before its subdirectories, when it was never given files.
  static std::string NameOnly(const Node& node);
  uint64_t Measure(DirId id);
  Status Emit(DirId id, class ChunkedOut& out, IoBuffer& buffer);

  std::mutex mu_;
  File spill_;
  const std::string dir_;
  uint64_t spill_size_ = 0;
  std::vector<Node> nodes_{Node{}};  // the root first
};

}  // namespace blobstate

#endif  // BLOBSTATE_INDEX_INDEX_WRITER_H_
