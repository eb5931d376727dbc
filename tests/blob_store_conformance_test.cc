// The conformance suite every BlobStore backend must pass.
//
// Each backend is one entry of Backends(): local (LocalBlobStore), file_url
// (OpenBlobStore's stack over it), s3 (against s3rver) and azure (against Azurite). The
// servers run for the whole ctest run (scripts/test-servers.sh); run by hand without
// them, the cloud backends are skipped (reported as skipped, not passed), while under
// ctest a server that did not start fails them. Each test gets a fresh scratch name (a
// key prefix for the cloud backends) and directory, so tests never see each other's blobs.
#include <gtest/gtest.h>

#include <cstdlib>
#include <set>
#include <thread>

#include "blobstate/blob_store.h"
#include "blobstore/blob_store_testing.h"
#include "blobstore/local/local_blob_store.h"
#include "testing/temp_dir.h"
#include "testing/test_servers.h"
#include "util/random.h"

namespace blobstate {
namespace {

using std::chrono::system_clock;
using testing::kWait;
using testing::SinkLog;
using testing::SourceLog;
using testing::TempDir;
using namespace std::chrono_literals;

struct Scratch {
  std::string name;  // unique per test: a key prefix for remote backends
  std::string dir;   // an empty local directory, removed after the test
};

struct Backend {
  std::string name;
  // Returns why the backend cannot run here (e.g. its server is not configured), or "".
  std::function<std::string()> skip_reason = [] { return std::string(); };
  std::function<Result<std::unique_ptr<BlobStore>>(const Scratch&)> open;
};

void PrintTo(const Backend& backend, std::ostream* os) { *os << backend.name; }

[[maybe_unused]] std::function<std::string()> SkipUnlessEnv(std::string var) {
  return [var] {
    const char* v = std::getenv(var.c_str());
    return v != nullptr && *v != '\0' ? std::string() : var + " is not set";
  };
}

// A store that reads ranges the way BlobStore's default GetRange does (a whole Get,
// keeping the range), for what an application's own store inherits.
class DefaultRangeStore final : public blobstate::testing::ForwardingBlobStore {
 public:
  explicit DefaultRangeStore(std::unique_ptr<BlobStore> inner)
      : ForwardingBlobStore(*inner), owned_(std::move(inner)) {}
  Future<void> GetRange(const std::string& id, uint64_t offset, uint64_t length,
                        SinkFactory sink) override {
    return BlobStore::GetRange(id, offset, length, std::move(sink));
  }

 private:
  std::unique_ptr<BlobStore> owned_;
};

std::vector<Backend> Backends() {
  return {
      {.name = "local",
       .open = [](const Scratch& s) -> Result<std::unique_ptr<BlobStore>> {
         ASSIGN_OR_RETURN(std::unique_ptr<LocalBlobStore> store, LocalBlobStore::Open(s.dir, 4));
         return std::unique_ptr<BlobStore>(std::move(store));
       }},
      {.name = "default_range",
       .open = [](const Scratch& s) -> Result<std::unique_ptr<BlobStore>> {
         ASSIGN_OR_RETURN(std::unique_ptr<LocalBlobStore> store, LocalBlobStore::Open(s.dir, 4));
         return std::unique_ptr<BlobStore>(std::make_unique<DefaultRangeStore>(std::move(store)));
       }},
      // OpenBlobStore's stack: RetryingBlobStore over LocalBlobStore.
      {.name = "file_url",
       .open =
           [](const Scratch& s) { return OpenBlobStore("file://" + s.dir, {.io_threads = 4}); }},
      // RetryingBlobStore over S3BlobStore, against s3rver.
      {.name = "s3",
       .skip_reason = testing::S3Unavailable,
       .open =
           [](const Scratch& s) {
             return testing::OpenS3TestStore(testing::S3TestUrl(s.name), {.io_threads = 4});
           }},
      // RetryingBlobStore over the Azure store, against Azurite (which checks signatures).
      {.name = "azure",
       .skip_reason = testing::AzureUnavailable,
       .open =
           [](const Scratch& s) {
             return testing::OpenAzureTestStore(testing::AzureTestUrl(s.name), {.io_threads = 4});
           }},
  };
}

class BlobStoreConformanceTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (std::string why = GetParam().skip_reason(); !why.empty()) GTEST_SKIP() << why;
    Result<std::unique_ptr<BlobStore>> store =
        GetParam().open({.name = "conformance-" + RandomHex(8), .dir = tmp_.Sub("store")});
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }

  Result<std::string> Put(std::string data, std::chrono::seconds ttl = 1h) {
    BlobMetadata meta = meta_;
    meta.ttl = ttl;
    return store_->Put(StringSourceFactory(std::move(data)), meta).GetFor(kWait, "put");
  }

  std::string PutOk(std::string data, std::chrono::seconds ttl = 1h) {
    Result<std::string> id = Put(std::move(data), ttl);
    EXPECT_TRUE(id.ok()) << id.status();
    return id.ok() ? *id : "never-put";
  }

  Result<std::string> Read(const std::string& id) {
    std::string out;
    RETURN_IF_ERROR(store_->Get(id, StringSinkFactory(&out)).GetFor(kWait, "get"));
    return out;
  }

  std::set<std::string> Expired(system_clock::time_point now) {
    Result<std::vector<std::string>> ids = blobstate::testing::ExpiringBefore(*store_, now);
    EXPECT_TRUE(ids.ok()) << ids.status();
    return ids.ok() ? std::set<std::string>(ids->begin(), ids->end()) : std::set<std::string>{};
  }

  TempDir tmp_;
  BlobMetadata meta_{.job_name = "job", .task_name = "task", .store_name = "store"};
  std::unique_ptr<BlobStore> store_;
};

TEST_P(BlobStoreConformanceTest, PutGetRoundTripsAnySize) {
  std::string binary;
  for (int i = 0; i < 256; ++i) binary += static_cast<char>(i);
  for (const std::string& data :
       {std::string(), std::string("x"), binary, testing::RandomBytes(3 * kIoChunkSize + 17, 1)}) {
    std::string id = PutOk(data);
    EXPECT_TRUE(IsValidBlobId(id)) << id;
    Result<std::string> back = Read(id);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(back->size(), data.size());
    EXPECT_TRUE(*back == data) << "content differs for a blob of " << data.size() << " bytes";
  }
}

TEST_P(BlobStoreConformanceTest, GetRangeReadsExactlyTheRange) {
  const std::string data = testing::RandomBytes(3 * kIoChunkSize + 17, 2);
  const std::string id = PutOk(data);
  const uint64_t size = data.size();
  const std::pair<uint64_t, uint64_t> ranges[] = {
      {0, 1}, {5, 100}, {kIoChunkSize - 3, kIoChunkSize + 10}, {size - 1, 1}, {0, size}};
  for (const auto& [offset, length] : ranges) {
    std::string out;
    Status s = store_->GetRange(id, offset, length, StringSinkFactory(&out)).GetFor(kWait).status();
    ASSERT_TRUE(s.ok()) << offset << "+" << length << ": " << s;
    EXPECT_TRUE(out == data.substr(offset, length)) << offset << "+" << length;
  }
}

TEST_P(BlobStoreConformanceTest, GetRangeBeyondTheBlobIsOutOfRangeAndFinishesNothing) {
  const std::string id = PutOk("0123456789");
  const std::string empty = PutOk("");
  const std::tuple<std::string, uint64_t, uint64_t> beyond[] = {
      {id, 9, 2}, {id, 10, 1}, {id, 100, 5}, {empty, 0, 1}};
  for (const auto& [blob, offset, length] : beyond) {
    auto log = std::make_shared<SinkLog>();
    Status s = store_->GetRange(blob, offset, length, testing::RecordingSinkFactory(log))
                   .GetFor(kWait)
                   .status();
    EXPECT_EQ(s.code(), StatusCode::kOutOfRange) << offset << "+" << length << ": " << s;
    EXPECT_NE(s.message().find(blob), std::string::npos) << s;
    std::lock_guard<std::mutex> lock(log->mu);
    for (bool finished : log->finished) EXPECT_FALSE(finished);
  }
  std::string out;
  EXPECT_EQ(store_->GetRange(id, 0, 0, StringSinkFactory(&out)).GetFor(kWait).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(
      store_->GetRange(id, UINT64_MAX, 2, StringSinkFactory(&out)).GetFor(kWait).status().code(),
      StatusCode::kInvalidArgument)
      << "a range whose end overflows";
  EXPECT_EQ(store_->GetRange("job/task/store/never-put", 0, 1, StringSinkFactory(&out))
                .GetFor(kWait)
                .status()
                .code(),
            StatusCode::kNotFound);
}

// ReadRange reads on the caller's thread where the store reads locally (file://, whether
// opened by URL or not), with GetRange's results and errors, a deleted blob's included;
// elsewhere it is kUnimplemented and never opens a sink.
TEST_P(BlobStoreConformanceTest, ReadRangeReadsAsGetRangeOrIsUnimplemented) {
  const std::string data = testing::RandomBytes(3 * kIoChunkSize + 17, 3);
  const std::string id = PutOk(data);
  auto log = std::make_shared<SinkLog>();
  Status first = store_->ReadRange(id, 5, 100, testing::RecordingSinkFactory(log));
  const bool local = GetParam().name == "local" || GetParam().name == "file_url";
  if (!local) {
    EXPECT_EQ(first.code(), StatusCode::kUnimplemented) << first;
    std::lock_guard<std::mutex> lock(log->mu);
    EXPECT_EQ(log->opened, 0) << "a sink was opened";
    return;
  }
  ASSERT_TRUE(first.ok()) << first;
  const uint64_t size = data.size();
  const std::pair<uint64_t, uint64_t> ranges[] = {
      {0, 1}, {kIoChunkSize - 3, kIoChunkSize + 10}, {size - 1, 1}, {0, size}};
  for (const auto& [offset, length] : ranges) {
    std::string out;
    Status s = store_->ReadRange(id, offset, length, StringSinkFactory(&out));
    ASSERT_TRUE(s.ok()) << offset << "+" << length << ": " << s;
    EXPECT_TRUE(out == data.substr(offset, length)) << offset << "+" << length;
  }
  auto beyond = std::make_shared<SinkLog>();
  Status s = store_->ReadRange(id, size - 1, 2, testing::RecordingSinkFactory(beyond));
  EXPECT_EQ(s.code(), StatusCode::kOutOfRange) << s;
  EXPECT_NE(s.message().find(id), std::string::npos) << s;
  {
    std::lock_guard<std::mutex> lock(beyond->mu);
    for (bool finished : beyond->finished) EXPECT_FALSE(finished);
  }
  std::string out;
  EXPECT_EQ(store_->ReadRange(id, 0, 0, StringSinkFactory(&out)).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->ReadRange("job/task/store/never-put", 0, 1, StringSinkFactory(&out)).code(),
            StatusCode::kNotFound);
  // A blob read before is not read once deleted, though a store may keep its file open.
  ASSERT_TRUE(store_->Delete(id).GetFor(kWait).ok());
  s = store_->ReadRange(id, 0, 1, StringSinkFactory(&out));
  EXPECT_EQ(s.code(), StatusCode::kNotFound) << s;
}

TEST_P(BlobStoreConformanceTest, GetOfAMissingBlobIsNotFound) {
  auto log = std::make_shared<SinkLog>();
  Status s = store_->Get("job/task/store/never-put", testing::RecordingSinkFactory(log))
                 .GetFor(kWait)
                 .status();
  EXPECT_EQ(s.code(), StatusCode::kNotFound) << s;
  EXPECT_NE(s.message().find("job/task/store/never-put"), std::string::npos) << s;
  std::lock_guard<std::mutex> lock(log->mu);
  for (bool finished : log->finished) EXPECT_FALSE(finished);
}

TEST_P(BlobStoreConformanceTest, DeletedBlobIsNotFoundAndSecondDeleteIsGone) {
  std::string id = PutOk("doomed");
  ASSERT_TRUE(store_->Delete(id).GetFor(kWait).ok());
  EXPECT_EQ(Read(id).status().code(), StatusCode::kNotFound);
  Status again = store_->Delete(id).GetFor(kWait).status();
  EXPECT_EQ(again.code(), StatusCode::kGone) << again;
  EXPECT_TRUE(again.IsIgnorable());
  EXPECT_EQ(store_->RemoveTtl(id).GetFor(kWait).status().code(), StatusCode::kNotFound);
}

TEST_P(BlobStoreConformanceTest, RemoveTtlIsIdempotent) {
  std::string id = PutOk("keep me");
  ASSERT_TRUE(store_->RemoveTtl(id).GetFor(kWait).ok());
  ASSERT_TRUE(store_->RemoveTtl(id).GetFor(kWait).ok());
  std::string permanent = PutOk("never had a ttl", 0s);
  ASSERT_TRUE(store_->RemoveTtl(permanent).GetFor(kWait).ok());
  EXPECT_EQ(Read(id).value_or(""), "keep me");
}

TEST_P(BlobStoreConformanceTest, ExpiryOfTellsWhenTheTtlEndsIfItIsStillThere) {
  const auto before = system_clock::now();
  std::string id = PutOk("with a ttl");
  std::string permanent = PutOk("without", 0s);
  Result<std::optional<system_clock::time_point>> expiry = store_->ExpiryOf(id).GetFor(kWait);
  ASSERT_TRUE(expiry.ok() && expiry->has_value()) << expiry.status();
  EXPECT_GE(**expiry, before + 1h - 2s);
  EXPECT_LE(**expiry, system_clock::now() + 1h + 2s);
  EXPECT_FALSE(store_->ExpiryOf(permanent).GetFor(kWait)->has_value());
  ASSERT_TRUE(store_->RemoveTtl(id).GetFor(kWait).ok());
  EXPECT_FALSE(store_->ExpiryOf(id).GetFor(kWait)->has_value());
  Status missing = store_->ExpiryOf("job/task/store/never-put").GetFor(kWait).status();
  EXPECT_EQ(missing.code(), StatusCode::kNotFound) << missing;
  EXPECT_NE(missing.message().find("never-put"), std::string::npos) << missing;
}

// H.8: DeleteExpired deletes only a blob whose TTL expired: never one RemoveTtl made
// permanent (the race gc loses to a commit), nor one whose TTL is still to come.
TEST_P(BlobStoreConformanceTest, DeleteExpiredDeletesOnlyAnExpiredBlob) {
  std::string expired = PutOk("expired");
  std::string untagged = PutOk("untagged");
  std::string permanent = PutOk("never had a ttl", 0s);
  ASSERT_TRUE(store_->RemoveTtl(untagged).GetFor(kWait).ok());
  const auto later = system_clock::now() + 2h;
  EXPECT_EQ(store_->DeleteExpired(expired, system_clock::now()).GetFor(kWait).status().code(),
            StatusCode::kAborted);  // not yet
  for (const std::string& id : {untagged, permanent}) {
    Status kept = store_->DeleteExpired(id, later).GetFor(kWait).status();
    EXPECT_EQ(kept.code(), StatusCode::kAborted) << kept;
    EXPECT_TRUE(Read(id).ok()) << id;
  }
  Status deleted = store_->DeleteExpired(expired, later).GetFor(kWait).status();
  ASSERT_TRUE(deleted.ok()) << deleted;
  EXPECT_EQ(Read(expired).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->DeleteExpired(expired, later).GetFor(kWait).status().code(), StatusCode::kGone);
}

// H.8: a listing comes a page at a time, each blob once, with its size and age, and its
// TTL where the service lists it.
TEST_P(BlobStoreConformanceTest, ListBlobsPagesThroughEveryBlobOnce) {
  std::set<std::string> put;
  for (int i = 0; i < 12; ++i) put.insert(PutOk(std::string(i, 'x'), i % 2 ? 1h : 0s));
  Result<std::string> other =
      store_->Put(StringSourceFactory("other job"), {.job_name = "other", .task_name = "t"})
          .GetFor(kWait);
  ASSERT_TRUE(other.ok());
  std::set<std::string> listed;
  std::string token;
  int pages = 0;
  do {
    Result<BlobPage> page = store_->ListBlobs(meta_.job_name + "/", token).GetFor(kWait);
    ASSERT_TRUE(page.ok()) << page.status();
    ASSERT_LT(++pages, 1000);
    for (const BlobInfo& b : page->blobs) {
      EXPECT_TRUE(listed.insert(b.id).second) << b.id << " listed twice";
      EXPECT_LE(b.modified, system_clock::now() + 5s);
      EXPECT_GE(b.modified, system_clock::now() - 10min);
      Result<std::string> data = Read(b.id);
      ASSERT_TRUE(data.ok());
      EXPECT_EQ(b.size, data->size());
      if (b.ttl_listed) {
        EXPECT_EQ(b.expires.has_value(), data->size() % 2 == 1) << b.id;
      }
    }
    token = page->next;
  } while (!token.empty());
  EXPECT_EQ(listed, put);
}

TEST_P(BlobStoreConformanceTest, RemoveTtlOfAMissingBlobIsNotFound) {
  EXPECT_EQ(store_->RemoveTtl("job/task/store/never-put").GetFor(kWait).status().code(),
            StatusCode::kNotFound);
}

TEST_P(BlobStoreConformanceTest, TtlBlobIsListedAfterExpiryAndNotBefore) {
  auto before = system_clock::now();
  std::string id = PutOk("ttl", 3600s);
  auto after = system_clock::now();
  EXPECT_EQ(Expired(before + 3599s).count(id), 0u);
  EXPECT_EQ(Expired(after + 3601s).count(id), 1u);
}

TEST_P(BlobStoreConformanceTest, BlobsWithoutTtlAreNeverListed) {
  std::string removed = PutOk("ttl removed", 60s);
  std::string never = PutOk("no ttl", 0s);
  ASSERT_TRUE(store_->RemoveTtl(removed).GetFor(kWait).ok());
  std::set<std::string> expired = Expired(system_clock::now() + 10000h);
  EXPECT_EQ(expired.count(removed), 0u);
  EXPECT_EQ(expired.count(never), 0u);
}

TEST_P(BlobStoreConformanceTest, IdsAreUniqueAcrossConcurrentPuts) {
  std::vector<Future<std::string>> puts;
  for (int i = 0; i < 1000; ++i) puts.push_back(store_->Put(StringSourceFactory("same"), meta_));
  std::set<std::string> ids;
  for (auto& f : puts) {
    Result<std::string> id = std::move(f).GetFor(kWait);
    ASSERT_TRUE(id.ok()) << id.status();
    ids.insert(*id);
  }
  EXPECT_EQ(ids.size(), 1000u);
}

TEST_P(BlobStoreConformanceTest, ConcurrentGetsOfOneBlobAllSeeIt) {
  std::string data = testing::RandomBytes(2 * kIoChunkSize + 3, 2);
  std::string id = PutOk(data);
  std::vector<std::string> outs(16);
  std::vector<Future<void>> gets;
  for (auto& out : outs) gets.push_back(store_->Get(id, StringSinkFactory(&out)));
  for (auto& f : gets) ASSERT_TRUE(std::move(f).GetFor(kWait).ok());
  for (const auto& out : outs) EXPECT_TRUE(out == data);
}

TEST_P(BlobStoreConformanceTest, SourceFailingMidwayFailsThePutAndLeavesNothing) {
  std::set<std::string> before = Expired(system_clock::now() + 10000h);
  auto log = std::make_shared<SourceLog>();
  std::string data = testing::RandomBytes(2 * kIoChunkSize, 3);
  BlobMetadata meta = meta_;
  meta.ttl = 1h;
  Result<std::string> id =
      store_
          ->Put(testing::ScriptedSourceFactory(data, log,
                                               {.claimed_size = data.size(),
                                                .fail_after = kIoChunkSize + 1,
                                                .error = FailedPreconditionError("source broke")}),
                meta)
          .GetFor(kWait);
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.status().code(), StatusCode::kFailedPrecondition) << id.status();
  EXPECT_NE(id.status().message().find("source broke"), std::string::npos) << id.status();
  EXPECT_EQ(Expired(system_clock::now() + 10000h), before) << "no blob of the failed put";
}

TEST_P(BlobStoreConformanceTest, SinkFailingFailsTheGetWithItsError) {
  std::string id = PutOk(testing::RandomBytes(kIoChunkSize + 10, 4));
  auto log = std::make_shared<SinkLog>();
  Status s = store_->Get(id, testing::RecordingSinkFactory(log, 100, DataLossError("disk full")))
                 .GetFor(kWait)
                 .status();
  EXPECT_EQ(s.code(), StatusCode::kDataLoss) << s;
  EXPECT_NE(s.message().find("disk full"), std::string::npos) << s;
  std::lock_guard<std::mutex> lock(log->mu);
  for (bool finished : log->finished) EXPECT_FALSE(finished);
}

TEST_P(BlobStoreConformanceTest, InvalidIdsAreRejected) {
  for (std::string id : {"../escape", "/abs/path", "a//b", "a/./b", "", "sp ace"}) {
    std::string out;
    EXPECT_EQ(store_->Get(id, StringSinkFactory(&out)).GetFor(kWait).status().code(),
              StatusCode::kInvalidArgument)
        << id;
    EXPECT_EQ(store_->Delete(id).GetFor(kWait).status().code(), StatusCode::kInvalidArgument) << id;
    EXPECT_EQ(store_->RemoveTtl(id).GetFor(kWait).status().code(), StatusCode::kInvalidArgument)
        << id;
  }
}

TEST_P(BlobStoreConformanceTest, EveryFutureCompletesWhenTheStoreIsDestroyed) {
  std::string id = PutOk("x");
  std::vector<Future<std::string>> puts;
  std::vector<Future<void>> others;
  std::vector<std::string> outs(20);
  for (int i = 0; i < 20; ++i) {
    puts.push_back(store_->Put(StringSourceFactory("y"), meta_));
    others.push_back(store_->Get(id, StringSinkFactory(&outs[i])));
    others.push_back(store_->RemoveTtl(id));
  }
  store_.reset();
  auto hung = [](const Status& s) {
    return s.message().find("did not complete") != std::string::npos;
  };
  for (auto& f : puts) EXPECT_FALSE(hung(std::move(f).GetFor(kWait).status()));
  for (auto& f : others) EXPECT_FALSE(hung(std::move(f).GetFor(kWait).status()));
}

TEST_P(BlobStoreConformanceTest, ObjectPutReplacesAndGetReadsTheLatest) {
  ASSERT_TRUE(store_->PutObject("ck/job/task/a", "first", {}).GetFor(kWait).ok());
  EXPECT_EQ(store_->GetObject("ck/job/task/a").GetFor(kWait)->data, "first");
  ASSERT_TRUE(store_->PutObject("ck/job/task/a", "second, longer", {}).GetFor(kWait).ok());
  EXPECT_EQ(store_->GetObject("ck/job/task/a").GetFor(kWait)->data, "second, longer");
  ASSERT_TRUE(store_->PutObject("ck/job/task/empty", "", {}).GetFor(kWait).ok());
  EXPECT_EQ(store_->GetObject("ck/job/task/empty").GetFor(kWait)->data, "");
}

// W.2: named-object puts are a compare-and-swap: only if absent, or only over the version
// read; a condition that fails changes nothing (kAborted). Each put makes a new version.
TEST_P(BlobStoreConformanceTest, ConditionalObjectPutsAreCompareAndSwap) {
  const std::string name = "ck/job/task/cas";
  Result<std::string> v1 =
      store_->PutObject(name, "one", ObjectCondition::IfAbsent()).GetFor(kWait);
  ASSERT_TRUE(v1.ok()) << v1.status();
  Result<VersionedObject> got = store_->GetObject(name).GetFor(kWait);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->data, "one");
  EXPECT_EQ(got->version, *v1);
  Status exists =
      store_->PutObject(name, "two", ObjectCondition::IfAbsent()).GetFor(kWait).status();
  EXPECT_EQ(exists.code(), StatusCode::kAborted) << exists;
  Result<std::string> v2 =
      store_->PutObject(name, "two", ObjectCondition::IfVersion(*v1)).GetFor(kWait);
  ASSERT_TRUE(v2.ok()) << v2.status();
  EXPECT_NE(*v2, *v1);
  Status stale =
      store_->PutObject(name, "three", ObjectCondition::IfVersion(*v1)).GetFor(kWait).status();
  EXPECT_EQ(stale.code(), StatusCode::kAborted) << stale;
  EXPECT_EQ(store_->GetObject(name).GetFor(kWait)->data, "two");
  // Other bytes make another version (the same bytes may keep it: S3's ETag is their MD5).
  Result<std::string> v3 = store_->PutObject(name, "three", {}).GetFor(kWait);
  ASSERT_TRUE(v3.ok()) << v3.status();
  EXPECT_EQ(
      store_->PutObject(name, "x", ObjectCondition::IfVersion(*v2)).GetFor(kWait).status().code(),
      StatusCode::kAborted);
  EXPECT_EQ(store_->PutObject("ck/job/task/none", "x", ObjectCondition::IfVersion(*v1))
                .GetFor(kWait)
                .status()
                .code(),
            StatusCode::kAborted);
  EXPECT_FALSE(store_->FencingOff());
}

// W.2: of many writers racing with the same condition, exactly one wins.
TEST_P(BlobStoreConformanceTest, OneOfConcurrentConditionalPutsWins) {
  const std::string name = "ck/job/task/race";
  Result<std::string> v = store_->PutObject(name, "base", {}).GetFor(kWait);
  ASSERT_TRUE(v.ok()) << v.status();
  std::vector<Future<std::string>> puts;
  for (int i = 0; i < 6; ++i) {
    puts.push_back(
        store_->PutObject(name, "writer " + std::to_string(i), ObjectCondition::IfVersion(*v)));
  }
  int won = 0;
  for (auto& f : puts) {
    Result<std::string> r = std::move(f).GetFor(kWait);
    if (r.ok()) {
      ++won;
    } else {
      EXPECT_EQ(r.status().code(), StatusCode::kAborted) << r.status();
    }
  }
  EXPECT_EQ(won, 1);
}

TEST_P(BlobStoreConformanceTest, MissingObjectIsNotFoundAndDeleteIsIdempotent) {
  Result<VersionedObject> missing = store_->GetObject("ck/none").GetFor(kWait);
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("ck/none"), std::string::npos);
  ASSERT_TRUE(store_->PutObject("ck/x", "x", {}).GetFor(kWait).ok());
  EXPECT_TRUE(store_->DeleteObject("ck/x").GetFor(kWait).ok());
  EXPECT_EQ(store_->DeleteObject("ck/x").GetFor(kWait).status().code(), StatusCode::kGone);
  EXPECT_EQ(store_->GetObject("ck/x").GetFor(kWait).status().code(), StatusCode::kNotFound);
}

TEST_P(BlobStoreConformanceTest, ListObjectsReturnsSortedNamesUnderThePrefix) {
  for (const char* name : {"ck/j/t2/b", "ck/j/t1/b", "ck/j/t1/a", "ck/j/t10/a", "other/x"}) {
    ASSERT_TRUE(store_->PutObject(name, name, {}).GetFor(kWait).ok());
  }
  EXPECT_EQ(*store_->ListObjects("ck/j/t1/").GetFor(kWait),
            (std::vector<std::string>{"ck/j/t1/a", "ck/j/t1/b"}));
  EXPECT_EQ(*store_->ListObjects("ck/j/t1").GetFor(kWait),
            (std::vector<std::string>{"ck/j/t1/a", "ck/j/t1/b", "ck/j/t10/a"}));
  EXPECT_TRUE(store_->ListObjects("ck/none/").GetFor(kWait)->empty());
  // Objects and blobs are apart: blob listings and gets never see objects.
  std::string out;
  EXPECT_EQ(store_->Get("ck/j/t1/a", StringSinkFactory(&out)).GetFor(kWait).status().code(),
            StatusCode::kNotFound);
}

TEST_P(BlobStoreConformanceTest, InvalidObjectNamesAreRejected) {
  for (std::string name : {"../escape", "/abs", "a//b", "", "sp ace"}) {
    EXPECT_EQ(store_->PutObject(name, "x", {}).GetFor(kWait).status().code(),
              StatusCode::kInvalidArgument)
        << name;
    EXPECT_EQ(store_->GetObject(name).GetFor(kWait).status().code(), StatusCode::kInvalidArgument)
        << name;
    EXPECT_EQ(store_->DeleteObject(name).GetFor(kWait).status().code(),
              StatusCode::kInvalidArgument)
        << name;
  }
  EXPECT_EQ(store_->PutObject("big", std::string(kMaxObjectSize + 1, 'x'), {})
                .GetFor(kWait)
                .status()
                .code(),
            StatusCode::kInvalidArgument);
}

TEST_P(BlobStoreConformanceTest, DescribeNamesTheStore) {
  EXPECT_FALSE(store_->Describe().empty());
}

INSTANTIATE_TEST_SUITE_P(Backends, BlobStoreConformanceTest, ::testing::ValuesIn(Backends()),
                         [](const ::testing::TestParamInfo<Backend>& info) {
                           return info.param.name;
                         });

}  // namespace
}  // namespace blobstate
