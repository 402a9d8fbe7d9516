// Trace validation of the simulated runtime (issue 14, points 2, 3 and 6;
// spec/simulation.md, "Trace validation"): runs a mixed workload under the
// deterministic simulation with GORO_SIM_TRACE=DIR, so the sessions' trace
// log (sim/trace_log.cpp) is written as TLA+ modules that ci/sim_trace.sh
// checks with TLC: the run queues against tla/RunQueue.tla (through
// RunQueueTrace.tla), the P hand-off events through PHandoffTrace.tla.
//
//   sim_trace DIR PROCS SEED...
//
// One session per SEED, all with PROCS Ps; the log gathers them all (one
// TLC run per module checks every seed). The workload, seeded by SEED (the
// same SEED gives the same log, byte for byte): a tree of spawns (a G
// spawning Gs fills its P's runnext and ring, which the other Ps' Ms steal
// from); producers and consumers over an unbuffered and a buffered channel;
// goroutines in blocking calls (goro::blocking: entersyscall/exitsyscall,
// and sysmon's retake and handoffp for the one that outlasts a tick); a
// storm of blocking calls about a sysmon tick long from goroutines that keep
// work queued (exitsyscall's CAS racing retake's); and, for PROCS > 1 in
// three seeds out of four, gomaxprocs down to 1 and back (procresize drains
// the removed Ps' queues: the run-queue log starts a new segment for each).
// The counts are small so that a session logs a few hundred lines.
//
// Built in the sim preset only. The same source linked with one runtime
// source compiled with a mutant (sched/runq.cpp, sched/syscall.cpp) is
// sim_trace_<mutant> (tests/CMakeLists.txt), whose log TLC must reject.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "base/atomic.hpp"
#include "goro/goro.hpp"
#include "sim/controller.hpp"
#include "sim/trace_log.hpp"
#include "test_options.hpp"

namespace {

namespace sim = goro::detail::simulator;

static_assert(goro::detail::sim, "sim_trace is built only with GORO_SIM (the sim preset)");

unsigned g_procs = 1;
std::uint64_t g_seed = 1;

// A small deterministic PRNG for the workload's shape (not the schedule's:
// the controller picks that from the same seed).
std::uint64_t mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

void tree(goro::wait_group& wg, std::atomic<int>& leaves, int depth, std::uint64_t r) {
  if (depth == 0) {
    leaves.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  int kids = 2 + static_cast<int>(r % 2);
  for (int k = 0; k < kids; k++) {
    wg.add(1);
    std::uint64_t rk = mix(r + static_cast<std::uint64_t>(k));
    goro::go([&wg, &leaves, depth, rk] {
      tree(wg, leaves, depth - 1, rk);
      wg.done();
    });
  }
}

void workload() {
  std::uint64_t r = mix(g_seed);
  goro::wait_group wg;
  std::atomic<int> leaves{0};
  // 1. A tree of spawns: 2-3 children per node, depth 3.
  tree(wg, leaves, 3, r);
  // 2. Producers and consumers over channels.
  goro::chan<int> unbuf;
  goro::chan<int> buf(4);
  constexpr int items = 12;
  long got = 0;
  goro::mutex mu;
  for (int c = 0; c < 2; c++) {
    wg.add(1);
    goro::go([&] {
      while (auto v = unbuf.recv()) buf.send(*v);
      wg.done();
    });
  }
  wg.add(1);
  goro::go([&] {
    for (int i = 1; i <= items; i++) unbuf.send(i);
    unbuf.close();
    wg.done();
  });
  wg.add(1);
  goro::go([&] {
    for (int i = 0; i < items; i++) {
      int v = *buf.recv();
      mu.lock();
      got += v;
      mu.unlock();
    }
    wg.done();
  });
  // 3. Blocking calls: some short, one long enough for sysmon to retake the
  // P (virtual time: the sleep is instant in wall time).
  int calls = 2 + static_cast<int>((r >> 8) % 3);
  for (int i = 0; i < calls; i++) {
    wg.add(1);
    bool longer = i == 0;
    goro::go([&wg, longer] {
      goro::blocking([longer] {
        // The call's own work: each detail::atomic load is a scheduling
        // point, 250 ns of virtual time, so a long call spans sysmon ticks
        // (20 us) and its P is retaken. (A real sleep here would hold the
        // baton while virtual time stands still.)
        goro::detail::atomic<int> word{0};
        for (int k = longer ? 400 : 4; k > 0; k--) (void)word.load(std::memory_order_relaxed);
      });
      goro::yield();
      wg.done();
    });
  }
  // 4. A storm of blocking calls of 10-40 us (a sysmon tick is 20 us), from
  // goroutines that also keep runnable work queued, so that sysmon retakes
  // Ps while their calls return: exitsyscall's CAS races retake's.
  for (int w = 0; w < 3; w++) {
    wg.add(1);
    std::uint64_t rw = mix(r + 100 + static_cast<std::uint64_t>(w));
    goro::go([&wg, rw] {
      goro::wait_group inner;
      for (int c = 0; c < 6; c++) {
        inner.add(1);
        goro::go([&inner] { inner.done(); });  // work left queued on our P
        int len = 40 + static_cast<int>(mix(rw + static_cast<std::uint64_t>(c)) % 120);
        goro::blocking([len] {
          goro::detail::atomic<int> word{0};
          for (int k = len; k > 0; k--) (void)word.load(std::memory_order_relaxed);
        });
      }
      inner.wait();
      wg.done();
    });
  }
  // 5. gomaxprocs down to 1 and back (procresize), while the above runs.
  if (g_procs > 1 && (r >> 16) % 4 != 0) {
    goro::yield();
    goro::gomaxprocs(1);
    goro::yield();
    goro::gomaxprocs(g_procs);
  }
  wg.wait();
  if (got != items * (items + 1) / 2) {
    std::fprintf(stderr, "sim_trace: channel sum %ld, want %d (seed %llu)\n", got,
                 items * (items + 1) / 2, static_cast<unsigned long long>(g_seed));
    std::abort();
  }
}

// The controller aborts a run it finds deadlocked or endless: the log up
// to there is written first, so a mutant that hangs still yields a trace.
void on_abort(int) {
  sim::trace_log_flush();
  std::signal(SIGABRT, SIG_DFL);
  std::raise(SIGABRT);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: sim_trace DIR PROCS SEED...\n");
    return 2;
  }
  setenv("GORO_SIM_TRACE", argv[1], 1);
  g_procs = static_cast<unsigned>(std::strtoul(argv[2], nullptr, 10));
  std::signal(SIGABRT, on_abort);
  std::uint64_t decisions = 0;
  for (int i = 3; i < argc; i++) {
    g_seed = std::strtoull(argv[i], nullptr, 10);
    sim::options o;
    o.seed = g_seed;
    o.max_decisions = 2'000'000;
    sim::set_options(o);
    goro::run(workload, goro_test::procs(g_procs));
    decisions += sim::last_stats().decisions;
  }
  std::printf("sim_trace: procs %u, %d seeds: %llu decisions\n", g_procs, argc - 3,
              static_cast<unsigned long long>(decisions));
  return 0;
}
