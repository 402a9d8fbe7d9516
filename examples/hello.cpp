// A first tour of goro: goroutines, a wait_group, yield, gomaxprocs.
#include <atomic>
#include <cstdio>
#include <mutex>
#include <set>
#include <thread>

#include "goro/goro.hpp"

int main() {
  goro::run([] {
    std::printf("main is goroutine %llu on %u Ps\n", (unsigned long long)goro::goid(),
                goro::gomaxprocs());

    // Ten goroutines, each summing a slice of 1..10'000'000.
    constexpr long n = 10'000'000, parts = 10;
    std::atomic<long> total{0};
    goro::wait_group wg;
    wg.add(parts);
    for (long part = 0; part < parts; part++)
      goro::go([&, part] {
        long sum = 0;
        for (long i = part * (n / parts) + 1; i <= (part + 1) * (n / parts); i++) sum += i;
        total += sum;
        wg.done();
      });
    wg.wait();
    std::printf("sum 1..%ld = %ld (want %ld)\n", n, total.load(), n * (n + 1) / 2);

    // Goroutines are not threads: yielding lets them move between Ms.
    std::mutex mu;
    std::set<std::thread::id> threads;
    wg.add(8);
    for (int i = 0; i < 8; i++)
      goro::go([&] {
        for (int k = 0; k < 1000; k++) {
          {
            std::lock_guard lk(mu);
            threads.insert(std::this_thread::get_id());
          }
          goro::yield();
        }
        wg.done();
      });
    wg.wait();
    std::printf("8 goroutines ran on %zu OS threads\n", threads.size());

    unsigned before = goro::gomaxprocs(4);
    std::printf("gomaxprocs: %u -> %u; live goroutines now: %zu\n", before, goro::gomaxprocs(),
                goro::num_goroutine());
  });
}
