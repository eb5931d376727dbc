// Blob sources and sinks backed by byte ranges of local files.
#ifndef BLOBSTATE_TRANSFER_FILE_IO_H_
#define BLOBSTATE_TRANSFER_FILE_IO_H_

#include <cstdint>
#include <string>

#include "blobstate/blob_store.h"

namespace blobstate {

// A factory of sources that each yield bytes [offset, offset + length) of `path`. A source
// whose file ends early fails with kFailedPrecondition (the file changed under us).
SourceFactory FileRangeSourceFactory(std::string path, uint64_t offset, uint64_t length);

// A factory of sinks that each write bytes at [offset, offset + length) of the existing
// file `path`. Finish fails with kDataLoss naming `blob_id` unless exactly `length` bytes
// arrived (the caller names the file: `path` may be a temporary name).
SinkFactory FileRangeSinkFactory(std::string path, uint64_t offset, uint64_t length,
                                 std::string blob_id);

}  // namespace blobstate

#endif  // BLOBSTATE_TRANSFER_FILE_IO_H_
