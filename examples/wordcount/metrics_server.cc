#include "metrics_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <string>

using blobstate::ErrnoError;
using blobstate::Result;

Result<std::unique_ptr<MetricsServer>> MetricsServer::Start(
    uint16_t port, const blobstate::PrometheusTextSink& sink) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return ErrnoError("metrics server: socket", errno);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 8) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    const int err = errno;
    ::close(fd);
    return ErrnoError("metrics server: listen on 127.0.0.1:" + std::to_string(port), err);
  }
  return std::unique_ptr<MetricsServer>(new MetricsServer(fd, ntohs(addr.sin_port), sink));
}

MetricsServer::MetricsServer(int fd, uint16_t port, const blobstate::PrometheusTextSink& sink)
    : fd_(fd), port_(port), sink_(sink), thread_([this] {
        for (;;) {
          const int connection = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
          if (connection < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            return;  // shut down
          }
          // A client that stalls is dropped, so that the server always stops.
          const timeval timeout{.tv_sec = 5, .tv_usec = 0};
          ::setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
          ::setsockopt(connection, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
          Serve(connection);
          ::close(connection);
        }
      }) {}

MetricsServer::~MetricsServer() {
  ::shutdown(fd_, SHUT_RDWR);  // ends the accept
  thread_.join();
  ::close(fd_);
}

// Reads the request head (at most 8 KiB) and answers it.
void MetricsServer::Serve(int connection) const {
  std::string request;
  char buf[1024];
  while (request.find("\r\n\r\n") == std::string::npos && request.size() < 8192) {
    const ssize_t n = ::recv(connection, buf, sizeof buf, 0);
    if (n <= 0) return;
    request.append(buf, static_cast<size_t>(n));
  }
  const bool metrics = request.starts_with("GET /metrics ") || request.starts_with("GET /metrics?");
  const std::string body = metrics ? sink_.Text() : "not found\n";
  const std::string response =
      std::string(metrics ? "HTTP/1.1 200 OK\r\n" : "HTTP/1.1 404 Not Found\r\n") +
      "Content-Type: text/plain; version=0.0.4\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\nConnection: close\r\n\r\n" + body;
  for (size_t sent = 0; sent < response.size();) {
    const ssize_t n =
        ::send(connection, response.data() + sent, response.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return;
    sent += static_cast<size_t>(n);
  }
}
