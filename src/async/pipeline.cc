#include "async/pipeline.h"

#include <memory>
#include <mutex>

namespace blobstate {
namespace {

// One Pump runs at a time; a call while one runs makes it go round once more.
class PipelineState : public std::enable_shared_from_this<PipelineState> {
 public:
  PipelineState(Executor& executor, size_t window, PipelineProducer next)
      : executor_(executor), window_(window == 0 ? 1 : window), next_(std::move(next)) {}

  Future<void> Start() {
    Future<void> out = promise_.GetFuture();
    executor_.Execute([self = shared_from_this()] { self->Pump(); });
    return out;
  }

 private:
  void Pump() {
    std::unique_lock<std::mutex> lock(mu_);
    if (pumping_) {
      again_ = true;
      return;
    }
    pumping_ = true;
    do {
      again_ = false;
      while (error_.ok() && !exhausted_ && in_flight_ < window_) {
        lock.unlock();
        Result<std::optional<Future<void>>> work = next_();
        lock.lock();
        if (!work.ok()) {
          error_ = work.status();
        } else if (!*work) {
          exhausted_ = true;
        } else {
          ++in_flight_;
          lock.unlock();
          std::move(**work).Subscribe(
              [self = shared_from_this()](Result<void> r) { self->Ended(r.status()); });
          lock.lock();
        }
      }
    } while (again_);
    pumping_ = false;
    const bool done = !finished_ && in_flight_ == 0 && (exhausted_ || !error_.ok());
    finished_ = finished_ || done;
    lock.unlock();
    if (done) promise_.Set(error_.ok() ? Result<void>() : Result<void>(error_));
  }

  void Ended(const Status& s) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      --in_flight_;
      if (!s.ok() && error_.ok()) error_ = s;
    }
    executor_.Execute([self = shared_from_this()] { self->Pump(); });
  }

  Executor& executor_;
  const size_t window_;
  const PipelineProducer next_;
  Promise<void> promise_;
  std::mutex mu_;
  size_t in_flight_ = 0;    // GUARDED_BY(mu_)
  bool pumping_ = false;    // GUARDED_BY(mu_)
  bool again_ = false;      // GUARDED_BY(mu_)
  bool exhausted_ = false;  // GUARDED_BY(mu_)
  bool finished_ = false;   // GUARDED_BY(mu_)
  Status error_;            // GUARDED_BY(mu_)
};

}  // namespace

Future<void> Pipeline(Executor& executor, size_t window, PipelineProducer next) {
  return std::make_shared<PipelineState>(executor, window, std::move(next))->Start();
}

}  // namespace blobstate
