#include "blobstate/blob_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <set>

#include "blobstore/blob_ids.h"
#include "blobstore/blob_store_testing.h"
#include "testing/temp_dir.h"

namespace blobstate {
namespace {

using testing::kWait;
using testing::TempDir;

TEST(BlobStoreTest, IsValidBlobIdAcceptsTheDocumentedAlphabet) {
  for (const std::string& id : std::vector<std::string>{
           "a", "A-Z_0.9", "job/task/store/x", "a/b", "...", "a/.b", "-", std::string(512, 'x')}) {
    EXPECT_TRUE(IsValidBlobId(id)) << id;
  }
}

TEST(BlobStoreTest, IsValidBlobIdRejectsPathsAndOddCharacters) {
  for (const std::string& id : std::vector<std::string>{
           "", "/a", "a/", "a//b", ".", "..", "../a", "a/../b", "a/./b", "a/..", "a b", "a\\b",
           "a\n", "a:b", "a%2f", "ü", std::string("a\0b", 3), std::string(513, 'x')}) {
    EXPECT_FALSE(IsValidBlobId(id)) << id;
  }
}

TEST(BlobStoreTest, StringSourceFactoryGivesAFreshSourceEachCall) {
  SourceFactory factory = StringSourceFactory("hello");
  for (int attempt = 0; attempt < 2; ++attempt) {
    Result<std::unique_ptr<BlobSource>> source = factory();
    ASSERT_TRUE(source.ok());
    EXPECT_EQ((*source)->size(), 5u);
    char buf[3];
    std::string got;
    for (;;) {
      Result<size_t> n = (*source)->Read(buf, sizeof(buf));
      ASSERT_TRUE(n.ok());
      if (*n == 0) break;
      got.append(buf, *n);
    }
    EXPECT_EQ(got, "hello");
  }
}

TEST(BlobStoreTest, StringSinkShowsBytesOnlyAfterFinishAndClearsOnEachAttempt) {
  std::string out = "stale";
  SinkFactory factory = StringSinkFactory(&out);
  Result<std::unique_ptr<BlobSink>> sink = factory();
  ASSERT_TRUE(sink.ok());
  EXPECT_EQ(out, "");
  ASSERT_TRUE((*sink)->Write("abc", 3).ok());
  EXPECT_EQ(out, "") << "an unfinished sink must leave nothing visible";
  ASSERT_TRUE((*sink)->Finish().ok());
  EXPECT_EQ(out, "abc");
  ASSERT_TRUE(factory().ok());
  EXPECT_EQ(out, "");
}

TEST(BlobStoreTest, NewBlobIdEmbedsSanitizedMetadataAndStaysValid) {
  BlobMetadata meta{.job_name = "word count",
                    .task_name = "Partition/0",
                    .store_name = "..",
                    .file_path = "db/000012.sst"};
  std::string id = NewBlobId(meta, std::chrono::system_clock::from_time_t(1704164645));
  EXPECT_TRUE(IsValidBlobId(id)) << id;
  EXPECT_EQ(id.rfind("word_count/Partition_0/__/20240102T030405Z-", 0), 0u) << id;
  EXPECT_EQ(id.substr(id.size() - 11), "-000012.sst") << id;

  BlobMetadata hostile{.job_name = std::string(1000, '/'),
                       .task_name = "",
                       .store_name = ".",
                       .file_path = std::string(1000, '\xff')};
  std::string long_id = NewBlobId(hostile, std::chrono::system_clock::now());
  EXPECT_TRUE(IsValidBlobId(long_id)) << long_id;
  EXPECT_LE(long_id.size(), 320u);
}

TEST(BlobStoreTest, NewBlobIdNeverRepeats) {
  BlobMetadata meta{.job_name = "j", .task_name = "t", .store_name = "s"};
  auto now = std::chrono::system_clock::now();
  std::set<std::string> ids;
  for (int i = 0; i < 10000; ++i) ids.insert(NewBlobId(meta, now));
  EXPECT_EQ(ids.size(), 10000u);
}

TEST(BlobStoreTest, OpenRejectsUnknownScheme) {
  for (std::string url : {"http://x/y", "gs://bucket/x"}) {
    Result<std::unique_ptr<BlobStore>> store = OpenBlobStore(url, {});
    ASSERT_FALSE(store.ok()) << url;
    EXPECT_EQ(store.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(store.status().message().find(url), std::string::npos) << store.status();
    EXPECT_NE(store.status().message().find("supported: file://"), std::string::npos)
        << store.status();
  }
}

TEST(BlobStoreTest, OpenRejectsMalformedUrls) {
  for (std::string url : {"", "/tmp/x", "file:/tmp/x", "file:", "file://", "file:///", "://x"}) {
    Result<std::unique_ptr<BlobStore>> store = OpenBlobStore(url, {});
    ASSERT_FALSE(store.ok()) << url;
    EXPECT_EQ(store.status().code(), StatusCode::kInvalidArgument) << url;
    EXPECT_NE(store.status().message().find("'" + url + "'"), std::string::npos) << store.status();
  }
}

TEST(BlobStoreTest, OpenRejectsZeroThreadsAndZeroAttempts) {
  TempDir tmp;
  EXPECT_EQ(OpenBlobStore("file://" + tmp.Sub("a"), {.io_threads = 0}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(OpenBlobStore("file://" + tmp.Sub("a"), {.retry = {.max_attempts = 0}}).status().code(),
            StatusCode::kInvalidArgument);
}

// Round-trips one blob through the store at `url`.
void ExpectRoundTrip(const std::string& url) {
  Result<std::unique_ptr<BlobStore>> store = OpenBlobStore(url, {.io_threads = 2});
  ASSERT_TRUE(store.ok()) << store.status();
  Result<std::string> id = (*store)->Put(StringSourceFactory("bytes"), {}).GetFor(kWait);
  ASSERT_TRUE(id.ok()) << id.status();
  std::string back;
  ASSERT_TRUE((*store)->Get(*id, StringSinkFactory(&back)).GetFor(kWait).ok());
  EXPECT_EQ(back, "bytes");
}

TEST(BlobStoreTest, OpenAcceptsAbsoluteFileUrl) {
  TempDir tmp;
  ExpectRoundTrip("file://" + tmp.Sub("store"));
  EXPECT_TRUE(PathExists(tmp.Sub("store/blobs")));
  Result<std::unique_ptr<BlobStore>> store = OpenBlobStore("FILE://" + tmp.Sub("store"), {});
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ((*store)->Describe(), "file://" + tmp.Sub("store"));
}

TEST(BlobStoreTest, OpenResolvesRelativeFileUrlAgainstWorkingDir) {
  TempDir tmp;
  char cwd[4096];
  ASSERT_NE(::getcwd(cwd, sizeof(cwd)), nullptr);
  // A relative path from the working directory to tmp: up to '/', then down.
  std::string up;
  for (const char* p = cwd; *p != '\0'; ++p) {
    if (*p == '/' && p[1] != '\0') up += "../";
  }
  ExpectRoundTrip("file://" + up + tmp.Sub("rel").substr(1));
  EXPECT_TRUE(PathExists(tmp.Sub("rel/blobs")));
}

}  // namespace
}  // namespace blobstate
