// The network poller: see netpoll.hpp for the design.
#include "netpoll/netpoll.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <mutex>
#include <system_error>

#include "base/build_config.hpp"
#include "sched/chaos.hpp"
#include "sched/proc.hpp"
#include "sim/controller.hpp"
#include "sync/park.hpp"

namespace goro::detail {

namespace {

// The epoll_event data of the eventfd: no polldesc has this address.
char break_marker;

std::system_error sys_error(int err, const char* what) {
  return std::system_error(err, std::generic_category(), what);
}

}  // namespace

void netpoll_init(runtime& rt) {
  netpoller& np = rt.netpoll;
  np.epfd = epoll_create1(EPOLL_CLOEXEC);
  if (np.epfd < 0) throw sys_error(errno, "goro::run: netpoll: epoll_create1");
  np.breakfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (np.breakfd < 0) {
    int err = errno;
    ::close(np.epfd);
    np.epfd = -1;
    throw sys_error(err, "goro::run: netpoll: eventfd");
  }
  epoll_event ev{};
  ev.events = EPOLLIN;  // level-triggered: readable until drained
  ev.data.ptr = &break_marker;
  if (epoll_ctl(np.epfd, EPOLL_CTL_ADD, np.breakfd, &ev) < 0) {
    int err = errno;
    netpoll_close(rt);
    throw sys_error(err, "goro::run: netpoll: epoll_ctl(eventfd)");
  }
}

void netpoll_close(runtime& rt) {
  netpoller& np = rt.netpoll;
  if (np.breakfd >= 0) ::close(np.breakfd);
  if (np.epfd >= 0) ::close(np.epfd);
  np.breakfd = np.epfd = -1;
}

void netpoll_break(runtime& rt) {
  netpoller& np = rt.netpoll;
  // One write until the poller drains it: the CAS makes concurrent breakers
  // (timer adders, shutdown) write once between two polls. Pairs with
  // netpoll's relaxed reset to 0 after the drain. seq_cst, as Go's Cas on
  // netpollWakeSig; only its atomicity is relied on: the word publishes
  // nothing, since what a break announces is ordered by its own protocol
  // (timer_sleep_until's StoreLoad fences, `stopping`'s seq_cst store), and
  // the eventfd write and read order the wake itself.
  std::uint32_t zero = 0;
  if (!np.wake_sig.compare_exchange_strong(zero, 1, std::memory_order_seq_cst)) return;
  std::uint64_t one = 1;
  for (;;) {
    ssize_t r = ::write(np.breakfd, &one, sizeof one);
    if (r == sizeof one || errno == EAGAIN) return;  // EAGAIN: counter full, still readable
    if (errno != EINTR) fatal("netpoll_break: write(eventfd): %s", std::strerror(errno));
  }
}

namespace {

int epoll_wait_ns(int epfd, epoll_event* evs, int n, std::int64_t delay_ns) {
  if (delay_ns < 0) return epoll_wait(epfd, evs, n, -1);
  if (delay_ns == 0) return epoll_wait(epfd, evs, n, 0);
#ifdef __GLIBC__
  // Nanosecond timeouts (Linux 5.11): a sleep's lateness should not be
  // rounded to the next millisecond.
  static detail::atomic<bool> no_pwait2{false};
  if (!no_pwait2.load(std::memory_order_relaxed)) {
    timespec ts{static_cast<time_t>(delay_ns / 1'000'000'000),
                static_cast<long>(delay_ns % 1'000'000'000)};
    int r = epoll_pwait2(epfd, evs, n, &ts, nullptr);
    if (r >= 0 || errno != ENOSYS) return r;
    no_pwait2.store(true, std::memory_order_relaxed);
  }
#endif
  // Round up: waking before the timer is due would only poll again.
  std::int64_t ms = (delay_ns + 999'999) / 1'000'000;
  return epoll_wait(epfd, evs, n, ms > 1'000'000'000 ? 1'000'000'000 : static_cast<int>(ms));
}

}  // namespace

void netpoll(runtime& rt, std::int64_t delay_ns, netpoll_ready_list& out) {
  netpoller& np = rt.netpoll;
  epoll_event evs[netpoll_ready_list::max_events];
  int n;
  if constexpr (sim) {
    // sim: only non-blocking polls reach the kernel. A blocking poll waits
    // in the controller on wake_sig (netpoll_break sets it before writing
    // the eventfd) until a break or its virtual deadline, then polls again.
    // Sockets made ready by the kernel alone are seen only at such polls.
    if (simulator::participant() && delay_ns != 0) {
      std::int64_t deadline = delay_ns < 0 ? 0 : simulator::now() + delay_ns;
      for (;;) {
        n = epoll_wait(np.epfd, evs, netpoll_ready_list::max_events, 0);
        if (n != 0) break;
        if (simulator::futex_wait(&np.wake_sig, 0, deadline)) {
          n = epoll_wait(np.epfd, evs, netpoll_ready_list::max_events, 0);
          break;
        }
      }
    } else {
      n = epoll_wait_ns(np.epfd, evs, netpoll_ready_list::max_events, delay_ns);
    }
  } else {
    n = epoll_wait_ns(np.epfd, evs, netpoll_ready_list::max_events, delay_ns);
  }
  if (n < 0) {
    if (errno == EINTR) return;  // a signal (SIGURG for a preemption): the caller loops
    fatal("netpoll: epoll_wait: %s", std::strerror(errno));
  }
  for (int i = 0; i < n; i++) {
    epoll_event& ev = evs[i];
    if (ev.data.ptr == &break_marker) {
      // Only a blocking poll consumes a break: it is addressed to the M that
      // blocks (or is about to), and a non-blocking poll by another M must
      // not swallow it (as Go's netpoll).
      if (delay_ns != 0) {
        std::uint64_t v;
        while (::read(np.breakfd, &v, sizeof v) < 0 && errno == EINTR) {
        }
        // After the drain: a break written from here on is a new one.
        np.wake_sig.store(0, std::memory_order_relaxed);
      }
      continue;
    }
    auto* pd = static_cast<polldesc*>(ev.data.ptr);
    (void)pd->fdseq.load(std::memory_order_acquire);  // see polldesc::fdseq
    bool r = ev.events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR);
    bool w = ev.events & (EPOLLOUT | EPOLLHUP | EPOLLERR);
    // Latch each edge, taking its waiter if one is parked (poll_latch.hpp).
    poll_latch_ready(*pd, r, w, [&](waiter* x) { out.w[out.n++] = x; });
  }
}

// ---------------------------------------------------------------------------
// Poll descriptors.

namespace {

// A deadline timer's fire (Go's netpolldeadlineimpl): the deadline passed
// unless it moved meanwhile (the timer may have been popped just before a
// set_deadline), so it is checked under pd->lock against the clock; a
// timer is never early, so a deadline it was armed for is due.
void deadline_fire(polldesc* pd, poll_mode mode) {
  waiter* w = nullptr;
  pd->lock.lock();
  std::int64_t& dl = mode == poll_mode::read ? pd->rd : pd->wd;
  if (dl > 0 && dl <= nanotime()) {
    dl = -1;
    w = (mode == poll_mode::read ? pd->rg : pd->wg).take();
  }
  pd->lock.unlock();
  if (w) ready(w);
}
void deadline_fire_read(timer* t) {
  deadline_fire(static_cast<polldesc*>(t->arg), poll_mode::read);
}
void deadline_fire_write(timer* t) {
  deadline_fire(static_cast<polldesc*>(t->arg), poll_mode::write);
}

// Caller holds pd->lock; pd is open and belongs to no running runtime (its
// rtgen is another's, or 0). Registers pd's fd with rt's epoll instance and
// arms pd's future deadlines on pp's heap. Edge-triggered EPOLL_CTL_ADD
// reports the fd's current readiness as an event, so an edge from before
// is not lost. False (pd unchanged) if epoll refuses the fd.
bool adopt_locked(polldesc* pd, runtime& rt, p* pp) GORO_REQUIRES(pd->lock) {
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.ptr = pd;
  if (epoll_ctl(rt.netpoll.epfd, EPOLL_CTL_ADD, pd->fd, &ev) < 0 && errno != EEXIST) return false;
  pd->rtgen = rt.gen;
  // A deadline already due needs no timer: check_locked answers ETIMEDOUT.
  std::int64_t now = nanotime();
  if (pd->rd > now) {
    timer_mod(&pd->rt, pd->rd, pp->timers);
    wake_timer_sleeper(rt, pd->rd);
  }
  if (pd->wd > now) {
    timer_mod(&pd->wt, pd->wd, pp->timers);
    wake_timer_sleeper(rt, pd->wd);
  }
  return true;
}

// The pool: descriptors are never freed (see netpoll.hpp), so a deque that
// only grows, plus a free list. Deliberately never destroyed, not even at
// exit: a thread still closing a socket then must find its memory valid.
// A runtime lock, not a std::mutex: goroutines take it, and a goroutine
// preempted (SIGURG) while holding a std::mutex would leave every M that
// then runs into it blocked in the kernel with the holder unable to run
// (the echo test hung exactly so). futex_lock counts in lock_depth, which
// the preemption handler respects.
futex_lock pd_pool_mu;
std::deque<polldesc>& pd_pool = *new std::deque<polldesc>;
polldesc* pd_free = nullptr;

// The runtime the caller belongs to (its M's), or else the one running in
// the process, retained; null if none runs. The caller releases it.
runtime* retain_current_runtime() {
  {
    nopreempt np;
    if (m* mp = getm()) {
      mp->rt->retain();
      return mp->rt;
    }
  }
  return acquire_active();
}

}  // namespace

namespace {
// poll_open's last write, after the lock is released: nobody else can reach
// pd yet (a previous owner's deadline fire reads rd and wd, never rtgen), so
// it needs no lock, which the analysis cannot know.
void set_rtgen_unshared(polldesc* pd, std::uint64_t gen) GORO_NO_THREAD_SAFETY_ANALYSIS {
  pd->rtgen = gen;
}
}  // namespace

namespace {
// A descriptor from the pool, reset for fd, registered nowhere (rtgen 0).
polldesc* pd_alloc(int fd) {
  polldesc* pd;
  {
    std::lock_guard<futex_lock> lk(pd_pool_mu);
    if (pd_free) {
      pd = pd_free;
      pd_free = pd->link;
    } else {
      pd = &pd_pool.emplace_back();
      // Once per descriptor's life, which never ends: a fire in flight
      // for a previous owner reads these, so they are never rewritten.
      pd->rt.fire = deadline_fire_read;
      pd->rt.arg = pd;
      pd->wt.fire = deadline_fire_write;
      pd->wt.arg = pd;
    }
  }
  pd->lock.lock();
  pd->fd = fd;
  pd->rtgen = 0;
  pd->closing = false;
  pd->rg.reset();
  pd->wg.reset();
  // A timer of the previous owner's still firing finds no deadline (or
  // ours, which it then enforces correctly: it checks the clock).
  pd->rabandoned = pd->wabandoned = false;
  pd->close_on_abandon = false;
  pd->rd = pd->wd = 0;
  pd->link = nullptr;
  pd->lock.unlock();
  pd->fdseq.fetch_add(1, std::memory_order_release);
  return pd;
}
}  // namespace

polldesc* poll_open(int fd) {
  polldesc* pd = pd_alloc(fd);

  runtime* rt = retain_current_runtime();
  if (!rt) return pd;  // no runtime: the fd is waited for with poll(2)
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.ptr = pd;
  int rc = epoll_ctl(rt->netpoll.epfd, EPOLL_CTL_ADD, fd, &ev);
  int err = errno;
  std::uint64_t gen = rt->gen;
  rt->release();
  if (rc < 0) {
    poll_free(pd);
    throw sys_error(err, "goro::net: epoll_ctl(EPOLL_CTL_ADD)");
  }
  // Published before the descriptor reaches anyone else (the caller hands
  // pd out only after we return).
  set_rtgen_unshared(pd, gen);
  return pd;
}

unsigned poll_close(polldesc* pd) {
  // Not preemptible from taking the waiters to readying them (park.cpp,
  // ready): teardown waits for their goready.
  nopreempt np;
  // Retained first: the deadline timers below may sit in its heaps.
  runtime* rt = retain_current_runtime();
  pd->lock.lock();
  unsigned abandoned = (pd->rabandoned ? poll_abandoned_read : 0) |
                       (pd->wabandoned ? poll_abandoned_write : 0);
  pd->closing = true;
  // Pending deadline timers go with the socket (Go's poll_runtime_pollClose
  // deletes rt and wt): a closed socket keeps no timer, so it neither grows
  // the heaps nor keeps deadlock detection off. Only pd's own runtime's
  // heaps can hold them (they are armed only there, and a torn-down
  // runtime's heaps let go of theirs); `closing`, set in this same critical
  // section, keeps poll_set_deadline from arming them again.
  if (rt && rt->gen == pd->rtgen) {
    timer_del(&pd->rt);
    timer_del(&pd->wt);
  }
  waiter* rw = pd->rg.take();
  waiter* ww = pd->wg.take();
  std::uint64_t gen = pd->rtgen;
  pd->lock.unlock();
  if (rw) ready(rw);
  if (ww) ready(ww);
  // Deregister while the fd is still open (the caller closes it after us).
  // The runtime may have ended since poll_open: its epoll instance (and the
  // registration) went with it.
  if (gen != 0 && rt && rt->gen == gen) epoll_ctl(rt->netpoll.epfd, EPOLL_CTL_DEL, pd->fd, nullptr);
  if (rt) rt->release();
  return abandoned;
}

void poll_free(polldesc* pd) {
  std::lock_guard<futex_lock> lk(pd_pool_mu);
  pd->link = pd_free;
  pd_free = pd;
}

namespace {

// Caller holds pd->lock.
int check_locked(polldesc* pd, poll_mode mode) GORO_REQUIRES(pd->lock) {
  if (pd->closing) return EBADF;
  std::int64_t dl = mode == poll_mode::read ? pd->rd : pd->wd;
  if (dl < 0) return ETIMEDOUT;
  if (dl > 0 && dl <= nanotime()) {
    // Due, and its timer has not run yet: the same answer it will give.
    return ETIMEDOUT;
  }
  return 0;
}

// A thread (no P, or another runtime's descriptor) waits in poll(2). It
// wakes at least every 20 ms to see a close or a deadline change made by
// another thread, which poll(2) cannot be told about.
int poll_wait_thread(polldesc* pd, poll_mode mode) {
  for (;;) {
    pd->lock.lock();
    int err = check_locked(pd, mode);
    std::int64_t dl = mode == poll_mode::read ? pd->rd : pd->wd;
    bool latched = (mode == poll_mode::read ? pd->rg : pd->wg).consume();
    int fd = pd->fd;
    pd->lock.unlock();
    if (err) return err;
    if (latched) return 0;
    std::int64_t slice = 20'000'000;
    if (dl > 0) {
      std::int64_t left = dl - nanotime();
      if (left < slice) slice = left < 0 ? 0 : left;
    }
    pollfd pfd{fd, static_cast<short>(mode == poll_mode::read ? POLLIN | POLLRDHUP : POLLOUT), 0};
    int r = ::poll(&pfd, 1, static_cast<int>((slice + 999'999) / 1'000'000));
    if (r > 0) return 0;
    if (r < 0 && errno != EINTR) return errno;
  }
}

}  // namespace

int poll_check(polldesc* pd, poll_mode mode) {
  pd->lock.lock();
  int err = check_locked(pd, mode);
  pd->lock.unlock();
  return err;
}

int poll_wait(polldesc* pd, poll_mode mode) {
  runtime* rt = nullptr;
  {
    nopreempt np;
    m* mp = getm();
    // A goroutine: ours for as long as it runs.
    if (mp && mp->p_ && mp->curg.load(std::memory_order_relaxed)) rt = mp->rt;
  }
  if (!rt) return poll_wait_thread(pd, mode);
  // The window EdgeLatched covers: the caller's call said EAGAIN, and the
  // edge may be polled (by another M) before we are registered below.
  GORO_CHAOS_AT(chaos_site::netpoll_wait);
  pd->lock.lock();
  // Opened before this runtime ran (or in an earlier run): registered with
  // no epoll instance that still exists. Waiting for it in poll(2) would
  // keep this M's P (with one P, the whole runtime) for the whole wait, so
  // it joins our epoll instance now. nopreempt: getm()'s P stays ours (and
  // alive) while adopt_locked pushes timers onto it.
  if (pd->rtgen != rt->gen && !pd->closing) {
    bool adopted;
    {
      nopreempt npr;
      adopted = adopt_locked(pd, *rt, getm()->p_);
    }
    if (!adopted) {
      pd->lock.unlock();
      return poll_wait_thread(pd, mode);
    }
  }
  // The latch's wait loop (poll_latch.hpp) over our checks and our park.
  struct wait_env {
    runtime* rt;
    poll_mode mode;
    int check(polldesc& d) GORO_REQUIRES(d.lock) { return check_locked(&d, mode); }
    void park(polldesc& d, poll_latch<waiter>& slot) GORO_RELEASE(d.lock) {
      netpoller& np = rt->netpoll;
      waiter w;
      waiter_init(w);
      if (!slot.arm(&w))
        fatal("goro::net: two goroutines wait to %s the same socket (fd %d)",
              mode == poll_mode::read ? "read" : "write", d.fd);
      // Abandoned here (park.hpp, waiter_on_abandon): leave the slot, and
      // mark the direction's call as one that never ends (for close).
      struct link {
        polldesc* pd;
        waiter* w;
        bool read;
      } ln{&d, &w, mode == poll_mode::read};
      waiter_on_abandon(
          w,
          [](void* arg, bool readied) noexcept {
            auto* l = static_cast<link*>(arg);
            polldesc* pd = l->pd;
            pd->lock.lock();
            poll_latch<waiter>& s = l->read ? pd->rg : pd->wg;
            // Readied (a waker took us off the slot) but never run again: we
            // still hold the direction's call lock for ever, as a parked
            // caller does, so close must not wait for it either.
            bool found = readied || s.holds(l->w);
            if (found) {
              if (!readied) s.take();
              (l->read ? pd->rabandoned : pd->wabandoned) = true;
              // poll_wait_fd's duplicate: its frame will never close it.
              // Closed, not deregistered: the dying runtime's epoll
              // instance goes with it, and the descriptor is never freed,
              // so an event still queued there finds valid memory.
              if (pd->close_on_abandon) {
                ::close(pd->fd);
                pd->close_on_abandon = false;
              }
            }
            pd->lock.unlock();
            return found;
          },
          &ln);
      // Counted before the park commits, so a checkdead that finds every M
      // idle sees this goroutine as waiting for the network.
      np.waiters.fetch_add(1, std::memory_order_relaxed);
      park_unlock(w, d.lock, wait_reason::io_wait);
      // The last network waiter gone: an M blocked in netpoll with no timer
      // to wake it for would block for nothing; break its poll so it parks in
      // stopm instead, where deadlock detection can count it as idle.
      // StoreLoad against block_in_netpoll, which publishes its deadline and
      // then re-reads waiters: with a seq_cst fence on both sides, either we
      // see its INT64_MAX here or it sees our decrement (findrunnable.cpp).
      // Only the last waiter pays for the fence. The load is relaxed: the
      // fence orders it, and the value is only compared.
      if (np.waiters.fetch_sub(1, std::memory_order_relaxed) == 1) {
        fence(std::memory_order_seq_cst);
        if (rt->sched.timer_sleep_until.load(std::memory_order_relaxed) == INT64_MAX)
          netpoll_break(*rt);
      }
    }
  } env{rt, mode};
  return poll_latch_wait(*pd, mode == poll_mode::read, env);
}

void poll_set_deadline(polldesc* pd, std::int64_t when, bool read, bool write) {
  // Not preemptible from taking the waiters of a passed deadline to readying
  // them (park.cpp, ready): teardown waits for their goready.
  nopreempt np;
  if (when == INT64_MAX) when = 0;  // never comes: no deadline, and no timer kept pending
  // The runtime whose heaps take the timers: the caller's, or else the one
  // running. Retained before pd->lock (acquire_active takes a mutex).
  runtime* rt = retain_current_runtime();
  waiter* wake[2] = {nullptr, nullptr};
  std::int64_t now = nanotime();
  std::int64_t armed = 0;
  // nopreempt: the P read below stays ours (and alive: a P is retired only
  // with the world stopped) until the timers are on its heap.
  {
    nopreempt npr;
    pd->lock.lock();
    // Timers only while pd belongs to a running runtime (registering it with
    // rt if it belongs to none: opened before run). Without one, only
    // poll_wait_thread's own checks enforce the deadline.
    p* pp = nullptr;
    if (rt && !pd->closing) {
      m* mp = getm();
      p* mine = mp && mp->p_ && mp->rt == rt ? mp->p_ : nullptr;
      // From a thread outside the runtime: P0, which survives every
      // gomaxprocs change.
      p* dest = mine ? mine : rt->allp[0].load(std::memory_order_acquire);
      if (pd->rtgen == rt->gen || adopt_locked(pd, *rt, dest)) pp = dest;
    }
    for (int k = 0; k < 2; k++) {
      if (!(k == 0 ? read : write)) continue;
      std::int64_t& dl = k == 0 ? pd->rd : pd->wd;
      timer& t = k == 0 ? pd->rt : pd->wt;
      dl = when == 0 ? 0 : when <= now ? -1 : when;
      if (dl < 0) wake[k] = (k == 0 ? pd->rg : pd->wg).take();
      if (!pp) continue;
      // Lock order: polldesc.lock, then timer_heap.lock (the fire takes
      // pd->lock with no timer lock held, see run_timers).
      if (dl > 0) {
        timer_mod(&t, dl, pp->timers);
        armed = armed == 0 || dl < armed ? dl : armed;
      } else {
        timer_del(&t);
      }
    }
    pd->lock.unlock();
  }
  if (armed) wake_timer_sleeper(*rt, armed);
  if (rt) rt->release();
  for (waiter* w : wake)
    if (w) ready(w);
}

namespace {

// poll(2) for fd until ready or `deadline` (nanotime(), 0 none): a thread
// outside the runtime, or a goroutine in a blocking call.
int poll_fd_thread(int fd, short events, std::int64_t deadline) {
  for (;;) {
    int ms = -1;
    if (deadline > 0) {
      std::int64_t left = deadline - nanotime();
      if (left <= 0) return ETIMEDOUT;
      std::int64_t m = (left + 999'999) / 1'000'000;
      ms = m > 1'000'000'000 ? 1'000'000'000 : static_cast<int>(m);
    }
    pollfd pfd{fd, events, 0};
    int r = ::poll(&pfd, 1, ms);
    if (r > 0) return pfd.revents & POLLNVAL ? EBADF : 0;
    if (r < 0 && errno != EINTR) return errno;
  }
}

// Ready now? 1 yes, 0 no, -errno.
int poll_fd_now(int fd, short events) {
  for (;;) {
    pollfd pfd{fd, events, 0};
    int r = ::poll(&pfd, 1, 0);
    if (r > 0) return pfd.revents & POLLNVAL ? -EBADF : 1;
    if (r == 0) return 0;
    if (errno != EINTR) return -errno;
  }
}

}  // namespace

int poll_wait_fd(int fd, poll_mode mode, std::int64_t deadline) {
  if (deadline == INT64_MAX) deadline = 0;
  if (deadline < 0 || (deadline > 0 && deadline <= nanotime())) return ETIMEDOUT;
  short events = mode == poll_mode::read ? POLLIN : POLLOUT;
  // Ready already (the common case for a library that waits only after
  // EAGAIN is still a race it may win): one poll(2), no registration.
  int now = poll_fd_now(fd, events);
  if (now != 0) return now > 0 ? 0 : -now;
  runtime* rt = nullptr;
  {
    nopreempt np;
    m* mp = getm();
    if (mp && mp->p_ && mp->curg.load(std::memory_order_relaxed)) rt = mp->rt;
  }
  if (!rt) return poll_fd_thread(fd, events, deadline);
  // Our own number for the wait: the caller's may be closed and reused by
  // the time we deregister, and an EPOLL_CTL_DEL on a reused number could
  // remove another socket's registration. A duplicate also gets a
  // registration of its own when fd is registered already (another
  // goroutine waiting on it for the other direction, or a goro socket).
  int dup = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (dup < 0) return errno;
  polldesc* pd = pd_alloc(dup);
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.ptr = pd;
  // rt is ours while this goroutine runs (a goroutine never changes runtime).
  if (epoll_ctl(rt->netpoll.epfd, EPOLL_CTL_ADD, dup, &ev) < 0) {
    int err = errno;
    poll_free(pd);
    ::close(dup);
    // A regular file or a directory: epoll refuses it, and it is always
    // ready (as Go's poller treats regular files).
    return err == EPERM ? 0 : err;
  }
  pd->lock.lock();
  pd->rtgen = rt->gen;
  pd->close_on_abandon = true;
  pd->lock.unlock();
  if (deadline > 0)
    poll_set_deadline(pd, deadline, mode == poll_mode::read, mode == poll_mode::write);
  int err;
  for (;;) {
    err = poll_wait(pd, mode);
    if (err) break;
    // The latch may hold a stale edge (a previous owner's event, or one
    // for readiness taken away since): confirm, else wait for the next.
    int r = poll_fd_now(dup, events);
    if (r != 0) {
      err = r > 0 ? 0 : -r;
      break;
    }
  }
  pd->lock.lock();
  pd->close_on_abandon = false;
  pd->lock.unlock();
  poll_close(pd);  // deregisters dup, deletes the deadline timer
  ::close(dup);
  poll_free(pd);
  return err;
}

}  // namespace goro::detail
