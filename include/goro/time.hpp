// goro: sleeping (Go's time.Sleep), built on per-P timers.
//
// Durations and time points saturate: a deadline beyond the clock's range
// (sleep_for(nanoseconds::max()), seconds::max(), time_point::max()) means
// never, not a wrapped time in the past; one already past (a zero or
// negative duration, time_point::min()) is due at once. Any chrono duration
// or steady_clock time point is accepted and converted without overflow.
#pragma once
#include <chrono>

#include "goro/chan.hpp"
#include "goro/detail/export.hpp"
#include "goro/detail/saturate.hpp"

namespace goro {

// Parks the calling goroutine until at least `t` (never earlier). No thread
// sleeps: the goroutine's P runs others meanwhile. Outside a goroutine (or
// inside blocking()) it sleeps the thread. A `t` already past returns at
// once; time_point::max() never returns (as Go's time.Sleep(math.MaxInt64)):
// the goroutine keeps a pending timer, so, as in Go, it does not let the
// deadlock detector report the others.
GORO_API void sleep_until(std::chrono::steady_clock::time_point t);
template <class Dur>
void sleep_until(std::chrono::time_point<std::chrono::steady_clock, Dur> t) {
  sleep_until(detail::saturating_time_point(t));
}

// Parks the calling goroutine for at least `d` (Go's time.Sleep). A
// non-positive d returns at once; nanoseconds::max() (or any longer
// duration) never returns.
GORO_API void sleep_for(std::chrono::nanoseconds d);
template <class Rep, class Period>
void sleep_for(std::chrono::duration<Rep, Period> d) {
  sleep_for(detail::saturating_ns(d));
}

// Go's time.After: a channel (capacity 1) that receives the time once, at
// least `d` from now (at once for d <= 0; never for nanoseconds::max() or
// longer). Typically a case of a select, as a timeout. The timer lives on a
// P's heap, so it costs no thread; if nobody receives, the value simply
// stays buffered. The channel is meant to be received from only (Go's
// <-chan Time): closing it is harmless (the timer's send then does
// nothing), sending on it may take the timer's place. Works from any thread
// while a runtime runs; throws std::logic_error when none does.
GORO_API chan<std::chrono::steady_clock::time_point> after(std::chrono::nanoseconds d);
template <class Rep, class Period>
chan<std::chrono::steady_clock::time_point> after(std::chrono::duration<Rep, Period> d) {
  return after(detail::saturating_ns(d));
}

}  // namespace goro
