#include "index/wire.h"

#include <cassert>
#include <cstdio>

#include "util/hash.h"

namespace blobstate {
namespace {

void AppendFixed(std::string& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t LoadFixed(std::string_view in, size_t pos, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) {
    v |= static_cast<uint64_t>(static_cast<unsigned char>(in[pos + i])) << (8 * i);
  }
  return v;
}

uint64_t KeyOf(uint32_t id, WireType type, bool must_understand) {
  assert(id >= 1 && id <= kMaxFieldId);
  return (static_cast<uint64_t>(id) << 3) | (must_understand ? kMustUnderstandBit : 0) |
         static_cast<uint64_t>(type);
}

// Printable form of up to 8 bytes of a magic that did not match.
std::string QuoteMagic(std::string_view bytes) {
  std::string out = "\"";
  for (unsigned char c : bytes.substr(0, 8)) {
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[5];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    }
  }
  return out + "\"";
}

std::string Hex64(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace

std::string_view WireTypeName(WireType type) {
  switch (type) {
    case WireType::kVarint:
      return "VARINT";
    case WireType::kI64:
      return "I64";
    case WireType::kLen:
      return "LEN";
  }
  return "RESERVED";
}

void WireWriter::Varint(uint64_t v) {
  while (v >= 0x80) {
    out_.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out_.push_back(static_cast<char>(v));
}

void WireWriter::Key(uint32_t id, WireType type, bool must_understand) {
  Varint(KeyOf(id, type, must_understand));
}

void WireWriter::Fixed64(uint64_t v) { AppendFixed(out_, v, 8); }

void WireCounter::Key(uint32_t id, WireType type, bool must_understand) {
  Varint(KeyOf(id, type, must_understand));
}

size_t WireCounter::VarintSize(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

Result<uint64_t> WireReader::ReadVarint() {
  uint64_t v = 0;
  for (size_t i = 0; i < kMaxVarintBytes; ++i) {
    if (pos_ == data_.size()) return InvalidArgumentError("varint runs past the end");
    uint64_t byte = static_cast<unsigned char>(data_[pos_++]);
    // The 10th byte holds bit 63 only.
    if (i == kMaxVarintBytes - 1 && byte >= 0x80) {
      return InvalidArgumentError("varint longer than 10 bytes");
    }
    if (i == kMaxVarintBytes - 1 && byte > 1) {
      return InvalidArgumentError("varint overflows 64 bits");
    }
    v |= (byte & 0x7f) << (7 * i);
    if (byte < 0x80) return v;
  }
  return InternalError("unreachable");  // the 10th byte always returns above
}

Result<WireField> WireReader::Next() {
  ASSIGN_OR_RETURN(uint64_t key, ReadVarint());
  if (key > UINT32_MAX) return InvalidArgumentError("field key above 2^32-1");
  WireField f;
  f.id = static_cast<uint32_t>(key >> 3);
  f.must_understand = (key & kMustUnderstandBit) != 0;
  if (f.id == 0) return InvalidArgumentError("field id 0");
  const std::string field = "field " + std::to_string(f.id) + ": ";
  switch (key & 3) {
    case 0: {
      f.type = WireType::kVarint;
      Result<uint64_t> v = ReadVarint();
      if (!v.ok()) return InvalidArgumentError(field + v.status().message());
      f.number = *v;
      return f;
    }
    case 1:
      f.type = WireType::kI64;
      if (data_.size() - pos_ < 8) return InvalidArgumentError(field + "I64 runs past the end");
      f.number = LoadFixed(data_, pos_, 8);
      pos_ += 8;
      return f;
    case 2: {
      f.type = WireType::kLen;
      Result<uint64_t> len = ReadVarint();
      if (!len.ok()) return InvalidArgumentError(field + "length: " + len.status().message());
      const size_t left = data_.size() - pos_;
      if (*len > left) {
        return InvalidArgumentError(field + "length " + std::to_string(*len) +
                                    " runs past the end (" + std::to_string(left) + " bytes left)");
      }
      f.bytes = data_.substr(pos_, static_cast<size_t>(*len));
      pos_ += static_cast<size_t>(*len);
      return f;
    }
    default:
      return InvalidArgumentError(field + "reserved wire type 3");
  }
}

std::string SealEnvelope(std::string_view magic, uint32_t version, std::string_view body) {
  assert(magic.size() == 4);
  std::string out;
  out.reserve(kEnvelopeHeaderSize + body.size() + kEnvelopeTrailerSize);
  out.append(magic);
  AppendFixed(out, version, 4);
  out.append(body);
  AppendFixed(out, Hash64(out.data(), out.size()), 8);
  return out;
}

void StartEnvelope(WireWriter& writer, std::string_view magic, uint32_t version) {
  assert(magic.size() == 4 && writer.data().empty());
  std::string header(magic);
  AppendFixed(header, version, 4);
  writer.Raw(header);
}

Result<EnvelopeContents> OpenEnvelope(std::string_view bytes, std::string_view magic,
                                      std::string_view what, uint32_t max_version) {
  const std::string name(what);
  const std::string truncated = name + ": truncated: " + std::to_string(bytes.size()) +
                                " bytes, the smallest " + name + " has " +
                                std::to_string(kEnvelopeHeaderSize + kEnvelopeTrailerSize);
  if (bytes.substr(0, magic.size()) != magic.substr(0, bytes.size())) {
    return InvalidArgumentError("not a " + name + ": starts with " + QuoteMagic(bytes) +
                                ", expected " + QuoteMagic(magic));
  }
  if (bytes.size() < kEnvelopeHeaderSize) return DataLossError(truncated);
  EnvelopeContents contents;
  contents.version = static_cast<uint32_t>(LoadFixed(bytes, magic.size(), 4));
  if (contents.version == 0 || contents.version > max_version) {
    return InvalidArgumentError("unsupported " + name + " format version " +
                                std::to_string(contents.version) + " (this build reads up to " +
                                std::to_string(max_version) + ")");
  }
  if (bytes.size() < kEnvelopeHeaderSize + kEnvelopeTrailerSize) return DataLossError(truncated);
  const size_t checked = bytes.size() - kEnvelopeTrailerSize;
  const uint64_t stored = LoadFixed(bytes, checked, 8);
  const uint64_t computed = Hash64(bytes.data(), checked);
  if (stored != computed) {
    return DataLossError(name + ": checksum mismatch (stored " + Hex64(stored) + ", computed " +
                         Hex64(computed) + "): corrupt or truncated");
  }
  contents.body = bytes.substr(kEnvelopeHeaderSize, checked - kEnvelopeHeaderSize);
  return contents;
}

}  // namespace blobstate
