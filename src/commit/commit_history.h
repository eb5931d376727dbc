// The history of a task as its writer keeps it (history.h): the retained checkpoints, what
// commits left to delete, and the pins. Private to the commit engine, which calls it in
// this order: Load once at open (then Expire), and for each commit Prepare (beside the
// upload), Plan (before the persist), Advance and Expire (after it).
//
// Safety. A snapshot is deleted only when no checkpoint that is the latest, retained or
// pinned names it: Expire reads the pins after the persist that let the snapshot go, and
// `blobstate pin` confirms that its checkpoint is still retained after adding its pin, so
// a pin added while a commit drops its checkpoint either fails or is seen by that
// commit's Expire. What a crash interrupts stays listed in the latest checkpoint
// (Checkpoint::expiring), and the next Expire (at the next open or commit) finishes it.
#ifndef BLOBSTATE_COMMIT_COMMIT_HISTORY_H_
#define BLOBSTATE_COMMIT_COMMIT_HISTORY_H_

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "backup/backup_manager.h"
#include "blobstate/checkpoint.h"
#include "blobstate/history.h"

namespace blobstate {

class CommitHistory {
 public:
  // All must outlive this object and its futures.
  CommitHistory(CheckpointStore& checkpoints, BackupManager& backup, Executor& executor,
                RetentionPolicy policy);

  // Loads what `head` (the latest checkpoint, as claimed) retains and left to delete. A
  // retained checkpoint whose history object is missing cannot be restored: it is dropped.
  // `base`: the checkpoint the writer opened at, if not `head` (a roll back), which the
  // first commit builds on: kept as the head is until that commit's Advance.
  Future<void> Load(const std::optional<Checkpoint>& head,
                    std::optional<Checkpoint> base = std::nullopt);

  // Decides, at `now`, which checkpoints stay retained when `next_id` is committed, and
  // writes the head's history object if it stays and has none yet (call beside the upload;
  // `next` may be persisted only after it succeeded).
  Future<void> Prepare(const std::string& next_id, std::chrono::system_clock::time_point now);
  // Sets next.retained, next.expiring and next.history per Prepare's decision; `next`'s
  // markers must be set.
  void Plan(Checkpoint& next);
  // `next` (as Plan set it) is persisted: it is the head from now on.
  void Advance(const Checkpoint& next);
  // Deletes what is expiring and what released pins kept (reading the pins first), then
  // forgets what is done; an error leaves the rest for the next call.
  Future<void> Expire();

  // The snapshot index blob ids of the pinned checkpoints (pins read now).
  Future<std::set<std::string>> PinnedSnapshots();

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace blobstate

#endif  // BLOBSTATE_COMMIT_COMMIT_HISTORY_H_
