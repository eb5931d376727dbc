#include "blobstore/metered/metered_blob_store.h"

#include <gtest/gtest.h>

#include "blobstore/faulty/faulty_blob_store.h"
#include "blobstore/local/local_blob_store.h"
#include "blobstore/retrying/retrying_blob_store.h"
#include "testing/temp_dir.h"

namespace blobstate {
namespace {

using namespace std::chrono_literals;
using Fault = FaultyBlobStore::Fault;
using Method = FaultyBlobStore::Method;

constexpr auto kWait = 30s;

// The value of counter `name` for labels {code, method} (code empty: no code label).
double Count(const PrometheusTextSink& sink, const std::string& name, const std::string& method,
             const std::string& code = "") {
  MetricLabels labels{{"method", method}};
  if (!code.empty()) labels.insert(labels.begin(), {"code", code});
  auto series = sink.Counter(name);
  return series.contains(labels) ? series.at(labels) : 0;
}

TEST(MeteredBlobStoreTest, OpenedWithASinkCountsRequestsByOutcomeBytesAndLatency) {
  testing::TempDir dir;
  PrometheusTextSink sink;
  Result<std::unique_ptr<BlobStore>> store =
      OpenBlobStore("file://" + dir.Sub("bs"), {.io_threads = 2, .metrics = &sink});
  ASSERT_TRUE(store.ok()) << store.status();
  Result<std::string> id =
      (*store)->Put(StringSourceFactory("hello"), {.job_name = "j", .ttl = 1h}).GetFor(kWait);
  ASSERT_TRUE(id.ok()) << id.status();
  std::string back;
  ASSERT_TRUE((*store)->Get(*id, StringSinkFactory(&back)).GetFor(kWait).ok());
  EXPECT_EQ((*store)->Get("no-such-blob", StringSinkFactory(&back)).GetFor(kWait).status().code(),
            StatusCode::kNotFound);
  ASSERT_TRUE((*store)->PutObject("o", "1234", ObjectCondition{}).GetFor(kWait).ok());
  ASSERT_TRUE((*store)->GetRange(*id, 1, 3, StringSinkFactory(&back)).GetFor(kWait).ok());
  EXPECT_EQ(back, "ell");

  const std::string requests = "blobstate_blob_store_requests_total";
  EXPECT_EQ(Count(sink, requests, "put", "OK"), 1);
  EXPECT_EQ(Count(sink, requests, "get", "OK"), 1);
  EXPECT_EQ(Count(sink, requests, "get", "NOT_FOUND"), 1);
  EXPECT_EQ(Count(sink, requests, "put-object", "OK"), 1);
  EXPECT_EQ(Count(sink, "blobstate_blob_store_bytes_total", "put"), 5);
  EXPECT_EQ(Count(sink, "blobstate_blob_store_bytes_total", "get"), 5);
  EXPECT_EQ(Count(sink, "blobstate_blob_store_bytes_total", "put-object"), 4);
  EXPECT_EQ(Count(sink, requests, "get-range", "OK"), 1);
  EXPECT_EQ(Count(sink, "blobstate_blob_store_bytes_total", "get-range"), 3);
  ASSERT_TRUE((*store)->ReadRange(*id, 3, 2, StringSinkFactory(&back)).ok());  // file:// has one
  EXPECT_EQ(back, "lo");
  EXPECT_EQ(Count(sink, requests, "get-range", "OK"), 2);
  EXPECT_EQ(Count(sink, "blobstate_blob_store_bytes_total", "get-range"), 5);
  const std::string text = sink.Text();
  EXPECT_NE(text.find("blobstate_blob_store_request_seconds_count{method=\"get\"} 2"),
            std::string::npos)
      << text;
}

// A factory that returns no source or sink is the store's error (kInternal), metered or not.
TEST(MeteredBlobStoreTest, AFactoryThatReturnsNothingIsAnErrorNotACrash) {
  testing::TempDir dir;
  PrometheusTextSink sink;
  Result<std::unique_ptr<BlobStore>> store =
      OpenBlobStore("file://" + dir.Sub("bs"), {.io_threads = 2, .metrics = &sink});
  ASSERT_TRUE(store.ok()) << store.status();
  SourceFactory no_source = []() -> Result<std::unique_ptr<BlobSource>> {
    return std::unique_ptr<BlobSource>();
  };
  EXPECT_EQ((*store)->Put(no_source, {.job_name = "j"}).GetFor(kWait).status().code(),
            StatusCode::kInternal);
  Result<std::string> id =
      (*store)->Put(StringSourceFactory("hello"), {.job_name = "j"}).GetFor(kWait);
  ASSERT_TRUE(id.ok()) << id.status();
  SinkFactory no_sink = []() -> Result<std::unique_ptr<BlobSink>> {
    return std::unique_ptr<BlobSink>();
  };
  EXPECT_EQ((*store)->Get(*id, no_sink).GetFor(kWait).status().code(), StatusCode::kInternal);
  EXPECT_EQ((*store)->GetRange(*id, 1, 2, no_sink).GetFor(kWait).status().code(),
            StatusCode::kInternal);
}

// A ReadRange that the inner store lacks (it reads only through GetRange) is no request.
TEST(MeteredBlobStoreTest, AReadRangeTheStoreLacksIsNotARequest) {
  testing::TempDir dir;
  PrometheusTextSink sink;
  Result<std::unique_ptr<LocalBlobStore>> local = LocalBlobStore::Open(dir.Sub("bs"), 2);
  ASSERT_TRUE(local.ok()) << local.status();
  MeteredBlobStore store(std::make_unique<FaultyBlobStore>(std::move(*local)), sink);
  std::string back;
  EXPECT_EQ(store.ReadRange("j/t/s/b", 0, 1, StringSinkFactory(&back)).code(),
            StatusCode::kUnimplemented);
  EXPECT_EQ(Count(sink, "blobstate_blob_store_requests_total", "get-range", "UNIMPLEMENTED"), 0);
  EXPECT_EQ(sink.Text().find("get-range"), std::string::npos) << sink.Text();
}

// Under the retrying decorator, each attempt is a request; each retry is counted once.
TEST(MeteredBlobStoreTest, EachAttemptIsARequestAndEachRetryIsCounted) {
  testing::TempDir dir;
  PrometheusTextSink sink;
  Result<std::unique_ptr<LocalBlobStore>> local = LocalBlobStore::Open(dir.Sub("bs"), 2);
  ASSERT_TRUE(local.ok()) << local.status();
  auto faulty = std::make_unique<FaultyBlobStore>(std::move(*local));
  faulty->Script(Method::kPut, 1, Fault::PartialTransfer(2));
  RetryingBlobStore store(NewMeteredBlobStore(std::move(faulty), sink),
                          WithRetriesMetered({.initial_backoff = 1ms, .max_backoff = 2ms}, sink));
  ASSERT_TRUE(store.Put(StringSourceFactory("hello"), {.ttl = 1h}).GetFor(kWait).ok());

  const std::string requests = "blobstate_blob_store_requests_total";
  EXPECT_EQ(Count(sink, requests, "put", "UNAVAILABLE"), 1);
  EXPECT_EQ(Count(sink, requests, "put", "OK"), 1);
  EXPECT_EQ(Count(sink, "blobstate_blob_store_retries_total", "put"), 1);
  // Bytes as read from the sources: the failed attempt's part, then all 5.
  const double put_bytes = Count(sink, "blobstate_blob_store_bytes_total", "put");
  EXPECT_GE(put_bytes, 5);
  EXPECT_LE(put_bytes, 10);
}

}  // namespace
}  // namespace blobstate
