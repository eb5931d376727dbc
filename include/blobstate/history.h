// History: the checkpoints a task keeps besides its latest one.
//
// Retention. Each commit applies the task's RetentionPolicy to its new checkpoint and the
// ones it retained before: the latest keep_last are retained, and so is every one newer
// than keep_within. The new checkpoint lists the others' ids (Checkpoint::retained); each
// retained checkpoint is kept whole in its history object
// "checkpoints/<job>/<task>/history/<id>", so that it can be restored like the latest.
//
// Pins (savepoints). The object "checkpoints/<job>/<task>/pins" lists pinned checkpoints:
// a pin keeps its checkpoint (its history object and every blob it names) whatever the
// policy says, until unpinned. Unpinning marks the pin released; the task's writer then
// deletes what no retained checkpoint still names, and drops the pin. The pins object is
// changed only by compare-and-swap (CheckpointStore::UpdatePins), by any process.
//
// Example:
//   RetentionPolicy policy{.keep_last = 3, .keep_within = std::chrono::hours(1)};
//   std::vector<std::string> kept = RetainedIds(policy, ids_newest_first, now);
#ifndef BLOBSTATE_HISTORY_H_
#define BLOBSTATE_HISTORY_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "blobstate/status.h"

// The public API: exported from a shared libblobstate, which hides everything else.
#pragma GCC visibility push(default)

namespace blobstate {

struct RetentionPolicy {
  // The latest checkpoint and the keep_last - 1 before it are retained. At least 1 (the
  // latest alone, no history). Default: 3, so that a task can be rolled back two commits
  // for the cost of what two commits' churn replaced (README, "History").
  int keep_last = 3;
  // Also retained: every checkpoint younger than this (by the time in its id). Zero: none.
  // Default: zero.
  std::chrono::seconds keep_within{0};
};

// The most checkpoints a task retains, whatever its policy (each commit lists their ids).
inline constexpr size_t kMaxRetained = 1000;

// The longest period a policy may name (keep_within, gc's grace): 100 years. Time points
// count nanoseconds, which cannot go back much further than 292 years.
inline constexpr std::chrono::seconds kMaxPolicyPeriod{36500LL * 24 * 3600};

// kInvalidArgument naming the setting: keep_last below 1 or above kMaxRetained, a
// keep_within that is negative or above kMaxPolicyPeriod.
Status ValidateRetentionPolicy(const RetentionPolicy& policy);

// Of `ids` (checkpoint ids, newest first), those that `policy` retains at `now`, in the
// same order: the first keep_last, then those younger than keep_within, at most
// kMaxRetained in all. An id without a valid time counts as old.
std::vector<std::string> RetainedIds(const RetentionPolicy& policy,
                                     std::span<const std::string> ids,
                                     std::chrono::system_clock::time_point now);

// The time in checkpoint id `id` (its Unix milliseconds); nullopt for an invalid id.
std::optional<std::chrono::system_clock::time_point> CheckpointTime(std::string_view id);

struct Pin {
  std::string checkpoint_id;
  std::string name;        // optional; [A-Za-z0-9._-], at most 128 characters
  int64_t created_ms = 0;  // Unix milliseconds
  bool released = false;   // unpinned; the writer deletes what only the pin kept

  bool operator==(const Pin&) const = default;
};

// Whether `name` is acceptable as a pin name: empty, or 1..128 of [A-Za-z0-9._-].
bool IsValidPinName(std::string_view name);

}  // namespace blobstate

#pragma GCC visibility pop

#endif  // BLOBSTATE_HISTORY_H_
