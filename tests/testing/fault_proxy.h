// FaultProxy: an HTTP proxy on loopback between a blob store client and its server that
// injects faults in scripted patterns (500, 503 SlowDown, delays, dropped connections,
// lost replies, truncated bodies), and records every request it saw.
//
// Each connection carries one exchange: the proxy reads the request (Content-Length
// bodies), forwards it to the upstream with "Connection: close", relays the reply, and
// closes. The first rule that matches a request (method, and a substring of the request
// target) and has uses left decides its fate.
//
// Example:
//   FaultProxy proxy("127.0.0.1", s3_port);
//   proxy.Add({.method = "PUT", .fault = FaultProxy::Fault::kSlowDown, .times = 2});
//   ... point the client at http://127.0.0.1:<proxy.port()> ...
#ifndef BLOBSTATE_TESTS_TESTING_FAULT_PROXY_H_
#define BLOBSTATE_TESTS_TESTING_FAULT_PROXY_H_

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace blobstate::testing {

class FaultProxy {
 public:
  enum class Fault {
    kInternalError,  // 500, the request is not forwarded
    kSlowDown,       // 503 with S3's SlowDown error, not forwarded
    kDelay,          // forwarded after `delay`
    kDrop,           // the connection is closed before forwarding: nothing happened
    kLoseReply,      // forwarded, then the connection is closed without the reply
    kTruncate,       // forwarded; the reply's headers and half its body, then closed
  };
  struct Rule {
    std::string method;  // "" matches any
    std::string target;  // a substring of the request target ("" matches any)
    Fault fault = Fault::kInternalError;
    int times = 1;  // how many requests it applies to; -1: every one
    std::chrono::milliseconds delay{0};
  };
  struct Seen {
    std::string method;
    std::string target;  // path and query, as sent
    std::string range;   // the Range header, if any
    int status = 0;      // the status relayed (0: none, the connection was cut)
  };

  // Starts listening on a free loopback port; forwards to upstream_host:upstream_port.
  FaultProxy(std::string upstream_host, int upstream_port);
  // Stops listening and waits for the connections in progress.
  ~FaultProxy();

  int port() const { return port_; }
  // "http://127.0.0.1:<port>".
  std::string url() const { return "http://" + authority(); }
  // "127.0.0.1:<port>".
  std::string authority() const { return "127.0.0.1:" + std::to_string(port_); }
  void Add(Rule rule);
  void Clear();
  // Makes the proxy enforce the conditions of PUTs that carry If-None-Match: * or
  // If-Match: <ETag> (as AWS S3 does, and s3rver does not): it asks the upstream for the
  // key's ETag (HEAD) and answers 412 PreconditionFailed itself when the condition fails.
  // Conditional PUTs are serialized, so that check and put are one step for them.
  void EnforceConditions() { enforce_conditions_ = true; }
  // Every exchange that reached the proxy, in order. An exchange is recorded before its
  // reply leaves the proxy, so a client that has its reply finds it here.
  std::vector<Seen> seen() const;
  // How many requests of `method` (and with `target` in their target) were seen.
  int Count(const std::string& method, const std::string& target = "") const;

 private:
  void AcceptLoop();
  void Serve(int client);
  bool TakeRule(const std::string& method, const std::string& target, Rule* rule);
  // Forwards the request (`head` without its final CRLF, then `body`); the whole reply.
  std::string Forward(const std::string& head, std::string_view body);
  // The reply to a conditional PUT whose condition fails, or "" if it holds: 412, or 404
  // for If-Match on a key that does not exist, as S3 answers.
  std::string CheckCondition(const std::string& head, const std::string& target);
  void Record(Seen seen);

  const std::string upstream_host_;
  const int upstream_port_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> enforce_conditions_{false};
  std::mutex conditional_mu_;  // held across the check and the forward of a conditional PUT
  std::thread acceptor_;
  mutable std::mutex mu_;
  std::vector<Rule> rules_;           // GUARDED_BY(mu_)
  std::vector<Seen> seen_;            // GUARDED_BY(mu_)
  std::vector<std::thread> workers_;  // GUARDED_BY(mu_)
};

}  // namespace blobstate::testing

#endif  // BLOBSTATE_TESTS_TESTING_FAULT_PROXY_H_
