// The snapshot of a store, as recorded in the blob store.
//
// One SnapshotIndex blob is written per store per commit. It holds the root DirIndex of
// the store directory; each FileIndex names the blobs that hold the file's bytes, in
// order, with their offsets. Read one with GetStoreSnapshots (snapshot.h); its byte-level
// encoding is specified in docs/format.md.
//
// Example:
//   TreeTotals totals = TotalsOf(snapshot.index.root);  // files and bytes of the store
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
  // XXH3-64 of each kChunkSize bytes of the part, in order (the last chunk may be
  // shorter), so that a range of it is checked without the rest (a lazy restore). Since
  // version 3; empty when not recorded. Recorded only beside `checksum`.
  std::vector<uint64_t> chunk_checksums;
  friend bool operator==(const FileBlob&, const FileBlob&) = default;
};

// The bytes each of FileBlob::chunk_checksums covers.
inline constexpr uint64_t kChunkSize = 64 * 1024;

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

// The deepest nesting of directories below the root that an index may hold (a backup
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

// The blob ids of every file present in `index`, at every depth.
std::vector<std::string> BlobIdsOf(const DirIndex& index);

// Takes a file of an index being read a directory at a time; `removed` if it is listed as
// removed or is in a removed directory.
using FileVisitor = std::function<void(const FileIndex& file, bool removed)>;

}  // namespace blobstate

#pragma GCC visibility pop

#endif  // BLOBSTATE_INDEX_H_
