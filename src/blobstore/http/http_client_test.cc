#include "blobstore/http/http_client.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <mutex>
#include <thread>

#include "testing/loopback_server.h"

namespace blobstate {
namespace {

using testing::LoopbackServer;

class HttpClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    http_.server().Put("/echo", [](const httplib::Request& req, httplib::Response& res) {
      res.set_header("X-Got-Length", std::to_string(req.body.size()));
      res.set_header("X-Got-Custom", req.get_header_value("X-Custom"));
      res.set_content(req.body, "application/octet-stream");
    });
    http_.server().Get("/norange", [](const httplib::Request&, httplib::Response& res) {
      res.set_header("Accept-Ranges", "none");
      res.set_content("whole", "text/plain");
    });
    http_.server().Get("/big", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(std::string(3 << 20, 'b'), "application/octet-stream");
    });
    http_.server().Get("/status/(\\d+)", [](const httplib::Request& req, httplib::Response& res) {
      res.status = std::stoi(req.matches[1]);
      res.set_content("<Error><Code>Why</Code></Error>", "application/xml");
    });
    http_.server().Get("/toobig", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(std::string(kMaxKeptBody + 1, 'x'), "text/plain");
    });
    // Answers once the test lets it (ReleaseSlow), at the latest after a minute.
    http_.server().Get("/slow", [this](const httplib::Request&, httplib::Response& res) {
      std::unique_lock<std::mutex> lock(slow_mu_);
      slow_cv_.wait_for(lock, std::chrono::seconds(60), [this] { return slow_released_; });
      res.set_content("late", "text/plain");
    });
    http_.Start();
  }
  void TearDown() override { ReleaseSlow(); }
  void ReleaseSlow() {
    std::lock_guard<std::mutex> lock(slow_mu_);
    slow_released_ = true;
    slow_cv_.notify_all();
  }
  std::string Header(const HttpResponse& r, const std::string& name) {
    for (const auto& [n, v] : r.headers) {
      if (n == name) return v;
    }
    return "";
  }
  std::mutex slow_mu_;
  std::condition_variable slow_cv_;
  bool slow_released_ = false;  // GUARDED_BY(slow_mu_)
  LoopbackServer http_;
};

TEST_F(HttpClientTest, StreamsTheRequestBodyFromASourceAndSendsHeaders) {
  std::string payload(2 << 20, 'p');
  Result<std::unique_ptr<BlobSource>> source = StringSourceFactory(payload)();
  ASSERT_TRUE(source.ok());
  HttpCall call{.method = "PUT",
                .url = http_.Url("/echo"),
                .headers = {{"X-Custom", "v  1"}},
                .upload = source->get()};
  Result<HttpResponse> r = PerformHttp(call);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(Header(*r, "x-got-length"), std::to_string(payload.size()));
  EXPECT_EQ(Header(*r, "x-got-custom"), "v  1");
  EXPECT_TRUE(r->body == payload);  // without a sink, the body is kept
}

TEST_F(HttpClientTest, StreamsA2xxBodyIntoTheSinkAndFinishesIt) {
  std::string got;
  Result<std::unique_ptr<BlobSink>> sink = StringSinkFactory(&got)();
  ASSERT_TRUE(sink.ok());
  Result<HttpResponse> r =
      PerformHttp({.method = "GET", .url = http_.Url("/big"), .download = sink->get()});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(got.size(), 3u << 20);  // the sink saw it all and was finished
  EXPECT_TRUE(r->body.empty());
}

TEST_F(HttpClientTest, ErrorBodiesNeverReachTheSinkAndStatusesMapToCodes) {
  const std::pair<int, StatusCode> cases[] = {
      {404, StatusCode::kNotFound},          {410, StatusCode::kGone},
      {400, StatusCode::kInvalidArgument},   {403, StatusCode::kPermissionDenied},
      {429, StatusCode::kResourceExhausted}, {503, StatusCode::kUnavailable},
      {500, StatusCode::kUnavailable}};
  for (const auto& [http, code] : cases) {
    std::string got;
    Result<std::unique_ptr<BlobSink>> sink = StringSinkFactory(&got)();
    Result<HttpResponse> r =
        PerformHttp({.url = http_.Url("/status/" + std::to_string(http)), .download = sink->get()});
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->status, http);
    EXPECT_TRUE(got.empty());
    Status s = HttpStatusToStatus(*r, "get of blob x");
    EXPECT_EQ(s.code(), code) << s;
    EXPECT_NE(s.message().find("get of blob x: HTTP " + std::to_string(http)), std::string::npos);
    EXPECT_NE(s.message().find("<Code>Why</Code>"), std::string::npos);
  }
  EXPECT_TRUE(Status(HttpStatusToStatus({.status = 503}, "x")).IsRetriable());
  EXPECT_FALSE(Status(HttpStatusToStatus({.status = 403}, "x")).IsRetriable());
}

TEST_F(HttpClientTest, RepliesThatCannotBeUsedWholeAreErrorsNotCutBodies) {
  // A listing or tag set over the kept-body limit would lose its end (and its next-page
  // marker): an error, never a short answer.
  Result<HttpResponse> big = PerformHttp({.url = http_.Url("/toobig")});
  EXPECT_EQ(big.status().code(), StatusCode::kDataLoss) << big.status();
  // A server that ignores a Range and sends the whole blob: not a byte reaches the sink.
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{.sin_family = AF_INET, .sin_port = 0, .sin_addr = {htonl(INADDR_LOOPBACK)}};
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener, 1), 0);
  socklen_t len = sizeof addr;
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  std::thread server([listener] {
    const int c = ::accept(listener, nullptr, nullptr);
    char buf[4096];
    (void)!::recv(c, buf, sizeof buf, 0);  // the request's head fits
    const std::string reply = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nwhole";
    (void)!::send(c, reply.data(), reply.size(), MSG_NOSIGNAL);
    ::close(c);
  });
  std::string got;
  auto sink = *StringSinkFactory(&got)();
  Result<HttpResponse> whole =
      PerformHttp({.url = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/b",
                   .headers = {{"Range", "bytes=2-"}},
                   .download = sink.get()});
  server.join();
  ::close(listener);
  EXPECT_EQ(whole.status().code(), StatusCode::kUnavailable) << whole.status();
  EXPECT_NE(whole.status().message().find("ignored the Range"), std::string::npos);
  EXPECT_EQ(got, "");
}

// Serves one connection on a loopback port with `reply`, whatever the request.
class OneReplyServer {
 public:
  explicit OneReplyServer(std::string reply) {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{.sin_family = AF_INET, .sin_port = 0, .sin_addr = {htonl(INADDR_LOOPBACK)}};
    ::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::listen(listener_, 1);
    socklen_t len = sizeof addr;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this, reply = std::move(reply)] {
      const int c = ::accept(listener_, nullptr, nullptr);
      char buf[4096];
      (void)!::recv(c, buf, sizeof buf, 0);  // the request's head fits
      (void)!::send(c, reply.data(), reply.size(), MSG_NOSIGNAL);
      ::close(c);
    });
  }
  ~OneReplyServer() {
    thread_.join();
    ::close(listener_);
  }
  std::string Url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/b"; }

 private:
  int listener_ = -1;
  int port_ = 0;
  std::thread thread_;
};

TEST_F(HttpClientTest, APartialReplyPastTheRangeGivesTheSinkOnlyTheRange) {
  OneReplyServer server(
      "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-9/10\r\nContent-Length: 10\r\n\r\n"
      "0123456789");
  std::string got;
  auto sink = *StringSinkFactory(&got)();
  Result<HttpResponse> r = PerformHttp(
      {.url = server.Url(), .headers = {{"Range", "bytes=0-0"}}, .download = sink.get()});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 206);
  EXPECT_EQ(got, "0");
}

TEST_F(HttpClientTest, APartialReplyOfAShorterResourceIsOutOfRange) {
  OneReplyServer server(
      "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-0/0\r\nContent-Length: 1\r\n\r\n");
  std::string got;
  auto sink = *StringSinkFactory(&got)();
  Result<HttpResponse> r = PerformHttp(
      {.url = server.Url(), .headers = {{"Range", "bytes=0-0"}}, .download = sink.get()});
  EXPECT_EQ(r.status().code(), StatusCode::kOutOfRange) << r.status();
  EXPECT_EQ(got, "");
}

TEST_F(HttpClientTest, NotImplementedIsPermanent) {
  EXPECT_FALSE(Status(HttpStatusToStatus({.status = 501}, "x")).IsRetriable());
  EXPECT_TRUE(Status(HttpStatusToStatus({.status = 502}, "x")).IsRetriable());
}

// S3 answers an upload whose bytes came too slowly with 400 RequestTimeout: that one 400 is
// retried, any other is a bad request.
TEST_F(HttpClientTest, S3sRequestTimeoutIsRetriedAndOther400sAreNot) {
  const std::string timeout =
      "<Error><Code>RequestTimeout</Code><Message>Your socket connection to the server was not "
      "read from or written to within the timeout period.</Message></Error>";
  Status s = HttpStatusToStatus({.status = 400, .body = timeout}, "put of blob x");
  EXPECT_EQ(s.code(), StatusCode::kDeadlineExceeded) << s;
  EXPECT_TRUE(s.IsRetriable());
  s = HttpStatusToStatus({.status = 400, .body = "<Error><Code>InvalidArgument</Code></Error>"},
                         "put of blob x");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s;
}

TEST_F(HttpClientTest, TransportFailuresAreRetriableErrorsNamingTheRequest) {
  Result<HttpResponse> refused = PerformHttp({.url = "http://127.0.0.1:1/nothing"});
  EXPECT_EQ(refused.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(refused.status().message().find("GET http://127.0.0.1:1/nothing"), std::string::npos);
  Result<HttpResponse> slow =
      PerformHttp({.url = http_.Url("/slow"), .stall_timeout = std::chrono::seconds(1)});
  ReleaseSlow();
  EXPECT_EQ(slow.status().code(), StatusCode::kDeadlineExceeded) << slow.status();
}

TEST_F(HttpClientTest, TransportErrorsNeverShowTheQueryWhereASasSignatureLives) {
  Result<HttpResponse> refused =
      PerformHttp({.url = "http://127.0.0.1:1/c/b?sv=2020-02-10&sig=SECRETSIG"});
  EXPECT_EQ(refused.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(refused.status().message().find("GET http://127.0.0.1:1/c/b:"), std::string::npos)
      << refused.status();
  EXPECT_EQ(refused.status().message().find("SECRETSIG"), std::string::npos) << refused.status();
}

TEST_F(HttpClientTest, ASinkErrorAbortsTheTransferWithThatError) {
  HttpCall call{.url = http_.Url("/big")};
  struct FailingSink : BlobSink {
    Status Write(const char*, size_t) override { return PermissionDeniedError("disk says no"); }
    Status Finish() override { return Status::Ok(); }
  } sink;
  call.download = &sink;
  Result<HttpResponse> r = PerformHttp(call);
  EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(r.status().message().find("disk says no"), std::string::npos);
}

}  // namespace
}  // namespace blobstate
