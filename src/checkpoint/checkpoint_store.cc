#include <algorithm>
#include <set>

#include "blobstate/checkpoint.h"
#include "blobstate/index.h"

namespace blobstate {
namespace {

bool IsValidJobOrTaskName(std::string_view name) {
  if (name.empty() || name.size() > 200 || name == "." || name == "..") return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

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
  for (const std::string* name : {&job, &task}) {
    if (!IsValidJobOrTaskName(*name)) {
      return InvalidArgumentError("invalid " + std::string(name == &job ? "job" : "task") +
                                  " name '" + name->substr(0, 200) +
                                  "': use 1-200 characters from [A-Za-z0-9._-]");
    }
  }
  return std::unique_ptr<CheckpointStore>(new CheckpointStore(
      store, executor, std::move(config), "checkpoints/" + job + "/" + task + "/"));
}

CheckpointStore::CheckpointStore(BlobStore& store, Executor& executor, CheckpointConfig config,
                                 std::string prefix)
    : store_(store), executor_(executor), config_(std::move(config)), prefix_(std::move(prefix)) {}

std::string CheckpointStore::ObjectName(uint32_t version) const {
  return prefix_ + "latest-v" + std::to_string(version);
}

Future<void> CheckpointStore::Write(const Checkpoint& checkpoint) {
  std::vector<uint32_t> versions = config_.write_versions;
  std::sort(versions.rbegin(), versions.rend());
  if (versions.front() >= 2 && !IsValidCheckpointId(checkpoint.id)) {
    return MakeReadyFuture<void>(InvalidArgumentError(
        "a version 2 checkpoint needs a valid id, not '" + checkpoint.id.substr(0, 64) + "'"));
  }
  // One put after the other, the highest version first: a reader preferring the highest
  // version never sees it lag behind a lower one.
  Future<void> chain = MakeReadyFuture();
  for (uint32_t v : versions) {
    Checkpoint c = checkpoint;
    c.version = v;
    if (v < 2) c.state_markers.clear();
    chain = std::move(chain).Map(executor_, [this, v, bytes = EncodeCheckpoint(c)]() mutable {
      return store_.PutObject(ObjectName(v), std::move(bytes));
    });
  }
  return chain;
}

Future<std::optional<Checkpoint>> CheckpointStore::ReadVersion(uint32_t version) {
  const std::string name = ObjectName(version);
  return store_.GetObject(name).Then(
      executor_, [name, version](Result<std::string> bytes) -> Result<std::optional<Checkpoint>> {
        if (bytes.status().code() == StatusCode::kNotFound) return std::nullopt;
        if (!bytes.ok()) return bytes.status().WithContext("checkpoint " + name);
        Result<Checkpoint> c = DecodeCheckpoint(*bytes);
        if (!c.ok()) return c.status().WithContext("checkpoint " + name);
        if (c->version != version) {
          return DataLossError("checkpoint " + name + " holds version " +
                               std::to_string(c->version));
        }
        return std::optional<Checkpoint>(std::move(*c));
      });
}

Future<std::optional<Checkpoint>> CheckpointStore::ReadLatest() {
  // Every read version at once (one round trip); the first in read order that has one wins.
  std::vector<Future<std::optional<Checkpoint>>> reads;
  for (uint32_t v : config_.read_versions) reads.push_back(ReadVersion(v));
  return AllOf(std::move(reads)).Map(executor_, [](std::vector<std::optional<Checkpoint>> found) {
    for (std::optional<Checkpoint>& c : found) {
      if (c.has_value()) return std::move(c);
    }
    return std::optional<Checkpoint>();
  });
}

Future<std::vector<Checkpoint>> CheckpointStore::List() {
  std::vector<Future<std::optional<Checkpoint>>> reads;
  for (uint32_t v = kLatestCheckpointVersion; v >= 1; --v) reads.push_back(ReadVersion(v));
  return AllOf(std::move(reads)).Map(executor_, [](std::vector<std::optional<Checkpoint>> found) {
    std::vector<Checkpoint> checkpoints;
    for (std::optional<Checkpoint>& c : found) {
      if (c.has_value()) checkpoints.push_back(std::move(*c));
    }
    return checkpoints;
  });
}

}  // namespace blobstate
