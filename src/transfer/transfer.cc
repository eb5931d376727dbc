#include "transfer/transfer.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <memory>

#include "async/failpoints.h"
#include "index/codec.h"
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

// What the upload of a file's parts hashed as it read them (see HashForIndex): each part's
// checksum goes into `file`, and the file's is made of theirs. Every part must have read
// the file as the first one opened it (same inode, size and mtime).
Result<Hashed> FromDigests(const std::vector<std::shared_ptr<RangeDigest>>& digests,
                           FileIndex& file, const std::string& path, uint64_t expected_size) {
  std::vector<Checksum> parts;
  Hashed first;
  for (size_t i = 0; i < digests.size(); ++i) {
    std::lock_guard<std::mutex> lock(digests[i]->mu);
    const RangeDigest& d = *digests[i];
    if (!d.checksum) return InternalError("upload of " + path + " ended without hashing it");
    if (i == 0) {
      first = Hashed{MetadataForIndex(d.opened, d.opened_at), {}, d.opened};
    } else if (d.opened.st_ino != first.stat.st_ino || d.opened.st_size != first.stat.st_size ||
               d.opened.st_mtim.tv_sec != first.stat.st_mtim.tv_sec ||
               d.opened.st_mtim.tv_nsec != first.stat.st_mtim.tv_nsec) {
      return FailedPreconditionError("file changed during backup: " + path);
    }
    file.blobs[i].checksum = *d.checksum;
    file.blobs[i].chunk_checksums = d.chunks;
    parts.push_back(*d.checksum);
  }
  if (static_cast<uint64_t>(first.stat.st_size) != expected_size) {
    return FailedPreconditionError("file changed during backup (size " +
                                   std::to_string(first.stat.st_size) + ", expected " +
                                   std::to_string(expected_size) + "): " + path);
  }
  first.checksum = FileChecksumOfParts(parts);
  return first;
}

// The byte length of each part of `file`, checking that offsets increase from 0.
Result<std::vector<uint64_t>> PartLengths(const FileIndex& file) {
  std::vector<uint64_t> lengths;
  const auto& blobs = file.blobs;
  if (file.metadata.size > 0 && (blobs.empty() || blobs[0].offset != 0)) {
    return InvalidArgumentError("file " + file.name + ": parts do not start at offset 0");
  }
  for (size_t i = 0; i < blobs.size(); ++i) {
    const uint64_t end = PartEnd(file, i);
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
  RETURN_IF_ERROR(SetModeAndMtime(f, file.metadata.mode, file.metadata.mtime_ns));
  if (sync) RETURN_IF_ERROR(f.Sync());  // its writeback began as each part arrived
  return f.Close();
}

// The file checksum of `file` from what its parts' sinks hashed as they landed (none if
// unchecked), after checking each part against the checksum it records: kDataLoss naming
// the blob if one differs. nullopt when the parts alone cannot give it (unchecked, or a
// file of several parts whose parts record no checksums).
Result<std::optional<Checksum>> Landed(const FileIndex& file,
                                       const std::vector<std::shared_ptr<RangeDigest>>& digests) {
  if (digests.empty()) return std::optional<Checksum>();
  std::vector<Checksum> parts;
  for (size_t i = 0; i < digests.size(); ++i) {
    const std::optional<Checksum>& recorded = file.blobs[i].checksum;
    if (digests[i] == nullptr) {  // verified before this download: see VerifiedParts
      parts.push_back(*recorded);
      continue;
    }
    std::lock_guard<std::mutex> lock(digests[i]->mu);
    if (!digests[i]->checksum) return InternalError("part " + std::to_string(i) + " not hashed");
    if (recorded && *recorded != *digests[i]->checksum) {
      return DataLossError("checksum mismatch: blob " + file.blobs[i].blob_id + " (part " +
                           std::to_string(i) + ") has " + digests[i]->checksum->ToHex() +
                           ", the index records " + recorded->ToHex());
    }
    parts.push_back(*digests[i]->checksum);
  }
  if (HasPartChecksums(file) || parts.size() == 1) return std::optional(FileChecksumOfParts(parts));
  return std::optional<Checksum>();
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
  if (size == 0) {  // no part to hash: the empty content's checksum, and the file's stat
    return Async(executor_, [path, name = file.name, expected = file.metadata]() {
      Result<Hashed> h = HashForIndex(path, 0);
      Status s = h.ok() ? CheckUnchanged(path, expected, h->stat) : h.status();
      if (!s.ok()) return Result<FileIndex>(s.WithContext("upload " + path));
      return Result<FileIndex>(
          FileIndex{.name = name, .metadata = h->metadata, .checksum = h->checksum});
    });
  }
  // Each part is hashed by the source that uploads it (one read per byte); the file's
  // checksum is made of theirs (FileChecksumOfParts).
  std::vector<Future<std::string>> parts;
  std::vector<uint64_t> offsets;
  std::vector<std::shared_ptr<RangeDigest>> digests;
  BlobMetadata part_meta = metadata;
  part_meta.ttl = options_.ttl;
  for (uint64_t off = 0; off < size; off += options_.part_size) {
    offsets.push_back(off);
    digests.push_back(std::make_shared<RangeDigest>());
    uint64_t len = std::min(options_.part_size, size - off);
    parts.push_back(Between<std::string>(executor_, "put.before_blob", "put.after_blob", [&] {
      return Counted(store_.Put(FileRangeSourceFactory(path, off, len, digests.back()), part_meta),
                     len);
    }));
  }
  return AllSettled(std::move(parts))
      .Then(executor_,
            [this, name = file.name, expected = file.metadata, path, offsets = std::move(offsets),
             digests = std::move(digests)](
                Result<std::vector<Result<std::string>>> r) -> Future<FileIndex> {
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
              Result<Hashed> h = error.ok() ? FromDigests(digests, out, path, expected.size)
                                            : Result<Hashed>(error);
              if (error.ok()) error = h.status();
              if (error.ok()) error = CheckUnchanged(path, expected, h->stat);
              if (error.ok()) {
                out.metadata = h->metadata;
                out.checksum = h->checksum;
                return MakeReadyFuture<FileIndex>(std::move(out));
              }
              error = error.WithContext("upload " + path);
              return DeleteBlobs(ToBlobIds(std::move(put_ids)))
                  .Then(executor_, [error](Result<void>) { return Result<FileIndex>(error); });
            });
}

Future<void> Transfer::GetFile(const FileIndex& file, const std::string& path,
                               std::vector<bool> have) {
  return Async(executor_, [this, file, path, have = std::move(have)]() -> Future<void> {
    Result<std::vector<uint64_t>> lengths = PartLengths(file);
    if (!lengths.ok())
      return MakeReadyFuture<void>(lengths.status().WithContext("restore " + path));
    // A file whose parts record checksums can be resumed part by part: it keeps one name.
    const bool resumable = file.blobs.size() > 1 && HasPartChecksums(file);
    const bool resuming = resumable && have.size() == file.blobs.size();
    std::string tmp =
        resumable ? PartialNameOf(path) : JoinPath(DirName(path), ".blobstate-tmp-" + RandomHex(8));
    Result<File> created =
        File::Open(tmp, O_WRONLY | O_CREAT | O_NOFOLLOW | (resuming ? 0 : O_EXCL | O_TRUNC), 0600);
    if (!created.ok()) return MakeReadyFuture<void>(created.status());
    if (::ftruncate(created->fd(), file.metadata.size) != 0) {
      Status s = ErrnoError("truncate " + tmp, errno);
      ::unlink(tmp.c_str());
      return MakeReadyFuture<void>(s);
    }
    created->Close().IgnoreError();
    // Each part is hashed as it lands: checked against its own checksum, and the file's
    // made of them (a file from a version 1 writer of several parts is read back instead).
    const bool verify = options_.verify_checksums;
    const bool chunks = verify && options_.verify_chunk_checksums;
    std::vector<std::shared_ptr<RangeDigest>> digests;
    std::vector<Future<void>> parts;
    for (size_t i = 0; i < file.blobs.size(); ++i) {
      const FileBlob& b = file.blobs[i];
      if (resuming && have[i]) {  // verified already: its recorded checksum stands
        digests.push_back(nullptr);
        continue;
      }
      if (verify) digests.push_back(std::make_shared<RangeDigest>());
      parts.push_back(Counted(
          store_.Get(b.blob_id,
                     FileRangeSinkFactory(tmp, b.offset, (*lengths)[i], b.blob_id,
                                          verify ? digests.back() : nullptr,
                                          chunks ? b.chunk_checksums : std::vector<uint64_t>())),
          (*lengths)[i]));
    }
    if (!verify) digests.clear();
    return AllOf(std::move(parts))
        .Then(executor_, [this, file, path, tmp, digests, resumable](Result<void> r) -> Status {
          Result<std::optional<Checksum>> landed =
              r.ok() ? Landed(file, digests) : Result<std::optional<Checksum>>(r.status());
          Status s = landed.status();
          if (s.ok()) {
            s = FinishFile(tmp, file, options_.verify_checksums, *landed,
                           options_.sync_after_restore);
          }
          if (s.ok()) s = RenameNoReplace(tmp, path);
          // What a resumable download verified is kept for the next attempt.
          if (!s.ok() && (!resumable || s.code() == StatusCode::kDataLoss)) ::unlink(tmp.c_str());
          return s.WithContext("restore " + path);
        });
  });
}

Future<void> Transfer::GetPart(const FileIndex& file, size_t i, const std::string& tmp) {
  if (!HasPartChecksums(file) || i >= file.blobs.size()) {
    return MakeReadyFuture<void>(FailedPreconditionError(
        "file " + file.name + ": part " + std::to_string(i) + " cannot be got and checked alone" +
        " (the index records no checksum of it)"));
  }
  Result<std::vector<uint64_t>> lengths = PartLengths(file);
  if (!lengths.ok()) return MakeReadyFuture<void>(lengths.status());
  const FileBlob& b = file.blobs[i];
  // A part that records its chunks' checksums is checked chunk by chunk as it lands.
  auto digest = b.chunk_checksums.empty() ? std::make_shared<RangeDigest>() : nullptr;
  return Counted(store_.Get(b.blob_id, FileRangeSinkFactory(tmp, b.offset, (*lengths)[i], b.blob_id,
                                                            digest, b.chunk_checksums)),
                 (*lengths)[i])
      .Map(executor_, [b, i, digest]() -> Status {
        if (digest == nullptr) return Status::Ok();
        std::lock_guard<std::mutex> lock(digest->mu);
        if (!digest->checksum) return InternalError("part " + std::to_string(i) + " not hashed");
        if (*digest->checksum == *b.checksum) return Status::Ok();
        return DataLossError("checksum mismatch: blob " + b.blob_id + " (part " +
                             std::to_string(i) + ") has " + digest->checksum->ToHex() +
                             ", the index records " + b.checksum->ToHex());
      });
}

namespace {

// A ranged read of chunks of a part, and how what it gets is checked.
struct ChunkRange {
  std::string blob;
  uint64_t offset = 0;  // in the blob
  uint64_t length = 0;
  size_t first = 0;                // the first chunk's number in the part
  std::vector<uint64_t> expected;  // the chunks' checksums, from `first` on
  std::atomic<uint64_t>* progress = nullptr;

  // What the read got (`got`: its outcome): `bytes` if they are `length` bytes and each
  // chunk matches; then counted in `progress`.
  Result<std::string> Check(Status got, std::string bytes) const {
    if (got.ok() && bytes.size() != length) {
      got = DataLossError("blob " + blob + " gave " + std::to_string(bytes.size()) +
                          " bytes of the " + std::to_string(length) + " read");
    }
    if (got.ok()) got = CheckChunks(bytes, expected, first, blob);
    if (!got.ok()) return got;
    if (progress != nullptr) progress->fetch_add(length, std::memory_order_relaxed);
    return bytes;
  }
};

// Chunks [first, first + count) of part `i` of `file`; kInvalidArgument if it has no such
// chunks. Only what the check needs goes with the read: the blob's id and these checksums.
Result<ChunkRange> ChunksOf(const FileIndex& file, size_t i, size_t first, size_t count,
                            std::atomic<uint64_t>* progress) {
  if (i >= file.blobs.size() || count == 0 ||
      first + count > file.blobs[i].chunk_checksums.size()) {
    return InvalidArgumentError("file " + file.name + ": no chunks " + std::to_string(first) + "+" +
                                std::to_string(count) + " of part " + std::to_string(i) +
                                " to check");
  }
  const FileBlob& b = file.blobs[i];
  const uint64_t offset = first * kChunkSize;
  // The index was checked as decoded: the part holds one chunk checksum per chunk.
  return ChunkRange{
      .blob = b.blob_id,
      .offset = offset,
      .length = std::min<uint64_t>(count * kChunkSize, PartEnd(file, i) - b.offset - offset),
      .first = first,
      .expected = std::vector<uint64_t>(b.chunk_checksums.begin() + first,
                                        b.chunk_checksums.begin() + first + count),
      .progress = progress};
}

// Takes the bytes of a ChunkRange as they are read, checks each chunk and copies what of
// it lies in [skip, skip + n) of the range to `out`: no byte lands unchecked.
class WindowSink final : public BlobSink {
 public:
  WindowSink(const ChunkRange& range, uint64_t skip, uint64_t n, char* out)
      : range_(range), skip_(skip), end_(skip + n), out_(out) {}

  Status Write(const char* data, size_t n) override {
    if (n > range_.length - got_) return WrongLength(got_ + n);
    got_ += n;
    return checker_.Add(data, n, [this](std::string_view chunk) { return CopyOut(chunk); });
  }
  Status Finish() override {
    if (got_ != range_.length) return WrongLength(got_);
    return checker_.Finish([this](std::string_view chunk) { return CopyOut(chunk); });
  }

 private:
  Status WrongLength(uint64_t bytes) const {
    return DataLossError("blob " + range_.blob + " gave " + std::to_string(bytes) +
                         " bytes of the " + std::to_string(range_.length) + " read");
  }
  Status CopyOut(std::string_view chunk) {
    const uint64_t lo = std::max(skip_, at_);
    const uint64_t hi = std::min(end_, at_ + chunk.size());
    if (lo < hi) std::memcpy(out_ + (lo - skip_), chunk.data() + (lo - at_), hi - lo);
    at_ += chunk.size();
    return Status::Ok();
  }

  const ChunkRange& range_;
  const uint64_t skip_;
  const uint64_t end_;
  char* const out_;
  ChunkChecker checker_{range_.expected, range_.first, range_.blob};
  uint64_t got_ = 0;  // bytes written to the sink
  uint64_t at_ = 0;   // bytes of the range checked
};

}  // namespace

Future<std::string> Transfer::GetChunks(const FileIndex& file, size_t i, size_t first,
                                        size_t count) {
  Result<ChunkRange> range = ChunksOf(file, i, first, count, options_.progress);
  if (!range.ok()) return MakeReadyFuture<std::string>(range.status());
  auto bytes = std::make_shared<std::string>();
  Promise<std::string> checked;
  Future<std::string> out = checked.GetFuture();
  // Checked on the thread that got the bytes: a reader waits for them, and the executor may
  // be busy finishing files (an fsync each).
  store_.GetRange(range->blob, range->offset, range->length, StringSinkFactory(bytes.get()))
      .Subscribe(
          [range = std::move(*range), bytes, checked = std::move(checked)](Result<void> r) mutable {
            checked.Set(range.Check(r.status(), std::move(*bytes)));
          });
  return out;
}

Status Transfer::ReadChunks(const FileIndex& file, size_t i, uint64_t from, uint64_t to,
                            char* out) {
  if (from >= to) {
    return InvalidArgumentError("file " + file.name + ": an empty read of part " +
                                std::to_string(i));
  }
  const size_t first = static_cast<size_t>(from / kChunkSize);
  const size_t last = static_cast<size_t>((to - 1) / kChunkSize);
  ASSIGN_OR_RETURN(ChunkRange range, ChunksOf(file, i, first, last - first + 1, nullptr));
  const uint64_t skip = from - first * kChunkSize;
  if (skip >= range.length || to - from > range.length - skip) {
    return InvalidArgumentError("file " + file.name + ": bytes " + std::to_string(from) + "-" +
                                std::to_string(to - 1) + " are past the end of part " +
                                std::to_string(i));
  }
  Status got = store_.ReadRange(range.blob, range.offset, range.length, [&] {
    return Result<std::unique_ptr<BlobSink>>(
        std::make_unique<WindowSink>(range, skip, to - from, out));
  });
  if (got.ok() && options_.progress != nullptr) {
    options_.progress->fetch_add(range.length, std::memory_order_relaxed);
  }
  return got;
}

Status Transfer::FinishParts(const FileIndex& file, const std::string& tmp) {
  std::vector<Checksum> parts;
  for (const FileBlob& b : file.blobs) parts.push_back(*b.checksum);
  return FinishFile(tmp, file, /*verify=*/true, FileChecksumOfParts(parts),
                    options_.sync_after_restore);
}

Future<std::vector<Result<void>>> Transfer::EachBlob(
    BlobIds ids, const char* before, const char* after,
    std::function<Future<void>(const std::string&)> call) {
  return Windowed<void>(executor_, ids->size(), kTransfersInFlight,
                        [this, ids, before, after, call = std::move(call)](size_t i) {
                          return Between<void>(executor_, before, after,
                                               [&] { return call((*ids)[i]); });
                        });
}

Future<void> Transfer::DeleteBlobs(BlobIds blob_ids) {
  return EachBlob(std::move(blob_ids), "delete.before_blob", "delete.after_blob",
                  [this](const std::string& id) { return store_.Delete(id); })
      .Then(executor_, [](Result<std::vector<Result<void>>> r) -> Status {
        for (const Result<void>& d : *r) {
          if (!d.ok() && !d.status().IsIgnorable()) return d.status();
        }
        return Status::Ok();
      });
}

Future<void> Transfer::RemoveTtls(BlobIds blob_ids) {
  return EachBlob(std::move(blob_ids), "ttl.before_remove", "ttl.after_remove",
                  [this](const std::string& id) { return store_.RemoveTtl(id); })
      .Then(executor_, [](Result<std::vector<Result<void>>> r) -> Status {
        for (const Result<void>& d : *r) RETURN_IF_ERROR(d.status());
        return Status::Ok();
      });
}

std::string PartialNameOf(const std::string& path) {
  const std::string name = path.substr(path.rfind('/') + 1);
  char hex[17];
  std::snprintf(hex, sizeof(hex), "%016llx",
                static_cast<unsigned long long>(Hash64(name.data(), name.size())));
  return JoinPath(DirName(path), std::string(".blobstate-tmp-") + hex);
}

std::vector<bool> VerifiedParts(const std::string& partial, const FileIndex& file) {
  if (file.blobs.size() <= 1 || !HasPartChecksums(file)) return {};
  Result<File> f = File::Open(partial, O_RDONLY | O_NOFOLLOW);
  if (!f.ok()) return {};
  Result<struct stat> st = f->Stat();
  if (!st.ok() || !S_ISREG(st->st_mode) ||
      static_cast<uint64_t>(st->st_size) != file.metadata.size) {
    return {};
  }
  std::vector<bool> have;
  for (size_t i = 0; i < file.blobs.size(); ++i) {
    const uint64_t end = PartEnd(file, i);
    uint64_t got = 0;
    Result<Checksum> sum = HashNext(*f, end - file.blobs[i].offset, &got);
    have.push_back(sum.ok() && got == end - file.blobs[i].offset &&
                   *sum == *file.blobs[i].checksum);
  }
  return have;
}

}  // namespace blobstate
