// The runtime's lifetime: run_main, options validation, the active runtime,
// construction and teardown, and the shutdown steps.
#include "sched/internal.hpp"

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "context/overflow.hpp"
#include "sched/dump.hpp"
#include "sim/controller.hpp"
#include "sim/trace_log.hpp"
#include "sysmon/stallwarn.hpp"
#include "sysmon/sysmon.hpp"

namespace goro::detail {

namespace {

std::mutex active_mu;

runtime* active = nullptr;

}  // namespace

// Shutdown, when main returns (goexit1) or a deadlock is declared (stopm).
// Go's process simply exits; here run() must return to its caller with the
// process alive, and objects created outside run (channels, mutexes,
// wait_groups, sockets) go on being used, so the steps and their order
// matter:
//
//  1. (begin_shutdown) Give up the active slot. Once `stopping` is set,
//     run() may return at any moment and its caller may start another run
//     at once. From here a foreign thread's goready finds no runtime to
//     queue on and only marks the G runnable (goready: its last touch).
//  2. (begin_shutdown) Set `stopping` under sched.lock, so that stopm
//     either sees it or is on the idle list; wake every idle M, the M
//     blocked in netpoll and sysmon. Each M leaves its loop at its next
//     scheduling point; an M whose G is in a blocking call stays out of the
//     scheduler, and exitsyscall, seeing `stopping`, never returns to the
//     goroutine (it is abandoned, its M exits).
//  3. (begin_shutdown) Wake run_main's thread (shutdown_note). That thread
//     never runs goroutines (run_main), so no goroutine's blocking call can
//     keep run() from returning.
//  4. (run_main) Stop sysmon: it could still ready goroutines (its netpoll)
//     and hand Ps to new Ms.
//  5. (run_main) Wait until nmsched is zero: no M is in the scheduler, so
//     no goroutine runs, parks, or is readied by the runtime any more (Ms in
//     blocking calls are not counted, and their goroutines never come back,
//     step 2). A goroutine running without a scheduling point is asked to
//     yield (preemptone, as sysmon would) every 10 ms meanwhile.
//  6. (run_main, abandon_waiters) Take every parked goroutine's waiter off
//     the wait queues it is on (waiter_on_abandon records how), and wait for
//     any foreign waker that took one first to be done with it (pass 1).
//     Then let every goroutine readied from such a park but never run
//     again give back what its waker handed it: a mutex's woken flag or
//     the mutex itself, a select's other queued cases (pass 2; after pass
//     1, so what it gives back reaches only live threads' waiters). Needs
//     step 5: a running goroutine could park again after its G was visited.
//     After this no wait queue outside the runtime refers to its goroutines,
//     so a send finds no receiver, unlock and done wake nobody, close wakes
//     nobody, and a later run uses the objects afresh.
//  7. (run_main) Drop run_main's reference and return. The runtime is freed
//     (~runtime) by whoever drops the last one: run_main, or the last M
//     coming back from a blocking call, which touches only the runtime and
//     its own M before it does.
//  8. (~runtime) Pending timers first (a sleep's timer lives on its
//     goroutine's stack), then the abandoned goroutines: their closures are
//     destroyed (which may drop the last handle of a channel or close a
//     socket: both need step 6 done, and closing a socket does not wait for
//     the call in flight of an abandoned goroutine, see net.cpp), then
//     their stacks freed without unwinding: the destructors of their frames'
//     locals do not run, as in Go no deferred call runs at exit.
void begin_shutdown(runtime& rt) {
  // Step 1.
  {
    std::lock_guard lk(active_mu);
    if (active == &rt) active = nullptr;
  }
  // Step 2. seq_cst: the store half of the Dekker pair with nmsched
  // (msched_leave, exitsyscall); it also releases main_exc to run_main.
  {
    sched_guard l(rt.sched);
    rt.stopping.store(true, std::memory_order_seq_cst);
    for (m* mp = l->midle; mp; mp = mp->schedlink) mp->park.wakeup();
    l->midle = nullptr;
    l->nmidle = 0;
    // Ms asleep in stoplockedm, waiting for a locked G that never runs again.
    for (m* mp : l->allm)
      if (mp->idlelocked) mp->park.wakeup();
  }
  netpoll_break(rt);  // the M blocked in netpoll
  rt.sysmon_note.wakeup();
  // Step 3.
  rt.shutdown_note.wakeup();
}

namespace {

// Step 5 of the shutdown (see begin_shutdown).
void wait_scheduler_drained(runtime& rt) {
  for (;;) {
    rt.shutdown_note.clear();
    // seq_cst: the load half of the Dekker pair (msched_leave): either we
    // see the last decrement, or its M sees `stopping` and wakes us after
    // the clear above.
    if (rt.nmsched.load(std::memory_order_seq_cst) == 0) return;
    unsigned procs = rt.gomaxprocs.load(std::memory_order_relaxed);
    for (unsigned i = 0; i < procs; i++) {
      p* pp = rt.allp[i].load(std::memory_order_acquire);
      if (pp && pp->status.load(std::memory_order_relaxed) == pstatus::running) preemptone(rt, pp);
    }
    rt.shutdown_note.sleep_until(nanotime() + 10'000'000);
  }
}

// Step 6 of the shutdown (see begin_shutdown). No M is in the scheduler, so
// every G's status and abandon record are as their M left them (the seq_cst
// decrement of nmsched we read zero from orders them before us).
void abandon_waiters(runtime& rt) {
  std::lock_guard lk(rt.allg_mu);
  // Pass 1: goroutines still parked leave their queues; one a waker took
  // first is waited for until that waker's goready is done with it
  // (sync/park_core.hpp, abandon_parked: the acquire loads pairing with
  // goready_abandoned's release store).
  for (g* gp : rt.allgs)
    abandon_parked(gp, [] {
      if constexpr (sim) simulator::point(simulator::site::yield);
      std::this_thread::yield();
    });
  // Pass 2: goroutines readied from such a park that never ran again (the
  // record is cleared only when gopark returns) give back what their waker
  // handed them. After pass 1, so that what they give back (a mutex) can
  // reach no abandoned waiter, only live threads.
  for (g* gp : rt.allgs) {
    if (!gp->abandon || gp->status.load(std::memory_order_acquire) != gstatus::runnable) continue;
    gp->abandon(gp->abandon_arg, true);
    gp->abandon = nullptr;
  }
}

unsigned procs_from_env_or_hw() {
  if (const char* env = std::getenv("GORO_MAXPROCS"); env && *env) {
    char* end = nullptr;
    errno = 0;
    unsigned long v = std::strtoul(env, &end, 10);
    if (errno || *end || v < 1 || v > max_procs)
      throw std::invalid_argument(std::string("goro::run: environment variable GORO_MAXPROCS=\"") +
                                  env + "\" is invalid: must be a whole number in 1.." +
                                  std::to_string(max_procs));
    return static_cast<unsigned>(v);
  }
  unsigned hw = std::thread::hardware_concurrency();
  return hw ? std::min(hw, max_procs) : 1;
}

options validate(options o, unsigned& nprocs) {
  if (o.procs > max_procs)
    throw std::invalid_argument("goro::options::procs = " + std::to_string(o.procs) +
                                ": must be in 0.." + std::to_string(max_procs) +
                                " (0: GORO_MAXPROCS or the hardware thread count)");
  // 24 KiB, not 16: an asynchronous preemption saves the registers (the
  // XSAVE area: 11 KiB with AMX) and runs the scheduler's frames on the
  // goroutine's stack, and is refused where they would not fit
  // (preempt.cpp's stack_room, up to ~16 KiB on AMX hardware, ~20 KiB under
  // ASan); on a 16 KiB stack it never fit, so a call-free loop kept its P.
  constexpr std::size_t min_stack = 24 * 1024, max_stack = std::size_t(1) << 30;
  if (o.stack_size < min_stack || o.stack_size > max_stack)
    throw std::invalid_argument(
        "goro::options::stack_size = " + std::to_string(o.stack_size) + ": must be in " +
        std::to_string(min_stack) + ".." + std::to_string(max_stack) +
        " bytes (the minimum leaves room for asynchronous preemption, which saves the CPU's "
        "registers, up to 11 KiB with AMX, and runs the scheduler on the goroutine's stack)");
  std::size_t ps = stack_allocator::page_size();
  o.stack_size = (o.stack_size + ps - 1) / ps * ps;
  using std::chrono::nanoseconds;
  constexpr nanoseconds min_slice = std::chrono::microseconds(100);
  constexpr nanoseconds max_slice = std::chrono::seconds(60);
  if (o.time_slice < min_slice || o.time_slice > max_slice)
    throw std::invalid_argument(
        "goro::options::time_slice = " + std::to_string(o.time_slice.count()) + " ns: must be in " +
        std::to_string(min_slice.count()) + ".." + std::to_string(max_slice.count()) +
        " ns (100 µs .. 60 s)");
  nprocs = o.procs ? o.procs : procs_from_env_or_hw();
  constexpr unsigned max_threads_limit = 1'000'000;
  if (o.max_threads < nprocs || o.max_threads > max_threads_limit)
    throw std::invalid_argument(
        "goro::options::max_threads = " + std::to_string(o.max_threads) + ": must be in " +
        std::to_string(nprocs) + ".." + std::to_string(max_threads_limit) +
        " (at least one thread per P; procs is " + std::to_string(nprocs) + ")");
  return o;
}

struct main_task final : task {
  main_ref ref;
  explicit main_task(main_ref r) : ref(r) {}
  void invoke() override { ref.call(ref.obj); }
};

detail::atomic<std::uint64_t> runtime_gens{0};

// The generations of the runtime objects that exist (usually one; an old
// one lingers while a foreign thread still holds a reference). For
// runtime_gen_live. Never destroyed: an M may release the last reference
// to its runtime after main has returned and static destructors have run.
std::mutex& alive_mu() {
  static auto* mu = new std::mutex;
  return *mu;
}
std::vector<std::uint64_t>& alive_gens() {
  static auto* gens = new std::vector<std::uint64_t>;
  return *gens;
}

void retire_gen(std::uint64_t gen) {
  std::lock_guard lk(alive_mu());
  std::erase(alive_gens(), gen);
}

}  // namespace

runtime* acquire_active() {
  std::lock_guard lk(active_mu);
  if (active) active->retain();
  return active;
}

std::uint64_t goroutine_runtime_gen() noexcept {
  nopreempt np;
  m* mp = getm();
  return mp && mp->p_ ? mp->rt->gen : 0;
}

bool runtime_gen_live(std::uint64_t gen) noexcept {
  // Generations are never reused (runtime_gens only grows). The lock
  // orders this read after retire_gen's erase, which run_main makes once
  // no M is in the scheduler and the waiters are abandoned (step 6): a
  // false here means none of its goroutines runs or ever will.
  std::lock_guard lk(alive_mu());
  for (std::uint64_t g : alive_gens())
    if (g == gen) return true;
  return false;
}

runtime::runtime(const options& o, unsigned nprocs)
    : opts(o),
      gen(runtime_gens.fetch_add(1, std::memory_order_relaxed) + 1),
      stacks(o.stack_size, o.stack_guard) {
  netpoll_init(*this);
  if (stacks.mode() == guard_mode::mprotect) {
    // Keep maps for everything else the process needs (threads' own stacks,
    // libraries, malloc arenas), and the slack of the every-64-spawns check.
    std::size_t room = stack_allocator::guarded_stack_budget();
    std::size_t reserve = 1024 + budget_check_every * nprocs;
    guarded_budget = room > reserve ? room - reserve : 0;
  }
  std::lock_guard lk(alive_mu());
  alive_gens().push_back(gen);
}

runtime::~runtime() {
  // Already retired by run_main, unless the run never got that far (a
  // runtime whose construction or start failed).
  retire_gen(gen);
  // Pending timers first: a sleep timer lives on its goroutine's stack,
  // which the loop over allgs below unmaps, so reading its dispose field
  // afterwards would fault (mprotect-guarded stacks are unmapped, not pooled).
  // Heap-owned timers (after(), socket deadlines) are freed here.
  for (std::uint32_t i = 0; i < max_procs; i++) {
    p* pp = allp[i].load(std::memory_order_relaxed);
    if (!pp) continue;
    for (timer* t : pp->timers.heap) {
      // In no heap from here on: a socket's deadline timers live in its
      // (pooled, never freed) polldesc, which may outlive this heap.
      t->heap.store(nullptr, std::memory_order_relaxed);
      if (t->dispose) t->dispose(t);
    }
    pp->timers.heap.clear();
  }
  for (g* gp : allgs) {
    // Abandoned goroutines: their frames are discarded without unwinding
    // (as Go's exit does); their closures and stacks are freed here.
    destroy_task(gp);
    delete gp->label;  // no goroutine runs: nobody reads it (allg_mu not needed)
    san_destroy(gp->san);
#ifdef GORO_ASAN
    // An abandoned frame's functions never returned, so ASan's poisoning of
    // their locals' redzones is still there; a later stack mapped at this
    // address must not inherit it.
    if (gp->stk) __asan_unpoison_memory_region(gp->stk.lo, gp->stk.size);
#endif
    stacks.release(gp->stk);
    delete gp;
  }
  for (std::uint32_t i = 0; i < max_procs; i++) {
    p* pp = allp[i].load(std::memory_order_relaxed);
    if (!pp) continue;
    clear_preempt(pp);  // keep the process-wide preempt_pending count exact
    delete pp;
  }
  {
    // Nothing else runs now; the lock is taken only because it is the way
    // to the list.
    sched_guard l(sched);
    for (m* mp : l->allm) delete mp;
    l->allm.clear();
  }
  netpoll_close(*this);
}

void run_main(main_ref main, const options& opts_in) {
  unsigned nprocs = 0;
  options opts = validate(opts_in, nprocs);
  // GORO_DEBUG (base/godebug.hpp): a bad value fails run() here, before
  // anything starts, as a bad option does.
  debug_settings debug = godebug_from_env();
  // GORO_TRACE: before any goroutine exists.
  trace::env_start_at_run();
  if (getm_unchecked())  // only asks whether this thread is an M at all
    throw std::logic_error(
        "goro::run: called from a goroutine or a runtime thread; a runtime is already "
        "running here");
  // sim: the whole run is one session of the simulation (sim/controller.hpp);
  // this thread is its thread 0, and the session ends once every thread the
  // run created has exited. No asynchronous preemption: a signal's arrival
  // is the kernel's choice, not the seed's.
  struct sim_session {
    explicit sim_session(unsigned n) {
      if constexpr (sim) {
        simulator::begin_session();
        simulator::set_session_procs(n);  // for the replay file
        simulator::trace_log_begin();
      }
    }
    ~sim_session() {
      if constexpr (sim) {
        simulator::end_session();
        simulator::trace_log_end();  // GORO_SIM_TRACE: the log's TLA+ modules
      }
    }
  } sim_guard(nprocs);
  if constexpr (sim) opts.async_preempt = false;
  auto* rt = new runtime(opts, nprocs);
  rt->debug = debug;
  if constexpr (sim) simulator::trace_log_runtime(rt);  // whose Ps' queues it logs
  {
    std::lock_guard lk(active_mu);
    if (active) {
      delete rt;
      throw std::logic_error(
          "goro::run: another goro runtime is already running in this process; wait for "
          "its run() to return");
    }
    active = rt;
  }
  // The calling thread is not an M: it never runs goroutines, so none of
  // their blocking calls can hold it when main returns (a goroutine's
  // blocking call runs on its M's thread, and an M cannot leave a call in
  // flight). It starts M0 for P0 and then only waits for the shutdown.
  //
  // The SIGSEGV handler that names a stack overflow goes in before any M
  // starts (each M gets its alternate signal stack in mstart).
  install_overflow_handler();

  // Ps: P0 goes to M0, the others start idle.
  for (unsigned i = 0; i < nprocs; i++) {
    p* pp = new p;
    pp->id = static_cast<std::int32_t>(i);
    rt->allp[i].store(pp, std::memory_order_relaxed);
  }
  rt->gomaxprocs.store(nprocs, std::memory_order_relaxed);
  compute_coprimes(*rt, nprocs);
  p* p0 = rt->allp[0].load(std::memory_order_relaxed);
  p0->status.store(pstatus::idle, std::memory_order_relaxed);
  {
    sched_guard l(rt->sched);
    for (unsigned i = nprocs; i-- > 1;)
      pidleput(*rt, *l, rt->allp[i].load(std::memory_order_relaxed));
  }

  // The main goroutine: id 1, counted on P0, queued there before any M
  // exists (P0 is nobody's yet: this thread is its only user).
  g* mg = malg(*rt);
  mg->is_main = true;
  rt->goidgen.store(1, std::memory_order_relaxed);
  mg->goid = 1;
  mg->goid_racy.store(1, std::memory_order_relaxed);
  static_assert(sizeof(main_task) <= g_inline_task_bytes);
  mg->fn = new (mg->storage) main_task(main);
  mg->fn_inline = true;
  casgstatus(mg, gstatus::dead, gstatus::runnable, "newproc (main)");
  trace::go_create_foreign(mg);  // made by run's thread, which has no P
  rt->main_g = mg;
  owner_add(p0->ncreated, 1);
  runqput(*rt, p0, mg, false);

  if (rt->opts.async_preempt) async_preempt_init();
  if (rt->debug.sigquit) sigquit_install(*rt);  // goroutine dump on SIGQUIT (sched/dump.cpp)
  sysmon_start(*rt);
  newm(*rt, p0, false);  // M0; its thread's start publishes all of the above
  {
    sched_guard l(rt->sched);
    rt->m0 = l->allm.front();
  }

  // The shutdown (steps in begin_shutdown's comment).
  while (!rt->stopping.load(std::memory_order_acquire)) {
    rt->shutdown_note.sleep();
    rt->shutdown_note.clear();
  }
  sysmon_stop(*rt);             // step 4
  sigquit_uninstall(*rt);       // sysmon, which acts on it, is gone
  wait_scheduler_drained(*rt);  // step 5
  trace::stop_at_run_end();     // no M schedules any more: the trace is complete
  // No M is in the scheduler: no newm can come. The template thread (if a
  // goroutine locked a thread) has started every M handed to it.
  stop_template_thread(*rt);
  abandon_waiters(*rt);  // step 6
  // No goroutine of this runtime runs any more, nor ever will: the
  // semaphore may now free its abandoned waiters' records
  // (runtime_gen_live), even if an exiting M keeps the object a while.
  retire_gen(rt->gen);
  std::exception_ptr exc = rt->main_exc;
  rt->main_exc = nullptr;
  rt->release();  // step 7
  if (exc) std::rethrow_exception(exc);
}

}  // namespace goro::detail
