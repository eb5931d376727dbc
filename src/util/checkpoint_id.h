// Checkpoint ids: "<13 decimal digits of Unix milliseconds>-<16 lowercase hex digits>".
//
// Ids sort by time as strings; within one process they strictly increase, even when the
// clock stands still or steps back (the millisecond part never goes below the last one
// issued). The random part keeps ids of different processes apart.
#ifndef BLOBSTATE_UTIL_CHECKPOINT_ID_H_
#define BLOBSTATE_UTIL_CHECKPOINT_ID_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace blobstate {

// A new id, greater than every id this process issued before. Thread-safe.
std::string NewCheckpointId();

// Whether `id` has the form above.
bool IsValidCheckpointId(std::string_view id);

}  // namespace blobstate

#endif  // BLOBSTATE_UTIL_CHECKPOINT_ID_H_
