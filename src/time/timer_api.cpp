// goro::timer, after_func and ticker (Go's time.Timer / AfterFunc / Ticker,
// runtime/time.go's channel timers with Go 1.23 semantics) on the per-P
// timer heaps of time/timer.hpp.
//
// A timer is a timer_state (shared by its handles) plus, while it is armed,
// one timer_node on some P's heap. The state's lock `mu` serializes every
// operation on the timer: arming, stopping, and the firing itself, which
// sends on the channel while holding it. So stop() and reset(), which empty
// the channel under `mu`, leave no value of an old expiry behind, and a
// firing that loses the race to them sends nothing (Go's sendLock and seq,
// reduced to one lock: our fire runs with no heap lock held, so it may take
// `mu`).
//
// Nodes. A node is pushed onto a heap once per arming and comes back
// exactly once: removed by timer_del (the node is ours again, kept as a
// spare), popped to fire (its fire runs), or handed to dispose when its
// runtime is torn down. The state's `armed` names the node of the current
// arming; a node whose fire or dispose finds it is not `armed` any more
// (stop or reset gave up on it because timer_del could not take it back:
// popped, or in the heap of a runtime we may not touch) frees itself. So a
// stale pop never fires and a node is never in two heaps. Each node out of
// our hands holds a reference on the state.
#include <cstdio>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "base/fatal.hpp"
#include "goro/goro.hpp"
#include "goro/timer.hpp"
#include "sched/proc.hpp"
#include "time/timer.hpp"

namespace goro::detail {

using time_chan = chan<std::chrono::steady_clock::time_point>;

struct timer_node {
  timer t;  // first: fire and dispose get &t
  timer_state* s;
};

static_assert(std::is_standard_layout_v<timer_node>);  // &n->t == n

struct timer_state {
  // Lock order (spec/memory-model.md §9): before timer_heap.lock (arming
  // and timer_del under it; fire takes mu with no heap lock held), before
  // hchan.lock (the send and the drain under it), and so before sched.lock
  // (a send or receive may ready a goroutine).
  futex_lock mu GORO_ACQUIRED_BEFORE(timer_heap::lock);
  // References: one for all the handles together, one per node out of our
  // hands, one per after_func goroutine started. relaxed increments (made
  // by a holder of a reference); acq_rel decrement, the last frees.
  detail::atomic<std::size_t> refs{1};
  // Handles (timer / ticker objects). relaxed increment (copying a handle);
  // acq_rel decrement: the last one decides whether to stop the timer.
  detail::atomic<std::size_t> handles{1};
  time_chan ch;                                     // nil for after_func
  const std::unique_ptr<timer_func> f;              // null for channel timers
  std::int64_t when GORO_GUARDED_BY(mu) = 0;        // pending deadline; 0: not pending
  std::int64_t period GORO_GUARDED_BY(mu) = 0;      // ticker: > 0
  timer_node* armed GORO_GUARDED_BY(mu) = nullptr;  // out of our hands for `when`
  std::uint64_t armed_gen GORO_GUARDED_BY(mu) = 0;  // the runtime whose heap took it
  timer_node* spare GORO_GUARDED_BY(mu) = nullptr;  // back from a heap, reusable

  timer_state(time_chan c, std::unique_ptr<timer_func> fn) : ch(std::move(c)), f(std::move(fn)) {}
  ~timer_state() { delete spare_unlocked(); }
  // The destructor runs with the last reference: nobody else can lock mu.
  timer_node* spare_unlocked() GORO_NO_THREAD_SAFETY_ANALYSIS { return spare; }
};

namespace {

void state_retain(timer_state* s) { s->refs.fetch_add(1, std::memory_order_relaxed); }
void state_release(timer_state* s) {
  // acq_rel: the last releaser sees every other holder's writes before freeing.
  if (s->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete s;
}

// A reference held by an after_func goroutine's closure (released also if
// the goroutine is abandoned at teardown and its closure destroyed unrun).
struct state_ref {
  timer_state* s;
  explicit state_ref(timer_state* p) : s(p) { state_retain(p); }
  state_ref(state_ref&& o) noexcept : s(std::exchange(o.s, nullptr)) {}
  state_ref(const state_ref&) = delete;
  ~state_ref() {
    if (s) state_release(s);
  }
};

// A nil channel (Go's nil C of an AfterFunc timer): a moved-from chan. Made
// once; copies of it are nil too (a copy of a null handle).
const time_chan& nil_chan() {
  static const time_chan nil = [] {
    time_chan a(0);
    time_chan b(std::move(a));
    return a;  // NOLINT(bugprone-use-after-move): moved-from is nil by contract
  }();
  return nil;
}

constexpr std::int64_t never = std::numeric_limits<std::int64_t>::max();

// Nobody can observe the timer any more: no handle, and no channel copy
// outside the state (a new one can only be made from a handle). acquire on
// both: pairs with the acq_rel decrements that dropped the others, so their
// holders are done with them.
bool unobservable(timer_state* s) {
  if (s->f) return false;  // Go keeps an unreferenced AfterFunc running
  if (s->handles.load(std::memory_order_acquire) != 0) return false;
  return chan_access::get(s->ch)->refs.load(std::memory_order_acquire) == 1;
}

// Empties the channel (Go's timerchandrain); true if a value was there.
bool drain(timer_state* s) GORO_REQUIRES(s->mu) {
  if (s->f) return false;
  // Empty already (the usual case): skip the channel's lock. Our sends are
  // made under mu, which we hold, so the count they wrote is visible here
  // (relaxed in size(): mu's lock orders it); a 0 read can only be our
  // value already received, never one still to come.
  if (s->ch.size() == 0) return false;
  bool any = false;
  while (s->ch.try_recv()) any = true;
  return any;
}

void keep_spare(timer_state* s, timer_node* n) GORO_REQUIRES(s->mu) {
  if (s->spare) delete n;
  else s->spare = n;
}

// Takes the current arming back (Go's deltimer, then t.when = 0); true if
// it was pending. `rt` (null: none) is a runtime the caller keeps alive;
// only its heaps may be touched. A node that cannot be taken back is left
// to its fire or dispose, which finds it no longer armed and frees it.
// An arming in the heap of a runtime that has ended (or is ending: it is no
// longer the one running) was not pending: that runtime's end stopped it,
// whether or not its last thread has run dispose yet (so stop() after run
// returns says false, as it would once dispose has run).
bool disarm(timer_state* s, runtime* rt) GORO_REQUIRES(s->mu) {
  s->when = 0;
  timer_node* n = std::exchange(s->armed, nullptr);
  if (!n) return false;
  if (!(rt && rt->gen == s->armed_gen)) return false;
  if (timer_del(&n->t)) {
    keep_spare(s, n);
    // Never the last reference: the caller holds a handle's (or a node's).
    s->refs.fetch_sub(1, std::memory_order_relaxed);
  }
  // Else popped: its fire, not yet past mu, will find it disarmed and
  // send nothing, so this call did stop it (Go's isSending case).
  return true;
}

void fire_node(timer* t);
void dispose_node(timer* t);

// A node for a new arming: the spare, or a new one. Before any state
// changes, so a bad_alloc leaves the timer as it was.
timer_node* take_node(timer_state* s) GORO_REQUIRES(s->mu) {
  if (timer_node* n = std::exchange(s->spare, nullptr)) return n;
  auto* n = new timer_node{};
  n->t.fire = fire_node;
  n->t.dispose = dispose_node;
  n->s = s;
  return n;
}

// Pushes n for `when` onto pp's heap (pp is rt's) as the current arming.
void arm(timer_state* s, timer_node* n, std::int64_t when, runtime& rt, p* pp)
    GORO_REQUIRES(s->mu) {
  s->when = when;
  s->armed = n;
  s->armed_gen = rt.gen;
  state_retain(s);  // the node's
  timer_mod(&n->t, when, pp->timers);
}

void go_func(timer_state* s) {
  try {
    go([ref = state_ref(s)] { ref.s->f->call(); });
  } catch (const std::exception& e) {
    // Only resource exhaustion (a goroutine's stack); Go would die too.
    fatal("goro::after_func: cannot start the goroutine for f: %s", e.what());
  }
}

// The heap popped n, due: deliver (Go's unlockAndRun and sendTime /
// goFunc). Runs on an M holding a P, with no timer lock held.
void fire_node(timer* t) {
  auto* n = reinterpret_cast<timer_node*>(t);
  timer_state* s = n->s;
  bool start_f = false;
  runtime* rearm_rt = nullptr;
  std::int64_t next = 0;
  s->mu.lock();
  if (s->armed != n) {
    // Stopped or reset after the pop (or before, from where the heap could
    // not be reached): this arming is over.
    s->mu.unlock();
    delete n;
    state_release(s);
    return;
  }
  s->armed = nullptr;
  std::int64_t when = s->when;
  if (unobservable(s)) {
    s->when = 0;  // collected: nobody can tell it from a stopped timer
  } else if (s->f) {
    s->when = 0;
    start_f = true;
  } else {
    try {
      // A full buffer (a ticker's tick not yet received) drops this one.
      (void)s->ch.try_send(std::chrono::steady_clock::time_point(std::chrono::nanoseconds(when)));
    } catch (const closed_channel&) {
      // The user closed c(): the value has nobody to go to.
    }
    if (s->period > 0) {
      // The next tick on the grid of the first, after now (a slow
      // receiver loses the ticks in between), saturating at never.
      std::int64_t now = nanotime();
      std::int64_t late = now - when;
      std::int64_t steps = 1 + late / s->period, step = 0;
      if (__builtin_mul_overflow(steps, s->period, &step) ||
          __builtin_add_overflow(when, step, &next))
        next = never;
      m* mp = getm();  // g0 of an M holding a P: run_timers' contract
      arm(s, n, next, *mp->rt, mp->p_);
      rearm_rt = mp->rt;
    } else {
      s->when = 0;
    }
  }
  if (!rearm_rt) keep_spare(s, n);
  s->mu.unlock();
  if (rearm_rt) {
    wake_timer_sleeper(*rearm_rt, next);
    state_release(s);  // this pop's; the new arming holds its own
    return;
  }
  if (start_f) go_func(s);
  state_release(s);
}

// n's runtime is being torn down with n still in its heap: the arming ends
// unfired (nothing runs any more to fire it).
void dispose_node(timer* t) {
  auto* n = reinterpret_cast<timer_node*>(t);
  timer_state* s = n->s;
  s->mu.lock();
  if (s->armed == n) {
    s->armed = nullptr;
    s->when = 0;
  }
  s->mu.unlock();
  delete n;
  state_release(s);
}

// The runtime to arm on and to delete from, for the duration of an
// operation: the caller's M's (alive while its goroutine runs there, which
// the nopreempt the caller holds keeps so), else the running one, retained.
struct current_runtime {
  nopreempt np;
  m* mp = getm();
  bool own = mp && mp->p_;
  runtime* rt = own ? mp->rt : acquire_active();
  // Our P, or from a thread without one P0 (any heap may hold any timer).
  p* pp() const { return own ? mp->p_ : rt->allp[0].load(std::memory_order_acquire); }
  ~current_runtime() {
    if (!own && rt) rt->release();
  }
};

[[noreturn]] void no_runtime(const char* what) {
  throw std::logic_error(std::string(what) +
                         ": no goro runtime is running (call it inside goro::run, or from "
                         "another thread while one runs)");
}

// Stop (Go's timer.stop): true if it was pending or an undelivered value
// was removed.
bool stop_state(timer_state* s) {
  current_runtime cr;
  s->mu.lock();
  bool pending = disarm(s, cr.rt);
  if (drain(s)) pending = true;
  s->mu.unlock();
  return pending;
}

// Reset (Go's timer.modify): stop, then arm for d from now with `period`.
bool reset_state(timer_state* s, std::chrono::nanoseconds d, std::int64_t period,
                 const char* what) {
  current_runtime cr;
  if (!cr.rt) no_runtime(what);
  std::int64_t when = saturating_deadline(nanotime(), d.count());
  s->mu.lock();
  timer_node* n;
  try {
    n = take_node(s);
  } catch (...) {
    s->mu.unlock();
    throw;
  }
  bool pending = disarm(s, cr.rt);
  if (drain(s)) pending = true;
  s->period = period;
  arm(s, n, when, *cr.rt, cr.pp());
  s->mu.unlock();
  wake_timer_sleeper(*cr.rt, when);
  return pending;
}

timer_state* make_state(std::chrono::nanoseconds d, std::int64_t period,
                        std::unique_ptr<timer_func> f, const char* what) {
  current_runtime cr;
  if (!cr.rt) no_runtime(what);
  std::int64_t when = saturating_deadline(nanotime(), d.count());
  auto* s = new timer_state(f ? nil_chan() : time_chan(1), std::move(f));
  s->mu.lock();
  timer_node* n;
  try {
    n = take_node(s);
  } catch (...) {
    s->mu.unlock();
    delete s;
    throw;
  }
  s->period = period;
  arm(s, n, when, *cr.rt, cr.pp());
  s->mu.unlock();
  wake_timer_sleeper(*cr.rt, when);
  return s;
}

void handle_copy(timer_state* s) {
  if (!s) return;
  // relaxed: see timer_state::handles / refs (made from a live handle).
  s->handles.fetch_add(1, std::memory_order_relaxed);
}

void handle_drop(timer_state* s) {
  if (!s) return;
  // acq_rel: see timer_state::handles.
  if (s->handles.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  // The last handle: a timer nobody can observe any more is stopped now
  // (Go collects it); one whose channel someone still holds runs on (its
  // fire collects it once that holder is gone too).
  if (unobservable(s)) stop_state(s);
  state_release(s);  // the handles'
}

time_chan chan_of(timer_state* s) { return !s || s->f ? nil_chan() : s->ch; }

}  // namespace

goro::timer after_func_make(std::chrono::nanoseconds d, std::unique_ptr<timer_func> f) {
  if (!f) throw std::invalid_argument("goro::after_func: f is null");
  return goro::timer(make_state(d, 0, std::move(f), "goro::after_func"));
}

}  // namespace goro::detail

namespace goro {

using detail::time_chan;

timer new_timer(std::chrono::nanoseconds d) {
  return timer(detail::make_state(d, 0, nullptr, "goro::new_timer"));
}

timer::timer(const timer& o) noexcept : s_(o.s_) { detail::handle_copy(s_); }
timer::~timer() { detail::handle_drop(s_); }

time_chan timer::c() const { return detail::chan_of(s_); }

bool timer::stop() {
  if (!s_)
    throw std::logic_error(
        "goro::timer::stop: called on an empty timer (default-constructed or moved-from; Go: "
        "Stop called on uninitialized Timer)");
  return detail::stop_state(s_);
}

bool timer::reset(std::chrono::nanoseconds d) {
  if (!s_)
    throw std::logic_error(
        "goro::timer::reset: called on an empty timer (default-constructed or moved-from; Go: "
        "Reset called on uninitialized Timer)");
  return detail::reset_state(s_, d, 0, "goro::timer::reset");
}

ticker new_ticker(std::chrono::nanoseconds d) {
  if (d <= std::chrono::nanoseconds::zero())
    throw std::invalid_argument("goro::new_ticker: d = " + std::to_string(d.count()) +
                                " ns: the interval must be positive (Go: non-positive interval "
                                "for NewTicker)");
  return ticker(detail::make_state(d, d.count(), nullptr, "goro::new_ticker"));
}

ticker::ticker(const ticker& o) noexcept : s_(o.s_) { detail::handle_copy(s_); }
ticker::~ticker() { detail::handle_drop(s_); }

time_chan ticker::c() const { return detail::chan_of(s_); }

void ticker::stop() {
  if (s_) (void)detail::stop_state(s_);
}

void ticker::reset(std::chrono::nanoseconds d) {
  if (d <= std::chrono::nanoseconds::zero())
    throw std::invalid_argument("goro::ticker::reset: d = " + std::to_string(d.count()) +
                                " ns: the interval must be positive (Go: non-positive interval "
                                "for Ticker.Reset)");
  if (!s_)
    throw std::logic_error(
        "goro::ticker::reset: called on an empty ticker (default-constructed or moved-from; Go: "
        "Reset called on uninitialized Ticker)");
  (void)detail::reset_state(s_, d, d.count(), "goro::ticker::reset");
}

}  // namespace goro
