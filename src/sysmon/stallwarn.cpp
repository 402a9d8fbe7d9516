// The stall warning (sysmon/stallwarn.hpp).
#include "sysmon/stallwarn.hpp"

#include <cstdio>
#include <string>

#include "base/atomic.hpp"
#include "sched/dump.hpp"

namespace goro::detail {

namespace {

detail::atomic<std::uint64_t> nstall_reports{0};

}  // namespace

std::uint64_t stall_reports() noexcept { return nstall_reports.load(std::memory_order_relaxed); }

void stallwarn_check(runtime& rt, std::int64_t now) {
  const std::int64_t limit = rt.debug.stallwarn * 1'000'000;  // GORO_DEBUG, ms
  if (limit == 0) return;
  // With asynchronous preemption on, a G is preempted after a time slice
  // unless the handler refuses (an unsafe point, every time): report only
  // what has outlived the slice twice over, so a preemption in progress is
  // not called a stall.
  std::int64_t need = limit;
  if (rt.opts.async_preempt) need = std::max(need, 2 * rt.opts.time_slice.count());
  std::uint32_t n = rt.gomaxprocs.load(std::memory_order_acquire);
  for (std::uint32_t i = 0; i < n; i++) {
    p* pp = rt.allp[i].load(std::memory_order_acquire);
    auto& pd = pp->sysmontick;  // sysmon's own (retake updated it this tick)
    if (pp->status.load(std::memory_order_acquire) != pstatus::running) continue;
    if (pp->schedtick.load(std::memory_order_relaxed) != pd.schedtick) continue;
    if (now - pd.schedwhen < need || pd.stall_reported == pd.schedwhen) continue;
    m* mp = pp->m_.load(std::memory_order_acquire);  // pairs with acquirep: tid, curg
    if (!mp || mp->tid == 0) continue;
    g* gp = mp->curg.load(std::memory_order_relaxed);
    if (!gp) continue;
    pd.stall_reported = pd.schedwhen;  // once per stall (per time slice)
    pcstack stk;
    bool ok = capture_thread_stack(mp->tid, stk, 100'000'000);
    // The G may have moved on while we asked; the stack is the thread's.
    char head[160];
    std::snprintf(head, sizeof head,
                  "goro: stall: goroutine %llu has run %lld ms without a scheduling point "
                  "(asynchronous preemption %s)\n",
                  (unsigned long long)gp->goid, (long long)((now - pd.schedwhen) / 1'000'000),
                  rt.opts.async_preempt ? "refused" : "off");
    std::fputs(head, stderr);
    print_goroutine_stack(gp, "running", stk, ok);
    std::fputc('\n', stderr);
    nstall_reports.fetch_add(1, std::memory_order_relaxed);
  }
}

}  // namespace goro::detail
