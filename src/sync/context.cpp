// goro::context (Go's context package): cancellation trees, deadline
// timers, AfterFunc, and context-taking sleeps.
//
// A cancellable context is a ctx_state held by shared_ptr: by its handles,
// its cancel function, its children (each holds its parent, as Go's
// cancelCtx embeds its parent) and, while its deadline timer is pending, by
// the timer itself. A parent knows its children only weakly (a weak_ptr in
// `children`, keyed by a process-unique number), so a child whose handles
// are all dropped without a cancel unregisters itself in its destructor
// instead of leaking in a long-lived parent; a cancelled child unregisters
// at once (Go's removeChild).
//
// Lock discipline: a ctx_state's lock guards its cause, children and timer
// fields, and is never held while another context's lock is taken (the
// children are taken out under the lock and cancelled after it is
// released) nor while a shared_ptr that may be the last one to a context is
// dropped (its destructor takes its parent's lock). Under it a cancel
// closes the done channel (the channel's lock, and the scheduler's through
// ready) and deletes the deadline timer (a timer heap's lock), the order
// netpoll's deadlines use too; a deadline timer fires with no heap lock
// held (run_timers), so nothing takes them the other way round.
#include "goro/context.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <unordered_map>

#include "base/atomic.hpp"
#include "goro/select.hpp"
#include "goro/time.hpp"
#include "sched/proc.hpp"
#include "sync/context_internal.hpp"
#include "time/timer.hpp"

namespace goro {

namespace {

class goro_error_category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "goro"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::canceled: return "context canceled";
      case errc::deadline_exceeded: return "context deadline exceeded";
    }
    std::string m = "goro error ";
    m += std::to_string(ev);
    return m;
  }
  // The timeout question (see errc in context.hpp): deadline_exceeded is a
  // timed_out condition, canceled an operation_canceled one.
  std::error_condition default_error_condition(int ev) const noexcept override {
    switch (static_cast<errc>(ev)) {
      case errc::canceled: return std::errc::operation_canceled;
      case errc::deadline_exceeded: return std::errc::timed_out;
    }
    return {ev, *this};
  }
};

}  // namespace

const std::error_category& goro_category() noexcept {
  static const goro_error_category cat;
  return cat;
}

std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), goro_category()}; }

}  // namespace goro

namespace goro::detail {

struct ctx_state;

// One after_func registration. `claimed` decides, once, between the cancel
// that starts f and the stop() that prevents it.
struct after_rec {
  // acq_rel exchange by both sides: whoever wins owns f's fate; the loser
  // does nothing else, so no other data rides on it (f and ctx are written
  // before the record is published under the context's lock).
  detail::atomic<bool> claimed{false};
  std::function<void()> f;
  std::weak_ptr<ctx_state> ctx;
  std::uint64_t key = 0;

  // Starts f in a goroutine unless stop() got there first.
  static void fire(const std::shared_ptr<after_rec>& r) noexcept;
};

struct child_entry {
  std::weak_ptr<ctx_state> ctx;   // a derived context, or
  std::shared_ptr<after_rec> af;  // an after_func registration
};

std::uint64_t next_child_key() noexcept {
  static detail::atomic<std::uint64_t> n{0};
  // relaxed: only uniqueness matters.
  return n.fetch_add(1, std::memory_order_relaxed) + 1;
}

struct ctx_state : std::enable_shared_from_this<ctx_state> {
  futex_lock lk;
  // The errc of the cancellation (0: live). Stored with release under lk
  // before done is closed; err() loads it with acquire, the pair that
  // makes the cancel happen before err() returns non-zero.
  detail::atomic<int> err{0};
  // Set (release) under lk once done is closed; err() reads it (acquire)
  // to know it need not wait for the close (below).
  detail::atomic<bool> closed{false};
  std::error_code cause GORO_GUARDED_BY(lk);
  chan<std::monostate> done;
  // The effective deadline (CLOCK_MONOTONIC ns, 0: none): written before
  // the state is shared, immutable after.
  std::int64_t deadline = 0;
  // The parent (null: background) and our key in its children; both
  // immutable once the state is shared.
  std::shared_ptr<ctx_state> parent;
  std::uint64_t key = 0;
  std::unordered_map<std::uint64_t, child_entry> children GORO_GUARDED_BY(lk);

  // The deadline timer. `armed` while it was pushed and neither its fire
  // nor a successful delete has taken it out; `timer_ref` is the reference
  // the pending timer holds on us, dropped by exactly one of: the fire, the
  // cancel whose timer_del succeeded, the runtime's teardown (dispose).
  // `armed_gen` names the runtime whose heap holds it (timer_del needs that
  // runtime alive and retained).
  bool has_timer = false;  // immutable once shared: whether arming was tried
  detail::timer tm;
  bool armed GORO_GUARDED_BY(lk) = false;
  std::uint64_t armed_gen GORO_GUARDED_BY(lk) = 0;
  std::shared_ptr<ctx_state> timer_ref GORO_GUARDED_BY(lk);

  ctx_state() = default;
  ctx_state(const ctx_state&) = delete;
  ctx_state& operator=(const ctx_state&) = delete;
  ~ctx_state() {
    // Dropped without a cancel: leave the parent's children (Go's GC does
    // this for an unreachable child).
    if (parent && key && err.load(std::memory_order_relaxed) == 0) parent->remove_child(key);
  }

  static context wrap(std::shared_ptr<ctx_state> s) noexcept { return context(std::move(s)); }
  static ctx_state* of(const context& c) noexcept { return c.s_.get(); }
  static const std::shared_ptr<ctx_state>& ptr(const context& c) noexcept { return c.s_; }

  void remove_child(std::uint64_t k) noexcept {
    child_entry gone;  // destroyed after the lock: see the lock discipline
    {
      futex_guard g(lk);
      auto it = children.find(k);
      if (it == children.end()) return;
      gone = std::move(it->second);
      children.erase(it);
    }
  }
};

namespace {

// The runtime the caller belongs to, or else the one running, retained
// (null: none runs). As netpoll's retain_current_runtime.
runtime* retain_current() noexcept {
  {
    nopreempt np;
    if (m* mp = getm()) {
      mp->rt->retain();
      return mp->rt;
    }
  }
  return acquire_active();
}

// Cancels s with `e` (an errc) and `why` (the cause), then its children
// with the same, unless s is already cancelled. `remove` also takes s out
// of its parent's children (a cancel of s itself, not its parent's).
void cancel(ctx_state& s, int e, std::error_code why, bool remove) noexcept {
  // Retained before any lock (acquire_active takes a mutex): the deadline
  // timer's heap belongs to a runtime that must stay alive through
  // timer_del.
  runtime* rt = s.has_timer ? retain_current() : nullptr;
  std::unordered_map<std::uint64_t, child_entry> kids;
  std::shared_ptr<ctx_state> tref;
  bool won = false;
  {
    futex_guard g(s.lk);
    if (s.err.load(std::memory_order_relaxed) == 0) {
      won = true;
      s.cause = why ? why : make_error_code(static_cast<errc>(e));
      kids.swap(s.children);
      if (s.armed) {
        s.armed = false;
        // False: the timer is already out of its heap (its fire is under
        // way and drops timer_ref), or its runtime is gone or going (the
        // teardown's dispose drops it).
        if (rt && rt->gen == s.armed_gen && timer_del(&s.tm)) tref = std::move(s.timer_ref);
      }
      // release: pairs with err()'s acquire load (cancel happens before
      // err() != 0); stored before the close so that a receiver that saw
      // done closed reads it too (the close happens before its receive).
      s.err.store(e, std::memory_order_release);
      try {
        s.done.close();
      } catch (const closed_channel&) {
        // Somebody closed done() (documented as not allowed): it is closed.
      }
      // release: pairs with err()'s acquire load of `closed`.
      s.closed.store(true, std::memory_order_release);
    }
  }
  if (won) {
    std::error_code kid_cause;
    {
      futex_guard g(s.lk);
      kid_cause = s.cause;
    }
    for (auto& [k, c] : kids) {
      if (c.af) after_rec::fire(c.af);
      else if (auto child = c.ctx.lock()) cancel(*child, e, kid_cause, false);
    }
    if (remove && s.parent) s.parent->remove_child(s.key);
  }
  if (rt) rt->release();
  // tref (maybe the last reference to s) and kids are dropped here, with
  // no lock held.
}

// Registers child with its parent, or cancels it at once if the parent is
// already cancelled (Go's propagateCancel).
void attach(const std::shared_ptr<ctx_state>& child) {
  ctx_state* parent = child->parent.get();
  if (!parent) return;
  int pe;
  std::error_code pc;
  {
    futex_guard g(parent->lk);
    pe = parent->err.load(std::memory_order_relaxed);
    if (pe == 0) {
      parent->children.emplace(child->key, child_entry{child, nullptr});
      return;
    }
    pc = parent->cause;
  }
  cancel(*child, pe, pc, false);
}

std::shared_ptr<ctx_state> make_child(const context& parent) {
  auto s = std::make_shared<ctx_state>();
  s->parent = ctx_state::ptr(parent);
  s->deadline = s->parent ? s->parent->deadline : 0;
  s->key = next_child_key();
  return s;
}

void fire_deadline(detail::timer* t) {
  auto* s = static_cast<ctx_state*>(t->arg);
  std::shared_ptr<ctx_state> keep;  // the timer's reference: s lives through the cancel
  {
    futex_guard g(s->lk);
    s->armed = false;
    keep = std::move(s->timer_ref);
  }
  cancel(*s, static_cast<int>(errc::deadline_exceeded), {}, true);
}

// The runtime ended with the timer pending: drop its reference (the
// context then stays live until cancelled otherwise; see context.hpp).
void dispose_deadline(detail::timer* t) {
  auto* s = static_cast<ctx_state*>(t->arg);
  std::shared_ptr<ctx_state> keep;
  {
    futex_guard g(s->lk);
    s->armed = false;
    keep = std::move(s->timer_ref);
  }
}

// Pushes s's deadline timer (due at `when`) onto a heap of rt (retained by
// the caller), unless s is cancelled already.
void arm(ctx_state& s, std::int64_t when, runtime& rt) {
  {
    // nopreempt: the P read here stays ours until the timer is on its heap.
    nopreempt np;
    m* mp = getm();
    p* pp = mp && mp->p_ && mp->rt == &rt ? mp->p_ : rt.allp[0].load(std::memory_order_acquire);
    futex_guard g(s.lk);
    if (s.err.load(std::memory_order_relaxed) != 0) return;
    s.tm.when = when;
    s.tm.fire = fire_deadline;
    s.tm.arg = &s;
    s.tm.dispose = dispose_deadline;
    s.timer_ref = s.shared_from_this();
    s.armed = true;
    s.armed_gen = rt.gen;
    pp->timers.lock.lock();
    timer_push_locked(pp->timers, &s.tm);
    pp->timers.lock.unlock();
  }
  wake_timer_sleeper(rt, when);
}

const chan<std::monostate>& nil_chan() {
  static const chan<std::monostate> nil = [] {
    chan<std::monostate> a;
    chan<std::monostate> b(std::move(a));
    // A moved-from chan is a nil channel (goro/chan.hpp), the one way to
    // make one: the use after the move is the point.
    return a;  // NOLINT(bugprone-use-after-move)
  }();
  return nil;
}

}  // namespace

void after_rec::fire(const std::shared_ptr<after_rec>& r) noexcept {
  if (r->claimed.exchange(true, std::memory_order_acq_rel)) return;
  try {
    goro::go([r] { r->f(); });
  } catch (...) {
    // No runtime runs (a cancel before or after goro::run), or goroutines
    // cannot be had: a thread of its own instead (noexcept: if that fails
    // too, the process ends, as a goroutine that cannot start).
    std::thread([r] { r->f(); }).detach();
  }
}

std::function<bool()> after_func_impl(const context& ctx, std::function<void()> f) {
  auto rec = std::make_shared<after_rec>();
  rec->f = std::move(f);
  const std::shared_ptr<ctx_state>& s = ctx_state::ptr(ctx);
  if (s) {
    rec->ctx = s;
    rec->key = next_child_key();
    bool registered = false;
    {
      futex_guard g(s->lk);
      if (s->err.load(std::memory_order_relaxed) == 0) {
        s->children.emplace(rec->key, child_entry{{}, rec});
        registered = true;
      }
    }
    if (!registered) after_rec::fire(rec);
  }
  return [rec]() -> bool {
    if (rec->claimed.exchange(true, std::memory_order_acq_rel)) return false;
    if (auto c = rec->ctx.lock()) c->remove_child(rec->key);
    return true;
  };
}

}  // namespace goro::detail

namespace goro {

using namespace detail;

chan<std::monostate> context::done() const { return s_ ? s_->done : nil_chan(); }

std::error_code context::err() const noexcept {
  if (!s_) return {};
  // acquire: pairs with cancel's release store.
  int e = s_->err.load(std::memory_order_acquire);
  if (e == 0) return {};
  // The canceller stores err before it closes done, both under lk: wait
  // for the close, so that err() != 0 implies done() is closed.
  // acquire: pairs with the release store of `closed`.
  if (!s_->closed.load(std::memory_order_acquire)) {
    futex_guard g(s_->lk);
  }
  return make_error_code(static_cast<errc>(e));
}

std::optional<std::chrono::steady_clock::time_point> context::deadline() const noexcept {
  if (!s_ || s_->deadline == 0) return std::nullopt;
  return std::chrono::steady_clock::time_point(std::chrono::nanoseconds(s_->deadline));
}

context background() noexcept { return {}; }

std::pair<context, std::function<void()>> with_cancel(context parent) {
  auto s = make_child(parent);
  attach(s);
  std::function<void()> stop = [s] { cancel(*s, static_cast<int>(errc::canceled), {}, true); };
  return {ctx_state::wrap(std::move(s)), std::move(stop)};
}

std::pair<context, std::function<void(std::error_code)>> with_cancel_cause(context parent) {
  auto s = make_child(parent);
  attach(s);
  std::function<void(std::error_code)> stop = [s](std::error_code why) {
    cancel(*s, static_cast<int>(errc::canceled), why, true);
  };
  return {ctx_state::wrap(std::move(s)), std::move(stop)};
}

std::error_code cause(const context& ctx) noexcept {
  ctx_state* s = ctx_state::of(ctx);
  if (!s || s->err.load(std::memory_order_acquire) == 0) return {};
  futex_guard g(s->lk);
  return s->cause;
}

std::pair<context, std::function<void()>> with_deadline(context parent,
                                                        std::chrono::steady_clock::time_point t) {
  std::int64_t when = t.time_since_epoch().count();
  ctx_state* ps = ctx_state::of(parent);
  // The parent's deadline comes first anyway: a plain child (Go does this).
  if (ps && ps->deadline != 0 && ps->deadline <= when) return with_cancel(std::move(parent));
  std::int64_t now = nanotime();
  runtime* rt = nullptr;
  if (when > now && when != INT64_MAX) {
    rt = retain_current();
    if (!rt)
      throw std::logic_error(
          "goro::with_deadline / with_timeout: a future deadline needs a running goro "
          "runtime for its timer (call it inside goro::run, or from another thread while one "
          "runs)");
  }
  std::shared_ptr<ctx_state> s;
  try {
    s = make_child(parent);
    s->deadline = when;
    s->has_timer = rt != nullptr;
    attach(s);
  } catch (...) {
    if (rt) rt->release();
    throw;
  }
  if (when <= now) cancel(*s, static_cast<int>(errc::deadline_exceeded), {}, true);
  else if (rt) arm(*s, when, *rt);
  if (rt) rt->release();
  std::function<void()> stop = [s] { cancel(*s, static_cast<int>(errc::canceled), {}, true); };
  return {ctx_state::wrap(std::move(s)), std::move(stop)};
}

std::pair<context, std::function<void()>> with_timeout(context parent, std::chrono::nanoseconds d) {
  std::int64_t when = saturating_deadline(nanotime(), d.count());
  return with_deadline(std::move(parent),
                       std::chrono::steady_clock::time_point(std::chrono::nanoseconds(when)));
}

namespace {

// A context sleep's timer, shared by its heap (until it fires, is deleted,
// or the runtime is torn down) and the sleeper: two references.
struct sleep_timer {
  detail::timer t;  // first: the callbacks get &t
  chan<std::monostate> ch{1};
  // acq_rel decrement: the last owner sees the other's writes before the
  // delete.
  detail::atomic<int> refs{2};
  void unref() noexcept {
    if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }
};
static_assert(std::is_standard_layout_v<sleep_timer>);  // &st->t == st

sleep_timer* sleep_of(detail::timer* t) { return reinterpret_cast<sleep_timer*>(t); }

void fire_sleep(detail::timer* t) {
  sleep_timer* st = sleep_of(t);
  // Capacity 1, one send: never blocks (g0 may not park).
  (void)st->ch.try_send(std::monostate{});
  st->unref();
}

// The runtime ends with the sleep pending: wake the sleeper with a close
// (a recv of nullopt), so a thread sleeper finishes its sleep by itself.
void dispose_sleep(detail::timer* t) {
  sleep_timer* st = sleep_of(t);
  try {
    st->ch.close();
  } catch (const closed_channel&) {
  }
  st->unref();
}

// The thread fallback: no runtime, hence no timer to wake us.
std::error_code sleep_thread(const context& ctx, std::int64_t when) {
  for (;;) {
    if (auto e = ctx.err()) return e;
    std::int64_t left = when - nanotime();
    if (left <= 0) return {};
    std::this_thread::sleep_for(std::chrono::nanoseconds(std::min<std::int64_t>(left, 1'000'000)));
  }
}

std::error_code sleep_ctx(const context& ctx, std::int64_t when) {
  if (auto e = ctx.err()) return e;
  if (when <= nanotime()) return {};
  if (!ctx_state::of(ctx)) {  // background: nothing can cut the sleep short
    goro::sleep_until(std::chrono::steady_clock::time_point(std::chrono::nanoseconds(when)));
    return {};
  }
  auto* st = new sleep_timer;
  st->t.when = when;
  st->t.fire = fire_sleep;
  st->t.dispose = dispose_sleep;
  chan<std::monostate> ch = st->ch;
  std::uint64_t gen = 0;
  {
    nopreempt np;
    m* mp = getm();
    bool mine = mp && mp->p_;
    runtime* rt = mine ? mp->rt : acquire_active();
    if (!rt) {
      delete st;
      return sleep_thread(ctx, when);
    }
    p* pp = mine ? mp->p_ : rt->allp[0].load(std::memory_order_acquire);
    gen = rt->gen;
    pp->timers.lock.lock();
    timer_push_locked(pp->timers, &st->t);
    pp->timers.lock.unlock();
    wake_timer_sleeper(*rt, when);
    if (!mine) rt->release();
  }
  std::error_code r;
  bool tick_closed = false;
  goro::select(goro::on_recv(ctx.done(), [&] { r = ctx.err(); }),
               goro::on_recv(ch, [&](std::optional<std::monostate> v) { tick_closed = !v; }));
  if (r) {
    // Cancelled first: take the timer out now rather than at its time.
    runtime* rt = retain_current();
    if (rt && rt->gen == gen && timer_del(&st->t)) st->unref();  // the heap's reference
    if (rt) rt->release();
  }
  st->unref();
  if (tick_closed) return sleep_thread(ctx, when);  // the runtime ended meanwhile
  return r;
}

}  // namespace

std::error_code sleep_until(const context& ctx, std::chrono::steady_clock::time_point t) {
  return sleep_ctx(ctx, t.time_since_epoch().count());
}

std::error_code sleep_for(const context& ctx, std::chrono::nanoseconds d) {
  if (d <= std::chrono::nanoseconds::zero()) return ctx.err();
  return sleep_ctx(ctx, saturating_deadline(nanotime(), d.count()));
}

}  // namespace goro

namespace goro::detail {

std::size_t ctx_num_children(const context& ctx) {
  ctx_state* s = ctx_state::of(ctx);
  if (!s) return 0;
  futex_guard g(s->lk);
  return s->children.size();
}

}  // namespace goro::detail
