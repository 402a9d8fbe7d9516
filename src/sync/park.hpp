// Waiters: the one mechanism every blocking primitive (channels and select,
// mutex, wait_group, the netpoller, the runtime's semaphores) parks through. A waiter is
// either a goroutine (parked with gopark, readied with goready) or a foreign
// thread (blocked on a futex word), so the same primitives serve both.
#pragma once
#include <atomic>
#include <cstdint>

#include "base/atomic.hpp"
#include "goro/detail/waitq.hpp"
#include "sync/park_core.hpp"

namespace goro::detail {

struct g;

// Why a G is waiting (Go's waitReason): set by gopark, read by deadlock
// detection (which counts the parked goroutines by kind) and by the auditor.
enum class wait_reason : std::uint8_t {
  zero,                  // not waiting
  chan_receive,          // a receive on a channel
  chan_send,             // a send on a channel
  chan_receive_nil,      // a receive on a nil channel: forever
  chan_send_nil,         // a send on a nil channel: forever
  select,                // a select over several cases
  select_no_cases,       // a select with only nil channels and no default: forever
  sync_mutex_lock,       // goro::mutex::lock
  sync_wait_group_wait,  // goro::wait_group::wait
  sync_cond_wait,        // goro::cond::wait
  sync_rw_mutex_rlock,   // goro::rw_mutex::lock_shared
  sync_rw_mutex_lock,    // goro::rw_mutex::lock
  semacquire,            // the runtime's own semaphore (stop-the-world)
  sleep,                 // sleep_for / sleep_until
  io_wait,               // the netpoller: a socket not ready yet
  count_
};
// The name checkdead's report gives r (Go's waitReasonStrings).
// Called from: g0 | sysmon (checkdead, from stopm or checkdead_recheck)
// Locks: holds sched.lock (checkdead's caller); takes none
// May switch: no
const char* wait_reason_name(wait_reason r);

struct waiter {
  g* gp = nullptr;                 // the parked goroutine, or null: a thread
  atomic<std::uint32_t> woken{0};  // thread waiters sleep on this word (park_core.hpp)
  waiter* next = nullptr;
  void* elem = nullptr;  // payload slot for primitives that pass values
};

// The contracts below use Go's fixed form. "G in a call" is a goroutine
// inside goro::blocking(): it holds no P and waits as a thread does.

// Fills in who is waiting: the current goroutine (gp), or, for a thread
// without a P, nobody (the thread will sleep on w.woken).
// Called from: G with P | G in a call | foreign thread
// Locks: holds the wait list's lock, usually (it needs none); takes none
// May switch: no
void waiter_init(waiter& w);

// FIFO push and pop of q.
// Called from: G with P | G in a call | foreign thread (the primitive's own
//   callers, and teardown's abandon callbacks on run's thread)
// Locks: holds q's lock
// May switch: no
void waitq_push(wait_list& q, waiter* w);
waiter* waitq_pop(wait_list& q);
// Unlinks and returns the first waiter of q for which pred(w) holds, or null.
// Called from: as waitq_push
// Locks: holds q's lock
// May switch: no
template <class Pred>
waiter* waitq_remove_first_if(wait_list& q, Pred pred) noexcept {
  waiter* prev = nullptr;
  for (waiter* w = q.head; w; prev = w, w = w->next) {
    if (!pred(w)) continue;
    if (prev) prev->next = w->next;
    else q.head = w->next;
    if (q.tail == w) q.tail = prev;
    w->next = nullptr;
    return w;
  }
  return nullptr;
}
// Unlinks w from q if it is there (O(n)); true if it was.
// Called from: as waitq_push (in practice: teardown's abandon callbacks)
// Locks: holds q's lock
// May switch: no
bool waitq_remove(wait_list& q, waiter* w) noexcept;

// Abandonment (spec/scheduler.md, "Lifetime"). When main returns, goroutines
// still parked are abandoned: they never run again, and their stacks are
// freed with the runtime. A wait queue may outlive the runtime (a channel,
// mutex, wait_group or socket created outside run), so it must not keep
// their waiters. Before parking on such a queue, with the queue's lock held,
// a goroutine records how to take itself off it (Go has no equivalent: its
// process exits). Teardown (abandon_waiters in lifetime.cpp), once no
// goroutine runs any more, calls fn(arg, false) for every parked goroutine that
// recorded one. fn takes the queue's lock(s) and unlinks the waiter, undoing
// whatever the primitive counted for it; it returns true if it did, false if
// a waker had already taken the waiter (teardown then waits until that
// waker's ready() is done with it: goready's last touch of the G is its
// status). Then, once no abandoned waiter is left in any queue, it calls
// fn(arg, true) for every goroutine that was readied from such a park but
// never ran again: fn gives back what the waker handed it (a mutex's woken
// flag or the mutex itself), as the goroutine would have on resuming; most
// primitives hand nothing that needs it.
// The record lives in the G and is cleared by gopark when the G resumes, so
// it always describes the G's current park. A thread waiter (a foreign
// thread, or a goroutine inside blocking()) records nothing: its thread is
// alive and will be woken normally.
using abandon_fn = bool (*)(void* arg, bool readied) noexcept;
// Records fn(arg) in w's goroutine; does nothing for a thread waiter.
// Called from: G with P | G in a call | foreign thread (the waiter itself,
//   just before it parks)
// Locks: holds the wait list's lock
// May switch: no
void waiter_on_abandon(waiter& w, abandon_fn fn, void* arg) noexcept;

// For primitives whose waiters wait on a channel (semaphore): a channel
// takes an abandoned goroutine off its own queue, but the primitive's queue
// still holds its record, so it must be able to tell a waiter that will
// never run again. goroutine_runtime_gen() is the generation (runtime::gen)
// of the runtime the caller runs on as a goroutine with a P, 0 for any
// other caller (a foreign thread, a goroutine inside blocking(): threads
// that stay alive). runtime_gen_live(gen) is false once that runtime's
// run has ended (run_main's teardown step 6: no M in the scheduler, the
// waiters abandoned): its goroutines then never run again.
// Called from: any
// Locks: runtime_gen_live takes the live-runtimes lock (a leaf)
// May switch: no
std::uint64_t goroutine_runtime_gen() noexcept;
bool runtime_gen_live(std::uint64_t gen) noexcept;

// Parks the caller on w, which the caller has already pushed onto a wait list
// while holding lk. Releases lk only after the park has committed (the
// goroutine's context is saved), so a waker that takes w from the list under
// lk can ready it at once without a lost wakeup. Returns once readied.
// Called from: G with P (parks, gopark) | G in a call | foreign thread (the
//   thread blocks on w.woken)
// Locks: holds lk, which it releases (after the park committed)
// May switch: yes (a G with a P; a thread blocks in the kernel instead)
void park_unlock(waiter& w, futex_lock& lk, wait_reason reason) GORO_RELEASE(lk);

// The general form of park_unlock, for a waiter on several wait lists at once
// (select): unlockf(arg) releases every lock guarding them and runs only
// after the park has committed. unlockf must not touch anything on the
// waiter's stack after releasing the last lock: from then on the waiter may
// be readied, run and return.
// For a goroutine the locks are handed across the switch (futex_lock):
// unlockf(arg, before_switch) runs on the goroutine's stack and calls
// release_before_switch on each, then unlockf(arg, after_switch) runs on g0
// and calls unlock_after_switch on each. A thread waiter gets one
// unlockf(arg, now), a plain unlock of each, before it blocks.
// Called from: G with P | G in a call | foreign thread, as park_unlock
// Locks: holds what unlockf releases (every lock guarding w's lists)
// May switch: yes (a G with a P)
enum class unlock_step { now, before_switch, after_switch };
void park_commit(waiter& w, void (*unlockf)(void*, unlock_step) noexcept, void* arg,
                 wait_reason reason);

// Wakes w, which has been removed from its wait list. The caller must not
// touch w afterwards: the waiter may already have returned and its frame gone.
// Called from: G with P | G in a call | g0 (timer fires, polled sockets) |
//   sysmon (its netpoll) | foreign thread
// Locks: none held (the waker released w's list lock first); takes
//   sched.lock (and releases it) through goready's runqput/ready_wake, or
//   from a thread without a P, the active-runtime lock and injectg's
// May switch: no
void ready(waiter* w);

// A FIFO semaphore of one unit, handing ownership straight to the next waiter
// (no barging). Used for the runtime's own mutual exclusion at the goroutine
// level, such as serializing stop-the-world.
class sema {
 public:
  // Called from: G with P (gomaxprocs, around stop-the-world)
  // Locks: none held; takes lk_ (released by the park, or before returning)
  // May switch: yes (parks while another holds the unit)
  void acquire();
  // Hands the unit to the first waiter, or frees it.
  // Called from: G with P
  // Locks: none held; takes lk_ (and releases it)
  // May switch: no
  void release();

 private:
  futex_lock lk_;
  wait_list q_;
  bool held_ = false;
};

// Fairness without signals: the entry of every goro operation that may park
// or ready (channels, select, mutex, wait_group) is a preemption point, as
// Go serves sysmon's request at the next function prologue. Yields to the
// global queue if sysmon asked this P to (its slice expired); does nothing
// outside a goroutine or inside a nopreempt region (runtime code that may
// hold a lock, e.g. a timer sending on its channel). One relaxed load when
// no request is pending anywhere.
// Called from: G with P (yields) | G in a call | g0 | foreign thread (both:
//   nothing to do)
// Locks: none held (a G must not yield holding a runtime lock)
// May switch: yes (to the global queue, through preempt_slow)
void honour_preempt();

}  // namespace goro::detail
