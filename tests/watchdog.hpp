// A watchdog for tests whose failure mode is a hang (a lost wake-up, an
// undetected deadlock): it ends the process with a message once `limit`
// passes, a bound no working mechanism comes near, so a broken runtime
// fails in seconds rather than at ctest's timeout.
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "goro/deadlock.hpp"

namespace goro_test {

// Ends the process if the test body has not finished within `limit`.
class watchdog {
 public:
  explicit watchdog(std::chrono::seconds limit) : t_([this, limit] {
    // It never wakes a goroutine: deadlock detection need not wait for it.
    goro::deadlock_bystander();
    std::unique_lock lk(mu_);
    if (!cv_.wait_for(lk, limit, [this] { return done_; })) {
      std::fprintf(stderr, "watchdog: the test did not finish in %lld s (a lost wake-up or an undetected deadlock?)\n",
                   static_cast<long long>(limit.count()));
      std::_Exit(3);
    }
  }) {}
  ~watchdog() {
    {
      std::lock_guard lk(mu_);
      done_ = true;
    }
    cv_.notify_all();
    t_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread t_;
};

}  // namespace goro_test
