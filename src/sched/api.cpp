// The public scheduler API (goro.hpp) and the scheduling statistics.
#include "sched/internal.hpp"

#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>

#include "goro/goro.hpp"

namespace goro::detail {

namespace {

// A removed P's count moves into the runtime's set: the P's holder no longer
// writes it (the world is stopped), but foreign threads may be adding to
// the runtime's, hence the fetch_add. Relaxed: only atomicity is needed.
void fold_one(detail::atomic<std::uint64_t>& to, detail::atomic<std::uint64_t>& from) {
  to.fetch_add(from.exchange(0, std::memory_order_relaxed), std::memory_order_relaxed);
}

}  // namespace

void sched_counters::fold(sched_counters& from) {
  fold_one(schedules, from.schedules);
  fold_one(steals, from.steals);
  fold_one(readies, from.readies);
  fold_one(syscalls, from.syscalls);
  fold_one(preempts, from.preempts);
  for (std::size_t i = 0; i < wait_reasons; i++) fold_one(parks[i], from.parks[i]);
  for (std::size_t i = 0; i < latency_buckets; i++) fold_one(latency[i], from.latency[i]);
}

sched_stats read_sched_stats(runtime& rt) {
  sched_stats st;
  auto add = [&st](const sched_counters& c) {
    st.schedules += c.schedules.load(std::memory_order_relaxed);
    st.steals += c.steals.load(std::memory_order_relaxed);
    st.readies += c.readies.load(std::memory_order_relaxed);
    st.syscalls += c.syscalls.load(std::memory_order_relaxed);
    st.preempts_cooperative += c.preempts.load(std::memory_order_relaxed);
    for (std::size_t i = 0; i < wait_reasons; i++) {
      std::uint64_t n = c.parks[i].load(std::memory_order_relaxed);
      st.parks_by_reason[i] += n;
      st.parks += n;
    }
    for (std::size_t i = 0; i < latency_buckets; i++)
      st.latency[i] += c.latency[i].load(std::memory_order_relaxed);
  };
  add(rt.nop_stat);
  std::int64_t created = rt.nretired_created.load(std::memory_order_relaxed);
  std::int64_t exited = rt.nretired_finished.load(std::memory_order_relaxed);
  // Every P ever made, removed ones too (theirs are zero once folded).
  for (std::uint32_t i = 0; i < max_procs; i++) {
    p* pp = rt.allp[i].load(std::memory_order_acquire);  // pairs with its release store
    if (!pp) break;                                      // allp fills from 0 and never shrinks
    add(pp->stat);
    created += static_cast<std::int64_t>(pp->ncreated.load(std::memory_order_relaxed));
    exited += static_cast<std::int64_t>(pp->nfinished.load(std::memory_order_relaxed));
  }
  st.goroutines_created = static_cast<std::uint64_t>(created);
  st.goroutines_exited = static_cast<std::uint64_t>(exited);
  st.goroutines = created - exited;
  st.handoffs = rt.nhandoffs.load(std::memory_order_relaxed);
  st.retakes = rt.nretakes.load(std::memory_order_relaxed);
  st.kernel_detaches = rt.nkernel_detaches.load(std::memory_order_relaxed);
  st.preempts_async = rt.nasync_preempts.load(std::memory_order_relaxed);
  st.netpoll_blocks = rt.nnetpoll_blocks.load(std::memory_order_relaxed);
  return st;
}

bool read_sched_stats(sched_stats& out) {
  nopreempt np;
  m* mp = getm();
  runtime* rt = mp ? mp->rt : acquire_active();
  if (!rt) return false;
  out = read_sched_stats(*rt);
  if (!mp) rt->release();
  return true;
}

}  // namespace goro::detail

namespace goro {

using namespace detail;

void yield() {
  if (!getg()) {
    std::this_thread::yield();
    return;
  }
  gosched();
}

unsigned gomaxprocs(unsigned n) {
  nopreempt np;
  m* mp = getm();
  runtime* rt = mp ? mp->rt : acquire_active();
  if (!rt) return 0;
  unsigned cur = rt->gomaxprocs.load(std::memory_order_acquire);
  if (!mp) rt->release();
  if (n == 0) return cur;
  if (n > max_procs)
    throw std::invalid_argument("goro::gomaxprocs(" + std::to_string(n) + "): must be in 1.." +
                                std::to_string(max_procs) + " (0 only reads the value)");
  if (!mp || !mp->curg.load(std::memory_order_relaxed))
    throw std::logic_error("goro::gomaxprocs: setting it requires a goroutine");
  if (!mp->p_) throw std::logic_error("goro::gomaxprocs: cannot be set inside goro::blocking()");
  if (n > rt->opts.max_threads)
    throw std::invalid_argument(
        "goro::gomaxprocs(" + std::to_string(n) + "): more Ps than goro::options::max_threads = " +
        std::to_string(rt->opts.max_threads) + " allows (each P needs an OS thread)");
  // One stop-the-world at a time: world_sema parks other callers. Parking
  // may resume us on another M, so fetch the M again afterwards.
  rt->world_sema.acquire();
  mp = getm();
  stop_the_world(mp);
  // stop_the_world ran on this G's stack and did not switch, so mp is still
  // our M (nothing can migrate a G that does not yield).
  cur = rt->gomaxprocs.load(std::memory_order_relaxed);
  start_the_world(mp, n);
  trace::procs_change(n);
  rt->world_sema.release();
  return cur;
}

std::size_t num_goroutine() {
  nopreempt np;
  m* mp = getm();
  runtime* rt = mp ? mp->rt : acquire_active();
  if (!rt) return 0;
  // A sum of counters each P's holder writes without a lock (sched.lock
  // would not make it exact): exact once creations and exits are over.
  std::int64_t n = live_goroutines_racy(*rt);
  if (!mp) rt->release();
  return n < 0 ? 0 : static_cast<std::size_t>(n);
}

std::uint64_t goid() {
  g* gp = getg();
  return gp ? gp->goid : 0;
}

bool in_goroutine() { return getg() != nullptr; }

}  // namespace goro
