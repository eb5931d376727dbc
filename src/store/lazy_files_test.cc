#include "store/lazy_files.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "blobstate/blob_store.h"
#include "blobstore/blob_store_testing.h"
#include "blobstore/local/local_ops.h"
#include "index/codec.h"
#include "testing/temp_dir.h"
#include "transfer/transfer.h"
#include "util/failpoint.h"
#include "util/fs.h"
#include "util/hash.h"

namespace blobstate {
namespace {

using namespace std::chrono_literals;
using testing::TempDir;

constexpr auto kWait = 120s;

// Z.1: the background download starts no part beyond one while a read waits, and goes on
// at full width once none does.
TEST(ForegroundTest, TheDownloadYieldsToWaitingReadsButNeverStops) {
  Foreground foreground(/*linger=*/0s);
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
  foreground.Leave(/*linger=*/false);  // no read waits: all go
  EXPECT_TRUE(fourth.IsReady());
  EXPECT_TRUE(fifth.IsReady());
  for (int i = 0; i < 3; ++i) foreground.Done();
  EXPECT_TRUE(foreground.Turn().IsReady());
  foreground.Done();
}

// Z.1: after a read made on its reader's thread, the download keeps to one part in flight
// for `linger` (the reader is likely to read again), then goes back to full width at the
// next part's end; a read that waited for a remote store does not linger.
TEST(ForegroundTest, TheDownloadKeepsYieldingForAWhileAfterARead) {
  // The test's clock, starting at its epoch: no read has lingered before any time.
  std::chrono::steady_clock::time_point now{};
  Foreground foreground(/*linger=*/10ms, [&now] { return now; });
  foreground.Enter();
  foreground.Leave(/*linger=*/false);  // a read that waited for a remote store
  Future<void> wide = foreground.Turn(), wider = foreground.Turn();
  EXPECT_TRUE(wide.IsReady());
  EXPECT_TRUE(wider.IsReady());
  foreground.Done();
  foreground.Done();
  foreground.Enter();
  foreground.Leave(/*linger=*/true);  // a read ended: no read waits, but one lingers
  Future<void> first = foreground.Turn();
  EXPECT_TRUE(first.IsReady());  // none was in flight
  Future<void> second = foreground.Turn();
  EXPECT_FALSE(second.IsReady());
  now += 9ms;
  foreground.Done();
  EXPECT_TRUE(second.IsReady());  // one at a time while the read lingers
  Future<void> third = foreground.Turn();
  EXPECT_FALSE(third.IsReady());
  now += 1ms;  // the read no longer lingers
  EXPECT_FALSE(third.IsReady()) << "a queued turn waits for a part's end, not for a clock";
  Future<void> fourth = foreground.Turn();
  EXPECT_TRUE(fourth.IsReady());  // full width again
  foreground.Done();
  EXPECT_TRUE(third.IsReady());
  for (int i = 0; i < 2; ++i) foreground.Done();
}

// A file of parts of 4 chunks (the last part of 2), backed up, and served lazily from `dst`.
class LazyFilesTest : public ::testing::Test {
 protected:
  static constexpr uint64_t kPart = 4 * kChunkSize;

  void SetUp() override {
    Result<std::unique_ptr<BlobStore>> s = OpenBlobStore("file://" + tmp_.Sub("blobs"), {});
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
    transfer_ = std::make_unique<Transfer>(*store_, pool_,
                                           TransferOptions{.part_size = kPart, .progress = &got_});
    content_ = testing::RandomBytes(2 * kPart + kChunkSize + 1000, 7);
    const std::string src = tmp_.Sub("src");
    ASSERT_TRUE(WriteFileAtomic(src, content_).ok());
    struct stat st;
    ASSERT_EQ(::lstat(src.c_str(), &st), 0);
    Result<FileIndex> put =
        transfer_->PutFile(src, LocalFile{"f", MetadataForIndex(st, {})}, {.job_name = "j"})
            .GetFor(kWait);
    ASSERT_TRUE(put.ok()) << put.status();
    file_ = *put;
    got_ = 0;
    ASSERT_TRUE(MakeDirs(dst_).ok());
  }

  // Reads go through a store that reads only through GetRange, as S3 and Azure do: what a
  // read gets is kept in the partial file.
  void UseRemoteReads() {
    remote_ = std::make_unique<testing::ForwardingBlobStore>(*store_);
    transfer_ = std::make_unique<Transfer>(*remote_, pool_,
                                           TransferOptions{.part_size = kPart, .progress = &got_});
  }

  std::shared_ptr<LazyFiles> Serve() {
    Result<std::shared_ptr<LazyFiles>> files =
        LazyFiles::Create(*transfer_, "store s", dst_, {{"f", file_}});
    EXPECT_TRUE(files.ok()) << files.status();
    return files.ok() ? *files : nullptr;
  }

  // Reads `n` bytes at `offset` of the file and checks them.
  void ExpectRead(LazyFile& file, uint64_t offset, size_t n) {
    std::string buf(n, '\0');
    Result<size_t> read = file.Read(offset, n, buf.data());
    ASSERT_TRUE(read.ok()) << read.status();
    ASSERT_EQ(*read, n);
    EXPECT_TRUE(buf == content_.substr(offset, n));
  }

  TempDir tmp_;
  ThreadPool pool_{"lazy-files-test", 2};
  std::unique_ptr<BlobStore> store_;
  std::unique_ptr<BlobStore> remote_;
  std::atomic<uint64_t> got_{0};  // bytes downloaded
  std::unique_ptr<Transfer> transfer_;
  std::string content_;
  FileIndex file_;
  const std::string dst_ = tmp_.Sub("dst");
};

// Z.2, Z.6: a backup records each part's chunks' checksums; a read of a file not local
// downloads only the chunks that hold it (not local yet), checked, whatever parts it spans,
// and keeps them.
TEST_F(LazyFilesTest, AReadDownloadsOnlyTheChunksThatHoldIt) {
  UseRemoteReads();
  ASSERT_EQ(file_.blobs.size(), 3u);
  EXPECT_EQ(file_.blobs[0].chunk_checksums.size(), 4u);
  EXPECT_EQ(file_.blobs[2].chunk_checksums.size(), 2u);
  EXPECT_EQ(file_.blobs[2].chunk_checksums[0], Hash64(content_.data() + 2 * kPart, kChunkSize));
  std::shared_ptr<LazyFiles> files = Serve();
  ASSERT_NE(files, nullptr);
  std::shared_ptr<LazyFile> f = files->Find(JoinPath(dst_, "f"));
  ASSERT_NE(f, nullptr);
  ExpectRead(*f, kPart + kChunkSize + 10, 100);  // part 1, chunk 1
  EXPECT_EQ(got_, kChunkSize);
  ExpectRead(*f, kPart + 2 * kChunkSize - 5, 10);  // chunks 1 (local) and 2
  EXPECT_EQ(got_, 2 * kChunkSize);
  ExpectRead(*f, 2 * kPart - 10, 20);  // part 1's chunk 3, part 2's chunk 0
  EXPECT_EQ(got_, 4 * kChunkSize);
  ExpectRead(*f, kPart + kChunkSize, 3 * kChunkSize);  // local: nothing to get
  EXPECT_EQ(got_, 4 * kChunkSize);
  ExpectRead(*f, content_.size() - 10, 10);  // the short last chunk
  EXPECT_EQ(got_, 4 * kChunkSize + 1000);
  ASSERT_TRUE(files->FetchAll(pool_, 2).GetFor(kWait).ok());
  EXPECT_TRUE(*ReadSmallFile(JoinPath(dst_, "f"), 1 << 20) == content_);
}

// Z.6: from a store that reads locally (file://), a read gets the chunks that hold it on
// its own thread, checked, and keeps nothing: that store is its own cache.
TEST_F(LazyFilesTest, AReadFromAStoreThatReadsLocallyIsServedAndNotKept) {
  std::shared_ptr<LazyFiles> files = Serve();
  ASSERT_NE(files, nullptr);
  std::shared_ptr<LazyFile> f = files->Find(JoinPath(dst_, "f"));
  ASSERT_NE(f, nullptr);
  ExpectRead(*f, kPart + kChunkSize + 10, 100);  // part 1, chunk 1
  EXPECT_EQ(got_, kChunkSize);
  ExpectRead(*f, kPart + kChunkSize + 10, 100);  // read again: nothing was kept
  EXPECT_EQ(got_, 2 * kChunkSize);
  const std::string partial = PartialNameOf(JoinPath(dst_, "f"));
  EXPECT_TRUE(ReadSmallFile(partial, 1 << 20)->substr(kPart, kPart) == std::string(kPart, '\0'));
  ASSERT_TRUE(f->GetPart(0).GetFor(kWait).ok());
  got_ = 0;
  ExpectRead(*f, kPart - 10, kChunkSize + 20);  // part 0 from the partial file, part 1 here
  EXPECT_EQ(got_, 2 * kChunkSize);
  ExpectRead(*f, content_.size() - 10, 10);  // the short last chunk
  ASSERT_TRUE(files->FetchAll(pool_, 2).GetFor(kWait).ok());
  EXPECT_TRUE(*ReadSmallFile(JoinPath(dst_, "f"), 1 << 20) == content_);
}

// Z.2: a chunk that does not match its checksum fails the read naming the store, the file,
// the blob and the chunk; neither the read (which keeps what it gets: a store that reads
// only through GetRange) nor the background download writes a byte of it.
TEST_F(LazyFilesTest, ACorruptChunkFailsItsReadAndNoUncheckedByteLands) {
  UseRemoteReads();
  const std::string blob = file_.blobs[0].blob_id;
  const std::string at = tmp_.Sub("blobs/blobs/" + local_internal::ShardOf(blob) + "/" + blob);
  std::string bytes = *ReadSmallFile(at, 1 << 20);
  bytes[2 * kChunkSize + 5] ^= 1;
  ASSERT_TRUE(WriteFileAtomic(at, bytes).ok());
  std::shared_ptr<LazyFiles> files = Serve();
  ASSERT_NE(files, nullptr);
  std::shared_ptr<LazyFile> f = files->Find(JoinPath(dst_, "f"));
  ASSERT_NE(f, nullptr);
  ExpectRead(*f, 10, 100);  // chunk 0 is sound
  std::string buf(10, '\0');
  Result<size_t> read = f->Read(2 * kChunkSize, buf.size(), buf.data());
  EXPECT_EQ(read.status().code(), StatusCode::kDataLoss);
  for (const std::string& part :
       {std::string("store s"), std::string("file f"), "blob " + blob + ", chunk 2"}) {
    EXPECT_NE(read.status().message().find(part), std::string::npos) << read.status();
  }
  EXPECT_EQ(files->FetchAll(pool_, 2).GetFor(kWait).status().code(), StatusCode::kDataLoss);
  const std::string partial = *ReadSmallFile(PartialNameOf(JoinPath(dst_, "f")), 1 << 20);
  EXPECT_TRUE(partial.substr(2 * kChunkSize, kChunkSize) == std::string(kChunkSize, '\0'));
  EXPECT_FALSE(PathExists(JoinPath(dst_, "f")));
}

// A part asked for while its file is being finished (another thread got the last part)
// completes once the file is local, so the download never ends before it.
TEST_F(LazyFilesTest, APartAskedForWhileItsFileIsFinishedWaitsForTheFinish) {
  std::shared_ptr<LazyFiles> files = Serve();
  ASSERT_NE(files, nullptr);
  std::shared_ptr<LazyFile> f = files->Find(JoinPath(dst_, "f"));
  ASSERT_NE(f, nullptr);
  testing::FailpointGate finish(tmp_.Sub("finish"));
  ArmFailpointWait("lazy.before_finish", finish.path());
  Status made;
  std::thread maker([&] { made = f->MakeLocal(); });
  const auto deadline = std::chrono::steady_clock::now() + kWait;
  while (FailpointHits("lazy.before_finish") == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_EQ(FailpointHits("lazy.before_finish"), 1) << "the finish has not started";
  Future<void> all = files->FetchAll(pool_, 2);
  EXPECT_FALSE(all.IsReady()) << "the finish is held";
  EXPECT_FALSE(f->local());
  finish.Release();
  Status fetched = std::move(all).GetFor(kWait).status();
  EXPECT_TRUE(fetched.ok()) << fetched;
  EXPECT_TRUE(f->local());
  maker.join();
  DisarmAllFailpoints();
  EXPECT_TRUE(made.ok()) << made;
}

// Z.6: a file's last part lands before the file is finished (its fsync), so that the
// background download's next part need not wait for the sync.
TEST_F(LazyFilesTest, ALastPartLandsBeforeItsFileIsFinished) {
  std::shared_ptr<LazyFiles> files = Serve();
  ASSERT_NE(files, nullptr);
  std::shared_ptr<LazyFile> f = files->Find(JoinPath(dst_, "f"));
  ASSERT_NE(f, nullptr);
  ASSERT_TRUE(f->GetPart(0).GetFor(kWait).ok());
  ASSERT_TRUE(f->GetPart(1).GetFor(kWait).ok());
  testing::FailpointGate finish(tmp_.Sub("finish"));
  ArmFailpointWait("lazy.before_finish", finish.path());
  LazyFile::Fetch last = f->FetchPart(2);
  ASSERT_TRUE(std::move(last.landed).GetFor(kWait).ok());
  EXPECT_FALSE(last.local.IsReady());  // the finish is held
  EXPECT_FALSE(f->local());
  finish.Release();
  ASSERT_TRUE(std::move(last.local).GetFor(kWait).ok());
  DisarmAllFailpoints();
  EXPECT_TRUE(f->local());
  EXPECT_TRUE(*ReadSmallFile(JoinPath(dst_, "f"), 1 << 20) == content_);
}

// A file deleted while its part downloads, before the part's sink opened the partial file
// (which the delete removed), ends that fetch without an error: nothing is left to get.
TEST_F(LazyFilesTest, AFileDeletedWhileItsPartDownloadsEndsTheFetchWithoutError) {
  // Calls `before_sink` once, as the first sink of a Get is made.
  class HookedStore : public testing::ForwardingBlobStore {
   public:
    using ForwardingBlobStore::ForwardingBlobStore;
    std::function<void()> before_sink;
    Future<void> Get(const std::string& id, SinkFactory sink) override {
      return ForwardingBlobStore::Get(id, [this, sink = std::move(sink)] {
        if (before_sink) std::exchange(before_sink, nullptr)();
        return sink();
      });
    }
  };
  HookedStore hooked(*store_);
  transfer_ = std::make_unique<Transfer>(hooked, pool_, TransferOptions{.part_size = kPart});
  std::shared_ptr<LazyFiles> files = Serve();
  ASSERT_NE(files, nullptr);
  const std::string path = JoinPath(dst_, "f");
  hooked.before_sink = [&] { EXPECT_TRUE(files->Drop(path)); };
  Status all = files->FetchAll(pool_, 1).GetFor(kWait).status();
  EXPECT_TRUE(all.ok()) << all;
  EXPECT_EQ(hooked.before_sink, nullptr);  // the hook ran
  EXPECT_FALSE(PathExists(path));
  EXPECT_FALSE(PathExists(PartialNameOf(path)));
}

// A file deleted once it became local is left at its name for the caller to delete; one
// not local goes with its partial file.
TEST_F(LazyFilesTest, DropLeavesAFileThatBecameLocalToItsCaller) {
  const std::string path = JoinPath(dst_, "f");
  std::shared_ptr<LazyFiles> files = Serve();
  ASSERT_NE(files, nullptr);
  ASSERT_TRUE(files->FetchAll(pool_, 2).GetFor(kWait).ok());
  EXPECT_FALSE(files->Drop(path));
  EXPECT_TRUE(PathExists(path));
  ASSERT_TRUE(RemoveAll(path).ok());
  files = Serve();
  ASSERT_NE(files, nullptr);
  EXPECT_TRUE(files->Drop(path));
  EXPECT_FALSE(PathExists(PartialNameOf(path)));
  EXPECT_FALSE(files->Drop(path));  // not served any more
}

}  // namespace
}  // namespace blobstate
