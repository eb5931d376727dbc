#include "blobstore/s3/s3_ops.h"

#include <algorithm>
#include <charconv>
#include <memory>

#include "blobstore/blob_ids.h"

namespace blobstate::s3_internal {
namespace {

using std::chrono::system_clock;
using Tags = std::vector<std::pair<std::string, std::string>>;

constexpr char kTtlTag[] = "blobstate-ttl";
constexpr char kExpiresTag[] = "blobstate-expires";
// Longer TTLs would overflow the clock; no blob needs to wait that long.
constexpr std::chrono::seconds kMaxTtl(100ll * 365 * 24 * 3600);

Status SizeMismatch(uint64_t got, uint64_t size, bool more) {
  return DataLossError("source yielded " + std::string(more ? "more than " : "") +
                       std::to_string(got) + " bytes, its size is " + std::to_string(size));
}

// Passes a source's bytes through, failing with kDataLoss when they disagree with size().
class CheckedSource final : public BlobSource {
 public:
  explicit CheckedSource(BlobSource& inner) : inner_(inner) {}
  uint64_t size() const override { return inner_.size(); }
  Result<size_t> Read(char* buf, size_t n) override {
    ASSIGN_OR_RETURN(size_t got, inner_.Read(buf, n));
    total_ += got;
    if (total_ > size()) return SizeMismatch(total_, size(), true);
    if (got == 0 && total_ < size()) return SizeMismatch(total_, size(), false);
    return got;
  }
  // After the last Read: kDataLoss unless the source ends at exactly size() bytes.
  Status CheckEnd() {
    if (total_ < size()) return SizeMismatch(total_, size(), false);
    char c;
    ASSIGN_OR_RETURN(size_t more, inner_.Read(&c, 1));
    return more == 0 ? Status::Ok() : SizeMismatch(total_ + more, size(), true);
  }

 private:
  BlobSource& inner_;
  uint64_t total_ = 0;
};

// Fills `buf` from `source`.
Status ReadFull(BlobSource& source, std::string& buf) {
  size_t filled = 0;
  while (filled < buf.size()) {
    ASSIGN_OR_RETURN(size_t n, source.Read(buf.data() + filled, buf.size() - filled));
    if (n == 0) return SizeMismatch(filled, buf.size(), false);
    filled += n;
  }
  return Status::Ok();
}

// The sink of a get that may span several responses (resumed with Range): opens the real
// sink at the first byte, so a missing blob opens none, and finishes it once at the end.
class ResumableSink final : public BlobSink {
 public:
  explicit ResumableSink(const SinkFactory& factory) : factory_(factory) {}
  uint64_t bytes() const { return bytes_; }
  Status Write(const char* data, size_t n) override {
    RETURN_IF_ERROR(Open());
    RETURN_IF_ERROR(real_->Write(data, n));
    bytes_ += n;
    return Status::Ok();
  }
  Status Finish() override { return Status::Ok(); }  // one response ended; see FinishBlob
  Status FinishBlob() {
    RETURN_IF_ERROR(Open());
    return real_->Finish();
  }

 private:
  Status Open() {
    if (real_) return Status::Ok();
    ASSIGN_OR_RETURN(real_, factory_());
    return real_ ? Status::Ok() : InternalError("the sink factory returned no sink");
  }
  const SinkFactory& factory_;
  std::unique_ptr<BlobSink> real_;
  uint64_t bytes_ = 0;
};

std::string TagsHeader(const Tags& tags) {
  std::string out;
  for (const auto& [k, v] : tags) out += (out.empty() ? "" : "&") + k + "=" + v;
  return out;
}

std::string TagsXml(const Tags& tags) {
  std::string xml = "<Tagging><TagSet>";
  for (const auto& [k, v] : tags) {
    xml += "<Tag><Key>" + XmlEscape(k) + "</Key><Value>" + XmlEscape(v) + "</Value></Tag>";
  }
  return xml + "</TagSet></Tagging>";
}

std::optional<int64_t> ExpiryMs(const Tags& tags) {
  for (const auto& [k, v] : tags) {
    int64_t ms = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), ms);
    if (k == kExpiresTag && ec == std::errc() && end == v.data() + v.size()) return ms;
  }
  return std::nullopt;
}

Status CheckName(const std::string& name, const char* what) {
  if (IsValidBlobId(name)) return Status::Ok();
  return InvalidArgumentError(std::string("invalid ") + what + " '" + name.substr(0, 600) + "'");
}

}  // namespace

S3Ops::S3Ops(S3Config config, Executor& part_pool)
    : client_(std::move(config)),
      part_pool_(part_pool),
      free_slots_(client_.config().part_concurrency) {}

std::string S3Ops::BlobKey(const std::string& id) const {
  return client_.config().prefix + "blobs/" + id;
}

std::string S3Ops::ObjectKey(const std::string& name) const {
  return client_.config().prefix + "objects/" + name;
}

Result<std::string> S3Ops::Put(const SourceFactory& factory, const BlobMetadata& metadata) {
  if (metadata.ttl.count() < 0 || metadata.ttl > kMaxTtl) {
    return InvalidArgumentError("TTL of " + std::to_string(metadata.ttl.count()) +
                                " s is out of range, for a put to " + Describe());
  }
  ASSIGN_OR_RETURN(std::unique_ptr<BlobSource> source, factory());
  if (source == nullptr) return InternalError("the source factory returned no source");
  const auto now = system_clock::now();
  const std::string id = NewBlobId(metadata, now);
  const std::string key = BlobKey(id);
  Tags tags;
  if (metadata.ttl.count() > 0) {
    auto expiry = std::chrono::duration_cast<std::chrono::milliseconds>(
        (now + metadata.ttl).time_since_epoch());
    tags = {{kTtlTag, "pending"}, {kExpiresTag, std::to_string(expiry.count())}};
  }
  Status s = source->size() >= client_.config().multipart_threshold
                 ? UploadMultipart(key, *source, TagsHeader(tags))
                 : Upload(key, *source, TagsHeader(tags));
  if (s.ok() && !tags.empty()) s = EnsureTagged(key, TagsHeader(tags));
  if (!s.ok()) {
    DeleteKey(key, "blob " + id).IgnoreError();  // whatever a lost reply may have stored
    return s;
  }
  return id;
}

Status S3Ops::Upload(const std::string& key, BlobSource& source, const std::string& tags) {
  CheckedSource checked(source);
  S3Request put{.method = "PUT", .key = key, .upload = &checked};
  if (!tags.empty()) put.headers.emplace_back("x-amz-tagging", tags);
  ASSIGN_OR_RETURN(HttpResponse r, client_.Send(put));
  RETURN_IF_ERROR(S3Status(r, "put of " + key + " to " + Describe()));
  return checked.CheckEnd();
}

void S3Ops::TakePartSlot() {
  std::unique_lock<std::mutex> lock(slots_mu_);
  slots_cv_.wait(lock, [this] { return free_slots_ > 0; });
  --free_slots_;
}

void S3Ops::ReturnPartSlot() {
  std::lock_guard<std::mutex> lock(slots_mu_);
  ++free_slots_;
  slots_cv_.notify_one();
}

Status S3Ops::UploadMultipart(const std::string& key, BlobSource& source, const std::string& tags) {
  const std::string what = "multipart upload of " + key + " to " + Describe();
  S3Request create{.method = "POST", .key = key, .query = {{"uploads", ""}}};
  if (!tags.empty()) create.headers.emplace_back("x-amz-tagging", tags);
  ASSIGN_OR_RETURN(HttpResponse created, client_.Send(create));
  RETURN_IF_ERROR(S3Status(created, what));
  std::vector<std::string> ids = XmlTexts(created.body, "UploadId");
  if (ids.empty()) return UnavailableError(what + ": no UploadId in the reply");
  const std::string upload_id = ids[0];

  struct Parts {
    std::mutex mu;
    std::condition_variable cv;
    int in_flight = 0;
    std::vector<std::string> etags;
    Status error;
  };
  auto parts = std::make_shared<Parts>();
  const uint64_t size = source.size();
  const uint64_t part_size = client_.config().part_size;
  Status s;
  uint64_t sent = 0;
  for (int number = 1; s.ok() && sent < size; ++number) {
    TakePartSlot();
    std::string buf(std::min(part_size, size - sent), '\0');
    if (s = ReadFull(source, buf); !s.ok()) {
      ReturnPartSlot();
      break;
    }
    sent += buf.size();
    {
      std::lock_guard<std::mutex> lock(parts->mu);
      s = parts->error;
      ++parts->in_flight;
      parts->etags.resize(number);
    }
    part_pool_.Execute([this, parts, key, upload_id, number, buf = std::move(buf)]() mutable {
      S3Request put{.method = "PUT",
                    .key = key,
                    .query = {{"partNumber", std::to_string(number)}, {"uploadId", upload_id}},
                    .body = std::move(buf),
                    .unsigned_body = true};
      Result<HttpResponse> r = client_.Send(put);
      Status ps =
          r.ok() ? S3Status(*r, "part " + std::to_string(number) + " of " + key) : r.status();
      std::string etag = r.ok() ? HeaderOf(*r, "etag") : "";
      if (ps.ok() && etag.empty()) ps = UnavailableError("no ETag for part of " + key);
      ReturnPartSlot();
      std::lock_guard<std::mutex> lock(parts->mu);
      if (ps.ok()) parts->etags[number - 1] = etag;
      if (!ps.ok() && parts->error.ok()) parts->error = ps;
      --parts->in_flight;
      parts->cv.notify_all();
    });
  }
  if (s.ok()) {
    char c;
    Result<size_t> more = source.Read(&c, 1);
    if (!more.ok()) s = more.status();
    if (more.ok() && *more > 0) s = SizeMismatch(size + *more, size, true);
  }
  {
    std::unique_lock<std::mutex> lock(parts->mu);
    parts->cv.wait(lock, [&] { return parts->in_flight == 0; });
    if (s.ok()) s = parts->error;
  }
  if (s.ok()) {
    std::string xml = "<CompleteMultipartUpload>";
    for (size_t i = 0; i < parts->etags.size(); ++i) {
      xml += "<Part><PartNumber>" + std::to_string(i + 1) + "</PartNumber><ETag>" +
             XmlEscape(parts->etags[i]) + "</ETag></Part>";
    }
    xml += "</CompleteMultipartUpload>";
    Result<HttpResponse> done = client_.Send(
        {.method = "POST", .key = key, .query = {{"uploadId", upload_id}}, .body = xml});
    s = done.ok() ? S3Status(*done, what) : done.status();
  }
  if (!s.ok()) {  // abort, so that no part lingers (billed, invisible)
    client_.Send({.method = "DELETE", .key = key, .query = {{"uploadId", upload_id}}})
        .status()
        .IgnoreError();
  }
  return s;
}

Status S3Ops::EnsureTagged(const std::string& key, const std::string& tags) {
  Tagging mode = tagging_.load();
  if (mode == Tagging::kOnPut) return Status::Ok();
  if (mode == Tagging::kUnknown) {
    ASSIGN_OR_RETURN(Tags got, GetTags(key));
    if (ExpiryMs(got)) {
      tagging_ = Tagging::kOnPut;
      return Status::Ok();
    }
    tagging_ = Tagging::kSeparate;
  }
  Tags pairs;
  for (size_t start = 0; start < tags.size();) {
    size_t amp = std::min(tags.find('&', start), tags.size());
    std::string pair = tags.substr(start, amp - start);
    size_t eq = pair.find('=');
    pairs.emplace_back(pair.substr(0, eq), pair.substr(eq + 1));
    start = amp + 1;
  }
  return PutTags(key, TagsXml(pairs), "tagging of " + key);
}

Status S3Ops::PutTags(const std::string& key, const std::string& xml, std::string_view what) {
  S3Request put{.method = "PUT", .key = key, .query = {{"tagging", ""}}, .body = xml};
  put.headers.emplace_back("Content-MD5", ContentMd5(xml));
  ASSIGN_OR_RETURN(HttpResponse r, client_.Send(put));
  return S3Status(r, std::string(what) + " in " + Describe());
}

Result<Tags> S3Ops::GetTags(const std::string& key) {
  ASSIGN_OR_RETURN(HttpResponse r,
                   client_.Send({.method = "GET", .key = key, .query = {{"tagging", ""}}}));
  RETURN_IF_ERROR(S3Status(r, "tags of " + key + " in " + Describe()));
  std::vector<std::string> keys = XmlTexts(r.body, "Key");
  std::vector<std::string> values = XmlTexts(r.body, "Value");
  Tags tags;
  for (size_t i = 0; i < keys.size() && i < values.size(); ++i) {
    tags.emplace_back(keys[i], values[i]);
  }
  return tags;
}

Status S3Ops::Get(const std::string& id, const SinkFactory& factory) {
  RETURN_IF_ERROR(CheckName(id, "blob id"));
  ResumableSink sink(factory);
  const std::string what = "get of blob " + id + " from " + Describe();
  for (int resumes = 0;; ++resumes) {
    const uint64_t offset = sink.bytes();
    S3Request get{.method = "GET", .key = BlobKey(id), .download = &sink};
    if (offset > 0) get.headers.emplace_back("Range", "bytes=" + std::to_string(offset) + "-");
    Result<HttpResponse> r = client_.Send(get);
    if (!r.ok()) {
      // A dropped connection after some bytes: continue from there.
      if (r.status().IsRetriable() && sink.bytes() > offset && resumes < kMaxGetResumes) continue;
      return r.status();
    }
    if (r->status == 404) return NotFoundError("blob " + id + " not found in " + Describe());
    RETURN_IF_ERROR(S3Status(*r, what));
    if (offset > 0 &&
        (r->status != 206 ||
         !HeaderOf(*r, "content-range").starts_with("bytes " + std::to_string(offset) + "-"))) {
      return UnavailableError(what + ": the server did not resume at byte " +
                              std::to_string(offset));
    }
    return sink.FinishBlob();
  }
}

Status S3Ops::DeleteKey(const std::string& key, const std::string& what) {
  ASSIGN_OR_RETURN(HttpResponse head, client_.Send({.method = "HEAD", .key = key}));
  if (head.status == 404) return GoneError(what + " is already gone from " + Describe());
  RETURN_IF_ERROR(S3Status(head, "delete of " + what + " from " + Describe()));
  ASSIGN_OR_RETURN(HttpResponse r, client_.Send({.method = "DELETE", .key = key}));
  if (r.status == 404) return GoneError(what + " is already gone from " + Describe());
  return S3Status(r, "delete of " + what + " from " + Describe());
}

Status S3Ops::Delete(const std::string& id) {
  RETURN_IF_ERROR(CheckName(id, "blob id"));
  return DeleteKey(BlobKey(id), "blob " + id);
}

Status S3Ops::RemoveTtl(const std::string& id) {
  RETURN_IF_ERROR(CheckName(id, "blob id"));
  Status s = PutTags(BlobKey(id), TagsXml({}), "removal of the TTL of blob " + id);
  if (s.code() == StatusCode::kNotFound) {
    return NotFoundError("blob " + id + " not found in " + Describe());
  }
  return s;
}

Result<std::vector<std::string>> S3Ops::ListKeys(const std::string& prefix) {
  std::vector<std::string> keys;
  std::string token;
  do {
    S3Request list{.method = "GET", .query = {{"list-type", "2"}, {"prefix", prefix}}};
    if (!token.empty()) list.query.emplace_back("continuation-token", token);
    ASSIGN_OR_RETURN(HttpResponse r, client_.Send(list));
    RETURN_IF_ERROR(S3Status(r, "listing of " + prefix + " in " + Describe()));
    for (std::string& k : XmlTexts(r.body, "Key")) keys.push_back(std::move(k));
    std::vector<std::string> truncated = XmlTexts(r.body, "IsTruncated");
    std::vector<std::string> next = XmlTexts(r.body, "NextContinuationToken");
    token = !truncated.empty() && truncated[0] == "true" && !next.empty() ? next[0] : "";
  } while (!token.empty());
  return keys;
}

Result<std::vector<std::string>> S3Ops::ListExpired(system_clock::time_point now) {
  const std::string prefix = BlobKey("");
  ASSIGN_OR_RETURN(std::vector<std::string> keys, ListKeys(prefix));
  const int64_t now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  std::vector<std::string> expired;
  for (const std::string& key : keys) {
    std::string id = key.substr(prefix.size());
    if (!key.starts_with(prefix) || !IsValidBlobId(id)) continue;  // not ours
    Result<Tags> tags = GetTags(key);
    if (tags.status().code() == StatusCode::kNotFound) continue;  // deleted meanwhile
    if (!tags.ok()) return tags.status();
    std::optional<int64_t> expiry = ExpiryMs(*tags);
    if (expiry && *expiry < now_ms) expired.push_back(std::move(id));
  }
  std::sort(expired.begin(), expired.end());
  return expired;
}

Status S3Ops::PutObject(const std::string& name, const std::string& data) {
  RETURN_IF_ERROR(CheckName(name, "object name"));
  if (data.size() > kMaxObjectSize) {
    return InvalidArgumentError("object " + name + " is " + std::to_string(data.size()) +
                                " bytes, more than the limit of " + std::to_string(kMaxObjectSize));
  }
  ASSIGN_OR_RETURN(HttpResponse r,
                   client_.Send({.method = "PUT", .key = ObjectKey(name), .body = data}));
  return S3Status(r, "put of object " + name + " to " + Describe());
}

Result<std::string> S3Ops::GetObject(const std::string& name) {
  RETURN_IF_ERROR(CheckName(name, "object name"));
  std::string data;
  ASSIGN_OR_RETURN(std::unique_ptr<BlobSink> sink, StringSinkFactory(&data)());
  ASSIGN_OR_RETURN(HttpResponse r,
                   client_.Send({.method = "GET", .key = ObjectKey(name), .download = sink.get()}));
  if (r.status == 404) return NotFoundError("object " + name + " not found in " + Describe());
  RETURN_IF_ERROR(S3Status(r, "get of object " + name + " from " + Describe()));
  return data;
}

Status S3Ops::DeleteObject(const std::string& name) {
  RETURN_IF_ERROR(CheckName(name, "object name"));
  return DeleteKey(ObjectKey(name), "object " + name);
}

Result<std::vector<std::string>> S3Ops::ListObjects(const std::string& prefix) {
  const std::string base = ObjectKey("");
  ASSIGN_OR_RETURN(std::vector<std::string> keys, ListKeys(base + prefix));
  std::vector<std::string> names;
  for (const std::string& key : keys) {
    std::string name = key.substr(base.size());
    if (key.starts_with(base) && IsValidBlobId(name)) names.push_back(std::move(name));
  }
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace blobstate::s3_internal
