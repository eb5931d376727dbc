// Blob ids that no other put returns, on this host or any other, for every backend.
//
// Shape: "<job>/<task>/<store>/<yyyymmddThhmmssZ>-<32 random hex>[-<file name>]", where the
// names come from BlobMetadata, sanitized (SanitizeIdComponent), so that a listing of the
// store shows whose blob it is. Uniqueness rests on the 128 random bits alone; the time
// and names are for people. Every id is valid by IsValidBlobId and at most 320 characters,
// and no component is longer than 128 characters (file systems cap names at 255 bytes).
//
// Example:
//   NewBlobId({.job_name = "wc", .task_name = "Partition 0", .store_name = "counts",
//              .file_path = "db/000012.sst"}, now)
//   == "wc/Partition_0/counts/20240102T030405Z-6f1c...e2-000012.sst"
#ifndef BLOBSTATE_BLOBSTORE_BLOB_IDS_H_
#define BLOBSTATE_BLOBSTORE_BLOB_IDS_H_

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

#include "blobstate/blob_store.h"

namespace blobstate {

// The longest sanitized name in an id.
inline constexpr size_t kMaxIdComponentSize = 64;

// `name` with every character outside [A-Za-z0-9._-] replaced by '_', cut to `max_size`
// characters; "_" for an empty name, "_" / "__" for "." / "..".
std::string SanitizeIdComponent(std::string_view name, size_t max_size = kMaxIdComponentSize);

// A fresh id for a blob put with `metadata` at `now` (see the shape above). Thread-safe.
std::string NewBlobId(const BlobMetadata& metadata, std::chrono::system_clock::time_point now);

}  // namespace blobstate

#endif  // BLOBSTATE_BLOBSTORE_BLOB_IDS_H_
