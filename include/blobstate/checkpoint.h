// Checkpoints: what a task commits, and where it finds the last one again.
//
// Version 1 holds the input offsets only (a job without the blob store backend). Version 2
// adds the checkpoint id and the state checkpoint markers: for each state backend, for
// each store, a marker. The blob store backend's marker (backend kBlobStoreBackend) is the
// blob id of the store's snapshot index.
//
// Checkpoints live in the blob store's namespace of named objects, one object per version
// that holds the task's latest checkpoint of that version:
// "checkpoints/<job>/<task>/latest-v<version>". So a new host with an empty disk finds a
// task's latest checkpoint from the blob store URL, the job and the task alone, with one
// get and no listing; a commit writes it with one atomic put, which replaces the previous
// one.
//
// History (history.h): the latest checkpoint also lists the ids of the older checkpoints
// the task retains (`retained`, by its RetentionPolicy); each of those is kept whole in
// the object "checkpoints/<job>/<task>/history/<id>". Pins keep more (history.h). A
// snapshot leaves with the last retained or pinned checkpoint that names it: the
// checkpoint that drops it lists it under `expiring` until its deletion has finished.
//
// One writer per task (fencing). A writer claims the task before it writes: Claim puts
// the version 2 object back with the writer epoch one higher and its own writer id, as a
// compare-and-swap on the object's version. Each later Write of the version 2 object is
// conditional on the version this writer last wrote, so once another writer has claimed
// the task, this one's writes fail their condition: it is fenced, and every later call
// fails with kFenced. A task that has no checkpoint yet gets a claim record (an object
// with the writer fields alone), which readers take as no checkpoint.
//
// Example:
//   ASSIGN_OR_RETURN(auto checkpoints,
//                    CheckpointStore::Open(*store, pool, {}, "job", "task-0"));
//   ASSIGN_OR_RETURN(std::optional<Checkpoint> latest, checkpoints->Claim().Get());
//   Checkpoint c{.id = NewCheckpointId(), .input_offsets = {{"in-0", "42"}}};
//   c.state_markers[std::string(kBlobStoreBackend)]["profile"] = index_blob_id;
//   RETURN_IF_ERROR(checkpoints->Write(c).Get());
//   Result<std::optional<Checkpoint>> latest = checkpoints->ReadLatest().Get();
#ifndef BLOBSTATE_CHECKPOINT_H_
#define BLOBSTATE_CHECKPOINT_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "blobstate/blob_store.h"
#include "blobstate/future.h"
#include "blobstate/history.h"
#include "blobstate/status.h"

// The public API: exported from a shared libblobstate, which hides everything else.
#pragma GCC visibility push(default)

namespace blobstate {

inline constexpr std::string_view kBlobStoreBackend = "blobstore";
// Not a backend: under this key a checkpoint of a writer from before history lists the
// snapshots of stores removed from the configuration that were still to be deleted (store
// -> snapshot index blob id). Never restored; a writer with history takes them as
// expiring, and writes none (its checkpoints list such snapshots in `expiring`).
inline constexpr std::string_view kRemovedStoresKey = "blobstore-removed";
inline constexpr uint32_t kLatestCheckpointVersion = 2;

// Markers of one backend: store name -> marker.
using StoreMarkers = std::map<std::string, std::string>;

// What a commit leaves to delete once it is persisted: the snapshot `index_blob_id` of
// `store` that checkpoint `checkpoint_id` named, or with an empty store and index, the
// history object of `checkpoint_id`. Deleted unless a retained or pinned checkpoint still
// names it.
struct ExpiringSnapshot {
  std::string checkpoint_id;
  std::string store;
  std::string index_blob_id;

  auto operator<=>(const ExpiringSnapshot&) const = default;
};

struct Checkpoint {
  uint32_t version = kLatestCheckpointVersion;
  std::string id;                                     // version 2; empty in version 1
  std::map<std::string, std::string> input_offsets;   // input partition -> offset
  std::map<std::string, StoreMarkers> state_markers;  // backend -> store -> marker (v2)
  // Who wrote it (version 2; CheckpointStore sets them): the epoch of the writer's claim
  // of the task, and the writer's id. 0 and "" in checkpoints from before fencing.
  uint64_t writer_epoch = 0;
  std::string writer_id;
  // History (version 2; empty and false in checkpoints of writers from before history).
  // The ids of the older checkpoints retained, newest first.
  std::vector<std::string> retained;
  // What this checkpoint's commit deletes after persisting it, until that is done.
  std::vector<ExpiringSnapshot> expiring;
  // True if the writer keeps history: every blob the checkpoint names lost its TTL before
  // the checkpoint was persisted, and snapshots are deleted only through `expiring`. False:
  // a writer from before history, whose cleanup after the persist removed the TTLs and
  // deleted the previous snapshot (recovery finishes such a cleanup the old way).
  bool history = false;
  // Set by Claim in the latest object only (version 2): the kept checkpoint the claiming
  // writer opened at, when not this one (a roll back). Its next commit builds on that
  // checkpoint's snapshots, so gc keeps them until that commit replaces this object.
  std::string writer_base;

  bool operator==(const Checkpoint&) const = default;
};

// Checkpoint ids: "<13 decimal digits of Unix milliseconds>-<16 lowercase hex digits>".
// Ids sort by time as strings; within one process they strictly increase, even when the
// clock stands still or steps back (the millisecond part never goes below the last one
// issued). The random part keeps ids of different processes apart.
//
// A new id, greater than every id this process issued before. Thread-safe.
std::string NewCheckpointId();
// Whether `id` has the form above.
bool IsValidCheckpointId(std::string_view id);

// A new writer id, "<host>.<pid>.<16 lowercase hex digits>" (the host name cut to 64
// characters of [A-Za-z0-9-]), so that a fenced writer's error names who took the task.
std::string NewWriterId();
// 1..128 characters of [A-Za-z0-9._-].
bool IsValidWriterId(std::string_view id);
// OK for a job or task name: 1..200 characters of [A-Za-z0-9._-], neither "." nor "..";
// else kInvalidArgument naming `what` ("job" or "task") and the name.
Status CheckJobOrTaskName(std::string_view what, std::string_view name);

// The blob store backend's markers of `checkpoint` (store -> snapshot index blob id), or
// those under `key` (kRemovedStoresKey): empty for no checkpoint, or one without the entry;
// kFailedPrecondition for a version 1 checkpoint, which cannot hold markers;
// kInvalidArgument for a malformed marker, naming the store.
Result<StoreMarkers> BlobStoreMarkers(const std::optional<Checkpoint>& checkpoint,
                                      std::string_view key = kBlobStoreBackend);

// Which checkpoint versions a task writes, and which it reads (in order of preference).
struct CheckpointConfig {
  // Each commit writes one checkpoint object per version listed. Default: {2}.
  std::vector<uint32_t> write_versions = {kLatestCheckpointVersion};
  // ReadLatest returns the latest checkpoint of the first version listed that has one.
  // Default: {2, 1}, so a job upgraded from offsets-only checkpoints resumes from them.
  std::vector<uint32_t> read_versions = {kLatestCheckpointVersion, 1};
};

// kInvalidArgument, naming the setting, if a list is empty, repeats a version, or names a
// version this build does not know.
Status ValidateCheckpointConfig(const CheckpointConfig& config);

// kInvalidArgument unless `config` suits the blob store backend: its markers live only in
// version 2 checkpoints, so version 2 must be written, and read first (a read order that
// preferred version 1 would restore the stores empty while a version 2 checkpoint names
// their snapshots). Checked before a backup or restore starts, so a first deployment
// cannot run with a backend that cannot work.
Status ValidateForBlobStoreBackend(const CheckpointConfig& config);

// The checkpoints of one task. Requests run on the blob store's executor; decoding and
// chaining on `executor`, where the returned futures complete.
class CheckpointStore {
 public:
  // kInvalidArgument for an invalid config (ValidateCheckpointConfig) or a job or task
  // name outside [A-Za-z0-9._-]. `store` and `executor` must outlive this object and its
  // futures.
  static Result<std::unique_ptr<CheckpointStore>> Open(BlobStore& store, Executor& executor,
                                                       CheckpointConfig config, std::string job,
                                                       std::string task);

  // Claims the task for this writer (see above) and returns what ReadLatest would. First
  // checks that the blob store enforces conditional writes, with a put of the object
  // "checkpoints/<job>/<task>/fencing-probe" only if absent (a second one when the first
  // created it), then one only if it has a version it never had: each must fail, else
  // kFailedPrecondition naming the store and the URL parameter fencing=off (a store opened
  // with fencing=off is not probed).
  // A claim that loses a race with another claim reads the object again and claims on
  // top of it, up to kClaimAttempts times (then kAborted). Call it once, before Write.
  // `base`: the id of the kept checkpoint the writer opens at, if it may not be the latest
  // (recorded as writer_base when it is not, so that gc keeps it until the next Write).
  Future<std::optional<Checkpoint>> Claim(std::string base = {});

  // Writes `checkpoint` once per write version, the highest version first, each replacing
  // the latest of its version, with this writer's epoch and id. The version 2 put is
  // conditional on the version this writer last wrote; if its condition fails and the
  // object does not hold this very write (a retry after a lost reply), the writer is
  // fenced: kFenced naming the writer that took the task, now and for every later Write.
  // kFailedPrecondition before a successful Claim. A version 2 write needs a valid id. A
  // version 1 write of a version 2 checkpoint keeps the offsets.
  Future<void> Write(const Checkpoint& checkpoint);
  // OK until a Write found this writer fenced; then that kFenced.
  Status Fenced() const;

  // The latest checkpoint of the first read version that has one; nullopt if none has.
  // One get per read version, all at once; no listing. A checkpoint that does not decode, or
  // holds another version than its name says, is kDataLoss naming it (never silently
  // skipped), as is any error reading a version before the one that has it; versions read
  // after it do not matter. A claim record counts as none.
  Future<std::optional<Checkpoint>> ReadLatest();

  // The latest checkpoint of every version that has one, the highest version first.
  Future<std::vector<Checkpoint>> List();

  // History objects (history.h), of version 2 checkpoints. ReadHistory: kNotFound naming
  // the checkpoint if it has none; kDataLoss if the object holds another checkpoint.
  Future<Checkpoint> ReadHistory(const std::string& id);
  // Writes `checkpoint` (a valid id; its retained and expiring lists are left out) as its
  // history object, replacing one of the same checkpoint.
  Future<void> WriteHistory(const Checkpoint& checkpoint);
  // A missing object counts as deleted.
  Future<void> DeleteHistory(const std::string& id);

  // The task's pins (none if there is no pins object).
  Future<std::vector<Pin>> ReadPins();
  // Replaces the pins with change(current pins), as a compare-and-swap on the pins object,
  // reading and retrying after losing a race (up to kClaimAttempts times, then kAborted).
  // An error of `change` is returned as it is, and nothing is written. Returns the pins
  // written. Any process may call it; it needs no claim.
  using PinChange = std::function<Result<std::vector<Pin>>(std::vector<Pin>)>;
  Future<std::vector<Pin>> UpdatePins(PinChange change);

  const CheckpointConfig& config() const { return config_; }

  static constexpr int kClaimAttempts = 8;

 private:
  struct Writer;
  // The outcome of a conditional put.
  struct Swap {
    std::optional<std::string> version;      // the put happened: the object's new version
    std::optional<VersionedObject> current;  // else the object as it is (nullopt: absent)
  };
  CheckpointStore(BlobStore& store, Executor& executor, CheckpointConfig config,
                  std::string prefix);
  std::string ObjectName(uint32_t version) const;
  std::string HistoryName(const std::string& id) const { return prefix_ + "history/" + id; }
  Future<std::vector<Pin>> UpdatePinsOnce(PinChange change, int attempt);
  // The latest checkpoint of `version`, claim records included; nullopt if there is none.
  Future<std::optional<Checkpoint>> ReadVersion(uint32_t version);
  // kFailedPrecondition unless the blob store enforces conditional puts (see Claim).
  Future<void> ProbeConditions();
  // Puts `bytes` at `name` if `condition` holds. A failed condition is no error: the
  // object is read back, and if it holds `bytes` the put happened after all (its reply
  // was lost).
  Future<Swap> CompareAndSwap(const std::string& name, const std::string& bytes,
                              const ObjectCondition& condition);
  // Claims the task over `current` (the version 2 object as read; nullopt if absent);
  // after losing a race, claims over the winner's claim (attempt + 1).
  // Returns the version 2 checkpoint as claimed.
  Future<Checkpoint> ClaimOver(std::optional<VersionedObject> current, std::string base,
                               int attempt);
  // The conditional put of the version 2 object: `bytes`, replacing what this writer last
  // wrote; fences the writer if another one wrote since. `again`: a second try, after the
  // object turned out to hold an earlier write of this writer whose reply was lost.
  Future<void> WriteFenced(std::string bytes, bool again);

  BlobStore& store_;
  Executor& executor_;
  const CheckpointConfig config_;
  const std::string prefix_;  // "checkpoints/<job>/<task>/"
  const std::shared_ptr<Writer> writer_;
};

}  // namespace blobstate

#pragma GCC visibility pop

#endif  // BLOBSTATE_CHECKPOINT_H_
