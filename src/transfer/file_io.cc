#include "transfer/file_io.h"

#include <fcntl.h>

#include <algorithm>

#include "blobstate/index.h"
#include "util/fs.h"
#include "util/hash.h"

namespace blobstate {
namespace {

class FileRangeSource final : public BlobSource {
 public:
  FileRangeSource(File file, uint64_t offset, uint64_t length, std::shared_ptr<RangeDigest> digest,
                  const struct stat& opened)
      : file_(std::move(file)),
        next_(offset),
        end_(offset + length),
        length_(length),
        digest_(std::move(digest)),
        opened_(opened) {}

  uint64_t size() const override { return length_; }

  Result<size_t> Read(char* buf, size_t n) override {
    size_t want = static_cast<size_t>(std::min<uint64_t>(n, end_ - next_));
    if (want == 0) return size_t{0};
    ASSIGN_OR_RETURN(size_t got, file_.ReadAt(buf, want, next_));
    if (got == 0) {
      return FailedPreconditionError("file shrank while it was read: " + file_.path());
    }
    next_ += got;
    if (digest_) {
      hasher_.Update(buf, got);
      chunks_.Update(buf, got);
      if (next_ == end_) digest_->Set(hasher_.Finish(), chunks_.Finish(), opened_, opened_at_);
    }
    return got;
  }

 private:
  File file_;
  uint64_t next_;
  const uint64_t end_;
  const uint64_t length_;
  const std::shared_ptr<RangeDigest> digest_;
  const struct stat opened_;
  const std::chrono::system_clock::time_point opened_at_ = std::chrono::system_clock::now();
  Hasher hasher_;
  ChunkHasher chunks_{kChunkSize};
};

class FileRangeSink final : public BlobSink {
 public:
  FileRangeSink(File file, uint64_t offset, uint64_t length, std::string blob_id,
                std::shared_ptr<RangeDigest> digest, std::vector<uint64_t> chunks)
      : file_(std::move(file)),
        next_(offset),
        end_(offset + length),
        length_(length),
        blob_id_(std::move(blob_id)),
        digest_(std::move(digest)),
        chunks_(std::move(chunks)) {}

  Status Write(const char* data, size_t n) override {
    if (n > end_ - next_) {
      return DataLossError("blob " + blob_id_ + " is longer than the " + std::to_string(length_) +
                           " bytes recorded for it");
    }
    if (chunks_.empty()) RETURN_IF_ERROR(file_.WriteAt(data, n, next_));
    if (digest_) hasher_.Update(data, n);
    next_ += n;
    if (chunks_.empty()) return Status::Ok();
    return checker_.Add(data, n, [this](std::string_view chunk) { return WriteChecked(chunk); });
  }

  Status Finish() override {
    if (next_ != end_) {
      return DataLossError("blob " + blob_id_ + " is shorter than the " + std::to_string(length_) +
                           " bytes recorded for it");
    }
    RETURN_IF_ERROR(
        checker_.Finish([this](std::string_view chunk) { return WriteChecked(chunk); }));
    // Start writing the range back now, without waiting: the restore's final sync then
    // finds most of the data on disk already, as writeback overlapped the downloads.
    ::sync_file_range(file_.fd(), end_ - length_, length_, SYNC_FILE_RANGE_WRITE);
    if (digest_) digest_->Set(hasher_.Finish(), {}, {}, {});
    return file_.Close();
  }

 private:
  // Writes the next chunk of the range, checked.
  Status WriteChecked(std::string_view chunk) {
    RETURN_IF_ERROR(file_.WriteAt(chunk.data(), chunk.size(), end_ - length_ + written_));
    written_ += chunk.size();
    return Status::Ok();
  }

  File file_;
  uint64_t next_;
  const uint64_t end_;
  const uint64_t length_;
  const std::string blob_id_;
  const std::shared_ptr<RangeDigest> digest_;
  const std::vector<uint64_t> chunks_;
  ChunkChecker checker_{chunks_, 0, blob_id_};  // unused without chunks_
  uint64_t written_ = 0;  // bytes of the range written (whole chunks), when checked by chunk
  Hasher hasher_;
};

}  // namespace

SourceFactory FileRangeSourceFactory(std::string path, uint64_t offset, uint64_t length,
                                     std::shared_ptr<RangeDigest> digest) {
  return [path = std::move(path), offset, length,
          digest = std::move(digest)]() -> Result<std::unique_ptr<BlobSource>> {
    ASSIGN_OR_RETURN(File f, File::Open(path, O_RDONLY | O_NOFOLLOW));
    struct stat opened {};
    if (digest) {
      ASSIGN_OR_RETURN(opened, f.Stat());
    }
    return std::unique_ptr<BlobSource>(
        new FileRangeSource(std::move(f), offset, length, digest, opened));
  };
}

SinkFactory FileRangeSinkFactory(std::string path, uint64_t offset, uint64_t length,
                                 std::string blob_id, std::shared_ptr<RangeDigest> digest,
                                 std::vector<uint64_t> chunks) {
  return [path = std::move(path), offset, length, blob_id = std::move(blob_id),
          digest = std::move(digest),
          chunks = std::move(chunks)]() -> Result<std::unique_ptr<BlobSink>> {
    ASSIGN_OR_RETURN(File f, File::Open(path, O_WRONLY | O_NOFOLLOW));
    return std::unique_ptr<BlobSink>(
        new FileRangeSink(std::move(f), offset, length, blob_id, digest, chunks));
  };
}

Status CheckChunks(std::string_view bytes, std::span<const uint64_t> expected, size_t first,
                   const std::string& blob_id) {
  for (size_t at = 0, k = 0, i = first; at < bytes.size(); at += kChunkSize, ++k, ++i) {
    const size_t n = std::min<size_t>(kChunkSize, bytes.size() - at);
    if (k >= expected.size() || Hash64(bytes.data() + at, n) != expected[k]) {
      return DataLossError("checksum mismatch: blob " + blob_id + ", chunk " + std::to_string(i) +
                           " (bytes " + std::to_string(i * kChunkSize) + "-" +
                           std::to_string(i * kChunkSize + n - 1) + ") does not match the index");
    }
  }
  return Status::Ok();
}

}  // namespace blobstate
