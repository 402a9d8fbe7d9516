// A program for the execution-trace checks (tests/CMakeLists.txt, label
// unit): it does every kind of thing the tracer records, in counted amounts,
// so that tools/tracecheck can assert the trace says what happened.
//
//   trace_stress            run the scenario (GORO_TRACE=FILE traces it)
//   trace_stress midrun F   start a trace in F mid-run, with goroutines
//                           parked, queued, running and inside blocking(),
//                           then stop it before run returns
//
// The scenario creates exactly kCreated goroutines besides main, kForeign of
// them from threads without a P (a foreign std::thread, and goroutines
// inside goro::blocking); the ctest line passes the same numbers to the
// checker, so a trace that loses or invents a creation fails. Phases that
// must block do so at GOMAXPROCS 1, where the blocking order is fixed: the
// goroutine that waits runs before the one it waits for.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "goro/goro.hpp"

namespace {

constexpr int kPingPongs = 20;  // phase A
constexpr int kGated = 10;      // phase B
constexpr int kLockers = 4;     // phase C
constexpr int kCallers = 8;     // phase D
constexpr int kForeignGo = 5;   // phase F
constexpr int kInsideCall = 2;  // phase G
constexpr int kCrowd = 200;     // phase J
constexpr int kSelects = 10;    // phase K
constexpr int kCreated = kPingPongs + kGated + kLockers + kCallers + 1 /* E */ + kForeignGo +
                         kInsideCall + 2 /* H */ + 1 /* I */ + kSelects + kCrowd;
constexpr int kForeign = kForeignGo + kInsideCall;

void die(const char* what) {
  std::fprintf(stderr, "trace_stress: %s\n", what);
  std::exit(1);
}

void scenario() {
  // A: at GOMAXPROCS 1 the receiver (main) parks before the sender runs.
  goro::gomaxprocs(1);
  for (int i = 0; i < kPingPongs; i++) {
    goro::chan<int> c;
    goro::go([c]() mutable { c.send(7); });
    if (c.recv() != 7) die("phase A: wrong value");
  }
  // B: main parks in wait() before any of the gated goroutines runs.
  {
    goro::chan<int> gate;
    goro::wait_group wg;
    wg.add(kGated);
    for (int i = 0; i < kGated; i++)
      goro::go([gate, &wg]() mutable {
        gate.recv();
        wg.done();
      });
    gate.close();
    wg.wait();
  }
  goro::gomaxprocs(2);
  // C: contention on a mutex held across a yield.
  {
    goro::mutex mu;
    goro::wait_group wg;
    long n = 0;
    wg.add(kLockers);
    for (int i = 0; i < kLockers; i++)
      goro::go([&] {
        for (int k = 0; k < 200; k++) {
          mu.lock();
          n++;
          goro::yield();
          mu.unlock();
        }
        wg.done();
      });
    wg.wait();
    if (n != 200L * kLockers) die("phase C: lost an increment");
  }
  // D: blocking calls.
  {
    goro::wait_group wg;
    wg.add(kCallers);
    for (int i = 0; i < kCallers; i++)
      goro::go([&] {
        for (int k = 0; k < 3; k++) goro::blocking([] { usleep(2000); });
        wg.done();
      });
    wg.wait();
  }
  // E: a P taken from a goroutine inside a blocking call: the call holds
  // until gomaxprocs (a stop-the-world) has run, so the P is claimed from it
  // (by sysmon's retake or by the stop-the-world itself).
  {
    std::atomic<bool> in{false}, release{false};
    goro::wait_group wg;
    wg.add(1);
    goro::go([&] {
      goro::blocking([&] {
        in.store(true);
        while (!release.load()) usleep(100);
      });
      wg.done();
    });
    while (!in.load()) goro::yield();
    goro::gomaxprocs(3);
    release.store(true);
    wg.wait();
  }
  // F: goroutines made by a thread that is not the runtime's.
  {
    goro::wait_group wg;
    wg.add(kForeignGo);
    goro::blocking([&] {
      std::thread t([&] {
        for (int i = 0; i < kForeignGo; i++) goro::go([&] { wg.done(); });
      });
      t.join();
    });
    wg.wait();
  }
  // G: goroutines made inside a blocking call (an M without a P).
  {
    goro::wait_group wg;
    wg.add(kInsideCall);
    for (int i = 0; i < kInsideCall; i++) goro::blocking([&] { goro::go([&] { wg.done(); }); });
    wg.wait();
  }
  // H: labels (set_label, and a named go). I: a sleep. K: a select that waits (GOMAXPROCS 1 again).
  {
    goro::wait_group wg;
    wg.add(3);
    goro::go([&] {
      goro::set_label("reader");
      wg.done();
    });
    goro::go(goro::named("writer"), [&] { wg.done(); });
    goro::go([&] {
      goro::sleep_for(std::chrono::milliseconds(1));
      wg.done();
    });
    wg.wait();
    // Several times: a preemption request pending at the select's entry
    // (a preemption point) lets the sender run first once in a while.
    goro::gomaxprocs(1);
    for (int i = 0; i < kSelects; i++) {
      goro::chan<int> a, b;
      goro::go([b]() mutable { b.send(1); });
      int got = 0;
      goro::select(goro::on_recv(a, [&](std::optional<int>) { got = 1; }),
                   goro::on_recv(b, [&](std::optional<int>) { got = 2; }));
      if (got != 2) die("phase K: wrong case");
    }
    goro::gomaxprocs(2);
  }
  // J: a crowd passing a token around a ring of channels.
  {
    std::vector<goro::chan<int>> ring(kCrowd);
    goro::wait_group wg;
    wg.add(kCrowd);
    for (int i = 0; i < kCrowd; i++)
      goro::go([&, i] {
        auto v = ring[i].recv();
        if (i + 1 < kCrowd) ring[i + 1].send(*v + 1);
        else if (*v != kCrowd - 1) die("phase J: wrong token");
        wg.done();
      });
    ring[0].send(0);
    wg.wait();
  }
}

// midrun: the trace starts while goroutines are parked, queued, running
// and in a blocking call, so every kind of status is first described by
// the trace (GoStatus, ProcStatus), then moves.
void midrun(const char* path) {
  goro::chan<int> gate;
  goro::wait_group wg;
  std::atomic<bool> in{false}, release{false}, stop{false};
  wg.add(5 + 1 + 3);
  for (int i = 0; i < 5; i++)
    goro::go([gate, &wg]() mutable {
      gate.recv();
      wg.done();
    });
  goro::go([&] {
    goro::blocking([&] {
      in.store(true);
      while (!release.load()) usleep(100);
    });
    wg.done();
  });
  for (int i = 0; i < 3; i++)
    goro::go([&] {
      while (!stop.load()) goro::yield();
      wg.done();
    });
  while (!in.load()) goro::yield();
  goro::trace_start(path);
  gate.close();
  release.store(true);
  goro::wait_group more;
  more.add(10);
  for (int i = 0; i < 10; i++) goro::go([&] { more.done(); });
  more.wait();
  stop.store(true);
  wg.wait();
  goro::trace_stop();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::strcmp(argv[1], "midrun") == 0) {
    goro::options o;
    o.procs = 2;
    goro::run([&] { midrun(argv[2]); }, o);
    return 0;
  }
  if (argc != 1) die("usage: trace_stress | trace_stress midrun FILE");
  goro::options o;
  o.procs = 2;
  goro::run(scenario, o);
  std::printf("trace_stress: created %d goroutines besides main, %d from threads without a P\n",
              kCreated, kForeign);
  return 0;
}
