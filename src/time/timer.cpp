// Per-P timer heaps and sleeping (Go's runtime/time.go, reduced: sleep and
// after() timers are added once and fire once; socket deadline timers are
// modified in place and deleted, as Go's modtimer and deltimer do).
#include "time/timer.hpp"

#include <time.h>

#include <algorithm>
#include <stdexcept>
#include <thread>
#include <type_traits>

#include "base/build_config.hpp"
#include "goro/detail/saturate.hpp"
#include "goro/time.hpp"
#include "sched/proc.hpp"
#include "sim/controller.hpp"
#include "time/timer_sleep.hpp"

namespace goro::detail {

std::int64_t nanotime() noexcept {
  // sim: the virtual clock, for every thread while a session runs.
  if constexpr (sim) {
    if (simulator::in_session()) return simulator::now();
  }
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

namespace {

// A 4-ary heap (as Go's): shallower than a binary one, so a push or pop
// touches fewer cache lines, at the price of three more compares per level.
constexpr std::size_t heap_arity = 4;

// Each move keeps timer::idx equal to the slot (the callers hold the lock).
void sift_up(std::vector<timer*>& h, std::size_t i) {
  timer* t = h[i];
  while (i > 0) {
    std::size_t parent = (i - 1) / heap_arity;
    if (h[parent]->when <= t->when) break;
    h[i] = h[parent];
    h[i]->idx = i;
    i = parent;
  }
  h[i] = t;
  t->idx = i;
}

void sift_down(std::vector<timer*>& h, std::size_t i) {
  timer* t = h[i];
  std::size_t n = h.size();
  for (;;) {
    std::size_t first = i * heap_arity + 1;
    if (first >= n) break;
    std::size_t best = first;
    for (std::size_t c = first + 1; c < first + heap_arity && c < n; c++)
      if (h[c]->when < h[best]->when) best = c;
    if (h[best]->when >= t->when) break;
    h[i] = h[best];
    h[i]->idx = i;
    i = best;
  }
  h[i] = t;
  t->idx = i;
}

// Caller holds h.lock; t is h.heap[i]. Takes it out and restores the heap.
void remove_at(timer_heap& h, std::size_t i) GORO_REQUIRES(h.lock) {
  timer* t = h.heap[i];
  timer* last = h.heap.back();
  h.heap.pop_back();
  if (last != t) {
    h.heap[i] = last;
    last->idx = i;
    sift_up(h.heap, i);
    sift_down(h.heap, last->idx);
  }
  t->heap.store(nullptr, std::memory_order_release);
}

// The heap holding t, locked; null if none does. See timer::heap. Not
// analysed: it returns holding a lock the analysis cannot name before the
// call (whichever heap t is in); callers assert_held on the result.
timer_heap* lock_heap_of(timer* t) GORO_NO_THREAD_SAFETY_ANALYSIS {
  for (;;) {
    timer_heap* h = t->heap.load(std::memory_order_acquire);
    if (!h) return nullptr;
    h->lock.lock();
    if (t->heap.load(std::memory_order_relaxed) == h) return h;
    h->lock.unlock();  // moved (procresize) or popped meanwhile: look again
  }
}

// Caller holds h.lock. when0 mirrors the top for lock-free peeks (relaxed:
// every reader takes the lock before acting, see timer_heap).
void publish_when0(timer_heap& h) GORO_REQUIRES(h.lock) {
  h.when0.store(h.heap.empty() ? 0 : h.heap.front()->when, std::memory_order_relaxed);
  h.count.store(static_cast<std::int32_t>(h.heap.size()), std::memory_order_relaxed);
}

}  // namespace

void timer_push_locked(timer_heap& h, timer* t) {
  h.heap.push_back(t);
  t->heap.store(&h, std::memory_order_release);
  sift_up(h.heap, h.heap.size() - 1);
  publish_when0(h);
}

bool timer_del(timer* t) {
  timer_heap* h = lock_heap_of(t);
  if (!h) return false;
  h->lock.assert_held();
  remove_at(*h, t->idx);
  publish_when0(*h);
  h->lock.unlock();
  return true;
}

void timer_mod(timer* t, std::int64_t when, timer_heap& dest) {
  if (timer_heap* h = lock_heap_of(t)) {
    h->lock.assert_held();
    t->when = when;
    sift_up(h->heap, t->idx);
    sift_down(h->heap, t->idx);
    publish_when0(*h);
    h->lock.unlock();
    return;
  }
  dest.lock.lock();
  t->when = when;
  timer_push_locked(dest, t);
  dest.lock.unlock();
}

int run_timers(timer_heap& h, std::int64_t now) {
  int fired = 0;
  for (;;) {
    h.lock.lock();
    // MUTANT timer_early: a "slack" that fires timers up to 200 us before
    // they are due.
    const std::int64_t slack = mutant_on(mutant_id::timer_early) ? 200'000 : 0;
    if (h.heap.empty() || h.heap.front()->when > now + slack) {
      h.lock.unlock();
      return fired;
    }
    timer* t = h.heap.front();
    remove_at(h, 0);
    publish_when0(h);
    h.lock.unlock();
    // Unlocked: fire may ready a G, and the readied G may return and free
    // the timer at once, so t is not touched after this call.
    t->fire(t);
    fired++;
  }
}

std::int64_t earliest_timer(runtime& rt) {
  std::int64_t best = 0;
  std::uint32_t n = rt.gomaxprocs.load(std::memory_order_acquire);
  for (std::uint32_t i = 0; i < n; i++) {
    // acquire (allp, gomaxprocs): sysmon calls this, and a P created by
    // procresize must be seen constructed (start_the_world publishes both).
    std::int64_t w =
        rt.allp[i].load(std::memory_order_acquire)->timers.when0.load(std::memory_order_relaxed);
    if (w != 0 && (best == 0 || w < best)) best = w;
  }
  return best;
}

void wake_timer_sleeper(runtime& rt, std::int64_t when) {
  // The timer (when0) was published before this; time/timer_sleep.hpp has
  // the handshake, block_in_netpoll in findrunnable.cpp the other half.
  timer_sleep_wake(rt.sched.timer_sleep_until, when, [&] { netpoll_break(rt); });
}

namespace {

void fire_goready(timer* t) { goready(static_cast<g*>(t->arg)); }

struct sleep_commit {
  futex_lock* lock;
  runtime* rt;
  std::int64_t when;
};

// Runs after the sleeper's context is saved (gopark's unlock-after-commit):
// only now may a timer runner find the timer and ready the G.
void post_sleep(m*, g*, void* arg) {
  sleep_commit c = *static_cast<sleep_commit*>(arg);  // the G's frame may go at unlock
  c.lock->unlock_after_switch();                      // handed over by park_until
  wake_timer_sleeper(*c.rt, c.when);
}

}  // namespace

}  // namespace goro::detail

namespace goro {

using namespace detail;

namespace {

// Parks the calling goroutine on its P's timers until `when` (CLOCK_MONOTONIC
// ns, in the future). False, without parking, when the caller is not a
// goroutine holding a P (a foreign thread, or inside blocking()): the caller
// then sleeps the thread.
bool park_until(std::int64_t when) {
  nopreempt np;
  m* mp = getm();
  if (!(mp && mp->curg.load(std::memory_order_relaxed) && mp->p_)) return false;
  detail::timer tm;
  tm.when = when;
  tm.fire = fire_goready;
  tm.arg = mp->curg.load(std::memory_order_relaxed);
  p* pp = mp->p_;
  pp->timers.lock.lock();
  timer_push_locked(pp->timers, &tm);
  sleep_commit c{&pp->timers.lock, mp->rt, when};
  pp->timers.lock.release_before_switch();  // post_sleep frees it, on g0
  gopark(post_sleep, &c, wait_reason::sleep);
  return true;
}

// A thread (no P) sleeps in slices: std::this_thread::sleep_until /
// sleep_for add the time to their own clock reading and may overflow at
// the extremes, as ours did. A day per slice is far inside every range.
void sleep_thread_until(std::int64_t when) {
  for (;;) {
    std::int64_t left = when - nanotime();
    if (left <= 0) return;
    std::this_thread::sleep_for(
        std::chrono::nanoseconds(std::min<std::int64_t>(left, 86'400'000'000'000)));
  }
}

}  // namespace

void sleep_until(std::chrono::steady_clock::time_point t) {
  // steady_clock's duration is nanoseconds already: no conversion to
  // overflow (other durations come through the template, which saturates).
  std::int64_t when = t.time_since_epoch().count();
  if (when <= nanotime()) return;
  if (!park_until(when)) sleep_thread_until(when);
}

// One clock read, not two as through sleep_until: bench sleep_timers spent
// a sixth of its time reading the clock, a third of that here.
// steady_clock is CLOCK_MONOTONIC, nanotime's clock.
void sleep_for(std::chrono::nanoseconds d) {
  if (d <= std::chrono::nanoseconds::zero()) return;
  std::int64_t when = saturating_deadline(nanotime(), d.count());
  if (!park_until(when)) sleep_thread_until(when);
}

namespace {

using time_chan = chan<std::chrono::steady_clock::time_point>;

// after()'s timer and the channel it sends on, owned by the timer heap
// until it fires (or the runtime is torn down).
struct after_timer {
  detail::timer t;  // first: fire gets &t
  time_chan ch;
};

void fire_after(detail::timer* t) {
  // Runs on an M holding a P (findrunnable or a steal), so the send may
  // ready a receiver. Capacity 1 and a single send: it never blocks.
  auto* a = reinterpret_cast<after_timer*>(t);
  auto now = std::chrono::steady_clock::now();
  // The receiver may have closed the channel (Go's is receive-only, so
  // this cannot happen there): the value has nobody to go to. An exception
  // here would escape the scheduler, so a closed channel is ignored. A
  // full buffer (someone else sent) likewise drops this value.
  try {
    (void)a->ch.try_send(now);
  } catch (const closed_channel&) {
  }
  delete a;
}

void dispose_after(detail::timer* t) { delete reinterpret_cast<after_timer*>(t); }

}  // namespace

time_chan after(std::chrono::nanoseconds d) {
  time_chan ch(1);
  std::int64_t when = saturating_deadline(nanotime(), d.count());
  nopreempt np;
  m* mp = getm();
  runtime* rt = mp && mp->p_ ? mp->rt : acquire_active();  // released below if acquired
  if (!rt)
    throw std::logic_error("goro::after: no goro runtime is running (call it inside goro::run, "
                           "or from another thread while one runs)");
  // Our own P's heap; from a thread without a P, P0's (any P's heap may hold
  // any timer: every heap has its own lock and every P's timers get run).
  p* pp = mp && mp->p_ ? mp->p_ : rt->allp[0].load(std::memory_order_acquire);
  auto* a = new after_timer{{when, fire_after, nullptr, dispose_after}, ch};
  static_assert(std::is_standard_layout_v<after_timer>);  // &a->t == a
  pp->timers.lock.lock();
  timer_push_locked(pp->timers, &a->t);
  pp->timers.lock.unlock();
  wake_timer_sleeper(*rt, when);
  if (!(mp && mp->p_)) rt->release();
  return ch;
}

}  // namespace goro
