// An environment for tests of code that reads variables through an EnvLookup.
#ifndef BLOBSTATE_TESTS_TESTING_FAKE_ENV_H_
#define BLOBSTATE_TESTS_TESTING_FAKE_ENV_H_

#include <map>
#include <optional>
#include <string>

#include "blobstore/http/credential_io.h"

namespace blobstate::testing {

// The variables `vars`, as ProcessEnv would give them: an empty value counts as unset.
inline EnvLookup FakeEnv(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end() || it->second.empty()) return std::nullopt;
    return it->second;
  };
}

}  // namespace blobstate::testing

#endif  // BLOBSTATE_TESTS_TESTING_FAKE_ENV_H_
