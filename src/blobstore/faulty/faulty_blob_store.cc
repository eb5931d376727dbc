#include "blobstore/faulty/faulty_blob_store.h"

#include <algorithm>
#include <thread>

namespace blobstate {
namespace {

using Fault = FaultyBlobStore::Fault;

// Yields at most `limit` bytes of `inner`, then fails with `error`, even where `inner`
// would have ended: the put must fail.
class PartialSource final : public BlobSource {
 public:
  PartialSource(std::unique_ptr<BlobSource> inner, uint64_t limit, Status error)
      : inner_(std::move(inner)), limit_(limit), error_(std::move(error)) {}
  uint64_t size() const override { return inner_->size(); }
  Result<size_t> Read(char* buf, size_t n) override {
    if (pos_ >= limit_) return error_;
    ASSIGN_OR_RETURN(size_t got, inner_->Read(buf, std::min<uint64_t>(n, limit_ - pos_)));
    if (got == 0) return error_;
    pos_ += got;
    return got;
  }

 private:
  std::unique_ptr<BlobSource> inner_;
  const uint64_t limit_;
  const Status error_;
  uint64_t pos_ = 0;
};

// Passes at most `limit` bytes to `inner`, then fails with `error`; never finishes it.
class PartialSink final : public BlobSink {
 public:
  PartialSink(std::unique_ptr<BlobSink> inner, uint64_t limit, Status error)
      : inner_(std::move(inner)), limit_(limit), error_(std::move(error)) {}
  Status Write(const char* data, size_t n) override {
    size_t k = static_cast<size_t>(std::min<uint64_t>(n, limit_ - pos_));
    if (k > 0) RETURN_IF_ERROR(inner_->Write(data, k));
    pos_ += k;
    return k < n ? error_ : Status::Ok();
  }
  void ExpectSize(uint64_t bytes) override { inner_->ExpectSize(bytes); }
  Status Finish() override { return error_; }

 private:
  std::unique_ptr<BlobSink> inner_;
  const uint64_t limit_;
  const Status error_;
  uint64_t pos_ = 0;
};

SourceFactory PartialSourceFactory(SourceFactory factory, const Fault& fault) {
  return [factory = std::move(factory), fault]() -> Result<std::unique_ptr<BlobSource>> {
    ASSIGN_OR_RETURN(std::unique_ptr<BlobSource> source, factory());
    return std::unique_ptr<BlobSource>(
        std::make_unique<PartialSource>(std::move(source), fault.bytes, fault.error));
  };
}

SinkFactory PartialSinkFactory(SinkFactory factory, const Fault& fault) {
  return [factory = std::move(factory), fault]() -> Result<std::unique_ptr<BlobSink>> {
    ASSIGN_OR_RETURN(std::unique_ptr<BlobSink> sink, factory());
    return std::unique_ptr<BlobSink>(
        std::make_unique<PartialSink>(std::move(sink), fault.bytes, fault.error));
  };
}

bool IsPartial(const std::optional<Fault>& fault) {
  return fault && fault->kind == Fault::Kind::kPartialTransfer;
}

}  // namespace

Fault Fault::SyncError(Status error) { return {.kind = Kind::kSyncError, .error = error}; }

Fault Fault::AsyncError(Status error) { return {.kind = Kind::kAsyncError, .error = error}; }

Fault Fault::Delay(std::chrono::milliseconds delay) {
  return {.kind = Kind::kDelay, .delay = delay};
}

Fault Fault::PartialTransfer(uint64_t bytes, Status error) {
  return {.kind = Kind::kPartialTransfer, .error = error, .bytes = bytes};
}

FaultyBlobStore::FaultyBlobStore(std::unique_ptr<BlobStore> inner, size_t threads)
    : inner_(std::move(inner)), pool_("blobstore-faulty", threads) {}

FaultyBlobStore::~FaultyBlobStore() { gate_.Wait(); }

void FaultyBlobStore::Script(Method method, int call, Fault fault) {
  std::lock_guard<std::mutex> lock(mu_);
  scripted_.insert_or_assign({method, call}, std::move(fault));
}

void FaultyBlobStore::ScriptAll(Method method, Fault fault) {
  std::lock_guard<std::mutex> lock(mu_);
  scripted_all_.insert_or_assign(method, std::move(fault));
}

void FaultyBlobStore::ClearScripts() {
  std::lock_guard<std::mutex> lock(mu_);
  scripted_.clear();
  scripted_all_.clear();
}

int FaultyBlobStore::calls(Method method) const {
  return calls_[static_cast<size_t>(method)].load();
}

std::optional<Fault> FaultyBlobStore::NextFault(Method method) {
  int call = ++calls_[static_cast<size_t>(method)];
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = scripted_.find({method, call}); it != scripted_.end()) return it->second;
  if (auto it = scripted_all_.find(method); it != scripted_all_.end()) return it->second;
  return std::nullopt;
}

template <typename T>
Future<T> FaultyBlobStore::Apply(std::optional<Fault> fault, UniqueFunction<Future<T>()> forward) {
  if (fault && fault->kind == Fault::Kind::kSyncError) return MakeReadyFuture<T>(fault->error);
  Promise<T> promise;
  Future<T> out = promise.GetFuture();
  gate_.Enter();
  UniqueFunction<void(Result<T>)> done = [this, promise = std::move(promise)](Result<T> r) mutable {
    promise.Set(std::move(r));
    gate_.Leave();  // last: the destructor may proceed from here on
  };
  if (!fault) {
    forward().Subscribe(std::move(done));
  } else if (fault->kind == Fault::Kind::kDelay) {
    pool_.Execute(
        [delay = fault->delay, forward = std::move(forward), done = std::move(done)]() mutable {
          std::this_thread::sleep_for(delay);
          forward().Subscribe(std::move(done));
        });
  } else {  // kAsyncError, kPartialTransfer: replace the outcome
    forward().Subscribe([this, error = fault->error, done = std::move(done)](Result<T>) mutable {
      pool_.Execute([error, done = std::move(done)]() mutable { done(error); });
    });
  }
  return out;
}

Future<std::string> FaultyBlobStore::Put(SourceFactory source, const BlobMetadata& metadata) {
  std::optional<Fault> fault = NextFault(Method::kPut);
  if (IsPartial(fault)) source = PartialSourceFactory(std::move(source), *fault);
  return Apply<std::string>(fault, [this, source = std::move(source), metadata] {
    return inner_->Put(source, metadata);
  });
}

Future<void> FaultyBlobStore::Get(const std::string& id, SinkFactory sink) {
  std::optional<Fault> fault = NextFault(Method::kGet);
  if (IsPartial(fault)) sink = PartialSinkFactory(std::move(sink), *fault);
  return Apply<void>(fault, [this, id, sink = std::move(sink)] { return inner_->Get(id, sink); });
}

Future<void> FaultyBlobStore::GetRange(const std::string& id, uint64_t offset, uint64_t length,
                                       SinkFactory sink) {
  std::optional<Fault> fault = NextFault(Method::kGetRange);
  if (IsPartial(fault)) sink = PartialSinkFactory(std::move(sink), *fault);
  return Apply<void>(fault, [this, id, offset, length, sink = std::move(sink)] {
    return inner_->GetRange(id, offset, length, sink);
  });
}

Future<void> FaultyBlobStore::Delete(const std::string& id) {
  return Apply<void>(NextFault(Method::kDelete), [this, id] { return inner_->Delete(id); });
}

Future<void> FaultyBlobStore::RemoveTtl(const std::string& id) {
  return Apply<void>(NextFault(Method::kRemoveTtl), [this, id] { return inner_->RemoveTtl(id); });
}

Future<std::optional<std::chrono::system_clock::time_point>> FaultyBlobStore::ExpiryOf(
    const std::string& id) {
  return Apply<std::optional<std::chrono::system_clock::time_point>>(
      NextFault(Method::kExpiryOf), [this, id] { return inner_->ExpiryOf(id); });
}

Future<BlobPage> FaultyBlobStore::ListBlobs(const std::string& prefix, const std::string& token) {
  return Apply<BlobPage>(NextFault(Method::kListBlobs),
                         [this, prefix, token] { return inner_->ListBlobs(prefix, token); });
}

Future<void> FaultyBlobStore::DeleteExpired(const std::string& id,
                                            std::chrono::system_clock::time_point now) {
  return Apply<void>(NextFault(Method::kDeleteExpired),
                     [this, id, now] { return inner_->DeleteExpired(id, now); });
}

Future<void> FaultyBlobStore::Flush() {
  return Apply<void>(NextFault(Method::kFlush), [this] { return inner_->Flush(); });
}

Future<std::string> FaultyBlobStore::PutObject(const std::string& name, std::string data,
                                               const ObjectCondition& condition) {
  return Apply<std::string>(NextFault(Method::kPutObject),
                            [this, name, data = std::move(data), condition] {
                              return inner_->PutObject(name, data, condition);
                            });
}

Future<VersionedObject> FaultyBlobStore::GetObject(const std::string& name) {
  return Apply<VersionedObject>(NextFault(Method::kGetObject),
                                [this, name] { return inner_->GetObject(name); });
}

Future<void> FaultyBlobStore::DeleteObject(const std::string& name) {
  return Apply<void>(NextFault(Method::kDeleteObject),
                     [this, name] { return inner_->DeleteObject(name); });
}

Future<std::vector<std::string>> FaultyBlobStore::ListObjects(const std::string& prefix) {
  return Apply<std::vector<std::string>>(NextFault(Method::kListObjects),
                                         [this, prefix] { return inner_->ListObjects(prefix); });
}

std::string FaultyBlobStore::Describe() const { return "faulty(" + inner_->Describe() + ")"; }

}  // namespace blobstate
