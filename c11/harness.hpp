// The command line every c11/ check shares, so ctest, ci/weaken.sh and a
// reader drive them all the same way:
//
//   <check>                      every default scenario at its CI search
//   <check> <scenario>           one scenario at its CI search
//   <check> <scenario> full      Relacy's exhaustive search (sched_full)
//   <check> <scenario> bound N   context-bound search, bound N (sched_bound)
//   <check> list                 the scenarios, their CI search, and whether
//                                they are teeth (expected to fail)
//
// Exit status 0 when every scenario run passed, 1 when one failed (Relacy
// has then printed the failing execution's history), 2 for a bad command
// line. Each run prints one line:
//   c11 <check> <scenario> <search>: passed|FAILED, N iterations, T s
// Teeth scenarios (a weakened order or mutant that must be caught) run only
// when named. GORO_WEAKEN and GORO_C11_SITES (base/atomic.hpp) weaken one
// operation, or record the operations each scenario reaches, for
// ci/weaken.sh.
#pragma once
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <string>

#include "base/atomic.hpp"

namespace goro::c11 {

struct search {
  rl::scheduler_type_e type = rl::sched_bound;
  unsigned bound = 3;
  std::string text() const {
    return type == rl::sched_full ? std::string("sched_full")
                                  : "sched_bound " + std::to_string(bound);
  }
};

// A scenario: its name, the search CI runs it with, and the function that
// runs it (run_test<Test> below).
struct scenario {
  const char* name;
  search ci;
  bool (*run)(const char* check, const char* name, search s);
  bool teeth = false;  // expected to fail; never part of the default run
};

// Runs Relacy over one test suite and prints the one-line result.
template <class Test>
bool run_test(const char* check, const char* name, search s) {
  rl::test_params params;
  params.search_type = s.type;
  params.context_bound = s.bound;
  params.iteration_count = 0;
  // ci/weaken.sh's hook (base/atomic.hpp): which sites this scenario reaches,
  // and GORO_WEAKEN parsed before Relacy tracks allocations.
  detail::weakening::begin_scenario(name);
  auto t0 = std::chrono::steady_clock::now();
  bool ok = rl::simulate<Test>(params);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("c11 %s %s %s: %s, %llu iterations, %.1f s\n", check, name, s.text().c_str(),
              ok ? "passed" : "FAILED", static_cast<unsigned long long>(params.stop_iteration),
              secs);
  std::fflush(stdout);
  return ok;
}

inline int main(const char* check, int argc, char** argv, std::initializer_list<scenario> all) {
  const char* only = argc > 1 ? argv[1] : nullptr;
  if (only && std::strcmp(only, "list") == 0) {
    for (const scenario& s : all)
      std::printf("%s %s%s\n", s.name, s.ci.text().c_str(), s.teeth ? " teeth" : "");
    return 0;
  }
  bool override = argc > 2;
  search chosen;
  if (override) {
    if (std::strcmp(argv[2], "full") == 0) {
      chosen.type = rl::sched_full;
    } else if (std::strcmp(argv[2], "bound") == 0 && argc > 3) {
      chosen.type = rl::sched_bound;
      chosen.bound = static_cast<unsigned>(std::atoi(argv[3]));
    } else {
      std::fprintf(stderr, "usage: %s [list | <scenario> [full | bound N]]\n", argv[0]);
      return 2;
    }
  }
  bool ok = true, found = false;
  for (const scenario& s : all) {
    if (only ? std::strcmp(only, s.name) != 0 : s.teeth) continue;
    found = true;
    ok = s.run(check, s.name, override ? chosen : s.ci) && ok;
  }
  if (!found) {
    std::fprintf(stderr, "%s: no scenario named '%s' (see '%s list')\n", argv[0], only, argv[0]);
    return 2;
  }
  return ok ? 0 : 1;
}

}  // namespace goro::c11
