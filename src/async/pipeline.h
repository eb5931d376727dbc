// Pipeline: the futures of a producer that learns its work as it goes (a tree walked a
// directory at a time), run a window at a time.
#ifndef BLOBSTATE_ASYNC_PIPELINE_H_
#define BLOBSTATE_ASYNC_PIPELINE_H_

#include <cstddef>
#include <functional>
#include <optional>

#include "blobstate/future.h"

namespace blobstate {

// Returns the next piece of work, started, or nullopt when there is none left.
using PipelineProducer = std::function<Result<std::optional<Future<void>>>()>;

// Calls `next` on `executor` and keeps what it starts running, at most `window` at a time:
// `next` is called again whenever fewer are in flight, never concurrently with itself,
// until it returns nullopt or an error, or a piece of work fails. Completes once everything
// started has ended: OK, or with the first error (of `next` or of the work). Memory is
// bounded by the window and what `next` holds, never by the amount of work.
Future<void> Pipeline(Executor& executor, size_t window, PipelineProducer next);

}  // namespace blobstate

#endif  // BLOBSTATE_ASYNC_PIPELINE_H_
