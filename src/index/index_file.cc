#include "index/index_file.h"

#include <algorithm>

#include "index/decoder.h"
#include "util/hash.h"

namespace blobstate {

using namespace index_fields;  // NOLINT: field ids only

struct IndexFile::PathNode {
  std::shared_ptr<const PathNode> parent;
  std::string name;  // empty if not parsed (then `index` stands in, in errors)
  size_t index;      // in its parent's list
  bool removed;
};

namespace {

// The fields of one message in a file, read through a buffer: a field's header, then its
// value only if asked for (subdirectories are skipped, not read).
class FieldReader {
 public:
  // Reads the message at [offset, offset + length) of `file`.
  FieldReader(File& file, uint64_t offset, uint64_t length)
      : file_(file), pos_(offset), end_(offset + length) {}

  bool done() const { return pos_ == end_; }

  // The next field; a length-delimited value (`number` bytes at value_offset()) is skipped
  // unless Value() is asked for before the next call. Errors of the wire are
  // kInvalidArgument (ParseFieldHeader's); a file that ends early is kDataLoss.
  Result<WireField> Next() {
    const uint64_t left = end_ - pos_;
    ASSIGN_OR_RETURN(std::string_view window,
                     Window(pos_, std::min<uint64_t>(left, kMaxFieldHeaderBytes), kHeaderChunk));
    size_t header = 0;
    ASSIGN_OR_RETURN(WireField f, ParseFieldHeader(window, left, &header));
    pos_ += header;
    value_offset_ = pos_;
    if (f.type == WireType::kLen) pos_ += f.number;
    return f;
  }
  uint64_t value_offset() const { return value_offset_; }
  // The value of `f`, the field Next returned last; valid until the next call.
  Result<std::string_view> Value(const WireField& f) {
    return Window(value_offset_, f.number, kValueChunk);
  }

 private:
  // How much a refill reads at least: a little for a field's header (the value may be a
  // subdirectory, skipped), more for a value (files follow one another).
  static constexpr uint64_t kHeaderChunk = 4 << 10;
  static constexpr uint64_t kValueChunk = 64 << 10;

  // Bytes [at, at + n) of the file, from the buffer, refilled from `at` with at least
  // `chunk` bytes (or what is left of the message) if they are not all in it.
  Result<std::string_view> Window(uint64_t at, uint64_t n, uint64_t chunk) {
    if (at < buffer_at_ || at + n > buffer_at_ + buffer_.size()) {
      const uint64_t want = std::max(n, std::min(chunk, end_ - at));
      buffer_.resize(want);
      ASSIGN_OR_RETURN(size_t got, file_.ReadAt(buffer_.data(), want, at));
      buffer_.resize(got);
      buffer_at_ = at;
      if (got < n) {
        return DataLossError("snapshot index file ends at byte " + std::to_string(at + got) +
                             ", before byte " + std::to_string(at + n));
      }
    }
    return std::string_view(buffer_).substr(at - buffer_at_, n);
  }

  File& file_;
  uint64_t pos_;
  const uint64_t end_;
  uint64_t value_offset_ = 0;
  std::string buffer_;
  uint64_t buffer_at_ = 0;
};

// Reads every field of the message `reader` holds, as IndexDecoder::ForEachField does:
// checks each (CheckField; a wire error as the decoder reports it, a file ending early as
// it is) and calls `fn(field)` for the known ones.
template <typename Fn>
Status ForEachField(FieldReader& reader, const IndexDecoder& decoder, const MessageSpec& spec,
                    Fn&& fn) {
  uint64_t seen = 0;
  while (!reader.done()) {
    Result<WireField> f = reader.Next();
    if (!f.ok()) {
      return f.status().code() == StatusCode::kDataLoss ? f.status()
                                                        : decoder.WireError(spec, f.status());
    }
    bool known = false;
    RETURN_IF_ERROR(decoder.CheckField(spec, *f, &seen, &known));
    if (known) RETURN_IF_ERROR(fn(*f));
  }
  return Status::Ok();
}

// A decoder whose frames are the root and the directories of `path`, outermost first.
class FramedDecoder {
 public:
  FramedDecoder(uint32_t version, const IndexFile::PathNode* path) : decoder(version, nullptr) {
    for (; path != nullptr; path = path->parent.get()) chain_.push_back(path);
    std::reverse(chain_.begin(), chain_.end());
    decoder.PushFrame({&kRoot, 0, true, false});
    for (const IndexFile::PathNode* node : chain_) {
      decoder.PushFrame({&node->name, node->index, true, node->removed});
    }
  }
  IndexDecoder decoder;

 private:
  static inline const std::string kRoot;
  std::vector<const IndexFile::PathNode*> chain_;
};

}  // namespace

Result<std::shared_ptr<const IndexFile>> IndexFile::Open(File file) {
  return Open(std::move(file), /*verify=*/true);
}

Result<std::shared_ptr<const IndexFile>> IndexFile::Open(File file, bool verify) {
  std::shared_ptr<IndexFile> index(new IndexFile(std::move(file)));
  ASSIGN_OR_RETURN(struct stat st, index->file_.Stat());
  index->size_ = static_cast<uint64_t>(st.st_size);
  char head[kEnvelopeHeaderSize];
  ASSIGN_OR_RETURN(size_t got, index->file_.ReadAt(head, sizeof(head), 0));
  ASSIGN_OR_RETURN(index->version_, CheckEnvelopeHeader(std::string_view(head, got), index->size_,
                                                        kSnapshotIndexMagic, "snapshot index",
                                                        kSnapshotIndexFormatVersion));
  const uint64_t checked = index->size_ - kEnvelopeTrailerSize;
  if (!verify) {
    RETURN_IF_ERROR(index->ReadHeader());
    return std::shared_ptr<const IndexFile>(std::move(index));
  }
  Hasher64 hash;
  IoBuffer buffer(kIoChunkSize);
  for (uint64_t at = 0; at < checked;) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(buffer.size(), checked - at));
    ASSIGN_OR_RETURN(size_t read, index->file_.ReadAt(buffer.data(), n, at));
    if (read < n) return DataLossError("snapshot index file shrank while read");
    hash.Update(buffer.data(), read);
    at += read;
  }
  char trailer[kEnvelopeTrailerSize];
  ASSIGN_OR_RETURN(got, index->file_.ReadAt(trailer, sizeof(trailer), checked));
  if (got < sizeof(trailer)) return DataLossError("snapshot index file shrank while read");
  RETURN_IF_ERROR(CheckEnvelopeChecksum(std::string_view(trailer, sizeof(trailer)), hash.Finish(),
                                        "snapshot index"));
  RETURN_IF_ERROR(index->ReadHeader());
  return std::shared_ptr<const IndexFile>(std::move(index));
}

Status IndexFile::ReadHeader() {
  IndexDecoder decoder(version_, nullptr);
  FieldReader reader(file_, kEnvelopeHeaderSize,
                     size_ - kEnvelopeHeaderSize - kEnvelopeTrailerSize);
  return ForEachField(reader, decoder, kSnapshotIndexSpec, [&](const WireField& f) -> Status {
    switch (f.id) {
      case kIndexCreationTimeMs:
        header_.creation_time_ms = ZigZagDecode(f.number);
        break;
      case kIndexMetadata: {
        ASSIGN_OR_RETURN(std::string_view bytes, reader.Value(f));
        return decoder.ParseMetadata(bytes, &header_.metadata);
      }
      case kIndexRoot:
        root_.offset = reader.value_offset();
        root_.length = f.number;
        break;
      case kIndexPrevBlobId: {
        ASSIGN_OR_RETURN(std::string_view bytes, reader.Value(f));
        header_.prev_snapshot_index_blob_id = std::string(bytes);
        break;
      }
    }
    return Status::Ok();
  });
}

Result<IndexFile::Dir> IndexFile::ReadDir(const DirRef& ref) const {
  FramedDecoder framed(version_, ref.path.get());
  IndexDecoder& decoder = framed.decoder;
  if (ref.depth > kMaxDirDepth) {
    return decoder.Error("directories nested deeper than " + std::to_string(kMaxDirDepth));
  }
  Dir dir;
  FieldReader reader(file_, ref.offset, ref.length);
  RETURN_IF_ERROR(ForEachField(reader, decoder, kDirIndexSpec, [&](const WireField& f) -> Status {
    if (f.id == kDirSubdirsPresent || f.id == kDirSubdirsRemoved) {
      const bool removed = f.id == kDirSubdirsRemoved;
      std::vector<DirRef>& list = removed ? dir.subdirs_removed : dir.subdirs_present;
      auto node =
          std::make_shared<PathNode>(PathNode{ref.path, "", list.size(), removed || ref.removed});
      DirRef sub{.offset = reader.value_offset(),
                 .length = f.number,
                 .depth = ref.depth + 1,
                 .removed = node->removed};
      ASSIGN_OR_RETURN(sub.name, ReadName(sub, node.get()));
      node->name = sub.name;
      sub.path = std::move(node);
      list.push_back(std::move(sub));
      return Status::Ok();
    }
    ASSIGN_OR_RETURN(std::string_view bytes, reader.Value(f));
    switch (f.id) {
      case kDirName:
        dir.name = std::string(bytes);
        break;
      case kDirFilesPresent:
        return decoder.ParseChildFile(bytes, false, &dir.files_present);
      case kDirFilesRemoved:
        return decoder.ParseChildFile(bytes, true, &dir.files_removed);
    }
    return Status::Ok();
  }));
  std::vector<std::string_view> subdirs;
  subdirs.reserve(dir.subdirs_present.size() + dir.files_present.size());
  for (const DirRef& d : dir.subdirs_present) subdirs.push_back(d.name);
  RETURN_IF_ERROR(
      decoder.ValidateDir(dir.name, dir.files_present, std::move(subdirs), ref.depth == 0));
  return dir;
}

// The name field of the directory at `ref`, whose path is `node` (its name not yet known),
// or "" if it has none (an error when it is read).
Result<std::string> IndexFile::ReadName(const DirRef& ref, const PathNode* node) const {
  FramedDecoder framed(version_, node);
  FieldReader reader(file_, ref.offset, ref.length);
  std::string name;
  RETURN_IF_ERROR(
      ForEachField(reader, framed.decoder, kDirIndexSpec, [&](const WireField& f) -> Status {
        if (f.id != kDirName) return Status::Ok();
        ASSIGN_OR_RETURN(std::string_view bytes, reader.Value(f));
        name = std::string(bytes);
        return Status::Ok();
      }));
  return name;
}

Result<std::optional<IndexFile::Dir>> IndexFile::Cursor::Next(DirRef* at) {
  if (stack_.empty()) return std::optional<Dir>();
  *at = std::move(stack_.back());
  stack_.pop_back();
  ASSIGN_OR_RETURN(Dir dir, file_.ReadDir(*at));
  if (!present_only_) {
    for (auto it = dir.subdirs_removed.rbegin(); it != dir.subdirs_removed.rend(); ++it) {
      stack_.push_back(*it);
    }
  }
  for (auto it = dir.subdirs_present.rbegin(); it != dir.subdirs_present.rend(); ++it) {
    stack_.push_back(*it);
  }
  return std::optional<Dir>(std::move(dir));
}

std::string IndexFile::PathOf(const DirRef& ref) {
  std::vector<const PathNode*> chain;
  for (const PathNode* p = ref.path.get(); p != nullptr; p = p->parent.get()) chain.push_back(p);
  std::string path;
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    path += (path.empty() ? "" : "/") + (*it)->name;
  }
  return path;
}

Status IndexFile::VisitFiles(const FileVisitor& visit) const {
  Cursor cursor(*this);
  while (true) {
    DirRef at;
    ASSIGN_OR_RETURN(std::optional<Dir> dir, cursor.Next(&at));
    if (!dir) return Status::Ok();
    for (const FileIndex& f : dir->files_present) visit(f, at.removed);
    for (const FileIndex& f : dir->files_removed) visit(f, true);
  }
}

Result<DirIndex> IndexFile::ReadTree(const DirRef& ref) const {
  ASSIGN_OR_RETURN(Dir dir, ReadDir(ref));
  DirIndex out{.name = std::move(dir.name),
               .files_present = std::move(dir.files_present),
               .files_removed = std::move(dir.files_removed)};
  for (const DirRef& sub : dir.subdirs_present) {
    ASSIGN_OR_RETURN(DirIndex d, ReadTree(sub));
    out.subdirs_present.push_back(std::move(d));
  }
  for (const DirRef& sub : dir.subdirs_removed) {
    ASSIGN_OR_RETURN(DirIndex d, ReadTree(sub));
    out.subdirs_removed.push_back(std::move(d));
  }
  return out;
}

Result<SnapshotIndex> IndexFile::ReadAll() const {
  SnapshotIndex index = header_;
  ASSIGN_OR_RETURN(index.root, ReadTree(root_));
  return index;
}

}  // namespace blobstate
