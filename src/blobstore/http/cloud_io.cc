#include "blobstore/http/cloud_io.h"

#include <algorithm>
#include <cstdlib>

#include "blobstore/http/url.h"

namespace blobstate {
namespace {

std::string DecodeEntities(std::string_view s) {
  static constexpr std::pair<std::string_view, char> kNamed[] = {
      {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
  std::string out;
  for (size_t i = 0; i < s.size();) {
    if (s[i] != '&') {
      out.push_back(s[i++]);
      continue;
    }
    bool done = false;
    for (const auto& [name, c] : kNamed) {
      if (s.substr(i, name.size()) == name) {
        out.push_back(c);
        i += name.size();
        done = true;
        break;
      }
    }
    if (done) continue;
    size_t semi = s.find(';', i);
    if (s.substr(i, 2) == "&#" && semi != std::string_view::npos && semi - i <= 8) {
      bool hex = s.substr(i, 3) == "&#x";
      long code = std::strtol(std::string(s.substr(i + (hex ? 3 : 2), semi - i)).c_str(), nullptr,
                              hex ? 16 : 10);
      if (code > 0 && code < 128) {
        out.push_back(static_cast<char>(code));
        i = semi + 1;
        continue;
      }
    }
    out.push_back(s[i++]);
  }
  return out;
}

}  // namespace

Status SourceSizeMismatch(uint64_t got, uint64_t size, bool more) {
  return DataLossError("source yielded " + std::string(more ? "more than " : "") +
                       std::to_string(got) + " bytes, its size is " + std::to_string(size));
}

Result<size_t> CheckedSource::Read(char* buf, size_t n) {
  ASSIGN_OR_RETURN(size_t got, inner_.Read(buf, n));
  total_ += got;
  if (total_ > size()) return SourceSizeMismatch(total_, size(), true);
  if (got == 0 && total_ < size()) return SourceSizeMismatch(total_, size(), false);
  return got;
}

Status CheckedSource::CheckEnd() {
  if (total_ < size()) return SourceSizeMismatch(total_, size(), false);
  char c;
  ASSIGN_OR_RETURN(size_t more, inner_.Read(&c, 1));
  return more == 0 ? Status::Ok() : SourceSizeMismatch(total_ + more, size(), true);
}

Status ResumableSink::Write(const char* data, size_t n) {
  RETURN_IF_ERROR(Open());
  RETURN_IF_ERROR(real_->Write(data, n));
  bytes_ += n;
  return Status::Ok();
}

void ResumableSink::ExpectSize(uint64_t bytes) {
  if (Open().ok()) real_->ExpectSize(bytes_ + bytes);  // a failed Open fails the Write
}

Status ResumableSink::FinishBlob() {
  RETURN_IF_ERROR(Open());
  return real_->Finish();
}

Status ResumableSink::Open() {
  if (real_) return Status::Ok();
  ASSIGN_OR_RETURN(real_, factory_());
  return real_ ? Status::Ok() : InternalError("the sink factory returned no sink");
}

void PartSlots::Take() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return free_ > 0; });
  --free_;
}

void PartSlots::Return() {
  std::lock_guard<std::mutex> lock(mu_);
  ++free_;
  cv_.notify_one();
}

Result<uint64_t> PartSizeFor(uint64_t size, uint64_t configured, uint64_t max_parts,
                             uint64_t max_part, const std::string& what) {
  const uint64_t needed = size / max_parts + (size % max_parts != 0);
  if (needed > max_part) {
    return InvalidArgumentError(
        what + ": " + std::to_string(size) + " bytes is more than the service takes (" +
        std::to_string(max_parts) + " parts of at most " + std::to_string(max_part) + " bytes)");
  }
  return std::max(configured, needed);
}

Result<std::vector<std::string>> UploadParts(BlobSource& source, uint64_t part_size,
                                             PartSlots& slots, Executor& pool,
                                             const PartUpload& upload) {
  struct Parts {
    std::mutex mu;
    std::condition_variable cv;
    int in_flight = 0;
    std::vector<std::string> tokens;
    Status error;
  };
  auto parts = std::make_shared<Parts>();
  CheckedSource checked(source);
  const uint64_t size = source.size();
  Status s;
  uint64_t read = 0;
  for (int number = 1; s.ok() && read < size; ++number) {
    slots.Take();
    std::string buf(std::min(part_size, size - read), '\0');
    for (size_t filled = 0; s.ok() && filled < buf.size();) {
      Result<size_t> n = checked.Read(buf.data() + filled, buf.size() - filled);
      s = n.status();
      if (s.ok()) filled += *n;
    }
    if (!s.ok()) {
      slots.Return();
      break;
    }
    read += buf.size();
    {
      std::lock_guard<std::mutex> lock(parts->mu);
      s = parts->error;  // stop reading once a part failed
      ++parts->in_flight;
      parts->tokens.resize(number);
    }
    // `upload` and `slots` outlive the parts: this call waits for all of them below.
    pool.Execute([parts, number, &upload, &slots, buf = std::move(buf)]() mutable {
      Result<std::string> token = upload(number, std::move(buf));
      slots.Return();
      std::lock_guard<std::mutex> lock(parts->mu);
      if (token.ok()) parts->tokens[number - 1] = std::move(*token);
      if (!token.ok() && parts->error.ok()) parts->error = token.status();
      --parts->in_flight;
      parts->cv.notify_all();
    });
  }
  if (s.ok()) s = checked.CheckEnd();
  std::unique_lock<std::mutex> lock(parts->mu);
  parts->cv.wait(lock, [&] { return parts->in_flight == 0; });
  if (s.ok()) s = parts->error;
  if (!s.ok()) return s;
  return std::move(parts->tokens);
}

std::vector<std::string> XmlTexts(std::string_view xml, std::string_view tag) {
  std::vector<std::string> out;
  const std::string open = "<" + std::string(tag) + ">";
  const std::string close = "</" + std::string(tag) + ">";
  for (size_t pos = 0;;) {
    size_t start = xml.find(open, pos);
    if (start == std::string_view::npos) break;
    start += open.size();
    size_t end = xml.find(close, start);
    if (end == std::string_view::npos) break;
    out.push_back(DecodeEntities(xml.substr(start, end - start)));
    pos = end + close.size();
  }
  return out;
}

std::string XmlEscape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

std::string TagSetXml(const CloudTags& tags) {
  std::string xml = "<TagSet>";
  for (const auto& [k, v] : tags) {
    xml += "<Tag><Key>" + XmlEscape(k) + "</Key><Value>" + XmlEscape(v) + "</Value></Tag>";
  }
  return xml + "</TagSet>";
}

std::string TagsQuery(const CloudTags& tags) {
  std::string out;
  for (const auto& [k, v] : tags) {
    out += (out.empty() ? "" : "&") + UriEncode(k, true) + "=" + UriEncode(v, true);
  }
  return out;
}

CloudTags ParseTagSet(std::string_view xml) {
  std::vector<std::string> keys = XmlTexts(xml, "Key");
  std::vector<std::string> values = XmlTexts(xml, "Value");
  CloudTags tags;
  for (size_t i = 0; i < keys.size() && i < values.size(); ++i) {
    tags.emplace_back(std::move(keys[i]), std::move(values[i]));
  }
  return tags;
}

std::string HeaderOf(const HttpResponse& response, std::string_view name) {
  for (const auto& [n, v] : response.headers) {
    if (n == name) return v;
  }
  return "";
}

namespace {
// The service's error code of `response`: Azure's x-ms-error-code header (a HEAD has no
// body), else the first <Code> of its body.
std::string ErrorCodeOf(const HttpResponse& response) {
  if (std::string code = HeaderOf(response, "x-ms-error-code"); !code.empty()) return code;
  std::vector<std::string> codes = XmlTexts(response.body, "Code");
  return codes.empty() ? "" : codes[0];
}
bool IsMissingContainer(const HttpResponse& response) {
  if (response.status != 404) return false;
  const std::string code = ErrorCodeOf(response);
  return code == "NoSuchBucket" || code == "ContainerNotFound";
}
}  // namespace

bool IsMissingKey(const HttpResponse& response) {
  return response.status == 404 && !IsMissingContainer(response);
}

Status CloudStatus(const HttpResponse& response, std::string_view what) {
  if (IsMissingContainer(response)) {
    return FailedPreconditionError(std::string(what) + ": HTTP 404 " + ErrorCodeOf(response) +
                                   ": the bucket or container does not exist");
  }
  std::vector<std::string> codes = XmlTexts(response.body, "Code");
  const bool error_body = response.body.find("<Error>") != std::string::npos && !codes.empty();
  if (response.status >= 200 && response.status < 300) {
    if (!error_body) return Status::Ok();
    return UnavailableError(std::string(what) + ": service error in a " +
                            std::to_string(response.status) + " reply: " + codes[0]);
  }
  if (!error_body) return HttpStatusToStatus(response, what);
  std::vector<std::string> messages = XmlTexts(response.body, "Message");
  HttpResponse brief = response;
  brief.body = codes[0] + (messages.empty() ? "" : ": " + messages[0]);
  return HttpStatusToStatus(brief, what);
}

std::optional<std::chrono::system_clock::time_point> ParseCloudTime(std::string_view text) {
  const std::string t(text);
  for (const char* format : {"%Y-%m-%dT%H:%M:%S", "%a, %d %b %Y %H:%M:%S GMT"}) {
    struct tm tm = {};
    if (::strptime(t.c_str(), format, &tm) == nullptr) continue;
    const time_t secs = ::timegm(&tm);
    if (secs == static_cast<time_t>(-1)) continue;
    return std::chrono::system_clock::from_time_t(secs);
  }
  return std::nullopt;
}

std::string RangeHeader(uint64_t offset, std::optional<uint64_t> end) {
  if (offset == 0 && !end) return "";
  return "bytes=" + std::to_string(offset) + "-" + (end ? std::to_string(*end - 1) : "");
}

}  // namespace blobstate
