// A watchdog for tests whose failure mode is a hang (a lost wake-up, an
// undetected deadlock): it ends the process with a message once `limit`
// passes, a bound no working mechanism comes near, so a broken runtime
// fails in seconds rather than at ctest's timeout. A hang cannot be failed
// and recovered from in-process, hence the exit. Used by the unit tests,
// the properties (props/) and the stress suite (stress/).
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>

#include "goro/deadlock.hpp"
#ifdef GORO_SIM
#include "sim/controller.hpp"
#endif

namespace goro_test {

// Ends the process if the test body has not finished within `limit`.
// `what`, if given, is printed with the message: what was running and how
// to replay it (a generated program, a seed).
class watchdog {
 public:
  explicit watchdog(std::chrono::seconds limit, std::string what = {})
      : what_(std::move(what)), t_([this, limit] {
          // It never wakes a goroutine: deadlock detection need not wait for it.
          goro::deadlock_bystander();
          std::unique_lock lk(mu_);
          if (!cv_.wait_for(lk, limit, [this] { return done_; })) {
            std::fprintf(stderr,
                         "watchdog: the test did not finish in %lld s (a lost wake-up or an "
                         "undetected deadlock?)\n%s%s",
                         static_cast<long long>(limit.count()), what_.c_str(),
                         what_.empty() ? "" : "\n");
#ifdef GORO_SIM
            // The simulation: the session that did not finish replays alone.
            std::fprintf(stderr, "goro sim: the running session's GORO_SIM_SEED=%llu\n",
                         static_cast<unsigned long long>(goro::detail::simulator::current_seed()));
#endif
            std::_Exit(3);
          }
        }) {
  }
  ~watchdog() {
    {
      std::lock_guard lk(mu_);
      done_ = true;
    }
    cv_.notify_all();
    t_.join();
  }

 private:
  // Declared before t_, which starts the thread that reads them.
  std::string what_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread t_;
};

}  // namespace goro_test
