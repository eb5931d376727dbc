#include "transfer/file_io.h"

#include <fcntl.h>

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
      if (next_ == end_) digest_->Set(hasher_.Finish(), opened_, opened_at_);
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
};

class FileRangeSink final : public BlobSink {
 public:
  FileRangeSink(File file, uint64_t offset, uint64_t length, std::string blob_id,
                std::shared_ptr<RangeDigest> digest)
      : file_(std::move(file)),
        next_(offset),
        end_(offset + length),
        length_(length),
        blob_id_(std::move(blob_id)),
        digest_(std::move(digest)) {}

  Status Write(const char* data, size_t n) override {
    if (n > end_ - next_) {
      return DataLossError("blob " + blob_id_ + " is longer than the " + std::to_string(length_) +
                           " bytes recorded for it");
    }
    RETURN_IF_ERROR(file_.WriteAt(data, n, next_));
    if (digest_) hasher_.Update(data, n);
    next_ += n;
    return Status::Ok();
  }

  Status Finish() override {
    if (next_ != end_) {
      return DataLossError("blob " + blob_id_ + " is shorter than the " + std::to_string(length_) +
                           " bytes recorded for it");
    }
    // Start writing the range back now, without waiting: the restore's final sync then
    // finds most of the data on disk already, as writeback overlapped the downloads.
    ::sync_file_range(file_.fd(), end_ - length_, length_, SYNC_FILE_RANGE_WRITE);
    if (digest_) digest_->Set(hasher_.Finish(), {}, {});
    return file_.Close();
  }

 private:
  File file_;
  uint64_t next_;
  const uint64_t end_;
  const uint64_t length_;
  const std::string blob_id_;
  const std::shared_ptr<RangeDigest> digest_;
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
                                 std::string blob_id, std::shared_ptr<RangeDigest> digest) {
  return [path = std::move(path), offset, length, blob_id = std::move(blob_id),
          digest = std::move(digest)]() -> Result<std::unique_ptr<BlobSink>> {
    ASSIGN_OR_RETURN(File f, File::Open(path, O_WRONLY | O_NOFOLLOW));
    return std::unique_ptr<BlobSink>(
        new FileRangeSink(std::move(f), offset, length, blob_id, digest));
  };
}

}  // namespace blobstate
