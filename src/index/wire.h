// The wire format of versioned blobstate objects (docs/format.md, "Wire encoding"):
// an envelope (magic, version, body, XXH3-64 checksum) around a body of tagged fields.
//
// The writer side is trusted (it encodes in-memory structs); the reader side never trusts
// its input: every read is bounds-checked and every error is a Status, never a crash.
//
// Example:
//   WireWriter w;
//   w.VarintField(1, 42);
//   w.BytesField(2, "name");
//   std::string sealed = SealEnvelope(kSnapshotIndexMagic, 1, w.data());
//
//   WireReader r(body);
//   while (!r.done()) {
//     ASSIGN_OR_RETURN(WireField f, r.Next());
//     ...
//   }
#ifndef BLOBSTATE_INDEX_WIRE_H_
#define BLOBSTATE_INDEX_WIRE_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "blobstate/status.h"

namespace blobstate {

// The low two bits of a field key. 3 is reserved: a reader cannot skip a field of a wire
// type it does not know, so it rejects it.
enum class WireType : uint8_t {
  kVarint = 0,  // LEB128, at most 10 bytes
  kI64 = 1,     // 8 bytes, little-endian (unused by version 1; skippable)
  kLen = 2,     // a varint length, then that many bytes (strings, messages)
};

std::string_view WireTypeName(WireType type);

// Bit 2 of a field key: a reader that does not know the field must reject the object.
inline constexpr uint64_t kMustUnderstandBit = 1u << 2;
// The largest field id (keys fit in 32 bits).
inline constexpr uint32_t kMaxFieldId = (1u << 29) - 1;
// The longest varint (a uint64 needs 10 bytes of 7 bits).
inline constexpr size_t kMaxVarintBytes = 10;

inline uint64_t ZigZagEncode(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
inline int64_t ZigZagDecode(uint64_t v) {
  return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1);
}

// Appends encoded fields to a string. `Counter` below has the same interface and only
// counts bytes, so that one templated encoder can measure a message before writing it.
class WireWriter {
 public:
  static constexpr bool kCounting = false;

  void Varint(uint64_t v);
  void Key(uint32_t id, WireType type, bool must_understand = false);
  void Raw(std::string_view bytes) { out_.append(bytes); }
  void Fixed64(uint64_t v);
  void VarintField(uint32_t id, uint64_t v) {
    Key(id, WireType::kVarint);
    Varint(v);
  }
  // A length-delimited field: key, length, bytes.
  void BytesField(uint32_t id, std::string_view bytes) {
    LenHeader(id, bytes.size());
    Raw(bytes);
  }
  // The key and length of a length-delimited field whose `len` bytes follow.
  void LenHeader(uint32_t id, uint64_t len) {
    Key(id, WireType::kLen);
    Varint(len);
  }

  void Reserve(size_t n) { out_.reserve(n); }
  const std::string& data() const { return out_; }
  std::string Release() { return std::move(out_); }

  // From now on, a SpillPoint hands what was written to `spill` and forgets it once it
  // holds `chunk` bytes or more: memory stays about a chunk, and data() and Release() give
  // only what was not spilled.
  void SpillTo(std::function<void(std::string_view)> spill, size_t chunk) {
    spill_ = std::move(spill);
    chunk_ = chunk;
  }
  void SpillPoint() {
    if (spill_ && out_.size() >= chunk_) {
      spill_(out_);
      out_.clear();
    }
  }

 private:
  std::string out_;
  std::function<void(std::string_view)> spill_;
  size_t chunk_ = 0;
};

// Counts the bytes a WireWriter would append.
class WireCounter {
 public:
  static constexpr bool kCounting = true;

  void Varint(uint64_t v) { size_ += VarintSize(v); }
  void Key(uint32_t id, WireType type, bool must_understand = false);
  void Raw(std::string_view bytes) { size_ += bytes.size(); }
  void Fixed64(uint64_t) { size_ += 8; }
  void VarintField(uint32_t id, uint64_t v) {
    Key(id, WireType::kVarint);
    Varint(v);
  }
  void BytesField(uint32_t id, std::string_view bytes) {
    LenHeader(id, bytes.size());
    Raw(bytes);
  }
  void LenHeader(uint32_t id, uint64_t len) {
    Key(id, WireType::kLen);
    Varint(len);
  }
  // Counts `n` bytes whose content is not needed.
  void Skip(uint64_t n) { size_ += n; }
  void SpillPoint() {}

  uint64_t size() const { return size_; }
  static size_t VarintSize(uint64_t v);

 private:
  uint64_t size_ = 0;
};

// One field as read: its key, and its value (a varint or I64 in `number`, a
// length-delimited value in `bytes`, which points into the reader's input, and its length
// in `number`).
struct WireField {
  uint32_t id = 0;
  WireType type = WireType::kVarint;
  bool must_understand = false;
  uint64_t number = 0;
  std::string_view bytes;
};

// Reads fields from a message's bytes. Does not own them.
class WireReader {
 public:
  explicit WireReader(std::string_view data) : data_(data) {}

  bool done() const { return pos_ == data_.size(); }

  // Reads the next field. REQUIRES: !done(). kInvalidArgument if the key or value is
  // malformed: a varint longer than 10 bytes or above 2^64-1, a key above 2^32-1, field
  // id 0, the reserved wire type 3, or a value that runs past the end of the message.
  Result<WireField> Next();

 private:
  std::string_view data_;
  size_t pos_ = 0;
};

// The longest key and length of a field: what ParseFieldHeader needs to see of it.
inline constexpr size_t kMaxFieldHeaderBytes = 2 * kMaxVarintBytes;

// WireReader::Next for a reader that holds only part of a message: parses the key and the
// number, or the key and the length of a length-delimited value (in `number`; `bytes` stays
// empty), at the start of `window`, which holds at least min(`left`, kMaxFieldHeaderBytes)
// of the `left` bytes left in the message. Sets *header to the bytes parsed. The errors are
// WireReader::Next's.
Result<WireField> ParseFieldHeader(std::string_view window, uint64_t left, size_t* header);

// The magic bytes of a snapshot index.
inline constexpr std::string_view kSnapshotIndexMagic = "BSIX";
// magic (4) + version (4) before the body; checksum (8) after it.
inline constexpr size_t kEnvelopeHeaderSize = 8;
inline constexpr size_t kEnvelopeTrailerSize = 8;

// `magic`, `version` (uint32 little-endian), `body`, then XXH3-64 (little-endian) of all
// the bytes before it. REQUIRES: magic.size() == 4.
std::string SealEnvelope(std::string_view magic, uint32_t version, std::string_view body);
// The header of SealEnvelope, written into an empty `writer`; the caller writes the body
// after it and appends the trailer: XXH3-64 of header and body, little-endian.
void StartEnvelope(WireWriter& writer, std::string_view magic, uint32_t version);

// The body inside an envelope, and its version.
struct EnvelopeContents {
  uint32_t version = 0;
  std::string_view body;  // points into the input
};

// Checks, in this order: the magic (kInvalidArgument "not a <what>" if it differs;
// kDataLoss if the input is a strict prefix of it), the version (kInvalidArgument
// "unsupported <what> format version N (this build reads up to M)" if 0 or above
// `max_version`), the length (kDataLoss if shorter than header + trailer) and the
// checksum (kDataLoss on mismatch). The version is read before the checksum so that a
// later version may change everything after it.
Result<EnvelopeContents> OpenEnvelope(std::string_view bytes, std::string_view magic,
                                      std::string_view what, uint32_t max_version);

// OpenEnvelope in two steps, for an envelope read in pieces. The checks of the magic, the
// version and the length, from `head` (the first min(size, kEnvelopeHeaderSize) bytes) and
// the whole `size`; returns the version.
Result<uint32_t> CheckEnvelopeHeader(std::string_view head, uint64_t size,
                                     std::string_view magic, std::string_view what,
                                     uint32_t max_version);
// The check of the checksum: `trailer` (the last kEnvelopeTrailerSize bytes) against
// `computed`, the XXH3-64 of every byte before it.
Status CheckEnvelopeChecksum(std::string_view trailer, uint64_t computed, std::string_view what);

}  // namespace blobstate

#endif  // BLOBSTATE_INDEX_WIRE_H_
