#include "index/index_testing.h"

#include <cstdio>

#include "index/codec.h"
#include "index/fields.h"
#include "index/wire.h"
#include "util/hash.h"

namespace blobstate::testing {
namespace {

using namespace index_fields;  // NOLINT: field ids only

constexpr int64_t kBaseMtimeNs = 1'700'000'000'123'456'789;

SnapshotMetadata SampleMetadata(std::string store) {
  return SnapshotMetadata{.checkpoint_id = "1700000000123-0001-7f3a9c",
                          .job_name = "wordcount",
                          .job_id = "1",
                          .task_name = "Partition 0",
                          .store_name = std::move(store)};
}

DirIndex Dir(std::string name, std::vector<FileIndex> files, std::vector<DirIndex> subdirs = {}) {
  DirIndex d;
  d.name = std::move(name);
  d.files_present = std::move(files);
  d.subdirs_present = std::move(subdirs);
  return d;
}

std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f || c == '"' || c == '\\') {
      char buf[5];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out + "\"";
}

void DumpFile(const FileIndex& f, const std::string& indent, bool removed, std::string& out) {
  const FileMetadata& m = f.metadata;
  char mode[16];
  std::snprintf(mode, sizeof(mode), "0%o", m.mode);
  out += indent + (removed ? "removed file " : "file ") + Quote(f.name) + "\n";
  out += indent + "  size " + std::to_string(m.size) + " mtime_ns " + std::to_string(m.mtime_ns) +
         " mode " + mode + " uid " + std::to_string(m.uid) + " gid " + std::to_string(m.gid) +
         " device " + std::to_string(m.device) + " inode " + std::to_string(m.inode) + "\n";
  out += indent + "  checksum " + f.checksum.ToHex() + "\n";
  for (const FileBlob& b : f.blobs) {
    out += indent + "  blob " + Quote(b.blob_id) + " offset " + std::to_string(b.offset) +
           (b.checksum ? " checksum " + b.checksum->ToHex() : "");
    if (!b.chunk_checksums.empty()) out += " chunks";
    for (uint64_t sum : b.chunk_checksums) {
      char hex[17];
      std::snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(sum));
      out += std::string(" ") + hex;
    }
    out += "\n";
  }
}

void DumpDir(const DirIndex& d, const std::string& indent, bool removed, std::string& out) {
  out += indent + (removed ? "removed dir " : "dir ") + Quote(d.name) + "\n";
  const std::string inner = indent + "  ";
  for (const FileIndex& f : d.files_present) DumpFile(f, inner, false, out);
  for (const FileIndex& f : d.files_removed) DumpFile(f, inner, true, out);
  for (const DirIndex& s : d.subdirs_present) DumpDir(s, inner, false, out);
  for (const DirIndex& s : d.subdirs_removed) DumpDir(s, inner, true, out);
}

// `f` with the checksums of its parts, and (if `chunks`) of their chunks, of made-up bytes.
FileIndex WithPartChecksums(FileIndex f, bool chunks) {
  std::vector<Checksum> parts;
  for (size_t i = 0; i < f.blobs.size(); ++i) {
    FileBlob& b = f.blobs[i];
    const std::string bytes = b.blob_id + "/bytes";
    b.checksum = HashBytes(bytes.data(), bytes.size());
    parts.push_back(*b.checksum);
    const uint64_t end = i + 1 < f.blobs.size() ? f.blobs[i + 1].offset : f.metadata.size;
    for (uint64_t c = 0; chunks && c < ChunksOf(end - b.offset); ++c) {
      const std::string chunk = bytes + "/" + std::to_string(c);
      b.chunk_checksums.push_back(Hash64(chunk.data(), chunk.size()));
    }
  }
  f.checksum = FileChecksumOfParts(parts);
  return f;
}

}  // namespace

FileIndex MakeFile(std::string name, uint64_t size, uint64_t part_size, uint32_t seed) {
  FileIndex f;
  f.name = std::move(name);
  for (uint64_t off = 0; off < size; off += part_size) {
    f.blobs.push_back(
        {"blob-" + std::to_string(seed) + "-" + f.name + "-" + std::to_string(off), off});
    if (size - off <= part_size) break;  // the last part (and no overflow of `off`)
  }
  f.metadata = FileMetadata{.size = size,
                            .mtime_ns = kBaseMtimeNs + seed,
                            .mode = 0644,
                            .uid = 1000,
                            .gid = 1000,
                            .device = 2049,
                            .inode = 131072u + seed};
  const std::string content = f.name + "/" + std::to_string(size) + "/" + std::to_string(seed);
  f.checksum = HashBytes(content.data(), content.size());
  return f;
}

SnapshotIndex PartChecksumsIndex() {
  SnapshotIndex index;
  index.creation_time_ms = 1'800'000'000'789;
  index.metadata = SampleMetadata("part-checksums");
  index.prev_snapshot_index_blob_id = "wordcount/1/Partition_0/part-checksums/index-0001";
  // Parts of a file hashed one by one (version 2), a one-part file (its checksum is its
  // part's), an empty file, and a file retained from a version 1 writer (no part checksums).
  auto with_parts = [](FileIndex f) { return WithPartChecksums(std::move(f), false); };
  index.root.files_present.push_back(with_parts(MakeFile("000012.sst", 10'000'000, 4 << 20, 3)));
  index.root.files_present.push_back(with_parts(MakeFile("MANIFEST-000011", 900, 4 << 20, 4)));
  index.root.files_present.push_back(with_parts(MakeFile("empty", 0, 4 << 20, 5)));
  index.root.files_present.push_back(MakeFile("000005.sst", 9'000'000, 4 << 20, 6));
  index.root.files_removed.push_back(with_parts(MakeFile("000010.sst", 5'000'000, 4 << 20, 7)));
  return index;
}

SnapshotIndex ChunkChecksumsIndex() {
  SnapshotIndex index;
  index.creation_time_ms = 1'900'000'000'321;
  index.metadata = SampleMetadata("chunk-checksums");
  index.prev_snapshot_index_blob_id = "wordcount/1/Partition_0/chunk-checksums/index-0002";
  // Parts with their chunks' checksums (version 3): two parts of two chunks each, the
  // last chunk short; a one-chunk file; an empty file; a file retained from a version 2
  // writer (part checksums only) and one from a version 1 writer (none).
  constexpr uint64_t kPart = 2 * kChunkSize;
  index.root.files_present.push_back(
      WithPartChecksums(MakeFile("000021.sst", kPart + kChunkSize + 3392, kPart, 8), true));
  index.root.files_present.push_back(
      WithPartChecksums(MakeFile("MANIFEST-000020", 900, kPart, 9), true));
  index.root.files_present.push_back(WithPartChecksums(MakeFile("empty", 0, kPart, 10), true));
  index.root.files_present.push_back(
      WithPartChecksums(MakeFile("000012.sst", 10'000'000, 4 << 20, 3), false));
  index.root.files_present.push_back(MakeFile("000005.sst", 9'000'000, 4 << 20, 6));
  index.root.files_removed.push_back(
      WithPartChecksums(MakeFile("000019.sst", 3 * kChunkSize, kPart, 11), true));
  return index;
}

SnapshotIndex EmptyStoreIndex() {
  SnapshotIndex index;
  index.creation_time_ms = 1'700'000'000'123;
  index.metadata = SampleMetadata("empty-store");
  return index;
}

SnapshotIndex NestedTreeIndex() {
  SnapshotIndex index;
  index.creation_time_ms = 1'700'000'060'456;
  index.metadata = SampleMetadata("word-counts");
  index.prev_snapshot_index_blob_id = "wordcount/1/Partition_0/word-counts/index-0001";

  FileIndex racy = MakeFile("OPTIONS-000007", 4321, 4 << 20, 7);
  racy.metadata.mode = 0600;
  racy.metadata.device = 0;  // racily fresh: identity not trusted
  racy.metadata.inode = 0;
  FileIndex ancient = MakeFile("ancient.txt", 3, 4 << 20, 8);
  ancient.metadata.mtime_ns = -1'500'000'000;  // before the epoch
  ancient.metadata.uid = 0;
  ancient.metadata.gid = 4'294'967'294u;

  DirIndex& root = index.root;
  root.files_present = {MakeFile("000012.sst", 10'000'000, 4 << 20, 12),
                        MakeFile("CURRENT", 16, 4 << 20, 2), MakeFile("LOCK", 0), racy, ancient};
  // CURRENT changed since the previous snapshot: its old version is removed.
  root.files_removed = {MakeFile("000009.sst", 5'000'000, 4 << 20, 9),
                        MakeFile("CURRENT", 16, 4 << 20, 1)};
  root.subdirs_present = {
      Dir("archive", {MakeFile("000003.log", 8 << 20, 4 << 20, 3)},
          {Dir("deeper", {MakeFile("x", 1, 1, 4)}, {Dir("deepest", {MakeFile("empty", 0)})}),
           Dir("empty-dir", {})}),
      Dir("empty-top", {})};
  DirIndex old = Dir("old", {MakeFile("000001.sst", 100, 40, 5)}, {Dir("inner", {})});
  old.files_removed = {MakeFile("000000.sst", 7, 4 << 20, 6)};
  root.subdirs_removed = {old};
  return index;
}

SnapshotIndex UnicodeNamesIndex() {
  SnapshotIndex index;
  index.creation_time_ms = 1'700'000'120'789;
  index.metadata = SampleMetadata("名前-ストア");
  index.prev_snapshot_index_blob_id = "index-0002";
  std::string longest;
  while (longest.size() < 254) longest += "é";  // 2 bytes each
  longest += "x";                               // 255 bytes
  index.root.files_present = {MakeFile("日本語.sst", 12, 5),
                              MakeFile("café", 1),
                              MakeFile("emoji-😀", 2),
                              MakeFile(longest, 3),
                              MakeFile("line\nbreak\ttab", 4),
                              MakeFile("back\\slash \"quoted\"", 5),
                              MakeFile(std::string("latin1-\xe9-not-utf8"), 6)};
  index.root.subdirs_present = {Dir("Ελληνικά", {MakeFile("файл", 7)}),
                                Dir(" leading-space", {MakeFile("...", 8)})};
  return index;
}

SnapshotIndex UnknownOptionalFieldsIndex() {
  SnapshotIndex index;
  index.creation_time_ms = 42;
  index.metadata.store_name = "future";
  FileIndex f;
  f.name = "f";
  f.blobs = {{"b0", 0}, {"b1", 10}};
  f.metadata.size = 20;
  f.metadata.mode = 0644;
  f.checksum = Checksum{0x0123456789abcdef, 0xfedcba9876543210};
  index.root.files_present = {f};
  index.root.subdirs_present = {Dir("d", {})};
  return index;
}

std::string UnknownOptionalFieldsBytes() {
  // Unknown fields of each wire type, before, between and after known ones.
  auto unknowns = [](WireWriter& w, uint32_t base) {
    w.VarintField(base, 7);
    w.Key(base + 1, WireType::kI64);
    w.Fixed64(0x1122334455667788);
    w.BytesField(base + 2, "ignored by version 1 readers");
  };
  WireWriter meta, blob0, blob1, fmeta, file, dir, root, body;
  unknowns(meta, 20);
  meta.BytesField(kMetaStoreName, "future");
  blob0.BytesField(kBlobId, "b0");
  unknowns(blob0, 30);
  blob1.VarintField(kBlobOffset, 10);  // field order is free
  blob1.BytesField(kBlobId, "b1");
  fmeta.VarintField(kFileMetaSize, 20);
  unknowns(fmeta, 40);
  fmeta.VarintField(kFileMetaMode, 0644);
  unknowns(file, 50);
  file.BytesField(kFileName, "f");
  file.BytesField(kFileBlobs, blob0.data());
  file.BytesField(kFileBlobs, blob1.data());
  file.BytesField(kFileMetadata, fmeta.data());
  file.BytesField(kFileChecksum, std::string("\x01\x23\x45\x67\x89\xab\xcd\xef"
                                             "\xfe\xdc\xba\x98\x76\x54\x32\x10",
                                             16));
  dir.BytesField(kDirName, "d");
  unknowns(dir, 60);
  root.BytesField(kDirFilesPresent, file.data());
  unknowns(root, 61);
  root.BytesField(kDirSubdirsPresent, dir.data());
  unknowns(body, 100);
  body.BytesField(kIndexMetadata, meta.data());
  body.BytesField(kIndexRoot, root.data());
  body.VarintField(kIndexCreationTimeMs, ZigZagEncode(42));
  unknowns(body, kMaxFieldId - 2);
  return SealIndexBody(body.data());
}

SnapshotIndex WideIndex(size_t files) {
  SnapshotIndex index;
  index.creation_time_ms = 1;
  index.metadata = SampleMetadata("wide");
  for (size_t i = 0; i < files; ++i) {
    if (i % 1000 == 0) index.root.subdirs_present.push_back(Dir("d" + std::to_string(i), {}));
    index.root.subdirs_present.back().files_present.push_back(MakeFile(
        std::to_string(i) + ".sst", 1 + (i % 3) * (4 << 20), 4 << 20, static_cast<uint32_t>(i)));
  }
  return index;
}

std::string DumpIndex(const SnapshotIndex& index) {
  const SnapshotMetadata& m = index.metadata;
  std::string out = "snapshot_index\n";
  out += "  creation_time_ms " + std::to_string(index.creation_time_ms) + "\n";
  out += "  checkpoint_id " + Quote(m.checkpoint_id) + "\n";
  out += "  job_name " + Quote(m.job_name) + "\n";
  out += "  job_id " + Quote(m.job_id) + "\n";
  out += "  task_name " + Quote(m.task_name) + "\n";
  out += "  store_name " + Quote(m.store_name) + "\n";
  out += "  prev_snapshot_index_blob_id " + Quote(index.prev_snapshot_index_blob_id) + "\n";
  DumpDir(index.root, "  ", false, out);
  return out;
}

std::string SealIndexBody(std::string_view body, uint32_t version) {
  return SealEnvelope(kSnapshotIndexMagic, version, body);
}

std::string Reseal(std::string encoded) {
  const size_t checked = encoded.size() - kEnvelopeTrailerSize;
  const uint64_t sum = Hash64(encoded.data(), checked);
  for (size_t i = 0; i < kEnvelopeTrailerSize; ++i) {
    encoded[checked + i] = static_cast<char>((sum >> (8 * i)) & 0xff);
  }
  return encoded;
}

Result<std::shared_ptr<const IndexFile>> IndexFileOf(std::string_view bytes) {
  ASSIGN_OR_RETURN(File file, File::Unnamed(""));
  RETURN_IF_ERROR(file.Write(bytes.data(), bytes.size()));
  return IndexFile::Open(std::move(file));
}

Result<SnapshotIndex> ReadThroughFile(std::string_view bytes) {
  ASSIGN_OR_RETURN(std::shared_ptr<const IndexFile> file, IndexFileOf(bytes));
  return file->ReadAll();
}

}  // namespace blobstate::testing
