#include "transfer/file_io.h"

#include <fcntl.h>

#include "util/fs.h"

namespace blobstate {
namespace {

class FileRangeSource final : public BlobSource {
 public:
  FileRangeSource(File file, uint64_t offset, uint64_t length)
      : file_(std::move(file)), next_(offset), end_(offset + length), length_(length) {}

  uint64_t size() const override { return length_; }

  Result<size_t> Read(char* buf, size_t n) override {
    size_t want = static_cast<size_t>(std::min<uint64_t>(n, end_ - next_));
    if (want == 0) return size_t{0};
    ASSIGN_OR_RETURN(size_t got, file_.ReadAt(buf, want, next_));
    if (got == 0) {
      return FailedPreconditionError("file shrank while it was read: " + file_.path());
    }
    next_ += got;
    return got;
  }

 private:
  File file_;
  uint64_t next_;
  const uint64_t end_;
  const uint64_t length_;
};

class FileRangeSink final : public BlobSink {
 public:
  FileRangeSink(File file, uint64_t offset, uint64_t length, std::string blob_id)
      : file_(std::move(file)),
        next_(offset),
        end_(offset + length),
        length_(length),
        blob_id_(std::move(blob_id)) {}

  Status Write(const char* data, size_t n) override {
    if (n > end_ - next_) {
      return DataLossError("blob " + blob_id_ + " is longer than the " + std::to_string(length_) +
                           " bytes recorded for it");
    }
    RETURN_IF_ERROR(file_.WriteAt(data, n, next_));
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
    return file_.Close();
  }

 private:
  File file_;
  uint64_t next_;
  const uint64_t end_;
  const uint64_t length_;
  const std::string blob_id_;
};

}  // namespace

SourceFactory FileRangeSourceFactory(std::string path, uint64_t offset, uint64_t length) {
  return [path = std::move(path), offset, length]() -> Result<std::unique_ptr<BlobSource>> {
    ASSIGN_OR_RETURN(File f, File::Open(path, O_RDONLY | O_NOFOLLOW));
    return std::unique_ptr<BlobSource>(new FileRangeSource(std::move(f), offset, length));
  };
}

SinkFactory FileRangeSinkFactory(std::string path, uint64_t offset, uint64_t length,
                                 std::string blob_id) {
  return [path = std::move(path), offset, length,
          blob_id = std::move(blob_id)]() -> Result<std::unique_ptr<BlobSink>> {
    ASSIGN_OR_RETURN(File f, File::Open(path, O_WRONLY | O_NOFOLLOW));
    return std::unique_ptr<BlobSink>(new FileRangeSink(std::move(f), offset, length, blob_id));
  };
}

}  // namespace blobstate
