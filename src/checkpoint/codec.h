// The encodings of checkpoints and of the pins object (docs/format.md, "Checkpoint",
// "Pins").
#ifndef BLOBSTATE_CHECKPOINT_CODEC_H_
#define BLOBSTATE_CHECKPOINT_CODEC_H_

#include <string>
#include <string_view>
#include <vector>

#include "blobstate/checkpoint.h"
#include "blobstate/history.h"
#include "blobstate/status.h"

namespace blobstate {

// The encoding of `checkpoint` in its version (docs/format.md, "Checkpoint"): a version 1
// encoding drops the id and markers. REQUIRES: version 1 or 2.
std::string EncodeCheckpoint(const Checkpoint& checkpoint);
// Never trusts its input: kDataLoss or kInvalidArgument naming what is wrong.
Result<Checkpoint> DecodeCheckpoint(std::string_view bytes);

// The pins object (docs/format.md, "Pins"): magic "BSPN", version 1.
std::string EncodePins(const std::vector<Pin>& pins);
// Never trusts its input: kInvalidArgument or kDataLoss naming what is wrong.
Result<std::vector<Pin>> DecodePins(std::string_view bytes);

}  // namespace blobstate

#endif  // BLOBSTATE_CHECKPOINT_CODEC_H_
