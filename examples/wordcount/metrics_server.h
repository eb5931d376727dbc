// A minimal HTTP endpoint for the example job: GET /metrics answers the Prometheus text of a
// PrometheusTextSink; anything else is 404. One connection at a time, on loopback only; a
// client silent for 5 s is dropped.
#ifndef BLOBSTATE_EXAMPLES_WORDCOUNT_METRICS_SERVER_H_
#define BLOBSTATE_EXAMPLES_WORDCOUNT_METRICS_SERVER_H_

#include <blobstate/metrics.h>
#include <blobstate/status.h>

#include <cstdint>
#include <memory>
#include <thread>

class MetricsServer {
 public:
  // Listens on 127.0.0.1:`port` (0: a free port) and serves `sink` until destroyed.
  // `sink` must outlive the server.
  static blobstate::Result<std::unique_ptr<MetricsServer>> Start(
      uint16_t port, const blobstate::PrometheusTextSink& sink);
  ~MetricsServer();  // stops serving; waits for the connection being served (at most 5 s)
  uint16_t port() const { return port_; }

 private:
  MetricsServer(int fd, uint16_t port, const blobstate::PrometheusTextSink& sink);
  void Serve(int connection) const;

  const int fd_;
  const uint16_t port_;
  const blobstate::PrometheusTextSink& sink_;
  std::thread thread_;
};

#endif  // BLOBSTATE_EXAMPLES_WORDCOUNT_METRICS_SERVER_H_
