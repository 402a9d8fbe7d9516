// sysmon: the monitor thread (Go's runtime.sysmon). It holds no P and runs
// no goroutine. Every tick it
//  - retakes Ps left in blocking calls (status syscall) and hands them to
//    other Ms (handoffp), so one goroutine in a long call cannot stall its P;
//  - asks goroutines that have run longer than options::time_slice to yield
//    (preemptone: a flag, plus a signal with async preemption);
//  - starts an M when a timer is overdue and nobody is about to run it.
// It sleeps 20 µs at first and doubles its sleep after 50 ticks with nothing
// to do, up to 10 ms, as Go's does; a retake or a preemption makes it
// attentive again. It never sleeps past the moment the oldest running time
// slice expires, so preemption lands close to time_slice.
#include "sysmon/sysmon.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "sched/coarse_clock.hpp"
#include "sched/dump.hpp"
#include "sched/proc.hpp"
#include "sched/psyscall.hpp"
#include "sim/controller.hpp"
#include "sim/trace_log.hpp"
#include "sysmon/stallwarn.hpp"
#include "trace/trace.hpp"

namespace goro::detail {

namespace {

constexpr std::int64_t sysmon_min_delay = 20'000;             // 20 µs
constexpr std::int64_t sysmon_max_delay = 10'000'000;         // 10 ms
constexpr std::int64_t sysmon_netpoll_interval = 10'000'000;  // 10 ms, as Go
// A P in a blocking call with nothing queued behind it, while other Ms spin
// or sit idle (so new work would be picked up anyway), is left alone this
// long before it is retaken: retaking it would only cost a thread (Go: 10 ms).
constexpr std::int64_t syscall_grace = 10'000'000;

// Whether kernel thread `tid` of this process sleeps in the kernel (state S,
// interruptible, or D, uninterruptible, in /proc/self/task/<tid>/stat): a
// goroutine's thread that does so without entersyscall waits for something
// goro does not know of. Read only for Ps whose G has ignored preemption
// requests for a whole slice, at most once per slice each, so a busy
// runtime never touches /proc.
bool thread_sleeps_in_kernel(int tid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/self/task/%d/stat", tid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[512];
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return false;
  buf[n] = 0;
  // "tid (comm) S ...": comm may hold spaces and parentheses; the state
  // follows the last ')'.
  const char* close_paren = std::strrchr(buf, ')');
  if (!close_paren || close_paren[1] != ' ') return false;
  char state = close_paren[2];
  return state == 'S' || state == 'D';
}

struct retake_result {
  int acted = 0;                 // Ps retaken or preempted
  std::int64_t next_expiry = 0;  // earliest end of a running time slice (0: none)
};

// Go's retake. sysmontick is sysmon's own record of what it saw of each P at
// its previous look: a P whose schedtick has not moved since `schedwhen`
// runs the same G; one whose syscalltick has not moved is in the same call.
retake_result retake(runtime& rt, std::int64_t now) {
  retake_result res;
  const std::int64_t slice = rt.opts.time_slice.count();
  std::uint32_t n = rt.gomaxprocs.load(std::memory_order_acquire);
  for (std::uint32_t i = 0; i < n; i++) {
    p* pp = rt.allp[i].load(std::memory_order_acquire);
    auto& pd = pp->sysmontick;
    pstatus st = pp->status.load(std::memory_order_acquire);
    bool sysretake = false;
    if (st == pstatus::running || st == pstatus::syscall) {
      std::uint32_t t = pp->schedtick.load(std::memory_order_relaxed);
      if (pd.schedtick != t) {
        pd.schedtick = t;
        pd.schedwhen = now;
        pp->kernel_blocked.store(false, std::memory_order_relaxed);  // a stale hint
      } else if (pd.schedwhen + slice <= now) {
        // Requests ignored for a further slice, and the M's thread asleep in
        // the kernel: the G is blocked on something goro cannot see (a lock
        // a preempted goroutine holds: a magic static's guard, call_once, a
        // std::mutex). Tell the handler it may detach the M from the P (an
        // entersyscall on the G's behalf); Retake then hands the P on.
        // relaxed: a hint, published to the handler by the signal below;
        // if it is missed, the next tick repeats it.
        if (st == pstatus::running && rt.opts.async_preempt && pd.schedwhen + 2 * slice <= now &&
            pd.kernel_checked + slice <= now) {
          pd.kernel_checked = now;
          m* mp = pp->m_.load(std::memory_order_acquire);  // pairs with acquirep: mp->tid
          if (mp && mp->tid != 0 && thread_sleeps_in_kernel(mp->tid))
            pp->kernel_blocked.store(true, std::memory_order_relaxed);
        }
        // The same G for a whole slice: ask it to yield, again at every
        // tick until it does (an asynchronous preemption that found the G
        // at an unsafe point is retried this way). Only the first request
        // of a slice counts as activity, so a G that ignores requests (no
        // preemption points, async_preempt off) lets sysmon back off.
        preemptone(rt, pp);
        sysretake = true;
        if (pd.preempted_slice != pd.schedwhen) {
          pd.preempted_slice = pd.schedwhen;
          res.acted++;
        }
      }
      if (st == pstatus::running && pd.schedwhen + slice > now) {
        std::int64_t expiry = pd.schedwhen + slice;
        if (res.next_expiry == 0 || expiry < res.next_expiry) res.next_expiry = expiry;
      }
    }
    if (st != pstatus::syscall) continue;
    std::uint32_t t = pp->syscalltick.load(std::memory_order_relaxed);
    if (!sysretake && pd.syscalltick != t) {
      // A new call since our last look: give it one tick.
      pd.syscalltick = t;
      pd.syscallwhen = now;
      continue;
    }
    if (runqempty(pp) &&
        rt.sched.nmspinning.load(std::memory_order_relaxed) +
                rt.sched.npidle.load(std::memory_order_relaxed) >
            0 &&
        pd.syscallwhen + syscall_grace > now)
      continue;
    // Claim it from the M in the call (whose exitsyscall CASes too: exactly
    // one of us wins; sched/psyscall.hpp, checked by c11/syscall_c11.cpp).
    // acquire: we see the P as its last holder left it (no release: we
    // hand the P on only through handoffp's own lock or note).
    retakep(*pp, [&](p& won) {
      if constexpr (sim) simulator::trace_p(simulator::pev::retake, &won, nullptr);
      trace::proc_steal(&won);
      won.syscalltick.store(t + 1, std::memory_order_relaxed);
      rt.nretakes.fetch_add(1, std::memory_order_relaxed);
      res.acted++;
      handoffp(rt, &won);
    });
  }
  return res;
}

void sysmon_main(runtime* rt) {
  pthread_setname_np(pthread_self(), "goro-sysmon");
  int idle = 0;
  std::int64_t delay = sysmon_min_delay;
  std::int64_t next_expiry = 0;
  std::int64_t next_deadcheck = 0;
  // GORO_DEBUG=schedtrace: a SCHED line every `trace_period`, the first at
  // sysmon's first tick ("SCHED 0ms", as Go's first line), timed from it.
  const std::int64_t trace_period = rt->debug.schedtrace * 1'000'000;
  std::int64_t trace_start = 0, next_trace = 0;
  while (!rt->stopping.load(std::memory_order_acquire)) {
    if (idle == 0) delay = sysmon_min_delay;
    else if (idle > 50) delay *= 2;
    if (delay > sysmon_max_delay) delay = sysmon_max_delay;
    std::int64_t wake = nanotime() + delay;
    if (next_expiry != 0 && next_expiry < wake) wake = next_expiry;
    // The adaptive sleep (up to 10 ms) never delays a trace line (Go keeps
    // sysmon out of its deep sleep while schedtrace is on for the same end).
    if (trace_period != 0 && next_trace != 0 && next_trace < wake) wake = next_trace;
    rt->sysmon_note.sleep_until(wake);
    if (rt->stopping.load(std::memory_order_acquire)) break;
    std::int64_t now = nanotime();
    coarse_now.store(now, std::memory_order_relaxed);  // gopark's stamp (sched/coarse_clock.hpp)
    sysmon_sigquit_poll(*rt, now);                     // a SIGQUIT's dump (sched/dump.cpp)
    if (trace_period != 0 && now >= next_trace) {
      if (trace_start == 0) trace_start = now;
      schedtrace(*rt, rt->debug.scheddetail != 0, (now - trace_start) / 1'000'000);
      // From the schedule, not from now, so lines keep their period; after
      // a stall (a suspended process) the next one is a period from now.
      next_trace = next_trace == 0 ? now + trace_period : next_trace + trace_period;
      if (next_trace <= now) next_trace = now + trace_period;
    }
    // An overdue timer with an idle P and no M sleeping for timers: start an
    // M on that P (findrunnable runs every P's due timers before parking).
    if (std::int64_t w = earliest_timer(*rt);
        w != 0 && w < now && rt->sched.npidle.load(std::memory_order_relaxed) > 0 &&
        rt->sched.timer_sleeper.load(std::memory_order_relaxed) == nullptr)
      startm(*rt, nullptr, false);
    // Sockets nobody has polled for 10 ms (every M busy running goroutines,
    // none blocked in netpoll): poll here and hand what is ready to the
    // global queue, so busy Ps cannot starve the network (Go's sysmon).
    netpoller& np = rt->netpoll;
    if (std::int64_t last = np.lastpoll.load(std::memory_order_relaxed);
        last != 0 && now - last > sysmon_netpoll_interval &&
        np.waiters.load(std::memory_order_relaxed) != 0 &&
        np.lastpoll.compare_exchange_strong(last, now, std::memory_order_relaxed)) {
      netpoll_ready_list list;
      netpoll(*rt, 0, list);
      for (int i = 0; i < list.n; i++) ready(list.w[i]);
    }
    // Everything asleep, but threads outside the runtime kept checkdead
    // from declaring a deadlock: ask again (one may have exited).
    if (now >= next_deadcheck) {
      next_deadcheck = now + sysmon_max_delay;
      checkdead_recheck(*rt);
    }
    retake_result r = retake(*rt, now);
    next_expiry = r.next_expiry;
    stallwarn_check(*rt, now);  // GORO_DEBUG=stallwarn (sysmon/stallwarn.cpp)
    idle = r.acted != 0 ? 0 : idle + 1;
  }
}

}  // namespace

void sysmon_start(runtime& rt) {
  coarse_now.store(nanotime(), std::memory_order_relaxed);
  if constexpr (sim) rt.sysmon_thread = simulator::spawn_thread(sysmon_main, &rt);
  else rt.sysmon_thread = std::thread(sysmon_main, &rt);
}

void sysmon_stop(runtime& rt) {
  rt.sysmon_note.wakeup();
  if constexpr (sim) simulator::join(rt.sysmon_thread);
  else if (rt.sysmon_thread.joinable()) rt.sysmon_thread.join();
}

}  // namespace goro::detail
