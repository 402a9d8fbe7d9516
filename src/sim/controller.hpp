// Deterministic simulation (build option GORO_SIM; spec/simulation.md).
//
// The real runtime runs with its Ms, sysmon and the template thread as real
// OS threads, but a baton controller lets only one of them run at a time
// between scheduling points. At each point the running thread hands the
// baton to a thread the controller picks from a seeded PRNG (a random walk,
// or PCT). Kernel waits (futex waits, note sleeps, the netpoll M's
// epoll_wait, sysmon's sleep) are modelled here instead of entering the
// kernel, and time is virtual: nanotime() reads the controller's clock,
// which moves by a fixed step per decision and jumps to the earliest
// deadline when every thread waits. A run is then a function of its seed.
//
// The controller's own mutex and condition variables are the only
// synchronization that exists only in the sim build: they are the
// simulator, not part of the runtime's protocol.
//
// Who takes part: the thread that calls goro::run (thread 0 of the
// session) and every thread the runtime creates during the session
// (spawn_thread), numbered in creation order. Any other thread passes
// through the points unchanged.
//
// Called from: any thread; every function is a no-op outside a session
// or on a thread that does not take part. Locks: any runtime lock may be
// held (the controller's mutex is a leaf). May switch: no (the thread
// blocks until it gets the baton back).
#pragma once
#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "base/build_config.hpp"

namespace goro::detail::simulator {

// What a scheduling point is; part of the event log.
enum class site : std::uint8_t {
  chaos,          // a GORO_CHAOS_POINT / GORO_CHAOS_AT site (where = its id)
  atomic,         // a detail::atomic operation or fence (base/atomic.hpp; where = its site)
  lock_acquire,   // futex_lock::lock / try_lock, before the state CAS
  lock_release,   // futex_lock::unlock, after the state exchange
  futex_wait,     // a futex wait (lock slow path, note::sleep)
  futex_wake,     // a futex wake
  timed_wait,     // note::sleep_until
  poll_wait,      // the netpoll M's blocking epoll_wait
  yield,          // a spin-wait's yield (std::this_thread::yield in the runtime)
  syscall_enter,  // goro::blocking: before the user's call
  syscall_exit,   // goro::blocking: after it
  thread_create,  // spawn_thread, after the slot is made
  thread_start,   // a new thread's first point
  thread_exit,    // a thread gives the baton away for good
  join,           // waiting for a thread's exit
};

enum class strategy : std::uint8_t { random, pct };

// One entry of a forced schedule (spec/simulation.md, "Forced schedules"):
// run `thread` until it has done `steps` detail::atomic operations, then
// go on with the next entry. Only atomic operations count: at any other
// point (a chaos point, a lock, a futex call, thread creation or start) the
// running thread keeps the baton while it can run, and a thread picked
// there runs on to its next atomic operation without using up a step. So
// an entry says how many shared-memory steps the thread takes, which is
// what a TLA+ model's action is. After the last entry the seed's strategy
// decides again. A forced thread that cannot run (not created, waiting,
// joining, done) is a divergence: the run stops with the decision index.
struct forced_step {
  std::uint32_t thread;  // by creation order, as event::thread
  std::uint32_t steps;   // atomic operations it performs
  bool operator==(const forced_step&) const = default;
};

struct options {
  std::uint64_t seed = 1;
  strategy strat = strategy::random;
  unsigned pct_depth = 3;  // d: bugs of depth d get a bound
  // k: the change points are drawn from steps [1, k]. PCT wants the run's
  // length; a run longer than k gets no change point past step k.
  std::uint64_t pct_steps = 1000;
  // A run that makes no end (a lost wakeup: sysmon's ticks keep virtual
  // time moving) is stopped, printing its seed, past either bound.
  std::uint64_t max_decisions = 50'000'000;
  std::int64_t max_virtual_ns = 3600'000'000'000;  // one hour
  // Forced at the start of each session (empty: none). GORO_SIM_SCHEDULE=
  // <file> replaces it (format: parse_schedule).
  std::vector<forced_step> schedule;
};

// Parses a schedule: one entry per line, "<thread> <steps>"; '#' starts a
// comment; blank lines are skipped. False with a message (naming the line)
// on anything else.
bool parse_schedule(const std::string& text, std::vector<forced_step>& out, std::string& err);

// One scheduling decision: who was at which point, and who runs next.
struct event {
  std::uint32_t thread;  // by creation order in the session (0: run's thread)
  site s;
  std::uint32_t where;  // chaos site id, or 0
  std::uint32_t next;   // the thread the baton went to
  bool operator==(const event&) const = default;
};

// What a finished session did.
struct session_stats {
  std::uint64_t seed = 0;
  strategy strat = strategy::random;
  std::uint64_t decisions = 0;
  std::uint64_t hash = 0;  // FNV-1a over the event log
  std::uint32_t threads = 0;
  std::int64_t virtual_ns = 0;           // virtual time elapsed
  double pct_bound = 0;                  // PCT: 1/(n k^(d-1)) with this run's n and k
  std::uint64_t forced = 0;              // atomic steps the forced schedule decided
  bool schedule_done = false;            // every entry of a non-empty schedule was used up
  std::uint64_t schedule_decisions = 0;  // decisions taken before it was used up
  std::uint64_t pct_depth = 0;           // the options the session ran with (replay files)
  std::uint64_t pct_steps = 0;
  std::uint64_t max_decisions = 0;
  unsigned procs = 0;  // goro::run's procs (set_session_procs)
  // A replay (GORO_SIM_REPLAY, or expect_replay): whether the run matched
  // the file (same decision count, log hash and, when the file has it, the
  // same thread chosen at every decision), and if not, what differed.
  bool replay_checked = false;
  bool replay_ok = false;
  std::string replay_detail;
};

// A replay file (spec/simulation.md, "Replay files"): what a run needs to
// repeat it and what it must repeat. Text, one "key value" per line.
struct replay_spec {
  std::uint64_t seed = 0;
  strategy strat = strategy::random;
  std::uint64_t pct_depth = 3;
  std::uint64_t pct_steps = 1000;
  std::uint64_t max_decisions = 0;  // the no-end limit, when the run hit it (0: the default)
  unsigned procs = 0;
  std::uint64_t decisions = 0;  // the count at the failure (or at the session's end)
  std::uint64_t hash = 0;       // the log's FNV-1a hash then
  bool has_schedule = false;    // the file lists the thread chosen at each decision
  std::vector<std::uint32_t> schedule;
  std::string reason;  // why the run failed (informative)
};
// Writes a replay file for a session's stats and log into `dir` ("" :
// GORO_SIM_REPLAY_DIR, else the current directory); returns its path, or
// "" after printing why it could not.
std::string write_replay(const session_stats& st, const std::vector<event>& log,
                         const std::string& reason, const std::string& dir = "");
// Reads one; false with `err` naming the line and what is wrong.
bool read_replay(const std::string& path, replay_spec& out, std::string& err);
// The next session replays `r`: its seed, strategy and PCT parameters, and
// its end (or a failure report) compares the run with r.
void expect_replay(const replay_spec& r, const std::string& source);
// goro::run's procs for the session stats and replay files (run_main).
void set_session_procs(unsigned n) noexcept;
// fatal(): prints the replay line and writes the replay file (or, in a
// replay, says whether the failure was reproduced).
void report_fatal(const char* msg) noexcept;

// Options for the next sessions. GORO_SIM_SEED, GORO_SIM_STRATEGY
// (random|pct) and GORO_SIM_PCT_DEPTH override them when set, so that a
// printed seed replays the run whatever the program asked for.
void set_options(const options& o) noexcept;
// GORO_SIM_SEED if set (a replay): tests then run that seed alone.
bool env_seed(std::uint64_t& seed) noexcept;
// GORO_SIM_SEED_BASE if set: sessions the program did not configure
// (no set_options) take seeds base, base + 1, ... in the order they begin.
// GORO_SIM_SEED, when also set, wins (the replay of one of them).
bool env_seed_base(std::uint64_t& base) noexcept;

// Session bounds: run_main's thread, around the whole run. end_session
// waits (in the controller) until every other participant has exited.
void begin_session() noexcept;
void end_session() noexcept;
bool in_session() noexcept;
// In a session and taking part in it: the calling thread's kernel waits
// go through the controller (futex_wait, futex_wake) instead of the kernel.
bool participant() noexcept;
// The seed of the running (or last) session, printed by fatal().
std::uint64_t current_seed() noexcept;
// The last finished session's log and figures (tests).
session_stats last_stats();
std::vector<event> last_log();

// The decisions taken so far in the running session, and whether a forced
// schedule still decides them (a harness states where it saw a failure).
std::uint64_t decisions_now() noexcept;
bool forcing() noexcept;

// A scheduling point.
void point(site s, std::uint32_t where = 0) noexcept;
// A futex wait on *addr == val (returns at once if it differs), until a
// wake, a change of *addr, or the virtual `deadline` (0: none). May return
// spuriously, as the kernel's; callers loop. True if the deadline passed.
bool futex_wait(const std::atomic<std::uint32_t>* addr, std::uint32_t val,
                std::int64_t deadline) noexcept;
void futex_wake(const std::atomic<std::uint32_t>* addr, int n) noexcept;
// The virtual clock (nanoseconds, never 0).
std::int64_t now() noexcept;
// An M's fastrand state, from the session seed and the M id.
std::uint64_t fastrand_seed(std::int64_t id) noexcept;

// Thread creation and exit. The creator (holding the baton) makes the
// slot, so ids follow creation order; the new thread waits for the baton
// before running its body.
std::uint32_t thread_created() noexcept;
void thread_begin(std::uint32_t id) noexcept;
void thread_exit() noexcept;
void thread_native(std::uint32_t id, std::thread::id tid) noexcept;
// Waits (in the controller) until the participant `tid` has exited.
void wait_exit(std::thread::id tid) noexcept;

// std::thread(f, args...) whose thread takes part in the session.
template <class F, class... A>
std::thread spawn_thread(F f, A... a) {
  if (!in_session()) return std::thread(std::move(f), std::move(a)...);
  std::uint32_t id = thread_created();
  std::thread t([id, f = std::move(f), a...]() mutable {
    thread_begin(id);
    f(std::move(a)...);
    thread_exit();
  });
  thread_native(id, t.get_id());
  point(site::thread_create);
  return t;
}

// join() that first waits for the thread's exit in the controller: a
// kernel join while holding the baton would stop the whole simulation.
inline void join(std::thread& t) {
  if (!t.joinable()) return;
  if constexpr (::goro::detail::sim) wait_exit(t.get_id());
  t.join();
}

}  // namespace goro::detail::simulator
