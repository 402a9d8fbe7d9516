// skynet: a tree of a million goroutines, fan-out 10. Each leaf reports its
// number, each inner node sums its ten children and reports up.
//
// This is the wait_group version: a child writes its sum into its parent's
// slot and calls done(). (The classic version passes the sums over channels;
// bench/ runs that one against Go once goro::chan exists.)
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "goro/goro.hpp"

namespace {

void skynet(long num, long size, long* out) {
  if (size == 1) {
    *out = num;
    return;
  }
  long results[10];
  goro::wait_group wg;
  wg.add(10);
  long sub = size / 10;
  for (long i = 0; i < 10; i++)
    goro::go([&wg, &results, i, num, sub] {
      skynet(num + i * sub, sub, &results[i]);
      wg.done();
    });
  wg.wait();
  long sum = 0;
  for (long r : results) sum += r;
  *out = sum;
}

}  // namespace

// skynet [SIZE [ROUNDS]]: a tree of SIZE leaves (a power of 10; default a
// million), ROUNDS times (default 3).
int main(int argc, char** argv) {
  long size = argc > 1 ? std::atol(argv[1]) : 1'000'000;
  int rounds = argc > 2 ? std::atoi(argv[2]) : 3;
  long want = size * (size - 1) / 2;
  goro::options opts;
  opts.stack_guard = false;  // a million goroutines: pooled stacks (see README)
  opts.stack_size = 64 * 1024;
  for (int round = 0; round < rounds; round++) {
    auto t0 = std::chrono::steady_clock::now();
    long sum = goro::run(
        [size] {
          long result = 0;
          skynet(0, size, &result);
          return result;
        },
        opts);
    double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    std::printf("skynet: sum %ld over %ld leaves in %.0f ms\n", sum, size, ms);
    if (sum != want) {
      std::fprintf(stderr, "skynet: wrong sum, want %ld\n", want);
      return 1;
    }
  }
}
