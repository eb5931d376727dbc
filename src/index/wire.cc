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

namespace {

// Reads a varint at data[*pos], advancing *pos.
Result<uint64_t> ReadVarintAt(std::string_view data, size_t* pos) {
  uint64_t v = 0;
  for (size_t i = 0; i < kMaxVarintBytes; ++i) {
    if (*pos == data.size()) return InvalidArgumentError("varint runs past the end");
    uint64_t byte = static_cast<unsigned char>(data[(*pos)++]);
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

}  // namespace

Result<WireField> ParseFieldHeader(std::string_view window, uint64_t left, size_t* header) {
  size_t pos = 0;
  ASSIGN_OR_RETURN(uint64_t key, ReadVarintAt(window, &pos));
  if (key > UINT32_MAX) return InvalidArgumentError("field key above 2^32-1");
  WireField f;
  f.id = static_cast<uint32_t>(key >> 3);
  f.must_understand = (key & kMustUnderstandBit) != 0;
  if (f.id == 0) return InvalidArgumentError("field id 0");
  const std::string field = "field " + std::to_string(f.id) + ": ";
  switch (key & 3) {
    case 0: {
      f.type = WireType::kVarint;
      Result<uint64_t> v = ReadVarintAt(window, &pos);
      if (!v.ok()) return InvalidArgumentError(field + v.status().message());
      f.number = *v;
      break;
    }
    case 1:
      f.type = WireType::kI64;
      if (window.size() - pos < 8) return InvalidArgumentError(field + "I64 runs past the end");
      f.number = LoadFixed(window, pos, 8);
      pos += 8;
      break;
    case 2: {
      f.type = WireType::kLen;
      Result<uint64_t> len = ReadVarintAt(window, &pos);
      if (!len.ok()) return InvalidArgumentError(field + "length: " + len.status().message());
      const uint64_t rest = left - pos;
      if (*len > rest) {
        return InvalidArgumentError(field + "length " + std::to_string(*len) +
                                    " runs past the end (" + std::to_string(rest) + " bytes left)");
      }
      f.number = *len;
      break;
    }
    default:
      return InvalidArgumentError(field + "reserved wire type 3");
  }
  *header = pos;
  return f;
}

Result<WireField> WireReader::Next() {
  size_t header = 0;
  ASSIGN_OR_RETURN(WireField f, ParseFieldHeader(data_.substr(pos_), data_.size() - pos_, &header));
  pos_ += header;
  if (f.type == WireType::kLen) {
    f.bytes = data_.substr(pos_, static_cast<size_t>(f.number));
    pos_ += static_cast<size_t>(f.number);
  }
  return f;
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

Result<uint32_t> CheckEnvelopeHeader(std::string_view head, uint64_t size,
                                     std::string_view magic, std::string_view what,
                                     uint32_t max_version) {
  const std::string name(what);
  const std::string truncated = name + ": truncated: " + std::to_string(size) +
                                " bytes, the smallest " + name + " has " +
                                std::to_string(kEnvelopeHeaderSize + kEnvelopeTrailerSize);
  if (head.substr(0, magic.size()) != magic.substr(0, head.size())) {
    return InvalidArgumentError("not a " + name + ": starts with " + QuoteMagic(head) +
                                ", expected " + QuoteMagic(magic));
  }
  if (size < kEnvelopeHeaderSize) return DataLossError(truncated);
  const auto version = static_cast<uint32_t>(LoadFixed(head, magic.size(), 4));
  if (version == 0 || version > max_version) {
    return InvalidArgumentError("unsupported " + name + " format version " +
                                std::to_string(version) + " (this build reads up to " +
                                std::to_string(max_version) + ")");
  }
  if (size < kEnvelopeHeaderSize + kEnvelopeTrailerSize) return DataLossError(truncated);
  return version;
}

Status CheckEnvelopeChecksum(std::string_view trailer, uint64_t computed, std::string_view what) {
  const uint64_t stored = LoadFixed(trailer, 0, 8);
  if (stored == computed) return Status::Ok();
  return DataLossError(std::string(what) + ": checksum mismatch (stored " + Hex64(stored) +
                       ", computed " + Hex64(computed) + "): corrupt or truncated");
}

Result<EnvelopeContents> OpenEnvelope(std::string_view bytes, std::string_view magic,
                                      std::string_view what, uint32_t max_version) {
  EnvelopeContents contents;
  ASSIGN_OR_RETURN(contents.version,
                   CheckEnvelopeHeader(bytes.substr(0, kEnvelopeHeaderSize), bytes.size(), magic,
                                       what, max_version));
  const size_t checked = bytes.size() - kEnvelopeTrailerSize;
  RETURN_IF_ERROR(
      CheckEnvelopeChecksum(bytes.substr(checked), Hash64(bytes.data(), checked), what));
  contents.body = bytes.substr(kEnvelopeHeaderSize, checked - kEnvelopeHeaderSize);
  return contents;
}

}  // namespace blobstate
