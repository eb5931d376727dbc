#include "blobstore/s3/s3_ops.h"

#include <utility>

namespace blobstate::s3_internal {

S3Ops::S3Ops(S3Config config, Executor& part_pool)
    : CloudOps(config.prefix, config.fencing),
      client_(std::move(config)),
      part_pool_(part_pool),
      part_slots_(client_.config().part_concurrency) {}

Status S3Ops::Upload(const std::string& key, BlobSource& source, const CloudTags& tags) {
  if (source.size() >= client_.config().multipart_threshold) {
    return UploadMultipart(key, source, tags);
  }
  CheckedSource checked(source);
  S3Request put{.method = "PUT", .key = key, .upload = &checked};
  if (!tags.empty()) put.headers.emplace_back("x-amz-tagging", TagsQuery(tags));
  ASSIGN_OR_RETURN(HttpResponse r, client_.Send(put));
  RETURN_IF_ERROR(CloudStatus(r, "put of " + key + " to " + Describe()));
  return checked.CheckEnd();
}

Result<HttpResponse> S3Ops::PutSmall(const std::string& key, const std::string& data,
                                     HttpHeaders headers) {
  return client_.Send({.method = "PUT", .key = key, .headers = std::move(headers), .body = data});
}

Status S3Ops::UploadMultipart(const std::string& key, BlobSource& source, const CloudTags& tags) {
  const std::string what = "multipart upload of " + key + " to " + Describe();
  if (source.size() > kS3MaxObjectSize) {
    return InvalidArgumentError(what + ": " + std::to_string(source.size()) +
                                " bytes is more than S3's 5 TiB limit of an object");
  }
  ASSIGN_OR_RETURN(const uint64_t part_size, PartSizeFor(source.size(), client_.config().part_size,
                                                         kS3MaxParts, kS3MaxPartSize, what));
  S3Request create{.method = "POST", .key = key, .query = {{"uploads", ""}}};
  if (!tags.empty()) create.headers.emplace_back("x-amz-tagging", TagsQuery(tags));
  ASSIGN_OR_RETURN(HttpResponse created, client_.Send(create));
  RETURN_IF_ERROR(CloudStatus(created, what));
  std::vector<std::string> ids = XmlTexts(created.body, "UploadId");
  if (ids.empty()) return UnavailableError(what + ": no UploadId in the reply");
  const std::string upload_id = ids[0];
  Result<std::vector<std::string>> etags =
      UploadParts(source, part_size, part_slots_, part_pool_,
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

Status S3Ops::SetTags(const std::string& key, const CloudTags& tags, const std::string& what) {
  const std::string xml = "<Tagging>" + TagSetXml(tags) + "</Tagging>";
  S3Request put{.method = "PUT", .key = key, .query = {{"tagging", ""}}, .body = xml};
  put.headers.emplace_back("Content-MD5", ContentMd5(xml));
  ASSIGN_OR_RETURN(HttpResponse r, client_.Send(put));
  return CloudStatus(r, what + " in " + Describe());
}

Result<CloudTags> S3Ops::GetTags(const std::string& key) {
  ASSIGN_OR_RETURN(HttpResponse r,
                   client_.Send({.method = "GET", .key = key, .query = {{"tagging", ""}}}));
  RETURN_IF_ERROR(CloudStatus(r, "tags of " + key + " in " + Describe()));
  return ParseTagSet(r.body);
}

Result<HttpResponse> S3Ops::Download(const std::string& key, uint64_t offset,
                                     std::optional<uint64_t> end, BlobSink& sink) {
  S3Request get{.method = "GET", .key = key, .download = &sink};
  if (std::string range = RangeHeader(offset, end); !range.empty()) {
    get.headers.emplace_back("Range", std::move(range));
  }
  return client_.Send(get);
}

Status S3Ops::DeleteKey(const std::string& key, const std::string& what) {
  ASSIGN_OR_RETURN(HttpResponse head, client_.Send({.method = "HEAD", .key = key}));
  if (head.status == 404) return GoneError(what + " is already gone from " + Describe());
  RETURN_IF_ERROR(CloudStatus(head, "delete of " + what + " from " + Describe()));
  ASSIGN_OR_RETURN(HttpResponse r, client_.Send({.method = "DELETE", .key = key}));
  if (IsMissingKey(r)) return GoneError(what + " is already gone from " + Describe());
  return CloudStatus(r, "delete of " + what + " from " + Describe());
}

Result<CloudOps::KeyPage> S3Ops::ListPage(const std::string& prefix, const std::string& token) {
  // ListObjects (version 1), paged by marker (the last key of the page before): every S3
  // takes it, and it needs no continuation token (s3rver cannot make one on Node 20).
  S3Request list{.method = "GET", .query = {{"prefix", prefix}}};
  if (!token.empty()) list.query.emplace_back("marker", token);
  ASSIGN_OR_RETURN(HttpResponse r, client_.Send(list));
  RETURN_IF_ERROR(CloudStatus(r, "listing of " + prefix + " in " + Describe()));
  KeyPage page;
  for (const std::string& entry : XmlTexts(r.body, "Contents")) {
    std::vector<std::string> key = XmlTexts(entry, "Key"), size = XmlTexts(entry, "Size"),
                             modified = XmlTexts(entry, "LastModified");
    if (key.empty()) continue;
    KeyInfo info{.key = std::move(key[0])};
    if (!size.empty()) info.size = std::strtoull(size[0].c_str(), nullptr, 10);
    // An unreadable time counts as now: young, so never taken for an old orphan.
    info.modified = (modified.empty() ? std::nullopt : ParseCloudTime(modified[0]))
                        .value_or(std::chrono::system_clock::now());
    page.keys.push_back(std::move(info));
  }
  std::vector<std::string> truncated = XmlTexts(r.body, "IsTruncated");
  if (!truncated.empty() && truncated[0] == "true" && !page.keys.empty()) {
    page.next = page.keys.back().key;
  }
  return page;
}

}  // namespace blobstate::s3_internal
