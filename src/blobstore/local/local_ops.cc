#include "blobstore/local/local_ops.h"

#include <dirent.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <functional>
#include <optional>

#include "blobstore/blob_ids.h"
#include "blobstore/open_blob_store.h"
#include "util/fs.h"
#include "util/hash.h"
#include "util/random.h"

namespace blobstate::local_internal {
namespace {

using std::chrono::system_clock;

// Longer TTLs would overflow the clock; no blob needs to wait that long.
constexpr std::chrono::seconds kMaxTtl(100ll * 365 * 24 * 3600);

bool IsAbsentErrno(int err) { return err == ENOENT || err == ENOTDIR; }

struct timespec ToTimespec(system_clock::time_point t) {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  return {.tv_sec = static_cast<time_t>(ns / 1'000'000'000), .tv_nsec = ns % 1'000'000'000};
}

system_clock::time_point FromTimespec(const struct timespec& ts) {
  return system_clock::time_point(std::chrono::duration_cast<system_clock::duration>(
      std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec)));
}

Status CheckId(const Layout& layout, const std::string& id) {
  if (IsValidBlobId(id)) return Status::Ok();
  return InvalidArgumentError("invalid blob id '" + id.substr(0, 600) + "' for " +
                              layout.Describe());
}

Status CheckObjectName(const Layout& layout, const std::string& name) {
  if (IsValidBlobId(name)) return Status::Ok();
  return InvalidArgumentError("invalid object name '" + name.substr(0, 600) + "' for " +
                              layout.Describe());
}

Status BlobNotFound(const Layout& layout, const std::string& id) {
  return NotFoundError("blob " + id + " not found in " + layout.Describe());
}

// Whether nothing (or a directory, which no blob id names) is at `path`.
Result<bool> IsAbsent(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    if (IsAbsentErrno(errno)) return true;
    return ErrnoError("stat " + path, errno);
  }
  return S_ISDIR(st.st_mode);
}

// Whether `path` is a regular file (not absent, not a directory of longer ids' blobs).
Result<bool> IsPendingFile(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0) return S_ISREG(st.st_mode);
  if (IsAbsentErrno(errno)) return false;
  return ErrnoError("stat " + path, errno);
}

// The file at `path` open for reading, or nullopt if there is none (or a directory). Its
// reads leave its atime alone where the process may ask that (it owns the file): a blob put
// with a TTL has its expiry, in the future, as mtime, so relatime would write the atime back
// at every read.
Result<std::optional<File>> OpenIfPresent(const std::string& path) {
  Result<File> f = File::Open(path, O_RDONLY | O_NOFOLLOW | O_NOATIME);
  if (!f.ok() && f.status().code() == StatusCode::kPermissionDenied) {
    f = File::Open(path, O_RDONLY | O_NOFOLLOW);
  }
  if (f.ok()) return std::optional<File>(std::move(*f));
  if (f.status().code() != StatusCode::kNotFound) {
    ASSIGN_OR_RETURN(bool absent, IsAbsent(path));  // ENOTDIR: an id below another's
    if (!absent) return f.status();
  }
  return std::optional<File>();
}

// The directory part of a relative path ("" when there is none).
std::string_view RelDir(std::string_view rel) {
  size_t slash = rel.find_last_of('/');
  return slash == std::string_view::npos ? std::string_view() : rel.substr(0, slash);
}

// Creates the directories of `rel` under `base` as needed (each one looked at once per
// process). With `sync`, also makes the entry of each one durable in its parent; without,
// the next FlushStore does.
Status EnsureDirs(const Layout& layout, const std::string& base, std::string_view rel, bool sync) {
  std::string dir = base;
  size_t start = 0;
  while (start < rel.size()) {
    size_t slash = std::min(rel.find('/', start), rel.size());
    std::string parent = dir;
    dir = JoinPath(dir, rel.substr(start, slash - start));
    start = slash + 1;
    if (layout.IsKnown(dir)) continue;
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
      return ErrnoError("mkdir " + dir, errno);
    }
    // Another thread may have created it and not yet synced the parent: sync anyway.
    if (sync) RETURN_IF_ERROR(SyncDir(parent));
    layout.MarkKnown(dir);
  }
  return Status::Ok();
}

// Moves the finished temp file `tmp` to base/rel; with `sync`, makes the new entry durable.
Status Publish(const Layout& layout, const std::string& tmp, const std::string& base,
               const std::string& rel, bool sync) {
  RETURN_IF_ERROR(EnsureDirs(layout, base, RelDir(rel), sync));
  std::string dst = JoinPath(base, rel);
  RETURN_IF_ERROR(Rename(tmp, dst));
  return sync ? SyncDir(DirName(dst)) : Status::Ok();
}

// Unlinks `path`, with `sync` durably; false if there was no file to unlink.
Result<bool> RemoveFile(const std::string& path, bool sync) {
  if (::unlink(path.c_str()) != 0) {
    if (IsAbsentErrno(errno) || errno == EISDIR) return false;
    return ErrnoError("unlink " + path, errno);
  }
  if (sync) RETURN_IF_ERROR(SyncDir(DirName(path)));
  return true;
}

// Removes blob `id` in whichever state it is (a concurrent RemoveTtl may move it from
// pending/ to blobs/ meanwhile, hence the second look); false if it was in neither.
Result<bool> RemoveBlobFile(const Layout& layout, const std::string& id) {
  for (const std::string& path :
       {layout.BlobPath(id), layout.PendingPath(id), layout.BlobPath(id)}) {
    ASSIGN_OR_RETURN(bool removed, RemoveFile(path, /*sync=*/false));
    if (removed) return true;
  }
  return false;
}

void UnlinkQuietly(const std::string& path) { ::unlink(path.c_str()); }

// The version of an object file: its inode and mtime (each put makes a new file) and a
// hash of its bytes, so that no later put can give the same token.
std::string ObjectVersionOf(const struct stat& st, const std::string& data) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "%llx-%llx.%09ld-%016llx",
                static_cast<unsigned long long>(st.st_ino),
                static_cast<unsigned long long>(st.st_mtim.tv_sec), st.st_mtim.tv_nsec,
                static_cast<unsigned long long>(Hash64(data.data(), data.size())));
  return buf;
}

// The object `name` with its version; nullopt if there is none. Bytes and version come
// from one open file, which puts never change (they rename a new file over it).
Result<std::optional<VersionedObject>> ReadObject(const Layout& layout, const std::string& name) {
  const std::string path = JoinPath(layout.objects, name);
  Result<File> f = File::Open(path, O_RDONLY);
  if (!f.ok()) {
    if (f.status().code() == StatusCode::kNotFound || IsAbsent(path).value_or(false)) {
      return std::optional<VersionedObject>();
    }
    return f.status();
  }
  ASSIGN_OR_RETURN(struct stat st, f->Stat());
  if (!S_ISREG(st.st_mode) || static_cast<uint64_t>(st.st_size) > kMaxObjectSize) {
    return DataLossError("object file " + path + " is not a regular file of at most " +
                         std::to_string(kMaxObjectSize) + " bytes");
  }
  VersionedObject object;
  object.data.resize(st.st_size);
  ASSIGN_OR_RETURN(size_t n, f->ReadAt(object.data.data(), object.data.size(), 0));
  if (n != object.data.size()) return DataLossError("object file " + path + " shrank while read");
  object.version = ObjectVersionOf(st, object.data);
  return std::optional<VersionedObject>(std::move(object));
}

// An exclusive lock on named object `name` for the time of one put: flock(2) on
// locks/<name>, which excludes other processes, and other hosts on a file system that
// maps flock to its own locks (NFSv4 does), plus the layout's mutex for the threads of
// this process (on NFS, flock is per process).
class ObjectLock {
 public:
  static Result<ObjectLock> Take(const Layout& layout, const std::string& name) {
    ObjectLock lock(layout);
    RETURN_IF_ERROR(EnsureDirs(layout, layout.locks, RelDir(name), /*sync=*/false));
    ASSIGN_OR_RETURN(lock.file_, File::Open(JoinPath(layout.locks, name), O_RDWR | O_CREAT, 0644));
    while (::flock(lock.file_.fd(), LOCK_EX) != 0) {
      if (errno != EINTR) return ErrnoError("flock " + lock.file_.path(), errno);
    }
    return lock;
  }

 private:
  explicit ObjectLock(const Layout& layout) : in_process_(layout.object_mu) {}
  std::unique_lock<std::mutex> in_process_;
  File file_;  // closing it releases the flock
};

// kAborted naming the object unless `condition` holds for its current version.
Status CheckCondition(const Layout& layout, const std::string& name,
                      const ObjectCondition& condition) {
  if (condition.kind == ObjectCondition::Kind::kAlways) return Status::Ok();
  ASSIGN_OR_RETURN(std::optional<VersionedObject> current, ReadObject(layout, name));
  const std::string what = "conditional put of object " + name + " to " + layout.Describe();
  if (condition.kind == ObjectCondition::Kind::kIfAbsent) {
    return current ? AbortedError(what + ": it exists") : Status::Ok();
  }
  if (!current) return AbortedError(what + ": it does not exist");
  if (current->version != condition.version) {
    return AbortedError(what + ": its version is " + current->version + ", not " +
                        condition.version);
  }
  return Status::Ok();
}

// Copies all of `source` into the new file `tmp` and checks the count against size(). With
// a TTL, sets the file's mtime (and atime) to `expiry`. Nothing is synced: FlushStore does.
Status StreamToTemp(BlobSource& source, const std::string& tmp,
                    std::optional<system_clock::time_point> expiry) {
  ASSIGN_OR_RETURN(File f, File::Open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0644));
  const uint64_t expected = source.size();
  IoBuffer buf(kIoChunkSize);
  uint64_t total = 0;
  for (;;) {
    ASSIGN_OR_RETURN(size_t n, source.Read(buf.data(), buf.size()));
    if (n == 0) break;
    if (n > buf.size()) return InternalError("source read " + std::to_string(n) + " > buffer");
    total += n;
    if (total > expected) break;  // a source that overruns its size may not end at all
    RETURN_IF_ERROR(f.Write(buf.data(), n));
  }
  if (total != expected) {
    return DataLossError("source yielded " + std::string(total > expected ? "more than " : "") +
                         std::to_string(total) + " bytes, its size is " + std::to_string(expected));
  }
  // Start writeback now, without waiting for it, so that the Flush that follows the
  // commit's puts finds most of the bytes on disk already.
  ::sync_file_range(f.fd(), 0, 0, SYNC_FILE_RANGE_WRITE);
  if (expiry) {
    struct timespec times[2];
    times[0] = times[1] = ToTimespec(*expiry);
    if (::futimens(f.fd(), times) != 0) return ErrnoError("futimens " + tmp, errno);
  }
  return f.Close();
}

using FileVisitor = std::function<Status(const std::string& rel, const struct stat& st)>;

// Calls visit for each non-directory under base/rel, recursively, in no particular order.
Status WalkFiles(const std::string& base, const std::string& rel, const FileVisitor& visit) {
  std::string dir = rel.empty() ? base : JoinPath(base, rel);
  std::vector<std::string> names;
  {
    std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
    if (!d) return ErrnoError("opendir " + dir, errno);
    while (struct dirent* e = ::readdir(d.get())) {
      std::string name = e->d_name;
      if (name != "." && name != "..") names.push_back(std::move(name));
    }
  }
  for (const std::string& name : names) {
    std::string child = rel.empty() ? name : rel + "/" + name;
    struct stat st;
    if (::lstat(JoinPath(base, child).c_str(), &st) != 0) {
      if (errno == ENOENT) continue;  // removed meanwhile
      return ErrnoError("stat " + JoinPath(base, child), errno);
    }
    RETURN_IF_ERROR(S_ISDIR(st.st_mode) ? WalkFiles(base, child, visit) : visit(child, st));
  }
  return Status::Ok();
}

}  // namespace

std::string Layout::BlobPath(std::string_view id) const {
  return JoinPath(JoinPath(blobs, ShardOf(id)), id);
}

std::string Layout::PendingPath(std::string_view id) const {
  return JoinPath(JoinPath(pending, ShardOf(id)), id);
}

bool Layout::IsKnown(const std::string& dir) const {
  std::lock_guard<std::mutex> lock(mu_);
  return known_dirs_.count(dir) != 0;
}

void Layout::MarkKnown(const std::string& dir) const {
  std::lock_guard<std::mutex> lock(mu_);
  known_dirs_.insert(dir);
}

std::string ShardOf(std::string_view id) {
  uint32_t h = 2166136261u;
  for (char c : id) {
    h ^= static_cast<unsigned char>(c);
    h *= 16777619u;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  return {kHex[(h >> 4) & 15], kHex[h & 15]};
}

Result<std::shared_ptr<const Layout>> CreateLayout(const std::string& dir) {
  if (dir.empty() || dir.front() != '/') {
    return InvalidArgumentError("local blob store directory must be absolute: '" + dir + "'");
  }
  auto layout = std::make_shared<Layout>();
  layout->root = dir;
  while (layout->root.size() > 1 && layout->root.back() == '/') layout->root.pop_back();
  layout->blobs = JoinPath(layout->root, "blobs");
  layout->pending = JoinPath(layout->root, "pending");
  layout->tmp = JoinPath(layout->root, "tmp");
  layout->objects = JoinPath(layout->root, "objects");
  layout->locks = JoinPath(layout->root, "locks");
  for (const std::string* sub :
       {&layout->blobs, &layout->pending, &layout->tmp, &layout->objects, &layout->locks}) {
    RETURN_IF_ERROR(MakeDirs(*sub));
    layout->MarkKnown(*sub);
  }
  RETURN_IF_ERROR(SyncDir(layout->root));
  RETURN_IF_ERROR(SyncDir(DirName(layout->root)));
  return std::shared_ptr<const Layout>(std::move(layout));
}

Result<std::string> PutBlob(const Layout& layout, const SourceFactory& factory,
                            const BlobMetadata& metadata) {
  if (metadata.ttl.count() < 0) {
    return InvalidArgumentError("negative TTL for a put to " + layout.Describe());
  }
  if (metadata.ttl > kMaxTtl) {
    return InvalidArgumentError("TTL of " + std::to_string(metadata.ttl.count()) +
                                " s is more than 100 years, for a put to " + layout.Describe());
  }
  ASSIGN_OR_RETURN(std::unique_ptr<BlobSource> source, factory());
  if (source == nullptr) return InternalError("the source factory returned no source");
  std::string id = NewBlobId(metadata, system_clock::now());
  std::string tmp = JoinPath(layout.tmp, RandomHex(16) + ".blob");
  const bool ttl = metadata.ttl.count() > 0;
  std::optional<system_clock::time_point> expiry;
  if (ttl) expiry = system_clock::now() + metadata.ttl;
  Status s = StreamToTemp(*source, tmp, expiry);
  if (s.ok()) {
    s = Publish(layout, tmp, ttl ? layout.pending : layout.blobs, ShardOf(id) + "/" + id,
                /*sync=*/false);
  }
  if (s.ok()) return id;
  UnlinkQuietly(tmp);
  return s;
}

Result<OpenedBlob> OpenBlob(const Layout& layout, const std::string& id) {
  RETURN_IF_ERROR(CheckId(layout, id));
  // A concurrent RemoveTtl may move the blob from pending/ to blobs/: look there twice.
  std::optional<File> f;
  for (const std::string& path :
       {layout.BlobPath(id), layout.PendingPath(id), layout.BlobPath(id)}) {
    ASSIGN_OR_RETURN(f, OpenIfPresent(path));
    if (f) break;
  }
  if (!f) return BlobNotFound(layout, id);
  ASSIGN_OR_RETURN(struct stat st, f->Stat());
  if (!S_ISREG(st.st_mode)) return BlobNotFound(layout, id);
  return OpenedBlob{std::move(*f), static_cast<uint64_t>(st.st_size)};
}

Status ReadBlob(const Layout& layout, OpenedBlob& blob, const std::string& id,
                const SinkFactory& factory, std::optional<ByteRange> range) {
  const ByteRange want = range.value_or(ByteRange{0, blob.size});
  if (want.offset > blob.size || want.length > blob.size - want.offset) {
    return OutOfRangeError(RangeDescription(id, want.offset, want.length) + " in " +
                           layout.Describe() + ": the blob has " + std::to_string(blob.size) +
                           " bytes");
  }
  ASSIGN_OR_RETURN(std::unique_ptr<BlobSink> sink, factory());
  if (sink == nullptr) return InternalError("the sink factory returned no sink");
  sink->ExpectSize(want.length);
  IoBuffer buf(std::min<uint64_t>(kIoChunkSize, want.length));  // a small range: a small buffer
  for (uint64_t done = 0; done < want.length;) {
    ASSIGN_OR_RETURN(
        size_t n, blob.file.ReadAt(buf.data(), std::min<uint64_t>(buf.size(), want.length - done),
                                   want.offset + done));
    if (n == 0) {
      return DataLossError("blob " + id + " in " + layout.Describe() + " changed while read");
    }
    RETURN_IF_ERROR(sink->Write(buf.data(), n));
    done += n;
  }
  return sink->Finish();
}

Status GetBlob(const Layout& layout, const std::string& id, const SinkFactory& factory,
               std::optional<ByteRange> range) {
  ASSIGN_OR_RETURN(OpenedBlob blob, OpenBlob(layout, id));
  return ReadBlob(layout, blob, id, factory, range);
}

Status DeleteBlob(const Layout& layout, const std::string& id) {
  RETURN_IF_ERROR(CheckId(layout, id));
  ASSIGN_OR_RETURN(bool removed, RemoveBlobFile(layout, id));
  if (!removed) return GoneError("blob " + id + " is already gone from " + layout.Describe());
  return Status::Ok();
}

Status RemoveBlobTtl(const Layout& layout, const std::string& id) {
  RETURN_IF_ERROR(CheckId(layout, id));
  std::string rel = ShardOf(id) + "/" + id;
  RETURN_IF_ERROR(EnsureDirs(layout, layout.blobs, RelDir(rel), /*sync=*/false));
  std::string from = layout.PendingPath(id);
  // Only a file is a pending blob: a directory there holds the blobs of longer ids (of
  // another id whose shard is this one's), which a rename would move wholesale.
  ASSIGN_OR_RETURN(bool pending, IsPendingFile(from));
  if (pending && ::rename(from.c_str(), layout.BlobPath(id).c_str()) == 0) return Status::Ok();
  if (pending && !IsAbsentErrno(errno)) return ErrnoError("rename " + from, errno);
  // Not pending: permanent already (idempotent), or no such blob.
  ASSIGN_OR_RETURN(bool absent, IsAbsent(layout.BlobPath(id)));
  return absent ? BlobNotFound(layout, id) : Status::Ok();
}

Result<std::optional<system_clock::time_point>> BlobExpiry(const Layout& layout,
                                                           const std::string& id) {
  RETURN_IF_ERROR(CheckId(layout, id));
  // pending/ first: a concurrent RemoveTtl moves the blob from there to blobs/.
  struct stat st;
  const std::string pending = layout.PendingPath(id);
  if (::lstat(pending.c_str(), &st) == 0) {
    if (S_ISREG(st.st_mode)) return FromTimespec(st.st_mtim);  // else: longer ids' directory
  } else if (!IsAbsentErrno(errno)) {
    return ErrnoError("stat " + pending, errno);
  }
  ASSIGN_OR_RETURN(bool absent, IsAbsent(layout.BlobPath(id)));
  if (absent) return BlobNotFound(layout, id);
  return std::nullopt;
}

namespace {

// The blobs of `shard` under `tree` (pending/ or blobs/) whose ids start with `prefix`
// and sort after `after`.
Status CollectShard(const Layout& layout, const std::string& tree, const std::string& shard,
                    const std::string& prefix, const std::string& after, bool pending,
                    std::vector<BlobInfo>& out) {
  const std::string base = JoinPath(tree, shard);
  // Walk only the directory the prefix names (ids' slashes are directories).
  const std::string start =
      prefix.substr(0, prefix.rfind('/') == std::string::npos ? 0 : prefix.rfind('/'));
  struct stat st;
  const std::string dir = start.empty() ? base : JoinPath(base, start);
  if (::stat(dir.c_str(), &st) != 0) {
    return IsAbsentErrno(errno) ? Status::Ok() : ErrnoError("stat " + dir, errno);
  }
  if (!S_ISDIR(st.st_mode)) return Status::Ok();
  return WalkFiles(base, start, [&](const std::string& id, const struct stat& st) {
    if (!id.starts_with(prefix) || id <= after || !S_ISREG(st.st_mode)) return Status::Ok();
    if (!IsValidBlobId(id) || ShardOf(id) != shard) return Status::Ok();  // not ours
    BlobInfo info{.id = id,
                  .size = static_cast<uint64_t>(st.st_size),
                  .modified = FromTimespec(st.st_ctim),  // the put, or the TTL's removal
                  .ttl_listed = true};
    if (pending) info.expires = FromTimespec(st.st_mtim);
    out.push_back(std::move(info));
    return Status::Ok();
  });
}

}  // namespace

Result<BlobPage> ListBlobPage(const Layout& layout, const std::string& prefix,
                              const std::string& token) {
  // A token is "<shard>:<last id listed>": a page never spans two shards, so memory is
  // bounded by one shard's listing (1/256 of the store).
  // The walk starts in the directory the prefix names: never outside the store's trees.
  if (!prefix.empty() && !IsValidBlobId(prefix + "x")) {
    return InvalidArgumentError("invalid blob id prefix '" + prefix.substr(0, 600) + "'");
  }
  unsigned shard = 0;
  std::string after;
  if (!token.empty()) {
    const char* digits_end = token.data() + std::min<size_t>(token.size(), 2);
    const auto [end, ec] = std::from_chars(token.data(), digits_end, shard, 16);
    if (token.size() < 3 || token[2] != ':' || ec != std::errc() || end != digits_end) {
      return InvalidArgumentError("bad page token '" + token.substr(0, 600) + "'");
    }
    after = token.substr(3);
  }
  for (; shard < 256; ++shard, after.clear()) {
    char name[3];
    std::snprintf(name, sizeof name, "%02x", shard);
    std::vector<BlobInfo> found;
    RETURN_IF_ERROR(CollectShard(layout, layout.pending, name, prefix, after, true, found));
    RETURN_IF_ERROR(CollectShard(layout, layout.blobs, name, prefix, after, false, found));
    if (found.empty()) continue;
    std::sort(found.begin(), found.end(),
              [](const BlobInfo& a, const BlobInfo& b) { return a.id < b.id; });
    BlobPage page;
    if (found.size() > kMaxListPage) {
      found.resize(kMaxListPage);
      page.next = std::string(name) + ":" + found.back().id;
    } else if (shard < 255) {
      char next[3];
      std::snprintf(next, sizeof next, "%02x", shard + 1);
      page.next = std::string(next) + ":";
    }
    page.blobs = std::move(found);
    return page;
  }
  return BlobPage{};
}

Status DeleteExpiredBlob(const Layout& layout, const std::string& id,
                         system_clock::time_point now) {
  Result<std::optional<system_clock::time_point>> found = BlobExpiry(layout, id);
  if (found.status().code() == StatusCode::kNotFound) {
    return GoneError("blob " + id + " is already gone from " + layout.Describe());
  }
  ASSIGN_OR_RETURN(std::optional<system_clock::time_point> expiry, std::move(found));
  auto not_expired = [&] {
    return AbortedError("blob " + id + " in " + layout.Describe() +
                        " has no TTL that expired; not deleted");
  };
  if (!expiry || *expiry >= now) return not_expired();
  // Only the copy in pending/: if RemoveTtl moved it to blobs/ meanwhile, nothing is removed.
  const std::string pending = layout.PendingPath(id);
  if (::unlink(pending.c_str()) == 0) return Status::Ok();
  if (!IsAbsentErrno(errno)) return ErrnoError("unlink " + pending, errno);
  ASSIGN_OR_RETURN(bool absent, IsAbsent(layout.BlobPath(id)));
  return absent ? GoneError("blob " + id + " is already gone from " + layout.Describe())
                : not_expired();
}

Result<std::string> PutObject(const Layout& layout, const std::string& name,
                              const std::string& data, const ObjectCondition& condition) {
  RETURN_IF_ERROR(CheckObjectName(layout, name));
  if (data.size() > kMaxObjectSize) {
    return InvalidArgumentError("object " + name + " is " + std::to_string(data.size()) +
                                " bytes, more than the limit of " + std::to_string(kMaxObjectSize));
  }
  std::string tmp = JoinPath(layout.tmp, RandomHex(16) + ".obj");
  Result<std::string> version = [&]() -> Result<std::string> {
    ASSIGN_OR_RETURN(File f, File::Open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0644));
    RETURN_IF_ERROR(f.Write(data.data(), data.size()));
    RETURN_IF_ERROR(f.Sync());
    ASSIGN_OR_RETURN(struct stat st, f.Stat());  // the rename keeps inode and mtime
    RETURN_IF_ERROR(f.Close());
    ASSIGN_OR_RETURN(ObjectLock lock, ObjectLock::Take(layout, name));
    RETURN_IF_ERROR(CheckCondition(layout, name, condition));
    RETURN_IF_ERROR(Publish(layout, tmp, layout.objects, name, /*sync=*/true));
    return ObjectVersionOf(st, data);
  }();
  if (!version.ok()) UnlinkQuietly(tmp);
  return version;
}

Result<VersionedObject> GetObject(const Layout& layout, const std::string& name) {
  RETURN_IF_ERROR(CheckObjectName(layout, name));
  Result<std::optional<VersionedObject>> object = ReadObject(layout, name);
  if (!object.ok()) return object.status();
  if (!object->has_value()) {
    return NotFoundError("object " + name + " not found in " + layout.Describe());
  }
  return std::move(**object);
}

Status DeleteObject(const Layout& layout, const std::string& name) {
  RETURN_IF_ERROR(CheckObjectName(layout, name));
  ASSIGN_OR_RETURN(bool removed, RemoveFile(JoinPath(layout.objects, name), /*sync=*/true));
  if (!removed) return GoneError("object " + name + " is already gone from " + layout.Describe());
  return Status::Ok();
}

Result<std::vector<std::string>> ListObjects(const Layout& layout, const std::string& prefix) {
  // Walk only the deepest directory that the prefix names.
  std::string dir(RelDir(prefix));
  if (!dir.empty() && !IsValidBlobId(dir)) return std::vector<std::string>{};
  std::vector<std::string> names;
  Status s = WalkFiles(layout.objects, dir, [&](const std::string& name, const struct stat& st) {
    if (S_ISREG(st.st_mode) && name.starts_with(prefix) && IsValidBlobId(name)) {
      names.push_back(name);
    }
    return Status::Ok();
  });
  if (!s.ok() && s.code() != StatusCode::kNotFound) return s;
  std::sort(names.begin(), names.end());
  return names;
}

Status FlushStore(const Layout& layout) { return SyncFileSystem(layout.root); }

Result<size_t> SweepTempFiles(const Layout& layout, system_clock::time_point cutoff) {
  size_t removed = 0;
  auto cutoff_s = system_clock::to_time_t(cutoff);
  RETURN_IF_ERROR(WalkFiles(layout.tmp, "", [&](const std::string& rel, const struct stat& st) {
    if (st.st_mtim.tv_sec >= cutoff_s) return Status::Ok();
    if (::unlink(JoinPath(layout.tmp, rel).c_str()) == 0) {
      ++removed;
    } else if (errno != ENOENT) {
      return ErrnoError("unlink " + JoinPath(layout.tmp, rel), errno);
    }
    return Status::Ok();
  }));
  return removed;
}

}  // namespace blobstate::local_internal
