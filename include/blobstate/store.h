// State stores and their local snapshots.
//
// A task's store lives in its own directory. At each commit the store is snapshotted into
// a local checkpoint directory beside it, "<dir>-<checkpoint id>", by hard links: RocksDB
// stores through RocksDB's Checkpoint API (its SST files are immutable, so a link is a
// snapshot), plain directories by linking every file (copying only across file systems).
// The backup then reads the checkpoint directory while the store goes on.
//
// Store kinds (see README, "Store kinds"):
//   - persistent (on disk) or in-memory: only persistent stores have a directory and are
//     backed up; in-memory stores are rebuilt from their changelog, if any.
//   - logged (has a changelog) or not: both are backed up the same way when persistent;
//     the blob store is the source of truth for their state either way.
//
// Example:
//   ASSIGN_OR_RETURN(auto db, RocksDbStore::Open("/state/profile", {.create_if_missing = true}));
//   RETURN_IF_ERROR(db->Put("k", "v"));
//   RETURN_IF_ERROR(db->Checkpoint(CheckpointDirOf("/state/profile", id)));
#ifndef BLOBSTATE_STORE_H_
#define BLOBSTATE_STORE_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "blobstate/status.h"

namespace rocksdb {
class DB;
}  // namespace rocksdb

namespace blobstate {

enum class StoreEngine { kDirectory, kRocksDb };

struct StoreConfig {
  std::string name;  // a single path component (IsValidName)
  std::string dir;   // the store's directory; empty for an in-memory store
  StoreEngine engine = StoreEngine::kDirectory;
  bool persistent = true;
  bool logged = false;

  // Whether the blob store backend backs this store up: persistent stores only.
  bool BackedUp() const { return persistent; }
};

// "<store_dir>-<checkpoint_id>" (store_dir without trailing slashes).
std::string CheckpointDirOf(std::string_view store_dir, std::string_view checkpoint_id);

// The checkpoint directories that exist beside `store_dir` ("<store_dir>-<id>" for a
// valid checkpoint id (IsValidCheckpointId, checkpoint.h),
// directories only), ordered by checkpoint id (oldest first).
Result<std::vector<std::string>> ListCheckpointDirs(const std::string& store_dir);

// Deletes every checkpoint directory of `store_dir` except the one of `keep_id` (which may
// be empty: delete them all). Never follows symlinks. Missing directories are fine.
Status DeleteCheckpointDirs(const std::string& store_dir, std::string_view keep_id);

// Snapshots the store `config` into `dest` (which must not exist; its parent must) while
// nobody writes the store: a RocksDB store is opened, snapshotted with Checkpoint (which
// flushes the memtable) and closed; a directory is hard-linked file by file (copied when
// `dest` is on another file system), recreating subdirectories and empty directories.
// kNotFound if the store directory is missing; kFailedPrecondition for a RocksDB store that
// another process holds open; kInvalidArgument for a symlink or special file in the tree.
Status SnapshotClosedStore(const StoreConfig& config, const std::string& dest);

// An open RocksDB database: the store adapter the task commit coordinator and the examples
// use. Thread-safe as rocksdb::DB is.
class RocksDbStore {
 public:
  struct Options {
    bool create_if_missing = false;
  };

  // Errors name the directory and carry RocksDB's message.
  static Result<std::unique_ptr<RocksDbStore>> Open(const std::string& dir, Options options);
  ~RocksDbStore();  // closes the database

  Status Put(std::string_view key, std::string_view value);
  Status Delete(std::string_view key);
  // The value of `key`, or nullopt if absent.
  Result<std::optional<std::string>> Get(std::string_view key);
  // Calls fn(key, value) for every pair in key order; stops early when fn returns false.
  Status ForEach(const std::function<bool(std::string_view, std::string_view)>& fn);
  // Writes the memtable to SST files.
  Status Flush();
  // Compacts the whole key range.
  Status CompactAll();
  // Creates a RocksDB checkpoint (hard links) in `dest`, which must not exist.
  Status Checkpoint(const std::string& dest);

  const std::string& dir() const { return dir_; }
  rocksdb::DB* db() { return db_.get(); }

 private:
  RocksDbStore(std::string dir, std::unique_ptr<rocksdb::DB> db);
  std::string dir_;
  std::unique_ptr<rocksdb::DB> db_;
};

}  // namespace blobstate

#endif  // BLOBSTATE_STORE_H_
