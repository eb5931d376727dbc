#include "transfer/transfer.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <future>
#include <map>

#include "blobstate/blob_store.h"
#include "blobstore/blob_store_testing.h"
#include "blobstore/faulty/faulty_blob_store.h"
#include "blobstore/retrying/retrying_blob_store.h"
#include "index/codec.h"
#include "index/index_testing.h"
#include "index/index_writer.h"
#include "testing/gated_blob_store.h"
#include "testing/temp_dir.h"
#include "transfer/file_io.h"
#include "util/fs.h"
#include "util/hash.h"

namespace blobstate {
namespace {

using testing::ReadModes;
using testing::ReadTree;
using testing::TempDir;
using testing::Tree;
using testing::WriteTree;
using namespace std::chrono_literals;

constexpr auto kWait = 120s;  // generous: a bug fails the test instead of hanging it

// Downloads the tree of `index` into the new directory `root`, every file in parallel.
// The file at `path` as a diff records it before its upload.
LocalFile Diffed(const std::string& path) {
  struct stat st;
  EXPECT_EQ(::lstat(path.c_str(), &st), 0);
  return LocalFile{std::string(path.substr(path.rfind('/') + 1)),
                   MetadataForIndex(st, std::chrono::system_clock::time_point{})};
}

Future<void> GetTree(Transfer& transfer, const DirIndex& index, const std::string& root) {
  std::vector<Future<void>> files;
  std::vector<std::pair<const DirIndex*, std::string>> stack = {{&index, root}};
  while (!stack.empty()) {
    auto [dir, path] = stack.back();
    stack.pop_back();
    if (Status s = MakeDirs(path); !s.ok()) return MakeReadyFuture<void>(s);
    for (const FileIndex& f : dir->files_present) {
      files.push_back(transfer.GetFile(f, JoinPath(path, f.name)));
    }
    for (const DirIndex& sub : dir->subdirs_present) {
      stack.emplace_back(&sub, JoinPath(path, sub.name));
    }
  }
  return AllOf(std::move(files));
}

class TransferTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::unique_ptr<BlobStore>> s = OpenBlobStore("file://" + tmp_.Sub("store"), {});
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
    transfer_ = std::make_unique<Transfer>(*store_, pool_, options_);
  }

  // Backs up `dir` against `previous`; returns the new root index.
  DirIndex Backup(const std::string& dir, const DirIndex& previous = {}) {
    Result<DirIndex> root = PutTree(*transfer_, dir, previous);
    EXPECT_TRUE(root.ok()) << root.status();
    return root.ok() ? *root : DirIndex{};
  }

  // A PutTree of `dir` against `previous` (a root index), started.
  struct TreePut {
    std::shared_ptr<IndexWriter> writer;
    Future<TreeFigures> put;
  };
  TreePut StartPutTree(Transfer& transfer, const std::string& dir, const DirIndex& previous = {}) {
    Result<std::shared_ptr<const IndexFile>> base =
        testing::IndexFileOf(EncodeSnapshotIndex(SnapshotIndex{.root = previous}));
    EXPECT_TRUE(base.ok()) << base.status();
    std::shared_ptr<IndexWriter> writer = *IndexWriter::Create("");
    auto diff = std::make_unique<TreeDiff>(dir, *base, DiffOptions{});
    Future<TreeFigures> put = transfer.PutTree(dir, std::move(diff), writer, meta_);
    return TreePut{std::move(writer), std::move(put)};
  }
  // The new root index of `p`, once done.
  static Result<DirIndex> Finish(TreePut p) {
    RETURN_IF_ERROR(std::move(p.put).GetFor(kWait).status());
    ASSIGN_OR_RETURN(std::shared_ptr<const IndexFile> index, p.writer->Finish({}));
    ASSIGN_OR_RETURN(SnapshotIndex whole, index->ReadAll());
    return whole.root;
  }
  Result<DirIndex> PutTree(Transfer& transfer, const std::string& dir,
                           const DirIndex& previous = {}) {
    return Finish(StartPutTree(transfer, dir, previous));
  }

  TempDir tmp_;
  ThreadPool pool_{"transfer-test", 2};
  TransferOptions options_{.part_size = 1000, .ttl = 3600s};
  BlobMetadata meta_{.job_name = "job", .task_name = "task", .store_name = "store"};
  std::unique_ptr<BlobStore> store_;
  std::unique_ptr<Transfer> transfer_;
};

TEST_F(TransferTest, RoundTripsTreeWithNestedEmptyAndMultiPartFiles) {
  Tree tree = {{"a", "alpha"},
               {"empty", ""},
               {"emptydir/", ""},
               {"d/e/f/deep", "deep content"},
               {"d/e/emptysub/", ""},
               {"d/big", testing::RandomBytes(10'500, 7)},
               {"d/exactly-two-parts", testing::RandomBytes(2000, 8)}};
  ASSERT_TRUE(WriteTree(tmp_.Sub("src"), tree).ok());
  ASSERT_EQ(chmod(tmp_.Sub("src/a").c_str(), 0600), 0);
  DirIndex root = Backup(tmp_.Sub("src"));
  ASSERT_TRUE(GetTree(*transfer_, root, tmp_.Sub("dst")).GetFor(kWait).ok());
  EXPECT_EQ(*ReadTree(tmp_.Sub("dst")), *ReadTree(tmp_.Sub("src")));
  EXPECT_EQ(*ReadModes(tmp_.Sub("dst")), *ReadModes(tmp_.Sub("src")));  // mode and mtime kept
}

TEST_F(TransferTest, MultiPartFileIsStoredAsOrderedPartsAndRestoredInOrder) {
  std::string data = testing::RandomBytes(4321, 3);
  ASSERT_TRUE(WriteTree(tmp_.Sub("src"), {{"f", data}}).ok());
  DirIndex root = Backup(tmp_.Sub("src"));
  ASSERT_EQ(root.files_present.size(), 1u);
  const FileIndex& f = root.files_present[0];
  ASSERT_EQ(f.blobs.size(), 5u);
  for (size_t i = 0; i < f.blobs.size(); ++i) EXPECT_EQ(f.blobs[i].offset, i * 1000);
  ASSERT_TRUE(transfer_->GetFile(f, tmp_.Sub("restored")).GetFor(kWait).ok());
  EXPECT_EQ(*ReadSmallFile(tmp_.Sub("restored")), data);
}

TEST_F(TransferTest, ChecksumMismatchFailsRestoreAndLeavesNoFile) {
  ASSERT_TRUE(WriteTree(tmp_.Sub("src"), {{"f", "payload"}}).ok());
  DirIndex root = Backup(tmp_.Sub("src"));
  FileIndex tampered = root.files_present[0];
  tampered.checksum.low ^= 1;
  ASSERT_TRUE(MakeDirs(tmp_.Sub("dst")).ok());
  Result<void> r = transfer_->GetFile(tampered, tmp_.Sub("dst/f")).GetFor(kWait);
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(r.status().message().find("checksum mismatch"), std::string::npos);
  EXPECT_NE(r.status().message().find(tmp_.Sub("dst/f")), std::string::npos);
  EXPECT_EQ(*ReadTree(tmp_.Sub("dst")), Tree{});  // neither the file nor a temp file
}

TEST_F(TransferTest, ChecksumNotCheckedWhenVerificationDisabled) {
  ASSERT_TRUE(WriteTree(tmp_.Sub("src"), {{"f", "payload"}}).ok());
  DirIndex root = Backup(tmp_.Sub("src"));
  root.files_present[0].checksum.low ^= 1;
  Transfer lax(*store_, pool_, {.verify_checksums = false});
  ASSERT_TRUE(GetTree(lax, root, tmp_.Sub("dst")).GetFor(kWait).ok());
  EXPECT_EQ(*ReadSmallFile(tmp_.Sub("dst/f")), "payload");
}

TEST_F(TransferTest, WrongRecordedSizeIsDataLoss) {
  ASSERT_TRUE(WriteTree(tmp_.Sub("src"), {{"f", "0123456789"}}).ok());
  DirIndex root = Backup(tmp_.Sub("src"));
  root.files_present[0].metadata.size = 11;  // the single blob is one byte short
  Transfer lax(*store_, pool_, {.verify_checksums = false});
  Result<void> r = GetTree(lax, root, tmp_.Sub("dst")).GetFor(kWait);
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss);
}

TEST_F(TransferTest, MissingBlobIsNotFoundNamingFileAndBlob) {
  ASSERT_TRUE(WriteTree(tmp_.Sub("src"), {{"f", "payload"}}).ok());
  DirIndex root = Backup(tmp_.Sub("src"));
  std::string id = root.files_present[0].blobs[0].blob_id;
  ASSERT_TRUE(store_->Delete(id).GetFor(kWait).ok());
  Result<void> r = GetTree(*transfer_, root, tmp_.Sub("dst")).GetFor(kWait);
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find(id), std::string::npos) << r.status();
  EXPECT_NE(r.status().message().find("dst/f"), std::string::npos) << r.status();
}

TEST_F(TransferTest, IncrementalBackupReusesBlobsOfUnchangedFiles) {
  ASSERT_TRUE(WriteTree(tmp_.Sub("src"), {{"keep", "kept"}, {"change", "v1"}, {"gone", "x"}}).ok());
  DirIndex first = Backup(tmp_.Sub("src"));
  ASSERT_TRUE(WriteTree(tmp_.Sub("src"), {{"change", "v2"}, {"new", "n"}}).ok());
  ASSERT_EQ(unlink(tmp_.Sub("src/gone").c_str()), 0);
  DirIndex second = Backup(tmp_.Sub("src"), first);
  auto find = [](const std::vector<FileIndex>& v, const std::string& name) -> const FileIndex* {
    for (const FileIndex& f : v) {
      if (f.name == name) return &f;
    }
    return nullptr;
  };
  ASSERT_NE(find(second.files_present, "keep"), nullptr);
  EXPECT_EQ(find(second.files_present, "keep")->blobs, find(first.files_present, "keep")->blobs);
  EXPECT_NE(find(second.files_present, "change")->blobs,
            find(first.files_present, "change")->blobs);
  ASSERT_NE(find(second.files_present, "new"), nullptr);
  EXPECT_EQ(find(second.files_present, "gone"), nullptr);
  ASSERT_NE(find(second.files_removed, "gone"), nullptr);
  ASSERT_NE(find(second.files_removed, "change"), nullptr);
  ASSERT_TRUE(GetTree(*transfer_, second, tmp_.Sub("dst")).GetFor(kWait).ok());
  EXPECT_EQ(*ReadTree(tmp_.Sub("dst")), *ReadTree(tmp_.Sub("src")));
}

TEST_F(TransferTest, PutFileFailsWhenFileChangedSinceDiff) {
  ASSERT_TRUE(WriteTree(tmp_.Sub("src"), {{"f", "short"}}).ok());
  const LocalFile diffed = Diffed(tmp_.Sub("src/f"));
  ASSERT_TRUE(WriteTree(tmp_.Sub("src"), {{"f", "much longer now"}}).ok());
  Result<FileIndex> r = transfer_->PutFile(tmp_.Sub("src/f"), diffed, meta_).GetFor(kWait);
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("changed during backup"), std::string::npos);
}

TEST_F(TransferTest, PutFileFailsWhenFileRewrittenWithSameSizeSinceDiff) {
  ASSERT_TRUE(WriteTree(tmp_.Sub("src"), {{"f", "before"}}).ok());
  const LocalFile diffed = Diffed(tmp_.Sub("src/f"));
  ASSERT_TRUE(WriteTree(tmp_.Sub("src"), {{"f", "after!"}}).ok());
  struct timespec later[2] = {{0, UTIME_OMIT}, {2'000'000'000, 0}};  // a different mtime
  ASSERT_EQ(utimensat(AT_FDCWD, tmp_.Sub("src/f").c_str(), later, 0), 0);
  Result<FileIndex> r = transfer_->PutFile(tmp_.Sub("src/f"), diffed, meta_).GetFor(kWait);
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("changed during backup"), std::string::npos);
}

TEST_F(TransferTest, RestoreNeverCreatesSetuidFiles) {
  ASSERT_TRUE(WriteTree(tmp_.Sub("src"), {{"f", "x"}}).ok());
  DirIndex root = Backup(tmp_.Sub("src"));
  root.files_present[0].metadata.mode = 04755;
  ASSERT_TRUE(GetTree(*transfer_, root, tmp_.Sub("dst")).GetFor(kWait).ok());
  struct stat st;
  ASSERT_EQ(stat(tmp_.Sub("dst/f").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
}

TEST_F(TransferTest, ProgressCountsTheBytesOfEveryPartOnce) {
  ASSERT_TRUE(WriteTree(tmp_.Sub("src"), {{"a", testing::RandomBytes(2500, 4)}, {"b", "xy"}}).ok());
  std::atomic<uint64_t> progress{0};
  Transfer counted(*store_, pool_, {.part_size = 1000, .progress = &progress});
  Result<DirIndex> root = PutTree(counted, tmp_.Sub("src"));
  ASSERT_TRUE(root.ok()) << root.status();
  EXPECT_EQ(progress.load(), 2502u);
  ASSERT_TRUE(GetTree(counted, *root, tmp_.Sub("dst")).GetFor(kWait).ok());
  EXPECT_EQ(progress.load(), 2 * 2502u);
}

// Bytes this process read with read(2) and pread(2) so far (rchar of /proc/self/io).
uint64_t BytesReadByThisProcess() {
  std::ifstream io("/proc/self/io");
  std::string key;
  uint64_t value = 0;
  while (io >> key >> value) {
    if (key == "rchar:") return value;
  }
  return 0;
}

// R.5: a file is read once to upload and hash it (each part by its upload), and restored
// without being read back: each part is checked as it lands.
TEST_F(TransferTest, EveryByteIsReadOnceByBackupAndNeverReadBackByRestore) {
  for (uint64_t part_size : {8u << 20, 1u << 20}) {  // one part; four
    SCOPED_TRACE(part_size);
    constexpr size_t kSize = 4 << 20;
    ASSERT_TRUE(RemoveAll(tmp_.Sub("src")).ok() && RemoveAll(tmp_.Sub("dst")).ok());
    ASSERT_TRUE(WriteTree(tmp_.Sub("src"), {{"f", testing::RandomBytes(kSize, 5)}}).ok());
    Transfer transfer(*store_, pool_, {.part_size = part_size, .ttl = 3600s});
    uint64_t before = BytesReadByThisProcess();
    Result<DirIndex> root = PutTree(transfer, tmp_.Sub("src"));
    ASSERT_TRUE(root.ok()) << root.status();
    const uint64_t backup_read = BytesReadByThisProcess() - before;
    EXPECT_GE(backup_read, kSize);
    EXPECT_LT(backup_read, kSize + kSize / 2) << "the file was read more than once";
    const FileIndex& f = root->files_present[0];
    EXPECT_TRUE(HasPartChecksums(f));
    ASSERT_TRUE(MakeDirs(tmp_.Sub("dst")).ok());
    before = BytesReadByThisProcess();
    ASSERT_TRUE(transfer.GetFile(f, tmp_.Sub("dst/f")).GetFor(kWait).ok());
    const uint64_t restore_read = BytesReadByThisProcess() - before;  // the blobs, once
    EXPECT_GE(restore_read, kSize);
    EXPECT_LT(restore_read, kSize + kSize / 2) << "the restored file was read back";
    EXPECT_EQ(*ReadSmallFile(tmp_.Sub("dst/f")), *ReadSmallFile(tmp_.Sub("src/f")));
  }
}

// R.8: a part whose bytes are not the ones its index records fails the restore naming the
// blob, as it lands.
TEST_F(TransferTest, CorruptPartIsDataLossNamingItsBlob) {
  ASSERT_TRUE(WriteTree(tmp_.Sub("src"), {{"f", testing::RandomBytes(3500, 9)}}).ok());
  DirIndex root = Backup(tmp_.Sub("src"));
  FileIndex tampered = root.files_present[0];
  ASSERT_EQ(tampered.blobs.size(), 4u);
  tampered.blobs[2].checksum->low ^= 1;
  ASSERT_TRUE(MakeDirs(tmp_.Sub("dst")).ok());
  Result<void> r = transfer_->GetFile(tampered, tmp_.Sub("dst/f")).GetFor(kWait);
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(r.status().message().find("blob " + tampered.blobs[2].blob_id + " (part 2)"),
            std::string::npos)
      << r.status();
  EXPECT_EQ(*ReadTree(tmp_.Sub("dst")), Tree{});
}

// A chunk checksum that disagrees with its blob (while the part's checksum agrees) fails
// only the restore that checks chunks as well, naming the blob and the chunk.
TEST_F(TransferTest, ChunkChecksumsAreCheckedOnlyWhenAsked) {
  ASSERT_TRUE(WriteTree(tmp_.Sub("src"), {{"f", testing::RandomBytes(3500, 9)}}).ok());
  DirIndex root = Backup(tmp_.Sub("src"));
  FileIndex tampered = root.files_present[0];
  ASSERT_EQ(tampered.blobs[2].chunk_checksums.size(), 1u);
  tampered.blobs[2].chunk_checksums[0] ^= 1;
  ASSERT_TRUE(MakeDirs(tmp_.Sub("dst")).ok());
  ASSERT_TRUE(transfer_->GetFile(tampered, tmp_.Sub("dst/f")).GetFor(kWait).ok());

  TransferOptions chunks = options_;
  chunks.verify_chunk_checksums = true;
  Transfer checking(*store_, pool_, chunks);
  ASSERT_TRUE(checking.GetFile(root.files_present[0], tmp_.Sub("dst/g")).GetFor(kWait).ok());
  Result<void> r = checking.GetFile(tampered, tmp_.Sub("dst/h")).GetFor(kWait);
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(r.status().message().find("blob " + tampered.blobs[2].blob_id + ", chunk 0"),
            std::string::npos)
      << r.status();
  EXPECT_EQ(ReadTree(tmp_.Sub("dst"))->size(), 2u);  // f and g; nothing of h
}

// A file that a version 1 writer uploaded in several parts records no part checksums: it is
// checked against its content's checksum, read back.
TEST_F(TransferTest, FileOfSeveralPartsWithoutPartChecksumsIsCheckedWhole) {
  const std::string data = testing::RandomBytes(3500, 10);
  ASSERT_TRUE(WriteTree(tmp_.Sub("src"), {{"f", data}}).ok());
  DirIndex root = Backup(tmp_.Sub("src"));
  FileIndex v1 = root.files_present[0];
  for (FileBlob& b : v1.blobs) b.checksum.reset();
  v1.checksum = HashBytes(data.data(), data.size());
  ASSERT_TRUE(MakeDirs(tmp_.Sub("dst")).ok());
  ASSERT_TRUE(transfer_->GetFile(v1, tmp_.Sub("dst/f")).GetFor(kWait).ok());
  EXPECT_EQ(*ReadSmallFile(tmp_.Sub("dst/f")), data);
  v1.checksum.low ^= 1;
  Result<void> r = transfer_->GetFile(v1, tmp_.Sub("dst/g")).GetFor(kWait);
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss) << r.status();
}

TEST_F(TransferTest, DeleteBlobsTreatsAlreadyDeletedAsDone) {
  ASSERT_TRUE(WriteTree(tmp_.Sub("src"), {{"f", "x"}, {"g", "y"}}).ok());
  DirIndex root = Backup(tmp_.Sub("src"));
  std::vector<std::string> ids = BlobIdsOf(root);
  ASSERT_EQ(ids.size(), 2u);
  ASSERT_TRUE(transfer_->DeleteBlobs(ToBlobIds(ids)).GetFor(kWait).ok());
  ASSERT_TRUE(transfer_->DeleteBlobs(ToBlobIds(ids)).GetFor(kWait).ok());  // idempotent
  EXPECT_EQ(GetTree(*transfer_, root, tmp_.Sub("dst")).GetFor(kWait).status().code(),
            StatusCode::kNotFound);
}

TEST_F(TransferTest, RemoveTtlsMakesBlobsPermanent) {
  ASSERT_TRUE(WriteTree(tmp_.Sub("src"), {{"f", "x"}}).ok());
  DirIndex root = Backup(tmp_.Sub("src"));
  auto far_future = std::chrono::system_clock::now() + 48h;
  EXPECT_EQ(blobstate::testing::ExpiringBefore(*store_, far_future)->size(), 1u);
  ASSERT_TRUE(transfer_->RemoveTtls(ToBlobIds(BlobIdsOf(root))).GetFor(kWait).ok());
  ASSERT_TRUE(transfer_->RemoveTtls(ToBlobIds(BlobIdsOf(root))).GetFor(kWait).ok());  // idempotent
  EXPECT_TRUE(blobstate::testing::ExpiringBefore(*store_, far_future)->empty());
}

}  // namespace
}  // namespace blobstate

namespace blobstate {
namespace {

class TransferExecutorTest : public TransferTest {};

TEST_F(TransferExecutorTest, PutTreeReturnsWithoutBlockingTheCaller) {
  ASSERT_TRUE(WriteTree(tmp_.Sub("src"), {{"a", "x"}, {"d/b", "y"}}).ok());
  testing::GatedBlobStore gated(*store_);
  Transfer transfer(gated, pool_, options_);
  TreePut put = StartPutTree(transfer, tmp_.Sub("src"));
  // Both puts reach the gate, yet PutTree has returned: the caller did not wait.
  testing::WaitFor([&] { return gated.held() >= 2; }, kWait);
  EXPECT_EQ(gated.held(), 2u);
  EXPECT_FALSE(put.put.IsReady());
  gated.Open();
  Result<DirIndex> root = Finish(std::move(put));
  ASSERT_TRUE(root.ok()) << root.status();
  EXPECT_EQ(root->files_present.size(), 1u);
  EXPECT_EQ(root->subdirs_present.size(), 1u);
}

TEST_F(TransferExecutorTest, StreamsRunOnTheBlobStoreExecutorNeverTheCaller) {
  ASSERT_TRUE(WriteTree(tmp_.Sub("src"), {{"a", testing::RandomBytes(2500, 1)}}).ok());
  testing::GatedBlobStore recording(*store_);
  recording.Open();
  Transfer transfer(recording, pool_, options_);
  Result<DirIndex> root = PutTree(transfer, tmp_.Sub("src"));
  ASSERT_TRUE(root.ok());
  ASSERT_TRUE(GetTree(transfer, *root, tmp_.Sub("dst")).GetFor(kWait).ok());
  std::set<std::string> executors = recording.factory_executors();
  ASSERT_EQ(executors.size(), 1u);
  EXPECT_NE(*executors.begin(), "");               // not this test's thread
  EXPECT_NE(*executors.begin(), "transfer-test");  // nor the transfer's CPU pool
}

TEST_F(TransferExecutorTest, AChunkReadIsCheckedWithoutWaitingForTheExecutor) {
  const std::string content = testing::RandomBytes(2500, 3);
  ASSERT_TRUE(WriteTree(tmp_.Sub("src"), {{"a", content}}).ok());
  Result<DirIndex> root = PutTree(*transfer_, tmp_.Sub("src"));
  ASSERT_TRUE(root.ok()) << root.status();
  const FileIndex& file = root->files_present.at(0);
  ASSERT_EQ(file.blobs.size(), 3u);
  ASSERT_EQ(file.blobs[1].chunk_checksums.size(), 1u);
  // Every thread of the transfer's executor is busy (as with files' fsyncs in a lazy
  // restore): a reader of chunks from a store that reads only through GetRange (as S3 and
  // Azure do) still gets them.
  testing::GatedBlobStore remote(*store_);
  remote.Open();
  Transfer transfer(remote, pool_, options_);
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  for (int i = 0; i < 2; ++i) pool_.Execute([released] { released.wait(); });
  Result<std::string> chunk = transfer.GetChunks(file, 1, 0, 1).GetFor(kWait);
  release.set_value();
  ASSERT_TRUE(chunk.ok()) << chunk.status();
  EXPECT_EQ(*chunk, content.substr(1000, 1000));
  EXPECT_EQ(remote.factory_executors().count("transfer-test"), 0u);
}

// Z.6: from a store that reads locally (file://), ReadChunks reads the chunks that hold a
// range on the calling thread and copies the range once they are checked; from one that
// reads only through GetRange, it reads nothing.
TEST_F(TransferExecutorTest, ReadChunksReadsOnTheCallersThreadWhereTheStoreReadsLocally) {
  const std::string content = testing::RandomBytes(3 * kChunkSize + 7, 4);
  ASSERT_TRUE(WriteTree(tmp_.Sub("src"), {{"a", content}}).ok());
  Transfer transfer(*store_, pool_, {.part_size = 4 * kChunkSize});
  Result<DirIndex> root = PutTree(transfer, tmp_.Sub("src"));
  ASSERT_TRUE(root.ok()) << root.status();
  const FileIndex& file = root->files_present.at(0);
  ASSERT_EQ(file.blobs.size(), 1u);
  ASSERT_EQ(file.blobs[0].chunk_checksums.size(), 4u);
  const uint64_t from = kChunkSize - 10, to = 2 * kChunkSize + 5;  // in chunks 0-2
  std::string got(to - from, '\0');
  ASSERT_TRUE(transfer.ReadChunks(file, 0, from, to, got.data()).ok());
  EXPECT_TRUE(got == content.substr(from, to - from));
  FileIndex corrupt = file;
  corrupt.blobs[0].chunk_checksums[2] ^= 1;
  Status s = transfer.ReadChunks(corrupt, 0, from, to, got.data());
  EXPECT_EQ(s.code(), StatusCode::kDataLoss);
  EXPECT_NE(s.message().find("chunk 2 "), std::string::npos) << s;
  EXPECT_EQ(transfer.ReadChunks(file, 0, to, content.size() + 1, got.data()).code(),
            StatusCode::kInvalidArgument);  // past the part's end
  s = transfer.ReadChunks(file, 0, content.size() + 1, content.size() + 2, got.data());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s;  // in the last chunk, past its end
  EXPECT_EQ(transfer.ReadChunks(file, 1, 0, 1, got.data()).code(), StatusCode::kInvalidArgument);

  testing::GatedBlobStore remote(*store_);  // opens no sink unless asked through GetRange
  Transfer remote_transfer(remote, pool_, options_);
  EXPECT_EQ(remote_transfer.ReadChunks(file, 0, 0, 1, got.data()).code(),
            StatusCode::kUnimplemented);
  EXPECT_TRUE(remote.factory_executors().empty());
}

}  // namespace
}  // namespace blobstate

namespace blobstate {
namespace {

using Fault = FaultyBlobStore::Fault;
using Method = FaultyBlobStore::Method;

// Transfers over a FaultyBlobStore (over a LocalBlobStore), optionally behind retries.
class TransferFaultTest : public TransferTest {
 protected:
  void SetUp() override {
    TransferTest::SetUp();
    Result<std::unique_ptr<BlobStore>> local =
        OpenBlobStore("file://" + tmp_.Sub("faulty-store"), {.retry = {.max_attempts = 1}});
    ASSERT_TRUE(local.ok()) << local.status();
    auto faulty = std::make_unique<FaultyBlobStore>(std::move(*local));
    faulty_ = faulty.get();
    // Four attempts: the faults are scripted by call number, and parts run in parallel, so
    // one part may take all three scripted faults (its retries can overtake the other parts'
    // first calls on a loaded machine).
    retrying_ = std::make_unique<RetryingBlobStore>(
        std::move(faulty), RetryPolicy{.max_attempts = 4, .initial_backoff = 1ms});
  }

  // The blobs stored behind the faults, committed or not.
  size_t StoredBlobs() {
    Result<std::vector<std::string>> all = blobstate::testing::ExpiringBefore(
        faulty_->inner(), std::chrono::system_clock::now() + 10 * 24h);
    EXPECT_TRUE(all.ok()) << all.status();
    return all.ok() ? all->size() : 0;
  }

  FaultyBlobStore* faulty_ = nullptr;
  std::unique_ptr<RetryingBlobStore> retrying_;
};

TEST_F(TransferFaultTest, PutRetryReopensSourceAndStoresTheWholeFile) {
  std::string data = testing::RandomBytes(2500, 11);
  ASSERT_TRUE(WriteTree(tmp_.Sub("src"), {{"f", data}}).ok());
  // The first attempt of the second part reads 100 bytes, then the source fails.
  faulty_->Script(Method::kPut, 2, Fault::PartialTransfer(100));
  Transfer transfer(*retrying_, pool_, options_);
  Result<DirIndex> root = PutTree(transfer, tmp_.Sub("src"));
  ASSERT_TRUE(root.ok()) << root.status();
  EXPECT_EQ(faulty_->calls(Method::kPut), 4);  // three parts, one retried
  ASSERT_TRUE(GetTree(transfer, *root, tmp_.Sub("dst")).GetFor(kWait).ok());
  EXPECT_EQ(*ReadSmallFile(tmp_.Sub("dst/f")), data);
}

TEST_F(TransferFaultTest, GetRetryOpensNewSinkAndRestoresTheWholeFile) {
  std::string data = testing::RandomBytes(2500, 12);
  ASSERT_TRUE(WriteTree(tmp_.Sub("src"), {{"f", data}}).ok());
  Transfer transfer(*retrying_, pool_, options_);
  Result<DirIndex> root = PutTree(transfer, tmp_.Sub("src"));
  ASSERT_TRUE(root.ok()) << root.status();
  // Each part's first attempt delivers 300 bytes and fails; the retry must start over.
  faulty_->Script(Method::kGet, 1, Fault::PartialTransfer(300));
  faulty_->Script(Method::kGet, 2, Fault::PartialTransfer(300));
  faulty_->Script(Method::kGet, 3, Fault::PartialTransfer(300));
  Result<void> got = GetTree(transfer, *root, tmp_.Sub("dst")).GetFor(kWait);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(faulty_->calls(Method::kGet), 6);
  EXPECT_EQ(*ReadSmallFile(tmp_.Sub("dst/f")), data);
}

// Sync errors (failed before any I/O), async errors (failed after the inner call ran) and
// errors in the sink (disk full while writing) all complete the future with their status.
TEST_F(TransferFaultTest, GetFileCompletesWithSyncAsyncAndSinkErrors) {
  ASSERT_TRUE(WriteTree(tmp_.Sub("src"), {{"a", "alpha"}, {"d/b", "beta"}}).ok());
  Transfer transfer(*faulty_, pool_, options_);
  Result<DirIndex> root = PutTree(transfer, tmp_.Sub("src"));
  ASSERT_TRUE(root.ok()) << root.status();
  const std::pair<const char*, Fault> cases[] = {
      {"sync", Fault::SyncError(PermissionDeniedError("injected sync"))},
      {"async", Fault::AsyncError(PermissionDeniedError("injected async"))},
      {"sink", Fault::PartialTransfer(2, PermissionDeniedError("injected sink"))},
  };
  for (const auto& [name, fault] : cases) {
    SCOPED_TRACE(name);
    faulty_->ClearScripts();
    faulty_->ScriptAll(Method::kGet, fault);
    const std::string dst = tmp_.Sub(std::string("dst-") + name);
    Result<void> r = GetTree(transfer, *root, dst).GetFor(kWait);
    EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied);
    EXPECT_NE(r.status().message().find(std::string("injected ") + name), std::string::npos)
        << r.status();
    Result<Tree> left = ReadTree(dst);
    ASSERT_TRUE(left.ok());
    for (const auto& [path, content] : *left) EXPECT_EQ(path.back(), '/') << path;  // no files
  }
}

TEST_F(TransferFaultTest, AFailedPutTreeLeavesWhatItPutInTheWriter) {
  ASSERT_TRUE(WriteTree(tmp_.Sub("src"), {{"a", "alpha"}, {"b", "beta"}, {"c", "gamma"}}).ok());
  faulty_->Script(Method::kPut, 2, Fault::SyncError(PermissionDeniedError("injected")));
  Transfer transfer(*faulty_, pool_, options_);
  TreePut put = StartPutTree(transfer, tmp_.Sub("src"));
  EXPECT_EQ(std::move(put.put).GetFor(kWait).status().code(), StatusCode::kPermissionDenied);
  // Every file that made it ("a", and "c" if it started before the failure stopped the
  // pipeline) is in the writer, for the caller to delete: deleting those leaves nothing.
  Result<std::shared_ptr<const IndexFile>> index = put.writer->Finish(SnapshotIndex{});
  ASSERT_TRUE(index.ok()) << index.status();
  std::vector<std::string> put_blobs;
  ASSERT_TRUE((*index)
                  ->VisitFiles([&](const FileIndex& f, bool) {
                    for (const FileBlob& b : f.blobs) put_blobs.push_back(b.blob_id);
                  })
                  .ok());
  EXPECT_GE(put_blobs.size(), 1u);
  EXPECT_EQ(StoredBlobs(), put_blobs.size());
  EXPECT_EQ(faulty_->calls(Method::kDelete), 0);
  ASSERT_TRUE(transfer.DeleteBlobs(ToBlobIds(put_blobs)).GetFor(kWait).ok());
  EXPECT_EQ(StoredBlobs(), 0u);
}

TEST_F(TransferFaultTest, PutTreeOfManyDirectoriesKeepsTheDiffAWindowAhead) {
  // More files than a window, in directories of 100: every one is put, once.
  std::map<std::string, std::string> tree;
  for (int i = 0; i < 3 * static_cast<int>(kTransfersInFlight); ++i) {
    tree["d" + std::to_string(i / 100) + "/f" + std::to_string(i)] = std::to_string(i);
  }
  ASSERT_TRUE(WriteTree(tmp_.Sub("src"), tree).ok());
  Transfer transfer(*faulty_, pool_, options_);
  Result<DirIndex> root = PutTree(transfer, tmp_.Sub("src"));
  ASSERT_TRUE(root.ok()) << root.status();
  EXPECT_EQ(TotalsOf(*root).files, tree.size());
  EXPECT_EQ(faulty_->calls(Method::kPut), static_cast<int>(tree.size()));
  ASSERT_TRUE(GetTree(transfer, *root, tmp_.Sub("dst")).GetFor(kWait).ok());
  EXPECT_EQ(*ReadSmallFile(tmp_.Sub("dst/d7/f700")), "700");
}

TEST_F(TransferFaultTest, DeleteBlobsReportsRealErrorsAndIgnoresGone) {
  ASSERT_TRUE(WriteTree(tmp_.Sub("src"), {{"a", "alpha"}, {"b", "beta"}}).ok());
  Transfer transfer(*faulty_, pool_, options_);
  Result<DirIndex> root = PutTree(transfer, tmp_.Sub("src"));
  ASSERT_TRUE(root.ok()) << root.status();
  faulty_->Script(Method::kDelete, 1, Fault::LostReply());  // deleted, but told unavailable
  Result<void> r = transfer.DeleteBlobs(ToBlobIds(BlobIdsOf(*root))).GetFor(kWait);
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_TRUE(
      transfer.DeleteBlobs(ToBlobIds(BlobIdsOf(*root))).GetFor(kWait).ok());  // gone is done
  EXPECT_EQ(StoredBlobs(), 0u);
}

// Z.2: a sink that checks by chunk writes each chunk, whatever the pieces the bytes come
// in, once it matched; a chunk that does not match fails the write and is never written.
TEST(FileRangeSinkTest, ASinkCheckedByChunkWritesOnlyChunksThatMatch) {
  TempDir tmp;
  const std::string path = tmp.Sub("f");
  const std::string bytes = testing::RandomBytes(3 * kChunkSize + 7, 3);
  std::vector<uint64_t> chunks;
  for (size_t at = 0; at < bytes.size(); at += kChunkSize) {
    chunks.push_back(Hash64(bytes.data() + at, std::min<size_t>(kChunkSize, bytes.size() - at)));
  }
  for (bool corrupt : {false, true}) {
    SCOPED_TRACE(corrupt);
    ASSERT_TRUE(WriteFileAtomic(path, std::string(100 + bytes.size(), '\0')).ok());
    std::string sent = bytes;
    if (corrupt) sent[kChunkSize + 9] ^= 1;
    Result<std::unique_ptr<BlobSink>> sink =
        FileRangeSinkFactory(path, 100, bytes.size(), "b", nullptr, chunks)();
    ASSERT_TRUE(sink.ok()) << sink.status();
    Status s;
    for (size_t at = 0; at < sent.size() && s.ok(); at += 1000) {
      s = (*sink)->Write(sent.data() + at, std::min<size_t>(1000, sent.size() - at));
    }
    if (s.ok()) s = (*sink)->Finish();
    const std::string written = *ReadSmallFile(path, 1 << 20);
    if (!corrupt) {
      ASSERT_TRUE(s.ok()) << s;
      EXPECT_TRUE(written.substr(100) == bytes);
      continue;
    }
    EXPECT_EQ(s.code(), StatusCode::kDataLoss);
    EXPECT_NE(s.message().find("blob b, chunk 1 (bytes 65536-131071)"), std::string::npos) << s;
    EXPECT_TRUE(written.substr(100, kChunkSize) == bytes.substr(0, kChunkSize));
    EXPECT_TRUE(written.substr(100 + kChunkSize) ==
                std::string(written.size() - 100 - kChunkSize, '\0'));
  }
}

}  // namespace
}  // namespace blobstate
