#include "blobstore/azure/azure_ops.h"

#include <cstdio>

#include "blobstore/http/url.h"

namespace blobstate::azure_internal {
namespace {

using std::chrono::system_clock;

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
    : CloudOps(config.prefix, config.fencing),
      config_(std::move(config)),
      part_pool_(part_pool),
      part_slots_(config_.block_concurrency) {}

Result<HttpResponse> AzureOps::Send(const AzureRequest& request) const {
  ASSIGN_OR_RETURN(const AzureCredentials credentials, config_.credentials->Credentials());
  const std::string path = UriEncode(config_.base_path + "/" + config_.container +
                                         (request.name.empty() ? "" : "/" + request.name),
                                     false);
  HttpCall call{.method = request.method,
                .url = config_.scheme + "://" + config_.host + path,
                .headers = request.headers,
                .upload = request.upload,
                .body = request.body,
                .download = request.download,
                .tls = &config_.tls};
  std::string query = request.query.empty() ? "" : CanonicalQuery(request.query);
  if (!credentials.sas_token.empty()) {
    query += (query.empty() ? "" : "&") + credentials.sas_token;
  }
  if (!query.empty()) call.url += "?" + query;
  call.headers.emplace_back("x-ms-date", HttpDate(system_clock::now()));
  call.headers.emplace_back("x-ms-version", kAzureApiVersion);
  const bool has_body = request.method == "PUT" || request.method == "POST";
  if (has_body) call.headers.emplace_back("Content-Type", "application/octet-stream");
  if (!credentials.account_key.empty()) {
    const uint64_t length = request.upload ? request.upload->size() : request.body.size();
    ASSIGN_OR_RETURN(std::string auth, SharedKeyAuthorization(
                                           config_.account, credentials.account_key, request.method,
                                           path, request.query, call.headers, length));
    call.headers.emplace_back("Authorization", std::move(auth));
  }
  return PerformHttp(call);
}

Status AzureOps::Upload(const std::string& name, BlobSource& source, const CloudTags& tags) {
  if (source.size() >= config_.block_threshold) return UploadBlocks(name, source, tags);
  CheckedSource checked(source);
  AzureRequest put{.method = "PUT", .name = name, .upload = &checked};
  put.headers.emplace_back("x-ms-blob-type", "BlockBlob");
  if (!tags.empty()) put.headers.emplace_back("x-ms-tags", TagsQuery(tags));
  ASSIGN_OR_RETURN(HttpResponse r, Send(put));
  RETURN_IF_ERROR(CloudStatus(r, "put of " + name + " to " + Describe()));
  return checked.CheckEnd();
}

Result<HttpResponse> AzureOps::PutSmall(const std::string& name, const std::string& data,
                                        HttpHeaders headers) {
  headers.emplace_back("x-ms-blob-type", "BlockBlob");
  return Send({.method = "PUT", .name = name, .headers = std::move(headers), .body = data});
}

Status AzureOps::UploadBlocks(const std::string& name, BlobSource& source, const CloudTags& tags) {
  const std::string what = "block upload of " + name + " to " + Describe();
  ASSIGN_OR_RETURN(
      const uint64_t block_size,
      PartSizeFor(source.size(), config_.block_size, kAzureMaxBlocks, kAzureMaxBlockSize, what));
  ASSIGN_OR_RETURN(
      std::vector<std::string> ids,
      UploadParts(
          source, block_size, part_slots_, part_pool_,
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
  if (!tags.empty()) commit.headers.emplace_back("x-ms-tags", TagsQuery(tags));
  ASSIGN_OR_RETURN(HttpResponse r, Send(commit));
  return CloudStatus(r, what);
}

Status AzureOps::SetTags(const std::string& name, const CloudTags& tags, const std::string& what) {
  const std::string xml =
      "<?xml version=\"1.0\" encoding=\"utf-8\"?><Tags>" + TagSetXml(tags) + "</Tags>";
  ASSIGN_OR_RETURN(HttpResponse r,
                   Send({.method = "PUT", .name = name, .query = {{"comp", "tags"}}, .body = xml}));
  return CloudStatus(r, what + " in " + Describe());
}

Result<CloudTags> AzureOps::GetTags(const std::string& name) {
  ASSIGN_OR_RETURN(HttpResponse r,
                   Send({.method = "GET", .name = name, .query = {{"comp", "tags"}}}));
  RETURN_IF_ERROR(CloudStatus(r, "tags of " + name + " in " + Describe()));
  return ParseTagSet(r.body);
}

Result<HttpResponse> AzureOps::Download(const std::string& name, uint64_t offset,
                                        std::optional<uint64_t> end, BlobSink& sink) {
  AzureRequest get{.method = "GET", .name = name, .download = &sink};
  if (std::string range = RangeHeader(offset, end); !range.empty()) {
    get.headers.emplace_back("Range", std::move(range));
  }
  return Send(get);
}

Status AzureOps::DeleteKey(const std::string& name, const std::string& what) {
  ASSIGN_OR_RETURN(HttpResponse r, Send({.method = "DELETE", .name = name}));
  if (IsMissingKey(r)) return GoneError(what + " is already gone from " + Describe());
  return CloudStatus(r, "delete of " + what + " from " + Describe());
}

Result<CloudOps::KeyPage> AzureOps::ListPage(const std::string& prefix, const std::string& token) {
  AzureRequest list{
      .method = "GET",
      .query = {{"restype", "container"},
                {"comp", "list"},
                {"prefix", prefix},
                {"include", "tags"},
                {"maxresults", std::to_string(kMaxListPage)}}};  // Azure's default is 5000
  if (!token.empty()) list.query.emplace_back("marker", token);
  ASSIGN_OR_RETURN(HttpResponse r, Send(list));
  RETURN_IF_ERROR(CloudStatus(r, "listing of " + prefix + " in " + Describe()));
  KeyPage page;
  for (const std::string& entry : XmlTexts(r.body, "Blob")) {
    std::vector<std::string> name = XmlTexts(entry, "Name"),
                             size = XmlTexts(entry, "Content-Length"),
                             modified = XmlTexts(entry, "Last-Modified");
    if (name.empty()) continue;
    KeyInfo info{.key = std::move(name[0]), .tags = ParseTagSet(entry)};
    if (!size.empty()) info.size = std::strtoull(size[0].c_str(), nullptr, 10);
    // An unreadable time counts as now: young, so never taken for an old orphan.
    info.modified = (modified.empty() ? std::nullopt : ParseCloudTime(modified[0]))
                        .value_or(std::chrono::system_clock::now());
    page.keys.push_back(std::move(info));
  }
  std::vector<std::string> next = XmlTexts(r.body, "NextMarker");
  if (!next.empty()) page.next = next[0];
  return page;
}

Status AzureOps::DeleteKeyIfExpired(const std::string& key, const std::string& expires_tag,
                                    int64_t now_ms, const std::string& what) {
  // The service checks the tag in the delete: a Set Blob Tags (RemoveTtl) that wins the
  // race leaves no expiry tag, so the condition fails and the blob stays. Tag values
  // compare as strings; expiries have 13 digits until the year 2286.
  const std::string condition = expires_tag + " < '" + std::to_string(now_ms) + "'";
  ASSIGN_OR_RETURN(
      HttpResponse r,
      Send({.method = "DELETE", .name = key, .headers = {{"x-ms-if-tags", condition}}}));
  if (IsMissingKey(r)) return GoneError(what + " is already gone from " + Describe());
  if (r.status == 412) {
    // A blob put before the tags' rename has only the legacy tag: read, then delete.
    return CloudOps::DeleteKeyIfExpired(key, expires_tag, now_ms, what);
  }
  return CloudStatus(r, "delete of " + what + " from " + Describe());
}

}  // namespace blobstate::azure_internal
