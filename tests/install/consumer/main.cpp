// The README's first example, built against an installed goro: if the
// README's code stops compiling or the package config breaks, this fails.
#include <goro/goro.hpp>

#include <atomic>

int main() {
  int sum = goro::run(
      [] {  // this thread becomes m0; main is goroutine 1
        std::atomic<int> total{0};
        goro::wait_group wg;
        for (int i = 1; i <= 100; i++) {
          wg.add(1);
          goro::go([&, i] {
            total += i;
            wg.done();
          });
        }
        wg.wait();  // parks the goroutine, not the thread
        return total.load();
      },
      {.procs = 2});
  return sum == 5050 ? 0 : 1;
}
