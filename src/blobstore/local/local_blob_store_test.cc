#include "blobstore/local/local_blob_store.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <set>

#include "blobstore/blob_store_testing.h"
#include "blobstore/local/local_ops.h"
#include "testing/temp_dir.h"
#include "util/fs.h"

namespace blobstate {
namespace {

using std::chrono::system_clock;
using testing::kWait;
using testing::ReadTree;
using testing::SinkLog;
using testing::SourceLog;
using testing::TempDir;
using testing::Tree;
using namespace std::chrono_literals;

class LocalBlobStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::unique_ptr<LocalBlobStore>> s = LocalBlobStore::Open(dir_, pool_);
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
  }

  std::string PutOk(std::string data, std::chrono::seconds ttl = 0s) {
    BlobMetadata meta = meta_;
    meta.ttl = ttl;
    Result<std::string> id = store_->Put(StringSourceFactory(std::move(data)), meta).GetFor(kWait);
    EXPECT_TRUE(id.ok()) << id.status();
    return id.ok() ? *id : "";
  }

  std::vector<std::string> Expired(system_clock::time_point now) {
    Result<std::vector<std::string>> ids = blobstate::testing::ExpiringBefore(*store_, now);
    EXPECT_TRUE(ids.ok()) << ids.status();
    return ids.ok() ? *ids : std::vector<std::string>{};
  }

  // The files under `sub` of the store (directories left out).
  std::set<std::string> FilesUnder(const std::string& sub) {
    Result<Tree> tree = ReadTree(JoinPath(dir_, sub));
    EXPECT_TRUE(tree.ok()) << tree.status();
    std::set<std::string> files;
    for (const auto& [path, content] : tree.ok() ? *tree : Tree{}) {
      if (path.back() != '/') files.insert(path);
    }
    return files;
  }

  TempDir tmp_;
  std::string dir_ = tmp_.Sub("store");
  ThreadPool pool_{"local-test-io", 3};
  BlobMetadata meta_{.job_name = "job", .task_name = "task", .store_name = "store"};
  std::unique_ptr<LocalBlobStore> store_;
};

TEST_F(LocalBlobStoreTest, OpenRequiresAnAbsoluteDirectory) {
  EXPECT_EQ(LocalBlobStore::Open("relative/dir", 1).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(LocalBlobStore::Open(dir_, 0).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(LocalBlobStoreTest, LayoutMatchesTheDocumentation) {
  auto before = system_clock::now();
  std::string id = PutOk("content", 1h);
  auto after = system_clock::now();
  std::string rel = local_internal::ShardOf(id) + "/" + id;
  EXPECT_EQ(FilesUnder("pending"), std::set<std::string>{rel});
  EXPECT_TRUE(FilesUnder("blobs").empty());
  EXPECT_TRUE(FilesUnder("tmp").empty());
  Result<std::string> blob = ReadSmallFile(JoinPath(dir_, "pending/" + rel));
  ASSERT_TRUE(blob.ok()) << blob.status();
  EXPECT_EQ(*blob, "content");
  Result<struct stat> st = LStat(JoinPath(dir_, "pending/" + rel));
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_GE(st->st_mtim.tv_sec, system_clock::to_time_t(before + 1h) - 1) << "mtime is the expiry";
  EXPECT_LE(st->st_mtim.tv_sec, system_clock::to_time_t(after + 1h));
  ASSERT_TRUE(store_->RemoveTtl(id).GetFor(kWait).ok());
  EXPECT_TRUE(FilesUnder("pending").empty());
  EXPECT_EQ(FilesUnder("blobs"), std::set<std::string>{rel});
}

TEST_F(LocalBlobStoreTest, PutWithoutTtlIsPermanentAtOnce) {
  std::string id = PutOk("forever");
  EXPECT_EQ(FilesUnder("blobs"), std::set<std::string>{local_internal::ShardOf(id) + "/" + id});
  EXPECT_TRUE(FilesUnder("pending").empty());
  EXPECT_TRUE(store_->RemoveTtl(id).GetFor(kWait).ok()) << "idempotent";
  EXPECT_TRUE(Expired(system_clock::now() + 1000h).empty());
}

TEST_F(LocalBlobStoreTest, DeleteRemovesABlobWithOrWithoutTtl) {
  std::string pending = PutOk("p", 1h);
  std::string permanent = PutOk("q");
  for (const std::string& id : {pending, permanent}) {
    EXPECT_TRUE(store_->Delete(id).GetFor(kWait).ok()) << id;
    EXPECT_EQ(store_->Delete(id).GetFor(kWait).status().code(), StatusCode::kGone) << id;
  }
  EXPECT_TRUE(FilesUnder("pending").empty());
  EXPECT_TRUE(FilesUnder("blobs").empty());
}

TEST_F(LocalBlobStoreTest, GetRacingRemoveTtlAlwaysFindsTheBlob) {
  for (int i = 0; i < 100; ++i) {
    std::string id = PutOk("racing", 1h);
    std::string back;
    Future<void> get = store_->Get(id, StringSinkFactory(&back));
    Future<void> remove = store_->RemoveTtl(id);
    Status got = std::move(get).GetFor(kWait).status();
    ASSERT_TRUE(got.ok()) << i << ": " << got;
    ASSERT_TRUE(std::move(remove).GetFor(kWait).ok()) << i;
    EXPECT_EQ(back, "racing");
  }
}

TEST_F(LocalBlobStoreTest, ReadsLeaveABlobsAtimeAlone) {
  // A blob with a TTL has its expiry as mtime, past its atime: relatime would update that.
  std::string id = PutOk("untouched", 1h);
  const std::string path = JoinPath(dir_, "pending/" + local_internal::ShardOf(id) + "/" + id);
  struct stat before;
  ASSERT_EQ(::stat(path.c_str(), &before), 0) << path;
  const struct timespec times[2] = {{.tv_sec = before.st_mtim.tv_sec - 7200, .tv_nsec = 0},
                                    {.tv_sec = 0, .tv_nsec = UTIME_OMIT}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
  std::string back;
  ASSERT_TRUE(store_->Get(id, StringSinkFactory(&back)).GetFor(kWait).ok());
  std::string range;
  ASSERT_TRUE(store_->ReadRange(id, 2, 4, StringSinkFactory(&range)).ok());
  EXPECT_EQ(back, "untouched");
  EXPECT_EQ(range, "touc");
  struct stat after;
  ASSERT_EQ(::stat(path.c_str(), &after), 0);
  EXPECT_EQ(after.st_atim.tv_sec, times[0].tv_sec);
}

TEST_F(LocalBlobStoreTest, FlushSucceeds) {
  PutOk("x", 1h);
  EXPECT_TRUE(store_->Flush().GetFor(kWait).ok());
}

TEST_F(LocalBlobStoreTest, RejectsPathTraversalIds) {
  ASSERT_TRUE(WriteFileAtomic(tmp_.Sub("victim"), "keep").ok());
  ASSERT_TRUE(WriteFileAtomic(JoinPath(dir_, "pending/victim"), "keep").ok());
  auto sinks = std::make_shared<SinkLog>();
  for (const std::string& id :
       std::vector<std::string>{"../victim", "../../victim", "a/../../../victim", "/etc/passwd",
                                "a//b", "", "./x", "x/.", "a\\b", "a b", std::string(513, 'a')}) {
    for (Status s : {store_->Get(id, testing::RecordingSinkFactory(sinks)).GetFor(kWait).status(),
                     store_->Delete(id).GetFor(kWait).status(),
                     store_->RemoveTtl(id).GetFor(kWait).status()}) {
      EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << id << ": " << s;
    }
  }
  EXPECT_EQ(sinks->opened, 0);
  EXPECT_TRUE(PathExists(tmp_.Sub("victim")));
  EXPECT_TRUE(PathExists(JoinPath(dir_, "pending/victim")));
  // A listing walks only the store's own trees, and a token it did not make is refused.
  for (const std::string& prefix : {"../", "../../x", "a/../../", "/etc/", "a b"}) {
    EXPECT_EQ(store_->ListBlobs(prefix, "").GetFor(kWait).status().code(),
              StatusCode::kInvalidArgument)
        << prefix;
  }
  for (const std::string& token : {"zz:", "0", "1:", "-1:x", "+f:"}) {
    EXPECT_EQ(store_->ListBlobs("", token).GetFor(kWait).status().code(),
              StatusCode::kInvalidArgument)
        << token;
  }
  EXPECT_TRUE(store_->ListBlobs("job/", "").GetFor(kWait).ok());
}

TEST_F(LocalBlobStoreTest, CrashedPutLeavesNoVisibleBlob) {
  auto log = std::make_shared<SourceLog>();
  std::string data(3 * kIoChunkSize, 'x');
  SourceFactory failing =
      testing::ScriptedSourceFactory(data, log,
                                     {.claimed_size = data.size(),
                                      .fail_after = kIoChunkSize + 100,
                                      .error = FailedPreconditionError("file changed under us")});
  BlobMetadata meta = meta_;
  meta.ttl = 1h;
  Result<std::string> id = store_->Put(failing, meta).GetFor(kWait);
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.status(), FailedPreconditionError("file changed under us"));
  EXPECT_EQ(log->bytes.load(), kIoChunkSize + 100);
  EXPECT_TRUE(FilesUnder("blobs").empty());
  EXPECT_TRUE(FilesUnder("pending").empty());
  EXPECT_TRUE(FilesUnder("tmp").empty());
}

TEST_F(LocalBlobStoreTest, SourceSizeMismatchIsDataLossAndLeavesNothing) {
  for (uint64_t claimed : {uint64_t{10}, uint64_t{1000}}) {
    auto log = std::make_shared<SourceLog>();
    Result<std::string> id = store_
                                 ->Put(testing::ScriptedSourceFactory(std::string(100, 'y'), log,
                                                                      {.claimed_size = claimed}),
                                       meta_)
                                 .GetFor(kWait);
    ASSERT_FALSE(id.ok()) << claimed;
    EXPECT_EQ(id.status().code(), StatusCode::kDataLoss) << id.status();
  }
  EXPECT_TRUE(FilesUnder("blobs").empty());
  EXPECT_TRUE(FilesUnder("tmp").empty());
}

TEST_F(LocalBlobStoreTest, ExpiredBlobsAreListed) {
  auto before = system_clock::now();
  std::string short_lived = PutOk("a", 60s);
  std::string long_lived = PutOk("b", 3600s);
  std::string permanent = PutOk("c");
  auto after = system_clock::now();
  EXPECT_EQ(Expired(before + 59s), std::vector<std::string>{});
  EXPECT_EQ(Expired(after + 61s), std::vector<std::string>{short_lived});
  std::vector<std::string> both = {short_lived, long_lived};
  std::sort(both.begin(), both.end());
  EXPECT_EQ(Expired(after + 3601s), both);
  ASSERT_TRUE(store_->RemoveTtl(long_lived).GetFor(kWait).ok());
  EXPECT_EQ(Expired(after + 3601s), std::vector<std::string>{short_lived});
}

TEST_F(LocalBlobStoreTest, ExpiredBlobStaysReadableUntilDeleted) {
  std::string id = PutOk("still here", 1s);
  ASSERT_EQ(Expired(system_clock::now() + 1h).size(), 1u);
  std::string back;
  ASSERT_TRUE(store_->Get(id, StringSinkFactory(&back)).GetFor(kWait).ok());
  EXPECT_EQ(back, "still here");
  ASSERT_TRUE(store_->Delete(id).GetFor(kWait).ok());
  EXPECT_EQ(store_->Get(id, StringSinkFactory(&back)).GetFor(kWait).status().code(),
            StatusCode::kNotFound);
  EXPECT_TRUE(Expired(system_clock::now() + 1h).empty());
}

TEST_F(LocalBlobStoreTest, FilesThatNoPutWroteAreNotListedAsExpired) {
  std::string id = "job/task/store/foreign";
  std::string wrong_shard = local_internal::ShardOf(id) == "00" ? "01" : "00";
  for (const std::string& rel :
       std::vector<std::string>{wrong_shard + "/" + id, "loose", "ab/bad id"}) {
    ASSERT_TRUE(MakeDirs(DirName(JoinPath(dir_, "pending/" + rel))).ok());
    ASSERT_TRUE(WriteFileAtomic(JoinPath(dir_, "pending/" + rel), "?").ok());
    struct timespec old_times[2] = {{.tv_sec = 1000, .tv_nsec = 0}, {.tv_sec = 1000, .tv_nsec = 0}};
    ASSERT_EQ(::utimensat(AT_FDCWD, JoinPath(dir_, "pending/" + rel).c_str(), old_times, 0), 0);
  }
  EXPECT_TRUE(Expired(system_clock::now()).empty());
  EXPECT_EQ(FilesUnder("pending").size(), 3u) << "skipped, never deleted";
}

TEST_F(LocalBlobStoreTest, FlushSweepsStaleTempFiles) {
  ASSERT_TRUE(WriteFileAtomic(JoinPath(dir_, "tmp/old.blob"), "crashed put").ok());
  ASSERT_TRUE(WriteFileAtomic(JoinPath(dir_, "tmp/new.blob"), "running put").ok());
  struct timespec old_times[2] = {{.tv_sec = time(nullptr) - 2 * 3600, .tv_nsec = 0},
                                  {.tv_sec = time(nullptr) - 2 * 3600, .tv_nsec = 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, JoinPath(dir_, "tmp/old.blob").c_str(), old_times, 0), 0);
  Expired(system_clock::now());  // a listing changes nothing
  EXPECT_EQ(FilesUnder("tmp").size(), 2u);
  ASSERT_TRUE(store_->Flush().GetFor(kWait).ok());
  EXPECT_EQ(FilesUnder("tmp"), std::set<std::string>{"new.blob"});
}

TEST_F(LocalBlobStoreTest, IdsNeverRepeat) {
  std::vector<Future<std::string>> puts;
  for (int i = 0; i < 50; ++i) puts.push_back(store_->Put(StringSourceFactory(""), meta_));
  std::set<std::string> ids;
  for (auto& f : puts) {
    Result<std::string> id = std::move(f).GetFor(kWait);
    ASSERT_TRUE(id.ok()) << id.status();
    EXPECT_TRUE(IsValidBlobId(*id)) << *id;
    EXPECT_EQ(id->rfind("job/task/store/", 0), 0u) << *id;
    ids.insert(*id);
  }
  EXPECT_EQ(ids.size(), puts.size());
}

TEST_F(LocalBlobStoreTest, MissingBlobErrorsNameTheId) {
  std::string id = "job/task/store/never-put";
  std::string back;
  Status get = store_->Get(id, StringSinkFactory(&back)).GetFor(kWait).status();
  EXPECT_EQ(get.code(), StatusCode::kNotFound);
  EXPECT_NE(get.message().find(id), std::string::npos) << get;
  EXPECT_NE(get.message().find(dir_), std::string::npos) << get;
  Status remove_ttl = store_->RemoveTtl(id).GetFor(kWait).status();
  EXPECT_EQ(remove_ttl.code(), StatusCode::kNotFound);
  EXPECT_NE(remove_ttl.message().find(id), std::string::npos) << remove_ttl;
}

TEST_F(LocalBlobStoreTest, IdBelowAnExistingBlobIsAbsentNotAnError) {
  std::string id = PutOk("x", 1h);  // pending/<shard>/<id> is a file, its parent a directory
  std::string below = id + "/more";
  std::string above = id.substr(0, id.find_last_of('/'));  // a directory in the layout
  for (const std::string& absent : {below, above}) {
    std::string back;
    EXPECT_EQ(store_->Get(absent, StringSinkFactory(&back)).GetFor(kWait).status().code(),
              StatusCode::kNotFound)
        << absent;
    EXPECT_EQ(store_->Delete(absent).GetFor(kWait).status().code(), StatusCode::kGone) << absent;
    EXPECT_EQ(store_->RemoveTtl(absent).GetFor(kWait).status().code(), StatusCode::kNotFound)
        << absent;
  }
}

// Pending blobs are files under pending/<shard>/; an id that names the directory of a
// longer id's pending blob (the shards of the two ids agree, one in 256) is no blob: its
// RemoveTtl must not move that directory, with the other blob, out of pending/.
TEST_F(LocalBlobStoreTest, AnIdNamingAnotherPendingBlobsDirectoryIsNoBlob) {
  std::string id, above;
  for (int i = 0; i < 4096 && above.empty(); ++i) {
    id = PutOk("x", 1h);
    const std::string parent = id.substr(0, id.find_last_of('/'));
    if (local_internal::ShardOf(parent) == local_internal::ShardOf(id)) above = parent;
  }
  ASSERT_FALSE(above.empty()) << "no id whose parent shares its shard in 4096 puts";
  EXPECT_EQ(store_->RemoveTtl(above).GetFor(kWait).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->ExpiryOf(above).GetFor(kWait).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->DeleteExpired(above, std::chrono::system_clock::now() + 2h)
                .GetFor(kWait)
                .status()
                .code(),
            StatusCode::kGone);
  Result<std::optional<std::chrono::system_clock::time_point>> expiry =
      store_->ExpiryOf(id).GetFor(kWait);
  ASSERT_TRUE(expiry.ok()) << expiry.status();
  EXPECT_TRUE(expiry->has_value()) << "the other blob keeps its TTL";
}

TEST_F(LocalBlobStoreTest, RunsAllWorkOnItsExecutor) {
  auto source_log = std::make_shared<SourceLog>();
  std::string data(2 * kIoChunkSize + 5, 'z');
  Result<std::string> id =
      store_->Put(testing::ScriptedSourceFactory(data, source_log), meta_).GetFor(kWait);
  ASSERT_TRUE(id.ok()) << id.status();
  auto sink_log = std::make_shared<SinkLog>();
  ASSERT_TRUE(store_->Get(*id, testing::RecordingSinkFactory(sink_log)).GetFor(kWait).ok());
  ASSERT_FALSE(source_log->threads.empty());
  for (const std::string& t : source_log->threads) EXPECT_EQ(t, "local-test-io");
  ASSERT_EQ(sink_log->data.size(), 1u);
  EXPECT_EQ(sink_log->data[0], data);
  EXPECT_TRUE(sink_log->finished[0]);
  EXPECT_EQ(sink_log->threads.size(), 4u) << "three chunked writes and one finish";
  for (const std::string& t : sink_log->threads) EXPECT_EQ(t, "local-test-io");
}

TEST_F(LocalBlobStoreTest, GetDoesNotOpenASinkForAMissingBlob) {
  auto log = std::make_shared<SinkLog>();
  EXPECT_EQ(store_->Get("job/task/store/x", testing::RecordingSinkFactory(log))
                .GetFor(kWait)
                .status()
                .code(),
            StatusCode::kNotFound);
  EXPECT_EQ(log->opened, 0);
}

TEST_F(LocalBlobStoreTest, OwnPoolDestructionCompletesQueuedRequests) {
  Result<std::unique_ptr<LocalBlobStore>> own = LocalBlobStore::Open(tmp_.Sub("own"), 1);
  ASSERT_TRUE(own.ok()) << own.status();
  std::vector<Future<std::string>> puts;
  for (int i = 0; i < 20; ++i) puts.push_back((*own)->Put(StringSourceFactory("x"), meta_));
  own->reset();
  for (auto& f : puts) EXPECT_TRUE(std::move(f).GetFor(kWait).ok());
}

TEST_F(LocalBlobStoreTest, StoreMayGoAwayWhileRequestsAreQueuedOnASharedExecutor) {
  std::vector<Future<std::string>> puts;
  for (int i = 0; i < 20; ++i) puts.push_back(store_->Put(StringSourceFactory("x"), meta_));
  store_.reset();
  for (auto& f : puts) EXPECT_TRUE(std::move(f).GetFor(kWait).ok());
}

TEST_F(LocalBlobStoreTest, ReopenSeesEarlierBlobs) {
  std::string id = PutOk("persisted", 1h);
  store_.reset();
  Result<std::unique_ptr<LocalBlobStore>> again = LocalBlobStore::Open(dir_, 1);
  ASSERT_TRUE(again.ok()) << again.status();
  std::string back;
  ASSERT_TRUE((*again)->Get(id, StringSinkFactory(&back)).GetFor(kWait).ok());
  EXPECT_EQ(back, "persisted");
  EXPECT_EQ(blobstate::testing::ExpiringBefore(**again, system_clock::now() + 2h).value(),
            std::vector<std::string>{id});
}

TEST_F(LocalBlobStoreTest, NegativeTtlIsRejected) {
  BlobMetadata meta = meta_;
  meta.ttl = -1s;
  EXPECT_EQ(store_->Put(StringSourceFactory("x"), meta).GetFor(kWait).status().code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace blobstate
