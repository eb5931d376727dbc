// Field ids and wire types of the snapshot index messages, versions 1 to 3 (docs/format.md).
//
// An id is never reused. A field that is dropped stays listed here, commented out, with
// the version that dropped it. Every id known to this build is below 64 (the decoder
// tracks duplicates in a 64-bit mask).
#ifndef BLOBSTATE_INDEX_FIELDS_H_
#define BLOBSTATE_INDEX_FIELDS_H_

#include <cstdint>
#include <span>
#include <string_view>

#include "blobstate/index.h"
#include "index/wire.h"

namespace blobstate::index_fields {

// SnapshotIndex (the body of the envelope).
inline constexpr uint32_t kIndexCreationTimeMs = 1;  // VARINT, zigzag int64
inline constexpr uint32_t kIndexMetadata = 2;        // LEN, SnapshotMetadata
inline constexpr uint32_t kIndexRoot = 3;            // LEN, DirIndex
inline constexpr uint32_t kIndexPrevBlobId = 4;      // LEN, bytes

// SnapshotMetadata.
inline constexpr uint32_t kMetaCheckpointId = 1;  // LEN, bytes
inline constexpr uint32_t kMetaJobName = 2;       // LEN, bytes
inline constexpr uint32_t kMetaJobId = 3;         // LEN, bytes
inline constexpr uint32_t kMetaTaskName = 4;      // LEN, bytes
inline constexpr uint32_t kMetaStoreName = 5;     // LEN, bytes

// DirIndex.
inline constexpr uint32_t kDirName = 1;            // LEN, bytes
inline constexpr uint32_t kDirFilesPresent = 2;    // LEN, FileIndex, repeated
inline constexpr uint32_t kDirFilesRemoved = 3;    // LEN, FileIndex, repeated
inline constexpr uint32_t kDirSubdirsPresent = 4;  // LEN, DirIndex, repeated
inline constexpr uint32_t kDirSubdirsRemoved = 5;  // LEN, DirIndex, repeated

// FileIndex.
inline constexpr uint32_t kFileName = 1;      // LEN, bytes
inline constexpr uint32_t kFileBlobs = 2;     // LEN, FileBlob, repeated
inline constexpr uint32_t kFileMetadata = 3;  // LEN, FileMetadata
inline constexpr uint32_t kFileChecksum = 4;  // LEN, exactly 16 bytes

// FileBlob.
inline constexpr uint32_t kBlobId = 1;              // LEN, bytes
inline constexpr uint32_t kBlobOffset = 2;          // VARINT, uint64
inline constexpr uint32_t kBlobChecksum = 3;        // LEN, exactly 16 bytes; since version 2
inline constexpr uint32_t kBlobChunkChecksums = 4;  // LEN, 8 bytes per chunk; since version 3

// FileMetadata.
inline constexpr uint32_t kFileMetaSize = 1;     // VARINT, uint64
inline constexpr uint32_t kFileMetaMtimeNs = 2;  // VARINT, zigzag int64
inline constexpr uint32_t kFileMetaMode = 3;     // VARINT, uint32 <= 07777
inline constexpr uint32_t kFileMetaUid = 4;      // VARINT, uint32
inline constexpr uint32_t kFileMetaGid = 5;      // VARINT, uint32
inline constexpr uint32_t kFileMetaDevice = 6;   // VARINT, uint64
inline constexpr uint32_t kFileMetaInode = 7;    // VARINT, uint64

// The largest field id above; the decoder's duplicate mask needs it below 64.
inline constexpr uint32_t kMaxKnownFieldId = kFileMetaInode;

// What the decoder checks of a known field before reading it.
struct FieldSpec {
  uint32_t id;
  std::string_view name;
  WireType type;
  bool repeated;
};

struct MessageSpec {
  std::string_view name;
  std::span<const FieldSpec> fields;

  // The spec of field `id`, or nullptr if this build does not know it.
  constexpr const FieldSpec* Find(uint32_t id) const {
    for (const FieldSpec& f : fields) {
      if (f.id == id) return &f;
    }
    return nullptr;
  }
};

inline constexpr FieldSpec kSnapshotIndexFields[] = {
    {kIndexCreationTimeMs, "creation_time_ms", WireType::kVarint, false},
    {kIndexMetadata, "metadata", WireType::kLen, false},
    {kIndexRoot, "root", WireType::kLen, false},
    {kIndexPrevBlobId, "prev_snapshot_index_blob_id", WireType::kLen, false},
};
inline constexpr FieldSpec kSnapshotMetadataFields[] = {
    {kMetaCheckpointId, "checkpoint_id", WireType::kLen, false},
    {kMetaJobName, "job_name", WireType::kLen, false},
    {kMetaJobId, "job_id", WireType::kLen, false},
    {kMetaTaskName, "task_name", WireType::kLen, false},
    {kMetaStoreName, "store_name", WireType::kLen, false},
};
inline constexpr FieldSpec kDirIndexFields[] = {
    {kDirName, "name", WireType::kLen, false},
    {kDirFilesPresent, "files_present", WireType::kLen, true},
    {kDirFilesRemoved, "files_removed", WireType::kLen, true},
    {kDirSubdirsPresent, "subdirs_present", WireType::kLen, true},
    {kDirSubdirsRemoved, "subdirs_removed", WireType::kLen, true},
};
inline constexpr FieldSpec kFileIndexFields[] = {
    {kFileName, "name", WireType::kLen, false},
    {kFileBlobs, "blobs", WireType::kLen, true},
    {kFileMetadata, "metadata", WireType::kLen, false},
    {kFileChecksum, "checksum", WireType::kLen, false},
};
inline constexpr FieldSpec kFileBlobFields[] = {
    {kBlobId, "blob_id", WireType::kLen, false},
    {kBlobOffset, "offset", WireType::kVarint, false},
    {kBlobChecksum, "checksum", WireType::kLen, false},
    {kBlobChunkChecksums, "chunk_checksums", WireType::kLen, false},
};
inline constexpr FieldSpec kFileMetadataFields[] = {
    {kFileMetaSize, "size", WireType::kVarint, false},
    {kFileMetaMtimeNs, "mtime_ns", WireType::kVarint, false},
    {kFileMetaMode, "mode", WireType::kVarint, false},
    {kFileMetaUid, "uid", WireType::kVarint, false},
    {kFileMetaGid, "gid", WireType::kVarint, false},
    {kFileMetaDevice, "device", WireType::kVarint, false},
    {kFileMetaInode, "inode", WireType::kVarint, false},
};

inline constexpr MessageSpec kSnapshotIndexSpec{"SnapshotIndex", kSnapshotIndexFields};
inline constexpr MessageSpec kSnapshotMetadataSpec{"SnapshotMetadata", kSnapshotMetadataFields};
inline constexpr MessageSpec kDirIndexSpec{"DirIndex", kDirIndexFields};
inline constexpr MessageSpec kFileIndexSpec{"FileIndex", kFileIndexFields};
inline constexpr MessageSpec kFileBlobSpec{"FileBlob", kFileBlobFields};
inline constexpr MessageSpec kFileMetadataSpec{"FileMetadata", kFileMetadataFields};

// Directories below the root a decoder accepts; deeper nesting is rejected.
inline constexpr int kMaxDirDepth = kMaxDirectoryDepth;
// The size of FileIndex.checksum: XXH3-128, high 64 bits then low, each big-endian.
inline constexpr size_t kChecksumBytes = 16;
// The size of each of FileBlob.chunk_checksums: XXH3-64, big-endian.
inline constexpr size_t kChunkChecksumBytes = 8;

}  // namespace blobstate::index_fields

#endif  // BLOBSTATE_INDEX_FIELDS_H_
