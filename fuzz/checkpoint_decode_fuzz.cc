// libFuzzer target: DecodeCheckpoint on arbitrary bytes, as is and with the trailing
// checksum recomputed (so that mutations reach the body parser). Whatever decodes must
// re-encode to bytes that decode to an equal checkpoint.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "blobstate/checkpoint.h"
#include "checkpoint/codec.h"
#include "fuzz/reseal.h"

namespace {

void CheckRoundTrip(std::string_view bytes) {
  blobstate::Result<blobstate::Checkpoint> decoded = blobstate::DecodeCheckpoint(bytes);
  if (!decoded.ok()) return;
  blobstate::Result<blobstate::Checkpoint> again =
      blobstate::DecodeCheckpoint(blobstate::EncodeCheckpoint(*decoded));
  if (!again.ok() || !(*again == *decoded)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  CheckRoundTrip(bytes);
  if (size >= 16) CheckRoundTrip(blobstate::fuzz::Resealed(bytes));
  return 0;
}
