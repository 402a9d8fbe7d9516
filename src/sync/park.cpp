#include "sync/park.hpp"

#include "base/build_config.hpp"

#include "goro/blocking.hpp"
#include "sched/note.hpp"
#include "sched/proc.hpp"

namespace goro::detail {

void waiter_init(waiter& w) {
  nopreempt np;
  m* mp = getm();
  // A goroutine inside blocking() holds no P: it waits as a thread does.
  w.gp = mp && mp->p_ ? mp->curg.load(std::memory_order_relaxed) : nullptr;
  w.woken.store(0, std::memory_order_relaxed);
  w.next = nullptr;
}

void waitq_push(wait_list& q, waiter* w) {
  w->next = nullptr;
  if (q.tail) q.tail->next = w;
  else q.head = w;
  q.tail = w;
}

waiter* waitq_pop(wait_list& q) {
  waiter* w = q.head;
  if (w) {
    q.head = w->next;
    if (!q.head) q.tail = nullptr;
    w->next = nullptr;
  }
  return w;
}

bool waitq_remove(wait_list& q, waiter* w) noexcept {
  return waitq_remove_first_if(q, [w](waiter* x) { return x == w; }) != nullptr;
}

void waiter_on_abandon(waiter& w, abandon_fn fn, void* arg) noexcept {
  // Written by the G itself before it parks; read by teardown only after
  // every M has left the scheduler (run_main's drain), which orders it.
  if (g* gp = w.gp) {
    gp->abandon = fn;
    gp->abandon_arg = arg;
  }
}

namespace {
// The second half of the hand-off park_unlock began (futex_lock).
void post_unlock(m*, g*, void* lk) { static_cast<futex_lock*>(lk)->unlock_after_switch(); }
}  // namespace

// The shared core (park_core.hpp: park_waiter, ready_waiter) with the
// runtime's switch, locks and futex; c11/park_c11.cpp checks the same core.
// The analysis cannot follow lk into the lambdas (each is analysed alone):
// the release is declared on park_unlock (park.hpp), and each lambda is
// one of its two ways out.
void park_unlock(waiter& w, futex_lock& lk, wait_reason reason) GORO_NO_THREAD_SAFETY_ANALYSIS {
  park_waiter(
      w,
      [&]() GORO_NO_THREAD_SAFETY_ANALYSIS {
        lk.release_before_switch();  // handed to post_unlock, on g0
        gopark(post_unlock, &lk, reason);
      },
      [&]() GORO_NO_THREAD_SAFETY_ANALYSIS { lk.unlock(); },
      [](atomic<std::uint32_t>* word, std::uint32_t val) { futex_wait(word, val); });
}

namespace {
struct commit_call {
  void (*fn)(void*, unlock_step) noexcept;
  void* arg;
};
// Runs on the next context after the switch. The commit_call lives on the
// parked G's stack: copy it out first, because once fn has released the
// last lock the G may be readied and its frame reused.
void post_commit(m*, g*, void* p) {
  commit_call c = *static_cast<commit_call*>(p);
  c.fn(c.arg, unlock_step::after_switch);
}
}  // namespace

void park_commit(waiter& w, void (*unlockf)(void*, unlock_step) noexcept, void* arg,
                 wait_reason reason) {
  park_waiter(
      w,
      [&] {
        // The before_switch step only tells TSan (and the static analysis,
        // at compile time) that this context gives the locks up; it takes,
        // frees or orders nothing, so without TSan the indirect call is
        // skipped (on every select park it cost about 1% of after_select's
        // instructions).
        if constexpr (tsan) unlockf(arg, unlock_step::before_switch);
        commit_call c{unlockf, arg};
        gopark(post_commit, &c, reason);
      },
      [&] { unlockf(arg, unlock_step::now); },
      [](atomic<std::uint32_t>* word, std::uint32_t val) { futex_wait(word, val); });
}

void ready(waiter* w) {
  // A goroutine that took w off its list readies it before it can be
  // preempted (its caller's nopreempt spans both): preempted in between, it
  // would be runnable with w in its hands, and once the runtime stops it
  // never runs again, while teardown waits for w's goready (abandon_parked).
  GORO_INVARIANT(unpreemptible(),
                 "ReadyUnpreemptible: goroutine %llu readies a waiter while preemptible",
                 (unsigned long long)getg()->goid);
  ready_waiter(
      w, [](g* gp) { goready(gp); },
      [](atomic<std::uint32_t>* word, int n) { futex_wake(word, n); });
}

void honour_preempt() {
  // A hint, as in preempt_point(); preempt_slow reads the flag.
  if (preempt_pending.load() == 0) [[likely]]
    return;
  g* gp = getg();
  // relaxed: only this G's thread (and a signal on it) writes the count.
  if (gp && gp->preemptoff.load(std::memory_order_relaxed) == 0) preempt_slow();
}

void sema::acquire() {
  lk_.lock();
  if (!held_) {
    held_ = true;
    lk_.unlock();
    return;
  }
  waiter w;
  waiter_init(w);
  waitq_push(q_, &w);
  park_unlock(w, lk_, wait_reason::semacquire);
  // Ownership was handed to us by release(); held_ stayed true.
}

void sema::release() {
  lk_.lock();
  waiter* w = waitq_pop(q_);
  if (!w) held_ = false;
  lk_.unlock();
  if (w) ready(w);
}

}  // namespace goro::detail
