// Creating goroutines (Go's newproc) and the G free lists (gfget/gfput).
#include "sched/internal.hpp"

#include "sched/dump.hpp"

#include <cstdio>
#include <mutex>
#include <new>
#include <stdexcept>
#include <system_error>

namespace goro::detail {

namespace {

constexpr std::int32_t gfree_local_max = 64;

constexpr std::int32_t gfree_global_stack_max = 1024;

}  // namespace

void gfput_global_locked(runtime& rt, sched_locked& l, g* gp) {
  gp->schedlink = l.gfree;
  l.gfree = gp;
  owner_add(rt.sched.ngfree, 1);
}

void gfput(runtime& rt, p* pp, g* gp) {
  gp->ctx = nullptr;  // restarts from g_entry when reused
  // TSan keeps megabytes of trace per fiber: only started, live Gs hold one.
  // (We are already off gp's fiber: gfput runs after the switch.)
  san_destroy(gp->san);
  gp->is_main = false;
  gp->schedlink = pp->gfree;
  pp->gfree = gp;
  if (++pp->gfreecnt < gfree_local_max) return;
  // Move half to the global list. Past a global cap, dead Gs give their
  // stacks back, so a burst of a million goroutines does not pin a million
  // stacks forever.
  sched_guard l(rt.sched);
  while (pp->gfreecnt > gfree_local_max / 2) {
    g* g1 = pp->gfree;
    pp->gfree = g1->schedlink;
    pp->gfreecnt--;
    if (rt.sched.ngfree.load(std::memory_order_relaxed) >= gfree_global_stack_max && g1->stk) {
      rt.stacks.release(g1->stk);
      g1->stk = {};
    }
    gfput_global_locked(rt, *l, g1);
  }
}

namespace {

g* gfget_global_locked(runtime& rt, sched_locked& l) {
  g* gp = l.gfree;
  if (gp) {
    l.gfree = gp->schedlink;
    owner_add(rt.sched.ngfree, -1);
  }
  return gp;
}

g* gfget(runtime& rt, p* pp) {
  // Peek without the lock; a stale count only costs a lock round trip.
  if (!pp->gfree && rt.sched.ngfree.load(std::memory_order_relaxed) > 0) {
    sched_guard l(rt.sched);
    while (pp->gfreecnt < gfree_local_max / 2) {
      g* g1 = gfget_global_locked(rt, *l);
      if (!g1) break;
      g1->schedlink = pp->gfree;
      pp->gfree = g1;
      pp->gfreecnt++;
    }
  }
  g* gp = pp->gfree;
  if (gp) {
    pp->gfree = gp->schedlink;
    pp->gfreecnt--;
  }
  return gp;
}

}  // namespace

g* malg(runtime& rt) {
  g* gp = new g;
  gp->rt = &rt;
  gp->status.store(gstatus::dead, std::memory_order_relaxed);
  std::lock_guard lk(rt.allg_mu);
  rt.allgs.push_back(gp);
  return gp;
}

namespace {

std::uint64_t newgoid(runtime& rt, p* pp) {
  constexpr std::uint64_t batch = 16;
  if (!pp) return rt.goidgen.fetch_add(1, std::memory_order_relaxed) + 1;
  if (pp->goidcache == pp->goidcacheend) {
    pp->goidcache = rt.goidgen.fetch_add(batch, std::memory_order_relaxed) + 1;
    pp->goidcacheend = pp->goidcache + batch;
  }
  return pp->goidcache++;
}

}  // namespace

std::int64_t live_goroutines_racy(runtime& rt) {
  std::int64_t n = rt.nretired_created.load(std::memory_order_relaxed) -
                   rt.nretired_finished.load(std::memory_order_relaxed);
  std::uint32_t procs = rt.gomaxprocs.load(std::memory_order_relaxed);
  for (std::uint32_t i = 0; i < procs; i++) {
    p* pp = rt.allp[i].load(std::memory_order_relaxed);
    n += static_cast<std::int64_t>(pp->ncreated.load(std::memory_order_relaxed)) -
         static_cast<std::int64_t>(pp->nfinished.load(std::memory_order_relaxed));
  }
  return n;
}

// budget_check_every (internal.hpp): see check_guarded_budget.

void check_guarded_budget(runtime& rt, p* pp) {
  // Only mprotect'd guard pages cost maps; pooled stacks (madvise-guarded or
  // unguarded) cost one map per pool_chunk_stacks.
  if (rt.stacks.mode() != guard_mode::mprotect) return;
  if (pp && ++pp->spawn_since_budget_check < budget_check_every) return;
  if (pp) pp->spawn_since_budget_check = 0;
  std::int64_t live = live_goroutines_racy(rt);
  if (live < static_cast<std::int64_t>(rt.guarded_budget)) return;
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "goro::go: %lld goroutines are live and each guarded stack costs 2 of the "
                "kernel's vm.max_map_count memory maps (room for about %zu here; %s); set "
                "goro::options::stack_guard=false for pooled unguarded stacks (millions of "
                "goroutines), or raise vm.max_map_count",
                static_cast<long long>(live), rt.guarded_budget,
                stack_allocator::guarded_mode_reason());
  throw std::system_error(std::make_error_code(std::errc::not_enough_memory), buf);
}

newg_handle newg_begin(std::size_t size, std::size_t align) {
  // For "created by" in dumps: go() is always inlined into its caller, so
  // our return address lies in the function that executed the go statement.
  auto gopc = reinterpret_cast<std::uintptr_t>(__builtin_return_address(0));
  nopreempt np;
  m* mp = getm();
  runtime* rt = nullptr;
  p* pp = nullptr;
  if (mp && mp->p_) {
    rt = mp->rt;
    pp = mp->p_;
  } else {
    rt = acquire_active();  // released in newg_commit / newg_abort
    if (!rt)
      throw std::logic_error(
          "goro::go: no goro runtime is running (start goroutines inside goro::run, or "
          "from another thread while it runs)");
  }
  g* gp = nullptr;
  try {
    check_guarded_budget(*rt, pp);
    if (pp) gp = gfget(*rt, pp);
    if (!gp) {
      sched_guard l(rt->sched);
      gp = gfget_global_locked(*rt, *l);
    }
    if (!gp) gp = malg(*rt);
    gp->gopc = gopc;
    g* cur = mp ? mp->curg.load(std::memory_order_relaxed) : nullptr;
    gp->parentgoid = cur ? cur->goid : 0;
    if (size <= g_inline_task_bytes && align <= alignof(std::max_align_t)) {
      gp->fn_inline = true;
      return {gp, gp->storage, align};
    }
    gp->fn_inline = false;
    // As destroy_task's `delete t` (T's deleting destructor) frees it: the
    // aligned operator new only for an over-aligned closure (ASan:
    // new-delete-type-mismatch otherwise).
    if (align <= __STDCPP_DEFAULT_NEW_ALIGNMENT__) return {gp, ::operator new(size), align};
    return {gp, ::operator new(size, std::align_val_t(align)), align};
  } catch (...) {
    if (gp) {
      sched_guard l(rt->sched);
      gfput_global_locked(*rt, *l, gp);
    }
    if (!pp) rt->release();
    throw;
  }
}

void newg_abort(newg_handle h) noexcept {
  g* gp = h.gp;
  runtime& rt = *gp->rt;
  // Freed as newg_begin allocated it: the aligned operator delete for the
  // aligned operator new of an over-aligned closure (ASan:
  // alloc-dealloc-mismatch otherwise).
  if (!gp->fn_inline) {
    if (h.align <= __STDCPP_DEFAULT_NEW_ALIGNMENT__) ::operator delete(h.storage);
    else ::operator delete(h.storage, std::align_val_t(h.align));
  }
  free_label(gp);
  {
    sched_guard l(rt.sched);
    gfput_global_locked(rt, *l, gp);
  }
  nopreempt np;
  m* mp = getm();
  if (!(mp && mp->p_ && mp->rt == &rt)) rt.release();
}

void newg_commit(newg_handle h, task* t) {
  g* gp = h.gp;
  runtime& rt = *gp->rt;
  gp->fn = t;
  nopreempt np;
  m* mp = getm();
  if (mp && mp->p_ && mp->rt == &rt) {
    p* pp = mp->p_;
    gp->goid = newgoid(rt, pp);
    gp->goid_racy.store(gp->goid, std::memory_order_relaxed);
    casgstatus(gp, gstatus::dead, gstatus::runnable, "newproc");
    trace::go_create(gp);
    owner_add(pp->ncreated, 1);
    // Go's newproc: the new G goes to runnext and runs next on this P.
    runqput(rt, pp, gp, true);
    ready_wake(rt);
    return;
  }
  gp->goid = newgoid(rt, nullptr);
  gp->goid_racy.store(gp->goid, std::memory_order_relaxed);
  trace::go_create_foreign(gp);
  // No P: status, census count and global queue in one sched.lock round.
  injectg_newproc(rt, gp);
  rt.release();
}

}  // namespace goro::detail
