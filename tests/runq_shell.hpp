// A runtime shell for driving the run-queue functions (sched/runq.hpp)
// directly, with no M and no scheduler: Ps owned by the runtime and a pool
// of Gs owned here. Used by tests/runq_test.cpp and the run-queue
// properties (props/runq_model_props.cpp, props/runq_concurrent_props.cpp).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "sched/runq.hpp"

namespace goro_test {

struct runq_shell {
  std::unique_ptr<goro::detail::runtime> rt;
  std::vector<std::unique_ptr<goro::detail::g>> gs;

  // nprocs Ps, gomaxprocs nprocs, each P in `status` and with runqhead =
  // runqtail = `start`; Gs 0 .. ngs-1 made at once (G(i) of those never
  // writes, so threads may share them). The status decides a runnext steal:
  // from a running P it takes Go's 3 us courtesy pause, as for real; from
  // an idle one (no M runs it) it does not. The counters are free-running
  // 32-bit values: starting just below 2^32 makes them wrap mid-run, which
  // starting at 0 never reaches.
  runq_shell(unsigned nprocs, goro::detail::pstatus status, std::uint32_t start = 0,
             std::size_t ngs = 0) {
    goro::options o;
    o.stack_guard = false;
    rt = std::make_unique<goro::detail::runtime>(o, nprocs);
    for (unsigned i = 0; i < nprocs; i++) {
      auto* pp = new goro::detail::p;  // owned by rt from here on
      pp->id = static_cast<int>(i);
      pp->status.store(status);
      pp->runq.reset_stopped(start);
      rt->allp[i].store(pp);
    }
    rt->gomaxprocs.store(nprocs);
    while (gs.size() < ngs) add_g();
  }

  goro::detail::p* P(unsigned i) { return rt->allp[i].load(); }

  // G number i, whose goid is i; made on first use if past the pool.
  goro::detail::g* G(std::size_t i) {
    while (gs.size() <= i) add_g();
    return gs[i].get();
  }

 private:
  void add_g() {
    gs.push_back(std::make_unique<goro::detail::g>());
    gs.back()->goid = gs.size() - 1;
  }
};

}  // namespace goro_test
