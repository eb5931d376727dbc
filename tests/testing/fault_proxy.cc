#include "testing/fault_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace blobstate::testing {
namespace {

bool SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(n);
  }
  return true;
}

// Reads from `fd` into `buf` until it holds `until` (returns its end) or the peer closes.
size_t ReadUntil(int fd, std::string& buf, std::string_view until) {
  for (;;) {
    if (size_t at = buf.find(until); at != std::string::npos) return at + until.size();
    char chunk[65536];
    ssize_t n = ::recv(fd, chunk, sizeof(chunk), 0);
    if (n <= 0) return std::string::npos;
    buf.append(chunk, n);
  }
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// The value of header `name` (lowercase) in the header block `head`, or "".
std::string HeaderValue(const std::string& head, const std::string& name) {
  size_t pos = 0;
  while ((pos = head.find("\r\n", pos)) != std::string::npos) {
    pos += 2;
    size_t colon = head.find(':', pos);
    size_t end = head.find("\r\n", pos);
    if (colon == std::string::npos || end == std::string::npos || colon > end) continue;
    if (Lower(head.substr(pos, colon - pos)) == name) {
      size_t v = head.find_first_not_of(' ', colon + 1);
      return head.substr(v, end - v);
    }
  }
  return "";
}

// `head` with any Connection header replaced by "Connection: close".
std::string CloseConnection(const std::string& head) {
  std::string out;
  size_t pos = 0;
  while (pos < head.size()) {
    size_t end = head.find("\r\n", pos);
    if (end == std::string::npos) end = head.size();
    std::string line = head.substr(pos, end - pos);
    if (!line.empty() && Lower(line.substr(0, 11)) != "connection:") out += line + "\r\n";
    pos = end + 2;
  }
  return out + "Connection: close\r\n\r\n";
}

int ConnectTo(const std::string& host, int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  ::inet_pton(AF_INET, host.c_str(), &addr.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

std::string ErrorReply(int status, const std::string& reason, const std::string& code) {
  std::string body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>" + code +
                     "</Code><Message>injected by the test proxy</Message></Error>";
  return "HTTP/1.1 " + std::to_string(status) + " " + reason +
         "\r\nContent-Type: application/xml\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nConnection: close\r\n\r\n" + body;
}

}  // namespace

FaultProxy::FaultProxy(std::string upstream_host, int upstream_port)
    : upstream_host_(std::move(upstream_host)), upstream_port_(upstream_port) {
  listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (listener_ < 0 || ::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::listen(listener_, 128) != 0) {
    std::perror("FaultProxy: cannot listen on loopback");
    std::abort();  // a test fixture without its proxy cannot test anything
  }
  socklen_t len = sizeof(addr);
  ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { AcceptLoop(); });
}

FaultProxy::~FaultProxy() {
  stopping_ = true;
  acceptor_.join();
  ::close(listener_);
  std::vector<std::thread> workers;
  {
    std::lock_guard<std::mutex> lock(mu_);
    workers.swap(workers_);
  }
  for (std::thread& t : workers) t.join();
}

void FaultProxy::Add(Rule rule) {
  std::lock_guard<std::mutex> lock(mu_);
  rules_.push_back(std::move(rule));
}

void FaultProxy::Clear() {
  std::lock_guard<std::mutex> lock(mu_);
  rules_.clear();
}

std::vector<FaultProxy::Seen> FaultProxy::seen() const {
  std::lock_guard<std::mutex> lock(mu_);
  return seen_;
}

int FaultProxy::Count(const std::string& method, const std::string& target) const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(std::count_if(seen_.begin(), seen_.end(), [&](const Seen& s) {
    return s.method == method && s.target.find(target) != std::string::npos;
  }));
}

void FaultProxy::AcceptLoop() {
  while (!stopping_) {
    pollfd p{.fd = listener_, .events = POLLIN, .revents = 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    int client = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    std::lock_guard<std::mutex> lock(mu_);
    workers_.emplace_back([this, client] {
      Serve(client);
      ::close(client);
    });
  }
}

std::string FaultProxy::Forward(const std::string& head, std::string_view body) {
  int upstream = ConnectTo(upstream_host_, upstream_port_);
  if (upstream < 0) return "";
  SendAll(upstream, CloseConnection(head) + std::string(body));
  std::string reply;
  ReadUntil(upstream, reply, std::string_view("\0\0never", 7));  // all, until closed
  ::close(upstream);
  return reply;
}

std::string FaultProxy::CheckCondition(const std::string& head, const std::string& target) {
  const std::string path = target.substr(0, target.find('?'));
  const std::string host = HeaderValue(head, "host");
  std::string reply = Forward("HEAD " + path + " HTTP/1.1\r\nHost: " + host + "\r\n", "");
  const int status = reply.size() >= 12 ? std::atoi(reply.substr(9, 3).c_str()) : 0;
  const size_t end = reply.find("\r\n\r\n");
  const std::string etag =
      HeaderValue(reply.substr(0, end == std::string::npos ? 0 : end + 2), "etag");
  const std::string if_none_match = HeaderValue(head, "if-none-match");
  const std::string if_match = HeaderValue(head, "if-match");
  // As S3 answers If-Match on a key that does not exist.
  if (!if_match.empty() && status == 404) return ErrorReply(404, "Not Found", "NoSuchKey");
  const bool fails = (if_none_match == "*" && status == 200) ||
                     (!if_match.empty() && (status != 200 || etag != if_match));
  return fails ? ErrorReply(412, "Precondition Failed", "PreconditionFailed") : "";
}

bool FaultProxy::TakeRule(const std::string& method, const std::string& target, Rule* rule) {
  std::lock_guard<std::mutex> lock(mu_);
  for (Rule& r : rules_) {
    if (r.times == 0) continue;
    if (!r.method.empty() && r.method != method) continue;
    if (target.find(r.target) == std::string::npos) continue;
    if (r.times > 0) --r.times;
    *rule = r;
    return true;
  }
  return false;
}

void FaultProxy::Record(Seen seen) {
  std::lock_guard<std::mutex> lock(mu_);
  seen_.push_back(std::move(seen));
}

void FaultProxy::Serve(int client) {
  std::string request;
  size_t head_end = ReadUntil(client, request, "\r\n\r\n");
  if (head_end == std::string::npos) return;
  const std::string head = request.substr(0, head_end - 2);  // keeps the last header's CRLF
  size_t length = std::strtoull(HeaderValue(head, "content-length").c_str(), nullptr, 10);
  while (request.size() < head_end + length) {
    char chunk[65536];
    ssize_t n = ::recv(client, chunk, sizeof(chunk), 0);
    if (n <= 0) return;
    request.append(chunk, n);
  }
  Seen seen;
  size_t sp1 = head.find(' '), sp2 = head.find(' ', sp1 + 1);
  seen.method = head.substr(0, sp1);
  seen.target = head.substr(sp1 + 1, sp2 - sp1 - 1);
  seen.range = HeaderValue(head, "range");
  Rule rule;
  const bool faulty = TakeRule(seen.method, seen.target, &rule);
  if (faulty && (rule.fault == Fault::kInternalError || rule.fault == Fault::kSlowDown)) {
    seen.status = rule.fault == Fault::kSlowDown ? 503 : 500;
    Record(seen);
    SendAll(client, rule.fault == Fault::kSlowDown
                        ? ErrorReply(503, "Slow Down", "SlowDown")
                        : ErrorReply(500, "Internal Server Error", "InternalError"));
    return;
  }
  if (faulty && rule.fault == Fault::kDrop) return Record(seen);
  if (faulty && rule.fault == Fault::kDelay) std::this_thread::sleep_for(rule.delay);
  const bool conditional =
      enforce_conditions_ && seen.method == "PUT" &&
      (!HeaderValue(head, "if-none-match").empty() || !HeaderValue(head, "if-match").empty());
  std::unique_lock<std::mutex> serialized(conditional_mu_, std::defer_lock);
  std::string reply;
  if (conditional) {
    serialized.lock();
    reply = CheckCondition(head, seen.target);
  }
  if (reply.empty()) reply = Forward(head, std::string_view(request).substr(head_end, length));
  if (serialized.owns_lock()) serialized.unlock();
  if (reply.empty()) return Record(seen);  // the upstream could not be reached
  if (faulty && rule.fault == Fault::kLoseReply) return Record(seen);
  seen.status = reply.size() >= 12 ? std::atoi(reply.substr(9, 3).c_str()) : 0;
  if (faulty && rule.fault == Fault::kTruncate) {
    size_t body = reply.find("\r\n\r\n");
    body = body == std::string::npos ? reply.size() : body + 4;
    reply.resize(body + (reply.size() - body) / 2);
    seen.status = 0;
  }
  Record(seen);
  SendAll(client, reply);
}

}  // namespace blobstate::testing
