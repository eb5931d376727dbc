#include "blobstore/metered/metered_blob_store.h"

#include <utility>

namespace blobstate {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::string_view kRequestsHelp = "Blob store calls (each attempt), by outcome.";
constexpr std::string_view kSecondsHelp = "Latency of blob store calls, in seconds.";
constexpr std::string_view kBytesHelp = "Bytes put to and got from the blob store.";
constexpr std::string_view kRetriesHelp = "Retried blob store calls, by method.";

// Adds `value` to counter `name`{method}.
void AddToCounter(MetricsSink& sink, std::string name, std::string_view help,
                  std::string_view method, double value) {
  const MetricUpdate update{.name = std::move(name),
                            .help = help,
                            .labels = {{"method", std::string(method)}},
                            .value = value};
  sink.Apply({&update, 1});
}

void RecordBytes(MetricsSink& sink, std::string_view method, uint64_t bytes) {
  if (bytes > 0) {
    AddToCounter(sink, "blobstate_blob_store_bytes_total", kBytesHelp, method,
                 static_cast<double>(bytes));
  }
}

// Counts the bytes an attempt reads; records them when the attempt lets go of it.
class CountingSource final : public BlobSource {
 public:
  CountingSource(std::unique_ptr<BlobSource> inner, MetricsSink& sink)
      : inner_(std::move(inner)), sink_(sink) {}
  ~CountingSource() override { RecordBytes(sink_, "put", bytes_); }
  uint64_t size() const override { return inner_->size(); }
  Result<size_t> Read(char* buf, size_t n) override {
    Result<size_t> r = inner_->Read(buf, n);
    if (r.ok()) bytes_ += *r;
    return r;
  }

 private:
  std::unique_ptr<BlobSource> inner_;
  MetricsSink& sink_;
  uint64_t bytes_ = 0;
};

// Counts the bytes an attempt writes; records them when the attempt lets go of it.
class CountingSink final : public BlobSink {
 public:
  // Counts the bytes written as blob_store_bytes_total{method=`method`}.
  CountingSink(std::unique_ptr<BlobSink> inner, MetricsSink& sink, const char* method)
      : inner_(std::move(inner)), sink_(sink), method_(method) {}
  ~CountingSink() override { RecordBytes(sink_, method_, bytes_); }
  Status Write(const char* data, size_t n) override {
    Status s = inner_->Write(data, n);
    if (s.ok()) bytes_ += n;
    return s;
  }
  void ExpectSize(uint64_t bytes) override { inner_->ExpectSize(bytes); }
  Status Finish() override { return inner_->Finish(); }

 private:
  std::unique_ptr<BlobSink> inner_;
  MetricsSink& sink_;
  const char* const method_;
  uint64_t bytes_ = 0;
};

// Records a call of `method` that began at `start` and ended with `outcome`.
void RecordCall(MetricsSink& sink, std::string_view method, const Status& outcome,
                Clock::time_point start) {
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  const MetricUpdate updates[] = {
      {.name = "blobstate_blob_store_requests_total",
       .help = kRequestsHelp,
       .labels = {{"method", std::string(method)},
                  {"code", std::string(StatusCodeName(outcome.code()))}},
       .value = 1},
      {.name = "blobstate_blob_store_request_seconds",
       .help = kSecondsHelp,
       .type = MetricType::kHistogram,
       .labels = {{"method", std::string(method)}},
       .value = seconds},
  };
  sink.Apply(updates);
}

// `sink`, whose sinks count the bytes written as `method`.
SinkFactory Counted(SinkFactory sink, MetricsSink& metrics, const char* method) {
  return
      [sink = std::move(sink), metrics = &metrics, method]() -> Result<std::unique_ptr<BlobSink>> {
        ASSIGN_OR_RETURN(std::unique_ptr<BlobSink> opened, sink());
        if (opened == nullptr) return opened;  // the store's error to report
        return std::unique_ptr<BlobSink>(
            std::make_unique<CountingSink>(std::move(opened), *metrics, method));
      };
}

}  // namespace

template <typename T>
Future<T> MeteredBlobStore::Metered(std::string_view method, Future<T> call) {
  Promise<T> done;
  Future<T> out = done.GetFuture();
  std::move(call).Subscribe([done = std::move(done), method = std::string(method), sink = &sink_,
                             start = Clock::now()](Result<T> r) mutable {
    RecordCall(*sink, method, r.status(), start);
    done.Set(std::move(r));
  });
  return out;
}

Future<std::string> MeteredBlobStore::Put(SourceFactory source, const BlobMetadata& metadata) {
  SourceFactory counted = [source = std::move(source),
                           sink = &sink_]() -> Result<std::unique_ptr<BlobSource>> {
    ASSIGN_OR_RETURN(std::unique_ptr<BlobSource> opened, source());
    if (opened == nullptr) return opened;  // the store's error to report
    return std::unique_ptr<BlobSource>(std::make_unique<CountingSource>(std::move(opened), *sink));
  };
  return Metered("put", inner_->Put(std::move(counted), metadata));
}

Future<void> MeteredBlobStore::Get(const std::string& id, SinkFactory sink) {
  return Metered("get", inner_->Get(id, Counted(std::move(sink), sink_, "get")));
}

Future<void> MeteredBlobStore::GetRange(const std::string& id, uint64_t offset, uint64_t length,
                                        SinkFactory sink) {
  return Metered("get-range", inner_->GetRange(id, offset, length,
                                               Counted(std::move(sink), sink_, "get-range")));
}

Status MeteredBlobStore::ReadRange(const std::string& id, uint64_t offset, uint64_t length,
                                   const SinkFactory& sink) {
  const Clock::time_point start = Clock::now();
  Status s = inner_->ReadRange(id, offset, length, Counted(sink, sink_, "get-range"));
  if (s.code() != StatusCode::kUnimplemented) RecordCall(sink_, "get-range", s, start);
  return s;
}

Future<void> MeteredBlobStore::Delete(const std::string& id) {
  return Metered("delete", inner_->Delete(id));
}

Future<void> MeteredBlobStore::RemoveTtl(const std::string& id) {
  return Metered("remove-ttl", inner_->RemoveTtl(id));
}

Future<void> MeteredBlobStore::Flush() { return Metered("flush", inner_->Flush()); }

Future<std::optional<std::chrono::system_clock::time_point>> MeteredBlobStore::ExpiryOf(
    const std::string& id) {
  return Metered("expiry-of", inner_->ExpiryOf(id));
}

Future<BlobPage> MeteredBlobStore::ListBlobs(const std::string& prefix, const std::string& token) {
  return Metered("list-blobs", inner_->ListBlobs(prefix, token));
}

Future<void> MeteredBlobStore::DeleteExpired(const std::string& id,
                                             std::chrono::system_clock::time_point now) {
  return Metered("delete-expired", inner_->DeleteExpired(id, now));
}

Future<std::string> MeteredBlobStore::PutObject(const std::string& name, std::string data,
                                                const ObjectCondition& condition) {
  RecordBytes(sink_, "put-object", data.size());
  return Metered("put-object", inner_->PutObject(name, std::move(data), condition));
}

Future<VersionedObject> MeteredBlobStore::GetObject(const std::string& name) {
  return Metered("get-object", inner_->GetObject(name));
}

Future<void> MeteredBlobStore::DeleteObject(const std::string& name) {
  return Metered("delete-object", inner_->DeleteObject(name));
}

Future<std::vector<std::string>> MeteredBlobStore::ListObjects(const std::string& prefix) {
  return Metered("list-objects", inner_->ListObjects(prefix));
}

RetryPolicy WithRetriesMetered(RetryPolicy policy, MetricsSink& sink) {
  policy.on_retry = [sink = &sink, also = std::move(policy.on_retry)](std::string_view method) {
    AddToCounter(*sink, "blobstate_blob_store_retries_total", kRetriesHelp, method, 1);
    if (also) also(method);
  };
  return policy;
}

std::unique_ptr<BlobStore> NewMeteredBlobStore(std::unique_ptr<BlobStore> inner,
                                               MetricsSink& sink) {
  return std::make_unique<MeteredBlobStore>(std::move(inner), sink);
}

}  // namespace blobstate
