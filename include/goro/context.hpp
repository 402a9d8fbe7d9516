// goro::context: Go's context package (cancellation and deadlines only; no
// values), context.AfterFunc, and context-taking forms of sleep.
//
//   auto [ctx, cancel] = goro::with_timeout(goro::background(), 100ms);
//   goro::select(goro::on_recv(ctx.done()), goro::on_recv(work));
//   if (ctx.err() == goro::errc::deadline_exceeded) ...
//   cancel();  // always: releases the timer and the parent's reference
//
// A context is a handle: copies refer to the same context, as Go's interface
// values do. Cancelling a context cancels every context derived from it and
// runs its after_func callbacks; cancel functions are idempotent and safe to
// call from any goroutine or thread, before, during or after goro::run.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>

#include "goro/chan.hpp"
#include "goro/detail/export.hpp"
#include "goro/detail/saturate.hpp"

namespace goro {

// The context errors (Go's context.Canceled and context.DeadlineExceeded),
// an error_code enum of category "goro" with Go's messages "context
// canceled" and "context deadline exceeded".
//
// Go's DeadlineExceeded is a net.Error whose Timeout() is true, so code that
// asks "was this a timeout?" treats it as one. The C++ spelling of that
// question is a comparison with std::errc::timed_out, so the category maps
// errc::deadline_exceeded to the generic condition std::errc::timed_out:
// `ec == std::errc::timed_out` holds for it (and for a socket's own
// ETIMEDOUT), while `ec == goro::errc::deadline_exceeded` still tells the
// two apart. errc::canceled maps to std::errc::operation_canceled.
enum class errc { canceled = 1, deadline_exceeded };

// The "goro" category of errc.
GORO_API const std::error_category& goro_category() noexcept;
GORO_API std::error_code make_error_code(errc e) noexcept;

}  // namespace goro

template <>
struct std::is_error_code_enum<goro::errc> : std::true_type {};

namespace goro {

namespace detail {
struct ctx_state;
}  // namespace detail

// Go's context.Context, without values: a cancellation signal, its reason,
// and an optional deadline. background() is the root: never cancelled, no
// deadline. Every other context comes from with_cancel, with_timeout or
// with_deadline on a parent and is cancelled when the first of these
// happens: its cancel function is called, its deadline passes, its parent
// is cancelled. A default-constructed context is background().
//
// Thread safety: every member may be called concurrently from goroutines
// and foreign threads. Lifetime: a context (and its cancel function) may be
// created before goro::run and used after it; a context whose deadline
// timer was pending when its runtime ended is never cancelled by that
// deadline (nothing runs timers once run has returned): cancel it, or its
// parent, explicitly.
//
// Memory ordering: a cancellation (a cancel function's call, the deadline
// timer firing, the parent's cancellation) happens before done()'s receive
// returns std::nullopt and before err() returns non-zero for it and for
// every context derived from it. err() is non-zero only once done() is
// closed, and after done() is seen closed err() is non-zero.
class GORO_API context {
 public:
  context() noexcept = default;  // background()

  // Go's Done: a channel closed when the context is cancelled, for a
  // select case or a plain recv (which then returns std::nullopt). Nobody
  // sends on it; do not close it. background() returns a nil channel,
  // which never becomes ready, as Go's Background().Done() returns nil.
  chan<std::monostate> done() const;

  // Go's Err: {} while the context is live; errc::canceled once cancelled
  // (by its cancel function or its parent's), errc::deadline_exceeded once
  // its deadline (or an ancestor's) passed first. Never changes once set.
  std::error_code err() const noexcept;

  // Go's Deadline: when the context will be cancelled by time, the earliest
  // of its own and its ancestors' deadlines; nullopt if none.
  std::optional<std::chrono::steady_clock::time_point> deadline() const noexcept;

  // Two handles are equal when they refer to the same context.
  friend bool operator==(const context& a, const context& b) noexcept { return a.s_ == b.s_; }

 private:
  friend struct detail::ctx_state;
  explicit context(std::shared_ptr<detail::ctx_state> s) noexcept : s_(std::move(s)) {}
  std::shared_ptr<detail::ctx_state> s_;  // null: background
};

// Go's context.Background (and TODO): the root context. Needs no runtime.
GORO_API context background() noexcept;

// Go's WithCancel: a child of parent and the function that cancels it
// (with errc::canceled). Call the function as soon as the work is done:
// until the child is cancelled (or destroyed), parent holds an entry for
// it. If parent is already cancelled, the child is returned cancelled with
// parent's error. The cancel function is idempotent, callable from any
// goroutine or thread, and keeps the child alive. Needs no runtime.
GORO_API std::pair<context, std::function<void()>> with_cancel(context parent);

// Go's WithDeadline: as with_cancel, and the child is also cancelled with
// errc::deadline_exceeded at `t`. Its deadline() is the earlier of t and
// parent's (a parent deadline already earlier makes this a plain
// with_cancel, as in Go). The deadline costs one runtime timer (on a P's
// timer heap, no goroutine and no thread), released when the child is
// cancelled by any means. A `t` already past gives a child cancelled with
// deadline_exceeded, with or without a runtime; a future `t` needs a
// running runtime (to hold the timer): without one it throws
// std::logic_error, as goro::after does. time_point::max() means never
// (no timer).
GORO_API std::pair<context, std::function<void()>> with_deadline(
    context parent, std::chrono::steady_clock::time_point t);
template <class Dur>
std::pair<context, std::function<void()>> with_deadline(
    context parent, std::chrono::time_point<std::chrono::steady_clock, Dur> t) {
  return with_deadline(std::move(parent), detail::saturating_time_point(t));
}

// Go's WithTimeout: with_deadline(parent, now + d), saturating (d <= 0 is
// already past; nanoseconds::max() and longer, never).
GORO_API std::pair<context, std::function<void()>> with_timeout(context parent,
                                                                std::chrono::nanoseconds d);
template <class Rep, class Period>
std::pair<context, std::function<void()>> with_timeout(context parent,
                                                       std::chrono::duration<Rep, Period> d) {
  return with_timeout(std::move(parent), detail::saturating_ns(d));
}

// Go's WithCancelCause / Cause: as with_cancel, but the cancel function
// takes the cause it records (a zero code records errc::canceled). err()
// is still errc::canceled; cause(ctx) returns the cause of the first
// cancellation of ctx or of the ancestor that cancelled it (for a
// deadline, errc::deadline_exceeded; for a context cancelled by plain
// cancel, errc::canceled), and {} while ctx is live.
GORO_API std::pair<context, std::function<void(std::error_code)>> with_cancel_cause(context parent);
GORO_API std::error_code cause(const context& ctx) noexcept;

namespace detail {
GORO_API std::function<bool()> after_func_impl(const context& ctx, std::function<void()> f);
}  // namespace detail

// Go 1.21's context.AfterFunc: once ctx is done (at once if it already is),
// f runs in a goroutine of its own. Returns stop: stop() deregisters f and
// returns true if that kept f from being started; false if f has already
// been started or stop was already called. Calls for one ctx are
// independent. f is started by whoever cancels ctx: from a goroutine or a
// foreign thread while a runtime runs, as goro::go; when no runtime runs
// (a cancel before or after goro::run), on a detached std::thread instead.
// An exception escaping f ends the process, as from any goroutine. f is
// moved into the registration (it may be move-only) and called at most
// once.
//
// Memory ordering: ctx's cancellation happens before f starts; a stop()
// that returns true happens before nothing runs f (f never runs).
template <class F>
std::function<bool()> after_func(const context& ctx, F f) {
  static_assert(std::is_invocable_v<F&>, "goro::after_func: f takes no argument");
  if constexpr (std::is_copy_constructible_v<F>) {
    return detail::after_func_impl(ctx, std::function<void()>(std::move(f)));
  } else {
    // std::function needs a copyable target: share the move-only one.
    auto p = std::make_shared<F>(std::move(f));
    return detail::after_func_impl(ctx, std::function<void()>([p] { (*p)(); }));
  }
}

// Go's idiom `select { case <-ctx.Done(): case <-time.After(d): }` as one
// call: parks the caller for at least d (as goro::sleep_for) unless ctx is
// cancelled first. Returns {} when the time has passed, ctx.err() when ctx
// was cancelled first (or already was). The timer is deleted at once when
// ctx wins. From a goroutine or a foreign thread while a runtime runs; with
// no runtime, the thread sleeps in slices of at most 1 ms, checking ctx
// between them (no timer exists to wake it).
//
// Memory ordering: a return of ctx.err() is ordered as ctx.err() itself
// (the cancellation happens before it); {} orders nothing.
GORO_API std::error_code sleep_until(const context& ctx, std::chrono::steady_clock::time_point t);
template <class Dur>
std::error_code sleep_until(const context& ctx,
                            std::chrono::time_point<std::chrono::steady_clock, Dur> t) {
  return sleep_until(ctx, detail::saturating_time_point(t));
}
GORO_API std::error_code sleep_for(const context& ctx, std::chrono::nanoseconds d);
template <class Rep, class Period>
std::error_code sleep_for(const context& ctx, std::chrono::duration<Rep, Period> d) {
  return sleep_for(ctx, detail::saturating_ns(d));
}

}  // namespace goro
