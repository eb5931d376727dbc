#include "store/lazy_files.h"

#include <gtest/gtest.h>

namespace blobstate {
namespace {

// Z.1: the background download starts no part beyond one while a read waits, and goes on
// at full width once none does.
TEST(ForegroundTest, TheDownloadYieldsToWaitingReadsButNeverStops) {
  Foreground foreground;
  Future<void> first = foreground.Turn();
  EXPECT_TRUE(first.IsReady());  // no read waits
  Future<void> second = foreground.Turn();
  EXPECT_TRUE(second.IsReady());
  foreground.Enter();  // a read waits
  Future<void> third = foreground.Turn();
  EXPECT_FALSE(third.IsReady());
  foreground.Done();
  EXPECT_FALSE(third.IsReady());  // one part is still in flight
  foreground.Done();
  EXPECT_TRUE(third.IsReady());  // none was: one may start
  Future<void> fourth = foreground.Turn(), fifth = foreground.Turn();
  EXPECT_FALSE(fourth.IsReady());
  EXPECT_FALSE(fifth.IsReady());
  foreground.Leave();  // no read waits: all go
  EXPECT_TRUE(fourth.IsReady());
  EXPECT_TRUE(fifth.IsReady());
  for (int i = 0; i < 3; ++i) foreground.Done();
  EXPECT_TRUE(foreground.Turn().IsReady());
  foreground.Done();
}

}  // namespace
}  // namespace blobstate
