// Test helpers for the index codec: sample indexes, a text dump, and envelope helpers.
//
// The samples that golden_test.cc encodes are the content of the committed golden files in
// testdata/index/v1/ and v2/: changing them breaks IndexGoldenTest, on purpose.
#ifndef BLOBSTATE_INDEX_INDEX_TESTING_H_
#define BLOBSTATE_INDEX_INDEX_TESTING_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "blobstate/index.h"
#include "index/index_file.h"

namespace blobstate::testing {

// A file of `size` bytes cut into blobs of `part_size` bytes, with deterministic blob ids,
// metadata and checksum derived from `name` and `seed`.
FileIndex MakeFile(std::string name, uint64_t size, uint64_t part_size = 4 << 20,
                   uint32_t seed = 1);

// A store with no files: metadata only (golden "empty_store").
SnapshotIndex EmptyStoreIndex();
// Nested dirs, empty files and dirs, multi-part files, removed files and dirs, a racily
// fresh file, a negative mtime (golden "nested_tree").
SnapshotIndex NestedTreeIndex();
// Non-ASCII, control-character, non-UTF-8 and 255-byte names (golden "unicode_names").
SnapshotIndex UnicodeNamesIndex();
// Files whose parts record checksums (version 2), beside an empty file and one without
// (golden "part_checksums", version 2 only).
SnapshotIndex PartChecksumsIndex();
// Parts that record their chunks' checksums beside files of older writers (golden
// "chunk_checksums", version 3).
SnapshotIndex ChunkChecksumsIndex();
// What the golden "unknown_optional_fields" decodes to.
SnapshotIndex UnknownOptionalFieldsIndex();
// UnknownOptionalFieldsIndex() as a newer writer would encode it: with unknown optional
// fields of every wire type in every message kind. Hand-written with WireWriter.
std::string UnknownOptionalFieldsBytes();

// `files` files spread over directories of 1,000, for size and speed tests.
SnapshotIndex WideIndex(size_t files);

// Every field of `index`, one entry per line, indented by nesting; names and strings
// quoted with control bytes, quotes and backslashes escaped. Defaults are printed too, so
// equal dumps mean equal indexes.
std::string DumpIndex(const SnapshotIndex& index);

// A version `version` envelope around `body`.
std::string SealIndexBody(std::string_view body, uint32_t version = 1);
// `encoded` with its trailing checksum recomputed (to get past the checksum to the body).
// REQUIRES: encoded.size() >= 8.
std::string Reseal(std::string encoded);

// `bytes` in an unnamed file, opened as an IndexFile.
Result<std::shared_ptr<const IndexFile>> IndexFileOf(std::string_view bytes);
// DecodeSnapshotIndex(bytes) done by an IndexFile: the same index or the same error.
Result<SnapshotIndex> ReadThroughFile(std::string_view bytes);

}  // namespace blobstate::testing

#endif  // BLOBSTATE_INDEX_INDEX_TESTING_H_
