// goro: deadlock detection's report.
#pragma once
#include <cstddef>
#include <map>
#include <stdexcept>
#include <string>

namespace goro {

// Thrown by goro::run when every goroutine is asleep and nothing can wake
// one: none is runnable, none is in a blocking call, no timer is pending and
// none waits for the network (Go's "all goroutines are asleep - deadlock!").
// The runtime cannot see threads outside it: a program whose goroutines are
// woken by foreign threads (goro::go, chan, mutex or wait_group used from a
// thread pool) must turn detection off (options::detect_deadlock).
struct deadlock : std::runtime_error {
  // How many goroutines were parked on each kind of object, keyed by Go's
  // wait reasons: "chan receive", "chan send", "chan receive (nil chan)",
  // "chan send (nil chan)", "select", "select (no cases)",
  // "sync.Mutex.Lock", "sync.WaitGroup.Wait", "semacquire".
  std::map<std::string, std::size_t> parked;

  deadlock(const std::string& what, std::map<std::string, std::size_t> by_reason)
      : std::runtime_error(what), parked(std::move(by_reason)) {}
};

}  // namespace goro
