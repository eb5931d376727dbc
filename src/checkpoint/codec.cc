// The checkpoint codec (docs/format.md, "Checkpoint"): the wire envelope with magic "BSCK"
// and the checkpoint's version, around a body of tagged fields.
#include <set>

#include "blobstate/checkpoint.h"
#include "index/wire.h"
#include "util/checkpoint_id.h"

namespace blobstate {
namespace {

constexpr std::string_view kCheckpointMagic = "BSCK";

// Body fields. Version 1 has only kOffset.
constexpr uint32_t kId = 1;      // LEN, the checkpoint id (v2)
constexpr uint32_t kOffset = 2;  // LEN, repeated: {1: partition, 2: offset}
constexpr uint32_t kMarker = 3;  // LEN, repeated: {1: backend, 2: store, 3: marker} (v2)
constexpr uint32_t kEntryA = 1;  // the first field of an entry; the others follow

Status Malformed(const std::string& what) {
  return InvalidArgumentError("malformed checkpoint: " + what);
}

// Reads the string fields kEntryA.. of an entry into out[0..n). Unknown optional fields are
// skipped; unknown must-understand fields, wrong types and duplicates are errors.
Status ReadEntry(std::string_view bytes, const char* what, std::string* out, size_t n) {
  WireReader r(bytes);
  std::set<uint32_t> seen;
  while (!r.done()) {
    ASSIGN_OR_RETURN(WireField f, r.Next());
    if (f.id < kEntryA || f.id >= kEntryA + n) {
      if (f.must_understand) {
        return Malformed(std::string(what) + ": unknown required field " + std::to_string(f.id));
      }
      continue;
    }
    if (f.type != WireType::kLen || !seen.insert(f.id).second) {
      return Malformed(std::string(what) + ": bad or repeated field " + std::to_string(f.id));
    }
    out[f.id - kEntryA] = std::string(f.bytes);
  }
  if (seen.size() != n) return Malformed(std::string(what) + ": missing fields");
  return Status::Ok();
}

void WriteEntry(WireWriter& w, uint32_t id, std::initializer_list<std::string_view> fields) {
  WireWriter entry;
  uint32_t field = kEntryA;
  for (std::string_view v : fields) entry.BytesField(field++, v);
  w.BytesField(id, entry.data());
}

Status DecodeField(const WireField& f, uint32_t version, Checkpoint& c, bool& has_id) {
  const bool known = f.id == kOffset || (version >= 2 && (f.id == kId || f.id == kMarker));
  if (!known) {
    if (f.must_understand) return Malformed("unknown required field " + std::to_string(f.id));
    return Status::Ok();
  }
  if (f.type != WireType::kLen) return Malformed("field " + std::to_string(f.id) + " not LEN");
  if (f.id == kId) {
    if (has_id) return Malformed("repeated id");
    has_id = true;
    c.id = std::string(f.bytes);
    if (!IsValidCheckpointId(c.id)) return Malformed("invalid id '" + c.id.substr(0, 64) + "'");
  } else if (f.id == kOffset) {
    std::string kv[2];
    RETURN_IF_ERROR(ReadEntry(f.bytes, "input offset", kv, 2));
    if (!c.input_offsets.emplace(kv[0], kv[1]).second) {
      return Malformed("input " + kv[0].substr(0, 200) + " listed twice");
    }
  } else {
    std::string m[3];
    RETURN_IF_ERROR(ReadEntry(f.bytes, "state marker", m, 3));
    if (!c.state_markers[m[0]].emplace(m[1], m[2]).second) {
      return Malformed("marker of store " + m[1].substr(0, 200) + " listed twice");
    }
  }
  return Status::Ok();
}

}  // namespace

std::string EncodeCheckpoint(const Checkpoint& c) {
  WireWriter w;
  if (c.version >= 2) w.BytesField(kId, c.id);
  for (const auto& [input, offset] : c.input_offsets) WriteEntry(w, kOffset, {input, offset});
  if (c.version >= 2) {
    for (const auto& [backend, markers] : c.state_markers) {
      for (const auto& [store, marker] : markers) WriteEntry(w, kMarker, {backend, store, marker});
    }
  }
  return SealEnvelope(kCheckpointMagic, c.version, w.data());
}

Result<Checkpoint> DecodeCheckpoint(std::string_view bytes) {
  ASSIGN_OR_RETURN(EnvelopeContents env,
                   OpenEnvelope(bytes, kCheckpointMagic, "checkpoint", kLatestCheckpointVersion));
  Checkpoint c;
  c.version = env.version;
  bool has_id = false;
  WireReader r(env.body);
  while (!r.done()) {
    ASSIGN_OR_RETURN(WireField f, r.Next());
    RETURN_IF_ERROR(DecodeField(f, env.version, c, has_id));
  }
  if (c.version >= 2 && !has_id) return Malformed("version 2 without an id");
  return c;
}

}  // namespace blobstate
