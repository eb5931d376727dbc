#include "commit/commit_history.h"

#include <algorithm>
#include <set>

namespace blobstate {
namespace {

// The snapshots `c` names: its blob store markers, and those of stores listed as removed
// by a writer from before history.
std::vector<std::pair<std::string, std::string>> SnapshotsOf(const Checkpoint& c) {
  std::vector<std::pair<std::string, std::string>> out;
  for (std::string_view key : {kBlobStoreBackend, kRemovedStoresKey}) {
    Result<StoreMarkers> markers = BlobStoreMarkers(c, key);
    if (!markers.ok()) continue;
    out.insert(out.end(), markers->begin(), markers->end());
  }
  return out;
}

bool Contains(const std::vector<std::string>& ids, const std::string& id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

}  // namespace

struct CommitHistory::State {
  State(CheckpointStore& c, BackupManager& b, Executor& e, RetentionPolicy p)
      : checkpoints(c), backup(b), executor(e), policy(p) {}

  CheckpointStore& checkpoints;
  BackupManager& backup;
  Executor& executor;
  const RetentionPolicy policy;

  mutable std::mutex mu;
  std::optional<Checkpoint> head;            // GUARDED_BY(mu): the latest (v2, with an id)
  bool head_has_history = false;             // GUARDED_BY(mu): its history object was written
  std::vector<Checkpoint> window;            // GUARDED_BY(mu): retained besides head, newest first
  std::vector<ExpiringSnapshot> expiring;    // GUARDED_BY(mu): left to delete
  std::vector<std::string> planned;          // GUARDED_BY(mu): Prepare's retained ids
  std::map<std::string, Checkpoint> pinned;  // GUARDED_BY(mu): pinned checkpoints read so far
  std::optional<Checkpoint> base;            // GUARDED_BY(mu): see Load, until Advance

  // Whether `id` is the head or retained. REQUIRES: mu held.
  bool Kept(const std::string& id) const {
    if (head && head->id == id) return true;
    return std::any_of(window.begin(), window.end(),
                       [&](const Checkpoint& c) { return c.id == id; });
  }
  // The pinned checkpoints of `pins` that are not the head or retained, read (once each)
  // from their history objects; a pin without one keeps nothing.
  Future<std::vector<Checkpoint>> ReadPinned(const std::vector<Pin>& pins);
  // Expire with the pins just read and the pinned checkpoints among them (ReadPinned).
  Future<void> ExpireWith(const std::vector<Pin>& pins, const std::vector<Checkpoint>& pinned);
  // Deletes `targets` (with `released`: the checkpoints of released pins, whose snapshots
  // are among the targets) while `live` keeps what a latest, retained or pinned checkpoint
  // names; forgets what is done and drops the released pins done with.
  Future<void> Delete(std::vector<ExpiringSnapshot> targets, LiveSnapshots live,
                      std::set<std::string> pinned_ids, std::set<std::string> released);
};

CommitHistory::CommitHistory(CheckpointStore& checkpoints, BackupManager& backup,
                             Executor& executor, RetentionPolicy policy)
    : state_(std::make_shared<State>(checkpoints, backup, executor, policy)) {}

Future<void> CommitHistory::Load(const std::optional<Checkpoint>& head,
                                 std::optional<Checkpoint> base) {
  if (!head || head->version < 2 || head->id.empty()) return MakeReadyFuture();
  auto st = state_;
  {
    std::lock_guard<std::mutex> lock(st->mu);
    st->head = head;
    st->base = std::move(base);
    st->expiring = head->expiring;
    if (!head->history) {
      // A writer from before history listed the snapshots of removed stores to delete.
      Result<StoreMarkers> removed = BlobStoreMarkers(head, kRemovedStoresKey);
      for (const auto& [store, id] : removed.ok() ? *removed : StoreMarkers{}) {
        st->expiring.push_back({head->id, store, id});
      }
    }
  }
  std::vector<Future<Checkpoint>> reads;
  for (const std::string& id : head->retained) reads.push_back(st->checkpoints.ReadHistory(id));
  return AllSettled(std::move(reads))
      .Then(st->executor, [st](Result<std::vector<Result<Checkpoint>>> read) -> Result<void> {
        std::lock_guard<std::mutex> lock(st->mu);
        for (Result<Checkpoint>& c : *read) {
          if (c.status().code() == StatusCode::kNotFound) continue;  // cannot be restored
          if (!c.ok()) return c.status().WithContext("load of the retained checkpoints");
          st->window.push_back(std::move(*c));
        }
        return {};
      });
}

Future<void> CommitHistory::Prepare(const std::string& next_id,
                                    std::chrono::system_clock::time_point now) {
  auto st = state_;
  std::optional<Checkpoint> write;
  {
    std::lock_guard<std::mutex> lock(st->mu);
    std::vector<std::string> ids = {next_id};
    if (st->head) ids.push_back(st->head->id);
    for (const Checkpoint& c : st->window) ids.push_back(c.id);
    st->planned = RetainedIds(st->policy, ids, now);
    st->planned.erase(st->planned.begin());  // next_id itself (keep_last >= 1)
    if (st->head && !st->head_has_history && Contains(st->planned, st->head->id)) write = st->head;
  }
  if (!write) return MakeReadyFuture();
  return st->checkpoints.WriteHistory(*write).Map(st->executor, [st, id = write->id] {
    std::lock_guard<std::mutex> lock(st->mu);
    if (st->head && st->head->id == id) st->head_has_history = true;
  });
}

void CommitHistory::Plan(Checkpoint& next) {
  std::lock_guard<std::mutex> lock(state_->mu);
  State& st = *state_;
  next.history = true;
  next.retained = st.planned;
  next.expiring = st.expiring;
  std::set<std::string> named;  // snapshots the new head or a retained checkpoint names
  for (const auto& [store, id] : SnapshotsOf(next)) named.insert(id);
  std::vector<const Checkpoint*> leaving;
  auto consider = [&](const Checkpoint& c) {
    if (Contains(st.planned, c.id)) {
      for (const auto& [store, id] : SnapshotsOf(c)) named.insert(id);
    } else {
      leaving.push_back(&c);
    }
  };
  if (st.head) consider(*st.head);
  for (const Checkpoint& c : st.window) consider(c);
  std::set<ExpiringSnapshot> listed(next.expiring.begin(), next.expiring.end());
  auto add = [&](ExpiringSnapshot e) {
    if (listed.insert(e).second) next.expiring.push_back(std::move(e));
  };
  for (const Checkpoint* c : leaving) {
    for (const auto& [store, id] : SnapshotsOf(*c)) {
      if (!named.contains(id)) add({c->id, store, id});
    }
    const bool has_history = !(st.head && c == &*st.head) || st.head_has_history;
    if (has_history) add({c->id, "", ""});
  }
}

void CommitHistory::Advance(const Checkpoint& next) {
  std::lock_guard<std::mutex> lock(state_->mu);
  State& st = *state_;
  std::vector<Checkpoint> window;
  if (st.head && Contains(st.planned, st.head->id)) window.push_back(*st.head);
  for (Checkpoint& c : st.window) {
    if (Contains(st.planned, c.id)) window.push_back(std::move(c));
  }
  st.window = std::move(window);
  st.head = next;
  st.base.reset();
  st.head_has_history = false;
  st.expiring = next.expiring;
}

Future<std::set<std::string>> CommitHistory::PinnedSnapshots() {
  auto st = state_;
  return st->checkpoints.ReadPins()
      .Map(st->executor, [st](std::vector<Pin> pins) { return st->ReadPinned(pins); })
      .Map(st->executor, [st](std::vector<Checkpoint> pinned) {
        std::set<std::string> ids;
        for (const Checkpoint& c : pinned) {
          for (const auto& [store, id] : SnapshotsOf(c)) ids.insert(id);
        }
        return ids;
      });
}

Future<std::vector<Checkpoint>> CommitHistory::State::ReadPinned(const std::vector<Pin>& pins) {
  std::vector<Checkpoint> known;
  std::vector<Future<Checkpoint>> reads;
  {
    std::lock_guard<std::mutex> lock(mu);
    for (const Pin& p : pins) {
      if (p.released || Kept(p.checkpoint_id)) continue;
      auto it = pinned.find(p.checkpoint_id);
      if (it != pinned.end()) {
        known.push_back(it->second);
      } else {
        reads.push_back(checkpoints.ReadHistory(p.checkpoint_id));
      }
    }
  }
  return AllSettled(std::move(reads))
      .Then(executor,
            [this, known](
                Result<std::vector<Result<Checkpoint>>> read) -> Result<std::vector<Checkpoint>> {
              std::vector<Checkpoint> all = known;
              std::lock_guard<std::mutex> lock(mu);
              for (Result<Checkpoint>& c : *read) {
                if (c.status().code() == StatusCode::kNotFound) continue;
                if (!c.ok()) return c.status().WithContext("read of a pinned checkpoint");
                pinned[c->id] = *c;
                all.push_back(std::move(*c));
              }
              return all;
            });
}

Future<void> CommitHistory::Expire() {
  auto st = state_;
  auto pins = std::make_shared<std::vector<Pin>>();
  return st->checkpoints.ReadPins()
      .Map(st->executor,
           [st, pins](std::vector<Pin> read) {
             *pins = std::move(read);
             return st->ReadPinned(*pins);
           })
      .Map(st->executor,
           [st, pins](std::vector<Checkpoint> pinned) { return st->ExpireWith(*pins, pinned); })
      .Then(st->executor, [st](Result<void> r) { return r; });  // `st` lives to the end
}

Future<void> CommitHistory::State::ExpireWith(const std::vector<Pin>& pins,
                                              const std::vector<Checkpoint>& pinned) {
  LiveSnapshots live;
  std::set<std::string> pinned_ids, released_ids;
  std::vector<std::string> to_read;  // released pins of checkpoints no longer kept
  std::vector<ExpiringSnapshot> targets;
  {
    std::lock_guard<std::mutex> lock(mu);
    std::vector<const Checkpoint*> kept;
    if (head) kept.push_back(&*head);
    if (base) kept.push_back(&*base);
    for (const Checkpoint& c : window) kept.push_back(&c);
    for (const Checkpoint& c : pinned) kept.push_back(&c);
    for (const Checkpoint* c : kept) {
      for (const auto& [store, id] : SnapshotsOf(*c)) live[store].insert(id);
    }
    for (const Pin& p : pins) {
      // The base keeps its history object, and its pin even if released, until Advance.
      const bool released = p.released && !(base && base->id == p.checkpoint_id);
      (released ? released_ids : pinned_ids).insert(p.checkpoint_id);
      if (released && !Kept(p.checkpoint_id)) to_read.push_back(p.checkpoint_id);
    }
    if (base) pinned_ids.insert(base->id);
    targets = expiring;
  }
  std::vector<Future<Checkpoint>> reads;
  for (const std::string& id : to_read) reads.push_back(checkpoints.ReadHistory(id));
  return AllSettled(std::move(reads))
      .Map(executor,
           [this, live, pinned_ids, released_ids, targets,
            to_read](std::vector<Result<Checkpoint>> read) mutable -> Future<void> {
             for (size_t i = 0; i < read.size(); ++i) {
               Result<Checkpoint>& c = read[i];
               // Gone: only the pin is left to drop. Unreadable now: the pin stays, for later.
               if (!c.ok() && c.status().code() != StatusCode::kNotFound)
                 released_ids.erase(to_read[i]);
               if (!c.ok()) continue;
               for (const auto& [store, id] : SnapshotsOf(*c))
                 targets.push_back({c->id, store, id});
               targets.push_back({c->id, "", ""});
             }
             return Delete(std::move(targets), std::move(live), std::move(pinned_ids),
                           std::move(released_ids));
           });
}

Future<void> CommitHistory::State::Delete(std::vector<ExpiringSnapshot> targets, LiveSnapshots live,
                                          std::set<std::string> pinned_ids,
                                          std::set<std::string> released) {
  return backup.Expire(targets, live)
      .Map(executor, [this, targets, pinned_ids, released](ExpireOutcome outcome) {
        // A checkpoint's history object goes once its snapshots are done, unless it is pinned.
        std::set<ExpiringSnapshot> done(outcome.done.begin(), outcome.done.end());
        std::set<std::string> unfinished;
        for (const ExpiringSnapshot& t : targets) {
          if (!t.store.empty() && !done.contains(t)) unfinished.insert(t.checkpoint_id);
        }
        std::vector<Future<void>> deletions;
        std::vector<ExpiringSnapshot> history;
        for (const ExpiringSnapshot& t : targets) {
          if (!t.store.empty() || unfinished.contains(t.checkpoint_id)) continue;
          history.push_back(t);
          deletions.push_back(pinned_ids.contains(t.checkpoint_id)
                                  ? MakeReadyFuture()
                                  : checkpoints.DeleteHistory(t.checkpoint_id));
        }
        return AllSettled(std::move(deletions))
            .Map(executor,
                 [this, outcome, done, history, released,
                  unfinished](std::vector<Result<void>> deleted) mutable -> Future<void> {
                   Status error = outcome.error;
                   for (size_t i = 0; i < history.size(); ++i) {
                     if (deleted[i].ok()) done.insert(history[i]);
                     if (!deleted[i].ok() && error.ok()) error = deleted[i].status();
                   }
                   std::set<std::string> drop;  // released pins done with
                   {
                     std::lock_guard<std::mutex> lock(mu);
                     std::erase_if(expiring,
                                   [&done](const ExpiringSnapshot& e) { return done.contains(e); });
                     for (const std::string& id : released) {
                       const bool history_left = std::any_of(
                           history.begin(), history.end(),
                           [&](auto& h) { return h.checkpoint_id == id && !done.contains(h); });
                       if (Kept(id) || (!unfinished.contains(id) && !history_left)) drop.insert(id);
                     }
                   }
                   Future<void> pins_updated =
                       drop.empty()
                           ? MakeReadyFuture()
                           : checkpoints
                                 .UpdatePins(
                                     [drop](std::vector<Pin> pins) -> Result<std::vector<Pin>> {
                                       std::erase_if(pins, [&drop](const Pin& p) {
                                         return p.released && drop.contains(p.checkpoint_id);
                                       });
                                       return pins;
                                     })
                                 .Map(executor, [](std::vector<Pin>) {});
                   return std::move(pins_updated).Map(executor, [error]() -> Result<void> {
                     return error;
                   });
                 });
      });
}

}  // namespace blobstate
