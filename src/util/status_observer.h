// A hook that sees every error Status the process creates, compiled only into builds with
// test hooks (BLOBSTATE_FAILPOINTS=ON): the test suite checks each message for secrets.
// Elsewhere SetStatusObserver does nothing.
#ifndef BLOBSTATE_UTIL_STATUS_OBSERVER_H_
#define BLOBSTATE_UTIL_STATUS_OBSERVER_H_

#include "blobstate/status.h"

namespace blobstate {

// Called on the creating thread with each new error Status; it must be thread-safe and
// must not create a Status itself. nullptr: none.
using StatusObserver = void (*)(const Status& status);
void SetStatusObserver(StatusObserver observer);

}  // namespace blobstate

#endif  // BLOBSTATE_UTIL_STATUS_OBSERVER_H_
