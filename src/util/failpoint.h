// Failpoints: named stage boundaries where a test or a crash harness can make the process
// fail on purpose, either by returning an error or by ending the process at once.
//
// Code marks a boundary by calling Failpoint(name) and propagating its Status. A failpoint
// does nothing unless armed, and while nothing is armed a call costs one relaxed atomic
// load. Failpoints are armed from the environment (for crash tests that run the real
// binary) or programmatically (for unit tests).
//
// Example:
//   Status UploadIndex(...) {
//     RETURN_IF_ERROR(WriteIndexBlob(...));
//     RETURN_IF_ERROR(Failpoint("upload.after_index"));
//     return WriteSnapshotBlob(...);
//   }
//
//   $ BLOBSTATE_FAILPOINTS='upload.after_index=crash,put.before_blob=error@3' blobstate ...
//
// Environment grammar (BLOBSTATE_FAILPOINTS), read once, on the first call of any function
// below:
//   list   := entry ("," entry)*
//   entry  := name "=" action ["@" N]        surrounding spaces and tabs are ignored
//   action := "crash" | "error" | "sleep:" MS | "wait:" PATH
//   MS     := decimal integer in [1, 600000] (milliseconds)
//   PATH   := an absolute path without ',', '@' or whitespace
//   N      := decimal integer in [1, INT_MAX]
// A name is non-empty and holds no whitespace and no '@'. Empty entries (",,", a trailing
// comma) are skipped silently. Every other entry that does not match is reported once on
// stderr as "blobstate: ignoring malformed BLOBSTATE_FAILPOINTS entry '<entry>'" and
// ignored; the valid entries around it are still armed. When a name appears twice, the
// later entry wins. Bad input never ends the process.
//
// Failpoints exist only in a build with the CMake option BLOBSTATE_FAILPOINTS (on with the
// tests, off by default otherwise): elsewhere Failpoint() always returns OK, the environment
// is never read and the functions that arm are not defined.
//
// Thread-safety: every function here may be called from any thread at any time.
#ifndef BLOBSTATE_UTIL_FAILPOINT_H_
#define BLOBSTATE_UTIL_FAILPOINT_H_

#include <atomic>
#include <string>
#include <string_view>

#include "blobstate/status.h"

namespace blobstate {

// The exit status of a process ended by a `crash` failpoint.
inline constexpr int kFailpointExitCode = 86;

enum class FailpointAction {
  // The process writes "blobstate: failpoint NAME: crash\n" to stderr with one unbuffered
  // write(2) and ends with exit_group(kFailpointExitCode): no destructors, no atexit handlers,
  // no stdio flush, exactly as if it had been killed at that point.
  kCrash,
  // Failpoint() returns kUnavailable "failpoint NAME" (a retriable code, like a transient
  // blob store failure).
  kError,
  // Failpoint() blocks the calling thread for the arming's sleep, then returns OK: a step
  // that stalls for a while.
  kSleep,
  // Failpoint() creates an empty file at the arming's path + ".waiting" (best effort: what
  // tells a test the step is held), blocks the calling thread until a file exists at the
  // arming's path, then returns OK; kDeadlineExceeded naming the path if none appears
  // within kFailpointMaxWaitSeconds.
  // A step held until a test (or another process) lets it go on, whatever the machine's
  // load: how tests make two writers overlap.
  kWait,
};

// The longest a kWait failpoint holds a step.
inline constexpr int kFailpointMaxWaitSeconds = 600;

namespace failpoint_internal {
// False only when the environment has been read and no failpoint is armed. It starts true
// so that the first call takes the slow path, which reads the environment.
extern std::atomic<bool> maybe_armed;
Status FailpointSlow(std::string_view name);
}  // namespace failpoint_internal

// Passes the stage boundary `name`.
// Returns OK if `name` is not armed, or is armed but this hit is not the one that triggers.
// Returns kUnavailable "failpoint NAME" if an armed `error` action triggers.
// Blocks if an armed `sleep` or `wait` action triggers (see FailpointAction).
// Does not return if an armed `crash` action triggers (see FailpointAction::kCrash).
// Every call on an armed name counts as one hit of it (see FailpointHits), whether or not
// it triggers. Arming done by another thread is seen by calls that happen after it.
inline Status Failpoint(std::string_view name) {
#if BLOBSTATE_FAILPOINTS
  if (!failpoint_internal::maybe_armed.load(std::memory_order_relaxed)) [[likely]] {
    return Status::Ok();
  }
  return failpoint_internal::FailpointSlow(name);
#else
  return Status::Ok();
#endif
}

// Arms `name` with `action`, replacing any earlier arming of `name` and resetting its hit
// count to 0. `nth` >= 1 triggers on the nth hit only (1-based, counted from this call);
// `nth` == 0 means the default: every hit for kError and kSleep, the first hit only for
// kCrash. `sleep_ms`: how long kSleep blocks. REQUIRES: nth >= 0 (a negative value is
// treated as 0); action is not kWait (see ArmFailpointWait).
void ArmFailpoint(std::string name, FailpointAction action, int nth = 0, int sleep_ms = 0);

// Arms `name` with kWait on `path` (absolute), as ArmFailpoint does with its `nth`.
void ArmFailpointWait(std::string name, std::string path, int nth = 0);

// Disarms every failpoint, including those armed from the environment, and forgets all hit
// counts. The environment is not read again (except by the testing hook below).
void DisarmAllFailpoints();

// The number of times Failpoint(name) has been called since `name` was last armed; 0 if
// `name` is not armed. Hits are counted only while a name is armed. Saturates at INT_MAX.
int FailpointHits(std::string_view name);

// Tests only: disarms everything, then reads BLOBSTATE_FAILPOINTS again (as it is now, e.g.
// after setenv) and arms its entries, reporting malformed ones as described above.
void ReloadFailpointsFromEnvironmentForTesting();

}  // namespace blobstate

#endif  // BLOBSTATE_UTIL_FAILPOINT_H_
