// goro::sim from an installed goro: a user's goroutine test under the
// simulation (README, "Testing your program under the simulation"). Finds
// a planted check-then-act race and replays it exactly, or exits 1.
#include <goro/goro.hpp>
#include <goro/sim.hpp>

#include <cstdio>

int main() {
  auto lazy_init = [] {
    goro::mutex mu;
    bool ready = false;
    int inits = 0;
    goro::chan<int> log(4);
    goro::wait_group wg;
    for (int i = 0; i < 2; i++) {
      wg.add(1);
      goro::go([&] {
        mu.lock();
        bool done = ready;  // check ...
        mu.unlock();
        if (!done) {
          log.send(1);
          mu.lock();
          ready = true;  // ... then act
          inits++;
          mu.unlock();
        }
        wg.done();
      });
    }
    wg.wait();
    return inits == 1;
  };
  goro::sim::report r = goro::sim::explore({.seeds = 200}, lazy_init);
  if (!r.failed) return 1;
  goro::sim::report again = goro::sim::replay(r.replay_file, lazy_init);
  std::printf("goro::sim consumer: race found by seed %llu, replay %s\n",
              static_cast<unsigned long long>(r.seed),
              again.reproduced ? "reproduced it exactly" : "did not reproduce it");
  return again.failed && again.reproduced ? 0 : 1;
}
