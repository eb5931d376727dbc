#include "blobstore/local/local_ops.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <functional>

#include "blobstore/blob_ids.h"
#include "util/fs.h"
#include "util/random.h"

namespace blobstate::local_internal {
namespace {

using std::chrono::system_clock;

constexpr std::string_view kMarkerPrefix = "blobstate-ttl 1 ";
constexpr size_t kMaxMarkerSize = 256;
// Longer TTLs would overflow the clock; no blob needs to wait that long.
constexpr std::chrono::seconds kMaxTtl(100ll * 365 * 24 * 3600);

bool IsAbsentErrno(int err) { return err == ENOENT || err == ENOTDIR; }

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

// The directory part of a relative path ("" when there is none).
std::string_view RelDir(std::string_view rel) {
  size_t slash = rel.find_last_of('/');
  return slash == std::string_view::npos ? std::string_view() : rel.substr(0, slash);
}

// Creates the directories of `rel` under `base` as needed and makes the entry of each one
// durable in its parent (once per directory per process).
Status EnsureDurableDirs(const Layout& layout, const std::string& base, std::string_view rel) {
  std::string dir = base;
  size_t start = 0;
  while (start < rel.size()) {
    size_t slash = std::min(rel.find('/', start), rel.size());
    std::string parent = dir;
    dir = JoinPath(dir, rel.substr(start, slash - start));
    start = slash + 1;
    if (layout.IsKnownDurable(dir)) continue;
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
      return ErrnoError("mkdir " + dir, errno);
    }
    // Another thread may have created it and not yet synced the parent: sync anyway.
    RETURN_IF_ERROR(SyncDir(parent));
    layout.MarkDurable(dir);
  }
  return Status::Ok();
}

// Moves the finished temp file `tmp` to base/rel and makes the new entry durable.
Status Publish(const Layout& layout, const std::string& tmp, const std::string& base,
               const std::string& rel) {
  RETURN_IF_ERROR(EnsureDurableDirs(layout, base, RelDir(rel)));
  std::string dst = JoinPath(base, rel);
  RETURN_IF_ERROR(Rename(tmp, dst));
  return SyncDir(DirName(dst));
}

// Unlinks `path` and makes that durable; false if there was no file to unlink.
Result<bool> RemoveFileDurably(const std::string& path) {
  if (::unlink(path.c_str()) != 0) {
    if (IsAbsentErrno(errno) || errno == EISDIR) return false;
    return ErrnoError("unlink " + path, errno);
  }
  RETURN_IF_ERROR(SyncDir(DirName(path)));
  return true;
}

void UnlinkQuietly(const std::string& path) { ::unlink(path.c_str()); }

// Copies all of `source` into the new file `tmp`, checks the count against size(), syncs.
Status StreamToTemp(BlobSource& source, const std::string& tmp) {
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
  RETURN_IF_ERROR(f.Sync());
  return f.Close();
}

Status WriteMarker(const Layout& layout, const std::string& id, system_clock::time_point expiry) {
  std::string tmp = JoinPath(layout.tmp, RandomHex(16) + ".ttl");
  std::string text = FormatTtlMarker(expiry);
  Status s = [&]() -> Status {
    ASSIGN_OR_RETURN(File f, File::Open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0644));
    RETURN_IF_ERROR(f.Write(text.data(), text.size()));
    RETURN_IF_ERROR(f.Sync());
    RETURN_IF_ERROR(f.Close());
    return Publish(layout, tmp, layout.ttl, id);
  }();
  if (!s.ok()) UnlinkQuietly(tmp);
  return s;
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

std::string Layout::MarkerPath(std::string_view id) const { return JoinPath(ttl, id); }

bool Layout::IsKnownDurable(const std::string& dir) const {
  std::lock_guard<std::mutex> lock(mu_);
  return durable_dirs_.count(dir) != 0;
}

void Layout::MarkDurable(const std::string& dir) const {
  std::lock_guard<std::mutex> lock(mu_);
  durable_dirs_.insert(dir);
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

std::string FormatTtlMarker(system_clock::time_point expiry) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(expiry.time_since_epoch());
  return std::string(kMarkerPrefix) + std::to_string(ms.count()) + "\n";
}

Result<system_clock::time_point> ParseTtlMarker(std::string_view text) {
  int64_t ms = 0;
  if (text.size() > kMarkerPrefix.size() && text.substr(0, kMarkerPrefix.size()) == kMarkerPrefix &&
      text.back() == '\n') {
    std::string_view num =
        text.substr(kMarkerPrefix.size(), text.size() - kMarkerPrefix.size() - 1);
    auto [end, ec] = std::from_chars(num.data(), num.data() + num.size(), ms);
    if (ec == std::errc() && end == num.data() + num.size() && !num.empty()) {
      return system_clock::time_point(std::chrono::milliseconds(ms));
    }
  }
  return DataLossError("malformed TTL marker '" + std::string(text.substr(0, 80)) + "'");
}

Result<std::shared_ptr<const Layout>> CreateLayout(const std::string& dir) {
  if (dir.empty() || dir.front() != '/') {
    return InvalidArgumentError("local blob store directory must be absolute: '" + dir + "'");
  }
  auto layout = std::make_shared<Layout>();
  layout->root = dir;
  while (layout->root.size() > 1 && layout->root.back() == '/') layout->root.pop_back();
  layout->blobs = JoinPath(layout->root, "blobs");
  layout->ttl = JoinPath(layout->root, "ttl");
  layout->tmp = JoinPath(layout->root, "tmp");
  layout->objects = JoinPath(layout->root, "objects");
  for (const std::string* sub : {&layout->blobs, &layout->ttl, &layout->tmp, &layout->objects}) {
    RETURN_IF_ERROR(MakeDirs(*sub));
    layout->MarkDurable(*sub);
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
  Status s = StreamToTemp(*source, tmp);
  if (s.ok() && metadata.ttl.count() > 0) {
    s = WriteMarker(layout, id, system_clock::now() + metadata.ttl);
  }
  if (s.ok()) s = Publish(layout, tmp, layout.blobs, ShardOf(id) + "/" + id);
  if (s.ok()) return id;
  // Undo in reverse order of visibility: the blob (if the rename happened but its sync
  // failed), then its marker.
  UnlinkQuietly(tmp);
  UnlinkQuietly(layout.BlobPath(id));
  if (metadata.ttl.count() > 0) UnlinkQuietly(layout.MarkerPath(id));
  return s;
}

Status GetBlob(const Layout& layout, const std::string& id, const SinkFactory& factory) {
  RETURN_IF_ERROR(CheckId(layout, id));
  std::string path = layout.BlobPath(id);
  Result<File> f = File::Open(path, O_RDONLY | O_NOFOLLOW);
  if (!f.ok()) {
    ASSIGN_OR_RETURN(bool absent, IsAbsent(path));
    return absent ? BlobNotFound(layout, id) : f.status();
  }
  ASSIGN_OR_RETURN(struct stat st, f->Stat());
  if (!S_ISREG(st.st_mode)) return BlobNotFound(layout, id);
  ASSIGN_OR_RETURN(std::unique_ptr<BlobSink> sink, factory());
  if (sink == nullptr) return InternalError("the sink factory returned no sink");
  IoBuffer buf(kIoChunkSize);
  uint64_t total = 0;
  for (;;) {
    ASSIGN_OR_RETURN(size_t n, f->Read(buf.data(), buf.size()));
    if (n == 0) break;
    RETURN_IF_ERROR(sink->Write(buf.data(), n));
    total += n;
  }
  if (total != static_cast<uint64_t>(st.st_size)) {
    return DataLossError("blob " + id + " in " + layout.Describe() + " changed while read");
  }
  return sink->Finish();
}

Status DeleteBlob(const Layout& layout, const std::string& id) {
  RETURN_IF_ERROR(CheckId(layout, id));
  // The blob first: a crash in between leaves a stale marker (listed, then deleted by gc),
  // never a blob that lost its TTL.
  ASSIGN_OR_RETURN(bool removed, RemoveFileDurably(layout.BlobPath(id)));
  RETURN_IF_ERROR(RemoveFileDurably(layout.MarkerPath(id)).status());
  if (!removed) return GoneError("blob " + id + " is already gone from " + layout.Describe());
  return Status::Ok();
}

Status RemoveBlobTtl(const Layout& layout, const std::string& id) {
  RETURN_IF_ERROR(CheckId(layout, id));
  ASSIGN_OR_RETURN(bool absent, IsAbsent(layout.BlobPath(id)));
  if (absent) return BlobNotFound(layout, id);
  return RemoveFileDurably(layout.MarkerPath(id)).status();
}

Result<std::vector<std::string>> ListExpiredBlobs(const Layout& layout,
                                                  system_clock::time_point now) {
  std::vector<std::string> expired;
  RETURN_IF_ERROR(WalkFiles(layout.ttl, "", [&](const std::string& id, const struct stat&) {
    if (!IsValidBlobId(id)) return Status::Ok();  // not ours
    Result<std::string> text = ReadSmallFile(JoinPath(layout.ttl, id), kMaxMarkerSize);
    if (text.status().code() == StatusCode::kNotFound) return Status::Ok();  // TTL removed
    // Oversized: malformed, so skipped like any marker that does not parse.
    if (text.status().code() == StatusCode::kInvalidArgument) return Status::Ok();
    if (!text.ok()) return text.status();
    Result<system_clock::time_point> expiry = ParseTtlMarker(*text);
    if (expiry.ok() && *expiry < now) expired.push_back(id);
    return Status::Ok();
  }));
  std::sort(expired.begin(), expired.end());
  return expired;
}

Status PutObject(const Layout& layout, const std::string& name, const std::string& data) {
  RETURN_IF_ERROR(CheckObjectName(layout, name));
  if (data.size() > kMaxObjectSize) {
    return InvalidArgumentError("object " + name + " is " + std::to_string(data.size()) +
                                " bytes, more than the limit of " + std::to_string(kMaxObjectSize));
  }
  std::string tmp = JoinPath(layout.tmp, RandomHex(16) + ".obj");
  Status s = [&]() -> Status {
    ASSIGN_OR_RETURN(File f, File::Open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0644));
    RETURN_IF_ERROR(f.Write(data.data(), data.size()));
    RETURN_IF_ERROR(f.Sync());
    RETURN_IF_ERROR(f.Close());
    return Publish(layout, tmp, layout.objects, name);
  }();
  if (!s.ok()) UnlinkQuietly(tmp);
  return s;
}

Result<std::string> GetObject(const Layout& layout, const std::string& name) {
  RETURN_IF_ERROR(CheckObjectName(layout, name));
  std::string path = JoinPath(layout.objects, name);
  Result<std::string> data = ReadSmallFile(path, kMaxObjectSize);
  if (data.ok()) return data;
  if (data.status().code() == StatusCode::kNotFound || IsAbsent(path).value_or(false)) {
    return NotFoundError("object " + name + " not found in " + layout.Describe());
  }
  return data.status();
}

Status DeleteObject(const Layout& layout, const std::string& name) {
  RETURN_IF_ERROR(CheckObjectName(layout, name));
  ASSIGN_OR_RETURN(bool removed, RemoveFileDurably(JoinPath(layout.objects, name)));
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
