// DecodeSnapshotIndex: the reader of every supported version (1 to 3), and the
// name rule. docs/format.md is the contract; this file explains only choices within it.
//
// Nothing in the input is trusted. Lengths are checked against the bytes that are
// actually there before any use, and nothing is reserved from a count in the input, so
// memory stays proportional to the input's size. Recursion follows directory nesting
// only, which is bounded by kMaxDirDepth. Each entry is validated as soon as it is
// parsed, so that an error names its path (kept as a stack of frames, formatted only
// when an error is reported).
#include <algorithm>
#include <cstdio>
#include <vector>

#include "blobstate/index.h"
#include "index/codec.h"
#include "index/decoder.h"
#include "util/hash.h"

namespace blobstate {

using namespace index_fields;  // NOLINT: field ids only

namespace {

constexpr size_t kMaxNameBytes = 255;

// Why `name` is not a valid file or directory name, or nullptr if it is.
const char* NameProblem(std::string_view name) {
  if (name.empty()) return "empty name";
  if (name.size() > kMaxNameBytes) return "name longer than 255 bytes";
  if (name == "." || name == "..") return "name \".\" or \"..\" is not allowed";
  if (name.find('/') != std::string_view::npos) return "name contains '/'";
  if (name.find('\0') != std::string_view::npos) return "name contains NUL";
  return nullptr;
}

// `s` for an error message: control bytes, quotes and backslashes escaped, at most 64
// bytes of it.
std::string Printable(std::string_view s) {
  constexpr size_t kMax = 64;
  std::string out;
  for (unsigned char c : s.substr(0, kMax)) {
    if (c < 0x20 || c == 0x7f || c == '"' || c == '\\') {
      char buf[5];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  if (s.size() > kMax) out += "...";
  return out;
}

uint64_t LoadBigEndian(std::string_view b) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(b[i]);
  return v;
}

}  // namespace

Status IndexDecoder::CheckField(const MessageSpec& spec, const WireField& f, uint64_t* seen,
                                bool* known_field) const {
  const FieldSpec* known = spec.Find(f.id);
  *known_field = known != nullptr;
  if (known == nullptr) {
    if (f.must_understand) {
      return FieldError(spec, f,
                        "unknown field marked must-understand (written by a newer "
                        "blobstate?)");
    }
    return Status::Ok();
  }
  if (f.type != known->type) {
    return FieldError(spec, f,
                      "wire type " + std::string(WireTypeName(f.type)) + ", expected " +
                          std::string(WireTypeName(known->type)));
  }
  if (!known->repeated) {
    static_assert(kMaxKnownFieldId < 64, "the duplicate mask holds field ids below 64");
    const uint64_t bit = uint64_t{1} << known->id;
    if (*seen & bit) return FieldError(spec, f, "duplicate field");
    *seen |= bit;
  }
  return Status::Ok();
}

Status IndexDecoder::WireError(const MessageSpec& spec, const Status& reader_error) const {
  return Error(std::string(spec.name) + ": " + reader_error.message());
}

template <typename Fn>
Status IndexDecoder::ForEachField(std::string_view bytes, const MessageSpec& spec, Fn&& fn) const {
  WireReader reader(bytes);
  uint64_t seen = 0;
  while (!reader.done()) {
    Result<WireField> f = reader.Next();
    if (!f.ok()) return WireError(spec, f.status());
    bool known = false;
    RETURN_IF_ERROR(CheckField(spec, *f, &seen, &known));
    if (known) RETURN_IF_ERROR(fn(*f));
  }
  return Status::Ok();
}

Status IndexDecoder::DecodeBody(std::string_view body, SnapshotIndex* index) {
  return ForEachField(body, kSnapshotIndexSpec, [&](const WireField& f) -> Status {
    switch (f.id) {
      case kIndexCreationTimeMs:
        index->creation_time_ms = ZigZagDecode(f.number);
        return Status::Ok();
      case kIndexMetadata:
        return ParseMetadata(f.bytes, &index->metadata);
      case kIndexRoot: {
        path_.push_back(Frame{&index->root.name, 0, true, false});
        Status s = ParseDir(f.bytes, 0, &index->root);
        path_.pop_back();
        return s;
      }
      case kIndexPrevBlobId:
        index->prev_snapshot_index_blob_id = std::string(f.bytes);
        return Status::Ok();
    }
    return Status::Ok();
  });
}

Status IndexDecoder::ParseMetadata(std::string_view bytes, SnapshotMetadata* m) {
  return ForEachField(bytes, kSnapshotMetadataSpec, [&](const WireField& f) -> Status {
    std::string* target = nullptr;
    switch (f.id) {
      case kMetaCheckpointId:
        target = &m->checkpoint_id;
        break;
      case kMetaJobName:
        target = &m->job_name;
        break;
      case kMetaJobId:
        target = &m->job_id;
        break;
      case kMetaTaskName:
        target = &m->task_name;
        break;
      case kMetaStoreName:
        target = &m->store_name;
        break;
    }
    if (target) *target = std::string(f.bytes);
    return Status::Ok();
  });
}

Status IndexDecoder::ParseDir(std::string_view bytes, int depth, DirIndex* dir) {
  if (depth > kMaxDirDepth) {
    return Error("directories nested deeper than " + std::to_string(kMaxDirDepth));
  }
  RETURN_IF_ERROR(ForEachField(bytes, kDirIndexSpec, [&](const WireField& f) -> Status {
    switch (f.id) {
      case kDirName:
        dir->name = std::string(f.bytes);
        return Status::Ok();
      case kDirFilesPresent:
        return ParseChildFile(f.bytes, false, &dir->files_present);
      case kDirFilesRemoved:
        return ParseChildFile(f.bytes, true, &dir->files_removed);
      case kDirSubdirsPresent:
        return ParseChildDir(f.bytes, depth + 1, false, &dir->subdirs_present);
      case kDirSubdirsRemoved:
        return ParseChildDir(f.bytes, depth + 1, true, &dir->subdirs_removed);
    }
    return Status::Ok();
  }));
  std::vector<std::string_view> subdirs;
  subdirs.reserve(dir->subdirs_present.size() + dir->files_present.size());
  for (const DirIndex& d : dir->subdirs_present) subdirs.push_back(d.name);
  RETURN_IF_ERROR(ValidateDir(dir->name, dir->files_present, std::move(subdirs), depth == 0));
  if (visit_ != nullptr) {
    const bool removed = path_.back().removed;  // a directory in a removed subtree
    for (const FileIndex& f : dir->files_present) (*visit_)(f, removed);
    for (const FileIndex& f : dir->files_removed) (*visit_)(f, true);
    std::vector<FileIndex>().swap(dir->files_present);
    std::vector<FileIndex>().swap(dir->files_removed);
  }
  return Status::Ok();
}

Status IndexDecoder::ParseChildDir(std::string_view bytes, int depth, bool removed,
                                   std::vector<DirIndex>* list) {
  DirIndex child;
  // A removed dir's subtree is all removed.
  const bool in_removed = removed || path_.back().removed;
  path_.push_back(Frame{&child.name, list->size(), true, in_removed});
  Status s = ParseDir(bytes, depth, &child);
  path_.pop_back();
  RETURN_IF_ERROR(s);
  list->push_back(std::move(child));
  return Status::Ok();
}

Status IndexDecoder::ParseChildFile(std::string_view bytes, bool removed,
                                    std::vector<FileIndex>* list) {
  FileIndex child;
  path_.push_back(Frame{&child.name, list->size(), false, removed});
  Status s = ParseFile(bytes, &child);
  if (s.ok()) s = ValidateFile(child);
  path_.pop_back();
  RETURN_IF_ERROR(s);
  list->push_back(std::move(child));
  return Status::Ok();
}

Status IndexDecoder::ParseFile(std::string_view bytes, FileIndex* file) {
  return ForEachField(bytes, kFileIndexSpec, [&](const WireField& f) -> Status {
    switch (f.id) {
      case kFileName:
        file->name = std::string(f.bytes);
        return Status::Ok();
      case kFileBlobs: {
        FileBlob blob;
        RETURN_IF_ERROR(ParseBlob(f.bytes, &blob));
        file->blobs.push_back(std::move(blob));
        return Status::Ok();
      }
      case kFileMetadata:
        return ParseFileMetadata(f.bytes, &file->metadata);
      case kFileChecksum:
        if (f.bytes.size() != kChecksumBytes) {
          return FieldError(kFileIndexSpec, f,
                            "checksum of " + std::to_string(f.bytes.size()) + " bytes, expected " +
                                std::to_string(kChecksumBytes));
        }
        file->checksum.high = LoadBigEndian(f.bytes.substr(0, 8));
        file->checksum.low = LoadBigEndian(f.bytes.substr(8, 8));
        return Status::Ok();
    }
    return Status::Ok();
  });
}

Status IndexDecoder::ParseBlob(std::string_view bytes, FileBlob* blob) {
  return ForEachField(bytes, kFileBlobSpec, [&](const WireField& f) -> Status {
    if (f.id == kBlobId) blob->blob_id = std::string(f.bytes);
    if (f.id == kBlobOffset) blob->offset = f.number;
    if (f.id == kBlobChecksum && version_ >= 2) {  // unknown to version 1: skipped
      if (f.bytes.size() != kChecksumBytes) {
        return FieldError(kFileBlobSpec, f,
                          "checksum of " + std::to_string(f.bytes.size()) + " bytes, expected " +
                              std::to_string(kChecksumBytes));
      }
      blob->checksum =
          Checksum{LoadBigEndian(f.bytes.substr(0, 8)), LoadBigEndian(f.bytes.substr(8, 8))};
    }
    if (f.id == kBlobChunkChecksums && version_ >= 3) {  // unknown to versions 1 and 2
      if (f.bytes.empty() || f.bytes.size() % kChunkChecksumBytes != 0) {
        return FieldError(kFileBlobSpec, f,
                          std::to_string(f.bytes.size()) + " bytes, not a positive multiple of " +
                              std::to_string(kChunkChecksumBytes));
      }
      for (size_t at = 0; at < f.bytes.size(); at += kChunkChecksumBytes) {
        blob->chunk_checksums.push_back(LoadBigEndian(f.bytes.substr(at, kChunkChecksumBytes)));
      }
    }
    return Status::Ok();
  });
}

Status IndexDecoder::ParseFileMetadata(std::string_view bytes, FileMetadata* m) {
  return ForEachField(bytes, kFileMetadataSpec, [&](const WireField& f) -> Status {
    switch (f.id) {
      case kFileMetaSize:
        m->size = f.number;
        break;
      case kFileMetaMtimeNs:
        m->mtime_ns = ZigZagDecode(f.number);
        break;
      case kFileMetaMode:
        if (f.number > 07777) {
          return FieldError(kFileMetadataSpec, f,
                            "mode " + std::to_string(f.number) + " has bits beyond 07777");
        }
        m->mode = static_cast<uint32_t>(f.number);
        break;
      case kFileMetaUid: {
        ASSIGN_OR_RETURN(m->uid, ToUint32(f));
        break;
      }
      case kFileMetaGid: {
        ASSIGN_OR_RETURN(m->gid, ToUint32(f));
        break;
      }
      case kFileMetaDevice:
        m->device = f.number;
        break;
      case kFileMetaInode:
        m->inode = f.number;
        break;
    }
    return Status::Ok();
  });
}

Status IndexDecoder::ValidateDir(std::string_view name, const std::vector<FileIndex>& files,
                                 std::vector<std::string_view> names, bool is_root) const {
  if (is_root) {
    if (!name.empty()) return Error("root has a name, \"" + Printable(name) + "\"");
  } else if (const char* problem = NameProblem(name)) {
    return Error(problem);
  }
  // Names present in one directory must be distinct, files and subdirs alike.
  for (const FileIndex& f : files) names.push_back(f.name);
  std::sort(names.begin(), names.end());
  auto dup = std::adjacent_find(names.begin(), names.end());
  if (dup != names.end()) return Error("duplicate name \"" + Printable(*dup) + "\"");
  return Status::Ok();
}

Status IndexDecoder::ValidateFile(const FileIndex& file) const {
  if (const char* problem = NameProblem(file.name)) return Error(problem);
  const uint64_t size = file.metadata.size;
  if (size == 0 && !file.blobs.empty()) return Error("empty file has blobs");
  if (size > 0 && file.blobs.empty()) return Error("non-empty file has no blobs");
  for (size_t i = 0; i < file.blobs.size(); ++i) {
    const FileBlob& b = file.blobs[i];
    const std::string blob = "blob " + std::to_string(i) + ": ";
    if (b.blob_id.empty()) return Error(blob + "empty blob id");
    if (i == 0 && b.offset != 0) {
      return Error(blob + "first offset is " + std::to_string(b.offset) + ", not 0");
    }
    if (i > 0 && b.offset <= file.blobs[i - 1].offset) {
      return Error(blob + "blob offsets not increasing");
    }
    if (b.offset >= size) {
      return Error(blob + "offset " + std::to_string(b.offset) + " not below file size " +
                   std::to_string(size));
    }
  }
  // Parts record their checksums all or none; if all, the file's is made of theirs.
  std::vector<Checksum> parts;
  for (const FileBlob& b : file.blobs) {
    if (b.checksum) parts.push_back(*b.checksum);
  }
  if (!parts.empty() && parts.size() != file.blobs.size()) {
    return Error("only " + std::to_string(parts.size()) + " of " +
                 std::to_string(file.blobs.size()) + " parts record a checksum");
  }
  if (!parts.empty() && FileChecksumOfParts(parts) != file.checksum) {
    return Error("checksum " + file.checksum.ToHex() + " is not the one of its parts, " +
                 FileChecksumOfParts(parts).ToHex());
  }
  return ValidateChunks(file);
}

Status IndexDecoder::ValidateChunks(const FileIndex& file) const {
  // Parts record their chunks' checksums all or none, each beside its own, one per chunk.
  size_t with_chunks = 0;
  for (size_t i = 0; i < file.blobs.size(); ++i) {
    const FileBlob& b = file.blobs[i];
    if (b.chunk_checksums.empty()) continue;
    ++with_chunks;
    const std::string blob = "blob " + std::to_string(i) + ": ";
    if (!b.checksum) return Error(blob + "chunk checksums without a checksum");
    const uint64_t end = PartEnd(file, i);
    if (b.chunk_checksums.size() != ChunksOf(end - b.offset)) {
      return Error(blob + std::to_string(b.chunk_checksums.size()) + " chunk checksums for " +
                   std::to_string(end - b.offset) + " bytes, expected " +
                   std::to_string(ChunksOf(end - b.offset)));
    }
  }
  if (with_chunks != 0 && with_chunks != file.blobs.size()) {
    return Error("only " + std::to_string(with_chunks) + " of " +
                 std::to_string(file.blobs.size()) + " parts record chunk checksums");
  }
  return Status::Ok();
}

Status IndexDecoder::Error(std::string_view what) const {
  std::string where = Where();
  std::string msg = "snapshot index: ";
  if (!where.empty()) msg += where + ": ";
  msg += what;
  return InvalidArgumentError(std::move(msg));
}

Status IndexDecoder::FieldError(const MessageSpec& spec, const WireField& f,
                                std::string_view what) const {
  std::string msg = std::string(spec.name) + " field " + std::to_string(f.id);
  if (const FieldSpec* known = spec.Find(f.id)) msg += " (" + std::string(known->name) + ")";
  return Error(msg + ": " + std::string(what));
}

Result<uint32_t> IndexDecoder::ToUint32(const WireField& f) const {
  if (f.number > UINT32_MAX) {
    return FieldError(kFileMetadataSpec, f, std::to_string(f.number) + " above 2^32-1");
  }
  return static_cast<uint32_t>(f.number);
}

// `dir "a/b": file "x"`, `removed dir "a/c"`, `file "x"` (in the root), `root dir`.
std::string IndexDecoder::Where() const {
  if (path_.empty()) return "";
  std::string dir;
  bool dir_removed = false;
  const Frame* file = nullptr;
  for (size_t i = 1; i < path_.size(); ++i) {  // path_[0] is the root
    const Frame& f = path_[i];
    const std::string label =
        f.name->empty() ? "[" + std::to_string(f.index) + "]" : Printable(*f.name);
    if (!f.is_dir) {
      file = &f;
      break;
    }
    dir_removed = f.removed;
    dir += (dir.empty() ? "" : "/") + label;
  }
  std::string out;
  if (!dir.empty()) out = (dir_removed ? "removed dir \"" : "dir \"") + dir + "\"";
  if (file == nullptr) return out.empty() ? "root dir" : out;
  if (!out.empty()) out += ": ";
  const std::string name =
      file->name->empty() ? "[" + std::to_string(file->index) + "]" : Printable(*file->name);
  return out + (file->removed ? "removed file \"" : "file \"") + name + "\"";
}

namespace {

Result<SnapshotIndex> Decode(std::string_view bytes, const FileVisitor* visit) {
  ASSIGN_OR_RETURN(
      EnvelopeContents contents,
      OpenEnvelope(bytes, kSnapshotIndexMagic, "snapshot index", kSnapshotIndexFormatVersion));
  // Versions 2 and 3 added FileBlob fields; an older body is read as version 3 without them.
  SnapshotIndex index;
  RETURN_IF_ERROR(IndexDecoder(contents.version, visit).DecodeBody(contents.body, &index));
  return index;
}

}  // namespace

Result<SnapshotIndex> DecodeSnapshotIndex(std::string_view bytes) { return Decode(bytes, nullptr); }

Result<SnapshotIndex> DecodeSnapshotIndexFiles(std::string_view bytes, const FileVisitor& visit) {
  return Decode(bytes, &visit);
}

bool IsValidName(std::string_view name) { return NameProblem(name) == nullptr; }

bool HasPartChecksums(const FileIndex& file) {
  return std::all_of(file.blobs.begin(), file.blobs.end(),
                     [](const FileBlob& b) { return b.checksum.has_value(); });
}

Checksum FileChecksumOfParts(const std::vector<Checksum>& parts) {
  if (parts.size() == 1) return parts[0];
  std::string bytes;
  bytes.reserve(parts.size() * kChecksumBytes);
  for (const Checksum& c : parts) {
    for (uint64_t word : {c.high, c.low}) {
      for (int shift = 56; shift >= 0; shift -= 8)
        bytes.push_back(static_cast<char>(word >> shift));
    }
  }
  return HashBytes(bytes.data(), bytes.size());
}

}  // namespace blobstate
