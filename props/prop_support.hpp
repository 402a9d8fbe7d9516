// Shared plumbing for goro's RapidCheck properties (props/).
//
// GORO_PROP(Suite, Name, default_cases, (args...)) defines a GoogleTest test
// that checks a RapidCheck property, like RC_GTEST_PROP, with two differences:
//  - the number of successful cases defaults to `default_cases` (scaled down
//    under sanitizers) unless RC_PARAMS sets max_success explicitly, so every
//    property has its own budget and `ctest -L props` stays short;
//  - it honours RC_PARAMS="reproduce=..." exactly like RC_GTEST_PROP (the test
//    id is "Suite/Name"), so a failure printed by RapidCheck replays as is.
#pragma once
#include <gtest/gtest.h>
#include <rapidcheck.h>

#include <cstdlib>
#include <cstring>
#include <iostream>
#include <sstream>
#include <string>

#include "base/build_config.hpp"
#include "sim/controller.hpp"
#include "test_options.hpp"

namespace rc::detail {
// Defined in librapidcheck (not declared in its public headers): the listener
// that prints progress and collects the reproduce strings printed at exit.
TestListener& globalTestListener();
}  // namespace rc::detail

namespace goro::props {

// Sanitized builds run 5-20x slower; keep the label's wall time similar.
inline int scaled_cases(int cases) { return goro_test::under_sanitizer ? (cases + 3) / 4 : cases; }

inline rc::detail::TestParams params_for(int default_cases) {
  rc::detail::TestParams params = rc::detail::configuration().testParams;
  const char* env = std::getenv("RC_PARAMS");
  if (!env || !std::strstr(env, "max_success")) params.maxSuccess = scaled_cases(default_cases);
  return params;
}

template <class Testable>
void check_gtest(Testable&& testable, int default_cases) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  rc::detail::TestMetadata metadata;
  metadata.id = std::string(info->test_suite_name()) + "/" + info->name();
  metadata.description = info->name();
  const auto& config = rc::detail::configuration();
  const auto result = rc::detail::checkProperty(
      rc::detail::toProperty(std::forward<Testable>(testable)), metadata, params_for(default_cases),
      rc::detail::globalTestListener(), config.reproduce);
  if (result.template is<rc::detail::SuccessResult>()) {
    const auto success = result.template get<rc::detail::SuccessResult>();
    if (!success.distribution.empty()) {
      rc::detail::printResultMessage(result, std::cout);
      std::cout << std::endl;
    }
  } else {
    std::ostringstream ss;
    rc::detail::printResultMessage(result, ss);
    FAIL() << ss.str() << "\n(replay: see the RC_PARAMS=\"reproduce=...\" line RapidCheck "
           << "prints when the test program exits)";
  }
}

}  // namespace goro::props

namespace goro::props {
// Under the simulation: the seed of the session that just ran (the checks
// follow goro::run), which replays that case's run with GORO_SIM_SEED (and
// RapidCheck's reproduce string for the case itself).
inline std::string sim_seed_note() {
  // else: the controller exists in the sim build only.
  if constexpr (!::goro::detail::sim) {
    return {};
  } else {
    return " [goro sim: GORO_SIM_SEED=" +
           std::to_string(::goro::detail::simulator::current_seed()) + "]";
  }
}
}  // namespace goro::props

// RC_FAIL that also prints the message to stderr at once. A concurrent
// property's failure may not reproduce when RapidCheck re-runs the case to
// describe it; the message printed here is then the only record of what the
// check saw (ci/mutants.sh reads it). In the simulation it carries the
// session's seed, with which the failing run does reproduce.
#define GORO_PROP_FAIL(msg)                                                             \
  do {                                                                                  \
    const std::string goro_prop_msg_ = std::string(msg) + goro::props::sim_seed_note(); \
    std::cerr << "property failure: " << goro_prop_msg_ << std::endl;                   \
    RC_FAIL(goro_prop_msg_);                                                            \
  } while (0)

#define GORO_PROP(Suite, Name, DefaultCases, ArgList)                                            \
  void goro_prop_##Suite##_##Name ArgList;                                                       \
  TEST(Suite, Name) { ::goro::props::check_gtest(&goro_prop_##Suite##_##Name, (DefaultCases)); } \
  void goro_prop_##Suite##_##Name ArgList
