#include "blobstate/checkpoint.h"

#include <gtest/gtest.h>

#include <limits>
#include <thread>

#include "blobstore/blob_store_testing.h"
#include "blobstore/faulty/faulty_blob_store.h"
#include "blobstore/retrying/retrying_blob_store.h"
#include "checkpoint/codec.h"
#include "testing/temp_dir.h"
#include "util/fs.h"

namespace blobstate {
namespace {

using namespace std::chrono_literals;
constexpr auto kWait = 120s;

Checkpoint V2Checkpoint(std::string id = NewCheckpointId()) {
  Checkpoint c;
  c.id = std::move(id);
  c.input_offsets = {{"input-0", "1042"}, {"input-1", "7"}};
  c.state_markers[std::string(kBlobStoreBackend)] = {{"profile", "job/t/profile/idx-1"},
                                                     {"counts", "job/t/counts/idx-2"}};
  c.state_markers["changelog"] = {{"profile", "offset-99"}};
  return c;
}

std::string GoldenPath(const char* name) {
  return std::string(BLOBSTATE_SOURCE_DIR) + "/testdata/checkpoint/" + name;
}

// The checkpoints written in testdata/checkpoint (frozen: never regenerated).
Checkpoint GoldenV1() {
  return {.version = 1, .input_offsets = {{"input-0", "1042"}, {"input-1", "7"}}};
}
Checkpoint GoldenV2() { return V2Checkpoint("1764000000000-00112233445566ff"); }

Checkpoint GoldenV2WithWriter() {
  Checkpoint c = GoldenV2();
  c.writer_epoch = 3;
  c.writer_id = "host-1.4242.0011223344556677";
  return c;
}
// A latest checkpoint as the claim of a writer that rolled back leaves it.
Checkpoint GoldenV2RolledBack() {
  Checkpoint c = GoldenV2WithWriter();
  c.writer_base = "1763999990000-00112233445566aa";
  return c;
}

// `c` without the writer fields that a CheckpointStore adds.
Checkpoint Unsigned(Checkpoint c) {
  c.writer_epoch = 0;
  c.writer_id.clear();
  return c;
}

TEST(CheckpointCodecTest, RoundTripsBothVersions) {
  Checkpoint v2 = V2Checkpoint();
  EXPECT_EQ(*DecodeCheckpoint(EncodeCheckpoint(v2)), v2);
  Checkpoint v1 = GoldenV1();
  EXPECT_EQ(*DecodeCheckpoint(EncodeCheckpoint(v1)), v1);
  Checkpoint empty{.id = NewCheckpointId()};
  EXPECT_EQ(*DecodeCheckpoint(EncodeCheckpoint(empty)), empty);
}

TEST(CheckpointCodecTest, Version1DropsIdAndMarkers) {
  Checkpoint c = V2Checkpoint();
  c.version = 1;
  Result<Checkpoint> back = DecodeCheckpoint(EncodeCheckpoint(c));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->version, 1u);
  EXPECT_TRUE(back->id.empty());
  EXPECT_TRUE(back->state_markers.empty());
  EXPECT_EQ(back->input_offsets, c.input_offsets);
}

TEST(CheckpointCodecTest, DecodesGoldenFilesOfEveryVersion) {
  Result<std::string> v1 = ReadSmallFile(GoldenPath("v1/offsets.bin"));
  ASSERT_TRUE(v1.ok()) << v1.status();
  EXPECT_EQ(*DecodeCheckpoint(*v1), GoldenV1());
  Result<std::string> v2 = ReadSmallFile(GoldenPath("v2/markers.bin"));
  ASSERT_TRUE(v2.ok()) << v2.status();
  EXPECT_EQ(*DecodeCheckpoint(*v2), GoldenV2());
  EXPECT_EQ(EncodeCheckpoint(GoldenV2()), *v2);  // the encoding is stable
  Result<std::string> writer = ReadSmallFile(GoldenPath("v2/writer.bin"));
  ASSERT_TRUE(writer.ok()) << writer.status();
  EXPECT_EQ(*DecodeCheckpoint(*writer), GoldenV2WithWriter());
  EXPECT_EQ(EncodeCheckpoint(GoldenV2WithWriter()), *writer);
  Result<std::string> rolled_back = ReadSmallFile(GoldenPath("v2/rolled-back.bin"));
  ASSERT_TRUE(rolled_back.ok()) << rolled_back.status();
  EXPECT_EQ(*DecodeCheckpoint(*rolled_back), GoldenV2RolledBack());
  EXPECT_EQ(EncodeCheckpoint(GoldenV2RolledBack()), *rolled_back);
}

TEST(CheckpointCodecTest, RejectsHostileInputWithoutCrashing) {
  std::string good = EncodeCheckpoint(V2Checkpoint());
  for (size_t n = 0; n < good.size(); ++n) {
    EXPECT_FALSE(DecodeCheckpoint(good.substr(0, n)).ok()) << "truncated to " << n;
  }
  for (size_t i = 0; i < good.size(); ++i) {
    std::string bad = good;
    bad[i] ^= 0x20;
    EXPECT_FALSE(DecodeCheckpoint(bad).ok()) << "flipped byte " << i;  // checksum
  }
  Result<Checkpoint> other = DecodeCheckpoint("BSIX\x01\x00\x00\x00garbage!");
  EXPECT_EQ(other.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(other.status().message().find("checkpoint"), std::string::npos);
}

TEST(CheckpointConfigTest, ValidationNamesTheBadSetting) {
  EXPECT_TRUE(ValidateCheckpointConfig({}).ok());
  EXPECT_TRUE(ValidateCheckpointConfig({.write_versions = {1, 2}, .read_versions = {1}}).ok());
  struct Case {
    CheckpointConfig config;
    const char* message;
  } cases[] = {
      {{.write_versions = {}}, "checkpoint write versions is empty"},
      {{.read_versions = {}}, "checkpoint read versions is empty"},
      {{.write_versions = {3}}, "unknown checkpoint version 3"},
      {{.read_versions = {0, 1}}, "unknown checkpoint version 0"},
      {{.read_versions = {2, 2}}, "lists version 2 twice"},
  };
  for (const Case& c : cases) {
    Status s = ValidateCheckpointConfig(c.config);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.message().find(c.message), std::string::npos) << s;
  }
}

TEST(CheckpointConfigTest, BlobStoreBackendNeedsVersion2WrittenAndRead) {
  EXPECT_TRUE(ValidateForBlobStoreBackend({}).ok());
  EXPECT_TRUE(ValidateForBlobStoreBackend({.write_versions = {2, 1}, .read_versions = {2}}).ok());
  for (CheckpointConfig bad :
       {CheckpointConfig{.write_versions = {1}}, CheckpointConfig{.read_versions = {1}}}) {
    Status s = ValidateForBlobStoreBackend(bad);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.message().find("must both include 2"), std::string::npos) << s;
  }
  // W.11 (E1/E3): a read order that prefers version 1 would restore the stores empty.
  Status s = ValidateForBlobStoreBackend({.read_versions = {1, 2}});
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("must list 2 first"), std::string::npos) << s;
}

TEST(BlobStoreMarkersTest, HandlesEveryKindOfCheckpoint) {
  EXPECT_TRUE(BlobStoreMarkers(std::nullopt)->empty());
  Result<StoreMarkers> v1 = BlobStoreMarkers(GoldenV1());
  EXPECT_EQ(v1.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(v1.status().message().find("version 1"), std::string::npos);
  Checkpoint no_backend{.id = NewCheckpointId()};
  no_backend.state_markers["changelog"] = {{"s", "1"}};
  EXPECT_TRUE(BlobStoreMarkers(no_backend)->empty());
  EXPECT_EQ(BlobStoreMarkers(V2Checkpoint())->size(), 2u);
  Checkpoint hostile = V2Checkpoint();
  hostile.state_markers[std::string(kBlobStoreBackend)]["evil"] = "../../etc/passwd";
  Result<StoreMarkers> bad = BlobStoreMarkers(hostile);
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("evil"), std::string::npos);
}

class CheckpointStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::unique_ptr<BlobStore>> s = OpenBlobStore("file://" + tmp_.Sub("bs"), {});
    ASSERT_TRUE(s.ok()) << s.status();
    blobs_ = std::move(*s);
  }
  // A checkpoint store that has claimed the task (unless !claim).
  std::unique_ptr<CheckpointStore> Open(CheckpointConfig config = {}, std::string task = "t-0",
                                        bool claim = true) {
    Result<std::unique_ptr<CheckpointStore>> c =
        CheckpointStore::Open(*blobs_, pool_, std::move(config), "job", std::move(task));
    EXPECT_TRUE(c.ok()) << c.status();
    if (!c.ok()) return nullptr;
    if (claim) {
      Result<std::optional<Checkpoint>> claimed = (*c)->Claim().GetFor(kWait);
      EXPECT_TRUE(claimed.ok()) << claimed.status();
    }
    return std::move(*c);
  }

  testing::TempDir tmp_;
  ThreadPool pool_{"checkpoint-test", 2};
  std::unique_ptr<BlobStore> blobs_;
};

TEST_F(CheckpointStoreTest, NewHostFindsTheLatestFromUrlJobAndTaskAlone) {
  auto writer = Open();
  Checkpoint first = V2Checkpoint(), second = V2Checkpoint();
  second.input_offsets["input-0"] = "2000";
  ASSERT_TRUE(writer->Write(first).GetFor(kWait).ok());
  ASSERT_TRUE(writer->Write(second).GetFor(kWait).ok());
  writer.reset();
  blobs_.reset();
  // Another process: only the URL, job and task.
  blobs_ = std::move(*OpenBlobStore("file://" + tmp_.Sub("bs"), {}));
  Result<std::optional<Checkpoint>> latest = Open()->ReadLatest().GetFor(kWait);
  ASSERT_TRUE(latest.ok()) << latest.status();
  ASSERT_TRUE(latest->has_value());
  EXPECT_EQ(Unsigned(**latest), second);
  EXPECT_FALSE(Open({}, "other-task")->ReadLatest().GetFor(kWait)->has_value());
}

TEST_F(CheckpointStoreTest, ReaderSeesOldOrNewCheckpointNeverATornOne) {
  auto store = Open();
  ASSERT_TRUE(store->Write(V2Checkpoint()).GetFor(kWait).ok());
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (int i = 0; i < 50; ++i) {
      Checkpoint c = V2Checkpoint();
      c.input_offsets["input-0"] = std::string(1000 + i * 100, 'x');  // sizes vary
      EXPECT_TRUE(store->Write(c).GetFor(kWait).ok());
    }
    done = true;
  });
  int reads = 0;
  while (!done || reads == 0) {
    Result<std::optional<Checkpoint>> c = store->ReadLatest().GetFor(kWait);
    ASSERT_TRUE(c.ok()) << c.status();
    ASSERT_TRUE(c->has_value());
    ++reads;
  }
  writer.join();
}

TEST_F(CheckpointStoreTest, OpenValidatesConfigAndNamesBeforeAnything) {
  Result<std::unique_ptr<CheckpointStore>> bad =
      CheckpointStore::Open(*blobs_, pool_, {.write_versions = {7}}, "job", "t");
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("write versions"), std::string::npos);
  for (const char* name : {"", "..", "a/b", "a b"}) {
    EXPECT_EQ(CheckpointStore::Open(*blobs_, pool_, {}, name, "t").status().code(),
              StatusCode::kInvalidArgument);
    EXPECT_EQ(CheckpointStore::Open(*blobs_, pool_, {}, "job", name).status().code(),
              StatusCode::kInvalidArgument);
  }
  EXPECT_TRUE(blobs_->ListObjects("").GetFor(kWait)->empty());
}

// E2: a job without the blob store backend writes version 1; upgraded, it reads {2, 1} and
// resumes from the version 1 offsets; rolled back (reading {1}) after writing {2, 1}, the
// old version still finds its offsets.
TEST_F(CheckpointStoreTest, UpgradeAndRollbackBetweenVersions) {
  auto old_job = Open({.write_versions = {1}, .read_versions = {1}});
  ASSERT_TRUE(old_job->Write(GoldenV1()).GetFor(kWait).ok());

  auto upgraded = Open({.write_versions = {2, 1}, .read_versions = {2, 1}});
  std::optional<Checkpoint> resumed = *upgraded->ReadLatest().GetFor(kWait);
  ASSERT_TRUE(resumed.has_value());
  EXPECT_EQ(resumed->version, 1u);
  EXPECT_EQ(resumed->input_offsets, GoldenV1().input_offsets);
  EXPECT_TRUE(BlobStoreMarkers(std::nullopt)->empty());  // nothing to restore yet

  Checkpoint next = V2Checkpoint();
  ASSERT_TRUE(upgraded->Write(next).GetFor(kWait).ok());
  EXPECT_EQ(Unsigned(**upgraded->ReadLatest().GetFor(kWait)), next);

  auto rolled_back = Open({.write_versions = {1}, .read_versions = {1}});
  std::optional<Checkpoint> old_view = *rolled_back->ReadLatest().GetFor(kWait);
  ASSERT_TRUE(old_view.has_value());
  EXPECT_EQ(old_view->version, 1u);
  EXPECT_EQ(old_view->input_offsets, next.input_offsets);  // the newest offsets
}

// A commit replaces the latest checkpoint of each version: the task's prefix holds one
// object per version however many commits ran, and reads never list it.
TEST_F(CheckpointStoreTest, WriteReplacesTheLatestOfEachVersionAndReadsNeverList) {
  auto counted = std::make_unique<FaultyBlobStore>(std::move(blobs_));
  FaultyBlobStore& faulty = *counted;
  blobs_ = std::move(counted);
  auto store = Open({.write_versions = {2, 1}});
  std::vector<Checkpoint> written;
  for (int i = 0; i < 4; ++i) {
    written.push_back(V2Checkpoint());
    written.back().input_offsets["input-0"] = std::to_string(i);
    ASSERT_TRUE(store->Write(written.back()).GetFor(kWait).ok());
  }
  EXPECT_EQ(Unsigned(**store->ReadLatest().GetFor(kWait)), written.back());
  std::vector<Checkpoint> all = *store->List().GetFor(kWait);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(Unsigned(all[0]), written.back());
  EXPECT_EQ(all[1].version, 1u);
  EXPECT_EQ(all[1].input_offsets, written.back().input_offsets);
  // The claim: three probe puts (the first creates the probe, the If-Match one fails) and
  // one claim put.
  EXPECT_EQ(faulty.calls(FaultyBlobStore::Method::kPutObject), 4 + 8);
  EXPECT_EQ(faulty.calls(FaultyBlobStore::Method::kListObjects), 0);
  EXPECT_EQ(
      *blobs_->ListObjects("checkpoints/").GetFor(kWait),
      (std::vector<std::string>{"checkpoints/job/t-0/fencing-probe",
                                "checkpoints/job/t-0/latest-v1", "checkpoints/job/t-0/latest-v2"}));
}

TEST_F(CheckpointStoreTest, CorruptLatestCheckpointIsAnErrorNotAFallback) {
  auto store = Open();
  ASSERT_TRUE(store->Write(V2Checkpoint()).GetFor(kWait).ok());
  const std::string name = "checkpoints/job/t-0/latest-v2";
  ASSERT_TRUE(blobs_->PutObject(name, "garbage", {}).GetFor(kWait).ok());
  Result<std::optional<Checkpoint>> r = store->ReadLatest().GetFor(kWait);
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss) << r.status();
  EXPECT_NE(r.status().message().find(name), std::string::npos) << r.status();
  // A version 1 checkpoint under the version 2 name is no version 2 checkpoint either.
  ASSERT_TRUE(blobs_->PutObject(name, EncodeCheckpoint(GoldenV1()), {}).GetFor(kWait).ok());
  r = store->ReadLatest().GetFor(kWait);
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss) << r.status();
  EXPECT_NE(r.status().message().find("holds version 1"), std::string::npos) << r.status();
  // A version read after the one that has the latest checkpoint cannot change it.
  const Checkpoint good = V2Checkpoint();
  ASSERT_TRUE(blobs_->PutObject(name, EncodeCheckpoint(good), {}).GetFor(kWait).ok());
  ASSERT_TRUE(blobs_->PutObject("checkpoints/job/t-0/latest-v1", "garbage", {}).GetFor(kWait).ok());
  r = store->ReadLatest().GetFor(kWait);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)->id, good.id);
}

// A writer of version 1 only (offsets) needs no id: its checkpoints are checked as the
// version 1 objects it puts.
TEST_F(CheckpointStoreTest, AVersion1WriterWritesCheckpointsWithoutAnId) {
  auto store = Open({.write_versions = {1}, .read_versions = {1}});
  const Checkpoint offsets{.input_offsets = {{"in", "7"}}};  // version 2 by default, no id
  ASSERT_TRUE(store->Write(offsets).GetFor(kWait).ok());
  Result<std::optional<Checkpoint>> back = store->ReadLatest().GetFor(kWait);
  ASSERT_TRUE(back.ok() && back->has_value()) << back.status();
  EXPECT_EQ((*back)->version, 1u);
  EXPECT_EQ((*back)->input_offsets, offsets.input_offsets);
}

TEST_F(CheckpointStoreTest, WriteErrorsSurface) {
  auto faulty = std::make_unique<FaultyBlobStore>(std::move(blobs_));
  auto store = *CheckpointStore::Open(*faulty, pool_, {}, "job", "t");
  EXPECT_EQ(store->Write(V2Checkpoint()).GetFor(kWait).status().code(),
            StatusCode::kFailedPrecondition);  // not claimed
  ASSERT_TRUE(store->Claim().GetFor(kWait).ok());
  faulty->ScriptAll(FaultyBlobStore::Method::kPutObject,
                    FaultyBlobStore::Fault::AsyncError(PermissionDeniedError("injected")));
  EXPECT_EQ(store->Write(V2Checkpoint()).GetFor(kWait).status().code(),
            StatusCode::kPermissionDenied);
  EXPECT_EQ(store->Write(Checkpoint{.id = "bad"}).GetFor(kWait).status().code(),
            StatusCode::kInvalidArgument);
}

// W.2, W.3: a second writer's claim fences the first, whose writes all fail from then on
// with kFenced naming the writer that took the task; the second writes on top.
TEST_F(CheckpointStoreTest, ClaimFencesTheEarlierWriter) {
  auto first = Open();
  Checkpoint c1 = V2Checkpoint();
  ASSERT_TRUE(first->Write(c1).GetFor(kWait).ok());
  auto second = Open();
  Result<std::optional<Checkpoint>> seen = second->ReadLatest().GetFor(kWait);
  ASSERT_TRUE(seen.ok() && seen->has_value());
  EXPECT_EQ(Unsigned(**seen), c1);
  EXPECT_EQ((*seen)->writer_epoch, 2u);
  for (int i = 0; i < 2; ++i) {
    Status fenced = first->Write(V2Checkpoint()).GetFor(kWait).status();
    EXPECT_EQ(fenced.code(), StatusCode::kFenced) << fenced;
    EXPECT_NE(fenced.message().find("another writer took the task"), std::string::npos);
    EXPECT_NE(fenced.message().find((*seen)->writer_id), std::string::npos) << fenced;
  }
  Checkpoint c3 = V2Checkpoint();
  ASSERT_TRUE(second->Write(c3).GetFor(kWait).ok());
  std::optional<Checkpoint> latest = *second->ReadLatest().GetFor(kWait);
  EXPECT_EQ(Unsigned(*latest), c3);
  EXPECT_EQ(latest->writer_id, (*seen)->writer_id);
}

// A claim over the last writer epoch there is (a forged or corrupt object: epochs grow by
// one per claim) fails and leaves the object as it was, rather than wrap to 0.
TEST_F(CheckpointStoreTest, AClaimOverTheLastEpochFailsAndChangesNothing) {
  const std::string name = "checkpoints/job/t-0/latest-v2";
  Checkpoint last = V2Checkpoint();
  last.writer_epoch = std::numeric_limits<uint64_t>::max();
  last.writer_id = "host.1.0011223344556677";
  const std::string bytes = EncodeCheckpoint(last);
  ASSERT_TRUE(blobs_->PutObject(name, bytes, {}).GetFor(kWait).ok());
  auto store = Open({}, "t-0", /*claim=*/false);
  Result<std::optional<Checkpoint>> claimed = store->Claim().GetFor(kWait);
  EXPECT_EQ(claimed.status().code(), StatusCode::kDataLoss) << claimed.status();
  EXPECT_NE(claimed.status().message().find("last writer epoch"), std::string::npos);
  EXPECT_EQ(blobs_->GetObject(name).GetFor(kWait)->data, bytes);
}

// W.4: a conditional write whose reply was lost, retried, fails its condition against its
// own write; reading the object back shows it succeeded.
TEST_F(CheckpointStoreTest, LostReplyOfAConditionalWriteIsSuccess) {
  auto faulty = std::make_unique<FaultyBlobStore>(std::move(blobs_));
  FaultyBlobStore& f = *faulty;
  RetryingBlobStore retrying(std::move(faulty), {.initial_backoff = 1ms});
  auto store = *CheckpointStore::Open(retrying, pool_, {}, "job", "t");
  ASSERT_TRUE(store->Claim().GetFor(kWait).ok());
  const int puts = f.calls(FaultyBlobStore::Method::kPutObject);
  f.Script(FaultyBlobStore::Method::kPutObject, puts + 1, FaultyBlobStore::Fault::LostReply());
  Checkpoint c = V2Checkpoint();
  Status s = store->Write(c).GetFor(kWait).status();
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(f.calls(FaultyBlobStore::Method::kPutObject), puts + 2);  // the retry failed
  Checkpoint next = V2Checkpoint();
  ASSERT_TRUE(store->Write(next).GetFor(kWait).ok());  // conditional on the right version
  EXPECT_EQ(Unsigned(**store->ReadLatest().GetFor(kWait)), next);
}

// A blob store that drops the condition of every named-object put, as s3rver does, or
// (`only_if_match`) only If-Match, as a store that had If-None-Match before If-Match might.
class ConditionIgnoringStore final : public testing::ForwardingBlobStore {
 public:
  ConditionIgnoringStore(BlobStore& inner, bool fencing_off, bool only_if_match = false)
      : ForwardingBlobStore(inner), fencing_off_(fencing_off), only_if_match_(only_if_match) {}
  Future<std::string> PutObject(const std::string& name, std::string data,
                                const ObjectCondition& condition) override {
    const bool kept = only_if_match_ && condition.kind == ObjectCondition::Kind::kIfAbsent;
    return inner_.PutObject(name, std::move(data), kept ? condition : ObjectCondition{});
  }
  std::string Describe() const override { return "ignoring(" + inner_.Describe() + ")"; }
  bool FencingOff() const override { return fencing_off_; }

 private:
  const bool fencing_off_;
  const bool only_if_match_;
};

// W.5: a store that ignores conditional writes is refused at the claim, naming the URL
// parameter that turns fencing off; with fencing off it is not probed.
TEST_F(CheckpointStoreTest, ClaimRefusesAStoreThatIgnoresConditions) {
  ConditionIgnoringStore ignoring(*blobs_, /*fencing_off=*/false);
  auto store = *CheckpointStore::Open(ignoring, pool_, {}, "job", "t");
  Status refused = store->Claim().GetFor(kWait).status();
  EXPECT_EQ(refused.code(), StatusCode::kFailedPrecondition) << refused;
  EXPECT_NE(refused.message().find("does not enforce conditional writes"), std::string::npos);
  EXPECT_NE(refused.message().find("fencing=off"), std::string::npos);
  EXPECT_EQ(store->Write(V2Checkpoint()).GetFor(kWait).status().code(),
            StatusCode::kFailedPrecondition);
  EXPECT_FALSE(blobs_->GetObject("checkpoints/job/t/latest-v2").GetFor(kWait).ok());

  // A store that ignores If-Match only is refused too, whether the probe object exists or not.
  for (int claim = 0; claim < 2; ++claim) {
    ConditionIgnoringStore if_match(*blobs_, /*fencing_off=*/false, /*only_if_match=*/true);
    auto half = *CheckpointStore::Open(if_match, pool_, {}, "job", "half");
    refused = half->Claim().GetFor(kWait).status();
    EXPECT_EQ(refused.code(), StatusCode::kFailedPrecondition) << refused;
    EXPECT_NE(refused.message().find("If-Match"), std::string::npos) << refused;
  }

  ConditionIgnoringStore off(*blobs_, /*fencing_off=*/true);
  auto unfenced = *CheckpointStore::Open(off, pool_, {}, "job", "t");
  ASSERT_TRUE(unfenced->Claim().GetFor(kWait).ok());
  EXPECT_TRUE(unfenced->Write(V2Checkpoint()).GetFor(kWait).ok());
}

TEST(CheckpointCodecTest, WriterFieldsAndClaimRecordsRoundTrip) {
  Checkpoint c = V2Checkpoint();
  c.writer_epoch = 7;
  c.writer_id = NewWriterId();
  EXPECT_TRUE(IsValidWriterId(c.writer_id)) << c.writer_id;
  EXPECT_EQ(*DecodeCheckpoint(EncodeCheckpoint(c)), c);
  Checkpoint claim{.writer_epoch = 1, .writer_id = "h.1.00ff"};
  EXPECT_EQ(*DecodeCheckpoint(EncodeCheckpoint(claim)), claim);
  Checkpoint no_id_no_epoch{};
  EXPECT_FALSE(DecodeCheckpoint(EncodeCheckpoint(no_id_no_epoch)).ok());
  Checkpoint bad_writer = c;
  bad_writer.writer_id = "../x y";
  EXPECT_FALSE(DecodeCheckpoint(EncodeCheckpoint(bad_writer)).ok());
  Checkpoint rolled_back = c;
  rolled_back.writer_base = NewCheckpointId();
  EXPECT_EQ(*DecodeCheckpoint(EncodeCheckpoint(rolled_back)), rolled_back);
  rolled_back.writer_base = "../x";
  EXPECT_FALSE(DecodeCheckpoint(EncodeCheckpoint(rolled_back)).ok());
}

// A claim by a writer that opens at a kept checkpoint other than the latest records it as
// the writer base (what gc keeps until that writer's next commit); a claim at the latest,
// and the next write, record none; history objects never carry one.
TEST_F(CheckpointStoreTest, AClaimRecordsTheCheckpointTheWriterRollsBackTo) {
  auto first = Open();
  Checkpoint latest = V2Checkpoint();
  ASSERT_TRUE(first->Write(latest).GetFor(kWait).ok());
  const std::string older = "1700000000000-0011223344556677";
  auto second = Open({}, "t-0", /*claim=*/false);
  Result<std::optional<Checkpoint>> claimed = second->Claim(older).GetFor(kWait);
  ASSERT_TRUE(claimed.ok() && claimed->has_value()) << claimed.status();
  EXPECT_EQ((*claimed)->writer_base, older);
  EXPECT_EQ((**second->ReadLatest().GetFor(kWait)).writer_base, older);
  ASSERT_TRUE(second->WriteHistory(**claimed).GetFor(kWait).ok());
  EXPECT_EQ(second->ReadHistory(latest.id).GetFor(kWait)->writer_base, "");
  ASSERT_TRUE(second->Write(V2Checkpoint()).GetFor(kWait).ok());
  EXPECT_EQ((**second->ReadLatest().GetFor(kWait)).writer_base, "");
  const std::string name = "checkpoints/job/t-0/latest-v2";
  const std::string version = blobs_->GetObject(name).GetFor(kWait)->version;
  auto mistyped = Open({}, "t-0", /*claim=*/false);
  EXPECT_EQ(mistyped->Claim("before-deploy-42").GetFor(kWait).status().code(),
            StatusCode::kInvalidArgument);
  // Nor does a write put a checkpoint that readers would reject.
  Checkpoint invalid = V2Checkpoint();
  invalid.retained = {invalid.id};
  EXPECT_EQ(second->Write(invalid).GetFor(kWait).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(blobs_->GetObject(name).GetFor(kWait)->version, version) << "nothing was put";
  // A base passed to Write is not the claim's: it is not recorded.
  Checkpoint with_base = V2Checkpoint();
  with_base.writer_base = NewCheckpointId();
  ASSERT_TRUE(second->Write(with_base).GetFor(kWait).ok());
  EXPECT_EQ((**second->ReadLatest().GetFor(kWait)).writer_base, "");
  auto third = Open({}, "t-0", /*claim=*/false);
  const std::string now_latest = (**third->ReadLatest().GetFor(kWait)).id;
  claimed = third->Claim(now_latest).GetFor(kWait);
  ASSERT_TRUE(claimed.ok() && claimed->has_value()) << claimed.status();
  EXPECT_EQ((*claimed)->writer_base, "");
}

}  // namespace
}  // namespace blobstate
