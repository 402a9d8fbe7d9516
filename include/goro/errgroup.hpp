// goro::errgroup: golang.org/x/sync/errgroup's Group.
#pragma once
#include <atomic>
#include <exception>
#include <functional>
#include <optional>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>

#include "goro/chan.hpp"
#include "goro/context.hpp"
#include "goro/detail/export.hpp"
#include "goro/detail/task.hpp"
#include "goro/wait_group.hpp"

namespace goro {

template <class F, class... A>
void go(F&& f, A&&... args);

// A group of goroutines working on parts of one task (x/sync's
// errgroup.Group, made with WithContext): go(f) starts f in a goroutine,
// wait() waits for all of them. The first failure (an exception escaping
// an f, or an f returning a non-zero std::error_code) cancels ctx(), the
// group's context derived from `parent`, so the others can stop early;
// wait() then rethrows that first exception (an error_code as
// std::system_error). wait() also cancels ctx() when it returns, as x/sync
// does. Other failures are dropped, as x/sync keeps only the first error.
// cause(ctx()) is the first failure's error_code (a std::system_error's
// code, or an f's returned code; errc::canceled for other exceptions and
// when wait() cancelled it), as x/sync's Group cancels with its error.
// f takes no argument and returns void or std::error_code.
//
// set_limit(n) bounds the goroutines alive in the group at once: go()
// then waits (parks) for a free slot, try_go() returns false instead
// (x/sync's TryGo). Negative: no limit (the default). Changing the limit
// while goroutines of the group are alive throws std::logic_error (x/sync
// panics when it sees a slot taken; we also count goroutines started
// before any limit was set, which x/sync's check misses). After
// set_limit(0), go() waits forever, as x/sync's does.
//
// The group may be used from goroutines and foreign threads while a
// runtime runs (go() needs one, as goro::go). Destroying it cancels ctx()
// and then waits for its goroutines (without rethrowing): they refer to
// the group, so it cannot go first. Call wait() to see the failure.
//
// Memory ordering: everything a goroutine of the group did happens before
// wait() returns (its wait_group); the first failure happens before ctx()
// is seen cancelled (context.hpp).
class GORO_API errgroup {
 public:
  explicit errgroup(context parent = background());
  ~errgroup();
  errgroup(const errgroup&) = delete;
  errgroup& operator=(const errgroup&) = delete;

  // Starts f in a new goroutine of the group, first waiting for a free slot
  // if a limit is set. Throws what goro::go throws (no runtime), then
  // having started nothing.
  template <class F>
  void go(F&& f) {
    if (sem_) sem_->send(std::monostate{});
    start(std::forward<F>(f));
  }

  // x/sync's TryGo: as go(), but false (f not started) when the limit is
  // reached.
  template <class F>
  bool try_go(F&& f) {
    if (sem_ && !sem_->try_send(std::monostate{})) return false;
    start(std::forward<F>(f));
    return true;
  }

  // Waits for every goroutine started so far, cancels ctx(), and rethrows
  // the first failure, if any. May be called again (it rethrows the same
  // failure).
  void wait();

  // The group's context: cancelled by the first failure or by wait().
  context ctx() const { return ctx_; }

  // See the class comment. n < 0: no limit.
  void set_limit(int n);

 private:
  template <class F>
  void start(F&& f) {
    static_assert(std::is_invocable_v<std::decay_t<F>&>, "goro::errgroup::go: f takes no argument");
    using R = std::invoke_result_t<std::decay_t<F>&>;
    static_assert(std::is_void_v<R> || std::is_convertible_v<R, std::error_code>,
                  "goro::errgroup::go: f returns void or std::error_code");
    active_.fetch_add(1, std::memory_order_relaxed);  // relaxed: read by set_limit only
    wg_.add(1);
    try {
      ::goro::go([this, f = std::forward<F>(f)]() mutable noexcept {
        try {
          if constexpr (std::is_void_v<R>) {
            f();
          } else {
            std::error_code ec = f();
            if (ec) fail(std::make_exception_ptr(std::system_error(ec)), ec);
          }
        } catch (const std::system_error& e) {
          fail(std::current_exception(), e.code());
        } catch (...) {
          fail(std::current_exception(), {});
        }
        finish();
      });
    } catch (...) {
      finish();
      throw;
    }
  }
  // Records the first failure and cancels ctx_ with `why` as its cause
  // (cause(ctx()); {}: errc::canceled).
  void fail(std::exception_ptr e, std::error_code why) noexcept;
  // One goroutine ended: frees its slot and its wait_group count.
  void finish() noexcept;

  context ctx_;
  std::function<void(std::error_code)> cancel_;
  wait_group wg_;
  std::optional<chan<std::monostate>> sem_;  // the limit's slots (none: no limit)
  std::atomic<int> active_{0};
  // acq_rel exchange: only the first failure writes err_; wait() reads it
  // after wg_.wait(), which orders it after that write.
  std::atomic<bool> failed_{false};
  std::exception_ptr err_;
};

}  // namespace goro

#include "goro/goro.hpp"  // goro::go, declared above, defined there
