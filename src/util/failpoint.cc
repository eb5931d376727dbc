#include "util/failpoint.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

// Without BLOBSTATE_FAILPOINTS (a release build) Failpoint() is inline and does nothing, and
// nothing here is compiled: no environment variable is read and nothing can be armed.
#if BLOBSTATE_FAILPOINTS

namespace blobstate {
namespace failpoint_internal {

// Constant-initialized, so it is valid before any static constructor runs.
constinit std::atomic<bool> maybe_armed{true};

}  // namespace failpoint_internal

namespace {

constexpr std::string_view kEnvironmentVariable = "BLOBSTATE_FAILPOINTS";

struct Arming {
  FailpointAction action;
  int nth;                // 0: every hit; otherwise the only hit that triggers
  int sleep_ms = 0;       // kSleep
  std::string wait_path;  // kWait
};

struct Entry {
  Arming arming;
  int hits = 0;
};

struct Registry {
  std::mutex mu;
  std::map<std::string, Entry, std::less<>> table;  // GUARDED_BY(mu)
};

// Writes all of `text` to stderr without stdio buffering; errors are ignored because there
// is nowhere left to report them.
void WriteStderr(std::string_view text) {
  while (!text.empty()) {
    ssize_t n = ::write(STDERR_FILENO, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    text.remove_prefix(static_cast<size_t>(n));
  }
}

std::string_view Trim(std::string_view s) {
  constexpr std::string_view kBlank = " \t";
  size_t begin = s.find_first_not_of(kBlank);
  if (begin == std::string_view::npos) return {};
  size_t end = s.find_last_not_of(kBlank);
  return s.substr(begin, end - begin + 1);
}

bool ValidName(std::string_view name) {
  return !name.empty() && name.find_first_of(" \t\r\n\v\f@") == std::string_view::npos;
}

std::optional<int> ParsePositiveInt(std::string_view s) {
  if (s.empty() || s.find_first_not_of("0123456789") != std::string_view::npos) {
    return std::nullopt;
  }
  int value = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || ptr != s.data() + s.size() || value < 1) return std::nullopt;
  return value;
}

// The default `nth` of each action, applied when arming.
int EffectiveNth(FailpointAction action, int nth) {
  if (nth > 0) return nth;
  return action == FailpointAction::kCrash ? 1 : 0;
}

// Parses one trimmed, non-empty entry "name=action[@N]"; nullopt if malformed.
std::optional<std::pair<std::string, Arming>> ParseEntry(std::string_view entry) {
  size_t eq = entry.find('=');
  if (eq == std::string_view::npos) return std::nullopt;
  std::string_view name = entry.substr(0, eq);
  std::string_view action_text = entry.substr(eq + 1);
  int nth = 0;
  if (size_t at = action_text.find('@'); at != std::string_view::npos) {
    std::optional<int> n = ParsePositiveInt(action_text.substr(at + 1));
    if (!n) return std::nullopt;
    nth = *n;
    action_text = action_text.substr(0, at);
  }
  if (!ValidName(name)) return std::nullopt;
  FailpointAction action;
  int sleep_ms = 0;
  std::string wait_path;
  if (action_text == "crash") {
    action = FailpointAction::kCrash;
  } else if (action_text == "error") {
    action = FailpointAction::kError;
  } else if (action_text.starts_with("sleep:")) {
    std::optional<int> ms = ParsePositiveInt(action_text.substr(6));
    if (!ms || *ms > 600'000) return std::nullopt;
    action = FailpointAction::kSleep;
    sleep_ms = *ms;
  } else if (action_text.starts_with("wait:")) {
    wait_path = action_text.substr(5);
    if (!wait_path.starts_with('/') || !ValidName(wait_path)) return std::nullopt;
    action = FailpointAction::kWait;
  } else {
    return std::nullopt;
  }
  return std::pair(std::string(name),
                   Arming{action, EffectiveNth(action, nth), sleep_ms, std::move(wait_path)});
}

// Arms every valid entry of the environment variable into `table` and reports the others.
void LoadFromEnvironment(std::map<std::string, Entry, std::less<>>& table) {
  const char* value = std::getenv(std::string(kEnvironmentVariable).c_str());
  if (value == nullptr) return;
  std::string_view rest = value;
  while (true) {
    size_t comma = rest.find(',');
    std::string_view entry = Trim(rest.substr(0, comma));
    if (!entry.empty()) {
      if (auto parsed = ParseEntry(entry)) {
        table[std::move(parsed->first)] = Entry{parsed->second};
      } else {
        WriteStderr("blobstate: ignoring malformed BLOBSTATE_FAILPOINTS entry '" +
                    std::string(entry) + "'\n");
      }
    }
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
}

// REQUIRES: registry.mu held.
void PublishArmed(const Registry& registry) {
  failpoint_internal::maybe_armed.store(!registry.table.empty(), std::memory_order_relaxed);
}

// The registry, with the environment read into it on first use. Never destroyed, so that
// failpoints stay usable from other threads and static destructors during exit.
Registry& GetRegistry() {
  static Registry* const registry = [] {
    auto* r = new Registry;
    std::lock_guard lock(r->mu);
    LoadFromEnvironment(r->table);
    PublishArmed(*r);
    return r;
  }();
  return *registry;
}

// Blocks until a file exists at `path`, for at most kFailpointMaxWaitSeconds.
Status WaitForFile(std::string_view name, const std::string& path) {
  // Best effort: tells a test that the step is held.
  const int held = ::open((path + ".waiting").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (held >= 0) ::close(held);
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(kFailpointMaxWaitSeconds);
  struct stat st;
  while (::stat(path.c_str(), &st) != 0) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return DeadlineExceededError("failpoint " + std::string(name) + ": no file appeared at " +
                                   path + " within " + std::to_string(kFailpointMaxWaitSeconds) +
                                   " s");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return Status::Ok();
}

[[noreturn]] void Crash(std::string_view name) {
  WriteStderr("blobstate: failpoint " + std::string(name) + ": crash\n");
  // exit_group directly: like a kill, it skips everything a library may hook into _exit
  // (sanitizers report the threads still running there, which is the point here).
  ::syscall(SYS_exit_group, kFailpointExitCode);
  ::_exit(kFailpointExitCode);  // not reached
}

}  // namespace

namespace failpoint_internal {

Status FailpointSlow(std::string_view name) {
  Registry& registry = GetRegistry();
  std::unique_lock lock(registry.mu);
  auto it = registry.table.find(name);
  if (it == registry.table.end()) return Status::Ok();
  Entry& entry = it->second;
  if (entry.hits < INT_MAX) ++entry.hits;
  if (entry.arming.nth != 0 && entry.arming.nth != entry.hits) return Status::Ok();
  if (entry.arming.action == FailpointAction::kError) {
    return UnavailableError("failpoint " + std::string(name));
  }
  const Arming arming = entry.arming;
  lock.unlock();
  if (arming.action == FailpointAction::kSleep) {
    std::this_thread::sleep_for(std::chrono::milliseconds(arming.sleep_ms));
    return Status::Ok();
  }
  if (arming.action == FailpointAction::kWait) return WaitForFile(name, arming.wait_path);
  Crash(name);
}

}  // namespace failpoint_internal

namespace {

// Arms `name` with `arming`, replacing any earlier arming and its hit count.
void Arm(std::string name, Arming arming) {
  Registry& registry = GetRegistry();
  std::lock_guard lock(registry.mu);
  registry.table[std::move(name)] = Entry{std::move(arming)};
  PublishArmed(registry);
}

}  // namespace

void ArmFailpoint(std::string name, FailpointAction action, int nth, int sleep_ms) {
  Arm(std::move(name), Arming{action, EffectiveNth(action, nth), sleep_ms});
}

void ArmFailpointWait(std::string name, std::string path, int nth) {
  Arm(std::move(name), Arming{FailpointAction::kWait, EffectiveNth(FailpointAction::kWait, nth), 0,
                              std::move(path)});
}

void DisarmAllFailpoints() {
  Registry& registry = GetRegistry();
  std::lock_guard lock(registry.mu);
  registry.table.clear();
  PublishArmed(registry);
}

int FailpointHits(std::string_view name) {
  Registry& registry = GetRegistry();
  std::lock_guard lock(registry.mu);
  auto it = registry.table.find(name);
  return it == registry.table.end() ? 0 : it->second.hits;
}

void ReloadFailpointsFromEnvironmentForTesting() {
  Registry& registry = GetRegistry();
  std::lock_guard lock(registry.mu);
  registry.table.clear();
  LoadFromEnvironment(registry.table);
  PublishArmed(registry);
}

}  // namespace blobstate

#endif  // BLOBSTATE_FAILPOINTS
