#include "blobstore/http/http_client.h"

#include <curl/curl.h>
#include <strings.h>

#include <algorithm>
#include <charconv>
#include <memory>
#include <mutex>
#include <optional>

#include "blobstore/http/encoding.h"

namespace blobstate {
namespace {

// libcurl's global state, set up once before the first handle.
void InitCurlOnce() {
  static const CURLcode code = curl_global_init(CURL_GLOBAL_DEFAULT);
  (void)code;
}

struct Exchange {
  const HttpCall* call;
  HttpResponse* response;
  CURL* handle;
  Status error;          // the first error of the source, the sink or the reply
  bool to_sink = false;  // the current response is a 2xx with a sink to fill
  bool success = false;  // the current response is a 2xx
  // Of a 206 that covers more than the Range asked: the bytes the sink may have; the
  // transfer is cut (`cut`) once they are written.
  uint64_t body_limit = UINT64_MAX;
  uint64_t to_sink_bytes = 0;
  bool cut = false;
};

// The URL of `call` without its query, where a SAS signature may be.
std::string PathOf(const HttpCall& call) { return call.url.substr(0, call.url.find('?')); }

// "bytes=A-B" (B: nullopt for "bytes=A-"), as a Range header or a Content-Range
// "bytes A-B/T" (T: nullopt for "*").
struct ByteSpan {
  uint64_t first = 0;
  std::optional<uint64_t> last;
  std::optional<uint64_t> total;
};

std::optional<uint64_t> Number(std::string_view v) {
  uint64_t n = 0;
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (v.empty() || ec != std::errc() || end != v.data() + v.size()) return std::nullopt;
  return n;
}

// Parses "<unit><first>-<last>[/<total>]" after `prefix` ("bytes=" or "bytes ").
std::optional<ByteSpan> ParseSpan(std::string_view v, std::string_view prefix) {
  if (!v.starts_with(prefix)) return std::nullopt;
  v.remove_prefix(prefix.size());
  const size_t dash = v.find('-'), slash = v.find('/');
  if (dash == std::string_view::npos) return std::nullopt;
  ByteSpan span;
  std::optional<uint64_t> first = Number(v.substr(0, dash));
  if (!first) return std::nullopt;
  span.first = *first;
  std::string_view last =
      v.substr(dash + 1, slash == std::string_view::npos ? slash : slash - dash - 1);
  if (!last.empty() && !(span.last = Number(last))) return std::nullopt;
  if (slash != std::string_view::npos) span.total = Number(v.substr(slash + 1));
  return span;
}

// The value of the call's Range header; null if it has none.
const std::string* RangeOf(const HttpCall& call) {
  for (const auto& [name, value] : call.headers) {
    if (name.size() == 5 && ::strncasecmp(name.c_str(), "range", 5) == 0) return &value;
  }
  return nullptr;
}

// At the end of a 206's headers: fails the exchange (returns false) if the resource ends
// before the asked range starts; limits the body to the range if the reply covers more.
bool CheckPartialReply(Exchange* x) {
  const std::string* range = RangeOf(*x->call);
  const std::optional<ByteSpan> asked =
      range ? ParseSpan(*range, "bytes=") : std::optional<ByteSpan>();
  std::optional<ByteSpan> got;
  for (const auto& [name, value] : x->response->headers) {
    if (name == "content-range") got = ParseSpan(value, "bytes ");
  }
  if (!asked || !got) return true;
  if (got->total && asked->first >= *got->total) {
    x->error =
        OutOfRangeError(x->call->method + " " + PathOf(*x->call) + ": the resource has " +
                        std::to_string(*got->total) + " bytes, fewer than the range's start");
    return false;
  }
  if (asked->last && got->first == asked->first && got->last && *got->last > *asked->last) {
    x->body_limit = *asked->last - asked->first + 1;
  }
  return true;
}

std::string_view Trim(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == '\r' || v.back() == '\n' || v.back() == ' ')) {
    v.remove_suffix(1);
  }
  return v;
}

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* x = static_cast<Exchange*>(user);
  const std::string_view line(data, size * n);
  if (line.starts_with("HTTP/")) {
    x->response->headers.clear();   // a new response (after 100 Continue, say)
  } else if (Trim(line).empty()) {  // end of this response's headers
    long code = 0;
    curl_easy_getinfo(x->handle, CURLINFO_RESPONSE_CODE, &code);
    x->success = code >= 200 && code < 300;
    x->to_sink = x->call->download != nullptr && x->success;
    if (code == 206 && !CheckPartialReply(x)) return 0;  // aborts the transfer
    if (x->to_sink) {
      for (const auto& [name, value] : x->response->headers) {
        uint64_t length = 0;
        if (name == "content-length" &&
            std::from_chars(value.data(), value.data() + value.size(), length).ec == std::errc()) {
          x->call->download->ExpectSize(std::min(length, x->body_limit));
        }
      }
    }
    if (code == 200 && RangeOf(*x->call) != nullptr) {
      x->error = UnavailableError(x->call->method + " " + PathOf(*x->call) +
                                  ": the server ignored the Range and sent the whole body");
      return 0;  // aborts the transfer before a byte of the body is written
    }
  } else if (size_t colon = line.find(':'); colon != std::string_view::npos) {
    x->response->headers.emplace_back(AsciiLower(line.substr(0, colon)),
                                      std::string(Trim(line.substr(colon + 1))));
  }
  return size * n;
}

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* x = static_cast<Exchange*>(user);
  const size_t bytes = size * n;
  if (x->to_sink) {
    const size_t take = std::min<uint64_t>(bytes, x->body_limit - x->to_sink_bytes);
    if (Status s = x->call->download->Write(data, take); !s.ok()) {
      x->error = s;
      return 0;  // aborts the transfer
    }
    x->to_sink_bytes += take;
    if (take < bytes) {
      x->cut = true;  // the range is complete: the rest of the reply is not needed
      return 0;
    }
    return bytes;
  }
  const size_t room = kMaxKeptBody - std::min(kMaxKeptBody, x->response->body.size());
  if (x->success && bytes > room) {
    x->error = DataLossError(x->call->method + " " + PathOf(*x->call) + ": reply body over " +
                             std::to_string(kMaxKeptBody) + " bytes");
    return 0;
  }
  x->response->body.append(data, std::min(room, bytes));
  return bytes;
}

size_t OnRead(char* buffer, size_t size, size_t n, void* user) {
  auto* x = static_cast<Exchange*>(user);
  Result<size_t> got = x->call->upload->Read(buffer, size * n);
  if (!got.ok()) {
    x->error = got.status();
    return CURL_READFUNC_ABORT;
  }
  return *got;
}

Status TransportError(CURLcode code, const char* detail, const HttpCall& call) {
  // The URL without its query: a SAS token's signature must never reach a message.
  std::string message = call.method + " " + PathOf(call) + ": " + curl_easy_strerror(code);
  if (detail[0] != '\0') message += std::string(" (") + detail + ")";
  if (code == CURLE_OPERATION_TIMEDOUT) return DeadlineExceededError(message);
  return UnavailableError(message);
}

void SetBody(CURL* h, const HttpCall& call, Exchange* x) {
  if (call.upload != nullptr) {
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, OnRead);
    curl_easy_setopt(h, CURLOPT_READDATA, x);
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(call.upload->size()));
  } else if (!call.body.empty() || call.method == "PUT" || call.method == "POST") {
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, call.body.data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(call.body.size()));
  }
  if (call.method == "HEAD") curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  // CUSTOMREQUEST last: it names the method whatever the body options implied.
  curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, call.method.c_str());
}

}  // namespace

Result<HttpResponse> PerformHttp(const HttpCall& call) {
  InitCurlOnce();
  // One handle per thread, reset for each call: its connection cache keeps connections
  // (and TLS sessions) alive from one request of this thread to the next.
  thread_local std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) return InternalError("curl_easy_init failed");
  CURL* h = curl.get();
  curl_easy_reset(h);
  HttpResponse response;
  Exchange x{.call = &call, .response = &response, .handle = h};
  char error[CURL_ERROR_SIZE] = "";
  curl_easy_setopt(h, CURLOPT_URL, call.url.c_str());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  if (call.direct) curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, static_cast<long>(call.stall_timeout.count()));
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(call.connect_timeout.count()));
  // Larger buffers than libcurl's defaults (16 KiB down, 64 KiB up): fewer callbacks and
  // writes per blob.
  curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 512L << 10);
  curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, 2L << 20);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &x);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
  if (call.tls != nullptr && !call.tls->ca_file.empty()) {
    curl_easy_setopt(h, CURLOPT_CAINFO, call.tls->ca_file.c_str());
  }
  if (call.tls != nullptr && !call.tls->ca_dir.empty()) {
    curl_easy_setopt(h, CURLOPT_CAPATH, call.tls->ca_dir.c_str());
  }
  SetBody(h, call, &x);
  curl_slist* list = nullptr;
  for (const auto& [name, value] : call.headers) {
    list = curl_slist_append(list, (name + ": " + value).c_str());
  }
  list = curl_slist_append(list, "Expect:");  // no 100-continue round trip
  std::unique_ptr<curl_slist, void (*)(curl_slist*)> headers(list, curl_slist_free_all);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);

  const CURLcode code = curl_easy_perform(h);
  if (!x.error.ok()) return x.error;  // the source or sink failed: its error, as it is
  if (code != CURLE_OK && !x.cut) return TransportError(code, error, call);
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &response.status);
  if (x.to_sink) RETURN_IF_ERROR(call.download->Finish());
  return response;
}

Status HttpStatusToStatus(const HttpResponse& response, std::string_view what) {
  const long s = response.status;
  if (s >= 200 && s < 300) return Status::Ok();
  const std::string message = std::string(what) + ": HTTP " + std::to_string(s) +
                              (response.body.empty() ? "" : ": " + response.body.substr(0, 300));
  switch (s) {
    case 404:
      return NotFoundError(message);
    case 410:
      return GoneError(message);
    case 400:
      // S3 says so when a request's bytes came too slowly: worth another try. (The body is
      // S3's XML, or CloudStatus's "<Code>: <Message>".)
      if (response.body.find("<Code>RequestTimeout</Code>") != std::string::npos ||
          response.body.starts_with("RequestTimeout")) {
        return DeadlineExceededError(message);
      }
      return InvalidArgumentError(message);
    case 401:
    case 403:
      return PermissionDeniedError(message);
    case 408:
      return DeadlineExceededError(message);
    case 409:
    case 412:
      return FailedPreconditionError(message);
    case 429:
      return ResourceExhaustedError(message);
    case 501:  // not implemented: asking again will not help
      return InternalError(message);
    default:
      break;
  }
  return s >= 500 ? UnavailableError(message) : InternalError(message);
}

}  // namespace blobstate
