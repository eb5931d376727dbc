// What the cloud backends (S3, Azure) share around an HTTP request: sources that check
// their size, sinks that span resumed responses, parallel uploads of parts, and the little
// XML both services answer with. Blocking, like PerformHttp.
#ifndef BLOBSTATE_BLOBSTORE_HTTP_CLOUD_IO_H_
#define BLOBSTATE_BLOBSTORE_HTTP_CLOUD_IO_H_

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "blobstate/blob_store.h"
#include "blobstate/future.h"
#include "blobstore/http/http_client.h"

namespace blobstate {

// kDataLoss: a source yielded `got` bytes (more than that if `more`), its size is `size`.
Status SourceSizeMismatch(uint64_t got, uint64_t size, bool more);

// Passes a source's bytes through, failing with kDataLoss when they disagree with size().
class CheckedSource final : public BlobSource {
 public:
  explicit CheckedSource(BlobSource& inner) : inner_(inner) {}
  uint64_t size() const override { return inner_.size(); }
  Result<size_t> Read(char* buf, size_t n) override;
  // After the last Read: kDataLoss unless the source ends at exactly size() bytes.
  Status CheckEnd();

 private:
  BlobSource& inner_;
  uint64_t total_ = 0;
};

// The sink of a get that may span several responses (resumed with a Range): opens the
// real sink at the first byte, so that a missing blob opens none, ignores the Finish of
// each response, and finishes the real sink once, in FinishBlob.
class ResumableSink final : public BlobSink {
 public:
  explicit ResumableSink(const SinkFactory& factory) : factory_(factory) {}
  uint64_t bytes() const { return bytes_; }
  Status Write(const char* data, size_t n) override;
  // `bytes` is what the attempt sends: the blob holds bytes() + `bytes`.
  void ExpectSize(uint64_t bytes) override;
  Status Finish() override { return Status::Ok(); }
  Status FinishBlob();

 private:
  Status Open();
  const SinkFactory& factory_;
  std::unique_ptr<BlobSink> real_;
  uint64_t bytes_ = 0;
};

// A bound on the part buffers in memory, shared by all the uploads of one store.
class PartSlots {
 public:
  explicit PartSlots(int slots) : free_(slots) {}
  void Take();
  void Return();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int free_;  // GUARDED_BY(mu_)
};

// The part size for a `size`-byte blob that the service takes in at most `max_parts`
// parts of at most `max_part` bytes: `configured`, or the smallest size that keeps to
// `max_parts` if `configured` would not. kInvalidArgument naming `what` and the limits if
// no part size can.
Result<uint64_t> PartSizeFor(uint64_t size, uint64_t configured, uint64_t max_parts,
                             uint64_t max_part, const std::string& what);

// Uploads the rest of `source` (which must end at its size()) in parts of `part_size`
// bytes: reads them one after the other on the calling thread, each into a buffer taken
// from `slots`, and runs upload(part number from 1, bytes) for each on `pool`. Returns the
// tokens upload returned (ETags, block ids), in part order, or the first error (a source
// error as it is) once every part started has ended.
using PartUpload = std::function<Result<std::string>(int number, std::string bytes)>;
Result<std::vector<std::string>> UploadParts(BlobSource& source, uint64_t part_size,
                                             PartSlots& slots, Executor& pool,
                                             const PartUpload& upload);

// The Status of a cloud service's response as HttpStatusToStatus gives it, with the
// service's error code and message from its XML body (<Error><Code>, <Message>: S3 and
// Azure alike) in the text; a 2xx whose body is an <Error> (as S3's
// CompleteMultipartUpload may send) is kUnavailable.
// A 404 that names the bucket or container (S3's NoSuchBucket, Azure's ContainerNotFound)
// is kFailedPrecondition, never kNotFound: a mistyped bucket is not a missing key.
Status CloudStatus(const HttpResponse& response, std::string_view what);
// Whether `response` is a 404 for the key asked for: not one for a missing bucket or
// container, which CloudStatus reports.
bool IsMissingKey(const HttpResponse& response);

// The texts of every <tag>...</tag> element in `xml`, entities decoded, in order.
std::vector<std::string> XmlTexts(std::string_view xml, std::string_view tag);
// `text` with &, <, > escaped.
std::string XmlEscape(std::string_view text);

// Tags as S3 and Azure write them: <TagSet><Tag><Key>k</Key><Value>v</Value></Tag>...
using CloudTags = std::vector<std::pair<std::string, std::string>>;
std::string TagSetXml(const CloudTags& tags);
// The (Key, Value) pairs of the <Tag> elements in `xml`, in order.
CloudTags ParseTagSet(std::string_view xml);
// Tags as a URL-encoded query string "k=v&k2=v2", the form of S3's x-amz-tagging and
// Azure's x-ms-tags headers.
std::string TagsQuery(const CloudTags& tags);

// Times as the services write them: ISO 8601 ("2026-11-30T08:10:11.000Z", S3 listings)
// and RFC 1123 ("Mon, 30 Nov 2026 08:10:11 GMT", Azure); nullopt if `text` is neither.
std::optional<std::chrono::system_clock::time_point> ParseCloudTime(std::string_view text);

// The value of header `name` (lowercase) in `response`, or "".
std::string HeaderOf(const HttpResponse& response, std::string_view name);

// The Range header value of bytes [offset, end) ("bytes=A-B", or "bytes=A-" for a nullopt
// end); "" for the whole (offset 0, no end).
std::string RangeHeader(uint64_t offset, std::optional<uint64_t> end);

}  // namespace blobstate

#endif  // BLOBSTATE_BLOBSTORE_HTTP_CLOUD_IO_H_
