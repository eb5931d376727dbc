// A loopback HTTP server (cpp-httplib) for fakes of the services blobstate talks to:
// credential endpoints, STS, IMDS, odd HTTP servers.
#ifndef BLOBSTATE_TESTS_TESTING_LOOPBACK_SERVER_H_
#define BLOBSTATE_TESTS_TESTING_LOOPBACK_SERVER_H_

#include <httplib.h>

#include <chrono>
#include <string>
#include <thread>

namespace blobstate::testing {

// A loopback HTTP server on a free port, for the duration of a test. Register handlers
// on server(), then Start(): connections made before the accept loop runs wait in the
// listening socket's backlog.
class LoopbackServer {
 public:
  LoopbackServer() {
    port_ = server_.bind_to_any_port("127.0.0.1");
    // One request per connection: stop() need not wait for an idle keep-alive to expire.
    server_.set_keep_alive_max_count(1);
  }
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

}  // namespace blobstate::testing

#endif  // BLOBSTATE_TESTS_TESTING_LOOPBACK_SERVER_H_
