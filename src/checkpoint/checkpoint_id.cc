#include <chrono>
#include <cstdio>
#include <mutex>

#include "blobstate/checkpoint.h"
#include "util/random.h"

namespace blobstate {
namespace {
constexpr size_t kMillisDigits = 13;
constexpr size_t kHexDigits = 16;
}  // namespace

std::string NewCheckpointId() {
  static std::mutex mu;
  static int64_t last_millis = 0;
  int64_t millis = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  {
    std::lock_guard<std::mutex> lock(mu);
    if (millis <= last_millis) millis = last_millis + 1;
    last_millis = millis;
  }
  char prefix[24];  // 13 digits last until the year 2286; room for any int64 anyway
  std::snprintf(prefix, sizeof prefix, "%013lld-", static_cast<long long>(millis));
  return prefix + RandomHex(kHexDigits / 2);
}

bool IsValidCheckpointId(std::string_view id) {
  if (id.size() != kMillisDigits + 1 + kHexDigits || id[kMillisDigits] != '-') return false;
  for (size_t i = 0; i < id.size(); ++i) {
    const char c = id[i];
    if (i < kMillisDigits) {
      if (c < '0' || c > '9') return false;
    } else if (i > kMillisDigits) {
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
  }
  return true;
}

}  // namespace blobstate
