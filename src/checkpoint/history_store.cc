// CheckpointStore's history objects and pins (history.h).
#include "blobstate/checkpoint.h"
#include "checkpoint/codec.h"
#include "util/failpoint.h"

namespace blobstate {
namespace {
const std::string kPinsName = "pins";
}  // namespace

Future<Checkpoint> CheckpointStore::ReadHistory(const std::string& id) {
  if (!IsValidCheckpointId(id)) {
    return MakeReadyFuture<Checkpoint>(
        InvalidArgumentError("invalid checkpoint id '" + id.substr(0, 64) + "'"));
  }
  const std::string name = HistoryName(id);
  return store_.GetObject(name).Then(
      executor_, [name, id](Result<VersionedObject> object) -> Result<Checkpoint> {
        if (object.status().code() == StatusCode::kNotFound) {
          return NotFoundError("checkpoint " + id + " has no history object " + name);
        }
        if (!object.ok()) return object.status().WithContext("history object " + name);
        Result<Checkpoint> c = DecodeCheckpoint(object->data);
        if (!c.ok()) return c.status().WithContext("history object " + name);
        if (c->version != 2 || c->id != id) {
          return DataLossError("history object " + name + " holds checkpoint '" + c->id + "'");
        }
        return c;
      });
}

Future<void> CheckpointStore::WriteHistory(const Checkpoint& checkpoint) {
  if (checkpoint.version != 2 || !IsValidCheckpointId(checkpoint.id)) {
    return MakeReadyFuture<void>(
        InvalidArgumentError("only version 2 checkpoints with an id have history objects"));
  }
  Checkpoint whole = checkpoint;
  whole.retained.clear();
  whole.expiring.clear();
  whole.writer_base.clear();
  const std::string name = HistoryName(whole.id);
  return store_.PutObject(name, EncodeCheckpoint(whole), {})
      .Then(executor_, [name](Result<std::string> put) -> Result<void> {
        if (!put.ok()) return put.status().WithContext("put of history object " + name);
        return {};
      });
}

Future<void> CheckpointStore::DeleteHistory(const std::string& id) {
  const std::string name = HistoryName(id);
  return store_.DeleteObject(name).Then(executor_, [name](Result<void> r) -> Result<void> {
    if (r.ok() || r.status().code() == StatusCode::kGone) return {};
    return r.status().WithContext("deletion of history object " + name);
  });
}

namespace {
// The pins in `object`; none if it is absent.
Result<std::vector<Pin>> PinsOf(const Result<VersionedObject>& object, const std::string& name) {
  if (object.status().code() == StatusCode::kNotFound) return std::vector<Pin>{};
  if (!object.ok()) return object.status().WithContext("pins object " + name);
  Result<std::vector<Pin>> pins = DecodePins(object->data);
  if (!pins.ok()) return pins.status().WithContext("pins object " + name);
  return pins;
}
}  // namespace

Future<std::vector<Pin>> CheckpointStore::ReadPins() {
  const std::string name = prefix_ + kPinsName;
  return store_.GetObject(name).Then(
      executor_, [name](Result<VersionedObject> object) { return PinsOf(object, name); });
}

Future<std::vector<Pin>> CheckpointStore::UpdatePins(PinChange change) {
  if (Status s = Failpoint("pins.before_update"); !s.ok()) {
    return MakeReadyFuture<std::vector<Pin>>(s);
  }
  return UpdatePinsOnce(std::move(change), 0);
}

Future<std::vector<Pin>> CheckpointStore::UpdatePinsOnce(PinChange change, int attempt) {
  using Out = std::vector<Pin>;
  const std::string name = prefix_ + kPinsName;
  return store_.GetObject(name).Then(
      executor_, [this, name, change, attempt](Result<VersionedObject> object) -> Future<Out> {
        Result<Out> pins = PinsOf(object, name);
        if (!pins.ok()) return MakeReadyFuture<Out>(pins.status());
        Result<Out> next = change(std::move(*pins));
        if (!next.ok()) return MakeReadyFuture<Out>(next.status());
        const std::string bytes = EncodePins(*next);
        ObjectCondition condition =
            object.ok() ? ObjectCondition::IfVersion(object->version) : ObjectCondition::IfAbsent();
        return CompareAndSwap(name, bytes, condition)
            .Map(executor_, [this, name, change, attempt, next = *next](Swap swap) -> Future<Out> {
              if (swap.version) return MakeReadyFuture<Out>(next);
              if (attempt + 1 >= kClaimAttempts) {
                return MakeReadyFuture<Out>(
                    AbortedError("update of " + name + ": lost the race to other writers " +
                                 std::to_string(kClaimAttempts) + " times"));
              }
              return UpdatePinsOnce(change, attempt + 1);
            });
      });
}

}  // namespace blobstate
