// The network poller (Go's runtime/netpoll.go and netpoll_epoll.go): one
// edge-triggered epoll instance per runtime. A goroutine whose socket call
// would block parks on the socket's poll descriptor (io_wait); whoever polls
// epoll readies it. Ms poll without blocking in findrunnable before they
// steal, sysmon polls when nobody has for 10 ms, and the one M that has
// nothing to do blocks in epoll until the earliest timer (it is also the
// timer sleeper), woken early through an eventfd (netpoll_break).
//
// Poll descriptors are type-stable: they come from a process-wide pool and
// their memory is never freed, so an epoll event that names a descriptor
// closed and reused meanwhile only sets a spurious readiness flag, which
// costs the new owner one extra EAGAIN (see polldesc).
#pragma once
#include <cstdint>

#include "base/atomic.hpp"
#include "goro/detail/waitq.hpp"
#include "netpoll/poll_latch.hpp"
#include "time/timer.hpp"

namespace goro::detail {

struct runtime;
struct waiter;

// Per runtime. Created with the runtime (two file descriptors), closed with it.
struct netpoller {
  int epfd = -1;
  int breakfd = -1;  // eventfd; readable while a break is pending
  // Goroutines parked in io_wait. Written by those goroutines around their
  // park, read by pollers (a hint: any poll is safe, a skipped one is made
  // up by the blocking poller or sysmon) and by checkdead under sched.lock
  // with every M idle (exact then: no goroutine runs to change it).
  detail::atomic<std::int32_t> waiters{0};
  // A break has been written and not yet drained (Go's netpollWakeSig): at
  // most one eventfd write per blocking poll.
  detail::atomic<std::uint32_t> wake_sig{0};
  // nanotime() of the last poll; 0 while an M is blocked in epoll (Go's
  // sched.lastpoll). Relaxed: it only decides whether sysmon polls too.
  detail::atomic<std::int64_t> lastpoll{1};
};

// Contracts in Go's fixed form, as in sync/park.hpp ("G in a call": a
// goroutine inside blocking()). "Socket callers" below means the goro::net
// operations: G with P | G in a call | foreign thread.

// Opens rt.netpoll's epoll instance and eventfd. Throws std::system_error.
// Called from: foreign thread (run's, constructing the runtime, before any M)
// Locks: none held
// May switch: no
void netpoll_init(runtime& rt);
// Closes them.
// Called from: the thread that drops the runtime's last reference (run's,
//   or one abandoned in a call), after every M has left the scheduler
// Locks: none held
// May switch: no
void netpoll_close(runtime& rt);

// The readied goroutines of one poll, as waiters to pass to ready().
struct netpoll_ready_list {
  static constexpr int max_events = 128;
  waiter* w[2 * max_events];
  int n = 0;
};

// Polls rt's epoll instance once. delay_ns < 0: block until an event or a
// break; 0: do not block; > 0: block at most that long (nanosecond
// precision with epoll_pwait2, else rounded up to a millisecond). The
// waiters of every socket found ready are appended to out; the caller
// readies them (ready()) once it has decided where they should run.
// Called from: g0 (findrunnable's non-blocking poll; block_in_netpoll, the
//   timer sleeper) | sysmon (nobody polled for 10 ms)
// Locks: none held; takes each reported descriptor's lock (and releases it)
// May switch: no (blocks the thread in epoll_wait when delay_ns != 0)
void netpoll(runtime& rt, std::int64_t delay_ns, netpoll_ready_list& out);
// Wakes an M blocked in netpoll (new work, an earlier timer, shutdown).
// Called from: G with P | G in a call | foreign thread | g0 | sysmon (any
//   caller of wake_timer_sleeper or begin_shutdown, and poll_wait)
// Locks: any (polldesc.lock through adopt_locked); takes none
// May switch: no
void netpoll_break(runtime& rt);

// A poll descriptor (Go's pollDesc): one per socket, registered once with
// EPOLLIN|EPOLLOUT|EPOLLRDHUP|EPOLLET. Everything below `lock` is guarded
// by it. Readiness is latched (rg/wg) because epoll reports each
// edge once: an edge that arrives while nobody waits must not be lost.
struct polldesc {
  // Bumped (release) by poll_open before it registers fd; netpoll loads it
  // (acquire) before touching a descriptor an event names. The kernel
  // already orders epoll_ctl before the epoll_wait that reports the fd, but
  // the C++ memory model (and ThreadSanitizer) cannot see through the
  // syscalls: this pair states the edge, so the descriptor's initialisation
  // happens-before the poller's use of it.
  detail::atomic<std::uint32_t> fdseq{0};
  // Lock order (spec/memory-model.md, "Lock order"): before a timer_heap
  // lock (timer_mod and timer_del under it; checked by clang, as in schedt);
  // a fire takes it with no timer lock held.
  futex_lock lock GORO_ACQUIRED_BEFORE(timer_heap::lock);
  // Written by poll_open (under lock) before the descriptor is handed out,
  // then fixed until poll_free: its owner reads it without the lock.
  int fd = -1;
  // The runtime whose epoll instance holds fd (its generation number; 0:
  // none, the fd is waited for with poll(2) by the calling thread).
  std::uint64_t rtgen GORO_GUARDED_BY(lock) = 0;
  bool closing GORO_GUARDED_BY(lock) = false;
  // The readiness latches and the goroutine parked on each, for reading
  // (rg) and writing (wg), at most one each (Go's pollDesc.rg / wg;
  // netpoll/poll_latch.hpp, checked by c11/netpoll_c11.cpp).
  poll_latch<waiter> rg GORO_GUARDED_BY(lock);
  poll_latch<waiter> wg GORO_GUARDED_BY(lock);
  // The goroutine parked for reading (writing) was abandoned by its runtime
  // and taken off rg (wg) at teardown. It holds the socket's read (write)
  // lock for ever, so close must not wait for that call (net.cpp).
  bool rabandoned GORO_GUARDED_BY(lock) = false;
  bool wabandoned GORO_GUARDED_BY(lock) = false;
  // fd is a duplicate made by poll_wait_fd for one wait: a goroutine
  // abandoned in that wait closes it at teardown (nobody else will).
  bool close_on_abandon GORO_GUARDED_BY(lock) = false;
  // Deadlines: 0 none, -1 passed, else a nanotime() value (never
  // INT64_MAX: a deadline that far means none).
  std::int64_t rd GORO_GUARDED_BY(lock) = 0;
  std::int64_t wd GORO_GUARDED_BY(lock) = 0;
  // One timer per direction (Go's pollDesc.rt / wt), pending exactly while
  // that deadline is in the future, an open descriptor's and its runtime's
  // (rtgen) is running: set_deadline modifies it in place (timer_mod), a
  // deadline removed, passed or moved to "none" and poll_close delete it
  // (timer_del), so a socket holds at most two timers whatever its owner
  // does. Its fire checks the deadline under `lock` against the clock, so a
  // timer popped to fire just before its deadline moved does nothing.
  // Embedded: the descriptor's memory is never freed (see above), so a
  // timer being fired never outlives it.
  timer rt, wt;
  polldesc* link = nullptr;  // free list
};

enum class poll_mode { read, write };

// Allocates a descriptor for fd and registers fd with the running runtime's
// netpoller if there is one (else it stays with rtgen 0). A descriptor not
// registered with the caller's runtime (opened before run, or in an earlier
// run) is registered with it on its first wait or deadline there. Throws
// std::system_error on failure (fd is left open: the caller owns it).
// Called from: socket callers
// Locks: none held; takes the pool's lock, pd->lock and, off an M, the
//   active-runtime lock (each released before the next)
// May switch: no
polldesc* poll_open(int fd);
// Marks pd closing and wakes its waiters (they fail with EBADF, Go's "use
// of closed network connection"); deregisters fd. Does not close fd.
// Returns which directions have a call in flight that will never end (its
// goroutine was abandoned): poll_abandoned_read | poll_abandoned_write.
constexpr unsigned poll_abandoned_read = 1, poll_abandoned_write = 2;
// Called from: socket callers
// Locks: none held; takes (off an M) the active-runtime lock, then pd->lock
//   and under it the deadline timers' heap locks (polldesc.lock <
//   timer_heap.lock)
// May switch: no
unsigned poll_close(polldesc* pd);
// Returns pd to the pool. Nothing may use pd afterwards.
// Called from: socket callers
// Locks: none held; takes the pool's lock (and releases it)
// May switch: no
void poll_free(polldesc* pd);

// Waits until fd may be ready for mode. Returns 0 when the caller should
// retry its call, ETIMEDOUT when the deadline for mode has passed, EBADF
// when pd is closing. A goroutine parks (io_wait), registering pd with its
// runtime first if pd belongs to none running; a thread without a P (or a
// goroutine whose runtime could not take the fd) waits in poll(2).
// Called from: G with P (parks, io_wait) | G in a call | foreign thread
//   (both wait in poll(2))
// Locks: none held; takes pd->lock (released by the park, or before
//   returning) and, adopting pd, a heap lock under it
// May switch: yes (a G with a P)
int poll_wait(polldesc* pd, poll_mode mode);
// wait_readable / wait_writable (goro/net.hpp): waits until fd, which
// the caller owns and the runtime does not manage, is ready for mode, or
// until `deadline` (a nanotime() value; 0 none, INT64_MAX none, <0 or
// already past: ETIMEDOUT at once). Returns 0 (ready; a regular file,
// which epoll refuses with EPERM, is always ready), ETIMEDOUT, or an errno
// (EBADF for a closed fd). A goroutine with a P registers a duplicate of fd
// with its runtime's epoll for the wait (EPOLL_CTL_ADD then DEL, the
// duplicate closed afterwards: a number the caller closes and the kernel
// reuses is never touched) and parks; any other caller waits in poll(2).
// The one function per direction a context-taking form can call with the
// context's deadline.
// Called from: socket callers
// Locks: none held; as poll_open, poll_set_deadline, poll_wait, poll_close
// May switch: yes (a G with a P)
int poll_wait_fd(int fd, poll_mode mode, std::int64_t deadline);
// Checks the deadline and closing state before an operation: 0, ETIMEDOUT
// or EBADF, as poll_wait.
// Called from: socket callers
// Locks: none held; takes pd->lock (and releases it)
// May switch: no
int poll_check(polldesc* pd, poll_mode mode);
// Sets the deadline of the given modes: `when` is a nanotime() value, or 0
// (or INT64_MAX) for none. A deadline already past fails waiters at once;
// a future one (re)arms the direction's timer: in place where it is
// pending, else on the caller's P (or P0 from a thread outside the
// runtime).
// Called from: socket callers
// Locks: none held; takes (off an M) the active-runtime lock, then pd->lock
//   and under it heap locks (timer_mod / timer_del), all released on return
// May switch: no
void poll_set_deadline(polldesc* pd, std::int64_t when, bool read, bool write);

}  // namespace goro::detail
