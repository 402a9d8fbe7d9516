// Waiters: the one mechanism every blocking primitive (wait_group, the
// runtime's semaphores, later channels and mutexes) parks through. A waiter is
// either a goroutine (parked with gopark, readied with goready) or a foreign
// thread (blocked on a futex word), so the same primitives serve both.
#pragma once
#include <atomic>
#include <cstdint>

#include "goro/detail/waitq.hpp"

namespace goro::detail {

struct g;

// Why a G is waiting (Go's waitReason): set by gopark, read by deadlock
// detection (which counts the parked goroutines by kind) and by the auditor.
enum class wait_reason : std::uint8_t {
  zero,              // not waiting
  chan_receive,      // a receive on a channel
  chan_send,         // a send on a channel
  chan_receive_nil,  // a receive on a nil channel: forever
  chan_send_nil,     // a send on a nil channel: forever
  select,            // a select over several cases
  select_no_cases,   // a select with only nil channels and no default: forever
  sync_mutex_lock,   // goro::mutex::lock
  sync_wait_group_wait,  // goro::wait_group::wait
  semacquire,        // the runtime's own semaphore (stop-the-world)
  sleep,             // sleep_for / sleep_until
  io_wait,           // the netpoller: a socket not ready yet
  count_
};
const char* wait_reason_name(wait_reason r);

struct waiter {
  g* gp = nullptr;                   // the parked goroutine, or null: a thread
  std::atomic<std::uint32_t> woken{0};  // thread waiters sleep on this word
  waiter* next = nullptr;
  void* elem = nullptr;              // payload slot for primitives that pass values
};

// Fills in who is waiting: the current goroutine, or the calling thread.
void waiter_init(waiter& w);

void waitq_push(wait_list& q, waiter* w);
waiter* waitq_pop(wait_list& q);
// Unlinks w from q if it is there (O(n)); true if it was. Caller holds q's lock.
// Unlinks and returns the first waiter of q for which pred(w) holds, or null.
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
void waiter_on_abandon(waiter& w, abandon_fn fn, void* arg) noexcept;

// Parks the caller on w, which the caller has already pushed onto a wait list
// while holding lk. Releases lk only after the park has committed (the
// goroutine's context is saved), so a waker that takes w from the list under
// lk can ready it at once without a lost wakeup. Returns once readied.
void park_unlock(waiter& w, futex_lock& lk, wait_reason reason);

// The general form of park_unlock, for a waiter on several wait lists at once
// (select): unlockf(arg) releases every lock guarding them and runs only
// after the park has committed. unlockf must not touch anything on the
// waiter's stack after releasing the last lock: from then on the waiter may
// be readied, run and return.
void park_commit(waiter& w, void (*unlockf)(void*) noexcept, void* arg, wait_reason reason);

// Wakes w, which has been removed from its wait list. The caller must not
// touch w afterwards: the waiter may already have returned and its frame gone.
void ready(waiter* w);

// A FIFO semaphore of one unit, handing ownership straight to the next waiter
// (no barging). Used for the runtime's own mutual exclusion at the goroutine
// level, such as serializing stop-the-world.
class sema {
 public:
  void acquire();
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
void honour_preempt();

}  // namespace goro::detail
