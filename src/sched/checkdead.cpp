// Deadlock detection (Go's checkdead), including the proof that no thread
// outside the runtime can still wake a goroutine.
#include "sched/internal.hpp"

#include <fcntl.h>
#include <unistd.h>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>

#include "goro/deadlock.hpp"

namespace goro::detail {

// Threads outside the runtime (options::detect_deadlock automatic).
//
// Go reports a deadlock only when no M can run Go code; with cgo it counts
// the extra Ms that C threads call in on, so a cgo program is never reported.
// goro is a library: any thread of the process may hold a chan, mutex or
// wait_group (even one started before run() that has not used it yet), and
// the runtime cannot see which. So it reports only what it can prove: the
// process has no thread besides the runtime's own (its Ms, sysmon and the
// thread waiting in run) and the declared bystanders. A thread that exists may act; a
// thread that does not exist cannot be created except by one that exists,
// and the runtime's own threads are all idle then.
//
// Bystanders (goro::deadlock_bystander): counted in nbystanders while they
// live. bystander_exits is bumped after each one's decrement, when its thread
// exits, so that a reader can tell that one may have left /proc between its
// two reads (see no_outside_threads).
detail::atomic<std::int64_t> nbystanders{0};

namespace {

detail::atomic<std::uint64_t> bystander_exits{0};

struct bystander_registration {
  bool on = false;
  ~bystander_registration() {
    if (!on) return;
    // seq_cst, both: the decrement precedes the bump in the single total
    // order no_outside_threads reads them in.
    nbystanders.fetch_sub(1, std::memory_order_seq_cst);
    bystander_exits.fetch_add(1, std::memory_order_seq_cst);
  }
};

}  // namespace

thread_local bystander_registration tls_bystander;

namespace {

// Helper threads a sanitizer runtime starts on its own: ThreadSanitizer's
// background thread, started at the first pthread_create (sysmon's, at the
// latest). They never touch goro objects.
constexpr long sanitizer_threads = tsan ? 1 : 0;

// The number of threads of this process (num_threads, the 20th field of
// /proc/self/stat), or -1 if it cannot be read.
long process_threads() {
  int fd = ::open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char buf[1024];
  ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return -1;
  buf[n] = 0;
  // The command name (field 2) may hold spaces and parentheses: count the
  // fields after its last ')'. Field 3 is the first.
  const char* q = std::strrchr(buf, ')');
  if (!q) return -1;
  q++;
  for (int field = 3; field < 20; field++) {
    while (*q == ' ') q++;
    while (*q && *q != ' ') q++;
    if (!*q) return -1;
  }
  char* end = nullptr;
  long v = std::strtol(q, &end, 10);
  return end == q ? -1 : v;
}

}  // namespace

// True if no thread outside the runtime exists that could wake a goroutine.
// Caller holds sched.lock (mcount is stable). A bystander counted in `by`
// is alive when `by` is read; it can have left /proc before our read only by
// exiting in between, and then its bump of bystander_exits falls between our
// two reads of it (its decrement came after our read of nbystanders, so the
// bump comes after that too). So with both reads equal, every counted
// bystander is among the `n` threads, and n - own - by counts threads that
// may act. Threads created after our read are created by one counted there.
bool no_outside_threads(const sched_locked& l) {
  std::uint64_t e1 = bystander_exits.load(std::memory_order_seq_cst);
  std::int64_t by = nbystanders.load(std::memory_order_seq_cst);
  long n = process_threads();
  std::uint64_t e2 = bystander_exits.load(std::memory_order_seq_cst);
  if (n < 0 || e1 != e2) return false;  // unknown: not provable (sysmon asks again)
  // The runtime's own threads: its Ms (M0 among them), sysmon, the template
  // thread if a goroutine locked a thread, and the thread that called run,
  // which is not an M and only waits for shutdown.
  long own = l.mcount + 1 /* sysmon */ + 1 /* run's caller */ + l.ntemplate + sanitizer_threads;
  return n <= own + by;
}

// Go's checkdead, called with sched.lock held by every M about to park
// idle. When every M is idle (none runs a goroutine, spins, blocks in a
// call or in netpoll), every P is on the idle list (none is in transit to an
// M: startm and injectg take a P off the list and wake an M for it), no
// timer is pending and no goroutine waits for the network, then nothing in
// the runtime can ever run again: every goroutine is asleep. Returns the
// report then (once: rt.deadlocked), else null.
//
// A goroutine that is runnable at that point was lost: nobody will run it
// (tla/PHandoff.tla: NoDeadlockWhileRunnable). That is a scheduler bug,
// reported as a fatal error rather than as the program's deadlock.
std::exception_ptr checkdead(runtime& rt, sched_locked& l) {
  schedt& s = rt.sched;
  if (!rt.opts.detect_deadlock || l.deadlocked || rt.stopping.load(std::memory_order_relaxed))
    return nullptr;
  // MUTANT no_checkdead: never declare a deadlock (the program hangs instead).
  if (mutant_on(mutant_id::no_checkdead)) return nullptr;
  // Ms sleeping in stoplockedm wait for their locked G, asleep like the
  // others: not running (Go: mcount - nmidle - nmidlelocked).
  if (l.mcount - l.nmidle - l.nmidlelocked > 0) return nullptr;
  std::int32_t procs = static_cast<std::int32_t>(rt.gomaxprocs.load(std::memory_order_relaxed));
  if (s.npidle.load(std::memory_order_relaxed) != procs) return nullptr;
  if (s.gcwaiting.load(std::memory_order_relaxed)) return nullptr;
  // Exact now: only a running goroutine changes these, and none runs.
  if (rt.netpoll.waiters.load(std::memory_order_relaxed) != 0) return nullptr;
  // A pending timer will fire (sysmon starts an M for it if nobody sleeps
  // for it).
  if (earliest_timer(rt) != 0) return nullptr;
  std::size_t counts[static_cast<std::size_t>(wait_reason::count_)] = {};
  std::size_t asleep = 0;
  g* awake = nullptr;  // a live G that is not waiting, if any
  {
    std::lock_guard lk(rt.allg_mu);
    for (g* gp : rt.allgs) {
      gstatus st = gp->status.load(std::memory_order_relaxed);
      if (st == gstatus::dead || st == gstatus::idle) continue;
      if (st != gstatus::waiting) {
        awake = gp;
        break;
      }
      counts[static_cast<std::size_t>(gp->waitreason.load(std::memory_order_relaxed))]++;
      asleep++;
    }
  }
  // A thread outside the runtime readies a G (goready) by making it
  // runnable first and queueing it under sched.lock after (injectg; a
  // foreign go() does both in that one round, injectg_newproc): while
  // such a thread may exist, a runnable G outside every queue may be one in
  // transit, and the thread will queue it and start an M. Only when none can
  // exist was it lost. Asked in every mode: a lost G is never a deadlock.
  // With automatic detection the same question decides whether sleeping
  // goroutines are deadlocked; with always, it is asked only for `awake`.
  // MUTANT checkdead_ignores_threads: the rule before issue 10: threads
  // outside the runtime are not considered, so a goroutine a std::thread is
  // about to feed is reported.
  if (!mutant_on(mutant_id::checkdead_ignores_threads) &&
      (awake || rt.opts.detect_deadlock.get() == deadlock_detection::automatic) &&
      !no_outside_threads(l)) {
    // Not provable now: sysmon asks again (checkdead_recheck).
    rt.deadlock_unproven.store(true, std::memory_order_relaxed);
    return nullptr;
  }
  if (awake)
    fatal("checkdead: goroutine %llu is %s while every M and P is idle (a lost wake-up: "
          "nothing will ever run it)",
          (unsigned long long)awake->goid,
          gstatus_name(awake->status.load(std::memory_order_relaxed)));
  if (s.runqsize.load(std::memory_order_relaxed) != 0)
    fatal("checkdead: the global run queue holds %d goroutines while every M is idle",
          s.runqsize.load(std::memory_order_relaxed));
  if (asleep == 0) return nullptr;  // nothing alive: main is about to end the run
  // Asleep as far as the runtime can see, and with automatic detection no
  // thread outside it exists that could wake one (always: assumed).
  l.deadlocked = true;
  std::map<std::string, std::size_t> by_reason;
  std::string what = "all goroutines are asleep - deadlock! (" + std::to_string(asleep) +
                     (asleep == 1 ? " goroutine" : " goroutines") + " parked:";
  const char* sep = " ";
  for (std::size_t i = 0; i < std::size(counts); i++) {
    if (!counts[i]) continue;
    const char* name = wait_reason_name(static_cast<wait_reason>(i));
    by_reason.emplace(name, counts[i]);
    what += sep + std::to_string(counts[i]) + " [" + name + "]";
    sep = ", ";
  }
  what += ")";
  return std::make_exception_ptr(goro::deadlock(what, std::move(by_reason)));
}

void checkdead_recheck(runtime& rt) {
  if (!rt.deadlock_unproven.load(std::memory_order_relaxed)) return;
  std::exception_ptr dead;
  {
    sched_guard l(rt.sched);
    // Cleared first: checkdead sets it again if the runtime is still asleep
    // and still not provably deadlocked; otherwise an M has woken (the next
    // stopm asks again) or the deadlock is declared now.
    rt.deadlock_unproven.store(false, std::memory_order_relaxed);
    dead = checkdead(rt, *l);
  }
  if (dead) {
    // As in stopm: begin_shutdown's release store of `stopping` publishes
    // the exception to m0.
    rt.main_exc = std::move(dead);
    begin_shutdown(rt);
  }
}

}  // namespace goro::detail

namespace goro {

using namespace detail;

void deadlock_bystander() {
  if (getm_unchecked())
    throw std::logic_error(
        "goro::deadlock_bystander: called from a goroutine or a runtime thread; only a thread "
        "outside the runtime can be a bystander");
  if (tls_bystander.on) return;
  tls_bystander.on = true;
  // seq_cst: ordered with no_outside_threads' reads (see there).
  nbystanders.fetch_add(1, std::memory_order_seq_cst);
}

}  // namespace goro
