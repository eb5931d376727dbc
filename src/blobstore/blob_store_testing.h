// Test helpers for blob stores: sources and sinks that record what happens to them, fail
// on cue, or note which thread calls them. Header only; for tests, not the library.
#ifndef BLOBSTATE_BLOBSTORE_BLOB_STORE_TESTING_H_
#define BLOBSTATE_BLOBSTORE_BLOB_STORE_TESTING_H_

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "blobstate/blob_store.h"
#include "blobstate/future.h"

namespace blobstate::testing {

using namespace std::chrono_literals;

// How long a test waits for any future: generous, so that a bug fails instead of hanging.
inline constexpr auto kWait = 60s;

// A blob store that forwards every call to `inner` but ReadRange (kUnimplemented, so that
// ranged reads go through GetRange): the base of test decorators, which override what they
// watch or change.
class ForwardingBlobStore : public BlobStore {
 public:
  explicit ForwardingBlobStore(BlobStore& inner) : inner_(inner) {}
  Future<std::string> Put(SourceFactory s, const BlobMetadata& m) override {
    return inner_.Put(std::move(s), m);
  }
  Future<void> Get(const std::string& id, SinkFactory s) override {
    return inner_.Get(id, std::move(s));
  }
  Future<void> GetRange(const std::string& id, uint64_t offset, uint64_t length,
                        SinkFactory s) override {
    return inner_.GetRange(id, offset, length, std::move(s));
  }
  Future<void> Delete(const std::string& id) override { return inner_.Delete(id); }
  Future<void> RemoveTtl(const std::string& id) override { return inner_.RemoveTtl(id); }
  Future<void> Flush() override { return inner_.Flush(); }
  Future<std::optional<std::chrono::system_clock::time_point>> ExpiryOf(
      const std::string& id) override {
    return inner_.ExpiryOf(id);
  }
  Future<BlobPage> ListBlobs(const std::string& prefix, const std::string& token) override {
    return inner_.ListBlobs(prefix, token);
  }
  Future<void> DeleteExpired(const std::string& id,
                             std::chrono::system_clock::time_point now) override {
    return inner_.DeleteExpired(id, now);
  }
  Future<std::string> PutObject(const std::string& name, std::string data,
                                const ObjectCondition& c) override {
    return inner_.PutObject(name, std::move(data), c);
  }
  Future<VersionedObject> GetObject(const std::string& name) override {
    return inner_.GetObject(name);
  }
  Future<void> DeleteObject(const std::string& name) override { return inner_.DeleteObject(name); }
  Future<std::vector<std::string>> ListObjects(const std::string& prefix) override {
    return inner_.ListObjects(prefix);
  }
  std::string Describe() const override { return inner_.Describe(); }
  bool FencingOff() const override { return inner_.FencingOff(); }
  std::string LocalDirectory() const override { return inner_.LocalDirectory(); }

 protected:
  BlobStore& inner_;
};

// The ids of the blobs of `store` whose TTL expires before `t`, sorted: every page of
// ListBlobs, with ExpiryOf where the listing omits TTLs (S3). What the old ListExpired
// returned; tests use it to see which blobs still have a TTL.
inline Result<std::vector<std::string>> ExpiringBefore(BlobStore& store,
                                                       std::chrono::system_clock::time_point t) {
  std::vector<std::string> out;
  std::string token;
  do {
    Result<BlobPage> page = store.ListBlobs("", token).GetFor(kWait, "listing");
    if (!page.ok()) return page.status();
    for (const BlobInfo& b : page->blobs) {
      std::optional<std::chrono::system_clock::time_point> expires = b.expires;
      if (!b.ttl_listed) {
        auto e = store.ExpiryOf(b.id).GetFor(kWait, "expiry");
        if (e.status().code() == StatusCode::kNotFound) continue;
        if (!e.ok()) return e.status();
        expires = *e;
      }
      if (expires && *expires < t) out.push_back(b.id);
    }
    token = page->next;
  } while (!token.empty());
  std::sort(out.begin(), out.end());
  return out;
}

// What the sources of a ScriptedSourceFactory did, shared across attempts. Thread-safe.
struct SourceLog {
  std::atomic<int> opened{0};      // factory calls
  std::atomic<uint64_t> bytes{0};  // bytes yielded, all sources together
  std::mutex mu;
  std::vector<std::string> threads;  // GUARDED_BY(mu): CurrentExecutorName() per Read
};

// Yields `data` (claiming size `claimed_size`), at most `max_read` bytes per Read, and
// fails with `error` once `fail_after` bytes were yielded (never if error is OK).
class ScriptedSource final : public BlobSource {
 public:
  struct Options {
    uint64_t claimed_size;
    size_t max_read = SIZE_MAX;
    uint64_t fail_after = UINT64_MAX;
    Status error;
  };
  ScriptedSource(std::shared_ptr<const std::string> data, Options options,
                 std::shared_ptr<SourceLog> log)
      : data_(std::move(data)), options_(options), log_(std::move(log)) {}
  uint64_t size() const override { return options_.claimed_size; }
  Result<size_t> Read(char* buf, size_t n) override {
    {
      std::lock_guard<std::mutex> lock(log_->mu);
      log_->threads.emplace_back(CurrentExecutorName());
    }
    if (!options_.error.ok() && pos_ >= options_.fail_after) return options_.error;
    size_t k = std::min({n, options_.max_read, data_->size() - pos_});
    if (!options_.error.ok()) k = std::min<uint64_t>(k, options_.fail_after - pos_);
    std::memcpy(buf, data_->data() + pos_, k);
    pos_ += k;
    log_->bytes += k;
    return k;
  }

 private:
  std::shared_ptr<const std::string> data_;
  const Options options_;
  std::shared_ptr<SourceLog> log_;
  size_t pos_ = 0;
};

// A factory of ScriptedSources over `data`; options.claimed_size defaults to data's size.
inline SourceFactory ScriptedSourceFactory(std::string data, std::shared_ptr<SourceLog> log,
                                           ScriptedSource::Options options = {
                                               .claimed_size = UINT64_MAX}) {
  if (options.claimed_size == UINT64_MAX) options.claimed_size = data.size();
  auto shared = std::make_shared<const std::string>(std::move(data));
  return [shared, log, options]() -> Result<std::unique_ptr<BlobSource>> {
    ++log->opened;
    return std::unique_ptr<BlobSource>(std::make_unique<ScriptedSource>(shared, options, log));
  };
}

// What the sinks of a RecordingSinkFactory received. Thread-safe.
struct SinkLog {
  std::mutex mu;
  int opened = 0;                    // GUARDED_BY(mu): factory calls
  std::vector<std::string> data;     // GUARDED_BY(mu): per sink, the bytes written
  std::vector<bool> finished;        // GUARDED_BY(mu): per sink, whether Finish was called
  std::vector<std::string> threads;  // GUARDED_BY(mu): CurrentExecutorName() per call
};

// Records into a SinkLog; Write fails with `error` once `fail_after` bytes arrived (never
// if error is OK).
class RecordingSink final : public BlobSink {
 public:
  RecordingSink(std::shared_ptr<SinkLog> log, size_t index, uint64_t fail_after, Status error)
      : log_(std::move(log)), index_(index), fail_after_(fail_after), error_(std::move(error)) {}
  Status Write(const char* data, size_t n) override {
    std::lock_guard<std::mutex> lock(log_->mu);
    log_->threads.emplace_back(CurrentExecutorName());
    std::string& got = log_->data[index_];
    if (!error_.ok() && got.size() + n > fail_after_) {
      got.append(data, fail_after_ - got.size());
      return error_;
    }
    got.append(data, n);
    return Status::Ok();
  }
  Status Finish() override {
    std::lock_guard<std::mutex> lock(log_->mu);
    log_->threads.emplace_back(CurrentExecutorName());
    log_->finished[index_] = true;
    return Status::Ok();
  }

 private:
  std::shared_ptr<SinkLog> log_;
  const size_t index_;
  const uint64_t fail_after_;
  const Status error_;
};

inline SinkFactory RecordingSinkFactory(std::shared_ptr<SinkLog> log,
                                        uint64_t fail_after = UINT64_MAX,
                                        Status error = Status::Ok()) {
  return [log, fail_after, error]() -> Result<std::unique_ptr<BlobSink>> {
    std::lock_guard<std::mutex> lock(log->mu);
    size_t index = log->opened++;
    log->data.emplace_back();
    log->finished.push_back(false);
    return std::unique_ptr<BlobSink>(
        std::make_unique<RecordingSink>(log, index, fail_after, error));
  };
}

}  // namespace blobstate::testing

#endif  // BLOBSTATE_BLOBSTORE_BLOB_STORE_TESTING_H_
