#include <algorithm>
#include <limits>
#include <mutex>
#include <set>
#include <utility>

#include "blobstate/checkpoint.h"
#include "blobstate/index.h"
#include "checkpoint/codec.h"

namespace blobstate {

Status CheckJobOrTaskName(std::string_view what, std::string_view name) {
  const bool valid = !name.empty() && name.size() <= 200 && name != "." && name != ".." &&
                     std::all_of(name.begin(), name.end(), [](char c) {
                       return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
                     });
  if (valid) return Status::Ok();
  return InvalidArgumentError("invalid " + std::string(what) + " name '" +
                              std::string(name.substr(0, 200)) +
                              "': use 1-200 characters from [A-Za-z0-9._-]");
}

namespace {

Status ValidateVersions(const std::vector<uint32_t>& versions, const char* setting) {
  if (versions.empty()) return InvalidArgumentError(std::string(setting) + " is empty");
  std::set<uint32_t> seen;
  for (uint32_t v : versions) {
    if (v < 1 || v > kLatestCheckpointVersion) {
      return InvalidArgumentError(std::string(setting) + ": unknown checkpoint version " +
                                  std::to_string(v) + " (this build knows 1 and 2)");
    }
    if (!seen.insert(v).second) {
      return InvalidArgumentError(std::string(setting) + " lists version " + std::to_string(v) +
                                  " twice");
    }
  }
  return Status::Ok();
}

}  // namespace

Status ValidateCheckpointConfig(const CheckpointConfig& config) {
  RETURN_IF_ERROR(ValidateVersions(config.write_versions, "checkpoint write versions"));
  return ValidateVersions(config.read_versions, "checkpoint read versions");
}

Status ValidateForBlobStoreBackend(const CheckpointConfig& config) {
  RETURN_IF_ERROR(ValidateCheckpointConfig(config));
  auto has2 = [](const std::vector<uint32_t>& v) {
    return std::find(v.begin(), v.end(), 2u) != v.end();
  };
  if (!has2(config.write_versions) || !has2(config.read_versions)) {
    return InvalidArgumentError(
        "the blob store backend keeps its markers in version 2 checkpoints: checkpoint write "
        "versions and read versions must both include 2");
  }
  if (config.read_versions.front() != 2) {
    return InvalidArgumentError(
        "the blob store backend keeps its markers in version 2 checkpoints: checkpoint read "
        "versions must list 2 first (a version 1 checkpoint read first would restore the "
        "stores empty)");
  }
  return Status::Ok();
}

Result<StoreMarkers> BlobStoreMarkers(const std::optional<Checkpoint>& checkpoint,
                                      std::string_view key) {
  if (!checkpoint.has_value()) return StoreMarkers{};
  if (checkpoint->version < 2) {
    return FailedPreconditionError(
        "checkpoint version " + std::to_string(checkpoint->version) +
        " holds no state markers; the blob store backend needs version 2 checkpoints");
  }
  auto it = checkpoint->state_markers.find(std::string(key));
  if (it == checkpoint->state_markers.end()) return StoreMarkers{};
  for (const auto& [store, marker] : it->second) {
    if (!IsValidName(store)) {
      return InvalidArgumentError("checkpoint " + checkpoint->id + " names an invalid store '" +
                                  store.substr(0, 200) + "'");
    }
    if (!IsValidBlobId(marker)) {
      return InvalidArgumentError("checkpoint " + checkpoint->id + ": store " + store +
                                  " has an invalid snapshot index blob id '" +
                                  marker.substr(0, 200) + "'");
    }
  }
  return it->second;
}

Result<std::unique_ptr<CheckpointStore>> CheckpointStore::Open(BlobStore& store, Executor& executor,
                                                               CheckpointConfig config,
                                                               std::string job, std::string task) {
  RETURN_IF_ERROR(ValidateCheckpointConfig(config));
  RETURN_IF_ERROR(CheckJobOrTaskName("job", job));
  RETURN_IF_ERROR(CheckJobOrTaskName("task", task));
  return std::unique_ptr<CheckpointStore>(new CheckpointStore(
      store, executor, std::move(config), "checkpoints/" + job + "/" + task + "/"));
}

// This writer's claim of the task. Thread-safe.
struct CheckpointStore::Writer {
  const std::string id = NewWriterId();
  std::mutex mu;
  bool claimed = false;  // GUARDED_BY(mu)
  uint64_t epoch = 0;    // GUARDED_BY(mu)
  std::string version;   // GUARDED_BY(mu): of the version 2 object as this writer last wrote it
  Status fenced;         // GUARDED_BY(mu): set once another writer took the task
};

CheckpointStore::CheckpointStore(BlobStore& store, Executor& executor, CheckpointConfig config,
                                 std::string prefix)
    : store_(store),
      executor_(executor),
      config_(std::move(config)),
      prefix_(std::move(prefix)),
      writer_(std::make_shared<Writer>()) {}

std::string CheckpointStore::ObjectName(uint32_t version) const {
  return prefix_ + "latest-v" + std::to_string(version);
}

Future<void> CheckpointStore::ProbeConditions() {
  auto put = [this](ObjectCondition condition) {
    return store_.PutObject(prefix_ + "fencing-probe", "fencing probe\n", std::move(condition));
  };
  // `how` a condition was ignored: the claim is refused.
  auto refuse = [this](std::string_view how) {
    return FailedPreconditionError(
        store_.Describe() + " does not enforce conditional writes (" + std::string(how) +
        "), so nothing would stop a second writer of a task from losing its data; add the URL "
        "parameter fencing=off only if the deployment itself guarantees one writer per task "
        "(README, \"Writers\")");
  };
  // Once the probe object exists: a put on a version it never had must fail too.
  auto if_match = [this, put, refuse] {
    return put(ObjectCondition::IfVersion("\"blobstate-fencing-probe\""))
        .Then(executor_, [refuse](Result<std::string> r) -> Result<void> {
          if (r.status().code() == StatusCode::kAborted) return {};
          if (!r.ok()) return r.status().WithContext("fencing probe");
          return refuse("a put with If-Match of a version the object never had replaced it");
        });
  };
  return put(ObjectCondition::IfAbsent())
      .Then(executor_, [this, put, if_match, refuse](Result<std::string> first) -> Future<void> {
        if (first.status().code() == StatusCode::kAborted) return if_match();  // it exists
        if (!first.ok()) return MakeReadyFuture<void>(first.status().WithContext("fencing probe"));
        return put(ObjectCondition::IfAbsent())
            .Then(executor_, [if_match, refuse](Result<std::string> second) -> Future<void> {
              if (second.status().code() == StatusCode::kAborted) return if_match();
              if (!second.ok()) {
                return MakeReadyFuture<void>(second.status().WithContext("fencing probe"));
              }
              return MakeReadyFuture<void>(
                  refuse("a put with If-None-Match: * replaced an existing object"));
            });
      });
}

Future<CheckpointStore::Swap> CheckpointStore::CompareAndSwap(const std::string& name,
                                                              const std::string& bytes,
                                                              const ObjectCondition& condition) {
  return store_.PutObject(name, bytes, condition)
      .Then(executor_, [this, name, bytes](Result<std::string> put) -> Future<Swap> {
        if (put.ok()) return MakeReadyFuture<Swap>(Swap{.version = std::move(*put)});
        if (put.status().code() != StatusCode::kAborted) {
          return MakeReadyFuture<Swap>(put.status().WithContext("put of " + name));
        }
        return store_.GetObject(name).Then(
            executor_, [name, bytes](Result<VersionedObject> now) -> Result<Swap> {
              if (now.status().code() == StatusCode::kNotFound) return Swap{};
              if (!now.ok()) {
                return now.status().WithContext("read back of " + name +
                                                " after a failed conditional put");
              }
              // Holding these very bytes, the put happened; only its reply was lost.
              if (now->data == bytes) return Swap{.version = std::move(now->version)};
              return Swap{.current = std::move(*now)};
            });
      });
}

Future<Checkpoint> CheckpointStore::ClaimOver(std::optional<VersionedObject> current,
                                              std::string base, int attempt) {
  const std::string name = ObjectName(2);
  Checkpoint next;
  ObjectCondition condition = ObjectCondition::IfAbsent();
  if (current) {
    Result<Checkpoint> c = DecodeCheckpoint(current->data);
    if (!c.ok() || c->version != 2) {
      return MakeReadyFuture<Checkpoint>(
          DataLossError("checkpoint " + name + " does not decode as version 2: " +
                        (c.ok() ? "version " + std::to_string(c->version) : c.status().message())));
    }
    next = std::move(*c);
    // A claim record has no checkpoint to roll back from.
    next.writer_base = next.id.empty() || next.id == base ? "" : base;
    condition = ObjectCondition::IfVersion(current->version);
  }
  if (next.writer_epoch == std::numeric_limits<uint64_t>::max()) {
    return MakeReadyFuture<Checkpoint>(
        DataLossError("checkpoint " + name + " holds the last writer epoch there is"));
  }
  next.writer_epoch += 1;
  next.writer_id = writer_->id;
  const std::string bytes = EncodeCheckpoint(next);
  return CompareAndSwap(name, bytes, condition)
      .Map(executor_,
           [this, name, next = std::move(next), base, attempt](Swap swap) -> Future<Checkpoint> {
             if (swap.version) {
               std::lock_guard<std::mutex> lock(writer_->mu);
               writer_->claimed = true;
               writer_->epoch = next.writer_epoch;
               writer_->version = std::move(*swap.version);
               return MakeReadyFuture<Checkpoint>(next);
             }
             if (attempt + 1 >= kClaimAttempts) {
               return MakeReadyFuture<Checkpoint>(
                   AbortedError("claim of " + name + ": other writers claimed the task first " +
                                std::to_string(kClaimAttempts) + " times"));
             }
             return ClaimOver(std::move(swap.current), base, attempt + 1);  // over the winner's
           });
}

Future<std::optional<Checkpoint>> CheckpointStore::Claim(std::string base) {
  if (!base.empty() && !IsValidCheckpointId(base)) {
    return MakeReadyFuture<std::optional<Checkpoint>>(
        InvalidArgumentError("claim at an invalid checkpoint id '" + base.substr(0, 64) + "'"));
  }
  Future<void> probed = store_.FencingOff() ? MakeReadyFuture() : ProbeConditions();
  return std::move(probed)
      .Map(executor_, [this] { return store_.GetObject(ObjectName(2)); })
      .Then(executor_,
            [this, base](Result<VersionedObject> got) -> Future<Checkpoint> {
              if (got.status().code() == StatusCode::kNotFound) {
                return ClaimOver(std::nullopt, base, 0);  // no checkpoint to roll back from
              }
              if (!got.ok()) return MakeReadyFuture<Checkpoint>(got.status().WithContext("claim"));
              return ClaimOver(std::move(*got), base, 0);
            })
      .Map(executor_, [this](Checkpoint claimed) -> Future<std::optional<Checkpoint>> {
        // The claim holds the latest version 2 checkpoint: read nothing more unless it is a
        // claim record (no checkpoint yet) or version 1 is read first.
        if (config_.read_versions.front() == 2 && !claimed.id.empty()) {
          return MakeReadyFuture<std::optional<Checkpoint>>(std::move(claimed));
        }
        return ReadLatest();
      });
}

Future<void> CheckpointStore::WriteFenced(std::string bytes, bool again) {
  const std::string name = ObjectName(2);
  std::string version;
  {
    std::lock_guard<std::mutex> lock(writer_->mu);
    if (!writer_->fenced.ok()) return MakeReadyFuture<void>(writer_->fenced);
    version = writer_->version;
  }
  return CompareAndSwap(name, bytes, ObjectCondition::IfVersion(version))
      .Map(executor_, [this, name, bytes, again](Swap swap) -> Future<void> {
        std::lock_guard<std::mutex> lock(writer_->mu);
        if (swap.version) {
          writer_->version = std::move(*swap.version);
          return MakeReadyFuture();
        }
        Result<Checkpoint> other = swap.current ? DecodeCheckpoint(swap.current->data)
                                                : Result<Checkpoint>(NotFoundError(name));
        if (!again && other.ok() && other->writer_id == writer_->id &&
            other->writer_epoch == writer_->epoch) {
          // An earlier write of this writer that failed but happened (its reply was lost):
          // put this one over it.
          writer_->version = std::move(swap.current->version);
          return Async(executor_, [this, bytes] { return WriteFenced(bytes, /*again=*/true); });
        }
        writer_->fenced = FencedError(
            "another writer took the task (" + name + " now holds " +
            (other.ok()
                 ? "writer " + other->writer_id + ", epoch " + std::to_string(other->writer_epoch)
                 : "no checkpoint of this writer") +
            "); this writer (" + writer_->id + ", epoch " + std::to_string(writer_->epoch) +
            ") persists, deletes and untags nothing from now on");
        return MakeReadyFuture<void>(writer_->fenced);
      });
}

Status CheckpointStore::Fenced() const {
  std::lock_guard<std::mutex> lock(writer_->mu);
  return writer_->fenced;
}

Future<void> CheckpointStore::Write(const Checkpoint& checkpoint) {
  std::vector<uint32_t> versions = config_.write_versions;
  std::sort(versions.rbegin(), versions.rend());
  if (versions.front() >= 2 && !IsValidCheckpointId(checkpoint.id)) {
    return MakeReadyFuture<void>(InvalidArgumentError(
        "a version 2 checkpoint needs a valid id, not '" + checkpoint.id.substr(0, 64) + "'"));
  }
  Checkpoint mine = checkpoint;
  {
    std::lock_guard<std::mutex> lock(writer_->mu);
    if (!writer_->fenced.ok()) return MakeReadyFuture<void>(writer_->fenced);
    if (!writer_->claimed) {
      return MakeReadyFuture<void>(FailedPreconditionError("write of checkpoint " + checkpoint.id +
                                                           " to " + prefix_ +
                                                           " before this writer claimed the task"));
    }
    mine.writer_epoch = writer_->epoch;
    mine.writer_id = writer_->id;
  }
  mine.writer_base.clear();  // only a claim records one
  std::vector<std::pair<uint32_t, std::string>> puts;
  for (uint32_t v : versions) {
    Checkpoint c = mine;
    c.version = v;
    if (v < 2) {
      c.state_markers.clear();
      c.writer_epoch = 0;
      c.writer_id.clear();
    }
    puts.emplace_back(v, EncodeCheckpoint(c));
    // Nothing is put that readers would reject: the task could no longer be opened.
    if (Result<Checkpoint> back = DecodeCheckpoint(puts.back().second); !back.ok()) {
      return MakeReadyFuture<void>(InvalidArgumentError(
          "checkpoint " + checkpoint.id.substr(0, 64) + " is not valid in version " +
          std::to_string(v) + ": " + back.status().message()));
    }
  }
  // One put after the other, the highest version first: a reader preferring the highest
  // version never sees it lag behind a lower one, and a fenced writer writes none.
  Future<void> chain = MakeReadyFuture();
  for (auto& put : puts) {
    chain = std::move(chain).Map(executor_, [this, v = put.first,
                                             bytes = std::move(put.second)]() mutable {
      if (v == 2) return WriteFenced(std::move(bytes), /*again=*/false);
      return store_.PutObject(ObjectName(v), std::move(bytes), {}).Map(executor_, [](std::string) {
      });
    });
  }
  return chain;
}

Future<std::optional<Checkpoint>> CheckpointStore::ReadVersion(uint32_t version) {
  const std::string name = ObjectName(version);
  return store_.GetObject(name).Then(
      executor_,
      [name, version](Result<VersionedObject> object) -> Result<std::optional<Checkpoint>> {
        if (object.status().code() == StatusCode::kNotFound) return std::nullopt;
        if (!object.ok()) return object.status().WithContext("checkpoint " + name);
        Result<Checkpoint> c = DecodeCheckpoint(object->data);
        if (!c.ok()) return DataLossError("checkpoint " + name + ": " + c.status().message());
        if (c->version != version) {
          return DataLossError("checkpoint " + name + " holds version " +
                               std::to_string(c->version));
        }
        return std::optional<Checkpoint>(std::move(*c));
      });
}

namespace {
// The checkpoints of `found`, in order, without claim records.
std::vector<Checkpoint> WithoutClaims(std::vector<std::optional<Checkpoint>> found) {
  std::vector<Checkpoint> checkpoints;
  for (std::optional<Checkpoint>& c : found) {
    if (c.has_value() && !(c->version >= 2 && c->id.empty())) checkpoints.push_back(std::move(*c));
  }
  return checkpoints;
}
}  // namespace

Future<std::optional<Checkpoint>> CheckpointStore::ReadLatest() {
  // Every read version at once (one round trip); the first in read order that has one wins.
  // A version read after it cannot change that: its error does not count.
  std::vector<Future<std::optional<Checkpoint>>> reads;
  for (uint32_t v : config_.read_versions) reads.push_back(ReadVersion(v));
  return AllSettled(std::move(reads))
      .Map(executor_,
           [](std::vector<Result<std::optional<Checkpoint>>> found)
               -> Result<std::optional<Checkpoint>> {
             for (Result<std::optional<Checkpoint>>& r : found) {
               if (!r.ok()) return r.status();
               std::vector<Checkpoint> checkpoint = WithoutClaims({std::move(*r)});
               if (!checkpoint.empty()) return std::move(checkpoint.front());
             }
             return std::nullopt;
           });
}

Future<std::vector<Checkpoint>> CheckpointStore::List() {
  std::vector<Future<std::optional<Checkpoint>>> reads;
  for (uint32_t v = kLatestCheckpointVersion; v >= 1; --v) reads.push_back(ReadVersion(v));
  return AllOf(std::move(reads)).Map(executor_, WithoutClaims);
}

}  // namespace blobstate
