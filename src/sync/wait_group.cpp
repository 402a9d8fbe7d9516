#include "goro/wait_group.hpp"

#include <climits>
#include <stdexcept>
#include <string>

#include "sched/runtime.hpp"
#include "sync/park.hpp"
#include "sync/wait_group_state.hpp"

namespace goro {

// The protocol over counter_ (Go's WaitGroup state word: counter << 32 |
// waiters) is sync/wait_group_state.hpp's, which c11/wait_group_c11.cpp also
// checks under Relacy; this file gives it the runtime's lock, list, park and
// ready.
namespace {

// The runtime's side of wait_group_state.hpp's Env. The list is guarded by
// the lock, but the analysis cannot follow a lock taken and released through
// a template's calls to these members, so they are not analysed; the
// header's protocol states where the lock is held.
struct wg_env {
  using waiter = detail::waiter;
  using list = detail::wait_list;
  std::atomic<std::int64_t>* state;
  detail::futex_lock* lk;
  detail::wait_list* q;

  void lock() GORO_NO_THREAD_SAFETY_ANALYSIS { lk->lock(); }
  void unlock() GORO_NO_THREAD_SAFETY_ANALYSIS { lk->unlock(); }
  void init(waiter& w) { detail::waiter_init(w); }
  void push(waiter* w) { detail::waitq_push(*q, w); }
  bool remove(waiter* w) noexcept { return detail::waitq_remove(*q, w); }
  list take_all() {
    list l = *q;
    *q = {};
    return l;
  }
  static void ready_all(list& l) {
    while (detail::waiter* w = detail::waitq_pop(l)) detail::ready(w);
  }
  [[noreturn]] static void negative(std::int32_t v) {
    throw std::logic_error("goro::wait_group: negative counter (" + std::to_string(v) +
                           "): done() called more often than add() allowed");
  }
  void park_unlock(waiter& w) GORO_NO_THREAD_SAFETY_ANALYSIS {
    // Abandoned here (park.hpp, waiter_on_abandon): leave the list and the
    // registered count, as if we had never waited (wait_group_abandon).
    struct link {
      wg_env env;
      detail::waiter* w;
    } ln{*this, &w};
    detail::waiter_on_abandon(
        w,
        [](void* arg, bool readied) noexcept {
          if (readied) return true;  // the zero that woke it owes nothing back
          auto* l = static_cast<link*>(arg);
          auto&& state = detail::sim_view(*l->env.state);
          return detail::wait_group_abandon(state, l->env, l->w);
        },
        &ln);
    detail::park_unlock(w, *lk, detail::wait_reason::sync_wait_group_wait);
  }
};

}  // namespace

void wait_group::add(std::int64_t n) {
  detail::honour_preempt();  // before touching *this (park.hpp)
  if (n == 0) return;
  if (n > INT32_MAX || n < INT32_MIN)
    throw std::length_error("goro::wait_group::add(" + std::to_string(n) +
                            "): delta out of the 32-bit range");
  // The waiters taken off the list at zero are readied in the same
  // nopreempt region (park.hpp, ready): teardown waits for their goready.
  detail::nopreempt np;
  wg_env env{&counter_, &lock_, &waiters_};
  auto&& state = detail::sim_view(counter_);  // base/atomic.hpp: a point per operation in sim
  detail::wait_group_add(state, n, env);
}

void wait_group::wait() {
  detail::honour_preempt();  // park.hpp
  wg_env env{&counter_, &lock_, &waiters_};
  auto&& state = detail::sim_view(counter_);
  detail::wait_group_wait(state, env);
}

}  // namespace goro
