// The decoder of snapshot index bodies, shared by DecodeSnapshotIndex (the whole encoding
// in memory) and IndexFile (a directory at a time from a file). Private to the index
// module. docs/format.md is the contract; decode.cc explains the choices within it.
#ifndef BLOBSTATE_INDEX_DECODER_H_
#define BLOBSTATE_INDEX_DECODER_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "blobstate/index.h"
#include "blobstate/status.h"
#include "index/codec.h"
#include "index/fields.h"
#include "index/wire.h"

namespace blobstate {

using index_fields::MessageSpec;

class IndexDecoder {
 public:
  // An entry on the way from the root to what is being decoded. `name` points at the
  // entry's name, which may still be empty (not parsed yet); then `index` stands in.
  struct Frame {
    const std::string* name;
    size_t index;
    bool is_dir;
    bool removed;
  };

  // `version`: of the envelope. `visit`, if given, takes each directory's files once the
  // directory is checked; the directory then drops them (DecodeSnapshotIndexFiles).
  IndexDecoder(uint32_t version, const FileVisitor* visit) : version_(version), visit_(visit) {}

  // Decodes a whole body, checking everything.
  Status DecodeBody(std::string_view body, SnapshotIndex* index);

  // The pieces IndexFile decodes a directory with. Errors name the entry on top of the
  // frames pushed.
  void PushFrame(Frame frame) { path_.push_back(frame); }
  void PopFrame() { path_.pop_back(); }
  // Whether the innermost frame is removed or in a removed directory.
  bool InRemoved() const { return !path_.empty() && path_.back().removed; }
  Status ParseMetadata(std::string_view bytes, SnapshotMetadata* m);
  // Parses and checks a FileIndex, and appends it to `list`.
  Status ParseChildFile(std::string_view bytes, bool removed, std::vector<FileIndex>* list);
  // The checks of a directory once its entries are parsed: its name, and that the names of
  // its files and subdirectories present are distinct.
  Status ValidateDir(std::string_view name, const std::vector<FileIndex>& files,
                     std::vector<std::string_view> subdirs, bool is_root) const;
  // The checks of one field of a message of `spec` (wire type, duplicate, must-understand),
  // with `seen` the mask of singular fields read so far. Sets *known to whether this build
  // knows the field (an unknown one is skipped).
  Status CheckField(const MessageSpec& spec, const WireField& f, uint64_t* seen, bool* known) const;
  // A wire-level error of the reader inside a message of `spec`.
  Status WireError(const MessageSpec& spec, const Status& reader_error) const;
  // "snapshot index: <path>: <what>", kInvalidArgument.
  Status Error(std::string_view what) const;

 private:
  Status ParseDir(std::string_view bytes, int depth, DirIndex* dir);
  Status ParseChildDir(std::string_view bytes, int depth, bool removed,
                       std::vector<DirIndex>* list);
  Status ParseFile(std::string_view bytes, FileIndex* file);
  Status ParseBlob(std::string_view bytes, FileBlob* blob);
  Status ParseFileMetadata(std::string_view bytes, FileMetadata* m);
  Status ValidateFile(const FileIndex& file) const;
  Status ValidateChunks(const FileIndex& file) const;

  // Reads every field of a message: CheckField on each, and `fn(field)` for known ones.
  template <typename Fn>
  Status ForEachField(std::string_view bytes, const MessageSpec& spec, Fn&& fn) const;

  Status FieldError(const MessageSpec& spec, const WireField& f, std::string_view what) const;
  Result<uint32_t> ToUint32(const WireField& f) const;
  std::string Where() const;

  const uint32_t version_;
  const FileVisitor* const visit_;
  std::vector<Frame> path_;
};

}  // namespace blobstate

#endif  // BLOBSTATE_INDEX_DECODER_H_
