// A test decorator that holds every request until the test opens the gate, and records on
// which executor the blob store ran each source and sink factory.
#ifndef BLOBSTATE_TESTS_TESTING_GATED_BLOB_STORE_H_
#define BLOBSTATE_TESTS_TESTING_GATED_BLOB_STORE_H_

#include <chrono>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "blobstate/blob_store.h"
#include "blobstate/task.h"

namespace blobstate::testing {

class GatedBlobStore final : public BlobStore {
 public:
  // `inner` must outlive this.
  explicit GatedBlobStore(BlobStore& inner) : inner_(inner) {}
  ~GatedBlobStore() override { Open(); }

  // Lets every held and future request through.
  void Open() {
    std::vector<Promise<void>> held;
    {
      std::lock_guard<std::mutex> lock(mu_);
      open_ = true;
      held.swap(held_);
    }
    for (auto& p : held) p.Set(Result<void>());
  }

  // Fails every held request with kUnavailable, without reaching the inner store; later
  // requests are held. Ends a chain of requests that nobody waits for any more.
  void FailHeld() {
    std::vector<Promise<void>> held;
    {
      std::lock_guard<std::mutex> lock(mu_);
      held.swap(held_);
    }
    for (auto& p : held) p.Set(UnavailableError("failed at the gate"));
  }

  // Holds every later request again (those already let through go on).
  void Close() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = false;
  }

  // How many requests are waiting at the gate.
  size_t held() {
    std::lock_guard<std::mutex> lock(mu_);
    return held_.size();
  }

  // The names of the executors that ran source or sink factories.
  std::set<std::string> factory_executors() {
    std::lock_guard<std::mutex> lock(mu_);
    return factory_executors_;
  }

  Future<std::string> Put(SourceFactory source, const BlobMetadata& metadata) override {
    SourceFactory recorded = [this, source]() {
      Record();
      return source();
    };
    return Gate().Chain<std::string>(
        [this, recorded, metadata] { return inner_.Put(recorded, metadata); });
  }
  Future<void> Get(const std::string& id, SinkFactory sink) override {
    SinkFactory recorded = [this, sink]() {
      Record();
      return sink();
    };
    return Gate().Chain<void>([this, id, recorded] { return inner_.Get(id, recorded); });
  }
  Future<void> GetRange(const std::string& id, uint64_t offset, uint64_t length,
                        SinkFactory sink) override {
    SinkFactory recorded = [this, sink]() {
      Record();
      return sink();
    };
    return Gate().Chain<void>([this, id, offset, length, recorded] {
      return inner_.GetRange(id, offset, length, recorded);
    });
  }
  Future<void> Delete(const std::string& id) override {
    return Gate().Chain<void>([this, id] { return inner_.Delete(id); });
  }
  Future<void> RemoveTtl(const std::string& id) override {
    return Gate().Chain<void>([this, id] { return inner_.RemoveTtl(id); });
  }
  Future<BlobPage> ListBlobs(const std::string& prefix, const std::string& token) override {
    return inner_.ListBlobs(prefix, token);
  }
  Future<void> DeleteExpired(const std::string& id,
                             std::chrono::system_clock::time_point now) override {
    return Gate().Chain<void>([this, id, now] { return inner_.DeleteExpired(id, now); });
  }
  Future<std::optional<std::chrono::system_clock::time_point>> ExpiryOf(
      const std::string& id) override {
    using T = std::optional<std::chrono::system_clock::time_point>;
    return Gate().Chain<T>([this, id] { return inner_.ExpiryOf(id); });
  }
  Future<void> Flush() override {
    return Gate().Chain<void>([this] { return inner_.Flush(); });
  }
  Future<std::string> PutObject(const std::string& name, std::string data,
                                const ObjectCondition& condition) override {
    return Gate().Chain<std::string>([this, name, data = std::move(data), condition] {
      return inner_.PutObject(name, data, condition);
    });
  }
  Future<VersionedObject> GetObject(const std::string& name) override {
    return Gate().Chain<VersionedObject>([this, name] { return inner_.GetObject(name); });
  }
  Future<void> DeleteObject(const std::string& name) override {
    return Gate().Chain<void>([this, name] { return inner_.DeleteObject(name); });
  }
  Future<std::vector<std::string>> ListObjects(const std::string& prefix) override {
    return Gate().Chain<std::vector<std::string>>(
        [this, prefix] { return inner_.ListObjects(prefix); });
  }
  std::string Describe() const override { return "gated " + inner_.Describe(); }
  bool FencingOff() const override { return inner_.FencingOff(); }
  std::string LocalDirectory() const override { return inner_.LocalDirectory(); }

 private:
  // A future that completes when the gate opens, with a helper to chain the real request.
  struct Waiter {
    Future<void> opened;
    template <typename T, typename F>
    Future<T> Chain(F start) {
      Promise<T> p;
      Future<T> out = p.GetFuture();
      std::move(opened).Subscribe([start, p = std::move(p)](Result<void> gate) mutable {
        if (!gate.ok()) return p.Set(gate.status());
        start().Subscribe([p = std::move(p)](Result<T> r) mutable { p.Set(std::move(r)); });
      });
      return out;
    }
  };

  Waiter Gate() {
    std::lock_guard<std::mutex> lock(mu_);
    if (open_) return Waiter{MakeReadyFuture()};
    held_.emplace_back();
    return Waiter{held_.back().GetFuture()};
  }

  void Record() {
    std::lock_guard<std::mutex> lock(mu_);
    factory_executors_.insert(std::string(CurrentExecutorName()));
  }

  BlobStore& inner_;
  std::mutex mu_;
  bool open_ = false;                        // GUARDED_BY(mu_)
  std::vector<Promise<void>> held_;          // GUARDED_BY(mu_)
  std::set<std::string> factory_executors_;  // GUARDED_BY(mu_)
};

// Closes `task`, whose last commit a gate held, asking again while that commit is still
// under way (kDeadlineExceeded after its commit_timeout) for at most `wait`.
inline Status CloseOnceCommitted(TaskCommitter& task,
                                 std::chrono::seconds wait = std::chrono::seconds(120)) {
  const auto deadline = std::chrono::steady_clock::now() + wait;
  Status s = task.Close();
  while (s.code() == StatusCode::kDeadlineExceeded && std::chrono::steady_clock::now() < deadline) {
    s = task.Close();
  }
  return s;
}

}  // namespace blobstate::testing

#endif  // BLOBSTATE_TESTS_TESTING_GATED_BLOB_STORE_H_
