// goro: Go's time.Timer, time.AfterFunc and time.Ticker, with Go 1.23's
// semantics, on the runtime's per-P timer heaps (no thread per timer).
//
//   goro::timer t = goro::new_timer(50ms);
//   goro::select(goro::on_recv(t.c(), [&](auto) { timed_out(); }),
//                goro::on_recv(work, [&](auto v) { t.stop(); use(v); }));
//
// Durations saturate as in goro/time.hpp: nanoseconds::max() (or any longer
// duration) means never; a zero or negative one is due at once.
//
// Handles. timer and ticker are handles (as Go's *Timer / *Ticker): copies
// refer to the same timer. Go collects a timer nobody references; here a
// channel timer (new_timer, new_ticker) is stopped and freed when nothing can
// observe it any more: its last handle is gone and nobody else holds its
// channel (so `new_timer(d).c().recv()` still works: the channel returned
// by c() keeps it going until it fires; a ticker whose handles are gone is
// stopped at the first tick after its channel's last outside copy goes).
// An after_func timer whose handles are all gone still fires, as Go's does
// (its f is the observable effect).
//
// Channels (Go 1.23, "synchronous" timer channels). c() is a channel the
// timer delivers on; receive from it only. A timer sends the time it was
// due (its deadline on steady_clock), a ticker each tick's scheduled time.
// After stop() or reset() returns, no value for the old expiry can be
// received: the channel is emptied under the timer's lock, and the firing
// sends under the same lock. Deviation: the channel has capacity 1 and a
// value waits in it from the expiry until it is received, so
// c().capacity() is 1 and c().size() may be 1, where Go 1.23 reports 0 for
// both (its channel is filled lazily, at the receive; ours needs no change
// to the channel core). Nothing else observes the difference: stop()
// returns true when it removes a value nobody received, as Go 1.23's does
// ("the timer had not yet delivered"). Closing c() is harmless (later
// sends are dropped).
//
// Threads and lifetime. Every operation works from goroutines and from
// threads outside the runtime while one runs. Creating a timer (and
// reset) throws std::logic_error when no runtime runs. A timer or ticker
// may outlive the run that created it: when the runtime ends, its pending
// timers are stopped (they never fire); stop() then returns false (or
// true, if it empties an undelivered value), and reset() in a later run
// arms it there.
//
// Deadlock detection: a pending timer or ticker keeps it off (as a
// pending sleep does): the runtime cannot tell that nobody will receive.
// (Go 1.23 keeps an unreceived channel timer out of its heap, so it can
// still report.)
//
// Memory ordering: the call that arms a timer (new_timer, after_func,
// reset, new_ticker) happens before the value it sends is received, and
// before an after_func's f starts; stop() and reset() happen before any
// later firing of the same timer (and, for after_func, before f starts if
// they returned true, f never starts for that arming). As Go's.
#pragma once
#include <chrono>
#include <cstdint>
#include <memory>
#include <type_traits>
#include <utility>

#include "goro/chan.hpp"
#include "goro/detail/export.hpp"
#include "goro/detail/saturate.hpp"

namespace goro {

namespace detail {
struct timer_state;  // src/time/timer_api.cpp
// after_func's f, type-erased; called in a goroutine of its own each time
// the timer fires (so possibly several at once, as Go's f).
struct timer_func {
  virtual void call() = 0;
  virtual ~timer_func() = default;
};
template <class F>
struct timer_func_impl final : timer_func {
  F f;
  explicit timer_func_impl(F&& g) : f(std::move(g)) {}
  explicit timer_func_impl(const F& g) : f(g) {}
  void call() override { f(); }
};
}  // namespace detail

class timer;
GORO_API timer new_timer(std::chrono::nanoseconds d);
namespace detail {
// (goro::timer spelt out: the runtime's own detail::timer is another type.)
GORO_API goro::timer after_func_make(std::chrono::nanoseconds d, std::unique_ptr<timer_func> f);
}  // namespace detail

// Go's *time.Timer: a single event, either a value sent on c() (new_timer)
// or f started in a goroutine (after_func). A default-constructed (or
// moved-from) timer is empty, as Go's zero Timer: stop() and reset() throw
// std::logic_error, c() is a nil channel.
class GORO_API timer {
 public:
  timer() noexcept = default;
  timer(const timer& o) noexcept;
  timer(timer&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  timer& operator=(timer o) noexcept {
    std::swap(s_, o.s_);
    return *this;
  }
  ~timer();

  // Go's Timer.C: the channel the time is delivered on. A nil channel (a
  // moved-from chan, never ready) for an after_func timer or an empty one.
  chan<std::chrono::steady_clock::time_point> c() const;

  // Go's Timer.Stop: prevents the timer from firing. True if this call
  // stopped it (it was pending, or its value had not been received: the
  // value is removed), false if it had already fired (its value received,
  // or, for after_func, f started) or been stopped. After stop() returns
  // no value of this timer can be received, and f is not started for the
  // arming it stopped. It does not wait for an f already started.
  bool stop();

  // Go's Timer.Reset: makes the timer fire `d` from now, as if stopped and
  // started anew (any undelivered value removed, as stop()). True if the
  // timer had been pending (or had an undelivered value), false if it had
  // fired or been stopped. For an after_func timer it schedules f again.
  // Throws std::logic_error when no runtime is running.
  bool reset(std::chrono::nanoseconds d);
  template <class Rep, class Period>
  bool reset(std::chrono::duration<Rep, Period> d) {
    return reset(detail::saturating_ns(d));
  }

  // True for a non-empty handle.
  explicit operator bool() const noexcept { return s_ != nullptr; }

 private:
  friend timer new_timer(std::chrono::nanoseconds d);
  friend goro::timer detail::after_func_make(std::chrono::nanoseconds d,
                                             std::unique_ptr<detail::timer_func> f);
  explicit timer(detail::timer_state* s) noexcept : s_(s) {}
  detail::timer_state* s_ = nullptr;
};

// Go's time.NewTimer: a timer that sends the time on c() once, at least `d`
// from now. Throws std::logic_error when no runtime is running.
template <class Rep, class Period>
timer new_timer(std::chrono::duration<Rep, Period> d) {
  return new_timer(detail::saturating_ns(d));
}

// Go's time.AfterFunc: after `d`, starts f() in a goroutine of its own (as
// go() does: an exception escaping f ends the process). c() is nil. f is
// decay-copied now; each firing (after a reset) calls the same f object.
// Throws std::logic_error when no runtime is running.
template <class F>
timer after_func(std::chrono::nanoseconds d, F&& f) {
  static_assert(std::is_invocable_v<std::decay_t<F>&>, "goro::after_func: f must take no argument");
  return detail::after_func_make(
      d, std::make_unique<detail::timer_func_impl<std::decay_t<F>>>(std::forward<F>(f)));
}
template <class Rep, class Period, class F>
timer after_func(std::chrono::duration<Rep, Period> d, F&& f) {
  return after_func(detail::saturating_ns(d), std::forward<F>(f));
}

class ticker;
GORO_API ticker new_ticker(std::chrono::nanoseconds d);

// Go's *time.Ticker: sends the time on c() every period. The channel holds
// one tick; a tick that finds it full is dropped (a slow receiver loses
// ticks, it does not queue them), and ticks stay on the grid of the first
// one: after a late tick the next is at the next multiple of the period
// after now. A default-constructed (or moved-from) ticker is empty: stop()
// does nothing (Go: a Ticker not made by NewTicker), reset() throws
// std::logic_error.
class GORO_API ticker {
 public:
  ticker() noexcept = default;
  ticker(const ticker& o) noexcept;
  ticker(ticker&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  ticker& operator=(ticker o) noexcept {
    std::swap(s_, o.s_);
    return *this;
  }
  ~ticker();

  // Go's Ticker.C.
  chan<std::chrono::steady_clock::time_point> c() const;

  // Go's Ticker.Stop: no more ticks; a tick not yet received is removed, so
  // none can be received after stop() returns (Go 1.23). Does not close c().
  void stop();

  // Go's Ticker.Reset: stops the ticker and restarts it with period `d`,
  // the next tick `d` from now (an undelivered tick is removed). Throws
  // std::invalid_argument for d <= 0 (Go panics "non-positive interval for
  // Ticker.Reset"), std::logic_error when no runtime runs.
  void reset(std::chrono::nanoseconds d);
  template <class Rep, class Period>
  void reset(std::chrono::duration<Rep, Period> d) {
    reset(detail::saturating_ns(d));
  }

  explicit operator bool() const noexcept { return s_ != nullptr; }

 private:
  friend ticker new_ticker(std::chrono::nanoseconds d);
  explicit ticker(detail::timer_state* s) noexcept : s_(s) {}
  detail::timer_state* s_ = nullptr;
};

// Go's time.NewTicker: the first tick `d` from now. Throws
// std::invalid_argument for d <= 0 (Go panics "non-positive interval for
// NewTicker"), std::logic_error when no runtime is running.
template <class Rep, class Period>
ticker new_ticker(std::chrono::duration<Rep, Period> d) {
  return new_ticker(detail::saturating_ns(d));
}

}  // namespace goro
