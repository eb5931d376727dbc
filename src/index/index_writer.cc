#include "index/index_writer.h"

#include <algorithm>

#include "index/codec.h"
#include "index/decoder.h"
#include "index/fields.h"
#include "util/hash.h"

namespace blobstate {

using namespace index_fields;  // NOLINT: field ids only

// The envelope being written: bytes go to a file through a buffer, hashed on the way.
class ChunkedOut {
 public:
  explicit ChunkedOut(File& file) : file_(file) { buffer_.reserve(kIoChunkSize); }

  Status Write(std::string_view bytes) {
    hash_.Update(bytes.data(), bytes.size());
    if (buffer_.size() + bytes.size() > kIoChunkSize) RETURN_IF_ERROR(Flush());
    if (bytes.size() >= kIoChunkSize) return file_.Write(bytes.data(), bytes.size());
    buffer_.append(bytes);
    return Status::Ok();
  }
  // Writes the trailer and what is buffered.
  Status Finish() {
    const uint64_t sum = hash_.Finish();
    for (size_t i = 0; i < kEnvelopeTrailerSize; ++i)
      buffer_.push_back(static_cast<char>(sum >> (8 * i)));
    return Flush();
  }

 private:
  Status Flush() {
    Status s = file_.Write(buffer_.data(), buffer_.size());
    buffer_.clear();
    return s;
  }

  File& file_;
  std::string buffer_;
  Hasher64 hash_;
};

Result<std::unique_ptr<IndexWriter>> IndexWriter::Create(const std::string& dir) {
  ASSIGN_OR_RETURN(File spill, File::Unnamed(dir));
  return std::unique_ptr<IndexWriter>(new IndexWriter(std::move(spill), dir));
}

IndexWriter::DirId IndexWriter::AddDir(DirId parent, std::string name, bool removed) {
  std::lock_guard<std::mutex> lock(mu_);
  const auto id = static_cast<DirId>(nodes_.size());
  nodes_.push_back(Node{.name = std::move(name)});
  (removed ? nodes_[parent].removed : nodes_[parent].present).push_back(id);
  return id;
}

Status IndexWriter::AppendFiles(DirId dir, const std::vector<FileIndex>& present,
                                const std::vector<FileIndex>& removed) {
  std::string name;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (nodes_[dir].segments.empty()) name = nodes_[dir].name;
  }
  WireWriter out;  // encoded outside the lock: only the write is serial
  EncodeDirFiles(name, present, removed, out);
  std::lock_guard<std::mutex> lock(mu_);
  Node& node = nodes_[dir];
  RETURN_IF_ERROR(spill_.WriteAt(out.data().data(), out.data().size(), spill_size_));
  node.segments.push_back({spill_size_, out.data().size()});
  std::string().swap(node.name);
  spill_size_ += out.data().size();
  return Status::Ok();
}

std::string IndexWriter::NameOnly(const Node& node) {
  WireWriter out;
  EncodeDirFiles(node.name, {}, {}, out);
  return out.Release();
}

uint64_t IndexWriter::Measure(DirId id) {
  Node& node = nodes_[id];
  WireCounter size;
  if (node.segments.empty()) size.Skip(NameOnly(node).size());
  for (const Segment& s : node.segments) size.Skip(s.size);
  for (const auto& [field, list] : {std::pair{kDirSubdirsPresent, &node.present},
                                    std::pair{kDirSubdirsRemoved, &node.removed}}) {
    for (DirId child : *list) {
      const uint64_t child_size = Measure(child);
      size.LenHeader(field, child_size);
      size.Skip(child_size);
    }
  }
  return nodes_[id].size = size.size();
}

Status IndexWriter::Emit(DirId id, ChunkedOut& out, IoBuffer& buffer) {
  const Node& node = nodes_[id];
  if (node.segments.empty()) RETURN_IF_ERROR(out.Write(NameOnly(node)));
  for (const Segment& s : node.segments) {
    for (uint64_t done = 0; done < s.size;) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(buffer.size(), s.size - done));
      ASSIGN_OR_RETURN(size_t got, spill_.ReadAt(buffer.data(), n, s.offset + done));
      if (got < n) return DataLossError("index writer: scratch file ended early");
      RETURN_IF_ERROR(out.Write(std::string_view(buffer.data(), n)));
      done += n;
    }
  }
  for (const auto& [field, list] : {std::pair{kDirSubdirsPresent, &node.present},
                                    std::pair{kDirSubdirsRemoved, &node.removed}}) {
    for (DirId child : *list) {
      WireWriter header;
      header.LenHeader(field, nodes_[child].size);
      RETURN_IF_ERROR(out.Write(header.data()));
      RETURN_IF_ERROR(Emit(child, out, buffer));
    }
  }
  return Status::Ok();
}

Result<std::shared_ptr<const IndexFile>> IndexWriter::Finish(const SnapshotIndex& header) {
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(File file, File::Unnamed(dir_));
  ChunkedOut out(file);
  WireWriter before;
  StartEnvelope(before, kSnapshotIndexMagic, kSnapshotIndexFormatVersion);
  EncodeIndexBeforeRoot(header, before);
  const uint64_t root_size = Measure(root());
  if (root_size != 0) before.LenHeader(kIndexRoot, root_size);
  RETURN_IF_ERROR(out.Write(before.data()));
  IoBuffer buffer(kIoChunkSize);
  if (root_size != 0) RETURN_IF_ERROR(Emit(root(), out, buffer));
  WireWriter after;
  EncodeIndexAfterRoot(header, after);
  RETURN_IF_ERROR(out.Write(after.data()));
  RETURN_IF_ERROR(out.Finish());
  return IndexFile::Open(std::move(file), /*verify=*/false);  // hashed as it was written
}

}  // namespace blobstate
