// The checkpoint codec (docs/format.md, "Checkpoint"): the wire envelope with magic "BSCK"
// and the checkpoint's version, around a body of tagged fields.
#include "checkpoint/codec.h"

#include <unistd.h>

#include <algorithm>
#include <set>

#include "blobstate/checkpoint.h"
#include "blobstate/history.h"
#include "blobstate/index.h"
#include "index/wire.h"
#include "util/random.h"

namespace blobstate {
namespace {

constexpr std::string_view kCheckpointMagic = "BSCK";

// Body fields. Version 1 has only kOffset.
constexpr uint32_t kId = 1;           // LEN, the checkpoint id (v2)
constexpr uint32_t kOffset = 2;       // LEN, repeated: {1: partition, 2: offset}
constexpr uint32_t kMarker = 3;       // LEN, repeated: {1: backend, 2: store, 3: marker} (v2)
constexpr uint32_t kWriterEpoch = 4;  // VARINT, the writer epoch (v2)
constexpr uint32_t kWriterId = 5;     // LEN, the writer's id (v2)
constexpr uint32_t kRetained = 6;     // LEN, repeated: a retained checkpoint's id (v2)
constexpr uint32_t kExpiring = 7;     // LEN, repeated: {1: checkpoint id, 2: store, 3: index}
constexpr uint32_t kHistory = 8;      // VARINT 1: the writer keeps history (v2)
constexpr uint32_t kWriterBase = 9;   // LEN, the checkpoint the claimant opened at (v2)
constexpr uint32_t kEntryA = 1;       // the first field of an entry; the others follow

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

// The writer fields (epoch, id, base); `seen` tracks repeats.
Status DecodeWriterField(const WireField& f, Checkpoint& c, std::set<uint32_t>& seen) {
  if (!seen.insert(f.id).second) return Malformed("repeated field " + std::to_string(f.id));
  if (f.id == kWriterEpoch) {
    if (f.type != WireType::kVarint) return Malformed("writer epoch not VARINT");
    c.writer_epoch = f.number;
    return Status::Ok();
  }
  if (f.type != WireType::kLen) return Malformed("field " + std::to_string(f.id) + " not LEN");
  if (f.id == kWriterBase) {
    c.writer_base = std::string(f.bytes);
    if (!IsValidCheckpointId(c.writer_base)) {
      return Malformed("invalid writer base '" + c.writer_base.substr(0, 64) + "'");
    }
    return Status::Ok();
  }
  c.writer_id = std::string(f.bytes);
  if (!IsValidWriterId(c.writer_id)) {
    return Malformed("invalid writer id '" + c.writer_id.substr(0, 64) + "'");
  }
  return Status::Ok();
}

// The history fields (retained, expiring, history); `seen` tracks repeats of the flag.
Status DecodeHistoryField(const WireField& f, Checkpoint& c, std::set<uint32_t>& seen) {
  if (f.id == kHistory) {
    if (f.type != WireType::kVarint || f.number != 1 || !seen.insert(f.id).second) {
      return Malformed("bad or repeated history flag");
    }
    c.history = true;
    return Status::Ok();
  }
  if (f.type != WireType::kLen) return Malformed("field " + std::to_string(f.id) + " not LEN");
  if (f.id == kRetained) {
    std::string id(f.bytes);
    if (!IsValidCheckpointId(id))
      return Malformed("invalid retained id '" + id.substr(0, 64) + "'");
    c.retained.push_back(std::move(id));
    return Status::Ok();
  }
  std::string e[3];
  RETURN_IF_ERROR(ReadEntry(f.bytes, "expiring snapshot", e, 3));
  const bool history_object = e[1].empty() && e[2].empty();
  if (!IsValidCheckpointId(e[0]) ||
      (!history_object && (!IsValidName(e[1]) || !IsValidBlobId(e[2])))) {
    return Malformed("invalid expiring snapshot of checkpoint '" + e[0].substr(0, 64) + "'");
  }
  c.expiring.push_back({std::move(e[0]), std::move(e[1]), std::move(e[2])});
  return Status::Ok();
}

// At most kMaxRetained retained ids, none twice nor the checkpoint's own; no history object
// listed to delete is of the checkpoint or of one it retains.
Status CheckHistoryLists(const Checkpoint& c) {
  if (c.retained.size() > kMaxRetained) {
    return Malformed(std::to_string(c.retained.size()) + " retained ids, over " +
                     std::to_string(kMaxRetained));
  }
  std::set<std::string_view> kept = {c.id};
  for (const std::string& id : c.retained) {
    if (!kept.insert(id).second) {
      return Malformed("retained id " + id + " listed twice, or the checkpoint's own");
    }
  }
  for (const ExpiringSnapshot& e : c.expiring) {
    if (e.store.empty() && kept.contains(e.checkpoint_id)) {
      return Malformed("the history object of checkpoint " + e.checkpoint_id +
                       ", which it keeps, listed to delete");
    }
  }
  return Status::Ok();
}

Status DecodeField(const WireField& f, uint32_t version, Checkpoint& c, std::set<uint32_t>& seen) {
  const bool v2 = version >= 2;
  const bool known = f.id == kOffset || (v2 && f.id >= kId && f.id <= kWriterBase);
  if (!known) {
    if (f.must_understand) return Malformed("unknown required field " + std::to_string(f.id));
    return Status::Ok();
  }
  if (f.id == kWriterEpoch || f.id == kWriterId || f.id == kWriterBase) {
    return DecodeWriterField(f, c, seen);
  }
  if (f.id >= kRetained) return DecodeHistoryField(f, c, seen);
  if (f.type != WireType::kLen) return Malformed("field " + std::to_string(f.id) + " not LEN");
  if (f.id == kId) {
    if (!seen.insert(kId).second) return Malformed("repeated id");
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

std::string NewWriterId() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  std::string name;
  for (const char* p = host; *p != '\0' && name.size() < 64; ++p) {
    const char c = *p;
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    name += ok ? c : '-';
  }
  if (name.empty()) name = "host";
  return name + "." + std::to_string(::getpid()) + "." + RandomHex(8);
}

bool IsValidWriterId(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

std::string EncodeCheckpoint(const Checkpoint& c) {
  WireWriter w;
  if (c.version >= 2 && !c.id.empty()) w.BytesField(kId, c.id);
  for (const auto& [input, offset] : c.input_offsets) WriteEntry(w, kOffset, {input, offset});
  if (c.version >= 2) {
    for (const auto& [backend, markers] : c.state_markers) {
      for (const auto& [store, marker] : markers) WriteEntry(w, kMarker, {backend, store, marker});
    }
    if (c.writer_epoch != 0) w.VarintField(kWriterEpoch, c.writer_epoch);
    if (!c.writer_id.empty()) w.BytesField(kWriterId, c.writer_id);
    for (const std::string& id : c.retained) w.BytesField(kRetained, id);
    for (const ExpiringSnapshot& e : c.expiring) {
      WriteEntry(w, kExpiring, {e.checkpoint_id, e.store, e.index_blob_id});
    }
    if (c.history) w.VarintField(kHistory, 1);
    if (!c.writer_base.empty()) w.BytesField(kWriterBase, c.writer_base);
  }
  return SealEnvelope(kCheckpointMagic, c.version, w.data());
}

Result<Checkpoint> DecodeCheckpoint(std::string_view bytes) {
  ASSIGN_OR_RETURN(EnvelopeContents env,
                   OpenEnvelope(bytes, kCheckpointMagic, "checkpoint", kLatestCheckpointVersion));
  Checkpoint c;
  c.version = env.version;
  std::set<uint32_t> seen;
  WireReader r(env.body);
  while (!r.done()) {
    ASSIGN_OR_RETURN(WireField f, r.Next());
    RETURN_IF_ERROR(DecodeField(f, env.version, c, seen));
  }
  // A claim record (a writer's claim of a task that has no checkpoint yet) has no id, and
  // nothing but its writer fields.
  if (c.version >= 2 && c.id.empty() &&
      (c.writer_epoch == 0 || !c.input_offsets.empty() || !c.state_markers.empty() ||
       !c.retained.empty() || !c.expiring.empty())) {
    return Malformed("version 2 without an id");
  }
  RETURN_IF_ERROR(CheckHistoryLists(c));
  return c;
}

}  // namespace blobstate
