// blobstate-test-proxy: the test suite's FaultProxy as a process of its own, enforcing the
// conditions of PUTs, in front of an S3 server that ignores them (s3rver). The test
// servers script starts it, so that every S3 test speaks to a server that behaves like
// AWS S3 on conditional writes.
//
//   blobstate-test-proxy [--plain] UPSTREAM_PORT PORT_FILE [DELAY_MS]
// listens on a free loopback port, writes it to PORT_FILE, and serves until killed. With
// DELAY_MS, every request is forwarded that many milliseconds late (a distant server, for
// the benchmarks). With --plain, it enforces nothing: for a server that does (Azurite).
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "testing/fault_proxy.h"

int main(int argc, char** argv) {
  const bool plain = argc > 1 && std::string(argv[1]) == "--plain";
  if (plain) {
    --argc;
    ++argv;
  }
  if (argc != 3 && argc != 4) {
    std::fprintf(stderr,
                 "usage: blobstate-test-proxy [--plain] UPSTREAM_PORT PORT_FILE [DELAY_MS]\n");
    return 2;
  }
  using blobstate::testing::FaultProxy;
  FaultProxy proxy("127.0.0.1", std::atoi(argv[1]));
  if (!plain) proxy.EnforceConditions();
  if (argc == 4) {
    proxy.Add({.fault = FaultProxy::Fault::kDelay,
               .times = -1,
               .delay = std::chrono::milliseconds(std::atoi(argv[3]))});
  }
  {
    const std::string tmp = std::string(argv[2]) + ".tmp";
    std::ofstream(tmp) << proxy.port() << "\n";
    std::rename(tmp.c_str(), argv[2]);
  }
  for (;;) ::pause();
}
