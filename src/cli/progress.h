// A progress line on a terminal for long transfers: "\r  uploading  1.2 GiB  (640 MiB/s)",
// redrawn on stderr a few times a second while the object lives. Quiet (no thread, no
// output) when stderr is not a terminal or `enabled` is false.
#ifndef BLOBSTATE_CLI_PROGRESS_H_
#define BLOBSTATE_CLI_PROGRESS_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

namespace blobstate::cli {

class Progress {
 public:
  Progress(std::string label, bool enabled);
  ~Progress() { Stop(); }
  // Stops and erases the line, before the result is printed; later calls do nothing.
  void Stop();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // The counter transfers add their bytes to (BackupOptions::progress, RestoreOptions::progress).
  std::atomic<uint64_t>* counter() { return &bytes_; }

 private:
  void Run();

  const std::string label_;
  std::atomic<uint64_t> bytes_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace blobstate::cli

#endif  // BLOBSTATE_CLI_PROGRESS_H_
