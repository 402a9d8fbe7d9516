// goro: sleeping (Go's time.Sleep), built on per-P timers.
#pragma once
#include <chrono>

#include "goro/chan.hpp"

namespace goro {

// Parks the calling goroutine until at least `t` (never earlier). No thread
// sleeps: the goroutine's P runs others meanwhile. Outside a goroutine (or
// inside blocking()) it sleeps the thread.
void sleep_until(std::chrono::steady_clock::time_point t);

// Parks the calling goroutine for at least `d` (Go's time.Sleep). A
// non-positive d returns at once.
void sleep_for(std::chrono::nanoseconds d);

// Go's time.After: a channel (capacity 1) that receives the time once, at
// least `d` from now. Typically a case of a select, as a timeout. The timer
// lives on a P's heap, so it costs no thread; if nobody receives, the value
// simply stays buffered. Works from any thread while a runtime runs; throws
// std::logic_error when none does.
chan<std::chrono::steady_clock::time_point> after(std::chrono::nanoseconds d);

}  // namespace goro
