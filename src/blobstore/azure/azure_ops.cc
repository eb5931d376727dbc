#include "blobstore/azure/azure_ops.h"

#include <algorithm>
#include <charconv>
#include <cstdio>

#include "blobstore/blob_ids.h"
#include "blobstore/s3/sigv4.h"

namespace blobstate::azure_internal {
namespace {

using std::chrono::system_clock;

constexpr char kTtlTag[] = "blobstate-ttl";
constexpr char kExpiresTag[] = "blobstate-expires";
constexpr std::chrono::seconds kMaxTtl(100ll * 365 * 24 * 3600);
constexpr int kMaxGetResumes = 3;

std::string TagsXml(const std::vector<std::pair<std::string, std::string>>& tags) {
  std::string xml = "<?xml version=\"1.0\" encoding=\"utf-8\"?><Tags><TagSet>";
  for (const auto& [k, v] : tags) {
    xml += "<Tag><Key>" + XmlEscape(k) + "</Key><Value>" + XmlEscape(v) + "</Value></Tag>";
  }
  return xml + "</TagSet></Tags>";
}

std::string TagsHeader(const std::vector<std::pair<std::string, std::string>>& tags) {
  std::string out;
  for (const auto& [k, v] : tags) {
    out += (out.empty() ? "" : "&") + UriEncode(k, true) + "=" + UriEncode(v, true);
  }
  return out;
}

bool HasExpiry(const std::vector<std::pair<std::string, std::string>>& tags, int64_t* ms) {
  for (const auto& [k, v] : tags) {
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), *ms);
    if (k == kExpiresTag && ec == std::errc() && end == v.data() + v.size()) return true;
  }
  return false;
}

Status CheckName(const std::string& name, const char* what) {
  if (IsValidBlobId(name)) return Status::Ok();
  return InvalidArgumentError(std::string("invalid ") + what + " '" + name.substr(0, 600) + "'");
}

// Block ids must all have the same length: base64 of a fixed-width number.
std::string BlockId(int number) {
  char raw[16];
  std::snprintf(raw, sizeof(raw), "blk-%08d", number);
  static constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string in(raw), out;
  for (size_t i = 0; i < in.size(); i += 3) {
    uint32_t n = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) n |= static_cast<unsigned char>(in[i + 1]) << 8;
    if (i + 2 < in.size()) n |= static_cast<unsigned char>(in[i + 2]);
    out += kB64[(n >> 18) & 63];
    out += kB64[(n >> 12) & 63];
    out += i + 1 < in.size() ? kB64[(n >> 6) & 63] : '=';
    out += i + 2 < in.size() ? kB64[n & 63] : '=';
  }
  return out;
}

}  // namespace

AzureOps::AzureOps(AzureConfig config, Executor& part_pool)
    : config_(std::move(config)), part_pool_(part_pool), part_slots_(config_.block_concurrency) {}

Result<HttpResponse> AzureOps::Send(const AzureRequest& request) const {
  const std::string path = UriEncode(config_.base_path + "/" + config_.container +
                                         (request.name.empty() ? "" : "/" + request.name),
                                     false);
  HttpCall call{.method = request.method,
                .url = config_.scheme + "://" + config_.host + path,
                .headers = request.headers,
                .upload = request.upload,
                .body = request.body,
                .download = request.download};
  std::string query = request.query.empty() ? "" : CanonicalQuery(request.query);
  if (!config_.sas.empty()) query += (query.empty() ? "" : "&") + config_.sas;
  if (!query.empty()) call.url += "?" + query;
  call.headers.emplace_back("x-ms-date", HttpDate(system_clock::now()));
  call.headers.emplace_back("x-ms-version", kAzureApiVersion);
  const bool has_body = request.method == "PUT" || request.method == "POST";
  if (has_body) call.headers.emplace_back("Content-Type", "application/octet-stream");
  if (!config_.key.empty()) {
    const uint64_t length = request.upload ? request.upload->size() : request.body.size();
    ASSIGN_OR_RETURN(std::string auth,
                     SharedKeyAuthorization(config_.account, config_.key, request.method, path,
                                            request.query, call.headers, length));
    call.headers.emplace_back("Authorization", std::move(auth));
  }
  return PerformHttp(call);
}

Result<std::string> AzureOps::Put(const SourceFactory& factory, const BlobMetadata& metadata) {
  if (metadata.ttl.count() < 0 || metadata.ttl > kMaxTtl) {
    return InvalidArgumentError("TTL of " + std::to_string(metadata.ttl.count()) +
                                " s is out of range, for a put to " + Describe());
  }
  ASSIGN_OR_RETURN(std::unique_ptr<BlobSource> source, factory());
  if (source == nullptr) return InternalError("the source factory returned no source");
  const auto now = system_clock::now();
  const std::string id = NewBlobId(metadata, now);
  const std::string name = BlobName(id);
  Tags tags;
  if (metadata.ttl.count() > 0) {
    auto expiry = std::chrono::duration_cast<std::chrono::milliseconds>(
        (now + metadata.ttl).time_since_epoch());
    tags = {{kTtlTag, "pending"}, {kExpiresTag, std::to_string(expiry.count())}};
  }
  Status s = source->size() >= config_.block_threshold ? UploadBlocks(name, *source, tags)
                                                       : Upload(name, *source, tags);
  if (s.ok() && !tags.empty()) s = EnsureTagged(name, tags);
  if (!s.ok()) {
    DeleteName(name, "blob " + id).IgnoreError();  // whatever a lost reply may have stored
    return s;
  }
  return id;
}

Status AzureOps::Upload(const std::string& name, BlobSource& source, const Tags& tags) {
  CheckedSource checked(source);
  AzureRequest put{.method = "PUT", .name = name, .upload = &checked};
  put.headers.emplace_back("x-ms-blob-type", "BlockBlob");
  if (!tags.empty()) put.headers.emplace_back("x-ms-tags", TagsHeader(tags));
  ASSIGN_OR_RETURN(HttpResponse r, Send(put));
  RETURN_IF_ERROR(CloudStatus(r, "put of " + name + " to " + Describe()));
  return checked.CheckEnd();
}

Status AzureOps::UploadBlocks(const std::string& name, BlobSource& source, const Tags& tags) {
  const std::string what = "block upload of " + name + " to " + Describe();
  ASSIGN_OR_RETURN(
      std::vector<std::string> ids,
      UploadParts(
          source, config_.block_size, part_slots_, part_pool_,
          [&](int number, std::string bytes) -> Result<std::string> {
            const std::string id = BlockId(number);
            ASSIGN_OR_RETURN(HttpResponse r, Send({.method = "PUT",
                                                   .name = name,
                                                   .query = {{"comp", "block"}, {"blockid", id}},
                                                   .body = std::move(bytes)}));
            RETURN_IF_ERROR(CloudStatus(r, "block " + std::to_string(number) + " of " + what));
            return id;
          }));
  // Uncommitted blocks cannot be aborted; the service drops them after a week.
  std::string xml = "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>";
  for (const std::string& id : ids) xml += "<Latest>" + id + "</Latest>";
  xml += "</BlockList>";
  AzureRequest commit{.method = "PUT", .name = name, .query = {{"comp", "blocklist"}}, .body = xml};
  if (!tags.empty()) commit.headers.emplace_back("x-ms-tags", TagsHeader(tags));
  ASSIGN_OR_RETURN(HttpResponse r, Send(commit));
  return CloudStatus(r, what);
}

Status AzureOps::EnsureTagged(const std::string& name, const Tags& tags) {
  Tagging mode = tagging_.load();
  if (mode == Tagging::kOnPut) return Status::Ok();
  if (mode == Tagging::kUnknown) {
    ASSIGN_OR_RETURN(Tags got, GetTags(name));
    int64_t ms = 0;
    if (HasExpiry(got, &ms)) {
      tagging_ = Tagging::kOnPut;
      return Status::Ok();
    }
    tagging_ = Tagging::kSeparate;
  }
  return SetTags(name, tags, "tagging of " + name);
}

Status AzureOps::SetTags(const std::string& name, const Tags& tags, const std::string& what) {
  ASSIGN_OR_RETURN(
      HttpResponse r,
      Send({.method = "PUT", .name = name, .query = {{"comp", "tags"}}, .body = TagsXml(tags)}));
  return CloudStatus(r, what + " in " + Describe());
}

Result<AzureOps::Tags> AzureOps::GetTags(const std::string& name) {
  ASSIGN_OR_RETURN(HttpResponse r,
                   Send({.method = "GET", .name = name, .query = {{"comp", "tags"}}}));
  RETURN_IF_ERROR(CloudStatus(r, "tags of " + name + " in " + Describe()));
  std::vector<std::string> keys = XmlTexts(r.body, "Key");
  std::vector<std::string> values = XmlTexts(r.body, "Value");
  Tags tags;
  for (size_t i = 0; i < keys.size() && i < values.size(); ++i)
    tags.emplace_back(keys[i], values[i]);
  return tags;
}

Status AzureOps::Get(const std::string& id, const SinkFactory& factory) {
  RETURN_IF_ERROR(CheckName(id, "blob id"));
  ResumableSink sink(factory);
  const std::string what = "get of blob " + id + " from " + Describe();
  for (int resumes = 0;; ++resumes) {
    const uint64_t offset = sink.bytes();
    AzureRequest get{.method = "GET", .name = BlobName(id), .download = &sink};
    if (offset > 0) get.headers.emplace_back("Range", "bytes=" + std::to_string(offset) + "-");
    Result<HttpResponse> r = Send(get);
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

Status AzureOps::DeleteName(const std::string& name, const std::string& what) {
  ASSIGN_OR_RETURN(HttpResponse r, Send({.method = "DELETE", .name = name}));
  if (r.status == 404) return GoneError(what + " is already gone from " + Describe());
  return CloudStatus(r, "delete of " + what + " from " + Describe());
}

Status AzureOps::Delete(const std::string& id) {
  RETURN_IF_ERROR(CheckName(id, "blob id"));
  return DeleteName(BlobName(id), "blob " + id);
}

Status AzureOps::RemoveTtl(const std::string& id) {
  RETURN_IF_ERROR(CheckName(id, "blob id"));
  Status s = SetTags(BlobName(id), {}, "removal of the TTL of blob " + id);
  if (s.code() == StatusCode::kNotFound) {
    return NotFoundError("blob " + id + " not found in " + Describe());
  }
  return s;
}

Result<bool> AzureOps::HasTtl(const std::string& id) {
  RETURN_IF_ERROR(CheckName(id, "blob id"));
  Result<Tags> tags = GetTags(BlobName(id));
  if (tags.status().code() == StatusCode::kNotFound) {
    return NotFoundError("blob " + id + " not found in " + Describe());
  }
  if (!tags.ok()) return tags.status();
  int64_t expiry = 0;
  return HasExpiry(*tags, &expiry);
}

Result<std::vector<std::string>> AzureOps::ListNames(const std::string& prefix) {
  std::vector<std::string> names;
  std::string marker;
  do {
    AzureRequest list{.method = "GET",
                      .query = {{"restype", "container"}, {"comp", "list"}, {"prefix", prefix}}};
    if (!marker.empty()) list.query.emplace_back("marker", marker);
    ASSIGN_OR_RETURN(HttpResponse r, Send(list));
    RETURN_IF_ERROR(CloudStatus(r, "listing of " + prefix + " in " + Describe()));
    for (std::string& n : XmlTexts(r.body, "Name")) names.push_back(std::move(n));
    std::vector<std::string> next = XmlTexts(r.body, "NextMarker");
    marker = next.empty() ? "" : next[0];
  } while (!marker.empty());
  return names;
}

Result<std::vector<std::string>> AzureOps::ListExpired(system_clock::time_point now) {
  const std::string prefix = BlobName("");
  ASSIGN_OR_RETURN(std::vector<std::string> names, ListNames(prefix));
  const int64_t now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  std::vector<std::string> expired;
  for (const std::string& name : names) {
    std::string id = name.substr(prefix.size());
    if (!name.starts_with(prefix) || !IsValidBlobId(id)) continue;  // not ours
    Result<Tags> tags = GetTags(name);
    if (tags.status().code() == StatusCode::kNotFound) continue;  // deleted meanwhile
    if (!tags.ok()) return tags.status();
    int64_t expiry = 0;
    if (HasExpiry(*tags, &expiry) && expiry < now_ms) expired.push_back(std::move(id));
  }
  std::sort(expired.begin(), expired.end());
  return expired;
}

Status AzureOps::PutObject(const std::string& name, const std::string& data) {
  RETURN_IF_ERROR(CheckName(name, "object name"));
  if (data.size() > kMaxObjectSize) {
    return InvalidArgumentError("object " + name + " is " + std::to_string(data.size()) +
                                " bytes, more than the limit of " + std::to_string(kMaxObjectSize));
  }
  AzureRequest put{.method = "PUT", .name = ObjectName(name), .body = data};
  put.headers.emplace_back("x-ms-blob-type", "BlockBlob");
  ASSIGN_OR_RETURN(HttpResponse r, Send(put));
  return CloudStatus(r, "put of object " + name + " to " + Describe());
}

Result<std::string> AzureOps::GetObject(const std::string& name) {
  RETURN_IF_ERROR(CheckName(name, "object name"));
  std::string data;
  ASSIGN_OR_RETURN(std::unique_ptr<BlobSink> sink, StringSinkFactory(&data)());
  ASSIGN_OR_RETURN(HttpResponse r,
                   Send({.method = "GET", .name = ObjectName(name), .download = sink.get()}));
  if (r.status == 404) return NotFoundError("object " + name + " not found in " + Describe());
  RETURN_IF_ERROR(CloudStatus(r, "get of object " + name + " from " + Describe()));
  return data;
}

Status AzureOps::DeleteObject(const std::string& name) {
  RETURN_IF_ERROR(CheckName(name, "object name"));
  return DeleteName(ObjectName(name), "object " + name);
}

Result<std::vector<std::string>> AzureOps::ListObjects(const std::string& prefix) {
  const std::string base = ObjectName("");
  ASSIGN_OR_RETURN(std::vector<std::string> all, ListNames(base + prefix));
  std::vector<std::string> names;
  for (const std::string& n : all) {
    std::string name = n.substr(base.size());
    if (n.starts_with(base) && IsValidBlobId(name)) names.push_back(std::move(name));
  }
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace blobstate::azure_internal
