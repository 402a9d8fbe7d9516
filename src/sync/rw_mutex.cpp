// goro::rw_mutex: Go's sync.RWMutex (sync/rwmutex.go) on goro's park/ready
// core and goro::mutex.
//
// The protocol over readers_ and departing_ (invariants R1-R5) is
// sync/rw_mutex_state.hpp's, which c11/rw_mutex_c11.cpp also checks under
// Relacy; this file gives it a wait table, park and ready, and w_.
//
// The wait table: as goro::mutex's semaphore table, sleepers of every
// rw_mutex wait in buckets chosen by the rw_mutex's address, not in the
// rw_mutex, so that unlock's releasing RMW can be its last access to *this
// (R5). A waiter's elem is its key: &readers_ for a reader waiting for the
// pending writer, &departing_ for the writer waiting for readers to depart,
// &w_ for a writer waiting for its predecessor's release (R4). The bucket's
// lock is the Env's lock(): the protocol's subtractions, releases and every
// decision to sleep are made with it held. It is a table of its own, not
// goro::mutex's: unlock releases w_ (which may take a semaphore bucket) with
// no lock held, and no lock of one table is ever taken inside the other's.
#include "goro/rw_mutex.hpp"

#include <cstdint>

#include "sched/runtime.hpp"
#include "sync/park.hpp"
#include "sync/rw_mutex_state.hpp"

namespace goro {

namespace {

constexpr std::size_t rw_buckets = 251;  // prime, as Go's semTabSize

struct alignas(64) rw_bucket {
  detail::futex_lock lock;
  detail::wait_list q GORO_GUARDED_BY(lock);
};

rw_bucket rw_table[rw_buckets];

rw_bucket& bucket_for(const void* addr) {
  return rw_table[(reinterpret_cast<std::uintptr_t>(addr) >> 3) % rw_buckets];
}

// The runtime's side of rw_mutex_state.hpp's Env for one rw_mutex. The
// bucket lock is taken and released through the template's calls, which
// the analysis cannot follow, so these members are not analysed;
// rw_mutex_state.hpp states where the lock is held.
struct rw_env {
  using waiter = detail::waiter;
  std::atomic<std::uint64_t>* readers;
  std::atomic<std::int32_t>* departing;
  mutex* w;

  rw_bucket& bucket() const { return bucket_for(readers); }
  void lock() GORO_NO_THREAD_SAFETY_ANALYSIS { bucket().lock.lock(); }
  void unlock() GORO_NO_THREAD_SAFETY_ANALYSIS { bucket().lock.unlock(); }
  void wlock() { w->lock(); }
  void wunlock() { w->unlock(); }
  bool wtry_lock() noexcept { return w->try_lock(); }
  bool remove(waiter* x) GORO_NO_THREAD_SAFETY_ANALYSIS {
    return detail::waitq_remove(bucket().q, x);
  }
  [[noreturn]] static void fatal(const char* msg) { detail::fatal("%s", msg); }

  // Queues the caller under key (lock held), records its abandon path and
  // parks, releasing the lock once the park committed.
  template <int Kind>
  void sleep(void* key, detail::wait_reason reason) GORO_NO_THREAD_SAFETY_ANALYSIS {
    rw_bucket* b = &bucket();
    b->lock.assert_held();  // sleep: locked by lock()
    detail::waiter wt;
    detail::waiter_init(wt);
    wt.elem = key;
    detail::waitq_push(b->q, &wt);
    struct link {
      rw_env env;
      detail::waiter* w;
    } ln{*this, &wt};
    detail::waiter_on_abandon(
        wt,
        [](void* arg, bool readied) noexcept {
          auto* l = static_cast<link*>(arg);
          if constexpr (Kind == 0) {
            auto&& readers = detail::sim_view(*l->env.readers);
            auto&& departing = detail::sim_view(*l->env.departing);
            return detail::rw_abandon_reader(readers, departing, l->env, readied, l->w);
          } else if constexpr (Kind == 1) {
            auto&& readers = detail::sim_view(*l->env.readers);
            return detail::rw_abandon_writer(readers, l->env, readied, l->w);
          } else {
            return detail::rw_abandon_behind(l->env, readied, l->w);
          }
        },
        &ln);
    detail::park_unlock(wt, b->lock, reason);
  }
  void sleep_reader() { sleep<0>(readers, detail::wait_reason::sync_rw_mutex_rlock); }
  void sleep_writer() { sleep<1>(departing, detail::wait_reason::sync_rw_mutex_lock); }
  void sleep_behind() { sleep<2>(w, detail::wait_reason::sync_rw_mutex_lock); }

  // With the lock held: every reader queued under readers, and the writer
  // queued under w (R4), out of the bucket.
  detail::wait_list release_waiters() GORO_NO_THREAD_SAFETY_ANALYSIS {
    detail::wait_list out;
    const void* rk = readers;
    const void* wk = w;
    while (detail::waiter* x = detail::waitq_remove_first_if(
               bucket().q, [rk, wk](detail::waiter* y) { return y->elem == rk || y->elem == wk; }))
      detail::waitq_push(out, x);
    return out;
  }
  static void ready_released(detail::wait_list& l) {
    while (detail::waiter* x = detail::waitq_pop(l)) detail::ready(x);
  }
  // The last departing reader's wake of the pending writer; uses the
  // addresses as keys only (R5).
  bool wake_writer() {
    detail::nopreempt np;  // the bucket lock must not be held by a preempted G
    rw_bucket& b = bucket();
    b.lock.lock();
    const void* key = departing;
    detail::waiter* x = detail::waitq_remove_first_if(
        b.q, [key](detail::waiter* y) { return y->elem == key; });
    b.lock.unlock();
    if (x) detail::ready(x);
    return x != nullptr;
  }
};

}  // namespace

void rw_mutex::lock() {
  detail::honour_preempt();  // before the nopreempt region (park.hpp)
  w_.lock();
  // The bucket lock must not be held by a preempted goroutine.
  detail::nopreempt np;
  rw_env env{&readers_, &departing_, &w_};
  auto&& readers = detail::sim_view(readers_);  // base/atomic.hpp: a point per operation in sim
  auto&& departing = detail::sim_view(departing_);
  detail::rw_lock_pending(readers, departing, env);
}

bool rw_mutex::try_lock() noexcept {
  rw_env env{&readers_, &departing_, &w_};
  auto&& readers = detail::sim_view(readers_);
  return detail::rw_try_lock(readers, env);
}

void rw_mutex::unlock() {
  // The bucket lock must not be held by a preempted goroutine. w_'s unlock
  // (first in rw_unlock, with no lock held) may still yield to a writer it
  // handed w_ to, as goro::mutex's does.
  detail::nopreempt np;
  rw_env env{&readers_, &departing_, &w_};
  auto&& readers = detail::sim_view(readers_);
  detail::rw_unlock(readers, env);
}

bool rw_mutex::try_lock_shared() noexcept {
  auto&& readers = detail::sim_view(readers_);
  return detail::rw_try_lock_shared(readers);
}

void rw_mutex::lock_shared_slow(std::uint64_t old) {
  detail::honour_preempt();
  detail::nopreempt np;
  rw_env env{&readers_, &departing_, &w_};
  auto&& readers = detail::sim_view(readers_);
  detail::rw_lock_shared_slow(readers, old, env);
}

void rw_mutex::unlock_shared_slow(std::uint64_t old) {
  {
    detail::nopreempt np;
    rw_env env{&readers_, &departing_, &w_};
    auto&& readers = detail::sim_view(readers_);
    auto&& departing = detail::sim_view(departing_);
    detail::rw_unlock_shared_slow(readers, departing, old, env);
  }
  detail::honour_preempt();  // uses nothing of *this (park.hpp)
}

}  // namespace goro
