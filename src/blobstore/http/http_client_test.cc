#include "blobstore/http/http_client.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <thread>

namespace blobstate {
namespace {

// A loopback HTTP server on a free port, for the duration of a test. Register handlers
// on server(), then Start(): connections made before the accept loop runs wait in the
// listening socket's backlog.
class LoopbackServer {
 public:
  LoopbackServer() { port_ = server_.bind_to_any_port("127.0.0.1"); }
  void Start() {
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~LoopbackServer() {
    if (!thread_.joinable()) return;
    // A stop() before the accept loop started would be lost, and the loop never end.
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    server_.stop();
    thread_.join();
  }
  httplib::Server& server() { return server_; }
  std::string Url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

class HttpClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    http_.server().Put("/echo", [](const httplib::Request& req, httplib::Response& res) {
      res.set_header("X-Got-Length", std::to_string(req.body.size()));
      res.set_header("X-Got-Custom", req.get_header_value("X-Custom"));
      res.set_content(req.body, "application/octet-stream");
    });
    http_.server().Get("/big", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(std::string(3 << 20, 'b'), "application/octet-stream");
    });
    http_.server().Get("/status/(\\d+)", [](const httplib::Request& req, httplib::Response& res) {
      res.status = std::stoi(req.matches[1]);
      res.set_content("<Error><Code>Why</Code></Error>", "application/xml");
    });
    http_.server().Get("/slow", [](const httplib::Request&, httplib::Response& res) {
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      res.set_content("late", "text/plain");
    });
    http_.Start();
  }
  std::string Header(const HttpResponse& r, const std::string& name) {
    for (const auto& [n, v] : r.headers) {
      if (n == name) return v;
    }
    return "";
  }
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
  EXPECT_EQ(r->body.size(), kMaxKeptBody);  // without a sink, the body kept is bounded
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

TEST_F(HttpClientTest, TransportFailuresAreRetriableErrorsNamingTheRequest) {
  Result<HttpResponse> refused = PerformHttp({.url = "http://127.0.0.1:1/nothing"});
  EXPECT_EQ(refused.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(refused.status().message().find("GET http://127.0.0.1:1/nothing"), std::string::npos);
  Result<HttpResponse> slow =
      PerformHttp({.url = http_.Url("/slow"), .timeout = std::chrono::milliseconds(100)});
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

TEST_F(HttpClientTest, RequestsAreCountedByMethodAndSubresource) {
  std::map<std::string, uint64_t> before = HttpRequestCounts();
  PerformHttp({.url = "http://127.0.0.1:1/b/k?tagging="}).status().IgnoreError();
  PerformHttp({.method = "PUT", .url = "http://127.0.0.1:1/c/b?comp=tags&sig=x"})
      .status()
      .IgnoreError();
  std::map<std::string, uint64_t> after = HttpRequestCounts();
  EXPECT_EQ(after["GET ?tagging"], before["GET ?tagging"] + 1);
  EXPECT_EQ(after["PUT ?comp=tags"], before["PUT ?comp=tags"] + 1);
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
