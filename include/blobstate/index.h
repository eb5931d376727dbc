// The snapshot of a store, as recorded in the blob store.
//
// One SnapshotIndex blob is written per store per commit. It holds the root DirIndex of
// the store directory; each FileIndex names the blobs that hold the file's bytes, in
// order, with their offsets. The byte-level encoding is specified in docs/format.md.
//
// Example:
//   SnapshotIndex index;
//   index.metadata = {.checkpoint_id = "...", .job_name = "wordcount", ...};
//   index.root = dir_index;
//   std::string bytes = EncodeSnapshotIndex(index);
//   Result<SnapshotIndex> back = DecodeSnapshotIndex(bytes);  // never trusts `bytes`
#ifndef BLOBSTATE_INDEX_H_
#define BLOBSTATE_INDEX_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "blobstate/checksum.h"
#include "blobstate/status.h"

// The public API: exported from a shared libblobstate, which hides everything else.
#pragma GCC visibility push(default)

namespace blobstate {

// What is known of a file besides its bytes. `device` and `inode` are the file's stat
// identity on the host that hashed it: the checksum is reused without reading the file
// only while (device, inode, size, mtime_ns) are unchanged (docs/format.md, "Checksum
// reuse"); both are 0 when the identity must not be trusted.
struct FileMetadata {
  uint64_t size = 0;
  int64_t mtime_ns = 0;  // since the Unix epoch
  uint32_t mode = 0;     // permission bits only (07777)
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint64_t device = 0;
  uint64_t inode = 0;
  friend bool operator==(const FileMetadata&, const FileMetadata&) = default;
};

// One part of a file: bytes [offset, next part's offset or file size) are blob `blob_id`.
struct FileBlob {
  std::string blob_id;
  uint64_t offset = 0;
  // XXH3-128 of the part's bytes. Absent in a version 1 index, and in a file that a
  // version 1 writer uploaded and later snapshots retained: then FileIndex::checksum is
  // the content's checksum, and a part can only be checked with the whole file.
  std::optional<Checksum> checksum;
  friend bool operator==(const FileBlob&, const FileBlob&) = default;
};

struct FileIndex {
  std::string name;             // a single path component
  std::vector<FileBlob> blobs;  // in offset order; empty for an empty file
  FileMetadata metadata;
  // The content's checksum; for a file whose parts record theirs, FileChecksumOfParts.
  Checksum checksum;
  friend bool operator==(const FileIndex&, const FileIndex&) = default;
};

// A directory. `files_removed` and `subdirs_removed` list what was present in the previous
// snapshot and is gone in this one: their blobs are deleted once this snapshot is
// committed.
struct DirIndex {
  std::string name;  // a single path component; empty for the root
  std::vector<FileIndex> files_present;
  std::vector<FileIndex> files_removed;
  std::vector<DirIndex> subdirs_present;
  std::vector<DirIndex> subdirs_removed;
  friend bool operator==(const DirIndex&, const DirIndex&) = default;
};

struct SnapshotMetadata {
  std::string checkpoint_id;
  std::string job_name;
  std::string job_id;
  std::string task_name;
  std::string store_name;
  friend bool operator==(const SnapshotMetadata&, const SnapshotMetadata&) = default;
};

struct SnapshotIndex {
  int64_t creation_time_ms = 0;
  SnapshotMetadata metadata;
  DirIndex root;
  std::string prev_snapshot_index_blob_id;  // empty for the first snapshot of a store
  friend bool operator==(const SnapshotIndex&, const SnapshotIndex&) = default;
};

// The format version EncodeSnapshotIndex writes. Version 2 added the parts' checksums.
inline constexpr uint32_t kSnapshotIndexFormatVersion = 2;

// Whether every part of `file` records its checksum (true for an empty file).
bool HasPartChecksums(const FileIndex& file);

// The checksum FileIndex::checksum records for a file whose parts record theirs, from
// those (docs/format.md, "File checksums"): of one part, that part's (the content's); of
// several, the XXH3-128 of their checksums in order, 16 bytes each (high 64 bits, then
// low, big-endian); of none, the XXH3-128 of no bytes. So a file of several parts is hashed
// part by part, in parallel, each part once.
Checksum FileChecksumOfParts(const std::vector<Checksum>& parts);

// Encodes `index` in the current format version (docs/format.md).
std::string EncodeSnapshotIndex(const SnapshotIndex& index);

// Takes the next piece of an encoding.
using IndexChunkWriter = std::function<void(std::string_view piece)>;
// About how many bytes each piece of EncodeSnapshotIndexTo holds (the last ones fewer).
inline constexpr size_t kIndexChunkSize = 1 << 20;
// EncodeSnapshotIndex handed to `out` in order, in pieces, so that a large index need never
// be whole in memory; returns the size of the whole.
uint64_t EncodeSnapshotIndexTo(const SnapshotIndex& index, const IndexChunkWriter& out);

// Decodes any supported format version. Never trusts `bytes`: a truncated, corrupt or
// hostile input gives kDataLoss (checksum, truncation) or kInvalidArgument (structure,
// names that are not single path components, offsets out of order), with the reason and
// the path of the offending entry; it never crashes or allocates without bound.
Result<SnapshotIndex> DecodeSnapshotIndex(std::string_view bytes);

// Takes a file of an index being decoded; `removed` if it is listed as removed or is in a
// removed directory.
using FileVisitor = std::function<void(const FileIndex& file, bool removed)>;

// DecodeSnapshotIndex for a reader that needs each file once and not the tree (the blob ids
// of a snapshot, say): each directory's files, once the directory passed every check, are
// passed to `visit` and dropped, so the returned index's directories hold no files and
// memory stays within the largest directory. The checks and errors are DecodeSnapshotIndex's;
// on an error, what was visited must be discarded (a later part of the input may be bad).
Result<SnapshotIndex> DecodeSnapshotIndexFiles(std::string_view bytes, const FileVisitor& visit);

// The deepest nesting of directories below the root that an index may hold (DiffDir
// rejects deeper trees, so that every snapshot taken can be decoded).
inline constexpr int kMaxDirectoryDepth = 256;

// Whether `name` can be a file or directory name in an index: non-empty, at most 255
// bytes, not "." or "..", no '/' and no NUL.
bool IsValidName(std::string_view name);

// The number and total size of the files present in a directory index, at every depth.
struct TreeTotals {
  uint64_t files = 0;
  uint64_t bytes = 0;
};
TreeTotals TotalsOf(const DirIndex& dir);
// The same for a list of files (no subdirectories).
TreeTotals TotalsOf(const std::vector<FileIndex>& files);

}  // namespace blobstate

#pragma GCC visibility pop

#endif  // BLOBSTATE_INDEX_H_
