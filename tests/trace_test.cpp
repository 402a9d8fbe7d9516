// The trace API's contract (include/goro/trace.hpp): errors, stop without a
// trace, a trace that ends with its runtime. The traces' contents are
// checked with Go's own reader by the trace.* tests (tests/CMakeLists.txt).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <string>
#include <system_error>

#include "goro/goro.hpp"

namespace {

std::string temp_path(const char* name) {
  return std::string(::testing::TempDir()) + "goro_trace_test_" + std::to_string(getpid()) + "_" +
         name;
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

TEST(TraceTest, StopWithoutTraceDoesNothing) {
  EXPECT_FALSE(goro::trace_running());
  EXPECT_NO_THROW(goro::trace_stop());
  EXPECT_FALSE(goro::trace_running());
}

TEST(TraceTest, UnopenableFileNamesThePath) {
  const std::string bad = "/nonexistent-dir-for-goro/x.trace";
  try {
    goro::trace_start(bad);
    FAIL() << "trace_start opened " << bad;
  } catch (const std::system_error& e) {
    EXPECT_NE(std::string(e.what()).find(bad), std::string::npos) << e.what();
    EXPECT_EQ(e.code().value(), ENOENT);
  }
  EXPECT_FALSE(goro::trace_running());
}

TEST(TraceTest, SecondStartIsRefused) {
  std::string a = temp_path("a"), b = temp_path("b");
  goro::trace_start(a);
  try {
    goro::trace_start(b);
    FAIL() << "a second trace_start was accepted";
  } catch (const std::logic_error& e) {
    EXPECT_NE(std::string(e.what()).find(a), std::string::npos) << e.what();
  }
  goro::trace_stop();
  EXPECT_FALSE(goro::trace_running());
  std::remove(a.c_str());
  std::remove(b.c_str());
}

// A trace started inside run and not stopped ends when run returns, and the
// file then has Go's header and more than the header.
TEST(TraceTest, TraceEndsWithItsRuntime) {
  std::string path = temp_path("run");
  goro::run([&] {
    goro::trace_start(path);
    goro::wait_group wg;
    wg.add(4);
    for (int i = 0; i < 4; i++) goro::go([&] { wg.done(); });
    wg.wait();
  });
  EXPECT_FALSE(goro::trace_running());
  std::string data = read_file(path);
  ASSERT_GT(data.size(), 16u);
  EXPECT_EQ(data.substr(0, 16), std::string("go 1.23 trace\0\0\0", 16));
  std::remove(path.c_str());
}

// GORO_TRACE names a file that cannot be created: run refuses to start,
// naming the variable and the path.
TEST(TraceTest, BadGoroTraceIsAClearError) {
  const std::string bad = "/nonexistent-dir-for-goro/env.trace";
  setenv("GORO_TRACE", bad.c_str(), 1);
  try {
    goro::run([] {});
    unsetenv("GORO_TRACE");
    FAIL() << "run started with GORO_TRACE=" << bad;
  } catch (const std::system_error& e) {
    unsetenv("GORO_TRACE");
    std::string what = e.what();
    EXPECT_NE(what.find("GORO_TRACE"), std::string::npos) << what;
    EXPECT_NE(what.find(bad), std::string::npos) << what;
  }
  // The runtime is usable afterwards.
  EXPECT_EQ(goro::run([] { return 5; }), 5);
}

}  // namespace
