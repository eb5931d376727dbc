#include "util/failpoint.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <initializer_list>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "testing/temp_dir.h"
#include "util/fs.h"

namespace blobstate {
namespace {

using testing::TempDir;

class FailpointTest : public ::testing::Test {
 protected:
  void SetUp() override { DisarmAllFailpoints(); }
  void TearDown() override {
    unsetenv("BLOBSTATE_FAILPOINTS");
    DisarmAllFailpoints();
  }
  // Arms BLOBSTATE_FAILPOINTS=`list` and checks that each entry of `bad` was reported.
  static void LoadReporting(const std::string& list, std::initializer_list<std::string_view> bad) {
    ASSERT_EQ(setenv("BLOBSTATE_FAILPOINTS", list.c_str(), 1), 0);
    ::testing::internal::CaptureStderr();
    ReloadFailpointsFromEnvironmentForTesting();
    const std::string err = ::testing::internal::GetCapturedStderr();
    for (std::string_view entry : bad) {
      EXPECT_NE(err.find("entry '" + std::string(entry) + "'"), std::string::npos) << entry;
    }
  }
};

TEST_F(FailpointTest, DisarmedIsOk) {
  EXPECT_TRUE(Failpoint("upload.after_index").ok());
  EXPECT_EQ(FailpointHits("upload.after_index"), 0);
  ArmFailpoint("other", FailpointAction::kError);
  EXPECT_TRUE(Failpoint("upload.after_index").ok());
  DisarmAllFailpoints();
  EXPECT_TRUE(Failpoint("other").ok());
}

TEST_F(FailpointTest, ErrorActionReturnsUnavailableNamingIt) {
  ArmFailpoint("put.before_blob", FailpointAction::kError);
  for (int i = 0; i < 3; ++i) {  // the default for errors is every hit
    Status s = Failpoint("put.before_blob");
    EXPECT_EQ(s.code(), StatusCode::kUnavailable);
    EXPECT_EQ(s.message(), "failpoint put.before_blob");
  }
  EXPECT_EQ(FailpointHits("put.before_blob"), 3);
}

TEST_F(FailpointTest, NthHitOnly) {
  ArmFailpoint("put.before_blob", FailpointAction::kError, 3);
  EXPECT_TRUE(Failpoint("put.before_blob").ok());
  EXPECT_TRUE(Failpoint("put.before_blob").ok());
  EXPECT_EQ(Failpoint("put.before_blob").code(), StatusCode::kUnavailable);
  EXPECT_TRUE(Failpoint("put.before_blob").ok());
  EXPECT_EQ(FailpointHits("put.before_blob"), 4);

  ArmFailpoint("put.before_blob", FailpointAction::kError, 1);  // re-arming resets the count
  EXPECT_EQ(FailpointHits("put.before_blob"), 0);
  EXPECT_EQ(Failpoint("put.before_blob").code(), StatusCode::kUnavailable);
  EXPECT_TRUE(Failpoint("put.before_blob").ok());
}

TEST_F(FailpointTest, CrashExitsWithTheFailpointCode) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        ArmFailpoint("upload.after_index", FailpointAction::kCrash, 2);
        if (!Failpoint("upload.after_index").ok()) _exit(1);  // first hit passes
        Failpoint("upload.after_index").IgnoreError();
        _exit(2);  // not reached
      },
      ::testing::ExitedWithCode(kFailpointExitCode),
      "blobstate: failpoint upload.after_index: crash");
}

TEST_F(FailpointTest, EnvironmentListIsParsed) {
  ASSERT_EQ(setenv("BLOBSTATE_FAILPOINTS",
                   "a=error, no_equals ,b=explode,c=error@0,d=error@x,=error,e=crash@2,,"
                   "f=error@3,g h=error,i=error@99999999999,a=error@2",
                   1),
            0);
  ::testing::internal::CaptureStderr();
  ReloadFailpointsFromEnvironmentForTesting();
  std::string err = ::testing::internal::GetCapturedStderr();

  for (std::string_view bad : {"no_equals", "b=explode", "c=error@0", "d=error@x", "=error",
                               "g h=error", "i=error@99999999999"}) {
    std::string line =
        "blobstate: ignoring malformed BLOBSTATE_FAILPOINTS entry '" + std::string(bad) + "'\n";
    size_t at = err.find(line);
    EXPECT_NE(at, std::string::npos) << bad;
    EXPECT_EQ(err.find(line, at + 1), std::string::npos) << bad << " reported twice";
  }
  for (std::string_view ignored : {"no_equals", "b", "c", "d", "", "g h", "i"}) {
    EXPECT_TRUE(Failpoint(ignored).ok()) << ignored;
    EXPECT_EQ(FailpointHits(ignored), 0) << ignored;
  }

  // The later "a" entry wins: only its second hit fails.
  EXPECT_TRUE(Failpoint("a").ok());
  EXPECT_EQ(Failpoint("a").code(), StatusCode::kUnavailable);
  // "e" crashes on its second hit; the first passes and is counted.
  EXPECT_TRUE(Failpoint("e").ok());
  EXPECT_EQ(FailpointHits("e"), 1);
  EXPECT_TRUE(Failpoint("f").ok());
  EXPECT_TRUE(Failpoint("f").ok());
  EXPECT_EQ(Failpoint("f").code(), StatusCode::kUnavailable);
}

TEST_F(FailpointTest, SleepActionStallsThenPasses) {
  LoadReporting("s=sleep:30@2,t=sleep:0,u=sleep:600001,v=sleep:x",
                {"t=sleep:0", "u=sleep:600001", "v=sleep:x"});
  EXPECT_TRUE(Failpoint("s").ok());  // the first hit passes at once
  const auto started = std::chrono::steady_clock::now();
  EXPECT_TRUE(Failpoint("s").ok());  // the second stalls, then passes
  EXPECT_GE(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(30));
  EXPECT_EQ(FailpointHits("s"), 2);
}

TEST_F(FailpointTest, WaitActionHoldsTheStepUntilItsFileExists) {
  TempDir tmp;
  const std::string go = tmp.Sub("go");
  LoadReporting("w=wait:" + go + "@2,x=wait:relative/go,y=wait:,z=wait:/a@b",
                {"x=wait:relative/go", "y=wait:", "z=wait:/a@b"});
  EXPECT_TRUE(Failpoint("w").ok());  // the first hit passes at once
  std::atomic<bool> passed{false};
  Status second;
  std::thread held([&] {
    second = Failpoint("w");
    passed = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(passed) << "no file at " << go << " yet";
  ASSERT_TRUE(WriteFileAtomic(go, "").ok());
  held.join();
  EXPECT_TRUE(second.ok()) << second;

  ArmFailpointWait("v", go);  // armed in-process; the file exists: every hit passes
  EXPECT_TRUE(Failpoint("v").ok());
  EXPECT_TRUE(Failpoint("v").ok());
  EXPECT_EQ(FailpointHits("v"), 2);
}

TEST_F(FailpointTest, ConcurrentHitsAreAllCounted) {
  ArmFailpoint("x", FailpointAction::kError, 1000);
  std::vector<std::thread> threads;
  std::atomic<int> errors{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 500; ++i) errors += !Failpoint("x").ok();
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(FailpointHits("x"), 2000);
  EXPECT_EQ(errors.load(), 1);
}

}  // namespace
}  // namespace blobstate
