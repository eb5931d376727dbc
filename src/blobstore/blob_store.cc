// The backend-independent parts of blob_store.h: id rules, in-memory sources and sinks,
// and OpenBlobStore's URL dispatch.
#include "blobstate/blob_store.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "blobstore/http/encoding.h"
#include "blobstore/http/url.h"
#include "blobstore/local/local_blob_store.h"
#include "blobstore/metered/metered_blob_store.h"
#include "blobstore/open_blob_store.h"
#include "blobstore/retrying/retrying_blob_store.h"
#include "util/fs.h"
#if BLOBSTATE_WITH_S3 || BLOBSTATE_WITH_AZURE
#include "blobstore/http/credential_io.h"
#endif
#if BLOBSTATE_WITH_S3
#include "blobstore/s3/s3_blob_store.h"
#endif
#if BLOBSTATE_WITH_AZURE
#include "blobstore/azure/azure_blob_store.h"
#endif

namespace blobstate {
namespace {

constexpr size_t kMaxBlobIdSize = 512;

bool IsIdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-' || c == '/';
}

class StringSource final : public BlobSource {
 public:
  explicit StringSource(std::shared_ptr<const std::string> data) : data_(std::move(data)) {}
  uint64_t size() const override { return data_->size(); }
  Result<size_t> Read(char* buf, size_t n) override {
    size_t k = std::min(n, data_->size() - pos_);
    std::memcpy(buf, data_->data() + pos_, k);
    pos_ += k;
    return k;
  }

 private:
  std::shared_ptr<const std::string> data_;
  size_t pos_ = 0;
};

// Collects the bytes privately and shows them in *out only on Finish, so that an attempt
// that fails midway leaves *out empty.
class StringSink final : public BlobSink {
 public:
  explicit StringSink(std::string* out) : out_(out) {}
  void ExpectSize(uint64_t bytes) override {
    constexpr uint64_t kMaxReserve = 256ull << 20;  // a hint from a server: bounded
    buf_.reserve(static_cast<size_t>(std::min(bytes, kMaxReserve)));
  }
  Status Write(const char* data, size_t n) override {
    buf_.append(data, n);
    return Status::Ok();
  }
  Status Finish() override {
    *out_ = std::move(buf_);
    return Status::Ok();
  }

 private:
  std::string* out_;
  std::string buf_;
};

// The absolute form of `path` (relative paths are taken from the working directory now, so
// that a later chdir does not move the store).
Result<std::string> Absolute(const std::string& path) {
  if (path.front() == '/') return path;
  char cwd[4096];
  if (::getcwd(cwd, sizeof(cwd)) == nullptr) return ErrnoError("getcwd", errno);
  return JoinPath(cwd, path);
}

// The URL forms this build supports.
constexpr std::string_view kSupportedUrls =
    "file:///abs/dir, file://rel/dir"
#if BLOBSTATE_WITH_S3
    ", s3://BUCKET/PREFIX?endpoint=URL&region=R"
#endif
#if BLOBSTATE_WITH_AZURE
    ", azure://ACCOUNT/CONTAINER/PREFIX?endpoint=URL"
#endif
    ;

Status UnsupportedUrl(std::string_view url, std::string_view why) {
  return InvalidArgumentError("blob store URL '" + RedactUrl(url) + "': " + std::string(why) +
                              " (supported: " + std::string(kSupportedUrls) + ")");
}

}  // namespace

bool IsValidBlobId(std::string_view id) {
  if (id.empty() || id.size() > kMaxBlobIdSize) return false;
  if (!std::all_of(id.begin(), id.end(), IsIdChar)) return false;
  size_t start = 0;
  for (;;) {
    size_t slash = id.find('/', start);
    std::string_view part =
        id.substr(start, slash == std::string_view::npos ? id.npos : slash - start);
    if (part.empty() || part == "." || part == "..") return false;
    if (slash == std::string_view::npos) return true;
    start = slash + 1;
  }
}

namespace {

// The bytes [offset, end) of a whole blob passed to `inner`, finished only if the blob
// reached `end`.
class RangeSink final : public BlobSink {
 public:
  RangeSink(std::unique_ptr<BlobSink> inner, uint64_t offset, uint64_t end, std::string what)
      : inner_(std::move(inner)), offset_(offset), end_(end), what_(std::move(what)) {
    inner_->ExpectSize(end - offset);
  }
  Status Write(const char* data, size_t n) override {
    const uint64_t from = std::max(pos_, offset_), to = std::min(pos_ + n, end_);
    if (from < to) RETURN_IF_ERROR(inner_->Write(data + (from - pos_), to - from));
    pos_ += n;
    return Status::Ok();
  }
  Status Finish() override {
    if (pos_ < end_) {
      return OutOfRangeError(what_ + ": the blob ends at byte " + std::to_string(pos_));
    }
    return inner_->Finish();
  }

 private:
  std::unique_ptr<BlobSink> inner_;
  const uint64_t offset_, end_;
  const std::string what_;
  uint64_t pos_ = 0;
};

}  // namespace

Future<void> BlobStore::GetRange(const std::string& id, uint64_t offset, uint64_t length,
                                 SinkFactory sink) {
  if (Status s = CheckRange(id, offset, length); !s.ok()) return MakeReadyFuture<void>(s);
  const std::string what = RangeDescription(id, offset, length);
  return Get(id,
             [sink = std::move(sink), offset, length, what]() -> Result<std::unique_ptr<BlobSink>> {
               ASSIGN_OR_RETURN(std::unique_ptr<BlobSink> inner, sink());
               if (inner == nullptr) return InternalError("the sink factory returned no sink");
               return std::unique_ptr<BlobSink>(
                   std::make_unique<RangeSink>(std::move(inner), offset, offset + length, what));
             });
}

Status BlobStore::ReadRange(const std::string& id, uint64_t, uint64_t, const SinkFactory&) {
  return UnimplementedError(Describe() + " reads blob " + id + " only through GetRange");
}

std::string RangeDescription(const std::string& id, uint64_t offset, uint64_t length) {
  return "bytes " + std::to_string(offset) + "-" + std::to_string(offset + length - 1) +
         " of blob " + id;
}

Status CheckRange(const std::string& id, uint64_t offset, uint64_t length) {
  if (length == 0 || offset > UINT64_MAX - length) {
    return InvalidArgumentError("range of " + std::to_string(length) + " bytes at offset " +
                                std::to_string(offset) + " of blob " + id +
                                ": empty, or past the largest offset");
  }
  return Status::Ok();
}

SourceFactory StringSourceFactory(std::string data) {
  auto shared = std::make_shared<const std::string>(std::move(data));
  return [shared]() -> Result<std::unique_ptr<BlobSource>> {
    return std::unique_ptr<BlobSource>(std::make_unique<StringSource>(shared));
  };
}

SinkFactory StringSinkFactory(std::string* out) {
  return [out]() -> Result<std::unique_ptr<BlobSink>> {
    out->clear();
    return std::unique_ptr<BlobSink>(std::make_unique<StringSink>(out));
  };
}

namespace {

// kNotFound naming `url` unless `dir` holds the blobs/ and objects/ of a LocalBlobStore.
Status CheckIsLocalBlobStore(const std::string& dir, std::string_view url) {
  for (const char* sub : {"blobs", "objects"}) {
    struct stat st;
    if (::stat(JoinPath(dir, sub).c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      return NotFoundError("no blob store at " + RedactUrl(url) + " (" + dir + " has no " + sub +
                           "/ directory)");
    }
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<BlobStore>> OpenBlobStore(std::string_view url,
                                                 const BlobStoreOptions& options) {
  size_t sep = url.find("://");
  if (sep == std::string_view::npos || sep == 0) {
    return UnsupportedUrl(url, "not of the form scheme://location");
  }
  const std::string scheme = AsciiLower(url.substr(0, sep));
  RETURN_IF_ERROR(CheckBlobStoreOptions(options, "blob store " + RedactUrl(url)));
  std::unique_ptr<BlobStore> backend;
  if (scheme == "s3") {
#if BLOBSTATE_WITH_S3
    ASSIGN_OR_RETURN(S3Config config, ParseS3Url(url, ProcessEnv()));
    ASSIGN_OR_RETURN(backend, NewS3Backend(std::move(config), options.io_threads));
#else
    return UnsupportedUrl(url, "this build has no s3:// blob store (BLOBSTATE_S3=OFF)");
#endif
  } else if (scheme == "azure") {
#if BLOBSTATE_WITH_AZURE
    ASSIGN_OR_RETURN(AzureConfig config, ParseAzureUrl(url, ProcessEnv()));
    ASSIGN_OR_RETURN(backend, NewAzureBackend(std::move(config), options.io_threads));
#else
    return UnsupportedUrl(url, "this build has no azure:// blob store (BLOBSTATE_AZURE=OFF)");
#endif
  } else if (scheme == "file") {
    std::string path(url.substr(sep + 3));
    if (path.empty() || path == "/") return UnsupportedUrl(url, "no directory");
    if (path.find('\0') != std::string::npos) return UnsupportedUrl(url, "NUL in path");
    ASSIGN_OR_RETURN(std::string dir, Absolute(path));
    if (options.must_exist) RETURN_IF_ERROR(CheckIsLocalBlobStore(dir, url));
    ASSIGN_OR_RETURN(backend, LocalBlobStore::Open(dir, options.io_threads));
  } else {
    return UnsupportedUrl(url, "unknown scheme '" + scheme + "'");
  }
  return DecorateBlobStore(std::move(backend), options);
}

Status CheckBlobStoreOptions(const BlobStoreOptions& options, std::string_view what) {
  if (options.io_threads == 0) {
    return InvalidArgumentError(std::string(what) + ": io_threads must be >= 1");
  }
  if (options.retry.max_attempts < 1) {
    return InvalidArgumentError(std::string(what) + ": retry.max_attempts must be >= 1");
  }
  return Status::Ok();
}

std::unique_ptr<BlobStore> DecorateBlobStore(std::unique_ptr<BlobStore> backend,
                                             const BlobStoreOptions& options) {
  RetryPolicy retry = options.retry;
  if (options.metrics != nullptr) {
    backend = NewMeteredBlobStore(std::move(backend), *options.metrics);
    retry = WithRetriesMetered(std::move(retry), *options.metrics);
  }
  return std::make_unique<RetryingBlobStore>(std::move(backend), std::move(retry));
}

}  // namespace blobstate
