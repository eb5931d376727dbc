// libFuzzer target: DecodeCheckpoint on arbitrary bytes, as is and with the trailing
// checksum recomputed (so that mutations reach the body parser). Whatever decodes must
// re-encode to bytes that decode to an equal checkpoint.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "blobstate/checkpoint.h"
#include "util/hash.h"

namespace {

void CheckRoundTrip(std::string_view bytes) {
  blobstate::Result<blobstate::Checkpoint> decoded = blobstate::DecodeCheckpoint(bytes);
  if (!decoded.ok()) return;
  blobstate::Result<blobstate::Checkpoint> again =
      blobstate::DecodeCheckpoint(blobstate::EncodeCheckpoint(*decoded));
  if (!again.ok() || !(*again == *decoded)) std::abort();
}

std::string Resealed(std::string_view bytes) {
  std::string out(bytes);
  const size_t checked = out.size() - 8;
  const uint64_t sum = blobstate::Hash64(out.data(), checked);
  for (size_t i = 0; i < 8; ++i) out[checked + i] = static_cast<char>((sum >> (8 * i)) & 0xff);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  CheckRoundTrip(bytes);
  if (size >= 16) CheckRoundTrip(Resealed(bytes));
  return 0;
}
