#include <gtest/gtest.h>

#include <set>
#include <thread>
#include <vector>

#include "blobstate/checkpoint.h"

namespace blobstate {
namespace {

TEST(CheckpointIdTest, IdsAreValidUniqueAndStrictlyIncreasing) {
  std::string last;
  for (int i = 0; i < 1000; ++i) {
    std::string id = NewCheckpointId();
    ASSERT_TRUE(IsValidCheckpointId(id)) << id;
    EXPECT_GT(id, last);  // even when many fall in the same millisecond
    last = id;
  }
}

TEST(CheckpointIdTest, IdsFromManyThreadsNeverCollide) {
  std::vector<std::vector<std::string>> ids(4);
  std::vector<std::thread> threads;
  for (auto& v : ids) {
    threads.emplace_back([&v] {
      for (int i = 0; i < 500; ++i) v.push_back(NewCheckpointId());
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::string> all;
  for (const auto& v : ids) all.insert(v.begin(), v.end());
  EXPECT_EQ(all.size(), 2000u);
}

TEST(CheckpointIdTest, RejectsMalformedIds) {
  for (const char* bad : {"", "1700000000000", "1700000000000-", "170000000000-0123456789abcdef",
                          "1700000000000-0123456789ABCDEF", "1700000000000_0123456789abcdef",
                          "1700000000000-0123456789abcde", "../00000000000-0123456789abcdef",
                          "1700000000000-0123456789abcdef0"}) {
    EXPECT_FALSE(IsValidCheckpointId(bad)) << bad;
  }
  EXPECT_TRUE(IsValidCheckpointId("1700000000000-0123456789abcdef"));
}

}  // namespace
}  // namespace blobstate
