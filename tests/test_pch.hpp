// The precompiled header of the test executables (tests/CMakeLists.txt,
// goro_test_pch): GoogleTest, GoogleMock, goro's public API and the standard
// headers most tests include. Parsing these is about a fifth of a test's
// compile time, and CI compiles every test in five presets. Nothing here may
// depend on a test's own definitions: it is compiled once per build, before
// any test source.
#pragma once
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "goro/goro.hpp"
