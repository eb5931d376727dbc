#include "store/lazy_file_system.h"

#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "blobstate/blob_store.h"
#include "blobstate/checkpoint.h"
#include "blobstate/store.h"
#include "blobstore/blob_store_testing.h"
#include "blobstore/faulty/faulty_blob_store.h"
#include "blobstore/local/local_ops.h"
#include "index/codec.h"
#include "store/lazy_files.h"
#include "testing/temp_dir.h"
#include "transfer/transfer.h"
#include "util/failpoint.h"
#include "util/fs.h"

namespace blobstate {
namespace {

using namespace std::chrono_literals;
using testing::TempDir;
using KeyValues = std::map<std::string, std::string>;

constexpr auto kWait = 120s;

bool IsTable(const std::string& name) { return name.ends_with(".sst"); }

std::vector<std::string> Names(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    names.push_back(e.path().filename());
  }
  return names;
}

// A read of 100 bytes at `offset` of file `path` through `fs`: how it ended.
rocksdb::IOStatus ReadThrough(rocksdb::FileSystem& fs, const std::string& path, uint64_t offset) {
  std::unique_ptr<rocksdb::FSRandomAccessFile> file;
  rocksdb::IOStatus s = fs.NewRandomAccessFile(path, {}, &file, nullptr);
  if (!s.ok()) return s;
  std::string scratch(100, '\0');
  rocksdb::Slice got;
  return file->Read(offset, scratch.size(), {}, &got, scratch.data(), nullptr);
}

// Forwards to a blob store and records the ranged reads made through it: how many, and the
// names of the files whose blobs they read (a part's blob id ends in its file's name).
class RecordedReads : public testing::ForwardingBlobStore {
 public:
  using ForwardingBlobStore::ForwardingBlobStore;
  Future<void> GetRange(const std::string& id, uint64_t offset, uint64_t length,
                        SinkFactory sink) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++reads_;
      files_.insert(id.substr(id.rfind('-') + 1));
    }
    return ForwardingBlobStore::GetRange(id, offset, length, std::move(sink));
  }
  int reads() {
    std::lock_guard<std::mutex> lock(mu_);
    return reads_;
  }
  std::set<std::string> files() {
    std::lock_guard<std::mutex> lock(mu_);
    return files_;
  }

 private:
  std::mutex mu_;
  int reads_ = 0;
  std::set<std::string> files_;
};

class LazyFileSystemTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::unique_ptr<BlobStore>> s = OpenBlobStore("file://" + tmp_.Sub("blobs"), {});
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
    transfer_ = std::make_unique<Transfer>(*store_, pool_, TransferOptions{.part_size = 16 << 10});
    // A RocksDB store of three tables of about 100 KiB each (several parts each).
    rocksdb::Options options;
    options.create_if_missing = true;
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(options, tmp_.Sub("src"), &db).ok());
    for (int table = 0; table < 3; ++table) {
      for (int i = 0; i < 100; ++i) {
        const std::string key = "k" + std::to_string(table * 1000 + i);
        kvs_[key] = testing::RandomBytes(1000, table * 1000 + i);
        ASSERT_TRUE(db->Put({}, key, kvs_[key]).ok());
      }
      ASSERT_TRUE(db->Flush({}).ok());
    }
    delete db;
  }

  // Copies every file of `src` but its tables to `dir`; backs the tables up through
  // `transfer` and returns them, for LazyFiles.
  std::map<std::string, FileIndex> CopyAllButTables(const std::string& src, const std::string& dir,
                                                    Transfer& transfer) {
    EXPECT_TRUE(MakeDirs(dir).ok());
    std::map<std::string, FileIndex> remote;
    for (const std::string& name : Names(src)) {
      const std::string path = JoinPath(src, name);
      if (!IsTable(name)) {
        EXPECT_TRUE(CopyFile(path, JoinPath(dir, name)).ok());
        continue;
      }
      struct stat st;
      EXPECT_EQ(::lstat(path.c_str(), &st), 0);
      LocalFile local{name, MetadataForIndex(st, std::chrono::system_clock::time_point{})};
      Result<FileIndex> put = transfer.PutFile(path, local, {.job_name = "j"}).GetFor(kWait);
      EXPECT_TRUE(put.ok()) << put.status();
      if (put.ok()) remote[name] = *put;
    }
    return remote;
  }

  // CopyAllButTables of the fixture's store of three tables, of several parts each.
  std::map<std::string, FileIndex> LazyCopy(const std::string& dir) {
    std::map<std::string, FileIndex> remote = CopyAllButTables(tmp_.Sub("src"), dir, *transfer_);
    EXPECT_EQ(remote.size(), 3u);
    for (const auto& [name, f] : remote) EXPECT_GT(f.blobs.size(), 2u) << name;
    return remote;
  }

  // Leaves at `dir` what a lazy restore leaves of a RocksDB store of about `mib` MiB in
  // tables of about 256 KiB (none pending compaction, their key ranges apart): every file
  // but the tables, which are backed up in one part each and listed in `<dir>.remote`.
  // Returns how many tables it has; its keys are Key(0) to Key(mib * 1024 - 1).
  size_t LazyStoreOf(const std::string& dir, int mib) {
    const std::string src = dir + ".src";
    rocksdb::Options options;
    options.create_if_missing = true;
    options.target_file_size_base = 256 << 10;
    rocksdb::DB* raw = nullptr;
    EXPECT_TRUE(rocksdb::DB::Open(options, src, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    for (int i = 0; i < mib * 1024; ++i) {
      EXPECT_TRUE(db->Put({}, Key(i), testing::RandomBytes(1000, i)).ok());
    }
    rocksdb::CompactRangeOptions rewrite;  // rewritten into tables of 256 KiB, never moved whole
    rewrite.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
    EXPECT_TRUE(db->CompactRange(rewrite, nullptr, nullptr).ok());
    db.reset();
    Transfer whole(*store_, pool_, {});
    SnapshotIndex manifest;
    for (auto& [name, f] : CopyAllButTables(src, dir, whole)) {
      manifest.root.files_present.push_back(std::move(f));
    }
    EXPECT_TRUE(WriteRemoteManifest(dir, manifest).ok());
    return manifest.root.files_present.size();
  }

  static std::string Key(int i) {
    char key[16];
    std::snprintf(key, sizeof(key), "key%08d", i);
    return key;
  }

  // Every key of the store at `dir`, opened through `env` (the default if null).
  Result<KeyValues> ReadAll(const std::string& dir, rocksdb::Env* env) {
    rocksdb::Options options;
    if (env != nullptr) options.env = env;
    rocksdb::DB* raw = nullptr;
    rocksdb::Status s = rocksdb::DB::Open(options, dir, &raw);
    if (!s.ok()) return InternalError("open: " + s.ToString());
    std::unique_ptr<rocksdb::DB> db(raw);
    KeyValues out;
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator({}));
    for (it->SeekToFirst(); it->Valid(); it->Next())
      out[it->key().ToString()] = it->value().ToString();
    if (!it->status().ok()) return InternalError("iterate: " + it->status().ToString());
    return out;
  }

  TempDir tmp_;
  ThreadPool pool_{"lazy-test", 2};
  std::unique_ptr<BlobStore> store_;
  std::unique_ptr<Transfer> transfer_;
  KeyValues kvs_;
};

// Z.1, Z.3: a store opens and serves every key with no table local, then the fetcher
// makes it an ordinary directory that RocksDB opens without blobstate.
TEST_F(LazyFileSystemTest, ServesEveryKeyBeforeItsTablesAreLocalThenFetchesThemWhole) {
  const std::string dst = tmp_.Sub("dst");
  std::map<std::string, FileIndex> remote = LazyCopy(dst);
  Result<std::shared_ptr<LazyFiles>> files = LazyFiles::Create(*transfer_, "store s", dst, remote);
  ASSERT_TRUE(files.ok()) << files.status();
  auto fs = std::make_shared<LazyFileSystem>(rocksdb::FileSystem::Default(), *files);
  std::unique_ptr<rocksdb::Env> env = rocksdb::NewCompositeEnv(fs);
  for (const auto& [name, f] : remote) EXPECT_FALSE(PathExists(JoinPath(dst, name))) << name;
  EXPECT_EQ(ReadAll(dst, env.get()).value_or(KeyValues{}), kvs_);

  ASSERT_TRUE((*files)->FetchAll(pool_, 4).GetFor(kWait).ok());
  for (const std::string& name : Names(dst)) {
    EXPECT_EQ(name.find(".blobstate-tmp-"), std::string::npos) << name;
  }
  for (const auto& [name, f] : remote) {
    EXPECT_EQ(*ReadSmallFile(JoinPath(dst, name), 1 << 20),
              *ReadSmallFile(JoinPath(tmp_.Sub("src"), name), 1 << 20))
        << name;
  }
  EXPECT_EQ(ReadAll(dst, nullptr).value_or(KeyValues{}), kvs_);
}

// Z.2: a corrupt part fails the read naming the store, the file and the blob; RocksDB
// reports it as an I/O error, and nothing of the corrupt part is served.
TEST_F(LazyFileSystemTest, ACorruptBlobFailsTheReadNamingStoreFileAndBlob) {
  const std::string dst = tmp_.Sub("dst");
  std::map<std::string, FileIndex> remote = LazyCopy(dst);
  const auto& [name, table] = *remote.begin();
  const std::string blob = table.blobs[1].blob_id;
  const std::string at = tmp_.Sub("blobs/blobs/" + local_internal::ShardOf(blob) + "/" + blob);
  std::string bytes = *ReadSmallFile(at, 1 << 20);
  bytes[100] ^= 1;
  ASSERT_TRUE(WriteFileAtomic(at, bytes).ok());
  Result<std::shared_ptr<LazyFiles>> files = LazyFiles::Create(*transfer_, "store s", dst, remote);
  ASSERT_TRUE(files.ok()) << files.status();
  std::shared_ptr<LazyFile> file = (*files)->Find(JoinPath(dst, name));
  ASSERT_NE(file, nullptr);
  std::string buf(100, '\0');
  Result<size_t> read = file->Read(table.blobs[1].offset, buf.size(), buf.data());
  EXPECT_EQ(read.status().code(), StatusCode::kDataLoss);
  for (const std::string& part : {std::string("store s"), "file " + name, "blob " + blob}) {
    EXPECT_NE(read.status().message().find(part), std::string::npos) << read.status();
  }
  auto fs = std::make_shared<LazyFileSystem>(rocksdb::FileSystem::Default(), *files);
  EXPECT_TRUE(ReadThrough(*fs, JoinPath(dst, name), table.blobs[1].offset).IsCorruption());
  std::unique_ptr<rocksdb::Env> env = rocksdb::NewCompositeEnv(fs);
  Result<KeyValues> all = ReadAll(dst, env.get());
  ASSERT_FALSE(all.ok());
  EXPECT_NE(all.status().message().find("blob " + blob), std::string::npos) << all.status();
  EXPECT_FALSE((*files)->FetchAll(pool_, 4).GetFor(kWait).ok());
  EXPECT_FALSE(PathExists(JoinPath(dst, name)));
}

// A read of a file not local that fails for a reason retrying may mend (the blob store out
// of reach) is a retryable I/O error to RocksDB: a compaction that made it is scheduled
// again, instead of stopping the store's writes as a fatal error would; RocksDbStore
// reports it with its retriable code.
TEST_F(LazyFileSystemTest, AReadThatMayWorkIfRetriedIsARetryableIoError) {
  const std::string dst = tmp_.Sub("dst");
  std::map<std::string, FileIndex> remote = LazyCopy(dst);
  Result<std::unique_ptr<BlobStore>> inner = OpenBlobStore("file://" + tmp_.Sub("blobs"), {});
  ASSERT_TRUE(inner.ok());
  FaultyBlobStore faulty(std::move(*inner));  // reads only through GetRange
  faulty.ScriptAll(FaultyBlobStore::Method::kGetRange,
                   FaultyBlobStore::Fault::SyncError(UnavailableError("injected")));
  Transfer transfer(faulty, pool_, {});
  Result<std::shared_ptr<LazyFiles>> files = LazyFiles::Create(transfer, "store s", dst, remote);
  ASSERT_TRUE(files.ok()) << files.status();
  LazyFileSystem fs(rocksdb::FileSystem::Default(), *files);
  rocksdb::IOStatus read = ReadThrough(fs, JoinPath(dst, remote.begin()->first), 0);
  EXPECT_TRUE(read.IsIOError()) << read.ToString();
  EXPECT_TRUE(read.GetRetryable()) << read.ToString();
  EXPECT_NE(read.ToString().find("injected"), std::string::npos) << read.ToString();
  files->reset();
  // Through RocksDbStore the error keeps its retriable code: here the open's, which reads
  // the tails of tables.
  SnapshotIndex manifest;
  for (auto& [name, f] : remote) manifest.root.files_present.push_back(f);
  ASSERT_TRUE(WriteRemoteManifest(dst, manifest).ok());
  Result<std::unique_ptr<RocksDbStore>> db = RocksDbStore::Open(dst, {.remote = &faulty});
  EXPECT_EQ(db.status().code(), StatusCode::kUnavailable) << db.status();
  EXPECT_NE(db.status().message().find("injected"), std::string::npos) << db.status();
}

// Z.5: parts checked before a crash are kept by the next run, which gets only the rest;
// a file RocksDB deletes is no longer fetched.
TEST_F(LazyFileSystemTest, ARestartKeepsCheckedPartsAndADeletedFileIsNotFetched) {
  const std::string dst = tmp_.Sub("dst");
  std::map<std::string, FileIndex> remote = LazyCopy(dst);
  auto it = remote.begin();
  const auto& [name, table] = *it;
  {
    // A read keeps what it gets from a store that reads only through GetRange (as S3 and
    // Azure do): here the whole first part.
    testing::ForwardingBlobStore remote_reads(*store_);
    Transfer kept(remote_reads, pool_, TransferOptions{.part_size = 16 << 10});
    Result<std::shared_ptr<LazyFiles>> files = LazyFiles::Create(kept, "store s", dst, remote);
    ASSERT_TRUE(files.ok()) << files.status();
    std::string buf(10, '\0');
    ASSERT_TRUE((*files)->Find(JoinPath(dst, name))->Read(0, buf.size(), buf.data()).ok());
  }  // a crash: the partial file stays
  ASSERT_TRUE(store_->Delete(table.blobs[0].blob_id).GetFor(kWait).ok());  // not needed again
  Result<std::shared_ptr<LazyFiles>> files = LazyFiles::Create(*transfer_, "store s", dst, remote);
  ASSERT_TRUE(files.ok()) << files.status();
  const std::string dropped = JoinPath(dst, std::next(it)->first);
  LazyFileSystem fs(rocksdb::FileSystem::Default(), *files);
  ASSERT_TRUE(fs.DeleteFile(dropped, {}, nullptr).ok());
  EXPECT_TRUE(fs.FileExists(dropped, {}, nullptr).IsNotFound());
  ASSERT_TRUE((*files)->FetchAll(pool_, 4).GetFor(kWait).ok());
  EXPECT_EQ(*ReadSmallFile(JoinPath(dst, name), 1 << 20),
            *ReadSmallFile(JoinPath(tmp_.Sub("src"), name), 1 << 20));
  EXPECT_FALSE(PathExists(dropped));
  EXPECT_FALSE(PathExists(PartialNameOf(dropped)));
}

// Z.1, Z.3: a store a lazy restore left (its tables in `<dir>.remote`) opens through
// RocksDbStore at once with the blob store, takes writes, flushes and a compaction of its
// remote tables, and is an ordinary directory once local; without the blob store it fails
// to open, naming why.
TEST_F(LazyFileSystemTest, ARocksDbStoreWithRemoteFilesOpensAtOnceAndBecomesLocal) {
  const std::string dst = tmp_.Sub("dst");
  SnapshotIndex manifest;
  manifest.metadata.store_name = "s";
  for (auto& [name, f] : LazyCopy(dst)) manifest.root.files_present.push_back(f);
  ASSERT_TRUE(WriteRemoteManifest(dst, manifest).ok());
  Result<std::unique_ptr<RocksDbStore>> blind = RocksDbStore::Open(dst, {});
  EXPECT_EQ(blind.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(blind.status().message().find(RemoteManifestOf(dst)), std::string::npos)
      << blind.status();
  {
    Result<std::unique_ptr<RocksDbStore>> db = RocksDbStore::Open(dst, {.remote = store_.get()});
    ASSERT_TRUE(db.ok()) << db.status();
    EXPECT_EQ((*db)->db()->GetDBOptions().max_open_files, -1);  // as any store, once open
    EXPECT_EQ(*(*db)->Get("k1042"), std::optional<std::string>(kvs_["k1042"]));
    ASSERT_TRUE((*db)->Put("new", "written during warm-up").ok());
    ASSERT_TRUE((*db)->Flush().ok());
    ASSERT_TRUE((*db)->Compact().ok());  // reads the remote tables, then deletes them
    ASSERT_TRUE((*db)->WaitLocal().ok());
    EXPECT_FALSE(PathExists(RemoteManifestOf(dst)));
  }
  Result<std::unique_ptr<RocksDbStore>> plain = RocksDbStore::Open(dst, {});
  ASSERT_TRUE(plain.ok()) << plain.status();
  KeyValues all;
  ASSERT_TRUE((*plain)
                  ->ForEach([&](std::string_view k, std::string_view v) {
                    all.emplace(k, v);
                    return true;
                  })
                  .ok());
  KeyValues want = kvs_;
  want["new"] = "written during warm-up";
  EXPECT_EQ(all, want);
}

// Z.5: while a store downloads its files, a second open of it (here in the same process)
// fails before it touches them: it neither finishes nor truncates a partial file that the
// first open is filling, and the first becomes local as if alone.
TEST_F(LazyFileSystemTest, ASecondOpenOfAStoreThatDownloadsFailsAndLeavesItsFilesAlone) {
  const std::string dst = tmp_.Sub("dst");
  SnapshotIndex manifest;
  for (auto& [name, f] : LazyCopy(dst)) manifest.root.files_present.push_back(f);
  ASSERT_TRUE(WriteRemoteManifest(dst, manifest).ok());
  testing::FailpointGate finish(tmp_.Sub("finish"));
  ArmFailpointWait("lazy.before_finish", finish.path());  // a file whose parts are all in
  Result<std::unique_ptr<RocksDbStore>> first = RocksDbStore::Open(dst, {.remote = store_.get()});
  ASSERT_TRUE(first.ok()) << first.status();
  const auto deadline = std::chrono::steady_clock::now() + kWait;
  while (FailpointHits("lazy.before_finish") == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_GE(FailpointHits("lazy.before_finish"), 1) << "no file's finish has started";
  Result<std::unique_ptr<RocksDbStore>> second = RocksDbStore::Open(dst, {.remote = store_.get()});
  EXPECT_EQ(second.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(second.status().message().find("is open elsewhere (" + RemoteManifestOf(dst)),
            std::string::npos)
      << second.status();
  finish.Release();
  Status local = (*first)->WaitLocal();
  DisarmAllFailpoints();
  EXPECT_TRUE(local.ok()) << local;
  first->reset();
  Result<KeyValues> all = ReadAll(dst, nullptr);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(*all, kvs_);
}

// Z.4: a checkpoint of a store whose tables are not local downloads none of them: the
// checkpoint directory lacks them and its manifest lists them with their blobs.
TEST_F(LazyFileSystemTest, ACheckpointWhileWarmingUpGetsNoTableAndListsThem) {
  const std::string dst = tmp_.Sub("dst"), checkpoint = CheckpointDirOf(dst, NewCheckpointId());
  std::map<std::string, FileIndex> remote = LazyCopy(dst);
  SnapshotIndex manifest;
  for (auto& [name, f] : remote) manifest.root.files_present.push_back(f);
  ASSERT_TRUE(WriteRemoteManifest(dst, manifest).ok());
  Result<std::unique_ptr<BlobStore>> inner = OpenBlobStore("file://" + tmp_.Sub("blobs"), {});
  ASSERT_TRUE(inner.ok());
  FaultyBlobStore counted(std::move(*inner));
  ArmFailpoint("lazy.before_part", FailpointAction::kError);  // no download in the background
  {
    Result<std::unique_ptr<RocksDbStore>> db = RocksDbStore::Open(dst, {.remote = &counted});
    ASSERT_TRUE(db.ok()) << db.status();
    EXPECT_FALSE((*db)->WaitLocal().ok());
    const int gets = counted.calls(FaultyBlobStore::Method::kGet);
    ASSERT_TRUE((*db)->Checkpoint(checkpoint).ok());
    EXPECT_EQ(counted.calls(FaultyBlobStore::Method::kGet), gets);
    EXPECT_EQ(*(*db)->Get("k2042"), std::optional<std::string>(kvs_["k2042"]));
  }
  DisarmAllFailpoints();
  Result<std::string> bytes = ReadSmallFile(RemoteManifestOf(checkpoint));
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  Result<SnapshotIndex> listed = DecodeSnapshotIndex(*bytes);
  ASSERT_TRUE(listed.ok()) << listed.status();
  // The open read some tables (RocksDB loads a quarter of its table cache of 10 at open):
  // those it read whole are local, and linked. The others are listed.
  EXPECT_GE(listed->root.files_present.size(), 1u);
  for (const FileIndex& f : listed->root.files_present) {
    EXPECT_EQ(f, remote[f.name]);
    EXPECT_FALSE(PathExists(JoinPath(checkpoint, f.name)));
    remote.erase(f.name);
  }
  for (const auto& [name, f] : remote) EXPECT_TRUE(PathExists(JoinPath(checkpoint, name))) << name;
  EXPECT_TRUE(PathExists(JoinPath(checkpoint, "CURRENT")));
  EXPECT_FALSE(PathExists(checkpoint + ".tmp"));

  ASSERT_TRUE(DeleteCheckpointDirs(dst, "").ok());  // the manifest goes with its directory
  EXPECT_FALSE(PathExists(checkpoint));
  EXPECT_FALSE(PathExists(RemoteManifestOf(checkpoint)));
}

// Z.6: the open of a lazily restored store and its first Get read the same few tables,
// however many the store has: the first Get waits no longer for a larger store.
TEST_F(LazyFileSystemTest, TheOpenAndTheFirstGetReadAFewTablesHoweverManyTheStoreHas) {
  ArmFailpoint("lazy.before_part", FailpointAction::kError);  // no download in the background
  std::vector<std::pair<int, size_t>> read;  // per store: ranged reads, tables read
  for (int mib : {4, 24}) {
    const std::string dir = tmp_.Sub("store-of-" + std::to_string(mib) + "-mib");
    const size_t tables = LazyStoreOf(dir, mib);
    EXPECT_GE(tables, static_cast<size_t>(mib * 3)) << dir;  // tables of about 256 KiB
    RecordedReads reads(*store_);
    Result<std::unique_ptr<RocksDbStore>> db = RocksDbStore::Open(dir, {.remote = &reads});
    ASSERT_TRUE(db.ok()) << db.status();
    const int key = mib * 1024 / 2;
    EXPECT_EQ(*(*db)->Get(Key(key)), std::optional<std::string>(testing::RandomBytes(1000, key)));
    read.emplace_back(reads.reads(), reads.files().size());
  }
  DisarmAllFailpoints();
  // The tails of the tables that RocksDB loads at open (a quarter of its table cache of
  // 10), and the table that holds the key.
  EXPECT_GE(read[0].second, 1u);
  EXPECT_LE(read[0].second, 3u);
  EXPECT_EQ(read[1], read[0]) << "a store six times as large";
}

}  // namespace
}  // namespace blobstate
