// goro: sleeping (Go's time.Sleep), built on per-P timers.
#pragma once
#include <chrono>

namespace goro {

// Parks the calling goroutine until at least `t` (never earlier). No thread
// sleeps: the goroutine's P runs others meanwhile. Outside a goroutine (or
// inside blocking()) it sleeps the thread.
void sleep_until(std::chrono::steady_clock::time_point t);

// Parks the calling goroutine for at least `d` (Go's time.Sleep). A
// non-positive d returns at once.
void sleep_for(std::chrono::nanoseconds d);

}  // namespace goro
