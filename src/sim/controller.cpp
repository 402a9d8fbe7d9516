// The simulation's baton controller: see sim/controller.hpp and
// spec/simulation.md. set_options and env_seed exist in every build (they
// touch nothing); the rest only with GORO_SIM.
#include "sim/controller.hpp"

#include <cstdlib>
#include <cstring>

namespace goro::detail::simulator {

bool env_seed(std::uint64_t& seed) noexcept {
  const char* s = std::getenv("GORO_SIM_SEED");
  if (!s || !*s) return false;
  seed = std::strtoull(s, nullptr, 0);
  return true;
}

bool env_seed_base(std::uint64_t& base) noexcept {
  const char* s = std::getenv("GORO_SIM_SEED_BASE");
  if (!s || !*s) return false;
  base = std::strtoull(s, nullptr, 0);
  return true;
}

}  // namespace goro::detail::simulator

#ifdef GORO_SIM
#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <random>

#include "sched/chaos.hpp"

namespace goro::detail::simulator {

namespace {

std::uint64_t splitmix64(std::uint64_t& s) noexcept {
  std::uint64_t x = (s += 0x9E3779B97F4A7C15ull);
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Virtual time at the start of every session (so that two sessions of one
// seed read the same clock), and its step per decision: a thread that
// polls the clock without waiting (a spin until a deadline) still sees
// time pass, and sysmon's 20 us tick comes every 80 decisions.
constexpr std::int64_t time_base = 1'000'000'000'000;  // 1000 s
constexpr std::int64_t time_step = 250;
// PCT: a thread chosen this many times in a row drops to the lowest
// priority, so that a spin-wait on a lower-priority thread cannot starve it
// for ever (PCT assumes every thread terminates
// without help; the runtime's spin-waits are bounded but a yield loop is not).
constexpr std::uint64_t pct_starve = 5000;

enum class state : std::uint8_t { ready, running, waiting, joining, done };

struct slot {
  std::condition_variable cv;
  state st = state::ready;
  // waiting: the futex word and value, a wake received, the deadline.
  const std::atomic<std::uint32_t>* addr = nullptr;
  std::uint32_t val = 0;
  bool woken = false;
  bool timed_out = false;
  std::int64_t deadline = 0;
  std::thread::id native{};
  std::thread::id join_target{};  // joining
  std::int64_t prio = 0;          // PCT (change points and starvation drops go below 1)
};

struct controller {
  std::mutex mu;
  bool active = false;
  options opts;
  bool opts_set = false;
  session_stats stats;
  session_stats last;
  std::vector<event> log, last_log;
  std::vector<std::unique_ptr<slot>> slots;
  std::uint32_t current = 0;
  std::uint32_t live = 0;  // slots not done
  std::uint64_t rng = 0;
  // PCT
  std::vector<std::uint64_t> change_points;  // sorted step numbers
  std::size_t next_change = 0;
  std::uint32_t last_chosen = UINT32_MAX;
  std::uint64_t run_length = 0;
  std::int64_t low_prio = 0;  // the next priority given at a drop (decreasing, may go negative)
  std::vector<std::uint32_t> cand;  // pick's scratch
};

controller& ctl() {
  // Never destroyed: threads of a session may still pass through points
  // while static destructors run.
  static auto* c = new controller;
  return *c;
}

std::atomic<bool> session_on{false};
std::atomic<std::int64_t> vnow{time_base};
std::atomic<std::uint64_t> seed_now{0};
// A thread that does not take part reached a point or a futex operation in
// this session (see pick).
std::atomic<bool> outsiders{false};

// The calling thread's slot in the running session (UINT32_MAX: none) and
// the session it belongs to.
thread_local std::uint32_t my_id = UINT32_MAX;
thread_local std::uint64_t my_session = 0;
std::uint64_t session_no = 0;
// Sessions that took their seed from GORO_SIM_SEED_BASE (begin_session).
std::uint64_t base_sessions = 0;

void hash_event(controller& c, const event& e) {
  std::uint64_t h = c.stats.hash ? c.stats.hash : 14695981039346656037ull;
  std::uint64_t words[2] = {std::uint64_t{e.thread} << 32 | e.next,
                            std::uint64_t(e.s) << 32 | e.where};
  for (std::uint64_t w : words)
    for (int i = 0; i < 8; i++) h = (h ^ ((w >> (8 * i)) & 0xff)) * 1099511628211ull;
  c.stats.hash = h;
}

bool runnable(controller& c, slot& s) {
  switch (s.st) {
    case state::ready:
    case state::running: return true;
    case state::waiting:
      // relaxed: every other participant is stopped at a point, so the
      // word holds what the last runner stored (the controller's mutex,
      // taken by that runner at its point, orders it before this read).
      if (s.woken || (s.addr && s.addr->load(std::memory_order_relaxed) != s.val)) return true;
      if (s.deadline != 0 && vnow.load(std::memory_order_relaxed) >= s.deadline) {
        s.timed_out = true;
        return true;
      }
      return false;
    case state::joining:
      for (auto& o : c.slots)
        if (o->native == s.join_target && o->st != state::done) return false;
      return true;
    case state::done: return false;
  }
  return false;
}

[[noreturn]] void sim_deadlock(controller& c) {
  std::fprintf(stderr,
               "goro sim: every thread waits and none has a deadline (a deadlock) after %" PRIu64
               " decisions; replay with GORO_SIM_SEED=%" PRIu64 "\n",
               c.stats.decisions, c.stats.seed);
  for (std::size_t i = 0; i < c.slots.size(); i++) {
    slot& s = *c.slots[i];
    std::fprintf(stderr, "  thread %zu: state %d addr %p val %u deadline %" PRId64 "\n", i,
                 int(s.st), static_cast<const void*>(s.addr), s.val, s.deadline);
  }
  std::abort();
}

std::uint32_t pick(controller& c, std::unique_lock<std::mutex>& lk) {
  std::vector<std::uint32_t>& cand = c.cand;
  for (int outside_waits = 0;; outside_waits++) {
    cand.clear();
    for (std::uint32_t i = 0; i < c.slots.size(); i++)
      if (runnable(c, *c.slots[i])) cand.push_back(i);
    if (!cand.empty()) break;
    // Everyone waits. A thread outside the simulation (a foreign thread
    // calling into the runtime) may be about to wake one of them, in real
    // time: give it a moment before virtual time jumps ahead of it. Such a
    // run is not deterministic anyway; a run without outsiders never sleeps.
    if (outsiders.load(std::memory_order_relaxed) && outside_waits < 20) {
      lk.unlock();
      std::this_thread::sleep_for(std::chrono::microseconds(100));
      lk.lock();
      continue;
    }
    // Jump to the earliest deadline.
    std::int64_t earliest = 0;
    for (auto& s : c.slots)
      if (s->st == state::waiting && s->deadline != 0 && (earliest == 0 || s->deadline < earliest))
        earliest = s->deadline;
    if (earliest == 0) sim_deadlock(c);
    if (earliest > vnow.load(std::memory_order_relaxed))
      vnow.store(earliest, std::memory_order_relaxed);
  }
  if (c.opts.strat == strategy::random) return cand[splitmix64(c.rng) % cand.size()];
  std::uint32_t chosen = cand[0];
  for (std::uint32_t k : cand)
    if (c.slots[k]->prio > c.slots[chosen]->prio) chosen = k;
  return chosen;
}

// The running thread (me) has recorded its state; hand the baton on and
// wait until it comes back (unless me is done).
void hand_off(controller& c, std::unique_lock<std::mutex>& lk, std::uint32_t me, site s,
              std::uint32_t where) {
  // PCT change points: at step k_i the thread that ran drops below every
  // initial priority (d-1 such points).
  if (c.opts.strat == strategy::pct) {
    while (c.next_change < c.change_points.size() &&
           c.change_points[c.next_change] <= c.stats.decisions) {
      c.slots[me]->prio = c.low_prio--;
      c.next_change++;
    }
  }
  std::uint32_t next = pick(c, lk);
  if (c.opts.strat == strategy::pct) {
    c.run_length = next == c.last_chosen ? c.run_length + 1 : 0;
    c.last_chosen = next;
    if (c.run_length >= pct_starve) {
      c.slots[next]->prio = c.low_prio--;
      c.run_length = 0;
      next = pick(c, lk);
      c.last_chosen = next;
    }
  }
  if (c.stats.decisions >= c.opts.max_decisions ||
      vnow.load(std::memory_order_relaxed) - time_base > c.opts.max_virtual_ns) {
    std::fprintf(stderr,
                 "goro sim: no end after %" PRIu64 " decisions and %.3f s of virtual time (a "
                 "lost wakeup or a livelock?); replay with GORO_SIM_SEED=%" PRIu64 "\n",
                 c.stats.decisions, (vnow.load(std::memory_order_relaxed) - time_base) / 1e9,
                 c.stats.seed);
    std::abort();
  }
  event e{me, s, where, next};
  hash_event(c, e);
  c.log.push_back(e);
  c.stats.decisions++;
  vnow.fetch_add(time_step, std::memory_order_relaxed);
  c.current = next;
  slot& n = *c.slots[next];
  n.st = state::running;
  if (next != me) {
    n.cv.notify_one();
    if (c.slots[me]->st == state::done) return;
    slot& mine = *c.slots[me];
    mine.cv.wait(lk, [&] { return !c.active || c.current == me; });
  }
}

// A participant at a point must hold the baton: one that runs without it
// would make the run depend on the OS again (a simulator bug, not the
// runtime's), so it stops the run.
void check_baton(controller& c) {
  if (c.current == my_id) return;
  std::fprintf(stderr,
               "goro sim: thread %u reached a scheduling point without the baton (held by %u)\n",
               my_id, c.current);
  std::abort();
}

bool participating(controller& c) {
  if (my_id == UINT32_MAX || my_session != session_no || !c.active) return false;
  check_baton(c);
  return true;
}

std::uint64_t env_u64(const char* name, std::uint64_t dflt) {
  const char* s = std::getenv(name);
  return s && *s ? std::strtoull(s, nullptr, 0) : dflt;
}

}  // namespace

void set_options(const options& o) noexcept {
  controller& c = ctl();
  std::lock_guard lk(c.mu);
  c.opts = o;
  c.opts_set = true;
}

void begin_session() noexcept {
  controller& c = ctl();
  std::lock_guard lk(c.mu);
  options o = c.opts;
  // GORO_SIM_SEED_BASE=B: the k-th unconfigured session of the process
  // (k = 0, 1, ...) gets seed B + k, so one run of a test binary covers many
  // seeds (ctest label sim, spec/simulation.md, "Many seeds in one run"),
  // and its failure prints the one seed that replays the failing session
  // alone under GORO_SIM_SEED. Not printed per session: thousands run.
  bool from_base = false;
  if (!c.opts_set) {
    std::uint64_t base = 0;
    if (env_seed_base(base)) {
      o.seed = base + base_sessions++;
      from_base = true;
    } else {
      // A fresh seed, printed: a run nobody configured can still be replayed.
      std::random_device rd;
      o.seed = (std::uint64_t{rd()} << 32) | rd();
    }
  }
  std::uint64_t s;
  if (env_seed(s)) o.seed = s;
  if (const char* st = std::getenv("GORO_SIM_STRATEGY"); st && *st) {
    if (std::strcmp(st, "pct") == 0) o.strat = strategy::pct;
    else if (std::strcmp(st, "random") == 0) o.strat = strategy::random;
    else {
      std::fprintf(stderr, "goro sim: GORO_SIM_STRATEGY=%s: must be random or pct\n", st);
      std::abort();
    }
  }
  o.pct_depth = static_cast<unsigned>(env_u64("GORO_SIM_PCT_DEPTH", o.pct_depth));
  if (o.pct_depth < 1) o.pct_depth = 1;
  o.pct_steps = env_u64("GORO_SIM_PCT_STEPS", o.pct_steps);
  o.max_decisions = env_u64("GORO_SIM_MAX_DECISIONS", o.max_decisions);
  if ((!c.opts_set && !from_base) || std::getenv("GORO_SIM_VERBOSE"))
    std::fprintf(stderr, "goro sim: GORO_SIM_SEED=%" PRIu64 " strategy %s\n", o.seed,
                 o.strat == strategy::pct ? "pct" : "random");
  c.opts = o;
  c.stats = session_stats{};
  c.stats.seed = o.seed;
  c.stats.strat = o.strat;
  c.log.clear();
  c.slots.clear();
  c.rng = o.seed;
  c.change_points.clear();
  c.next_change = 0;
  c.last_chosen = UINT32_MAX;
  c.run_length = 0;
  // Initial priorities are above d; the change points give d-1 .. 1, and
  // starvation drops continue below.
  c.low_prio = static_cast<std::int64_t>(o.pct_depth) - 1;
  if (o.strat == strategy::pct) {
    for (unsigned i = 1; i < o.pct_depth; i++)
      c.change_points.push_back(splitmix64(c.rng) % (o.pct_steps ? o.pct_steps : 1) + 1);
    std::sort(c.change_points.begin(), c.change_points.end());
  }
  vnow.store(time_base, std::memory_order_relaxed);
  seed_now.store(o.seed, std::memory_order_relaxed);
  session_no++;
  c.slots.push_back(std::make_unique<slot>());
  c.slots[0]->st = state::running;
  c.slots[0]->native = std::this_thread::get_id();
  c.slots[0]->prio = static_cast<std::int64_t>(o.pct_depth + (splitmix64(c.rng) >> 8));
  c.current = 0;
  c.live = 1;
  c.active = true;
  my_id = 0;
  my_session = session_no;
  outsiders.store(false, std::memory_order_relaxed);
  session_on.store(true, std::memory_order_relaxed);
}

void end_session() noexcept {
  controller& c = ctl();
  std::unique_lock lk(c.mu);
  if (!participating(c)) return;
  // Every other participant must be gone first, or it would run on freely
  // (and nondeterministically) while the next session starts.
  slot& me = *c.slots[my_id];
  for (;;) {
    slot* other = nullptr;
    for (std::uint32_t i = 0; i < c.slots.size(); i++)
      if (i != my_id && c.slots[i]->st != state::done) {
        other = c.slots[i].get();
        break;
      }
    if (!other) break;
    me.st = state::joining;
    me.join_target = other->native;
    hand_off(c, lk, my_id, site::join, 0);
  }
  c.stats.threads = static_cast<std::uint32_t>(c.slots.size());
  c.stats.virtual_ns = vnow.load(std::memory_order_relaxed) - time_base;
  if (c.opts.strat == strategy::pct) {
    double k = static_cast<double>(c.stats.decisions ? c.stats.decisions : 1);
    double bound = 1.0 / c.stats.threads;
    for (unsigned i = 1; i < c.opts.pct_depth; i++) bound /= k;
    c.stats.pct_bound = bound;
    if (std::getenv("GORO_SIM_VERBOSE"))
      std::fprintf(stderr,
                   "goro sim: PCT depth %u, %u threads, %" PRIu64
                   " steps: a bug of depth %u is found with probability >= 1/(n*k^(d-1)) = %.3g\n",
                   c.opts.pct_depth, c.stats.threads, c.stats.decisions, c.opts.pct_depth, bound);
  }
  c.active = false;
  c.last = c.stats;
  c.last_log.swap(c.log);
  c.log.clear();
  session_on.store(false, std::memory_order_relaxed);
  my_id = UINT32_MAX;
}

bool in_session() noexcept { return session_on.load(std::memory_order_relaxed); }

std::uint64_t current_seed() noexcept { return seed_now.load(std::memory_order_relaxed); }

session_stats last_stats() {
  controller& c = ctl();
  std::lock_guard lk(c.mu);
  return c.last;
}

std::vector<event> last_log() {
  controller& c = ctl();
  std::lock_guard lk(c.mu);
  return c.last_log;
}

void point(site s, std::uint32_t where) noexcept {
  if (!participant()) return;
  controller& c = ctl();
  std::unique_lock lk(c.mu);
  if (!participating(c)) return;
  c.slots[my_id]->st = state::ready;
  hand_off(c, lk, my_id, s, where);
}

bool participant() noexcept {
  if (!session_on.load(std::memory_order_relaxed)) return false;
  if (my_id != UINT32_MAX) return true;
  outsiders.store(true, std::memory_order_relaxed);
  return false;
}

void chaos_point(const char* file, int line) noexcept {
  if (participant()) point(site::chaos, chaos_site_id(file, line));
}

void atomic_point(const char* file, unsigned line) noexcept {
  if (participant()) point(site::atomic, chaos_site_id(file, static_cast<int>(line)));
}

bool futex_wait(const std::atomic<std::uint32_t>* addr, std::uint32_t val,
                std::int64_t deadline) noexcept {
  controller& c = ctl();
  std::unique_lock lk(c.mu);
  if (!participating(c)) return false;
  slot& me = *c.slots[my_id];
  me.st = state::waiting;
  me.addr = addr;
  me.val = val;
  me.woken = false;
  me.timed_out = false;
  me.deadline = deadline;
  hand_off(c, lk, my_id, deadline ? site::timed_wait : site::futex_wait, 0);
  me.addr = nullptr;
  me.deadline = 0;
  return me.timed_out;
}

void futex_wake(const std::atomic<std::uint32_t>* addr, int n) noexcept {
  {
    controller& c = ctl();
    std::lock_guard lk(c.mu);
    if (!participating(c)) return;
    // In creation order, so that which waiter a wake-one picks is a
    // function of the schedule (the kernel's order is not ours to know).
    for (auto& s : c.slots) {
      if (n <= 0) break;
      if (s->st == state::waiting && s->addr == addr && !s->woken) {
        s->woken = true;
        n--;
      }
    }
  }
  point(site::futex_wake);
}

std::int64_t now() noexcept { return vnow.load(std::memory_order_relaxed); }

std::uint64_t fastrand_seed(std::int64_t id) noexcept {
  std::uint64_t s = seed_now.load(std::memory_order_relaxed) ^
                    static_cast<std::uint64_t>(id + 1) * 0xBF58476D1CE4E5B9ull;
  std::uint64_t r = splitmix64(s);
  return r ? r : 1;
}

std::uint32_t thread_created() noexcept {
  controller& c = ctl();
  std::lock_guard lk(c.mu);
  c.slots.push_back(std::make_unique<slot>());
  slot& s = *c.slots.back();
  s.st = state::ready;
  s.prio = static_cast<std::int64_t>(c.opts.pct_depth + (splitmix64(c.rng) >> 8));
  c.live++;
  return static_cast<std::uint32_t>(c.slots.size() - 1);
}

void thread_native(std::uint32_t id, std::thread::id tid) noexcept {
  controller& c = ctl();
  std::lock_guard lk(c.mu);
  c.slots[id]->native = tid;
}

void thread_begin(std::uint32_t id) noexcept {
  controller& c = ctl();
  std::unique_lock lk(c.mu);
  my_id = id;
  my_session = session_no;
  slot& me = *c.slots[id];
  me.cv.wait(lk, [&] { return !c.active || c.current == id; });
}

void thread_exit() noexcept {
  controller& c = ctl();
  std::unique_lock lk(c.mu);
  if (!participating(c)) return;
  std::uint32_t me = my_id;
  c.slots[me]->st = state::done;
  c.live--;
  my_id = UINT32_MAX;
  hand_off(c, lk, me, site::thread_exit, 0);
}

void wait_exit(std::thread::id tid) noexcept {
  controller& c = ctl();
  std::unique_lock lk(c.mu);
  if (!participating(c)) return;
  slot& me = *c.slots[my_id];
  me.st = state::joining;
  me.join_target = tid;
  hand_off(c, lk, my_id, site::join, 0);
}

}  // namespace goro::detail::simulator
#endif
