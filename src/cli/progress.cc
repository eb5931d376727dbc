#include "cli/progress.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>

#include "cli/output.h"

namespace blobstate::cli {

Progress::Progress(std::string label, bool enabled) : label_(std::move(label)) {
  if (enabled && ::isatty(STDERR_FILENO)) thread_ = std::thread([this] { Run(); });
}

void Progress::Stop() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
  std::fputs("\r\033[K", stderr);  // erase the line
}

void Progress::Run() {
  const auto start = std::chrono::steady_clock::now();
  std::unique_lock<std::mutex> lock(mu_);
  while (!cv_.wait_for(lock, std::chrono::milliseconds(250), [this] { return stop_; })) {
    const uint64_t bytes = bytes_.load(std::memory_order_relaxed);
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::fprintf(stderr, "\r\033[K  %s  %s  (%s/s)", label_.c_str(), HumanBytes(bytes).c_str(),
                 HumanBytes(static_cast<uint64_t>(bytes / (secs > 0 ? secs : 1))).c_str());
    std::fflush(stderr);
  }
}

}  // namespace blobstate::cli
