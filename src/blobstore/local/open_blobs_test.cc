#include "blobstore/local/open_blobs.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <string>

#include "blobstore/blob_store_testing.h"
#include "testing/temp_dir.h"
#include "util/fs.h"

namespace blobstate::local_internal {
namespace {

using blobstate::testing::TempDir;

class OpenBlobsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::shared_ptr<const Layout>> layout = CreateLayout(tmp_.Sub("store"));
    ASSERT_TRUE(layout.ok()) << layout.status();
    layout_ = *layout;
  }

  std::string Put(const std::string& data) {
    Result<std::string> id =
        PutBlob(*layout_, StringSourceFactory(data),
                {.job_name = "j", .task_name = "t", .store_name = "s", .file_path = "f"});
    EXPECT_TRUE(id.ok()) << id.status();
    return id.ok() ? *id : "";
  }

  // Bytes [offset, offset + n) of `blob`.
  std::string Read(OpenedBlob& blob, const std::string& id, uint64_t offset, uint64_t n) {
    std::string out;
    Status s = ReadBlob(*layout_, blob, id, StringSinkFactory(&out), ByteRange{offset, n});
    EXPECT_TRUE(s.ok()) << s;
    return out;
  }

  TempDir tmp_;
  std::shared_ptr<const Layout> layout_;
};

// Z.6: a blob read again is not opened again; at most `capacity` files stay open, the least
// recently read closed first.
TEST_F(OpenBlobsTest, KeepsTheLastBlobsReadOpenAndNoMore) {
  constexpr size_t kCapacity = 3;
  OpenBlobs open(layout_, kCapacity);
  const std::string first = Put("first blob");
  Result<std::shared_ptr<OpenedBlob>> a = open.Open(first);
  ASSERT_TRUE(a.ok()) << a.status();
  // Kept: read from the same file, though another process deleted it since.
  ASSERT_EQ(::unlink(layout_->BlobPath(first).c_str()), 0);
  Result<std::shared_ptr<OpenedBlob>> again = open.Open(first);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->get(), a->get());
  EXPECT_EQ(Read(**again, first, 6, 4), "blob");
  for (size_t i = 0; i < kCapacity; ++i) {
    ASSERT_TRUE(open.Open(Put("blob " + std::to_string(i))).ok());
  }
  EXPECT_EQ(open.size(), kCapacity);
  // `first` was the least recently read: closed, and now opened from the store, where it
  // is gone.
  EXPECT_EQ(open.Open(first).status().code(), StatusCode::kNotFound);
}

// A blob forgotten (deleted through the store) is opened again from the store.
TEST_F(OpenBlobsTest, AForgottenBlobIsOpenedAgain) {
  OpenBlobs open(layout_, 2);
  const std::string id = Put("some bytes");
  ASSERT_TRUE(open.Open(id).ok());
  ASSERT_TRUE(DeleteBlob(*layout_, id).ok());
  open.Forget(id);
  EXPECT_EQ(open.size(), 0u);
  EXPECT_EQ(open.Open(id).status().code(), StatusCode::kNotFound);
}

// By default, an eighth of the soft limit on open files is kept, within [32, 4096].
TEST(OpenBlobsCapacityTest, IsAnEighthOfTheSoftLimitOnOpenFiles) {
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
  auto capacity_at = [&](rlim_t soft) {
    rlimit limit = saved;
    limit.rlim_cur = std::min(soft, saved.rlim_max);
    EXPECT_EQ(::setrlimit(RLIMIT_NOFILE, &limit), 0);
    return OpenBlobs::DefaultCapacity();
  };
  if (saved.rlim_max >= 1024) {
    EXPECT_EQ(capacity_at(1024), 128u);
  }
  EXPECT_EQ(capacity_at(64), 32u);
  if (saved.rlim_max == RLIM_INFINITY || saved.rlim_max >= 1 << 20) {
    EXPECT_EQ(capacity_at(1 << 20), 4096u);
  }
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &saved), 0);
}

}  // namespace
}  // namespace blobstate::local_internal
