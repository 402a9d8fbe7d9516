// goro::rw_mutex: Go's sync.RWMutex.
#pragma once
#include <atomic>
#include <cstdint>

#include "goro/detail/export.hpp"
#include "goro/mutex.hpp"

namespace goro {

// A reader/writer mutual exclusion lock with Go's sync.RWMutex semantics;
// meets the C++ Lockable and SharedLockable requirements (std::unique_lock,
// std::scoped_lock, std::shared_lock).
//
// lock() (Go's Lock) excludes every reader and writer; lock_shared() (Go's
// RLock) is shared by any number of readers. Once a writer is waiting in
// lock(), new lock_shared() calls block until that writer has had the lock
// and unlocked it, so a stream of readers cannot starve a writer; its
// unlock() lets in every reader that queued behind it before the next
// writer can go ahead. Writers are serialized by a goro::mutex (Go's w), so
// they compete among themselves as goro::mutex's lockers do. A reader must
// not count on taking lock_shared() recursively: a writer waiting between
// its two calls deadlocks them (as Go says of RLock).
//
// try_lock() (Go's TryLock) and try_lock_shared() (TryRLock) never block;
// try_lock fails if any reader or writer holds or waits for the lock (and
// may fail while a writer is in the middle of unlock()), try_lock_shared
// fails while a writer holds it or waits.
//
// Blocking parks a goroutine, or blocks a thread outside the runtime on a
// futex. Any goroutine or thread may unlock. Misuse ends the process, as
// Go's fatal error ("sync: Unlock of unlocked RWMutex") and as goro::mutex
// does for its own: unlock() when no writer holds it, unlock_shared() when
// no reader holds it.
//
// Memory ordering (Go's: the n-th Unlock happens before the (n+1)-th Lock;
// for an RLock after the n-th Unlock, that Unlock happens before it returns,
// and the matching RUnlock happens before the (n+1)-th Lock returns): each
// unlock() happens before every later lock_shared() or try_lock_shared()
// that succeeds, and before the next lock() or try_lock() that succeeds;
// each unlock_shared() happens before the next lock() or try_lock() that
// succeeds. So what a writer wrote is visible to every later reader and
// writer, and a writer's writes never race with earlier readers' reads.
//
// Lifetime: as [thread.sharedmutex.class] requires, an rw_mutex may be
// destroyed as soon as nobody holds it and nobody will lock it again, even
// while another goroutine's or thread's unlock() or unlock_shared() has not
// returned: unlock() releases the writer mutex first and the readers in its
// last access to *this (the order Go uses, the other way round, would touch
// w after a reader it let in could have destroyed it). Sleepers wait in a
// process-wide table keyed by the rw_mutex's address.
class GORO_API rw_mutex {
 public:
  rw_mutex() = default;
  rw_mutex(const rw_mutex&) = delete;
  rw_mutex& operator=(const rw_mutex&) = delete;

  void lock();
  [[nodiscard]] bool try_lock() noexcept;
  void unlock();

  // The read-mostly fast path: one atomic RMW each.
  void lock_shared() {
    // acquire: pairs with the last unlock()'s releasing RMW, so what that
    // writer wrote is visible. Negative count: a writer is pending.
    std::uint64_t old = readers_.fetch_add(1, std::memory_order_acquire);
    if (static_cast<std::int32_t>(static_cast<std::uint32_t>(old)) < 0) [[unlikely]]
      lock_shared_slow(old);
  }
  [[nodiscard]] bool try_lock_shared() noexcept;
  void unlock_shared() {
    // release: our reads happen before the next writer's writes (it
    // acquires this RMW through its own, or through departing_).
    std::uint64_t old = readers_.fetch_sub(1, std::memory_order_release);
    if (static_cast<std::int32_t>(static_cast<std::uint32_t>(old)) <= 0) [[unlikely]]
      unlock_shared_slow(old);
  }

 private:
  [[gnu::cold]] void lock_shared_slow(std::uint64_t old);
  [[gnu::cold]] void unlock_shared_slow(std::uint64_t old);

  // epoch << 32 | count: count (signed, the low half) is Go's readerCount,
  // the readers inside or waiting, less 2^30 while a writer is pending; the
  // epoch counts unlock()s (src/sync/rw_mutex_state.hpp).
  std::atomic<std::uint64_t> readers_{0};
  std::atomic<std::int32_t> departing_{0};  // Go's readerWait
  mutex w_;                                 // serializes writers (Go's w)
};

}  // namespace goro
