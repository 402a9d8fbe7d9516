// The atomics facade: one spelling for the lock-free code, compiled two ways.
//
//   production (default)   detail::atomic<T> is std::atomic<T>, var<T> is a
//                          plain T, fence() is std::atomic_thread_fence: the
//                          facade costs nothing and changes no instruction.
//   check build            with GORO_RELACY defined, they are Relacy's
//   (GORO_RELACY)          rl::atomic<T>, rl::var<T> and rl::atomic_thread_fence,
//                          so c11/ explores the same source's interleavings
//                          and stale reads under the C++ memory model and
//                          reports data races on var<T> (issue 13).
//
// The source is ordinary std::atomic code: load(order), store(v, order),
// exchange, compare_exchange_{weak,strong}(expected, desired, success,
// failure), fetch_add/sub/or/and, always with an explicit std::memory_order
// (the check build has no default order, so an order left implicit does not
// compile there: every order is written down and can be weakened). Relacy
// wants the call site on every access (its `($)` argument); the wrapper takes
// it from default arguments (__builtin_FILE/LINE/FUNCTION, which GCC and
// clang evaluate at the caller), so the shared source needs no macro at all.
//
// Plain shared data that is published through the atomics (a G's fields, a
// state word's payload) is a var<T>, read with load() and written with
// store(v): a plain T in production, a race-checked cell under Relacy.
//
// To put another algorithm under the checker (spinning, the mutex state
// word, wait_group, the netpoll latch): use detail::atomic / var / fence for
// its shared state, keep whatever it needs from the rest of the runtime
// (locks, parking, the clock) behind a template parameter or a small
// interface, and instantiate it in a c11/ scenario. See sched/local_runq.hpp
// and c11/runq_c11.cpp.
#pragma once
#include <atomic>

#ifdef GORO_RELACY
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <relacy/relacy.hpp>
// relacy.hpp ends with a macro layer for code written against it: it defines
// memory_order_relaxed etc. as "mo_relaxed, $" (which breaks
// std::memory_order_relaxed), and new, delete and malloc..free as its
// allocation hooks (which break "= delete"). The facade passes the orders and
// the call site itself, and checked code that allocates must say so with
// RL_NEW / RL_DELETE (the run queue allocates nothing), so those macros are
// undone here. assert (RL_ASSERT) and errno (Relacy's per-thread errno) keep
// Relacy's meaning: in a check build they are what a scenario wants.
#undef memory_order_relaxed
#undef memory_order_consume
#undef memory_order_acquire
#undef memory_order_release
#undef memory_order_acq_rel
#undef memory_order_seq_cst
#undef new
#undef delete
#undef malloc
#undef calloc
#undef realloc
#undef free
#endif

namespace goro::detail {

#ifndef GORO_RELACY

inline constexpr bool relacy_build = false;

#ifndef GORO_SIM
template <class T>
using atomic = std::atomic<T>;
// The public headers' state words, as the library's slow paths pass them to
// the state templates: the std::atomic itself (the sim build's view of it
// takes a point per operation; see there).
template <class T>
std::atomic<T>& sim_view(std::atomic<T>& a) noexcept {
  return a;
}
#endif
// The std::atomic behind what a state template was given (the address a
// futex wait names): itself, or in the sim build an atomic_view's word.
template <class T>
std::atomic<T>* raw_atomic(std::atomic<T>* p) noexcept {
  return p;
}
#ifdef GORO_SIM
// The simulation build (GORO_SIM, spec/simulation.md): every operation on a
// detail::atomic is a scheduling point of the controller, taken before the
// operation, so the simulation can interleave the lock-free protocols at
// each atomic step and not only at the chaos points. The operation itself is
// std::atomic's (the type derives from it: same layout, and a pointer to it
// is a pointer to the std::atomic that futex waits take), so the orders, the
// fences and the instructions are those of production; only the points are
// added, and they are the simulator, not the runtime's protocol. The site
// (file and line, from the caller through default arguments as the Relacy
// wrapper does) names the point in the event log; operators, which cannot
// take them, log site 0.
namespace simulator {
void atomic_point(const char* file, unsigned line) noexcept;
}  // namespace simulator

#define GORO_SIM_HERE_PARAMS \
  const char *sim_file = __builtin_FILE(), unsigned sim_line = __builtin_LINE()
#define GORO_SIM_POINT() ::goro::detail::simulator::atomic_point(sim_file, sim_line)

// The named operations, each a point before std::atomic's own, over
// whatever std::atomic<T> Derived::raw() names: detail::atomic (itself) and
// atomic_view (one it refers to).
template <class Derived, class T>
class sim_ops {
  static constexpr std::memory_order sc = std::memory_order_seq_cst;
  std::atomic<T>& a() const noexcept { return static_cast<const Derived*>(this)->raw(); }

 public:
  T load(std::memory_order mo = sc, GORO_SIM_HERE_PARAMS) const noexcept {
    GORO_SIM_POINT();
    return a().load(mo);
  }
  void store(T v, std::memory_order mo = sc, GORO_SIM_HERE_PARAMS) noexcept {
    GORO_SIM_POINT();
    a().store(v, mo);
  }
  T exchange(T v, std::memory_order mo = sc, GORO_SIM_HERE_PARAMS) noexcept {
    GORO_SIM_POINT();
    return a().exchange(v, mo);
  }
  bool compare_exchange_weak(T& e, T d, std::memory_order s, std::memory_order f,
                             GORO_SIM_HERE_PARAMS) noexcept {
    GORO_SIM_POINT();
    return a().compare_exchange_weak(e, d, s, f);
  }
  bool compare_exchange_weak(T& e, T d, std::memory_order mo = sc, GORO_SIM_HERE_PARAMS) noexcept {
    GORO_SIM_POINT();
    return a().compare_exchange_weak(e, d, mo);
  }
  bool compare_exchange_strong(T& e, T d, std::memory_order s, std::memory_order f,
                               GORO_SIM_HERE_PARAMS) noexcept {
    GORO_SIM_POINT();
    return a().compare_exchange_strong(e, d, s, f);
  }
  bool compare_exchange_strong(T& e, T d, std::memory_order mo = sc,
                               GORO_SIM_HERE_PARAMS) noexcept {
    GORO_SIM_POINT();
    return a().compare_exchange_strong(e, d, mo);
  }
  // Templates, so that the class instantiates for any T; std::atomic decides
  // which T has them (integers, and pointers for add and sub).
  template <class D>
  T fetch_add(D v, std::memory_order mo = sc, GORO_SIM_HERE_PARAMS) noexcept {
    GORO_SIM_POINT();
    return a().fetch_add(v, mo);
  }
  template <class D>
  T fetch_sub(D v, std::memory_order mo = sc, GORO_SIM_HERE_PARAMS) noexcept {
    GORO_SIM_POINT();
    return a().fetch_sub(v, mo);
  }
  template <class D>
  T fetch_or(D v, std::memory_order mo = sc, GORO_SIM_HERE_PARAMS) noexcept {
    GORO_SIM_POINT();
    return a().fetch_or(v, mo);
  }
  template <class D>
  T fetch_and(D v, std::memory_order mo = sc, GORO_SIM_HERE_PARAMS) noexcept {
    GORO_SIM_POINT();
    return a().fetch_and(v, mo);
  }
  template <class D>
  T fetch_xor(D v, std::memory_order mo = sc, GORO_SIM_HERE_PARAMS) noexcept {
    GORO_SIM_POINT();
    return a().fetch_xor(v, mo);
  }
};

template <class T>
class atomic : public std::atomic<T>, public sim_ops<atomic<T>, T> {
  using base = std::atomic<T>;
  using ops = sim_ops<atomic<T>, T>;
  static void op_point() noexcept { simulator::atomic_point("", 0); }

 public:
  using base::base;
  atomic() noexcept = default;
  std::atomic<T>& raw() const noexcept { return const_cast<atomic&>(*this); }

  using ops::compare_exchange_strong;
  using ops::compare_exchange_weak;
  using ops::exchange;
  using ops::fetch_add;
  using ops::fetch_and;
  using ops::fetch_or;
  using ops::fetch_sub;
  using ops::fetch_xor;
  using ops::load;
  using ops::store;

  // The implicit seq_cst spellings, each one point.
  operator T() const noexcept {
    op_point();
    return base::load();
  }
  T operator=(T v) noexcept {
    op_point();
    base::store(v);
    return v;
  }
  template <class D>
  T operator+=(D v) noexcept {
    op_point();
    return base::operator+=(v);
  }
  template <class D>
  T operator-=(D v) noexcept {
    op_point();
    return base::operator-=(v);
  }
  template <class D>
  T operator|=(D v) noexcept {
    op_point();
    return base::operator|=(v);
  }
  template <class D>
  T operator&=(D v) noexcept {
    op_point();
    return base::operator&=(v);
  }
  T operator++() noexcept {
    op_point();
    return base::operator++();
  }
  T operator++(int) noexcept {
    op_point();
    return base::operator++(0);
  }
  T operator--() noexcept {
    op_point();
    return base::operator--();
  }
  T operator--(int) noexcept {
    op_point();
    return base::operator--(0);
  }
};

// A point-taking view of a std::atomic the library does not own: the state
// words of the public headers' types (futex_lock, mutex, rw_mutex,
// wait_group), whose inline fast paths in users' code must be the same in
// every build, so they are std::atomic there. The library's slow paths pass
// sim_view(word) to the state templates (sync/*_state.hpp), which in the sim
// build makes each of their operations a point, and in every other build is
// the std::atomic itself (below), so production code is unchanged.
template <class T>
class atomic_view : public sim_ops<atomic_view<T>, T> {
 public:
  explicit atomic_view(std::atomic<T>& a) noexcept : a_(a) {}
  std::atomic<T>& raw() const noexcept { return a_; }

 private:
  std::atomic<T>& a_;
};

template <class T>
atomic_view<T> sim_view(std::atomic<T>& a) noexcept {
  return atomic_view<T>(a);
}
template <class T>
std::atomic<T>* raw_atomic(atomic_view<T>* v) noexcept {
  return &v->raw();
}
#undef GORO_SIM_HERE_PARAMS
#undef GORO_SIM_POINT
#endif  // GORO_SIM

// Shared plain data whose accesses are ordered by atomics elsewhere.
template <class T>
class var {
 public:
  var() = default;
  explicit var(T v) : v_(v) {}
  T load() const { return v_; }
  void store(T v) { v_ = v; }

 private:
  T v_{};
};

#ifndef GORO_SIM
inline void fence(std::memory_order mo) { std::atomic_thread_fence(mo); }
#else
inline void fence(std::memory_order mo, const char* file = __builtin_FILE(),
                  unsigned line = __builtin_LINE()) {
  simulator::atomic_point(file, line);
  std::atomic_thread_fence(mo);
}
#endif

#else  // GORO_RELACY

inline constexpr bool relacy_build = true;

// The caller's position, for Relacy's history (its `$`).
#define GORO_RL_HERE_PARAMS                                                           \
  const char *rl_func = __builtin_FUNCTION(), const char *rl_file = __builtin_FILE(), \
             unsigned rl_line = __builtin_LINE()
#define GORO_RL_HERE ::rl::debug_info(rl_func, rl_file, rl_line)

constexpr rl::memory_order rl_order(std::memory_order mo) {
  switch (mo) {
    case std::memory_order_relaxed: return rl::mo_relaxed;
    case std::memory_order_consume: return rl::mo_consume;
    case std::memory_order_acquire: return rl::mo_acquire;
    case std::memory_order_release: return rl::mo_release;
    case std::memory_order_acq_rel: return rl::mo_acq_rel;
    default: return rl::mo_seq_cst;
  }
}

// The weakening hook (ci/weaken.sh; spec/memory-model.md, "the weakening
// table"). Every operation passes its order through weaken(), with its call
// site and what kind of operation it is, so one check binary can run with any
// single operation weakened one step, chosen at run time:
//
//   GORO_WEAKEN=<file>:<line>:<part>:<order>   weaken the operation written at
//       <file> (a suffix of the path, e.g. src/sched/local_runq.hpp) and
//       <line>; <part> is 0 for its order (a CAS's success order), 1 for a
//       CAS's failure order; <order> is relaxed, acquire, release, acq_rel,
//       or "none" to remove a fence.
//   GORO_C11_SITES=<path>   append, at exit, every operation the run reached
//       (file, line, part, kind, order, function, scenario), one per line.
//
// A CAS whose success order is weakened keeps a failure order no stronger
// than the new success order (C++11's rule, which Relacy enforces). This is
// check-build only machinery: production has neither the hook nor its cost,
// and it weakens orders rather than adding any.
namespace weakening {

enum class kind { load, store, rmw, cas_failure, fence };

inline const char* kind_name(kind k) {
  switch (k) {
    case kind::load: return "load";
    case kind::store: return "store";
    case kind::rmw: return "rmw";
    case kind::cas_failure: return "cas_failure";
    default: return "fence";
  }
}

inline const char* order_name(std::memory_order mo) {
  switch (mo) {
    case std::memory_order_relaxed: return "relaxed";
    case std::memory_order_consume: return "consume";
    case std::memory_order_acquire: return "acquire";
    case std::memory_order_release: return "release";
    case std::memory_order_acq_rel: return "acq_rel";
    default: return "seq_cst";
  }
}

// The fence "order" that stands for a removed fence.
inline constexpr int removed = -1;

struct target {
  bool active = false;
  const char* file = "";  // a suffix of __builtin_FILE()
  unsigned line = 0;
  int part = 0;
  int order = 0;  // a std::memory_order, or `removed`
};

inline bool parse_order(const char* s, int& out) {
  static const struct {
    const char* name;
    int mo;
  } names[] = {{"relaxed", static_cast<int>(std::memory_order_relaxed)},
               {"acquire", static_cast<int>(std::memory_order_acquire)},
               {"release", static_cast<int>(std::memory_order_release)},
               {"acq_rel", static_cast<int>(std::memory_order_acq_rel)},
               {"seq_cst", static_cast<int>(std::memory_order_seq_cst)},
               {"none", removed}};
  for (const auto& n : names)
    if (std::strcmp(s, n.name) == 0) {
      out = n.mo;
      return true;
    }
  return false;
}

// GORO_WEAKEN, parsed once (before any scenario runs: the harness calls
// chosen() from main, outside Relacy's allocation tracking).
inline const target& chosen() {
  static const target t = [] {
    target r;
    const char* env = std::getenv("GORO_WEAKEN");
    if (!env || !*env) return r;
    static char buf[512];
    std::snprintf(buf, sizeof buf, "%s", env);
    char* f[4] = {};
    int n = 0;
    for (char *p = buf, *tok; n < 4 && (tok = std::strtok(n ? nullptr : p, ":")); n++) f[n] = tok;
    if (n != 4 || !parse_order(f[3], r.order)) {
      std::fprintf(stderr, "GORO_WEAKEN=%s: want <file>:<line>:<part>:<order>\n", env);
      std::exit(2);
    }
    r.file = f[0];
    r.line = static_cast<unsigned>(std::atoi(f[1]));
    r.part = std::atoi(f[2]);
    r.active = true;
    return r;
  }();
  return t;
}

inline bool ends_with(const char* s, const char* suffix) {
  std::size_t n = std::strlen(s), m = std::strlen(suffix);
  return m <= n && std::strcmp(s + n - m, suffix) == 0;
}

// The sites reached, in a fixed table: Relacy replaces operator new inside
// a test, so recording must not allocate.
struct site {
  const char* file;
  const char* func;
  const char* scenario;
  unsigned line;
  int part;
  kind k;
  std::memory_order mo;
};

struct site_log {
  static constexpr int capacity = 4096;
  site sites[capacity];
  int n = 0;
  bool on = false;
  const char* scenario = "";
  const char* path = nullptr;
};

inline site_log& sites() {
  static site_log log;
  return log;
}

inline void write_sites() {
  site_log& log = sites();
  if (FILE* out = std::fopen(log.path, "a")) {
    for (int i = 0; i < log.n; i++) {
      const site& s = log.sites[i];
      std::fprintf(out, "%s\t%u\t%d\t%s\t%s\t%s\t%s\n", s.file, s.line, s.part, kind_name(s.k),
                   order_name(s.mo), s.func, s.scenario);
    }
    std::fclose(out);
  }
}

// Called by c11/harness.hpp before each scenario.
inline void begin_scenario(const char* name) {
  site_log& log = sites();
  log.scenario = name;
  static bool init = [&] {
    const char* p = std::getenv("GORO_C11_SITES");
    if (p && *p) {
      log.path = p;
      log.on = true;
      std::atexit(write_sites);
    }
    return true;
  }();
  (void)init;
  (void)chosen();
}

inline void record(kind k, std::memory_order mo, int part, const char* func, const char* file,
                   unsigned line) {
  site_log& log = sites();
  for (int i = 0; i < log.n; i++) {
    const site& s = log.sites[i];
    if (s.line == line && s.part == part && s.file == file && s.scenario == log.scenario) return;
  }
  if (log.n < site_log::capacity)
    log.sites[log.n++] = {file, func, log.scenario, line, part, k, mo};
}

// The order an operation runs with: its own, unless GORO_WEAKEN names it.
inline int apply(kind k, std::memory_order mo, int part, const char* func, const char* file,
                 unsigned line) {
  if (sites().on) record(k, mo, part, func, file, line);
  const target& t = chosen();
  if (t.active && t.line == line && t.part == part && ends_with(file, t.file)) return t.order;
  return static_cast<int>(mo);
}

// A CAS's failure order may not be stronger than its success order.
inline std::memory_order clamp_failure(std::memory_order success, std::memory_order failure) {
  switch (success) {
    case std::memory_order_relaxed:
    case std::memory_order_release: return std::memory_order_relaxed;
    case std::memory_order_acquire:
    case std::memory_order_acq_rel:
      return failure == std::memory_order_seq_cst ? std::memory_order_acquire : failure;
    default: return failure;
  }
}

}  // namespace weakening

// The order an operation at the caller's site runs with (weakening above).
#define GORO_RL_ORDER(k, mo, part) \
  static_cast<std::memory_order>(  \
      weakening::apply(weakening::kind::k, mo, part, rl_func, rl_file, rl_line))

// std::atomic's interface over rl::atomic. Default-constructed it is
// uninitialised, as Relacy wants it: reading it before a store is reported.
template <class T>
class atomic {
 public:
  atomic() = default;
  atomic(T v) : a_(v) {}  // NOLINT: as std::atomic's converting constructor
  atomic(const atomic&) = delete;
  atomic& operator=(const atomic&) = delete;

  T load(std::memory_order mo, GORO_RL_HERE_PARAMS) const {
    return a_.load(rl_order(GORO_RL_ORDER(load, mo, 0)), GORO_RL_HERE);
  }
  void store(T v, std::memory_order mo, GORO_RL_HERE_PARAMS) {
    a_.store(v, rl_order(GORO_RL_ORDER(store, mo, 0)), GORO_RL_HERE);
  }
  T exchange(T v, std::memory_order mo, GORO_RL_HERE_PARAMS) {
    return a_.exchange(v, rl_order(GORO_RL_ORDER(rmw, mo, 0)), GORO_RL_HERE);
  }
  bool compare_exchange_strong(T& expected, T desired, std::memory_order success,
                               std::memory_order failure, GORO_RL_HERE_PARAMS) {
    rl::debug_info here = GORO_RL_HERE;
    std::memory_order s = GORO_RL_ORDER(rmw, success, 0);
    std::memory_order f = weakening::clamp_failure(s, GORO_RL_ORDER(cas_failure, failure, 1));
    return a_.compare_exchange_strong(expected, desired, rl_order(s), here, rl_order(f), here);
  }
  bool compare_exchange_weak(T& expected, T desired, std::memory_order success,
                             std::memory_order failure, GORO_RL_HERE_PARAMS) {
    rl::debug_info here = GORO_RL_HERE;
    std::memory_order s = GORO_RL_ORDER(rmw, success, 0);
    std::memory_order f = weakening::clamp_failure(s, GORO_RL_ORDER(cas_failure, failure, 1));
    return a_.compare_exchange_weak(expected, desired, rl_order(s), here, rl_order(f), here);
  }
  T fetch_add(T v, std::memory_order mo, GORO_RL_HERE_PARAMS) {
    return a_.fetch_add(v, rl_order(GORO_RL_ORDER(rmw, mo, 0)), GORO_RL_HERE);
  }
  T fetch_sub(T v, std::memory_order mo, GORO_RL_HERE_PARAMS) {
    return a_.fetch_sub(v, rl_order(GORO_RL_ORDER(rmw, mo, 0)), GORO_RL_HERE);
  }
  T fetch_or(T v, std::memory_order mo, GORO_RL_HERE_PARAMS) {
    return a_.fetch_or(v, rl_order(GORO_RL_ORDER(rmw, mo, 0)), GORO_RL_HERE);
  }
  T fetch_and(T v, std::memory_order mo, GORO_RL_HERE_PARAMS) {
    return a_.fetch_and(v, rl_order(GORO_RL_ORDER(rmw, mo, 0)), GORO_RL_HERE);
  }

 private:
  mutable rl::atomic<T> a_;
};

template <class T>
class var {
 public:
  var() = default;
  explicit var(T v) : v_(v) {}
  T load(GORO_RL_HERE_PARAMS) const { return v_(GORO_RL_HERE).load(); }
  void store(T v, GORO_RL_HERE_PARAMS) { v_(GORO_RL_HERE).store(v); }

 private:
  rl::var<T> v_;
};

// A fence weakened to "none" is removed.
inline void fence(std::memory_order mo, GORO_RL_HERE_PARAMS) {
  int w = weakening::apply(weakening::kind::fence, mo, 0, rl_func, rl_file, rl_line);
  if (w == weakening::removed) return;
  rl::atomic_thread_fence(rl_order(static_cast<std::memory_order>(w)), GORO_RL_HERE);
}

#undef GORO_RL_ORDER
#undef GORO_RL_HERE_PARAMS
#undef GORO_RL_HERE

#endif  // GORO_RELACY

}  // namespace goro::detail
