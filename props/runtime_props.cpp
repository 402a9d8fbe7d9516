// Whole-runtime property: random goroutine programs on the real runtime.
//
// RapidCheck generates a program: a tree of goroutines, each running a list
// of actions (spawn a child and join it later, spawn a detached child, spawn a
// child from a foreign OS thread, spawn a fan-out of many leaves, yield, join
// the children so far on a wait_group, local work, change gomaxprocs, a
// producer/consumer pipe over a channel, a fan-in of several producers to
// several consumers, a select over two channels until both close, a counter
// under goro::mutex, sleep, a blocking call with and without handoff; and
// issue 16's library: a child joined through goro::spawn's task, counters
// under a rw_mutex checked by readers, a hand-off through a mutex and two
// conds, a once raced by several goroutines, a weighted semaphore's bound,
// an errgroup with a limit and a planted failure, goroutines waiting on a
// context's done() until it is cancelled or times out, and a ticker and a
// timer's stop/reset results). The
// same program runs on the real runtime at procs 1, 2 and 8 and through a
// sequential interpreter, and then:
//  - every goroutine ran exactly once (a per-goroutine run counter is 1);
//  - channel values are conserved: every value sent is received exactly
//    once (sums and counts per channel, in order for a single producer);
//  - the result (each goroutine folds its work and its joined children's
//    results in program order; detached children add into a commutative sum)
//    equals the sequential interpreter's: every program here is
//    deterministic by construction;
//  - the census holds once everything finished: num_goroutine() returns to 1
//    (created = finished + live, main being the one live goroutine);
//  - the invariant auditor stays silent (in GORO_CHECK_INVARIANTS builds a
//    violation ends the process, which fails the test);
//  - nothing hangs: a watchdog prints the program and exits after a
//    generous deadline (a lost wakeup or a deadlock in the runtime).
//
// Adding an operation: add an action kind, its generator weight in gen_node,
// its real behaviour in exec_node and its meaning in interpret. Actions whose
// outcome depends on the schedule (which select case runs, which consumer
// gets a value) contribute to the result only through commutative,
// schedule-free summaries (sums and counts), so the comparison stays exact.
//
// Replay: RapidCheck prints "Using configuration: seed=N" first and, on a
// failure, a reproduce string; RC_PARAMS="seed=N" regenerates the same cases
// in the same order and RC_PARAMS="reproduce=..." replays the shrunk one
// (the schedule itself is not replayable). A hang prints the program and the
// seed before exiting.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "goro/goro.hpp"
#include "prop_support.hpp"
#include "watchdog.hpp"

namespace {

using namespace std::chrono_literals;

// ---------------------------------------------------------------------------
// Programs.

struct node;
using node_ptr = std::shared_ptr<const node>;

struct action {
  enum kind_t {
    work,            // acc = mix(acc, arg)
    yield,           // goro::yield()
    spawn,           // go child; its result is folded in at the next join
    spawn_foreign,   // a new std::thread calls go(child); joined like spawn
    spawn_detached,  // go child; its result goes to the program-wide sum
    fan_out,         // go arg leaves; the sum of their results is folded in at join
    join,            // wait for the children spawned so far, fold their results
    gomaxprocs,      // goro::gomaxprocs(arg)
    pipe,            // a child sends arg values on a channel of capacity arg2 and
                     // closes it; we receive until closed, folding in order
    fan_in,          // arg2 producers send arg values each on one channel of
                     // capacity arg3; a closer closes it after them; 2 consumers
                     // sum what they receive: sum and count folded in
    select_merge,    // two producers send arg values each on channels of
                     // capacity 0 and arg2 and close them; we select over both
                     // until both are closed: sum and count folded in
    mutex_add,       // arg2 goroutines add 1 arg times each to a plain counter
                     // under one goro::mutex: the final count is folded in
    sleep,           // goro::sleep_for(arg microseconds)
    blocking,        // goro::blocking (arg2 = 1: blocking_long) around a thread
                     // sleep of arg microseconds
    // Issue 16's library surface:
    task_spawn,    // goro::spawn(child); its task is joined (join()) at the next join
    rw_add,        // arg2 writers add 1 to two counters arg times each under a
                   // rw_mutex's write lock while 2 readers check, under the
                   // shared lock, that the counters agree: the final count
    cond_relay,    // a producer hands arg values one at a time to a consumer
                   // through a slot guarded by a mutex and two conds: the sum
    once_race,     // arg2 goroutines call one once: f ran once, every call returned
    sem_limit,     // arg2 workers acquire weights 1..arg3 of a semaphore of
                   // arg3, arg times each; nobody sees more than arg3 held:
                   // the total weight acquired
    errgroup_sum,  // an errgroup (set_limit(arg2), 0: none) runs arg leaves;
                   // arg3 = 1: one of them throws, wait() rethrows: the sum
    ctx_cancel,    // arg goroutines wait in select on a context's done();
                   // arg2 = 0: cancelled, 1: a timeout of 300 us: how many
                   // saw it, and err()
    timers,        // a ticker delivers arg ticks and stops; a timer is stopped,
                   // reset and fires: the tick count and stop/reset's results
  } kind = work;
  std::uint32_t arg = 0;
  node_ptr child;  // spawn, spawn_foreign, spawn_detached
  std::uint32_t arg2 = 0;
  std::uint32_t arg3 = 0;
};

struct node {
  int id = 0;
  std::vector<action> body;
};

struct program {
  node_ptr root;
  int nodes = 0;   // ids are 0..nodes-1
  int leaves = 0;  // goroutines started by fan_out, counted separately
  std::string show() const;
};

void show_node(const node& n, std::ostream& os, int indent) {
  static const char* names[] = {
      "work",      "yield",        "spawn",      "spawn_foreign", "spawn_detached", "fan_out",
      "join",      "gomaxprocs",   "pipe",       "fan_in",        "select_merge",   "mutex_add",
      "sleep",     "blocking",     "task_spawn", "rw_add",        "cond_relay",     "once_race",
      "sem_limit", "errgroup_sum", "ctx_cancel", "timers"};
  os << std::string(indent, ' ') << "g" << n.id << ":\n";
  for (const action& a : n.body) {
    os << std::string(indent + 2, ' ') << names[a.kind];
    if (a.kind != action::yield && a.kind != action::join && !a.child) os << " " << a.arg;
    if (a.kind >= action::pipe && a.kind != action::sleep) os << " " << a.arg2;
    if (a.kind == action::fan_in || a.kind == action::sem_limit || a.kind == action::errgroup_sum)
      os << " " << a.arg3;
    os << "\n";
    if (a.child) show_node(*a.child, os, indent + 4);
  }
}

std::string program::show() const {
  std::ostringstream os;
  show_node(*root, os, 0);
  return os.str();
}

void showValue(const program& p, std::ostream& os) { os << "\n" << p.show(); }

// Generation. Called inside the property, so every choice is a RapidCheck
// draw and shrinks (fewer actions, smaller arguments, simpler kinds).
constexpr int max_depth = 4;
constexpr int max_nodes = 40;

node_ptr gen_node(int depth, int& next_id, int& leaves) {
  auto n = std::make_shared<node>();
  n->id = next_id++;
  const int len = *rc::gen::inRange(0, depth == 0 ? 16 : 8);
  for (int i = 0; i < len; i++) {
    action a;
    bool can_spawn = depth < max_depth && next_id < max_nodes;
    a.kind = *rc::gen::weightedElement<action::kind_t>({
        {4, action::work},
        {3, action::yield},
        {can_spawn ? 4 : 0, action::spawn},
        {can_spawn ? 1 : 0, action::spawn_foreign},
        {can_spawn ? 2 : 0, action::spawn_detached},
        {1, action::fan_out},
        {2, action::join},
        {1, action::gomaxprocs},
        {2, action::pipe},
        {1, action::fan_in},
        {1, action::select_merge},
        {1, action::mutex_add},
        {1, action::sleep},
        {1, action::blocking},
        {can_spawn ? 2 : 0, action::task_spawn},
        {1, action::rw_add},
        {1, action::cond_relay},
        {1, action::once_race},
        {1, action::sem_limit},
        {1, action::errgroup_sum},
        {1, action::ctx_cancel},
        {1, action::timers},
    });
    switch (a.kind) {
      case action::work: a.arg = *rc::gen::inRange<std::uint32_t>(0, 1000); break;
      case action::fan_out: a.arg = *rc::gen::inRange<std::uint32_t>(1, 300); break;
      case action::gomaxprocs: a.arg = *rc::gen::element<std::uint32_t>(1u, 2u, 3u, 8u); break;
      case action::spawn:
      case action::spawn_foreign:
      case action::spawn_detached:
      case action::task_spawn: a.child = gen_node(depth + 1, next_id, leaves); break;
      case action::rw_add:
        a.arg = *rc::gen::inRange<std::uint32_t>(1, 100);
        a.arg2 = *rc::gen::inRange<std::uint32_t>(1, 4);
        break;
      case action::cond_relay: a.arg = *rc::gen::inRange<std::uint32_t>(0, 50); break;
      case action::once_race: a.arg2 = *rc::gen::inRange<std::uint32_t>(1, 7); break;
      case action::sem_limit:
        a.arg = *rc::gen::inRange<std::uint32_t>(1, 30);
        a.arg2 = *rc::gen::inRange<std::uint32_t>(1, 5);
        a.arg3 = *rc::gen::inRange<std::uint32_t>(1, 4);
        break;
      case action::errgroup_sum:
        a.arg = *rc::gen::inRange<std::uint32_t>(0, 40);
        a.arg2 = *rc::gen::inRange<std::uint32_t>(0, 4);
        a.arg3 = *rc::gen::inRange<std::uint32_t>(0, 2);
        break;
      case action::ctx_cancel:
        a.arg = *rc::gen::inRange<std::uint32_t>(0, 40);
        a.arg2 = *rc::gen::inRange<std::uint32_t>(0, 2);
        break;
      case action::timers: a.arg = *rc::gen::inRange<std::uint32_t>(1, 4); break;
      case action::pipe:
        a.arg = *rc::gen::inRange<std::uint32_t>(0, 60);
        a.arg2 = *rc::gen::element<std::uint32_t>(0u, 1u, 4u);
        break;
      case action::fan_in:
        a.arg = *rc::gen::inRange<std::uint32_t>(0, 40);
        a.arg2 = *rc::gen::inRange<std::uint32_t>(1, 5);
        a.arg3 = *rc::gen::element<std::uint32_t>(0u, 1u, 8u);
        break;
      case action::select_merge:
        a.arg = *rc::gen::inRange<std::uint32_t>(0, 40);
        a.arg2 = *rc::gen::element<std::uint32_t>(0u, 2u);
        break;
      case action::mutex_add:
        a.arg = *rc::gen::inRange<std::uint32_t>(1, 200);
        a.arg2 = *rc::gen::inRange<std::uint32_t>(1, 6);
        break;
      case action::sleep: a.arg = *rc::gen::inRange<std::uint32_t>(0, 300); break;
      case action::blocking:
        a.arg = *rc::gen::inRange<std::uint32_t>(0, 300);
        a.arg2 = *rc::gen::inRange<std::uint32_t>(0, 2);
        break;
      default: break;
    }
    if (a.kind == action::fan_out) leaves += static_cast<int>(a.arg);
    n->body.push_back(std::move(a));
  }
  return n;
}

program gen_program() {
  program p;
  p.root = gen_node(0, p.nodes, p.leaves);
  return p;
}

// ---------------------------------------------------------------------------
// Semantics shared by both executions.

std::uint64_t mix(std::uint64_t acc, std::uint64_t v) {
  acc ^= v + 0x9E3779B97F4A7C15ull + (acc << 6) + (acc >> 2);
  return acc * 0xBF58476D1CE4E5B9ull;
}
std::uint64_t seed_of(int id) { return mix(0x1234, static_cast<std::uint64_t>(id)); }
std::uint64_t leaf_value(int parent, std::uint32_t i) {
  return mix(seed_of(parent), 0x1eaf0000ull + i);
}
// The j-th value producer `who` of action number `op` of node `id` sends.
std::uint64_t chan_value(int id, std::size_t op, std::uint32_t who, std::uint32_t j) {
  return mix(mix(seed_of(id), op * 131 + who), j) >> 16;  // sums cannot overflow
}

struct outcome {
  std::uint64_t root = 0;
  std::uint64_t detached_sum = 0;
  bool operator==(const outcome&) const = default;
};

// The sequential interpreter: the meaning of a program.
std::uint64_t interpret(const node& n, std::uint64_t& detached_sum) {
  std::uint64_t acc = seed_of(n.id);
  std::vector<std::uint64_t> pending;  // joined children's results, in spawn order
  auto fold = [&] {
    for (std::uint64_t r : pending) acc = mix(acc, r);
    pending.clear();
  };
  for (std::size_t op = 0; op < n.body.size(); op++) {
    const action& a = n.body[op];
    switch (a.kind) {
      case action::work: acc = mix(acc, a.arg); break;
      case action::pipe:
        for (std::uint32_t j = 0; j < a.arg; j++) acc = mix(acc, chan_value(n.id, op, 0, j));
        break;
      case action::fan_in:
      case action::select_merge: {
        std::uint32_t producers = a.kind == action::fan_in ? a.arg2 : 2;
        std::uint64_t sum = 0;
        for (std::uint32_t w = 0; w < producers; w++)
          for (std::uint32_t j = 0; j < a.arg; j++) sum += chan_value(n.id, op, w, j);
        acc = mix(mix(acc, sum), std::uint64_t(producers) * a.arg);
        break;
      }
      case action::mutex_add:
      case action::rw_add: acc = mix(acc, std::uint64_t(a.arg) * a.arg2); break;
      case action::sleep:
      case action::blocking: break;
      case action::spawn:
      case action::spawn_foreign:
      case action::task_spawn: pending.push_back(interpret(*a.child, detached_sum)); break;
      case action::cond_relay: {
        std::uint64_t sum = 0;
        for (std::uint32_t j = 0; j < a.arg; j++) sum += chan_value(n.id, op, 0, j);
        acc = mix(acc, sum);
        break;
      }
      case action::once_race: acc = mix(mix(acc, 1), a.arg2); break;
      case action::sem_limit: {
        std::uint64_t total = 0;
        for (std::uint32_t w = 0; w < a.arg2; w++) total += std::uint64_t(a.arg) * (w % a.arg3 + 1);
        acc = mix(acc, total);
        break;
      }
      case action::errgroup_sum: {
        std::uint64_t sum = 0;
        for (std::uint32_t i = 0; i < a.arg; i++) sum += leaf_value(n.id, i);
        acc = mix(mix(acc, sum), a.arg3 != 0 && a.arg > 0);
        break;
      }
      case action::ctx_cancel: acc = mix(mix(acc, a.arg), a.arg2 ? 2 : 1); break;
      case action::timers: acc = mix(mix(acc, a.arg), 0b1010); break;
      case action::spawn_detached: detached_sum += interpret(*a.child, detached_sum); break;
      case action::fan_out: {
        std::uint64_t sum = 0;
        for (std::uint32_t i = 0; i < a.arg; i++) sum += leaf_value(n.id, i);
        pending.push_back(sum);
        break;
      }
      case action::join: fold(); break;
      case action::yield:
      case action::gomaxprocs: break;
    }
  }
  fold();
  return acc;
}

// The real execution.
struct exec_env {
  std::vector<std::atomic<int>> runs;  // per node id: times its body started
  std::atomic<int> leaf_runs{0};
  std::atomic<std::uint64_t> detached_sum{0};
  goro::wait_group detached;  // every detached goroutine, waited for by main
  explicit exec_env(int nodes) : runs(static_cast<std::size_t>(nodes)) {}
};

// The issue-16 actions that need more than a few lines.

std::uint64_t exec_rw_add(const action& a) {
  goro::rw_mutex mu;
  std::uint64_t x = 0, y = 0;  // plain: the rw_mutex is the only guard
  std::atomic<bool> writers_done{false};
  std::atomic<int> torn{0};
  goro::wait_group writers, readers;
  writers.add(a.arg2);
  for (std::uint32_t w = 0; w < a.arg2; w++)
    goro::go([&, times = a.arg] {
      for (std::uint32_t j = 0; j < times; j++) {
        std::lock_guard lk(mu);
        x++;
        if (j % 8 == 0) goro::yield();  // a reader arriving now must wait
        y++;
      }
      writers.done();
    });
  readers.add(2);
  for (int r = 0; r < 2; r++)
    goro::go([&] {
      for (;;) {
        {
          std::shared_lock lk(mu);
          if (x != y) torn.fetch_add(1, std::memory_order_relaxed);
        }
        if (writers_done.load(std::memory_order_acquire)) break;
        goro::yield();
      }
      readers.done();
    });
  writers.wait();
  writers_done.store(true, std::memory_order_release);
  readers.wait();
  std::shared_lock lk(mu);
  return torn.load() ? 0xbadc0de : x;
}

std::uint64_t exec_cond_relay(const action& a, int id, std::size_t op) {
  goro::mutex mu;
  goro::cond filled(mu), emptied(mu);
  std::optional<std::uint64_t> slot;  // guarded by mu
  goro::wait_group done;
  done.add(1);
  goro::go([&, count = a.arg] {
    for (std::uint32_t j = 0; j < count; j++) {
      std::unique_lock lk(mu);
      while (slot) emptied.wait();
      slot = chan_value(id, op, 0, j);
      filled.signal();
    }
    done.done();
  });
  std::uint64_t sum = 0;
  for (std::uint32_t j = 0; j < a.arg; j++) {
    std::unique_lock lk(mu);
    while (!slot) filled.wait();
    sum += *slot;
    slot.reset();
    emptied.broadcast();
  }
  done.wait();
  return sum;
}

std::uint64_t exec_sem_limit(const action& a) {
  const std::int64_t cap = a.arg3;
  goro::semaphore sem(cap);
  std::atomic<std::int64_t> held{0}, total{0};
  std::atomic<bool> over{false};
  goro::wait_group wg;
  wg.add(a.arg2);
  for (std::uint32_t w = 0; w < a.arg2; w++)
    goro::go([&, weight = static_cast<std::int64_t>(w % a.arg3) + 1, times = a.arg] {
      for (std::uint32_t j = 0; j < times; j++) {
        sem.acquire(weight);
        if (held.fetch_add(weight, std::memory_order_relaxed) + weight > cap)
          over.store(true, std::memory_order_relaxed);
        total.fetch_add(weight, std::memory_order_relaxed);
        if (j % 4 == 0) goro::yield();
        held.fetch_sub(weight, std::memory_order_relaxed);
        sem.release(weight);
      }
      wg.done();
    });
  wg.wait();
  return over.load() ? 0xbadc0de : static_cast<std::uint64_t>(total.load());
}

// Returns acc with the outcome folded in, as interpret does.
std::uint64_t exec_ctx_cancel(const action& a, std::uint64_t acc) {
  auto [parent, cancel_parent] = goro::with_cancel(goro::background());
  auto [ctx, cancel] = a.arg2 ? goro::with_timeout(parent, std::chrono::microseconds(300))
                              : goro::with_cancel(parent);
  std::atomic<std::uint64_t> saw{0};
  goro::wait_group wg;
  wg.add(a.arg);
  for (std::uint32_t i = 0; i < a.arg; i++)
    goro::go([&, ctx = ctx] {
      goro::chan<int> never;
      goro::select(goro::on_recv(ctx.done(),
                                 [&](std::optional<std::monostate>) {
                                   saw.fetch_add(1, std::memory_order_relaxed);
                                 }),
                   goro::on_recv(never, [](std::optional<int>) {}));
      wg.done();
    });
  if (!a.arg2) cancel();
  wg.wait();
  if (a.arg == 0) ctx.done().recv();  // nobody waited: wait for it ourselves
  std::uint64_t code = static_cast<std::uint64_t>(ctx.err().value());
  bool parent_live = !parent.err();  // a child's end never reaches its parent
  cancel();
  cancel_parent();
  return parent_live ? mix(mix(acc, saw.load()), code) : 0xbadc0de;
}

// Returns acc with the outcome folded in, as interpret does.
std::uint64_t exec_timers(const action& a, std::uint64_t acc) {
  goro::ticker tk = goro::new_ticker(std::chrono::microseconds(200));
  std::uint32_t ticks = 0;
  for (; ticks < a.arg; ticks++) tk.c().recv();
  tk.stop();
  goro::timer t = goro::new_timer(std::chrono::hours(1));
  std::uint32_t flags = 0;
  flags |= t.stop() ? 0b1000 : 0;                                 // it was pending
  flags |= t.reset(std::chrono::microseconds(100)) ? 0b0100 : 0;  // it was stopped
  t.c().recv();                                                   // it fires
  flags |= t.stop() ? 0b0001 : 0b0010;                            // it had fired
  return mix(mix(acc, ticks), flags);
}

std::uint64_t exec_node(const node& n, exec_env& env) {
  env.runs[static_cast<std::size_t>(n.id)].fetch_add(1, std::memory_order_relaxed);
  std::uint64_t acc = seed_of(n.id);
  // One slot per joined child, written by the child before wg.done(); the
  // wait_group's release/acquire makes the slot visible after wait().
  std::size_t nslots = 0;
  for (const action& a : n.body)
    if (a.kind == action::spawn || a.kind == action::spawn_foreign || a.kind == action::fan_out ||
        a.kind == action::task_spawn)
      nslots++;
  std::vector<std::uint64_t> slots(nslots, 0);
  // task_spawn's children, joined in slot order by fold (join() parks until
  // the child returns and hands over its value: no wait_group involved).
  std::vector<goro::task<std::uint64_t>> tasks(nslots);
  std::vector<std::atomic<std::uint64_t>> fan_sums(nslots);
  std::size_t first_pending = 0, next_slot = 0;
  goro::wait_group wg;
  auto fold = [&] {
    wg.wait();
    for (; first_pending < next_slot; first_pending++) {
      if (tasks[first_pending].joinable()) slots[first_pending] = tasks[first_pending].join();
      acc = mix(acc, slots[first_pending] + fan_sums[first_pending].load());
    }
  };
  for (std::size_t op = 0; op < n.body.size(); op++) {
    const action& a = n.body[op];
    switch (a.kind) {
      case action::work: acc = mix(acc, a.arg); break;
      case action::yield: goro::yield(); break;
      case action::pipe: {
        goro::chan<std::uint64_t> ch(a.arg2);
        goro::go([ch, count = a.arg, id = n.id, op]() mutable {
          for (std::uint32_t j = 0; j < count; j++) ch.send(chan_value(id, op, 0, j));
          ch.close();
        });
        std::uint32_t got = 0;
        while (std::optional<std::uint64_t> v = ch.recv()) {
          acc = mix(acc, *v);
          got++;
        }
        if (got != a.arg) acc = mix(acc, 0xbadc0de);  // shows up as a result mismatch
        break;
      }
      case action::fan_in: {
        goro::chan<std::uint64_t> ch(a.arg3);
        goro::wait_group producers, consumers;
        std::atomic<std::uint64_t> sum{0}, count{0};
        producers.add(a.arg2);
        for (std::uint32_t w = 0; w < a.arg2; w++)
          goro::go([ch, &producers, count = a.arg, id = n.id, op, w]() mutable {
            for (std::uint32_t j = 0; j < count; j++) ch.send(chan_value(id, op, w, j));
            producers.done();
          });
        goro::go([ch, &producers]() mutable {
          producers.wait();
          ch.close();
        });
        consumers.add(2);
        for (int c = 0; c < 2; c++)
          goro::go([ch, &consumers, &sum, &count]() mutable {
            while (std::optional<std::uint64_t> v = ch.recv()) {
              sum.fetch_add(*v, std::memory_order_relaxed);
              count.fetch_add(1, std::memory_order_relaxed);
            }
            consumers.done();
          });
        consumers.wait();
        acc = mix(mix(acc, sum.load()), count.load());
        break;
      }
      case action::select_merge: {
        goro::chan<std::uint64_t> c0(0), c1(a.arg2);
        for (std::uint32_t w = 0; w < 2; w++)
          goro::go([ch = w == 0 ? c0 : c1, count = a.arg, id = n.id, op, w]() mutable {
            for (std::uint32_t j = 0; j < count; j++) ch.send(chan_value(id, op, w, j));
            ch.close();
          });
        std::uint64_t sum = 0, count = 0;
        bool open0 = true, open1 = true;
        // c0 and c1 are moved from below to make them nil channels (a
        // moved-from chan is one, goro/chan.hpp), then selected on again.
        // NOLINTBEGIN(bugprone-use-after-move)
        while (open0 || open1) {
          goro::select(goro::on_recv(c0,
                                     [&](std::optional<std::uint64_t> v) {
                                       if (v) sum += *v, count++;
                                       else open0 = false;
                                     }),
                       goro::on_recv(c1, [&](std::optional<std::uint64_t> v) {
                         if (v) sum += *v, count++;
                         else open1 = false;
                       }));
          // A closed channel is always ready: make it nil (moved-from) so
          // the select waits for the other one, as Go code sets it to nil.
          if (!open0) {
            goro::chan<std::uint64_t> gone = std::move(c0);
          }
          if (!open1) {
            goro::chan<std::uint64_t> gone = std::move(c1);
          }
        }
        // NOLINTEND(bugprone-use-after-move)
        acc = mix(mix(acc, sum), count);
        break;
      }
      case action::mutex_add: {
        goro::mutex mu;
        std::uint64_t counter = 0;  // plain: the mutex is the only guard
        goro::wait_group wg2;
        wg2.add(a.arg2);
        for (std::uint32_t w = 0; w < a.arg2; w++)
          goro::go([&mu, &counter, &wg2, times = a.arg] {
            for (std::uint32_t j = 0; j < times; j++) {
              std::lock_guard lk(mu);
              counter++;
              if (j % 16 == 0) goro::yield();  // hold the lock across a switch
            }
            wg2.done();
          });
        wg2.wait();
        acc = mix(acc, counter);
        break;
      }
      case action::sleep: goro::sleep_for(std::chrono::microseconds(a.arg)); break;
      case action::blocking: {
        auto call = [us = a.arg] { std::this_thread::sleep_for(std::chrono::microseconds(us)); };
        if (a.arg2) goro::blocking_long(call);
        else goro::blocking(call);
        break;
      }
      case action::spawn: {
        std::uint64_t* slot = &slots[next_slot++];
        wg.add(1);
        goro::go([&env, &wg, slot, child = a.child.get()] {
          *slot = exec_node(*child, env);
          wg.done();
        });
        break;
      }
      case action::spawn_foreign: {
        std::uint64_t* slot = &slots[next_slot++];
        wg.add(1);
        // The thread only injects the goroutine and exits, so joining it
        // blocks this M only for the length of one go() call.
        std::atomic<bool> injected{false};
        std::thread t([&env, &wg, &injected, slot, child = a.child.get()] {
          goro::go([&env, &wg, slot, child] {
            *slot = exec_node(*child, env);
            wg.done();
          });
          injected.store(true, std::memory_order_release);
        });
        // The simulation: a kernel join at once would block the baton
        // holder while the thread, outside the simulation, may wait in
        // go() for a lock that a participant waiting for the baton holds
        // (a stuck run, seen at GORO_SIM_SEED=300161). Yield (a scheduling
        // point) until go() has returned; the join then waits only for the
        // thread's exit.
        if constexpr (goro::detail::sim)
          while (!injected.load(std::memory_order_acquire)) goro::yield();
        t.join();
        break;
      }
      case action::spawn_detached:
        env.detached.add(1);
        goro::go([&env, child = a.child.get()] {
          env.detached_sum.fetch_add(exec_node(*child, env), std::memory_order_relaxed);
          env.detached.done();
        });
        break;
      case action::fan_out: {
        std::atomic<std::uint64_t>* sum = &fan_sums[next_slot++];
        wg.add(a.arg);
        for (std::uint32_t i = 0; i < a.arg; i++)
          goro::go([&env, &wg, sum, id = n.id, i] {
            env.leaf_runs.fetch_add(1, std::memory_order_relaxed);
            sum->fetch_add(leaf_value(id, i), std::memory_order_relaxed);
            if (i % 7 == 0) goro::yield();
            wg.done();
          });
        break;
      }
      case action::join: fold(); break;
      case action::gomaxprocs: goro::gomaxprocs(a.arg); break;
      case action::task_spawn: {
        std::size_t slot = next_slot++;
        tasks[slot] = goro::spawn([&env, child = a.child.get()] { return exec_node(*child, env); });
        break;
      }
      case action::rw_add: acc = mix(acc, exec_rw_add(a)); break;
      case action::cond_relay: acc = mix(acc, exec_cond_relay(a, n.id, op)); break;
      case action::once_race: {
        goro::once once;
        std::atomic<int> ran{0}, returned{0};
        goro::wait_group wg2;
        wg2.add(a.arg2);
        for (std::uint32_t w = 0; w < a.arg2; w++)
          goro::go([&] {
            once.call([&] {
              goro::yield();  // the others pile up behind the running f
              ran.fetch_add(1, std::memory_order_relaxed);
            });
            returned.fetch_add(1, std::memory_order_relaxed);
            wg2.done();
          });
        wg2.wait();
        acc = mix(mix(acc, std::uint64_t(ran.load())), std::uint64_t(returned.load()));
        break;
      }
      case action::sem_limit: acc = mix(acc, exec_sem_limit(a)); break;
      case action::errgroup_sum: {
        goro::errgroup eg;
        if (a.arg2) eg.set_limit(static_cast<int>(a.arg2));
        std::atomic<std::uint64_t> sum{0};
        for (std::uint32_t i = 0; i < a.arg; i++)
          eg.go([&sum, id = n.id, i, fail = a.arg3 != 0 && i == a.arg / 2] {
            sum.fetch_add(leaf_value(id, i), std::memory_order_relaxed);
            if (i % 5 == 0) goro::yield();
            if (fail) throw std::runtime_error("errgroup_sum: the planted failure");
          });
        bool threw = false;
        try {
          eg.wait();
        } catch (const std::runtime_error&) {
          threw = true;
        }
        // wait() cancels ctx() whether or not a task failed (x/sync's Wait).
        if (!eg.ctx().err()) threw = !threw;  // shows up as a result mismatch
        acc = mix(mix(acc, sum.load()), threw);
        break;
      }
      case action::ctx_cancel: acc = exec_ctx_cancel(a, acc); break;
      case action::timers: acc = exec_timers(a, acc); break;
    }
  }
  fold();
  return acc;
}

std::chrono::seconds hang_limit() { return goro_test::under_sanitizer ? 300s : 60s; }

struct run_report {
  outcome got;
  std::vector<int> bad_runs;  // node ids whose body did not run exactly once
  int leaf_runs = 0;
  std::size_t goroutines_left = 0;
};

run_report run_program(const program& p, unsigned procs, bool guard) {
  exec_env env(p.nodes);
  run_report rep;
  goro::options o = goro_test::procs(procs, guard);
  // A hang prints the program and the seed that regenerates it.
  const std::string seed = std::to_string(rc::detail::configuration().testParams.seed);
  goro_test::watchdog wd(hang_limit(), "runtime_props: RapidCheck seed=" + seed +
                                           " (replay the same cases: RC_PARAMS=\"seed=" + seed +
                                           "\"); the program, at procs " + std::to_string(procs) +
                                           ":\n" + p.show());
  goro::run(
      [&] {
        rep.got.root = exec_node(*p.root, env);
        env.detached.wait();
        // done() comes just before a goroutine exits: give the last ones
        // time to finish, then the census must balance.
        auto deadline = std::chrono::steady_clock::now() + 20s;
        while (goro::num_goroutine() != 1 && std::chrono::steady_clock::now() < deadline)
          goro::yield();
        rep.goroutines_left = goro::num_goroutine();
      },
      o);
  rep.got.detached_sum = env.detached_sum.load();
  for (int i = 0; i < p.nodes; i++)
    if (env.runs[static_cast<std::size_t>(i)].load() != 1) rep.bad_runs.push_back(i);
  rep.leaf_runs = env.leaf_runs.load();
  return rep;
}

GORO_PROP(RuntimeProps, RandomProgramsMatchSequentialInterpreter, 300, ()) {
  const program p = *rc::gen::exec(&gen_program).as("program");
  const bool guard = *rc::gen::arbitrary<bool>().as("stack_guard");
  outcome want;
  want.root = interpret(*p.root, want.detached_sum);
  for (unsigned procs : {1u, 2u, 8u}) {
    run_report r = run_program(p, procs, guard);
    const std::string at = " at procs " + std::to_string(procs);
    if (!r.bad_runs.empty()) {
      std::string ids;
      for (int id : r.bad_runs) ids += " g" + std::to_string(id);
      GORO_PROP_FAIL("goroutines that did not run exactly once" + at + ":" + ids);
    }
    if (r.leaf_runs != p.leaves)
      GORO_PROP_FAIL("fan-out leaves" + at + ": " + std::to_string(r.leaf_runs) + " ran, want " +
                     std::to_string(p.leaves));
    if (!(r.got == want)) GORO_PROP_FAIL("result differs from the sequential interpreter" + at);
    if (r.goroutines_left != 1)
      GORO_PROP_FAIL("census" + at + ": num_goroutine() = " + std::to_string(r.goroutines_left) +
                     " after every goroutine finished, want 1 (main)");
  }
  RC_CLASSIFY(p.nodes > 10, "over 10 goroutine nodes");
  RC_CLASSIFY(p.show().find("select_merge") != std::string::npos, "select");
  RC_CLASSIFY(p.show().find("blocking") != std::string::npos, "blocking call");
  RC_CLASSIFY(p.leaves > 100, "over 100 fan-out leaves");
  const std::string shown = p.show();
  RC_CLASSIFY(shown.find("task_spawn") != std::string::npos ||
                  shown.find("errgroup_sum") != std::string::npos,
              "task or errgroup");
  RC_CLASSIFY(shown.find("rw_add") != std::string::npos ||
                  shown.find("cond_relay") != std::string::npos ||
                  shown.find("once_race") != std::string::npos ||
                  shown.find("sem_limit") != std::string::npos,
              "rw_mutex, cond, once or semaphore");
  RC_CLASSIFY(
      shown.find("ctx_cancel") != std::string::npos || shown.find("timers") != std::string::npos,
      "context or timers");
}

// The interpreter and the generator agree with a hand-built program, so a
// broken interpreter cannot make the property vacuous.
TEST(RuntimeProps, HandBuiltProgramRunsAndMatches) {
  auto leaf = std::make_shared<node>();
  leaf->id = 1;
  leaf->body = {{action::work, 7, nullptr}, {action::yield, 0, nullptr}};
  auto det = std::make_shared<node>();
  det->id = 2;
  det->body = {{action::fan_out, 50, nullptr}, {action::work, 3, nullptr}};
  auto root = std::make_shared<node>();
  root->id = 0;
  root->body = {{action::spawn, 0, leaf},
                {action::gomaxprocs, 3, nullptr},
                {action::spawn_detached, 0, det},
                {action::join, 0, nullptr},
                {action::work, 5, nullptr},
                {action::fan_out, 20, nullptr},
                {action::pipe, 30, nullptr, 0},
                {action::pipe, 30, nullptr, 4},
                {action::fan_in, 25, nullptr, 3, 1},
                {action::select_merge, 20, nullptr, 2},
                {action::mutex_add, 100, nullptr, 4},
                {action::sleep, 100, nullptr},
                {action::blocking, 200, nullptr, 0},
                {action::blocking, 200, nullptr, 1}};
  auto tasked = std::make_shared<node>();
  tasked->id = 3;
  tasked->body = {{action::work, 11, nullptr}, {action::sleep, 50, nullptr}};
  root->body.insert(root->body.end(), {{action::task_spawn, 0, tasked},
                                       {action::rw_add, 40, nullptr, 3},
                                       {action::cond_relay, 30, nullptr},
                                       {action::once_race, 0, nullptr, 5},
                                       {action::sem_limit, 10, nullptr, 4, 3},
                                       {action::errgroup_sum, 30, nullptr, 2, 1},
                                       {action::errgroup_sum, 20, nullptr, 0, 0},
                                       {action::ctx_cancel, 20, nullptr, 0},
                                       {action::ctx_cancel, 10, nullptr, 1},
                                       {action::timers, 2, nullptr},
                                       {action::join, 0, nullptr}});
  program p{root, 4, 70};
  outcome want;
  want.root = interpret(*p.root, want.detached_sum);
  EXPECT_NE(want.detached_sum, 0u);
  for (unsigned procs : {1u, 2u, 8u}) {
    run_report r = run_program(p, procs, true);
    EXPECT_TRUE(r.bad_runs.empty()) << "procs " << procs;
    EXPECT_EQ(r.leaf_runs, 70) << "procs " << procs;
    EXPECT_TRUE(r.got == want) << "procs " << procs;
    EXPECT_EQ(r.goroutines_left, 1u) << "procs " << procs;
  }
}

}  // namespace
