// The snapshot index codec: the versioned binary encoding of a SnapshotIndex
// (blobstate/index.h), specified byte by byte in docs/format.md.
//
// Example:
//   std::string bytes = EncodeSnapshotIndex(index);
//   Result<SnapshotIndex> back = DecodeSnapshotIndex(bytes);  // never trusts `bytes`
#ifndef BLOBSTATE_INDEX_CODEC_H_
#define BLOBSTATE_INDEX_CODEC_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "blobstate/checksum.h"
#include "blobstate/index.h"
#include "blobstate/status.h"
#include "index/wire.h"

namespace blobstate {

// The format version EncodeSnapshotIndex writes. Version 2 added the parts' checksums,
// version 3 their chunks' (FileBlob::chunk_checksums).
inline constexpr uint32_t kSnapshotIndexFormatVersion = 3;

// Whether every part of `file` records its checksum (true for an empty file).
bool HasPartChecksums(const FileIndex& file);
// The end of part `i` of `file` in the file: the next part's offset, or the file's size.
// REQUIRES: i < file.blobs.size().
inline uint64_t PartEnd(const FileIndex& file, size_t i) {
  return i + 1 < file.blobs.size() ? file.blobs[i + 1].offset : file.metadata.size;
}
// How many chunks of kChunkSize a part of `length` bytes has (the last may be shorter).
inline uint64_t ChunksOf(uint64_t length) { return (length + kChunkSize - 1) / kChunkSize; }

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

// The pieces of EncodeSnapshotIndex that IndexWriter (index_writer.h) writes an index
// with, appended to `out`: the fields of a SnapshotIndex before its root, those after it,
// and the fields of a DirIndex before its subdirectories (name, files present and removed).
void EncodeIndexBeforeRoot(const SnapshotIndex& index, WireWriter& out);
void EncodeIndexAfterRoot(const SnapshotIndex& index, WireWriter& out);
void EncodeDirFiles(std::string_view name, const std::vector<FileIndex>& present,
                    const std::vector<FileIndex>& removed, WireWriter& out);

// Decodes any supported format version. Never trusts `bytes`: a truncated, corrupt or
// hostile input gives kDataLoss (checksum, truncation) or kInvalidArgument (structure,
// names that are not single path components, offsets out of order), with the reason and
// the path of the offending entry; it never crashes or allocates without bound.
Result<SnapshotIndex> DecodeSnapshotIndex(std::string_view bytes);

// DecodeSnapshotIndex for a reader that needs each file once and not the tree (the blob ids
// of a snapshot, say): each directory's files, once the directory passed every check, are
// passed to `visit` and dropped, so the returned index's directories hold no files and
// memory stays within the largest directory. The checks and errors are DecodeSnapshotIndex's;
// on an error, what was visited must be discarded (a later part of the input may be bad).
Result<SnapshotIndex> DecodeSnapshotIndexFiles(std::string_view bytes, const FileVisitor& visit);

}  // namespace blobstate

#endif  // BLOBSTATE_INDEX_CODEC_H_
