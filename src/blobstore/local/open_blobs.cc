#include "blobstore/local/open_blobs.h"

#include <sys/resource.h>

#include <algorithm>

namespace blobstate::local_internal {

size_t OpenBlobs::DefaultCapacity() {
  constexpr size_t kMin = 32;
  constexpr size_t kMax = 4096;
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return kMax;
  return std::clamp<size_t>(static_cast<size_t>(limit.rlim_cur / 8), kMin, kMax);
}

Result<std::shared_ptr<OpenedBlob>> OpenBlobs::Open(const std::string& id) {
  uint64_t forgets;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = by_id_.find(id); it != by_id_.end()) {
      recent_.splice(recent_.begin(), recent_, it->second);
      return it->second->second;
    }
    forgets = forgets_;
  }
  ASSIGN_OR_RETURN(OpenedBlob opened, OpenBlob(*layout_, id));  // not under mu_: I/O
  auto blob = std::make_shared<OpenedBlob>(std::move(opened));
  std::lock_guard<std::mutex> lock(mu_);
  // A Forget since the open may be of this blob, deleted after it was opened: keep none.
  if (forgets != forgets_ || by_id_.contains(id)) return blob;
  recent_.emplace_front(id, blob);
  by_id_[id] = recent_.begin();
  if (recent_.size() > capacity_) {
    by_id_.erase(recent_.back().first);
    recent_.pop_back();  // closed once the last read of it ends
  }
  return blob;
}

void OpenBlobs::Forget(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  ++forgets_;
  if (auto it = by_id_.find(id); it != by_id_.end()) {
    recent_.erase(it->second);
    by_id_.erase(it);
  }
}

size_t OpenBlobs::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return recent_.size();
}

}  // namespace blobstate::local_internal
