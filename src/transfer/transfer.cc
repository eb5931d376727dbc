#include "blobstate/transfer.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>

#include "async/failpoints.h"
#include "transfer/file_io.h"
#include "util/fs.h"
#include "util/hash.h"
#include "util/random.h"

namespace blobstate {
namespace {

struct Hashed {
  FileMetadata metadata;
  Checksum checksum;
  struct stat stat;  // as the file was opened for hashing
};

// kFailedPrecondition unless the file at `path` is still the one the diff saw (`diffed`)
// and the hash opened (`before`): a file replaced or written while its parts were read may
// disagree with the checksum, whatever the order in which parts and hash read it.
Status CheckUnchanged(const std::string& path, const FileMetadata& diffed,
                      const struct stat& before) {
  const int64_t mtime_ns =
      static_cast<int64_t>(before.st_mtim.tv_sec) * 1'000'000'000 + before.st_mtim.tv_nsec;
  if (static_cast<uint64_t>(before.st_size) != diffed.size || mtime_ns != diffed.mtime_ns) {
    return FailedPreconditionError("file changed during backup: " + path);
  }
  struct stat now;
  if (::lstat(path.c_str(), &now) != 0) return ErrnoError("stat " + path, errno);
  if (now.st_ino != before.st_ino || now.st_dev != before.st_dev || now.st_size != before.st_size ||
      now.st_mtim.tv_sec != before.st_mtim.tv_sec ||
      now.st_mtim.tv_nsec != before.st_mtim.tv_nsec) {
    return FailedPreconditionError("file changed during backup: " + path);
  }
  return Status::Ok();
}

// Hashes the file at `path`, which must still be `expected_size` bytes long, and records
// its metadata as of the hash (docs/format.md, "Checksum reuse").
Result<Hashed> HashForIndex(const std::string& path, uint64_t expected_size) {
  ASSIGN_OR_RETURN(File f, File::Open(path, O_RDONLY | O_NOFOLLOW));
  ASSIGN_OR_RETURN(struct stat st, f.Stat());
  auto hashed_at = std::chrono::system_clock::now();
  uint64_t total = 0;
  ASSIGN_OR_RETURN(Checksum checksum, HashRest(f, &total));
  if (total != expected_size || static_cast<uint64_t>(st.st_size) != expected_size) {
    return FailedPreconditionError("file changed during backup (size " + std::to_string(total) +
                                   ", expected " + std::to_string(expected_size) + "): " + path);
  }
  return Hashed{MetadataForIndex(st, hashed_at), checksum, st};
}

// What the upload of a one-part file hashed as it read it (see HashForIndex).
Result<Hashed> FromDigest(RangeDigest& digest, const std::string& path, uint64_t expected_size) {
  std::lock_guard<std::mutex> lock(digest.mu);
  if (!digest.checksum) return InternalError("upload of " + path + " ended without hashing it");
  if (static_cast<uint64_t>(digest.opened.st_size) != expected_size) {
    return FailedPreconditionError("file changed during backup (size " +
                                   std::to_string(digest.opened.st_size) + ", expected " +
                                   std::to_string(expected_size) + "): " + path);
  }
  return Hashed{MetadataForIndex(digest.opened, digest.opened_at), *digest.checksum, digest.opened};
}

// The byte length of each part of `file`, checking that offsets increase from 0.
Result<std::vector<uint64_t>> PartLengths(const FileIndex& file) {
  std::vector<uint64_t> lengths;
  const auto& blobs = file.blobs;
  if (file.metadata.size > 0 && (blobs.empty() || blobs[0].offset != 0)) {
    return InvalidArgumentError("file " + file.name + ": parts do not start at offset 0");
  }
  for (size_t i = 0; i < blobs.size(); ++i) {
    uint64_t end = i + 1 < blobs.size() ? blobs[i + 1].offset : file.metadata.size;
    if (end <= blobs[i].offset || end > file.metadata.size) {
      return InvalidArgumentError("file " + file.name + ": part offsets out of order");
    }
    lengths.push_back(end - blobs[i].offset);
  }
  return lengths;
}

// Checks the downloaded temp file and gives it its recorded mode and mtime. `landed`: the
// checksum taken as the bytes landed, if any; else, when `verify`, the file is read back.
Status FinishFile(const std::string& tmp, const FileIndex& file, bool verify,
                  const std::optional<Checksum>& landed, bool sync) {
  ASSIGN_OR_RETURN(File f, File::Open(tmp, O_RDWR | O_NOFOLLOW));
  ASSIGN_OR_RETURN(struct stat st, f.Stat());
  if (static_cast<uint64_t>(st.st_size) != file.metadata.size) {
    return DataLossError("restored size " + std::to_string(st.st_size) + " differs from the " +
                         std::to_string(file.metadata.size) + " bytes recorded");
  }
  if (verify) {
    Checksum got;
    if (landed) {
      got = *landed;
    } else {
      ASSIGN_OR_RETURN(got, HashRest(f));
    }
    if (got != file.checksum) {
      return DataLossError("checksum mismatch: restored content has " + got.ToHex() +
                           ", the index records " + file.checksum.ToHex());
    }
  }
  // Permission bits only: a restore never creates setuid, setgid or sticky files.
  if (::fchmod(f.fd(), file.metadata.mode & 0777) != 0) return ErrnoError("chmod " + tmp, errno);
  struct timespec times[2];
  times[0].tv_sec = times[1].tv_sec = file.metadata.mtime_ns / 1'000'000'000;
  times[0].tv_nsec = times[1].tv_nsec = file.metadata.mtime_ns % 1'000'000'000;
  if (times[0].tv_nsec < 0) {  // mtimes before 1970
    times[0].tv_sec = times[1].tv_sec -= 1;
    times[0].tv_nsec = times[1].tv_nsec += 1'000'000'000;
  }
  if (::futimens(f.fd(), times) != 0) return ErrnoError("set mtime of " + tmp, errno);
  if (sync) RETURN_IF_ERROR(f.Sync());  // its writeback began as each part arrived
  return f.Close();
}

// Files of a DirDiff to upload, flattened in a fixed order (see Assemble).
struct PendingFile {
  std::string rel_path;
  LocalFile file;
};

void CollectAdded(const DirDiff& d, const std::string& prefix, std::vector<PendingFile>* out) {
  for (const LocalFile& f : d.files_added) out->push_back({prefix + f.name, f});
  for (const auto* list : {&d.subdirs_added, &d.subdirs_retained}) {
    for (const DirDiff& sub : *list) CollectAdded(sub, prefix + sub.name + "/", out);
  }
}

// Builds the new DirIndex of `d` (moving its parts out), taking uploaded files from `next`
// in CollectAdded order.
DirIndex Assemble(DirDiff& d, std::vector<FileIndex>::iterator* next) {
  DirIndex out;
  out.name = std::move(d.name);
  out.files_present = std::move(d.files_retained);
  for (size_t i = 0; i < d.files_added.size(); ++i)
    out.files_present.push_back(std::move(*(*next)++));
  out.files_removed = std::move(d.files_removed);
  for (auto* list : {&d.subdirs_added, &d.subdirs_retained}) {
    for (DirDiff& sub : *list) out.subdirs_present.push_back(Assemble(sub, next));
  }
  out.subdirs_removed = std::move(d.subdirs_removed);
  return out;
}

void CollectIds(const DirIndex& d, std::vector<std::string>* out) {
  for (const FileIndex& f : d.files_present) {
    for (const FileBlob& b : f.blobs) out->push_back(b.blob_id);
  }
  for (const DirIndex& sub : d.subdirs_present) CollectIds(sub, out);
}

TransferOptions WithDefaults(TransferOptions options) {
  if (options.part_size == 0) options.part_size = TransferOptions().part_size;
  return options;
}

}  // namespace

Transfer::Transfer(BlobStore& store, Executor& executor, TransferOptions options)
    : store_(store), executor_(executor), options_(WithDefaults(options)) {}

template <typename T>
Future<T> Transfer::Counted(Future<T> part, uint64_t bytes) {
  if (options_.progress == nullptr) return part;
  return std::move(part).Then(executor_, [counter = options_.progress, bytes](Result<T> r) {
    if (r.ok()) counter->fetch_add(bytes, std::memory_order_relaxed);
    return r;
  });
}

Future<FileIndex> Transfer::PutFile(const std::string& path, const LocalFile& file,
                                    const BlobMetadata& metadata) {
  const uint64_t size = file.metadata.size;
  // A file of one part is hashed by its upload (one read); a larger one by a pass of its own
  // (its parts move in parallel, out of order).
  auto digest = size > 0 && size <= options_.part_size ? std::make_shared<RangeDigest>() : nullptr;
  std::vector<Future<std::string>> parts;
  std::vector<uint64_t> offsets;
  BlobMetadata part_meta = metadata;
  part_meta.ttl = options_.ttl;
  for (uint64_t off = 0; off < size; off += options_.part_size) {
    offsets.push_back(off);
    uint64_t len = std::min(options_.part_size, size - off);
    parts.push_back(Between<std::string>(executor_, "put.before_blob", "put.after_blob", [&] {
      return Counted(store_.Put(FileRangeSourceFactory(path, off, len, digest), part_meta), len);
    }));
  }
  Future<Hashed> hashed = digest
                              ? MakeReadyFuture<Hashed>(Hashed{})
                              : Async(executor_, [path, size] { return HashForIndex(path, size); });
  auto settled = AllSettled(std::move(parts));
  return std::move(hashed).Then(
      executor_,
      [this, name = file.name, expected = file.metadata, path, offsets = std::move(offsets),
       settled = std::move(settled), digest](Result<Hashed> h) mutable {
        return std::move(settled).Then(
            executor_,
            [this, h = std::move(h), name, expected, path, offsets,
             digest](Result<std::vector<Result<std::string>>> r) mutable -> Future<FileIndex> {
              FileIndex out;
              out.name = name;
              Status error;
              std::vector<std::string> put_ids;
              for (size_t i = 0; i < r->size(); ++i) {
                if ((*r)[i].ok()) {
                  put_ids.push_back(*(*r)[i]);
                  out.blobs.push_back({*(*r)[i], offsets[i]});
                } else if (error.ok()) {
                  error = (*r)[i].status();
                }
              }
              if (error.ok() && digest) h = FromDigest(*digest, path, expected.size);
              if (error.ok()) error = h.status();
              if (error.ok()) error = CheckUnchanged(path, expected, h->stat);
              if (error.ok()) {
                out.metadata = h->metadata;
                out.checksum = h->checksum;
                return MakeReadyFuture<FileIndex>(std::move(out));
              }
              error = error.WithContext("upload " + path);
              return DeleteBlobs(std::move(put_ids)).Then(executor_, [error](Result<void>) {
                return Result<FileIndex>(error);
              });
            });
      });
}

Future<DirIndex> Transfer::PutDir(const std::string& root, DirDiff diff,
                                  const BlobMetadata& metadata) {
  auto pending = std::make_shared<std::vector<PendingFile>>();
  CollectAdded(diff, "", pending.get());
  auto files = Windowed<FileIndex>(executor_, pending->size(), kFilesInFlight,
                                   [this, pending, root, metadata](size_t i) {
                                     const PendingFile& p = (*pending)[i];
                                     BlobMetadata m = metadata;
                                     m.file_path = p.rel_path;
                                     return PutFile(JoinPath(root, p.rel_path), p.file, m);
                                   });
  auto shared_diff = std::make_shared<DirDiff>(std::move(diff));
  return std::move(files).Then(
      executor_, [this, shared_diff](Result<std::vector<Result<FileIndex>>> r) -> Future<DirIndex> {
        std::vector<FileIndex> uploaded;
        Status error;
        std::vector<std::string> put_ids;
        for (Result<FileIndex>& f : *r) {
          if (!f.ok()) {
            if (error.ok()) error = f.status();
            continue;
          }
          for (const FileBlob& b : f->blobs) put_ids.push_back(b.blob_id);
          uploaded.push_back(std::move(*f));
        }
        if (!error.ok()) {
          return DeleteBlobs(std::move(put_ids)).Then(executor_, [error](Result<void>) {
            return Result<DirIndex>(error);
          });
        }
        auto next = uploaded.begin();
        return MakeReadyFuture<DirIndex>(Assemble(*shared_diff, &next));
      });
}

Future<void> Transfer::GetFile(const FileIndex& file, const std::string& path) {
  return Async(executor_, [this, file, path]() -> Future<void> {
    Result<std::vector<uint64_t>> lengths = PartLengths(file);
    if (!lengths.ok())
      return MakeReadyFuture<void>(lengths.status().WithContext("restore " + path));
    std::string tmp = JoinPath(DirName(path), ".blobstate-tmp-" + RandomHex(8));
    Result<File> created = File::Open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
    if (!created.ok()) return MakeReadyFuture<void>(created.status());
    if (::ftruncate(created->fd(), file.metadata.size) != 0) {
      Status s = ErrnoError("truncate " + tmp, errno);
      ::unlink(tmp.c_str());
      return MakeReadyFuture<void>(s);
    }
    created->Close().IgnoreError();
    // A file of one part is verified as it lands; a larger one by reading it back (its parts
    // land in parallel, out of order).
    auto digest = options_.verify_checksums && file.blobs.size() == 1
                      ? std::make_shared<RangeDigest>()
                      : nullptr;
    std::vector<Future<void>> parts;
    for (size_t i = 0; i < file.blobs.size(); ++i) {
      const FileBlob& b = file.blobs[i];
      parts.push_back(
          Counted(store_.Get(b.blob_id,
                             FileRangeSinkFactory(tmp, b.offset, (*lengths)[i], b.blob_id, digest)),
                  (*lengths)[i]));
    }
    return AllOf(std::move(parts))
        .Then(executor_, [this, file, path, tmp, digest](Result<void> r) -> Status {
          Status s = r.status();
          std::optional<Checksum> landed;
          if (digest) {
            std::lock_guard<std::mutex> lock(digest->mu);
            landed = digest->checksum;
          }
          if (s.ok()) {
            s = FinishFile(tmp, file, options_.verify_checksums, landed,
                           options_.sync_after_restore);
          }
          if (s.ok() &&
              ::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, path.c_str(), RENAME_NOREPLACE) != 0) {
            s = ErrnoError("rename " + tmp + " to " + path, errno);
          }
          if (!s.ok()) ::unlink(tmp.c_str());
          return s.WithContext("restore " + path);
        });
  });
}

Future<void> Transfer::DeleteBlobs(std::vector<std::string> blob_ids) {
  std::vector<Future<void>> deletes;
  deletes.reserve(blob_ids.size());
  for (const std::string& id : blob_ids) {
    deletes.push_back(Between<void>(executor_, "delete.before_blob", "delete.after_blob",
                                    [&] { return store_.Delete(id); }));
  }
  return AllSettled(std::move(deletes))
      .Then(executor_, [](Result<std::vector<Result<void>>> r) -> Status {
        for (const Result<void>& d : *r) {
          if (!d.ok() && !d.status().IsIgnorable()) return d.status();
        }
        return Status::Ok();
      });
}

Future<void> Transfer::RemoveTtls(std::vector<std::string> blob_ids) {
  std::vector<Future<void>> calls;
  calls.reserve(blob_ids.size());
  for (const std::string& id : blob_ids) {
    calls.push_back(Between<void>(executor_, "ttl.before_remove", "ttl.after_remove",
                                  [&] { return store_.RemoveTtl(id); }));
  }
  return AllOf(std::move(calls));
}

std::vector<std::string> BlobIdsOf(const DirIndex& index) {
  std::vector<std::string> out;
  CollectIds(index, &out);
  return out;
}

}  // namespace blobstate
