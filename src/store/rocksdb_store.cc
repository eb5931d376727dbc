// RocksDbStore: the RocksDB adapter. RocksDB reports errors as rocksdb::Status and does not
// throw, but allocation failures and the ForEach callback may: no exception leaves here.
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/options.h>
#include <rocksdb/utilities/checkpoint.h>
#include <sys/file.h>

#include <algorithm>
#include <exception>
#include <memory>
#include <mutex>
#include <utility>

#include "blobstate/store.h"
#include "store/lazy_file_system.h"
#include "store/lazy_files.h"
#include "transfer/transfer.h"
#include "util/fs.h"

namespace blobstate {
namespace {

rocksdb::Slice ToSlice(std::string_view s) { return rocksdb::Slice(s.data(), s.size()); }
std::string_view ToView(const rocksdb::Slice& s) { return std::string_view(s.data(), s.size()); }

// RocksDB reports a held LOCK file as an IOError, "While lock file: <dir>/LOCK: Resource
// temporarily unavailable" (another process) or "lock hold by current process" (this one).
bool IsLockError(const rocksdb::Status& s) {
  const std::string text = s.ToString();
  return s.IsIOError() && (text.find("lock file") != std::string::npos ||
                           text.find("lock hold") != std::string::npos);
}

// Maps a RocksDB error to a Status whose message names `what` (the operation and directory).
Status FromRocksDb(const rocksdb::Status& s, const std::string& what) {
  if (s.ok()) return Status::Ok();
  std::string message = what + ": " + s.ToString();
  if (s.IsNotFound()) return NotFoundError(std::move(message));
  if (s.IsInvalidArgument()) return InvalidArgumentError(std::move(message));
  if (s.IsCorruption()) return DataLossError(std::move(message));
  if (s.IsNotSupported()) return UnimplementedError(std::move(message));
  if (s.IsBusy() || s.IsTryAgain()) return UnavailableError(std::move(message));
  if (s.IsIOError() && s.IsNoSpace()) return FailedPreconditionError(std::move(message));
  if (s.IsIOError()) {
    // An error of a file not yet local starts with its blobstate code's name (ToIoStatus in
    // lazy_file_system.cc; RocksDB's Status does not expose the retryable flag): one that
    // retrying may mend, the blob store out of reach, keeps its code.
    const std::string_view state = s.getState() == nullptr ? "" : s.getState();
    for (StatusCode code : {StatusCode::kUnavailable, StatusCode::kDeadlineExceeded,
                            StatusCode::kResourceExhausted}) {
      if (state.starts_with(std::string(StatusCodeName(code)) + ": ")) {
        return Status(code, std::move(message));
      }
    }
  }
  return InternalError(std::move(message));
}

// Runs fn() (returning a Status or Result), turning an exception into kInternal.
template <typename Fn>
auto Guarded(const std::string& what, Fn fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const std::exception& e) {
    return InternalError(what + ": exception: " + e.what());
  } catch (...) {
    return InternalError(what + ": unknown exception");
  }
}

// How many bytes of a lazily restored store's files download at a time in the background,
// in whole parts (at least one, at most 64): 4 parts of the default 8 MiB, 32 of 1 MiB.
// Reads get what they need at once, and while one waits the background starts no part
// beyond one (Foreground). Measured with bench/lazy_bench.sh through s3rver and Azurite:
// 64 MiB slowed the first Get (it shared the blob store with more transfers); 16 MiB left
// the download of 4 GiB at 1.24x a full restore; 4 parts of 1 MiB left it at 1.8x.
constexpr uint64_t kLazyBytesInFlight = 32 << 20;

size_t LazyWindow(const LazyFiles& files) {
  const uint64_t part = std::max<uint64_t>(files.LargestPart(), 1);
  return static_cast<size_t>(std::clamp<uint64_t>(kLazyBytesInFlight / part, 1, 64));
}
// While a store's tables are not all local, DB::Open opens no table before it is read
// (RocksDB reads each table's tail when it opens it): it opens with a table cache of 10
// tables (max_open_files less RocksDB's 10), of which it loads a quarter. Right after, the
// cache is unbounded, as in any store (max_open_files -1 only sets its capacity then), so
// that Gets during the download do not reopen tables they evicted. Measured on a 4 GiB
// store (76 tables) through file://: Gets during the download ran at a median 8,717/s,
// against 3,245/s with the cache kept at 10 tables until local (5 runs each).
constexpr int kLazyMaxOpenFiles = 20;
// The threads of a lazily restored store's Transfer: the download's pipeline and the
// files' finishes (an fsync each, holding a thread). Reads' chunks are checked on the blob
// store's threads instead. Measured on a 1 GiB store through file://, Gets during the
// download ran at a median 10,982/s with 4 threads, 9,987/s with 2 (8 runs each).
constexpr size_t kLazyThreads = 4;

}  // namespace

struct RocksDbStore::Lazy {
  explicit Lazy(BlobStore& remote) : transfer(remote, pool, TransferOptions{}) {}

  ThreadPool pool{"lazy-restore", kLazyThreads};
  Transfer transfer;
  std::shared_ptr<LazyFiles> files;
  std::unique_ptr<rocksdb::Env> env;
  std::mutex mu;
  std::optional<Future<void>> fetch;  // GUARDED_BY(mu); until WaitLocal takes its outcome
  Status fetched;                     // GUARDED_BY(mu); that outcome
  File manifest;  // the manifest, flock(2)ed while the store is open (see OpenLazy)
};

// The file system of `dir` if a lazy restore left files of it to download, else null.
Result<std::unique_ptr<RocksDbStore::Lazy>> RocksDbStore::OpenLazy(const std::string& dir,
                                                                   BlobStore* remote) {
  const std::string manifest = RemoteManifestOf(dir);
  Result<File> opened = File::Open(manifest, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (!opened.ok() && opened.status().code() == StatusCode::kNotFound) {
    return std::unique_ptr<Lazy>();
  }
  if (!opened.ok()) return opened.status();
  if (remote == nullptr) {
    return FailedPreconditionError("RocksDB store " + dir + " has files that are not local yet (" +
                                   manifest +
                                   ", left by a lazy restore): open it with the blob store "
                                   "they are in, or restore it again");
  }
  // Taken before anything touches the files' partial downloads, which RocksDB's LOCK (taken
  // later, by the open) does not guard: a second open, in this process or another, fails
  // here and leaves them to the first.
  if (::flock(opened->fd(), LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK) return ErrnoError("flock " + manifest, errno);
    return FailedPreconditionError("RocksDB store " + dir + " is open elsewhere (" + manifest +
                                   " is locked by the open that downloads its files)");
  }
  auto lazy = std::make_unique<Lazy>(*remote);
  lazy->manifest = std::move(*opened);
  ASSIGN_OR_RETURN(lazy->files, LazyFiles::Open(lazy->transfer, "RocksDB store " + dir, dir));
  if (lazy->files == nullptr) return std::unique_ptr<Lazy>();  // made local meanwhile
  lazy->env = rocksdb::NewCompositeEnv(
      std::make_shared<LazyFileSystem>(rocksdb::FileSystem::Default(), lazy->files));
  return lazy;
}

RocksDbStore::RocksDbStore(std::string dir, std::unique_ptr<Lazy> lazy,
                           std::unique_ptr<rocksdb::DB> db)
    : dir_(std::move(dir)), lazy_(std::move(lazy)), db_(std::move(db)) {}

// Defined here, where rocksdb::DB is complete. Close() reports errors that the destructor
// would drop; there is nobody to report them to either way.
RocksDbStore::~RocksDbStore() {
  if (lazy_ != nullptr) {  // the download stops first: nothing lands after the close
    lazy_->files->Stop();
    std::lock_guard<std::mutex> lock(lazy_->mu);
    if (lazy_->fetch) std::move(*lazy_->fetch).Get().status().IgnoreError();  // in flight ends
    lazy_->fetch.reset();
  }
  if (db_ != nullptr) db_->Close().PermitUncheckedError();
  db_.reset();
}

Status RocksDbStore::WaitLocal() {
  if (lazy_ == nullptr) return Status::Ok();
  std::lock_guard<std::mutex> lock(lazy_->mu);
  if (lazy_->fetch) {
    lazy_->fetched = std::move(*lazy_->fetch).Get().status();
    lazy_->fetch.reset();
  }
  return lazy_->fetched;
}

Result<std::unique_ptr<RocksDbStore>> RocksDbStore::Open(const std::string& dir, Options options) {
  const std::string what = "open RocksDB store " + dir;
  return Guarded(what, [&]() -> Result<std::unique_ptr<RocksDbStore>> {
    if (options.create_if_missing) RETURN_IF_ERROR(MakeDirs(dir));  // parents too
    ASSIGN_OR_RETURN(std::unique_ptr<Lazy> lazy, OpenLazy(dir, options.remote));
    rocksdb::DB* raw = nullptr;
    rocksdb::Status s;
    {
      // One open at a time in a process: opening sets up process-wide state (the default
      // Env's thread pools, option registries) that concurrent opens of several tasks'
      // stores race on (seen by ThreadSanitizer). Opens are rare; the cost is nil.
      static std::mutex open_mu;
      std::lock_guard<std::mutex> lock(open_mu);
      rocksdb::Options db_options;
      db_options.create_if_missing = options.create_if_missing;
      // Each open rotates the info LOG; keep a few old ones, not RocksDB's default of 1000.
      db_options.keep_log_file_num = 5;
      if (lazy != nullptr) {
        db_options.env = lazy->env.get();
        db_options.max_open_files = kLazyMaxOpenFiles;
        db_options.skip_stats_update_on_db_open = true;  // reads no table's properties
      }
      s = rocksdb::DB::Open(db_options, dir, &raw);
    }
    std::unique_ptr<rocksdb::DB> db(raw);
    if (IsLockError(s)) {
      return FailedPreconditionError("RocksDB store " + dir +
                                     " is open elsewhere (its LOCK is held): " + s.ToString());
    }
    if (s.IsInvalidArgument() && s.ToString().find("does not exist") != std::string::npos) {
      return NotFoundError(what + ": " + s.ToString());
    }
    RETURN_IF_ERROR(FromRocksDb(s, what));
    if (lazy != nullptr) {
      RETURN_IF_ERROR(FromRocksDb(db->SetDBOptions({{"max_open_files", "-1"}}), what));
      lazy->fetch = lazy->files->FetchAll(lazy->pool, LazyWindow(*lazy->files));
    }
    return std::unique_ptr<RocksDbStore>(new RocksDbStore(dir, std::move(lazy), std::move(db)));
  });
}

Status RocksDbStore::Put(std::string_view key, std::string_view value) {
  const std::string what = "put in RocksDB store " + dir_;
  return Guarded(what, [&] {
    return FromRocksDb(db_->Put(rocksdb::WriteOptions(), ToSlice(key), ToSlice(value)), what);
  });
}

Status RocksDbStore::Delete(std::string_view key) {
  const std::string what = "delete in RocksDB store " + dir_;
  return Guarded(
      what, [&] { return FromRocksDb(db_->Delete(rocksdb::WriteOptions(), ToSlice(key)), what); });
}

Result<std::optional<std::string>> RocksDbStore::Get(std::string_view key) {
  const std::string what = "get in RocksDB store " + dir_;
  return Guarded(what, [&]() -> Result<std::optional<std::string>> {
    std::string value;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), ToSlice(key), &value);
    if (s.IsNotFound()) return std::optional<std::string>();
    RETURN_IF_ERROR(FromRocksDb(s, what));
    return std::optional<std::string>(std::move(value));
  });
}

Status RocksDbStore::ForEach(const std::function<bool(std::string_view, std::string_view)>& fn) {
  const std::string what = "iterate RocksDB store " + dir_;
  return Guarded(what, [&] {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      if (!fn(ToView(it->key()), ToView(it->value()))) break;
    }
    return FromRocksDb(it->status(), what);
  });
}

Status RocksDbStore::Flush() {
  const std::string what = "flush RocksDB store " + dir_;
  return Guarded(what, [&] { return FromRocksDb(db_->Flush(rocksdb::FlushOptions()), what); });
}

Status RocksDbStore::Compact(std::string_view begin, std::string_view end) {
  const std::string what = "compact RocksDB store " + dir_;
  return Guarded(what, [&] {
    rocksdb::Slice b(begin.data(), begin.size()), e(end.data(), end.size());
    return FromRocksDb(db_->CompactRange(rocksdb::CompactRangeOptions(),
                                         begin.empty() ? nullptr : &b, end.empty() ? nullptr : &e),
                       what);
  });
}

Status RocksDbStore::Checkpoint(const std::string& dest) {
  const std::string what = "checkpoint of RocksDB store " + dir_ + " into " + dest;
  if (PathExists(dest)) return AlreadyExistsError(what + ": the destination exists");
  return Guarded(what, [&]() -> Status {
    rocksdb::Checkpoint* raw = nullptr;
    RETURN_IF_ERROR(FromRocksDb(rocksdb::Checkpoint::Create(db_.get(), &raw), what));
    std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
    // log_size_for_flush = 0: always flush first, so the checkpoint's SST files hold every
    // write acknowledged so far and its copied WAL holds none that they lack.
    return FromRocksDb(checkpoint->CreateCheckpoint(dest, /*log_size_for_flush=*/0), what);
  });
}

}  // namespace blobstate
