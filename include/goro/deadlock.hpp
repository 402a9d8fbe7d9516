// goro: deadlock detection's report.
#pragma once
#include <cstddef>
#include <map>
#include <stdexcept>
#include <string>

#include "goro/detail/export.hpp"

namespace goro {

// Thrown by goro::run when every goroutine is asleep and nothing can wake
// one: none is runnable, none is in a blocking call, no timer is pending and
// none waits for the network (Go's "all goroutines are asleep - deadlock!").
// By default (options::detect_deadlock automatic) it is reported only while
// no thread outside the runtime exists that could wake a goroutine (see
// deadlock_bystander), so goroutines fed by foreign threads are never
// reported.
struct GORO_API deadlock : std::runtime_error {
  // How many goroutines were parked on each kind of object, keyed by Go's
  // wait reasons: "chan receive", "chan send", "chan receive (nil chan)",
  // "chan send (nil chan)", "select", "select (no cases)",
  // "sync.Mutex.Lock", "sync.WaitGroup.Wait", "sync.Cond.Wait", "semacquire".
  std::map<std::string, std::size_t> parked;

  deadlock(const std::string& what, std::map<std::string, std::size_t> by_reason)
      : std::runtime_error(what), parked(std::move(by_reason)) {}
};

// Declares the calling thread, which must not be a goroutine or a runtime
// thread, a bystander until it exits: it promises never to wake a goroutine
// (no goro::go, no chan, mutex, wait_group or net call on an object a
// goroutine may wait on). Deadlock detection then does not count it as a
// thread that could (a watchdog, a logger, a metrics thread). A bystander
// that breaks the promise may see a correct program reported as deadlocked.
// Calling it again on the same thread has no further effect. A thread that
// will call goro::run must not declare itself: as m0 it would be counted
// twice, and could hide another thread from the check.
GORO_API void deadlock_bystander();

}  // namespace goro
