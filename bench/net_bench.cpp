// goro's side of the network benchmarks (bench/go/net.go is Go's):
// a 64-byte UDP datagram's round trip between two goroutines over
// loopback, and a one-byte round trip over two pipes waited for with
// wait_readable (Go's peer reads os.Pipe files, which its netpoller
// registers once; wait_readable registers a duplicate per wait that parks,
// so the difference is the price of that choice).
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <string>

#include "goro/goro.hpp"

namespace {

using clock_type = std::chrono::steady_clock;

goro::options procs_opts(unsigned n) {
  goro::options o;
  o.procs = n;
  return o;
}

// Two UDP sockets on 127.0.0.1, one goroutine each: a sends 64 bytes to
// b, b sends them back; ns per round trip over n rounds after n/10 of
// warm-up. Both sides use write_to / read_from, as Go's WriteTo / ReadFrom.
double udp_rounds(int n) {
  auto a = goro::net::listen_udp("127.0.0.1", 0);
  auto b = goro::net::listen_udp("127.0.0.1", 0);
  std::string aaddr = a.local_address(), baddr = b.local_address();
  goro::wait_group wg;
  wg.add(1);
  goro::go([&] {
    char buf[64];
    for (int i = 0; i < n; i++) {
      auto [k, from] = b.read_from(buf, sizeof buf);
      b.write_to(buf, k, aaddr);
    }
    wg.done();
  });
  char buf[64] = {};
  auto t0 = clock_type::now();
  for (int i = 0; i < n; i++) {
    a.write_to(buf, sizeof buf, baddr);
    a.read_from(buf, sizeof buf);
  }
  double ns = std::chrono::duration<double, std::nano>(clock_type::now() - t0).count();
  wg.wait();
  return ns;
}

void udp_pingpong(benchmark::State& state, unsigned procs) {
  constexpr int n = 100'000;
  double per = 0;
  for (auto _ : state) {
    double ns = goro::run(
        [] {
          udp_rounds(n / 10);
          return udp_rounds(n);
        },
        procs_opts(procs));
    per = ns / n;
    state.SetIterationTime(ns / 1e9);
  }
  state.counters["ns_per_op"] = per;
}

// Reads one byte from fd, waiting with wait_readable on EAGAIN.
void read_byte(int fd, char& c) {
  while (::read(fd, &c, 1) != 1) {
    if (errno != EAGAIN) std::abort();
    goro::net::wait_readable(fd);
  }
}

double pipe_rounds(int n) {
  int p[2], q[2];
  if (pipe2(p, O_NONBLOCK | O_CLOEXEC) != 0 || pipe2(q, O_NONBLOCK | O_CLOEXEC) != 0) std::abort();
  goro::wait_group wg;
  wg.add(1);
  goro::go([&] {
    char c;
    for (int i = 0; i < n; i++) {
      read_byte(p[0], c);
      (void)!::write(q[1], &c, 1);
    }
    wg.done();
  });
  char c = 1;
  auto t0 = clock_type::now();
  for (int i = 0; i < n; i++) {
    (void)!::write(p[1], &c, 1);
    read_byte(q[0], c);
  }
  double ns = std::chrono::duration<double, std::nano>(clock_type::now() - t0).count();
  wg.wait();
  for (int fd : {p[0], p[1], q[0], q[1]}) ::close(fd);
  return ns;
}

void pipe_pingpong(benchmark::State& state, unsigned procs) {
  constexpr int n = 100'000;
  double per = 0;
  for (auto _ : state) {
    double ns = goro::run(
        [] {
          pipe_rounds(n / 10);
          return pipe_rounds(n);
        },
        procs_opts(procs));
    per = ns / n;
    state.SetIterationTime(ns / 1e9);
  }
  state.counters["ns_per_op"] = per;
}

[[maybe_unused]] const bool registered = [] {
  benchmark::RegisterBenchmark("udp_pingpong/procs:2", udp_pingpong, 2u)
      ->Iterations(1)
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("pipe_pingpong/procs:2", pipe_pingpong, 2u)
      ->Iterations(1)
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
  return true;
}();

}  // namespace
