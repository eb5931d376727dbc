// The history commands: checkpoints, pin, unpin.
#include <time.h>

#include <algorithm>

#include "blobstate/checkpoint.h"
#include "blobstate/history.h"
#include "blobstate/snapshot.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "cli/task_flags.h"

namespace blobstate::cli {
namespace {

// A kept checkpoint as `checkpoints` lists it.
struct Kept {
  Checkpoint checkpoint;
  bool latest = false, retained = false;
  std::optional<Pin> pin;
  TreeTotals totals;
};

std::string TimeOf(const std::string& id) {
  std::optional<std::chrono::system_clock::time_point> t = CheckpointTime(id);
  if (!t) return "(no time)";
  const time_t secs = std::chrono::system_clock::to_time_t(*t);
  struct tm tm;
  ::gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// The latest, retained and pinned checkpoints of the task, newest first, with their sizes.
Result<std::vector<Kept>> ReadKept(TaskContext& task) {
  ASSIGN_OR_RETURN(
      std::optional<Checkpoint> latest,
      task.checkpoints->ReadLatest().GetFor(kCommandTimeout, "read of the checkpoint"));
  ASSIGN_OR_RETURN(std::vector<Pin> pins,
                   task.checkpoints->ReadPins().GetFor(kCommandTimeout, "read of the pins"));
  std::vector<Kept> kept;
  if (latest) kept.push_back({.checkpoint = *latest, .latest = true});
  std::vector<std::pair<std::string, bool>> ids;  // (id, retained)
  for (const std::string& id : latest ? latest->retained : std::vector<std::string>{}) {
    ids.emplace_back(id, true);
  }
  for (const Pin& p : pins) {
    bool listed =
        std::any_of(ids.begin(), ids.end(), [&](auto& e) { return e.first == p.checkpoint_id; });
    if (!p.released && !listed && !(latest && latest->id == p.checkpoint_id)) {
      ids.emplace_back(p.checkpoint_id, false);
    }
  }
  for (const auto& [id, retained] : ids) {
    ASSIGN_OR_RETURN(Checkpoint c,
                     task.checkpoints->ReadHistory(id).GetFor(kCommandTimeout, "read of " + id));
    kept.push_back({.checkpoint = std::move(c), .retained = retained});
  }
  for (Kept& k : kept) {
    for (const Pin& p : pins) {
      if (p.checkpoint_id == k.checkpoint.id && !p.released) k.pin = p;
    }
    if (k.checkpoint.version < 2) continue;
    ASSIGN_OR_RETURN(StoreMarkers markers, BlobStoreMarkers(k.checkpoint));
    for (const auto& [name, index_id] : markers) {  // each index a directory at a time
      FileVisitor add = [&k](const FileIndex& f, bool removed) {
        if (removed) return;
        k.totals.files += 1;
        k.totals.bytes += f.metadata.size;
      };
      ASSIGN_OR_RETURN(SnapshotIndex header,
                       VisitSnapshotFiles(*task.store, *task.pool, index_id, std::move(add))
                           .GetFor(kCommandTimeout, "read of the snapshot index"));
      if (header.metadata.store_name != name) {
        return DataLossError("store " + name + ": snapshot index " + index_id +
                             " belongs to store '" + header.metadata.store_name + "'");
      }
    }
  }
  std::sort(kept.begin(), kept.end(),
            [](const Kept& a, const Kept& b) { return a.checkpoint.id > b.checkpoint.id; });
  return kept;
}

std::string MapJson(const std::map<std::string, std::string>& m) {
  std::string out;
  for (const auto& [k, v] : m)
    out += (out.empty() ? "" : ",") + JsonString(k) + ":" + JsonString(v);
  return "{" + out + "}";
}

std::string KeptJson(const Kept& k) {
  const Checkpoint& c = k.checkpoint;
  auto markers = [&](std::string_view key) {
    auto it = c.state_markers.find(std::string(key));
    return MapJson(it == c.state_markers.end() ? StoreMarkers{} : it->second);
  };
  std::optional<std::chrono::system_clock::time_point> t = CheckpointTime(c.id);
  const int64_t ms =
      t ? std::chrono::duration_cast<std::chrono::milliseconds>(t->time_since_epoch()).count() : 0;
  return "{\"checkpoint_id\":" + JsonString(c.id) + ",\"version\":" + std::to_string(c.version) +
         ",\"time_ms\":" + std::to_string(ms) + ",\"latest\":" + (k.latest ? "true" : "false") +
         ",\"retained\":" + (k.retained || k.latest ? "true" : "false") +
         ",\"pinned\":" + (k.pin ? "true" : "false") +
         ",\"pin_name\":" + (k.pin ? JsonString(k.pin->name) : "null") +
         ",\"inputs\":" + std::to_string(c.input_offsets.size()) +
         ",\"offsets\":" + MapJson(c.input_offsets) + ",\"stores\":" + markers(kBlobStoreBackend) +
         ",\"removed_stores\":" + markers(kRemovedStoresKey) +
         ",\"files\":" + std::to_string(k.totals.files) +
         ",\"bytes\":" + std::to_string(k.totals.bytes) + "}";
}

std::string KeptText(const Kept& k) {
  const Checkpoint& c = k.checkpoint;
  std::string role = k.latest ? "latest" : k.retained ? "retained" : "";
  if (k.pin) {
    role +=
        (role.empty() ? "pinned" : ", pinned") + (k.pin->name.empty() ? "" : " as " + k.pin->name);
  }
  std::string text = (c.id.empty() ? "(no id)" : c.id) + "  " + TimeOf(c.id) + "  v" +
                     std::to_string(c.version) + "  " + role + "  " +
                     std::to_string(k.totals.files) + " files, " + HumanBytes(k.totals.bytes) +
                     "\n";
  std::string offsets;
  for (const auto& [input, offset] : c.input_offsets) {
    offsets += (offsets.empty() ? "" : ", ") + input + "=" + offset;
  }
  if (!offsets.empty()) text += "    offsets: " + offsets + "\n";
  for (std::string_view key : {kBlobStoreBackend, kRemovedStoresKey}) {
    auto it = c.state_markers.find(std::string(key));
    if (it == c.state_markers.end()) continue;
    for (const auto& [store, id] : it->second) {
      text += "    " + std::string(key == kRemovedStoresKey ? "(removed) " : "") + store + "  " +
              id + "\n";
    }
  }
  return text;
}

// Whether `id` is the latest or a retained checkpoint of `latest`.
bool IsKept(const std::optional<Checkpoint>& latest, const std::string& id) {
  return latest && (latest->id == id || std::find(latest->retained.begin(), latest->retained.end(),
                                                  id) != latest->retained.end());
}

}  // namespace

Status CheckpointsCommand(const std::vector<std::string>& args, CommandOutput& out) {
  TaskFlags tf;
  Flags flags("checkpoints",
              "Lists the checkpoints a task keeps, newest first: the latest, those its retention\n"
              "policy retains, and those pinned, with their time, input offsets, stores'\n"
              "snapshot index blob ids and size. restore, verify and show take any of them with\n"
              "--checkpoint ID.");
  tf.Register(flags, {});
  RETURN_IF_ERROR(out.Parse(flags, args, 0));
  if (flags.help_requested()) return out.Help(flags.Help());
  ASSIGN_OR_RETURN(std::unique_ptr<TaskContext> task,
                   out.Checked(OpenTask(tf, /*backend=*/false, /*create=*/false)));
  ASSIGN_OR_RETURN(std::vector<Kept> kept, ReadKept(*task));
  std::string text;
  for (const Kept& k : kept) {
    text += tf.json ? std::string(text.empty() ? "" : ",") + KeptJson(k) : KeptText(k);
  }
  out.Print(tf.json ? "[" + text + "]\n" : (kept.empty() ? "no checkpoints\n" : text));
  return Status::Ok();
}

namespace {

// Sets the pin of checkpoint `id` of `tf`'s task, or releases it (`released`), in one
// conditional update of the pins object; a pin of a checkpoint neither `kept` nor pinned
// already is refused (kNotFound). Returns whether `id` was pinned before the update.
Result<bool> UpdatePin(TaskContext& task, const TaskFlags& tf, const std::string& id,
                       const std::string& name, bool kept, bool released) {
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  bool was_pinned = false;
  auto update = [&](std::vector<Pin> pins) -> Result<std::vector<Pin>> {
    was_pinned = std::any_of(pins.begin(), pins.end(),
                             [&](const Pin& p) { return p.checkpoint_id == id && !p.released; });
    if (!released && !kept && !was_pinned) {
      return NotFoundError("checkpoint " + id + " of job " + tf.job + ", task " + tf.task +
                           " is neither the latest, retained nor pinned, so it cannot be "
                           "pinned (`blobstate checkpoints` lists those kept)");
    }
    std::erase_if(pins, [&](const Pin& p) { return p.checkpoint_id == id; });
    pins.push_back({.checkpoint_id = id, .name = name, .created_ms = now_ms, .released = released});
    return pins;
  };
  RETURN_IF_ERROR(
      task.checkpoints->UpdatePins(update).GetFor(kCommandTimeout, "update of the pins").status());
  return was_pinned;
}

// Pins checkpoint `tf.checkpoint_id` (empty: the latest) as `name`; returns its id.
Result<std::string> PinCheckpoint(TaskContext& task, const TaskFlags& tf, const std::string& name) {
  auto read_latest = [&] {
    return task.checkpoints->ReadLatest().GetFor(kCommandTimeout, "read of the checkpoint");
  };
  ASSIGN_OR_RETURN(std::optional<Checkpoint> latest, read_latest());
  const std::string id = tf.checkpoint_id.empty() && latest ? latest->id : tf.checkpoint_id;
  const bool kept = IsKept(latest, id);
  // A pinned checkpoint must have a history object (the latest may not have one yet; one
  // pinned already has).
  if (kept) {
    RETURN_IF_ERROR(
        latest->id == id
            ? task.checkpoints->WriteHistory(*latest).GetFor(kCommandTimeout, "put")
            : task.checkpoints->ReadHistory(id).GetFor(kCommandTimeout, "get").status());
  }
  ASSIGN_OR_RETURN(bool was_pinned, UpdatePin(task, tf, id, name, kept, /*released=*/false));
  // Its pin held all along, no commit can have dropped it. Otherwise a commit that dropped
  // it meanwhile may not have seen the new pin, which then cannot be trusted: released.
  if (was_pinned) return id;
  ASSIGN_OR_RETURN(latest, read_latest());
  if (IsKept(latest, id)) return id;
  RETURN_IF_ERROR(UpdatePin(task, tf, id, name, kept, /*released=*/true).status());
  return AbortedError("checkpoint " + id +
                      " left the task's history while it was being pinned; not pinned");
}

}  // namespace

Status PinCommand(const std::vector<std::string>& args, CommandOutput& out) {
  TaskFlags tf;
  std::string name;
  Flags flags("pin",
              "Pins checkpoint --checkpoint (the latest, a retained or a pinned one; default:\n"
              "the latest): it and every blob it names are kept, whatever the retention policy\n"
              "says, until unpinned (a savepoint). Pinning a pinned checkpoint again changes\n"
              "its name.");
  tf.Register(flags, {.checkpoint = true});
  flags.String("name", &name, "a name for the pin, [A-Za-z0-9._-] (e.g. before-deploy-42)");
  RETURN_IF_ERROR(out.Parse(flags, args, 0));
  if (flags.help_requested()) return out.Help(flags.Help());
  if (!IsValidPinName(name)) {
    return out.Checked(
        InvalidArgumentError("--name '" + name + "': use [A-Za-z0-9._-], at most 128"));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<TaskContext> task,
                   out.Checked(OpenTask(tf, /*backend=*/true, /*create=*/false)));
  ASSIGN_OR_RETURN(std::string id, PinCheckpoint(*task, tf, name));
  out.Print(tf.json ? "{\"pinned\":" + JsonString(id) + ",\"name\":" + JsonString(name) + "}\n"
                    : "pinned checkpoint " + id + (name.empty() ? "" : " as " + name) + "\n");
  return Status::Ok();
}

Status UnpinCommand(const std::vector<std::string>& args, CommandOutput& out) {
  TaskFlags tf;
  Flags flags("unpin",
              "Releases the pin of checkpoint --checkpoint: once no retained checkpoint names\n"
              "them, its blobs are deleted by the task's next commit (or by gc).");
  tf.Register(flags, {});
  flags.String("checkpoint", &tf.checkpoint_id, "the pinned checkpoint's id", true);
  RETURN_IF_ERROR(out.Parse(flags, args, 0));
  if (flags.help_requested()) return out.Help(flags.Help());
  ASSIGN_OR_RETURN(std::unique_ptr<TaskContext> task,
                   out.Checked(OpenTask(tf, /*backend=*/true, /*create=*/false)));
  const std::string& id = tf.checkpoint_id;
  RETURN_IF_ERROR(task->checkpoints
                      ->UpdatePins([&](std::vector<Pin> pins) -> Result<std::vector<Pin>> {
                        for (Pin& p : pins) {
                          if (p.checkpoint_id != id || p.released) continue;
                          p.released = true;
                          return pins;
                        }
                        return NotFoundError("checkpoint " + id + " of job " + tf.job + ", task " +
                                             tf.task + " is not pinned");
                      })
                      .GetFor(kCommandTimeout, "update of the pins")
                      .status());
  out.Print(tf.json ? "{\"unpinned\":" + JsonString(id) + "}\n"
                    : "unpinned checkpoint " + id + "\n");
  return Status::Ok();
}

}  // namespace blobstate::cli
