#include "blobstate/history.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <thread>

#include "blobstate/checkpoint.h"
#include "checkpoint/codec.h"
#include "index/wire.h"
#include "testing/temp_dir.h"
#include "util/fs.h"

namespace blobstate {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::system_clock;
constexpr auto kWait = 120s;

std::string Golden(const char* name) {
  return std::string(BLOBSTATE_SOURCE_DIR) + "/testdata/" + name;
}

// An id of a checkpoint made `age` before `now`.
std::string IdAt(Clock::time_point t, char tag = '0') {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch());
  std::string digits = std::to_string(ms.count());
  return std::string(13 - digits.size(), '0') + digits + "-" + std::string(16, tag);
}

// The frozen files in testdata (never regenerated).
Checkpoint GoldenHistory() {
  Checkpoint c;
  c.id = "1764000000000-00112233445566ff";
  c.input_offsets = {{"input-0", "1042"}};
  c.state_markers[std::string(kBlobStoreBackend)] = {{"counts", "job/t/counts/idx-3"}};
  c.writer_epoch = 4;
  c.writer_id = "host-1.4242.0011223344556677";
  c.retained = {"1763999990000-00112233445566aa", "1763999980000-00112233445566bb"};
  c.expiring = {{"1763999970000-00112233445566cc", "counts", "job/t/counts/idx-0"},
                {"1763999970000-00112233445566cc", "", ""}};
  c.history = true;
  return c;
}
std::vector<Pin> GoldenPins() {
  return {{.checkpoint_id = "1763999990000-00112233445566aa",
           .name = "before-deploy-42",
           .created_ms = 1764000001000},
          {.checkpoint_id = "1763999000000-0011223344556600",
           .created_ms = 1764000002000,
           .released = true}};
}

TEST(RetentionTest, KeepsTheLastNAndThoseWithinTheDuration) {
  const Clock::time_point now = Clock::now();
  std::vector<std::string> ids;
  for (int i = 0; i < 6; ++i) ids.push_back(IdAt(now - i * 10min, static_cast<char>('a' + i)));
  using V = std::vector<std::string>;
  EXPECT_EQ(RetainedIds({.keep_last = 1}, ids, now), V{ids[0]});
  EXPECT_EQ(RetainedIds({.keep_last = 3}, ids, now), V(ids.begin(), ids.begin() + 3));
  EXPECT_EQ(RetainedIds({.keep_last = 10}, ids, now), ids);
  // Younger than 35 minutes: the first four, whatever keep_last says.
  EXPECT_EQ(RetainedIds({.keep_last = 1, .keep_within = 35min}, ids, now),
            V(ids.begin(), ids.begin() + 4));
  EXPECT_EQ(RetainedIds({.keep_last = 5, .keep_within = 35min}, ids, now),
            V(ids.begin(), ids.begin() + 5));
}

TEST(RetentionTest, NeverRetainsMoreThanTheCap) {
  const Clock::time_point now = Clock::now();
  std::vector<std::string> ids;
  for (size_t i = 0; i < kMaxRetained + 10; ++i) ids.push_back(IdAt(now - i * 1ms));
  EXPECT_EQ(RetainedIds({.keep_last = 1, .keep_within = 24h}, ids, now).size(), kMaxRetained);
}

TEST(RetentionTest, ValidationNamesTheSetting) {
  EXPECT_TRUE(ValidateRetentionPolicy({}).ok());
  EXPECT_EQ(RetentionPolicy{}.keep_last, 3);
  for (RetentionPolicy bad : {RetentionPolicy{.keep_last = 0}, RetentionPolicy{.keep_last = 1001},
                              RetentionPolicy{.keep_within = -1s},
                              RetentionPolicy{.keep_within = kMaxPolicyPeriod + 1s}}) {
    Status s = ValidateRetentionPolicy(bad);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.message().find("keep-"), std::string::npos) << s;
  }
}

TEST(RetentionTest, CheckpointTimeComesFromTheId) {
  EXPECT_EQ(CheckpointTime("1764000000000-00112233445566ff"),
            Clock::time_point(std::chrono::milliseconds(1764000000000)));
  EXPECT_FALSE(CheckpointTime("not-an-id").has_value());
}

TEST(HistoryCodecTest, CheckpointHistoryFieldsRoundTripAndMatchTheGoldenFile) {
  Checkpoint c = GoldenHistory();
  EXPECT_EQ(*DecodeCheckpoint(EncodeCheckpoint(c)), c);
  Result<std::string> golden = ReadSmallFile(Golden("checkpoint/v2/history.bin"));
  ASSERT_TRUE(golden.ok()) << golden.status();
  EXPECT_EQ(*DecodeCheckpoint(*golden), c);
  EXPECT_EQ(EncodeCheckpoint(c), *golden);
}

TEST(HistoryCodecTest, RejectsBadHistoryFields) {
  Checkpoint bad_retained = GoldenHistory();
  bad_retained.retained.push_back("../escape");
  EXPECT_FALSE(DecodeCheckpoint(EncodeCheckpoint(bad_retained)).ok());
  Checkpoint bad_expiring = GoldenHistory();
  bad_expiring.expiring.push_back({"1763999970000-00112233445566cc", "counts", "/etc/passwd"});
  EXPECT_FALSE(DecodeCheckpoint(EncodeCheckpoint(bad_expiring)).ok());
  Checkpoint half = GoldenHistory();
  half.expiring.push_back({"1763999970000-00112233445566cc", "counts", ""});
  EXPECT_FALSE(DecodeCheckpoint(EncodeCheckpoint(half)).ok());
  // What the commit after it would act on: a retained id twice or the checkpoint's own, more
  // than kMaxRetained of them, or the history object of a kept checkpoint to delete.
  Checkpoint twice = GoldenHistory();
  twice.retained.push_back(twice.retained[0]);
  Checkpoint own = GoldenHistory();
  own.retained.push_back(own.id);
  Checkpoint many = GoldenHistory();
  many.retained.clear();
  for (size_t i = 0; i <= kMaxRetained; ++i) {
    char id[40];
    std::snprintf(id, sizeof id, "1763%09zu-00112233445566aa", i);
    many.retained.push_back(id);
  }
  Checkpoint drops_retained = GoldenHistory();
  drops_retained.expiring.push_back({drops_retained.retained[1], "", ""});
  Checkpoint drops_itself = GoldenHistory();
  drops_itself.expiring.push_back({drops_itself.id, "", ""});
  for (const Checkpoint* c : {&twice, &own, &many, &drops_retained, &drops_itself}) {
    Result<Checkpoint> decoded = DecodeCheckpoint(EncodeCheckpoint(*c));
    EXPECT_EQ(decoded.status().code(), StatusCode::kInvalidArgument) << decoded.status();
  }
  many.retained.pop_back();
  EXPECT_TRUE(DecodeCheckpoint(EncodeCheckpoint(many)).ok()) << "kMaxRetained is allowed";
  // A retained checkpoint's snapshot of a removed store may expire, as a writer from before
  // history listed them.
  Checkpoint snapshot_of_retained = GoldenHistory();
  snapshot_of_retained.expiring.push_back({snapshot_of_retained.retained[0], "gone", "idx-9"});
  EXPECT_TRUE(DecodeCheckpoint(EncodeCheckpoint(snapshot_of_retained)).ok());
}

TEST(HistoryCodecTest, PinsRoundTripMatchTheGoldenFileAndRejectHostileInput) {
  std::vector<Pin> pins = GoldenPins();
  EXPECT_EQ(*DecodePins(EncodePins(pins)), pins);
  EXPECT_TRUE(DecodePins(EncodePins({}))->empty());
  Result<std::string> golden = ReadSmallFile(Golden("pins/v1/pins.bin"));
  ASSERT_TRUE(golden.ok()) << golden.status();
  EXPECT_EQ(*DecodePins(*golden), pins);
  EXPECT_EQ(EncodePins(pins), *golden);
  const std::string good = EncodePins(pins);
  for (size_t n = 0; n < good.size(); ++n) EXPECT_FALSE(DecodePins(good.substr(0, n)).ok()) << n;
  for (size_t i = 0; i < good.size(); ++i) {
    std::string bad = good;
    bad[i] ^= 0x20;
    EXPECT_FALSE(DecodePins(bad).ok()) << "flipped byte " << i;
  }
  std::vector<Pin> twice = {pins[0], pins[0]};
  EXPECT_NE(DecodePins(EncodePins(twice)).status().message().find("pinned twice"),
            std::string::npos);
  std::vector<Pin> bad_name = {{.checkpoint_id = pins[0].checkpoint_id, .name = "a/b"}};
  EXPECT_FALSE(DecodePins(EncodePins(bad_name)).ok());
}

// Fields 3 and 4 of a pin are VARINTs, and field 4 is 1 when present (format.md, "Pins").
TEST(HistoryCodecTest, PinFieldsOfAnotherWireTypeOrFlagValueAreRejected) {
  const std::string id = "1763999990000-00112233445566aa";
  auto pins_of = [](const WireWriter& pin) {
    WireWriter body;
    body.BytesField(1, pin.data());
    return SealEnvelope("BSPN", 1, body.data());
  };
  WireWriter good;
  good.BytesField(1, id);
  good.VarintField(3, 1764000001000);
  good.VarintField(4, 1);
  Result<std::vector<Pin>> decoded = DecodePins(pins_of(good));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_TRUE((*decoded)[0].released);
  WireWriter created_as_bytes;
  created_as_bytes.BytesField(1, id);
  created_as_bytes.BytesField(3, "12345678");
  WireWriter created_as_i64;
  created_as_i64.BytesField(1, id);
  created_as_i64.Key(3, WireType::kI64);
  created_as_i64.Fixed64(1764000001000);
  WireWriter released_2;
  released_2.BytesField(1, id);
  released_2.VarintField(4, 2);
  WireWriter released_0;
  released_0.BytesField(1, id);
  released_0.VarintField(4, 0);
  for (const WireWriter* pin : {&created_as_bytes, &created_as_i64, &released_2, &released_0}) {
    EXPECT_EQ(DecodePins(pins_of(*pin)).status().code(), StatusCode::kInvalidArgument);
  }
}

class HistoryStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::unique_ptr<BlobStore>> s = OpenBlobStore("file://" + tmp_.Sub("bs"), {});
    ASSERT_TRUE(s.ok()) << s.status();
    blobs_ = std::move(*s);
    Result<std::unique_ptr<CheckpointStore>> c =
        CheckpointStore::Open(*blobs_, pool_, {}, "job", "t");
    ASSERT_TRUE(c.ok()) << c.status();
    checkpoints_ = std::move(*c);
  }

  testing::TempDir tmp_;
  ThreadPool pool_{"history-test", 2};
  std::unique_ptr<BlobStore> blobs_;
  std::unique_ptr<CheckpointStore> checkpoints_;
};

TEST_F(HistoryStoreTest, HistoryObjectsKeepWholeCheckpointsWithoutTheirLists) {
  Checkpoint c = GoldenHistory();
  ASSERT_TRUE(checkpoints_->WriteHistory(c).GetFor(kWait).ok());
  Result<Checkpoint> back = checkpoints_->ReadHistory(c.id).GetFor(kWait);
  ASSERT_TRUE(back.ok()) << back.status();
  Checkpoint expected = c;
  expected.retained.clear();
  expected.expiring.clear();
  EXPECT_EQ(*back, expected);
  ASSERT_TRUE(checkpoints_->DeleteHistory(c.id).GetFor(kWait).ok());
  ASSERT_TRUE(checkpoints_->DeleteHistory(c.id).GetFor(kWait).ok());  // idempotent
  Result<Checkpoint> gone = checkpoints_->ReadHistory(c.id).GetFor(kWait);
  EXPECT_EQ(gone.status().code(), StatusCode::kNotFound);
  EXPECT_NE(gone.status().message().find(c.id), std::string::npos);
  EXPECT_EQ(checkpoints_->ReadHistory("../x").GetFor(kWait).status().code(),
            StatusCode::kInvalidArgument);
}

TEST_F(HistoryStoreTest, ConcurrentPinUpdatesLoseNothing) {
  EXPECT_TRUE(checkpoints_->ReadPins().GetFor(kWait)->empty());
  constexpr int kThreads = 4;
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([this, i] {
      Result<std::vector<Pin>> r =
          checkpoints_
              ->UpdatePins([i](std::vector<Pin> pins) -> Result<std::vector<Pin>> {
                pins.push_back({.checkpoint_id = IdAt(Clock::now(), static_cast<char>('a' + i))});
                return pins;
              })
              .GetFor(kWait);
      EXPECT_TRUE(r.ok()) << r.status();
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(checkpoints_->ReadPins().GetFor(kWait)->size(), static_cast<size_t>(kThreads));
  Result<std::vector<Pin>> refused =
      checkpoints_
          ->UpdatePins([](std::vector<Pin>) -> Result<std::vector<Pin>> {
            return NotFoundError("no such checkpoint");
          })
          .GetFor(kWait);
  EXPECT_EQ(refused.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(checkpoints_->ReadPins().GetFor(kWait)->size(), static_cast<size_t>(kThreads));
}

}  // namespace
}  // namespace blobstate
