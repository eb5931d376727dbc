// Running the command-line tools of this build from tests.
#ifndef BLOBSTATE_TESTS_TESTING_SHELL_H_
#define BLOBSTATE_TESTS_TESTING_SHELL_H_

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "testing/secrets.h"
#include "util/fs.h"

namespace blobstate::testing {

struct Outcome {
  int exit_code = -1;  // -1 if the command did not exit normally
  std::string out;     // stdout and stderr
};

// Adds a failure if `output` shows a secret (testing/secrets.h), whatever the command did:
// no error, log line, metric or --json output may.
inline void ExpectNoSecrets(const std::string& output) {
  const std::string secret = SecretIn(output);
  EXPECT_EQ(secret, "") << "a tool's output shows " << secret;
}

// Runs `command` with sh, the binaries of this build first on the PATH; checks its output
// for secrets (ExpectNoSecrets).
inline Outcome Sh(const std::string& command) {
  const std::string full =
      "PATH='" + std::string(BLOBSTATE_BIN_DIR) + "':\"$PATH\" " + command + " 2>&1";
  Outcome r;
  FILE* p = ::popen(full.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  ExpectNoSecrets(r.out);
  return r;
}

// Starts `command` with sh in the background, the binaries of this build first on the PATH;
// what it prints, then "exit=<its exit code>", goes to the file `out`. Whether sh started
// it.
[[nodiscard]] inline bool StartInBackground(const std::string& command, const std::string& out) {
  const std::string line = "(PATH='" + std::string(BLOBSTATE_BIN_DIR) + "':\"$PATH\" " + command +
                           " >" + out + " 2>&1; echo \"exit=$?\" >>" + out + ") &";
  return std::system(line.c_str()) == 0;
}

// What a command StartInBackground started printed into `out`, once it has ended (at most
// `timeout` from now).
inline Result<std::string> WaitForBackground(const std::string& out, std::chrono::seconds timeout) {
  for (auto deadline = std::chrono::steady_clock::now() + timeout;
       std::chrono::steady_clock::now() < deadline; ::usleep(20'000)) {
    Result<std::string> printed = ReadSmallFile(out);
    if (printed.ok() && printed->find("exit=") != std::string::npos) return printed;
  }
  return DeadlineExceededError("no exit code in " + out + " after " +
                               std::to_string(timeout.count()) + " s");
}

}  // namespace blobstate::testing

#endif  // BLOBSTATE_TESTS_TESTING_SHELL_H_
