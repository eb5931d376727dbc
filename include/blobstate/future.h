// Futures with continuations on explicit executors.
//
// A Future<T> is the eventual Result<T> of an asynchronous operation. Continuations run on
// the executor the caller names; there is no default executor. Errors propagate: Map and
// its kin skip their function when the input failed and pass the error on. A future always
// completes: a Promise destroyed before it was set completes its future with kInternal, and
// an exception escaping a continuation becomes kInternal too.
//
// Example:
//   ThreadPool io("io", 4), cpu("cpu", 2);
//   Future<std::string> id = store.Put(source, meta);          // runs on the store's pool
//   Future<size_t> n = std::move(id).Map(cpu, [](std::string s) { return s.size(); });
//   Result<size_t> r = std::move(n).Get();                      // blocks: only at the top
//
// Thread safety: a Future is move-only and used by one thread at a time; a Promise may be
// set from any thread, once.
#ifndef BLOBSTATE_FUTURE_H_
#define BLOBSTATE_FUTURE_H_

#include <algorithm>
#include <cassert>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "blobstate/status.h"

// The public API: exported from a shared libblobstate, which hides everything else.
#pragma GCC visibility push(default)

namespace blobstate {

// A move-only callable (std::function needs copyable targets; promises are move-only).
template <typename Sig>
class UniqueFunction;
template <typename R, typename... Args>
class UniqueFunction<R(Args...)> {
 public:
  UniqueFunction() = default;
  UniqueFunction(std::nullptr_t) {}  // NOLINT
  template <typename F,
            typename = std::enable_if_t<!std::is_same_v<std::decay_t<F>, UniqueFunction> &&
                                        std::is_invocable_r_v<R, std::decay_t<F>&, Args...>>>
  UniqueFunction(F&& f)  // NOLINT: implicit like std::function
      : impl_(std::make_unique<Impl<std::decay_t<F>>>(std::forward<F>(f))) {}

  explicit operator bool() const { return impl_ != nullptr; }
  R operator()(Args... args) { return impl_->Call(std::forward<Args>(args)...); }

 private:
  struct Base {
    virtual ~Base() = default;
    virtual R Call(Args... args) = 0;
  };
  template <typename F>
  struct Impl final : Base {
    explicit Impl(F&& f) : fn(std::move(f)) {}
    explicit Impl(const F& f) : fn(f) {}
    R Call(Args... args) override { return fn(std::forward<Args>(args)...); }
    F fn;
  };
  std::unique_ptr<Base> impl_;
};

using Task = UniqueFunction<void()>;

// Where continuations and asynchronous work run.
class Executor {
 public:
  virtual ~Executor() = default;
  // Schedules `task` to run on one of this executor's threads. Never runs it inline.
  virtual void Execute(Task task) = 0;
  // The name given at construction, e.g. "blobstore-io".
  virtual std::string_view name() const = 0;
  // Whether the calling thread is one of this executor's threads.
  virtual bool IsCurrentThread() const = 0;
};

// A fixed-size pool of threads with a FIFO queue. The destructor runs every task already
// queued (including tasks those tasks queue), then joins the threads.
class ThreadPool final : public Executor {
 public:
  // REQUIRES: threads >= 1.
  ThreadPool(std::string name, size_t threads);
  ~ThreadPool() override;
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  void Execute(Task task) override;
  std::string_view name() const override { return name_; }
  bool IsCurrentThread() const override;
  size_t size() const { return threads_.size(); }

 private:
  void Loop();

  const std::string name_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Task> queue_;  // GUARDED_BY(mu_)
  size_t busy_ = 0;         // GUARDED_BY(mu_)
  bool stopping_ = false;   // GUARDED_BY(mu_)
  std::vector<std::thread> threads_;
};

// The name of the executor running the calling thread, or "" for a thread no executor owns.
std::string_view CurrentExecutorName();

template <typename T>
class Future;
template <typename T>
class Promise;
template <typename T>
Future<T> MakeReadyFuture(Result<T> r);

namespace internal {

template <typename T>
class FutureState {
 public:
  using Callback = UniqueFunction<void(Result<T>)>;

  // Completes the future; the first call wins, later calls are ignored.
  void Set(Result<T> r) {
    Callback cb;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (result_.has_value()) return;
      if (callback_) {
        cb = std::move(callback_);
        callback_ = nullptr;
        consumed_ = true;
      } else {
        result_.emplace(std::move(r));
      }
      cv_.notify_all();
    }
    if (cb) cb(std::move(r));
  }

  // Runs `cb` with the result once it is there: now on this thread if it already is,
  // else on the thread that completes the future. At most one callback.
  void Subscribe(Callback cb) {
    std::unique_lock<std::mutex> lock(mu_);
    if (!result_.has_value()) {
      callback_ = std::move(cb);
      return;
    }
    Result<T> r = std::move(*result_);
    consumed_ = true;
    lock.unlock();
    cb(std::move(r));
  }

  bool IsReady() {
    std::lock_guard<std::mutex> lock(mu_);
    return result_.has_value() || consumed_;
  }

  // Blocks until the result is there or `deadline` passes; false on timeout.
  template <typename Clock, typename Dur>
  bool WaitUntil(std::chrono::time_point<Clock, Dur> deadline) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_until(lock, deadline, [&] { return result_.has_value(); });
  }

  Result<T> Take() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return result_.has_value(); });
    consumed_ = true;
    return std::move(*result_);
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<Result<T>> result_;  // GUARDED_BY(mu_)
  Callback callback_;                // GUARDED_BY(mu_)
  bool consumed_ = false;            // GUARDED_BY(mu_)
};

template <typename R>
struct IsFuture : std::false_type {};
template <typename U>
struct IsFuture<Future<U>> : std::true_type {};

// The value type of the future a continuation returning R produces.
template <typename R>
struct ValueOf {
  using type = R;
};
template <typename U>
struct ValueOf<Result<U>> {
  using type = U;
};
template <>
struct ValueOf<Status> {
  using type = void;
};
template <typename U>
struct ValueOf<Future<U>> {
  using type = U;
};

// Calls fn() and completes `p` with what it returns (a value, Result, Status, nothing, or a
// Future whose completion is forwarded). Exceptions become kInternal.
template <typename U, typename Fn>
void InvokeInto(Promise<U> p, Fn&& fn);

}  // namespace internal

template <typename T>
class Promise {
 public:
  Promise() : state_(std::make_shared<internal::FutureState<T>>()) {}
  Promise(Promise&&) noexcept = default;
  Promise& operator=(Promise&& o) noexcept {
    Abandon();
    state_ = std::move(o.state_);
    return *this;
  }
  ~Promise() { Abandon(); }

  // REQUIRES: called at most once per promise.
  Future<T> GetFuture() { return Future<T>(state_); }

  // Completes the future. Only the first Set of a promise has an effect. The promise lets go
  // of the shared state before completing it: a waiter woken by the completion may destroy
  // this promise at once, so nothing here touches `this` after waking anyone.
  void Set(Result<T> r) {
    if (auto state = std::move(state_)) state->Set(std::move(r));
  }

 private:
  void Abandon() {
    if (auto state = std::move(state_))
      state->Set(InternalError("promise destroyed before it was set"));
  }
  std::shared_ptr<internal::FutureState<T>> state_;
};

template <typename T>
class [[nodiscard]] Future {
 public:
  using value_type = T;

  Future() = default;
  Future(Future&&) noexcept = default;
  Future& operator=(Future&&) noexcept = default;

  bool valid() const { return state_ != nullptr; }
  bool IsReady() const { return state_ && state_->IsReady(); }

  // Blocks the calling thread until the result is there. Blocking is for the outermost
  // caller only (a CLI's main, a test, the documented restore thread): never call it on an
  // executor's thread that the awaited work may need.
  Result<T> Get() && { return TakeState()->Take(); }

  // Like Get, but gives kDeadlineExceeded (naming `what`) if the result is not there within
  // `timeout`. The operation itself goes on; its result is dropped.
  template <typename Rep, typename Per>
  Result<T> GetFor(std::chrono::duration<Rep, Per> timeout,
                   std::string_view what = "operation") && {
    auto state = TakeState();
    if (!state->WaitUntil(std::chrono::steady_clock::now() + timeout)) {
      return DeadlineExceededError(
          std::string(what) + " did not complete within " +
          std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count()) +
          " ms");
    }
    return state->Take();
  }

  // Runs f(Result<T>) on `ex` once this future completes, success or not. f may return a
  // value, a Result, a Status, nothing, or a Future (which is awaited).
  template <typename F>
  auto Then(Executor& ex, F&& f) && {
    using R = std::invoke_result_t<F, Result<T>>;
    using U = typename internal::ValueOf<R>::type;
    Promise<U> p;
    Future<U> out = p.GetFuture();
    TakeState()->Subscribe([&ex, f = std::forward<F>(f), p = std::move(p)](Result<T> r) mutable {
      ex.Execute([f = std::move(f), p = std::move(p), r = std::move(r)]() mutable {
        internal::InvokeInto(std::move(p), [&] { return f(std::move(r)); });
      });
    });
    return out;
  }

  // Runs f(T) (f() for Future<void>) on `ex` if this future succeeds; otherwise f is
  // skipped and the error passes on. Return types as for Then.
  template <typename F>
  auto Map(Executor& ex, F&& f) && {
    if constexpr (std::is_void_v<T>) {
      using R = std::invoke_result_t<F>;
      return std::move(*this).Then(
          ex, [f = std::forward<F>(f)](Result<void> r) mutable -> auto{
            return Forward<R>(std::move(r), [&] { return f(); });
          });
    } else {
      using R = std::invoke_result_t<F, T>;
      return std::move(*this).Then(
          ex, [f = std::forward<F>(f)](Result<T> r) mutable -> auto{
            return Forward<R>(r.status(), [&] { return f(std::move(r).value()); });
          });
    }
  }

  // Internal for combinators: runs cb(Result<T>) on the completing thread. cb must be
  // short and must not block.
  void Subscribe(UniqueFunction<void(Result<T>)> cb) && { TakeState()->Subscribe(std::move(cb)); }

 private:
  friend class Promise<T>;
  explicit Future(std::shared_ptr<internal::FutureState<T>> s) : state_(std::move(s)) {}

  std::shared_ptr<internal::FutureState<T>> TakeState() {
    assert(state_ && "use of an invalid (moved-from or consumed) future");
    return std::move(state_);
  }

  // Calls fn() if `in` is OK, else returns `in`'s error as the continuation's return type.
  template <typename R, typename Fn>
  static auto Forward(Result<void> in, Fn&& fn) {
    using U = typename internal::ValueOf<R>::type;
    if constexpr (internal::IsFuture<R>::value) {
      if (!in.ok()) return MakeReadyFuture<U>(in.status());
      return fn();
    } else if constexpr (std::is_void_v<R>) {
      if (in.ok()) fn();
      return in;
    } else {
      if (!in.ok()) return Result<U>(in.status());
      return Result<U>(fn());
    }
  }
  template <typename R, typename Fn>
  static auto Forward(Status in, Fn&& fn) {
    return Forward<R>(Result<void>(std::move(in)), std::forward<Fn>(fn));
  }

  std::shared_ptr<internal::FutureState<T>> state_;
};

// A future that is already complete.
template <typename T>
Future<T> MakeReadyFuture(Result<T> r) {
  Promise<T> p;
  Future<T> f = p.GetFuture();
  p.Set(std::move(r));
  return f;
}
inline Future<void> MakeReadyFuture() { return MakeReadyFuture<void>(Result<void>()); }

namespace internal {

template <typename U, typename Fn>
void InvokeInto(Promise<U> p, Fn&& fn) {
  using R = std::invoke_result_t<Fn>;
  try {
    if constexpr (IsFuture<R>::value) {
      auto shared = std::make_shared<Promise<U>>(std::move(p));
      fn().Subscribe([shared](Result<U> r) { shared->Set(std::move(r)); });
    } else if constexpr (std::is_void_v<R>) {
      fn();
      p.Set(Result<void>());
    } else {
      p.Set(Result<U>(fn()));
    }
  } catch (const std::exception& e) {
    p.Set(InternalError(std::string("exception in continuation: ") + e.what()));
  } catch (...) {
    p.Set(InternalError("unknown exception in continuation"));
  }
}

// Shared by AllOf and ToMap: counts completions, keeps the first error.
struct JoinState {
  explicit JoinState(size_t n) : pending(n) {}
  std::mutex mu;
  size_t pending;      // GUARDED_BY(mu)
  Status first_error;  // GUARDED_BY(mu)
  // Records one completion; true for the last one.
  bool Done(const Status& s) {
    std::lock_guard<std::mutex> lock(mu);
    if (!s.ok() && first_error.ok()) first_error = s;
    return --pending == 0;
  }
};

}  // namespace internal

// Runs f() on `ex` and returns its outcome as a future (f may return what Map accepts).
template <typename F>
auto Async(Executor& ex, F&& f) {
  return MakeReadyFuture().Map(ex, std::forward<F>(f));
}

// Completes when every input has completed (so no input is still running): with all values
// in input order, or with the first error in completion order.
template <typename T>
auto AllOf(std::vector<Future<T>> futures) {
  using Out = std::conditional_t<std::is_void_v<T>, void, std::vector<T>>;
  if (futures.empty()) {
    if constexpr (std::is_void_v<T>) {
      return MakeReadyFuture();
    } else {
      return MakeReadyFuture<Out>(Out{});
    }
  }
  struct State : internal::JoinState {
    using JoinState::JoinState;
    std::vector<std::optional<std::conditional_t<std::is_void_v<T>, bool, T>>> values;
    Promise<Out> promise;
  };
  auto st = std::make_shared<State>(futures.size());
  st->values.resize(futures.size());
  Future<Out> out = st->promise.GetFuture();
  for (size_t i = 0; i < futures.size(); ++i) {
    std::move(futures[i]).Subscribe([st, i](Result<T> r) {
      if constexpr (!std::is_void_v<T>) {
        if (r.ok()) st->values[i].emplace(std::move(r).value());
      } else {
        (void)i;
      }
      if (!st->Done(r.status())) return;
      if (!st->first_error.ok()) return st->promise.Set(st->first_error);
      if constexpr (std::is_void_v<T>) {
        st->promise.Set(Result<void>());
      } else {
        Out all;
        all.reserve(st->values.size());
        for (auto& v : st->values) all.push_back(std::move(*v));
        st->promise.Set(std::move(all));
      }
    });
  }
  return out;
}

// Completes when every input has completed, with every input's result in input order. It
// never fails: callers inspect each result (e.g. to undo the parts that succeeded).
template <typename T>
Future<std::vector<Result<T>>> AllSettled(std::vector<Future<T>> futures) {
  std::vector<Future<Result<T>>> wrapped;
  wrapped.reserve(futures.size());
  for (auto& f : futures) {
    Promise<Result<T>> p;
    wrapped.push_back(p.GetFuture());
    std::move(f).Subscribe([p = std::move(p)](Result<T> r) mutable { p.Set(std::move(r)); });
  }
  return AllOf(std::move(wrapped));
}

namespace internal {

template <typename T>
struct WindowState {
  std::mutex mu;
  size_t next = 0;  // GUARDED_BY(mu)
  size_t done = 0;  // GUARDED_BY(mu)
  std::vector<std::optional<Result<T>>> results;
  Promise<std::vector<Result<T>>> promise;
  std::function<Future<T>(size_t)> start;
  Executor* executor;

  // Starts the next call, if any is left; its completion starts the one after it.
  static void Launch(const std::shared_ptr<WindowState>& st) {
    size_t i;
    {
      std::lock_guard<std::mutex> lock(st->mu);
      if (st->next == st->results.size()) return;
      i = st->next++;
    }
    Future<T> f = [&]() -> Future<T> {
      try {
        return st->start(i);
      } catch (const std::exception& e) {
        return MakeReadyFuture<T>(InternalError(std::string("exception: ") + e.what()));
      }
    }();
    std::move(f).Subscribe([st, i](Result<T> r) {
      bool last;
      {
        std::lock_guard<std::mutex> lock(st->mu);
        st->results[i].emplace(std::move(r));
        last = ++st->done == st->results.size();
      }
      if (!last) return st->executor->Execute([st] { Launch(st); });
      std::vector<Result<T>> all;
      all.reserve(st->results.size());
      for (auto& v : st->results) all.push_back(std::move(*v));
      st->promise.Set(std::move(all));
    });
  }
};

}  // namespace internal

// Calls start(i) for every i in [0, n), with at most `window` (>= 1) of the futures it
// returns incomplete at any time, so that what the calls hold in flight is bounded by the
// window, not by n. Each call after the first `window` is made on `ex` once another
// completed. Completes when all have, with every result in index order; it never fails.
template <typename T>
Future<std::vector<Result<T>>> Windowed(Executor& ex, size_t n, size_t window,
                                        std::function<Future<T>(size_t)> start) {
  auto st = std::make_shared<internal::WindowState<T>>();
  st->results.resize(n);
  st->start = std::move(start);
  st->executor = &ex;
  Future<std::vector<Result<T>>> out = st->promise.GetFuture();
  if (n == 0) {
    st->promise.Set(std::vector<Result<T>>());
    return out;
  }
  for (size_t i = 0; i < std::min(n, std::max<size_t>(window, 1)); ++i) {
    internal::WindowState<T>::Launch(st);
  }
  return out;
}

// Completes when every input has completed: with a map of the values, or the first error
// in completion order.
template <typename K, typename V>
Future<std::map<K, V>> ToMap(std::map<K, Future<V>> futures) {
  std::vector<K> keys;
  std::vector<Future<V>> values;
  for (auto& [k, f] : futures) {
    keys.push_back(k);
    values.push_back(std::move(f));
  }
  auto all = AllOf(std::move(values));
  Promise<std::map<K, V>> p;
  Future<std::map<K, V>> out = p.GetFuture();
  std::move(all).Subscribe(
      [keys = std::move(keys), p = std::move(p)](Result<std::vector<V>> r) mutable {
        if (!r.ok()) return p.Set(r.status());
        std::map<K, V> m;
        for (size_t i = 0; i < keys.size(); ++i) m.emplace(std::move(keys[i]), std::move((*r)[i]));
        p.Set(std::move(m));
      });
  return out;
}

}  // namespace blobstate

#pragma GCC visibility pop

#endif  // BLOBSTATE_FUTURE_H_
