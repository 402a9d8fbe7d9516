// findrunnable and the scheduler loop: the order in which an M looks for
// work (own timers, global queue every 61st tick, local queue, netpoll,
// stealing), and how it gives up its P without losing a wakeup.
#include "sched/internal.hpp"

#include "sched/chaos.hpp"
#include "time/timer_sleep.hpp"

namespace goro::detail {

namespace {

// Runs pp's timers that are due at `now`, if any (a racy peek first, so a P
// without due timers costs one load). True if some fired.
bool run_due_timers(p* pp, std::int64_t now) {
  std::int64_t when = pp->timers.when0.load(std::memory_order_relaxed);
  return when != 0 && when <= now && run_timers(pp->timers, now) > 0;
}

// Runs the due timers of every P. True if some fired.
bool run_all_due_timers(runtime& rt) {
  std::int64_t now = nanotime();
  bool ran = false;
  std::uint32_t n = rt.gomaxprocs.load(std::memory_order_relaxed);
  for (std::uint32_t i = 0; i < n; i++)
    ran |= run_due_timers(rt.allp[i].load(std::memory_order_relaxed), now);
  return ran;
}

// Readies the goroutines a poll found. With a P they go to its run queue
// (runnext, the last one first: Go's injectglist puts them on the local
// queue); without one, to the global queue through goready's P-less path.
void ready_polled(netpoll_ready_list& list) {
  for (int i = 0; i < list.n; i++) ready(list.w[i]);
  list.n = 0;
}

// Polls the network without blocking, unless an M is blocked in it (it
// will see the events) or nobody waits. An optimization before stealing:
// the blocking poll and sysmon's poll are what guarantee progress.
bool netpoll_nonblocking(runtime& rt) {
  netpoller& np = rt.netpoll;
  if (np.waiters.load(std::memory_order_relaxed) == 0 ||
      np.lastpoll.load(std::memory_order_relaxed) == 0)
    return false;
  netpoll_ready_list list;
  netpoll(rt, 0, list);
  np.lastpoll.store(nanotime(), std::memory_order_relaxed);
  bool any = list.n != 0;
  ready_polled(list);
  return any;
}

}  // namespace

// Having found no work: block in netpoll until the earliest timer (or with
// no timer, until a socket is ready, if goroutines wait for the network)
// instead of parking in stopm, if no other M already does (Go's
// findRunnable: "poll network until next timer"). Returns true with a P
// acquired if mp should look for work again, false if it should park
// (stopm) as usual.
bool block_in_netpoll(m* mp) {
  runtime& rt = *mp->rt;
  schedt& s = rt.sched;
  netpoller& np = rt.netpoll;
  std::int64_t when = earliest_timer(rt);
  if (when == 0 && np.waiters.load(std::memory_order_relaxed) == 0) return false;
  m* none = nullptr;
  // seq_cst, as before (Go's order). What the claim needs is acquire,
  // pairing with the last sleeper's release store of nullptr below, so that
  // its reset of timer_sleep_until comes before our store of it; the
  // StoreLoad against timer adders is the fences' job (here and in
  // wake_timer_sleeper).
  if (!s.timer_sleeper.compare_exchange_strong(none, mp, std::memory_order_seq_cst)) return false;
  // StoreLoad against wake_timer_sleeper (time/timer_sleep.hpp): an adder
  // publishes its timer (when0) and then reads our deadline, we publish the
  // deadline and then re-read the timers. With a fence on both sides, either
  // the adder sees a deadline later than its timer and breaks our poll, or we
  // see its timer now.
  when = timer_sleep_commit(s.timer_sleep_until, when, [&] { return earliest_timer(rt); });
  // With no deadline, read waiters again now that the deadline (INT64_MAX)
  // is published: the last network waiter may have left after our first
  // load and before the store, and then it read no deadline and did not
  // break the poll (poll_wait). Store buffering against poll_wait's
  // fetch_sub, fence, load of timer_sleep_until: the seq_cst fence in
  // timer_sleep_commit (after our store) and poll_wait's fence (after its
  // RMW) are totally ordered, so either it sees INT64_MAX and breaks the
  // poll, or this load sees its decrement. relaxed: the fences order it.
  // Without this the M would sleep in epoll_wait(-1) for nothing, and
  // checkdead, which needs every M idle, would not see a deadlock
  // (tla/PHandoff.tla, NpRecheck; mutant PHandoff_netpoll_no_recheck).
  if (when == 0 && np.waiters.load(std::memory_order_relaxed) == 0) {
    s.timer_sleep_until.store(0, std::memory_order_relaxed);
    s.timer_sleeper.store(nullptr, std::memory_order_release);
    return false;
  }
  netpoll_ready_list list;
  if (!rt.stopping.load(std::memory_order_acquire)) {
    std::int64_t delay = -1;
    if (when != 0) {
      delay = when - nanotime();
      if (delay < 0) delay = 0;
    }
    np.lastpoll.store(0, std::memory_order_relaxed);
    // A count (/goro/netpoll/blocks:calls), on a path about to sleep.
    rt.nnetpoll_blocks.fetch_add(1, std::memory_order_relaxed);
    netpoll(rt, delay, list);
    np.lastpoll.store(nanotime(), std::memory_order_relaxed);
  }
  s.timer_sleep_until.store(0, std::memory_order_relaxed);
  s.timer_sleeper.store(nullptr, std::memory_order_release);
  if (rt.stopping.load(std::memory_order_acquire)) return false;
  // Due now, an earlier timer arrived, or sockets are ready: continue from
  // an idle P. With no idle P every P has an M, and each runs its own
  // timers; the readied goroutines go to the global queue.
  p* pp;
  {
    sched_guard l(s);
    pp = pidleget(rt, *l);
  }
  if (!pp) {
    ready_polled(list);
    return false;
  }
  acquirep(mp, pp);
  ready_polled(list);
  return true;
}

namespace {

// Steals from the other Ps: up to 4 rounds over them in a random order;
// runnext is taken only in the last round.
g* stealwork(m* mp) {
  runtime& rt = *mp->rt;
  p* pp = mp->p_;
  constexpr int steal_tries = 4;
  for (int i = 0; i < steal_tries; i++) {
    bool last = i == steal_tries - 1;
    std::uint32_t n = rt.gomaxprocs.load(std::memory_order_relaxed);
    const auto& cop = rt.steal_coprimes;
    std::uint64_t r = fastrand(mp->fastrand);
    std::uint32_t pos = static_cast<std::uint32_t>(r % n);
    std::uint32_t inc = cop[(r >> 32) % cop.size()];
    std::int64_t now = last ? nanotime() : 0;
    for (std::uint32_t k = 0; k < n; k++, pos = (pos + inc) % n) {
      if (rt.sched.gcwaiting.load(std::memory_order_relaxed) ||
          rt.stopping.load(std::memory_order_relaxed))
        return nullptr;
      p* p2 = rt.allp[pos].load(std::memory_order_relaxed);
      if (p2 == pp) continue;
      // Last round: run the other Ps' due timers too, idle Ps included (a
      // P keeps its timers while idle). The Gs they ready land on our P.
      if (last && run_due_timers(p2, now)) {
        if (runq_result r = runqget(pp); r.gp) return r.gp;
      }
      // Skip Ps on the idle list (Go's idlepMask), not Ps whose status is
      // idle: a P retaken from a blocking call is idle by status while
      // handoffp decides, and its queue may hold work worth stealing.
      if (p2->idle_listed.load(std::memory_order_relaxed)) continue;
      GORO_CHAOS_POINT();
      // What runqsteal moved to our queue, plus the G it returns.
      std::uint32_t n = 0;
      if (g* gp = runqsteal(pp, p2, last, &n)) {
        owner_add(pp->stat.steals, n);
        return gp;
      }
    }
  }
  return nullptr;
}

}  // namespace

// Finds a runnable G for mp, which holds a P; parks the M while there is
// none. Returns {} only when the runtime is shutting down.
runq_result findrunnable(m* mp) {
  runtime& rt = *mp->rt;
  schedt& s = rt.sched;
  sched_env env{rt};
top:
  if (rt.stopping.load(std::memory_order_acquire)) return {};
  if (s.gcwaiting.load(std::memory_order_acquire)) {
    if (!gcstopm(mp)) return {};
    goto top;
  }
  {
    p* pp = mp->p_;
    // Our own due timers first: they ready Gs onto this P (Go's checkTimers).
    if (pp->timers.when0.load(std::memory_order_relaxed) != 0) run_due_timers(pp, nanotime());
    // Every 61st schedule, the global queue first, so a P busy with its own
    // queue cannot starve it (61: prime, so not in step with program loops).
    if (pp->schedtick.load(std::memory_order_relaxed) % 61 == 0 &&
        s.runqsize.load(std::memory_order_relaxed) > 0) {
      g* gp;
      {
        sched_guard l(s);
        gp = globrunqget(rt, *l, pp, 1);
      }
      if (gp) return {gp, false};
    }
    if (runq_result r = runqget(pp); r.gp) return r;
    if (s.runqsize.load(std::memory_order_relaxed) != 0) {
      g* gp;
      {
        sched_guard l(s);
        gp = globrunqget(rt, *l, pp, 0);
      }
      if (gp) return {gp, false};
    }
    // Sockets that became ready (Go polls here too, before stealing).
    if (netpoll_nonblocking(rt)) {
      if (runq_result r = runqget(pp); r.gp) return r;
    }
    // Spin (steal) only while fewer than half the busy Ps have a spinning M
    // (the decision: sched/spinning.hpp).
    if (spin::want_spin(env, mp)) {
      if (g* gp = stealwork(mp)) return {gp, false};
    }
    // Overdue timers anywhere (a non-spinning M skipped stealwork's timer
    // round): run them while we still hold a P to put their Gs on.
    if (std::int64_t w = earliest_timer(rt); w != 0 && w <= nanotime() && run_all_due_timers(rt)) {
      if (runq_result r = runqget(pp); r.gp) return r;
    }

    // Nothing found: give up the P (sched/spinning.hpp's give_up_p: under
    // sched.lock the global queue again and the needspinning check, then
    // pidleput; a spinning M then decrements nmspinning and re-checks
    // every run queue).
    //
    // Every source of work a spinner covers, and who covers it once we stop:
    //  - other Ps' local queues: the re-check (submitters: ready_wake);
    //  - the global queue: checked under sched.lock just before pidleput.
    //    A G put there later comes either from injectg, which under the same
    //    lock finds our idle P and starts an M for it, or from a G yielding
    //    or preempted on a running P (post_globrunqput), whose M reaches the
    //    global queue itself by its 61st tick or when its local queue is
    //    empty; Go re-checks the global queue after the decrement too, which
    //    would only start that G sooner;
    //  - timers: need no re-check. block_in_netpoll, next, reads every P's
    //    earliest timer after publishing its deadline (a fenced pair with
    //    wake_timer_sleeper, which every timer adder calls), and if another
    //    M already sleeps for timers, that M is the one woken. sysmon starts
    //    an M for an overdue timer that nobody sleeps for;
    //  - the network: the M blocked in netpoll (block_in_netpoll) readies
    //    the goroutines, or sysmon's poll when none is blocked there (every
    //    10 ms);
    //  - stop-the-world and shutdown: gcwaiting and stopping are re-read at
    //    `top` (restart_locked sends us there), and stopm re-reads stopping
    //    under sched.lock.
    spin::give_up_result<g> r = spin::give_up_p(env, mp);
    if (r.next == spin::give_up_next::retry) goto top;
    if (r.next == spin::give_up_next::run) return {r.gp, false};
  }
  if (block_in_netpoll(mp)) goto top;
  if (!stopm(mp)) return {};
  goto top;
}

void schedule_loop(m* mp) {
  for (;;) {
    // Go's schedule(): an M wired to a G (lock_os_thread) runs nothing else.
    // Its G has left the CPU: wait for it to be runnable again, on a P
    // handed to us (stoplockedm), and run it.
    if (g* lg = mp->lockedg.load(std::memory_order_relaxed)) [[unlikely]] {
      if (!stoplockedm(mp)) return;
      execute(mp, lg, false);
      continue;
    }
    // Its locked G exited: the thread retires (Go's goexit0 -> mexit).
    if (mp->mexit) [[unlikely]] {
      mexit_locked(mp);
      return;
    }
    runq_result r = findrunnable(mp);
    if (!r.gp) return;
    if (mp->spinning) resetspinning(mp);
    // Locked to another M: our P goes to it, and we park (startlockedm).
    if (r.gp->lockedm.load(std::memory_order_relaxed)) [[unlikely]] {
      if (!startlockedm(mp, r.gp)) return;
      continue;
    }
    execute(mp, r.gp, r.inherit_time);
  }
}

}  // namespace goro::detail
