// The invariant auditor has teeth (label props; needs GORO_CHECK_INVARIANTS,
// so it runs in the debug, tsan and asan builds and is skipped in release).
//
// OneGPlace at a stopped world (src/sched/audit.hpp) is checked by putting
// one goroutine out of its place by hand (fault injection: its status or
// wait reason is overwritten while it is parked on a channel) and then
// stopping the world with gomaxprocs(). The auditor must end the process
// with the matching "invariant violated" message. The control test does
// the same without the fault: the auditor stays silent, so the deaths are
// caused by the faults alone.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <thread>

#include "goro/goro.hpp"
#include "sched/runtime.hpp"

namespace {

using goro::detail::g;
using goro::detail::gstatus;
using goro::detail::wait_reason;

// A goroutine parked on a channel receive (status waiting, wait reason
// chan receive) and a dead one (exited, its g on a free list). fault(victim,
// dead) corrupts them; then gomaxprocs stops the world and the auditor looks.
void stop_the_world_after(const std::function<void(g* parked, g* dead)>& fault) {
  goro::run(
      [&] {
        std::atomic<g*> parked{nullptr}, dead{nullptr};
        goro::chan<int> ch(0);
        goro::wait_group exited;
        exited.add(1);
        goro::go([&] {
          dead.store(goro::detail::getg());
          exited.done();
        });
        goro::go([&] {
          parked.store(goro::detail::getg());
          (void)ch.recv();
        });
        exited.wait();
        // Parked: status waiting (the wait reason is written before it).
        while (!parked.load() || parked.load()->status.load() != gstatus::waiting) goro::yield();
        // Exited: status dead (its g goes to a free list right after).
        while (dead.load()->status.load() != gstatus::dead) goro::yield();
        goro::yield();
        fault(parked.load(), dead.load());
        goro::gomaxprocs(3);  // stop the world: audit_stopped_world
        goro::gomaxprocs(2);
        ch.send(1);
      },
      {.procs = 2});
}

class Audit : public testing::Test {
 protected:
  void SetUp() override {
#ifndef GORO_CHECK_INVARIANTS
    GTEST_SKIP() << "the auditor is compiled in only with GORO_CHECK_INVARIANTS (debug, tsan, "
                    "asan presets)";
#endif
    // The runtime has threads: re-execute the binary for each death test.
    testing::GTEST_FLAG(death_test_style) = "threadsafe";
  }
};

TEST_F(Audit, ControlNoFaultNoReport) {
  stop_the_world_after([](g*, g*) {});
}

// A readied G that no run queue holds (a lost goready / a dropped runnext).
TEST_F(Audit, RunnableInNoQueueIsReported) {
  EXPECT_EXIT(stop_the_world_after([](g* v, g*) { v->status.store(gstatus::runnable); }),
              testing::ExitedWithCode(2),
              "invariant violated: OneGPlace: goroutine [0-9]+ is runnable but in no run queue, "
              "with the world stopped");
}

// A parked G with no wait reason (gopark did not record why).
TEST_F(Audit, WaitingWithoutReasonIsReported) {
  EXPECT_EXIT(stop_the_world_after([](g* v, g*) { v->waitreason = wait_reason::zero; }),
              testing::ExitedWithCode(2),
              "invariant violated: OneGPlace: goroutine [0-9]+ is waiting with no wait reason");
}

// A G that claims to run, with no M running it.
TEST_F(Audit, RunningOnNoMIsReported) {
  EXPECT_EXIT(stop_the_world_after([](g* v, g*) { v->status.store(gstatus::running); }),
              testing::ExitedWithCode(2),
              "invariant violated: OneGPlace: goroutine [0-9]+ is running but no M runs it");
}

// A G that claims to be in a blocking call, with no M in one for it.
TEST_F(Audit, SyscallOnNoMIsReported) {
  EXPECT_EXIT(stop_the_world_after([](g* v, g*) { v->status.store(gstatus::syscall); }),
              testing::ExitedWithCode(2),
              "invariant violated: OneGPlace: goroutine [0-9]+ is in a blocking call \\(syscall\\) "
              "but no M is");
}

// A G on a free list that is not dead (freed while still parked).
TEST_F(Audit, FreeListedButAliveIsReported) {
  EXPECT_EXIT(stop_the_world_after([](g*, g* d) { d->status.store(gstatus::waiting); }),
              testing::ExitedWithCode(2),
              "invariant violated: OneGPlace: goroutine [0-9]+ on a P's free list is waiting, "
              "want dead");
}

// A parked G that claims to be locked to an M (lock_os_thread) which is not
// locked to it: the pair g::lockedm / m::lockedg is broken.
TEST_F(Audit, LockedToAnMThatIsNotLockedToItIsReported) {
  EXPECT_EXIT(stop_the_world_after([](g* v, g*) {
                v->lockedm.store(goro::detail::getm_unchecked());  // the stopper's M
              }),
              testing::ExitedWithCode(2),
              "invariant violated: LockedPair: parked goroutine [0-9]+ is locked to M[0-9]+, "
              "which is not locked to it");
}

// The stopper's own G (the curg of its M) claiming to be parked.
TEST_F(Audit, CurgThatIsParkedIsReported) {
  EXPECT_EXIT(
      stop_the_world_after([](g*, g*) { goro::detail::getg()->status.store(gstatus::waiting); }),
      testing::ExitedWithCode(2),
      "invariant violated: OneGPlace: goroutine [0-9]+ is waiting but is the curg of M");
}

// A G that is runnable yet still the curg of an M that holds no P. The
// auditor lets that pass for a moment (exitsyscall clears curg with no lock,
// so the stopper may see it late: audit.hpp, case (c)), and reports it once
// it lasts. Faked here by a G inside a blocking call claiming to be runnable.
TEST_F(Audit, RunnableCurgOfAnMWithoutAPIsReported) {
  EXPECT_EXIT(goro::run(
                  [] {
                    std::atomic<g*> caller{nullptr};
                    std::atomic<bool> release{false};
                    goro::go([&] {
                      g* self = goro::detail::getg();
                      goro::blocking([&] {
                        caller.store(self);
                        while (!release.load())
                          std::this_thread::sleep_for(std::chrono::milliseconds(1));
                      });
                    });
                    while (!caller.load() || caller.load()->status.load() != gstatus::syscall)
                      goro::yield();
                    caller.load()->status.store(gstatus::runnable);
                    goro::gomaxprocs(3);  // stop the world: audit_stopped_world
                    release.store(true);
                  },
                  {.procs = 2}),
              testing::ExitedWithCode(2),
              "invariant violated: OneGPlace: goroutine [0-9]+ is runnable but still the curg of "
              "an M that holds no P, with the world stopped");
}

}  // namespace
