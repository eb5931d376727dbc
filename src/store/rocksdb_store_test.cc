#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "blobstate/store.h"
#include "testing/temp_dir.h"
#include "util/fs.h"

namespace blobstate {
namespace {

using testing::TempDir;
using KeyValues = std::map<std::string, std::string>;

std::unique_ptr<RocksDbStore> OpenOrDie(const std::string& dir, bool create = false) {
  Result<std::unique_ptr<RocksDbStore>> db = RocksDbStore::Open(dir, {.create_if_missing = create});
  EXPECT_TRUE(db.ok()) << db.status();
  return db.ok() ? std::move(*db) : nullptr;
}

KeyValues ReadAll(RocksDbStore& db) {
  KeyValues out;
  Status s = db.ForEach([&](std::string_view k, std::string_view v) {
    out.emplace(k, v);
    return true;
  });
  EXPECT_TRUE(s.ok()) << s;
  return out;
}

void PutAll(RocksDbStore& db, const KeyValues& kvs) {
  for (const auto& [k, v] : kvs) ASSERT_TRUE(db.Put(k, v).ok());
}

KeyValues Numbered(int from, int to, const std::string& suffix) {
  KeyValues out;
  for (int i = from; i < to; ++i) out["k" + std::to_string(1000 + i)] = "v" + suffix;
  return out;
}

TEST(RocksDbStoreTest, PutGetDeleteRoundTrip) {
  TempDir tmp;
  auto db = OpenOrDie(tmp.Sub("db"), /*create=*/true);
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(db->dir(), tmp.Sub("db"));
  ASSERT_TRUE(db->Put("k", std::string("v\0w", 3)).ok());
  EXPECT_EQ(*db->Get("k"), std::optional<std::string>(std::string("v\0w", 3)));
  ASSERT_TRUE(db->Delete("k").ok());
  EXPECT_EQ(*db->Get("k"), std::nullopt);
  EXPECT_TRUE(db->Delete("never-there").ok());
}

TEST(RocksDbStoreTest, OpenOfMissingStoreWithoutCreateIsNotFound) {
  TempDir tmp;
  auto db = RocksDbStore::Open(tmp.Sub("db"), {});
  EXPECT_EQ(db.status().code(), StatusCode::kNotFound) << db.status();
  EXPECT_NE(db.status().message().find(tmp.Sub("db")), std::string::npos) << db.status();
}

TEST(RocksDbStoreTest, ForEachVisitsKeysInOrder) {
  TempDir tmp;
  auto db = OpenOrDie(tmp.Sub("db"), /*create=*/true);
  std::vector<std::string> keys;
  for (int i = 0; i < 200; ++i) keys.push_back("key" + std::to_string(i));
  std::vector<std::string> shuffled = keys;
  std::shuffle(shuffled.begin(), shuffled.end(), std::mt19937(1));
  for (size_t i = 0; i < shuffled.size(); ++i) {
    ASSERT_TRUE(db->Put(shuffled[i], "v").ok());
    if (i == 100) {
      ASSERT_TRUE(db->Flush().ok());  // keys both in an SST and the memtable
    }
  }
  std::vector<std::string> seen;
  ASSERT_TRUE(db->ForEach([&](std::string_view k, std::string_view) {
                  seen.emplace_back(k);
                  return true;
                }).ok());
  std::sort(keys.begin(), keys.end());
  EXPECT_EQ(seen, keys);

  seen.clear();
  ASSERT_TRUE(db->ForEach([&](std::string_view k, std::string_view) {
                  seen.emplace_back(k);
                  return seen.size() < 3;
                }).ok());
  EXPECT_EQ(seen, std::vector<std::string>(keys.begin(), keys.begin() + 3));
}

TEST(RocksDbStoreTest, CheckpointHoldsExactlyTheDataAtCheckpointTime) {
  TempDir tmp;
  const std::string dir = tmp.Sub("db"), dest = tmp.Sub("db-checkpoint");
  auto db = OpenOrDie(dir, /*create=*/true);
  KeyValues at_checkpoint = Numbered(0, 100, "1");
  PutAll(*db, at_checkpoint);
  ASSERT_TRUE(db->Flush().ok());
  PutAll(*db, Numbered(50, 150, "2"));  // in the memtable and WAL only
  ASSERT_TRUE(db->Delete("k1000").ok());
  for (const auto& [k, v] : Numbered(50, 150, "2")) at_checkpoint[k] = v;
  at_checkpoint.erase("k1000");
  ASSERT_TRUE(db->Checkpoint(dest).ok());

  PutAll(*db, Numbered(0, 200, "3"));  // after the checkpoint: not in it
  ASSERT_TRUE(db->Delete("k1001").ok());
  ASSERT_TRUE(db->Compact().ok());

  auto copy = OpenOrDie(dest);
  ASSERT_NE(copy, nullptr);
  EXPECT_EQ(ReadAll(*copy), at_checkpoint);
  KeyValues now = Numbered(0, 200, "3");
  now.erase("k1001");
  EXPECT_EQ(ReadAll(*db), now);
}

TEST(RocksDbStoreTest, CheckpointHardLinksSstFilesAndRefusesAnExistingDir) {
  TempDir tmp;
  const std::string dir = tmp.Sub("db"), dest = tmp.Sub("db-checkpoint");
  auto db = OpenOrDie(dir, /*create=*/true);
  PutAll(*db, Numbered(0, 10, "1"));
  ASSERT_TRUE(db->Checkpoint(dest).ok());
  Result<testing::Tree> tree = testing::ReadTree(dest);
  ASSERT_TRUE(tree.ok()) << tree.status();
  int linked = 0;
  for (const auto& [name, content] : *tree) {
    if (!name.ends_with(".sst")) continue;
    struct stat a, b;
    ASSERT_EQ(::stat((dir + "/" + name).c_str(), &a), 0) << name;
    ASSERT_EQ(::stat((dest + "/" + name).c_str(), &b), 0) << name;
    EXPECT_EQ(a.st_ino, b.st_ino) << name;
    ++linked;
  }
  EXPECT_GT(linked, 0) << "the checkpoint flushed the memtable into an SST file";
  EXPECT_TRUE(tree->contains("CURRENT"));
  EXPECT_FALSE(tree->contains("LOCK"));
  Status again = db->Checkpoint(dest);
  EXPECT_EQ(again.code(), StatusCode::kAlreadyExists) << again;
  EXPECT_NE(again.message().find(dest), std::string::npos) << again;
}

TEST(RocksDbStoreTest, SnapshotClosedStoreOfRocksDbOpensWithSameData) {
  TempDir tmp;
  const std::string dir = tmp.Sub("db"), dest = tmp.Sub("db-snap");
  const KeyValues data = Numbered(0, 300, "x");
  {
    auto db = OpenOrDie(dir, /*create=*/true);
    PutAll(*db, data);  // never flushed: only in the WAL when the store is closed
  }
  StoreConfig config{.name = "db", .dir = dir, .engine = StoreEngine::kRocksDb};
  Status s = SnapshotClosedStore(config, dest);
  ASSERT_TRUE(s.ok()) << s;
  auto copy = OpenOrDie(dest);
  ASSERT_NE(copy, nullptr);
  EXPECT_EQ(ReadAll(*copy), data);
  copy.reset();
  auto original = OpenOrDie(dir);  // closed again: can be opened
  ASSERT_NE(original, nullptr);
  EXPECT_EQ(ReadAll(*original), data);
}

TEST(RocksDbStoreTest, OpenOfLockedStoreIsFailedPrecondition) {
  TempDir tmp;
  const std::string dir = tmp.Sub("db");
  auto db = OpenOrDie(dir, /*create=*/true);
  Result<std::unique_ptr<RocksDbStore>> second = RocksDbStore::Open(dir, {});
  EXPECT_EQ(second.status().code(), StatusCode::kFailedPrecondition) << second.status();
  EXPECT_NE(second.status().message().find(dir), std::string::npos) << second.status();
  StoreConfig config{.name = "db", .dir = dir, .engine = StoreEngine::kRocksDb};
  Status s = SnapshotClosedStore(config, tmp.Sub("db-snap"));
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s;
  EXPECT_FALSE(PathExists(tmp.Sub("db-snap")));
}

// Another process holds the LOCK file as RocksDB does (an fcntl write lock).
TEST(RocksDbStoreTest, OpenOfStoreLockedByAnotherProcessIsFailedPrecondition) {
  TempDir tmp;
  const std::string dir = tmp.Sub("db");
  OpenOrDie(dir, /*create=*/true).reset();
  const std::string lock_file = dir + "/LOCK";
  int locked[2], release[2];
  ASSERT_EQ(::pipe(locked), 0);
  ASSERT_EQ(::pipe(release), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {         // only async-signal-safe calls from here on
    ::close(release[1]);  // so that the read below ends when the parent closes its end
    int fd = ::open(lock_file.c_str(), O_RDWR);
    struct flock f = {};
    f.l_type = F_WRLCK;
    f.l_whence = SEEK_SET;
    char c = (fd >= 0 && ::fcntl(fd, F_SETLK, &f) == 0) ? 'y' : 'n';
    (void)!::write(locked[1], &c, 1);
    (void)!::read(release[0], &c, 1);
    ::_exit(0);
  }
  char c = 0;
  ASSERT_EQ(::read(locked[0], &c, 1), 1);
  Result<std::unique_ptr<RocksDbStore>> db = RocksDbStore::Open(dir, {});
  ::close(release[1]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  for (int fd : {locked[0], locked[1], release[0]}) ::close(fd);
  ASSERT_EQ(c, 'y');
  EXPECT_EQ(db.status().code(), StatusCode::kFailedPrecondition) << db.status();
  EXPECT_NE(db.status().message().find(dir), std::string::npos) << db.status();
}

}  // namespace
}  // namespace blobstate
