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
class BlobStore;
}  // namespace blobstate

// The public API: exported from a shared libblobstate, which hides everything else.
#pragma GCC visibility push(default)

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

// The checkpoint directories that exist beside `store_dir`: "<store_dir>-<id>" for a valid
// checkpoint id (IsValidCheckpointId, checkpoint.h), real directories only (not
// symlinks or files), ordered by checkpoint id (oldest first), each spelled as
// CheckpointDirOf(store_dir, id) spells it. Empty if the parent directory is missing.
Result<std::vector<std::string>> ListCheckpointDirs(const std::string& store_dir);

// Deletes every checkpoint directory of `store_dir` except the one of `keep_id` (which may
// be empty: delete them all), with its manifest (RemoteManifestOf) if it has one. Never
// follows symlinks. Missing directories are fine.
Status DeleteCheckpointDirs(const std::string& store_dir, std::string_view keep_id);

// Snapshots the store `config` into `dest` (which must not exist; its parent must) while
// nobody writes the store: a RocksDB store is opened read-write (which takes its LOCK and
// flushes what its WAL held), snapshotted with Checkpoint (which flushes the memtable) and
// closed; a directory is hard-linked file by file (copied, in 1 MiB chunks keeping
// mode and mtime, when `dest` is on another file system), recreating subdirectories and
// empty directories. A hard link shares the file: a directory store must replace files
// rather than change them in place for the snapshot to stay as it was. The newest
// checkpoint directory of a directory store becomes `dest`, and only what changed since is
// linked or removed (LinkTree): so that directory is gone, whether this succeeds or not.
// Errors: kNotFound if the store directory is missing; kAlreadyExists if `dest` exists;
// kFailedPrecondition for an in-memory store (no directory) or a RocksDB store that is open
// (in any process); kInvalidArgument, naming the path, for a symlink or special file in the
// tree (the store directory itself included). On failure `dest` is removed.
// `remote`: the blob store of a RocksDB store's files that a lazy restore left there
// (RocksDbStore::Options::remote; may be null): `dest` lacks those not local yet and
// RemoteManifestOf(dest) lists them. Without it, such a store fails (kFailedPrecondition).
Status SnapshotClosedStore(const StoreConfig& config, const std::string& dest,
                           BlobStore* remote = nullptr);

// An exclusive lock on a store directory, held while anything writes it (a restore, the
// commits of a task, a command-line backup): flock(2) on the lock file "<dir>.lock" beside
// it (outside the directory, which a restore empties), released when the object goes.
// flock excludes other processes, and other locks of this process too. The lock file also
// records whose store the directory holds (RecordStoreDirOwner).
class StoreDirLock {
 public:
  // Creates the lock file (and the parent directory) if missing and takes the lock without
  // waiting. kFailedPrecondition naming the directory if it is held already.
  static Result<StoreDirLock> Acquire(const std::string& dir);
  StoreDirLock(StoreDirLock&& other) noexcept;
  StoreDirLock& operator=(StoreDirLock&& other) noexcept;
  ~StoreDirLock();

 private:
  explicit StoreDirLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

// "<job>/<task>/<store>": the owner a store directory's lock file records.
std::string StoreOwner(std::string_view job, std::string_view task, std::string_view store);
// Records `owner` in the lock file of `dir` (written in place, so that a lock held on it
// stays valid; made durable). Done after each restore and commit of the store, so that a
// later restore can tell the directory is the store's before it empties it.
Status RecordStoreDirOwner(const std::string& dir, const std::string& owner);
// The owner recorded for `dir`; "" if none (no lock file, or an empty one).
Result<std::string> StoreDirOwner(const std::string& dir);
// Whether a RocksDB database in `dir` is open in another process: its LOCK file is locked.
// False if there is no LOCK file.
Result<bool> IsRocksDbOpenElsewhere(const std::string& dir);

// Where a lazy restore lists the files of store directory `dir` that are not local yet:
// "<dir>.remote" (docs/format.md, 3.2). It exists until they all are. A checkpoint
// directory of a store still warming up has one too, for as long as it exists.
std::string RemoteManifestOf(const std::string& dir);

// An open RocksDB database: the store adapter the task commit coordinator and the examples
// use. Thread-safe as rocksdb::DB is.
class RocksDbStore {
 public:
  struct Options {
    // Creates an empty database if `dir` holds none. Default: false.
    bool create_if_missing = false;
    // The blob store of a lazy restore's files. If some files of `dir` are not local yet
    // (a lazy restore left `<dir>.remote`), the database opens at once: reads of those
    // files are served from `remote` (each chunk, or part, checked against its recorded
    // checksum before RocksDB sees it), and they download in the background (WaitLocal). It must
    // outlive this object. Default: none, and such a directory fails to open.
    BlobStore* remote = nullptr;
  };

  // Opens (or creates) the database in `dir`, taking its LOCK file. Errors name the
  // directory and carry RocksDB's message: kNotFound if there is no database and
  // !create_if_missing; kFailedPrecondition if the database is open (in this process or
  // another one), or has files not local yet and no `remote`; kDataLoss if it is corrupt.
  // A read of a file not local yet that fails (here or in a later call) fails with the
  // blob store's code: kDataLoss for a blob that does not match its checksum, a retriable
  // code (kUnavailable, ...) for one out of reach after the blob store's retries.
  static Result<std::unique_ptr<RocksDbStore>> Open(const std::string& dir, Options options);
  ~RocksDbStore();  // closes the database; a background download stops (Open resumes it)

  // Waits until every file of a lazily restored store is local (at once for any other):
  // the directory is then an ordinary RocksDB directory. The download's first error, if
  // it failed (reads go on fetching what they need).
  Status WaitLocal();

  Status Put(std::string_view key, std::string_view value);
  Status Delete(std::string_view key);
  // The value of `key`, or nullopt if absent.
  Result<std::optional<std::string>> Get(std::string_view key);
  // Calls fn(key, value) for every pair in key order; stops early when fn returns false.
  Status ForEach(const std::function<bool(std::string_view, std::string_view)>& fn);
  // Writes the memtable to SST files.
  Status Flush();
  // Compacts the keys from `begin` to `end` (inclusive); an empty bound is open, so
  // Compact() compacts everything.
  Status Compact(std::string_view begin = {}, std::string_view end = {});
  // Creates a RocksDB checkpoint in `dest`, which must not exist (else kAlreadyExists): it
  // flushes the memtable, hard-links the SST files (copies them across file systems) and
  // copies MANIFEST, CURRENT and OPTIONS, so it holds every write made before the call.
  // Of a store still warming up (see Options::remote), the tables not local yet are not
  // downloaded: `dest` lacks them and RemoteManifestOf(dest) lists them with their blobs,
  // which a backup of `dest` keeps (it neither downloads nor uploads them).
  Status Checkpoint(const std::string& dest);

  const std::string& dir() const { return dir_; }
  rocksdb::DB* db() { return db_.get(); }

 private:
  struct Lazy;  // the file system and download of a lazily restored store
  static Result<std::unique_ptr<Lazy>> OpenLazy(const std::string& dir, BlobStore* remote);
  RocksDbStore(std::string dir, std::unique_ptr<Lazy> lazy, std::unique_ptr<rocksdb::DB> db);
  std::string dir_;
  std::unique_ptr<Lazy> lazy_;  // outlives db_, which reads through it
  std::unique_ptr<rocksdb::DB> db_;
};

}  // namespace blobstate

#pragma GCC visibility pop

#endif  // BLOBSTATE_STORE_H_
