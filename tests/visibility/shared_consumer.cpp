// A user's program against the shared libgoro: every public header's inline
// and template code, so each detail:: function it calls must be exported
// (GORO_API) or this fails to link; and goro's exceptions thrown inside the
// library are caught here by type. Built by tests/CMakeLists.txt only.
#include <goro/goro.hpp>
#include <goro/sim.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <shared_mutex>
#include <stdexcept>
#include <string>

using namespace std::chrono_literals;

static int fail(const char* what) {
  std::fprintf(stderr, "shared_consumer: %s\n", what);
  return 1;
}

int main() {
  int rc = goro::run([]() -> int {
    if (!goro::in_goroutine() || goro::goid() != 1) return fail("main goroutine");
    goro::gomaxprocs(2);
    goro::wait_group wg;
    goro::mutex mu;
    goro::chan<int> c(1);
    std::atomic<int> sum{0};
    for (int i = 1; i <= 10; i++) {
      wg.add(1);
      goro::go([&, i] {
        std::lock_guard<goro::mutex> lk(mu);
        sum += i;
        goro::preempt_point();
        wg.done();
      });
    }
    wg.wait();
    if (sum != 55 || goro::num_goroutine() < 1) return fail("wait_group/mutex");
    {
      goro::cond cv(mu);
      bool ready = false;
      goro::go([&] {
        std::lock_guard<goro::mutex> lk(mu);
        ready = true;
        cv.signal();
      });
      std::unique_lock<goro::mutex> lk(mu);
      while (!ready) cv.wait();
      cv.broadcast();
    }
    goro::once once;
    int onces = 0;
    once.call([&] { onces++; });
    once.call([&] { onces++; });
    auto once_f = goro::once_func([&] { onces++; });
    once_f();
    once_f();
    if (onces != 2 || goro::once_value([] { return 3; })() != 3) return fail("cond/once");
    goro::rw_mutex rw;
    {
      std::shared_lock<goro::rw_mutex> r(rw);
      if (rw.try_lock()) return fail("rw_mutex try_lock under a read lock");
    }
    {
      std::unique_lock<goro::rw_mutex> w(rw);
      if (rw.try_lock_shared()) return fail("rw_mutex try_lock_shared under a write lock");
    }
    c.send(1);
    if (c.try_send(2)) return fail("try_send on a full channel");
    int got = 0;
    goro::select(goro::on_recv(c, [&](std::optional<int> v) { got = *v; }),
                 goro::on_recv(goro::after(1h)));
    if (got != 1) return fail("select");
    goro::sleep_for(1ms);
    goro::sleep_until(std::chrono::steady_clock::now());
    goro::yield();
    if (goro::blocking([] { return 7; }) + goro::blocking_long([] { return 1; }) != 8)
      return fail("blocking");
    c.close();
    try {
      c.send(3);
      return fail("send on a closed channel did not throw");
    } catch (const goro::closed_channel&) {
    }
    auto ln = goro::net::tcp_listener::listen("127.0.0.1", 0);
    goro::go([ln]() mutable {
      goro::net::tcp_conn s = ln.accept();
      s.write("hi");
      s.close();
    });
    goro::net::tcp_conn cl = goro::net::tcp_conn::dial("127.0.0.1", ln.port(), 5s);
    cl.set_read_deadline(std::chrono::steady_clock::now() + 5s);
    char buf[2];
    if (cl.read(buf, 2) != 2 || std::string(buf, 2) != "hi") return fail("net");
    cl.set_read_deadline(std::chrono::steady_clock::now() - 1s);
    try {
      cl.read(buf, 2);
      return fail("past deadline did not throw");
    } catch (const goro::net::timeout_error&) {
    }
    cl.close();
    ln.close();
    // UDP, Unix sockets and wait_readable link through the shared library.
    auto u = goro::net::listen_udp("127.0.0.1", 0);
    u.write_to("u", 1, u.local_address());
    goro::net::wait_readable(u.native_handle(), std::chrono::steady_clock::now() + 5s);
    if (u.read_from(buf, 2).first != 1) return fail("udp");
    u.close();
    auto ul = goro::net::listen_unix("");  // autobind: nothing in the file system
    goro::net::unix_conn uc = goro::net::dial_unix(ul.address());
    goro::net::unix_conn us = ul.accept();
    uc.write("x");
    if (us.read(buf, 1) != 1) return fail("unix");
    ul.close();
    goro::timer t = goro::new_timer(1ms);
    if (!t.c().recv() || t.stop() || t.reset(1h) || !t.stop()) return fail("timer");
    goro::chan<int> fc(1);
    goro::timer f = goro::after_func(1ms, [fc]() mutable { fc.send(5); });
    if (fc.recv() != 5 || f.stop()) return fail("after_func");
    goro::ticker tk = goro::new_ticker(1ms);
    tk.c().recv();
    tk.reset(2ms);
    tk.stop();
    try {
      (void)goro::new_ticker(0s);
      return fail("new_ticker(0) did not throw");
    } catch (const std::invalid_argument&) {
    }
    // context, errgroup, task, semaphore: their inline and template code.
    auto [ctx, cancel] = goro::with_timeout(goro::background(), 1h);
    auto stop = goro::after_func(ctx, [] {});
    cancel();
    if (ctx.err() != goro::errc::canceled || stop()) return fail("context");
    if (goro::sleep_for(ctx, 1h) != goro::errc::canceled) return fail("sleep_for(ctx)");
    goro::semaphore sem(2);
    goro::errgroup g;
    g.set_limit(2);
    for (int i = 0; i < 4; i++)
      g.go([&sem, c = g.ctx()] {
        if (sem.acquire(c, 1)) throw std::runtime_error("acquire");
        sem.release(1);
      });
    g.wait();
    if (!g.try_go([] { return std::error_code(goro::errc::canceled); })) return fail("try_go");
    try {
      g.wait();
      return fail("errgroup did not rethrow");
    } catch (const std::system_error& e) {
      if (e.code() != goro::errc::canceled) return fail("errgroup code");
    }
    if (goro::spawn([] { return 3; }).join() != 3) return fail("task");
    return 0;
  });
  if (rc != 0) return rc;
  try {
    // A wait_group, not a channel: the deadlocked goroutine is abandoned,
    // and a channel it holds would be a leak to LeakSanitizer.
    goro::run(
        [] {
          goro::wait_group wg;
          wg.add(1);
          wg.wait();
        },
        {.procs = 1, .detect_deadlock = goro::deadlock_detection::always});
    return fail("deadlock not reported");
  } catch (const goro::deadlock& d) {
    if (d.parked.empty()) return fail("deadlock without reasons");
  }
  // goro/sim.hpp's functions are exported, and refuse in the plain library.
  if (goro::sim::available()) return fail("goro::sim::available in the plain libgoro");
  try {
    goro::sim::explore({}, [] { return true; });
    return fail("goro::sim::explore ran in the plain libgoro");
  } catch (const std::logic_error&) {
  }
  std::puts("shared_consumer: ok");
  return 0;
}
