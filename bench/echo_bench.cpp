// tcp_echo_<N>: how cost grows with connections (bench/README.md,
// "Scaling"). goro's side of bench/go/echo.go: an echo server on loopback,
// one goroutine per connection, and the same load client process as every
// other server (the Go peer's -echo-client mode, named by GORO_ECHO_CLIENT,
// which compare.py sets), pinned to the last CPU with taskset as for Go and
// Tokio. The figures are the client's: wall time per request over all
// connections (ns_per_op, 1/throughput) and the median and 99th percentile
// round trip (p50_ns, p99_ns; compare.py shows them as <name>_p50 and
// <name>_p99).
#include <benchmark/benchmark.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "goro/goro.hpp"

extern char** environ;

namespace {

struct echo_figures {
  double ns_per_req = 0, p50 = 0, p99 = 0;
  std::string error;
};

// Lets this process hold 10,000 connections (the hard limit, 20,000 here).
void raise_nofile() {
  rlimit r{};
  if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
    r.rlim_cur = r.rlim_max;
    setrlimit(RLIMIT_NOFILE, &r);
  }
}

// Runs the client process against port and parses its ECHO line. Called
// inside goro::blocking: it waits for a child process.
echo_figures run_client(const char* client, std::uint16_t port, int conns) {
  echo_figures f;
  std::string addr = "127.0.0.1:" + std::to_string(port), n = std::to_string(conns);
  std::string cpu = std::to_string(sysconf(_SC_NPROCESSORS_ONLN) - 1);
  std::vector<std::string> argv_s;
  if (cpu != "0") argv_s = {"taskset", "-c", cpu};
  for (const char* a : {client, "-echo-client", addr.c_str(), "-conns", n.c_str()})
    argv_s.emplace_back(a);
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  int out[2];
  if (pipe(out) != 0) {
    f.error = "pipe failed";
    return f;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_addclose(&fa, out[0]);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  close(out[1]);
  if (rc != 0) {
    close(out[0]);
    f.error = std::string("cannot start the echo client ") + argv[0] + ": " + std::strerror(rc);
    return f;
  }
  std::string text;
  char buf[4096];
  for (ssize_t k; (k = read(out[0], buf, sizeof buf)) > 0;) text.append(buf, k);
  close(out[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    f.error = "the echo client failed (status " + std::to_string(status) + ")";
    return f;
  }
  std::size_t at = text.find("ECHO ");
  if (at == std::string::npos ||
      std::sscanf(text.c_str() + at, "ECHO ns_per_req=%lf p50_ns=%lf p99_ns=%lf", &f.ns_per_req,
                  &f.p50, &f.p99) != 3)
    f.error = "the echo client printed no ECHO line: " + text;
  return f;
}

void tcp_echo(benchmark::State& state, int conns, unsigned procs) {
  const char* client = std::getenv("GORO_ECHO_CLIENT");
  if (!client || !*client) {
    state.SkipWithError(
        "GORO_ECHO_CLIENT is not set: the load client is the Go peer's -echo-client mode "
        "(bench/compare.py sets it to --go's path)");
    for (auto _ : state) {
    }
    return;
  }
  raise_nofile();
  echo_figures f;
  for (auto _ : state) {
    goro::options o;
    o.procs = procs;
    f = goro::run(
        [&] {
          auto ln = std::make_shared<goro::net::tcp_listener>(
              goro::net::tcp_listener::listen("127.0.0.1", 0));
          goro::go([ln] {
            try {
              for (;;) {
                goro::net::tcp_conn c = ln->accept();
                goro::go([c = std::move(c)]() mutable {
                  char buf[64];
                  try {
                    while (std::size_t n = c.read(buf, sizeof buf)) c.write(buf, n);
                  } catch (const std::exception&) {
                    // The client went away mid-request: this connection is done.
                  }
                });
              }
            } catch (const std::exception&) {
              // ln closed below: the accept loop ends.
            }
          });
          echo_figures r = goro::blocking([&] { return run_client(client, ln->port(), conns); });
          ln->close();
          return r;
        },
        o);
  }
  if (!f.error.empty()) {
    state.SkipWithError(f.error.c_str());
    return;
  }
  state.counters["ns_per_op"] = f.ns_per_req;
  state.counters["p50_ns"] = f.p50;
  state.counters["p99_ns"] = f.p99;
}

[[maybe_unused]] const bool registered = [] {
  const std::pair<const char*, int> sizes[] = {{"tcp_echo_10/procs:2", 10},
                                               {"tcp_echo_100/procs:2", 100},
                                               {"tcp_echo_1k/procs:2", 1'000},
                                               {"tcp_echo_10k/procs:2", 10'000}};
  for (auto [name, n] : sizes)
    benchmark::RegisterBenchmark(name, tcp_echo, n, 2u)->Iterations(1)->UseRealTime();
  return true;
}();

}  // namespace
