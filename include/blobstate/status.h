// Errors as values: Status and Result<T>.
//
// Every fallible operation in blobstate returns a Status (no value) or a Result<T> (a value
// or a Status). The code of a Status tells the caller what to do with it:
//   - retriable: kUnavailable, kDeadlineExceeded, kResourceExhausted (throttled);
//   - ignorable: kGone ("already deleted"), success for deletes and TTL removals;
//   - permanent: everything else. Two permanent codes ask for a decision of their own:
//     kAborted, a conditional write whose condition did not hold (someone else wrote
//     first); kFenced, a task writer shut out because another writer claimed the task.
// Messages carry context: the blob, file or store concerned, outermost context first.
//
// Example:
//   Result<int> ParsePort(std::string_view s);
//   Status Connect(std::string_view host, std::string_view port_text) {
//     ASSIGN_OR_RETURN(int port, ParsePort(port_text));
//     RETURN_IF_ERROR(Dial(host, port).WithContext("connecting to " + std::string(host)));
//     return Status::Ok();
//   }
#ifndef BLOBSTATE_STATUS_H_
#define BLOBSTATE_STATUS_H_

#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

// The public API: exported from a shared libblobstate, which hides everything else.
#pragma GCC visibility push(default)

namespace blobstate {

enum class StatusCode : int {
  kOk = 0,
  kCancelled = 1,
  kInvalidArgument = 3,   // bad input: a flag, a URL, a malformed index
  kDeadlineExceeded = 4,  // retriable: a timeout
  kNotFound = 5,          // a blob or file that should exist does not
  kAlreadyExists = 6,
  kPermissionDenied = 7,    // permanent: auth failed, access denied
  kResourceExhausted = 8,   // retriable: throttled (HTTP 429, 503 SlowDown)
  kFailedPrecondition = 9,  // permanent: the system is not in a state to do this (a full
                            // disk included: ENOSPC and EDQUOT)
  kAborted = 10,            // permanent: a conditional write's condition did not hold
  kOutOfRange = 11,
  kUnimplemented = 12,
  kInternal = 13,     // a bug, or a broken promise
  kUnavailable = 14,  // retriable: connection failure, HTTP 5xx
  kDataLoss = 15,     // corrupt data: checksum mismatch, truncated blob
  kGone = 16,         // ignorable: the blob was already deleted
  kFenced = 17,       // permanent: another writer claimed the task; this one must stop
};

std::string_view StatusCodeName(StatusCode code);

// An error code and message, or OK. Cheap to copy and move (OK holds no allocation).
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message);

  static Status Ok() { return Status(); }

  bool ok() const { return state_ == nullptr; }
  StatusCode code() const { return state_ ? state_->code : StatusCode::kOk; }
  // The message without the code name; empty for OK.
  const std::string& message() const;

  // Whether retrying the same operation may succeed.
  bool IsRetriable() const;
  // Whether the operation's goal is already reached (for deletes: the blob is gone).
  bool IsIgnorable() const { return code() == StatusCode::kGone; }

  // Returns a copy whose message is "context: message"; OK stays OK.
  Status WithContext(std::string_view context) const;

  // "CODE: message", or "OK".
  std::string ToString() const;

  // Spells out that an error is deliberately dropped.
  void IgnoreError() const {}

  friend bool operator==(const Status& a, const Status& b) {
    return a.code() == b.code() && a.message() == b.message();
  }

 private:
  struct State {
    StatusCode code;
    std::string message;
  };
  std::shared_ptr<const State> state_;
};

std::ostream& operator<<(std::ostream& os, const Status& s);

// Shorthands for the common codes.
Status InvalidArgumentError(std::string message);
Status NotFoundError(std::string message);
Status AlreadyExistsError(std::string message);
Status PermissionDeniedError(std::string message);
Status FailedPreconditionError(std::string message);
Status InternalError(std::string message);
Status UnavailableError(std::string message);
Status DeadlineExceededError(std::string message);
Status ResourceExhaustedError(std::string message);
Status DataLossError(std::string message);
Status GoneError(std::string message);
Status AbortedError(std::string message);
Status FencedError(std::string message);
Status CancelledError(std::string message);
Status UnimplementedError(std::string message);
Status OutOfRangeError(std::string message);
// An error from errno, e.g. ErrnoError("open " + path, errno); ENOENT maps to kNotFound.
Status ErrnoError(std::string_view what, int err);

// A value of type T, or a non-OK Status. Result<void> holds only a Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  using value_type = T;

  // A Result made from an OK status, which holds no value, is a kInternal error (as
  // abseil's StatusOr does), in every build: never a success without a value.
  Result(Status status)  // NOLINT: implicit by design
      : v_(status.ok() ? InternalError("a Result<T> was made from an OK status, without a value")
                       : std::move(status)) {}
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  template <typename U, typename = std::enable_if_t<std::is_constructible_v<T, U&&> &&
                                                    !std::is_same_v<std::decay_t<U>, Status> &&
                                                    !std::is_same_v<std::decay_t<U>, T>>>
  Result(U&& value) : v_(T(std::forward<U>(value))) {}  // NOLINT

  bool ok() const { return std::holds_alternative<T>(v_); }
  Status status() const { return ok() ? Status::Ok() : std::get<Status>(v_); }

  // REQUIRES: ok().
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  T value_or(T fallback) const& { return ok() ? value() : std::move(fallback); }

 private:
  std::variant<Status, T> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  using value_type = void;
  Result() = default;
  Result(Status status) : status_(std::move(status)) {}  // NOLINT: implicit by design
  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }

 private:
  Status status_;
};

namespace internal {
inline Status AsStatus(Status s) { return s; }
template <typename T>
Status AsStatus(const Result<T>& r) {
  return r.status();
}
}  // namespace internal

}  // namespace blobstate

#define BLOBSTATE_CONCAT_INNER(a, b) a##b
#define BLOBSTATE_CONCAT(a, b) BLOBSTATE_CONCAT_INNER(a, b)

// Returns the Status of `expr` (a Status or Result) from the enclosing function if not OK.
#define RETURN_IF_ERROR(expr)                                                      \
  do {                                                                             \
    ::blobstate::Status blobstate_status_ = ::blobstate::internal::AsStatus(expr); \
    if (!blobstate_status_.ok()) return blobstate_status_;                         \
  } while (0)

// `lhs` = the value of the Result `rexpr`, or returns its Status.
#define ASSIGN_OR_RETURN(lhs, rexpr) \
  ASSIGN_OR_RETURN_IMPL(BLOBSTATE_CONCAT(blobstate_result_, __LINE__), lhs, rexpr)
#define ASSIGN_OR_RETURN_IMPL(result, lhs, rexpr) \
  auto result = (rexpr);                          \
  if (!result.ok()) return result.status();       \
  lhs = std::move(result).value()

#pragma GCC visibility pop

#endif  // BLOBSTATE_STATUS_H_
