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

template <class T>
using atomic = std::atomic<T>;

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

inline void fence(std::memory_order mo) { std::atomic_thread_fence(mo); }

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
    return a_.load(rl_order(mo), GORO_RL_HERE);
  }
  void store(T v, std::memory_order mo, GORO_RL_HERE_PARAMS) {
    a_.store(v, rl_order(mo), GORO_RL_HERE);
  }
  T exchange(T v, std::memory_order mo, GORO_RL_HERE_PARAMS) {
    return a_.exchange(v, rl_order(mo), GORO_RL_HERE);
  }
  bool compare_exchange_strong(T& expected, T desired, std::memory_order success,
                               std::memory_order failure, GORO_RL_HERE_PARAMS) {
    rl::debug_info here = GORO_RL_HERE;
    return a_.compare_exchange_strong(expected, desired, rl_order(success), here, rl_order(failure),
                                      here);
  }
  bool compare_exchange_weak(T& expected, T desired, std::memory_order success,
                             std::memory_order failure, GORO_RL_HERE_PARAMS) {
    rl::debug_info here = GORO_RL_HERE;
    return a_.compare_exchange_weak(expected, desired, rl_order(success), here, rl_order(failure),
                                    here);
  }
  T fetch_add(T v, std::memory_order mo, GORO_RL_HERE_PARAMS) {
    return a_.fetch_add(v, rl_order(mo), GORO_RL_HERE);
  }
  T fetch_sub(T v, std::memory_order mo, GORO_RL_HERE_PARAMS) {
    return a_.fetch_sub(v, rl_order(mo), GORO_RL_HERE);
  }
  T fetch_or(T v, std::memory_order mo, GORO_RL_HERE_PARAMS) {
    return a_.fetch_or(v, rl_order(mo), GORO_RL_HERE);
  }
  T fetch_and(T v, std::memory_order mo, GORO_RL_HERE_PARAMS) {
    return a_.fetch_and(v, rl_order(mo), GORO_RL_HERE);
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

inline void fence(std::memory_order mo, GORO_RL_HERE_PARAMS) {
  rl::atomic_thread_fence(rl_order(mo), GORO_RL_HERE);
}

#undef GORO_RL_HERE_PARAMS
#undef GORO_RL_HERE

#endif  // GORO_RELACY

}  // namespace goro::detail
