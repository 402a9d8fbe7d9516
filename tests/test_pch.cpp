// Compiles tests/test_pch.hpp once for every test executable (tests/CMakeLists.txt).
