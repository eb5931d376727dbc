// Output helpers for the CLI: JSON string escaping and human-readable sizes.
#ifndef BLOBSTATE_CLI_OUTPUT_H_
#define BLOBSTATE_CLI_OUTPUT_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace blobstate::cli {

// `s` as a JSON string literal, quotes included.
std::string JsonString(std::string_view s);

// 1536 -> "1.5 KiB".
std::string HumanBytes(uint64_t bytes);

}  // namespace blobstate::cli

#endif  // BLOBSTATE_CLI_OUTPUT_H_
