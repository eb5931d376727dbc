// EncodeSnapshotIndex: the version 3 writer (docs/format.md).
//
// Determinism: fields are written in id order, repeated fields in vector order, and a
// singular field is omitted exactly when it holds its default (0, empty, absent, or a
// message whose encoding is empty). No field carries the must-understand bit.
//
// Each nested message is preceded by its length, so the encoder measures before it writes.
// Measuring a directory means measuring its whole subtree; to keep encoding linear in the
// size of the index whatever its depth, a first pass (WireCounter) records the size of
// every DirIndex in pre-order and the writing pass (WireWriter) consumes them in the same
// order. Files and the messages inside them are small and measured on the spot.
#include <cassert>
#include <vector>

#include "blobstate/index.h"
#include "index/codec.h"
#include "index/fields.h"
#include "index/wire.h"
#include "util/hash.h"

namespace blobstate {
namespace {

using namespace index_fields;  // NOLINT: field ids only

// A spill point comes after each file, whose encoding is rarely longer than this (a file
// of 64 MiB records 1024 chunk checksums, 8 KiB): the writer's buffer is reserved once for
// a chunk and this.
constexpr size_t kMaxFileEncoding = 16384;

class Encoder {
 public:
  friend void blobstate::EncodeIndexBeforeRoot(const SnapshotIndex&, WireWriter&);
  friend void blobstate::EncodeIndexAfterRoot(const SnapshotIndex&, WireWriter&);
  friend void blobstate::EncodeDirFiles(std::string_view, const std::vector<FileIndex>&,
                                        const std::vector<FileIndex>&, WireWriter&);

  // Hands the envelope to `out` in pieces of about `chunk` bytes, checksum last; returns
  // its size.
  uint64_t Encode(const SnapshotIndex& index, const IndexChunkWriter& out, size_t chunk) {
    WireCounter counter;
    EncodeIndex(counter, index);
    Hasher64 hash;
    auto emit = [&](std::string_view piece) {
      hash.Update(piece.data(), piece.size());
      out(piece);
    };
    WireWriter writer;
    writer.Reserve(chunk + kMaxFileEncoding);
    writer.SpillTo(emit, chunk);
    StartEnvelope(writer, kSnapshotIndexMagic, kSnapshotIndexFormatVersion);
    EncodeIndex(writer, index);
    assert(next_dir_ == dir_sizes_.size());
    emit(writer.data());
    char trailer[kEnvelopeTrailerSize];
    const uint64_t sum = hash.Finish();
    for (size_t i = 0; i < kEnvelopeTrailerSize; ++i)
      trailer[i] = static_cast<char>(sum >> (8 * i));
    out(std::string_view(trailer, kEnvelopeTrailerSize));
    return kEnvelopeHeaderSize + counter.size() + kEnvelopeTrailerSize;
  }

 private:
  template <typename Out>
  void EncodeIndex(Out& out, const SnapshotIndex& index) {
    EncodeBeforeRoot(out, index);
    DirField(out, kIndexRoot, index.root, /*omit_if_empty=*/true);
    EncodeAfterRoot(out, index);
  }

  template <typename Out>
  void EncodeBeforeRoot(Out& out, const SnapshotIndex& index) {
    if (index.creation_time_ms != 0) {
      out.VarintField(kIndexCreationTimeMs, ZigZagEncode(index.creation_time_ms));
    }
    SmallMessageField(out, kIndexMetadata, index.metadata, /*omit_if_empty=*/true);
  }

  template <typename Out>
  static void EncodeAfterRoot(Out& out, const SnapshotIndex& index) {
    StringField(out, kIndexPrevBlobId, index.prev_snapshot_index_blob_id);
  }

  // The fields of a DirIndex before its subdirectories.
  template <typename Out>
  void EncodeDirFiles(Out& out, std::string_view name, const std::vector<FileIndex>& present,
                      const std::vector<FileIndex>& removed) {
    StringField(out, kDirName, name);
    for (const FileIndex& f : present) {
      SmallMessageField(out, kDirFilesPresent, f);
      out.SpillPoint();
    }
    for (const FileIndex& f : removed) {
      SmallMessageField(out, kDirFilesRemoved, f);
      out.SpillPoint();
    }
  }

  template <typename Out>
  void EncodeMessage(Out& out, const SnapshotMetadata& m) {
    StringField(out, kMetaCheckpointId, m.checkpoint_id);
    StringField(out, kMetaJobName, m.job_name);
    StringField(out, kMetaJobId, m.job_id);
    StringField(out, kMetaTaskName, m.task_name);
    StringField(out, kMetaStoreName, m.store_name);
  }

  template <typename Out>
  void EncodeDir(Out& out, const DirIndex& dir) {
    EncodeDirFiles(out, dir.name, dir.files_present, dir.files_removed);
    for (const DirIndex& d : dir.subdirs_present) DirField(out, kDirSubdirsPresent, d);
    for (const DirIndex& d : dir.subdirs_removed) DirField(out, kDirSubdirsRemoved, d);
  }

  template <typename Out>
  void EncodeMessage(Out& out, const FileIndex& file) {
    StringField(out, kFileName, file.name);
    for (const FileBlob& b : file.blobs) SmallMessageField(out, kFileBlobs, b);
    SmallMessageField(out, kFileMetadata, file.metadata, /*omit_if_empty=*/true);
    if (file.checksum != Checksum{}) ChecksumField(out, kFileChecksum, file.checksum);
  }

  template <typename Out>
  void EncodeMessage(Out& out, const FileBlob& blob) {
    StringField(out, kBlobId, blob.blob_id);
    UintField(out, kBlobOffset, blob.offset);
    if (blob.checksum) ChecksumField(out, kBlobChecksum, *blob.checksum);
    if (!blob.chunk_checksums.empty()) {
      out.LenHeader(kBlobChunkChecksums, blob.chunk_checksums.size() * kChunkChecksumBytes);
      for (uint64_t sum : blob.chunk_checksums) WriteBigEndian(out, sum);
    }
  }

  template <typename Out>
  static void ChecksumField(Out& out, uint32_t id, const Checksum& sum) {
    out.LenHeader(id, kChecksumBytes);
    WriteBigEndian(out, sum.high);
    WriteBigEndian(out, sum.low);
  }

  template <typename Out>
  void EncodeMessage(Out& out, const FileMetadata& m) {
    UintField(out, kFileMetaSize, m.size);
    if (m.mtime_ns != 0) out.VarintField(kFileMetaMtimeNs, ZigZagEncode(m.mtime_ns));
    UintField(out, kFileMetaMode, m.mode);
    UintField(out, kFileMetaUid, m.uid);
    UintField(out, kFileMetaGid, m.gid);
    UintField(out, kFileMetaDevice, m.device);
    UintField(out, kFileMetaInode, m.inode);
  }

  // A message other than DirIndex, measured on the spot.
  template <typename Out, typename Message>
  void SmallMessageField(Out& out, uint32_t id, const Message& m, bool omit_if_empty = false) {
    WireCounter size;
    EncodeMessage(size, m);
    if (omit_if_empty && size.size() == 0) return;
    out.LenHeader(id, size.size());
    if constexpr (Out::kCounting) {
      out.Skip(size.size());
    } else {
      EncodeMessage(out, m);
    }
  }

  // A DirIndex: measured once, in the counting pass.
  template <typename Out>
  void DirField(Out& out, uint32_t id, const DirIndex& dir, bool omit_if_empty = false) {
    uint64_t size;
    if constexpr (Out::kCounting) {
      const size_t slot = dir_sizes_.size();
      dir_sizes_.push_back(0);
      WireCounter counter;
      EncodeDir(counter, dir);
      size = dir_sizes_[slot] = counter.size();
    } else {
      size = dir_sizes_[next_dir_++];
    }
    if (omit_if_empty && size == 0) return;
    out.LenHeader(id, size);
    if constexpr (Out::kCounting) {
      out.Skip(size);
    } else {
      EncodeDir(out, dir);
    }
  }

  template <typename Out>
  static void StringField(Out& out, uint32_t id, std::string_view s) {
    if (!s.empty()) out.BytesField(id, s);
  }

  template <typename Out>
  static void UintField(Out& out, uint32_t id, uint64_t v) {
    if (v != 0) out.VarintField(id, v);
  }

  template <typename Out>
  static void WriteBigEndian(Out& out, uint64_t v) {
    char bytes[8];
    for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((v >> (56 - 8 * i)) & 0xff);
    out.Raw(std::string_view(bytes, 8));
  }

  std::vector<uint64_t> dir_sizes_;  // of every DirIndex, in pre-order
  size_t next_dir_ = 0;              // the next of dir_sizes_ the writing pass uses
};

}  // namespace

std::string EncodeSnapshotIndex(const SnapshotIndex& index) {
  std::string out;
  EncodeSnapshotIndexTo(index, [&out](std::string_view piece) { out.append(piece); });
  return out;
}

uint64_t EncodeSnapshotIndexTo(const SnapshotIndex& index, const IndexChunkWriter& out) {
  return Encoder().Encode(index, out, kIndexChunkSize);
}

void EncodeIndexBeforeRoot(const SnapshotIndex& index, WireWriter& out) {
  Encoder().EncodeBeforeRoot(out, index);
}

void EncodeIndexAfterRoot(const SnapshotIndex& index, WireWriter& out) {
  Encoder::EncodeAfterRoot(out, index);
}

void EncodeDirFiles(std::string_view name, const std::vector<FileIndex>& present,
                    const std::vector<FileIndex>& removed, WireWriter& out) {
  Encoder().EncodeDirFiles(out, name, present, removed);
}

}  // namespace blobstate
