// libFuzzer target: DecodeSnapshotIndex on arbitrary bytes.
//
// Each input is decoded twice: as is (the envelope checks), and with its trailing checksum
// recomputed, so that mutations reach the body parser instead of stopping at the checksum.
// Whatever decodes must re-encode to bytes that decode to an equal index.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "blobstate/index.h"
#include "fuzz/reseal.h"
#include "index/codec.h"

namespace {

void CheckRoundTrip(std::string_view bytes) {
  blobstate::Result<blobstate::SnapshotIndex> decoded = blobstate::DecodeSnapshotIndex(bytes);
  if (!decoded.ok()) return;
  const std::string encoded = blobstate::EncodeSnapshotIndex(*decoded);
  blobstate::Result<blobstate::SnapshotIndex> again = blobstate::DecodeSnapshotIndex(encoded);
  if (!again.ok() || !(*again == *decoded)) std::abort();
  // Deterministic: a decoded index re-encodes to the same bytes every time.
  if (blobstate::EncodeSnapshotIndex(*again) != encoded) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  CheckRoundTrip(bytes);
  if (size >= 16) CheckRoundTrip(blobstate::fuzz::Resealed(bytes));
  return 0;
}
