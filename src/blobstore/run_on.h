// RunOn: how a backend runs one blocking request on its executor.
#ifndef BLOBSTATE_BLOBSTORE_RUN_ON_H_
#define BLOBSTATE_BLOBSTORE_RUN_ON_H_

#include <exception>
#include <string>

#include "blobstate/future.h"
#include "blobstate/status.h"

namespace blobstate {

// Runs fn() on `executor` and completes the returned future there with fn's outcome (a
// Status or Result<T>). An exception becomes kInternal, naming `who`.
template <typename T, typename Fn>
Future<T> RunOn(Executor& executor, const char* who, Fn fn) {
  Promise<T> promise;
  Future<T> out = promise.GetFuture();
  executor.Execute([who, fn = std::move(fn), promise = std::move(promise)]() mutable {
    try {
      promise.Set(fn());
    } catch (const std::exception& e) {
      promise.Set(InternalError(std::string("exception in ") + who + ": " + e.what()));
    } catch (...) {
      promise.Set(InternalError(std::string("unknown exception in ") + who));
    }
  });
  return out;
}

}  // namespace blobstate

#endif  // BLOBSTATE_BLOBSTORE_RUN_ON_H_
