// Test helpers: a temporary directory and file trees written and compared by content.
#ifndef BLOBSTATE_TESTS_TESTING_TEMP_DIR_H_
#define BLOBSTATE_TESTS_TESTING_TEMP_DIR_H_

#include <stdlib.h>
#include <sys/stat.h>

#include <chrono>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <utility>

#include "util/fs.h"

namespace blobstate::testing {

// Checks `done` every 10 ms until it holds or `timeout` has passed; returns whether it held.
inline bool WaitFor(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

// A directory under /tmp, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/blobstate-test-XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() { RemoveAll(path_).IgnoreError(); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& rel) const { return JoinPath(path_, rel); }

 private:
  std::string path_;
};

// The file that a `wait:` failpoint holds a step for (docs/failpoints.md): the step goes on
// once Release() creates it, at the latest when this is destroyed, so that a test that ends
// early leaves no thread or process held.
class FailpointGate {
 public:
  explicit FailpointGate(std::string path) : path_(std::move(path)) {}
  ~FailpointGate() { Release(); }
  FailpointGate(const FailpointGate&) = delete;
  FailpointGate& operator=(const FailpointGate&) = delete;
  const std::string& path() const { return path_; }
  // The failpoint action that waits for this gate: "wait:<path>".
  std::string Action() const { return "wait:" + path_; }
  void Release() { WriteFileAtomic(path_, "").IgnoreError(); }
  // Whether a step waits (or waited) for this gate: its failpoint marks it (failpoint.h).
  bool Held() const { return PathExists(path_ + ".waiting"); }

 private:
  const std::string path_;
};

// A tree: relative path -> content; a path ending in '/' is a directory.
using Tree = std::map<std::string, std::string>;

// Writes `tree` under `root`, creating directories as needed.
Status WriteTree(const std::string& root, const Tree& tree);

// Reads the tree under `root` (contents of every file, every directory as "path/").
Result<Tree> ReadTree(const std::string& root);

// The ids of every blob of the file:// blob store in `store_dir`, with a TTL (pending/) or
// without (blobs/). Fails the test on a read error.
std::set<std::string> FileStoreBlobIds(const std::string& store_dir);

// A per-file summary of mode and mtime, for checking that a restore kept them.
Result<std::map<std::string, std::pair<mode_t, int64_t>>> ReadModes(const std::string& root);

// `n` bytes of deterministic pseudo-random data from `seed`.
std::string RandomBytes(size_t n, uint32_t seed);

}  // namespace blobstate::testing

#endif  // BLOBSTATE_TESTS_TESTING_TEMP_DIR_H_
