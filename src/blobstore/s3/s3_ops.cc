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
      part_slots_(client_.config().part_concurrency) {}

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
  RETURN_IF_ERROR(CloudStatus(r, "put of " + key + " to " + Describe()));
  return checked.CheckEnd();
}

Status S3Ops::UploadMultipart(const std::string& key, BlobSource& source, const std::string& tags) {
  const std::string what = "multipart upload of " + key + " to " + Describe();
  S3Request create{.method = "POST", .key = key, .query = {{"uploads", ""}}};
  if (!tags.empty()) create.headers.emplace_back("x-amz-tagging", tags);
  ASSIGN_OR_RETURN(HttpResponse created, client_.Send(create));
  RETURN_IF_ERROR(CloudStatus(created, what));
  std::vector<std::string> ids = XmlTexts(created.body, "UploadId");
  if (ids.empty()) return UnavailableError(what + ": no UploadId in the reply");
  const std::string upload_id = ids[0];
  Result<std::vector<std::string>> etags =
      UploadParts(source, client_.config().part_size, part_slots_, part_pool_,
                  [&](int number, std::string bytes) -> Result<std::string> {
                    const std::string part = "part " + std::to_string(number) + " of " + what;
                    ASSIGN_OR_RETURN(HttpResponse r,
                                     client_.Send({.method = "PUT",
                                                   .key = key,
                                                   .query = {{"partNumber", std::to_string(number)},
                                                             {"uploadId", upload_id}},
                                                   .body = std::move(bytes),
                                                   .unsigned_body = true}));
                    RETURN_IF_ERROR(CloudStatus(r, part));
                    std::string etag = HeaderOf(r, "etag");
                    if (etag.empty()) return UnavailableError(part + ": no ETag in the reply");
                    return etag;
                  });
  Status s = etags.status();
  if (s.ok()) {
    std::string xml = "<CompleteMultipartUpload>";
    for (size_t i = 0; i < etags->size(); ++i) {
      xml += "<Part><PartNumber>" + std::to_string(i + 1) + "</PartNumber><ETag>" +
             XmlEscape((*etags)[i]) + "</ETag></Part>";
    }
    xml += "</CompleteMultipartUpload>";
    Result<HttpResponse> done = client_.Send(
        {.method = "POST", .key = key, .query = {{"uploadId", upload_id}}, .body = xml});
    s = done.ok() ? CloudStatus(*done, what) : done.status();
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
  return CloudStatus(r, std::string(what) + " in " + Describe());
}

Result<Tags> S3Ops::GetTags(const std::string& key) {
  ASSIGN_OR_RETURN(HttpResponse r,
                   client_.Send({.method = "GET", .key = key, .query = {{"tagging", ""}}}));
  RETURN_IF_ERROR(CloudStatus(r, "tags of " + key + " in " + Describe()));
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
    RETURN_IF_ERROR(CloudStatus(*r, what));
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
  RETURN_IF_ERROR(CloudStatus(head, "delete of " + what + " from " + Describe()));
  ASSIGN_OR_RETURN(HttpResponse r, client_.Send({.method = "DELETE", .key = key}));
  if (r.status == 404) return GoneError(what + " is already gone from " + Describe());
  return CloudStatus(r, "delete of " + what + " from " + Describe());
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

Result<bool> S3Ops::HasTtl(const std::string& id) {
  RETURN_IF_ERROR(CheckName(id, "blob id"));
  Result<Tags> tags = GetTags(BlobKey(id));
  if (tags.status().code() == StatusCode::kNotFound) {
    return NotFoundError("blob " + id + " not found in " + Describe());
  }
  if (!tags.ok()) return tags.status();
  return ExpiryMs(*tags).has_value();
}

Result<std::vector<std::string>> S3Ops::ListKeys(const std::string& prefix) {
  std::vector<std::string> keys;
  std::string token;
  do {
    S3Request list{.method = "GET", .query = {{"list-type", "2"}, {"prefix", prefix}}};
    if (!token.empty()) list.query.emplace_back("continuation-token", token);
    ASSIGN_OR_RETURN(HttpResponse r, client_.Send(list));
    RETURN_IF_ERROR(CloudStatus(r, "listing of " + prefix + " in " + Describe()));
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
  return CloudStatus(r, "put of object " + name + " to " + Describe());
}

Result<std::string> S3Ops::GetObject(const std::string& name) {
  RETURN_IF_ERROR(CheckName(name, "object name"));
  std::string data;
  ASSIGN_OR_RETURN(std::unique_ptr<BlobSink> sink, StringSinkFactory(&data)());
  ASSIGN_OR_RETURN(HttpResponse r,
                   client_.Send({.method = "GET", .key = ObjectKey(name), .download = sink.get()}));
  if (r.status == 404) return NotFoundError("object " + name + " not found in " + Describe());
  RETURN_IF_ERROR(CloudStatus(r, "get of object " + name + " from " + Describe()));
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
