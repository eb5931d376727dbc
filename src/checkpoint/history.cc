// Retention policies and the pins codec (docs/format.md, "Pins").
#include "blobstate/history.h"

#include <algorithm>
#include <charconv>
#include <set>

#include "blobstate/checkpoint.h"
#include "checkpoint/codec.h"
#include "index/wire.h"

namespace blobstate {
namespace {

constexpr std::string_view kPinsMagic = "BSPN";
constexpr uint32_t kPinsVersion = 1;
constexpr uint32_t kPinEntry = 1;  // LEN, repeated: one pin
// Fields of a pin.
constexpr uint32_t kPinId = 1;        // LEN, the checkpoint id
constexpr uint32_t kPinName = 2;      // LEN, optional
constexpr uint32_t kPinCreated = 3;   // VARINT, Unix milliseconds
constexpr uint32_t kPinReleased = 4;  // VARINT 1 if released, else absent

Status Malformed(const std::string& what) {
  return InvalidArgumentError("malformed pins object: " + what);
}

Result<Pin> DecodePin(std::string_view bytes) {
  Pin pin;
  std::set<uint32_t> seen;
  WireReader r(bytes);
  while (!r.done()) {
    ASSIGN_OR_RETURN(WireField f, r.Next());
    if (f.id < kPinId || f.id > kPinReleased) {
      if (f.must_understand) return Malformed("unknown required field " + std::to_string(f.id));
      continue;
    }
    const bool text = f.id == kPinId || f.id == kPinName;
    const bool flag_not_1 = f.id == kPinReleased && f.number != 1;
    if (f.type != (text ? WireType::kLen : WireType::kVarint) || flag_not_1 ||
        !seen.insert(f.id).second) {
      return Malformed("bad or repeated field " + std::to_string(f.id) + " of a pin");
    }
    if (f.id == kPinId) pin.checkpoint_id = std::string(f.bytes);
    if (f.id == kPinName) pin.name = std::string(f.bytes);
    if (f.id == kPinCreated) pin.created_ms = static_cast<int64_t>(f.number);
    if (f.id == kPinReleased) pin.released = true;
  }
  if (!IsValidCheckpointId(pin.checkpoint_id)) {
    return Malformed("invalid checkpoint id '" + pin.checkpoint_id.substr(0, 64) + "'");
  }
  if (!IsValidPinName(pin.name))
    return Malformed("invalid pin name '" + pin.name.substr(0, 64) + "'");
  return pin;
}

}  // namespace

Status ValidateRetentionPolicy(const RetentionPolicy& policy) {
  if (policy.keep_last < 1 || static_cast<size_t>(policy.keep_last) > kMaxRetained) {
    return InvalidArgumentError("retention: keep-last must be 1.." + std::to_string(kMaxRetained) +
                                ", not " + std::to_string(policy.keep_last));
  }
  if (policy.keep_within.count() < 0 || policy.keep_within > kMaxPolicyPeriod) {
    return InvalidArgumentError("retention: keep-within must be 0 to 36500 days, not " +
                                std::to_string(policy.keep_within.count()) + " s");
  }
  return Status::Ok();
}

std::optional<std::chrono::system_clock::time_point> CheckpointTime(std::string_view id) {
  if (!IsValidCheckpointId(id)) return std::nullopt;
  int64_t ms = 0;
  std::from_chars(id.data(), id.data() + 13, ms);
  return std::chrono::system_clock::time_point(std::chrono::milliseconds(ms));
}

std::vector<std::string> RetainedIds(const RetentionPolicy& policy,
                                     std::span<const std::string> ids,
                                     std::chrono::system_clock::time_point now) {
  std::vector<std::string> kept;
  for (size_t i = 0; i < ids.size() && kept.size() < kMaxRetained; ++i) {
    bool keep = i < static_cast<size_t>(policy.keep_last);
    if (!keep && policy.keep_within.count() > 0) {
      std::optional<std::chrono::system_clock::time_point> t = CheckpointTime(ids[i]);
      keep = t && *t > now - policy.keep_within;
    }
    if (keep) kept.push_back(ids[i]);
  }
  return kept;
}

bool IsValidPinName(std::string_view name) {
  return name.empty() || IsValidWriterId(name);  // the same alphabet and bound
}

std::string EncodePins(const std::vector<Pin>& pins) {
  WireWriter w;
  for (const Pin& p : pins) {
    WireWriter entry;
    entry.BytesField(kPinId, p.checkpoint_id);
    if (!p.name.empty()) entry.BytesField(kPinName, p.name);
    entry.VarintField(kPinCreated, static_cast<uint64_t>(p.created_ms));
    if (p.released) entry.VarintField(kPinReleased, 1);
    w.BytesField(kPinEntry, entry.data());
  }
  return SealEnvelope(kPinsMagic, kPinsVersion, w.data());
}

Result<std::vector<Pin>> DecodePins(std::string_view bytes) {
  ASSIGN_OR_RETURN(EnvelopeContents env,
                   OpenEnvelope(bytes, kPinsMagic, "pins object", kPinsVersion));
  std::vector<Pin> pins;
  std::set<std::string> ids;
  WireReader r(env.body);
  while (!r.done()) {
    ASSIGN_OR_RETURN(WireField f, r.Next());
    if (f.id != kPinEntry) {
      if (f.must_understand) return Malformed("unknown required field " + std::to_string(f.id));
      continue;
    }
    if (f.type != WireType::kLen) return Malformed("pin not LEN");
    ASSIGN_OR_RETURN(Pin pin, DecodePin(f.bytes));
    if (!ids.insert(pin.checkpoint_id).second) {
      return Malformed("checkpoint " + pin.checkpoint_id + " pinned twice");
    }
    pins.push_back(std::move(pin));
  }
  return pins;
}

}  // namespace blobstate
