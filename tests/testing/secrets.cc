#include "testing/secrets.h"

#include <gtest/gtest.h>

#include <optional>
#include <utility>
#include <vector>

#include "blobstate/status.h"
#include "testing/test_servers.h"
#include "util/status_observer.h"

namespace blobstate::testing {
namespace {

// The test servers' secrets, read once (before the sweep starts: reading creates Statuses).
const std::vector<std::pair<std::string, std::string>>& ServerSecrets() {
  static const auto* secrets = [] {
    auto* list = new std::vector<std::pair<std::string, std::string>>;
    for (const char* name : {"BLOBSTATE_TEST_S3_SECRET_KEY", "BLOBSTATE_TEST_AZURE_KEY"}) {
      std::optional<std::string> value = TestServerValue(name);
      if (value && value->size() >= 8) list->emplace_back(name, *value);
    }
    return list;
  }();
  return *secrets;
}

void CheckStatus(const Status& status) {
  const std::string secret = SecretIn(status.message());
  if (!secret.empty()) {
    ADD_FAILURE() << "a " << StatusCodeName(status.code()) << " Status shows " << secret;
  }
}

// Sweeps every error Status of the whole run.
class StatusSweep : public ::testing::Environment {
 public:
  void SetUp() override {
    ServerSecrets();
    SetStatusObserver(CheckStatus);
  }
  void TearDown() override { SetStatusObserver(nullptr); }
};

[[maybe_unused]] ::testing::Environment* const kStatusSweep =
    ::testing::AddGlobalTestEnvironment(new StatusSweep);

}  // namespace

std::string SecretIn(std::string_view text) {
  for (const auto& [name, value] : ServerSecrets()) {
    if (text.find(value) != std::string_view::npos) return name;
  }
  for (std::string_view marker : kFakeSecretMarkers) {
    if (text.find(marker) != std::string_view::npos)
      return "a fake secret (" + std::string(marker) + ")";
  }
  for (size_t at = text.find("sig="); at != std::string_view::npos;
       at = text.find("sig=", at + 4)) {
    const std::string_view value = text.substr(at + 4);
    if (!value.empty() && !value.starts_with("<redacted>") && value.front() != '&') {
      return "a SAS signature";
    }
  }
  return "";
}

}  // namespace blobstate::testing
