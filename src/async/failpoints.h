// Failpoints (util/failpoint.h) around an asynchronous call.
#ifndef BLOBSTATE_ASYNC_FAILPOINTS_H_
#define BLOBSTATE_ASYNC_FAILPOINTS_H_

#include "blobstate/future.h"
#include "util/failpoint.h"

namespace blobstate {

// call() between the failpoints `before` and `after` (docs/failpoints.md): an armed `before`
// skips the call; an armed `after` replaces its successful outcome (the work stays done,
// like a reply lost after the fact). The result completes on `executor`.
template <typename T, typename F>
Future<T> Between(Executor& executor, const char* before, const char* after, F&& call) {
  if (Status s = Failpoint(before); !s.ok()) return MakeReadyFuture<T>(s);
  return call().Then(executor, [after](Result<T> r) -> Result<T> {
    if (!r.ok()) return r;
    if (Status s = Failpoint(after); !s.ok()) return s;
    return r;
  });
}

}  // namespace blobstate

#endif  // BLOBSTATE_ASYNC_FAILPOINTS_H_
